//! Properties of [`resolve`]: total on arbitrary bytes, and blind to every documented
//! normalisation (case, empty and dot segments, path parameters, percent-encoding,
//! trailing slash, fragments, absolute-form).

use proptest::prelude::*;

use super::quirks::{normalize_path, split_target};
use super::routing::{Route, resolve};

const PAGES: [&str; 19] = [
    "",
    "marks",
    "stats",
    "homework",
    "schedule",
    "messages",
    "teachers",
    "files",
    "register",
    "login",
    "logout",
    "index.php",
    "api/me",
    "nope",
    "login.php",
    "logout.php",
    "children",
    "api/children",
    "nocookies",
];
const METHODS: [&str; 6] = ["GET", "POST", "HEAD", "PROPFIND", "post", "OPTIONS"];

/// Percent-encodes every byte but unreserved ones, so decoding gives the bytes back.
fn encode_all(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One spelling of `page`, per the seed-chosen tricks.
fn spell(page: &str, tricks: &[u8]) -> String {
    let mut out = String::new();
    for (i, segment) in page.split('/').filter(|s| !s.is_empty()).enumerate() {
        let trick = tricks.get(i).copied().unwrap_or(0);
        let mut seg: String = segment
            .chars()
            .enumerate()
            .map(|(j, c)| {
                if (trick >> (j % 8)) & 1 == 1 {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect();
        if trick % 5 == 1 {
            seg = encode_all(seg.as_bytes());
        }
        match trick % 7 {
            1 => out.push_str("//"),
            2 => out.push_str("/./"),
            3 => out.push_str("/zz/../"),
            4 if i == 0 => out.push_str("/\\"),
            4 => out.push('\\'),
            5 => out.push_str("/x%2F..%2F"),
            6 => out.push_str("/%2e/"),
            _ => out.push('/'),
        }
        out.push_str(&seg);
        if trick % 3 == 1 {
            out.push_str(";jsessionid=1");
        }
    }
    if out.is_empty() || tricks.first().is_some_and(|t| t % 2 == 0) {
        out.push('/');
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn resolve_is_total(method in "\\PC{0,12}", target in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = resolve(&method, &target);
    }

    #[test]
    fn resolve_is_total_on_url_like_input(target in "[/%.;?&=\\[\\]a-zA-Z0-9+#\\\\]{0,60}") {
        let _ = resolve("GET", target.as_bytes());
    }

    #[test]
    fn spellings_resolve_like_the_plain_path(
        page in 0..PAGES.len(),
        method in 0..METHODS.len(),
        tricks in proptest::collection::vec(any::<u8>(), 1..4),
        query in "(module=[a-zA-Z]{0,8})?",
        fragment in any::<bool>(),
        absolute in any::<bool>(),
    ) {
        let plain = format!("/{}?{query}", PAGES[page]);
        let mut spelled = format!("{}?{query}", spell(PAGES[page], &tricks));
        if fragment {
            spelled.push_str("#module=marks");
        }
        if absolute {
            spelled = format!("http://diary.example{spelled}");
        }
        let m = METHODS[method];
        prop_assert_eq!(resolve(m, spelled.as_bytes()), resolve(m, plain.as_bytes()), "{}", spelled);
    }

    #[test]
    fn resolve_agrees_with_its_canonical_form(
        target in "/[/%.;?&=\\[\\]a-zA-Z0-9+\\\\]{0,60}",
        method in 0..METHODS.len(),
    ) {
        let Some((path, query)) = split_target(target.as_bytes()) else {
            return Err(TestCaseError::fail("origin-form must split"));
        };
        let canonical: String = normalize_path(path)
            .iter()
            .map(|s| format!("/{}", encode_all(s)))
            .collect::<String>();
        let canonical = format!("{canonical}/?{}", String::from_utf8_lossy(query));
        let m = METHODS[method];
        prop_assert_eq!(resolve(m, target.as_bytes()), resolve(m, canonical.as_bytes()), "{}", canonical);
    }
}

#[test]
fn spell_produces_tricky_targets() {
    assert_eq!(spell("marks", &[0]), "/marks/");
    assert_eq!(spell("api/me", &[3, 9]), "/zz/../APi/./Me");
    assert_eq!(
        resolve("GET", spell("marks", &[6]).as_bytes()),
        Route::Marks
    );
}
