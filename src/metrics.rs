//! Prometheus metrics of the gateway, served as text by the admin listener.
//!
//! One [`Metrics`] value lives for the whole process and is shared by reference; later
//! features add their own fields here (or register extra metrics through
//! [`Metrics::register`]) so that everything ends up in one registry with the
//! `esia_gateway_` prefix.

use std::sync::Mutex;

use http::StatusCode;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Metric, Registry};

/// Labels are `(name, value)` pairs; the values are fixed strings chosen by the gateway,
/// never client input, so cardinality stays bounded.
type Labels = Vec<(&'static str, &'static str)>;

/// Every metric the transport core exports.
pub struct Metrics {
    registry: Mutex<Registry>,
    requests: Family<Labels, Counter>,
    /// The counters every request and decision bumps, looked up once each: a family
    /// lookup allocates its label set and hashes it under a lock, on every request.
    hot: HotCounters,
    upstream_errors: Family<Labels, Counter>,
    request_duration: Histogram,
    open_connections: Gauge,
    tls_handshake_failures: Family<Labels, Counter>,
    /// Sign-in events (the audit trail's kinds): ESIA logins, links, lockouts, …
    auth_events: Family<Labels, Counter>,
    rewrites_skipped: Counter,
    /// Cutover (issue 6): refusals by reason, decisions, canonicalisation rejects, phase.
    denied: Family<Labels, Counter>,
    decisions: Family<Labels, Counter>,
    rejected: Family<Labels, Counter>,
    phase: Family<Labels, Gauge>,
    phase_source: Mutex<Option<PhaseSource>>,
}

/// Reads the calendar's current phase name at scrape time (`None` once its owner is gone).
pub type PhaseSource = Box<dyn Fn() -> Option<&'static str> + Send + Sync>;

/// Every phase name the gauge reports (one is 1, the others 0).
const PHASES: [&str; 4] = [
    "before-transition",
    "transition",
    "cutover-restricted",
    "cutover-disabled",
];

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("esia_gateway");
        let requests = Family::<Labels, Counter>::default();
        let upstream_errors = Family::<Labels, Counter>::default();
        // 1 ms .. ~16 s: covers a cached page up to the default upstream timeout.
        let request_duration = Histogram::new(exponential_buckets(0.001, 2.0, 15));
        let open_connections = Gauge::default();
        let tls_handshake_failures = Family::<Labels, Counter>::default();
        let auth_events = Family::<Labels, Counter>::default();
        let rewrites_skipped = Counter::default();
        registry.register(
            "rewrites_skipped",
            "HTML pages passed through without the banner or button because \
             [limits] max_rewrites rewrites were already in progress",
            rewrites_skipped.clone(),
        );
        registry.register(
            "requests",
            "Requests answered, by status class",
            requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time from request head to the end of the response body",
            request_duration.clone(),
        );
        registry.register(
            "upstream_errors",
            "Failed exchanges with the diary, by kind",
            upstream_errors.clone(),
        );
        registry.register(
            "open_connections",
            "Client connections currently open on the public listeners",
            open_connections.clone(),
        );
        registry.register(
            "tls_handshake_failures",
            "TLS handshakes that failed, by cause: not-tls (plain HTTP or a scanner on the \
             TLS port), closed (the client hung up, often a browser's speculative \
             connection), client-alert (the client refused us, e.g. an unknown CA), \
             incompatible (no common protocol or cipher), timeout, other",
            tls_handshake_failures.clone(),
        );
        registry.register(
            "auth_events",
            "Sign-in events by kind: login (ESIA), legacy_login, link, link_failed, \
             rate_limited, level_refused, logout, binding_stale, …",
            auth_events.clone(),
        );
        let denied = Family::<Labels, Counter>::default();
        let decisions = Family::<Labels, Counter>::default();
        let rejected = Family::<Labels, Counter>::default();
        let phase = Family::<Labels, Gauge>::default();
        registry.register(
            "denied",
            "Requests refused by the cutover policy, by reason",
            denied.clone(),
        );
        registry.register(
            "policy_decisions",
            "Cutover policy decisions: allow, need-login, deny",
            decisions.clone(),
        );
        registry.register(
            "canonical_rejects",
            "Request targets refused with 400 because they cannot be canonicalised",
            rejected.clone(),
        );
        registry.register(
            "calendar_phase",
            "The cutover calendar's current phase (1 for the current one)",
            phase.clone(),
        );
        Self {
            hot: HotCounters::default(),
            denied,
            decisions,
            rejected,
            phase,
            phase_source: Mutex::new(None),
            registry: Mutex::new(registry),
            requests,
            upstream_errors,
            request_duration,
            open_connections,
            tls_handshake_failures,
            auth_events,
            rewrites_skipped,
        }
    }

    /// Adds a metric defined elsewhere (name without the `esia_gateway_` prefix).
    pub fn register(&self, name: &str, help: &str, metric: impl Metric) {
        let mut registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        registry.register(name, help, metric);
    }

    /// One answered request: its status class and total duration.
    pub fn observe_request(&self, status: StatusCode, seconds: f64) {
        let class = status_class(status);
        bump(&self.requests, &self.hot.requests, CLASSES, "class", class);
        self.request_duration.observe(seconds);
    }

    /// `kind` is a stable name such as `connect`, `timeout`, `protocol`.
    pub fn upstream_error(&self, kind: &'static str) {
        self.upstream_errors
            .get_or_create(&vec![("kind", kind)])
            .inc();
    }

    /// `cause` is one of the stable names in the metric's help.
    pub fn tls_handshake_failed(&self, cause: &'static str) {
        self.tls_handshake_failures
            .get_or_create(&vec![("cause", cause)])
            .inc();
    }

    /// An HTML page passed through without its banner: every rewrite place was taken.
    pub fn rewrite_skipped(&self) {
        self.rewrites_skipped.inc();
    }

    /// An audit-trail event of sign-in and linking, by its kind's stable name.
    pub fn auth_event(&self, event: &'static str) {
        self.auth_events
            .get_or_create(&vec![("event", event)])
            .inc();
    }

    pub fn connection_opened(&self) {
        self.open_connections.inc();
    }

    pub fn connection_closed(&self) {
        self.open_connections.dec();
    }

    pub fn open_connections(&self) -> i64 {
        self.open_connections.get()
    }

    /// A request refused by the cutover policy; `reason` is a stable kebab-case name.
    pub fn denied(&self, reason: &'static str) {
        self.denied.get_or_create(&vec![("reason", reason)]).inc();
    }

    pub fn decision(&self, decision: &'static str) {
        bump(
            &self.decisions,
            &self.hot.decisions,
            DECISIONS,
            "decision",
            decision,
        );
    }

    /// A target refused with 400; `reject` is the canonicaliser's stable name.
    pub fn rejected(&self, reject: &'static str) {
        self.rejected.get_or_create(&vec![("reject", reject)]).inc();
    }

    /// Where the phase gauge reads the calendar at every scrape.
    pub fn set_phase_source(&self, source: PhaseSource) {
        *self.phase_source.lock().unwrap_or_else(|p| p.into_inner()) = Some(source);
    }

    fn refresh_phase(&self) {
        let source = self.phase_source.lock().unwrap_or_else(|p| p.into_inner());
        let Some(current) = source.as_ref().and_then(|f| f()) else {
            return;
        };
        for name in PHASES {
            self.phase
                .get_or_create(&vec![("phase", name)])
                .set(i64::from(name == current));
        }
    }

    /// The Prometheus text exposition of everything registered.
    pub fn render(&self) -> String {
        self.refresh_phase();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        // Writing into a String cannot fail; an encoder error would only drop metrics.
        if let Err(e) = encode(&mut out, &registry) {
            tracing::error!(error = %e, "encoding metrics failed");
        }
        out
    }
}

/// Counters resolved from their families on first use (a series appears in /metrics only
/// once it counted something, as before), one slot per value of [`CLASSES`]/[`DECISIONS`].
#[derive(Default)]
struct HotCounters {
    requests: [std::sync::OnceLock<Counter>; CLASSES.len()],
    decisions: [std::sync::OnceLock<Counter>; DECISIONS.len()],
}

const CLASSES: &[&str] = &["1xx", "2xx", "3xx", "4xx", "5xx"];
const DECISIONS: &[&str] = &["allow", "need-login", "deny"];

/// Counts `label=value` in `family`, through its slot when `value` is one of `values`.
fn bump(
    family: &Family<Labels, Counter>,
    slots: &[std::sync::OnceLock<Counter>],
    values: &[&str],
    label: &'static str,
    value: &'static str,
) {
    let labels = || vec![(label, value)];
    match values
        .iter()
        .position(|v| *v == value)
        .and_then(|i| slots.get(i))
    {
        Some(slot) => slot
            .get_or_init(|| family.get_or_create(&labels()).clone())
            .inc(),
        None => family.get_or_create(&labels()).inc(),
    };
}

fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_requests_by_class_and_errors_by_kind() {
        let m = Metrics::new();
        m.observe_request(StatusCode::OK, 0.01);
        m.observe_request(StatusCode::OK, 0.02);
        m.observe_request(StatusCode::BAD_GATEWAY, 0.5);
        m.upstream_error("connect");
        m.tls_handshake_failed("timeout");
        let text = m.render();
        assert!(
            text.contains(r#"esia_gateway_requests_total{class="2xx"} 2"#),
            "{text}"
        );
        assert!(text.contains(r#"esia_gateway_requests_total{class="5xx"} 1"#));
        assert!(text.contains(r#"esia_gateway_upstream_errors_total{kind="connect"} 1"#));
        assert!(text.contains(r#"esia_gateway_tls_handshake_failures_total{cause="timeout"} 1"#));
        assert!(text.contains("esia_gateway_request_duration_seconds_count 3"));
        assert!(text.contains("esia_gateway_open_connections 0"));
    }

    #[test]
    fn phase_gauge_follows_its_source_at_every_scrape() {
        let m = Metrics::new();
        let now = std::sync::Arc::new(Mutex::new("transition"));
        let src = now.clone();
        m.set_phase_source(Box::new(move || Some(*src.lock().unwrap())));
        m.denied("legacy-session-after-cutover");
        let text = m.render();
        assert!(
            text.contains(r#"esia_gateway_calendar_phase{phase="transition"} 1"#),
            "{text}"
        );
        assert!(text.contains(r#"esia_gateway_calendar_phase{phase="cutover-restricted"} 0"#));
        assert!(
            text.contains(r#"esia_gateway_denied_total{reason="legacy-session-after-cutover"} 1"#)
        );
        *now.lock().unwrap() = "cutover-restricted";
        let text = m.render();
        assert!(text.contains(r#"esia_gateway_calendar_phase{phase="cutover-restricted"} 1"#));
        assert!(text.contains(r#"esia_gateway_calendar_phase{phase="transition"} 0"#));
    }
}
