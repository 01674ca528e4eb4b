//! Flow A (seed 000, variant 2): an ESIA session without a binding gets the page
//! «Учетная запись Госуслуг не привязана к электронному дневнику» with the form
//! «Найти существующего пользователя» (`login`, `password`, «Прикрепить»).
//!
//! The POST is a password oracle for the diary, so before anything else it is limited
//! per ESIA account and per client address (counted in the store, so every replica
//! shares the count) and answered with 429 and the wait time over the limit. The
//! password is checked against the diary's real login form; only then are conflicts
//! looked at (a refusal must not tell a stranger which diary logins are linked).

use std::net::IpAddr;

use http::{Request, StatusCode};
use serde_json::json;

use super::Link;
use super::identity::{esia_session, record_of, with_cookie};
use super::pages::FormState;
use crate::diary::jar::Jar;
use crate::diary::signin::LoginOutcome;
use crate::login::ActiveSession;
use crate::login::return_path::safe_return_path;
use crate::pages::{PageResponse, redirect};
use crate::secret::Secret;
use crate::session::tokens_equal;
use crate::store::{AuditKind, Binding, Conflict, StoreError};

/// Largest link form body read.
const MAX_FORM_BYTES: usize = 8 * 1024;
/// Longest diary login and password accepted (the diary's own limits are smaller).
const MAX_LOGIN: usize = 256;
const MAX_PASSWORD: usize = 1024;

/// The fields of a posted form, each present exactly once or treated as missing.
pub(super) struct Fields(Vec<(String, String)>);

impl Fields {
    pub(super) fn parse(body: &[u8]) -> Self {
        Self(
            url::form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The value of `name` when it appears exactly once.
    pub(super) fn single(&self, name: &str) -> Option<&str> {
        let mut found = self.0.iter().filter(|(k, _)| k == name);
        let first = found.next()?;
        found.next().is_none().then_some(first.1.as_str())
    }
}

/// Reads a small form body; `None` when too large, broken, or not complete within
/// the request's [`crate::body::read_timeout`].
pub(super) async fn read_body<B>(
    body: B,
    extensions: &http::Extensions,
    limit: usize,
) -> Option<bytes::Bytes>
where
    B: http_body::Body + Unpin,
{
    crate::body::read_within(body, limit, crate::body::read_timeout(extensions))
        .await
        .ok()
}

fn return_param(query: Option<&str>) -> String {
    crate::login::single_param(query, "return")
        .map(|r| safe_return_path(&r))
        .unwrap_or_else(|| "/".to_owned())
}

impl Link {
    /// `GET <prefix>link?return=…[&login=…][&add=1]`: `login` names one of the person's
    /// diary accounts whose password is needed again; `add=1` links one more diary
    /// account to a session already signed into another.
    pub(super) async fn link_form_page<B>(
        &self,
        req: &Request<B>,
        session: Option<ActiveSession>,
    ) -> PageResponse {
        let query = req.uri().query();
        let return_path = return_param(query);
        let Some(s) = session else {
            return redirect(&self.start_url(&return_path));
        };
        if s.auth_method == "legacy" {
            return redirect(&format!("{}link/start", self.prefix));
        }
        let adding = crate::login::single_param(query, "add").as_deref() == Some("1");
        let asked = crate::login::single_param(query, "login");
        let bindings = match s.esia_oid {
            Some(oid) => self.store.bindings_of_oid(oid).await.unwrap_or_default(),
            None => Vec::new(),
        };
        // One of the person's own accounts whose password is needed again (a stale one
        // picked on the chooser) is asked for even from a session signed into another.
        let relinking = asked
            .as_deref()
            .is_some_and(|l| bindings.iter().any(|b| b.diary_login == l));
        if s.diary_login.is_some() && !adding && !relinking {
            return redirect(&return_path);
        }
        let t = self.pages.texts();
        // Prefilled only with a login this person holds: never another's.
        let known = match asked.as_deref() {
            Some(l) => bindings.iter().find(|b| b.diary_login == l),
            None if !adding && bindings.len() == 1 => bindings.first(),
            None => None,
        };
        let (login, notice) = match known {
            Some(b) if b.stale => (b.diary_login.clone(), Some(t.stale_notice)),
            Some(b) => (b.diary_login.clone(), Some(t.password_again_notice)),
            None => (String::new(), adding.then_some(t.add_account_notice)),
        };
        let esia_name = match record_of(&self.sessions, &s.cookie).await {
            Some((_, record)) => self
                .esia_person_of(&record.key)
                .await
                .and_then(|p| p.display_name),
            None => None,
        };
        self.pages.form(
            StatusCode::OK,
            &FormState {
                csrf: &s.csrf_token,
                return_path: &return_path,
                login: &login,
                error: None,
                notice,
                esia_name: esia_name.as_deref(),
                adding,
            },
        )
    }

    /// `POST <prefix>link`: check, limit, sign in, bind, sign the user in.
    pub(super) async fn link_submit<B>(
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
        let t = self.pages.texts();
        let (s, oid, fields) = match self.esia_form(req, session, MAX_FORM_BYTES).await {
            Ok(posted) => posted,
            Err(page) => return page,
        };
        let return_path = safe_return_path(fields.single("return").unwrap_or("/"));
        let login = fields.single("login").unwrap_or("").trim().to_owned();
        let adding = fields.single("add") == Some("1");
        let form = |status, error| {
            self.pages.form(
                status,
                &FormState {
                    csrf: &s.csrf_token,
                    return_path: &return_path,
                    login: &login,
                    error: Some(error),
                    notice: None,
                    esia_name: None,
                    adding,
                },
            )
        };
        let csrf_ok = fields
            .single("csrf")
            .is_some_and(|c| tokens_equal(c, &s.csrf_token));
        if !csrf_ok {
            tracing::warn!(oid, "link form refused: bad or missing CSRF token");
            return form(StatusCode::FORBIDDEN, t.csrf_expired);
        }
        let limits = self.link_form_limits(oid, ip);
        if let Some(page) = self
            .over_limit(&limits, Some(oid), ip, "link-rate-limited")
            .await
        {
            return page;
        }
        let password = fields.single("password").unwrap_or("");
        if login.is_empty()
            || login.len() > MAX_LOGIN
            || login.chars().any(char::is_control)
            || password.is_empty()
            || password.len() > MAX_PASSWORD
        {
            return form(StatusCode::UNAUTHORIZED, t.wrong_password);
        }
        let password = Secret::new(password);
        // One normal form for the binding (case-insensitive diaries), so uniqueness holds.
        let login = self.diary.rules.login_key(&login);
        let mut jar = Jar::new();
        // Positive evidence only: the diary, asked afterwards, serves this login.
        let (role, user) = match self.diary_sign_in(&login, &password, &mut jar).await {
            Ok(s) if s.outcome == LoginOutcome::SignedIn => {
                self.prelogin.learn(&jar);
                (s.user.as_ref().and_then(|u| u.role.clone()), s.user)
            }
            Ok(s) if s.outcome == LoginOutcome::WrongPassword => {
                // Only failures count: a first-time user with the right password is
                // never held back by the typos of others behind the same address.
                self.count_failure(&limits).await;
                self.audit(
                    AuditKind::LinkFailed,
                    Some(oid),
                    Some(&login),
                    Some(ip),
                    json!({ "reason": "wrong-password" }),
                )
                .await;
                return form(StatusCode::UNAUTHORIZED, t.wrong_password);
            }
            Ok(s) => return self.diary_refused(s.outcome),
            Err(e) => return self.diary_problem(&e),
        };
        let level = s.account_level.clone();
        if let Err(page) = self
            .check_level(oid, &login, role.as_deref(), level.as_deref(), ip)
            .await
        {
            return page;
        }
        // Issue 12: the ESIA person must be the diary account's person.
        let previous = record_of(&self.sessions, &s.cookie).await;
        let esia = match &previous {
            Some((_, record)) => self.esia_person_of(&record.key).await,
            None => None,
        };
        let diary = self.diary_side(user, role.as_deref(), &jar).await;
        let flagged = match self
            .check_person(oid, &login, esia.as_ref(), &diary, "form", Some(ip))
            .await
        {
            Ok(flagged) => flagged,
            Err(page) => {
                // The password was right, but it is not this person's: as a failure.
                self.count_failure(&limits).await;
                return page;
            }
        };
        if let Err(page) = self
            .bind(oid, &login, role.as_deref(), level.as_deref(), Some(ip))
            .await
        {
            return page;
        }
        self.flag_binding(&login, flagged).await;
        if let Some(vault) = &self.vault
            && self.form_mode()
            && let Err(e) = vault.put(&login, &password).await
        {
            tracing::error!(error = %e, "cannot store the diary password");
            return self.store_problem();
        }
        // Linked from a session signed into another account (add mode): that diary
        // session ends with the gateway session it belonged to.
        if s.diary_login.is_some() {
            self.logout_diary(&s.cookie).await;
        }
        let previous = previous.map(|(id, _)| id);
        let new = esia_session(s.public_computer, oid, level.clone(), &login, role.clone());
        let accounts = self.bindings_of(oid).await.map(|b| b.len()).unwrap_or(1);
        let cookie = match self
            .start_session(previous.as_ref(), new, Some(&jar), accounts)
            .await
        {
            Ok(c) => c,
            Err(page) => return page,
        };
        self.audit(
            AuditKind::Link,
            Some(oid),
            Some(&login),
            Some(ip),
            json!({ "flow": "form", "role": role, "level": level, "flagged": flagged }),
        )
        .await;
        tracing::info!(oid, login = %login, role = ?role, "ESIA account linked");
        with_cookie(redirect(&return_path), cookie)
    }

    /// Saves the binding (or revives this OID's own stale one); conflicts become pages.
    pub(super) async fn bind(
        &self,
        oid: i64,
        login: &str,
        role: Option<&str>,
        level: Option<&str>,
        ip: Option<IpAddr>,
    ) -> Result<(), PageResponse> {
        let now = self.clock.now();
        let conflict = match self.store.binding_by_login(login).await {
            // This person's own binding (stale, or linked again): revived.
            Ok(Some(b)) if b.esia_oid == oid => {
                let revived = self.store.set_binding_stale(login, false).await;
                let used = self.store.record_binding_use(login, role, level, now).await;
                return match revived.and(used) {
                    Ok(_) => Ok(()),
                    Err(e) => {
                        tracing::error!(error = %e, "cannot update the binding");
                        Err(self.store_problem())
                    }
                };
            }
            Ok(Some(_)) => Conflict::LoginTaken,
            Ok(None) => {
                // Several diary accounts per person, up to the cap (two links racing
                // on two replicas may pass it by one: a soft cap, not a key).
                let held = self.bindings_of(oid).await?.len();
                if held >= self.settings.max_diary_accounts {
                    return Err(self.too_many_accounts(oid, login, ip).await);
                }
                let binding = Binding {
                    esia_oid: oid,
                    diary_login: login.to_owned(),
                    diary_role: role.map(str::to_owned),
                    account_level: level.map(str::to_owned),
                    created_at: now,
                    last_used_at: now,
                    stale: false,
                };
                match self.store.create_binding(&binding).await {
                    Ok(()) => return Ok(()),
                    Err(StoreError::Conflict(c)) => c,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot save the binding");
                        return Err(self.store_problem());
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "binding lookup failed");
                return Err(self.store_problem());
            }
        };
        let t = self.pages.texts();
        let Conflict::LoginTaken = conflict;
        let refusal = (
            t.login_taken_title,
            t.login_taken_text,
            "login-already-linked",
        );
        Err(self.refuse_binding(oid, login, ip, refusal).await)
    }

    /// The person already holds `[linking] max_diary_accounts` bindings.
    async fn too_many_accounts(&self, oid: i64, login: &str, ip: Option<IpAddr>) -> PageResponse {
        let t = self.pages.texts();
        let max = self.settings.max_diary_accounts.to_string();
        let text = t.too_many_text.replace("{max}", &max);
        let refusal = (t.too_many_title, text.as_str(), "too-many-diary-accounts");
        self.refuse_binding(oid, login, ip, refusal).await
    }

    /// A binding refused: audited with its code, answered 409 with (title, text, code).
    async fn refuse_binding(
        &self,
        oid: i64,
        login: &str,
        ip: Option<IpAddr>,
        (title, text, code): (&str, &str, &str),
    ) -> PageResponse {
        self.audit(
            AuditKind::LinkFailed,
            Some(oid),
            Some(login),
            ip,
            json!({ "reason": code }),
        )
        .await;
        self.pages.refusal(StatusCode::CONFLICT, title, text, code)
    }

    /// A form posted by an ESIA session: the session, its OID and the fields (at most
    /// `limit` bytes, read within the body timeout); anyone else goes to the ESIA login.
    pub(super) async fn esia_form<B>(
        &self,
        req: Request<B>,
        session: Option<ActiveSession>,
        limit: usize,
    ) -> Result<(ActiveSession, i64, Fields), PageResponse>
    where
        B: http_body::Body + Send + Unpin,
    {
        let Some((s, oid)) = session
            .filter(|s| s.auth_method == "esia")
            .and_then(|s| s.esia_oid.map(|oid| (s, oid)))
        else {
            return Err(redirect(&self.start_url("/")));
        };
        let (parts, body) = req.into_parts();
        let fields = Fields::parse(
            &read_body(body, &parts.extensions, limit)
                .await
                .unwrap_or_default(),
        );
        Ok((s, oid, fields))
    }

    /// 429 when this ESIA account or this address used up its attempts; otherwise the
    /// attempt is counted and `None` returned.
    /// `<prefix>start?return=…`
    pub(super) fn start_url(&self, return_path: &str) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        s.append_pair("return", return_path);
        format!("{}start?{}", self.prefix, s.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::Fields;

    #[test]
    fn fields_refuse_duplicates() {
        let f = Fields::parse(b"login=a&password=p&csrf=x&csrf=y");
        assert_eq!(f.single("login"), Some("a"));
        assert_eq!(f.single("csrf"), None);
        assert_eq!(f.single("missing"), None);
    }
}
