//! Which handler answers which request, and the test-control API (`/mock/faults`,
//! `/mock/state`), which exists only when the config says `control_api = true`.

use std::convert::Infallible;

use http::{Method, Request, StatusCode};
use hyper::body::Incoming;
use serde_json::json;

use super::faults::Faults;
use super::respond::{self, Resp, read_body, text};
use super::state::Shared;
use super::{authorize, logout, person, token};

pub const AC_PATH: &str = "/aas/oauth2/v2/ac";
pub const LOGIN_PATH: &str = "/aas/oauth2/v2/ac/login";
pub const TE_PATH: &str = "/aas/oauth2/v3/te";
pub const LOGOUT_PATH: &str = "/idp/ext/Logout";
pub const TOKEN_CERT_PATH: &str = "/mock/token-signing-cert.pem";

pub async fn handle(shared: &Shared, req: Request<Incoming>) -> Result<Resp, Infallible> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path();
    let query = parts.uri.query().unwrap_or_default();
    let resp = match (&parts.method, path) {
        (&Method::GET, AC_PATH) => authorize::authorize(shared, query, &parts.headers).await,
        (&Method::POST, LOGIN_PATH) => authorize::login(shared, read_body(body).await).await,
        (&Method::POST, TE_PATH) => token::exchange(shared, read_body(body).await).await,
        (&Method::GET, LOGOUT_PATH) => logout::logout(shared, query, &parts.headers),
        (&Method::GET, TOKEN_CERT_PATH) => respond::pem(shared.keys.cert_pem().to_string()),
        (&Method::GET, p) if p.starts_with("/rs/prns/") => {
            person::serve(shared, p, query, &parts.headers).await
        }
        (&Method::POST, "/mock/faults") if shared.control_api => {
            set_faults(shared, read_body(body).await)
        }
        (&Method::GET, "/mock/state") if shared.control_api => {
            match serde_json::to_value(shared.snapshot()) {
                Ok(v) => respond::json(StatusCode::OK, &v),
                Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "state"),
            }
        }
        (_, AC_PATH | LOGIN_PATH | TE_PATH | LOGOUT_PATH | TOKEN_CERT_PATH) => {
            text(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
        }
        _ => text(StatusCode::NOT_FOUND, "Not Found"),
    };
    Ok(resp)
}

fn set_faults(shared: &Shared, body: Option<bytes::Bytes>) -> Resp {
    let Some(body) = body else {
        return text(StatusCode::PAYLOAD_TOO_LARGE, "body too large");
    };
    match serde_json::from_slice::<Faults>(&body) {
        Ok(f) => {
            *shared.faults() = f;
            respond::json(StatusCode::OK, &json!({"ok": true}))
        }
        Err(e) => respond::json(StatusCode::BAD_REQUEST, &json!({"error": e.to_string()})),
    }
}
