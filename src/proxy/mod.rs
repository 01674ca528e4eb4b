//! The request pipeline: every browser request passes these phases, in order.
//!
//! ```text
//! route ─▶ authenticate ─▶ identify ─▶ authorize ─▶ attach ─▶ forward ─▶ answer ─▶ finish
//! ```
//! Each phase continues with a value or answers ([`Outcome`]); none re-enters an
//! earlier one. The only repeat is inside forward: after the link phase renewed an
//! expired diary session, a GET/HEAD is sent once more.
//! - **route**: check the head (size limits → 414/431, `Host` → 400, target → 400,
//!   declared body size → 413) and decide what kind of request this is.
//! - **authenticate**: [`Login::front`] answers the login pages under the reserved
//!   prefix, resolves the session cookie (cache-backed) and strips the gateway's cookies.
//! - **identify**: [`Link::identify`]: the session's record with its diary identity
//!   (an ESIA session is signed into the diary from its binding here), a login POST read
//!   as the diary reads it, a logout endpoint answered with the single logout.
//! - **authorize**: the cutover calendar and route groups ([`crate::cutover`]), once, on
//!   the canonical target (400 when there is none) and the identified session: the
//!   sign-in redirect or the refusal page, else the request goes on with its canonical
//!   method and target (and its HTML answer may be decorated).
//! - **attach**: [`Link::attach`] puts the diary identity on the request (the jar's
//!   cookies, or the signed assertion).
//! - **forward**: clean the headers (hop-by-hop, hygiene, forwarding, Host) and stream
//!   the body to the diary under the size limit; then **answer**: drop the diary's
//!   hop-by-hop headers, rewrite its redirect targets, join websocket tunnels.
//! - **finish**: one access-log line and the metrics when the body is done ([`finish`]).
//!
//! [`Proxy::handle`] is the only place an error becomes a response: the inner function
//! uses `?`, the outer one logs the error once and answers with the error page.

pub use crate::body;
pub mod error;
pub mod finish;
pub mod headers;
pub mod upgrade;
pub use crate::upstream;

use std::any::Any;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use http::header::CONTENT_LENGTH;
use http::{Method, Request, Response, StatusCode, Version};
use hyper::body::Incoming;

use self::body::Body;
use self::error::ProxyError;
use self::headers::hygiene::Sanitizer;
use self::headers::rewrite::Origins;
use self::headers::{forwarded, hop, host, hygiene, rewrite};
use crate::body::Outcome;
use arc_swap::{ArcSwap, ArcSwapOption};

use crate::config::GatewayConfig;
use crate::cutover::Cutover;
use crate::link::{Finish, Link};
use crate::login::{Front, Login};
use crate::metrics::Metrics;
use crate::shutdown::ShutdownSignal;
use crate::upstream::Upstream;

/// One year, as browsers and the HSTS preload list expect.
const HSTS: &str = "max-age=31536000";

/// A page the gateway answered itself.
fn answered(page: crate::pages::PageResponse) -> Forwarded {
    Forwarded {
        response: page.map(body::boxed),
        upstream_status: None,
    }
}

/// A response the gateway made itself (authorize phase).
fn own_page(response: Response<Body>) -> Forwarded {
    Forwarded {
        response,
        upstream_status: None,
    }
}

/// The per-connection facts a request comes with.
pub struct Client {
    pub peer: SocketAddr,
    /// Kept alive until the response body is done (see [`finish::Record::hold`]).
    pub hold: Option<Box<dyn Any + Send>>,
}

/// Shared by all connections; cheap to call concurrently.
pub struct Proxy {
    /// The configuration and the calendar a SIGHUP may replace (see [`Live`]).
    live: Arc<Live>,
    upstream: Upstream,
    sanitizer: Sanitizer,
    metrics: Arc<Metrics>,
    shutdown: ShutdownSignal,
    /// The login pages and session lookup (authenticate phase); `None` = plain proxy.
    login: Option<Arc<Login>>,
    /// Linking and the diary identity (issue 5); needs `login`.
    link: Option<Arc<Link>>,
    /// How targets are read when there is no calendar (identify still needs them).
    canon: crate::policy::CanonConfig,
}

/// What a reload replaces while the gateway serves, each swapped atomically: a request
/// reads both once, at its start, and keeps them to its end.
pub struct Live {
    /// The validated configuration (limits, pages, forwarding, … — the sections a
    /// reload may change; the others keep their running values, see `server`).
    pub config: ArcSwap<GatewayConfig>,
    /// The authorize phase (calendar, route groups, banner); `None` = transparent.
    pub cutover: ArcSwapOption<Cutover>,
}

impl Live {
    pub fn new(config: Arc<GatewayConfig>, cutover: Option<Arc<Cutover>>) -> Arc<Self> {
        Arc::new(Self {
            config: ArcSwap::new(config),
            cutover: ArcSwapOption::new(cutover),
        })
    }
}

/// What the route phase learned about a request.
#[derive(Clone)]
struct Route {
    client_host: String,
    websocket: bool,
    /// The request's configuration snapshot.
    config: Arc<GatewayConfig>,
}

/// What forwarding produced: the diary's answer and what is needed to pass it on.
struct Sent {
    response: Response<Incoming>,
    client_upgrade: Option<hyper::upgrade::OnUpgrade>,
    upstream_host: String,
}

/// A forwarded exchange: the response for the browser and the diary's status (`None`
/// when the gateway answered itself, e.g. a login page).
struct Forwarded {
    response: Response<Body>,
    upstream_status: Option<StatusCode>,
}

impl Proxy {
    pub fn new(
        live: Arc<Live>,
        upstream: Upstream,
        metrics: Arc<Metrics>,
        shutdown: ShutdownSignal,
    ) -> Self {
        Self {
            live,
            upstream,
            sanitizer: Sanitizer::default(),
            metrics,
            shutdown,
            login: None,
            link: None,
            // The diary's login/logout endpoints compare case-insensitively by
            // themselves; paths are forwarded as sent.
            canon: crate::policy::CanonConfig::default(),
        }
    }

    /// Adds the link pages and the diary-identity step around forwarding (issue 5).
    pub fn with_link(mut self, link: Arc<Link>) -> Self {
        self.link = Some(link);
        self
    }

    /// Adds the authenticate phase: login pages under the reserved prefix, session
    /// lookup and gateway-cookie stripping for everything else.
    pub fn with_login(mut self, login: Arc<Login>) -> Self {
        self.login = Some(login);
        self
    }

    /// Replaces the header-cleaning step (later phases add identity headers to strip).
    pub fn with_sanitizer(mut self, sanitizer: Sanitizer) -> Self {
        self.sanitizer = sanitizer;
        self
    }

    pub fn upstream(&self) -> &Upstream {
        &self.upstream
    }

    /// Answers one request; never fails, never panics on client or diary input.
    pub async fn handle(&self, req: Request<Incoming>, client: Client) -> Response<Body> {
        // The settings this request keeps to its end, whatever a reload does meanwhile.
        let config = self.live.config.load_full();
        let cutover = self.live.cutover.load_full();
        // Who the client is (the forwarded address behind a trusted proxy), once: rate
        // limits, audit events and the access log all key on it.
        let client_ip = forwarded::client_address(
            req.headers(),
            client.peer.ip(),
            &config.forwarding.trusted_proxies,
        );
        let mut record = finish::Record {
            method: req.method().clone(),
            // Only the access log reads it: no copy per request when it is off.
            path: if config.log.access_log {
                req.uri().path().to_owned()
            } else {
                String::new()
            },
            status: StatusCode::OK,
            client_ip,
            upstream_status: None,
            started: Instant::now(),
            bytes: 0,
            access_log: config.log.access_log,
            metrics: self.metrics.clone(),
            hold: client.hold,
        };
        let response = match self
            .handle_inner(req, client.peer, client_ip, &config, cutover.as_ref())
            .await
        {
            Ok(fwd) => {
                record.upstream_status = fwd.upstream_status;
                fwd.response
            }
            Err(e) => {
                let status = e.status();
                if status.is_server_error() {
                    tracing::warn!(error = %e, status = status.as_u16(), "request failed");
                } else {
                    tracing::debug!(error = %e, status = status.as_u16(), "request refused");
                }
                e.into_response(&config.pages)
            }
        };
        let mut response = response;
        if let Some(login) = &self.login {
            login.allow_forms_to_esia(response.headers_mut());
        }
        if config.tls.hsts
            && !response
                .headers()
                .contains_key(http::header::STRICT_TRANSPORT_SECURITY)
        {
            // Every answer on the HTTPS listener, the gateway's own pages included: a
            // browser that saw it never tries plain HTTP for this host again.
            response.headers_mut().insert(
                http::header::STRICT_TRANSPORT_SECURITY,
                http::HeaderValue::from_static(HSTS),
            );
        }
        finish::attach(response, record)
    }

    async fn handle_inner(
        &self,
        req: Request<Incoming>,
        peer: SocketAddr,
        ip: IpAddr,
        config: &Arc<GatewayConfig>,
        cutover: Option<&Arc<Cutover>>,
    ) -> Result<Forwarded, ProxyError> {
        // route: limits, Host, target; what kind of request this is.
        let route = self.route(&req, config.clone())?;
        let mut req = req;
        req.extensions_mut().insert(crate::body::ClientAddr(ip));
        req.extensions_mut()
            .insert(crate::body::BodyTimeout(config.timeouts.body_read));
        // authenticate: the gateway's own pages answer; other requests carry their
        // session (resolved once, cache-backed) on, gateway cookies stripped.
        if let (Some(link), Some(login)) = (&self.link, &self.login)
            && link.owns(req.uri().path())
        {
            let session = login.session_of(req.headers()).await;
            return Ok(answered(link.page(req, session, ip).await));
        }
        let (req, session) = match &self.login {
            Some(login) => match login.front(req).await {
                Front::Answered(page) => return Ok(answered(page)),
                Front::Proxy { request, session } => (request, session),
            },
            None => (req, None),
        };
        let mut req = req.map(body::boxed);
        // The client's hop-by-hop headers (those its `Connection` lists) were for us: the
        // session cookie was read above; they go now, before any phase adds a header, so
        // a client's `Connection: cookie` cannot remove the jar's Cookie (or the
        // assertion, or X-Forwarded-*) added later.
        hop::remove_hop_by_hop(req.headers_mut(), route.websocket);
        // The one reading of the target every later phase uses.
        let canonical = match cutover {
            Some(c) => match c.canonical(&mut req) {
                Outcome::Continue(canonical) => Some(canonical),
                Outcome::Answer(page) => return Ok(own_page(page)),
            },
            None => match &self.link {
                Some(_) => match self.plain_canonical(&req, &config.pages) {
                    Outcome::Continue(c) => Some(c),
                    Outcome::Answer(page) => return Ok(own_page(page)),
                },
                None => None,
            },
        };
        // identify: the session with its diary identity (one lookup), or an answer
        // (link page, level page, logout, a login form the gateway cannot attribute).
        let (req, identified) = match (&self.link, &canonical) {
            (Some(link), Some(canonical)) => {
                match link.identify(req, session.clone(), canonical, ip).await {
                    Outcome::Answer(page) => return Ok(own_page(page)),
                    Outcome::Continue((req, identified)) => (req, Some(identified)),
                }
            }
            _ => (req, None),
        };
        // authorize, once, on the whole identity.
        let (req, mut pending) = match (cutover, canonical) {
            (Some(c), Some(canonical)) => {
                let (session, legacy_login) = match &identified {
                    Some(i) => (i.session.as_ref(), i.legacy_login),
                    None => (session.as_ref(), false),
                };
                match c.authorize(req, canonical, session, legacy_login, ip).await {
                    Outcome::Answer(page) => return Ok(own_page(page)),
                    Outcome::Continue((req, pending)) => (req, Some(pending)),
                }
            }
            _ => (req, None),
        };
        // attach the diary identity, forward, finish (one resend after a re-login).
        let (req, mut plan) = match (&self.link, identified) {
            (Some(link), Some(identified)) => {
                let (req, plan) = link.attach(req, identified);
                (req, Some(plan))
            }
            _ => (req, None),
        };
        let mut fwd = self.send(req, &route, peer).await?;
        if let (Some(link), Some(plan)) = (&self.link, plan.as_mut()) {
            fwd.response = match link.finish(fwd.response, plan).await {
                Finish::Done(response) => response,
                Finish::Resend(req) => {
                    fwd = self.send(req, &route, peer).await?;
                    link.finish_resent(fwd.response, plan).await
                }
            };
        }
        if let (Some(c), Some(route)) = (cutover, pending.as_mut().and_then(|p| p.discover.take()))
        {
            c.discovered(route, &fwd.response);
        }
        if let Some(d) = pending.as_ref().and_then(|p| p.decorate.as_ref()) {
            fwd.response = d.apply(fwd.response);
        }
        Ok(fwd)
    }

    /// Without a calendar the link phases still need the canonical target (login and
    /// logout endpoints are matched on it); the platform's default reading.
    fn plain_canonical(
        &self,
        req: &Request<Body>,
        pages: &crate::config::PagesConfig,
    ) -> Outcome<crate::policy::CanonicalRequest> {
        let raw = req
            .uri()
            .path_and_query()
            .map_or("/", |pq| pq.as_str())
            .to_owned();
        match crate::policy::canonicalize(req.method().as_str(), &raw, &self.canon) {
            Ok(c) => Outcome::Continue(c),
            Err(reject) => {
                tracing::info!(reject = reject.as_str(), "request target refused");
                self.metrics.rejected(reject.as_str());
                Outcome::Answer(crate::pages::error_page(
                    StatusCode::BAD_REQUEST,
                    pages.language,
                    &pages.templates,
                ))
            }
        }
    }

    /// Phase 3: forward and prepare the diary's answer for the browser.
    async fn send(
        &self,
        req: Request<Body>,
        route: &Route,
        peer: SocketAddr,
    ) -> Result<Forwarded, ProxyError> {
        let sent = self.forward(req, route, peer).await?;
        self.answer(sent, route)
    }

    /// Phase 1: is this a request we can and may forward at all?
    fn route(
        &self,
        req: &Request<Incoming>,
        config: Arc<GatewayConfig>,
    ) -> Result<Route, ProxyError> {
        hygiene::check_limits(req.uri(), req.headers(), &config.limits)?;
        if req.method() == Method::CONNECT || !req.uri().path().starts_with('/') {
            return Err(ProxyError::BadTarget(format!(
                "{} {}",
                req.method(),
                req.uri()
            )));
        }
        let client_host = host::client_host(req.headers(), req.uri())?;
        if !config.listen.serves_host(&client_host) {
            return Err(host::other_host(req, client_host, &config.listen));
        }
        if let Some(len) = req.headers().get(CONTENT_LENGTH) {
            let len: u64 = len
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .ok_or_else(|| ProxyError::BadTarget("invalid Content-Length".into()))?;
            if len > config.limits.max_body_bytes {
                return Err(ProxyError::BodyTooLarge {
                    limit: config.limits.max_body_bytes,
                });
            }
        }
        let websocket = req.version() == Version::HTTP_11
            && req.method() == Method::GET
            && hop::is_websocket_upgrade(req.headers());
        Ok(Route {
            client_host,
            websocket,
            config,
        })
    }

    /// Phase 3a: clean the request and send it to the diary, body streaming under the
    /// size limit.
    async fn forward(
        &self,
        mut req: Request<Body>,
        route: &Route,
        peer: SocketAddr,
    ) -> Result<Sent, ProxyError> {
        let client_upgrade = route.websocket.then(|| hyper::upgrade::on(&mut req));
        let (mut parts, incoming) = req.into_parts();

        let h = &mut parts.headers;
        // The client's hop-by-hop headers went at ingress; only the fixed list here, so a
        // `Connection` no phase should have added cannot name the gateway's headers.
        hop::remove_fixed_hop_by_hop(h, route.websocket);
        self.sanitizer.apply(h);
        forwarded::apply(
            h,
            peer.ip(),
            &route.client_host,
            &route.config.forwarding.trusted_proxies,
        );
        let upstream_host = host::upstream_host(
            &route.config.upstream.host_header,
            &route.client_host,
            self.upstream.base(),
        );
        host::set_host(h, &upstream_host)?;

        let limit = route.config.limits.max_body_bytes;
        let (limited, tripped) = body::Limited::new(incoming, limit);
        let upstream_req = Request::from_parts(parts, body::boxed(limited));
        let response = match self.upstream.send(upstream_req).await {
            Ok(resp) => resp,
            // The diary saw a broken body because *we* cut it: that is the client's 413.
            Err(_) if tripped.load(Ordering::Acquire) => {
                return Err(ProxyError::BodyTooLarge { limit });
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Sent {
            response,
            client_upgrade,
            upstream_host,
        })
    }

    /// Phase 3b: turn the diary's answer into the browser's — hop-by-hop headers out,
    /// redirect targets back to the public origin, a websocket tunnel on 101.
    fn answer(&self, sent: Sent, route: &Route) -> Result<Forwarded, ProxyError> {
        let Sent {
            mut response,
            client_upgrade,
            upstream_host,
        } = sent;
        let upstream_status = response.status();
        let switching = upstream_status == StatusCode::SWITCHING_PROTOCOLS;
        if switching {
            let Some(client_upgrade) = client_upgrade else {
                // A 101 we did not ask for (h2c, TLS upgrade): nothing sane to pass on.
                return Err(upstream::UpstreamError::Protocol(
                    "unsolicited 101 Switching Protocols".into(),
                )
                .into());
            };
            upgrade::tunnel(
                client_upgrade,
                hyper::upgrade::on(&mut response),
                self.shutdown.clone(),
            );
        }

        let (mut parts, incoming) = response.into_parts();
        hop::remove_hop_by_hop(&mut parts.headers, switching);
        if rewrite::has_urls(&parts.headers)
            && let Some(origins) = self.public_origins(route, &upstream_host)
        {
            rewrite::rewrite_response(&mut parts.headers, &origins);
        }
        let body = if switching {
            body::empty()
        } else {
            body::boxed(incoming)
        };
        Ok(Forwarded {
            response: Response::from_parts(parts, body),
            upstream_status: Some(upstream_status),
        })
    }

    /// The diary's origins (its URL, and `http(s)://` + the Host it was sent) mapped to
    /// the public one (`listen.public_url`, else `https://` + the browser's Host).
    fn public_origins(&self, route: &Route, upstream_host: &str) -> Option<Origins> {
        let public = match &route.config.listen.public_url {
            Some(url) => url.origin().ascii_serialization(),
            None => format!("https://{}", route.client_host),
        };
        let base = self.upstream.base().as_str();
        let plain = format!("http://{upstream_host}");
        let tls = format!("https://{upstream_host}");
        Origins::new([base, plain.as_str(), tls.as_str()], &public)
    }
}
