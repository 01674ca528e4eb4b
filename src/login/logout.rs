//! Single logout, one behaviour wherever «Выйти» is clicked (issue 15): a click on our
//! own pages (`GET logout` with same-origin Fetch Metadata or Referer, the diary's
//! logout link, `POST logout` with the session's CSRF token) logs out at once; a link
//! or an image tag on another site only gets the confirmation form. Logging out ends
//! the diary session and the gateway's, and sends an ESIA session to ESIA's
//! `/idp/ext/Logout` so a shared computer is not left signed in to Госуслуги (seed
//! 004's «ВАЖНО»). Either way the browser lands on the start page, which then says
//! «Вы вышли из электронного дневника и из Госуслуг» (or only «…из дневника» for a
//! password session, which never went to ESIA).

use http::{Request, StatusCode};
use subtle::ConstantTimeEq;
use url::Url;

use super::cookies;
use super::pages::{PageResponse, Problem, redirect};
use super::{Login, single_param};

/// Largest logout form body read; the form holds one token.
const MAX_FORM_BYTES: usize = 4096;

impl Login {
    /// `GET logout`: from our own pages, the logout itself; from elsewhere the
    /// confirmation page; without a session, back to the start page.
    pub(super) async fn logout_page<B>(&self, req: Request<B>) -> PageResponse {
        let (parts, _) = req.into_parts();
        match self.session_of(&parts.headers).await {
            Some(session) if super::origin::from_our_pages(&parts.headers) => {
                self.end_session(&parts, session).await
            }
            Some(session) => self.pages.logout_confirm(&session.csrf_token),
            None => redirect(&format!("{}start", self.settings.prefix)),
        }
    }

    /// `POST logout` with `csrf=<token>` (form-urlencoded).
    pub(super) async fn logout<B>(&self, req: Request<B>) -> PageResponse
    where
        B: http_body::Body + Send + Unpin,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (parts, body) = req.into_parts();
        let Some(session) = self.session_of(&parts.headers).await else {
            // Nothing to end here; clear any stale cookie and show the start page.
            let mut resp = redirect(&format!("{}start", self.settings.prefix));
            clear_session_cookie(&mut resp, &self.settings.cookies.session);
            return resp;
        };
        let form = read_form(body, &parts.extensions).await;
        let token = form.as_deref().and_then(|f| single_param(Some(f), "csrf"));
        let valid = token.is_some_and(|t| {
            t.len() == session.csrf_token.len()
                && bool::from(t.as_bytes().ct_eq(session.csrf_token.as_bytes()))
        });
        if !valid {
            tracing::warn!(oid = ?session.esia_oid, "logout refused: bad or missing CSRF token");
            let t = self.pages.texts();
            let mut problem = Problem::new(StatusCode::FORBIDDEN, t.csrf_title, t.csrf_text)
                .with_code("logout-csrf-invalid");
            problem.retry = false;
            return self.pages.problem(&problem);
        }
        self.end_session(&parts, session).await
    }

    /// Ends the diary and gateway sessions; the browser goes to ESIA's logout (an ESIA
    /// session) or straight to the start page, which says it signed out.
    async fn end_session(
        &self,
        parts: &http::request::Parts,
        session: super::ActiveSession,
    ) -> PageResponse {
        // The diary session ends with the gateway's (DESIGN §3.5).
        if let Some(link) = &self.link {
            link.end_diary_session(&session.cookie).await;
        }
        if let Err(err) = self.backend.end(&session.cookie).await {
            tracing::error!(error = %err, "logout: cannot end the session");
            return self.store_problem();
        }
        tracing::info!(oid = ?session.esia_oid, "logout");
        let start = format!("{}start", self.settings.prefix);
        // A password session never signed in to Госуслуги: no ESIA logout for it.
        let esia = session.auth_method == "esia";
        let target = if esia {
            self.start_url(parts)
                .and_then(|start| self.idp.logout_url(&start))
                .map_or(start, |u| u.to_string())
        } else {
            start
        };
        let mut resp = redirect(&target);
        clear_session_cookie(&mut resp, &self.settings.cookies.session);
        if let Ok(v) = http::HeaderValue::from_str(&cookies::signed_out_cookie(esia)) {
            resp.headers_mut().append(http::header::SET_COOKIE, v);
        }
        resp
    }

    /// `<public origin><prefix>start`: where ESIA's logout sends the browser back.
    fn start_url(&self, parts: &http::request::Parts) -> Option<Url> {
        let origin = match &self.settings.public_url {
            Some(url) => url.clone(),
            None => {
                // HTTP/2 carries the host in `:authority`, HTTP/1.1 in `Host`.
                let host = match parts.uri.authority() {
                    Some(a) => a.as_str(),
                    None => parts.headers.get(http::header::HOST)?.to_str().ok()?,
                };
                // Only a plain host[:port]: the value ends up in a URL sent to ESIA.
                let plain = !host.is_empty()
                    && host
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
                if !plain {
                    return None;
                }
                Url::parse(&format!("https://{host}/")).ok()?
            }
        };
        origin.join(&format!("{}start", self.settings.prefix)).ok()
    }
}

fn clear_session_cookie(resp: &mut PageResponse, name: &str) {
    if let Ok(v) = http::HeaderValue::from_str(&cookies::clear_cookie(name)) {
        resp.headers_mut().append(http::header::SET_COOKIE, v);
    }
}

/// The request body as text, at most [`MAX_FORM_BYTES`]; `None` when larger or broken.
async fn read_form<B>(body: B, extensions: &http::Extensions) -> Option<String>
where
    B: http_body::Body + Unpin,
{
    let timeout = crate::body::read_timeout(extensions);
    let bytes = crate::body::read_within(body, MAX_FORM_BYTES, timeout)
        .await
        .ok()?;
    String::from_utf8(bytes.to_vec()).ok()
}
