//! The outgoing HTTPS client towards ESIA: hyper-util's pooled client over hyper-rustls,
//! trusting the system roots plus an optional extra bundle (the Минцифры root), with a
//! connect timeout, a whole-exchange timeout and a cap on the response body so a
//! misbehaving server can neither hang a login nor fill memory.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::config::EsiaConfig;

/// Why an HTTP exchange with ESIA failed before a response was read.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("timed out")]
    Timeout,
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("server error status {0}")]
    ServerStatus(u16),
    #[error("response body over {0} bytes")]
    TooLarge(usize),
    #[error("HTTP exchange failed: {0}")]
    Other(String),
}

#[derive(Clone)]
pub struct EsiaHttp {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    request_timeout: Duration,
    max_body: usize,
}

impl EsiaHttp {
    pub fn new(cfg: &EsiaConfig) -> Result<Self, crate::tls::TlsError> {
        let tls = crate::tls::client_config(cfg.ca_bundle.as_deref())?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(cfg.connect_timeout));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_only()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(https);
        Ok(Self {
            client,
            request_timeout: cfg.request_timeout,
            max_body: cfg.max_response_bytes,
        })
    }

    /// Sends one request and reads the whole (capped) body within the request timeout.
    pub async fn send(
        &self,
        req: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, HttpError> {
        let (parts, body) = req.into_parts();
        let req = http::Request::from_parts(parts, Full::new(Bytes::from(body)));
        let exchange = async {
            let resp = self.client.request(req).await.map_err(classify)?;
            let (parts, body) = resp.into_parts();
            let collected = Limited::new(body, self.max_body)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        HttpError::TooLarge(self.max_body)
                    } else {
                        HttpError::Other(e.to_string())
                    }
                })?;
            Ok(http::Response::from_parts(
                parts,
                collected.to_bytes().to_vec(),
            ))
        };
        match tokio::time::timeout(self.request_timeout, exchange).await {
            Ok(r) => r,
            Err(_) => Err(HttpError::Timeout),
        }
    }
}

/// Connect timeouts count as timeouts (504); other connect failures as unavailable (502).
fn classify(e: hyper_util::client::legacy::Error) -> HttpError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::TimedOut
        {
            return HttpError::Timeout;
        }
        source = s.source();
    }
    let detail = error_chain(&e);
    if e.is_connect() {
        HttpError::Connect(detail)
    } else {
        HttpError::Other(detail)
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
