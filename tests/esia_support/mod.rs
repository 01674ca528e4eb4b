//! Fixtures for the ESIA client tests: an RSA token-signing key with its certificate
//! (made by the real `openssl` binary, as ESIA's keys are plain RSA certificates), JWT
//! minting, and a tiny HTTPS server on 127.0.0.1:0 that plays canned ESIA answers.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use esia_gateway::esia::{EsiaConfig, EsiaFile};
use esia_gateway::tls::selfsigned::TestCa;
use http_body_util::{BodyExt, Full};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

pub const CLIENT_ID: &str = "DNEVNIK76";
pub const ISSUER: &str = "http://esia.gosuslugi.ru/";
pub const OID: u64 = 1000299681;
/// 2019-01-14 09:30:00 +0300.
pub const NOW: i64 = 1_547_447_400;

pub fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// An RSA key and self-signed certificate, as ESIA publishes its token keys.
pub struct RsaKey {
    pub key_pem: Vec<u8>,
    pub cert: PathBuf,
}

impl RsaKey {
    pub fn generate(dir: &Path, stem: &str) -> Self {
        let key = dir.join(format!("{stem}.key"));
        let cert = dir.join(format!("{stem}.pem"));
        run(Command::new("openssl")
            .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj"])
            .arg(format!("/CN={stem}"))
            .args(["-days", "2"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert));
        Self {
            key_pem: std::fs::read(&key).unwrap(),
            cert,
        }
    }

    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.typ = Some("JWT".into());
        jsonwebtoken::encode(
            &header,
            claims,
            &EncodingKey::from_rsa_pem(&self.key_pem).unwrap(),
        )
        .unwrap()
    }

    /// The public key PEM, as an attacker would use it for HS256 key confusion.
    pub fn public_pem(&self) -> Vec<u8> {
        run(Command::new("openssl")
            .args(["x509", "-pubkey", "-noout", "-in"])
            .arg(&self.cert))
        .stdout
    }
}

pub fn access_claims(now: i64) -> Value {
    json!({
        "iss": ISSUER,
        "client_id": CLIENT_ID,
        "urn:esia:sbj_id": OID,
        "urn:esia:sid": "sid-1",
        "scope": format!("openid?oid={OID} fullname?oid={OID} id_doc?oid={OID}"),
        "nbf": now - 10,
        "iat": now - 10,
        "exp": now + 3600,
    })
}

pub fn id_claims(now: i64, lvl: &str, is_tru: bool) -> Value {
    json!({
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "sub": OID,
        "nbf": now - 10,
        "iat": now - 10,
        "exp": now + 3600,
        "auth_time": now - 10,
        "amr": "PWD",
        "urn:esia:sid": "sid-1",
        "urn:esia:sbj": {
            "urn:esia:sbj:typ": "P",
            "urn:esia:sbj:oid": OID,
            "urn:esia:sbj:nam": format!("OID.{OID}"),
            "urn:esia:sbj:is_tru": is_tru,
            "urn:esia:sbj:lvl": lvl,
        },
    })
}

/// A config pointing at `base` with the given token key certificates.
pub fn config(base: &str, keys: &[PathBuf], signer: toml::Value, ca: Option<&Path>) -> EsiaConfig {
    let mut t = toml::toml! {
        client_id = "DNEVNIK76"
        redirect_uri = "https://dnevnik.example.ru/esia/callback"
        certificate_hash = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        timeouts = { connect_secs = 2, request_secs = 1 }
    };
    t.insert("base_url".into(), base.into());
    t.insert(
        "token_keys".into(),
        toml::Value::Array(
            keys.iter()
                .map(|p| p.display().to_string().into())
                .collect(),
        ),
    );
    t.insert("signer".into(), signer);
    if let Some(ca) = ca {
        t.insert("ca_bundle".into(), ca.display().to_string().into());
    }
    let file: EsiaFile = toml::Value::Table(t).try_into().unwrap();
    file.validate().unwrap()
}

/// One canned answer; `delay` makes the server slow.
#[derive(Clone)]
pub struct Canned {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    pub delay: Option<Duration>,
}

impl Canned {
    pub fn json(status: u16, v: Value) -> Self {
        Self {
            status,
            content_type: "application/json",
            body: v.to_string().into_bytes(),
            delay: None,
        }
    }
    pub fn raw(status: u16, content_type: &'static str, body: &str) -> Self {
        Self {
            status,
            content_type,
            body: body.as_bytes().to_vec(),
            delay: None,
        }
    }
}

/// What the server saw: method, path+query, headers, body.
pub struct Seen {
    pub method: String,
    pub target: String,
    pub authorization: Option<String>,
    pub body: Vec<u8>,
}

pub type Handler = Arc<dyn Fn(Seen) -> Canned + Send + Sync>;

/// A TLS server on 127.0.0.1:0 signed by a fresh test CA; returns its address and the
/// CA file the client must trust.
pub async fn canned_server(dir: &Path, handler: Handler) -> (SocketAddr, PathBuf) {
    let ca = TestCa::generate("esia test CA").unwrap();
    let ca_file = dir.join("ca.pem");
    ca.write_cert(&ca_file).unwrap();
    let files = ca.leaf(&["127.0.0.1"]).unwrap().write(dir, "esia").unwrap();
    let mut cfg = esia_gateway::tls::server_config_from_files(&files.cert, &files.key).unwrap();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let handler = handler.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let handler = handler.clone();
                        async move {
                            let method = req.method().to_string();
                            let target = req
                                .uri()
                                .path_and_query()
                                .map(|p| p.to_string())
                                .unwrap_or_default();
                            let authorization = req
                                .headers()
                                .get("authorization")
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_string);
                            let body = req
                                .into_body()
                                .collect()
                                .await
                                .map(|b| b.to_bytes().to_vec())
                                .unwrap_or_default();
                            let canned = handler(Seen {
                                method,
                                target,
                                authorization,
                                body,
                            });
                            if let Some(d) = canned.delay {
                                tokio::time::sleep(d).await;
                            }
                            Ok::<_, std::convert::Infallible>(
                                hyper::Response::builder()
                                    .status(canned.status)
                                    .header("content-type", canned.content_type)
                                    .body(Full::new(Bytes::from(canned.body)))
                                    .unwrap(),
                            )
                        }
                    },
                );
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection(hyper_util::rt::TokioIo::new(tls), svc)
                .await;
            });
        }
    });
    (addr, ca_file)
}

/// Form fields of a urlencoded body.
pub fn form(body: &[u8]) -> std::collections::HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}
