//! One access-log line per request at target `access`, with no query string (it can
//! carry one-time codes), and none when `log.access_log` is off.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use support::*;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn access_lines(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .filter(|l| l.contains("\"target\":\"access\""))
            .map(str::to_owned)
            .collect()
    }
}

/// Captures JSON logs of everything on this (current-thread) runtime.
fn capture() -> (Captured, tracing::subscriber::DefaultGuard) {
    let out = Captured::default();
    let writer = out.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_target(true)
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::INFO)
        .finish();
    (out, tracing::subscriber::set_default(subscriber))
}

async fn wait_for_lines(out: &Captured, n: usize) -> Vec<String> {
    for _ in 0..100 {
        let lines = out.access_lines();
        if lines.len() >= n {
            return lines;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    out.access_lines()
}

#[tokio::test(flavor = "current_thread")]
async fn one_line_per_request_with_status_bytes_and_client() {
    let (out, _guard) = capture();
    let pki = Pki::new();
    let up = TestUpstream::start().await;
    // The capture is this thread's subscriber: serve the connection here, not on a
    // worker thread (a deployment logs through the global subscriber from every thread).
    let mut cfg = config(&pki, &up.url());
    cfg.listen.workers = Some(0);
    let gw = esia_gateway::server::Gateway::start(cfg).await.unwrap();
    let client = client(&pki, &gw);
    let r = client
        .get(url(&gw, "/big?bytes=1000&code=SECRET-CODE"))
        .send()
        .await
        .unwrap();
    r.bytes().await.unwrap();

    let lines = wait_for_lines(&out, 1).await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    let f = &line["fields"];
    assert_eq!(f["method"], "GET");
    assert_eq!(f["path"], "/big");
    assert_eq!(f["status"], 200);
    assert_eq!(f["upstream_status"], 200);
    assert_eq!(f["bytes"], 1000);
    assert_eq!(f["client_ip"], "127.0.0.1");
    assert!(f["duration_ms"].as_f64().unwrap() >= 0.0);
    assert!(
        !lines[0].contains("SECRET-CODE"),
        "query strings are not logged"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn no_access_lines_when_disabled() {
    let (out, _guard) = capture();
    let pki = Pki::new();
    let up = TestUpstream::start().await;
    let mut cfg = config(&pki, &up.url());
    cfg.listen.workers = Some(0);
    cfg.log.access_log = false;
    let gw = esia_gateway::server::Gateway::start(cfg).await.unwrap();
    let r = client(&pki, &gw).get(url(&gw, "/")).send().await.unwrap();
    r.bytes().await.unwrap();
    drop(gw);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(out.access_lines().is_empty());
    // The request itself was still counted.
    assert_eq!(up.seen().len(), 1);
}
