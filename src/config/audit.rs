//! `[audit]`: how long the audit trail is kept. The background purge (every
//! `[session] purge_interval`) and `esia-gateway audit purge` delete older events.

use std::time::Duration;

use serde::Deserialize;

use crate::units::DurationValue;

/// `[audit]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditFile {
    pub retention: Option<DurationValue>,
}

/// Validated `[audit]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditConfig {
    /// Events older than this are purged.
    pub retention: Duration,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            retention: Duration::from_secs(365 * 86_400),
        }
    }
}

type Issue = (String, String, Option<String>);

pub fn validate_audit(f: &AuditFile) -> Result<AuditConfig, Vec<Issue>> {
    match f.retention {
        None => Ok(AuditConfig::default()),
        Some(DurationValue(d)) if d < Duration::from_secs(86_400) => Err(vec![(
            "retention".into(),
            "shorter than a day: the trail would be gone before anyone reads it".into(),
            Some("e.g. retention = \"365d\"".into()),
        )]),
        Some(DurationValue(d)) => Ok(AuditConfig { retention: d }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_defaults_to_a_year_and_refuses_less_than_a_day() {
        let parse = |s: &str| validate_audit(&toml::from_str::<AuditFile>(s).unwrap());
        assert_eq!(
            parse("").unwrap().retention,
            Duration::from_secs(365 * 86_400)
        );
        assert_eq!(
            parse("retention = \"30d\"").unwrap().retention,
            Duration::from_secs(30 * 86_400)
        );
        let e = parse("retention = \"1h\"").unwrap_err();
        assert_eq!(e[0].0, "retention");
        assert!(toml::from_str::<AuditFile>("retention = \"1y\"").is_err());
        assert!(toml::from_str::<AuditFile>("keep = \"1d\"").is_err());
    }
}
