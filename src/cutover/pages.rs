//! The pages the authorize phase answers with: the refusal «Доступ к текущей
//! успеваемости закрыт» (naming the reason and offering the way out: link the account,
//! or sign in through Госуслуги), the refusal of the legacy login form when legacy login
//! is disabled, and the redirect to the ESIA start page.
//!
//! Every refusal carries the reason's stable name (`data-reason`, and in the text) so
//! the person who calls the help desk can read it out. A group's own `deny_reason` text
//! ([`Reason::Custom`]) replaces the built-in words and the grades title. The refusal is
//! the template `denied.html` (replaceable, see [`crate::pages::templates`]) and leaves
//! through the page kit like every other page.

use http::{HeaderValue, Response, StatusCode};
use minijinja::context;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::body::Body;
use crate::inject::banner::escape;
use crate::language::Language;
use crate::pages::Templates;
use crate::policy::{AccountLevel, Reason};

/// The templates of this module: the refusal.
pub const TEMPLATES: [(&str, &str); 1] = [("denied.html", include_str!("templates/denied.html"))];

/// What the refused person can do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A legacy session: «выполнить привязку к ЕСИА» (`{prefix}link/start`).
    Link,
    /// Anonymous, or legacy login disabled: «Войти через Госуслуги».
    EsiaLogin,
    /// An ESIA session without a binding: the link form.
    LinkForm,
    /// Nothing the gateway can offer (level too low, route closed).
    None,
}

/// Characters left as they are in a `return=` value: unreserved and `/`.
const RETURN: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// `{prefix}start?return=<path>`: where a visitor who must sign in is sent.
pub fn start_url(prefix: &str, return_path: &str) -> String {
    format!(
        "{prefix}start?return={}",
        utf8_percent_encode(return_path, RETURN)
    )
}

pub fn redirect(location: &str) -> Response<Body> {
    crate::pages::into_body(crate::pages::redirect(location))
}

/// The reason in words, for the page.
pub fn reason_text(reason: Reason, required: Option<AccountLevel>, lang: Language) -> String {
    let ru = lang == Language::Ru;
    let level = required.map(|l| level_name(l, lang));
    match (reason, ru) {
        (Reason::Custom(t), true) => t.ru.clone(),
        (Reason::Custom(t), false) => t.en.clone(),
        (Reason::LegacySessionAfterCutover, true) => "Вы вошли по логину и паролю интернет-дневника. После перехода на вход через ЕСИА текущая успеваемость показывается только после привязки учетной записи Госуслуг.".into(),
        (Reason::LegacySessionAfterCutover, false) => "You signed in with the diary password. Since the switch to ESIA, grades are shown only after you link your Gosuslugi account.".into(),
        (Reason::LegacyLoginDisabled, true) => "Вход по логину и паролю интернет-дневника отключён. Вход в интернет-дневник возможен только через Госуслуги (ЕСИА).".into(),
        (Reason::LegacyLoginDisabled, false) => "Signing in with the diary password is disabled. The e-diary can only be entered through Gosuslugi (ESIA).".into(),
        (Reason::EsiaRequired, true) => "Эта страница доступна только после входа через Госуслуги (ЕСИА).".into(),
        (Reason::EsiaRequired, false) => "This page is available only after signing in with Gosuslugi (ESIA).".into(),
        (Reason::EsiaNotLinked, true) => "Ваша учетная запись Госуслуг ещё не привязана к пользователю интернет-дневника.".into(),
        (Reason::EsiaNotLinked, false) => "Your Gosuslugi account is not linked to an e-diary user yet.".into(),
        (Reason::LevelTooLow, true) => format!("Для вашей роли нужна учетная запись Госуслуг уровня «{}». Подтвердить учетную запись можно в центре обслуживания или онлайн на портале Госуслуг.", level.unwrap_or("Подтвержденная")),
        (Reason::LevelTooLow, false) => format!("Your role needs a Gosuslugi account of level “{}”.", level.unwrap_or("confirmed")),
        (Reason::RegistrationClosed, true) => "Регистрация новых пользователей возможна только через Госуслуги (ЕСИА).".into(),
        (Reason::RegistrationClosed, false) => "New users can register only through Gosuslugi (ESIA).".into(),
        (Reason::RouteClosed, true) => "Этот раздел сейчас закрыт.".into(),
        (Reason::RouteClosed, false) => "This section is closed now.".into(),
        (Reason::AmbiguousProtectedParameter, true) => "Адрес страницы записан неоднозначно, поэтому доступ к ней закрыт.".into(),
        (Reason::AmbiguousProtectedParameter, false) => "The page address is ambiguous, so access to it is closed.".into(),
    }
}

fn level_name(level: AccountLevel, lang: Language) -> &'static str {
    match (level, lang) {
        (AccountLevel::Confirmed, Language::Ru) => "Подтвержденная",
        (AccountLevel::Standard, Language::Ru) => "Стандартная",
        (AccountLevel::Simplified, Language::Ru) => "Упрощенная",
        (AccountLevel::Child, Language::Ru) => "Детская",
        (l, Language::En) => l.as_str(),
    }
}

/// The 403 page for a refused request.
pub fn denied(
    reason: Reason,
    required: Option<AccountLevel>,
    action: Action,
    prefix: &str,
    return_path: &str,
    lang: Language,
    templates: &Templates,
) -> Response<Body> {
    let ru = lang == Language::Ru;
    let title = match (reason, ru) {
        (Reason::LegacyLoginDisabled, true) => "Вход по логину и паролю отключён",
        (Reason::LegacyLoginDisabled, false) => "Password sign-in is disabled",
        (Reason::RegistrationClosed, true) => "Регистрация только через Госуслуги",
        (Reason::RegistrationClosed, false) => "Registration only through Gosuslugi",
        (Reason::Custom(_), true) => "Доступ к разделу закрыт",
        (Reason::Custom(_), false) => "Access to this section is closed",
        (_, true) => "Доступ к текущей успеваемости закрыт",
        (_, false) => "Access to current grades is closed",
    };
    let (href, label) = match (action, ru) {
        (Action::Link, true) => (format!("{prefix}link/start"), "Выполнить привязку к ЕСИА"),
        (Action::Link, false) => (format!("{prefix}link/start"), "Link my ESIA account"),
        (Action::EsiaLogin, true) => (start_url(prefix, return_path), "Войти через Госуслуги"),
        (Action::EsiaLogin, false) => (start_url(prefix, return_path), "Sign in with Gosuslugi"),
        (Action::LinkForm, true) => (format!("{prefix}link"), "Привязать учетную запись"),
        (Action::LinkForm, false) => (format!("{prefix}link"), "Link my account"),
        (Action::None, true) => ("/".to_string(), "На главную"),
        (Action::None, false) => ("/".to_string(), "Home"),
    };
    let html = templates.render(
        "denied.html",
        context! {
            lang => lang.code(),
            title,
            text => reason_text(reason, required, lang),
            // Escaped here, without minijinja's `/` → `&#x2f;`: the link stays readable.
            action_href => minijinja::Value::from_safe_string(escape(&href)),
            action_label => label,
            reason_label => if ru { "Код причины" } else { "Reason code" },
            reason => reason.as_str(),
        },
    );
    let mut resp = crate::pages::html_response(StatusCode::FORBIDDEN, html);
    // The stable name for scripts and for HEAD, whose answer has no page.
    if let Ok(name) = HeaderValue::from_str(reason.as_str()) {
        resp.headers_mut().insert(REASON_HEADER, name);
    }
    crate::pages::into_body(resp)
}

/// The response header naming a refusal's reason.
pub const REASON_HEADER: &str = "x-esia-gateway-reason";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_paths_are_encoded_once() {
        assert_eq!(
            start_url("/esia/", "/index.php?module=marks&x=1"),
            "/esia/start?return=/index.php%3Fmodule%3Dmarks%26x%3D1"
        );
    }

    #[test]
    fn a_groups_own_text_is_the_page_text() {
        use crate::policy::DenyText;
        let t = DenyText::intern(
            "group-posts",
            "Только через Госуслуги <b>",
            "Gosuslugi only",
        );
        let reason = Reason::Custom(t);
        assert_eq!(
            reason_text(reason, None, Language::Ru),
            "Только через Госуслуги <b>"
        );
        assert_eq!(reason_text(reason, None, Language::En), "Gosuslugi only");
        for (lang, title, text) in [
            (
                Language::Ru,
                "Доступ к разделу закрыт",
                "Только через Госуслуги &lt;b&gt;",
            ),
            (
                Language::En,
                "Access to this section is closed",
                "Gosuslugi only",
            ),
        ] {
            let templates = Templates::shipped(&TEMPLATES).unwrap();
            let resp = denied(reason, None, Action::Link, "/esia/", "/x", lang, &templates);
            assert_eq!(resp.headers()[REASON_HEADER], "group-posts");
            let body = futures_body(resp);
            assert!(body.contains(title), "{body}");
            assert!(body.contains(text), "{body}");
            assert!(body.contains("data-reason=\"group-posts\""), "{body}");
            assert!(!body.contains("текущей успеваемости"), "{body}");
        }
    }

    fn futures_body(resp: Response<Body>) -> String {
        use http_body_util::BodyExt;
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let bytes = rt
            .block_on(resp.into_body().collect())
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[test]
    fn every_reason_has_words_in_both_languages() {
        for r in Reason::ALL {
            for lang in [Language::Ru, Language::En] {
                assert!(!reason_text(r, None, lang).is_empty());
            }
        }
    }
}
