//! Validation of `[[route_group]]`: names, matchers (patterns canonicalised like
//! requests), methods, per-phase access, and the overlap rule — two groups that can
//! match one request must have different priorities, and the error names both.

use http::Method;

use super::super::canonical::{CanonConfig, canonicalize};
use super::super::decision::Reason;
use super::super::routes::{Access, Matcher, PatternKind, PhaseAccess, RouteGroup};
use super::{ACCESS_HINT, AccessFile, Errors, MatcherFile, RouteGroupFile, phase_access};

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
