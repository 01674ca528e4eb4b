//! Every record the store keeps, on SQLite and on PostgreSQL: create, read, update,
//! delete, and the rules that protect them (binding uniqueness, single-use login
//! flows, attempt windows, expiry purge).

mod store_support;

use std::collections::HashSet;

use chrono::TimeDelta;
use esia_gateway::store::*;
use store_support::{TestDb, t0};
use uuid::Uuid;

fn session(key_byte: u8) -> SessionRecord {
    SessionRecord {
        key: SessionKey([key_byte; 32]),
        auth_method: AuthMethod::Esia,
        authenticated_at: t0(),
        created_at: t0(),
        last_seen_at: t0(),
        idle_timeout: TimeDelta::minutes(30),
        absolute_expiry: t0() + TimeDelta::hours(12),
        public_computer: false,
        esia_oid: Some(1_000_123),
        account_level: Some("confirmed".into()),
        diary_login: Some("parent".into()),
        diary_role: Some("parent".into()),
        csrf_token: "csrf-token".into(),
        diary_cookies: None,
        esia_id_token_hint: Some(vec![1, 2, 3]),
        diary_accounts: 2,
    }
}

fn flow(purpose: FlowPurpose) -> LoginFlow {
    LoginFlow {
        state: Uuid::new_v4(),
        cookie_binding: [9; 32],
        nonce: "nonce-1".into(),
        purpose,
        return_path: "/marks.php?module=marks".into(),
        public_computer: true,
        legacy_session: (purpose == FlowPurpose::Link).then_some(SessionKey([4; 32])),
        created_at: t0(),
        expires_at: t0() + TimeDelta::minutes(10),
    }
}

fn binding(oid: i64, login: &str) -> Binding {
    Binding {
        esia_oid: oid,
        diary_login: login.into(),
        diary_role: Some("parent".into()),
        account_level: Some("confirmed".into()),
        created_at: t0(),
        last_used_at: t0(),
        stale: false,
    }
}

async fn sessions_crud(db: &TestDb) {
    let s = db.store.as_ref();
    let rec = session(1);
    s.create_session(&rec).await.unwrap();
    assert_eq!(s.get_session(&rec.key).await.unwrap(), Some(rec.clone()));
    assert_eq!(s.get_session(&SessionKey([2; 32])).await.unwrap(), None);
    // The same id twice is a store error, never a silent overwrite.
    assert!(s.create_session(&rec).await.is_err());

    let later = t0() + TimeDelta::minutes(5);
    assert!(s.touch_session(&rec.key, later).await.unwrap());
    // An out-of-order touch from another replica does not move last_seen back.
    assert!(s.touch_session(&rec.key, t0()).await.unwrap());
    let got = s.get_session(&rec.key).await.unwrap().unwrap();
    assert_eq!(got.last_seen_at, later);

    assert!(s.set_diary_cookies(&rec.key, Some(b"jar")).await.unwrap());
    let mut changed = got.clone();
    assert_eq!(changed.diary_cookies.as_deref(), None);
    changed.diary_cookies = Some(b"jar".to_vec());
    assert_eq!(
        s.get_session(&rec.key).await.unwrap(),
        Some(changed.clone())
    );

    changed.auth_method = AuthMethod::Legacy;
    changed.esia_oid = None;
    changed.diary_role = Some("student".into());
    changed.public_computer = true;
    assert!(s.update_session(&changed).await.unwrap());
    assert_eq!(s.get_session(&rec.key).await.unwrap(), Some(changed));
    assert!(!s.update_session(&session(3)).await.unwrap());
    assert!(!s.touch_session(&SessionKey([3; 32]), later).await.unwrap());

    assert!(s.delete_session(&rec.key).await.unwrap());
    assert!(!s.delete_session(&rec.key).await.unwrap());
    assert_eq!(s.get_session(&rec.key).await.unwrap(), None);

    let mut other = session(5);
    other.diary_login = Some("teacher".into());
    s.create_session(&session(4)).await.unwrap();
    s.create_session(&other).await.unwrap();
    assert_eq!(s.delete_sessions_of_login("parent").await.unwrap(), 1);
    assert!(s.get_session(&other.key).await.unwrap().is_some());
}

async fn expired_sessions_are_purged(db: &TestDb) {
    let s = db.store.as_ref();
    let live = session(1);
    let mut idle = session(2);
    idle.last_seen_at = t0() - TimeDelta::minutes(31);
    let mut old = session(3);
    old.absolute_expiry = t0() - TimeDelta::seconds(1);
    for r in [&live, &idle, &old] {
        s.create_session(r).await.unwrap();
    }
    assert_eq!(s.delete_expired_sessions(t0()).await.unwrap(), 2);
    assert!(s.get_session(&live.key).await.unwrap().is_some());
    assert!(s.get_session(&idle.key).await.unwrap().is_none());
    assert!(s.get_session(&old.key).await.unwrap().is_none());
    assert_eq!(s.delete_expired_sessions(t0()).await.unwrap(), 0);
}

async fn login_flows_are_single_use(db: &TestDb) {
    let s = db.store.as_ref();
    let login = flow(FlowPurpose::Login);
    let link = flow(FlowPurpose::Link);
    s.create_login_flow(&login).await.unwrap();
    s.create_login_flow(&link).await.unwrap();
    // Someone who saw `state` but not the browser's secret takes nothing, and the
    // flow stays for its browser.
    assert_eq!(
        s.take_login_flow(login.state, [7; 32], t0()).await.unwrap(),
        None,
        "wrong secret"
    );
    assert_eq!(
        s.take_login_flow(login.state, login.cookie_binding, t0())
            .await
            .unwrap(),
        Some(login.clone())
    );
    assert_eq!(
        s.take_login_flow(login.state, login.cookie_binding, t0())
            .await
            .unwrap(),
        None,
        "replay"
    );
    assert_eq!(
        s.take_login_flow(Uuid::new_v4(), login.cookie_binding, t0())
            .await
            .unwrap(),
        None,
        "forged"
    );
    // An expired flow is refused, and gone afterwards.
    let late = link.expires_at;
    assert_eq!(
        s.take_login_flow(link.state, link.cookie_binding, late)
            .await
            .unwrap(),
        None
    );
    s.create_login_flow(&link).await.unwrap();
    assert_eq!(
        s.take_login_flow(link.state, link.cookie_binding, t0())
            .await
            .unwrap(),
        Some(link)
    );

    let old = flow(FlowPurpose::Login);
    s.create_login_flow(&old).await.unwrap();
    s.create_login_flow(&flow(FlowPurpose::Login))
        .await
        .unwrap();
    assert_eq!(s.delete_expired_flows(old.expires_at).await.unwrap(), 2);
}

async fn concurrent_takes_have_one_winner(db: &TestDb) {
    for _ in 0..10 {
        let f = flow(FlowPurpose::Login);
        db.store.create_login_flow(&f).await.unwrap();
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let store = db.store.clone();
                tokio::spawn(async move {
                    store
                        .take_login_flow(f.state, f.cookie_binding, t0())
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut winners = 0;
        for t in tasks {
            winners += usize::from(t.await.unwrap().is_some());
        }
        assert_eq!(winners, 1);
    }
}

async fn bindings_crud_and_conflicts(db: &TestDb) {
    let s = db.store.as_ref();
    let b = binding(1_000_123, "parent");
    s.create_binding(&b).await.unwrap();
    assert_eq!(
        s.bindings_of_oid(1_000_123).await.unwrap().pop(),
        Some(b.clone())
    );
    assert_eq!(s.binding_by_login("parent").await.unwrap(), Some(b.clone()));
    assert_eq!(s.binding_by_login("Parent").await.unwrap(), None);

    // One ESIA account, several diary accounts (a parent, children in two schools);
    // each diary account still belongs to one ESIA account.
    let second = binding(1_000_123, "parent-school2");
    s.create_binding(&second).await.unwrap();
    let held = s.bindings_of_oid(1_000_123).await.unwrap();
    assert_eq!(held.len(), 2, "{held:?}");
    let login_taken = s.create_binding(&binding(2_000_000, "parent")).await;
    assert!(
        matches!(login_taken, Err(StoreError::Conflict(Conflict::LoginTaken))),
        "{login_taken:?}"
    );
    // The user-facing text of a conflict carries no SQL.
    let text = login_taken.unwrap_err().to_string().to_lowercase();
    assert!(
        !text.contains("insert") && !text.contains("unique"),
        "{text}"
    );

    let later = t0() + TimeDelta::days(1);
    assert!(
        s.record_binding_use("parent", None, Some("standard"), later)
            .await
            .unwrap()
    );
    // The one used last comes first; the other account was not touched.
    let held = s.bindings_of_oid(1_000_123).await.unwrap();
    assert_eq!(held[1], second);
    let got = held[0].clone();
    assert_eq!(got.account_level.as_deref(), Some("standard"));
    assert_eq!(
        got.diary_role.as_deref(),
        Some("parent"),
        "None keeps the role"
    );
    assert_eq!(got.last_used_at, later);
    assert!(s.set_binding_stale("parent", true).await.unwrap());
    let held = s.bindings_of_oid(1_000_123).await.unwrap();
    assert!(held[0].stale && !held[1].stale, "{held:?}");
    assert!(!s.set_binding_stale("nobody", true).await.unwrap());
    assert!(s.unbind("parent-school2").await.unwrap().is_some());

    s.create_binding(&binding(5, "student")).await.unwrap();
    let all = s.list_bindings().await.unwrap();
    assert_eq!(
        all.iter().map(|b| b.esia_oid).collect::<Vec<_>>(),
        vec![5, 1_000_123]
    );

    let removed = s.unbind("parent").await.unwrap().unwrap();
    assert_eq!(removed.diary_login, "parent");
    assert_eq!(s.unbind("parent").await.unwrap(), None);
    // Once unbound, both sides are free again.
    s.create_binding(&binding(2_000_000, "parent"))
        .await
        .unwrap();
}

async fn vault_entries_crud(db: &TestDb) {
    let s = db.store.as_ref();
    let e = VaultEntry {
        diary_login: "parent".into(),
        key_id: "k1".into(),
        nonce: vec![1; 24],
        ciphertext: vec![1, 2, 3, 4],
        updated_at: t0(),
    };
    s.put_vault_entry(&e).await.unwrap();
    assert_eq!(s.get_vault_entry("parent").await.unwrap(), Some(e.clone()));
    let e2 = VaultEntry {
        key_id: "k2".into(),
        nonce: vec![2; 24],
        ..e.clone()
    };
    s.put_vault_entry(&e2).await.unwrap();
    assert_eq!(s.get_vault_entry("parent").await.unwrap(), Some(e2.clone()));
    // The compare-and-swap only replaces the entry it was computed from.
    let e3 = VaultEntry {
        key_id: "k3".into(),
        nonce: vec![3; 24],
        ..e.clone()
    };
    assert!(!s.replace_vault_entry(&e.nonce, &e3).await.unwrap());
    assert!(s.replace_vault_entry(&e2.nonce, &e3).await.unwrap());
    assert_eq!(s.list_vault_entries().await.unwrap(), vec![e3]);
    assert!(s.delete_vault_entry("parent").await.unwrap());
    assert!(!s.delete_vault_entry("parent").await.unwrap());
    assert_eq!(s.get_vault_entry("parent").await.unwrap(), None);
}

async fn audit_is_append_only_and_ordered(db: &TestDb) {
    let s = db.store.as_ref();
    let mut ids = HashSet::new();
    let kinds = [
        AuditKind::Login,
        AuditKind::Link,
        AuditKind::Other("future_kind".into()),
    ];
    for (i, kind) in kinds.iter().enumerate() {
        let mut e = AuditEvent::new(t0() + TimeDelta::seconds(i as i64), kind.clone());
        e.esia_oid = Some(7);
        e.diary_login = Some("parent".into());
        e.client_ip = Some("192.0.2.1".into());
        e.detail = serde_json::json!({ "route": "/marks.php", "n": i });
        assert!(ids.insert(s.append_audit(&e).await.unwrap()));
    }
    let all = s.list_audit(t0(), 100).await.unwrap();
    assert_eq!(
        all.iter().map(|e| e.kind.clone()).collect::<Vec<_>>(),
        kinds
    );
    assert_eq!(all[2].detail["n"], 2);
    assert_eq!(all[0].client_ip.as_deref(), Some("192.0.2.1"));
    assert_eq!(
        s.list_audit(t0() + TimeDelta::seconds(1), 1)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        s.list_audit(t0() + TimeDelta::hours(1), 100).await.unwrap(),
        vec![]
    );
}

async fn attempts_count_within_the_window(db: &TestDb) {
    let s = db.store.as_ref();
    for minute in [0, 5, 10, 14] {
        s.record_attempt("oid:7", t0() + TimeDelta::minutes(minute))
            .await
            .unwrap();
    }
    s.record_attempt("ip:192.0.2.1", t0()).await.unwrap();
    let now = t0() + TimeDelta::minutes(15);
    let window = TimeDelta::minutes(15);
    assert_eq!(s.count_attempts("oid:7", now - window).await.unwrap(), 4);
    assert_eq!(
        s.count_attempts("oid:7", now - TimeDelta::minutes(10))
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        s.count_attempts("ip:192.0.2.1", now - window)
            .await
            .unwrap(),
        1
    );
    assert_eq!(s.count_attempts("oid:8", now - window).await.unwrap(), 0);
    assert_eq!(
        s.prune_attempts(t0() + TimeDelta::minutes(10))
            .await
            .unwrap(),
        3
    );
    assert_eq!(s.count_attempts("oid:7", t0()).await.unwrap(), 2);
}

async fn data_survives_reopening(db: &TestDb) {
    db.store
        .create_binding(&binding(77, "teacher"))
        .await
        .unwrap();
    db.store.create_session(&session(8)).await.unwrap();
    let again = db.reopen().await;
    assert_eq!(
        again.bindings_of_oid(77).await.unwrap().pop(),
        Some(binding(77, "teacher"))
    );
    assert!(
        again
            .get_session(&SessionKey([8; 32]))
            .await
            .unwrap()
            .is_some()
    );
}

on_both_backends!(
    sessions_crud,
    expired_sessions_are_purged,
    login_flows_are_single_use,
    concurrent_takes_have_one_winner,
    bindings_crud_and_conflicts,
    vault_entries_crud,
    audit_is_append_only_and_ordered,
    attempts_count_within_the_window,
    data_survives_reopening,
);

/// The database file holds vault ciphertexts and session hashes: owner-only.
#[cfg(unix)]
#[tokio::test]
async fn sqlite_file_is_private_and_its_directories_are_created() {
    use std::os::unix::fs::PermissionsExt;
    let db = TestDb::sqlite().await;
    let store_support::Location::Sqlite(path) = &db.location else {
        unreachable!()
    };
    let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // Opening an existing database again runs no migration twice.
    let again = db.reopen().await;
    assert!(again.list_bindings().await.unwrap().is_empty());
}

#[tokio::test]
async fn unreachable_postgres_is_a_clear_error() {
    // Port 1 on loopback: nothing listens there.
    let err =
        esia_gateway::store::postgres::PostgresStore::connect("postgres://postgres@127.0.0.1:1/x")
            .await
            .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert_eq!(err.to_string(), "the gateway's store is unavailable");
}

#[tokio::test]
async fn unusable_sqlite_path_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    // A path "under" a regular file cannot be created.
    let err = esia_gateway::store::sqlite::SqliteStore::open(&file.join("gateway.db"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    // A file that is not a database is refused, not overwritten.
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, vec![0xAB; 8192]).unwrap();
    assert!(
        esia_gateway::store::sqlite::SqliteStore::open(&junk)
            .await
            .is_err()
    );
    assert_eq!(std::fs::read(&junk).unwrap(), vec![0xAB; 8192]);
}
