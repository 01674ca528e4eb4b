//! Durable state: sessions, login flows, bindings, vault entries, audit events and
//! rate-limit attempts, behind one narrow async trait so callers hold an
//! `Arc<dyn Store>` and do not care which database is underneath.
//!
//! Two implementations share their SQL (`sql.rs`) and differ only in how they open:
//! - [`sqlite::SqliteStore`] — the default, one file under the data dir, WAL with
//!   `synchronous=FULL`, so a committed write survives kill -9 and power loss;
//! - [`postgres::PostgresStore`] — for several gateway replicas sharing state.
//!
//! Migrations are embedded in the binary and run at open. Every write is committed
//! before the call returns, so whatever the user is told succeeded is on disk.
//!
//! Errors never carry SQL text into their `Display`: pages show the message, logs get
//! the source chain.

mod identity_check;
pub mod ops_records;
pub mod postgres;
pub mod records;
pub mod route_hits;
mod shared_impl;
mod shared_ops;
mod shared_records;
mod sql;
pub mod sqlite;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use uuid::Uuid;

pub use ops_records::{AuditQuery, AuditRecord, RouteHit, SessionJar, Unbound};
pub use records::{
    AuditEvent, AuditKind, AuthMethod, Binding, FlowPurpose, LoginFlow, SessionKey, SessionRecord,
    VaultEntry,
};

/// Keys of sessions ended elsewhere (another replica, the purge, an operator), pushed
/// by backends that can (PostgreSQL LISTEN/NOTIFY). Best effort: a notification lost
/// during a reconnect is covered by the session cache's TTL.
pub type EndedSessions = futures_util::stream::BoxStream<'static, SessionKey>;

/// The store as the rest of the gateway holds it.
pub type SharedStore = Arc<dyn Store>;

pub type StoreResult<T> = Result<T, StoreError>;

/// Which uniqueness rule a new binding broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// The diary account is already linked to another ESIA account.
    LoginTaken,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or refused the operation; retrying may help.
    #[error("the gateway's store is unavailable")]
    Unavailable(#[source] sqlx::Error),
    #[error("binding conflict: {0:?}")]
    Conflict(Conflict),
    /// A stored value no longer parses (e.g. an unknown enum name).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("the store's schema migration failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("cannot prepare the store at {path}")]
    Open {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
                Self::Corrupt("a column did not decode".into())
            }
            other => Self::Unavailable(other),
        }
    }
}

/// Everything the gateway persists. All methods are single statements or single
/// transactions, committed before they return.
pub trait Store: Send + Sync + std::fmt::Debug {
    // --- sessions ---
    fn create_session<'a>(&'a self, s: &'a SessionRecord) -> BoxFuture<'a, StoreResult<()>>;
    fn get_session<'a>(
        &'a self,
        key: &'a SessionKey,
    ) -> BoxFuture<'a, StoreResult<Option<SessionRecord>>>;
    /// Records activity; callers throttle it (see `session`).
    fn touch_session<'a>(
        &'a self,
        key: &'a SessionKey,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, StoreResult<bool>>;
    /// Replaces every field but the key and `created_at`; false if the session is gone.
    fn update_session<'a>(&'a self, s: &'a SessionRecord) -> BoxFuture<'a, StoreResult<bool>>;
    /// The frequent write: the encrypted diary cookie jar.
    fn set_diary_cookies<'a>(
        &'a self,
        key: &'a SessionKey,
        jar: Option<&'a [u8]>,
    ) -> BoxFuture<'a, StoreResult<bool>>;
    fn delete_session<'a>(&'a self, key: &'a SessionKey) -> BoxFuture<'a, StoreResult<bool>>;
    /// Ends every session of a diary user (unbind, changed password).
    fn delete_sessions_of_login<'a>(&'a self, login: &'a str) -> BoxFuture<'a, StoreResult<u64>>;
    fn delete_expired_sessions(&self, now: DateTime<Utc>) -> BoxFuture<'_, StoreResult<u64>>;
    /// A feed of ended sessions, or `None` when the backend has none (SQLite serves a
    /// single process, whose cache `Sessions` keeps itself).
    fn ended_sessions(&self) -> BoxFuture<'_, StoreResult<Option<EndedSessions>>> {
        Box::pin(async { Ok(None) })
    }

    // --- login flows ---
    fn create_login_flow<'a>(&'a self, f: &'a LoginFlow) -> BoxFuture<'a, StoreResult<()>>;
    /// Atomic single use: deletes and returns the flow whose cookie binding (hash of
    /// the browser's flow secret) matches; a replay (on any replica) finds nothing, and
    /// a wrong secret leaves the flow for its browser. An expired flow is deleted and
    /// `None` returned.
    fn take_login_flow(
        &self,
        state: Uuid,
        cookie_binding: [u8; 32],
        now: DateTime<Utc>,
    ) -> BoxFuture<'_, StoreResult<Option<LoginFlow>>>;
    fn delete_expired_flows(&self, now: DateTime<Utc>) -> BoxFuture<'_, StoreResult<u64>>;

    // --- bindings ---
    /// Fails with [`StoreError::Conflict`] when the diary login is already bound. An ESIA
    /// account may hold several bindings (a parent with children in two schools).
    fn create_binding<'a>(&'a self, b: &'a Binding) -> BoxFuture<'a, StoreResult<()>>;
    /// The ESIA account's bindings, the one used last first.
    fn bindings_of_oid(&self, oid: i64) -> BoxFuture<'_, StoreResult<Vec<Binding>>>;
    fn binding_by_login<'a>(
        &'a self,
        login: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<Binding>>>;
    /// At each login: the role and level last seen, and `last_used_at`.
    fn record_binding_use<'a>(
        &'a self,
        login: &'a str,
        role: Option<&'a str>,
        level: Option<&'a str>,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, StoreResult<bool>>;
    fn set_binding_stale<'a>(
        &'a self,
        login: &'a str,
        stale: bool,
    ) -> BoxFuture<'a, StoreResult<bool>>;
    /// Removes the diary account's binding and returns it.
    fn unbind<'a>(&'a self, login: &'a str) -> BoxFuture<'a, StoreResult<Option<Binding>>>;
    /// All bindings ordered by OID, then login.
    fn list_bindings(&self) -> BoxFuture<'_, StoreResult<Vec<Binding>>>;

    // --- vault entries ---
    /// Insert or replace.
    fn put_vault_entry<'a>(&'a self, e: &'a VaultEntry) -> BoxFuture<'a, StoreResult<()>>;
    fn get_vault_entry<'a>(
        &'a self,
        login: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<VaultEntry>>>;
    /// Compare-and-swap for key rotation: replaces only if the stored nonce is still
    /// `expected_nonce`, so a password saved meanwhile is not overwritten.
    fn replace_vault_entry<'a>(
        &'a self,
        expected_nonce: &'a [u8],
        e: &'a VaultEntry,
    ) -> BoxFuture<'a, StoreResult<bool>>;
    fn delete_vault_entry<'a>(&'a self, login: &'a str) -> BoxFuture<'a, StoreResult<bool>>;
    fn list_vault_entries(&self) -> BoxFuture<'_, StoreResult<Vec<VaultEntry>>>;

    // --- audit ---
    /// Appends and returns the event's sequence number.
    fn append_audit<'a>(&'a self, e: &'a AuditEvent) -> BoxFuture<'a, StoreResult<i64>>;
    /// Events at or after `since`, oldest first, at most `limit`.
    fn list_audit(
        &self,
        since: DateTime<Utc>,
        limit: u32,
    ) -> BoxFuture<'_, StoreResult<Vec<AuditEvent>>>;

    // --- rate-limit attempts ---
    fn record_attempt<'a>(
        &'a self,
        key: &'a str,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, StoreResult<()>>;
    /// Attempts for `key` at or after `since`.
    fn count_attempts<'a>(
        &'a self,
        key: &'a str,
        since: DateTime<Utc>,
    ) -> BoxFuture<'a, StoreResult<u64>>;
    fn prune_attempts(&self, before: DateTime<Utc>) -> BoxFuture<'_, StoreResult<u64>>;

    // --- identity check at linking (issue 12) ---
    /// What ESIA said about the session's person (JSON, see
    /// [`crate::identity::person::EsiaPerson`]); false if the session is gone.
    fn set_session_person<'a>(
        &'a self,
        key: &'a SessionKey,
        person: Option<&'a str>,
    ) -> BoxFuture<'a, StoreResult<bool>>;
    fn session_person<'a>(
        &'a self,
        key: &'a SessionKey,
    ) -> BoxFuture<'a, StoreResult<Option<String>>>;
    /// Marks (or clears) a binding made although the identity check found a mismatch.
    fn set_binding_flagged<'a>(
        &'a self,
        login: &'a str,
        flagged: bool,
    ) -> BoxFuture<'a, StoreResult<bool>>;
    /// Flagged bindings ordered by OID.
    fn list_flagged_bindings(&self) -> BoxFuture<'_, StoreResult<Vec<Binding>>>;
    // --- the operator's commands (`src/ops`) ---
    /// Removes the binding of diary account `login`, its vault entry, every session of
    /// that diary user and the OID's sessions not yet signed into a diary account
    /// (PostgreSQL's trigger announces each ended session), and appends
    /// `audit` (its object `detail` gains `sessions_ended`) — one transaction.
    fn unbind_user<'a>(
        &'a self,
        login: &'a str,
        audit: &'a AuditEvent,
    ) -> BoxFuture<'a, StoreResult<Option<Unbound>>>;
    /// Inserts every binding or none (one transaction); a taken login is a
    /// [`StoreError::Conflict`].
    fn import_bindings<'a>(&'a self, all: &'a [Binding]) -> BoxFuture<'a, StoreResult<()>>;
    /// Audit events matching `q`, in append order, with their sequence numbers.
    fn query_audit<'a>(&'a self, q: &'a AuditQuery)
    -> BoxFuture<'a, StoreResult<Vec<AuditRecord>>>;
    /// Deletes audit events older than `before` (the `[audit] retention`).
    fn purge_audit(&self, before: DateTime<Utc>) -> BoxFuture<'_, StoreResult<u64>>;
    /// Sessions holding a sealed diary jar, by id hash after `after`, at most `limit`.
    fn session_jars_after<'a>(
        &'a self,
        after: Option<&'a SessionKey>,
        limit: u32,
    ) -> BoxFuture<'a, StoreResult<Vec<SessionJar>>>;
    /// Compare-and-swap of a session's jar: replaced only if it is still `expected`,
    /// so a jar the gateway wrote meanwhile is not overwritten.
    fn replace_session_jar<'a>(
        &'a self,
        key: &'a SessionKey,
        expected: &'a [u8],
        sealed: &'a [u8],
    ) -> BoxFuture<'a, StoreResult<bool>>;
    // --- route discovery ---
    /// Adds counts of uncovered routes (one transaction); returns how many routes were
    /// written. Past [`route_hits::MAX_ROUTES`] only routes already counted grow.
    fn add_route_hits<'a>(
        &'a self,
        hits: &'a [(String, u64)],
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, StoreResult<u64>>;
    /// Every counted route, most hits first.
    fn list_route_hits(&self) -> BoxFuture<'_, StoreResult<Vec<RouteHit>>>;
}
