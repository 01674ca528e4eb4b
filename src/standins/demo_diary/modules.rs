//! The diary's second mode, [`DiaryMode::Modules`](super::DiaryMode::Modules): it
//! behaves like the open-source PHP school systems built around `Modules.php`
//! (RosarioSIS and its kin), so the gateway is proven against a diary whose vocabulary is
//! not ours, with only its config changed.
//!
//! - Pages are chosen by a path-valued `$_REQUEST['modname']`
//!   (`/Modules.php?modname=Grades/StudentGrades.php`), looked up as a file would be on
//!   Linux: segment-wise (`Grades//X.php`, `./Grades/X.php`, `x/../Grades/X.php` are the
//!   same file), case-sensitive. `Users/TeacherPrograms.php&include=Grades/Grades.php`
//!   shows a teacher's grade book: the page is named by two parameters.
//! - Login is a POST of `USERNAME` and `PASSWORD` to `/index.php`; it answers
//!   `Location: Modules.php?modname=misc/Portal.php` (relative, as everywhere here).
//! - Logout is `index.php?modfunc=logout&token=…`, the token printed in every page's
//!   header; a wrong token does not log out (a CSRF guard).
//! - A dead session on `Modules.php` is answered **200** with
//!   `<script>window.location.href = "index.php?modfunc=logout…"</script>`, never a
//!   redirect.
//! - Identity is only in HTML: `<div id="user-header">ФИО (login, role)</div>`; there is
//!   no `/api/me`.
//! - `$_REQUEST` is read like the first mode: query, then form body, then cookies, the
//!   later winning.

use http::StatusCode;

use super::layout::escape;
use super::login;
use super::pages;
use super::php_query::PhpParams;
use super::quirks::{normalize_path, split_target};
use super::school::{Account, DEMO_PASSWORD};
use super::server::{Reply, State};
use super::session::Live;
use subtle::ConstantTimeEq as _;

/// Where a successful login and a signed-in visit of the login page are sent.
pub const PORTAL: &str = "Modules.php?modname=misc/Portal.php";

/// The login failure text of this mode.
pub const BAD_LOGIN_MODULES: &str = "Неверное имя пользователя или пароль";

/// The start of the body a dead session gets (the gateway's `expired.body_contains`).
pub const EXPIRED_SCRIPT: &str = "window.location.href = \"index.php?modfunc=logout";

/// A page of `Modules.php`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModPage {
    Portal,
    Calendar,
    StudentGrades,
    FinalGrades,
    ReportCards,
    Transcripts,
    TeacherPrograms,
    /// `Users/TeacherPrograms.php&include=Grades/Grades.php`.
    TeacherGrades,
    /// A `modname` that names no file.
    Missing,
}

impl ModPage {
    /// The grade pages: what the calendar closes to legacy sessions.
    pub fn is_grade_page(self) -> bool {
        matches!(
            self,
            ModPage::StudentGrades
                | ModPage::FinalGrades
                | ModPage::ReportCards
                | ModPage::Transcripts
                | ModPage::TeacherGrades
        )
    }

    /// The `id` of the page's `<h1>`.
    pub fn page_id(self) -> &'static str {
        match self {
            ModPage::Portal => "page-portal",
            ModPage::Calendar => "page-calendar",
            ModPage::StudentGrades => "page-student-grades",
            ModPage::FinalGrades => "page-final-grades",
            ModPage::ReportCards => "page-report-cards",
            ModPage::Transcripts => "page-transcripts",
            ModPage::TeacherPrograms => "page-teacher-programs",
            ModPage::TeacherGrades => "page-teacher-grades",
            ModPage::Missing => "page-not-found",
        }
    }

    fn heading(self) -> &'static str {
        match self {
            ModPage::Portal => "Портал",
            ModPage::Calendar => "Календарь",
            ModPage::StudentGrades => "Оценки учащегося",
            ModPage::FinalGrades => "Итоговые оценки",
            ModPage::ReportCards => "Табели успеваемости",
            ModPage::Transcripts => "Выписки оценок",
            ModPage::TeacherPrograms => "Программы учителя",
            ModPage::TeacherGrades => "Журнал оценок учителя",
            ModPage::Missing => "Модуль не найден",
        }
    }
}

/// What this mode does with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModRoute {
    LoginForm,
    LoginSubmit,
    Logout,
    Page(ModPage),
    NotFound,
    BadRequest,
}

/// `$_REQUEST[name]` as a scalar: query, then form, then cookies, the later winning.
fn request<'a>(
    name: &str,
    query: &'a PhpParams,
    form: Option<&'a PhpParams>,
    cookies: Option<&'a PhpParams>,
) -> Option<&'a [u8]> {
    [cookies, form]
        .into_iter()
        .flatten()
        .find_map(|p| p.scalar(name))
        .or_else(|| query.scalar(name))
}

/// A path-valued parameter as the file lookup reads it: `/`-separated segments, empty
/// and `.` ones dropped, `..` going up; `None` when it leaves the modules folder.
pub fn module_file(value: &[u8]) -> Option<String> {
    let mut segments: Vec<&[u8]> = Vec::new();
    for seg in value.split(|b| *b == b'/') {
        match seg {
            b"" | b"." => {}
            b".." => {
                segments.pop()?;
            }
            s => segments.push(s),
        }
    }
    String::from_utf8(segments.join(&b'/')).ok()
}

/// Which page this mode serves. Total: never panics.
pub fn resolve_modules(
    method: &str,
    raw_target: &[u8],
    form: Option<&PhpParams>,
    cookies: Option<&PhpParams>,
) -> ModRoute {
    let Some((raw_path, raw_query)) = split_target(raw_target) else {
        return ModRoute::BadRequest;
    };
    let query = PhpParams::parse(raw_query);
    let get = |name| request(name, &query, form, cookies);
    let segments = normalize_path(raw_path);
    let names: Vec<&[u8]> = segments.iter().map(Vec::as_slice).collect();
    match names.as_slice() {
        [] | [b"index.php", ..] => {
            if get("modfunc") == Some(b"logout") {
                ModRoute::Logout
            } else if method == "POST" && get("USERNAME").is_some() {
                ModRoute::LoginSubmit
            } else {
                ModRoute::LoginForm
            }
        }
        [b"modules.php", ..] => {
            let file = get("modname").map_or(Some("misc/Portal.php".to_owned()), module_file);
            let include = get("include").and_then(module_file);
            ModRoute::Page(match file.as_deref() {
                Some("misc/Portal.php") => ModPage::Portal,
                Some("School_Setup/Calendar.php") => ModPage::Calendar,
                Some("Grades/StudentGrades.php") => ModPage::StudentGrades,
                Some("Grades/FinalGrades.php") => ModPage::FinalGrades,
                Some("Grades/ReportCards.php") => ModPage::ReportCards,
                Some("Grades/Transcripts.php") => ModPage::Transcripts,
                Some("Users/TeacherPrograms.php")
                    if include.as_deref() == Some("Grades/Grades.php") =>
                {
                    ModPage::TeacherGrades
                }
                Some("Users/TeacherPrograms.php") => ModPage::TeacherPrograms,
                _ => ModPage::Missing,
            })
        }
        _ => ModRoute::NotFound,
    }
}

/// One request in this mode, after the session lookup.
pub struct ModRequest<'a> {
    pub route: ModRoute,
    pub form: &'a PhpParams,
    pub session_id: Option<&'a str>,
    pub live: Option<&'a Live>,
    pub account: Option<&'a Account>,
    pub logout_token: Option<&'a [u8]>,
}

pub fn answer(state: &State, req: &ModRequest<'_>) -> Reply {
    match (req.route, req.account, req.live) {
        (ModRoute::BadRequest, ..) => Reply::html(
            StatusCode::BAD_REQUEST,
            page("Ошибка", "page-error", None, ""),
        ),
        (ModRoute::NotFound, ..) => Reply::html(
            StatusCode::NOT_FOUND,
            page("Не найдено", "page-not-found", None, ""),
        ),
        (ModRoute::LoginForm, Some(_), _) => Reply::redirect(StatusCode::FOUND, PORTAL),
        (ModRoute::LoginForm, None, _) => Reply::html(StatusCode::OK, login_page(None)),
        (ModRoute::LoginSubmit, ..) => submit(state, req),
        (ModRoute::Logout, Some(_), Some(live)) => {
            let token_ok: bool = req
                .logout_token
                .is_some_and(|t| t.ct_eq(live.token.as_bytes()).into());
            if !token_ok {
                return Reply::redirect(StatusCode::FOUND, PORTAL);
            }
            logged_out(state, req.session_id)
        }
        (ModRoute::Logout, ..) => logged_out(state, req.session_id),
        (ModRoute::Page(_), None, _) | (ModRoute::Page(_), _, None) => Reply::html(
            StatusCode::OK,
            format!(
                "<html><body><script>{EXPIRED_SCRIPT}&reason=session\";</script></body></html>\n"
            ),
        ),
        (ModRoute::Page(p), Some(account), Some(live)) => {
            let body = match p {
                ModPage::StudentGrades | ModPage::TeacherGrades => pages::marks(account),
                _ => format!("<p>{}</p>", escape(p.heading())),
            };
            let status = if p == ModPage::Missing {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::OK
            };
            Reply::html(
                status,
                page(
                    p.heading(),
                    p.page_id(),
                    Some((account, &live.token)),
                    &body,
                ),
            )
        }
    }
}

fn submit(state: &State, req: &ModRequest<'_>) -> Reply {
    let login = req.form.text("USERNAME").unwrap_or_default();
    let password = req.form.scalar("PASSWORD").unwrap_or_default();
    let password_ok: bool = password.ct_eq(DEMO_PASSWORD.as_bytes()).into();
    let Some(account) = state.account(&login).filter(|_| password_ok) else {
        return Reply::html(StatusCode::OK, login_page(Some(BAD_LOGIN_MODULES)));
    };
    if let Some(old) = req.session_id {
        state.sessions.end(old);
    }
    let id = state.sessions.create(account.login);
    let mut reply = Reply::redirect(StatusCode::FOUND, PORTAL);
    login::session_cookie(&mut reply, &id);
    reply
}

fn logged_out(state: &State, session_id: Option<&str>) -> Reply {
    if let Some(id) = session_id {
        state.sessions.end(id);
    }
    login::signed_out_to("index.php")
}

fn login_page(error: Option<&str>) -> String {
    let error = error
        .map(|e| format!("<p class=\"error\">{}</p>", escape(e)))
        .unwrap_or_default();
    page(
        "Вход",
        "page-login",
        None,
        &format!(
            "{error}<form method=\"post\" action=\"index.php\">\
             <p><label>Имя пользователя <input name=\"USERNAME\"></label></p>\
             <p><label>Пароль <input type=\"password\" name=\"PASSWORD\"></label></p>\
             <p><input type=\"submit\" value=\"Войти\"></p></form>"
        ),
    )
}

/// A page; a signed-in one names its user in `#user-header` and carries the logout
/// link with the session's token.
fn page(heading: &str, page_id: &str, user: Option<(&Account, &str)>, body: &str) -> String {
    let header = user
        .map(|(a, token)| {
            format!(
                "<div id=\"user-header\">{} ({}, {})</div>\
                 <a id=\"logout\" href=\"index.php?modfunc=logout&amp;token={}\">Выход</a>\
                 <nav><a href=\"Modules.php?modname=misc/Portal.php\">Портал</a> \
                 <a href=\"Modules.php?modname=Grades/StudentGrades.php\">Оценки</a></nav>",
                escape(a.full_name),
                escape(a.login),
                a.role.as_str(),
                escape(token)
            )
        })
        .unwrap_or_default();
    format!(
        "<!DOCTYPE html>\n<html lang=\"ru\"><head><meta charset=\"utf-8\">\
         <title>{h} — Школьная информационная система</title></head>\n<body>{header}\
         <main><h1 id=\"{page_id}\">{h}</h1>\n{body}</main></body></html>\n",
        h = escape(heading)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page_of(target: &str) -> ModRoute {
        resolve_modules("GET", target.as_bytes(), None, None)
    }

    #[test]
    fn grade_pages_in_every_file_spelling() {
        for (t, p) in [
            (
                "/Modules.php?modname=Grades/StudentGrades.php",
                ModPage::StudentGrades,
            ),
            (
                "/modules.php?modname=Grades//StudentGrades.php",
                ModPage::StudentGrades,
            ),
            (
                "/Modules.php?modname=./Grades/FinalGrades.php",
                ModPage::FinalGrades,
            ),
            (
                "/Modules.php?modname=x/../Grades/ReportCards.php",
                ModPage::ReportCards,
            ),
            (
                "/Modules.php?modname=Grades%2FTranscripts.php",
                ModPage::Transcripts,
            ),
            (
                "/Modules.php?modname=Users/TeacherPrograms.php&include=Grades/Grades.php",
                ModPage::TeacherGrades,
            ),
            (
                "/Modules.php?modname=Users/TeacherPrograms.php&include=./Grades//Grades.php",
                ModPage::TeacherGrades,
            ),
            (
                "/Modules.php?modname=Users/TeacherPrograms.php",
                ModPage::TeacherPrograms,
            ),
            (
                "/Modules.php?modname=grades/studentgrades.php",
                ModPage::Missing,
            ),
            (
                "/Modules.php?modname=../Grades/StudentGrades.php",
                ModPage::Missing,
            ),
            ("/Modules.php", ModPage::Portal),
        ] {
            assert_eq!(page_of(t), ModRoute::Page(p), "{t}");
        }
        let form = PhpParams::parse(b"modname=Grades/FinalGrades.php");
        assert_eq!(
            resolve_modules(
                "POST",
                b"/Modules.php?modname=misc/Portal.php",
                Some(&form),
                None
            ),
            ModRoute::Page(ModPage::FinalGrades)
        );
    }

    #[test]
    fn login_and_logout_live_on_index_php() {
        let form = PhpParams::parse(b"USERNAME=a&PASSWORD=b");
        assert_eq!(
            resolve_modules("POST", b"/index.php", Some(&form), None),
            ModRoute::LoginSubmit
        );
        assert_eq!(page_of("/index.php"), ModRoute::LoginForm);
        assert_eq!(page_of("/"), ModRoute::LoginForm);
        assert_eq!(
            page_of("/index.php?modfunc=logout&token=x"),
            ModRoute::Logout
        );
        assert_eq!(page_of("/marks"), ModRoute::NotFound);
        assert_eq!(module_file(b"a/./b//c"), Some("a/b/c".into()));
        assert_eq!(module_file(b"../a"), None);
    }
}
