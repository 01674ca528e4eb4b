//! The operator's commands after day one: `esia-gateway bindings`, `audit`, `keys`,
//! `report`, and `pages export` (the shipped page templates, for a region's own).
//!
//! They are short-lived processes beside the running gateway: each loads the same
//! `gateway.toml`, opens the same store (SQLite or PostgreSQL) and does its work in
//! single statements or single transactions, so they are safe to run while the gateway
//! serves. What they print on stdout is data (tables, JSON lines, CSV) for pipes;
//! progress and summaries go to stderr, except `keys`, whose output is the progress.
//!
//! Exit codes follow the CLI: 0 ok, 1 runtime failure, 2 bad configuration or usage
//! (and bad input rows for `bindings import`).

pub mod audit;
pub mod bindings;
mod bindings_io;
pub mod diary_check;
pub mod keys;
mod keys_jars;
pub mod pages;
pub mod reload;
pub mod report;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::config::{self, ConfigErrors, GatewayConfig};
use crate::store::SharedStore;

const EXIT_RUNTIME: u8 = 1;
const EXIT_USAGE: u8 = 2;

/// `--config`, shared by every operator command (given before or after the
/// subcommand).
#[derive(Debug, clap::Args)]
pub struct OpsConfig {
    /// The configuration file (the same one `run` uses).
    #[arg(
        id = "config",
        long = "config",
        short = 'c',
        default_value = "gateway.toml",
        value_name = "PATH",
        global = true
    )]
    pub path: PathBuf,
}

/// Why an operator command stopped.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// Bad arguments or bad input data; nothing was changed.
    #[error("{0}")]
    Usage(String),
    #[error("{path}: {} configuration error(s):\n{errors}", errors.len())]
    Config { path: PathBuf, errors: ConfigErrors },
    #[error("{0}")]
    Runtime(String),
}

impl OpsError {
    fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            Self::Usage(_) | Self::Config { .. } => EXIT_USAGE,
            Self::Runtime(_) => EXIT_RUNTIME,
        })
    }

    /// A runtime failure with its cause chain, e.g. "store: the gateway's store is
    /// unavailable: connection refused".
    fn runtime(what: &str, e: &(dyn std::error::Error + 'static)) -> Self {
        let mut text = format!("{what}: {e}");
        let mut source = e.source();
        while let Some(s) = source {
            text.push_str(&format!(": {s}"));
            source = s.source();
        }
        Self::Runtime(text)
    }
}

impl From<crate::store::StoreError> for OpsError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::runtime("store", &e)
    }
}

impl From<std::io::Error> for OpsError {
    fn from(e: std::io::Error) -> Self {
        Self::runtime("output", &e)
    }
}

/// Runs one command on a fresh single-threaded runtime and maps its result to an
/// exit code (errors on stderr).
fn run(fut: impl std::future::Future<Output = Result<(), OpsError>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    match runtime.block_on(fut) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}

/// The validated configuration.
fn load_config(path: &Path) -> Result<GatewayConfig, OpsError> {
    config::load(path).map_err(|errors| OpsError::Config {
        path: path.to_owned(),
        errors,
    })
}

/// The configuration and its store, opened (and migrated) like the gateway opens it.
async fn open(path: &Path) -> Result<(GatewayConfig, SharedStore), OpsError> {
    let cfg = load_config(path)?;
    let store = crate::services::open_store(&cfg.store).await?;
    Ok((cfg, store))
}

/// Who ran the command, for the audit trail: the login behind `sudo`, else the user.
fn operator() -> Option<String> {
    ["SUDO_USER", "USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
}

/// An instant as the commands take it: RFC 3339, `2019-02-01` (00:00 UTC),
/// `2019-02-01T10:30` (UTC), or an age such as `24h` / `7d` (that long before `now`).
pub fn parse_instant(
    text: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let t = text.trim();
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(t) {
        return Some(d.to_utc());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|n| n.and_utc());
    }
    for format in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(n) = chrono::NaiveDateTime::parse_from_str(t, format) {
            return Some(n.and_utc());
        }
    }
    let age = crate::units::parse_duration(t).ok()?;
    now.checked_sub_signed(chrono::TimeDelta::from_std(age).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_in_every_accepted_form() {
        let now = chrono::DateTime::parse_from_rfc3339("2019-02-10T12:00:00Z")
            .unwrap()
            .to_utc();
        let at = |s: &str| parse_instant(s, now).map(|t| t.to_rfc3339());
        assert_eq!(at("2019-02-01").unwrap(), "2019-02-01T00:00:00+00:00");
        assert_eq!(at("2019-02-01T10:30").unwrap(), "2019-02-01T10:30:00+00:00");
        assert_eq!(
            at("2019-02-01T10:30:00+03:00").unwrap(),
            "2019-02-01T07:30:00+00:00"
        );
        assert_eq!(at("24h").unwrap(), "2019-02-09T12:00:00+00:00");
        assert_eq!(at("7d").unwrap(), "2019-02-03T12:00:00+00:00");
        for bad in ["", "yesterday", "2019-13-01", "-5d", "30"] {
            assert_eq!(at(bad), None, "{bad}");
        }
    }
}
