//! `[pages]`: the templates of the gateway's pages, gathered from the modules that render
//! them under flat names unique across the gateway (see [`crate::pages::templates`]),
//! and the check that renders every page once per branch with sample values, through
//! the code that serves them.

use std::sync::{Arc, LazyLock};

use http::StatusCode;

use super::{Language, PagesConfig};
use crate::cutover::pages::{self as cutover, Action};
use crate::link::pages::{FormState, LinkPages};
use crate::login::pages::{Pages as LoginPages, Problem};
use crate::pages::templates::{Shipped, Templates};
use crate::pages::{LiveTemplates, render_error};
use crate::policy::{AccountLevel, Reason};

/// Every shipped template by the flat name a directory replaces it with (the link pages
/// share `base.html` with the login pages). `style.css` is [`crate::pages::templates::STYLE`].
pub fn shipped() -> Vec<Shipped> {
    let modules: [&[Shipped]; 4] = [
        &crate::login::pages::TEMPLATES,
        &crate::link::pages::TEMPLATES,
        &crate::cutover::pages::TEMPLATES,
        &crate::pages::TEMPLATES,
    ];
    let mut all: Vec<Shipped> = Vec::new();
    for &(name, text) in modules.into_iter().flatten() {
        if !all.iter().any(|(n, _)| *n == name) {
            all.push((name, text));
        }
    }
    all
}

/// The shipped templates, compiled once for every config that does not replace any.
static SHIPPED: LazyLock<Arc<Templates>> = LazyLock::new(|| {
    Arc::new(Templates::shipped(&shipped()).unwrap_or_else(|e| {
        // Part of the binary; the unit tests below compile and render every one.
        tracing::error!(error = %e, "a shipped page template does not compile");
        Templates::none()
    }))
});

impl Default for PagesConfig {
    fn default() -> Self {
        Self {
            language: Language::Ru,
            templates: SHIPPED.clone(),
        }
    }
}

/// Renders every page once per branch its templates have, with sample values, through
/// the code that serves them; the report names each failure at its file and line.
pub fn check(
    templates: &Arc<Templates>,
    language: Language,
    prefix: &str,
) -> crate::pages::templates::CheckReport {
    templates.start_check();
    render_samples(templates, language, prefix);
    templates.finish_check()
}

fn render_samples(templates: &Arc<Templates>, language: Language, prefix: &str) {
    const CSRF: &str = "csrf-sample";
    const BACK: &str = "/index.php?module=marks";
    let live = LiveTemplates::new(templates.clone());
    if let Ok(login) = LoginPages::new(language, prefix) {
        let login = login.with_templates(live.clone());
        login.start(BACK, false, false, Some("/login.php"), Some("esia"));
        login.start(BACK, true, false, None, None);
        login.start(BACK, false, true, None, Some("password"));
        login.logout_confirm(CSRF);
        let problem = Problem::new(StatusCode::BAD_GATEWAY, "Госуслуги недоступны", "Позже.");
        login.problem(&problem.clone().with_code("ESIA-007053").with_retry());
        login.problem(&problem);
    }
    if let Ok(link) = LinkPages::new(language, prefix) {
        let link = link.with_templates(live);
        link.form(
            StatusCode::UNAUTHORIZED,
            &FormState {
                csrf: CSRF,
                return_path: BACK,
                login: "ivanova.m",
                error: Some("Неверный логин или пароль"),
                notice: Some("Пароль в дневнике изменился"),
                esia_name: Some("Иванова Мария Петровна"),
            },
        );
        link.form(
            StatusCode::OK,
            &FormState {
                csrf: CSRF,
                return_path: "/",
                ..FormState::default()
            },
        );
        link.level(Some("parent"), Some("simplified"), "confirmed");
        link.level(None, None, "confirmed");
        link.confirm(
            Some("Иванова Мария Петровна"),
            "Иванова М. П. (parent)",
            CSRF,
        );
        link.confirm(None, "parent", CSRF);
    }
    render_error(StatusCode::BAD_GATEWAY, language, templates);
    crate::pages::busy_page(language, templates);
    for action in [
        Action::Link,
        Action::EsiaLogin,
        Action::LinkForm,
        Action::None,
    ] {
        cutover::denied(
            Reason::LevelTooLow,
            Some(AccountLevel::Confirmed),
            action,
            prefix,
            BACK,
            language,
            templates,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::templates::STYLE;

    #[test]
    fn the_flat_names_are_unique_and_a_shared_name_has_one_text() {
        let modules: [&[Shipped]; 4] = [
            &crate::login::pages::TEMPLATES,
            &crate::link::pages::TEMPLATES,
            &crate::cutover::pages::TEMPLATES,
            &crate::pages::TEMPLATES,
        ];
        let all = shipped();
        for &(name, text) in modules.into_iter().flatten() {
            let (_, kept) = all.iter().find(|(n, _)| *n == name).unwrap();
            assert_eq!(*kept, text, "two different templates are named {name}");
        }
        assert!(!all.iter().any(|(n, _)| *n == STYLE));
    }

    /// Every shipped page renders, with undefined values as errors, in both languages;
    /// and the samples reach every template (a new page needs its sample here).
    #[test]
    fn every_shipped_template_renders_with_the_samples() {
        let templates = Arc::new(Templates::shipped(&shipped()).unwrap());
        for language in [Language::Ru, Language::En] {
            let report = check(&templates, language, "/esia/");
            assert!(report.problems.is_empty(), "{:?}", report.problems);
            for (name, _) in shipped().iter().filter(|(n, _)| *n != "base.html") {
                assert!(report.rendered.contains(*name), "{name} has no sample");
            }
        }
    }
}
