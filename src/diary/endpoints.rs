//! The diary's login and logout endpoints as matchers in the route-group language.
//!
//! Why not one path: real diaries sign in and out on several spellings
//! (`/login`, `/login.php`, `/index.php?module=login`, `/Account/LogOn`,
//! `index.php?modfunc=logout&token=…`). A login the gateway does not recognise is a
//! session it does not know about, and a logout it does not see leaves its own session
//! alive, so both are named the way route groups name pages, on the canonical request.
//! A match through an ambiguous parameter counts as a match (fail closed).

use crate::policy::config::MatcherFile;
use crate::policy::routes::PatternKind;
use crate::policy::{CanonConfig, CanonicalRequest, Matcher};

/// A set of endpoints; empty matches nothing.
#[derive(Debug, Clone, Default)]
pub struct Endpoints {
    matchers: Vec<Matcher>,
}

impl Endpoints {
    /// Exact paths, no query conditions (tests, defaults).
    pub fn paths(paths: &[&str]) -> Self {
        Self {
            matchers: paths
                .iter()
                .map(|p| Matcher::compile(PatternKind::Path, &p.to_ascii_lowercase(), Vec::new()))
                .collect(),
        }
    }

    /// `path` with one query condition (`/index.php` + `module=login`).
    pub fn with_query(mut self, path: &str, name: &str, value: &str) -> Self {
        self.matchers.push(Matcher::compile(
            PatternKind::Path,
            &path.to_ascii_lowercase(),
            vec![(name.to_owned(), value.to_owned())],
        ));
        self
    }

    /// Compiles `[diary] login = [...]` / `logout = [...]`.
    pub fn compile(
        at: &str,
        list: &[MatcherFile],
    ) -> Result<Self, Vec<(String, String, Option<String>)>> {
        // Patterns are compared lowercase (see `matches`): a login endpoint must be
        // recognised in every spelling a lenient diary accepts.
        let canon = CanonConfig {
            case_insensitive: true,
            ..CanonConfig::default()
        };
        crate::policy::config::compile_matchers(at, list, &canon)
            .map(|matchers| Self { matchers })
            .map_err(|errs| {
                errs.into_iter()
                    .map(|e| (e.key_path, e.message, e.hint))
                    .collect()
            })
    }

    pub fn is_empty(&self) -> bool {
        self.matchers.is_empty()
    }

    /// The matchers as written, for logs and `check-config`'s summary.
    pub fn sources(&self) -> Vec<&str> {
        self.matchers.iter().map(|m| m.source.as_str()).collect()
    }

    /// Does the request name one of these endpoints? Paths and values compare ignoring
    /// case whatever the policy's setting: recognising too much is safe here, missing a
    /// spelling is not.
    pub fn matches(&self, req: &CanonicalRequest) -> bool {
        self.matching(req, true)
    }

    /// Only a plain, unambiguous match: for logout endpoints, where a request whose
    /// routing parameter is ambiguous must not end anyone's session (the diary reads one
    /// value; a diary logout the gateway misses ends the gateway session on the next
    /// request anyway, when the diary answers "signed out").
    pub fn matches_plainly(&self, req: &CanonicalRequest) -> bool {
        self.matching(req, false)
    }

    fn matching(&self, req: &CanonicalRequest, ambiguous_counts: bool) -> bool {
        if self.matchers.is_empty() {
            return false;
        }
        let cfg = CanonConfig {
            case_insensitive: true,
            value_case_insensitive: true,
            ..CanonConfig::default()
        };
        let lowered;
        let req = if req.path.bytes().any(|b| b.is_ascii_uppercase()) {
            lowered = CanonicalRequest {
                path: req.path.to_lowercase(),
                ..req.clone()
            };
            &lowered
        } else {
            req
        };
        self.matchers.iter().any(|m| match m.matches(req, &cfg) {
            Some(ambiguous) => ambiguous_counts || !ambiguous,
            None => false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::canonicalize;

    fn req(target: &str) -> CanonicalRequest {
        canonicalize("POST", target, &CanonConfig::default()).unwrap()
    }

    #[test]
    fn paths_and_query_conditions_in_any_case() {
        let e =
            Endpoints::paths(&["/login", "/login.php"]).with_query("/index.php", "module", "login");
        for hit in [
            "/login",
            "/LOGIN",
            "/login/",
            "/a/../login",
            "/Login.PHP",
            "/index.php?module=login",
            "/INDEX.php?module=LOGIN&x=1",
            "/index.php?module=login&module=login",
            "/index.php?module[]=login",
            "/index.php?%20module=marks&module=login",
        ] {
            assert!(e.matches(&req(hit)), "{hit}");
        }
        for miss in [
            "/",
            "/logins",
            "/index.php?module=marks",
            "/index.php",
            "/x/login",
        ] {
            assert!(!e.matches(&req(miss)), "{miss}");
        }
        assert!(!Endpoints::default().matches(&req("/login")));
        // Logout: only a plain match.
        let out = Endpoints::paths(&["/logout"]).with_query("/index.php", "module", "logout");
        assert!(out.matches_plainly(&req("/index.php?module=LOGOUT")));
        assert!(!out.matches_plainly(&req("/index.php?module=marks&module=logout")));
        assert!(!out.matches_plainly(&req("/index.php?module=logout&module=marks")));
    }
}
