//! Person names as real records spell them, made comparable.
//!
//! At linking the gateway holds two spellings of one person: ESIA's fields (`lastName`,
//! `firstName`, `middleName`) and the diary's display string («Иванова Мария Ивановна»).
//! Typed by different clerks years apart, they differ in ways that do not make them
//! different people: case, ё/е, a double surname with a hyphen, an en dash or spaces,
//! NBSP and zero-width characters pasted from Word, Latin letters typed in the wrong
//! keyboard layout («Ивaнова» with a Latin `a`), decomposed «й», a trailing dot, a missing
//! patronymic. [`normalize`] removes exactly those differences and nothing else, so a
//! stolen diary password still cannot be bound to an ESIA account with another name:
//! initials, transliteration and nicknames stay mismatches.
//!
//! [`PersonName`] always holds normalised parts (upper case, Cyrillic where the word was
//! Cyrillic); [`compare`] gives a [`NameVerdict`], [`compare_birth_dates`] a
//! [`DateVerdict`]. Pure: no I/O, no clock.
//!
//! ```
//! use esia_gateway::identity::names::{NameVerdict, PersonName, compare};
//!
//! let esia = PersonName::from_parts("Иванова", "Мария", Some("Ивановна")).unwrap();
//! let diary = PersonName::parse_display("ИВАНОВА  мария ивановна.").unwrap();
//! assert_eq!(compare(&esia, &diary), NameVerdict::Match);
//! assert_eq!(diary.to_string(), "ИВАНОВА МАРИЯ ИВАНОВНА");
//! ```

use std::fmt;

use chrono::NaiveDate;

/// Turkic patronymic suffixes («Ахмед оглы»): part of the middle name, not a fourth name.
const PATRONYMIC_SUFFIXES: [&str; 5] = ["ОГЛЫ", "КЫЗЫ", "ГЫЗЫ", "УЛЫ", "УУЛУ"];

/// Words clerks put in the patronymic field of a person who has none.
const NO_PATRONYMIC: [&str; 3] = ["НЕТ", "ОТСУТСТВУЕТ", "БЕЗ ОТЧЕСТВА"];

/// Uppercase Latin letters that look like Cyrillic ones, with their Cyrillic twin.
const LOOKALIKES: [(char, char); 13] = [
    ('A', 'А'),
    ('B', 'В'),
    ('C', 'С'),
    ('E', 'Е'),
    ('Ë', 'Е'),
    ('H', 'Н'),
    ('K', 'К'),
    ('M', 'М'),
    ('O', 'О'),
    ('P', 'Р'),
    ('T', 'Т'),
    ('X', 'Х'),
    ('Y', 'У'),
];

/// A name in its comparable form: every part normalised, `middle` absent when the person
/// has no patronymic or the record does not show it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PersonName {
    pub last: String,
    pub first: String,
    pub middle: Option<String>,
}

/// Why a spelling could not be read as a name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("the last name is empty")]
    NoLastName,
    #[error("the first name is empty")]
    NoFirstName,
    #[error("`{0}` is not «Фамилия Имя [Отчество]»")]
    Shape(String),
}

/// How two names compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NameVerdict {
    /// Last, first and middle names agree (or neither side has a middle name).
    Match,
    /// Last and first names agree; one side has no middle name.
    MatchWithoutMiddle,
    /// Some part differs.
    Mismatch,
}

impl NameVerdict {
    /// Stable kebab-case name for logs and audit events.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Match => "match",
            Self::MatchWithoutMiddle => "match-without-middle",
            Self::Mismatch => "mismatch",
        }
    }

    pub fn is_match(self) -> bool {
        self != Self::Mismatch
    }
}

impl fmt::Display for NameVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PersonName {
    /// From separate fields, as ESIA sends them. An empty, dash-only or «нет» middle name
    /// means none.
    pub fn from_parts(last: &str, first: &str, middle: Option<&str>) -> Result<Self, NameError> {
        let last = normalize(last);
        let first = normalize(first);
        if last.is_empty() {
            return Err(NameError::NoLastName);
        }
        if first.is_empty() {
            return Err(NameError::NoFirstName);
        }
        let middle = middle
            .map(normalize)
            .filter(|m| !m.is_empty() && !NO_PATRONYMIC.contains(&m.as_str()));
        Ok(Self {
            last,
            first,
            middle,
        })
    }

    /// From one display string, «Фамилия Имя [Отчество]». Four words are read as a
    /// double surname written with a space («Иванова Петрова Мария Ивановна») unless the
    /// last word is a patronymic suffix («Алиев Рашид Ахмед оглы»).
    pub fn parse_display(display: &str) -> Result<Self, NameError> {
        let normalized = normalize(display);
        let mut words: Vec<&str> = normalized.split(' ').filter(|w| !w.is_empty()).collect();
        let mut middle: Option<String> = None;
        if words.len() >= 4
            && words
                .last()
                .is_some_and(|w| PATRONYMIC_SUFFIXES.contains(w))
        {
            let suffix = words.pop().unwrap_or_default();
            let name = words.pop().unwrap_or_default();
            middle = Some(format!("{name} {suffix}"));
        }
        let shape = || NameError::Shape(normalized.clone());
        let (last, first, rest) = match (words.as_slice(), middle.is_some()) {
            ([last, first], _) => ((*last).to_string(), *first, None),
            ([last, first, m], false) => ((*last).to_string(), *first, Some(*m)),
            ([l1, l2, first, m], false) => (format!("{l1}-{l2}"), *first, Some(*m)),
            ([l1, l2, first], true) => (format!("{l1}-{l2}"), *first, None),
            _ => return Err(shape()),
        };
        Self::from_parts(&last, first, middle.as_deref().or(rest))
    }
}

impl fmt::Display for PersonName {
    /// «ФАМИЛИЯ ИМЯ ОТЧЕСТВО», normalised: what audit events record.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.last, self.first)?;
        match &self.middle {
            Some(m) => write!(f, " {m}"),
            None => Ok(()),
        }
    }
}

/// Compares two names. Hyphens and spaces inside a part do not count («Иванова-Петрова»
/// = «Иванова Петрова», «Ахмед оглы» = «Ахмед-оглы»); everything else must be equal.
pub fn compare(a: &PersonName, b: &PersonName) -> NameVerdict {
    if key(&a.last) != key(&b.last) || key(&a.first) != key(&b.first) {
        return NameVerdict::Mismatch;
    }
    match (&a.middle, &b.middle) {
        (Some(x), Some(y)) if key(x) == key(y) => NameVerdict::Match,
        (Some(_), Some(_)) => NameVerdict::Mismatch,
        (None, None) => NameVerdict::Match,
        _ => NameVerdict::MatchWithoutMiddle,
    }
}

fn key(part: &str) -> String {
    part.chars().filter(|c| *c != ' ' && *c != '-').collect()
}

/// One spelling → its comparable form: upper case; ё → е; decomposed «й» composed and
/// other combining marks (stress accents) dropped; invisible characters removed; every
/// dash and hyphen one `-`, every space, dot and comma one space, with no space next to
/// a hyphen; Latin look-alikes turned Cyrillic in words that are Cyrillic or could be.
/// Idempotent.
pub fn normalize(s: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut seps: Vec<char> = Vec::new();
    let mut word = String::new();
    let mut pending: Option<char> = None;
    for c in s.chars().flat_map(char::to_uppercase) {
        let class = classify(c);
        match class {
            Class::Drop => {}
            Class::Space | Class::Hyphen => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                    pending = Some(' ');
                }
                if class == Class::Hyphen && pending.is_some() {
                    pending = Some('-');
                }
            }
            Class::Combining(mark) => {
                // «И» + breve is «Й»; «Е» + diaeresis is «Ё», which is «Е» here anyway.
                if mark == '\u{306}' && word.ends_with('И') {
                    word.pop();
                    word.push('Й');
                }
            }
            Class::Letter(c) => {
                if let Some(sep) = pending.take() {
                    seps.push(sep);
                }
                word.push(c);
            }
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    let mut out = String::with_capacity(s.len());
    for (i, w) in words.iter().enumerate() {
        if let Some(sep) = i.checked_sub(1).and_then(|j| seps.get(j)) {
            out.push(*sep);
        }
        out.push_str(&cyrillic_lookalikes(w));
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Drop,
    Space,
    Hyphen,
    Combining(char),
    Letter(char),
}

fn classify(c: char) -> Class {
    match c {
        // Zero-width space/joiners, BOM, soft hyphen, word joiner: invisible in records.
        '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}' => Class::Drop,
        c if c.is_control() && !c.is_whitespace() => Class::Drop,
        '-' | '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE63}' | '\u{FF0D}' => Class::Hyphen,
        '.' | ',' | '_' => Class::Space,
        c if c.is_whitespace() => Class::Space,
        '\u{300}'..='\u{36F}' => Class::Combining(c),
        'Ё' => Class::Letter('Е'),
        '\u{2019}' | '\u{2018}' | '\u{02BC}' | '`' | '\u{00B4}' => Class::Letter('\''),
        c => Class::Letter(c),
    }
}

fn is_cyrillic(c: char) -> bool {
    matches!(c, '\u{400}'..='\u{4FF}')
}

/// Latin look-alikes become Cyrillic when the word already has a Cyrillic letter, or
/// when every Latin letter in it is a look-alike («MAPKOB» typed in the wrong layout).
/// A genuinely Latin word («SMITH») is left alone.
fn cyrillic_lookalikes(word: &str) -> String {
    let twin = |c: char| LOOKALIKES.iter().find(|(l, _)| *l == c).map(|(_, k)| *k);
    let has_cyrillic = word.chars().any(is_cyrillic);
    let all_lookalike = word
        .chars()
        .filter(|c| c.is_alphabetic())
        .all(|c| is_cyrillic(c) || twin(c).is_some());
    if !(has_cyrillic || all_lookalike) {
        return word.to_string();
    }
    word.chars().map(|c| twin(c).unwrap_or(c)).collect()
}

/// How two birth dates compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DateVerdict {
    Same,
    Different,
    /// One side is missing or unreadable: no evidence either way (never a match).
    Unknown,
}

impl DateVerdict {
    /// Stable kebab-case name for logs and audit events.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Same => "same",
            Self::Different => "different",
            Self::Unknown => "unknown",
        }
    }
}

/// Reads a birth date as ESIA (`DD.MM.YYYY`) or a diary (`DD.MM.YYYY`, ISO `YYYY-MM-DD`,
/// an ISO date-time's date, `DD/MM/YYYY`) writes it; one-digit day and month allowed.
pub fn parse_birth_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    // An ISO date-time: only its date counts (birth dates carry no meaningful time).
    let s = match s.split_once(['T', ' ']) {
        Some((date, _)) if date.len() == 10 && date.as_bytes().get(4) == Some(&b'-') => date,
        _ => s,
    };
    ["%d.%m.%Y", "%Y-%m-%d", "%d/%m/%Y"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(s, f).ok())
        // chrono accepts a five-digit year and a sign; no birth certificate has one.
        .filter(|d| (1900..=2200).contains(&chrono::Datelike::year(d)))
}

/// Compares two birth dates in any of the spellings [`parse_birth_date`] reads.
pub fn compare_birth_dates(a: Option<&str>, b: Option<&str>) -> DateVerdict {
    match (a.and_then(parse_birth_date), b.and_then(parse_birth_date)) {
        (Some(x), Some(y)) if x == y => DateVerdict::Same,
        (Some(_), Some(_)) => DateVerdict::Different,
        _ => DateVerdict::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_handles_the_spellings_of_real_records() {
        for (given, want) in [
            ("  Иванова\u{a0}Мария ", "ИВАНОВА МАРИЯ"),
            ("Иванова - Петрова", "ИВАНОВА-ПЕТРОВА"),
            ("Иванова\u{2013}Петрова", "ИВАНОВА-ПЕТРОВА"),
            ("Иванова--Петрова", "ИВАНОВА-ПЕТРОВА"),
            ("-Иванова-", "ИВАНОВА"),
            ("Алёна", "АЛЕНА"),
            ("Андреи\u{306}", "АНДРЕЙ"),
            ("Мари\u{301}я", "МАРИЯ"),
            ("Ивaнова", "ИВАНОВА"),
            ("MAPKOB", "МАРКОВ"),
            ("Smith", "SMITH"),
            ("Мария.", "МАРИЯ"),
            ("Ма\u{200b}рия", "МАРИЯ"),
            ("", ""),
            (" . - ", ""),
        ] {
            assert_eq!(normalize(given), want, "{given:?}");
        }
    }

    #[test]
    fn display_strings_of_every_shape() {
        let p = |s: &str| PersonName::parse_display(s);
        let n = |l: &str, f: &str, m: Option<&str>| PersonName {
            last: l.into(),
            first: f.into(),
            middle: m.map(Into::into),
        };
        assert_eq!(p("Иванова Мария"), Ok(n("ИВАНОВА", "МАРИЯ", None)));
        assert_eq!(
            p("Иванова Петрова Мария Ивановна"),
            Ok(n("ИВАНОВА-ПЕТРОВА", "МАРИЯ", Some("ИВАНОВНА")))
        );
        assert_eq!(
            p("Алиев Рашид Ахмед оглы"),
            Ok(n("АЛИЕВ", "РАШИД", Some("АХМЕД ОГЛЫ")))
        );
        assert_eq!(p("Иванова Мария нет"), Ok(n("ИВАНОВА", "МАРИЯ", None)));
        assert!(matches!(p("Иванова"), Err(NameError::Shape(_))));
        assert!(matches!(p("   "), Err(NameError::Shape(_))));
        assert!(matches!(p("a b c d e"), Err(NameError::Shape(_))));
        assert_eq!(
            PersonName::from_parts(" ", "Мария", None),
            Err(NameError::NoLastName)
        );
        assert_eq!(
            PersonName::from_parts("Иванова", "-", None),
            Err(NameError::NoFirstName)
        );
    }

    #[test]
    fn birth_dates_in_esia_and_iso_spellings() {
        let same = [
            ("12.04.2015", "2015-04-12"),
            ("12.04.2015", "12.04.2015"),
            ("2.4.2015", "2015-04-02"),
            ("2015-04-12T00:00:00+03:00", "12.04.2015"),
            ("12/04/2015", "12.04.2015"),
        ];
        for (a, b) in same {
            assert_eq!(compare_birth_dates(Some(a), Some(b)), DateVerdict::Same);
        }
        assert_eq!(
            compare_birth_dates(Some("12.04.2015"), Some("04.12.2015")),
            DateVerdict::Different
        );
        for (a, b) in [
            (None, Some("12.04.2015")),
            (Some("31.02.2015"), Some("31.02.2015")),
            (Some("12.04.15"), Some("12.04.2015")),
            (Some("+12015-04-12"), Some("+12015-04-12")),
            (Some(""), Some("")),
        ] {
            assert_eq!(compare_birth_dates(a, b), DateVerdict::Unknown, "{a:?}");
        }
    }
}
