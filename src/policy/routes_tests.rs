//! Matcher semantics and overlap detection.

use super::*;
use crate::policy::canonical::canonicalize;

fn cfg() -> CanonConfig {
    CanonConfig {
        case_insensitive: true,
        ..CanonConfig::default()
    }
}

fn req(target: &str) -> CanonicalRequest {
    canonicalize("GET", target, &cfg()).unwrap()
}

fn m(kind: PatternKind, p: &str) -> Matcher {
    Matcher::compile(kind, p, Vec::new())
}

fn mq(kind: PatternKind, p: &str, k: &str, v: &str) -> Matcher {
    Matcher::compile(kind, p, vec![(k.into(), v.into())])
}

#[test]
fn path_prefix_and_glob() {
    let exact = m(PatternKind::Path, "/marks");
    assert!(exact.matches(&req("/MARKS/"), &cfg()).is_some());
    assert!(exact.matches(&req("/marks/x"), &cfg()).is_none());

    let prefix = m(PatternKind::Prefix, "/marks");
    for t in ["/marks", "/marks/", "/marks/2019/q1", "/x/../marks/a"] {
        assert!(prefix.matches(&req(t), &cfg()).is_some(), "{t}");
    }
    for t in ["/marksheet", "/", "/mark", "/x/marks"] {
        assert!(prefix.matches(&req(t), &cfg()).is_none(), "{t}");
    }

    let glob = m(PatternKind::Glob, "/journal/*/marks");
    assert!(glob.matches(&req("/journal/5a/marks"), &cfg()).is_some());
    assert!(glob.matches(&req("/journal/marks"), &cfg()).is_none());
    assert!(glob.matches(&req("/journal/a/b/marks"), &cfg()).is_none());

    let deep = m(PatternKind::Glob, "/files/**/marks*.pdf");
    assert!(deep.matches(&req("/files/marks.pdf"), &cfg()).is_some());
    assert!(
        deep.matches(&req("/files/a/b/marks-2019.pdf"), &cfg())
            .is_some()
    );
    assert!(deep.matches(&req("/files/a/marks.txt"), &cfg()).is_none());

    let root = m(PatternKind::Path, "/");
    assert!(root.matches(&req("/"), &cfg()).is_some());
    assert!(root.matches(&req("/x"), &cfg()).is_none());
    let star = canonicalize("OPTIONS", "*", &cfg()).unwrap();
    assert!(root.matches(&star, &cfg()).is_none());
}

#[test]
fn query_conditions_follow_php_and_fail_closed() {
    let g = mq(PatternKind::Path, "/index.php", "module", "marks");
    for (t, want) in [
        ("/index.php?module=marks", Some(false)),
        ("/index.php?module=MARKS", Some(false)),
        ("/index.php?module=+marks+", Some(false)),
        ("/index.php?mod%75le=marks", Some(false)),
        ("/index.php?x=1&module=marks", Some(false)),
        ("/index.php?module=stats", None),
        ("/index.php", None),
        ("/index.php?module=marksx", None),
        ("/index.php?module=marks&module=stats", Some(true)),
        ("/index.php?module=stats&module=stats", Some(true)),
        ("/index.php?module[]=marks", Some(true)),
        ("/index.php?module.=marks", Some(true)),
        ("/index.php?%20module=homework", Some(true)),
        ("/index.php?MODULE=marks", Some(true)),
        ("/other.php?module=marks", None),
    ] {
        assert_eq!(g.matches(&req(t), &cfg()), want, "{t}");
    }
    let strict = CanonConfig {
        value_case_insensitive: false,
        ..cfg()
    };
    assert!(
        g.matches(&req("/index.php?module=MARKS"), &strict)
            .is_none()
    );
}

#[test]
fn wildcard_pieces() {
    let w =
        |p: &[&str], s: &str| wild_matches(&p.iter().map(|x| x.to_string()).collect::<Vec<_>>(), s);
    assert!(w(&["", ""], "anything"));
    assert!(w(&["a", ""], "abc"));
    assert!(!w(&["a", ""], "bc"));
    assert!(w(&["", "c"], "abc"));
    assert!(w(&["a", "b", "c"], "axbyc"));
    assert!(!w(&["ab", "bc"], "abc")); // pieces may not overlap
    assert!(!w(&["a", "b", "c"], "acb"));
}

#[test]
fn overlap_detection() {
    let yes = [
        (
            m(PatternKind::Path, "/marks"),
            m(PatternKind::Prefix, "/marks"),
        ),
        (m(PatternKind::Prefix, "/"), m(PatternKind::Path, "/x/y")),
        (m(PatternKind::Prefix, "/a"), m(PatternKind::Prefix, "/a/b")),
        (
            m(PatternKind::Glob, "/journal/*/marks"),
            m(PatternKind::Path, "/journal/5a/marks"),
        ),
        (
            m(PatternKind::Glob, "/**/marks"),
            m(PatternKind::Prefix, "/journal"),
        ),
        (
            m(PatternKind::Glob, "/*.php"),
            m(PatternKind::Path, "/index.php"),
        ),
        (m(PatternKind::Glob, "/a*"), m(PatternKind::Glob, "/*b")),
        (
            m(PatternKind::Path, "/index.php"),
            mq(PatternKind::Path, "/index.php", "module", "marks"),
        ),
        (
            mq(PatternKind::Path, "/index.php", "module", "marks"),
            mq(PatternKind::Path, "/index.php", "module", "MARKS"),
        ),
        (
            mq(PatternKind::Path, "/index.php", "module", "marks"),
            mq(PatternKind::Path, "/index.php", "tab", "x"),
        ),
    ];
    for (a, b) in &yes {
        assert!(a.may_overlap(b, true), "{a} vs {b}");
        assert!(b.may_overlap(a, true), "{b} vs {a}");
    }
    let no = [
        (
            m(PatternKind::Path, "/marks"),
            m(PatternKind::Path, "/stats"),
        ),
        (
            m(PatternKind::Prefix, "/marks"),
            m(PatternKind::Prefix, "/marksheet"),
        ),
        (
            m(PatternKind::Glob, "/journal/*/marks"),
            m(PatternKind::Path, "/journal/marks"),
        ),
        (
            m(PatternKind::Glob, "/*.php"),
            m(PatternKind::Path, "/index.html"),
        ),
        (
            mq(PatternKind::Path, "/index.php", "module", "marks"),
            mq(PatternKind::Path, "/index.php", "module", "stats"),
        ),
    ];
    for (a, b) in &no {
        assert!(!a.may_overlap(b, true), "{a} vs {b}");
        assert!(!b.may_overlap(a, true), "{b} vs {a}");
    }
}

#[test]
fn methods_limit_groups_and_their_overlap() {
    let group = |name: &str, methods: Vec<Method>| RouteGroup {
        name: name.into(),
        priority: 0,
        matchers: vec![m(PatternKind::Prefix, "/messages")],
        methods,
        access: PhaseAccess::OPEN,
        public: false,
        deny_reason: None,
        samples: Vec::new(),
    };
    let post = group("send", vec![Method::POST]);
    let get = group("read", vec![Method::GET]);
    let all = group("all", vec![]);
    assert!(post.overlap_with(&get, true).is_none());
    assert!(post.overlap_with(&all, true).is_some());
    assert!(post.matches(&req("/messages"), &cfg()).is_none());
    assert!(all.matches(&req("/messages"), &cfg()).is_some());
}

/// The obvious backtracking matcher, as a reference for the linear one.
fn naive(pat: &[Seg], path: &[&str]) -> bool {
    match (pat.split_first(), path.split_first()) {
        (None, None) => true,
        (Some((Seg::Any, rest)), _) => {
            naive(rest, path) || (!path.is_empty() && naive(pat, &path[1..]))
        }
        (Some((seg, rest)), Some((p, prest))) => seg_matches(seg, p) && naive(rest, prest),
        _ => false,
    }
}

proptest::proptest! {
    #[test]
    fn linear_glob_matching_agrees_with_backtracking(
        pattern in proptest::collection::vec(proptest::prop_oneof!["a", "b", "\\*", "\\*\\*", "a\\*"], 0..6),
        path in proptest::collection::vec(proptest::prop_oneof!["a", "b", "ab"], 0..8),
    ) {
        let m = Matcher::compile(PatternKind::Glob, &format!("/{}", pattern.join("/")), vec![]);
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        proptest::prop_assert_eq!(segs_match(&m.segs, &path), naive(&m.segs, &path));
    }

    #[test]
    fn one_pass_path_matching_agrees_with_backtracking(
        kind in proptest::prop_oneof![
            proptest::strategy::Just(PatternKind::Glob),
            proptest::strategy::Just(PatternKind::Prefix),
            proptest::strategy::Just(PatternKind::Path),
        ],
        pattern in proptest::collection::vec(proptest::prop_oneof!["a", "b", "\\*", "\\*\\*", "a\\*"], 0..6),
        path in proptest::collection::vec(proptest::prop_oneof!["a", "b", "ab", ""], 0..8),
        trailing in proptest::bool::ANY,
    ) {
        let m = Matcher::compile(kind, &format!("/{}", pattern.join("/")), vec![]);
        // Written as a request has it: empty segments (`//`) and a trailing slash too.
        let written = format!("/{}{}", path.join("/"), if trailing { "/" } else { "" });
        let segs: Vec<&str> = written.split('/').filter(|s| !s.is_empty()).collect();
        proptest::prop_assert_eq!(path_fits(&m.segs, &written), naive(&m.segs, &segs));
    }
}

#[test]
fn many_double_stars_on_a_deep_path() {
    let g = m(PatternKind::Glob, "/**/a/**/b/**/c/**/d/**");
    let deep = format!("{}/a/b/c/d", "/x".repeat(60));
    assert!(g.matches(&req(&deep), &cfg()).is_some());
    let miss = format!("{}/d/c/b/a", "/x".repeat(60));
    assert!(g.matches(&req(&miss), &cfg()).is_none());
}

#[test]
fn php_mode_matches_the_script_for_every_matcher_kind() {
    let php = cfg();
    let off = CanonConfig {
        php: false,
        ..cfg()
    };
    let any = |k: &str, v: &str| {
        QueryCondition::new(k, super::super::ValuePattern::Prefix(v.into())).unwrap()
    };
    let matchers = [
        m(PatternKind::Path, "/modules.php"),
        m(PatternKind::Prefix, "/modules.php"),
        m(PatternKind::Glob, "/*.php"),
        mq(PatternKind::Path, "/modules.php", "modname", "grades/x.php"),
        Matcher::with_conditions(
            PatternKind::Path,
            "/modules.php",
            Vec::new(),
            vec![any("modname", "Grades/"), any("include", "Grades/")],
        ),
    ];
    // (target, matched with php on, matched with php off)
    let table = [
        ("/Modules.php/x.css?modname=Grades/X.php", true, false),
        ("/Modules.php/.anything?modname=Grades/X.php", true, false),
        ("/MODULES.PHP/a/b/c?modname=grades//x.php", true, false),
        ("/Modules.php?modname=Grades/X.php", true, true),
        ("/x/Modules.php/y?modname=Grades/X.php", false, false),
    ];
    for matcher in &matchers {
        for (target, on, off_hit) in table {
            let r = req(target);
            // A prefix matcher also matches PATH_INFO without PHP mode.
            let off_want = off_hit || (matcher.source.starts_with("prefix") && on);
            assert_eq!(
                matcher.matches(&r, &php).is_some(),
                on,
                "{matcher} {target}"
            );
            assert_eq!(
                matcher.matches(&r, &off).is_some(),
                off_want,
                "{matcher} off {target}"
            );
        }
    }
}

#[test]
fn query_any_needs_one_condition_and_is_ambiguous_only_without_a_plain_one() {
    let any = |k: &str| {
        QueryCondition::new(k, super::super::ValuePattern::Prefix("Grades/".into())).unwrap()
    };
    let matcher = Matcher::with_conditions(
        PatternKind::Path,
        "/modules.php",
        vec![QueryCondition::exact("a", "1")],
        vec![any("modname"), any("include")],
    );
    assert_eq!(
        matcher.source,
        "path=/modules.php a=1 any(modname={prefix=Grades/} | include={prefix=Grades/})"
    );
    for (target, want) in [
        ("/modules.php?a=1&modname=Grades/X.php", Some(false)),
        ("/modules.php?a=1&include=Grades/X.php", Some(false)),
        (
            "/modules.php?a=1&modname=Users/X&include=Grades/X.php",
            Some(false),
        ),
        (
            "/modules.php?a=1&modname=../x&include=Grades/X.php",
            Some(false),
        ),
        ("/modules.php?a=1&modname=../x", Some(true)),
        ("/modules.php?a=1&modname[]=x", Some(true)),
        ("/modules.php?a=1&modname=Users/X", None),
        ("/modules.php?a=1", None),
        ("/modules.php?modname=Grades/X.php", None),
        ("/modules.php?a=1&a=1&modname=Grades/X.php", Some(true)),
    ] {
        assert_eq!(matcher.matches(&req(target), &cfg()), want, "{target}");
    }
}
