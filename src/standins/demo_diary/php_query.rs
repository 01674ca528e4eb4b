//! Query strings and form bodies read the way PHP fills `$_GET`/`$_POST`
//! (`php_default_treat_data` + `php_register_variable_ex`), plus the diary's own name
//! folding. The quirks are listed, with examples, in [`super::quirks`] (10–17).

use super::quirks::percent_decode;

/// PHP's `max_input_nesting_level`: deeper variables are dropped whole.
const MAX_NESTING: usize = 64;

/// One PHP input value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhpValue {
    Scalar(Vec<u8>),
    /// Keys kept as strings; `[]` appends under the next numeric key.
    Array(Vec<(Vec<u8>, PhpValue)>),
}

/// Parsed parameters, in PHP's insertion order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PhpParams {
    vars: Vec<(Vec<u8>, PhpValue)>,
}

impl PhpParams {
    /// Parses `a=1&b[]=2…` (query string or `application/x-www-form-urlencoded`).
    pub fn parse(input: &[u8]) -> Self {
        let mut params = Self::default();
        for pair in input.split(|&b| b == b'&') {
            let (raw_name, raw_value) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            let name = percent_decode(raw_name, true);
            let value = percent_decode(raw_value, true);
            params.register(&name, value);
        }
        params
    }

    /// The scalar value of `name`; `None` when absent or an array (quirk 14).
    pub fn scalar(&self, name: &str) -> Option<&[u8]> {
        match self.get(name)? {
            PhpValue::Scalar(v) => Some(v),
            PhpValue::Array(_) => None,
        }
    }

    /// The scalar value as text (invalid UTF-8 replaced).
    pub fn text(&self, name: &str) -> Option<String> {
        self.scalar(name)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    pub fn get(&self, name: &str) -> Option<&PhpValue> {
        let name = name.as_bytes().to_ascii_lowercase();
        self.vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    fn register(&mut self, name: &[u8], value: Vec<u8>) {
        // Quirk 12: names are C strings.
        let name = match name.iter().position(|&b| b == 0) {
            Some(i) => &name[..i],
            None => name,
        };
        // Quirk 13: leading spaces go.
        let start = name.iter().position(|&b| b != b' ').unwrap_or(name.len());
        let name = &name[start..];
        let mut base = Vec::with_capacity(name.len());
        let mut bracket = None;
        for (i, &b) in name.iter().enumerate() {
            match b {
                b' ' | b'.' => base.push(b'_'),
                b'[' => {
                    bracket = Some(i);
                    break;
                }
                _ => base.push(b),
            }
        }
        if base.is_empty() {
            return;
        }
        // Quirk 15: the diary folds names.
        base.make_ascii_lowercase();
        let Some(bracket) = bracket else {
            set(&mut self.vars, base, value);
            return;
        };
        match parse_indices(&name[bracket..]) {
            Indices::Plain(rest) => {
                base.push(b'_');
                base.extend(rest.iter().map(|&b| match b {
                    b' ' | b'.' | b'[' => b'_',
                    _ => b,
                }));
                set(&mut self.vars, base, value);
            }
            Indices::Path(path) if path.len() > MAX_NESTING => {
                self.vars.retain(|(k, _)| *k != base);
            }
            Indices::Path(path) => {
                if let Some(slot) = array_slot(&mut self.vars, base) {
                    insert_path(slot, &path, value);
                }
            }
        }
    }
}

enum Indices<'a> {
    /// The first `[` had no `]`: the name is plain, this is what followed the `[`.
    Plain(&'a [u8]),
    /// One entry per `[…]`; `None` is `[]` (append).
    Path(Vec<Option<Vec<u8>>>),
}

/// Reads `[a][]…` starting at the first `[`; junk after a `]` ends the list.
fn parse_indices(s: &[u8]) -> Indices<'_> {
    let mut path = Vec::new();
    let mut pos = 0; // at a '['
    loop {
        let index_start = pos + 1;
        let mut probe = index_start;
        if s.get(probe)
            .is_some_and(|b| b.is_ascii_whitespace() || *b == 0x0b)
        {
            probe += 1;
        }
        let close = if s.get(probe) == Some(&b']') {
            path.push(None);
            probe
        } else {
            match s
                .get(probe..)
                .and_then(|t| t.iter().position(|&b| b == b']'))
            {
                Some(off) => {
                    let close = probe + off;
                    path.push(Some(s.get(index_start..close).unwrap_or_default().to_vec()));
                    close
                }
                None if path.is_empty() => {
                    return Indices::Plain(s.get(index_start..).unwrap_or_default());
                }
                None => return Indices::Path(path),
            }
        };
        if s.get(close + 1) == Some(&b'[') {
            pos = close + 1;
        } else {
            return Indices::Path(path);
        }
    }
}

fn set(vars: &mut Vec<(Vec<u8>, PhpValue)>, key: Vec<u8>, value: Vec<u8>) {
    match vars.iter_mut().find(|(k, _)| *k == key) {
        Some((_, v)) => *v = PhpValue::Scalar(value),
        None => vars.push((key, PhpValue::Scalar(value))),
    }
}

/// The array stored under `key`, created (or replacing a scalar) when needed.
fn array_slot(
    vars: &mut Vec<(Vec<u8>, PhpValue)>,
    key: Vec<u8>,
) -> Option<&mut Vec<(Vec<u8>, PhpValue)>> {
    let i = match vars.iter().position(|(k, _)| *k == key) {
        Some(i) => i,
        None => {
            vars.push((key, PhpValue::Array(Vec::new())));
            vars.len() - 1
        }
    };
    let slot = &mut vars.get_mut(i)?.1;
    if matches!(slot, PhpValue::Scalar(_)) {
        *slot = PhpValue::Array(Vec::new());
    }
    match slot {
        PhpValue::Array(items) => Some(items),
        PhpValue::Scalar(_) => None,
    }
}

fn insert_path(items: &mut Vec<(Vec<u8>, PhpValue)>, path: &[Option<Vec<u8>>], value: Vec<u8>) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    let key = match first {
        Some(k) => k.clone(),
        None => next_index(items),
    };
    if rest.is_empty() {
        set(items, key, value);
    } else {
        if let Some(slot) = array_slot(items, key) {
            insert_path(slot, rest, value);
        }
    }
}

fn next_index(items: &[(Vec<u8>, PhpValue)]) -> Vec<u8> {
    let next = items
        .iter()
        .filter_map(|(k, _)| std::str::from_utf8(k).ok()?.parse::<u64>().ok())
        .max()
        .map_or(0, |m| m.saturating_add(1));
    next.to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(q: &str, name: &str) -> Option<String> {
        PhpParams::parse(q.as_bytes()).text(name)
    }

    #[test]
    fn last_duplicate_wins_and_names_fold() {
        assert_eq!(
            scalar("module=stats&module=marks", "module").as_deref(),
            Some("marks")
        );
        assert_eq!(
            scalar("MODULE=stats&module=marks", "module").as_deref(),
            Some("marks")
        );
        assert_eq!(
            scalar("module=marks&Module=stats", "module").as_deref(),
            Some("stats")
        );
    }

    #[test]
    fn names_are_decoded_and_mangled_like_php() {
        assert_eq!(scalar("mod%75le=marks", "module").as_deref(), Some("marks"));
        assert_eq!(
            scalar("module%00junk=marks", "module").as_deref(),
            Some("marks")
        );
        assert_eq!(scalar("++module=marks", "module").as_deref(), Some("marks"));
        assert_eq!(scalar("a.b=1", "a_b").as_deref(), Some("1"));
        assert_eq!(scalar("a+b=1", "a_b").as_deref(), Some("1"));
        assert_eq!(scalar("a[b.c=1", "a_b_c").as_deref(), Some("1"));
        assert_eq!(scalar("module[=marks", "module_").as_deref(), Some("marks"));
        assert_eq!(scalar("module[=marks", "module"), None);
        assert_eq!(scalar("module", "module").as_deref(), Some(""));
        assert_eq!(scalar("=x&&", ""), None);
        assert_eq!(scalar("r=/a+b%2Bc", "r").as_deref(), Some("/a b+c"));
        assert_eq!(
            scalar("a=1;module=marks", "a").as_deref(),
            Some("1;module=marks")
        );
    }

    #[test]
    fn arrays_hide_scalars_and_the_last_kind_wins() {
        let p = PhpParams::parse(b"module[]=marks");
        assert_eq!(p.scalar("module"), None);
        assert!(matches!(p.get("module"), Some(PhpValue::Array(_))));
        assert_eq!(scalar("module=marks&module[x]=1", "module"), None);
        assert_eq!(
            scalar("module[]=x&module=marks", "module").as_deref(),
            Some("marks")
        );
        assert_eq!(scalar("module[ ]=x", "module"), None);
        assert_eq!(scalar("module[a]junk=x", "module"), None);
    }

    #[test]
    fn nested_arrays_append_and_set() {
        let p = PhpParams::parse(b"a[]=x&a[]=y&a[k][]=z");
        let Some(PhpValue::Array(items)) = p.get("a") else {
            panic!("array expected");
        };
        assert_eq!(items.len(), 3);
        assert_eq!(items[1], (b"1".to_vec(), PhpValue::Scalar(b"y".to_vec())));
        let deep = format!("a{}=1&b=2", "[x]".repeat(65));
        let p = PhpParams::parse(deep.as_bytes());
        assert_eq!(p.get("a"), None);
        assert_eq!(p.text("b").as_deref(), Some("2"));
    }
}
