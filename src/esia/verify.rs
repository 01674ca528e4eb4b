//! Verification of ESIA's access and id tokens. ESIA has no JWKS: the token-signing keys
//! are configured certificate files, several at once (it rotates them), and every key is
//! tried. The `alg` allow-list is checked on the raw header before anything else, so
//! `none` and HS* (the public key used as an HMAC secret) never reach a verifier.
//! jsonwebtoken checks only the signature; `iss`, `aud`/`client_id`, `exp`/`nbf` (with
//! leeway, against an injected `now`) and the subject are checked here.

use std::path::{Path, PathBuf};

use base64::Engine;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

/// Tokens beyond this size are refused before any parsing.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("token key {path}: {reason}")]
    KeyLoad { path: PathBuf, reason: String },
    #[error("no token verification key configured")]
    NoKeys,
    #[error("token too large")]
    TooLarge,
    #[error("malformed token: {0}")]
    Malformed(String),
    #[error("algorithm `{0}` not allowed")]
    AlgorithmNotAllowed(String),
    #[error("signature does not verify with any configured key")]
    BadSignature,
    #[error("unexpected issuer")]
    WrongIssuer,
    #[error("id_token audience is not our client_id")]
    WrongAudience,
    #[error("access_token client_id is not ours")]
    WrongClientId,
    #[error("token expired")]
    Expired,
    #[error("token not yet valid")]
    NotYetValid,
    #[error("claim `{0}` missing or malformed")]
    MissingClaim(&'static str),
    #[error("access and id tokens name different subjects")]
    SubjectMismatch,
}

/// `urn:esia:sbj` of the id_token: what ESIA says about the account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SbjClaims {
    pub typ: Option<String>,
    /// True only for confirmed accounts; absent counts as false.
    pub is_tru: Option<bool>,
    /// "PR" confirmed, "P" simplified or standard, "KD" child.
    pub lvl: Option<String>,
}

/// What the two verified tokens say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedTokens {
    pub oid: u64,
    pub sid: Option<String>,
    pub scope: Vec<String>,
    pub sbj: SbjClaims,
    /// access_token `exp`, seconds since the epoch.
    pub access_expires_at: i64,
}

/// Checks ESIA tokens for one relying party.
pub struct Verifier {
    keys: Vec<DecodingKey>,
    algorithms: Vec<Algorithm>,
    issuer: String,
    client_id: String,
    leeway: i64,
}

/// Loads every certificate of every file; RSA keys only.
pub fn load_keys(paths: &[PathBuf]) -> Result<Vec<DecodingKey>, VerifyError> {
    let mut keys = Vec::new();
    for path in paths {
        let certs = crate::tls::read_certs(path).map_err(|e| VerifyError::KeyLoad {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        for der in certs {
            keys.push(key_from_cert_der(&der, path)?);
        }
    }
    Ok(keys)
}

pub fn key_from_cert_der(der: &[u8], path: &Path) -> Result<DecodingKey, VerifyError> {
    let bad = |reason: String| VerifyError::KeyLoad {
        path: path.into(),
        reason,
    };
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| bad(e.to_string()))?;
    let spki = cert.public_key();
    if spki.algorithm.algorithm != x509_parser::oid_registry::OID_PKCS1_RSAENCRYPTION {
        return Err(bad("not an RSA certificate".into()));
    }
    // The SPKI bit string is the PKCS#1 RSAPublicKey that ring expects.
    Ok(DecodingKey::from_rsa_der(&spki.subject_public_key.data))
}

fn b64_json(part: &str) -> Result<Value, VerifyError> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| VerifyError::Malformed("bad base64url".into()))?;
    serde_json::from_slice(&bytes).map_err(|_| VerifyError::Malformed("bad JSON".into()))
}

fn algorithm(name: &str) -> Option<Algorithm> {
    Some(match name {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        _ => return None,
    })
}

/// An integer claim that may arrive as a number or a string of digits.
fn int_claim(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn oid_claim(v: Option<&Value>, name: &'static str) -> Result<u64, VerifyError> {
    int_claim(v)
        .and_then(|n| u64::try_from(n).ok())
        .filter(|n| *n > 0)
        .ok_or(VerifyError::MissingClaim(name))
}

impl Verifier {
    pub fn new(
        keys: Vec<DecodingKey>,
        algorithms: &[Algorithm],
        issuer: &str,
        client_id: &str,
        leeway: std::time::Duration,
    ) -> Result<Self, VerifyError> {
        if keys.is_empty() {
            return Err(VerifyError::NoKeys);
        }
        // Only the RSA family can be verified with certificate keys; anything else in the
        // list is dropped rather than trusted.
        let algorithms = algorithms
            .iter()
            .copied()
            .filter(|a| {
                matches!(
                    a,
                    Algorithm::RS256
                        | Algorithm::RS384
                        | Algorithm::RS512
                        | Algorithm::PS256
                        | Algorithm::PS384
                        | Algorithm::PS512
                )
            })
            .collect();
        Ok(Self {
            keys,
            algorithms,
            issuer: issuer.to_string(),
            client_id: client_id.to_string(),
            leeway: i64::try_from(leeway.as_secs()).unwrap_or(60),
        })
    }

    /// Signature, `alg` allow-list, `iss`, `exp`/`nbf`; returns the claims.
    pub fn verify_common(&self, token: &str, now: DateTime<Utc>) -> Result<Value, VerifyError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(VerifyError::TooLarge);
        }
        let parts: Vec<&str> = token.split('.').collect();
        let [header, _, _] = parts.as_slice() else {
            return Err(VerifyError::Malformed("not three parts".into()));
        };
        let header = b64_json(header)?;
        let alg_name = header.get("alg").and_then(Value::as_str).unwrap_or("");
        let alg = algorithm(alg_name)
            .filter(|a| self.algorithms.contains(a))
            .ok_or_else(|| VerifyError::AlgorithmNotAllowed(alg_name.chars().take(20).collect()))?;
        let mut validation = Validation::new(alg);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let mut claims = None;
        for key in &self.keys {
            match jsonwebtoken::decode::<Value>(token, key, &validation) {
                Ok(data) => {
                    claims = Some(data.claims);
                    break;
                }
                Err(e) => match e.kind() {
                    jsonwebtoken::errors::ErrorKind::InvalidSignature
                    | jsonwebtoken::errors::ErrorKind::InvalidKeyFormat
                    | jsonwebtoken::errors::ErrorKind::InvalidRsaKey(_) => continue,
                    _ => return Err(VerifyError::Malformed("undecodable token".into())),
                },
            }
        }
        let claims = claims.ok_or(VerifyError::BadSignature)?;
        if claims.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return Err(VerifyError::WrongIssuer);
        }
        let now = now.timestamp();
        let exp = int_claim(claims.get("exp")).ok_or(VerifyError::MissingClaim("exp"))?;
        if now > exp.saturating_add(self.leeway) {
            return Err(VerifyError::Expired);
        }
        if let Some(nbf) = claims.get("nbf") {
            let nbf = int_claim(Some(nbf)).ok_or(VerifyError::MissingClaim("nbf"))?;
            if nbf > now.saturating_add(self.leeway) {
                return Err(VerifyError::NotYetValid);
            }
        }
        Ok(claims)
    }

    /// Verifies both tokens of a login and checks they name the same subject.
    pub fn verify_pair(
        &self,
        access_token: &str,
        id_token: &str,
        now: DateTime<Utc>,
    ) -> Result<VerifiedTokens, VerifyError> {
        let access = self.verify_common(access_token, now)?;
        if access.get("client_id").and_then(Value::as_str) != Some(self.client_id.as_str()) {
            return Err(VerifyError::WrongClientId);
        }
        let access_oid = oid_claim(access.get("urn:esia:sbj_id"), "urn:esia:sbj_id")?;

        let id = self.verify_common(id_token, now)?;
        let aud_ok = match id.get("aud") {
            Some(Value::String(a)) => *a == self.client_id,
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(&self.client_id)),
            _ => false,
        };
        if !aud_ok {
            return Err(VerifyError::WrongAudience);
        }
        let id_oid = oid_claim(id.get("sub"), "sub")?;
        if id_oid != access_oid {
            return Err(VerifyError::SubjectMismatch);
        }
        let sbj_value = id.get("urn:esia:sbj");
        if let Some(inner) = sbj_value.and_then(|s| s.get("urn:esia:sbj:oid"))
            && oid_claim(Some(inner), "urn:esia:sbj:oid")? != id_oid
        {
            return Err(VerifyError::SubjectMismatch);
        }
        let field = |k: &str| sbj_value.and_then(|s| s.get(k));
        let sbj = SbjClaims {
            typ: field("urn:esia:sbj:typ")
                .and_then(Value::as_str)
                .map(str::to_string),
            is_tru: field("urn:esia:sbj:is_tru").and_then(Value::as_bool),
            lvl: field("urn:esia:sbj:lvl")
                .and_then(Value::as_str)
                .map(str::to_string),
        };
        let sid = id
            .get("urn:esia:sid")
            .or_else(|| access.get("urn:esia:sid"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let scope = access
            .get("scope")
            .and_then(Value::as_str)
            .unwrap_or("")
            .split_whitespace()
            // "fullname?oid=1000299681" → "fullname"
            .map(|s| s.split('?').next().unwrap_or(s).to_string())
            .collect();
        Ok(VerifiedTokens {
            oid: id_oid,
            sid,
            scope,
            sbj,
            access_expires_at: int_claim(access.get("exp")).unwrap_or(0),
        })
    }
}
