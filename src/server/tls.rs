//! The public listener's TLS: TLS 1.2 and 1.3 on the ring provider, ALPN `h2` and
//! `http/1.1`, and a certificate that can be swapped while running.
//!
//! [`CertStore`] is the `ResolvesServerCert` of the one `ServerConfig`; every handshake
//! asks it for the current `CertifiedKey`, so a reload only changes what *new*
//! handshakes get — open connections keep their session. A reload that fails (file
//! missing, PEM broken, key not matching, certificate expired or not yet valid) keeps
//! the old certificate and says why.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::server::{ClientHello, ResolvesServerCert, ServerSessionMemoryCache};
use rustls::sign::CertifiedKey;

use crate::tls::{ALPN_H2_HTTP11, TlsError};

/// TLS 1.2 sessions remembered for resumption (a few MB at most).
const SESSION_CACHE_ENTRIES: usize = 16 * 1024;

/// The current certificate and where it is reloaded from.
#[derive(Debug)]
pub struct CertStore {
    current: RwLock<Arc<CertifiedKey>>,
    cert: PathBuf,
    key: PathBuf,
}

impl CertStore {
    pub fn load(cert: &Path, key: &Path) -> Result<Arc<Self>, TlsError> {
        let ck = load_checked(cert, key)?;
        Ok(Arc::new(Self {
            current: RwLock::new(ck),
            cert: cert.to_owned(),
            key: key.to_owned(),
        }))
    }

    /// Re-reads the files; on any error the certificate in use stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let ck = load_checked(&self.cert, &self.key)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = ck;
        Ok(())
    }

    pub fn current(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// Loads chain + key, checks they match and that the leaf is valid today.
fn load_checked(cert: &Path, key: &Path) -> Result<Arc<CertifiedKey>, TlsError> {
    let ck = crate::tls::load_certified_key(cert, key)?;
    ck.keys_match()
        .map_err(|e| TlsError::Mismatch(e.to_string()))?;
    let leaf = ck.end_entity_cert().map_err(TlsError::Rustls)?;
    let (_, parsed) = x509_parser::parse_x509_certificate(leaf.as_ref())
        .map_err(|e| TlsError::Mismatch(format!("{}: unparsable leaf: {e}", cert.display())))?;
    if !parsed.validity().is_valid() {
        return Err(TlsError::Mismatch(format!(
            "{}: certificate not valid now (valid {} .. {})",
            cert.display(),
            parsed.validity().not_before,
            parsed.validity().not_after
        )));
    }
    Ok(ck)
}

/// The server config for the public listener, resolving through `store`.
/// Why a handshake failed, as the `cause` label of `tls_handshake_failures_total`: a
/// plain-HTTP request or a scanner is not the same signal as a browser refusing our
/// certificate.
pub fn failure_cause(e: &std::io::Error) -> &'static str {
    if e.kind() == std::io::ErrorKind::UnexpectedEof
        || e.kind() == std::io::ErrorKind::ConnectionReset
        || e.kind() == std::io::ErrorKind::BrokenPipe
    {
        return "closed";
    }
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::InvalidMessage(_)) => "not-tls",
        Some(rustls::Error::AlertReceived(_)) => "client-alert",
        Some(
            rustls::Error::PeerIncompatible(_)
            | rustls::Error::NoApplicationProtocol
            | rustls::Error::PeerMisbehaved(_),
        ) => "incompatible",
        _ => "other",
    }
}

pub fn server_config(store: Arc<CertStore>) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let mut cfg = rustls::ServerConfig::builder_with_provider(crate::tls::provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(store);
    cfg.alpn_protocols = ALPN_H2_HTTP11.iter().map(|p| p.to_vec()).collect();
    // The server's cipher order (the provider's: AEAD, forward secrecy, strongest
    // first) wins over a client's, so an old client cannot steer to a weaker suite.
    cfg.ignore_client_order = true;
    // Resumption spares phones a full handshake on every reconnect: stateful cache for
    // TLS 1.2, rotating tickets for 1.3. No 0-RTT (replayable requests).
    cfg.session_storage = ServerSessionMemoryCache::new(SESSION_CACHE_ENTRIES);
    cfg.ticketer = rustls::crypto::ring::Ticketer::new()?;
    cfg.max_early_data_size = 0;
    Ok(Arc::new(cfg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::selfsigned::TestCa;

    #[test]
    fn reload_swaps_and_bad_files_keep_the_old_certificate() {
        let ca = TestCa::generate("test CA").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let first = ca.leaf(&["localhost"]).unwrap();
        let files = first.write(dir.path(), "gw").unwrap();
        let store = CertStore::load(&files.cert, &files.key).unwrap();
        let before = store.current().cert.clone();

        // Garbage, a key of another certificate, a missing file: all refused.
        std::fs::write(&files.cert, "not a pem").unwrap();
        assert!(store.reload().is_err());
        let other = ca.leaf(&["localhost"]).unwrap();
        std::fs::write(&files.cert, &other.cert_pem).unwrap();
        std::fs::write(&files.key, &first.key_pem).unwrap();
        assert!(matches!(store.reload(), Err(TlsError::Mismatch(_))));
        std::fs::remove_file(&files.key).unwrap();
        assert!(matches!(store.reload(), Err(TlsError::Read { .. })));
        assert_eq!(store.current().cert, before);

        other.write(dir.path(), "gw").unwrap();
        store.reload().unwrap();
        assert_ne!(store.current().cert, before);
    }
}
