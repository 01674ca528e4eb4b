//! The admin listener: `/healthz`, `/readyz`, `/metrics`. Bound to loopback by default
//! and never served on the public port (the proxy has no route to it).
//!
//! - `/healthz`: the process answers → 200 `ok`.
//! - `/readyz`: 200 only while the public listeners are bound and not shutting down, the
//!   diary accepts a TCP (and for https a TLS) connection right now, the store answers a
//!   query and (when configured) ESIA's host accepts a TCP connection; else 503 with one
//!   line per failed check (`not ready: store: …`) a load balancer log can show.
//! - `/metrics`: Prometheus text format.

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
        }
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
        let mut failed = Vec::new();
        if let Err(e) = self.upstream.probe().await {
            tracing::warn!(error = %e, "readiness: upstream unreachable");
            failed.push(format!("upstream: {e}"));
        }
        if let Some(store) = &self.store {
            let since = chrono::Utc::now();
            match tokio::time::timeout(CHECK_TIMEOUT, store.count_attempts("readyz", since)).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => failed.push(format!("store: {e}")),
                Err(_) => failed.push("store: no answer within 2 s".to_owned()),
            }
        }
        if let Some(esia) = &self.esia {
            match tokio::time::timeout(CHECK_TIMEOUT, tokio::net::TcpStream::connect(esia)).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => failed.push(format!("esia: {esia}: {e}")),
                Err(_) => failed.push(format!("esia: {esia}: no answer within 2 s")),
            }
        }
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

fn text(status: StatusCode, body_text: impl Into<bytes::Bytes>) -> Response<Body> {
    let mut resp = Response::new(body::full(body_text));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}
