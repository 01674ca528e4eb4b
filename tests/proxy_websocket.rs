//! Websockets pass through the gateway: the handshake is proxied, 101 comes back, and
//! frames flow both ways over the TLS connection.

mod support;

use futures_util::{SinkExt, StreamExt};
use support::*;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn websocket_echo_through_the_proxy_over_tls() {
    let pki = Pki::new();
    let ws_up = ws_echo_upstream().await;
    let upstream = url::Url::parse(&format!("http://{ws_up}")).unwrap();
    let gw = start(config(&pki, &upstream)).await;

    let tls = tls_stream(&pki, gw.https_addr()).await;
    let target = format!("wss://localhost:{}/ws/chat", gw.https_addr().port());
    let (mut ws, resp) = tokio_tungstenite::client_async(target, tls).await.unwrap();
    assert_eq!(resp.status(), 101);

    for text in ["привет", "второе сообщение"] {
        ws.send(Message::Text(text.into())).await.unwrap();
        let echoed = ws.next().await.unwrap().unwrap();
        assert_eq!(echoed, Message::Text(text.into()));
    }
    let blob: Vec<u8> = (0..200_000).map(pattern).collect();
    ws.send(Message::Binary(blob.clone())).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::Binary(blob));
    ws.close(None).await.unwrap();
}

#[tokio::test]
async fn an_upgrade_refused_by_the_diary_is_an_ordinary_response() {
    let pki = Pki::new();
    let up = TestUpstream::start().await;
    let gw = start(config(&pki, &up.url())).await;
    let tls = tls_stream(&pki, gw.https_addr()).await;
    let target = format!("wss://localhost:{}/not-a-socket", gw.https_addr().port());
    let err = tokio_tungstenite::client_async(target, tls)
        .await
        .unwrap_err();
    match err {
        tokio_tungstenite::tungstenite::Error::Http(resp) => assert_eq!(resp.status(), 200),
        other => panic!("expected an HTTP answer, got {other:?}"),
    }
    assert_eq!(up.last().headers["upgrade"], "websocket");
}
