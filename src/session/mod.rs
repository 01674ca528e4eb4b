//! Gateway browser sessions: the store's session records behind a small in-memory
//! cache, with expiry decided by an injected clock.
//!
//! - **Hot path.** [`Sessions::get`] answers from a `moka` cache keyed by the id hash,
//!   so a proxied request on a hot session does no store round trip. `last_seen` is
//!   written back at most every [`SessionPolicy::touch_interval`]; idle expiry is
//!   therefore exact to within that interval.
//! - **Several replicas.** A cached copy is trusted for [`SessionPolicy::cache_ttl`]
//!   (default 2 s) and then re-read from the store, so a logout (or unbind, or purge)
//!   on one replica takes effect on every other within `cache_ttl` — the documented
//!   bound, well under 5 s. On PostgreSQL, [`Sessions::start_invalidation_listener`]
//!   makes it immediate (LISTEN/NOTIFY); the TTL still covers lost notifications.
//! - **No fixation.** [`Sessions::start`] always issues a fresh id and deletes the
//!   previous session, at every login and link.
//! - **Store down.** A session cached in the last [`SessionPolicy::outage_grace`]
//!   keeps working when the re-read fails; a failed `last_seen` write is logged and
//!   retried on a later request. Unknown sessions get the store's error.

mod cookie;
mod health;
mod id;
mod listener;
mod purge;

pub use purge::Purged;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use moka::future::Cache;
use prometheus_client::metrics::counter::Counter;

pub use cookie::{SESSION_COOKIE, removal_cookie, session_cookie, session_id_from_cookies};
pub use id::{
    SessionId, SessionIdError, hash_token, random_token, token_matches_hash, tokens_equal,
};

use self::health::{Ask, StoreHealth};
use crate::clock::SharedClock;
use crate::store::{AuthMethod, SessionKey, SessionRecord, SharedStore, StoreError, StoreResult};

/// Lifetimes and cache behaviour of sessions.
#[derive(Debug, Clone)]
pub struct SessionPolicy {
    /// Idle time after which a session ends.
    pub idle: Duration,
    /// Lifetime from login, whatever the activity.
    pub absolute: Duration,
    /// Idle time for «Чужой компьютер» sessions (whose cookie is also non-persistent).
    pub public_computer_idle: Duration,
    /// `last_seen` is written to the store at most this often per session.
    pub touch_interval: Duration,
    /// How long a cached session is trusted before it is re-read: the cross-replica
    /// bound for logout.
    pub cache_ttl: Duration,
    /// How long a cached session may still be served while the store is unreachable.
    pub outage_grace: Duration,
    pub cache_capacity: u64,
    /// Rate-limit attempts older than this are pruned by the purge task.
    pub attempt_retention: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(30 * 60),
            absolute: Duration::from_secs(12 * 3600),
            public_computer_idle: Duration::from_secs(10 * 60),
            touch_interval: Duration::from_secs(60),
            cache_ttl: Duration::from_secs(2),
            outage_grace: Duration::from_secs(5 * 60),
            cache_capacity: 100_000,
            attempt_retention: Duration::from_secs(24 * 3600),
        }
    }
}

/// What is known about the user when a session starts.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub auth_method: AuthMethod,
    pub public_computer: bool,
    pub esia_oid: Option<i64>,
    pub account_level: Option<String>,
    pub diary_login: Option<String>,
    pub diary_role: Option<String>,
}

/// The session service; cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Sessions {
    store: SharedStore,
    clock: SharedClock,
    policy: SessionPolicy,
    cache: Cache<SessionKey, Cached>,
    /// Ids the store just said it does not know: a client replaying made-up or old
    /// cookies costs one store query per id per [`UNKNOWN_TTL`], not one per request.
    unknown: Cache<SessionKey, ()>,
    /// Audit events older than this are deleted by the purge (`[audit] retention`).
    audit_retention: Option<Duration>,
    /// Every store call made here; /metrics shows it so a bench can prove a hot session
    /// costs no store round trip per request.
    store_queries: Counter,
    /// After a store failure, cached sessions are served without each request waiting
    /// for the store to time out (see `health`).
    health: StoreHealth,
}

/// A cached session and when it was last confirmed by the store.
#[derive(Debug, Clone)]
struct Cached {
    record: Arc<SessionRecord>,
    confirmed: Instant,
}

impl Cached {
    fn now(record: Arc<SessionRecord>) -> Self {
        Self {
            record,
            confirmed: Instant::now(),
        }
    }
}

/// How long an id the store did not know is answered "unknown" without asking again.
/// New ids are random and never looked up before they exist, so this cannot hide a
/// real session.
const UNKNOWN_TTL: Duration = Duration::from_secs(30);
/// Unknown ids remembered at most.
const UNKNOWN_CAPACITY: u64 = 50_000;

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

impl Sessions {
    pub fn new(store: SharedStore, clock: SharedClock, policy: SessionPolicy) -> Self {
        let cache = Cache::builder()
            .max_capacity(policy.cache_capacity)
            .time_to_live(policy.cache_ttl.max(policy.outage_grace))
            .support_invalidation_closures()
            .build();
        let unknown = Cache::builder()
            .max_capacity(UNKNOWN_CAPACITY)
            .time_to_live(UNKNOWN_TTL)
            .build();
        Self {
            store,
            clock,
            policy,
            cache,
            unknown,
            audit_retention: None,
            store_queries: Counter::default(),
            health: StoreHealth::default(),
        }
    }

    /// Notes what a store call said about the store's health.
    fn note<T>(&self, result: &StoreResult<T>) {
        match result {
            Err(StoreError::Unavailable(_)) => self.health.failed(),
            _ => self.health.answered(),
        }
    }

    /// The count of store calls made by this service (shared: register it in /metrics).
    pub fn store_queries(&self) -> Counter {
        self.store_queries.clone()
    }

    /// The store, counting the call.
    fn store(&self) -> &SharedStore {
        self.store_queries.inc();
        &self.store
    }

    /// Makes the background purge also delete audit events older than `retention`.
    pub fn with_audit_retention(mut self, retention: Duration) -> Self {
        self.audit_retention = Some(retention);
        self
    }

    pub fn policy(&self) -> &SessionPolicy {
        &self.policy
    }

    /// Starts a session with a fresh id, ending `previous` (if any) first: the id
    /// changes at every login and link, so a planted cookie is worth nothing.
    pub async fn start(
        &self,
        previous: Option<&SessionId>,
        new: NewSession,
    ) -> StoreResult<(SessionId, Arc<SessionRecord>)> {
        if let Some(prev) = previous {
            self.end(prev).await?;
        }
        let now = self.clock.now();
        let idle = if new.public_computer {
            self.policy.public_computer_idle
        } else {
            self.policy.idle
        };
        let id = SessionId::generate();
        let record = SessionRecord {
            key: id.key(),
            auth_method: new.auth_method,
            authenticated_at: now,
            created_at: now,
            last_seen_at: now,
            idle_timeout: delta(idle),
            absolute_expiry: now
                .checked_add_signed(delta(self.policy.absolute))
                .unwrap_or(now),
            public_computer: new.public_computer,
            esia_oid: new.esia_oid,
            account_level: new.account_level,
            diary_login: new.diary_login,
            diary_role: new.diary_role,
            csrf_token: random_token(),
            diary_cookies: None,
            esia_id_token_hint: None,
            diary_accounts: 1,
        };
        self.store().create_session(&record).await?;
        let record = Arc::new(record);
        self.cache
            .insert(record.key, Cached::now(record.clone()))
            .await;
        Ok((id, record))
    }

    /// The live session for `id`, or `None` if unknown, ended or expired.
    pub async fn get(&self, id: &SessionId) -> StoreResult<Option<Arc<SessionRecord>>> {
        let key = id.key();
        let Some(cached) = self.fresh_or_reread(&key).await? else {
            return Ok(None);
        };
        let record = cached.record.clone();
        let now = self.clock.now();
        if record.is_expired(now) {
            self.cache.invalidate(&key).await;
            // Best effort: the purge task deletes it later otherwise (and while the
            // store fails, nobody waits for it here).
            if !self.health.is_failing()
                && let Err(e) = self.store().delete_session(&key).await
            {
                tracing::warn!(error = %e, "could not delete an expired session");
            }
            return Ok(None);
        }
        // While the store fails, activity is not recorded (the probe in the re-read
        // finds out when it is back): no request waits for the store to time out.
        if now - record.last_seen_at < delta(self.policy.touch_interval) || self.health.is_failing()
        {
            return Ok(Some(record));
        }
        let touched = self.store().touch_session(&key, now).await;
        self.note(&touched);
        match touched {
            Ok(false) => {
                // Ended on another replica since we cached it.
                self.cache.invalidate(&key).await;
                Ok(None)
            }
            Ok(true) => {
                let mut touched = (*record).clone();
                touched.last_seen_at = now;
                let touched = Arc::new(touched);
                let entry = Cached {
                    record: touched.clone(),
                    confirmed: cached.confirmed,
                };
                self.cache.insert(key, entry).await;
                Ok(Some(touched))
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not record session activity");
                Ok(Some(record))
            }
        }
    }

    /// The cached copy while it is fresh; otherwise the store's copy; and if the store
    /// is down, a copy cached within `outage_grace`.
    async fn fresh_or_reread(&self, key: &SessionKey) -> StoreResult<Option<Cached>> {
        let cached = self.cache.get(key).await;
        if let Some(c) = &cached
            && c.confirmed.elapsed() < self.policy.cache_ttl
        {
            return Ok(cached);
        }
        if cached.is_none() && self.unknown.contains_key(key) {
            return Ok(None);
        }
        let probe = match self.health.ask() {
            Ask::Go(probe) => probe,
            // The store failed a moment ago: the cached copy (within the grace) or a
            // failure at once, not another wait for the pool's timeout.
            Ask::Skip => {
                return match cached {
                    Some(c) if c.confirmed.elapsed() < self.policy.outage_grace => Ok(Some(c)),
                    _ => Err(StoreError::Unavailable(sqlx::Error::PoolTimedOut)),
                };
            }
        };
        let read = self.store().get_session(key).await;
        self.note(&read);
        drop(probe);
        match read {
            Ok(Some(r)) => {
                let entry = Cached::now(Arc::new(r));
                self.cache.insert(*key, entry.clone()).await;
                Ok(Some(entry))
            }
            Ok(None) => {
                if cached.is_some() {
                    self.cache.invalidate(key).await;
                }
                self.unknown.insert(*key, ()).await;
                Ok(None)
            }
            Err(e) => match cached {
                Some(c) if c.confirmed.elapsed() < self.policy.outage_grace => {
                    tracing::warn!(error = %e, "store unavailable; serving a cached session");
                    Ok(Some(c))
                }
                _ => Err(e),
            },
        }
    }

    /// Saves changed fields (role, level, diary login …) and refreshes the cache.
    pub async fn update(&self, record: SessionRecord) -> StoreResult<bool> {
        let found = self.store().update_session(&record).await?;
        if found {
            self.cache
                .insert(record.key, Cached::now(Arc::new(record)))
                .await;
        } else {
            self.cache.invalidate(&record.key).await;
        }
        Ok(found)
    }

    /// Replaces the encrypted diary cookie jar of a session.
    pub async fn set_diary_cookies(
        &self,
        key: &SessionKey,
        jar: Option<Vec<u8>>,
    ) -> StoreResult<bool> {
        let found = self.store().set_diary_cookies(key, jar.as_deref()).await?;
        match (found, self.cache.get(key).await) {
            (true, Some(cached)) => {
                let mut r = (*cached.record).clone();
                r.diary_cookies = jar;
                let entry = Cached {
                    record: Arc::new(r),
                    confirmed: cached.confirmed,
                };
                self.cache.insert(*key, entry).await;
            }
            _ => self.cache.invalidate(key).await,
        }
        Ok(found)
    }

    /// Logout: deletes the session here and in the store; other replicas drop their
    /// cached copy within `cache_ttl`. Returns the record that was ended, if any.
    pub async fn end(&self, id: &SessionId) -> StoreResult<Option<Arc<SessionRecord>>> {
        let key = id.key();
        let record = match self.cache.get(&key).await {
            Some(c) => Some(c.record),
            None => self.store().get_session(&key).await?.map(Arc::new),
        };
        // Store first: if the delete fails the user is told so and stays signed in
        // everywhere, rather than being signed out on this replica only.
        self.store().delete_session(&key).await?;
        self.cache.invalidate(&key).await;
        Ok(record)
    }

    /// Ends every session of a diary user (unbind, changed diary password). Other
    /// replicas follow within `cache_ttl`.
    pub async fn end_all_of_login(&self, login: &str) -> StoreResult<u64> {
        let n = self.store().delete_sessions_of_login(login).await?;
        let login = login.to_owned();
        // Fails only if closures were not enabled at build time (they are).
        let _ = self
            .cache
            .invalidate_entries_if(move |_, c| c.record.diary_login.as_deref() == Some(&login));
        Ok(n)
    }

    /// Drops a cached session without touching the store (e.g. on a notification
    /// that another replica changed it).
    pub async fn forget_cached(&self, key: &SessionKey) {
        self.cache.invalidate(key).await;
    }
}
