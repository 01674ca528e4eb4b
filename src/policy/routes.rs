//! Route groups: named sets of matchers, compiled once at load, matched against the
//! canonical request (never against the raw target).
//!
//! A matcher is a path pattern plus optional query conditions:
//! - `path = "/marks"`: exactly this canonical path;
//! - `prefix = "/marks"`: this path and everything under it (`/marks`, `/marks/x`; not
//!   `/marksheet`) — segment-wise, a trailing `/` in the config is ignored;
//! - `glob = "/journal/*/marks"`: `*` is one whole segment or part of one (`*.php`),
//!   `**` (a whole segment) is any number of segments, including none;
//! - `query = { module = "marks" }`: the PHP parameter must read as that value (value
//!   case ignored when the diary ignores it; surrounding spaces ignored). If the
//!   parameter is sent ambiguously (twice, as an array, in another spelling), the
//!   condition counts as met — fail closed. `{ prefix = "Grades/" }` and
//!   `{ glob = "Grades/*.php" }` compare path-valued parameters segment-wise (see
//!   [`super::conditions`]); every condition in `query` must hold;
//! - `query_any = { modname = …, include = … }`: at least one of these must hold (a
//!   page named by any of several parameters).
//!
//! In PHP mode ([`CanonConfig::php`]) every kind compares the script a path runs
//! (`/modules.php/x.css` is `/modules.php`), see [`CanonicalRequest::match_path`].
//!
//! Patterns are canonicalised like requests (decoded, lowercased when case-insensitive),
//! so config and requests are compared in one form. Overlap between groups is found by
//! intersecting patterns segment by segment (conservatively: two mid-segment wildcards
//! are assumed to overlap), see [`Matcher::may_overlap`].

use std::fmt;

use http::Method;

use super::canonical::{CanonConfig, CanonicalRequest};
use super::conditions::QueryCondition;
use super::decision::Reason;

/// Who may pass a group in one phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Everyone, anonymous included.
    Any,
    /// Any signed-in diary session: legacy or ESIA-linked.
    Session,
    /// Any ESIA session, linked or not (e.g. registration of new users via ESIA).
    Esia,
    /// ESIA-linked sessions whose account level meets the role's minimum.
    EsiaLinked,
    /// No one.
    Nobody,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Any => "any",
            Access::Session => "session",
            Access::Esia => "esia",
            Access::EsiaLinked => "esia_linked",
            Access::Nobody => "nobody",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "any" => Access::Any,
            "session" => Access::Session,
            "esia" => Access::Esia,
            "esia_linked" => Access::EsiaLinked,
            "nobody" => Access::Nobody,
            _ => return None,
        })
    }
}

/// Access in each phase of the calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhaseAccess {
    pub before_transition: Access,
    pub transition: Access,
    pub after_cutover: Access,
}

impl PhaseAccess {
    pub const OPEN: PhaseAccess = PhaseAccess {
        before_transition: Access::Any,
        transition: Access::Any,
        after_cutover: Access::Any,
    };
}

/// One compiled path segment pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Seg {
    Lit(String),
    /// Parts between `*`s inside one segment (`*` alone is `["", ""]`).
    Wild(Vec<String>),
    /// `**`: zero or more segments.
    Any,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    /// As written in the config (`prefix=/marks module=marks`), for errors and explain.
    pub source: String,
    segs: Vec<Seg>,
    /// Every one must hold.
    query: Vec<QueryCondition>,
    /// When not empty, at least one must hold.
    any_query: Vec<QueryCondition>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternKind {
    Path,
    Prefix,
    Glob,
}

impl Matcher {
    /// `pattern` must already be a canonical path (see config validation); `query` are
    /// exact conditions.
    pub fn compile(kind: PatternKind, pattern: &str, query: Vec<(String, String)>) -> Self {
        let query = query
            .iter()
            .map(|(k, v)| QueryCondition::exact(k, v))
            .collect();
        Self::with_conditions(kind, pattern, query, Vec::new())
    }

    /// Like [`Matcher::compile`], with conditions of any kind: all of `query`, and at
    /// least one of `any_query` when it is not empty.
    pub fn with_conditions(
        kind: PatternKind,
        pattern: &str,
        query: Vec<QueryCondition>,
        any_query: Vec<QueryCondition>,
    ) -> Self {
        let mut segs: Vec<Seg> = pattern
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| match (kind, s) {
                (PatternKind::Glob, "**") => Seg::Any,
                (PatternKind::Glob, s) if s.contains('*') => {
                    Seg::Wild(s.split('*').map(str::to_string).collect())
                }
                (_, s) => Seg::Lit(s.to_string()),
            })
            .collect();
        if kind == PatternKind::Prefix {
            segs.push(Seg::Any);
        }
        let kind_name = match kind {
            PatternKind::Path => "path",
            PatternKind::Prefix => "prefix",
            PatternKind::Glob => "glob",
        };
        let mut source = format!("{kind_name}={pattern}");
        for c in &query {
            source.push_str(&format!(" {c}"));
        }
        if !any_query.is_empty() {
            let any: Vec<String> = any_query.iter().map(ToString::to_string).collect();
            source.push_str(&format!(" any({})", any.join(" | ")));
        }
        Self {
            source,
            segs,
            query,
            any_query,
        }
    }

    /// Does the request's path (as matched: lowercased, the PHP script under PATH_INFO)
    /// fit this matcher's pattern? `OPTIONS *` fits none.
    fn path_matches(&self, req: &CanonicalRequest, cfg: &CanonConfig) -> bool {
        if req.path == "*" {
            return false;
        }
        path_fits(&self.segs, req.match_path(cfg))
    }

    /// `Some(ambiguous)` when the request matches; `ambiguous` says a query condition
    /// was met only because the parameter was sent ambiguously.
    pub fn matches(&self, req: &CanonicalRequest, cfg: &CanonConfig) -> Option<bool> {
        if !self.path_matches(req, cfg) {
            return None;
        }
        let mut ambiguous = false;
        for c in &self.query {
            ambiguous |= c.test(&req.query, cfg)?;
        }
        if !self.any_query.is_empty() {
            let met: Vec<bool> = self
                .any_query
                .iter()
                .filter_map(|c| c.test(&req.query, cfg))
                .collect();
            if met.is_empty() {
                return None;
            }
            // Ambiguous only when no condition was met plainly.
            ambiguous |= met.iter().all(|amb| *amb);
        }
        Some(ambiguous)
    }

    /// The parameters this matcher's query conditions read, when its path matches the
    /// request's (the pipeline reads those from the body and cookies too).
    pub fn query_names_at(&self, req: &CanonicalRequest, cfg: &CanonConfig) -> Vec<&str> {
        if (self.query.is_empty() && self.any_query.is_empty()) || !self.path_matches(req, cfg) {
            return Vec::new();
        }
        self.query
            .iter()
            .chain(&self.any_query)
            .map(|c| c.name.as_str())
            .collect()
    }

    /// Every parameter this matcher's query conditions read.
    pub fn query_names(&self) -> impl Iterator<Item = &str> {
        self.query
            .iter()
            .chain(&self.any_query)
            .map(|c| c.name.as_str())
    }

    /// Could one request match both matchers? May say yes when the answer is no (two
    /// mid-segment wildcards), never the reverse.
    /// (`query_any` is not considered: it can only make the answer too cautious.)
    pub fn may_overlap(&self, other: &Matcher, value_case_insensitive: bool) -> bool {
        let query_conflict = self.query.iter().any(|a| {
            other
                .query
                .iter()
                .any(|b| a.disjoint(b, value_case_insensitive))
        });
        !query_conflict && segs_intersect(&self.segs, &other.segs)
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Dynamic programming over (pattern, path) suffixes: linear in both, whatever the
/// number of `**` (the path is client-controlled, so no backtracking).
/// [`segs_match`] on a path as written. Every request runs this for every matcher, so
/// the usual patterns — no `**`, or one at the end (each `prefix=`) — are matched in one
/// pass over the path without allocating; only a `**` elsewhere needs the general match.
pub(super) fn path_fits(pat: &[Seg], path: &str) -> bool {
    let mut segs = path.split('/').filter(|s| !s.is_empty());
    match pat.iter().position(|s| matches!(s, Seg::Any)) {
        None => {
            pat.iter()
                .all(|p| segs.next().is_some_and(|s| seg_matches(p, s)))
                && segs.next().is_none()
        }
        Some(last) if last + 1 == pat.len() => pat[..last]
            .iter()
            .all(|p| segs.next().is_some_and(|s| seg_matches(p, s))),
        Some(_) => segs_match(pat, &segs.collect::<Vec<_>>()),
    }
}

pub(super) fn segs_match(pat: &[Seg], path: &[&str]) -> bool {
    // row[j]: does pat[i..] match path[j..]? Computed from the last pattern segment up.
    let mut row: Vec<bool> = (0..=path.len()).map(|j| j == path.len()).collect();
    for seg in pat.iter().rev() {
        let mut next = vec![false; path.len() + 1];
        for j in (0..=path.len()).rev() {
            let at = |v: &Vec<bool>, k: usize| v.get(k).copied().unwrap_or(false);
            let value = match (seg, path.get(j)) {
                (Seg::Any, Some(_)) => at(&row, j) || at(&next, j + 1),
                (Seg::Any, None) => at(&row, j),
                (seg, Some(p)) => seg_matches(seg, p) && at(&row, j + 1),
                (_, None) => false,
            };
            if let Some(slot) = next.get_mut(j) {
                *slot = value;
            }
        }
        row = next;
    }
    row.first().copied().unwrap_or(false)
}

fn seg_matches(seg: &Seg, s: &str) -> bool {
    match seg {
        Seg::Lit(l) => l == s,
        Seg::Any => true,
        Seg::Wild(parts) => wild_matches(parts, s),
    }
}

/// `parts` = the literal pieces between `*`s: first is a prefix, last a suffix, the
/// middle ones appear in order, without overlapping.
fn wild_matches(parts: &[String], s: &str) -> bool {
    let (Some(first), Some(last)) = (parts.first(), parts.last()) else {
        return true;
    };
    if parts.len() == 1 {
        return first == s;
    }
    if s.len() < first.len() + last.len()
        || !s.starts_with(first.as_str())
        || !s.ends_with(last.as_str())
    {
        return false;
    }
    let Some(mut rest) = s.get(first.len()..s.len() - last.len()) else {
        return false;
    };
    for mid in parts.get(1..parts.len() - 1).unwrap_or(&[]) {
        match rest
            .find(mid.as_str())
            .and_then(|i| rest.get(i + mid.len()..))
        {
            Some(after) => rest = after,
            None => return false,
        }
    }
    true
}

pub(super) fn segs_intersect(a: &[Seg], b: &[Seg]) -> bool {
    match (a.split_first(), b.split_first()) {
        (None, None) => true,
        (Some((Seg::Any, ar)), _) => {
            segs_intersect(ar, b) || (!b.is_empty() && segs_intersect(a, &b[1..]))
        }
        (_, Some((Seg::Any, br))) => {
            segs_intersect(a, br) || (!a.is_empty() && segs_intersect(&a[1..], b))
        }
        (Some((x, ar)), Some((y, br))) => seg_compatible(x, y) && segs_intersect(ar, br),
        _ => false,
    }
}

fn seg_compatible(x: &Seg, y: &Seg) -> bool {
    match (x, y) {
        (Seg::Lit(l), Seg::Lit(m)) => l == m,
        (Seg::Lit(l), Seg::Wild(w)) | (Seg::Wild(w), Seg::Lit(l)) => wild_matches(w, l),
        _ => true,
    }
}

/// A named group, as validated from `[[route_group]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteGroup {
    pub name: String,
    pub priority: i64,
    pub matchers: Vec<Matcher>,
    /// Empty: every method (the diary serves pages to any method, so this is the norm).
    pub methods: Vec<Method>,
    pub access: PhaseAccess,
    /// Reachable by anyone in every phase, even when legacy login is disabled
    /// (static assets, the diary's public pages).
    pub public: bool,
    /// The reason cited when a session is refused here (e.g. `registration-closed`).
    pub deny_reason: Option<Reason>,
    /// Request targets this group must match (`samples`; checked at load, fetched by
    /// `diary-check`).
    pub samples: Vec<String>,
}

impl RouteGroup {
    /// `Some((matcher, ambiguous))` for the first matcher that matches.
    pub fn matches(&self, req: &CanonicalRequest, cfg: &CanonConfig) -> Option<(&Matcher, bool)> {
        if !self.methods.is_empty() && !self.methods.contains(&req.method) {
            return None;
        }
        self.matchers
            .iter()
            .find_map(|m| m.matches(req, cfg).map(|amb| (m, amb)))
    }

    /// A pair of matchers through which `self` and `other` may overlap.
    pub fn overlap_with<'a>(
        &'a self,
        other: &'a RouteGroup,
        value_ci: bool,
    ) -> Option<(&'a Matcher, &'a Matcher)> {
        let methods_meet = self.methods.is_empty()
            || other.methods.is_empty()
            || self.methods.iter().any(|m| other.methods.contains(m));
        if !methods_meet {
            return None;
        }
        self.matchers.iter().find_map(|a| {
            other
                .matchers
                .iter()
                .find(|b| a.may_overlap(b, value_ci))
                .map(|b| (a, b))
        })
    }
}

#[cfg(test)]
#[path = "routes_tests.rs"]
mod tests;
