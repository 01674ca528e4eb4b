//! What the diary reads from a POST body: PHP's `$_POST`, chosen by the `Content-Type`
//! the way SAPI chooses a post handler (`sapi_read_post_data`), then filled by the
//! urlencoded reader ([`PhpParams`]) or the multipart one ([`super::php_multipart`]).
//! [`parse_form`] is pure and public so the gateway's tests can ask what the diary
//! would read from any body; the quirks are listed in [`super::quirks`] (20–24).

use super::php_multipart;
use super::php_query::PhpParams;

/// `$_POST` as PHP 8 would fill it for a body with this `Content-Type` header value
/// (the raw bytes of the first `Content-Type` header; `None` when there is none).
///
/// - No `Content-Type`, or a media type other than `application/x-www-form-urlencoded`
///   and `multipart/form-data` (compared case-insensitively, cut at the first `;`, `,`
///   or space — a tab is not a separator): nothing, as PHP leaves `$_POST` empty.
/// - urlencoded: pairs on `&`, names and values percent-decoded with `+` as a space,
///   then PHP's name rules (leading spaces dropped, `.`/space/first unmatched `[` → `_`,
///   NUL ends a name, `a[]`/`a[k]` arrays, the last duplicate wins); the diary folds names
///   to lowercase; at most 1001 pairs (PHP stops after the one over `max_input_vars`).
/// - multipart: see [`super::php_multipart`]; a missing final boundary keeps every part
///   read so far, and the last part's value runs to the end of the body.
pub fn parse_form(content_type: Option<&[u8]>, body: &[u8]) -> PhpParams {
    let Some(content_type) = content_type else {
        return PhpParams::empty_form();
    };
    // SAPI gets the header as a C string.
    let content_type = match content_type.iter().position(|&b| b == 0) {
        Some(i) => &content_type[..i],
        None => content_type,
    };
    let end = content_type
        .iter()
        .position(|&b| matches!(b, b';' | b',' | b' '))
        .unwrap_or(content_type.len());
    let media_type = content_type[..end].to_ascii_lowercase();
    match media_type.as_slice() {
        b"application/x-www-form-urlencoded" => PhpParams::parse_urlencoded_body(body),
        b"multipart/form-data" => {
            // The handler sees the media type lowercased and the parameters as sent.
            let mut dup = media_type;
            dup.extend_from_slice(&content_type[end..]);
            php_multipart::parse(&dup, body)
        }
        _ => PhpParams::empty_form(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::standins::demo_diary::php_query::PhpValue;

    const URLENCODED: Option<&[u8]> = Some(b"application/x-www-form-urlencoded");

    fn login(content_type: Option<&[u8]>, body: &str) -> Option<String> {
        parse_form(content_type, body.as_bytes()).text("login")
    }

    #[test]
    fn the_media_type_chooses_the_reader() {
        let body = "login=student";
        for ct in [
            "application/x-www-form-urlencoded",
            "Application/X-WWW-Form-URLEncoded",
            "application/x-www-form-urlencoded; charset=UTF-8",
            "application/x-www-form-urlencoded;charset=windows-1251",
            "application/x-www-form-urlencoded,text/plain",
            "application/x-www-form-urlencoded junk",
        ] {
            assert_eq!(
                login(Some(ct.as_bytes()), body).as_deref(),
                Some("student"),
                "{ct}"
            );
        }
        for ct in [
            "text/plain",
            "application/json",
            "application/x-www-form-urlencoded\t",
            "application/x-www-form-urlencodedx",
            " application/x-www-form-urlencoded",
            "",
        ] {
            assert_eq!(login(Some(ct.as_bytes()), body), None, "{ct:?}");
        }
        assert_eq!(login(None, body), None);
    }

    #[test]
    fn urlencoded_login_spellings_read_like_php() {
        let cases = [
            ("login=parent&%20login=student", Some("student")),
            ("login=parent&+login=student", Some("student")),
            ("login=parent&++++login=student", Some("student")),
            ("login=parent&LOGIN=student", Some("student")),
            ("login=parent&login%00x=student", Some("student")),
            ("login=parent&login%00=student", Some("student")),
            ("login=parent&login", Some("")),
            ("login=parent&login[]=student", None),
            ("login[]=student", None),
            ("login[x]=student", None),
            ("login[]=x&login=student", Some("student")),
            ("lo.gin=student", None),
            ("login.=student", None),
            ("login%5B=student", None),
            ("%00login=student", None),
            ("login%20=student", None),
            ("login=stu%00dent", Some("stu\0dent")),
            ("login=st+ud%65nt", Some("st udent")),
            ("login=student&", Some("student")),
            ("login=a=b", Some("a=b")),
            ("login=student;login=parent", Some("student;login=parent")),
        ];
        for (body, expected) in cases {
            assert_eq!(login(URLENCODED, body).as_deref(), expected, "{body}");
        }
        let p = parse_form(URLENCODED, b"lo.gin=student&lo gin=x&login[=y");
        assert_eq!(p.text("lo_gin").as_deref(), Some("x"));
        assert_eq!(p.text("login_").as_deref(), Some("y"));
        let p = parse_form(URLENCODED, b"login[]=a&login[]=b");
        let Some(PhpValue::Array(items)) = p.get("login") else {
            panic!("array expected");
        };
        assert_eq!(items.len(), 2);
    }

    #[test]
    fn urlencoded_bodies_count_empty_pairs_and_stop_after_the_one_over_the_limit() {
        let fill = "&".repeat(999);
        // Pairs 1..=1000 are the empty ones and `login=parent` is pair 1001: still read.
        let body = format!("{fill}&login=parent&login=student");
        assert_eq!(login(URLENCODED, &body).as_deref(), Some("parent"));
        let body = format!("{fill}&&login=student");
        assert_eq!(login(URLENCODED, &body), None);
        // 1000 pairs before it: the 1001st is still read.
        let body = format!("{}login=student", "a&".repeat(1000));
        assert_eq!(login(URLENCODED, &body).as_deref(), Some("student"));
    }
}
