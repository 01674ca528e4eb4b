//! Issue 15 point 8 as stories on real sockets: a parent with children in two schools
//! holds two diary accounts and one Госуслуги account. Both are linked, the person
//! picks one after each ESIA login, switches with «Сменить» on the diary's pages, and
//! nobody else can pick them. The gateway (TLS), the ESIA mock and the REAL demo
//! diary (`parent` is Дмитрий's, `parent2` Анна's account of the same mother), on
//! SQLite and PostgreSQL.

mod link_support;
#[macro_use]
mod store_support;
mod support;

use esia_gateway::clock::ManualClock;
use esia_gateway::cutover::CutoverConfig;
use esia_gateway::link::config::LinkSettings;
use esia_gateway::store::{AuditEvent, AuditKind};
use http::StatusCode;
use link_support::*;

on_both_stores!(
    a_parent_links_two_diary_accounts_and_picks_one_after_each_login,
    nobody_picks_an_account_their_esia_account_does_not_hold,
    a_diary_account_still_belongs_to_one_esia_account,
    the_cap_on_diary_accounts_refuses_one_more,
    a_password_session_adds_its_account_to_a_linked_person,
    unbinding_one_account_leaves_the_other_signed_in,
    a_stale_account_picked_on_the_chooser_asks_for_its_password_once,
);

const SECOND_CHILD: &str = "Иванова Анна Алексеевна";

/// During the transition (2018-10-01, seed 004's calendar), the ESIA children scope on.
async fn stand_with(db: Db, settings: LinkSettings) -> Stand {
    let clock = ManualClock::new(
        chrono::DateTime::parse_from_rfc3339("2018-10-01T09:00:00Z")
            .unwrap()
            .to_utc(),
    );
    Stand::start(Options {
        db,
        settings,
        esia_children: true,
        clock: Some(clock),
        cutover: Some(CutoverConfig::seed_004()),
        ..Options::default()
    })
    .await
}

async fn stand(db: Db) -> Stand {
    stand_with(db, LinkSettings::default()).await
}

/// `/marks` as `b` sees it: 200 and the page.
async fn marks(stand: &Stand, b: &Browser) -> String {
    let resp = b.get(&stand.url("/marks")).await;
    assert_eq!(resp.status(), StatusCode::OK, "{}", location(&resp));
    resp.text().await.unwrap()
}

/// The chooser's CSRF token (`GET /esia/accounts`), and its page.
async fn chooser(stand: &Stand, b: &Browser) -> (String, String) {
    let resp = b.get(&stand.url("/esia/accounts?return=%2Fmarks")).await;
    assert_eq!(resp.status(), StatusCode::OK, "{}", location(&resp));
    let html = resp.text().await.unwrap();
    let csrf = field_value(&html, "csrf").expect("csrf on the chooser");
    (csrf, html)
}

/// Presses the chooser's button for `login`; the gateway's answer.
async fn choose(stand: &Stand, b: &Browser, login: &str) -> reqwest::Response {
    let (csrf, _) = chooser(stand, b).await;
    b.post(
        &stand.url("/esia/accounts"),
        &[("csrf", &csrf), ("return", "/marks"), ("login", login)],
    )
    .await
}

/// «Привязать еще одну учетную запись дневника» from a signed-in ESIA session.
async fn add_account(stand: &Stand, b: &Browser, login: &str) -> reqwest::Response {
    let resp = b.get(&stand.url("/esia/link?add=1&return=%2Fmarks")).await;
    assert_eq!(resp.status(), StatusCode::OK, "{}", location(&resp));
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("Привязать еще одну учетную запись дневника")
            && html.contains("от школы второго ребенка"),
        "{html}"
    );
    let csrf = field_value(&html, "csrf").expect("csrf on the link form");
    b.post(
        &stand.url("/esia/link"),
        &[
            ("csrf", csrf.as_str()),
            ("return", "/marks"),
            ("add", "1"),
            ("login", login),
            ("password", "demo"),
        ],
    )
    .await
}

/// Мария with both accounts linked, in a fresh browser signed into `parent`.
async fn both_linked(stand: &Stand) -> Browser {
    let b = stand.linked_browser("confirmed", "parent").await;
    let added = add_account(stand, &b, "parent2").await;
    assert_eq!(location(&added), "/marks");
    assert_eq!(
        stand.bound_logins(CONFIRMED_OID).await,
        ["parent", "parent2"]
    );
    b
}

async fn a_parent_links_two_diary_accounts_and_picks_one_after_each_login(db: Db) {
    let stand = stand(db).await;
    let b = stand.linked_browser("confirmed", "parent").await;
    // One account: the chooser shows it as the open one and offers one more.
    let (_, html) = chooser(&stand, &b).await;
    assert!(html.contains("Выберите учетную запись дневника"), "{html}");
    assert!(html.contains("parent — Родитель") && html.contains("открыта сейчас"));
    assert!(
        html.contains("id=\"add-account\" href=\"&#x2f;esia&#x2f;link?add=1&amp;return=%2Fmarks\""),
        "{html}"
    );
    // No switcher on the diary's pages while there is nothing to switch to.
    assert!(!marks(&stand, &b).await.contains("esia-gw-switcher"));

    let added = add_account(&stand, &b, "parent2").await;
    assert_eq!(location(&added), "/marks");
    assert_eq!(
        stand.bound_logins(CONFIRMED_OID).await,
        ["parent", "parent2"]
    );
    // Straight into the account just linked, with the switcher above the page.
    let page = marks(&stand, &b).await;
    assert!(page.contains(SECOND_CHILD), "not Анна's marks: {page}");
    assert!(page.contains("id=\"esia-gw-switcher\""), "{page}");
    assert!(page.contains("<b>parent2</b>"), "{page}");
    assert!(
        page.contains("href=\"/esia/accounts?return=%2Fmarks\""),
        "{page}"
    );

    // The next ESIA login (another browser) asks which account, every time.
    let b2 = stand.browser();
    let cb = stand.esia_login(&b2, "/marks", "confirmed").await;
    assert_eq!(location(&cb), "/marks");
    let first = b2.get(&stand.url("/marks")).await;
    assert_eq!(location(&first), "/esia/accounts?return=%2Fmarks");
    let (_, html) = chooser(&stand, &b2).await;
    assert!(html.contains("parent — Родитель") && html.contains("parent2 — Родитель"));
    assert!(!html.contains("открыта сейчас"), "none is open yet: {html}");
    let picked = choose(&stand, &b2, "parent").await;
    assert_eq!(location(&picked), "/marks");
    let page = marks(&stand, &b2).await;
    assert!(page.contains(PARENTS_CHILD) && !page.contains(SECOND_CHILD));
    assert!(page.contains("<b>parent</b>"), "{page}");

    // «Сменить»: the other child's diary, through a fresh session id.
    let before = b2.cookie_names().len();
    let switched = choose(&stand, &b2, "parent2").await;
    assert_eq!(location(&switched), "/marks");
    assert!(
        switched
            .headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("__Host-esia-gw=")),
        "a switch rotates the session cookie"
    );
    assert!(b2.cookie_names().len() > before);
    let page = marks(&stand, &b2).await;
    assert!(page.contains(SECOND_CHILD) && !page.contains(PARENTS_CHILD));
    // Choosing the open one again changes nothing.
    let same = choose(&stand, &b2, "parent2").await;
    assert_eq!(location(&same), "/marks");
    assert!(same.headers().get("set-cookie").is_none());

    let signed_in: Vec<String> = stand
        .store
        .list_audit(chrono::Utc::now() - chrono::TimeDelta::days(3650), 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == AuditKind::Other("diary_sign_in".into()))
        .filter_map(|e| e.diary_login)
        .collect();
    assert!(
        signed_in.iter().any(|l| l == "parent") && signed_in.iter().any(|l| l == "parent2"),
        "{signed_in:?}"
    );
    b2.assert_only_gateway_cookies();
}

async fn nobody_picks_an_account_their_esia_account_does_not_hold(db: Db) {
    let stand = stand(db).await;
    let _maria = both_linked(&stand).await;
    // Another adult, linked to the teacher account, names Мария's accounts.
    let b = stand.linked_browser("confirmed-2", "teacher").await;
    for login in ["parent", "parent2", "nobody", ""] {
        let resp = choose(&stand, &b, login).await;
        assert_eq!(
            location(&resp),
            "/esia/accounts?return=%2Fmarks",
            "{login:?} is not theirs"
        );
        assert!(resp.headers().get("set-cookie").is_none());
    }
    let page = b.get(&stand.url("/")).await.text().await.unwrap();
    assert!(!page.contains(PARENTS_CHILD) && !page.contains(SECOND_CHILD));
    // Without the page's CSRF token nothing is chosen, even one's own account.
    let forged = b
        .post(
            &stand.url("/esia/accounts"),
            &[
                ("csrf", "forged"),
                ("return", "/marks"),
                ("login", "teacher"),
            ],
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    // A password session has one account and nothing to choose.
    let legacy = stand.legacy_browser("student").await;
    let resp = legacy.get(&stand.url("/esia/accounts?return=%2F")).await;
    assert_eq!(location(&resp), "/");
    let resp = legacy
        .post(
            &stand.url("/esia/accounts"),
            &[("csrf", "x"), ("return", "/"), ("login", "parent")],
        )
        .await;
    assert!(
        location(&resp).starts_with("/esia/start"),
        "{}",
        location(&resp)
    );
    // Anonymous: to the ESIA login first.
    let anon = stand.browser();
    let resp = anon.get(&stand.url("/esia/accounts?return=%2Fmarks")).await;
    assert!(
        location(&resp).starts_with("/esia/start"),
        "{}",
        location(&resp)
    );
}

async fn a_diary_account_still_belongs_to_one_esia_account(db: Db) {
    let stand = stand(db).await;
    let _maria = both_linked(&stand).await;
    let b = stand.linked_browser("confirmed-2", "teacher").await;
    let resp = add_account(&stand, &b, "parent2").await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("Пользователь дневника уже привязан"),
        "{html}"
    );
    assert_eq!(stand.bound_to("parent2").await, Some(CONFIRMED_OID));
    assert_eq!(stand.bound_logins(CONFIRMED2_OID).await, ["teacher"]);
}

async fn the_cap_on_diary_accounts_refuses_one_more(db: Db) {
    let settings = LinkSettings {
        max_diary_accounts: 1,
        ..LinkSettings::default()
    };
    let stand = stand_with(db, settings).await;
    let b = stand.linked_browser("confirmed", "parent").await;
    let (_, html) = chooser(&stand, &b).await;
    assert!(
        !html.contains("add-account"),
        "no offer over the cap: {html}"
    );
    // The form itself is still refused past the cap.
    let resp = add_account(&stand, &b, "parent2").await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let html = resp.text().await.unwrap();
    assert!(html.contains("не больше 1"), "{html}");
    assert!(html.contains("too-many-diary-accounts"), "{html}");
    assert_eq!(stand.bound_logins(CONFIRMED_OID).await, ["parent"]);
}

async fn a_password_session_adds_its_account_to_a_linked_person(db: Db) {
    let stand = stand(db).await;
    let _maria = stand.linked_browser("confirmed", "parent").await;
    // Мария signs into Анна's account with its password, and links it from the banner.
    let b = stand.legacy_browser("parent2").await;
    let cb = stand.link_from_legacy(&b, "confirmed").await;
    assert_eq!(location(&cb), "/esia/link/confirm");
    let (question, resp) = stand.answer_link_confirmation(&b, "confirm").await;
    assert!(question.contains("Иванова Мария Ивановна"), "{question}");
    assert_eq!(location(&resp), "/marks");
    assert_eq!(
        stand.bound_logins(CONFIRMED_OID).await,
        ["parent", "parent2"]
    );
    let page = marks(&stand, &b).await;
    assert!(page.contains(SECOND_CHILD), "{page}");
    assert!(page.contains("id=\"esia-gw-switcher\""), "{page}");
}

async fn unbinding_one_account_leaves_the_other_signed_in(db: Db) {
    let stand = stand(db).await;
    let _maria = both_linked(&stand).await;
    let b = stand.browser();
    stand.esia_login(&b, "/marks", "confirmed").await;
    assert_eq!(location(&choose(&stand, &b, "parent").await), "/marks");
    // The school unbinds Анна's account (someone else's child after all).
    let mut event = AuditEvent::new(chrono::Utc::now(), AuditKind::Unlink);
    event.diary_login = Some("parent2".into());
    event.detail = serde_json::json!({ "by": "operator", "reason": "test" });
    let done = stand
        .store
        .unbind_user("parent2", &event)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.binding.esia_oid, CONFIRMED_OID);
    assert_eq!(stand.bound_logins(CONFIRMED_OID).await, ["parent"]);
    // The session on the other account goes on.
    let page = marks(&stand, &b).await;
    assert!(page.contains(PARENTS_CHILD), "{page}");
    // And the next login has one account again: no chooser.
    let b2 = stand.browser();
    stand.esia_login(&b2, "/marks", "confirmed").await;
    let page = marks(&stand, &b2).await;
    assert!(page.contains(PARENTS_CHILD) && !page.contains("esia-gw-switcher"));
}

async fn a_stale_account_picked_on_the_chooser_asks_for_its_password_once(db: Db) {
    let stand = stand(db).await;
    let b = both_linked(&stand).await;
    // Signed into Анна's account; Дмитрий's diary password changed meanwhile.
    assert!(stand.store.set_binding_stale("parent", true).await.unwrap());
    let (_, html) = chooser(&stand, &b).await;
    assert!(html.contains("пароль изменился"), "{html}");
    let picked = choose(&stand, &b, "parent").await;
    let form = location(&picked);
    assert_eq!(form, "/esia/link?return=%2Fmarks&login=parent");
    // The form, prefilled — not a bounce back to the page (a dead end).
    let resp = b.get(&stand.url(&form)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("Пароль от электронного дневника изменился"),
        "{html}"
    );
    assert!(html.contains("value=\"parent\""), "prefilled: {html}");
    let csrf = field_value(&html, "csrf").unwrap();
    let relinked = b
        .post(
            &stand.url("/esia/link"),
            &[
                ("csrf", csrf.as_str()),
                ("return", "/marks"),
                ("login", "parent"),
                ("password", "demo"),
            ],
        )
        .await;
    assert_eq!(location(&relinked), "/marks");
    let page = marks(&stand, &b).await;
    assert!(page.contains(PARENTS_CHILD), "{page}");
    let held = stand.store.bindings_of_oid(CONFIRMED_OID).await.unwrap();
    assert!(held.iter().all(|b| !b.stale), "{held:?}");
    // A login that is not the person's own does not open the form from a signed-in
    // session (nobody is shown another person's account name).
    let resp = b
        .get(&stand.url("/esia/link?return=%2Fmarks&login=teacher"))
        .await;
    assert_eq!(location(&resp), "/marks");
}
