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
    assert_eq!(last.0, 503);
    assert!(last.1.starts_with("not ready: upstream: "), "{}", last.1);
}

/// Issue 13: readiness checks the store and ESIA's host too, with one line per failure.
#[tokio::test]
async fn readyz_names_every_failed_check() {
    use esia_gateway::admin::Admin;
    use esia_gateway::metrics::Metrics;
    use esia_gateway::upstream::Upstream;
    use std::sync::Arc;

    let pki = Pki::new();
    let up = TestUpstream::start().await;
    let cfg = config(&pki, &up.url());
    let metrics = Arc::new(Metrics::new());
    let upstream = Upstream::new(&cfg, metrics.clone()).unwrap();
    let shutdown = esia_gateway::shutdown::Shutdown::new();
    let dir = tempfile::tempdir().unwrap();
    let store: esia_gateway::store::SharedStore = Arc::new(
        esia_gateway::store::sqlite::SqliteStore::open(&dir.path().join("s.db"))
            .await
            .unwrap(),
    );
    let dead = dead_url().await;
    let dead = format!("{}:{}", dead.host_str().unwrap(), dead.port().unwrap());
    let req = |p: &str| http::Request::get(p).body(()).unwrap();
    let body = |r: http::Response<esia_gateway::body::Body>| async move {
        use http_body_util::BodyExt;
        let status = r.status().as_u16();
        let b = r.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(b.to_vec()).unwrap())
    };

    let ready = Admin::new(metrics.clone(), upstream.clone(), shutdown.signal())
        .with_checks(Some(store.clone()), Some(up.url().authority().to_owned()));
    ready.set_listeners_bound();
    assert_eq!(
        body(ready.handle(&req("/readyz")).await).await,
        (200, "ready\n".into())
    );

    let esia_down = Admin::new(metrics, upstream, shutdown.signal())
        .with_checks(Some(store), Some(dead.clone()));
    esia_down.set_listeners_bound();
    let (status, text) = body(esia_down.handle(&req("/readyz")).await).await;
    assert_eq!(status, 503);
    assert!(
        text.starts_with(&format!("not ready: esia: {dead}: ")),
        "{text}"
    );
}

/// Issue 15: a plain-HTTP request on the TLS port, a client that hangs up, and a client
/// that refuses our certificate are three different causes, not one failure count.
#[tokio::test]
async fn tls_handshake_failures_are_counted_by_cause() {
    use tokio::io::AsyncWriteExt;
    let pki = Pki::new();
    let up = TestUpstream::start().await;
    let gw = start(config(&pki, &up.url())).await;
    let addr = gw.https_addr();

    let mut plain = tokio::net::TcpStream::connect(addr).await.unwrap();
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut sink = Vec::new();
    let _ = tokio::io::AsyncReadExt::read_to_end(&mut plain, &mut sink).await;

    drop(tokio::net::TcpStream::connect(addr).await.unwrap());

    // A client without our CA: it aborts the handshake with an alert.
    let stranger = reqwest::Client::builder()
        .resolve("localhost", addr)
        .build()
        .unwrap();
    assert!(stranger.get(url(&gw, "/")).send().await.is_err());

    let mut text = String::new();
    for _ in 0..100 {
        text = get(admin(&gw, "/metrics")).await.1;
        if ["not-tls", "closed", "client-alert"]
            .iter()
            .all(|c| text.contains(&format!("tls_handshake_failures_total{{cause=\"{c}\"}} 1")))
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{text}");
}
