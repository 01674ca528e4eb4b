//! The gateway's ESIA client: the only place that knows ESIA's quirks.
//!
//! A login's journey through this module:
//! 1. [`EsiaClient::authorization_request`] signs the /ac string ([`request`], [`signer`])
//!    and gives the URL to redirect the browser to;
//! 2. ESIA redirects back with `code` (or an error: [`EsiaError::from_answer`]);
//! 3. [`EsiaClient::exchange_code`] exchanges the code ([`token`]), verifies both tokens
//!    ([`verify`]), fetches person data and derives the account level ([`person`]);
//! 4. at linking, [`EsiaClient::children`] lists a parent's children ([`kids`]) when
//!    `[esia] children = true` asked for them.
//!
//! Config ([`config`]) keeps every host, path and key configurable, so the same code talks
//! to the mock and to real ESIA.

mod answer;
pub mod config;
pub mod errors;
pub mod http;
pub mod kids;
pub mod person;
pub mod request;
pub mod signer;
pub mod token;
pub mod verify;

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use url::Url;
use uuid::Uuid;

pub use config::{EsiaConfig, EsiaFile, SignerConfig};
pub use errors::{EsiaError, EsiaErrorCode};
pub use kids::{EsiaChild, KidsError};
pub use person::{AccountLevel, account_level};
pub use signer::{CommandSigner, DemoSigner, SignError, Signer};
pub use verify::{SbjClaims, VerifyError};

use crate::identity::names::{PersonName, parse_birth_date};
use crate::secret::Secret;

/// Why the client could not be built (startup, never a request path).
#[derive(Debug, thiserror::Error)]
pub enum EsiaSetupError {
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    #[error(transparent)]
    Keys(#[from] VerifyError),
}

/// A successful, verified ESIA login.
#[derive(Debug, Clone)]
pub struct VerifiedLogin {
    pub oid: u64,
    pub level: AccountLevel,
    /// "Фамилия Имя Отчество", for display only.
    pub full_name: String,
    /// The same name in comparable form, for the identity check at linking; `None`
    /// when ESIA gave no last or first name.
    pub person_name: Option<PersonName>,
    /// Birth date, when ESIA gave a readable one (scope `birthdate`).
    pub birth_date: Option<NaiveDate>,
    /// ESIA session id (`urn:esia:sid`), when given.
    pub sid: Option<String>,
    /// Kept only if the session store wants them (encrypted at rest).
    pub tokens: EsiaTokens,
}

#[derive(Debug, Clone)]
pub struct EsiaTokens {
    pub access_token: Secret,
    pub id_token: Secret,
    pub refresh_token: Option<Secret>,
    /// access_token `exp`, seconds since the epoch.
    pub expires_at: i64,
}

pub struct EsiaClient {
    config: EsiaConfig,
    signer: Arc<dyn Signer>,
    http: http::EsiaHttp,
    verifier: verify::Verifier,
}

impl EsiaClient {
    /// Loads the token keys and builds the HTTPS client.
    pub fn new(config: EsiaConfig, signer: Arc<dyn Signer>) -> Result<Self, EsiaSetupError> {
        let keys = verify::load_keys(&config.token_keys)?;
        let verifier = verify::Verifier::new(
            keys,
            &config.algorithms,
            &config.expected_issuer,
            &config.client_id,
            config.leeway,
        )?;
        let http = http::EsiaHttp::new(&config)?;
        Ok(Self {
            config,
            signer,
            http,
            verifier,
        })
    }

    pub fn config(&self) -> &EsiaConfig {
        &self.config
    }

    /// The signed URL that sends the browser to ESIA's login.
    pub async fn authorization_request(
        &self,
        state: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Url, SignError> {
        let ts = request::timestamp(now);
        let signature = self
            .signer
            .sign(request::ac_string(&self.config, &state, &ts).as_bytes())
            .await?;
        let secret = request::encode_secret(&signature);
        Ok(request::authorization_url(
            &self.config,
            &state,
            &ts,
            &secret,
        ))
    }

    /// Code → tokens → verified claims → person data → level, in one call.
    pub async fn exchange_code(
        &self,
        code: &str,
        now: DateTime<Utc>,
    ) -> Result<VerifiedLogin, EsiaError> {
        if code.is_empty() || code.len() > verify::MAX_TOKEN_BYTES {
            return Err(EsiaError::from_answer(
                "invalid_request",
                "ESIA-007011: bad authorization code",
            ));
        }
        let raw =
            token::exchange(&self.config, &self.http, self.signer.as_ref(), code, now).await?;
        let claims =
            self.verifier
                .verify_pair(raw.access_token.expose(), raw.id_token.expose(), now)?;
        let person = person::fetch_person(
            &self.http,
            &self.config.person_url,
            claims.oid,
            &raw.access_token,
        )
        .await?;
        if person.is_deleted() {
            return Err(EsiaError::AccountDeleted);
        }
        // /docs only tells standard from simplified: skip it for confirmed and child
        // accounts, and when `id_doc` was visibly not granted (ESIA would answer 403).
        let confirmed = person.trusted == Some(true) && claims.sbj.is_tru == Some(true);
        let child = claims
            .sbj
            .lvl
            .as_deref()
            .is_some_and(|l| l.eq_ignore_ascii_case("KD"));
        let id_doc_granted = claims.scope.is_empty() || claims.scope.iter().any(|s| s == "id_doc");
        let need_docs = !confirmed && !child && person.r_id_doc.is_some() && id_doc_granted;
        let docs = if need_docs {
            person::fetch_docs(
                &self.http,
                &self.config.person_url,
                claims.oid,
                &raw.access_token,
            )
            .await?
        } else {
            None
        };
        let level = account_level(&person, docs.as_deref(), &claims.sbj);
        Ok(VerifiedLogin {
            oid: claims.oid,
            level,
            full_name: person.full_name(),
            person_name: PersonName::from_parts(
                person.last_name.as_deref().unwrap_or_default(),
                person.first_name.as_deref().unwrap_or_default(),
                person.middle_name.as_deref(),
            )
            .ok(),
            birth_date: person.birth_date.as_deref().and_then(parse_birth_date),
            sid: claims.sid,
            tokens: EsiaTokens {
                access_token: raw.access_token,
                id_token: raw.id_token,
                refresh_token: raw.refresh_token,
                expires_at: claims.access_expires_at,
            },
        })
    }

    /// The children of the person `oid` ([`kids`]), with the access token of that
    /// person's login. [`KidsError::NotRequested`] without a request when
    /// `[esia] children` is off; [`KidsError::NotGranted`] when ESIA refuses the scope.
    pub async fn children(
        &self,
        oid: u64,
        access_token: &Secret,
    ) -> Result<Vec<EsiaChild>, KidsError> {
        if !self.config.children {
            return Err(KidsError::NotRequested);
        }
        kids::fetch_kids(&self.http, &self.config.person_url, oid, access_token).await
    }

    /// ESIA single logout, back to `redirect_url` (registered on ESIA).
    pub fn logout_url(&self, redirect_url: &Url) -> Url {
        request::logout_url(&self.config, redirect_url)
    }
}
