//! `X-Forwarded-For`, `-Proto`, `-Host` and `X-Real-IP`: who the client is, as the diary
//! will believe it (it logs and rate-limits by these).
//!
//! Client-sent copies are believed only when the TCP peer is one of
//! `forwarding.trusted_proxies` (a load balancer in front of us); then the chain is
//! appended to and the real client is the right-most address that is not a trusted
//! proxy. From anyone else they are replaced, so a browser cannot pose as another
//! address. `Forwarded` (RFC 7239) is always removed: we do not produce it, so any copy
//! the diary saw would be the client's word.

use std::net::IpAddr;

use http::HeaderMap;
use http::header::{FORWARDED, HeaderName, HeaderValue};
use ipnet::IpNet;

pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
pub const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");

/// The client's address: the TCP peer, or — when the peer is a trusted proxy — the
/// right-most address of its `X-Forwarded-For` that is not a trusted proxy. What rate
/// limits, audit events and logs key on (behind the region's load balancer every
/// client would otherwise share the balancer's address).
pub fn client_address(headers: &HeaderMap, peer: IpAddr, trusted: &[IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    if !is_trusted(peer, trusted) {
        return peer;
    }
    let mut chain: Vec<IpAddr> = Vec::new();
    for value in headers.get_all(&X_FORWARDED_FOR) {
        for item in value.to_str().unwrap_or("").split(',') {
            match item.trim().parse::<IpAddr>() {
                Ok(ip) => chain.push(ip.to_canonical()),
                Err(_) => chain.clear(),
            }
        }
    }
    chain.push(peer);
    chain
        .iter()
        .rev()
        .find(|ip| !is_trusted(**ip, trusted))
        .or(chain.first())
        .copied()
        .unwrap_or(peer)
}

/// Sets the forwarding headers for a request that arrived from `peer` for `host` over
/// TLS. Returns the client address the diary is told about.
pub fn apply(headers: &mut HeaderMap, peer: IpAddr, host: &str, trusted: &[IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    headers.remove(FORWARDED);
    let peer_trusted = is_trusted(peer, trusted);

    let mut chain: Vec<IpAddr> = Vec::new();
    let mut proto = None;
    let mut fwd_host = None;
    if peer_trusted {
        // An unparsable entry ends the trust: everything left of it is unknown.
        for value in headers.get_all(&X_FORWARDED_FOR) {
            for item in value.to_str().unwrap_or("").split(',') {
                match item.trim().parse::<IpAddr>() {
                    Ok(ip) => chain.push(ip.to_canonical()),
                    Err(_) => chain.clear(),
                }
            }
        }
        proto = headers
            .get(&X_FORWARDED_PROTO)
            .and_then(|v| v.to_str().ok())
            .filter(|p| matches!(*p, "http" | "https"))
            .map(str::to_owned);
        fwd_host = headers
            .get(&X_FORWARDED_HOST)
            .and_then(|v| v.to_str().ok())
            .filter(|h| h.parse::<http::uri::Authority>().is_ok())
            .map(str::to_owned);
    }
    chain.push(peer);

    // Right to left, the first hop we do not trust is the client.
    let client = chain
        .iter()
        .rev()
        .find(|ip| !is_trusted(**ip, trusted))
        .or(chain.first())
        .copied()
        .unwrap_or(peer);

    let xff = chain
        .iter()
        .map(IpAddr::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    set(headers, X_FORWARDED_FOR, &xff);
    set(
        headers,
        X_FORWARDED_PROTO,
        proto.as_deref().unwrap_or("https"),
    );
    set(
        headers,
        X_FORWARDED_HOST,
        fwd_host.as_deref().unwrap_or(host),
    );
    set(headers, X_REAL_IP, &client.to_string());
    client
}

fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|net| net.contains(&ip))
}

fn set(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    headers.remove(&name);
    // All values here are IPs, fixed words or an already validated authority.
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spoofed() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(&X_FORWARDED_FOR, HeaderValue::from_static("1.2.3.4"));
        h.insert(&X_FORWARDED_PROTO, HeaderValue::from_static("http"));
        h.insert(&X_FORWARDED_HOST, HeaderValue::from_static("evil.example"));
        h.insert(&X_REAL_IP, HeaderValue::from_static("1.2.3.4"));
        h.insert(FORWARDED, HeaderValue::from_static("for=1.2.3.4"));
        h
    }

    #[test]
    fn the_client_address_is_believed_only_from_trusted_proxies() {
        let lb: IpAddr = "10.0.0.1".parse().unwrap();
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let mut h = HeaderMap::new();
        h.insert(
            &X_FORWARDED_FOR,
            HeaderValue::from_static("1.2.3.4, 5.6.7.8"),
        );
        assert_eq!(
            client_address(&h, lb, &trusted),
            "5.6.7.8".parse::<IpAddr>().unwrap()
        );
        let stranger: IpAddr = "9.9.9.9".parse().unwrap();
        assert_eq!(client_address(&h, stranger, &trusted), stranger);
        h.insert(&X_FORWARDED_FOR, HeaderValue::from_static("1.2.3.4, junk"));
        assert_eq!(client_address(&h, lb, &trusted), lb);
        h.insert(&X_FORWARDED_FOR, HeaderValue::from_static("10.0.0.7"));
        assert_eq!(
            client_address(&h, lb, &trusted),
            "10.0.0.7".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn untrusted_peer_gets_everything_replaced() {
        let mut h = spoofed();
        let client = apply(
            &mut h,
            "198.51.100.7".parse().unwrap(),
            "dnevnik.example",
            &[],
        );
        assert_eq!(client.to_string(), "198.51.100.7");
        assert_eq!(h[&X_FORWARDED_FOR], "198.51.100.7");
        assert_eq!(h[&X_FORWARDED_PROTO], "https");
        assert_eq!(h[&X_FORWARDED_HOST], "dnevnik.example");
        assert_eq!(h[&X_REAL_IP], "198.51.100.7");
        assert!(!h.contains_key(FORWARDED));
    }

    #[test]
    fn trusted_peer_chain_is_appended_and_client_found() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let mut h = spoofed();
        h.insert(
            &X_FORWARDED_FOR,
            HeaderValue::from_static("1.2.3.4, 10.1.1.1"),
        );
        let client = apply(&mut h, "10.0.0.2".parse().unwrap(), "d.example", &trusted);
        assert_eq!(h[&X_FORWARDED_FOR], "1.2.3.4, 10.1.1.1, 10.0.0.2");
        assert_eq!(client.to_string(), "1.2.3.4");
        assert_eq!(h[&X_REAL_IP], "1.2.3.4");
        assert_eq!(h[&X_FORWARDED_PROTO], "http");
        assert_eq!(h[&X_FORWARDED_HOST], "evil.example");
        assert!(!h.contains_key(FORWARDED));
    }

    #[test]
    fn garbage_in_a_trusted_chain_drops_what_is_left_of_it() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let mut h = HeaderMap::new();
        h.insert(
            &X_FORWARDED_FOR,
            HeaderValue::from_static("1.2.3.4, <script>, 5.6.7.8"),
        );
        h.insert(&X_FORWARDED_PROTO, HeaderValue::from_static("gopher"));
        apply(&mut h, "10.0.0.2".parse().unwrap(), "d.example", &trusted);
        assert_eq!(h[&X_FORWARDED_FOR], "5.6.7.8, 10.0.0.2");
        assert_eq!(h[&X_FORWARDED_PROTO], "https");
    }

    proptest::proptest! {
        /// Any client-sent chain from an untrusted peer is replaced by the peer alone;
        /// from a trusted one the result always ends with the peer.
        #[test]
        fn any_chain_is_replaced_or_ends_with_the_peer(xff in "[0-9a-f.:, ]{0,60}") {
            let Ok(value) = HeaderValue::from_str(&xff) else { return Ok(()); };
            let peer: IpAddr = "10.0.0.2".parse().unwrap();
            let mut h = HeaderMap::new();
            h.insert(&X_FORWARDED_FOR, value.clone());
            apply(&mut h, peer, "d.example", &[]);
            proptest::prop_assert_eq!(h[&X_FORWARDED_FOR].to_str().unwrap(), "10.0.0.2");

            let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
            let mut h = HeaderMap::new();
            h.insert(&X_FORWARDED_FOR, value);
            apply(&mut h, peer, "d.example", &trusted);
            let chain = h[&X_FORWARDED_FOR].to_str().unwrap().to_owned();
            proptest::prop_assert!(chain.ends_with("10.0.0.2"), "{}", chain);
            for item in chain.split(", ") {
                proptest::prop_assert!(item.parse::<IpAddr>().is_ok(), "{}", item);
            }
        }
    }

    #[test]
    fn mapped_ipv6_peer_is_shown_as_ipv4() {
        let mut h = HeaderMap::new();
        apply(
            &mut h,
            "::ffff:192.0.2.1".parse().unwrap(),
            "d.example",
            &[],
        );
        assert_eq!(h[&X_FORWARDED_FOR], "192.0.2.1");
    }
}
