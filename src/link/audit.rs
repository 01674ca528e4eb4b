//! Audit events of linking: one record per link, failed link, rate limit, level
//! refusal, stale binding, diary sign-in and legacy login. Never a password or a token.
//! An audit write that fails is logged and does not change what the user gets: the
//! thing audited (binding, session) was already stored or refused.

use std::net::IpAddr;

use crate::store::{AuditEvent, AuditKind};

use super::Link;

impl Link {
    pub(super) async fn audit(
        &self,
        kind: AuditKind,
        oid: Option<i64>,
        login: Option<&str>,
        ip: Option<IpAddr>,
        detail: serde_json::Value,
    ) {
        let mut event = AuditEvent::new(self.clock.now(), kind);
        event.esia_oid = oid;
        event.diary_login = login.map(str::to_owned);
        event.client_ip = ip.map(|i| i.to_canonical().to_string());
        event.detail = detail;
        self.http.metrics().auth_event(event.kind.label());
        if let Err(e) = self.store.append_audit(&event).await {
            tracing::error!(kind = event.kind.as_str(), error = %e, "audit event not written");
        }
    }
}
