//! Query patterns, `query_any`, PHP mode and `deny_reason` texts as the config writes
//! them: what validates, what it decides, and every mistake with its key path.

use super::*;
use crate::policy::calendar::{LegacyLogin, Phase};
use crate::policy::decision::{Decision, Reason, SessionView, decide};

const AFTER: Phase = Phase::Cutover(LegacyLogin::Restricted);
const LEGACY: SessionView = SessionView::Legacy { role: None };

/// A `Modules.php?modname=` style PHP school system (issue 14).
const PHP_SCHOOL: &str = r#"
[calendar]
esia_only_from = 2019-01-01
legacy_login = "restricted"
[canonical]
case_insensitive = true
php = true
[[route_group]]
name = "grades"
match = [
    { path = "/Modules.php", query_any = { modname = { prefix = "Grades/" }, include = { glob = "Grades/*.php" } } },
    { path = "/Modules.php", query = { modname = "Users/Transcript.php" } },
]
before_transition = "any"
transition = "any"
after_cutover = "esia_linked"
[[route_group]]
name = "modules-post"
methods = ["POST"]
priority = -1
match = [{ path = "/Modules.php" }]
before_transition = "any"
transition = "any"
after_cutover = "esia_linked"
deny_reason = { ru = "Изменения в дневнике — только после входа через Госуслуги.", en = "Changes need a Gosuslugi sign-in." }
"#;

fn policy(text: &str) -> Policy {
    validate(&toml::from_str(text).unwrap()).unwrap_or_else(|e| panic!("{e:?}"))
}

fn errors(text: &str) -> Vec<PolicyConfigError> {
    validate(&toml::from_str(text).unwrap()).unwrap_err()
}

fn has(errs: &[PolicyConfigError], key: &str, needle: &str) -> bool {
    errs.iter()
        .any(|e| e.key_path == key && format!("{e}").contains(needle))
}

#[test]
fn a_php_school_system_closes_every_spelling_of_its_grade_pages() {
    let p = policy(PHP_SCHOOL);
    // (method, target, group the request belongs to)
    let table = [
        (
            "GET",
            "/Modules.php?modname=Grades/StudentGrades.php",
            Some("grades"),
        ),
        (
            "GET",
            "/Modules.php?modname=Grades/FinalGrades.php",
            Some("grades"),
        ),
        (
            "GET",
            "/Modules.php?modname=Grades//ReportCards.php",
            Some("grades"),
        ),
        ("GET", "/Modules.php?modname=./Grades/X.php", Some("grades")),
        (
            "GET",
            "/Modules.php?modname=Users/../Grades/X.php",
            Some("grades"),
        ),
        ("GET", "/Modules.php?modname=Grades%5CX.php", Some("grades")),
        ("GET", "/modules.PHP?modname=grades/x.php", Some("grades")),
        (
            "GET",
            "/Modules.php/x.css?modname=Grades/X.php",
            Some("grades"),
        ),
        (
            "GET",
            "/Modules.php/.anything?modname=Grades/X.php",
            Some("grades"),
        ),
        (
            "GET",
            "/Modules.php?modname=../Grades/X.php",
            Some("grades"),
        ),
        (
            "GET",
            "/Modules.php?modname=Users/TeacherPrograms.php&include=Grades/Grades.php",
            Some("grades"),
        ),
        (
            "GET",
            "/Modules.php?modname=Users/Transcript.php",
            Some("grades"),
        ),
        (
            "GET",
            "/Modules.php?modname=users//transcript.php",
            Some("grades"),
        ),
        (
            "POST",
            "/Modules.php?modname=Users/Profile.php",
            Some("modules-post"),
        ),
        ("GET", "/Modules.php?modname=Users/Profile.php", None),
        ("GET", "/Modules.php?modname=GradesBook/X.php", None),
        (
            "GET",
            "/Modules.php?modname=Users/TeacherPrograms.php&include=Users/X.php",
            None,
        ),
        ("GET", "/Other.php/Modules.php?modname=Grades/X.php", None),
    ];
    for (method, target, group) in table {
        let req = p.canonicalize(method, target).unwrap();
        let v = decide(&p, &req, &LEGACY, AFTER);
        assert_eq!(v.group, group, "{method} {target}");
        let want_allow = group.is_none();
        assert_eq!(
            v.decision == Decision::Allow,
            want_allow,
            "{method} {target}"
        );
    }
}

#[test]
fn a_groups_own_text_replaces_the_generic_reason() {
    let p = policy(PHP_SCHOOL);
    let req = p
        .canonicalize("POST", "/Modules.php?modname=Users/Profile.php")
        .unwrap();
    let Decision::Deny(Reason::Custom(t)) = decide(&p, &req, &LEGACY, AFTER).decision else {
        panic!("not a custom refusal");
    };
    assert_eq!(t.code, "group-modules-post");
    assert!(t.ru.starts_with("Изменения"), "{t:?}");
    assert_eq!(t.en, "Changes need a Gosuslugi sign-in.");
    assert_eq!(Reason::Custom(t).as_str(), "group-modules-post");
    // Loading the same file again shares the text.
    let again = policy(PHP_SCHOOL);
    let again = again
        .groups
        .iter()
        .find(|g| g.name == "modules-post")
        .unwrap();
    assert!(matches!(again.deny_reason, Some(Reason::Custom(t2)) if std::ptr::eq(t, t2)));
}

#[test]
fn deny_reason_forms() {
    let group = |reason: &str| {
        format!(
            "[calendar]\nesia_only_from = 2019-01-01\nlegacy_login = \"restricted\"\n\
             [[route_group]]\nname = \"g\"\nmatch = [{{ path = \"/x\" }}]\n\
             before_transition = \"any\"\ntransition = \"any\"\nafter_cutover = \"esia\"\n\
             deny_reason = {reason}\n"
        )
    };
    let reason = |text: &str| policy(&group(text)).groups[0].deny_reason;
    assert_eq!(
        reason("\"registration-closed\""),
        Some(Reason::RegistrationClosed)
    );
    match reason("\"Раздел закрыт до конца четверти.\"") {
        Some(Reason::Custom(t)) => {
            assert_eq!(t.ru, "Раздел закрыт до конца четверти.");
            assert_eq!(t.en, t.ru);
        }
        other => panic!("{other:?}"),
    }
    for (text, key, needle) in [
        (
            "\"registration-closd\"",
            "route_group[0].deny_reason",
            "unknown reason",
        ),
        ("\"  \"", "route_group[0].deny_reason", "unknown reason"),
        (
            "{ en = \"Closed\" }",
            "route_group[0].deny_reason.ru",
            "missing",
        ),
        (
            "{ ru = \"Закрыто\", de = \"Zu\" }",
            "route_group[0].deny_reason.de",
            "unknown language",
        ),
        ("{ ru = 5 }", "route_group[0].deny_reason.ru", "not a text"),
    ] {
        let errs = errors(&group(text));
        assert!(has(&errs, key, needle), "{text}: {errs:?}");
    }
    assert!(toml::from_str::<PolicyFile>(&group("5")).is_err());
}

#[test]
fn query_pattern_mistakes_name_their_key() {
    let matcher = |m: &str| {
        format!(
            "[calendar]\nesia_only_from = 2019-01-01\nlegacy_login = \"restricted\"\n\
             [[route_group]]\nname = \"g\"\nmatch = [{m}]\n\
             before_transition = \"any\"\ntransition = \"any\"\nafter_cutover = \"esia\"\n"
        )
    };
    let at = "route_group[0].match[0]";
    for (m, key, needle) in [
        (
            "{ path = \"/Modules.php\", query = { modname = \"Grades/*\" } }",
            "query.modname",
            "write { glob = \"Grades/*\" }",
        ),
        (
            "{ path = \"/m.php\", query = { modname = { prefix = \"a\", glob = \"b\" } } }",
            "query.modname",
            "exactly one of prefix, glob",
        ),
        (
            "{ path = \"/m.php\", query = { modname = { prefx = \"a\" } } }",
            "query.modname",
            "exactly one",
        ),
        (
            "{ path = \"/m.php\", query = { modname = { prefix = \"\" } } }",
            "query.modname",
            "exactly one",
        ),
        (
            "{ path = \"/m.php\", query = { modname = { prefix = 5 } } }",
            "query.modname",
            "exactly one",
        ),
        (
            "{ path = \"/m.php\", query = { modname = { prefix = \"../x\" } } }",
            "query.modname",
            "climbs above",
        ),
        (
            "{ path = \"/m.php\", query = { modname = { glob = \"a**/b\" } } }",
            "query.modname",
            "whole segment",
        ),
        (
            "{ path = \"/m.php\", query = { modname = { prefix = \"a/*\" } } }",
            "query.modname",
            "contains *",
        ),
        (
            "{ path = \"/m.php\", query_any = { \"a[]\" = \"x\" } }",
            "query_any",
            "plain parameter",
        ),
        (
            "{ path = \"/m.php\", query_any = {} }",
            "query_any",
            "empty",
        ),
        (
            "{ path = \"/Modules.php/x\" }",
            "path",
            "after a .php script",
        ),
        ("{ prefix = \"/a.php/b\" }", "prefix", "after a .php script"),
        ("{ glob = \"/a.php/*\" }", "glob", "after a .php script"),
    ] {
        let errs = errors(&matcher(m));
        assert!(has(&errs, &format!("{at}.{key}"), needle), "{m}: {errs:?}");
    }
    // `**` after a script (PATH_INFO of any depth) stays valid, and PHP mode off lets
    // a path after `.php` be named.
    policy(&matcher("{ glob = \"/index.php/**\" }"));
    policy(&format!(
        "{}[canonical]\nphp = false\n",
        matcher("{ path = \"/Modules.php/x\" }")
    ));
    let bad = toml::from_str::<PolicyFile>(&matcher("{ path = \"/m\", query = { m = 5 } }"));
    assert!(bad.is_err());
}

#[test]
fn overlaps_are_judged_on_value_patterns() {
    let two = |a: &str, b: &str| {
        format!(
            "[calendar]\nesia_only_from = 2019-01-01\nlegacy_login = \"restricted\"\n\
             [[route_group]]\nname = \"a\"\nmatch = [{{ path = \"/m.php\", query = {{ modname = {a} }} }}]\n\
             before_transition = \"any\"\ntransition = \"any\"\nafter_cutover = \"esia\"\n\
             [[route_group]]\nname = \"b\"\nmatch = [{{ path = \"/m.php\", query = {{ modname = {b} }} }}]\n\
             before_transition = \"any\"\ntransition = \"any\"\nafter_cutover = \"any\"\n"
        )
    };
    for (a, b, overlap) in [
        ("{ prefix = \"Grades/\" }", "{ prefix = \"Users/\" }", false),
        ("{ prefix = \"Grades/\" }", "\"Users/X.php\"", false),
        ("{ prefix = \"Grades/\" }", "\"Grades/X.php\"", true),
        ("{ prefix = \"Grades/\" }", "{ glob = \"*/X.php\" }", true),
        ("\"marks\"", "\"stats\"", false),
    ] {
        let text = two(a, b);
        let result = validate(&toml::from_str(&text).unwrap());
        assert_eq!(result.is_err(), overlap, "{a} vs {b}: {result:?}");
    }
}
