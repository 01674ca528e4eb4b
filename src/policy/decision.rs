//! The one decision: may this session, in this phase, get this canonical request?
//!
//! "Not signed in" ([`Decision::NeedLogin`]) is kept apart from "signed in but not
//! allowed" ([`Decision::Deny`]) so the proxy can send the first to the ESIA start page
//! and answer the second with a page that explains the [`Reason`]. Reason names are
//! stable: they appear in logs, metrics, audit events, pages and `explain`.
//!
//! Order of evaluation (first that applies wins):
//! 1. the matched group (highest priority) or the default access; a `public` group
//!    allows everyone in every phase;
//! 2. an ESIA-linked session below its role's minimum level → `level-too-low`, on every
//!    route (the account level gates the whole diary, DESIGN §3 flow 6);
//! 3. after the cutover with `legacy_login = "disabled"`: anonymous → NeedLogin, a
//!    legacy session → `legacy-login-disabled`, whatever the route;
//! 4. the group's access for the phase;
//! 5. a refusal caused by an ambiguous protected parameter cites
//!    `ambiguous-protected-parameter`; otherwise a group's own `deny_reason` (e.g.
//!    `registration-closed`) replaces the generic legacy/closed reasons.

use std::fmt;

use super::Policy;
use super::calendar::{LegacyLogin, Phase};
use super::canonical::CanonicalRequest;
use super::routes::{Access, Matcher, RouteGroup};

pub use crate::identity::{AccountLevel, Role, RoleLevels};

/// What the decision needs to know about the browser's session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionView {
    Anonymous,
    /// Signed in with the diary password through the gateway.
    Legacy {
        role: Option<Role>,
    },
    /// Signed in with ESIA, no binding to a diary account yet.
    EsiaUnlinked {
        level: AccountLevel,
    },
    EsiaLinked {
        level: AccountLevel,
        role: Option<Role>,
    },
}

impl SessionView {
    pub fn kind(&self) -> &'static str {
        match self {
            SessionView::Anonymous => "anonymous",
            SessionView::Legacy { .. } => "legacy",
            SessionView::EsiaUnlinked { .. } => "esia-unlinked",
            SessionView::EsiaLinked { .. } => "esia-linked",
        }
    }
}

impl fmt::Display for SessionView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind())?;
        let (level, role) = match *self {
            SessionView::Anonymous => (None, None),
            SessionView::Legacy { role } => (None, role),
            SessionView::EsiaUnlinked { level } => (Some(level), None),
            SessionView::EsiaLinked { level, role } => (Some(level), role),
        };
        if let Some(l) = level {
            write!(f, ", level {}", l.as_str())?;
        }
        if let Some(r) = role {
            write!(f, ", role {}", r.as_str())?;
        }
        Ok(())
    }
}

/// Why a request was refused. Stable kebab-case names via [`Reason::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// A legacy-only session asked for a group closed to it after the cutover.
    LegacySessionAfterCutover,
    /// Legacy login is disabled after the cutover; the legacy session is not honoured.
    LegacyLoginDisabled,
    /// The group needs an ESIA session in this phase (before the cutover).
    EsiaRequired,
    /// ESIA session without a binding to a diary account.
    EsiaNotLinked,
    /// The ESIA account level is below the role's minimum.
    LevelTooLow,
    /// New users only via ESIA (seed 004).
    RegistrationClosed,
    /// The group is closed to everyone in this phase.
    RouteClosed,
    /// A protected parameter was sent twice / as an array / in another spelling.
    AmbiguousProtectedParameter,
    /// A group's own text (`deny_reason = "…"`), in place of the generic legacy/closed
    /// reasons; its stable name is `group-<group name>`.
    Custom(&'static DenyText),
}

/// An operator's words for a group's refusals. Interned for the life of the process so
/// that [`Reason`] stays `Copy`: loading the same config again allocates nothing new.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DenyText {
    /// `group-<name>`: the stable name in logs, metrics, audit and the page.
    pub code: String,
    pub ru: String,
    pub en: String,
}

impl DenyText {
    /// The one shared copy of this text.
    pub fn intern(code: &str, ru: &str, en: &str) -> &'static DenyText {
        static TEXTS: std::sync::Mutex<Vec<&'static DenyText>> = std::sync::Mutex::new(Vec::new());
        let wanted = DenyText {
            code: code.to_string(),
            ru: ru.to_string(),
            en: en.to_string(),
        };
        let mut texts = TEXTS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(t) = texts.iter().find(|t| ***t == wanted) {
            return t;
        }
        let leaked: &'static DenyText = Box::leak(Box::new(wanted));
        texts.push(leaked);
        leaked
    }
}

impl Reason {
    pub const ALL: [Reason; 8] = [
        Reason::LegacySessionAfterCutover,
        Reason::LegacyLoginDisabled,
        Reason::EsiaRequired,
        Reason::EsiaNotLinked,
        Reason::LevelTooLow,
        Reason::RegistrationClosed,
        Reason::RouteClosed,
        Reason::AmbiguousProtectedParameter,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::LegacySessionAfterCutover => "legacy-session-after-cutover",
            Reason::LegacyLoginDisabled => "legacy-login-disabled",
            Reason::EsiaRequired => "esia-required",
            Reason::EsiaNotLinked => "esia-not-linked",
            Reason::LevelTooLow => "level-too-low",
            Reason::RegistrationClosed => "registration-closed",
            Reason::RouteClosed => "route-closed",
            Reason::AmbiguousProtectedParameter => "ambiguous-protected-parameter",
            Reason::Custom(t) => t.code.as_str(),
        }
    }

    /// A built-in reason by its name (never a [`Reason::Custom`]).
    pub fn parse(s: &str) -> Option<Self> {
        Reason::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Not signed in where a session is needed: send to the ESIA start page.
    NeedLogin,
    Deny(Reason),
}

impl Decision {
    /// `allow`, `need-login` or `deny`: a metrics label.
    pub fn as_str(&self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::NeedLogin => "need-login",
            Decision::Deny(_) => "deny",
        }
    }

    pub fn reason(&self) -> Option<Reason> {
        match self {
            Decision::Deny(r) => Some(*r),
            _ => None,
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decision::Allow => f.write_str("allow"),
            Decision::NeedLogin => f.write_str("need-login"),
            Decision::Deny(r) => write!(f, "deny ({r})"),
        }
    }
}

/// The decision and what led to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict<'p> {
    pub decision: Decision,
    /// The matched group; `None` means the default access applied.
    pub group: Option<&'p str>,
    /// The matcher that matched, as written in the config.
    pub matcher: Option<&'p str>,
    /// A query condition was met only through an ambiguous parameter.
    pub ambiguous: bool,
    /// For `level-too-low`: the level the role needs.
    pub required_level: Option<AccountLevel>,
}

/// Decides one request. Normally the highest-priority matching group rules; when a
/// protected parameter was sent ambiguously, every group the request could belong to is
/// evaluated and the strictest answer wins (Deny over NeedLogin over Allow), so an
/// ambiguous reading can never shadow a protected group.
pub fn decide<'p>(
    policy: &'p Policy,
    req: &CanonicalRequest,
    session: &SessionView,
    phase: Phase,
) -> Verdict<'p> {
    let hits = policy.matching_groups(req);
    if !hits.iter().any(|(_, _, ambiguous)| *ambiguous) {
        return decide_in(policy, hits.first().copied(), session, phase);
    }
    let strictness = |d: &Decision| match d {
        Decision::Deny(_) => 2,
        Decision::NeedLogin => 1,
        Decision::Allow => 0,
    };
    let mut best: Option<Verdict<'p>> = None;
    for hit in hits {
        let v = decide_in(policy, Some(hit), session, phase);
        if best
            .as_ref()
            .is_none_or(|b| strictness(&v.decision) > strictness(&b.decision))
        {
            best = Some(v);
        }
    }
    best.unwrap_or_else(|| decide_in(policy, None, session, phase))
}

/// [`decide`] for a request the pipeline recognised as a browser login on one of the
/// diary's login endpoints (`legacy_login`): after a `disabled` cutover the password
/// form is closed to anyone who is not already an ESIA session, whatever the route
/// groups say. A policy decision, so `explain` shows it like any other.
pub fn decide_login<'p>(
    policy: &'p Policy,
    req: &CanonicalRequest,
    session: &SessionView,
    phase: Phase,
    legacy_login: bool,
) -> Verdict<'p> {
    let closed = legacy_login
        && phase == Phase::Cutover(super::LegacyLogin::Disabled)
        && matches!(session, SessionView::Anonymous | SessionView::Legacy { .. });
    if closed {
        return Verdict {
            decision: Decision::Deny(Reason::LegacyLoginDisabled),
            group: None,
            matcher: Some("[diary] login_endpoints"),
            ambiguous: false,
            required_level: None,
        };
    }
    decide(policy, req, session, phase)
}

/// The decision within one matched group (or the default access when `None`).
fn decide_in<'p>(
    policy: &'p Policy,
    hit: Option<(&'p RouteGroup, &'p Matcher, bool)>,
    session: &SessionView,
    phase: Phase,
) -> Verdict<'p> {
    let mut verdict = Verdict {
        decision: Decision::Allow,
        group: hit.map(|(g, _, _)| g.name.as_str()),
        matcher: hit.map(|(_, m, _)| m.source.as_str()),
        ambiguous: hit.is_some_and(|(_, _, amb)| amb),
        required_level: None,
    };
    if hit.is_some_and(|(g, _, _)| g.public) {
        return verdict;
    }
    // An ESIA account below its role's level gets no diary access at all (flow 6).
    if let SessionView::EsiaLinked { level, role } = *session {
        let need = policy.roles.min_level(role);
        if level < need {
            verdict.decision = Decision::Deny(Reason::LevelTooLow);
            verdict.required_level = Some(need);
            return verdict;
        }
    }
    if phase == Phase::Cutover(LegacyLogin::Disabled) {
        match session {
            SessionView::Anonymous => {
                verdict.decision = Decision::NeedLogin;
                return verdict;
            }
            SessionView::Legacy { .. } => {
                verdict.decision = Decision::Deny(Reason::LegacyLoginDisabled);
                return verdict;
            }
            _ => {}
        }
    }
    let access = hit.map_or(policy.default_access, |(g, _, _)| g.access);
    let access = match phase {
        Phase::BeforeTransition => access.before_transition,
        Phase::Transition => access.transition,
        Phase::Cutover(_) => access.after_cutover,
    };
    let legacy_reason = match phase {
        Phase::Cutover(_) => Reason::LegacySessionAfterCutover,
        _ => Reason::EsiaRequired,
    };
    use SessionView as S;
    let decision = match (access, *session) {
        (Access::Any, _) => Decision::Allow,
        (Access::Nobody, _) => Decision::Deny(Reason::RouteClosed),
        (_, S::Anonymous) => Decision::NeedLogin,
        (Access::Session, S::Legacy { .. }) => Decision::Allow,
        (Access::Esia | Access::EsiaLinked, S::Legacy { .. }) => Decision::Deny(legacy_reason),
        (Access::Esia, S::EsiaUnlinked { .. }) => Decision::Allow,
        (Access::Session | Access::EsiaLinked, S::EsiaUnlinked { .. }) => {
            Decision::Deny(Reason::EsiaNotLinked)
        }
        // The level was checked above.
        (_, S::EsiaLinked { .. }) => Decision::Allow,
    };
    verdict.decision = match decision {
        Decision::Deny(
            Reason::LegacySessionAfterCutover | Reason::EsiaRequired | Reason::RouteClosed,
        ) if verdict.ambiguous => Decision::Deny(Reason::AmbiguousProtectedParameter),
        Decision::Deny(
            r @ (Reason::LegacySessionAfterCutover | Reason::EsiaRequired | Reason::RouteClosed),
        ) => Decision::Deny(hit.and_then(|(g, _, _)| g.deny_reason).unwrap_or(r)),
        d => d,
    };
    verdict
}

#[cfg(test)]
#[path = "decision_tests.rs"]
mod tests;
