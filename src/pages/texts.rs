//! The words on the error pages, per status and language. Russian wording follows the
//! diary's own tone (see shared/seeds): plain, polite, no technical terms.

use http::StatusCode;

use crate::language::Language;

pub struct Texts {
    pub title: &'static str,
    pub text: &'static str,
    pub home: &'static str,
}

pub fn for_status(status: StatusCode, language: Language) -> Texts {
    let (title, text) = match language {
        Language::Ru => ru(status),
        Language::En => en(status),
    };
    let home = match language {
        Language::Ru => "На главную страницу",
        Language::En => "Go to the start page",
    };
    Texts { title, text, home }
}

/// The page for a connection past a connection cap.
pub fn busy(language: Language) -> Texts {
    let (title, text) = match language {
        Language::Ru => (
            "Сервер перегружен",
            "Сейчас к дневнику подключено слишком много пользователей. Попробуйте обновить страницу через минуту.",
        ),
        Language::En => (
            "Server overloaded",
            "Too many people are connected to the diary right now. Reload the page in a minute.",
        ),
    };
    let home = for_status(StatusCode::SERVICE_UNAVAILABLE, language).home;
    Texts { title, text, home }
}

fn ru(status: StatusCode) -> (&'static str, &'static str) {
    match status.as_u16() {
        400 => (
            "Неверный запрос",
            "Адрес страницы или запрос составлен неверно. Проверьте ссылку и попробуйте ещё раз.",
        ),
        403 => ("Доступ запрещён", "У вас нет доступа к этой странице."),
        404 => ("Страница не найдена", "Такой страницы нет."),
        413 => (
            "Слишком большой объём данных",
            "Отправленные данные превышают допустимый размер. Уменьшите размер файла и попробуйте ещё раз.",
        ),
        414 => (
            "Слишком длинный адрес",
            "Адрес страницы слишком длинный. Проверьте ссылку и попробуйте ещё раз.",
        ),
        421 => (
            "Неверный адрес сайта",
            "Этот адрес не относится к электронному дневнику. Откройте дневник по его основному адресу.",
        ),
        431 => (
            "Слишком большой запрос",
            "Запрос содержит слишком много данных в заголовках. Очистите cookie для этого сайта и попробуйте ещё раз.",
        ),
        502 => (
            "Дневник временно недоступен",
            "Сервер интернет-дневника сейчас не отвечает. Попробуйте зайти позже.",
        ),
        503 => (
            "Сервис временно недоступен",
            "Ведутся технические работы. Попробуйте зайти позже.",
        ),
        504 => (
            "Дневник не ответил вовремя",
            "Сервер интернет-дневника отвечает слишком долго. Попробуйте обновить страницу через несколько минут.",
        ),
        401..=499 => (
            "Запрос не может быть выполнен",
            "Проверьте адрес страницы и попробуйте ещё раз.",
        ),
        _ => (
            "Внутренняя ошибка",
            "Что-то пошло не так. Попробуйте зайти позже.",
        ),
    }
}

fn en(status: StatusCode) -> (&'static str, &'static str) {
    match status.as_u16() {
        400 => (
            "Bad request",
            "The page address or the request is malformed. Check the link and try again.",
        ),
        403 => ("Access denied", "You do not have access to this page."),
        404 => ("Page not found", "There is no such page."),
        413 => (
            "Too much data",
            "The data sent is larger than allowed. Make the file smaller and try again.",
        ),
        414 => (
            "Address too long",
            "The page address is too long. Check the link and try again.",
        ),
        421 => (
            "Wrong site address",
            "This address does not belong to the e-diary. Open the diary at its main address.",
        ),
        431 => (
            "Request too large",
            "The request headers are too large. Clear the cookies for this site and try again.",
        ),
        502 => (
            "The diary is temporarily unavailable",
            "The e-diary server is not responding right now. Please try again later.",
        ),
        503 => (
            "Service temporarily unavailable",
            "Maintenance is in progress. Please try again later.",
        ),
        504 => (
            "The diary did not answer in time",
            "The e-diary server is taking too long to answer. Reload the page in a few minutes.",
        ),
        401..=499 => (
            "The request cannot be served",
            "Check the page address and try again.",
        ),
        _ => (
            "Internal error",
            "Something went wrong. Please try again later.",
        ),
    }
}
