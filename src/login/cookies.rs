//! The gateway's own cookies: the session cookie and the per-flow login cookies.
//!
//! Both carry the `__Host-` prefix (Secure, Path=/, no Domain: a sibling subdomain cannot
//! plant or overwrite them), HttpOnly, and SameSite=Lax — Lax, not Strict, because the
//! flow cookie must come back on ESIA's top-level redirect to the callback, and the
//! session cookie on the first click from another site into the diary.
//! They are the gateway's business only: [`strip_gateway_cookies`] removes them from
//! every request forwarded to the diary.

use std::time::Duration;

use http::header::{COOKIE, HeaderMap, HeaderValue};

/// Prefix every flow cookie name starts with; the flow id follows.
pub const FLOW_COOKIE_PREFIX: &str = "__Host-gw_flow_";

/// Set at logout for a few minutes so the page the browser lands on (after ESIA's own
/// logout, or at once) can say what happened: `esia` or `password`.
pub const SIGNED_OUT_COOKIE: &str = "__Host-gw_signed_out";

/// The [`SIGNED_OUT_COOKIE`] for a session that signed in through ESIA or not.
pub fn signed_out_cookie(esia: bool) -> String {
    let value = if esia { "esia" } else { "password" };
    set_cookie(SIGNED_OUT_COOKIE, value, Some(Duration::from_secs(300)))
}

/// Names of the gateway's cookies.
#[derive(Debug, Clone)]
pub struct CookieNames {
    /// The session cookie, e.g. `__Host-esia-gw`.
    pub session: String,
}

impl Default for CookieNames {
    fn default() -> Self {
        Self {
            session: crate::session::SESSION_COOKIE.into(),
        }
    }
}

impl CookieNames {
    /// True for the session cookie and every flow cookie.
    pub fn is_gateway_cookie(&self, name: &str) -> bool {
        name == self.session || name == SIGNED_OUT_COOKIE || name.starts_with(FLOW_COOKIE_PREFIX)
    }
}

/// A `Set-Cookie` value with the gateway's fixed attributes. `max_age: None` makes a
/// browser-session cookie (gone when the browser closes: «Чужой компьютер»).
pub fn set_cookie(name: &str, value: &str, max_age: Option<Duration>) -> String {
    let mut out = format!("{name}={value}; Path=/; Secure; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        out.push_str(&format!("; Max-Age={}", age.as_secs()));
    }
    out
}

/// A `Set-Cookie` value that deletes the cookie.
pub fn clear_cookie(name: &str) -> String {
    format!("{name}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0")
}

/// Every `name=value` pair of every `Cookie` header (HTTP/2 may send several),
/// in order. Pairs without `=` are skipped; values are not decoded.
pub fn request_cookies(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            let name = name.trim();
            (!name.is_empty()).then(|| (name.to_owned(), value.trim().to_owned()))
        })
        .collect()
}

/// The value of cookie `name`. When a browser sends the name twice (a stale copy from
/// another path) every copy is returned, so the caller can try each.
/// A value that could be a session id at all (the backend checks the real format):
/// short, visible ASCII. Keeps junk from costing lookups or deletes.
pub fn plausible_session_value(v: &str) -> bool {
    (1..=128).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_graphic())
}

pub fn cookie_values(headers: &HeaderMap, name: &str) -> Vec<String> {
    request_cookies(headers)
        .into_iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v)
        .collect()
}

/// Removes the gateway's cookies from the request so the diary never sees them, and
/// joins what is left into one `Cookie` header (or none).
pub fn strip_gateway_cookies(headers: &mut HeaderMap, names: &CookieNames) {
    let mut kept = Vec::new();
    let mut changed = false;
    for value in headers.get_all(COOKIE).iter() {
        let Ok(line) = value.to_str() else {
            // Not text: keep as is, the diary may understand its own bytes.
            kept.push(value.clone());
            continue;
        };
        let pairs: Vec<&str> = line
            .split(';')
            .map(str::trim)
            .filter(|pair| !pair.is_empty())
            .collect();
        let parts: Vec<&str> = pairs
            .iter()
            .copied()
            .filter(|pair| {
                let name = pair.split_once('=').map_or(*pair, |(n, _)| n).trim();
                !names.is_gateway_cookie(name)
            })
            .collect();
        if parts.len() == pairs.len() {
            kept.push(value.clone());
            continue;
        }
        changed = true;
        let joined = parts.join("; ");
        if !joined.is_empty()
            && let Ok(v) = HeaderValue::from_str(&joined)
        {
            kept.push(v);
        }
    }
    if !changed {
        return;
    }
    headers.remove(COOKIE);
    if !kept.is_empty() {
        let joined = kept
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join("; ");
        if let Ok(v) = HeaderValue::from_str(&joined) {
            headers.insert(COOKIE, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(lines: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for l in lines {
            h.append(COOKIE, HeaderValue::from_str(l).unwrap());
        }
        h
    }

    #[test]
    fn set_cookie_has_every_attribute() {
        let c = set_cookie("__Host-esia-gw", "v1.abc", Some(Duration::from_secs(60)));
        assert_eq!(
            c,
            "__Host-esia-gw=v1.abc; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=60"
        );
        assert!(!set_cookie("a", "b", None).contains("Max-Age"));
        assert!(clear_cookie("a").ends_with("Max-Age=0"));
    }

    #[test]
    fn reads_cookies_from_several_headers() {
        let h = headers(&["a=1; __Host-esia-gw=v1.x", "b=2;c", "__Host-esia-gw=v1.y"]);
        assert_eq!(cookie_values(&h, "__Host-esia-gw"), vec!["v1.x", "v1.y"]);
        assert_eq!(cookie_values(&h, "b"), vec!["2"]);
        assert!(cookie_values(&h, "c").is_empty());
    }

    #[test]
    fn strips_only_gateway_cookies() {
        let names = CookieNames::default();
        let mut h = headers(&[
            "RIDSESSID=abc; __Host-esia-gw=v1.x; __Host-gw_flow_12ab=s.t",
            "theme=dark",
        ]);
        strip_gateway_cookies(&mut h, &names);
        let all: Vec<_> = h.get_all(COOKIE).iter().collect();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0], "RIDSESSID=abc; theme=dark");
    }

    #[test]
    fn removes_the_header_when_nothing_is_left() {
        let names = CookieNames::default();
        let mut h = headers(&["__Host-esia-gw=v1.x", "__Host-gw_flow_1=a"]);
        strip_gateway_cookies(&mut h, &names);
        assert!(h.get(COOKIE).is_none());
    }

    #[test]
    fn leaves_foreign_cookies_untouched() {
        let names = CookieNames::default();
        let mut h = headers(&["a=1;b=2"]);
        strip_gateway_cookies(&mut h, &names);
        assert_eq!(h.get(COOKIE).unwrap(), "a=1;b=2");
    }
}
