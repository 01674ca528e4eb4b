//! Limits on the two password oracles the gateway exposes: the link form and the
//! diary's own login form posted through it. Each failed password is counted in the
//! store (every replica shares the count) per account and per client address; only
//! failures count, and the per-address allowance is ten times the per-account one, so
//! one person's typos do not lock out a whole school behind one NAT address while a
//! guesser is still stopped. Over a limit: 429 with the wait, audited.

use std::net::IpAddr;

use chrono::TimeDelta;
use http::{HeaderValue, StatusCode, header};
use serde_json::json;

use super::Link;
use crate::login::pages::{PageResponse, Problem};
use crate::store::AuditKind;

/// How many failures an address may make for each one an account may.
const PER_ADDRESS_FACTOR: u64 = 10;

/// One counter: its store key and how many failures it allows in the window.
pub(super) struct Limit {
    key: String,
    max: u64,
    by: &'static str,
}

impl Link {
    /// The link form's counters: per ESIA account and per client address.
    pub(super) fn link_form_limits(&self, oid: i64, ip: IpAddr) -> Vec<Limit> {
        let max = self.settings.max_attempts;
        vec![
            Limit {
                key: format!("link:oid:{oid}"),
                max,
                by: "account",
            },
            Limit {
                key: format!("link:ip:{}", ip.to_canonical()),
                max: max.saturating_mul(PER_ADDRESS_FACTOR),
                by: "address",
            },
        ]
    }

    /// The diary login form's counters: per diary login and per client address.
    pub(super) fn legacy_login_limits(&self, login: &str, ip: IpAddr) -> Vec<Limit> {
        let max = self.settings.max_attempts;
        vec![
            Limit {
                key: format!("legacy:login:{}", self.diary.rules.login_key(login)),
                max,
                by: "account",
            },
            Limit {
                key: format!("legacy:ip:{}", ip.to_canonical()),
                max: max.saturating_mul(PER_ADDRESS_FACTOR),
                by: "address",
            },
        ]
    }

    /// The 429 page when a counter is full; a store failure fails closed (without a
    /// count the oracle would be unlimited).
    pub(super) async fn over_limit(
        &self,
        limits: &[Limit],
        oid: Option<i64>,
        ip: IpAddr,
        code: &str,
    ) -> Option<PageResponse> {
        let window = TimeDelta::from_std(self.settings.window).unwrap_or(TimeDelta::minutes(15));
        let since = self.clock.now() - window;
        for limit in limits {
            match self.store.count_attempts(&limit.key, since).await {
                Ok(n) if n >= limit.max => {
                    let minutes = window.num_minutes().max(1);
                    tracing::warn!(%ip, by = limit.by, code, "password attempts limit reached");
                    self.audit(
                        AuditKind::RateLimited,
                        oid,
                        None,
                        Some(ip),
                        json!({ "limit": limit.max, "window_minutes": minutes, "by": limit.by,
                                "form": code }),
                    )
                    .await;
                    let t = self.pages.texts();
                    let text = t.rate_text.replace("{minutes}", &minutes.to_string());
                    let mut page = self.pages.problem(
                        &Problem::new(StatusCode::TOO_MANY_REQUESTS, t.rate_title, &text)
                            .with_code(code),
                    );
                    if let Ok(v) = HeaderValue::from_str(&window.num_seconds().to_string()) {
                        page.headers_mut().insert(header::RETRY_AFTER, v);
                    }
                    return Some(page);
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %e, "cannot count password attempts");
                    return Some(self.store_problem());
                }
            }
        }
        None
    }

    /// Counts one failed password on every counter.
    pub(super) async fn count_failure(&self, limits: &[Limit]) {
        let now = self.clock.now();
        for limit in limits {
            if let Err(e) = self.store.record_attempt(&limit.key, now).await {
                tracing::error!(error = %e, "cannot record a failed password attempt");
            }
        }
    }
}
