//! The diary identity of an ESIA session: binding by OID → (form mode) password from
//! the vault → the diary's own login form → role probe → level check → the session
//! learns its diary login, role and jar. Also the shared pieces every flow ends with:
//! starting a session with a fresh id and the sign-in from the vault.

use std::net::IpAddr;
use std::sync::Arc;

use http::{HeaderValue, StatusCode, header};
use serde_json::json;

use super::{Link, jar_store, link_url, link_url_for};
use crate::diary::jar::Jar;
use crate::diary::signin::{self, DiaryError, LoginOutcome};
use crate::pages::{PageResponse, redirect};
use crate::session::{NewSession, SessionId};
use crate::store::{AuditKind, AuthMethod, Binding, SessionRecord};

/// Why the diary could not be signed into from the vault.
pub(super) enum VaultSignIn {
    SignedIn {
        jar: Jar,
        role: Option<String>,
    },
    /// No stored password (a Flow B binding, or a vault write that failed).
    NoPassword,
    /// The diary refused the stored password: it was changed.
    WrongPassword,
    Failed(PageResponse),
}

impl Link {
    /// Gives an ESIA session without a diary login its diary identity, or the page the
    /// user must see instead (link form, account chooser, level page, failure).
    pub(super) async fn establish(
        &self,
        record: SessionRecord,
        return_path: &str,
        ip: IpAddr,
    ) -> Result<SessionRecord, PageResponse> {
        let to_link = || redirect(&link_url(&self.prefix, return_path));
        let Some(oid) = record.esia_oid else {
            return Err(to_link());
        };
        let mut bindings = self.bindings_of(oid).await?;
        match bindings.len() {
            // Several diary accounts: the person says which, every time (a parent's two
            // children are not guessed between).
            2.. => Err(redirect(&self.accounts_url(return_path))),
            1 if !bindings[0].stale => {
                let binding = bindings.remove(0);
                self.sign_in_as(record, &binding, 1, return_path, ip).await
            }
            _ => Err(to_link()),
        }
    }

    /// The ESIA account's bindings, the one used last first; a store failure is a page.
    pub(super) async fn bindings_of(&self, oid: i64) -> Result<Vec<Binding>, PageResponse> {
        self.store.bindings_of_oid(oid).await.map_err(|e| {
            tracing::error!(error = %e, "binding lookup failed");
            self.store_problem()
        })
    }

    /// Signs the ESIA session `record` into the diary as `binding` (form mode: with the
    /// vaulted password; a refused one makes the binding stale and sends the user to
    /// the link form), checks the level for the role and saves the session's diary
    /// identity. `accounts`: how many diary accounts the person has (the switcher).
    pub(super) async fn sign_in_as(
        &self,
        mut record: SessionRecord,
        binding: &Binding,
        accounts: usize,
        return_path: &str,
        ip: IpAddr,
    ) -> Result<SessionRecord, PageResponse> {
        // The link form for this diary account: its password is needed once more.
        let to_link = || {
            redirect(&link_url_for(
                &self.prefix,
                return_path,
                Some(&binding.diary_login),
            ))
        };
        let oid = binding.esia_oid;
        let level = record.account_level.clone();
        // Refused early when the cached role already says so: no diary sign-in needed.
        if binding.diary_role.is_some()
            && let Err(page) = self
                .check_level(
                    oid,
                    &binding.diary_login,
                    binding.diary_role.as_deref(),
                    level.as_deref(),
                    ip,
                )
                .await
        {
            return Err(page);
        }
        let mut role = binding.diary_role.clone();
        let mut jar = None;
        if self.form_mode() {
            match self.sign_in_from_vault(&binding.diary_login).await {
                VaultSignIn::SignedIn { jar: j, role: r } => {
                    jar = Some(j);
                    role = r.or(role);
                }
                VaultSignIn::NoPassword => return Err(to_link()),
                VaultSignIn::WrongPassword => {
                    self.mark_stale(oid, &binding.diary_login, ip).await;
                    return Err(to_link());
                }
                VaultSignIn::Failed(page) => return Err(page),
            }
        }
        // Always, whatever the mode: an unknown role needs the strictest level.
        self.check_level(
            oid,
            &binding.diary_login,
            role.as_deref(),
            level.as_deref(),
            ip,
        )
        .await?;
        record.diary_login = Some(binding.diary_login.clone());
        record.diary_role = role.clone();
        record.diary_accounts = u32::try_from(accounts).unwrap_or(u32::MAX);
        if let (Some(vault), Some(jar)) = (&self.vault, &jar) {
            record.diary_cookies = jar_store::seal(vault, &record.key, jar);
        }
        if let Err(e) = self.sessions.update(record.clone()).await {
            tracing::error!(error = %e, "cannot save the session's diary identity");
            return Err(self.store_problem());
        }
        let now = self.clock.now();
        if let Err(e) = self
            .store
            .record_binding_use(&binding.diary_login, role.as_deref(), level.as_deref(), now)
            .await
        {
            tracing::warn!(error = %e, "cannot record the binding's use");
        }
        // Not `login`: the ESIA login itself is audited by the login pages; this is
        // the gateway signing that user into the diary.
        self.audit(
            AuditKind::Other("diary_sign_in".into()),
            Some(oid),
            Some(&binding.diary_login),
            Some(ip),
            json!({ "method": "esia", "diary": if self.form_mode() { "form" } else { "header" },
                    "role": role, "level": level }),
        )
        .await;
        Ok(record)
    }

    /// `Err(level page)` when `level` is below what `role` needs; audited.
    pub(super) async fn check_level(
        &self,
        oid: i64,
        login: &str,
        role: Option<&str>,
        level: Option<&str>,
        ip: IpAddr,
    ) -> Result<(), PageResponse> {
        if self.settings.levels.allows(role, level) {
            return Ok(());
        }
        let needed = self.settings.levels.required(role).to_owned();
        tracing::info!(oid, role, level, needed = %needed, "account level too low for the role");
        self.audit(
            AuditKind::LevelRefused,
            Some(oid),
            Some(login),
            Some(ip),
            json!({ "role": role, "level": level, "needed": needed }),
        )
        .await;
        Err(self.pages.level(role, level, &needed))
    }

    /// Signs into the diary with the vaulted password; a fresh jar and the probed role.
    pub(super) async fn sign_in_from_vault(&self, login: &str) -> VaultSignIn {
        let Some(vault) = &self.vault else {
            return VaultSignIn::NoPassword;
        };
        let password = match vault.get(login).await {
            Ok(Some(p)) => p,
            Ok(None) => return VaultSignIn::NoPassword,
            Err(e) => {
                tracing::error!(login, error = %e, "vault entry cannot be read");
                return VaultSignIn::NoPassword;
            }
        };
        let mut jar = Jar::new();
        match self.diary_sign_in(login, &password, &mut jar).await {
            Ok(s) if s.outcome == LoginOutcome::SignedIn => {
                self.prelogin.learn(&jar);
                VaultSignIn::SignedIn {
                    jar,
                    role: s.user.and_then(|u| u.role),
                }
            }
            Ok(s) if s.outcome == LoginOutcome::WrongPassword => VaultSignIn::WrongPassword,
            Ok(s) => VaultSignIn::Failed(self.diary_refused(s.outcome)),
            Err(e) => VaultSignIn::Failed(self.diary_problem(&e)),
        }
    }

    pub(super) async fn diary_sign_in(
        &self,
        login: &str,
        password: &crate::secret::Secret,
        jar: &mut Jar,
    ) -> Result<signin::SignedIn, DiaryError> {
        let host = self.http.host();
        signin::sign_in(
            &self.http,
            &self.diary.rules,
            &host,
            login,
            password,
            jar,
            self.clock.now(),
        )
        .await
    }

    /// The diary refused the vaulted password: the binding is stale until linked again.
    pub(super) async fn mark_stale(&self, oid: i64, login: &str, ip: IpAddr) {
        if let Err(e) = self.store.set_binding_stale(login, true).await {
            tracing::error!(error = %e, "cannot mark the binding stale");
        }
        tracing::info!(
            oid,
            login,
            "diary refused the stored password; binding stale"
        );
        self.audit(
            AuditKind::BindingStale,
            Some(oid),
            Some(login),
            Some(ip),
            json!({}),
        )
        .await;
    }

    /// A new session (fresh id; `previous` ended first) with its jar; returns the
    /// `Set-Cookie` value for the browser. `accounts`: the person's diary accounts after
    /// this link (more than one shows the switcher).
    pub(super) async fn start_session(
        &self,
        previous: Option<&SessionId>,
        new: NewSession,
        jar: Option<&Jar>,
        accounts: usize,
    ) -> Result<HeaderValue, PageResponse> {
        let (id, record) = match self.sessions.start(previous, new).await {
            Ok(started) => started,
            Err(e) => {
                tracing::error!(error = %e, "cannot start the session");
                return Err(self.store_problem());
            }
        };
        if accounts > 1 {
            let mut several = (*record).clone();
            several.diary_accounts = u32::try_from(accounts).unwrap_or(u32::MAX);
            if let Err(e) = self.sessions.update(several).await {
                tracing::warn!(error = %e, "cannot note the session's diary accounts");
            }
        }
        if let Some(jar) = jar
            && let Err(e) = self.keep_jar(&record.key, jar).await
        {
            tracing::error!(error = %e, "cannot save the diary cookie jar");
            return Err(self.store_problem());
        }
        self.cookie_for(&id, &record)
            .ok_or_else(|| self.store_problem())
    }

    pub(super) fn store_problem(&self) -> PageResponse {
        self.pages.store_problem()
    }

    pub(super) fn diary_problem(&self, e: &DiaryError) -> PageResponse {
        tracing::warn!(error = %e, "signing into the diary failed");
        let t = self.pages.texts();
        let status = match e {
            DiaryError::Timeout => StatusCode::GATEWAY_TIMEOUT,
            _ => StatusCode::BAD_GATEWAY,
        };
        self.pages.refusal(
            status,
            t.diary_down_title,
            t.diary_down_text,
            "diary-unavailable",
        )
    }

    pub(super) fn diary_refused(&self, outcome: LoginOutcome) -> PageResponse {
        tracing::warn!(
            ?outcome,
            "the diary's answer to the login form was not a success"
        );
        let t = self.pages.texts();
        self.pages.refusal(
            StatusCode::BAD_GATEWAY,
            t.diary_down_title,
            t.diary_refused_text,
            "diary-login-refused",
        )
    }
}

/// A session as the store has it, for a cookie value.
pub(super) async fn record_of(
    sessions: &Arc<crate::session::Sessions>,
    cookie: &str,
) -> Option<(SessionId, SessionRecord)> {
    let id = SessionId::parse(cookie).ok()?;
    match sessions.get(&id).await {
        Ok(Some(r)) => Some((id, (*r).clone())),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(error = %e, "session lookup failed");
            None
        }
    }
}

/// Appends a `Set-Cookie` to a page.
pub(super) fn with_cookie(mut page: PageResponse, cookie: HeaderValue) -> PageResponse {
    page.headers_mut().append(header::SET_COOKIE, cookie);
    page
}

/// The `NewSession` of an ESIA user with a diary identity.
pub(super) fn esia_session(
    public_computer: bool,
    oid: i64,
    level: Option<String>,
    login: &str,
    role: Option<String>,
) -> NewSession {
    NewSession {
        auth_method: AuthMethod::Esia,
        public_computer,
        esia_oid: Some(oid),
        account_level: level,
        diary_login: Some(login.to_owned()),
        diary_role: role,
    }
}
