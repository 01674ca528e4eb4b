//! What each route does: login and logout, the form submissions (message, registration),
//! `/api/me`, and the read-only pages. Routing and session lookup happened before
//! (in [`super::server`]); here every input is a form or query parsed with PHP's rules.

use http::header::SET_COOKIE;
use http::{HeaderValue, StatusCode};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use subtle::ConstantTimeEq;

use super::layout::{login_form, page};
use super::pages;
use super::php_query::PhpParams;
use super::quirks::split_target;
use super::routing::Route;
use super::school::{Account, DEMO_PASSWORD, Message, Registration, Role};
use super::server::{Body, Reply, State};
use super::session::COOKIE_NAME;

/// Messages and pending registrations kept at most.
const MAX_STORED: usize = 10_000;

/// The diary's wording for a refused login.
pub const BAD_LOGIN: &str = "Неверный логин или пароль";

/// What stays unencoded in `return=`: unreserved characters and `/`.
const RETURN_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// `/login?return=<target>` for a page that needs a session.
pub fn login_redirect(target: &str) -> String {
    format!("/login?return={}", utf8_percent_encode(target, RETURN_SET))
}

/// A local path to go back to after login; anything else (other hosts, `//x`, `/\x`,
/// control characters) becomes `/`.
fn safe_return(candidate: Option<String>) -> String {
    match candidate {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && !path.chars().any(char::is_control)
                && HeaderValue::from_str(&path).is_ok() =>
        {
            path
        }
        _ => "/".to_owned(),
    }
}

/// A short page with a heading and one paragraph (errors, 404, 413).
pub fn simple_page(heading: &str, text: &str) -> String {
    let body = format!(
        "<p>{}</p><p><a href=\"/\">На главную</a></p>",
        super::layout::escape(text)
    );
    page("utf-8", "page-error", heading, None, &body)
}

pub fn dispatch(
    state: &State,
    route: Route,
    target: &str,
    form: &[u8],
    account: Option<&Account>,
    session_id: Option<&str>,
) -> Reply {
    let query = split_target(target.as_bytes())
        .map(|(_, q)| q)
        .unwrap_or_default();
    let ok = |account: &Account, body: String| {
        Reply::html(
            StatusCode::OK,
            page(
                "utf-8",
                route.page_id(),
                heading(route),
                Some(account),
                &body,
            ),
        )
    };
    match (route, account) {
        (Route::Login, _) => {
            let ret = safe_return(PhpParams::parse(query).text("return"));
            Reply::html(StatusCode::OK, login_form(None, &ret))
        }
        (Route::LoginSubmit, _) => login(state, &PhpParams::parse(form), session_id),
        (Route::Logout, _) => {
            if let Some(id) = session_id {
                state.sessions.end(id);
            }
            let mut reply = Reply::redirect(StatusCode::FOUND, "/login");
            let gone = format!("{COOKIE_NAME}=deleted; Path=/; Max-Age=0; HttpOnly");
            if let Ok(v) = HeaderValue::from_str(&gone) {
                reply.headers.insert(SET_COOKIE, v);
            }
            reply
        }
        (Route::ApiMe, Some(a)) => Reply {
            status: StatusCode::OK,
            headers: Default::default(),
            body: Body::Json(serde_json::json!({
                "login": a.login, "role": a.role.as_str(), "full_name": a.full_name,
            })),
        },
        (Route::ApiMe, None) => Reply {
            status: StatusCode::UNAUTHORIZED,
            headers: Default::default(),
            body: Body::Json(serde_json::json!({ "error": "not_authenticated" })),
        },
        (Route::Register, _) => register_page(StatusCode::OK, None),
        (Route::RegisterSubmit, _) => register(state, &PhpParams::parse(form)),
        (Route::BadRequest, _) => Reply::html(
            StatusCode::BAD_REQUEST,
            simple_page("Неверный запрос", "Адрес запроса не распознан."),
        ),
        (Route::NotFound | Route::UnknownModule, _) | (_, None) => Reply::html(
            StatusCode::NOT_FOUND,
            page(
                "utf-8",
                "page-not-found",
                "Страница не найдена",
                account,
                &pages::not_found(),
            ),
        ),
        (Route::Dashboard, Some(a)) => {
            let inbox = lock(&state.messages)
                .iter()
                .filter(|m| m.to == a.login)
                .count();
            let mut body = pages::dashboard(a, inbox);
            if a.role == Role::Admin {
                body.push_str(&pages::pending_registrations(&lock(&state.registrations)));
            }
            ok(a, body)
        }
        (Route::Marks, Some(a)) => ok(a, pages::marks(a)),
        (Route::Stats, Some(a)) => ok(a, pages::stats(a)),
        (Route::Homework, Some(a)) => ok(a, pages::homework(a)),
        (Route::Schedule, Some(a)) => {
            let html = page(
                "windows-1251",
                route.page_id(),
                heading(route),
                Some(a),
                &pages::schedule(a),
            );
            Reply {
                status: StatusCode::OK,
                headers: Default::default(),
                body: Body::Html {
                    html,
                    windows_1251: true,
                },
            }
        }
        (Route::Messages, Some(a)) => {
            let body = pages::messages(a, &lock(&state.messages), &state.accounts, None);
            ok(a, body)
        }
        (Route::MessageSend, Some(a)) => send_message(state, a, &PhpParams::parse(form)),
        (Route::Teachers, Some(a)) => ok(a, pages::teachers()),
        (Route::Files, Some(a)) => ok(a, pages::files(a)),
    }
}

fn heading(route: Route) -> &'static str {
    match route {
        Route::Dashboard => "Панель управления",
        Route::Marks => "Текущая успеваемость",
        Route::Stats => "Статистика и анализ",
        Route::Homework => "Домашнее задание",
        Route::Schedule => "Расписание занятий на неделю",
        Route::Messages | Route::MessageSend => "Сообщения",
        Route::Teachers => "Ваши учителя",
        Route::Files => "Файлы",
        Route::Register | Route::RegisterSubmit => "Регистрация",
        Route::Login | Route::LoginSubmit => "Вход на сайт",
        _ => "Региональный Интернет Дневник",
    }
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn login(state: &State, form: &PhpParams, old_session: Option<&str>) -> Reply {
    let ret = safe_return(form.text("return"));
    let login = form.text("login").unwrap_or_default();
    let password = form.scalar("password").unwrap_or_default();
    let known = state.account(&login);
    let password_ok: bool = password.ct_eq(DEMO_PASSWORD.as_bytes()).into();
    let Some(account) = known.filter(|_| password_ok) else {
        return Reply::html(StatusCode::OK, login_form(Some(BAD_LOGIN), &ret));
    };
    // A new id at every login: no session fixation.
    if let Some(old) = old_session {
        state.sessions.end(old);
    }
    let id = state.sessions.create(account.login);
    let mut reply = Reply::redirect(StatusCode::FOUND, &ret);
    if let Ok(v) = HeaderValue::from_str(&format!("{COOKIE_NAME}={id}; Path=/; HttpOnly")) {
        reply.headers.insert(SET_COOKIE, v);
    }
    reply
}

fn send_message(state: &State, from: &Account, form: &PhpParams) -> Reply {
    let to = form.text("to").unwrap_or_default();
    let subject = form
        .text("subject")
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    let body = form.text("body").unwrap_or_default().trim().to_owned();
    let error = if state.account(&to).is_none() {
        Some("Получатель не найден")
    } else if body.is_empty() {
        Some("Введите текст сообщения")
    } else if body.chars().count() > 2000
        || subject.as_ref().is_some_and(|s| s.chars().count() > 200)
    {
        Some("Сообщение слишком длинное")
    } else {
        None
    };
    let mut messages = lock(&state.messages);
    let (status, notice) = match error {
        Some(e) => (StatusCode::BAD_REQUEST, e),
        None => {
            // Memory stays bounded: the oldest messages go first.
            if messages.len() >= MAX_STORED {
                messages.remove(0);
            }
            messages.push(Message {
                from: from.login.to_owned(),
                to,
                subject: subject.unwrap_or_else(|| "Без темы".to_owned()),
                body,
                sent: state.clock.now().date_naive(),
            });
            (StatusCode::OK, "Сообщение отправлено")
        }
    };
    let html = pages::messages(from, &messages, &state.accounts, Some(notice));
    Reply::html(
        status,
        page("utf-8", "page-messages", "Сообщения", Some(from), &html),
    )
}

fn register_page(status: StatusCode, error: Option<&str>) -> Reply {
    Reply::html(
        status,
        page(
            "utf-8",
            "page-register",
            "Регистрация",
            None,
            &pages::register_form(error),
        ),
    )
}

fn register(state: &State, form: &PhpParams) -> Reply {
    let login = form.text("login").unwrap_or_default().trim().to_owned();
    let full_name = form.text("full_name").unwrap_or_default().trim().to_owned();
    let password = form.text("password").unwrap_or_default();
    let role = match form.scalar("role") {
        Some(b"student") => Some(Role::Student),
        Some(b"parent") => Some(Role::Parent),
        _ => None,
    };
    let login_ok = (3..=32).contains(&login.len())
        && login
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    let mut pending = lock(&state.registrations);
    let taken = state.account(&login).is_some() || pending.iter().any(|r| r.login == login);
    let error = match () {
        _ if !login_ok => {
            "Логин: от 3 до 32 символов, строчные латинские буквы, цифры, «.», «_», «-»"
        }
        _ if taken => "Такой логин уже занят",
        _ if full_name.is_empty() || full_name.chars().count() > 100 => {
            "Укажите фамилию, имя и отчество"
        }
        _ if password.chars().count() < 4 => "Пароль должен быть не короче 4 символов",
        _ => match role {
            None => "Выберите роль",
            Some(_) if pending.len() >= MAX_STORED => "Приём заявок временно закрыт",
            Some(role) => {
                pending.push(Registration {
                    login: login.clone(),
                    full_name,
                    role,
                });
                let body = pages::register_done(&login);
                return Reply::html(
                    StatusCode::OK,
                    page("utf-8", "page-register", "Регистрация", None, &body),
                );
            }
        },
    };
    register_page(StatusCode::BAD_REQUEST, Some(error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_paths_stay_local() {
        let r = |s: &str| safe_return(Some(s.to_owned()));
        assert_eq!(r("/marks?x=1"), "/marks?x=1");
        assert_eq!(r("//evil.example/"), "/");
        assert_eq!(r("/\\evil.example"), "/");
        assert_eq!(r("https://evil.example/"), "/");
        assert_eq!(r("/a\r\nSet-Cookie: x=1"), "/");
        assert_eq!(r(""), "/");
        assert_eq!(safe_return(None), "/");
    }

    #[test]
    fn login_redirect_encodes_the_target() {
        assert_eq!(
            login_redirect("/index.php?module=marks&a=b"),
            "/login?return=/index.php%3Fmodule%3Dmarks%26a%3Db"
        );
    }
}
