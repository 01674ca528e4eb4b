//! Issue 10: `[limits] max_connections` and `max_connections_per_client` on real TLS
//! sockets. A connection past a cap gets one Russian 503 page with Retry-After and is
//! closed; a closed connection gives its place back; trusted forwarders have no
//! per-client cap; refusals are counted in /metrics.

mod support;

use std::time::Duration;

use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type Stream = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

/// One keep-alive request; the head and body of the answer as text.
async fn ask(s: &mut Stream, path: &str) -> String {
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = Vec::new();
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
            .await
            .expect("answer in time")
            .unwrap_or(0);
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got);
        if n == 0 || complete(&text) {
            return text.into_owned();
        }
    }
}

/// Whether a whole HTTP/1.1 response with Content-Length has arrived.
fn complete(text: &str) -> bool {
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    body.len() >= len
}

async fn closed(s: &mut Stream) -> bool {
    let mut buf = [0u8; 16];
    matches!(
        tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

#[tokio::test]
async fn a_client_past_its_cap_is_told_and_closed_others_are_served() {
    let pki = Pki::new();
    let up = TestUpstream::start().await;
    let mut cfg = config(&pki, &up.url());
    cfg.limits.max_connections_per_client = 2;
    let gw = start(cfg).await;

    let mut first = tls_stream(&pki, gw.https_addr()).await;
    let mut second = tls_stream(&pki, gw.https_addr()).await;
    assert!(ask(&mut first, "/a").await.starts_with("HTTP/1.1 200"));
    assert!(ask(&mut second, "/b").await.starts_with("HTTP/1.1 200"));

    let mut third = tls_stream(&pki, gw.https_addr()).await;
    let refused = ask(&mut third, "/c").await;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    let lower = refused.to_ascii_lowercase();
    assert!(lower.contains("retry-after: 10"), "{refused}");
    assert!(lower.contains("connection: close"), "{refused}");
    assert!(refused.contains("Сервер перегружен"), "{refused}");
    assert!(closed(&mut third).await, "the refused connection is closed");
    assert_eq!(
        up.seen().len(),
        2,
        "the refused request never reached the diary"
    );

    // The two served connections keep working; closing one frees a place.
    assert!(ask(&mut first, "/d").await.starts_with("HTTP/1.1 200"));
    drop(second);
    let mut again = None;
    for _ in 0..50 {
        let mut s = tls_stream(&pki, gw.https_addr()).await;
        if ask(&mut s, "/e").await.starts_with("HTTP/1.1 200") {
            again = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(again.is_some(), "a place came back after a close");

    let metrics = gw.metrics().render();
    assert!(
        metrics.contains("connections_refused_total{reason=\"max_connections_per_client\"}"),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_total_cap_holds_for_trusted_forwarders_too() {
    let pki = Pki::new();
    let up = TestUpstream::start().await;
    let mut cfg = config(&pki, &up.url());
    // The load balancer (here: loopback) has no per-client cap, only the total.
    cfg.forwarding.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    cfg.limits.max_connections_per_client = 1;
    cfg.limits.max_connections = 3;
    let gw = start(cfg).await;

    let mut open = Vec::new();
    for i in 0..3 {
        let mut s = tls_stream(&pki, gw.https_addr()).await;
        let answer = ask(&mut s, "/x").await;
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "connection {i}: {answer}"
        );
        open.push(s);
    }
    let mut fourth = tls_stream(&pki, gw.https_addr()).await;
    let refused = ask(&mut fourth, "/y").await;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    let metrics = gw.metrics().render();
    assert!(
        metrics.contains("connections_refused_total{reason=\"max_connections\"} 1"),
        "{metrics}"
    );
}
