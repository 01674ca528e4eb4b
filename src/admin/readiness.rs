//! The cutover-readiness figures, computed from audit events and bindings alone (pure:
//! no store, no clock), so the same numbers come out of SQLite and PostgreSQL and the
//! unit tests can stand on any date.
//!
//! Who a sign-in was: a legacy login names the diary login and the role the diary gave;
//! an ESIA login names the ESIA account, which the binding turns into the diary login
//! and role (an ESIA account without a binding is counted apart: it has no diary user
//! yet); a link names both.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::store::{AuditEvent, AuditKind, AuditQuery, Binding, SharedStore, StoreResult};

/// Events fetched per query.
const PAGE: u32 = 1000;
/// The audit kinds the figures read.
const KINDS: [&str; 5] = ["login", "legacy_login", "link", "denied", "level_refused"];

/// A user whose role nobody told us (an old binding, a diary without a role probe).
pub const UNKNOWN_ROLE: &str = "unknown";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Readiness {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// One row per role, ordered by role name, then `total`.
    pub roles: Vec<RoleRow>,
    pub total: RoleRow,
    /// ESIA accounts that signed in during the window and have no binding.
    pub esia_not_linked: usize,
    /// Every day of the window (in the calendar's time zone; UTC without a calendar),
    /// also days without sign-ins.
    pub days: Vec<DayRow>,
    /// Requests refused by the calendar after the cutover, by reason and route group.
    pub refused_after_cutover: Vec<RefusedRow>,
    /// Every request the calendar refused in the window, whatever the phase.
    pub denied: usize,
    /// ESIA accounts refused because their level is below their role's minimum.
    pub level_refused: Vec<LevelRow>,
    /// Bindings whose ESIA person and diary account did not match at linking.
    pub flagged: Vec<FlaggedRow>,
    /// Bindings in the store (all time).
    pub bindings: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoleRow {
    pub role: String,
    /// Diary users who signed in at least once in the window.
    pub active: usize,
    /// … of whom signed in through ESIA at least once.
    pub via_esia: usize,
    /// … of whom only ever with the diary password.
    pub legacy_only: usize,
    /// … of whom have a binding now.
    pub linked: usize,
    /// `linked / active` in percent, one decimal; 0 when nobody was active.
    pub linked_percent: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayRow {
    pub day: NaiveDate,
    pub esia: usize,
    pub legacy: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefusedRow {
    pub reason: String,
    pub group: Option<String>,
    /// Refusals audited: at most one a minute per user, reason and group (the
    /// Prometheus `denied_total` counts every refused request).
    pub refusals: usize,
    /// Distinct users (diary login, else ESIA account; anonymous requests count 0).
    pub users: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LevelRow {
    pub role: String,
    pub level: Option<String>,
    pub needed: Option<String>,
    pub accounts: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlaggedRow {
    pub esia_oid: i64,
    pub diary_login: String,
    pub role: Option<String>,
}

#[derive(Default)]
struct Activity {
    role: Option<String>,
    esia: bool,
    legacy: bool,
}

/// Reads what the figures need from the store (single SELECTs, page by page) and
/// computes them.
pub async fn gather(
    store: &SharedStore,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> StoreResult<Readiness> {
    gather_in(store, since, until, chrono_tz::UTC).await
}

/// [`gather`] with the days counted in `zone` (the calendar's: a login at 23:30 in
/// Moscow belongs to that Moscow day, not to the next UTC one).
pub async fn gather_in(
    store: &SharedStore,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    zone: chrono_tz::Tz,
) -> StoreResult<Readiness> {
    let mut events = Vec::new();
    for kind in KINDS {
        let mut q = AuditQuery {
            diary_login: None,
            esia_oid: None,
            kind: Some(kind.to_owned()),
            since: Some(since),
            until: Some(until),
            after_id: None,
            limit: PAGE,
        };
        loop {
            let page = store.query_audit(&q).await?;
            let done = page.len() < PAGE as usize;
            q.after_id = page.last().map(|r| r.id).or(q.after_id);
            events.extend(page.into_iter().map(|r| r.event));
            if done {
                break;
            }
        }
    }
    let bindings = store.list_bindings().await?;
    let flagged = store.list_flagged_bindings().await?;
    Ok(compute_in(zone, since, until, &events, &bindings, &flagged))
}

/// The figures for `[since, until)`, days in UTC; events outside the window are ignored.
pub fn compute(
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    events: &[AuditEvent],
    bindings: &[Binding],
    flagged: &[Binding],
) -> Readiness {
    compute_in(chrono_tz::UTC, since, until, events, bindings, flagged)
}

/// [`compute`] with the days counted in `zone`.
pub fn compute_in(
    zone: chrono_tz::Tz,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    events: &[AuditEvent],
    bindings: &[Binding],
    flagged: &[Binding],
) -> Readiness {
    let local_day = |t: DateTime<Utc>| t.with_timezone(&zone).date_naive();
    // An OID may hold several diary accounts (a parent, two schools).
    let mut by_oid: HashMap<i64, Vec<&Binding>> = HashMap::new();
    for b in bindings {
        by_oid.entry(b.esia_oid).or_default().push(b);
    }
    let linked_logins: HashMap<&str, &Binding> = bindings
        .iter()
        .map(|b| (b.diary_login.as_str(), b))
        .collect();
    let mut users: BTreeMap<String, Activity> = BTreeMap::new();
    let mut denied = 0;
    let mut unlinked: std::collections::BTreeSet<i64> = Default::default();
    let mut days: BTreeMap<NaiveDate, DayRow> = BTreeMap::new();
    let mut refused: BTreeMap<
        (String, Option<String>),
        (usize, std::collections::BTreeSet<String>),
    > = BTreeMap::new();
    let mut level: BTreeMap<
        (String, Option<String>, Option<String>),
        std::collections::BTreeSet<i64>,
    > = BTreeMap::new();

    let mut day = local_day(since);
    while day <= local_day(last_instant(since, until)) {
        days.insert(
            day,
            DayRow {
                day,
                esia: 0,
                legacy: 0,
            },
        );
        let Some(next) = day.succ_opt() else { break };
        day = next;
    }

    for e in events.iter().filter(|e| e.ts >= since && e.ts < until) {
        let role_in_detail = e
            .detail
            .get("role")
            .and_then(|r| r.as_str())
            .map(str::to_owned);
        match &e.kind {
            AuditKind::Login => {
                if let Some(d) = days.get_mut(&local_day(e.ts)) {
                    d.esia += 1;
                }
                let held = e.esia_oid.and_then(|oid| by_oid.get(&oid));
                match (held, e.diary_login.as_deref()) {
                    (_, Some(login)) => note(&mut users, login, role_in_detail, true),
                    (Some(held), None) => {
                        // With several accounts the one chosen is noted by its
                        // `diary_sign_in` event below; one account is this login's.
                        if let [b] = held.as_slice() {
                            note(&mut users, &b.diary_login, b.diary_role.clone(), true);
                        }
                    }
                    (None, None) => {
                        if let Some(oid) = e.esia_oid {
                            unlinked.insert(oid);
                        }
                    }
                }
            }
            AuditKind::Other(kind) if kind == "diary_sign_in" => {
                if let (Some(login), Some("esia")) = (
                    e.diary_login.as_deref(),
                    e.detail.get("method").and_then(|m| m.as_str()),
                ) {
                    let role = role_in_detail
                        .or_else(|| linked_logins.get(login).and_then(|b| b.diary_role.clone()));
                    note(&mut users, login, role, true);
                }
            }
            AuditKind::Link => {
                if let Some(login) = e.diary_login.as_deref() {
                    let role = role_in_detail
                        .or_else(|| linked_logins.get(login).and_then(|b| b.diary_role.clone()));
                    note(&mut users, login, role, true);
                }
            }
            AuditKind::LegacyLogin => {
                if let Some(d) = days.get_mut(&local_day(e.ts)) {
                    d.legacy += 1;
                }
                if let Some(login) = e.diary_login.as_deref() {
                    note(&mut users, login, role_in_detail, false);
                }
            }
            AuditKind::Denied => {
                denied += 1;
                let phase = e.detail.get("phase").and_then(|p| p.as_str()).unwrap_or("");
                if !phase.starts_with("cutover") {
                    continue;
                }
                let reason = e
                    .detail
                    .get("reason")
                    .and_then(|r| r.as_str())
                    .unwrap_or("unknown")
                    .to_owned();
                let group = e
                    .detail
                    .get("group")
                    .and_then(|g| g.as_str())
                    .map(str::to_owned);
                let row = refused.entry((reason, group)).or_default();
                row.0 += 1;
                if let Some(who) = e
                    .diary_login
                    .clone()
                    .or_else(|| e.esia_oid.map(|o| format!("oid:{o}")))
                {
                    row.1.insert(who);
                }
            }
            AuditKind::LevelRefused => {
                let text = |k: &str| e.detail.get(k).and_then(|v| v.as_str()).map(str::to_owned);
                let key = (
                    text("role").unwrap_or_else(|| UNKNOWN_ROLE.to_owned()),
                    text("level"),
                    text("needed"),
                );
                if let Some(oid) = e.esia_oid {
                    level.entry(key).or_default().insert(oid);
                }
            }
            _ => {}
        }
    }
    // An ESIA account that later linked in the window is a diary user, not "not linked".
    unlinked.retain(|oid| !by_oid.contains_key(oid));

    let mut per_role: BTreeMap<String, RoleRow> = BTreeMap::new();
    for (login, a) in &users {
        let role = a
            .role
            .clone()
            .or_else(|| {
                linked_logins
                    .get(login.as_str())
                    .and_then(|b| b.diary_role.clone())
            })
            .unwrap_or_else(|| UNKNOWN_ROLE.to_owned());
        let row = per_role
            .entry(role.clone())
            .or_insert_with(|| empty_row(&role));
        count(row, a, linked_logins.contains_key(login.as_str()));
    }
    let mut total = empty_row("total");
    for row in per_role.values_mut() {
        row.linked_percent = percent(row.linked, row.active);
        total.active += row.active;
        total.via_esia += row.via_esia;
        total.legacy_only += row.legacy_only;
        total.linked += row.linked;
    }
    total.linked_percent = percent(total.linked, total.active);

    Readiness {
        since,
        until,
        roles: per_role.into_values().collect(),
        total,
        esia_not_linked: unlinked.len(),
        days: days.into_values().collect(),
        denied,
        refused_after_cutover: refused
            .into_iter()
            .map(|((reason, group), (refusals, who))| RefusedRow {
                reason,
                group,
                refusals,
                users: who.len(),
            })
            .collect(),
        level_refused: level
            .into_iter()
            .map(|((role, level, needed), oids)| LevelRow {
                role,
                level,
                needed,
                accounts: oids.len(),
            })
            .collect(),
        flagged: flagged
            .iter()
            .map(|b| FlaggedRow {
                esia_oid: b.esia_oid,
                diary_login: b.diary_login.clone(),
                role: b.diary_role.clone(),
            })
            .collect(),
        bindings: bindings.len(),
    }
}

/// The last instant the window holds (`until` is exclusive).
fn last_instant(since: DateTime<Utc>, until: DateTime<Utc>) -> DateTime<Utc> {
    let end = until - chrono::TimeDelta::nanoseconds(1);
    end.max(since)
}

fn note(users: &mut BTreeMap<String, Activity>, login: &str, role: Option<String>, esia: bool) {
    let a = users.entry(login.to_owned()).or_default();
    if role.is_some() {
        a.role = role;
    }
    if esia {
        a.esia = true;
    } else {
        a.legacy = true;
    }
}

fn empty_row(role: &str) -> RoleRow {
    RoleRow {
        role: role.to_owned(),
        active: 0,
        via_esia: 0,
        legacy_only: 0,
        linked: 0,
        linked_percent: 0.0,
    }
}

fn count(row: &mut RoleRow, a: &Activity, linked: bool) {
    row.active += 1;
    if a.esia {
        row.via_esia += 1;
    } else if a.legacy {
        row.legacy_only += 1;
    }
    if linked {
        row.linked += 1;
    }
}

fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    (part as f64 * 1000.0 / whole as f64).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn event(
        ts: &str,
        kind: AuditKind,
        oid: Option<i64>,
        login: Option<&str>,
        detail: serde_json::Value,
    ) -> AuditEvent {
        let mut e = AuditEvent::new(at(ts), kind);
        e.esia_oid = oid;
        e.diary_login = login.map(str::to_owned);
        e.detail = detail;
        e
    }

    fn binding(oid: i64, login: &str, role: &str) -> Binding {
        Binding {
            esia_oid: oid,
            diary_login: login.into(),
            diary_role: Some(role.into()),
            account_level: Some("confirmed".into()),
            created_at: at("2019-01-10T10:00:00Z"),
            last_used_at: at("2019-01-10T10:00:00Z"),
            stale: false,
        }
    }

    fn week() -> Vec<AuditEvent> {
        vec![
            // parent1: ESIA, linked; parent2: password only; student: both ways; teacher: ESIA.
            event(
                "2019-01-10T08:00:00Z",
                AuditKind::Login,
                Some(1),
                None,
                json!({"method": "esia"}),
            ),
            event(
                "2019-01-10T08:01:00Z",
                AuditKind::Link,
                Some(1),
                Some("parent1"),
                json!({"role": "parent"}),
            ),
            event(
                "2019-01-11T09:00:00Z",
                AuditKind::LegacyLogin,
                None,
                Some("parent2"),
                json!({"role": "parent"}),
            ),
            event(
                "2019-01-11T09:05:00Z",
                AuditKind::LegacyLogin,
                None,
                Some("parent2"),
                json!({"role": "parent"}),
            ),
            event(
                "2019-01-12T07:00:00Z",
                AuditKind::LegacyLogin,
                None,
                Some("pupil"),
                json!({"role": "student"}),
            ),
            event(
                "2019-01-13T07:00:00Z",
                AuditKind::Login,
                Some(2),
                None,
                json!({"method": "esia"}),
            ),
            event(
                "2019-01-13T07:00:00Z",
                AuditKind::Login,
                Some(3),
                None,
                json!({"method": "esia"}),
            ),
            // An ESIA account that never linked.
            event(
                "2019-01-14T07:00:00Z",
                AuditKind::Login,
                Some(9),
                None,
                json!({"method": "esia"}),
            ),
            event(
                "2019-01-14T10:00:00Z",
                AuditKind::Denied,
                None,
                Some("parent2"),
                json!({"reason": "legacy-session-after-cutover", "group": "grades", "phase": "cutover-restricted"}),
            ),
            event(
                "2019-01-14T10:01:00Z",
                AuditKind::Denied,
                None,
                Some("parent2"),
                json!({"reason": "legacy-session-after-cutover", "group": "grades", "phase": "cutover-restricted"}),
            ),
            // Before the cutover: not a cutover refusal.
            event(
                "2019-01-11T10:01:00Z",
                AuditKind::Denied,
                None,
                Some("parent2"),
                json!({"reason": "route-closed", "group": "admin", "phase": "transition"}),
            ),
            event(
                "2019-01-15T10:00:00Z",
                AuditKind::LevelRefused,
                Some(7),
                Some("teacher2"),
                json!({"role": "teacher", "level": "simplified", "needed": "confirmed"}),
            ),
            event(
                "2019-01-15T10:05:00Z",
                AuditKind::LevelRefused,
                Some(7),
                Some("teacher2"),
                json!({"role": "teacher", "level": "simplified", "needed": "confirmed"}),
            ),
            // Outside the window.
            event(
                "2019-01-20T00:00:00Z",
                AuditKind::LegacyLogin,
                None,
                Some("late"),
                json!({"role": "parent"}),
            ),
        ]
    }

    #[test]
    fn a_week_of_mixed_sign_ins_gives_shares_per_role() {
        let bindings = [
            binding(1, "parent1", "parent"),
            binding(2, "pupil", "student"),
            binding(3, "teacher", "teacher"),
        ];
        let r = compute(
            at("2019-01-10T00:00:00Z"),
            at("2019-01-17T00:00:00Z"),
            &week(),
            &bindings,
            &bindings[..1],
        );
        let row = |role: &str| r.roles.iter().find(|x| x.role == role).unwrap().clone();
        let parent = row("parent");
        assert_eq!(
            (
                parent.active,
                parent.via_esia,
                parent.legacy_only,
                parent.linked
            ),
            (2, 1, 1, 1)
        );
        assert_eq!(parent.linked_percent, 50.0);
        let student = row("student");
        assert_eq!(
            (
                student.active,
                student.via_esia,
                student.legacy_only,
                student.linked
            ),
            (1, 1, 0, 1)
        );
        assert_eq!(row("teacher").linked_percent, 100.0);
        assert_eq!((r.total.active, r.total.linked), (4, 3));
        assert_eq!(r.total.linked_percent, 75.0);
        assert_eq!(r.esia_not_linked, 1);
        assert_eq!(r.days.len(), 7);
        assert_eq!(
            (r.days[0].esia, r.days[1].legacy, r.days[3].esia),
            (1, 2, 2)
        );
        assert_eq!(r.refused_after_cutover.len(), 1);
        let refused = &r.refused_after_cutover[0];
        assert_eq!(
            (
                refused.reason.as_str(),
                refused.group.as_deref(),
                refused.refusals,
                refused.users
            ),
            ("legacy-session-after-cutover", Some("grades"), 2, 1)
        );
        assert_eq!(r.level_refused.len(), 1);
        assert_eq!(
            (
                r.level_refused[0].role.as_str(),
                r.level_refused[0].accounts
            ),
            ("teacher", 1)
        );
        assert_eq!(r.flagged.len(), 1);
        assert_eq!(r.bindings, 3);
    }

    #[test]
    fn days_are_the_calendars_days() {
        // 22:30 UTC on the 10th is 01:30 on the 11th in Moscow.
        let events = [event(
            "2019-01-10T22:30:00Z",
            AuditKind::LegacyLogin,
            None,
            Some("p"),
            json!({"role": "parent"}),
        )];
        let (since, until) = (at("2019-01-10T00:00:00Z"), at("2019-01-12T00:00:00Z"));
        let utc = compute(since, until, &events, &[], &[]);
        let msk = compute_in(chrono_tz::Europe::Moscow, since, until, &events, &[], &[]);
        let legacy = |r: &Readiness| -> Vec<(String, usize)> {
            r.days
                .iter()
                .map(|d| (d.day.to_string(), d.legacy))
                .collect()
        };
        assert_eq!(legacy(&utc)[0], ("2019-01-10".into(), 1));
        assert_eq!(legacy(&msk)[1], ("2019-01-11".into(), 1));
        assert_eq!(legacy(&msk)[0], ("2019-01-10".into(), 0));
    }

    #[test]
    fn an_empty_store_gives_zeros_not_a_division_by_zero() {
        let r = compute(
            at("2019-01-10T00:00:00Z"),
            at("2019-01-11T00:00:00Z"),
            &[],
            &[],
            &[],
        );
        assert!(r.roles.is_empty());
        assert_eq!(r.total.linked_percent, 0.0);
        assert_eq!(r.days.len(), 1);
    }

    #[test]
    fn a_window_of_part_of_a_day_still_has_that_day_and_no_more() {
        let r = compute(
            at("2019-01-10T12:00:00Z"),
            at("2019-01-12T00:00:00Z"),
            &[],
            &[],
            &[],
        );
        let days: Vec<String> = r.days.iter().map(|d| d.day.to_string()).collect();
        assert_eq!(days, ["2019-01-10", "2019-01-11"]);
    }

    #[test]
    fn a_user_without_a_known_role_is_counted_as_unknown() {
        let events = [event(
            "2019-01-10T08:00:00Z",
            AuditKind::LegacyLogin,
            None,
            Some("x"),
            json!({}),
        )];
        let r = compute(
            at("2019-01-10T00:00:00Z"),
            at("2019-01-11T00:00:00Z"),
            &events,
            &[],
            &[],
        );
        assert_eq!(r.roles[0].role, UNKNOWN_ROLE);
    }
}
