//! Ending a diary session the way the user's browser would. Many diaries log out only
//! through a link that carries a per-session token (`index.php?modfunc=logout&token=…`):
//! a fixed `logout_path` cannot name it. So the gateway reads the page the probe reads
//! (the diary's page for a signed-in user), takes the first link there that the
//! `logout_endpoints` matchers recognise, and follows that; only when no such link is
//! on the page does it send `logout_path`.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{Request, header};
use http_body_util::Full;

use super::jar::Jar;
use super::location::resolve_location;
use super::signin::{DiaryError, DiaryHttp, DiaryRules};
use crate::policy::canonical::{CanonConfig, canonicalize};

/// The request target that logs this session out: the logout link on the probe page,
/// else `logout_path`.
pub async fn logout_target(
    http: &dyn DiaryHttp,
    rules: &DiaryRules,
    host: &str,
    jar: &Jar,
    now: DateTime<Utc>,
) -> String {
    let page = rules.probe.path.as_str();
    match get(http, host, page, jar, now).await {
        Ok(body) => logout_link(rules, page, &body).unwrap_or_else(|| rules.logout_path.clone()),
        Err(e) => {
            tracing::debug!(error = %e, "diary logout: the probe page could not be read");
            rules.logout_path.clone()
        }
    }
}

/// Sends the diary's logout for the session in `jar`; the target it used.
pub async fn log_out(
    http: &dyn DiaryHttp,
    rules: &DiaryRules,
    host: &str,
    jar: &Jar,
    now: DateTime<Utc>,
) -> Result<String, DiaryError> {
    let target = logout_target(http, rules, host, jar, now).await;
    get(http, host, &target, jar, now).await?;
    Ok(target)
}

/// The first `<a href>` in `html` (a page at `page_target`) that names a logout
/// endpoint, resolved like a browser resolves it.
pub fn logout_link(rules: &DiaryRules, page_target: &str, html: &[u8]) -> Option<String> {
    let cfg = CanonConfig {
        case_insensitive: true,
        ..CanonConfig::default()
    };
    hrefs(html).into_iter().find_map(|href| {
        let target = resolve_location(page_target, &unescape(&href))?;
        let req = canonicalize("GET", &target, &cfg).ok()?;
        rules.logout_endpoints.matches(&req).then_some(target)
    })
}

/// The `href` of every `<a>`, in document order (lol_html: the page may be any HTML).
fn hrefs(html: &[u8]) -> Vec<String> {
    let found = std::cell::RefCell::new(Vec::new());
    let mut rewriter = lol_html::HtmlRewriter::new(
        lol_html::Settings {
            element_content_handlers: vec![lol_html::element!("a[href]", |el| {
                if let Some(h) = el.get_attribute("href") {
                    found.borrow_mut().push(h);
                }
                Ok(())
            })],
            ..lol_html::Settings::new()
        },
        |_: &[u8]| {},
    );
    // A page lol_html cannot parse has no link to follow; the fixed path is used then.
    if rewriter.write(html).is_err() || rewriter.end().is_err() {
        return Vec::new();
    }
    found.into_inner()
}

/// The character references a link's query uses (`&amp;`); the attribute is raw text.
fn unescape(href: &str) -> String {
    href.replace("&amp;", "&")
        .replace("&#38;", "&")
        .replace("&#x26;", "&")
}

/// A GET of `target` on the diary with the session's cookies from `jar`; the body.
pub async fn get(
    http: &dyn DiaryHttp,
    host: &str,
    target: &str,
    jar: &Jar,
    now: DateTime<Utc>,
) -> Result<Bytes, DiaryError> {
    let path = target.split('?').next().unwrap_or("/");
    let mut req = Request::get(target).header(header::HOST, host);
    if let Some(cookies) = jar.header_for(path, now) {
        req = req.header(header::COOKIE, cookies);
    }
    let req = req
        .body(Full::new(Bytes::new()))
        .map_err(|e| DiaryError::BadAnswer(e.to_string()))?;
    Ok(http.send(req).await?.into_body())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diary::endpoints::Endpoints;

    fn rules() -> DiaryRules {
        DiaryRules {
            logout_endpoints: Endpoints::paths(&[]).with_query("/index.php", "modfunc", "logout"),
            ..DiaryRules::demo()
        }
    }

    #[test]
    fn the_tokened_logout_link_is_found_and_resolved() {
        let page = br#"<html><body><a href="Modules.php?modname=misc/Portal.php">Home</a>
            <a href="index.php?modfunc=logout&amp;token=ab12">Log out</a></body></html>"#;
        assert_eq!(
            logout_link(&rules(), "/Modules.php?modname=misc/Portal.php", page).as_deref(),
            Some("/index.php?modfunc=logout&token=ab12")
        );
    }

    #[test]
    fn no_logout_link_means_none() {
        for page in [
            &b"<a href=\"index.php\">login</a><a href=\"index.php?modfunc=other\">x</a>"[..],
            b"",
            b"<a href=\"https://elsewhere.example/index.php?modfunc=logout\">x</a>",
            b"\xff\xfe<a",
        ] {
            let found = logout_link(&rules(), "/Modules.php", page);
            assert!(
                found.is_none() || !found.unwrap().contains("elsewhere"),
                "{page:?}"
            );
        }
        assert!(logout_link(&rules(), "/Modules.php", b"<a href=\"index.php\">x</a>").is_none());
    }
}
