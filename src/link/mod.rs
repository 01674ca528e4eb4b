//! Linking ESIA accounts to diary accounts, and signing users into the unmodified diary
//! (issue 5; DESIGN.md §3 and §5).
//!
//! Where it sits in the proxy pipeline:
//!
//! ```text
//! route ─▶ authenticate ─▶ identify ─────────────▶ authorize ─▶ attach ─▶ forward ─▶ finish
//!   [link pages]   login.front   │ one session lookup;          (cutover)  jar or     │ Set-Cookie → jar;
//!   /esia/link                   │ ESIA without diary identity:            assertion  │ session cookie changed
//!   /esia/link/start             │ binding → vault → sign in →                        │ → probe: same / other
//!                                │ probe → level; login POST                          │ user / none; expired →
//!                                │ read like PHP; logout                              │ heal once (ESIA only);
//!                                │ endpoint → single logout                           │ legacy login → probe →
//!                                                                                     │ legacy session
//! ```
//!
//! - [`Link::page`] answers the link pages: the seed 000 form (Flow A) and
//!   «выполнить привязку к ЕСИА» (Flow B, `link/start`, finished in the ESIA callback
//!   through [`crate::login::ports::LinkCallback`]).
//! - [`Link::identify`], [`Link::attach`] and [`Link::finish`] run for every proxied
//!   request (see `forward.rs`); `finish` may ask the proxy to send a GET/HEAD once more
//!   ([`Finish::Resend`]) after a transparent re-login, never more.
//!
//! In `form` mode the browser never holds a diary cookie: the diary's cookies live in a
//! jar sealed with the vault key and bound to the gateway session.

mod accounts;
mod audit;
pub mod config;
mod confirm;
mod flow_b;
mod form;
mod forward;
pub mod http;
mod identity;
mod jar_store;
mod legacy;
mod limits;
pub mod pages;
mod person_check;
mod prelogin;
pub(crate) mod texts;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use ::http::{Method, Request};

use self::config::LinkSettings;
use self::http::UpstreamDiary;
use self::pages::LinkPages;
use crate::clock::SharedClock;
use crate::diary::assertion::Assertions;
use crate::diary::config::{DiaryConfig, SignInMode};
use crate::diary::vault::Vault;
use crate::login::ActiveSession;
use crate::login::IdentityProvider;
use crate::pages::PageResponse;
use crate::session::Sessions;
use crate::store::SharedStore;

/// Everything the link service is built from.
pub struct LinkParts {
    pub settings: LinkSettings,
    pub diary: DiaryConfig,
    /// Reserved prefix of the gateway's pages (`/esia/`), as validated by `login`.
    pub prefix: String,
    /// The gateway's session cookie name (`__Host-esia-gw`).
    pub session_cookie: String,
    pub language: crate::language::Language,
    /// The public origin, for ESIA's logout return; else the request's `Host`.
    pub public_url: Option<url::Url>,
    /// How long a Flow B round trip to ESIA may take.
    pub flow_ttl: Duration,
    pub store: SharedStore,
    pub sessions: Arc<Sessions>,
    /// Required in `form` mode (passwords and jars are sealed with it).
    pub vault: Option<Arc<Vault>>,
    pub upstream: crate::upstream::Upstream,
    pub idp: Arc<dyn IdentityProvider>,
    pub clock: SharedClock,
}

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error(
        "form mode needs a [vault] key: the diary passwords and cookie jars are sealed with it"
    )]
    NoVault,
    #[error("header mode assertion key: {0}")]
    Assertion(#[from] crate::diary::assertion::AssertionError),
    #[error("link page templates: {0}")]
    Templates(#[from] minijinja::Error),
}

/// The link service; shared by all connections behind an `Arc`.
pub struct Link {
    settings: LinkSettings,
    diary: DiaryConfig,
    prefix: String,
    session_cookie: String,
    public_url: Option<url::Url>,
    flow_ttl: Duration,
    store: SharedStore,
    sessions: Arc<Sessions>,
    vault: Option<Arc<Vault>>,
    assertions: Option<Assertions>,
    http: UpstreamDiary,
    idp: Arc<dyn IdentityProvider>,
    pages: LinkPages,
    clock: SharedClock,
    prelogin: prelogin::PreLogins,
    /// Session jars when there is no vault to seal them with (header mode).
    memory_jars: moka::sync::Cache<[u8; 32], crate::diary::jar::Jar>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("prefix", &self.prefix)
            .field("mode", &self.diary.mode)
            .finish_non_exhaustive()
    }
}

pub use self::forward::{Finish, Identified, Plan};

impl Link {
    pub fn new(p: LinkParts) -> Result<Self, LinkError> {
        let assertions = match &p.diary.mode {
            SignInMode::Form => {
                if p.vault.is_none() {
                    return Err(LinkError::NoVault);
                }
                None
            }
            SignInMode::Header(h) => Some(Assertions::from_pem_file(
                &h.key,
                h.alg,
                h.name.clone(),
                h.ttl,
            )?),
        };
        Ok(Self {
            pages: LinkPages::new(p.language, &p.prefix)?,
            settings: p.settings,
            diary: p.diary,
            prefix: p.prefix,
            session_cookie: p.session_cookie,
            public_url: p.public_url,
            flow_ttl: p.flow_ttl,
            store: p.store,
            sessions: p.sessions,
            vault: p.vault,
            assertions,
            http: UpstreamDiary::new(p.upstream),
            idp: p.idp,
            clock: p.clock,
            prelogin: prelogin::PreLogins::default(),
            memory_jars: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(Duration::from_secs(12 * 3600))
                .build(),
        })
    }

    /// Renders the pages from `templates` (`[pages] templates`, followed across reloads).
    pub fn with_templates(mut self, templates: crate::pages::LiveTemplates) -> Self {
        self.pages = self.pages.with_templates(templates);
        self
    }

    fn form_mode(&self) -> bool {
        matches!(self.diary.mode, SignInMode::Form)
    }

    /// True for the link pages under the reserved prefix.
    pub fn owns(&self, path: &str) -> bool {
        path.strip_prefix(&self.prefix)
            .is_some_and(|rest| matches!(rest, "link" | "link/start" | "link/confirm" | "accounts"))
    }

    /// Answers a link page (`owns` said yes). `session` is the browser's live session.
    pub async fn page<B>(
        &self,
        req: Request<B>,
        session: Option<ActiveSession>,
        client_ip: IpAddr,
    ) -> PageResponse
    where
        B: http_body::Body + Send + Unpin,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let page = req
            .uri()
            .path()
            .strip_prefix(&self.prefix)
            .unwrap_or("")
            .to_owned();
        match (page.as_str(), req.method()) {
            ("link", &Method::GET | &Method::HEAD) => self.link_form_page(&req, session).await,
            ("link", &Method::POST) => self.link_submit(req, session, client_ip).await,
            ("link/start", &Method::GET) => self.flow_b_start(&req, session).await,
            ("link/confirm", &Method::GET | &Method::HEAD) => self.confirm_page(session).await,
            ("link/confirm", &Method::POST) => self.confirm_submit(req, session).await,
            ("accounts", &Method::GET | &Method::HEAD) => self.accounts_page(&req, session).await,
            ("accounts", &Method::POST) => self.accounts_choose(req, session, client_ip).await,
            _ => {
                let t = self.pages.texts();
                let mut resp = self.pages.refusal(
                    ::http::StatusCode::METHOD_NOT_ALLOWED,
                    t.method_title,
                    t.method_text,
                    "method-not-allowed",
                );
                let allow = if page == "link" || page == "link/confirm" {
                    "GET, POST"
                } else {
                    "GET"
                };
                resp.headers_mut().insert(
                    ::http::header::ALLOW,
                    ::http::HeaderValue::from_static(allow),
                );
                resp
            }
        }
    }
}

/// `<prefix>link?return=<path>`, the return path percent-encoded.
fn link_url(prefix: &str, return_path: &str) -> String {
    link_url_for(prefix, return_path, None)
}

/// The link form, for diary account `login` when given (linked before, its password
/// needed once more).
fn link_url_for(prefix: &str, return_path: &str, login: Option<&str>) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    s.append_pair("return", return_path);
    if let Some(login) = login {
        s.append_pair("login", login);
    }
    format!("{prefix}link?{}", s.finish())
}
