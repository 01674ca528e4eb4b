//! PHP's input-variable model, the one place where the diary turns raw request data
//! into `$_GET`, `$_POST` and `$_COOKIE` (`php_default_treat_data`, `add_post_var` and
//! `php_register_variable_ex` of PHP 8), plus the diary's own name folding. Query strings
//! and cookies are parsed here; form bodies in [`super::php_form`], which registers
//! through the same [`PhpParams::register`]. The quirks are listed, with examples, in
//! [`super::quirks`] (10–17, 19, 21).

use super::quirks::percent_decode;

/// PHP's `max_input_nesting_level`: deeper variables are dropped whole.
const MAX_NESTING: usize = 64;

/// PHP's `max_input_vars`.
pub(super) const MAX_INPUT_VARS: usize = 1000;

/// One PHP input value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhpValue {
    Scalar(Vec<u8>),
    /// Keys kept as strings; `[]` appends under the next numeric key.
    Array(Vec<(Vec<u8>, PhpValue)>),
}

/// Which superglobal is being filled: names are folded for `$_GET`/`$_POST` (the
/// diary's framework did it), never for `$_COOKIE`, where the first cookie wins.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Source {
    #[default]
    Form,
    Cookie,
}

/// Parsed parameters, in PHP's insertion order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PhpParams {
    vars: Vec<(Vec<u8>, PhpValue)>,
    source: Source,
}

impl PhpParams {
    /// `$_GET` from a raw query string (`a=1&b[]=2…`): pairs split on `&` with empty
    /// ones skipped, names and values decoded with `+` as a space, at most
    /// `max_input_vars` pairs.
    pub fn parse(query: &[u8]) -> Self {
        let mut params = Self::default();
        let pairs = query.split(|&b| b == b'&').filter(|p| !p.is_empty());
        for pair in pairs.take(MAX_INPUT_VARS) {
            params.register_pair(pair);
        }
        params
    }

    /// `$_POST` from an `application/x-www-form-urlencoded` body. Unlike a query
    /// string, empty pairs count towards `max_input_vars`, and PHP stops only after
    /// registering the pair that went over the limit (`add_post_vars`).
    pub(super) fn parse_urlencoded_body(body: &[u8]) -> Self {
        let mut params = Self::default();
        let mut rest = body;
        let mut count = 0;
        while !rest.is_empty() {
            let (pair, next) = match rest.iter().position(|&b| b == b'&') {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, &[][..]),
            };
            params.register_pair(pair);
            rest = next;
            count += 1;
            if count > MAX_INPUT_VARS {
                break;
            }
        }
        params
    }

    /// `$_COOKIE` from a `Cookie` header (several headers joined with `; `): pairs split
    /// on `;`, leading whitespace of a name dropped, names NOT decoded, values decoded
    /// without `+` (`php_raw_url_decode`), the first of a name wins, names not folded.
    pub fn parse_cookies(header: &[u8]) -> Self {
        let mut params = Self {
            source: Source::Cookie,
            ..Self::default()
        };
        let mut count = 0;
        for token in header.split(|&b| b == b';').filter(|p| !p.is_empty()) {
            let start = token
                .iter()
                .position(|&b| !is_c_space(b))
                .unwrap_or(token.len());
            let token = &token[start..];
            if token.is_empty() || token[0] == b'=' {
                continue;
            }
            count += 1;
            if count > MAX_INPUT_VARS {
                break;
            }
            let (name, value) = match token.iter().position(|&b| b == b'=') {
                Some(i) => (&token[..i], percent_decode(&token[i + 1..], false)),
                None => (token, Vec::new()),
            };
            params.register(name, value);
        }
        params
    }

    /// An empty `$_POST`, for bodies PHP does not parse.
    pub(super) fn empty_form() -> Self {
        Self::default()
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

    /// The value of `name` as the diary looks it up: case-insensitively in `$_GET` and
    /// `$_POST` (their names are folded), exactly in `$_COOKIE`.
    pub fn get(&self, name: &str) -> Option<&PhpValue> {
        let name = match self.source {
            Source::Form => name.as_bytes().to_ascii_lowercase(),
            Source::Cookie => name.as_bytes().to_vec(),
        };
        self.vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    /// Every top-level variable with its (folded, for forms) name, in PHP's order.
    pub fn vars(&self) -> &[(Vec<u8>, PhpValue)] {
        &self.vars
    }

    /// `name=value` of a query string or urlencoded body, both decoded with `+` as a space.
    fn register_pair(&mut self, pair: &[u8]) {
        let (raw_name, raw_value) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &[][..]),
        };
        let name = percent_decode(raw_name, true);
        let value = percent_decode(raw_value, true);
        self.register(&name, value);
    }

    /// `php_register_variable_ex`: one decoded name and its value.
    pub(super) fn register(&mut self, name: &[u8], value: Vec<u8>) {
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
        if base.is_empty() || forged_cookie_prefix(&base, name) {
            return;
        }
        // Quirk 15: the diary folds names of forms and query strings.
        if self.source == Source::Form {
            base.make_ascii_lowercase();
        }
        let Some(bracket) = bracket else {
            // Quirk 19: the first plain cookie of a name wins.
            if self.source == Source::Cookie && self.vars.iter().any(|(k, _)| *k == base) {
                return;
            }
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

/// C's `isspace` in the "C" locale.
pub(super) fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// PHP 8 drops a variable whose mangling made it start with `__Host-` or `__Secure-`
/// when the name as sent did not.
fn forged_cookie_prefix(mangled: &[u8], sent: &[u8]) -> bool {
    [&b"__Host-"[..], b"__Secure-"]
        .iter()
        .any(|p| mangled.starts_with(p) && !sent.starts_with(p))
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
        if s.get(probe).is_some_and(|&b| is_c_space(b)) {
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

    #[test]
    fn query_strings_stop_at_max_input_vars_and_skip_empty_pairs() {
        let mut q = "&&".to_owned();
        for i in 0..MAX_INPUT_VARS - 1 {
            q.push_str(&format!("v{i}=1&"));
        }
        let p = PhpParams::parse(format!("{q}module=marks&after=1").as_bytes());
        assert_eq!(p.text("module").as_deref(), Some("marks"));
        assert_eq!(p.text("after"), None);
        assert_eq!(p.vars().len(), MAX_INPUT_VARS);
    }

    #[test]
    fn cookies_keep_case_skip_decoding_names_and_the_first_wins() {
        let p = PhpParams::parse_cookies(b" RIDSESSID=a%2Bb+c; RIDSESSID=second; ridsessid=low");
        assert_eq!(p.scalar("RIDSESSID"), Some(&b"a+b+c"[..]));
        assert_eq!(p.scalar("ridsessid"), Some(&b"low"[..]));
        let p = PhpParams::parse_cookies(b"RID%53ESSID=x;\t=y; ;a.b=1; c=1=2");
        assert_eq!(p.scalar("RIDSESSID"), None);
        assert_eq!(p.scalar("RID%53ESSID"), Some(&b"x"[..]));
        assert_eq!(p.scalar("a_b"), Some(&b"1"[..]));
        assert_eq!(p.scalar("c"), Some(&b"1=2"[..]));
        // An array under the session name is no session id.
        let p = PhpParams::parse_cookies(b"RIDSESSID=a; RIDSESSID[]=b");
        assert_eq!(p.scalar("RIDSESSID"), None);
        let p = PhpParams::parse_cookies(b"RIDSESSID[]=b; RIDSESSID=a");
        assert_eq!(p.scalar("RIDSESSID"), None);
    }

    #[test]
    fn mangling_into_a_secure_prefix_drops_the_variable() {
        assert_eq!(scalar("._Host-x=1", "__host-x"), None);
        assert_eq!(scalar("__Host-x=1", "__host-x").as_deref(), Some("1"));
        assert_eq!(scalar("_.Secure-y=1", "__secure-y"), None);
    }
}
