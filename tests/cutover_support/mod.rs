//! A whole cutover stand on real sockets: the REAL demo diary, the ESIA mock over TLS,
//! and the gateway in-process on 127.0.0.1:0 over TLS with login, linking and the
//! cutover policy, whose calendar runs on a [`ManualClock`] (only the calendar: sessions
//! and ESIA use the real clock). The browser is reqwest with a cookie jar the test can
//! read (raw-socket tests reuse the session cookie) and redirects off.
#![allow(dead_code)]

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use esia_gateway::clock::{ManualClock, SystemClock};
use esia_gateway::cutover::CutoverConfig;
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
use esia_gateway::store::{AuditKind, SharedStore};
use futures_util::future::BoxFuture;
use http::StatusCode;
use reqwest::cookie::CookieStore;

use crate::store_support::TestDb;
use crate::support::{self, Pki};

pub const CLIENT_ID: &str = "RID-CUTOVER";

/// Seed 004: transition 2018-09-01, ESIA only from 2019-01-01, restricted.
pub fn seed_004() -> CutoverConfig {
    CutoverConfig::seed_004()
}

/// Seed 000: ESIA only from 2016-01-01, legacy login disabled, no transition.
pub fn seed_000() -> CutoverConfig {
    let mut c = CutoverConfig::seed_004();
    c.policy.calendar = esia_gateway::policy::Calendar::seed_000();
    c
}

/// `2019-01-01T00:00:00+03:00` style instant.
pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

#[derive(Default)]
struct LateIdp(OnceLock<Arc<dyn IdentityProvider>>);

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

pub struct Stand {
    pub pki: Pki,
    pub diary: RunningDiary,
    pub gw: RunningGateway,
    pub mock: RunningMock,
    pub store: SharedStore,
    pub calendar: Arc<ManualClock>,
    pub dir: tempfile::TempDir,
    _db: TestDb,
}

/// A browser: reqwest with a readable cookie jar, redirects off.
pub struct Browser {
    pub client: reqwest::Client,
    pub jar: Arc<reqwest::cookie::Jar>,
    origin: url::Url,
}

impl Browser {
    pub async fn get(&self, url: &str) -> reqwest::Response {
        self.client.get(url).send().await.unwrap()
    }

    pub async fn post(&self, url: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client.post(url).form(form).send().await.unwrap()
    }

    /// The `Cookie` header this browser sends to the gateway.
    pub fn cookie_header(&self) -> String {
        self.jar
            .cookies(&self.origin)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }
}

impl Stand {
    pub async fn start(cutover: CutoverConfig, now: DateTime<Utc>) -> Self {
        Self::start_with(cutover, now, DiaryConfig::default(), |_| {}).await
    }

    /// A stand whose gateway uses `diary_config` and whose demo diary `tweak` adjusts.
    pub async fn start_with(
        cutover: CutoverConfig,
        now: DateTime<Utc>,
        diary_config: DiaryConfig,
        tweak: impl FnOnce(&mut demo_diary::DiaryConfig),
    ) -> Self {
        support::init_tracing();
        let pki = Pki::new();
        let dir = tempfile::tempdir().unwrap();
        let mut diary_cfg = demo_diary::DiaryConfig::new("127.0.0.1:0".parse().unwrap());
        tweak(&mut diary_cfg);
        let diary = demo_diary::start(diary_cfg).await.unwrap();
        let upstream_url = url::Url::parse(&diary.url()).unwrap();
        let db = TestDb::sqlite().await;
        let store = db.store.clone();
        let key = dir.path().join("vault.key");
        generate_key_file(&key).unwrap();
        let clock = Arc::new(SystemClock);
        let vault = Arc::new(Vault::new(
            store.clone(),
            Keyring::from_files(&key, &[]).unwrap(),
            clock.clone(),
        ));
        let sessions = Arc::new(Sessions::new(
            store.clone(),
            clock.clone(),
            SessionPolicy::default(),
        ));
        let mut config = support::config(&pki, &upstream_url);
        config.cutover = Some(cutover);
        let upstream = Upstream::new(&config, Arc::new(Metrics::new())).unwrap();
        let idp = Arc::new(LateIdp::default());
        let settings = LoginSettings {
            legacy_login_url: Some("/login".into()),
            ..LoginSettings::default()
        };
        let link = Arc::new(
            Link::new(LinkParts {
                settings: LinkSettings::default(),
                diary: diary_config,
                prefix: settings.prefix.clone(),
                session_cookie: settings.cookies.session.clone(),
                language: settings.language,
                public_url: None,
                flow_ttl: settings.flow_ttl,
                store: store.clone(),
                sessions: sessions.clone(),
                vault: Some(vault),
                upstream,
                idp: idp.clone(),
                clock: clock.clone(),
            })
            .unwrap(),
        );
        let backend = StoreBackend::new(store.clone(), sessions.clone(), clock.clone());
        let login = Login::new(settings, idp.clone(), Arc::new(backend), clock)
            .unwrap()
            .with_link(link.clone() as Arc<dyn LinkCallback>);
        let calendar = ManualClock::new(now);
        let gw = Gateway::start_parts(
            config,
            Parts {
                login: Some(Arc::new(login)),
                link: Some(link),
                calendar_clock: Some(calendar.clone()),
                audit: Some(store.clone()),
            },
        )
        .await
        .unwrap();
        let port = gw.https_addr().port();
        let callback = format!("https://localhost:{port}/esia/callback");
        let (rp_key, rp_pem, rp_der) = rp_key(dir.path());
        let mut mock_cfg = MockConfig::ephemeral();
        mock_cfg.accept_demo_signatures = true;
        mock_cfg.clients = vec![ClientRegistration {
            client_id: CLIENT_ID.into(),
            redirect_uris: vec![callback.clone()],
            logout_redirect_urls: vec![format!("https://localhost:{port}/esia/start")],
            certificates: vec![],
            certificates_pem: vec![rp_pem],
            require_confirmed: false,
        }];
        let mock = esia_mock::start(mock_cfg).await.unwrap();
        let provider = esia_provider(&mock, dir.path(), &rp_key, &rp_der, &callback);
        assert!(idp.0.set(provider).is_ok());
        Self {
            pki,
            diary,
            gw,
            mock,
            store,
            calendar,
            dir,
            _db: db,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.gw.https_addr().port())
    }

    /// Moves the calendar (only the calendar) to `rfc3339`.
    pub fn set_date(&self, rfc3339: &str) {
        self.calendar.set(at(rfc3339));
    }

    pub fn browser(&self) -> Browser {
        self.browser_with(|b| b)
    }

    pub fn browser_with(
        &self,
        f: impl FnOnce(reqwest::ClientBuilder) -> reqwest::ClientBuilder,
    ) -> Browser {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let mut b = reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(self.pki.ca.cert_pem().as_bytes()).unwrap(),
            )
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .resolve("localhost", self.gw.https_addr());
        if let Some(ca) = self.mock.ca_pem() {
            b = b.add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).unwrap());
        }
        Browser {
            client: f(b).build().unwrap(),
            jar,
            origin: url::Url::parse(&self.url("/")).unwrap(),
        }
    }

    /// The diary's own login form, posted through the gateway: a legacy session.
    pub async fn legacy_login(&self, b: &Browser, login: &str) -> reqwest::Response {
        b.post(
            &self.url("/login"),
            &[("login", login), ("password", demo_diary::DEMO_PASSWORD)],
        )
        .await
    }

    /// A whole ESIA login as `persona`; the callback's answer.
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

    /// Kinds and details of every audit event so far.
    pub async fn audit(&self) -> Vec<(AuditKind, serde_json::Value)> {
        self.store
            .list_audit(DateTime::UNIX_EPOCH, 1000)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.kind, e.detail))
            .collect()
    }

    /// The admin listener's `/metrics` text.
    pub async fn metrics(&self) -> String {
        let admin = self.gw.admin_addr().unwrap();
        reqwest::get(format!("http://{admin}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

/// Location of a redirect, asserting it is one.
pub fn location(resp: &reqwest::Response) -> String {
    assert!(
        resp.status().is_redirection(),
        "expected a redirect from {}, got {}",
        resp.url(),
        resp.status()
    );
    resp.headers()[reqwest::header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned()
}

fn rp_key(dir: &Path) -> (std::path::PathBuf, String, Vec<u8>) {
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["test-rp".to_owned()])
        .unwrap()
        .self_signed(&kp)
        .unwrap();
    let key = dir.join("rp.key");
    std::fs::write(&key, kp.serialize_pem()).unwrap();
    (key, cert.pem(), cert.der().to_vec())
}

/// The real ESIA client pointed at the mock.
fn esia_provider(
    mock: &RunningMock,
    dir: &Path,
    rp_key: &Path,
    rp_der: &[u8],
    callback: &str,
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
    t.insert("client_id".into(), CLIENT_ID.into());
    t.insert("redirect_uri".into(), callback.into());
    t.insert(
        "certificate_hash".into(),
        esia_gateway::esia::request::certificate_hash(rp_der).into(),
    );
    t.insert(
        "token_keys".into(),
        toml::Value::Array(vec![token_cert.display().to_string().into()]),
    );
    t.insert("ca_bundle".into(), ca.display().to_string().into());
    let mut s = toml::value::Table::new();
    s.insert("kind".into(), "demo".into());
    s.insert("key".into(), rp_key.display().to_string().into());
    t.insert("signer".into(), toml::Value::Table(s));
    let file: EsiaFile = toml::Value::Table(t).try_into().unwrap();
    let cfg = file.validate().unwrap();
    let signer = signer::from_config(&cfg.signer).unwrap();
    let client = EsiaClient::new(cfg, signer).unwrap();
    Arc::new(EsiaProvider::new(Arc::new(client)))
}

/// `value="…"` of the input named `name`.
pub fn field_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

impl Stand {
    /// An unlinked ESIA session's first request goes to the link form; fills it with
    /// `login` / the demo password and returns the form's answer.
    pub async fn link_from(
        &self,
        b: &Browser,
        path: &str,
        ret: &str,
        login: &str,
    ) -> reqwest::Response {
        let first = b.get(&self.url(path)).await;
        let link_page = location(&first);
        assert!(link_page.starts_with("/esia/link"), "{link_page}");
        let html = b.get(&self.url(&link_page)).await.text().await.unwrap();
        let csrf = field_value(&html, "csrf").expect("csrf on the link form");
        b.post(
            &self.url("/esia/link"),
            &[
                ("csrf", csrf.as_str()),
                ("return", ret),
                ("login", login),
                ("password", demo_diary::DEMO_PASSWORD),
            ],
        )
        .await
    }
}
