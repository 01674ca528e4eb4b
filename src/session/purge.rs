//! The background purge: expired sessions and login flows, and rate-limit attempts and
//! audit events past their retention, are deleted every interval. Losing a run is harmless (the
//! read path checks expiry itself), so errors are logged and the loop goes on.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::{Sessions, delta};
use crate::store::StoreResult;

/// Counts from one purge run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub sessions: u64,
    pub flows: u64,
    pub attempts: u64,
    /// Audit events past `[audit] retention`.
    pub audit: u64,
}

impl Sessions {
    /// One purge run at the clock's current time.
    pub async fn purge_expired(&self) -> StoreResult<Purged> {
        let now = self.clock.now();
        let sessions = self.store.delete_expired_sessions(now).await?;
        let flows = self.store.delete_expired_flows(now).await?;
        let cutoff = now
            .checked_sub_signed(delta(self.policy.attempt_retention))
            .unwrap_or(now);
        let attempts = self.store.prune_attempts(cutoff).await?;
        let audit = match self.audit_retention {
            Some(keep) => match now.checked_sub_signed(delta(keep)) {
                Some(cutoff) => self.store.purge_audit(cutoff).await?,
                None => 0,
            },
            None => 0,
        };
        Ok(Purged {
            sessions,
            flows,
            attempts,
            audit,
        })
    }

    /// Runs [`Sessions::purge_expired`] every `interval` until the handle is aborted.
    pub fn spawn_purge(self: &Arc<Self>, interval: Duration) -> JoinHandle<()> {
        let sessions = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match sessions.purge_expired().await {
                    Ok(p) => tracing::debug!(?p, "purged expired sessions and flows"),
                    Err(e) => tracing::warn!(error = %e, "session purge failed"),
                }
            }
        })
    }
}
