use chrono::Utc;

use super::*;
use crate::policy::Role;

fn session(method: &'static str, level: Option<&str>, login: Option<&str>) -> ActiveSession {
    ActiveSession {
        cookie: "c".into(),
        auth_method: method,
        authenticated_at: Utc::now(),
        esia_oid: (method == "esia").then_some(1),
        account_level: level.map(str::to_owned),
        diary_login: login.map(str::to_owned),
        diary_role: Some("parent".into()),
        public_computer: false,
        csrf_token: "t".into(),
        diary_accounts: 1,
    }
}

#[test]
fn sessions_map_to_views_never_granting_more_than_proven() {
    assert_eq!(view_of(None), SessionView::Anonymous);
    assert_eq!(
        view_of(Some(&session("legacy", None, Some("parent")))),
        SessionView::Legacy {
            role: Some(Role::Parent)
        }
    );
    assert_eq!(
        view_of(Some(&session("esia", Some("confirmed"), None))),
        SessionView::EsiaUnlinked {
            level: AccountLevel::Confirmed
        }
    );
    // An unknown level string counts as the weakest level.
    assert_eq!(
        view_of(Some(&session("esia", Some("CONFIRMED"), Some("parent")))),
        SessionView::EsiaLinked {
            level: AccountLevel::Child,
            role: Some(Role::Parent)
        }
    );
}

#[test]
fn absolute_form_is_kept_for_the_canonicaliser_on_http1_only() {
    let r = Request::builder()
        .uri("http://evil.example/marks")
        .body(())
        .unwrap();
    assert_eq!(raw_target(&r), "http://evil.example/marks");
    let r = Request::builder()
        .version(http::Version::HTTP_2)
        .uri("https://localhost/marks?x=1")
        .body(())
        .unwrap();
    assert_eq!(raw_target(&r), "/marks?x=1");
}

#[test]
fn the_target_is_replaced_by_the_canonical_one() {
    let mut r = Request::builder().uri("/x/../MARKS;a=b/").body(()).unwrap();
    set_target(&mut r, "/marks");
    assert_eq!(r.uri(), "/marks");
    let mut r = Request::builder()
        .version(http::Version::HTTP_2)
        .uri("https://localhost/x/../a")
        .body(())
        .unwrap();
    set_target(&mut r, "/a?b=1");
    assert_eq!(r.uri().path_and_query().unwrap(), "/a?b=1");
}

#[tokio::test]
async fn an_esia_sessions_pages_are_not_rewritten_unless_it_has_several_accounts() {
    let c = Cutover::new(CutoverParts {
        config: CutoverConfig::seed_004(),
        clock: crate::clock::ManualClock::new(Utc::now()),
        prefix: "/esia/".into(),
        language: Language::Ru,
        templates: Arc::new(crate::pages::Templates::shipped(&pages::TEMPLATES).unwrap()),
        esia_login: true,
        audit: None,
        metrics: Arc::new(Metrics::new()),
        max_rewrites: 4,
    });
    let linked = SessionView::EsiaLinked {
        level: AccountLevel::Confirmed,
        role: Some(Role::Parent),
    };
    let unlinked = SessionView::EsiaUnlinked {
        level: AccountLevel::Confirmed,
    };
    let legacy = SessionView::Legacy {
        role: Some(Role::Parent),
    };
    for phase in [
        Phase::Transition,
        Phase::Cutover(LegacyLogin::Restricted),
        Phase::Cutover(LegacyLogin::Disabled),
    ] {
        assert!(c.rules_for(phase, &linked).is_empty(), "{phase:?}");
        assert!(c.rules_for(phase, &unlinked).is_empty(), "{phase:?}");
        assert!(!c.rules_for(phase, &SessionView::Anonymous).is_empty());
        assert!(!c.rules_for(phase, &legacy).is_empty(), "{phase:?}");
    }
    // The switcher only for a person with several diary accounts.
    let canonical = c.policy.canonicalize("GET", "/marks").unwrap();
    let one = session("esia", Some("confirmed"), Some("parent"));
    assert!(c.switcher_for(Some(&one), &canonical).is_none());
    let two = ActiveSession {
        diary_accounts: 2,
        ..one
    };
    let switcher = c.switcher_for(Some(&two), &canonical).unwrap();
    assert!(
        switcher
            .html
            .contains("href=\"/esia/accounts?return=%2Fmarks\"")
    );
    assert!(switcher.html.contains("<b>parent</b>"));
    let legacy_two = ActiveSession {
        auth_method: "legacy",
        ..two
    };
    assert!(c.switcher_for(Some(&legacy_two), &canonical).is_none());
}
