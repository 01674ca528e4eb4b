//! The diary's HTTP server: accept loop, graceful shutdown, and the one handler that
//! turns a request into a page. Routing is only [`resolve`]; this file reads bodies
//! (with a size limit), finds the session, and encodes the answer (gzip when asked,
//! windows-1251 for the schedule, no body for HEAD).

use std::convert::Infallible;
use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, COOKIE,
    LOCATION, VARY,
};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::handlers::{self, PageRequest};
use super::login;
use super::modules;
use super::php_query::PhpParams;
use super::quirks::split_target;
use super::routing::resolve_request;
use super::school::{self, Account, Message, Registration};
use super::session::{Sessions, session_id_from_cookies};
use crate::clock::SharedClock;

/// Form bodies larger than this get 413.
pub const MAX_BODY: usize = 64 * 1024;

/// Everything the handler needs, shared by all connections.
#[derive(Debug)]
pub struct State {
    pub gzip: bool,
    /// See [`super::DiaryConfig::strict_login`].
    pub strict_login: bool,
    /// Which diary is played.
    pub mode: super::DiaryMode,
    pub clock: SharedClock,
    pub sessions: Sessions,
    pub accounts: Vec<Account>,
    /// Roles the school changed since start (a parent made a teacher): tests of what
    /// the gateway does when the diary's answer about a user changes.
    pub role_changes: Mutex<Vec<(&'static str, school::Role)>>,
    pub messages: Mutex<Vec<Message>>,
    pub registrations: Mutex<Vec<Registration>>,
}

impl State {
    pub fn new(
        gzip: bool,
        strict_login: bool,
        clock: SharedClock,
        session_idle: Duration,
        mode: super::DiaryMode,
    ) -> Self {
        Self {
            gzip,
            strict_login,
            mode,
            sessions: Sessions::new(clock.clone(), session_idle),
            clock,
            accounts: school::accounts(),
            role_changes: Mutex::new(Vec::new()),
            messages: Mutex::new(school::seed_messages()),
            registrations: Mutex::new(Vec::new()),
        }
    }

    /// The account as the school has it now (a changed role applied).
    pub fn account(&self, login: &str) -> Option<Account> {
        let mut account = self.accounts.iter().find(|a| a.login == login)?.clone();
        if let Ok(changes) = self.role_changes.lock()
            && let Some((_, role)) = changes.iter().rev().find(|(l, _)| *l == account.login)
        {
            account.role = *role;
        }
        Some(account)
    }
}

/// What a handler answers, before encoding.
#[derive(Debug)]
pub enum Body {
    Html { html: String, windows_1251: bool },
    Json(serde_json::Value),
    Empty,
}

#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Body,
}

impl Reply {
    pub fn html(status: StatusCode, html: String) -> Self {
        Self {
            status,
            headers: HeaderMap::new(),
            body: Body::Html {
                html,
                windows_1251: false,
            },
        }
    }

    pub fn redirect(status: StatusCode, location: &str) -> Self {
        let mut headers = HeaderMap::new();
        let value = HeaderValue::from_str(location).unwrap_or(HeaderValue::from_static("/"));
        headers.insert(LOCATION, value);
        Self {
            status,
            headers,
            body: Body::Empty,
        }
    }
}

/// Accepts connections until `stop` flips, then lets open ones finish (5 s at most).
pub async fn serve(listener: TcpListener, state: Arc<State>, mut stop: watch::Receiver<bool>) {
    let graceful = GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(err) => {
                        // Out of file descriptors and the like: wait instead of spinning.
                        tracing::warn!(%err, "demo diary: accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let state = state.clone();
                let service = service_fn(move |req| handle(state.clone(), req));
                let conn = builder.serve_connection(TokioIo::new(stream), service).into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            _ = stop.changed() => break,
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
}

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let head = req.method() == Method::HEAD;
    let accepts_gzip = state.gzip && accepts_gzip(req.headers());
    let reply = answer(&state, req).await;
    Ok(encode(reply, accepts_gzip, head))
}

async fn answer(state: &State, req: Request<Incoming>) -> Reply {
    let (parts, body) = req.into_parts();
    // What PHP sees as REQUEST_URI: the origin-form target (HTTP/2 gives absolute URIs).
    let target = match (parts.uri.scheme(), parts.uri.path_and_query()) {
        (Some(_), Some(pq)) => pq.as_str().to_owned(),
        (Some(_), None) => "/".to_owned(),
        (None, _) => parts.uri.to_string(),
    };
    // Every POST body is read, as PHP fills $_POST before the script runs: the page a
    // script serves may come from it ($_REQUEST, quirk 25).
    let body = if parts.method == Method::POST {
        match read_body(&parts.headers, body).await {
            Ok(bytes) => bytes,
            Err(reply) => return reply,
        }
    } else {
        Bytes::new()
    };
    let form = super::parse_form(
        parts.headers.get(CONTENT_TYPE).map(HeaderValue::as_bytes),
        &body,
    );
    let cookies = parts
        .headers
        .get(COOKIE)
        .map(|c| PhpParams::parse_cookies(c.as_bytes()));
    let session_id = session_id_from_cookies(
        parts
            .headers
            .get_all(COOKIE)
            .iter()
            .map(HeaderValue::as_bytes),
    );
    let live = session_id
        .as_deref()
        .and_then(|id| state.sessions.touch(id));
    let account = live
        .as_ref()
        .and_then(|l| l.login.as_deref())
        .and_then(|login| state.account(login));
    if state.mode == super::DiaryMode::Modules {
        let query = split_target(target.as_bytes()).map(|(_, q)| PhpParams::parse(q));
        let route = modules::resolve_modules(
            parts.method.as_str(),
            target.as_bytes(),
            Some(&form),
            cookies.as_ref(),
        );
        return modules::answer(
            state,
            &modules::ModRequest {
                route,
                form: &form,
                session_id: session_id.as_deref(),
                live: live.as_ref(),
                account: account.as_ref(),
                logout_token: query.as_ref().and_then(|q| q.scalar("token")),
            },
        );
    }
    let route = resolve_request(
        parts.method.as_str(),
        target.as_bytes(),
        Some(&form),
        cookies.as_ref(),
    );
    if route.needs_session() && account.is_none() {
        return Reply::redirect(StatusCode::FOUND, &login::login_redirect(&target));
    }
    let incoming = PageRequest {
        route,
        target: &target,
        content_type: parts.headers.get(CONTENT_TYPE).map(HeaderValue::as_bytes),
        body: &body,
        session_id: session_id.as_deref(),
        live: live.as_ref(),
        account: account.as_ref(),
    };
    handlers::dispatch(state, &incoming)
}

async fn read_body(headers: &HeaderMap, body: Incoming) -> Result<Bytes, Reply> {
    let too_large = || {
        Reply::html(
            StatusCode::PAYLOAD_TOO_LARGE,
            handlers::simple_page(
                "Слишком большой запрос",
                "Размер формы превышает допустимый.",
                None,
            ),
        )
    };
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_BODY as u64) {
        return Err(too_large());
    }
    match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(_) => Err(Reply::html(
            StatusCode::BAD_REQUEST,
            handlers::simple_page("Ошибка запроса", "Не удалось прочитать форму.", None),
        )),
    }
}

/// `Accept-Encoding` names gzip (or `*`) with a non-zero q.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or_default().trim();
            let zero_q = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !zero_q
        })
}

fn encode(reply: Reply, accepts_gzip: bool, head: bool) -> Response<Full<Bytes>> {
    let Reply {
        status,
        mut headers,
        body,
    } = reply;
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let bytes: Vec<u8> = match body {
        Body::Html { html, windows_1251 } => {
            let bytes = if windows_1251 {
                headers.insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=windows-1251"),
                );
                encoding_rs::WINDOWS_1251.encode(&html).0.into_owned()
            } else {
                headers.insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                );
                html.into_bytes()
            };
            headers.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
            match gzip(&bytes).filter(|_| accepts_gzip) {
                Some(zipped) => {
                    headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                    zipped
                }
                None => bytes,
            }
        }
        Body::Json(value) => {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            serde_json::to_vec(&value).unwrap_or_default()
        }
        Body::Empty => Vec::new(),
    };
    headers.insert(CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    let mut response = Response::new(Full::new(if head {
        Bytes::new()
    } else {
        Bytes::from(bytes)
    }));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

fn gzip(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).ok()?;
    encoder.finish().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_acceptance_follows_q_values() {
        let h = |v: &'static str| {
            let mut m = HeaderMap::new();
            m.insert(ACCEPT_ENCODING, HeaderValue::from_static(v));
            m
        };
        assert!(accepts_gzip(&h("gzip, deflate, br")));
        assert!(accepts_gzip(&h("br;q=1, GZIP;q=0.5")));
        assert!(accepts_gzip(&h("*")));
        assert!(!accepts_gzip(&h("gzip;q=0")));
        assert!(!accepts_gzip(&h("identity")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
