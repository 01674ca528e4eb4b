//! The diary's look, after the seeds: the «Региональный Интернет Дневник 4.1» header,
//! the menu, inline CSS (no external assets), and the login form. Every page's `<h1>`
//! carries a stable `id` (see [`super::routing::Route::page_id`]) so tests and the
//! gateway's rewriter can tell pages apart, and every page of a signed-in session names
//! its user in the header the way real diaries do — stable places for the gateway's
//! HTML identity probe: `<span class="whoami" id="whoami">Учащийся @ student</span>`
//! and `<span class="fio" id="fio">Петров Алексей Сергеевич</span>`.

use super::school::{Account, CLASSES, PUPILS, Role};

const STYLE: &str = "body{font-family:Verdana,Arial,sans-serif;margin:0;background:#eef3f8;color:#222}\
header{background:#2a5b8c;color:#fff;padding:8px 16px}header .title{font-size:20px;font-weight:bold}\
header .year{font-size:12px}header .who{float:right}header a{color:#fff}\
nav{background:#d7e4f1;padding:6px 16px}nav a{margin-right:14px;color:#1a3f66}\
main{padding:12px 16px;max-width:980px}table{border-collapse:collapse;margin:6px 0 14px}\
td,th{border:1px solid #9ab;padding:3px 8px;text-align:left}th{background:#dde8f3}\
.tiles{display:flex;flex-wrap:wrap;gap:10px}.tile{background:#fff;border:1px solid #9ab;width:290px;padding:8px}\
.tile a{font-weight:bold}.error{color:#b00;font-weight:bold}.note{color:#555}\
form p{margin:6px 0}";

/// HTML-escapes text for element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The user block of the header: `Учащийся @ student (11 «В») Петров Алексей Сергеевич`.
fn who(account: &Account) -> String {
    let class = account
        .pupil
        .and_then(|p| PUPILS.get(p))
        .map(|(_, c, _)| *c)
        .or(account.class)
        .and_then(|c| CLASSES.get(c))
        .map(|class| format!(" <span class=\"class\">({class})</span>"))
        .unwrap_or_default();
    format!(
        "<div class=\"who\"><span class=\"whoami\" id=\"whoami\">{} @ {}</span>{class} \
         <span class=\"fio\" id=\"fio\">{}</span> <a href=\"/logout\">Выйти</a></div>",
        escape(account.role.title()),
        escape(account.login),
        escape(account.full_name)
    )
}

/// The menu of a signed-in user; parents also get «Мои дети».
fn menu(account: &Account) -> String {
    let children = if account.role == Role::Parent {
        "<a href=\"/children\">Мои дети</a>"
    } else {
        ""
    };
    format!(
        "<nav><a href=\"/\">Моя страница</a><a href=\"/marks\">Оценки</a>\
         <a href=\"/schedule\">Расписание</a><a href=\"/homework\">Домашнее задание</a>\
         <a href=\"/teachers\">Учителя</a><a href=\"/messages\">Сообщения</a>\
         <a href=\"/files\">Файлы</a>{children}</nav>"
    )
}

/// A whole page. `charset` goes into the `<meta>`; the bytes are encoded by the server.
pub fn page(
    charset: &str,
    page_id: &str,
    heading: &str,
    user: Option<&Account>,
    body: &str,
) -> String {
    let header_user = user.map(who).unwrap_or_default();
    let nav = user.map(menu).unwrap_or_default();
    format!(
        "<!DOCTYPE html>\n<html lang=\"ru\"><head><meta charset=\"{charset}\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{heading} — Региональный Интернет Дневник</title><style>{STYLE}</style></head>\n\
         <body><header>{header_user}<div class=\"title\">Региональный Интернет Дневник 4.1</div>\
         <div class=\"year\">2026-2027 учебный год</div></header>{nav}\n\
         <main><h1 id=\"{page_id}\">{heading}</h1>\n{body}</main></body></html>\n",
        heading = escape(heading),
    )
}

/// The login form («Вход на сайт»), with an optional error, the page to return to and,
/// in the strict-login mode, the session's CSRF token as a hidden `_token` field.
pub fn login_form(
    error: Option<&str>,
    return_to: &str,
    token: Option<&str>,
    user: Option<&Account>,
) -> String {
    let error = error
        .map(|e| format!("<p class=\"error\">{}</p>", escape(e)))
        .unwrap_or_default();
    let token = token
        .map(|t| {
            format!(
                "<input type=\"hidden\" name=\"_token\" value=\"{}\">",
                escape(t)
            )
        })
        .unwrap_or_default();
    let body = format!(
        "<p>Я посещаю: <b>Региональный Интернет Дневник</b> (версия 4.1)</p>{error}\
         <form method=\"post\" action=\"/login\" id=\"login-form\">\
         <input type=\"hidden\" name=\"return\" value=\"{ret}\">{token}\
         <p><label>Логин <input name=\"login\" autocomplete=\"username\"></label></p>\
         <p><label>Пароль: <input type=\"password\" name=\"password\" autocomplete=\"current-password\"></label></p>\
         <p><label><input type=\"checkbox\" name=\"remember\" value=\"1\"> запомнить меня</label></p>\
         <p><button type=\"submit\">Войти</button></p></form>\
         <p class=\"note\">Нет учётной записи? <a href=\"/register\">Регистрация</a></p>",
        ret = escape(return_to)
    );
    page("utf-8", "page-login", "Вход на сайт", user, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            escape("<a href=\"x\">'&"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;"
        );
    }

    #[test]
    fn login_form_escapes_the_return_path() {
        let html = login_form(
            Some("Неверный логин или пароль"),
            "/\"><script>",
            None,
            None,
        );
        assert!(html.contains("Неверный логин или пароль"));
        assert!(!html.contains("<script>"));
        assert!(html.contains("id=\"page-login\""));
        assert!(!html.contains("_token"));
        let html = login_form(None, "/", Some("ab12"), None);
        assert!(html.contains("<input type=\"hidden\" name=\"_token\" value=\"ab12\">"));
    }

    #[test]
    fn signed_in_pages_name_their_user_in_stable_places() {
        let accounts = super::super::school::accounts();
        let html = page("utf-8", "page-x", "X", accounts.first(), "");
        assert!(html.contains("<span class=\"whoami\" id=\"whoami\">Учащийся @ student</span>"));
        assert!(html.contains("<span class=\"class\">(11 «В»)</span>"));
        assert!(html.contains("<span class=\"fio\" id=\"fio\">Петров Алексей Сергеевич</span>"));
        assert!(!html.contains("/children"));
        let html = page("utf-8", "page-x", "X", accounts.get(1), "");
        assert!(html.contains("id=\"whoami\">Родитель @ parent<") && html.contains("/children"));
        assert!(!page("utf-8", "page-x", "X", None, "").contains("whoami"));
    }
}
