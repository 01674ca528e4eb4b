//! Issue 9's attacks as stories on real sockets: the gateway (TLS, in-process), the ESIA
//! mock and the REAL demo diary, after the seed 004 cutover (2019-02-01). Each story is
//! what an attacker tried; each ends with the gateway's idea of the user equal to the
//! diary's own, or with a refusal.
//!
//! The diary's pages print `Роль @ login` in their header, so "who does the diary serve"
//! is read from the page the browser gets.

mod cutover_support;
mod store_support;
mod support;

use cutover_support::{Stand, at, location, seed_004};
use esia_gateway::diary::config::DiaryConfig;
use esia_gateway::standins::demo_diary::DEMO_PASSWORD;
use esia_gateway::store::AuditKind;
use http::StatusCode;

const MARKS: &str = "id=\"page-marks\"";

async fn after_cutover() -> Stand {
    Stand::start(seed_004(), at("2019-02-01T12:00:00+03:00")).await
}

/// Which diary user a page was rendered for (`… @ login` in its header).
fn served_as(html: &str) -> Option<String> {
    let at = html.find(" @ ")?;
    let rest = &html[at + 3..];
    let end = rest.find(['<', ' ', '"']).unwrap_or(rest.len());
    Some(rest[..end].to_owned())
}

/// ESIA login as `persona`, then the link form with `login` / the demo password.
async fn esia_linked(stand: &Stand, b: &cutover_support::Browser, persona: &str, login: &str) {
    let cb = stand.esia_login(b, "/", persona).await;
    assert!(cb.status().is_redirection(), "{}", cb.status());
    let resp = stand.link_from(b, "/", "/", login).await;
    assert!(resp.status().is_redirection(), "link: {}", resp.status());
    let html = b.get(&stand.url("/")).await.text().await.unwrap();
    assert_eq!(served_as(&html).as_deref(), Some(login), "{html}");
}

/// Attack 1: a second spelling of the login field (` login`, which PHP reads as `login`)
/// made the gateway record `parent` while the diary signed in `student`; a `Connection:
/// cookie` then made the diary look signed out and the gateway healed the session with
/// parent's vaulted password.
#[tokio::test]
async fn a_second_spelling_of_the_login_field_never_becomes_someone_elses_session() {
    let stand = after_cutover().await;
    // The real parent links once: parent's password is in the vault from now on.
    let owner = stand.browser();
    esia_linked(&stand, &owner, "confirmed", "parent").await;

    // HTTP/1.1: an HTTP/2 client drops connection-specific headers itself.
    let attacker = stand.browser_with(|b| b.http1_only());
    let body = format!("login=parent&%20login=student&password={DEMO_PASSWORD}");
    let resp = attacker
        .client
        .post(stand.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    // The diary must look signed out once (the jar's Cookie removed by the client's
    // Connection header), so the gateway "heals" the session; then plain requests.
    let _ = attacker
        .client
        .get(stand.url("/homework"))
        .header("connection", "cookie")
        .send()
        .await
        .unwrap();
    for path in ["/homework", "/messages", "/"] {
        let html = attacker.get(&stand.url(path)).await.text().await.unwrap();
        assert_ne!(
            served_as(&html).as_deref(),
            Some("parent"),
            "after a login answered {status}, {path} served parent's page to the attacker"
        );
    }
}

/// Attack 2: an ESIA session with a simplified account, linked to `student`, signs the
/// diary in as `teacher` on another login endpoint of the diary.
#[tokio::test]
async fn a_login_on_another_diary_endpoint_does_not_change_an_esia_sessions_identity() {
    let stand = after_cutover().await;
    let b = stand.browser();
    esia_linked(&stand, &b, "simplified", "student").await;
    let _ = b
        .post(
            &stand.url("/index.php?module=login"),
            &[("login", "teacher"), ("password", DEMO_PASSWORD)],
        )
        .await;
    let resp = b.get(&stand.url("/marks")).await;
    let status = resp.status();
    let html = resp.text().await.unwrap();
    assert!(
        !(status == StatusCode::OK
            && html.contains(MARKS)
            && served_as(&html).as_deref() == Some("teacher")),
        "a simplified ESIA account reached teacher's grade page: {html}"
    );
    // Whatever the browser is now, the gateway and the diary agree on it.
    let html = b.get(&stand.url("/")).await.text().await.unwrap();
    if let Some(user) = served_as(&html) {
        let audit = stand.audit().await;
        assert!(
            user == "student"
                || audit
                    .iter()
                    .any(|(k, d)| *k == AuditKind::LegacyLogin && d["login"] == user.as_str()),
            "the diary serves {user}, the gateway never recorded it: {audit:?}"
        );
    }
}

/// The same with an operator config that names only `/login`: the endpoint is unlisted,
/// so the jar's session-cookie change must be noticed.
#[tokio::test]
async fn an_unlisted_login_endpoint_ends_the_session_instead_of_swapping_the_user() {
    let mut diary = DiaryConfig::default();
    diary.rules.login_endpoints = esia_gateway::diary::endpoints::Endpoints::paths(&["/login"]);
    let stand = Stand::start_with(seed_004(), at("2019-02-01T12:00:00+03:00"), diary, |_| {}).await;
    let b = stand.browser();
    esia_linked(&stand, &b, "simplified", "student").await;
    let _ = b
        .post(
            &stand.url("/index.php?module=login"),
            &[("login", "teacher"), ("password", DEMO_PASSWORD)],
        )
        .await;
    for path in ["/marks", "/", "/messages"] {
        let resp = b.get(&stand.url(path)).await;
        let status = resp.status();
        let html = resp.text().await.unwrap();
        assert_ne!(
            served_as(&html).as_deref(),
            Some("teacher"),
            "{path} ({status}) served teacher's page to student's ESIA session"
        );
    }
    let audit = stand.audit().await;
    assert!(
        audit.iter().any(|(k, _)| k.as_str() == "identity_changed"),
        "{audit:?}"
    );
}

/// Attack 3: `Connection: cookie` removed the jar's Cookie header the gateway added.
#[tokio::test]
async fn a_connection_header_cannot_remove_what_the_gateway_adds() {
    let stand = after_cutover().await;
    // HTTP/1.1: an HTTP/2 client drops connection-specific headers itself.
    let b = stand.browser_with(|b| b.http1_only());
    esia_linked(&stand, &b, "confirmed", "parent").await;
    for listed in [
        "cookie",
        "Cookie, X-Forwarded-For, Host",
        "keep-alive, cookie",
    ] {
        let resp = b
            .client
            .get(stand.url("/marks"))
            .header("connection", listed)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let loc = resp
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        let html = resp.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "Connection: {listed} → {loc:?}");
        assert!(html.contains(MARKS), "Connection: {listed}: {html}");
        assert_eq!(served_as(&html).as_deref(), Some("parent"));
    }
}

/// Attack 4: the diary's other logout spellings ended the diary session, and the gateway
/// silently signed the user back in.
#[tokio::test]
async fn every_logout_spelling_ends_the_gateway_session() {
    for logout in [
        "/logout",
        "/index.php?module=logout",
        "/INDEX.PHP?module=LOGOUT",
    ] {
        let stand = after_cutover().await;
        let b = stand.browser();
        esia_linked(&stand, &b, "confirmed", "parent").await;
        // Without evidence it comes from our pages (a link on another site, an old
        // browser without Fetch Metadata or Referer): the confirmation page, still
        // signed in.
        let asked = b.get(&stand.url(logout)).await;
        assert_eq!(location(&asked), "/esia/logout", "{logout}");
        assert_eq!(b.get(&stand.url("/marks")).await.status(), StatusCode::OK);
        // The diary's «Выйти» clicked on its own page.
        let _ = b
            .client
            .get(stand.url(logout))
            .header("sec-fetch-site", "same-origin")
            .send()
            .await
            .unwrap();
        let resp = b.get(&stand.url("/marks")).await;
        assert!(
            resp.status().is_redirection(),
            "{logout}: still signed in ({})",
            resp.status()
        );
        assert!(location(&resp).starts_with("/esia/start"), "{logout}");
    }
}

/// Attack 6: a diary session cookie held by the browser (`pass_cookies`) outranked the
/// gateway's own identity.
#[tokio::test]
async fn a_browser_held_diary_cookie_never_decides_who_the_user_is() {
    let diary = DiaryConfig {
        pass_cookies: vec!["RIDSESSID".into(), "lang".into()],
        ..DiaryConfig::default()
    };
    let stand = Stand::start_with(seed_004(), at("2019-02-01T12:00:00+03:00"), diary, |_| {}).await;
    // A diary session as `student`, got straight from the diary (or through the gateway).
    let direct = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = direct
        .post(format!("{}/login", stand.diary.url().trim_end_matches('/')))
        .form(&[("login", "student"), ("password", DEMO_PASSWORD)])
        .send()
        .await
        .unwrap();
    let ridsessid = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("RIDSESSID="))
        .expect("the diary set its session cookie");
    let pair = ridsessid.split(';').next().unwrap().to_owned();

    let b = stand.browser();
    esia_linked(&stand, &b, "confirmed", "parent").await;
    for path in ["/marks", "/"] {
        // The browser's own gateway cookie plus the diary cookie it got elsewhere.
        let cookies = format!("{}; {pair}", b.cookie_header());
        let resp = b
            .client
            .get(stand.url(path))
            .header("cookie", cookies)
            .send()
            .await
            .unwrap();
        let html = resp.text().await.unwrap();
        assert_eq!(
            served_as(&html).as_deref(),
            Some("parent"),
            "{path}: the browser's diary cookie decided: {html}"
        );
    }
}

/// Attack 5: in front of a diary that answers a login POST without its pre-login cookie
/// with a 302 to an error page, the link form bound an ESIA account with a WRONG
/// password, and neither the gateway's own sign-in nor legacy logins ever worked. Here
/// the demo diary in strict mode behaves like that diary.
#[tokio::test]
async fn a_redirect_is_not_a_sign_in_and_a_strict_diary_still_works() {
    let stand = Stand::start_with(
        seed_004(),
        at("2018-10-01T12:00:00+03:00"),
        DiaryConfig::default(),
        |d| d.strict_login = true,
    )
    .await;
    // A wrong password on the link form links nothing.
    let b = stand.browser();
    let cb = stand.esia_login(&b, "/", "confirmed").await;
    assert!(cb.status().is_redirection());
    let first = b.get(&stand.url("/")).await;
    let link_page = location(&first);
    let html = b.get(&stand.url(&link_page)).await.text().await.unwrap();
    let csrf = cutover_support::field_value(&html, "csrf").unwrap();
    let resp = b
        .post(
            &stand.url("/esia/link"),
            &[
                ("csrf", csrf.as_str()),
                ("return", "/"),
                ("login", "teacher"),
                ("password", "WRONGPASS"),
            ],
        )
        .await;
    assert!(
        !resp.status().is_redirection(),
        "a wrong password was taken for a sign-in: {}",
        resp.status()
    );
    let audit = stand.audit().await;
    assert!(
        !audit.iter().any(|(k, _)| *k == AuditKind::Link),
        "linked with a wrong password: {audit:?}"
    );
    // The right password links, and the gateway's own sign-in works on this diary.
    let resp = stand.link_from(&b, "/", "/", "parent").await;
    assert!(resp.status().is_redirection(), "{}", resp.status());
    let html = b.get(&stand.url("/marks")).await.text().await.unwrap();
    assert_eq!(served_as(&html).as_deref(), Some("parent"), "{html}");

    // A legacy login through the gateway works too: the form's cookie and token live in
    // the pre-login jar, never in the browser.
    let legacy = stand.browser();
    let form = legacy.get(&stand.url("/login")).await;
    assert!(form.status().is_success(), "{}", form.status());
    let html = form.text().await.unwrap();
    let token = cutover_support::field_value(&html, "_token").expect("the strict form's token");
    let resp = legacy
        .post(
            &stand.url("/login"),
            &[
                ("_token", token.as_str()),
                ("login", "student"),
                ("password", DEMO_PASSWORD),
            ],
        )
        .await;
    assert!(resp.status().is_redirection(), "{}", resp.status());
    assert!(
        !legacy.cookie_header().contains("RIDSESSID"),
        "{}",
        legacy.cookie_header()
    );
    let html = legacy.get(&stand.url("/")).await.text().await.unwrap();
    assert_eq!(served_as(&html).as_deref(), Some("student"), "{html}");
}

/// The gateway's own logout (`POST /esia/logout`) ends the diary session too (DESIGN
/// §3.5), and a password session is not sent to Госуслуги's logout it never signed in to.
#[tokio::test]
async fn the_gateways_logout_ends_the_diary_session_too() {
    let stand = after_cutover().await;
    let b = stand.browser();
    esia_linked(&stand, &b, "confirmed", "parent").await;
    assert!(stand.diary.signed_in().contains(&"parent".to_owned()));
    let confirm = b
        .get(&stand.url("/esia/logout"))
        .await
        .text()
        .await
        .unwrap();
    let csrf = cutover_support::field_value(&confirm, "csrf").expect("csrf on the logout form");
    let resp = b
        .post(&stand.url("/esia/logout"), &[("csrf", csrf.as_str())])
        .await;
    assert!(resp.status().is_redirection(), "{}", resp.status());
    assert!(
        !stand.diary.signed_in().contains(&"parent".to_owned()),
        "the diary session outlived the gateway's: {:?}",
        stand.diary.signed_in()
    );
    let resp = b.get(&stand.url("/marks")).await;
    assert!(location(&resp).starts_with("/esia/start"));

    // A legacy session's logout stays on the gateway's start page.
    let legacy = stand.browser();
    let _ = stand.legacy_login(&legacy, "student").await;
    let confirm = legacy
        .get(&stand.url("/esia/logout"))
        .await
        .text()
        .await
        .unwrap();
    let csrf = cutover_support::field_value(&confirm, "csrf").unwrap();
    let resp = legacy
        .post(&stand.url("/esia/logout"), &[("csrf", csrf.as_str())])
        .await;
    assert_eq!(location(&resp), "/esia/start");
    assert!(!stand.diary.signed_in().contains(&"student".to_owned()));
}

/// The residual of attack 2: a diary that keeps its session id when someone signs in
/// (strict mode: no new Set-Cookie) and a login endpoint the operator's config does not
/// name. The form post itself makes the gateway ask the diary who is signed in.
#[tokio::test]
async fn a_login_that_keeps_the_session_id_on_an_unlisted_endpoint_is_caught() {
    let mut diary = DiaryConfig::default();
    diary.rules.login_endpoints = esia_gateway::diary::endpoints::Endpoints::paths(&["/login"]);
    let stand = Stand::start_with(seed_004(), at("2019-02-01T12:00:00+03:00"), diary, |d| {
        d.strict_login = true
    })
    .await;
    let b = stand.browser();
    esia_linked(&stand, &b, "simplified", "student").await;
    // The strict diary's form token, as the attacker's page would read it.
    let form = b.get(&stand.url("/index.php?module=login")).await;
    let html = form.text().await.unwrap();
    let token = cutover_support::field_value(&html, "_token").unwrap_or_default();
    let _ = b
        .post(
            &stand.url("/index.php?module=login"),
            &[
                ("_token", token.as_str()),
                ("login", "teacher"),
                ("password", DEMO_PASSWORD),
            ],
        )
        .await;
    for path in ["/marks", "/", "/messages"] {
        let html = b.get(&stand.url(path)).await.text().await.unwrap();
        assert_ne!(
            served_as(&html).as_deref(),
            Some("teacher"),
            "{path} served teacher's page to student's ESIA session"
        );
    }
}

/// Issue 15: a password session opening the start page is not told «Вы уже вошли через
/// Госуслуги» (it did not); its button links the diary account to ESIA instead.
#[tokio::test]
async fn a_password_session_is_offered_the_link_not_told_it_signed_in_through_esia() {
    let stand = Stand::start(seed_004(), at("2018-10-01T12:00:00+03:00")).await;
    let b = stand.browser();
    let _ = stand.legacy_login(&b, "parent").await;
    let html = b.get(&stand.url("/esia/start")).await.text().await.unwrap();
    assert!(!html.contains("Вы уже вошли через Госуслуги"), "{html}");
    assert!(html.contains("action=\"/esia/link/start\""), "{html}");
    // An ESIA session is told, and a visitor gets the plain login.
    let e = stand.browser();
    esia_linked(&stand, &e, "confirmed", "student").await;
    let html = e.get(&stand.url("/esia/start")).await.text().await.unwrap();
    assert!(html.contains("Вы уже вошли через Госуслуги"), "{html}");
    let html = stand
        .browser()
        .get(&stand.url("/esia/start"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("action=\"/esia/login\""), "{html}");
}

/// Issue 10: someone who saw a victim's `state` (a shoulder, a proxy log, a shared
/// screen) forges a flow cookie with that state and a guessed secret and calls the
/// callback first. The gateway must refuse them *without* consuming the victim's
/// flow: the victim's own callback still signs her in.
#[tokio::test]
async fn a_seen_state_cannot_cancel_someone_elses_login() {
    let stand = Stand::start(seed_004(), at("2018-10-01T12:00:00+03:00")).await;
    let victim = stand.browser();
    let start = victim.get(&stand.url("/esia/login?return=/marks")).await;
    let authorize = location(&start);
    let state = url::Url::parse(&authorize)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("state in the authorize URL");

    let attacker = stand.browser();
    let forged = attacker
        .client
        .get(stand.url(&format!("/esia/callback?code=x&state={state}")))
        .header(
            "cookie",
            format!("__Host-gw_flow_0011223344556677={state}.guessed-secret"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);

    let cb = stand.at_esia(&victim, &authorize, "confirmed").await;
    assert_eq!(
        location(&cb),
        "/marks",
        "the victim's login was cancelled by a stranger who saw the state"
    );
}
