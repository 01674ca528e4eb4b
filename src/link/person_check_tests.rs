//! The comparison of `person_check.rs` as a table: every way the two sides can agree,
//! differ or be unknown, with its verdict and audit note.

use super::*;
use crate::identity::person::{ChildFacts, NameParts};

fn name(display: &str) -> NameParts {
    NameParts::from(&PersonName::parse_display(display).unwrap())
}

fn esia(display: &str, born: Option<&str>, children: Children) -> EsiaPerson {
    EsiaPerson {
        name: Some(name(display)),
        birth_date: born.map(str::to_owned),
        children,
        display_name: Some(display.to_owned()),
    }
}

fn kids(list: &[(&str, &str)]) -> Children {
    Children::Listed {
        children: list
            .iter()
            .map(|(n, b)| ChildFacts {
                name: Some(name(n)),
                birth_date: Some((*b).to_owned()),
            })
            .collect(),
    }
}

fn unknown(reason: &str) -> Children {
    Children::Unknown {
        reason: reason.into(),
    }
}

fn diary(name: Option<&str>, born: Option<&str>, role: &str, pupils: Pupils) -> DiarySide {
    DiarySide {
        name: name.map(str::to_owned),
        birth_date: born.map(str::to_owned),
        role: Some(role.to_owned()),
        pupils,
    }
}

fn pupils(list: &[(&str, Option<&str>)]) -> Pupils {
    Pupils::Listed(
        list.iter()
            .map(|(n, b)| DiaryPupil {
                name: (*n).to_owned(),
                birth_date: b.map(str::to_owned),
            })
            .collect(),
    )
}

const MARIA: &str = "Иванова Мария Ивановна";
const DIMA: (&str, &str) = ("Иванов Дмитрий Алексеевич", "2015-04-12");

#[test]
fn every_case_gets_its_verdict_and_note() {
    let maria_kids = kids(&[DIMA]);
    // (role, ESIA person, diary side, expected verdict, expected notes)
    type Case<'a> = (
        &'a str,
        Option<EsiaPerson>,
        DiarySide,
        Option<&'a str>,
        Vec<&'a str>,
    );
    let cases: Vec<Case> = vec![
        (
            "parent whose ESIA child is the diary's pupil",
            Some(esia(MARIA, None, maria_kids.clone())),
            diary(
                Some("ИВАНОВА мария ивановна"),
                None,
                "parent",
                pupils(&[("Иванов Дмитрий Алексеевич", Some("12.04.2015"))]),
            ),
            None,
            vec!["child-match"],
        ),
        (
            "parent: the pupil is someone else's child",
            Some(esia(MARIA, None, maria_kids.clone())),
            diary(
                Some(MARIA),
                None,
                "parent",
                pupils(&[("Петров Алексей Сергеевич", None)]),
            ),
            Some("no-common-child"),
            vec![],
        ),
        (
            "parent: same child's name, another birth date",
            Some(esia(MARIA, None, maria_kids.clone())),
            diary(
                Some(MARIA),
                None,
                "parent",
                pupils(&[("Иванов Дмитрий Алексеевич", Some("13.04.2015"))]),
            ),
            Some("no-common-child"),
            vec![],
        ),
        (
            "parent: one of two pupils is enough; no middle name in the diary",
            Some(esia(MARIA, None, maria_kids.clone())),
            diary(
                Some(MARIA),
                None,
                "parent",
                pupils(&[("Сидоров Иван", None), ("Иванов Дмитрий", None)]),
            ),
            None,
            vec!["child-match"],
        ),
        (
            "parent: /kids refused by ESIA → the name alone",
            Some(esia(MARIA, None, unknown("esia-kids-not-granted"))),
            diary(
                Some(MARIA),
                None,
                "parent",
                pupils(&[("Петров Алексей", None)]),
            ),
            None,
            vec!["esia-kids-not-granted: name check only"],
        ),
        (
            "parent: the diary lists nobody → the name alone",
            Some(esia(MARIA, None, maria_kids.clone())),
            diary(Some(MARIA), None, "parent", pupils(&[])),
            None,
            vec!["diary-no-pupils: name check only"],
        ),
        (
            "parent: no children in ESIA → the name alone",
            Some(esia(MARIA, None, kids(&[]))),
            diary(
                Some(MARIA),
                None,
                "parent",
                pupils(&[("Иванов Дмитрий", None)]),
            ),
            None,
            vec!["esia-no-named-children: name check only"],
        ),
        (
            "parent: children probe not configured → the name alone",
            Some(esia(MARIA, None, maria_kids.clone())),
            diary(
                Some(MARIA),
                None,
                "parent",
                Pupils::Unknown("diary-children-not-configured"),
            ),
            None,
            vec!["diary-children-not-configured: name check only"],
        ),
        (
            "another adult with the right password",
            Some(esia(
                "Петров Сергей Николаевич",
                None,
                kids(&[("Петров Алексей Сергеевич", "2011-02-03")]),
            )),
            diary(
                Some(MARIA),
                None,
                "parent",
                pupils(&[("Иванов Дмитрий Алексеевич", None)]),
            ),
            Some("name-mismatch"),
            vec![],
        ),
        (
            "student: his own child account, same birth date",
            Some(esia(
                "Петров Алексей Сергеевич",
                Some("2011-02-03"),
                unknown("esia-kids-not-requested"),
            )),
            diary(
                Some("Петров Алексей Сергеевич"),
                Some("03.02.2011"),
                "student",
                Pupils::Unknown("not-a-parent"),
            ),
            None,
            vec!["birth-date-same"],
        ),
        (
            "student: a namesake born another year",
            Some(esia(
                "Петров Алексей Сергеевич",
                Some("2012-02-03"),
                unknown("x"),
            )),
            diary(
                Some("Петров Алексей Сергеевич"),
                Some("03.02.2011"),
                "student",
                Pupils::Unknown("not-a-parent"),
            ),
            Some("birth-date-mismatch"),
            vec![],
        ),
        (
            "student: the father's account",
            Some(esia("Петров Сергей Николаевич", None, unknown("x"))),
            diary(
                Some("Петров Алексей Сергеевич"),
                None,
                "student",
                Pupils::Unknown("not-a-parent"),
            ),
            Some("name-mismatch"),
            vec![],
        ),
        (
            "ESIA said nothing (a session from before the check)",
            None,
            diary(Some(MARIA), None, "parent", pupils(&[])),
            Some("esia-name-unknown"),
            vec![],
        ),
        (
            "the diary shows no name",
            Some(esia(MARIA, None, maria_kids.clone())),
            diary(None, None, "teacher", Pupils::Unknown("not-a-parent")),
            Some("diary-name-unknown"),
            vec![],
        ),
        (
            "the diary shows one word",
            Some(esia(MARIA, None, maria_kids.clone())),
            diary(
                Some("Мария"),
                None,
                "teacher",
                Pupils::Unknown("not-a-parent"),
            ),
            Some("diary-name-unreadable"),
            vec![],
        ),
    ];
    for (story, esia, diary, want, notes) in cases {
        let v = compare_person(esia.as_ref(), &diary);
        assert_eq!(v.mismatch, want, "{story}: {v:?}");
        assert_eq!(v.notes, notes, "{story}");
    }
}

#[test]
fn a_mismatch_names_both_sides_normalised_and_the_children_when_they_decided() {
    let v = compare_person(
        Some(&esia(MARIA, None, kids(&[DIMA]))),
        &diary(
            Some("иванова  мария ивановна"),
            None,
            "parent",
            pupils(&[("Петров Алексей", None)]),
        ),
    );
    assert_eq!(v.mismatch, Some("no-common-child"));
    assert_eq!(v.esia_name.as_deref(), Some("ИВАНОВА МАРИЯ ИВАНОВНА"));
    assert_eq!(v.diary_name.as_deref(), Some("ИВАНОВА МАРИЯ ИВАНОВНА"));
    assert_eq!(v.esia_children, ["ИВАНОВ ДМИТРИЙ АЛЕКСЕЕВИЧ"]);
    assert_eq!(v.diary_pupils, ["ПЕТРОВ АЛЕКСЕЙ"]);
    let v = compare_person(
        Some(&esia("Петров Сергей Николаевич", None, kids(&[]))),
        &diary(Some(MARIA), None, "parent", pupils(&[])),
    );
    assert_eq!(v.mismatch, Some("name-mismatch"));
    assert_eq!(v.name, Some(NameVerdict::Mismatch));
    assert_eq!(v.esia_name.as_deref(), Some("ПЕТРОВ СЕРГЕЙ НИКОЛАЕВИЧ"));
    assert_eq!(v.diary_name.as_deref(), Some("ИВАНОВА МАРИЯ ИВАНОВНА"));
    assert!(v.esia_children.is_empty() && v.diary_pupils.is_empty());
}
