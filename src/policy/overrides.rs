//! Request headers that would let a client change, behind the gateway's back, which page
//! or method the diary serves, or who the diary thinks the user is.
//!
//! Threat: the gateway decides on the canonical target and method; a PHP framework or
//! IIS module in front of the diary may instead honour `X-Original-URL: /marks` or
//! `X-HTTP-Method-Override`, and a diary that trusts a proxy may read an identity header.
//! A legacy session would then reach the grade page through an "allowed" request.
//!
//! Defence: the proxy calls [`strip_overrides`] on every request before forwarding; the
//! names removed are returned so they can be logged (names only, never values).

use http::HeaderMap;
use http::header::HeaderName;

/// Headers honoured by common stacks as a replacement URL or method.
pub const URL_AND_METHOD_OVERRIDES: &[&str] = &[
    "x-original-url",
    "x-rewrite-url",
    "x-original-uri",
    "x-forwarded-uri",
    "x-forwarded-path",
    "x-forwarded-prefix",
    "x-envoy-original-path",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// Identity headers a diary behind a proxy might trust; only the gateway may set them
/// (its own signed assertion header is added after stripping).
pub const IDENTITY_HEADERS: &[&str] = &[
    "remote-user",
    "x-remote-user",
    "x-forwarded-user",
    "x-forwarded-email",
    "x-auth-request-user",
    "x-auth-request-email",
    "x-user",
    "x-webauth-user",
];

/// Removes every override and identity header (all copies), plus `extra` (e.g. the
/// configured assertion header). Returns the names that were present.
pub fn strip_overrides(headers: &mut HeaderMap, extra: &[HeaderName]) -> Vec<String> {
    let mut removed = Vec::new();
    let names = URL_AND_METHOD_OVERRIDES
        .iter()
        .chain(IDENTITY_HEADERS)
        .filter_map(|n| HeaderName::from_bytes(n.as_bytes()).ok())
        .chain(extra.iter().cloned());
    for name in names {
        if headers.contains_key(&name) {
            headers.remove(&name);
            removed.push(name.as_str().to_string());
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn strips_every_copy_in_any_case() {
        let mut h = HeaderMap::new();
        for (n, v) in [
            ("X-Original-URL", "/marks"),
            ("x-rewrite-url", "/marks"),
            ("X-HTTP-Method-Override", "GET"),
            ("X-Forwarded-User", "director"),
            ("Accept", "text/html"),
            ("X-Diary-Assertion", "forged"),
        ] {
            h.append(
                HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_static(v),
            );
        }
        h.append("x-original-url", HeaderValue::from_static("/stats"));
        let extra = [HeaderName::from_static("x-diary-assertion")];
        let mut removed = strip_overrides(&mut h, &extra);
        removed.sort();
        assert_eq!(
            removed,
            [
                "x-diary-assertion",
                "x-forwarded-user",
                "x-http-method-override",
                "x-original-url",
                "x-rewrite-url"
            ]
        );
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("accept"));
    }

    #[test]
    fn every_listed_name_is_a_valid_header_name() {
        for n in URL_AND_METHOD_OVERRIDES.iter().chain(IDENTITY_HEADERS) {
            assert!(HeaderName::from_bytes(n.as_bytes()).is_ok(), "{n}");
        }
    }

    #[test]
    fn clean_requests_are_untouched() {
        let mut h = HeaderMap::new();
        h.insert("cookie", HeaderValue::from_static("a=b"));
        assert!(strip_overrides(&mut h, &[]).is_empty());
        assert_eq!(h.len(), 1);
    }
}
