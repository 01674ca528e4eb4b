//! `/status` on the admin listener (issue 13): after real sign-ins through the gateway
//! in the transition phase, the page shows the phase and the days to the cutover, the
//! linked share per role, the last 24 hours and every health check; it loads in
//! headless Chromium (Debian's `chromium`) with no console error — a blocked inline
//! style or an external asset would be one — and its screenshot is kept in
//! `target/tmp/status.png`. It is never served on the public port.

mod link_support;
mod store_support;
mod support;

use esia_gateway::clock::ManualClock;
use esia_gateway::cutover::CutoverConfig;
use link_support::*;

const CHROMIUM: &str = "/usr/bin/chromium";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_shows_the_calendar_shares_and_checks_and_renders_cleanly() {
    // The page's windows are on the real clock (the store's events are stamped with
    // the gateway's clock): keep that clock now, and the calendar's phase in transition
    // by choosing the calendar, not the clock.
    let clock = ManualClock::new(chrono::Utc::now());
    let mut cutover = CutoverConfig::seed_004();
    // The calendar counts days in its own zone: at 21:00 UTC Moscow is already on the
    // next day, so «today» must be Moscow's, or the count is one short near midnight.
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Moscow)
        .date_naive();
    cutover.policy.calendar = esia_gateway::policy::Calendar::new(
        chrono_tz::Europe::Moscow,
        Some(today - chrono::Days::new(30)),
        today + chrono::Days::new(20),
        esia_gateway::policy::LegacyLogin::Restricted,
    )
    .unwrap();
    let stand = Stand::start(Options {
        clock: Some(clock),
        cutover: Some(cutover),
        ..Options::default()
    })
    .await;
    stand.linked_browser("confirmed", "parent").await;
    let pupil = stand.browser();
    let r = pupil
        .post(
            &stand.url("/login"),
            &[
                ("login", "student"),
                (
                    "password",
                    esia_gateway::standins::demo_diary::DEMO_PASSWORD,
                ),
            ],
        )
        .await;
    assert!(r.status().is_redirection());

    let admin = stand
        .gw
        .admin_addr()
        .expect("the stand has an admin listener");
    let url = format!("http://{admin}/status");
    let resp = reqwest::get(&url).await.unwrap();
    assert_eq!(resp.status(), 200);
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let html = resp.text().await.unwrap();
    assert!(html.contains("data-phase=\"transition\""), "{html}");
    assert!(
        html.contains("через 19 дн.") || html.contains("через 20 дн."),
        "{html}"
    );
    // parent linked via ESIA, student with the password only: one of two linked.
    assert!(html.contains("<td>Родитель (parent)</td>"), "{html}");
    assert!(html.contains("<td>Ученик (student)</td>"), "{html}");
    assert!(html.contains("50.0%"), "{html}");
    assert!(
        html.contains("<td>upstream</td><td class=\"ok\">"),
        "{html}"
    );
    assert!(html.contains("<td>store</td><td class=\"ok\">"), "{html}");
    assert!(html.contains("id=\"cert\""), "{html}");
    // Not on the public port: there it is the diary's path.
    let public = stand.browser().get(&stand.url("/status")).await;
    let text = public.text().await.unwrap();
    assert!(!text.contains("esia-gateway: состояние"));

    // The shipped Grafana dashboard asks only for metrics this gateway exports.
    let metrics = support::fetch_text(&format!("http://{admin}/metrics")).await;
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/deploy/grafana-dashboard.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let mut asked = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for name in expr
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("esia_gateway_"))
            {
                let family = name.trim_end_matches("_bucket").trim_end_matches("_total");
                assert!(
                    metrics.contains(&format!("# TYPE {family} ")),
                    "the dashboard asks for {name}, /metrics has no {family}"
                );
                asked += 1;
            }
        }
    }
    assert!(asked >= 8, "{asked}");

    // Headless Chromium: loads, renders, no console message at all.
    assert!(
        std::path::Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: install Debian's chromium (.ci/run does)"
    );
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("status.png");
    let _ = std::fs::remove_file(&shot);
    let profile = tempfile::tempdir().unwrap();
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(90),
        tokio::process::Command::new(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--enable-logging=stderr",
                "--v=0",
                "--window-size=1000,1400",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(format!("--screenshot={}", shot.display()))
            .arg(&url)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("chromium finished within 90 s")
    .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "chromium failed: {log}");
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(
        console.is_empty(),
        "console messages on /status: {console:#?}"
    );
    let png = std::fs::read(&shot).expect("the screenshot was written");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
}
