//! Everything that can stop a proxied request, and the one place it becomes a status.
//!
//! Classified by source, like pingora: the client's fault → 4xx, the diary's → 502/504,
//! ours → 500. The pipeline's inner function returns `Result<_, ProxyError>` and uses `?`
//! freely; the outer function turns the error into a page exactly once.

use http::StatusCode;

use crate::upstream::UpstreamError;

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("missing or invalid Host")]
    BadHost,
    /// A `Host` that is not one of the gateway's names (`listen.hosts`, `public_url`).
    /// GET/HEAD go to the same page on the canonical origin (`location`), so the ESIA
    /// flow cookie and the session live on the origin ESIA returns to; the rest get 421.
    #[error("Host {host:?} is not one of the gateway's names")]
    OtherHost {
        host: String,
        location: Option<String>,
    },
    #[error("request target cannot be forwarded: {0}")]
    BadTarget(String),
    #[error("request target of {0} bytes: over the limit")]
    UriTooLong(usize),
    #[error("{count} request headers, {bytes} bytes: over the limit")]
    HeadersTooLarge { count: usize, bytes: usize },
    #[error("request body over the limit ({limit} bytes)")]
    BodyTooLarge { limit: u64 },
    #[error("upstream: {0}")]
    Upstream(#[from] UpstreamError),
    #[error("internal: {0}")]
    Internal(String),
}

impl ProxyError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadHost | Self::BadTarget(_) => StatusCode::BAD_REQUEST,
            Self::OtherHost {
                location: Some(_), ..
            } => StatusCode::TEMPORARY_REDIRECT,
            Self::OtherHost { location: None, .. } => StatusCode::MISDIRECTED_REQUEST,
            Self::UriTooLong(_) => StatusCode::URI_TOO_LONG,
            Self::HeadersTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Upstream(e) => e.status(),
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The answer the browser gets: a redirect to the canonical origin, else the
    /// error page for [`Self::status`].
    pub fn into_response(
        self,
        pages: &crate::config::PagesConfig,
    ) -> http::Response<crate::body::Body> {
        match self {
            Self::OtherHost {
                location: Some(location),
                ..
            } => {
                let mut resp = crate::pages::into_body(crate::pages::redirect(&location));
                *resp.status_mut() = StatusCode::TEMPORARY_REDIRECT;
                resp
            }
            other => crate::pages::error_page(other.status(), pages.language, &pages.templates),
        }
    }
}
