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
use http::Method;
use serde::{Deserialize, Deserializer};

use super::Policy;
use super::calendar::{Calendar, CalendarError, LegacyLogin};
use super::canonical::{CanonConfig, canonicalize};
use super::decision::{AccountLevel, Reason, Role, RoleLevels};
use super::routes::{Access, Matcher, PatternKind, PhaseAccess, RouteGroup};

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
    pub deny_reason: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatcherFile {
    pub path: Option<String>,
    pub prefix: Option<String>,
    pub glob: Option<String>,
    pub query: Option<BTreeMap<String, String>>,
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
    fn push(&mut self, key: impl Into<String>, message: impl Into<String>, hint: Option<&str>) {
        self.0.push(PolicyConfigError {
            key_path: key.into(),
            message: message.into(),
            hint: hint.map(str::to_string),
        });
    }
}

const ACCESS_HINT: &str = "one of any | session | esia | esia_linked | nobody";

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
        if let Some(group) = route_group(i, g, &canon, &mut errs) {
            groups.push((i, group));
        }
    }
    check_names_and_overlaps(&groups, &canon, &mut errs);
    match (calendar, errs.0.is_empty()) {
        (Some(calendar), true) => {
            let mut groups: Vec<RouteGroup> = groups.into_iter().map(|(_, g)| g).collect();
            groups.sort_by_key(|g| std::cmp::Reverse(g.priority)); // stable: config order kept
            Ok(Policy {
                canon,
                calendar,
                groups,
                default_access,
                roles,
            })
        }
        _ => Err(errs.0),
    }
}

fn canon_config(f: Option<&CanonicalFile>, errs: &mut Errors) -> CanonConfig {
    let mut c = CanonConfig::default();
    let Some(f) = f else { return c };
    c.case_insensitive = f.case_insensitive.unwrap_or(c.case_insensitive);
    c.value_case_insensitive = f.value_case_insensitive.unwrap_or(c.value_case_insensitive);
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

fn route_group(
    i: usize,
    g: &RouteGroupFile,
    canon: &CanonConfig,
    errs: &mut Errors,
) -> Option<RouteGroup> {
    let at = format!("route_group[{i}]");
    let before = errs.0.len();
    if g.name.is_empty()
        || !g
            .name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        errs.push(
            format!("{at}.name"),
            format!("{:?} is not a valid group name", g.name),
            Some("lowercase letters, digits, _ and -, e.g. \"grades\""),
        );
    }
    if g.matchers.is_empty() {
        errs.push(
            format!("{at}.match"),
            "no matchers",
            Some("e.g. match = [{ prefix = \"/marks\" }]"),
        );
    }
    let matchers: Vec<Matcher> = g
        .matchers
        .iter()
        .enumerate()
        .filter_map(|(j, m)| matcher(&format!("{at}.match[{j}]"), m, canon, errs))
        .collect();
    let mut methods = Vec::new();
    for (j, m) in g.methods.iter().flatten().enumerate() {
        match Method::from_bytes(m.to_ascii_uppercase().as_bytes()) {
            Ok(m) if !methods.contains(&m) => methods.push(m),
            Ok(_) => {}
            Err(_) => errs.push(
                format!("{at}.methods[{j}]"),
                format!("{m:?} is not an HTTP method"),
                Some("e.g. \"GET\"; leave methods empty to cover every method"),
            ),
        }
    }
    let public = g.public.unwrap_or(false);
    let phases = [&g.before_transition, &g.transition, &g.after_cutover];
    let access = if public {
        if phases.iter().any(|p| p.is_some()) {
            errs.push(
                &at,
                "a public group is open in every phase",
                Some(
                    "remove before_transition / transition / after_cutover, or set public = false",
                ),
            );
        }
        PhaseAccess::OPEN
    } else {
        for (key, v) in ["before_transition", "transition", "after_cutover"]
            .iter()
            .zip(phases)
        {
            if v.is_none() {
                errs.push(format!("{at}.{key}"), "missing", Some(ACCESS_HINT));
            }
        }
        let f = AccessFile {
            before_transition: g.before_transition.clone(),
            transition: g.transition.clone(),
            after_cutover: g.after_cutover.clone(),
        };
        phase_access(&at, &f, Access::Nobody, errs)
    };
    let deny_reason = g.deny_reason.as_deref().and_then(|r| {
        let parsed = Reason::parse(r);
        if parsed.is_none() {
            errs.push(
                format!("{at}.deny_reason"),
                format!("unknown reason {r:?}"),
                Some("e.g. \"registration-closed\" or \"route-closed\""),
            );
        }
        parsed
    });
    (errs.0.len() == before).then(|| RouteGroup {
        name: g.name.clone(),
        priority: g.priority.unwrap_or(0),
        matchers,
        methods,
        access,
        public,
        deny_reason,
    })
}

fn matcher(at: &str, m: &MatcherFile, canon: &CanonConfig, errs: &mut Errors) -> Option<Matcher> {
    let (kind, key, pattern) = match (&m.path, &m.prefix, &m.glob) {
        (Some(p), None, None) => (PatternKind::Path, "path", p),
        (None, Some(p), None) => (PatternKind::Prefix, "prefix", p),
        (None, None, Some(p)) => (PatternKind::Glob, "glob", p),
        _ => {
            errs.push(
                at,
                "needs exactly one of path, prefix, glob",
                Some("e.g. { prefix = \"/marks\" }"),
            );
            return None;
        }
    };
    let at_key = format!("{at}.{key}");
    if !pattern.starts_with('/') || pattern.contains('?') {
        errs.push(
            at_key,
            format!("{pattern:?} is not a path"),
            Some("starts with / and has no query; put parameters in query = { … }"),
        );
        return None;
    }
    if kind != PatternKind::Glob && pattern.contains('*') {
        errs.push(
            at_key,
            format!("{pattern:?} contains *"),
            Some("use glob = … for wildcards"),
        );
        return None;
    }
    if kind == PatternKind::Glob && pattern.split('/').any(|s| s.contains("**") && s != "**") {
        errs.push(
            at_key,
            format!("{pattern:?}: ** must be a whole segment"),
            Some("e.g. /files/**/marks"),
        );
        return None;
    }
    // Patterns go through the request canonicaliser, so both sides share one form.
    let canonical = match canonicalize("GET", pattern, canon) {
        Ok(c) => c.path,
        Err(r) => {
            errs.push(
                at_key,
                format!("{pattern:?} is not a canonical path ({})", r.as_str()),
                Some("write the decoded path, e.g. /marks"),
            );
            return None;
        }
    };
    let mut query = Vec::new();
    for (name, value) in m.query.iter().flatten() {
        if name.is_empty() || name.contains(['[', ']', '.', ' ', '&', '=']) {
            errs.push(
                format!("{at}.query"),
                format!("{name:?} is not a plain parameter name"),
                Some("the name as PHP reads it, e.g. module"),
            );
        } else if value.trim().is_empty() {
            errs.push(
                format!("{at}.query.{name}"),
                "empty value",
                Some("e.g. module = \"marks\""),
            );
        } else {
            query.push((name.clone(), value.trim().to_string()));
        }
    }
    Some(Matcher::compile(kind, &canonical, query))
}

fn check_names_and_overlaps(
    groups: &[(usize, RouteGroup)],
    canon: &CanonConfig,
    errs: &mut Errors,
) {
    for (n, (i, a)) in groups.iter().enumerate() {
        for (j, b) in groups.iter().skip(n + 1) {
            if a.name == b.name {
                errs.push(
                    format!("route_group[{j}].name"),
                    format!("group name {:?} is also used by route_group[{i}]", b.name),
                    Some("give every group its own name"),
                );
            }
            if a.priority != b.priority {
                continue; // an explicit priority resolves the overlap
            }
            if let Some((ma, mb)) = a.overlap_with(b, canon.value_case_insensitive) {
                errs.push(
                    format!("route_group[{j}].match"),
                    format!("groups {:?} ({ma}) and {:?} ({mb}) can match the same request with the same priority {}", a.name, b.name, a.priority),
                    Some("give one of them a higher priority, or make the matchers disjoint"),
                );
            }
        }
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
