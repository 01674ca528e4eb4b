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
    #[error("all {slots} signer slots stayed busy for {waited:?}")]
    Busy { slots: usize, waited: Duration },
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

/// At most `slots` signatures at once: each may fork the signer program, and the
/// start of a login is open to anyone. Past the cap a signature waits up to `wait`,
/// then fails with [`SignError::Busy`] (the user sees a 503 «try again in a minute»).
pub struct LimitedSigner {
    inner: std::sync::Arc<dyn Signer>,
    slots: tokio::sync::Semaphore,
    count: usize,
    wait: Duration,
}

impl LimitedSigner {
    pub fn new(inner: std::sync::Arc<dyn Signer>, slots: usize, wait: Duration) -> Self {
        let count = slots.max(1);
        Self {
            inner,
            slots: tokio::sync::Semaphore::new(count),
            count,
            wait,
        }
    }
}

impl Signer for LimitedSigner {
    fn sign(&self, data: &[u8]) -> BoxFuture<'_, Result<Vec<u8>, SignError>> {
        let data = data.to_vec();
        Box::pin(async move {
            let _slot = match tokio::time::timeout(self.wait, self.slots.acquire()).await {
                Ok(Ok(slot)) => slot,
                _ => {
                    return Err(SignError::Busy {
                        slots: self.count,
                        waited: self.wait,
                    });
                }
            };
            self.inner.sign(&data).await
        })
    }

    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
}

/// Runs a program directly (no shell) for every signature.
/// `Debug` hides the arguments (they may hold a PIN); see [`SignerConfig`].
#[derive(Clone)]
pub struct CommandSigner {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub timeout: Duration,
    /// CryptoPro emits the signature little-endian; ESIA wants OpenSSL's order.
    pub reverse_bytes: bool,
    /// The program prints base64 instead of raw bytes.
    pub output_base64: bool,
}

impl std::fmt::Debug for CommandSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandSigner")
            .field("program", &self.program)
            .field("args", &format_args!("[{} hidden]", self.args.len()))
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
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
                // A signer's stderr must not forge log lines or drive a terminal.
                .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
                .collect();
            return Err(SignError::Failed {
                program,
                status: status.to_string(),
                stderr: first,
            });
        }
        let mut sig = if self.output_base64 {
            decode_signature_text(&out).ok_or_else(|| SignError::BadBase64 {
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

/// A signature printed as text, the way signing tools print it: standard or URL-safe
/// alphabet, padded or not, wrapped at any width, with CRLF, a UTF-8 BOM or PEM-style
/// `-----BEGIN …-----` armour lines around it. `None` when it is not base64 at all.
pub fn decode_signature_text(out: &[u8]) -> Option<Vec<u8>> {
    use base64::alphabet::{STANDARD, URL_SAFE};
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    let text =
        String::from_utf8_lossy(out.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(out)).into_owned();
    let compact: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("-----"))
        .flat_map(str::chars)
        .filter(|c| !c.is_whitespace())
        .collect();
    if compact.is_empty() {
        return None;
    }
    let lenient = GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true);
    [
        GeneralPurpose::new(&STANDARD, lenient),
        GeneralPurpose::new(&URL_SAFE, lenient),
    ]
    .iter()
    .find_map(|engine| engine.decode(compact.as_bytes()).ok())
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

    /// A signer that takes its time, counting how many run at once.
    struct Slow {
        running: std::sync::atomic::AtomicUsize,
        peak: std::sync::atomic::AtomicUsize,
    }

    impl Signer for Slow {
        fn sign(&self, _: &[u8]) -> BoxFuture<'_, Result<Vec<u8>, SignError>> {
            use std::sync::atomic::Ordering::SeqCst;
            Box::pin(async move {
                let now = self.running.fetch_add(1, SeqCst) + 1;
                self.peak.fetch_max(now, SeqCst);
                tokio::time::sleep(Duration::from_millis(300)).await;
                self.running.fetch_sub(1, SeqCst);
                Ok(vec![1])
            })
        }
        fn kind(&self) -> &'static str {
            "slow"
        }
    }

    #[tokio::test]
    async fn a_crowd_of_signatures_is_capped_and_the_rest_told_busy() {
        let slow = std::sync::Arc::new(Slow {
            running: 0.into(),
            peak: 0.into(),
        });
        let limited = std::sync::Arc::new(LimitedSigner::new(
            slow.clone(),
            2,
            Duration::from_millis(100),
        ));
        let tasks: Vec<_> = (0..5)
            .map(|_| {
                let l = limited.clone();
                tokio::spawn(async move { l.sign(b"x").await })
            })
            .collect();
        let mut ok = 0;
        let mut busy = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => ok += 1,
                Err(SignError::Busy { slots: 2, .. }) => busy += 1,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!((ok, busy), (2, 3));
        assert_eq!(slow.peak.load(std::sync::atomic::Ordering::SeqCst), 2);
        // Free again afterwards.
        assert!(limited.sign(b"y").await.is_ok());
    }
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

    #[test]
    fn signature_text_in_the_shapes_signing_tools_print() {
        let sig: Vec<u8> = (0u8..=255).collect();
        let std_b64 = base64::engine::general_purpose::STANDARD.encode(&sig);
        let url_b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&sig);
        let wrapped: String = std_b64
            .as_bytes()
            .chunks(64)
            .map(|c| format!("{}\r\n", String::from_utf8_lossy(c)))
            .collect();
        for text in [
            std_b64.clone(),
            std_b64.trim_end_matches('=').to_string(),
            url_b64.clone(),
            format!("{url_b64}=="),
            wrapped.clone(),
            format!("\u{FEFF}{std_b64}\n"),
            format!("-----BEGIN SIGNATURE-----\n{wrapped}-----END SIGNATURE-----\n"),
        ] {
            assert_eq!(
                decode_signature_text(text.as_bytes()),
                Some(sig.clone()),
                "{text:?}"
            );
        }
        for bad in [
            "",
            "   \n",
            "-----BEGIN X-----\n-----END X-----",
            "not base64!",
            "ab+_",
            "é",
        ] {
            assert_eq!(decode_signature_text(bad.as_bytes()), None, "{bad:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn signature_text_decoding_never_panics_and_round_trips(
            raw in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
            sig in proptest::collection::vec(proptest::num::u8::ANY, 1..300),
        ) {
            let _ = decode_signature_text(&raw);
            let text = base64::engine::general_purpose::STANDARD.encode(&sig);
            proptest::prop_assert_eq!(decode_signature_text(text.as_bytes()), Some(sig));
        }
    }

    #[test]
    fn debug_output_never_shows_signer_arguments() {
        let args = vec!["-password".to_string(), "s3cr3t-pin".to_string()];
        let cmd = CommandSigner::new(
            "/opt/cprocsp/bin/csptest",
            args.clone(),
            Duration::from_secs(1),
        );
        let cfg = SignerConfig::Command {
            program: "/opt/cprocsp/bin/csptest".into(),
            args,
            timeout: Duration::from_secs(1),
            reverse_bytes: true,
            output_base64: false,
        };
        for shown in [format!("{cmd:?}"), format!("{cfg:?}"), format!("{cfg:#?}")] {
            assert!(!shown.contains("s3cr3t-pin"), "{shown}");
            assert!(
                shown.contains("csptest") && shown.contains("2 hidden"),
                "{shown}"
            );
        }
    }
}
