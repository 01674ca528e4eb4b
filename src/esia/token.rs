//! The code → token exchange (v3/te) through the `oauth2` crate. ESIA's dialect adds a
//! fresh `state` per request (echoed back and checked here), a signed `client_secret`
//! over the /te string, the certificate hash, a timestamp and `token_type=Bearer`; its
//! answer carries an `id_token` and the echoed `state` as extra fields.

use chrono::{DateTime, Utc};
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthType, AuthorizationCode, Client, ClientId, EndpointNotSet, EndpointSet, ExtraTokenFields,
    RedirectUrl, RequestTokenError, StandardRevocableToken, StandardTokenResponse, TokenResponse,
    TokenUrl,
};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::config::EsiaConfig;
use super::errors::EsiaError;
use super::http::{EsiaHttp, HttpError};
use super::request::{encode_secret, te_string, timestamp};
use super::signer::Signer;
use crate::secret::Secret;

/// ESIA's additions to the standard token response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EsiaTokenFields {
    #[serde(default)]
    pub id_token: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
}

impl ExtraTokenFields for EsiaTokenFields {}

pub type EsiaTokenResponse = StandardTokenResponse<EsiaTokenFields, BasicTokenType>;

type EsiaOAuthClient = Client<
    BasicErrorResponse,
    EsiaTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// The tokens of one login, still unverified. Secrets never print.
#[derive(Debug, Clone)]
pub struct RawTokens {
    pub access_token: Secret,
    pub id_token: Secret,
    pub refresh_token: Option<Secret>,
    pub expires_in: Option<u64>,
}

fn oauth_client(cfg: &EsiaConfig) -> EsiaOAuthClient {
    Client::new(ClientId::new(cfg.client_id.clone()))
        .set_auth_type(AuthType::RequestBody)
        .set_token_uri(TokenUrl::from_url(cfg.te_url.clone()))
        .set_redirect_uri(RedirectUrl::from_url(cfg.redirect_uri.clone()))
}

/// The HTTP client oauth2 calls for /te. A named type rather than a closure: a closure
/// returning an async block that borrows `EsiaHttp` makes the whole exchange future
/// `!Send` (a higher-ranked lifetime the compiler cannot prove), and the login callback
/// runs on a multi-threaded connection task.
struct TeClient<'a>(&'a EsiaHttp);

impl<'c> oauth2::AsyncHttpClient<'c> for TeClient<'_> {
    type Error = HttpError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<oauth2::HttpResponse, HttpError>> + Send + 'c>,
    >;

    fn call(&'c self, req: oauth2::HttpRequest) -> Self::Future {
        Box::pin(async move {
            let resp = self.0.send(req).await?;
            // 5xx is ESIA being down, not an OAuth error answer.
            if resp.status().is_server_error() {
                return Err(HttpError::ServerStatus(resp.status().as_u16()));
            }
            Ok(super::answer::normalize_token_answer(resp))
        })
    }
}

/// Exchanges `code` for tokens. `now` feeds the signed timestamp.
pub async fn exchange(
    cfg: &EsiaConfig,
    http: &EsiaHttp,
    signer: &dyn Signer,
    code: &str,
    now: DateTime<Utc>,
) -> Result<RawTokens, EsiaError> {
    let state = Uuid::new_v4();
    let ts = timestamp(now);
    let signature = signer
        .sign(te_string(cfg, &state, &ts, code).as_bytes())
        .await?;
    let secret = encode_secret(&signature);
    let client = oauth_client(cfg);
    let send = TeClient(http);
    let answer = client
        .exchange_code(AuthorizationCode::new(code.to_string()))
        .add_extra_param("state", state.to_string())
        .add_extra_param("scope", cfg.scope.clone())
        .add_extra_param("scope_org", cfg.scope_org.clone())
        .add_extra_param("timestamp", ts)
        .add_extra_param("token_type", "Bearer")
        .add_extra_param("client_certificate_hash", cfg.certificate_hash.clone())
        .add_extra_param("client_secret", secret)
        .request_async(&send)
        .await
        .map_err(map_error)?;
    let echoed = answer.extra_fields().state.as_deref().unwrap_or("");
    let expected = state.to_string();
    if !bool::from(echoed.as_bytes().ct_eq(expected.as_bytes())) {
        return Err(EsiaError::StateMismatch);
    }
    let id_token = answer
        .extra_fields()
        .id_token
        .clone()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| EsiaError::BadResponse("token response without id_token".into()))?;
    Ok(RawTokens {
        access_token: Secret::new(answer.access_token().secret().clone()),
        id_token: Secret::new(id_token),
        refresh_token: answer
            .refresh_token()
            .map(|t| Secret::new(t.secret().clone())),
        expires_in: answer.expires_in().map(|d| d.as_secs()),
    })
}

/// oauth2's error → ours. Parse errors keep only the serde path, never the body (it may
/// hold tokens).
fn map_error(e: RequestTokenError<HttpError, BasicErrorResponse>) -> EsiaError {
    match e {
        RequestTokenError::ServerResponse(r) => EsiaError::from_answer(
            r.error().as_ref(),
            r.error_description().map(String::as_str).unwrap_or(""),
        ),
        RequestTokenError::Request(HttpError::Timeout) => EsiaError::Timeout,
        RequestTokenError::Request(HttpError::Connect(d)) => EsiaError::Unavailable(d),
        RequestTokenError::Request(HttpError::ServerStatus(s)) => {
            EsiaError::Unavailable(format!("HTTP {s}"))
        }
        RequestTokenError::Request(other) => EsiaError::BadResponse(other.to_string()),
        RequestTokenError::Parse(err, _) => {
            EsiaError::BadResponse(format!("unparseable JSON at `{}`", err.path()))
        }
        RequestTokenError::Other(s) => EsiaError::BadResponse(s),
    }
}

/// The login callback awaits the exchange on a multi-threaded connection task: keep the
/// whole facade future `Send` (checked at compile time).
#[allow(dead_code)]
fn exchange_future_is_send(client: &super::EsiaClient) {
    fn assert_send<T: Send>(_: T) {}
    assert_send(client.exchange_code("code", chrono::Utc::now()));
}
