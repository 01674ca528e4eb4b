//! Linking ESIA accounts to diary accounts, and signing users into the unmodified diary
//! (issue 5; DESIGN.md §3 and §5).
//!
//! Where it sits in the proxy pipeline:
//!
//! ```text
//! route ─▶ [link pages?] ─▶ authenticate ─▶ prepare ─▶ [authorize] ─▶ forward ─▶ finish
//!            /esia/link          login.front    │                         │
//!            /esia/link/start                   │ diary identity:         │ Set-Cookie → jar,
//!                                               │ binding → vault → sign  │ diary session over?
//!                                               │ in → role → level;      │ → sign in again and
//!                                               │ jar or assertion added; │ repeat (GET/HEAD);
//!                                               │ legacy login captured;  │ legacy login → new
//!                                               │ diary logout → single   │ legacy session
//!                                               │ logout                  │
//! ```
//!
//! - [`Link::page`] answers the link pages: the seed 000 form (Flow A) and
//!   «выполнить привязку к ЕСИА» (Flow B, `link/start`, finished in the ESIA callback
//!   through [`crate::login::ports::LinkCallback`]).
//! - [`Link::prepare`] runs for every proxied request: it gives the request its diary
//!   identity or answers with a page (link form, level page, …).
//! - [`Link::finish`] runs on the diary's answer; it may ask the proxy to send a
//!   rebuilt request once more ([`Finish::Retry`]) after a transparent re-login.
//!
//! In `form` mode the browser never holds a diary cookie: the diary's cookies live in a
//! jar sealed with the vault key and bound to the gateway session.

mod audit;
pub mod config;
mod flow_b;
mod form;
mod forward;
pub mod http;
mod identity;
mod jar_store;
mod legacy;
pub mod levels;
pub mod pages;
pub mod setup;
mod texts;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use ::http::{HeaderMap, Method, Request, Response, Uri};

use self::config::LinkSettings;
use self::http::UpstreamDiary;
use self::pages::LinkPages;
use crate::clock::SharedClock;
use crate::diary::assertion::Assertions;
use crate::diary::config::{DiaryConfig, SignInMode};
use crate::diary::jar::Jar;
use crate::diary::vault::Vault;
use crate::login::ActiveSession;
use crate::login::IdentityProvider;
use crate::login::pages::PageResponse;
use crate::proxy::body::Body;
use crate::session::{SessionId, Sessions};
use crate::store::SharedStore;

/// Everything the link service is built from.
pub struct LinkParts {
    pub settings: LinkSettings,
    pub diary: DiaryConfig,
    /// Reserved prefix of the gateway's pages (`/esia/`), as validated by `login`.
    pub prefix: String,
    /// The gateway's session cookie name (`__Host-esia-gw`).
    pub session_cookie: String,
    pub language: crate::config::Language,
    /// The public origin, for ESIA's logout return; else the request's `Host`.
    pub public_url: Option<url::Url>,
    /// How long a Flow B round trip to ESIA may take.
    pub flow_ttl: Duration,
    pub store: SharedStore,
    pub sessions: Arc<Sessions>,
    /// Required in `form` mode (passwords and jars are sealed with it).
    pub vault: Option<Arc<Vault>>,
    pub upstream: crate::proxy::upstream::Upstream,
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
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("prefix", &self.prefix)
            .field("mode", &self.diary.mode)
            .finish_non_exhaustive()
    }
}

/// What [`Link::prepare`] decided.
#[allow(
    clippy::large_enum_variant,
    reason = "built once per request and moved straight into the pipeline"
)]
pub enum Step {
    /// Answer with this page; nothing goes to the diary.
    Answer(PageResponse),
    /// Forward this request, then call [`Link::finish`] with the plan. For the
    /// authorize seam after this step: an ESIA session that gets here has a diary
    /// identity and passed the level check (unlinked ones were answered with the link
    /// page), so the session kinds the policy sees are anonymous, legacy, esia-linked.
    Forward(Request<Body>, Plan),
}

/// What [`Link::finish`] decided.
pub enum Finish {
    Done(Response<Body>),
    /// The diary session was renewed: send this rebuilt request and finish again.
    Retry(Request<Body>),
}

/// What `finish` must do with the diary's answer to one request.
pub struct Plan {
    kind: PlanKind,
    /// Set once a transparent re-login has been tried (never twice per request).
    retried: bool,
    /// The request head, to rebuild a GET/HEAD after a re-login.
    replay: Option<(Method, Uri, HeaderMap)>,
    client_ip: IpAddr,
    /// The request path (default path of cookies set without `Path`).
    path: String,
}

enum PlanKind {
    /// No diary identity: diary cookies do not reach the browser (form mode).
    Plain,
    /// Passed through as is (header mode).
    Untouched,
    /// A form-mode session with its jar.
    Jar { id: SessionId, jar: Jar },
    /// A POST of the diary's own login form: on success, a legacy session.
    LegacyLogin {
        login: String,
        previous: Option<SessionId>,
    },
}

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
        })
    }

    fn form_mode(&self) -> bool {
        matches!(self.diary.mode, SignInMode::Form)
    }

    /// True for the link pages under the reserved prefix.
    pub fn owns(&self, path: &str) -> bool {
        path.strip_prefix(&self.prefix)
            .is_some_and(|rest| rest == "link" || rest == "link/start")
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
            _ => {
                let t = self.pages.texts();
                let mut resp = self.pages.refusal(
                    ::http::StatusCode::METHOD_NOT_ALLOWED,
                    t.method_title,
                    t.method_text,
                    "method-not-allowed",
                );
                let allow = if page == "link" { "GET, POST" } else { "GET" };
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
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    s.append_pair("return", return_path);
    format!("{prefix}link?{}", s.finish())
}
