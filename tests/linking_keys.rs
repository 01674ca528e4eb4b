//! What linking leaves on disk: vault entries that are useless without the key and
//! survive a key rotation, and a binding that survives kill -9 of the gateway
//! (DESIGN §7). The kill test re-runs this binary as a child (`linking_child`) that
//! links through a real gateway, says so, and is then SIGKILLed; a new gateway on the
//! same store and key lets the same person straight into the cabinet.

mod link_support;
mod store_support;
mod support;

use std::process::Stdio;
use std::sync::Arc;

use esia_gateway::clock::SystemClock;
use esia_gateway::diary::vault::{Keyring, Vault, VaultError, generate_key_file};
use http::StatusCode;
use link_support::*;
use store_support::{Location, TestDb};
use tokio::io::{AsyncBufReadExt, BufReader};

const CHILD_STORE: &str = "ESIA_GW_LINK_CHILD_STORE";
const CHILD_KEY: &str = "ESIA_GW_LINK_CHILD_KEY";

async fn vault_entries_need_the_key_and_survive_rotation(db: Db) {
    let stand = Stand::start(Options {
        db,
        ..Options::default()
    })
    .await;
    let b = stand.browser();
    let linked = stand
        .login_and_link(&b, "confirmed", "parent", "demo")
        .await;
    assert_eq!(location(&linked), "/marks");
    let entry = stand
        .store
        .get_vault_entry("parent")
        .await
        .unwrap()
        .unwrap();
    assert!(
        !entry.ciphertext.windows(4).any(|w| w == b"demo"),
        "password in clear"
    );

    // Another key opens nothing.
    let stranger_key = stand.dir.path().join("stranger.key");
    generate_key_file(&stranger_key).unwrap();
    let stranger = Vault::new(
        stand.store.clone(),
        Keyring::from_files(&stranger_key, &[]).unwrap(),
        Arc::new(SystemClock),
    );
    assert!(matches!(
        stranger.get("parent").await,
        Err(VaultError::UnknownKey(_))
    ));

    // Rotation: a new active key, the old one kept for reading; then the old key
    // can go and the entry still opens.
    let new_key = stand.dir.path().join("vault-2.key");
    generate_key_file(&new_key).unwrap();
    let rotating = Vault::new(
        stand.store.clone(),
        Keyring::from_files(&new_key, std::slice::from_ref(&stand.vault_key)).unwrap(),
        Arc::new(SystemClock),
    );
    let report = rotating.rotate_all().await.unwrap();
    assert_eq!(report.rotated, 1, "{report:?}");
    let only_new = Vault::new(
        stand.store.clone(),
        Keyring::from_files(&new_key, &[]).unwrap(),
        Arc::new(SystemClock),
    );
    assert_eq!(
        only_new.get("parent").await.unwrap().unwrap().expose(),
        "demo"
    );
    assert!(matches!(
        stand.vault.get("parent").await,
        Err(VaultError::UnknownKey(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vault_on_sqlite() {
    vault_entries_need_the_key_and_survive_rotation(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vault_on_postgres() {
    vault_entries_need_the_key_and_survive_rotation(Db::Postgres).await;
}

#[test]
#[ignore = "run only as the child process of the kill -9 tests"]
fn linking_child() {
    let (Ok(store), Ok(key)) = (std::env::var(CHILD_STORE), std::env::var(CHILD_KEY)) else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let stand = Stand::start(Options {
            location: Some(Location::from_env(&store)),
            vault_key: Some(key.into()),
            ..Options::default()
        })
        .await;
        let b = stand.browser();
        let linked = stand
            .login_and_link(&b, "confirmed", "parent", "demo")
            .await;
        assert_eq!(location(&linked), "/marks");
        println!("linked");
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    });
}

async fn binding_survives_kill_9(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("vault.key");
    generate_key_file(&key).unwrap();
    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args(["linking_child", "--exact", "--ignored", "--nocapture"])
        .env(CHILD_STORE, db.location.to_env())
        .env(CHILD_KEY, &key)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        match lines.next_line().await.unwrap() {
            Some(l) if l == "linked" => break,
            Some(_) => {}
            None => panic!("the child gateway ended before linking"),
        }
    }
    child.kill().await.unwrap(); // SIGKILL: no shutdown, no flush
    child.wait().await.unwrap();

    let stand = Stand::start(Options {
        location: Some(db.location.clone()),
        vault_key: Some(key),
        ..Options::default()
    })
    .await;
    let binding = stand
        .store
        .bindings_of_oid(CONFIRMED_OID)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(binding.diary_login, "parent");
    let b = stand.browser();
    let cb = stand.esia_login(&b, "/marks", "confirmed").await;
    assert_eq!(location(&cb), "/marks");
    let resp = b.get(&stand.url("/marks")).await;
    assert_eq!(resp.status(), StatusCode::OK, "straight to the cabinet");
    assert!(resp.text().await.unwrap().contains(PARENTS_CHILD));
    b.assert_only_gateway_cookies();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binding_survives_kill_9_on_sqlite() {
    binding_survives_kill_9(TestDb::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binding_survives_kill_9_on_postgres() {
    binding_survives_kill_9(TestDb::postgres().await).await;
}
