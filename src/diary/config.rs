//! The `[diary]` section: how the gateway signs users into the diary and reads its
//! answers. File struct (serde, unknown keys rejected) → validated [`DiaryConfig`].
//!
//! ```toml
//! [diary]
//! sign_in = "form"                 # form | header
//! login_path = "/login"            # where the diary's login form posts
//! login_field = "login"
//! password_field = "password"
//! extra_fields = {}                # other fields the form sends, e.g. { remember = "1" }
//! failure_text = "Неверный логин или пароль"
//! expired = { redirect_to = [{ path = "/login" }], body_contains = [], status = [401] }
//! logout_path = "/logout"          # the gateway's own logout, when the probe page has no logout link
//! login_endpoints = [{ path = "/login" }]   # route-group matchers: browser logins
//! logout_endpoints = [{ path = "/logout" }] # route-group matchers: diary logouts
//! login_form_get = true            # GET the form first (cookies, hidden fields)
//! session_cookies = []             # the diary's session cookies; [] = all the sign-in set
//! login_case_insensitive = false
//! case_insensitive_paths = true
//! pass_cookies = []                # browser cookies still passed (never session ones)
//! [diary.probe]                    # who is signed in
//! path = "/api/me"
//! format = "json"                  # json (pointers) | html (selector + regex)
//! login = "/login"
//! role = "/role"
//! name = "/name"
//! birth_date = "/birth_date"       # the account's own, where the diary shows it
//! [diary.children_probe]           # a parent's pupils (see `children.rs`)
//! path = "/api/children"
//! [diary.roles]                    # diary role string → canonical role
//! student = "student"
//! [diary.header]                   # sign_in = "header" only
//! name = "X-ESIA-Gateway-Assertion"
//! key = "certs/assertion.key"      # Ed25519 or RSA private key, PKCS#8 PEM
//! alg = "EdDSA"                    # EdDSA | RS256
//! ttl_seconds = 60
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::endpoints::Endpoints;
use super::probe::{ProbeFormat, ProbeRules};
use super::signin::DiaryRules;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiaryFile {
    pub sign_in: Option<String>,
    pub login_path: Option<String>,
    pub login_field: Option<String>,
    pub password_field: Option<String>,
    pub extra_fields: BTreeMap<String, String>,
    pub failure_text: Option<String>,
    pub expired_redirect_paths: Option<Vec<String>>,
    pub logout_path: Option<String>,
    /// Moved to `[diary.probe]`; kept only to say so.
    pub role_probe_path: Option<String>,
    /// Moved to `[diary.probe]`; kept only to say so.
    pub role_probe_pointer: Option<String>,
    pub login_endpoints: Option<Vec<crate::policy::config::MatcherFile>>,
    pub logout_endpoints: Option<Vec<crate::policy::config::MatcherFile>>,
    pub login_form_get: Option<bool>,
    pub session_cookies: Vec<String>,
    pub login_case_insensitive: Option<bool>,
    pub expired_body_markers: Vec<String>,
    /// `expired = { redirect_to, body_contains, status }` (see `expiry.rs`).
    pub expired: Option<super::expiry::ExpiredFile>,
    pub probe: Option<ProbeFile>,
    /// `[diary.children_probe]`: a parent's pupils, for the identity check at linking.
    pub children_probe: Option<super::children::ChildrenProbeFile>,
    pub case_insensitive_paths: Option<bool>,
    pub pass_cookies: Vec<String>,
    pub roles: Option<BTreeMap<String, String>>,
    pub header: Option<HeaderFile>,
}

/// `[diary.probe]`: how the diary names the signed-in user.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProbeFile {
    pub path: Option<String>,
    pub format: Option<String>,
    /// JSON pointers (format = "json").
    pub login: Option<String>,
    pub role: Option<String>,
    pub name: Option<String>,
    pub birth_date: Option<String>,
    /// format = "html": the element whose text is read (optional) and the regex with
    /// named groups `login` (required), `role`, `name`.
    pub selector: Option<String>,
    pub regex: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderFile {
    #[serde(default)]
    pub name: Option<String>,
    pub key: PathBuf,
    #[serde(default)]
    pub alg: Option<String>,
    #[serde(default)]
    pub ttl_seconds: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInMode {
    /// The gateway posts the stored password to the diary's own form.
    Form,
    /// The diary trusts a signed assertion header.
    Header(HeaderAssertion),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderAssertion {
    pub name: http::HeaderName,
    pub key: PathBuf,
    pub alg: super::assertion::AssertionAlg,
    pub ttl: chrono::TimeDelta,
}

#[derive(Debug, Clone)]
pub struct DiaryConfig {
    pub mode: SignInMode,
    pub rules: DiaryRules,
    /// Browser cookies passed through to the diary; every other browser cookie is dropped.
    pub pass_cookies: Vec<String>,
}

impl Default for DiaryConfig {
    fn default() -> Self {
        Self {
            mode: SignInMode::Form,
            rules: DiaryRules::demo(),
            pass_cookies: Vec::new(),
        }
    }
}

/// One problem found in `[diary]`: key path (below `diary.`), message, hint.
pub type Issue = (String, String, Option<String>);

pub fn validate(file: &DiaryFile, base_dir: &Path) -> Result<DiaryConfig, Vec<Issue>> {
    let mut issues: Vec<Issue> = Vec::new();
    let mut rules = DiaryRules::demo();
    let path_key =
        |key: &str, value: &Option<String>, target: &mut String, issues: &mut Vec<Issue>| {
            if let Some(v) = value {
                if v.starts_with('/') && !v.contains(['?', '#']) && !v.chars().any(char::is_control)
                {
                    *target = v.clone();
                } else {
                    issues.push((
                        format!("diary.{key}"),
                        format!("{v:?} is not an absolute path"),
                        Some("like \"/login\"".into()),
                    ));
                }
            }
        };
    path_key(
        "login_path",
        &file.login_path,
        &mut rules.login_path,
        &mut issues,
    );
    path_key(
        "logout_path",
        &file.logout_path,
        &mut rules.logout_path,
        &mut issues,
    );
    for (key, set) in [
        ("role_probe_path", file.role_probe_path.is_some()),
        ("role_probe_pointer", file.role_probe_pointer.is_some()),
    ] {
        if set {
            issues.push((
                format!("diary.{key}"),
                "moved to [diary.probe]".into(),
                Some(
                    "[diary.probe] path = \"/api/me\", login = \"/login\", role = \"/role\"".into(),
                ),
            ));
        }
    }
    if let Some(p) = &file.probe {
        match probe_rules(p) {
            Ok(r) => rules.probe = r,
            Err(mut e) => issues.append(&mut e),
        }
    }
    // Only where configured: a diary without such a page is not asked for one.
    rules.children = None;
    if let Some(c) = &file.children_probe {
        match super::children::children_rules(c) {
            Ok(r) => rules.children = Some(r),
            Err(mut e) => issues.append(&mut e),
        }
    }
    let explicit_login_path = file.login_path.is_some();
    let explicit_logout_path = file.logout_path.is_some();
    rules.login_form_get = file.login_form_get.unwrap_or(true);
    rules.session_cookies = file.session_cookies.clone();
    rules.login_case_insensitive = file.login_case_insensitive.unwrap_or(false);
    match super::expiry::validate(
        file.expired.as_ref(),
        file.expired_redirect_paths.as_ref(),
        &file.expired_body_markers,
    ) {
        Ok(e) => rules.expired = e,
        Err(mut e) => issues.append(&mut e),
    }
    let mut field = |key: &str, value: &Option<String>, target: &mut String| match value {
        Some(v) if v.is_empty() => {
            issues.push((format!("diary.{key}"), "must not be empty".into(), None))
        }
        Some(v) => *target = v.clone(),
        None => {}
    };
    field("login_field", &file.login_field, &mut rules.login_field);
    field(
        "password_field",
        &file.password_field,
        &mut rules.password_field,
    );
    field("failure_text", &file.failure_text, &mut rules.failure_text);
    // Endpoints: as written, else the configured path alone, else the demo's spellings.
    match &file.login_endpoints {
        Some(list) => match Endpoints::compile("diary.login_endpoints", list) {
            Ok(e) if e.is_empty() => issues.push((
                "diary.login_endpoints".into(),
                "must name at least one endpoint".into(),
                Some("e.g. [{ path = \"/login\" }]".into()),
            )),
            Ok(e) => rules.login_endpoints = e,
            Err(mut e) => issues.append(&mut e),
        },
        None if explicit_login_path => {
            rules.login_endpoints = Endpoints::paths(&[rules.login_path.as_str()]);
        }
        None => {}
    }
    match &file.logout_endpoints {
        Some(list) => match Endpoints::compile("diary.logout_endpoints", list) {
            Ok(e) => rules.logout_endpoints = e,
            Err(mut e) => issues.append(&mut e),
        },
        None if explicit_logout_path => {
            rules.logout_endpoints = Endpoints::paths(&[rules.logout_path.as_str()]);
        }
        None => {}
    }
    rules.extra_fields = file
        .extra_fields
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(ci) = file.case_insensitive_paths {
        rules.case_insensitive = ci;
    }
    if let Some(roles) = &file.roles {
        rules.role_map.clear();
        for (diary_role, canonical) in roles {
            if crate::identity::Role::parse(canonical).is_some() {
                rules.role_map.push((diary_role.clone(), canonical.clone()));
            } else {
                issues.push((
                    format!("diary.roles.{diary_role}"),
                    format!("{canonical:?} is not a role the gateway knows"),
                    Some(format!(
                        "one of {}",
                        crate::identity::Role::ALL.map(|r| r.as_str()).join(", ")
                    )),
                ));
            }
        }
    }
    let mode = match file.sign_in.as_deref().unwrap_or("form") {
        "form" => SignInMode::Form,
        "header" => match &file.header {
            Some(h) => match header_assertion(h, base_dir) {
                Ok(a) => SignInMode::Header(a),
                Err(mut e) => {
                    issues.append(&mut e);
                    SignInMode::Form
                }
            },
            None => {
                issues.push((
                    "diary.header".into(),
                    "sign_in = \"header\" needs a [diary.header] table".into(),
                    Some("give at least key = \"path/to/key.pem\"".into()),
                ));
                SignInMode::Form
            }
        },
        other => {
            issues.push((
                "diary.sign_in".into(),
                format!("unknown mode {other:?}"),
                Some("\"form\" or \"header\"".into()),
            ));
            SignInMode::Form
        }
    };
    if issues.is_empty() {
        Ok(DiaryConfig {
            mode,
            rules,
            pass_cookies: file.pass_cookies.clone(),
        })
    } else {
        Err(issues)
    }
}

fn probe_rules(p: &ProbeFile) -> Result<ProbeRules, Vec<Issue>> {
    let mut issues: Vec<Issue> = Vec::new();
    let mut rules = ProbeRules::demo();
    if let Some(path) = &p.path {
        if path.starts_with('/') && !path.contains('#') && !path.chars().any(char::is_control) {
            rules.path = path.clone();
        } else {
            issues.push((
                "diary.probe.path".into(),
                format!("{path:?} is not an absolute path"),
                Some("a diary page that needs a session, like \"/api/me\"".into()),
            ));
        }
    }
    let pointer = |key: &str, v: &Option<String>, issues: &mut Vec<Issue>| match v {
        Some(ptr) if ptr.starts_with('/') => Some(ptr.clone()),
        Some(ptr) => {
            issues.push((
                format!("diary.probe.{key}"),
                format!("{ptr:?} is not a JSON pointer"),
                Some("like \"/login\"".into()),
            ));
            None
        }
        None => None,
    };
    match p.format.as_deref().unwrap_or("json") {
        "json" => {
            for (key, set) in [
                ("selector", p.selector.is_some()),
                ("regex", p.regex.is_some()),
            ] {
                if set {
                    issues.push((
                        format!("diary.probe.{key}"),
                        "only for format = \"html\"".into(),
                        None,
                    ));
                }
            }
            let login = pointer("login", &p.login, &mut issues).unwrap_or_else(|| "/login".into());
            rules.format = ProbeFormat::Json {
                login,
                role: pointer("role", &p.role, &mut issues).or(Some("/role".into())),
                name: pointer("name", &p.name, &mut issues).or(Some("/name".into())),
                birth_date: pointer("birth_date", &p.birth_date, &mut issues)
                    .or(Some("/birth_date".into())),
            };
        }
        "html" => {
            for (key, set) in [
                ("login", p.login.is_some()),
                ("role", p.role.is_some()),
                ("name", p.name.is_some()),
                ("birth_date", p.birth_date.is_some()),
            ] {
                if set {
                    issues.push((
                        format!("diary.probe.{key}"),
                        "JSON pointers are for format = \"json\"; an HTML probe names its parts as regex groups".into(),
                        Some("regex = '(?P<role>\\S+) @ (?P<login>\\S+)'".into()),
                    ));
                }
            }
            if let Some(sel) = &p.selector
                && sel.parse::<lol_html::Selector>().is_err()
            {
                issues.push((
                    "diary.probe.selector".into(),
                    format!("{sel:?} is not a CSS selector lol_html supports"),
                    Some("e.g. \"#whoami\" or \"span.user\"".into()),
                ));
            }
            match p.regex.as_deref().map(regex::Regex::new) {
                Some(Ok(re)) if re.capture_names().flatten().any(|n| n == "login") => {
                    rules.format = ProbeFormat::Html {
                        selector: p.selector.clone(),
                        regex: re,
                    };
                }
                Some(Ok(_)) => issues.push((
                    "diary.probe.regex".into(),
                    "has no (?P<login>…) group".into(),
                    Some("e.g. '(?P<role>\\S+) @ (?P<login>\\S+)'".into()),
                )),
                Some(Err(e)) => issues.push(("diary.probe.regex".into(), e.to_string(), None)),
                None => issues.push((
                    "diary.probe.regex".into(),
                    "an HTML probe needs a regex".into(),
                    Some("e.g. '(?P<role>\\S+) @ (?P<login>\\S+)'".into()),
                )),
            }
        }
        other => issues.push((
            "diary.probe.format".into(),
            format!("unknown format {other:?}"),
            Some("\"json\" or \"html\"".into()),
        )),
    }
    if issues.is_empty() {
        Ok(rules)
    } else {
        Err(issues)
    }
}

fn header_assertion(h: &HeaderFile, base_dir: &Path) -> Result<HeaderAssertion, Vec<Issue>> {
    let mut issues = Vec::new();
    let name = h
        .name
        .as_deref()
        .unwrap_or(super::assertion::DEFAULT_HEADER);
    let name = match http::HeaderName::from_bytes(name.as_bytes()) {
        Ok(n) if !name.contains('_') => Some(n),
        _ => {
            issues.push((
                "diary.header.name".into(),
                format!("{name:?} is not a valid header name"),
                Some("letters, digits and '-' only".into()),
            ));
            None
        }
    };
    let alg = match h.alg.as_deref().unwrap_or("EdDSA") {
        "EdDSA" => Some(super::assertion::AssertionAlg::EdDsa),
        "RS256" => Some(super::assertion::AssertionAlg::Rs256),
        other => {
            issues.push((
                "diary.header.alg".into(),
                format!("unsupported algorithm {other:?}"),
                Some("\"EdDSA\" or \"RS256\"".into()),
            ));
            None
        }
    };
    let key = if h.key.is_absolute() {
        h.key.clone()
    } else {
        base_dir.join(&h.key)
    };
    if let (Some(name), Some(alg)) = (name.clone(), alg) {
        let ttl = chrono::TimeDelta::seconds(i64::from(h.ttl_seconds.unwrap_or(60).clamp(5, 600)));
        match super::assertion::Assertions::from_pem_file(&key, alg, name.clone(), ttl) {
            Ok(_) => {
                return if issues.is_empty() {
                    Ok(HeaderAssertion {
                        name,
                        key,
                        alg,
                        ttl,
                    })
                } else {
                    Err(issues)
                };
            }
            Err(e) => issues.push((
                "diary.header.key".into(),
                e.to_string(),
                Some("a PKCS#8 PEM private key of the chosen algorithm".into()),
            )),
        }
    }
    Err(issues)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> DiaryFile {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn defaults_fit_the_demo_diary() {
        let cfg = validate(&DiaryFile::default(), Path::new(".")).unwrap();
        assert_eq!(cfg.mode, SignInMode::Form);
        assert_eq!(cfg.rules.login_path, "/login");
    }

    #[test]
    fn every_problem_is_reported() {
        let f = parse(
            r#"
            sign_in = "header"
            login_path = "login"
            login_field = ""
            role_probe_pointer = "role"
            [probe]
            format = "html"
            regex = "(unclosed"
            [roles]
            "Ученик" = "pupil"
            [header]
            name = "X_Bad"
            key = "/nonexistent.pem"
            alg = "HS256"
            "#,
        );
        let issues = validate(&f, Path::new(".")).unwrap_err();
        let keys: Vec<&str> = issues.iter().map(|i| i.0.as_str()).collect();
        for k in [
            "diary.login_path",
            "diary.login_field",
            "diary.role_probe_pointer",
            "diary.probe.regex",
            "diary.roles.Ученик",
            "diary.header.name",
            "diary.header.alg",
        ] {
            assert!(keys.contains(&k), "{k} missing from {keys:?}");
        }
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<DiaryFile>("login_paht = \"/x\"").is_err());
    }

    #[test]
    fn header_mode_loads_its_key() {
        let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.key"), kp.serialize_pem()).unwrap();
        let f = parse("sign_in = \"header\"\n[header]\nkey = \"a.key\"\n");
        let cfg = validate(&f, dir.path()).unwrap();
        assert!(
            matches!(cfg.mode, SignInMode::Header(ref h) if h.name == "x-esia-gateway-assertion")
        );
    }
}
