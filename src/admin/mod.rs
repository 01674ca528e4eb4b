//! The admin listener: `/healthz`, `/readyz`, `/metrics`. Bound to loopback by default
//! and never served on the public port (the proxy has no route to it).
//!
//! - `/healthz`: the process answers → 200 `ok`.
//! - `/readyz`: 200 only while the public listeners are bound and not shutting down and
//!   the diary accepts a TCP (and for https a TLS) connection right now; else 503, with a
//!   one-word reason a load balancer log can show.
//! - `/metrics`: Prometheus text format.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Method, Request, Response, StatusCode};

use crate::body::{self, Body};
use crate::metrics::Metrics;
use crate::shutdown::ShutdownSignal;
use crate::upstream::Upstream;

pub struct Admin {
    metrics: Arc<Metrics>,
    upstream: Upstream,
    listeners_bound: AtomicBool,
    shutdown: ShutdownSignal,
}

impl Admin {
    pub fn new(metrics: Arc<Metrics>, upstream: Upstream, shutdown: ShutdownSignal) -> Self {
        Self {
            metrics,
            upstream,
            listeners_bound: AtomicBool::new(false),
            shutdown,
        }
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
        match self.upstream.probe().await {
            Ok(()) => text(StatusCode::OK, "ready\n"),
            Err(e) => {
                tracing::warn!(error = %e, "readiness: upstream unreachable");
                text(StatusCode::SERVICE_UNAVAILABLE, "not ready: upstream\n")
            }
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
