//! The serde mirror of `gateway.toml`: one struct per section, field names exactly as
//! operators write them, unknown keys rejected. Values stay as written (strings for
//! addresses and URLs); [`super::validate`] turns them into the runtime types.
//!
//! Every field is optional or defaulted, even the required ones: the validator reports
//! a missing key itself, next to every other problem, instead of serde stopping at it.
//!
//! Adding a section: one field here (`#[serde(default)] pub esia: EsiaFile`) and one
//! call in `validate::validate`.

use serde::Deserialize;

use crate::units::{DurationValue, SizeValue};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub listen: ListenFile,
    #[serde(default)]
    pub tls: TlsFile,
    #[serde(default)]
    pub upstream: UpstreamFile,
    #[serde(default)]
    pub forwarding: ForwardingFile,
    #[serde(default)]
    pub limits: LimitsFile,
    #[serde(default)]
    pub timeouts: TimeoutsFile,
    #[serde(default)]
    pub pages: PagesFile,
    #[serde(default)]
    pub log: LogFile,
    /// `[esia]`: absent = no ESIA login (plain proxy).
    pub esia: Option<crate::esia::EsiaFile>,
    #[serde(default)]
    pub login: crate::login::config::LoginFile,
    #[serde(default)]
    pub session: crate::login::config::SessionFile,
    #[serde(default)]
    pub store: crate::login::config::StoreFile,
    /// The cutover policy (`crate::cutover::config`); absent = transparent proxy.
    pub calendar: Option<crate::policy::config::CalendarFile>,
    pub canonical: Option<crate::policy::config::CanonicalFile>,
    pub roles: Option<crate::policy::config::RolesFile>,
    pub default_route: Option<crate::policy::config::AccessFile>,
    pub route_group: Option<Vec<crate::policy::config::RouteGroupFile>>,
    pub banner: Option<crate::cutover::config::BannerFile>,
    /// `[diary]`: how users are signed into the diary (issue 5).
    #[serde(default)]
    pub diary: crate::diary::config::DiaryFile,
    /// `[vault]`: key files of the credential vault; needed for `form` sign-in.
    pub vault: Option<crate::link::config::VaultFile>,
    /// `[linking]`: link-form rate limit, legacy login, role → minimum ESIA level.
    #[serde(default)]
    pub linking: crate::link::config::LinkingFile,
    /// `[audit]`: retention of the audit trail.
    #[serde(default)]
    pub audit: super::audit::AuditFile,
}

/// `[listen]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenFile {
    /// Required: `"0.0.0.0:443"`.
    pub https: Option<String>,
    pub http: Option<String>,
    pub admin: Option<String>,
    pub public_url: Option<String>,
    /// Other names browsers may use (aliases); anything else is sent to `public_url`.
    pub hosts: Option<Vec<String>>,
    /// Threads serving the browsers' connections (absent: one per core; 0: none apart).
    pub workers: Option<u64>,
}

/// `[tls]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFile {
    /// Required: PEM chain, relative to the config file's directory.
    pub cert: Option<String>,
    /// Required: PEM private key.
    pub key: Option<String>,
    pub outgoing_ca: Option<String>,
    /// `Strict-Transport-Security` on every HTTPS answer (default true, one year).
    pub hsts: Option<bool>,
}

/// `[upstream]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamFile {
    /// Required: `"http://127.0.0.1:8080"`.
    pub url: Option<String>,
    /// `"keep"` (default), `"upstream"`, or any other string sent as a fixed `Host`.
    pub host_header: Option<String>,
    pub pool_max_idle: Option<usize>,
    pub pool_idle_timeout: Option<DurationValue>,
}

/// `[forwarding]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForwardingFile {
    /// CIDRs (or single addresses) whose `X-Forwarded-*` headers are believed.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
}

/// `[limits]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsFile {
    pub max_header_bytes: Option<SizeValue>,
    pub max_headers: Option<usize>,
    pub max_body_bytes: Option<SizeValue>,
    pub max_connections: Option<usize>,
    pub max_connections_per_client: Option<usize>,
    pub max_rewrites: Option<usize>,
}

/// `[timeouts]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeoutsFile {
    pub header_read: Option<DurationValue>,
    pub idle: Option<DurationValue>,
    pub upstream_connect: Option<DurationValue>,
    pub upstream_response: Option<DurationValue>,
    pub shutdown_grace: Option<DurationValue>,
    pub body_read: Option<DurationValue>,
}

/// `[pages]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagesFile {
    pub language: Option<LanguageFile>,
    /// A directory of templates replacing the shipped ones, relative to the config file.
    pub templates: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LanguageFile {
    Ru,
    En,
}

/// `[log]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogFile {
    pub format: Option<LogFormatFile>,
    /// `info`, `debug`, … or `esia_gateway=debug,info`.
    pub level: Option<String>,
    pub access_log: Option<bool>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormatFile {
    Pretty,
    Json,
}
