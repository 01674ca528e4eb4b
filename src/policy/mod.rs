//! Route policy: the pure logic the proxy runs on every request.
//!
//! ```text
//! request-target ──canonical::canonicalize──▶ CanonicalRequest ──▶ forwarded as is
//!                     (400 on Reject)               │
//! clock ──calendar::Calendar::phase_at──▶ Phase     │
//!                                          ▼        ▼
//! session ───────────────────────▶ decision::decide(policy, req, session, phase)
//!                                          │
//!                                          ▼
//!                     Verdict { Allow | NeedLogin | Deny(Reason), group, … }
//! ```
//!
//! `overrides` lists the headers the proxy strips so that no header can replace the
//! canonical target or method. `config` turns the `[calendar]`, `[canonical]`, `[roles]`, `[default_route]` and
//! `[[route_group]]` sections into a [`Policy`]; `explain` runs the same pipeline for
//! `esia-gateway explain`. Nothing here does I/O or reads the clock.
//!
//! How the proxy calls it, once per request:
//!
//! ```
//! use esia_gateway::policy::{Decision, Reason, SessionView, decide, default_policy};
//!
//! let policy = default_policy();
//! let now = policy.calendar.parse_instant("2019-02-01").unwrap(); // clock.now() in the proxy
//! // 400 with `reject.as_str()` on Err; on Ok, forward `forward_target`, not the raw target.
//! let req = policy.canonicalize("get", "/x/../Marks;jsessionid=1/").unwrap();
//! assert_eq!(req.path, "/marks"); // matched ignoring case…
//! assert_eq!(req.forward_target, "/Marks"); // …forwarded in the case the browser sent
//! let legacy = SessionView::Legacy { role: None };
//! let verdict = decide(&policy, &req, &legacy, policy.phase_at(now));
//! assert_eq!(verdict.group, Some("grades"));
//! assert_eq!(verdict.decision, Decision::Deny(Reason::LegacySessionAfterCutover));
//! ```

pub mod calendar;
pub mod canonical;
pub mod conditions;
pub mod config;
pub mod decision;
mod decode;
pub mod explain;
pub mod overrides;
pub mod query;
pub mod routes;

pub use calendar::{Calendar, LegacyLogin, Phase};
pub use canonical::{CanonConfig, CanonicalRequest, Reject, canonicalize};
pub use conditions::{QueryCondition, ValuePattern};
pub use decision::{
    AccountLevel, Decision, DenyText, Reason, Role, RoleLevels, SessionView, Verdict, decide,
    decide_login,
};
pub use explain::{ExplainError, Explanation, explain, parse_session};
pub use overrides::strip_overrides;
pub use query::PhpQuery;
pub use routes::{Access, Matcher, PhaseAccess, RouteGroup};

/// The validated policy: everything [`decide`] needs besides the request, the session
/// and the phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub canon: CanonConfig,
    pub calendar: Calendar,
    /// Sorted by priority, highest first; equal priorities keep config order (they
    /// cannot overlap: validation refuses that).
    pub groups: Vec<RouteGroup>,
    /// Access for requests no group matches.
    pub default_access: PhaseAccess,
    pub roles: RoleLevels,
}

impl Policy {
    /// The highest-priority group matching the request, its matcher, and whether the
    /// match came through an ambiguous protected parameter. (Use [`decide`] for
    /// decisions: with an ambiguous parameter it considers every matching group.)
    pub fn match_group(&self, req: &CanonicalRequest) -> Option<(&RouteGroup, &Matcher, bool)> {
        self.groups
            .iter()
            .find_map(|g| g.matches(req, &self.canon).map(|(m, amb)| (g, m, amb)))
    }

    /// Every group matching the request, highest priority first.
    pub fn matching_groups(&self, req: &CanonicalRequest) -> Vec<(&RouteGroup, &Matcher, bool)> {
        self.groups
            .iter()
            .filter_map(|g| g.matches(req, &self.canon).map(|(m, amb)| (g, m, amb)))
            .collect()
    }

    /// The routing parameters some group's query condition reads at this request's path
    /// (`module` for `/index.php`): the ones the diary may also take from the body and
    /// the cookies, so the pipeline must read them there too. Empty for most requests.
    pub fn protected_parameters(&self, req: &CanonicalRequest) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .groups
            .iter()
            .flat_map(|g| {
                g.matchers
                    .iter()
                    .flat_map(|m| m.query_names_at(req, &self.canon))
            })
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// Every routing parameter some group's query condition reads, sorted (route
    /// discovery counts pages by these).
    pub fn routing_parameters(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .groups
            .iter()
            .flat_map(|g| g.matchers.iter().flat_map(|m| m.query_names()))
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// The path the matchers compare for `req` (the PHP script in PHP mode).
    pub fn match_path<'r>(&self, req: &'r CanonicalRequest) -> &'r str {
        req.match_path(&self.canon)
    }

    /// The calendar's phase at `at` (from the injected clock).
    pub fn phase_at(&self, at: chrono::DateTime<chrono::Utc>) -> Phase {
        self.calendar.phase_at(at)
    }

    /// Canonicalise with this policy's platform rules.
    pub fn canonicalize(&self, method: &str, target: &str) -> Result<CanonicalRequest, Reject> {
        canonicalize(method, target, &self.canon)
    }
}

/// The documented example of the policy sections; the shipped `gateway.toml` carries
/// the same text, and [`default_policy`] is exactly this file validated.
pub const EXAMPLE_TOML: &str = include_str!("example.toml");

/// Seed 004's policy for the demo diary: its calendar (2018-09-01 / 2019-01-01 /
/// restricted), case-insensitive paths, grades and statistics closed to legacy sessions
/// after the cutover, registration only via ESIA, everything else open.
pub fn default_policy() -> Policy {
    match toml::from_str::<config::PolicyFile>(EXAMPLE_TOML)
        .map_err(|_| ())
        .and_then(|f| config::validate(&f).map_err(|_| ()))
    {
        Ok(p) => p,
        // The example is tested to validate; this arm only keeps the function total,
        // and fails closed: no route is open to anyone.
        Err(()) => Policy {
            canon: CanonConfig::default(),
            calendar: Calendar::seed_004(),
            groups: Vec::new(),
            default_access: PhaseAccess {
                before_transition: Access::Nobody,
                transition: Access::Nobody,
                after_cutover: Access::Nobody,
            },
            roles: RoleLevels::default(),
        },
    }
}
