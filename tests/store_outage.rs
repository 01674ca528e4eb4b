//! Fault suite (issue 10): PostgreSQL stopped and restarted under load. A private
//! PostgreSQL server (its own data directory and port, so the shared one other tests
//! use is never touched) backs a gateway with a linked user; while browsers keep
//! asking, the server is stopped for a few seconds and started again. Checked: no
//! request hangs or gets a 500 (what a user sees is the diary for a cached session, or a
//! Russian 503 page), the gateway serves normally again once the server is back (a new
//! ESIA login and link succeed), and nothing stored before the outage is lost.

mod link_support;
mod store_support;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use link_support::*;
use sqlx::Connection;
use store_support::Location;

/// A PostgreSQL server of our own, stopped and removed on drop.
struct PrivatePg {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    _dir: tempfile::TempDir,
}

impl PrivatePg {
    fn bin_dir() -> PathBuf {
        let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL server binaries (Debian: postgresql) in /usr/lib/postgresql")
            .map(|e| e.unwrap().path().join("bin"))
            .filter(|p| p.join("pg_ctl").exists())
            .collect();
        found.sort();
        found.pop().expect("pg_ctl under /usr/lib/postgresql/*/bin")
    }

    /// initdb and pg_ctl refuse to run as root: run them as `postgres` then.
    fn run(&self, program: &str, args: &[&str]) {
        let exe = self.bin.join(program);
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = cmd.args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{program} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(status.success());
        }
        let port = support::free_addr().port();
        let pg = Self {
            bin: Self::bin_dir(),
            data: dir.path().join("data"),
            port,
            _dir: dir,
        };
        let data = pg.data.display().to_string();
        pg.run(
            "initdb",
            &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"],
        );
        pg.up();
        pg
    }

    fn up(&self) {
        let data = self.data.display().to_string();
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.data.display()
        );
        let log = self.data.join("server.log").display().to_string();
        self.run(
            "pg_ctl",
            &["-D", &data, "-o", &opts, "-l", &log, "-w", "start"],
        );
    }

    fn down(&self) {
        let data = self.data.display().to_string();
        self.run("pg_ctl", &["-D", &data, "-m", "fast", "-w", "stop"]);
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        let data = self.data.display().to_string();
        let exe = self.bin.join("pg_ctl");
        let _ = if is_root() {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(exe)
                .args(["-D", &data, "-m", "immediate", "stop"])
                .output()
        } else {
            Command::new(exe)
                .args(["-D", &data, "-m", "immediate", "stop"])
                .output()
        };
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

async fn count(url: &str, table: &str) -> i64 {
    let mut c = sqlx::PgConnection::connect(url).await.unwrap();
    let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(&mut c)
        .await
        .unwrap();
    c.close().await.unwrap();
    n
}

fn data_exists(p: &Path) -> bool {
    p.join("PG_VERSION").exists()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_and_restarted_under_load() {
    let pg = PrivatePg::start();
    assert!(data_exists(&pg.data));
    let stand = Stand::start(Options {
        location: Some(Location::Postgres(pg.url())),
        ..Options::default()
    })
    .await;
    let linked = Arc::new(stand.linked_browser("confirmed", "parent").await);
    let bindings = count(&pg.url(), "bindings").await;
    let vault = count(&pg.url(), "vault_entries").await;
    let audit = count(&pg.url(), "audit_events").await;
    assert_eq!((bindings, vault), (1, 1));

    // Browsers keep asking while the server goes away and comes back.
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for _ in 0..3 {
        let (b, stop, url) = (linked.clone(), stop.clone(), stand.url("/marks"));
        load.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let r = b.get(&url).await;
                let status = r.status().as_u16();
                let text = r.text().await.unwrap_or_default();
                seen.push((status, started.elapsed(), text));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            seen
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    pg.down();
    let anonymous = stand.browser();
    let during = anonymous.get(&stand.url("/esia/login?return=/marks")).await;
    let during_status = during.status().as_u16();
    let during_text = during.text().await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    pg.up();
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let mut answers = Vec::new();
    for t in load {
        answers.extend(t.await.unwrap());
    }

    // What users saw: never a 500 or a hang; a store failure is a Russian 503 page.
    assert!(answers.len() > 20, "{} answers", answers.len());
    for (status, took, text) in &answers {
        assert!(
            matches!(status, 200 | 302 | 303 | 503),
            "status {status}: {text}"
        );
        assert!(*took < Duration::from_secs(15), "an answer took {took:?}");
        if *status == 503 {
            assert!(text.contains("lang=\"ru\""), "{text}");
        }
    }
    let served = answers.iter().filter(|a| a.0 == 200).count();
    assert!(served > 0, "the linked user was served at all");
    let slowest = answers.iter().map(|a| a.1).max().unwrap_or_default();
    eprintln!(
        "outage: {} answers, {served} served, {} × 503, slowest {slowest:?}",
        answers.len(),
        answers.iter().filter(|a| a.0 == 503).count()
    );
    assert_eq!(during_status, 503, "a login needs the store: {during_text}");
    assert!(during_text.contains("lang=\"ru\""), "{during_text}");

    // Back to normal: the linked user reads grades, a new person logs in and links.
    let r = linked.get(&stand.url("/marks")).await;
    assert_eq!(r.status(), 200);
    let second = stand.browser();
    let r = stand
        .login_and_link(&second, "confirmed-2", "student", "demo")
        .await;
    assert_eq!(location(&r), "/marks", "a link after the outage");

    // Nothing stored before the outage is lost.
    assert_eq!(count(&pg.url(), "bindings").await, bindings + 1);
    assert_eq!(count(&pg.url(), "vault_entries").await, vault + 1);
    assert!(count(&pg.url(), "audit_events").await > audit);
}
