//! Issue 10: protected parameters from every place the diary reads them. The demo diary
//! routes `index.php` by `$_REQUEST['module']` (query, then form body, then cookies, the
//! later winning), like a PHP diary; a legacy session after the cutover must not reach
//! the grade page through a body or a cookie, while ordinary form posts still work.

mod cutover_support;
mod store_support;
mod support;

use cutover_support::{Stand, at, seed_004};
use esia_gateway::diary::config::DiaryConfig;
use esia_gateway::standins::demo_diary::{self, Route};
use http::StatusCode;

const MARKS: &str = "id=\"page-marks\"";

async fn legacy_stand(diary: DiaryConfig) -> (Stand, cutover_support::Browser) {
    let stand = Stand::start_with(seed_004(), at("2019-02-01T12:00:00+03:00"), diary, |_| {}).await;
    let b = stand.browser();
    let resp = stand.legacy_login(&b, "parent").await;
    assert!(resp.status().is_redirection(), "{}", resp.status());
    (stand, b)
}

#[test]
fn the_demo_diary_really_routes_by_the_body_and_the_cookies() {
    let form = demo_diary::parse_form(Some(b"application/x-www-form-urlencoded"), b"module=marks");
    let t = b"/index.php?module=homework";
    assert_eq!(
        demo_diary::resolve_request("POST", t, Some(&form), None),
        Route::Marks
    );
    let cookie = demo_diary::PhpParams::parse_cookies(b"module=marks");
    assert_eq!(
        demo_diary::resolve_request("GET", t, None, Some(&cookie)),
        Route::Marks
    );
}

#[tokio::test]
async fn a_grade_page_named_in_the_body_is_refused_to_a_legacy_session() {
    let (stand, b) = legacy_stand(DiaryConfig::default()).await;
    let multipart =
        "--BND\r\nContent-Disposition: form-data; name=\"module\"\r\n\r\nmarks\r\n--BND--\r\n";
    let cases: [(&str, &[u8]); 5] = [
        ("application/x-www-form-urlencoded", b"module=marks"),
        ("application/x-www-form-urlencoded", b"x=1&module=marks"),
        ("application/x-www-form-urlencoded", b"%20module=marks"),
        ("multipart/form-data; boundary=BND", multipart.as_bytes()),
        // Unreadable (raw windows-1251 bytes): fail closed for a path with a condition.
        (
            "application/x-www-form-urlencoded",
            b"module=\xec\xe0\xf0&x=1",
        ),
    ];
    for (ct, body) in cases {
        let resp = b
            .client
            .post(stand.url("/index.php?module=homework"))
            .header("content-type", ct)
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let html = resp.text().await.unwrap();
        let shown = String::from_utf8_lossy(body);
        assert!(
            !html.contains(MARKS),
            "{ct} {shown:?} reached the grade page"
        );
        assert_eq!(status, StatusCode::FORBIDDEN, "{ct} {shown:?}");
    }
    // A form that repeats its action's module, or names none, is an ordinary post.
    for body in ["module=messages&to=teacher&text=hi", "to=teacher&text=hi"] {
        let resp = b
            .post(
                &stand.url("/index.php?module=messages"),
                &body
                    .split('&')
                    .map(|p| p.split_once('=').unwrap())
                    .collect::<Vec<_>>(),
            )
            .await;
        assert_ne!(resp.status(), StatusCode::FORBIDDEN, "{body}");
    }
}

#[tokio::test]
async fn a_grade_page_named_in_a_passed_cookie_is_refused_to_a_legacy_session() {
    let diary = DiaryConfig {
        pass_cookies: vec!["module".into()],
        ..DiaryConfig::default()
    };
    let (stand, b) = legacy_stand(diary).await;
    let cookies = format!("{}; module=marks", b.cookie_header());
    let resp = b
        .client
        .get(stand.url("/index.php?module=homework"))
        .header("cookie", cookies)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let html = resp.text().await.unwrap();
    assert!(!html.contains(MARKS));
    assert_eq!(status, StatusCode::FORBIDDEN);
}
