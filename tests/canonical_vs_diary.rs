//! Fuzzing the security boundary against the REAL diary router (issue 6): proptest
//! generates hostile request targets — mutations of the grade routes (case, percent
//! encodings, dot segments, extra slashes, `;params`, `index.php` PATH_INFO, PHP query
//! spellings, duplicates, methods) — and checks, with the demo diary's own
//! `demo_diary::resolve` as the judge:
//!
//! - `diary_grade_pages_are_never_allowed`: whenever the diary would serve the grade
//!   page for the raw target, the gateway (seed 004 policy, legacy session, after the
//!   cutover) rejects it or does not allow it. Flaw defended: a spelling the gateway
//!   reads as another page than the diary does.
//! - `what_is_forwarded_is_what_was_decided`: whenever the gateway allows a request, the
//!   target it FORWARDS does not resolve to the grade page either. Flaw defended: a
//!   canonical form the diary re-interprets.

use esia_gateway::cutover::CutoverConfig;
use esia_gateway::policy::{Decision, LegacyLogin, Phase, Policy, Role, SessionView, decide};
use esia_gateway::standins::demo_diary::resolve;
use proptest::prelude::*;
use std::sync::LazyLock;

static POLICY: LazyLock<Policy> = LazyLock::new(|| CutoverConfig::seed_004().policy);
const AFTER: Phase = Phase::Cutover(LegacyLogin::Restricted);
const LEGACY: SessionView = SessionView::Legacy {
    role: Some(Role::Student),
};

/// Random case for each letter.
fn cased(word: &'static str) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<bool>(), word.len()).prop_map(move |flips| {
        word.chars()
            .zip(flips)
            .map(|(c, up)| if up { c.to_ascii_uppercase() } else { c })
            .collect()
    })
}

/// Each character kept, or percent-encoded with upper or lower hex.
fn encoded(text: String) -> impl Strategy<Value = String> {
    let n = text.len();
    prop::collection::vec(0u8..4, n).prop_map(move |how| {
        text.bytes()
            .zip(how)
            .map(|(b, h)| match h {
                0 => format!("%{b:02X}"),
                1 => format!("%{b:02x}"),
                _ => (b as char).to_string(),
            })
            .collect()
    })
}

/// A path segment that leads nowhere by itself, or resolves away.
fn junk_segment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()), // `//`
        Just(".".to_string()),
        Just("x/..".to_string()),
        Just("%2e".to_string()),
        Just("x/%2e%2e".to_string()),
        Just(";a=1".to_string()),
        Just("..".to_string()),
        Just("%2F".to_string()),
        Just("\\".to_string()),
        Just("%5C".to_string()),
        Just("homework".to_string()),
    ]
}

fn grade_word() -> impl Strategy<Value = String> {
    prop_oneof![cased("marks"), cased("stats"), cased("homework")].prop_flat_map(encoded)
}

fn path() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(junk_segment(), 0..3),
        prop_oneof![
            grade_word().prop_map(|w| vec![w]),
            (
                cased("index.php"),
                prop::collection::vec(junk_segment(), 0..2)
            )
                .prop_map(|(i, mut rest)| {
                    rest.insert(0, i);
                    rest
                }),
            Just(vec![String::new()]),
        ],
        prop_oneof![
            Just(""),
            Just("/"),
            Just(";jsessionid=1"),
            Just("/."),
            Just("%20")
        ],
    )
        .prop_map(|(pre, main, tail)| {
            let mut p = String::new();
            for s in pre.iter().chain(&main) {
                p.push('/');
                p.push_str(s);
            }
            p.push_str(tail);
            p
        })
}

fn param_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("module".to_string()),
        Just("mod%75le".to_string()),
        Just("module[]".to_string()),
        Just("module[x]".to_string()),
        Just("module.".to_string()),
        Just("+module".to_string()),
        Just("%20module".to_string()),
        Just("MODULE".to_string()),
        Just("module%00".to_string()),
        Just("modul".to_string()),
    ]
}

fn query() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            param_name(),
            grade_word(),
            prop_oneof![Just("&"), Just("&&"), Just(";")],
        ),
        0..3,
    )
    .prop_map(|params| {
        params
            .into_iter()
            .map(|(n, v, sep)| format!("{n}={v}{sep}"))
            .collect::<String>()
    })
}

fn method() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("GET"),
        Just("get"),
        Just("Get"),
        Just("HEAD"),
        Just("POST"),
        Just("OPTIONS"),
        Just("PROPFIND"),
    ]
}

fn target() -> impl Strategy<Value = String> {
    (path(), prop::option::of(query())).prop_map(|(p, q)| match q {
        Some(q) => format!("{p}?{q}"),
        None => p,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn diary_grade_pages_are_never_allowed(m in method(), t in target()) {
        let diary_sees_grades = resolve(m, t.as_bytes()).is_grade_page();
        if let Ok(c) = POLICY.canonicalize(m, &t) {
            let decision = decide(&POLICY, &c, &LEGACY, AFTER).decision;
            if diary_sees_grades {
                prop_assert_ne!(decision, Decision::Allow, "{} {} → {:?}", m, t, c);
            }
        }
    }

    #[test]
    fn what_is_forwarded_is_what_was_decided(m in method(), t in target()) {
        if let Ok(c) = POLICY.canonicalize(m, &t) {
            let decision = decide(&POLICY, &c, &LEGACY, AFTER).decision;
            let forwarded = resolve(c.method.as_str(), c.forward_target.as_bytes());
            if decision == Decision::Allow {
                prop_assert!(!forwarded.is_grade_page(), "{} {} forwards {}", m, t, c.forward_target);
            }
            // The forwarded form is stable: the gateway reads it back as itself.
            let again = POLICY.canonicalize(c.method.as_str(), &c.forward_target);
            prop_assert_eq!(again.map(|a| a.forward_target), Ok(c.forward_target.clone()));
        }
    }
}

/// The generator does reach the grade page through the diary's quirks (otherwise the
/// properties above would hold vacuously).
#[test]
fn the_generator_reaches_grade_pages_through_quirks() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = (method(), target());
    let (mut grades, mut quirky, mut rejected) = (0, 0, 0);
    for _ in 0..3000 {
        let (m, t) = strategy.new_tree(&mut runner).unwrap().current();
        if resolve(m, t.as_bytes()).is_grade_page() {
            grades += 1;
            if t != "/marks" {
                quirky += 1;
            }
        }
        if POLICY.canonicalize(m, &t).is_err() {
            rejected += 1;
        }
    }
    assert!(
        grades > 100 && quirky > 100,
        "{grades} grade pages, {quirky} quirky"
    );
    assert!(rejected > 100 && rejected < 2900, "{rejected} rejected");
}
