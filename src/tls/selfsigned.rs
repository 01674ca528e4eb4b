//! A throw-away PKI for the demo and the tests: one CA and leaf certificates signed by it,
//! generated at run time with rcgen so that no private key is ever committed.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};

/// A generated CA able to sign leaf certificates.
pub struct TestCa {
    key: KeyPair,
    cert: rcgen::Certificate,
}

/// A leaf certificate and its key, PEM encoded.
pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
}

/// Paths of PEM files written by [`Leaf::write`].
#[derive(Debug, Clone)]
pub struct LeafFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TestCa {
    /// The CA's certificate in DER, e.g. to add to a client's root store.
    pub fn cert_der(&self) -> Vec<u8> {
        self.cert.der().to_vec()
    }

    pub fn generate(common_name: &str) -> Result<Self, rcgen::Error> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        Ok(Self { key, cert })
    }

    pub fn cert_pem(&self) -> String {
        self.cert.pem()
    }

    /// A server certificate for the given DNS names and/or IP addresses.
    pub fn leaf(&self, names: &[&str]) -> Result<Leaf, rcgen::Error> {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())?;
        if let Some(first) = names.first() {
            params.distinguished_name.push(DnType::CommonName, *first);
        }
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.cert, &self.key)?;
        Ok(Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// Writes the CA certificate (never its key) to `path`.
    pub fn write_cert(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.cert_pem())
    }
}

impl Leaf {
    /// Writes `<stem>.pem` (chain: leaf only) and `<stem>.key` (mode 0600) into `dir`.
    pub fn write(&self, dir: &Path, stem: &str) -> std::io::Result<LeafFiles> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::create_dir_all(dir)?;
        let cert = dir.join(format!("{stem}.pem"));
        let key = dir.join(format!("{stem}.key"));
        std::fs::write(&cert, &self.cert_pem)?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&key)?;
        f.write_all(self.key_pem.as_bytes())?;
        Ok(LeafFiles { cert, key })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaf_signed_by_ca_loads_as_server_config() {
        let ca = TestCa::generate("esia-gateway test CA").unwrap();
        let leaf = ca.leaf(&["localhost", "127.0.0.1"]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let files = leaf.write(dir.path(), "gateway").unwrap();
        crate::tls::server_config_from_files(&files.cert, &files.key).unwrap();
        crate::tls::load_certified_key(&files.cert, &files.key).unwrap();
    }
}
