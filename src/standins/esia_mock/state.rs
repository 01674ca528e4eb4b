//! What the running mock remembers: pending authorizations (between /ac and the login
//! form), issued codes, access tokens, SSO sessions, and counters for tests. Everything
//! lives in memory behind one mutex; entries expire by the injected clock and tables are
//! pruned on insert, so hostile traffic cannot grow them without bound.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use super::config::ClientRegistration;
use super::faults::Faults;
use super::keys::TokenKeys;
use super::personas::Persona;
use super::signature::{RegisteredKey, Verifier, WorkDir};
use crate::clock::SharedClock;

/// A login page may stay open this long before its form is refused.
const PENDING_TTL: TimeDelta = TimeDelta::minutes(30);
/// More live entries than this in one table and the oldest are dropped.
const TABLE_LIMIT: usize = 10_000;

/// Counters and last requests, for tests (`RunningMock::state`, `GET /mock/state`).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct MockState {
    pub ac_requests: u64,
    /// Login pages shown (a pending authorization created).
    pub login_pages: u64,
    pub codes_issued: u64,
    pub te_requests: u64,
    pub tokens_issued: u64,
    pub rs_requests: u64,
    pub logouts: u64,
    /// Live SSO sessions (a browser that logged in and did not log out).
    pub sso_sessions: usize,
    /// Parameters of the last /ac, /te and logout requests, as received.
    pub last_ac: Option<BTreeMap<String, String>>,
    pub last_te: Option<BTreeMap<String, String>>,
    pub last_logout: Option<BTreeMap<String, String>>,
    /// Every ESIA error code returned, in order ("ESIA-007014", ...).
    pub errors: Vec<String>,
}

/// An /ac request that passed every check and waits for the persona form.
#[derive(Debug, Clone)]
pub struct Pending {
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub scope_raw: String,
    pub state: String,
    pub created: DateTime<Utc>,
}

/// An issued, not yet used authorization code.
#[derive(Debug, Clone)]
pub struct CodeGrant {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope_raw: String,
    pub scopes: Vec<String>,
    pub ac_state: String,
    pub persona: String,
    pub sid: String,
    pub auth_time: DateTime<Utc>,
    pub expires: DateTime<Utc>,
}

/// What a Bearer token allows on /rs.
#[derive(Debug, Clone)]
pub struct AccessGrant {
    pub persona: String,
    pub scopes: Vec<String>,
    pub expires: DateTime<Utc>,
}

/// A browser logged in to the mock ("ESIA SSO").
#[derive(Debug, Clone)]
pub struct SsoSession {
    pub persona: String,
    pub sid: String,
    pub auth_time: DateTime<Utc>,
}

#[derive(Debug, Default)]
pub struct Book {
    pub pending: HashMap<String, Pending>,
    pub codes: HashMap<String, CodeGrant>,
    pub access: HashMap<String, AccessGrant>,
    pub sso: HashMap<String, SsoSession>,
    pub counters: MockState,
}

impl Book {
    /// Drops expired entries, then the excess if a table is still too big.
    pub fn prune(&mut self, now: DateTime<Utc>) {
        self.pending.retain(|_, p| now - p.created < PENDING_TTL);
        self.codes.retain(|_, c| c.expires > now);
        self.access.retain(|_, a| a.expires > now);
        for len in [self.pending.len(), self.codes.len(), self.access.len()] {
            if len > TABLE_LIMIT {
                // Crude but bounded: a mock under a flood forgets everything in flight.
                self.pending.clear();
                self.codes.clear();
                self.access.clear();
                break;
            }
        }
        if self.sso.len() > TABLE_LIMIT {
            self.sso.clear();
        }
    }

    pub fn error(&mut self, code: &str) {
        if self.counters.errors.len() < TABLE_LIMIT {
            self.counters.errors.push(code.to_string());
        }
    }
}

/// A registered client with its keys loaded.
#[derive(Debug, Clone)]
pub struct Client {
    pub reg: ClientRegistration,
    pub keys: Vec<RegisteredKey>,
}

impl Client {
    pub fn key_for_hash(&self, hash: &str) -> Option<&RegisteredKey> {
        self.keys.iter().find(|k| k.hash.eq_ignore_ascii_case(hash))
    }

    pub fn allows_redirect(&self, uri: &str) -> bool {
        self.reg.redirect_uris.iter().any(|u| u == uri)
    }

    pub fn allows_logout_redirect(&self, uri: &str) -> bool {
        self.allows_redirect(uri) || self.reg.logout_redirect_urls.iter().any(|u| u == uri)
    }
}

/// Everything a request handler needs, shared by all connections.
#[derive(Debug)]
pub struct Shared {
    pub clients: HashMap<String, Client>,
    pub personas: Vec<Persona>,
    pub verifier: Verifier,
    pub keys: TokenKeys,
    pub clock: SharedClock,
    pub issuer: String,
    pub token_lifetime_secs: i64,
    pub code_ttl_secs: i64,
    pub timestamp_window_secs: i64,
    pub public_url: String,
    pub control_api: bool,
    pub faults: Mutex<Faults>,
    pub book: Mutex<Book>,
    /// Holds OpenSSL's scratch files; removed when the last handler lets go.
    pub _workdir: WorkDir,
}

pub type SharedState = Arc<Shared>;

impl Shared {
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The book, even if a handler panicked while holding it (the data stays usable).
    pub fn book(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn faults(&self) -> MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn persona(&self, id: &str) -> Option<&Persona> {
        self.personas.iter().find(|p| p.id == id)
    }

    pub fn snapshot(&self) -> MockState {
        let book = self.book();
        let mut s = book.counters.clone();
        s.sso_sessions = book.sso.len();
        s
    }
}

/// A random opaque identifier (pending ids, SSO session ids, sids, refresh tokens).
pub fn random_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
