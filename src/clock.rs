//! Time as a dependency. Policy code (calendar, session expiry, rate limits) asks a
//! [`Clock`] instead of the wall clock, so tests and `demo --at` can stand on any date.
//! Protocol timestamps towards ESIA always use [`SystemClock`].

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
}

pub type SharedClock = Arc<dyn Clock>;

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Real time shifted by a fixed offset: `demo --at 2019-02-01` starts on that date and
/// then runs forward at normal speed, so phase changes still happen "live".
#[derive(Debug, Clone, Copy)]
pub struct OffsetClock {
    offset: chrono::TimeDelta,
}

impl OffsetClock {
    pub fn starting_at(start: DateTime<Utc>) -> Self {
        Self {
            offset: start - Utc::now(),
        }
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> DateTime<Utc> {
        // Saturates: a start date at the edge of chrono's range (from `demo --at`) must
        // not make every later `now()` panic on overflow.
        shift(Utc::now(), self.offset)
    }
}

/// A clock that moves only when told to; for tests.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Arc<Self> {
        Arc::new(Self {
            now: Mutex::new(start),
        })
    }

    pub fn set(&self, to: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(|p| p.into_inner()) = to;
    }

    pub fn advance(&self, by: chrono::TimeDelta) {
        let mut now = self.now.lock().unwrap_or_else(|p| p.into_inner());
        *now = shift(*now, by);
    }
}

/// `at + by`, clamped to the representable range instead of panicking.
fn shift(at: DateTime<Utc>, by: chrono::TimeDelta) -> DateTime<Utc> {
    at.checked_add_signed(by)
        .unwrap_or(if by < chrono::TimeDelta::zero() {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let start = DateTime::parse_from_rfc3339("2019-01-01T00:00:00+03:00")
            .unwrap()
            .to_utc();
        let c = ManualClock::new(start);
        assert_eq!(c.now(), start);
        c.advance(chrono::TimeDelta::seconds(5));
        assert_eq!(c.now(), start + chrono::TimeDelta::seconds(5));
    }

    #[test]
    fn offset_clock_starts_near_the_given_date() {
        let start = DateTime::parse_from_rfc3339("2019-02-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let c = OffsetClock::starting_at(start);
        assert!((c.now() - start).num_seconds().abs() < 5);
    }

    #[test]
    fn clocks_at_the_edge_of_time_saturate_instead_of_panicking() {
        let c = ManualClock::new(DateTime::<Utc>::MAX_UTC);
        c.advance(chrono::TimeDelta::days(1));
        assert_eq!(c.now(), DateTime::<Utc>::MAX_UTC);
        c.set(DateTime::<Utc>::MIN_UTC);
        c.advance(chrono::TimeDelta::days(-1));
        assert_eq!(c.now(), DateTime::<Utc>::MIN_UTC);
        c.advance(chrono::TimeDelta::MAX);
        assert_eq!(c.now(), DateTime::<Utc>::MAX_UTC);
        for edge in [DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MIN_UTC] {
            let o = OffsetClock::starting_at(edge);
            std::thread::sleep(std::time::Duration::from_millis(2));
            assert!((o.now() - edge).num_seconds().abs() < 5);
        }
    }
}
