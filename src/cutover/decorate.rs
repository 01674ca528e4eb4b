//! The diary's HTML pages, decorated on the way back: the transition banner (seed 004's
//! «Внимание! …») and the «Войти через Госуслуги» button after the diary's login form.
//!
//! Before forwarding, the browser's `Accept-Encoding` is remembered (to re-compress with
//! gzip when it takes gzip) and the diary is asked only for codings the injector can
//! read: gzip, deflate, identity. Non-HTML answers, HEAD, 204/304 and codings the
//! injector cannot read pass through untouched ([`crate::inject::plan_for`]).
//!
//! Only answers a browser shows as a page are decorated: a script's request (`fetch`, an
//! XMLHttpRequest loading a piece of HTML into the page) gets the diary's bytes as they
//! are — a banner inside a fragment would land in the middle of the page, and the
//! script may parse what it asked for — and costs no rewriting ([`shown_as_page`]).
//!
//! A rewrite holds one of `[limits] max_rewrites` places until its body ends (each may
//! inflate and buffer a page); when none is free the page passes through unmodified —
//! it loses its banner, never its content — and `rewrites_skipped_total` counts it.

use std::sync::Arc;

use http::header::ACCEPT_ENCODING;
use http::{HeaderMap, HeaderValue, Method, Response};

use tokio::sync::Semaphore;

use crate::body::{self, Body};
use crate::inject::{self, Rule};
use crate::metrics::Metrics;

/// What to do with the diary's answer to one request.
#[derive(Debug, Clone)]
pub struct Decorate {
    method: Method,
    rules: Arc<[Rule]>,
    gzip_out: bool,
    slots: Option<(Arc<Semaphore>, Arc<Metrics>)>,
}

impl Decorate {
    /// Remembers what the browser accepts and narrows what the diary may send.
    pub fn prepare(method: &Method, headers: &mut HeaderMap, rules: Arc<[Rule]>) -> Self {
        let gzip_out = inject::accepts_gzip(headers);
        let narrowed = readable_codings(headers);
        headers.remove(ACCEPT_ENCODING);
        headers.insert(ACCEPT_ENCODING, narrowed);
        Self {
            method: method.clone(),
            rules,
            gzip_out,
            slots: None,
        }
    }

    /// Rewrites only while a place in `slots` is free (skips counted in `metrics`).
    pub fn with_slots(mut self, slots: Arc<Semaphore>, metrics: Arc<Metrics>) -> Self {
        self.slots = Some((slots, metrics));
        self
    }

    /// Applies the rules when the answer is an HTML page the injector can rewrite.
    pub fn apply(&self, resp: Response<Body>) -> Response<Body> {
        let Some(plan) = inject::plan_for(&self.method, resp.status(), resp.headers()) else {
            return resp;
        };
        let place = match &self.slots {
            None => None,
            Some((slots, metrics)) => match slots.clone().try_acquire_owned() {
                Ok(permit) => Some(permit),
                Err(_) => {
                    metrics.rewrite_skipped();
                    tracing::debug!("every rewrite place is taken; page passed through as it is");
                    return resp;
                }
            },
        };
        inject::inject(resp, plan, self.rules.clone(), self.gzip_out)
            .map(|b| body::boxed(body::Holding::new(b, place)))
    }
}

/// False when the request says a script, not the browser's navigation, will read the
/// answer: `Sec-Fetch-Dest` other than a document or frame (every current browser sends
/// it), or the `X-Requested-With: XMLHttpRequest` of jQuery-era scripts (old browsers).
pub fn shown_as_page(headers: &HeaderMap) -> bool {
    if let Some(dest) = headers.get("sec-fetch-dest") {
        let dest = dest.to_str().unwrap_or("").trim();
        return ["document", "iframe", "frame"]
            .iter()
            .any(|d| dest.eq_ignore_ascii_case(d));
    }
    !headers
        .get("x-requested-with")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("xmlhttprequest"))
}

/// The browser's codings that the injector can decode (gzip, deflate), or `identity`.
/// A coding the browser refused (`q=0`) is not asked for.
fn readable_codings(headers: &HeaderMap) -> HeaderValue {
    let mut gzip = false;
    let mut deflate = false;
    for value in headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
    {
        for item in value.split(',') {
            let mut it = item.split(';');
            let coding = it.next().unwrap_or("").trim().to_ascii_lowercase();
            let refused = it.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            if refused {
                continue;
            }
            match coding.as_str() {
                "gzip" | "x-gzip" => gzip = true,
                "deflate" => deflate = true,
                "*" => {
                    gzip = true;
                    deflate = true;
                }
                _ => {}
            }
        }
    }
    HeaderValue::from_static(match (gzip, deflate) {
        (true, true) => "gzip, deflate",
        (true, false) => "gzip",
        (false, true) => "deflate",
        (false, false) => "identity",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn narrowed(ae: &[&str]) -> String {
        let mut h = HeaderMap::new();
        for v in ae {
            h.append(ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
        }
        readable_codings(&h).to_str().unwrap().to_owned()
    }

    #[test]
    fn only_codings_the_injector_reads_are_asked_for() {
        assert_eq!(narrowed(&["gzip, deflate, br, zstd"]), "gzip, deflate");
        assert_eq!(narrowed(&["br"]), "identity");
        assert_eq!(narrowed(&[]), "identity");
        assert_eq!(narrowed(&["GZIP;q=0.5", "deflate;q=0"]), "gzip");
        assert_eq!(narrowed(&["*"]), "gzip, deflate");
        assert_eq!(narrowed(&["gzip;q=0, identity"]), "identity");
    }

    #[tokio::test]
    async fn only_html_bodies_are_rewritten() {
        use http_body_util::BodyExt;
        let rule = Rule::new(
            "body",
            "<p id=\"x\">banner</p>",
            crate::inject::Position::Prepend,
        )
        .unwrap();
        let d = Decorate::prepare(&Method::GET, &mut HeaderMap::new(), Arc::from(vec![rule]));
        let run = |ct: &'static str, text: &'static str| {
            let d = d.clone();
            async move {
                let resp = Response::builder()
                    .header("content-type", ct)
                    .body(body::full(text))
                    .unwrap();
                let out = d.apply(resp).into_body().collect().await.unwrap();
                String::from_utf8(out.to_bytes().to_vec()).unwrap()
            }
        };
        let css = "body { color: red }";
        assert_eq!(run("text/css", css).await, css);
        let json = "{\"body\":\"<body></body>\"}";
        assert_eq!(run("application/json", json).await, json);
        let html = run("text/html; charset=utf-8", "<html><body>hi</body></html>").await;
        assert!(html.contains("<body><p id=\"x\">banner</p>hi"), "{html}");
    }

    #[tokio::test]
    async fn past_the_rewrite_cap_pages_pass_through_unmodified() {
        use http_body_util::BodyExt;
        let rule = Rule::new("body", "<p>banner</p>", crate::inject::Position::Prepend).unwrap();
        let metrics = Arc::new(Metrics::new());
        let d = Decorate::prepare(&Method::GET, &mut HeaderMap::new(), Arc::from(vec![rule]))
            .with_slots(Arc::new(Semaphore::new(1)), metrics.clone());
        let page = || {
            Response::builder()
                .header("content-type", "text/html")
                .body(body::full("<html><body>hi</body></html>"))
                .unwrap()
        };
        let text = |r: Response<Body>| async move {
            let out = r.into_body().collect().await.unwrap().to_bytes();
            String::from_utf8(out.to_vec()).unwrap()
        };
        // The first page is being rewritten (its body not yet sent): the second is not.
        let first = d.apply(page());
        let second = text(d.apply(page())).await;
        assert_eq!(second, "<html><body>hi</body></html>");
        assert!(metrics.render().contains("rewrites_skipped_total 1"));
        assert!(text(first).await.contains("<p>banner</p>"));
        // The place came back with the first body's end.
        assert!(text(d.apply(page())).await.contains("<p>banner</p>"));
    }

    #[test]
    fn only_what_the_browser_shows_as_a_page_is_decorated() {
        let with = |pairs: &[(&'static str, &'static str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.append(*k, HeaderValue::from_static(v));
            }
            shown_as_page(&h)
        };
        // Navigations and frames, and requests that say nothing (old browsers, curl).
        assert!(with(&[]));
        assert!(with(&[("sec-fetch-dest", "document")]));
        assert!(with(&[("sec-fetch-dest", "IFRAME")]));
        assert!(with(&[("sec-fetch-dest", "frame")]));
        assert!(with(&[("x-requested-with", "com.android.browser")]));
        // Scripts, and every other destination (images, styles, workers…).
        assert!(!with(&[("sec-fetch-dest", "empty")]));
        assert!(!with(&[("sec-fetch-dest", "script")]));
        assert!(!with(&[("sec-fetch-dest", "style")]));
        assert!(!with(&[("sec-fetch-dest", "")]));
        assert!(!with(&[("sec-fetch-dest", "document-ish")]));
        assert!(!with(&[("x-requested-with", "XMLHttpRequest")]));
        assert!(!with(&[("x-requested-with", " xmlhttprequest ")]));
        // The fetch metadata decides when both are sent.
        assert!(with(&[
            ("sec-fetch-dest", "document"),
            ("x-requested-with", "XMLHttpRequest")
        ]));
        let mut bad = HeaderMap::new();
        bad.insert(
            "sec-fetch-dest",
            HeaderValue::from_bytes(b"docu\xffment").unwrap(),
        );
        assert!(!shown_as_page(&bad));
    }

    #[test]
    fn the_browser_choice_is_remembered() {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT_ENCODING, HeaderValue::from_static("br, gzip"));
        let d = Decorate::prepare(&Method::GET, &mut h, Arc::from(Vec::new()));
        assert!(d.gzip_out);
        assert_eq!(h[ACCEPT_ENCODING], "gzip");
    }
}
