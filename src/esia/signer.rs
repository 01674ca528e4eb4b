//! Who signs `client_secret`. ESIA wants GOST R 34.10-2012 signatures and Rust has no
//! mature GOST crate, so production signing runs an external program ([`CommandSigner`]:
//! OpenSSL's GOST engine, CryptoPro's csptest, …): the string on stdin, the raw signature
//! on stdout. [`DemoSigner`] (Ed25519) exists only for the demo against the mock.
//! The trait is small so an HTTP signing service fits later.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Stdio;
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::config::SignerConfig;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why signing failed. Never carries the data that was being signed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("signer `{program}` could not be started: {reason}")]
    Spawn { program: String, reason: String },
    #[error("signer `{program}` did not finish within {timeout:?} and was killed")]
    Timeout { program: String, timeout: Duration },
    #[error("signer `{program}` failed with {status}: {stderr}")]
    Failed {
        program: String,
        status: String,
        stderr: String,
    },
    #[error("signer `{program}` produced no signature")]
    Empty { program: String },
    #[error("signer `{program}` output is not valid base64")]
    BadBase64 { program: String },
    #[error("signer output too large (over {0} bytes)")]
    TooLarge(usize),
    #[error("signer key {path}: {reason}")]
    Key { path: PathBuf, reason: String },
}

pub trait Signer: Send + Sync {
    /// Signs `data`, returning the raw signature bytes.
    fn sign(&self, data: &[u8]) -> BoxFuture<'_, Result<Vec<u8>, SignError>>;
    /// Short name for logs: "command", "demo".
    fn kind(&self) -> &'static str;
}

/// Builds the signer a config asks for.
pub fn from_config(cfg: &SignerConfig) -> Result<std::sync::Arc<dyn Signer>, SignError> {
    Ok(match cfg {
        SignerConfig::Command {
            program,
            args,
            timeout,
            reverse_bytes,
            output_base64,
        } => std::sync::Arc::new(CommandSigner {
            program: program.clone(),
            args: args.clone(),
            timeout: *timeout,
            reverse_bytes: *reverse_bytes,
            output_base64: *output_base64,
        }),
        SignerConfig::Demo { key } => std::sync::Arc::new(DemoSigner::from_file(key)?),
    })
}

/// Runs a program directly (no shell) for every signature.
#[derive(Debug, Clone)]
pub struct CommandSigner {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub timeout: Duration,
    /// CryptoPro emits the signature little-endian; ESIA wants OpenSSL's order.
    pub reverse_bytes: bool,
    /// The program prints base64 instead of raw bytes.
    pub output_base64: bool,
}

const MAX_SIGNER_OUTPUT: usize = 64 * 1024;

impl CommandSigner {
    pub fn new(program: impl Into<PathBuf>, args: Vec<String>, timeout: Duration) -> Self {
        Self {
            program: program.into(),
            args,
            timeout,
            reverse_bytes: false,
            output_base64: false,
        }
    }

    fn name(&self) -> String {
        self.program.display().to_string()
    }

    async fn run(&self, data: &[u8]) -> Result<Vec<u8>, SignError> {
        let program = self.name();
        let mut child = tokio::process::Command::new(&self.program)
            .args(&self.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| SignError::Spawn {
                program: program.clone(),
                reason: e.to_string(),
            })?;
        let mut stdin = child.stdin.take();
        let mut stdout = child.stdout.take();
        let mut stderr = child.stderr.take();
        let work = async {
            // Feed stdin and drain both pipes concurrently so a chatty program cannot
            // deadlock on a full pipe.
            let feed = async {
                if let Some(mut s) = stdin.take() {
                    // A program that exits without reading stdin gives EPIPE; its exit
                    // status tells the real story.
                    let _ = s.write_all(data).await;
                    let _ = s.shutdown().await;
                }
            };
            let read_out = read_capped(stdout.as_mut());
            let read_err = read_capped(stderr.as_mut());
            let ((), out, err) = tokio::join!(feed, read_out, read_err);
            let status = child.wait().await;
            (status, out, err)
        };
        let finished = tokio::time::timeout(self.timeout, work).await;
        let (status, out, err) = match finished {
            Ok(r) => r,
            Err(_) => {
                // kill_on_drop reaps it; kill explicitly so it dies now.
                let _ = child.start_kill();
                return Err(SignError::Timeout {
                    program,
                    timeout: self.timeout,
                });
            }
        };
        let status = status.map_err(|e| SignError::Spawn {
            program: program.clone(),
            reason: e.to_string(),
        })?;
        let out = out?;
        let err = err.unwrap_or_default();
        if !status.success() {
            let first = String::from_utf8_lossy(&err)
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .chars()
                .take(200)
                .collect();
            return Err(SignError::Failed {
                program,
                status: status.to_string(),
                stderr: first,
            });
        }
        let mut sig = if self.output_base64 {
            let text: String = String::from_utf8_lossy(&out)
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            base64::engine::general_purpose::STANDARD
                .decode(text.as_bytes())
                .or_else(|_| {
                    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text.as_bytes())
                })
                .map_err(|_| SignError::BadBase64 {
                    program: program.clone(),
                })?
        } else {
            out
        };
        if sig.is_empty() {
            return Err(SignError::Empty { program });
        }
        if self.reverse_bytes {
            sig.reverse();
        }
        Ok(sig)
    }
}

async fn read_capped<R: tokio::io::AsyncRead + Unpin>(
    r: Option<&mut R>,
) -> Result<Vec<u8>, SignError> {
    let mut buf = Vec::new();
    let mut total = 0usize;
    if let Some(r) = r {
        // Keep the first bytes but drain everything, so a program writing too much
        // still exits instead of blocking on a full pipe (the timeout bounds the rest).
        let mut chunk = [0u8; 8192];
        // A read error ends the read; the exit status decides.
        while let Ok(n) = r.read(&mut chunk).await {
            if n == 0 {
                break;
            }
            total = total.saturating_add(n);
            if buf.len() < MAX_SIGNER_OUTPUT {
                let room = MAX_SIGNER_OUTPUT - buf.len();
                buf.extend_from_slice(chunk.get(..n.min(room)).unwrap_or_default());
            }
        }
    }
    if total > MAX_SIGNER_OUTPUT {
        return Err(SignError::TooLarge(MAX_SIGNER_OUTPUT));
    }
    Ok(buf)
}

impl Signer for CommandSigner {
    fn sign(&self, data: &[u8]) -> BoxFuture<'_, Result<Vec<u8>, SignError>> {
        let data = data.to_vec();
        Box::pin(async move { self.run(&data).await })
    }

    fn kind(&self) -> &'static str {
        "command"
    }
}

/// Ed25519 over the same string; accepted only by a mock told to accept demo signatures.
pub struct DemoSigner {
    key: ring::signature::Ed25519KeyPair,
}

impl DemoSigner {
    /// Loads a PKCS#8 key, PEM (`-----BEGIN PRIVATE KEY-----`) or DER.
    pub fn from_file(path: &Path) -> Result<Self, SignError> {
        let bytes = std::fs::read(path).map_err(|e| SignError::Key {
            path: path.into(),
            reason: e.to_string(),
        })?;
        let der = if bytes.starts_with(b"-----") {
            use rustls::pki_types::pem::PemObject;
            rustls::pki_types::PrivatePkcs8KeyDer::from_pem_slice(&bytes)
                .map_err(|e| SignError::Key {
                    path: path.into(),
                    reason: e.to_string(),
                })?
                .secret_pkcs8_der()
                .to_vec()
        } else {
            bytes
        };
        let signer = Self::from_pkcs8(&der).map_err(|reason| SignError::Key {
            path: path.into(),
            reason,
        })?;
        tracing::warn!(key = %path.display(), "ESIA demo signer (Ed25519) in use: real ESIA rejects it; demo and tests only");
        Ok(signer)
    }

    pub fn from_pkcs8(der: &[u8]) -> Result<Self, String> {
        // rcgen writes PKCS#8 v1 (no public key inside); ring's strict parser wants v2.
        let key = ring::signature::Ed25519KeyPair::from_pkcs8(der)
            .or_else(|_| ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der))
            .map_err(|e| format!("not a PKCS#8 Ed25519 key: {e}"))?;
        Ok(Self { key })
    }
}

impl Signer for DemoSigner {
    fn sign(&self, data: &[u8]) -> BoxFuture<'_, Result<Vec<u8>, SignError>> {
        let sig = self.key.sign(data).as_ref().to_vec();
        Box::pin(async move { Ok(sig) })
    }

    fn kind(&self) -> &'static str {
        "demo"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn demo_signature_verifies() {
        let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let s = DemoSigner::from_pkcs8(&kp.serialize_der()).unwrap();
        let sig = s.sign(b"hello").await.unwrap();
        assert_eq!(sig.len(), 64);
        let pk =
            ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, kp.public_key_raw());
        pk.verify(b"hello", &sig).unwrap();
    }

    #[tokio::test]
    async fn reversal_and_base64_switches() {
        let mut s = CommandSigner::new(
            "/bin/echo",
            vec!["-n".into(), "AQID".into()],
            Duration::from_secs(5),
        );
        s.output_base64 = true;
        assert_eq!(s.sign(b"x").await.unwrap(), vec![1, 2, 3]);
        s.reverse_bytes = true;
        assert_eq!(s.sign(b"x").await.unwrap(), vec![3, 2, 1]);
    }
}
