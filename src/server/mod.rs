//! The gateway's listeners: TLS for browsers, the optional plain-HTTP redirect, admin.
//!
//! [`Gateway::start`] binds everything (port 0 works: tests ask the result for its
//! addresses) and returns a [`RunningGateway`]; [`run`] is start + signals for the binary:
//! SIGHUP reloads the certificate, SIGTERM/SIGINT shut down gracefully.

mod admission;
pub mod conn;
pub mod redirect;
mod reload;
pub use crate::shutdown;
pub mod tls;
mod workers;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use self::conn::{ConnSettings, Handler};
use self::redirect::Redirect;
pub use self::reload::ReloadReport;
use self::reload::Reloader;
use self::shutdown::{Shutdown, ShutdownSignal, TaskGuard};
use self::tls::CertStore;
use self::workers::Workers;
use crate::admin::Admin;
use crate::clock::{SharedClock, SystemClock};
use crate::config::GatewayConfig;
use crate::link::Link;
use crate::login::Login;
use crate::metrics::Metrics;
use crate::proxy::{Live, Proxy};
use crate::services::{Clocks, Services};
use crate::store::SharedStore;
use crate::tls::TlsError;
use crate::upstream::Upstream;

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    #[error("{0}")]
    Services(#[from] crate::services::ServicesError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start the worker threads: {0}")]
    Workers(std::io::Error),
}

/// The optional parts of the pipeline, for [`Gateway::start_parts`].
#[derive(Default)]
pub struct Parts {
    /// ESIA login pages and sessions.
    pub login: Option<Arc<Login>>,
    /// Linking and the diary identity (needs `login`).
    pub link: Option<Arc<Link>>,
    /// The cutover calendar's clock; default the real clock.
    pub calendar_clock: Option<SharedClock>,
    /// Where refused requests are audited (`denied` events).
    pub audit: Option<SharedStore>,
}

/// Namespace for starting the gateway.
pub struct Gateway;

/// A started gateway: its addresses, its metrics, reload and shutdown.
pub struct RunningGateway {
    https_addr: SocketAddr,
    http_addr: Option<SocketAddr>,
    admin_addr: Option<SocketAddr>,
    certs: Arc<CertStore>,
    metrics: Arc<Metrics>,
    shutdown: Shutdown,
    grace: Duration,
    /// What SIGHUP replaces, and how.
    reloader: Reloader,
    /// The threads serving connections; they stop when the gateway is dropped.
    _workers: Arc<Workers>,
}

/// How a shutdown went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Connections and tunnels still open when the grace period ended (cut).
    pub cut: usize,
}

impl Gateway {
    /// Binds the listeners and starts serving. Returns once everything is bound.
    /// With `[esia]` configured, the login pages and sessions are in the pipeline.
    pub async fn start(config: GatewayConfig) -> Result<RunningGateway, StartError> {
        Self::start_at(config, Arc::new(SystemClock)).await
    }

    /// [`Gateway::start`] with the ESIA login pages and sessions in the pipeline.
    pub async fn start_with(
        config: GatewayConfig,
        login: Option<Arc<Login>>,
    ) -> Result<RunningGateway, StartError> {
        Self::start_full(config, login, None).await
    }

    /// [`Gateway::start_with`] plus linking and the diary identity step (issue 5).
    pub async fn start_full(
        config: GatewayConfig,
        login: Option<Arc<Login>>,
        link: Option<Arc<Link>>,
    ) -> Result<RunningGateway, StartError> {
        Self::start_parts(
            config,
            Parts {
                login,
                link,
                ..Parts::default()
            },
        )
        .await
    }

    /// [`Gateway::start`] with the cutover calendar on `calendar_clock` (only the
    /// calendar: sessions and ESIA use the real clock) — the hook for `demo --at`.
    pub async fn start_at(
        config: GatewayConfig,
        calendar_clock: SharedClock,
    ) -> Result<RunningGateway, StartError> {
        let clocks = Clocks {
            system: Arc::new(SystemClock),
            calendar: calendar_clock,
        };
        let services = Services::build(&config, clocks).await?;
        Self::start_services(config, services).await
    }

    /// Starts the gateway with every optional part of the pipeline given explicitly
    /// (tests whose ESIA mock must know the gateway's port before the login service
    /// exists).
    pub async fn start_parts(
        config: GatewayConfig,
        parts: Parts,
    ) -> Result<RunningGateway, StartError> {
        let metrics = Arc::new(Metrics::new());
        let services = Services {
            upstream: Upstream::new(&config, metrics.clone())?,
            metrics,
            store: parts.audit,
            login: parts.login,
            link: parts.link,
            templates: crate::pages::LiveTemplates::new(config.pages.templates.clone()),
            clocks: Clocks {
                system: Arc::new(SystemClock),
                calendar: parts
                    .calendar_clock
                    .unwrap_or_else(|| Arc::new(SystemClock)),
            },
        };
        Self::start_services(config, services).await
    }

    /// Binds the listeners and serves with `services` (see [`Services::build`]).
    pub async fn start_services(
        config: GatewayConfig,
        services: Services,
    ) -> Result<RunningGateway, StartError> {
        let Services {
            metrics,
            upstream,
            store,
            login,
            link,
            clocks,
            templates,
        } = services;
        let config = Arc::new(config);
        let shutdown = Shutdown::new();
        let certs = CertStore::load(&config.tls.cert, &config.tls.key)?;
        let acceptor = TlsAcceptor::from(tls::server_config(certs.clone())?);
        let settings = Arc::new(ArcSwap::from_pointee(ConnSettings::new(&config)));

        let https = bind(config.listen.https).await?;
        let https_addr = local_addr(&https, config.listen.https)?;
        let http = match config.listen.http {
            Some(addr) => Some(bind(addr).await?),
            None => None,
        };
        let admin_listener = match config.listen.admin {
            Some(addr) => Some(bind(addr).await?),
            None => None,
        };

        let live = Live::new(config.clone(), None);
        let reloader = Reloader {
            live: live.clone(),
            conn: settings.clone(),
            calendar_clock: clocks.calendar.clone(),
            esia_login: login.is_some(),
            store: store.clone(),
            metrics: metrics.clone(),
            templates: templates.clone(),
        };
        reload::log_templates(&config.pages);
        if let Some(c) = reloader.cutover(&config) {
            tracing::info!(phase = c.phase().as_str(), "cutover calendar active");
            live.cutover.store(Some(c));
        }
        let mut proxy = Proxy::new(
            live.clone(),
            upstream.clone(),
            metrics.clone(),
            shutdown.signal(),
        );
        if let Some(login) = login {
            proxy = proxy.with_login(login);
        }
        if let Some(link) = link {
            proxy = proxy.with_link(link);
        }
        let proxy = Arc::new(proxy);
        let listeners = Listener {
            settings: settings.clone(),
            signal: shutdown.signal(),
            metrics: metrics.clone(),
            admission: admission::Admission::new(&metrics),
        };
        let tls_timeout = config.timeouts.header_read;
        let workers = Arc::new(Workers::start(config.listen.workers).map_err(StartError::Workers)?);
        tokio::spawn(listeners.clone().accept_tls(
            https,
            acceptor,
            tls_timeout,
            Handler::Proxy(proxy),
            (shutdown.signal().track(), workers.clone()),
        ));

        let mut http_addr = None;
        if let Some(listener) = http {
            http_addr = Some(local_addr(&listener, https_addr)?);
            let redirect = Redirect::new(
                &config.listen,
                https_addr.port(),
                config.pages.language,
                templates,
            );
            tokio::spawn(listeners.clone().accept_plain(
                listener,
                Handler::Redirect(Arc::new(redirect)),
                Some(shutdown.signal().track()),
            ));
        }

        let mut admin_addr = None;
        if let Some(listener) = admin_listener {
            admin_addr = Some(local_addr(&listener, https_addr)?);
            let esia = config.esia.as_ref().and_then(|e| {
                let url = &e.base_url;
                Some(format!(
                    "{}:{}",
                    url.host_str()?,
                    url.port_or_known_default()?
                ))
            });
            let admin = Arc::new(
                Admin::new(metrics.clone(), upstream, shutdown.signal())
                    .with_checks(store.clone(), esia)
                    .with_status(live.clone()),
            );
            admin.set_listeners_bound();
            // Not tracked: admin answers until the grace period ends.
            tokio::spawn(listeners.accept_plain(listener, Handler::Admin(admin), None));
        }

        tracing::info!(https = %https_addr, http = ?http_addr, admin = ?admin_addr,
            upstream = %config.upstream.url, workers = workers.count(), "gateway listening");
        Ok(RunningGateway {
            https_addr,
            http_addr,
            admin_addr,
            certs,
            metrics,
            shutdown,
            grace: config.timeouts.shutdown_grace,
            reloader,
            _workers: workers,
        })
    }
}

impl RunningGateway {
    pub fn https_addr(&self) -> SocketAddr {
        self.https_addr
    }

    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Re-reads certificate and key; on error the current certificate stays in use.
    pub fn reload_tls(&self) -> Result<(), TlsError> {
        match self.certs.reload() {
            Ok(()) => {
                tracing::info!("TLS certificate reloaded");
                Ok(())
            }
            Err(e) => {
                tracing::error!(error = %e, "TLS reload failed; keeping the current certificate");
                Err(e)
            }
        }
    }

    /// Adds route discovery's pending counts to the store now (they go every minute
    /// and at shutdown anyway).
    pub async fn flush_route_counts(&self) {
        if let (Some(cutover), Some(store)) =
            (self.reloader.live.cutover.load_full(), &self.reloader.store)
        {
            cutover.flush_routes(store).await;
        }
    }

    /// Applies a new, validated configuration (see [`reload`]); the certificate files
    /// are read again too (a bad one is logged and the current one kept).
    pub async fn reload(&self, config: GatewayConfig) -> ReloadReport {
        let report = self.reloader.apply(config).await;
        let _ = self.reload_tls();
        report
    }

    /// Stops accepting, lets in-flight requests finish for up to
    /// `timeouts.shutdown_grace`, then cuts whatever is left.
    pub async fn shutdown(self) -> ShutdownReport {
        self.shutdown.begin();
        let drained = tokio::time::timeout(self.grace, self.shutdown.drained()).await;
        let cut = if drained.is_ok() {
            0
        } else {
            self.shutdown.live_tasks()
        };
        self.shutdown.force();
        // Tasks end promptly once forced; don't hang on one that doesn't.
        let _ = tokio::time::timeout(Duration::from_secs(1), self.shutdown.drained()).await;
        let _ = tokio::time::timeout(Duration::from_secs(2), self.flush_route_counts()).await;
        tracing::info!(cut, "gateway stopped");
        ShutdownReport { cut }
    }
}

impl Drop for RunningGateway {
    fn drop(&mut self) {
        // A gateway dropped without `shutdown()` (a test ending) must not keep serving.
        self.shutdown.force();
    }
}

/// What every accept loop needs.
#[derive(Clone)]
struct Listener {
    /// Replaced by a reload; each connection keeps the settings it was accepted with.
    settings: Arc<ArcSwap<ConnSettings>>,
    signal: ShutdownSignal,
    metrics: Arc<Metrics>,
    /// Connection caps (admin connections are not counted).
    admission: Arc<admission::Admission>,
}

/// Whether a new public connection is served, answered with the "too many
/// connections" page, or closed at once.
enum Admitted {
    Serve(admission::Ticket),
    Refuse(admission::Answering),
    Close,
}

impl Listener {
    fn admit(&self, peer: SocketAddr) -> Admitted {
        let settings = self.settings.load();
        match self.admission.admit(peer.ip(), &settings.caps) {
            Ok(ticket) => Admitted::Serve(ticket),
            Err(refusal) => {
                tracing::debug!(%peer, cap = refusal.as_str(), "connection refused: cap reached");
                match self.admission.answer_refusal() {
                    Some(slot) => Admitted::Refuse(slot),
                    None => Admitted::Close,
                }
            }
        }
    }

    async fn accept_tls(
        self,
        listener: TcpListener,
        acceptor: TlsAcceptor,
        handshake_timeout: Duration,
        handler: Handler,
        (running, workers): (TaskGuard, Arc<Workers>),
    ) {
        loop {
            let (tcp, peer) = tokio::select! {
                accepted = accept(&listener) => accepted,
                _ = self.signal.graceful() => break,
            };
            let admitted = self.admit(peer);
            if matches!(admitted, Admitted::Close) {
                continue;
            }
            let this = self.clone();
            let acceptor = acceptor.clone();
            let handler = handler.clone();
            let guard = self.signal.track();
            workers.serve(tcp, move |tcp| async move {
                let _guard = guard;
                let _open = OpenConnection::new(&this.metrics);
                let (handler, _place) = this.handler_for(handler, admitted);
                let handshake = tokio::time::timeout(handshake_timeout, acceptor.accept(tcp));
                let tls = tokio::select! {
                    r = handshake => r,
                    _ = this.signal.graceful() => return,
                };
                match tls {
                    Ok(Ok(stream)) => {
                        conn::serve(
                            stream,
                            peer,
                            handler,
                            this.settings.load_full(),
                            this.signal,
                        )
                        .await;
                    }
                    Ok(Err(e)) => {
                        this.metrics.tls_handshake_failed(tls::failure_cause(&e));
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    }
                    Err(_) => {
                        this.metrics.tls_handshake_failed("timeout");
                        tracing::debug!(%peer, "TLS handshake timed out");
                    }
                }
            });
        }
        // The port is closed before shutdown can count this loop as finished.
        drop(listener);
        drop(running);
        drop(workers);
    }

    /// Plain TCP: the redirect listener (public: `running` tracks it, it stops at once)
    /// and admin (stops only when the grace period ends, so `/readyz` can say
    /// "shutting down" meanwhile).
    async fn accept_plain(
        self,
        listener: TcpListener,
        handler: Handler,
        running: Option<TaskGuard>,
    ) {
        let public = running.is_some();
        loop {
            let (tcp, peer) = tokio::select! {
                accepted = accept(&listener) => accepted,
                _ = self.signal.graceful(), if public => break,
                _ = self.signal.hard() => break,
            };
            let admitted = if public {
                self.admit(peer)
            } else {
                Admitted::Close
            };
            if public && matches!(admitted, Admitted::Close) {
                continue;
            }
            let this = self.clone();
            let handler = handler.clone();
            let guard = public.then(|| self.signal.track());
            tokio::spawn(async move {
                let _guard = guard;
                let _open = public.then(|| OpenConnection::new(&this.metrics));
                // Admin connections are not counted (`Close` is never acted on for them).
                let (handler, _place) = if public {
                    this.handler_for(handler, admitted)
                } else {
                    (handler, Place::default())
                };
                conn::serve(tcp, peer, handler, this.settings.load_full(), this.signal).await;
            });
        }
        drop(listener);
        drop(running);
    }
}

/// What an admitted or refused connection holds until it closes.
#[derive(Default)]
struct Place {
    _ticket: Option<admission::Ticket>,
    _answering: Option<admission::Answering>,
}

impl Listener {
    /// The handler a connection gets: its listener's, or the refusal page.
    fn handler_for(&self, handler: Handler, admitted: Admitted) -> (Handler, Place) {
        match admitted {
            Admitted::Serve(ticket) => (
                handler,
                Place {
                    _ticket: Some(ticket),
                    ..Place::default()
                },
            ),
            Admitted::Refuse(slot) => (
                Handler::Busy(self.settings.load_full()),
                Place {
                    _answering: Some(slot),
                    ..Place::default()
                },
            ),
            Admitted::Close => (handler, Place::default()),
        }
    }
}

/// The store refusals are audited in, when there is a policy and a store (`[esia]`).
/// A second handle on the login's store: the login setup keeps its own to itself.
/// Accepts the next connection; transient errors (EMFILE, aborted handshakes) are
/// logged and retried after a short pause instead of ending the listener.
async fn accept(listener: &TcpListener) -> (TcpStream, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok((tcp, peer)) => {
                let _ = tcp.set_nodelay(true);
                return (tcp, peer);
            }
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Keeps `esia_gateway_open_connections` right however the task ends.
struct OpenConnection(Arc<Metrics>);

impl OpenConnection {
    fn new(metrics: &Arc<Metrics>) -> Self {
        metrics.connection_opened();
        Self(metrics.clone())
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.connection_closed();
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })
}

fn local_addr(listener: &TcpListener, fallback: SocketAddr) -> Result<SocketAddr, StartError> {
    listener.local_addr().map_err(|source| StartError::Bind {
        addr: fallback,
        source,
    })
}

/// Runs the gateway until SIGTERM/SIGINT, then drains in-flight requests. SIGHUP
/// reads `path` again: a valid file is applied (see [`reload`]); a bad one is logged
/// error by error and the running configuration stays.
pub async fn run(config: GatewayConfig, path: std::path::PathBuf) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = signal(SignalKind::hangup())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let gateway = Gateway::start(config).await?;
    loop {
        tokio::select! {
            _ = hangup.recv() => match crate::config::load(&path) {
                Ok(new) => {
                    gateway.reload(new).await;
                }
                Err(errors) => {
                    for e in errors.0.iter() {
                        tracing::error!(error = %e, "reload refused: the configuration file has an error");
                    }
                    tracing::error!(file = %path.display(), errors = errors.len(),
                        "reload refused; the running configuration stays");
                }
            },
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        }
    }
    tracing::info!("shutdown signal received, draining");
    let report = gateway.shutdown().await;
    if report.cut > 0 {
        tracing::warn!(
            cut = report.cut,
            "grace period ended with connections still open"
        );
    }
    Ok(())
}
