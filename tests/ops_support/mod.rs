//! Running the REAL `esia-gateway` binary's operator commands against the store of a
//! running linking stand (`link_support`), with a `gateway.toml` that names the same
//! database and vault keys.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::link_support::Stand;
use crate::store_support::Location;

pub const BIN: &str = env!("CARGO_BIN_EXE_esia-gateway");

/// Writes `gateway.toml` into `dir` for `location`, with `[vault]` when given, plus
/// `extra` TOML appended.
pub fn gateway_toml(
    dir: &Path,
    stand: &Stand,
    location: &Location,
    vault: Option<(&Path, &[PathBuf])>,
    extra: &str,
) -> PathBuf {
    let q = |p: &Path| toml::Value::String(p.display().to_string()).to_string();
    let mut text = format!(
        "[listen]\nhttps = \"127.0.0.1:0\"\n\n[tls]\ncert = {}\nkey = {}\n\n\
         [upstream]\nurl = \"http://127.0.0.1:9\"\n\n",
        q(&stand.pki.files.cert),
        q(&stand.pki.files.key),
    );
    match location {
        Location::Sqlite(p) => text.push_str(&format!(
            "[store]\nbackend = \"sqlite\"\npath = {}\n\n",
            q(p)
        )),
        Location::Postgres(u) => text.push_str(&format!(
            "[store]\nbackend = \"postgres\"\nurl = {}\n\n",
            toml::Value::String(u.clone())
        )),
    }
    if let Some((key, old)) = vault {
        let old: Vec<String> = old.iter().map(|p| q(p)).collect();
        text.push_str(&format!(
            "[vault]\nkey = {}\nold_keys = [{}]\n\n",
            q(key),
            old.join(", ")
        ));
    }
    text.push_str(extra);
    let path = dir.join("gateway.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `esia-gateway ARGS…` to completion.
pub async fn run(args: &[&str]) -> Output {
    tokio::process::Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .await
        .unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts exit 0 and returns stdout.
pub fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        stdout(o),
        stderr(o)
    );
    stdout(o)
}

/// Sessions of a diary user or ESIA account, counted in the database itself.
pub async fn sessions_of(location: &Location, login: &str, oid: i64) -> i64 {
    const Q: &str = "SELECT COUNT(*) FROM sessions WHERE diary_login = $1 OR esia_oid = $2";
    match location {
        Location::Sqlite(p) => {
            let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", p.display()))
                .await
                .unwrap();
            let n = sqlx::query_scalar(Q)
                .bind(login)
                .bind(oid)
                .fetch_one(&pool)
                .await
                .unwrap();
            pool.close().await;
            n
        }
        Location::Postgres(u) => {
            let pool = sqlx::PgPool::connect(u).await.unwrap();
            let n = sqlx::query_scalar(Q)
                .bind(login)
                .bind(oid)
                .fetch_one(&pool)
                .await
                .unwrap();
            pool.close().await;
            n
        }
    }
}

/// The stand's database location.
pub fn db_location(stand: &Stand) -> Location {
    stand
        .db
        .as_ref()
        .map(|db| db.location.clone())
        .expect("the stand owns its database")
}
