//! `esia-gateway report`: the cutover-readiness figures regional IT picks the date by —
//! who signed in over a window, by role and by how (ESIA or the diary password), the
//! share linked per role, sign-ins per day, what the calendar refused after the cutover,
//! accounts refused for their ESIA level, and flagged bindings.
//!
//! It reads the audit trail and the bindings only (single SELECTs, safe beside a running
//! gateway on SQLite or PostgreSQL); the arithmetic is in [`crate::admin::readiness`],
//! pure, shared with the admin status page.

mod render;
pub mod routes;

use std::io::Write;
use std::process::ExitCode;

use chrono::Utc;
use clap::{Args, Subcommand};

use super::{OpsError, open, parse_instant, run};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
    Csv,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ReportArgs {
    #[command(flatten)]
    pub config: crate::ops::OpsConfig,
    #[command(subcommand)]
    pub command: Option<ReportCommand>,
    /// Start of the window: 2019-02-01, 2019-02-01T10:30 (UTC), RFC 3339, or an age
    /// such as 7d or 24h.
    #[arg(long, default_value = "7d", value_name = "TIME")]
    pub since: String,
    /// End of the window (exclusive; same forms); default now.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// text (a report with a chart), json (one object) or csv (section,key,detail,value).
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Pages the diary served to signed-in users that no route group covers, by hits.
    Routes {
        /// Also the counted routes a group covers now (with the group's name).
        #[arg(long)]
        all: bool,
        /// text (a table), json (JSON lines) or csv.
        #[arg(long, value_enum, default_value = "text")]
        format: ReportFormat,
    },
}

/// `esia-gateway report …`
pub fn main(a: ReportArgs) -> ExitCode {
    if let Some(ReportCommand::Routes { all, format }) = a.command {
        return run(async move {
            let (cfg, store) = open(&a.config.path).await?;
            let Some(cutover) = &cfg.cutover else {
                return Err(OpsError::Usage(format!(
                    "{}: no [calendar] or [[route_group]]: there are no route groups to compare with",
                    a.config.path.display()
                )));
            };
            let rows = routes::judge(&cutover.policy, store.list_route_hits().await?);
            routes::print(&rows, format, all)
        });
    }
    run(async move {
        let now = Utc::now();
        let instant = |flag: &str, t: &str| {
            parse_instant(t, now).ok_or_else(|| {
                OpsError::Usage(format!(
                    "{flag} {t:?}: expected 2019-02-01, 2019-02-01T10:30, RFC 3339, or an age like 24h or 7d"
                ))
            })
        };
        let since = instant("--since", &a.since)?;
        let until = match &a.until {
            Some(t) => instant("--until", t)?,
            None => now,
        };
        if since >= until {
            return Err(OpsError::Usage(format!(
                "the window is empty: --since {} is not before --until {}",
                since.to_rfc3339(),
                until.to_rfc3339()
            )));
        }
        let (cfg, store) = open(&a.config.path).await?;
        // Days as the region counts them: the calendar's time zone (UTC without one).
        let zone = cfg
            .cutover
            .as_ref()
            .map_or(chrono_tz::UTC, |c| c.policy.calendar.time_zone);
        let r = crate::admin::readiness::gather_in(&store, since, until, zone).await?;
        let mut out = std::io::stdout().lock();
        match a.format {
            ReportFormat::Text => out.write_all(render::text(&r).as_bytes())?,
            ReportFormat::Json => writeln!(out, "{}", render::json(&r)?)?,
            ReportFormat::Csv => out.write_all(&render::csv(&r)?)?,
        }
        out.flush()?;
        Ok(())
    })
}
