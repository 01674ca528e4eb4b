//! Process-wide logging with `tracing`: human-readable lines (`pretty`) or one JSON object
//! per event (`json`, for log collectors), filtered by `[log] level`. `RUST_LOG`, when set
//! and valid, wins over the file, so an operator can raise verbosity without editing it.
//!
//! Access-log lines use the target [`ACCESS_TARGET`]; `access_log = false` silences that
//! target in the filter, so the proxy never has to check the flag itself.
//!
//! `pretty` writes colour codes only when stdout is a terminal: redirected to a file or a
//! journal, escape sequences are noise in every line.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

/// The `tracing` target of the one-line-per-request access log.
pub const ACCESS_TARGET: &str = "access";

/// The filter directives for `cfg`, after `RUST_LOG` (given as `env`) is considered.
pub fn filter_directives(cfg: &LogConfig, env: Option<&str>) -> String {
    let base = match env.map(str::trim).filter(|e| !e.is_empty()) {
        Some(e) if EnvFilter::builder().parse(e).is_ok() => e.to_string(),
        _ => cfg.level.clone(),
    };
    if cfg.access_log {
        base
    } else {
        format!("{base},{ACCESS_TARGET}=off")
    }
}

/// Whether log lines carry ANSI colour codes: `pretty` on a terminal only.
pub fn colours(format: LogFormat, stdout_is_terminal: bool) -> bool {
    matches!(format, LogFormat::Pretty) && stdout_is_terminal
}

/// Installs the global subscriber. Idempotent: a second call (tests, a reload) keeps the
/// first subscriber and returns `false`.
pub fn init(cfg: &LogConfig) -> bool {
    let env = std::env::var("RUST_LOG").ok();
    let directives = filter_directives(cfg, env.as_deref());
    // The directives were validated by the config loader; fall back to `info` regardless.
    let filter = EnvFilter::builder()
        .parse(&directives)
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let result = match cfg.format {
        LogFormat::Pretty => builder
            .with_target(true)
            .with_ansi(colours(cfg.format, std::io::stdout().is_terminal()))
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
    result.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_from_file_unless_rust_log_is_valid() {
        let cfg = LogConfig::default();
        assert_eq!(filter_directives(&cfg, None), "info");
        assert_eq!(filter_directives(&cfg, Some("debug")), "debug");
        assert_eq!(filter_directives(&cfg, Some("  ")), "info");
        assert_eq!(filter_directives(&cfg, Some("x=notalevel")), "info");
    }

    #[test]
    fn access_log_off_silences_its_target() {
        let cfg = LogConfig {
            access_log: false,
            ..LogConfig::default()
        };
        assert_eq!(filter_directives(&cfg, None), "info,access=off");
    }

    #[test]
    fn colours_only_for_pretty_on_a_terminal() {
        for (format, terminal, want) in [
            (LogFormat::Pretty, true, true),
            (LogFormat::Pretty, false, false),
            (LogFormat::Json, true, false),
            (LogFormat::Json, false, false),
        ] {
            assert_eq!(colours(format, terminal), want, "{format:?} {terminal}");
        }
    }

    #[test]
    fn init_twice_is_harmless() {
        let json = LogConfig {
            format: LogFormat::Json,
            ..LogConfig::default()
        };
        let first = init(&json);
        let second = init(&LogConfig::default());
        // Only one global subscriber can be installed; the second call must not panic.
        assert!(!second || !first);
        tracing::info!("logging works after a second init");
    }
}
