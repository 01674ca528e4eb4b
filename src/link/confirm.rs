//! The confirmation before Flow B binds (issue 15): a password session that starts
//! «выполнить привязку к ЕСИА» comes back from ESIA with *whatever* Госуслуги account
//! is signed in in that browser — on a shared computer, someone else's. So the callback
//! binds nothing: it keeps the pending link with the legacy session (in the store, so
//! any replica can finish it) and sends the browser to `<prefix>link/confirm`:
//!
//! «Привязать учетную запись Госуслуг ‹ФИО› к пользователю дневника ‹ФИО›?»
//! [Привязать] [Это не я]
//!
//! «Привязать» (POST with the legacy session's CSRF token) binds; «Это не я» drops the
//! pending link and signs the other person out of ESIA; the diary session stays. A
//! pending link is single use and lives as long as a login flow.

use http::{Request, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Link;
use super::form::{Fields, read_body};
use super::identity::record_of;
use crate::login::ActiveSession;
use crate::pages::{PageResponse, redirect};
use crate::session::tokens_equal;
use crate::store::{AuditKind, AuthMethod, SessionRecord};

/// Largest confirmation form read.
const MAX_FORM_BYTES: usize = 2 * 1024;

/// A Flow B binding awaiting «Привязать», kept in the legacy session's row (the column
/// an ESIA session keeps its person in; a legacy session has none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct PendingLink {
    pub oid: i64,
    pub level: String,
    pub esia_name: Option<String>,
    pub diary_name: Option<String>,
    pub flagged: bool,
    pub public_computer: bool,
    pub return_path: String,
    /// Unix seconds.
    pub created_at: i64,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    pending_link: PendingLink,
}

impl PendingLink {
    pub fn to_json(&self) -> String {
        serde_json::to_string(&Stored {
            pending_link: self.clone(),
        })
        .unwrap_or_default()
    }

    fn from_json(s: &str) -> Option<Self> {
        serde_json::from_str::<Stored>(s)
            .ok()
            .map(|s| s.pending_link)
    }
}

impl Link {
    /// The legacy session of `session` with its pending link, if both are alive.
    async fn pending_of(
        &self,
        session: Option<&ActiveSession>,
    ) -> Option<(SessionRecord, String, PendingLink)> {
        let s = session?;
        let (_, record) = record_of(&self.sessions, &s.cookie).await?;
        if record.auth_method != AuthMethod::Legacy {
            return None;
        }
        let login = record.diary_login.clone()?;
        let stored = self.store.session_person(&record.key).await.ok()??;
        let pending = PendingLink::from_json(&stored)?;
        let age = self.clock.now().timestamp() - pending.created_at;
        let ttl = i64::try_from(self.flow_ttl.as_secs()).unwrap_or(i64::MAX);
        (0..=ttl).contains(&age).then_some((record, login, pending))
    }

    fn confirm_gone(&self) -> PageResponse {
        let t = self.pages.texts();
        self.pages.refusal(
            StatusCode::BAD_REQUEST,
            t.need_legacy_title,
            t.need_legacy_text,
            "link-confirmation-gone",
        )
    }

    /// `GET <prefix>link/confirm`
    pub(super) async fn confirm_page(&self, session: Option<ActiveSession>) -> PageResponse {
        let Some((record, login, pending)) = self.pending_of(session.as_ref()).await else {
            return self.confirm_gone();
        };
        let diary = match &pending.diary_name {
            Some(name) => format!("{name} ({login})"),
            None => login,
        };
        self.pages
            .confirm(pending.esia_name.as_deref(), &diary, &record.csrf_token)
    }

    /// `POST <prefix>link/confirm`: `action=confirm` binds, `action=not-me` drops the
    /// pending link and signs the other person out of ESIA.
    pub(super) async fn confirm_submit<B>(
        &self,
        req: Request<B>,
        session: Option<ActiveSession>,
    ) -> PageResponse
    where
        B: http_body::Body + Send + Unpin,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (parts, body) = req.into_parts();
        let Some(body) = read_body(body, &parts.extensions, MAX_FORM_BYTES).await else {
            return self.confirm_gone();
        };
        let fields = Fields::parse(&body);
        let Some((record, login, pending)) = self.pending_of(session.as_ref()).await else {
            return self.confirm_gone();
        };
        let csrf_ok = fields
            .single("csrf")
            .is_some_and(|c| tokens_equal(c, &record.csrf_token));
        if !csrf_ok {
            return self.confirm_gone();
        }
        // Single use, whatever the answer.
        if let Err(e) = self.store.set_session_person(&record.key, None).await {
            tracing::error!(error = %e, "cannot clear the pending link");
            return self.store_problem();
        }
        match fields.single("action") {
            Some("confirm") => self.complete_flow_b(record, login, pending).await,
            Some("not-me") => {
                self.audit(
                    AuditKind::Other("link_declined".into()),
                    Some(pending.oid),
                    Some(&login),
                    None,
                    json!({ "flow": "legacy" }),
                )
                .await;
                tracing::info!(oid = pending.oid, login = %login,
                    "link declined: another person's ESIA account; signing it out of ESIA");
                let back = self
                    .start_url_absolute(&parts)
                    .and_then(|start| self.idp.logout_url(&start));
                match back {
                    Some(url) => redirect(url.as_str()),
                    None => redirect(&pending.return_path),
                }
            }
            _ => self.confirm_gone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_link_reads_back_and_a_person_record_does_not_pass_for_one() {
        let p = PendingLink {
            oid: 7,
            level: "confirmed".into(),
            esia_name: Some("Иванова Мария Петровна".into()),
            diary_name: None,
            flagged: false,
            public_computer: false,
            return_path: "/marks".into(),
            created_at: 1,
        };
        assert_eq!(PendingLink::from_json(&p.to_json()), Some(p));
        assert_eq!(
            PendingLink::from_json(r#"{"name":null,"children":{"state":"unknown","reason":"x"}}"#),
            None
        );
        assert_eq!(PendingLink::from_json("not json"), None);
    }
}
