//! `esia-gateway demo`: the whole system on loopback — the ESIA mock, the demo diary and
//! the gateway in front of it — with generated certificates, so a newcomer sees the
//! product in one command on a bare machine.
//!
//! The gateway is configured the production way: the demo writes a real `gateway.toml`
//! into the data dir and loads it with the same loader as `run`, so what the demo shows is
//! what an operator's file would do (and the file is there to read).

mod pki;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;

use crate::standins::{demo_diary, esia_mock};

/// The demo's relying-party mnemonic, registered with the mock.
pub const DEMO_CLIENT_ID: &str = "ESIA_GW_DEMO";

#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub https: SocketAddr,
    pub admin: SocketAddr,
    /// The calendar (only the calendar) pretends today is this date.
    pub at: Option<chrono::NaiveDate>,
    pub data_dir: PathBuf,
    pub certs_dir: PathBuf,
}

/// Everything the demo started, for the CLI and for tests.
pub struct RunningDemo {
    pub gateway: crate::server::RunningGateway,
    pub mock: esia_mock::RunningMock,
    pub diary: demo_diary::RunningDiary,
    pub url: String,
    pub config_path: PathBuf,
}

impl RunningDemo {
    pub async fn shutdown(self) {
        self.gateway.shutdown().await;
        self.mock.shutdown().await;
        self.diary.shutdown().await;
    }
}

/// Starts the three servers and returns once they all listen.
pub async fn start(opts: &DemoOptions) -> anyhow::Result<RunningDemo> {
    // The generated config names files absolutely: its own relative paths would start at
    // the data dir, not where the user ran the demo.
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let opts = &DemoOptions {
        data_dir: cwd.join(&opts.data_dir),
        certs_dir: cwd.join(&opts.certs_dir),
        ..opts.clone()
    };
    std::fs::create_dir_all(&opts.data_dir)
        .with_context(|| format!("cannot create {}", opts.data_dir.display()))?;
    let pki = pki::generate(&opts.certs_dir).context("cannot generate the demo certificates")?;

    let diary = demo_diary::start(demo_diary::DiaryConfig::new(SocketAddr::from((
        [127, 0, 0, 1],
        0,
    ))))
    .await
    .context("cannot start the demo diary")?;

    let public = public_url(opts.https);
    let redirect_uri = format!("{public}/esia/callback");
    let token_cert = opts.data_dir.join("esia-token-signing.pem");
    let mut mock_cfg = esia_mock::MockConfig::ephemeral();
    mock_cfg.tls_cert = Some(pki.esia_mock.cert.clone());
    mock_cfg.tls_key = Some(pki.esia_mock.key.clone());
    mock_cfg.accept_demo_signatures = true;
    mock_cfg.token_cert_out = Some(token_cert.clone());
    let mut client = esia_mock::ClientRegistration::with_certificate_pem(
        DEMO_CLIENT_ID,
        vec![redirect_uri.clone()],
        pki.rp_cert_pem.clone(),
    );
    client.logout_redirect_urls = vec![format!("{public}/esia/start")];
    mock_cfg.clients = vec![client];
    let mock = esia_mock::start(mock_cfg)
        .await
        .context("cannot start the ESIA mock")?;

    // The credential vault's key: made once, kept across demo runs (mode 0600).
    let vault_key = opts.data_dir.join("vault.key");
    if !vault_key.exists() {
        crate::diary::vault::generate_key_file(&vault_key)
            .map_err(|e| anyhow::anyhow!("cannot create the demo vault key: {e}"))?;
    }

    let config_path = opts.data_dir.join("gateway.toml");
    let toml = gateway_toml(
        opts,
        &pki,
        &diary.url(),
        mock.base_url(),
        &token_cert,
        &redirect_uri,
    );
    std::fs::write(&config_path, toml)
        .with_context(|| format!("cannot write {}", config_path.display()))?;
    let config = crate::config::load(&config_path)
        .map_err(|e| anyhow::anyhow!("the generated demo config is invalid:\n{e}"))?;
    // `--at` moves the calendar only: the date given, today's time of day, running on.
    let calendar: crate::clock::SharedClock = match opts.at {
        Some(date) => std::sync::Arc::new(crate::clock::OffsetClock::starting_at(
            date.and_time(chrono::Utc::now().time()).and_utc(),
        )),
        None => std::sync::Arc::new(crate::clock::SystemClock),
    };
    let gateway = crate::server::Gateway::start_at(config, calendar)
        .await
        .context("cannot start the gateway")?;
    let url = format!("{}/", public_url(gateway.https_addr()));
    Ok(RunningDemo {
        gateway,
        mock,
        diary,
        url,
        config_path,
    })
}

/// `https://localhost:PORT` — a name, not 127.0.0.1, so browsers treat it as a secure
/// context and the `__Host-` cookies work.
fn public_url(addr: SocketAddr) -> String {
    if addr.ip().is_loopback() {
        format!("https://localhost:{}", addr.port())
    } else {
        format!("https://{addr}")
    }
}

fn toml_str(p: &Path) -> String {
    toml::Value::String(p.display().to_string()).to_string()
}

/// The demo's `gateway.toml`; see the shipped, commented `gateway.toml` for every key.
fn gateway_toml(
    opts: &DemoOptions,
    pki: &pki::DemoPki,
    diary_url: &str,
    esia_url: &str,
    token_cert: &Path,
    redirect_uri: &str,
) -> String {
    let base = format!(
        "# Written by `esia-gateway demo` at every start; edit the shipped gateway.toml instead.\n\
         [listen]\nhttps = \"{https}\"\nadmin = \"{admin}\"\npublic_url = \"{public}\"\n\n\
         [tls]\ncert = {cert}\nkey = {key}\noutgoing_ca = {ca}\n\n\
         [upstream]\nurl = \"{diary_url}\"\n\n\
         [log]\nlevel = \"info\"\naccess_log = true\n",
        https = opts.https,
        admin = opts.admin,
        public = public_url(opts.https),
        cert = toml_str(&pki.gateway.cert),
        key = toml_str(&pki.gateway.key),
        ca = toml_str(&pki.ca_cert),
    );
    // Seed 004's calendar and route groups (the shipped policy example) and the banner.
    base + &esia_and_linking_toml(opts, pki, esia_url, token_cert, redirect_uri)
        + "\n"
        + crate::policy::EXAMPLE_TOML
        + "\n[banner]\nenabled = true\n"
}

/// `[esia]` against the mock (demo signer), `[login]`, `[store]` in the data dir, and
/// linking with the vault key next to it (issue 5): log in as `confirmed`, link to
/// `parent`/`demo` once, and the next ESIA login goes straight to the cabinet. The
/// identity check (issue 12) compares the persona's children with the diary's pupils.
fn esia_and_linking_toml(
    opts: &DemoOptions,
    pki: &pki::DemoPki,
    esia_url: &str,
    token_cert: &Path,
    redirect_uri: &str,
) -> String {
    format!(
        "\n# The relying party's demo certificate: {rp_cert}\n\
         [esia]\nbase_url = \"{esia_url}\"\nclient_id = \"{DEMO_CLIENT_ID}\"\n\
         redirect_uri = \"{redirect_uri}\"\n\
         scope = \"openid fullname birthdate gender snils id_doc\"\n\
         certificate_hash = \"{hash}\"\ntoken_keys = [{token}]\nca_bundle = {ca}\n\
         signer = {{ kind = \"demo\", key = {rp_key} }}\nchildren = true\n\n\
         [login]\nlegacy_login_url = \"/login\"\n\n\
         [store]\nbackend = \"sqlite\"\npath = {db}\n\n\
         [vault]\nkey = {vault}\n\n\
         [diary.children_probe]\npath = \"/api/children\"\n\n\
         [linking]\nidentity_check = \"warn\"\n",
        rp_cert = pki.rp_cert.display(),
        hash = pki.rp_cert_hash,
        token = toml_str(token_cert),
        ca = toml_str(&pki.ca_cert),
        rp_key = toml_str(&pki.rp_key),
        db = toml_str(&opts.data_dir.join("gateway.db")),
        vault = toml_str(&opts.data_dir.join("vault.key")),
    )
}

/// The CLI entry: start, print what to open, wait for Ctrl-C, stop everything.
pub async fn run_cli(opts: DemoOptions) -> anyhow::Result<()> {
    let demo = start(&opts).await?;
    print_welcome(&demo, &opts);
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    println!("\nОстанавливаю…");
    tokio::time::timeout(Duration::from_secs(10), demo.shutdown())
        .await
        .ok();
    Ok(())
}

fn print_welcome(demo: &RunningDemo, opts: &DemoOptions) {
    println!();
    println!("esia-gateway demo");
    println!("  Откройте:       {}", demo.url);
    println!(
        "  (сертификат демо-CA: {} — браузер предупредит, это ожидаемо)",
        opts.certs_dir.join("demo-ca.pem").display()
    );
    println!(
        "  Дневник напрямую: {}/   ESIA-заглушка: {}",
        demo.diary.url(),
        demo.mock.base_url()
    );
    if let Some(admin) = demo.gateway.admin_addr() {
        println!("  Метрики:        http://{admin}/metrics");
    }
    println!("  Конфигурация:   {}", demo.config_path.display());
    if let Some(at) = opts.at {
        println!("  Календарь:      считает, что сегодня {at}");
    }
    println!("\nПерсоны Госуслуг (на странице входа ESIA-заглушки):");
    for p in demo.mock.personas() {
        println!("  {:<12} {}", p.id, p.title);
    }
    println!(
        "\nУчетные записи дневника (пароль «{}» для всех):",
        demo_diary::DEMO_PASSWORD
    );
    for (login, role, name) in demo_diary::demo_accounts() {
        println!("  {login:<13} {role:<13} {name}");
    }
    println!("\nCtrl-C — остановить всё.");
}
