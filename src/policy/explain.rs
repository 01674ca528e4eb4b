//! `esia-gateway explain`: the same pipeline the proxy runs (canonicalise → phase →
//! decide), for one `METHOD target` typed by an operator, with every step shown. Regional
//! IT uses it before changing a date; a test compares its answers with the proxy's.
//!
//! Exit codes for the CLI: [`Explanation::exit_code`] (0 allow, 1 deny or login needed),
//! and 2 for any [`ExplainError`] (bad input, or a target the gateway answers with 400).

use std::fmt;

use chrono::{DateTime, Utc};

use super::Policy;
use super::calendar::{Calendar, Phase};
use super::canonical::{CanonicalRequest, Reject};
use super::decision::{AccountLevel, Decision, Role, SessionView};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExplainError {
    #[error("expected 'METHOD target', e.g. 'GET /index.php?module=marks'")]
    Syntax,
    #[error("the gateway refuses this target with 400 Bad Request ({})", .0.as_str())]
    Rejected(Reject),
    #[error("bad session: {0}")]
    BadSession(String),
}

/// Reads the CLI's `--session anonymous|legacy|esia|esia-unlinked` with optional
/// `--level child|simplified|standard|confirmed` (ESIA only; default confirmed) and
/// `--role student|parent|…`.
pub fn parse_session(
    kind: &str,
    level: Option<&str>,
    role: Option<&str>,
) -> Result<SessionView, ExplainError> {
    let bad = |m: String| Err(ExplainError::BadSession(m));
    let role = match role.map(|r| (r, Role::parse(r))) {
        None => None,
        Some((_, Some(r))) => Some(r),
        Some((r, None)) => return bad(format!("unknown role {r:?}")),
    };
    let level = match level.map(|l| (l, AccountLevel::parse(l))) {
        None => None,
        Some((_, Some(l))) => Some(l),
        Some((l, None)) => return bad(format!("unknown level {l:?}")),
    };
    let esia_level = level.unwrap_or(AccountLevel::Confirmed);
    match kind {
        "anonymous" if role.is_none() && level.is_none() => Ok(SessionView::Anonymous),
        "legacy" if level.is_none() => Ok(SessionView::Legacy { role }),
        "esia" | "esia-linked" => Ok(SessionView::EsiaLinked {
            level: esia_level,
            role,
        }),
        "esia-unlinked" if role.is_none() => Ok(SessionView::EsiaUnlinked { level: esia_level }),
        "anonymous" | "legacy" | "esia-unlinked" => {
            bad(format!("--level/--role do not apply to a {kind} session"))
        }
        other => bad(format!(
            "unknown session kind {other:?} (anonymous, legacy, esia, esia-unlinked)"
        )),
    }
}

/// Every step of one decision, for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// The input as typed.
    pub request: String,
    pub canonical: CanonicalRequest,
    /// The path the matchers compared: lowercased when case-insensitive, and only the
    /// script in PHP mode when PATH_INFO follows it.
    pub matched_path: String,
    /// PHP mode cut PATH_INFO off for matching.
    pub php_script: bool,
    pub group: Option<String>,
    pub matcher: Option<String>,
    pub ambiguous: bool,
    pub at: DateTime<Utc>,
    pub phase: Phase,
    pub next_change: Option<DateTime<Utc>>,
    pub time_zone: chrono_tz::Tz,
    pub session: SessionView,
    pub decision: Decision,
    pub required_level: Option<AccountLevel>,
}

impl Explanation {
    pub fn exit_code(&self) -> i32 {
        match self.decision {
            Decision::Allow => 0,
            Decision::NeedLogin | Decision::Deny(_) => 1,
        }
    }
}

/// Explains `method_and_target` (`GET /index.php?module=marks`) for `session` at `at`.
pub fn explain(
    policy: &Policy,
    calendar: &Calendar,
    at: DateTime<Utc>,
    session: &SessionView,
    method_and_target: &str,
) -> Result<Explanation, ExplainError> {
    explain_with(policy, calendar, at, session, method_and_target, |_| false)
}

/// [`explain`] knowing which requests are browser logins on the diary's login
/// endpoints (the config's `[diary] login_endpoints`), as the running gateway knows.
pub fn explain_with(
    policy: &Policy,
    calendar: &Calendar,
    at: DateTime<Utc>,
    session: &SessionView,
    method_and_target: &str,
    is_login_endpoint: impl Fn(&CanonicalRequest) -> bool,
) -> Result<Explanation, ExplainError> {
    let mut words = method_and_target.split_whitespace();
    let (Some(method), Some(target), None) = (words.next(), words.next(), words.next()) else {
        return Err(ExplainError::Syntax);
    };
    let canonical = policy
        .canonicalize(method, target)
        .map_err(ExplainError::Rejected)?;
    let phase = calendar.phase_at(at);
    let legacy_login = canonical.method == http::Method::POST && is_login_endpoint(&canonical);
    let verdict = super::decide_login(policy, &canonical, session, phase, legacy_login);
    let matched_path = canonical.match_path(&policy.canon).to_string();
    Ok(Explanation {
        php_script: matched_path != canonical.path,
        matched_path,
        request: method_and_target.trim().to_string(),
        group: verdict.group.map(str::to_string),
        matcher: verdict.matcher.map(str::to_string),
        ambiguous: verdict.ambiguous,
        decision: verdict.decision,
        required_level: verdict.required_level,
        canonical,
        at,
        phase,
        next_change: calendar.next_change_after(at),
        time_zone: calendar.time_zone,
        session: *session,
    })
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let local = |t: DateTime<Utc>| {
            t.with_timezone(&self.time_zone)
                .format("%Y-%m-%d %H:%M:%S %Z")
        };
        writeln!(f, "request:    {}", self.request)?;
        writeln!(
            f,
            "canonical:  {} {}",
            self.canonical.method, self.canonical.forward_target
        )?;
        if self.php_script {
            let info = self
                .canonical
                .path
                .get(self.matched_path.len()..)
                .unwrap_or("");
            writeln!(
                f,
                "matched as: {} (PHP script; PATH_INFO {info} is not matched)",
                self.matched_path
            )?;
        } else if self.canonical.forward_target.split('?').next() != Some(&self.matched_path) {
            writeln!(f, "matched as: {}", self.matched_path)?;
        }
        match (&self.group, &self.matcher) {
            (Some(g), Some(m)) => writeln!(f, "group:      {g} (matched by {m})")?,
            (Some(g), None) => writeln!(f, "group:      {g}")?,
            _ => writeln!(f, "group:      (none: default access)")?,
        }
        if self.ambiguous {
            writeln!(
                f,
                "note:       a protected parameter was sent ambiguously; treated as protected"
            )?;
        }
        writeln!(f, "at:         {}", local(self.at))?;
        write!(f, "phase:      {}", self.phase)?;
        if let Some(next) = self.next_change {
            write!(f, " (changes at {})", local(next))?;
        }
        writeln!(f)?;
        writeln!(f, "session:    {}", self.session)?;
        write!(f, "decision:   {}", self.decision)?;
        if let Some(l) = self.required_level {
            write!(f, "; the role needs a {} account", l.as_str())?;
        }
        writeln!(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Reason, default_policy};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn explains_a_denied_grade_request() {
        let p = default_policy();
        let legacy = SessionView::Legacy {
            role: Some(Role::Parent),
        };
        let e = explain(
            &p,
            &p.calendar,
            at("2019-02-01T12:00:00+03:00"),
            &legacy,
            "get /INDEX.php?mod%75le=marks",
        )
        .unwrap();
        assert_eq!(e.group.as_deref(), Some("grades"));
        assert_eq!(
            e.decision,
            Decision::Deny(Reason::LegacySessionAfterCutover)
        );
        assert_eq!(e.exit_code(), 1);
        let text = e.to_string();
        assert!(
            text.contains("canonical:  GET /INDEX.php?module=marks"),
            "{text}"
        );
        assert!(text.contains("matched as: /index.php\n"), "{text}");
        assert!(text.contains("phase:      cutover-restricted"), "{text}");
        assert!(
            text.contains("deny (legacy-session-after-cutover)"),
            "{text}"
        );
    }

    #[test]
    fn explains_php_path_info() {
        let p = default_policy();
        let legacy = SessionView::Legacy { role: None };
        let now = at("2019-02-01T12:00:00+03:00");
        let e = explain(
            &p,
            &p.calendar,
            now,
            &legacy,
            "GET /Index.php/x.css?module=marks",
        )
        .unwrap();
        assert!(e.php_script);
        assert_eq!(e.matched_path, "/index.php");
        assert_eq!(e.group.as_deref(), Some("grades"));
        let text = e.to_string();
        assert!(
            text.contains("canonical:  GET /Index.php/x.css?module=marks"),
            "{text}"
        );
        assert!(
            text.contains("matched as: /index.php (PHP script; PATH_INFO /x.css is not matched)"),
            "{text}"
        );
        let plain = explain(&p, &p.calendar, now, &legacy, "GET /marks").unwrap();
        assert!(!plain.to_string().contains("matched as"), "{plain}");
    }

    #[test]
    fn explains_allow_and_the_next_change() {
        let p = default_policy();
        let legacy = SessionView::Legacy { role: None };
        let e = explain(
            &p,
            &p.calendar,
            at("2018-10-01T12:00:00+03:00"),
            &legacy,
            "GET /marks",
        )
        .unwrap();
        assert_eq!(e.decision, Decision::Allow);
        assert_eq!(e.exit_code(), 0);
        assert!(
            e.to_string().contains("changes at 2019-01-01 00:00:00 MSK"),
            "{e}"
        );
    }

    #[test]
    fn explains_level_too_low() {
        let p = default_policy();
        let s = SessionView::EsiaLinked {
            level: AccountLevel::Simplified,
            role: Some(Role::Teacher),
        };
        let e = explain(
            &p,
            &p.calendar,
            at("2019-02-01T12:00:00+03:00"),
            &s,
            "GET /marks",
        )
        .unwrap();
        assert_eq!(e.decision, Decision::Deny(Reason::LevelTooLow));
        assert!(e.to_string().contains("needs a confirmed account"), "{e}");
    }

    #[test]
    fn sessions_from_the_cli() {
        assert_eq!(
            parse_session("anonymous", None, None),
            Ok(SessionView::Anonymous)
        );
        assert_eq!(
            parse_session("legacy", None, Some("parent")),
            Ok(SessionView::Legacy {
                role: Some(Role::Parent)
            })
        );
        assert_eq!(
            parse_session("esia", Some("simplified"), Some("student")),
            Ok(SessionView::EsiaLinked {
                level: AccountLevel::Simplified,
                role: Some(Role::Student)
            })
        );
        assert_eq!(
            parse_session("esia-unlinked", None, None),
            Ok(SessionView::EsiaUnlinked {
                level: AccountLevel::Confirmed
            })
        );
        for (kind, level, role) in [
            ("root", None, None),
            ("legacy", Some("confirmed"), None),
            ("anonymous", None, Some("parent")),
            ("esia", Some("gold"), None),
            ("esia", None, Some("janitor")),
            ("esia-unlinked", None, Some("parent")),
        ] {
            assert!(
                matches!(
                    parse_session(kind, level, role),
                    Err(ExplainError::BadSession(_))
                ),
                "{kind} {level:?} {role:?}"
            );
        }
    }

    #[test]
    fn bad_input_is_an_error() {
        let p = default_policy();
        let s = SessionView::Anonymous;
        let now = at("2019-02-01T12:00:00+03:00");
        assert_eq!(
            explain(&p, &p.calendar, now, &s, ""),
            Err(ExplainError::Syntax)
        );
        assert_eq!(
            explain(&p, &p.calendar, now, &s, "/marks"),
            Err(ExplainError::Syntax)
        );
        assert_eq!(
            explain(&p, &p.calendar, now, &s, "GET /a b"),
            Err(ExplainError::Syntax)
        );
        assert_eq!(
            explain(&p, &p.calendar, now, &s, "GET /x%2Fmarks"),
            Err(ExplainError::Rejected(Reject::EncodedSlash))
        );
    }
}
