//! The policy sections of `gateway.toml`: serde mirrors of the file (unknown keys
//! refused) and [`validate`], which turns them into a [`Policy`] or returns every error
//! at once, each with its key path and a hint.
//!
//! ```text
//! [calendar] [canonical] [roles] [default_route] [[route_group]]
//!        │ serde (deny_unknown_fields)
//!        ▼
//!   PolicyFile ──validate──▶ Policy  |  Vec<PolicyConfigError { key_path, message, hint }>
//! ```
//!
//! The schema, with every option explained, is `src/policy/example.toml`
//! ([`super::EXAMPLE_TOML`]). Enumerations are strings checked here (not serde enums)
//! so that a typo is one collected error with a hint, not an abort of the whole parse.

use std::collections::BTreeMap;
use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer};

use super::Policy;
use super::calendar::{Calendar, CalendarError, LegacyLogin};
use super::canonical::CanonConfig;
use super::decision::{AccountLevel, Role, RoleLevels};
use super::routes::{Access, PhaseAccess, RouteGroup};

/// The policy sections; the main config file struct holds the same fields.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    pub calendar: Option<CalendarFile>,
    pub canonical: Option<CanonicalFile>,
    pub roles: Option<RolesFile>,
    pub default_route: Option<AccessFile>,
    pub route_group: Option<Vec<RouteGroupFile>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarFile {
    pub time_zone: Option<String>,
    pub transition_from: Option<DateText>,
    pub esia_only_from: Option<DateText>,
    pub legacy_login: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CanonicalFile {
    pub case_insensitive: Option<bool>,
    pub value_case_insensitive: Option<bool>,
    pub own_hosts: Option<Vec<String>>,
    pub max_target_bytes: Option<usize>,
    pub max_segments: Option<usize>,
    pub max_query_params: Option<usize>,
    /// PHP mode: `/x.php/more` is matched as `/x.php` (PATH_INFO). Default true.
    pub php: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolesFile {
    pub min_level: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessFile {
    pub before_transition: Option<String>,
    pub transition: Option<String>,
    pub after_cutover: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteGroupFile {
    pub name: String,
    pub priority: Option<i64>,
    #[serde(rename = "match")]
    pub matchers: Vec<MatcherFile>,
    pub methods: Option<Vec<String>>,
    pub public: Option<bool>,
    pub before_transition: Option<String>,
    pub transition: Option<String>,
    pub after_cutover: Option<String>,
    pub deny_reason: Option<DenyReasonFile>,
    /// Request targets this group must match (`/index.php?module=marks`): check-config
    /// proves each is matched by this group, `diary-check` that the diary serves it.
    pub samples: Option<Vec<String>>,
}

/// `deny_reason`: a built-in reason code (`"registration-closed"`), free text shown on
/// the refusal page, or a text per language (`{ ru = "…", en = "…" }`).
#[derive(Debug, Clone, PartialEq)]
pub enum DenyReasonFile {
    Text(String),
    PerLanguage(BTreeMap<String, toml::Value>),
}

impl<'de> Deserialize<'de> for DenyReasonFile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match toml::Value::deserialize(d)? {
            toml::Value::String(s) => Ok(DenyReasonFile::Text(s)),
            toml::Value::Table(t) => Ok(DenyReasonFile::PerLanguage(t.into_iter().collect())),
            other => Err(serde::de::Error::custom(format!(
                "expected a reason code, a text, or {{ ru = \"…\", en = \"…\" }}, found a {}",
                other.type_str()
            ))),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatcherFile {
    pub path: Option<String>,
    pub prefix: Option<String>,
    pub glob: Option<String>,
    /// Every condition must hold.
    pub query: Option<BTreeMap<String, QueryValueFile>>,
    /// At least one condition must hold (several parameters may name the page).
    pub query_any: Option<BTreeMap<String, QueryValueFile>>,
}

/// One query condition's value: `"marks"` (exact) or `{ prefix = "Grades/" }` /
/// `{ glob = "Grades/*.php" }` (path patterns); the table's keys are checked by
/// validation, so a typo is one collected error.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryValueFile {
    Exact(String),
    Pattern(BTreeMap<String, toml::Value>),
}

impl From<&str> for QueryValueFile {
    fn from(s: &str) -> Self {
        QueryValueFile::Exact(s.to_string())
    }
}

impl<'de> Deserialize<'de> for QueryValueFile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match toml::Value::deserialize(d)? {
            toml::Value::String(s) => Ok(QueryValueFile::Exact(s)),
            toml::Value::Table(t) => Ok(QueryValueFile::Pattern(t.into_iter().collect())),
            other => Err(serde::de::Error::custom(format!(
                "expected a value like \"marks\" or {{ prefix = \"Grades/\" }}, found a {}",
                other.type_str()
            ))),
        }
    }
}

/// A date written either as a TOML local date (`2019-01-01`) or a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateText(pub String);

impl<'de> Deserialize<'de> for DateText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match toml::Value::deserialize(d)? {
            toml::Value::String(s) => Ok(DateText(s)),
            toml::Value::Datetime(dt) => Ok(DateText(dt.to_string())),
            other => Err(serde::de::Error::custom(format!(
                "expected a date like 2019-01-01, found a {}",
                other.type_str()
            ))),
        }
    }
}

/// One problem in the policy sections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyConfigError {
    /// e.g. `route_group[1].match[0].prefix`.
    pub key_path: String,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for PolicyConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key_path, self.message)?;
        if let Some(h) = &self.hint {
            write!(f, " (hint: {h})")?;
        }
        Ok(())
    }
}

/// Collects errors so that every problem is reported in one pass.
#[derive(Default)]
struct Errors(Vec<PolicyConfigError>);

impl Errors {
    pub(super) fn push(
        &mut self,
        key: impl Into<String>,
        message: impl Into<String>,
        hint: Option<&str>,
    ) {
        self.0.push(PolicyConfigError {
            key_path: key.into(),
            message: message.into(),
            hint: hint.map(str::to_string),
        });
    }
}

const ACCESS_HINT: &str = "one of any | session | esia | esia_linked | nobody";

/// Compiles matchers written in the route-group language outside a route group (the
/// diary's login and logout endpoints), so both are read by one grammar; `at` is the
/// key path errors start with (`diary.login`).
pub fn compile_matchers(
    at: &str,
    list: &[MatcherFile],
    canon: &CanonConfig,
) -> Result<Vec<super::Matcher>, Vec<PolicyConfigError>> {
    let mut errs = Errors::default();
    let out: Vec<_> = list
        .iter()
        .enumerate()
        .filter_map(|(i, m)| groups::matcher(&format!("{at}[{i}]"), m, canon, &mut errs))
        .collect();
    if errs.0.is_empty() {
        Ok(out)
    } else {
        Err(errs.0)
    }
}

/// Validates the policy sections into a [`Policy`], or returns every error found.
pub fn validate(file: &PolicyFile) -> Result<Policy, Vec<PolicyConfigError>> {
    let mut errs = Errors::default();
    let canon = canon_config(file.canonical.as_ref(), &mut errs);
    let calendar = calendar(file.calendar.as_ref(), &mut errs);
    let roles = roles(file.roles.as_ref(), &mut errs);
    let default_access = match &file.default_route {
        Some(a) => phase_access("default_route", a, Access::Any, &mut errs),
        None => PhaseAccess::OPEN,
    };
    let mut groups = Vec::new();
    for (i, g) in file.route_group.iter().flatten().enumerate() {
        if let Some(group) = groups::route_group(i, g, &canon, &mut errs) {
            groups.push((i, group));
        }
    }
    groups::check_names_and_overlaps(&groups, &canon, &mut errs);
    match (calendar, errs.0.is_empty()) {
        (Some(calendar), true) => {
            let mut groups: Vec<RouteGroup> = groups.into_iter().map(|(_, g)| g).collect();
            groups.sort_by_key(|g| std::cmp::Reverse(g.priority)); // stable: config order kept
            let policy = Policy {
                canon,
                calendar,
                groups,
                default_access,
                roles,
            };
            let order: Vec<&str> = file
                .route_group
                .iter()
                .flatten()
                .map(|g| g.name.as_str())
                .collect();
            check_samples(&policy, &order, &mut errs);
            if errs.0.is_empty() {
                Ok(policy)
            } else {
                Err(errs.0)
            }
        }
        _ => Err(errs.0),
    }
}

/// Every group's `samples` is read like a browser's GET and must land in that group
/// (not another, not none): a sample is the operator's proof the matchers say what
/// they mean.
fn check_samples(policy: &Policy, order: &[&str], errs: &mut Errors) {
    for g in &policy.groups {
        let i = order.iter().position(|n| *n == g.name).unwrap_or(0);
        for (j, sample) in g.samples.iter().enumerate() {
            let at = format!("route_group[{i}].samples[{j}]");
            match policy.canonicalize("GET", sample) {
                Err(reject) => errs.push(
                    at,
                    format!(
                        "{sample:?} is not a request target the gateway accepts ({})",
                        reject.as_str()
                    ),
                    Some("a path with an optional query, e.g. \"/index.php?module=marks\""),
                ),
                Ok(c) => match policy.match_group(&c) {
                    Some((hit, _, _)) if hit.name == g.name => {}
                    Some((hit, _, _)) => errs.push(
                        at,
                        format!(
                            "{sample:?} is matched by group {:?}, not by {:?}",
                            hit.name, g.name
                        ),
                        Some("fix this group's matchers or the other group's priority"),
                    ),
                    None => errs.push(
                        at,
                        format!("{sample:?} is matched by no route group"),
                        Some("this group's matchers miss its own sample page"),
                    ),
                },
            }
        }
    }
}

fn canon_config(f: Option<&CanonicalFile>, errs: &mut Errors) -> CanonConfig {
    let mut c = CanonConfig::default();
    let Some(f) = f else { return c };
    c.case_insensitive = f.case_insensitive.unwrap_or(c.case_insensitive);
    c.value_case_insensitive = f.value_case_insensitive.unwrap_or(c.value_case_insensitive);
    c.php = f.php.unwrap_or(c.php);
    c.own_hosts = f
        .own_hosts
        .iter()
        .flatten()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    for (i, h) in c.own_hosts.iter().enumerate() {
        if h.is_empty() || h.contains(['/', ':', '@', ' ']) {
            errs.push(
                format!("canonical.own_hosts[{i}]"),
                format!("{h:?} is not a host name"),
                Some("a bare host such as \"dnevnik.example.ru\", without scheme or port"),
            );
        }
    }
    let limits = [
        (
            "max_target_bytes",
            f.max_target_bytes,
            &mut c.max_target_bytes,
            256,
            65536,
        ),
        ("max_segments", f.max_segments, &mut c.max_segments, 1, 1024),
        (
            "max_query_params",
            f.max_query_params,
            &mut c.max_query_params,
            1,
            10000,
        ),
    ];
    for (key, given, slot, lo, hi) in limits {
        match given {
            Some(v) if (lo..=hi).contains(&v) => *slot = v,
            Some(v) => errs.push(
                format!("canonical.{key}"),
                format!("{v} is out of range"),
                Some(&format!("between {lo} and {hi}")),
            ),
            None => {}
        }
    }
    c
}

fn calendar(f: Option<&CalendarFile>, errs: &mut Errors) -> Option<Calendar> {
    let Some(f) = f else {
        errs.push(
            "calendar",
            "the [calendar] section is missing",
            Some("set at least esia_only_from and legacy_login"),
        );
        return None;
    };
    let tz_name = f.time_zone.as_deref().unwrap_or("Europe/Moscow");
    let tz = tz_name.parse::<chrono_tz::Tz>().ok();
    if tz.is_none() {
        errs.push(
            "calendar.time_zone",
            format!("unknown time zone {tz_name:?}"),
            Some("an IANA name such as \"Europe/Moscow\" or \"Asia/Yekaterinburg\""),
        );
    }
    let date = |key: &str, d: &Option<DateText>, errs: &mut Errors| -> Option<Option<NaiveDate>> {
        match d {
            None => Some(None),
            Some(DateText(s)) => match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                Ok(d) => Some(Some(d)),
                Err(_) => {
                    errs.push(
                        format!("calendar.{key}"),
                        format!("{s:?} is not a date"),
                        Some("a date such as 2019-01-01 (local time in time_zone)"),
                    );
                    None
                }
            },
        }
    };
    let transition = date("transition_from", &f.transition_from, errs);
    let cutover = date("esia_only_from", &f.esia_only_from, errs);
    if matches!(cutover, Some(None)) {
        errs.push(
            "calendar.esia_only_from",
            "missing",
            Some("the cutover date, e.g. esia_only_from = 2019-01-01"),
        );
    }
    let legacy = match f.legacy_login.as_deref() {
        Some("restricted") => Some(LegacyLogin::Restricted),
        Some("disabled") => Some(LegacyLogin::Disabled),
        Some(other) => {
            errs.push(
                "calendar.legacy_login",
                format!("unknown value {other:?}"),
                Some("\"restricted\" (seed 004) or \"disabled\" (seed 000)"),
            );
            None
        }
        None => {
            errs.push(
                "calendar.legacy_login",
                "missing",
                Some("\"restricted\" (seed 004) or \"disabled\" (seed 000)"),
            );
            None
        }
    };
    let (tz, Some(transition), Some(Some(cutover)), Some(legacy)) =
        (tz, transition, cutover, legacy)
    else {
        return None;
    };
    let tz = tz?;
    match Calendar::new(tz, transition, cutover, legacy) {
        Ok(c) => Some(c),
        Err(e @ CalendarError::TransitionAfterCutover { .. }) => {
            errs.push(
                "calendar.transition_from",
                e.to_string(),
                Some("the transition starts before (or on) the cutover date"),
            );
            None
        }
        Err(e) => {
            errs.push("calendar", e.to_string(), None);
            None
        }
    }
}

/// `[roles]` alone: the one role → level table, also for linking without a calendar.
pub fn role_levels(f: Option<&RolesFile>) -> Result<RoleLevels, Vec<PolicyConfigError>> {
    let mut errs = Errors::default();
    let levels = roles(f, &mut errs);
    if errs.0.is_empty() {
        Ok(levels)
    } else {
        Err(errs.0)
    }
}

fn roles(f: Option<&RolesFile>, errs: &mut Errors) -> RoleLevels {
    let mut levels = RoleLevels::default();
    for (role, level) in f.and_then(|r| r.min_level.as_ref()).into_iter().flatten() {
        let key = format!("roles.min_level.{role}");
        match (Role::parse(role), AccountLevel::parse(level)) {
            (Some(r), Some(l)) => levels.set(r, l),
            (None, _) => errs.push(
                key,
                format!("unknown role {role:?}"),
                Some("student, parent, teacher, class_teacher, head_teacher, director, admin"),
            ),
            (_, None) => errs.push(
                key,
                format!("unknown account level {level:?}"),
                Some("child, simplified, standard or confirmed"),
            ),
        }
    }
    levels
}

fn phase_access(prefix: &str, f: &AccessFile, default: Access, errs: &mut Errors) -> PhaseAccess {
    let mut one = |key: &str, v: &Option<String>| match v.as_deref() {
        None => default,
        Some(s) => Access::parse(s).unwrap_or_else(|| {
            errs.push(
                format!("{prefix}.{key}"),
                format!("unknown access {s:?}"),
                Some(ACCESS_HINT),
            );
            Access::Nobody
        }),
    };
    PhaseAccess {
        before_transition: one("before_transition", &f.before_transition),
        transition: one("transition", &f.transition),
        after_cutover: one("after_cutover", &f.after_cutover),
    }
}

#[path = "config_groups.rs"]
mod groups;

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "config_patterns_tests.rs"]
mod pattern_tests;
