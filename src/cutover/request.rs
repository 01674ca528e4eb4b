//! What the authorize phase reads from a request and writes back: the session's view
//! for the decision, the target as the client sent it, the canonical target in its
//! place, and the return path for the sign-in redirect.

use http::{Method, Request, Response, Uri};

use crate::body::Body;
use crate::login::ActiveSession;
use crate::policy::{AccountLevel, CanonicalRequest, Role, SessionView};

/// What the decision needs to know about a session.
pub fn view_of(session: Option<&ActiveSession>) -> SessionView {
    let Some(s) = session else {
        return SessionView::Anonymous;
    };
    let role = s.diary_role.as_deref().and_then(Role::parse);
    if s.auth_method != "esia" {
        return SessionView::Legacy { role };
    }
    // An unknown level string is the weakest level: never more access than proven.
    let level = s
        .account_level
        .as_deref()
        .and_then(AccountLevel::parse)
        .unwrap_or(AccountLevel::Child);
    match s.diary_login {
        Some(_) => SessionView::EsiaLinked { level, role },
        None => SessionView::EsiaUnlinked { level },
    }
}

/// The request-target as the client sent it: origin-form, or absolute-form on HTTP/1.x
/// (the canonicaliser accepts only the gateway's own hosts there).
pub(super) fn raw_target<B>(req: &Request<B>) -> String {
    let uri = req.uri();
    let pq = uri.path_and_query().map_or("/", |p| p.as_str());
    match (req.version(), uri.scheme(), uri.authority()) {
        (http::Version::HTTP_10 | http::Version::HTTP_11, Some(scheme), Some(authority)) => {
            format!("{scheme}://{authority}{pq}")
        }
        _ => pq.to_owned(),
    }
}

/// Replaces the request's target by the canonical one, keeping scheme and authority.
pub(super) fn set_target<B>(req: &mut Request<B>, target: &str) {
    let mut parts = req.uri().clone().into_parts();
    match target.parse() {
        Ok(pq) => parts.path_and_query = Some(pq),
        Err(e) => {
            // The canonicaliser emits only valid targets; refuse to guess if not.
            tracing::error!(error = %e, "canonical target is not a valid URI; sending /");
            parts.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
        }
    }
    // Never leave the raw target in place: that is what the policy did not match.
    *req.uri_mut() = Uri::from_parts(parts)
        .or_else(|_| target.parse())
        .unwrap_or_else(|_| Uri::from_static("/"));
}

pub(super) fn without_body(page: Response<Body>) -> Response<Body> {
    let (mut parts, _) = page.into_parts();
    parts.headers.remove(http::header::CONTENT_LENGTH);
    Response::from_parts(parts, crate::body::empty())
}

/// Where to come back after signing in: the canonical target of a GET, else `/`.
pub(super) fn return_path(c: &CanonicalRequest) -> String {
    if c.method == Method::GET {
        c.forward_target.clone()
    } else {
        "/".to_owned()
    }
}
