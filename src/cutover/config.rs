//! The cutover's config: the policy sections (`[calendar]`, `[canonical]`, `[roles]`,
//! `[default_route]`, `[[route_group]]`, validated by [`crate::policy::config`]) and
//! `[banner]` (what is injected into the diary's pages), turned into [`CutoverConfig`].
//!
//! The cutover is on when the file has a `[calendar]` or a `[[route_group]]`; a file
//! without either runs the gateway as a transparent proxy (the transport tests do).

use serde::Deserialize;

use crate::inject::{Position, Rule};
use crate::policy::Policy;
use crate::policy::config::{
    AccessFile, CalendarFile, CanonicalFile, PolicyFile, RolesFile, RouteGroupFile,
};

/// Where the transition notice goes by default: first thing inside `<body>`.
pub const DEFAULT_BANNER_SELECTOR: &str = "body";
/// The diary's login form; the «Войти через Госуслуги» button goes right after it.
pub const DEFAULT_LOGIN_FORM_SELECTOR: &str = "form[action$=\"login\"]";
/// The diary's legacy login form posts here (refused when `legacy_login = "disabled"`).
pub const DEFAULT_LEGACY_LOGIN_PATH: &str = "/login";

/// `[banner]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BannerFile {
    /// The transition notice (seed 004) in the diary's HTML pages; default true.
    pub enabled: Option<bool>,
    /// CSS selector of the element the notice is prepended into; default `body`.
    pub selector: Option<String>,
    /// The «Войти через Госуслуги» button next to the diary's login form; default true.
    pub login_button: Option<bool>,
    /// CSS selector of the diary's login form.
    pub login_form_selector: Option<String>,
    /// The path the diary's login form posts to.
    pub legacy_login_path: Option<String>,
}

/// The policy sections, borrowed from the main file struct.
pub struct PolicySections<'a> {
    pub calendar: &'a Option<CalendarFile>,
    pub canonical: &'a Option<CanonicalFile>,
    pub roles: &'a Option<RolesFile>,
    pub default_route: &'a Option<AccessFile>,
    pub route_group: &'a Option<Vec<RouteGroupFile>>,
    pub banner: &'a Option<BannerFile>,
}

/// `[banner]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BannerSettings {
    pub enabled: bool,
    pub selector: String,
    pub login_button: bool,
    pub login_form_selector: String,
    pub legacy_login_path: String,
}

impl Default for BannerSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            selector: DEFAULT_BANNER_SELECTOR.into(),
            login_button: true,
            login_form_selector: DEFAULT_LOGIN_FORM_SELECTOR.into(),
            legacy_login_path: DEFAULT_LEGACY_LOGIN_PATH.into(),
        }
    }
}

/// Everything the authorize phase is configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CutoverConfig {
    pub policy: Policy,
    pub banner: BannerSettings,
}

impl CutoverConfig {
    /// Seed 004's policy ([`crate::policy::default_policy`]) with the default banner.
    pub fn seed_004() -> Self {
        Self {
            policy: crate::policy::default_policy(),
            banner: BannerSettings::default(),
        }
    }
}

/// One problem: `(key path from the file's root, message, hint)`.
pub type Issue = (String, String, Option<String>);

/// `Ok(None)` when the file configures no cutover at all.
pub fn validate(s: &PolicySections<'_>) -> Result<Option<CutoverConfig>, Vec<Issue>> {
    let mut issues = Vec::new();
    let banner = banner(s.banner.as_ref(), &mut issues);
    if s.calendar.is_none() && s.route_group.is_none() {
        if s.banner.is_some() || s.canonical.is_some() || s.default_route.is_some() {
            issues.push((
                "calendar".into(),
                "[banner], [canonical] or [default_route] without a [calendar]".into(),
                Some("add [calendar] with esia_only_from (see the shipped gateway.toml)".into()),
            ));
            return Err(issues);
        }
        return if issues.is_empty() {
            Ok(None)
        } else {
            Err(issues)
        };
    }
    let file = PolicyFile {
        calendar: s.calendar.clone(),
        canonical: s.canonical.clone(),
        roles: s.roles.clone(),
        default_route: s.default_route.clone(),
        route_group: s.route_group.clone(),
    };
    let policy = match crate::policy::config::validate(&file) {
        Ok(p) => Some(p),
        Err(errors) => {
            issues.extend(errors.into_iter().map(|e| (e.key_path, e.message, e.hint)));
            None
        }
    };
    match (policy, issues.is_empty()) {
        (Some(policy), true) => Ok(Some(CutoverConfig { policy, banner })),
        _ => Err(issues),
    }
}

fn banner(file: Option<&BannerFile>, issues: &mut Vec<Issue>) -> BannerSettings {
    let d = BannerSettings::default();
    let Some(f) = file else {
        return d;
    };
    let mut selector = |key: &str, value: &Option<String>, default: String| match value {
        None => default,
        Some(v) => {
            if let Err(e) = Rule::new(v, "", Position::Prepend) {
                issues.push((
                    format!("banner.{key}"),
                    format!("{v:?} is not a CSS selector lol_html accepts: {e}"),
                    Some("e.g. \"body\", \"#content\", \"form#login-form\"".into()),
                ));
            }
            v.clone()
        }
    };
    let sel = selector("selector", &f.selector, d.selector);
    let form = selector(
        "login_form_selector",
        &f.login_form_selector,
        d.login_form_selector,
    );
    let path = f.legacy_login_path.clone().unwrap_or(d.legacy_login_path);
    if !path.starts_with('/') {
        issues.push((
            "banner.legacy_login_path".into(),
            format!("{path:?} must be a path starting with '/'"),
            Some("e.g. \"/login\" or \"/index.php\"".into()),
        ));
    }
    BannerSettings {
        enabled: f.enabled.unwrap_or(true),
        selector: sel,
        login_button: f.login_button.unwrap_or(true),
        login_form_selector: form,
        legacy_login_path: path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sections(text: &str) -> Result<Option<CutoverConfig>, Vec<Issue>> {
        #[derive(Deserialize)]
        struct F {
            calendar: Option<CalendarFile>,
            canonical: Option<CanonicalFile>,
            roles: Option<RolesFile>,
            default_route: Option<AccessFile>,
            route_group: Option<Vec<RouteGroupFile>>,
            banner: Option<BannerFile>,
        }
        let f: F = toml::from_str(text).unwrap();
        validate(&PolicySections {
            calendar: &f.calendar,
            canonical: &f.canonical,
            roles: &f.roles,
            default_route: &f.default_route,
            route_group: &f.route_group,
            banner: &f.banner,
        })
    }

    #[test]
    fn no_policy_sections_means_no_cutover() {
        assert_eq!(sections("").unwrap(), None);
    }

    #[test]
    fn the_policy_example_validates_with_the_default_banner() {
        let c = sections(crate::policy::EXAMPLE_TOML).unwrap().unwrap();
        assert_eq!(c, CutoverConfig::seed_004());
    }

    #[test]
    fn bad_banner_and_policy_keys_are_reported_together() {
        let text = "[calendar]\nesia_only_from = \"2019-13-01\"\n\
                    [banner]\nselector = \"<<<\"\nlegacy_login_path = \"login\"\n";
        let issues = sections(text).unwrap_err();
        let keys: Vec<&str> = issues.iter().map(|i| i.0.as_str()).collect();
        assert!(keys.contains(&"banner.selector"), "{keys:?}");
        assert!(keys.contains(&"banner.legacy_login_path"), "{keys:?}");
        assert!(keys.iter().any(|k| k.starts_with("calendar")), "{keys:?}");
    }

    #[test]
    fn banner_without_calendar_is_an_error() {
        assert!(sections("[banner]\nenabled = false\n").is_err());
    }
}
