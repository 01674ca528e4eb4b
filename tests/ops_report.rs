//! `esia-gateway report` — the real binary on the store of a scripted week of real
//! sign-ins through the gateway (ESIA logins and links, diary-password logins, a grade
//! page refused after the cutover, an account refused for its level, a flagged
//! binding), on SQLite and PostgreSQL. The gateway's sessions, links, audit and
//! calendar run on one manual clock that the script moves day by day across the
//! cutover of seed 004 (ESIA only from 2019-01-01).

mod link_support;
mod ops_support;
#[macro_use]
mod store_support;
mod support;

use esia_gateway::clock::ManualClock;
use esia_gateway::cutover::CutoverConfig;
use esia_gateway::link::config::{IdentityCheck, LinkSettings};
use esia_gateway::standins::demo_diary;
use link_support::*;
use ops_support::*;

on_both_stores!(
    a_scripted_week_shows_the_expected_shares,
    report_routes_lists_the_pages_no_group_covers,
);

fn day(clock: &ManualClock, date: &str) {
    clock.set(
        chrono::DateTime::parse_from_rfc3339(&format!("{date}T09:00:00Z"))
            .unwrap()
            .to_utc(),
    );
}

/// The diary's own login form, posted through the gateway: a password-only session.
async fn legacy_login(stand: &Stand, b: &Browser, login: &str) {
    let resp = b
        .post(
            &stand.url("/login"),
            &[("login", login), ("password", demo_diary::DEMO_PASSWORD)],
        )
        .await;
    assert!(
        resp.status().is_redirection(),
        "legacy login of {login}: {}",
        resp.status()
    );
}

async fn week(db: Db) -> Stand {
    let clock = ManualClock::new(chrono::Utc::now());
    day(&clock, "2018-12-28");
    let settings = LinkSettings {
        identity_check: IdentityCheck::Warn,
        ..LinkSettings::default()
    };
    let stand = Stand::start(Options {
        db,
        settings,
        esia_children: true,
        clock: Some(clock.clone()),
        cutover: Some(CutoverConfig::seed_004()),
        ..Options::default()
    })
    .await;

    // Fri: Мария signs in with ESIA and links the parent account.
    let r = stand
        .login_and_link(&stand.browser(), "confirmed", "parent", "demo")
        .await;
    assert_eq!(location(&r), "/marks");
    // Sat: the pupil signs in twice with the diary password.
    day(&clock, "2018-12-29");
    legacy_login(&stand, &stand.browser(), "student").await;
    legacy_login(&stand, &stand.browser(), "student").await;
    // Sun: another adult links the teacher account (names differ: flagged under warn).
    day(&clock, "2018-12-30");
    let r = stand
        .login_and_link(&stand.browser(), "confirmed-2", "teacher", "demo")
        .await;
    assert_eq!(location(&r), "/marks");
    // Tue, after the cutover: the pupil's password session is refused the grades.
    day(&clock, "2019-01-01");
    let pupil = stand.browser();
    legacy_login(&stand, &pupil, "student").await;
    let refused = pupil.get(&stand.url("/marks")).await;
    assert!(
        !refused.status().is_success(),
        "a password session read grades after the cutover"
    );
    // Wed: a simplified ESIA account tries the parent account: refused for its level.
    day(&clock, "2019-01-02");
    let r = stand
        .login_and_link(&stand.browser(), "simplified", "parent", "demo")
        .await;
    assert_eq!(r.status(), http::StatusCode::FORBIDDEN);
    // Thu: Мария again, already linked.
    day(&clock, "2019-01-03");
    let r = stand
        .esia_login(&stand.browser(), "/marks", "confirmed")
        .await;
    assert_eq!(location(&r), "/marks");
    stand
}

async fn a_scripted_week_shows_the_expected_shares(db: Db) {
    let stand = week(db).await;
    let cfg = gateway_toml(stand.dir.path(), &stand, &db_location(&stand), None, "");
    let c = cfg.to_str().unwrap();
    let window = ["--since", "2018-12-28", "--until", "2019-01-04", "-c", c];

    let json_text = ok(&run(&[&["report", "--format", "json"][..], &window[..]].concat()).await);
    let r: serde_json::Value = serde_json::from_str(&json_text).unwrap();
    let role = |name: &str| {
        r["roles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["role"] == name)
            .unwrap_or_else(|| panic!("no {name} in {r}"))
            .clone()
    };
    let figures = |x: serde_json::Value| {
        (
            x["active"].as_u64().unwrap(),
            x["via_esia"].as_u64().unwrap(),
            x["legacy_only"].as_u64().unwrap(),
            x["linked"].as_u64().unwrap(),
        )
    };
    assert_eq!(figures(role("parent")), (1, 1, 0, 1), "{r}");
    assert_eq!(figures(role("student")), (1, 0, 1, 0), "{r}");
    assert_eq!(figures(role("teacher")), (1, 1, 0, 1), "{r}");
    assert_eq!(figures(r["total"].clone()), (3, 2, 1, 2), "{r}");
    assert_eq!(r["total"]["linked_percent"], 66.7);
    assert_eq!(
        r["esia_not_linked"], 1,
        "the simplified account never linked"
    );
    let per_day: Vec<(String, u64, u64)> = r["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["day"].as_str().unwrap().to_owned(),
                d["esia"].as_u64().unwrap(),
                d["legacy"].as_u64().unwrap(),
            )
        })
        .collect();
    let want = [
        ("2018-12-28", 1, 0),
        ("2018-12-29", 0, 2),
        ("2018-12-30", 1, 0),
        ("2018-12-31", 0, 0),
        ("2019-01-01", 0, 1),
        ("2019-01-02", 1, 0),
        ("2019-01-03", 1, 0),
    ];
    let want: Vec<(String, u64, u64)> = want
        .iter()
        .map(|(d, e, l)| ((*d).to_owned(), *e, *l))
        .collect();
    assert_eq!(per_day, want);
    let refused = r["refused_after_cutover"].as_array().unwrap();
    assert_eq!(refused.len(), 1, "{r}");
    assert_eq!(refused[0]["reason"], "legacy-session-after-cutover");
    assert_eq!(
        (
            refused[0]["refusals"].as_u64(),
            refused[0]["users"].as_u64()
        ),
        (Some(1), Some(1))
    );
    let level = r["level_refused"].as_array().unwrap();
    assert_eq!(level.len(), 1, "{r}");
    assert_eq!(level[0]["role"], "parent");
    assert_eq!(level[0]["accounts"], 1);
    let flagged = r["flagged"].as_array().unwrap();
    assert_eq!(flagged.len(), 1, "{r}");
    assert_eq!(flagged[0]["diary_login"], "teacher");

    // The terminal report: the table rows and a bar per day.
    let text = ok(&run(&[&["report"][..], &window[..]].concat()).await);
    assert!(
        text.contains("Cutover readiness, 2018-12-28 00:00 – 2019-01-04 00:00"),
        "{text}"
    );
    let total = text
        .lines()
        .find(|l| l.trim_start().starts_with("total"))
        .unwrap();
    assert_eq!(
        total.split_whitespace().collect::<Vec<_>>(),
        ["total", "3", "2", "1", "2", "66.7"],
        "{text}"
    );
    let busiest = text.lines().find(|l| l.contains("2018-12-29")).unwrap();
    assert!(busiest.ends_with(&"░".repeat(40)), "{busiest}");
    assert!(text.contains("Flagged bindings (ESIA person and diary account differ): 1"));

    // CSV for a spreadsheet.
    let csv = ok(&run(&[&["report", "--format", "csv"][..], &window[..]].concat()).await);
    assert!(csv.contains("users,student,legacy_only,1\n"), "{csv}");
    assert!(csv.contains("sign_ins,2018-12-29,legacy,2\n"), "{csv}");

    // The flagged binding is also what `bindings list --flagged` shows.
    let list = ok(&run(&["bindings", "list", "--flagged", "--format", "json", "-c", c]).await);
    let rows: Vec<serde_json::Value> = list
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 1, "{list}");
    assert_eq!(rows[0]["diary_login"], "teacher");

    // A window that ends before it starts is a usage error, not an empty report.
    let bad = run(&[
        "report",
        "--since",
        "2019-01-04",
        "--until",
        "2018-12-28",
        "-c",
        c,
    ])
    .await;
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("the window is empty"),
        "{}",
        stderr(&bad)
    );
    let bad = run(&["report", "--since", "last week", "-c", c]).await;
    assert_eq!(bad.status.code(), Some(2));
}

/// A linked parent in the transition phase reads covered and uncovered pages; the
/// uncovered ones the diary served come out of `report routes` by hits, judged by the
/// route groups of the configuration given to the command.
async fn report_routes_lists_the_pages_no_group_covers(db: Db) {
    let clock = ManualClock::new(chrono::Utc::now());
    day(&clock, "2018-10-01");
    let stand = Stand::start(Options {
        db,
        clock: Some(clock.clone()),
        cutover: Some(CutoverConfig::seed_004()),
        ..Options::default()
    })
    .await;
    let b = stand.linked_browser("confirmed", "parent").await;
    let visits = [
        ("/schedule", 3),
        ("/homework", 1),
        ("/index.php?module=homework&student=4711", 2),
        ("/marks", 2),
        ("/no-such-page", 1),
    ];
    for (path, times) in visits {
        for _ in 0..times {
            b.get(&stand.url(path)).await;
        }
    }
    // Anonymous visits are not counted.
    stand.browser().get(&stand.url("/schedule")).await;
    stand.gw.flush_route_counts().await;

    let cfg = gateway_toml(
        stand.dir.path(),
        &stand,
        &db_location(&stand),
        None,
        esia_gateway::policy::EXAMPLE_TOML,
    );
    let c = cfg.to_str().unwrap();
    let out = ok(&run(&["report", "routes", "--format", "json", "-c", c]).await);
    let rows: Vec<(String, u64)> = out
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["route"].as_str().unwrap().to_owned(),
                v["hits"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("GET /schedule".to_owned(), 3),
            ("GET /index.php?module=homework".to_owned(), 2),
            ("GET /homework".to_owned(), 1),
        ],
        "{out}"
    );
    // Text for the operator; `--all` adds the routes a group covers now.
    let text = ok(&run(&["report", "routes", "-c", c]).await);
    assert!(text.contains("GET /schedule"), "{text}");
    let all = ok(&run(&["report", "routes", "--all", "--format", "csv", "-c", c]).await);
    assert!(
        all.starts_with("hits,route,group,first_seen,last_seen\n"),
        "{all}"
    );
    assert!(
        !all.contains("/marks"),
        "covered pages are not counted: {all}"
    );

    // The operator adds the schedule to a group: it drops out of the list.
    let extra = esia_gateway::policy::EXAMPLE_TOML.to_owned()
        + "\n[[route_group]]\nname = \"schedule\"\nmatch = [{ prefix = \"/schedule\" }]\nbefore_transition = \"any\"\ntransition = \"any\"\nafter_cutover = \"esia_linked\"\n";
    let cfg = gateway_toml(stand.dir.path(), &stand, &db_location(&stand), None, &extra);
    let out = ok(&run(&[
        "report",
        "routes",
        "--format",
        "json",
        "-c",
        cfg.to_str().unwrap(),
    ])
    .await);
    assert!(!out.contains("/schedule"), "{out}");
    assert!(out.contains("/homework"), "{out}");
}
