//! Tables for query conditions: path-valued parameters in the spellings a file lookup
//! accepts, the values that cannot be judged (fail closed), and disjointness.

use super::*;

fn q(raw: &str) -> PhpQuery {
    PhpQuery::parse(raw, 256).unwrap()
}

fn cfg(case_insensitive: bool, value_case_insensitive: bool) -> CanonConfig {
    CanonConfig {
        case_insensitive,
        value_case_insensitive,
        ..CanonConfig::default()
    }
}

fn prefix(p: &str) -> QueryCondition {
    QueryCondition::new("modname", ValuePattern::Prefix(p.into())).unwrap()
}

fn glob(g: &str) -> QueryCondition {
    QueryCondition::new("modname", ValuePattern::Glob(g.into())).unwrap()
}

/// `None` = not met, `Some(false)` = met, `Some(true)` = met through ambiguity.
const NO: Option<bool> = None;
const MET: Option<bool> = Some(false);
const AMB: Option<bool> = Some(true);

#[test]
fn path_patterns_on_the_spellings_a_file_lookup_accepts() {
    let iis = cfg(true, true);
    let table: Vec<(QueryCondition, &str, Option<bool>)> = vec![
        (prefix("Grades/"), "modname=Grades/StudentGrades.php", MET),
        (prefix("Grades/"), "modname=Grades", MET),
        (prefix("Grades/"), "modname=Grades//X.php", MET),
        (prefix("Grades/"), "modname=./Grades/X.php", MET),
        (prefix("Grades/"), "modname=/Grades/X.php", MET),
        (prefix("Grades/"), "modname=Grades/../Grades/X.php", MET),
        (prefix("Grades/"), "modname=Users/../Grades/X.php", MET),
        (prefix("Grades/"), "modname=Grades%5CX.php", MET),
        (prefix("Grades/"), "modname=GRADES/X.php", MET),
        (prefix("Grades/"), "modname=%20Grades/X.php%20", MET),
        (prefix("Grades/"), "modname=Grades/./x/../X.php", MET),
        (prefix("Grades/"), "modname=GradesBook/X.php", NO),
        (prefix("Grades/"), "modname=Users/Grades/X.php", NO),
        (prefix("Grades/"), "modname=Grades/../Users/X.php", NO),
        (prefix("Grades/"), "other=Grades/X.php", NO),
        (prefix("Grades/"), "", NO),
        // Above the root: cannot be judged.
        (prefix("Grades/"), "modname=../Grades/X.php", AMB),
        (prefix("Grades/"), "modname=Users/../../x", AMB),
        // Windows spellings of another name.
        (prefix("Grades/"), "modname=Grades./X.php", AMB),
        (prefix("Grades/"), "modname=GRADES~1/X.php", AMB),
        (prefix("Grades/"), "modname=Grades/X.php::$DATA", AMB),
        // Sent twice, as an array, in another spelling: as before.
        (
            prefix("Grades/"),
            "modname=Users/X.php&modname=Grades/X.php",
            AMB,
        ),
        (prefix("Grades/"), "modname[]=Grades/X.php", AMB),
        (
            glob("Grades/*.php"),
            "modname=Grades/StudentGrades.php",
            MET,
        ),
        (glob("Grades/*.php"), "modname=grades//reportcards.PHP", MET),
        (glob("Grades/*.php"), "modname=Grades/Sub/X.php", NO),
        (glob("Grades/*.php"), "modname=Grades/X.inc", NO),
        (
            glob("**/Grades*.php"),
            "modname=Users/TeacherGrades.php",
            NO,
        ),
        (glob("**/Grades*.php"), "modname=a/b/GradesX.php", MET),
        (
            QueryCondition::exact("modname", "Grades/StudentGrades.php"),
            "modname=Grades//StudentGrades.php",
            MET,
        ),
        (
            QueryCondition::exact("modname", "Grades/StudentGrades.php"),
            "modname=Grades/StudentGrades.php/x",
            NO,
        ),
        (
            QueryCondition::exact("module", "marks"),
            "module=MARKS",
            MET,
        ),
        (
            QueryCondition::exact("module", "marks"),
            "module=marks2",
            NO,
        ),
    ];
    for (c, raw, want) in table {
        assert_eq!(c.test(&q(raw), &iis), want, "{c} on {raw:?}");
    }
}

#[test]
fn case_is_kept_when_the_diary_compares_it() {
    let strict = cfg(false, false);
    assert_eq!(
        prefix("Grades/").test(&q("modname=Grades/X.php"), &strict),
        MET
    );
    assert_eq!(
        prefix("Grades/").test(&q("modname=grades/X.php"), &strict),
        NO
    );
    // Windows spellings are ordinary names on a case-sensitive (Linux) diary.
    assert_eq!(
        prefix("Grades/").test(&q("modname=Grades./X.php"), &strict),
        NO
    );
    // Either case flag folds path values: a false match only protects more.
    let values_only = cfg(false, true);
    assert_eq!(
        prefix("Grades/").test(&q("modname=grades/X.php"), &values_only),
        MET
    );
}

#[test]
fn unusable_patterns_are_refused() {
    for (p, want) in [
        (
            ValuePattern::Prefix("../Grades".into()),
            "climbs above its root",
        ),
        (
            ValuePattern::Glob("Gr**/x".into()),
            "** must be a whole segment",
        ),
        (ValuePattern::Prefix("Grades/*".into()), "contains *"),
        (
            ValuePattern::Exact("../x/y".into()),
            "climbs above its root",
        ),
    ] {
        let err = QueryCondition::new("modname", p.clone()).unwrap_err();
        assert!(err.contains(want), "{p}: {err}");
    }
    // The infallible form falls back to comparing the text.
    let c = QueryCondition::exact("modname", "../x/y");
    assert_eq!(c.test(&q("modname=../x/y"), &cfg(false, false)), MET);
}

#[test]
fn normalized_values() {
    use PathValue::{Ambiguous, Segments};
    let segs = |v: &[&str]| Segments(v.iter().map(|s| s.to_string()).collect());
    for (value, windows, want) in [
        ("Grades/X.php", false, segs(&["Grades", "X.php"])),
        ("\\Grades\\\\X.php", false, segs(&["Grades", "X.php"])),
        ("a/./b/../c", false, segs(&["a", "c"])),
        ("", false, segs(&[])),
        ("..", false, Ambiguous),
        ("a/../../b", false, Ambiguous),
        ("X.php ", true, Ambiguous),
        ("X.php ", false, segs(&["X.php "])),
        ("PROGRA~1", true, Ambiguous),
        ("x:y", true, Ambiguous),
    ] {
        assert_eq!(normalize_value(value, windows), want, "{value:?}");
    }
}

#[test]
fn disjoint_conditions() {
    let e = |v: &str| QueryCondition::exact("modname", v);
    let table = [
        (e("marks"), e("stats"), true),
        (e("marks"), e("MARKS"), false),
        (prefix("Grades/"), prefix("Users/"), true),
        (prefix("Grades/"), prefix("grades/Sub"), false),
        (prefix("Grades/"), glob("*/X.php"), false),
        (glob("Grades/*.php"), glob("Grades/*.inc"), false), // two wildcards: assumed
        (e("Grades/X.php"), prefix("Users/"), true),
        (e("Grades/X.php"), prefix("Grades"), false),
        (e("x"), prefix("Grades/"), true),
        (QueryCondition::exact("other", "marks"), e("stats"), false),
    ];
    for (a, b, want) in table {
        assert_eq!(a.disjoint(&b, true), want, "{a} vs {b}");
        assert_eq!(b.disjoint(&a, true), want, "{b} vs {a}");
    }
}
