//! Test databases for the store tests: a SQLite file in a temp dir, or a fresh
//! PostgreSQL database on the local server (trust auth), dropped when the fixture is
//! dropped — even when the test panics — so tests run in parallel and repeatedly.
//!
//! `ESIA_GW_TEST_PG` overrides the admin URL (default
//! `postgres://postgres@127.0.0.1:5432/test`).

#![allow(dead_code)] // each test file uses a different part

pub mod counting;

/// `on_both_stores!(a, b)`: each `async fn a(db: Db)` of the test file runs as a test
/// on SQLite and on PostgreSQL (`sqlite::a`, `postgres::a`).
#[allow(unused_macros)]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Db::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Db::Postgres).await })*
        }
    };
}

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use esia_gateway::store::SharedStore;
use esia_gateway::store::postgres::PostgresStore;
use esia_gateway::store::sqlite::SqliteStore;
use sqlx::Connection;

pub fn admin_url() -> String {
    std::env::var("ESIA_GW_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Where a test database lives; enough to reopen it (or hand it to a child process).
#[derive(Debug, Clone)]
pub enum Location {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Location {
    pub async fn open(&self) -> SharedStore {
        match self {
            Self::Sqlite(p) => Arc::new(SqliteStore::open(p).await.unwrap()),
            Self::Postgres(u) => Arc::new(PostgresStore::connect(u).await.unwrap()),
        }
    }

    /// `sqlite:PATH` or the PostgreSQL URL, for an environment variable.
    pub fn to_env(&self) -> String {
        match self {
            Self::Sqlite(p) => format!("sqlite:{}", p.display()),
            Self::Postgres(u) => u.clone(),
        }
    }

    pub fn from_env(s: &str) -> Self {
        match s.strip_prefix("sqlite:") {
            Some(p) => Self::Sqlite(p.into()),
            None => Self::Postgres(s.to_owned()),
        }
    }
}

pub struct TestDb {
    pub store: SharedStore,
    pub location: Location,
    _dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

impl TestDb {
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        // A nested path also checks that open() creates parent dirs.
        let location = Location::Sqlite(dir.path().join("data/sub/gateway.db"));
        Self {
            store: location.open().await,
            location,
            _dir: Some(dir),
            pg_name: None,
        }
    }

    pub async fn postgres() -> Self {
        let name = format!("esia_gw_t_{}", uuid::Uuid::new_v4().simple());
        let admin = admin_url();
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        let mut url = url::Url::parse(&admin).unwrap();
        url.set_path(&name);
        let location = Location::Postgres(url.to_string());
        Self {
            store: location.open().await,
            location,
            _dir: None,
            pg_name: Some(name),
        }
    }

    pub async fn reopen(&self) -> SharedStore {
        self.location.open().await
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        // Drop runs inside the test's runtime, which cannot block on itself: use a
        // short-lived runtime on another thread.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url()).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

/// A fixed instant to build test data from.
pub fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2019-01-10T09:00:00Z")
        .unwrap()
        .to_utc()
}

/// Generates `mod sqlite { #[tokio::test] async fn NAME() }` and the same for
/// PostgreSQL for each scenario `async fn NAME(db: &TestDb)` in the calling file.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = $crate::store_support::TestDb::sqlite().await;
                    super::$name(&db).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = $crate::store_support::TestDb::postgres().await;
                    super::$name(&db).await;
                }
            )+
        }
    };
}
