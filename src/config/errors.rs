//! Configuration errors as an operator reads them: one line each, in file order,
//! `gateway.toml:12:7: upstream.url: <what is wrong> (hint: <what to write>)`.
//! An error caused by an environment override names the variable instead of a line.

use std::fmt;
use std::path::PathBuf;

/// Where the bad value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A position in the config file (1-based line and column, in characters).
    File {
        path: PathBuf,
        line: usize,
        col: usize,
    },
    /// The config file, where no position is known (a missing section, an unreadable file).
    FileOnly { path: PathBuf },
    /// An `ESIA_GATEWAY__…` environment variable.
    Env { var: String },
    /// A page template the config names (`[pages] templates`), at a line when known.
    Template { path: PathBuf, line: Option<usize> },
}

/// One problem in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted key path, e.g. `upstream.url` or `route_group[2].paths`; empty for the file.
    pub path: String,
    pub location: Location,
    pub message: String,
    pub hint: Option<String>,
}

/// Every problem found in one pass; never empty when returned as an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    pub fn iter(&self) -> impl Iterator<Item = &ConfigError> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File { path, line, col } => write!(f, "{}:{line}:{col}", path.display()),
            Location::FileOnly { path } => write!(f, "{}", path.display()),
            Location::Env { var } => write!(f, "env {var}"),
            Location::Template {
                path,
                line: Some(line),
            } => write!(f, "{}:{line}", path.display()),
            Location::Template { path, line: None } => write!(f, "{}", path.display()),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys and values come from the file: a quoted key may hold a newline or an ANSI
        // escape. Escape control characters so one error stays one line on a terminal.
        let location = self.location.to_string();
        write!(f, "{}: ", escape_controls(&location))?;
        if !self.path.is_empty() {
            write!(f, "{}: ", escape_controls(&self.path))?;
        }
        f.write_str(&escape_controls(&self.message))?;
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {})", escape_controls(hint))?;
        }
        Ok(())
    }
}

/// `\n`, `\r`, `\t` and other control characters as visible escapes.
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// A serde message split into what is wrong and what was expected. serde's wording is
/// stable (`invalid type: X, expected Y`, `unknown field `x`, expected one of ...`), so
/// the expectation becomes the hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerdeMessage {
    pub message: String,
    pub hint: Option<String>,
    /// For `unknown field`/`unknown variant`: the bad name and the allowed names.
    pub unknown: Option<(String, Vec<String>)>,
}

pub fn split_serde_message(raw: &str) -> SerdeMessage {
    let raw = raw.trim();
    for (prefix, what) in [("unknown field ", "key"), ("unknown variant ", "value")] {
        if let Some(rest) = raw.strip_prefix(prefix) {
            let (name, expected) = match rest.split_once(", expected ") {
                Some((n, e)) => (n, e),
                None => (rest.split(',').next().unwrap_or(rest), ""),
            };
            let name = name.trim_matches('`').to_string();
            let allowed = backticked(expected);
            let hint = unknown_hint(&name, &allowed);
            return SerdeMessage {
                message: format!("unknown {what} `{name}`"),
                hint: Some(hint),
                unknown: Some((name, allowed)),
            };
        }
    }
    for prefix in ["invalid type: ", "invalid value: ", "invalid length "] {
        if raw.starts_with(prefix)
            && let Some((what, expected)) = raw.split_once(", expected ")
        {
            return SerdeMessage {
                message: what.to_string(),
                hint: Some(format!("expected {}", plain_expectation(expected))),
                unknown: None,
            };
        }
    }
    if let Some(rest) = raw.strip_prefix("missing field ") {
        return SerdeMessage {
            message: format!("missing key {rest}"),
            hint: None,
            unknown: None,
        };
    }
    SerdeMessage {
        message: raw.to_string(),
        hint: None,
        unknown: None,
    }
}

/// serde names Rust types ("usize", "struct ListenFile"); operators read TOML.
fn plain_expectation(expected: &str) -> String {
    match expected {
        "usize" | "u64" | "u32" | "u16" | "u8" => "a whole number ≥ 0".to_string(),
        "i64" | "i32" | "isize" => "a whole number".to_string(),
        "a sequence" => "an array like [\"a\", \"b\"]".to_string(),
        e if e.starts_with("struct ") => "a table".to_string(),
        e => e.to_string(),
    }
}

/// The names inside backticks in "`a`, `b` or `c`".
fn backticked(list: &str) -> Vec<String> {
    list.split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s.to_string())
        .collect()
}

/// "did you mean `x`?" when a name is close, otherwise the whole list.
pub fn unknown_hint(name: &str, allowed: &[String]) -> String {
    let nearest = allowed
        .iter()
        .map(|a| (edit_distance(&name.to_lowercase(), a), a))
        .min_by_key(|(d, _)| *d);
    match nearest {
        Some((d, a)) if d <= (name.chars().count() / 3).max(1) => format!("did you mean `{a}`?"),
        _ if allowed.is_empty() => "this table takes no keys".to_string(),
        _ => format!(
            "allowed here: {}",
            allowed
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Levenshtein distance with adjacent transpositions (optimal string alignment).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for (i, row) in d.chunks_mut(w).enumerate() {
        if let Some(first) = row.first_mut() {
            *first = i;
        }
    }
    for (j, cell) in d.iter_mut().take(w).enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * w + j] + 1)
                .min(d[i * w + j - 1] + 1)
                .min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = best;
        }
    }
    d[a.len() * w + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_one_line_per_error() {
        let errs = ConfigErrors(vec![
            ConfigError {
                path: "upstream.url".into(),
                location: Location::File {
                    path: "gateway.toml".into(),
                    line: 12,
                    col: 7,
                },
                message: "not a URL".into(),
                hint: Some("expected \"http://host:port\"".into()),
            },
            ConfigError {
                path: "tls.cert".into(),
                location: Location::Env {
                    var: "ESIA_GATEWAY__TLS__CERT".into(),
                },
                message: "missing".into(),
                hint: None,
            },
        ]);
        assert_eq!(
            errs.to_string(),
            "gateway.toml:12:7: upstream.url: not a URL (hint: expected \"http://host:port\")\n\
             env ESIA_GATEWAY__TLS__CERT: tls.cert: missing"
        );
    }

    #[test]
    fn control_characters_never_break_the_line() {
        let e = ConfigError {
            path: "log.a\nb".into(),
            location: Location::FileOnly {
                path: "g.toml".into(),
            },
            message: "unknown key `a\nb\u{1b}[31m`".into(),
            hint: Some("x\ty".into()),
        };
        assert_eq!(
            e.to_string(),
            "g.toml: log.a\\nb: unknown key `a\\nb\\u{1b}[31m` (hint: x\\ty)"
        );
    }

    #[test]
    fn unknown_field_suggests_nearest() {
        let m = split_serde_message("unknown field `urll`, expected one of `url`, `host_header`");
        assert_eq!(m.message, "unknown key `urll`");
        assert_eq!(m.hint.as_deref(), Some("did you mean `url`?"));
        let m = split_serde_message("unknown field `zzz`, expected `url` or `host_header`");
        assert_eq!(
            m.hint.as_deref(),
            Some("allowed here: `url`, `host_header`")
        );
        let m = split_serde_message("unknown field `x`, there are no fields");
        assert_eq!(m.hint.as_deref(), Some("this table takes no keys"));
    }

    #[test]
    fn invalid_type_becomes_message_and_hint() {
        let m = split_serde_message("invalid type: integer `5`, expected a string");
        assert_eq!(m.message, "invalid type: integer `5`");
        assert_eq!(m.hint.as_deref(), Some("expected a string"));
        let m = split_serde_message("invalid type: string \"x\", expected usize");
        assert_eq!(m.hint.as_deref(), Some("expected a whole number ≥ 0"));
        let m = split_serde_message("invalid type: string \"x\", expected struct ListenFile");
        assert_eq!(m.hint.as_deref(), Some("expected a table"));
        let m = split_serde_message("unknown variant `xml`, expected `pretty` or `json`");
        assert_eq!(m.message, "unknown value `xml`");
        assert_eq!(m.hint.as_deref(), Some("allowed here: `pretty`, `json`"));
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("url", "url"), 0);
        assert_eq!(edit_distance("ulr", "url"), 1);
        assert_eq!(edit_distance("lisen", "listen"), 1);
        assert_eq!(edit_distance("кот", "кит"), 1);
    }
}
