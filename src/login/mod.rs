//! «Войти через Госуслуги»: the gateway's own pages under the reserved prefix
//! (default `/esia/`) and the seam the proxy calls first on every request.
//!
//! ```text
//! browser ──▶ front() ──┬─ path under prefix ─▶ start | login | callback | logout  (answered here)
//!                       └─ otherwise ─────────▶ session cookie → ActiveSession (cache-backed),
//!                                                gateway cookies stripped → proxy
//! ```
//!
//! Flow: `GET start` shows the button; `GET login` creates a state (UUID v4) and a flow
//! record bound to a per-flow `__Host-` cookie, then 302 to ESIA; `GET callback` checks
//! the state against that cookie (constant time), takes the flow once, exchanges the code
//! (ESIA client), creates a session with a NEW id and 302s to the validated return path;
//! `GET logout` asks, `POST logout` (CSRF token) ends the session and sends the browser
//! to ESIA's logout. Everything ESIA-specific sits behind [`ports::IdentityProvider`],
//! everything stored behind [`ports::SessionBackend`].

pub mod adapters;
pub mod config;
pub mod cookies;
mod flow;
mod logout;
pub mod origin;
pub mod pages;
pub mod ports;
pub mod return_path;
mod start_limit;
#[cfg(test)]
mod tests;
mod texts;
pub mod view;

use std::sync::Arc;
use std::time::Duration;

use http::{Method, Request};
use url::Url;

use crate::clock::SharedClock;
use crate::language::Language;
use cookies::CookieNames;
use pages::{PageResponse, Pages, Problem};
pub use ports::{ActiveSession, IdentityProvider, SessionBackend};
pub use view::session_view;

/// Settings of the login pages (the `[login]`-ish part of the config).
#[derive(Debug, Clone)]
pub struct LoginSettings {
    /// Reserved prefix, starts and ends with `/`; default `/esia/`.
    pub prefix: String,
    pub cookies: CookieNames,
    /// How long a started login may take before its flow expires.
    pub flow_ttl: Duration,
    pub language: Language,
    /// The origin browsers use; ESIA's logout returns there. When absent, the request's
    /// `Host` (validated) is used.
    pub public_url: Option<Url>,
    /// Where the diary's own login form is, shown on the start page while the calendar
    /// still allows legacy logins; `None` hides the link.
    pub legacy_login_url: Option<String>,
    /// ESIA logins one client address may start per minute; more → 429.
    pub starts_per_minute: u32,
    /// The origin of ESIA's `redirect_uri`. A login started on another name (an
    /// address, an alias) is sent there first: the flow cookie must live on the origin
    /// ESIA returns to, or the callback finds no flow.
    pub callback_origin: Option<Url>,
}

impl Default for LoginSettings {
    fn default() -> Self {
        Self {
            prefix: "/esia/".into(),
            cookies: CookieNames::default(),
            flow_ttl: Duration::from_secs(600),
            language: Language::Ru,
            public_url: None,
            legacy_login_url: None,
            starts_per_minute: 30,
            callback_origin: None,
        }
    }
}

/// Why the login service could not be built.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("login prefix {0:?} must start and end with '/' and contain only [A-Za-z0-9_.-/]")]
    BadPrefix(String),
    #[error("session cookie name {0:?} must start with __Host- and be a plain token")]
    BadCookieName(String),
    #[error("login page templates: {0}")]
    Templates(#[from] minijinja::Error),
}

/// What the proxy does with a request after [`Login::front`].
#[allow(
    clippy::large_enum_variant,
    reason = "built once per request and moved straight into the pipeline"
)]
pub enum Front<B> {
    /// A login page or redirect: send it, do not proxy.
    Answered(PageResponse),
    /// Proxy the request (gateway cookies removed) with the session it carries, if any.
    Proxy {
        request: Request<B>,
        session: Option<ActiveSession>,
    },
}

/// The login service: pages, flows, sessions. Cheap to share (`Arc`).
pub struct Login {
    settings: LoginSettings,
    pages: Pages,
    idp: Arc<dyn IdentityProvider>,
    backend: Arc<dyn SessionBackend>,
    clock: SharedClock,
    /// Finishes «выполнить привязку к ЕСИА» flows (issue 5); `None` without linking.
    link: Option<Arc<dyn ports::LinkCallback>>,
    /// `[login] starts_per_minute` per client address.
    starts: start_limit::StartLimit,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Login {
    pub fn new(
        settings: LoginSettings,
        idp: Arc<dyn IdentityProvider>,
        backend: Arc<dyn SessionBackend>,
        clock: SharedClock,
    ) -> Result<Self, LoginError> {
        let p = &settings.prefix;
        let prefix_ok = p.len() >= 2
            && p.starts_with('/')
            && p.ends_with('/')
            && !p.contains("//")
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-/".contains(&b));
        if !prefix_ok {
            return Err(LoginError::BadPrefix(p.clone()));
        }
        let name = &settings.cookies.session;
        let name_ok = name.starts_with("__Host-")
            && !name.starts_with(cookies::FLOW_COOKIE_PREFIX)
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-".contains(&b));
        if !name_ok {
            return Err(LoginError::BadCookieName(name.clone()));
        }
        let pages = Pages::new(settings.language, &settings.prefix)?;
        let starts = start_limit::StartLimit::new(settings.starts_per_minute);
        Ok(Self {
            starts,
            settings,
            pages,
            idp,
            backend,
            clock,
            link: None,
        })
    }

    /// Renders the pages from `templates` (`[pages] templates`, followed across reloads).
    pub fn with_templates(mut self, templates: crate::pages::LiveTemplates) -> Self {
        self.pages = self.pages.with_templates(templates);
        self
    }

    /// Lets ESIA callbacks of link flows finish in the link service (issue 5).
    pub fn with_link(mut self, link: Arc<dyn ports::LinkCallback>) -> Self {
        self.link = Some(link);
        self
    }

    pub fn settings(&self) -> &LoginSettings {
        &self.settings
    }

    /// True when `path` belongs to the login pages.
    pub fn owns(&self, path: &str) -> bool {
        let bare = self.settings.prefix.trim_end_matches('/');
        path == bare || path.starts_with(&self.settings.prefix)
    }

    /// The proxy's first phase: answer login pages, or resolve the session and strip
    /// the gateway's cookies from the request that goes on to the diary.
    pub async fn front<B>(&self, request: Request<B>) -> Front<B>
    where
        B: http_body::Body + Send + Unpin,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        if self.owns(request.uri().path()) {
            return Front::Answered(self.handle(request).await);
        }
        let (mut parts, body) = request.into_parts();
        let session = self.session_of(&parts.headers).await;
        cookies::strip_gateway_cookies(&mut parts.headers, &self.settings.cookies);
        Front::Proxy {
            request: Request::from_parts(parts, body),
            session,
        }
    }

    /// Lets the gateway's pages in `headers` send forms that end at ESIA (see
    /// [`crate::pages::kit::allow_forms_to`]).
    pub fn allow_forms_to_esia(&self, headers: &mut http::HeaderMap) {
        if !crate::pages::kit::is_own_page(headers) {
            return;
        }
        let targets = self.idp.form_targets();
        let targets: Vec<&Url> = targets.iter().collect();
        crate::pages::kit::allow_forms_to(headers, &targets);
    }

    /// The live session the request's cookie names, if any. A store failure counts as
    /// no session (the request goes on anonymous; the calendar decides what that may see).
    pub async fn session_of(&self, headers: &http::HeaderMap) -> Option<ActiveSession> {
        // Only the first well-formed value is looked up: a browser holds one
        // `__Host-` session cookie; a request with hundreds of made-up ones costs at
        // most one store query (and the session cache remembers unknown ids).
        let value = cookies::cookie_values(headers, &self.settings.cookies.session)
            .into_iter()
            .find(|v| cookies::plausible_session_value(v))?;
        match self.backend.resolve(&value).await {
            Ok(session) => session,
            Err(err) => {
                tracing::warn!(error = %err, "session lookup failed; treating as anonymous");
                None
            }
        }
    }

    /// Answers a request under the reserved prefix.
    pub async fn handle<B>(&self, request: Request<B>) -> PageResponse
    where
        B: http_body::Body + Send + Unpin,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let path = request.uri().path();
        let page = path
            .strip_prefix(&self.settings.prefix)
            .unwrap_or("")
            .to_owned();
        let method = request.method().clone();
        match (page.as_str(), &method) {
            ("start" | "", &Method::GET | &Method::HEAD) => self.start_page(&request).await,
            // GET only: a HEAD (link prefetchers, monitors) must not create flows.
            ("login", &Method::GET) => self.begin(&request).await,
            ("callback", &Method::GET) => self.callback(&request).await,
            ("logout", &Method::GET) => self.logout_page(request).await,
            // HEAD (link prefetchers) never logs out: at most the confirmation.
            ("logout", &Method::HEAD) => match self.session_of(request.headers()).await {
                Some(s) => self.pages.logout_confirm(&s.csrf_token),
                None => pages::redirect(&format!("{}start", self.settings.prefix)),
            },
            ("logout", &Method::POST) => self.logout(request).await,
            ("start" | "" | "login" | "callback" | "logout", _) => {
                let t = self.pages.texts();
                let mut resp = self.pages.problem(&Problem::new(
                    http::StatusCode::METHOD_NOT_ALLOWED,
                    t.method_title,
                    t.method_text,
                ));
                let allow = if page == "logout" { "GET, POST" } else { "GET" };
                resp.headers_mut()
                    .insert(http::header::ALLOW, http::HeaderValue::from_static(allow));
                resp
            }
            _ => {
                let t = self.pages.texts();
                self.pages.problem(&Problem::new(
                    http::StatusCode::NOT_FOUND,
                    t.not_found_title,
                    t.not_found_text,
                ))
            }
        }
    }
}

/// One query parameter; `None` when absent or given more than once (ambiguous input is
/// refused rather than guessed at).
pub(crate) fn single_param(query: Option<&str>, name: &str) -> Option<String> {
    let mut found = None;
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if k == name {
            if found.is_some() {
                return None;
            }
            found = Some(v.into_owned());
        }
    }
    found
}
