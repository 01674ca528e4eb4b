//! Signing in and out, on every endpoint [`super::resolve`] maps to the login and logout
//! routes (`/login`, `/login.php`, `/index.php?module=login`, and the same for logout).
//!
//! Two behaviours, chosen by [`super::DiaryConfig::strict_login`]:
//! - normal: a successful login ends the old session and issues a NEW `RIDSESSID`
//!   (session id rotation); a wrong password answers 200 with the form and
//!   [`BAD_LOGIN`].
//! - strict, like a real PHP school system: a GET of the form starts an anonymous
//!   session (its cookie is set then) and renders its CSRF token as a hidden `_token`;
//!   a login POST without a live session, or whose `_token` is not that session's, is
//!   answered `302 Location: /nocookies` and never signs in; a correct POST signs in on
//!   the SAME session id without any `Set-Cookie` — the worst case for a proxy that
//!   watches `Set-Cookie` to learn who is signed in.

use http::header::SET_COOKIE;
use http::{HeaderValue, StatusCode};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use subtle::ConstantTimeEq;

use super::handlers::PageRequest;
use super::layout::{login_form, page};
use super::pages;
use super::php_form::parse_form;
use super::php_query::PhpParams;
use super::quirks::split_target;
use super::school::DEMO_PASSWORD;
use super::server::{Reply, State};
use super::session::COOKIE_NAME;

/// The diary's wording for a refused login.
pub const BAD_LOGIN: &str = "Неверный логин или пароль";

/// Where the strict login sends a POST without its pre-login session.
pub const NO_COOKIES_PATH: &str = "/nocookies";

/// What stays unencoded in `return=`: unreserved characters and `/`.
const RETURN_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// `/login?return=<target>` for a page that needs a session.
pub fn login_redirect(target: &str) -> String {
    format!("/login?return={}", utf8_percent_encode(target, RETURN_SET))
}

/// A local path to go back to after login; anything else (other hosts, `//x`, `/\x`,
/// control characters) becomes `/`.
fn safe_return(candidate: Option<String>) -> String {
    match candidate {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && !path.chars().any(char::is_control)
                && HeaderValue::from_str(&path).is_ok() =>
        {
            path
        }
        _ => "/".to_owned(),
    }
}

pub(super) fn session_cookie(reply: &mut Reply, id: &str) {
    if let Ok(v) = HeaderValue::from_str(&format!("{COOKIE_NAME}={id}; Path=/; HttpOnly")) {
        reply.headers.insert(SET_COOKIE, v);
    }
}

/// GET of the login form.
pub fn form(state: &State, req: &PageRequest<'_>) -> Reply {
    let query = split_target(req.target.as_bytes())
        .map(|(_, q)| q)
        .unwrap_or_default();
    let ret = safe_return(PhpParams::parse(query).text("return"));
    if !state.strict_login {
        return Reply::html(StatusCode::OK, login_form(None, &ret, None, req.account));
    }
    // A live session keeps its token; otherwise the form starts a pre-login session.
    match req.live {
        Some(live) => Reply::html(
            StatusCode::OK,
            login_form(None, &ret, Some(&live.token), req.account),
        ),
        None => {
            let (id, token) = state.sessions.create_anonymous();
            let mut reply = Reply::html(StatusCode::OK, login_form(None, &ret, Some(&token), None));
            session_cookie(&mut reply, &id);
            reply
        }
    }
}

/// POST of the login form.
pub fn submit(state: &State, req: &PageRequest<'_>) -> Reply {
    let form = parse_form(req.content_type, req.body);
    let ret = safe_return(form.text("return"));
    let login = form.text("login").unwrap_or_default();
    let password = form.scalar("password").unwrap_or_default();
    let password_ok: bool = password.ct_eq(DEMO_PASSWORD.as_bytes()).into();
    let account = state.account(&login).filter(|_| password_ok);
    if !state.strict_login {
        let Some(account) = account else {
            return Reply::html(
                StatusCode::OK,
                login_form(Some(BAD_LOGIN), &ret, None, req.account),
            );
        };
        // A new id at every login: no session fixation.
        if let Some(old) = req.session_id {
            state.sessions.end(old);
        }
        let id = state.sessions.create(account.login);
        let mut reply = Reply::redirect(StatusCode::FOUND, &ret);
        session_cookie(&mut reply, &id);
        return reply;
    }
    let (Some(id), Some(live)) = (req.session_id, req.live) else {
        return Reply::redirect(StatusCode::FOUND, NO_COOKIES_PATH);
    };
    let token_ok: bool = form
        .scalar("_token")
        .is_some_and(|t| t.ct_eq(live.token.as_bytes()).into());
    if !token_ok {
        return Reply::redirect(StatusCode::FOUND, NO_COOKIES_PATH);
    }
    match account {
        Some(account) if state.sessions.sign_in(id, account.login) => {
            Reply::redirect(StatusCode::FOUND, &ret)
        }
        _ => Reply::html(
            StatusCode::OK,
            login_form(Some(BAD_LOGIN), &ret, Some(&live.token), req.account),
        ),
    }
}

/// Any method on a logout endpoint: the session ends and its cookie is deleted.
pub fn logout(state: &State, req: &PageRequest<'_>) -> Reply {
    if let Some(id) = req.session_id {
        state.sessions.end(id);
    }
    signed_out_to("/login")
}

/// A redirect to `location` that deletes the session cookie.
pub(super) fn signed_out_to(location: &str) -> Reply {
    let mut reply = Reply::redirect(StatusCode::FOUND, location);
    let gone = format!("{COOKIE_NAME}=deleted; Path=/; Max-Age=0; HttpOnly");
    if let Ok(v) = HeaderValue::from_str(&gone) {
        reply.headers.insert(SET_COOKIE, v);
    }
    reply
}

/// «Включите cookies в браузере».
pub fn no_cookies(req: &PageRequest<'_>) -> Reply {
    Reply::html(
        StatusCode::OK,
        page(
            "utf-8",
            req.route.page_id(),
            "Включите cookies в браузере",
            req.account,
            &pages::no_cookies(),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_paths_stay_local() {
        let r = |s: &str| safe_return(Some(s.to_owned()));
        assert_eq!(r("/marks?x=1"), "/marks?x=1");
        assert_eq!(r("//evil.example/"), "/");
        assert_eq!(r("/\\evil.example"), "/");
        assert_eq!(r("https://evil.example/"), "/");
        assert_eq!(r("/a\r\nSet-Cookie: x=1"), "/");
        assert_eq!(r(""), "/");
        assert_eq!(safe_return(None), "/");
    }

    #[test]
    fn login_redirect_encodes_the_target() {
        assert_eq!(
            login_redirect("/index.php?module=marks&a=b"),
            "/login?return=/index.php%3Fmodule%3Dmarks%26a%3Db"
        );
    }
}
