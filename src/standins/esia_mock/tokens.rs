//! Building ESIA's JWTs: the authorization code, the access token and the id_token, with
//! ESIA's header (`ver`, `sbt`) and claims (see ESIA.md "Tokens"). Token-shaping faults
//! (expired, wrong key, wrong iss/aud, `alg: none`) are applied here and nowhere else.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::faults::TokenFaults;
use super::keys::{KeyGenError, TokenKeys};
use super::personas::Persona;

/// What an issued token says; the same for the access token and the id_token.
pub struct Grant<'a> {
    pub client_id: &'a str,
    pub persona: &'a Persona,
    pub scopes: &'a [String],
    pub sid: &'a str,
    pub auth_time: DateTime<Utc>,
    pub now: DateTime<Utc>,
    pub lifetime_secs: i64,
    pub issuer: &'a str,
}

/// The pair handed out by /te, with the expiry the mock enforces on /rs.
pub struct Issued {
    pub access_token: String,
    pub id_token: String,
    pub expires: DateTime<Utc>,
}

/// `openid fullname?oid=1000299681 id_doc?oid=1000299681`: every scope but openid
/// carries the subject, as ESIA writes it.
pub fn scope_claim(scopes: &[String], oid: u64) -> String {
    scopes
        .iter()
        .map(|s| {
            if s == "openid" {
                s.clone()
            } else {
                format!("{s}?oid={oid}")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Signs the access token and the id_token for `grant`, shaped by `faults`.
pub async fn issue(
    keys: &TokenKeys,
    grant: &Grant<'_>,
    faults: TokenFaults,
) -> Result<Issued, KeyGenError> {
    let iat = if faults.expired {
        grant.now - chrono::TimeDelta::seconds(grant.lifetime_secs + 600)
    } else {
        grant.now
    };
    let exp = iat + chrono::TimeDelta::seconds(grant.lifetime_secs);
    let iss = if faults.wrong_iss {
        "http://esia.example.invalid/"
    } else {
        grant.issuer
    };
    let aud = if faults.wrong_aud {
        "SOMEONE-ELSE"
    } else {
        grant.client_id
    };
    let p = grant.persona;
    let access = json!({
        "iss": iss,
        "client_id": aud,
        "urn:esia:sbj_id": p.oid,
        "urn:esia:sid": grant.sid,
        "scope": scope_claim(grant.scopes, p.oid),
        "nbf": iat.timestamp(),
        "iat": iat.timestamp(),
        "exp": exp.timestamp(),
    });
    let id = json!({
        "iss": iss,
        "aud": aud,
        "sub": p.oid,
        "nbf": iat.timestamp(),
        "iat": iat.timestamp(),
        "exp": exp.timestamp(),
        "auth_time": grant.auth_time.timestamp(),
        "amr": "PWD",
        "urn:esia:sid": grant.sid,
        "urn:esia:sbj": {
            "urn:esia:sbj:typ": "P",
            "urn:esia:sbj:oid": p.oid,
            "urn:esia:sbj:nam": format!("OID.{}", p.oid),
            "urn:esia:sbj:is_tru": p.trusted,
            "urn:esia:sbj:lvl": p.lvl.code(),
        },
    });
    Ok(Issued {
        access_token: sign(keys, "access", &access, faults).await?,
        id_token: sign(keys, "id", &id, faults).await?,
        expires: exp,
    })
}

/// An authorization code: itself a JWT, as ESIA's are, but the mock treats it as an
/// opaque key into its table.
pub async fn code(
    keys: &TokenKeys,
    client_id: &str,
    oid: u64,
    now: DateTime<Utc>,
    ttl_secs: i64,
) -> Result<String, KeyGenError> {
    let claims = json!({
        "client_id": client_id,
        "urn:esia:sbj_id": oid,
        "iat": now.timestamp(),
        "exp": (now + chrono::TimeDelta::seconds(ttl_secs)).timestamp(),
        "jti": uuid::Uuid::new_v4().to_string(),
    });
    sign(keys, "authorization_code", &claims, TokenFaults::default()).await
}

async fn sign(
    keys: &TokenKeys,
    sbt: &str,
    claims: &Value,
    faults: TokenFaults,
) -> Result<String, KeyGenError> {
    let alg = if faults.alg_none { "none" } else { "RS256" };
    let header = json!({"alg": alg, "typ": "JWT", "ver": 1, "sbt": sbt});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    if faults.alg_none {
        return Ok(format!("{input}."));
    }
    let key = if faults.bad_signature {
        keys.impostor().await?
    } else {
        keys.signing()
    };
    let sig = jsonwebtoken::crypto::sign(input.as_bytes(), key, jsonwebtoken::Algorithm::RS256)
        .map_err(|e| KeyGenError::BadKey(e.to_string()))?;
    Ok(format!("{input}.{sig}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_claim_names_the_subject_except_for_openid() {
        let scopes = vec!["openid".to_string(), "fullname".into(), "id_doc".into()];
        assert_eq!(
            scope_claim(&scopes, 1000299681),
            "openid fullname?oid=1000299681 id_doc?oid=1000299681"
        );
    }
}
