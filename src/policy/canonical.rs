//! The canonical request: one reading of the request-target that the gateway matches
//! on AND forwards, so the gateway and the diary cannot disagree about the page asked for.
//!
//! Threat: the diary is lenient (case-insensitive paths, `%2F` decoded to `/`, `\` read
//! as `/`, `//` and `/./` collapsed, `..` clamped at the root, `;params` dropped, PHP
//! query rules). An attacker holding a legacy-only session after the cutover spells the
//! grade page so that the gateway's matcher sees "not grades" while the diary serves
//! grades (`/%4Darks`, `/x/..%2Fmarks`, `/marks;x`, `/index.php?module[]=…`, `get`).
//!
//! Defence: decode exactly once, normalise the way the diary does, refuse (400) anything
//! that has more than one plausible reading, and forward [`CanonicalRequest::forward_target`]
//! — the re-encoded canonical form — instead of the bytes the client sent. Because the
//! diary only ever sees canonical targets, its leniencies have nothing left to act on.
//!
//! Decisions worth knowing:
//! - Decoding that yields a new escape (`%252F`, `%25%32%46` → `%2F`) is refused as
//!   double encoding; any other `%25` is a literal `%` (`100%25` → `100%`).
//! - When the diary is case-insensitive (Windows/IIS), a segment ending in `.` or a
//!   space is refused: Windows would drop it (`marks.` is `marks`). So are 8.3 short
//!   names (`INDEX~1.PHP` is `index.php` on NTFS: `short-name`) and `:` stream suffixes
//!   (`index.php::$DATA` runs `index.php`: `stream-suffix`).
//! - Case-insensitivity is for matching only: [`CanonicalRequest::path`] is lowercased,
//!   [`CanonicalRequest::forward_target`] keeps the case the browser sent (after decoding
//!   and dot-segment resolution), so a case-sensitive diary gets `/Modules.php` as sent
//!   and a lenient one serves the page the policy already judged in lower case.
//! - PHP mode ([`CanonConfig::php`]): `/Modules.php/x.css` runs `Modules.php` with
//!   PATH_INFO `/x.css` on any PHP server, so matchers see the script
//!   ([`CanonicalRequest::match_path`]); the target is forwarded unchanged.
//! - `%2F`, `%5C` and raw `\` in the path are refused: the diary reads them as `/`;
//!   `%3F` and `%23` too: a diary that decodes before splitting sees `?` or `#`.
//! - NUL and control bytes (raw or encoded) are refused in path and query alike.
//! - Characters that fold to ASCII under some case mapping, compatibility form or
//!   Windows "best fit" conversion (Kelvin sign `K`, long s `ſ`, fullwidth `ｍ`, math
//!   letters, accented Latin `á`, combining marks, zero-width characters) are refused:
//!   a diary may fold them onto `marks`. Cyrillic and other scripts pass.
//! - Absolute-form targets are accepted only for a host listed in `own_hosts` and are
//!   reduced to origin-form; any other host, userinfo, or unknown scheme is refused.
//!   Authority-form is refused; asterisk-form only as `OPTIONS *`.
//! - Methods are uppercased (`get` is GET to the diary); any valid token is accepted and
//!   checked against the policy like every other method.

use http::Method;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::decode::{Component, decode_component};
use super::query::PhpQuery;

/// Path bytes escaped in the forwarded target (everything but unreserved and the
/// sub-delims a path may carry verbatim; `;` is escaped so it can never become a param).
const PATH_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b'=')
    .remove(b':')
    .remove(b'@');

/// How the diary reads targets, and the limits past which we stop trying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonConfig {
    /// The diary ignores path case (IIS, or PHP routing with strtolower).
    pub case_insensitive: bool,
    /// The diary compares routing parameter values ignoring case (`module=MARKS`).
    pub value_case_insensitive: bool,
    /// Hosts (lowercase, no port) whose absolute-form targets are ours.
    pub own_hosts: Vec<String>,
    pub max_target_bytes: usize,
    pub max_segments: usize,
    pub max_query_params: usize,
    /// PHP mode: a segment ending in `.php` followed by more segments is the script
    /// itself (PATH_INFO); matchers see only the script path. On by default: it can only
    /// make a route group match more of what PHP would run.
    pub php: bool,
}

impl Default for CanonConfig {
    fn default() -> Self {
        Self {
            php: true,
            case_insensitive: false,
            value_case_insensitive: true,
            own_hosts: Vec::new(),
            max_target_bytes: 8192,
            max_segments: 64,
            max_query_params: 256,
        }
    }
}

/// Why a target was refused (answered with 400). Names are stable: logs, metrics, tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Reject {
    #[error("bad-method")]
    BadMethod,
    #[error("empty-target")]
    EmptyTarget,
    #[error("target-too-long")]
    TooLong,
    #[error("path-too-deep")]
    TooDeep,
    #[error("too-many-parameters")]
    TooManyParameters,
    #[error("invalid-character")]
    InvalidCharacter,
    #[error("fragment")]
    Fragment,
    #[error("absolute-form-foreign")]
    AbsoluteFormForeign,
    #[error("authority-form")]
    AuthorityForm,
    #[error("asterisk-form")]
    AsteriskForm,
    #[error("backslash")]
    Backslash,
    #[error("encoded-slash")]
    EncodedSlash,
    #[error("encoded-backslash")]
    EncodedBackslash,
    #[error("encoded-delimiter")]
    EncodedDelimiter,
    #[error("nul-byte")]
    NulByte,
    #[error("control-character")]
    ControlCharacter,
    #[error("invalid-percent-encoding")]
    InvalidPercentEncoding,
    #[error("double-encoding")]
    DoubleEncoding,
    #[error("invalid-utf8")]
    InvalidUtf8,
    #[error("confusable-character")]
    ConfusableCharacter,
    #[error("above-root")]
    AboveRoot,
    #[error("trailing-dot-or-space")]
    TrailingDotOrSpace,
    /// An 8.3 short name (`INDEX~1.PHP`) on a case-insensitive (Windows) diary.
    #[error("short-name")]
    ShortName,
    /// A `:` in a segment (`index.php::$DATA`, `index.php:x`) on a Windows diary.
    #[error("stream-suffix")]
    StreamSuffix,
}

impl Reject {
    /// The stable kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Reject::BadMethod => "bad-method",
            Reject::EmptyTarget => "empty-target",
            Reject::TooLong => "target-too-long",
            Reject::TooDeep => "path-too-deep",
            Reject::TooManyParameters => "too-many-parameters",
            Reject::InvalidCharacter => "invalid-character",
            Reject::Fragment => "fragment",
            Reject::AbsoluteFormForeign => "absolute-form-foreign",
            Reject::AuthorityForm => "authority-form",
            Reject::AsteriskForm => "asterisk-form",
            Reject::Backslash => "backslash",
            Reject::EncodedSlash => "encoded-slash",
            Reject::EncodedBackslash => "encoded-backslash",
            Reject::EncodedDelimiter => "encoded-delimiter",
            Reject::NulByte => "nul-byte",
            Reject::ControlCharacter => "control-character",
            Reject::InvalidPercentEncoding => "invalid-percent-encoding",
            Reject::DoubleEncoding => "double-encoding",
            Reject::InvalidUtf8 => "invalid-utf8",
            Reject::ConfusableCharacter => "confusable-character",
            Reject::AboveRoot => "above-root",
            Reject::TrailingDotOrSpace => "trailing-dot-or-space",
            Reject::ShortName => "short-name",
            Reject::StreamSuffix => "stream-suffix",
        }
    }
}

/// The one reading of a request that is matched and forwarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalRequest {
    /// Uppercased: lowercase methods are the same method to the diary.
    pub method: Method,
    /// The path for MATCHING: decoded, normalised, and lowercased when the diary is
    /// case-insensitive; `/` for the root, `*` for `OPTIONS *`. Never ends with `/`
    /// except the root. Not what is forwarded (see `forward_target`).
    pub path: String,
    pub query: PhpQuery,
    /// Exactly what is sent upstream: the same normalised path in the case the browser
    /// sent it (re-encoded) + `?` + canonical query.
    pub forward_target: String,
}

impl CanonicalRequest {
    /// In PHP mode, the script a path runs when more segments follow it
    /// (`/modules.php/x.css` → `/modules.php`); `None` when the path has no PATH_INFO.
    pub fn php_script(&self) -> Option<&str> {
        php_script(&self.path)
    }

    /// The path matchers compare: the PHP script when `cfg.php` and PATH_INFO follows
    /// it, the whole path otherwise.
    pub fn match_path(&self, cfg: &CanonConfig) -> &str {
        match cfg.php.then(|| self.php_script()).flatten() {
            Some(script) => script,
            None => &self.path,
        }
    }
}

/// The first segment ending in `.php` (any case: servers differ) that is followed by
/// more segments, as the path up to it.
pub fn php_script(path: &str) -> Option<&str> {
    let mut end = 0;
    for seg in path.split('/').skip(1) {
        end += 1 + seg.len();
        let is_php = seg.len() > 4
            && seg
                .get(seg.len() - 4..)
                .is_some_and(|ext| ext.eq_ignore_ascii_case(".php"));
        if is_php {
            return (end < path.len()).then(|| path.get(..end)).flatten();
        }
    }
    None
}

/// Canonicalises `method` + request-target as received (origin-, absolute- or
/// asterisk-form). See the module doc for what is refused and why.
pub fn canonicalize(
    method: &str,
    target: &str,
    cfg: &CanonConfig,
) -> Result<CanonicalRequest, Reject> {
    let method = canonical_method(method)?;
    if target.is_empty() {
        return Err(Reject::EmptyTarget);
    }
    if target.len() > cfg.max_target_bytes {
        return Err(Reject::TooLong);
    }
    if target.bytes().any(|b| b == b'#') {
        return Err(Reject::Fragment);
    }
    if let Some(b) = target.bytes().find(|b| !(0x21..0x7f).contains(b)) {
        return Err(if b == 0 {
            Reject::NulByte
        } else if b < 0x20 || b == 0x7f {
            Reject::ControlCharacter
        } else {
            Reject::InvalidCharacter
        });
    }
    if target == "*" {
        if method != Method::OPTIONS {
            return Err(Reject::AsteriskForm);
        }
        return Ok(CanonicalRequest {
            method,
            path: "*".into(),
            query: PhpQuery::default(),
            forward_target: "*".into(),
        });
    }
    let origin = origin_form(target, cfg)?;
    let (raw_path, raw_query) = origin.split_once('?').unwrap_or((origin, ""));
    let (path, sent_path) = canonical_path(raw_path, cfg)?;
    let query = PhpQuery::parse(raw_query, cfg.max_query_params)?;
    let mut forward_target = encode_path(&sent_path);
    if !query.is_empty() {
        forward_target.push('?');
        forward_target.push_str(&query.to_query_string());
    }
    Ok(CanonicalRequest {
        method,
        path,
        query,
        forward_target,
    })
}

fn canonical_method(method: &str) -> Result<Method, Reject> {
    let upper = method.to_ascii_uppercase();
    if upper.is_empty() || upper.len() > 32 {
        return Err(Reject::BadMethod);
    }
    Method::from_bytes(upper.as_bytes()).map_err(|_| Reject::BadMethod)
}

/// Reduces absolute-form for our own hosts to origin-form; refuses other forms.
fn origin_form<'a>(target: &'a str, cfg: &CanonConfig) -> Result<&'a str, Reject> {
    if target.starts_with('/') {
        return Ok(target);
    }
    let lower = target.to_ascii_lowercase();
    let rest_at = if lower.starts_with("https://") {
        8
    } else if lower.starts_with("http://") {
        7
    } else if target.contains("://") {
        return Err(Reject::AbsoluteFormForeign);
    } else {
        return Err(Reject::AuthorityForm);
    };
    let rest = target.get(rest_at..).unwrap_or("");
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, origin) = rest.split_at(end);
    if authority.contains('@') {
        return Err(Reject::AbsoluteFormForeign);
    }
    let host = match authority.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => authority,
    };
    let host = host.to_ascii_lowercase();
    if host.is_empty() || !cfg.own_hosts.iter().any(|h| h.eq_ignore_ascii_case(&host)) {
        return Err(Reject::AbsoluteFormForeign);
    }
    Ok(if origin.is_empty() { "/" } else { origin })
}

/// Decodes and normalises the path; see the module doc. Returns the path for matching
/// and the same path in the case it was sent.
fn canonical_path(raw: &str, cfg: &CanonConfig) -> Result<(String, String), Reject> {
    if raw.contains('\\') {
        return Err(Reject::Backslash);
    }
    let raw_segments = raw.split('/').skip(1);
    if raw.split('/').count() > cfg.max_segments.saturating_add(1) {
        return Err(Reject::TooDeep);
    }
    let mut out: Vec<String> = Vec::new();
    let mut sent: Vec<&str> = Vec::new();
    let decoded: Vec<String> = raw_segments
        .map(|s| decode_component(s, Component::Path))
        .collect::<Result<_, _>>()?;
    for seg in &decoded {
        // `;params` are dropped by the diary, before or after decoding: drop both.
        let seg = seg.split(';').next().unwrap_or("");
        match seg {
            "" | "." => {}
            ".." => {
                if out.pop().is_none() {
                    return Err(Reject::AboveRoot);
                }
                sent.pop();
            }
            s if cfg.case_insensitive => {
                windows_segment(s)?;
                out.push(s.to_lowercase());
                sent.push(s);
            }
            s => {
                out.push(s.to_string());
                sent.push(s);
            }
        }
    }
    Ok((
        format!("/{}", out.join("/")),
        format!("/{}", sent.join("/")),
    ))
}

/// Spellings a Windows (IIS) diary reads as another name: refuse them.
pub(crate) fn windows_segment(s: &str) -> Result<(), Reject> {
    // Windows drops trailing dots and spaces (`marks.` is `marks`).
    if s.ends_with(['.', ' ']) {
        return Err(Reject::TrailingDotOrSpace);
    }
    // `name::$DATA`, `name:stream`: the file's data stream, i.e. the file itself.
    if s.contains(':') {
        return Err(Reject::StreamSuffix);
    }
    // 8.3 short names: `INDEX~1.PHP` is `index.php`.
    if s.as_bytes()
        .windows(2)
        .any(|w| matches!(w, [b'~', d] if d.is_ascii_digit()))
    {
        return Err(Reject::ShortName);
    }
    Ok(())
}

fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for (i, seg) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.extend(utf8_percent_encode(seg, PATH_ENCODE));
    }
    out
}

#[cfg(test)]
#[path = "canonical_tests.rs"]
mod tests;
