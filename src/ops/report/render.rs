//! The readiness figures as a terminal report (with a small bar chart of sign-ins per
//! day), as one JSON object, or as CSV rows `section,key,detail,value` that a
//! spreadsheet can pivot.

use std::fmt::Write as _;

use chrono::SecondsFormat;

use crate::admin::readiness::{Readiness, RoleRow};
use crate::ops::OpsError;

/// Width of the longest bar in the sign-ins chart, in characters.
const BAR: usize = 40;

pub fn text(r: &Readiness) -> String {
    let mut out = String::new();
    let ts = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M").to_string();
    let _ = writeln!(
        out,
        "Cutover readiness, {} – {} (UTC)\n",
        ts(r.since),
        ts(r.until)
    );

    out.push_str("Diary users who signed in, by role\n");
    let mut rows = vec![[
        "ROLE".to_owned(),
        "ACTIVE".to_owned(),
        "VIA ESIA".to_owned(),
        "PASSWORD ONLY".to_owned(),
        "LINKED".to_owned(),
        "LINKED %".to_owned(),
    ]];
    let cells = |row: &RoleRow| {
        [
            row.role.clone(),
            row.active.to_string(),
            row.via_esia.to_string(),
            row.legacy_only.to_string(),
            row.linked.to_string(),
            format!("{:.1}", row.linked_percent),
        ]
    };
    rows.extend(r.roles.iter().map(cells));
    rows.push(cells(&r.total));
    out.push_str(&table(&rows));
    let _ = writeln!(
        out,
        "ESIA accounts that signed in but are not linked to a diary user: {}",
        r.esia_not_linked
    );
    let _ = writeln!(out, "Bindings in the store: {}\n", r.bindings);

    out.push_str("Sign-ins per day (UTC): █ ESIA, ░ diary password\n");
    let peak = r.days.iter().map(|d| d.esia + d.legacy).max().unwrap_or(0);
    for d in &r.days {
        let scale = |n: usize| {
            if peak == 0 {
                0
            } else {
                // Round up so a single sign-in still shows.
                (n * BAR).div_ceil(peak)
            }
        };
        let line = format!(
            "  {}  {:>5} {:>5}  {}{}",
            d.day,
            d.esia,
            d.legacy,
            "█".repeat(scale(d.esia)),
            "░".repeat(scale(d.legacy)),
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out.push('\n');

    out.push_str("Requests refused after the cutover\n");
    let rows = r.refused_after_cutover.iter().map(|x| {
        [
            x.reason.clone(),
            x.group.clone().unwrap_or_else(|| "-".into()),
            x.refusals.to_string(),
            x.users.to_string(),
        ]
    });
    section(&mut out, ["REASON", "GROUP", "REFUSALS", "USERS"], rows);

    out.push_str("ESIA accounts refused for their level\n");
    let rows = r.level_refused.iter().map(|x| {
        [
            x.role.clone(),
            x.level.clone().unwrap_or_else(|| "-".into()),
            x.needed.clone().unwrap_or_else(|| "-".into()),
            x.accounts.to_string(),
        ]
    });
    section(&mut out, ["ROLE", "LEVEL", "NEEDED", "ACCOUNTS"], rows);

    let _ = writeln!(
        out,
        "Flagged bindings (ESIA person and diary account differ): {}",
        r.flagged.len()
    );
    if !r.flagged.is_empty() {
        let rows = r.flagged.iter().map(|f| {
            [
                f.esia_oid.to_string(),
                f.diary_login.clone(),
                f.role.clone().unwrap_or_else(|| "-".into()),
            ]
        });
        section(&mut out, ["OID", "LOGIN", "ROLE"], rows);
        out.push_str("  (esia-gateway bindings list --flagged; unbind with bindings unbind)\n");
    }
    out
}

pub fn json(r: &Readiness) -> Result<String, OpsError> {
    let mut value = serde_json::to_value(r).map_err(|e| OpsError::runtime("json", &e))?;
    // RFC 3339 with seconds, like `audit` prints.
    value["since"] = r.since.to_rfc3339_opts(SecondsFormat::Secs, true).into();
    value["until"] = r.until.to_rfc3339_opts(SecondsFormat::Secs, true).into();
    serde_json::to_string_pretty(&value).map_err(|e| OpsError::runtime("json", &e))
}

pub fn csv(r: &Readiness) -> Result<Vec<u8>, OpsError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut row = |section: &str, key: &str, detail: &str, value: String| {
        w.write_record([section, key, detail, value.as_str()])
    };
    let fail = |e: csv::Error| OpsError::runtime("csv", &e);
    row("section", "key", "detail", "value".into()).map_err(fail)?;
    row(
        "window",
        "since",
        "",
        r.since.to_rfc3339_opts(SecondsFormat::Secs, true),
    )
    .map_err(fail)?;
    row(
        "window",
        "until",
        "",
        r.until.to_rfc3339_opts(SecondsFormat::Secs, true),
    )
    .map_err(fail)?;
    for x in r.roles.iter().chain(std::iter::once(&r.total)) {
        row("users", &x.role, "active", x.active.to_string()).map_err(fail)?;
        row("users", &x.role, "via_esia", x.via_esia.to_string()).map_err(fail)?;
        row("users", &x.role, "legacy_only", x.legacy_only.to_string()).map_err(fail)?;
        row("users", &x.role, "linked", x.linked.to_string()).map_err(fail)?;
        row(
            "users",
            &x.role,
            "linked_percent",
            format!("{:.1}", x.linked_percent),
        )
        .map_err(fail)?;
    }
    row(
        "users",
        "esia_not_linked",
        "",
        r.esia_not_linked.to_string(),
    )
    .map_err(fail)?;
    row("bindings", "total", "", r.bindings.to_string()).map_err(fail)?;
    for d in &r.days {
        let day = d.day.to_string();
        row("sign_ins", &day, "esia", d.esia.to_string()).map_err(fail)?;
        row("sign_ins", &day, "legacy", d.legacy.to_string()).map_err(fail)?;
    }
    for x in &r.refused_after_cutover {
        let key = format!("{}/{}", x.reason, x.group.as_deref().unwrap_or("-"));
        row("refused", &key, "refusals", x.refusals.to_string()).map_err(fail)?;
        row("refused", &key, "users", x.users.to_string()).map_err(fail)?;
    }
    for x in &r.level_refused {
        let key = format!(
            "{}/{}/{}",
            x.role,
            x.level.as_deref().unwrap_or("-"),
            x.needed.as_deref().unwrap_or("-")
        );
        row("level_refused", &key, "accounts", x.accounts.to_string()).map_err(fail)?;
    }
    for f in &r.flagged {
        row(
            "flagged",
            &f.esia_oid.to_string(),
            &f.diary_login,
            f.role.clone().unwrap_or_default(),
        )
        .map_err(fail)?;
    }
    w.into_inner()
        .map_err(|e| OpsError::Runtime(format!("csv: {e}")))
}

/// A table under its heading, or "none"; then a blank line.
fn section<const N: usize>(
    out: &mut String,
    header: [&str; N],
    rows: impl Iterator<Item = [String; N]>,
) {
    let mut all = vec![header.map(str::to_owned)];
    all.extend(rows);
    if all.len() == 1 {
        out.push_str("  none\n\n");
    } else {
        out.push_str(&table(&all));
        out.push('\n');
    }
}

/// Left-aligned columns, two spaces apart, widths in characters (logins are Cyrillic too).
pub(super) fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0usize; N];
    for r in rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for r in rows {
        for (w, cell) in widths.iter().zip(r) {
            let _ = write!(out, "  {cell}{}", " ".repeat(w - cell.chars().count()));
        }
        let trimmed = out.trim_end().len();
        out.truncate(trimmed);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::readiness::compute;

    fn two_empty_days() -> Readiness {
        let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        compute(
            at("2019-01-10T00:00:00Z"),
            at("2019-01-12T00:00:00Z"),
            &[],
            &[],
            &[],
        )
    }

    #[test]
    fn the_empty_report_says_none_rather_than_printing_empty_tables() {
        let r = two_empty_days();
        let t = text(&r);
        assert!(
            t.contains("Requests refused after the cutover\n  none"),
            "{t}"
        );
        assert!(t.contains("2019-01-11"), "{t}");
        assert!(t.contains("Flagged bindings (ESIA person and diary account differ): 0"));
    }

    #[test]
    fn csv_and_json_carry_the_same_totals() {
        let r = two_empty_days();
        let csv = String::from_utf8(csv(&r).unwrap()).unwrap();
        assert!(csv.starts_with("section,key,detail,value\n"), "{csv}");
        assert!(csv.contains("users,total,active,0\n"), "{csv}");
        let json: serde_json::Value = serde_json::from_str(&json(&r).unwrap()).unwrap();
        assert_eq!(json["total"]["active"], 0);
        assert_eq!(json["since"], "2019-01-10T00:00:00Z");
    }
}
