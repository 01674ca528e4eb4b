//! A [`Store`] wrapper that counts calls, to prove which requests reach the database,
//! and can be switched to fail every call, to act out "store down".

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use chrono::{DateTime, Utc};
use esia_gateway::store::*;
use futures_util::future::BoxFuture;
use uuid::Uuid;

#[derive(Debug)]
pub struct CountingStore {
    inner: SharedStore,
    /// Calls of any method.
    pub calls: AtomicUsize,
    /// Calls of `get_session`.
    pub session_reads: AtomicUsize,
    /// When set, every call fails with `Unavailable`.
    pub down: AtomicBool,
}

impl CountingStore {
    pub fn new(inner: SharedStore) -> Self {
        Self {
            inner,
            calls: AtomicUsize::new(0),
            session_reads: AtomicUsize::new(0),
            down: AtomicBool::new(false),
        }
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub fn session_reads(&self) -> usize {
        self.session_reads.load(Ordering::SeqCst)
    }

    fn count<'a, T: Send + 'a>(
        &'a self,
        name: &str,
        call: BoxFuture<'a, StoreResult<T>>,
    ) -> BoxFuture<'a, StoreResult<T>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if name == "get_session" {
            self.session_reads.fetch_add(1, Ordering::SeqCst);
        }
        if self.down.load(Ordering::SeqCst) {
            return Box::pin(async { Err(StoreError::Unavailable(sqlx::Error::PoolTimedOut)) });
        }
        call
    }
}

impl Store for CountingStore {
    fn ended_sessions(&self) -> BoxFuture<'_, StoreResult<Option<EndedSessions>>> {
        self.count("ended_sessions", self.inner.ended_sessions())
    }

    fn create_session<'a>(&'a self, s: &'a SessionRecord) -> BoxFuture<'a, StoreResult<()>> {
        self.count("create_session", self.inner.create_session(s))
    }
    fn get_session<'a>(
        &'a self,
        key: &'a SessionKey,
    ) -> BoxFuture<'a, StoreResult<Option<SessionRecord>>> {
        self.count("get_session", self.inner.get_session(key))
    }
    fn touch_session<'a>(
        &'a self,
        key: &'a SessionKey,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        self.count("touch_session", self.inner.touch_session(key, now))
    }
    fn update_session<'a>(&'a self, s: &'a SessionRecord) -> BoxFuture<'a, StoreResult<bool>> {
        self.count("update_session", self.inner.update_session(s))
    }
    fn set_diary_cookies<'a>(
        &'a self,
        key: &'a SessionKey,
        jar: Option<&'a [u8]>,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        self.count("set_diary_cookies", self.inner.set_diary_cookies(key, jar))
    }
    fn delete_session<'a>(&'a self, key: &'a SessionKey) -> BoxFuture<'a, StoreResult<bool>> {
        self.count("delete_session", self.inner.delete_session(key))
    }
    fn delete_sessions_of_login<'a>(&'a self, login: &'a str) -> BoxFuture<'a, StoreResult<u64>> {
        self.count(
            "delete_sessions_of_login",
            self.inner.delete_sessions_of_login(login),
        )
    }
    fn delete_expired_sessions(&self, now: DateTime<Utc>) -> BoxFuture<'_, StoreResult<u64>> {
        self.count(
            "delete_expired_sessions",
            self.inner.delete_expired_sessions(now),
        )
    }
    fn create_login_flow<'a>(&'a self, f: &'a LoginFlow) -> BoxFuture<'a, StoreResult<()>> {
        self.count("create_login_flow", self.inner.create_login_flow(f))
    }
    fn take_login_flow(
        &self,
        state: Uuid,
        cookie_binding: [u8; 32],
        now: DateTime<Utc>,
    ) -> BoxFuture<'_, StoreResult<Option<LoginFlow>>> {
        self.count(
            "take_login_flow",
            self.inner.take_login_flow(state, cookie_binding, now),
        )
    }
    fn delete_expired_flows(&self, now: DateTime<Utc>) -> BoxFuture<'_, StoreResult<u64>> {
        self.count("delete_expired_flows", self.inner.delete_expired_flows(now))
    }
    fn create_binding<'a>(&'a self, b: &'a Binding) -> BoxFuture<'a, StoreResult<()>> {
        self.count("create_binding", self.inner.create_binding(b))
    }
    fn bindings_of_oid(&self, oid: i64) -> BoxFuture<'_, StoreResult<Vec<Binding>>> {
        self.count("bindings_of_oid", self.inner.bindings_of_oid(oid))
    }
    fn binding_by_login<'a>(
        &'a self,
        login: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<Binding>>> {
        self.count("binding_by_login", self.inner.binding_by_login(login))
    }
    fn record_binding_use<'a>(
        &'a self,
        login: &'a str,
        role: Option<&'a str>,
        level: Option<&'a str>,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        self.count(
            "record_binding_use",
            self.inner.record_binding_use(login, role, level, now),
        )
    }
    fn set_binding_stale<'a>(
        &'a self,
        login: &'a str,
        stale: bool,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        self.count(
            "set_binding_stale",
            self.inner.set_binding_stale(login, stale),
        )
    }
    fn unbind<'a>(&'a self, login: &'a str) -> BoxFuture<'a, StoreResult<Option<Binding>>> {
        self.count("unbind", self.inner.unbind(login))
    }
    fn list_bindings(&self) -> BoxFuture<'_, StoreResult<Vec<Binding>>> {
        self.count("list_bindings", self.inner.list_bindings())
    }
    fn put_vault_entry<'a>(&'a self, e: &'a VaultEntry) -> BoxFuture<'a, StoreResult<()>> {
        self.count("put_vault_entry", self.inner.put_vault_entry(e))
    }
    fn get_vault_entry<'a>(
        &'a self,
        login: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<VaultEntry>>> {
        self.count("get_vault_entry", self.inner.get_vault_entry(login))
    }
    fn replace_vault_entry<'a>(
        &'a self,
        expected_nonce: &'a [u8],
        e: &'a VaultEntry,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        self.count(
            "replace_vault_entry",
            self.inner.replace_vault_entry(expected_nonce, e),
        )
    }
    fn delete_vault_entry<'a>(&'a self, login: &'a str) -> BoxFuture<'a, StoreResult<bool>> {
        self.count("delete_vault_entry", self.inner.delete_vault_entry(login))
    }
    fn list_vault_entries(&self) -> BoxFuture<'_, StoreResult<Vec<VaultEntry>>> {
        self.count("list_vault_entries", self.inner.list_vault_entries())
    }
    fn append_audit<'a>(&'a self, e: &'a AuditEvent) -> BoxFuture<'a, StoreResult<i64>> {
        self.count("append_audit", self.inner.append_audit(e))
    }
    fn list_audit(
        &self,
        since: DateTime<Utc>,
        limit: u32,
    ) -> BoxFuture<'_, StoreResult<Vec<AuditEvent>>> {
        self.count("list_audit", self.inner.list_audit(since, limit))
    }
    fn record_attempt<'a>(
        &'a self,
        key: &'a str,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, StoreResult<()>> {
        self.count("record_attempt", self.inner.record_attempt(key, now))
    }
    fn count_attempts<'a>(
        &'a self,
        key: &'a str,
        since: DateTime<Utc>,
    ) -> BoxFuture<'a, StoreResult<u64>> {
        self.count("count_attempts", self.inner.count_attempts(key, since))
    }
    fn prune_attempts(&self, before: DateTime<Utc>) -> BoxFuture<'_, StoreResult<u64>> {
        self.count("prune_attempts", self.inner.prune_attempts(before))
    }

    fn set_session_person<'a>(
        &'a self,
        key: &'a SessionKey,
        person: Option<&'a str>,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        self.count(
            "set_session_person",
            self.inner.set_session_person(key, person),
        )
    }
    fn session_person<'a>(
        &'a self,
        key: &'a SessionKey,
    ) -> BoxFuture<'a, StoreResult<Option<String>>> {
        self.count("session_person", self.inner.session_person(key))
    }
    fn set_binding_flagged<'a>(
        &'a self,
        login: &'a str,
        flagged: bool,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        self.count(
            "set_binding_flagged",
            self.inner.set_binding_flagged(login, flagged),
        )
    }
    fn list_flagged_bindings(&self) -> BoxFuture<'_, StoreResult<Vec<Binding>>> {
        self.count("list_flagged_bindings", self.inner.list_flagged_bindings())
    }
    fn unbind_user<'a>(
        &'a self,
        login: &'a str,
        audit: &'a AuditEvent,
    ) -> BoxFuture<'a, StoreResult<Option<Unbound>>> {
        self.count("unbind_user", self.inner.unbind_user(login, audit))
    }
    fn import_bindings<'a>(&'a self, all: &'a [Binding]) -> BoxFuture<'a, StoreResult<()>> {
        self.count("import_bindings", self.inner.import_bindings(all))
    }
    fn query_audit<'a>(
        &'a self,
        q: &'a AuditQuery,
    ) -> BoxFuture<'a, StoreResult<Vec<AuditRecord>>> {
        self.count("query_audit", self.inner.query_audit(q))
    }
    fn purge_audit(&self, before: DateTime<Utc>) -> BoxFuture<'_, StoreResult<u64>> {
        self.count("purge_audit", self.inner.purge_audit(before))
    }
    fn session_jars_after<'a>(
        &'a self,
        after: Option<&'a SessionKey>,
        limit: u32,
    ) -> BoxFuture<'a, StoreResult<Vec<SessionJar>>> {
        self.count(
            "session_jars_after",
            self.inner.session_jars_after(after, limit),
        )
    }
    fn replace_session_jar<'a>(
        &'a self,
        key: &'a SessionKey,
        expected: &'a [u8],
        sealed: &'a [u8],
    ) -> BoxFuture<'a, StoreResult<bool>> {
        self.count(
            "replace_session_jar",
            self.inner.replace_session_jar(key, expected, sealed),
        )
    }

    fn add_route_hits<'a>(
        &'a self,
        hits: &'a [(String, u64)],
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, StoreResult<u64>> {
        self.count("add_route_hits", self.inner.add_route_hits(hits, now))
    }

    fn list_route_hits(&self) -> BoxFuture<'_, StoreResult<Vec<RouteHit>>> {
        self.count("list_route_hits", self.inner.list_route_hits())
    }
}
