//! The `[linking]` and `[vault]` sections: file structs (serde, unknown keys refused) →
//! validated [`LinkSettings`] and vault key paths, every problem reported at once as
//! `(key path, message, hint)` like `diary::config`.
//!
//! ```toml
//! [linking]
//! max_attempts = 5                 # link-form tries per ESIA account and per client address
//! attempt_window_minutes = 15
//! legacy_login = true              # the diary's own login form through the gateway
//! [linking.min_level]              # role → weakest ESIA level (seed 000 defaults)
//! student = "simplified"
//! parent = "confirmed"
//!
//! [vault]
//! key = "keys/vault.key"           # active key: 64 hex digits, mode 0600
//! old_keys = ["keys/vault-2025.key"]  # still decrypt, never encrypt
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::levels::{LevelTable, is_level};
use crate::diary::config::{CANONICAL_ROLES, Issue};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinkingFile {
    pub max_attempts: Option<u32>,
    pub attempt_window_minutes: Option<u32>,
    pub legacy_login: Option<bool>,
    pub min_level: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VaultFile {
    pub key: Option<PathBuf>,
    pub old_keys: Vec<PathBuf>,
}

/// Validated vault key files (loaded by `diary::vault::Keyring::from_files`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultPaths {
    pub active: PathBuf,
    pub older: Vec<PathBuf>,
}

/// How linking behaves.
#[derive(Debug, Clone)]
pub struct LinkSettings {
    /// Link-form attempts allowed per ESIA account and per client address in `window`.
    pub max_attempts: u64,
    pub window: Duration,
    /// The diary's own login form may be used through the gateway. The cutover calendar
    /// turns this off after a `disabled` cutover.
    pub legacy_login: bool,
    pub levels: LevelTable,
}

impl Default for LinkSettings {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            window: Duration::from_secs(15 * 60),
            legacy_login: true,
            levels: LevelTable::default(),
        }
    }
}

pub fn validate_linking(file: &LinkingFile) -> Result<LinkSettings, Vec<Issue>> {
    let mut issues: Vec<Issue> = Vec::new();
    let mut s = LinkSettings::default();
    match file.max_attempts {
        Some(0) => issues.push((
            "linking.max_attempts".into(),
            "must be at least 1".into(),
            Some("5 is the usual value".into()),
        )),
        Some(n) => s.max_attempts = u64::from(n),
        None => {}
    }
    match file.attempt_window_minutes {
        Some(m) if m == 0 || m > 24 * 60 => issues.push((
            "linking.attempt_window_minutes".into(),
            format!("{m} is out of range"),
            Some("between 1 and 1440 minutes".into()),
        )),
        Some(m) => s.window = Duration::from_secs(u64::from(m) * 60),
        None => {}
    }
    if let Some(b) = file.legacy_login {
        s.legacy_login = b;
    }
    for (role, level) in &file.min_level {
        if !CANONICAL_ROLES.contains(&role.as_str()) {
            issues.push((
                format!("linking.min_level.{role}"),
                format!("{role:?} is not a role the gateway knows"),
                Some(format!("one of {}", CANONICAL_ROLES.join(", "))),
            ));
        } else if !is_level(level) {
            issues.push((
                format!("linking.min_level.{role}"),
                format!("{level:?} is not an ESIA account level"),
                Some("simplified, standard or confirmed".into()),
            ));
        } else {
            s.levels = s.levels.with(role, level);
        }
    }
    if issues.is_empty() {
        Ok(s)
    } else {
        Err(issues)
    }
}

pub fn validate_vault(file: &VaultFile, base_dir: &Path) -> Result<VaultPaths, Vec<Issue>> {
    let resolve = |p: &Path| {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            base_dir.join(p)
        }
    };
    match &file.key {
        Some(key) => Ok(VaultPaths {
            active: resolve(key),
            older: file.old_keys.iter().map(|p| resolve(p)).collect(),
        }),
        None => Err(vec![(
            "vault.key".into(),
            "required key is missing".into(),
            Some("create one with `esia-gateway keys generate PATH` (mode 0600)".into()),
        )]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_seed_000() {
        let s = validate_linking(&LinkingFile::default()).unwrap();
        assert_eq!(s.max_attempts, 5);
        assert_eq!(s.window, Duration::from_secs(900));
        assert!(s.legacy_login);
        assert!(s.levels.allows(Some("student"), Some("simplified")));
    }

    #[test]
    fn every_problem_is_reported() {
        let f: LinkingFile = toml::from_str(
            "max_attempts = 0\nattempt_window_minutes = 0\n[min_level]\npupil = \"simplified\"\nparent = \"gold\"\n",
        )
        .unwrap();
        let keys: Vec<String> = validate_linking(&f)
            .unwrap_err()
            .into_iter()
            .map(|i| i.0)
            .collect();
        assert_eq!(
            keys,
            [
                "linking.max_attempts",
                "linking.attempt_window_minutes",
                "linking.min_level.parent",
                "linking.min_level.pupil"
            ]
        );
        assert!(toml::from_str::<LinkingFile>("max_attempt = 1").is_err());
        assert!(toml::from_str::<VaultFile>("keys = \"a\"").is_err());
    }

    #[test]
    fn vault_paths_resolve_against_the_config_dir() {
        let f: VaultFile =
            toml::from_str("key = \"k/a.key\"\nold_keys = [\"/abs/b.key\"]").unwrap();
        let p = validate_vault(&f, Path::new("/etc/gw")).unwrap();
        assert_eq!(p.active, Path::new("/etc/gw/k/a.key"));
        assert_eq!(p.older, [PathBuf::from("/abs/b.key")]);
        assert!(validate_vault(&VaultFile::default(), Path::new(".")).is_err());
    }
}
