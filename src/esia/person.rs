//! Person data and the account level. `/rs/prns/{oid}` says whether the account is
//! trusted and which document is the main one (`rIdDoc`); `/rs/prns/{oid}/docs` says
//! whether that document was verified. [`account_level`] is the one rule that turns
//! them into confirmed / standard / simplified / child. Parsing is lenient: unknown
//! fields are ignored and missing ones lower the level. SNILS and document numbers are
//! not even deserialised, so they cannot be logged or kept.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::errors::EsiaError;
use super::http::{EsiaHttp, HttpError};
use super::verify::SbjClaims;
use crate::secret::Secret;

/// The account level the gateway enforces per role: the one identity vocabulary's.
pub use crate::identity::AccountLevel;

/// `/rs/prns/{oid}`, only what the gateway needs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Person {
    #[serde(deserialize_with = "lenient_string")]
    pub first_name: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub last_name: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub middle_name: Option<String>,
    /// `DD.MM.YYYY` (scope `birthdate`).
    #[serde(deserialize_with = "lenient_string")]
    pub birth_date: Option<String>,
    #[serde(deserialize_with = "lenient_bool")]
    pub trusted: Option<bool>,
    #[serde(deserialize_with = "lenient_string")]
    pub status: Option<String>,
    #[serde(deserialize_with = "lenient_bool")]
    pub verifying: Option<bool>,
    #[serde(rename = "rIdDoc", deserialize_with = "lenient_id")]
    pub r_id_doc: Option<u64>,
}

/// One identity document, without series or number.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Doc {
    #[serde(deserialize_with = "lenient_id")]
    pub id: Option<u64>,
    #[serde(rename = "type", deserialize_with = "lenient_string")]
    pub doc_type: Option<String>,
    #[serde(rename = "vrfStu", deserialize_with = "lenient_string")]
    pub vrf_stu: Option<String>,
}

impl Person {
    /// "Last First Middle", as Russians write a full name; empty parts skipped.
    pub fn full_name(&self) -> String {
        [&self.last_name, &self.first_name, &self.middle_name]
            .into_iter()
            .flatten()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn is_deleted(&self) -> bool {
        self.status
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("DELETED"))
    }
}

/// The level rule. Confirmed needs both ESIA's person data (`trusted`) and the id_token
/// (`is_tru`) to agree; standard needs the main document (`rIdDoc`) verified; anything
/// missing or contradictory gives the lower level. Deleted accounts are refused earlier.
pub fn account_level(person: &Person, docs: Option<&[Doc]>, sbj: &SbjClaims) -> AccountLevel {
    if sbj
        .lvl
        .as_deref()
        .is_some_and(|l| l.eq_ignore_ascii_case("KD"))
    {
        return AccountLevel::Child;
    }
    let lvl_says_plain = sbj
        .lvl
        .as_deref()
        .is_some_and(|l| l.eq_ignore_ascii_case("P"));
    if person.trusted == Some(true) && sbj.is_tru == Some(true) && !lvl_says_plain {
        return AccountLevel::Confirmed;
    }
    let verified_main_doc = person.r_id_doc.is_some_and(|main| {
        docs.unwrap_or_default().iter().any(|d| {
            d.id == Some(main)
                && matches!(d.doc_type.as_deref(), Some("RF_PASSPORT" | "FID_DOC"))
                && d.vrf_stu.as_deref() == Some("VERIFIED")
        })
    });
    if verified_main_doc {
        AccountLevel::Standard
    } else {
        AccountLevel::Simplified
    }
}

/// `/docs` either as embedded objects or as bare URLs (then no level evidence).
pub fn parse_docs(body: &[u8]) -> Option<Vec<Doc>> {
    let v: Value = serde_json::from_slice(super::answer::strip_bom(body)).ok()?;
    let elements = v.get("elements")?.as_array()?;
    Some(
        elements
            .iter()
            .filter(|e| e.is_object())
            .filter_map(|e| serde_json::from_value(e.clone()).ok())
            .collect(),
    )
}

fn person_error(e: HttpError) -> EsiaError {
    match e {
        HttpError::Timeout => EsiaError::Timeout,
        HttpError::Connect(d) => EsiaError::Unavailable(d),
        other => EsiaError::BadResponse(other.to_string()),
    }
}

pub(super) async fn get(
    http: &EsiaHttp,
    url: &url::Url,
    token: &Secret,
) -> Result<http::Response<Vec<u8>>, EsiaError> {
    let req = http::Request::get(url.as_str())
        .header(
            http::header::AUTHORIZATION,
            format!("Bearer {}", token.expose()),
        )
        .header(http::header::ACCEPT, "application/json")
        .body(Vec::new())
        .map_err(|e| EsiaError::BadResponse(format!("request: {e}")))?;
    http.send(req).await.map_err(person_error)
}

/// Fetches `/rs/prns/{oid}`.
pub async fn fetch_person(
    http: &EsiaHttp,
    base: &url::Url,
    oid: u64,
    token: &Secret,
) -> Result<Person, EsiaError> {
    let url = base
        .join(&format!("{oid}"))
        .map_err(|e| EsiaError::BadResponse(format!("person URL: {e}")))?;
    let resp = get(http, &url, token).await?;
    let status = resp.status();
    if status.is_server_error() {
        return Err(EsiaError::Unavailable(format!(
            "person data: HTTP {}",
            status.as_u16()
        )));
    }
    if !status.is_success() {
        return Err(EsiaError::PersonRefused(status.as_u16()));
    }
    // Parse to a Value first: serde would accept a JSON array as a struct.
    match serde_json::from_slice::<Value>(super::answer::strip_bom(resp.body())) {
        Ok(v @ Value::Object(_)) => serde_json::from_value(v)
            .map_err(|_| EsiaError::BadResponse("person data unreadable".into())),
        _ => Err(EsiaError::BadResponse(
            "person data is not a JSON object".into(),
        )),
    }
}

/// Fetches `/rs/prns/{oid}/docs?embed=(elements)`. Refusals (403: `id_doc` not granted)
/// and garbage give `None`, which the level rule reads as "not verified".
pub async fn fetch_docs(
    http: &EsiaHttp,
    base: &url::Url,
    oid: u64,
    token: &Secret,
) -> Result<Option<Vec<Doc>>, EsiaError> {
    let url = base
        .join(&format!("{oid}/docs?embed=(elements)"))
        .map_err(|e| EsiaError::BadResponse(format!("docs URL: {e}")))?;
    let resp = get(http, &url, token).await?;
    if !resp.status().is_success() {
        tracing::info!(
            status = resp.status().as_u16(),
            "ESIA refused /docs; level evidence missing"
        );
        return Ok(None);
    }
    Ok(parse_docs(resp.body()))
}

pub(super) fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        _ => None,
    })
}

fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Bool(b) => Some(b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    })
}

pub(super) fn lenient_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}
