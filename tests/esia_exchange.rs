//! The code exchange end to end against a tiny local HTTPS server with canned ESIA
//! answers: the /te form (every ESIA parameter, a verifiable client_secret over the /te
//! string), the echoed state, person data and the level, and the mapping of every
//! failure (400 JSON, malformed JSON, 5xx, slow, refused, untrusted TLS) to its error.

#[path = "esia_support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use esia_gateway::esia::request::{ac_string, te_string};
use esia_gateway::esia::{AccountLevel, EsiaClient, EsiaError, EsiaErrorCode, VerifyError, signer};
use serde_json::json;
use support::*;

struct Fixture {
    _dir: tempfile::TempDir,
    rsa: RsaKey,
    stranger: RsaKey,
    demo_key: std::path::PathBuf,
    demo_public: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let demo_key = dir.path().join("rp-demo.key");
        std::fs::write(&demo_key, kp.serialize_pem()).unwrap();
        Fixture {
            rsa: RsaKey::generate(dir.path(), "esia-tokens"),
            stranger: RsaKey::generate(dir.path(), "stranger"),
            demo_key,
            demo_public: kp.public_key_raw().to_vec(),
            _dir: dir,
        }
    })
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(NOW, 0).unwrap()
}

/// How the canned ESIA behaves in one test.
#[derive(Clone)]
struct Script {
    te: Option<Canned>,
    echo_state: Option<String>,
    signing_key: &'static RsaKey,
    person: Canned,
    docs: Canned,
    lvl: &'static str,
    is_tru: bool,
}

impl Script {
    fn new() -> Self {
        Self {
            te: None,
            echo_state: None,
            signing_key: &fixture().rsa,
            person: Canned::json(
                200,
                json!({"firstName": "Иван", "lastName": "Иванов", "middleName": "Иванович",
                "snils": "000-000-600 06", "trusted": true, "status": "REGISTERED", "rIdDoc": 5, "eTag": "x"}),
            ),
            docs: Canned::json(
                200,
                json!({"stateFacts": ["hasSize"], "size": 1, "elements": [
                {"id": 5, "type": "RF_PASSPORT", "vrfStu": "VERIFIED", "series": "7801", "number": "123456"}]}),
            ),
            lvl: "PR",
            is_tru: true,
        }
    }
}

type Log = Arc<Mutex<Vec<String>>>;

/// Plays `script`, checking the /te form as ESIA would, and logs every target.
fn handler(script: Script, log: Log) -> Handler {
    Arc::new(move |seen: Seen| {
        log.lock()
            .unwrap()
            .push(format!("{} {}", seen.method, seen.target));
        if seen.target == "/aas/oauth2/v3/te" {
            if let Some(c) = &script.te {
                return c.clone();
            }
            let f = form(&seen.body);
            for k in [
                "client_id",
                "code",
                "grant_type",
                "client_certificate_hash",
                "client_secret",
                "state",
                "redirect_uri",
                "scope",
                "scope_org",
                "timestamp",
                "token_type",
            ] {
                if !f.contains_key(k) {
                    return Canned::json(
                        400,
                        json!({"error": "invalid_request", "error_description": format!("ESIA-007014: {k}")}),
                    );
                }
            }
            let signed = [
                &f["client_id"],
                &f["scope"],
                &f["scope_org"],
                &f["timestamp"],
                &f["state"],
                &f["redirect_uri"],
                &f["code"],
            ]
            .iter()
            .map(|s| s.as_str())
            .collect::<String>();
            let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(&f["client_secret"])
                .unwrap_or_default();
            let pk = ring::signature::UnparsedPublicKey::new(
                &ring::signature::ED25519,
                &fixture().demo_public,
            );
            if pk.verify(signed.as_bytes(), &sig).is_err()
                || f["grant_type"] != "authorization_code"
                || f["token_type"] != "Bearer"
            {
                return Canned::json(
                    400,
                    json!({"error": "invalid_client", "error_description": "ESIA-007053: bad secret"}),
                );
            }
            let key = script.signing_key;
            return Canned::json(
                200,
                json!({
                    "access_token": key.sign(&access_claims(NOW)),
                    "id_token": key.sign(&id_claims(NOW, script.lvl, script.is_tru)),
                    "refresh_token": "r-1",
                    "state": script.echo_state.clone().unwrap_or_else(|| f["state"].clone()),
                    "token_type": "Bearer",
                    "expires_in": 3600,
                }),
            );
        }
        let bearer_ok = seen
            .authorization
            .as_deref()
            .is_some_and(|a| a.starts_with("Bearer eyJ"));
        if !bearer_ok {
            return Canned::raw(401, "text/plain", "no token");
        }
        if seen.target == format!("/rs/prns/{OID}") {
            return script.person.clone();
        }
        if seen.target == format!("/rs/prns/{OID}/docs?embed=(elements)") {
            return script.docs.clone();
        }
        Canned::raw(404, "text/plain", "not found")
    })
}

fn demo_signer_toml() -> toml::Value {
    let mut t = toml::Table::new();
    t.insert("kind".into(), "demo".into());
    t.insert(
        "key".into(),
        fixture().demo_key.display().to_string().into(),
    );
    toml::Value::Table(t)
}

/// The client, the request log and the temp dir holding the server's certificates.
async fn client_for(script: Script) -> (EsiaClient, Log, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let log: Log = Arc::default();
    let (addr, ca) = canned_server(dir.path(), handler(script, log.clone())).await;
    let cfg = config(
        &format!("https://127.0.0.1:{}", addr.port()),
        &[fixture().stranger.cert.clone(), fixture().rsa.cert.clone()],
        demo_signer_toml(),
        Some(&ca),
    );
    let signer = signer::from_config(&cfg.signer).unwrap();
    (EsiaClient::new(cfg, signer).unwrap(), log, dir)
}

async fn login(script: Script) -> Result<esia_gateway::esia::VerifiedLogin, EsiaError> {
    client_for(script)
        .await
        .0
        .exchange_code("eyJcode.part.sig", now())
        .await
}

#[tokio::test]
async fn confirmed_account_logs_in_without_fetching_docs() {
    let (client, log, _dir) = client_for(Script::new()).await;
    let v = client
        .exchange_code("eyJcode.part.sig", now())
        .await
        .unwrap();
    assert_eq!((v.oid, v.level), (OID, AccountLevel::Confirmed));
    assert_eq!(v.full_name, "Иванов Иван Иванович");
    assert_eq!(v.sid.as_deref(), Some("sid-1"));
    assert_eq!(
        v.tokens.refresh_token.as_ref().map(|t| t.expose()),
        Some("r-1")
    );
    assert!(!format!("{v:?}").contains("eyJ"), "tokens must not print");
    let log = log.lock().unwrap().clone();
    assert_eq!(
        log,
        vec![
            "POST /aas/oauth2/v3/te".to_string(),
            format!("GET /rs/prns/{OID}")
        ]
    );
}

#[tokio::test]
async fn verified_passport_gives_standard_and_missing_docs_give_simplified() {
    let mut s = Script::new();
    s.person = Canned::json(
        200,
        json!({"firstName": "Пётр", "lastName": "Петров", "trusted": false, "status": "REGISTERED", "rIdDoc": 5}),
    );
    s.lvl = "P";
    s.is_tru = false;
    let v = login(s.clone()).await.unwrap();
    assert_eq!(v.level, AccountLevel::Standard);
    assert_eq!(v.full_name, "Петров Пётр");
    s.docs = Canned::raw(403, "application/json", "{}");
    assert_eq!(
        login(s.clone()).await.unwrap().level,
        AccountLevel::Simplified
    );
    s.docs = Canned::json(200, json!({"elements": ["https://esia/rs/prns/1/docs/5"]}));
    assert_eq!(login(s).await.unwrap().level, AccountLevel::Simplified);
}

#[tokio::test]
async fn trusted_without_is_tru_falls_back_to_the_document_check() {
    let mut s = Script::new();
    s.is_tru = false;
    s.lvl = "P";
    let (client, log, _dir) = client_for(s).await;
    let v = client
        .exchange_code("eyJcode.part.sig", now())
        .await
        .unwrap();
    assert_eq!(v.level, AccountLevel::Standard);
    assert!(
        log.lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("/docs?embed=(elements)"))
    );
}

#[tokio::test]
async fn child_account_is_its_own_level() {
    let mut s = Script::new();
    s.lvl = "KD";
    assert_eq!(login(s).await.unwrap().level, AccountLevel::Child);
}

#[tokio::test]
async fn deleted_account_is_refused() {
    let mut s = Script::new();
    s.person = Canned::json(200, json!({"status": "DELETED", "trusted": true}));
    let e = login(s).await.unwrap_err();
    assert!(matches!(e, EsiaError::AccountDeleted), "{e:?}");
    assert_eq!(e.status(), 403);
}

#[tokio::test]
async fn esia_400_answers_become_typed_errors() {
    for (code, want) in [
        ("ESIA-007011", EsiaErrorCode::InvalidCode),
        ("ESIA-007053", EsiaErrorCode::BadClientSecret),
        ("ESIA-007015", EsiaErrorCode::BadTimestamp),
    ] {
        let mut s = Script::new();
        s.te = Some(Canned::json(
            400,
            json!({"error": "invalid_grant", "error_description": format!("{code}: text"), "state": "x"}),
        ));
        match login(s).await.unwrap_err() {
            EsiaError::Esia {
                code: got, error, ..
            } => {
                assert_eq!(got, want);
                assert_eq!(error, "invalid_grant");
            }
            other => panic!("{code}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn malformed_or_foreign_answers_are_bad_responses() {
    for canned in [
        Canned::raw(200, "application/json", "{not json"),
        Canned::raw(200, "text/html", "<html>login</html>"),
        Canned::raw(200, "application/json", ""),
        Canned::json(200, json!({"token_type": "Bearer"})),
        Canned::json(
            200,
            json!({"access_token": "a", "token_type": "Bearer", "state": null}),
        ),
        Canned::raw(400, "text/html", "<html>bad</html>"),
        Canned::raw(
            200,
            "application/json",
            &format!("{{\"x\":\"{}\"}}", "y".repeat(400_000)),
        ),
    ] {
        let mut s = Script::new();
        let shown = String::from_utf8_lossy(&canned.body)
            .chars()
            .take(40)
            .collect::<String>();
        s.te = Some(canned);
        let e = login(s).await.unwrap_err();
        assert!(
            matches!(e, EsiaError::BadResponse(_) | EsiaError::StateMismatch),
            "{shown}: {e:?}"
        );
        assert_eq!(e.status(), 502);
    }
}

#[tokio::test]
async fn echoed_state_must_be_the_fresh_one() {
    let mut s = Script::new();
    s.echo_state = Some("00000000-0000-4000-8000-000000000000".into());
    assert!(matches!(
        login(s).await.unwrap_err(),
        EsiaError::StateMismatch
    ));
    let mut s = Script::new();
    s.echo_state = Some(String::new());
    assert!(matches!(
        login(s).await.unwrap_err(),
        EsiaError::StateMismatch
    ));
}

#[tokio::test]
async fn tokens_signed_by_an_unknown_key_are_refused() {
    static OTHER: OnceLock<RsaKey> = OnceLock::new();
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = DIR.get_or_init(|| tempfile::tempdir().unwrap());
    let key = OTHER.get_or_init(|| RsaKey::generate(dir.path(), "rogue"));
    let mut s = Script::new();
    s.signing_key = key;
    let e = login(s).await.unwrap_err();
    assert!(
        matches!(e, EsiaError::Token(VerifyError::BadSignature)),
        "{e:?}"
    );
}

#[tokio::test]
async fn server_errors_and_person_refusals() {
    let mut s = Script::new();
    s.te = Some(Canned::raw(503, "text/html", "maintenance"));
    let e = login(s).await.unwrap_err();
    assert!(matches!(e, EsiaError::Unavailable(_)), "{e:?}");
    let mut s = Script::new();
    s.person = Canned::raw(401, "application/json", "{}");
    assert!(matches!(
        login(s).await.unwrap_err(),
        EsiaError::PersonRefused(401)
    ));
    let mut s = Script::new();
    s.person = Canned::raw(200, "application/json", "[1,2,3]");
    assert!(matches!(
        login(s).await.unwrap_err(),
        EsiaError::BadResponse(_)
    ));
}

#[tokio::test]
async fn slow_esia_is_a_timeout() {
    let mut s = Script::new();
    let mut slow = Canned::json(200, json!({}));
    slow.delay = Some(Duration::from_secs(4));
    s.te = Some(slow);
    let e = login(s).await.unwrap_err();
    assert!(matches!(e, EsiaError::Timeout), "{e:?}");
    assert_eq!(e.status(), 504);
}

#[tokio::test]
async fn refused_connection_and_untrusted_certificate_are_unavailable() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let cfg = config(
        &format!("https://127.0.0.1:{port}"),
        std::slice::from_ref(&fixture().rsa.cert),
        demo_signer_toml(),
        None,
    );
    let client = EsiaClient::new(cfg.clone(), signer::from_config(&cfg.signer).unwrap()).unwrap();
    let e = client.exchange_code("c", now()).await.unwrap_err();
    assert!(matches!(e, EsiaError::Unavailable(_)), "{e:?}");
    assert_eq!(e.status(), 502);

    // A server whose certificate the client does not trust (no ca_bundle).
    let dir = tempfile::tempdir().unwrap();
    let (addr, _ca) = canned_server(dir.path(), handler(Script::new(), Arc::default())).await;
    let cfg = config(
        &format!("https://127.0.0.1:{}", addr.port()),
        std::slice::from_ref(&fixture().rsa.cert),
        demo_signer_toml(),
        None,
    );
    let client = EsiaClient::new(cfg.clone(), signer::from_config(&cfg.signer).unwrap()).unwrap();
    let e = client.exchange_code("c", now()).await.unwrap_err();
    assert!(matches!(e, EsiaError::Unavailable(_)), "{e:?}");
}

#[tokio::test]
async fn authorization_request_is_signed_over_the_ac_string() {
    let (client, _, _dir) = client_for(Script::new()).await;
    let state = uuid::Uuid::new_v4();
    let url = client.authorization_request(state, now()).await.unwrap();
    let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["state"], state.to_string());
    assert_eq!(q["timestamp"], "2019.01.14 09:30:00 +0300");
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&q["client_secret"])
        .unwrap();
    let data = ac_string(client.config(), &state, &q["timestamp"]);
    let pk =
        ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &fixture().demo_public);
    pk.verify(data.as_bytes(), &sig).unwrap();
    // The same signature is not valid for the /te string.
    assert!(
        pk.verify(
            te_string(client.config(), &state, &q["timestamp"], "c").as_bytes(),
            &sig
        )
        .is_err()
    );
    let back = url::Url::parse("https://dnevnik.example.ru/esia/start").unwrap();
    let out = client.logout_url(&back);
    assert!(out.as_str().starts_with(&format!(
        "https://127.0.0.1:{}/idp/ext/Logout?client_id=DNEVNIK76&redirect_url=https%3A%2F%2F",
        url.port().unwrap()
    )));
}

#[tokio::test]
async fn empty_or_huge_codes_are_refused_locally() {
    let (client, log, _dir) = client_for(Script::new()).await;
    for code in [String::new(), "c".repeat(100_000)] {
        let e = client.exchange_code(&code, now()).await.unwrap_err();
        assert!(
            matches!(
                e,
                EsiaError::Esia {
                    code: EsiaErrorCode::InvalidCode,
                    ..
                }
            ),
            "{e:?}"
        );
    }
    assert!(log.lock().unwrap().is_empty());
}
