//! The demo's throw-away key material, written under `<data-dir>/certs/` at every start: a CA, TLS
//! certificates for the gateway and the ESIA mock, and the relying party's Ed25519
//! signing certificate that the mock registers (the built-in demo signature).

use std::path::{Path, PathBuf};

use crate::tls::selfsigned::{LeafFiles, TestCa};

pub struct DemoPki {
    pub ca_cert: PathBuf,
    pub gateway: LeafFiles,
    pub esia_mock: LeafFiles,
    /// The RP certificate (Ed25519) registered with the mock, and its key for the signer.
    pub rp_cert: PathBuf,
    pub rp_key: PathBuf,
    pub rp_cert_pem: String,
    /// Streebog-256 of the RP certificate's DER, as ESIA expects it.
    pub rp_cert_hash: String,
}

pub fn generate(dir: &Path) -> anyhow::Result<DemoPki> {
    std::fs::create_dir_all(dir)?;
    let ca = TestCa::generate("esia-gateway demo CA (not for production)")?;
    let ca_cert = dir.join("demo-ca.pem");
    ca.write_cert(&ca_cert)?;
    let names = ["localhost", "127.0.0.1"];
    let gateway = ca.leaf(&names)?.write(dir, "gateway")?;
    let esia_mock = ca.leaf(&names)?.write(dir, "esia-mock")?;

    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519)?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "ESIA_GW_DEMO relying party");
    let cert = params.self_signed(&key)?;
    let rp = crate::tls::selfsigned::Leaf {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
    .write(dir, "rp-demo")?;
    let rp_cert_hash = crate::esia::request::certificate_hash(cert.der());
    Ok(DemoPki {
        ca_cert,
        gateway,
        esia_mock,
        rp_cert: rp.cert,
        rp_key: rp.key,
        rp_cert_pem: cert.pem(),
        rp_cert_hash,
    })
}
