//! The browser's `Host` (HTTP/1.1) or `:authority` (HTTP/2), validated once, and the
//! `Host` the diary is sent according to `upstream.host_header`.
//!
//! The diary builds absolute links and cookie domains from `Host`; a value that is not a
//! plain `host[:port]` (userinfo, path, spaces, two different values) is refused with
//! 400 rather than passed on.

use http::header::{HOST, HeaderValue};
use http::uri::Authority;
use http::{HeaderMap, Method, Uri};

use crate::config::{HostHeader, Listen};
use crate::proxy::error::ProxyError;

/// The host the browser asked for, as `host[:port]`.
pub fn client_host(headers: &HeaderMap, uri: &Uri) -> Result<String, ProxyError> {
    let mut values = headers.get_all(HOST).iter();
    let header = values.next();
    if values.next().is_some() {
        return Err(ProxyError::BadHost);
    }
    let from_header = match header {
        Some(v) => Some(parse(v.to_str().map_err(|_| ProxyError::BadHost)?)?),
        None => None,
    };
    let from_uri = uri.authority().map(|a| parse(a.as_str())).transpose()?;
    match (from_header, from_uri) {
        // HTTP/2 may carry both; they must agree (RFC 9113 §8.3.1).
        (Some(h), Some(u)) if !h.eq_ignore_ascii_case(&u) => Err(ProxyError::BadHost),
        (Some(h), _) | (None, Some(h)) => Ok(h),
        (None, None) => Err(ProxyError::BadHost),
    }
}

fn parse(raw: &str) -> Result<String, ProxyError> {
    let a: Authority = raw.parse().map_err(|_| ProxyError::BadHost)?;
    if a.as_str().contains('@') || a.host().is_empty() {
        return Err(ProxyError::BadHost);
    }
    Ok(a.as_str().to_ascii_lowercase())
}

/// The refusal for a `Host` the gateway does not serve: GET/HEAD are sent to the same
/// path and query on `public_url`, anything else gets 421 (a browser that coalesced an
/// HTTP/2 connection retries on a new one; a form is never re-sent elsewhere).
pub fn other_host<B>(req: &http::Request<B>, host: String, listen: &Listen) -> ProxyError {
    let location = listen
        .public_url
        .as_ref()
        .filter(|_| matches!(*req.method(), Method::GET | Method::HEAD))
        .map(|url| {
            let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
            format!("{}{target}", url.origin().ascii_serialization())
        });
    ProxyError::OtherHost { host, location }
}

/// The `Host` value to send to the diary.
pub fn upstream_host(policy: &HostHeader, client_host: &str, upstream: &url::Url) -> String {
    match policy {
        HostHeader::Keep => client_host.to_owned(),
        HostHeader::Fixed(v) => v.clone(),
        HostHeader::Upstream => {
            let host = upstream.host_str().unwrap_or_default();
            match upstream.port() {
                Some(p) => format!("{host}:{p}"),
                None => host.to_owned(),
            }
        }
    }
}

/// Sets `Host` on the outgoing request headers.
pub fn set_host(headers: &mut HeaderMap, value: &str) -> Result<(), ProxyError> {
    let v = HeaderValue::from_str(value).map_err(|_| ProxyError::BadHost)?;
    headers.insert(HOST, v);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Request;
    use http::request::Parts;

    fn parts(uri: &str, hosts: &[&str]) -> Parts {
        let mut b = Request::builder().uri(uri);
        for h in hosts {
            b = b.header(HOST, *h);
        }
        b.body(()).unwrap().into_parts().0
    }

    fn client_host_of(p: &Parts) -> Result<String, ProxyError> {
        client_host(&p.headers, &p.uri)
    }

    #[test]
    fn accepts_plain_hosts_from_header_or_authority() {
        assert_eq!(
            client_host_of(&parts("/", &["Dnevnik.Example"])).unwrap(),
            "dnevnik.example"
        );
        assert_eq!(
            client_host_of(&parts("/", &["[::1]:8443"])).unwrap(),
            "[::1]:8443"
        );
        assert_eq!(
            client_host_of(&parts("https://d.example/x", &[])).unwrap(),
            "d.example"
        );
    }

    #[test]
    fn refuses_ambiguous_or_malformed_hosts() {
        for bad in [
            parts("/", &[]),
            parts("/", &["a.example", "b.example"]),
            parts("/", &["user@a.example"]),
            parts("/", &["a.example/path"]),
            parts("/", &["a example"]),
            parts("/", &[""]),
            parts("https://a.example/", &["b.example"]),
        ] {
            assert!(client_host_of(&bad).is_err(), "{:?}", bad.headers);
        }
    }

    #[test]
    fn host_policy() {
        let up = url::Url::parse("http://10.0.0.5:8080").unwrap();
        assert_eq!(
            upstream_host(&HostHeader::Keep, "d.example", &up),
            "d.example"
        );
        assert_eq!(
            upstream_host(&HostHeader::Upstream, "d.example", &up),
            "10.0.0.5:8080"
        );
        assert_eq!(
            upstream_host(&HostHeader::Fixed("rid.local".into()), "d.example", &up),
            "rid.local"
        );
    }
}
