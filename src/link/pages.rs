//! The linking pages: the seed 000 form («Найти существующего пользователя» →
//! «Прикрепить») and the account-level page, rendered with minijinja on the login
//! pages' base template (same look, no external assets). Refusals reuse the login
//! pages' problem page.

use std::sync::Arc;

use http::StatusCode;
use minijinja::context;

use super::texts::{Texts, level_name, role_name, texts};
use crate::language::Language;
use crate::login::pages::{PageResponse, Pages, Problem, html_response};
use crate::pages::{LiveTemplates, Templates};

pub const TEMPLATES: [(&str, &str); 5] = [
    ("base.html", include_str!("../login/templates/base.html")),
    ("link.html", include_str!("templates/link.html")),
    ("level.html", include_str!("templates/level.html")),
    ("confirm.html", include_str!("templates/confirm.html")),
    ("choose.html", include_str!("templates/choose.html")),
];

/// One diary account on the chooser.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AccountChoice {
    pub login: String,
    /// The role in the page's language.
    pub role: &'static str,
    pub current: bool,
    pub stale: bool,
}

/// What the link form shows besides its fields.
#[derive(Debug, Default, Clone)]
pub struct FormState<'a> {
    pub csrf: &'a str,
    pub return_path: &'a str,
    /// The login typed last time (kept after a wrong password).
    pub login: &'a str,
    pub error: Option<&'a str>,
    pub notice: Option<&'a str>,
    /// The Госуслуги person signed in, as ESIA wrote the name (issue 15: the user sees
    /// whose account would be linked, with «Это не я»).
    pub esia_name: Option<&'a str>,
    /// One more diary account for a person already signed into one (`add=1`).
    pub adding: bool,
}

pub struct LinkPages {
    templates: LiveTemplates,
    problems: Pages,
    language: Language,
    prefix: String,
}

impl std::fmt::Debug for LinkPages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkPages")
            .field("language", &self.language)
            .finish_non_exhaustive()
    }
}

impl LinkPages {
    pub fn new(language: Language, prefix: &str) -> Result<Self, minijinja::Error> {
        Ok(Self {
            templates: LiveTemplates::new(Arc::new(Templates::shipped(&TEMPLATES)?)),
            problems: Pages::new(language, prefix)?,
            language,
            prefix: prefix.to_owned(),
        })
    }

    /// The pages from `templates` (`[pages] templates`, followed across reloads).
    pub fn with_templates(mut self, templates: LiveTemplates) -> Self {
        self.problems = self.problems.with_templates(templates.clone());
        self.templates = templates;
        self
    }

    pub fn texts(&self) -> &'static Texts {
        texts(self.language)
    }

    pub fn language(&self) -> Language {
        self.language
    }

    /// The link form; 200, or 401 after a wrong password.
    pub fn form(&self, status: StatusCode, state: &FormState<'_>) -> PageResponse {
        let t = self.texts();
        self.render(
            status,
            "link.html",
            context! { t, title => if state.adding { t.accounts_add } else { t.link_title },
            adding => state.adding, prefix => self.prefix_value(),
            csrf => state.csrf, return_path => state.return_path, login => state.login,
            error => state.error, notice => state.notice,
            signed_in_as => state.esia_name.map(|n| t.signed_in_as.replace("{esia}", &format!("«{n}»"))) },
        )
    }

    /// 403: the account level is below what the role needs, with seed 000's steps.
    pub fn level(&self, role: Option<&str>, level: Option<&str>, needed: &str) -> PageResponse {
        let t = self.texts();
        let text = t
            .level_text
            .replace("{role}", role_name(self.language, role))
            .replace("{needed}", level_name(self.language, Some(needed)))
            .replace("{current}", level_name(self.language, level));
        self.render(
            StatusCode::FORBIDDEN,
            "level.html",
            context! { t, title => t.level_title, text, prefix => self.prefix_value() },
        )
    }

    /// «Привязать учетную запись Госуслуг ‹ФИО› к пользователю дневника ‹ФИО›?» with
    /// «Привязать» / «Это не я».
    pub fn confirm(&self, esia: Option<&str>, diary: &str, csrf: &str) -> PageResponse {
        let t = self.texts();
        let question = t
            .confirm_question
            .replace("{esia}", &format!("«{}»", esia.unwrap_or(t.unnamed)))
            .replace("{diary}", &format!("«{diary}»"));
        self.render(
            StatusCode::OK,
            "confirm.html",
            context! { t, title => t.confirm_title, question, csrf, prefix => self.prefix_value() },
        )
    }

    /// «Выберите учетную запись дневника»: one button per diary account; «Привязать
    /// еще одну…» under the cap (`add_url`); back to the diary when one is open.
    pub fn choose(
        &self,
        accounts: &[AccountChoice],
        csrf: &str,
        return_path: &str,
        add_url: Option<&str>,
    ) -> PageResponse {
        let t = self.texts();
        let back = accounts.iter().any(|a| a.current);
        self.render(
            StatusCode::OK,
            "choose.html",
            context! { t, title => t.accounts_title, accounts, csrf, return_path, back,
            can_add => add_url.is_some(), add_url, prefix => self.prefix_value() },
        )
    }

    /// The role's name in the page's language.
    pub fn role_name(&self, role: Option<&str>) -> &'static str {
        role_name(self.language, role)
    }

    pub fn problem(&self, problem: &Problem) -> PageResponse {
        self.problems.problem(problem)
    }

    /// A refusal with a stable code and no retry button.
    pub fn refusal(&self, status: StatusCode, title: &str, text: &str, code: &str) -> PageResponse {
        self.problem(&Problem::new(status, title, text).with_code(code))
    }

    /// 503: the store could not save or check something.
    pub fn store_problem(&self) -> PageResponse {
        let t = self.problems.texts();
        self.problem(
            &Problem::new(StatusCode::SERVICE_UNAVAILABLE, t.store_title, t.store_text)
                .with_code("store-unavailable"),
        )
    }

    fn prefix_value(&self) -> minijinja::Value {
        // Validated config ([A-Za-z0-9_.-/]); see `login::pages`.
        minijinja::Value::from_safe_string(self.prefix.clone())
    }

    fn render(&self, status: StatusCode, name: &str, ctx: minijinja::Value) -> PageResponse {
        html_response(status, self.templates.render(name, ctx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn body(resp: PageResponse) -> String {
        String::from_utf8(
            resp.into_body()
                .collect()
                .await
                .unwrap()
                .to_bytes()
                .to_vec(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn the_form_has_the_seed_words_and_escapes_input() {
        let p = LinkPages::new(Language::Ru, "/esia/").unwrap();
        let html = body(p.form(
            StatusCode::UNAUTHORIZED,
            &FormState {
                csrf: "tok",
                return_path: "/marks",
                login: "<script>",
                error: Some("Неверный логин или пароль"),
                notice: None,
                esia_name: Some("Иванова <b>"),
                adding: false,
            },
        ))
        .await;
        for words in [
            "Учетная запись Госуслуг не привязана к электронному дневнику",
            "Найти существующего пользователя",
            "Прикрепить",
            "Неверный логин или пароль",
            "name=\"login\"",
            "name=\"password\"",
            "name=\"csrf\" value=\"tok\"",
            "action=\"/esia/link\"",
            "Вы вошли на Госуслуги как «Иванова &lt;b&gt;»",
            "Это не я",
        ] {
            assert!(html.contains(words), "{words} missing");
        }
        assert!(!html.contains("<script>") && !html.contains("<b>"));
    }

    #[tokio::test]
    async fn the_confirmation_names_both_people_and_escapes_them() {
        let p = LinkPages::new(Language::Ru, "/esia/").unwrap();
        let html = body(p.confirm(Some("Петров <i>"), "Иванова М. (parent)", "tok")).await;
        for words in [
            "Привязать учетную запись Госуслуг «Петров &lt;i&gt;» к пользователю дневника «Иванова М. (parent)»?",
            "value=\"confirm\"",
            "value=\"not-me\"",
            "Это не я",
            "name=\"csrf\" value=\"tok\"",
        ] {
            assert!(html.contains(words), "{words} missing in {html}");
        }
        let unnamed = body(p.confirm(None, "parent", "tok")).await;
        assert!(unnamed.contains("«(имя не указано)»"));
    }

    #[tokio::test]
    async fn the_level_page_names_the_level_and_the_steps() {
        let p = LinkPages::new(Language::Ru, "/esia/").unwrap();
        let resp = p.level(Some("parent"), Some("simplified"), "confirmed");
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        let html = body(resp).await;
        assert!(html.contains("«Родитель»"));
        assert!(html.contains("подтвержденная учетная запись"));
        assert!(html.contains("упрощенная"));
        assert!(html.contains("получите подтвержденную учетную запись"));
    }
}
