//! Every word the linking pages say. Russian follows seed 000 (variant 2: «Учетная
//! запись Госуслуг не привязана…», «Найти существующего пользователя», «Прикрепить»,
//! «Неверный логин или пароль», the «подтвержденная учетная запись» steps) and seed 004
//! («выполнить привязку к ЕСИА»).

use serde::Serialize;

use crate::language::Language;

#[derive(Debug, Serialize)]
pub struct Texts {
    pub lang: &'static str,
    pub status_label: &'static str,
    pub link_title: &'static str,
    pub link_lead: &'static str,
    pub find_existing: &'static str,
    pub login_label: &'static str,
    pub password_label: &'static str,
    pub attach_button: &'static str,
    pub link_hint: &'static str,
    pub logout_label: &'static str,
    pub wrong_password: &'static str,
    pub stale_notice: &'static str,
    pub password_again_notice: &'static str,
    pub csrf_expired: &'static str,
    pub rate_title: &'static str,
    /// `{minutes}` is replaced.
    pub rate_text: &'static str,
    pub too_many_title: &'static str,
    /// `{max}` is replaced.
    pub too_many_text: &'static str,
    pub login_taken_title: &'static str,
    pub login_taken_text: &'static str,
    pub level_title: &'static str,
    /// `{role}`, `{needed}` and `{current}` are replaced.
    pub level_text: &'static str,
    pub level_steps_lead: &'static str,
    pub level_steps: [&'static str; 3],
    /// How an account gets confirmed, and where Госуслуги explains it.
    pub level_how: &'static str,
    pub level_help_link: &'static str,
    pub level_after: &'static str,
    pub resend_title: &'static str,
    pub resend_text: &'static str,
    pub legacy_closed_title: &'static str,
    pub legacy_closed_text: &'static str,
    pub need_legacy_title: &'static str,
    pub need_legacy_text: &'static str,
    pub diary_down_title: &'static str,
    pub diary_down_text: &'static str,
    pub diary_refused_text: &'static str,
    pub method_title: &'static str,
    pub method_text: &'static str,
    /// The identity check refused the binding (issue 12).
    pub identity_title: &'static str,
    pub identity_text: &'static str,
    /// Whom to contact, unless `[linking] identity_mismatch_contact` says it.
    pub identity_contact: &'static str,
    /// The confirmation before a binding from a password session (issue 15).
    pub confirm_title: &'static str,
    /// `{esia}` and `{diary}` are replaced.
    pub confirm_question: &'static str,
    pub confirm_button: &'static str,
    pub not_me_button: &'static str,
    pub not_me_hint: &'static str,
    /// Stands for a name the other side did not give.
    pub unnamed: &'static str,
    /// The link form's line naming the signed-in Госуслуги person.
    /// `{esia}` is replaced.
    pub signed_in_as: &'static str,
    /// The link form for one more diary account (issue 15 point 8).
    pub add_account_notice: &'static str,
    /// The account chooser after login and behind «Сменить».
    pub accounts_title: &'static str,
    pub accounts_lead: &'static str,
    pub accounts_current: &'static str,
    pub accounts_stale: &'static str,
    pub accounts_add: &'static str,
    pub accounts_back: &'static str,
}

pub fn texts(language: Language) -> &'static Texts {
    match language {
        Language::Ru => &RU,
        Language::En => &EN,
    }
}

/// The role's name as the seeds write it.
pub fn role_name(language: Language, role: Option<&str>) -> &'static str {
    let ru = matches!(language, Language::Ru);
    match (role, ru) {
        (Some("student"), true) => "Ученик",
        (Some("parent"), true) => "Родитель",
        (Some("teacher"), true) => "Учитель",
        (Some("class_teacher"), true) => "Классный руководитель",
        (Some("head_teacher"), true) => "Завуч/ Администратор школы",
        (Some("director"), true) => "Директор школы",
        (Some("admin"), true) => "Администратор",
        (_, true) => "пользователь дневника",
        (Some("student"), false) => "Student",
        (Some("parent"), false) => "Parent",
        (Some("teacher"), false) => "Teacher",
        (Some("class_teacher"), false) => "Class teacher",
        (Some("head_teacher"), false) => "Head teacher",
        (Some("director"), false) => "Director",
        (Some("admin"), false) => "Administrator",
        (_, false) => "diary user",
    }
}

/// An ESIA level's name in a sentence («подтвержденная»).
pub fn level_name(language: Language, level: Option<&str>) -> &'static str {
    let ru = matches!(language, Language::Ru);
    match (level, ru) {
        (Some("confirmed"), true) => "подтвержденная",
        (Some("standard"), true) => "стандартная",
        (Some("simplified"), true) => "упрощенная",
        (Some("child"), true) => "детская",
        (_, true) => "неизвестная",
        (Some("confirmed"), false) => "confirmed",
        (Some("standard"), false) => "standard",
        (Some("simplified"), false) => "simplified",
        (Some("child"), false) => "child",
        (_, false) => "unknown",
    }
}

static RU: Texts = Texts {
    lang: "ru",
    status_label: "Код для службы поддержки:",
    link_title: "Учетная запись Госуслуг не привязана к электронному дневнику",
    link_lead: "Если у Вас есть логин и пароль от электронного дневника, найдите \
        существующего пользователя и прикрепите его к своей учетной записи Госуслуг. \
        Пароль вводится полностью и только один раз.",
    find_existing: "Найти существующего пользователя",
    login_label: "Логин",
    password_label: "Пароль",
    attach_button: "Прикрепить",
    link_hint: "После этого Вы попадете в личный кабинет электронного дневника, и при \
        следующих входах через Госуслуги пароль от дневника больше не понадобится.",
    logout_label: "Выйти",
    wrong_password: "Неверный логин или пароль",
    stale_notice: "Пароль от электронного дневника изменился. Введите новый пароль, \
        чтобы снова прикрепить учетную запись.",
    password_again_notice: "Введите пароль от электронного дневника ещё раз, чтобы \
        продолжить.",
    csrf_expired: "Страница устарела. Введите логин и пароль ещё раз.",
    rate_title: "Слишком много попыток",
    rate_text: "Было сделано слишком много попыток ввести логин и пароль. Попробуйте \
        ещё раз через {minutes} мин.",
    too_many_title: "Привязано слишком много учетных записей дневника",
    too_many_text: "К одной учетной записи Госуслуг можно привязать не больше {max} \
        учетных записей электронного дневника. Чтобы привязать новую, попросите \
        администратора дневника отвязать ту, что больше не нужна.",
    login_taken_title: "Пользователь дневника уже привязан",
    login_taken_text: "Этот пользователь электронного дневника уже привязан к другой \
        учетной записи Госуслуг. Если это ошибка, обратитесь к администратору \
        дневника: отвязать учетную запись может только он.",
    level_title: "Нужна подтвержденная учетная запись Госуслуг",
    level_text: "Для роли «{role}» нужна {needed} учетная запись на портале Госуслуг. \
        Сейчас у Вас {current} учетная запись, поэтому войти в электронный дневник \
        через Госуслуги пока нельзя.",
    level_steps_lead: "Чтобы получить подтвержденную учетную запись:",
    level_steps: [
        "пройдите в кабинет портала Госуслуг и введите личные данные;",
        "пройдите проверку введенных данных;",
        "получите подтвержденную учетную запись.",
    ],
    level_how: "Подтвердить личность можно в центре обслуживания (МФЦ) с паспортом и СНИЛС \
        или онлайн — через интернет-банк, если Вы его клиент.",
    level_help_link: "Как подтвердить учетную запись — на портале Госуслуг",
    level_after: "После этого войдите в электронный дневник через Госуслуги ещё раз.",
    resend_title: "Отправьте форму ещё раз",
    resend_text: "Сессия электронного дневника истекла, и вход был выполнен заново. \
        Данные формы не были отправлены: вернитесь назад и отправьте форму ещё раз.",
    legacy_closed_title: "Вход по логину и паролю закрыт",
    legacy_closed_text: "Вход в личный кабинет электронного дневника осуществляется \
        только через Госуслуги.",
    need_legacy_title: "Привязка к ЕСИА",
    need_legacy_text: "Чтобы выполнить привязку к ЕСИА, сначала войдите в электронный \
        дневник по логину и паролю.",
    diary_down_title: "Электронный дневник недоступен",
    diary_down_text: "Не удалось связаться с электронным дневником. Попробуйте ещё раз \
        через несколько минут.",
    diary_refused_text: "Электронный дневник не принял вход. Попробуйте позже или \
        обратитесь к администратору дневника.",
    method_title: "Действие не поддерживается",
    method_text: "Эту страницу нельзя открыть таким способом.",
    identity_title: "Данные не совпадают",
    identity_text: "Фамилия, имя и отчество в Вашей учетной записи Госуслуг не совпадают \
        с данными пользователя электронного дневника, чей логин и пароль были введены, \
        поэтому привязка не выполнена. Если это ошибка (например, в дневнике указана \
        прежняя фамилия), данные можно исправить.",
    confirm_title: "Привязка учетной записи Госуслуг",
    confirm_question: "Привязать учетную запись Госуслуг {esia} к пользователю дневника {diary}?",
    confirm_button: "Привязать",
    not_me_button: "Это не я",
    not_me_hint: "«Это не я» — если в браузере открыта чужая учетная запись Госуслуг: \
        из неё будет выполнен выход, а Ваш вход в электронный дневник сохранится.",
    unnamed: "(имя не указано)",
    signed_in_as: "Вы вошли на Госуслуги как {esia}. Если это не Вы, нажмите «Это не я».",
    add_account_notice: "Введите логин и пароль еще одной учетной записи электронного \
        дневника (например, от школы второго ребенка). После привязки выбрать учетную \
        запись можно будет при входе через Госуслуги, без пароля.",
    accounts_title: "Выберите учетную запись дневника",
    accounts_lead: "К Вашей учетной записи Госуслуг привязано несколько учетных записей \
        электронного дневника. Выберите, в какую войти.",
    accounts_current: "открыта сейчас",
    accounts_stale: "пароль изменился — войдите и введите новый пароль",
    accounts_add: "Привязать еще одну учетную запись дневника",
    accounts_back: "Вернуться в дневник",

    identity_contact: "Обратитесь к классному руководителю или администратору \
        электронного дневника.",
};

static EN: Texts = Texts {
    lang: "en",
    status_label: "Code for the support desk:",
    link_title: "Your Gosuslugi account is not linked to the e-diary",
    link_lead: "If you have a login and password for the e-diary, find your existing \
        user and attach it to your Gosuslugi account. The password is asked only once.",
    find_existing: "Find an existing user",
    login_label: "Login",
    password_label: "Password",
    attach_button: "Attach",
    link_hint: "You will then enter your diary, and later sign-ins through Gosuslugi \
        will not ask for the diary password.",
    logout_label: "Sign out",
    wrong_password: "Wrong login or password",
    stale_notice: "Your e-diary password has changed. Enter the new password to \
        attach your account again.",
    password_again_notice: "Enter your e-diary password once more to continue.",
    csrf_expired: "The page has expired. Enter the login and password again.",
    rate_title: "Too many attempts",
    rate_text: "Too many login attempts. Please try again in {minutes} min.",
    too_many_title: "Too many diary accounts linked",
    too_many_text: "One Gosuslugi account can be linked to at most {max} e-diary \
        accounts. To link another, ask the diary's administrator to unlink one that is \
        no longer needed.",
    login_taken_title: "Diary user already linked",
    login_taken_text: "This e-diary user is already linked to another Gosuslugi \
        account. If this is a mistake, contact the diary's administrator: only they \
        can unlink it.",
    level_title: "A confirmed Gosuslugi account is needed",
    level_text: "The role «{role}» needs a {needed} Gosuslugi account. Yours is \
        {current}, so you cannot enter the e-diary through Gosuslugi yet.",
    level_steps_lead: "To get a confirmed account:",
    level_steps: [
        "open your Gosuslugi profile and enter your personal data;",
        "have the data verified;",
        "receive the confirmed account.",
    ],
    level_how: "You can confirm your identity at a service centre (MFC) with your passport \
        and SNILS, or online through your bank if it offers this.",
    level_help_link: "How to confirm an account — on the Gosuslugi portal",
    level_after: "Then sign in to the e-diary through Gosuslugi again.",
    resend_title: "Please send the form again",
    resend_text: "Your e-diary session had expired and was renewed. The form was not \
        sent: go back and send it again.",
    legacy_closed_title: "Login with the diary password is closed",
    legacy_closed_text: "The e-diary is entered through Gosuslugi only.",
    need_legacy_title: "Link to ESIA",
    need_legacy_text: "To link your account to ESIA, first sign in to the e-diary \
        with its login and password.",
    diary_down_title: "The e-diary is unavailable",
    diary_down_text: "The e-diary could not be reached. Please try again in a few \
        minutes.",
    diary_refused_text: "The e-diary refused the sign-in. Try later or contact the \
        diary's administrator.",
    method_title: "Not supported",
    method_text: "This page cannot be opened this way.",
    identity_title: "The names do not match",
    identity_text: "The surname, name and patronymic of your Gosuslugi account do not \
        match the e-diary user whose login and password were entered, so the accounts \
        were not linked. If this is a mistake (for example, the diary has an old \
        surname), the data can be corrected.",
    identity_contact: "Contact your class teacher or the e-diary's administrator.",
    confirm_title: "Link your Gosuslugi account",
    confirm_question: "Link the Gosuslugi account {esia} to the e-diary user {diary}?",
    confirm_button: "Link",
    not_me_button: "This is not me",
    not_me_hint: "“This is not me”: if someone else's Gosuslugi account is open in this \
        browser, it is signed out; your e-diary session stays.",
    unnamed: "(no name given)",
    signed_in_as: "You are signed in to Gosuslugi as {esia}. If this is not you, press “This is not me”.",
    add_account_notice: "Enter the login and password of one more e-diary account (for \
        example, from your second child's school). Once linked, you choose the account \
        when signing in with Gosuslugi, without a password.",
    accounts_title: "Choose an e-diary account",
    accounts_lead: "Several e-diary accounts are linked to your Gosuslugi account. Choose \
        the one to open.",
    accounts_current: "open now",
    accounts_stale: "password changed: open it and enter the new password",
    accounts_add: "Link one more e-diary account",
    accounts_back: "Back to the diary",
};
