use super::*;
use crate::standins::demo_diary::php_form::parse_form;
use crate::standins::demo_diary::php_query::PhpValue;

const CT: &[u8] = b"multipart/form-data; boundary=XyZ";

/// A multipart body from `(headers, value)` parts with CRLF line ends and a final
/// boundary.
fn body(parts: &[(&str, &str)]) -> Vec<u8> {
    let mut out = String::new();
    for (headers, value) in parts {
        out.push_str(&format!("--XyZ\r\n{headers}\r\n\r\n{value}\r\n"));
    }
    out.push_str("--XyZ--\r\n");
    out.into_bytes()
}

fn field(name: &str) -> String {
    format!("Content-Disposition: form-data; name=\"{name}\"")
}

fn read(ct: &[u8], body: &[u8], name: &str) -> Option<String> {
    parse_form(Some(ct), body).text(name)
}

#[test]
fn a_plain_form_reads_every_field() {
    let b = body(&[(&field("login"), "student"), (&field("password"), "demo")]);
    let p = parse_form(Some(CT), &b);
    assert_eq!(p.text("login").as_deref(), Some("student"));
    assert_eq!(p.text("password").as_deref(), Some("demo"));
    assert_eq!(p.vars().len(), 2);
}

#[test]
fn names_follow_the_variable_rules_after_unquoting() {
    let cases = [
        ("login", Some("student")),
        (" login", Some("student")),
        ("   login", Some("student")),
        ("LOGIN", Some("student")),
        ("login[]", None),
        ("login[x]", None),
        ("lo.gin", None),
        ("login ", None),
        ("%20login", None),
        ("login\\\"", None),
    ];
    for (name, expected) in cases {
        let b = body(&[(&field(name), "student")]);
        assert_eq!(read(CT, &b, "login").as_deref(), expected, "{name:?}");
    }
    let b = body(&[(&field("lo.gin"), "x"), (&field("a[ b]"), "y")]);
    let p = parse_form(Some(CT), &b);
    assert_eq!(p.text("lo_gin").as_deref(), Some("x"));
    // PHP normalises `[ b]` to `[b]` before registering a multipart field.
    let Some(PhpValue::Array(items)) = p.get("a") else {
        panic!("array expected");
    };
    assert_eq!(items[0].0, b"b");
}

#[test]
fn disposition_spellings() {
    let cases = [
        (
            "Content-Disposition: form-data; name=login",
            Some("student"),
        ),
        (
            "content-disposition: FORM-DATA; NAME=\"login\"",
            Some("student"),
        ),
        (
            "Content-Disposition: form-data; name='login'",
            Some("student"),
        ),
        ("Content-Disposition: name=\"login\"", Some("student")),
        (
            "Content-Disposition: attachment; name=\"login\"",
            Some("student"),
        ),
        (
            "Content-Disposition:form-data;name=\"login\"",
            Some("student"),
        ),
        (
            "Content-Disposition: form-data; name==\"login\"",
            Some("student"),
        ),
        (
            "Content-Disposition: form-data; name=\"x\"; name=\"login\"",
            Some("student"),
        ),
        ("Content-Disposition: form-data; name=\"lo\\\"gin\"", None),
        (
            "Content-Disposition: form-data; name=\"a;b\"; name=\"login\"",
            Some("student"),
        ),
        ("Content-Disposition: form-data; name =\"login\"", None),
        ("Content-Disposition : form-data; name=\"login\"", None),
        (
            "Content-Disposition: form-data; name=\"login\"; filename=\"a.txt\"",
            None,
        ),
        (
            "Content-Disposition: form-data; name=\"login\"; filename=\"\"",
            None,
        ),
        (
            "Content-Disposition: form-data; name=\"login\"; FileName=x",
            None,
        ),
        (
            "Content-Disposition: form-data; name=\"login\"; filename*=x",
            Some("student"),
        ),
        (
            "X-Other: 1\r\nContent-Disposition: form-data; name=\"login\"",
            Some("student"),
        ),
        (
            "Content-Disposition: form-data;\r\n name=\"login\"",
            Some("student"),
        ),
        (
            "Content-Disposition: form-data; name=\"other\"\r\nContent-Disposition: form-data; name=\"login\"",
            None,
        ),
        ("Content-Type: text/plain", None),
    ];
    for (headers, expected) in cases {
        let b = body(&[(headers, "student")]);
        assert_eq!(read(CT, &b, "login").as_deref(), expected, "{headers}");
    }
}

#[test]
fn a_nul_byte_cuts_the_header_line() {
    let b = b"--XyZ\r\nContent-Disposition: form-data; name=\"login\0\"; filename=\"x\"\r\n\r\nstudent\r\n--XyZ--\r\n";
    assert_eq!(read(CT, b, "login").as_deref(), Some("student"));
    let b =
        b"--XyZ\r\nContent-Disposition: form-data; name=\"lo\0gin\"\r\n\r\nstudent\r\n--XyZ--\r\n";
    assert_eq!(read(CT, b, "lo").as_deref(), Some("student"));
    // A line that starts with NUL ends the headers.
    let b =
        b"--XyZ\r\n\0\r\nContent-Disposition: form-data; name=\"login\"\r\n\r\nx\r\n--XyZ--\r\n";
    assert_eq!(read(CT, b, "login"), None);
}

#[test]
fn values_keep_their_bytes_and_lose_one_cr() {
    let b = body(&[
        (&field("a"), "x\r"),
        (&field("b"), "line1\r\nline2"),
        (&field("c"), ""),
    ]);
    let p = parse_form(Some(CT), &b);
    assert_eq!(p.scalar("a"), Some(&b"x\r"[..]));
    assert_eq!(p.scalar("b"), Some(&b"line1\r\nline2"[..]));
    assert_eq!(p.scalar("c"), Some(&b""[..]));
    // LF-only bodies work too.
    let b = b"--XyZ\nContent-Disposition: form-data; name=\"login\"\n\nstudent\n--XyZ--\n";
    assert_eq!(read(CT, b, "login").as_deref(), Some("student"));
    // `\n--XyZ` anywhere ends a value, even without a line break after it.
    let b = b"--XyZ\r\nContent-Disposition: form-data; name=\"login\"\r\n\r\nstu\r\n--XyZjunk\r\n--XyZ--";
    assert_eq!(read(CT, b, "login").as_deref(), Some("stu"));
}

#[test]
fn a_missing_final_boundary_keeps_what_was_read() {
    let b = b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--XyZ\r\nContent-Disposition: form-data; name=\"login\"\r\n\r\nstudent";
    let p = parse_form(Some(CT), b);
    assert_eq!(p.text("a").as_deref(), Some("1"));
    assert_eq!(p.text("login").as_deref(), Some("student"));
    // The value ends where a prefix of `\n--XyZ` ends the body.
    let b = b"--XyZ\r\nContent-Disposition: form-data; name=\"login\"\r\n\r\nstudent\r\n--Xy";
    assert_eq!(read(CT, b, "login").as_deref(), Some("student"));
    // Headers cut before their empty line: the unterminated line becomes the value.
    let b = b"--XyZ\r\nContent-Disposition: form-data; name=\"login\"\r\nstudent";
    assert_eq!(read(CT, b, "login").as_deref(), Some("student"));
    let b = b"--XyZ\r\nContent-Disposition: form-data; name=\"login\"";
    assert_eq!(read(CT, b, "login"), None);
    // No delimiter line at all: nothing.
    assert_eq!(read(CT, b"login=student", "login"), None);
    assert_eq!(read(CT, b"--XyZ", "login"), None);
    // The final delimiter is just a line that does not match.
    let b = b"--XyZ--\r\nContent-Disposition: form-data; name=\"login\"\r\n\r\nx\r\n";
    assert_eq!(read(CT, b, "login"), None);
}

#[test]
fn the_last_duplicate_wins_and_files_protect_their_name() {
    let b = body(&[(&field("login"), "parent"), (&field("login"), "student")]);
    assert_eq!(read(CT, &b, "login").as_deref(), Some("student"));
    let file = "Content-Disposition: form-data; name=\"login\"; filename=\"a\"";
    let b = body(&[
        (&field("login"), "parent"),
        (file, "x"),
        (&field("login"), "student"),
    ]);
    assert_eq!(read(CT, &b, "login").as_deref(), Some("parent"));
    let b = body(&[(file, "x"), (&field(" login"), "student")]);
    assert_eq!(read(CT, &b, "login"), None);
    // A file skipped for its brackets protects nothing.
    let odd = "Content-Disposition: form-data; name=\"login]\"; filename=\"a\"";
    let b = body(&[(odd, "x"), (&field("login]"), "student")]);
    assert_eq!(read(CT, &b, "login]").as_deref(), Some("student"));
    // A part with neither name nor filename ends the parse.
    let b = body(&[
        (&field("a"), "1"),
        ("Content-Disposition: form-data", ""),
        (&field("login"), "x"),
    ]);
    let p = parse_form(Some(CT), &b);
    assert_eq!((p.text("a").as_deref(), p.text("login")), (Some("1"), None));
}

#[test]
fn the_boundary_parameter_is_read_like_php() {
    let b = body(&[(&field("login"), "student")]);
    for ct in [
        "multipart/form-data; boundary=XyZ",
        "Multipart/Form-Data; BOUNDARY=XyZ",
        "multipart/form-data; boundary=\"XyZ\"",
        "multipart/form-data; boundary=XyZ; charset=utf-8",
        "multipart/form-data; boundary=XyZ,x",
        "multipart/form-data;boundary=XyZ",
        "multipart/form-data; xboundary=XyZ; boundary=other",
    ] {
        assert_eq!(
            read(ct.as_bytes(), &b, "login").as_deref(),
            Some("student"),
            "{ct}"
        );
    }
    for ct in [
        "multipart/form-data",
        "multipart/form-data; boundary=\"XyZ",
        "multipart/form-data; boundary= XyZ",
        "multipart/form-data; boundary=XyZ ",
        "multipart/form-data; charset=utf-8",
        "multipart/mixed; boundary=XyZ",
    ] {
        assert_eq!(read(ct.as_bytes(), &b, "login"), None, "{ct}");
    }
}

#[test]
fn limits_are_php_defaults() {
    let mut parts: Vec<(String, String)> = (0..MAX_INPUT_VARS)
        .map(|i| (field(&format!("f{i}")), String::new()))
        .collect();
    parts.push((field("login"), "student".to_owned()));
    let refs: Vec<(&str, &str)> = parts
        .iter()
        .map(|(h, v)| (h.as_str(), v.as_str()))
        .collect();
    assert_eq!(read(CT, &body(&refs), "login"), None);
    assert_eq!(
        read(CT, &body(&refs[1..]), "login").as_deref(),
        Some("student")
    );
}

#[test]
fn helpers_match_their_c_originals() {
    assert_eq!(normalize_protected(b"  a.b[ x][\ty]junk"), b"a_b[x][y]");
    assert_eq!(normalize_protected(b"a[ b"), b"a[b");
    assert_eq!(normalize_protected(b"plain"), b"plain");
    assert!(brackets_closed(b"a[b][c]") && brackets_closed(b"plain"));
    assert!(!brackets_closed(b"a[b]c") && !brackets_closed(b"a]") && !brackets_closed(b"a[b"));
    assert_eq!(strtoll(b"  -12x"), -12);
    assert_eq!(strtoll(b"99999999999999999999"), i64::MAX);
    assert_eq!(strtoll(b"x1"), 0);
    assert_eq!(getword_conf(b"  \"a\\\"b\\\\c\" rest"), b"a\"b\\c");
    assert_eq!(getword_conf(b"bare word"), b"bare");
    assert_eq!(memstr(b"abc\n--X", b"\n--XyZ"), Some(3));
    assert_eq!(memstr(b"abc\n--Q", b"\n--XyZ"), None);
}
