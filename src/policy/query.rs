//! Query strings read the way the legacy diary's platform reads them: PHP's
//! `parse_str` / `$_GET` rules (php_default_treat_data + php_register_variable_ex).
//!
//! Why it matters: the diary routes some pages by query (`/index.php?module=marks`),
//! so the gateway must see the same `module` the diary will see, and must notice when a
//! request tries to make the two disagree.
//!
//! Rules implemented (PHP 8 behaviour, documented in the PHP manual for `parse_str`
//! and "Variables From External Sources"):
//! - pairs are separated by `&` only (`arg_separator.input` defaults to `"&"`; `;` is a
//!   literal character in names and values);
//! - a pair without `=` has the empty value; an empty pair (`&&`) is skipped;
//! - `+` is a space, then percent-decoding (strict here: see [`decode_component`]);
//! - names: leading spaces dropped; before the first `[`, ` ` and `.` become `_`; `a[]`
//!   appends, `a[k]` sets key `k`, `a[k][]` nests; an unmatched first `[` becomes `_`
//!   and the rest of the name is kept literally (`a[b.c` → `a_b.c`); anything after a
//!   closed index that is not `[` is ignored (`a[b]c` → `a[b]`); a name that is empty
//!   after this (`=x`, `[]=x`, ` =x`) is ignored, as PHP ignores it;
//! - the last duplicate wins; a scalar assigned later replaces an array and vice versa.
//!
//! Fail-closed support: [`PhpQuery::is_ambiguous`] tells the decision when a protected
//! parameter was sent more than once, as an array, or in a spelling other than its plain
//! name (`module.`, ` module`, `MODULE`, `module[]`…), so such requests are treated as
//! asking for the protected page.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::canonical::Reject;
use super::decode::{Component, decode_component};

/// PHP's `max_input_nesting_level` default: deeper names are dropped by PHP.
const MAX_NESTING: usize = 64;

/// Bytes escaped when a query component is re-encoded for forwarding. Everything that
/// could change how the diary splits or decodes the pair is escaped (`&`, `=`, `+`,
/// `;`, `%`, `#`, space, non-ASCII…); brackets stay readable (PHP decodes `%5B` to `[`
/// before reading indices, so both spellings mean the same).
const QUERY_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'[')
    .remove(b']')
    .remove(b'!')
    .remove(b'$')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b',')
    .remove(b'/')
    .remove(b':')
    .remove(b'@');

/// A PHP value as `$_GET` would hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhpValue {
    Str(String),
    /// Keys in insertion order, as PHP arrays keep them.
    Array(Vec<(String, PhpValue)>),
}

/// One `name=value` pair as sent, percent-decoded (name not yet mangled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub value: String,
}

/// How a protected parameter name showed up in the query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spellings {
    /// Pairs whose name could mean this parameter (same letters, any case/punctuation).
    pub occurrences: usize,
    /// Of those, pairs not spelled exactly as the plain name (`module.`, `MODULE`…).
    pub other_spellings: usize,
    /// Of those, pairs that make an array (`module[]`, `module[x]`).
    pub arrays: usize,
}

/// A parsed query string: the pairs (for forwarding) and the PHP variables (for matching).
#[derive(Debug, Clone, Default)]
pub struct PhpQuery {
    params: Vec<Param>,
    vars: Vec<(String, PhpValue)>,
}

/// Equality is on the pairs: the variables are a function of them.
impl PartialEq for PhpQuery {
    fn eq(&self, other: &Self) -> bool {
        self.params == other.params
    }
}
impl Eq for PhpQuery {}

impl PhpQuery {
    /// Parses the raw query (without `?`). Bad encodings are refused, never guessed.
    pub fn parse(raw: &str, max_params: usize) -> Result<Self, Reject> {
        let mut q = PhpQuery::default();
        for pair in raw.split('&').filter(|p| !p.is_empty()) {
            if q.params.len() >= max_params {
                return Err(Reject::TooManyParameters);
            }
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = decode_component(name, Component::Query)?;
            let value = decode_component(value, Component::Query)?;
            let Some((base, indices)) = php_var_path(&name) else {
                continue; // PHP ignores the pair; so do we, and we do not forward it.
            };
            if indices.len() > MAX_NESTING {
                continue;
            }
            insert(&mut q.vars, Some(&base), &indices, value.clone());
            q.params.push(Param { name, value });
        }
        Ok(q)
    }

    /// The same model over pairs that are already decoded (multipart form fields). A
    /// name or value with a NUL or another control byte (but tab/CR/LF in values) is
    /// refused: PHP truncates names at NUL, and the gateway must not guess how.
    pub fn from_pairs<I>(pairs: I, max_params: usize) -> Result<Self, Reject>
    where
        I: IntoIterator<Item = (String, String)>,
    {
        let mut q = PhpQuery::default();
        for (name, value) in pairs {
            if q.params.len() >= max_params {
                return Err(Reject::TooManyParameters);
            }
            if name.chars().any(char::is_control) {
                return Err(Reject::ControlCharacter);
            }
            if value
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\t' | '\r' | '\n'))
            {
                return Err(Reject::ControlCharacter);
            }
            let Some((base, indices)) = php_var_path(&name) else {
                continue;
            };
            if indices.len() > MAX_NESTING {
                continue;
            }
            insert(&mut q.vars, Some(&base), &indices, value.clone());
            q.params.push(Param { name, value });
        }
        Ok(q)
    }

    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// `$_GET[name]` when it is a string (an array yields `None`, as a scalar read would).
    pub fn get_scalar(&self, name: &str) -> Option<&str> {
        match self.get(name)? {
            PhpValue::Str(s) => Some(s),
            PhpValue::Array(_) => None,
        }
    }

    /// `$_GET[name]`, whatever its shape.
    pub fn get(&self, name: &str) -> Option<&PhpValue> {
        self.vars.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// Every pair that could be read as `name` by a lenient platform.
    pub fn raw_spellings(&self, name: &str) -> Spellings {
        let wanted = skeleton(name);
        let mut s = Spellings::default();
        for p in self.params.iter().filter(|p| skeleton(&p.name) == wanted) {
            s.occurrences += 1;
            if p.name != name {
                s.other_spellings += 1;
            }
            if php_var_path(&p.name).is_some_and(|(_, idx)| !idx.is_empty()) {
                s.arrays += 1;
            }
        }
        s
    }

    /// True when `name` was not sent exactly once, as a plain scalar, spelled plainly.
    /// Such a request must be treated as asking for the protected page (fail closed).
    pub fn is_ambiguous(&self, name: &str) -> bool {
        let s = self.raw_spellings(name);
        s.occurrences > 1 || s.other_spellings > 0 || s.arrays > 0
    }

    /// The query as forwarded: every kept pair, re-encoded unambiguously, in order.
    pub fn to_query_string(&self) -> String {
        let mut out = String::new();
        for (i, p) in self.params.iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            out.extend(utf8_percent_encode(&p.name, QUERY_ENCODE));
            out.push('=');
            out.extend(utf8_percent_encode(&p.value, QUERY_ENCODE));
        }
        out
    }
}

/// Letters and digits of the name before any `[`, lowercased: `module`, ` Module.`,
/// `MODULE[]`, `mo_dule` all share the skeleton `module`. Deliberately broad.
fn skeleton(name: &str) -> String {
    name.chars()
        .take_while(|c| *c != '[')
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// PHP's variable name mangling: `(base, indices)`, or `None` when PHP ignores the pair.
/// An index of `None` is `[]` (append).
fn php_var_path(name: &str) -> Option<(String, Vec<Option<String>>)> {
    let s = name.trim_start_matches(' ');
    let mut base = String::new();
    let mut rest = None;
    for (i, c) in s.char_indices() {
        match c {
            ' ' | '.' => base.push('_'),
            '[' => {
                rest = Some(&s[i..]);
                break;
            }
            c => base.push(c),
        }
    }
    if base.is_empty() {
        return None;
    }
    let mut indices = Vec::new();
    let mut r = rest.unwrap_or("");
    while let Some(inner) = r.strip_prefix('[') {
        match inner.find(']') {
            Some(j) => {
                indices.push((j > 0).then(|| inner[..j].to_string()));
                r = &inner[j + 1..];
            }
            None => {
                if indices.is_empty() {
                    // Unmatched first `[`: it becomes `_`, the rest is kept verbatim.
                    base.push('_');
                    base.push_str(inner);
                }
                break;
            }
        }
    }
    Some((base, indices))
}

/// `$_GET[key][idx0][idx1]... = value`, with PHP's overwrite and append rules.
fn insert(
    map: &mut Vec<(String, PhpValue)>,
    key: Option<&str>,
    path: &[Option<String>],
    value: String,
) {
    let key = match key {
        Some(k) => k.to_string(),
        None => next_index(map).to_string(),
    };
    let pos = match map.iter().position(|(k, _)| *k == key) {
        Some(pos) => pos,
        None => {
            map.push((key, PhpValue::Array(Vec::new())));
            map.len() - 1
        }
    };
    let Some(slot) = map.get_mut(pos).map(|(_, v)| v) else {
        return;
    };
    match path.split_first() {
        None => *slot = PhpValue::Str(value),
        Some((first, rest)) => {
            if !matches!(slot, PhpValue::Array(_)) {
                *slot = PhpValue::Array(Vec::new());
            }
            if let PhpValue::Array(inner) = slot {
                insert(inner, first.as_deref(), rest, value);
            }
        }
    }
}

/// PHP's next append index: one past the largest integer key, or 0.
fn next_index(map: &[(String, PhpValue)]) -> i64 {
    map.iter()
        .filter_map(|(k, _)| k.parse::<i64>().ok())
        .max()
        .map_or(0, |m| m.saturating_add(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(raw: &str) -> PhpQuery {
        PhpQuery::parse(raw, 256).unwrap()
    }

    fn s(v: &str) -> PhpValue {
        PhpValue::Str(v.to_string())
    }

    #[test]
    fn php_manual_examples() {
        // From the parse_str manual page.
        let x = q("first=value&arr[]=foo+bar&arr[]=baz");
        assert_eq!(x.get_scalar("first"), Some("value"));
        assert_eq!(
            x.get("arr"),
            Some(&PhpValue::Array(vec![
                ("0".into(), s("foo bar")),
                ("1".into(), s("baz"))
            ]))
        );
        // "My Value" with dots and spaces in the name.
        let x = q("My+Value.x=1");
        assert_eq!(x.get_scalar("My_Value_x"), Some("1"));
    }

    #[test]
    fn name_mangling() {
        assert_eq!(q("%20%20a=1").get_scalar("a"), Some("1"));
        assert_eq!(q("a.b=1").get_scalar("a_b"), Some("1"));
        assert_eq!(q("a b=1").get_scalar("a_b"), Some("1"));
        assert_eq!(q("a[b.c=1").get_scalar("a_b.c"), Some("1"));
        assert_eq!(
            q("a[b]c=1").get("a"),
            Some(&PhpValue::Array(vec![("b".into(), s("1"))]))
        );
        assert_eq!(
            q("a[x][]=1").get("a"),
            Some(&PhpValue::Array(vec![(
                "x".into(),
                PhpValue::Array(vec![("0".into(), s("1"))])
            )]))
        );
        assert!(q("=1&[]=2&%20=3").is_empty());
    }

    #[test]
    fn separators_and_values() {
        let x = q("a=1;b=2");
        assert_eq!(x.get_scalar("a"), Some("1;b=2"));
        assert_eq!(q("a").get_scalar("a"), Some(""));
        assert_eq!(q("a=b=c").get_scalar("a"), Some("b=c"));
        assert_eq!(q("a=%2B+x").get_scalar("a"), Some("+ x"));
        assert_eq!(q("&&a=1&&").params().len(), 1);
    }

    #[test]
    fn last_duplicate_wins_and_shapes_replace() {
        assert_eq!(
            q("module=stats&module=marks").get_scalar("module"),
            Some("marks")
        );
        assert_eq!(q("a[]=1&a=2").get_scalar("a"), Some("2"));
        assert_eq!(q("a=2&a[]=1").get_scalar("a"), None);
        assert_eq!(
            q("a[5]=x&a[]=y").get("a"),
            Some(&PhpValue::Array(vec![
                ("5".into(), s("x")),
                ("6".into(), s("y"))
            ]))
        );
    }

    #[test]
    fn ambiguity_of_protected_names() {
        assert!(!q("module=marks").is_ambiguous("module"));
        assert!(!q("mod%75le=marks").is_ambiguous("module"));
        assert!(!q("other=1&module=marks").is_ambiguous("module"));
        for hostile in [
            "module=marks&module=x",
            "module=x&MODULE=marks",
            "module.=marks",
            "%20module=marks",
            "module[]=marks",
            "module[0]=marks",
            "MODULE=marks",
            "Module=marks",
            "mod_ule=marks",
            "module=MARKS&module=marks",
            "module[=marks",
        ] {
            assert!(q(hostile).is_ambiguous("module"), "{hostile}");
        }
    }

    #[test]
    fn bad_encodings_are_refused() {
        for (raw, want) in [
            ("a=%zz", "invalid-percent-encoding"),
            ("a=%4", "invalid-percent-encoding"),
            ("a=%00", "nul-byte"),
            ("a=%0a", "control-character"),
            ("a=%252F", "double-encoding"),
            ("a=%C0%AF", "invalid-utf8"),
            ("a=mar%E2%84%AAs", "confusable-character"),
        ] {
            let err = PhpQuery::parse(raw, 256).unwrap_err();
            assert_eq!(err.as_str(), want, "{raw}");
        }
        assert_eq!(
            PhpQuery::parse("a=1&b=2&c=3", 2).unwrap_err().as_str(),
            "too-many-parameters"
        );
    }

    #[test]
    fn forwarding_round_trips() {
        for raw in [
            "a=1",
            "mod%75le=marks",
            "a+b=c+d",
            "x=%25zz",
            "a[]=1&a[k]=%26",
            "n=%D0%BE%D1%86",
        ] {
            let x = q(raw);
            let again = q(&x.to_query_string());
            assert_eq!(x, again, "{raw}");
            assert_eq!(again.to_query_string(), x.to_query_string());
        }
        assert_eq!(q("mod%75le=a+b").to_query_string(), "module=a%20b");
    }
}
