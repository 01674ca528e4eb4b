//! An https diary: the gateway trusts the configured extra CA bundle (regional services
//! often use the Минцифры root, absent from system stores) and nothing it does not know.

mod support;

use std::sync::Arc;

use esia_gateway::tls::selfsigned::TestCa;
use support::*;

/// A diary behind TLS whose certificate comes from a CA of its own; returns the CA's
/// PEM path too.
async fn tls_diary(dir: &std::path::Path) -> (TestUpstream, std::path::PathBuf) {
    let ca = TestCa::generate("Региональный УЦ (test)").unwrap();
    let files = ca
        .leaf(&["127.0.0.1"])
        .unwrap()
        .write(dir, "diary")
        .unwrap();
    let server = esia_gateway::tls::server_config_from_files(&files.cert, &files.key).unwrap();
    let ca_path = dir.join("regional-ca.pem");
    ca.write_cert(&ca_path).unwrap();
    (TestUpstream::start_tls(Arc::new(server)).await, ca_path)
}

#[tokio::test]
async fn proxies_to_an_https_diary_trusted_through_the_extra_ca_bundle() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let (up, ca_path) = tls_diary(dir.path()).await;
    assert_eq!(up.url().scheme(), "https");
    let mut cfg = config(&pki, &up.url());
    cfg.tls.outgoing_ca = Some(ca_path);
    let gw = start(cfg).await;

    let client = client(&pki, &gw);
    for _ in 0..3 {
        let resp = client
            .post(url(&gw, "/form"))
            .body("login=ivanov")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.text().await.unwrap(), "ok 12");
    }
    let seen = up.seen();
    assert_eq!(seen.len(), 3);
    assert!(
        seen.iter().all(|s| s.peer == seen[0].peer),
        "TLS connection pooled"
    );

    // The diary's own-origin redirects are rewritten for https diaries too.
    let resp = client.get(url(&gw, "/redirect")).send().await.unwrap();
    assert_eq!(
        resp.headers()["location"],
        format!(
            "https://localhost:{}/after?x=1#frag",
            gw.https_addr().port()
        )
    );

    let ready = reqwest::get(format!("http://{}/readyz", gw.admin_addr().unwrap()))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200, "readiness does the TLS handshake too");
}

#[tokio::test]
async fn an_https_diary_with_an_unknown_ca_is_a_502_and_not_ready() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let (up, _ca_path) = tls_diary(dir.path()).await;
    let gw = start(config(&pki, &up.url())).await;

    let resp = client(&pki, &gw).get(url(&gw, "/")).send().await.unwrap();
    assert_eq!(resp.status(), 502);
    assert!(up.seen().is_empty());
    let ready = reqwest::get(format!("http://{}/readyz", gw.admin_addr().unwrap()))
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
}
