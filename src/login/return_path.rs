//! Where the browser goes after login: the `return` parameter, validated.
//!
//! Threat: an open redirect. `/esia/login?return=//evil.example` would otherwise send a
//! freshly signed-in user to a phishing copy of the diary. Browsers are lenient in ways
//! that turn harmless-looking strings into other origins (`/\evil`, `/<TAB>/evil`,
//! `%2F%2Fevil` decoded by some later hop), so the rule is an allow-list, not a block-list:
//! a same-origin absolute path made of printable ASCII, nothing that any hop could read
//! as an authority, and everything else becomes `/`.

/// Longest return path kept; longer ones are replaced by `/` (cookie and URL size).
pub const MAX_RETURN_PATH: usize = 1024;

/// The validated return path for `raw` (already decoded once from the query string), or
/// `/` when it is anything but a plain same-origin path.
pub fn safe_return_path(raw: &str) -> String {
    if is_safe_return_path(raw) {
        raw.to_owned()
    } else {
        "/".to_owned()
    }
}

/// The rule behind [`safe_return_path`], kept separate so tests can say "refused".
pub fn is_safe_return_path(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_RETURN_PATH {
        return false;
    }
    // A relative reference that starts with exactly one `/`: `//host` and `/\host` are
    // network paths to browsers; `\` is treated as `/` by browsers and IIS alike.
    if bytes.first() != Some(&b'/') || matches!(bytes.get(1), Some(b'/' | b'\\')) {
        return false;
    }
    // Printable ASCII only: no whitespace (browsers drop TAB/LF/CR inside URLs, so
    // `/<TAB>/evil` becomes `//evil`), no controls, no raw non-ASCII, no backslash.
    if !bytes
        .iter()
        .all(|b| (0x21..=0x7e).contains(b) && *b != b'\\')
    {
        return false;
    }
    let (path, _rest) = split_path(raw);
    // `//` deeper in the path or dot segments: harmless to a browser but exactly what a
    // lenient diary or a later redirect collapses into something else; not worth keeping.
    if path.contains("//") || path.split('/').any(|seg| seg == "." || seg == "..") {
        return false;
    }
    escapes_are_plain(raw)
}

/// The path part (before `?` or `#`) and the rest.
fn split_path(raw: &str) -> (&str, &str) {
    match raw.find(['?', '#']) {
        Some(i) => raw.split_at(i),
        None => (raw, ""),
    }
}

/// Every `%XX` is well formed and decodes to nothing that could rebuild an authority
/// or smuggle a control: no `/`, `\`, `%` (double encoding), `.` in the path, no controls,
/// no whitespace. Encoded UTF-8 stays allowed: Cyrillic page and file names are normal
/// here, and browsers never decode escapes in a path when resolving the origin.
fn escapes_are_plain(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    let path_len = split_path(raw).0.len();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b != b'%' {
            decoded.push(b);
            i += 1;
            continue;
        }
        let hi = bytes.get(i + 1).and_then(|c| hex_value(*c));
        let lo = bytes.get(i + 2).and_then(|c| hex_value(*c));
        let (Some(hi), Some(lo)) = (hi, lo) else {
            return false;
        };
        let byte = hi * 16 + lo;
        let forbidden = matches!(byte, b'/' | b'\\' | b'%')
            || (byte == b'.' && i < path_len)
            || byte <= 0x20
            || byte == 0x7f;
        if forbidden {
            return false;
        }
        decoded.push(byte);
        i += 3;
    }
    // Encoded bytes must be valid UTF-8 (overlong `%C0%AF` is a `/` to broken decoders)
    // and must not decode to a slash or dot look-alike that Unicode normalisation
    // (NFKC, IDNA) would turn into a real one.
    match std::str::from_utf8(&decoded) {
        Ok(text) => !text.chars().any(is_lookalike),
        Err(_) => false,
    }
}

/// Characters that NFKC/IDNA map to `/`, `\\` or `.`.
fn is_lookalike(c: char) -> bool {
    matches!(
        c,
        '\u{2215}'
            | '\u{2044}'
            | '\u{FF0F}'
            | '\u{FF3C}'
            | '\u{FE68}'
            | '\u{29F5}'
            | '\u{3002}'
            | '\u{FF0E}'
            | '\u{FF61}'
            | '\u{2024}'
    )
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

    #[test]
    fn keeps_plain_paths() {
        for good in [
            "/",
            "/marks",
            "/index.php?module=marks&id=5",
            "/messages#last",
            "/files/%D0%BE%D1%82%D1%87%D0%B5%D1%82",
            "/a/b/c.html",
        ] {
            assert_eq!(safe_return_path(good), good, "{good}");
        }
    }

    #[test]
    fn refuses_other_origins_and_tricks() {
        for bad in [
            "",
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "https://evil.example",
            "javascript:alert(1)",
            "/%2F/evil.example",
            "/%5Cevil.example",
            "/\t/evil.example",
            "/ /evil",
            "/a/../../x",
            "/%2e%2e/x",
            "/%zz",
            "/%",
            "/привет",
            "/%25%32%46",
        ] {
            assert_eq!(safe_return_path(bad), "/", "{bad:?}");
        }
    }

    #[test]
    fn refuses_over_long_values() {
        let long = format!("/{}", "a".repeat(MAX_RETURN_PATH));
        assert!(!is_safe_return_path(&long));
        let fits = format!("/{}", "a".repeat(MAX_RETURN_PATH - 1));
        assert!(is_safe_return_path(&fits));
    }
}
