//! The SQL both backends share. `$N` placeholders work on SQLite and PostgreSQL alike
//! and both schemas use the same column names and integer-seconds times, so one
//! implementation of [`Store`](super::Store) is stamped out for each pool type by
//! [`impl_store!`]; only opening, pragmas and migrations differ per backend.

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use super::records::*;
use super::{StoreError, StoreResult};

pub(super) fn secs(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

pub(super) fn time_of(s: i64, what: &str) -> StoreResult<DateTime<Utc>> {
    time(s, what)
}

fn time(s: i64, what: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp(s, 0)
        .ok_or_else(|| StoreError::Corrupt(format!("{what} out of range")))
}

fn hash32(v: Vec<u8>, what: &str) -> StoreResult<[u8; 32]> {
    v.try_into()
        .map_err(|_| StoreError::Corrupt(format!("{what} is not 32 bytes")))
}

#[derive(sqlx::FromRow)]
pub(super) struct SessionRow {
    id_hash: Vec<u8>,
    auth_method: String,
    authenticated_at: i64,
    created_at: i64,
    last_seen_at: i64,
    idle_timeout_secs: i64,
    absolute_expiry: i64,
    public_computer: bool,
    esia_oid: Option<i64>,
    account_level: Option<String>,
    diary_login: Option<String>,
    diary_role: Option<String>,
    csrf_token: String,
    diary_cookies: Option<Vec<u8>>,
    esia_id_token_hint: Option<Vec<u8>>,
    diary_accounts: i64,
}

impl SessionRow {
    pub(super) fn into_record(self) -> StoreResult<SessionRecord> {
        Ok(SessionRecord {
            key: SessionKey(hash32(self.id_hash, "session id")?),
            auth_method: AuthMethod::parse(&self.auth_method)
                .ok_or_else(|| StoreError::Corrupt("unknown auth_method".into()))?,
            authenticated_at: time(self.authenticated_at, "authenticated_at")?,
            created_at: time(self.created_at, "created_at")?,
            last_seen_at: time(self.last_seen_at, "last_seen_at")?,
            idle_timeout: TimeDelta::try_seconds(self.idle_timeout_secs)
                .ok_or_else(|| StoreError::Corrupt("idle_timeout out of range".into()))?,
            absolute_expiry: time(self.absolute_expiry, "absolute_expiry")?,
            public_computer: self.public_computer,
            esia_oid: self.esia_oid,
            account_level: self.account_level,
            diary_login: self.diary_login,
            diary_role: self.diary_role,
            csrf_token: self.csrf_token,
            diary_cookies: self.diary_cookies,
            esia_id_token_hint: self.esia_id_token_hint,
            diary_accounts: u32::try_from(self.diary_accounts)
                .map_err(|_| StoreError::Corrupt("diary_accounts out of range".into()))?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct FlowRow {
    state: String,
    cookie_binding: Vec<u8>,
    nonce: String,
    purpose: String,
    return_path: String,
    public_computer: bool,
    legacy_session_id: Option<Vec<u8>>,
    created_at: i64,
    expires_at: i64,
}

impl FlowRow {
    pub(super) fn into_record(self) -> StoreResult<LoginFlow> {
        Ok(LoginFlow {
            state: Uuid::parse_str(&self.state)
                .map_err(|_| StoreError::Corrupt("flow state is not a UUID".into()))?,
            cookie_binding: hash32(self.cookie_binding, "cookie binding")?,
            nonce: self.nonce,
            purpose: FlowPurpose::parse(&self.purpose)
                .ok_or_else(|| StoreError::Corrupt("unknown flow purpose".into()))?,
            return_path: self.return_path,
            public_computer: self.public_computer,
            legacy_session: self
                .legacy_session_id
                .map(|v| hash32(v, "legacy session id").map(SessionKey))
                .transpose()?,
            created_at: time(self.created_at, "created_at")?,
            expires_at: time(self.expires_at, "expires_at")?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct BindingRow {
    esia_oid: i64,
    diary_login: String,
    diary_role: Option<String>,
    account_level: Option<String>,
    created_at: i64,
    last_used_at: i64,
    stale: bool,
}

impl BindingRow {
    pub(super) fn into_record(self) -> StoreResult<Binding> {
        Ok(Binding {
            esia_oid: self.esia_oid,
            diary_login: self.diary_login,
            diary_role: self.diary_role,
            account_level: self.account_level,
            created_at: time(self.created_at, "created_at")?,
            last_used_at: time(self.last_used_at, "last_used_at")?,
            stale: self.stale,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct VaultRow {
    diary_login: String,
    key_id: String,
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
    updated_at: i64,
}

impl VaultRow {
    pub(super) fn into_record(self) -> StoreResult<VaultEntry> {
        Ok(VaultEntry {
            diary_login: self.diary_login,
            key_id: self.key_id,
            nonce: self.nonce,
            ciphertext: self.ciphertext,
            updated_at: time(self.updated_at, "updated_at")?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct AuditRow {
    ts: i64,
    kind: String,
    esia_oid: Option<i64>,
    diary_login: Option<String>,
    client_ip: Option<String>,
    detail: String,
}

impl AuditRow {
    pub(super) fn into_record(self) -> StoreResult<AuditEvent> {
        Ok(AuditEvent {
            ts: time(self.ts, "ts")?,
            kind: AuditKind::parse(&self.kind),
            esia_oid: self.esia_oid,
            diary_login: self.diary_login,
            client_ip: self.client_ip,
            detail: serde_json::from_str(&self.detail)
                .map_err(|_| StoreError::Corrupt("audit detail is not JSON".into()))?,
        })
    }
}

pub(super) fn rows<R, T>(rows: Vec<R>, f: impl Fn(R) -> StoreResult<T>) -> StoreResult<Vec<T>> {
    rows.into_iter().map(f).collect()
}

/// A unique-key violation, which `create_binding` turns into a typed [`super::Conflict`].
pub(super) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

pub(super) const SESSION_COLUMNS_INSERT: &str = "INSERT INTO sessions (id_hash, auth_method, \
    authenticated_at, created_at, last_seen_at, idle_timeout_secs, absolute_expiry, \
    public_computer, esia_oid, account_level, diary_login, diary_role, csrf_token, \
    diary_cookies, esia_id_token_hint, diary_accounts) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)";
pub(super) const SESSION_UPDATE: &str = "UPDATE sessions SET auth_method = $2, \
    authenticated_at = $3, last_seen_at = $4, idle_timeout_secs = $5, absolute_expiry = $6, \
    public_computer = $7, esia_oid = $8, account_level = $9, diary_login = $10, \
    diary_role = $11, csrf_token = $12, diary_cookies = $13, esia_id_token_hint = $14, \
    diary_accounts = $15 WHERE id_hash = $1";
pub(super) const SESSION_SELECT: &str = "SELECT * FROM sessions WHERE id_hash = $1";
// `max` keeps last_seen monotonic when replicas touch out of order.
pub(super) const SESSION_TOUCH: &str = "UPDATE sessions SET last_seen_at = \
    CASE WHEN last_seen_at > $2 THEN last_seen_at ELSE $2 END WHERE id_hash = $1";
pub(super) const SESSION_SET_JAR: &str =
    "UPDATE sessions SET diary_cookies = $2 WHERE id_hash = $1";
pub(super) const SESSION_DELETE: &str = "DELETE FROM sessions WHERE id_hash = $1";
pub(super) const SESSION_DELETE_LOGIN: &str = "DELETE FROM sessions WHERE diary_login = $1";
pub(super) const SESSION_DELETE_EXPIRED: &str = "DELETE FROM sessions \
    WHERE absolute_expiry <= $1 OR last_seen_at + idle_timeout_secs <= $1";

pub(super) const FLOW_INSERT: &str = "INSERT INTO login_flows (state, cookie_binding, nonce, \
    purpose, return_path, public_computer, legacy_session_id, created_at, expires_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
/// Only the browser holding the flow's cookie secret can use (and so end) a flow:
/// someone who saw `state` alone cannot cancel another person's login.
pub(super) const FLOW_TAKE: &str =
    "DELETE FROM login_flows WHERE state = $1 AND cookie_binding = $2 RETURNING *";
pub(super) const FLOW_DELETE_EXPIRED: &str = "DELETE FROM login_flows WHERE expires_at <= $1";

pub(super) const BINDING_INSERT: &str = "INSERT INTO bindings (esia_oid, diary_login, \
    diary_role, account_level, created_at, last_used_at, stale) \
    VALUES ($1, $2, $3, $4, $5, $6, $7)";
// The one used last first: the chooser lists it at the top.
pub(super) const BINDINGS_OF_OID: &str =
    "SELECT * FROM bindings WHERE esia_oid = $1 ORDER BY last_used_at DESC, diary_login";
pub(super) const BINDING_BY_LOGIN: &str = "SELECT * FROM bindings WHERE diary_login = $1";
pub(super) const BINDING_USE: &str = "UPDATE bindings SET diary_role = COALESCE($2, diary_role), \
    account_level = COALESCE($3, account_level), last_used_at = $4 WHERE diary_login = $1";
pub(super) const BINDING_STALE: &str = "UPDATE bindings SET stale = $2 WHERE diary_login = $1";
pub(super) const BINDING_DELETE: &str = "DELETE FROM bindings WHERE diary_login = $1 RETURNING *";
pub(super) const BINDING_LIST: &str = "SELECT * FROM bindings ORDER BY esia_oid, diary_login";

pub(super) const VAULT_UPSERT: &str = "INSERT INTO vault_entries (diary_login, key_id, nonce, \
    ciphertext, updated_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (diary_login) DO UPDATE \
    SET key_id = excluded.key_id, nonce = excluded.nonce, ciphertext = excluded.ciphertext, \
    updated_at = excluded.updated_at";
pub(super) const VAULT_GET: &str = "SELECT * FROM vault_entries WHERE diary_login = $1";
pub(super) const VAULT_CAS: &str = "UPDATE vault_entries SET key_id = $2, nonce = $3, \
    ciphertext = $4, updated_at = $5 WHERE diary_login = $1 AND nonce = $6";
pub(super) const VAULT_DELETE: &str = "DELETE FROM vault_entries WHERE diary_login = $1";
pub(super) const VAULT_LIST: &str = "SELECT * FROM vault_entries ORDER BY diary_login";

pub(super) const AUDIT_INSERT: &str = "INSERT INTO audit_events (ts, kind, esia_oid, \
    diary_login, client_ip, detail) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";
pub(super) const AUDIT_LIST: &str = "SELECT ts, kind, esia_oid, diary_login, client_ip, detail \
    FROM audit_events WHERE ts >= $1 ORDER BY id LIMIT $2";

pub(super) const ATTEMPT_INSERT: &str = "INSERT INTO attempts (key, ts) VALUES ($1, $2)";
pub(super) const ATTEMPT_COUNT: &str = "SELECT COUNT(*) FROM attempts WHERE key = $1 AND ts >= $2";
pub(super) const ATTEMPT_PRUNE: &str = "DELETE FROM attempts WHERE ts < $1";
