//! Properties of the policy core, each named after the flaw it defends against.
//!
//! - `canonicalize_never_panics`: a hostile target must get a 400, never a crash.
//! - `forward_target_is_a_fixed_point`: what the gateway forwards reads back as exactly
//!   what it matched (idempotence), so the diary cannot see another page.
//! - `forward_target_leaves_the_diary_nothing_to_reinterpret`: the diary's leniencies
//!   (decode `%2F`, `\` as `/`, `;params`, dot segments, case) change nothing in it.
//! - `grade_spellings_never_reach_a_legacy_session`: whenever a lenient diary (the model
//!   below: decode once with `%2F`/`\` as `/`, ignore case, resolve dots clamping at the
//!   root, drop `;params`, PHP query rules) would serve the grade page, the gateway's
//!   decision for a legacy session after the cutover is a 400 or not Allow.
//! - `path_valued_grade_pages_never_reach_a_legacy_session`: a `Modules.php?modname=`
//!   diary opens the file its value names; every spelling of a grade file (`//`, `./`,
//!   `x/../`, `\`, case, climbing above the root) is refused, never Allowed.
//! - `path_info_never_changes_the_decision`: in PHP mode `/Modules.php/<anything>` runs
//!   Modules.php, so it is decided exactly as `/Modules.php`.

use esia_gateway::policy::{
    Decision, LegacyLogin, Phase, Role, SessionView, canonicalize, decide, default_policy,
};
use std::sync::LazyLock;

use esia_gateway::policy::Policy;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

static POLICY: LazyLock<Policy> = LazyLock::new(default_policy);

const AFTER: Phase = Phase::Cutover(LegacyLogin::Restricted);
const LEGACY: SessionView = SessionView::Legacy {
    role: Some(Role::Student),
};

/// Lenient single percent-decoding: a bad escape is kept as is (like old PHP/IIS).
fn lenient_decode(s: &str, plus_is_space: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let hex = |k: usize| b.get(k).and_then(|c| (*c as char).to_digit(16));
        match (b[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b'+', _, _) if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The lenient diary's path: what page it would serve.
fn diary_path(raw: &str) -> String {
    let s = lenient_decode(raw, false).replace('\\', "/").to_lowercase();
    let mut out: Vec<&str> = Vec::new();
    for seg in s.split('/') {
        match seg.split(';').next().unwrap_or("") {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            seg => out.push(seg),
        }
    }
    format!("/{}", out.join("/"))
}

/// PHP's `$_GET['module']`, when it is a scalar.
fn diary_module(query: &str) -> Option<String> {
    let mut module = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
        let name = lenient_decode(n, true);
        let name = name.trim_start_matches(' ').replace([' ', '.'], "_");
        if name == "module" {
            module = Some(lenient_decode(v, true));
        } else if name.starts_with("module[") {
            module = None; // an array: a scalar read sees nothing
        }
    }
    module
}

fn diary_serves_grades(target: &str) -> bool {
    let target = target.split('#').next().unwrap_or("");
    let (p, q) = target.split_once('?').unwrap_or((target, ""));
    let path = diary_path(p);
    let routed = matches!(path.as_str(), "/index.php" | "/")
        && diary_module(q).is_some_and(|m| m.eq_ignore_ascii_case("marks"));
    path == "/marks" || path.starts_with("/marks/") || routed
}

/// Targets built from the pieces attackers use on the grade routes.
fn hostile_target() -> impl Strategy<Value = String> {
    let letter = |c: char| {
        prop_oneof![
            Just(c.to_string()),
            Just(c.to_ascii_uppercase().to_string()),
            Just(format!("%{:02x}", c as u32)),
            Just(format!("%{:02X}", c as u32)),
            Just(format!("%25{:02X}", c as u32)),
        ]
    };
    let word = |w: &'static str| {
        w.chars()
            .map(letter)
            .collect::<Vec<_>>()
            .prop_map(|parts| parts.concat())
    };
    let junk = prop_oneof![
        Just("/"),
        Just("//"),
        Just("/./"),
        Just("/x/../"),
        Just("/x/%2e%2e/"),
        Just("/%2E/"),
        Just(";p=1/"),
        Just("%2F"),
        Just("%5C"),
        Just("\\"),
        Just("/../"),
        Just("."),
        Just("%00"),
        Just("%20"),
        Just("%C0%AF"),
        Just("#"),
        Just("%3F"),
        Just("%23"),
        Just("%3Fmodule=marks"),
    ];
    let junks = prop::collection::vec(junk, 0..3).prop_map(|v| v.concat());
    let query = prop_oneof![
        Just(""),
        Just("?module=marks"),
        Just("?mod%75le=MARKS"),
        Just("?module[]=marks"),
        Just("?module=x&module=marks"),
        Just("?module=marks&module=x"),
        Just("?module.=marks"),
        Just("?%20module=marks"),
        Just("?+module=marks"),
        Just("?module=ma%72ks"),
        Just("?a=1;module=marks"),
        Just("?MODULE=marks"),
        Just("?module=%252F"),
    ];
    let page = prop_oneof![word("marks"), word("index.php"), Just(String::new())];
    (junks.clone(), page, junks, query).prop_map(|(a, p, b, q)| format!("/{a}{p}{b}{q}"))
}

/// Percent-encoded arbitrary bytes mixed with the characters that matter in targets.
fn encoded_target() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        any::<u8>().prop_map(|b| format!("%{b:02X}")),
        "[a-zA-Z0-9/.;?&=+%\\[\\] -]",
    ];
    prop::collection::vec(piece, 0..24).prop_map(|v| format!("/{}", v.concat()))
}

/// The hostile generator must actually reach both sides of the boundary, or the
/// property below would hold vacuously.
#[test]
fn hostile_generator_reaches_accepted_grade_spellings() {
    let mut runner = TestRunner::deterministic();
    let strategy = hostile_target();
    let (mut accepted_grades, mut rejected) = (0, 0);
    for _ in 0..1000 {
        let t = strategy.new_tree(&mut runner).unwrap().current();
        match POLICY.canonicalize("GET", &t) {
            Ok(_) if diary_serves_grades(&t) => accepted_grades += 1,
            Err(_) => rejected += 1,
            Ok(_) => {}
        }
    }
    assert!(
        accepted_grades > 50,
        "{accepted_grades} accepted grade spellings"
    );
    assert!(rejected > 50, "{rejected} rejected");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn canonicalize_never_panics(method in "\\PC{0,8}", target in "\\PC{0,64}") {
        let p = &*POLICY;
        let _ = canonicalize(&method, &target, &p.canon);
    }

    #[test]
    fn canonicalize_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..96)) {
        let p = &*POLICY;
        let target = String::from_utf8_lossy(&bytes);
        let _ = canonicalize("GET", &target, &p.canon);
    }

    #[test]
    fn forward_target_is_a_fixed_point(target in hostile_target(), method in "[a-zA-Z]{1,7}") {
        let p = &*POLICY;
        if let Ok(c) = canonicalize(&method, &target, &p.canon) {
            let again = canonicalize(c.method.as_str(), &c.forward_target, &p.canon);
            prop_assert_eq!(again, Ok(c));
        }
    }

    #[test]
    fn forward_target_is_a_fixed_point_for_any_text(target in "/\\PC{0,48}") {
        let p = &*POLICY;
        if let Ok(c) = canonicalize("GET", &target, &p.canon) {
            let again = canonicalize("GET", &c.forward_target, &p.canon);
            prop_assert_eq!(again, Ok(c));
        }
    }

    #[test]
    fn forward_target_is_a_fixed_point_for_encoded_bytes(target in encoded_target()) {
        let p = &*POLICY;
        if let Ok(c) = canonicalize("GET", &target, &p.canon) {
            let again = canonicalize("GET", &c.forward_target, &p.canon);
            prop_assert_eq!(again, Ok(c));
        }
    }

    #[test]
    fn forward_target_leaves_the_diary_nothing_to_reinterpret(target in hostile_target()) {
        let p = &*POLICY;
        if let Ok(c) = canonicalize("GET", &target, &p.canon) {
            let f = &c.forward_target;
            prop_assert!(f.bytes().all(|b| (0x21..0x7f).contains(&b)), "{}", f);
            prop_assert!(!f.contains(['\\', ';', '#']), "{}", f);
            let lower = f.to_ascii_lowercase();
            prop_assert!(!lower.contains("%2f") && !lower.contains("%5c"), "{}", f);
            let (path, _) = f.split_once('?').unwrap_or((f, ""));
            prop_assert_eq!(diary_path(path), c.path.clone());
            prop_assert!(!path.contains("//") && !path.contains("/./") && !path.contains("/../"));
        }
    }

    #[test]
    fn grade_spellings_never_reach_a_legacy_session(target in hostile_target(), method in "(GET|get|HEAD|POST|PROPFIND|OPTIONS|Foo)") {
        let p = &*POLICY;
        // Two lenient diaries: one splits the target before decoding, one decodes first.
        let grades = diary_serves_grades(&target)
            || diary_serves_grades(&lenient_decode(&target, false));
        match p.canonicalize(&method, &target) {
            Err(_) => {} // 400: the diary never sees it
            Ok(c) => {
                let d = decide(p, &c, &LEGACY, AFTER).decision;
                if grades || diary_serves_grades(&c.forward_target) {
                    prop_assert_ne!(d, Decision::Allow, "{} {} → {:?}", method, target, c);
                }
            }
        }
    }
}

/// A `Modules.php?modname=` school system (issue 14), PHP mode on.
static PHP_SCHOOL: LazyLock<Policy> = LazyLock::new(|| {
    let text = r#"
[calendar]
esia_only_from = 2019-01-01
legacy_login = "restricted"
[canonical]
case_insensitive = true
php = true
[[route_group]]
name = "public"
public = true
match = [{ glob = "/**/*.css" }, { prefix = "/assets" }]
[[route_group]]
name = "grades"
match = [{ path = "/Modules.php", query_any = { modname = { prefix = "Grades/" }, include = { prefix = "Grades/" } } }]
before_transition = "any"
transition = "any"
after_cutover = "esia_linked"
"#;
    let file: esia_gateway::policy::config::PolicyFile = toml::from_str(text).unwrap();
    esia_gateway::policy::config::validate(&file).unwrap()
});

/// `Grades/<page>` spelled the ways a file lookup still reads as the grade file.
fn grade_value() -> impl Strategy<Value = String> {
    let lead = prop_oneof![
        Just(""),
        Just("/"),
        Just("./"),
        Just("x/../"),
        Just("Users/../"),
        Just("../"),
        Just("%2E/"),
        Just("%5C"),
    ];
    let sep = prop_oneof![
        Just("/"),
        Just("//"),
        Just("/./"),
        Just("\\"),
        Just("%5C"),
        Just("%2F"),
        Just("/x/../"),
        Just("/%2e%2e/Grades/"),
    ];
    let grades = prop_oneof![
        Just("Grades"),
        Just("grades"),
        Just("GRADES"),
        Just("Gr%61des")
    ];
    let page = prop_oneof![
        Just("StudentGrades.php"),
        Just("FinalGrades.php"),
        Just("reportcards.PHP"),
        Just("X.php%20"),
    ];
    (lead, grades, sep, page).prop_map(|(l, g, s, p)| format!("{l}{g}{s}{p}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn path_valued_grade_pages_never_reach_a_legacy_session(
        value in grade_value(),
        name in prop_oneof![Just("modname"), Just("include")],
        info in prop_oneof![Just(""), Just("/x.css"), Just("/.anything"), Just("/a/b.css")],
    ) {
        let p = &*PHP_SCHOOL;
        let target = format!("/Modules.php{info}?modname=Users/X.php&{name}={value}");
        if let Ok(c) = p.canonicalize("GET", &target) {
            let v = decide(p, &c, &LEGACY, AFTER);
            prop_assert_ne!(v.decision, Decision::Allow, "{} → {:?}", target, v);
            prop_assert_eq!(v.group, Some("grades"), "{}", target);
        }
    }

    #[test]
    fn path_info_never_changes_the_decision(
        info in "(/[a-zA-Z0-9._~-]{1,8}){1,3}",
        query in prop_oneof![Just("modname=Grades/X.php"), Just("modname=Users/X.php"), Just("")],
    ) {
        let p = &*PHP_SCHOOL;
        let plain = p.canonicalize("GET", &format!("/Modules.php?{query}")).unwrap();
        if let Ok(c) = p.canonicalize("GET", &format!("/Modules.php{info}?{query}")) {
            // `/Modules.php/..` is another page, not PATH_INFO.
            prop_assume!(c.path.starts_with("/modules.php/"));
            let a = decide(p, &plain, &LEGACY, AFTER);
            let b = decide(p, &c, &LEGACY, AFTER);
            prop_assert_eq!(a.decision, b.decision, "{}", info);
            prop_assert_eq!(a.group, b.group, "{}", info);
        }
    }
}

/// The grade-value generator must produce targets the gateway accepts (and judges),
/// or the property above would hold vacuously.
#[test]
fn grade_value_generator_reaches_the_decision() {
    let mut runner = TestRunner::deterministic();
    let strategy = grade_value();
    let accepted = (0..300)
        .filter(|_| {
            let v = strategy.new_tree(&mut runner).unwrap().current();
            PHP_SCHOOL
                .canonicalize("GET", &format!("/Modules.php?modname={v}"))
                .is_ok()
        })
        .count();
    assert!(accepted > 200, "{accepted} of 300 accepted");
}
