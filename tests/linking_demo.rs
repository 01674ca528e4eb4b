//! Issue 5's demo promise, through `esia-gateway demo`'s own start function (the real
//! generated `gateway.toml`, loaded like `run` loads it): log in as `confirmed`, link to
//! `parent`/`demo`, see the grades, log out, log in again without the password.

mod link_support;
mod store_support;
mod support;

use std::time::Duration;

use esia_gateway::demo::{self, DemoOptions};
use esia_gateway::standins::esia_mock;
use http::StatusCode;
use link_support::{Browser, PARENTS_CHILD, field_value, location};

/// A port the OS just handed out (the demo's public URL must name its port up front).
fn free_port() -> u16 {
    support::free_addr().port()
}

async fn esia_login(b: &Browser, base: &str, persona: &str) -> reqwest::Response {
    let resp = b.get(&format!("{base}/esia/login?return=/marks")).await;
    let authorize = location(&resp);
    let resp = b.get(&authorize).await;
    let callback = if resp.status() == StatusCode::FOUND {
        location(&resp)
    } else {
        let html = resp.text().await.unwrap();
        let pending = esia_mock::pending_from_login_page(&html).unwrap();
        let origin = authorize.split("/aas/").next().unwrap().to_owned();
        let resp = b
            .post(
                &format!("{origin}{}", esia_mock::LOGIN_PATH),
                &[("pending", pending.as_str()), ("persona", persona)],
            )
            .await;
        location(&resp)
    };
    b.get(&callback).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_link_once_then_straight_to_the_grades() {
    support::init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let opts = DemoOptions {
        https: format!("127.0.0.1:{}", free_port()).parse().unwrap(),
        admin: "127.0.0.1:0".parse().unwrap(),
        at: None,
        data_dir: dir.path().join("data"),
        certs_dir: dir.path().join("certs"),
    };
    let running = demo::start(&opts).await.unwrap();
    let ca = std::fs::read(opts.certs_dir.join("demo-ca.pem")).unwrap();
    let addr = running.gateway.https_addr();
    let base = format!("https://localhost:{}", addr.port());
    let browser = || {
        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .resolve("localhost", addr)
            .build()
            .unwrap();
        Browser::new(client, addr.port())
    };
    let b = browser();
    let cb = esia_login(&b, &base, "confirmed").await;
    assert_eq!(location(&cb), "/marks");
    let resp = b.get(&format!("{base}/marks")).await;
    assert_eq!(location(&resp), "/esia/link?return=%2Fmarks");
    let html = b
        .get(&format!("{base}/esia/link?return=/marks"))
        .await
        .text()
        .await
        .unwrap();
    let csrf = field_value(&html, "csrf").unwrap();
    let resp = b
        .post(
            &format!("{base}/esia/link"),
            &[
                ("csrf", csrf.as_str()),
                ("return", "/marks"),
                ("login", "parent"),
                ("password", "demo"),
            ],
        )
        .await;
    assert_eq!(location(&resp), "/marks");
    let marks = b.get(&format!("{base}/marks")).await.text().await.unwrap();
    assert!(marks.contains("<h1 id=\"page-marks\">") && marks.contains(PARENTS_CHILD));

    // Log out (CSRF-protected form), then through ESIA's logout.
    let html = b
        .get(&format!("{base}/esia/logout"))
        .await
        .text()
        .await
        .unwrap();
    let csrf = field_value(&html, "csrf").unwrap();
    let resp = b
        .post(&format!("{base}/esia/logout"), &[("csrf", csrf.as_str())])
        .await;
    let esia_logout = location(&resp);
    let back = b.get(&esia_logout).await;
    assert!(location(&back).ends_with("/esia/start"));
    // Signed out, after the demo calendar's cutover: grades need an ESIA login again.
    let resp = b.get(&format!("{base}/marks")).await;
    assert!(
        location(&resp).starts_with("/esia/start"),
        "signed out: {}",
        location(&resp)
    );

    // Again: no diary password, straight to the grades.
    let cb = esia_login(&b, &base, "confirmed").await;
    assert_eq!(location(&cb), "/marks");
    let resp = b.get(&format!("{base}/marks")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains(PARENTS_CHILD));
    b.assert_only_gateway_cookies();

    // Operators count what happened (issue 15): two ESIA logins, one link, one logout.
    let admin = running.gateway.admin_addr().unwrap();
    let metrics = support::fetch_text(&format!("http://{admin}/metrics")).await;
    for line in [
        r#"esia_gateway_auth_events_total{event="login"} 2"#,
        r#"esia_gateway_auth_events_total{event="link"} 1"#,
        r#"esia_gateway_auth_events_total{event="logout"} 1"#,
        "esia_gateway_session_store_queries_total",
    ] {
        assert!(metrics.contains(line), "no {line} in\n{metrics}");
    }
    running.shutdown().await;
}
