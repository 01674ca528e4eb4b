//! The records the store keeps, as the rest of the gateway sees them: times are
//! `DateTime<Utc>`, enums are typed. Both backends persist them as unix seconds and
//! text (see `migrations/`), so sub-second precision is not kept.
//!
//! Role and account-level names are kept as strings here: their vocabularies belong to
//! `diary` and `esia`, the store only carries them.

use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

/// SHA-256 of a session cookie secret: the only form in which a session id is stored.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionKey(pub [u8; 32]);

impl fmt::Debug for SessionKey {
    // A prefix is enough to correlate log lines; the full hash is never needed there.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionKey({}…)", hex::encode(&self.0[..4]))
    }
}

pub use crate::identity::AuthMethod;

/// One gateway browser session.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub key: SessionKey,
    pub auth_method: AuthMethod,
    pub authenticated_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    /// Idle time after which the session ends; shorter on a public computer.
    pub idle_timeout: TimeDelta,
    pub absolute_expiry: DateTime<Utc>,
    pub public_computer: bool,
    pub esia_oid: Option<i64>,
    pub account_level: Option<String>,
    pub diary_login: Option<String>,
    pub diary_role: Option<String>,
    pub csrf_token: String,
    /// The server-side diary cookie jar, encrypted by its owner; opaque here.
    pub diary_cookies: Option<Vec<u8>>,
    /// Encrypted id token kept only for ESIA logout, if the caller needs it.
    pub esia_id_token_hint: Option<Vec<u8>>,
    /// How many diary accounts the ESIA person had when the diary identity was set
    /// (1 for password sessions); more than one shows the account switcher.
    pub diary_accounts: u32,
}

impl SessionRecord {
    /// Whether the session has ended at `now` (idle or absolute lifetime passed).
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        // checked: an absurd idle timeout (from config or a tampered row) must not panic.
        let idle_end = self.last_seen_at.checked_add_signed(self.idle_timeout);
        now >= self.absolute_expiry || idle_end.is_some_and(|end| now >= end)
    }
}

impl fmt::Debug for SessionRecord {
    // Hand-written so the CSRF token and the encrypted blobs never reach a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionRecord")
            .field("key", &self.key)
            .field("auth_method", &self.auth_method)
            .field("authenticated_at", &self.authenticated_at)
            .field("last_seen_at", &self.last_seen_at)
            .field("absolute_expiry", &self.absolute_expiry)
            .field("public_computer", &self.public_computer)
            .field("esia_oid", &self.esia_oid)
            .field("account_level", &self.account_level)
            .field("diary_login", &self.diary_login)
            .field("diary_role", &self.diary_role)
            .finish_non_exhaustive()
    }
}

/// Why an ESIA round trip was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowPurpose {
    /// Plain «Войти через Госуслуги».
    Login,
    /// «выполнить привязку к ЕСИА» from a legacy session.
    Link,
}

impl FlowPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Link => "link",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "login" => Some(Self::Login),
            "link" => Some(Self::Link),
            _ => None,
        }
    }
}

/// The short-lived record of one ESIA login in progress.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginFlow {
    pub state: Uuid,
    /// SHA-256 of the per-flow cookie value: the callback must come from the same browser.
    pub cookie_binding: [u8; 32],
    pub nonce: String,
    pub purpose: FlowPurpose,
    pub return_path: String,
    pub public_computer: bool,
    /// For [`FlowPurpose::Link`]: the legacy session whose diary user gets bound.
    pub legacy_session: Option<SessionKey>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl fmt::Debug for LoginFlow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginFlow")
            .field("state", &self.state)
            .field("purpose", &self.purpose)
            .field("return_path", &self.return_path)
            .field("public_computer", &self.public_computer)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// ESIA account → diary account: each diary account belongs to one ESIA account; an ESIA
/// account may hold several (a parent with children in two schools).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub esia_oid: i64,
    pub diary_login: String,
    pub diary_role: Option<String>,
    /// The ESIA account level last seen at login.
    pub account_level: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    /// Set when the diary refused the vaulted password: the user must link again.
    pub stale: bool,
}

/// An encrypted vault entry, written and read by `diary::vault`; opaque to the store.
#[derive(Clone, PartialEq, Eq)]
pub struct VaultEntry {
    pub diary_login: String,
    pub key_id: String,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
    pub updated_at: DateTime<Utc>,
}

impl fmt::Debug for VaultEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultEntry")
            .field("diary_login", &self.diary_login)
            .field("key_id", &self.key_id)
            .field("updated_at", &self.updated_at)
            .finish_non_exhaustive()
    }
}

/// What an audit event records. Names are stable: they appear in logs and reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditKind {
    Login,
    LegacyLogin,
    Link,
    Unlink,
    Logout,
    Denied,
    LevelRefused,
    LinkFailed,
    RateLimited,
    BindingStale,
    KeyRotated,
    /// A kind written by a newer gateway version; kept, not rejected.
    Other(String),
}

impl AuditKind {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Other(s) => s,
            known => known.label(),
        }
    }

    /// The kind as a metric label: a kind this version does not know is `other`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::LegacyLogin => "legacy_login",
            Self::Link => "link",
            Self::Unlink => "unlink",
            Self::Logout => "logout",
            Self::Denied => "denied",
            Self::LevelRefused => "level_refused",
            Self::LinkFailed => "link_failed",
            Self::RateLimited => "rate_limited",
            Self::BindingStale => "binding_stale",
            Self::KeyRotated => "key_rotated",
            Self::Other(s) if s == "identity_changed" => "identity_changed",
            Self::Other(s) if s == "identity_check" => "identity_check",
            Self::Other(_) => "other",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "login" => Self::Login,
            "legacy_login" => Self::LegacyLogin,
            "link" => Self::Link,
            "unlink" => Self::Unlink,
            "logout" => Self::Logout,
            "denied" => Self::Denied,
            "level_refused" => Self::LevelRefused,
            "link_failed" => Self::LinkFailed,
            "rate_limited" => Self::RateLimited,
            "binding_stale" => Self::BindingStale,
            "key_rotated" => Self::KeyRotated,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// One line of the audit trail. `detail` is free-form JSON; callers must keep
/// passwords, SNILS and tokens out of it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub ts: DateTime<Utc>,
    pub kind: AuditKind,
    pub esia_oid: Option<i64>,
    pub diary_login: Option<String>,
    pub client_ip: Option<String>,
    pub detail: serde_json::Value,
}

impl AuditEvent {
    pub fn new(ts: DateTime<Utc>, kind: AuditKind) -> Self {
        Self {
            ts,
            kind,
            esia_oid: None,
            diary_login: None,
            client_ip: None,
            detail: serde_json::Value::Null,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(idle: TimeDelta) -> SessionRecord {
        let t = DateTime::UNIX_EPOCH;
        SessionRecord {
            key: SessionKey([0; 32]),
            auth_method: AuthMethod::Legacy,
            authenticated_at: t,
            created_at: t,
            last_seen_at: t,
            idle_timeout: idle,
            absolute_expiry: t + TimeDelta::hours(1),
            public_computer: false,
            esia_oid: None,
            account_level: None,
            diary_login: None,
            diary_role: None,
            csrf_token: "secret-csrf".into(),
            diary_cookies: Some(b"jar".to_vec()),
            esia_id_token_hint: None,
            diary_accounts: 1,
        }
    }

    #[test]
    fn expiry_edges() {
        let t = DateTime::UNIX_EPOCH;
        let r = record(TimeDelta::minutes(10));
        assert!(!r.is_expired(t + TimeDelta::minutes(10) - TimeDelta::seconds(1)));
        assert!(r.is_expired(t + TimeDelta::minutes(10)));
        // A huge idle timeout cannot overflow; the absolute lifetime still ends it.
        let huge = record(TimeDelta::MAX);
        assert!(!huge.is_expired(t + TimeDelta::minutes(59)));
        assert!(huge.is_expired(t + TimeDelta::hours(1)));
    }

    #[test]
    fn debug_hides_tokens_and_blobs() {
        let printed = format!("{:?}", record(TimeDelta::minutes(1)));
        assert!(
            !printed.contains("secret-csrf") && !printed.contains("jar"),
            "{printed}"
        );
    }

    #[test]
    fn names_round_trip() {
        for m in [AuthMethod::Esia, AuthMethod::Legacy] {
            assert_eq!(AuthMethod::parse(m.as_str()), Some(m));
        }
        for p in [FlowPurpose::Login, FlowPurpose::Link] {
            assert_eq!(FlowPurpose::parse(p.as_str()), Some(p));
        }
        assert_eq!(AuthMethod::parse("ESIA"), None);
        assert_eq!(AuditKind::parse("level_refused"), AuditKind::LevelRefused);
        assert_eq!(AuditKind::parse("new_kind").as_str(), "new_kind");
    }
}
