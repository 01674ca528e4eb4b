//! Body types of the proxy. Bodies are streamed frame by frame in both directions; the
//! only thing ever held whole is a small page the gateway renders itself.
//!
//! [`Limited`] enforces `limits.max_body_bytes` on a request body *while* it streams (the
//! `Content-Length` check up front catches honest clients; chunked or lying ones are cut
//! here) and leaves a flag behind so the pipeline can answer 413 instead of 502.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use http_body::{Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The one body type the gateway answers with and sends upstream.
pub type Body = UnsyncBoxBody<Bytes, BoxError>;

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

pub fn empty() -> Body {
    Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// Boxes any body whose errors can be boxed.
pub fn boxed<B>(body: B) -> Body
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    body.map_err(Into::into).boxed_unsync()
}

/// The request body was cut because it exceeded the limit.
#[derive(Debug, thiserror::Error)]
#[error("request body exceeds {limit} bytes")]
pub struct BodyTooLarge {
    pub limit: u64,
}

pin_project_lite::pin_project! {
    /// A body that fails with [`BodyTooLarge`] once more than `limit` bytes went through.
    pub struct Limited<B> {
        #[pin]
        inner: B,
        seen: u64,
        limit: u64,
        tripped: Arc<AtomicBool>,
    }
}

pin_project_lite::pin_project! {
    /// A body that keeps `guard` (a semaphore place, a counter) until it is dropped.
    pub struct Holding<B, G> {
        #[pin]
        inner: B,
        guard: G,
    }
}

impl<B, G> Holding<B, G> {
    pub fn new(inner: B, guard: G) -> Self {
        Self { inner, guard }
    }
}

impl<B: http_body::Body, G> http_body::Body for Holding<B, G> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// How long a body the gateway reads itself (a login or link form, a body read to decide
/// on its parameters) may take to arrive by default (`[timeouts] body_read`). The connection's idle timer does not run while
/// a request is in flight, so without this a client sending a few bytes a minute would
/// hold the request forever.
pub const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Why [`read_within`] gave no body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyReadError {
    /// More than the limit (413).
    TooLarge,
    /// The client's body broke off (400).
    Broken,
    /// Not complete within the time allowed (408).
    TimedOut,
}

/// The whole body, at most `limit` bytes, within `timeout` — the one way the gateway
/// reads a body itself (forms, bodies read to decide on their parameters).
pub async fn read_within<B>(
    mut body: B,
    limit: usize,
    timeout: std::time::Duration,
) -> Result<Bytes, BodyReadError>
where
    B: http_body::Body + Unpin,
{
    let read = async {
        let mut out = bytes::BytesMut::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|_| BodyReadError::Broken)?;
            if let Some(data) = frame.data_ref() {
                let chunk = data.chunk();
                if out.len() + chunk.len() > limit {
                    return Err(BodyReadError::TooLarge);
                }
                out.extend_from_slice(chunk);
            }
        }
        Ok(out.freeze())
    };
    tokio::time::timeout(timeout, read)
        .await
        .unwrap_or(Err(BodyReadError::TimedOut))
}

/// `[timeouts] body_read` for this request, carried in its extensions by the proxy
/// (a reload changes it for new requests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyTimeout(pub std::time::Duration);

/// The time a body read by the gateway may take for the request with `extensions`.
pub fn read_timeout(extensions: &http::Extensions) -> std::time::Duration {
    extensions
        .get::<BodyTimeout>()
        .map_or(BODY_READ_TIMEOUT, |t| t.0)
}

/// The client's address as the proxy resolved it (the browser's own behind trusted
/// forwarders), carried in request extensions to the services that limit per client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub std::net::IpAddr);

impl<B> Limited<B> {
    /// Returns the body and a flag that turns true if the limit is ever hit.
    pub fn new(inner: B, limit: u64) -> (Self, Arc<AtomicBool>) {
        let tripped = Arc::new(AtomicBool::new(false));
        let body = Self {
            inner,
            seen: 0,
            limit,
            tripped: tripped.clone(),
        };
        (body, tripped)
    }
}

impl<B> http_body::Body for Limited<B>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        match this.inner.poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    *this.seen = this.seen.saturating_add(data.len() as u64);
                    if *this.seen > *this.limit {
                        this.tripped.store(true, Ordering::Release);
                        return Poll::Ready(Some(Err(Box::new(BodyTooLarge {
                            limit: *this.limit,
                        }))));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// What one phase of the request's journey decided: go on with a value, or answer the
/// browser now (nothing more goes to the diary). Every phase returns this one type, so
/// the pipeline reads as a straight line of `match`es with no phase re-entered.
pub enum Outcome<T> {
    Continue(T),
    Answer(http::Response<Body>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn passes_bodies_up_to_the_limit() {
        let (body, tripped) = Limited::new(Full::new(Bytes::from(vec![1u8; 100])), 100);
        let got = body.collect().await.unwrap().to_bytes();
        assert_eq!(got.len(), 100);
        assert!(!tripped.load(Ordering::Acquire));
    }

    #[tokio::test]
    async fn a_body_that_never_ends_times_out_and_limits_hold() {
        use futures_util::StreamExt;
        use std::time::Duration;
        // One byte, then silence: a slow client.
        let frames =
            futures_util::stream::iter([Ok::<_, BoxError>(Frame::data(Bytes::from_static(b"a")))])
                .chain(futures_util::stream::pending());
        let slow = boxed(http_body_util::StreamBody::new(frames));
        assert_eq!(
            read_within(slow, 100, Duration::from_millis(50)).await,
            Err(BodyReadError::TimedOut)
        );
        assert_eq!(
            read_within(full("0123456789"), 5, Duration::from_secs(1)).await,
            Err(BodyReadError::TooLarge)
        );
        assert_eq!(
            read_within(full("abc"), 5, Duration::from_secs(1))
                .await
                .unwrap(),
            Bytes::from_static(b"abc")
        );
    }

    #[tokio::test]
    async fn cuts_a_body_one_byte_over_and_raises_the_flag() {
        let (body, tripped) = Limited::new(Full::new(Bytes::from(vec![1u8; 101])), 100);
        let err = body.collect().await.unwrap_err();
        assert!(err.is::<BodyTooLarge>());
        assert!(tripped.load(Ordering::Acquire));
    }
}
