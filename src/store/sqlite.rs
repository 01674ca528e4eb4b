//! The default store: one SQLite file under the data dir.
//!
//! Durability: WAL journal with `synchronous=FULL`, so every commit is fsynced before
//! the call returns and survives kill -9 and power loss. The file is created mode 0600
//! (it holds vault ciphertexts and session hashes). Writers from several pool
//! connections wait on each other through `busy_timeout` instead of failing.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use uuid::Uuid;

use super::records::*;
use super::shared_impl::impl_store;
use super::{Conflict, StoreError, StoreResult, sql};

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

/// KiB of page cache per SQLite connection (`PRAGMA cache_size` takes KiB when negative).
const SQLITE_CACHE_KIB: u32 = 512;

impl SqliteStore {
    /// Opens (creating if needed, parent dirs included) and migrates the database file.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        prepare_file(path).map_err(|source| StoreError::Open {
            path: path.display().to_string(),
            source,
        })?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // SQLite's own page cache, per connection: 2 MiB by default, 8 MiB over the
            // pool once 100,000 sessions are read — a quarter of the gateway's memory.
            // Hot sessions are served from the session cache; a miss is a primary-key
            // lookup of a few pages, which the OS's file cache answers as fast.
            .pragma("cache_size", format!("-{SQLITE_CACHE_KIB}"));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(StoreError::Migrate)?;
        Ok(Self { pool })
    }

    /// Closes the pool, checkpointing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Parent directories, and the file itself created 0600 before SQLite opens it (SQLite
/// then gives its -wal and -shm files the same mode).
fn prepare_file(path: &Path) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut open = std::fs::OpenOptions::new();
    open.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    open.open(path).map(drop)
}

impl_store!(SqliteStore);

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_connection_keeps_a_small_page_cache() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("gateway.db"))
            .await
            .unwrap();
        // Several connections at once: each was opened with the pragma.
        let mut held = Vec::new();
        for _ in 0..3 {
            let mut conn = store.pool.acquire().await.unwrap();
            let kib: i64 = sqlx::query_scalar("PRAGMA cache_size")
                .fetch_one(&mut *conn)
                .await
                .unwrap();
            assert_eq!(kib, -i64::from(SQLITE_CACHE_KIB));
            held.push(conn);
        }
        drop(held);
        store.close().await;
    }
}
