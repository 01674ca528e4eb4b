//! User-facing pages rendered by the gateway itself (never by the diary): the page kit
//! every page leaves through ([`kit`]) and the error page every failure ends in.
//!
//! Templates are embedded with `include_str!` and compiled once into a minijinja
//! environment; autoescaping is on (`.html`), no external assets, inline CSS, readable on
//! a phone. Texts are Russian by default, English when `pages.language = "en"`.
//! Pages never carry internal details (addresses, error chains): those go to the log.

pub mod kit;
mod texts;

pub use kit::{PageResponse, html_response, into_body, redirect};

use std::sync::LazyLock;

use http::{Response, StatusCode};
use minijinja::{Environment, context};

use crate::body::Body;
use crate::language::Language;

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = crate::pages::kit::environment();
    // The template is part of the binary; a syntax error is caught by the unit test below.
    if let Err(e) = env.add_template("error.html", include_str!("error.html")) {
        tracing::error!(error = %e, "embedded error template does not compile");
    }
    env
});

/// Renders the error page for `status` as a complete response.
pub fn error_page(status: StatusCode, language: Language) -> Response<Body> {
    into_body(html_response(status, render_error(status, language)))
}

/// The page for a connection past a `[limits]` cap (503).
pub fn busy_page(language: Language) -> Response<Body> {
    let t = texts::busy(language);
    into_body(html_response(
        StatusCode::SERVICE_UNAVAILABLE,
        render(StatusCode::SERVICE_UNAVAILABLE, &t, language),
    ))
}

/// The HTML of the error page; falls back to a bare page if rendering ever fails.
pub fn render_error(status: StatusCode, language: Language) -> String {
    render(status, &texts::for_status(status, language), language)
}

fn render(status: StatusCode, t: &texts::Texts, language: Language) -> String {
    let lang = match language {
        Language::Ru => "ru",
        Language::En => "en",
    };
    let rendered = TEMPLATES.get_template("error.html").and_then(|tpl| {
        tpl.render(context! {
            lang => lang,
            status => status.as_u16(),
            title => t.title,
            text => t.text,
            home => t.home,
        })
    });
    match rendered {
        Ok(html) => html,
        Err(e) => {
            tracing::error!(error = %e, "rendering the error page failed");
            format!(
                "<!DOCTYPE html><meta charset=\"utf-8\"><title>{0}</title><p>{0} {1}</p>",
                status.as_u16(),
                t.title
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
