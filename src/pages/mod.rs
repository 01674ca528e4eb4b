//! User-facing pages rendered by the gateway itself (never by the diary): the page kit
//! every page leaves through ([`kit`]), the templates every page is rendered from and
//! the operator's replacements for them ([`templates`]), and the error page every
//! failure ends in.
//!
//! Templates are compiled once into a minijinja environment; autoescaping is on
//! (`.html`), no external assets, inline CSS, readable on a phone. Texts are Russian by
//! default, English when `pages.language = "en"`. Pages never carry internal details
//! (addresses, error chains): those go to the log.

pub mod kit;
pub mod templates;
mod texts;

pub use kit::{PageResponse, html_response, into_body, redirect};
pub use templates::{LiveTemplates, Templates};

use http::{Response, StatusCode};
use minijinja::context;

use crate::body::Body;
use crate::language::Language;

/// The templates of this module: the error page.
pub const TEMPLATES: [templates::Shipped; 1] = [("error.html", include_str!("error.html"))];

/// Renders the error page for `status` as a complete response.
pub fn error_page(status: StatusCode, language: Language, templates: &Templates) -> Response<Body> {
    into_body(html_response(
        status,
        render_error(status, language, templates),
    ))
}

/// The page for a connection past a `[limits]` cap (503).
pub fn busy_page(language: Language, templates: &Templates) -> Response<Body> {
    let t = texts::busy(language);
    into_body(html_response(
        StatusCode::SERVICE_UNAVAILABLE,
        render(StatusCode::SERVICE_UNAVAILABLE, &t, language, templates),
    ))
}

/// The HTML of the error page.
pub fn render_error(status: StatusCode, language: Language, templates: &Templates) -> String {
    render(
        status,
        &texts::for_status(status, language),
        language,
        templates,
    )
}

fn render(
    status: StatusCode,
    t: &texts::Texts,
    language: Language,
    templates: &Templates,
) -> String {
    templates.render(
        "error.html",
        context! {
            lang => language.code(),
            status => status.as_u16(),
            title => t.title,
            text => t.text,
            home => t.home,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render_error(status: StatusCode, language: Language) -> String {
        super::render_error(status, language, &Templates::shipped(&TEMPLATES).unwrap())
    }

    #[test]
    fn russian_by_default_english_by_config() {
        let ru = render_error(StatusCode::BAD_GATEWAY, Language::Ru);
        assert!(ru.contains("502"));
        assert!(ru.contains("lang=\"ru\""));
        assert!(ru.contains("недоступен"), "{ru}");
        let en = render_error(StatusCode::BAD_GATEWAY, Language::En);
        assert!(en.contains("lang=\"en\""));
        assert!(en.contains("unavailable"), "{en}");
    }

    #[test]
    fn every_status_has_a_page_without_external_assets() {
        for code in [400, 404, 413, 414, 431, 500, 502, 503, 504, 418] {
            let status = StatusCode::from_u16(code).unwrap();
            for lang in [Language::Ru, Language::En] {
                let html = render_error(status, lang);
                assert!(html.contains(&code.to_string()));
                assert!(html.contains("viewport"), "phone-readable");
                assert!(!html.contains("http://") && !html.contains("https://"));
            }
        }
    }
}
