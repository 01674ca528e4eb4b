//! Signing into the diary, both ways:
//! - `form` mode against the REAL demo diary over a real socket, through the gateway's
//!   own pooled upstream client: the login form, the role probe, expiry detection;
//! - `header` mode through the whole gateway, checked by a small upstream that verifies
//!   the EdDSA assertion with the public key (SQLite and PostgreSQL).

mod link_support;
mod store_support;
mod support;

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use chrono::TimeDelta;
use esia_gateway::clock::ManualClock;
use esia_gateway::diary::assertion::{AssertionAlg, AssertionClaims};
use esia_gateway::diary::config::{DiaryConfig, HeaderAssertion, SignInMode};
use esia_gateway::diary::jar::Jar;
use esia_gateway::diary::signin::{self, DiaryError, DiaryHttp, DiaryRules, LoginOutcome};
use esia_gateway::link::http::UpstreamDiary;
use esia_gateway::metrics::Metrics;
use esia_gateway::proxy::upstream::Upstream;
use esia_gateway::secret::Secret;
use esia_gateway::standins::demo_diary;
use esia_gateway::store::Binding;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use link_support::*;

async fn diary_client(url: &url::Url) -> (UpstreamDiary, support::Pki) {
    let pki = support::Pki::new();
    let config = support::config(&pki, url);
    let upstream = Upstream::new(&config, Arc::new(Metrics::new())).unwrap();
    (UpstreamDiary::new(upstream), pki)
}

#[tokio::test]
async fn form_sign_in_probe_and_expiry_against_the_demo_diary() {
    let clock = ManualClock::new(chrono::Utc::now());
    let mut cfg = demo_diary::DiaryConfig::new("127.0.0.1:0".parse().unwrap());
    cfg.clock = clock.clone();
    let diary = demo_diary::start(cfg).await.unwrap();
    let (http, _pki) = diary_client(&url::Url::parse(&diary.url()).unwrap()).await;
    let rules = DiaryRules::demo();
    let host = http.host();
    let now = chrono::Utc::now();

    for (login, password) in [
        ("parent", "wrong"),
        ("nobody", "demo"),
        ("parent", ""),
        ("parent", "demo\u{0}"),
        ("PARENT ", "demo"),
    ] {
        let mut jar = Jar::new();
        let outcome = signin::sign_in(
            &http,
            &rules,
            &host,
            login,
            &Secret::new(password),
            &mut jar,
            now,
        )
        .await
        .unwrap();
        assert_eq!(
            outcome.outcome,
            LoginOutcome::WrongPassword,
            "{login:?}/{password:?}"
        );
        assert!(jar.is_empty(), "a refused login leaves no cookie");
        assert_eq!(
            signin::probe_role(&http, &rules, &host, &jar, now)
                .await
                .unwrap(),
            None
        );
    }

    for (login, role) in [
        ("parent", "parent"),
        ("student", "student"),
        ("classteacher", "class_teacher"),
    ] {
        let mut jar = Jar::new();
        let outcome = signin::sign_in(
            &http,
            &rules,
            &host,
            login,
            &Secret::new("demo"),
            &mut jar,
            now,
        )
        .await
        .unwrap();
        assert_eq!(outcome.outcome, LoginOutcome::SignedIn);
        assert_eq!(outcome.user.map(|u| u.login).as_deref(), Some(login));
        assert!(jar.header_for("/", now).unwrap().starts_with("RIDSESSID="));
        let probed = signin::probe_role(&http, &rules, &host, &jar, now)
            .await
            .unwrap();
        assert_eq!(probed.as_deref(), Some(role));
    }

    // The diary's idle expiry, as the gateway sees it: its login redirect.
    let mut jar = Jar::new();
    signin::sign_in(
        &http,
        &rules,
        &host,
        "parent",
        &Secret::new("demo"),
        &mut jar,
        now,
    )
    .await
    .unwrap();
    let get = |jar: &Jar| {
        Request::get("/marks")
            .header("host", &host)
            .header("cookie", jar.header_for("/marks", now).unwrap())
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    let live = http.send(get(&jar)).await.unwrap();
    assert_eq!(live.status(), StatusCode::OK);
    assert!(!rules.session_expired(live.status(), None, "/marks"));
    clock.advance(TimeDelta::minutes(21));
    let over = http.send(get(&jar)).await.unwrap();
    let location = over.headers().get("location").and_then(|v| v.to_str().ok());
    assert!(
        rules.session_expired(over.status(), location, "/marks"),
        "{:?} {location:?}",
        over.status()
    );
}

#[tokio::test]
async fn an_unreachable_diary_is_an_error_not_a_wrong_password() {
    let dead = support::dead_url().await;
    let (http, _pki) = diary_client(&dead).await;
    let mut jar = Jar::new();
    let err = signin::sign_in(
        &http,
        &DiaryRules::demo(),
        &http.host(),
        "parent",
        &Secret::new("demo"),
        &mut jar,
        chrono::Utc::now(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, DiaryError::Unavailable(_)), "{err}");
}

/// An upstream that trusts only assertions signed by the gateway's key: it answers with
/// the verified claims, `none` without a header, 401 for a bad one.
async fn verifier(public_pem: String) -> url::Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let key = Arc::new(jsonwebtoken::DecodingKey::from_ed_pem(public_pem.as_bytes()).unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let key = key.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let key = key.clone();
                    async move {
                        let values: Vec<_> = req
                            .headers()
                            .get_all("x-esia-gateway-assertion")
                            .iter()
                            .collect();
                        let (status, body) = match values.as_slice() {
                            [] => (StatusCode::OK, "none".to_owned()),
                            [one] => {
                                let mut v =
                                    jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
                                v.set_issuer(&["esia-gateway"]);
                                match jsonwebtoken::decode::<AssertionClaims>(
                                    one.to_str().unwrap_or(""),
                                    &key,
                                    &v,
                                ) {
                                    Ok(d) => (
                                        StatusCode::OK,
                                        format!(
                                            "sub={} role={} amr={} level={}",
                                            d.claims.sub,
                                            d.claims.role.unwrap_or_default(),
                                            d.claims.amr,
                                            d.claims.level.unwrap_or_default()
                                        ),
                                    ),
                                    Err(e) => (StatusCode::UNAUTHORIZED, format!("bad: {e}")),
                                }
                            }
                            _ => (StatusCode::BAD_REQUEST, "two assertions".to_owned()),
                        };
                        // `/cookie` echoes the Cookie header the diary got; every
                        // answer to an asserted user sets the diary's own session cookie.
                        let body = if req.uri().path() == "/cookie" {
                            req.headers()
                                .get("cookie")
                                .map(|c| c.to_str().unwrap_or("").to_owned())
                                .unwrap_or_default()
                        } else {
                            body
                        };
                        let mut resp = Response::new(Full::new(Bytes::from(body.clone())));
                        *resp.status_mut() = status;
                        if let Some(sub) = body.strip_prefix("sub=") {
                            let sub = sub.split(' ').next().unwrap_or("");
                            let v = format!("vsess={sub}; Path=/; HttpOnly");
                            resp.headers_mut().insert("set-cookie", v.parse().unwrap());
                        }
                        Ok::<_, Infallible>(resp)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
    url::Url::parse(&format!("http://{addr}")).unwrap()
}

async fn header_mode_assertion_is_verified_by_the_diary(db: Db) {
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("assertion.key");
    std::fs::write(&key, kp.serialize_pem()).unwrap();
    let upstream = verifier(kp.public_key_pem()).await;
    let diary = DiaryConfig {
        mode: SignInMode::Header(HeaderAssertion {
            name: "x-esia-gateway-assertion".parse().unwrap(),
            key,
            alg: AssertionAlg::EdDsa,
            ttl: TimeDelta::seconds(60),
        }),
        ..DiaryConfig::default()
    };
    let stand = Stand::start(Options {
        db,
        diary,
        upstream: Some(upstream),
        ..Options::default()
    })
    .await;
    let now = chrono::Utc::now();
    stand
        .store
        .create_binding(&Binding {
            esia_oid: CONFIRMED_OID,
            diary_login: "parent".into(),
            diary_role: Some("parent".into()),
            account_level: Some("confirmed".into()),
            created_at: now,
            last_used_at: now,
            stale: false,
        })
        .await
        .unwrap();
    let forged = [(
        "x-esia-gateway-assertion",
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.",
    )];
    let b = stand.browser();
    // Anonymous: a client-sent assertion never reaches the diary.
    let resp = b.get_with(&stand.url("/whoami"), &forged).await;
    assert_eq!(resp.text().await.unwrap(), "none");
    let cb = stand.esia_login(&b, "/whoami", "confirmed").await;
    assert_eq!(location(&cb), "/whoami");
    for headers in [&[][..], &forged[..]] {
        let resp = b.get_with(&stand.url("/whoami"), headers).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(
            resp.text().await.unwrap(),
            "sub=parent role=parent amr=esia level=confirmed"
        );
    }
    // The diary's own session cookie stays in the gateway's jar (issue 9): the browser
    // never holds it, so a copied browser cookie cannot replay the diary session.
    assert!(
        !b.cookie_names().iter().any(|n| n == "vsess"),
        "{:?}",
        b.cookie_names()
    );
    let echoed = b.get(&stand.url("/cookie")).await.text().await.unwrap();
    assert!(echoed.contains("vsess=parent"), "{echoed:?}");
    let used = stand
        .store
        .bindings_of_oid(CONFIRMED_OID)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert!(used.last_used_at >= now - TimeDelta::seconds(1));

    // A simplified account bound to a parent gets the level page, no assertion.
    stand
        .store
        .create_binding(&Binding {
            esia_oid: SIMPLIFIED_OID,
            diary_login: "student".into(),
            diary_role: Some("parent".into()),
            account_level: None,
            created_at: now,
            last_used_at: now,
            stale: false,
        })
        .await
        .unwrap();
    let b2 = stand.browser();
    stand.esia_login(&b2, "/whoami", "simplified").await;
    let resp = b2.get(&stand.url("/whoami")).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(resp.text().await.unwrap().contains("подтвержденная"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_mode_on_sqlite() {
    header_mode_assertion_is_verified_by_the_diary(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_mode_on_postgres() {
    header_mode_assertion_is_verified_by_the_diary(Db::Postgres).await;
}
