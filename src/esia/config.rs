//! The `[esia]` section: [`EsiaFile`] mirrors the TOML (unknown keys rejected) and
//! [`EsiaFile::validate`] turns it into the runtime [`EsiaConfig`], collecting every
//! problem as `(key path, message, hint)` so the main loader can report them all at once.
//! Hosts, paths, keys and algorithms are all configuration: the same code talks to the
//! mock, ESIA's test contour and production. `example.toml` next to this file documents
//! every key (a test keeps it valid).

use std::path::PathBuf;
use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde::Deserialize;
use url::Url;

/// One config problem: key path (e.g. `esia.certificate_hash`), message, hint.
pub type ConfigProblem = (String, String, String);

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EsiaFile {
    pub base_url: Option<String>,
    pub ac_path: Option<String>,
    pub te_path: Option<String>,
    pub logout_path: Option<String>,
    pub person_path: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub scope_org: Option<String>,
    /// 64 hex chars, GOST R 34.11-2012-256 of the registered certificate's DER.
    pub certificate_hash: Option<String>,
    pub access_type: Option<String>,
    pub signer: Option<SignerFile>,
    /// PEM certificates of ESIA's token-signing keys (several: ESIA rotates them).
    #[serde(default)]
    pub token_keys: Vec<PathBuf>,
    pub expected_issuer: Option<String>,
    /// JWT algorithms accepted; RSA family only.
    pub algorithms: Option<Vec<String>>,
    pub leeway_secs: Option<u64>,
    pub timeouts: Option<TimeoutsFile>,
    /// Extra CA bundle (PEM) trusted for ESIA, e.g. the Минцифры root.
    pub ca_bundle: Option<PathBuf>,
    /// Ask ESIA for the person's children (`/kids`): adds the `kid_*` scopes.
    pub children: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeoutsFile {
    pub connect_secs: Option<u64>,
    pub request_secs: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignerFile {
    /// `command` or `demo`.
    pub kind: Option<String>,
    pub program: Option<PathBuf>,
    #[serde(default)]
    pub args: Vec<String>,
    pub timeout_secs: Option<u64>,
    #[serde(default)]
    pub reverse_bytes: bool,
    #[serde(default)]
    pub output_base64: bool,
    /// Demo signer: PKCS#8 Ed25519 key (PEM or DER).
    pub key: Option<PathBuf>,
}

/// Validated ESIA settings.
#[derive(Debug, Clone)]
pub struct EsiaConfig {
    pub base_url: Url,
    /// v2/ac, browser redirect.
    pub ac_url: Url,
    /// v3/te, code exchange.
    pub te_url: Url,
    /// `/idp/ext/Logout`.
    pub logout_url: Url,
    /// `/rs/prns/`, always with a trailing slash.
    pub person_url: Url,
    pub client_id: String,
    pub redirect_uri: Url,
    pub scope: String,
    pub scope_org: String,
    /// Lowercase hex.
    pub certificate_hash: String,
    pub access_type: String,
    pub signer: SignerConfig,
    pub token_keys: Vec<PathBuf>,
    pub expected_issuer: String,
    pub algorithms: Vec<Algorithm>,
    pub leeway: Duration,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub ca_bundle: Option<PathBuf>,
    /// Cap on any ESIA response body.
    pub max_response_bytes: usize,
    /// `[esia] children = true`: `scope` carries [`CHILDREN_SCOPES`] and
    /// [`crate::esia::EsiaClient::children`] asks `/kids`; otherwise it never does.
    pub children: bool,
}

/// `Debug` is written by hand: signer arguments may carry a key-container PIN
/// (`csptest … -password 1234`), so only their number is shown.
#[derive(Clone, PartialEq, Eq)]
pub enum SignerConfig {
    Command {
        program: PathBuf,
        args: Vec<String>,
        timeout: Duration,
        reverse_bytes: bool,
        output_base64: bool,
    },
    Demo {
        key: PathBuf,
    },
}

impl std::fmt::Debug for SignerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Command {
                program,
                args,
                timeout,
                reverse_bytes,
                output_base64,
            } => f
                .debug_struct("Command")
                .field("program", program)
                .field("args", &format_args!("[{} hidden]", args.len()))
                .field("timeout", timeout)
                .field("reverse_bytes", reverse_bytes)
                .field("output_base64", output_base64)
                .finish(),
            Self::Demo { key } => f.debug_struct("Demo").field("key", key).finish(),
        }
    }
}

pub const DEFAULT_BASE_URL: &str = "https://esia.gosuslugi.ru";
pub const DEFAULT_SCOPE: &str = "openid fullname birthdate gender snils id_doc";
pub const DEFAULT_ISSUER: &str = "http://esia.gosuslugi.ru/";
/// Scopes for a person's children: their names and birth dates, nothing else.
pub const CHILDREN_SCOPES: [&str; 2] = ["kid_fullname", "kid_birthdate"];

fn problem(key: &str, message: impl Into<String>, hint: &str) -> ConfigProblem {
    (format!("esia.{key}"), message.into(), hint.to_string())
}

fn path_value(
    errs: &mut Vec<ConfigProblem>,
    key: &str,
    v: Option<String>,
    default: &str,
) -> String {
    let v = v.unwrap_or_else(|| default.to_string());
    if !v.starts_with('/') || v.contains("..") || v.contains('?') || v.contains('#') {
        errs.push(problem(
            key,
            format!("`{v}` is not an absolute path"),
            "e.g. \"/aas/oauth2/v2/ac\"",
        ));
    }
    v
}

fn required(errs: &mut Vec<ConfigProblem>, key: &str, v: Option<String>, hint: &str) -> String {
    match v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()) {
        Some(s) => s,
        None => {
            errs.push(problem(key, "missing", hint));
            String::new()
        }
    }
}

fn secs(
    errs: &mut Vec<ConfigProblem>,
    key: &str,
    v: Option<u64>,
    default: u64,
    max: u64,
) -> Duration {
    let v = v.unwrap_or(default);
    if v == 0 || v > max {
        errs.push(problem(
            key,
            format!("{v} is out of range"),
            &format!("1..={max} seconds"),
        ));
    }
    Duration::from_secs(v)
}

impl EsiaFile {
    pub fn validate(self) -> Result<EsiaConfig, Vec<ConfigProblem>> {
        let mut errs = Vec::new();
        let base_raw = self.base_url.unwrap_or_else(|| DEFAULT_BASE_URL.into());
        let base_url = https_url(
            &mut errs,
            "base_url",
            &base_raw,
            "e.g. \"https://esia.gosuslugi.ru\"",
        );
        let mut endpoint = |key: &str, v: Option<String>, default: &str, slash: bool| {
            let mut path = path_value(&mut errs, key, v, default);
            if slash && !path.ends_with('/') {
                // `person_url.join("{oid}")` must append, not replace the last segment.
                path.push('/');
            }
            base_url.as_ref().and_then(|b| b.join(&path).ok())
        };
        let ac_url = endpoint("ac_path", self.ac_path, "/aas/oauth2/v2/ac", false);
        let te_url = endpoint("te_path", self.te_path, "/aas/oauth2/v3/te", false);
        let logout_url = endpoint("logout_path", self.logout_path, "/idp/ext/Logout", false);
        let person_url = endpoint("person_path", self.person_path, "/rs/prns", true);
        let client_id = required(
            &mut errs,
            "client_id",
            self.client_id,
            "the system's mnemonic registered on ESIA's technology portal",
        );
        let redirect_uri = match self.redirect_uri {
            Some(raw) => https_url(
                &mut errs,
                "redirect_uri",
                &raw,
                "the callback URL registered on ESIA",
            ),
            None => {
                errs.push(problem(
                    "redirect_uri",
                    "missing",
                    "e.g. \"https://dnevnik.example.ru/esia/callback\"",
                ));
                None
            }
        };
        let scope = self.scope.unwrap_or_else(|| DEFAULT_SCOPE.into());
        let mut words: Vec<&str> = scope.split_whitespace().collect();
        let children = self.children.unwrap_or(false);
        if children {
            for kid in CHILDREN_SCOPES {
                if !words.contains(&kid) {
                    words.push(kid);
                }
            }
        }
        let scope = words.join(" ");
        if !scope.split(' ').any(|s| s == "openid") {
            errs.push(problem("scope", "must contain `openid`", DEFAULT_SCOPE));
        }
        let hash = required(
            &mut errs,
            "certificate_hash",
            self.certificate_hash,
            "64 hex characters: GOST R 34.11-2012-256 of the registered certificate",
        );
        if !hash.is_empty() && (hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit())) {
            errs.push(problem(
                "certificate_hash",
                "must be exactly 64 hex characters",
                "Streebog-256 over the certificate's DER, as registered on ESIA",
            ));
        }
        let access_type = self.access_type.unwrap_or_else(|| "online".into());
        if access_type != "online" && access_type != "offline" {
            errs.push(problem(
                "access_type",
                format!("`{access_type}` is not allowed"),
                "\"online\" or \"offline\"",
            ));
        }
        let signer = validate_signer(&mut errs, self.signer);
        if self.token_keys.is_empty() {
            errs.push(problem(
                "token_keys",
                "at least one certificate file is required",
                "PEM certificates of ESIA's token-signing keys, e.g. [\"/etc/esia/esia-2024.pem\"]",
            ));
        }
        let algorithms = validate_algorithms(&mut errs, self.algorithms);
        let leeway = self.leeway_secs.unwrap_or(60);
        if leeway > 600 {
            errs.push(problem(
                "leeway_secs",
                format!("{leeway} is too large"),
                "0..=600 seconds; ESIA's guidance is about 60",
            ));
        }
        let t = self.timeouts.unwrap_or_default();
        let connect_timeout = secs(&mut errs, "timeouts.connect_secs", t.connect_secs, 5, 120);
        let request_timeout = secs(&mut errs, "timeouts.request_secs", t.request_secs, 15, 300);
        let (
            Some(base_url),
            Some(ac_url),
            Some(te_url),
            Some(logout_url),
            Some(person_url),
            Some(redirect_uri),
            true,
        ) = (
            base_url,
            ac_url,
            te_url,
            logout_url,
            person_url,
            redirect_uri,
            errs.is_empty(),
        )
        else {
            return Err(errs);
        };
        Ok(EsiaConfig {
            base_url,
            ac_url,
            te_url,
            logout_url,
            person_url,
            client_id,
            redirect_uri,
            scope,
            scope_org: self.scope_org.unwrap_or_default(),
            certificate_hash: hash.to_ascii_lowercase(),
            access_type,
            signer,
            token_keys: self.token_keys,
            expected_issuer: self
                .expected_issuer
                .unwrap_or_else(|| DEFAULT_ISSUER.into()),
            algorithms,
            leeway: Duration::from_secs(leeway),
            connect_timeout,
            request_timeout,
            ca_bundle: self.ca_bundle,
            max_response_bytes: 256 * 1024,
            children,
        })
    }
}

fn https_url(errs: &mut Vec<ConfigProblem>, key: &str, raw: &str, hint: &str) -> Option<Url> {
    match Url::parse(raw) {
        Ok(u) if u.scheme() == "https" && u.host().is_some() && u.fragment().is_none() => Some(u),
        Ok(_) => {
            errs.push(problem(
                key,
                format!("`{raw}` is not an https URL without fragment"),
                hint,
            ));
            None
        }
        Err(e) => {
            errs.push(problem(key, format!("`{raw}`: {e}"), hint));
            None
        }
    }
}

fn validate_signer(errs: &mut Vec<ConfigProblem>, s: Option<SignerFile>) -> SignerConfig {
    let placeholder = SignerConfig::Demo {
        key: PathBuf::new(),
    };
    let Some(s) = s else {
        errs.push(problem(
            "signer",
            "missing",
            "[esia.signer] kind = \"command\", program = \"/usr/bin/openssl\", args = [...]",
        ));
        return placeholder;
    };
    match s.kind.as_deref() {
        Some("command") => {
            let Some(program) = s.program else {
                errs.push(problem(
                    "signer.program",
                    "missing",
                    "absolute path of the signing program, e.g. \"/usr/bin/openssl\"",
                ));
                return placeholder;
            };
            let timeout = secs(errs, "signer.timeout_secs", s.timeout_secs, 10, 120);
            SignerConfig::Command {
                program,
                args: s.args,
                timeout,
                reverse_bytes: s.reverse_bytes,
                output_base64: s.output_base64,
            }
        }
        Some("demo") => match s.key {
            Some(key) => SignerConfig::Demo { key },
            None => {
                errs.push(problem(
                    "signer.key",
                    "missing",
                    "PKCS#8 Ed25519 key file (demo only)",
                ));
                placeholder
            }
        },
        other => {
            errs.push(problem(
                "signer.kind",
                format!("{other:?} is not a signer kind"),
                "\"command\" (production, GOST) or \"demo\"",
            ));
            placeholder
        }
    }
}

fn validate_algorithms(errs: &mut Vec<ConfigProblem>, list: Option<Vec<String>>) -> Vec<Algorithm> {
    let Some(list) = list else {
        return vec![Algorithm::RS256];
    };
    let mut out = Vec::new();
    for name in list {
        // Keys are RSA certificates: only the RSA family can ever verify, and HS*/none
        // would open key-confusion attacks.
        let alg = match name.as_str() {
            "RS256" => Algorithm::RS256,
            "RS384" => Algorithm::RS384,
            "RS512" => Algorithm::RS512,
            "PS256" => Algorithm::PS256,
            "PS384" => Algorithm::PS384,
            "PS512" => Algorithm::PS512,
            _ => {
                errs.push(problem(
                    "algorithms",
                    format!("`{name}` is not accepted"),
                    "RSA family only: RS256 (default), RS384, RS512, PS256, PS384, PS512",
                ));
                continue;
            }
        };
        out.push(alg);
    }
    if out.is_empty() {
        errs.push(problem("algorithms", "empty", "e.g. [\"RS256\"]"));
    }
    out
}

#[path = "config_files.rs"]
mod files;
pub use files::{check_signer_files, check_signer_files_in};
