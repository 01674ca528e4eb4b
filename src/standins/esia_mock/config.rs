//! The mock's configuration: `esia-mock.toml` (see the documented example at the
//! repository root) or a [`MockConfig`] built in code by tests. Only the registered
//! clients must be given; everything else has a default, and anything generated at start
//! (TLS certificate, token-signing key) can instead come from files.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::faults::Faults;
use crate::clock::{SharedClock, SystemClock};

/// Why a config file was refused. `Invalid` lists every problem at once.
#[derive(Debug, thiserror::Error)]
pub enum MockConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {key}: {message}")]
    Parse {
        path: PathBuf,
        key: String,
        message: String,
    },
    #[error("invalid ESIA mock config:\n  - {}", .0.join("\n  - "))]
    Invalid(Vec<String>),
}

/// One relying party registered with the mock (ESIA's «технологический портал» card).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientRegistration {
    /// The system's mnemonic.
    pub client_id: String,
    /// Exact redirect_uri values accepted on /ac and /te.
    pub redirect_uris: Vec<String>,
    /// Extra exact URLs accepted as `redirect_url` on logout (redirect_uris are too).
    #[serde(default)]
    pub logout_redirect_urls: Vec<String>,
    /// PEM certificate files of the RP's signing keys (GOST R 34.10-2012 256 or Ed25519).
    #[serde(default)]
    pub certificates: Vec<PathBuf>,
    /// The same, given inline as PEM text (handy for in-process tests and the demo).
    #[serde(default)]
    pub certificates_pem: Vec<String>,
    /// Refuse unconfirmed accounts with ESIA-007055.
    #[serde(default)]
    pub require_confirmed: bool,
}

impl ClientRegistration {
    /// A client registered in code with one inline PEM certificate (tests, the demo).
    pub fn with_certificate_pem(
        client_id: impl Into<String>,
        redirect_uris: Vec<String>,
        certificate_pem: impl Into<String>,
    ) -> Self {
        Self {
            client_id: client_id.into(),
            redirect_uris,
            logout_redirect_urls: Vec::new(),
            certificates: Vec::new(),
            certificates_pem: vec![certificate_pem.into()],
            require_confirmed: false,
        }
    }
}

/// Everything the mock needs to start. See `esia-mock.toml` for each key's meaning.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MockConfig {
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// TLS certificate chain and key (PEM). When absent the mock generates a CA and a leaf
    /// for `tls_names` and exposes the CA (`RunningMock::ca_pem`, `ca_out`).
    #[serde(default)]
    pub tls_cert: Option<PathBuf>,
    #[serde(default)]
    pub tls_key: Option<PathBuf>,
    #[serde(default = "default_tls_names")]
    pub tls_names: Vec<String>,
    /// Where to write the generated CA certificate.
    #[serde(default)]
    pub ca_out: Option<PathBuf>,
    /// Base of the absolute URLs in `/docs` and `/ctts` collections; default
    /// `https://<bound address>`.
    #[serde(default)]
    pub public_url: Option<String>,
    #[serde(default, rename = "client")]
    pub clients: Vec<ClientRegistration>,
    /// Accept the built-in Ed25519 demo signature. Never in anything like production.
    #[serde(default)]
    pub accept_demo_signatures: bool,
    /// RSA private key (PEM) signing the tokens; generated with `openssl` when absent.
    #[serde(default)]
    pub token_key: Option<PathBuf>,
    /// Certificate of `token_key`; made with rcgen from the key when absent.
    #[serde(default)]
    pub token_cert: Option<PathBuf>,
    /// Where to write the token-signing certificate for the gateway to load.
    #[serde(default)]
    pub token_cert_out: Option<PathBuf>,
    #[serde(default = "default_issuer")]
    pub issuer: String,
    #[serde(default = "default_token_lifetime")]
    pub token_lifetime_secs: u64,
    #[serde(default = "default_code_ttl")]
    pub code_ttl_secs: u64,
    /// Accepted distance between the request's `timestamp` and the mock's clock.
    #[serde(default = "default_timestamp_window")]
    pub timestamp_window_secs: u64,
    /// Replaces the shipped personas.
    #[serde(default)]
    pub personas_file: Option<PathBuf>,
    #[serde(default)]
    pub faults: Faults,
    /// Enables `POST /mock/faults` and `GET /mock/state`.
    #[serde(default)]
    pub control_api: bool,
    /// The OpenSSL binary (with the GOST engine) used for GOST verification and key generation.
    #[serde(default = "default_openssl")]
    pub openssl: PathBuf,
    /// Code expiry, token times and the timestamp check read this clock.
    #[serde(skip, default = "default_clock")]
    pub clock: SharedClock,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9443))
}
fn default_tls_names() -> Vec<String> {
    vec!["localhost".into(), "127.0.0.1".into()]
}
fn default_issuer() -> String {
    "http://esia.gosuslugi.ru/".into()
}
fn default_token_lifetime() -> u64 {
    3600
}
fn default_code_ttl() -> u64 {
    240
}
fn default_timestamp_window() -> u64 {
    300
}
fn default_openssl() -> PathBuf {
    PathBuf::from("openssl")
}
fn default_clock() -> SharedClock {
    std::sync::Arc::new(SystemClock)
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            tls_cert: None,
            tls_key: None,
            tls_names: default_tls_names(),
            ca_out: None,
            public_url: None,
            clients: Vec::new(),
            accept_demo_signatures: false,
            token_key: None,
            token_cert: None,
            token_cert_out: None,
            issuer: default_issuer(),
            token_lifetime_secs: default_token_lifetime(),
            code_ttl_secs: default_code_ttl(),
            timestamp_window_secs: default_timestamp_window(),
            personas_file: None,
            faults: Faults::default(),
            control_api: false,
            openssl: default_openssl(),
            clock: default_clock(),
        }
    }
}

impl MockConfig {
    /// Defaults on 127.0.0.1 port 0, for in-process tests.
    pub fn ephemeral() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..Self::default()
        }
    }

    /// Reads, parses and validates a TOML file; relative paths in it are taken relative
    /// to the file's folder.
    pub fn load(path: &Path) -> Result<Self, MockConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| MockConfigError::Read {
            path: path.into(),
            source,
        })?;
        let mut cfg = Self::parse(&text).map_err(|(key, message)| MockConfigError::Parse {
            path: path.into(),
            key,
            message,
        })?;
        if let Some(dir) = path.parent() {
            cfg.resolve_paths(dir);
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Parses TOML text; the error names the key path.
    pub fn parse(text: &str) -> Result<Self, (String, String)> {
        serde_path_to_error::deserialize(toml::Deserializer::new(text))
            .map_err(|e| (e.path().to_string(), e.inner().message().to_string()))
    }

    fn resolve_paths(&mut self, dir: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        };
        for p in [
            &mut self.tls_cert,
            &mut self.tls_key,
            &mut self.ca_out,
            &mut self.token_key,
            &mut self.token_cert,
            &mut self.token_cert_out,
            &mut self.personas_file,
        ]
        .into_iter()
        .flatten()
        {
            fix(p);
        }
        for c in &mut self.clients {
            c.certificates.iter_mut().for_each(fix);
        }
    }

    /// Checks what can be checked without touching files; all problems at once.
    pub fn validate(&self) -> Result<(), MockConfigError> {
        let mut p = Vec::new();
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            p.push("tls_cert and tls_key: give both or neither".to_string());
        }
        if self.token_cert.is_some() && self.token_key.is_none() {
            p.push("token_cert needs token_key".to_string());
        }
        for (name, v) in [
            ("token_lifetime_secs", self.token_lifetime_secs),
            ("code_ttl_secs", self.code_ttl_secs),
            ("timestamp_window_secs", self.timestamp_window_secs),
        ] {
            if v == 0 || v > 366 * 24 * 3600 {
                p.push(format!("{name}: must be between 1 and a year of seconds"));
            }
        }
        if self.issuer.is_empty() {
            p.push("issuer: must not be empty".into());
        }
        if let Some(u) = self
            .public_url
            .as_ref()
            .filter(|u| url::Url::parse(u).is_err())
        {
            p.push(format!("public_url: not an absolute URL: {u:?}"));
        }
        for (i, c) in self.clients.iter().enumerate() {
            let at = format!("client[{i}] ({})", c.client_id);
            if c.client_id.is_empty() {
                p.push(format!("{at}: client_id must not be empty"));
            }
            if self.clients[..i].iter().any(|d| d.client_id == c.client_id) {
                p.push(format!("{at}: duplicate client_id"));
            }
            if c.redirect_uris.is_empty() {
                p.push(format!("{at}: redirect_uris must list at least one URL"));
            }
            for u in c.redirect_uris.iter().chain(&c.logout_redirect_urls) {
                if url::Url::parse(u).is_err() {
                    p.push(format!("{at}: not an absolute URL: {u:?}"));
                }
            }
            if c.certificates.is_empty() && c.certificates_pem.is_empty() {
                p.push(format!("{at}: register at least one certificate"));
            }
        }
        if p.is_empty() {
            Ok(())
        } else {
            Err(MockConfigError::Invalid(p))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_file_gets_defaults() {
        let cfg = MockConfig::parse(
            "[[client]]\nclient_id = \"DIARY\"\nredirect_uris = [\"https://gw/esia/callback\"]\ncertificates = [\"rp.pem\"]\n",
        )
        .unwrap();
        assert_eq!(cfg.code_ttl_secs, 240);
        assert_eq!(cfg.issuer, "http://esia.gosuslugi.ru/");
        assert!(!cfg.accept_demo_signatures);
        cfg.validate().unwrap();
    }

    #[test]
    fn the_documented_example_parses_and_validates() {
        let cfg = MockConfig::parse(include_str!("../../../esia-mock.toml")).unwrap();
        cfg.validate().unwrap();
        assert_eq!(cfg.clients.len(), 1);
        assert_eq!(cfg.faults, Faults::default());
    }

    #[test]
    fn unknown_keys_name_their_path() {
        let (key, _) =
            MockConfig::parse("[[client]]\nclient_id = \"X\"\nredirect_uri = []\n").unwrap_err();
        assert!(key.starts_with("client"), "{key}");
        assert!(MockConfig::parse("acept_demo_signatures = true").is_err());
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let cfg = MockConfig::parse(
            "tls_cert = \"a.pem\"\ncode_ttl_secs = 0\n[[client]]\nclient_id = \"\"\nredirect_uris = [\"not a url\"]\n",
        )
        .unwrap();
        let Err(MockConfigError::Invalid(problems)) = cfg.validate() else {
            panic!("expected Invalid");
        };
        assert_eq!(problems.len(), 5, "{problems:#?}");
    }
}
