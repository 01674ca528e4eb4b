//! The last phase: when the response body has been sent (or the client went away), one
//! access-log line at target `access` and the request metrics. Doing it at the end of the
//! body, not at the response head, makes `bytes` and `duration` true for big downloads.
//!
//! The query string is not logged: it can carry one-time codes (ESIA's `code`, `state`).

use std::any::Any;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body::{Frame, SizeHint};

use super::body::{Body, BoxError};
use crate::metrics::Metrics;

/// What the access-log line says about one request.
pub struct Record {
    pub method: Method,
    pub path: String,
    pub status: StatusCode,
    pub client_ip: IpAddr,
    pub upstream_status: Option<StatusCode>,
    pub started: Instant,
    pub bytes: u64,
    pub access_log: bool,
    pub metrics: Arc<Metrics>,
    /// Anything the caller wants kept alive until the body is done (e.g. the connection's
    /// in-flight marker used by the idle timeout).
    pub hold: Option<Box<dyn Any + Send>>,
}

impl Drop for Record {
    fn drop(&mut self) {
        let elapsed = self.started.elapsed();
        self.metrics
            .observe_request(self.status, elapsed.as_secs_f64());
        if self.access_log {
            tracing::info!(
                target: "access",
                method = %self.method,
                path = %self.path,
                status = self.status.as_u16(),
                duration_ms = elapsed.as_secs_f64() * 1000.0,
                bytes = self.bytes,
                client_ip = %self.client_ip,
                upstream_status = self.upstream_status.map(|s| s.as_u16()),
            );
        }
    }
}

pin_project_lite::pin_project! {
    /// Passes the body through, counting bytes; the record fires when this is dropped.
    struct Counted {
        #[pin]
        inner: Body,
        record: Record,
    }
}

impl http_body::Body for Counted {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            this.record.bytes = this.record.bytes.saturating_add(data.len() as u64);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Attaches the record to the response so it is written when the body ends.
pub fn attach(resp: Response<Body>, mut record: Record) -> Response<Body> {
    record.status = resp.status();
    let (parts, inner) = resp.into_parts();
    let body = Counted { inner, record };
    Response::from_parts(parts, http_body_util::BodyExt::boxed_unsync(body))
}
