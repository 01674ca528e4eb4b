//! The diary's pages, as HTML bodies for [`super::layout::page`]. What a page shows
//! depends on the role: a student their own grades, a parent their child's, a teacher
//! the journal of their subject, a class teacher their class, the administration a
//! summary of the school.

use std::fmt::Write as _;

use super::layout::escape;
use super::school::{
    self, Account, CLASSES, Message, PUPILS, Registration, Role, SUBJECTS, TEACHERS, average,
    class_subjects, pupils_of, teacher_of,
};

/// Classes whose homework, schedule and journal the account sees.
fn classes_for(account: &Account) -> Vec<usize> {
    match (account.pupil.and_then(|p| PUPILS.get(p)), account.class) {
        (Some((_, class, _)), _) => vec![*class],
        (None, Some(class)) => vec![class],
        (None, None) => (0..CLASSES.len()).collect(),
    }
}

fn class_name(class: usize) -> &'static str {
    CLASSES.get(class).copied().unwrap_or("—")
}

fn subject_name(subject: usize) -> &'static str {
    SUBJECTS.get(subject).copied().unwrap_or("—")
}

fn marks_cell(pupil: usize, subject: usize) -> (String, String) {
    let marks = school::marks(pupil, subject);
    let list = marks
        .iter()
        .map(|(d, m)| format!("<span title=\"{}\">{m}</span>", d.format("%d.%m.%Y")))
        .collect::<Vec<_>>()
        .join(" ");
    let avg = average(&marks).map_or("—".to_owned(), |a| format!("{a:.2}"));
    (list, avg)
}

/// «Панель управления» with the seed's tiles.
pub fn dashboard(account: &Account, inbox: usize) -> String {
    const TILES: [(&str, &str, &str); 9] = [
        (
            "/homework",
            "Домашнее задание",
            "Последнее домашнее задание + архив домашних заданий",
        ),
        ("/marks", "Оценки", "Текущая успеваемость"),
        (
            "/stats",
            "Статистика и анализ",
            "Статистическая информация об успеваемости",
        ),
        ("/messages", "Сообщения", "Система обмена сообщениями"),
        (
            "/messages",
            "Сообщение учителю",
            "Отправка сообщения одному из учителей",
        ),
        (
            "/teachers",
            "Ваши учителя",
            "Список учителей, которые преподают в вашей школе",
        ),
        ("/schedule", "Расписание", "Расписание занятий на неделю"),
        ("/files", "Файлы", "Личное файловое хранилище"),
        (
            "/index.php?module=marks",
            "Успеваемость (старая версия)",
            "Та же страница оценок",
        ),
    ];
    let mut html = format!(
        "<p>Здравствуйте, {}!</p><div class=\"tiles\">",
        escape(account.full_name)
    );
    for (href, title, text) in TILES {
        let count = if title == "Сообщения" {
            format!(" {inbox}")
        } else {
            String::new()
        };
        let _ = write!(
            html,
            "<div class=\"tile\"><a href=\"{href}\">{title}</a>{count}<br><span class=\"note\">{text}</span></div>"
        );
    }
    html.push_str("</div><h2>Новости проекта</h2><ul><li>1 сентября 2026 г. Начало учебного года</li></ul><h2>Объявления</h2><p class=\"note\">Нет объявлений</p>");
    html
}

/// «Текущая успеваемость»: grades by role.
pub fn marks(account: &Account) -> String {
    let mut html = String::from("<p class=\"subtitle\">Оценки</p>");
    match (account.role, account.pupil) {
        (Role::Student | Role::Parent, Some(pupil)) => {
            let (name, class, _) = PUPILS.get(pupil).copied().unwrap_or(("—", 0, ""));
            let _ = write!(
                html,
                "<p>Учащийся: <b class=\"pupil\">{}</b>, класс {}</p><table class=\"marks\"><tr><th>Предмет</th><th>Учитель</th><th>Оценки</th><th>Средний балл</th></tr>",
                escape(name),
                class_name(class)
            );
            for subject in class_subjects(class) {
                let (list, avg) = marks_cell(pupil, subject);
                let _ = write!(
                    html,
                    "<tr><td>{}</td><td>{}</td><td>{list}</td><td>{avg}</td></tr>",
                    subject_name(subject),
                    escape(teacher_of(subject))
                );
            }
            html.push_str("</table>");
        }
        (Role::Teacher | Role::ClassTeacher, _) => {
            let own: &[usize] = account
                .teacher
                .and_then(|t| TEACHERS.get(t))
                .map_or(&[], |t| t.1);
            for class in classes_for(account) {
                for subject in class_subjects(class) {
                    let leads_class = account.class == Some(class);
                    if own.contains(&subject) || leads_class {
                        journal(&mut html, class, subject);
                    }
                }
            }
        }
        _ => summary(&mut html, account),
    }
    html
}

/// One subject's journal for a class: pupils × marks.
fn journal(html: &mut String, class: usize, subject: usize) {
    let _ = write!(
        html,
        "<h2 class=\"journal\">Журнал: {}, {}</h2><table><tr><th>Учащийся</th><th>Оценки</th><th>Средний балл</th></tr>",
        class_name(class),
        subject_name(subject)
    );
    for pupil in pupils_of(class) {
        let (list, avg) = marks_cell(pupil, subject);
        let name = PUPILS.get(pupil).map_or("—", |p| p.0);
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{list}</td><td>{avg}</td></tr>",
            escape(name)
        );
    }
    html.push_str("</table>");
}

/// Averages per pupil and subject, for the administration.
fn summary(html: &mut String, account: &Account) {
    for class in classes_for(account) {
        let subjects = class_subjects(class);
        let _ = write!(
            html,
            "<h2>Сводная ведомость: {}</h2><table><tr><th>Учащийся</th>",
            class_name(class)
        );
        for s in &subjects {
            let _ = write!(html, "<th>{}</th>", subject_name(*s));
        }
        html.push_str("</tr>");
        for pupil in pupils_of(class) {
            let _ = write!(
                html,
                "<tr><td>{}</td>",
                escape(PUPILS.get(pupil).map_or("—", |p| p.0))
            );
            for s in &subjects {
                let _ = write!(html, "<td>{}</td>", marks_cell(pupil, *s).1);
            }
            html.push_str("</tr>");
        }
        html.push_str("</table>");
    }
}

/// «Статистика и анализ»: averages per subject over the visible pupils.
pub fn stats(account: &Account) -> String {
    let pupils: Vec<usize> = match account.pupil {
        Some(p) => vec![p],
        None => classes_for(account)
            .into_iter()
            .flat_map(pupils_of)
            .collect(),
    };
    let mut html =
        String::from("<table><tr><th>Предмет</th><th>Оценок</th><th>Средний балл</th></tr>");
    for (subject, name) in SUBJECTS.iter().enumerate() {
        let all: Vec<_> = pupils
            .iter()
            .flat_map(|&p| school::marks(p, subject))
            .collect();
        if let Some(avg) = average(&all) {
            let _ = write!(
                html,
                "<tr><td>{name}</td><td>{}</td><td>{avg:.2}</td></tr>",
                all.len()
            );
        }
    }
    html.push_str("</table>");
    html
}

pub fn homework(account: &Account) -> String {
    let mut html = String::new();
    for class in classes_for(account) {
        let _ = write!(
            html,
            "<h2>{}</h2><table><tr><th>Срок</th><th>Предмет</th><th>Задание</th></tr>",
            class_name(class)
        );
        for (due, subject, task) in school::homework(class) {
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                due.format("%d.%m.%Y"),
                subject_name(subject),
                escape(&task)
            );
        }
        html.push_str("</table>");
    }
    html
}

/// The weekly schedule; the server sends this page in windows-1251.
pub fn schedule(account: &Account) -> String {
    let mut html = String::new();
    for class in classes_for(account) {
        let _ = write!(
            html,
            "<h2>{}</h2><table><tr><th>День</th><th>Уроки</th></tr>",
            class_name(class)
        );
        for (day, lessons) in school::schedule(class) {
            let list: Vec<String> = lessons
                .iter()
                .enumerate()
                .map(|(i, s)| format!("{}. {}", i + 1, subject_name(*s)))
                .collect();
            let _ = write!(
                html,
                "<tr><td>{day}</td><td>{}</td></tr>",
                list.join("<br>")
            );
        }
        html.push_str("</table>");
    }
    html
}

/// The inbox and sent messages, and the form to send one.
pub fn messages(
    account: &Account,
    all: &[Message],
    people: &[Account],
    notice: Option<&str>,
) -> String {
    let mut html = notice
        .map(|n| format!("<p class=\"notice\">{}</p>", escape(n)))
        .unwrap_or_default();
    let name_of = |login: &str| {
        people
            .iter()
            .find(|a| a.login == login)
            .map_or(login.to_owned(), |a| a.full_name.to_owned())
    };
    html.push_str("<table class=\"messages\"><tr><th>Дата</th><th>От</th><th>Кому</th><th>Тема</th><th>Текст</th></tr>");
    for m in all
        .iter()
        .rev()
        .filter(|m| m.to == account.login || m.from == account.login)
    {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            m.sent.format("%d.%m.%Y"),
            escape(&name_of(&m.from)),
            escape(&name_of(&m.to)),
            escape(&m.subject),
            escape(&m.body)
        );
    }
    html.push_str("</table><h2>Новое сообщение</h2><form method=\"post\" action=\"/messages\" id=\"message-form\"><p><label>Кому <select name=\"to\">");
    for p in people.iter().filter(|p| p.login != account.login) {
        let _ = write!(
            html,
            "<option value=\"{}\">{} ({})</option>",
            p.login,
            escape(p.full_name),
            p.role.title()
        );
    }
    html.push_str("</select></label></p><p><label>Тема <input name=\"subject\" maxlength=\"200\"></label></p><p><label>Текст <textarea name=\"body\" maxlength=\"2000\"></textarea></label></p><p><button type=\"submit\">Отправить</button></p></form>");
    html
}

pub fn teachers() -> String {
    let mut html = String::from("<table><tr><th>Учитель</th><th>Предметы</th></tr>");
    for (name, subjects) in TEACHERS {
        let list: Vec<&str> = subjects.iter().map(|s| subject_name(*s)).collect();
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td></tr>",
            escape(name),
            list.join(", ")
        );
    }
    html.push_str("</table>");
    html
}

pub fn files(account: &Account) -> String {
    let mut html = String::from("<table><tr><th>Файл</th><th>Размер</th><th>Загружен</th></tr>");
    for (name, size, day) in school::files(account) {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{size} КБ</td><td>{}</td></tr>",
            escape(&name),
            day.format("%d.%m.%Y")
        );
    }
    html.push_str("</table>");
    html
}

/// The self-registration form, with an error when a submission was refused.
pub fn register_form(error: Option<&str>) -> String {
    let error = error
        .map(|e| format!("<p class=\"error\">{}</p>", escape(e)))
        .unwrap_or_default();
    format!(
        "{error}<form method=\"post\" action=\"/register\" id=\"register-form\">\
         <p><label>Логин <input name=\"login\" maxlength=\"32\"></label></p>\
         <p><label>Фамилия Имя Отчество <input name=\"full_name\" maxlength=\"100\"></label></p>\
         <p><label>Роль <select name=\"role\"><option value=\"student\">Учащийся</option>\
         <option value=\"parent\">Родитель</option></select></label></p>\
         <p><label>Пароль <input type=\"password\" name=\"password\"></label></p>\
         <p><button type=\"submit\">Зарегистрироваться</button></p></form>"
    )
}

pub fn register_done(login: &str) -> String {
    format!(
        "<p class=\"notice\">Заявка на регистрацию пользователя <b>{}</b> принята и ожидает подтверждения администратором школы.</p>",
        escape(login)
    )
}

/// Self-registrations waiting for approval, shown to the school administrator.
pub fn pending_registrations(pending: &[Registration]) -> String {
    let mut html = String::from(
        "<h2>Заявки на регистрацию</h2><table class=\"pending\"><tr><th>Логин</th><th>ФИО</th><th>Роль</th></tr>",
    );
    for r in pending {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&r.login),
            escape(&r.full_name),
            r.role.title()
        );
    }
    html.push_str("</table>");
    html
}

/// «Мои дети»: one `<li class="child" data-birth="DD.MM.YYYY">` per child of a parent.
pub fn children(account: &Account) -> String {
    let list = school::children(account);
    if list.is_empty() {
        return "<ul class=\"children\"></ul><p class=\"note\">Нет сведений о детях</p>".to_owned();
    }
    let mut html = String::from("<ul class=\"children\">");
    for (name, birth) in list {
        let _ = write!(
            html,
            "<li class=\"child\" data-birth=\"{}\">{}</li>",
            escape(birth),
            escape(name)
        );
    }
    html.push_str("</ul>");
    html
}

/// The strict-login mode's answer to a login without its pre-login session.
pub fn no_cookies() -> String {
    "<p class=\"error\">Включите cookies в браузере</p><p>Для входа в дневник браузер должен \
     принимать cookies. Включите их и откройте <a href=\"/login\">страницу входа</a> снова.</p>"
        .to_owned()
}

pub fn not_found() -> String {
    "<p>Страница не найдена. <a href=\"/\">На главную</a></p>".to_owned()
}
