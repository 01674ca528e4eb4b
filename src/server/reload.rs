//! Reload without restart (SIGHUP, `esia-gateway reload`): a new, fully validated
//! configuration replaces the running one atomically — every request started after
//! the swap sees all of the new settings, every request in flight keeps all of the old.
//!
//! Live: the calendar, route groups and banner (`[calendar]`, `[[route_group]]`,
//! `[default_route]`, `[canonical]`, `[banner]`), `[pages]` (the templates directory is
//! read again; a broken template refuses the whole file), `[forwarding]`, `[limits]`
//! and `[timeouts]` (for connections accepted after the swap), and the TLS certificate
//! files' contents. The sections that hold open sockets, pools or secrets — listeners,
//! the diary's URL, ESIA, login, sessions, the store, the diary's sign-in, the vault,
//! linking, audit, logging — keep their running values; a change there is logged as
//! "needs a restart" and the rest still applies.

use std::sync::Arc;

use arc_swap::ArcSwap;

use super::conn::ConnSettings;
use crate::clock::SharedClock;
use crate::config::{GatewayConfig, PagesConfig};
use crate::cutover::{Cutover, CutoverParts};
use crate::metrics::Metrics;
use crate::pages::LiveTemplates;
use crate::proxy::Live;
use crate::store::SharedStore;

/// What a reload needs besides the new file.
pub(super) struct Reloader {
    pub live: Arc<Live>,
    pub conn: Arc<ArcSwap<ConnSettings>>,
    pub calendar_clock: SharedClock,
    pub esia_login: bool,
    pub store: Option<SharedStore>,
    pub metrics: Arc<Metrics>,
    /// The templates of the pages built once (login, link, the http listener's).
    pub templates: LiveTemplates,
}

/// The sections a reload applied and those that need a restart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadReport {
    pub restart_needed: Vec<&'static str>,
}

impl Reloader {
    /// The authorize phase for `config`, if it has a calendar or route groups.
    pub fn cutover(&self, config: &GatewayConfig) -> Option<Arc<Cutover>> {
        let cutover = config.cutover.as_ref()?;
        Some(Cutover::new(CutoverParts {
            config: cutover.clone(),
            clock: self.calendar_clock.clone(),
            prefix: config.login.prefix.clone(),
            language: config.pages.language,
            templates: config.pages.templates.clone(),
            esia_login: self.esia_login,
            audit: self.store.clone(),
            metrics: self.metrics.clone(),
            max_rewrites: config.limits.max_rewrites,
        }))
    }

    /// Swaps in `new` (already validated).
    pub async fn apply(&self, new: GatewayConfig) -> ReloadReport {
        let old = self.live.config.load_full();
        let mut merged = new;
        let mut report = ReloadReport::default();
        // Compared by their Debug text: the config types have no PartialEq, and a
        // secret prints redacted, so a changed secret alone is not noticed (it is read
        // at start anyway).
        macro_rules! keep {
            ($($field:ident => $name:literal),* $(,)?) => {$(
                if format!("{:?}", old.$field) != format!("{:?}", merged.$field) {
                    report.restart_needed.push($name);
                    merged.$field = old.$field.clone();
                }
            )*};
        }
        keep!(
            listen => "listen",
            tls => "tls",
            upstream => "upstream",
            esia => "esia",
            login => "login",
            session => "session",
            store => "store",
            diary => "diary",
            vault => "vault",
            linking => "linking",
            audit => "audit",
            log => "log",
        );
        let cutover = self.cutover(&merged);
        if let Some(previous) = self.live.cutover.load_full()
            && let Some(store) = &self.store
        {
            // The old calendar's route counts go to the store before it is dropped.
            previous.flush_routes(store).await;
        }
        self.conn.store(Arc::new(ConnSettings::new(&merged)));
        let phase = cutover.as_ref().map(|c| c.phase().as_str());
        // Calendar first, then the config: a request reads the config first, so it may
        // see the new calendar with the old limits for an instant, never a calendar the
        // config does not know about.
        self.live.cutover.store(cutover);
        self.templates.replace(merged.pages.templates.clone());
        log_templates(&merged.pages);
        self.live.config.store(Arc::new(merged));
        if !report.restart_needed.is_empty() {
            tracing::warn!(sections = ?report.restart_needed,
                "configuration reloaded; these sections changed and take effect only after a restart");
        }
        tracing::info!(phase = ?phase, "configuration reloaded");
        report
    }
}

/// Which of the operator's templates are in use, and what check-config would warn about.
pub(super) fn log_templates(pages: &PagesConfig) {
    let Some(dir) = &pages.templates_dir else {
        return;
    };
    let files: Vec<&str> = pages.templates.overrides().keys().copied().collect();
    tracing::info!(dir = %dir.display(), files = ?files, "page templates from the directory");
    for warning in &pages.warnings {
        tracing::warn!(warning = %warning, "page templates");
    }
}
