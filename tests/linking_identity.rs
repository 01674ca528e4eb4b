//! Issue 12 as stories on real sockets: a stolen diary password must not buy a binding.
//! The gateway (TLS, in-process), the ESIA mock with its personas' children, and the
//! REAL demo diary (`parent` = «Иванова Мария Ивановна» with pupil «Иванов Дмитрий
//! Алексеевич» 12.04.2015; `student` = «Петров Алексей Сергеевич» 03.02.2011).
//!
//! - Мария (confirmed), whose ESIA son is the pupil → linked, not flagged.
//! - Сергей (confirmed-2) with `parent`'s right password → refused under `require`
//!   (Russian page, the configured contact, both normalised names audited, no SNILS),
//!   bound and flagged under `warn`; from a legacy session too.
//! - Алексей's own child account (child-2) → `student` linked.
//! - ESIA refuses `/kids` (403) → the name check alone, with an audit note.

mod link_support;
mod store_support;
mod support;

use chrono::TimeDelta;
use esia_gateway::identity::{AccountLevel, Role};
use esia_gateway::link::config::{IdentityCheck, LinkSettings};
use esia_gateway::standins::esia_mock::{Faults, Switch, Times};
use esia_gateway::store::{AuditEvent, AuditKind};
use http::StatusCode;
use link_support::*;

const CHILD2_OID: i64 = 1000299687;
const CONTACT: &str = "Позвоните в службу поддержки дневника: 8-800-000-00-00.";

async fn stand(db: Db, check: IdentityCheck) -> Stand {
    let mut settings = LinkSettings {
        identity_check: check,
        identity_mismatch_contact: Some(CONTACT.into()),
        ..LinkSettings::default()
    };
    // ESIA's child accounts (KD) may sign pupils in.
    settings.levels.set(Role::Student, AccountLevel::Child);
    Stand::start(Options {
        db,
        settings,
        esia_children: true,
        ..Options::default()
    })
    .await
}

async fn audit(stand: &Stand) -> Vec<AuditEvent> {
    stand
        .store
        .list_audit(chrono::Utc::now() - TimeDelta::hours(1), 1000)
        .await
        .unwrap()
}

/// The one identity-check event of the story (a refusal is a `link_failed`).
async fn check_event(stand: &Stand) -> AuditEvent {
    let events: Vec<AuditEvent> = audit(stand)
        .await
        .into_iter()
        .filter(|e| {
            e.kind == AuditKind::Other("identity_check".into())
                || e.detail["reason"] == "identity-mismatch"
        })
        .collect();
    assert_eq!(events.len(), 1, "{events:?}");
    events.into_iter().next().unwrap()
}

async fn flagged(stand: &Stand) -> Vec<i64> {
    let list = stand.store.list_flagged_bindings().await.unwrap();
    list.into_iter().map(|b| b.esia_oid).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_whose_esia_child_is_the_diarys_pupil_is_linked() {
    let stand = stand(Db::Sqlite, IdentityCheck::Require).await;
    let b = stand.browser();
    let linked = stand
        .login_and_link(&b, "confirmed", "parent", "demo")
        .await;
    assert_eq!(location(&linked), "/marks");
    let marks = b.get(&stand.url("/marks")).await.text().await.unwrap();
    assert!(marks.contains(PARENTS_CHILD), "{marks}");
    let binding = stand
        .store
        .bindings_of_oid(CONFIRMED_OID)
        .await
        .unwrap()
        .pop();
    assert_eq!(binding.unwrap().diary_login, "parent");
    assert!(flagged(&stand).await.is_empty());
    let e = check_event(&stand).await;
    assert_eq!(e.detail["outcome"], "match", "{e:?}");
    assert_eq!(
        e.detail["notes"],
        serde_json::json!(["child-match"]),
        "{e:?}"
    );
    // A match records no names.
    assert!(e.detail.get("esia_name").is_none(), "{e:?}");
    b.assert_only_gateway_cookies();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_adult_with_the_parents_password_is_refused_under_require() {
    let stand = stand(Db::Sqlite, IdentityCheck::Require).await;
    let b = stand.browser();
    let refused = stand
        .login_and_link(&b, "confirmed-2", "parent", "demo")
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let page = refused.text().await.unwrap();
    assert!(page.contains("Данные не совпадают"), "{page}");
    assert!(page.contains("привязка не выполнена"), "{page}");
    assert!(page.contains(CONTACT), "the configured contact: {page}");
    assert!(page.contains("identity-mismatch"), "{page}");
    // The stranger is not told whose account it is.
    assert!(!page.to_uppercase().contains("ИВАНОВА"), "{page}");
    assert!(stand.bound_login(CONFIRMED2_OID).await.is_none());
    assert!(stand.bound_to("parent").await.is_none());
    let e = check_event(&stand).await;
    assert_eq!(e.kind, AuditKind::LinkFailed);
    assert_eq!(e.esia_oid, Some(CONFIRMED2_OID));
    assert_eq!(e.diary_login.as_deref(), Some("parent"));
    assert_eq!(e.detail["outcome"], "refused");
    assert_eq!(e.detail["mismatch"], "name-mismatch");
    assert_eq!(e.detail["esia_name"], "ПЕТРОВ СЕРГЕЙ НИКОЛАЕВИЧ");
    assert_eq!(e.detail["diary_name"], "ИВАНОВА МАРИЯ ИВАНОВНА");
    let all = serde_json::to_string(
        &audit(&stand)
            .await
            .iter()
            .map(|e| &e.detail)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    for secret in [
        "123-456-789 64",
        "12345678964",
        "654321",
        "7805",
        "02.11.1979",
        "1979-11-02",
    ] {
        assert!(!all.contains(secret), "{secret} in the audit trail: {all}");
    }
    // Still unlinked: the next page is the link form again.
    let next = b.get(&stand.url("/marks")).await;
    assert!(location(&next).starts_with("/esia/link"));
    // Мария herself links the account afterwards.
    let her = stand.browser();
    let linked = stand
        .login_and_link(&her, "confirmed", "parent", "demo")
        .await;
    assert_eq!(location(&linked), "/marks");
}

async fn another_adult_is_bound_and_flagged_under_warn(db: Db) {
    let stand = stand(db, IdentityCheck::Warn).await;
    let b = stand.browser();
    let linked = stand
        .login_and_link(&b, "confirmed-2", "parent", "demo")
        .await;
    assert_eq!(location(&linked), "/marks");
    let binding = stand
        .store
        .bindings_of_oid(CONFIRMED2_OID)
        .await
        .unwrap()
        .pop();
    assert_eq!(binding.unwrap().diary_login, "parent");
    assert_eq!(flagged(&stand).await, [CONFIRMED2_OID]);
    let e = check_event(&stand).await;
    assert_eq!(e.kind, AuditKind::Other("identity_check".into()));
    assert_eq!(e.detail["outcome"], "flagged");
    assert_eq!(e.detail["mode"], "warn");
    assert_eq!(e.detail["esia_name"], "ПЕТРОВ СЕРГЕЙ НИКОЛАЕВИЧ");
    assert_eq!(e.detail["diary_name"], "ИВАНОВА МАРИЯ ИВАНОВНА");
    let link = audit(&stand)
        .await
        .into_iter()
        .find(|e| e.kind == AuditKind::Link)
        .unwrap();
    assert_eq!(link.detail["flagged"], true);
    // The flag is the operator's to clear.
    assert!(
        stand
            .store
            .set_binding_flagged("parent", false)
            .await
            .unwrap()
    );
    assert!(flagged(&stand).await.is_empty());
    assert!(
        !stand
            .store
            .set_binding_flagged("nobody", true)
            .await
            .unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_adult_is_bound_and_flagged_under_warn_on_sqlite() {
    another_adult_is_bound_and_flagged_under_warn(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_adult_is_bound_and_flagged_under_warn_on_postgres() {
    another_adult_is_bound_and_flagged_under_warn(Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_student_with_his_own_child_account_is_linked() {
    let stand = stand(Db::Sqlite, IdentityCheck::Require).await;
    let b = stand.browser();
    let linked = stand.login_and_link(&b, "child-2", "student", "demo").await;
    assert_eq!(location(&linked), "/marks");
    let binding = stand
        .store
        .bindings_of_oid(CHILD2_OID)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(binding.diary_login, "student");
    assert_eq!(binding.account_level.as_deref(), Some("child"));
    let e = check_event(&stand).await;
    assert_eq!(e.detail["outcome"], "match");
    assert_eq!(e.detail["notes"], serde_json::json!(["birth-date-same"]));
    // His father's account is not the pupil.
    let father = stand.browser();
    let refused = stand
        .login_and_link(&father, "confirmed-2", "student", "demo")
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kids_refused_by_esia_falls_back_to_the_name_check_with_an_audit_note() {
    let stand = stand(Db::Sqlite, IdentityCheck::Require).await;
    stand.mock.set_faults(Faults {
        kids_forbidden: Some(Switch {
            times: Times::Always,
        }),
        ..Faults::default()
    });
    let b = stand.browser();
    let linked = stand
        .login_and_link(&b, "confirmed", "parent", "demo")
        .await;
    assert_eq!(location(&linked), "/marks");
    let e = check_event(&stand).await;
    assert_eq!(e.detail["outcome"], "match");
    assert_eq!(
        e.detail["notes"],
        serde_json::json!(["esia-kids-not-granted: name check only"])
    );
    // The name check still holds without the children.
    let b2 = stand.browser();
    let refused = stand
        .login_and_link(&b2, "confirmed-2", "student", "demo")
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_session_is_not_linked_to_another_persons_esia_account_under_require() {
    let stand = stand(Db::Sqlite, IdentityCheck::Require).await;
    let b = stand.legacy_browser("parent").await;
    let cb = stand.link_from_legacy(&b, "confirmed-2").await;
    assert_eq!(cb.status(), StatusCode::FORBIDDEN);
    assert!(cb.text().await.unwrap().contains(CONTACT));
    assert!(stand.bound_to("parent").await.is_none());
    let e = check_event(&stand).await;
    assert_eq!(e.detail["flow"], "legacy");
    assert_eq!(e.detail["mismatch"], "name-mismatch");
    // The rightful owner links from her own legacy session (another browser: the mock
    // remembers the first browser's ESIA sign-in).
    let her = stand.legacy_browser("parent").await;
    let cb = stand.link_from_legacy(&her, "confirmed").await;
    assert_eq!(location(&cb), "/esia/link/confirm");
    let (_, linked) = stand.answer_link_confirmation(&her, "confirm").await;
    assert_eq!(location(&linked), "/marks");
    let binding = stand
        .store
        .bindings_of_oid(CONFIRMED_OID)
        .await
        .unwrap()
        .pop();
    assert_eq!(binding.unwrap().diary_login, "parent");
}
