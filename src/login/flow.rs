//! The login round trip: start page → `login` (state + flow cookie → ESIA) →
//! `callback` (state checked against the cookie, flow taken once, code exchanged,
//! session created with a new id) → the validated return path.
//!
//! The flow cookie is `__Host-gw_flow_<flow id>` = `<state>.<secret>`: one per tab, so
//! several logins can run at once; the store keeps only SHA-256 of the secret. A
//! callback URL alone (leaked, replayed, or forged by another site) carries no secret,
//! so it cannot complete a login in another browser.

use chrono::TimeDelta;
use http::{HeaderValue, Request, StatusCode, header};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::cookies::{self, FLOW_COOKIE_PREFIX};
use super::pages::{PageResponse, Problem, redirect};
use super::ports::{IdpFailure, NewSession, PendingFlow};
use super::return_path::safe_return_path;
use super::{Login, single_param};

/// A flow cookie found on the callback, split into its parts.
struct FlowCookie {
    name: String,
    secret: String,
}

impl Login {
    /// `GET start?return=…`: the «Войти через Госуслуги» page.
    pub(super) async fn start_page<B>(&self, req: &Request<B>) -> PageResponse {
        let return_path = return_param(req);
        let session = self.session_of(req.headers()).await;
        // Only an ESIA session is "signed in through Госуслуги"; a password session is
        // offered the link to ESIA instead (issue 15).
        let signed_in = session.as_ref().is_some_and(|s| s.auth_method == "esia");
        let legacy = session.as_ref().is_some_and(|s| s.auth_method == "legacy");
        // Said once, right after a logout (the cookie is cleared here).
        let signed_out = cookies::cookie_values(req.headers(), cookies::SIGNED_OUT_COOKIE)
            .into_iter()
            .next()
            .filter(|_| session.is_none());
        let mut resp = self.pages.start(
            &return_path,
            signed_in,
            legacy && self.link.is_some(),
            self.settings.legacy_login_url.as_deref(),
            signed_out.as_deref(),
        );
        if signed_out.is_some()
            && let Ok(v) =
                http::HeaderValue::from_str(&cookies::clear_cookie(cookies::SIGNED_OUT_COOKIE))
        {
            resp.headers_mut().append(http::header::SET_COOKIE, v);
        }
        resp
    }

    /// `GET login?return=…[&public=1]`: a new flow, then 302 to ESIA.
    /// `None` when the request came to the origin ESIA returns to (or its host cannot
    /// be told); else the same login URL on that origin.
    fn on_callback_origin<B>(&self, req: &Request<B>) -> Option<String> {
        let origin = self.settings.callback_origin.as_ref()?;
        let raw = match req.headers().get(http::header::HOST) {
            Some(v) => v.to_str().ok()?.to_owned(),
            None => req.uri().authority()?.as_str().to_owned(),
        };
        let asked: http::uri::Authority = raw.parse().ok()?;
        let same_host = origin
            .host_str()
            .is_some_and(|h| h.eq_ignore_ascii_case(asked.host()));
        let same_port = asked.port_u16().unwrap_or(443) == origin.port_or_known_default()?;
        if same_host && same_port {
            return None;
        }
        let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
        Some(format!("{}{target}", origin.origin().ascii_serialization()))
    }

    pub(super) async fn begin<B>(&self, req: &Request<B>) -> PageResponse {
        if let Some(elsewhere) = self.on_callback_origin(req) {
            return redirect(&elsewhere);
        }
        if let Some(crate::body::ClientAddr(ip)) = req.extensions().get()
            && let Err(wait) = self.starts.check(*ip, std::time::Instant::now())
        {
            let t = self.pages.texts();
            let seconds = wait.as_secs().max(1);
            tracing::info!(%ip, "too many ESIA logins started from one address");
            let text = t.starts_text.replace("{seconds}", &seconds.to_string());
            let mut resp = self.pages.problem(
                &Problem::new(StatusCode::TOO_MANY_REQUESTS, t.starts_title, &text)
                    .with_code("esia-login-rate-limited"),
            );
            if let Ok(v) = http::HeaderValue::from_str(&seconds.to_string()) {
                resp.headers_mut().insert(http::header::RETRY_AFTER, v);
            }
            return resp;
        }
        let return_path = return_param(req);
        let public_computer = single_param(req.uri().query(), "public").as_deref() == Some("1");
        let state = Uuid::new_v4();
        let secret = random_token();
        let now = self.clock.now();
        let ttl = TimeDelta::from_std(self.settings.flow_ttl).unwrap_or(TimeDelta::minutes(10));
        let flow = PendingFlow {
            state,
            cookie_binding: sha256(&secret),
            return_path,
            public_computer,
            expires_at: now + ttl,
            link_session: None,
        };
        if let Err(err) = self.backend.put_flow(&flow).await {
            tracing::error!(error = %err, "cannot save the login flow");
            return self.store_problem();
        }
        let url = match self.idp.authorization_url(state).await {
            Ok(url) => url,
            Err(failure) => return self.idp_problem(&failure),
        };
        let mut resp = redirect(url.as_str());
        let name = format!("{FLOW_COOKIE_PREFIX}{}", hex::encode(random_bytes::<8>()));
        let value = format!("{state}.{secret}");
        append_set_cookie(
            &mut resp,
            &cookies::set_cookie(&name, &value, Some(self.settings.flow_ttl)),
        );
        tracing::info!(%state, public_computer, "ESIA login started");
        resp
    }

    /// `GET callback?code=…&state=…` or `?error=…&error_description=…&state=…`.
    pub(super) async fn callback<B>(&self, req: &Request<B>) -> PageResponse {
        let query = req.uri().query();
        let Some(state) = single_param(query, "state").and_then(|s| Uuid::parse_str(&s).ok())
        else {
            return self.flow_problem("callback without a usable state", None);
        };
        let Some(cookie) = self.matching_flow_cookie(req.headers(), &state) else {
            return self.flow_problem(
                "no flow cookie for this state (forged or other browser)",
                None,
            );
        };
        let binding = sha256(&cookie.secret);
        let flow = match self.backend.take_flow(state, binding).await {
            Ok(Some(flow)) => flow,
            Ok(None) => {
                return self.flow_problem(
                    "flow unknown, expired, already used, or not this browser's",
                    Some(&cookie),
                );
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot read the login flow");
                return with_cleared(self.store_problem(), &cookie.name);
            }
        };
        if !bool::from(binding.ct_eq(&flow.cookie_binding)) {
            return self.flow_problem("flow cookie secret does not match", Some(&cookie));
        }
        if let Some(error) = single_param(query, "error") {
            let description = single_param(query, "error_description").unwrap_or_default();
            let failure = self.idp.callback_error(&error, &description);
            return with_cleared(self.idp_problem(&failure), &cookie.name);
        }
        let Some(code) = single_param(query, "code").filter(|c| !c.is_empty()) else {
            return self.flow_problem("callback without a code", Some(&cookie));
        };
        let identity = match self.idp.complete(&code).await {
            Ok(identity) => identity,
            Err(failure) => return with_cleared(self.idp_problem(&failure), &cookie.name),
        };
        if let Some(legacy) = flow.link_session {
            return with_cleared(
                self.complete_link(&identity, legacy, &flow).await,
                &cookie.name,
            );
        }
        // The sessions this browser held end (a planted id is worthless); only
        // well-formed ids, and a few: a flood of cookies must not become store writes.
        let previous: Vec<String> =
            cookies::cookie_values(req.headers(), &self.settings.cookies.session)
                .into_iter()
                .filter(|v| cookies::plausible_session_value(v))
                .take(4)
                .collect();
        let new = NewSession {
            identity: identity.clone(),
            public_computer: flow.public_computer,
            authenticated_at: self.clock.now(),
        };
        let created = match self.backend.create_session(new, &previous).await {
            Ok(created) => created,
            Err(err) => {
                tracing::error!(error = %err, "cannot create the session");
                return with_cleared(self.store_problem(), &cookie.name);
            }
        };
        tracing::info!(oid = identity.oid, level = %identity.level,
            public_computer = flow.public_computer, "ESIA login completed");
        let mut resp = redirect(&safe_return_path(&flow.return_path));
        append_set_cookie(
            &mut resp,
            &cookies::set_cookie(
                &self.settings.cookies.session,
                &created.session.cookie,
                created.cookie_max_age,
            ),
        );
        with_cleared(resp, &cookie.name)
    }

    /// Issue 5, Flow B: the flow was «выполнить привязку к ЕСИА»; the link service binds
    /// the legacy session's diary user to this ESIA account.
    async fn complete_link(
        &self,
        identity: &super::ports::EsiaIdentity,
        legacy: crate::store::SessionKey,
        flow: &PendingFlow,
    ) -> PageResponse {
        match &self.link {
            Some(link) => {
                let return_path = safe_return_path(&flow.return_path);
                link.complete_link(identity, legacy, flow.public_computer, &return_path)
                    .await
            }
            None => {
                tracing::warn!("link flow completed but linking is not configured");
                self.store_problem()
            }
        }
    }

    /// The flow cookie whose state half equals `state` (compared in constant time).
    fn matching_flow_cookie(&self, headers: &http::HeaderMap, state: &Uuid) -> Option<FlowCookie> {
        let wanted = state.to_string();
        let mut found = None;
        // Every candidate is compared, so timing does not tell which cookie matched.
        for (name, value) in cookies::request_cookies(headers) {
            if !name.starts_with(FLOW_COOKIE_PREFIX) {
                continue;
            }
            let Some((cookie_state, secret)) = value.split_once('.') else {
                continue;
            };
            let same = cookie_state.len() == wanted.len()
                && bool::from(cookie_state.as_bytes().ct_eq(wanted.as_bytes()));
            if same && found.is_none() {
                found = Some(FlowCookie {
                    name,
                    secret: secret.to_owned(),
                });
            }
        }
        found
    }

    fn flow_problem(&self, why: &str, cookie: Option<&FlowCookie>) -> PageResponse {
        tracing::warn!(reason = why, "ESIA callback refused");
        let t = self.pages.texts();
        let page = self.pages.problem(
            &Problem::new(
                StatusCode::BAD_REQUEST,
                t.flow_invalid_title,
                t.flow_invalid_text,
            )
            .with_code("login-flow-invalid")
            .with_retry(),
        );
        match cookie {
            Some(c) => with_cleared(page, &c.name),
            None => page,
        }
    }

    pub(super) fn store_problem(&self) -> PageResponse {
        let t = self.pages.texts();
        self.pages.problem(
            &Problem::new(StatusCode::SERVICE_UNAVAILABLE, t.store_title, t.store_text)
                .with_retry(),
        )
    }

    /// The page for an ESIA failure; the operator hint and ESIA code go to the log.
    fn idp_problem(&self, failure: &IdpFailure) -> PageResponse {
        tracing::warn!(kind = failure.kind, code = failure.code.as_deref().unwrap_or(""),
            hint = %failure.operator_hint, detail = %failure.detail, "ESIA login failed");
        let t = self.pages.texts();
        let (title, english_text) = match failure.status {
            StatusCode::GATEWAY_TIMEOUT => (t.esia_slow_title, t.esia_slow_text),
            StatusCode::BAD_GATEWAY => (t.esia_down_title, t.esia_down_text),
            StatusCode::INTERNAL_SERVER_ERROR => (t.config_title, t.config_text),
            _ if failure.code.as_deref() == Some("ESIA-007004") => {
                (t.esia_refused_title, t.esia_declined_text)
            }
            _ => (t.esia_refused_title, t.esia_refused_text),
        };
        // ESIA's messages are Russian; an English page keeps the generic English text.
        let text = match self.pages.language() {
            crate::language::Language::Ru => failure.user_message.as_str(),
            crate::language::Language::En => english_text,
        };
        let mut problem = Problem::new(failure.status, title, text).with_retry();
        if let Some(code) = &failure.code {
            problem = problem.with_code(code.clone());
        } else {
            problem = problem.with_code(failure.kind);
        }
        self.pages.problem(&problem)
    }
}

/// The `return` parameter, validated (anything doubtful → `/`).
fn return_param<B>(req: &Request<B>) -> String {
    single_param(req.uri().query(), "return")
        .map(|raw| safe_return_path(&raw))
        .unwrap_or_else(|| "/".to_owned())
}

fn append_set_cookie(resp: &mut PageResponse, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
}

fn with_cleared(mut resp: PageResponse, cookie_name: &str) -> PageResponse {
    append_set_cookie(&mut resp, &cookies::clear_cookie(cookie_name));
    resp
}

pub(super) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut out);
    out
}

/// 256 random bits, base64url.
fn random_token() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

fn sha256(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}
