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
use super::deser::{RawError, deserialize_all};
use super::env;
use super::errors::{ConfigError, ConfigErrors, Location, SerdeMessage};
use super::file::FileConfig;
use super::source::{Segment, SourceMap, line_col, path_string};
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
            message: format!("TOML syntax error: {}", one_line(e.message())),
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
            message: format!("TOML syntax error: {}", one_line(e.message())),
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
    let mut bad_paths: Vec<Vec<Segment>> = Vec::new();
    for mut e in raw {
        explain_array_of_tables(&map, &mut e);
        bad_paths.push(e.path.clone());
        errors.push(ConfigError {
            path: path_string(&e.path),
            location: map.locate(&e.path, e.want),
            message: e.message.message,
            hint: e.message.hint,
        });
    }

    // `gateway.toml` has the parent "": relative paths then stay relative to the cwd.
    let base_dir = origin.parent().unwrap_or(Path::new(""));
    let mut cx = Ctx::new(base_dir);
    let config = file.as_ref().and_then(|f| validate(f, &mut cx));
    for p in cx.into_problems() {
        // A key serde already refused was removed; "missing" would only repeat it.
        if bad_paths.iter().any(|bad| p.path.starts_with(bad)) {
            continue;
        }
        errors.push(ConfigError {
            path: path_string(&p.path),
            location: p.at.unwrap_or_else(|| map.locate(&p.path, p.want)),
            message: p.message,
            hint: p.hint,
        });
    }

    match config {
        Some(mut config) if errors.is_empty() => {
            use sha2::Digest as _;
            config.source_sha256 = Some(hex::encode(sha2::Sha256::digest(text.as_bytes())));
            Ok(config)
        }
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

/// `[[listen]]` where `[listen]` was meant: serde reads a list as a struct's fields in
/// order and complains about the first field's type, which misleads. Say what happened.
fn explain_array_of_tables(map: &SourceMap<'_>, e: &mut RawError) {
    let Some((Segment::Index(_), parent)) = e.path.split_last() else {
        return;
    };
    if !e.message.message.starts_with("invalid type: map") || !map.is_array_of_tables(parent) {
        return;
    }
    let name = path_string(parent);
    e.path = parent.to_vec();
    e.message = SerdeMessage {
        message: format!("`[[{name}]]` declares a list of tables"),
        hint: Some(format!("write `[{name}]`, with single brackets")),
        unknown: None,
    };
}

/// The parser's multi-line message on one line: one error, one line.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// File positions first, in file order, then whole-file problems, then variables, then
/// the page templates (in the order they were checked).
fn order(location: &Location) -> (u8, usize, usize) {
    match location {
        Location::File { line, col, .. } => (0, *line, *col),
        Location::FileOnly { .. } => (1, 0, 0),
        Location::Env { .. } => (2, 0, 0),
        Location::Template { .. } => (3, 0, 0),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    /// Whatever the text: no panic, and an error list of exactly one line per error.
    fn check(text: &str) {
        let origin = Path::new("/nonexistent/gateway.toml");
        if let Err(errs) = load_str_with_env(text, origin, Vec::new()) {
            assert!(!errs.is_empty());
            let shown = errs.to_string();
            assert_eq!(shown.lines().count(), errs.len(), "{shown}");
        }
    }

    const SECTIONS: [&str; 9] = [
        "listen",
        "tls",
        "upstream",
        "forwarding",
        "limits",
        "timeouts",
        "pages",
        "log",
        "lisen",
    ];
    const KEYS: [&str; 14] = [
        "https",
        "admin",
        "public_url",
        "cert",
        "key",
        "url",
        "host_header",
        "trusted_proxies",
        "max_header_bytes",
        "idle",
        "language",
        "format",
        "level",
        "x\ny",
    ];

    fn value() -> impl Strategy<Value = String> {
        let quote = |s: String| toml::Value::String(s).to_string();
        prop_oneof![
            any::<i64>().prop_map(|n| n.to_string()),
            any::<bool>().prop_map(|b| b.to_string()),
            "\\PC{0,20}".prop_map(quote),
            "[0-9]{1,6}(ms|s|m|h|KiB|MiB|x|)".prop_map(quote),
            "(127\\.0\\.0\\.1|0\\.0\\.0\\.0|::1|\\[::\\])(:[0-9]{1,6})?".prop_map(quote),
            "(http|https|ftp)://[a-z0-9.]{0,12}(:[0-9]{1,5})?(/[a-z]{0,4})?".prop_map(quote),
            Just("[]".to_string()),
            Just("[\"10.0.0.0/8\", 1]".to_string()),
            Just("{ a = 1 }".to_string()),
            Just("1.5".to_string()),
        ]
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
            check(&text);
        }

        #[test]
        fn random_sections_keys_and_values_never_panic(
            entries in proptest::collection::vec(
                (proptest::sample::select(&SECTIONS[..]), proptest::sample::select(&KEYS[..]), value()),
                0..16,
            )
        ) {
            let mut sections: BTreeMap<&str, BTreeMap<&str, String>> = BTreeMap::new();
            for (section, key, value) in entries {
                sections.entry(section).or_default().insert(key, value);
            }
            let mut text = String::new();
            for (section, keys) in sections {
                text.push_str(&format!("[{section}]\n"));
                for (key, value) in keys {
                    text.push_str(&format!("{} = {value}\n", toml::Value::String(key.into())));
                }
            }
            check(&text);
        }
    }

    #[test]
    fn a_refused_required_key_is_not_also_reported_missing() {
        let text = "[listen]\nhttps = 443\n[upstream]\nurl = 5\n";
        let errs = load_str_with_env(text, Path::new("g.toml"), Vec::new()).unwrap_err();
        let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            ["listen.https", "upstream.url", "tls.cert", "tls.key"]
        );
        assert!(
            errs.iter()
                .all(|e| !e.message.contains("missing") || e.path.starts_with("tls"))
        );
    }

    #[test]
    fn quoted_key_with_newline_stays_on_one_line() {
        let text = "[log]\n\"a\\nb\" = 1\n";
        let errs = load_str_with_env(text, Path::new("g.toml"), Vec::new()).unwrap_err();
        let line = errs.to_string();
        assert!(
            line.contains("g.toml:2:1: log.a\\nb: unknown key `a\\nb`"),
            "{line}"
        );
    }
}
