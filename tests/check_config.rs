//! `esia-gateway check-config` as an operator meets it: the real binary on real files,
//! with a generated certificate. A good file prints `OK` and exits 0; a bad one exits 2
//! and names every problem at once — key path, `file:line:col` (or the env variable) and
//! a hint. The hostile-input corpus lives in `tests/data/config/`, one file per case with
//! its expected refusal in a header comment.

use std::path::{Path, PathBuf};
use std::process::Command;

use esia_gateway::tls::selfsigned::TestCa;

const BIN: &str = env!("CARGO_BIN_EXE_esia-gateway");

/// A temp dir holding `certs/gateway.{pem,key}` and a non-matching `certs/other.key`.
struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::generate("check-config test CA").unwrap();
        let certs = dir.path().join("certs");
        let names = ["localhost", "dnevnik.example.ru", "127.0.0.1"];
        ca.leaf(&names).unwrap().write(&certs, "gateway").unwrap();
        ca.leaf(&["other"]).unwrap().write(&certs, "other").unwrap();
        write_expired(&certs);
        Self { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, text: &str) {
        std::fs::write(self.path("gateway.toml"), text).unwrap();
    }

    /// Runs `check-config --config gateway.toml` inside the site.
    fn check(&self, env: &[(&str, &str)]) -> Outcome {
        run(
            self.dir.path(),
            &["check-config", "--config", "gateway.toml"],
            env,
        )
    }
}

/// `certs/expired.{pem,key}`: a self-signed certificate that ran out in 2001.
fn write_expired(certs: &Path) {
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2000, 1, 1);
    params.not_after = rcgen::date_time_ymd(2001, 1, 1);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(certs.join("expired.pem"), cert.pem()).unwrap();
    std::fs::write(certs.join("expired.key"), key.serialize_pem()).unwrap();
}

struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Outcome {
    fn error_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| !l.ends_with("configuration error(s):"))
            .collect()
    }
}

/// Runs the binary in `cwd` with a clean `ESIA_GATEWAY__*` environment plus `env`.
fn run(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(cwd).args(args).env_remove("RUST_LOG");
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("ESIA_GATEWAY__") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().unwrap();
    Outcome {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

const VALID: &str = r#"
[listen]
https = "127.0.0.1:8443"
admin = "127.0.0.1:9090"
[tls]
cert = "certs/gateway.pem"
key = "certs/gateway.key"
[upstream]
url = "http://127.0.0.1:8080"
"#;

#[test]
fn valid_file_prints_ok_and_a_summary() {
    let site = Site::new();
    site.write(VALID);
    let out = site.check(&[]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout.starts_with("OK: gateway.toml\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("https     127.0.0.1:8443"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("admin     127.0.0.1:9090"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("upstream  http://127.0.0.1:8080/"),
        "{}",
        out.stdout
    );
    // Issue 10: the names served and the limits in force are on the summary too.
    assert!(
        out.stdout.contains("names     any Host (set public_url)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(
            "limits    10000 connections (256 per client), 256 rewrites at once, bodies read within 30s"
        ),
        "{}",
        out.stdout
    );
    assert!(out.stderr.is_empty(), "{}", out.stderr);

    site.write(&VALID.replace(
        "[listen]\n",
        "[listen]\npublic_url = \"https://localhost\"\nhosts = [\"127.0.0.1\"]\n",
    ));
    let out = site.check(&[]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout.contains("names     localhost, 127.0.0.1"),
        "{}",
        out.stdout
    );
}

#[test]
fn unknown_key_names_path_line_and_nearest_spelling() {
    let site = Site::new();
    site.write(&VALID.replace("[upstream]\n", "[upstream]\nulr = \"x\"\n"));
    let out = site.check(&[]);
    assert_eq!(out.code, Some(2));
    assert_eq!(
        out.error_lines(),
        ["gateway.toml:9:1: upstream.ulr: unknown key `ulr` (hint: did you mean `url`?)"]
    );
}

#[test]
fn wrong_type_names_what_was_expected() {
    let site = Site::new();
    site.write(&format!("{VALID}[log]\naccess_log = 1\n"));
    let out = site.check(&[]);
    assert_eq!(out.code, Some(2));
    assert_eq!(
        out.error_lines(),
        [
            "gateway.toml:11:14: log.access_log: invalid type: integer `1` (hint: expected a boolean)"
        ]
    );
}

#[test]
fn missing_cert_file_is_reported_at_its_key() {
    let site = Site::new();
    site.write(&VALID.replace("certs/gateway.pem", "certs/missing.pem"));
    let out = site.check(&[]);
    assert_eq!(out.code, Some(2));
    let lines = out.error_lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("gateway.toml:6:8: tls.cert: file "),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].contains("certs/missing.pem does not exist"),
        "{}",
        lines[0]
    );
}

#[test]
fn every_error_is_reported_at_once_in_file_order() {
    let site = Site::new();
    site.write(
        r#"[listen]
https = "0.0.0.0:443"
admin = "0.0.0.0:443"
[tls]
cert = "certs/gateway.pem"
key = "certs/other.key"
[upstream]
url = "http://127.0.0.1:8080/diary"
[timeouts]
idle = "forever"
[forwarding]
trusted_proxies = ["10.0.0.0/40"]
[log]
level = "inof"
colour = true
"#,
    );
    let out = site.check(&[]);
    assert_eq!(out.code, Some(2));
    let lines = out.error_lines();
    let expected_starts = [
        "gateway.toml:6:7: tls.key: does not fit tls.cert",
        "gateway.toml:8:7: upstream.url: ",
        "gateway.toml:10:8: timeouts.idle: invalid value: string \"forever\"",
        "gateway.toml:12:20: forwarding.trusted_proxies[0]: \"10.0.0.0/40\" is not a network",
        "gateway.toml:14:9: log.level: \"inof\" is not a log level",
        "gateway.toml:15:1: log.colour: unknown key `colour`",
    ];
    assert_eq!(lines.len(), expected_starts.len(), "{lines:#?}");
    for (line, want) in lines.iter().zip(expected_starts) {
        assert!(
            line.starts_with(want),
            "{line:?} should start with {want:?}"
        );
        assert!(line.contains("(hint: "), "no hint in {line:?}");
    }
    assert!(
        out.stderr
            .starts_with("gateway.toml: 6 configuration error(s):\n")
    );
}

#[test]
fn cross_section_errors_are_reported_with_the_others() {
    let site = Site::new();
    site.write(
        &VALID
            .replace("127.0.0.1:9090", "127.0.0.1:8443")
            .replace("[upstream]\n", "[upstream]\npool_max_idle = -1\n"),
    );
    let out = site.check(&[]);
    assert_eq!(out.code, Some(2));
    let lines = out.error_lines();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(lines[0].starts_with("gateway.toml:4:9: listen.admin: 127.0.0.1:8443 collides"));
    assert!(lines[1].starts_with("gateway.toml:9:17: upstream.pool_max_idle: invalid value"));
}

#[test]
fn syntax_error_has_line_and_column() {
    let site = Site::new();
    site.write("[listen]\nhttps = \"127.0.0.1:8443\"\n\n[tls\ncert = 1\n");
    let out = site.check(&[]);
    assert_eq!(out.code, Some(2));
    let lines = out.error_lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("gateway.toml:4:5: TOML syntax error: "),
        "{}",
        lines[0]
    );
}

#[test]
fn env_override_fixes_a_bad_value() {
    let site = Site::new();
    site.write(&VALID.replace("http://127.0.0.1:8080", "ftp://nope"));
    assert_eq!(site.check(&[]).code, Some(2));
    let out = site.check(&[("ESIA_GATEWAY__UPSTREAM__URL", "http://10.1.2.3:8081")]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout.contains("upstream  http://10.1.2.3:8081/"),
        "{}",
        out.stdout
    );
}

#[test]
fn env_override_with_a_bad_value_names_the_variable() {
    let site = Site::new();
    site.write(VALID);
    let out = site.check(&[
        ("ESIA_GATEWAY__LIMITS__MAX_BODY_BYTES", "lots"),
        ("ESIA_GATEWAY__TLS__KEY", "certs/other.key"),
    ]);
    assert_eq!(out.code, Some(2));
    let lines = out.error_lines();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(lines.iter().any(|l| l.starts_with(
        "env ESIA_GATEWAY__LIMITS__MAX_BODY_BYTES: limits.max_body_bytes: invalid value: string \"lots\""
    )));
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("env ESIA_GATEWAY__TLS__KEY: tls.key: does not fit tls.cert"))
    );
}

#[test]
fn shipped_gateway_toml_is_valid_with_generated_certs() {
    let site = Site::new();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("gateway.toml");
    let cert = site.path("certs/gateway.pem");
    let key = site.path("certs/gateway.key");
    let out = run(
        site.dir.path(),
        &["check-config", "--config", shipped.to_str().unwrap()],
        &[
            ("ESIA_GATEWAY__TLS__CERT", cert.to_str().unwrap()),
            ("ESIA_GATEWAY__TLS__KEY", key.to_str().unwrap()),
        ],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout.contains("https     0.0.0.0:443"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("http      0.0.0.0:80"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("upstream  http://127.0.0.1:8080/"),
        "{}",
        out.stdout
    );
}

#[test]
fn relative_cert_paths_start_at_the_config_directory() {
    let site = Site::new();
    site.write(VALID);
    let config = site.path("gateway.toml");
    let out = run(
        Path::new("/"),
        &["check-config", "-c", config.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}

#[test]
fn missing_or_unreadable_config_file_exits_2() {
    let site = Site::new();
    let out = site.check(&[]);
    assert_eq!(out.code, Some(2));
    assert!(
        out.stderr
            .contains("gateway.toml: cannot read the config file"),
        "{}",
        out.stderr
    );
    std::fs::write(site.path("gateway.toml"), [0xff, 0xfe, b'[', 0x80]).unwrap();
    let out = site.check(&[]);
    assert_eq!(out.code, Some(2));
    assert!(
        out.stderr.contains("cannot read the config file"),
        "{}",
        out.stderr
    );
}

#[test]
fn run_refuses_a_bad_config_before_starting() {
    let site = Site::new();
    site.write(&VALID.replace("[tls]", "[tsl]"));
    let out = run(site.dir.path(), &["run", "--config", "gateway.toml"], &[]);
    assert_eq!(out.code, Some(2));
    assert!(
        out.stderr
            .contains("tsl: unknown key `tsl` (hint: did you mean `tls`?)")
    );
    assert!(out.stderr.contains("tls.cert: required key is missing"));
}

#[test]
fn library_api_returns_structured_errors() {
    use esia_gateway::config::{Location, load_str_with_env};
    let site = Site::new();
    let origin = site.path("gateway.toml");
    let text = VALID.replace("http://127.0.0.1:8080", "http://127.0.0.1:8080/x");
    let errs = load_str_with_env(&text, &origin, Vec::new()).unwrap_err();
    assert_eq!(errs.len(), 1);
    let e = errs.iter().next().unwrap();
    assert_eq!(e.path, "upstream.url");
    assert_eq!(
        e.location,
        Location::File {
            path: origin.clone(),
            line: 9,
            col: 7
        }
    );
    assert!(e.hint.as_deref().unwrap().contains("no path"));

    let fixed = load_str_with_env(
        &text,
        &origin,
        vec![(
            "ESIA_GATEWAY__UPSTREAM__URL".into(),
            "https://diary:8443".into(),
        )],
    )
    .unwrap();
    assert_eq!(fixed.upstream.url.as_str(), "https://diary:8443/");
    assert_eq!(fixed.tls.cert, site.path("certs/gateway.pem"));
    assert_eq!(fixed.limits.max_header_bytes, 16 * 1024);
    assert_eq!(fixed.timeouts.upstream_response.as_secs(), 30);

    let proxies = format!("{VALID}[forwarding]\ntrusted_proxies = [\"10.1.2.3/8\", \"::1\"]\n");
    let cfg = load_str_with_env(&proxies, &origin, Vec::new()).unwrap();
    let nets: Vec<String> = cfg
        .forwarding
        .trusted_proxies
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(nets, ["10.0.0.0/8", "::1/128"]);
}

/// The shipped file documents the defaults: loading it, or a file that leaves every
/// optional key out, must give exactly the runtime defaults of `GatewayConfig::new`.
#[test]
fn shipped_defaults_match_the_runtime_defaults() {
    use esia_gateway::config::{GatewayConfig, load_str_with_env};
    let site = Site::new();
    let cert = site.path("certs/gateway.pem");
    let key = site.path("certs/gateway.key");
    let defaults = GatewayConfig::new(
        "127.0.0.1:8443".parse().unwrap(),
        cert.clone(),
        key.clone(),
        "http://127.0.0.1:8080".parse().unwrap(),
    );
    let shipped_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("gateway.toml");
    let shipped_text = std::fs::read_to_string(&shipped_path).unwrap();
    let env = vec![
        (
            "ESIA_GATEWAY__TLS__CERT".into(),
            cert.clone().into_os_string(),
        ),
        (
            "ESIA_GATEWAY__TLS__KEY".into(),
            key.clone().into_os_string(),
        ),
    ];
    let shipped = load_str_with_env(&shipped_text, &shipped_path, env).unwrap();
    let minimal = load_str_with_env(VALID, &site.path("gateway.toml"), Vec::new()).unwrap();
    for cfg in [&shipped, &minimal] {
        assert_eq!(
            format!("{:?}", cfg.upstream),
            format!("{:?}", defaults.upstream)
        );
        assert_eq!(
            format!("{:?}", cfg.forwarding),
            format!("{:?}", defaults.forwarding)
        );
        assert_eq!(
            format!("{:?}", cfg.limits),
            format!("{:?}", defaults.limits)
        );
        assert_eq!(
            format!("{:?}", cfg.timeouts),
            format!("{:?}", defaults.timeouts)
        );
        assert_eq!(format!("{:?}", cfg.pages), format!("{:?}", defaults.pages));
        assert_eq!(format!("{:?}", cfg.log), format!("{:?}", defaults.log));
        assert_eq!(cfg.tls.outgoing_ca, None);
        assert_eq!(cfg.listen.public_url, None);
    }
}

/// Header directives of a fixture file.
struct Fixture {
    name: String,
    text: String,
    valid: bool,
    expect: Vec<String>,
    env: Vec<(String, String)>,
}

fn fixtures() -> Vec<Fixture> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/config");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let mut f = Fixture {
            name: path.file_name().unwrap().to_string_lossy().into_owned(),
            valid: false,
            expect: Vec::new(),
            env: Vec::new(),
            text: text.clone(),
        };
        for line in text.lines() {
            if line.trim() == "# valid" {
                f.valid = true;
            } else if let Some(e) = line.strip_prefix("# expect: ") {
                f.expect.push(e.to_string());
            } else if let Some(kv) = line.strip_prefix("# env: ") {
                let (k, v) = kv.split_once('=').unwrap();
                f.env.push((k.to_string(), v.to_string()));
            }
        }
        assert!(
            f.valid == f.expect.is_empty(),
            "{}: needs `# valid` or `# expect:`",
            f.name
        );
        out.push(f);
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

#[test]
fn fixture_corpus_each_refused_with_its_expected_message() {
    let site = Site::new();
    let all = fixtures();
    assert!(all.len() >= 25, "fixtures went missing: {}", all.len());
    let mut failures = Vec::new();
    for f in all {
        site.write(&f.text);
        let env: Vec<(&str, &str)> = f
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let out = site.check(&env);
        let want_code = if f.valid { 0 } else { 2 };
        if out.code != Some(want_code) {
            failures.push(format!(
                "{}: exit {:?}, want {want_code}\n{}",
                f.name, out.code, out.stderr
            ));
            continue;
        }
        for e in &f.expect {
            if !out.error_lines().iter().any(|l| l.contains(e.as_str())) {
                failures.push(format!(
                    "{}: no line contains {e:?}\n{}",
                    f.name, out.stderr
                ));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

/// Issue 10: the shipped file switches the calendar on with `[esia]` commented out;
/// check-config says OK (it is valid) but warns that grades would be closed with no way
/// in. Its unmatched routes are default-deny (`session`) after the cutover.
#[test]
fn the_shipped_file_is_valid_and_warned_about() {
    let site = Site::new();
    let shipped =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("gateway.toml"))
            .unwrap();
    site.write(&shipped);
    let out = site.check(&[]);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.starts_with("OK: gateway.toml\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("warning: calendar: ")),
        "{}",
        out.stdout
    );
    // Default-deny as shipped: unmatched routes need a session after the cutover.
    assert!(
        !out.stdout.contains("warning: default_route.after_cutover"),
        "{}",
        out.stdout
    );
}

/// Issue 13: `pages export` writes the reference templates an operator starts from, and
/// never over an existing file without `--force`.
#[test]
fn pages_export_writes_the_shipped_templates_and_keeps_existing_files() {
    let site = Site::new();
    let export = |extra: &[&str]| {
        let mut args = vec!["pages", "export", "pages"];
        args.extend_from_slice(extra);
        run(site.dir.path(), &args, &[])
    };
    let out = export(&[]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let start = site.path("pages/start.html");
    assert!(
        std::fs::read_to_string(&start)
            .unwrap()
            .contains("{% extends \"base.html\" %}")
    );
    for name in ["base.html", "error.html", "denied.html", "style.css"] {
        assert!(site.path("pages").join(name).is_file(), "{name}");
    }
    std::fs::write(&start, "mine").unwrap();
    let out = export(&[]);
    assert_eq!(out.code, Some(2), "{}", out.stdout);
    assert!(out.stderr.contains("start.html"), "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&start).unwrap(), "mine");
    assert_eq!(export(&["--force"]).code, Some(0));
    assert_ne!(std::fs::read_to_string(&start).unwrap(), "mine");
}

/// Issue 13: an operator's page templates are checked like the rest of the file — a
/// broken one is an error at its file and line (every broken file at once), exit 2; a
/// good directory is summarised, and a file no template is named after is a warning.
#[test]
fn page_templates_are_checked_at_their_file_and_line() {
    let site = Site::new();
    let pages = site.path("pages");
    std::fs::create_dir(&pages).unwrap();
    site.write(&format!("{VALID}[pages]\ntemplates = \"pages\"\n"));
    let start = "{% extends \"base.html\" %}\n{% block content %}\n<h1>{{ t.start_titel }}</h1>\n{% endblock %}\n";
    std::fs::write(
        pages.join("start.html"),
        start.replace("{% endblock %}", ""),
    )
    .unwrap();
    std::fs::write(pages.join("error.html"), b"<p>{{ status }}</p>\n\xff\n").unwrap();
    let out = site.check(&[]);
    assert_eq!(out.code, Some(2), "{}{}", out.stdout, out.stderr);
    let lines = out.error_lines();
    assert_eq!(lines.len(), 2, "{}", out.stderr);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("pages/error.html:2: not UTF-8 text")),
        "{}",
        out.stderr
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("pages/start.html:3: syntax error: unexpected end of input")),
        "{}",
        out.stderr
    );

    // Compiling is not enough: every page is rendered, so a misspelt variable is found.
    std::fs::write(pages.join("start.html"), start).unwrap();
    std::fs::write(pages.join("error.html"), "<p>{{ status }}</p>\n").unwrap();
    let out = site.check(&[]);
    assert_eq!(out.code, Some(2), "{}{}", out.stdout, out.stderr);
    assert_eq!(
        out.error_lines(),
        [
            "pages/start.html:3: undefined value `t.start_titel` (hint: start.html is given: \
          action, legacy_login_url, prefix, return_path, signed_in, signed_out, t, title, \
          and `style`)"
        ],
        "{}",
        out.stderr
    );

    std::fs::write(pages.join("start.html"), start.replace("titel", "title")).unwrap();
    std::fs::write(pages.join("strat.html"), "typo").unwrap();
    let out = site.check(&[]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout
            .contains("pages     ru, templates: pages (error.html, start.html)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(
            "warning: pages.templates: pages/strat.html is not a page template and is \
             ignored (did you mean `start.html`?)"
        ),
        "{}",
        out.stdout
    );
}
