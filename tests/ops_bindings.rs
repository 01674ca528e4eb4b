//! `esia-gateway bindings …` — the real binary against the store of a running stand,
//! on bindings made by real ESIA logins and links through the gateway, on SQLite and
//! PostgreSQL: list/show with filters and formats, unbind ending the user's sessions
//! with an audited reason, export from one backend and import into the other
//! (dry run, all-or-nothing, every bad row reported with its line).

mod link_support;
mod ops_support;
#[macro_use]
mod store_support;
mod support;

use esia_gateway::store::AuditKind;
use http::StatusCode;
use link_support::*;
use ops_support::*;
use store_support::TestDb;

on_both_stores!(
    list_and_show_find_real_bindings_by_login_and_oid,
    unbind_ends_the_users_sessions_and_audits_the_reason,
    export_then_import_into_the_other_backend_is_all_or_nothing,
);

/// A stand with `parent` (confirmed) and `student` (simplified) linked through the
/// gateway, and a config naming its store. The browsers stay signed in.
async fn linked_stand(db: Db) -> (Stand, Browser, Browser, std::path::PathBuf) {
    let stand = Stand::start(Options {
        db,
        ..Options::default()
    })
    .await;
    let b = stand.linked_browser("confirmed", "parent").await;
    let b2 = stand.browser();
    let r = stand
        .login_and_link(&b2, "simplified", "student", "demo")
        .await;
    assert_eq!(location(&r), "/marks");
    let cfg = gateway_toml(stand.dir.path(), &stand, &db_location(&stand), None, "");
    (stand, b, b2, cfg)
}

async fn list_and_show_find_real_bindings_by_login_and_oid(db: Db) {
    let (_stand, _b, _b2, cfg) = linked_stand(db).await;
    let c = cfg.to_str().unwrap();
    let text = ok(&run(&["bindings", "list", "--config", c]).await);
    assert!(text.starts_with("OID"), "{text}");
    assert!(text.contains(&CONFIRMED_OID.to_string()) && text.contains("parent"));
    assert!(text.contains(&SIMPLIFIED_OID.to_string()) && text.contains("student"));

    let json = ok(&run(&[
        "bindings", "list", "--login", "PAR", "--format", "json", "-c", c,
    ])
    .await);
    let rows: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 1, "{json}");
    assert_eq!(rows[0]["esia_oid"], CONFIRMED_OID);
    assert_eq!(rows[0]["diary_login"], "parent");
    assert_eq!(rows[0]["account_level"], "confirmed");
    assert_eq!(rows[0]["stale"], false);
    assert!(rows[0].get("password").is_none());

    let oid = SIMPLIFIED_OID.to_string();
    let csv = ok(&run(&[
        "bindings", "list", "--oid", &oid, "--format", "csv", "-c", c,
    ])
    .await);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "esia_oid,diary_login,diary_role,account_level,created_at,last_used_at,stale"
    );
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[1].starts_with(&format!("{oid},student,")), "{csv}");

    let stale = ok(&run(&["bindings", "list", "--stale", "-c", c]).await);
    assert_eq!(stale.lines().count(), 1, "header only: {stale}");

    let shown = ok(&run(&["bindings", "show", "--oid", &oid, "-c", c]).await);
    assert!(
        shown.contains("student") && shown.contains("vault entry of \"student\": sealed with key"),
        "{shown}"
    );
    let missing = run(&["bindings", "show", "--login", "nobody", "-c", c]).await;
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("no binding for diary login \"nobody\""));
    // Exactly one of --login / --oid.
    let both = run(&["bindings", "show", "--login", "a", "--oid", "1", "-c", c]).await;
    assert_eq!(both.status.code(), Some(2));
}

async fn unbind_ends_the_users_sessions_and_audits_the_reason(db: Db) {
    let (stand, b, b2, cfg) = linked_stand(db).await;
    let c = cfg.to_str().unwrap();
    let loc = db_location(&stand);
    assert!(sessions_of(&loc, "parent", CONFIRMED_OID).await > 0);
    let page = b.get(&stand.url("/marks")).await;
    assert_eq!(page.status(), StatusCode::OK);

    // No reason, no unbind.
    let refused = run(&["bindings", "unbind", "--login", "parent", "-c", c]).await;
    assert_eq!(refused.status.code(), Some(2));
    let blank = run(&[
        "bindings", "unbind", "--login", "parent", "--reason", "  ", "-c", c,
    ])
    .await;
    assert_eq!(blank.status.code(), Some(2));
    assert!(stand.bound_to("parent").await.is_some());

    let reason = "звонок из школы: чужой ребёнок";
    let out = ok(&run(&[
        "bindings", "unbind", "--login", "parent", "--reason", reason, "-c", c,
    ])
    .await);
    assert!(out.contains("vault entry removed"), "{out}");
    assert!(stand.bound_to("parent").await.is_none());
    assert!(
        stand
            .store
            .get_vault_entry("parent")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(sessions_of(&loc, "parent", CONFIRMED_OID).await, 0);
    // The other user is untouched.
    assert!(stand.bound_to("student").await.is_some());
    assert!(sessions_of(&loc, "student", SIMPLIFIED_OID).await > 0);

    // The running gateway drops the session within its cache bound.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let after = b.get(&stand.url("/marks")).await;
    let status = after.status();
    let html = after.text().await.unwrap();
    assert!(
        !(status == StatusCode::OK && html.contains(PARENTS_CHILD)),
        "the unbound user still sees the grades"
    );
    assert_eq!(b2.get(&stand.url("/marks")).await.status(), StatusCode::OK);

    let events = stand
        .store
        .list_audit(chrono::Utc::now() - chrono::TimeDelta::hours(1), 1000)
        .await
        .unwrap();
    let unlink = events
        .iter()
        .find(|e| e.kind == AuditKind::Unlink)
        .expect("an unlink event");
    assert_eq!(unlink.esia_oid, Some(CONFIRMED_OID));
    assert_eq!(unlink.detail["reason"], reason);
    assert_eq!(unlink.detail["by"], "operator");
    assert!(unlink.detail["sessions_ended"].as_u64().unwrap() >= 1);

    let again = run(&[
        "bindings",
        "unbind",
        "--oid",
        &CONFIRMED_OID.to_string(),
        "--reason",
        "x",
        "-c",
        c,
    ])
    .await;
    assert_eq!(again.status.code(), Some(2));
}

async fn export_then_import_into_the_other_backend_is_all_or_nothing(db: Db) {
    let (stand, _b, _b2, cfg) = linked_stand(db).await;
    let c = cfg.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let csv_file = dir.path().join("bindings.csv");
    let json_file = dir.path().join("bindings.json");
    ok(&run(&[
        "bindings",
        "export",
        "--out",
        csv_file.to_str().unwrap(),
        "-c",
        c,
    ])
    .await);
    ok(&run(&[
        "bindings",
        "export",
        "--format",
        "json",
        "--out",
        json_file.to_str().unwrap(),
        "-c",
        c,
    ])
    .await);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&csv_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let exists = run(&[
        "bindings",
        "export",
        "--out",
        csv_file.to_str().unwrap(),
        "-c",
        c,
    ])
    .await;
    assert_eq!(exists.status.code(), Some(2), "refuses to overwrite");
    let csv = std::fs::read_to_string(&csv_file).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(!csv.contains("demo"), "a password in the export: {csv}");

    // The other backend, fresh.
    let target = match db {
        Db::Sqlite => TestDb::postgres().await,
        Db::Postgres => TestDb::sqlite().await,
    };
    let tdir = tempfile::tempdir().unwrap();
    let tcfg = gateway_toml(tdir.path(), &stand, &target.location, None, "");
    let t = tcfg.to_str().unwrap();

    let dry = ok(&run(&[
        "bindings",
        "import",
        csv_file.to_str().unwrap(),
        "--dry-run",
        "-c",
        t,
    ])
    .await);
    assert!(dry.contains("2 binding(s)"), "{dry}");
    assert!(target.store.list_bindings().await.unwrap().is_empty());

    // A file with bad rows imports nothing and names every bad line.
    let bad = dir.path().join("bad.csv");
    let mut text = csv.clone();
    text.push_str("abc,teacher,,,,,\n");
    text.push_str("42,parent,wizard,,,,\n");
    text.push_str("43,parent,,,,,\n");
    std::fs::write(&bad, &text).unwrap();
    let out = run(&["bindings", "import", bad.to_str().unwrap(), "-c", t]).await;
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("bad.csv:4: esia_oid"), "{err}");
    assert!(err.contains("bad.csv:5: diary_role \"wizard\""), "{err}");
    assert!(
        err.contains("bad.csv:6: diary_login \"parent\" repeats line 2"),
        "{err}"
    );
    assert!(err.contains("nothing imported"), "{err}");
    assert!(target.store.list_bindings().await.unwrap().is_empty());

    let done = ok(&run(&["bindings", "import", csv_file.to_str().unwrap(), "-c", t]).await);
    assert!(done.contains("imported 2 binding(s)"), "{done}");
    let mut source = stand.store.list_bindings().await.unwrap();
    let mut copied = target.store.list_bindings().await.unwrap();
    source.sort_by_key(|b| b.esia_oid);
    copied.sort_by_key(|b| b.esia_oid);
    assert_eq!(copied, source);

    // Again: every row is a duplicate of an existing binding, and nothing changes.
    let dup = run(&["bindings", "import", json_file.to_str().unwrap(), "-c", t]).await;
    assert_eq!(dup.status.code(), Some(2));
    let err = stderr(&dup);
    assert!(
        err.contains("bindings.json:1: diary login \"parent\" is already bound"),
        "{err}"
    );
    assert!(err.contains("bindings.json:2: diary login"), "{err}");
    assert_eq!(target.store.list_bindings().await.unwrap().len(), 2);
}
