//! Validation of the policy sections: the shipped example, both seed calendars, and
//! every error collected at once with its key path.

use super::*;
use crate::policy::calendar::Phase;
use crate::policy::{EXAMPLE_TOML, default_policy};

fn parse(toml_text: &str) -> PolicyFile {
    toml::from_str(toml_text).unwrap()
}

fn errors(toml_text: &str) -> Vec<PolicyConfigError> {
    validate(&parse(toml_text)).unwrap_err()
}

fn has(errs: &[PolicyConfigError], key: &str, needle: &str) -> bool {
    errs.iter()
        .any(|e| e.key_path == key && e.message.contains(needle))
}

const CAL: &str = "[calendar]\nesia_only_from = 2019-01-01\nlegacy_login = \"restricted\"\n";

#[test]
fn the_shipped_example_is_the_default_policy() {
    let p = validate(&parse(EXAMPLE_TOML)).unwrap();
    assert_eq!(p, default_policy());
    let names: Vec<&str> = p.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(
        names,
        ["public", "login", "grades", "stats", "registration"]
    );
    assert!(p.canon.case_insensitive);
}

#[test]
fn seed_000_calendar_is_expressible() {
    for extra in ["", "transition_from = 2016-01-01\n"] {
        let text = format!(
            "[calendar]\n{extra}esia_only_from = \"2016-01-01\"\nlegacy_login = \"disabled\"\n"
        );
        let p = validate(&parse(&text)).unwrap();
        let seed = crate::policy::Calendar::seed_000();
        assert_eq!(p.calendar.cutover_at(), seed.cutover_at());
        assert_eq!(p.calendar.legacy_login, seed.legacy_login);
        let at = chrono::DateTime::parse_from_rfc3339("2016-01-01T00:00:00+03:00")
            .unwrap()
            .to_utc();
        assert_eq!(
            p.calendar.phase_at(at),
            Phase::Cutover(crate::policy::LegacyLogin::Disabled)
        );
        assert!(p.groups.is_empty());
    }
}

#[test]
fn every_error_is_reported_at_once() {
    let errs = errors(
        r#"
[calendar]
time_zone = "Europe/Moskva"
transition_from = "2018-13-01"
legacy_login = "sometimes"

[canonical]
own_hosts = ["https://x.ru"]
max_segments = 0

[roles.min_level]
pupil = "confirmed"
parent = "gold"

[default_route]
after_cutover = "everyone"

[[route_group]]
name = "Grades!"
match = [{ path = "/marks", prefix = "/marks" }, { path = "marks" }, { path = "/m*" },
         { glob = "/a/**b" }, { path = "/x%2Fy" }, { path = "/index.php", query = { "module[]" = "marks" } }]
methods = ["G ET"]
before_transition = "any"
transition = "anyone"
deny_reason = "because"

[[route_group]]
name = "empty"
match = []
public = true
after_cutover = "any"
"#,
    );
    let expect = [
        ("calendar.time_zone", "unknown time zone"),
        ("calendar.transition_from", "not a date"),
        ("calendar.esia_only_from", "missing"),
        ("calendar.legacy_login", "unknown value"),
        ("canonical.own_hosts[0]", "not a host name"),
        ("canonical.max_segments", "out of range"),
        ("roles.min_level.pupil", "unknown role"),
        ("roles.min_level.parent", "unknown account level"),
        ("default_route.after_cutover", "unknown access"),
        ("route_group[0].name", "not a valid group name"),
        ("route_group[0].match[0]", "exactly one of"),
        ("route_group[0].match[1].path", "not a path"),
        ("route_group[0].match[2].path", "contains *"),
        ("route_group[0].match[3].glob", "whole segment"),
        ("route_group[0].match[4].path", "encoded-slash"),
        (
            "route_group[0].match[5].query",
            "not a plain parameter name",
        ),
        ("route_group[0].methods[0]", "not an HTTP method"),
        ("route_group[0].transition", "unknown access"),
        ("route_group[0].after_cutover", "missing"),
        ("route_group[0].deny_reason", "unknown reason"),
        ("route_group[1].match", "no matchers"),
        ("route_group[1]", "public group"),
    ];
    for (key, needle) in expect {
        assert!(
            has(&errs, key, needle),
            "missing {key}: {needle}\n{errs:#?}"
        );
    }
    assert!(errs.iter().all(|e| e.hint.is_some()), "{errs:#?}");
    assert_eq!(errs.len(), expect.len(), "{errs:#?}");
}

#[test]
fn calendar_order_and_presence() {
    let errs = errors(
        "[calendar]\ntransition_from = 2019-02-01\nesia_only_from = 2019-01-01\nlegacy_login = \"restricted\"\n",
    );
    assert!(
        has(&errs, "calendar.transition_from", "after esia_only_from"),
        "{errs:?}"
    );
    let errs = validate(&PolicyFile::default()).unwrap_err();
    assert!(has(&errs, "calendar", "missing"), "{errs:?}");
}

#[test]
fn overlapping_groups_need_distinct_priorities() {
    let groups = r#"
[[route_group]]
name = "grades"
match = [{ prefix = "/marks" }]
before_transition = "any"
transition = "any"
after_cutover = "esia_linked"

[[route_group]]
name = "marks-help"
match = [{ path = "/Marks/Help" }]
before_transition = "any"
transition = "any"
after_cutover = "any"
"#;
    let ci = "[canonical]\ncase_insensitive = true\n";
    let errs = errors(&format!("{CAL}{ci}{groups}"));
    let e = errs
        .iter()
        .find(|e| e.key_path == "route_group[1].match")
        .unwrap();
    assert!(
        e.message.contains("\"grades\"") && e.message.contains("\"marks-help\""),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("hint: give one of them a higher priority"),
        "{e}"
    );

    let with_priority = groups.replace(
        "name = \"marks-help\"",
        "name = \"marks-help\"\npriority = 200",
    );
    let p = validate(&parse(&format!("{CAL}{ci}{with_priority}"))).unwrap();
    assert_eq!(p.groups[0].name, "marks-help"); // highest priority first
    let req = p.canonicalize("GET", "/marks/help").unwrap();
    assert_eq!(
        p.match_group(&req).map(|(g, _, _)| g.name.as_str()),
        Some("marks-help")
    );
    let req = p.canonicalize("GET", "/marks").unwrap();
    assert_eq!(
        p.match_group(&req).map(|(g, _, _)| g.name.as_str()),
        Some("grades")
    );
}

#[test]
fn duplicate_names_and_unknown_keys() {
    let g = "[[route_group]]\nname = \"a\"\nmatch = [{ path = \"/a\" }]\npublic = true\n";
    let g2 = g.replace("/a\"", "/b\"");
    let errs = errors(&format!("{CAL}{g}{g2}"));
    assert!(has(&errs, "route_group[1].name", "also used"), "{errs:?}");
    for bad in [
        "[calendar]\nesia_only_from = 2019-01-01\nlegacy_login = \"restricted\"\nlegacy = 1\n",
        "[[route_group]]\nname = \"a\"\nmatch = [{ path = \"/a\", regex = \"x\" }]\n",
        "[canonical]\ncase_sensitive = true\n",
        "[routes]\n",
    ] {
        assert!(toml::from_str::<PolicyFile>(bad).is_err(), "{bad}");
    }
    assert!(toml::from_str::<PolicyFile>("[calendar]\nesia_only_from = 5\n").is_err());
}

#[test]
fn methods_are_normalised() {
    let text = format!(
        "{CAL}[[route_group]]\nname = \"send\"\nmatch = [{{ path = \"/messages\" }}]\nmethods = [\"post\", \"POST\"]\nbefore_transition = \"any\"\ntransition = \"any\"\nafter_cutover = \"session\"\n"
    );
    let p = validate(&parse(&text)).unwrap();
    assert_eq!(p.groups[0].methods, vec![http::Method::POST]);
}

#[test]
fn dates_read_the_same_through_toml_edit_and_path_to_error() {
    let via_edit: PolicyFile = toml_edit::de::from_str(EXAMPLE_TOML).unwrap();
    assert_eq!(validate(&via_edit).unwrap(), default_policy());
    let de = toml::Deserializer::new(EXAMPLE_TOML);
    let tracked: PolicyFile = serde_path_to_error::deserialize(de).unwrap();
    assert_eq!(validate(&tracked).unwrap(), default_policy());
    let bad = toml::Deserializer::new("[calendar]\nesia_only_from = true\n");
    let err = serde_path_to_error::deserialize::<_, PolicyFile>(bad).unwrap_err();
    assert_eq!(err.path().to_string(), "calendar.esia_only_from");
}

#[test]
fn samples_must_land_in_their_own_group() {
    let text = format!(
        "{CAL}\
         [[route_group]]\nname = \"grades\"\nmatch = [{{ path = \"/index.php\", query = {{ module = \"marks\" }} }}]\n\
         transition = \"any\"\nbefore_transition = \"any\"\nafter_cutover = \"esia_linked\"\n\
         samples = [\"/index.php?module=marks\", \"/print.php?module=marks\", \"/stats\", \"/a#b\"]\n\
         [[route_group]]\nname = \"stats\"\nmatch = [{{ prefix = \"/stats\" }}]\n\
         transition = \"any\"\nbefore_transition = \"any\"\nafter_cutover = \"esia_linked\"\n"
    );
    let errs = errors(&text);
    assert!(
        !errs
            .iter()
            .any(|e| e.key_path == "route_group[0].samples[0]"),
        "{errs:?}"
    );
    assert!(
        has(
            &errs,
            "route_group[0].samples[1]",
            "matched by no route group"
        ),
        "{errs:?}"
    );
    assert!(
        has(
            &errs,
            "route_group[0].samples[2]",
            "matched by group \"stats\""
        ),
        "{errs:?}"
    );
    assert!(
        has(&errs, "route_group[0].samples[3]", "not a request target"),
        "{errs:?}"
    );
    assert_eq!(errs.len(), 3, "{errs:?}");
}
