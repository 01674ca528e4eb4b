//! The `[linking]` and `[vault]` sections: file structs (serde, unknown keys refused) →
//! validated [`LinkSettings`] and vault key paths, every problem reported at once as
//! `(key below the section, message, hint)` for `config::validate::Ctx::section`.
//!
//! ```toml
//! [linking]
//! max_attempts = 5                 # link-form tries per ESIA account and per client address
//! attempt_window_minutes = 15
//! legacy_login = true              # the diary's own login form through the gateway
//! identity_check = "warn"          # off | warn | require: ESIA person vs diary account
//! identity_mismatch_contact = "классному руководителю или в службу поддержки"
//! max_diary_accounts = 5           # diary accounts one ESIA account may be linked to
//! # role → weakest ESIA level: one table for the policy and linking, [roles.min_level]
//!
//! [vault]
//! key = "keys/vault.key"           # active key: 64 hex digits, mode 0600
//! old_keys = ["keys/vault-2025.key"]  # still decrypt, never encrypt
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::diary::config::Issue;
use crate::identity::RoleLevels;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinkingFile {
    pub max_attempts: Option<u32>,
    pub attempt_window_minutes: Option<u32>,
    pub legacy_login: Option<bool>,
    /// Moved to `[roles.min_level]`; kept only to say so.
    pub min_level: BTreeMap<String, String>,
    pub identity_check: Option<String>,
    pub identity_mismatch_contact: Option<String>,
    pub max_diary_accounts: Option<u32>,
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
    /// `[roles.min_level]` (the policy's table; set by the config loader).
    pub levels: RoleLevels,
    /// What a mismatch between the ESIA person and the diary account does (issue 12).
    pub identity_check: IdentityCheck,
    /// Whom to contact, as the refusal page says it; `None`: the page's own words.
    pub identity_mismatch_contact: Option<String>,
    /// Diary accounts one ESIA account may be linked to (a parent with children in
    /// several schools has one diary account per school); each diary account still
    /// belongs to one ESIA account.
    pub max_diary_accounts: usize,
}

/// `[linking] identity_check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityCheck {
    /// Not compared.
    Off,
    /// Compared; a mismatch is audited and the binding made and flagged.
    Warn,
    /// Compared; a mismatch refuses the binding.
    Require,
}

impl IdentityCheck {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Warn => "warn",
            Self::Require => "require",
        }
    }
}

impl Default for LinkSettings {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            window: Duration::from_secs(15 * 60),
            legacy_login: true,
            levels: RoleLevels::default(),
            identity_check: IdentityCheck::Warn,
            identity_mismatch_contact: None,
            max_diary_accounts: 5,
        }
    }
}

pub fn validate_linking(file: &LinkingFile) -> Result<LinkSettings, Vec<Issue>> {
    let mut issues: Vec<Issue> = Vec::new();
    let mut s = LinkSettings::default();
    match file.max_attempts {
        Some(0) => issues.push((
            "max_attempts".into(),
            "must be at least 1".into(),
            Some("5 is the usual value".into()),
        )),
        Some(n) => s.max_attempts = u64::from(n),
        None => {}
    }
    match file.attempt_window_minutes {
        Some(m) if m == 0 || m > 24 * 60 => issues.push((
            "attempt_window_minutes".into(),
            format!("{m} is out of range"),
            Some("between 1 and 1440 minutes".into()),
        )),
        Some(m) => s.window = Duration::from_secs(u64::from(m) * 60),
        None => {}
    }
    if let Some(b) = file.legacy_login {
        s.legacy_login = b;
    }
    match file.max_diary_accounts {
        Some(n) if n == 0 || n > 50 => issues.push((
            "max_diary_accounts".into(),
            format!("{n} is out of range"),
            Some("between 1 (one diary account per person) and 50; 5 is the default".into()),
        )),
        Some(n) => s.max_diary_accounts = n as usize,
        None => {}
    }
    match file.identity_check.as_deref() {
        None | Some("warn") => {}
        Some("off") => s.identity_check = IdentityCheck::Off,
        Some("require") => s.identity_check = IdentityCheck::Require,
        Some(other) => issues.push((
            "identity_check".into(),
            format!("unknown value {other:?}"),
            Some("\"off\", \"warn\" or \"require\"".into()),
        )),
    }
    match file.identity_mismatch_contact.as_deref().map(str::trim) {
        Some(c) if c.is_empty() || c.len() > 1000 || c.chars().any(char::is_control) => issues
            .push((
                "identity_mismatch_contact".into(),
                "must be one line of text (at most 1000 bytes)".into(),
                Some("e.g. \"классному руководителю или по телефону 8-800-…\"".into()),
            )),
        Some(c) => s.identity_mismatch_contact = Some(c.to_owned()),
        None => {}
    }
    if !file.min_level.is_empty() {
        issues.push((
            "min_level".into(),
            "moved to [roles.min_level]".into(),
            Some("one role → level table for the policy and linking: [roles.min_level] student = \"simplified\"".into()),
        ));
    }
    if issues.is_empty() {
        Ok(s)
    } else {
        Err(issues)
    }
}

/// `[diary]` through `diary::config::validate`, with its issue keys made relative to
/// the section (that validator prefixes them with `diary.` itself).
pub fn validate_diary(
    file: &crate::diary::config::DiaryFile,
    base_dir: &Path,
) -> Result<crate::diary::config::DiaryConfig, Vec<Issue>> {
    crate::diary::config::validate(file, base_dir).map_err(|issues| {
        issues
            .into_iter()
            .map(|(key, message, hint)| {
                let key = key
                    .strip_prefix("diary.")
                    .map_or(key.clone(), str::to_owned);
                (key, message, hint)
            })
            .collect()
    })
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
        Some(key) => {
            let paths = VaultPaths {
                active: resolve(key),
                older: file.old_keys.iter().map(|p| resolve(p)).collect(),
            };
            // Loaded once here so `check-config` reports a missing, unreadable or
            // world-readable key file before the gateway starts.
            let mut issues = Vec::new();
            let all = std::iter::once(("key".to_owned(), &paths.active)).chain(
                paths
                    .older
                    .iter()
                    .enumerate()
                    .map(|(i, p)| (format!("old_keys[{i}]"), p)),
            );
            for (k, path) in all {
                if let Err(e) = crate::diary::vault::VaultKey::load(path) {
                    issues.push((
                        k,
                        e.to_string(),
                        Some(
                            "64 hex digits in a file of mode 0600 owned by the gateway's user"
                                .into(),
                        ),
                    ));
                }
            }
            if issues.is_empty() {
                Ok(paths)
            } else {
                Err(issues)
            }
        }
        None => Err(vec![(
            "key".into(),
            "required key is missing".into(),
            Some("64 hex digits (32 random bytes), e.g. `openssl rand -hex 32 > keys/vault.key`, mode 0600".into()),
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
        assert_eq!(s.identity_check, IdentityCheck::Warn);
        assert_eq!(s.identity_mismatch_contact, None);
    }

    #[test]
    fn identity_check_keys() {
        let f: LinkingFile = toml::from_str(
            "identity_check = \"require\"\nidentity_mismatch_contact = \" в школу \"",
        )
        .unwrap();
        let s = validate_linking(&f).unwrap();
        assert_eq!(s.identity_check, IdentityCheck::Require);
        assert_eq!(s.identity_mismatch_contact.as_deref(), Some("в школу"));
        let off: LinkingFile = toml::from_str("identity_check = \"off\"").unwrap();
        assert_eq!(
            validate_linking(&off).unwrap().identity_check,
            IdentityCheck::Off
        );
        for bad in [
            "identity_check = \"strict\"",
            "identity_check = \"\"",
            "identity_mismatch_contact = \"  \"",
            "identity_mismatch_contact = \"a\\nb\"",
        ] {
            let f: LinkingFile = toml::from_str(bad).unwrap();
            let issues = validate_linking(&f).unwrap_err();
            assert_eq!(issues.len(), 1, "{bad}");
        }
    }

    #[test]
    fn every_problem_is_reported() {
        let f: LinkingFile = toml::from_str(
            "max_attempts = 0\nattempt_window_minutes = 0\nmax_diary_accounts = 0\n\
             [min_level]\nparent = \"confirmed\"\n",
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
                "max_attempts",
                "attempt_window_minutes",
                "max_diary_accounts",
                "min_level"
            ]
        );
        for (text, want) in [
            ("", 5),
            ("max_diary_accounts = 1", 1),
            ("max_diary_accounts = 50", 50),
        ] {
            let f: LinkingFile = toml::from_str(text).unwrap();
            assert_eq!(
                validate_linking(&f).unwrap().max_diary_accounts,
                want,
                "{text}"
            );
        }
        let f: LinkingFile = toml::from_str("max_diary_accounts = 51").unwrap();
        assert!(validate_linking(&f).is_err());
        assert!(toml::from_str::<LinkingFile>("max_attempt = 1").is_err());
        assert!(toml::from_str::<VaultFile>("keys = \"a\"").is_err());
    }

    #[test]
    fn vault_keys_are_checked_where_the_config_names_them() {
        let dir = tempfile::tempdir().unwrap();
        crate::diary::vault::generate_key_file(&dir.path().join("a.key")).unwrap();
        let f: VaultFile = toml::from_str("key = \"a.key\"").unwrap();
        let p = validate_vault(&f, dir.path()).unwrap();
        assert_eq!(p.active, dir.path().join("a.key"));
        let f: VaultFile =
            toml::from_str("key = \"a.key\"\nold_keys = [\"/nonexistent/b.key\"]").unwrap();
        let issues = validate_vault(&f, dir.path()).unwrap_err();
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].0, "old_keys[0]");
        assert!(validate_vault(&VaultFile::default(), dir.path()).is_err());
        use std::os::unix::fs::PermissionsExt;
        let open = dir.path().join("a.key");
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
        let f: VaultFile = toml::from_str("key = \"a.key\"").unwrap();
        let issues = validate_vault(&f, dir.path()).unwrap_err();
        assert!(issues[0].1.contains("chmod 600"), "{issues:?}");
    }

    /// The commented `[diary]` and `[linking]` examples in the shipped `gateway.toml`,
    /// uncommented, are valid keys with valid values.
    #[test]
    fn shipped_examples_validate() {
        let shipped = include_str!("../../gateway.toml");
        let start = shipped.find("# [diary]").unwrap();
        let text: String = shipped[start..]
            .lines()
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| !l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        let file: crate::config::file::FileConfig = toml::from_str(&text).unwrap();
        validate_diary(&file.diary, Path::new("/etc/gw")).unwrap();
        let linking = validate_linking(&file.linking).unwrap();
        assert_eq!(linking.max_attempts, 5);
        assert!(file.vault.is_some());
    }
}
