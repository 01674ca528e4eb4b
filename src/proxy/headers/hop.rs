//! Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection, so a proxy must
//! not forward them. That is the fixed list below plus every name the sender listed in
//! `Connection`. `Proxy-Connection` and `Keep-Alive` are pre-standard but still sent.
//!
//! A websocket handshake is the one exception: `Upgrade: websocket` with
//! `Connection: upgrade` is re-added so the upgrade can cross the proxy (RFC 9110 §7.8).

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// Always connection-specific (RFC 9110 §7.6.1, RFC 9112 §6.1 for Transfer-Encoding).
const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "proxy-connection",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Removes hop-by-hop headers; with `websocket`, re-adds `Upgrade: websocket` and
/// `Connection: upgrade`.
pub fn remove_hop_by_hop(headers: &mut HeaderMap, websocket: bool) {
    // Names listed in Connection, e.g. `Connection: close, X-Secret` (RFC 9110 §7.6.1).
    let listed: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in listed {
        headers.remove(name);
    }
    remove_fixed_hop_by_hop(headers, websocket);
}

/// Removes only the fixed hop-by-hop list (RFC 9110 §7.6.1), not the names a
/// `Connection` header lists: for a request whose client-listed names were already
/// removed at ingress, before the gateway added its own headers.
pub fn remove_fixed_hop_by_hop(headers: &mut HeaderMap, websocket: bool) {
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    if websocket {
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    }
}

/// Is this a websocket handshake (RFC 6455 §4.1): `Upgrade` names websocket and
/// `Connection` lists `upgrade`?
pub fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    let upgrade = headers
        .get_all(header::UPGRADE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case("websocket"));
    let connection = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    upgrade && connection
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn removes_fixed_list_and_names_listed_in_connection() {
        let mut h = map(&[
            ("connection", "close, X-Internal-Token"),
            ("connection", "x-other"),
            ("x-internal-token", "secret"),
            ("x-other", "1"),
            ("keep-alive", "timeout=5"),
            ("proxy-connection", "keep-alive"),
            ("te", "trailers"),
            ("trailer", "x-checksum"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "h2c"),
            ("accept", "text/html"),
        ]);
        remove_hop_by_hop(&mut h, false);
        assert_eq!(h.len(), 1, "{h:?}");
        assert!(h.contains_key("accept"));
    }

    #[test]
    fn keeps_only_a_clean_websocket_upgrade() {
        let mut h = map(&[
            ("connection", "keep-alive, Upgrade, x-drop"),
            ("upgrade", "websocket"),
            ("x-drop", "1"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ]);
        assert!(is_websocket_upgrade(&h));
        remove_hop_by_hop(&mut h, true);
        assert_eq!(h["upgrade"], "websocket");
        assert_eq!(h["connection"], "upgrade");
        assert!(!h.contains_key("x-drop"));
        assert!(h.contains_key("sec-websocket-key"));
    }

    #[test]
    fn upgrade_without_connection_token_is_not_websocket() {
        assert!(!is_websocket_upgrade(&map(&[("upgrade", "websocket")])));
        assert!(!is_websocket_upgrade(&map(&[
            ("upgrade", "h2c"),
            ("connection", "upgrade")
        ])));
    }
}
