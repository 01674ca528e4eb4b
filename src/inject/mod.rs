//! Streaming HTML injection into the diary's pages: the transition banner («Внимание! …
//! выполнить привязку к ЕСИА») and the «Войти через Госуслуги» button on the diary's
//! login page.
//!
//! The diary is not ours, so its pages arrive in whatever shape an old PHP site sends:
//! gzip or deflate, UTF-8 or windows-1251 (declared in the header or only in a `<meta>`).
//! [`inject`] decodes the transfer coding, rewrites the markup with lol_html in the page's
//! own charset (inserted text is encoded into that charset by lol_html), and re-compresses
//! with gzip when the browser accepts it — all chunk by chunk, never buffering the page.
//! Anything it cannot rewrite safely (non-HTML, `br`/`zstd`, a non-ASCII-compatible
//! charset such as UTF-16) passes through untouched; see [`plan_for`].

pub mod banner;
mod body;
mod inflate;

use std::sync::Arc;

use http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, ETAG, HeaderValue};
use http::{HeaderMap, Method, Response, StatusCode};

pub use body::{InjectError, InjectedBody};

/// Where an injected fragment goes relative to the elements its selector matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// First thing inside the element (the banner at the top of `<body>`).
    Prepend,
    /// Right after the element's end tag (the ESIA button after the login form).
    After,
    /// Right before the element (the ESIA button above the login form after the
    /// cutover: the way in comes first).
    Before,
}

/// One fragment of trusted HTML to insert at every element matching a CSS selector.
/// The selector is parsed once, when the rule is built from config.
#[derive(Debug, Clone)]
pub struct Rule {
    pub(crate) selector: lol_html::Selector,
    pub(crate) html: Arc<str>,
    pub(crate) position: Position,
}

impl Rule {
    pub fn new(
        selector: &str,
        html: impl Into<Arc<str>>,
        position: Position,
    ) -> Result<Self, String> {
        let selector = selector
            .parse()
            .map_err(|e: lol_html::errors::SelectorError| e.to_string())?;
        Ok(Self {
            selector,
            html: html.into(),
            position,
        })
    }
}

/// How the upstream body is encoded on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Identity,
    Gzip,
    Deflate,
}

/// What [`inject`] will do with one response, decided from its headers alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub coding: Coding,
    pub encoding: &'static encoding_rs::Encoding,
}

/// The `charset` parameter of `Content-Type`, if any (quotes and case as servers send them).
fn charset_param(content_type: &str) -> Option<&str> {
    content_type
        .split(';')
        .skip(1)
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("charset"))
        .map(|(_, v)| v.trim().trim_matches('"').trim())
}

/// True when the response header names a charset (then `<meta>` must not override it).
fn declares_charset(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(charset_param)
        .is_some()
}

/// Decides whether a response can be rewritten. `None` → pass it through untouched.
pub fn plan_for(method: &Method, status: StatusCode, headers: &HeaderMap) -> Option<Plan> {
    if *method == Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
        // A byte range of a page: inserting into it would shift every later range.
        || status == StatusCode::PARTIAL_CONTENT
        || headers.contains_key(http::header::CONTENT_RANGE)
    {
        return None;
    }
    let content_type = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    let mime = content_type.split(';').next()?.trim();
    if !mime.eq_ignore_ascii_case("text/html")
        && !mime.eq_ignore_ascii_case("application/xhtml+xml")
    {
        return None;
    }
    let encoding = match charset_param(content_type) {
        Some(label) => encoding_rs::Encoding::for_label(label.as_bytes())?,
        None => encoding_rs::UTF_8,
    };
    // lol_html only parses ASCII-compatible encodings; UTF-16 pages pass through.
    lol_html::AsciiCompatibleEncoding::new(encoding)?;
    // Two `Content-Encoding` fields mean two codings stacked (`gzip` then `gzip`); undoing
    // one and dropping both headers would send the browser compressed garbage.
    if headers.get_all(CONTENT_ENCODING).iter().nth(1).is_some() {
        return None;
    }
    let coding = match headers.get(CONTENT_ENCODING).map(|v| v.to_str()) {
        None => Coding::Identity,
        Some(Ok(v)) => match v.trim().to_ascii_lowercase().as_str() {
            "" | "identity" => Coding::Identity,
            "gzip" | "x-gzip" => Coding::Gzip,
            "deflate" => Coding::Deflate,
            _ => return None,
        },
        Some(Err(_)) => return None,
    };
    Some(Plan { coding, encoding })
}

/// Rewrites `response` according to `plan`, re-compressing with gzip when `gzip_out`.
/// The length is no longer known, and the content changed, so `Content-Length` goes and a
/// strong `ETag` becomes weak.
pub fn inject<B>(
    response: Response<B>,
    plan: Plan,
    rules: Arc<[Rule]>,
    gzip_out: bool,
) -> Response<InjectedBody<B>> {
    let (mut parts, body) = response.into_parts();
    parts.headers.remove(CONTENT_LENGTH);
    parts.headers.remove(CONTENT_ENCODING);
    if gzip_out {
        parts
            .headers
            .insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    let strong_etag = parts.headers.get(ETAG).and_then(|v| v.to_str().ok());
    if let Some(etag) = strong_etag
        .filter(|e| !e.starts_with("W/"))
        .map(str::to_owned)
    {
        match HeaderValue::from_str(&format!("W/{etag}")) {
            Ok(weak) => parts.headers.insert(ETAG, weak),
            Err(_) => parts.headers.remove(ETAG),
        };
    }
    parts.headers.append(
        http::header::VARY,
        HeaderValue::from_static("Accept-Encoding"),
    );
    let header_charset = declares_charset(&parts.headers);
    Response::from_parts(
        parts,
        InjectedBody::new(body, plan, rules, gzip_out, header_charset),
    )
}

/// True when the client's `Accept-Encoding` allows gzip (q > 0). An explicit `gzip`
/// entry decides; `*` only stands for gzip when gzip is not named (RFC 9110 §12.5.3), so
/// `gzip;q=0, *` refuses gzip.
pub fn accepts_gzip(headers: &HeaderMap) -> bool {
    let mut named = None;
    let mut star = None;
    let items = headers
        .get_all(http::header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','));
    for item in items {
        let mut it = item.split(';');
        let coding = it.next().unwrap_or("").trim();
        let q_zero = it.any(|p| {
            p.trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        let slot = if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            &mut named
        } else if coding == "*" {
            &mut star
        } else {
            continue;
        };
        // A coding listed twice is accepted if any listing accepts it.
        *slot = Some(slot.unwrap_or(false) || !q_zero);
    }
    named.or(star).unwrap_or(false)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod hostile_tests;
