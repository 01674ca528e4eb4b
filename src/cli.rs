//! The command line. Each subcommand is one enum variant and one match arm in [`main`];
//! exit codes: 0 ok, 1 runtime failure, 2 bad configuration or usage.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{self, ConfigErrors, GatewayConfig, HostHeader};

/// Exit code for a configuration (or usage) error, as clap uses for usage errors.
pub const EXIT_CONFIG: u8 = 2;
/// Exit code for a failure while running.
pub const EXIT_RUNTIME: u8 = 1;

#[derive(Debug, Parser)]
#[command(
    name = "esia-gateway",
    version,
    about = "TLS reverse proxy that puts ESIA (Госуслуги) login in front of a legacy e-diary"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway (production).
    Run(ConfigArg),
    /// Validate the configuration, report every error at once, and exit.
    CheckConfig(ConfigArg),
    /// The whole system on loopback: ESIA mock, demo diary and the gateway in front.
    Demo(DemoArgs),
    /// Run only the ESIA mock (for staging and manual tests).
    EsiaMock(MockArgs),
    /// Run only the demo legacy diary (plain HTTP).
    DemoDiary(DiaryArgs),
    /// What the cutover policy does with one request: canonical form, matched route
    /// group, phase, decision and reason. Exit 0 allow, 1 deny or sign-in, 2 bad input.
    Explain(ExplainArgs),
    /// Bindings (ESIA account ↔ diary account): list, show, unbind, export, import.
    Bindings(crate::ops::bindings::BindingsArgs),
    /// The audit trail as JSON lines (filters, --follow); `audit purge` applies retention.
    Audit(crate::ops::audit::AuditArgs),
    /// Vault keys: generate a key file, rotate entries and jars onto it, status.
    Keys(crate::ops::keys::KeysArgs),
    /// Cutover readiness: who signed in and how, linked share per role, refusals, flagged bindings.
    Report(crate::ops::report::ReportArgs),
    /// Prove `[diary]` and the route groups against the live diary with a real account.
    DiaryCheck(crate::ops::diary_check::DiaryCheckArgs),
    /// Check the configuration and, if valid, make the running gateway apply it (SIGHUP).
    Reload(crate::ops::reload::ReloadArgs),
    /// The page templates: `pages export DIR` writes the shipped ones, to start a
    /// region's own from (`[pages] templates`).
    Pages(crate::ops::pages::PagesArgs),
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The configuration file (the same one `run` uses).
    #[arg(long, short = 'c', default_value = "gateway.toml", value_name = "PATH")]
    pub config: PathBuf,
    /// The instant to stand on: 2019-02-01 (00:00 in the calendar's zone),
    /// 2019-02-01T10:30 (local) or RFC 3339; default now.
    #[arg(long, value_name = "DATE")]
    pub at: Option<String>,
    /// anonymous | legacy | esia | esia-unlinked
    #[arg(long, default_value = "legacy", value_name = "KIND")]
    pub session: String,
    /// The ESIA account level: child | simplified | standard | confirmed (ESIA only).
    #[arg(long, value_name = "LEVEL")]
    pub level: Option<String>,
    /// The diary role: student | parent | teacher | class_teacher | head_teacher | director | admin
    #[arg(long, value_name = "ROLE")]
    pub role: Option<String>,
    /// The request, e.g. 'GET /index.php?module=marks'.
    #[arg(value_name = "REQUEST")]
    pub request: String,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The gateway's HTTPS listener.
    #[arg(long, default_value = "127.0.0.1:8443", value_name = "ADDR")]
    pub https: std::net::SocketAddr,
    /// The admin listener (/healthz, /readyz, /metrics).
    #[arg(long, default_value = "127.0.0.1:9090", value_name = "ADDR")]
    pub admin: std::net::SocketAddr,
    /// The cutover calendar (and only the calendar) pretends today is this date.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub at: Option<chrono::NaiveDate>,
    /// Where the demo keeps its generated config, data and certificates (DIR/certs).
    #[arg(long, default_value = "data/demo", value_name = "DIR")]
    pub data_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct MockArgs {
    #[arg(
        long,
        short = 'c',
        default_value = "esia-mock.toml",
        value_name = "PATH"
    )]
    pub config: PathBuf,
}

#[derive(Debug, Args)]
pub struct DiaryArgs {
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: std::net::SocketAddr,
    /// Idle time after which the diary's own session expires, in seconds.
    #[arg(long, default_value_t = 1200, value_name = "SECONDS")]
    pub session_idle: u64,
    /// Login like a real PHP school system: the form's pre-login cookie and `_token`
    /// are required (else 302 to /nocookies) and the session id is not rotated.
    #[arg(long)]
    pub strict_login: bool,
    /// Play a `Modules.php?modname=` PHP school system instead (pages by `modname`, login
    /// POST to /index.php, 200 + script for a dead session; examples/modules-php.toml).
    #[arg(long)]
    pub modules: bool,
}

#[derive(Debug, Args)]
pub struct ConfigArg {
    /// The configuration file; relative paths inside it start at its directory.
    #[arg(long, short = 'c', default_value = "gateway.toml", value_name = "PATH")]
    pub config: PathBuf,
}

/// Parses the process arguments and runs the chosen command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(a) => run(&a.config),
        Command::CheckConfig(a) => check_config(&a.config),
        Command::Demo(a) => {
            let opts = crate::demo::DemoOptions {
                https: a.https,
                admin: a.admin,
                at: a.at,
                // Two demos with different data dirs never share (or overwrite) keys.
                certs_dir: a.data_dir.join("certs"),
                data_dir: a.data_dir,
            };
            with_runtime(crate::demo::run_cli(opts))
        }
        Command::Explain(a) => explain(&a),
        Command::EsiaMock(a) => with_runtime(crate::standins::esia_mock::run_cli(&a.config)),
        Command::DemoDiary(a) => with_runtime(crate::standins::demo_diary::run_cli(
            a.listen,
            std::time::Duration::from_secs(a.session_idle),
            a.strict_login,
            if a.modules {
                crate::standins::demo_diary::DiaryMode::Modules
            } else {
                crate::standins::demo_diary::DiaryMode::Classic
            },
        )),
        Command::Bindings(a) => crate::ops::bindings::main(a),
        Command::Audit(a) => crate::ops::audit::main(a),
        Command::Keys(a) => crate::ops::keys::main(a),
        Command::Report(a) => crate::ops::report::main(a),
        Command::DiaryCheck(a) => crate::ops::diary_check::main(a),
        Command::Reload(a) => crate::ops::reload::main(a),
        Command::Pages(a) => crate::ops::pages::main(a),
    }
}

/// Runs a stand-alone command (demo, stand-ins) on a fresh runtime with plain logging.
fn with_runtime(fut: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    crate::logging::init(&crate::config::LogConfig::default());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    match runtime.block_on(fut) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

/// Prints every error, one per line, to stderr.
fn report(path: &Path, errors: &ConfigErrors) -> ExitCode {
    eprintln!(
        "{}: {} configuration error(s):",
        path.display(),
        errors.len()
    );
    eprintln!("{errors}");
    ExitCode::from(EXIT_CONFIG)
}

fn run(path: &Path) -> ExitCode {
    let cfg = match config::load(path) {
        Ok(cfg) => cfg,
        Err(errors) => return report(path, &errors),
    };
    crate::logging::init(&cfg.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    match runtime.block_on(crate::server::run(cfg, path.to_owned())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "gateway stopped with an error");
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

fn check_config(path: &Path) -> ExitCode {
    match config::load(path) {
        Ok(cfg) => {
            println!("OK: {}", path.display());
            print!("{}", summary(&cfg));
            for w in config::warnings::warnings(&cfg, chrono::Utc::now()) {
                println!("warning: {w}");
            }
            ExitCode::SUCCESS
        }
        Err(errors) => report(path, &errors),
    }
}

/// `esia-gateway explain`: the proxy's own pipeline (canonicalise → phase → decide) on
/// the validated config, printed step by step.
fn explain(a: &ExplainArgs) -> ExitCode {
    let cfg = match config::load(&a.config) {
        Ok(cfg) => cfg,
        Err(errors) => return report(&a.config, &errors),
    };
    let Some(cutover) = &cfg.cutover else {
        eprintln!(
            "{}: no [calendar] or [[route_group]]: the gateway forwards everything",
            a.config.display()
        );
        return ExitCode::from(EXIT_CONFIG);
    };
    let policy = &cutover.policy;
    let at = match &a.at {
        None => chrono::Utc::now(),
        Some(text) => match policy.calendar.parse_instant(text) {
            Some(t) => t,
            None => {
                eprintln!(
                    "error: --at {text:?}: expected 2019-02-01, 2019-02-01T10:30 or RFC 3339"
                );
                return ExitCode::from(EXIT_CONFIG);
            }
        },
    };
    let session =
        match crate::policy::parse_session(&a.session, a.level.as_deref(), a.role.as_deref()) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(EXIT_CONFIG);
            }
        };
    let login = &cfg.diary.rules.login_endpoints;
    let is_login = |c: &crate::policy::CanonicalRequest| login.matches(c);
    match crate::policy::explain::explain_with(
        policy,
        &policy.calendar,
        at,
        &session,
        &a.request,
        is_login,
    ) {
        Ok(e) => {
            print!("{e}");
            if let Some(reason) = e.decision.reason() {
                println!("reason:     {reason}");
            }
            ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(EXIT_RUNTIME))
        }
        Err(e) => {
            println!("request:    {}", a.request.trim());
            println!("decision:   bad-request");
            eprintln!("error: {e}");
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

/// A few lines an operator can eyeball: where it listens and where it forwards.
pub fn summary(cfg: &GatewayConfig) -> String {
    let l = &cfg.listen;
    let mut out = format!("  https     {}\n", l.https);
    if let Some(http) = l.http {
        out.push_str(&format!("  http      {http} (redirects to https)\n"));
    }
    if let Some(admin) = l.admin {
        out.push_str(&format!("  admin     {admin}\n"));
    }
    if let Some(public) = &l.public_url {
        out.push_str(&format!("  public    {public}\n"));
    }
    let names = match (&l.public_url, l.hosts.is_empty()) {
        (None, true) => "any Host (set public_url)".to_owned(),
        (Some(u), true) => u.host_str().unwrap_or_default().to_owned(),
        (public, false) => {
            let mut all: Vec<&str> = public.iter().filter_map(|u| u.host_str()).collect();
            all.extend(l.hosts.iter().map(String::as_str));
            all.join(", ")
        }
    };
    out.push_str(&format!("  names     {names}\n"));
    let lim = &cfg.limits;
    out.push_str(&format!(
        "  limits    {} connections ({} per client), {} rewrites at once, bodies read within {}s\n",
        lim.max_connections,
        lim.max_connections_per_client,
        lim.max_rewrites,
        cfg.timeouts.body_read.as_secs()
    ));
    let host = match &cfg.upstream.host_header {
        HostHeader::Keep => "keep".to_string(),
        HostHeader::Upstream => "upstream".to_string(),
        HostHeader::Fixed(h) => h.clone(),
    };
    out.push_str(&format!(
        "  upstream  {} (Host: {host})\n",
        cfg.upstream.url
    ));
    if let Some(c) = &cfg.cutover {
        let cal = &c.policy.calendar;
        let from = cal
            .transition_from
            .map_or_else(|| "-".to_string(), |d| d.to_string());
        out.push_str(&format!(
            "  calendar  transition {from}, ESIA only from {} ({}), {}; phase now: {}\n",
            cal.esia_only_from,
            cal.legacy_login.as_str(),
            cal.time_zone,
            cal.phase_at(chrono::Utc::now())
        ));
    }
    // Every section that changes what the gateway does, on or off, so an operator sees
    // at a glance what this file turns on.
    let on_off = |on: bool| if on { "on" } else { "off" };
    match &cfg.esia {
        Some(e) => out.push_str(&format!(
            "  esia      on ({}, client {})\n",
            e.base_url, e.client_id
        )),
        None => out.push_str("  esia      off (no [esia]: plain proxy, no ESIA login)\n"),
    }
    let form = matches!(cfg.diary.mode, crate::diary::config::SignInMode::Form);
    let linking = cfg.esia.is_some() && (cfg.vault.is_some() || !form);
    out.push_str(&format!(
        "  linking   {} (diary sign-in: {}; legacy login through the gateway: {})\n",
        on_off(linking),
        if form { "form" } else { "header" },
        on_off(cfg.linking.legacy_login)
    ));
    if linking {
        out.push_str(&format!(
            "  diary     session expiry: {}\n",
            cfg.diary.rules.expired.describe()
        ));
    }
    out.push_str(&format!(
        "  vault     {}\n",
        match &cfg.vault {
            Some(v) => format!("on ({})", v.active.display()),
            None => "off".to_owned(),
        }
    ));
    // The store is used with [esia] only; its URL may hold a password: never printed.
    let store = match (&cfg.esia, &cfg.store) {
        (None, _) => "off (used with [esia])".to_owned(),
        (Some(_), crate::login::config::StoreConfig::Sqlite(p)) => {
            format!("sqlite ({})", p.display())
        }
        (Some(_), crate::login::config::StoreConfig::Postgres(_)) => "postgres".to_owned(),
    };
    out.push_str(&format!("  store     {store}\n"));
    let templates = match &cfg.pages.templates_dir {
        None => "shipped".to_owned(),
        Some(dir) => {
            let files: Vec<&str> = cfg.pages.templates.overrides().keys().copied().collect();
            format!("{} ({})", dir.display(), files.join(", "))
        }
    };
    out.push_str(&format!(
        "  pages     {}, templates: {templates}\n",
        cfg.pages.language.code()
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn config_defaults_to_gateway_toml() {
        let cli = Cli::try_parse_from(["esia-gateway", "check-config"]).unwrap();
        let Command::CheckConfig(a) = cli.command else {
            panic!("wrong subcommand");
        };
        assert_eq!(a.config, Path::new("gateway.toml"));
        let cli = Cli::try_parse_from(["esia-gateway", "run", "--config", "/etc/g.toml"]).unwrap();
        assert!(matches!(cli.command, Command::Run(a) if a.config == Path::new("/etc/g.toml")));
        assert!(Cli::try_parse_from(["esia-gateway"]).is_err());
        assert!(Cli::try_parse_from(["esia-gateway", "frobnicate"]).is_err());
    }

    #[test]
    fn explain_takes_the_documented_arguments() {
        let cli = Cli::try_parse_from([
            "esia-gateway",
            "explain",
            "--config",
            "gateway.toml",
            "--at",
            "2019-02-01",
            "--session",
            "esia",
            "--level",
            "confirmed",
            "--role",
            "parent",
            "GET /index.php?module=marks",
        ])
        .unwrap();
        let Command::Explain(a) = cli.command else {
            panic!("wrong subcommand");
        };
        assert_eq!(a.request, "GET /index.php?module=marks");
        assert_eq!(a.role.as_deref(), Some("parent"));
        assert!(Cli::try_parse_from(["esia-gateway", "explain"]).is_err());
    }

    #[test]
    fn summary_names_listeners_and_upstream() {
        let mut cfg = GatewayConfig::new(
            "0.0.0.0:443".parse().unwrap(),
            "c.pem".into(),
            "k.pem".into(),
            "http://127.0.0.1:8080".parse().unwrap(),
        );
        cfg.listen.admin = Some("127.0.0.1:9090".parse().unwrap());
        let s = summary(&cfg);
        assert!(s.contains("https     0.0.0.0:443"), "{s}");
        assert!(s.contains("admin     127.0.0.1:9090"), "{s}");
        assert!(
            s.contains("upstream  http://127.0.0.1:8080/ (Host: keep)"),
            "{s}"
        );
        // Issue 14: every section that changes behaviour says whether it is on.
        for line in [
            "esia      off",
            "linking   off",
            "vault     off",
            "store     off",
            "pages     ru, templates: shipped",
        ] {
            assert!(s.contains(line), "{line}\n{s}");
        }
    }
}
