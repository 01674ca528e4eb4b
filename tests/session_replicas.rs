//! Two gateway replicas over one store: a logout on one takes effect on the other
//! within the documented bound (`SessionPolicy::cache_ttl`, 2 s by default, ≤ 5 s as
//! promised), and at once on PostgreSQL with the LISTEN/NOTIFY listener.

mod store_support;

use std::sync::Arc;
use std::time::Duration;

use esia_gateway::clock::SystemClock;
use esia_gateway::session::{NewSession, SessionId, SessionPolicy, Sessions};
use esia_gateway::store::AuthMethod;
use store_support::TestDb;
use tokio::time::Instant;

/// The promise made to operators (DESIGN §3, issue 4).
const BOUND: Duration = Duration::from_secs(5);

fn user() -> NewSession {
    NewSession {
        auth_method: AuthMethod::Esia,
        public_computer: false,
        esia_oid: Some(1_000_123),
        account_level: Some("confirmed".into()),
        diary_login: Some("parent".into()),
        diary_role: Some("parent".into()),
    }
}

/// Two replicas: separate pools (separate connections) to the same database.
async fn replicas(db: &TestDb, policy: SessionPolicy) -> (Arc<Sessions>, Arc<Sessions>) {
    let a = Sessions::new(db.store.clone(), Arc::new(SystemClock), policy.clone());
    let b = Sessions::new(db.reopen().await, Arc::new(SystemClock), policy);
    (Arc::new(a), Arc::new(b))
}

/// How long replica `b` keeps accepting `id` after the caller ended it elsewhere.
async fn time_until_gone(b: &Sessions, id: &SessionId) -> Duration {
    let start = Instant::now();
    while b.get(id).await.unwrap().is_some() {
        assert!(
            start.elapsed() < BOUND,
            "replica still accepts an ended session"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    start.elapsed()
}

async fn logout_reaches_the_other_replica_within_the_bound(db: &TestDb) {
    let policy = SessionPolicy::default();
    assert!(
        policy.cache_ttl < BOUND,
        "the default TTL must honour the promise"
    );
    let (a, b) = replicas(db, policy).await;
    let (id, _) = a.start(None, user()).await.unwrap();
    // Replica B has it hot in its cache.
    assert!(b.get(&id).await.unwrap().is_some());
    assert!(b.get(&id).await.unwrap().is_some());
    a.end(&id).await.unwrap();
    let waited = time_until_gone(&b, &id).await;
    assert!(waited < BOUND, "{waited:?}");
    // And an unbind-style "end all of a user" on B reaches A the same way.
    let (id2, _) = a.start(None, user()).await.unwrap();
    assert!(a.get(&id2).await.unwrap().is_some());
    b.end_all_of_login("parent").await.unwrap();
    time_until_gone(&a, &id2).await;
}

on_both_backends!(logout_reaches_the_other_replica_within_the_bound);

/// With notifications, the bound is not the TTL: a cache that would otherwise trust its
/// copy for ten minutes drops the session as soon as the other replica ends it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_notify_makes_logout_immediate() {
    let db = TestDb::postgres().await;
    let policy = SessionPolicy {
        cache_ttl: Duration::from_secs(600),
        ..SessionPolicy::default()
    };
    let (a, b) = replicas(&db, policy).await;
    let listener = b.start_invalidation_listener().await.unwrap().unwrap();
    let (id, _) = a.start(None, user()).await.unwrap();
    assert!(b.get(&id).await.unwrap().is_some());
    a.end(&id).await.unwrap();
    time_until_gone(&b, &id).await;
    // Purges count too: they delete through the same trigger.
    let (id2, _) = a.start(None, user()).await.unwrap();
    assert!(b.get(&id2).await.unwrap().is_some());
    db.store.delete_session(&id2.key()).await.unwrap();
    time_until_gone(&b, &id2).await;
    listener.abort();
}

#[tokio::test]
async fn sqlite_has_no_feed_to_follow() {
    let db = TestDb::sqlite().await;
    let (a, _) = replicas(&db, SessionPolicy::default()).await;
    assert!(a.start_invalidation_listener().await.unwrap().is_none());
}
