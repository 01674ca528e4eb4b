//! The identity check at linking (issue 12): a stolen diary password must not buy a
//! binding. Before an ESIA account is bound to a diary account, the ESIA person is
//! compared with the diary account as the diary shows it:
//!
//! - every account: ESIA's last, first and middle name against the diary's display name
//!   (normalised, see [`crate::identity::names`]), and the birth dates where the diary
//!   shows the account's own (a pupil's);
//! - a parent account, when ESIA listed the person's children (`[esia] children = true`)
//!   and the diary lists the account's pupils (`[diary.children_probe]`): at least one
//!   ESIA child must be one of the pupils. When either list is unknown or empty the
//!   check falls back to the name alone and the audit event says why.
//!
//! A student account is checked by the same name rule: a child's own ESIA account (KD)
//! or an adult's account of the same person passes, a parent's does not.
//!
//! `[linking] identity_check`: `off` skips it; `warn` binds, flags the binding and
//! audits; `require` refuses with a page in Russian naming whom to contact. Audit events
//! carry both sides' normalised names on a mismatch only: no documents, no SNILS.

use std::net::IpAddr;

use http::StatusCode;
use serde_json::json;

use super::Link;
use super::config::IdentityCheck;
use crate::diary::children::{self, DiaryPupil};
use crate::diary::jar::Jar;
use crate::diary::probe::DiaryUser;
use crate::identity::names::{
    DateVerdict, NameVerdict, PersonName, compare, compare_birth_dates, normalize,
};
use crate::identity::person::{Children, EsiaPerson};
use crate::pages::PageResponse;
use crate::store::{AuditKind, SessionKey};

/// The diary's pupils of the account, or why they are not known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Pupils {
    Listed(Vec<DiaryPupil>),
    /// Not asked (not a parent) or not answered; the stable reason for the audit note.
    Unknown(&'static str),
}

/// The diary side of the check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DiarySide {
    pub name: Option<String>,
    pub birth_date: Option<String>,
    pub role: Option<String>,
    pub pupils: Pupils,
}

/// What the comparison found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Verdict {
    /// `None`: the person matches; else the stable reason it does not.
    pub mismatch: Option<&'static str>,
    /// What was checked beyond the name, or why it fell back to the name alone.
    pub notes: Vec<String>,
    pub name: Option<NameVerdict>,
    /// Normalised names of both sides, for the audit event of a mismatch.
    pub esia_name: Option<String>,
    pub diary_name: Option<String>,
    pub esia_children: Vec<String>,
    pub diary_pupils: Vec<String>,
}

/// Compares the ESIA person with the diary account. Pure.
pub(super) fn compare_person(esia: Option<&EsiaPerson>, diary: &DiarySide) -> Verdict {
    let esia_name = esia.and_then(|p| p.name.as_ref()).and_then(|n| n.name());
    let diary_name = diary.name.as_deref().map(PersonName::parse_display);
    let mut v = Verdict {
        mismatch: None,
        notes: Vec::new(),
        name: None,
        esia_name: esia_name.as_ref().map(ToString::to_string),
        diary_name: match &diary_name {
            Some(Ok(n)) => Some(n.to_string()),
            Some(Err(_)) => diary.name.as_deref().map(normalize),
            None => None,
        },
        esia_children: Vec::new(),
        diary_pupils: Vec::new(),
    };
    let (Some(esia), Some(esia_name)) = (esia, esia_name) else {
        v.mismatch = Some("esia-name-unknown");
        return v;
    };
    let diary_name = match diary_name {
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            v.mismatch = Some("diary-name-unreadable");
            return v;
        }
        None => {
            v.mismatch = Some("diary-name-unknown");
            return v;
        }
    };
    let verdict = compare(&esia_name, &diary_name);
    v.name = Some(verdict);
    if !verdict.is_match() {
        v.mismatch = Some("name-mismatch");
        return v;
    }
    match compare_birth_dates(esia.birth_date.as_deref(), diary.birth_date.as_deref()) {
        DateVerdict::Different => {
            v.mismatch = Some("birth-date-mismatch");
            return v;
        }
        DateVerdict::Same => v.notes.push("birth-date-same".into()),
        DateVerdict::Unknown => {}
    }
    if diary.role.as_deref() == Some("parent") {
        v.mismatch = compare_children(esia, diary, &mut v);
    }
    v
}

/// A parent's children: `Some(reason)` when both lists are known and share nobody.
fn compare_children(esia: &EsiaPerson, diary: &DiarySide, v: &mut Verdict) -> Option<&'static str> {
    let fallback = |v: &mut Verdict, why: &str| {
        v.notes.push(format!("{why}: name check only"));
        None
    };
    let kids: Vec<(PersonName, Option<&str>)> = match &esia.children {
        Children::Unknown { reason } => return fallback(v, reason),
        Children::Listed { children } => children
            .iter()
            .filter_map(|c| Some((c.name.as_ref()?.name()?, c.birth_date.as_deref())))
            .collect(),
    };
    if kids.is_empty() {
        return fallback(v, "esia-no-named-children");
    }
    let pupils: Vec<(PersonName, Option<&str>)> = match &diary.pupils {
        Pupils::Unknown(reason) => return fallback(v, reason),
        Pupils::Listed(list) => list
            .iter()
            .filter_map(|p| {
                Some((
                    PersonName::parse_display(&p.name).ok()?,
                    p.birth_date.as_deref(),
                ))
            })
            .collect(),
    };
    if pupils.is_empty() {
        return fallback(v, "diary-no-pupils");
    }
    let common = kids.iter().any(|(kid, kid_born)| {
        pupils.iter().any(|(pupil, born)| {
            compare(kid, pupil).is_match()
                && compare_birth_dates(*kid_born, *born) != DateVerdict::Different
        })
    });
    if common {
        v.notes.push("child-match".into());
        return None;
    }
    v.esia_children = kids.iter().map(|(n, _)| n.to_string()).collect();
    v.diary_pupils = pupils.iter().map(|(n, _)| n.to_string()).collect();
    Some("no-common-child")
}

impl Link {
    /// The ESIA facts the login kept with the session `key` (link form).
    pub(super) async fn esia_person_of(&self, key: &SessionKey) -> Option<EsiaPerson> {
        match self.store.session_person(key).await {
            Ok(p) => p.as_deref().and_then(EsiaPerson::from_json),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the ESIA person of the session");
                None
            }
        }
    }

    /// The diary side: the probe's user (already read by the sign-in, or asked now on
    /// `jar`) and, for a parent, the pupils the children probe lists.
    pub(super) async fn diary_side(
        &self,
        user: Option<DiaryUser>,
        role: Option<&str>,
        jar: &Jar,
    ) -> DiarySide {
        let user = match user {
            Some(u) => Some(u),
            None => match self.probe_user(jar).await {
                Some(crate::diary::probe::Probed::User(u)) => Some(u),
                _ => None,
            },
        };
        let pupils = if role != Some("parent") {
            Pupils::Unknown("not-a-parent")
        } else if let Some(rules) = &self.diary.rules.children {
            let host = self.http.host();
            match children::pupils(
                &self.http,
                &self.diary.rules,
                rules,
                &host,
                jar,
                self.clock.now(),
            )
            .await
            {
                Ok(list) => Pupils::Listed(list),
                Err(e) => {
                    tracing::warn!(error = %e, "children probe failed");
                    Pupils::Unknown("diary-children-unavailable")
                }
            }
        } else {
            Pupils::Unknown("diary-children-not-configured")
        };
        DiarySide {
            name: user.as_ref().and_then(|u| u.name.clone()),
            birth_date: user.and_then(|u| u.birth_date),
            role: role.map(str::to_owned),
            pupils,
        }
    }

    /// Runs the check and audits it. `Ok(true)`: bind and flag; `Ok(false)`: bind;
    /// `Err(page)`: refused (`require`).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn check_person(
        &self,
        oid: i64,
        login: &str,
        esia: Option<&EsiaPerson>,
        diary: &DiarySide,
        flow: &str,
        ip: Option<IpAddr>,
    ) -> Result<bool, PageResponse> {
        let mode = self.settings.identity_check;
        if mode == IdentityCheck::Off {
            return Ok(false);
        }
        let v = compare_person(esia, diary);
        let name = v.name.map(NameVerdict::as_str);
        let Some(reason) = v.mismatch else {
            self.audit(
                AuditKind::Other("identity_check".into()),
                Some(oid),
                Some(login),
                ip,
                json!({ "outcome": "match", "flow": flow, "role": diary.role,
                        "name": name, "notes": v.notes }),
            )
            .await;
            return Ok(false);
        };
        let mut detail = json!({
            "reason": "identity-mismatch", "mismatch": reason, "mode": mode.as_str(),
            "flow": flow, "role": diary.role, "name": name, "notes": v.notes,
            "esia_name": v.esia_name, "diary_name": v.diary_name,
        });
        if !v.esia_children.is_empty() {
            detail["esia_children"] = json!(v.esia_children);
            detail["diary_pupils"] = json!(v.diary_pupils);
        }
        tracing::warn!(
            oid,
            login,
            mismatch = reason,
            mode = mode.as_str(),
            "ESIA person and diary account differ"
        );
        if mode == IdentityCheck::Warn {
            detail["outcome"] = json!("flagged");
            self.audit(
                AuditKind::Other("identity_check".into()),
                Some(oid),
                Some(login),
                ip,
                detail,
            )
            .await;
            return Ok(true);
        }
        detail["outcome"] = json!("refused");
        self.audit(AuditKind::LinkFailed, Some(oid), Some(login), ip, detail)
            .await;
        let t = self.pages.texts();
        let contact = self
            .settings
            .identity_mismatch_contact
            .as_deref()
            .unwrap_or(t.identity_contact);
        let text = format!("{} {contact}", t.identity_text);
        Err(self.pages.refusal(
            StatusCode::FORBIDDEN,
            t.identity_title,
            &text,
            "identity-mismatch",
        ))
    }

    /// After the binding is saved: marks it when `warn` let a mismatch through.
    pub(super) async fn flag_binding(&self, login: &str, flagged: bool) {
        if flagged && let Err(e) = self.store.set_binding_flagged(login, true).await {
            tracing::error!(error = %e, login, "cannot flag the binding");
        }
    }
}

#[cfg(test)]
#[path = "person_check_tests.rs"]
mod tests;
