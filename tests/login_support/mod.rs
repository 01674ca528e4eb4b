//! A whole login stand: the gateway in-process on 127.0.0.1:0 over TLS (test CA) in front
//! of a recording upstream, the ESIA mock in-process over its own TLS, the real ESIA
//! client with the Ed25519 demo signer, the real session service on SQLite or
//! PostgreSQL, and a browser (reqwest with a cookie store, redirects off) that follows
//! each hop itself.
//!
//! The gateway's callback URL contains its port, which the mock must know as a
//! registered redirect_uri, and the ESIA client needs the mock's URL: so the gateway
//! starts with a [`LateIdp`] that is filled in once the mock is up.
#![allow(dead_code)]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use esia_gateway::clock::{ManualClock, SharedClock};
use esia_gateway::esia::{EsiaClient, EsiaFile, signer};
use esia_gateway::login::adapters::{EsiaProvider, StoreBackend};
use esia_gateway::login::ports::{EsiaIdentity, IdentityProvider, IdpFailure};
use esia_gateway::login::{Login, LoginSettings};
use esia_gateway::server::{Gateway, RunningGateway};
use esia_gateway::session::{SessionId, SessionPolicy, Sessions};
use esia_gateway::standins::esia_mock::{self, ClientRegistration, MockConfig, RunningMock};
use esia_gateway::store::{SessionRecord, SharedStore};
use futures_util::future::BoxFuture;
use http::StatusCode;
use reqwest::header::{LOCATION, SET_COOKIE};

use crate::support::{self, Pki, TestUpstream};

pub const CLIENT_ID: &str = "RID-TEST";

/// Fills the identity-provider slot after the mock has started.
#[derive(Default)]
pub struct LateIdp(OnceLock<Arc<dyn IdentityProvider>>);

impl LateIdp {
    fn get(&self) -> &Arc<dyn IdentityProvider> {
        self.0.get().expect("identity provider set before use")
    }
}

impl IdentityProvider for LateIdp {
    fn authorization_url(&self, state: uuid::Uuid) -> BoxFuture<'_, Result<url::Url, IdpFailure>> {
        self.get().authorization_url(state)
    }
    fn complete<'a>(&'a self, code: &'a str) -> BoxFuture<'a, Result<EsiaIdentity, IdpFailure>> {
        self.get().complete(code)
    }
    fn callback_error(&self, error: &str, description: &str) -> IdpFailure {
        self.get().callback_error(error, description)
    }
    fn logout_url(&self, redirect_url: &url::Url) -> Option<url::Url> {
        self.get().logout_url(redirect_url)
    }
    fn form_targets(&self) -> Vec<url::Url> {
        self.get().form_targets()
    }
}

/// Knobs of one stand.
pub struct Options {
    pub clock: SharedClock,
    pub policy: SessionPolicy,
    /// Gateway `i` uses `stores[i]` (replica tests: several handles on one
    /// PostgreSQL); a gateway without one gets a fresh SQLite file.
    pub stores: Vec<SharedStore>,
    pub require_confirmed: bool,
    pub accept_demo_signatures: bool,
    /// Sign client_secret with GOST through `openssl` instead of the demo signer.
    pub gost: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            clock: Arc::new(esia_gateway::clock::SystemClock),
            policy: SessionPolicy::default(),
            stores: Vec::new(),
            require_confirmed: false,
            accept_demo_signatures: true,
            gost: false,
        }
    }
}

/// The RP's signing key and certificate, as files: Ed25519 (demo signer) or
/// GOST R 34.10-2012 (the production signer: `openssl` with the GOST engine).
pub struct RpKey {
    pub key: std::path::PathBuf,
    pub cert_pem: String,
    pub cert_der: Vec<u8>,
    pub gost: bool,
}

impl RpKey {
    /// A GOST key and certificate made by the real `openssl` with the GOST engine.
    pub fn generate_gost(dir: &std::path::Path) -> Self {
        let key = dir.join("rp-gost.key");
        let cert = dir.join("rp-gost.pem");
        let run = |args: &[&str]| {
            let out = std::process::Command::new("openssl")
                .args(args)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let (k, c) = (key.to_str().unwrap(), cert.to_str().unwrap());
        run(&[
            "genpkey",
            "-engine",
            "gost",
            "-algorithm",
            "gost2012_256",
            "-pkeyopt",
            "paramset:A",
            "-out",
            k,
        ]);
        run(&[
            "req",
            "-engine",
            "gost",
            "-new",
            "-x509",
            "-key",
            k,
            "-subj",
            "/CN=test-rp",
            "-days",
            "30",
            "-out",
            c,
        ]);
        let cert_pem = std::fs::read_to_string(&cert).unwrap();
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .unwrap()
            .to_vec();
        Self {
            key,
            cert_pem,
            cert_der,
            gost: true,
        }
    }

    pub fn generate(dir: &std::path::Path) -> Self {
        let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["test-rp".to_owned()])
            .unwrap()
            .self_signed(&kp)
            .unwrap();
        let key = dir.join("rp.key");
        std::fs::write(&key, kp.serialize_pem()).unwrap();
        Self {
            key,
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            gost: false,
        }
    }
}

/// One gateway with its login service.
pub struct GatewayUnderTest {
    pub gw: RunningGateway,
    pub sessions: Arc<Sessions>,
    pub store: SharedStore,
    idp: Arc<LateIdp>,
}

impl GatewayUnderTest {
    pub async fn start(
        pki: &Pki,
        upstream: &TestUpstream,
        dir: &std::path::Path,
        opts: &Options,
        index: usize,
    ) -> Self {
        support::init_tracing();
        let store = match opts.stores.get(index) {
            Some(s) => s.clone(),
            None => {
                let path = dir.join(format!("gw-{}.db", uuid::Uuid::new_v4().simple()));
                Arc::new(
                    esia_gateway::store::sqlite::SqliteStore::open(&path)
                        .await
                        .unwrap(),
                ) as SharedStore
            }
        };
        let sessions = Arc::new(Sessions::new(
            store.clone(),
            opts.clock.clone(),
            opts.policy.clone(),
        ));
        let backend = StoreBackend::new(store.clone(), sessions.clone(), opts.clock.clone());
        let idp = Arc::new(LateIdp::default());
        let login = Login::new(
            LoginSettings {
                // The corpora start hundreds of logins from one address.
                starts_per_minute: 100_000,
                ..LoginSettings::default()
            },
            idp.clone(),
            Arc::new(backend),
            opts.clock.clone(),
        )
        .unwrap();
        let gw = Gateway::start_with(support::config(pki, &upstream.url()), Some(Arc::new(login)))
            .await
            .unwrap();
        Self {
            gw,
            sessions,
            store,
            idp,
        }
    }

    pub fn port(&self) -> u16 {
        self.gw.https_addr().port()
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.port())
    }

    pub fn callback(&self) -> String {
        self.url("/esia/callback")
    }

    /// Points this gateway's ESIA client at the mock.
    pub fn connect_esia(&self, mock: &RunningMock, dir: &std::path::Path, rp: &RpKey) {
        let token_cert = dir.join("esia-token.pem");
        std::fs::write(&token_cert, mock.token_cert_pem()).unwrap();
        let ca = dir.join("esia-ca.pem");
        std::fs::write(&ca, mock.ca_pem().unwrap()).unwrap();
        let mut t = toml::toml! {
            scope = "openid fullname birthdate gender snils id_doc"
            timeouts = { connect_secs = 2, request_secs = 1 }
        };
        t.insert("base_url".into(), mock.base_url().into());
        t.insert("client_id".into(), CLIENT_ID.into());
        t.insert("redirect_uri".into(), self.callback().into());
        t.insert(
            "certificate_hash".into(),
            esia_gateway::esia::request::certificate_hash(&rp.cert_der).into(),
        );
        t.insert(
            "token_keys".into(),
            toml::Value::Array(vec![token_cert.display().to_string().into()]),
        );
        t.insert("ca_bundle".into(), ca.display().to_string().into());
        let mut s = toml::value::Table::new();
        if rp.gost {
            let key = rp.key.display().to_string();
            let args = [
                "dgst",
                "-engine",
                "gost",
                "-md_gost12_256",
                "-sign",
                key.as_str(),
            ];
            s.insert("kind".into(), "command".into());
            s.insert("program".into(), "openssl".into());
            s.insert(
                "args".into(),
                toml::Value::Array(args.iter().map(|a| (*a).into()).collect()),
            );
            s.insert("timeout_secs".into(), 10.into());
        } else {
            s.insert("kind".into(), "demo".into());
            s.insert("key".into(), rp.key.display().to_string().into());
        }
        t.insert("signer".into(), toml::Value::Table(s));
        let file: EsiaFile = toml::Value::Table(t).try_into().unwrap();
        let cfg = file.validate().unwrap();
        let signer = signer::from_config(&cfg.signer).unwrap();
        let client = EsiaClient::new(cfg, signer).unwrap();
        let provider: Arc<dyn IdentityProvider> = Arc::new(EsiaProvider::new(Arc::new(client)));
        assert!(self.idp.0.set(provider).is_ok());
    }

    /// The session record behind a cookie value, read through the session service.
    pub async fn session(&self, cookie: &str) -> Option<Arc<SessionRecord>> {
        let id = SessionId::parse(cookie).ok()?;
        self.sessions.get(&id).await.unwrap()
    }
}

/// Gateway(s) + mock + upstream + browser.
pub struct Stand {
    pub pki: Pki,
    pub upstream: TestUpstream,
    pub gws: Vec<GatewayUnderTest>,
    pub mock: Option<RunningMock>,
    pub rp: RpKey,
    pub dir: tempfile::TempDir,
}

impl Stand {
    pub async fn start(opts: Options) -> Self {
        Self::start_many(1, opts).await
    }

    /// `n` gateways (replicas), on `opts.stores` when given.
    pub async fn start_many(n: usize, opts: Options) -> Self {
        let pki = Pki::new();
        let upstream = TestUpstream::start().await;
        let dir = tempfile::tempdir().unwrap();
        let rp = if opts.gost {
            RpKey::generate_gost(dir.path())
        } else {
            RpKey::generate(dir.path())
        };
        let mut gws = Vec::new();
        for i in 0..n {
            gws.push(GatewayUnderTest::start(&pki, &upstream, dir.path(), &opts, i).await);
        }
        let mut mock_cfg = MockConfig::ephemeral();
        mock_cfg.accept_demo_signatures = opts.accept_demo_signatures;
        mock_cfg.clients = vec![ClientRegistration {
            client_id: CLIENT_ID.into(),
            redirect_uris: gws.iter().map(|g| g.callback()).collect(),
            logout_redirect_urls: gws.iter().map(|g| g.url("/esia/start")).collect(),
            certificates: vec![],
            certificates_pem: vec![rp.cert_pem.clone()],
            require_confirmed: opts.require_confirmed,
        }];
        let mock = esia_mock::start(mock_cfg).await.unwrap();
        for g in &gws {
            g.connect_esia(&mock, dir.path(), &rp);
        }
        Self {
            pki,
            upstream,
            gws,
            mock: Some(mock),
            rp,
            dir,
        }
    }

    pub fn gw(&self) -> &GatewayUnderTest {
        &self.gws[0]
    }

    /// A gateway.toml that turns the ESIA login on against this stand's mock, as an
    /// operator writes it (the mock's token certificate and CA saved next to it, the
    /// signer key `rp.key`): listening on `https`, login pages under `prefix`, with
    /// `extra` sections after it. Load it from the stand's directory.
    pub fn gateway_toml(&self, https: std::net::SocketAddr, prefix: &str, extra: &str) -> String {
        let dir = self.dir.path();
        std::fs::write(dir.join("cfg-token.pem"), self.mock().token_cert_pem()).unwrap();
        std::fs::write(dir.join("cfg-ca.pem"), self.mock().ca_pem().unwrap()).unwrap();
        format!(
            r#"
[listen]
https = "{https}"
[tls]
cert = "{cert}"
key = "{key}"
[upstream]
url = "{upstream}"
[esia]
base_url = "{base}"
client_id = "{CLIENT_ID}"
redirect_uri = "https://localhost:{port}{prefix}callback"
certificate_hash = "{hash}"
token_keys = ["cfg-token.pem"]
ca_bundle = "cfg-ca.pem"
signer = {{ kind = "demo", key = "rp.key" }}
[login]
prefix = "{prefix}"
{extra}"#,
            port = https.port(),
            cert = self.pki.files.cert.display(),
            key = self.pki.files.key.display(),
            upstream = self.upstream.url(),
            base = self.mock().base_url(),
            hash = esia_gateway::esia::request::certificate_hash(&self.rp.cert_der),
        )
    }

    pub fn mock(&self) -> &RunningMock {
        self.mock.as_ref().unwrap()
    }

    /// A fresh browser: trusts the gateway's and the mock's CA, keeps cookies, never
    /// follows redirects by itself.
    pub fn browser(&self) -> reqwest::Client {
        let mut b = reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(self.pki.ca.cert_pem().as_bytes()).unwrap(),
            )
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30));
        if let Some(ca) = self.mock.as_ref().and_then(|m| m.ca_pem()) {
            b = b.add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).unwrap());
        }
        // `localhost` is every gateway (replicas differ only by port).
        b = b.resolve("localhost", self.gw().gw.https_addr());
        b.build().unwrap()
    }
}

/// Location header of a redirect, asserting the status is 302.
pub fn location(resp: &reqwest::Response) -> String {
    assert_eq!(
        resp.status(),
        StatusCode::FOUND,
        "expected a redirect from {}",
        resp.url()
    );
    resp.headers()[LOCATION].to_str().unwrap().to_owned()
}

pub fn set_cookies(resp: &reqwest::Response) -> Vec<String> {
    resp.headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// The value of the session cookie a response sets, if any (non-empty).
pub fn session_cookie(resp: &reqwest::Response) -> Option<String> {
    set_cookies(resp).into_iter().find_map(|c| {
        let pair = c.split(';').next()?;
        let value = pair.strip_prefix(&format!("{}=", esia_gateway::session::SESSION_COOKIE))?;
        (!value.is_empty()).then(|| value.to_owned())
    })
}

/// Steps of one login, for tests that interleave or break them.
pub struct Flow {
    /// The mock's /ac URL the gateway sent the browser to.
    pub authorize_url: String,
    /// The flow cookie's Set-Cookie line.
    pub flow_cookie: String,
}

/// `GET /esia/login?…` on the gateway: the redirect to ESIA and the flow cookie.
pub async fn begin(b: &reqwest::Client, gw: &GatewayUnderTest, query: &str) -> Flow {
    let resp = b
        .get(gw.url(&format!("/esia/login{query}")))
        .send()
        .await
        .unwrap();
    let authorize_url = location(&resp);
    let flow_cookie = set_cookies(&resp)
        .into_iter()
        .find(|c| c.starts_with("__Host-gw_flow_"))
        .expect("a flow cookie");
    Flow {
        authorize_url,
        flow_cookie,
    }
}

/// At the mock: the login page (or SSO shortcut), then the persona form. Returns the
/// callback URL the mock sends the browser to.
pub async fn at_esia(
    b: &reqwest::Client,
    mock: &RunningMock,
    flow: &Flow,
    persona: &str,
) -> String {
    let resp = b.get(&flow.authorize_url).send().await.unwrap();
    if resp.status() == StatusCode::FOUND {
        // SSO: the mock remembers this browser.
        return location(&resp);
    }
    assert_eq!(resp.status(), StatusCode::OK, "mock /ac refused");
    let html = resp.text().await.unwrap();
    let pending = esia_mock::pending_from_login_page(&html).expect("pending id in the mock page");
    let resp = b
        .post(format!("{}{}", mock.base_url(), esia_mock::LOGIN_PATH))
        .form(&[("pending", pending.as_str()), ("persona", persona)])
        .send()
        .await
        .unwrap();
    location(&resp)
}

/// A whole login; returns the final answer of the callback.
pub async fn login(
    b: &reqwest::Client,
    stand: &Stand,
    gw: &GatewayUnderTest,
    query: &str,
    persona: &str,
) -> reqwest::Response {
    let flow = begin(b, gw, query).await;
    let callback = at_esia(b, stand.mock(), &flow, persona).await;
    b.get(callback).send().await.unwrap()
}

/// True when the browser's session on `gw` is live: `GET /esia/logout` shows the
/// confirmation (200) only to a signed-in browser.
pub async fn signed_in(b: &reqwest::Client, gw: &GatewayUnderTest) -> bool {
    let resp = b.get(gw.url("/esia/logout")).send().await.unwrap();
    match resp.status() {
        StatusCode::OK => true,
        StatusCode::FOUND => false,
        other => panic!("unexpected {other} from /esia/logout"),
    }
}

/// The CSRF token from the logout confirmation page.
pub async fn csrf_token(b: &reqwest::Client, gw: &GatewayUnderTest) -> String {
    let html = b
        .get(gw.url("/esia/logout"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = html.find("name=\"csrf\" value=\"").expect("csrf field") + 19;
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

pub fn manual_clock() -> Arc<ManualClock> {
    ManualClock::new(chrono::Utc::now())
}
