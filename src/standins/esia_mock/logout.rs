//! `GET /idp/ext/Logout?client_id=…&redirect_url=…`: ends the browser's SSO session
//! (whatever else is wrong with the request, so a shared computer is never left signed
//! in), then sends the browser back only to a URL registered for that client.

use http::{HeaderMap, StatusCode};

use super::authorize::refuse_on_page;
use super::codes::{Code, EsiaError};
use super::pages;
use super::respond::{self, Params, Resp, SSO_COOKIE, html, redirect, set_cookie};
use super::state::Shared;

pub fn logout(shared: &Shared, query: &str, headers: &HeaderMap) -> Resp {
    {
        let mut book = shared.book();
        book.counters.logouts += 1;
        if let Some(id) = respond::cookie(headers, SSO_COOKIE) {
            book.sso.remove(&id);
        }
    }
    let mut resp = decide(shared, query);
    set_cookie(&mut resp, &respond::clear_sso_cookie());
    resp
}

fn decide(shared: &Shared, query: &str) -> Resp {
    let params = match Params::parse(query) {
        Ok(p) => p,
        Err(name) => return refuse_on_page(shared, &EsiaError::invalid(&name)),
    };
    shared.book().counters.last_logout = Some(params.to_map());
    let client = match params.require("client_id") {
        Ok(id) => match shared.clients.get(id) {
            Some(c) => c,
            None => return refuse_on_page(shared, &EsiaError::new(Code::E007002)),
        },
        Err(e) => return refuse_on_page(shared, &e),
    };
    match params.get("redirect_url").filter(|u| !u.is_empty()) {
        None => html(
            StatusCode::OK,
            pages::message_page("Вы вышли", "Сеанс работы на портале Госуслуг завершен."),
        ),
        Some(url) if client.allows_logout_redirect(url) => redirect(url),
        Some(_) => refuse_on_page(shared, &EsiaError::with(Code::E007023, "redirect_url")),
    }
}
