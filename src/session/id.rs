//! Session identifiers and other random tokens.
//!
//! A session id is 256 bits from the OS RNG. In the cookie it is `v1.` followed by the
//! 43-character unpadded base64url of those bits; the version prefix lets the format
//! change later without misreading old cookies. The store only ever sees SHA-256 of
//! the id ([`SessionKey`]), so a database leak yields no live cookie.
//!
//! Parsing is strict: a cookie value is attacker-controlled, and anything that is not
//! exactly the canonical form is refused (no padding, no trailing bits, no whitespace).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

use crate::store::SessionKey;

const PREFIX: &str = "v1.";
/// Unpadded base64 of 32 bytes.
const ENCODED_LEN: usize = 43;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionIdError {
    #[error("empty session id")]
    Empty,
    #[error("session id too long")]
    TooLong,
    #[error("unknown session id version")]
    UnknownVersion,
    #[error("session id is not canonical base64url")]
    BadEncoding,
}

/// A session's secret identifier, as carried by the browser.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionId([u8; 32]);

impl SessionId {
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// Parses a cookie value; anything but the canonical `v1.` form is refused.
    pub fn parse(value: &str) -> Result<Self, SessionIdError> {
        if value.is_empty() {
            return Err(SessionIdError::Empty);
        }
        if value.len() > PREFIX.len() + ENCODED_LEN {
            return Err(SessionIdError::TooLong);
        }
        let body = value
            .strip_prefix(PREFIX)
            .ok_or(SessionIdError::UnknownVersion)?;
        if body.len() != ENCODED_LEN {
            return Err(SessionIdError::BadEncoding);
        }
        let mut bytes = [0u8; 32];
        // The strict engine refuses padding and non-zero trailing bits, so every id
        // has exactly one spelling.
        match URL_SAFE_NO_PAD.decode_slice(body, &mut bytes) {
            Ok(32) => Ok(Self(bytes)),
            _ => Err(SessionIdError::BadEncoding),
        }
    }

    /// The cookie value, `v1.<base64url>`.
    pub fn cookie_value(&self) -> String {
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(self.0))
    }

    /// What the store keys the session by.
    pub fn key(&self) -> SessionKey {
        SessionKey(Sha256::digest(self.0).into())
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId(***)")
    }
}

/// A fresh 256-bit random token in base64url, for CSRF tokens and per-flow cookies.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of a token, for storing a binding to a cookie without storing the cookie.
pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Whether `token` hashes to `expected` (a login flow's `cookie_binding`), compared in
/// constant time.
pub fn token_matches_hash(token: &str, expected: &[u8; 32]) -> bool {
    use subtle::ConstantTimeEq;
    bool::from(hash_token(token).ct_eq(expected))
}

/// Constant-time comparison of two tokens (CSRF, flow cookies).
pub fn tokens_equal(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_the_cookie_value() {
        let id = SessionId::generate();
        let v = id.cookie_value();
        assert!(v.starts_with("v1."));
        assert_eq!(v.len(), 46);
        assert_eq!(SessionId::parse(&v), Ok(id.clone()));
        assert_eq!(SessionId::parse(&v).map(|p| p.key()), Ok(id.key()));
    }

    #[test]
    fn two_ids_differ() {
        assert_ne!(SessionId::generate(), SessionId::generate());
    }

    #[test]
    fn refuses_malformed_values() {
        let good = SessionId::generate().cookie_value();
        let body = &good[3..];
        let cases: Vec<(String, SessionIdError)> = vec![
            (String::new(), SessionIdError::Empty),
            (format!("{good}A"), SessionIdError::TooLong),
            ("v1.".repeat(100), SessionIdError::TooLong),
            (format!("v2.{body}"), SessionIdError::UnknownVersion),
            (format!("V1.{body}"), SessionIdError::UnknownVersion),
            (body.to_string(), SessionIdError::UnknownVersion),
            (
                format!(" v1.{}", &body[1..]),
                SessionIdError::UnknownVersion,
            ),
            ("v1.".to_string(), SessionIdError::BadEncoding),
            (format!("v1.{}", &body[1..]), SessionIdError::BadEncoding),
            (format!("v1.{}=", &body[1..]), SessionIdError::BadEncoding),
            (format!("v1.{}+", &body[1..]), SessionIdError::BadEncoding),
            (format!("v1.{}/", &body[1..]), SessionIdError::BadEncoding),
            (format!("v1.{} ", &body[1..]), SessionIdError::BadEncoding),
            (format!("v1.{}%", &body[1..]), SessionIdError::BadEncoding),
            // 43 chars whose last one carries non-zero trailing bits.
            (
                format!("v1.{}B", "A".repeat(42)),
                SessionIdError::BadEncoding,
            ),
            (
                format!("v1.{}", "я".repeat(21)),
                SessionIdError::BadEncoding,
            ),
            (
                format!("v1.{}\u{0}", &body[1..]),
                SessionIdError::BadEncoding,
            ),
        ];
        for (input, want) in cases {
            assert_eq!(SessionId::parse(&input), Err(want), "input {input:?}");
        }
    }

    #[test]
    fn debug_hides_the_id() {
        let id = SessionId::generate();
        assert_eq!(format!("{id:?}"), "SessionId(***)");
        assert!(!format!("{:?}", id.key()).contains(&id.cookie_value()[3..]));
    }

    #[test]
    fn token_comparison() {
        let t = random_token();
        assert!(tokens_equal(&t, &t.clone()));
        assert!(!tokens_equal(&t, &random_token()));
        assert!(!tokens_equal(&t, &t[1..]));
        assert_eq!(hash_token(&t), hash_token(&t));
        assert!(token_matches_hash(&t, &hash_token(&t)));
        assert!(!token_matches_hash(&random_token(), &hash_token(&t)));
        assert!(!token_matches_hash("", &hash_token(&t)));
    }
}
