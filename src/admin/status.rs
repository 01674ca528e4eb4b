//! `/status` on the admin listener: one HTML page for the operator, with no external
//! assets and no script (the page kit's headers forbid both): the calendar's phase and
//! the days to its next date, the linked share per role over the last 7 days with bars,
//! sign-ins and refusals over the last 24 hours, the health checks `/readyz` runs with
//! their errors, the certificate's expiry, the version and the configuration's hash.
//!
//! [`render`] is pure over [`StatusFacts`]; `Admin::status` gathers them.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::readiness::Readiness;
use crate::inject::banner::escape;

/// Everything the page shows.
pub struct StatusFacts {
    pub now: DateTime<Utc>,
    pub version: &'static str,
    pub config_sha256: Option<String>,
    pub calendar: Option<CalendarFacts>,
    /// Last 7 days; `None` without a store (or when it failed: see `checks`).
    pub week: Option<Readiness>,
    /// Last 24 hours.
    pub day: Option<Readiness>,
    /// `(check, Ok | error text)`, in the order `/readyz` runs them.
    pub checks: Vec<(String, Result<(), String>)>,
    pub certificate_expires: Option<DateTime<Utc>>,
    pub open_connections: i64,
}

pub struct CalendarFacts {
    /// `transition`, `cutover-restricted`, …
    pub phase: &'static str,
    pub next_change: Option<DateTime<Utc>>,
    pub cutover_at: DateTime<Utc>,
}

/// What an operator calls the phases.
fn phase_text(phase: &str) -> &'static str {
    match phase {
        "before-transition" => "до переходного периода",
        "transition" => "переходный период: вход по паролю и через Госуслуги",
        "cutover-restricted" => "после перехода: по паролю — без текущей успеваемости",
        "cutover-disabled" => "после перехода: вход только через Госуслуги",
        _ => "неизвестная фаза",
    }
}

/// «Родитель (parent)»: the seeds' word and the code the config uses.
fn role_label(role: &str) -> String {
    match role {
        "total" => "Всего".to_owned(),
        super::readiness::UNKNOWN_ROLE => "роль неизвестна".to_owned(),
        code => format!(
            "{} ({code})",
            crate::link::texts::role_name(crate::language::Language::Ru, Some(code))
        ),
    }
}

fn days_between(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    (to - from).num_days()
}

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:24px auto;max-width:960px;\
padding:0 16px;color:#1c1c1c}h1{font-size:22px}h2{font-size:17px;margin-top:28px}\
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:4px 8px;\
border-bottom:1px solid #ddd}th{font-weight:600}.num{text-align:right}\
.bar{background:#e8eef7;height:14px;width:200px;display:inline-block;vertical-align:middle}.bar>div{background:#0d4cd3;height:14px}\
.ok{color:#13742b}.bad{color:#b3261e;font-weight:600}.muted{color:#666}\
code{font-size:13px}";

pub fn render(f: &StatusFacts) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html lang=\"ru\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>esia-gateway: состояние</title><style>{STYLE}</style></head><body>\
         <h1>esia-gateway: состояние</h1><p class=\"muted\">На {} UTC</p>",
        f.now.format("%Y-%m-%d %H:%M")
    );

    h.push_str("<h2>Календарь перехода</h2>");
    match &f.calendar {
        None => h.push_str("<p>Календарь не настроен: шлюз работает как прокси.</p>"),
        Some(c) => {
            let _ = write!(
                h,
                "<p id=\"phase\" data-phase=\"{}\">Сейчас: <strong>{}</strong></p>",
                c.phase,
                phase_text(c.phase)
            );
            match c.next_change {
                Some(next) => {
                    let _ = write!(
                        h,
                        "<p>Следующая смена фазы: {} (через {} дн.)</p>",
                        next.format("%Y-%m-%d"),
                        days_between(f.now, next).max(0)
                    );
                }
                None => {
                    let _ = write!(
                        h,
                        "<p>Вход только через Госуслуги действует с {} ({} дн. назад).</p>",
                        c.cutover_at.format("%Y-%m-%d"),
                        days_between(c.cutover_at, f.now).max(0)
                    );
                }
            }
        }
    }

    h.push_str("<h2>Привязка учетных записей по ролям, 7 дней</h2>");
    match &f.week {
        None => {
            h.push_str("<p class=\"muted\">Нет данных: хранилище не настроено или недоступно.</p>")
        }
        Some(w) if w.total.active == 0 => {
            h.push_str("<p class=\"muted\">За 7 дней никто не входил.</p>")
        }
        Some(w) => {
            h.push_str(
                "<table id=\"roles\"><tr><th>Роль</th><th class=\"num\">Входили</th>\
                 <th class=\"num\">Через Госуслуги</th><th class=\"num\">Только по паролю</th>\
                 <th class=\"num\">Привязаны</th><th>Доля привязанных</th></tr>",
            );
            for r in w.roles.iter().chain(std::iter::once(&w.total)) {
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                     <td class=\"num\">{}</td><td class=\"num\">{}</td><td>\
                     <div class=\"bar\" title=\"{:.1}%\"><div style=\"width:{:.1}%\"></div></div> \
                     {:.1}%</td></tr>",
                    escape(&role_label(&r.role)),
                    r.active,
                    r.via_esia,
                    r.legacy_only,
                    r.linked,
                    r.linked_percent,
                    r.linked_percent.clamp(0.0, 100.0),
                    r.linked_percent
                );
            }
            h.push_str("</table>");
            let _ = write!(
                h,
                "<p>Учетные записи Госуслуг без привязки: {}. Помеченные привязки (ФИО не совпали): {}.</p>",
                w.esia_not_linked,
                w.flagged.len()
            );
        }
    }

    h.push_str("<h2>За 24 часа</h2>");
    match &f.day {
        None => h.push_str("<p class=\"muted\">Нет данных.</p>"),
        Some(d) => {
            let esia: usize = d.days.iter().map(|x| x.esia).sum();
            let legacy: usize = d.days.iter().map(|x| x.legacy).sum();
            let level: usize = d.level_refused.iter().map(|x| x.accounts).sum();
            let _ = write!(
                h,
                "<table id=\"day\"><tr><td>Входы через Госуслуги</td><td class=\"num\">{esia}</td></tr>\
                 <tr><td>Входы по паролю дневника</td><td class=\"num\">{legacy}</td></tr>\
                 <tr><td>Отказы в доступе</td><td class=\"num\">{}</td></tr>\
                 <tr><td>Отказы по уровню учетной записи</td><td class=\"num\">{level}</td></tr></table>",
                d.denied
            );
        }
    }

    h.push_str("<h2>Проверки</h2><table id=\"checks\">");
    for (name, result) in &f.checks {
        match result {
            Ok(()) => {
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td class=\"ok\">в порядке</td></tr>",
                    escape(name)
                );
            }
            Err(e) => {
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td class=\"bad\">ошибка: {}</td></tr>",
                    escape(name),
                    escape(e)
                );
            }
        }
    }
    h.push_str("</table>");

    h.push_str("<h2>Сертификат и версия</h2><table>");
    match f.certificate_expires {
        Some(t) => {
            let left = days_between(f.now, t);
            let class = if left < 30 { "bad" } else { "ok" };
            let _ = write!(
                h,
                "<tr><td>Сертификат действует до</td><td class=\"{class}\" id=\"cert\">{} (осталось {} дн.)</td></tr>",
                t.format("%Y-%m-%d"),
                left
            );
        }
        None => h.push_str(
            "<tr><td>Сертификат</td><td class=\"bad\" id=\"cert\">не удалось прочитать файл</td></tr>",
        ),
    }
    let _ = write!(
        h,
        "<tr><td>Версия</td><td>{}</td></tr><tr><td>Конфигурация (SHA-256)</td><td><code>{}</code></td></tr>\
         <tr><td>Открытых соединений</td><td>{}</td></tr></table>\
         <p class=\"muted\">Метрики для Prometheus: <code>/metrics</code>. Готовность: <code>/readyz</code>.</p>\
         </body></html>",
        escape(f.version),
        escape(f.config_sha256.as_deref().unwrap_or("—")),
        f.open_connections
    );
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn facts() -> StatusFacts {
        StatusFacts {
            now: at("2018-12-20T10:00:00Z"),
            version: "1.2.3",
            config_sha256: Some("ab<c".into()),
            calendar: Some(CalendarFacts {
                phase: "transition",
                next_change: Some(at("2018-12-31T21:00:00Z")),
                cutover_at: at("2018-12-31T21:00:00Z"),
            }),
            week: None,
            day: None,
            checks: vec![
                ("diary".into(), Ok(())),
                ("store".into(), Err("connection <refused>".into())),
            ],
            certificate_expires: Some(at("2019-01-05T00:00:00Z")),
            open_connections: 3,
        }
    }

    #[test]
    fn the_page_says_the_phase_the_days_left_and_every_failed_check() {
        let html = render(&facts());
        assert!(html.contains("переходный период"), "{html}");
        assert!(html.contains("через 11 дн."), "{html}");
        assert!(
            html.contains("ошибка: connection &lt;refused&gt;"),
            "{html}"
        );
        assert!(html.contains("ab&lt;c"), "escaped: {html}");
        assert!(
            html.contains("class=\"bad\" id=\"cert\""),
            "16 days left is flagged"
        );
        assert!(
            !html.contains("<script") && !html.contains("http://") && !html.contains("https://")
        );
    }

    #[test]
    fn without_a_calendar_or_a_store_the_page_says_so() {
        let mut f = facts();
        f.calendar = None;
        f.certificate_expires = None;
        let html = render(&f);
        assert!(html.contains("Календарь не настроен"));
        assert!(html.contains("Нет данных"));
        assert!(html.contains("не удалось прочитать файл"));
    }
}
