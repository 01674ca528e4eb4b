//! The seeded school, in code: two classes, their pupils, parents, teachers by subject,
//! grades over several weeks, homework, a weekly schedule, files and the demo accounts
//! (password [`DEMO_PASSWORD`] for all). Fixed data, so tests can name what they expect.

use chrono::{NaiveDate, TimeDelta};

/// The password of every demo account.
pub const DEMO_PASSWORD: &str = "demo";

/// A diary role; `as_str` is what `/api/me` answers (the gateway's role probe).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Student,
    Parent,
    Teacher,
    ClassTeacher,
    HeadTeacher,
    Director,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Student => "student",
            Role::Parent => "parent",
            Role::Teacher => "teacher",
            Role::ClassTeacher => "class_teacher",
            Role::HeadTeacher => "head_teacher",
            Role::Director => "director",
            Role::Admin => "admin",
        }
    }

    /// The role as the diary's header names it.
    pub fn title(self) -> &'static str {
        match self {
            Role::Student => "Учащийся",
            Role::Parent => "Родитель",
            Role::Teacher => "Учитель",
            Role::ClassTeacher => "Классный руководитель",
            Role::HeadTeacher => "Завуч",
            Role::Director => "Директор школы",
            Role::Admin => "Администратор школы",
        }
    }

    /// Staff see journals; pupils and parents see one pupil's grades.
    pub fn is_staff(self) -> bool {
        !matches!(self, Role::Student | Role::Parent)
    }
}

/// A login that can sign in.
#[derive(Debug, Clone)]
pub struct Account {
    pub login: &'static str,
    pub full_name: &'static str,
    pub role: Role,
    /// The pupil whose grades this account sees (a student's own, a parent's child).
    pub pupil: Option<usize>,
    /// The class a class teacher leads.
    pub class: Option<usize>,
    /// The teacher (index into [`TEACHERS`]) this account is.
    pub teacher: Option<usize>,
}

pub const CLASSES: [&str; 2] = ["5 «А»", "11 «В»"];

/// Pupils: full name, class, birth date (`DD.MM.YYYY`, as the diary prints it).
pub const PUPILS: [(&str, usize, &str); 9] = [
    ("Иванов Дмитрий Алексеевич", 0, "12.04.2015"),
    ("Белова Анна Сергеевна", 0, "23.08.2014"),
    ("Григорьев Максим Олегович", 0, "05.01.2015"),
    ("Лебедева София Андреевна", 0, "30.11.2014"),
    ("Петров Алексей Сергеевич", 1, "03.02.2011"),
    ("Орлова Дарья Игоревна", 1, "17.06.2008"),
    ("Фёдоров Кирилл Павлович", 1, "09.09.2008"),
    ("Зайцева Полина Денисовна", 1, "21.03.2009"),
    // Дмитрий's sister: their mother holds a second diary account for her (issue 15
    // point 8, one ESIA account linked to two diary accounts).
    ("Иванова Анна Алексеевна", 1, "07.09.2009"),
];

pub const SUBJECTS: [&str; 8] = [
    "Русский язык",
    "Литература",
    "Математика",
    "История",
    "Английский язык",
    "Физика",
    "Биология",
    "Физическая культура",
];

/// Teachers and the subjects they teach (indices into [`SUBJECTS`]).
pub const TEACHERS: [(&str, &[usize]); 7] = [
    ("Кузнецова Ольга Николаевна", &[0, 1]),
    ("Соколова Елена Викторовна", &[2]),
    ("Морозов Андрей Валерьевич", &[3]),
    ("Павлова Ирина Сергеевна", &[4]),
    ("Волков Сергей Андреевич", &[5]),
    ("Никитина Галина Петровна", &[6]),
    ("Степанов Олег Иванович", &[7]),
];

/// The demo accounts; every one signs in with [`DEMO_PASSWORD`].
pub fn accounts() -> Vec<Account> {
    let a = |login, full_name, role| Account {
        login,
        full_name,
        role,
        pupil: None,
        class: None,
        teacher: None,
    };
    vec![
        Account {
            pupil: Some(4),
            ..a("student", "Петров Алексей Сергеевич", Role::Student)
        },
        Account {
            pupil: Some(0),
            ..a("parent", "Иванова Мария Ивановна", Role::Parent)
        },
        // The same mother's second account (in a region each school's diary account
        // is separate): one ESIA account, two diary accounts.
        Account {
            pupil: Some(8),
            ..a("parent2", "Иванова Мария Ивановна", Role::Parent)
        },
        Account {
            teacher: Some(1),
            ..a("teacher", "Соколова Елена Викторовна", Role::Teacher)
        },
        Account {
            teacher: Some(0),
            class: Some(1),
            ..a(
                "classteacher",
                "Кузнецова Ольга Николаевна",
                Role::ClassTeacher,
            )
        },
        Account {
            teacher: Some(2),
            ..a(
                "headteacher",
                "Морозов Андрей Валерьевич",
                Role::HeadTeacher,
            )
        },
        a("director", "Васильева Татьяна Михайловна", Role::Director),
        a("admin", "Николаев Игорь Олегович", Role::Admin),
    ]
}

/// Subjects a class takes (5th grade has no physics).
pub fn class_subjects(class: usize) -> Vec<usize> {
    (0..SUBJECTS.len())
        .filter(|&s| !(class == 0 && s == 5))
        .collect()
}

/// A parent's children as (full name, birth date); empty for every other role.
pub fn children(account: &Account) -> Vec<(&'static str, &'static str)> {
    match (account.role, account.pupil.and_then(|p| PUPILS.get(p))) {
        (Role::Parent, Some((name, _, birth))) => vec![(*name, *birth)],
        _ => Vec::new(),
    }
}

/// The account's own birth date when it is a pupil's.
pub fn own_birth_date(account: &Account) -> Option<&'static str> {
    match (account.role, account.pupil.and_then(|p| PUPILS.get(p))) {
        (Role::Student, Some((_, _, birth))) => Some(birth),
        _ => None,
    }
}

pub fn pupils_of(class: usize) -> Vec<usize> {
    (0..PUPILS.len())
        .filter(|&p| PUPILS[p].1 == class)
        .collect()
}

pub fn teacher_of(subject: usize) -> &'static str {
    TEACHERS
        .iter()
        .find(|(_, subjects)| subjects.contains(&subject))
        .map_or("—", |(name, _)| name)
}

/// The first school day of the grade weeks (a Monday).
fn first_week() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 9, 7).unwrap_or_default()
}

/// A pupil's marks in a subject: one or two per week over six weeks, fixed by formula.
pub fn marks(pupil: usize, subject: usize) -> Vec<(NaiveDate, u8)> {
    const SPREAD: [u8; 10] = [5, 4, 5, 3, 4, 5, 4, 4, 3, 5];
    (0..6usize)
        .flat_map(|week| {
            let seed = pupil * 31 + subject * 17 + week * 7 + pupil * subject;
            let day = first_week() + TimeDelta::days((week * 7 + subject % 5) as i64);
            let first = (day, SPREAD[seed % SPREAD.len()]);
            let second = seed.is_multiple_of(3).then(|| {
                let mark = if seed.is_multiple_of(11) {
                    2
                } else {
                    SPREAD[(seed / 3) % SPREAD.len()]
                };
                (day + TimeDelta::days(2), mark)
            });
            std::iter::once(first).chain(second)
        })
        .collect()
}

/// The average of marks, for «Статистика и анализ».
pub fn average(marks: &[(NaiveDate, u8)]) -> Option<f64> {
    if marks.is_empty() {
        return None;
    }
    let sum: u32 = marks.iter().map(|(_, m)| u32::from(*m)).sum();
    Some(f64::from(sum) / marks.len() as f64)
}

/// Homework of a class: (due date, subject, task).
pub fn homework(class: usize) -> Vec<(NaiveDate, usize, String)> {
    const TASKS: [&str; 4] = [
        "§ {n}, упражнения 1–5",
        "Прочитать главу {n}, ответить на вопросы",
        "Задачи № {n}1–{n}6",
        "Подготовить сообщение по теме урока {n}",
    ];
    let start = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default();
    class_subjects(class)
        .into_iter()
        .enumerate()
        .map(|(i, subject)| {
            let due = start + TimeDelta::days((i % 5) as i64);
            let task = TASKS[(subject + class) % TASKS.len()].replace("{n}", &(i + 3).to_string());
            (due, subject, task)
        })
        .collect()
}

/// The weekly schedule of a class: five days, up to six lessons (subject indices).
pub fn schedule(class: usize) -> Vec<(&'static str, Vec<usize>)> {
    const DAYS: [&str; 5] = ["Понедельник", "Вторник", "Среда", "Четверг", "Пятница"];
    let subjects = class_subjects(class);
    DAYS.iter()
        .enumerate()
        .map(|(d, day)| {
            let lessons = 5 + (d + class) % 2;
            let list = (0..lessons)
                .filter_map(|l| {
                    subjects
                        .get((d * 3 + l * 5 + class) % subjects.len())
                        .copied()
                })
                .collect();
            (*day, list)
        })
        .collect()
}

/// Files in the personal store: (name, size in KiB, uploaded).
pub fn files(account: &Account) -> Vec<(String, u32, NaiveDate)> {
    let day = |m, d| NaiveDate::from_ymd_opt(2026, m, d).unwrap_or_default();
    let mut list = vec![
        (
            "Правила внутреннего распорядка.pdf".to_owned(),
            312,
            day(9, 1),
        ),
        ("Расписание звонков.docx".to_owned(), 24, day(9, 2)),
    ];
    if account.role.is_staff() {
        list.push(("Рабочая программа.docx".to_owned(), 88, day(9, 10)));
    } else {
        list.push(("Реферат по истории.docx".to_owned(), 56, day(10, 14)));
    }
    list
}

/// A message in the diary's messaging system.
#[derive(Debug, Clone)]
pub struct Message {
    pub from: String,
    pub to: String,
    pub subject: String,
    pub body: String,
    pub sent: NaiveDate,
}

/// The messages the school starts with.
pub fn seed_messages() -> Vec<Message> {
    let m = |from: &str, to: &str, subject: &str, body: &str, d| Message {
        from: from.to_owned(),
        to: to.to_owned(),
        subject: subject.to_owned(),
        body: body.to_owned(),
        sent: NaiveDate::from_ymd_opt(2026, 11, d).unwrap_or_default(),
    };
    vec![
        m(
            "classteacher",
            "student",
            "Классный час",
            "В пятницу классный час после 6 урока.",
            16,
        ),
        m(
            "teacher",
            "parent",
            "Контрольная работа",
            "В четверг контрольная работа по математике.",
            17,
        ),
        m(
            "headteacher",
            "teacher",
            "Педсовет",
            "Педсовет переносится на среду, 15:00.",
            18,
        ),
        m(
            "director",
            "classteacher",
            "Отчёт",
            "Прошу сдать отчёт по успеваемости до конца четверти.",
            19,
        ),
        m(
            "admin",
            "director",
            "Обновление дневника",
            "Дневник обновлён до версии 4.1.",
            20,
        ),
    ]
}

/// A self-registration waiting for an administrator.
#[derive(Debug, Clone)]
pub struct Registration {
    pub login: String,
    pub full_name: String,
    pub role: Role,
}
