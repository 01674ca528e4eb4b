//! Which connections are served: `[limits] max_connections` over all public listeners
//! and `max_connections_per_client` per TCP peer address (trusted forwarders exempt:
//! the region's load balancer carries everyone). A connection past either cap is not
//! served: it gets one 503 page saying so (with `Retry-After`) and is closed, and the
//! refusal is counted in `esia_gateway_connections_refused_total{reason}`. At most
//! [`REFUSALS_ANSWERED`] refusals are answered at once; past that a refused connection
//! is closed at once (a flood must not cost a TLS handshake per connection).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use ipnet::IpNet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

use crate::metrics::Metrics;

type Labels = Vec<(&'static str, &'static str)>;

/// Refused connections being answered with the 503 page at one time.
pub const REFUSALS_ANSWERED: usize = 64;

/// The caps in force (from the current configuration; a reload replaces them).
#[derive(Debug, Clone)]
pub struct Caps {
    pub total: usize,
    pub per_client: usize,
    pub exempt: Vec<IpNet>,
}

/// Open connections, in total and per peer address.
pub struct Admission {
    open: Mutex<Open>,
    refused: Family<Labels, Counter>,
    answering: AtomicUsize,
}

#[derive(Default)]
struct Open {
    total: usize,
    per_client: HashMap<IpAddr, usize>,
}

/// Why a connection was not admitted (the metric's label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Total,
    PerClient,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Total => "max_connections",
            Self::PerClient => "max_connections_per_client",
        }
    }
}

/// An admitted connection's place; given back when dropped.
pub struct Ticket {
    admission: Arc<Admission>,
    peer: IpAddr,
}

impl Admission {
    pub fn new(metrics: &Metrics) -> Arc<Self> {
        let refused = Family::<Labels, Counter>::default();
        metrics.register(
            "connections_refused",
            "Connections answered with 503 and closed because a cap was reached, by cap: \
             max_connections, max_connections_per_client",
            refused.clone(),
        );
        Arc::new(Self {
            open: Mutex::new(Open::default()),
            refused,
            answering: AtomicUsize::new(0),
        })
    }

    /// A place to answer one refused connection with its page, if one is free.
    pub fn answer_refusal(self: &Arc<Self>) -> Option<Answering> {
        let before = self.answering.fetch_add(1, Ordering::AcqRel);
        let slot = Answering(self.clone());
        (before < REFUSALS_ANSWERED).then_some(slot)
    }

    /// Takes a place for a connection from `peer`, or says which cap is full.
    pub fn admit(self: &Arc<Self>, peer: IpAddr, caps: &Caps) -> Result<Ticket, Refusal> {
        let exempt = caps.exempt.iter().any(|net| net.contains(&peer));
        let refusal = {
            let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
            let mine = open.per_client.get(&peer).copied().unwrap_or(0);
            if open.total >= caps.total {
                Some(Refusal::Total)
            } else if !exempt && mine >= caps.per_client {
                Some(Refusal::PerClient)
            } else {
                open.total += 1;
                *open.per_client.entry(peer).or_insert(0) += 1;
                None
            }
        };
        match refusal {
            Some(r) => {
                self.refused
                    .get_or_create(&vec![("reason", r.as_str())])
                    .inc();
                Err(r)
            }
            None => Ok(Ticket {
                admission: self.clone(),
                peer,
            }),
        }
    }

    #[cfg(test)]
    fn open(&self) -> (usize, usize) {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        (open.total, open.per_client.len())
    }
}

/// A refused connection being answered; frees its place when dropped.
pub struct Answering(Arc<Admission>);

impl Drop for Answering {
    fn drop(&mut self) {
        self.0.answering.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut open = self
            .admission
            .open
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.per_client.get_mut(&self.peer) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.per_client.remove(&self.peer);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(total: usize, per_client: usize) -> Caps {
        Caps {
            total,
            per_client,
            exempt: vec!["10.0.0.0/8".parse().unwrap()],
        }
    }

    #[test]
    fn per_client_cap_then_total_cap_and_places_come_back() {
        let a = Admission::new(&Metrics::new());
        let one: IpAddr = "192.0.2.1".parse().unwrap();
        let two: IpAddr = "192.0.2.2".parse().unwrap();
        let c = caps(3, 2);
        let t1 = a.admit(one, &c).unwrap();
        let _t2 = a.admit(one, &c).unwrap();
        assert_eq!(a.admit(one, &c).err(), Some(Refusal::PerClient));
        let _t3 = a.admit(two, &c).unwrap();
        assert_eq!(a.admit(two, &c).err(), Some(Refusal::Total));
        drop(t1);
        assert!(
            a.admit(one, &c).is_ok(),
            "a closed connection gives its place back"
        );
    }

    #[test]
    fn trusted_forwarders_have_no_per_client_cap_and_counts_do_not_leak() {
        let a = Admission::new(&Metrics::new());
        let lb: IpAddr = "10.1.2.3".parse().unwrap();
        let c = caps(100, 1);
        let tickets: Vec<_> = (0..50).map(|_| a.admit(lb, &c).unwrap()).collect();
        assert_eq!(a.open(), (50, 1));
        drop(tickets);
        assert_eq!(a.open(), (0, 0));
    }

    #[test]
    fn only_a_few_refusals_are_answered_at_once() {
        let a = Admission::new(&Metrics::new());
        let held: Vec<_> = (0..REFUSALS_ANSWERED)
            .map(|_| a.answer_refusal().unwrap())
            .collect();
        assert!(a.answer_refusal().is_none());
        drop(held);
        assert!(a.answer_refusal().is_some());
    }

    #[test]
    fn refusals_are_counted_by_cap() {
        let m = Metrics::new();
        let a = Admission::new(&m);
        let ip: IpAddr = "192.0.2.9".parse().unwrap();
        let _t = a.admit(ip, &caps(1, 1)).unwrap();
        let _ = a.admit(ip, &caps(1, 1));
        let _ = a.admit(ip, &caps(5, 1));
        let text = m.render();
        assert!(
            text.contains("connections_refused_total{reason=\"max_connections\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("reason=\"max_connections_per_client\"} 1"),
            "{text}"
        );
    }
}
