//! The session cookie as the browser holds it.
//!
//! `__Host-` prefix (the browser enforces Secure, Path=/ and no Domain, so no subdomain
//! can plant or read it), HttpOnly, SameSite=Lax. A «Чужой компьютер» session gets a
//! cookie without Max-Age, which the browser drops when it closes; otherwise Max-Age is
//! the session's remaining absolute lifetime.

use chrono::{DateTime, Utc};
use cookie::{Cookie, SameSite};
use http::HeaderMap;
use http::header::COOKIE;

use super::SessionId;
use crate::store::SessionRecord;

pub const SESSION_COOKIE: &str = "__Host-esia-gw";

/// The `Set-Cookie` for a session that just started.
pub fn session_cookie(
    id: &SessionId,
    record: &SessionRecord,
    now: DateTime<Utc>,
) -> Cookie<'static> {
    let mut c = Cookie::build((SESSION_COOKIE, id.cookie_value()))
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Lax);
    if !record.public_computer {
        let left = (record.absolute_expiry - now).num_seconds().max(0);
        c = c.max_age(cookie::time::Duration::seconds(left));
    }
    c.build()
}

/// The `Set-Cookie` that makes the browser forget the session (logout).
pub fn removal_cookie() -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, ""))
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Lax)
        .removal()
        .build()
}

/// The session id in a request's `Cookie` headers, if one parses. Malformed values
/// are ignored (treated as no session), never an error page.
pub fn session_id_from_cookies(headers: &HeaderMap) -> Option<SessionId> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .filter(|c| c.name() == SESSION_COOKIE)
        .find_map(|c| SessionId::parse(c.value()).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AuthMethod, SessionKey};
    use chrono::TimeDelta;
    use http::HeaderValue;

    fn record(public: bool, now: DateTime<Utc>) -> SessionRecord {
        SessionRecord {
            key: SessionKey([0; 32]),
            auth_method: AuthMethod::Esia,
            authenticated_at: now,
            created_at: now,
            last_seen_at: now,
            idle_timeout: TimeDelta::minutes(30),
            absolute_expiry: now + TimeDelta::hours(12),
            public_computer: public,
            esia_oid: None,
            account_level: None,
            diary_login: None,
            diary_role: None,
            csrf_token: String::new(),
            diary_cookies: None,
            esia_id_token_hint: None,
            diary_accounts: 1,
        }
    }

    #[test]
    fn cookie_attributes() {
        let now = Utc::now();
        let id = SessionId::generate();
        let s = session_cookie(&id, &record(false, now), now).to_string();
        assert!(
            s.starts_with(&format!("__Host-esia-gw={}", id.cookie_value())),
            "{s}"
        );
        for attr in [
            "Path=/",
            "Secure",
            "HttpOnly",
            "SameSite=Lax",
            "Max-Age=43200",
        ] {
            assert!(s.contains(attr), "{attr} missing in {s}");
        }
        assert!(!s.contains("Domain"));
        let public = session_cookie(&id, &record(true, now), now).to_string();
        assert!(
            !public.contains("Max-Age") && !public.contains("Expires"),
            "{public}"
        );
        assert!(removal_cookie().to_string().contains("Max-Age=0"));
    }

    #[test]
    fn reads_the_id_from_request_headers() {
        let id = SessionId::generate();
        let mut h = HeaderMap::new();
        h.append(
            COOKIE,
            HeaderValue::from_static("a=b; __Host-esia-gw=garbage"),
        );
        assert!(session_id_from_cookies(&h).is_none());
        let v = format!("x=1; {SESSION_COOKIE}={}", id.cookie_value());
        h.append(COOKIE, HeaderValue::from_str(&v).unwrap());
        assert_eq!(session_id_from_cookies(&h), Some(id));
        assert!(session_id_from_cookies(&HeaderMap::new()).is_none());
    }
}
