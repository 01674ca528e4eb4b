//! Bodies stream through the gateway in both directions, and HTTP/2 browsers reach the
//! HTTP/1.1 diary.

mod support;

use futures_util::StreamExt;
use http::Version;
use support::*;

const SIZE: u64 = 6 * 1024 * 1024 + 123;

#[tokio::test]
async fn a_multi_megabyte_download_streams_to_the_browser_intact() {
    let pki = Pki::new();
    let up = TestUpstream::start().await;
    let gw = start(config(&pki, &up.url())).await;
    let client = client(&pki, &gw);

    let resp = client
        .get(url(&gw, &format!("/big?bytes={SIZE}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut got = 0u64;
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        for (i, b) in chunk.iter().enumerate() {
            assert_eq!(*b, pattern(got + i as u64), "byte {}", got + i as u64);
        }
        got += chunk.len() as u64;
    }
    assert_eq!(got, SIZE);
}

#[tokio::test]
async fn a_multi_megabyte_chunked_upload_reaches_the_diary_whole() {
    let pki = Pki::new();
    let up = TestUpstream::start().await;
    let gw = start(config(&pki, &up.url())).await;
    let client = client(&pki, &gw);

    // A stream without a length: sent chunked (h1) / as DATA frames (h2).
    let chunks = (0..SIZE).step_by(100_000).map(|start| {
        let end = (start + 100_000).min(SIZE);
        Ok::<_, std::io::Error>((start..end).map(pattern).collect::<Vec<u8>>())
    });
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let resp = client
        .post(url(&gw, "/upload"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), format!("ok {SIZE}"));
    let seen = up.last();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.body_len, SIZE);
    assert_eq!(seen.body_sum, pattern_sum(SIZE));
}

#[tokio::test]
async fn a_body_is_echoed_back_while_it_streams() {
    let pki = Pki::new();
    let up = TestUpstream::start().await;
    let gw = start(config(&pki, &up.url())).await;
    let client = client_builder(&pki, &gw).http1_only().build().unwrap();

    let data: Vec<u8> = (0..2_000_000).map(pattern).collect();
    let resp = client
        .post(url(&gw, "/echo"))
        .body(data.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), Version::HTTP_11);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), data.as_slice());
}

#[tokio::test]
async fn an_http2_browser_reaches_the_http11_diary() {
    let pki = Pki::new();
    let up = TestUpstream::start().await;
    let gw = start(config(&pki, &up.url())).await;
    let client = client(&pki, &gw);

    let resp = client
        .get(url(&gw, "/page?module=marks"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.version(), Version::HTTP_2, "ALPN should pick h2");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "ok 0");
    let seen = up.last();
    assert_eq!(seen.version, Version::HTTP_11);
    assert_eq!(seen.uri, "/page?module=marks");
    assert_eq!(
        seen.headers["host"],
        format!("localhost:{}", gw.https_addr().port())
    );
}

#[tokio::test]
async fn keep_alive_connections_to_the_diary_are_reused() {
    let pki = Pki::new();
    let up = TestUpstream::start().await;
    let gw = start(config(&pki, &up.url())).await;
    let client = client(&pki, &gw);
    for _ in 0..5 {
        let resp = client.get(url(&gw, "/")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        resp.bytes().await.unwrap();
    }
    let seen = up.seen();
    assert_eq!(seen.len(), 5);
    assert!(
        seen.iter().all(|s| s.peer == seen[0].peer),
        "all requests over one pooled connection: {:?}",
        seen.iter().map(|s| s.peer).collect::<Vec<_>>()
    );
}
