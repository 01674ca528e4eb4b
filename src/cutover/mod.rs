//! The authorize phase: the cutover calendar and the route groups applied to every
//! proxied request (issue 6; DESIGN.md §4, §7).
//!
//! ```text
//! request ─▶ strip override headers ─▶ canonicalize ──Reject──▶ 400 (reject name logged)
//!                                         │
//!   clock.now() ─▶ phase ─▶ decide(policy, canonical, session view, phase)
//!                                         │
//!        Allow ─▶ method, URI := canonical ones (the diary sees what was matched)
//!    NeedLogin ─▶ 302 {prefix}start?return=<canonical path>
//!  Deny(reason) ─▶ 403 «Доступ к текущей успеваемости закрыт» + metrics + audit
//! ```
//!
//! The phase is computed per request from the injected calendar clock, so a phase change
//! happens at its instant without a restart. The decision is made once, after the
//! identify phase gave the session its diary identity (binding, role, level).

pub mod config;
mod decorate;
pub mod discovery;
pub mod pages;
mod params;
mod request;

use std::net::IpAddr;
use std::sync::Arc;

use http::{Method, Request, Response};

pub use self::config::{BannerSettings, CutoverConfig};
pub use self::decorate::Decorate;
use self::pages::Action;
pub use self::request::view_of;
use self::request::{raw_target, return_path, set_target, without_body};
use crate::body::{Body, Outcome};
use crate::clock::SharedClock;
use crate::inject::banner::{account_switcher, cutover_banner, login_button, transition_banner};
use crate::inject::{Position, Rule};
use crate::language::Language;
use crate::login::ActiveSession;
use crate::metrics::Metrics;
use crate::pages::Templates;
use crate::policy::{
    AccountLevel, CanonicalRequest, Decision, LegacyLogin, Phase, Policy, Reason, SessionView,
    decide_login, strip_overrides,
};
use crate::store::{AuditEvent, AuditKind, SharedStore};

/// What the rest of the pipeline must still do for an allowed request.
pub struct Pending {
    /// Rewrite the diary's HTML answer (banner, login button).
    pub decorate: Option<Decorate>,
    /// A signed-in GET no route group covers: counted under this route if the diary
    /// serves it a page (route discovery; see [`Cutover::discovered`]).
    pub discover: Option<String>,
}

/// Everything [`Cutover::new`] needs besides the config.
pub struct CutoverParts {
    pub config: CutoverConfig,
    /// The calendar's clock (only the calendar: ESIA checks use the real clock).
    pub clock: SharedClock,
    /// The gateway's reserved prefix (`/esia/`).
    pub prefix: String,
    pub language: Language,
    /// The page templates (`[pages]`), for the refusal and error pages.
    pub templates: Arc<Templates>,
    /// True when the ESIA login pages are in the pipeline.
    pub esia_login: bool,
    /// Where denied requests are audited; `None` = log and metrics only.
    pub audit: Option<SharedStore>,
    pub metrics: Arc<Metrics>,
    /// HTML pages rewritten at once (`[limits] max_rewrites`); past it pages pass
    /// through unmodified.
    pub max_rewrites: usize,
}

/// The authorize phase; cheap to share.
pub struct Cutover {
    policy: Policy,
    clock: SharedClock,
    prefix: String,
    language: Language,
    templates: Arc<Templates>,
    /// The diary's login form path, canonical (compared with canonical paths).
    legacy_login_path: String,
    audit: Option<SharedStore>,
    metrics: Arc<Metrics>,
    /// Route discovery's counts (with a store to put them in).
    routes: Option<Arc<discovery::RouteCounter>>,
    /// Refusals audited in the last minute, by who, reason and group: a session that
    /// keeps asking for a refused page costs one store write a minute, not one per
    /// request (the `denied` metric still counts every refusal).
    audited: moka::sync::Cache<(String, &'static str, Option<String>), ()>,
    /// The login button alone; banner + button for legacy sessions; for anonymous.
    button_rules: Arc<[Rule]>,
    /// After the cutover: the button above the login form; with the post-cutover
    /// notice for password sessions (restricted mode).
    first_button_rules: Arc<[Rule]>,
    after_legacy_rules: Arc<[Rule]>,
    legacy_rules: Arc<[Rule]>,
    anonymous_rules: Arc<[Rule]>,
    no_rules: Arc<[Rule]>,
    /// Where the account switcher goes (the banner's place); its HTML names the
    /// session's diary login, so it is made per request — for people with several
    /// diary accounts only.
    switcher_at: Option<Rule>,
    /// Places for HTML rewrites in progress (see [`Decorate`]).
    rewrites: Arc<tokio::sync::Semaphore>,
}

impl Cutover {
    /// Builds the rules and registers the phase gauge's source with `metrics`.
    pub fn new(p: CutoverParts) -> Arc<Self> {
        let banner = &p.config.banner;
        let policy = p.config.policy;
        let rule = |selector: &str, html: String, pos| match Rule::new(selector, html, pos) {
            Ok(r) => Some(r),
            Err(e) => {
                // Validated at load; a programmatic config could still be wrong.
                tracing::error!(selector, error = %e, "injection selector refused; rule dropped");
                None
            }
        };
        // The button starts the ESIA login itself: one click to Госуслуги, not two.
        let button_at = |position| {
            (p.esia_login && banner.login_button)
                .then(|| {
                    rule(
                        &banner.login_form_selector,
                        login_button(&format!("{}login?return=/", p.prefix), p.language),
                        position,
                    )
                })
                .flatten()
        };
        let button = button_at(Position::After);
        // After the cutover the way in comes first: above the password form.
        let button_first = button_at(Position::Before);
        let after_notice = banner
            .enabled
            .then(|| {
                rule(
                    &banner.selector,
                    cutover_banner(
                        policy.calendar.esia_only_from,
                        &format!("{}link/start", p.prefix),
                        p.language,
                    ),
                    Position::Prepend,
                )
            })
            .flatten();
        let notice = |link: String| {
            banner
                .enabled
                .then(|| {
                    rule(
                        &banner.selector,
                        transition_banner(policy.calendar.esia_only_from, &link, p.language),
                        Position::Prepend,
                    )
                })
                .flatten()
        };
        let legacy_notice = notice(format!("{}link/start", p.prefix));
        let anonymous_notice = p
            .esia_login
            .then(|| notice(format!("{}start", p.prefix)))
            .flatten();
        let set =
            |rules: [Option<Rule>; 2]| -> Arc<[Rule]> { rules.into_iter().flatten().collect() };
        let legacy_login_path = policy
            .canonicalize("POST", &banner.legacy_login_path)
            .map(|c| c.path)
            .unwrap_or_else(|_| banner.legacy_login_path.clone());
        let routes = p
            .audit
            .is_some()
            .then(|| Arc::new(discovery::RouteCounter::new(&policy)));
        let audited = moka::sync::Cache::builder()
            .max_capacity(100_000)
            .time_to_live(std::time::Duration::from_secs(60))
            .build();
        let switcher_at = p
            .esia_login
            .then(|| rule(&banner.selector, String::new(), Position::Prepend))
            .flatten();
        let cutover = Arc::new(Self {
            switcher_at,
            first_button_rules: set([button_first.clone(), None]),
            after_legacy_rules: set([after_notice, button_first]),
            audited,
            routes,
            button_rules: set([button.clone(), None]),
            legacy_rules: set([legacy_notice, button.clone()]),
            anonymous_rules: set([anonymous_notice, button]),
            no_rules: set([None, None]),
            policy,
            clock: p.clock,
            prefix: p.prefix,
            language: p.language,
            templates: p.templates,
            legacy_login_path,
            audit: p.audit,
            metrics: p.metrics,
            rewrites: Arc::new(tokio::sync::Semaphore::new(p.max_rewrites)),
        });
        let weak = Arc::downgrade(&cutover);
        cutover
            .metrics
            .set_phase_source(Box::new(move || weak.upgrade().map(|c| c.phase().as_str())));
        cutover.spawn_route_flush();
        cutover
    }

    /// Adds route discovery's counts to the store every minute while this calendar is
    /// in use (the task ends with it).
    fn spawn_route_flush(self: &Arc<Self>) {
        let (Some(store), Some(_)) = (self.audit.clone(), &self.routes) else {
            return;
        };
        if tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(discovery::FLUSH_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(cutover) = weak.upgrade() else {
                    return;
                };
                cutover.flush_routes(&store).await;
            }
        });
    }

    /// Adds the pending route counts to the store now (also on shutdown).
    pub async fn flush_routes(&self, store: &SharedStore) {
        if let Some(routes) = &self.routes {
            routes.flush(store, &self.clock).await;
        }
    }

    /// The diary answered a request [`Pending::discover`] named: counted when it served
    /// a page (200, HTML or JSON), not an asset, a redirect or an error.
    pub fn discovered(&self, route: String, response: &Response<Body>) {
        let Some(routes) = &self.routes else { return };
        let page = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim_start().to_ascii_lowercase())
            .is_some_and(|t| t.starts_with("text/html") || t.starts_with("application/json"));
        if response.status() == http::StatusCode::OK && page {
            routes.count(route);
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Now, by the calendar's (injected) clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// The calendar's phase now, by the injected clock.
    pub fn phase(&self) -> Phase {
        self.policy.phase_at(self.clock.now())
    }

    /// The one reading of the request that identify, authorize and forward share:
    /// override headers stripped, target canonicalised (400 when it cannot be).
    pub fn canonical(&self, req: &mut Request<Body>) -> Outcome<CanonicalRequest> {
        strip_overrides(req.headers_mut(), &[]);
        let raw = raw_target(req);
        let read = self
            .policy
            .canonicalize(req.method().as_str(), &raw)
            .map_err(|reject| {
                tracing::info!(reject = reject.as_str(), method = %req.method(),
                    "request target refused: cannot be canonicalised");
                self.metrics.rejected(reject.as_str());
                let page = crate::pages::error_page(
                    http::StatusCode::BAD_REQUEST,
                    self.language,
                    &self.templates,
                );
                if req.method() == Method::HEAD {
                    without_body(page)
                } else {
                    page
                }
            });
        match read {
            Ok(c) => Outcome::Continue(c),
            Err(page) => Outcome::Answer(page),
        }
    }

    /// Decides one request, once, on the session as identify left it (with its diary
    /// identity); see the module doc. `legacy_login` says the request is a browser POST
    /// to one of the diary's login endpoints.
    pub async fn authorize(
        &self,
        req: Request<Body>,
        canonical: CanonicalRequest,
        session: Option<&ActiveSession>,
        legacy_login: bool,
        client_ip: IpAddr,
    ) -> Outcome<(Request<Body>, Pending)> {
        let head = req.method() == Method::HEAD;
        match self
            .authorize_inner(req, canonical, session, legacy_login, client_ip)
            .await
        {
            // A HEAD answer has no body (HTTP/2 would reset a stream that sends one).
            Outcome::Answer(page) if head => Outcome::Answer(without_body(page)),
            other => other,
        }
    }

    async fn authorize_inner(
        &self,
        req: Request<Body>,
        canonical: CanonicalRequest,
        session: Option<&ActiveSession>,
        legacy_login: bool,
        client_ip: IpAddr,
    ) -> Outcome<(Request<Body>, Pending)> {
        let phase = self.phase();
        let view = view_of(session);
        // Routing parameters the diary may also read from the body and the cookies.
        let names = self.policy.protected_parameters(&canonical);
        let (mut req, deciding) = if names.is_empty() {
            (req, None)
        } else {
            match params::with_body_params(req, &canonical, &names).await {
                Ok((req, deciding)) => (req, Some(deciding)),
                Err(status) => {
                    return Outcome::Answer(crate::pages::error_page(
                        status,
                        self.language,
                        &self.templates,
                    ));
                }
            }
        };
        let legacy_login = legacy_login
            || (canonical.method == Method::POST && canonical.path == self.legacy_login_path);
        let verdict = decide_login(
            &self.policy,
            deciding.as_ref().unwrap_or(&canonical),
            &view,
            phase,
            legacy_login,
        );
        self.metrics.decision(verdict.decision.as_str());
        match verdict.decision {
            Decision::Allow => {}
            Decision::NeedLogin => {
                let back = return_path(&canonical);
                tracing::debug!(path = %canonical.path, group = ?verdict.group, "sign-in needed");
                return Outcome::Answer(pages::redirect(&pages::start_url(&self.prefix, &back)));
            }
            Decision::Deny(reason) => {
                let (required, group) = (verdict.required_level, verdict.group);
                return Outcome::Answer(
                    self.refuse(
                        reason, required, &canonical, &view, group, session, client_ip,
                    )
                    .await,
                );
            }
        }
        // Forward exactly what was decided on: the canonical method and target.
        *req.method_mut() = canonical.method.clone();
        set_target(&mut req, &canonical.forward_target);
        let mut rules = self.rules_for(phase, &view);
        if let Some(switcher) = self.switcher_for(session, &canonical) {
            rules = std::iter::once(switcher)
                .chain(rules.iter().cloned())
                .collect();
        }
        let decorate = (!rules.is_empty() && decorate::shown_as_page(req.headers()))
            .then(|| Decorate::prepare(&canonical.method, req.headers_mut(), rules))
            .map(|d| d.with_slots(self.rewrites.clone(), self.metrics.clone()));
        let discover = match (&self.routes, verdict.group, &view) {
            (Some(routes), None, SessionView::Legacy { .. } | SessionView::EsiaLinked { .. })
                if canonical.method == Method::GET =>
            {
                Some(routes.route(&self.policy, &canonical))
            }
            _ => None,
        };
        Outcome::Continue((req, Pending { decorate, discover }))
    }

    /// The account switcher, for an ESIA session whose person has several diary
    /// accounts; «Сменить» leads to the chooser and back to this page.
    fn switcher_for(
        &self,
        session: Option<&ActiveSession>,
        canonical: &CanonicalRequest,
    ) -> Option<Rule> {
        let at = self.switcher_at.as_ref()?;
        let s = session.filter(|s| s.diary_accounts > 1 && s.auth_method == "esia")?;
        let login = s.diary_login.as_deref()?;
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("return", &return_path(canonical));
        let url = format!("{}accounts?{}", self.prefix, q.finish());
        Some(Rule {
            selector: at.selector.clone(),
            html: account_switcher(login, &url, self.language).into(),
            position: at.position,
        })
    }

    /// What the diary's HTML answer gets. An ESIA session has nothing to be told — no
    /// banner, and no «Войти через Госуслуги» (it signed in through it): its pages are
    /// not rewritten at all, the path most requests take pays nothing for the rewriter.
    fn rules_for(&self, phase: Phase, view: &SessionView) -> Arc<[Rule]> {
        match (phase, view) {
            (_, SessionView::EsiaLinked { .. } | SessionView::EsiaUnlinked { .. }) => {
                self.no_rules.clone()
            }
            (Phase::Transition, SessionView::Legacy { .. }) => self.legacy_rules.clone(),
            (Phase::Transition, SessionView::Anonymous) => self.anonymous_rules.clone(),
            (Phase::Cutover(LegacyLogin::Restricted), SessionView::Legacy { .. }) => {
                self.after_legacy_rules.clone()
            }
            (Phase::Cutover(_), _) => self.first_button_rules.clone(),
            _ => self.button_rules.clone(),
        }
    }

    /// The refusal: log, metrics, audit, page.
    #[allow(clippy::too_many_arguments, reason = "one call site per decision path")]
    async fn refuse(
        &self,
        reason: Reason,
        required: Option<AccountLevel>,
        canonical: &CanonicalRequest,
        view: &SessionView,
        group: Option<&str>,
        session: Option<&ActiveSession>,
        client_ip: IpAddr,
    ) -> Response<Body> {
        let phase = self.phase();
        tracing::info!(reason = reason.as_str(), group = ?group, phase = phase.as_str(),
            session = view.kind(), method = %canonical.method, path = %canonical.path,
            "request denied");
        self.metrics.denied(reason.as_str());
        let who = session
            .and_then(|s| s.diary_login.clone())
            .or_else(|| session.and_then(|s| s.esia_oid).map(|o| format!("oid:{o}")))
            .unwrap_or_else(|| format!("ip:{client_ip}"));
        let first_this_minute = {
            let key = (who, reason.as_str(), group.map(str::to_owned));
            let fresh = !self.audited.contains_key(&key);
            if fresh {
                self.audited.insert(key, ());
            }
            fresh
        };
        if let Some(store) = self.audit.as_ref().filter(|_| first_this_minute) {
            let mut event = AuditEvent::new(self.clock.now(), AuditKind::Denied);
            event.esia_oid = session.and_then(|s| s.esia_oid);
            event.diary_login = session.and_then(|s| s.diary_login.clone());
            event.client_ip = Some(client_ip.to_string());
            event.detail = serde_json::json!({
                "reason": reason.as_str(),
                "group": group,
                "phase": phase.as_str(),
                "session": view.kind(),
                "method": canonical.method.as_str(),
                "path": canonical.path,
            });
            if let Err(e) = store.append_audit(&event).await {
                tracing::warn!(error = %e, "cannot write the audit event of a denied request");
            }
        }
        let action = match (reason, view) {
            (Reason::LegacyLoginDisabled, _) | (_, SessionView::Anonymous) => Action::EsiaLogin,
            (Reason::EsiaNotLinked, _) => Action::LinkForm,
            (Reason::LevelTooLow, _) => Action::None,
            (_, SessionView::Legacy { .. }) => Action::Link,
            _ => Action::None,
        };
        pages::denied(
            reason,
            required,
            action,
            &self.prefix,
            &return_path(canonical),
            self.language,
            &self.templates,
        )
    }
}

#[cfg(test)]
mod tests;
