//! The mock's HTML: the login page in the style of «Вход для портала Госуслуг» (seed
//! 004), where a tester picks a persona or declines, and the error pages ESIA shows when
//! it cannot send the browser back. Inline CSS only; every interpolated value is escaped.

use super::codes::EsiaError;
use super::personas::{DECLINE, Persona};

/// HTML-escapes text for element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{margin:0;font-family:Arial,Helvetica,sans-serif;background:#f5f7fa;color:#0b1f33}\
header{background:#fff;border-bottom:1px solid #e1e7ef;padding:16px 24px}\
.logo{font-size:24px;font-weight:bold;color:#0d4cd3}.logo span{color:#ee3f58}\
.sub{font-size:12px;color:#66727f}\
main{max-width:440px;margin:40px auto;background:#fff;border-radius:8px;padding:32px;\
box-shadow:0 1px 4px rgba(0,0,0,.1)}\
h1{font-size:24px;margin:0}.for{color:#66727f;margin:4px 0 24px}\
.persona{display:block;width:100%;text-align:left;margin:8px 0;padding:12px 16px;\
border:1px solid #0d4cd3;border-radius:8px;background:#fff;cursor:pointer;font-size:15px}\
.persona:hover{background:#e8effd}.persona small{display:block;color:#66727f}\
.decline{width:100%;margin-top:16px;padding:12px;border:0;border-radius:8px;\
background:#e1e7ef;font-size:15px;cursor:pointer}\
.note{font-size:13px;color:#66727f;margin-top:24px}.code{font-family:monospace;color:#ee3f58}";

fn frame(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"ru\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>{}</title><style>{STYLE}</style></head><body>\
<header><div class=\"logo\">гос<span>услуги</span></div>\
<div class=\"sub\">Единая система идентификации и аутентификации (тестовый стенд)</div></header>\
<main>{body}</main></body></html>\n",
        escape(title)
    )
}

/// The persona picker shown after a valid /ac. The pending-authorization id travels in a
/// hidden field; the flow's parameters stay on the server.
pub fn login_page(pending: &str, client_id: &str, scope: &str, personas: &[Persona]) -> String {
    let mut buttons = String::new();
    for p in personas {
        buttons.push_str(&format!(
            "<button class=\"persona\" type=\"submit\" name=\"persona\" value=\"{}\">\
{}<small>{} · OID {}</small></button>",
            escape(&p.id),
            escape(&p.full_name()),
            escape(&p.title),
            p.oid
        ));
    }
    let body = format!(
        "<h1>Вход</h1><p class=\"for\">для портала Госуслуг</p>\
<p>Система <b>{}</b> запрашивает доступ к данным: <span class=\"code\">{}</span></p>\
<form method=\"post\" action=\"/aas/oauth2/v2/ac/login\">\
<input type=\"hidden\" name=\"pending\" value=\"{}\">\
<p>Выберите тестовую учетную запись:</p>{buttons}\
<button class=\"decline\" type=\"submit\" name=\"persona\" value=\"{DECLINE}\">Отказаться</button>\
</form><p class=\"note\">Это тестовый стенд ЕСИА: пароль не нужен, данные вымышлены.</p>",
        escape(client_id),
        escape(scope),
        escape(pending),
    );
    frame("Вход для портала Госуслуг", &body)
}

/// The page shown when ESIA cannot (or must not) redirect back to the system.
pub fn error_page(err: &EsiaError) -> String {
    let body = format!(
        "<h1>Ошибка</h1><p class=\"for\">Вход не выполнен</p>\
<p>{}</p><p class=\"code\">{}</p>\
<p class=\"note\">Сообщите код ошибки администратору системы, с которой вы пришли.</p>",
        escape(err.code.russian()),
        escape(&err.description()),
    );
    frame("Ошибка входа — Госуслуги", &body)
}

/// A plain message page (expired login form, logout without a return address).
pub fn message_page(title: &str, text: &str) -> String {
    frame(
        title,
        &format!("<h1>{}</h1><p>{}</p>", escape(title), escape(text)),
    )
}

/// Finds the pending-authorization id in a login page: for tests and tools that drive
/// the mock's form without a browser.
pub fn pending_from_login_page(html: &str) -> Option<String> {
    let marker = "name=\"pending\" value=\"";
    let start = html.find(marker)? + marker.len();
    let len = html.get(start..)?.find('"')?;
    html.get(start..start + len).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::standins::esia_mock::personas::{DEFAULT_PERSONAS, parse};

    #[test]
    fn login_page_escapes_and_carries_the_pending_id() {
        let ps = parse(DEFAULT_PERSONAS).unwrap();
        let page = login_page("abc123", "<script>", "openid \"x\"", &ps);
        assert!(!page.contains("<script>"));
        assert!(page.contains("&lt;script&gt;") && page.contains("&quot;x&quot;"));
        assert_eq!(pending_from_login_page(&page).as_deref(), Some("abc123"));
        assert!(page.contains("Иванова Мария Ивановна") && page.contains("Отказаться"));
        assert!(page.contains("value=\"decline\""));
        assert!(pending_from_login_page("<p>nothing</p>").is_none());
    }
}
