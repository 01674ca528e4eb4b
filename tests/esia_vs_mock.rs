//! PENDING: move to tests/ once the esiamock branch is merged. The gateway's ESIA client
//! against the real ESIA mock over TLS: every persona's level (demo Ed25519 signer), a
//! GOST round trip through OpenSSL, deleted and declined accounts, and the mock refusing
//! demo signatures it was not told to accept (ESIA-007053).

use std::sync::Arc;

use esia_gateway::esia::{AccountLevel, EsiaClient, EsiaError, EsiaFile, Signer, request, signer};
use esia_gateway::standins::esia_mock::{self as mock, ClientRegistration, MockConfig};

const REDIRECT: &str = "https://dnevnik.example.ru/esia/callback";

struct Rp {
    signer: toml::Value,
    cert_pem: String,
    der: Vec<u8>,
    custom: Option<Arc<dyn Signer>>,
}

fn ed(dir: &std::path::Path) -> Rp {
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let cert = rcgen::CertificateParams::new(Vec::<String>::new())
        .unwrap()
        .self_signed(&kp)
        .unwrap();
    let key = dir.join("rp.key");
    std::fs::write(&key, kp.serialize_pem()).unwrap();
    let mut t = toml::Table::new();
    t.insert("kind".into(), "demo".into());
    t.insert("key".into(), key.display().to_string().into());
    Rp {
        signer: toml::Value::Table(t),
        cert_pem: cert.pem(),
        der: cert.der().to_vec(),
        custom: None,
    }
}

fn gost(dir: &std::path::Path) -> Rp {
    let key = dir.join("g.key");
    let cert = dir.join("g.pem");
    let der = dir.join("g.der");
    let run = |a: &[&str]| {
        assert!(
            std::process::Command::new("openssl")
                .args(a)
                .status()
                .unwrap()
                .success()
        )
    };
    run(&[
        "genpkey",
        "-engine",
        "gost",
        "-algorithm",
        "gost2012_256",
        "-pkeyopt",
        "paramset:A",
        "-out",
        key.to_str().unwrap(),
    ]);
    run(&[
        "req",
        "-engine",
        "gost",
        "-new",
        "-x509",
        "-key",
        key.to_str().unwrap(),
        "-subj",
        "/CN=test-rp",
        "-days",
        "30",
        "-out",
        cert.to_str().unwrap(),
    ]);
    run(&[
        "x509",
        "-in",
        cert.to_str().unwrap(),
        "-outform",
        "DER",
        "-out",
        der.to_str().unwrap(),
    ]);
    let mut t = toml::Table::new();
    t.insert("kind".into(), "command".into());
    t.insert("program".into(), "openssl".into());
    t.insert(
        "args".into(),
        toml::Value::Array(
            [
                "dgst",
                "-engine",
                "gost",
                "-md_gost12_256",
                "-sign",
                key.to_str().unwrap(),
            ]
            .iter()
            .map(|s| toml::Value::from(*s))
            .collect(),
        ),
    );
    Rp {
        signer: toml::Value::Table(t),
        cert_pem: std::fs::read_to_string(&cert).unwrap(),
        der: std::fs::read(&der).unwrap(),
        custom: None,
    }
}

async fn setup(
    rp: &Rp,
    dir: &std::path::Path,
    demo: bool,
) -> (mock::RunningMock, EsiaClient, reqwest::Client) {
    let mut cfg = MockConfig::ephemeral();
    cfg.clients = vec![ClientRegistration {
        client_id: "DNEVNIK76".into(),
        redirect_uris: vec![REDIRECT.into()],
        logout_redirect_urls: vec![],
        certificates: vec![],
        certificates_pem: vec![rp.cert_pem.clone()],
        require_confirmed: false,
    }];
    cfg.accept_demo_signatures = demo;
    let m = mock::start(cfg).await.unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, m.ca_pem().unwrap()).unwrap();
    let tk = dir.join("tk.pem");
    std::fs::write(&tk, m.token_cert_pem()).unwrap();
    let mut t = toml::Table::new();
    t.insert("base_url".into(), m.base_url().into());
    t.insert("client_id".into(), "DNEVNIK76".into());
    t.insert("redirect_uri".into(), REDIRECT.into());
    t.insert(
        "certificate_hash".into(),
        request::certificate_hash(&rp.der).into(),
    );
    t.insert(
        "token_keys".into(),
        toml::Value::Array(vec![tk.display().to_string().into()]),
    );
    t.insert("ca_bundle".into(), ca.display().to_string().into());
    t.insert("signer".into(), rp.signer.clone());
    let c = toml::Value::Table(t)
        .try_into::<EsiaFile>()
        .unwrap()
        .validate()
        .unwrap();
    let s = rp
        .custom
        .clone()
        .unwrap_or_else(|| signer::from_config(&c.signer).unwrap());
    let client = EsiaClient::new(c, s).unwrap();
    let http = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(m.ca_pem().unwrap().as_bytes()).unwrap(),
        )
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    (m, client, http)
}

async fn login(
    client: &EsiaClient,
    http: &reqwest::Client,
    base: &str,
    persona: &str,
) -> Result<esia_gateway::esia::VerifiedLogin, EsiaError> {
    let state = uuid::Uuid::new_v4();
    let url = client
        .authorization_request(state, chrono::Utc::now())
        .await
        .unwrap();
    let page = http.get(url.as_str()).send().await.unwrap();
    let st = page.status();
    let html = page.text().await.unwrap();
    assert_eq!(st, 200, "{html}");
    let pending = mock::pending_from_login_page(&html).expect("form");
    let back = http
        .post(format!("{base}{}", mock::LOGIN_PATH))
        .form(&[("pending", pending.as_str()), ("persona", persona)])
        .send()
        .await
        .unwrap();
    let loc = url::Url::parse(back.headers()["location"].to_str().unwrap()).unwrap();
    let q: std::collections::HashMap<String, String> = loc.query_pairs().into_owned().collect();
    assert_eq!(q["state"], state.to_string());
    if let Some(e) = q.get("error") {
        return Err(EsiaError::from_answer(e, &q["error_description"]));
    }
    client.exchange_code(&q["code"], chrono::Utc::now()).await
}

#[tokio::test]
async fn demo_personas() {
    let dir = tempfile::tempdir().unwrap();
    let rp = ed(dir.path());
    let (m, client, http) = setup(&rp, dir.path(), true).await;
    for (p, lvl) in [
        ("confirmed", AccountLevel::Confirmed),
        ("standard", AccountLevel::Standard),
        ("simplified", AccountLevel::Simplified),
        ("child", AccountLevel::Child),
    ] {
        let http = reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(m.ca_pem().unwrap().as_bytes()).unwrap(),
            )
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()
            .unwrap();
        let v = login(&client, &http, m.base_url(), p)
            .await
            .unwrap_or_else(|e| panic!("{p}: {e:?}"));
        assert!(!v.full_name.is_empty());
        assert_eq!(v.level, lvl, "{p}");
    }
    let fresh = || {
        reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(m.ca_pem().unwrap().as_bytes()).unwrap(),
            )
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()
            .unwrap()
    };
    let e = login(&client, &fresh(), m.base_url(), "deleted")
        .await
        .unwrap_err();
    assert!(matches!(e, EsiaError::AccountDeleted), "{e:?}");
    let e = login(&client, &fresh(), m.base_url(), "decline")
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            EsiaError::Esia {
                code: esia_gateway::esia::EsiaErrorCode::Declined,
                ..
            }
        ),
        "{e:?}"
    );
    let _ = http;
}

#[tokio::test]
async fn gost_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let rp = gost(dir.path());
    let (m, client, http) = setup(&rp, dir.path(), false).await;
    let v = login(&client, &http, m.base_url(), "standard")
        .await
        .unwrap();
    assert_eq!(v.level, AccountLevel::Standard);
}

#[tokio::test]
async fn demo_refused_when_not_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let rp = ed(dir.path());
    let (m, client, _http) = setup(&rp, dir.path(), false).await;
    let state = uuid::Uuid::new_v4();
    let url = client
        .authorization_request(state, chrono::Utc::now())
        .await
        .unwrap();
    let http = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(m.ca_pem().unwrap().as_bytes()).unwrap(),
        )
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http.get(url.as_str()).send().await.unwrap();
    let loc = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let q: std::collections::HashMap<String, String> = loc.query_pairs().into_owned().collect();
    assert_eq!(
        EsiaError::from_answer(&q["error"], &q["error_description"]).kind(),
        "esia-error"
    );
    assert!(q["error_description"].starts_with("ESIA-007053"), "{q:?}");
}
