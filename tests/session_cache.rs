//! Sessions over the store: the hot path does no store round trip, ids rotate at
//! login, idle and absolute lifetimes follow an injected clock, logout and purge end
//! sessions, and a cached session keeps working while the store is down.

mod store_support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::TimeDelta;
use esia_gateway::clock::ManualClock;
use esia_gateway::session::{NewSession, SessionId, SessionPolicy, Sessions};
use esia_gateway::store::{AuthMethod, SharedStore, StoreError};
use store_support::counting::CountingStore;
use store_support::{TestDb, t0};

fn policy() -> SessionPolicy {
    SessionPolicy {
        // Long enough that a slow test machine never sees an entry age out.
        cache_ttl: Duration::from_secs(600),
        ..SessionPolicy::default()
    }
}

fn esia_user(public_computer: bool) -> NewSession {
    NewSession {
        auth_method: AuthMethod::Esia,
        public_computer,
        esia_oid: Some(1_000_123),
        account_level: Some("confirmed".into()),
        diary_login: Some("parent".into()),
        diary_role: Some("parent".into()),
    }
}

struct Fixture {
    counting: Arc<CountingStore>,
    clock: Arc<ManualClock>,
    sessions: Arc<Sessions>,
}

fn fixture(db: &TestDb, policy: SessionPolicy) -> Fixture {
    let counting = Arc::new(CountingStore::new(db.store.clone()));
    let clock = ManualClock::new(t0());
    let store: SharedStore = counting.clone();
    let sessions = Arc::new(Sessions::new(store, clock.clone(), policy));
    Fixture {
        counting,
        clock,
        sessions,
    }
}

async fn hot_session_needs_no_store_round_trip(db: &TestDb) {
    let f = fixture(db, policy());
    let (id, rec) = f.sessions.start(None, esia_user(false)).await.unwrap();
    let after_login = f.counting.calls();
    for _ in 0..200 {
        let got = f.sessions.get(&id).await.unwrap().unwrap();
        assert_eq!(got.key, rec.key);
    }
    assert_eq!(
        f.counting.calls(),
        after_login,
        "hot gets reached the store"
    );
    // After the touch interval, one write of last_seen, still no read.
    f.clock.advance(TimeDelta::seconds(61));
    f.sessions.get(&id).await.unwrap().unwrap();
    f.sessions.get(&id).await.unwrap().unwrap();
    assert_eq!(f.counting.calls(), after_login + 1);
    assert_eq!(f.counting.session_reads(), 0);
    let stored = db.store.get_session(&rec.key).await.unwrap().unwrap();
    assert_eq!(stored.last_seen_at, t0() + TimeDelta::seconds(61));

    // Another instance (cold cache) reads the store once, then serves from memory.
    let cold = Sessions::new(f.counting.clone(), f.clock.clone(), policy());
    for _ in 0..50 {
        cold.get(&id).await.unwrap().unwrap();
    }
    assert_eq!(f.counting.session_reads(), 1);
}

async fn ids_rotate_at_every_login(db: &TestDb) {
    let f = fixture(db, policy());
    let (legacy, _) = f
        .sessions
        .start(
            None,
            NewSession {
                auth_method: AuthMethod::Legacy,
                esia_oid: None,
                account_level: None,
                ..esia_user(false)
            },
        )
        .await
        .unwrap();
    let (esia, rec) = f
        .sessions
        .start(Some(&legacy), esia_user(false))
        .await
        .unwrap();
    assert_ne!(legacy, esia);
    assert_ne!(legacy.key(), esia.key());
    assert_eq!(rec.auth_method, AuthMethod::Esia);
    assert!(
        f.sessions.get(&legacy).await.unwrap().is_none(),
        "old id still works"
    );
    assert!(db.store.get_session(&legacy.key()).await.unwrap().is_none());
    assert!(f.sessions.get(&esia).await.unwrap().is_some());
    // Each login also gets its own CSRF token.
    let (_, again) = f
        .sessions
        .start(Some(&esia), esia_user(false))
        .await
        .unwrap();
    assert_ne!(again.csrf_token, rec.csrf_token);
}

async fn idle_timeout_follows_the_clock(db: &TestDb) {
    let f = fixture(db, policy());
    let (id, _) = f.sessions.start(None, esia_user(false)).await.unwrap();
    // Activity every 29 minutes keeps a 30-minute idle session alive…
    for _ in 0..3 {
        f.clock.advance(TimeDelta::minutes(29));
        assert!(f.sessions.get(&id).await.unwrap().is_some());
    }
    // …and 30 minutes of silence ends it, in the cache and in the store.
    f.clock.advance(TimeDelta::minutes(30));
    assert!(f.sessions.get(&id).await.unwrap().is_none());
    assert!(db.store.get_session(&id.key()).await.unwrap().is_none());
}

async fn public_computer_sessions_idle_out_sooner(db: &TestDb) {
    let f = fixture(db, policy());
    let (public, rec) = f.sessions.start(None, esia_user(true)).await.unwrap();
    let (home, _) = f.sessions.start(None, esia_user(false)).await.unwrap();
    assert!(rec.public_computer);
    f.clock.advance(TimeDelta::minutes(11));
    assert!(f.sessions.get(&public).await.unwrap().is_none());
    assert!(f.sessions.get(&home).await.unwrap().is_some());
}

async fn absolute_lifetime_ends_an_active_session(db: &TestDb) {
    let f = fixture(db, policy());
    let (id, rec) = f.sessions.start(None, esia_user(false)).await.unwrap();
    assert_eq!(rec.absolute_expiry, t0() + TimeDelta::hours(12));
    for _ in 0..(12 * 6 - 1) {
        f.clock.advance(TimeDelta::minutes(10));
        assert!(f.sessions.get(&id).await.unwrap().is_some());
    }
    f.clock.advance(TimeDelta::minutes(10));
    assert!(f.sessions.get(&id).await.unwrap().is_none());
}

async fn logout_ends_the_session(db: &TestDb) {
    let f = fixture(db, policy());
    let (id, _) = f.sessions.start(None, esia_user(false)).await.unwrap();
    let ended = f.sessions.end(&id).await.unwrap().unwrap();
    assert_eq!(ended.diary_login.as_deref(), Some("parent"));
    assert!(f.sessions.get(&id).await.unwrap().is_none());
    assert!(f.sessions.end(&id).await.unwrap().is_none());
    // A never-issued id is simply unknown.
    assert!(
        f.sessions
            .get(&SessionId::generate())
            .await
            .unwrap()
            .is_none()
    );

    let (a, _) = f.sessions.start(None, esia_user(false)).await.unwrap();
    let (b, _) = f.sessions.start(None, esia_user(true)).await.unwrap();
    assert_eq!(f.sessions.end_all_of_login("parent").await.unwrap(), 2);
    assert!(f.sessions.get(&a).await.unwrap().is_none());
    assert!(f.sessions.get(&b).await.unwrap().is_none());
}

async fn updates_are_seen_through_the_cache(db: &TestDb) {
    let f = fixture(db, policy());
    let (id, rec) = f.sessions.start(None, esia_user(false)).await.unwrap();
    assert!(
        f.sessions
            .set_diary_cookies(&rec.key, Some(b"sealed-jar".to_vec()))
            .await
            .unwrap()
    );
    let got = f.sessions.get(&id).await.unwrap().unwrap();
    assert_eq!(got.diary_cookies.as_deref(), Some(&b"sealed-jar"[..]));
    let mut changed = (*got).clone();
    changed.diary_role = Some("teacher".into());
    assert!(f.sessions.update(changed).await.unwrap());
    assert_eq!(
        f.sessions
            .get(&id)
            .await
            .unwrap()
            .unwrap()
            .diary_role
            .as_deref(),
        Some("teacher")
    );
    let stored = db.store.get_session(&rec.key).await.unwrap().unwrap();
    assert_eq!(stored.diary_role.as_deref(), Some("teacher"));
    assert_eq!(stored.diary_cookies.as_deref(), Some(&b"sealed-jar"[..]));
}

async fn cached_sessions_survive_a_store_outage(db: &TestDb) {
    // A zero TTL makes every get re-read the store, so the outage path is the one taken.
    let f = fixture(
        db,
        SessionPolicy {
            cache_ttl: Duration::ZERO,
            ..policy()
        },
    );
    let (id, _) = f.sessions.start(None, esia_user(false)).await.unwrap();
    f.sessions.get(&id).await.unwrap().unwrap();
    let reads = f.counting.session_reads();
    assert!(reads >= 1, "zero TTL must re-read");
    f.counting.down.store(true, Ordering::SeqCst);
    f.clock.advance(TimeDelta::minutes(2)); // also forces a last_seen write, which fails
    assert!(f.sessions.get(&id).await.unwrap().is_some());
    let cold = f.sessions.get(&SessionId::generate()).await;
    assert!(matches!(cold, Err(StoreError::Unavailable(_))), "{cold:?}");
    let login = f.sessions.start(None, esia_user(false)).await;
    assert!(matches!(login, Err(StoreError::Unavailable(_))));
    // A logout that cannot be recorded is reported, and the session stays as it was.
    assert!(f.sessions.end(&id).await.is_err());
    f.counting.down.store(false, Ordering::SeqCst);
    assert!(f.sessions.get(&id).await.unwrap().is_some());
    // Expiry still applies to a copy served during an outage.
    f.counting.down.store(true, Ordering::SeqCst);
    f.clock.advance(TimeDelta::hours(1));
    assert!(f.sessions.get(&id).await.unwrap().is_none());
}

async fn an_outage_costs_one_store_call_a_second_not_one_per_request(db: &TestDb) {
    // Zero TTL: every get would re-read the store, and during an outage each such read
    // waits out the pool's acquire timeout (5 s on PostgreSQL) before it fails.
    let f = fixture(
        db,
        SessionPolicy {
            cache_ttl: Duration::ZERO,
            ..policy()
        },
    );
    let (id, _) = f.sessions.start(None, esia_user(false)).await.unwrap();
    f.counting.down.store(true, Ordering::SeqCst);
    f.clock.advance(TimeDelta::minutes(2));
    let before = f.counting.calls();
    assert!(f.sessions.get(&id).await.unwrap().is_some());
    let first = f.counting.calls();
    assert_eq!(first, before + 1, "the first request finds the store down");
    for _ in 0..50 {
        assert!(
            f.sessions.get(&id).await.unwrap().is_some(),
            "served cached"
        );
    }
    // Unknown ids fail at once too (a 503), without a store call each.
    let cold = f.sessions.get(&SessionId::generate()).await;
    assert!(matches!(cold, Err(StoreError::Unavailable(_))), "{cold:?}");
    assert_eq!(
        f.counting.calls(),
        first,
        "no store call while it was just down"
    );
    // Back up: after a second one request asks again, and the store is used again.
    f.counting.down.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(f.sessions.get(&id).await.unwrap().is_some());
    let probed = f.counting.calls();
    assert!(probed > first, "the probe asked the store");
    assert!(f.sessions.get(&id).await.unwrap().is_some());
    assert!(
        f.counting.calls() > probed,
        "healthy again: zero TTL re-reads"
    );
}

async fn no_grace_means_no_stale_sessions(db: &TestDb) {
    let f = fixture(
        db,
        SessionPolicy {
            cache_ttl: Duration::ZERO,
            outage_grace: Duration::ZERO,
            ..policy()
        },
    );
    let (id, _) = f.sessions.start(None, esia_user(false)).await.unwrap();
    f.counting.down.store(true, Ordering::SeqCst);
    assert!(matches!(
        f.sessions.get(&id).await,
        Err(StoreError::Unavailable(_))
    ));
}

async fn purge_task_removes_expired_sessions_and_flows(db: &TestDb) {
    let f = fixture(db, policy());
    let (old, _) = f.sessions.start(None, esia_user(false)).await.unwrap();
    f.clock.advance(TimeDelta::minutes(20));
    let (fresh, _) = f.sessions.start(None, esia_user(false)).await.unwrap();
    db.store.record_attempt("ip:192.0.2.1", t0()).await.unwrap();
    f.clock
        .advance(TimeDelta::hours(24) - TimeDelta::minutes(5));
    let purge = f.sessions.spawn_purge(Duration::from_millis(20));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while db.store.get_session(&old.key()).await.unwrap().is_some() {
        assert!(tokio::time::Instant::now() < deadline, "purge never ran");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    purge.abort();
    // The task may have been stopped between deleting sessions and pruning attempts:
    // one more pass finishes its round, and must find no session left to delete.
    let again = f.sessions.purge_expired().await.unwrap();
    assert_eq!(again.sessions, 0);
    // Both were idle for hours: both are gone, and old attempts were pruned.
    assert!(db.store.get_session(&fresh.key()).await.unwrap().is_none());
    assert_eq!(
        db.store.count_attempts("ip:192.0.2.1", t0()).await.unwrap(),
        0
    );
}

/// Issue 10: a client replaying made-up or ended cookies costs one store read per id
/// per half minute, not one per request.
async fn unknown_ids_are_remembered_briefly(db: &TestDb) {
    let f = fixture(db, policy());
    let made_up = SessionId::generate();
    for _ in 0..100 {
        assert!(f.sessions.get(&made_up).await.unwrap().is_none());
    }
    assert_eq!(f.counting.session_reads(), 1);
    // A real session is never hidden by it: new ids are random and start cached.
    let (id, _) = f.sessions.start(None, esia_user(false)).await.unwrap();
    assert!(f.sessions.get(&id).await.unwrap().is_some());
}

on_both_backends!(
    unknown_ids_are_remembered_briefly,
    hot_session_needs_no_store_round_trip,
    ids_rotate_at_every_login,
    idle_timeout_follows_the_clock,
    public_computer_sessions_idle_out_sooner,
    absolute_lifetime_ends_an_active_session,
    logout_ends_the_session,
    updates_are_seen_through_the_cache,
    cached_sessions_survive_a_store_outage,
    an_outage_costs_one_store_call_a_second_not_one_per_request,
    no_grace_means_no_stale_sessions,
    purge_task_removes_expired_sessions_and_flows,
);
