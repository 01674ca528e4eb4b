//! [`DiaryHttp`] over the proxy's pooled upstream client: the gateway's own small
//! requests to the diary (login form, role probe, logout) share its timeouts, TLS trust
//! and error metrics. Answers are collected with a size cap: a diary that answers a
//! login POST with megabytes is not waited on.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, Limited};

use crate::diary::signin::{DiaryError, DiaryHttp, DiaryResponse};
use crate::upstream::{Upstream, UpstreamError};

/// Largest diary answer the gateway reads for itself.
pub const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// What the gateway's own diary requests say they are: browser-like, and honest.
pub const USER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36 esia-gateway/0.1";

/// The diary as the gateway's own client.
#[derive(Clone)]
pub struct UpstreamDiary {
    upstream: Upstream,
}

impl UpstreamDiary {
    pub fn new(upstream: Upstream) -> Self {
        Self { upstream }
    }

    /// The gateway's metrics registry (the link service counts its events there too).
    pub fn metrics(&self) -> &std::sync::Arc<crate::metrics::Metrics> {
        self.upstream.metrics()
    }

    /// The `Host` the gateway's own requests carry: the diary URL's authority.
    pub fn host(&self) -> String {
        let base = self.upstream.base();
        match (base.host_str(), base.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            _ => "localhost".to_owned(),
        }
    }
}

impl DiaryHttp for UpstreamDiary {
    fn send(
        &self,
        req: Request<Full<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<DiaryResponse, DiaryError>> + Send + '_>> {
        Box::pin(async move {
            let mut req = req;
            // Some diaries refuse requests without a browser-like User-Agent.
            if !req.headers().contains_key(http::header::USER_AGENT) {
                req.headers_mut().insert(
                    http::header::USER_AGENT,
                    http::HeaderValue::from_static(USER_AGENT),
                );
            }
            let resp = self.upstream.send(req).await.map_err(|e| match e {
                UpstreamError::Timeout(_) => DiaryError::Timeout,
                other => DiaryError::Unavailable(other.to_string()),
            })?;
            let (parts, body) = resp.into_parts();
            let bytes = Limited::new(body, MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|e| DiaryError::BadAnswer(format!("answer body: {e}")))?
                .to_bytes();
            Ok(Response::from_parts(parts, bytes))
        })
    }
}
