//! Accept and reject tables for the canonicaliser (stable reject names).

use super::*;

fn ci() -> CanonConfig {
    CanonConfig {
        case_insensitive: true,
        own_hosts: vec!["dnevnik.example.ru".into()],
        ..CanonConfig::default()
    }
}

#[test]
fn accepted_spellings_and_their_canonical_form() {
    let table = [
        ("GET", "/", "GET", "/", "/"),
        ("get", "/marks", "GET", "/marks", "/marks"),
        ("Get", "/MARKS/", "GET", "/marks", "/MARKS"),
        ("GET", "//marks", "GET", "/marks", "/marks"),
        ("GET", "/./marks/.", "GET", "/marks", "/marks"),
        ("GET", "/x/../marks", "GET", "/marks", "/marks"),
        ("GET", "/x/%2e%2e/marks", "GET", "/marks", "/marks"),
        ("GET", "/x/..;y/marks", "GET", "/marks", "/marks"),
        ("GET", "/marks;jsessionid=1", "GET", "/marks", "/marks"),
        ("GET", "/marks%3Bx", "GET", "/marks", "/marks"),
        ("GET", "/%6Darks", "GET", "/marks", "/marks"),
        ("GET", "/%4D%41%52%4B%53", "GET", "/marks", "/MARKS"),
        ("HEAD", "/marks?", "HEAD", "/marks", "/marks"),
        ("PROPFIND", "/Marks", "PROPFIND", "/marks", "/Marks"),
        (
            "GET",
            "/index.php?mod%75le=marks",
            "GET",
            "/index.php",
            "/index.php?module=marks",
        ),
        (
            "GET",
            "/index.php?module=a+b",
            "GET",
            "/index.php",
            "/index.php?module=a%20b",
        ),
        ("GET", "/a+b/c", "GET", "/a+b/c", "/a+b/c"),
        (
            "GET",
            "/files/%D0%BE%D1%82%D1%87%D1%91%D1%82",
            "GET",
            "/files/отчёт",
            "/files/%D0%BE%D1%82%D1%87%D1%91%D1%82",
        ),
        ("GET", "/files/%D0%9E", "GET", "/files/о", "/files/%D0%9E"),
        ("GET", "/100%25zz", "GET", "/100%zz", "/100%25zz"),
        (
            "GET",
            "https://dnevnik.example.ru/marks",
            "GET",
            "/marks",
            "/marks",
        ),
        (
            "GET",
            "HTTP://DNEVNIK.example.ru:443/Marks?x=1",
            "GET",
            "/marks",
            "/Marks?x=1",
        ),
        ("GET", "https://dnevnik.example.ru", "GET", "/", "/"),
        (
            "GET",
            "https://dnevnik.example.ru?module=marks",
            "GET",
            "/",
            "/?module=marks",
        ),
        ("OPTIONS", "*", "OPTIONS", "*", "*"),
        ("X-CUSTOM", "/marks", "X-CUSTOM", "/marks", "/marks"),
    ];
    for (method, target, want_method, want_path, want_forward) in table {
        let c = canonicalize(method, target, &ci())
            .unwrap_or_else(|r| panic!("{method} {target} rejected: {r}"));
        assert_eq!(c.method.as_str(), want_method, "{target}");
        assert_eq!(c.path, want_path, "{target}");
        assert_eq!(c.forward_target, want_forward, "{target}");
        let again = canonicalize(c.method.as_str(), &c.forward_target, &ci()).unwrap();
        assert_eq!(again, c, "not idempotent: {target}");
    }
}

#[test]
fn case_insensitivity_is_for_matching_only() {
    // (target, path for matching, forwarded as sent after decoding and dot segments)
    for (target, path, forward) in [
        (
            "/Modules.PHP/Some/Path",
            "/modules.php/some/path",
            "/Modules.PHP/Some/Path",
        ),
        ("/Modules.php/x/../Y", "/modules.php/y", "/Modules.php/Y"),
        ("/A/%42/./c//", "/a/b/c", "/A/B/c"),
        ("/%D0%9E%D0%A6", "/оц", "/%D0%9E%D0%A6"),
        ("/MARKS?Module=MARKS", "/marks", "/MARKS?Module=MARKS"),
    ] {
        let c = canonicalize("GET", target, &ci()).unwrap();
        assert_eq!(
            (c.path.as_str(), c.forward_target.as_str()),
            (path, forward)
        );
        let strict = canonicalize("GET", target, &CanonConfig::default()).unwrap();
        assert_eq!(strict.forward_target, forward, "{target}");
    }
}

#[test]
fn php_scripts_and_their_path_info() {
    let php = CanonConfig::default();
    let off = CanonConfig {
        php: false,
        ..CanonConfig::default()
    };
    for (target, script) in [
        ("/Modules.php/x.css", Some("/Modules.php")),
        ("/Modules.php/.anything", Some("/Modules.php")),
        ("/a/index.PHP/b/c.php/d", Some("/a/index.PHP")),
        ("/Modules.php", None),
        ("/Modules.php/", None),
        ("/x.phpx/y", None),
        ("/.php/y", None),
        ("/", None),
    ] {
        let c = canonicalize("GET", target, &php).unwrap();
        assert_eq!(c.php_script(), script, "{target}");
        assert_eq!(c.match_path(&php), script.unwrap_or(&c.path), "{target}");
        assert_eq!(c.match_path(&off), c.path, "{target}");
        // Forwarded whole: PHP itself reads PATH_INFO.
        assert!(c.forward_target.starts_with(&c.path), "{target}");
    }
}

#[test]
fn windows_spellings_are_plain_names_on_a_case_sensitive_diary() {
    for target in ["/INDEX~1.PHP", "/a:b", "/marks."] {
        assert!(
            canonicalize("GET", target, &CanonConfig::default()).is_ok(),
            "{target}"
        );
    }
}

#[test]
fn case_is_kept_when_the_diary_is_case_sensitive() {
    let c = canonicalize("GET", "/Marks/X", &CanonConfig::default()).unwrap();
    assert_eq!(c.path, "/Marks/X");
}

#[test]
fn rejected_spellings_with_stable_names() {
    let long = format!("/{}", "a".repeat(9000));
    let deep = "/a".repeat(65);
    let many = format!("/?{}", vec!["a=1"; 257].join("&"));
    let table: Vec<(&str, &str, &str)> = vec![
        ("GET", "", "empty-target"),
        ("", "/marks", "bad-method"),
        ("G ET", "/marks", "bad-method"),
        ("GET\u{0}", "/marks", "bad-method"),
        ("ПОЛУЧИТЬ", "/marks", "bad-method"),
        ("GET", &long, "target-too-long"),
        ("GET", &deep, "path-too-deep"),
        ("GET", &many, "too-many-parameters"),
        ("GET", "/marks#x", "fragment"),
        ("GET", "/marks%23x#", "fragment"),
        ("GET", "/ma rks", "invalid-character"),
        ("GET", "/marks\u{0}", "nul-byte"),
        ("GET", "/marks\t", "control-character"),
        ("GET", "/mаrks", "invalid-character"), // raw Cyrillic а: not a valid target byte
        ("GET", "http://evil.example/marks", "absolute-form-foreign"),
        (
            "GET",
            "https://dnevnik.example.ru@evil/marks",
            "absolute-form-foreign",
        ),
        (
            "GET",
            "https://evil@dnevnik.example.ru/marks",
            "absolute-form-foreign",
        ),
        (
            "GET",
            "ftp://dnevnik.example.ru/marks",
            "absolute-form-foreign",
        ),
        ("GET", "https:///marks", "absolute-form-foreign"),
        ("CONNECT", "dnevnik.example.ru:443", "authority-form"),
        ("GET", "marks", "authority-form"),
        ("GET", "*", "asterisk-form"),
        ("GET", "/x\\marks", "backslash"),
        ("GET", "\\marks", "authority-form"),
        ("GET", "/x%2Fmarks", "encoded-slash"),
        ("GET", "/x%2fmarks", "encoded-slash"),
        ("GET", "/x%5Cmarks", "encoded-backslash"),
        ("GET", "/index.php%3Fmodule=marks", "encoded-delimiter"),
        ("GET", "/marks%23x", "encoded-delimiter"),
        ("GET", "/marks%00", "nul-byte"),
        ("GET", "/marks%0A", "control-character"),
        ("GET", "/marks%7F", "control-character"),
        ("GET", "/marks%zz", "invalid-percent-encoding"),
        ("GET", "/marks%4", "invalid-percent-encoding"),
        ("GET", "/marks%", "invalid-percent-encoding"),
        ("GET", "/x%252Fmarks", "double-encoding"),
        ("GET", "/%256Darks", "double-encoding"),
        ("GET", "/x%C0%AFmarks", "invalid-utf8"),
        ("GET", "/%FF", "invalid-utf8"),
        ("GET", "/%ED%A0%80", "invalid-utf8"),
        ("GET", "/mar%E2%84%AAs", "confusable-character"), // Kelvin sign
        ("GET", "/%EF%BD%8Darks", "confusable-character"), // fullwidth m
        ("GET", "/ma%C5%BFks", "confusable-character"),    // long s
        ("GET", "/marks%E2%80%8B", "confusable-character"), // zero-width space
        ("GET", "/ma%CC%81rks", "confusable-character"),   // combining acute
        ("GET", "/stra%C3%9Fe", "confusable-character"),   // ß upper-cases to SS
        ("GET", "/%E1%BA%9E", "confusable-character"),     // ẞ lower-cases to ß
        ("GET", "/%C4%B0ndex.php", "confusable-character"), // İ
        ("GET", "/m%C3%A1rks", "confusable-character"),    // á best-fits to a
        ("GET", "/marks%C2%B2", "confusable-character"),   // ² best-fits to 2
        ("GET", "/marks%C2%A0", "confusable-character"),   // no-break space
        ("GET", "/m%E1%BA%A1rks", "confusable-character"), // ạ
        ("GET", "/..", "above-root"),
        ("GET", "/../marks", "above-root"),
        ("GET", "/x/../../marks", "above-root"),
        ("GET", "/%2e%2e/marks", "above-root"),
        ("GET", "/..;x/marks", "above-root"),
        ("GET", "/index.php?module=%252F", "double-encoding"),
        ("GET", "/%25%36%44arks", "double-encoding"),
        ("GET", "/index.php?module=%25%34%31", "double-encoding"),
        ("GET", "/marks.", "trailing-dot-or-space"),
        ("GET", "/marks%20", "trailing-dot-or-space"),
        ("GET", "/index.php.?module=marks", "trailing-dot-or-space"),
        ("GET", "/.../marks", "trailing-dot-or-space"),
        ("GET", "/INDEX~1.PHP?module=marks", "short-name"),
        ("GET", "/index~1.php", "short-name"),
        ("GET", "/MODULE~2/x", "short-name"),
        ("GET", "/%7E1/marks", "short-name"),
        ("GET", "/index.php::$DATA?module=marks", "stream-suffix"),
        ("GET", "/index.php:stream?module=marks", "stream-suffix"),
        ("GET", "/index.php%3A%3A$DATA", "stream-suffix"),
        ("GET", "/Modules.php/x:y", "stream-suffix"),
        ("GET", "/index.php?module=mar%00ks", "nul-byte"),
        (
            "GET",
            "/index.php?mod%zzule=marks",
            "invalid-percent-encoding",
        ),
    ];
    for (method, target, want) in table {
        match canonicalize(method, target, &ci()) {
            Ok(c) => panic!("{method} {target:?} accepted as {c:?}, want {want}"),
            Err(r) => assert_eq!(r.as_str(), want, "{method} {target:?}"),
        }
    }
}

#[test]
fn reject_names_match_display() {
    for r in [
        Reject::BadMethod,
        Reject::DoubleEncoding,
        Reject::AboveRoot,
        Reject::ConfusableCharacter,
        Reject::ShortName,
        Reject::StreamSuffix,
    ] {
        assert_eq!(r.to_string(), r.as_str());
    }
}

#[test]
fn absolute_form_is_refused_without_own_hosts() {
    let r = canonicalize(
        "GET",
        "https://dnevnik.example.ru/marks",
        &CanonConfig::default(),
    );
    assert_eq!(r.unwrap_err(), Reject::AbsoluteFormForeign);
}
