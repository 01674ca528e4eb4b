//! The admin listener: `/healthz`, `/readyz`, `/metrics`, `/status`. Bound to loopback
//! by default and never served on the public port (the proxy has no route to it).
//!
//! - `/healthz`: the process answers → 200 `ok`.
//! - `/readyz`: 200 only while the public listeners are bound and not shutting down, the
//!   diary accepts a TCP (and for https a TLS) connection right now, the store answers a
//!   query and (when configured) ESIA's host accepts a TCP connection; else 503 with one
//!   line per failed check (`not ready: store: …`) a load balancer log can show.
//! - `/metrics`: Prometheus text format.
//! - `/status`: an HTML page for the operator (see [`status`]).

pub mod readiness;
mod status;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Method, Request, Response, StatusCode};

use crate::body::{self, Body};
use crate::metrics::Metrics;
use crate::shutdown::ShutdownSignal;
use crate::store::SharedStore;
use crate::upstream::Upstream;

pub struct Admin {
    metrics: Arc<Metrics>,
    upstream: Upstream,
    listeners_bound: AtomicBool,
    shutdown: ShutdownSignal,
    store: Option<SharedStore>,
    /// `host:port` of ESIA, checked by a TCP connect.
    esia: Option<String>,
    /// What `/status` shows besides the checks (the running config and calendar).
    live: Option<Arc<crate::proxy::Live>>,
}

/// How long one readiness check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

impl Admin {
    pub fn new(metrics: Arc<Metrics>, upstream: Upstream, shutdown: ShutdownSignal) -> Self {
        Self {
            metrics,
            upstream,
            listeners_bound: AtomicBool::new(false),
            shutdown,
            store: None,
            esia: None,
            live: None,
        }
    }

    /// `/status` also shows the calendar, the certificate and the configuration's hash.
    pub fn with_status(mut self, live: Arc<crate::proxy::Live>) -> Self {
        self.live = Some(live);
        self
    }

    /// Readiness also checks the store and ESIA's host (`host:port`).
    pub fn with_checks(mut self, store: Option<SharedStore>, esia: Option<String>) -> Self {
        self.store = store;
        self.esia = esia;
        self
    }

    /// Called once every public listener is bound.
    pub fn set_listeners_bound(&self) {
        self.listeners_bound.store(true, Ordering::Release);
    }

    pub async fn handle<B>(&self, req: &Request<B>) -> Response<Body> {
        if !matches!(*req.method(), Method::GET | Method::HEAD) {
            return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        }
        match req.uri().path() {
            "/healthz" => text(StatusCode::OK, "ok\n"),
            "/readyz" => self.readyz().await,
            "/status" => crate::pages::kit::into_body(crate::pages::kit::html_response(
                StatusCode::OK,
                status::render(&self.status_facts().await),
            )),
            "/metrics" => {
                let mut resp = text(StatusCode::OK, self.metrics.render());
                resp.headers_mut().insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static(
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    ),
                );
                resp
            }
            _ => text(StatusCode::NOT_FOUND, "not found\n"),
        }
    }

    async fn readyz(&self) -> Response<Body> {
        if !self.listeners_bound.load(Ordering::Acquire) {
            return text(StatusCode::SERVICE_UNAVAILABLE, "not ready: listeners\n");
        }
        if self.shutdown.is_shutting_down() {
            return text(
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: shutting down\n",
            );
        }
        let failed: Vec<String> = self
            .checks()
            .await
            .into_iter()
            .filter_map(|(name, r)| r.err().map(|e| format!("{name}: {e}")))
            .collect();
        if failed.is_empty() {
            return text(StatusCode::OK, "ready\n");
        }
        let mut body = String::new();
        for f in &failed {
            tracing::warn!(check = %f, "not ready");
            body.push_str(&format!("not ready: {f}\n"));
        }
        text(StatusCode::SERVICE_UNAVAILABLE, body)
    }
}

impl Admin {
    /// The diary, the store and ESIA's host, each with its error; what `/readyz` and
    /// `/status` report.
    async fn checks(&self) -> Vec<(String, Result<(), String>)> {
        let mut out = Vec::new();
        let upstream = self.upstream.probe().await.map_err(|e| {
            tracing::warn!(error = %e, "readiness: upstream unreachable");
            e.to_string()
        });
        out.push(("upstream".to_owned(), upstream));
        if let Some(store) = &self.store {
            let since = chrono::Utc::now();
            let r = match tokio::time::timeout(CHECK_TIMEOUT, store.count_attempts("readyz", since))
                .await
            {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("no answer within 2 s".to_owned()),
            };
            out.push(("store".to_owned(), r));
        }
        if let Some(esia) = &self.esia {
            let r = match tokio::time::timeout(CHECK_TIMEOUT, tokio::net::TcpStream::connect(esia))
                .await
            {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(format!("{esia}: {e}")),
                Err(_) => Err(format!("{esia}: no answer within 2 s")),
            };
            out.push(("esia".to_owned(), r));
        }
        out
    }

    async fn status_facts(&self) -> status::StatusFacts {
        let now = chrono::Utc::now();
        let window = |d: chrono::TimeDelta| async move {
            let store = self.store.as_ref()?;
            let since = now.checked_sub_signed(d)?;
            // The store keeps whole seconds: include this one.
            let until = now.checked_add_signed(chrono::TimeDelta::seconds(1))?;
            let zone = self
                .live
                .as_ref()
                .and_then(|l| l.cutover.load_full())
                .map_or(chrono_tz::UTC, |c| c.policy().calendar.time_zone);
            match readiness::gather_in(store, since, until, zone).await {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::warn!(error = %e, "status page: cannot read the audit trail");
                    None
                }
            }
        };
        let week = window(chrono::TimeDelta::days(7)).await;
        let day = window(chrono::TimeDelta::days(1)).await;
        let config = self.live.as_ref().map(|l| l.config.load_full());
        let cutover = self.live.as_ref().and_then(|l| l.cutover.load_full());
        let calendar = cutover.as_ref().map(|c| {
            let cal = &c.policy().calendar;
            let at = c.now();
            status::CalendarFacts {
                phase: cal.phase_at(at).as_str(),
                next_change: cal.next_change_after(at),
                cutover_at: cal.cutover_at(),
            }
        });
        let certificate_expires = config.as_ref().and_then(|cfg| {
            let certs = crate::tls::read_certs(&cfg.tls.cert).ok()?;
            let facts = crate::config::cert_facts::leaf_facts(certs.first()?)?;
            chrono::DateTime::from_timestamp(facts.not_after, 0)
        });
        status::StatusFacts {
            now,
            version: env!("CARGO_PKG_VERSION"),
            config_sha256: config.as_ref().and_then(|c| c.source_sha256.clone()),
            calendar,
            week,
            day,
            checks: self.checks().await,
            certificate_expires,
            open_connections: self.metrics.open_connections(),
        }
    }
}

fn text(status: StatusCode, body_text: impl Into<bytes::Bytes>) -> Response<Body> {
    let mut resp = Response::new(body::full(body_text));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}
