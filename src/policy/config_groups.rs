//! Validation of `[[route_group]]`: names, matchers (patterns canonicalised like
//! requests, query conditions compiled), methods, per-phase access, the group's refusal
//! text, and the overlap rule — two groups that can match one request must have
//! different priorities, and the error names both.

use std::collections::BTreeMap;

use http::Method;

use super::super::canonical::{CanonConfig, canonicalize};
use super::super::conditions::{QueryCondition, ValuePattern};
use super::super::decision::{DenyText, Reason};
use super::super::routes::{Access, Matcher, PatternKind, PhaseAccess, RouteGroup};
use super::{
    ACCESS_HINT, AccessFile, DenyReasonFile, Errors, MatcherFile, QueryValueFile, RouteGroupFile,
    phase_access,
};

pub(super) fn route_group(
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
    let deny_reason = g
        .deny_reason
        .as_ref()
        .and_then(|r| deny_reason(&format!("{at}.deny_reason"), &g.name, r, errs));
    (errs.0.len() == before).then(|| RouteGroup {
        name: g.name.clone(),
        priority: g.priority.unwrap_or(0),
        matchers,
        methods,
        access,
        public,
        deny_reason,
        samples: g.samples.clone().unwrap_or_default(),
    })
}

const REASON_HINT: &str = "a code (\"registration-closed\", \"route-closed\"), a sentence \
     for the refusal page, or { ru = \"…\", en = \"…\" }";

/// A built-in code, or the group's own text (Russian, with English optional).
fn deny_reason(at: &str, group: &str, r: &DenyReasonFile, errs: &mut Errors) -> Option<Reason> {
    let code = format!("group-{group}");
    match r {
        DenyReasonFile::Text(t) => {
            let t = t.trim();
            if let Some(reason) = Reason::parse(t) {
                return Some(reason);
            }
            // `registration-closd`: a mistyped code must not become the page's text.
            let code_like = t
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
            if t.is_empty() || code_like {
                errs.push(at, format!("unknown reason {t:?}"), Some(REASON_HINT));
                return None;
            }
            Some(Reason::Custom(DenyText::intern(&code, t, t)))
        }
        DenyReasonFile::PerLanguage(map) => {
            let mut text = |lang: &str| match map.get(lang) {
                Some(toml::Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
                None => None,
                Some(_) => {
                    errs.push(format!("{at}.{lang}"), "not a text", Some(REASON_HINT));
                    None
                }
            };
            let (ru, en) = (text("ru"), text("en"));
            for key in map.keys().filter(|k| *k != "ru" && *k != "en") {
                errs.push(
                    format!("{at}.{key}"),
                    format!("unknown language {key:?}"),
                    Some("ru and en"),
                );
            }
            let Some(ru) = ru else {
                errs.push(
                    format!("{at}.ru"),
                    "missing",
                    Some("the Russian text is required"),
                );
                return None;
            };
            let en = en.unwrap_or_else(|| ru.clone());
            Some(Reason::Custom(DenyText::intern(&code, &ru, &en)))
        }
    }
}

pub(super) fn matcher(
    at: &str,
    m: &MatcherFile,
    canon: &CanonConfig,
    errs: &mut Errors,
) -> Option<Matcher> {
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
    if canon.php && !php_mode_reachable(&canonical) {
        errs.push(
            at_key,
            format!("{pattern:?} names a path after a .php script"),
            Some("in PHP mode ([canonical] php = true) /x.php/more runs /x.php and is matched as /x.php: match the script and its query"),
        );
        return None;
    }
    let before = errs.0.len();
    let query = conditions(&format!("{at}.query"), m.query.as_ref(), errs);
    let any_query = conditions(&format!("{at}.query_any"), m.query_any.as_ref(), errs);
    if m.query_any.as_ref().is_some_and(BTreeMap::is_empty) {
        errs.push(
            format!("{at}.query_any"),
            "empty",
            Some("at least one condition, e.g. query_any = { modname = { prefix = \"Grades/\" }, include = { prefix = \"Grades/\" } }"),
        );
    }
    (errs.0.len() == before).then(|| Matcher::with_conditions(kind, &canonical, query, any_query))
}

/// In PHP mode only `**` may follow a `.php` segment: anything else never matches.
fn php_mode_reachable(canonical: &str) -> bool {
    match canonical.split('/').skip(1).position(|s| {
        s.len() > 4
            && s.get(s.len() - 4..)
                .is_some_and(|e| e.eq_ignore_ascii_case(".php"))
    }) {
        None => true,
        Some(i) => canonical.split('/').skip(1).skip(i + 1).all(|s| s == "**"),
    }
}

const VALUE_HINT: &str =
    "\"marks\" (exact), { prefix = \"Grades/\" } or { glob = \"Grades/*.php\" }";

/// Compiles `query = { … }` / `query_any = { … }`.
fn conditions(
    at: &str,
    map: Option<&BTreeMap<String, QueryValueFile>>,
    errs: &mut Errors,
) -> Vec<QueryCondition> {
    let mut out = Vec::new();
    for (name, value) in map.into_iter().flatten() {
        if name.is_empty() || name.contains(['[', ']', '.', ' ', '&', '=']) {
            errs.push(
                at,
                format!("{name:?} is not a plain parameter name"),
                Some("the name as PHP reads it, e.g. module"),
            );
            continue;
        }
        let key = format!("{at}.{name}");
        let Some(pattern) = value_pattern(&key, value, errs) else {
            continue;
        };
        match QueryCondition::new(name, pattern) {
            Ok(c) => out.push(c),
            Err(message) => errs.push(key, message, Some(VALUE_HINT)),
        }
    }
    out
}

fn value_pattern(key: &str, value: &QueryValueFile, errs: &mut Errors) -> Option<ValuePattern> {
    match value {
        QueryValueFile::Exact(v) if v.trim().is_empty() => {
            errs.push(key, "empty value", Some("e.g. module = \"marks\""));
            None
        }
        // `modname = "Grades/*"` would be compared as those very characters.
        QueryValueFile::Exact(v) if v.contains('*') => {
            errs.push(
                key,
                format!("{v:?} looks like a pattern but is compared exactly"),
                Some(&format!(
                    "write {{ glob = {v:?} }} (or {{ prefix = … }}) for a pattern"
                )),
            );
            None
        }
        QueryValueFile::Exact(v) => Some(ValuePattern::Exact(v.clone())),
        QueryValueFile::Pattern(t) => {
            let pick = |k: &str| match t.get(k) {
                Some(toml::Value::String(s)) => Some(Ok(s.clone())),
                Some(_) => Some(Err(())),
                None => None,
            };
            let unknown: Vec<&String> = t
                .keys()
                .filter(|k| *k != "prefix" && *k != "glob")
                .collect();
            match (pick("prefix"), pick("glob"), unknown.is_empty()) {
                (Some(Ok(p)), None, true) if !p.trim().is_empty() => Some(ValuePattern::Prefix(p)),
                (None, Some(Ok(g)), true) if !g.trim().is_empty() => Some(ValuePattern::Glob(g)),
                _ => {
                    errs.push(
                        key,
                        "needs exactly one of prefix, glob, as a non-empty text",
                        Some(VALUE_HINT),
                    );
                    None
                }
            }
        }
    }
}

pub(super) fn check_names_and_overlaps(
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
