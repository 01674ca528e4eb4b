//! The fragments the gateway injects into the diary's pages, in the words of the seeds:
//! seed 004's transition notice («Внимание! … выполнить привязку к ЕСИА») and the
//! «Войти через Госуслуги» button on the diary's login page. Styles are inline and ids
//! are prefixed, so nothing clashes with the diary's own CSS; no external assets.

use chrono::{Datelike, NaiveDate};

use crate::language::Language;

const MONTHS_GENITIVE: [&str; 12] = [
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
];

/// `01 января 2019 г.` / `1 January 2019`.
pub fn format_date(date: NaiveDate, lang: Language) -> String {
    let month = date.month0() as usize;
    match lang {
        Language::Ru => format!(
            "{:02} {} {} г.",
            date.day(),
            MONTHS_GENITIVE[month % 12],
            date.year()
        ),
        Language::En => date.format("%-d %B %Y").to_string(),
    }
}

/// Minimal HTML escaping for text and attribute values we interpolate.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
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

const BOX: &str = "margin:8px;padding:12px 16px;border:2px solid #d9534f;background:#fff4f4;color:#222;\
font:15px/1.4 Arial,sans-serif;border-radius:6px";
const BUTTON: &str = "display:inline-block;margin-top:8px;padding:8px 14px;background:#0d4cd3;color:#fff;\
text-decoration:none;border-radius:4px;font:bold 15px Arial,sans-serif";

/// Seed 004's notice, shown during the transition, with the real cutover date.
pub fn transition_banner(esia_only_from: NaiveDate, link_url: &str, lang: Language) -> String {
    let date = format_date(esia_only_from, lang);
    let link = escape(link_url);
    match lang {
        Language::Ru => format!(
            "<div id=\"esia-gw-banner\" role=\"alert\" style=\"{BOX}\"><b>Внимание!</b> С {date} вход в \
             интернет-дневник будет возможен только через Единую систему идентификации и аутентификации \
             (ЕСИА) — через Госуслуги. Если у вас уже есть учетная запись на Госуслугах, вы можете \
             выполнить привязку к ЕСИА прямо сейчас. Возможность привязки при входе по логину и паролю \
             останется и после указанной даты, но успеваемость учащегося при этом отображаться не будет.\
             <br><a id=\"esia-gw-link\" href=\"{link}\" style=\"{BUTTON}\">Выполнить привязку к ЕСИА</a></div>"
        ),
        Language::En => format!(
            "<div id=\"esia-gw-banner\" role=\"alert\" style=\"{BOX}\"><b>Attention!</b> From {date} the \
             e-diary can only be entered through ESIA (Gosuslugi). If you already have a Gosuslugi account, \
             you can link it now. Signing in with the diary password stays possible after that date, but \
             grades will not be shown.<br><a id=\"esia-gw-link\" href=\"{link}\" style=\"{BUTTON}\">Link \
             my ESIA account</a></div>"
        ),
    }
}

/// The notice for a password session after the cutover (restricted mode): the grades
/// now need Госуслуги, and the way to link is one click away — not first met as a 403.
pub fn cutover_banner(esia_only_from: NaiveDate, link_url: &str, lang: Language) -> String {
    let date = format_date(esia_only_from, lang);
    let link = escape(link_url);
    match lang {
        Language::Ru => format!(
            "<div id=\"esia-gw-banner\" role=\"alert\" style=\"{BOX}\"><b>Внимание!</b> С {date} \
             текущая успеваемость в интернет-дневнике показывается только после входа через Госуслуги \
             (ЕСИА). Вы вошли по логину и паролю: выполните привязку к ЕСИА, чтобы снова видеть оценки.\
             <br><a id=\"esia-gw-link\" href=\"{link}\" style=\"{BUTTON}\">Выполнить привязку к ЕСИА</a></div>"
        ),
        Language::En => format!(
            "<div id=\"esia-gw-banner\" role=\"alert\" style=\"{BOX}\"><b>Attention!</b> Since {date} \
             grades are shown only after signing in with Gosuslugi (ESIA). You signed in with the diary \
             password: link your ESIA account to see grades again.<br><a id=\"esia-gw-link\" \
             href=\"{link}\" style=\"{BUTTON}\">Link my ESIA account</a></div>"
        ),
    }
}

/// The account switcher for a person with several diary accounts (a parent with
/// children in two schools): which account is open, and «Сменить» to the chooser.
pub fn account_switcher(login: &str, chooser_url: &str, lang: Language) -> String {
    let (lead, label) = match lang {
        Language::Ru => ("Учетная запись дневника:", "Сменить"),
        Language::En => ("E-diary account:", "Switch"),
    };
    format!(
        "<div id=\"esia-gw-switcher\" style=\"margin:8px;padding:6px 12px;border:1px solid #c6d4f5;\
         background:#f3f7ff;color:#222;font:14px/1.4 Arial,sans-serif;border-radius:6px\">{lead} \
         <b>{}</b> <a id=\"esia-gw-switch\" href=\"{}\" style=\"display:inline-block;\
         min-height:44px;line-height:44px;padding:0 14px;margin-left:8px;color:#0d4cd3\">{label}</a></div>",
        escape(login),
        escape(chooser_url)
    )
}

/// The button added next to the diary's own login form.
pub fn login_button(start_url: &str, lang: Language) -> String {
    let label = match lang {
        Language::Ru => "Войти через Госуслуги",
        Language::En => "Sign in with Gosuslugi",
    };
    format!(
        "<p id=\"esia-gw-login\" style=\"margin:12px 0\"><a href=\"{}\" style=\"{BUTTON}\">{label}</a></p>",
        escape(start_url)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn russian_dates_use_the_genitive() {
        let d = NaiveDate::from_ymd_opt(2019, 1, 1).unwrap();
        assert_eq!(format_date(d, Language::Ru), "01 января 2019 г.");
        assert_eq!(
            format_date(NaiveDate::from_ymd_opt(2018, 10, 1).unwrap(), Language::Ru),
            "01 октября 2018 г."
        );
        assert_eq!(format_date(d, Language::En), "1 January 2019");
    }

    #[test]
    fn banner_carries_the_date_and_an_escaped_link() {
        let d = NaiveDate::from_ymd_opt(2019, 1, 1).unwrap();
        let html = transition_banner(d, "/esia/link/start?return=/a\"b", Language::Ru);
        assert!(html.contains("С 01 января 2019 г. вход"));
        assert!(html.contains("Выполнить привязку к ЕСИА</a>"));
        assert!(html.contains("href=\"/esia/link/start?return=/a&quot;b\""));
        assert!(login_button("/esia/start", Language::Ru).contains("Войти через Госуслуги"));
    }
}
