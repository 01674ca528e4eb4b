//! How many ESIA logins one client address may start per minute. Each start writes a
//! flow to the store and signs a request (maybe forking the signer), and the start
//! page is open to anyone: without a limit one script costs the store and the signer
//! as much as a whole region. The address is the client's as the proxy resolved it
//! (behind trusted forwarders, the browser's own), so one school behind one NAT shares
//! a budget — set `[login] starts_per_minute` for the largest such school.
//!
//! A fixed one-minute window per address, in memory: a replica limits what reaches
//! it, which is what protects its signer.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);
/// Addresses remembered before stale windows are swept.
const SWEEP_AT: usize = 100_000;

pub struct StartLimit {
    per_minute: u32,
    windows: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl StartLimit {
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute: per_minute.max(1),
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one start of `ip` at `now`; `Err(wait)` when over the limit.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if windows.len() >= SWEEP_AT {
            windows.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let (start, count) = windows.entry(ip.to_canonical()).or_insert((now, 0));
        if now.duration_since(*start) >= WINDOW {
            *start = now;
            *count = 0;
        }
        if *count >= self.per_minute {
            return Err(WINDOW.saturating_sub(now.duration_since(*start)));
        }
        *count += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_has_its_own_minute() {
        let l = StartLimit::new(3);
        let t = Instant::now();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            assert!(l.check(a, t).is_ok());
        }
        let wait = l.check(a, t + Duration::from_secs(10)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(50));
        assert!(l.check(b, t).is_ok(), "another address is not limited");
        // The same address as IPv4-mapped IPv6 is the same client.
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert!(l.check(mapped, t).is_err());
        assert!(l.check(a, t + WINDOW).is_ok(), "a new minute");
    }
}
