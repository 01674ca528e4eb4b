//! The diary as seen from the gateway: pooled keep-alive HTTP/1.1 clients over plain
//! TCP or rustls, with connect and response-head timeouts. Each thread has its own pool
//! (a browser connection and the diary connections it uses stay on one worker thread,
//! see `server::workers`): a connection pooled by another thread would wake that
//! thread for every request.
//!
//! Everything that talks to the diary goes through [`Upstream::send`] — the proxy, and
//! later the login-form automation — so timeouts, TLS trust (system roots + the
//! configured extra CA bundle) and error counting are the same for all of them.
//! The diary always gets HTTP/1.1, whatever the browser spoke: legacy PHP diaries behind
//! an old Apache are the expected upstream.

use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response, StatusCode, Uri, Version};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::pki_types::ServerName;

use crate::body::{self, BoxError};
use crate::metrics::Metrics;
use crate::tls::TlsError;

/// Why the diary could not be asked or did not answer.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("cannot connect to the diary: {0}")]
    Connect(String),
    #[error("the diary did not answer within {0:?}")]
    Timeout(Duration),
    #[error("exchange with the diary failed: {0}")]
    Protocol(String),
    #[error("cannot build the upstream request: {0}")]
    Request(String),
}

impl UpstreamError {
    /// Stable name for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Connect(_) => "connect",
            Self::Timeout(_) => "timeout",
            Self::Protocol(_) => "protocol",
            Self::Request(_) => "request",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::Connect(_) | Self::Protocol(_) => StatusCode::BAD_GATEWAY,
            Self::Request(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// What the client is built from (the config layer fills it from `[upstream]`,
/// `[timeouts]` and `[tls] outgoing_ca`).
#[derive(Debug, Clone)]
pub struct UpstreamSettings {
    pub url: url::Url,
    pub outgoing_ca: Option<std::path::PathBuf>,
    pub connect_timeout: Duration,
    pub response_timeout: Duration,
    pub pool_idle_timeout: Duration,
    pub pool_max_idle: usize,
}

type HttpClient = Client<HttpsConnector<HttpConnector>, body::Body>;

/// A cheap-to-clone handle on the pooled clients.
#[derive(Clone)]
pub struct Upstream {
    clients: Arc<PerThread>,
    base: url::Url,
    /// `base`'s scheme and authority, parsed once: every request's URI is built from them.
    origin: Option<(http::uri::Scheme, http::uri::Authority)>,
    tls: Arc<rustls::ClientConfig>,
    connect_timeout: Duration,
    response_timeout: Duration,
    metrics: Arc<Metrics>,
}

impl Upstream {
    pub fn new(
        settings: impl Into<UpstreamSettings>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, TlsError> {
        let s: UpstreamSettings = settings.into();
        let tls = crate::tls::client_config(s.outgoing_ca.as_deref())?;
        let mut http = HttpConnector::new();
        http.enforce_http(false); // the TLS layer above handles https URLs
        http.set_connect_timeout(Some(s.connect_timeout));
        http.set_nodelay(true);
        http.set_keepalive(Some(Duration::from_secs(60)));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls.clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let clients = Arc::new(PerThread {
            connector,
            pool_idle_timeout: s.pool_idle_timeout,
            pool_max_idle: s.pool_max_idle,
            clients: thread_local::ThreadLocal::new(),
        });
        let origin = s
            .url
            .origin()
            .ascii_serialization()
            .parse::<Uri>()
            .ok()
            .and_then(|u| {
                let parts = u.into_parts();
                Some((parts.scheme?, parts.authority?))
            });
        Ok(Self {
            clients,
            origin,
            base: s.url,
            tls: Arc::new(tls),
            connect_timeout: s.connect_timeout,
            response_timeout: s.response_timeout,
            metrics,
        })
    }

    /// The registry this client counts into (shared by every service of the gateway).
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The diary's origin, e.g. `http://10.0.0.5:8080`.
    pub fn base(&self) -> &url::Url {
        &self.base
    }

    /// Sends a request to the diary and waits for the response head (not the body).
    ///
    /// A relative URI (`/path?query`) is resolved against the upstream URL. The response
    /// timeout counts from here, connecting included. Errors are counted in the metrics.
    pub async fn send<B>(&self, req: Request<B>) -> Result<Response<Incoming>, UpstreamError>
    where
        B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let result = self.send_inner(req).await;
        if let Err(e) = &result {
            self.metrics.upstream_error(e.kind());
        }
        result
    }

    async fn send_inner<B>(&self, req: Request<B>) -> Result<Response<Incoming>, UpstreamError>
    where
        B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let (mut parts, body) = req.into_parts();
        parts.uri = self.absolute(&parts.uri)?;
        parts.version = Version::HTTP_11;
        let req = Request::from_parts(parts, body::boxed(body));
        let client = self.clients.get();
        match tokio::time::timeout(self.response_timeout, client.request(req)).await {
            Err(_) => Err(UpstreamError::Timeout(self.response_timeout)),
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(e)) if e.is_connect() => Err(UpstreamError::Connect(error_chain(&e))),
            Ok(Err(e)) => Err(UpstreamError::Protocol(error_chain(&e))),
        }
    }

    fn absolute(&self, uri: &Uri) -> Result<Uri, UpstreamError> {
        let (scheme, authority) = self
            .origin
            .clone()
            .ok_or_else(|| UpstreamError::Request(format!("{} has no origin", self.base)))?;
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(scheme);
        parts.authority = Some(authority);
        let path = uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/"));
        // `OPTIONS *` and other forms without a path are not forwarded.
        if !path.as_str().starts_with('/') {
            return Err(UpstreamError::Request(format!(
                "{path} is not a path on the diary"
            )));
        }
        parts.path_and_query = Some(path);
        Uri::from_parts(parts).map_err(|e| UpstreamError::Request(e.to_string()))
    }

    /// Readiness probe: can a TCP (and, for https, TLS) connection be opened right now?
    pub async fn probe(&self) -> Result<(), UpstreamError> {
        let host = self
            .base
            .host_str()
            .ok_or_else(|| UpstreamError::Request("upstream URL has no host".into()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = self
            .base
            .port_or_known_default()
            .ok_or_else(|| UpstreamError::Request("upstream URL has no port".into()))?;
        let connect = async {
            let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
                .await
                .map_err(|e| UpstreamError::Connect(e.to_string()))?;
            if self.base.scheme() == "https" {
                let name = ServerName::try_from(host.clone())
                    .map_err(|e| UpstreamError::Request(e.to_string()))?;
                tokio_rustls::TlsConnector::from(self.tls.clone())
                    .connect(name, tcp)
                    .await
                    .map_err(|e| UpstreamError::Connect(format!("TLS: {e}")))?;
            }
            Ok(())
        };
        tokio::time::timeout(self.connect_timeout, connect)
            .await
            .map_err(|_| UpstreamError::Connect("connect timed out".into()))?
    }
}

/// One client (one pool) per thread that sends to the diary, made on its first request.
struct PerThread {
    connector: HttpsConnector<HttpConnector>,
    pool_idle_timeout: Duration,
    pool_max_idle: usize,
    clients: thread_local::ThreadLocal<HttpClient>,
}

impl PerThread {
    fn get(&self) -> &HttpClient {
        self.clients.get_or(|| {
            Client::builder(TokioExecutor::new())
                .pool_idle_timeout(self.pool_idle_timeout)
                .pool_max_idle_per_host(self.pool_max_idle)
                .pool_timer(TokioTimer::new())
                .timer(TokioTimer::new())
                .build(self.connector.clone())
        })
    }
}

/// "a: b: c" from an error and its sources, for the log (never for the page).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstream(url: &str) -> Upstream {
        let settings = UpstreamSettings {
            url: url::Url::parse(url).unwrap(),
            outgoing_ca: None,
            connect_timeout: Duration::from_secs(1),
            response_timeout: Duration::from_secs(1),
            pool_idle_timeout: Duration::from_secs(1),
            pool_max_idle: 1,
        };
        Upstream::new(settings, Arc::new(Metrics::new())).unwrap()
    }

    #[test]
    fn every_request_goes_to_the_diary_origin_with_its_own_path_and_query() {
        let cases = [
            (
                "http://10.0.0.5:8080",
                "/marks?id=5&x=%20",
                "http://10.0.0.5:8080/marks?id=5&x=%20",
            ),
            (
                "https://diary.example.ru/base/",
                "/a/b.php/c?q",
                "https://diary.example.ru/a/b.php/c?q",
            ),
            ("http://[::1]:81", "/x", "http://[::1]:81/x"),
            // An absolute-form target names another host: only its path and query count.
            (
                "http://127.0.0.1:9",
                "http://evil.example/steal?x=1",
                "http://127.0.0.1:9/steal?x=1",
            ),
            ("http://127.0.0.1:80", "/", "http://127.0.0.1/"),
        ];
        for (base, target, want) in cases {
            let uri: Uri = target.parse().unwrap();
            let got = upstream(base).absolute(&uri).unwrap();
            assert_eq!(got.to_string(), want, "{base} + {target}");
        }
        let star: Uri = "*".parse().unwrap();
        assert!(upstream("http://10.0.0.5:8080").absolute(&star).is_err());
    }
}
