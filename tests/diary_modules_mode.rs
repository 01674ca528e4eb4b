//! Issue 14: the same stories against both modes of the demo diary — «Региональный
//! Интернет Дневник» and a `Modules.php?modname=` PHP school system — with only the
//! config changed: the shipped `gateway.toml` for the first, `examples/modules-php.toml`
//! for the second, each loaded the production way. Real sockets: the gateway over TLS,
//! the ESIA mock and the demo diary, after the seed 004 cutover (2019-02-01).

mod cutover_support;
mod store_support;
mod support;

use std::path::Path;
use std::sync::Arc;

use chrono::TimeDelta;
use cutover_support::{Browser, Stand, at, location};
use esia_gateway::clock::ManualClock;
use esia_gateway::standins::demo_diary::{DEMO_PASSWORD, DiaryMode};
use http::StatusCode;

/// What differs between the two diaries, for the tests (the gateway only sees its file).
struct Mode {
    diary: DiaryMode,
    config: &'static str,
    /// A signed-in page that is not a grade page.
    home: &'static str,
    grades: &'static str,
    grade_marker: &'static str,
    /// Every spelling of a grade page a legacy session tries.
    grade_spellings: &'static [&'static str],
}

const CLASSIC: Mode = Mode {
    diary: DiaryMode::Classic,
    config: "gateway.toml",
    home: "/",
    grades: "/marks",
    grade_marker: "id=\"page-marks\"",
    grade_spellings: &[
        "/marks",
        "/MARKS/",
        "//marks",
        "/./marks",
        "/index.php?module=marks",
        "/index.php?module=MARKS",
    ],
};

const MODULES: Mode = Mode {
    diary: DiaryMode::Modules,
    config: "examples/modules-php.toml",
    home: "/Modules.php?modname=misc/Portal.php",
    grades: "/Modules.php?modname=Grades/StudentGrades.php",
    grade_marker: "id=\"page-student-grades\"",
    grade_spellings: &[
        "/Modules.php?modname=Grades/StudentGrades.php",
        "/Modules.php?modname=Grades//StudentGrades.php",
        "/Modules.php?modname=./Grades/StudentGrades.php",
        "/Modules.php?modname=misc/../Grades/StudentGrades.php",
        "/Modules.php?modname=Grades%2FFinalGrades.php",
        "/Modules.php?modname=Grades/ReportCards.php",
        "/Modules.php?modname=grades/StudentGrades.php",
        "/modules.PHP?modname=GRADES/StudentGrades.php",
        "/Modules.php?modname=Users/TeacherPrograms.php&include=Grades/Grades.php",
        "/Modules.php?modname=Users/TeacherPrograms.php&include=./Grades//Grades.php",
        "/Modules.php/x.css?modname=Grades/StudentGrades.php",
    ],
};

/// The mode's config file, loaded like `run` loads it (TLS files from the test PKI).
fn load(mode: &Mode, pki: &support::Pki) -> esia_gateway::config::GatewayConfig {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(mode.config);
    let text = std::fs::read_to_string(&path).unwrap();
    let env = [
        (
            "ESIA_GATEWAY__TLS__CERT",
            pki.files.cert.display().to_string(),
        ),
        (
            "ESIA_GATEWAY__TLS__KEY",
            pki.files.key.display().to_string(),
        ),
    ]
    .map(|(k, v)| (k.into(), v.into()));
    esia_gateway::config::load_str_with_env(&text, &path, env)
        .unwrap_or_else(|e| panic!("{}: {e}", mode.config))
}

async fn stand(mode: &Mode) -> (Stand, Arc<ManualClock>) {
    stand_with(mode, |_| {}).await
}

async fn stand_with(
    mode: &Mode,
    edit: impl FnOnce(&mut esia_gateway::config::GatewayConfig),
) -> (Stand, Arc<ManualClock>) {
    let pki = support::Pki::new();
    let mut config = load(mode, &pki);
    edit(&mut config);
    let clock = ManualClock::new(chrono::Utc::now());
    let diary_clock = clock.clone();
    let diary_mode = mode.diary;
    let stand = Stand::start_with(
        config.cutover.expect("a policy"),
        at("2019-02-01T12:00:00+03:00"),
        config.diary,
        move |d| {
            d.mode = diary_mode;
            d.clock = diary_clock;
        },
    )
    .await;
    (stand, clock)
}

/// ESIA login as `confirmed`, linked to the diary's `parent`; ends on the home page.
async fn linked(stand: &Stand, mode: &Mode) -> Browser {
    let b = stand.browser();
    let cb = stand.esia_login(&b, mode.home, "confirmed").await;
    assert!(cb.status().is_redirection(), "{}", cb.status());
    let resp = stand.link_from(&b, mode.home, mode.home, "parent").await;
    assert!(resp.status().is_redirection(), "link: {}", resp.status());
    b
}

async fn page(b: &Browser, stand: &Stand, path: &str) -> (StatusCode, String) {
    let resp = b.get(&stand.url(path)).await;
    (resp.status(), resp.text().await.unwrap())
}

async fn link_then_grades_then_renewal_after_expiry(mode: &Mode) {
    let (stand, clock) = stand(mode).await;
    let b = linked(&stand, mode).await;
    let (status, html) = page(&b, &stand, mode.grades).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains(mode.grade_marker), "{html}");
    assert!(html.contains("parent"), "the page is parent's: {html}");
    // The diary session dies; the next page renews it from the vault, transparently.
    clock.advance(TimeDelta::minutes(21));
    let (status, html) = page(&b, &stand, mode.grades).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains(mode.grade_marker), "renewed: {html}");
    assert!(!html.contains("window.location.href"), "{html}");
}

async fn legacy_session_is_refused_every_grade_spelling(mode: &Mode) {
    let (stand, _clock) = stand(mode).await;
    let b = stand.browser();
    let resp = match mode.diary {
        DiaryMode::Classic => stand.legacy_login(&b, "parent").await,
        DiaryMode::Modules => {
            b.post(
                &stand.url("/index.php"),
                &[("USERNAME", "parent"), ("PASSWORD", DEMO_PASSWORD)],
            )
            .await
        }
    };
    assert!(
        resp.status().is_redirection(),
        "legacy login: {}",
        resp.status()
    );
    let (status, html) = page(&b, &stand, mode.home).await;
    assert_eq!(status, StatusCode::OK, "the cabinet opens: {html}");
    for spelling in mode.grade_spellings {
        let (status, html) = page(&b, &stand, spelling).await;
        assert!(
            !html.contains(mode.grade_marker),
            "{spelling} served grades"
        );
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{spelling}: refused by the gateway"
        );
    }
}

async fn the_diarys_logout_link_ends_both_sessions(mode: &Mode) {
    let (stand, _clock) = stand(mode).await;
    let b = linked(&stand, mode).await;
    let (_, html) = page(&b, &stand, mode.home).await;
    let logout = match mode.diary {
        DiaryMode::Classic => "/logout".to_owned(),
        DiaryMode::Modules => {
            let at = html.find("index.php?modfunc=logout&amp;token=").unwrap();
            let rest = &html[at..];
            format!(
                "/{}",
                &rest[..rest.find('"').unwrap()].replace("&amp;", "&")
            )
        }
    };
    assert!(stand.diary.signed_in().contains(&"parent".to_owned()));
    log_out_from_our_page(&stand, &b, &logout).await;
    let resp = b.get(&stand.url(mode.grades)).await;
    assert_ne!(resp.status(), StatusCode::OK);
    assert!(!location(&resp).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classic_link_grades_and_renewal() {
    link_then_grades_then_renewal_after_expiry(&CLASSIC).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modules_link_grades_and_renewal_after_a_200_script_page() {
    link_then_grades_then_renewal_after_expiry(&MODULES).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classic_legacy_session_refused_grades() {
    legacy_session_is_refused_every_grade_spelling(&CLASSIC).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modules_legacy_session_refused_grades_in_every_spelling() {
    legacy_session_is_refused_every_grade_spelling(&MODULES).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classic_logout() {
    the_diarys_logout_link_ends_both_sessions(&CLASSIC).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modules_logout_with_the_pages_token() {
    the_diarys_logout_link_ends_both_sessions(&MODULES).await;
}

/// The symptom, as a control: without `body_contains` the 200 + script page of a
/// dead session is not recognised and reaches the browser (a blank page).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modules_without_the_body_marker_the_script_page_leaks() {
    let (stand, clock) = stand_with(&MODULES, |c| {
        c.diary.rules.expired = esia_gateway::diary::expiry::Expiry::demo();
    })
    .await;
    let b = linked(&stand, &MODULES).await;
    clock.advance(TimeDelta::minutes(21));
    let (status, html) = page(&b, &stand, MODULES.grades).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("window.location.href"), "{html}");
}

/// The example passes `check-config` (the real binary), with generated TLS files.
#[test]
fn modules_php_example_passes_check_config() {
    let pki = support::Pki::new();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(MODULES.config);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_esia-gateway"))
        .args(["check-config", "--config", path.to_str().unwrap()])
        .env("ESIA_GATEWAY__TLS__CERT", &pki.files.cert)
        .env("ESIA_GATEWAY__TLS__KEY", &pki.files.key)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.starts_with("OK: "), "{stdout}");
}

/// The gateway's own «Выйти» ends the diary session in both modes: in the Modules mode
/// the diary logs out only through the token link on its pages, which the gateway finds
/// on the probe page and follows (before, the session was left to idle out).
async fn the_gateways_logout_ends_the_diary_session(mode: &Mode) {
    let (stand, _clock) = stand(mode).await;
    let b = linked(&stand, mode).await;
    let (status, _) = page(&b, &stand, mode.home).await;
    assert_eq!(status, StatusCode::OK);
    assert!(stand.diary.signed_in().contains(&"parent".to_owned()));
    log_out_from_our_page(&stand, &b, "/esia/logout").await;
}

/// «Выйти» at `path`, clicked on a page of this site (the browser says so with Fetch
/// Metadata): logged out at once, and the diary session ended with it.
async fn log_out_from_our_page(stand: &Stand, b: &Browser, path: &str) {
    let resp = b
        .client
        .get(stand.url(path))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_redirection(), "{path}: {}", resp.status());
    assert!(
        !stand.diary.signed_in().contains(&"parent".to_owned()),
        "{path}: the diary session ended"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classic_gateway_logout_ends_the_diary_session() {
    the_gateways_logout_ends_the_diary_session(&CLASSIC).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modules_gateway_logout_follows_the_token_link() {
    the_gateways_logout_ends_the_diary_session(&MODULES).await;
}
