//! The diary's own cookie sessions: a random id in `RIDSESSID`, kept in memory, ended
//! after `idle` without a request. Time comes from the injected clock so the gateway's
//! transparent re-login can be tested without sleeping. A session may be anonymous (the
//! strict-login mode's pre-login session, made by a GET of the form); every session
//! holds the CSRF token its login form shows.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use rand::RngCore;

use super::php_query::PhpParams;
use crate::clock::SharedClock;

/// The session cookie's name, as an old PHP diary would call it.
pub const COOKIE_NAME: &str = "RIDSESSID";

/// Live sessions kept at most; memory stays bounded whatever clients do.
const MAX_SESSIONS: usize = 100_000;

#[derive(Debug)]
struct Entry {
    /// `None` until someone signs in on this session.
    login: Option<String>,
    token: String,
    last_seen: DateTime<Utc>,
}

/// What a live session holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Live {
    pub login: Option<String>,
    /// The value of the login form's hidden `_token` field for this session.
    pub token: String,
}

/// Live sessions by id.
#[derive(Debug)]
pub struct Sessions {
    clock: SharedClock,
    idle: TimeDelta,
    entries: Mutex<HashMap<String, Entry>>,
}

impl Sessions {
    pub fn new(clock: SharedClock, idle: Duration) -> Self {
        Self {
            clock,
            idle: TimeDelta::from_std(idle).unwrap_or(TimeDelta::MAX),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Starts a session for `login` and returns its new id (128 random bits, hex).
    pub fn create(&self, login: &str) -> String {
        self.insert(Some(login.to_owned())).0
    }

    /// Starts an anonymous session; returns its id and its form token.
    pub fn create_anonymous(&self) -> (String, String) {
        self.insert(None)
    }

    fn insert(&self, login: Option<String>) -> (String, String) {
        let id = random_hex();
        let token = random_hex();
        let now = self.clock.now();
        let mut entries = self.lock();
        // Forget expired sessions now and then, so memory stays bounded.
        entries.retain(|_, e| now.signed_duration_since(e.last_seen) <= self.idle);
        // A login flood within the idle time: the least recently used session goes.
        if entries.len() >= MAX_SESSIONS {
            let oldest = entries
                .iter()
                .min_by_key(|(_, e)| e.last_seen)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                entries.remove(&oldest);
            }
        }
        entries.insert(
            id.clone(),
            Entry {
                login,
                token: token.clone(),
                last_seen: now,
            },
        );
        (id, token)
    }

    /// The session behind `id`, refreshing its idle timer; `None` when unknown or
    /// expired (an expired session is removed).
    pub fn touch(&self, id: &str) -> Option<Live> {
        let now = self.clock.now();
        let mut entries = self.lock();
        let entry = entries.get_mut(id)?;
        if now.signed_duration_since(entry.last_seen) > self.idle {
            entries.remove(id);
            return None;
        }
        entry.last_seen = now;
        Some(Live {
            login: entry.login.clone(),
            token: entry.token.clone(),
        })
    }

    /// Signs `login` in on the existing session `id`, keeping the id (what a PHP
    /// application does without `session_regenerate_id`); false when `id` is gone.
    pub fn sign_in(&self, id: &str, login: &str) -> bool {
        match self.lock().get_mut(id) {
            Some(entry) => {
                entry.login = Some(login.to_owned());
                true
            }
            None => false,
        }
    }

    /// Ends the session (logout); unknown ids are ignored.
    /// The logins of the live signed-in sessions (idle ones are not counted).
    pub fn signed_in(&self) -> Vec<String> {
        let now = self.clock.now();
        let mut out: Vec<String> = self
            .lock()
            .values()
            .filter(|e| now - e.last_seen <= self.idle)
            .filter_map(|e| e.login.clone())
            .collect();
        out.sort();
        out
    }

    pub fn end(&self, id: &str) {
        self.lock().remove(id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn random_hex() -> String {
    let mut raw = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut raw);
    hex::encode(raw)
}

/// The `RIDSESSID` value PHP's session module would read from the `Cookie` headers
/// (joined with `; `, read as `$_COOKIE`: the first one wins, an array is no id), with
/// the diary's own leniency of dropping surrounding double quotes (quirk 19).
pub fn session_id_from_cookies<'a>(headers: impl Iterator<Item = &'a [u8]>) -> Option<String> {
    let joined = headers.collect::<Vec<_>>().join(&b"; "[..]);
    let cookies = PhpParams::parse_cookies(&joined);
    let id = String::from_utf8_lossy(cookies.scalar(COOKIE_NAME)?).into_owned();
    Some(id.trim_matches('"').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn sessions_expire_after_idle_and_refresh_on_use() {
        let clock = ManualClock::new(Utc::now());
        let s = Sessions::new(clock.clone(), Duration::from_secs(60));
        let id = s.create("student");
        let login = |id: &str| s.touch(id).and_then(|l| l.login);
        clock.advance(TimeDelta::seconds(50));
        assert_eq!(login(&id).as_deref(), Some("student"));
        clock.advance(TimeDelta::seconds(50));
        assert_eq!(login(&id).as_deref(), Some("student"));
        clock.advance(TimeDelta::seconds(61));
        assert_eq!(s.touch(&id), None);
        assert_eq!(s.touch("nope"), None);
        let id = s.create("parent");
        s.end(&id);
        assert_eq!(s.touch(&id), None);
    }

    #[test]
    fn an_anonymous_session_signs_in_under_the_same_id() {
        let s = Sessions::new(ManualClock::new(Utc::now()), Duration::from_secs(60));
        let (id, token) = s.create_anonymous();
        assert_eq!(
            s.touch(&id),
            Some(Live {
                login: None,
                token: token.clone()
            })
        );
        assert!(s.sign_in(&id, "teacher"));
        let live = s.touch(&id).unwrap();
        assert_eq!(
            (live.login.as_deref(), live.token),
            (Some("teacher"), token)
        );
        assert!(!s.sign_in("gone", "teacher"));
        assert_ne!(s.create_anonymous().1, s.create_anonymous().1);
    }

    #[test]
    fn cookie_header_parsing() {
        let h = [
            &b"a=1; RIDSESSID=abc"[..],
            &b"RIDSESSID=\"def\""[..],
            &b"\xff"[..],
        ];
        assert_eq!(
            session_id_from_cookies(h.into_iter()).as_deref(),
            Some("abc")
        );
        assert_eq!(session_id_from_cookies([&b"x=1"[..]].into_iter()), None);
        let one = |h: &'static [u8]| session_id_from_cookies([h].into_iter());
        assert_eq!(one(b"RIDSESSID[]=abc"), None);
        assert_eq!(one(b"ridsessid=abc"), None);
        assert_eq!(one(b" \tRIDSESSID=ab%63").as_deref(), Some("abc"));
        assert_eq!(one(b"RIDSESSID=a; RIDSESSID[x]=b"), None);
    }
}
