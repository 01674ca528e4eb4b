//! Every hostile spelling of the grade routes in `tests/data/hostile_grade_spellings.tsv`
//! goes through the same two steps as in the proxy (canonicalize, then decide) for a
//! legacy-only session after seed 004's cutover, and must get the expected outcome.
//! All failing rows are printed at once.
//!
//! The same rows, for the same users, must not hurt anyone else: an ESIA-linked parent
//! after the cutover and a legacy session during the transition get every row that is
//! not rejected.

use chrono::DateTime;
use esia_gateway::policy::{
    AccountLevel, Decision, Phase, Role, SessionView, decide, default_policy, strip_overrides,
};
use http::{HeaderMap, HeaderName, HeaderValue};

const TABLE: &str = include_str!("data/hostile_grade_spellings.tsv");
const HEADERS: &str = include_str!("data/hostile_grade_headers.tsv");

struct Row<'a> {
    line: usize,
    method: &'a str,
    target: &'a str,
    expect: &'a str,
    note: &'a str,
}

fn rows() -> Vec<Row<'static>> {
    TABLE
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with('#') && !l.trim().is_empty())
        .skip(1) // header
        .map(|(i, l)| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert_eq!(cols.len(), 4, "line {}: {l:?}", i + 1);
            Row {
                line: i + 1,
                method: cols[0],
                target: cols[1],
                expect: cols[2],
                note: cols[3],
            }
        })
        .collect()
}

/// The outcome name of one row for one session in one phase.
fn outcome(method: &str, target: &str, session: SessionView, phase: Phase) -> String {
    let policy = default_policy();
    match policy.canonicalize(method, target) {
        Err(r) => format!("reject ({})", r.as_str()),
        Ok(req) => match decide(&policy, &req, &session, phase).decision {
            Decision::Allow => "allow".into(),
            Decision::NeedLogin => "need-login".into(),
            Decision::Deny(r) => format!("deny ({r})"),
        },
    }
}

fn cutover_phase() -> Phase {
    let policy = default_policy();
    let at = DateTime::parse_from_rfc3339("2019-02-01T10:00:00+03:00")
        .unwrap()
        .to_utc();
    policy.calendar.phase_at(at)
}

#[test]
fn table_is_big_and_well_formed() {
    let rows = rows();
    assert!(rows.len() >= 150, "only {} rows", rows.len());
    for want in ["deny", "reject", "allow"] {
        assert!(rows.iter().any(|r| r.expect == want), "no {want} rows");
    }
    let bad: Vec<String> = rows
        .iter()
        .filter(|r| !["deny", "reject", "allow"].contains(&r.expect) || r.note.is_empty())
        .map(|r| format!("line {}: {:?}", r.line, r.expect))
        .collect();
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn legacy_session_after_cutover_gets_no_grade_page() {
    let phase = cutover_phase();
    assert_eq!(phase.as_str(), "cutover-restricted");
    let legacy = SessionView::Legacy {
        role: Some(Role::Parent),
    };
    let failures: Vec<String> = rows()
        .iter()
        .filter_map(|r| {
            let got = outcome(r.method, r.target, legacy, phase);
            (!got.starts_with(r.expect)).then(|| {
                format!(
                    "line {}: {} {} → {got}, want {} ({})",
                    r.line, r.method, r.target, r.expect, r.note
                )
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} failing rows:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn linked_and_pre_cutover_users_are_not_hurt() {
    let linked = SessionView::EsiaLinked {
        level: AccountLevel::Confirmed,
        role: Some(Role::Parent),
    };
    let legacy = SessionView::Legacy { role: None };
    let cases = [(linked, cutover_phase()), (legacy, Phase::Transition)];
    let mut failures = Vec::new();
    for r in rows().iter().filter(|r| r.expect != "reject") {
        for (session, phase) in cases {
            let got = outcome(r.method, r.target, session, phase);
            if got != "allow" {
                failures.push(format!(
                    "line {}: {} {} as {session} in {phase} → {got}",
                    r.line, r.method, r.target
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn header_tricks_are_stripped_and_change_nothing() {
    let phase = cutover_phase();
    let legacy = SessionView::Legacy { role: None };
    let mut failures = Vec::new();
    let lines = HEADERS
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with('#') && !l.trim().is_empty())
        .skip(1);
    let mut count = 0;
    for (i, l) in lines {
        count += 1;
        let cols: Vec<&str> = l.split('\t').collect();
        assert_eq!(cols.len(), 6, "line {}: {l:?}", i + 1);
        let (name, value, method, target, expect) = (cols[0], cols[1], cols[2], cols[3], cols[4]);
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
        let removed = strip_overrides(&mut headers, &[]);
        if removed.len() != 1 || !headers.is_empty() {
            failures.push(format!("line {}: {name} not stripped", i + 1));
        }
        let got = outcome(method, target, legacy, phase);
        if !got.starts_with(expect) {
            failures.push(format!(
                "line {}: {method} {target} → {got}, want {expect}",
                i + 1
            ));
        }
    }
    assert!(count >= 20, "only {count} header rows");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
