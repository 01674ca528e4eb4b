//! The admin listener: liveness, readiness that follows the diary, and metrics that
//! count what the public listener served.

mod support;

use std::time::Duration;

use support::*;

fn admin(gw: &esia_gateway::server::RunningGateway, path: &str) -> String {
    format!("http://{}{path}", gw.admin_addr().unwrap())
}

async fn get(url: String) -> (u16, String) {
    let resp = reqwest::get(url).await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test]
async fn healthz_answers_ok() {
    let pki = Pki::new();
    let gw = start(config(&pki, &dead_url().await)).await;
    assert_eq!(get(admin(&gw, "/healthz")).await, (200, "ok\n".into()));
    assert_eq!(get(admin(&gw, "/nope")).await.0, 404);
    let post = reqwest::Client::new()
        .post(admin(&gw, "/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 405);
}

#[tokio::test]
async fn metrics_count_the_requests_made() {
    let pki = Pki::new();
    let up = TestUpstream::start().await;
    let mut cfg = config(&pki, &up.url());
    cfg.limits.max_body_bytes = 10;
    let gw = start(cfg).await;
    let client = client(&pki, &gw);
    for _ in 0..3 {
        let r = client.get(url(&gw, "/")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        r.bytes().await.unwrap();
    }
    let r = client
        .post(url(&gw, "/"))
        .body("far more than ten bytes")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    r.bytes().await.unwrap();

    // Requests are counted when their body is done on the server side: poll briefly.
    let mut text = String::new();
    for _ in 0..100 {
        text = get(admin(&gw, "/metrics")).await.1;
        if text.contains(r#"esia_gateway_requests_total{class="2xx"} 3"#)
            && text.contains(r#"esia_gateway_requests_total{class="4xx"} 1"#)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        text.contains(r#"esia_gateway_requests_total{class="2xx"} 3"#),
        "{text}"
    );
    assert!(
        text.contains(r#"esia_gateway_requests_total{class="4xx"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("esia_gateway_request_duration_seconds_count 4"),
        "{text}"
    );
    assert!(text.contains("esia_gateway_open_connections 1"), "{text}");
    assert!(
        text.contains("# TYPE esia_gateway_upstream_errors counter"),
        "{text}"
    );

    // The admin endpoints do not exist on the public port: that path goes to the diary.
    let r = client.get(url(&gw, "/metrics")).send().await.unwrap();
    assert!(!r.text().await.unwrap().contains("esia_gateway_"));
    assert_eq!(up.last().uri, "/metrics");
}

#[tokio::test]
async fn upstream_errors_are_counted_by_kind() {
    let pki = Pki::new();
    let gw = start(config(&pki, &dead_url().await)).await;
    let r = client(&pki, &gw).get(url(&gw, "/")).send().await.unwrap();
    assert_eq!(r.status(), 502);
    let text = get(admin(&gw, "/metrics")).await.1;
    assert!(
        text.contains(r#"esia_gateway_upstream_errors_total{kind="connect"} 1"#),
        "{text}"
    );
}

#[tokio::test]
async fn readyz_follows_the_upstream() {
    let pki = Pki::new();
    // An upstream we can switch off: a listener owned by a task we abort.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepting = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            held.push(tcp);
        }
    });
    let upstream = url::Url::parse(&format!("http://{addr}")).unwrap();
    let gw = start(config(&pki, &upstream)).await;
    assert_eq!(get(admin(&gw, "/readyz")).await, (200, "ready\n".into()));

    accepting.abort();
    let mut last = (0, String::new());
    for _ in 0..100 {
        last = get(admin(&gw, "/readyz")).await;
        if last.0 == 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(last, (503, "not ready: upstream\n".into()));
}
