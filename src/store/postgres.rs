//! The store for several gateway replicas: one PostgreSQL database shared by all.
//!
//! Same schema semantics and the same SQL as SQLite (see `sql.rs`). Single-use of
//! login flows holds across replicas because taking one is a `DELETE … RETURNING`.
//! Migrations take PostgreSQL's advisory lock, so replicas may start together.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use uuid::Uuid;

use super::records::*;
use super::shared_impl::impl_store;
use super::{Conflict, StoreError, StoreResult, sql};

#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects (`postgres://user@host:port/db`) and runs the migrations.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .map_err(StoreError::Migrate)?;
        Ok(Self { pool })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

impl_store!(PostgresStore);
