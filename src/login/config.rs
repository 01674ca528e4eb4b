//! The `[login]`, `[session]` and `[store]` sections of `gateway.toml` (and the glue
//! that resolves `[esia]`'s relative paths), as the config loader's section validators:
//! serde mirrors with unknown keys rejected, then validation that reports every problem
//! as `(key below the section, message, hint)`.
//!
//! ```toml
//! [login]
//! prefix = "/esia/"            # the gateway's own pages
//! flow_ttl = "10m"             # a started login must come back within this
//! # legacy_login_url = "/login" # shown on the start page while legacy logins are allowed
//!
//! [session]
//! idle = "30m"                 # idle timeout
//! absolute = "12h"             # lifetime from login, whatever the activity
//! public_computer_idle = "10m" # «Чужой компьютер»: non-persistent cookie, this idle timeout
//! cache_ttl = "2s"             # cross-replica logout bound (a replica re-reads after this)
//! touch_interval = "60s"       # last-seen written back at most this often
//! purge_interval = "5m"        # expired sessions and flows deleted this often
//!
//! [store]
//! backend = "sqlite"           # or "postgres" (several replicas)
//! path = "data/gateway.db"     # sqlite: relative to the config file
//! # url = "postgres://gw@db/gateway"  # postgres; better from ESIA_GATEWAY__STORE__URL
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::esia::EsiaFile;
use crate::secret::Secret;
use crate::session::SessionPolicy;
use crate::units::DurationValue;

/// One problem: key below the section, message, hint.
pub type Issue = (String, String, Option<String>);

/// `[login]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginFile {
    pub prefix: Option<String>,
    pub flow_ttl: Option<DurationValue>,
    pub legacy_login_url: Option<String>,
    pub starts_per_minute: Option<u32>,
    pub signer_concurrency: Option<usize>,
}

/// `[session]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionFile {
    pub idle: Option<DurationValue>,
    pub absolute: Option<DurationValue>,
    pub public_computer_idle: Option<DurationValue>,
    pub cache_ttl: Option<DurationValue>,
    pub touch_interval: Option<DurationValue>,
    pub purge_interval: Option<DurationValue>,
}

/// `[store]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreFile {
    pub backend: Option<String>,
    pub path: Option<String>,
    pub url: Option<String>,
}

/// Validated `[login]`.
#[derive(Debug, Clone)]
pub struct LoginConfig {
    pub prefix: String,
    pub flow_ttl: Duration,
    pub legacy_login_url: Option<String>,
    /// ESIA logins one client address may start per minute (each writes a flow and
    /// signs a request); more → 429.
    pub starts_per_minute: u32,
    /// Signatures at once (each may fork the signer program); more wait up to 3 s,
    /// then 503.
    pub signer_concurrency: usize,
}

impl Default for LoginConfig {
    fn default() -> Self {
        Self {
            prefix: "/esia/".into(),
            flow_ttl: Duration::from_secs(600),
            legacy_login_url: None,
            starts_per_minute: 30,
            signer_concurrency: 8,
        }
    }
}

/// Validated `[session]`.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub policy: SessionPolicy,
    pub purge_interval: Duration,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            policy: SessionPolicy::default(),
            purge_interval: Duration::from_secs(300),
        }
    }
}

/// Validated `[store]`.
#[derive(Debug, Clone)]
pub enum StoreConfig {
    Sqlite(PathBuf),
    Postgres(Secret),
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self::Sqlite(PathBuf::from("data/gateway.db"))
    }
}

/// The cross-replica bound promised to operators.
pub const MAX_CACHE_TTL: Duration = Duration::from_secs(5);

fn issue(key: &str, message: &str, hint: &str) -> Issue {
    (key.to_owned(), message.to_owned(), Some(hint.to_owned()))
}

/// `value` (or `default`) when inside `range`; else an issue `(key, hint)`.
fn within<T: PartialOrd + Copy + std::fmt::Display>(
    value: Option<T>,
    default: T,
    range: std::ops::RangeInclusive<T>,
    (key, hint): (&str, &str),
    out: &mut Vec<Issue>,
) -> T {
    let v = value.unwrap_or(default);
    if !range.contains(&v) {
        out.push(issue(
            key,
            &format!("must be between {} and {}", range.start(), range.end()),
            hint,
        ));
    }
    v
}

const DURATION_HINT: &str = "expected a duration like \"30m\"";

fn positive(
    v: &Option<DurationValue>,
    default: Duration,
    key: &str,
    out: &mut Vec<Issue>,
) -> Duration {
    match v {
        Some(DurationValue(d)) if d.is_zero() => {
            out.push(issue(key, "must be longer than zero", DURATION_HINT));
            default
        }
        Some(DurationValue(d)) => *d,
        None => default,
    }
}

pub fn validate_login(f: &LoginFile) -> Result<LoginConfig, Vec<Issue>> {
    let mut out = Vec::new();
    let d = LoginConfig::default();
    let prefix = f.prefix.clone().unwrap_or(d.prefix);
    let prefix_ok = prefix.len() >= 2
        && prefix.starts_with('/')
        && prefix.ends_with('/')
        && !prefix.contains("//")
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-/".contains(&b));
    if !prefix_ok {
        out.push(issue(
            "prefix",
            "must be a path that starts and ends with '/', letters, digits, '_', '.', '-' only",
            "e.g. \"/esia/\"",
        ));
    }
    let flow_ttl = positive(&f.flow_ttl, d.flow_ttl, "flow_ttl", &mut out);
    if let Some(url) = &f.legacy_login_url
        && !super::return_path::is_safe_return_path(url)
    {
        out.push(issue(
            "legacy_login_url",
            "must be a path on this site",
            "e.g. \"/login\"",
        ));
    }
    let starts_per_minute = within(
        f.starts_per_minute,
        d.starts_per_minute,
        1..=100_000,
        (
            "starts_per_minute",
            "e.g. 30 (a school behind one address: raise it, or list the proxy in [forwarding] trusted_proxies)",
        ),
        &mut out,
    );
    let signer_concurrency = within(
        f.signer_concurrency,
        d.signer_concurrency,
        1..=1024,
        (
            "signer_concurrency",
            "e.g. 8 (about the number of CPU cores the signer may use)",
        ),
        &mut out,
    );
    if out.is_empty() {
        Ok(LoginConfig {
            prefix,
            flow_ttl,
            legacy_login_url: f.legacy_login_url.clone(),
            starts_per_minute,
            signer_concurrency,
        })
    } else {
        Err(out)
    }
}

pub fn validate_session(f: &SessionFile) -> Result<SessionConfig, Vec<Issue>> {
    let mut out = Vec::new();
    let d = SessionConfig::default();
    let p = &d.policy;
    let policy = SessionPolicy {
        idle: positive(&f.idle, p.idle, "idle", &mut out),
        absolute: positive(&f.absolute, p.absolute, "absolute", &mut out),
        public_computer_idle: positive(
            &f.public_computer_idle,
            p.public_computer_idle,
            "public_computer_idle",
            &mut out,
        ),
        touch_interval: positive(
            &f.touch_interval,
            p.touch_interval,
            "touch_interval",
            &mut out,
        ),
        cache_ttl: positive(&f.cache_ttl, p.cache_ttl, "cache_ttl", &mut out),
        ..p.clone()
    };
    if policy.cache_ttl > MAX_CACHE_TTL {
        out.push(issue(
            "cache_ttl",
            "longer than 5 s: a logout would reach other replicas too late",
            "keep it at \"2s\" or less",
        ));
    }
    if policy.idle > policy.absolute {
        out.push(issue(
            "idle",
            "longer than `absolute`",
            "e.g. idle = \"30m\", absolute = \"12h\"",
        ));
    }
    if policy.public_computer_idle > policy.idle {
        out.push(issue(
            "public_computer_idle",
            "a public computer must not stay signed in longer than a private one",
            "keep it shorter than `idle`, e.g. \"10m\"",
        ));
    }
    let purge_interval = positive(
        &f.purge_interval,
        d.purge_interval,
        "purge_interval",
        &mut out,
    );
    if out.is_empty() {
        Ok(SessionConfig {
            policy,
            purge_interval,
        })
    } else {
        Err(out)
    }
}

pub fn validate_store(f: &StoreFile, base_dir: &Path) -> Result<StoreConfig, Vec<Issue>> {
    match f.backend.as_deref().unwrap_or("sqlite") {
        "sqlite" => {
            if f.url.is_some() {
                return Err(vec![issue(
                    "url",
                    "only for backend = \"postgres\"",
                    "use `path` for SQLite",
                )]);
            }
            let path = f.path.as_deref().unwrap_or("data/gateway.db");
            Ok(StoreConfig::Sqlite(base_dir.join(path)))
        }
        "postgres" => {
            let mut out = Vec::new();
            if f.path.is_some() {
                out.push(issue(
                    "path",
                    "only for backend = \"sqlite\"",
                    "use `url` for PostgreSQL",
                ));
            }
            match f.url.as_deref() {
                Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {}
                Some(_) => out.push(issue(
                    "url",
                    "not a PostgreSQL URL",
                    "postgres://user@host:5432/db",
                )),
                None => out.push(issue(
                    "url",
                    "required key is missing",
                    "postgres://user@host:5432/db, or ESIA_GATEWAY__STORE__URL",
                )),
            }
            match (out.is_empty(), &f.url) {
                (true, Some(u)) => Ok(StoreConfig::Postgres(Secret::new(u.clone()))),
                _ => Err(out),
            }
        }
        _ => Err(vec![issue(
            "backend",
            "unknown store backend",
            "\"sqlite\" or \"postgres\"",
        )]),
    }
}

/// `[esia]`: relative file paths resolved against the config file, then the ESIA
/// client's own validation.
pub fn validate_esia(f: &EsiaFile, base_dir: &Path) -> Result<crate::esia::EsiaConfig, Vec<Issue>> {
    let mut f = f.clone();
    let resolve = |p: &PathBuf| {
        if p.is_absolute() {
            p.clone()
        } else {
            base_dir.join(p)
        }
    };
    f.token_keys = f.token_keys.iter().map(resolve).collect();
    f.ca_bundle = f.ca_bundle.as_ref().map(resolve);
    if let Some(signer) = f.signer.as_mut() {
        signer.key = signer.key.as_ref().map(resolve);
        // A bare program name ("openssl") is looked up in PATH; a path is relative to us.
        signer.program = signer.program.as_ref().map(|p| {
            if p.components().count() > 1 {
                resolve(p)
            } else {
                p.clone()
            }
        });
    }
    // The ESIA validator names keys from the file root (`esia.client_id`); the loader
    // adds the section itself.
    f.validate().map_err(|problems| {
        problems
            .into_iter()
            .map(|(k, m, h)| {
                let key = k.strip_prefix("esia.").map(str::to_owned).unwrap_or(k);
                (key, m, Some(h))
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dur(s: &str) -> Option<DurationValue> {
        Some(DurationValue(crate::units::parse_duration(s).unwrap()))
    }

    #[test]
    fn defaults_are_valid() {
        assert!(validate_login(&LoginFile::default()).is_ok());
        assert!(validate_session(&SessionFile::default()).is_ok());
        let store = validate_store(&StoreFile::default(), Path::new("/etc/gw")).unwrap();
        assert!(
            matches!(store, StoreConfig::Sqlite(p) if p == Path::new("/etc/gw/data/gateway.db"))
        );
    }

    #[test]
    fn bad_values_are_all_reported() {
        let f = LoginFile {
            prefix: Some("esia".into()),
            flow_ttl: dur("0s"),
            legacy_login_url: Some("//evil".into()),
            starts_per_minute: Some(0),
            signer_concurrency: Some(5000),
        };
        let keys: Vec<_> = validate_login(&f)
            .unwrap_err()
            .into_iter()
            .map(|i| i.0)
            .collect();
        assert_eq!(
            keys,
            [
                "prefix",
                "flow_ttl",
                "legacy_login_url",
                "starts_per_minute",
                "signer_concurrency"
            ]
        );

        let f = SessionFile {
            idle: dur("13h"),
            cache_ttl: dur("10s"),
            public_computer_idle: dur("14h"),
            ..SessionFile::default()
        };
        let keys: Vec<_> = validate_session(&f)
            .unwrap_err()
            .into_iter()
            .map(|i| i.0)
            .collect();
        assert_eq!(keys, ["cache_ttl", "idle", "public_computer_idle"]);
    }

    #[test]
    fn store_backends() {
        let base = Path::new("/etc/gw");
        let pg = StoreFile {
            backend: Some("postgres".into()),
            url: Some("postgres://gw@db/gateway".into()),
            path: None,
        };
        assert!(matches!(
            validate_store(&pg, base),
            Ok(StoreConfig::Postgres(_))
        ));
        let missing = StoreFile { url: None, ..pg };
        assert_eq!(validate_store(&missing, base).unwrap_err()[0].0, "url");
        let odd = StoreFile {
            backend: Some("mysql".into()),
            ..StoreFile::default()
        };
        assert_eq!(validate_store(&odd, base).unwrap_err()[0].0, "backend");
        let mixed = StoreFile {
            url: Some("postgres://x".into()),
            ..StoreFile::default()
        };
        assert_eq!(validate_store(&mixed, base).unwrap_err()[0].0, "url");
    }

    /// The commented `[esia]`, `[login]`, `[session]`, `[store]` examples in the shipped
    /// `gateway.toml`, uncommented, are valid keys with valid values.
    #[test]
    fn shipped_examples_parse() {
        let shipped = include_str!("../../gateway.toml");
        let start = shipped.find("# [esia]").unwrap();
        let text: String = shipped[start..]
            .lines()
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| !l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        let file: crate::config::file::FileConfig = toml::from_str(&text).unwrap();
        assert!(file.esia.is_some());
        validate_login(&file.login).unwrap();
        validate_session(&file.session).unwrap();
        validate_store(&file.store, Path::new("/etc/gw")).unwrap();
    }
}
