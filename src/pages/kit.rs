//! The page kit: how every page and redirect the gateway answers itself leaves it — the
//! login pages, the link pages, the refusals and the error page. One content security
//! policy (no external anything: inline CSS, `data:` images), never cached (they carry
//! per-session state), never framed, no referrer (the ESIA callback URL carries the code
//! and state). Feature modules render their HTML and hand it here.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use http_body_util::Full;

use crate::body::{self, Body};

/// A page the gateway answers itself, whole.
pub type PageResponse = Response<Full<Bytes>>;

/// The shipped stylesheet of every gateway page, inlined (the CSP allows no other);
/// `style.css` in `[pages] templates` replaces it (see [`super::templates`]).
pub const STYLE: &str = include_str!("style.css");

/// The content security policy of every gateway page.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
                       frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Lets the gateway's own pages submit forms that end at `esia` (ESIA's origin): the
/// «Войти через Госуслуги» form, the logout and «Это не я» buttons are answered with a
/// redirect to ESIA, and browsers apply `form-action` to every redirect of a form
/// submission — with `'self'` alone Chromium blocks the login button. Other answers
/// (the diary's) are left alone.
pub fn allow_forms_to(h: &mut HeaderMap, esia: &[&url::Url]) {
    if !is_own_page(h) {
        return;
    }
    let mut policy = CSP.to_owned();
    let mut origins: Vec<String> = esia
        .iter()
        .map(|u| u.origin().ascii_serialization())
        .collect();
    origins.dedup();
    for origin in origins.iter().filter(|o| *o != "null") {
        policy.push(' ');
        policy.push_str(origin);
    }
    if let Ok(v) = HeaderValue::from_str(&policy) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
}

/// Whether a response with headers `h` is one of the gateway's own pages (by its CSP).
pub fn is_own_page(h: &HeaderMap) -> bool {
    h.get(header::CONTENT_SECURITY_POLICY)
        .is_some_and(|v| v.as_bytes() == CSP.as_bytes())
}

/// An HTML page with the headers every gateway page carries.
pub fn html_response(status: StatusCode, html: String) -> PageResponse {
    let mut resp = Response::new(Full::new(Bytes::from(html)));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    page_headers(h);
    resp
}

/// A redirect (302) with no body; `location` must already be safe (a path the gateway
/// built or validated).
pub fn redirect(location: &str) -> PageResponse {
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = StatusCode::FOUND;
    let value = HeaderValue::from_str(location).unwrap_or_else(|_| HeaderValue::from_static("/"));
    resp.headers_mut().insert(header::LOCATION, value);
    page_headers(resp.headers_mut());
    resp
}

/// A page as the pipeline's body type.
pub fn into_body(page: PageResponse) -> Response<Body> {
    page.map(body::boxed)
}

fn page_headers(h: &mut HeaderMap) {
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_pages_may_send_forms_to_esia_and_nothing_else_changes() {
        let esia = url::Url::parse("https://esia.gosuslugi.ru/aas/oauth2/v2/ac").unwrap();
        let mut page = html_response(StatusCode::OK, "<p>x</p>".into());
        allow_forms_to(page.headers_mut(), &[&esia, &esia]);
        assert_eq!(
            page.headers()[header::CONTENT_SECURITY_POLICY],
            format!("{CSP} https://esia.gosuslugi.ru")
        );
        let mut diary = Response::new(());
        diary.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'self'"),
        );
        allow_forms_to(diary.headers_mut(), &[&esia]);
        assert_eq!(
            diary.headers()[header::CONTENT_SECURITY_POLICY],
            "default-src 'self'"
        );
    }

    #[test]
    fn every_page_and_redirect_carries_the_same_headers() {
        for resp in [
            html_response(StatusCode::OK, "<p>x</p>".into()),
            redirect("/esia/start"),
            redirect("bad\nvalue"),
        ] {
            let h = resp.headers();
            assert_eq!(h[header::CACHE_CONTROL], "no-store");
            assert_eq!(h[header::CONTENT_SECURITY_POLICY], CSP);
            assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
            assert_eq!(h[header::REFERRER_POLICY], "no-referrer");
        }
        assert_eq!(redirect("bad\nvalue").headers()[header::LOCATION], "/");
    }
}
