//! `esia-gateway report routes`: the pages the diary served to signed-in users that no
//! route group covers, by hits (route discovery, `crate::cutover::discovery`), each
//! judged again by the route groups of the configuration given now — so a route the
//! operator has since added to a group drops out of the list.

use std::io::Write;

use chrono::SecondsFormat;
use serde::Serialize;

use super::ReportFormat;
use crate::cutover::discovery::as_request;
use crate::ops::OpsError;
use crate::policy::Policy;
use crate::store::RouteHit;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteRow {
    pub route: String,
    pub hits: u64,
    pub first_seen: String,
    pub last_seen: String,
    /// The group that covers it now; `None` = still uncovered.
    pub group: Option<String>,
}

/// Every counted route with the group that covers it under `policy` now.
pub fn judge(policy: &Policy, hits: Vec<RouteHit>) -> Vec<RouteRow> {
    hits.into_iter()
        .map(|h| {
            let group = as_request(&h.route)
                .and_then(|(method, target)| policy.canonicalize(method, &target).ok())
                .and_then(|c| policy.match_group(&c).map(|(g, _, _)| g.name.clone()));
            RouteRow {
                route: h.route,
                hits: h.hits,
                first_seen: h.first_seen.to_rfc3339_opts(SecondsFormat::Secs, true),
                last_seen: h.last_seen.to_rfc3339_opts(SecondsFormat::Secs, true),
                group,
            }
        })
        .collect()
}

pub fn print(rows: &[RouteRow], format: ReportFormat, all: bool) -> Result<(), OpsError> {
    let shown: Vec<&RouteRow> = rows.iter().filter(|r| all || r.group.is_none()).collect();
    let mut out = std::io::stdout().lock();
    match format {
        ReportFormat::Text => {
            let mut table = vec![[
                "HITS".to_owned(),
                "ROUTE".to_owned(),
                "COVERED BY".to_owned(),
                "LAST SEEN".to_owned(),
            ]];
            table.extend(shown.iter().map(|r| {
                [
                    r.hits.to_string(),
                    r.route.clone(),
                    r.group.clone().unwrap_or_else(|| "-".into()),
                    r.last_seen.clone(),
                ]
            }));
            if shown.is_empty() {
                writeln!(
                    out,
                    "No uncovered routes: every page the diary served to signed-in users is in a route group."
                )?;
            } else {
                out.write_all(super::render::table(&table).as_bytes())?;
            }
        }
        ReportFormat::Json => {
            for r in &shown {
                let line = serde_json::to_string(r).map_err(|e| OpsError::runtime("json", &e))?;
                writeln!(out, "{line}")?;
            }
        }
        ReportFormat::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            let fail = |e: csv::Error| OpsError::runtime("csv", &e);
            w.write_record(["hits", "route", "group", "first_seen", "last_seen"])
                .map_err(fail)?;
            for r in &shown {
                w.write_record([
                    r.hits.to_string().as_str(),
                    &r.route,
                    r.group.as_deref().unwrap_or(""),
                    &r.first_seen,
                    &r.last_seen,
                ])
                .map_err(fail)?;
            }
            let bytes = w
                .into_inner()
                .map_err(|e| OpsError::Runtime(format!("csv: {e}")))?;
            out.write_all(&bytes)?;
        }
    }
    out.flush()?;
    let uncovered = rows.iter().filter(|r| r.group.is_none()).count();
    eprintln!(
        "{} route(s) counted, {uncovered} not covered by any route group",
        rows.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(route: &str, hits: u64) -> RouteHit {
        let t = chrono::DateTime::parse_from_rfc3339("2018-10-01T10:00:00Z")
            .unwrap()
            .to_utc();
        RouteHit {
            route: route.into(),
            hits,
            first_seen: t,
            last_seen: t,
        }
    }

    #[test]
    fn routes_are_judged_by_the_groups_of_today() {
        let policy = crate::policy::default_policy();
        let rows = judge(
            &policy,
            vec![
                hit("GET /index.php?module=marks", 7),
                hit("GET /print/{n}/export", 3),
                hit("not a route", 1),
            ],
        );
        assert!(rows[0].group.is_some(), "{rows:?}");
        assert_eq!(rows[1].group, None);
        assert_eq!(rows[2].group, None);
    }
}
