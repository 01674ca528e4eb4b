//! The RSA key that signs the mock's tokens and the certificate the gateway verifies
//! them with. Given as files, or generated at start: ring cannot generate RSA keys, so
//! the key comes from `openssl genpkey` (a child process) and the certificate from rcgen.
//! A second, unpublished key is made on first use for the `bad_token_signature` fault.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use jsonwebtoken::EncodingKey;
use tokio::sync::OnceCell;

#[derive(Debug, thiserror::Error)]
pub enum KeyGenError {
    #[error("cannot run {openssl}: {source}")]
    Spawn {
        openssl: PathBuf,
        source: std::io::Error,
    },
    #[error("openssl genpkey failed: {0}")]
    Openssl(String),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("token key is not a usable RSA key: {0}")]
    BadKey(String),
    #[error("cannot make a certificate for the token key: {0}")]
    Certificate(String),
}

/// The published signing key plus a lazily made impostor key.
pub struct TokenKeys {
    signing: EncodingKey,
    cert_pem: String,
    openssl: PathBuf,
    impostor: OnceCell<EncodingKey>,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKeys(***)")
    }
}

impl TokenKeys {
    /// Loads `key` (+ `cert`) or generates both.
    pub async fn load_or_generate(
        key: Option<&Path>,
        cert: Option<&Path>,
        openssl: &Path,
    ) -> Result<Self, KeyGenError> {
        let key_pem = match key {
            Some(p) => read(p)?,
            None => generate_rsa_pem(openssl).await?,
        };
        let cert_pem = match cert {
            Some(p) => read(p)?,
            None => self_signed_cert(&key_pem)?,
        };
        let signing = EncodingKey::from_rsa_pem(key_pem.as_bytes())
            .map_err(|e| KeyGenError::BadKey(e.to_string()))?;
        Ok(Self {
            signing,
            cert_pem,
            openssl: openssl.to_path_buf(),
            impostor: OnceCell::new(),
        })
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    pub fn signing(&self) -> &EncodingKey {
        &self.signing
    }

    /// A key nobody published; generated once, on first use.
    pub async fn impostor(&self) -> Result<&EncodingKey, KeyGenError> {
        self.impostor
            .get_or_try_init(|| async {
                let pem = generate_rsa_pem(&self.openssl).await?;
                EncodingKey::from_rsa_pem(pem.as_bytes())
                    .map_err(|e| KeyGenError::BadKey(e.to_string()))
            })
            .await
    }
}

fn read(path: &Path) -> Result<String, KeyGenError> {
    std::fs::read_to_string(path).map_err(|source| KeyGenError::Read {
        path: path.into(),
        source,
    })
}

/// `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`, PKCS#8 PEM on stdout.
async fn generate_rsa_pem(openssl: &Path) -> Result<String, KeyGenError> {
    let out = tokio::process::Command::new(openssl)
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|source| KeyGenError::Spawn {
            openssl: openssl.into(),
            source,
        })?;
    if !out.status.success() {
        return Err(KeyGenError::Openssl(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| KeyGenError::Openssl(e.to_string()))
}

/// A self-signed certificate for the (PKCS#8) RSA key, valid for ten years.
fn self_signed_cert(key_pem: &str) -> Result<String, KeyGenError> {
    let err = |e: rcgen::Error| KeyGenError::Certificate(e.to_string());
    let key =
        rcgen::KeyPair::from_pem_and_sign_algo(key_pem, &rcgen::PKCS_RSA_SHA256).map_err(err)?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "ESIA mock token signing");
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2045, 1, 1);
    Ok(params.self_signed(&key).map_err(err)?.pem())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::pem::PemObject;

    #[tokio::test]
    async fn generated_key_signs_and_its_certificate_verifies() {
        let keys = TokenKeys::load_or_generate(None, None, Path::new("openssl"))
            .await
            .unwrap();
        let sig = jsonwebtoken::crypto::sign(b"m", keys.signing(), jsonwebtoken::Algorithm::RS256)
            .unwrap();
        let der = rustls::pki_types::CertificateDer::from_pem_slice(keys.cert_pem().as_bytes());
        let der = der.unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        let dk =
            jsonwebtoken::DecodingKey::from_rsa_der(&cert.public_key().subject_public_key.data);
        assert!(
            jsonwebtoken::crypto::verify(&sig, b"m", &dk, jsonwebtoken::Algorithm::RS256).unwrap()
        );
        let other = keys.impostor().await.unwrap();
        let bad = jsonwebtoken::crypto::sign(b"m", other, jsonwebtoken::Algorithm::RS256).unwrap();
        assert!(
            !jsonwebtoken::crypto::verify(&bad, b"m", &dk, jsonwebtoken::Algorithm::RS256).unwrap()
        );
    }

    #[tokio::test]
    async fn a_missing_openssl_is_a_clear_error() {
        let err = TokenKeys::load_or_generate(None, None, Path::new("/nonexistent/openssl"))
            .await
            .unwrap_err();
        assert!(matches!(err, KeyGenError::Spawn { .. }), "{err}");
    }
}
