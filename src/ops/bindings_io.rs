//! Bindings as files: CSV (with a header row) and JSON lines (one object per line),
//! written by `bindings export` and read back by `bindings import`. The same columns
//! in both; vault passwords are never part of it (the user types the password again
//! at the next sign-in through the gateway).
//!
//! Reading checks every row and collects every problem with its line number, so an
//! operator fixes a file in one pass; a file with any bad row imports nothing.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::identity::{AccountLevel, Role};
use crate::store::Binding;

/// The columns, in file order.
pub const COLUMNS: [&str; 7] = [
    "esia_oid",
    "diary_login",
    "diary_role",
    "account_level",
    "created_at",
    "last_used_at",
    "stale",
];

/// File format of `--format` for export and import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FileFormat {
    Csv,
    Json,
}

/// One binding as written to a file (also the JSON of `bindings list|show`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Row {
    pub esia_oid: Option<serde_json::Value>,
    pub diary_login: Option<String>,
    pub diary_role: Option<String>,
    pub account_level: Option<String>,
    pub created_at: Option<String>,
    pub last_used_at: Option<String>,
    pub stale: Option<serde_json::Value>,
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl From<&Binding> for Row {
    fn from(b: &Binding) -> Self {
        Self {
            esia_oid: Some(b.esia_oid.into()),
            diary_login: Some(b.diary_login.clone()),
            diary_role: b.diary_role.clone(),
            account_level: b.account_level.clone(),
            created_at: Some(time(b.created_at)),
            last_used_at: Some(time(b.last_used_at)),
            stale: Some(b.stale.into()),
        }
    }
}

/// One JSON line.
pub fn to_json(b: &Binding) -> String {
    serde_json::to_string(&Row::from(b)).unwrap_or_default()
}

/// The whole CSV text, header first.
pub fn to_csv(all: &[Binding]) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(COLUMNS)?;
    for b in all {
        w.write_record([
            b.esia_oid.to_string(),
            b.diary_login.clone(),
            b.diary_role.clone().unwrap_or_default(),
            b.account_level.clone().unwrap_or_default(),
            time(b.created_at),
            time(b.last_used_at),
            b.stale.to_string(),
        ])?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// A problem with one input line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    pub line: u64,
    pub message: String,
}

/// Parses a whole file; every bindings or every problem (not just the first).
pub fn parse(
    text: &str,
    format: FileFormat,
    now: DateTime<Utc>,
) -> Result<Vec<(u64, Binding)>, Vec<BadRow>> {
    let (rows, mut bad) = match format {
        FileFormat::Csv => csv_rows(text)?,
        FileFormat::Json => json_rows(text),
    };
    let mut out = Vec::with_capacity(rows.len());
    // An OID may repeat (one ESIA account, several diary accounts); a login may not.
    let mut seen_login: HashMap<String, u64> = HashMap::new();
    for (line, row) in rows {
        match check(row, now) {
            Ok(b) => {
                if let Some(first) = seen_login.insert(b.diary_login.clone(), line) {
                    bad.push(BadRow {
                        line,
                        message: format!("diary_login {:?} repeats line {first}", b.diary_login),
                    });
                } else {
                    out.push((line, b));
                }
            }
            Err(messages) => {
                bad.extend(messages.into_iter().map(|message| BadRow { line, message }))
            }
        }
    }
    bad.sort_by_key(|b| b.line);
    if bad.is_empty() { Ok(out) } else { Err(bad) }
}

/// Rows with their line numbers, and the lines that are not rows; `Err` when the
/// header itself is unusable.
type Rows = (Vec<(u64, Row)>, Vec<BadRow>);

fn csv_rows(text: &str) -> Result<Rows, Vec<BadRow>> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(text.as_bytes());
    let header = r.headers().map_err(|e| {
        vec![BadRow {
            line: 1,
            message: format!("unreadable header: {e}"),
        }]
    })?;
    let mut index = HashMap::new();
    let mut bad = Vec::new();
    for (i, name) in header.iter().enumerate() {
        if !COLUMNS.contains(&name) {
            bad.push(BadRow {
                line: 1,
                message: format!("unknown column {name:?} (columns: {})", COLUMNS.join(",")),
            });
        } else if index.insert(name.to_owned(), i).is_some() {
            bad.push(BadRow {
                line: 1,
                message: format!("column {name:?} twice"),
            });
        }
    }
    for required in ["esia_oid", "diary_login"] {
        if !index.contains_key(required) {
            bad.push(BadRow {
                line: 1,
                message: format!("missing column {required:?}"),
            });
        }
    }
    if !bad.is_empty() {
        return Err(bad);
    }
    let mut rows = Vec::new();
    for record in r.records() {
        match record {
            Ok(rec) => {
                let line = rec.position().map_or(0, |p| p.line());
                let field = |name: &str| {
                    index
                        .get(name)
                        .and_then(|&i| rec.get(i))
                        .filter(|v| !v.is_empty())
                        .map(str::to_owned)
                };
                rows.push((
                    line,
                    Row {
                        esia_oid: field("esia_oid").map(serde_json::Value::String),
                        diary_login: field("diary_login"),
                        diary_role: field("diary_role"),
                        account_level: field("account_level"),
                        created_at: field("created_at"),
                        last_used_at: field("last_used_at"),
                        stale: field("stale").map(serde_json::Value::String),
                    },
                ));
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                let message = match e.kind() {
                    csv::ErrorKind::UnequalLengths { len, .. } => {
                        format!("{len} fields, the header has {}", index.len())
                    }
                    csv::ErrorKind::Utf8 { .. } => "not UTF-8".to_owned(),
                    _ => e.to_string(),
                };
                bad.push(BadRow { line, message });
            }
        }
    }
    Ok((rows, bad))
}

fn json_rows(text: &str) -> Rows {
    let mut rows = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i as u64 + 1;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Row>(line) {
            Ok(row) => rows.push((n, row)),
            Err(e) => bad.push(BadRow {
                line: n,
                message: if line.trim_start().starts_with('[') {
                    "expected one JSON object per line (as `bindings export --format json` writes), not an array".to_owned()
                } else {
                    format!("not a binding object: {e}")
                },
            }),
        }
    }
    (rows, bad)
}

/// Every problem of one row, or the binding it describes.
fn check(row: Row, now: DateTime<Utc>) -> Result<Binding, Vec<String>> {
    let mut problems = Vec::new();
    let oid = match &row.esia_oid {
        Some(serde_json::Value::Number(n)) => n.as_i64(),
        Some(serde_json::Value::String(s)) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    let oid = match oid {
        Some(o) if o > 0 => o,
        _ => {
            problems.push(match &row.esia_oid {
                None => "esia_oid is missing".to_owned(),
                Some(v) => format!("esia_oid {v} is not a positive integer"),
            });
            0
        }
    };
    let login = row.diary_login.unwrap_or_default();
    if login.trim().is_empty() {
        problems.push("diary_login is missing".to_owned());
    } else if login.trim() != login || login.chars().any(char::is_control) || login.len() > 256 {
        problems.push(format!(
            "diary_login {login:?} has surrounding spaces, control characters or is too long"
        ));
    }
    if let Some(role) = &row.diary_role
        && Role::parse(role).is_none()
    {
        let known: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        problems.push(format!(
            "diary_role {role:?} is not one of {}",
            known.join(", ")
        ));
    }
    if let Some(level) = &row.account_level
        && AccountLevel::parse(level).is_none()
    {
        let known: Vec<&str> = AccountLevel::ALL.iter().map(|l| l.as_str()).collect();
        problems.push(format!(
            "account_level {level:?} is not one of {}",
            known.join(", ")
        ));
    }
    let mut when = |name: &str, v: &Option<String>| match v {
        None => None,
        Some(s) => match DateTime::parse_from_rfc3339(s.trim()) {
            Ok(t) => Some(t.to_utc()),
            Err(_) => {
                problems.push(format!("{name} {s:?} is not an RFC 3339 time"));
                None
            }
        },
    };
    let created_at = when("created_at", &row.created_at).unwrap_or(now);
    let last_used_at = when("last_used_at", &row.last_used_at).unwrap_or(created_at);
    let stale = match &row.stale {
        None => false,
        Some(serde_json::Value::Bool(b)) => *b,
        Some(serde_json::Value::String(s)) => match s.trim() {
            "true" | "1" => true,
            "false" | "0" => false,
            other => {
                problems.push(format!("stale {other:?} is not true or false"));
                false
            }
        },
        Some(v) => {
            problems.push(format!("stale {v} is not true or false"));
            false
        }
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Binding {
        esia_oid: oid,
        diary_login: login,
        diary_role: row.diary_role,
        account_level: row.account_level,
        created_at,
        last_used_at,
        stale,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn sample() -> Vec<Binding> {
        vec![
            Binding {
                esia_oid: 1000299681,
                diary_login: "parent".into(),
                diary_role: Some("parent".into()),
                account_level: Some("confirmed".into()),
                created_at: t("2019-01-10T09:00:00Z"),
                last_used_at: t("2019-01-11T09:00:00Z"),
                stale: false,
            },
            Binding {
                esia_oid: 7,
                diary_login: "with,comma \"and quotes\"".into(),
                diary_role: None,
                account_level: None,
                created_at: t("2019-01-10T09:00:00Z"),
                last_used_at: t("2019-01-10T09:00:00Z"),
                stale: true,
            },
        ]
    }

    #[test]
    fn csv_and_json_round_trip() {
        let now = t("2020-01-01T00:00:00Z");
        let csv = String::from_utf8(to_csv(&sample()).unwrap()).unwrap();
        let back: Vec<Binding> = parse(&csv, FileFormat::Csv, now)
            .unwrap()
            .into_iter()
            .map(|(_, b)| b)
            .collect();
        assert_eq!(back, sample());
        let json: String = sample().iter().map(|b| to_json(b) + "\n").collect();
        let back: Vec<Binding> = parse(&json, FileFormat::Json, now)
            .unwrap()
            .into_iter()
            .map(|(_, b)| b)
            .collect();
        assert_eq!(back, sample());
    }

    #[test]
    fn every_bad_row_is_reported_with_its_line() {
        let now = t("2020-01-01T00:00:00Z");
        let text = "esia_oid,diary_login,diary_role\n\
                    1,a,parent\n\
                    x,b,parent\n\
                    2,,wizard\n\
                    3,a,\n\
                    4,c\n";
        let bad = parse(text, FileFormat::Csv, now).unwrap_err();
        let lines: Vec<u64> = bad.iter().map(|b| b.line).collect();
        assert_eq!(lines, vec![3, 4, 4, 5, 6], "{bad:?}");
        assert!(bad[3].message.contains("repeats line 2"), "{bad:?}");
        let bad = parse("esia_oid,login\n", FileFormat::Csv, now).unwrap_err();
        assert_eq!(bad.len(), 2, "{bad:?}");
        let bad = parse(
            "{\"esia_oid\":1,\"diary_login\":\"a\"}\n\n{\"esia_oid\":-1}\n[1]\n{\"password\":\"x\"}\n",
            FileFormat::Json,
            now,
        )
        .unwrap_err();
        let lines: Vec<u64> = bad.iter().map(|b| b.line).collect();
        assert_eq!(lines, vec![3, 3, 4, 5], "{bad:?}");
    }
}
