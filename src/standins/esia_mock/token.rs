//! `POST /aas/oauth2/v3/te`: the code-for-tokens exchange.
//!
//! Order: client_id known (007002) → every parameter present (007014) and well-formed
//! (grant_type 007012, token_type / state 007003) → redirect_uri registered (007023) →
//! certificate hash (007005) → timestamp (007015) → client_secret over
//! `client_id+scope+scope_org+timestamp+state+redirect_uri+code` (007053) → the code:
//! known, unexpired, issued to this client for this redirect_uri and scope (007011; it is
//! used up by the attempt) → the state must be fresh, not the /ac one (007003). Every
//! refusal is HTTP 400 JSON. Faults: delay and 5xx before processing (the code survives),
//! malformed JSON and a wrong state echo after it.

use bytes::Bytes;
use http::StatusCode;
use serde_json::json;

use super::client_auth::{authenticate, check_state};
use super::codes::{Code, EsiaError};
use super::faults::fire;
use super::respond::{Params, Resp, error_json, json, malformed_json, text};
use super::state::{AccessGrant, Shared, random_id};
use super::tokens::{self, Grant};

/// Parameters /te must carry besides client_id, in the order checked.
const REQUIRED: [&str; 9] = [
    "code",
    "grant_type",
    "client_certificate_hash",
    "client_secret",
    "state",
    "redirect_uri",
    "scope",
    "timestamp",
    "token_type",
];

pub async fn exchange(shared: &Shared, body: Option<Bytes>) -> Resp {
    shared.book().counters.te_requests += 1;
    let (delay, status) = {
        let mut f = shared.faults();
        (fire(&mut f.te_delay), fire(&mut f.te_status))
    };
    if let Some(d) = delay {
        tokio::time::sleep(std::time::Duration::from_millis(d.ms)).await;
    }
    if let Some(s) = status {
        let code = StatusCode::from_u16(s.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        return text(code, "Service Temporarily Unavailable");
    }
    let parsed = body
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .ok_or_else(|| EsiaError::invalid("body"))
        .and_then(|s| Params::parse(&s).map_err(|name| EsiaError::invalid(&name)));
    let params = match parsed {
        Ok(p) => p,
        Err(err) => return refuse(shared, &err, None),
    };
    shared.book().counters.last_te = Some(params.to_map());
    match process(shared, &params).await {
        Ok(resp) => resp,
        Err(err) => refuse(shared, &err, params.get("state")),
    }
}

fn refuse(shared: &Shared, err: &EsiaError, state: Option<&str>) -> Resp {
    shared.book().error(err.code.number());
    error_json(err, state)
}

async fn process(shared: &Shared, params: &Params) -> Result<Resp, EsiaError> {
    let client_id = params.require("client_id")?;
    let client = shared
        .clients
        .get(client_id)
        .ok_or_else(|| EsiaError::new(Code::E007002))?;
    for name in REQUIRED {
        params.require(name)?;
    }
    let value = |name: &str| params.get(name).unwrap_or_default();
    if value("grant_type") != "authorization_code" {
        return Err(EsiaError::with(Code::E007012, "grant_type"));
    }
    if value("token_type") != "Bearer" {
        return Err(EsiaError::invalid("token_type"));
    }
    if !client.allows_redirect(value("redirect_uri")) {
        return Err(EsiaError::new(Code::E007023));
    }
    check_state(value("state"))?;
    let code = value("code");
    let message = format!(
        "{client_id}{}{}{}{}{}{code}",
        value("scope"),
        value("scope_org"),
        value("timestamp"),
        value("state"),
        value("redirect_uri"),
    );
    authenticate(shared, client, params, &message).await?;

    let now = shared.now();
    let grant = shared.book().codes.remove(code);
    let invalid = |why: &str| EsiaError::with(Code::E007011, why);
    let grant = grant.ok_or_else(|| invalid("code"))?;
    if grant.expires <= now {
        return Err(invalid("expired"));
    }
    if grant.client_id != client_id || grant.redirect_uri != value("redirect_uri") {
        return Err(invalid("client_id/redirect_uri"));
    }
    if grant.scope_raw != value("scope") {
        return Err(invalid("scope"));
    }
    if grant.ac_state == value("state") {
        return Err(EsiaError::with(Code::E007003, "state must be fresh"));
    }
    let persona = shared
        .persona(&grant.persona)
        .ok_or_else(|| invalid("subject"))?;

    let (token_faults, malformed, wrong_state) = {
        let mut f = shared.faults();
        (
            f.take_token_faults(),
            fire(&mut f.te_malformed_json).is_some(),
            fire(&mut f.wrong_state).is_some(),
        )
    };
    let issued = tokens::issue(
        &shared.keys,
        &Grant {
            client_id,
            persona,
            scopes: &grant.scopes,
            sid: &grant.sid,
            auth_time: grant.auth_time,
            now,
            lifetime_secs: shared.token_lifetime_secs,
            issuer: &shared.issuer,
        },
        token_faults,
    )
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "ESIA mock cannot sign tokens");
        EsiaError::with(Code::E007011, "signing failed")
    })?;
    {
        let mut book = shared.book();
        book.prune(now);
        book.access.insert(
            issued.access_token.clone(),
            AccessGrant {
                persona: grant.persona.clone(),
                scopes: grant.scopes.clone(),
                expires: issued.expires,
            },
        );
        book.counters.tokens_issued += 1;
    }
    if malformed {
        return Ok(malformed_json());
    }
    let state = if wrong_state {
        uuid::Uuid::new_v4().to_string()
    } else {
        value("state").to_string()
    };
    Ok(json(
        StatusCode::OK,
        &json!({
            "access_token": issued.access_token,
            "id_token": issued.id_token,
            "refresh_token": random_id(),
            "state": state,
            "token_type": "Bearer",
            "expires_in": shared.token_lifetime_secs,
        }),
    ))
}
