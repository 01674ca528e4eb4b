//! Issue 5 as stories on real sockets: the gateway (TLS, in-process), the ESIA mock and
//! the REAL demo diary, on SQLite and on PostgreSQL (a fresh database per test).
//!
//! Every story ends by checking the browser's whole `Set-Cookie` history: the gateway
//! set only its own cookies, never a diary cookie.

mod link_support;
#[macro_use]
mod store_support;
mod support;

use chrono::TimeDelta;
use esia_gateway::secret::Secret;
use esia_gateway::store::{AuditKind, Binding};
use http::StatusCode;
use link_support::*;

on_both_stores!(
    flow_a_links_and_the_next_login_goes_straight_to_the_cabinet,
    flow_b_links_the_legacy_sessions_user_without_a_password,
    wrong_password_is_counted_and_rate_limited,
    behind_a_trusted_proxy_the_limit_keys_on_each_client,
    a_diary_account_links_to_one_esia_account_only,
    diary_session_expiry_is_healed_transparently,
    changed_diary_password_sends_the_user_back_to_the_link_page,
    level_table_refuses_a_simplified_parent_and_admits_a_simplified_student,
    a_role_the_school_changed_is_checked_against_the_level_at_the_next_sign_in,
    flow_b_asks_first_and_this_is_not_me_binds_nobody,
);

async fn stand(db: Db) -> Stand {
    Stand::start(Options {
        db,
        ..Options::default()
    })
    .await
}

async fn audit_kinds(stand: &Stand) -> Vec<AuditKind> {
    stand
        .store
        .list_audit(chrono::Utc::now() - TimeDelta::hours(1), 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

/// The grade page of `parent`: the right heading and the child's marks.
async fn assert_parents_grades(stand: &Stand, b: &Browser) {
    let resp = b.get(&stand.url("/marks")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let html = resp.text().await.unwrap();
    assert!(html.contains("<h1 id=\"page-marks\">"), "{html}");
    assert!(
        html.contains(PARENTS_CHILD),
        "not the parent's child: {html}"
    );
}

async fn flow_a_links_and_the_next_login_goes_straight_to_the_cabinet(db: Db) {
    let stand = stand(db).await;
    let b = stand.browser();
    let cb = stand.esia_login(&b, "/marks", "confirmed").await;
    assert_eq!(location(&cb), "/marks");
    // An unlinked ESIA session sees only the link page.
    for path in ["/marks", "/", "/messages"] {
        let resp = b.get(&stand.url(path)).await;
        assert!(location(&resp).starts_with("/esia/link?return="), "{path}");
    }
    let (status, html) = stand.link_form(&b, "/marks").await;
    assert_eq!(status, StatusCode::OK);
    for words in [
        "Учетная запись Госуслуг не привязана к электронному дневнику",
        "Найти существующего пользователя",
        "Прикрепить",
        // Whose Госуслуги account would be linked, with a way out (issue 15).
        "Вы вошли на Госуслуги как «Иванова Мария Ивановна»",
        "Это не я",
    ] {
        assert!(html.contains(words), "{words}");
    }
    // Wrong password first: the seed's words, the attempt counted.
    let wrong = stand.submit_link(&b, "parent", "not-the-password").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("Неверный логин или пароль")
    );
    let linked = stand.submit_link(&b, "parent", "demo").await;
    assert_eq!(location(&linked), "/marks");
    assert_parents_grades(&stand, &b).await;

    let binding = stand
        .store
        .bindings_of_oid(CONFIRMED_OID)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(binding.diary_login, "parent");
    assert_eq!(binding.diary_role.as_deref(), Some("parent"));
    assert_eq!(binding.account_level.as_deref(), Some("confirmed"));
    let entry = stand
        .store
        .get_vault_entry("parent")
        .await
        .unwrap()
        .unwrap();
    assert!(!entry.ciphertext.windows(4).any(|w| w == b"demo"));
    let kinds = audit_kinds(&stand).await;
    assert!(kinds.contains(&AuditKind::Link), "{kinds:?}");
    assert!(kinds.contains(&AuditKind::LinkFailed), "{kinds:?}");
    b.assert_only_gateway_cookies();

    // A second ESIA login (another browser): straight into the cabinet, no password.
    let b2 = stand.browser();
    let cb = stand.esia_login(&b2, "/marks", "confirmed").await;
    assert_eq!(location(&cb), "/marks");
    assert_parents_grades(&stand, &b2).await;
    b2.assert_only_gateway_cookies();
    let kinds = audit_kinds(&stand).await;
    let signed_in = AuditKind::Other("diary_sign_in".into());
    assert!(kinds.contains(&signed_in), "{kinds:?}");

    // The diary's own logout link does the single logout: ESIA's logout next.
    let out = b2.get(&stand.url("/logout")).await;
    let target = location(&out);
    assert!(target.starts_with(stand.mock.base_url()), "{target}");
    assert!(
        target.contains("Logout") || target.contains("logout"),
        "{target}"
    );
    let after = b2.get(&stand.url("/marks")).await;
    assert!(
        location(&after).starts_with("/login"),
        "session must be gone"
    );
    b2.assert_only_gateway_cookies();
}

async fn flow_b_links_the_legacy_sessions_user_without_a_password(db: Db) {
    let stand = stand(db).await;
    let b = stand.browser();
    // The diary's own form, posted through the gateway: a legacy session.
    let resp = b
        .post(
            &stand.url("/login"),
            &[("login", "parent"), ("password", "demo")],
        )
        .await;
    assert_eq!(location(&resp), "/");
    assert_parents_grades(&stand, &b).await;
    assert!(audit_kinds(&stand).await.contains(&AuditKind::LegacyLogin));

    // «выполнить привязку к ЕСИА» → ESIA → back, linked, no password asked.
    let start = b.get(&stand.url("/esia/link/start?return=/marks")).await;
    let authorize = location(&start);
    assert!(authorize.starts_with(stand.mock.base_url()), "{authorize}");
    let cb = stand.at_esia(&b, &authorize, "confirmed").await;
    // Never silently: the binding waits for «Привязать» (issue 15).
    assert_eq!(location(&cb), "/esia/link/confirm");
    assert!(stand.bound_login(CONFIRMED_OID).await.is_none());
    let (question, linked) = stand.answer_link_confirmation(&b, "confirm").await;
    assert!(
        question.contains("«Иванова Мария Ивановна»") && question.contains("(parent)»"),
        "{question}"
    );
    assert_eq!(location(&linked), "/marks");
    assert_parents_grades(&stand, &b).await;
    let binding = stand
        .store
        .bindings_of_oid(CONFIRMED_OID)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(binding.diary_login, "parent");
    // The password typed on the diary's form was kept sealed with the legacy session
    // and went to the vault with the binding (issue 15: typed once, never again).
    assert!(
        stand
            .store
            .get_vault_entry("parent")
            .await
            .unwrap()
            .is_some()
    );
    assert!(audit_kinds(&stand).await.contains(&AuditKind::Link));
    b.assert_only_gateway_cookies();
    // The next Госуслуги login, from another browser, goes straight to the grades.
    let next = stand.browser();
    let cb = stand.esia_login(&next, "/marks", "confirmed").await;
    assert_eq!(location(&cb), "/marks");
    assert_parents_grades(&stand, &next).await;

    // Without a legacy session there is nothing to link from.
    let stranger = stand.browser();
    let resp = stranger.get(&stand.url("/esia/link/start")).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = stranger.get(&stand.url("/esia/link?return=/marks")).await;
    assert!(location(&resp).starts_with("/esia/start?return="));

    // A legacy session that ends while at ESIA links nothing.
    let late = stand.legacy_browser("student").await;
    let resp = late.get(&stand.url("/esia/link")).await;
    assert_eq!(
        location(&resp),
        "/esia/link/start",
        "legacy sessions link via ESIA"
    );
    let start = late.get(&stand.url("/esia/link/start")).await;
    let authorize = location(&start);
    let out = late.get(&stand.url("/logout")).await;
    assert_eq!(
        location(&out),
        "/esia/start",
        "legacy logout: no ESIA logout"
    );
    let cb = stand.at_esia(&late, &authorize, "confirmed-2").await;
    assert_eq!(cb.status(), StatusCode::BAD_REQUEST);
    assert!(cb.text().await.unwrap().contains("legacy-session-gone"));
    assert!(stand.bound_to("student").await.is_none());
    late.assert_only_gateway_cookies();
}

/// Behind the region's load balancer every client's TCP peer is the balancer: the
/// link form's per-address limit must key on the forwarded client, not lock out a
/// whole school because one person mistyped (issue 10).
async fn behind_a_trusted_proxy_the_limit_keys_on_each_client(db: Db) {
    let stand = Stand::start(Options {
        db,
        trusted_proxies: vec!["127.0.0.0/8".parse().unwrap()],
        ..Options::default()
    })
    .await;
    let typo = stand.browser_behind(Some("203.0.113.7"));
    stand.esia_login(&typo, "/", "confirmed").await;
    for i in 0..5 {
        let resp = stand
            .submit_link(&typo, "parent", &format!("guess-{i}"))
            .await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    assert_eq!(
        stand.submit_link(&typo, "parent", "demo").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another person behind the same balancer links at the first try.
    let other = stand.browser_behind(Some("198.51.100.20"));
    stand.esia_login(&other, "/", "confirmed-2").await;
    let resp = stand.submit_link(&other, "student", "demo").await;
    assert!(resp.status().is_redirection(), "{}", resp.status());
    let events = stand
        .store
        .list_audit(chrono::Utc::now() - TimeDelta::hours(1), 1000)
        .await
        .unwrap();
    let addresses: Vec<String> = events.iter().filter_map(|e| e.client_ip.clone()).collect();
    assert!(
        addresses.iter().any(|a| a == "203.0.113.7"),
        "{addresses:?}"
    );
    assert!(!addresses.iter().any(|a| a == "127.0.0.1"), "{addresses:?}");
}

async fn wrong_password_is_counted_and_rate_limited(db: Db) {
    let stand = stand(db).await;
    let b = stand.browser();
    let cb = stand.esia_login(&b, "/marks", "confirmed").await;
    assert_eq!(location(&cb), "/marks");
    for i in 0..5 {
        let resp = stand.submit_link(&b, "parent", &format!("guess-{i}")).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    // Over the limit: 429 with the wait, even with the right password.
    let resp = stand.submit_link(&b, "parent", "demo").await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(resp.headers()["retry-after"], "900");
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("Слишком много попыток") && html.contains("15 мин"),
        "{html}"
    );
    assert!(stand.bound_login(CONFIRMED_OID).await.is_none());

    // Another person at the same address (a school's one NAT address) is not locked
    // out by these typos: only failures count, and an address may fail ten times as
    // often as an account (issue 15).
    let b2 = stand.browser();
    let cb = stand.esia_login(&b2, "/marks", "confirmed-2").await;
    assert_eq!(location(&cb), "/marks");
    let resp = stand.submit_link(&b2, "student", "demo").await;
    assert!(resp.status().is_redirection(), "{}", resp.status());
    let kinds = audit_kinds(&stand).await;
    assert!(kinds.contains(&AuditKind::RateLimited));
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == AuditKind::LinkFailed)
            .count(),
        5,
        "{kinds:?}"
    );

    // Bad forms are refused before anything is asked of the diary.
    let b2 = stand.browser();
    let cb = stand.esia_login(&b2, "/marks", "standard").await;
    assert_eq!(location(&cb), "/marks");
    let (_, html) = stand.link_form(&b2, "/").await;
    let csrf = field_value(&html, "csrf").unwrap();
    let resp = b2
        .post(
            &stand.url("/esia/link"),
            &[
                ("csrf", "forged"),
                ("login", "parent"),
                ("password", "demo"),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let dup = format!("csrf={csrf}&csrf={csrf}&login=parent&password=demo");
    let resp = b2.post_raw(&stand.url("/esia/link"), &dup).await;
    assert_eq!(
        resp.status(),
        StatusCode::FORBIDDEN,
        "duplicate CSRF fields"
    );
    let anon = stand.browser();
    let resp = anon
        .post(
            &stand.url("/esia/link"),
            &[("login", "parent"), ("password", "demo")],
        )
        .await;
    assert!(location(&resp).starts_with("/esia/start"));
    b.assert_only_gateway_cookies();
}

async fn a_diary_account_links_to_one_esia_account_only(db: Db) {
    let stand = stand(db).await;
    let b = stand.browser();
    let linked = stand
        .login_and_link(&b, "confirmed", "parent", "demo")
        .await;
    assert_eq!(location(&linked), "/marks");

    // The diary login is already linked to another ESIA account.
    let b2 = stand.browser();
    let resp = stand
        .login_and_link(&b2, "confirmed-2", "parent", "demo")
        .await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("Пользователь дневника уже привязан"),
        "{html}"
    );
    assert!(html.contains("login-already-linked"));
    assert!(html.contains("администратор"), "says who can undo it");

    // The ESIA account is already linked to another diary login (whose password the
    // vault does not hold, so the link page asks again): a second diary account is
    // linked beside it (issue 15 point 8) — the other way round stays refused.
    stand
        .store
        .create_binding(&Binding {
            esia_oid: SIMPLIFIED_OID,
            diary_login: "teacher".into(),
            diary_role: Some("student".into()),
            account_level: None,
            created_at: chrono::Utc::now(),
            last_used_at: chrono::Utc::now(),
            stale: false,
        })
        .await
        .unwrap();
    let b3 = stand.browser();
    stand.esia_login(&b3, "/marks", "simplified").await;
    let first = b3.get(&stand.url("/marks")).await;
    assert_eq!(
        location(&first),
        "/esia/link?return=%2Fmarks&login=teacher",
        "the bound account's password is asked for, prefilled"
    );
    let resp = stand.submit_link(&b3, "student", "demo").await;
    assert_eq!(location(&resp), "/marks");
    assert_eq!(
        stand.bound_logins(SIMPLIFIED_OID).await,
        ["student", "teacher"]
    );
    // The first refusal changed nothing.
    let b = stand
        .store
        .binding_by_login("parent")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.esia_oid, CONFIRMED_OID);
    b2.assert_only_gateway_cookies();
    b3.assert_only_gateway_cookies();
}

async fn diary_session_expiry_is_healed_transparently(db: Db) {
    let stand = stand(db).await;
    let b = stand.browser();
    let linked = stand
        .login_and_link(&b, "confirmed", "parent", "demo")
        .await;
    assert_eq!(location(&linked), "/marks");
    assert_parents_grades(&stand, &b).await;
    // The diary forgets its session (idle 20 min); the gateway signs in again and
    // repeats the GET: the user sees the page, not the diary's login form.
    stand.diary_clock.advance(TimeDelta::minutes(21));
    assert_parents_grades(&stand, &b).await;
    stand.diary_clock.advance(TimeDelta::minutes(21));
    let resp = b.get(&stand.url("/index.php?module=marks")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    // A POST cannot be repeated: the page asks to send the form again.
    stand.diary_clock.advance(TimeDelta::minutes(21));
    let resp = b
        .post(
            &stand.url("/messages"),
            &[("to", "teacher"), ("body", "Здравствуйте")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("Отправьте форму ещё раз")
    );
    // …and the renewed diary session works for the next request.
    assert_parents_grades(&stand, &b).await;
    b.assert_only_gateway_cookies();
}

async fn changed_diary_password_sends_the_user_back_to_the_link_page(db: Db) {
    let stand = stand(db).await;
    let b = stand.browser();
    let linked = stand
        .login_and_link(&b, "confirmed", "parent", "demo")
        .await;
    assert_eq!(location(&linked), "/marks");
    // The diary password changes: the vault now holds one the diary refuses.
    stand
        .vault
        .put("parent", &Secret::new("the-old-password"))
        .await
        .unwrap();
    stand.diary_clock.advance(TimeDelta::minutes(21));
    let resp = b.get(&stand.url("/marks")).await;
    assert_eq!(location(&resp), "/esia/link?return=%2Fmarks");
    let binding = stand
        .store
        .bindings_of_oid(CONFIRMED_OID)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert!(binding.stale);
    assert!(audit_kinds(&stand).await.contains(&AuditKind::BindingStale));
    let (_, html) = stand.link_form(&b, "/marks").await;
    assert!(
        html.contains("Пароль от электронного дневника изменился"),
        "{html}"
    );
    // Linking again with the current password revives the binding.
    let again = stand.submit_link(&b, "parent", "demo").await;
    assert_eq!(location(&again), "/marks");
    assert_parents_grades(&stand, &b).await;
    let binding = stand
        .store
        .bindings_of_oid(CONFIRMED_OID)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert!(!binding.stale);
    b.assert_only_gateway_cookies();
}

async fn level_table_refuses_a_simplified_parent_and_admits_a_simplified_student(db: Db) {
    let stand = stand(db).await;
    let b = stand.browser();
    let resp = stand
        .login_and_link(&b, "simplified", "parent", "demo")
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("«Родитель»") && html.contains("подтвержденная"),
        "{html}"
    );
    assert!(
        html.contains("получите подтвержденную учетную запись"),
        "seed 000's steps"
    );
    assert!(stand.bound_login(SIMPLIFIED_OID).await.is_none());
    assert!(audit_kinds(&stand).await.contains(&AuditKind::LevelRefused));
    // Still no diary access.
    let resp = b.get(&stand.url("/marks")).await;
    assert!(location(&resp).starts_with("/esia/link"));

    let ok = stand.submit_link(&b, "student", "demo").await;
    assert_eq!(location(&ok), "/marks");
    let resp = b.get(&stand.url("/marks")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains(STUDENT_NAME));
    let binding = stand
        .store
        .bindings_of_oid(SIMPLIFIED_OID)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(binding.diary_role.as_deref(), Some("student"));
    assert_eq!(binding.account_level.as_deref(), Some("simplified"));
    b.assert_only_gateway_cookies();
}

/// The school makes a pupil's account a teacher's: when the gateway signs into the diary
/// again (its session ran out), the new role needs a confirmed account — a simplified
/// ESIA session no longer gets the pages.
async fn a_role_the_school_changed_is_checked_against_the_level_at_the_next_sign_in(db: Db) {
    let stand = stand(db).await;
    let b = stand.linked_browser("simplified", "student").await;
    assert_eq!(b.get(&stand.url("/marks")).await.status(), StatusCode::OK);
    let diary = stand
        .diary
        .as_ref()
        .expect("the demo diary runs in-process");
    assert!(diary.change_role("student", "teacher"));
    stand.diary_clock.advance(TimeDelta::minutes(21));
    let resp = b.get(&stand.url("/marks")).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("«Учитель»") && html.contains("подтвержденная"),
        "{html}"
    );
    // Not a one-off: the next request is refused too, and never gets the grades.
    let again = b.get(&stand.url("/marks")).await;
    assert_eq!(again.status(), StatusCode::FORBIDDEN);
    assert!(audit_kinds(&stand).await.contains(&AuditKind::LevelRefused));
}

/// Diary cookies the browser sends are never passed on: a session cookie taken from
/// the diary directly opens nothing through the gateway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_diary_cookie_sent_by_the_browser_is_dropped() {
    let stand = stand(Db::Sqlite).await;
    let direct = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let diary = stand.diary.as_ref().unwrap().url();
    let resp = direct
        .post(format!("{diary}/login"))
        .form(&[("login", "parent"), ("password", "demo")])
        .send()
        .await
        .unwrap();
    let stolen = resp.headers()["set-cookie"].to_str().unwrap();
    let pair = stolen.split(';').next().unwrap().to_owned();
    // Valid at the diary itself…
    let at_diary = direct
        .get(format!("{diary}/marks"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(at_diary.status(), StatusCode::OK);
    // …worthless through the gateway.
    let b = stand.browser();
    let resp = b.get_with(&stand.url("/marks"), &[("cookie", &pair)]).await;
    assert!(location(&resp).starts_with("/login"));
}

/// A legacy login form whose login field is ambiguous (PHP would read another value
/// than the gateway) is refused, not forwarded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ambiguous_legacy_login_forms_are_refused() {
    let stand = stand(Db::Sqlite).await;
    let b = stand.browser();
    for body in [
        "login=parent&login=student&password=demo",
        "login=parent&login[]=student&password=demo",
        "login=parent&password=demo&password=x",
    ] {
        let resp = b.post_raw(&stand.url("/login"), body).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{body}");
    }
    // A wrong password passes the diary's own answer through, no session.
    let resp = b
        .post(
            &stand.url("/login"),
            &[("login", "parent"), ("password", "x")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("Неверный логин или пароль")
    );
    assert!(b.cookie_names().is_empty(), "{:?}", b.cookie_names());
}

/// The diary down while linking: a clear 502 page, never «Неверный логин или пароль»,
/// and no binding.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_diary_that_is_down_gives_a_clear_page_not_a_wrong_password() {
    let mut stand = stand(Db::Sqlite).await;
    let b = stand.browser();
    let cb = stand.esia_login(&b, "/marks", "confirmed").await;
    assert_eq!(location(&cb), "/marks");
    let (_, html) = stand.link_form(&b, "/marks").await;
    let csrf = field_value(&html, "csrf").unwrap();
    stand.diary.take().unwrap().shutdown().await;
    let resp = b
        .post(
            &stand.url("/esia/link"),
            &[
                ("csrf", csrf.as_str()),
                ("login", "parent"),
                ("password", "demo"),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
    let html = resp.text().await.unwrap();
    assert!(html.contains("Электронный дневник недоступен"), "{html}");
    assert!(!html.contains("Неверный логин или пароль"));
    assert!(stand.bound_login(CONFIRMED_OID).await.is_none());
    // Other methods on the link pages are refused with Allow.
    let resp = b.client.put(stand.url("/esia/link")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(resp.headers()["allow"], "GET, POST");
}

/// A legacy session has no stored password: when the diary forgets it, the browser is
/// sent to the diary's own login form (through the gateway), and the stale jar is not
/// handed to the browser.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_legacy_session_goes_back_to_the_diary_login_form() {
    let stand = stand(Db::Sqlite).await;
    let b = stand.legacy_browser("parent").await;
    assert_parents_grades(&stand, &b).await;
    stand.diary_clock.advance(TimeDelta::minutes(21));
    let resp = b.get(&stand.url("/marks")).await;
    assert_eq!(location(&resp), "/login");
    let form = b.get(&stand.url("/login")).await;
    assert_eq!(form.status(), StatusCode::OK);
    b.assert_only_gateway_cookies();
}

/// Issue 15, point 4: a password session starts «выполнить привязку к ЕСИА» while
/// another person's Госуслуги account is what ESIA returns (a shared computer). The
/// gateway binds nobody until the user answers «Привязать учетную запись Госуслуг
/// ‹ФИО› к пользователю дневника ‹ФИО›?»; «Это не я» signs that person out of ESIA,
/// keeps the diary session, and the right person can then link.
async fn flow_b_asks_first_and_this_is_not_me_binds_nobody(db: Db) {
    let stand = stand(db).await;
    let b = stand.legacy_browser("parent").await;
    let cb = stand.link_from_legacy(&b, "confirmed-2").await;
    assert_eq!(location(&cb), "/esia/link/confirm");
    assert!(
        stand.bound_login(CONFIRMED2_OID).await.is_none(),
        "bound before the user said yes"
    );
    let (question, resp) = stand.answer_link_confirmation(&b, "not-me").await;
    assert!(
        question.contains("«Петров Сергей Николаевич»"),
        "{question}"
    );
    // Off to ESIA's logout for that person, back to the start page.
    let logout = location(&resp);
    assert!(logout.starts_with(stand.mock.base_url()), "{logout}");
    assert!(stand.bound_to("parent").await.is_none());
    assert!(
        audit_kinds(&stand)
            .await
            .contains(&AuditKind::Other("link_declined".into()))
    );
    // The diary session stays, and the answer cannot be replayed.
    assert_parents_grades(&stand, &b).await;
    let again = b.get(&stand.url("/esia/link/confirm")).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);

    // A forged confirmation (no CSRF token of this session) binds nothing either.
    let cb = stand.link_from_legacy(&b, "confirmed-2").await;
    assert_eq!(location(&cb), "/esia/link/confirm");
    let forged = b
        .post(
            &stand.url("/esia/link/confirm"),
            &[("csrf", "guess"), ("action", "confirm")],
        )
        .await;
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    assert!(stand.bound_to("parent").await.is_none());
    // «Это не я», this time followed through ESIA's logout: the stranger is signed out.
    let (_, resp) = stand.answer_link_confirmation(&b, "not-me").await;
    let back = b.get(&location(&resp)).await;
    assert!(
        location(&back).ends_with("/esia/start"),
        "{}",
        location(&back)
    );

    // The right person: asked, says yes, linked.
    let cb = stand.link_from_legacy(&b, "confirmed").await;
    assert_eq!(location(&cb), "/esia/link/confirm");
    let (question, linked) = stand.answer_link_confirmation(&b, "confirm").await;
    assert!(question.contains("«Иванова Мария Ивановна»"), "{question}");
    assert_eq!(location(&linked), "/marks");
    assert_eq!(
        stand
            .store
            .bindings_of_oid(CONFIRMED_OID)
            .await
            .unwrap()
            .pop()
            .unwrap()
            .diary_login,
        "parent"
    );
}
