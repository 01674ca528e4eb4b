//! The store for several gateway replicas: one PostgreSQL database shared by all.
//!
//! Same schema semantics and the same SQL as SQLite (see `sql.rs`). Single-use of
//! login flows holds across replicas because taking one is a `DELETE … RETURNING`.
//! Migrations take PostgreSQL's advisory lock, so replicas may start together.
//! Ended sessions are announced with NOTIFY (a trigger, so purge and operator deletes
//! count too); see [`Store::ended_sessions`](super::Store::ended_sessions).

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use sqlx::PgPool;
use sqlx::postgres::{PgListener, PgPoolOptions};
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

impl_store!(PostgresStore;
    fn ended_sessions(&self) -> BoxFuture<'_, StoreResult<Option<super::EndedSessions>>> {
        Box::pin(async move { self.listen_for_ended_sessions().await.map(Some) })
    }
);

impl PostgresStore {
    /// A dedicated connection LISTENing on the channel the `sessions_ended` trigger
    /// (migration 0002) notifies. sqlx reconnects and re-listens after a lost
    /// connection; the stream ends only on an error, and the caller resubscribes.
    async fn listen_for_ended_sessions(&self) -> StoreResult<super::EndedSessions> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(SESSION_CHANNEL).await?;
        let stream = futures_util::stream::unfold(listener, |mut l| async move {
            loop {
                match l.try_recv().await {
                    Ok(Some(n)) => {
                        if let Some(key) = parse_key(n.payload()) {
                            return Some((key, l));
                        }
                    }
                    // Connection lost; the next call reconnects.
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "session notification feed ended");
                        return None;
                    }
                }
            }
        });
        Ok(Box::pin(stream))
    }
}

const SESSION_CHANNEL: &str = "esia_gw_sessions";

fn parse_key(payload: &str) -> Option<SessionKey> {
    let mut key = [0u8; 32];
    hex::decode_to_slice(payload, &mut key).ok()?;
    Some(SessionKey(key))
}
