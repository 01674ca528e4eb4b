//! The login pages: start, logout confirmation, and every refusal, rendered with
//! minijinja from templates embedded in the binary (no external assets; inline CSS,
//! readable on a phone). All answers carry `Cache-Control: no-store` and a CSP that
//! forbids scripts and framing: these pages hold CSRF tokens and decide where a
//! signed-in browser goes next.

use std::sync::Arc;

use http::StatusCode;
use minijinja::context;

use super::texts::{Texts, texts};
use crate::language::Language;
use crate::pages::{LiveTemplates, Templates};

/// What every login handler answers with, through the page kit.
pub use crate::pages::kit::{PageResponse, html_response, redirect};

/// A refusal or failure shown to the user: status, what happened, what to do.
#[derive(Debug, Clone)]
pub struct Problem {
    pub status: StatusCode,
    pub title: String,
    pub text: String,
    /// An ESIA error code or a stable reason name, shown small for support calls.
    pub code: Option<String>,
    /// Offer «Войти через Госуслуги ещё раз».
    pub retry: bool,
}

impl Problem {
    pub fn new(status: StatusCode, title: &str, text: &str) -> Self {
        Self {
            status,
            title: title.to_owned(),
            text: text.to_owned(),
            code: None,
            retry: false,
        }
    }

    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    pub fn with_retry(mut self) -> Self {
        self.retry = true;
        self
    }
}

/// The login pages for one language and one reserved prefix.
pub struct Pages {
    templates: LiveTemplates,
    language: Language,
    prefix: String,
}

impl std::fmt::Debug for Pages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pages")
            .field("language", &self.language)
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// Template names and sources; `.html` names make minijinja escape every value.
pub const TEMPLATES: [(&str, &str); 4] = [
    ("base.html", include_str!("templates/base.html")),
    ("start.html", include_str!("templates/start.html")),
    ("message.html", include_str!("templates/message.html")),
    ("logout.html", include_str!("templates/logout.html")),
];

impl Pages {
    /// The pages from the shipped templates.
    pub fn new(language: Language, prefix: &str) -> Result<Self, minijinja::Error> {
        let templates = Templates::shipped(&TEMPLATES)?;
        Ok(Self {
            templates: LiveTemplates::new(Arc::new(templates)),
            language,
            prefix: prefix.to_owned(),
        })
    }

    /// The pages from `templates` (`[pages] templates`, followed across reloads).
    pub fn with_templates(mut self, templates: LiveTemplates) -> Self {
        self.templates = templates;
        self
    }

    /// The prefix as a template value; it is validated config (`[A-Za-z0-9_.-/]`), so it
    /// needs no escaping and stays readable in the page source.
    fn prefix_value(&self) -> minijinja::Value {
        minijinja::Value::from_safe_string(self.prefix.clone())
    }

    pub fn texts(&self) -> &'static Texts {
        texts(self.language)
    }

    pub fn language(&self) -> Language {
        self.language
    }

    /// The start page with the «Войти через Госуслуги» button.
    pub fn start(
        &self,
        return_path: &str,
        signed_in: bool,
        link_legacy: bool,
        legacy_login_url: Option<&str>,
        signed_out: Option<&str>,
    ) -> PageResponse {
        let t = self.texts();
        let signed_out = match signed_out {
            Some("esia") => Some(t.signed_out_esia),
            Some("password") => Some(t.signed_out_password),
            _ => None,
        };
        // A password session links its diary account instead of starting a new login.
        let action = if link_legacy { "link/start" } else { "login" };
        let legacy_login_url = legacy_login_url.filter(|_| !link_legacy);
        self.render(
            StatusCode::OK,
            "start.html",
            context! { t, title => t.start_title, prefix => self.prefix_value(), return_path,
            signed_in, legacy_login_url, action, signed_out },
        )
    }

    /// The logout confirmation with the CSRF-protected form.
    pub fn logout_confirm(&self, csrf: &str) -> PageResponse {
        let t = self.texts();
        self.render(
            StatusCode::OK,
            "logout.html",
            context! { t, title => t.logout_title, prefix => self.prefix_value(), csrf },
        )
    }

    /// A refusal page.
    pub fn problem(&self, problem: &Problem) -> PageResponse {
        let t = self.texts();
        let action_href = problem
            .retry
            .then(|| minijinja::Value::from_safe_string(format!("{}start", self.prefix)));
        self.render(
            problem.status,
            "message.html",
            context! { t, title => problem.title, text => problem.text,
            status => problem.status.as_u16(), code => problem.code,
            action_href, action_label => t.retry },
        )
    }

    fn render(&self, status: StatusCode, name: &str, ctx: minijinja::Value) -> PageResponse {
        html_response(status, self.templates.render(name, ctx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header;
    use http_body_util::BodyExt;

    async fn body(resp: PageResponse) -> String {
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn start_page_has_the_seed_words_and_escapes_the_return_path() {
        let pages = Pages::new(Language::Ru, "/esia/").unwrap();
        let resp = pages.start("/marks?a=1&b=\"x\"", false, false, Some("/login"), None);
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()[header::CACHE_CONTROL], "no-store");
        let html = body(resp).await;
        assert!(html.contains("Войти через Госуслуги"));
        assert!(html.contains("Чужой компьютер"));
        assert!(html.contains("action=\"/esia/login\""));
        assert!(
            html.contains("&#x2f;marks?a=1&amp;b=&quot;x&quot;"),
            "{html}"
        );
        assert!(html.contains("href=\"&#x2f;login\""), "{html}");
        assert!(!html.contains("<script"));
    }

    /// Issue 15: no dead ends, no machine codes in the text a parent reads.
    #[tokio::test]
    async fn every_refusal_has_a_way_out_and_its_code_only_in_the_support_line() {
        let pages = Pages::new(Language::Ru, "/esia/").unwrap();
        let html = body(
            pages.problem(
                &Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Слишком много попыток",
                    "Подождите.",
                )
                .with_code("link-rate-limited"),
            ),
        )
        .await;
        assert!(
            html.contains("<a href=\"/\">Вернуться в электронный дневник</a>"),
            "{html}"
        );
        let support = html
            .find("Код для службы поддержки:")
            .expect("support line");
        let code = html.find("link-rate-limited").unwrap();
        assert!(
            code > support,
            "the code stands only in the support line: {html}"
        );
    }

    #[tokio::test]
    async fn english_pages_and_problem_pages() {
        let pages = Pages::new(Language::En, "/auth/").unwrap();
        let p = Problem::new(StatusCode::BAD_GATEWAY, "Down", "<b>x</b>")
            .with_code("ESIA-007053")
            .with_retry();
        let resp = pages.problem(&p);
        assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
        let html = body(resp).await;
        assert!(html.contains("lang=\"en\""));
        assert!(html.contains("&lt;b&gt;x&lt;&#x2f;b&gt;"), "{html}");
        assert!(html.contains("ESIA-007053"));
        assert!(html.contains("href=\"/auth/start\""));
    }

    #[tokio::test]
    async fn logout_page_posts_the_csrf_token() {
        let pages = Pages::new(Language::Ru, "/esia/").unwrap();
        let html = body(pages.logout_confirm("tok123")).await;
        assert!(html.contains("method=\"post\" action=\"/esia/logout\""));
        assert!(html.contains("name=\"csrf\" value=\"tok123\""));
        assert!(html.contains("Выйти"));
    }
}
