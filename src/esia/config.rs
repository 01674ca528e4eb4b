//! The `[esia]` section: [`EsiaFile`] mirrors the TOML (unknown keys rejected) and
//! [`EsiaFile::validate`] turns it into the runtime [`EsiaConfig`], collecting every
//! problem as `(key path, message, hint)` so the main loader can report them all at once.
//! Hosts, paths, keys and algorithms are all configuration: the same code talks to the
//! mock, ESIA's test contour and production.

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
    pub ac_path: String,
    pub te_path: String,
    pub logout_path: String,
    pub person_path: String,
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
}

#[derive(Debug, Clone, PartialEq, Eq)]
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

pub const DEFAULT_BASE_URL: &str = "https://esia.gosuslugi.ru";
pub const DEFAULT_SCOPE: &str = "openid fullname birthdate gender snils id_doc";
pub const DEFAULT_ISSUER: &str = "http://esia.gosuslugi.ru/";

impl EsiaConfig {
    /// `base_url` joined with a configured path.
    pub fn endpoint(&self, path: &str) -> Result<Url, url::ParseError> {
        self.base_url.join(path)
    }
}

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
        let base_url = match Url::parse(&base_raw) {
            Ok(u) if u.scheme() == "https" && u.host().is_some() => u,
            Ok(_) => {
                errs.push(problem(
                    "base_url",
                    format!("`{base_raw}` is not an https URL"),
                    "e.g. \"https://esia.gosuslugi.ru\"",
                ));
                Url::parse(DEFAULT_BASE_URL)
                    .map_err(|e| vec![problem("base_url", e.to_string(), "")])?
            }
            Err(e) => {
                errs.push(problem(
                    "base_url",
                    format!("`{base_raw}`: {e}"),
                    "e.g. \"https://esia.gosuslugi.ru\"",
                ));
                Url::parse(DEFAULT_BASE_URL)
                    .map_err(|e| vec![problem("base_url", e.to_string(), "")])?
            }
        };
        let ac_path = path_value(&mut errs, "ac_path", self.ac_path, "/aas/oauth2/v2/ac");
        let te_path = path_value(&mut errs, "te_path", self.te_path, "/aas/oauth2/v3/te");
        let logout_path = path_value(
            &mut errs,
            "logout_path",
            self.logout_path,
            "/idp/ext/Logout",
        );
        let person_path = path_value(&mut errs, "person_path", self.person_path, "/rs/prns");
        let client_id = required(
            &mut errs,
            "client_id",
            self.client_id,
            "the system's mnemonic registered on ESIA's technology portal",
        );
        let redirect_raw = required(
            &mut errs,
            "redirect_uri",
            self.redirect_uri,
            "e.g. \"https://dnevnik.example.ru/esia/callback\"",
        );
        let redirect_uri = match Url::parse(&redirect_raw) {
            Ok(u) if u.scheme() == "https" && u.fragment().is_none() => u,
            _ => {
                if !redirect_raw.is_empty() {
                    errs.push(problem(
                        "redirect_uri",
                        format!("`{redirect_raw}` is not an https URL without fragment"),
                        "the callback URL registered on ESIA",
                    ));
                }
                Url::parse("https://invalid.invalid/")
                    .map_err(|e| vec![problem("redirect_uri", e.to_string(), "")])?
            }
        };
        let scope = self.scope.unwrap_or_else(|| DEFAULT_SCOPE.into());
        let scope = scope.split_whitespace().collect::<Vec<_>>().join(" ");
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
                "`esia-gateway` can compute it from the certificate (Streebog-256 over DER)",
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
        let expected_issuer = self
            .expected_issuer
            .unwrap_or_else(|| DEFAULT_ISSUER.into());
        let leeway = Duration::from_secs(self.leeway_secs.unwrap_or(60).min(600));
        let t = self.timeouts.unwrap_or_default();
        let connect_timeout = secs(&mut errs, "timeouts.connect_secs", t.connect_secs, 5, 120);
        let request_timeout = secs(&mut errs, "timeouts.request_secs", t.request_secs, 15, 300);
        if !errs.is_empty() {
            return Err(errs);
        }
        Ok(EsiaConfig {
            base_url,
            ac_path,
            te_path,
            logout_path,
            person_path,
            client_id,
            redirect_uri,
            scope,
            scope_org: self.scope_org.unwrap_or_default(),
            certificate_hash: hash.to_ascii_lowercase(),
            access_type,
            signer,
            token_keys: self.token_keys,
            expected_issuer,
            algorithms,
            leeway,
            connect_timeout,
            request_timeout,
            ca_bundle: self.ca_bundle,
            max_response_bytes: 256 * 1024,
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal() -> EsiaFile {
        toml::from_str(
            r#"
            client_id = "DNEVNIK"
            redirect_uri = "https://dnevnik.example.ru/esia/callback"
            certificate_hash = "AB0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"
            token_keys = ["/etc/esia/esia.pem"]
            signer = { kind = "command", program = "/usr/bin/openssl", args = ["dgst"] }
            "#,
        )
        .unwrap()
    }

    #[test]
    fn defaults_fill_in() {
        let c = minimal().validate().unwrap();
        assert_eq!(c.base_url.as_str(), "https://esia.gosuslugi.ru/");
        assert_eq!(c.ac_path, "/aas/oauth2/v2/ac");
        assert_eq!(c.scope, DEFAULT_SCOPE);
        assert_eq!(c.certificate_hash, c.certificate_hash.to_ascii_lowercase());
        assert_eq!(c.algorithms, vec![Algorithm::RS256]);
        assert_eq!(c.leeway, Duration::from_secs(60));
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let r: Result<EsiaFile, _> = toml::from_str("client_secret = \"x\"");
        assert!(r.is_err());
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let f = EsiaFile {
            base_url: Some("http://esia.example".into()),
            certificate_hash: Some("xyz".into()),
            algorithms: Some(vec!["HS256".into(), "none".into()]),
            access_type: Some("forever".into()),
            ..EsiaFile::default()
        };
        let errs = f.validate().unwrap_err();
        let keys: Vec<&str> = errs.iter().map(|e| e.0.as_str()).collect();
        for k in [
            "esia.base_url",
            "esia.client_id",
            "esia.redirect_uri",
            "esia.certificate_hash",
            "esia.access_type",
            "esia.signer",
            "esia.token_keys",
            "esia.algorithms",
        ] {
            assert!(keys.contains(&k), "{k} missing in {keys:?}");
        }
        assert!(errs.iter().all(|e| !e.2.is_empty() || e.1 == "missing"));
    }
}
