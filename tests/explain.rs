//! `esia-gateway explain` answers what the proxy does (issue 6): the real binary runs
//! on a `gateway.toml` for a table of (date, session, request), and the running gateway
//! — loaded with the SAME file's policy, in front of the real demo diary — gets the same
//! requests from a browser in that session, with its calendar on the same date. Exit 0
//! must meet an allowed request, 1 a refusal or sign-in redirect (with the same reason),
//! 2 a 400.

mod cutover_support;
mod store_support;
mod support;

use std::path::Path;
use std::process::Command;

use cutover_support::{Browser, Stand, location};
use http::StatusCode;

/// The shipped policy sections with the test's certificate and diary.
fn write_config(dir: &Path, cert: &Path, key: &Path) -> std::path::PathBuf {
    let shipped =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("gateway.toml"))
            .unwrap();
    let policy = &shipped[shipped.find("# ── Route policy").expect("policy sections")..];
    let text = format!(
        "[listen]\nhttps = \"127.0.0.1:0\"\n[tls]\ncert = {:?}\nkey = {:?}\n\
         [upstream]\nurl = \"http://127.0.0.1:9\"\n\n{policy}",
        cert.display().to_string(),
        key.display().to_string()
    );
    let path = dir.join("gateway.toml");
    std::fs::write(&path, text).unwrap();
    path
}

struct Explained {
    code: i32,
    stdout: String,
    stderr: String,
}

fn explain(config: &Path, at: &str, session: &[&str], request: &str) -> Explained {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_esia-gateway"));
    cmd.args(["explain", "--config"])
        .arg(config)
        .args(["--at", at, "--session"])
        .args(session)
        .arg(request);
    let out = cmd.output().unwrap();
    Explained {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// What the gateway did: 0 forwarded, 1 refused or sent to sign in, 2 bad request; and
/// the refusal's reason.
async fn proxy(stand: &Stand, b: &Browser, request: &str) -> (i32, Option<String>) {
    let (method, target) = request.split_once(' ').unwrap();
    let resp = b
        .client
        .request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            stand.url(target),
        )
        .send()
        .await
        .unwrap();
    let reason = resp
        .headers()
        .get("x-esia-gateway-reason")
        .map(|v| v.to_str().unwrap().to_owned());
    let code = match resp.status() {
        StatusCode::BAD_REQUEST => 2,
        StatusCode::FORBIDDEN if reason.is_some() => 1,
        StatusCode::FOUND if location(&resp).starts_with("/esia/start") => 1,
        _ => 0,
    };
    (code, reason)
}

#[tokio::test]
async fn explain_answers_match_the_running_gateway() {
    let probe = support::Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &probe.files.cert, &probe.files.key);
    let loaded = esia_gateway::config::load(&config).unwrap();
    let cutover = loaded.cutover.expect("the shipped policy is on");
    assert_eq!(cutover, esia_gateway::cutover::CutoverConfig::seed_004());

    let stand = Stand::start(cutover, cutover_support::at("2018-10-01T12:00:00+03:00")).await;
    let anonymous = stand.browser();
    let legacy = stand.browser();
    assert_eq!(location(&stand.legacy_login(&legacy, "parent").await), "/");
    let esia = stand.browser();
    assert_eq!(
        location(&stand.esia_login(&esia, "/", "confirmed").await),
        "/"
    );
    let link = location(&esia.get(&stand.url("/marks")).await);
    let html = esia.get(&stand.url(&link)).await.text().await.unwrap();
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).unwrap() + marker.len();
    let csrf = &html[start..start + html[start..].find('"').unwrap()];
    let linked = esia
        .post(
            &stand.url("/esia/link"),
            &[
                ("csrf", csrf),
                ("return", "/"),
                ("login", "parent"),
                ("password", "demo"),
            ],
        )
        .await;
    assert!(linked.status().is_redirection());

    let sessions: [(&[&str], &Browser); 3] = [
        (&["anonymous"], &anonymous),
        (&["legacy", "--role", "parent"], &legacy),
        (&["esia", "--level", "confirmed", "--role", "parent"], &esia),
    ];
    let requests = [
        "GET /index.php?module=marks",
        "GET /marks",
        "HEAD /MARKS/",
        "GET /index.php?mod%75le=stats",
        "GET /homework",
        "GET /register",
        "GET /x%2Fmarks",
    ];
    let dates = [
        ("2018-08-15", "2018-08-15T00:00:00+03:00"),
        ("2018-10-01", "2018-10-01T00:00:00+03:00"),
        ("2019-01-01", "2019-01-01T00:00:00+03:00"),
        ("2019-02-01", "2019-02-01T00:00:00+03:00"),
    ];
    let mut mismatches = Vec::new();
    let (mut allowed, mut refused, mut bad) = (0, 0, 0);
    for (date, instant) in dates {
        stand.set_date(instant);
        for (session, browser) in &sessions {
            for request in requests {
                let e = explain(&config, date, session, request);
                let (code, reason) = proxy(&stand, browser, request).await;
                let reason_agrees = match &reason {
                    Some(r) => e.stdout.contains(&format!("reason:     {r}")),
                    None => !e.stdout.contains("reason:"),
                };
                if e.code != code || !reason_agrees {
                    mismatches.push(format!(
                        "{date} {session:?} {request}: explain {} vs proxy {code} {reason:?}\n{}",
                        e.code, e.stdout
                    ));
                }
                match code {
                    0 => allowed += 1,
                    1 => refused += 1,
                    _ => bad += 1,
                }
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    assert!(
        allowed > 20 && refused > 10 && bad == 12,
        "{allowed} {refused} {bad}"
    );
}

#[test]
fn explain_prints_every_step_and_refuses_bad_input_with_2() {
    let probe = support::Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &probe.files.cert, &probe.files.key);
    let e = explain(
        &config,
        "2019-02-01",
        &["legacy", "--role", "parent"],
        "get /INDEX.php?mod%75le=marks",
    );
    assert_eq!(e.code, 1, "{}", e.stdout);
    for line in [
        "canonical:  GET /INDEX.php?module=marks",
        "matched as: /index.php\n",
        "group:      grades",
        "phase:      cutover-restricted",
        "decision:   deny (legacy-session-after-cutover)",
        "reason:     legacy-session-after-cutover",
    ] {
        assert!(e.stdout.contains(line), "{line}\n{}", e.stdout);
    }
    let e = explain(
        &config,
        "2019-02-01",
        &["esia", "--level", "confirmed", "--role", "parent"],
        "GET /index.php?module=marks",
    );
    assert_eq!(e.code, 0, "{}", e.stdout);
    // PHP mode: PATH_INFO after the script is not what is matched, and explain says so.
    let e = explain(
        &config,
        "2019-02-01",
        &["legacy"],
        "GET /Index.php/x.css?module=marks",
    );
    assert_eq!(e.code, 1, "{}", e.stdout);
    for line in [
        "canonical:  GET /Index.php/x.css?module=marks",
        "matched as: /index.php (PHP script; PATH_INFO /x.css is not matched)",
        "group:      grades",
    ] {
        assert!(e.stdout.contains(line), "{line}\n{}", e.stdout);
    }
    // Bad input of every kind: exit 2.
    for (at, session, request) in [
        ("2019-02-30", &["legacy"][..], "GET /marks"),
        ("2019-02-01", &["root"][..], "GET /marks"),
        ("2019-02-01", &["esia", "--level", "gold"][..], "GET /marks"),
        (
            "2019-02-01",
            &["anonymous", "--role", "parent"][..],
            "GET /marks",
        ),
        ("2019-02-01", &["legacy"][..], "GET"),
        ("2019-02-01", &["legacy"][..], "GET /marks%00"),
        (
            "2019-02-01",
            &["legacy"][..],
            "GET /INDEX~1.PHP?module=marks",
        ),
        (
            "2019-02-01",
            &["legacy"][..],
            "GET /index.php::$DATA?module=marks",
        ),
        (
            "2019-02-01",
            &["legacy"][..],
            "GET http://evil.example/marks",
        ),
    ] {
        let e = explain(&config, at, session, request);
        assert_eq!(e.code, 2, "{at} {session:?} {request}: {}", e.stdout);
    }
    // A config without the file's certificates is a config error (2), not a crash.
    let e = explain(
        Path::new("/nonexistent/gateway.toml"),
        "2019-02-01",
        &["legacy"],
        "GET /",
    );
    assert_eq!(e.code, 2);
}

#[test]
fn a_bad_policy_is_reported_with_file_line_and_key_and_exits_2() {
    let probe = support::Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[listen]\nhttps = \"127.0.0.1:0\"\n[tls]\ncert = {:?}\nkey = {:?}\n\
         [upstream]\nurl = \"http://127.0.0.1:9\"\n\
         [calendar]\nesia_only_from = 2019-01-01\nlegacy_login = \"maybe\"\n\
         [banner]\nselector = \"<<<\"\nlegacy_login_path = \"login\"\nposition = \"top\"\n",
        probe.files.cert.display().to_string(),
        probe.files.key.display().to_string()
    );
    let config = dir.path().join("gateway.toml");
    std::fs::write(&config, text).unwrap();
    let e = explain(&config, "2019-02-01", &["legacy"], "GET /marks");
    assert_eq!(e.code, 2, "{}", e.stderr);
    for needle in [
        "gateway.toml:10:",
        "calendar.legacy_login",
        "banner.selector",
        "banner.legacy_login_path",
        "banner.position: unknown key",
    ] {
        assert!(e.stderr.contains(needle), "{needle}\n{}", e.stderr);
    }
    assert!(e.stdout.is_empty(), "no decision printed on a bad config");
}

/// Issue 9: the legacy form's refusal after a `disabled` cutover is a policy decision,
/// shown by explain for every login endpoint the `[diary]` section names.
#[test]
fn explain_shows_the_legacy_login_refusal_on_every_login_endpoint() {
    let probe = support::Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &probe.files.cert, &probe.files.key);
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "legacy_login = \"restricted\"",
        "legacy_login = \"disabled\"",
    ) + "\n[diary]\nlogin_endpoints = [{ path = \"/login\" }, { path = \"/index.php\", query = { module = \"login\" } }]\n";
    assert!(
        text.contains("legacy_login = \"disabled\""),
        "the shipped calendar moved"
    );
    std::fs::write(&config, text).unwrap();
    for request in ["POST /login", "POST /INDEX.PHP?module=LOGIN"] {
        for session in [&["anonymous"][..], &["legacy"][..]] {
            let e = explain(&config, "2019-02-01", session, request);
            assert_eq!(e.code, 1, "{request} {session:?}: {}{}", e.stdout, e.stderr);
            assert!(
                e.stdout
                    .contains("decision:   deny (legacy-login-disabled)"),
                "{request}: {}",
                e.stdout
            );
        }
        let e = explain(
            &config,
            "2019-02-01",
            &["esia", "--level", "confirmed", "--role", "parent"],
            request,
        );
        assert!(!e.stdout.contains("legacy-login-disabled"), "{}", e.stdout);
    }
    // Before the cutover the form is open.
    let e = explain(
        &config,
        "2018-10-01",
        &["anonymous"],
        "POST /index.php?module=login",
    );
    assert!(!e.stdout.contains("legacy-login-disabled"), "{}", e.stdout);
}
