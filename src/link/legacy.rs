//! The diary's own forms, seen from the gateway:
//!
//! - **Legacy login.** A browser POST to the diary's login path with the configured
//!   field names is forwarded; when the diary's answer says "signed in" the gateway
//!   records a legacy session (method legacy, diary login, role via the probe), keeps the
//!   diary's cookies in its jar and gives the browser only the gateway's session cookie.
//!   A login field sent twice (or in PHP array/alias spellings) is refused: the gateway
//!   and the diary must agree on who is signing in.
//! - **Diary logout.** The diary's logout link ends the diary session (forwarded with
//!   the jar) and then does the gateway's single logout: session ended, browser sent to
//!   ESIA's logout for ESIA sessions. A cross-site request only gets the confirmation
//!   page (`<prefix>logout`), like `GET /esia/logout`.

use std::net::IpAddr;

use bytes::Bytes;
use http::header::{LOCATION, SET_COOKIE};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use serde_json::json;
use url::Url;

use super::form::Fields;
use super::identity::record_of;
use super::{Link, PlanKind, Step, jar_store};
use crate::diary::jar::Jar;
use crate::diary::signin::{DiaryHttp, LoginOutcome};
use crate::login::ActiveSession;
use crate::login::cookies::clear_cookie;
use crate::login::pages::{PageResponse, redirect};
use crate::proxy::body::{self, Body};
use crate::session::{NewSession, SessionId};
use crate::store::{AuditKind, AuthMethod};

/// Largest legacy login form body the gateway reads (it must see the login field).
const MAX_LOGIN_FORM: usize = 16 * 1024;

impl Link {
    /// `POST <login_path>` from the browser.
    pub(super) async fn legacy_login(
        &self,
        req: Request<Body>,
        session: Option<ActiveSession>,
        client_ip: IpAddr,
    ) -> Step {
        let t = self.pages.texts();
        if !self.settings.legacy_login {
            return Step::Answer(self.pages.refusal(
                StatusCode::FORBIDDEN,
                t.legacy_closed_title,
                t.legacy_closed_text,
                "legacy-login-disabled",
            ));
        }
        let (mut parts, body) = req.into_parts();
        let Some(bytes) = read_capped(body, MAX_LOGIN_FORM).await else {
            return Step::Answer(self.bad_form("legacy login form unreadable or too large"));
        };
        let rules = &self.diary.rules;
        let fields = Fields::parse(&bytes);
        if fields.aliases(&rules.login_field) || fields.aliases(&rules.password_field) {
            return Step::Answer(self.bad_form("legacy login form with ambiguous fields"));
        }
        let login = fields
            .single(&rules.login_field)
            .map(str::trim)
            .unwrap_or("");
        self.keep_cookies_for_login(&mut parts.headers);
        let path = parts.uri.path().to_owned();
        let request = Request::from_parts(parts, body::full(bytes.clone()));
        if login.is_empty() {
            // Not a sign-in the gateway can attribute: forwarded, nothing recorded.
            return Step::Forward(request, self.plan(PlanKind::Plain, None, client_ip, &path));
        }
        let previous = session.and_then(|s| SessionId::parse(&s.cookie).ok());
        let kind = PlanKind::LegacyLogin {
            login: login.to_owned(),
            previous,
        };
        Step::Forward(request, self.plan(kind, None, client_ip, &path))
    }

    fn keep_cookies_for_login(&self, headers: &mut http::HeaderMap) {
        if self.form_mode() {
            super::forward::keep_only_cookies(headers, &self.diary.pass_cookies);
        }
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

    /// The diary answered a legacy login POST.
    pub(super) async fn legacy_answer(
        &self,
        mut resp: Response<Body>,
        login: String,
        previous: Option<SessionId>,
        client_ip: IpAddr,
    ) -> Response<Body> {
        let rules = &self.diary.rules;
        let location = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        // Only a redirect away from the login page counts; a 200 page (the form again,
        // with or without the failure text) passes through unread.
        let signed_in = resp.status().is_redirection()
            && rules.login_outcome(resp.status(), location.as_deref(), b"")
                == LoginOutcome::SignedIn;
        let set_cookies = if self.form_mode() {
            super::forward::take_set_cookies(resp.headers_mut(), &self.diary.pass_cookies)
        } else {
            Vec::new()
        };
        if !signed_in {
            return resp;
        }
        let mut jar = Jar::new();
        let now = self.clock.now();
        for v in &set_cookies {
            jar.store(v, &rules.login_path, now);
        }
        let role = if self.form_mode() {
            self.probe(&jar).await
        } else {
            None
        };
        let new = NewSession {
            auth_method: AuthMethod::Legacy,
            public_computer: false,
            esia_oid: None,
            account_level: None,
            diary_login: Some(login.clone()),
            diary_role: role.clone(),
        };
        let jar = self.form_mode().then_some(&jar);
        match self.start_session(previous.as_ref(), new, jar).await {
            Ok(cookie) => {
                resp.headers_mut().append(SET_COOKIE, cookie);
                self.audit(
                    AuditKind::LegacyLogin,
                    None,
                    Some(&login),
                    Some(client_ip),
                    json!({ "role": role }),
                )
                .await;
                tracing::info!(login = %login, role = ?role, "legacy login through the gateway");
                resp
            }
            Err(page) => page.map(body::boxed),
        }
    }

    /// The diary's logout link: diary logout with the jar, then single logout.
    pub(super) async fn diary_logout(
        &self,
        req: &http::request::Parts,
        session: &ActiveSession,
        client_ip: IpAddr,
    ) -> PageResponse {
        let cross_site = req
            .headers
            .get("sec-fetch-site")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"));
        if cross_site {
            return redirect(&format!("{}logout", self.prefix));
        }
        let Some((id, record)) = record_of(&self.sessions, &session.cookie).await else {
            return redirect(&format!("{}start", self.prefix));
        };
        if let Some(vault) = &self.vault {
            let jar = jar_store::open(vault, &record.key, record.diary_cookies.as_deref());
            self.forward_logout(&jar).await;
        }
        if let Err(e) = self.sessions.end(&id).await {
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
        if let Ok(v) = HeaderValue::from_str(&clear_cookie(&self.session_cookie)) {
            resp.headers_mut().append(SET_COOKIE, v);
        }
        resp
    }

    /// Best effort: the diary's own logout with the session's cookies.
    async fn forward_logout(&self, jar: &Jar) {
        let rules = &self.diary.rules;
        let mut builder =
            Request::get(rules.logout_path.as_str()).header(http::header::HOST, self.http.host());
        if let Some(c) = jar.header_for(&rules.logout_path, self.clock.now()) {
            builder = builder.header(http::header::COOKIE, c);
        }
        let Ok(req) = builder.body(Full::new(Bytes::new())) else {
            return;
        };
        if let Err(e) = self.http.send(req).await {
            tracing::warn!(error = %e, "diary logout failed; ending the gateway session anyway");
        }
    }

    /// `https://<public host><prefix>start`, where ESIA's logout returns.
    fn start_url_absolute(&self, req: &http::request::Parts) -> Option<Url> {
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

/// The whole body when it is at most `limit` bytes; `None` when larger or broken.
/// Written against the concrete body type: the generic `Limited` needs an error
/// conversion bound the connection task's `Send` check cannot see through.
async fn read_capped(mut body: Body, limit: usize) -> Option<Bytes> {
    use http_body_util::BodyExt;
    let mut out = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.ok()?;
        if let Some(data) = frame.data_ref() {
            if out.len() + data.len() > limit {
                return None;
            }
            out.extend_from_slice(data);
        }
    }
    Some(out.freeze())
}
