//! Costs an anonymous client can impose (issue 10), on real sockets: starting ESIA
//! logins is limited per client address (the browser's own behind a trusted load
//! balancer), with a Russian 429 page and Retry-After; other clients are unaffected.

mod link_support;
mod store_support;
mod support;

use http::StatusCode;
use link_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn esia_login_starts_are_limited_per_client_address() {
    let stand = Stand::start(Options {
        trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
        ..Options::default()
    })
    .await;
    let script = stand.browser_behind(Some("203.0.113.7"));
    for i in 0..30 {
        let r = script.get(&stand.url("/esia/login?return=/marks")).await;
        assert_eq!(r.status(), StatusCode::FOUND, "start {i}");
    }
    let refused = script.get(&stand.url("/esia/login?return=/marks")).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let html = refused.text().await.unwrap();
    assert!(html.contains("Слишком много попыток входа"), "{html}");
    assert!(html.contains("esia-login-rate-limited"), "{html}");

    // Another pupil behind the same load balancer is not affected…
    let neighbour = stand.browser_behind(Some("203.0.113.8"));
    let r = neighbour.get(&stand.url("/esia/login?return=/marks")).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    // …and the start page (no flow, no signature) stays open to the limited one.
    let r = script.get(&stand.url("/esia/start")).await;
    assert_eq!(r.status(), StatusCode::OK);
}
