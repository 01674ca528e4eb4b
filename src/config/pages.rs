//! `[pages]`: the language of the gateway's pages and the operator's templates
//! (`templates = "dir"`, issue 13; what a template file may do is in
//! [`crate::pages::templates`]).
//!
//! ```text
//! dir ──read, compile every file──▶ Templates ──every page rendered with sample values──▶ OK
//!          │                                     (the real page code, each branch once)
//!          └─ unreadable, not UTF-8,             └─ undefined value, unknown filter,
//!             syntax error                          missing template
//!                        └──────────▶ errors at `file:line`, all at once ◀──┘
//! ```
//!
//! The pages are rendered by the same code that serves them, so a template is checked
//! against exactly what it will be given. This runs wherever the config is loaded —
//! check-config, start, reload (a broken template keeps the running pages) — and never
//! per request. Unknown file names and external assets are warnings.

use std::sync::{Arc, LazyLock};

use http::StatusCode;

use super::errors::{Location, unknown_hint};
use super::file::{LanguageFile, PagesFile};
use super::validate::Ctx;
use super::{Language, PagesConfig};
use crate::cutover::pages::{self as cutover, Action};
use crate::link::pages::{FormState, LinkPages};
use crate::login::pages::{Pages as LoginPages, Problem};
use crate::pages::templates::{LoadError, STYLE, Shipped, TemplateProblem, Templates};
use crate::pages::{LiveTemplates, render_error};
use crate::policy::{AccountLevel, Reason};

const DIR_HINT: &str = "a directory of page templates (`esia-gateway pages export DIR` writes the shipped ones); relative paths start at the config file's directory";
const FILE_HINT: &str =
    "compare with the shipped template (`esia-gateway pages export DIR` writes them)";

/// Every shipped template by the flat name a directory replaces it with (the link pages
/// share `base.html` with the login pages). `style.css` is [`STYLE`].
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

/// The file names a template directory may hold.
pub fn file_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = shipped().iter().map(|(n, _)| *n).collect();
    names.push(STYLE);
    names
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
            templates_dir: None,
            templates: SHIPPED.clone(),
            warnings: Vec::new(),
        }
    }
}

/// `[pages]`, with the templates directory read, compiled and checked.
pub fn validate(f: &PagesFile, prefix: Option<&str>, cx: &mut Ctx) -> Option<PagesConfig> {
    let language = match f.language {
        None | Some(LanguageFile::Ru) => Language::Ru,
        Some(LanguageFile::En) => Language::En,
    };
    let Some(dir) = &f.templates else {
        return Some(PagesConfig {
            language,
            ..PagesConfig::default()
        });
    };
    let dir = cx.resolve(dir);
    let loaded = match Templates::load(&shipped(), &dir) {
        Ok(loaded) => loaded,
        Err(LoadError::Dir(e)) => {
            cx.error(
                "pages.templates",
                format!("cannot read the directory {}: {e}", dir.display()),
                Some(DIR_HINT),
            );
            return None;
        }
        Err(LoadError::Files(problems)) => {
            report(problems, cx);
            return None;
        }
    };
    let templates = Arc::new(loaded.templates);
    let problems = check(&templates, language, prefix.unwrap_or("/esia/")).problems;
    if !problems.is_empty() {
        report(problems, cx);
        return None;
    }
    let names: Vec<String> = file_names().into_iter().map(str::to_owned).collect();
    let mut warnings: Vec<String> = loaded
        .unknown
        .iter()
        .map(|path| {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            format!(
                "pages.templates: {} is not a page template and is ignored ({})",
                path.display(),
                unknown_hint(&name, &names)
            )
        })
        .collect();
    warnings.extend(loaded.external.iter().map(|p| {
        format!(
            "{}: {}; inline images as data: URLs, styles in style.css",
            Location::Template {
                path: p.file.clone(),
                line: p.line
            },
            p.message
        )
    }));
    Some(PagesConfig {
        language,
        templates_dir: Some(dir),
        templates,
        warnings,
    })
}

fn report(problems: Vec<TemplateProblem>, cx: &mut Ctx) {
    for p in problems {
        let at = Location::Template {
            path: p.file,
            line: p.line,
        };
        cx.error_at(at, p.message, Some(p.hint.as_deref().unwrap_or(FILE_HINT)));
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
                adding: false,
            },
        );
        link.form(
            StatusCode::OK,
            &FormState {
                csrf: CSRF,
                return_path: BACK,
                notice: Some("Введите логин и пароль еще одной учетной записи"),
                adding: true,
                ..FormState::default()
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
        let accounts = [
            crate::link::pages::AccountChoice {
                login: "ivanova.m".into(),
                role: "Родитель",
                current: true,
                stale: false,
            },
            crate::link::pages::AccountChoice {
                login: "ivanova.m2".into(),
                role: "Родитель",
                current: false,
                stale: true,
            },
        ];
        link.choose(&accounts, CSRF, BACK, Some("/esia/link?add=1"));
        link.choose(&accounts[1..], CSRF, "/", None);
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

    /// An operator finds the list in the shipped file and in the README.
    #[test]
    fn the_shipped_gateway_toml_and_the_readme_name_every_template() {
        let toml = include_str!("../../gateway.toml");
        let readme = include_str!("../../README.md");
        for name in file_names() {
            assert!(
                toml.contains(name),
                "gateway.toml [pages] does not name {name}"
            );
            assert!(
                readme.contains(&format!("`{name}`")),
                "README does not name {name}"
            );
        }
    }

    fn load(files: &[(&str, &str)]) -> (tempfile::TempDir, Result<PagesConfig, Vec<String>>) {
        let dir = tempfile::tempdir().unwrap();
        let pages = dir.path().join("pages");
        std::fs::create_dir(&pages).unwrap();
        for (name, text) in files {
            std::fs::write(pages.join(name), text).unwrap();
        }
        let file = PagesFile {
            language: None,
            templates: Some("pages".into()),
        };
        let mut cx = Ctx::new(dir.path());
        let result = validate(&file, Some("/esia/"), &mut cx).ok_or_else(|| {
            cx.into_problems()
                .into_iter()
                .map(|p| {
                    let at = p.at.map_or_else(String::new, |a| a.to_string());
                    let at = at.replace(&format!("{}/", dir.path().display()), "");
                    format!("{at}: {}", p.message)
                })
                .collect()
        });
        (dir, result)
    }

    #[test]
    fn a_misspelt_variable_is_an_error_at_its_line() {
        let start = crate::login::pages::TEMPLATES[1]
            .1
            .replace("t.start_title", "t.start_titel");
        let (_, result) = load(&[("start.html", &start)]);
        let line = start.lines().position(|l| l.contains("titel")).unwrap() + 1;
        assert_eq!(
            result.unwrap_err(),
            [format!(
                "pages/start.html:{line}: undefined value `t.start_titel`"
            )]
        );
    }

    #[test]
    fn every_broken_template_is_reported_at_once() {
        let (_, result) = load(&[
            ("error.html", "<p>{{ status|nosuch }}</p>"),
            ("denied.html", "{% include \"logo.html\" %}"),
            (
                "link.html",
                "{% extends \"base.html\" %}\n{% block content %}{% endblok %}",
            ),
        ]);
        let errors = result.unwrap_err();
        assert_eq!(
            errors.len(),
            1,
            "a syntax error stops before rendering: {errors:?}"
        );
        assert!(
            errors[0].starts_with("pages/link.html:2: syntax error: "),
            "{errors:?}"
        );
        let (_, result) = load(&[
            ("error.html", "<p>{{ status|nosuch }}</p>"),
            ("denied.html", "{% include \"logo.html\" %}"),
        ]);
        let errors = result.unwrap_err();
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("pages/error.html:1: unknown filter")),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("pages/denied.html:1: template not found")),
            "{errors:?}"
        );
    }

    #[test]
    fn a_good_directory_replaces_pages_and_warns_about_strangers() {
        let (dir, result) = load(&[
            ("error.html", "<p>Школа №1: {{ status }} {{ title }}</p>"),
            ("eror.html", "x"),
        ]);
        let pages = result.unwrap();
        assert_eq!(pages.templates_dir, Some(dir.path().join("pages")));
        let html = render_error(StatusCode::BAD_GATEWAY, Language::Ru, &pages.templates);
        assert!(html.starts_with("<p>Школа №1: 502 "), "{html}");
        assert_eq!(pages.warnings.len(), 1, "{:?}", pages.warnings);
        assert!(
            pages.warnings[0].contains(
                "eror.html is not a page template and is ignored (did you mean `error.html`?)"
            ),
            "{:?}",
            pages.warnings
        );
    }

    #[test]
    fn a_missing_directory_is_an_error_at_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = PagesFile {
            language: None,
            templates: Some("nowhere".into()),
        };
        let mut cx = Ctx::new(dir.path());
        assert!(validate(&file, None, &mut cx).is_none());
        let problems = cx.into_problems();
        assert_eq!(problems.len(), 1);
        assert!(problems[0].at.is_none());
        assert!(
            problems[0]
                .message
                .starts_with("cannot read the directory ")
        );
    }
}
