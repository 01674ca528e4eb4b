//! Builds the login service from the validated config: store (SQLite or PostgreSQL,
//! migrations run at open), session service with its background purge, ESIA client and
//! signer. Called once at start; `None` when `[esia]` is absent (plain proxy).

use std::sync::Arc;

use super::adapters::{EsiaProvider, StoreBackend};
use super::config::StoreConfig;
use super::cookies::CookieNames;
use super::{Login, LoginError, LoginSettings};
use crate::clock::{SharedClock, SystemClock};
use crate::config::GatewayConfig;
use crate::esia::{EsiaClient, EsiaSetupError, SignError, signer};
use crate::session::Sessions;
use crate::store::{SharedStore, StoreError};

/// Why the login service could not start.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("ESIA signer: {0}")]
    Signer(#[from] SignError),
    #[error("ESIA client: {0}")]
    Esia(#[from] EsiaSetupError),
    #[error("login pages: {0}")]
    Login(#[from] LoginError),
}

/// The store the config names, opened (and migrated).
pub async fn open_store(cfg: &StoreConfig) -> Result<SharedStore, StoreError> {
    Ok(match cfg {
        StoreConfig::Sqlite(path) => Arc::new(crate::store::sqlite::SqliteStore::open(path).await?),
        StoreConfig::Postgres(url) => {
            Arc::new(crate::store::postgres::PostgresStore::connect(url.expose()).await?)
        }
    })
}

/// The login service for `config`, on the real clock.
pub async fn from_config(config: &GatewayConfig) -> Result<Option<Arc<Login>>, SetupError> {
    from_config_with_clock(config, Arc::new(SystemClock)).await
}

/// [`from_config`] with an injected clock (session and flow expiry; `demo --at`).
pub async fn from_config_with_clock(
    config: &GatewayConfig,
    clock: SharedClock,
) -> Result<Option<Arc<Login>>, SetupError> {
    let Some(esia) = &config.esia else {
        return Ok(None);
    };
    let store = open_store(&config.store).await?;
    let sessions = Arc::new(Sessions::new(
        store.clone(),
        clock.clone(),
        config.session.policy.clone(),
    ));
    sessions.spawn_purge(config.session.purge_interval);
    let signer = signer::from_config(&esia.signer)?;
    let client = EsiaClient::new(esia.clone(), signer)?;
    let settings = LoginSettings {
        prefix: config.login.prefix.clone(),
        cookies: CookieNames::default(),
        flow_ttl: config.login.flow_ttl,
        language: config.pages.language,
        public_url: config.listen.public_url.clone(),
        legacy_login_url: config.login.legacy_login_url.clone(),
    };
    let login = Login::new(
        settings,
        Arc::new(EsiaProvider::new(Arc::new(client))),
        Arc::new(StoreBackend::new(store, sessions, clock.clone())),
        clock,
    )?;
    tracing::info!(prefix = %config.login.prefix, "ESIA login enabled");
    Ok(Some(Arc::new(login)))
}
