//! The diary's own cookie sessions: a random id in `RIDSESSID`, kept in memory, ended
//! after `idle` without a request. Time comes from the injected clock so the gateway's
//! transparent re-login can be tested without sleeping.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use rand::RngCore;

use crate::clock::SharedClock;

/// The session cookie's name, as an old PHP diary would call it.
pub const COOKIE_NAME: &str = "RIDSESSID";

/// Live sessions kept at most; memory stays bounded whatever clients do.
const MAX_SESSIONS: usize = 100_000;

#[derive(Debug)]
struct Entry {
    login: String,
    last_seen: DateTime<Utc>,
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
        let mut raw = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut raw);
        let id = hex::encode(raw);
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
                login: login.to_owned(),
                last_seen: now,
            },
        );
        id
    }

    /// The login behind `id`, refreshing its idle timer; `None` when unknown or expired
    /// (an expired session is removed).
    pub fn touch(&self, id: &str) -> Option<String> {
        let now = self.clock.now();
        let mut entries = self.lock();
        let entry = entries.get_mut(id)?;
        if now.signed_duration_since(entry.last_seen) > self.idle {
            entries.remove(id);
            return None;
        }
        entry.last_seen = now;
        Some(entry.login.clone())
    }

    /// Ends the session (logout); unknown ids are ignored.
    pub fn end(&self, id: &str) {
        self.lock().remove(id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The value of the `RIDSESSID` cookie in the `Cookie` headers, if any; the first one
/// wins, as in PHP's `$_COOKIE`.
pub fn session_id_from_cookies<'a>(headers: impl Iterator<Item = &'a [u8]>) -> Option<String> {
    headers
        .filter_map(|h| std::str::from_utf8(h).ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim_matches('"').to_owned())
        .next()
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
        clock.advance(TimeDelta::seconds(50));
        assert_eq!(s.touch(&id).as_deref(), Some("student"));
        clock.advance(TimeDelta::seconds(50));
        assert_eq!(s.touch(&id).as_deref(), Some("student"));
        clock.advance(TimeDelta::seconds(61));
        assert_eq!(s.touch(&id), None);
        assert_eq!(s.touch("nope"), None);
        let id = s.create("parent");
        s.end(&id);
        assert_eq!(s.touch(&id), None);
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
    }
}
