//! Strict, single percent-decoding of one component of a request-target, and the
//! refusals that go with it (see the threat in [`super::canonical`]): invalid escapes,
//! encoded `/`, `\`, `?` and `#` in paths, NUL and control bytes, decoding that yields a new
//! escape (double encoding), non-UTF-8, and characters that some platform folds onto
//! ASCII letters.

use super::canonical::Reject;

/// Which part of the target a component comes from (they decode differently).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    Path,
    Query,
}

/// Strict single percent-decoding of one component (a path segment, a query name or
/// value). `+` is a space in the query only.
pub(crate) fn decode_component(raw: &str, part: Component) -> Result<String, Reject> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'%' => {
                let hex = |k: usize| bytes.get(k).and_then(|c| (*c as char).to_digit(16));
                let (Some(hi), Some(lo)) = (hex(i + 1), hex(i + 2)) else {
                    return Err(Reject::InvalidPercentEncoding);
                };
                let byte = (hi * 16 + lo) as u8;
                if part == Component::Path && byte == b'/' {
                    return Err(Reject::EncodedSlash);
                }
                if part == Component::Path && byte == b'\\' {
                    return Err(Reject::EncodedBackslash);
                }
                // A diary that decodes before splitting would see a query or fragment.
                if part == Component::Path && matches!(byte, b'?' | b'#') {
                    return Err(Reject::EncodedDelimiter);
                }
                out.push(byte);
                i += 3;
            }
            b'+' if part == Component::Query => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    if let Some(&b) = out.iter().find(|b| **b < 0x20 || **b == 0x7f) {
        return Err(if b == 0 {
            Reject::NulByte
        } else {
            Reject::ControlCharacter
        });
    }
    // Decoding must not produce a new escape (`%2541`, `%25%34%31` → `%41`).
    let escape =
        |w: &[u8]| matches!(w, [b'%', a, b] if a.is_ascii_hexdigit() && b.is_ascii_hexdigit());
    if out.windows(3).any(escape) {
        return Err(Reject::DoubleEncoding);
    }
    let s = String::from_utf8(out).map_err(|_| Reject::InvalidUtf8)?;
    if s.chars().any(is_confusable) {
        return Err(Reject::ConfusableCharacter);
    }
    Ok(s)
}

/// Non-ASCII characters that some platform may fold onto ASCII letters, or that hide.
fn is_confusable(c: char) -> bool {
    if c.is_ascii() {
        return false;
    }
    // Also one mapping deep (`ẞ` → `ß` → `SS`), so lowercasing stays idempotent.
    let folds_to_ascii = c.to_lowercase().any(|l| l.is_ascii())
        || c.to_uppercase().any(|u| u.is_ascii())
        || c.to_lowercase()
            .flat_map(char::to_uppercase)
            .any(|u| u.is_ascii())
        || c.to_uppercase()
            .flat_map(char::to_lowercase)
            .any(|l| l.is_ascii());
    let cp = c as u32;
    let suspicious_block = matches!(cp,
        0x0080..=0x009F         // C1 controls
        | 0x00A0..=0x02AF       // Latin-1 symbols, accented Latin, IPA: Windows
                                // "best fit" code-page conversion maps á → a, ² → 2
        | 0x1E00..=0x1EFF       // Latin extended additional
        | 0x0300..=0x036F       // combining diacritics
        | 0x1D00..=0x1DBF       // phonetic small capitals, modifier letters
        | 0x200B..=0x200F       // zero-width, direction marks
        | 0x202A..=0x202E       // bidi embeddings
        | 0x2060..=0x2064       // word joiner, invisible operators
        | 0x2070..=0x209F       // super- and subscripts
        | 0x2100..=0x214F       // letterlike symbols
        | 0x2160..=0x217F       // roman numerals
        | 0x24B6..=0x24E9       // circled letters
        | 0xFE00..=0xFE0F       // variation selectors
        | 0xFEFF                // BOM
        | 0xFF01..=0xFF5E       // fullwidth ASCII
        | 0x1D400..=0x1D7FF     // mathematical alphanumerics
        | 0x1F130..=0x1F189     // squared / negative letters
        | 0xE0000..=0xE007F // tags
    );
    folds_to_ascii || suspicious_block
}
