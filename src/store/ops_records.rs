//! Records and SQL for the operator's commands (`esia-gateway bindings|audit|keys`):
//! audit queries, the one-transaction unbind and import, and the paging and
//! compare-and-swap that key rotation needs for session jars.

use chrono::{DateTime, Utc};

use super::records::{AuditEvent, Binding};

/// Which audit events `Store::query_audit` returns; `None` fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub diary_login: Option<String>,
    pub esia_oid: Option<i64>,
    pub kind: Option<String>,
    /// At or after.
    pub since: Option<DateTime<Utc>>,
    /// Strictly before.
    pub until: Option<DateTime<Utc>>,
    /// Only events with a larger sequence number (`audit --follow` polls with it).
    pub after_id: Option<i64>,
    pub limit: u32,
}

/// One route no group covered that the diary served to signed-in users (route
/// discovery): `GET /index.php?module=export`, numbers folded to `{n}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteHit {
    pub route: String,
    pub hits: u64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

/// An audit event with its sequence number (the order events were appended in).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub id: i64,
    pub event: AuditEvent,
}

/// What `Store::unbind_user` removed, all in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unbound {
    pub binding: Binding,
    pub vault_entry_removed: bool,
    pub sessions_ended: u64,
}

/// A session's sealed diary cookie jar (key rotation re-seals these).
#[derive(Clone, PartialEq, Eq)]
pub struct SessionJar {
    pub key: super::SessionKey,
    pub sealed: Vec<u8>,
}

impl std::fmt::Debug for SessionJar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionJar")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

pub(super) const BINDING_DELETE_LOGIN: &str =
    "DELETE FROM bindings WHERE diary_login = $1 RETURNING *";
pub(super) const VAULT_DELETE_LOGIN: &str = "DELETE FROM vault_entries WHERE diary_login = $1";
// The diary user's sessions end, and the OID's sessions not yet signed into any diary
// account (they could become this one); the OID's sessions on its other diary accounts
// stay — those bindings are untouched.
pub(super) const SESSIONS_DELETE_USER: &str =
    "DELETE FROM sessions WHERE diary_login = $1 OR (esia_oid = $2 AND diary_login IS NULL)";
// Columns named, so a column added later (with a default) does not break imports.
pub(super) const BINDING_IMPORT: &str = "INSERT INTO bindings (esia_oid, diary_login, \
    diary_role, account_level, created_at, last_used_at, stale) \
    VALUES ($1, $2, $3, $4, $5, $6, $7)";
// `$N IS NULL` disables a filter; the bound types tell PostgreSQL each parameter's type.
pub(super) const AUDIT_QUERY: &str = "SELECT id, ts, kind, esia_oid, diary_login, client_ip, \
    detail FROM audit_events WHERE ($1 IS NULL OR diary_login = $1) \
    AND ($2 IS NULL OR esia_oid = $2) AND ($3 IS NULL OR kind = $3) \
    AND ($4 IS NULL OR ts >= $4) AND ($5 IS NULL OR ts < $5) AND id > $6 \
    ORDER BY id LIMIT $7";
pub(super) const AUDIT_PURGE: &str = "DELETE FROM audit_events WHERE ts < $1";
pub(super) const JARS_PAGE: &str = "SELECT id_hash, diary_cookies FROM sessions \
    WHERE diary_cookies IS NOT NULL AND id_hash > $1 ORDER BY id_hash LIMIT $2";
pub(super) const JAR_CAS: &str = "UPDATE sessions SET diary_cookies = $2 \
    WHERE id_hash = $1 AND diary_cookies = $3";

#[derive(sqlx::FromRow)]
pub(super) struct AuditIdRow {
    pub id: i64,
    #[sqlx(flatten)]
    pub row: super::sql::AuditRow,
}

#[derive(sqlx::FromRow)]
pub(super) struct JarRow {
    pub id_hash: Vec<u8>,
    pub diary_cookies: Vec<u8>,
}
