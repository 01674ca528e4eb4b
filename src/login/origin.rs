//! Where a request comes from, as far as a browser lets a server tell: used where a GET
//! has an effect only a click on our own pages may have (logout).

use url::Url;

/// Whether a request demonstrably comes from a page of this site: Fetch Metadata says
/// same-origin (or a typed URL), or — for browsers without it — the Referer or Origin
/// names the Host the request was sent to.
pub fn from_our_pages(h: &http::HeaderMap) -> bool {
    if let Some(site) = h.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return site.eq_ignore_ascii_case("same-origin") || site.eq_ignore_ascii_case("none");
    }
    // The Host as an https origin (the browser's side of the gateway is always TLS).
    let Some(ours) = h
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .and_then(|host| Url::parse(&format!("https://{host}/")).ok())
    else {
        return false;
    };
    [http::header::ORIGIN, http::header::REFERER]
        .iter()
        .any(|name| {
            h.get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| Url::parse(v).ok())
                .is_some_and(|u| u.origin() == ours.origin())
        })
}

#[cfg(test)]
mod origin_tests {
    use super::from_our_pages;

    fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn only_our_own_pages_log_out_without_asking() {
        let host = ("host", "diary.example:443");
        assert!(from_our_pages(&headers(&[
            host,
            ("sec-fetch-site", "same-origin")
        ])));
        assert!(from_our_pages(&headers(&[
            host,
            ("sec-fetch-site", "none")
        ])));
        assert!(!from_our_pages(&headers(&[
            host,
            ("sec-fetch-site", "cross-site")
        ])));
        assert!(!from_our_pages(&headers(&[
            host,
            ("sec-fetch-site", "same-site")
        ])));
        // No Fetch Metadata: the Referer must be ours.
        assert!(from_our_pages(&headers(&[
            host,
            ("referer", "https://diary.example:443/marks")
        ])));
        assert!(!from_our_pages(&headers(&[
            host,
            ("referer", "https://evil.example/")
        ])));
        assert!(!from_our_pages(&headers(&[
            host,
            ("referer", "https://diary.example.evil/")
        ])));
        assert!(!from_our_pages(&headers(&[host])));
        assert!(!from_our_pages(&headers(&[(
            "referer",
            "https://diary.example:443/"
        )])));
    }
}
