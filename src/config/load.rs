//! The config pipeline, one pass, every error at once:
//!
//! ```text
//! text ──toml_edit──▶ ImDocument (spans, for line:col)      ─┐
//!      ──toml──────▶ value tree ──env overrides──▶ tree      │ SourceMap
//!                    tree ──deser::deserialize_all──▶ FileConfig + serde errors
//!                    FileConfig ──validate──▶ GatewayConfig + semantic errors
//! all errors ──SourceMap::locate──▶ ConfigErrors (file:line:col or env var), file order
//! ```

use std::ffi::OsString;
use std::path::Path;

use toml_edit::ImDocument;

use super::GatewayConfig;
use super::deser::deserialize_all;
use super::env;
use super::errors::{ConfigError, ConfigErrors, Location};
use super::file::FileConfig;
use super::source::{SourceMap, line_col, path_string};
use super::validate::{Ctx, validate};

/// Reads and validates the config file at `path`, with `ESIA_GATEWAY__*` overrides from
/// the process environment.
pub fn load(path: &Path) -> Result<GatewayConfig, ConfigErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            path: String::new(),
            location: Location::FileOnly { path: path.into() },
            message: format!("cannot read the config file: {e}"),
            hint: Some("pass the file with --config PATH".into()),
        }])
    })?;
    load_str(&text, path)
}

/// Validates `text` as if read from `origin` (used in messages and as the base of
/// relative paths), with overrides from the process environment.
pub fn load_str(text: &str, origin: &Path) -> Result<GatewayConfig, ConfigErrors> {
    load_str_with_env(text, origin, env::from_process())
}

/// [`load_str`] with an explicit environment, for tests.
pub fn load_str_with_env(
    text: &str,
    origin: &Path,
    vars: impl IntoIterator<Item = (OsString, OsString)>,
) -> Result<GatewayConfig, ConfigErrors> {
    let syntax_error = |e: toml_edit::TomlError| {
        let location = match e.span() {
            Some(span) => {
                let (line, col) = line_col(text, span.start);
                Location::File {
                    path: origin.into(),
                    line,
                    col,
                }
            }
            None => Location::FileOnly {
                path: origin.into(),
            },
        };
        ConfigErrors(vec![ConfigError {
            path: String::new(),
            location,
            message: format!("TOML syntax error: {}", e.message().trim()),
            hint: Some("see the commented example gateway.toml for the syntax".into()),
        }])
    };
    let doc = ImDocument::parse(text).map_err(syntax_error)?;
    let mut table: toml::Table = toml::from_str(text).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            path: String::new(),
            location: Location::FileOnly {
                path: origin.into(),
            },
            message: format!("TOML syntax error: {}", e.message().trim()),
            hint: None,
        }])
    })?;

    let applied = env::apply(&mut table, vars);
    let map = SourceMap {
        file: origin.into(),
        text,
        doc: Some(&doc),
        overrides: applied.overrides,
    };
    let mut errors = applied.errors;

    let (file, raw) = deserialize_all::<FileConfig>(table);
    for e in raw {
        errors.push(ConfigError {
            path: path_string(&e.path),
            location: map.locate(&e.path, e.want),
            message: e.message.message,
            hint: e.message.hint,
        });
    }

    let base_dir = match origin.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut cx = Ctx::new(base_dir);
    let config = file.as_ref().and_then(|f| validate(f, &mut cx));
    for p in cx.into_problems() {
        errors.push(ConfigError {
            path: path_string(&p.path),
            location: map.locate(&p.path, p.want),
            message: p.message,
            hint: p.hint,
        });
    }

    match config {
        Some(config) if errors.is_empty() => Ok(config),
        _ => {
            if errors.is_empty() {
                errors.push(ConfigError {
                    path: String::new(),
                    location: Location::FileOnly {
                        path: origin.into(),
                    },
                    message: "the configuration could not be validated".into(),
                    hint: None,
                });
            }
            errors.sort_by_key(|e| order(&e.location));
            Err(ConfigErrors(errors))
        }
    }
}

/// File positions first, in file order, then whole-file problems, then variables.
fn order(location: &Location) -> (u8, usize, usize) {
    match location {
        Location::File { line, col, .. } => (0, *line, *col),
        Location::FileOnly { .. } => (1, 0, 0),
        Location::Env { .. } => (2, 0, 0),
    }
}
