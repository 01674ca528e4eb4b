//! One client connection, from accept to close, for all three listeners.
//!
//! hyper-util's auto builder serves HTTP/1.1 and HTTP/2 (chosen by the client preface;
//! ALPN already made the choice for TLS) with websocket upgrades. Around it a small
//! watchdog enforces what hyper does not:
//! - the first request head must arrive within `timeouts.header_read` (hyper's own
//!   `header_read_timeout` only starts once it knows the connection is HTTP/1);
//! - a connection with no request in flight for `timeouts.idle` is closed;
//! - on shutdown the connection finishes its in-flight requests (graceful), and is cut
//!   when the grace period ends.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::redirect::Redirect;
use crate::admin::Admin;
use crate::body::Body;
use crate::config::GatewayConfig;
use crate::proxy::{Client, Proxy};
use crate::shutdown::ShutdownSignal;

/// Who answers the requests of a connection.
#[derive(Clone)]
pub enum Handler {
    Proxy(Arc<Proxy>),
    Redirect(Arc<Redirect>),
    Admin(Arc<Admin>),
    /// A connection past a cap of `[limits]`: one page saying so, then closed.
    Busy(Arc<ConnSettings>),
}

impl Handler {
    async fn call(&self, req: Request<Incoming>, client: Client) -> Response<Body> {
        match self {
            Self::Proxy(p) => p.handle(req, client).await,
            Self::Redirect(r) => r.handle(&req),
            Self::Admin(a) => a.handle(&req).await,
            Self::Busy(settings) => busy(&req, settings),
        }
    }

    /// Admin keeps answering during the grace period (`/readyz` must say 503 to the
    /// load balancer); the public listeners start draining at once.
    fn drains_on_graceful(&self) -> bool {
        !matches!(self, Self::Admin(_))
    }
}

/// The answer on a connection past a cap: 503 with `Retry-After`, and the connection
/// closed after it (HTTP/1 by `Connection: close`; HTTP/2 forbids that header, its
/// connection ends at the idle deadline).
fn busy<B>(req: &Request<B>, settings: &ConnSettings) -> Response<Body> {
    let mut resp = crate::pages::busy_page(settings.language, &settings.templates);
    let h = resp.headers_mut();
    h.insert(
        http::header::RETRY_AFTER,
        http::HeaderValue::from_static("10"),
    );
    if req.version() <= http::Version::HTTP_11 {
        h.insert(
            http::header::CONNECTION,
            http::HeaderValue::from_static("close"),
        );
    }
    resp
}

/// Connection settings shared by every connection of a listener.
pub struct ConnSettings {
    builder: auto::Builder<TokioExecutor>,
    header_read: Duration,
    idle: Duration,
    /// `[limits]` connection caps (read at every accept, so a reload applies at once).
    pub caps: super::admission::Caps,
    /// For the refusal page.
    pub language: crate::language::Language,
    pub templates: Arc<crate::pages::Templates>,
}

impl ConnSettings {
    pub fn new(config: &GatewayConfig) -> Self {
        let limits = &config.limits;
        let mut builder = auto::Builder::new(TokioExecutor::new());
        // hyper's limits sit above ours so that our check (with its page) usually
        // answers first; past them hyper answers a bare 431 itself.
        let head_buf = limits
            .max_header_bytes
            .saturating_mul(2)
            .saturating_add(8192);
        // hyper's header-read timer also runs while a kept-alive connection waits for its
        // next head, so with `header_read` there it would close every idle connection
        // after `header_read`. The first head's deadline is the watchdog's (below); for
        // the later ones hyper's timer is the idle time a connection may wait.
        let between_requests = config.timeouts.idle.max(config.timeouts.header_read);
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(between_requests)
            .max_headers(limits.max_headers.saturating_mul(2).clamp(100, 10_000))
            .max_buf_size(head_buf.max(400 * 1024))
            .keep_alive(true);
        let h2_list = u32::try_from(head_buf.saturating_add(limits.max_headers.saturating_mul(64)))
            .unwrap_or(u32::MAX);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_header_list_size(h2_list)
            .max_concurrent_streams(128)
            .keep_alive_interval(Some(config.timeouts.idle))
            .keep_alive_timeout(Duration::from_secs(20));
        Self {
            builder,
            header_read: config.timeouts.header_read,
            idle: config.timeouts.idle,
            caps: super::admission::Caps {
                total: limits.max_connections,
                per_client: limits.max_connections_per_client,
                exempt: config.forwarding.trusted_proxies.clone(),
            },
            language: config.pages.language,
            templates: config.pages.templates.clone(),
        }
    }
}

/// Requests in flight on one connection and when the last one ended.
struct Activity {
    in_flight: AtomicUsize,
    last_done: Mutex<Option<Instant>>,
    /// Wakes the watchdog when a request ends, so the idle deadline starts then.
    ended: Notify,
}

/// Marks a request in flight until dropped (the proxy drops it after the response body).
struct InFlight(Arc<Activity>);

impl InFlight {
    fn new(activity: &Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        Self(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        *self.0.last_done.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.0.ended.notify_one();
    }
}

/// Serves one accepted (and, for TLS, handshaken) connection until it ends.
pub async fn serve<I>(
    io: I,
    peer: SocketAddr,
    handler: Handler,
    settings: Arc<ConnSettings>,
    signal: ShutdownSignal,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let accepted = Instant::now();
    let mut drain_pending = handler.drains_on_graceful();
    let activity = Arc::new(Activity {
        in_flight: AtomicUsize::new(0),
        last_done: Mutex::new(None),
        ended: Notify::new(),
    });
    let service = {
        let activity = activity.clone();
        service_fn(move |req| {
            let handler = handler.clone();
            let hold = InFlight::new(&activity);
            async move {
                let client = Client {
                    peer,
                    hold: Some(Box::new(hold)),
                };
                Ok::<_, Infallible>(handler.call(req, client).await)
            }
        })
    };
    let conn = settings
        .builder
        .serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(conn);

    let mut deadline = accepted + settings.header_read;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            _ = activity.ended.notified() => {
                if activity.in_flight.load(Ordering::Acquire) == 0 {
                    deadline = Instant::now() + settings.idle;
                }
            }
            _ = tokio::time::sleep_until(deadline) => {
                let now = Instant::now();
                if activity.in_flight.load(Ordering::Acquire) > 0 {
                    deadline = now + settings.idle;
                    continue;
                }
                let last = *activity.last_done.lock().unwrap_or_else(|p| p.into_inner());
                let until = match last {
                    Some(t) => t + settings.idle,
                    None => accepted + settings.header_read,
                };
                if until <= now {
                    tracing::debug!(%peer, first = last.is_none(), "closing idle connection");
                    return;
                }
                deadline = until;
            }
            _ = signal.graceful(), if drain_pending => {
                drain_pending = false;
                conn.as_mut().graceful_shutdown();
            }
            _ = signal.hard() => {
                tracing::debug!(%peer, "connection cut at the end of shutdown grace");
                return;
            }
        }
    }
}
