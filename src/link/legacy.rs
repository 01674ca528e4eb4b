//! The diary's own forms, seen from the gateway:
//!
//! - **Legacy login.** A browser POST to any of the diary's login endpoints is read as
//!   the diary reads it ([`crate::diary::form`]: urlencoded and multipart, PHP's name
//!   rules); a login field the gateway cannot attribute unambiguously is refused with 400
//!   and never forwarded. The pre-login jar's cookies go with it. On the diary's answer
//!   the probe is asked who is signed in: only when it names the login the form did does
//!   the gateway record a legacy session (role from the probe) with the diary's cookies
//!   in its jar; another user → no session, audited; nobody → the diary's answer as is.
//! - **Diary logout.** Any of the diary's logout endpoints ends the diary session (forwarded with
//!   the jar) and then does the gateway's single logout: session ended, browser sent to
//!   ESIA's logout for ESIA sessions. A cross-site request only gets the confirmation
//!   page (`<prefix>logout`), like `GET /esia/logout`.

use std::net::IpAddr;

use http::header::{CONTENT_TYPE, SET_COOKIE};
use http::{HeaderValue, Request, Response, StatusCode};
use serde_json::json;
use url::Url;

use super::Link;
use super::prelogin::PreLogin;
use crate::body::{self, Body, Outcome};
use crate::diary::form::{LoginPost, read_login_post};
use crate::diary::jar::Jar;
use crate::diary::probe::Probed;
use crate::login::cookies::{clear_cookie, signed_out_cookie};
use crate::login::origin::from_our_pages;
use crate::pages::{PageResponse, redirect};
use crate::policy::CanonicalRequest;
use crate::session::{NewSession, SessionId};
use crate::store::{AuditKind, AuthMethod, SessionRecord};

/// Largest legacy login form body the gateway reads (it must see the login field).
const MAX_LOGIN_FORM: usize = 64 * 1024;

impl Link {
    /// A browser POST to one of the diary's login endpoints: read as the diary reads it.
    /// Continues with the request (body restored), the login it names, and the
    /// pre-login jar; a body the gateway cannot attribute is refused here.
    pub(super) async fn legacy_login(
        &self,
        req: Request<Body>,
        client_ip: IpAddr,
    ) -> Outcome<(Request<Body>, LoginPost, Option<PreLogin>)> {
        let t = self.pages.texts();
        let refuse = |p: PageResponse| Outcome::Answer(p.map(body::boxed));
        if !self.settings.legacy_login {
            return refuse(self.pages.refusal(
                StatusCode::FORBIDDEN,
                t.legacy_closed_title,
                t.legacy_closed_text,
                "legacy-login-disabled",
            ));
        }
        let (mut parts, body) = req.into_parts();
        let timeout = crate::body::read_timeout(&parts.extensions);
        let Ok(bytes) = crate::body::read_within(body, MAX_LOGIN_FORM, timeout).await else {
            return refuse(self.bad_form("legacy login form unreadable or too large"));
        };
        let content_type = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let login = match read_login_post(content_type.as_deref(), &bytes, &self.diary.rules) {
            Ok(Some(post)) => post,
            Ok(None) => {
                // No login field at all: not a sign-in the diary can make either.
                return refuse(self.bad_form("legacy login form without a login field"));
            }
            Err(e) => return refuse(self.bad_form(&e.to_string())),
        };
        // The diary's form is a password oracle too: failures are limited like the
        // link form's (per login and per address), before the diary is asked.
        let limits = self.legacy_login_limits(&login.login, client_ip);
        if let Some(page) = self
            .over_limit(&limits, None, client_ip, "legacy-login-rate-limited")
            .await
        {
            return refuse(page);
        }
        // Read the pre-login cookie before the browser's cookies are dropped.
        let pre = Some(self.prelogin.open(&parts.headers).await);
        self.keep_browser_cookies(&mut parts.headers, None);
        Outcome::Continue((Request::from_parts(parts, body::full(bytes)), login, pre))
    }

    fn bad_form(&self, why: &str) -> PageResponse {
        tracing::warn!(reason = why, "diary login form refused");
        let t = self.pages.texts();
        self.pages.refusal(
            StatusCode::BAD_REQUEST,
            t.diary_down_title,
            t.wrong_password,
            "legacy-login-ambiguous",
        )
    }

    /// The diary answered a legacy login POST. A session is made only when the probe,
    /// asked with the diary's cookies, names the login the form did.
    pub(super) async fn legacy_answer(
        &self,
        mut resp: Response<Body>,
        post: LoginPost,
        previous: Option<SessionId>,
        pre: Option<PreLogin>,
        client_ip: IpAddr,
    ) -> Response<Body> {
        let LoginPost { login, password } = post;
        let rules = &self.diary.rules;
        let now = self.clock.now();
        // Every cookie a login answer sets is the diary's session: never the browser's.
        let set_cookies: Vec<String> = resp
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        resp.headers_mut().remove(SET_COOKIE);
        let mut pre = pre;
        let mut jar = pre.as_ref().map(|p| p.jar.clone()).unwrap_or_default();
        for v in &set_cookies {
            jar.store(v, &rules.login_path, now);
        }
        // No diary cookie at all: nobody can be signed in, no need to ask.
        let probed = if jar.is_empty() {
            Some(Probed::SignedOut)
        } else {
            self.probe_user(&jar).await
        };
        let user = match probed {
            Some(Probed::User(u)) if rules.same_login(&u.login, &login) => u,
            Some(Probed::User(u)) => {
                tracing::warn!(form = %login, served = %u.login,
                    "legacy login: the diary signed in another user than the form named");
                self.audit(
                    AuditKind::Other("identity_mismatch".into()),
                    None,
                    Some(&login),
                    Some(client_ip),
                    json!({ "served": u.login }),
                )
                .await;
                if let Some(p) = &pre {
                    self.prelogin.consumed(p).await;
                }
                let t = self.pages.texts();
                return self
                    .pages
                    .refusal(
                        StatusCode::BAD_REQUEST,
                        t.diary_down_title,
                        t.wrong_password,
                        "legacy-login-identity-mismatch",
                    )
                    .map(body::boxed);
            }
            // Not signed in (wrong password, or a form the diary did not accept): the
            // diary's own answer goes back; its cookies stay in the pre-login jar.
            Some(Probed::SignedOut) | None => {
                self.count_failure(&self.legacy_login_limits(&login, client_ip))
                    .await;
                if let Some(mut p) = pre.take() {
                    p.jar = jar;
                    if let Some(cookie) = self.prelogin.keep(p).await {
                        resp.headers_mut().append(SET_COOKIE, cookie);
                    }
                }
                return resp;
            }
        };
        if let Some(p) = &pre {
            self.prelogin.consumed(p).await;
        }
        self.prelogin.learn(&jar);
        // Kept sealed with the session's jar (form mode): linking from this session
        // stores it with the binding, so the password is typed only once.
        if let (Some(password), Some(_)) = (&password, &self.vault) {
            jar.set_credential(password);
        }
        let new = NewSession {
            auth_method: AuthMethod::Legacy,
            public_computer: false,
            esia_oid: None,
            account_level: None,
            // The bindings' normal form (case-folded on a case-insensitive diary), as
            // the link form stores it: "Ivanov" from the probe and "ivanov" typed are
            // one diary account, never two bindings.
            diary_login: Some(self.diary.rules.login_key(&user.login)),
            diary_role: user.role.clone(),
        };
        match self
            .start_session(previous.as_ref(), new, Some(&jar), 1)
            .await
        {
            Ok(cookie) => {
                resp.headers_mut().append(SET_COOKIE, cookie);
                self.audit(
                    AuditKind::LegacyLogin,
                    None,
                    Some(&user.login),
                    Some(client_ip),
                    json!({ "role": user.role, "login": user.login }),
                )
                .await;
                tracing::info!(login = %user.login, role = ?user.role, "legacy login through the gateway");
                resp
            }
            Err(page) => page.map(body::boxed),
        }
    }

    /// A diary logout endpoint with a live session: the browser's own logout request is
    /// sent with the session's jar, then the gateway's single logout.
    pub(super) async fn diary_logout(
        &self,
        req: &http::request::Parts,
        canonical: &CanonicalRequest,
        id: &SessionId,
        record: &SessionRecord,
        client_ip: IpAddr,
    ) -> PageResponse {
        // A logout link clicked on our own pages logs out at once; anything else (a
        // link on another site, an old browser without Fetch Metadata and without a
        // Referer of ours) gets the confirmation page with its CSRF-protected button.
        if !from_our_pages(&req.headers) {
            return redirect(&format!("{}logout", self.prefix));
        }
        let jar = self.jar_of(record);
        self.forward_logout(&jar, &canonical.forward_target).await;
        if let Err(e) = self.sessions.end(id).await {
            tracing::error!(error = %e, "diary logout: cannot end the session");
            return self.store_problem();
        }
        self.audit(
            AuditKind::Logout,
            record.esia_oid,
            record.diary_login.as_deref(),
            Some(client_ip),
            json!({ "via": "diary-logout-link" }),
        )
        .await;
        let start = format!("{}start", self.prefix);
        let target = match record.auth_method {
            AuthMethod::Esia => self
                .start_url_absolute(req)
                .and_then(|u| self.idp.logout_url(&u))
                .map_or(start, |u| u.to_string()),
            AuthMethod::Legacy => start,
        };
        let mut resp = redirect(&target);
        let esia = matches!(record.auth_method, AuthMethod::Esia);
        for c in [clear_cookie(&self.session_cookie), signed_out_cookie(esia)] {
            if let Ok(v) = HeaderValue::from_str(&c) {
                resp.headers_mut().append(SET_COOKIE, v);
            }
        }
        resp
    }

    /// The gateway's own logout (`POST <prefix>logout`): the diary's logout with the
    /// session's jar, so the diary session does not outlive the gateway's.
    pub(super) async fn logout_diary(&self, session_cookie: &str) {
        let Some((_, record)) = super::identity::record_of(&self.sessions, session_cookie).await
        else {
            return;
        };
        if record.diary_login.is_none() {
            return;
        }
        let jar = self.jar_of(&record);
        let host = self.http.host();
        let now = self.clock.now();
        if let Err(e) =
            crate::diary::logout::log_out(&self.http, &self.diary.rules, &host, &jar, now).await
        {
            tracing::warn!(error = %e, "diary logout failed; ending the gateway session anyway");
        }
    }

    /// Best effort: the diary's own logout with the session's cookies.
    async fn forward_logout(&self, jar: &Jar, target: &str) {
        let host = self.http.host();
        let sent = crate::diary::logout::get(&self.http, &host, target, jar, self.clock.now());
        if let Err(e) = sent.await {
            tracing::warn!(error = %e, "diary logout failed; ending the gateway session anyway");
        }
    }

    /// `https://<public host><prefix>start`, where ESIA's logout returns.
    pub(super) fn start_url_absolute(&self, req: &http::request::Parts) -> Option<Url> {
        let origin = match &self.public_url {
            Some(u) => u.clone(),
            None => {
                let host = match req.uri.authority() {
                    Some(a) => a.as_str().to_owned(),
                    None => req
                        .headers
                        .get(http::header::HOST)?
                        .to_str()
                        .ok()?
                        .to_owned(),
                };
                let plain = !host.is_empty()
                    && host
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
                if !plain {
                    return None;
                }
                Url::parse(&format!("https://{host}/")).ok()?
            }
        };
        origin.join(&format!("{}start", self.prefix)).ok()
    }
}
