//! Query conditions of a matcher: `module = "marks"` (exact), `{ prefix = "Grades/" }`
//! and `{ glob = "Grades/*.php" }` (path patterns), read on the decoded, PHP-read value.
//!
//! Threat: a PHP diary that picks its page from a path-valued parameter
//! (`Modules.php?modname=Grades/StudentGrades.php`) opens the file the value names, so
//! `Grades//StudentGrades.php`, `./Grades/…`, `Users/../Grades/…`, `Grades\…` and (on
//! Windows) `GRADES/…` all reach the grade page. A condition compared as a string sees
//! another page.
//!
//! Defence: a path pattern, and an exact value containing `/` or `\`, compares values
//! segment by segment after normalising them the way a file lookup would: `\` read as `/`,
//! empty and `.` segments dropped, `..` resolved, case ignored when the diary ignores it
//! (`case_insensitive` or `value_case_insensitive`: a false match only protects more). A
//! value that climbs above its root (`../Grades/X.php`), or that a Windows diary reads as
//! another name (`X.php.`, `GRADES~1`, `X.php::$DATA`), cannot be judged: the condition
//! counts as met through an ambiguous value, like a parameter sent twice (fail closed).

use std::fmt;

use super::canonical::{CanonConfig, windows_segment};
use super::query::PhpQuery;
use super::routes::{Seg, segs_intersect, segs_match};

/// A value condition as written in the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValuePattern {
    /// `module = "marks"`: this value (a value with `/` or `\` is compared as a path).
    Exact(String),
    /// `{ prefix = "Grades/" }`: this path and every path under it, segment-wise
    /// (`Grades`, `Grades/X.php`; not `GradesBook/X.php`).
    Prefix(String),
    /// `{ glob = "Grades/*.php" }`: `*` is one segment or part of one, `**` (a whole
    /// segment) any number of segments.
    Glob(String),
}

impl fmt::Display for ValuePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValuePattern::Exact(v) => f.write_str(v),
            ValuePattern::Prefix(p) => write!(f, "{{prefix={p}}}"),
            ValuePattern::Glob(g) => write!(f, "{{glob={g}}}"),
        }
    }
}

/// One compiled condition on one parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryCondition {
    /// The parameter, as PHP names it (`modname`).
    pub name: String,
    /// As written, for errors and `explain`.
    pub pattern: ValuePattern,
    test: Test,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Test {
    /// Trimmed; compared ignoring case when `value_case_insensitive`.
    Exact(String),
    /// Segment patterns as written, and lowercased.
    Path { segs: Vec<Seg>, folded: Vec<Seg> },
}

/// A path-like value after normalisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathValue {
    Segments(Vec<String>),
    /// Above its root, or a Windows spelling of another name: cannot be judged.
    Ambiguous,
}

/// Normalises a path-like value as a file lookup would (see the module doc); `windows`
/// adds the Windows spellings (trailing `.`/space, `~1` short names, `:` streams).
pub fn normalize_value(value: &str, windows: bool) -> PathValue {
    let mut out: Vec<String> = Vec::new();
    for seg in value.split(['/', '\\']) {
        match seg {
            "" | "." => {}
            ".." => {
                if out.pop().is_none() {
                    return PathValue::Ambiguous;
                }
            }
            s => {
                if windows && windows_segment(s).is_err() {
                    return PathValue::Ambiguous;
                }
                out.push(s.to_string());
            }
        }
    }
    PathValue::Segments(out)
}

impl QueryCondition {
    /// Compiles a condition; `Err` says why a pattern cannot be used (it climbs above
    /// its root, or puts `*` where it does not belong).
    pub fn new(name: &str, pattern: ValuePattern) -> Result<Self, String> {
        let test = match &pattern {
            ValuePattern::Exact(v) if !v.contains(['/', '\\']) => Test::Exact(v.trim().into()),
            ValuePattern::Exact(v) => path_test(v.trim(), false, false)?,
            ValuePattern::Prefix(p) => path_test(p.trim(), true, false)?,
            ValuePattern::Glob(g) => path_test(g.trim(), false, true)?,
        };
        Ok(Self {
            name: name.to_string(),
            pattern,
            test,
        })
    }

    /// `name = value`, exact. A path-valued exact value that cannot be compiled as a path
    /// (it climbs above its root) is compared as a plain string.
    pub fn exact(name: &str, value: &str) -> Self {
        let pattern = ValuePattern::Exact(value.to_string());
        Self::new(name, pattern.clone()).unwrap_or_else(|_| Self {
            name: name.to_string(),
            pattern,
            test: Test::Exact(value.trim().to_string()),
        })
    }

    /// `Some(ambiguous)` when the request meets the condition; `ambiguous` says it was
    /// met only because the parameter or its value could not be read one way.
    pub fn test(&self, query: &PhpQuery, cfg: &CanonConfig) -> Option<bool> {
        if query.is_ambiguous(&self.name) {
            return Some(true);
        }
        let got = query.get_scalar(&self.name)?.trim();
        match &self.test {
            Test::Exact(want) => {
                let same = if cfg.value_case_insensitive {
                    got.to_lowercase() == want.to_lowercase()
                } else {
                    got == want
                };
                same.then_some(false)
            }
            Test::Path { segs, folded } => match normalize_value(got, cfg.case_insensitive) {
                PathValue::Ambiguous => Some(true),
                PathValue::Segments(value) => {
                    let fold = cfg.case_insensitive || cfg.value_case_insensitive;
                    let value: Vec<String> = if fold {
                        value.iter().map(|s| s.to_lowercase()).collect()
                    } else {
                        value
                    };
                    let value: Vec<&str> = value.iter().map(String::as_str).collect();
                    segs_match(if fold { folded } else { segs }, &value).then_some(false)
                }
            },
        }
    }

    /// True when no value can meet both conditions (same parameter). May say false when
    /// the answer is true (conservative), never the reverse.
    pub fn disjoint(&self, other: &QueryCondition, value_case_insensitive: bool) -> bool {
        if self.name != other.name {
            return false;
        }
        let fold = |v: &str| {
            if value_case_insensitive {
                v.to_lowercase()
            } else {
                v.to_string()
            }
        };
        match (&self.test, &other.test) {
            (Test::Exact(a), Test::Exact(b)) => fold(a) != fold(b),
            (Test::Path { folded: a, .. }, Test::Path { folded: b, .. }) => !segs_intersect(a, b),
            (Test::Exact(v), Test::Path { folded, .. })
            | (Test::Path { folded, .. }, Test::Exact(v)) => {
                match normalize_value(&v.to_lowercase(), false) {
                    PathValue::Segments(s) => {
                        let s: Vec<&str> = s.iter().map(String::as_str).collect();
                        !segs_match(folded, &s)
                    }
                    PathValue::Ambiguous => false,
                }
            }
        }
    }
}

impl fmt::Display for QueryCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.name, self.pattern)
    }
}

fn path_test(pattern: &str, prefix: bool, glob: bool) -> Result<Test, String> {
    if !glob && pattern.contains('*') {
        return Err(format!("{pattern:?} contains *"));
    }
    if pattern
        .split(['/', '\\'])
        .any(|s| s.contains("**") && s != "**")
    {
        return Err(format!("{pattern:?}: ** must be a whole segment"));
    }
    let PathValue::Segments(parts) = normalize_value(pattern, false) else {
        return Err(format!("{pattern:?} climbs above its root"));
    };
    let compile = |parts: &[String]| -> Vec<Seg> {
        let mut segs: Vec<Seg> = parts
            .iter()
            .map(|s| match s.as_str() {
                "**" if glob => Seg::Any,
                s if glob && s.contains('*') => {
                    Seg::Wild(s.split('*').map(str::to_string).collect())
                }
                s => Seg::Lit(s.to_string()),
            })
            .collect();
        if prefix {
            segs.push(Seg::Any);
        }
        segs
    };
    let lower: Vec<String> = parts.iter().map(|s| s.to_lowercase()).collect();
    Ok(Test::Path {
        segs: compile(&parts),
        folded: compile(&lower),
    })
}

#[cfg(test)]
#[path = "conditions_tests.rs"]
mod tests;
