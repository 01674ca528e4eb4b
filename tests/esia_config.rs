//! The `[esia]` config section: defaults, rejected unknown keys, and every problem
//! reported at once with its key path and a hint.

use std::time::Duration;

use esia_gateway::esia::config::DEFAULT_SCOPE;
use esia_gateway::esia::{EsiaFile, SignerConfig};
use jsonwebtoken::Algorithm;

const MINIMAL: &str = r#"
    client_id = "DNEVNIK"
    redirect_uri = "https://dnevnik.example.ru/esia/callback"
    certificate_hash = "AB0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"
    token_keys = ["/etc/esia/esia.pem"]
    signer = { kind = "command", program = "/usr/bin/openssl", args = ["dgst"] }
"#;

fn parse(extra: &str) -> Result<EsiaFile, toml::de::Error> {
    toml::from_str(&format!("{MINIMAL}\n{extra}"))
}

fn problems(extra: &str) -> Vec<(String, String, String)> {
    parse(extra).unwrap().validate().unwrap_err()
}

#[test]
fn defaults_fill_in() {
    let c = parse("").unwrap().validate().unwrap();
    assert_eq!(c.base_url.as_str(), "https://esia.gosuslugi.ru/");
    assert_eq!(
        c.ac_url.as_str(),
        "https://esia.gosuslugi.ru/aas/oauth2/v2/ac"
    );
    assert_eq!(
        c.te_url.as_str(),
        "https://esia.gosuslugi.ru/aas/oauth2/v3/te"
    );
    assert_eq!(
        c.logout_url.as_str(),
        "https://esia.gosuslugi.ru/idp/ext/Logout"
    );
    assert_eq!(c.person_url.as_str(), "https://esia.gosuslugi.ru/rs/prns/");
    assert_eq!(c.scope, DEFAULT_SCOPE);
    assert_eq!(c.scope_org, "");
    assert_eq!(c.access_type, "online");
    assert_eq!(c.expected_issuer, "http://esia.gosuslugi.ru/");
    assert_eq!(&c.certificate_hash[..2], "ab", "sent lowercase");
    assert_eq!(c.algorithms, vec![Algorithm::RS256]);
    assert_eq!(c.leeway, Duration::from_secs(60));
    assert!(
        matches!(c.signer, SignerConfig::Command { timeout, .. } if timeout == Duration::from_secs(10))
    );
}

#[test]
fn test_contour_and_custom_paths() {
    let c = parse(
        r#"base_url = "https://esia-portal1.test.gosuslugi.ru"
           person_path = "/rs/prns/"
           scope = "  openid   fullname "
           algorithms = ["RS256", "PS256"]
           leeway_secs = 0"#,
    )
    .unwrap()
    .validate()
    .unwrap();
    assert_eq!(
        c.person_url.as_str(),
        "https://esia-portal1.test.gosuslugi.ru/rs/prns/"
    );
    assert_eq!(c.scope, "openid fullname");
    assert_eq!(c.algorithms, vec![Algorithm::RS256, Algorithm::PS256]);
    assert_eq!(c.leeway, Duration::ZERO);
}

#[test]
fn unknown_keys_are_rejected() {
    for extra in [
        "client_secret = \"x\"",
        "[timeouts]\nconnect = 5",
        "ac_url = \"https://x\"",
    ] {
        assert!(parse(extra).is_err(), "{extra}");
    }
    assert!(toml::from_str::<EsiaFile>("signer = { kind = \"demo\", keyfile = \"x\" }").is_err());
}

#[test]
fn every_problem_is_reported_at_once() {
    let f = EsiaFile {
        base_url: Some("http://esia.example".into()),
        certificate_hash: Some("xyz".into()),
        algorithms: Some(vec!["HS256".into(), "none".into(), "ES256".into()]),
        access_type: Some("forever".into()),
        ..EsiaFile::default()
    };
    let errs = f.validate().unwrap_err();
    let keys: Vec<&str> = errs.iter().map(|e| e.0.as_str()).collect();
    for k in [
        "esia.base_url",
        "esia.client_id",
        "esia.redirect_uri",
        "esia.certificate_hash",
        "esia.access_type",
        "esia.signer",
        "esia.token_keys",
        "esia.algorithms",
    ] {
        assert!(keys.contains(&k), "{k} missing in {keys:?}");
    }
    assert_eq!(
        keys.iter().filter(|k| **k == "esia.algorithms").count(),
        4,
        "three bad names and the empty list"
    );
    assert!(errs.iter().all(|e| !e.2.is_empty()), "{errs:?}");
}

#[test]
fn bad_values_name_their_key() {
    for (extra, key) in [
        ("base_url = \"not a url\"", "esia.base_url"),
        ("base_url = \"https://esia.example/#frag\"", "esia.base_url"),
        ("ac_path = \"aas/oauth2/v2/ac\"", "esia.ac_path"),
        ("te_path = \"/../te\"", "esia.te_path"),
        ("logout_path = \"/idp?x=1\"", "esia.logout_path"),
        ("scope = \"fullname\"", "esia.scope"),
        ("leeway_secs = 3600", "esia.leeway_secs"),
        (
            "timeouts = { connect_secs = 0 }",
            "esia.timeouts.connect_secs",
        ),
        (
            "timeouts = { request_secs = 100000 }",
            "esia.timeouts.request_secs",
        ),
    ] {
        let errs = problems(extra);
        assert!(errs.iter().any(|e| e.0 == key), "{extra}: {errs:?}");
    }
    let redirect = "client_id = \"X\"\nredirect_uri = \"http://dnevnik.example.ru/cb\"\ncertificate_hash = \"00\"";
    let errs = toml::from_str::<EsiaFile>(redirect)
        .unwrap()
        .validate()
        .unwrap_err();
    assert!(errs.iter().any(|e| e.0 == "esia.redirect_uri"), "{errs:?}");
}

#[test]
fn signer_sections_are_checked() {
    let base = MINIMAL.replace(
        "signer = { kind = \"command\", program = \"/usr/bin/openssl\", args = [\"dgst\"] }",
        "",
    );
    let with = |signer: &str| {
        toml::from_str::<EsiaFile>(&format!("{base}\nsigner = {signer}"))
            .unwrap()
            .validate()
    };
    assert!(matches!(
        with("{ kind = \"demo\", key = \"/k.pem\" }")
            .unwrap()
            .signer,
        SignerConfig::Demo { .. }
    ));
    let c = with("{ kind = \"command\", program = \"/opt/cprocsp/bin/csptest\", reverse_bytes = true, output_base64 = true, timeout_secs = 3 }").unwrap();
    assert!(matches!(
        c.signer,
        SignerConfig::Command {
            reverse_bytes: true,
            output_base64: true,
            ..
        }
    ));
    for (signer, key) in [
        ("{ kind = \"demo\" }", "esia.signer.key"),
        ("{ kind = \"command\" }", "esia.signer.program"),
        ("{ kind = \"hsm\" }", "esia.signer.kind"),
        ("{ program = \"/bin/x\" }", "esia.signer.kind"),
        (
            "{ kind = \"command\", program = \"/bin/x\", timeout_secs = 0 }",
            "esia.signer.timeout_secs",
        ),
    ] {
        let errs = with(signer).unwrap_err();
        assert!(errs.iter().any(|e| e.0 == key), "{signer}: {errs:?}");
    }
}

#[test]
fn shipped_example_is_valid() {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Wrapper {
        esia: EsiaFile,
    }
    let w: Wrapper = toml::from_str(include_str!("../src/esia/example.toml")).unwrap();
    let c = w.esia.validate().unwrap();
    assert_eq!(c.client_id, "DNEVNIK76");
    assert!(matches!(c.signer, SignerConfig::Command { .. }));
}
