//! Shared helpers for the integration tests: a generated PKI, a recording upstream
//! "diary" on 127.0.0.1:0, the gateway started in-process on port 0, and clients that
//! trust the test CA. Every test file uses a subset, hence the `allow(dead_code)`.
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use esia_gateway::config::GatewayConfig;
use esia_gateway::server::{Gateway, RunningGateway};
use esia_gateway::tls::selfsigned::{LeafFiles, TestCa};
use futures_util::StreamExt;
use http::{HeaderMap, Request, Response, StatusCode, Version};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

pub type TestBody = BoxBody<Bytes, hyper::Error>;

/// Logs to the test output when `RUST_LOG` is set.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// A CA, and a leaf for `localhost`/`127.0.0.1` written to a temp dir.
pub struct Pki {
    pub ca: TestCa,
    pub dir: tempfile::TempDir,
    pub files: LeafFiles,
}

impl Pki {
    pub fn new() -> Self {
        let ca = TestCa::generate("esia-gateway test CA").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let files = ca
            .leaf(&["localhost", "127.0.0.1"])
            .unwrap()
            .write(dir.path(), "gateway")
            .unwrap();
        Self { ca, dir, files }
    }

    /// Writes a fresh leaf over the gateway's cert/key files; returns its DER.
    pub fn rotate_leaf(&self) -> Vec<u8> {
        let leaf = self.ca.leaf(&["localhost", "127.0.0.1"]).unwrap();
        leaf.write(self.dir.path(), "gateway").unwrap();
        pem_to_der(&leaf.cert_pem)
    }

    pub fn current_leaf_der(&self) -> Vec<u8> {
        pem_to_der(&std::fs::read_to_string(&self.files.cert).unwrap())
    }

    pub fn rustls_client(&self, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca.cert_der().into()).unwrap();
        let mut cfg = rustls::ClientConfig::builder_with_provider(esia_gateway::tls::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(cfg)
    }
}

fn pem_to_der(pem: &str) -> Vec<u8> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    CertificateDer::from_pem_slice(pem.as_bytes())
        .unwrap()
        .to_vec()
}

/// Gateway config for tests: everything on 127.0.0.1:0, admin enabled.
pub fn config(pki: &Pki, upstream: &url::Url) -> GatewayConfig {
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut c = GatewayConfig::new(
        any,
        pki.files.cert.clone(),
        pki.files.key.clone(),
        upstream.clone(),
    );
    c.listen.admin = Some(any);
    c
}

pub async fn start(config: GatewayConfig) -> RunningGateway {
    init_tracing();
    Gateway::start(config).await.unwrap()
}

/// A loopback address the OS just handed out (for a server started in another process,
/// whose config must name its port up front).
pub fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// Flow B's confirmation page at `url` (after ESIA), through a test browser's `get` and
/// `post`: the page's question, and the answer to pressing `action` (`confirm` or
/// `not-me`) with the page's CSRF token.
pub async fn answer_link_confirmation(
    get: impl AsyncFn(&str) -> reqwest::Response,
    post: impl AsyncFn(&str, &[(&str, &str)]) -> reqwest::Response,
    url: &str,
    action: &str,
) -> (String, reqwest::Response) {
    let page = get(url).await;
    assert_eq!(page.status(), 200, "no confirmation page");
    let html = page.text().await.unwrap();
    let marker = "name=\"csrf\" value=\"";
    let csrf = html
        .split(marker)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("csrf on the confirmation page")
        .to_owned();
    let question = html
        .split("<p id=\"link-question\">")
        .nth(1)
        .and_then(|r| r.split("</p>").next())
        .unwrap_or_default()
        .to_owned();
    let resp = post(url, &[("csrf", csrf.as_str()), ("action", action)]).await;
    (question, resp)
}

/// The body of a plain GET (admin endpoints), as text.
pub async fn fetch_text(url: &str) -> String {
    reqwest::get(url).await.unwrap().text().await.unwrap()
}

/// Polls the admin listener's `/healthz` at `admin` for up to 10 s; whether it answered.
pub async fn wait_healthy(admin: SocketAddr) -> bool {
    let health = format!("http://{admin}/healthz");
    for _ in 0..200 {
        if reqwest::get(&health)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}

/// `https://localhost:<port><path>` for the gateway.
pub fn url(gw: &RunningGateway, path: &str) -> String {
    format!("https://localhost:{}{path}", gw.https_addr().port())
}

/// reqwest trusting the test CA, `localhost` pinned to the gateway; offers h2 and h1.
pub fn client(pki: &Pki, gw: &RunningGateway) -> reqwest::Client {
    client_builder(pki, gw).build().unwrap()
}

pub fn client_builder(pki: &Pki, gw: &RunningGateway) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pki.ca.cert_pem().as_bytes()).unwrap())
        .resolve("localhost", gw.https_addr())
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
}

/// A raw TLS stream to the gateway (for hand-written HTTP/1.1 and websockets).
pub async fn tls_stream(pki: &Pki, addr: SocketAddr) -> tokio_rustls::client::TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let connector = tokio_rustls::TlsConnector::from(pki.rustls_client(&[b"http/1.1"]));
    connector
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .unwrap()
}

/// A port nobody listens on (bound, then released).
pub async fn dead_url() -> url::Url {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    url::Url::parse(&format!("http://{addr}")).unwrap()
}

/// What the upstream received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub uri: String,
    pub version: Version,
    pub headers: HeaderMap,
    pub body_len: u64,
    /// Sum of body bytes with position weighting, to detect reordering or corruption.
    pub body_sum: u64,
    /// The gateway's side of the TCP connection (same port = reused connection).
    pub peer: SocketAddr,
}

/// A recording HTTP/1.1 "diary". Routes:
/// `/big?bytes=N` streams N pattern bytes; `/slow?ms=N` answers after N ms;
/// `/echo` streams the request body back; `/redirect` answers with URLs of its own
/// origin; `/hop` answers with hop-by-hop headers; anything else reads the whole body
/// and answers `ok <len>`.
pub struct TestUpstream {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    scheme: &'static str,
}

impl TestUpstream {
    pub async fn start() -> Self {
        Self::start_with(None).await
    }

    /// The same diary behind TLS, with a certificate for 127.0.0.1 from its own CA.
    pub async fn start_tls(server: Arc<rustls::ServerConfig>) -> Self {
        Self::start_with(Some(tokio_rustls::TlsAcceptor::from(server))).await
    }

    async fn start_with(tls: Option<tokio_rustls::TlsAcceptor>) -> Self {
        let scheme = if tls.is_some() { "https" } else { "http" };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let rec = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, peer)) = listener.accept().await else {
                    continue;
                };
                let rec = rec.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| {
                        let rec = rec.clone();
                        let origin = format!("{scheme}://{addr}");
                        async move { Ok::<_, Infallible>(route(req, &origin, peer, rec).await) }
                    });
                    let http = hyper::server::conn::http1::Builder::new();
                    match tls {
                        None => {
                            let _ = http.serve_connection(TokioIo::new(tcp), svc).await;
                        }
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(tcp).await {
                                let _ = http.serve_connection(TokioIo::new(stream), svc).await;
                            }
                        }
                    }
                });
            }
        });
        Self { addr, seen, scheme }
    }

    pub fn url(&self) -> url::Url {
        url::Url::parse(&format!("{}://{}", self.scheme, self.addr)).unwrap()
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn last(&self) -> Seen {
        self.seen().pop().expect("the upstream saw no request")
    }
}

pub fn pattern(i: u64) -> u8 {
    (i % 251) as u8
}

fn weigh(sum: &mut u64, offset: u64, data: &[u8]) {
    for (i, b) in data.iter().enumerate() {
        *sum = sum.wrapping_add((offset + i as u64 + 1).wrapping_mul(*b as u64));
    }
}

/// The checksum `Seen::body_sum` would show for `len` pattern bytes.
pub fn pattern_sum(len: u64) -> u64 {
    let mut sum = 0u64;
    for i in 0..len {
        sum = sum.wrapping_add((i + 1).wrapping_mul(pattern(i) as u64));
    }
    sum
}

fn query_num(req: &Request<Incoming>, key: &str) -> u64 {
    req.uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

fn full(s: impl Into<Bytes>) -> TestBody {
    Full::new(s.into()).map_err(|never| match never {}).boxed()
}

async fn route(
    req: Request<Incoming>,
    origin: &str,
    peer: SocketAddr,
    rec: Arc<Mutex<Vec<Seen>>>,
) -> Response<TestBody> {
    let mut seen = Seen {
        method: req.method().to_string(),
        uri: req.uri().to_string(),
        version: req.version(),
        headers: req.headers().clone(),
        body_len: 0,
        body_sum: 0,
        peer,
    };
    match req.uri().path() {
        "/big" => {
            rec.lock().unwrap().push(seen);
            let total = query_num(&req, "bytes");
            let chunks = futures_util::stream::iter((0..total).step_by(65536).map(move |start| {
                let end = (start + 65536).min(total);
                let data: Vec<u8> = (start..end).map(pattern).collect();
                Ok::<_, hyper::Error>(Frame::data(Bytes::from(data)))
            }));
            Response::new(BodyExt::boxed(StreamBody::new(chunks)))
        }
        "/slow" => {
            rec.lock().unwrap().push(seen);
            tokio::time::sleep(Duration::from_millis(query_num(&req, "ms"))).await;
            Response::new(full("slow done"))
        }
        "/echo" => {
            rec.lock().unwrap().push(seen);
            Response::new(req.into_body().boxed())
        }
        "/redirect" => {
            rec.lock().unwrap().push(seen);
            Response::builder()
                .status(StatusCode::FOUND)
                .header("location", format!("{origin}/after?x=1#frag"))
                .header("content-location", format!("{origin}/cl"))
                .header("refresh", format!("0; url={origin}/r"))
                .header("link", format!("<{origin}/untouched>"))
                .body(full(""))
                .unwrap()
        }
        "/redirect-away" => {
            rec.lock().unwrap().push(seen);
            Response::builder()
                .status(StatusCode::FOUND)
                .header("location", "https://esia.gosuslugi.ru/aas/oauth2/ac")
                .body(full(""))
                .unwrap()
        }
        "/hop" => {
            rec.lock().unwrap().push(seen);
            Response::builder()
                .header("connection", "x-up-secret")
                .header("x-up-secret", "1")
                .header("keep-alive", "timeout=5")
                .header("x-kept", "yes")
                .body(full("hop"))
                .unwrap()
        }
        _ => {
            let mut body = req.into_body();
            while let Some(frame) = body.frame().await {
                match frame {
                    Ok(f) => {
                        if let Some(d) = f.data_ref() {
                            weigh(&mut seen.body_sum, seen.body_len, d);
                            seen.body_len += d.len() as u64;
                        }
                    }
                    Err(_) => {
                        rec.lock().unwrap().push(seen);
                        return Response::builder()
                            .status(StatusCode::BAD_REQUEST)
                            .body(full("broken body"))
                            .unwrap();
                    }
                }
            }
            let len = seen.body_len;
            rec.lock().unwrap().push(seen);
            Response::new(full(format!("ok {len}")))
        }
    }
}

/// A websocket echo server (tokio-tungstenite) on 127.0.0.1:0.
pub async fn ws_echo_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                    return;
                };
                while let Some(Ok(msg)) = ws.next().await {
                    if msg.is_close() {
                        break;
                    }
                    if futures_util::SinkExt::send(&mut ws, msg).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}
