//! What each route does: the form submissions (message, registration), the identity
//! API (`/api/me`, `/api/children`) and the read-only pages; login and logout are in
//! [`super::login`]. Routing and session lookup happened before (in [`super::server`]);
//! here every input is a form or query parsed with PHP's rules.

use http::StatusCode;

use super::layout::page;
use super::login;
use super::pages;
use super::php_form::parse_form;
use super::php_query::PhpParams;
use super::routing::Route;
use super::school::{self, Account, Message, Registration, Role};
use super::server::{Body, Reply, State};
use super::session::Live;

/// Messages and pending registrations kept at most.
const MAX_STORED: usize = 10_000;

/// One request as the handlers see it, after routing and the session lookup.
#[derive(Debug)]
pub struct PageRequest<'a> {
    pub route: Route,
    /// The origin-form target, as PHP's `REQUEST_URI`.
    pub target: &'a str,
    /// The first `Content-Type` header, raw.
    pub content_type: Option<&'a [u8]>,
    /// The body of a form submission (empty for other routes).
    pub body: &'a [u8],
    pub session_id: Option<&'a str>,
    pub live: Option<&'a Live>,
    /// The signed-in account, if any.
    pub account: Option<&'a Account>,
}

/// A short page with a heading and one paragraph (errors, 404, 413).
pub fn simple_page(heading: &str, text: &str, user: Option<&Account>) -> String {
    let body = format!(
        "<p>{}</p><p><a href=\"/\">На главную</a></p>",
        super::layout::escape(text)
    );
    page("utf-8", "page-error", heading, user, &body)
}

fn json(status: StatusCode, value: serde_json::Value) -> Reply {
    Reply {
        status,
        headers: Default::default(),
        body: Body::Json(value),
    }
}

fn signed_out() -> Reply {
    json(
        StatusCode::UNAUTHORIZED,
        serde_json::json!({ "error": "not_authenticated" }),
    )
}

pub fn dispatch(state: &State, req: &PageRequest<'_>) -> Reply {
    let route = req.route;
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
    let form = || parse_form(req.content_type, req.body);
    match (route, req.account) {
        (Route::Login, _) => login::form(state, req),
        (Route::LoginSubmit, _) => login::submit(state, req),
        (Route::Logout, _) => login::logout(state, req),
        (Route::NoCookies, _) => login::no_cookies(req),
        (Route::ApiMe, Some(a)) => {
            let mut me = serde_json::json!({
                "login": a.login, "role": a.role.as_str(), "full_name": a.full_name,
                "name": a.full_name,
            });
            if let Some(birth) = school::own_birth_date(a) {
                me["birth_date"] = birth.into();
            }
            json(StatusCode::OK, me)
        }
        (Route::ApiChildren, Some(a)) => {
            let children: Vec<_> = school::children(a)
                .into_iter()
                .map(|(name, birth)| serde_json::json!({ "name": name, "birth_date": birth }))
                .collect();
            json(StatusCode::OK, serde_json::Value::Array(children))
        }
        (Route::ApiMe | Route::ApiChildren, None) => signed_out(),
        (Route::Register, _) => register_page(StatusCode::OK, None, req.account),
        (Route::RegisterSubmit, _) => register(state, &form(), req.account),
        (Route::BadRequest, _) => Reply::html(
            StatusCode::BAD_REQUEST,
            simple_page(
                "Неверный запрос",
                "Адрес запроса не распознан.",
                req.account,
            ),
        ),
        (Route::NotFound | Route::UnknownModule, _) | (_, None) => Reply::html(
            StatusCode::NOT_FOUND,
            page(
                "utf-8",
                "page-not-found",
                "Страница не найдена",
                req.account,
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
        (Route::MessageSend, Some(a)) => send_message(state, a, &form()),
        (Route::Teachers, Some(a)) => ok(a, pages::teachers()),
        (Route::Files, Some(a)) => ok(a, pages::files(a)),
        (Route::Children, Some(a)) => ok(a, pages::children(a)),
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
        Route::Children => "Мои дети",
        Route::Login | Route::LoginSubmit => "Вход на сайт",
        _ => "Региональный Интернет Дневник",
    }
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
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

fn register_page(status: StatusCode, error: Option<&str>, user: Option<&Account>) -> Reply {
    Reply::html(
        status,
        page(
            "utf-8",
            "page-register",
            "Регистрация",
            user,
            &pages::register_form(error),
        ),
    )
}

fn register(state: &State, form: &PhpParams, user: Option<&Account>) -> Reply {
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
                    page("utf-8", "page-register", "Регистрация", user, &body),
                );
            }
        },
    };
    register_page(StatusCode::BAD_REQUEST, Some(error), user)
}
