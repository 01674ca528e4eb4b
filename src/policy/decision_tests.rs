//! Decisions per phase × session kind × level × role, on seed 004's default policy.

use super::*;
use crate::policy::calendar::{LegacyLogin, Phase};
use crate::policy::default_policy;

const BEFORE: Phase = Phase::BeforeTransition;
const DURING: Phase = Phase::Transition;
const RESTRICTED: Phase = Phase::Cutover(LegacyLogin::Restricted);
const DISABLED: Phase = Phase::Cutover(LegacyLogin::Disabled);

const ANON: SessionView = SessionView::Anonymous;
const LEGACY: SessionView = SessionView::Legacy {
    role: Some(Role::Parent),
};
const UNLINKED: SessionView = SessionView::EsiaUnlinked {
    level: AccountLevel::Confirmed,
};
const LINKED: SessionView = SessionView::EsiaLinked {
    level: AccountLevel::Confirmed,
    role: Some(Role::Parent),
};

fn run(target: &str, s: SessionView, phase: Phase) -> (Decision, Option<String>) {
    let p = default_policy();
    let req = p.canonicalize("GET", target).unwrap();
    let v = decide(&p, &req, &s, phase);
    (v.decision, v.group.map(str::to_string))
}

fn d(target: &str, s: SessionView, phase: Phase) -> Decision {
    run(target, s, phase).0
}

fn deny(r: Reason) -> Decision {
    Decision::Deny(r)
}

#[test]
fn grades_per_phase_and_session() {
    use Decision::{Allow, NeedLogin};
    let table = [
        (BEFORE, ANON, Allow),
        (BEFORE, LEGACY, Allow),
        (BEFORE, UNLINKED, Allow),
        (BEFORE, LINKED, Allow),
        (DURING, ANON, Allow),
        (DURING, LEGACY, Allow),
        (DURING, LINKED, Allow),
        (RESTRICTED, ANON, NeedLogin),
        (RESTRICTED, LEGACY, deny(Reason::LegacySessionAfterCutover)),
        (RESTRICTED, UNLINKED, deny(Reason::EsiaNotLinked)),
        (RESTRICTED, LINKED, Allow),
        (DISABLED, ANON, NeedLogin),
        (DISABLED, LEGACY, deny(Reason::LegacyLoginDisabled)),
        (DISABLED, UNLINKED, deny(Reason::EsiaNotLinked)),
        (DISABLED, LINKED, Allow),
    ];
    for (phase, s, want) in table {
        for t in [
            "/marks",
            "/index.php?module=marks",
            "/stats",
            "/?module=stats",
        ] {
            assert_eq!(d(t, s, phase), want, "{t} {s} {phase}");
        }
    }
    assert_eq!(
        run("/marks", LEGACY, RESTRICTED).1.as_deref(),
        Some("grades")
    );
    assert_eq!(
        run("/stats/x", LEGACY, RESTRICTED).1.as_deref(),
        Some("stats")
    );
}

#[test]
fn other_pages_stay_open_to_legacy_sessions_when_restricted() {
    for t in [
        "/",
        "/homework",
        "/schedule",
        "/index.php?module=homework",
        "/messages",
    ] {
        assert_eq!(d(t, LEGACY, RESTRICTED), Decision::Allow, "{t}");
        // Default-deny as shipped: pages no group names need a session (issue 10).
        assert_eq!(d(t, ANON, RESTRICTED), Decision::NeedLogin, "{t}");
        assert_eq!(run(t, LEGACY, RESTRICTED).1, None, "{t}");
    }
    // The diary's login form stays reachable while legacy logins are.
    for t in ["/login", "/index.php?module=login", "/LOGIN.php"] {
        assert_eq!(d(t, ANON, RESTRICTED), Decision::Allow, "{t}");
    }
}

#[test]
fn disabled_legacy_login_needs_esia_everywhere_but_public_routes() {
    assert_eq!(d("/homework", ANON, DISABLED), Decision::NeedLogin);
    assert_eq!(d("/", LEGACY, DISABLED), deny(Reason::LegacyLoginDisabled));
    assert_eq!(d("/homework", LINKED, DISABLED), Decision::Allow);
    // The default access is `session`: an unlinked ESIA session is sent to link first.
    assert_eq!(
        d("/homework", UNLINKED, DISABLED),
        deny(Reason::EsiaNotLinked)
    );
    for t in ["/static/app.css", "/favicon.ico", "/robots.txt"] {
        assert_eq!(d(t, ANON, DISABLED), Decision::Allow, "{t}");
        assert_eq!(d(t, LEGACY, DISABLED), Decision::Allow, "{t}");
        assert_eq!(run(t, ANON, DISABLED).1.as_deref(), Some("public"), "{t}");
    }
}

#[test]
fn registration_only_via_esia_after_cutover() {
    assert_eq!(
        d("/register", LEGACY, RESTRICTED),
        deny(Reason::RegistrationClosed)
    );
    assert_eq!(
        d("/index.php?module=register", LEGACY, RESTRICTED),
        deny(Reason::RegistrationClosed)
    );
    assert_eq!(d("/register", ANON, RESTRICTED), Decision::NeedLogin);
    assert_eq!(d("/register", UNLINKED, RESTRICTED), Decision::Allow);
    assert_eq!(d("/register", ANON, DURING), Decision::Allow);
    assert_eq!(d("/register", LEGACY, DURING), Decision::Allow);
}

#[test]
fn levels_per_role() {
    let p = default_policy();
    let req = p.canonicalize("GET", "/marks").unwrap();
    for role in Role::ALL {
        for level in AccountLevel::ALL {
            let s = SessionView::EsiaLinked {
                level,
                role: Some(role),
            };
            let need = if role == Role::Student {
                AccountLevel::Simplified
            } else {
                AccountLevel::Confirmed
            };
            let v = decide(&p, &req, &s, RESTRICTED);
            if level >= need {
                assert_eq!(v.decision, Decision::Allow, "{s}");
                assert_eq!(v.required_level, None);
            } else {
                assert_eq!(v.decision, deny(Reason::LevelTooLow), "{s}");
                assert_eq!(v.decision.reason(), Some(Reason::LevelTooLow));
                assert_eq!(v.decision.as_str(), "deny");
                assert_eq!(v.required_level, Some(need), "{s}");
            }
        }
    }
    // Level is enforced on every route that needs a session, not only grades.
    let low = SessionView::EsiaLinked {
        level: AccountLevel::Simplified,
        role: Some(Role::Parent),
    };
    assert_eq!(d("/register", low, RESTRICTED), deny(Reason::LevelTooLow));
    assert_eq!(d("/homework", low, DISABLED), deny(Reason::LevelTooLow));
    assert_eq!(d("/", low, BEFORE), deny(Reason::LevelTooLow));
    assert_eq!(d("/static/a.css", low, RESTRICTED), Decision::Allow); // public stays public
    // Unknown role: the strictest level of the table.
    let unknown = SessionView::EsiaLinked {
        level: AccountLevel::Standard,
        role: None,
    };
    assert_eq!(d("/marks", unknown, RESTRICTED), deny(Reason::LevelTooLow));
}

#[test]
fn ambiguous_protected_parameter_is_treated_as_protected() {
    for t in [
        "/index.php?module=homework&module=marks",
        "/index.php?module=marks&module=homework",
        "/index.php?module[]=marks",
        "/index.php?module.=marks",
        "/index.php?MODULE=homework",
    ] {
        let (dec, group) = run(t, LEGACY, RESTRICTED);
        assert_eq!(dec, deny(Reason::AmbiguousProtectedParameter), "{t}");
        assert!(group.is_some(), "{t}");
        // The linked user is not hurt by the fail-closed reading.
        assert_eq!(d(t, LINKED, RESTRICTED), Decision::Allow, "{t}");
    }
}

#[test]
fn access_kinds_and_closed_routes() {
    use crate::policy::routes::{Access, Matcher, PatternKind, PhaseAccess, RouteGroup};
    let mut p = default_policy();
    let closed = |access, reason| RouteGroup {
        name: "closed".into(),
        priority: 500,
        matchers: vec![Matcher::compile(PatternKind::Prefix, "/admin", vec![])],
        methods: vec![],
        access: PhaseAccess {
            before_transition: access,
            transition: access,
            after_cutover: access,
        },
        public: false,
        deny_reason: reason,
        samples: Vec::new(),
    };
    p.groups.insert(0, closed(Access::Nobody, None));
    let req = p.canonicalize("POST", "/admin/x").unwrap();
    for s in [ANON, LEGACY, UNLINKED, LINKED] {
        assert_eq!(
            decide(&p, &req, &s, BEFORE).decision,
            deny(Reason::RouteClosed),
            "{s}"
        );
    }
    p.groups[0] = closed(Access::Esia, None);
    assert_eq!(
        decide(&p, &req, &LEGACY, DURING).decision,
        deny(Reason::EsiaRequired)
    );
    assert_eq!(
        decide(&p, &req, &UNLINKED, DURING).decision,
        Decision::Allow
    );
    p.groups[0] = closed(Access::Session, Some(Reason::RegistrationClosed));
    assert_eq!(decide(&p, &req, &LEGACY, DURING).decision, Decision::Allow);
    assert_eq!(
        decide(&p, &req, &UNLINKED, DURING).decision,
        deny(Reason::EsiaNotLinked)
    );
    assert_eq!(
        decide(&p, &req, &ANON, DURING).decision,
        Decision::NeedLogin
    );
}

#[test]
fn every_method_is_checked() {
    let p = default_policy();
    for m in [
        "GET", "get", "HEAD", "OPTIONS", "PROPFIND", "POST", "DELETE", "X-ANY",
    ] {
        let req = p.canonicalize(m, "/marks").unwrap();
        assert_eq!(
            decide(&p, &req, &LEGACY, RESTRICTED).decision,
            deny(Reason::LegacySessionAfterCutover),
            "{m}"
        );
    }
}

#[test]
fn reason_names_are_stable_and_unique() {
    let names: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
    assert!(names.contains(&"legacy-session-after-cutover"));
    assert!(names.contains(&"ambiguous-protected-parameter"));
    for r in Reason::ALL {
        assert_eq!(Reason::parse(r.as_str()), Some(r));
        assert!(
            r.as_str()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'-')
        );
    }
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), names.len());
}

#[test]
fn an_ambiguous_reading_cannot_shadow_a_protected_group() {
    use crate::policy::routes::{Access, Matcher, PatternKind, PhaseAccess, RouteGroup};
    let mut p = default_policy();
    // An open group for another module, placed first with a higher priority.
    let homework = RouteGroup {
        name: "homework".into(),
        priority: 1000,
        matchers: vec![Matcher::compile(
            PatternKind::Path,
            "/index.php",
            vec![("module".into(), "homework".into())],
        )],
        methods: vec![],
        access: PhaseAccess {
            before_transition: Access::Any,
            transition: Access::Any,
            after_cutover: Access::Any,
        },
        public: false,
        deny_reason: None,
        samples: Vec::new(),
    };
    p.groups.insert(0, homework);
    for t in [
        "/index.php?module=homework&module=marks",
        "/index.php?module=marks&module=homework",
        "/index.php?module[]=homework",
    ] {
        let req = p.canonicalize("GET", t).unwrap();
        assert_eq!(
            p.match_group(&req).map(|(g, _, _)| g.name.as_str()),
            Some("homework")
        );
        let v = decide(&p, &req, &LEGACY, RESTRICTED);
        assert_eq!(v.decision, deny(Reason::AmbiguousProtectedParameter), "{t}");
        assert_eq!(v.group, Some("grades"), "{t}");
        assert_eq!(
            decide(&p, &req, &ANON, RESTRICTED).decision,
            Decision::NeedLogin,
            "{t}"
        );
        assert_eq!(
            decide(&p, &req, &LINKED, RESTRICTED).decision,
            Decision::Allow,
            "{t}"
        );
    }
    // Unambiguous: priority rules as usual.
    let req = p.canonicalize("GET", "/index.php?module=homework").unwrap();
    let v = decide(&p, &req, &LEGACY, RESTRICTED);
    assert_eq!((v.decision, v.group), (Decision::Allow, Some("homework")));
}

fn msk(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(&format!("{s}+03:00"))
        .unwrap()
        .to_utc()
}

#[test]
fn seed_004_region_through_its_calendar() {
    let p = default_policy();
    let marks = p.canonicalize("GET", "/index.php?module=marks").unwrap();
    let register = p.canonicalize("POST", "/register").unwrap();
    for (at, legacy_marks, legacy_register) in [
        ("2018-08-31T23:59:59", Decision::Allow, Decision::Allow),
        ("2018-09-01T00:00:00", Decision::Allow, Decision::Allow),
        ("2018-12-31T23:59:59", Decision::Allow, Decision::Allow),
        (
            "2019-01-01T00:00:00",
            deny(Reason::LegacySessionAfterCutover),
            deny(Reason::RegistrationClosed),
        ),
    ] {
        let phase = p.phase_at(msk(at));
        assert_eq!(
            decide(&p, &marks, &LEGACY, phase).decision,
            legacy_marks,
            "{at}"
        );
        assert_eq!(
            decide(&p, &register, &LEGACY, phase).decision,
            legacy_register,
            "{at}"
        );
        // The same user after linking is let in.
        assert_eq!(
            decide(&p, &marks, &LINKED, phase).decision,
            Decision::Allow,
            "{at}"
        );
    }
}

#[test]
fn seed_000_region_through_its_calendar() {
    let text = crate::policy::EXAMPLE_TOML
        .replace("transition_from = 2018-09-01", "")
        .replace("esia_only_from = 2019-01-01", "esia_only_from = 2016-01-01")
        .replace(
            "legacy_login = \"restricted\"",
            "legacy_login = \"disabled\"",
        );
    let file: crate::policy::config::PolicyFile = toml::from_str(&text).unwrap();
    let p = crate::policy::config::validate(&file).unwrap();
    let home = p.canonicalize("GET", "/homework").unwrap();
    let before = p.phase_at(msk("2015-12-31T23:59:59"));
    let after = p.phase_at(msk("2016-01-01T00:00:00"));
    assert_eq!(before, Phase::BeforeTransition);
    assert_eq!(after, DISABLED);
    assert_eq!(decide(&p, &home, &LEGACY, before).decision, Decision::Allow);
    assert_eq!(decide(&p, &home, &ANON, before).decision, Decision::Allow);
    assert_eq!(
        decide(&p, &home, &LEGACY, after).decision,
        deny(Reason::LegacyLoginDisabled)
    );
    assert_eq!(
        decide(&p, &home, &ANON, after).decision,
        Decision::NeedLogin
    );
    let student = SessionView::EsiaLinked {
        level: AccountLevel::Simplified,
        role: Some(Role::Student),
    };
    let parent = SessionView::EsiaLinked {
        level: AccountLevel::Simplified,
        role: Some(Role::Parent),
    };
    let marks = p.canonicalize("GET", "/marks").unwrap();
    assert_eq!(
        decide(&p, &marks, &student, after).decision,
        Decision::Allow
    );
    assert_eq!(
        decide(&p, &marks, &parent, after).decision,
        deny(Reason::LevelTooLow)
    );
}
