//! `esia-gateway audit` — the real binary on the audit trail of a real story through
//! the gateway (ESIA logins, a failed and a successful link, a logout), on SQLite and
//! PostgreSQL: filters, JSON lines, `--follow` seeing a login as it happens, the
//! retention purge, and a grep of everything printed for passwords, SNILS and tokens.

mod link_support;
mod ops_support;
#[macro_use]
mod store_support;
mod support;

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use esia_gateway::store::{AuditEvent, AuditKind};
use link_support::*;
use ops_support::*;
use tokio::io::AsyncBufReadExt;

on_both_stores!(
    a_real_story_is_queried_by_user_kind_and_time_without_any_secret,
    follow_prints_a_login_as_it_happens,
    purge_deletes_only_events_past_retention,
);

/// A wrong password that must never reach the trail.
const WRONG_PASSWORD: &str = "Wr0ng-Pa55-for-grep";

/// ESIA login, a failed link (wrong password), a successful one, a second user linked.
async fn story(db: Db) -> (Stand, Browser, std::path::PathBuf) {
    let stand = Stand::start(Options {
        db,
        ..Options::default()
    })
    .await;
    let b = stand.browser();
    let cb = stand.esia_login(&b, "/marks", "confirmed").await;
    assert_eq!(location(&cb), "/marks");
    let failed = stand.submit_link(&b, "parent", WRONG_PASSWORD).await;
    assert!(!failed.status().is_redirection(), "a wrong password linked");
    let linked = stand.submit_link(&b, "parent", "demo").await;
    assert_eq!(location(&linked), "/marks");
    let b2 = stand.browser();
    let r = stand
        .login_and_link(&b2, "simplified", "student", "demo")
        .await;
    assert_eq!(location(&r), "/marks");
    let cfg = gateway_toml(stand.dir.path(), &stand, &db_location(&stand), None, "");
    (stand, b, cfg)
}

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn kinds(events: &[serde_json::Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

/// Every SNILS the ESIA mock knows, with and without its separators.
fn snils_numbers() -> Vec<String> {
    let personas: toml::Table =
        toml::from_str(esia_gateway::standins::esia_mock::DEFAULT_PERSONAS).unwrap();
    let mut out = Vec::new();
    for p in personas["persona"].as_array().unwrap() {
        if let Some(s) = p.get("snils").and_then(|s| s.as_str()) {
            out.push(s.to_owned());
            out.push(s.chars().filter(char::is_ascii_digit).collect());
        }
    }
    assert!(out.len() >= 4, "the mock's personas have SNILS numbers");
    out
}

async fn a_real_story_is_queried_by_user_kind_and_time_without_any_secret(db: Db) {
    let (stand, b, cfg) = story(db).await;
    let c = cfg.to_str().unwrap();
    let all_text = ok(&run(&["audit", "-c", c]).await);
    let all = json_lines(&all_text);
    let k = kinds(&all);
    for want in ["login", "link_failed", "link"] {
        assert!(k.iter().any(|x| x == want), "no {want} in {k:?}");
    }
    // Append order, increasing ids, RFC 3339 times.
    let ids: Vec<i64> = all.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert!(all[0]["ts"].as_str().unwrap().ends_with('Z'));

    let parent = json_lines(&ok(&run(&["audit", "--login", "parent", "-c", c]).await));
    assert!(!parent.is_empty());
    assert!(
        parent.iter().all(|e| e["diary_login"] == "parent"),
        "{parent:?}"
    );
    let oid = SIMPLIFIED_OID.to_string();
    let student = json_lines(&ok(&run(&["audit", "--oid", &oid, "-c", c]).await));
    assert!(!student.is_empty());
    assert!(student.iter().all(|e| e["esia_oid"] == SIMPLIFIED_OID));
    let links = json_lines(&ok(&run(&["audit", "--kind", "link", "-c", c]).await));
    assert_eq!(kinds(&links), vec!["link", "link"]);
    let one = json_lines(&ok(&run(&["audit", "--limit", "1", "-c", c]).await));
    assert_eq!(one.len(), 1);
    assert_eq!(one[0]["id"], all[0]["id"]);
    let future = ok(&run(&["audit", "--since", "2999-01-01", "-c", c]).await);
    assert!(future.is_empty(), "{future}");
    let past = ok(&run(&["audit", "--until", "2000-01-01T00:00", "-c", c]).await);
    assert!(past.is_empty(), "{past}");
    let recent = json_lines(&ok(&run(&["audit", "--since", "1h", "-c", c]).await));
    assert_eq!(recent.len(), all.len());
    let bad = run(&["audit", "--since", "yesterday", "-c", c]).await;
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("--since \"yesterday\""));

    // The grep: no password, SNILS or token anywhere in what the operator sees.
    let mut secrets: Vec<String> = vec![WRONG_PASSWORD.into(), "demo".into()];
    secrets.extend(snils_numbers());
    for (_, cookie) in b.seen.lock().unwrap().iter() {
        let value = cookie.split(';').next().unwrap_or("");
        if let Some((_, v)) = value.split_once('=')
            && v.len() >= 16
        {
            secrets.push(v.to_owned());
        }
    }
    for s in &secrets {
        assert!(
            !all_text.contains(s.as_str()),
            "audit output holds {s:?}:\n{all_text}"
        );
    }
    let jwt = regex::Regex::new(r"eyJ[A-Za-z0-9_-]{8,}").unwrap();
    assert!(
        !jwt.is_match(&all_text),
        "a JWT in the audit output:\n{all_text}"
    );
    let csrf: Vec<String> = match &db_location(&stand) {
        store_support::Location::Sqlite(p) => {
            let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", p.display()))
                .await
                .unwrap();
            sqlx::query_scalar("SELECT csrf_token FROM sessions")
                .fetch_all(&pool)
                .await
                .unwrap()
        }
        store_support::Location::Postgres(u) => {
            let pool = sqlx::PgPool::connect(u).await.unwrap();
            sqlx::query_scalar("SELECT csrf_token FROM sessions")
                .fetch_all(&pool)
                .await
                .unwrap()
        }
    };
    assert!(!csrf.is_empty());
    for t in &csrf {
        assert!(
            !all_text.contains(t.as_str()),
            "a CSRF token in the audit output"
        );
    }
}

async fn follow_prints_a_login_as_it_happens(db: Db) {
    let (stand, _b, cfg) = story(db).await;
    // Times are whole seconds: step past the story's last one.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut child = tokio::process::Command::new(BIN)
        .args([
            "audit",
            "--follow",
            "--kind",
            "login",
            "-c",
            cfg.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    // Only new events: nothing from the story so far.
    let early = tokio::time::timeout(Duration::from_millis(1500), lines.next_line()).await;
    assert!(early.is_err(), "printed an old event: {early:?}");

    let b = stand.browser();
    let cb = stand.esia_login(&b, "/marks", "confirmed").await;
    assert_eq!(location(&cb), "/marks");
    let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .expect("the login was printed within 10 s")
        .unwrap()
        .expect("a line");
    let e: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(e["kind"], "login");
    assert_eq!(e["esia_oid"], CONFIRMED_OID);
    child.kill().await.unwrap();
}

async fn purge_deletes_only_events_past_retention(db: Db) {
    let (stand, _b, _cfg) = story(db).await;
    let cfg = gateway_toml(
        stand.dir.path(),
        &stand,
        &db_location(&stand),
        None,
        "[audit]\nretention = \"30d\"\n",
    );
    let c = cfg.to_str().unwrap();
    ok(&run(&["check-config", "--config", c]).await);
    let before = json_lines(&ok(&run(&["audit", "-c", c]).await)).len();
    // The only hand-made rows: events dated before the retention window.
    for days in [31, 400] {
        let mut old = AuditEvent::new(Utc::now() - TimeDelta::days(days), AuditKind::Login);
        old.esia_oid = Some(1);
        stand.store.append_audit(&old).await.unwrap();
    }
    let mut recent = AuditEvent::new(Utc::now() - TimeDelta::days(29), AuditKind::Login);
    recent.esia_oid = Some(2);
    stand.store.append_audit(&recent).await.unwrap();
    let out = ok(&run(&["audit", "purge", "-c", c]).await);
    assert!(out.contains("deleted 2 audit event(s)"), "{out}");
    assert!(out.contains("retention 30 days"), "{out}");
    let left = json_lines(&ok(&run(&["audit", "-c", c]).await));
    assert_eq!(left.len(), before + 1);
    assert!(left.iter().all(|e| e["esia_oid"] != 1));

    let short = gateway_toml(
        stand.dir.path(),
        &stand,
        &db_location(&stand),
        None,
        "[audit]\nretention = \"1h\"\n",
    );
    let refused = run(&["audit", "purge", "-c", short.to_str().unwrap()]).await;
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("audit.retention"),
        "{}",
        stderr(&refused)
    );
}
