//! `multipart/form-data` read the way PHP 8's `rfc1867.c` reads it, step by step, so the
//! diary sees exactly what a real PHP diary would — including what a careful parser
//! would refuse (quirks 22–24 in [`super::quirks`]):
//!
//! - The boundary is the text after the first `boundary` (any case) and its `=`, up to
//!   `,` or `;` (or inside quotes). A part starts after a line that is exactly
//!   `--boundary` (CRLF or a bare LF ends a line; a NUL ends what is compared); the
//!   final `--boundary--` is just a line that does not match.
//! - Headers run to the first empty line; a line starting with whitespace continues the
//!   previous one. The first `Content-Disposition` (any case) counts; its `name=` and
//!   `filename=` may be quoted with `"` or `'` (backslash escapes the quote), the
//!   first word need not be `form-data`, and the last `name=` wins.
//! - A part with a `name` and no `filename` is a field: its value runs to the first
//!   `\n--boundary` (one `\r` before it dropped) or, when no boundary follows, to the end
//!   of the body. So a missing final boundary keeps every part read so far, and a
//!   body cut inside headers keeps what was complete.
//! - A part with a `filename` (even empty) is a file: never in `$_POST`, and it
//!   protects its name: a later field of the same (normalised) name is dropped. A
//!   part with neither ends the parse.
//! - Field names are not percent-decoded; PHP first normalises them (leading spaces,
//!   blanks inside `[…]`) and then applies the usual variable rules of [`PhpParams`].
//! - Limits: 1000 fields (`max_input_vars`), 1020 parts, 20 files.
//!
//! Not modelled: header lines longer than the 5 KiB window are split by PHP's buffer in
//! ways no browser produces; here a window without a line break is one line, as in PHP.

use std::collections::HashSet;

use super::php_query::{MAX_INPUT_VARS, PhpParams, is_c_space};

/// PHP reads the body through a window of this many bytes (`FILLUNIT`).
const FILLUNIT: usize = 5 * 1024;
/// `max_file_uploads`.
const MAX_FILE_UPLOADS: i64 = 20;
/// `upload_max_filesize` (2M).
const UPLOAD_MAX_FILESIZE: i64 = 2 * 1024 * 1024;

/// `$_POST` of a multipart body; `content_type` is the header as PHP's handler gets it.
pub(super) fn parse(content_type: &[u8], body: &[u8]) -> PhpParams {
    let mut params = PhpParams::empty_form();
    let Some(boundary) = boundary(content_type) else {
        return params;
    };
    let mut buf = Buffer::new(body, boundary);
    let mut form = Form {
        count: 0,
        parts_left: MAX_INPUT_VARS as i64 + MAX_FILE_UPLOADS,
        uploads_left: MAX_FILE_UPLOADS,
        anonymous: 0,
        max_file_size: 0,
        protected: HashSet::new(),
    };
    while !buf.eof() {
        let Some(headers) = buf.headers() else {
            break;
        };
        let Some(disposition) = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(b"Content-Disposition"))
        else {
            continue;
        };
        form.parts_left -= 1;
        if form.parts_left < 0 {
            break;
        }
        match disposition_names(&disposition.1) {
            (Some(name), None) => {
                let value = buf.read_body();
                form.field(&mut params, name, value);
            }
            (None, None) => break,
            (name, Some(filename)) => form.file(&mut buf, name, &filename),
        }
    }
    params
}

/// The boundary parameter, as `rfc1867_post_handler` finds it.
fn boundary(content_type: &[u8]) -> Option<&[u8]> {
    let at = find(content_type, b"boundary")
        .or_else(|| find(&content_type.to_ascii_lowercase(), b"boundary"))?;
    let rest = &content_type[at..];
    let value = &rest[rest.iter().position(|&b| b == b'=')? + 1..];
    if let Some(quoted) = value.strip_prefix(b"\"") {
        let end = quoted.iter().position(|&b| b == b'"')?;
        return Some(&quoted[..end]);
    }
    let end = value
        .iter()
        .position(|&b| b == b',' || b == b';')
        .unwrap_or(value.len());
    Some(&value[..end])
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A line as C code sees it: up to the first NUL.
fn cstr(bytes: &[u8]) -> &[u8] {
    match bytes.iter().position(|&b| b == 0) {
        Some(i) => &bytes[..i],
        None => bytes,
    }
}

fn skip_space(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !is_c_space(b)).unwrap_or(s.len());
    &s[start..]
}

/// PHP's `multipart_buffer`: a window of `size` bytes over the body, `data[pos..filled]`.
struct Buffer<'a> {
    data: &'a [u8],
    pos: usize,
    filled: usize,
    size: usize,
    /// `--boundary`
    delimiter: Vec<u8>,
    /// `\n--boundary`
    next: Vec<u8>,
}

impl<'a> Buffer<'a> {
    fn new(data: &'a [u8], boundary: &[u8]) -> Self {
        Self {
            data,
            pos: 0,
            filled: 0,
            size: (boundary.len() + 6).max(FILLUNIT),
            delimiter: [b"--", boundary].concat(),
            next: [b"\n--", boundary].concat(),
        }
    }

    fn fill(&mut self) -> usize {
        let before = self.filled;
        self.filled = (self.pos + self.size).min(self.data.len()).max(before);
        self.filled - before
    }

    fn eof(&mut self) -> bool {
        self.pos == self.filled && self.fill() == 0
    }

    /// `next_line`: a line without its `\n` (and one `\r` before it); a full window
    /// without a line break is a line too; `None` when the rest has no line break.
    fn next_line(&mut self) -> Option<&'a [u8]> {
        let data: &'a [u8] = self.data;
        let window = &data[self.pos..self.filled];
        match window.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let end = if i > 0 && window[i - 1] == b'\r' {
                    i - 1
                } else {
                    i
                };
                self.pos += i + 1;
                Some(&window[..end])
            }
            None if window.len() < self.size => None,
            None => {
                self.pos = self.filled;
                Some(window)
            }
        }
    }

    fn line(&mut self) -> Option<&'a [u8]> {
        if let Some(line) = self.next_line() {
            return Some(line);
        }
        self.fill();
        self.next_line()
    }

    /// `multipart_buffer_headers`: skips to the next delimiter line, then reads the
    /// part's headers; `None` when no delimiter line is left.
    fn headers(&mut self) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
        loop {
            let line = self.line()?;
            if cstr(line) == self.delimiter.as_slice() {
                break;
            }
        }
        let mut headers = Vec::new();
        let mut current: Option<(Vec<u8>, Vec<u8>)> = None;
        while let Some(line) = self.line() {
            let line = cstr(line);
            let Some(&first) = line.first() else {
                break;
            };
            let colon = if is_c_space(first) {
                None
            } else {
                line.iter().position(|&b| b == b':')
            };
            match (colon, current.as_mut()) {
                (Some(colon), _) => {
                    headers.extend(current.take());
                    let value = skip_space(&line[colon + 1..]);
                    current = Some((line[..colon].to_vec(), value.to_vec()));
                }
                (None, Some((_, value))) => value.extend_from_slice(line),
                (None, None) => {}
            }
        }
        headers.extend(current);
        Some(headers)
    }

    /// `multipart_buffer_read`: at most `bytes - 1` bytes up to a (possibly partial, at
    /// the end of the window) `\n--boundary`, one `\r` before it dropped.
    fn read(&mut self, bytes: usize) -> &'a [u8] {
        if bytes > self.filled - self.pos {
            self.fill();
        }
        let data: &'a [u8] = self.data;
        let window = &data[self.pos..self.filled];
        let (max, bound) = match memstr(window, &self.next) {
            Some(at) => (at, true),
            None => (window.len(), false),
        };
        let mut len = max.min(bytes - 1);
        if len == 0 {
            return &[];
        }
        if bound && window[len - 1] == b'\r' {
            len -= 1;
        }
        self.pos += len;
        &window[..len]
    }

    fn read_body(&mut self) -> Vec<u8> {
        let mut value = Vec::new();
        loop {
            let chunk = self.read(FILLUNIT);
            if chunk.is_empty() {
                return value;
            }
            value.extend_from_slice(chunk);
        }
    }
}

/// `php_ap_memstr` with partial matches: the first place where `needle` starts, or
/// where the window ends inside a prefix of it.
fn memstr(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let first = *needle.first()?;
    (0..haystack.len()).find(|&p| {
        let rest = &haystack[p..];
        let n = rest.len().min(needle.len());
        rest[0] == first && rest[..n] == needle[..n]
    })
}

/// `name` and `filename` of a `Content-Disposition` value.
fn disposition_names(value: &[u8]) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let (mut name, mut filename) = (None, None);
    let mut rest = skip_space(value);
    while !rest.is_empty() {
        let mut pair = getword(&mut rest, b';');
        rest = skip_space(rest);
        if pair.contains(&b'=') {
            let key = getword(&mut pair, b'=');
            if key.eq_ignore_ascii_case(b"name") {
                name = Some(getword_conf(pair));
            } else if key.eq_ignore_ascii_case(b"filename") {
                filename = Some(getword_conf(pair));
            }
        }
    }
    (name, filename)
}

/// `php_ap_getword`: up to `stop` outside quotes; repeated `stop`s are skipped.
fn getword<'a>(line: &mut &'a [u8], stop: u8) -> &'a [u8] {
    let s: &'a [u8] = line;
    let mut pos = 0;
    while pos < s.len() && s[pos] != stop {
        let quote = s[pos];
        pos += 1;
        if quote == b'"' || quote == b'\'' {
            while pos < s.len() && s[pos] != quote {
                pos += if s[pos] == b'\\' && s.get(pos + 1) == Some(&quote) {
                    2
                } else {
                    1
                };
            }
            if pos < s.len() {
                pos += 1;
            }
        }
    }
    let word = &s[..pos];
    while pos < s.len() && s[pos] == stop {
        pos += 1;
    }
    *line = &s[pos..];
    word
}

/// `php_ap_getword_conf`: a quoted value to its closing quote, or a bare one to the
/// first whitespace; `\\` and an escaped quote stand for themselves.
fn getword_conf(s: &[u8]) -> Vec<u8> {
    let s = skip_space(s);
    let (body, quote) = match s.first() {
        None => return Vec::new(),
        Some(&q) if q == b'"' || q == b'\'' => (&s[1..], Some(q)),
        Some(_) => {
            let end = s.iter().position(|&b| is_c_space(b)).unwrap_or(s.len());
            (&s[..end], None)
        }
    };
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() && Some(body[i]) != quote {
        let next = body.get(i + 1).copied();
        if body[i] == b'\\' && (next == Some(b'\\') || (quote.is_some() && next == quote)) {
            out.extend(next);
            i += 2;
        } else {
            out.push(body[i]);
            i += 1;
        }
    }
    out
}

/// The handler's running state.
struct Form {
    count: usize,
    parts_left: i64,
    uploads_left: i64,
    anonymous: u32,
    max_file_size: i64,
    protected: HashSet<Vec<u8>>,
}

impl Form {
    fn field(&mut self, params: &mut PhpParams, name: Vec<u8>, value: Vec<u8>) {
        self.count += 1;
        let mut name = name;
        let max_file_size = strtoll(&value);
        if self.count <= MAX_INPUT_VARS {
            // `is_protected_variable` normalises the name in place before registering.
            name = normalize_protected(&name);
            if !self.protected.contains(&name) {
                params.register(&name, value);
            }
        }
        if name.eq_ignore_ascii_case(b"MAX_FILE_SIZE") {
            self.max_file_size = max_file_size;
        }
    }

    /// A file part: its data is consumed (not kept) and its name protected.
    fn file(&mut self, buf: &mut Buffer<'_>, name: Option<Vec<u8>>, filename: &[u8]) {
        let name = name.unwrap_or_else(|| {
            self.anonymous += 1;
            (self.anonymous - 1).to_string().into_bytes()
        });
        if self.uploads_left <= 0 || !brackets_closed(&name) {
            return;
        }
        if !filename.is_empty() {
            self.uploads_left -= 1;
            let (mut total, mut cancelled) = (0i64, false);
            let mut chunk = buf.read(FILLUNIT).len() as i64;
            while !cancelled && chunk > 0 {
                let next = total + chunk;
                if next > UPLOAD_MAX_FILESIZE
                    || (self.max_file_size != 0 && next > self.max_file_size)
                {
                    cancelled = true;
                } else {
                    total = next;
                }
                // PHP reads once more before it looks at the cancellation.
                chunk = buf.read(FILLUNIT).len() as i64;
            }
        }
        let tmp_name = match name.iter().position(|&b| b == b'[') {
            Some(open) if name.ends_with(b"]") && name.len() >= open + 2 => [
                &name[..open],
                b"[tmp_name][",
                &name[open + 1..name.len() - 1],
                b"]",
            ]
            .concat(),
            _ => [normalize_protected(&name).as_slice(), b"[tmp_name]"].concat(),
        };
        self.protected.insert(normalize_protected(&name));
        self.protected.insert(normalize_protected(&tmp_name));
    }
}

/// "Never repair potential malicious user input": a file whose name has unbalanced
/// brackets, or junk after a `]`, is skipped.
fn brackets_closed(name: &[u8]) -> bool {
    let mut depth = 0i64;
    for (i, &b) in name.iter().enumerate() {
        if b == b'[' {
            depth += 1;
        } else if b == b']' {
            depth -= 1;
            if name.get(i + 1).is_some_and(|&n| n != b'[') {
                return false;
            }
        }
        if depth < 0 {
            return false;
        }
    }
    depth == 0
}

/// `normalize_protected_variable`: leading spaces dropped, `.`/space before the first
/// `[` → `_`, whitespace at the start of each index dropped, junk after the indices cut.
fn normalize_protected(name: &[u8]) -> Vec<u8> {
    let name = &name[name.iter().position(|&b| b != b' ').unwrap_or(name.len())..];
    let open = name.iter().position(|&b| b == b'[');
    let mut out: Vec<u8> = name[..open.unwrap_or(name.len())]
        .iter()
        .map(|&b| if b == b' ' || b == b'.' { b'_' } else { b })
        .collect();
    let Some(open) = open else {
        return out;
    };
    out.push(b'[');
    let mut index = open + 1;
    loop {
        while matches!(name.get(index), Some(b' ' | b'\r' | b'\n' | b'\t')) {
            index += 1;
        }
        let rest = name.get(index..).unwrap_or_default();
        let group = rest
            .iter()
            .position(|&b| b == b']')
            .map_or(rest.len(), |i| i + 1);
        out.extend_from_slice(&rest[..group]);
        let after = index + group;
        if name.get(after) != Some(&b'[') {
            return out;
        }
        out.push(b'[');
        index = after + 1;
    }
}

/// C's `strtoll(s, NULL, 10)`, saturating.
fn strtoll(s: &[u8]) -> i64 {
    let s = skip_space(cstr(s));
    let (negative, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for &d in digits.iter().take_while(|d| d.is_ascii_digit()) {
        let d = i64::from(d - b'0');
        n = if negative {
            n.saturating_mul(10).saturating_sub(d)
        } else {
            n.saturating_mul(10).saturating_add(d)
        };
    }
    n
}

#[cfg(test)]
#[path = "php_multipart_tests.rs"]
mod tests;
