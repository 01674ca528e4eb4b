//! Environment overrides, for secrets and per-host values kept out of the file.
//!
//! Rule: `ESIA_GATEWAY__<SECTION>__<KEY>` (upper case, sections and keys joined by a
//! double underscore) sets `<section>.<key>`, e.g. `ESIA_GATEWAY__UPSTREAM__URL` sets
//! `upstream.url` and `ESIA_GATEWAY__TLS__CERT` sets `tls.cert`. The value is read as a
//! TOML value when it is one (`8080`, `true`, `["10.0.0.0/8"]`, `"quoted"`), otherwise
//! as a plain string (`30s`, `/etc/x.pem`). An override wins over the file; an error in
//! an overridden value names the variable. Arrays of tables cannot be overridden.

use std::collections::BTreeMap;
use std::ffi::OsString;

use toml::{Table, Value};

use super::errors::{ConfigError, Location};

pub const ENV_PREFIX: &str = "ESIA_GATEWAY__";

/// Applied overrides (key path → variable name) and the variables that could not be used.
#[derive(Debug, Default)]
pub struct Applied {
    pub overrides: BTreeMap<String, String>,
    pub errors: Vec<ConfigError>,
}

/// The process environment's `ESIA_GATEWAY__*` variables, including unusable ones.
pub fn from_process() -> Vec<(OsString, OsString)> {
    std::env::vars_os()
        .filter(|(k, _)| k.to_str().is_some_and(|k| k.starts_with(ENV_PREFIX)))
        .collect()
}

/// Sets every `ESIA_GATEWAY__*` variable of `vars` into `table`, in name order.
pub fn apply(table: &mut Table, vars: impl IntoIterator<Item = (OsString, OsString)>) -> Applied {
    let mut applied = Applied::default();
    let mut vars: Vec<(String, OsString)> = vars
        .into_iter()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v)))
        .filter(|(k, _)| k.starts_with(ENV_PREFIX))
        .collect();
    vars.sort();
    for (var, raw) in vars {
        let mut fail = |path: String, message: &str, hint: &str| {
            applied.errors.push(ConfigError {
                path,
                location: Location::Env { var: var.clone() },
                message: message.to_string(),
                hint: Some(hint.to_string()),
            });
        };
        let rest = var.get(ENV_PREFIX.len()..).unwrap_or("");
        let keys: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
        if keys.len() < 2 || keys.iter().any(|k| k.is_empty()) {
            fail(
                String::new(),
                "malformed override variable name",
                "expected ESIA_GATEWAY__<SECTION>__<KEY>, e.g. ESIA_GATEWAY__UPSTREAM__URL",
            );
            continue;
        }
        let path = keys.join(".");
        let Some(raw) = raw.to_str() else {
            fail(path, "value is not valid UTF-8", "use UTF-8 text");
            continue;
        };
        if set(table, &keys, parse_value(raw)) {
            applied.overrides.insert(path, var.clone());
        } else {
            fail(
                path,
                "cannot override: a parent key in the file is not a table",
                "fix the file, or drop the variable",
            );
        }
    }
    applied
}

/// A TOML value if `raw` is exactly one, else the text as a string.
pub fn parse_value(raw: &str) -> Value {
    match toml::from_str::<Table>(&format!("v = {raw}")) {
        Ok(mut t) if t.len() == 1 => t.remove("v").unwrap_or_else(|| Value::String(raw.into())),
        _ => Value::String(raw.to_string()),
    }
}

fn set(table: &mut Table, keys: &[String], value: Value) -> bool {
    match keys {
        [] => false,
        [last] => {
            table.insert(last.clone(), value);
            true
        }
        [first, rest @ ..] => {
            let entry = table
                .entry(first.clone())
                .or_insert_with(|| Value::Table(Table::new()));
            match entry {
                Value::Table(t) => set(t, rest, value),
                _ => false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(list: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        list.iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn values_are_toml_or_strings() {
        assert_eq!(parse_value("8080"), Value::Integer(8080));
        assert_eq!(parse_value("true"), Value::Boolean(true));
        assert_eq!(parse_value("\"30s\""), Value::String("30s".into()));
        assert_eq!(parse_value("30s"), Value::String("30s".into()));
        assert_eq!(
            parse_value("/etc/x.pem"),
            Value::String("/etc/x.pem".into())
        );
        assert_eq!(parse_value("10.0.0.1"), Value::String("10.0.0.1".into()));
        assert!(matches!(parse_value("[\"10.0.0.0/8\"]"), Value::Array(_)));
        // Smuggling a second key through a newline stays one plain string.
        assert_eq!(
            parse_value("1\nother = 2"),
            Value::String("1\nother = 2".into())
        );
        assert_eq!(parse_value(""), Value::String(String::new()));
    }

    #[test]
    fn overrides_set_nested_keys_and_remember_the_variable() {
        let mut t: Table = toml::from_str("[upstream]\nurl = \"http://a\"\n").unwrap();
        let applied = apply(
            &mut t,
            vars(&[
                ("ESIA_GATEWAY__UPSTREAM__URL", "http://b:81"),
                ("ESIA_GATEWAY__LOG__LEVEL", "debug"),
                ("UNRELATED", "x"),
            ]),
        );
        assert!(applied.errors.is_empty());
        assert_eq!(t["upstream"]["url"].as_str(), Some("http://b:81"));
        assert_eq!(t["log"]["level"].as_str(), Some("debug"));
        assert_eq!(
            applied.overrides.get("upstream.url").map(String::as_str),
            Some("ESIA_GATEWAY__UPSTREAM__URL")
        );
        assert_eq!(applied.overrides.len(), 2);
    }

    #[test]
    fn malformed_variables_are_errors() {
        let mut t: Table = toml::from_str("listen = 5\n").unwrap();
        let applied = apply(
            &mut t,
            vars(&[
                ("ESIA_GATEWAY__", "x"),
                ("ESIA_GATEWAY__TLS", "x"),
                ("ESIA_GATEWAY__TLS____KEY", "x"),
                ("ESIA_GATEWAY__LISTEN__HTTPS", "0.0.0.0:1"),
            ]),
        );
        assert_eq!(applied.errors.len(), 4);
        // Sorted by variable name: the listen override is second.
        assert_eq!(applied.errors[1].path, "listen.https");
        assert!(applied.overrides.is_empty());
        assert!(
            applied
                .errors
                .iter()
                .all(|e| matches!(e.location, Location::Env { .. }))
        );
    }

    #[test]
    fn non_utf8_value_is_an_error_naming_the_variable() {
        use std::os::unix::ffi::OsStringExt;
        let mut t = Table::new();
        let bad = OsString::from_vec(vec![0x66, 0xff, 0x6f]);
        let applied = apply(&mut t, vec![("ESIA_GATEWAY__TLS__KEY".into(), bad)]);
        assert_eq!(applied.errors.len(), 1);
        assert_eq!(applied.errors[0].path, "tls.key");
        assert_eq!(
            applied.errors[0].location,
            Location::Env {
                var: "ESIA_GATEWAY__TLS__KEY".into()
            }
        );
        assert!(t.is_empty());
    }
}
