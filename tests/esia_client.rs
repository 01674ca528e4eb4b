//! The ESIA client's signed pieces, checked byte for byte: the GOST command signer
//! against real OpenSSL (signature verified by OpenSSL), signer failures, the Moscow
//! timestamp, the exact strings to sign, the authorization and logout URLs, the level
//! rule as a table, and the error-code parsing.

#[path = "esia_support/mod.rs"]
mod support;

use std::process::Command;
use std::time::Duration;

use chrono::DateTime;
use esia_gateway::esia::person::{Doc, Person};
use esia_gateway::esia::request::{self, ac_string, te_string};
use esia_gateway::esia::{
    AccountLevel, CommandSigner, EsiaError, EsiaErrorCode, SbjClaims, SignError, Signer,
    account_level,
};
use support::*;
use uuid::Uuid;

fn demo_signer_toml() -> toml::Value {
    toml::toml! { kind = "demo" key = "/nonexistent" }.into()
}

fn cfg() -> esia_gateway::esia::EsiaConfig {
    config(
        "https://esia.example",
        &["/k.pem".into()],
        demo_signer_toml(),
        None,
    )
}

const STATE: &str = "0b7a6c2e-3f4d-4a8b-9c1d-2e3f4a5b6c7d";

#[tokio::test]
async fn gost_command_signer_output_verifies_with_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.pem");
    let cert = dir.path().join("cert.pem");
    run(Command::new("openssl")
        .args([
            "genpkey",
            "-engine",
            "gost",
            "-algorithm",
            "gost2012_256",
            "-pkeyopt",
            "paramset:A",
            "-out",
        ])
        .arg(&key));
    run(Command::new("openssl")
        .args([
            "req",
            "-engine",
            "gost",
            "-new",
            "-x509",
            "-subj",
            "/CN=test-rp",
            "-days",
            "30",
            "-key",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert));
    let signer = CommandSigner::new(
        "openssl",
        ["dgst", "-engine", "gost", "-md_gost12_256", "-sign"]
            .iter()
            .map(|s| s.to_string())
            .chain([key.display().to_string()])
            .collect(),
        Duration::from_secs(20),
    );
    assert_eq!(signer.kind(), "command");
    let state: Uuid = STATE.parse().unwrap();
    let data = ac_string(&cfg(), &state, "2019.01.14 09:30:00 +0300");
    let sig = signer.sign(data.as_bytes()).await.unwrap();
    assert_eq!(sig.len(), 64, "raw GOST R 34.10-2012 256 signature");

    // Verify exactly as the mock does.
    let pubkey = dir.path().join("pub.pem");
    let out = run(Command::new("openssl")
        .args(["x509", "-engine", "gost", "-pubkey", "-noout", "-in"])
        .arg(&cert));
    std::fs::write(&pubkey, out.stdout).unwrap();
    let (data_file, sig_file) = (dir.path().join("data"), dir.path().join("sig"));
    std::fs::write(&data_file, &data).unwrap();
    std::fs::write(&sig_file, &sig).unwrap();
    let verify = |file: &std::path::Path| {
        Command::new("openssl")
            .args(["dgst", "-engine", "gost", "-md_gost12_256", "-verify"])
            .arg(&pubkey)
            .arg("-signature")
            .arg(&sig_file)
            .arg(file)
            .output()
            .unwrap()
    };
    let ok = verify(&data_file);
    assert!(
        String::from_utf8_lossy(&ok.stdout).contains("Verified OK"),
        "{ok:?}"
    );
    // The same signature over a different string must not verify.
    let other = dir.path().join("other");
    std::fs::write(&other, format!("{data}x")).unwrap();
    assert!(!verify(&other).status.success());

    // client_certificate_hash equals OpenSSL's Streebog-256 over the DER.
    let der = dir.path().join("cert.der");
    run(Command::new("openssl")
        .args(["x509", "-outform", "DER", "-in"])
        .arg(&cert)
        .arg("-out")
        .arg(&der));
    let ours = request::certificate_hash(&std::fs::read(&der).unwrap());
    let theirs = run(Command::new("openssl")
        .args(["dgst", "-engine", "gost", "-md_gost12_256", "-r"])
        .arg(&der));
    assert!(
        String::from_utf8_lossy(&theirs.stdout).starts_with(&ours),
        "{ours}"
    );
    assert_eq!(ours.len(), 64);
}

fn sh(script: &str, timeout: Duration) -> CommandSigner {
    CommandSigner::new("/bin/sh", vec!["-c".into(), script.into()], timeout)
}

#[tokio::test]
async fn signer_that_hangs_is_killed_at_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let script = format!("echo $$ > '{}'; exec sleep 10", pid_file.display());
    let err = sh(&script, Duration::from_millis(500))
        .sign(b"data")
        .await
        .unwrap_err();
    assert!(matches!(err, SignError::Timeout { .. }), "{err:?}");
    assert!(err.to_string().contains("killed"), "{err}");
    // The hung program is gone (or a zombie awaiting its reaper), not left running.
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let stat = format!("/proc/{}/stat", pid.trim());
    let mut alive = true;
    for _ in 0..100 {
        let state = std::fs::read_to_string(&stat).unwrap_or_default();
        let state = state
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .chars()
            .next();
        if state.is_none() || state == Some('Z') {
            alive = false;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!alive, "signer process {pid} still running");
}

#[tokio::test]
async fn signer_failure_names_program_status_and_first_stderr_line() {
    let s = sh(
        "cat >/dev/null; echo 'engine gost not found' >&2; echo second >&2; exit 3",
        Duration::from_secs(5),
    );
    let err = s.sign(b"client-id-and-state").await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, SignError::Failed { .. }), "{err:?}");
    assert!(
        text.contains("/bin/sh") && text.contains("3") && text.contains("engine gost not found"),
        "{text}"
    );
    assert!(
        !text.contains("second") && !text.contains("client-id-and-state"),
        "{text}"
    );
}

#[tokio::test]
async fn signer_with_empty_output_is_an_error() {
    let err = sh("cat >/dev/null", Duration::from_secs(5))
        .sign(b"x")
        .await
        .unwrap_err();
    assert!(matches!(err, SignError::Empty { .. }), "{err:?}");
}

#[tokio::test]
async fn missing_signer_program_is_an_error() {
    let s = CommandSigner::new("/nonexistent/signer", vec![], Duration::from_secs(5));
    let err = s.sign(b"x").await.unwrap_err();
    assert!(matches!(err, SignError::Spawn { .. }), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/signer"));
}

#[tokio::test]
async fn signer_bad_base64_and_huge_output_are_errors() {
    let mut s = sh(
        "cat >/dev/null; printf '%s' '!!not base64!!'",
        Duration::from_secs(5),
    );
    s.output_base64 = true;
    assert!(matches!(
        s.sign(b"x").await.unwrap_err(),
        SignError::BadBase64 { .. }
    ));
    let s = sh(
        "cat >/dev/null; head -c 200000 /dev/zero",
        Duration::from_secs(5),
    );
    assert!(matches!(
        s.sign(b"x").await.unwrap_err(),
        SignError::TooLarge(_)
    ));
}

#[test]
fn timestamp_has_the_moscow_offset() {
    let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
    assert_eq!(
        request::timestamp(at("2019-01-14T06:30:00Z")),
        "2019.01.14 09:30:00 +0300"
    );
    assert_eq!(
        request::timestamp(at("2018-12-31T21:00:00Z")),
        "2019.01.01 00:00:00 +0300"
    );
    assert_eq!(
        request::timestamp(at("2026-07-01T23:59:59+03:00")),
        "2026.07.01 23:59:59 +0300"
    );
}

#[test]
fn strings_to_sign_are_exact() {
    let mut c = cfg();
    c.scope = "openid fullname".into();
    let state: Uuid = STATE.parse().unwrap();
    let ts = "2019.01.14 09:30:00 +0300";
    let ac = "DNEVNIK76openid fullname2019.01.14 09:30:00 +03000b7a6c2e-3f4d-4a8b-9c1d-2e3f4a5b6c7dhttps://dnevnik.example.ru/esia/callback";
    assert_eq!(ac_string(&c, &state, ts), ac);
    assert_eq!(te_string(&c, &state, ts, "eyJcode"), format!("{ac}eyJcode"));
    c.scope_org = "org_emps".into();
    assert!(ac_string(&c, &state, ts).starts_with("DNEVNIK76openid fullnameorg_emps2019."));
}

#[test]
fn authorization_url_carries_every_parameter() {
    let c = cfg();
    let state: Uuid = STATE.parse().unwrap();
    let ts = "2019.01.14 09:30:00 +0300";
    let url = request::authorization_url(&c, &state, ts, "c2ln-_w");
    assert_eq!(
        url.as_str().split('?').next().unwrap(),
        "https://esia.example/aas/oauth2/v2/ac"
    );
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    let expect = [
        ("client_id", "DNEVNIK76"),
        ("client_secret", "c2ln-_w"),
        (
            "client_certificate_hash",
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ),
        ("redirect_uri", "https://dnevnik.example.ru/esia/callback"),
        ("scope", "openid fullname birthdate gender snils id_doc"),
        ("scope_org", ""),
        ("response_type", "code"),
        ("state", STATE),
        ("timestamp", ts),
        ("access_type", "online"),
    ];
    for (k, v) in expect {
        assert_eq!(q.get(k).map(String::as_str), Some(v), "{k}");
    }
    assert_eq!(q.len(), expect.len());
    let raw = url.query().unwrap();
    // Spaces as %20 (never '+'), the offset's '+' escaped, the redirect fully escaped.
    assert!(raw.contains("scope=openid%20fullname%20birthdate"), "{raw}");
    assert!(
        raw.contains("timestamp=2019.01.14%2009%3A30%3A00%20%2B0300"),
        "{raw}"
    );
    assert!(
        raw.contains("redirect_uri=https%3A%2F%2Fdnevnik.example.ru%2Fesia%2Fcallback"),
        "{raw}"
    );
    assert!(!raw.contains('+'));
}

proptest::proptest! {
    /// Whatever the configured strings hold, the query decodes back to them exactly and
    /// never carries a raw space or a '+' that a server could read as a space.
    #[test]
    fn authorization_url_round_trips_any_value(scope_org in "\\PC{0,40}", secret in "[A-Za-z0-9_-]{0,90}") {
        let mut c = cfg();
        c.scope_org = scope_org.clone();
        let state: Uuid = STATE.parse().unwrap();
        let url = request::authorization_url(&c, &state, "2019.01.14 09:30:00 +0300", &secret);
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        proptest::prop_assert_eq!(q.get("scope_org"), Some(&scope_org));
        proptest::prop_assert_eq!(q.get("client_secret"), Some(&secret));
        let raw = url.query().unwrap_or("");
        proptest::prop_assert!(!raw.contains('+') && !raw.contains(' '));
    }
}

#[test]
fn logout_url_uses_redirect_url() {
    let back = url::Url::parse("https://dnevnik.example.ru/esia/start?x=1&y=2").unwrap();
    let url = request::logout_url(&cfg(), &back);
    let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert_eq!(url.path(), "/idp/ext/Logout");
    assert_eq!(
        q,
        vec![
            ("client_id".into(), "DNEVNIK76".into()),
            ("redirect_url".into(), back.to_string())
        ]
    );
}

fn person(trusted: Option<bool>, r_id_doc: Option<u64>) -> Person {
    serde_json::from_value(serde_json::json!({
        "firstName": "Иван", "lastName": "Иванов", "middleName": "Иванович",
        "snils": "000-000-600 06", "trusted": trusted, "status": "REGISTERED", "rIdDoc": r_id_doc,
    }))
    .unwrap()
}

fn doc(id: u64, typ: &str, vrf: &str) -> Doc {
    serde_json::from_value(serde_json::json!({"id": id, "type": typ, "vrfStu": vrf, "series": "7801", "number": "123456"})).unwrap()
}

fn sbj(is_tru: Option<bool>, lvl: Option<&str>) -> SbjClaims {
    SbjClaims {
        typ: Some("P".into()),
        is_tru,
        lvl: lvl.map(str::to_string),
    }
}

#[test]
fn account_level_table() {
    use AccountLevel::*;
    let passport = [doc(5, "RF_PASSPORT", "VERIFIED")];
    let foreign = [doc(5, "FID_DOC", "VERIFIED")];
    let unverified = [doc(5, "RF_PASSPORT", "NOT_VERIFIED")];
    let other_id = [doc(6, "RF_PASSPORT", "VERIFIED")];
    let wrong_type = [doc(5, "RF_DRIVING_LICENSE", "VERIFIED")];
    type Case<'a> = (&'a str, Person, Option<&'a [Doc]>, SbjClaims, AccountLevel);
    let cases: Vec<Case> = vec![
        (
            "trusted and is_tru",
            person(Some(true), Some(5)),
            None,
            sbj(Some(true), Some("PR")),
            Confirmed,
        ),
        (
            "trusted, lvl absent",
            person(Some(true), None),
            None,
            sbj(Some(true), None),
            Confirmed,
        ),
        (
            "trusted but is_tru false",
            person(Some(true), Some(5)),
            Some(&passport),
            sbj(Some(false), Some("P")),
            Standard,
        ),
        (
            "trusted but is_tru missing",
            person(Some(true), None),
            None,
            sbj(None, None),
            Simplified,
        ),
        (
            "is_tru but not trusted",
            person(Some(false), None),
            None,
            sbj(Some(true), Some("PR")),
            Simplified,
        ),
        (
            "is_tru but lvl P",
            person(Some(true), None),
            None,
            sbj(Some(true), Some("P")),
            Simplified,
        ),
        (
            "verified passport",
            person(Some(false), Some(5)),
            Some(&passport),
            sbj(None, Some("P")),
            Standard,
        ),
        (
            "verified foreign doc",
            person(Some(false), Some(5)),
            Some(&foreign),
            sbj(None, Some("P")),
            Standard,
        ),
        (
            "unverified passport",
            person(Some(false), Some(5)),
            Some(&unverified),
            sbj(None, Some("P")),
            Simplified,
        ),
        (
            "verified doc is not rIdDoc",
            person(Some(false), Some(5)),
            Some(&other_id),
            sbj(None, Some("P")),
            Simplified,
        ),
        (
            "wrong doc type",
            person(Some(false), Some(5)),
            Some(&wrong_type),
            sbj(None, Some("P")),
            Simplified,
        ),
        (
            "docs unavailable",
            person(Some(false), Some(5)),
            None,
            sbj(None, Some("P")),
            Simplified,
        ),
        (
            "no rIdDoc",
            person(Some(false), None),
            Some(&passport),
            sbj(None, Some("P")),
            Simplified,
        ),
        (
            "trusted missing",
            person(None, Some(5)),
            None,
            sbj(Some(true), Some("PR")),
            Simplified,
        ),
        (
            "child",
            person(Some(true), Some(5)),
            Some(&passport),
            sbj(Some(true), Some("KD")),
            Child,
        ),
        (
            "child lowercase",
            person(None, None),
            None,
            sbj(None, Some("kd")),
            Child,
        ),
    ];
    for (name, p, docs, s, want) in cases {
        assert_eq!(account_level(&p, docs, &s), want, "{name}");
    }
}

#[test]
fn person_keeps_no_snils_or_document_numbers() {
    let p = person(Some(false), Some(5));
    let d = doc(5, "RF_PASSPORT", "VERIFIED");
    let printed = format!("{p:?} {d:?}");
    assert!(
        !printed.contains("600 06") && !printed.contains("123456") && !printed.contains("7801"),
        "{printed}"
    );
    assert_eq!(p.full_name(), "Иванов Иван Иванович");
    // Garbage types are ignored, not fatal.
    let odd: Person =
        serde_json::from_str(r#"{"trusted":"yes","rIdDoc":"17","status":5,"extra":[1]}"#).unwrap();
    assert_eq!(
        (odd.trusted, odd.r_id_doc, odd.status),
        (None, Some(17), None)
    );
    let deleted: Person = serde_json::from_str(r#"{"status":"DELETED"}"#).unwrap();
    assert!(deleted.is_deleted());
}

#[test]
fn error_codes_parse_from_descriptions() {
    use EsiaErrorCode::*;
    for (desc, code) in [
        ("ESIA-007002: Неизвестный client_id", UnknownClient),
        ("ESIA-007004: Пользователь отказал в доступе", Declined),
        ("ESIA-007005: Сертификат не найден", UnknownCertificate),
        ("ESIA-007011: Код авторизации недействителен", InvalidCode),
        (
            "ESIA-007014: Отсутствует обязательный параметр",
            MissingParameter,
        ),
        ("ESIA-007015: Неверное время запроса", BadTimestamp),
        (
            "ESIA-007023: redirect_uri не зарегистрирован",
            RedirectNotAllowed,
        ),
        ("ESIA-007053: Неверный client_secret", BadClientSecret),
        (
            "ESIA-007055: Учетная запись не подтверждена",
            UnconfirmedAccount,
        ),
    ] {
        let parsed = EsiaErrorCode::from_description(desc);
        assert_eq!(parsed, code, "{desc}");
        assert_eq!(parsed.code(), &desc[..11]);
        assert!(!parsed.user_message().is_empty() && !parsed.operator_hint().is_empty());
    }
    assert!(
        Declined
            .user_message()
            .starts_with("Вы отказались от предоставления доступа")
    );
    assert!(UnconfirmedAccount.user_message().contains("подтвержденн"));
    assert!(
        BadClientSecret
            .operator_hint()
            .contains("certificate hash or signature")
    );
    let e = EsiaError::from_answer("access_denied", "ESIA-007004: declined");
    assert_eq!(e.kind(), "esia-error");
    assert!(matches!(e, EsiaError::Esia { code: Declined, .. }));
    assert_eq!(
        EsiaErrorCode::from_description("garbage"),
        Other("garbage".into())
    );
}
