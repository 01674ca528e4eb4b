//! Name matching at linking, against the spellings real records have
//! (`tests/data/name_matching.tsv`: ESIA's fields on the left, the diary's display string
//! on the right, the expected verdict next to each). All failing rows are printed at once.
//!
//! Properties, each named after the flaw it defends against:
//! - `normalize_is_idempotent`: a stored normalised name must compare as it did when it
//!   was written, or audit records and re-checks disagree;
//! - `compare_is_symmetric`: which side is ESIA must not change the verdict;
//! - `keyboard_and_typing_noise_keeps_a_match`: case, NBSP, look-alike Latin letters and
//!   ё never turn the rightful owner away;
//! - `a_changed_letter_is_a_mismatch`: normalisation never hides a real difference.

use esia_gateway::identity::names::{NameVerdict, PersonName, compare, normalize};
use proptest::prelude::*;

const TABLE: &str = include_str!("data/name_matching.tsv");

/// `\u{XXXX}` escapes → the characters (the file cannot show invisible ones).
fn unescape(cell: &str) -> String {
    let mut out = String::new();
    let mut rest = cell;
    while let Some(at) = rest.find("\\u{") {
        out.push_str(&rest[..at]);
        let tail = &rest[at + 3..];
        let end = tail.find('}').expect("closing brace in \\u{…}");
        let code = u32::from_str_radix(&tail[..end], 16).expect("hex code point");
        out.push(char::from_u32(code).expect("valid code point"));
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
}

fn read(cell: &str) -> Result<PersonName, String> {
    let cell = unescape(cell);
    let parsed = match cell.split('|').collect::<Vec<_>>().as_slice() {
        [last, first, middle] => PersonName::from_parts(last, first, Some(middle)),
        [_] => PersonName::parse_display(&cell),
        _ => panic!("{cell:?}: one display string or last|first|middle"),
    };
    parsed.map_err(|e| e.to_string())
}

#[test]
fn every_real_world_spelling_gets_its_verdict() {
    let mut rows = 0;
    let mut failures = Vec::new();
    for (i, line) in TABLE.lines().enumerate() {
        if line.starts_with('#') || line.starts_with("left\t") || line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 4, "line {}: {line:?}", i + 1);
        rows += 1;
        let left = read(cols[0]).unwrap_or_else(|e| panic!("line {}: left: {e}", i + 1));
        let got = match read(cols[1]) {
            Ok(right) => {
                let v = compare(&left, &right);
                assert_eq!(v, compare(&right, &left), "line {}: asymmetric", i + 1);
                v.as_str().to_string()
            }
            Err(_) => "unreadable".to_string(),
        };
        if got != cols[2] {
            failures.push(format!(
                "line {}: {} vs {}: want {}, got {got} ({})",
                i + 1,
                cols[0],
                cols[1],
                cols[2],
                cols[3]
            ));
        }
    }
    assert!(
        rows >= 40,
        "the table must keep at least 40 rows, has {rows}"
    );
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// Any text, heavy on the characters normalisation touches.
fn messy() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            4 => proptest::char::range('А', 'я'),
            2 => proptest::sample::select(vec![
                'ё', 'Ё', 'a', 'A', 'e', 'o', 'p', 'c', 'x', 'y', 'k', 'm', 't', 'h', 'b', 'Ë',
                'ë', 'S', 'z', '-', '–', '—', '\u{2212}', ' ', '\u{a0}', '\t', '.', ',', '_',
                '\u{200b}', '\u{feff}', '\u{ad}', '\u{306}', '\u{308}', '\u{301}', '\'', '’',
                'ß', 'ΐ', 'ŉ', 'ǅ', 'İ', 'ı', '0', '\u{0}', '\n',
            ]),
            1 => any::<char>(),
        ],
        0..40,
    )
    .prop_map(|cs| cs.into_iter().collect())
}

fn cyrillic_word() -> impl Strategy<Value = String> {
    "[а-яё]{2,10}"
}

/// The same word as a careless clerk types it: random case, Latin look-alikes, ё/е.
fn noisy(word: &str, seed: &[u8]) -> String {
    word.chars()
        .zip(seed.iter().cycle())
        .map(|(c, s)| {
            let c = match (c, s % 3) {
                ('а', 0) => 'a',
                ('е', 0) => 'e',
                ('о', 0) => 'o',
                ('р', 0) => 'p',
                ('с', 0) => 'c',
                ('х', 0) => 'x',
                ('е', 1) => 'ё',
                (c, _) => c,
            };
            if s % 2 == 0 {
                c.to_uppercase().collect::<String>()
            } else {
                c.to_string()
            }
        })
        .collect()
}

proptest! {
    #[test]
    fn normalize_is_idempotent(s in messy()) {
        let once = normalize(&s);
        prop_assert_eq!(normalize(&once), once.clone());
    }

    #[test]
    fn compare_is_symmetric(a in messy(), b in messy(), c in messy(), d in messy(), m in messy()) {
        let left = PersonName::from_parts(&a, &b, Some(&m));
        let right = PersonName::from_parts(&c, &d, None);
        let same = PersonName::from_parts(&a, &b, Some(&m));
        if let (Ok(l), Ok(r), Ok(s)) = (left, right, same) {
            prop_assert_eq!(compare(&l, &r), compare(&r, &l));
            prop_assert_eq!(compare(&l, &s), NameVerdict::Match);
        }
        if let (Ok(x), Ok(y)) = (PersonName::parse_display(&a), PersonName::parse_display(&c)) {
            prop_assert_eq!(compare(&x, &y), compare(&y, &x));
        }
    }

    #[test]
    fn keyboard_and_typing_noise_keeps_a_match(
        last in cyrillic_word(),
        first in cyrillic_word(),
        middle in cyrillic_word(),
        seed in proptest::collection::vec(any::<u8>(), 1..8),
        gap in prop_oneof![Just(" "), Just("  "), Just("\u{a0}"), Just(" \t")],
    ) {
        prop_assume!(!["нет", "отсутствует"].contains(&middle.as_str()));
        let esia = PersonName::from_parts(&last, &first, Some(&middle)).unwrap();
        let display = [noisy(&last, &seed), noisy(&first, &seed), noisy(&middle, &seed)].join(gap);
        let diary = PersonName::parse_display(&display).unwrap();
        prop_assert_eq!(compare(&esia, &diary), NameVerdict::Match, "{}", display);
        let short = [noisy(&last, &seed), noisy(&first, &seed)].join(gap);
        let diary = PersonName::parse_display(&short).unwrap();
        prop_assert_eq!(compare(&esia, &diary), NameVerdict::MatchWithoutMiddle);
    }

    #[test]
    fn a_changed_letter_is_a_mismatch(
        last in cyrillic_word(),
        first in cyrillic_word(),
        at in any::<prop::sample::Index>(),
        to in proptest::char::range('а', 'я'),
    ) {
        let chars: Vec<char> = last.chars().collect();
        let i = at.index(chars.len());
        let folded = |c: char| if c == 'ё' { 'е' } else { c };
        prop_assume!(folded(chars[i]) != to);
        let mut changed = chars.clone();
        changed[i] = to;
        let changed: String = changed.into_iter().collect();
        let a = PersonName::from_parts(&last, &first, None).unwrap();
        let b = PersonName::from_parts(&changed, &first, None).unwrap();
        prop_assert_eq!(compare(&a, &b), NameVerdict::Mismatch);
    }
}
