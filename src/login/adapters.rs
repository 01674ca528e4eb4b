//! The real implementations of the login ports: the ESIA client as the
//! [`IdentityProvider`] and the session service + store as the [`SessionBackend`].
//!
//! Protocol time towards ESIA (timestamps, token `exp`) is always the wall clock: ESIA
//! lives in real time whatever date the gateway's policy clock says. Session expiry and
//! flow expiry use the injected clock.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures_util::future::BoxFuture;
use uuid::Uuid;

use super::ports::{
    ActiveSession, BackendError, CreatedSession, EsiaIdentity, IdentityProvider, IdpFailure,
    NewSession, PendingFlow, SessionBackend,
};
use crate::clock::SharedClock;
use crate::esia::{EsiaClient, EsiaError, KidsError, VerifiedLogin};
use crate::identity::person::{ChildFacts, Children, EsiaPerson, NameParts};
use crate::session::{self, SessionId, Sessions};
use crate::store::{
    AuditEvent, AuditKind, AuthMethod, FlowPurpose, LoginFlow, SessionRecord, SharedStore,
    StoreError,
};

/// ESIA through [`EsiaClient`].
pub struct EsiaProvider {
    client: Arc<EsiaClient>,
}

impl EsiaProvider {
    pub fn new(client: Arc<EsiaClient>) -> Self {
        Self { client }
    }
}

impl EsiaProvider {
    /// The person's children for the identity check at linking. Never fails the login:
    /// ESIA refusing or failing `/kids` only leaves the children unknown, with the reason.
    async fn children(&self, login: &VerifiedLogin) -> Children {
        match self
            .client
            .children(login.oid, &login.tokens.access_token)
            .await
        {
            Ok(kids) => Children::Listed {
                children: kids
                    .iter()
                    .map(|k| ChildFacts {
                        name: k.name().ok().as_ref().map(NameParts::from),
                        birth_date: k.birth_date().map(|d| d.to_string()),
                    })
                    .collect(),
            },
            Err(e) => {
                if !matches!(e, KidsError::NotRequested) {
                    tracing::warn!(kind = e.kind(), error = %e, "ESIA children unknown");
                }
                Children::Unknown {
                    reason: e.kind().to_owned(),
                }
            }
        }
    }
}

fn failure(err: &EsiaError) -> IdpFailure {
    let code = match err {
        EsiaError::Esia { code, .. } => Some(code.code().to_owned()),
        _ => None,
    };
    IdpFailure {
        status: err.status(),
        kind: err.kind(),
        code,
        user_message: err.user_message().to_owned(),
        operator_hint: err.operator_hint().to_owned(),
        detail: err.to_string(),
    }
}

impl IdentityProvider for EsiaProvider {
    fn authorization_url(&self, state: Uuid) -> BoxFuture<'_, Result<url::Url, IdpFailure>> {
        Box::pin(async move {
            self.client
                .authorization_request(state, Utc::now())
                .await
                .map_err(|e| failure(&EsiaError::Sign(e)))
        })
    }

    fn complete<'a>(&'a self, code: &'a str) -> BoxFuture<'a, Result<EsiaIdentity, IdpFailure>> {
        Box::pin(async move {
            let login = self
                .client
                .exchange_code(code, Utc::now())
                .await
                .map_err(|e| failure(&e))?;
            let oid = i64::try_from(login.oid).map_err(|_| {
                failure(&EsiaError::BadResponse(format!(
                    "OID {} out of range",
                    login.oid
                )))
            })?;
            let children = self.children(&login).await;
            Ok(EsiaIdentity {
                oid,
                level: login.level.as_str().to_owned(),
                person: Some(
                    EsiaPerson::new(login.person_name.as_ref(), login.birth_date, children)
                        .with_display_name(&login.full_name),
                ),
            })
        })
    }

    fn callback_error(&self, error: &str, description: &str) -> IdpFailure {
        failure(&EsiaError::from_answer(error, description))
    }

    fn logout_url(&self, redirect_url: &url::Url) -> Option<url::Url> {
        Some(self.client.logout_url(redirect_url))
    }

    fn form_targets(&self) -> Vec<url::Url> {
        let c = self.client.config();
        vec![c.ac_url.clone(), c.logout_url.clone()]
    }
}

/// Flows in the store, sessions through [`Sessions`] (moka cache in front of the store).
pub struct StoreBackend {
    store: SharedStore,
    sessions: Arc<Sessions>,
    clock: SharedClock,
    /// Counts the audited events (`auth_events_total`) when set.
    metrics: Option<Arc<crate::metrics::Metrics>>,
}

impl StoreBackend {
    pub fn new(store: SharedStore, sessions: Arc<Sessions>, clock: SharedClock) -> Self {
        Self {
            store,
            sessions,
            clock,
            metrics: None,
        }
    }

    /// Counts every audited sign-in event in `metrics` too.
    pub fn with_metrics(mut self, metrics: Arc<crate::metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Appends an audit event; a failure is logged, never shown to the user (the
    /// session change it records has already been committed).
    async fn audit(&self, event: &AuditEvent) {
        if let Some(m) = &self.metrics {
            m.auth_event(event.kind.label());
        }
        if let Err(e) = self.store.append_audit(event).await {
            tracing::warn!(error = %e, kind = event.kind.as_str(), "audit event not written");
        }
    }

    fn active(cookie: String, r: &SessionRecord) -> ActiveSession {
        ActiveSession {
            cookie,
            auth_method: r.auth_method.as_str(),
            authenticated_at: r.authenticated_at,
            esia_oid: r.esia_oid,
            account_level: r.account_level.clone(),
            diary_login: r.diary_login.clone(),
            diary_role: r.diary_role.clone(),
            public_computer: r.public_computer,
            csrf_token: r.csrf_token.clone(),
            diary_accounts: r.diary_accounts,
        }
    }
}

fn unavailable(e: StoreError) -> BackendError {
    BackendError(e.to_string())
}

impl SessionBackend for StoreBackend {
    fn put_flow<'a>(&'a self, flow: &'a PendingFlow) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            let record = LoginFlow {
                state: flow.state,
                cookie_binding: flow.cookie_binding,
                // ESIA no longer wants a nonce checked; the field stays for other IdPs.
                nonce: session::random_token(),
                purpose: if flow.link_session.is_some() {
                    FlowPurpose::Link
                } else {
                    FlowPurpose::Login
                },
                return_path: flow.return_path.clone(),
                public_computer: flow.public_computer,
                legacy_session: flow.link_session,
                created_at: self.clock.now(),
                expires_at: flow.expires_at,
            };
            self.store
                .create_login_flow(&record)
                .await
                .map_err(unavailable)
        })
    }

    fn take_flow(
        &self,
        state: Uuid,
        cookie_binding: [u8; 32],
    ) -> BoxFuture<'_, Result<Option<PendingFlow>, BackendError>> {
        Box::pin(async move {
            let flow = self
                .store
                .take_login_flow(state, cookie_binding, self.clock.now())
                .await
                .map_err(unavailable)?;
            Ok(flow.map(|f| PendingFlow {
                state: f.state,
                cookie_binding: f.cookie_binding,
                return_path: f.return_path,
                public_computer: f.public_computer,
                expires_at: f.expires_at,
                link_session: match f.purpose {
                    FlowPurpose::Link => f.legacy_session,
                    FlowPurpose::Login => None,
                },
            }))
        })
    }

    fn create_session<'a>(
        &'a self,
        new: NewSession,
        previous: &'a [String],
    ) -> BoxFuture<'a, Result<CreatedSession, BackendError>> {
        Box::pin(async move {
            // No fixation: whatever session this browser had ends before the new id exists.
            for value in previous {
                if let Ok(id) = SessionId::parse(value) {
                    self.sessions.end(&id).await.map_err(unavailable)?;
                }
            }
            let (id, record) = self
                .sessions
                .start(
                    None,
                    session::NewSession {
                        auth_method: AuthMethod::Esia,
                        public_computer: new.public_computer,
                        esia_oid: Some(new.identity.oid),
                        account_level: Some(new.identity.level),
                        diary_login: None,
                        diary_role: None,
                    },
                )
                .await
                .map_err(unavailable)?;
            // Kept with the session for the identity check at the link form.
            if let Some(person) = &new.identity.person
                && let Err(e) = self
                    .store
                    .set_session_person(&record.key, Some(&person.to_json()))
                    .await
            {
                tracing::warn!(error = %e, "cannot keep the ESIA person for linking");
            }
            let mut event = AuditEvent::new(self.clock.now(), AuditKind::Login);
            event.esia_oid = record.esia_oid;
            event.detail = serde_json::json!({
                "method": "esia",
                "level": record.account_level,
                "public_computer": record.public_computer,
            });
            self.audit(&event).await;
            let cookie_max_age = (!record.public_computer).then(|| {
                let left = (record.absolute_expiry - self.clock.now()).num_seconds();
                Duration::from_secs(u64::try_from(left).unwrap_or(0))
            });
            Ok(CreatedSession {
                session: Self::active(id.cookie_value(), &record),
                cookie_max_age,
            })
        })
    }

    fn resolve<'a>(
        &'a self,
        cookie: &'a str,
    ) -> BoxFuture<'a, Result<Option<ActiveSession>, BackendError>> {
        Box::pin(async move {
            // A malformed cookie is no session, never an error page.
            let Ok(id) = SessionId::parse(cookie) else {
                return Ok(None);
            };
            let record = self.sessions.get(&id).await.map_err(unavailable)?;
            Ok(record.map(|r| Self::active(cookie.to_owned(), &r)))
        })
    }

    fn end<'a>(&'a self, cookie: &'a str) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            if let Ok(id) = SessionId::parse(cookie)
                && let Some(ended) = self.sessions.end(&id).await.map_err(unavailable)?
            {
                let mut event = AuditEvent::new(self.clock.now(), AuditKind::Logout);
                event.esia_oid = ended.esia_oid;
                event.diary_login = ended.diary_login.clone();
                self.audit(&event).await;
            }
            Ok(())
        })
    }
}
