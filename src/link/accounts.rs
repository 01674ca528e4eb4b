//! Several diary accounts for one ESIA account (issue 15 point 8): a parent with
//! children in two schools holds one diary account per school. After an ESIA login
//! with more than one binding the person picks the account (`GET <prefix>accounts`,
//! «Выберите учетную запись дневника»); the diary's pages then carry a switcher
//! («Учетная запись дневника: … · Сменить») back to the same page. «Привязать еще одну
//! учетную запись дневника» opens the link form in its `add=1` mode.
//!
//! Choosing is a change of identity, so it goes through a fresh session id (DESIGN §3a):
//! the old session and its diary session end, the new one keeps the ESIA login's time,
//! lifetime, logout hint and ESIA facts, and is signed into the chosen diary account
//! exactly as a single binding is ([`Link::sign_in_as`]). Only bindings of the
//! session's own OID can be chosen; the choice is a CSRF-checked POST.

use std::net::IpAddr;
use std::time::Duration;

use http::{HeaderValue, Request, StatusCode};

use super::identity::{record_of, with_cookie};
use super::pages::AccountChoice;
use super::{Link, link_url_for};
use crate::login::ActiveSession;
use crate::login::cookies;
use crate::login::return_path::safe_return_path;
use crate::pages::{PageResponse, redirect};
use crate::session::{NewSession, SessionId, tokens_equal};
use crate::store::{AuthMethod, SessionRecord};

/// Largest chooser form body read.
const MAX_FORM_BYTES: usize = 4 * 1024;

impl Link {
    /// `<prefix>accounts?return=…`
    pub(super) fn accounts_url(&self, return_path: &str) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        s.append_pair("return", return_path);
        format!("{}accounts?{}", self.prefix, s.finish())
    }

    /// `GET <prefix>accounts?return=…`: the chooser.
    pub(super) async fn accounts_page<B>(
        &self,
        req: &Request<B>,
        session: Option<ActiveSession>,
    ) -> PageResponse {
        let return_path = crate::login::single_param(req.uri().query(), "return")
            .map(|r| safe_return_path(&r))
            .unwrap_or_else(|| "/".to_owned());
        let Some(s) = session else {
            return redirect(&self.start_url(&return_path));
        };
        // A password session stands for one diary account: nothing to choose.
        let (Some(oid), "esia") = (s.esia_oid, s.auth_method) else {
            return redirect(&return_path);
        };
        let bindings = match self.bindings_of(oid).await {
            Ok(b) => b,
            Err(page) => return page,
        };
        if bindings.is_empty() {
            return redirect(&link_url_for(&self.prefix, &return_path, None));
        }
        let choices: Vec<AccountChoice> = bindings
            .iter()
            .map(|b| AccountChoice {
                login: b.diary_login.clone(),
                role: self.pages.role_name(b.diary_role.as_deref()),
                current: s.diary_login.as_deref() == Some(b.diary_login.as_str()),
                stale: b.stale,
            })
            .collect();
        let add_url = (bindings.len() < self.settings.max_diary_accounts).then(|| {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            q.append_pair("add", "1");
            q.append_pair("return", &return_path);
            format!("{}link?{}", self.prefix, q.finish())
        });
        self.pages
            .choose(&choices, &s.csrf_token, &return_path, add_url.as_deref())
    }

    /// `POST <prefix>accounts` (`csrf`, `login`, `return`): signs into the chosen account.
    pub(super) async fn accounts_choose<B>(
        &self,
        req: Request<B>,
        session: Option<ActiveSession>,
        ip: IpAddr,
    ) -> PageResponse
    where
        B: http_body::Body + Send + Unpin,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (s, oid, fields) = match self.esia_form(req, session, MAX_FORM_BYTES).await {
            Ok(posted) => posted,
            Err(page) => return page,
        };
        let return_path = safe_return_path(fields.single("return").unwrap_or("/"));
        let csrf_ok = fields
            .single("csrf")
            .is_some_and(|c| tokens_equal(c, &s.csrf_token));
        if !csrf_ok {
            tracing::warn!(oid, "account choice refused: bad or missing CSRF token");
            let t = self.pages.texts();
            return self.pages.refusal(
                StatusCode::FORBIDDEN,
                t.accounts_title,
                t.csrf_expired,
                "csrf-expired",
            );
        }
        let bindings = match self.bindings_of(oid).await {
            Ok(b) => b,
            Err(page) => return page,
        };
        // Only this person's own diary accounts; anything else shows the list again.
        let Some(binding) = fields
            .single("login")
            .and_then(|l| bindings.iter().find(|b| b.diary_login == l))
        else {
            tracing::warn!(
                oid,
                "account choice names a diary account this OID does not hold"
            );
            return redirect(&self.accounts_url(&return_path));
        };
        if binding.stale {
            let login = Some(binding.diary_login.as_str());
            return redirect(&link_url_for(&self.prefix, &return_path, login));
        }
        if s.diary_login.as_deref() == Some(binding.diary_login.as_str()) {
            return redirect(&return_path);
        }
        let Some((old_id, old)) = record_of(&self.sessions, &s.cookie).await else {
            return redirect(&self.start_url(&return_path));
        };
        // The diary session of the account left behind ends with it.
        self.logout_diary(&s.cookie).await;
        let (id, record) = match self.restart_esia_session(&old_id, &old).await {
            Ok(started) => started,
            Err(page) => return page,
        };
        let cookie = match self.cookie_for(&id, &record) {
            Some(c) => c,
            None => return self.store_problem(),
        };
        let page = match self
            .sign_in_as(record, binding, bindings.len(), &return_path, ip)
            .await
        {
            Ok(_) => redirect(&return_path),
            // The level page or the link form; the new session is the browser's now.
            Err(page) => page,
        };
        with_cookie(page, cookie)
    }

    /// A new session (fresh id; `old` ends) for the same ESIA login, not yet signed into
    /// a diary account: the login's time, lifetime, logout hint and ESIA facts carry over
    /// (a switch does not make a login younger).
    async fn restart_esia_session(
        &self,
        old_id: &SessionId,
        old: &SessionRecord,
    ) -> Result<(SessionId, SessionRecord), PageResponse> {
        let person = match self.store.session_person(&old.key).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the session's ESIA facts");
                None
            }
        };
        let new = NewSession {
            auth_method: AuthMethod::Esia,
            public_computer: old.public_computer,
            esia_oid: old.esia_oid,
            account_level: old.account_level.clone(),
            diary_login: None,
            diary_role: None,
        };
        let (id, started) = self.sessions.start(Some(old_id), new).await.map_err(|e| {
            tracing::error!(error = %e, "cannot start the session");
            self.store_problem()
        })?;
        let mut record = (*started).clone();
        record.authenticated_at = old.authenticated_at;
        record.absolute_expiry = record.absolute_expiry.min(old.absolute_expiry);
        record.esia_id_token_hint = old.esia_id_token_hint.clone();
        if let Err(e) = self.sessions.update(record.clone()).await {
            tracing::error!(error = %e, "cannot save the new session");
            return Err(self.store_problem());
        }
        if let Some(p) = person
            && let Err(e) = self.store.set_session_person(&record.key, Some(&p)).await
        {
            tracing::warn!(error = %e, "cannot keep the session's ESIA facts");
        }
        Ok((id, record))
    }

    /// The `Set-Cookie` value for session `id` (persistent unless on a public computer).
    pub(super) fn cookie_for(&self, id: &SessionId, record: &SessionRecord) -> Option<HeaderValue> {
        let max_age = (!record.public_computer).then(|| {
            let left = (record.absolute_expiry - self.clock.now()).num_seconds();
            Duration::from_secs(u64::try_from(left).unwrap_or(0))
        });
        let value = cookies::set_cookie(&self.session_cookie, &id.cookie_value(), max_age);
        HeaderValue::from_str(&value).ok()
    }
}
