//! A person's children, `GET /rs/prns/{oid}/kids?embed=(elements)`, for the identity
//! check at linking: a parent's ESIA children are compared with the pupils the diary
//! lists for that parent.
//!
//! ESIA answers only when the login asked for the `kid_fullname` / `kid_birthdate`
//! scopes ([`super::config::CHILDREN_SCOPES`], `[esia] children = true`) and the person
//! granted them; otherwise 403. That refusal, and a token ESIA no longer accepts (401),
//! are [`KidsError::NotGranted`]: the caller falls back to comparing the person's own
//! name. A broken answer is [`KidsError::Malformed`], never a panic and never an empty
//! list, so "no children" is always ESIA's word. Only names and birth dates are read;
//! a child's SNILS and documents are not even deserialised.

use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::Value;

use super::errors::EsiaError;
use super::http::EsiaHttp;
use super::person::{get, lenient_id, lenient_string};
use crate::identity::names::{NameError, PersonName, parse_birth_date};
use crate::secret::Secret;

/// More children than this in one answer is not a family but a broken answer.
const MAX_CHILDREN: usize = 64;

/// One child as ESIA describes it; any field may be missing (scope not granted, record
/// incomplete).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EsiaChild {
    /// ESIA's id of the child record (not an OID).
    #[serde(deserialize_with = "lenient_id")]
    pub id: Option<u64>,
    #[serde(deserialize_with = "lenient_string")]
    pub last_name: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub first_name: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub middle_name: Option<String>,
    /// `DD.MM.YYYY`, as ESIA sends it.
    #[serde(deserialize_with = "lenient_string")]
    pub birth_date: Option<String>,
}

impl EsiaChild {
    /// The child's name in comparable form; an error when ESIA gave no last or first
    /// name (`kid_fullname` not granted).
    pub fn name(&self) -> Result<PersonName, NameError> {
        PersonName::from_parts(
            self.last_name.as_deref().unwrap_or_default(),
            self.first_name.as_deref().unwrap_or_default(),
            self.middle_name.as_deref(),
        )
    }

    /// The birth date, when ESIA gave a readable one (`kid_birthdate`).
    pub fn birth_date(&self) -> Option<NaiveDate> {
        self.birth_date.as_deref().and_then(parse_birth_date)
    }
}

/// Why the children could not be listed. Every variant leaves the caller able to fall
/// back to the person's own name; [`KidsError::kind`] names it for the audit note.
#[derive(Debug, thiserror::Error)]
pub enum KidsError {
    /// `[esia] children` is off: the scopes were never asked for, ESIA is not asked.
    #[error("children are not requested from ESIA ([esia] children = false)")]
    NotRequested,
    /// ESIA refused `/kids`: 403 (the person did not grant `kid_*`) or 401.
    #[error("ESIA refused the children list (HTTP {0}): scope not granted")]
    NotGranted(u16),
    /// ESIA answered something that is not a children collection.
    #[error("malformed children list from ESIA: {0}")]
    Malformed(String),
    /// ESIA could not be reached, was too slow, or answered 5xx.
    #[error(transparent)]
    Esia(#[from] EsiaError),
}

impl KidsError {
    /// Stable kebab-case name for logs, metrics and audit events.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotRequested => "esia-kids-not-requested",
            Self::NotGranted(_) => "esia-kids-not-granted",
            Self::Malformed(_) => "esia-kids-malformed",
            Self::Esia(e) => e.kind(),
        }
    }
}

/// Reads a `/kids?embed=(elements)` answer. A collection without `elements` is empty
/// only when its `size` says 0; elements that are bare URLs (ESIA ignored `embed`) or
/// anything but objects make the whole answer malformed.
pub fn parse_kids(body: &[u8]) -> Result<Vec<EsiaChild>, KidsError> {
    let malformed = |m: &str| KidsError::Malformed(m.to_string());
    let v: Value = serde_json::from_slice(super::answer::strip_bom(body))
        .map_err(|_| malformed("not JSON"))?;
    let obj = v
        .as_object()
        .ok_or_else(|| malformed("not a JSON object"))?;
    let elements = match obj.get("elements") {
        Some(Value::Array(a)) => a.as_slice(),
        None if obj.get("size").and_then(Value::as_u64) == Some(0) => &[],
        _ => return Err(malformed("no `elements` array")),
    };
    if elements.len() > MAX_CHILDREN {
        return Err(malformed("too many elements"));
    }
    elements
        .iter()
        .map(|e| match e {
            Value::Object(_) => {
                serde_json::from_value(e.clone()).map_err(|_| malformed("an element is unreadable"))
            }
            Value::String(_) => Err(malformed("elements not embedded (bare URLs)")),
            _ => Err(malformed("an element is not an object")),
        })
        .collect()
}

/// Fetches and reads `/rs/prns/{oid}/kids?embed=(elements)`.
pub async fn fetch_kids(
    http: &EsiaHttp,
    base: &url::Url,
    oid: u64,
    token: &Secret,
) -> Result<Vec<EsiaChild>, KidsError> {
    let url = base
        .join(&format!("{oid}/kids?embed=(elements)"))
        .map_err(|e| KidsError::Malformed(format!("kids URL: {e}")))?;
    let resp = get(http, &url, token).await?;
    let status = resp.status();
    if status.is_server_error() {
        return Err(EsiaError::Unavailable(format!("children: HTTP {}", status.as_u16())).into());
    }
    if matches!(status.as_u16(), 401 | 403) {
        tracing::info!(
            status = status.as_u16(),
            "ESIA refused /kids; children unknown"
        );
        return Err(KidsError::NotGranted(status.as_u16()));
    }
    if !status.is_success() {
        return Err(KidsError::Malformed(format!("HTTP {}", status.as_u16())));
    }
    parse_kids(resp.body())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(body: &str) -> String {
        match parse_kids(body.as_bytes()) {
            Ok(kids) => format!("ok {}", kids.len()),
            Err(e) => e.kind().to_string(),
        }
    }

    #[test]
    fn every_shape_of_answer_gets_children_or_a_typed_error() {
        let kid = r#"{"id":1,"lastName":"Иванов","firstName":"Дмитрий","middleName":"Алексеевич","birthDate":"12.04.2015","snils":"000-000-600 06"}"#;
        for (body, want) in [
            (format!(r#"{{"size":1,"elements":[{kid}]}}"#), "ok 1"),
            (format!("\u{feff}{{\"elements\":[{kid},{kid}]}}"), "ok 2"),
            (r#"{"stateFacts":["hasSize"],"size":0}"#.into(), "ok 0"),
            (r#"{"size":0,"elements":[]}"#.into(), "ok 0"),
            (r#"{"elements":[{"id":"7"}]}"#.into(), "ok 1"),
            (r#"{"size":2}"#.into(), "esia-kids-malformed"),
            (r#"{}"#.into(), "esia-kids-malformed"),
            (r#"{"elements":"x"}"#.into(), "esia-kids-malformed"),
            (
                r#"{"elements":["https://esia/rs/prns/1/kids/1"]}"#.into(),
                "esia-kids-malformed",
            ),
            (r#"{"elements":[1]}"#.into(), "esia-kids-malformed"),
            ("[]".into(), "esia-kids-malformed"),
            ("<html>".into(), "esia-kids-malformed"),
            (String::new(), "esia-kids-malformed"),
            (
                format!(r#"{{"elements":[{}]}}"#, vec!["{}"; 65].join(",")),
                "esia-kids-malformed",
            ),
        ] {
            assert_eq!(kinds(&body), want, "{body}");
        }
    }

    #[test]
    fn a_child_reads_its_name_and_birth_date_leniently() {
        let kids = parse_kids(
            r#"{"elements":[{"lastName":"Петров","firstName":"Алексей","birthDate":"03.02.2011"},
                            {"lastName":5,"birthDate":"soon"}]}"#
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(
            kids[0].name().unwrap().to_string(),
            "ПЕТРОВ АЛЕКСЕЙ",
            "no middle name given"
        );
        assert_eq!(kids[0].birth_date(), NaiveDate::from_ymd_opt(2011, 2, 3));
        assert!(kids[1].name().is_err());
        assert_eq!(kids[1].birth_date(), None);
    }
}
