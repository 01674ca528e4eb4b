//! Handler tests with an in-memory backend and a scripted identity provider; the real
//! round trip over TLS against the ESIA mock is in `tests/login_flow.rs`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use url::Url;
use uuid::Uuid;

use super::ports::*;
use super::*;
use crate::clock::SystemClock;

#[derive(Default)]
struct MemBackend {
    flows: Mutex<HashMap<Uuid, PendingFlow>>,
    sessions: Mutex<HashMap<String, ActiveSession>>,
    next: Mutex<u32>,
    /// Session lookups asked of the backend.
    resolves: std::sync::atomic::AtomicUsize,
}

impl SessionBackend for MemBackend {
    fn put_flow<'a>(&'a self, flow: &'a PendingFlow) -> BoxFuture<'a, Result<(), BackendError>> {
        self.flows.lock().unwrap().insert(flow.state, flow.clone());
        Box::pin(async { Ok(()) })
    }
    fn take_flow(
        &self,
        state: Uuid,
        cookie_binding: [u8; 32],
    ) -> BoxFuture<'_, Result<Option<PendingFlow>, BackendError>> {
        let mut flows = self.flows.lock().unwrap();
        let f = match flows.get(&state) {
            Some(f) if f.cookie_binding == cookie_binding => flows.remove(&state),
            _ => None,
        };
        Box::pin(async move { Ok(f) })
    }
    fn create_session<'a>(
        &'a self,
        new: NewSession,
        previous: &'a [String],
    ) -> BoxFuture<'a, Result<CreatedSession, BackendError>> {
        let mut sessions = self.sessions.lock().unwrap();
        for p in previous {
            sessions.remove(p);
        }
        let mut n = self.next.lock().unwrap();
        *n += 1;
        let session = ActiveSession {
            cookie: format!("v1.s{n}"),
            auth_method: "esia",
            authenticated_at: new.authenticated_at,
            esia_oid: Some(new.identity.oid),
            account_level: Some(new.identity.level),
            diary_login: None,
            diary_role: None,
            public_computer: new.public_computer,
            csrf_token: format!("csrf{n}"),
            diary_accounts: 1,
        };
        sessions.insert(session.cookie.clone(), session.clone());
        let max_age = (!new.public_computer).then_some(Duration::from_secs(3600));
        Box::pin(async move {
            Ok(CreatedSession {
                session,
                cookie_max_age: max_age,
            })
        })
    }
    fn resolve<'a>(
        &'a self,
        cookie: &'a str,
    ) -> BoxFuture<'a, Result<Option<ActiveSession>, BackendError>> {
        self.resolves
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let s = self.sessions.lock().unwrap().get(cookie).cloned();
        Box::pin(async move { Ok(s) })
    }
    fn end<'a>(&'a self, cookie: &'a str) -> BoxFuture<'a, Result<(), BackendError>> {
        self.sessions.lock().unwrap().remove(cookie);
        Box::pin(async { Ok(()) })
    }
}

struct FakeEsia;

impl IdentityProvider for FakeEsia {
    fn authorization_url(&self, state: Uuid) -> BoxFuture<'_, Result<Url, IdpFailure>> {
        Box::pin(
            async move { Ok(Url::parse(&format!("https://esia.test/ac?state={state}")).unwrap()) },
        )
    }
    fn complete<'a>(&'a self, code: &'a str) -> BoxFuture<'a, Result<EsiaIdentity, IdpFailure>> {
        Box::pin(async move {
            match code {
                "slow" => Err(failure(StatusCode::GATEWAY_TIMEOUT, None)),
                _ => Ok(EsiaIdentity {
                    oid: 1000299681,
                    level: "confirmed".into(),
                    person: None,
                }),
            }
        })
    }
    fn callback_error(&self, _error: &str, description: &str) -> IdpFailure {
        failure(
            StatusCode::FORBIDDEN,
            Some(description.get(..11).unwrap_or("").to_owned()),
        )
    }
    fn logout_url(&self, redirect_url: &Url) -> Option<Url> {
        let mut u = Url::parse("https://esia.test/idp/ext/Logout").unwrap();
        u.query_pairs_mut()
            .append_pair("client_id", "RID")
            .append_pair("redirect_url", redirect_url.as_str());
        Some(u)
    }
}

fn failure(status: StatusCode, code: Option<String>) -> IdpFailure {
    IdpFailure {
        status,
        kind: "esia-test",
        code,
        user_message: "Госуслуги отказали".into(),
        operator_hint: "test".into(),
        detail: "test".into(),
    }
}

fn login(backend: Arc<MemBackend>) -> Login {
    let settings = LoginSettings {
        public_url: Some(Url::parse("https://dnevnik.test").unwrap()),
        ..LoginSettings::default()
    };
    Login::new(settings, Arc::new(FakeEsia), backend, Arc::new(SystemClock)).unwrap()
}

fn get(uri: &str, cookies: &[String]) -> Request<Full<Bytes>> {
    let mut b = Request::builder().method(Method::GET).uri(uri);
    if !cookies.is_empty() {
        b = b.header(header::COOKIE, cookies.join("; "));
    }
    b.body(Full::new(Bytes::new())).unwrap()
}

fn set_cookies(resp: &pages::PageResponse) -> Vec<String> {
    resp.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// `name=value` of the first Set-Cookie whose name starts with `prefix`.
fn pair(resp: &pages::PageResponse, prefix: &str) -> String {
    set_cookies(resp)
        .into_iter()
        .find(|c| c.starts_with(prefix))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

async fn begin(l: &Login, uri: &str) -> (String, String) {
    let resp = l.handle(get(uri, &[])).await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    let loc = resp.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    let state = loc.split("state=").nth(1).unwrap().to_owned();
    (state, pair(&resp, cookies::FLOW_COOKIE_PREFIX))
}

#[tokio::test]
async fn full_round_trip_rotates_the_session_and_returns() {
    let backend = Arc::new(MemBackend::default());
    let l = login(backend.clone());
    let (state, flow) = begin(&l, "/esia/login?return=%2Fmarks").await;
    assert!(flow.starts_with(cookies::FLOW_COOKIE_PREFIX));
    let planted = "__Host-esia-gw=v1.planted".to_owned();
    backend
        .sessions
        .lock()
        .unwrap()
        .insert("v1.planted".into(), {
            let mut s = backend_session();
            s.cookie = "v1.planted".into();
            s
        });
    let resp = l
        .handle(get(
            &format!("/esia/callback?code=c&state={state}"),
            &[flow, planted],
        ))
        .await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert_eq!(resp.headers()[header::LOCATION], "/marks");
    let sc = set_cookies(&resp);
    assert!(sc.iter().any(|c| {
        c.starts_with("__Host-esia-gw=v1.s1; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=")
    }));
    assert!(
        sc.iter()
            .any(|c| c.starts_with(cookies::FLOW_COOKIE_PREFIX) && c.ends_with("Max-Age=0"))
    );
    assert!(!backend.sessions.lock().unwrap().contains_key("v1.planted"));
}

fn backend_session() -> ActiveSession {
    ActiveSession {
        cookie: String::new(),
        auth_method: "esia",
        authenticated_at: chrono::Utc::now(),
        esia_oid: Some(1),
        account_level: None,
        diary_login: None,
        diary_role: None,
        public_computer: false,
        csrf_token: "tok".into(),
        diary_accounts: 1,
    }
}

#[tokio::test]
async fn public_computer_gets_a_browser_session_cookie() {
    let l = login(Arc::new(MemBackend::default()));
    let (state, flow) = begin(&l, "/esia/login?return=/&public=1").await;
    let resp = l
        .handle(get(
            &format!("/esia/callback?code=c&state={state}"),
            &[flow],
        ))
        .await;
    let session = set_cookies(&resp)
        .into_iter()
        .find(|c| c.starts_with("__Host-esia-gw"))
        .unwrap();
    assert!(
        !session.contains("Max-Age") && !session.contains("Expires"),
        "{session}"
    );
}

#[tokio::test]
async fn replayed_forged_and_cookieless_callbacks_are_refused() {
    let backend = Arc::new(MemBackend::default());
    let l = login(backend.clone());
    let (state, flow) = begin(&l, "/esia/login").await;
    let uri = format!("/esia/callback?code=c&state={state}");
    // No cookie: another browser holding the leaked URL.
    assert_eq!(
        l.handle(get(&uri, &[])).await.status(),
        StatusCode::BAD_REQUEST
    );
    // Forged state with a real cookie.
    let forged = format!("/esia/callback?code=c&state={}", Uuid::new_v4());
    assert_eq!(
        l.handle(get(&forged, std::slice::from_ref(&flow)))
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
    // Wrong secret in the cookie.
    let (name, _) = flow.split_once('=').unwrap();
    let tampered = format!("{name}={state}.AAAA");
    let (state2, flow2) = begin(&l, "/esia/login").await;
    let _ = flow2;
    let resp = l.handle(get(&uri, &[tampered])).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // Someone who saw `state` cannot cancel the login: the tampered attempt left the
    // flow for its browser, which completes it — once.
    assert_eq!(
        l.handle(get(&uri, std::slice::from_ref(&flow)))
            .await
            .status(),
        StatusCode::FOUND
    );
    assert_eq!(
        l.handle(get(&uri, &[flow])).await.status(),
        StatusCode::BAD_REQUEST
    );
    // Duplicate or broken state parameters.
    for bad in [
        format!("/esia/callback?code=c&state={state2}&state={state2}"),
        "/esia/callback?code=c&state=not-a-uuid".to_owned(),
        "/esia/callback?code=c".to_owned(),
    ] {
        assert_eq!(
            l.handle(get(&bad, &[])).await.status(),
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    // Only the rightful browser's callback made a session.
    assert_eq!(backend.sessions.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn esia_errors_and_timeouts_become_pages_without_a_session() {
    let backend = Arc::new(MemBackend::default());
    let l = login(backend.clone());
    let (state, flow) = begin(&l, "/esia/login").await;
    let uri = format!(
        "/esia/callback?error=access_denied&error_description=ESIA-007004%3A+declined&state={state}"
    );
    let resp = l.handle(get(&uri, &[flow])).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("ESIA-007004"));

    // Issue 15: in English, a user who declined is told so, not that ESIA was down.
    let settings = LoginSettings {
        language: crate::language::Language::En,
        ..LoginSettings::default()
    };
    let en = Login::new(
        settings,
        Arc::new(FakeEsia),
        backend.clone(),
        Arc::new(SystemClock),
    )
    .unwrap();
    let (state, flow) = begin(&en, "/esia/login").await;
    let uri = format!(
        "/esia/callback?error=access_denied&error_description=ESIA-007004%3A+declined&state={state}"
    );
    let body = en
        .handle(get(&uri, &[flow]))
        .await
        .into_body()
        .collect()
        .await
        .unwrap();
    let page = String::from_utf8_lossy(&body.to_bytes()).into_owned();
    assert!(page.contains("You declined the access request"), "{page}");
    assert!(!page.contains("could not be reached"), "{page}");

    let (state, flow) = begin(&l, "/esia/login").await;
    let resp = l
        .handle(get(
            &format!("/esia/callback?code=slow&state={state}"),
            &[flow],
        ))
        .await;
    assert_eq!(resp.status(), StatusCode::GATEWAY_TIMEOUT);
    assert!(backend.sessions.lock().unwrap().is_empty());
}

#[tokio::test]
async fn logout_needs_post_and_the_csrf_token() {
    let backend = Arc::new(MemBackend::default());
    let l = login(backend.clone());
    let (state, flow) = begin(&l, "/esia/login").await;
    let resp = l
        .handle(get(
            &format!("/esia/callback?code=c&state={state}"),
            &[flow],
        ))
        .await;
    let session = pair(&resp, "__Host-esia-gw");

    let resp = l
        .handle(get("/esia/logout", std::slice::from_ref(&session)))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        backend.sessions.lock().unwrap().len(),
        1,
        "GET never logs out"
    );

    let post = |body: &'static str| {
        Request::builder()
            .method(Method::POST)
            .uri("/esia/logout")
            .header(header::COOKIE, session.clone())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .unwrap()
    };
    for bad in [
        "",
        "csrf=",
        "csrf=csrf",
        "csrf=csrf2",
        "csrf=csrf1&csrf=csrf1",
    ] {
        assert_eq!(
            l.handle(post(bad)).await.status(),
            StatusCode::FORBIDDEN,
            "{bad}"
        );
    }
    assert_eq!(backend.sessions.lock().unwrap().len(), 1);
    let resp = l.handle(post("csrf=csrf1")).await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    let loc = resp.headers()[header::LOCATION].to_str().unwrap();
    assert!(loc.starts_with("https://esia.test/idp/ext/Logout?client_id=RID&redirect_url=https%3A%2F%2Fdnevnik.test%2Fesia%2Fstart"), "{loc}");
    assert!(
        set_cookies(&resp)
            .iter()
            .any(|c| c.starts_with("__Host-esia-gw=;") && c.ends_with("Max-Age=0"))
    );
    assert!(backend.sessions.lock().unwrap().is_empty());
}

#[tokio::test]
async fn front_answers_reserved_paths_and_strips_cookies_elsewhere() {
    let backend = Arc::new(MemBackend::default());
    let l = login(backend.clone());
    let (state, flow) = begin(&l, "/esia/login").await;
    let resp = l
        .handle(get(
            &format!("/esia/callback?code=c&state={state}"),
            &[flow],
        ))
        .await;
    let session = pair(&resp, "__Host-esia-gw");

    match l.front(get("/esia/start", &[])).await {
        Front::Answered(resp) => assert_eq!(resp.status(), StatusCode::OK),
        Front::Proxy { .. } => panic!("reserved path proxied"),
    }
    let req = get(
        "/marks",
        &[session, "RIDSESSID=abc".into(), "__Host-gw_flow_x=1".into()],
    );
    match l.front(req).await {
        Front::Proxy { request, session } => {
            assert_eq!(session.unwrap().esia_oid, Some(1000299681));
            assert_eq!(request.headers()[header::COOKIE], "RIDSESSID=abc");
        }
        Front::Answered(_) => panic!("diary path answered"),
    }
    match l.front(get("/esia/nope", &[])).await {
        Front::Answered(resp) => assert_eq!(resp.status(), StatusCode::NOT_FOUND),
        Front::Proxy { .. } => panic!("reserved path proxied"),
    }
    match l.front(get("/esia", &[])).await {
        Front::Answered(resp) => assert_eq!(resp.status(), StatusCode::OK),
        Front::Proxy { .. } => panic!("bare prefix proxied"),
    }
    match l.front(get("/esiafoo", &[])).await {
        Front::Proxy { session, .. } => assert!(session.is_none()),
        Front::Answered(_) => panic!("/esiafoo is the diary's"),
    }
}

#[test]
fn bad_prefixes_and_cookie_names_are_refused() {
    for prefix in ["esia/", "/esia", "/", "//x/", "/es ia/"] {
        let s = LoginSettings {
            prefix: prefix.into(),
            ..LoginSettings::default()
        };
        let r = Login::new(
            s,
            Arc::new(FakeEsia),
            Arc::new(MemBackend::default()),
            Arc::new(SystemClock),
        );
        assert!(matches!(r, Err(LoginError::BadPrefix(_))), "{prefix}");
    }
    for name in ["session", "__Host-a b", "__Host-gw_flow_x"] {
        let mut s = LoginSettings::default();
        s.cookies.session = name.into();
        let r = Login::new(
            s,
            Arc::new(FakeEsia),
            Arc::new(MemBackend::default()),
            Arc::new(SystemClock),
        );
        assert!(matches!(r, Err(LoginError::BadCookieName(_))), "{name}");
    }
}

#[test]
fn duplicate_parameters_count_as_absent() {
    assert_eq!(single_param(Some("a=1&b=2"), "a").as_deref(), Some("1"));
    assert_eq!(single_param(Some("a=1&a=2"), "a"), None);
    assert_eq!(single_param(None, "a"), None);
    assert_eq!(
        single_param(Some("return=%2F%2Fevil"), "return").as_deref(),
        Some("//evil")
    );
}

#[tokio::test]
async fn head_on_login_creates_no_flow() {
    let backend = Arc::new(MemBackend::default());
    let l = login(backend.clone());
    let req = Request::builder()
        .method(Method::HEAD)
        .uri("/esia/login")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = l.handle(req).await;
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(resp.headers()[header::ALLOW], "GET");
    assert!(backend.flows.lock().unwrap().is_empty());
}

/// Issue 10: ~250 fake session cookies in one request cost one lookup: only the first
/// well-formed value is asked about.
#[tokio::test]
async fn a_flood_of_session_cookies_costs_one_lookup() {
    let backend = Arc::new(MemBackend::default());
    let l = login(backend.clone());
    let mut cookie = String::new();
    for i in 0..250 {
        let value = if i % 2 == 0 {
            crate::session::SessionId::generate().cookie_value()
        } else {
            format!("junk{i}")
        };
        cookie.push_str(&format!("__Host-esia-gw={value}; "));
    }
    let mut headers = http::HeaderMap::new();
    headers.insert(http::header::COOKIE, cookie.parse().unwrap());
    assert!(l.session_of(&headers).await.is_none());
    assert_eq!(
        backend.resolves.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
}
