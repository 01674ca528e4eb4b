//! Immediate cross-replica logout: drops cached sessions as the store announces that
//! they ended elsewhere. Without a feed (SQLite) nothing is started and the cache TTL
//! alone bounds how long another replica may still see an ended session.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::task::JoinHandle;

use super::Sessions;
use crate::store::StoreResult;

/// Pause before resubscribing after the feed failed.
const RETRY: Duration = Duration::from_secs(1);

impl Sessions {
    /// Subscribes to the store's ended-session feed and follows it in a task until the
    /// handle is aborted. `Ok(None)`: the store has no feed. Returns once subscribed,
    /// so an end after this call is always seen (unless the connection drops, which
    /// the cache TTL covers); a failed subscription is the caller's to report.
    pub async fn start_invalidation_listener(
        self: &Arc<Self>,
    ) -> StoreResult<Option<JoinHandle<()>>> {
        let Some(first) = self.store.ended_sessions().await? else {
            return Ok(None);
        };
        let sessions = Arc::clone(self);
        Ok(Some(tokio::spawn(async move {
            let mut feed = Some(first);
            loop {
                if let Some(mut ended) = feed.take() {
                    while let Some(key) = ended.next().await {
                        sessions.cache.invalidate(&key).await;
                    }
                }
                tokio::time::sleep(RETRY).await;
                match sessions.store.ended_sessions().await {
                    Ok(Some(f)) => feed = Some(f),
                    Ok(None) => return,
                    Err(e) => tracing::warn!(error = %e, "cannot follow ended sessions"),
                }
            }
        })))
    }
}
