//! The per-request part: [`Link::prepare`] before the diary is asked, [`Link::finish`]
//! on its answer.
//!
//! Form mode: browser cookies other than the pass list are dropped (the gateway's own
//! were removed by `login`), the session's jar supplies the `Cookie` header, every
//! diary `Set-Cookie` goes into the jar and never to the browser. A diary answer that
//! says "your diary session is over" ([`DiaryRules::session_expired`]) makes the gateway
//! sign in again from the vault and repeat a GET/HEAD; a POST gets a page asking to
//! send the form again (its body is gone).
//!
//! Header mode: the signed assertion header is added for sessions with a diary
//! identity; a client-sent copy is removed from every request, signed in or not.
//!
//! [`DiaryRules::session_expired`]: crate::diary::signin::DiaryRules::session_expired

use std::net::IpAddr;

use http::header::{COOKIE, LOCATION, SET_COOKIE};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};

use super::identity::{VaultSignIn, record_of};
use super::{Finish, Link, Plan, PlanKind, Step, jar_store, link_url};
use crate::diary::assertion::DEFAULT_HEADER;
use crate::login::ActiveSession;
use crate::login::cookies::request_cookies;
use crate::login::pages::redirect;
use crate::login::return_path::safe_return_path;
use crate::proxy::body::{self, Body};
use crate::store::AuthMethod;

impl Link {
    /// Runs after authenticate for every proxied request.
    pub async fn prepare(
        &self,
        mut req: Request<Body>,
        session: Option<ActiveSession>,
        client_ip: IpAddr,
    ) -> Step {
        self.strip_assertion(req.headers_mut());
        let path = req.uri().path().to_owned();
        let rules = &self.diary.rules;
        if req.method() == Method::POST && rules.is_login_path(&path) {
            return self.legacy_login(req, session, client_ip).await;
        }
        if rules.is_logout_path(&path)
            && let Some(s) = &session
        {
            let (parts, _) = req.into_parts();
            return Step::Answer(self.diary_logout(&parts, s, client_ip).await);
        }
        if self.form_mode() {
            keep_only_cookies(req.headers_mut(), &self.diary.pass_cookies);
        }
        let plain = |req| Step::Forward(req, self.plan(PlanKind::Plain, None, client_ip, &path));
        let Some(session) = session else {
            return plain(req);
        };
        let Some((id, mut record)) = record_of(&self.sessions, &session.cookie).await else {
            return plain(req);
        };
        if record.diary_login.is_none() {
            if record.auth_method != AuthMethod::Esia {
                return plain(req);
            }
            let target = req
                .uri()
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_owned();
            let return_path = if req.method() == Method::GET {
                safe_return_path(&target)
            } else {
                "/".to_owned()
            };
            record = match self.establish(record, &return_path, client_ip).await {
                Ok(r) => r,
                Err(page) => return Step::Answer(page),
            };
        }
        let Some(login) = record.diary_login.clone() else {
            return plain(req);
        };
        if let Some(assertions) = &self.assertions {
            let signed = assertions.sign(
                &login,
                record.diary_role.as_deref(),
                record.auth_method.as_str(),
                record.account_level.as_deref(),
                self.clock.now(),
            );
            match signed.ok().and_then(|s| HeaderValue::from_str(&s).ok()) {
                Some(v) => {
                    req.headers_mut()
                        .insert(assertions.header_name().clone(), v);
                }
                None => tracing::error!("cannot sign the diary assertion; forwarding without it"),
            }
            return Step::Forward(req, self.plan(PlanKind::Untouched, None, client_ip, &path));
        }
        let Some(vault) = &self.vault else {
            return plain(req);
        };
        let jar = jar_store::open(vault, &record.key, record.diary_cookies.as_deref());
        if let Some(cookies) = jar.header_for(&path, self.clock.now()) {
            append_cookie(req.headers_mut(), &cookies);
        }
        let replay = matches!(*req.method(), Method::GET | Method::HEAD).then(|| {
            (
                req.method().clone(),
                req.uri().clone(),
                without_jar(req.headers(), &self.diary.pass_cookies),
            )
        });
        Step::Forward(
            req,
            self.plan(PlanKind::Jar { id, jar }, replay, client_ip, &path),
        )
    }

    pub(super) fn plan(
        &self,
        kind: PlanKind,
        replay: Option<(Method, http::Uri, HeaderMap)>,
        client_ip: IpAddr,
        path: &str,
    ) -> Plan {
        Plan {
            kind,
            retried: false,
            replay,
            client_ip,
            path: path.to_owned(),
        }
    }

    /// Runs on the diary's answer (after the proxy's own header clean-up).
    pub async fn finish(&self, mut resp: Response<Body>, plan: &mut Plan) -> Finish {
        match std::mem::replace(&mut plan.kind, PlanKind::Plain) {
            PlanKind::Untouched => Finish::Done(resp),
            PlanKind::Plain => {
                if self.form_mode() {
                    take_set_cookies(resp.headers_mut(), &self.diary.pass_cookies);
                }
                Finish::Done(resp)
            }
            PlanKind::LegacyLogin { login, previous } => Finish::Done(
                self.legacy_answer(resp, login, previous, plan.client_ip)
                    .await,
            ),
            PlanKind::Jar { id, mut jar } => {
                let before = jar.clone();
                let path = plan.path.clone();
                let now = self.clock.now();
                for value in take_set_cookies(resp.headers_mut(), &self.diary.pass_cookies) {
                    jar.store(&value, &path, now);
                }
                let location = resp
                    .headers()
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let expired = self
                    .diary
                    .rules
                    .session_expired(resp.status(), location.as_deref());
                if expired && !plan.retried {
                    plan.retried = true;
                    return self.heal(id, plan).await;
                }
                if jar != before {
                    self.save_jar(&id, &jar).await;
                }
                Finish::Done(resp)
            }
        }
    }

    /// The diary session is over: sign in again from the vault, then repeat a GET/HEAD.
    async fn heal(&self, id: crate::session::SessionId, plan: &mut Plan) -> Finish {
        let page = |p: crate::login::pages::PageResponse| Finish::Done(p.map(body::boxed));
        let Ok(Some(record)) = self.sessions.get(&id).await else {
            return page(self.store_problem());
        };
        let mut record = (*record).clone();
        let Some(login) = record.diary_login.clone() else {
            return page(redirect("/"));
        };
        let return_path = plan
            .replay
            .as_ref()
            .and_then(|(_, uri, _)| uri.path_and_query())
            .map_or("/".to_owned(), |pq| safe_return_path(pq.as_str()));
        let (jar, role) = match self.sign_in_from_vault(&login).await {
            VaultSignIn::SignedIn { jar, role } => (jar, role),
            VaultSignIn::NoPassword | VaultSignIn::WrongPassword
                if record.auth_method == AuthMethod::Legacy =>
            {
                // A legacy session has no stored password: it signs in on the diary's form.
                return page(redirect(&self.diary.rules.login_path));
            }
            outcome => {
                if let (VaultSignIn::WrongPassword, Some(oid)) = (&outcome, record.esia_oid) {
                    self.mark_stale(oid, &login, plan.client_ip).await;
                }
                if let VaultSignIn::Failed(p) = outcome {
                    return page(p);
                }
                // The session keeps its ESIA identity but loses its diary one.
                record.diary_login = None;
                record.diary_role = None;
                record.diary_cookies = None;
                if let Err(e) = self.sessions.update(record).await {
                    tracing::error!(error = %e, "cannot drop the session's diary identity");
                }
                return page(redirect(&link_url(&self.prefix, &return_path)));
            }
        };
        if role.is_some() && role != record.diary_role {
            record.diary_role = role;
            record.diary_cookies = self
                .vault
                .as_ref()
                .and_then(|v| jar_store::seal(v, &record.key, &jar));
            if let Err(e) = self.sessions.update(record).await {
                tracing::warn!(error = %e, "cannot save the renewed diary role");
            }
        } else {
            self.save_jar(&id, &jar).await;
        }
        tracing::info!(login = %login, "diary session renewed from the vault");
        let Some((method, uri, mut headers)) = plan.replay.clone() else {
            let t = self.pages.texts();
            return page(self.pages.refusal(
                StatusCode::CONFLICT,
                t.resend_title,
                t.resend_text,
                "diary-session-renewed",
            ));
        };
        if let Some(cookies) = jar.header_for(uri.path(), self.clock.now()) {
            append_cookie(&mut headers, &cookies);
        }
        plan.kind = PlanKind::Jar { id, jar };
        let mut req = Request::new(body::empty());
        *req.method_mut() = method;
        *req.uri_mut() = uri;
        *req.headers_mut() = headers;
        Finish::Retry(req)
    }

    async fn save_jar(&self, id: &crate::session::SessionId, jar: &crate::diary::jar::Jar) {
        let Some(vault) = &self.vault else { return };
        let key = id.key();
        let sealed = jar_store::seal(vault, &key, jar);
        if let Err(e) = self.sessions.set_diary_cookies(&key, sealed).await {
            tracing::warn!(error = %e, "cannot save the diary cookie jar");
        }
    }

    /// Removes client-sent assertion headers (the configured name and the default).
    fn strip_assertion(&self, headers: &mut HeaderMap) {
        headers.remove(DEFAULT_HEADER);
        if let Some(a) = &self.assertions {
            headers.remove(a.header_name());
        }
    }
}

/// Drops every browser cookie but the names in `pass`.
pub(super) fn keep_only_cookies(headers: &mut HeaderMap, pass: &[String]) {
    let kept: Vec<String> = request_cookies(headers)
        .into_iter()
        .filter(|(name, _)| pass.iter().any(|p| p == name))
        .map(|(n, v)| format!("{n}={v}"))
        .collect();
    headers.remove(COOKIE);
    if !kept.is_empty()
        && let Ok(v) = HeaderValue::from_str(&kept.join("; "))
    {
        headers.insert(COOKIE, v);
    }
}

/// The request's headers with the jar's cookies removed again (pass-list ones kept).
fn without_jar(headers: &HeaderMap, pass: &[String]) -> HeaderMap {
    let mut h = headers.clone();
    keep_only_cookies(&mut h, pass);
    h
}

/// Adds `cookies` to the request's `Cookie` header.
pub(super) fn append_cookie(headers: &mut HeaderMap, cookies: &str) {
    let joined = match headers.get(COOKIE).and_then(|v| v.to_str().ok()) {
        Some(existing) if !existing.is_empty() => format!("{existing}; {cookies}"),
        _ => cookies.to_owned(),
    };
    if let Ok(v) = HeaderValue::from_str(&joined) {
        headers.insert(COOKIE, v);
    }
}

/// Removes the diary's `Set-Cookie` headers (pass-list names stay) and returns them.
pub(super) fn take_set_cookies(headers: &mut HeaderMap, pass: &[String]) -> Vec<String> {
    let all: Vec<HeaderValue> = headers.get_all(SET_COOKIE).iter().cloned().collect();
    headers.remove(SET_COOKIE);
    let mut taken = Vec::new();
    for v in all {
        let text = String::from_utf8_lossy(v.as_bytes()).into_owned();
        let name = text.split_once('=').map(|(n, _)| n.trim()).unwrap_or("");
        if !name.is_empty() && pass.iter().any(|p| p == name) {
            headers.append(SET_COOKIE, v);
        } else {
            taken.push(text);
        }
    }
    taken
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_cookies_are_dropped_but_the_pass_list() {
        let mut h = HeaderMap::new();
        h.append(
            COOKIE,
            HeaderValue::from_static("RIDSESSID=stolen; theme=dark"),
        );
        h.append(COOKIE, HeaderValue::from_static("lang=ru"));
        keep_only_cookies(&mut h, &["lang".into(), "theme".into()]);
        assert_eq!(h.get_all(COOKIE).iter().count(), 1);
        assert_eq!(h[COOKIE], "theme=dark; lang=ru");
        keep_only_cookies(&mut h, &[]);
        assert!(h.get(COOKIE).is_none());
    }

    #[test]
    fn set_cookies_go_to_the_jar_not_the_browser() {
        let mut h = HeaderMap::new();
        h.append(
            SET_COOKIE,
            HeaderValue::from_static("RIDSESSID=abc; Path=/; HttpOnly"),
        );
        h.append(SET_COOKIE, HeaderValue::from_static("lang=ru; Path=/"));
        h.append(SET_COOKIE, HeaderValue::from_static("=junk"));
        let taken = take_set_cookies(&mut h, &["lang".into()]);
        assert_eq!(taken.len(), 2);
        assert!(taken[0].starts_with("RIDSESSID=abc"));
        assert_eq!(h.get_all(SET_COOKIE).iter().count(), 1);
        assert_eq!(h[SET_COOKIE], "lang=ru; Path=/");
    }

    #[test]
    fn jar_cookies_join_the_pass_list_ones() {
        let mut h = HeaderMap::new();
        append_cookie(&mut h, "RIDSESSID=x");
        assert_eq!(h[COOKIE], "RIDSESSID=x");
        h.insert(COOKIE, HeaderValue::from_static("lang=ru"));
        append_cookie(&mut h, "RIDSESSID=x");
        assert_eq!(h[COOKIE], "lang=ru; RIDSESSID=x");
    }
}
