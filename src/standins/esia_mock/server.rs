//! Starting the mock: load personas, client certificates and keys (generating what is
//! not configured), bind, and serve HTTPS (HTTP/1.1 and HTTP/2) until shut down.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::config::{ClientRegistration, MockConfig, MockConfigError};
use super::faults::Faults;
use super::keys::{KeyGenError, TokenKeys};
use super::personas::{self, DEFAULT_PERSONAS};
use super::routes;
use super::signature::{RegisteredKey, Verifier, WorkDir};
use super::state::{Book, Client, MockState, Shared, SharedState};
use crate::tls::{self, TlsError};

/// A TLS handshake that takes longer than this is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the mock did not start. Messages name the file or key at fault.
#[derive(Debug, thiserror::Error)]
pub enum MockError {
    #[error(transparent)]
    Config(#[from] MockConfigError),
    #[error("personas: {0}")]
    Personas(String),
    #[error("client {client_id}: certificate {source_name}: {detail}")]
    Certificate {
        client_id: String,
        source_name: String,
        detail: String,
    },
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot generate the TLS certificate: {0}")]
    Generate(String),
    #[error(transparent)]
    Keys(#[from] KeyGenError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> MockError + 'a {
    move |source| MockError::Io {
        what,
        path: path.into(),
        source,
    }
}

/// A started mock. Dropping it stops the listener; [`RunningMock::shutdown`] also waits.
pub struct RunningMock {
    addr: SocketAddr,
    base_url: String,
    ca_pem: Option<String>,
    shared: SharedState,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl RunningMock {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://127.0.0.1:PORT` (the bound address; loopback when bound to all).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The CA certificate the mock generated for its TLS leaf, if it generated one.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// The certificate that verifies the mock's tokens (also at `/mock/token-signing-cert.pem`).
    pub fn token_cert_pem(&self) -> &str {
        self.shared.keys.cert_pem()
    }

    /// The personas offered on the login page.
    pub fn personas(&self) -> &[super::personas::Persona] {
        &self.shared.personas
    }

    /// Replaces the active faults.
    pub fn set_faults(&self, faults: Faults) {
        *self.shared.faults() = faults;
    }

    /// Counters and last requests.
    pub fn state(&self) -> MockState {
        self.shared.snapshot()
    }

    /// Stops accepting, closes connections and waits for the listener task.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningMock {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Starts the mock on `config.listen`.
pub async fn start(config: MockConfig) -> Result<RunningMock, MockError> {
    config.validate()?;
    let workdir = WorkDir::create().map_err(io_err("cannot create", &std::env::temp_dir()))?;
    let personas = match &config.personas_file {
        Some(p) => personas::parse(&std::fs::read_to_string(p).map_err(io_err("cannot read", p))?),
        None => personas::parse(DEFAULT_PERSONAS),
    }
    .map_err(MockError::Personas)?;
    let mut clients = HashMap::new();
    for reg in &config.clients {
        let keys = load_client_keys(reg, workdir.path())?;
        clients.insert(
            reg.client_id.clone(),
            Client {
                reg: reg.clone(),
                keys,
            },
        );
    }
    let keys = TokenKeys::load_or_generate(
        config.token_key.as_deref(),
        config.token_cert.as_deref(),
        &config.openssl,
    )
    .await?;
    if let Some(out) = &config.token_cert_out {
        std::fs::write(out, keys.cert_pem()).map_err(io_err("cannot write", out))?;
    }
    let (server_config, ca_pem) = tls_config(&config, workdir.path())?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| MockError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| MockError::Bind {
        addr: config.listen,
        source,
    })?;
    let host = if addr.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], addr.port()))
    } else {
        addr
    };
    let base_url = format!("https://{host}");
    let shared = Arc::new(Shared {
        clients,
        personas,
        verifier: Verifier {
            openssl: config.openssl.clone(),
            workdir: workdir.path().to_path_buf(),
            accept_demo: config.accept_demo_signatures,
        },
        keys,
        clock: config.clock.clone(),
        issuer: config.issuer.clone(),
        token_lifetime_secs: secs(config.token_lifetime_secs),
        code_ttl_secs: secs(config.code_ttl_secs),
        timestamp_window_secs: secs(config.timestamp_window_secs),
        public_url: config
            .public_url
            .as_deref()
            .map(|u| u.trim_end_matches('/').to_string())
            .unwrap_or_else(|| base_url.clone()),
        control_api: config.control_api,
        faults: Mutex::new(config.faults.clone()),
        book: Mutex::new(Book::default()),
        _workdir: workdir,
    });
    let (stop, stopped) = watch::channel(false);
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config));
    let task = tokio::spawn(accept_loop(listener, acceptor, shared.clone(), stopped));
    tracing::info!(%base_url, "ESIA mock listening");
    Ok(RunningMock {
        addr,
        base_url,
        ca_pem,
        shared,
        stop,
        task: Some(task),
    })
}

/// Config values are validated to at most a year, so this never saturates in practice.
fn secs(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn load_client_keys(
    reg: &ClientRegistration,
    workdir: &Path,
) -> Result<Vec<RegisteredKey>, MockError> {
    let bad = |source_name: String, detail: String| MockError::Certificate {
        client_id: reg.client_id.clone(),
        source_name,
        detail,
    };
    let mut ders: Vec<(String, CertificateDer<'static>)> = Vec::new();
    for path in &reg.certificates {
        for der in tls::read_certs(path)? {
            ders.push((path.display().to_string(), der));
        }
    }
    for (i, pem) in reg.certificates_pem.iter().enumerate() {
        let name = format!("certificates_pem[{i}]");
        let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(name.clone(), e.to_string()))?;
        if certs.is_empty() {
            return Err(bad(name, "no PEM certificate".into()));
        }
        ders.extend(certs.into_iter().map(|c| (name.clone(), c)));
    }
    ders.iter()
        .map(|(name, der)| {
            RegisteredKey::from_der(der, workdir).map_err(|e| bad(name.clone(), e.to_string()))
        })
        .collect()
}

/// The configured TLS files, or a generated CA + leaf (the CA PEM is returned).
fn tls_config(
    config: &MockConfig,
    workdir: &Path,
) -> Result<(rustls::ServerConfig, Option<String>), MockError> {
    if let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) {
        return Ok((tls::server_config_from_files(cert, key)?, None));
    }
    let generate = |e: rcgen::Error| MockError::Generate(e.to_string());
    let ca = tls::selfsigned::TestCa::generate("ESIA mock CA").map_err(generate)?;
    let names: Vec<&str> = config.tls_names.iter().map(String::as_str).collect();
    let leaf = ca.leaf(&names).map_err(generate)?;
    let files = leaf
        .write(workdir, "tls")
        .map_err(io_err("cannot write", workdir))?;
    let server = tls::server_config_from_files(&files.cert, &files.key)?;
    // The key file is no longer needed once loaded.
    let _ = std::fs::remove_file(&files.key);
    if let Some(out) = &config.ca_out {
        ca.write_cert(out).map_err(io_err("cannot write", out))?;
    }
    Ok((server, Some(ca.cert_pem())))
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    shared: SharedState,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let tcp = tokio::select! {
            _ = stopped.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "ESIA mock accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        tokio::spawn(serve_connection(
            tcp,
            acceptor.clone(),
            shared.clone(),
            stopped.clone(),
        ));
    }
}

async fn serve_connection(
    tcp: tokio::net::TcpStream,
    acceptor: tokio_rustls::TlsAcceptor,
    shared: SharedState,
    mut stopped: watch::Receiver<bool>,
) {
    let Ok(Ok(stream)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await else {
        return;
    };
    let service = service_fn(move |req| {
        let shared = shared.clone();
        async move { routes::handle(&shared, req).await }
    });
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = conn => {}
        _ = stopped.changed() => {}
    }
}
