//! Reload without restart, on the real binary: `esia-gateway reload` checks the file
//! and signals the running `esia-gateway run` of that file; the calendar and route
//! groups change at once (a page open before is refused after); a broken file is
//! refused by the command and, sent by a bare SIGHUP, logged while the running
//! configuration stays; a section that needs a restart is named in the log.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::{Pki, TestUpstream, free_addr};

const BIN: &str = env!("CARGO_BIN_EXE_esia-gateway");

struct Running {
    child: Child,
    https: SocketAddr,
    admin: SocketAddr,
    config: PathBuf,
    log: PathBuf,
    upstream: url::Url,
    pki_files: (PathBuf, PathBuf),
    /// Appended to the file (more sections).
    extra: String,
    _dir: tempfile::TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    /// gateway.toml with the calendar's cutover `cutover_in_days` from today.
    fn write_config(&self, cutover_in_days: i64, upstream: &url::Url) {
        // The calendar's own zone's day, not UTC's (they differ after 21:00 UTC).
        let today = chrono::Utc::now()
            .with_timezone(&chrono_tz::Europe::Moscow)
            .date_naive();
        let day = |n: i64| today + chrono::TimeDelta::days(n);
        std::fs::write(
            &self.config,
            format!(
                "[listen]\nhttps = \"{}\"\nadmin = \"{}\"\n[tls]\ncert = {:?}\nkey = {:?}\n\
                 [upstream]\nurl = \"{upstream}\"\n[log]\nlevel = \"info\"\nformat = \"json\"\n\
                 [calendar]\ntime_zone = \"Europe/Moscow\"\ntransition_from = {}\nesia_only_from = {}\n\
                 legacy_login = \"restricted\"\n\
                 [[route_group]]\nname = \"grades\"\nmatch = [{{ prefix = \"/marks\" }}]\n\
                 before_transition = \"any\"\ntransition = \"any\"\nafter_cutover = \"esia_linked\"\n{}",
                self.https,
                self.admin,
                self.pki_files.0,
                self.pki_files.1,
                day(-30),
                day(cutover_in_days),
                self.extra,
            ),
        )
        .unwrap();
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn phase(&self) -> String {
        let text = support::fetch_text(&format!("http://{}/metrics", self.admin)).await;
        text.lines()
            .find(|l| l.starts_with("esia_gateway_calendar_phase{") && l.ends_with(" 1"))
            .and_then(|l| l.split('"').nth(1))
            .unwrap_or("none")
            .to_owned()
    }

    async fn wait_for_phase(&self, want: &str) {
        for _ in 0..100 {
            if self.phase().await == want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "phase is {}, not {want}\nlog:\n{}",
            self.phase().await,
            self.log()
        );
    }

    async fn wait_for_log(&self, needle: &str) {
        for _ in 0..100 {
            if self.log().contains(needle) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no {needle:?} in the log:\n{}", self.log());
    }
}

async fn start(pki: &Pki, upstream: &url::Url) -> Running {
    start_with(pki, upstream, String::new()).await
}

async fn start_with(pki: &Pki, upstream: &url::Url, extra: String) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("gateway.log");
    let mut running = Running {
        child: Command::new("true").spawn().unwrap(),
        https: free_addr(),
        admin: free_addr(),
        config: dir.path().join("gateway.toml"),
        log: log.clone(),
        upstream: upstream.clone(),
        pki_files: (pki.files.cert.clone(), pki.files.key.clone()),
        extra,
        _dir: dir,
    };
    running.write_config(10, upstream);
    let _ = running.child.wait();
    running.child = Command::new(BIN)
        .args(["run", "--config"])
        .arg(&running.config)
        // The gateway logs to stdout (JSON lines here).
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        support::wait_healthy(running.admin).await,
        "the gateway did not come up:\n{}",
        running.log()
    );
    running
}

fn reload(config: &Path) -> std::process::Output {
    Command::new(BIN)
        .args(["reload", "--config"])
        .arg(config)
        .output()
        .unwrap()
}

fn client(pki: &Pki, https: SocketAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pki.ca.cert_pem().as_bytes()).unwrap())
        .resolve("localhost", https)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_applies_a_new_calendar_and_refuses_a_broken_file() {
    let pki = Pki::new();
    let up = TestUpstream::start().await;
    let gw = start(&pki, &up.url()).await;
    let browser = client(&pki, gw.https);
    let marks = format!("https://localhost:{}/marks", gw.https.port());
    gw.wait_for_phase("transition").await;
    assert_eq!(browser.get(&marks).send().await.unwrap().status(), 200);

    // The cutover moves to yesterday: after `reload`, grades need ESIA.
    gw.write_config(-1, &gw.upstream);
    let out = reload(&gw.config);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("sent SIGHUP to process {}", gw.child.id())),
        "{stdout}"
    );
    gw.wait_for_phase("cutover-restricted").await;
    let after = browser.get(&marks).send().await.unwrap().status();
    assert!(
        !after.is_success(),
        "grades still open after the reload: {after}"
    );

    // A broken file: the command refuses it and signals nobody.
    let good = std::fs::read_to_string(&gw.config).unwrap();
    std::fs::write(&gw.config, good.replace("esia_only_from", "esia_only_fom")).unwrap();
    let out = reload(&gw.config);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("esia_only_fom"));
    // A bare SIGHUP with the broken file: logged, the running calendar stays.
    let hup = Command::new("kill")
        .args(["-HUP", &gw.child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    gw.wait_for_log("reload refused").await;
    assert_eq!(gw.phase().await, "cutover-restricted");
    assert!(
        !browser
            .get(&marks)
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );

    // A section that needs a restart: named in the log, the rest applied.
    let other = TestUpstream::start().await;
    gw.write_config(10, &other.url());
    assert!(reload(&gw.config).status.success());
    gw.wait_for_phase("transition").await;
    gw.wait_for_log("take effect only after a restart").await;
    assert!(gw.log().contains("upstream"), "{}", gw.log());

    // Nothing of ours runs on another file.
    let elsewhere = gw.config.with_file_name("other.toml");
    std::fs::copy(&gw.config, &elsewhere).unwrap();
    let out = reload(&elsewhere);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no running"));
}

/// Issue 13: the page templates are read again at each reload — an edited page is served
/// at once; a broken one is refused by `reload` with its file and line and, sent by a
/// bare SIGHUP, logged while the running pages stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_rereads_the_page_templates_and_keeps_them_when_one_is_broken() {
    let pki = Pki::new();
    let up = TestUpstream::start().await;
    let pages = tempfile::tempdir().unwrap();
    let error_page = pages.path().join("error.html");
    std::fs::write(&error_page, "<p>Школа №1: {{ status }}</p>").unwrap();
    let extra = format!("[pages]\ntemplates = {:?}\n", pages.path());
    let gw = start_with(&pki, &up.url(), extra).await;
    let browser = client(&pki, gw.https);
    // Encoded `/`: refused with 400 on the error page.
    let bad = format!("https://localhost:{}/a%2fb", gw.https.port());
    let served = || async {
        browser
            .get(&bad)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    assert_eq!(served().await, "<p>Школа №1: 400</p>");

    std::fs::write(&error_page, "<p>Гимназия №2: {{ status }}</p>").unwrap();
    assert!(reload(&gw.config).status.success());
    for _ in 0..100 {
        if served().await.contains("Гимназия") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(served().await, "<p>Гимназия №2: 400</p>");

    // Broken: `reload` names the file and line and signals nobody.
    std::fs::write(&error_page, "<p>\n{{ status }</p>").unwrap();
    let out = reload(&gw.config);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:2: syntax error", error_page.display())),
        "{stderr}"
    );
    // A bare SIGHUP: every error logged, the running pages stay.
    let hup = Command::new("kill")
        .args(["-HUP", &gw.child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    gw.wait_for_log("reload refused; the running configuration stays")
        .await;
    assert!(
        gw.log().contains("error.html:2: syntax error"),
        "{}",
        gw.log()
    );
    assert_eq!(served().await, "<p>Гимназия №2: 400</p>");
}
