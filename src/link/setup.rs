//! Builds the link service from the validated config and the pieces the login service
//! already made (store, session service, identity provider), so both share one store
//! and one session cache. Called once at start, after `login::setup`.
//!
//! `None` (with a warning) when linking cannot work: `form` mode without a `[vault]`
//! key has nowhere to keep the diary passwords and jars.

use std::sync::Arc;

use super::{Link, LinkError, LinkParts};
use crate::clock::SharedClock;
use crate::config::GatewayConfig;
use crate::diary::config::SignInMode;
use crate::diary::vault::{Keyring, Vault, VaultError};
use crate::login::IdentityProvider;
use crate::proxy::upstream::Upstream;
use crate::session::Sessions;
use crate::store::SharedStore;

#[derive(Debug, thiserror::Error)]
pub enum LinkSetupError {
    #[error(transparent)]
    Login(#[from] crate::login::setup::SetupError),
    #[error("vault: {0}")]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Link(#[from] LinkError),
    #[error("diary client: {0}")]
    Upstream(#[from] crate::tls::TlsError),
}

/// What the login setup already built and the link service shares.
pub struct Shared {
    pub store: SharedStore,
    pub sessions: Arc<Sessions>,
    pub idp: Arc<dyn IdentityProvider>,
    pub clock: SharedClock,
}

pub fn from_config(
    config: &GatewayConfig,
    shared: Shared,
) -> Result<Option<Arc<Link>>, LinkSetupError> {
    let vault = match &config.vault {
        Some(paths) => {
            let keys = Keyring::from_files(&paths.active, &paths.older)?;
            Some(Arc::new(Vault::new(
                shared.store.clone(),
                keys,
                shared.clock.clone(),
            )))
        }
        None => None,
    };
    if vault.is_none() && matches!(config.diary.mode, SignInMode::Form) {
        tracing::warn!("no [vault] key: linking and diary sign-in are disabled");
        return Ok(None);
    }
    // Its own pooled client: the proxy's is built later, inside `Gateway::start`.
    let metrics = Arc::new(crate::metrics::Metrics::new());
    let upstream = Upstream::new(config, metrics)?;
    let link = Link::new(LinkParts {
        settings: config.linking.clone(),
        diary: config.diary.clone(),
        prefix: config.login.prefix.clone(),
        session_cookie: crate::session::SESSION_COOKIE.to_owned(),
        language: config.pages.language,
        public_url: config.listen.public_url.clone(),
        flow_ttl: config.login.flow_ttl,
        store: shared.store,
        sessions: shared.sessions,
        vault,
        upstream,
        idp: shared.idp,
        clock: shared.clock,
    })?;
    tracing::info!(mode = ?config.diary.mode, "linking enabled");
    Ok(Some(Arc::new(link)))
}

/// The login service and, when configured, the link service on the same store, session
/// cache and ESIA client: what `Gateway::start` runs with. `(None, None)` without
/// `[esia]`. Mirrors `login::setup::from_config_with_clock`, keeping the pieces the
/// link service shares.
pub async fn login_and_link(
    config: &GatewayConfig,
    clock: SharedClock,
) -> Result<(Option<Arc<crate::login::Login>>, Option<Arc<Link>>), LinkSetupError> {
    use crate::login::adapters::{EsiaProvider, StoreBackend};
    use crate::login::setup::SetupError;
    let Some(esia) = &config.esia else {
        return Ok((None, None));
    };
    let store = crate::login::setup::open_store(&config.store)
        .await
        .map_err(SetupError::from)?;
    let sessions = Arc::new(Sessions::new(
        store.clone(),
        clock.clone(),
        config.session.policy.clone(),
    ));
    sessions.spawn_purge(config.session.purge_interval);
    let signer = crate::esia::signer::from_config(&esia.signer).map_err(SetupError::from)?;
    let client = crate::esia::EsiaClient::new(esia.clone(), signer).map_err(SetupError::from)?;
    let idp: Arc<dyn IdentityProvider> = Arc::new(EsiaProvider::new(Arc::new(client)));
    let settings = crate::login::LoginSettings {
        prefix: config.login.prefix.clone(),
        cookies: crate::login::cookies::CookieNames::default(),
        flow_ttl: config.login.flow_ttl,
        language: config.pages.language,
        public_url: config.listen.public_url.clone(),
        legacy_login_url: config.login.legacy_login_url.clone(),
    };
    let backend = Arc::new(StoreBackend::new(
        store.clone(),
        sessions.clone(),
        clock.clone(),
    ));
    let login = crate::login::Login::new(settings, idp.clone(), backend, clock.clone())
        .map_err(SetupError::from)?;
    let link = from_config(
        config,
        Shared {
            store,
            sessions,
            idp,
            clock,
        },
    )?;
    let login = match &link {
        Some(l) => login.with_link(l.clone()),
        None => login,
    };
    Ok((Some(Arc::new(login)), link))
}
