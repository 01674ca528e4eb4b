//! `header` mode: for a diary that can be taught to trust the gateway, every proxied
//! request carries a short-lived signed assertion (a JWT, EdDSA or RS256) naming the diary
//! user, role, how they authenticated and their ESIA level. The diary verifies it with the
//! gateway's public key; a client-sent header of the same name is always removed first
//! (see [`Assertions::header_name`]), so a browser can never speak for the gateway.

use std::path::Path;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};

/// Default header name; configurable.
pub const DEFAULT_HEADER: &str = "x-esia-gateway-assertion";

/// The claims a diary receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssertionClaims {
    pub iss: String,
    /// The diary login.
    pub sub: String,
    /// Canonical role, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// `esia` or `legacy`.
    pub amr: String,
    /// ESIA account level (`confirmed`, `standard`, `simplified`, `child`), for esia sessions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AssertionError {
    #[error("cannot read assertion key {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("assertion key {path} is not a {alg} private key in PEM: {detail}")]
    BadKey {
        path: String,
        alg: &'static str,
        detail: String,
    },
    #[error("signing the assertion failed: {0}")]
    Sign(String),
}

/// Signs assertions with one configured key.
pub struct Assertions {
    key: EncodingKey,
    alg: Algorithm,
    header_name: http::HeaderName,
    ttl: chrono::TimeDelta,
    issuer: String,
}

impl std::fmt::Debug for Assertions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assertions")
            .field("alg", &self.alg)
            .field("header", &self.header_name)
            .finish_non_exhaustive()
    }
}

/// Which key type the PEM holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssertionAlg {
    EdDsa,
    Rs256,
}

impl Assertions {
    pub fn from_pem_file(
        path: &Path,
        alg: AssertionAlg,
        header_name: http::HeaderName,
        ttl: chrono::TimeDelta,
    ) -> Result<Self, AssertionError> {
        let shown = path.display().to_string();
        let pem = std::fs::read(path).map_err(|source| AssertionError::Read {
            path: shown.clone(),
            source,
        })?;
        let (key, alg, name) = match alg {
            AssertionAlg::EdDsa => (EncodingKey::from_ed_pem(&pem), Algorithm::EdDSA, "Ed25519"),
            AssertionAlg::Rs256 => (EncodingKey::from_rsa_pem(&pem), Algorithm::RS256, "RSA"),
        };
        let key = key.map_err(|e| AssertionError::BadKey {
            path: shown,
            alg: name,
            detail: e.to_string(),
        })?;
        Ok(Self {
            key,
            alg,
            header_name,
            ttl,
            issuer: "esia-gateway".into(),
        })
    }

    /// The header that carries the assertion; the proxy strips client-sent copies of it.
    pub fn header_name(&self) -> &http::HeaderName {
        &self.header_name
    }

    pub fn sign(
        &self,
        diary_login: &str,
        role: Option<&str>,
        amr: &str,
        level: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<String, AssertionError> {
        let claims = AssertionClaims {
            iss: self.issuer.clone(),
            sub: diary_login.to_owned(),
            role: role.map(str::to_owned),
            amr: amr.to_owned(),
            level: level.map(str::to_owned),
            iat: now.timestamp(),
            exp: (now + self.ttl).timestamp(),
            jti: uuid::Uuid::new_v4().to_string(),
        };
        jsonwebtoken::encode(&Header::new(self.alg), &claims, &self.key)
            .map_err(|e| AssertionError::Sign(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation};

    fn ed_key() -> (tempfile::TempDir, std::path::PathBuf, String) {
        let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("assertion.key");
        std::fs::write(&path, kp.serialize_pem()).unwrap();
        (dir, path, kp.public_key_pem())
    }

    #[test]
    fn signed_assertion_verifies_with_the_public_key_and_expires() {
        let (_dir, path, public) = ed_key();
        let a = Assertions::from_pem_file(
            &path,
            AssertionAlg::EdDsa,
            DEFAULT_HEADER.parse().unwrap(),
            chrono::TimeDelta::seconds(60),
        )
        .unwrap();
        let now = Utc::now();
        let jwt = a
            .sign("parent", Some("parent"), "esia", Some("confirmed"), now)
            .unwrap();
        let mut v = Validation::new(Algorithm::EdDSA);
        v.set_issuer(&["esia-gateway"]);
        let data = jsonwebtoken::decode::<AssertionClaims>(
            &jwt,
            &DecodingKey::from_ed_pem(public.as_bytes()).unwrap(),
            &v,
        )
        .unwrap();
        assert_eq!(data.claims.sub, "parent");
        assert_eq!(data.claims.level.as_deref(), Some("confirmed"));
        assert_eq!(data.claims.exp - data.claims.iat, 60);

        let old = a
            .sign(
                "parent",
                None,
                "legacy",
                None,
                now - chrono::TimeDelta::hours(1),
            )
            .unwrap();
        let err = jsonwebtoken::decode::<AssertionClaims>(
            &old,
            &DecodingKey::from_ed_pem(public.as_bytes()).unwrap(),
            &v,
        );
        assert!(err.is_err(), "an hour-old assertion must be expired");
    }

    #[test]
    fn wrong_or_missing_key_files_are_clear_errors() {
        let (_dir, path, _) = ed_key();
        let h: http::HeaderName = DEFAULT_HEADER.parse().unwrap();
        let ttl = chrono::TimeDelta::seconds(60);
        let err =
            Assertions::from_pem_file(&path, AssertionAlg::Rs256, h.clone(), ttl).unwrap_err();
        assert!(
            matches!(err, AssertionError::BadKey { alg: "RSA", .. }),
            "{err}"
        );
        let err = Assertions::from_pem_file(
            Path::new("/nonexistent/key.pem"),
            AssertionAlg::EdDsa,
            h,
            ttl,
        )
        .unwrap_err();
        assert!(matches!(err, AssertionError::Read { .. }), "{err}");
    }
}
