//! A whole linking stand on real sockets: the REAL demo diary (its own ManualClock, so
//! its idle expiry can be crossed), the ESIA mock over TLS, and the gateway in-process
//! on 127.0.0.1:0 over TLS with the login pages and the link service, on SQLite or a
//! fresh PostgreSQL database. The browser is reqwest with a cookie store and redirects
//! off; it records every `Set-Cookie` it is given, so a test can assert over a whole
//! story that no diary cookie ever reached it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use esia_gateway::clock::{ManualClock, SystemClock};
use esia_gateway::config::GatewayConfig;
use esia_gateway::diary::config::DiaryConfig;
use esia_gateway::diary::vault::{Keyring, Vault, generate_key_file};
use esia_gateway::esia::{EsiaClient, EsiaFile, signer};
use esia_gateway::link::config::LinkSettings;
use esia_gateway::link::{Link, LinkParts};
use esia_gateway::login::adapters::{EsiaProvider, StoreBackend};
use esia_gateway::login::ports::{EsiaIdentity, IdentityProvider, IdpFailure, LinkCallback};
use esia_gateway::login::{Login, LoginSettings};
use esia_gateway::metrics::Metrics;
use esia_gateway::proxy::upstream::Upstream;
use esia_gateway::server::{Gateway, Parts, RunningGateway};
use esia_gateway::session::{SessionPolicy, Sessions};
use esia_gateway::standins::demo_diary::{self, RunningDiary};
use esia_gateway::standins::esia_mock::{self, ClientRegistration, MockConfig, RunningMock};
use esia_gateway::store::SharedStore;
use futures_util::future::BoxFuture;
use http::StatusCode;
use reqwest::header::{LOCATION, SET_COOKIE};

use crate::store_support::{Location, TestDb};
use crate::support::{self, Pki};

pub const CLIENT_ID: &str = "RID-TEST";
pub const CONFIRMED_OID: i64 = 1000299681;
pub const CONFIRMED2_OID: i64 = 1000299682;
pub const SIMPLIFIED_OID: i64 = 1000299684;
/// The `parent` account's child, shown on its grade page.
pub const PARENTS_CHILD: &str = "Иванов Дмитрий Алексеевич";
pub const STUDENT_NAME: &str = "Петров Алексей Сергеевич";

/// Fills the identity-provider slot once the mock (which must know the gateway's
/// callback URL, i.e. its port) is up.
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// Knobs of one stand.
pub struct Options {
    pub db: Db,
    pub settings: LinkSettings,
    pub diary: DiaryConfig,
    /// Another upstream than the demo diary (header mode's verifier).
    pub upstream: Option<url::Url>,
    /// Reuse this database and vault key (restart after kill -9).
    pub location: Option<Location>,
    pub vault_key: Option<PathBuf>,
    /// `[forwarding] trusted_proxies` (a load balancer in front of the gateway).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// `[esia] children = true`: the login asks ESIA for the person's children.
    pub esia_children: bool,
    /// One clock for the gateway's sessions, links, audit and calendar, so a test can
    /// script days (ESIA tokens are still checked on the real clock).
    pub clock: Option<Arc<ManualClock>>,
    /// The cutover calendar and route groups (refused requests are audited).
    pub cutover: Option<esia_gateway::cutover::CutoverConfig>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            db: Db::Sqlite,
            settings: LinkSettings::default(),
            diary: DiaryConfig::default(),
            upstream: None,
            location: None,
            vault_key: None,
            trusted_proxies: Vec::new(),
            esia_children: false,
            clock: None,
            cutover: None,
        }
    }
}

pub struct Stand {
    pub pki: Pki,
    pub diary: Option<RunningDiary>,
    pub diary_clock: Arc<ManualClock>,
    pub gw: RunningGateway,
    pub mock: RunningMock,
    pub store: SharedStore,
    pub sessions: Arc<Sessions>,
    pub vault: Arc<Vault>,
    pub vault_key: PathBuf,
    pub dir: tempfile::TempDir,
    /// Keeps a PostgreSQL database alive for the stand's lifetime.
    pub db: Option<TestDb>,
}

impl Stand {
    pub async fn start(opts: Options) -> Self {
        support::init_tracing();
        let pki = Pki::new();
        let dir = tempfile::tempdir().unwrap();
        let diary_clock = ManualClock::new(chrono::Utc::now());
        let (diary, upstream_url) = match &opts.upstream {
            Some(url) => (None, url.clone()),
            None => {
                let mut cfg = demo_diary::DiaryConfig::new("127.0.0.1:0".parse().unwrap());
                cfg.clock = diary_clock.clone();
                let d = demo_diary::start(cfg).await.unwrap();
                let url = url::Url::parse(&d.url()).unwrap();
                (Some(d), url)
            }
        };
        let (store, db) = match (opts.db, &opts.location) {
            (_, Some(location)) => (location.open().await, None),
            (Db::Sqlite, None) => {
                let db = TestDb::sqlite().await;
                (db.store.clone(), Some(db))
            }
            (Db::Postgres, _) => {
                let db = TestDb::postgres().await;
                (db.store.clone(), Some(db))
            }
        };
        let vault_key = match &opts.vault_key {
            Some(k) => k.clone(),
            None => {
                let k = dir.path().join("vault.key");
                generate_key_file(&k).unwrap();
                k
            }
        };
        let clock: esia_gateway::clock::SharedClock = match &opts.clock {
            Some(c) => c.clone(),
            None => Arc::new(SystemClock),
        };
        let vault = Arc::new(Vault::new(
            store.clone(),
            Keyring::from_files(&vault_key, &[]).unwrap(),
            clock.clone(),
        ));
        let sessions = Arc::new(Sessions::new(
            store.clone(),
            clock.clone(),
            SessionPolicy::default(),
        ));
        let mut config: GatewayConfig = support::config(&pki, &upstream_url);
        config.forwarding.trusted_proxies = opts.trusted_proxies.clone();
        config.cutover = opts.cutover.clone();
        let upstream = Upstream::new(&config, Arc::new(Metrics::new())).unwrap();
        let idp = Arc::new(LateIdp::default());
        let settings = LoginSettings {
            legacy_login_url: Some("/login".into()),
            ..LoginSettings::default()
        };
        let link = Arc::new(
            Link::new(LinkParts {
                settings: opts.settings,
                diary: opts.diary,
                prefix: settings.prefix.clone(),
                session_cookie: settings.cookies.session.clone(),
                language: settings.language,
                public_url: None,
                flow_ttl: settings.flow_ttl,
                store: store.clone(),
                sessions: sessions.clone(),
                vault: Some(vault.clone()),
                upstream,
                idp: idp.clone(),
                clock: clock.clone(),
            })
            .unwrap(),
        );
        let backend = StoreBackend::new(store.clone(), sessions.clone(), clock.clone());
        let login = Login::new(settings, idp.clone(), Arc::new(backend), clock.clone())
            .unwrap()
            .with_link(link.clone() as Arc<dyn LinkCallback>);
        let gw = Gateway::start_parts(
            config,
            Parts {
                login: Some(Arc::new(login)),
                link: Some(link),
                calendar_clock: Some(clock.clone()),
                audit: Some(store.clone()),
            },
        )
        .await
        .unwrap();
        let port = gw.https_addr().port();
        let callback = format!("https://localhost:{port}/esia/callback");
        let rp = RpKey::generate(dir.path());
        let mut mock_cfg = MockConfig::ephemeral();
        mock_cfg.accept_demo_signatures = true;
        mock_cfg.clients = vec![ClientRegistration {
            client_id: CLIENT_ID.into(),
            redirect_uris: vec![callback.clone()],
            logout_redirect_urls: vec![format!("https://localhost:{port}/esia/start")],
            certificates: vec![],
            certificates_pem: vec![rp.cert_pem.clone()],
            require_confirmed: false,
        }];
        let mock = esia_mock::start(mock_cfg).await.unwrap();
        let provider = esia_provider(&mock, dir.path(), &rp, &callback, opts.esia_children);
        assert!(idp.0.set(provider).is_ok());
        Self {
            pki,
            diary,
            diary_clock,
            gw,
            mock,
            store,
            sessions,
            vault,
            vault_key,
            dir,
            db,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.gw.https_addr().port())
    }

    /// A fresh browser that trusts the gateway's and the mock's CAs.
    pub fn browser(&self) -> Browser {
        self.browser_behind(None)
    }

    /// A browser whose requests reach the gateway through a proxy that says the client
    /// is `client` (`X-Forwarded-For`).
    pub fn browser_behind(&self, client: Option<&str>) -> Browser {
        let mut b = reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(self.pki.ca.cert_pem().as_bytes()).unwrap(),
            )
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .resolve("localhost", self.gw.https_addr());
        // Like a current browser navigating within the site (Fetch Metadata), so the
        // diary's own logout link logs out at once; cross-site tests set it themselves.
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("sec-fetch-site", "same-origin".parse().unwrap());
        if let Some(ip) = client {
            h.insert("x-forwarded-for", ip.parse().unwrap());
        }
        b = b.default_headers(h);
        if let Some(ca) = self.mock.ca_pem() {
            b = b.add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).unwrap());
        }
        Browser {
            client: b.build().unwrap(),
            gateway_port: self.gw.https_addr().port(),
            seen: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// A whole ESIA login as `persona`, starting at `/esia/login?return=<ret>`; returns
    /// the callback's answer.
    pub async fn esia_login(&self, b: &Browser, ret: &str, persona: &str) -> reqwest::Response {
        let resp = b.get(&self.url(&format!("/esia/login?return={ret}"))).await;
        let authorize = location(&resp);
        self.at_esia(b, &authorize, persona).await
    }

    /// At the mock: the persona form, then the callback on the gateway.
    pub async fn at_esia(&self, b: &Browser, authorize: &str, persona: &str) -> reqwest::Response {
        let resp = b.get(authorize).await;
        let callback = if resp.status() == StatusCode::FOUND {
            location(&resp)
        } else {
            assert_eq!(resp.status(), StatusCode::OK, "mock /ac refused");
            let html = resp.text().await.unwrap();
            let pending = esia_mock::pending_from_login_page(&html).expect("pending id");
            let resp = b
                .post(
                    &format!("{}{}", self.mock.base_url(), esia_mock::LOGIN_PATH),
                    &[("pending", pending.as_str()), ("persona", persona)],
                )
                .await;
            location(&resp)
        };
        b.get(&callback).await
    }

    /// The CSRF token of the link form (`GET /esia/link`).
    pub async fn link_form(&self, b: &Browser, ret: &str) -> (StatusCode, String) {
        let resp = b.get(&self.url(&format!("/esia/link?return={ret}"))).await;
        let status = resp.status();
        (status, resp.text().await.unwrap())
    }

    /// Posts the link form with the page's CSRF token.
    pub async fn submit_link(&self, b: &Browser, login: &str, password: &str) -> reqwest::Response {
        let (_, html) = self.link_form(b, "/marks").await;
        let csrf = field_value(&html, "csrf").expect("csrf field on the link page");
        b.post(
            &self.url("/esia/link"),
            &[
                ("csrf", csrf.as_str()),
                ("return", "/marks"),
                ("login", login),
                ("password", password),
            ],
        )
        .await
    }

    /// ESIA login as `persona` and link to `login`/`password`; the answer to the POST.
    pub async fn login_and_link(
        &self,
        b: &Browser,
        persona: &str,
        login: &str,
        password: &str,
    ) -> reqwest::Response {
        let cb = self.esia_login(b, "/marks", persona).await;
        assert_eq!(location(&cb), "/marks");
        let first = b.get(&self.url("/marks")).await;
        assert_eq!(
            location(&first),
            "/esia/link?return=%2Fmarks",
            "unlinked → link page"
        );
        self.submit_link(b, login, password).await
    }

    /// Flow B's confirmation page (after ESIA): its question, and the answer to
    /// pressing `action` (`confirm` or `not-me`) on it.
    pub async fn answer_link_confirmation(
        &self,
        b: &Browser,
        action: &str,
    ) -> (String, reqwest::Response) {
        crate::support::answer_link_confirmation(
            async |u: &str| b.get(u).await,
            async |u: &str, form: &[(&str, &str)]| b.post(u, form).await,
            &self.url("/esia/link/confirm"),
            action,
        )
        .await
    }

    /// The ESIA account bound to diary `login`, if any.
    pub async fn bound_to(&self, login: &str) -> Option<i64> {
        let b = self.store.binding_by_login(login).await.unwrap();
        b.map(|b| b.esia_oid)
    }

    /// The diary login bound to the ESIA account `oid` (the one used last), if any.
    pub async fn bound_login(&self, oid: i64) -> Option<String> {
        let b = self.store.bindings_of_oid(oid).await.unwrap();
        b.into_iter().next().map(|b| b.diary_login)
    }

    /// Every diary login bound to the ESIA account `oid`, sorted.
    pub async fn bound_logins(&self, oid: i64) -> Vec<String> {
        let b = self.store.bindings_of_oid(oid).await.unwrap();
        let mut logins: Vec<String> = b.into_iter().map(|b| b.diary_login).collect();
        logins.sort();
        logins
    }

    /// «выполнить привязку к ЕСИА» from `b`'s password session, through ESIA as
    /// `persona`: the gateway's answer to ESIA's callback.
    pub async fn link_from_legacy(&self, b: &Browser, persona: &str) -> reqwest::Response {
        let start = b.get(&self.url("/esia/link/start?return=/marks")).await;
        self.at_esia(b, &location(&start), persona).await
    }

    /// A new browser with a password session of `login` (the diary's own form, posted
    /// through the gateway with the demo password).
    pub async fn legacy_browser(&self, login: &str) -> Browser {
        let b = self.browser();
        let resp = b
            .post(
                &self.url("/login"),
                &[("login", login), ("password", "demo")],
            )
            .await;
        assert_eq!(location(&resp), "/", "legacy login of {login}");
        b
    }

    /// A new browser signed in as `persona` and linked to `login` with the demo
    /// password (asserts the link went through).
    pub async fn linked_browser(&self, persona: &str, login: &str) -> Browser {
        let b = self.browser();
        let r = self.login_and_link(&b, persona, login, "demo").await;
        assert_eq!(location(&r), "/marks", "{persona} → {login} did not link");
        b
    }
}

/// The RP's demo signing key and certificate (Ed25519).
pub struct RpKey {
    pub key: PathBuf,
    pub cert_pem: String,
    pub cert_der: Vec<u8>,
}

impl RpKey {
    pub fn generate(dir: &Path) -> Self {
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
        }
    }
}

/// The real ESIA client pointed at the mock.
fn esia_provider(
    mock: &RunningMock,
    dir: &Path,
    rp: &RpKey,
    callback: &str,
    children: bool,
) -> Arc<dyn IdentityProvider> {
    let token_cert = dir.join("esia-token.pem");
    std::fs::write(&token_cert, mock.token_cert_pem()).unwrap();
    let ca = dir.join("esia-ca.pem");
    std::fs::write(&ca, mock.ca_pem().unwrap()).unwrap();
    let mut t = toml::toml! {
        scope = "openid fullname birthdate gender snils id_doc"
        timeouts = { connect_secs = 2, request_secs = 5 }
    };
    t.insert("base_url".into(), mock.base_url().into());
    t.insert("children".into(), children.into());
    t.insert("client_id".into(), CLIENT_ID.into());
    t.insert("redirect_uri".into(), callback.into());
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
    s.insert("kind".into(), "demo".into());
    s.insert("key".into(), rp.key.display().to_string().into());
    t.insert("signer".into(), toml::Value::Table(s));
    let file: EsiaFile = toml::Value::Table(t).try_into().unwrap();
    let cfg = file.validate().unwrap();
    let signer = signer::from_config(&cfg.signer).unwrap();
    let client = EsiaClient::new(cfg, signer).unwrap();
    Arc::new(EsiaProvider::new(Arc::new(client)))
}

/// reqwest that records every `Set-Cookie` the gateway sends it.
#[derive(Clone)]
pub struct Browser {
    pub client: reqwest::Client,
    gateway_port: u16,
    /// `(url, Set-Cookie value)` of every gateway answer.
    pub seen: Arc<Mutex<Vec<(String, String)>>>,
}

impl Browser {
    /// A browser around `client` that records the `Set-Cookie`s of `gateway_port`.
    pub fn new(client: reqwest::Client, gateway_port: u16) -> Self {
        Self {
            client,
            gateway_port,
            seen: Arc::new(Mutex::new(Vec::new())),
        }
    }

    fn record(&self, resp: &reqwest::Response) {
        if resp.url().port() != Some(self.gateway_port) {
            return;
        }
        let mut seen = self.seen.lock().unwrap();
        for v in resp.headers().get_all(SET_COOKIE) {
            seen.push((resp.url().to_string(), v.to_str().unwrap().to_owned()));
        }
    }

    pub async fn get(&self, url: &str) -> reqwest::Response {
        let resp = self.client.get(url).send().await.unwrap();
        self.record(&resp);
        resp
    }

    pub async fn get_with(&self, url: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut req = self.client.get(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.unwrap();
        self.record(&resp);
        resp
    }

    pub async fn post(&self, url: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let resp = self.client.post(url).form(form).send().await.unwrap();
        self.record(&resp);
        resp
    }

    pub async fn post_raw(&self, url: &str, body: &str) -> reqwest::Response {
        let resp = self
            .client
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        self.record(&resp);
        resp
    }

    /// Every cookie name the gateway ever set in this browser.
    pub fn cookie_names(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|(_, c)| c.split('=').next().unwrap_or("").trim().to_owned())
            .collect()
    }

    /// Asserts that the gateway only ever set its own cookies (no diary cookie).
    pub fn assert_only_gateway_cookies(&self) {
        let seen = self.seen.lock().unwrap();
        assert!(!seen.is_empty(), "the story set no cookie at all");
        for (url, c) in seen.iter() {
            let name = c.split('=').next().unwrap_or("");
            assert!(
                name == esia_gateway::session::SESSION_COOKIE
                    || name == esia_gateway::login::cookies::SIGNED_OUT_COOKIE
                    || name.starts_with("__Host-gw_flow_"),
                "{url} set a non-gateway cookie: {c}"
            );
            assert!(c.contains("Secure") && c.contains("HttpOnly"), "{c}");
            assert!(!c.to_ascii_lowercase().contains("ridsessid"), "{c}");
        }
    }
}

/// Location of a 302/303, asserting it is a redirect.
pub fn location(resp: &reqwest::Response) -> String {
    assert!(
        resp.status().is_redirection(),
        "expected a redirect from {}, got {}",
        resp.url(),
        resp.status()
    );
    resp.headers()[LOCATION].to_str().unwrap().to_owned()
}

/// `value="…"` of the input named `name`.
pub fn field_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}
