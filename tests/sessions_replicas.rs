//! Two gateway replicas on one PostgreSQL: a session made on one is valid on the other,
//! and a logout on one takes effect on the other within the documented bound
//! (`SessionPolicy::cache_ttl`, 2 s by default; the promise to operators is ≤ 5 s).
//! Each test gets its own fresh PostgreSQL database (dropped afterwards).

mod login_support;
mod store_support;
mod support;

use std::time::{Duration, Instant};

use esia_gateway::session::{SESSION_COOKIE, SessionPolicy};
use http::StatusCode;
use login_support::*;
use reqwest::header::COOKIE;
use store_support::TestDb;

/// The bound the README and `SessionPolicy` document for cross-replica logout.
const BOUND: Duration = Duration::from_secs(5);

/// Whether `cookie` is a live session on `gw`, asked by a browser that holds only it.
async fn live_on(stand: &Stand, gw: &GatewayUnderTest, cookie: &str) -> bool {
    let resp = stand
        .browser()
        .get(gw.url("/esia/logout"))
        .header(COOKIE, format!("{SESSION_COOKIE}={cookie}"))
        .send()
        .await
        .unwrap();
    match resp.status() {
        StatusCode::OK => true,
        StatusCode::FOUND => false,
        other => panic!("unexpected {other}"),
    }
}

/// Polls until the session is gone on `gw`; returns how long it took (panics past the bound).
async fn gone_within_bound(stand: &Stand, gw: &GatewayUnderTest, cookie: &str) -> Duration {
    let started = Instant::now();
    loop {
        if !live_on(stand, gw, cookie).await {
            return started.elapsed();
        }
        assert!(
            started.elapsed() <= BOUND,
            "the other replica still accepts the session after {BOUND:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn two_replicas(db: &TestDb) -> Stand {
    Stand::start_many(
        2,
        Options {
            // Two separate connection pools, as two processes would have.
            stores: vec![db.store.clone(), db.reopen().await],
            policy: SessionPolicy::default(),
            ..Options::default()
        },
    )
    .await
}

async fn logout(b: &reqwest::Client, gw: &GatewayUnderTest) {
    let token = csrf_token(b, gw).await;
    let resp = b
        .post(gw.url("/esia/logout"))
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert!(location(&resp).contains("/idp/ext/Logout?"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_on_one_replica_ends_the_session_on_the_other_within_the_bound() {
    let db = TestDb::postgres().await;
    let stand = two_replicas(&db).await;
    let (a, b) = (&stand.gws[0], &stand.gws[1]);
    assert!(SessionPolicy::default().cache_ttl < BOUND);

    let browser = stand.browser();
    let resp = login(&browser, &stand, a, "?return=%2Fmarks", "confirmed").await;
    let cookie = session_cookie(&resp).expect("a session from replica A");

    // Replica B knows it at once (nothing cached there yet) and now holds it hot.
    assert!(live_on(&stand, b, &cookie).await);
    assert!(live_on(&stand, b, &cookie).await);
    let record = b.session(&cookie).await.unwrap();
    assert_eq!(record.account_level.as_deref(), Some("confirmed"));

    logout(&browser, a).await;
    assert!(
        !live_on(&stand, a, &cookie).await,
        "gone at once where it ended"
    );
    let took = gone_within_bound(&stand, b, &cookie).await;
    assert!(took <= BOUND, "took {took:?}");
    // And it stays gone.
    assert!(!live_on(&stand, b, &cookie).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flows_and_sessions_cross_replicas_both_ways() {
    let db = TestDb::postgres().await;
    let stand = two_replicas(&db).await;
    let (a, b) = (&stand.gws[0], &stand.gws[1]);

    // The flow record is shared: a callback completed on A cannot be completed again on
    // B, even by a browser that still holds the flow cookie.
    let browser = stand.browser();
    let flow = begin(&browser, a, "").await;
    let flow_pair = flow.flow_cookie.split(';').next().unwrap().to_owned();
    let callback = at_esia(&browser, stand.mock(), &flow, "standard").await;
    let resp = browser.get(&callback).send().await.unwrap();
    let cookie = session_cookie(&resp).unwrap();
    let replay = callback.replace(&a.callback(), &b.callback());
    let resp = stand
        .browser()
        .get(replay)
        .header(COOKIE, flow_pair)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(session_cookie(&resp).is_none());

    // Logout the other way round: on B, seen by A (which has it cached) within the bound.
    assert!(live_on(&stand, a, &cookie).await);
    assert!(live_on(&stand, b, &cookie).await);
    logout(&browser, b).await;
    assert!(!live_on(&stand, b, &cookie).await);
    gone_within_bound(&stand, a, &cookie).await;
}
