//! What the login handlers need from the rest of the gateway, as two small traits:
//! an identity provider (ESIA) and a backend for login flows and sessions (store +
//! session cache). The handlers never see SQL, JWTs or ESIA's quirks; `adapters.rs`
//! plugs in the real ESIA client and session service, and unit tests plug in fakes.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use http::StatusCode;
use url::Url;
use uuid::Uuid;

/// A person ESIA vouched for, after every token check and the level rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EsiaIdentity {
    pub oid: i64,
    /// Stable name: `confirmed`, `standard`, `simplified` or `child`.
    pub level: String,
    /// What ESIA said about the person, for the identity check at linking (issue 12);
    /// `None` from identity providers that do not say.
    pub person: Option<crate::identity::person::EsiaPerson>,
}

/// Why ESIA did not give us a verified person; already classified for the page.
#[derive(Debug, Clone)]
pub struct IdpFailure {
    /// Status of the page: 403 user refused, 502 ESIA unusable or misconfigured, 504 slow.
    pub status: StatusCode,
    /// Stable kebab-case name for logs and metrics (`esia-timeout`, `esia-error`…).
    pub kind: &'static str,
    /// ESIA's code (`ESIA-007004`) when it gave one.
    pub code: Option<String>,
    /// What the person at the browser reads (Russian).
    pub user_message: String,
    /// What the operator reads in the log (English).
    pub operator_hint: String,
    /// The underlying error, for the log only.
    pub detail: String,
}

impl fmt::Display for IdpFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.kind, self.status, self.detail)
    }
}

/// The ESIA side of the login.
pub trait IdentityProvider: Send + Sync {
    /// The signed authorization URL for a new flow with this state.
    fn authorization_url(&self, state: Uuid) -> BoxFuture<'_, Result<Url, IdpFailure>>;
    /// Exchanges the callback's code and returns the verified person.
    fn complete<'a>(&'a self, code: &'a str) -> BoxFuture<'a, Result<EsiaIdentity, IdpFailure>>;
    /// An `error=…&error_description=…` answer on the callback, classified.
    fn callback_error(&self, error: &str, description: &str) -> IdpFailure;
    /// ESIA's single-logout URL that sends the browser back to `redirect_url`.
    fn logout_url(&self, redirect_url: &Url) -> Option<Url>;
    /// The ESIA URLs the gateway's forms end at after a redirect (authorization and
    /// logout): their origins go into the pages' `form-action`.
    fn form_targets(&self) -> Vec<Url> {
        Vec::new()
    }
}

/// The store or session layer failed; the user sees a 503 page.
#[derive(Debug, thiserror::Error)]
#[error("session backend unavailable: {0}")]
pub struct BackendError(pub String);

/// A login in progress, as the handlers hand it to the backend.
#[derive(Clone)]
pub struct PendingFlow {
    pub state: Uuid,
    /// SHA-256 of the secret half of the flow cookie.
    pub cookie_binding: [u8; 32],
    pub return_path: String,
    pub public_computer: bool,
    pub expires_at: DateTime<Utc>,
    /// Set for «выполнить привязку к ЕСИА» (issue 5): the legacy session whose diary
    /// user the ESIA account gets linked to. `None` for a plain login.
    pub link_session: Option<crate::store::SessionKey>,
}

impl fmt::Debug for PendingFlow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingFlow")
            .field("state", &self.state)
            .field("return_path", &self.return_path)
            .field("public_computer", &self.public_computer)
            .finish_non_exhaustive()
    }
}

/// What a new ESIA session records.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub identity: EsiaIdentity,
    pub public_computer: bool,
    pub authenticated_at: DateTime<Utc>,
}

/// A live session, as the proxy and the later phases see it.
#[derive(Clone)]
pub struct ActiveSession {
    /// The cookie value (never logged).
    pub cookie: String,
    /// `esia` or `legacy`.
    pub auth_method: &'static str,
    pub authenticated_at: DateTime<Utc>,
    pub esia_oid: Option<i64>,
    pub account_level: Option<String>,
    pub diary_login: Option<String>,
    pub diary_role: Option<String>,
    pub public_computer: bool,
    pub csrf_token: String,
    /// The person's diary accounts when this session's identity was set; more than one
    /// puts the account switcher on the diary's pages.
    pub diary_accounts: u32,
}

impl fmt::Debug for ActiveSession {
    // Hand-written: the cookie and the CSRF token never reach a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActiveSession")
            .field("auth_method", &self.auth_method)
            .field("esia_oid", &self.esia_oid)
            .field("account_level", &self.account_level)
            .field("diary_login", &self.diary_login)
            .field("diary_role", &self.diary_role)
            .field("public_computer", &self.public_computer)
            .finish_non_exhaustive()
    }
}

/// A session just created at login.
#[derive(Debug, Clone)]
pub struct CreatedSession {
    pub session: ActiveSession,
    /// `Max-Age` for the cookie; `None` on a public computer (browser-session cookie).
    pub cookie_max_age: Option<Duration>,
}

/// Finishes a link flow (issue 5, Flow B) once ESIA has vouched for the person:
/// implemented by `crate::link::Link`. The answer is sent as is (it carries the new
/// session cookie on success).
pub trait LinkCallback: Send + Sync {
    fn complete_link<'a>(
        &'a self,
        identity: &'a EsiaIdentity,
        legacy_session: crate::store::SessionKey,
        public_computer: bool,
        return_path: &'a str,
    ) -> BoxFuture<'a, super::pages::PageResponse>;

    /// The gateway's logout ends the diary session too: the diary's own logout, sent
    /// with the session's jar (best effort; the gateway session ends regardless).
    fn end_diary_session<'a>(&'a self, session_cookie: &'a str) -> BoxFuture<'a, ()>;
}

/// Login flows and sessions.
pub trait SessionBackend: Send + Sync {
    fn put_flow<'a>(&'a self, flow: &'a PendingFlow) -> BoxFuture<'a, Result<(), BackendError>>;
    /// Single use: the flow is gone afterwards; `None` when unknown, expired, taken, or
    /// when `cookie_binding` is not the flow's (the flow then stays for its browser).
    fn take_flow(
        &self,
        state: Uuid,
        cookie_binding: [u8; 32],
    ) -> BoxFuture<'_, Result<Option<PendingFlow>, BackendError>>;
    /// A new session with a fresh id; every session in `previous` (cookie values this
    /// browser sent) is deleted first, so an id planted before login is worthless.
    fn create_session<'a>(
        &'a self,
        new: NewSession,
        previous: &'a [String],
    ) -> BoxFuture<'a, Result<CreatedSession, BackendError>>;
    /// The live session for a cookie value, if any (cache-backed).
    fn resolve<'a>(
        &'a self,
        cookie: &'a str,
    ) -> BoxFuture<'a, Result<Option<ActiveSession>, BackendError>>;
    /// Ends the session on every replica (within the documented bound).
    fn end<'a>(&'a self, cookie: &'a str) -> BoxFuture<'a, Result<(), BackendError>>;
}
