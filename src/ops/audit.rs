//! `esia-gateway audit`: the audit trail as JSON lines, filtered by user, kind and
//! time; `--follow` keeps polling for new events until Ctrl-C; `audit purge` applies
//! `[audit] retention` now (the gateway's background purge applies it too).
//!
//! The events never hold passwords, SNILS or tokens (their writers keep them out, and
//! `tests/ops_audit.rs` greps a real login and link story for them); this command
//! prints exactly what is stored.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use clap::{Args, Subcommand};

use super::{OpsError, open, parse_instant, run};
use crate::store::{AuditQuery, AuditRecord, SharedStore};

/// Events fetched per query; `--limit` caps the total.
const PAGE: u32 = 500;
/// How often `--follow` asks the store for new events.
const POLL: Duration = Duration::from_millis(500);

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    #[command(flatten)]
    pub config: super::OpsConfig,
    #[command(subcommand)]
    pub command: Option<AuditCommand>,
    #[command(flatten)]
    pub query: QueryArgs,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// Only events of this diary login.
    #[arg(long, value_name = "LOGIN")]
    pub login: Option<String>,
    /// Only events of this ESIA account.
    #[arg(long, value_name = "OID")]
    pub oid: Option<i64>,
    /// Only this kind: login, legacy_login, link, unlink, logout, denied,
    /// level_refused, link_failed, rate_limited, binding_stale, key_rotated, …
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    /// From this instant: 2019-02-01, 2019-02-01T10:30 (UTC), RFC 3339, or an age
    /// such as 24h or 7d.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Before this instant (same forms as --since).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Keep printing new events as they are written, until Ctrl-C. Without --since,
    /// only events from now on.
    #[arg(long)]
    pub follow: bool,
    /// At most this many events (with --follow: before following).
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Delete events older than `[audit] retention` now.
    Purge,
}

/// `esia-gateway audit …`
pub fn main(a: AuditArgs) -> ExitCode {
    run(async move {
        let (cfg, store) = open(&a.config.path).await?;
        match a.command {
            Some(AuditCommand::Purge) => purge(&store, cfg.audit.retention).await,
            None => query(&store, &a.query).await,
        }
    })
}

fn instant(flag: &str, text: &Option<String>) -> Result<Option<DateTime<Utc>>, OpsError> {
    match text {
        None => Ok(None),
        Some(t) => parse_instant(t, Utc::now()).map(Some).ok_or_else(|| {
            OpsError::Usage(format!(
                "{flag} {t:?}: expected 2019-02-01, 2019-02-01T10:30, RFC 3339, or an age like 24h or 7d"
            ))
        }),
    }
}

async fn query(store: &SharedStore, a: &QueryArgs) -> Result<(), OpsError> {
    let mut since = instant("--since", &a.since)?;
    let until = instant("--until", &a.until)?;
    if a.follow && since.is_none() {
        since = Some(Utc::now());
    }
    let mut q = AuditQuery {
        diary_login: a.login.clone(),
        esia_oid: a.oid,
        kind: a.kind.clone(),
        since,
        until,
        after_id: None,
        limit: PAGE,
    };
    let mut left = a.limit.unwrap_or(u64::MAX);
    let mut out = std::io::stdout().lock();
    while left > 0 {
        q.limit = u32::try_from(left.min(u64::from(PAGE))).unwrap_or(PAGE);
        let page = store.query_audit(&q).await?;
        let done = page.len() < q.limit as usize;
        for r in &page {
            writeln!(out, "{}", line(r))?;
            q.after_id = Some(r.id);
        }
        left = left.saturating_sub(page.len() as u64);
        if done {
            break;
        }
    }
    out.flush()?;
    drop(out);
    if !a.follow {
        return Ok(());
    }
    let stop = tokio::signal::ctrl_c();
    tokio::pin!(stop);
    q.limit = PAGE;
    loop {
        tokio::select! {
            _ = &mut stop => return Ok(()),
            _ = tokio::time::sleep(POLL) => {}
        }
        let page = store.query_audit(&q).await?;
        let mut out = std::io::stdout().lock();
        for r in &page {
            writeln!(out, "{}", line(r))?;
            q.after_id = Some(r.id);
        }
        out.flush()?;
    }
}

/// One event as one JSON line.
pub fn line(r: &AuditRecord) -> String {
    let e = &r.event;
    serde_json::json!({
        "id": r.id,
        "ts": e.ts.to_rfc3339_opts(SecondsFormat::Secs, true),
        "kind": e.kind.as_str(),
        "esia_oid": e.esia_oid,
        "diary_login": e.diary_login,
        "client_ip": e.client_ip,
        "detail": e.detail,
    })
    .to_string()
}

async fn purge(store: &SharedStore, retention: Duration) -> Result<(), OpsError> {
    let now = Utc::now();
    let cutoff = chrono::TimeDelta::from_std(retention)
        .ok()
        .and_then(|d| now.checked_sub_signed(d))
        .ok_or_else(|| OpsError::Usage("[audit] retention is too long".into()))?;
    let n = store.purge_audit(cutoff).await?;
    println!(
        "deleted {n} audit event(s) older than {} (retention {} days)",
        cutoff.to_rfc3339_opts(SecondsFormat::Secs, true),
        retention.as_secs() / 86_400
    );
    Ok(())
}
