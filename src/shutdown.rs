//! Shutdown as two signals and a counter.
//!
//! `begin()` asks everyone to finish gracefully (accept loops stop, connections finish
//! the request in flight and close); `force()` is the end of the grace period (whatever
//! is left is dropped). Every connection and tunnel task holds a [`TaskGuard`], so
//! [`Shutdown::drained`] knows when the last one is gone.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{Notify, watch};

/// The controlling side, kept by the running gateway.
#[derive(Debug, Clone)]
pub struct Shutdown {
    graceful: Arc<watch::Sender<bool>>,
    hard: Arc<watch::Sender<bool>>,
    tracker: Tracker,
}

/// The listening side, cloned into every task.
#[derive(Debug, Clone)]
pub struct ShutdownSignal {
    graceful: watch::Receiver<bool>,
    hard: watch::Receiver<bool>,
    tracker: Tracker,
}

#[derive(Debug, Clone, Default)]
struct Tracker {
    inner: Arc<TrackerInner>,
}

#[derive(Debug, Default)]
struct TrackerInner {
    count: AtomicUsize,
    idle: Notify,
}

/// Counts one live task until dropped.
#[derive(Debug)]
pub struct TaskGuard {
    tracker: Tracker,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    pub fn new() -> Self {
        let (graceful, _) = watch::channel(false);
        let (hard, _) = watch::channel(false);
        Self {
            graceful: Arc::new(graceful),
            hard: Arc::new(hard),
            tracker: Tracker::default(),
        }
    }

    pub fn signal(&self) -> ShutdownSignal {
        ShutdownSignal {
            graceful: self.graceful.subscribe(),
            hard: self.hard.subscribe(),
            tracker: self.tracker.clone(),
        }
    }

    /// Start the graceful phase.
    pub fn begin(&self) {
        self.graceful.send_replace(true);
    }

    /// End of grace: drop what is left.
    pub fn force(&self) {
        self.graceful.send_replace(true);
        self.hard.send_replace(true);
    }

    /// Tasks still tracked.
    pub fn live_tasks(&self) -> usize {
        self.tracker.inner.count.load(Ordering::Acquire)
    }

    /// Resolves once no tracked task is left.
    pub async fn drained(&self) {
        loop {
            let notified = self.tracker.inner.idle.notified();
            if self.live_tasks() == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl ShutdownSignal {
    /// Resolves when the graceful phase starts (or the controller is gone).
    pub async fn graceful(&self) {
        let mut rx = self.graceful.clone();
        let _ = rx.wait_for(|v| *v).await;
    }

    /// Resolves when the grace period is over.
    pub async fn hard(&self) {
        let mut rx = self.hard.clone();
        let _ = rx.wait_for(|v| *v).await;
    }

    pub fn is_shutting_down(&self) -> bool {
        *self.graceful.borrow()
    }

    pub fn track(&self) -> TaskGuard {
        self.tracker.inner.count.fetch_add(1, Ordering::AcqRel);
        TaskGuard {
            tracker: self.tracker.clone(),
        }
    }
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if self.tracker.inner.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.tracker.inner.idle.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn drained_waits_for_the_last_guard() {
        let s = Shutdown::new();
        let sig = s.signal();
        let g1 = sig.track();
        let g2 = sig.track();
        assert_eq!(s.live_tasks(), 2);
        s.begin();
        sig.graceful().await;
        assert!(sig.is_shutting_down());
        drop(g1);
        let waiting = tokio::time::timeout(Duration::from_millis(50), s.drained()).await;
        assert!(waiting.is_err(), "one guard still alive");
        drop(g2);
        s.drained().await;
        s.force();
        sig.hard().await;
    }
}
