//! What each fuzz target checks, as plain functions over bytes: the `cargo fuzz` targets
//! call them, and `tests/fuzz_corpus.rs` replays every saved input through them on
//! stable on every `cargo test` (so a crash once found stays fixed).
//!
//! Besides "no panic", each states a property the gateway's safety rests on.

use bytes::Bytes;
use chrono::{TimeZone, Utc};
use esia_gateway::diary::jar::Jar;
use esia_gateway::policy::canonical::{CanonConfig, canonicalize};
use esia_gateway::policy::query::PhpQuery;

/// Canonicalisation. The first byte picks the diary model (case, PHP, method); the rest
/// is the request target. Property: what is forwarded decides the same way — the
/// forwarded target, canonicalised again, has the same path and query as the decision.
pub fn canonical(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Ok(target) = std::str::from_utf8(rest) else {
        return;
    };
    let cfg = CanonConfig {
        case_insensitive: flags & 1 != 0,
        value_case_insensitive: flags & 2 != 0,
        php: flags & 4 != 0,
        own_hosts: vec!["dnevnik.example.ru".into()],
        ..CanonConfig::default()
    };
    let method = ["GET", "POST", "HEAD", "OPTIONS"][usize::from(flags >> 6)];
    let Ok(first) = canonicalize(method, target, &cfg) else {
        return;
    };
    if first.path == "*" {
        return;
    }
    let again = canonicalize(method, &first.forward_target, &cfg).unwrap_or_else(|r| {
        panic!(
            "forwarded target {:?} (from {target:?}) is refused: {}",
            first.forward_target,
            r.as_str()
        )
    });
    assert_eq!(again.path, first.path, "path of {target:?}");
    assert_eq!(again.query, first.query, "query of {target:?}");
    assert_eq!(
        again.forward_target, first.forward_target,
        "target of {target:?}"
    );
}

/// PHP parameter parsing of a query string and of urlencoded and multipart bodies. The
/// first byte picks the content type; the rest is the body. Property: a parsed body's
/// query string parses back to the same parameters.
pub fn php_params(data: &[u8]) {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    if let Ok(text) = std::str::from_utf8(rest)
        && let Ok(q) = PhpQuery::parse(text, 1000)
    {
        let back = PhpQuery::parse(&q.to_query_string(), 1000)
            .unwrap_or_else(|r| panic!("{text:?} re-serialised is refused: {}", r.as_str()));
        assert_eq!(back.params(), q.params(), "{text:?}");
    }
    let content_type = match kind % 4 {
        0 => "application/x-www-form-urlencoded",
        1 => "multipart/form-data; boundary=XyZ",
        2 => "multipart/form-data; boundary=\"a b\"",
        _ => "multipart/form-data",
    };
    let _ =
        esia_gateway::diary::form::read_params(Some(content_type), &Bytes::copy_from_slice(rest));
}

/// The diary cookie jar: `Set-Cookie` lines (one per input line) stored, then read back
/// for a path, and the jar sealed and opened again. Property: the jar survives its own
/// serialisation unchanged, and never sends a cookie with a control character.
pub fn set_cookie_jar(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let now = Utc.with_ymd_and_hms(2026, 12, 5, 12, 0, 0).single();
    let Some(now) = now else { return };
    let mut jar = Jar::new();
    let mut lines = text.lines();
    let path = lines.next().unwrap_or("/");
    for line in lines.take(64) {
        jar.store(line, path, now);
    }
    if let Some(header) = jar.header_for(path, now) {
        assert!(!header.chars().any(|c| c.is_control()), "{header:?}");
    }
    let bytes = jar.to_bytes();
    let back = Jar::from_bytes(&bytes).expect("a jar opens what it wrote");
    assert_eq!(back.to_bytes(), bytes);
    assert_eq!(back.header_for(path, now), jar.header_for(path, now));
}

/// ESIA's answers as the relying party reads them: the person and document JSON, the
/// children list, error descriptions. No panic on any input.
pub fn esia_answers(data: &[u8]) {
    let _ = serde_json::from_slice::<esia_gateway::esia::person::Person>(data);
    let _ = esia_gateway::esia::person::parse_docs(data);
    let _ = esia_gateway::esia::kids::parse_kids(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = esia_gateway::esia::errors::EsiaErrorCode::from_description(text);
    }
}

/// ESIA tokens: a JWT checked against a fixed RSA key. Property: nothing unsigned is
/// ever accepted (the fuzzer cannot sign with the key, so every input must be refused).
pub fn esia_token(data: &[u8]) {
    use std::sync::OnceLock;
    static VERIFIER: OnceLock<Option<esia_gateway::esia::verify::Verifier>> = OnceLock::new();
    let verifier = VERIFIER.get_or_init(|| {
        let der = include_bytes!("token-key.der");
        let key = esia_gateway::esia::verify::key_from_cert_der(der, std::path::Path::new("fuzz"))
            .ok()?;
        esia_gateway::esia::verify::Verifier::new(
            vec![key],
            &[jsonwebtoken::Algorithm::RS256],
            "http://esia.gosuslugi.ru/",
            "DNEVNIK76",
            std::time::Duration::from_secs(60),
        )
        .ok()
    });
    let Some(verifier) = verifier else {
        panic!("the fixed token key does not load");
    };
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let now = Utc.with_ymd_and_hms(2026, 12, 5, 12, 0, 0).single();
    let Some(now) = now else { return };
    assert!(
        verifier.verify_common(token, now).is_err(),
        "an unsigned token was accepted: {token:?}"
    );
}

/// The configuration file. No panic; a file that loads is also accepted when loaded
/// again (loading is deterministic).
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let origin = std::path::Path::new("/nonexistent/gateway.toml");
    let first = esia_gateway::config::load::load_str(text, origin);
    let second = esia_gateway::config::load::load_str(text, origin);
    assert_eq!(first.is_ok(), second.is_ok());
}
