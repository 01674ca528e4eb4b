//! What the config check needs to know about the gateway's own certificate: when it
//! expires and which names it covers. An expired certificate or one that does not name
//! `listen.public_url`'s host would fail every browser handshake; saying so at check time
//! beats a wall of TLS errors after the switch.

use std::net::IpAddr;

use x509_parser::extensions::GeneralName;

/// Facts read from a leaf certificate (DER).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafFacts {
    /// Unix time after which the certificate is no longer valid.
    pub not_after: i64,
    /// DNS names (possibly `*.` wildcards), lower case.
    pub dns: Vec<String>,
    pub ips: Vec<IpAddr>,
}

/// `None` when the certificate cannot be parsed (rustls already accepted it, so this only
/// skips the extra checks).
pub fn leaf_facts(der: &[u8]) -> Option<LeafFacts> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let mut facts = LeafFacts {
        not_after: cert.validity().not_after.timestamp(),
        dns: Vec::new(),
        ips: Vec::new(),
    };
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(d) => facts.dns.push(d.to_ascii_lowercase()),
                GeneralName::IPAddress(bytes) => {
                    if let Ok(v4) = <[u8; 4]>::try_from(*bytes) {
                        facts.ips.push(IpAddr::from(v4));
                    } else if let Ok(v6) = <[u8; 16]>::try_from(*bytes) {
                        facts.ips.push(IpAddr::from(v6));
                    }
                }
                _ => {}
            }
        }
    }
    Some(facts)
}

impl LeafFacts {
    /// Whether a browser would accept this certificate for `host` (SAN only, as browsers do;
    /// a wildcard covers exactly one label).
    pub fn covers(&self, host: &url::Host<&str>) -> bool {
        match host {
            url::Host::Domain(d) => {
                let d = d.to_ascii_lowercase();
                self.dns.iter().any(|pattern| name_matches(pattern, &d))
            }
            url::Host::Ipv4(ip) => self.ips.contains(&IpAddr::V4(*ip)),
            url::Host::Ipv6(ip) => self.ips.contains(&IpAddr::V6(*ip)),
        }
    }

    /// The names, for a message.
    pub fn names(&self) -> String {
        let mut all: Vec<String> = self.dns.clone();
        all.extend(self.ips.iter().map(IpAddr::to_string));
        if all.is_empty() {
            "no names".to_string()
        } else {
            all.join(", ")
        }
    }
}

fn name_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(suffix) => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
        None => pattern == host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::selfsigned::TestCa;

    fn facts_for(names: &[&str]) -> LeafFacts {
        let ca = TestCa::generate("facts CA").unwrap();
        let leaf = ca.leaf(names).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let files = leaf.write(dir.path(), "leaf").unwrap();
        let der = crate::tls::read_certs(&files.cert).unwrap().remove(0);
        leaf_facts(&der).unwrap()
    }

    #[test]
    fn reads_names_and_expiry() {
        let f = facts_for(&["dnevnik.example.ru", "*.school.ru", "127.0.0.1"]);
        assert!(
            f.not_after > 4_000_000_000,
            "rcgen's default is far in the future"
        );
        assert!(f.covers(&url::Host::Domain("dnevnik.example.ru")));
        assert!(f.covers(&url::Host::Domain("DNEVNIK.example.ru")));
        assert!(f.covers(&url::Host::Domain("a.school.ru")));
        assert!(f.covers(&url::Host::Ipv4("127.0.0.1".parse().unwrap())));
        assert_eq!(f.names(), "dnevnik.example.ru, *.school.ru, 127.0.0.1");
    }

    #[test]
    fn refuses_names_it_does_not_cover() {
        let f = facts_for(&["dnevnik.example.ru", "*.school.ru"]);
        assert!(!f.covers(&url::Host::Domain("example.ru")));
        assert!(!f.covers(&url::Host::Domain("evil-dnevnik.example.ru")));
        assert!(!f.covers(&url::Host::Domain("a.b.school.ru")));
        assert!(!f.covers(&url::Host::Domain("school.ru")));
        assert!(!f.covers(&url::Host::Ipv4("127.0.0.1".parse().unwrap())));
        assert!(!name_matches("*.school.ru", ".school.ru"));
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        assert_eq!(leaf_facts(b"not der"), None);
        assert_eq!(leaf_facts(&[]), None);
    }
}
