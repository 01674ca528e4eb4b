//! SIGHUP (here: `reload_tls()`) swaps the certificate for new connections without
//! dropping open ones; a bad certificate on reload keeps the old one.

mod support;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use support::*;

/// An HTTP/1.1 keep-alive connection to the gateway and the certificate it was shown.
async fn connect(pki: &Pki, addr: std::net::SocketAddr) -> (SendRequest<Empty<Bytes>>, Vec<u8>) {
    let tls = tls_stream(pki, addr).await;
    let cert = tls.get_ref().1.peer_certificates().unwrap()[0].to_vec();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    (sender, cert)
}

async fn get(sender: &mut SendRequest<Empty<Bytes>>, path: &str) -> (u16, String) {
    sender.ready().await.unwrap();
    let req = Request::get(path)
        .header("host", "localhost")
        .body(Empty::new())
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn reload_swaps_the_certificate_and_open_connections_keep_working() {
    let pki = Pki::new();
    let up = TestUpstream::start().await;
    let gw = start(config(&pki, &up.url())).await;
    let old = pki.current_leaf_der();

    let (mut open, seen_before) = connect(&pki, gw.https_addr()).await;
    assert_eq!(seen_before, old);
    assert_eq!(get(&mut open, "/one").await, (200, "ok 0".into()));

    let new = pki.rotate_leaf();
    assert_ne!(new, old);
    gw.reload_tls().unwrap();

    let (mut fresh, seen_after) = connect(&pki, gw.https_addr()).await;
    assert_eq!(seen_after, new, "a new connection sees the new certificate");
    assert_eq!(get(&mut fresh, "/two").await.0, 200);

    // The connection opened before the reload is still alive and serving.
    assert_eq!(get(&mut open, "/three").await, (200, "ok 0".into()));
    let peers: Vec<_> = up.seen().iter().map(|s| s.uri.clone()).collect();
    assert_eq!(peers, ["/one", "/two", "/three"]);
}

#[tokio::test]
async fn a_bad_certificate_on_reload_keeps_the_old_one() {
    let pki = Pki::new();
    let up = TestUpstream::start().await;
    let gw = start(config(&pki, &up.url())).await;
    let good_cert = std::fs::read(&pki.files.cert).unwrap();
    let good_key = std::fs::read(&pki.files.key).unwrap();
    let old = pki.current_leaf_der();

    // Not PEM at all.
    std::fs::write(&pki.files.cert, "garbage").unwrap();
    assert!(gw.reload_tls().is_err());
    // A valid certificate whose key is not the one on disk.
    let other = pki.ca.leaf(&["localhost"]).unwrap();
    std::fs::write(&pki.files.cert, other.cert_pem).unwrap();
    assert!(gw.reload_tls().is_err());
    // An empty key file.
    std::fs::write(&pki.files.cert, &good_cert).unwrap();
    std::fs::write(&pki.files.key, "").unwrap();
    assert!(gw.reload_tls().is_err());
    // Files gone.
    std::fs::remove_file(&pki.files.cert).unwrap();
    assert!(gw.reload_tls().is_err());

    let (mut conn, seen) = connect(&pki, gw.https_addr()).await;
    assert_eq!(seen, old, "still the certificate loaded at start");
    assert_eq!(get(&mut conn, "/").await.0, 200);

    // Fixing the files and reloading again works.
    std::fs::write(&pki.files.cert, &good_cert).unwrap();
    std::fs::write(&pki.files.key, &good_key).unwrap();
    gw.reload_tls().unwrap();
}

#[tokio::test]
async fn only_tls12_and_tls13_are_spoken_and_failures_are_counted() {
    let pki = Pki::new();
    let up = TestUpstream::start().await;
    let gw = start(config(&pki, &up.url())).await;

    // A client that does not trust our CA aborts the handshake.
    let stranger = Pki::new();
    let tcp = tokio::net::TcpStream::connect(gw.https_addr())
        .await
        .unwrap();
    let connector = tokio_rustls::TlsConnector::from(stranger.rustls_client(&[b"h2"]));
    assert!(
        connector
            .connect("localhost".try_into().unwrap(), tcp)
            .await
            .is_err()
    );

    // Plain HTTP on the TLS port.
    let client = reqwest::Client::new();
    let plain = client
        .get(format!("http://{}/", gw.https_addr()))
        .send()
        .await;
    assert!(plain.is_err() || plain.unwrap().status() != 200);

    // A TLS 1.2-only client still gets in.
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca.cert_der().into()).unwrap();
    let tls12 = rustls::ClientConfig::builder_with_provider(esia_gateway::tls::provider())
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(gw.https_addr())
        .await
        .unwrap();
    let s = tokio_rustls::TlsConnector::from(std::sync::Arc::new(tls12))
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .unwrap();
    assert_eq!(
        s.get_ref().1.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );

    // Failures are counted once the server side has seen them.
    let mut failures = 0;
    for _ in 0..50 {
        let text = gw.metrics().render();
        // Summed over the causes (an old protocol version is `incompatible`).
        failures = text
            .lines()
            .filter(|l| l.starts_with("esia_gateway_tls_handshake_failures_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.trim().parse::<u64>().ok())
            .sum();
        if failures >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(failures >= 2, "failures counted: {failures}");
}
