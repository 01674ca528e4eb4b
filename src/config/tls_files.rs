//! `[tls]`: the certificate files are opened at check time, so a missing file, a key that
//! does not fit its certificate or an unreadable CA bundle is a config error with the key
//! that names it — not a failure at the first TLS handshake.

use std::path::Path;

use rustls::sign::CertifiedKey;

use super::cert_facts::{LeafFacts, leaf_facts};
use super::file::TlsFile;
use super::validate::Ctx;
use super::{GatewayConfig, TlsConfig};
use crate::tls::{self, TlsError};

const CERT_HINT: &str =
    "a PEM certificate chain, leaf first; relative paths start at the config file's directory";
const KEY_HINT: &str = "a PEM private key (PKCS#8, PKCS#1 or SEC1) for the certificate in tls.cert";
const CA_HINT: &str = "a PEM bundle of CA certificates, e.g. the Минцифры root";

fn describe(e: &TlsError) -> String {
    match e {
        TlsError::Read { path, source } if source.kind() == std::io::ErrorKind::NotFound => {
            format!("file {} does not exist", path.display())
        }
        other => other.to_string(),
    }
}

pub fn tls(f: &TlsFile, cx: &mut Ctx) -> Option<TlsConfig> {
    let cert = cx
        .required(&f.cert, "tls.cert", CERT_HINT)
        .map(|c| cx.resolve(c));
    let key = cx
        .required(&f.key, "tls.key", KEY_HINT)
        .map(|k| cx.resolve(k));

    let chain_ok = cert.as_deref().map(|c| match tls::read_certs(c) {
        Ok(_) => true,
        Err(e) => {
            cx.error("tls.cert", describe(&e), Some(CERT_HINT));
            false
        }
    });
    let key_ok = key.as_deref().map(|k| match tls::read_key(k) {
        Ok(_) => true,
        Err(e) => {
            cx.error("tls.key", describe(&e), Some(KEY_HINT));
            false
        }
    });
    let mut pair_ok = false;
    if let (Some(c), Some(k), Some(true), Some(true)) = (&cert, &key, chain_ok, key_ok) {
        match tls::load_certified_key(c, k) {
            Ok(ck) => pair_ok = not_expired(&ck, cx),
            Err(e) => cx.error(
                "tls.key",
                format!("does not fit tls.cert: {}", describe(&e)),
                Some(KEY_HINT),
            ),
        }
    }

    let outgoing_ca = f.outgoing_ca.as_deref().map(|p| cx.resolve(p));
    let ca_ok = match &outgoing_ca {
        None => true,
        Some(path) => match check_ca_bundle(path) {
            Ok(()) => true,
            Err(why) => {
                cx.error("tls.outgoing_ca", why, Some(CA_HINT));
                false
            }
        },
    };

    (pair_ok && ca_ok).then_some(())?;
    Some(TlsConfig {
        cert: cert?,
        key: key?,
        outgoing_ca,
        hsts: f.hsts.unwrap_or(true),
    })
}

fn leaf(ck: &CertifiedKey) -> Option<LeafFacts> {
    ck.cert.first().and_then(|der| leaf_facts(der))
}

fn not_expired(ck: &CertifiedKey, cx: &mut Ctx) -> bool {
    let Some(facts) = leaf(ck) else {
        return true;
    };
    if facts.not_after >= chrono::Utc::now().timestamp() {
        return true;
    }
    let when = chrono::DateTime::from_timestamp(facts.not_after, 0)
        .map_or_else(|| facts.not_after.to_string(), |t| t.to_rfc3339());
    cx.error(
        "tls.cert",
        format!("the certificate expired on {when}"),
        Some("renew it; `kill -HUP` reloads certificates without a restart"),
    );
    false
}

/// Browsers refuse a certificate that does not name the host they asked for.
pub fn covers_public_url(cfg: &GatewayConfig, cx: &mut Ctx) {
    let Some(host) = cfg.listen.public_url.as_ref().and_then(|u| u.host()) else {
        return;
    };
    let Ok(ck) = tls::load_certified_key(&cfg.tls.cert, &cfg.tls.key) else {
        return;
    };
    if let Some(facts) = leaf(&ck).filter(|f| !f.covers(&host)) {
        cx.error(
            "listen.public_url",
            format!(
                "the certificate in tls.cert does not cover {host} (it names {})",
                facts.names()
            ),
            Some("add the name to the certificate, or fix public_url"),
        );
    }
}

/// Every certificate in the bundle must be usable as a trust anchor.
fn check_ca_bundle(path: &Path) -> Result<(), String> {
    let certs = tls::read_certs(path).map_err(|e| describe(&e))?;
    let mut store = rustls::RootCertStore::empty();
    for (i, cert) in certs.into_iter().enumerate() {
        store
            .add(cert)
            .map_err(|e| format!("certificate #{} in {}: {e}", i + 1, path.display()))?;
    }
    Ok(())
}
