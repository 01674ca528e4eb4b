//! The demo diary as a user and an attacker see it: a real server on 127.0.0.1:0,
//! reqwest with a cookie store for the stories, and a raw-socket client for the
//! spellings a URL library would "fix" before sending (dot segments, backslashes,
//! bad UTF-8).

use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use esia_gateway::clock::ManualClock;
use esia_gateway::standins::demo_diary::{
    self, BAD_LOGIN, DEMO_PASSWORD, DiaryConfig, RunningDiary, demo_accounts,
};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE, LOCATION, SET_COOKIE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod login_forms_support;
use login_forms_support::login_form_rows;

const IDLE: Duration = Duration::from_secs(600);

async fn start_with(gzip: bool) -> (RunningDiary, Arc<ManualClock>) {
    start_config(gzip, false).await
}

async fn start_config(gzip: bool, strict_login: bool) -> (RunningDiary, Arc<ManualClock>) {
    let clock = ManualClock::new(Utc::now());
    let config = DiaryConfig {
        session_idle: IDLE,
        gzip,
        clock: clock.clone(),
        strict_login,
        ..DiaryConfig::new("127.0.0.1:0".parse().unwrap())
    };
    (demo_diary::start(config).await.unwrap(), clock)
}

async fn start() -> (RunningDiary, Arc<ManualClock>) {
    start_with(true).await
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Logs `login` in with the demo password; returns the session cookie value.
async fn login(c: &reqwest::Client, base: &str, login: &str) -> String {
    let r = c
        .post(format!("{base}/login"))
        .form(&[("login", login), ("password", DEMO_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND, "login as {login}");
    let cookie = r.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    let value = cookie.split(';').next().unwrap();
    value.strip_prefix("RIDSESSID=").unwrap().to_owned()
}

async fn get_text(c: &reqwest::Client, url: &str) -> (StatusCode, String) {
    let r = c.get(url).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

/// A raw HTTP/1.1 exchange, target bytes sent as they are.
struct Raw {
    status: u16,
    head: String,
    body: Vec<u8>,
}

async fn raw(addr: SocketAddr, method: &str, target: &[u8], cookie: Option<&str>) -> Raw {
    let mut req = Vec::new();
    req.extend_from_slice(method.as_bytes());
    req.push(b' ');
    req.extend_from_slice(target);
    req.extend_from_slice(b" HTTP/1.1\r\nHost: diary\r\nConnection: close\r\n");
    if let Some(id) = cookie {
        req.extend_from_slice(format!("Cookie: RIDSESSID={id}\r\n").as_bytes());
    }
    req.extend_from_slice(b"\r\n");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(&req).await.unwrap();
    let mut all = Vec::new();
    stream.read_to_end(&mut all).await.unwrap();
    let split = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(all.len());
    let head = String::from_utf8_lossy(&all[..split]).into_owned();
    let status = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = all.get(split + 4..).unwrap_or_default().to_vec();
    Raw { status, head, body }
}

fn marker(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let at = text.find("<h1 id=\"")? + 8;
    let end = text[at..].find('"')? + at;
    Some(text[at..end].to_owned())
}

#[tokio::test]
async fn login_success_sets_an_http_only_session_cookie_and_opens_the_dashboard() {
    let (diary, _) = start().await;
    let base = diary.url();
    let c = client();
    let r = c
        .post(format!("{base}/login"))
        .form(&[("login", "student"), ("password", "demo")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(r.headers()[LOCATION], "/");
    let cookie = r.headers()[SET_COOKIE].to_str().unwrap();
    assert!(cookie.starts_with("RIDSESSID="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("Path=/"),
        "{cookie}"
    );
    let (status, html) = get_text(&c, &format!("{base}/")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"page-dashboard\">Панель управления"));
    assert!(html.contains("Региональный Интернет Дневник 4.1"));
    assert!(html.contains("2026-2027 учебный год"));
    assert!(html.contains("<span class=\"whoami\" id=\"whoami\">Учащийся @ student</span>"));
    assert!(html.contains("(11 «В»)"));
    assert!(html.contains("Петров Алексей Сергеевич") && html.contains("Выйти"));
    for tile in [
        "Домашнее задание",
        "Оценки",
        "Текущая успеваемость",
        "Ваши учителя",
        "Расписание",
    ] {
        assert!(html.contains(tile), "{tile}");
    }
    diary.shutdown().await;
}

#[tokio::test]
async fn bad_credentials_get_the_diary_wording_and_no_session() {
    let (diary, _) = start().await;
    let base = diary.url();
    let c = client();
    let attempts: [&[(&str, &str)]; 7] = [
        &[("login", "student"), ("password", "wrong")],
        &[("login", "nobody"), ("password", "demo")],
        &[("login", "STUDENT"), ("password", "demo")],
        &[("login", "student"), ("password", "demo ")],
        &[("login", "student"), ("password", "")],
        &[("login", ""), ("password", "")],
        &[("login", "student"), ("password[]", "demo")],
    ];
    for form in attempts {
        let r = c
            .post(format!("{base}/login"))
            .form(form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{form:?}");
        assert!(r.headers().get(SET_COOKIE).is_none(), "{form:?}");
        let html = r.text().await.unwrap();
        assert!(
            html.contains(BAD_LOGIN) && html.contains("Неверный логин или пароль"),
            "{form:?}"
        );
        assert!(html.contains("id=\"page-login\""));
    }
    let r = c
        .post(format!("{base}/login"))
        .body("garbage\u{0}&&==")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (status, _) = get_text(&c, &format!("{base}/marks")).await;
    assert_eq!(status, StatusCode::FOUND);
}

#[tokio::test]
async fn login_form_has_the_seed_fields_and_keeps_the_return_path() {
    let (diary, _) = start().await;
    let base = diary.url();
    let c = client();
    let (_, html) = get_text(&c, &format!("{base}/login?return=/marks")).await;
    for word in [
        "Вход на сайт",
        "Логин",
        "Пароль",
        "запомнить меня",
        "name=\"return\" value=\"/marks\"",
    ] {
        assert!(html.contains(word), "{word}");
    }
    let cases = [
        ("/index.php?module=marks", "/index.php?module=marks"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
    ];
    for (ret, expected) in cases {
        let r = c
            .post(format!("{base}/login"))
            .form(&[("login", "parent"), ("password", "demo"), ("return", ret)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()[LOCATION], expected, "{ret}");
    }
}

#[tokio::test]
async fn pages_without_a_session_redirect_to_login_with_the_page_to_return_to() {
    let (diary, _) = start().await;
    let base = diary.url();
    let c = client();
    for (path, location) in [
        ("/marks", "/login?return=/marks"),
        ("/", "/login?return=/"),
        (
            "/index.php?module=marks",
            "/login?return=/index.php%3Fmodule%3Dmarks",
        ),
        ("/schedule", "/login?return=/schedule"),
    ] {
        let r = c.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FOUND, "{path}");
        assert_eq!(r.headers()[LOCATION], location, "{path}");
    }
    // A forged or unknown cookie is no session either.
    let r = raw(
        diary.addr(),
        "GET",
        b"/marks",
        Some("00112233445566778899aabbccddeeff"),
    )
    .await;
    assert_eq!(r.status, 302);
    let (status, html) = get_text(&c, &format!("{base}/register")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"page-register\""));
}

#[tokio::test]
async fn logout_ends_the_session_on_the_server() {
    let (diary, _) = start().await;
    let base = diary.url();
    let c = client();
    let id = login(&c, &base, "teacher").await;
    let r = c.get(format!("{base}/logout")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(r.headers()[LOCATION], "/login");
    assert!(
        r.headers()[SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    // The old id no longer works, even when a client keeps sending it.
    let r = raw(diary.addr(), "GET", b"/marks", Some(&id)).await;
    assert_eq!(r.status, 302);
    assert!(
        r.head.contains("location: /login?return=/marks"),
        "{}",
        r.head
    );
}

#[tokio::test]
async fn sessions_expire_after_the_idle_time_and_each_request_refreshes_them() {
    let (diary, clock) = start().await;
    let base = diary.url();
    let c = client();
    login(&c, &base, "student").await;
    let step = TimeDelta::from_std(IDLE).unwrap() - TimeDelta::seconds(60);
    clock.advance(step);
    assert_eq!(
        get_text(&c, &format!("{base}/marks")).await.0,
        StatusCode::OK
    );
    clock.advance(step);
    assert_eq!(
        get_text(&c, &format!("{base}/api/me")).await.0,
        StatusCode::OK
    );
    clock.advance(TimeDelta::from_std(IDLE).unwrap() + TimeDelta::seconds(1));
    let r = c.get(format!("{base}/marks")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(r.headers()[LOCATION], "/login?return=/marks");
    assert_eq!(
        get_text(&c, &format!("{base}/api/me")).await.0,
        StatusCode::UNAUTHORIZED
    );
    // Logging in again heals it: what the gateway's transparent re-login will do.
    login(&c, &base, "student").await;
    assert_eq!(
        get_text(&c, &format!("{base}/marks")).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn grades_depend_on_the_role() {
    let (diary, _) = start().await;
    let base = diary.url();
    let marks_of = |who: &'static str| {
        let base = base.clone();
        async move {
            let c = client();
            login(&c, &base, who).await;
            let (status, html) = get_text(&c, &format!("{base}/marks")).await;
            assert_eq!(status, StatusCode::OK);
            assert!(
                html.contains("<h1 id=\"page-marks\">Текущая успеваемость</h1>"),
                "{who}"
            );
            html
        }
    };
    let student = marks_of("student").await;
    assert!(student.contains("<b class=\"pupil\">Петров Алексей Сергеевич</b>"));
    assert!(student.contains("Физика") && !student.contains("Иванов Дмитрий"));
    let parent = marks_of("parent").await;
    assert!(parent.contains("<b class=\"pupil\">Иванов Дмитрий Алексеевич</b>"));
    assert!(!parent.contains("Петров Алексей") && !parent.contains("Физика"));
    let teacher = marks_of("teacher").await;
    assert!(
        teacher.contains("Журнал: 5 «А», Математика")
            && teacher.contains("Журнал: 11 «В», Математика")
    );
    assert!(!teacher.contains("Журнал: 11 «В», Физика"));
    let class_teacher = marks_of("classteacher").await;
    assert!(class_teacher.contains("Журнал: 11 «В», Физика"));
    assert!(!class_teacher.contains("Журнал: 5 «А»"));
    for staff in ["headteacher", "director", "admin"] {
        let html = marks_of(staff).await;
        assert!(
            html.contains("Сводная ведомость: 5 «А»") && html.contains("Сводная ведомость: 11 «В»")
        );
    }
}

#[tokio::test]
async fn api_me_answers_each_account_and_401_without_a_session() {
    let (diary, _) = start().await;
    let base = diary.url();
    let r = client().get(format!("{base}/api/me")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        r.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"], "not_authenticated");
    let accounts = demo_accounts();
    assert_eq!(accounts.len(), 8);
    for (login_name, role, full_name) in accounts {
        let c = client();
        login(&c, &base, login_name).await;
        let v: serde_json::Value = c
            .get(format!("{base}/api/me"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut expected = serde_json::json!({
            "login": login_name, "role": role, "full_name": full_name, "name": full_name,
        });
        if login_name == "student" {
            expected["birth_date"] = "03.02.2011".into();
        }
        assert_eq!(v, expected);
    }
    let roles: Vec<_> = demo_accounts().into_iter().map(|a| a.1).collect();
    assert_eq!(
        roles,
        [
            "student",
            "parent",
            "parent",
            "teacher",
            "class_teacher",
            "head_teacher",
            "director",
            "admin"
        ]
    );
}

#[tokio::test]
async fn every_page_has_its_marker() {
    let (diary, _) = start().await;
    let base = diary.url();
    let c = client();
    login(&c, &base, "student").await;
    for (path, id) in [
        ("/", "page-dashboard"),
        ("/marks", "page-marks"),
        ("/stats", "page-stats"),
        ("/homework", "page-homework"),
        ("/messages", "page-messages"),
        ("/teachers", "page-teachers"),
        ("/files", "page-files"),
        ("/register", "page-register"),
        ("/login", "page-login"),
        ("/index.php?module=stats", "page-stats"),
        ("/index.php?module=nope", "page-not-found"),
        ("/nope", "page-not-found"),
    ] {
        let r = c.get(format!("{base}{path}")).send().await.unwrap();
        let expected = if id == "page-not-found" {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::OK
        };
        assert_eq!(r.status(), expected, "{path}");
        assert_eq!(
            marker(&r.bytes().await.unwrap()).as_deref(),
            Some(id),
            "{path}"
        );
    }
}

/// The grade page under every lenient spelling, sent byte for byte.
const GRADE_SPELLINGS: &[&[u8]] = &[
    b"/marks",
    b"/MARKS/",
    b"/Marks",
    b"//marks",
    b"/./marks",
    b"/marks/",
    b"/marks//",
    b"/Marks;x=1",
    b"/marks;jsessionid=abc",
    b"/foo/../marks",
    b"/foo/%2e%2e/marks",
    b"/foo/%2E%2E/marks",
    b"/../../marks",
    b"/foo/..;/marks",
    b"/%6Darks",
    b"/%6d%61%72%6b%73",
    b"/%2Fmarks",
    b"/foo%2F..%2Fmarks",
    b"/foo%5C..%5Cmarks",
    b"/foo\\..\\marks",
    b"/marks?unrelated=1",
    b"/marks#frag",
    b"http://other.host/marks",
    b"/index.php?module=marks",
    b"/index.php/?MODULE=marks",
    b"/INDEX.PHP?module=MARKS",
    b"/index.php?module=Marks",
    b"/index.php?module=stats&module=marks",
    b"/index.php?MODULE=stats&module=marks",
    b"/index.php?mod%75le=marks",
    b"/index.php?module=%6Darks",
    b"/index.php?+module=marks",
    b"/index.php?module%00x=marks",
    b"/index.php?module[]=x&module=marks",
    b"/index.php/anything/else?module=marks",
    b"/index.php;x=1?module=marks",
    b"/./index.php/?module=marks",
];

/// Spellings that look like the grade page but are not it, and what they are.
const NOT_GRADES: &[(&[u8], u16, &str)] = &[
    (b"/index.php?module[]=marks", 200, "page-dashboard"),
    (b"/index.php?module[x]=marks", 200, "page-dashboard"),
    (b"/index.php?module=marks&module[]=x", 200, "page-dashboard"),
    (b"/index.php?module.=marks", 200, "page-dashboard"),
    (b"/index.php?module=stats", 200, "page-stats"),
    (b"/index.php?module=marks;", 404, "page-not-found"),
    (b"/index.php?module=mark", 404, "page-not-found"),
    (b"/marks+", 404, "page-not-found"),
    (b"/marks%3Bx", 404, "page-not-found"),
    (b"/%252Fmarks", 404, "page-not-found"),
    (b"/foo%2Fmarks", 404, "page-not-found"),
    (b"/marks/extra", 404, "page-not-found"),
    (b"/marks.php", 404, "page-not-found"),
    (b"/m%C3%A1rks", 404, "page-not-found"),
    (b"/\xC5\xBFtats", 404, "page-not-found"),
];

#[tokio::test]
async fn every_lenient_spelling_of_the_grade_page_serves_it() {
    let (diary, _) = start().await;
    let id = login(&client(), &diary.url(), "student").await;
    for target in GRADE_SPELLINGS {
        let shown = String::from_utf8_lossy(target);
        assert_eq!(
            demo_diary::resolve("GET", target),
            demo_diary::Route::Marks,
            "{shown}"
        );
        let r = raw(diary.addr(), "GET", target, Some(&id)).await;
        assert_eq!(r.status, 200, "{shown}: {}", r.head);
        assert_eq!(marker(&r.body).as_deref(), Some("page-marks"), "{shown}");
    }
    for (target, status, page) in NOT_GRADES {
        let shown = String::from_utf8_lossy(target);
        assert_ne!(
            demo_diary::resolve("GET", target),
            demo_diary::Route::Marks,
            "{shown}"
        );
        let r = raw(diary.addr(), "GET", target, Some(&id)).await;
        assert_eq!(r.status, *status, "{shown}: {}", r.head);
        assert_eq!(marker(&r.body).as_deref(), Some(*page), "{shown}");
    }
}

#[tokio::test]
async fn methods_are_ignored_for_reads_and_head_has_no_body() {
    let (diary, _) = start().await;
    let id = login(&client(), &diary.url(), "parent").await;
    for method in [
        "GET", "POST", "PUT", "DELETE", "PROPFIND", "OPTIONS", "FOO", "get",
    ] {
        let r = raw(diary.addr(), method, b"/marks", Some(&id)).await;
        assert_eq!(r.status, 200, "{method}");
        assert_eq!(marker(&r.body).as_deref(), Some("page-marks"), "{method}");
    }
    // Only an exact POST submits: a lowercase `post` to /login just shows the form.
    let r = raw(diary.addr(), "post", b"/login", None).await;
    assert_eq!(
        (r.status, marker(&r.body).as_deref()),
        (200, Some("page-login"))
    );
    let r = raw(diary.addr(), "HEAD", b"/marks", Some(&id)).await;
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    let length: usize = r
        .head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .unwrap()
        .parse()
        .unwrap();
    let full = raw(diary.addr(), "GET", b"/marks", Some(&id)).await;
    assert_eq!(length, full.body.len());
}

#[tokio::test]
async fn html_is_gzipped_only_when_asked_and_enabled() {
    let (diary, _) = start().await;
    let base = diary.url();
    let c = client();
    login(&c, &base, "student").await;
    let r = c
        .get(format!("{base}/marks"))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()[CONTENT_ENCODING], "gzip");
    let zipped = r.bytes().await.unwrap();
    let mut html = String::new();
    flate2::read::GzDecoder::new(&zipped[..])
        .read_to_string(&mut html)
        .unwrap();
    assert!(html.contains("id=\"page-marks\""));
    let r = c
        .get(format!("{base}/marks"))
        .header("Accept-Encoding", "gzip;q=0")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get(CONTENT_ENCODING).is_none());
    let r = c.get(format!("{base}/marks")).send().await.unwrap();
    assert!(r.headers().get(CONTENT_ENCODING).is_none());
    assert!(r.text().await.unwrap().contains("id=\"page-marks\""));
    // JSON is never compressed.
    let r = c
        .get(format!("{base}/api/me"))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get(CONTENT_ENCODING).is_none());

    let (plain, _) = start_with(false).await;
    let c = client();
    login(&c, &plain.url(), "student").await;
    let r = c
        .get(format!("{}/marks", plain.url()))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get(CONTENT_ENCODING).is_none());
}

#[tokio::test]
async fn the_schedule_is_served_in_windows_1251() {
    let (diary, _) = start().await;
    let base = diary.url();
    let c = client();
    login(&c, &base, "student").await;
    let r = c.get(format!("{base}/schedule")).send().await.unwrap();
    assert_eq!(r.headers()[CONTENT_TYPE], "text/html; charset=windows-1251");
    let bytes = r.bytes().await.unwrap();
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "Cyrillic must not be UTF-8 here"
    );
    let (html, _, had_errors) = encoding_rs::WINDOWS_1251.decode(&bytes);
    assert!(!had_errors);
    assert!(html.contains("<meta charset=\"windows-1251\">"));
    assert!(html.contains("<h1 id=\"page-schedule\">Расписание занятий на неделю</h1>"));
    assert!(html.contains("Понедельник") && html.contains("11 «В»"));
    // Both at once: windows-1251 bytes inside gzip.
    let r = c
        .get(format!("{base}/schedule"))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()[CONTENT_ENCODING], "gzip");
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&r.bytes().await.unwrap()[..])
        .read_to_end(&mut unzipped)
        .unwrap();
    assert_eq!(unzipped, bytes);
    // Other pages stay UTF-8.
    let r = c.get(format!("{base}/homework")).send().await.unwrap();
    assert_eq!(r.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
}

#[tokio::test]
async fn messages_are_sent_with_a_post_form_and_reach_the_recipient() {
    let (diary, _) = start().await;
    let base = diary.url();
    let parent = client();
    login(&parent, &base, "parent").await;
    let r = parent
        .post(format!("{base}/messages"))
        .form(&[
            ("to", "teacher"),
            ("subject", "Вопрос"),
            ("body", "Когда контрольная? <b>x</b>"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("Сообщение отправлено"));
    assert!(html.contains("Когда контрольная? &lt;b&gt;x&lt;/b&gt;") && !html.contains("<b>x</b>"));
    let teacher = client();
    login(&teacher, &base, "teacher").await;
    let (_, inbox) = get_text(&teacher, &format!("{base}/messages")).await;
    assert!(inbox.contains("Вопрос") && inbox.contains("Иванова Мария Ивановна"));
    let (_, other) = get_text(&client(), &format!("{base}/messages")).await;
    assert!(!other.contains("Вопрос"));

    let bad: [&[(&str, &str)]; 4] = [
        &[("to", "nobody"), ("body", "x")],
        &[("to", "teacher"), ("body", "   ")],
        &[("to[]", "teacher"), ("body", "x")],
        &[("to", "teacher")],
    ];
    for form in bad {
        let r = parent
            .post(format!("{base}/messages"))
            .form(form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{form:?}");
    }
    let long = "я".repeat(2001);
    let r = parent
        .post(format!("{base}/messages"))
        .form(&[("to", "teacher"), ("body", long.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Sending needs a session like every page.
    let r = client()
        .post(format!("{base}/messages"))
        .form(&[("to", "teacher"), ("body", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
}

#[tokio::test]
async fn self_registration_creates_a_pending_account_only() {
    let (diary, _) = start().await;
    let base = diary.url();
    let c = client();
    let form = [
        ("login", "newpupil"),
        ("full_name", "Новиков Илья"),
        ("role", "student"),
        ("password", "secret1"),
    ];
    let r = c
        .post(format!("{base}/register"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("ожидает подтверждения"));
    let r = c
        .post(format!("{base}/register"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "duplicate");
    let refused: [&[(&str, &str)]; 6] = [
        &[
            ("login", "student"),
            ("full_name", "X"),
            ("role", "student"),
            ("password", "pass"),
        ],
        &[
            ("login", "Bad Login"),
            ("full_name", "X"),
            ("role", "student"),
            ("password", "pass"),
        ],
        &[
            ("login", "ab"),
            ("full_name", "X"),
            ("role", "student"),
            ("password", "pass"),
        ],
        &[
            ("login", "okname"),
            ("full_name", ""),
            ("role", "student"),
            ("password", "pass"),
        ],
        &[
            ("login", "okname"),
            ("full_name", "X"),
            ("role", "admin"),
            ("password", "pass"),
        ],
        &[
            ("login", "okname"),
            ("full_name", "X"),
            ("role", "parent"),
            ("password", "p"),
        ],
    ];
    for form in refused {
        let r = c
            .post(format!("{base}/register"))
            .form(form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{form:?}");
    }
    // Pending is not active: the new login cannot sign in.
    let r = c
        .post(format!("{base}/login"))
        .form(&[("login", "newpupil"), ("password", "secret1")])
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains(BAD_LOGIN));
    let admin = client();
    login(&admin, &base, "admin").await;
    let (_, html) = get_text(&admin, &format!("{base}/")).await;
    assert!(html.contains("Заявки на регистрацию") && html.contains("Новиков Илья"));
}

#[tokio::test]
async fn huge_bodies_get_413() {
    let (diary, _) = start().await;
    let base = diary.url();
    let c = client();
    let big = vec![b'a'; demo_diary::MAX_BODY + 1];
    let r = c
        .post(format!("{base}/login"))
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Chunked, so no Content-Length to refuse early: the limit holds while reading.
    let chunks = futures_util::stream::iter(
        big.chunks(8192)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    );
    let r = c
        .post(format!("{base}/register"))
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let r = c
        .post(format!("{base}/login"))
        .form(&[("login", "a")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn garbage_requests_get_answers_and_the_diary_keeps_serving() {
    let (diary, _) = start().await;
    let long_path = format!("/{}", "a/".repeat(4000));
    // (target, expected status): refused by the HTTP layer, or routed to a 404,
    // or to the login redirect: never a dropped connection or a 5xx.
    let targets: Vec<(&[u8], u16)> = vec![
        (b"*", 400),
        (b"/%", 404),
        (b"/%zz%", 404),
        (b"/\xff\xfe", 400),
        (b"/%ff%00", 404),
        (b"/index.php?module=%ff", 404),
        (b"/index.php?%5B=1&[]=2&a[[[[=3&=&&&", 302),
        (b"http://", 400),
        (b"https://x", 302),
        (long_path.as_bytes(), 404),
    ];
    for (target, expected) in targets {
        let r = raw(diary.addr(), "GET", target, None).await;
        assert_eq!(
            r.status,
            expected,
            "{}: {}",
            String::from_utf8_lossy(target),
            r.head
        );
    }
    let r = raw(diary.addr(), "GET", b"/login", None).await;
    assert_eq!(r.status, 200);
    let (status, _) = get_text(&client(), &format!("{}/login", diary.url())).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn shutdown_closes_the_listener() {
    let (diary, _) = start().await;
    let addr = diary.addr();
    assert_eq!(diary.url(), format!("http://127.0.0.1:{}", addr.port()));
    diary.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn the_first_session_cookie_wins_like_php() {
    let (diary, _) = start().await;
    let base = diary.url();
    let id = login(&client(), &base, "student").await;
    let bare = client();
    let ask = |cookie: String| {
        bare.get(format!("{base}/api/me"))
            .header("Cookie", cookie)
            .send()
    };
    assert_eq!(
        ask(format!("RIDSESSID={id}; RIDSESSID=bogus"))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        ask(format!("RIDSESSID=bogus; RIDSESSID={id}"))
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        ask(format!("x=1; RIDSESSID=\"{id}\""))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn http2_requests_route_like_http1() {
    let (diary, _) = start().await;
    let base = diary.url();
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    login(&h2, &base, "parent").await;
    let r = h2
        .get(format!("{base}/index.php?module=marks"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        marker(&r.bytes().await.unwrap()).as_deref(),
        Some("page-marks")
    );
    let r = reqwest::Client::builder()
        .http2_prior_knowledge()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{base}/marks"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()[LOCATION], "/login?return=/marks");
}

// ---- Forms read like PHP, alternative endpoints, strict login, identity (issue 9) ----

/// The session id a response sets, if any.
fn set_session(r: &reqwest::Response) -> Option<String> {
    let cookie = r.headers().get(SET_COOKIE)?.to_str().ok()?;
    let value = cookie.split(';').next()?.strip_prefix("RIDSESSID=")?;
    Some(value.to_owned())
}

/// Who the diary says is signed in on session `id` (`None`: 401).
async fn whoami(base: &str, id: &str) -> Option<String> {
    let r = client()
        .get(format!("{base}/api/me"))
        .header("Cookie", format!("RIDSESSID={id}"))
        .send()
        .await
        .unwrap();
    if r.status() == StatusCode::UNAUTHORIZED {
        return None;
    }
    let v: serde_json::Value = r.json().await.unwrap();
    Some(v["login"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn every_hostile_login_body_signs_in_exactly_whom_parse_form_reads() {
    let rows = login_form_rows();
    assert!(rows.len() >= 60, "{} rows", rows.len());
    let (diary, _) = start().await;
    let base = diary.url();
    let accounts: Vec<&str> = demo_accounts().into_iter().map(|a| a.0).collect();
    for row in rows {
        let form = demo_diary::parse_form(row.content_type.map(str::as_bytes), &row.body);
        assert_eq!(
            form.scalar("login").map(<[u8]>::to_vec),
            row.reads,
            "parse_form: {}",
            row.note
        );
        let expected = row
            .reads
            .as_deref()
            .and_then(|l| std::str::from_utf8(l).ok())
            .filter(|l| accounts.contains(l) && form.text("password").as_deref() == Some("demo"));
        let mut req = client()
            .post(format!("{base}/login"))
            .body(row.body.clone());
        if let Some(ct) = row.content_type {
            req = req.header(CONTENT_TYPE, ct);
        }
        let r = req.send().await.unwrap();
        match expected {
            Some(login) => {
                assert_eq!(r.status(), StatusCode::FOUND, "{}", row.note);
                let id = set_session(&r).unwrap();
                assert_eq!(
                    whoami(&base, &id).await.as_deref(),
                    Some(login),
                    "{}",
                    row.note
                );
            }
            None => {
                assert_eq!(r.status(), StatusCode::OK, "{}", row.note);
                assert!(set_session(&r).is_none(), "{}", row.note);
                assert!(r.text().await.unwrap().contains(BAD_LOGIN), "{}", row.note);
            }
        }
    }
}

#[tokio::test]
async fn every_login_and_logout_endpoint_works_and_each_login_rotates_the_id() {
    let (diary, _) = start().await;
    let base = diary.url();
    let mut previous: Option<String> = None;
    for path in [
        "/login",
        "/login.php",
        "/index.php?module=login",
        "/INDEX.PHP?Module=LOGIN",
        "/Login.php/anything",
    ] {
        let c = client();
        if let Some(old) = &previous {
            // A browser that already has a session gets a new id, the old one dies.
            c.get(format!("{base}/api/me"))
                .header("Cookie", format!("RIDSESSID={old}"))
                .send()
                .await
                .unwrap();
        }
        let mut req = c
            .post(format!("{base}{path}"))
            .form(&[("login", "teacher"), ("password", DEMO_PASSWORD)]);
        if let Some(old) = &previous {
            req = req.header("Cookie", format!("RIDSESSID={old}"));
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FOUND, "{path}");
        let id = set_session(&r).unwrap();
        assert_eq!(
            whoami(&base, &id).await.as_deref(),
            Some("teacher"),
            "{path}"
        );
        if let Some(old) = &previous {
            assert_ne!(old, &id, "{path}: the id must rotate");
            assert_eq!(whoami(&base, old).await, None, "{path}: the old id is dead");
        }
        previous = Some(id);
        // A wrong password on the same endpoint: the form again.
        let r = c
            .post(format!("{base}{path}"))
            .form(&[("login", "teacher"), ("password", "nope")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert!(r.text().await.unwrap().contains(BAD_LOGIN));
    }
    for path in [
        "/logout",
        "/index.php?module=logout",
        "/logout.php",
        "/LOGOUT.PHP/x?y=1",
    ] {
        for method in ["GET", "POST"] {
            let id = login(&client(), &base, "parent").await;
            let r = raw(diary.addr(), method, path.as_bytes(), Some(&id)).await;
            assert_eq!(r.status, 302, "{method} {path}");
            assert!(r.head.contains("location: /login"), "{}", r.head);
            assert!(r.head.contains("Max-Age=0"), "{}", r.head);
            assert_eq!(whoami(&base, &id).await, None, "{method} {path}");
        }
    }
}

/// The strict mode's login form: its session cookie (when it set one) and its token.
async fn strict_form(base: &str, path: &str, cookie: Option<&str>) -> (Option<String>, String) {
    let mut req = client().get(format!("{base}{path}"));
    if let Some(id) = cookie {
        req = req.header("Cookie", format!("RIDSESSID={id}"));
    }
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let id = set_session(&r);
    let html = r.text().await.unwrap();
    let at = html.find("name=\"_token\" value=\"").unwrap() + 21;
    let token = html[at..at + 32].to_owned();
    assert!(html.contains(&format!(
        "<input type=\"hidden\" name=\"_token\" value=\"{token}\">"
    )));
    (id, token)
}

async fn strict_post(
    base: &str,
    path: &str,
    cookie: Option<&str>,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = client().post(format!("{base}{path}")).form(form);
    if let Some(id) = cookie {
        req = req.header("Cookie", format!("RIDSESSID={id}"));
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn strict_login_needs_the_forms_cookie_and_token_and_keeps_the_session_id() {
    let (diary, clock) = start_config(true, true).await;
    let base = diary.url();
    for path in ["/login", "/login.php", "/index.php?module=login"] {
        let creds = [("login", "student"), ("password", DEMO_PASSWORD)];
        // No cookie: the "enable cookies" page, never a session.
        let r = strict_post(&base, path, None, &creds).await;
        assert_eq!(r.status(), StatusCode::FOUND, "{path}");
        assert_eq!(r.headers()[LOCATION], "/nocookies");
        assert!(set_session(&r).is_none());
        // The form sets a pre-login session and shows its token.
        let (id, token) = strict_form(&base, path, None).await;
        let id = id.expect("a pre-login cookie");
        assert_eq!(whoami(&base, &id).await, None, "pre-login is signed out");
        // A second GET with that cookie keeps session and token.
        assert_eq!(
            strict_form(&base, path, Some(&id)).await,
            (None, token.clone())
        );
        // Cookie without token, with a wrong token, with another session's token.
        let (other_id, other_token) = strict_form(&base, path, None).await;
        for bad in ["", "0000", &other_token, &token.to_uppercase()] {
            let mut form = creds.to_vec();
            if !bad.is_empty() {
                form.push(("_token", bad));
            }
            let r = strict_post(&base, path, Some(&id), &form).await;
            assert_eq!(r.headers()[LOCATION], "/nocookies", "{path} {bad:?}");
            assert_eq!(whoami(&base, &id).await, None);
        }
        // The right token under a name PHP reads as an array is no token either.
        let r = strict_post(
            &base,
            path,
            Some(&id),
            &[
                ("login", "student"),
                ("password", DEMO_PASSWORD),
                ("_token[]", &token),
            ],
        )
        .await;
        assert_eq!(r.headers()[LOCATION], "/nocookies");
        // The token without its cookie.
        let r = strict_post(
            &base,
            path,
            None,
            &[
                ("login", "student"),
                ("password", DEMO_PASSWORD),
                ("_token", &token),
            ],
        )
        .await;
        assert_eq!(r.headers()[LOCATION], "/nocookies");
        // Wrong password: the form again, with the same token, still signed out.
        let r = strict_post(
            &base,
            path,
            Some(&id),
            &[("login", "student"), ("password", "x"), ("_token", &token)],
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK);
        assert!(set_session(&r).is_none());
        let html = r.text().await.unwrap();
        assert!(html.contains(BAD_LOGIN) && html.contains(&token));
        assert_eq!(whoami(&base, &id).await, None);
        // Right: signed in on the SAME id, and no Set-Cookie at all.
        let r = strict_post(
            &base,
            path,
            Some(&id),
            &[
                ("login", "student"),
                ("password", DEMO_PASSWORD),
                ("_token", &token),
                ("return", "/marks"),
            ],
        )
        .await;
        assert_eq!(r.status(), StatusCode::FOUND, "{path}");
        assert_eq!(r.headers()[LOCATION], "/marks");
        assert!(r.headers().get(SET_COOKIE).is_none());
        assert_eq!(whoami(&base, &id).await.as_deref(), Some("student"));
        assert_eq!(whoami(&base, &other_id.unwrap()).await, None);
    }
    // A multipart login works the same way.
    let (id, token) = strict_form(&base, "/login", None).await;
    let id = id.unwrap();
    let body = format!(
        "--BND\r\nContent-Disposition: form-data; name=\"_token\"\r\n\r\n{token}\r\n\
         --BND\r\nContent-Disposition: form-data; name=\" login\"\r\n\r\nparent\r\n\
         --BND\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\ndemo\r\n--BND--\r\n"
    );
    let r = client()
        .post(format!("{base}/login.php"))
        .header(CONTENT_TYPE, "multipart/form-data; boundary=BND")
        .header("Cookie", format!("RIDSESSID={id}"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(whoami(&base, &id).await.as_deref(), Some("parent"));
    // An expired pre-login session is no session.
    let (id, token) = strict_form(&base, "/login", None).await;
    clock.advance(TimeDelta::from_std(IDLE).unwrap() + TimeDelta::seconds(1));
    let r = strict_post(
        &base,
        "/login",
        id.as_deref(),
        &[
            ("login", "student"),
            ("password", DEMO_PASSWORD),
            ("_token", &token),
        ],
    )
    .await;
    assert_eq!(r.headers()[LOCATION], "/nocookies");
    // The error page itself.
    let (status, html) = get_text(&client(), &format!("{base}/nocookies")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Включите cookies в браузере") && html.contains("id=\"page-nocookies\""));
    // Logout works as in the normal mode.
    let (id, token) = strict_form(&base, "/login", None).await;
    let id = id.unwrap();
    strict_post(
        &base,
        "/login",
        Some(&id),
        &[
            ("login", "teacher"),
            ("password", DEMO_PASSWORD),
            ("_token", &token),
        ],
    )
    .await;
    assert_eq!(whoami(&base, &id).await.as_deref(), Some("teacher"));
    raw(diary.addr(), "GET", b"/logout.php", Some(&id)).await;
    assert_eq!(whoami(&base, &id).await, None);
}

#[tokio::test]
async fn the_normal_mode_has_no_token_and_ignores_one() {
    let (diary, _) = start().await;
    let base = diary.url();
    let r = client().get(format!("{base}/login")).send().await.unwrap();
    assert!(set_session(&r).is_none());
    assert!(!r.text().await.unwrap().contains("_token"));
    let r = strict_post(
        &base,
        "/login",
        None,
        &[
            ("login", "student"),
            ("password", DEMO_PASSWORD),
            ("_token", "x"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert!(set_session(&r).is_some());
}

#[tokio::test]
async fn identity_is_visible_in_stable_places() {
    let (diary, _) = start().await;
    let base = diary.url();
    for (login_name, _, full_name) in demo_accounts() {
        let c = client();
        login(&c, &base, login_name).await;
        let title = match login_name {
            "student" => "Учащийся",
            "parent" | "parent2" => "Родитель",
            "teacher" => "Учитель",
            "classteacher" => "Классный руководитель",
            "headteacher" => "Завуч",
            "director" => "Директор школы",
            _ => "Администратор школы",
        };
        for path in [
            "/",
            "/marks",
            "/schedule",
            "/children",
            "/nope",
            "/login",
            "/register",
        ] {
            let r = c.get(format!("{base}{path}")).send().await.unwrap();
            let bytes = r.bytes().await.unwrap();
            let html = if path == "/schedule" {
                encoding_rs::WINDOWS_1251.decode(&bytes).0.into_owned()
            } else {
                String::from_utf8(bytes.to_vec()).unwrap()
            };
            assert!(
                html.contains(&format!(
                    "<span class=\"whoami\" id=\"whoami\">{title} @ {login_name}</span>"
                )),
                "{login_name} {path}"
            );
            assert!(
                html.contains(&format!(
                    "<span class=\"fio\" id=\"fio\">{full_name}</span>"
                )),
                "{login_name} {path}"
            );
        }
        let v: serde_json::Value = c
            .get(format!("{base}/api/me"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            (v["login"].as_str(), v["name"].as_str()),
            (Some(login_name), Some(full_name))
        );
    }
    // Signed out: no header, 401 JSON from the API, the login redirect for the page.
    let c = client();
    let (_, html) = get_text(&c, &format!("{base}/login")).await;
    assert!(!html.contains("whoami") && !html.contains("id=\"fio\""));
    let r = c.get(format!("{base}/api/children")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"], "not_authenticated");
    let r = c.get(format!("{base}/children")).send().await.unwrap();
    assert_eq!(r.headers()[LOCATION], "/login?return=/children");
}

#[tokio::test]
async fn a_parents_children_have_names_and_birth_dates() {
    let (diary, _) = start().await;
    let base = diary.url();
    let parent = client();
    login(&parent, &base, "parent").await;
    let v: serde_json::Value = parent
        .get(format!("{base}/api/children"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        v,
        serde_json::json!([{"name": "Иванов Дмитрий Алексеевич", "birth_date": "12.04.2015"}])
    );
    for path in ["/children", "/index.php?module=children"] {
        let (status, html) = get_text(&parent, &format!("{base}{path}")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("id=\"page-children\""));
        assert!(html.contains(
            "<li class=\"child\" data-birth=\"12.04.2015\">Иванов Дмитрий Алексеевич</li>"
        ));
        assert_eq!(html.matches("class=\"child\"").count(), 1);
    }
    let student = client();
    login(&student, &base, "student").await;
    let v: serde_json::Value = student
        .get(format!("{base}/api/children"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v, serde_json::json!([]));
    let v: serde_json::Value = student
        .get(format!("{base}/api/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["birth_date"], "03.02.2011");
    assert_eq!(v["name"], "Петров Алексей Сергеевич");
    let (_, html) = get_text(&student, &format!("{base}/children")).await;
    assert!(!html.contains("class=\"child\"") && html.contains("Нет сведений о детях"));
}
