//! Second layer: file structs → runtime types. Each section has one validator that reads
//! its file struct, pushes every problem into the shared [`Ctx`], and returns the runtime
//! value only when its section is sound. Cross-section rules run after all sections.
//!
//! Adding a section: one call in [`validate`] and one field in the final struct.

use std::path::{Path, PathBuf};

use super::errors::Location;
use super::file::FileConfig;
use super::source::{Segment, Want};
use super::{GatewayConfig, pages, sections, tls_files};
use crate::link::config as link;
use crate::login::config as auth;

/// A problem found by a validator, located later from its key path.
#[derive(Debug, Clone)]
pub struct Problem {
    pub path: Vec<Segment>,
    pub want: Want,
    pub message: String,
    pub hint: Option<String>,
    /// Where the problem is when it is not in the config file (a page template).
    pub at: Option<Location>,
}

/// What validators share: where relative paths start, and the error list.
pub struct Ctx {
    base_dir: PathBuf,
    problems: Vec<Problem>,
}

impl Ctx {
    pub fn new(base_dir: &Path) -> Self {
        Self {
            base_dir: base_dir.to_path_buf(),
            problems: Vec::new(),
        }
    }

    /// Records a problem with the value at `path` (`"upstream.url"`, `"a[2].b"`).
    pub fn error(&mut self, path: &str, message: impl Into<String>, hint: Option<&str>) {
        self.problems.push(Problem {
            path: parse_path(path),
            want: Want::Value,
            message: message.into(),
            hint: hint.map(str::to_string),
            at: None,
        });
    }

    /// Records a problem in another file the config names, located there.
    pub fn error_at(&mut self, at: Location, message: impl Into<String>, hint: Option<&str>) {
        self.problems.push(Problem {
            path: Vec::new(),
            want: Want::Value,
            message: message.into(),
            hint: hint.map(str::to_string),
            at: Some(at),
        });
    }

    /// The value of a required key, or a "missing" problem located at its table.
    pub fn required<'a, T>(
        &mut self,
        value: &'a Option<T>,
        path: &str,
        hint: &str,
    ) -> Option<&'a T> {
        if value.is_none() {
            self.error(path, "required key is missing", Some(hint));
        }
        value.as_ref()
    }

    /// A path from the file, relative to the config file's directory.
    pub fn resolve(&self, path: &str) -> PathBuf {
        let p = Path::new(path);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }

    /// The directory relative paths start at, for section validators that take it.
    pub fn base_dir(&self) -> &Path {
        &self.base_dir
    }

    /// Adopts the result of a section validator that returns its own problem list as
    /// `(key below the section, message, hint)`, e.g. `[diary]`:
    /// `let diary = cx.section("diary", diary::config::validate(&file.diary, cx.base_dir()));`
    pub fn section<T>(
        &mut self,
        section: &str,
        result: Result<T, Vec<(String, String, Option<String>)>>,
    ) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(issues) => {
                for (key, message, hint) in issues {
                    let path = if key.is_empty() {
                        section.to_string()
                    } else {
                        format!("{section}.{key}")
                    };
                    self.error(&path, message, hint.as_deref());
                }
                None
            }
        }
    }

    pub fn has_problems(&self) -> bool {
        !self.problems.is_empty()
    }

    pub fn into_problems(self) -> Vec<Problem> {
        self.problems
    }
}

/// The signer's program and key must exist (their paths are resolved by then).
fn signer_files(
    esia: crate::esia::EsiaConfig,
) -> Result<crate::esia::EsiaConfig, Vec<(String, String, Option<String>)>> {
    let problems = crate::esia::config::check_signer_files(&esia.signer);
    if problems.is_empty() {
        return Ok(esia);
    }
    Err(problems
        .into_iter()
        .map(|(k, m, h)| {
            let key = k.strip_prefix("esia.").map(str::to_owned).unwrap_or(k);
            (key, m, Some(h))
        })
        .collect())
}

/// Parses `a.b[2].c` into segments (our keys never contain `.` or `[`).
pub fn parse_path(path: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let mut pieces = part.split('[');
        if let Some(key) = pieces.next().filter(|k| !k.is_empty()) {
            out.push(Segment::Key(key.to_string()));
        }
        for idx in pieces {
            if let Ok(i) = idx.trim_end_matches(']').parse() {
                out.push(Segment::Index(i));
            }
        }
    }
    out
}

/// Validates every section, then the rules that span sections. `Some` only when nothing
/// was wrong; otherwise the problems are in `cx`.
pub fn validate(file: &FileConfig, cx: &mut Ctx) -> Option<GatewayConfig> {
    let listen = sections::listen(&file.listen, cx);
    let tls = tls_files::tls(&file.tls, cx);
    let upstream = sections::upstream(&file.upstream, cx);
    let forwarding = sections::forwarding(&file.forwarding, cx);
    let limits = sections::limits(&file.limits, cx);
    let timeouts = sections::timeouts(&file.timeouts, cx);
    let log = sections::log(&file.log, cx);
    let base = cx.base_dir().to_path_buf();
    let esia = match &file.esia {
        Some(f) => cx
            .section("esia", auth::validate_esia(f, &base).and_then(signer_files))
            .map(Some),
        None => Some(None),
    };
    let login = cx.section("login", auth::validate_login(&file.login));
    let session = cx.section("session", auth::validate_session(&file.session));
    let store = cx.section("store", auth::validate_store(&file.store, &base));
    let cutover = match crate::cutover::config::validate(&crate::cutover::config::PolicySections {
        calendar: &file.calendar,
        canonical: &file.canonical,
        roles: &file.roles,
        default_route: &file.default_route,
        route_group: &file.route_group,
        banner: &file.banner,
    }) {
        Ok(c) => Some(c),
        // Policy key paths are already rooted at the file (`route_group[1].match[0]`).
        Err(issues) => {
            for (key, message, hint) in issues {
                cx.error(&key, message, hint.as_deref());
            }
            None
        }
    };
    let diary = cx.section("diary", link::validate_diary(&file.diary, &base));
    let vault = match &file.vault {
        Some(f) => cx
            .section("vault", link::validate_vault(f, &base))
            .map(Some),
        None => Some(None),
    };
    let mut linking = cx.section("linking", link::validate_linking(&file.linking));
    let audit = cx.section("audit", super::audit::validate_audit(&file.audit));
    // The templates are rendered through the login pages, with their prefix.
    let prefix = login.as_ref().map(|l| l.prefix.as_str());
    let pages = pages::validate(&file.pages, prefix, cx);
    // One role → level table: `[roles.min_level]`, for the policy and for linking.
    let roles = match crate::policy::config::role_levels(file.roles.as_ref()) {
        Ok(levels) => Some(levels),
        Err(errors) => {
            // With a calendar the policy validation above reported them already.
            if file.calendar.is_none() && file.route_group.is_none() {
                for e in errors {
                    cx.error(&e.key_path, e.message, e.hint.as_deref());
                }
            }
            None
        }
    };
    if let (Some(l), Some(levels)) = (linking.as_mut(), roles) {
        l.levels = levels;
    }

    let config = GatewayConfig {
        listen: listen?,
        tls: tls?,
        upstream: upstream?,
        forwarding: forwarding?,
        limits: limits?,
        timeouts: timeouts?,
        pages: pages?,
        log: log?,
        esia: esia?,
        login: login?,
        session: session?,
        store: store?,
        cutover: cutover?,
        diary: diary?,
        vault: vault?,
        linking: linking?,
        audit: audit?,
        source_sha256: None,
    };
    sections::cross_checks(&config, cx);
    tls_files::covers_public_url(&config, cx);
    (!cx.has_problems()).then_some(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_back() {
        assert_eq!(
            parse_path("route_group[2].paths[0]"),
            vec![
                Segment::Key("route_group".into()),
                Segment::Index(2),
                Segment::Key("paths".into()),
                Segment::Index(0),
            ]
        );
        assert_eq!(parse_path("upstream.url").len(), 2);
        assert!(parse_path("").is_empty());
    }

    #[test]
    fn relative_paths_start_at_the_config_dir() {
        let cx = Ctx::new(Path::new("/etc/esia-gateway"));
        assert_eq!(
            cx.resolve("certs/gateway.pem"),
            Path::new("/etc/esia-gateway/certs/gateway.pem")
        );
        assert_eq!(cx.resolve("/abs/x.pem"), Path::new("/abs/x.pem"));
    }

    #[test]
    fn section_results_are_adopted_with_their_prefix() {
        let mut cx = Ctx::new(Path::new(""));
        assert_eq!(cx.section::<u8>("diary", Ok(7)), Some(7));
        assert!(!cx.has_problems());
        let issues = vec![
            (
                "login_path".into(),
                "must start with /".into(),
                Some("\"/login\"".into()),
            ),
            (String::new(), "whole section".into(), None),
        ];
        assert_eq!(cx.section::<u8>("diary", Err(issues)), None);
        let problems = cx.into_problems();
        assert_eq!(problems.len(), 2);
        assert_eq!(problems[0].path, parse_path("diary.login_path"));
        assert_eq!(problems[1].path, parse_path("diary"));
    }
}
