//! Flow B (seed 004): from a legacy session, «выполнить привязку к ЕСИА»
//! (`<prefix>link/start`) → ESIA → the login callback → [`LinkCallback::complete_link`]
//! binds the legacy session's diary user to the ESIA account. No password is asked:
//! the legacy session proved it, and its diary cookies move to the new ESIA session.
//!
//! The round trip uses the login flow machinery (state, per-flow `__Host-` cookie with
//! only its hash stored, single use), with purpose `link` and the legacy session's key.

use chrono::TimeDelta;
use futures_util::future::BoxFuture;
use http::{HeaderValue, Request, StatusCode, header};
use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::confirm::PendingLink;
use super::identity::{esia_session, record_of, with_cookie};
use super::{Link, jar_store};
use crate::login::ActiveSession;
use crate::login::cookies::{FLOW_COOKIE_PREFIX, set_cookie};
use crate::login::ports::{EsiaIdentity, LinkCallback};
use crate::login::return_path::safe_return_path;
use crate::pages::{PageResponse, redirect};
use crate::session::random_token;
use crate::store::{AuditKind, AuthMethod, FlowPurpose, LoginFlow, SessionKey};

impl Link {
    /// `GET <prefix>link/start?return=…`
    pub(super) async fn flow_b_start<B>(
        &self,
        req: &Request<B>,
        session: Option<ActiveSession>,
    ) -> PageResponse {
        let t = self.pages.texts();
        let return_path = crate::login::single_param(req.uri().query(), "return")
            .map(|r| safe_return_path(&r))
            .unwrap_or_else(|| "/".to_owned());
        let need_legacy = || {
            self.pages.refusal(
                StatusCode::FORBIDDEN,
                t.need_legacy_title,
                t.need_legacy_text,
                "link-needs-legacy-session",
            )
        };
        let Some(s) = session else {
            return need_legacy();
        };
        if s.auth_method == "esia" {
            return redirect(&super::link_url(&self.prefix, &return_path));
        }
        let Some((_, record)) = record_of(&self.sessions, &s.cookie).await else {
            return need_legacy();
        };
        if record.auth_method != AuthMethod::Legacy || record.diary_login.is_none() {
            return need_legacy();
        }
        let state = Uuid::new_v4();
        let secret = random_token();
        let now = self.clock.now();
        let ttl = TimeDelta::from_std(self.flow_ttl).unwrap_or(TimeDelta::minutes(10));
        let flow = LoginFlow {
            state,
            cookie_binding: Sha256::digest(secret.as_bytes()).into(),
            nonce: random_token(),
            purpose: FlowPurpose::Link,
            return_path,
            public_computer: record.public_computer,
            legacy_session: Some(record.key),
            created_at: now,
            expires_at: now + ttl,
        };
        if let Err(e) = self.store.create_login_flow(&flow).await {
            tracing::error!(error = %e, "cannot save the link flow");
            return self.store_problem();
        }
        let url = match self.idp.authorization_url(state).await {
            Ok(url) => url,
            Err(failure) => {
                tracing::warn!(kind = failure.kind, detail = %failure.detail, "link flow: ESIA unusable");
                return self.pages.refusal(
                    failure.status,
                    t.need_legacy_title,
                    &failure.user_message,
                    failure.kind,
                );
            }
        };
        let mut id = [0u8; 8];
        rand::rngs::OsRng.fill_bytes(&mut id);
        let name = format!("{FLOW_COOKIE_PREFIX}{}", hex::encode(id));
        let cookie = set_cookie(&name, &format!("{state}.{secret}"), Some(self.flow_ttl));
        let mut resp = redirect(url.as_str());
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
        tracing::info!(%state, "link flow started from a legacy session");
        resp
    }

    async fn finish_flow_b(
        &self,
        identity: &EsiaIdentity,
        legacy: SessionKey,
        public_computer: bool,
        return_path: &str,
    ) -> PageResponse {
        let t = self.pages.texts();
        let gone = || {
            self.pages.refusal(
                StatusCode::BAD_REQUEST,
                t.need_legacy_title,
                t.need_legacy_text,
                "legacy-session-gone",
            )
        };
        let record = match self.store.get_session(&legacy).await {
            Ok(Some(r)) if !r.is_expired(self.clock.now()) => r,
            Ok(_) => return gone(),
            Err(e) => {
                tracing::error!(error = %e, "link flow: cannot read the legacy session");
                return self.store_problem();
            }
        };
        let (AuthMethod::Legacy, Some(login)) = (record.auth_method, record.diary_login.clone())
        else {
            return gone();
        };
        let oid = identity.oid;
        let level = Some(identity.level.clone());
        let role = record.diary_role.clone();
        // No client address here: the callback came from ESIA's redirect.
        let ip = None;
        if !self
            .settings
            .levels
            .allows(role.as_deref(), level.as_deref())
        {
            let needed = self.settings.levels.required(role.as_deref()).to_owned();
            self.audit(
                AuditKind::LevelRefused,
                Some(oid),
                Some(&login),
                ip,
                json!({ "role": role, "level": level, "needed": needed, "flow": "legacy" }),
            )
            .await;
            return self.pages.level(role.as_deref(), level.as_deref(), &needed);
        }
        // Issue 12: the ESIA person must be the legacy session's diary person.
        let diary = self
            .diary_side(None, role.as_deref(), &self.jar_of(&record))
            .await;
        let flagged = match self
            .check_person(oid, &login, identity.person.as_ref(), &diary, "legacy", ip)
            .await
        {
            Ok(flagged) => flagged,
            Err(page) => return page,
        };
        // Issue 15: never bind silently — the ESIA account in this browser may be
        // someone else's. The binding waits, with the legacy session, for the user's
        // «Привязать» on the confirmation page.
        let pending = PendingLink {
            oid,
            level: identity.level.clone(),
            esia_name: identity
                .person
                .as_ref()
                .and_then(|p| p.display_name.clone()),
            diary_name: diary.name.clone(),
            flagged,
            public_computer,
            return_path: return_path.to_owned(),
            created_at: self.clock.now().timestamp(),
        };
        if let Err(e) = self
            .store
            .set_session_person(&legacy, Some(&pending.to_json()))
            .await
        {
            tracing::error!(error = %e, "cannot keep the link awaiting confirmation");
            return self.store_problem();
        }
        redirect(&format!("{}link/confirm", self.prefix))
    }

    /// The binding the user confirmed: bind, move the legacy session's jar (and the
    /// password it typed) to a new ESIA session, end the legacy session.
    pub(super) async fn complete_flow_b(
        &self,
        record: crate::store::SessionRecord,
        login: String,
        pending: PendingLink,
    ) -> PageResponse {
        let legacy = record.key;
        // Sessions made before the legacy login stored the normal form.
        let login = self.diary.rules.login_key(&login);
        let role = record.diary_role.clone();
        let (oid, level, flagged) = (pending.oid, Some(pending.level.clone()), pending.flagged);
        let ip = None;
        if let Err(page) = self
            .bind(oid, &login, role.as_deref(), level.as_deref(), ip)
            .await
        {
            return page;
        }
        self.flag_binding(&login, flagged).await;
        let mut jar = self
            .vault
            .as_ref()
            .map(|v| jar_store::open(v, &legacy, record.diary_cookies.as_deref()));
        // The password the legacy login typed goes to the vault with the binding, so
        // the next Госуслуги login signs in without asking for it (issue 15).
        if let (Some(vault), Some(password)) =
            (&self.vault, jar.as_mut().and_then(|j| j.take_credential()))
            && let Err(e) = vault.put(&login, &password).await
        {
            tracing::error!(error = %e, "cannot store the diary password after linking");
        }
        let new = esia_session(
            pending.public_computer,
            oid,
            level.clone(),
            &login,
            role.clone(),
        );
        let accounts = self.bindings_of(oid).await.map(|b| b.len()).unwrap_or(1);
        let cookie = match self.start_session(None, new, jar.as_ref(), accounts).await {
            Ok(c) => c,
            Err(page) => return page,
        };
        // The legacy session ends: its cookies now belong to the ESIA session.
        if let Err(e) = self.store.delete_session(&legacy).await {
            tracing::warn!(error = %e, "cannot end the legacy session after linking");
        }
        self.sessions.forget_cached(&legacy).await;
        self.audit(
            AuditKind::Link,
            Some(oid),
            Some(&login),
            ip,
            json!({ "flow": "legacy", "role": role, "level": level, "flagged": flagged }),
        )
        .await;
        tracing::info!(oid, login = %login, "ESIA account linked from a legacy session");
        with_cookie(redirect(&pending.return_path), cookie)
    }
}

impl LinkCallback for Link {
    fn complete_link<'a>(
        &'a self,
        identity: &'a EsiaIdentity,
        legacy_session: SessionKey,
        public_computer: bool,
        return_path: &'a str,
    ) -> BoxFuture<'a, PageResponse> {
        Box::pin(self.finish_flow_b(identity, legacy_session, public_computer, return_path))
    }

    fn end_diary_session<'a>(&'a self, session_cookie: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(self.logout_diary(session_cookie))
    }
}
