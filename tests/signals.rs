//! The real binary under real signals: `esia-gateway run` drains an in-flight request on
//! SIGTERM and exits 0, and swaps its certificate on SIGHUP without a restart.

mod support;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::{Pki, TestUpstream, free_addr};

struct Running {
    child: Child,
    https: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

async fn spawn_gateway(pki: &Pki, upstream: &url::Url) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let (https, admin) = (free_addr(), free_addr());
    let config = dir.path().join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            "[listen]\nhttps = \"{https}\"\nadmin = \"{admin}\"\n[tls]\ncert = {:?}\nkey = {:?}\n\
             [upstream]\nurl = \"{upstream}\"\n[timeouts]\nshutdown_grace = \"10s\"\n[log]\nlevel = \"warn\"\n",
            pki.files.cert, pki.files.key
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_esia-gateway"))
        .args(["run", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let running = Running {
        child,
        https,
        _dir: dir,
    };
    assert!(
        support::wait_healthy(admin).await,
        "the gateway binary did not come up"
    );
    running
}

fn client(pki: &Pki, https: SocketAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pki.ca.cert_pem().as_bytes()).unwrap())
        .resolve("localhost", https)
        .build()
        .unwrap()
}

async fn peer_leaf(pki: &Pki, addr: SocketAddr) -> Vec<u8> {
    let tls = support::tls_stream(pki, addr).await;
    tls.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

#[tokio::test]
async fn sigterm_drains_the_in_flight_request_then_exits_zero() {
    let pki = Pki::new();
    let upstream = TestUpstream::start().await;
    let mut gw = spawn_gateway(&pki, &upstream.url()).await;
    let url = format!("https://localhost:{}/slow?ms=1500", gw.https.port());
    let slow = tokio::spawn(client(&pki, gw.https).get(url).send());
    tokio::time::sleep(Duration::from_millis(400)).await;
    signal(&gw.child, "-TERM");

    let resp = slow
        .await
        .unwrap()
        .expect("the in-flight request must complete");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "slow done");

    let status = tokio::task::spawn_blocking(move || {
        for _ in 0..200 {
            if let Some(status) = gw.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    })
    .await
    .unwrap()
    .expect("the gateway must exit after draining");
    assert!(status.success(), "exit status {status:?}");
}

#[tokio::test]
async fn sighup_swaps_the_certificate_for_new_connections() {
    let pki = Pki::new();
    let upstream = TestUpstream::start().await;
    let gw = spawn_gateway(&pki, &upstream.url()).await;
    let before = peer_leaf(&pki, gw.https).await;
    assert_eq!(before, pki.current_leaf_der());

    let rotated = pki.rotate_leaf();
    signal(&gw.child, "-HUP");
    let mut seen = before.clone();
    for _ in 0..100 {
        seen = peer_leaf(&pki, gw.https).await;
        if seen == rotated {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        seen, rotated,
        "a new connection must see the reloaded certificate"
    );
    let ok = client(&pki, gw.https)
        .get(format!("https://localhost:{}/", gw.https.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}
