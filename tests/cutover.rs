//! The cutover calendar end to end (issue 6): the real demo diary behind the gateway
//! (TLS, login, linking, cutover policy), the ESIA mock, and a calendar clock the tests
//! move. Both seed regions: seed 004 (transition with a banner, then restricted) and
//! seed 000 (ESIA only, legacy login disabled).

mod cutover_support;
mod store_support;
mod support;

use std::io::Read;

use cutover_support::{Browser, Stand, field_value, location, seed_000, seed_004};
use esia_gateway::store::AuditKind;
use http::StatusCode;

const MARKS: &str = "id=\"page-marks\"";
const BANNER: &str = "id=\"esia-gw-banner\"";
const AFTER_NOTICE: &str = "показывается только после входа через Госуслуги";
const DENIED_TITLE: &str = "Доступ к текущей успеваемости закрыт";

async fn body(resp: reqwest::Response) -> (StatusCode, String) {
    let status = resp.status();
    (status, resp.text().await.unwrap())
}

async fn page(stand: &Stand, b: &Browser, path: &str) -> (StatusCode, String) {
    body(b.get(&stand.url(path)).await).await
}

#[tokio::test]
async fn seed_004_legacy_user_before_during_after_the_cutover_then_linked() {
    let stand = Stand::start(seed_004(), cutover_support::at("2018-08-15T12:00:00+03:00")).await;
    let b = stand.browser();
    assert_eq!(location(&stand.legacy_login(&b, "parent").await), "/");

    // Before the transition: transparent, grades shown, no banner.
    let (status, html) = page(&stand, &b, "/marks").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(MARKS) && !html.contains(BANNER), "{html}");

    // Transition: grades still shown, the banner with the real cutover date and the link.
    stand.set_date("2018-10-01T09:00:00+03:00");
    let (status, html) = page(&stand, &b, "/marks").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(MARKS) && html.contains(BANNER), "{html}");
    assert!(html.contains("С 01 января 2019 г. вход"), "{html}");
    assert!(html.contains("href=\"/esia/link/start\""), "{html}");
    assert!(page(&stand, &b, "/").await.1.contains(BANNER));

    // One second before midnight Moscow: still open. At 00:00: closed, no restart.
    stand.set_date("2018-12-31T23:59:59+03:00");
    assert!(page(&stand, &b, "/marks").await.1.contains(MARKS));
    stand.set_date("2019-01-01T00:00:00+03:00");
    for path in ["/marks", "/index.php?module=marks", "/MARKS/", "/stats"] {
        let (status, html) = page(&stand, &b, path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert!(!html.contains(MARKS), "{path}");
        assert!(html.contains(DENIED_TITLE), "{html}");
        assert!(html.contains("Выполнить привязку к ЕСИА"), "{html}");
        assert!(html.contains("href=\"/esia/link/start\""), "{html}");
        assert!(html.contains("legacy-session-after-cutover"), "{html}");
    }
    // The cabinet still opens, with the post-cutover notice and the way to link
    // (issue 15: told on every page, not first met as a 403 on «Оценки»).
    let (status, html) = page(&stand, &b, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("page-dashboard")
            && html.contains(BANNER)
            && html.contains(AFTER_NOTICE)
            && html.contains("href=\"/esia/link/start\""),
        "{html}"
    );
    // New users only via ESIA.
    let (status, html) = page(&stand, &b, "/register").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("registration-closed"), "{html}");

    // Logged, counted and audited under the stable names.
    let metrics = stand.metrics().await;
    assert!(
        metrics.contains("esia_gateway_denied_total{reason=\"legacy-session-after-cutover\"} 4"),
        "{metrics}"
    );
    assert!(metrics.contains("esia_gateway_calendar_phase{phase=\"cutover-restricted\"} 1"));
    assert!(metrics.contains("esia_gateway_calendar_phase{phase=\"transition\"} 0"));
    let denied: Vec<_> = stand
        .audit()
        .await
        .into_iter()
        .filter(|(k, _)| *k == AuditKind::Denied)
        .collect();
    // Audited once a minute per user, reason and group (four refusals of grades and
    // stats pages → one event for each group; every refusal is still in the metric).
    assert_eq!(denied.len(), 3, "{denied:?}");
    assert_eq!(denied[0].1["reason"], "legacy-session-after-cutover");
    assert_eq!(denied[0].1["group"], "grades");
    assert_eq!(denied[1].1["group"], "stats");
    assert_eq!(denied[2].1["reason"], "registration-closed");

    // «выполнить привязку к ЕСИА» → ESIA → back: the same user now sees the grades.
    let start = b.get(&stand.url("/esia/link/start?return=/marks")).await;
    let cb = stand.at_esia(&b, &location(&start), "confirmed").await;
    assert_eq!(location(&cb), "/esia/link/confirm");
    let (_, linked) = stand.answer_link_confirmation(&b, "confirm").await;
    assert_eq!(location(&linked), "/marks");
    let (status, html) = page(&stand, &b, "/marks").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains(MARKS), "{html}");
    assert!(
        page(&stand, &b, "/index.php?module=marks")
            .await
            .1
            .contains(MARKS)
    );
}

#[tokio::test]
async fn seed_004_esia_user_linked_by_password_sees_grades_after_the_cutover() {
    let stand = Stand::start(seed_004(), cutover_support::at("2019-02-01T12:00:00+03:00")).await;
    let b = stand.browser();
    // Anonymous: sent to the ESIA start page, the canonical target (in the case the
    // browser sent it) kept as the return.
    let resp = b.get(&stand.url("/x/../MARKS")).await;
    assert_eq!(location(&resp), "/esia/start?return=/MARKS");
    let resp = b.get(&stand.url("/register")).await;
    assert_eq!(location(&resp), "/esia/start?return=/register");

    let cb = stand.esia_login(&b, "/marks", "confirmed").await;
    assert_eq!(location(&cb), "/marks");
    // Unlinked: the link step answers first (the form), not a refusal.
    let resp = stand.link_from(&b, "/marks", "/marks", "parent").await;
    assert!(resp.status().is_redirection(), "{}", resp.status());
    let (status, html) = page(&stand, &b, "/marks").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains(MARKS));
}

#[tokio::test]
async fn seed_000_only_esia_from_2016_the_legacy_form_is_refused() {
    let stand = Stand::start(seed_000(), cutover_support::at("2015-12-31T12:00:00+03:00")).await;
    let b = stand.browser();
    // The day before: the legacy password still works, grades shown.
    assert_eq!(location(&stand.legacy_login(&b, "student").await), "/");
    assert!(page(&stand, &b, "/marks").await.1.contains(MARKS));

    // 00:00 Moscow on 2016-01-01: the same legacy session is no longer honoured.
    stand.set_date("2016-01-01T00:00:00+03:00");
    for path in ["/", "/marks", "/homework"] {
        let (status, html) = page(&stand, &b, path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert!(html.contains("legacy-login-disabled"), "{html}");
        assert!(html.contains("Войти через Госуслуги"), "{html}");
    }
    // Anonymous visitors get the ESIA start page; the legacy form POST is refused.
    let anon = stand.browser();
    assert_eq!(
        location(&anon.get(&stand.url("/")).await),
        "/esia/start?return=/"
    );
    assert_eq!(
        location(&anon.get(&stand.url("/login")).await),
        "/esia/start?return=/login"
    );
    let resp = stand.legacy_login(&anon, "student").await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let html = resp.text().await.unwrap();
    assert!(html.contains("Вход по логину и паролю отключён"), "{html}");
    assert!(html.contains("href=\"/esia/start?return=/\""), "{html}");
    assert!(
        anon.cookie_header().is_empty(),
        "no session from a refused form"
    );
    assert!(
        stand
            .metrics()
            .await
            .contains("esia_gateway_calendar_phase{phase=\"cutover-disabled\"} 1")
    );

    // The ESIA way in: login, link once with the diary password, grades shown.
    let cb = stand.esia_login(&anon, "/marks", "confirmed").await;
    assert_eq!(location(&cb), "/marks");
    let link_page = location(&anon.get(&stand.url("/marks")).await);
    let html = anon.get(&stand.url(&link_page)).await.text().await.unwrap();
    let csrf = field_value(&html, "csrf").expect("csrf");
    let resp = anon
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
    assert!(resp.status().is_redirection());
    assert!(page(&stand, &anon, "/marks").await.1.contains(MARKS));
}

#[tokio::test]
async fn the_banner_is_in_html_pages_and_nowhere_else() {
    let stand = Stand::start(seed_004(), cutover_support::at("2018-11-01T12:00:00+03:00")).await;
    let b = stand.browser();
    // Anonymous, diary session absent: the diary redirects; a redirect stays untouched.
    let resp = b.get(&stand.url("/marks")).await;
    assert!(location(&resp).starts_with("/login"));
    assert!(!resp.text().await.unwrap().contains("esia-gw"));
    // The login page: banner (anonymous variant) and the ESIA button after the form.
    let (_, html) = page(&stand, &b, "/login").await;
    assert!(html.contains(BANNER), "{html}");
    assert!(html.contains("id=\"esia-gw-login\""), "{html}");
    assert!(html.contains("Войти через Госуслуги"));
    let form_end = html.find("</form>").unwrap();
    assert!(
        html.find("esia-gw-login").unwrap() > form_end,
        "after the form"
    );

    stand.legacy_login(&b, "student").await;
    // gzip: asked for, re-compressed, decoded here.
    let resp = b
        .client
        .get(stand.url("/homework"))
        .header("accept-encoding", "gzip, br")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    let bytes = resp.bytes().await.unwrap();
    let mut html = String::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut html)
        .unwrap();
    assert!(
        html.contains(BANNER) && html.contains("page-homework"),
        "{html}"
    );

    // windows-1251: the banner is encoded in the page's charset.
    let resp = b.get(&stand.url("/schedule")).await;
    let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.to_ascii_lowercase().contains("1251"), "{ct}");
    let bytes = resp.bytes().await.unwrap();
    let (html, _, bad) = encoding_rs::WINDOWS_1251.decode(&bytes);
    assert!(!bad, "valid windows-1251");
    assert!(html.contains(BANNER) && html.contains("Выполнить привязку к ЕСИА"));
    assert!(html.contains("page-schedule"));

    // JSON and HEAD are not touched.
    let resp = b.get(&stand.url("/api/me")).await;
    let text = resp.text().await.unwrap();
    assert!(!text.contains("esia-gw"), "{text}");
    serde_json::from_str::<serde_json::Value>(&text).unwrap();
    let resp = b.client.head(stand.url("/")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.bytes().await.unwrap().is_empty());

    // A script loading a piece of HTML gets the diary's bytes; a navigation the banner.
    for (name, value) in [
        ("sec-fetch-dest", "empty"),
        ("x-requested-with", "XMLHttpRequest"),
    ] {
        let resp = b
            .client
            .get(stand.url("/homework"))
            .header(name, value)
            .send()
            .await
            .unwrap();
        let html = resp.text().await.unwrap();
        assert!(
            html.contains("page-homework") && !html.contains("esia-gw"),
            "{name}: {html}"
        );
    }
    let resp = b
        .client
        .get(stand.url("/homework"))
        .header("sec-fetch-dest", "document")
        .send()
        .await
        .unwrap();
    assert!(resp.text().await.unwrap().contains(BANNER));

    // After the cutover: the transition's notice gives way to the post-cutover one.
    stand.set_date("2019-01-01T00:00:00+03:00");
    let html = page(&stand, &b, "/homework").await.1;
    assert!(
        html.contains(AFTER_NOTICE) && !html.contains("будет возможен"),
        "{html}"
    );
    // Anonymous at the login page: the ESIA button first, above the password form.
    let anon = stand.browser();
    let (_, html) = page(&stand, &anon, "/login").await;
    let button = html.find("esia-gw-login").expect("the ESIA button");
    assert!(button < html.find("<form").unwrap(), "button first: {html}");
}

#[tokio::test]
async fn the_login_page_shows_the_esia_button_before_the_transition_too() {
    let stand = Stand::start(seed_004(), cutover_support::at("2018-01-10T12:00:00+03:00")).await;
    let b = stand.browser();
    let (status, html) = page(&stand, &b, "/login").await;
    assert_eq!(status, StatusCode::OK);
    // One click to Госуслуги: the button starts the ESIA login itself.
    assert!(
        html.contains("id=\"esia-gw-login\"") && html.contains("href=\"/esia/login?return=/\""),
        "{html}"
    );
    assert!(!html.contains(BANNER), "no notice before the transition");
    // Registration open before the cutover.
    assert_eq!(page(&stand, &b, "/register").await.0, StatusCode::OK);
    assert!(
        stand
            .metrics()
            .await
            .contains("esia_gateway_calendar_phase{phase=\"before-transition\"} 1")
    );
}
