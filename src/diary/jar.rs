//! The server-side cookie jar: the diary's own session cookies, kept by the gateway for
//! one gateway session so that the browser never holds a diary cookie (a stolen diary
//! cookie would otherwise open grade pages without ESIA, around the cutover policy).
//!
//! The diary is one origin, so cookies are keyed by (name, path); `Domain` is ignored and
//! `Secure` is irrelevant on the gateway→diary hop. Expiry follows `Max-Age`/`Expires`
//! against an injected time. The jar serialises to a small versioned JSON document that
//! the store keeps encrypted with the session.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Cookies at most; a diary that sets more is misbehaving, and the oldest go first.
const MAX_COOKIES: usize = 50;
/// Longest cookie kept (name + value + path, bytes; RFC 6265 §6.1 asks for 4096 per
/// cookie); longer ones are dropped.
const MAX_VALUE: usize = 4096;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jar {
    #[serde(rename = "v")]
    version: u8,
    cookies: Vec<StoredCookie>,
    /// The password a legacy login through the gateway typed, kept (sealed with the jar)
    /// until the session links to ESIA, so linking never asks for it again.
    #[serde(default, rename = "c", skip_serializing_if = "Option::is_none")]
    credential: Option<Credential>,
}

/// A password inside a jar: serialised only into the sealed blob, never printed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
struct Credential(String);

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credential(***)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredCookie {
    name: String,
    value: String,
    path: String,
    /// Unix seconds; `None` = a session cookie, kept as long as the gateway session.
    expires: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum JarError {
    #[error("stored cookie jar is unreadable: {0}")]
    Corrupt(String),
    #[error("stored cookie jar has unknown version {0}")]
    Version(u8),
}

const VERSION: u8 = 1;

impl Jar {
    pub fn new() -> Self {
        Self {
            version: VERSION,
            cookies: Vec::new(),
            credential: None,
        }
    }

    /// Keeps the password of the diary login this jar belongs to (see [`Jar`]'s field).
    pub fn set_credential(&mut self, password: &crate::secret::Secret) {
        self.credential = Some(Credential(password.expose().to_owned()));
    }

    /// Takes the kept password out (linking stores it in the vault).
    pub fn take_credential(&mut self) -> Option<crate::secret::Secret> {
        self.credential
            .take()
            .map(|c| crate::secret::Secret::new(c.0.clone()))
    }

    pub fn is_empty(&self) -> bool {
        self.cookies.is_empty()
    }

    /// The names of the cookies held.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.cookies.iter().map(|c| c.name.as_str())
    }

    /// Does the jar hold a cookie called `name` (any path)?
    pub fn has(&self, name: &str) -> bool {
        self.cookies.iter().any(|c| c.name == name)
    }

    /// Takes one `Set-Cookie` value from the diary. Unparseable values are ignored (the
    /// browser would ignore them too).
    pub fn store(&mut self, set_cookie: &str, request_path: &str, now: DateTime<Utc>) {
        let Ok(c) = cookie::Cookie::parse(set_cookie.to_owned()) else {
            return;
        };
        let name = c.name().to_owned();
        if !is_token(&name) || !is_cookie_value(c.value()) {
            return;
        }
        let path = match c.path() {
            Some(p) if p.starts_with('/') => p.to_owned(),
            _ => default_path(request_path),
        };
        if name.len() + c.value().len() + path.len() > MAX_VALUE {
            return;
        }
        let expires = match (c.max_age(), c.expires_datetime()) {
            (Some(age), _) => Some(now.timestamp().saturating_add(age.whole_seconds())),
            (None, Some(at)) => Some(at.unix_timestamp()),
            (None, None) => None,
        };
        let now_s = now.timestamp();
        self.cookies
            .retain(|k| !(k.name == name && k.path == path) && k.expires.is_none_or(|e| e > now_s));
        if expires.is_some_and(|e| e <= now.timestamp()) {
            return; // a deletion
        }
        if self.cookies.len() >= MAX_COOKIES {
            self.cookies.remove(0);
        }
        self.cookies.push(StoredCookie {
            name,
            value: c.value().to_owned(),
            path,
            expires,
        });
    }

    /// The `Cookie` header value for a request to `path`, or `None` when nothing applies.
    /// Longer paths first, as RFC 6265 §5.4 asks.
    pub fn header_for(&self, path: &str, now: DateTime<Utc>) -> Option<String> {
        let mut matching: Vec<&StoredCookie> = self
            .cookies
            .iter()
            .filter(|c| {
                c.expires.is_none_or(|e| e > now.timestamp()) && path_matches(&c.path, path)
            })
            .collect();
        if matching.is_empty() {
            return None;
        }
        matching.sort_by_key(|c| std::cmp::Reverse(c.path.len()));
        Some(
            matching
                .iter()
                .map(|c| format!("{}={}", c.name, c.value))
                .collect::<Vec<_>>()
                .join("; "),
        )
    }

    /// Forgets everything (the diary session ended).
    pub fn clear(&mut self) {
        self.cookies.clear();
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising plain strings and numbers cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, JarError> {
        let jar: Jar =
            serde_json::from_slice(bytes).map_err(|e| JarError::Corrupt(e.to_string()))?;
        if jar.version != VERSION {
            return Err(JarError::Version(jar.version));
        }
        Ok(jar)
    }
}

/// RFC 6265 cookie-name: an RFC 9110 token.
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// RFC 6265 cookie-value: cookie-octets, optionally inside one pair of double quotes
/// (Java and .NET servers quote; the quotes are part of the value and are replayed).
fn is_cookie_value(value: &str) -> bool {
    let inner = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    value.len() <= MAX_VALUE
        && inner
            .bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E))
}

/// RFC 6265 §5.1.4 default-path: the request path up to its last `/`.
fn default_path(request_path: &str) -> String {
    let path = request_path.split('?').next().unwrap_or("/");
    if !path.starts_with('/') {
        return "/".into();
    }
    match path.rfind('/') {
        Some(0) | None => "/".into(),
        Some(i) => path[..i].to_owned(),
    }
}

/// RFC 6265 §5.1.4 path-match.
fn path_matches(cookie_path: &str, request_path: &str) -> bool {
    let request_path = request_path.split('?').next().unwrap_or("/");
    request_path == cookie_path
        || (request_path.starts_with(cookie_path)
            && (cookie_path.ends_with('/') || request_path[cookie_path.len()..].starts_with('/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_password_is_never_printed_and_survives_the_round_trip() {
        let mut jar = Jar::new();
        jar.set_credential(&crate::secret::Secret::new("s3cret-pw"));
        assert!(!format!("{jar:?}").contains("s3cret-pw"));
        let mut back = Jar::from_bytes(&jar.to_bytes()).unwrap();
        assert_eq!(back.take_credential().unwrap().expose(), "s3cret-pw");
        assert!(back.take_credential().is_none());
        // Jars written before the field existed still open.
        let old = Jar::new().to_bytes();
        assert!(Jar::from_bytes(&old).unwrap().take_credential().is_none());
    }

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_546_300_800 + s, 0).unwrap()
    }

    #[test]
    fn keeps_and_replays_a_session_cookie() {
        let mut jar = Jar::new();
        jar.store("RIDSESSID=abc123; Path=/; HttpOnly", "/login", t(0));
        assert_eq!(
            jar.header_for("/marks", t(1)).as_deref(),
            Some("RIDSESSID=abc123")
        );
        jar.store("RIDSESSID=def; Path=/", "/login", t(2));
        assert_eq!(jar.header_for("/", t(3)).as_deref(), Some("RIDSESSID=def"));
    }

    #[test]
    fn deletion_and_expiry() {
        let mut jar = Jar::new();
        jar.store("a=1; Max-Age=10", "/", t(0));
        jar.store("b=2", "/", t(0));
        assert_eq!(jar.header_for("/", t(5)).as_deref(), Some("a=1; b=2"));
        assert_eq!(jar.header_for("/", t(11)).as_deref(), Some("b=2"));
        jar.store("b=; Expires=Thu, 01 Jan 1970 00:00:00 GMT", "/", t(12));
        assert_eq!(jar.header_for("/", t(12)), None);
        jar.store("c=3; Max-Age=0", "/", t(12));
        assert!(jar.is_empty());
    }

    #[test]
    fn paths_follow_rfc_6265() {
        let mut jar = Jar::new();
        jar.store("x=root; Path=/", "/", t(0));
        jar.store("y=admin; Path=/admin", "/", t(0));
        jar.store("z=default", "/journal/page.php", t(0));
        assert_eq!(
            jar.header_for("/admin/users", t(1)).as_deref(),
            Some("y=admin; x=root")
        );
        assert_eq!(
            jar.header_for("/administrator", t(1)).as_deref(),
            Some("x=root")
        );
        assert_eq!(
            jar.header_for("/journal/x?y=1", t(1)).as_deref(),
            Some("z=default; x=root")
        );
        assert_eq!(default_path("/"), "/");
        assert_eq!(default_path("/a"), "/");
        assert_eq!(default_path("/a/b?x=/y"), "/a");
    }

    #[test]
    fn hostile_set_cookie_values_are_ignored_or_bounded() {
        let mut jar = Jar::new();
        for bad in ["", "=novalue", "noequals", ";;;", "\u{0}=x"] {
            jar.store(bad, "/", t(0));
        }
        jar.store(&format!("big={}", "a".repeat(MAX_VALUE + 1)), "/", t(0));
        assert!(jar.is_empty(), "{jar:?}");
        for i in 0..(MAX_COOKIES + 10) {
            jar.store(&format!("c{i}=v"), "/", t(0));
        }
        assert_eq!(jar.cookies.len(), MAX_COOKIES);
        assert!(
            jar.header_for("/", t(0))
                .unwrap()
                .contains(&format!("c{}=v", MAX_COOKIES + 9))
        );
    }

    #[test]
    fn round_trips_and_refuses_garbage() {
        let mut jar = Jar::new();
        jar.store("RIDSESSID=abc; Path=/", "/", t(0));
        assert_eq!(Jar::from_bytes(&jar.to_bytes()).unwrap(), jar);
        assert!(matches!(
            Jar::from_bytes(b"not json"),
            Err(JarError::Corrupt(_))
        ));
        assert!(matches!(
            Jar::from_bytes(br#"{"v":9,"cookies":[]}"#),
            Err(JarError::Version(9))
        ));
    }

    /// Set-Cookie values as real servers (PHP, IIS, Java) and hostile ones send them,
    /// each with what the jar must replay afterwards for a request to `/journal/x`.
    #[test]
    fn set_cookie_edge_cases_table() {
        let cases: &[(&str, Option<&str>)] = &[
            // PHP session_destroy / setcookie("x", "", time()-3600): dashed dates.
            (
                "a=deleted; expires=Thu, 01-Jan-1970 00:00:01 GMT; Max-Age=0; path=/",
                None,
            ),
            ("a=deleted; expires=Thu, 01-Jan-1970 00:00:01 GMT", None),
            ("a=1; Expires=Thu, 01-Jan-70 00:00:01 GMT", None),
            ("a=1; Expires=Sun Nov  6 08:49:37 1994", None),
            ("a=1; Expires=Fri, 31 Dec 9999 23:59:59 GMT", Some("a=1")),
            // Unparseable attributes are ignored, leaving a session cookie.
            ("a=1; Expires=garbage", Some("a=1")),
            ("a=1; Max-Age=1e3", Some("a=1")),
            // Max-Age wins over Expires; negative means delete; huge saturates.
            ("a=1; Max-Age=-5", None),
            (
                "a=1; Max-Age=10; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
                Some("a=1"),
            ),
            (
                "a=1; Max-Age=0; Expires=Fri, 31 Dec 9999 23:59:59 GMT",
                None,
            ),
            ("a=1; Max-Age=99999999999999999999999", Some("a=1")),
            ("a=1; Max-Age=9223372036854775807", Some("a=1")),
            // Path without a leading slash or empty: the default path (/journal) applies.
            ("a=1; Path=journal", Some("a=1")),
            ("a=1; Path=", Some("a=1")),
            ("a=1; Path=/other", None),
            ("a=1; Path=/journal/x/deeper", None),
            // Quoted values are valid (RFC 6265 §4.1.1) and replayed with their quotes.
            ("a=\"abc\"", Some("a=\"abc\"")),
            ("a=\"\"", Some("a=\"\"")),
            ("a=\"a b\"", None),
            ("a=\"abc", None),
            ("a=x\\y", None),
            ("a=x,y", None),
            ("a=x y", None),
            ("a b=1", None),
            ("a(=1", None),
            ("a=\u{0430}", None),
            // Domain and Secure are irrelevant on the one-origin hop.
            (
                "a=1; Domain=evil.example; Secure; HttpOnly; SameSite=None",
                Some("a=1"),
            ),
        ];
        for (set_cookie, want) in cases {
            let mut jar = Jar::new();
            jar.store(set_cookie, "/journal/page.php", t(0));
            assert_eq!(
                jar.header_for("/journal/x", t(1)).as_deref(),
                *want,
                "{set_cookie}"
            );
        }
    }

    #[test]
    fn same_name_on_different_paths_are_two_cookies() {
        let mut jar = Jar::new();
        jar.store("s=root; Path=/", "/", t(0));
        jar.store("s=deep; Path=/journal", "/", t(0));
        assert_eq!(
            jar.header_for("/journal/x", t(1)).as_deref(),
            Some("s=deep; s=root")
        );
        // Deleting one leaves the other.
        jar.store("s=; Path=/journal; Max-Age=0", "/", t(2));
        assert_eq!(
            jar.header_for("/journal/x", t(3)).as_deref(),
            Some("s=root")
        );
    }

    #[test]
    fn oversized_names_and_paths_are_dropped_and_odd_request_paths_default_to_root() {
        let mut jar = Jar::new();
        jar.store(&format!("{}=1", "n".repeat(MAX_VALUE)), "/", t(0));
        jar.store(&format!("a=1; Path=/{}", "p".repeat(MAX_VALUE)), "/", t(0));
        assert!(jar.is_empty());
        assert_eq!(default_path("journal/x"), "/");
        assert_eq!(default_path("*"), "/");
        assert_eq!(default_path(""), "/");
        assert_eq!(default_path("?a=/b/c"), "/");
    }

    proptest::proptest! {
        #[test]
        fn store_never_panics_and_replays_only_header_safe_text(
            lines in proptest::collection::vec("\\PC{0,60}|[a-z]{1,3}=[ -~]{0,10}(; [A-Za-z-]{1,8}(=[ -~]{0,30})?){0,3}", 0..80),
            path in "\\PC{0,20}",
            at in proptest::num::i64::ANY,
        ) {
            let mut jar = Jar::new();
            let now = DateTime::from_timestamp(at % 8_000_000_000, 0).unwrap_or_default();
            for line in &lines {
                jar.store(line, &path, now);
            }
            proptest::prop_assert!(jar.cookies.len() <= MAX_COOKIES);
            if let Some(h) = jar.header_for(&path, now) {
                proptest::prop_assert!(h.bytes().all(|b| (0x20..0x7f).contains(&b)));
                proptest::prop_assert!(http::HeaderValue::from_str(&h).is_ok());
            }
            proptest::prop_assert_eq!(Jar::from_bytes(&jar.to_bytes()).ok(), Some(jar));
        }
    }
}
