//! Protected parameters from every place a PHP diary reads them.
//!
//! The threat: `POST /index.php?module=homework` with the body `module=marks` — the
//! gateway judged "homework" from the query while a diary reading `$_REQUEST` (POST wins
//! over GET) served marks; `Cookie: module=marks` did the same where cookies are in
//! `$_REQUEST`. So when a route group's query condition reads a parameter at this
//! request's path, the decision sees the query, the form body (urlencoded and
//! multipart, read like PHP) and the cookies the diary will get, in PHP's order, as one
//! parameter list: a parameter sent in two places is ambiguous and so protected (fail
//! closed), as a duplicate in the query already is.
//!
//! The body is buffered only for such requests, up to a cap (then 413), and forwarded
//! byte for byte as it was read. A body the gateway cannot read (an odd multipart, a
//! non-UTF-8 charset) counts as naming every protected parameter.

use http::header::CONTENT_TYPE;
use http::{Request, StatusCode};

use crate::body::{self, Body};
use crate::policy::{CanonicalRequest, PhpQuery};

/// The largest body the gateway reads to decide (the diary's forms are small).
pub const MAX_DECISION_BODY: usize = 1024 * 1024;
const MAX_PARAMS: usize = 1024;

/// The request as the decision must see it: the canonical request with the body's and
/// the cookies' parameters after the query's. `Err(status)` when the body is too large
/// or broken.
pub async fn with_body_params(
    req: Request<Body>,
    canonical: &CanonicalRequest,
    names: &[&str],
) -> Result<(Request<Body>, CanonicalRequest), StatusCode> {
    let (parts, incoming) = req.into_parts();
    let form = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = crate::body::read_within(
        incoming,
        MAX_DECISION_BODY,
        crate::body::read_timeout(&parts.extensions),
    )
    .await
    .map_err(|e| match e {
        crate::body::BodyReadError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        crate::body::BodyReadError::Broken => StatusCode::BAD_REQUEST,
        crate::body::BodyReadError::TimedOut => StatusCode::REQUEST_TIMEOUT,
    })?;
    let mut pairs: Vec<(String, String)> = canonical
        .query
        .params()
        .iter()
        .map(|p| (p.name.clone(), p.value.clone()))
        .collect();
    let body_params = if bytes.is_empty() {
        Ok(PhpQuery::default())
    } else {
        crate::diary::form::read_params(form.as_deref(), &bytes)
    };
    // A pair the query already carries with the same value means nothing new (a form
    // whose hidden `module` repeats its action's): kept once, so only a disagreement
    // between places is ambiguous.
    let add = |pairs: &mut Vec<(String, String)>, more: Vec<(String, String)>| {
        for p in more {
            if !pairs.contains(&p) {
                pairs.push(p);
            }
        }
    };
    match body_params {
        Ok(q) => {
            let more = q.params().iter().map(|p| (p.name.clone(), p.value.clone()));
            add(&mut pairs, more.collect());
        }
        // Unreadable: the body may name any protected parameter — make each ambiguous.
        Err(e) => {
            tracing::info!(error = %e, "request body unreadable for the decision; fail closed");
            for name in names {
                pairs.push(((*name).to_owned(), String::new()));
                pairs.push(((*name).to_owned(), String::new()));
            }
        }
    }
    add(&mut pairs, cookie_pairs(&parts.headers));
    let merged = PhpQuery::from_pairs(pairs, MAX_PARAMS).unwrap_or_else(|_| {
        // Too many or control characters: fail closed the same way.
        let doubled = names.iter().flat_map(|n| {
            [
                ((*n).to_owned(), String::new()),
                ((*n).to_owned(), String::new()),
            ]
        });
        PhpQuery::from_pairs(doubled.collect::<Vec<_>>(), MAX_PARAMS).unwrap_or_default()
    });
    let deciding = CanonicalRequest {
        query: merged,
        ..canonical.clone()
    };
    Ok((Request::from_parts(parts, body::full(bytes)), deciding))
}

/// The cookies the diary will get, as PHP's `$_COOKIE` (values URL-decoded).
fn cookie_pairs(headers: &http::HeaderMap) -> Vec<(String, String)> {
    crate::login::cookies::request_cookies(headers)
        .into_iter()
        .map(|(n, v)| {
            let v = percent_encoding::percent_decode_str(&v).decode_utf8_lossy();
            (n, v.into_owned())
        })
        .collect()
}
