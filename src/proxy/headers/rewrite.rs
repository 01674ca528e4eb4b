//! Response headers that carry URLs — `Location`, `Content-Location`, `Refresh` — and
//! point at the diary's own origin are rewritten to the public origin, like nginx's
//! `proxy_redirect default`. Otherwise a redirect would send the browser to the diary's
//! internal address (or to plain http), which both leaks it and breaks the session.
//!
//! Only the origin is replaced; path, query and fragment are kept byte for byte. URLs of
//! other origins and relative URLs pass untouched.

use http::HeaderMap;
use http::header::{CONTENT_LOCATION, HeaderName, HeaderValue, LOCATION, REFRESH};

/// Which origins count as "the diary" and what they become.
#[derive(Debug, Clone)]
pub struct Origins {
    from: Vec<String>,
    to: String,
}

impl Origins {
    /// `to` and each of `from` are URLs; only their origins are used. Unparsable entries
    /// are skipped, so a bad one can only mean "no rewrite", never a wrong one.
    pub fn new<'a>(from: impl IntoIterator<Item = &'a str>, to: &str) -> Option<Self> {
        let to = origin_of(to)?;
        let mut list: Vec<String> = Vec::new();
        for f in from {
            if let Some(o) = origin_of(f)
                && o != to
                && !list.contains(&o)
            {
                list.push(o);
            }
        }
        Some(Self { from: list, to })
    }

    /// The public origin, e.g. `https://dnevnik.example`.
    pub fn public(&self) -> &str {
        &self.to
    }

    /// Rewrites one absolute URL if it points at a diary origin.
    pub fn rewrite_url(&self, value: &str) -> Option<String> {
        let origin = origin_of(value)?;
        if !self.from.contains(&origin) {
            return None;
        }
        // Keep the raw rest: everything from the first '/', '?' or '#' after "scheme://".
        let after_scheme = value.find("://")? + 3;
        let rest_at = value
            .get(after_scheme..)?
            .find(['/', '?', '#'])
            .map(|i| after_scheme + i)
            .unwrap_or(value.len());
        Some(format!("{}{}", self.to, value.get(rest_at..)?))
    }
}

fn origin_of(value: &str) -> Option<String> {
    let url = url::Url::parse(value.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    Some(url.origin().ascii_serialization())
}

/// Does the response carry any header this module may rewrite? (Most do not; this
/// spares building the origin list per response.)
pub fn has_urls(headers: &HeaderMap) -> bool {
    headers.contains_key(LOCATION)
        || headers.contains_key(CONTENT_LOCATION)
        || headers.contains_key(REFRESH)
}

/// Rewrites the URL-carrying response headers in place.
pub fn rewrite_response(headers: &mut HeaderMap, origins: &Origins) {
    for name in [LOCATION, CONTENT_LOCATION] {
        rewrite_header(headers, name, |v| origins.rewrite_url(v));
    }
    rewrite_header(headers, REFRESH, |v| rewrite_refresh(v, origins));
}

fn rewrite_header(headers: &mut HeaderMap, name: HeaderName, f: impl Fn(&str) -> Option<String>) {
    let Some(new) = headers
        .get(&name)
        .and_then(|v| v.to_str().ok())
        .and_then(f)
        .and_then(|s| HeaderValue::from_str(&s).ok())
    else {
        return;
    };
    headers.insert(name, new);
}

/// `Refresh: 5; url=http://diary/x` (also `URL=`, quoted, or with spaces).
fn rewrite_refresh(value: &str, origins: &Origins) -> Option<String> {
    let (delay, rest) = value.split_once([';', ','])?;
    let rest = rest.trim_start();
    let key = rest.get(..4)?;
    if !key.eq_ignore_ascii_case("url=") {
        return None;
    }
    let url = rest.get(4..)?.trim();
    let (quote, inner) = match url.chars().next() {
        Some(q @ ('\'' | '"')) => (q.to_string(), url.trim_matches(q)),
        _ => (String::new(), url),
    };
    let new = origins.rewrite_url(inner)?;
    Some(format!("{}; url={quote}{new}{quote}", delay.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origins() -> Origins {
        Origins::new(
            ["http://10.0.0.5:8080", "http://dnevnik.example"],
            "https://dnevnik.example",
        )
        .unwrap()
    }

    #[test]
    fn rewrites_only_the_diary_origin_and_keeps_the_rest_raw() {
        let o = origins();
        assert_eq!(
            o.rewrite_url("http://10.0.0.5:8080/index.php?module=marks&a=%2F#top"),
            Some("https://dnevnik.example/index.php?module=marks&a=%2F#top".into())
        );
        assert_eq!(
            o.rewrite_url("http://dnevnik.example/login"),
            Some("https://dnevnik.example/login".into())
        );
        assert_eq!(
            o.rewrite_url("HTTP://10.0.0.5:8080?x=1"),
            Some("https://dnevnik.example?x=1".into())
        );
        assert_eq!(o.rewrite_url("https://esia.gosuslugi.ru/aas"), None);
        assert_eq!(o.rewrite_url("http://10.0.0.5:8081/"), None);
        assert_eq!(o.rewrite_url("/relative/path"), None);
        assert_eq!(o.rewrite_url("javascript:alert(1)"), None);
        assert_eq!(o.rewrite_url("https://dnevnik.example/x"), None);
    }

    #[test]
    fn rewrites_location_content_location_and_refresh() {
        let mut h = HeaderMap::new();
        h.insert(LOCATION, HeaderValue::from_static("http://10.0.0.5:8080/a"));
        h.insert(
            CONTENT_LOCATION,
            HeaderValue::from_static("http://10.0.0.5:8080/b"),
        );
        h.insert(
            REFRESH,
            HeaderValue::from_static("0;URL='http://10.0.0.5:8080/c?d=1'"),
        );
        rewrite_response(&mut h, &origins());
        assert_eq!(h[LOCATION], "https://dnevnik.example/a");
        assert_eq!(h[CONTENT_LOCATION], "https://dnevnik.example/b");
        assert_eq!(h[REFRESH], "0; url='https://dnevnik.example/c?d=1'");
    }

    proptest::proptest! {
        /// Whatever the diary sends, a rewrite never panics and only ever produces a URL
        /// on the public origin.
        #[test]
        fn rewrites_only_ever_yield_the_public_origin(value in ".{0,80}", path in "[ -~]{0,40}") {
            let o = origins();
            for v in [value.clone(), format!("http://10.0.0.5:8080{path}"), format!("0; url={value}")] {
                if let Some(new) = o.rewrite_url(&v) {
                    proptest::prop_assert!(new.starts_with("https://dnevnik.example"), "{new}");
                }
                if let Some(new) = rewrite_refresh(&v, &o) {
                    proptest::prop_assert!(new.contains("url=https://dnevnik.example")
                        || new.contains("url='https://dnevnik.example")
                        || new.contains("url=\"https://dnevnik.example"), "{new}");
                }
            }
        }
    }

    #[test]
    fn leaves_odd_refresh_values_alone() {
        let o = origins();
        for v in [
            "5",
            "0; http://10.0.0.5:8080/",
            "url=",
            "0; url=https://other/",
        ] {
            assert_eq!(rewrite_refresh(v, &o), None, "{v}");
        }
    }
}
