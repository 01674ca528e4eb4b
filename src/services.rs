//! The one assembly: every service the pipeline runs with, built from the validated
//! config. `run` and `demo` start through it ([`crate::server::Gateway::start_at`]), so
//! there is one store (sessions, bindings, vault, audit), one metrics registry and one
//! pooled diary client — the link service's own diary requests are counted in /metrics
//! like proxied ones.
//!
//! ```text
//! GatewayConfig ─▶ metrics, upstream, templates ─▶ [esia]? ─▶ store ─▶ sessions (purge task)
//!                                                            └▶ ESIA client (signer) ─▶ login
//!                                                [vault] or header mode ─▶ link ─▶ login.with_link
//! ```
//! Without `[esia]` the gateway is a plain proxy (plus the calendar, when configured).

use std::sync::Arc;

use crate::clock::{SharedClock, SystemClock};
use crate::config::GatewayConfig;
use crate::diary::config::SignInMode;
use crate::diary::vault::{Keyring, Vault, VaultError};
use crate::esia::{EsiaClient, EsiaSetupError, SignError, signer};
use crate::link::{Link, LinkError, LinkParts};
use crate::login::adapters::{EsiaProvider, StoreBackend};
use crate::login::config::StoreConfig;
use crate::login::cookies::CookieNames;
use crate::login::{IdentityProvider, Login, LoginError, LoginSettings};
use crate::metrics::Metrics;
use crate::pages::LiveTemplates;
use crate::session::Sessions;
use crate::store::{SharedStore, StoreError};
use crate::tls::TlsError;
use crate::upstream::Upstream;

/// Why the services could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ServicesError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("ESIA signer: {0}")]
    Signer(#[from] SignError),
    #[error("ESIA client: {0}")]
    Esia(#[from] EsiaSetupError),
    #[error("login pages: {0}")]
    Login(#[from] LoginError),
    #[error("vault: {0}")]
    Vault(#[from] VaultError),
    #[error("linking: {0}")]
    Link(#[from] LinkError),
    #[error("diary client: {0}")]
    Upstream(#[from] TlsError),
}

/// The clocks services run on: the real one for sessions and ESIA, and the calendar's,
/// which `demo --at` and the tests move.
#[derive(Clone)]
pub struct Clocks {
    pub system: SharedClock,
    pub calendar: SharedClock,
}

impl Default for Clocks {
    fn default() -> Self {
        Self {
            system: Arc::new(SystemClock),
            calendar: Arc::new(SystemClock),
        }
    }
}

/// Everything the pipeline runs with.
pub struct Services {
    pub metrics: Arc<Metrics>,
    pub upstream: Upstream,
    /// Sessions, bindings, vault and audit events; `None` without `[esia]`.
    pub store: Option<SharedStore>,
    pub login: Option<Arc<Login>>,
    pub link: Option<Arc<Link>>,
    pub clocks: Clocks,
    /// The page templates the login and link pages render with; a reload replaces them.
    pub templates: LiveTemplates,
}

impl Services {
    /// Builds every service `config` turns on, sharing one store, one metrics registry
    /// and one diary client.
    pub async fn build(config: &GatewayConfig, clocks: Clocks) -> Result<Self, ServicesError> {
        let metrics = Arc::new(Metrics::new());
        let upstream = Upstream::new(config, metrics.clone())?;
        let mut services = Self {
            metrics,
            upstream,
            store: None,
            login: None,
            link: None,
            clocks,
            templates: LiveTemplates::new(config.pages.templates.clone()),
        };
        let Some(esia) = &config.esia else {
            return Ok(services);
        };
        let clock = services.clocks.system.clone();
        let store = open_store(&config.store).await?;
        let sessions = Arc::new(
            Sessions::new(store.clone(), clock.clone(), config.session.policy.clone())
                .with_audit_retention(config.audit.retention),
        );
        sessions.spawn_purge(config.session.purge_interval);
        services.metrics.register(
            "session_store_queries",
            "Store calls the session service makes on the request path (reads, touches, writes; \
             not the periodic purge)",
            sessions.store_queries(),
        );
        let signer: Arc<dyn signer::Signer> = Arc::new(signer::LimitedSigner::new(
            signer::from_config(&esia.signer)?,
            config.login.signer_concurrency,
            std::time::Duration::from_secs(3),
        ));
        let client = EsiaClient::new(esia.clone(), signer)?;
        let idp: Arc<dyn IdentityProvider> = Arc::new(EsiaProvider::new(Arc::new(client)));
        let settings = LoginSettings {
            prefix: config.login.prefix.clone(),
            cookies: CookieNames::default(),
            flow_ttl: config.login.flow_ttl,
            language: config.pages.language,
            public_url: config.listen.public_url.clone(),
            legacy_login_url: config.login.legacy_login_url.clone(),
            starts_per_minute: config.login.starts_per_minute,
            callback_origin: Some(esia.redirect_uri.clone()),
        };
        let backend = Arc::new(
            StoreBackend::new(store.clone(), sessions.clone(), clock.clone())
                .with_metrics(services.metrics.clone()),
        );
        let login = Login::new(settings, idp.clone(), backend, clock.clone())?
            .with_templates(services.templates.clone());
        let link = link(config, &services, &store, sessions, idp, clock)?;
        let login = match &link {
            Some(l) => login.with_link(l.clone()),
            None => login,
        };
        tracing::info!(prefix = %config.login.prefix, linking = link.is_some(), "ESIA login enabled");
        services.store = Some(store);
        services.login = Some(Arc::new(login));
        services.link = link;
        Ok(services)
    }
}

/// The link service, or `None` (with a warning) when linking cannot work: `form` mode
/// without a `[vault]` key has nowhere to keep the diary passwords and jars.
fn link(
    config: &GatewayConfig,
    services: &Services,
    store: &SharedStore,
    sessions: Arc<Sessions>,
    idp: Arc<dyn IdentityProvider>,
    clock: SharedClock,
) -> Result<Option<Arc<Link>>, ServicesError> {
    let vault = match &config.vault {
        Some(paths) => {
            let keys = Keyring::from_files(&paths.active, &paths.older)?;
            Some(Arc::new(Vault::new(store.clone(), keys, clock.clone())))
        }
        None => None,
    };
    if vault.is_none() && matches!(config.diary.mode, SignInMode::Form) {
        tracing::warn!("no [vault] key: linking and diary sign-in are disabled");
        return Ok(None);
    }
    let link = Link::new(LinkParts {
        settings: config.linking.clone(),
        diary: config.diary.clone(),
        prefix: config.login.prefix.clone(),
        session_cookie: crate::session::SESSION_COOKIE.to_owned(),
        language: config.pages.language,
        public_url: config.listen.public_url.clone(),
        flow_ttl: config.login.flow_ttl,
        store: store.clone(),
        sessions,
        vault,
        upstream: services.upstream.clone(),
        idp,
        clock,
    })?
    .with_templates(services.templates.clone());
    tracing::info!(mode = ?config.diary.mode, "linking enabled");
    Ok(Some(Arc::new(link)))
}

/// Opens (and migrates) the configured store.
pub async fn open_store(cfg: &StoreConfig) -> Result<SharedStore, StoreError> {
    Ok(match cfg {
        StoreConfig::Sqlite(path) => Arc::new(crate::store::sqlite::SqliteStore::open(path).await?),
        StoreConfig::Postgres(url) => {
            Arc::new(crate::store::postgres::PostgresStore::connect(url.expose()).await?)
        }
    })
}
