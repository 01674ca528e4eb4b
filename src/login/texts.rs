//! Every word the login pages say, in Russian (default) and English (`pages.language`).
//! Russian wording follows the seed instructions users already know: «Войти через
//! Госуслуги», «Чужой компьютер», «Выйти», «подтвержденная учетная запись».

use serde::Serialize;

use crate::language::Language;

/// Texts handed to the templates as `t`.
#[derive(Debug, Serialize)]
pub struct Texts {
    pub lang: &'static str,
    pub start_title: &'static str,
    pub start_lead: &'static str,
    pub start_signed_in: &'static str,
    /// The start page after a logout of an ESIA session / of a password session.
    pub signed_out_esia: &'static str,
    pub signed_out_password: &'static str,
    pub start_continue: &'static str,
    pub esia_button: &'static str,
    pub public_computer: &'static str,
    pub public_computer_hint: &'static str,
    pub legacy_lead: &'static str,
    pub legacy_link: &'static str,
    pub logout_title: &'static str,
    pub logout_lead: &'static str,
    pub logout_important: &'static str,
    pub logout_button: &'static str,
    pub logout_cancel: &'static str,
    pub status_label: &'static str,
    /// The line with the machine code, for the support desk (never in the text itself).
    pub support_code: &'static str,
    /// The way out of every refusal page.
    pub back_home: &'static str,
    pub retry: &'static str,
    /// Titles and bodies of the refusal pages, one pair per [`super::Problem`].
    pub flow_invalid_title: &'static str,
    pub flow_invalid_text: &'static str,
    pub esia_refused_title: &'static str,
    /// An English page for an ESIA refusal (ESIA's own messages are Russian), and for the
    /// user's own «Отказаться» (ESIA-007004).
    pub esia_refused_text: &'static str,
    pub esia_declined_text: &'static str,
    pub esia_down_title: &'static str,
    pub esia_down_text: &'static str,
    pub esia_slow_title: &'static str,
    pub esia_slow_text: &'static str,
    pub config_title: &'static str,
    pub config_text: &'static str,
    pub store_title: &'static str,
    pub store_text: &'static str,
    /// 429 at «Войти через Госуслуги»: `{seconds}` is replaced.
    pub starts_title: &'static str,
    pub starts_text: &'static str,
    pub csrf_title: &'static str,
    pub csrf_text: &'static str,
    pub not_found_title: &'static str,
    pub not_found_text: &'static str,
    pub method_title: &'static str,
    pub method_text: &'static str,
}

pub fn texts(language: Language) -> &'static Texts {
    match language {
        Language::Ru => &RU,
        Language::En => &EN,
    }
}

static RU: Texts = Texts {
    lang: "ru",
    start_title: "Вход в электронный дневник",
    start_lead: "Вход в личный кабинет электронного дневника осуществляется через ЕСИА — \
        учетную запись портала Госуслуг.",
    start_signed_in: "Вы уже вошли через Госуслуги.",
    signed_out_esia: "Вы вышли из электронного дневника и из Госуслуг.",
    signed_out_password: "Вы вышли из электронного дневника.",
    start_continue: "Продолжить",
    esia_button: "Войти через Госуслуги",
    public_computer: "Чужой компьютер",
    public_computer_hint: "Не запоминать вход: он закончится, когда вы закроете браузер \
        или долго не будете ничего делать.",
    legacy_lead: "Ещё не привязали учетную запись Госуслуг?",
    legacy_link: "Войти по логину и паролю дневника",
    logout_title: "Выйти из электронного дневника?",
    logout_lead: "Вход в дневник будет завершен на этом устройстве.",
    logout_important: "ВАЖНО: чтобы другой пользователь не мог воспользоваться входом от \
        Вашего имени на Портал, после выхода вы будете направлены на портал Госуслуг, где \
        работа с Порталом тоже будет завершена.",
    logout_button: "Выйти",
    logout_cancel: "Остаться в дневнике",
    status_label: "Код ответа:",
    support_code: "Код для службы поддержки:",
    back_home: "Вернуться в электронный дневник",
    retry: "Войти через Госуслуги ещё раз",
    flow_invalid_title: "Вход не выполнен",
    flow_invalid_text: "Ссылка для входа устарела, уже была использована или открыта в \
        другом браузере. Начните вход заново.",
    esia_refused_title: "Госуслуги не выполнили вход",
    esia_refused_text: "Портал Госуслуг не выполнил вход. Попробуйте войти ещё раз.",
    esia_declined_text: "Вы отказались предоставить доступ к данным на портале Госуслуг. \
        Чтобы войти в электронный дневник, войдите ещё раз и разрешите доступ.",
    esia_down_title: "Госуслуги недоступны",
    esia_down_text: "Не удалось связаться с порталом Госуслуг или проверить его ответ. \
        Попробуйте войти ещё раз через несколько минут.",
    esia_slow_title: "Госуслуги не ответили вовремя",
    esia_slow_text: "Портал Госуслуг не ответил вовремя. Попробуйте войти ещё раз через \
        несколько минут.",
    config_title: "Вход временно недоступен",
    config_text: "Вход через Госуслуги временно недоступен из-за ошибки настройки \
        электронного дневника. Сообщите администратору дневника.",
    starts_title: "Слишком много попыток входа",
    starts_text: "С Вашего адреса слишком часто начинается вход через Госуслуги. \
        Попробуйте ещё раз через {seconds} с.",
    store_title: "Сервис временно недоступен",
    store_text: "Не удалось сохранить или проверить вход. Попробуйте ещё раз через \
        несколько минут.",
    csrf_title: "Выход не выполнен",
    csrf_text: "Страница выхода устарела. Откройте её заново и нажмите «Выйти».",
    not_found_title: "Страница не найдена",
    not_found_text: "Такой страницы нет.",
    method_title: "Действие не поддерживается",
    method_text: "Эту страницу нельзя открыть таким способом.",
};

static EN: Texts = Texts {
    lang: "en",
    start_title: "Sign in to the e-diary",
    start_lead: "The e-diary is entered through ESIA, your Gosuslugi account.",
    start_signed_in: "You are already signed in through Gosuslugi.",
    signed_out_esia: "You have signed out of the e-diary and of Gosuslugi.",
    signed_out_password: "You have signed out of the e-diary.",
    start_continue: "Continue",
    esia_button: "Sign in with Gosuslugi",
    public_computer: "Public computer",
    public_computer_hint: "Don't remember me: the sign-in ends when you close the browser \
        or stay idle for a while.",
    legacy_lead: "Haven't linked your Gosuslugi account yet?",
    legacy_link: "Sign in with the diary's login and password",
    logout_title: "Sign out of the e-diary?",
    logout_lead: "You will be signed out on this device.",
    logout_important: "IMPORTANT: so nobody else can use your Gosuslugi sign-in, you will \
        then be taken to Gosuslugi, which signs you out there too.",
    logout_button: "Sign out",
    logout_cancel: "Stay signed in",
    status_label: "Status:",
    support_code: "Code for the support desk:",
    back_home: "Back to the e-diary",
    retry: "Sign in with Gosuslugi again",
    flow_invalid_title: "Sign-in failed",
    flow_invalid_text: "The sign-in link has expired, was already used, or was opened in \
        another browser. Please start again.",
    esia_refused_title: "Gosuslugi did not sign you in",
    esia_refused_text: "Gosuslugi did not sign you in. Please try again.",
    esia_declined_text: "You declined the access request on Gosuslugi. To enter the e-diary, \
        sign in again and allow access.",
    esia_down_title: "Gosuslugi is unavailable",
    esia_down_text: "Gosuslugi could not be reached or its answer could not be verified. \
        Please try again in a few minutes.",
    esia_slow_title: "Gosuslugi did not answer in time",
    esia_slow_text: "Gosuslugi did not answer in time. Please try again in a few minutes.",
    config_title: "Sign-in is temporarily unavailable",
    config_text: "Signing in with Gosuslugi is unavailable because of a configuration \
        error in the e-diary. Please tell the diary's administrator.",
    starts_title: "Too many sign-in attempts",
    starts_text: "Sign-ins through Gosuslugi start too often from your address. \
        Please try again in {seconds} s.",
    store_title: "Service temporarily unavailable",
    store_text: "The sign-in could not be saved or checked. Please try again in a few minutes.",
    csrf_title: "Sign-out failed",
    csrf_text: "The sign-out page has expired. Open it again and press «Sign out».",
    not_found_title: "Page not found",
    not_found_text: "There is no such page.",
    method_title: "Not supported",
    method_text: "This page cannot be opened this way.",
};
