//! `GET /aas/oauth2/v2/ac` and the login form behind it.
//!
//! Checks run in a fixed order: client_id known (007002, error page) → redirect_uri
//! registered (007023, error page: an unregistered address must never receive the
//! browser) → every required parameter present (007014) and well-formed (007003 /
//! 007006 / 007012) → certificate hash known for the client (007005) → timestamp
//! (007015) → client_secret (007053). From the redirect_uri check on, refusals go back
//! to the RP the ESIA way. Then: a browser with a live SSO session gets its code at once;
//! anyone else gets the persona page, and the flow's parameters wait server-side in a
//! pending authorization whose id is the only thing the form carries.

use bytes::Bytes;
use http::{HeaderMap, StatusCode};

use super::client_auth::{authenticate, check_state, scopes};
use super::codes::{Code, EsiaError};
use super::pages;
use super::personas::DECLINE;
use super::respond::{
    self, Params, Resp, SSO_COOKIE, error_redirect, html, redirect, set_cookie, with_query,
};
use super::state::{CodeGrant, Pending, Shared, SsoSession, random_id};
use super::tokens;

/// Parameters /ac must carry besides client_id and redirect_uri, in the order checked.
const REQUIRED: [&str; 7] = [
    "client_secret",
    "client_certificate_hash",
    "scope",
    "response_type",
    "state",
    "timestamp",
    "access_type",
];

/// How an /ac request is refused: on the mock's own page, or back at the RP.
enum Refuse {
    Page(EsiaError),
    Back {
        redirect_uri: String,
        err: EsiaError,
        state: Option<String>,
    },
}

/// Error page for refusals that must not redirect; records the code.
pub fn refuse_on_page(shared: &Shared, err: &EsiaError) -> Resp {
    shared.book().error(err.code.number());
    html(StatusCode::BAD_REQUEST, pages::error_page(err))
}

/// Redirect back with `error`; records the code.
pub fn refuse_back(
    shared: &Shared,
    redirect_uri: &str,
    err: &EsiaError,
    state: Option<&str>,
) -> Resp {
    shared.book().error(err.code.number());
    error_redirect(redirect_uri, err, state)
}

pub async fn authorize(shared: &Shared, query: &str, headers: &HeaderMap) -> Resp {
    let params = match Params::parse(query) {
        Ok(p) => p,
        Err(name) => return refuse_on_page(shared, &EsiaError::invalid(&name)),
    };
    {
        let mut book = shared.book();
        book.counters.ac_requests += 1;
        book.counters.last_ac = Some(params.to_map());
    }
    match check(shared, &params).await {
        Ok(pending) => proceed(shared, pending, headers).await,
        Err(Refuse::Page(err)) => refuse_on_page(shared, &err),
        Err(Refuse::Back {
            redirect_uri,
            err,
            state,
        }) => refuse_back(shared, &redirect_uri, &err, state.as_deref()),
    }
}

async fn check(shared: &Shared, params: &Params) -> Result<Pending, Refuse> {
    let client_id = params.require("client_id").map_err(Refuse::Page)?;
    let client = shared
        .clients
        .get(client_id)
        .ok_or_else(|| Refuse::Page(EsiaError::new(Code::E007002)))?;
    let redirect_uri = params.require("redirect_uri").map_err(Refuse::Page)?;
    if !client.allows_redirect(redirect_uri) {
        return Err(Refuse::Page(EsiaError::new(Code::E007023)));
    }
    let back = |err| Refuse::Back {
        redirect_uri: redirect_uri.to_string(),
        err,
        state: params.get("state").map(str::to_string),
    };
    for name in REQUIRED {
        params.require(name).map_err(back)?;
    }
    let value = |name: &str| params.get(name).unwrap_or_default();
    if value("response_type") != "code" {
        return Err(back(EsiaError::with(Code::E007012, "response_type")));
    }
    if !matches!(value("access_type"), "online" | "offline") {
        return Err(back(EsiaError::invalid("access_type")));
    }
    let scope_words = scopes(value("scope")).map_err(back)?;
    check_state(value("state")).map_err(back)?;
    let message = format!(
        "{client_id}{}{}{}{}{redirect_uri}",
        value("scope"),
        value("scope_org"),
        value("timestamp"),
        value("state")
    );
    authenticate(shared, client, params, &message)
        .await
        .map_err(back)?;
    Ok(Pending {
        client_id: client_id.to_string(),
        redirect_uri: redirect_uri.to_string(),
        scopes: scope_words,
        scope_raw: value("scope").to_string(),
        state: value("state").to_string(),
        created: shared.now(),
    })
}

/// A checked request: code at once for a live SSO session, else the login page.
async fn proceed(shared: &Shared, pending: Pending, headers: &HeaderMap) -> Resp {
    let sso = respond::cookie(headers, SSO_COOKIE)
        .and_then(|id| shared.book().sso.get(&id).cloned())
        .filter(|s| shared.persona(&s.persona).is_some());
    if let Some(session) = sso {
        return issue_code(shared, &pending, &session).await;
    }
    let id = random_id();
    let page = pages::login_page(
        &id,
        &pending.client_id,
        &pending.scope_raw,
        &shared.personas,
    );
    let mut book = shared.book();
    book.prune(shared.now());
    book.pending.insert(id, pending);
    book.counters.login_pages += 1;
    html(StatusCode::OK, page)
}

/// `POST /aas/oauth2/v2/ac/login`: fields `pending` and `persona` (or `decline`).
pub async fn login(shared: &Shared, body: Option<Bytes>) -> Resp {
    let Some(params) = body
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .and_then(|s| Params::parse(&s).ok())
    else {
        return refuse_on_page(shared, &EsiaError::invalid("form"));
    };
    let persona = params.get("persona").unwrap_or_default();
    let declined = persona == DECLINE || params.get("action") == Some(DECLINE);
    if !declined && shared.persona(persona).is_none() {
        return html(
            StatusCode::BAD_REQUEST,
            pages::message_page(
                "Неизвестная учетная запись",
                "Выберите учетную запись из списка.",
            ),
        );
    }
    let now = shared.now();
    let pending = {
        let mut book = shared.book();
        book.prune(now);
        params.get("pending").and_then(|id| book.pending.remove(id))
    };
    let Some(pending) = pending else {
        return html(
            StatusCode::BAD_REQUEST,
            pages::message_page(
                "Страница входа устарела",
                "Вернитесь в систему, с которой вы пришли, и начните вход заново.",
            ),
        );
    };
    if declined {
        let err = EsiaError::new(Code::E007004);
        return refuse_back(shared, &pending.redirect_uri, &err, Some(&pending.state));
    }
    let session_id = random_id();
    let session = SsoSession {
        persona: persona.to_string(),
        sid: random_id(),
        auth_time: now,
    };
    shared
        .book()
        .sso
        .insert(session_id.clone(), session.clone());
    let mut resp = issue_code(shared, &pending, &session).await;
    set_cookie(&mut resp, &respond::sso_cookie(&session_id));
    resp
}

/// Redirects to the RP with a fresh code, or with 007055 if the RP wants confirmed
/// accounts and this one is not.
async fn issue_code(shared: &Shared, pending: &Pending, session: &SsoSession) -> Resp {
    let Some(persona) = shared.persona(&session.persona) else {
        return refuse_on_page(shared, &EsiaError::invalid("persona"));
    };
    let require_confirmed = shared
        .clients
        .get(&pending.client_id)
        .is_some_and(|c| c.reg.require_confirmed);
    if require_confirmed && !persona.trusted {
        let err = EsiaError::new(Code::E007055);
        return refuse_back(shared, &pending.redirect_uri, &err, Some(&pending.state));
    }
    let now = shared.now();
    let code = match tokens::code(
        &shared.keys,
        &pending.client_id,
        persona.oid,
        now,
        shared.code_ttl_secs,
    )
    .await
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "ESIA mock cannot sign a code");
            return respond::text(StatusCode::INTERNAL_SERVER_ERROR, "cannot sign");
        }
    };
    let Some(location) = with_query(
        &pending.redirect_uri,
        &[("code", &code), ("state", &pending.state)],
    ) else {
        return refuse_on_page(shared, &EsiaError::new(Code::E007023));
    };
    let mut book = shared.book();
    book.prune(now);
    book.codes.insert(
        code,
        CodeGrant {
            client_id: pending.client_id.clone(),
            redirect_uri: pending.redirect_uri.clone(),
            scope_raw: pending.scope_raw.clone(),
            scopes: pending.scopes.clone(),
            ac_state: pending.state.clone(),
            persona: session.persona.clone(),
            sid: session.sid.clone(),
            auth_time: session.auth_time,
            expires: now + chrono::TimeDelta::seconds(shared.code_ttl_secs),
        },
    );
    book.counters.codes_issued += 1;
    redirect(&location)
}
