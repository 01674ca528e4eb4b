//! Request headers the diary must never see, and the size limits on request heads.
//!
//! - Names containing `_`: PHP and CGI map `X_Remote_User` and `X-Remote-User` to the same
//!   `HTTP_X_REMOTE_USER`, so an underscore spelling could smuggle a header past a filter
//!   that strips the dash spelling. Dropped (nginx's `underscores_in_headers off`).
//! - Method and URL overrides (`X-HTTP-Method-Override`, `X-HTTP-Method`,
//!   `X-Method-Override`, `X-Original-URL`, `X-Rewrite-URL`): frameworks (and IIS) act on
//!   them, so the diary could serve another page or method than the one the gateway
//!   checked. Dropped.
//! - Anything a later phase registers with [`Sanitizer::strip`], e.g. identity headers
//!   the gateway itself sets in header mode.

use http::header::HeaderName;
use http::{HeaderMap, Uri};

use crate::config::Limits;
use crate::proxy::error::ProxyError;

/// Overrides that make a backend change the method or the path it acts on.
pub const OVERRIDE_HEADERS: [&str; 5] = [
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    "x-original-url",
    "x-rewrite-url",
];

/// The request-header cleaning step; extend it with [`Sanitizer::strip`].
#[derive(Debug, Clone)]
pub struct Sanitizer {
    strip: Vec<HeaderName>,
}

impl Default for Sanitizer {
    fn default() -> Self {
        Self {
            strip: OVERRIDE_HEADERS
                .iter()
                .map(|n| HeaderName::from_static(n))
                .collect(),
        }
    }
}

impl Sanitizer {
    /// Also remove `name` from every request (a client must not be able to set it).
    pub fn strip(mut self, name: HeaderName) -> Self {
        if !self.strip.contains(&name) {
            self.strip.push(name);
        }
        self
    }

    /// Removes underscore names and every registered name. Returns how many went.
    pub fn apply(&self, headers: &mut HeaderMap) -> usize {
        let before = headers.len();
        let underscored: Vec<HeaderName> = headers
            .keys()
            .filter(|n| n.as_str().contains('_'))
            .cloned()
            .collect();
        for name in underscored.iter().chain(self.strip.iter()) {
            headers.remove(name);
        }
        before - headers.len()
    }
}

/// 414 when the request target alone is longer than the header byte limit; 431 when
/// the head has more headers, or more name+value bytes, than allowed.
pub fn check_limits(uri: &Uri, headers: &HeaderMap, limits: &Limits) -> Result<(), ProxyError> {
    let target = uri.path_and_query().map_or(0, |p| p.as_str().len());
    if target > limits.max_header_bytes {
        return Err(ProxyError::UriTooLong(target));
    }
    let count = headers.len();
    let bytes: usize = headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len())
        .sum();
    if count > limits.max_headers || bytes > limits.max_header_bytes {
        return Err(ProxyError::HeadersTooLarge { count, bytes });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn with(names: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for n in names {
            h.append(
                HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_static("v"),
            );
        }
        h
    }

    #[test]
    fn drops_underscore_and_override_headers_in_any_case() {
        let mut h = with(&[
            "X_Remote_User",
            "x_forwarded_for",
            "_",
            "X-HTTP-Method-Override",
            "X-Http-Method",
            "X-Method-Override",
            "X-Original-URL",
            "X-Rewrite-Url",
            "accept",
            "x-remote-user-agent",
        ]);
        let removed = Sanitizer::default().apply(&mut h);
        assert_eq!(removed, 8);
        assert!(h.contains_key("accept"));
        assert!(h.contains_key("x-remote-user-agent"));
    }

    #[test]
    fn later_phases_can_add_names() {
        let mut h = with(&["x-esia-user", "accept"]);
        Sanitizer::default()
            .strip(HeaderName::from_static("x-esia-user"))
            .apply(&mut h);
        assert!(!h.contains_key("x-esia-user"));
    }

    #[test]
    fn limits_count_and_bytes() {
        let limits = Limits {
            max_header_bytes: 20,
            max_headers: 2,
            max_body_bytes: 0,
            ..Limits::default()
        };
        let root = Uri::from_static("/");
        assert!(check_limits(&root, &with(&["a", "b"]), &limits).is_ok());
        assert!(matches!(
            check_limits(&root, &with(&["a", "b", "c"]), &limits),
            Err(ProxyError::HeadersTooLarge { count: 3, .. })
        ));
        let mut big = HeaderMap::new();
        big.insert("x", HeaderValue::from_str(&"y".repeat(20)).unwrap());
        assert!(check_limits(&root, &big, &limits).is_err());
        let long: Uri = format!("/{}", "a".repeat(20)).parse().unwrap();
        assert!(matches!(
            check_limits(&long, &HeaderMap::new(), &limits),
            Err(ProxyError::UriTooLong(21))
        ));
    }
}
