//! ESIA token verification, mostly refusals: every way a token can be forged, stale,
//! meant for someone else or malformed, each with its expected error. Keys are real
//! RSA certificates made by openssl; time is a fixed `now`, not the system clock.

#[path = "esia_support/mod.rs"]
mod support;

use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use esia_gateway::esia::verify::{self, Verifier, VerifyError};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use support::*;

struct Keys {
    _dir: tempfile::TempDir,
    esia: RsaKey,
    rotated: RsaKey,
    stranger: RsaKey,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        Keys {
            esia: RsaKey::generate(dir.path(), "esia-2019"),
            rotated: RsaKey::generate(dir.path(), "esia-2024"),
            stranger: RsaKey::generate(dir.path(), "stranger"),
            _dir: dir,
        }
    })
}

fn verifier() -> Verifier {
    let k = keys();
    let loaded = verify::load_keys(&[k.rotated.cert.clone(), k.esia.cert.clone()]).unwrap();
    Verifier::new(
        loaded,
        &[Algorithm::RS256],
        ISSUER,
        CLIENT_ID,
        Duration::from_secs(60),
    )
    .unwrap()
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(NOW, 0).unwrap()
}

fn good_pair() -> (String, String) {
    let k = &keys().esia;
    (
        k.sign(&access_claims(NOW)),
        k.sign(&id_claims(NOW, "PR", true)),
    )
}

fn check(access: &str, id: &str) -> Result<verify::VerifiedTokens, VerifyError> {
    verifier().verify_pair(access, id, now())
}

fn b64(v: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v)
}

/// Re-signs access claims after `edit`.
fn access_with(edit: impl FnOnce(&mut Value)) -> String {
    let mut c = access_claims(NOW);
    edit(&mut c);
    keys().esia.sign(&c)
}

fn id_with(edit: impl FnOnce(&mut Value)) -> String {
    let mut c = id_claims(NOW, "PR", true);
    edit(&mut c);
    keys().esia.sign(&c)
}

#[test]
fn a_genuine_pair_verifies_and_yields_the_claims() {
    let (a, i) = good_pair();
    let v = check(&a, &i).unwrap();
    assert_eq!(v.oid, OID);
    assert_eq!(v.sid.as_deref(), Some("sid-1"));
    assert_eq!(v.sbj.is_tru, Some(true));
    assert_eq!(v.sbj.lvl.as_deref(), Some("PR"));
    assert!(v.scope.iter().any(|s| s == "id_doc"), "{:?}", v.scope);
    assert_eq!(v.access_expires_at, NOW + 3600);
}

#[test]
fn a_rotated_key_is_found_among_several() {
    let k = &keys().rotated;
    let v = check(
        &k.sign(&access_claims(NOW)),
        &k.sign(&id_claims(NOW, "P", false)),
    )
    .unwrap();
    assert_eq!(v.sbj.is_tru, Some(false));
}

#[test]
fn string_oids_and_audience_lists_are_accepted() {
    let a = access_with(|c| c["urn:esia:sbj_id"] = json!(OID.to_string()));
    let i = id_with(|c| c["aud"] = json!(["other", CLIENT_ID]));
    assert_eq!(check(&a, &i).unwrap().oid, OID);
}

#[test]
fn tampered_signature_is_refused() {
    let (a, i) = good_pair();
    let (head, sig) = a.rsplit_once('.').unwrap();
    let mut bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .unwrap();
    bytes[10] ^= 1;
    assert_eq!(
        check(&format!("{head}.{}", b64(&bytes)), &i),
        Err(VerifyError::BadSignature)
    );
    // Claims swapped under the old signature.
    let parts: Vec<&str> = a.split('.').collect();
    let mut c = access_claims(NOW);
    c["urn:esia:sbj_id"] = json!(1);
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64(c.to_string().as_bytes()),
        parts[2]
    );
    assert_eq!(check(&forged, &i), Err(VerifyError::BadSignature));
}

#[test]
fn token_from_an_unknown_key_is_refused() {
    let s = &keys().stranger;
    let (a, i) = good_pair();
    assert_eq!(
        check(&s.sign(&access_claims(NOW)), &i),
        Err(VerifyError::BadSignature)
    );
    assert_eq!(
        check(&a, &s.sign(&id_claims(NOW, "PR", true))),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn wrong_issuer_is_refused() {
    let (a, i) = good_pair();
    for iss in [
        json!("https://esia.gosuslugi.ru/"),
        json!("http://esia.gosuslugi.ru"),
        json!(null),
        json!(1),
    ] {
        let bad_a = access_with(|c| c["iss"] = iss.clone());
        assert_eq!(check(&bad_a, &i), Err(VerifyError::WrongIssuer), "{iss}");
        let bad_i = id_with(|c| c["iss"] = iss.clone());
        assert_eq!(check(&a, &bad_i), Err(VerifyError::WrongIssuer), "{iss}");
    }
}

#[test]
fn wrong_audience_is_refused() {
    let (a, _) = good_pair();
    for aud in [json!("OTHER"), json!(["OTHER"]), json!(null), json!(42)] {
        let i = id_with(|c| c["aud"] = aud.clone());
        assert_eq!(check(&a, &i), Err(VerifyError::WrongAudience), "{aud}");
    }
    let i = id_with(|c| {
        c.as_object_mut().unwrap().remove("aud");
    });
    assert_eq!(check(&a, &i), Err(VerifyError::WrongAudience));
}

#[test]
fn access_token_for_another_client_is_refused() {
    let (_, i) = good_pair();
    for cid in [json!("OTHER"), json!(null), json!("dnevnik76")] {
        assert_eq!(
            check(&access_with(|c| c["client_id"] = cid.clone()), &i),
            Err(VerifyError::WrongClientId)
        );
    }
}

#[test]
fn expiry_and_not_before_honour_the_leeway() {
    let (a, i) = good_pair();
    let v = verifier();
    let at = |t: i64| DateTime::from_timestamp(t, 0).unwrap();
    assert!(v.verify_pair(&a, &i, at(NOW + 3600 + 59)).is_ok());
    assert_eq!(
        v.verify_pair(&a, &i, at(NOW + 3600 + 61)),
        Err(VerifyError::Expired)
    );
    assert!(v.verify_pair(&a, &i, at(NOW - 10 - 59)).is_ok());
    assert_eq!(
        v.verify_pair(&a, &i, at(NOW - 10 - 61)),
        Err(VerifyError::NotYetValid)
    );
    // An id_token that expired long ago next to a fresh access token.
    let stale = id_with(|c| c["exp"] = json!(NOW - 3600));
    assert_eq!(check(&a, &stale), Err(VerifyError::Expired));
}

#[test]
fn alg_none_is_refused() {
    let (_, i) = good_pair();
    for alg in ["none", "None", "NONE", ""] {
        let header = b64(json!({"alg": alg, "typ": "JWT"}).to_string().as_bytes());
        let body = b64(access_claims(NOW).to_string().as_bytes());
        for token in [format!("{header}.{body}."), format!("{header}.{body}.AAAA")] {
            assert!(
                matches!(check(&token, &i), Err(VerifyError::AlgorithmNotAllowed(_))),
                "{alg}"
            );
        }
    }
}

#[test]
fn hmac_with_the_public_key_as_secret_is_refused() {
    let (a, _) = good_pair();
    let k = &keys().esia;
    for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
        let forged = jsonwebtoken::encode(
            &Header::new(alg),
            &id_claims(NOW, "PR", true),
            &EncodingKey::from_secret(&k.public_pem()),
        )
        .unwrap();
        assert!(
            matches!(check(&a, &forged), Err(VerifyError::AlgorithmNotAllowed(_))),
            "{alg:?}"
        );
    }
    // Even a verifier configured with HS256 in its list never accepts it.
    let loaded = verify::load_keys(std::slice::from_ref(&k.cert)).unwrap();
    let lax = Verifier::new(
        loaded,
        &[Algorithm::RS256, Algorithm::HS256],
        ISSUER,
        CLIENT_ID,
        Duration::from_secs(60),
    )
    .unwrap();
    let forged = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &access_claims(NOW),
        &EncodingKey::from_secret(&k.public_pem()),
    )
    .unwrap();
    assert!(matches!(
        lax.verify_pair(&forged, &forged, now()),
        Err(VerifyError::AlgorithmNotAllowed(_))
    ));
}

#[test]
fn algorithm_outside_the_allow_list_is_refused() {
    let k = &keys().esia;
    let loaded = verify::load_keys(std::slice::from_ref(&k.cert)).unwrap();
    let strict = Verifier::new(
        loaded,
        &[Algorithm::PS256],
        ISSUER,
        CLIENT_ID,
        Duration::from_secs(60),
    )
    .unwrap();
    let (a, i) = good_pair();
    assert!(matches!(
        strict.verify_pair(&a, &i, now()),
        Err(VerifyError::AlgorithmNotAllowed(_))
    ));
}

#[test]
fn malformed_tokens_are_refused() {
    let (a, i) = good_pair();
    let parts: Vec<&str> = a.split('.').collect();
    let json_header = b64(b"{\"alg\":\"RS256\"}");
    for bad in [
        String::new(),
        ".".into(),
        "..".into(),
        "a.b".into(),
        format!("{a}.extra"),
        format!("!!!.{}.{}", parts[1], parts[2]),
        format!("{}.{}.{}", b64(b"not json"), parts[1], parts[2]),
        format!("{}.{}.{}", b64(b"[1,2]"), parts[1], parts[2]),
        format!("{json_header}.%%%.{}", parts[2]),
        format!("{}.{}.{}", parts[0], b64(b"not json"), parts[2]),
        "é.é.é".into(),
    ] {
        let r = check(&bad, &i);
        assert!(
            matches!(
                r,
                Err(VerifyError::Malformed(_)
                    | VerifyError::AlgorithmNotAllowed(_)
                    | VerifyError::BadSignature)
            ),
            "{bad:?} → {r:?}"
        );
    }
}

#[test]
fn missing_claims_are_refused() {
    let (a, i) = good_pair();
    let drop = |name: &'static str| {
        move |c: &mut Value| {
            c.as_object_mut().unwrap().remove(name);
        }
    };
    assert_eq!(
        check(&access_with(drop("exp")), &i),
        Err(VerifyError::MissingClaim("exp"))
    );
    assert_eq!(
        check(&access_with(drop("urn:esia:sbj_id")), &i),
        Err(VerifyError::MissingClaim("urn:esia:sbj_id"))
    );
    assert_eq!(
        check(&a, &id_with(drop("sub"))),
        Err(VerifyError::MissingClaim("sub"))
    );
    assert_eq!(
        check(&a, &id_with(drop("exp"))),
        Err(VerifyError::MissingClaim("exp"))
    );
    assert_eq!(
        check(&a, &id_with(|c| c["sub"] = json!("abc"))),
        Err(VerifyError::MissingClaim("sub"))
    );
    assert_eq!(
        check(&a, &id_with(|c| c["sub"] = json!(-5))),
        Err(VerifyError::MissingClaim("sub"))
    );
    assert_eq!(
        check(&access_with(|c| c["exp"] = json!("soon")), &i),
        Err(VerifyError::MissingClaim("exp"))
    );
    // Without urn:esia:sbj the account data is just absent (lower level later), not an error.
    let v = check(&a, &id_with(drop("urn:esia:sbj"))).unwrap();
    assert_eq!(v.sbj.is_tru, None);
}

#[test]
fn tokens_naming_different_subjects_are_refused() {
    let (a, _) = good_pair();
    assert_eq!(
        check(&a, &id_with(|c| c["sub"] = json!(OID + 1))),
        Err(VerifyError::SubjectMismatch)
    );
    let inner = id_with(|c| c["urn:esia:sbj"]["urn:esia:sbj:oid"] = json!(OID + 1));
    assert_eq!(check(&a, &inner), Err(VerifyError::SubjectMismatch));
}

#[test]
fn huge_tokens_are_refused_before_parsing() {
    let (a, i) = good_pair();
    let huge = access_with(|c| c["padding"] = json!("x".repeat(20_000)));
    assert_eq!(check(&huge, &i), Err(VerifyError::TooLarge));
    assert_eq!(check(&a, &"a".repeat(1 << 20)), Err(VerifyError::TooLarge));
}

#[test]
fn key_files_must_hold_rsa_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    assert!(matches!(
        verify::load_keys(&[garbage]),
        Err(VerifyError::KeyLoad { .. })
    ));
    assert!(matches!(
        verify::load_keys(&[dir.path().join("missing.pem")]),
        Err(VerifyError::KeyLoad { .. })
    ));
    let ca = esia_gateway::tls::selfsigned::TestCa::generate("ecdsa").unwrap();
    let ec = dir.path().join("ec.pem");
    ca.write_cert(&ec).unwrap();
    assert!(matches!(
        verify::load_keys(&[ec]),
        Err(VerifyError::KeyLoad { .. })
    ));
    assert!(
        Verifier::new(
            vec![],
            &[Algorithm::RS256],
            ISSUER,
            CLIENT_ID,
            Duration::from_secs(60)
        )
        .is_err()
    );
}
