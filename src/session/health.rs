//! Whether the store was just seen failing, for the session reads on every request.
//!
//! During an outage each store call waits out the pool's acquire timeout (5 s on
//! PostgreSQL) before failing. Without this, every request of every cached session
//! paid that wait; now, after a failure, requests serve their cached session (within
//! `[session] outage_grace`) or fail at once, and one request at a time, at most every
//! [`PROBE_EVERY`], asks the store whether it is back. Infrastructure timing on the
//! monotonic clock, not policy: no calendar or session lifetime depends on it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How often, while the store is failing, one request tries it again.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
pub struct StoreHealth {
    /// When the store last failed; `None` while it answers.
    failed_at: Mutex<Option<Instant>>,
    /// A request is asking the store right now on everyone's behalf.
    probing: AtomicBool,
}

/// May this request ask the store?
#[must_use]
pub enum Ask<'a> {
    /// Yes (healthy, or this request is the probe: it ends when the value drops).
    Go(Option<Probe<'a>>),
    /// No: the store failed a moment ago and another request finds out.
    Skip,
}

/// The one request asking a failing store; releases the turn when dropped.
pub struct Probe<'a>(&'a StoreHealth);

impl Drop for Probe<'_> {
    fn drop(&mut self) {
        self.0.probing.store(false, Ordering::Release);
    }
}

impl StoreHealth {
    pub fn ask(&self) -> Ask<'_> {
        let failed_at = match self.failed_at.lock() {
            Ok(g) => *g,
            // A poisoned lock only means a panic elsewhere: ask the store.
            Err(_) => return Ask::Go(None),
        };
        let Some(failed_at) = failed_at else {
            return Ask::Go(None);
        };
        if failed_at.elapsed() < PROBE_EVERY {
            return Ask::Skip;
        }
        match self
            .probing
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => Ask::Go(Some(Probe(self))),
            Err(_) => Ask::Skip,
        }
    }

    /// The store answered (whatever it said).
    pub fn answered(&self) {
        if let Ok(mut g) = self.failed_at.lock()
            && g.is_some()
        {
            *g = None;
            tracing::info!("the store answers again");
        }
    }

    /// The store could not be reached.
    pub fn failed(&self) {
        if let Ok(mut g) = self.failed_at.lock() {
            *g = Some(Instant::now());
        }
    }

    pub fn is_failing(&self) -> bool {
        self.failed_at.lock().map(|g| g.is_some()).unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_a_failure_one_probe_at_a_time_and_not_at_once() {
        let h = StoreHealth::default();
        assert!(matches!(h.ask(), Ask::Go(None)), "healthy: everyone asks");
        h.failed();
        assert!(h.is_failing());
        assert!(matches!(h.ask(), Ask::Skip), "just failed: nobody asks");
        // Pretend the failure is older than PROBE_EVERY.
        *h.failed_at.lock().unwrap() = Instant::now().checked_sub(PROBE_EVERY * 2);
        let probe = h.ask();
        assert!(matches!(probe, Ask::Go(Some(_))), "one probe");
        assert!(matches!(h.ask(), Ask::Skip), "only one at a time");
        drop(probe);
        assert!(matches!(h.ask(), Ask::Go(Some(_))), "the turn is released");
        h.answered();
        assert!(!h.is_failing());
        assert!(matches!(h.ask(), Ask::Go(None)));
    }
}
