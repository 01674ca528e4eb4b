//! A person's children from ESIA (`/rs/prns/{oid}/kids`), the gateway's ESIA client
//! against the real ESIA mock over TLS. Stories: each persona's children as the demo
//! needs them (Мария's son is the `parent` account's pupil, Сергей's son has his own
//! child account with the same name and birth date); the `kid_*` scopes asked for only
//! when `[esia] children = true`; a token without them refused by ESIA with 403 → the
//! typed `NotGranted` the linking code falls back on; broken, wrong-shaped, failing and
//! slow answers → typed errors, never a panic, never an empty list.

use esia_gateway::esia::config::CHILDREN_SCOPES;
use esia_gateway::esia::{
    EsiaClient, EsiaError, EsiaFile, KidsError, VerifiedLogin, request, signer,
};
use esia_gateway::identity::names::{NameVerdict, compare, parse_birth_date};
use esia_gateway::secret::Secret;
use esia_gateway::standins::esia_mock::{
    self as mock, ClientRegistration, Delay, Faults, MockConfig, RunningMock, Switch, Times,
};

const REDIRECT: &str = "https://dnevnik.example.ru/esia/callback";

/// The mock and the RP's Ed25519 demo key, registered with it.
struct Stand {
    mock: RunningMock,
    dir: tempfile::TempDir,
    signer: toml::Value,
    cert_der: Vec<u8>,
}

async fn stand() -> Stand {
    let dir = tempfile::tempdir().unwrap();
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let cert = rcgen::CertificateParams::new(Vec::<String>::new())
        .unwrap()
        .self_signed(&kp)
        .unwrap();
    let key = dir.path().join("rp.key");
    std::fs::write(&key, kp.serialize_pem()).unwrap();
    let mut cfg = MockConfig::ephemeral();
    cfg.clients = vec![ClientRegistration {
        client_id: "DNEVNIK76".into(),
        redirect_uris: vec![REDIRECT.into()],
        logout_redirect_urls: vec![],
        certificates: vec![],
        certificates_pem: vec![cert.pem()],
        require_confirmed: false,
    }];
    cfg.accept_demo_signatures = true;
    let mock = mock::start(cfg).await.unwrap();
    std::fs::write(dir.path().join("ca.pem"), mock.ca_pem().unwrap()).unwrap();
    std::fs::write(dir.path().join("tk.pem"), mock.token_cert_pem()).unwrap();
    let mut signer = toml::Table::new();
    signer.insert("kind".into(), "demo".into());
    signer.insert("key".into(), key.display().to_string().into());
    Stand {
        mock,
        dir,
        signer: toml::Value::Table(signer),
        cert_der: cert.der().to_vec(),
    }
}

fn file(s: &Stand, extra: &str) -> EsiaFile {
    let path = |name: &str| s.dir.path().join(name).display().to_string();
    let mut t: toml::Table = toml::from_str(extra).unwrap();
    t.insert("base_url".into(), s.mock.base_url().into());
    t.insert("client_id".into(), "DNEVNIK76".into());
    t.insert("redirect_uri".into(), REDIRECT.into());
    t.insert(
        "certificate_hash".into(),
        request::certificate_hash(&s.cert_der).into(),
    );
    t.insert(
        "token_keys".into(),
        toml::Value::Array(vec![path("tk.pem").into()]),
    );
    t.insert("ca_bundle".into(), path("ca.pem").into());
    t.insert("signer".into(), s.signer.clone());
    toml::Value::Table(t).try_into().unwrap()
}

/// An ESIA client configured with `extra` keys of `[esia]`.
fn client(s: &Stand, extra: &str) -> EsiaClient {
    let c = file(s, extra).validate().unwrap();
    let signer = signer::from_config(&c.signer).unwrap();
    EsiaClient::new(c, signer).unwrap()
}

/// A whole ESIA login as `persona` through the mock's login form.
async fn login(s: &Stand, client: &EsiaClient, persona: &str) -> VerifiedLogin {
    let http = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(s.mock.ca_pem().unwrap().as_bytes()).unwrap(),
        )
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    let state = uuid::Uuid::new_v4();
    let url = client
        .authorization_request(state, chrono::Utc::now())
        .await
        .unwrap();
    let html = http.get(url.as_str()).send().await.unwrap().text().await;
    let pending = mock::pending_from_login_page(&html.unwrap()).expect("login form");
    let back = http
        .post(format!("{}{}", s.mock.base_url(), mock::LOGIN_PATH))
        .form(&[("pending", pending.as_str()), ("persona", persona)])
        .send()
        .await
        .unwrap();
    let loc = url::Url::parse(back.headers()["location"].to_str().unwrap()).unwrap();
    let code = loc
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("code");
    client
        .exchange_code(&code, chrono::Utc::now())
        .await
        .unwrap_or_else(|e| panic!("{persona}: {e:?}"))
}

fn names(kids: &[esia_gateway::esia::EsiaChild]) -> Vec<String> {
    kids.iter()
        .map(|k| {
            let name = k.name().map(|n| n.to_string()).unwrap_or_default();
            let born = k.birth_date().map(|d| d.to_string()).unwrap_or_default();
            format!("{name} {born}")
        })
        .collect()
}

#[tokio::test]
async fn each_persona_gets_its_children_when_children_are_configured() {
    let s = stand().await;
    let c = client(&s, "children = true");
    for (persona, want) in [
        (
            "confirmed",
            vec![
                "ИВАНОВ ДМИТРИЙ АЛЕКСЕЕВИЧ 2015-04-12",
                "ИВАНОВА АННА АЛЕКСЕЕВНА 2009-09-07",
            ],
        ),
        ("confirmed-2", vec!["ПЕТРОВ АЛЕКСЕЙ СЕРГЕЕВИЧ 2011-02-03"]),
        ("standard", vec![]),
        ("child-2", vec![]),
    ] {
        let v = login(&s, &c, persona).await;
        let kids = c
            .children(v.oid, &v.tokens.access_token)
            .await
            .unwrap_or_else(|e| panic!("{persona}: {e:?}"));
        assert_eq!(names(&kids), want, "{persona}");
    }
    let scope = s.mock.state().last_te.unwrap()["scope"].clone();
    for kid in CHILDREN_SCOPES {
        assert!(scope.split(' ').any(|w| w == kid), "{scope}");
    }
}

#[tokio::test]
async fn a_son_with_his_own_child_account_is_the_same_person_as_his_fathers_esia_child() {
    let s = stand().await;
    let c = client(&s, "children = true");
    let father = login(&s, &c, "confirmed-2").await;
    let kids = c
        .children(father.oid, &father.tokens.access_token)
        .await
        .unwrap();
    let son = login(&s, &c, "child-2").await;
    assert_ne!(son.oid, father.oid);
    let own = son.person_name.expect("the child account's name");
    assert_eq!(compare(&kids[0].name().unwrap(), &own), NameVerdict::Match);
    assert_eq!(kids[0].birth_date(), son.birth_date);
    assert_eq!(son.birth_date, parse_birth_date("2011-02-03"));
    // Мария's son is someone else.
    let mother = login(&s, &c, "confirmed").await;
    let hers = c
        .children(mother.oid, &mother.tokens.access_token)
        .await
        .unwrap();
    assert_eq!(
        compare(&hers[0].name().unwrap(), &own),
        NameVerdict::Mismatch
    );
}

#[tokio::test]
async fn without_children_configured_the_scopes_are_not_asked_and_esia_is_not_asked() {
    let s = stand().await;
    let c = client(&s, "");
    assert!(!c.config().children);
    let v = login(&s, &c, "confirmed").await;
    let scope = s.mock.state().last_ac.unwrap()["scope"].clone();
    assert!(!scope.contains("kid_"), "{scope}");
    let before = s.mock.state().rs_requests;
    let e = c.children(v.oid, &v.tokens.access_token).await.unwrap_err();
    assert!(matches!(e, KidsError::NotRequested), "{e:?}");
    assert_eq!(e.kind(), "esia-kids-not-requested");
    assert_eq!(s.mock.state().rs_requests, before, "no request to ESIA");
}

#[tokio::test]
async fn a_token_without_the_kid_scopes_is_refused_with_403_and_a_typed_error() {
    let s = stand().await;
    let narrow = client(&s, "");
    let asking = client(&s, "children = true");
    let v = login(&s, &narrow, "confirmed").await;
    let e = asking
        .children(v.oid, &v.tokens.access_token)
        .await
        .unwrap_err();
    assert!(matches!(e, KidsError::NotGranted(403)), "{e:?}");
    assert_eq!(e.kind(), "esia-kids-not-granted");
    // Another person's children: 403 too.
    let other = asking
        .children(1000299682, &v.tokens.access_token)
        .await
        .unwrap_err();
    assert!(matches!(other, KidsError::NotGranted(403)), "{other:?}");
    // A token ESIA does not know: 401, the same fallback.
    let e = asking
        .children(v.oid, &Secret::new("not-a-token"))
        .await
        .unwrap_err();
    assert!(matches!(e, KidsError::NotGranted(401)), "{e:?}");
}

#[tokio::test]
async fn only_kid_birthdate_gives_birth_dates_without_names() {
    let s = stand().await;
    let partial = client(&s, r#"scope = "openid fullname birthdate kid_birthdate""#);
    let asking = client(&s, "children = true");
    let v = login(&s, &partial, "confirmed").await;
    let kids = asking
        .children(v.oid, &v.tokens.access_token)
        .await
        .unwrap();
    assert_eq!(kids.len(), 2);
    assert!(kids[0].name().is_err(), "{kids:?}");
    assert_eq!(kids[0].birth_date(), parse_birth_date("12.04.2015"));
}

#[tokio::test]
async fn broken_failing_and_slow_answers_are_typed_errors() {
    let s = stand().await;
    let c = client(
        &s,
        "children = true\ntimeouts = { connect_secs = 2, request_secs = 1 }",
    );
    let v = login(&s, &c, "confirmed").await;
    let once = || {
        Some(Switch {
            times: Times::Next(1),
        })
    };
    let cases: [(Faults, &str); 4] = [
        (
            Faults {
                rs_malformed_json: once(),
                ..Faults::default()
            },
            "esia-kids-malformed",
        ),
        (
            Faults {
                rs_wrong_shape: once(),
                ..Faults::default()
            },
            "esia-kids-malformed",
        ),
        (
            Faults {
                rs_status: Some(mock::Status {
                    status: 503,
                    times: Times::Next(1),
                }),
                ..Faults::default()
            },
            "esia-unavailable",
        ),
        (
            Faults {
                rs_delay: Some(Delay {
                    ms: 3_000,
                    times: Times::Next(1),
                }),
                ..Faults::default()
            },
            "esia-timeout",
        ),
    ];
    for (faults, want) in cases {
        s.mock.set_faults(faults);
        let e = c.children(v.oid, &v.tokens.access_token).await.unwrap_err();
        assert_eq!(e.kind(), want, "{e:?}");
        if want == "esia-unavailable" {
            assert!(matches!(e, KidsError::Esia(EsiaError::Unavailable(_))));
        }
    }
    // The faults were one-shot: the next answer is the real one.
    s.mock.set_faults(Faults::default());
    let kids = c.children(v.oid, &v.tokens.access_token).await.unwrap();
    assert_eq!(kids.len(), 2);
}

#[test]
fn children_scopes_are_added_once_and_only_when_configured() {
    let base = r#"
        client_id = "DNEVNIK"
        redirect_uri = "https://dnevnik.example.ru/esia/callback"
        certificate_hash = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        token_keys = ["/etc/esia/esia.pem"]
        signer = { kind = "command", program = "/usr/bin/openssl" }
        scope = "openid fullname kid_fullname"
    "#;
    let parse = |extra: &str| {
        toml::from_str::<EsiaFile>(&format!("{base}\n{extra}"))
            .unwrap()
            .validate()
            .unwrap()
    };
    let off = parse("");
    assert!(!off.children);
    assert_eq!(
        off.scope, "openid fullname kid_fullname",
        "left as configured"
    );
    assert!(!parse("children = false").children);
    let on = parse("children = true");
    assert!(on.children);
    assert_eq!(on.scope, "openid fullname kid_fullname kid_birthdate");
    assert!(toml::from_str::<EsiaFile>(&format!("{base}\nchildren = \"yes\"")).is_err());
}
