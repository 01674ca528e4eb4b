//! Route discovery: which pages the diary serves to signed-in users that no route group
//! covers, so the operator finds the grade pages the config forgot before the cutover.
//!
//! A GET that no group matched, from a signed-in session, answered 200 with a page
//! (HTML or JSON, not an asset), is counted under its route: the canonical match path
//! plus the routing parameters the route groups read (`module`, `modname`, …), with
//! numbers folded to `{n}` (`/student/{n}/marks`) so that pupils' ids do not become
//! routes. Counts only — no user, no address, no time of a request. Counts collect in
//! memory (at most [`MAX_PENDING`] routes between flushes) and are added to the store
//! every [`FLUSH_EVERY`]; `esia-gateway report routes` reads them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::clock::SharedClock;
use crate::policy::{CanonicalRequest, Policy};
use crate::store::SharedStore;

/// Distinct routes held in memory between two flushes; more are dropped (and counted).
pub const MAX_PENDING: usize = 2_000;
/// How often the counts go to the store.
pub const FLUSH_EVERY: Duration = Duration::from_secs(60);

pub struct RouteCounter {
    /// The routing parameters some group's query condition reads, sorted.
    names: Vec<String>,
    pending: Mutex<HashMap<String, u64>>,
    dropped: AtomicU64,
}

impl RouteCounter {
    pub fn new(policy: &Policy) -> Self {
        Self {
            names: policy
                .routing_parameters()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            pending: Mutex::new(HashMap::new()),
            dropped: AtomicU64::new(0),
        }
    }

    /// The route a request is counted under: `GET /index.php?module=export`.
    pub fn route(&self, policy: &Policy, c: &CanonicalRequest) -> String {
        let mut route = format!("{} {}", c.method, fold_numbers(policy.match_path(c)));
        let mut sep = '?';
        for name in &self.names {
            if let Some(value) = c.query.get_scalar(name) {
                route.push(sep);
                route.push_str(name);
                route.push('=');
                route.push_str(&escape(&fold_numbers(value)));
                sep = '&';
            }
        }
        route
    }

    /// One more hit of `route`.
    pub fn count(&self, route: String) {
        self.restore(vec![(route, 1)]);
    }

    /// Puts drained counts back (the store was unavailable), within the same cap.
    fn restore(&self, hits: Vec<(String, u64)>) {
        let Ok(mut pending) = self.pending.lock() else {
            return;
        };
        for (route, n) in hits {
            let len = pending.len();
            match pending.get_mut(&route) {
                Some(m) => *m += n,
                None if len < MAX_PENDING => {
                    pending.insert(route, n);
                }
                None => {
                    self.dropped.fetch_add(n, Ordering::Relaxed);
                }
            }
        }
    }

    /// The counts since the last drain.
    pub fn drain(&self) -> Vec<(String, u64)> {
        match self.pending.lock() {
            Ok(mut pending) => pending.drain().collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Hits dropped because too many distinct routes came between two flushes.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Adds the pending counts to the store; on failure they are kept for the next try.
    pub async fn flush(&self, store: &SharedStore, clock: &SharedClock) {
        let hits = self.drain();
        if hits.is_empty() {
            return;
        }
        if let Err(e) = store.add_route_hits(&hits, clock.now()).await {
            tracing::warn!(error = %e, routes = hits.len(), "cannot store route discovery counts; kept for the next try");
            self.restore(hits);
        }
    }
}

/// A decoded value written back into a query so that it reads the same again (the
/// route is also a request target `report routes` re-checks); `/` stays readable.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for ch in value.chars() {
        match ch {
            '%' | '&' | '=' | '#' | '+' | '?' => out.push_str(&format!("%{:02X}", ch as u32)),
            c if c.is_whitespace() || c.is_control() => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// A counted route as a request `(method, target)` the policy can judge again:
/// `{n}` stands for any number, so `1` is as good as any.
pub fn as_request(route: &str) -> Option<(&str, String)> {
    let (method, target) = route.split_once(' ')?;
    Some((method, target.replace("{n}", "1")))
}

/// Every run of ASCII digits becomes `{n}`: `/student/1234/marks` → `/student/{n}/marks`.
pub fn fold_numbers(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_number = false;
    for ch in s.chars() {
        if ch.is_ascii_digit() {
            if !in_number {
                out.push_str("{n}");
                in_number = true;
            }
        } else {
            in_number = false;
            out.push(ch);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_fold_so_ids_do_not_become_routes() {
        assert_eq!(fold_numbers("/student/1234/marks"), "/student/{n}/marks");
        assert_eq!(fold_numbers("/a1b22c"), "/a{n}b{n}c");
        assert_eq!(fold_numbers("/marks"), "/marks");
        assert_eq!(
            fold_numbers("Grades/Report2024.php"),
            "Grades/Report{n}.php"
        );
    }

    #[test]
    fn routes_carry_only_the_routing_parameters() {
        let policy = crate::policy::default_policy();
        let counter = RouteCounter::new(&policy);
        assert!(
            counter.names.iter().any(|n| n == "module"),
            "{:?}",
            counter.names
        );
        let c = policy
            .canonicalize("GET", "/index.php?student_id=77&module=export&sort=1")
            .unwrap();
        assert_eq!(counter.route(&policy, &c), "GET /index.php?module=export");
        let c = policy.canonicalize("GET", "/pupil/981/report").unwrap();
        assert_eq!(counter.route(&policy, &c), "GET /pupil/{n}/report");
    }

    #[test]
    fn a_route_reads_back_as_the_request_it_came_from() {
        let policy = crate::policy::default_policy();
        let counter = RouteCounter::new(&policy);
        let c = policy
            .canonicalize("GET", "/index.php?module=a%26b%3Dc%20d%2Fe")
            .unwrap();
        let route = counter.route(&policy, &c);
        assert_eq!(route, "GET /index.php?module=a%26b%3Dc%20d/e");
        let (method, target) = as_request(&route).unwrap();
        let again = policy.canonicalize(method, &target).unwrap();
        assert_eq!(again.query.get_scalar("module"), Some("a&b=c d/e"));
        assert_eq!(as_request("GET /p/{n}/x").unwrap().1, "/p/1/x");
        assert_eq!(as_request("nonsense"), None);
    }

    #[test]
    fn counts_add_up_and_a_flood_of_routes_is_capped() {
        let policy = crate::policy::default_policy();
        let counter = RouteCounter::new(&policy);
        counter.count("GET /a".into());
        counter.count("GET /a".into());
        for i in 0..MAX_PENDING + 10 {
            counter.count(format!("GET /x{i}"));
        }
        assert_eq!(counter.dropped(), 11);
        let drained = counter.drain();
        assert_eq!(drained.len(), MAX_PENDING);
        assert!(drained.contains(&("GET /a".to_owned(), 2)));
        assert!(counter.drain().is_empty());
    }
}
