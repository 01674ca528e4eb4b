//! The signed pieces of ESIA's requests: the timestamp, the exact strings that
//! `client_secret` signs, the authorization URL and the logout URL. Pure functions with
//! time passed in, so tests pin every byte.
//!
//! Strings to sign (UTF-8, no separators):
//! - v2/ac: `client_id + scope + scope_org + timestamp + state + redirect_uri`
//! - v3/te: the same `+ code`, with the /te request's own fresh `state`.

use base64::Engine;
use chrono::{DateTime, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};
use url::Url;
use uuid::Uuid;

use super::config::EsiaConfig;

/// Everything but RFC 3986 unreserved characters is encoded; spaces become `%20`.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `yyyy.MM.dd HH:mm:ss Z` in Moscow time, e.g. `2019.01.14 09:30:00 +0300`.
pub fn timestamp(now: DateTime<Utc>) -> String {
    now.with_timezone(&chrono_tz::Europe::Moscow)
        .format("%Y.%m.%d %H:%M:%S %z")
        .to_string()
}

/// The v2/ac string to sign.
pub fn ac_string(cfg: &EsiaConfig, state: &Uuid, timestamp: &str) -> String {
    format!(
        "{}{}{}{}{}{}",
        cfg.client_id,
        cfg.scope,
        cfg.scope_org,
        timestamp,
        state,
        cfg.redirect_uri.as_str()
    )
}

/// The v3/te string to sign: the /ac string (with the fresh state) plus the code.
pub fn te_string(cfg: &EsiaConfig, state: &Uuid, timestamp: &str, code: &str) -> String {
    let mut s = ac_string(cfg, state, timestamp);
    s.push_str(code);
    s
}

/// Signature bytes as ESIA wants them: base64url without padding.
pub fn encode_secret(signature: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signature)
}

/// `client_certificate_hash`: lowercase hex of Streebog-256 over the certificate's DER.
pub fn certificate_hash(cert_der: &[u8]) -> String {
    use streebog::Digest;
    hex::encode(streebog::Streebog256::digest(cert_der))
}

fn push_pair(query: &mut String, name: &str, value: &str) {
    if !query.is_empty() {
        query.push('&');
    }
    query.push_str(name);
    query.push('=');
    query.extend(percent_encoding::utf8_percent_encode(value, QUERY_VALUE));
}

/// The browser redirect to ESIA's authorization endpoint, every parameter included.
pub fn authorization_url(
    cfg: &EsiaConfig,
    state: &Uuid,
    timestamp: &str,
    client_secret: &str,
) -> Url {
    let mut url = cfg.ac_url.clone();
    let mut q = String::new();
    let state = state.to_string();
    for (k, v) in [
        ("client_id", cfg.client_id.as_str()),
        ("client_secret", client_secret),
        ("client_certificate_hash", cfg.certificate_hash.as_str()),
        ("redirect_uri", cfg.redirect_uri.as_str()),
        ("scope", cfg.scope.as_str()),
        ("scope_org", cfg.scope_org.as_str()),
        ("response_type", "code"),
        ("state", state.as_str()),
        ("timestamp", timestamp),
        ("access_type", cfg.access_type.as_str()),
    ] {
        push_pair(&mut q, k, v);
    }
    url.set_query(Some(&q));
    url
}

/// ESIA's single logout: `client_id` and `redirect_url` (not `redirect_uri`), unsigned.
pub fn logout_url(cfg: &EsiaConfig, redirect_url: &Url) -> Url {
    let mut url = cfg.logout_url.clone();
    let mut q = String::new();
    push_pair(&mut q, "client_id", &cfg.client_id);
    push_pair(&mut q, "redirect_url", redirect_url.as_str());
    url.set_query(Some(&q));
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_is_moscow_time() {
        let now = DateTime::parse_from_rfc3339("2019-01-14T06:30:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(timestamp(now), "2019.01.14 09:30:00 +0300");
        // Before 2011 Moscow had DST; the zone database, not a fixed +3, decides.
        let summer = DateTime::parse_from_rfc3339("2010-07-01T00:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(timestamp(summer), "2010.07.01 04:00:00 +0400");
    }

    #[test]
    fn secret_is_unpadded_base64url() {
        assert_eq!(encode_secret(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn streebog_of_empty_input_matches_the_standard() {
        // GOST R 34.11-2012 256-bit hash of the empty message.
        assert_eq!(
            certificate_hash(b""),
            "3f539a213e97c802cc229d474c6aa32a825a360b2a933a949fd925208d9ce1bb"
        );
    }
}
