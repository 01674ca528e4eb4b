//! Every leniency of the demo diary, in one place. The diary imitates an old PHP
//! application behind IIS; these quirks are on purpose, so the gateway's bypass tests
//! mean something. [`super::routing::resolve`] applies them, and nothing else in the
//! diary decides which page a request gets.
//!
//! Web-server layer (the request target). Before any of this, the HTTP layer (hyper)
//! answers 400 to targets it cannot parse, e.g. a raw `\xff` byte; `resolve` itself is
//! total and answers `BadRequest` for targets that are neither `/…` nor `http(s)://…`.
//! 1. A fragment is cut off: `/marks#x` is `/marks`.
//! 2. Absolute-form targets use their path: `http://any.host/marks` is `/marks`;
//!    `http://host?module=marks` is `/?module=marks`.
//! 3. `\` is a `/` (IIS): `/foo\..\marks` is `/marks`.
//! 4. `;…` path parameters are dropped from each raw segment, before decoding:
//!    `/marks;jsessionid=x` and `/a;x/../marks` are `/marks`; an encoded `%3B` stays.
//! 5. The path is percent-decoded once; `%2F` and `%5C` become separators:
//!    `/foo%2Fmarks` is `/foo/marks` (a 404), `/foo%2F..%2Fmarks` and `/%6Darks` are
//!    `/marks`. A bad escape (`%zz`) stays literal, `%252F` decodes to the literal
//!    segment `%2F` (no second pass).
//! 6. `+` in the path is a literal plus: `/marks+` is not `/marks`.
//! 7. Empty and `.` segments vanish (`//marks`, `/./marks`, a trailing `/` as in `/marks/`);
//!    `..` removes the previous segment and clamps at the root like IIS, also when encoded:
//!    `/foo/%2e%2e/marks` and `/../../marks` are `/marks`.
//! 8. Paths are compared case-insensitively, ASCII letters only: `/MARKS` is `/marks`,
//!    `/ſtats` (long s) is not `/stats`.
//! 9. PHP's PATH_INFO: `/index.php/anything?module=marks` runs `index.php`, so it is Marks;
//!    `/login.php/x` is the login script and `/logout.php/x` the logout one.
//!
//! PHP layer (query string, form bodies and cookies, as `php_default_treat_data`,
//! `add_post_var` and `rfc1867.c` read them; 10–16 hold for bodies too):
//! 10. Pairs split on `&` only (`;` is data); a pair without `=` has the value `""`;
//!     names and values are percent-decoded with `+` as a space: `mod%75le=marks` is
//!     `module=marks`, `return=/a+b` is `/a b`.
//! 11. The last duplicate wins: `module=stats&module=marks` is marks.
//! 12. A NUL byte ends a name: `module%00junk=marks` is `module=marks`.
//! 13. Leading spaces of a name are dropped; `.` and space inside it become `_`:
//!     `+module=marks` is `module`, `a.b=1` and `a b=1` are `a_b`.
//! 14. `name[]=x` and `name[k]=x` make an array; a scalar lookup of an array finds nothing:
//!     `module[]=marks` routes to the dashboard; `name[ ]` (one blank) is `name[]`; junk
//!     after a `]` is ignored (`module[a]x=1` is `module[a]`). `name[` without `]` is the plain name
//!     `name_` (the rest has ` `, `.`, `[` turned into `_`); nesting past 64 levels drops
//!     the variable. An array after a scalar of the same name replaces it and vice versa.
//! 15. The diary folds parameter names to lowercase (its framework did): `MODULE=marks`
//!     is `module=marks`, and with 11 the last of any spelling wins.
//! 16. The value of `module` is compared case-insensitively (ASCII): `module=MARKS`.
//! 17. `max_input_vars` is 1000: a query string keeps its first 1000 non-empty pairs, so
//!     `module` after 1000 others is not read; `module` is read from the query only,
//!     never from a form body or a cookie.
//!
//! Methods (PHP ignores them on page reads):
//! 18. Any method, even `PROPFIND` or `get`, reads a page like GET; only an exact `POST`
//!     submits a form (`/login`, `/login.php`, `/index.php?module=login`, `/register`,
//!     `/messages`); `HEAD` is GET without a body. Logout takes any method on `/logout`,
//!     `/logout.php` or `/index.php?module=logout`.
//!
//! Session cookie (`$_COOKIE`):
//! 19. `RIDSESSID` sent twice (in one `Cookie` header or in two, joined with `; `): the
//!     first one wins, as in PHP's `$_COOKIE`: `Cookie: RIDSESSID=a; RIDSESSID=b` uses
//!     `a`. The name is case-sensitive and not percent-decoded (`ridsessid`,
//!     `RID%53ESSID` are other cookies); the value is percent-decoded without `+`;
//!     `RIDSESSID[]=x` is an array, so no session. The diary's own addition: double quotes
//!     around the value are dropped.
//!
//! Form bodies (`$_POST`, [`super::parse_form`]):
//! 20. Only `application/x-www-form-urlencoded` and `multipart/form-data` are read (media
//!     type compared case-insensitively, cut at `;`, `,` or a space); any other type, or
//!     none, gives an empty form: a login sent as `text/plain` or JSON signs nobody in.
//! 21. urlencoded bodies follow 10–15, except that empty pairs count towards
//!     `max_input_vars` and the pair that goes over it is still read (PHP checks after
//!     registering): `&`×1000 + `login=a&login=b` reads `a`.
//! 22. multipart field names are not percent-decoded but follow 12–15 after unquoting
//!     (`name=" login"` is `login`, `name="LOGIN"` too); quotes may be `"` or `'` or none;
//!     the last `name=` of the first `Content-Disposition` header counts; a NUL anywhere in
//!     a header line cuts the line there (`name="login\0"; filename="x"` is a field).
//! 23. A part with `filename=` (even empty) is a file, never a field, and a later field
//!     of the same name is dropped (PHP protects upload names): `login=parent`, file
//!     `login`, `login=student` reads `parent`.
//! 24. Lines end at LF (a CR before it is dropped); a value ends at the first
//!     `\n--boundary` anywhere, one CR before it dropped; without a final boundary the
//!     last value runs to the end of the body (a trailing prefix of `\r\n--boundary` cut);
//!     a part without name and filename ends the parse; 1000 fields at most.
//! 25. `index.php` routes by `$_REQUEST['module']`: the query, then the form body, then
//!     the cookies, the later winning (`request_order = "GPC"`): `POST
//!     /index.php?module=homework` with the body `module=marks` serves marks.

/// The raw path and raw query of a request target; `None` when it is neither
/// origin-form (`/…`) nor absolute-form (`http://host/…`).
pub fn split_target(raw: &[u8]) -> Option<(&[u8], &[u8])> {
    // Quirk 1: a fragment never reaches the application.
    let raw = match raw.iter().position(|&b| b == b'#') {
        Some(i) => &raw[..i],
        None => raw,
    };
    let rest = if raw.first() == Some(&b'/') {
        raw
    } else {
        // Quirk 2: absolute-form, the authority is ignored.
        let after_scheme =
            strip_prefix_ci(raw, b"http://").or(strip_prefix_ci(raw, b"https://"))?;
        let end = after_scheme
            .iter()
            .position(|&b| b == b'/' || b == b'?')
            .unwrap_or(after_scheme.len());
        &after_scheme[end..]
    };
    Some(match rest.iter().position(|&b| b == b'?') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    })
}

fn strip_prefix_ci<'a>(raw: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = raw.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &raw[prefix.len()..])
}

/// The path as the diary sees it: decoded, lowercased segments with dot-segments
/// resolved (quirks 3–8). The root is the empty list.
pub fn normalize_path(raw_path: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for raw_segment in raw_path.split(|&b| b == b'/' || b == b'\\') {
        // Quirk 4: path parameters go before decoding, so `%3B` is kept.
        let raw_segment = match raw_segment.iter().position(|&b| b == b';') {
            Some(i) => &raw_segment[..i],
            None => raw_segment,
        };
        let decoded = percent_decode(raw_segment, false);
        // Quirk 5: decoded separators split again.
        for segment in decoded.split(|&b| b == b'/' || b == b'\\') {
            match segment {
                b"" | b"." => {}
                b".." => {
                    out.pop();
                }
                _ => out.push(segment.to_ascii_lowercase()),
            }
        }
    }
    out
}

/// One pass of percent-decoding; invalid escapes stay literal. `plus_is_space` is
/// PHP's `urldecode` (query), without it `rawurldecode` (path).
pub fn percent_decode(input: &[u8], plus_is_space: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        match b {
            b'+' if plus_is_space => out.push(b' '),
            b'%' => {
                let hi = input.get(i + 1).and_then(|&c| hex_value(c));
                let lo = input.get(i + 2).and_then(|&c| hex_value(c));
                if let (Some(hi), Some(lo)) = (hi, lo) {
                    out.push(hi << 4 | lo);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            _ => out.push(b),
        }
        i += 1;
    }
    out
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(p: &str) -> Vec<String> {
        normalize_path(p.as_bytes())
            .into_iter()
            .map(|s| String::from_utf8_lossy(&s).into_owned())
            .collect()
    }

    #[test]
    fn targets_split_like_the_web_server() {
        assert_eq!(split_target(b"/a?b#c"), Some((&b"/a"[..], &b"b"[..])));
        assert_eq!(split_target(b"/a#?b"), Some((&b"/a"[..], &b""[..])));
        assert_eq!(
            split_target(b"HTTP://h:1/x?y"),
            Some((&b"/x"[..], &b"y"[..]))
        );
        assert_eq!(
            split_target(b"https://h?m=1"),
            Some((&b""[..], &b"m=1"[..]))
        );
        assert_eq!(split_target(b"*"), None);
        assert_eq!(split_target(b"marks"), None);
        assert_eq!(split_target(b""), None);
        assert_eq!(split_target(b"ftp://h/marks"), None);
    }

    #[test]
    fn paths_normalise_like_iis() {
        for p in [
            "/marks",
            "/MARKS/",
            "//marks",
            "/./marks",
            "/marks;x=1",
            "/foo/%2e%2e/marks",
            "/%6Darks",
            "/../../marks",
            "/foo\\..\\marks",
            "/foo%5C..%5Cmarks",
            "/a;b/../marks",
            "/foo/..;/marks",
            "/%2E/marks",
        ] {
            assert_eq!(norm(p), vec!["marks"], "{p}");
        }
        assert_eq!(norm("/foo%2Fmarks"), vec!["foo", "marks"]);
        assert_eq!(norm("/marks%3Bx"), vec!["marks;x"]);
        assert_eq!(norm("/marks+"), vec!["marks+"]);
        assert_eq!(norm("/%252F"), vec!["%2f"]);
        assert_eq!(norm("/%zz"), vec!["%zz"]);
        assert!(norm("/").is_empty());
        assert!(norm("").is_empty());
    }

    #[test]
    fn percent_decoding_is_single_pass_and_total() {
        assert_eq!(percent_decode(b"a%20b+c", true), b"a b c");
        assert_eq!(percent_decode(b"a%20b+c", false), b"a b+c");
        assert_eq!(percent_decode(b"%", false), b"%");
        assert_eq!(percent_decode(b"%4", false), b"%4");
        assert_eq!(percent_decode(b"%2525", false), b"%25");
        assert_eq!(percent_decode(b"%ff%00", false), [0xff, 0]);
    }
}
