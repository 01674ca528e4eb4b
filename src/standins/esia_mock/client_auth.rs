//! The checks /ac and /te share, in ESIA's order after the client and redirect_uri are
//! known: parameter values, certificate hash (007005), timestamp window (007015), then
//! the signature over the exact string (007053).

use chrono::{DateTime, FixedOffset};

use super::codes::{Code, EsiaError};
use super::respond::Params;
use super::signature::Refusal;
use super::state::{Client, Shared};

/// `yyyy.MM.dd HH:mm:ss Z`, e.g. `2019.01.14 09:30:00 +0300`.
const TIMESTAMP_FORMAT: &str = "%Y.%m.%d %H:%M:%S %z";
const TIMESTAMP_LEN: usize = "2019.01.14 09:30:00 +0300".len();

/// Parses ESIA's request timestamp strictly (exact length, numeric zone without colon).
pub fn parse_timestamp(ts: &str) -> Option<DateTime<FixedOffset>> {
    if ts.len() != TIMESTAMP_LEN {
        return None;
    }
    DateTime::parse_from_str(ts, TIMESTAMP_FORMAT).ok()
}

/// `state` must be a UUID, as ESIA requires.
pub fn check_state(state: &str) -> Result<(), EsiaError> {
    uuid::Uuid::try_parse(state)
        .map(|_| ())
        .map_err(|_| EsiaError::invalid("state"))
}

/// The scope's words; `openid` must be among them (ESIA-007006 otherwise).
pub fn scopes(scope: &str) -> Result<Vec<String>, EsiaError> {
    let words: Vec<String> = scope
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(String::from)
        .collect();
    if words.iter().any(|w| w == "openid") {
        Ok(words)
    } else {
        Err(EsiaError::with(Code::E007006, "openid"))
    }
}

/// Hash → key, timestamp, signature over `message`; `params` hold the request's values.
pub async fn authenticate(
    shared: &Shared,
    client: &Client,
    params: &Params,
    message: &str,
) -> Result<(), EsiaError> {
    let hash = params.require("client_certificate_hash")?;
    let key = client
        .key_for_hash(hash)
        .ok_or_else(|| EsiaError::new(Code::E007005))?;
    let ts = params.require("timestamp")?;
    let when = parse_timestamp(ts).ok_or_else(|| EsiaError::with(Code::E007015, "format"))?;
    let skew = (shared.now() - when.to_utc()).num_seconds().abs();
    if skew > shared.timestamp_window_secs {
        return Err(EsiaError::with(Code::E007015, "window"));
    }
    let secret = params.require("client_secret")?;
    match shared.verifier.verify(&key.key, message, secret).await {
        Ok(()) => Ok(()),
        Err(refusal) => {
            if let Refusal::VerifierFailed(why) = &refusal {
                tracing::error!(client_id = %client.reg.client_id, %why, "ESIA mock cannot verify a GOST signature");
            } else {
                tracing::info!(client_id = %client.reg.client_id, ?refusal, "client_secret refused");
            }
            Err(EsiaError::new(Code::E007053))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_only_in_esia_format() {
        let t = parse_timestamp("2019.01.14 09:30:00 +0300").unwrap();
        assert_eq!(t.to_utc().to_rfc3339(), "2019-01-14T06:30:00+00:00");
        for bad in [
            "",
            "2019-01-14 09:30:00 +0300",
            "2019.01.14 09:30:00  0300",
            "2019.01.14 09:30:00 +03:00",
            "2019.01.14T09:30:00 +0300",
            "2019.13.14 09:30:00 +0300",
            "2019.01.14 09:30:00",
            "1547447400",
        ] {
            assert!(parse_timestamp(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn state_must_be_a_uuid_and_scope_must_have_openid() {
        check_state("48d1a8dc-0b7d-418a-b4ef-2c7797f77dc9").unwrap();
        assert_eq!(check_state("abc").unwrap_err().code, Code::E007003);
        assert_eq!(
            scopes("openid  fullname").unwrap(),
            vec!["openid", "fullname"]
        );
        assert_eq!(scopes("fullname").unwrap_err().code, Code::E007006);
    }
}
