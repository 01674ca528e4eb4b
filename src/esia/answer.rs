//! ESIA's JSON answers as they really arrive, made regular before anything parses them.
//!
//! The oauth2 crate reads the /te answer strictly; real ESIA (and the proxies in front of
//! it) deviate in ways that are harmless but would fail every login:
//! - a UTF-8 byte-order mark before the JSON (serde_json refuses it);
//! - `expires_in` as a string (`"3600"`), or as a float / negative number;
//! - an error object (`{"error": …, "error_description": "ESIA-007011: …"}`) with
//!   status 200, which oauth2 would report as "unparseable token response" instead of
//!   the ESIA code the user and operator need.
//!
//! Nothing here loosens a check that matters: tokens are still verified in `verify`, and
//! the state echo in `token`.

use serde_json::{Map, Value};

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// The body without a leading UTF-8 byte-order mark.
pub fn strip_bom(body: &[u8]) -> &[u8] {
    body.strip_prefix(UTF8_BOM).unwrap_or(body)
}

/// Regularises a /te answer; anything that is not a JSON object is left for oauth2 to
/// refuse with its own error.
pub fn normalize_token_answer(resp: http::Response<Vec<u8>>) -> http::Response<Vec<u8>> {
    let (mut parts, body) = resp.into_parts();
    let Ok(Value::Object(mut obj)) = serde_json::from_slice::<Value>(strip_bom(&body)) else {
        let body = strip_bom(&body).to_vec();
        return http::Response::from_parts(parts, body);
    };
    if parts.status.is_success() && is_error_object(&obj) {
        parts.status = http::StatusCode::BAD_REQUEST;
    }
    normalize_expires_in(&mut obj);
    match serde_json::to_vec(&Value::Object(obj)) {
        Ok(body) => http::Response::from_parts(parts, body),
        Err(_) => http::Response::from_parts(parts, body),
    }
}

/// An OAuth error answer: an `error` string and no `access_token`.
fn is_error_object(obj: &Map<String, Value>) -> bool {
    obj.get("error").is_some_and(Value::is_string) && !obj.contains_key("access_token")
}

/// `expires_in` is advisory (the token's own `exp` is what is checked), so a value that
/// is not a plain non-negative integer is turned into one or dropped.
fn normalize_expires_in(obj: &mut Map<String, Value>) {
    let fixed = match obj.get("expires_in") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.is_u64() => return,
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        Some(Value::Number(n)) => n
            .as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0 && *f < 1e15)
            // Truncation of an in-range float is intended: "3600.0" means 3600 seconds.
            .map(|f| f as u64),
        Some(_) => None,
    };
    match fixed {
        Some(secs) => obj.insert("expires_in".into(), Value::from(secs)),
        None => obj.remove("expires_in"),
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn norm(status: u16, body: &[u8]) -> (u16, Value) {
        let resp = http::Response::builder()
            .status(status)
            .body(body.to_vec())
            .unwrap();
        let out = normalize_token_answer(resp);
        let v = serde_json::from_slice(out.body()).unwrap_or(Value::Null);
        (out.status().as_u16(), v)
    }

    #[test]
    fn expires_in_in_every_shape_esia_has_been_seen_to_send() {
        for (given, want) in [
            (json!(3600), Some(json!(3600))),
            (json!("3600"), Some(json!(3600))),
            (json!(" 3600 "), Some(json!(3600))),
            (json!(3600.0), Some(json!(3600))),
            (json!("soon"), None),
            (json!(-1), None),
            (json!(-1.5), None),
            (json!(1e300), None),
            (json!(""), None),
            (json!(null), None),
            (json!(true), None),
            (json!([3600]), None),
            (json!("18446744073709551616"), None),
        ] {
            let body = json!({"access_token": "a", "token_type": "Bearer", "expires_in": given});
            let (_, v) = norm(200, body.to_string().as_bytes());
            assert_eq!(v.get("expires_in"), want.as_ref(), "{given}");
        }
    }

    #[test]
    fn error_objects_with_status_200_become_400() {
        let e = json!({"error": "invalid_grant", "error_description": "ESIA-007011: x"});
        assert_eq!(norm(200, e.to_string().as_bytes()).0, 400);
        assert_eq!(norm(400, e.to_string().as_bytes()).0, 400);
        // A token answer that also mentions `error` is still a token answer.
        let t = json!({"access_token": "a", "token_type": "Bearer", "error": "x"});
        assert_eq!(norm(200, t.to_string().as_bytes()).0, 200);
        // `error` that is not a string is no OAuth error.
        assert_eq!(norm(200, br#"{"error": 5}"#).0, 200);
    }

    #[test]
    fn a_byte_order_mark_is_dropped_and_garbage_left_alone() {
        let (s, v) = norm(200, b"\xEF\xBB\xBF{\"access_token\":\"a\"}");
        assert_eq!((s, v["access_token"].as_str()), (200, Some("a")));
        for garbage in [&b"<html>"[..], b"", b"[1]", b"\xEF\xBB", b"\xEF\xBB\xBF"] {
            let resp = http::Response::builder()
                .status(200)
                .body(garbage.to_vec())
                .unwrap();
            let out = normalize_token_answer(resp);
            assert_eq!(out.status(), 200);
            assert_eq!(out.body().as_slice(), strip_bom(garbage));
        }
    }
}
