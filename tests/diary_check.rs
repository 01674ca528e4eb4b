//! `esia-gateway diary-check` (the real binary) against the real demo diary: a config
//! that fits passes every step; each deliberately broken config fails with the step
//! that is wrong named; the password never appears in what it prints.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use esia_gateway::standins::demo_diary::{self, RunningDiary};
use support::Pki;

const BIN: &str = env!("CARGO_BIN_EXE_esia-gateway");
const PASSWORD: &str = "demo";

async fn diary() -> RunningDiary {
    demo_diary::start(demo_diary::DiaryConfig::new("127.0.0.1:0".parse().unwrap()))
        .await
        .unwrap()
}

/// gateway.toml for the demo diary: the shipped policy (its grade group has samples)
/// and `diary` as the `[diary]` section.
fn config(
    dir: &Path,
    pki: &Pki,
    diary: &RunningDiary,
    diary_section: &str,
    policy: &str,
) -> PathBuf {
    let q = |p: &Path| toml::Value::String(p.display().to_string()).to_string();
    let text = format!(
        "[listen]\nhttps = \"127.0.0.1:0\"\n[tls]\ncert = {}\nkey = {}\n\
         [upstream]\nurl = \"{}\"\n{diary_section}\n{policy}\n",
        q(&pki.files.cert),
        q(&pki.files.key),
        diary.url()
    );
    let path = dir.join("gateway.toml");
    std::fs::write(&path, text).unwrap();
    path
}

async fn diary_check(cfg: &Path, extra: &[&str]) -> Output {
    tokio::process::Command::new(BIN)
        .args(["diary-check", "--login", "parent", "--config"])
        .arg(cfg)
        .args(extra)
        .env("ESIA_GW_DIARY_PASSWORD", PASSWORD)
        .env_remove("RUST_LOG")
        .output()
        .await
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Asserts a passing run with a ✓ for every step; the whole output.
fn every_step_passes(out: &Output) -> String {
    let all = text(out);
    assert!(out.status.success(), "{all}");
    for step in [
        "login form",
        "wrong password",
        "sign in",
        "sample",
        "logout",
        "expiry",
    ] {
        assert!(all.contains(&format!("✓ {step}")), "no ✓ {step} in\n{all}");
    }
    all
}

fn failed_steps(o: &Output) -> Vec<String> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("✗ "))
        .map(|l| l.split_whitespace().next().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fitting_config_passes_every_step() {
    let pki = Pki::new();
    let d = diary().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &pki, &d, "", esia_gateway::policy::EXAMPLE_TOML);
    let out = diary_check(&cfg, &[]).await;
    let all = every_step_passes(&out);
    assert!(
        all.contains("/marks (group grades): served (200 OK)"),
        "{all}"
    );
    assert!(
        all.contains(
            "a password session after the cutover: refused (legacy-session-after-cutover)"
        ),
        "{all}"
    );
    assert!(all.contains("role parent"), "{all}");
    // Never the password: not in the output, not in the JSON.
    let json = diary_check(&cfg, &["--format", "json"]).await;
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert!(v["steps"].as_array().unwrap().len() >= 6);
    for o in [&out, &json] {
        assert!(!text(o).contains("not-the-password") && !text(o).contains("=demo"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_broken_config_names_the_step_that_fails() {
    let pki = Pki::new();
    let d = diary().await;
    let dir = tempfile::tempdir().unwrap();
    let policy = esia_gateway::policy::EXAMPLE_TOML;

    // The login field is called something else on this diary.
    let cfg = config(
        dir.path(),
        &pki,
        &d,
        "[diary]\nlogin_field = \"username\"\n",
        policy,
    );
    let out = diary_check(&cfg, &[]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let failed = failed_steps(&out);
    assert!(failed.contains(&"login".to_owned()), "{}", text(&out));
    assert!(
        text(&out).contains("no field named username"),
        "{}",
        text(&out)
    );

    // The failure text is not what this diary says on a wrong password.
    let cfg = config(
        dir.path(),
        &pki,
        &d,
        "[diary]\nfailure_text = \"Доступ запрещён навсегда\"\n",
        policy,
    );
    let out = diary_check(&cfg, &[]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        failed_steps(&out).contains(&"wrong".to_owned()),
        "{}",
        text(&out)
    );

    // A grade page missing from the groups: the group's own sample is refused at load.
    let narrowed = policy.replacen("    { prefix = \"/marks\" },\n", "", 1);
    assert_ne!(
        narrowed, policy,
        "the shipped grades group lost its /marks matcher"
    );
    let cfg = config(dir.path(), &pki, &d, "", &narrowed);
    let out = diary_check(&cfg, &[]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("samples[0]") && text(&out).contains("matched by no route group"),
        "{}",
        text(&out)
    );

    // A wrong password for the account: sign-in fails, the rest is not checked.
    let cfg = config(dir.path(), &pki, &d, "", policy);
    let out = tokio::process::Command::new(BIN)
        .args([
            "diary-check",
            "--login",
            "parent",
            "--password",
            "wrong",
            "--config",
        ])
        .arg(&cfg)
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        failed_steps(&out).contains(&"sign".to_owned()),
        "{}",
        text(&out)
    );
}

/// The shipped profile `examples/demo-diary.toml` (certificates and the diary's address
/// replaced by this test's) passes check-config and every diary-check step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_demo_profile_fits_the_demo_diary() {
    let pki = Pki::new();
    let d = diary().await;
    let dir = tempfile::tempdir().unwrap();
    let q = |p: &Path| toml::Value::String(p.display().to_string()).to_string();
    let profile = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/demo-diary.toml"
    ))
    .unwrap()
    .replace("\"../data/demo/certs/gateway.pem\"", &q(&pki.files.cert))
    .replace("\"../data/demo/certs/gateway.key\"", &q(&pki.files.key))
    .replace("http://127.0.0.1:8080", &d.url());
    let cfg = dir.path().join("demo-diary.toml");
    std::fs::write(&cfg, profile).unwrap();
    let checked = tokio::process::Command::new(BIN)
        .args(["check-config", "--config"])
        .arg(&cfg)
        .output()
        .await
        .unwrap();
    assert!(checked.status.success(), "{}", text(&checked));
    let out = diary_check(&cfg, &[]).await;
    assert!(out.status.success(), "{}", text(&out));
}

/// Issue 14: `diary-check` passes on the demo diary's `Modules.php` mode with the shipped
/// `examples/modules-php.toml` (only the addresses and certificate paths changed): login
/// on `/index.php`, identity from the page header, the grade pages by `modname` prefix,
/// a logout link with a token, a dead session as a 200 + script page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_modules_profile_passes_every_step() {
    let pki = Pki::new();
    let d = demo_diary::start(demo_diary::DiaryConfig {
        mode: demo_diary::DiaryMode::Modules,
        ..demo_diary::DiaryConfig::new("127.0.0.1:0".parse().unwrap())
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let q = |p: &Path| toml::Value::String(p.display().to_string()).to_string();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let profile = std::fs::read_to_string(root.join("examples/modules-php.toml"))
        .unwrap()
        .replace("https = \"0.0.0.0:443\"", "https = \"127.0.0.1:0\"")
        .replace(
            "cert = \"certs/gateway.pem\"",
            &format!("cert = {}", q(&pki.files.cert)),
        )
        .replace(
            "key = \"certs/gateway.key\"",
            &format!("key = {}", q(&pki.files.key)),
        )
        .replace(
            "url = \"http://127.0.0.1:8080\"",
            &format!("url = \"{}\"", d.url()),
        );
    let cfg = dir.path().join("gateway.toml");
    std::fs::write(&cfg, profile).unwrap();
    every_step_passes(&diary_check(&cfg, &[]).await);
}
