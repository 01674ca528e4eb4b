//! Checking a relying party's `client_secret`: the certificate hash that names the key,
//! the signature's text encoding, and the two verifiers.
//!
//! Threat: the mock stands in for the party that authenticates the gateway, so a lax
//! check here would let a gateway bug (wrong string, wrong order, wrong key) pass every
//! test and fail only against real ESIA. Everything is exact: the string signed is built
//! by the caller from the request's own parameters, the signature must decode to exactly
//! 64 bytes, and GOST verification is done by OpenSSL's GOST engine, the same code real
//! relying parties sign with. The Ed25519 demo signature is accepted only when the
//! config says so.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use streebog::{Digest, Streebog256};
use tokio::io::AsyncWriteExt;

/// OID of GOST R 34.10-2012 with a 256-bit key.
const OID_GOST2012_256: &str = "1.2.643.7.1.1.1.1";
/// OID of Ed25519 (RFC 8410).
const OID_ED25519: &str = "1.3.101.112";
/// Both signature kinds are 64 raw bytes.
const SIGNATURE_LEN: usize = 64;
/// An OpenSSL call that takes longer than this is treated as a failed verification.
const VERIFY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("not a readable X.509 certificate: {0}")]
    Parse(String),
    #[error("unsupported key algorithm {0} (GOST R 34.10-2012 256 or Ed25519 expected)")]
    Algorithm(String),
}

/// Hex of Streebog-256 over the certificate's DER: ESIA's `client_certificate_hash`.
pub fn certificate_hash(der: &[u8]) -> String {
    hex::encode(Streebog256::digest(der))
}

/// Decodes a signature sent as base64url without padding, base64url with padding, or
/// standard base64. A space stands for a `+` that a client forgot to percent-encode.
pub fn decode_signature(text: &str) -> Option<Vec<u8>> {
    let text = text.replace(' ', "+");
    let url = text.contains(['-', '_']);
    let std = text.contains(['+', '/']);
    let alphabet = match (url, std) {
        (true, true) => return None,
        (true, false) => &alphabet::URL_SAFE,
        (false, _) => &alphabet::STANDARD,
    };
    let config = GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(false);
    GeneralPurpose::new(alphabet, config).decode(text).ok()
}

/// A private scratch folder (mode 0700) for OpenSSL's input files; removed on drop.
#[derive(Debug)]
pub struct WorkDir(PathBuf);

impl WorkDir {
    pub fn create() -> std::io::Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        let path = std::env::temp_dir().join(format!("esia-mock-{}", uuid::Uuid::new_v4()));
        std::fs::DirBuilder::new().mode(0o700).create(&path)?;
        Ok(Self(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        // Best effort: only signatures, public keys and the mock's own TLS leaf live here.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The verifying half of a registered certificate.
#[derive(Debug, Clone)]
pub enum PublicKey {
    /// SubjectPublicKeyInfo as PEM, written to a file for `openssl dgst -verify`.
    Gost { spki_pem_file: PathBuf },
    /// The raw 32-byte Ed25519 key.
    Ed25519 { raw: Vec<u8> },
}

/// A certificate registered for a client: its hash and its key.
#[derive(Debug, Clone)]
pub struct RegisteredKey {
    pub hash: String,
    pub key: PublicKey,
}

impl RegisteredKey {
    /// Reads a certificate; a GOST key's SPKI is written as PEM into `workdir`.
    pub fn from_der(der: &[u8], workdir: &Path) -> Result<Self, KeyError> {
        let (_, cert) =
            x509_parser::parse_x509_certificate(der).map_err(|e| KeyError::Parse(e.to_string()))?;
        let spki = cert.public_key();
        let oid = spki.algorithm.algorithm.to_id_string();
        let hash = certificate_hash(der);
        let key = match oid.as_str() {
            OID_GOST2012_256 => {
                let b64 = base64::engine::general_purpose::STANDARD.encode(spki.raw);
                let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
                for line in b64.as_bytes().chunks(64) {
                    pem.push_str(&String::from_utf8_lossy(line));
                    pem.push('\n');
                }
                pem.push_str("-----END PUBLIC KEY-----\n");
                let file = workdir.join(format!("rp-{hash}.pub.pem"));
                std::fs::write(&file, pem).map_err(|e| KeyError::Parse(e.to_string()))?;
                PublicKey::Gost {
                    spki_pem_file: file,
                }
            }
            OID_ED25519 => PublicKey::Ed25519 {
                raw: spki.subject_public_key.data.to_vec(),
            },
            other => return Err(KeyError::Algorithm(other.to_string())),
        };
        Ok(Self { hash, key })
    }
}

/// Verifies client secrets; holds what the GOST path needs.
#[derive(Debug, Clone)]
pub struct Verifier {
    pub openssl: PathBuf,
    pub workdir: PathBuf,
    pub accept_demo: bool,
}

/// Why a secret did not verify (logged; the client only sees ESIA-007053).
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    Encoding,
    Length(usize),
    DemoNotAccepted,
    BadSignature,
    VerifierFailed(String),
}

impl Verifier {
    /// Checks `secret` (as sent) over `message` with `key`.
    pub async fn verify(
        &self,
        key: &PublicKey,
        message: &str,
        secret: &str,
    ) -> Result<(), Refusal> {
        let sig = decode_signature(secret).ok_or(Refusal::Encoding)?;
        if sig.len() != SIGNATURE_LEN {
            return Err(Refusal::Length(sig.len()));
        }
        match key {
            PublicKey::Ed25519 { raw } => {
                if !self.accept_demo {
                    return Err(Refusal::DemoNotAccepted);
                }
                ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, raw)
                    .verify(message.as_bytes(), &sig)
                    .map_err(|_| Refusal::BadSignature)
            }
            PublicKey::Gost { spki_pem_file } => {
                self.verify_gost(spki_pem_file, message, &sig).await
            }
        }
    }

    async fn verify_gost(&self, pubkey: &Path, message: &str, sig: &[u8]) -> Result<(), Refusal> {
        let sig_file = self
            .workdir
            .join(format!("sig-{}.bin", uuid::Uuid::new_v4()));
        std::fs::write(&sig_file, sig).map_err(|e| Refusal::VerifierFailed(e.to_string()))?;
        let result = tokio::time::timeout(
            VERIFY_TIMEOUT,
            self.run_openssl_verify(pubkey, &sig_file, message),
        )
        .await
        .unwrap_or_else(|_| Err(Refusal::VerifierFailed("openssl timed out".into())));
        // Best effort: the file holds only a signature, never a key.
        let _ = std::fs::remove_file(&sig_file);
        result
    }

    async fn run_openssl_verify(
        &self,
        pubkey: &Path,
        sig_file: &Path,
        message: &str,
    ) -> Result<(), Refusal> {
        let failed = |e: std::io::Error| Refusal::VerifierFailed(e.to_string());
        let mut child = tokio::process::Command::new(&self.openssl)
            .args(["dgst", "-engine", "gost", "-md_gost12_256", "-verify"])
            .arg(pubkey)
            .arg("-signature")
            .arg(sig_file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(failed)?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(message.as_bytes()).await.map_err(failed)?;
        }
        let out = child.wait_with_output().await.map_err(failed)?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if out.status.success() && stdout.contains("Verified OK") {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stdout.contains("Verification failure") || stderr.contains("signature mismatch") {
            Err(Refusal::BadSignature)
        } else {
            Err(Refusal::VerifierFailed(format!(
                "openssl exited with {}: {}",
                out.status,
                stderr.trim()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streebog_256_matches_the_standard_vectors() {
        // GOST R 34.11-2012 example M1 ("012345678901234567890123456789012345678901234567890123456789012").
        let m1 = b"012345678901234567890123456789012345678901234567890123456789012";
        assert_eq!(
            certificate_hash(m1),
            "9d151eefd8590b89daa6ba6cb74af9275dd051026bb149a452fd84e5e57b5500"
        );
        assert_eq!(certificate_hash(b"").len(), 64);
    }

    #[test]
    fn decodes_all_three_encodings_to_the_same_bytes() {
        let bytes: Vec<u8> = (0u8..64)
            .map(|i| i.wrapping_mul(37).wrapping_add(250))
            .collect();
        let std = base64::engine::general_purpose::STANDARD.encode(&bytes);
        let url_pad = base64::engine::general_purpose::URL_SAFE.encode(&bytes);
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes);
        assert!(std.contains(['+', '/']) && url.contains(['-', '_']));
        for text in [&std, &url_pad, &url] {
            assert_eq!(
                decode_signature(text).as_deref(),
                Some(&bytes[..]),
                "{text}"
            );
        }
        // A `+` that arrived as a space after form decoding still decodes.
        assert_eq!(
            decode_signature(&std.replace('+', " ")).as_deref(),
            Some(&bytes[..])
        );
    }

    #[test]
    fn refuses_malformed_encodings() {
        for bad in ["", "a", "ab=c", "ab-+", "AAAA%", "AB==AA", "AAB=", "A_B/"] {
            let got = decode_signature(bad);
            assert!(
                got.is_none() || got.as_ref().is_some_and(|b| b.is_empty()),
                "{bad}: {got:?}"
            );
        }
    }

    #[tokio::test]
    async fn wrong_length_and_disabled_demo_are_refused_before_any_crypto() {
        let v = Verifier {
            openssl: "openssl".into(),
            workdir: std::env::temp_dir(),
            accept_demo: false,
        };
        let key = PublicKey::Ed25519 { raw: vec![0; 32] };
        let short = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([1u8; 32]);
        assert_eq!(v.verify(&key, "m", &short).await, Err(Refusal::Length(32)));
        let full = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([1u8; 64]);
        assert_eq!(
            v.verify(&key, "m", &full).await,
            Err(Refusal::DemoNotAccepted)
        );
        assert_eq!(v.verify(&key, "m", "***").await, Err(Refusal::Encoding));
    }
}
