//! `esia-gateway demo` as a newcomer meets it: the three servers come up on loopback
//! with generated certificates, and the diary is served through the gateway over HTTPS.

use std::net::SocketAddr;

use esia_gateway::demo::{DemoOptions, start};

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

#[tokio::test]
async fn demo_serves_the_diary_through_the_gateway_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let opts = DemoOptions {
        https: free_addr(),
        admin: free_addr(),
        at: None,
        data_dir: dir.path().join("data"),
        certs_dir: dir.path().join("certs"),
    };
    let demo = start(&opts).await.unwrap();
    assert!(
        demo.config_path.exists(),
        "the demo writes the config it runs"
    );
    let ca = std::fs::read(opts.certs_dir.join("demo-ca.pem")).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .resolve("localhost", demo.gateway.https_addr())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let login = client
        .get(format!("{}login", demo.url))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let page = login.text().await.unwrap();
    assert!(page.contains("Региональный Интернет Дневник"), "{page}");

    let metrics = reqwest::get(format!("http://{}/metrics", opts.admin))
        .await
        .unwrap();
    assert!(
        metrics
            .text()
            .await
            .unwrap()
            .contains("esia_gateway_requests_total")
    );

    // No private key of the demo is world-readable.
    for key in ["gateway.key", "esia-mock.key", "rp-demo.key"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(opts.certs_dir.join(key))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{key} has mode {mode:o}");
    }
    demo.shutdown().await;
}

/// `esia-gateway demo --data-dir D` (the real binary) writes its keys under `D/certs`,
/// never into `./certs` of the directory it was started in: two demos side by side
/// keep their own keys.
#[tokio::test]
async fn demo_binary_keeps_its_certificates_in_its_data_dir() {
    let cwd = tempfile::tempdir().unwrap();
    let admin = free_addr();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_esia-gateway"))
        .args(["demo", "--data-dir", "one", "--https"])
        .arg(free_addr().to_string())
        .arg("--admin")
        .arg(admin.to_string())
        .current_dir(cwd.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut up = false;
    for _ in 0..300 {
        if reqwest::get(format!("http://{admin}/healthz"))
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let _ = child.kill().await;
    assert!(up, "the demo did not come up");
    assert!(cwd.path().join("one/certs/demo-ca.pem").exists());
    assert!(cwd.path().join("one/certs/gateway.key").exists());
    assert!(
        !cwd.path().join("certs").exists(),
        "the demo wrote into ./certs"
    );
}
