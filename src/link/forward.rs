//! The per-request part, in the order the proxy calls it:
//!
//! - [`Link::identify`] (before authorize): who the request stands for. One session
//!   lookup; an ESIA session without a diary identity is signed into the diary from its
//!   binding here (or answered with the link/level page), so authorize decides once on
//!   the whole identity. A browser login POST (any configured login endpoint) is read as
//!   the diary reads it; a logout endpoint does the single logout.
//! - [`Link::attach`] (after authorize): the diary identity goes on the request — the
//!   session's jar (form mode) or the signed assertion (header mode).
//! - [`Link::finish`] (on the diary's answer): every diary `Set-Cookie` goes to the jar;
//!   an expired diary session heals once from the vault (ESIA-linked sessions only); a
//!   change of the diary's session cookie that the gateway did not make is "identity
//!   unknown" and is settled by the probe: same user → kept, another user or none → the
//!   gateway session ends. A legacy login becomes a session only when the probe names
//!   the login the form did.
//!
//! Browser-held diary cookies never reach the diary except the `pass_cookies` names, and
//! never a session cookie whatever that list says. In header mode too the diary's
//! cookies live in the session's jar (in memory when there is no vault to seal them
//! with): a copied browser cookie never replays a diary session without the gateway.

use std::net::IpAddr;

use http::header::{COOKIE, LOCATION, SET_COOKIE};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use serde_json::json;

use super::identity::{VaultSignIn, with_cookie};
use super::{Link, link_url};
use crate::body::{self, Body, Outcome};
use crate::diary::assertion::DEFAULT_HEADER;
use crate::diary::expiry;
use crate::diary::jar::Jar;
use crate::diary::probe::Probed;
use crate::login::ActiveSession;
use crate::login::cookies::{clear_cookie, request_cookies};
use crate::login::return_path::safe_return_path;
use crate::pages::{PageResponse, redirect};
use crate::policy::CanonicalRequest;
use crate::session::SessionId;
use crate::store::{AuditKind, AuthMethod, SessionRecord};

/// What [`Link::identify`] learned: the session as authorize must see it, and what
/// the later steps do with the request.
pub struct Identified {
    /// The live session with its diary identity (what the policy decides on).
    pub session: Option<ActiveSession>,
    /// A recognised browser login POST (the policy may refuse legacy logins).
    pub legacy_login: bool,
    kind: Kind,
    client_ip: IpAddr,
    path: String,
}

#[allow(
    clippy::large_enum_variant,
    reason = "one per request, moved straight through the pipeline"
)]
enum Kind {
    /// No session: diary cookies never reach the browser; on a login endpoint the
    /// pre-login jar (form mode) carries the diary's cookies.
    Anonymous {
        pre: Option<super::prelogin::PreLogin>,
    },
    /// A session with a diary identity and its jar (form mode), opened once here.
    Jar {
        id: SessionId,
        record: SessionRecord,
        jar: Jar,
    },
    /// A browser's login POST the gateway could attribute.
    LegacyLogin {
        post: crate::diary::form::LoginPost,
        previous: Option<SessionId>,
        pre: Option<super::prelogin::PreLogin>,
    },
}

/// What [`Link::finish`] needs about the request that was sent.
pub struct Plan {
    kind: PlanKind,
    client_ip: IpAddr,
    path: String,
    /// The request head, to send a GET/HEAD once more after a transparent re-login.
    replay: Option<(Method, http::Uri, HeaderMap)>,
    /// A method that may change state (a form posted anywhere could be a login on an
    /// endpoint the config does not name, on a diary that keeps its session id).
    changes_state: bool,
}

#[allow(
    clippy::large_enum_variant,
    reason = "one per request, moved straight through the pipeline"
)]
enum PlanKind {
    Anonymous {
        pre: Option<super::prelogin::PreLogin>,
    },
    Untouched,
    Jar {
        id: SessionId,
        record: SessionRecord,
        jar: Jar,
    },
    LegacyLogin {
        post: crate::diary::form::LoginPost,
        previous: Option<SessionId>,
        pre: Option<super::prelogin::PreLogin>,
    },
}

/// What [`Link::finish`] decided.
pub enum Finish {
    Done(Response<Body>),
    /// The diary session was renewed from the vault: send this once more (GET/HEAD),
    /// then call [`Link::finish_resent`].
    Resend(Request<Body>),
}

impl Link {
    /// Runs after authenticate for every proxied request; see the module doc.
    pub async fn identify(
        &self,
        mut req: Request<Body>,
        session: Option<ActiveSession>,
        canonical: &CanonicalRequest,
        client_ip: IpAddr,
    ) -> Outcome<(Request<Body>, Identified)> {
        self.strip_assertion(req.headers_mut());
        let path = canonical.path.clone();
        let rules = &self.diary.rules;
        let mut identified = Identified {
            session: None,
            legacy_login: false,
            kind: Kind::Anonymous { pre: None },
            client_ip,
            path: path.clone(),
        };
        // One lookup: the record behind the cookie the authenticate phase resolved.
        let record = match &session {
            Some(s) => self.record(&s.cookie).await,
            None => None,
        };
        if canonical.method == Method::POST && rules.login_endpoints.matches(canonical) {
            return match self.legacy_login(req, client_ip).await {
                Outcome::Continue((req, post, pre)) => {
                    identified.legacy_login = true;
                    identified.session = session;
                    identified.kind = Kind::LegacyLogin {
                        post,
                        previous: identified_previous(&identified),
                        pre,
                    };
                    Outcome::Continue((req, identified))
                }
                Outcome::Answer(page) => Outcome::Answer(page),
            };
        }
        if rules.logout_endpoints.matches_plainly(canonical)
            && let Some((id, record)) = &record
        {
            let (parts, _) = req.into_parts();
            let page = self
                .diary_logout(&parts, canonical, id, record, client_ip)
                .await;
            return Outcome::Answer(page.map(body::boxed));
        }
        let Some((id, mut record)) = record else {
            // Read the pre-login cookie before the browser's cookies are dropped.
            let pre = if rules.login_endpoints.matches(canonical) {
                Some(self.prelogin.open(req.headers()).await)
            } else {
                None
            };
            self.keep_browser_cookies(req.headers_mut(), None);
            identified.kind = Kind::Anonymous { pre };
            return Outcome::Continue((req, identified));
        };
        if record.diary_login.is_none() && record.auth_method == AuthMethod::Esia {
            let return_path = if canonical.method == Method::GET {
                safe_return_path(&canonical.forward_target)
            } else {
                "/".to_owned()
            };
            record = match self.establish(record, &return_path, client_ip).await {
                Ok(r) => r,
                Err(page) => return Outcome::Answer(page.map(body::boxed)),
            };
        }
        identified.session = session.map(|s| with_identity(s, &record));
        let jar = self.jar_of(&record);
        self.keep_browser_cookies(req.headers_mut(), Some(&jar));
        identified.kind = if record.diary_login.is_some() {
            Kind::Jar { id, record, jar }
        } else {
            Kind::Anonymous { pre: None }
        };
        Outcome::Continue((req, identified))
    }

    /// After authorize: puts the diary identity on the request.
    pub fn attach(&self, mut req: Request<Body>, identified: Identified) -> (Request<Body>, Plan) {
        let Identified {
            kind,
            client_ip,
            path,
            ..
        } = identified;
        let now = self.clock.now();
        let kind = match kind {
            Kind::Anonymous { pre } => {
                if let Some(cookies) = pre.as_ref().and_then(|p| p.jar.header_for(&path, now)) {
                    append_cookie(req.headers_mut(), &cookies);
                }
                PlanKind::Anonymous { pre }
            }
            Kind::LegacyLogin {
                post,
                previous,
                pre,
            } => {
                if let Some(cookies) = pre.as_ref().and_then(|p| p.jar.header_for(&path, now)) {
                    append_cookie(req.headers_mut(), &cookies);
                }
                PlanKind::LegacyLogin {
                    post,
                    previous,
                    pre,
                }
            }
            Kind::Jar { id, record, jar } => {
                if let Some(cookies) = jar.header_for(&path, now) {
                    append_cookie(req.headers_mut(), &cookies);
                }
                // Header mode: the signed assertion names the user besides the jar.
                if let Some(assertions) = &self.assertions {
                    let login = record.diary_login.as_deref().unwrap_or_default();
                    let signed = assertions.sign(
                        login,
                        record.diary_role.as_deref(),
                        record.auth_method.as_str(),
                        record.account_level.as_deref(),
                        now,
                    );
                    match signed.ok().and_then(|s| HeaderValue::from_str(&s).ok()) {
                        Some(v) => {
                            req.headers_mut()
                                .insert(assertions.header_name().clone(), v);
                        }
                        None => tracing::error!(
                            "cannot sign the diary assertion; forwarding without it"
                        ),
                    }
                }
                PlanKind::Jar { id, record, jar }
            }
        };
        let changes_state = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        let replay = (matches!(kind, PlanKind::Jar { .. })
            && matches!(*req.method(), Method::GET | Method::HEAD))
        .then(|| {
            let mut headers = req.headers().clone();
            headers.remove(COOKIE);
            (req.method().clone(), req.uri().clone(), headers)
        });
        (
            req,
            Plan {
                kind,
                client_ip,
                path,
                replay,
                changes_state,
            },
        )
    }

    /// Runs on the diary's answer (after the proxy's own header clean-up).
    pub async fn finish(&self, resp: Response<Body>, plan: &mut Plan) -> Finish {
        self.finish_inner(resp, plan, true).await
    }

    /// [`Link::finish`] for the answer to a [`Finish::Resend`]: no second re-login.
    pub async fn finish_resent(&self, resp: Response<Body>, plan: &mut Plan) -> Response<Body> {
        match self.finish_inner(resp, plan, false).await {
            Finish::Done(r) => r,
            // Unreachable by construction (heal is off); answer safely anyway.
            Finish::Resend(_) => self.session_over(None, plan.client_ip).map(body::boxed),
        }
    }

    async fn finish_inner(
        &self,
        mut resp: Response<Body>,
        plan: &mut Plan,
        may_heal: bool,
    ) -> Finish {
        let now = self.clock.now();
        match std::mem::replace(&mut plan.kind, PlanKind::Untouched) {
            PlanKind::Untouched => Finish::Done(resp),
            PlanKind::Anonymous { pre } => {
                let set = self.take_set_cookies(resp.headers_mut(), None);
                if let Some(mut pre) = pre {
                    for v in &set {
                        pre.jar.store(v, &plan.path, now);
                    }
                    if let Some(cookie) = self.prelogin.keep(pre).await {
                        resp.headers_mut().append(SET_COOKIE, cookie);
                    }
                }
                Finish::Done(resp)
            }
            PlanKind::LegacyLogin {
                post,
                previous,
                pre,
            } => Finish::Done(
                self.legacy_answer(resp, post, previous, pre, plan.client_ip)
                    .await,
            ),
            PlanKind::Jar {
                id,
                record,
                mut jar,
            } => {
                let set = self.take_set_cookies(resp.headers_mut(), Some(&jar));
                let rules = &self.diary.rules;
                let mut session_changed = false;
                for v in &set {
                    let name = v.split_once('=').map_or("", |(n, _)| n.trim());
                    if rules.is_session_cookie(name, jar.has(name)) {
                        session_changed = true;
                    }
                    jar.store(v, &plan.path, now);
                }
                let location = resp
                    .headers()
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                if !self.form_mode() {
                    // Header mode: the assertion names the user on every request; the
                    // jar only keeps the diary's cookies away from the browser.
                    if !set.is_empty() {
                        self.save_jar(&id, &jar).await;
                    }
                    return Finish::Done(resp);
                }
                let mut expired =
                    rules.session_expired(resp.status(), location.as_deref(), &plan.path);
                // A dead session answered 200 with a page (`expired.body_contains`): only
                // HTML, only its first bytes are read; the page streams on unchanged.
                if !expired && rules.expired.wants_body(resp.status(), resp.headers()) {
                    let (parts, body) = resp.into_parts();
                    let (head, body) = expiry::peek(body).await;
                    expired =
                        rules.expired_page(parts.status, &expiry::decoded(&head, &parts.headers));
                    resp = Response::from_parts(parts, body);
                }
                // Identity unknown: the diary session changed without our sign-in, or a
                // state-changing request may have signed someone else in on the same
                // session id (a PHP diary that does not rotate it).
                if !expired && (session_changed || plan.changes_state) {
                    match self.probe_user(&jar).await {
                        Some(Probed::User(u))
                            if record
                                .diary_login
                                .as_deref()
                                .is_some_and(|l| rules.same_login(l, &u.login)) => {}
                        Some(Probed::SignedOut) => expired = true,
                        Some(Probed::User(u)) => {
                            return Finish::Done(
                                self.identity_changed(&id, &record, &u.login, plan.client_ip)
                                    .await
                                    .map(body::boxed),
                            );
                        }
                        // A probe that failed after a plain form post (no session
                        // cookie change): the page goes on, the next change is checked.
                        None if !session_changed => {
                            tracing::warn!("identity probe after a form post failed");
                        }
                        None => {
                            // The session cookie changed and the probe failed: the
                            // gateway cannot vouch for the identity; no page goes on.
                            return Finish::Done(
                                self.end_session(&id, &record, "probe-failed", plan.client_ip)
                                    .await
                                    .map(body::boxed),
                            );
                        }
                    }
                }
                if expired {
                    return self.diary_session_over(id, record, plan, may_heal).await;
                }
                if session_changed || !set.is_empty() {
                    self.save_jar(&id, &jar).await;
                }
                Finish::Done(resp)
            }
        }
    }

    /// The diary session is over. An ESIA-linked session signs in again from its own
    /// binding's vault entry once (a GET/HEAD is sent again); a legacy session, or a
    /// second time, ends the gateway session.
    async fn diary_session_over(
        &self,
        id: SessionId,
        mut record: SessionRecord,
        plan: &mut Plan,
        may_heal: bool,
    ) -> Finish {
        let page = |p: PageResponse| Finish::Done(p.map(body::boxed));
        let esia = record.auth_method == AuthMethod::Esia;
        let Some(login) = record.diary_login.clone().filter(|_| esia && may_heal) else {
            return page(
                self.end_session(&id, &record, "diary-session-ended", plan.client_ip)
                    .await,
            );
        };
        let return_path = plan
            .replay
            .as_ref()
            .and_then(|(_, uri, _)| uri.path_and_query())
            .map_or("/".to_owned(), |pq| safe_return_path(pq.as_str()));
        let (jar, role) = match self.sign_in_from_vault(&login).await {
            VaultSignIn::SignedIn { jar, role } => (jar, role),
            VaultSignIn::Failed(p) => return page(p),
            outcome => {
                if let (VaultSignIn::WrongPassword, Some(oid)) = (&outcome, record.esia_oid) {
                    self.mark_stale(oid, &login, plan.client_ip).await;
                }
                // The session keeps its ESIA identity but loses its diary one.
                record.diary_login = None;
                record.diary_role = None;
                record.diary_cookies = None;
                if let Err(e) = self.sessions.update(record).await {
                    tracing::error!(error = %e, "cannot drop the session's diary identity");
                }
                return page(redirect(&link_url(&self.prefix, &return_path)));
            }
        };
        // The diary may answer with another role than at sign-in (the school changed
        // it): the ESIA level must fit the new one before any page is served with it.
        if role.is_some() && role != record.diary_role {
            if let Some(oid) = record.esia_oid
                && let Err(level_page) = self
                    .check_level(
                        oid,
                        &login,
                        role.as_deref(),
                        record.account_level.as_deref(),
                        plan.client_ip,
                    )
                    .await
            {
                // No diary identity until a sign-in whose level fits.
                record.diary_login = None;
                record.diary_role = None;
                record.diary_cookies = None;
                if let Err(e) = self.sessions.update(record).await {
                    tracing::error!(error = %e, "cannot drop the session's diary identity");
                }
                return page(level_page);
            }
            record.diary_role = role;
        }
        record.diary_cookies = self
            .vault
            .as_ref()
            .and_then(|v| super::jar_store::seal(v, &record.key, &jar));
        if let Err(e) = self.sessions.update(record.clone()).await {
            tracing::warn!(error = %e, "cannot save the renewed diary session");
        }
        tracing::info!(login = %login, "diary session renewed from the vault");
        let Some((method, uri, mut headers)) = plan.replay.clone() else {
            let t = self.pages.texts();
            return page(self.pages.refusal(
                StatusCode::CONFLICT,
                t.resend_title,
                t.resend_text,
                "diary-session-renewed",
            ));
        };
        if let Some(cookies) = jar.header_for(uri.path(), self.clock.now()) {
            append_cookie(&mut headers, &cookies);
        }
        plan.kind = PlanKind::Jar { id, record, jar };
        let mut req = Request::new(body::empty());
        *req.method_mut() = method;
        *req.uri_mut() = uri;
        *req.headers_mut() = headers;
        Finish::Resend(req)
    }

    /// The diary now serves another user than the session stands for: the gateway
    /// session ends (audited) and the browser goes to the start page.
    async fn identity_changed(
        &self,
        id: &SessionId,
        record: &SessionRecord,
        served: &str,
        ip: IpAddr,
    ) -> PageResponse {
        tracing::warn!(
            login = record.diary_login.as_deref().unwrap_or(""),
            served,
            "the diary session changed to another user; gateway session ended"
        );
        self.audit(
            AuditKind::Other("identity_changed".into()),
            record.esia_oid,
            record.diary_login.as_deref(),
            Some(ip),
            json!({ "served": served, "method": record.auth_method.as_str() }),
        )
        .await;
        self.end_session(id, record, "identity-changed", ip).await
    }

    /// Ends the gateway session (the diary's is over or unknown) and sends the browser
    /// where it can sign in again; the gateway cookie is cleared.
    pub(super) async fn end_session(
        &self,
        id: &SessionId,
        record: &SessionRecord,
        why: &str,
        ip: IpAddr,
    ) -> PageResponse {
        if let Err(e) = self.sessions.end(id).await {
            tracing::error!(error = %e, "cannot end the session");
            return self.store_problem();
        }
        self.audit(
            AuditKind::Logout,
            record.esia_oid,
            record.diary_login.as_deref(),
            Some(ip),
            json!({ "via": why }),
        )
        .await;
        self.session_over(Some(record.auth_method), ip)
    }

    /// The page after a session ended without the user asking: the ESIA start page, or
    /// the diary's login form for a legacy session.
    fn session_over(&self, method: Option<AuthMethod>, _ip: IpAddr) -> PageResponse {
        let target = match method {
            Some(AuthMethod::Legacy) => self.diary.rules.login_path.clone(),
            _ => format!("{}start", self.prefix),
        };
        let mut resp = redirect(&target);
        if let Ok(v) = HeaderValue::from_str(&clear_cookie(&self.session_cookie)) {
            resp.headers_mut().append(SET_COOKIE, v);
        }
        resp
    }

    /// The probe on a jar; `None` when the diary could not be asked.
    pub(super) async fn probe_user(&self, jar: &Jar) -> Option<Probed> {
        let host = self.http.host();
        match crate::diary::probe::probe(
            &self.http,
            &self.diary.rules,
            &host,
            jar,
            self.clock.now(),
        )
        .await
        {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::warn!(error = %e, "identity probe failed");
                None
            }
        }
    }

    /// The session's record (one lookup, cache-backed).
    async fn record(&self, cookie: &str) -> Option<(SessionId, SessionRecord)> {
        super::identity::record_of(&self.sessions, cookie).await
    }

    /// The session's jar: sealed in the store with the vault key (form mode), else kept
    /// in memory (header mode, where the assertion re-establishes a lost diary session).
    pub(super) fn jar_of(&self, record: &SessionRecord) -> Jar {
        match &self.vault {
            Some(vault) => {
                super::jar_store::open(vault, &record.key, record.diary_cookies.as_deref())
            }
            None => self.memory_jars.get(&record.key.0).unwrap_or_default(),
        }
    }

    pub(super) async fn save_jar(&self, id: &SessionId, jar: &Jar) {
        if let Err(e) = self.keep_jar(&id.key(), jar).await {
            tracing::warn!(error = %e, "cannot save the diary cookie jar");
        }
    }

    /// Stores a session's jar where [`Link::jar_of`] finds it.
    pub(super) async fn keep_jar(
        &self,
        key: &crate::store::SessionKey,
        jar: &Jar,
    ) -> Result<(), crate::store::StoreError> {
        match &self.vault {
            Some(vault) => {
                let sealed = super::jar_store::seal(vault, key, jar);
                self.sessions
                    .set_diary_cookies(key, sealed)
                    .await
                    .map(|_| ())
            }
            None => {
                self.memory_jars.insert(key.0, jar.clone());
                Ok(())
            }
        }
    }

    /// Removes client-sent assertion headers (the configured name and the default).
    fn strip_assertion(&self, headers: &mut HeaderMap) {
        headers.remove(DEFAULT_HEADER);
        if let Some(a) = &self.assertions {
            headers.remove(a.header_name());
        }
    }

    /// Is `name` a diary session cookie: configured as one, held in this session's jar,
    /// or set by any sign-in the gateway made (the default: "all cookies the sign-in set").
    fn is_session_name(&self, name: &str, jar: Option<&Jar>) -> bool {
        let rules = &self.diary.rules;
        if !rules.session_cookies.is_empty() {
            return rules.is_session_cookie(name, false);
        }
        jar.is_some_and(|j| j.has(name)) || self.prelogin.is_session_name(name)
    }

    /// Form mode: drops every browser cookie but the `pass_cookies` names, and of those
    /// every diary session cookie: the browser never decides which diary session (and so
    /// which diary user) a request uses.
    pub(super) fn keep_browser_cookies(&self, headers: &mut HeaderMap, jar: Option<&Jar>) {
        let pass = &self.diary.pass_cookies;
        let kept: Vec<String> = request_cookies(headers)
            .into_iter()
            .filter(|(name, _)| pass.iter().any(|p| p == name) && !self.is_session_name(name, jar))
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        headers.remove(COOKIE);
        if !kept.is_empty()
            && let Ok(v) = HeaderValue::from_str(&kept.join("; "))
        {
            headers.insert(COOKIE, v);
        }
    }

    /// Removes the diary's `Set-Cookie` headers and returns them; only `pass_cookies`
    /// names that are not diary session cookies stay for the browser (form mode).
    pub(super) fn take_set_cookies(
        &self,
        headers: &mut HeaderMap,
        jar: Option<&Jar>,
    ) -> Vec<String> {
        let all: Vec<HeaderValue> = headers.get_all(SET_COOKIE).iter().cloned().collect();
        headers.remove(SET_COOKIE);
        let mut taken = Vec::new();
        for v in all {
            let text = String::from_utf8_lossy(v.as_bytes()).into_owned();
            let name = text.split_once('=').map(|(n, _)| n.trim()).unwrap_or("");
            let pass = self.diary.pass_cookies.iter().any(|p| p == name);
            if !name.is_empty() && pass && !self.is_session_name(name, jar) {
                headers.append(SET_COOKIE, v);
            } else {
                taken.push(text);
            }
        }
        taken
    }
}

fn identified_previous(identified: &Identified) -> Option<SessionId> {
    identified
        .session
        .as_ref()
        .and_then(|s| SessionId::parse(&s.cookie).ok())
}

/// The session as authorize sees it, with the diary identity `identify` settled.
fn with_identity(mut s: ActiveSession, record: &SessionRecord) -> ActiveSession {
    s.diary_login = record.diary_login.clone();
    s.diary_role = record.diary_role.clone();
    s.account_level = record.account_level.clone();
    s.esia_oid = record.esia_oid;
    s.diary_accounts = record.diary_accounts;
    s
}

/// Adds `cookies` to the request's `Cookie` header.
pub(super) fn append_cookie(headers: &mut HeaderMap, cookies: &str) {
    let joined = match headers.get(COOKIE).and_then(|v| v.to_str().ok()) {
        Some(existing) if !existing.is_empty() => format!("{existing}; {cookies}"),
        _ => cookies.to_owned(),
    };
    if let Ok(v) = HeaderValue::from_str(&joined) {
        headers.insert(COOKIE, v);
    }
}

#[allow(
    dead_code,
    reason = "kept for the link pages that answer with a cookie"
)]
fn answer_with_cookie(page: PageResponse, cookie: HeaderValue) -> PageResponse {
    with_cookie(page, cookie)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jar_cookies_join_the_pass_list_ones() {
        let mut h = HeaderMap::new();
        append_cookie(&mut h, "RIDSESSID=x");
        assert_eq!(h[COOKIE], "RIDSESSID=x");
        h.insert(COOKIE, HeaderValue::from_static("lang=ru"));
        append_cookie(&mut h, "RIDSESSID=x");
        assert_eq!(h[COOKIE], "lang=ru; RIDSESSID=x");
    }
}
