//! The optional plain-HTTP listener: it serves nothing, it only sends the browser to the
//! same page over https — 301 for GET/HEAD, 308 for the rest so a form POST is not
//! turned into a GET. The target is `listen.public_url` when configured, else the
//! request's own host on the https port — only one of `listen.hosts` when that list is
//! set, so the listener cannot be made to send browsers elsewhere. A missing, malformed
//! or foreign `Host` gets 400.

use http::header::{HOST, HeaderValue, LOCATION};
use http::{Method, Request, Response, StatusCode};

use crate::body::{self, Body};
use crate::language::Language;
use crate::pages::LiveTemplates;

#[derive(Debug)]
pub struct Redirect {
    public: Option<url::Url>,
    /// The names served; with `public_url` unset, only these are redirected to.
    listen: crate::config::Listen,
    https_port: u16,
    language: Language,
    /// For the 400 page, followed across reloads.
    templates: LiveTemplates,
}

impl Redirect {
    pub fn new(
        listen: &crate::config::Listen,
        https_port: u16,
        language: Language,
        templates: LiveTemplates,
    ) -> Self {
        Self {
            public: listen.public_url.clone(),
            listen: listen.clone(),
            https_port,
            language,
            templates,
        }
    }

    pub fn handle<B>(&self, req: &Request<B>) -> Response<Body> {
        match self.target(req) {
            Some(location) => {
                let status = if matches!(*req.method(), Method::GET | Method::HEAD) {
                    StatusCode::MOVED_PERMANENTLY
                } else {
                    StatusCode::PERMANENT_REDIRECT
                };
                let mut resp = Response::new(body::empty());
                *resp.status_mut() = status;
                resp.headers_mut().insert(LOCATION, location);
                resp
            }
            None => crate::pages::error_page(
                StatusCode::BAD_REQUEST,
                self.language,
                &self.templates.current(),
            ),
        }
    }

    fn target<B>(&self, req: &Request<B>) -> Option<HeaderValue> {
        let path = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .filter(|p| p.starts_with('/'))
            .unwrap_or("/");
        let origin = match &self.public {
            Some(url) => url.origin().ascii_serialization(),
            None => {
                let raw = req.headers().get(HOST)?.to_str().ok()?;
                let authority: http::uri::Authority = raw.parse().ok()?;
                if authority.as_str().contains('@') || authority.host().is_empty() {
                    return None;
                }
                if !self.listen.serves_host(authority.as_str()) {
                    return None;
                }
                let host = authority.host().to_ascii_lowercase();
                match self.https_port {
                    443 => format!("https://{host}"),
                    port => format!("https://{host}:{port}"),
                }
            }
        };
        HeaderValue::from_str(&format!("{origin}{path}")).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> LiveTemplates {
        LiveTemplates::new(crate::config::PagesConfig::default().templates)
    }

    fn listen(public: Option<&str>, hosts: &[&str]) -> crate::config::Listen {
        crate::config::Listen {
            https: "127.0.0.1:0".parse().unwrap(),
            http: None,
            admin: None,
            public_url: public.map(|u| url::Url::parse(u).unwrap()),
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
            workers: None,
        }
    }

    fn req(method: Method, uri: &str, host: Option<&str>) -> Request<()> {
        let mut b = Request::builder().method(method).uri(uri);
        if let Some(h) = host {
            b = b.header(HOST, h);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn redirects_to_the_same_host_on_the_https_port() {
        let r = Redirect::new(&listen(None, &[]), 8443, Language::Ru, shipped());
        let resp = r.handle(&req(Method::GET, "/a?b=1", Some("Dnevnik.example:8080")));
        assert_eq!(resp.status(), StatusCode::MOVED_PERMANENTLY);
        assert_eq!(
            resp.headers()[LOCATION],
            "https://dnevnik.example:8443/a?b=1"
        );
        let resp = r.handle(&req(Method::POST, "/login", Some("d.example")));
        assert_eq!(resp.status(), StatusCode::PERMANENT_REDIRECT);
    }

    #[test]
    fn public_url_wins_over_host() {
        let r = Redirect::new(
            &listen(Some("https://dnevnik.example"), &[]),
            443,
            Language::Ru,
            shipped(),
        );
        let resp = r.handle(&req(Method::GET, "/x", Some("evil.example")));
        assert_eq!(resp.headers()[LOCATION], "https://dnevnik.example/x");
    }

    #[test]
    fn bad_hosts_get_400() {
        let r = Redirect::new(&listen(None, &[]), 443, Language::En, shipped());
        for host in [None, Some("user@evil.example"), Some("a b"), Some("x/y")] {
            let resp = r.handle(&req(Method::GET, "/", host));
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{host:?}");
        }
    }

    #[test]
    fn with_a_host_list_only_listed_names_are_redirected_to() {
        let r = Redirect::new(
            &listen(None, &["dnevnik.example"]),
            443,
            Language::Ru,
            shipped(),
        );
        let ok = r.handle(&req(Method::GET, "/x", Some("DNEVNIK.example:80")));
        assert_eq!(ok.headers()[LOCATION], "https://dnevnik.example/x");
        let v6 = Redirect::new(&listen(None, &["[::1]"]), 443, Language::Ru, shipped());
        let ok = v6.handle(&req(Method::GET, "/", Some("[::1]:8080")));
        assert_eq!(ok.headers()[LOCATION], "https://[::1]/");
        let no = v6.handle(&req(Method::GET, "/", Some("[::2]:8080")));
        assert_eq!(no.status(), StatusCode::BAD_REQUEST);
        for host in ["evil.example", "dnevnik.example.evil", "10.0.0.1"] {
            let resp = r.handle(&req(Method::GET, "/", Some(host)));
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{host}");
        }
    }
}
