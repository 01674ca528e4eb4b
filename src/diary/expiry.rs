//! How the diary says "your session is over": `[diary] expired`.
//!
//! ```toml
//! [diary]
//! expired = { redirect_to = [{ path = "/login" }], body_contains = [], status = [401] }
//! ```
//!
//! Three signs, any one is enough: a redirect whose target (resolved like a browser, see
//! [`super::location`]) matches one of `redirect_to` (route-group matchers, query
//! conditions included: `{ path = "/index.php", query = { modfunc = "logout" } }`); a
//! status of `status`; or a **200 text/html page** containing one of `body_contains`
//! (PHP school systems answer a dead session with
//! `<script>window.location.href = "index.php?modfunc=logout"</script>`, never a
//! redirect). The body sign is read on the identity probe's answer and on every proxied
//! page of a signed-in session, so it must stay cheap: only `text/html`, only the first
//! [`SCAN_BYTES`] (decompressed when the diary gzips), the rest of the body streams on
//! untouched ([`peek`]).
//!
//! The old keys `expired_redirect_paths` and `expired_body_markers` still work (they
//! fill `redirect_to` and `body_contains`); giving them together with `expired` is an
//! error that says where they moved.

use std::io::Read as _;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt as _;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use http::{HeaderMap, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt as _, BodyStream, StreamBody};
use serde::Deserialize;

use super::config::Issue;
use super::endpoints::Endpoints;
use super::location::resolve_location;
use crate::body::{Body, BoxError};
use crate::policy::config::MatcherFile;
use crate::policy::{CanonConfig, canonicalize};

/// How much of a page is read for `body_contains` (decoded bytes; also the most read
/// from the wire before the page streams on).
pub const SCAN_BYTES: usize = 16 * 1024;

/// `[diary] expired = { … }` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExpiredFile {
    pub redirect_to: Option<Vec<MatcherFile>>,
    pub body_contains: Vec<String>,
    pub status: Option<Vec<u16>>,
}

/// The validated rules.
#[derive(Debug, Clone)]
pub struct Expiry {
    redirect_to: Endpoints,
    body_contains: Vec<String>,
    status: Vec<StatusCode>,
}

impl Expiry {
    /// One line for `check-config`'s summary: how a dead diary session is recognised.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.redirect_to.is_empty() {
            parts.push(format!(
                "redirect to {}",
                self.redirect_to.sources().join(", ")
            ));
        }
        if !self.body_contains.is_empty() {
            parts.push(format!("{} body marker(s)", self.body_contains.len()));
        }
        if !self.status.is_empty() {
            let codes: Vec<String> = self.status.iter().map(|s| s.as_u16().to_string()).collect();
            parts.push(format!("status {}", codes.join(", ")));
        }
        if parts.is_empty() {
            "never recognised".to_owned()
        } else {
            parts.join("; ")
        }
    }

    /// The demo diary: a redirect to `/login`, or a 401.
    pub fn demo() -> Self {
        Self {
            redirect_to: Endpoints::paths(&["/login"]),
            body_contains: Vec::new(),
            status: vec![StatusCode::UNAUTHORIZED],
        }
    }

    /// Is this answer (to `request_target`, origin-form) a redirect to a "session over"
    /// page, or one of the "session over" statuses?
    pub fn by_answer(
        &self,
        status: StatusCode,
        location: Option<&str>,
        request_target: &str,
    ) -> bool {
        if self.status.contains(&status) {
            return true;
        }
        if !status.is_redirection() {
            return false;
        }
        let Some(target) = location.and_then(|l| resolve_location(request_target, l)) else {
            return false;
        };
        let cfg = CanonConfig {
            case_insensitive: true,
            ..CanonConfig::default()
        };
        canonicalize("GET", &target, &cfg).is_ok_and(|req| self.redirect_to.matches(&req))
    }

    /// Does a 200 page (its first bytes, decoded) carry a "session over" marker?
    pub fn by_body(&self, status: StatusCode, body: &[u8]) -> bool {
        status == StatusCode::OK
            && self
                .body_contains
                .iter()
                .any(|m| super::signin::contains_text(body, m))
    }

    /// Should this proxied answer's body be read for markers? Only a 200 `text/html`
    /// page, and only when markers are configured.
    pub fn wants_body(&self, status: StatusCode, headers: &HeaderMap) -> bool {
        !self.body_contains.is_empty()
            && status == StatusCode::OK
            && headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|ct| {
                    ct.split(';')
                        .next()
                        .is_some_and(|m| m.trim().eq_ignore_ascii_case("text/html"))
                })
    }

    /// The matchers of `redirect_to`, for `check-config`'s summary.
    pub fn redirect_sources(&self) -> Vec<&str> {
        self.redirect_to.sources()
    }
}

/// Validates `expired` (or the old keys it replaced).
pub fn validate(
    expired: Option<&ExpiredFile>,
    old_paths: Option<&Vec<String>>,
    old_markers: &[String],
) -> Result<Expiry, Vec<Issue>> {
    let mut issues: Vec<Issue> = Vec::new();
    let markers = |list: &[String]| -> Vec<String> {
        list.iter()
            .filter(|m| !m.trim().is_empty())
            .cloned()
            .collect()
    };
    let Some(file) = expired else {
        let mut rules = Expiry::demo();
        if let Some(paths) = old_paths {
            let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
            rules.redirect_to = Endpoints::paths(&paths);
        }
        rules.body_contains = markers(old_markers);
        return Ok(rules);
    };
    for (key, set) in [
        ("expired_redirect_paths", old_paths.is_some()),
        ("expired_body_markers", !old_markers.is_empty()),
    ] {
        if set {
            issues.push((
                format!("diary.{key}"),
                "moved to diary.expired (redirect_to / body_contains); give only the new key"
                    .into(),
                Some(
                    "expired = { redirect_to = [{ path = \"/login\" }], body_contains = [\"…\"] }"
                        .into(),
                ),
            ));
        }
    }
    let mut rules = Expiry::demo();
    if let Some(list) = &file.redirect_to {
        match Endpoints::compile("diary.expired.redirect_to", list) {
            Ok(e) => rules.redirect_to = e,
            Err(mut e) => issues.append(&mut e),
        }
    }
    rules.body_contains = markers(&file.body_contains);
    if file.body_contains.iter().any(|m| m.trim().is_empty()) {
        issues.push((
            "diary.expired.body_contains".into(),
            "an empty marker would match every page".into(),
            None,
        ));
    }
    if let Some(codes) = &file.status {
        rules.status.clear();
        for code in codes {
            match StatusCode::from_u16(*code) {
                Ok(s) if !s.is_success() && !s.is_redirection() => rules.status.push(s),
                _ => issues.push((
                    "diary.expired.status".into(),
                    format!("{code} cannot mean \"session over\""),
                    Some("a 4xx or 5xx status such as 401; a 200 page is named by body_contains, a redirect by redirect_to".into()),
                )),
            }
        }
    }
    if issues.is_empty() {
        Ok(rules)
    } else {
        Err(issues)
    }
}

/// Reads the first [`SCAN_BYTES`] of `body` (or all of it when shorter) and gives them
/// back with a body that yields exactly the original bytes and trailers. A body error
/// while peeking is passed on to the client in the rebuilt body.
pub async fn peek(body: Body) -> (Bytes, Body) {
    let mut head = BytesMut::new();
    let mut frames: Vec<Result<Frame<Bytes>, BoxError>> = Vec::new();
    let mut stream = BodyStream::new(body);
    while head.len() < SCAN_BYTES {
        match stream.next().await {
            None => break,
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    head.extend_from_slice(data);
                }
                frames.push(Ok(frame));
            }
            Some(Err(e)) => {
                frames.push(Err(e));
                break;
            }
        }
    }
    let rest = futures_util::stream::iter(frames).chain(stream);
    (head.freeze(), StreamBody::new(rest).boxed_unsync())
}

/// The first [`SCAN_BYTES`] of `head` decoded per `Content-Encoding` (gzip, deflate in
/// its zlib and raw spellings); an unknown coding gives nothing to read.
pub fn decoded(head: &[u8], headers: &HeaderMap) -> Vec<u8> {
    let coding = headers
        .get(CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let limit = SCAN_BYTES as u64;
    let mut out = Vec::new();
    // A cut stream ends in an error after the bytes it could decode: those are kept.
    let _ = match coding.as_str() {
        "" | "identity" => return head[..head.len().min(SCAN_BYTES)].to_vec(),
        "gzip" | "x-gzip" => flate2::read::MultiGzDecoder::new(head)
            .take(limit)
            .read_to_end(&mut out),
        // zlib as RFC 9110 says, else raw DEFLATE as IIS and PHP's gzdeflate() send it.
        "deflate" => {
            let zlib = flate2::read::ZlibDecoder::new(head)
                .take(limit)
                .read_to_end(&mut out);
            if out.is_empty() {
                flate2::read::DeflateDecoder::new(head)
                    .take(limit)
                    .read_to_end(&mut out)
            } else {
                zlib
            }
        }
        _ => return Vec::new(),
    };
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn file(text: &str) -> ExpiredFile {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn a_relative_redirect_to_a_logout_with_a_query_is_expiry() {
        let f = file(
            r#"redirect_to = [{ path = "/index.php", query = { modfunc = "logout" } }]
               body_contains = ['window.location.href = "index.php?modfunc=logout']"#,
        );
        let e = validate(Some(&f), None, &[]).unwrap();
        let base = "/Modules.php?modname=Grades/StudentGrades.php";
        let found = StatusCode::FOUND;
        assert!(e.by_answer(found, Some("index.php?modfunc=logout&token=1"), base));
        assert!(e.by_answer(found, Some("../x/../INDEX.php?modfunc=LOGOUT"), base));
        assert!(e.by_answer(
            found,
            Some("https://school.example/index.php?modfunc=logout"),
            base
        ));
        assert!(!e.by_answer(found, Some("Modules.php?modname=misc/Portal.php"), base));
        assert!(!e.by_answer(found, Some("index.php"), base));
        assert!(!e.by_answer(StatusCode::OK, Some("index.php?modfunc=logout"), base));
        assert!(e.by_answer(StatusCode::UNAUTHORIZED, None, base));
        let page = b"<script>window.location.href = \"index.php?modfunc=logout&token=x\";</script>";
        assert!(e.by_body(StatusCode::OK, page));
        assert!(!e.by_body(StatusCode::OK, b"<h1>Grades</h1>"));
        assert!(!e.by_body(StatusCode::NOT_FOUND, page));
        // check-config's summary says it in one line.
        let line = e.describe();
        assert!(line.starts_with("redirect to "), "{line}");
        assert!(
            line.contains("1 body marker(s)") && line.ends_with("status 401"),
            "{line}"
        );
    }

    #[test]
    fn old_keys_still_work_but_not_beside_the_new_one() {
        let e = validate(
            None,
            Some(&vec!["/signin".into()]),
            &["Сессия истекла".into()],
        )
        .unwrap();
        assert!(e.by_answer(StatusCode::SEE_OTHER, Some("signin?x=1"), "/a"));
        assert!(!e.by_answer(StatusCode::SEE_OTHER, Some("/login"), "/a"));
        assert!(e.by_body(StatusCode::OK, "<p>Сессия истекла</p>".as_bytes()));
        let issues =
            validate(Some(&file("")), Some(&vec!["/x".into()]), &["m".into()]).unwrap_err();
        let keys: Vec<&str> = issues.iter().map(|i| i.0.as_str()).collect();
        assert_eq!(
            keys,
            ["diary.expired_redirect_paths", "diary.expired_body_markers"]
        );
        assert!(issues[0].1.contains("moved to diary.expired"));
    }

    #[test]
    fn bad_rules_are_reported() {
        let issues = validate(
            Some(&file("status = [200, 302, 401]\nbody_contains = [\" \"]\nredirect_to = [{ path = \"login\" }]")),
            None,
            &[],
        )
        .unwrap_err();
        let keys: Vec<&str> = issues.iter().map(|i| i.0.as_str()).collect();
        assert!(
            keys.iter()
                .any(|k| k.starts_with("diary.expired.redirect_to")),
            "{keys:?}"
        );
        assert_eq!(
            keys.iter()
                .filter(|k| **k == "diary.expired.status")
                .count(),
            2
        );
        assert!(keys.contains(&"diary.expired.body_contains"));
        assert!(toml::from_str::<ExpiredFile>("bodycontains = []").is_err());
    }

    #[test]
    fn only_html_pages_are_read() {
        let e = validate(Some(&file("body_contains = [\"x\"]")), None, &[]).unwrap();
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, "text/html; charset=utf-8".parse().unwrap());
        assert!(e.wants_body(StatusCode::OK, &h));
        assert!(!e.wants_body(StatusCode::NOT_FOUND, &h));
        h.insert(CONTENT_TYPE, "application/pdf".parse().unwrap());
        assert!(!e.wants_body(StatusCode::OK, &h));
        assert!(!Expiry::demo().wants_body(StatusCode::OK, &HeaderMap::new()));
    }

    #[tokio::test]
    async fn peeking_keeps_every_byte_and_reads_gzip() {
        let page = "<p>x</p>".repeat(5000);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(page.as_bytes()).unwrap();
        let zipped = gz.finish().unwrap();
        let chunks: Vec<Result<Frame<Bytes>, BoxError>> = zipped
            .chunks(100)
            .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
            .collect();
        let body = StreamBody::new(futures_util::stream::iter(chunks)).boxed_unsync();
        let (head, rest) = peek(body).await;
        let mut h = HeaderMap::new();
        h.insert(CONTENT_ENCODING, "gzip".parse().unwrap());
        let text = decoded(&head, &h);
        assert!(text.starts_with(b"<p>x</p><p>x</p>"));
        assert!(text.len() <= SCAN_BYTES);
        let all = rest.collect().await.unwrap().to_bytes();
        assert_eq!(all.as_ref(), zipped.as_slice());
        let (head, rest) = peek(crate::body::full("short")).await;
        assert_eq!(head.as_ref(), b"short");
        assert_eq!(rest.collect().await.unwrap().to_bytes().as_ref(), b"short");
    }
}
