//! Small HTTP helpers shared by the handlers: strict parameter parsing (a repeated
//! parameter is refused, as ESIA does), bounded body reading, cookies, and the response
//! shapes the mock sends (HTML, JSON, redirects, the ESIA error redirect).

use std::collections::BTreeMap;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};

use super::codes::EsiaError;

pub type Body = Full<Bytes>;
pub type Resp = Response<Body>;

/// Request bodies larger than this are refused (forms and JSON here are tiny).
pub const BODY_LIMIT: usize = 64 * 1024;

/// Name of the mock's SSO session cookie.
pub const SSO_COOKIE: &str = "esia_mock_sso";

/// Decoded `application/x-www-form-urlencoded` parameters, each name at most once.
#[derive(Debug, Clone, Default)]
pub struct Params(BTreeMap<String, String>);

impl Params {
    /// Parses a query string or form body; `Err(name)` names a repeated parameter.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut map = BTreeMap::new();
        for (k, v) in url::form_urlencoded::parse(raw.as_bytes()) {
            if map.insert(k.to_string(), v.to_string()).is_some() {
                return Err(k.to_string());
            }
        }
        Ok(Self(map))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// The value, or ESIA-007014 naming the parameter when it is absent or empty.
    pub fn require(&self, name: &str) -> Result<&str, EsiaError> {
        match self.get(name) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(EsiaError::missing(name)),
        }
    }

    pub fn to_map(&self) -> BTreeMap<String, String> {
        self.0.clone()
    }
}

/// Reads a request body up to [`BODY_LIMIT`]; `None` when it is too big or broken.
pub async fn read_body(body: hyper::body::Incoming) -> Option<Bytes> {
    Limited::new(body, BODY_LIMIT)
        .collect()
        .await
        .ok()
        .map(|c| c.to_bytes())
}

/// The value of one cookie from the request's `Cookie` headers.
pub fn cookie(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

fn build(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Resp {
    let mut resp = Response::new(Full::new(body.into()));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

pub fn html(status: StatusCode, body: String) -> Resp {
    build(status, "text/html; charset=utf-8", body)
}

pub fn json(status: StatusCode, value: &serde_json::Value) -> Resp {
    build(status, "application/json", value.to_string())
}

pub fn text(status: StatusCode, body: &'static str) -> Resp {
    build(status, "text/plain; charset=utf-8", body)
}

pub fn pem(body: String) -> Resp {
    build(StatusCode::OK, "application/x-pem-file", body)
}

/// Broken JSON with a JSON content type, for the malformed-JSON faults.
pub fn malformed_json() -> Resp {
    build(
        StatusCode::OK,
        "application/json",
        "{\"access_token\": \"eyJ\", \"state\": ",
    )
}

/// 302 to `location`. Falls back to an error page if the URL is not a valid header.
pub fn redirect(location: &str) -> Resp {
    match HeaderValue::from_str(location) {
        Ok(v) => {
            let mut resp = build(StatusCode::FOUND, "text/plain; charset=utf-8", "");
            resp.headers_mut().insert(header::LOCATION, v);
            resp
        }
        Err(_) => text(StatusCode::BAD_REQUEST, "invalid redirect target"),
    }
}

/// `redirect_uri` with the given parameters appended to its query.
pub fn with_query(redirect_uri: &str, pairs: &[(&str, &str)]) -> Option<String> {
    let mut url = url::Url::parse(redirect_uri).ok()?;
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
    }
    Some(url.into())
}

/// The ESIA way to refuse in the browser: back to the RP with `error`,
/// `error_description` and `state` (when the request had one).
pub fn error_redirect(redirect_uri: &str, err: &EsiaError, state: Option<&str>) -> Resp {
    let desc = err.description();
    let mut pairs = vec![
        ("error", err.code.oauth_error()),
        ("error_description", &desc),
    ];
    if let Some(s) = state.filter(|s| !s.is_empty()) {
        pairs.push(("state", s));
    }
    match with_query(redirect_uri, &pairs) {
        Some(location) => redirect(&location),
        None => text(StatusCode::BAD_REQUEST, "invalid redirect_uri"),
    }
}

/// /te's refusal: HTTP 400 with `{"error","error_description","state"}`.
pub fn error_json(err: &EsiaError, state: Option<&str>) -> Resp {
    json(
        StatusCode::BAD_REQUEST,
        &serde_json::json!({
            "error": err.code.oauth_error(),
            "error_description": err.description(),
            "state": state.unwrap_or(""),
        }),
    )
}

/// Adds a `Set-Cookie` header; silently skips a value that is not a valid header.
pub fn set_cookie(resp: &mut Resp, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// The SSO cookie: host-only, HTTPS-only, not readable by scripts.
pub fn sso_cookie(id: &str) -> String {
    format!("{SSO_COOKIE}={id}; Path=/; Secure; HttpOnly; SameSite=Lax")
}

pub fn clear_sso_cookie() -> String {
    format!("{SSO_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::standins::esia_mock::codes::Code;

    #[test]
    fn repeated_parameters_are_named() {
        assert_eq!(Params::parse("a=1&b=2&a=3").unwrap_err(), "a");
        let p = Params::parse("a=1&b=&c=%2B0300+x").unwrap();
        assert_eq!(p.get("c"), Some("+0300 x"));
        assert_eq!(p.require("b").unwrap_err().code, Code::E007014);
        assert_eq!(p.require("zz").unwrap_err().detail.as_deref(), Some("zz"));
    }

    #[test]
    fn error_redirect_keeps_existing_query_and_encodes_the_description() {
        let r = error_redirect(
            "https://gw.example/cb?x=1",
            &EsiaError::new(Code::E007004),
            Some("s-1"),
        );
        let loc = r.headers()[header::LOCATION].to_str().unwrap();
        assert!(
            loc.starts_with(
                "https://gw.example/cb?x=1&error=access_denied&error_description=ESIA-007004%3A+"
            ),
            "{loc}"
        );
        assert!(loc.ends_with("&state=s-1"));
    }
}
