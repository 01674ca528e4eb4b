//! The pre-login jar: an anonymous browser's diary cookies, kept server-side.
//!
//! Why: a real diary often needs a session cookie from the GET of its login form (and a
//! CSRF token bound to it) before it accepts the POST. In form mode the browser never
//! holds a diary cookie, so the cookies a login endpoint sets for an anonymous browser
//! live here, under a random id in a short-lived gateway cookie (`__Host-gw_pre`), and
//! are sent only to the login endpoints. A legacy login that the probe confirms takes the
//! jar into the new session; nothing else can use it.
//!
//! Kept in memory (moka, bounded, 15 minutes idle): it is pre-login state; behind several
//! replicas without sticky sessions a login whose form was fetched from another replica
//! is answered as the diary answers a POST without its cookie.

use std::collections::HashSet;
use std::sync::RwLock;
use std::time::Duration;

use http::{HeaderMap, HeaderValue};
use rand::RngCore;

use crate::diary::jar::Jar;
use crate::login::cookies::cookie_values;

/// The gateway cookie naming an anonymous browser's pre-login jar.
pub const PRELOGIN_COOKIE: &str = "__Host-gw_pre";
const IDLE: Duration = Duration::from_secs(15 * 60);
const MAX_JARS: u64 = 100_000;
/// Most distinct session cookie names remembered from sign-ins.
const MAX_NAMES: usize = 64;

/// One browser's pre-login jar, taken out for the length of one request.
pub struct PreLogin {
    id: String,
    pub jar: Jar,
    /// The browser does not hold the cookie yet.
    new: bool,
}

/// The pre-login jars, and the diary session cookie names the gateway's sign-ins set.
pub struct PreLogins {
    jars: moka::future::Cache<String, Jar>,
    session_names: RwLock<HashSet<String>>,
}

impl Default for PreLogins {
    fn default() -> Self {
        Self {
            jars: moka::future::Cache::builder()
                .max_capacity(MAX_JARS)
                .time_to_idle(IDLE)
                .build(),
            session_names: RwLock::new(HashSet::new()),
        }
    }
}

impl PreLogins {
    /// The browser's jar (by its cookie), or a new empty one.
    pub async fn open(&self, headers: &HeaderMap) -> PreLogin {
        for id in cookie_values(headers, PRELOGIN_COOKIE) {
            if let Some(jar) = self.jars.get(&id).await {
                return PreLogin {
                    id,
                    jar,
                    new: false,
                };
            }
        }
        let mut bytes = [0u8; 24];
        rand::thread_rng().fill_bytes(&mut bytes);
        PreLogin {
            id: hex::encode(bytes),
            jar: Jar::new(),
            new: true,
        }
    }

    /// Keeps the jar; the `Set-Cookie` for the browser when it is new and not empty.
    pub async fn keep(&self, pre: PreLogin) -> Option<HeaderValue> {
        if pre.jar.is_empty() {
            self.jars.invalidate(&pre.id).await;
            return None;
        }
        self.jars.insert(pre.id.clone(), pre.jar).await;
        pre.new.then(|| {
            let v = format!(
                "{PRELOGIN_COOKIE}={}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={}",
                pre.id,
                IDLE.as_secs()
            );
            HeaderValue::from_str(&v).ok()
        })?
    }

    /// The jar became a session's: gone from here.
    pub async fn consumed(&self, pre: &PreLogin) {
        self.jars.invalidate(&pre.id).await;
    }

    /// Remembers the cookie names a confirmed sign-in's jar holds (the diary's session
    /// cookies when none are configured).
    pub fn learn(&self, jar: &Jar) {
        let Ok(mut names) = self.session_names.write() else {
            return;
        };
        for name in jar.names() {
            if names.len() >= MAX_NAMES {
                break;
            }
            names.insert(name.to_owned());
        }
    }

    pub fn is_session_name(&self, name: &str) -> bool {
        self.session_names
            .read()
            .is_ok_and(|names| names.contains(name))
    }
}
