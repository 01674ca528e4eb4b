//! Configuration: `gateway.toml` → [`file`] (serde mirror of the file, unknown keys rejected)
//! → [`load`] (every error collected with its key path, `file:line` and a hint)
//! → the validated runtime types below, which the rest of the gateway uses.
//!
//! The runtime types are never deserialised directly: they hold parsed addresses,
//! durations and URLs, so nothing downstream re-validates.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;

use crate::secret::Secret;

pub mod audit;
pub mod cert_facts;
mod deser;
pub mod env;
pub mod errors;
pub mod file;
pub mod load;
pub mod pages;
mod sections;
pub mod source;
mod tls_files;
pub use crate::units;
pub mod validate;
pub mod warnings;

pub use env::ENV_PREFIX;
pub use errors::{ConfigError, ConfigErrors, Location};
pub use load::{load, load_str, load_str_with_env};

/// The whole validated configuration of one gateway process.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub listen: Listen,
    pub tls: TlsConfig,
    pub upstream: UpstreamConfig,
    pub forwarding: Forwarding,
    pub limits: Limits,
    pub timeouts: Timeouts,
    pub pages: PagesConfig,
    pub log: LogConfig,
    /// `[esia]`; `None` runs the gateway as a plain proxy without ESIA login.
    pub esia: Option<crate::esia::EsiaConfig>,
    /// `[login]`: the reserved prefix and the login pages.
    pub login: crate::login::config::LoginConfig,
    /// `[session]`: lifetimes and the cross-replica cache bound.
    pub session: crate::login::config::SessionConfig,
    /// `[store]`: SQLite file or PostgreSQL.
    pub store: crate::login::config::StoreConfig,
    /// The cutover calendar, route groups and banner; `None` = transparent proxy.
    pub cutover: Option<crate::cutover::CutoverConfig>,
    /// `[diary]`: form or header sign-in, the diary's login form and probe rules.
    pub diary: crate::diary::config::DiaryConfig,
    /// `[vault]`; `None` disables linking in `form` mode (nowhere to keep passwords).
    pub vault: Option<crate::link::config::VaultPaths>,
    /// `[linking]`
    pub linking: crate::link::config::LinkSettings,
    /// `[audit]`: retention of the audit trail.
    pub audit: audit::AuditConfig,
    /// SHA-256 of the file's text (hex), for the admin status page: which configuration
    /// is running. `None` for a config built in code.
    pub source_sha256: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Listen {
    /// TLS listener for browsers.
    pub https: SocketAddr,
    /// Optional plain-HTTP listener that only redirects to https.
    pub http: Option<SocketAddr>,
    /// Admin listener (/healthz, /readyz, /metrics); never public.
    pub admin: Option<SocketAddr>,
    /// The origin browsers use, e.g. `https://dnevnik.example.ru`. When absent, the
    /// request's own `Host` is used (after validation) to build absolute URLs.
    pub public_url: Option<url::Url>,
    /// Further names browsers may reach the gateway by, besides `public_url`'s host
    /// (lowercase, no port). Both absent: any well-formed `Host` (check-config warns).
    pub hosts: Vec<String>,
    /// Worker threads serving the browsers' connections, a single-threaded runtime each
    /// (`None`: one per core; `Some(0)`: on the main runtime).
    pub workers: Option<usize>,
}

impl Listen {
    /// Whether a browser may reach the gateway as `authority` (`host[:port]`, already
    /// validated and lowercased by the proxy). The port is not compared: behind a
    /// load balancer the browser's port is not ours.
    pub fn serves_host(&self, authority: &str) -> bool {
        let public = self.public_url.as_ref().and_then(|u| u.host_str());
        if public.is_none() && self.hosts.is_empty() {
            return true;
        }
        // `authority` is already a validated `host[:port]`: cut the port off without a
        // parse (this runs on every request).
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6
                .split_once(']')
                .map_or(authority, |(h, _)| &authority[..h.len() + 2]),
            None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
        };
        public.is_some_and(|p| p.eq_ignore_ascii_case(host))
            || self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }

    /// Whether anything limits the names served (see [`Self::serves_host`]).
    pub fn names_known(&self) -> bool {
        self.public_url.is_some() || !self.hosts.is_empty()
    }
}

#[derive(Debug, Clone)]
pub struct TlsConfig {
    /// PEM chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// Extra CA bundle (PEM) trusted for outgoing TLS (an https diary, ESIA), in addition
    /// to the system roots — e.g. the Минцифры root.
    pub outgoing_ca: Option<PathBuf>,
    /// Send `Strict-Transport-Security: max-age=31536000` on every HTTPS answer.
    pub hsts: bool,
}

#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    /// The legacy diary, `http://` or `https://`, no path.
    pub url: url::Url,
    pub host_header: HostHeader,
    /// Idle keep-alive connections kept per upstream host.
    pub pool_max_idle: usize,
    pub pool_idle_timeout: Duration,
}

/// What `Host` the diary sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostHeader {
    /// The browser's `Host` is passed on (the diary builds links for the public name).
    Keep,
    /// The upstream URL's authority is sent.
    Upstream,
    /// A fixed value.
    Fixed(String),
}

#[derive(Debug, Clone, Default)]
pub struct Forwarding {
    /// Peers whose `X-Forwarded-*` headers are believed; empty by default.
    pub trusted_proxies: Vec<IpNet>,
}

#[derive(Debug, Clone)]
pub struct Limits {
    /// Sum of request header names and values, bytes → 431 beyond.
    pub max_header_bytes: usize,
    /// Number of request headers → 431 beyond.
    pub max_headers: usize,
    /// Request body bytes → 413 beyond.
    pub max_body_bytes: u64,
    /// Open browser connections over the public listeners; more get a 503 page.
    pub max_connections: usize,
    /// Open connections from one peer address (trusted forwarders exempt).
    pub max_connections_per_client: usize,
    /// HTML pages rewritten (banner, button) at once; more pass through unmodified.
    pub max_rewrites: usize,
}

#[derive(Debug, Clone)]
pub struct Timeouts {
    /// Time allowed for a client to send the request head (slowloris guard).
    pub header_read: Duration,
    /// Keep-alive connection idle time before it is closed.
    pub idle: Duration,
    pub upstream_connect: Duration,
    /// Time from request sent to response head received.
    pub upstream_response: Duration,
    /// How long SIGTERM waits for in-flight requests.
    pub shutdown_grace: Duration,
    /// How long a body the gateway reads itself (forms, bodies decided on) may take.
    pub body_read: Duration,
}

pub use crate::language::Language;

/// `[pages]`; `Default` is Russian with the shipped templates.
#[derive(Debug, Clone)]
pub struct PagesConfig {
    pub language: Language,
    /// `[pages] templates`, resolved; `None`: the shipped templates only.
    pub templates_dir: Option<PathBuf>,
    /// The shipped templates with the directory's files in their place, compiled and
    /// checked ([`pages`]).
    pub templates: Arc<crate::pages::Templates>,
    /// What check-config warns about in the directory: unknown files, external assets.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Pretty,
    Json,
}

#[derive(Debug, Clone)]
pub struct LogConfig {
    pub format: LogFormat,
    /// `tracing_subscriber::EnvFilter` directive, e.g. `info` or `esia_gateway=debug`.
    pub level: String,
    /// One line per request at target `access`.
    pub access_log: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_header_bytes: 16 * 1024,
            max_headers: 100,
            max_body_bytes: 10 * 1024 * 1024,
            max_connections: 10_000,
            // A school behind one NAT address: 30 browsers with HTTP/1's 6 each.
            max_connections_per_client: 256,
            max_rewrites: 256,
        }
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            header_read: Duration::from_secs(10),
            idle: Duration::from_secs(60),
            upstream_connect: Duration::from_secs(5),
            upstream_response: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(30),
            body_read: crate::body::BODY_READ_TIMEOUT,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Pretty,
            level: "info".into(),
            access_log: true,
        }
    }
}

impl GatewayConfig {
    /// A config with defaults everywhere but the required parts; tests and the demo start here.
    pub fn new(https: SocketAddr, cert: PathBuf, key: PathBuf, upstream: url::Url) -> Self {
        Self {
            listen: Listen {
                https,
                http: None,
                admin: None,
                public_url: None,
                hosts: Vec::new(),
                workers: None,
            },
            tls: TlsConfig {
                cert,
                key,
                outgoing_ca: None,
                hsts: true,
            },
            upstream: UpstreamConfig {
                url: upstream,
                host_header: HostHeader::Keep,
                pool_max_idle: 64,
                pool_idle_timeout: Duration::from_secs(90),
            },
            forwarding: Forwarding::default(),
            limits: Limits::default(),
            timeouts: Timeouts::default(),
            pages: PagesConfig::default(),
            log: LogConfig::default(),
            esia: None,
            login: Default::default(),
            session: Default::default(),
            store: Default::default(),
            cutover: None,
            diary: Default::default(),
            vault: None,
            linking: Default::default(),
            audit: Default::default(),
            source_sha256: None,
        }
    }
}

// Kept so `Secret` is visibly part of the config vocabulary (ESIA and vault sections use it).
#[allow(dead_code)]
type _SecretInConfig = Secret;

impl From<&GatewayConfig> for crate::upstream::UpstreamSettings {
    fn from(c: &GatewayConfig) -> Self {
        Self {
            url: c.upstream.url.clone(),
            outgoing_ca: c.tls.outgoing_ca.clone(),
            connect_timeout: c.timeouts.upstream_connect,
            response_timeout: c.timeouts.upstream_response,
            pool_idle_timeout: c.upstream.pool_idle_timeout,
            pool_max_idle: c.upstream.pool_max_idle,
        }
    }
}
