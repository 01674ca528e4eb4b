//! `esia-gateway keys generate|rotate|status` — the real binary. Rotation runs on the
//! vault entries and session jars of real links through a running stand (plus bulk
//! entries sealed by the same vault code, so the run is long enough to interrupt), is
//! killed with SIGKILL part-way, and finishes when run again: every password still
//! opens under the new key alone, and the old key is reported as sealing nothing.

mod link_support;
mod ops_support;
#[macro_use]
mod store_support;
mod support;

use std::sync::Arc;
use std::time::Duration;

use esia_gateway::clock::SystemClock;
use esia_gateway::diary::vault::{Keyring, Vault};
use esia_gateway::secret::Secret;
use link_support::*;
use ops_support::*;
use tokio::io::AsyncBufReadExt;

on_both_stores!(rotation_killed_midway_resumes_and_retires_nothing_in_use);

/// Bulk entries beside the real ones: enough for several progress lines.
const BULK: usize = 1200;

#[tokio::test]
async fn generate_writes_a_0600_key_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("keys/new.key");
    let out = ok(&run(&["keys", "generate", key.to_str().unwrap()]).await);
    assert!(out.contains("wrote vault key"), "{out}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let text = std::fs::read_to_string(&key).unwrap();
    assert_eq!(text.trim().len(), 64);
    // The gateway's own loader accepts it, and the id printed is its id.
    let loaded = esia_gateway::diary::vault::VaultKey::load(&key).unwrap();
    assert!(out.contains(loaded.id()), "{out}");

    let again = run(&["keys", "generate", key.to_str().unwrap()]).await;
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    assert_eq!(
        std::fs::read_to_string(&key).unwrap(),
        text,
        "key overwritten"
    );

    // Without PATH: the `[vault] key` the configuration names (first installation),
    // although the rest of the file would not validate without that key.
    let cfg = dir.path().join("gateway.toml");
    std::fs::write(&cfg, "[vault]\nkey = \"keys/vault.key\"\n").unwrap();
    let out = ok(&run(&["keys", "generate", "--config", cfg.to_str().unwrap()]).await);
    assert!(dir.path().join("keys/vault.key").exists(), "{out}");
    let none = dir.path().join("none.toml");
    std::fs::write(&none, "").unwrap();
    let refused = run(&["keys", "generate", "-c", none.to_str().unwrap()]).await;
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("no [vault] key"));
}

/// `keys status` as (key id → (entries, jars)) for the keys the config names.
fn status_counts(text: &str, id: &str) -> (usize, usize) {
    let line = text
        .lines()
        .find(|l| l.starts_with(id))
        .unwrap_or_else(|| panic!("no line for {id}:\n{text}"));
    let f: Vec<&str> = line.split_whitespace().collect();
    (f[2].parse().unwrap(), f[3].parse().unwrap())
}

async fn rotation_killed_midway_resumes_and_retires_nothing_in_use(db: Db) {
    let stand = Stand::start(Options {
        db,
        ..Options::default()
    })
    .await;
    // Real links: vault entries and, after a grade page, sealed session jars.
    let b = stand.browser();
    assert_eq!(
        location(
            &stand
                .login_and_link(&b, "confirmed", "parent", "demo")
                .await
        ),
        "/marks"
    );
    assert_eq!(b.get(&stand.url("/marks")).await.status(), 200);
    let b2 = stand.browser();
    assert_eq!(
        location(
            &stand
                .login_and_link(&b2, "simplified", "student", "demo")
                .await
        ),
        "/marks"
    );
    assert_eq!(b2.get(&stand.url("/marks")).await.status(), 200);
    for i in 0..BULK {
        stand
            .vault
            .put(&format!("bulk-{i:04}"), &Secret::new(format!("pw-{i}")))
            .await
            .unwrap();
    }
    let old_key = stand.vault_key.clone();
    let old_id = stand.vault.keyring().active().id().to_owned();
    let new_key = stand.dir.path().join("vault-2.key");
    let generated = ok(&run(&["keys", "generate", new_key.to_str().unwrap()]).await);
    let new_id = esia_gateway::diary::vault::VaultKey::load(&new_key)
        .unwrap()
        .id()
        .to_owned();
    assert!(generated.contains(&new_id));
    let cfg = gateway_toml(
        stand.dir.path(),
        &stand,
        &db_location(&stand),
        Some((&new_key, std::slice::from_ref(&old_key))),
        "",
    );
    let c = cfg.to_str().unwrap();

    let before = ok(&run(&["keys", "status", "-c", c]).await);
    let (entries, jars) = status_counts(&before, &old_id);
    assert_eq!(entries, BULK + 2, "{before}");
    assert!(jars >= 2, "the two signed-in users' jars: {before}");
    assert_eq!(status_counts(&before, &new_id), (0, 0));

    // Start, wait for the first progress line, SIGKILL.
    let mut child = tokio::process::Command::new(BIN)
        .args(["keys", "rotate", "-c", c])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let total = BULK + 2;
    loop {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("progress within 60 s")
            .unwrap()
            .expect("rotate ended before its first progress line");
        if line.starts_with("vault entries: 100/") {
            assert_eq!(line, format!("vault entries: 100/{total}"));
            break;
        }
    }
    child.kill().await.unwrap(); // SIGKILL
    let _ = child.wait().await;

    let midway = ok(&run(&["keys", "status", "-c", c]).await);
    let (old_left, _) = status_counts(&midway, &old_id);
    let (new_done, _) = status_counts(&midway, &new_id);
    assert!(new_done >= 100, "{midway}");
    assert!(old_left > 0, "the kill came after the whole run: {midway}");
    assert_eq!(
        old_left + new_done,
        total,
        "an entry lost or doubled: {midway}"
    );

    let resumed = ok(&run(&["keys", "rotate", "-c", c]).await);
    assert!(
        resumed.contains(&format!(
            "{old_left} re-sealed, {new_done} already under {new_id}"
        )),
        "{resumed}"
    );
    assert!(resumed.contains("0 unreadable"), "{resumed}");
    assert!(resumed.contains("can be retired"), "{resumed}");
    // Progress lines every 100 entries when stdout is not a terminal.
    assert!(
        resumed
            .lines()
            .any(|l| l == format!("vault entries: 100/{old_left}")),
        "{resumed}"
    );

    let after = ok(&run(&["keys", "status", "-c", c]).await);
    assert_eq!(status_counts(&after, &old_id), (0, 0), "{after}");
    let (e, j) = status_counts(&after, &new_id);
    assert_eq!(e, total);
    assert!(j >= 2);
    assert!(after.contains("can be retired"), "{after}");

    // Every password opens under the new key alone.
    let only_new = Vault::new(
        stand.store.clone(),
        Keyring::from_files(&new_key, &[]).unwrap(),
        Arc::new(SystemClock),
    );
    assert_eq!(
        only_new.get("parent").await.unwrap().unwrap().expose(),
        "demo"
    );
    assert_eq!(
        only_new.get("student").await.unwrap().unwrap().expose(),
        "demo"
    );
    for i in [0, BULK / 2, BULK - 1] {
        let pw = only_new
            .get(&format!("bulk-{i:04}"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(pw.expose(), format!("pw-{i}"));
    }
    let rotated = stand
        .store
        .list_audit(chrono::Utc::now() - chrono::TimeDelta::hours(1), 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == esia_gateway::store::AuditKind::KeyRotated)
        .count();
    assert!(rotated >= 1);
}
