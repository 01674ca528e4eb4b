//! `GET /rs/prns/{oid}` and its `/docs`, `/ctts`, `/kids` collections (with
//! `?embed=(elements)`) and their items. Bearer token required: unknown, malformed or
//! expired → 401; another person's OID or a scope not granted → 403 (`/docs` needs
//! `id_doc`; `/ctts` needs `contacts`, or `email` / `mobile` for those kinds only; `/kids`
//! needs `kid_fullname` or `kid_birthdate`). Fields are filtered by scope as ESIA does:
//! names need `fullname` (a kid's `kid_fullname`), `birthDate` `birthdate` (a kid's
//! `kid_birthdate`), and so on.

use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::faults::fire;
use super::personas::{Contact, Doc, Kid, Persona};
use super::respond::{Params, Resp, malformed_json, text};
use super::state::Shared;

/// Scopes that allow reading the person record itself.
const PERSON_SCOPES: [&str; 6] = ["fullname", "birthdate", "gender", "snils", "inn", "id_doc"];

enum Refuse {
    Unauthorized,
    Forbidden,
    NotFound,
}

pub async fn serve(shared: &Shared, path: &str, query: &str, headers: &HeaderMap) -> Resp {
    shared.book().counters.rs_requests += 1;
    let (delay, status) = {
        let mut f = shared.faults();
        (fire(&mut f.rs_delay), fire(&mut f.rs_status))
    };
    if let Some(d) = delay {
        tokio::time::sleep(std::time::Duration::from_millis(d.ms)).await;
    }
    if let Some(s) = status {
        let code = StatusCode::from_u16(s.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        return text(code, "Service Temporarily Unavailable");
    }
    // The person declined the kid_* scopes on ESIA's consent page: /kids is refused.
    let kids_refused = path.trim_end_matches('/').ends_with("/kids")
        && fire(&mut shared.faults().kids_forbidden).is_some();
    let answer = if kids_refused {
        Err(Refuse::Forbidden)
    } else {
        answer(shared, path, query, headers)
    };
    // Counted only on answers that would have been good JSON.
    let (malformed, wrong_shape) = if answer.is_ok() {
        let mut f = shared.faults();
        (
            fire(&mut f.rs_malformed_json).is_some(),
            fire(&mut f.rs_wrong_shape).is_some(),
        )
    } else {
        (false, false)
    };
    match answer {
        Ok(_) if malformed => malformed_json(),
        Ok(_) if wrong_shape => super::respond::json(StatusCode::OK, &json!([])),
        Ok(v) => super::respond::json(StatusCode::OK, &v),
        Err(Refuse::Unauthorized) => {
            let mut r = super::respond::json(
                StatusCode::UNAUTHORIZED,
                &json!({"code": "invalid_token", "message": "Access token is invalid or expired"}),
            );
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
            r
        }
        Err(Refuse::Forbidden) => super::respond::json(
            StatusCode::FORBIDDEN,
            &json!({"code": "insufficient_scope", "message": "Access denied"}),
        ),
        Err(Refuse::NotFound) => text(StatusCode::NOT_FOUND, "Not Found"),
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn answer(shared: &Shared, path: &str, query: &str, headers: &HeaderMap) -> Result<Value, Refuse> {
    let rest = path.strip_prefix("/rs/prns/").ok_or(Refuse::NotFound)?;
    let parts: Vec<&str> = rest.split('/').collect();
    let oid: u64 = parts
        .first()
        .and_then(|s| s.parse().ok())
        .ok_or(Refuse::NotFound)?;
    let token = bearer(headers).ok_or(Refuse::Unauthorized)?;
    let grant = shared
        .book()
        .access
        .get(token)
        .cloned()
        .ok_or(Refuse::Unauthorized)?;
    if grant.expires <= shared.now() {
        return Err(Refuse::Unauthorized);
    }
    let persona = shared.persona(&grant.persona).ok_or(Refuse::Unauthorized)?;
    if persona.oid != oid {
        return Err(Refuse::Forbidden);
    }
    let has = |s: &str| grant.scopes.iter().any(|g| g == s);
    let embed = Params::parse(query)
        .ok()
        .and_then(|p| p.get("embed").map(|e| e == "(elements)"))
        .unwrap_or(false);
    let base = format!("{}/rs/prns/{oid}", shared.public_url);
    match parts.get(1..).unwrap_or_default() {
        [] | [""] if PERSON_SCOPES.iter().any(|s| has(s)) => Ok(person_json(persona, &has)),
        [] | [""] => Err(Refuse::Forbidden),
        ["docs", rest @ ..] if has("id_doc") => {
            let docs: Vec<(u64, Value)> =
                persona.docs.iter().map(|d| (d.id, doc_json(d))).collect();
            collection(&format!("{base}/docs"), docs, rest, embed)
        }
        ["ctts", rest @ ..] if has("contacts") || has("email") || has("mobile") => {
            let visible = |c: &&Contact| {
                has("contacts")
                    || (c.kind == "EML" && has("email"))
                    || (c.kind == "MBT" && has("mobile"))
            };
            let ctts = persona
                .contacts
                .iter()
                .filter(visible)
                .map(|c| (c.id, contact_json(c)))
                .collect();
            collection(&format!("{base}/ctts"), ctts, rest, embed)
        }
        // `kids/{id}/…` is no resource, whatever the scope.
        ["kids", _, _, ..] => Err(Refuse::NotFound),
        ["kids", rest @ ..] if has("kid_fullname") || has("kid_birthdate") => {
            let kids = persona
                .kids
                .iter()
                .map(|k| (k.id, kid_json(k, &has)))
                .collect();
            collection(&format!("{base}/kids"), kids, rest, embed)
        }
        ["docs" | "ctts" | "kids", ..] => Err(Refuse::Forbidden),
        _ => Err(Refuse::NotFound),
    }
}

/// A collection (`rest` empty) or one of its items (`rest` = [id]).
fn collection(
    base: &str,
    items: Vec<(u64, Value)>,
    rest: &[&str],
    embed: bool,
) -> Result<Value, Refuse> {
    match rest {
        [] | [""] => {
            let elements: Vec<Value> = items
                .into_iter()
                .map(|(id, v)| {
                    if embed {
                        v
                    } else {
                        json!(format!("{base}/{id}"))
                    }
                })
                .collect();
            Ok(json!({
                "stateFacts": ["hasSize"],
                "size": elements.len(),
                "eTag": etag(base),
                "elements": elements,
            }))
        }
        [id] => items
            .into_iter()
            .find(|(i, _)| i.to_string() == *id)
            .map(|(_, v)| v)
            .ok_or(Refuse::NotFound),
        _ => Err(Refuse::NotFound),
    }
}

fn etag(seed: &str) -> String {
    hex::encode_upper(&Sha256::digest(seed.as_bytes())[..20])
}

fn person_json(p: &Persona, has: &dyn Fn(&str) -> bool) -> Value {
    let mut v = json!({
        "stateFacts": ["EntityRoot"],
        "eTag": etag(&p.oid.to_string()),
        "trusted": p.trusted,
        "verifying": p.verifying,
        "status": p.status.code(),
        "citizenship": "RUS",
        "updatedOn": 1_546_300_800,
    });
    let mut put = |k: &str, val: Value| {
        if let Some(obj) = v.as_object_mut() {
            obj.insert(k.to_string(), val);
        }
    };
    if has("fullname") {
        put("firstName", json!(p.first_name));
        put("lastName", json!(p.last_name));
        if let Some(m) = &p.middle_name {
            put("middleName", json!(m));
        }
    }
    if has("birthdate") {
        put("birthDate", json!(p.birth_date));
    }
    if has("gender") {
        put("gender", json!(p.gender));
    }
    if let Some(s) = p.snils.as_ref().filter(|_| has("snils")) {
        put("snils", json!(s));
    }
    if let Some(r) = p.r_id_doc {
        put("rIdDoc", json!(r));
    }
    v
}

fn doc_json(d: &Doc) -> Value {
    let mut v = json!({
        "stateFacts": ["EntityRoot"],
        "id": d.id,
        "type": d.kind,
        "vrfStu": d.vrf_stu,
        "eTag": etag(&format!("doc{}", d.id)),
    });
    if let Some(obj) = v.as_object_mut() {
        for (k, val) in [
            ("series", &d.series),
            ("number", &d.number),
            ("issueDate", &d.issue_date),
            ("issueId", &d.issue_id),
            ("issuedBy", &d.issued_by),
        ] {
            if let Some(val) = val {
                obj.insert(k.to_string(), json!(val));
            }
        }
    }
    v
}

fn kid_json(k: &Kid, has: &dyn Fn(&str) -> bool) -> Value {
    let mut v = json!({
        "stateFacts": ["Identifiable"],
        "id": k.id,
        "gender": k.gender,
        "eTag": etag(&format!("kid{}", k.id)),
    });
    if let Some(obj) = v.as_object_mut() {
        if has("kid_fullname") {
            obj.insert("lastName".into(), json!(k.last_name));
            obj.insert("firstName".into(), json!(k.first_name));
            if let Some(m) = &k.middle_name {
                obj.insert("middleName".into(), json!(m));
            }
        }
        if has("kid_birthdate") {
            obj.insert("birthDate".into(), json!(k.birth_date));
        }
    }
    v
}

fn contact_json(c: &Contact) -> Value {
    json!({
        "stateFacts": ["Identifiable"],
        "id": c.id,
        "type": c.kind,
        "vrfStu": c.vrf_stu,
        "value": c.value,
        "eTag": etag(&format!("ctt{}", c.id)),
    })
}
