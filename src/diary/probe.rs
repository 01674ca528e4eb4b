//! The identity probe: after any sign-in (the gateway's own, or a legacy login it saw) and
//! whenever the jar's diary session changes, the gateway asks the diary who is signed in.
//!
//! Why: a redirect after a login POST proves nothing (a real diary answers 302 to its
//! "enable cookies" page on a failed login), and a login field the gateway read can differ
//! from the one the diary read. The only positive evidence of an identity is the diary
//! itself naming the user on a page that needs a session. The probe reads that name, and
//! the role and display name with it, from a JSON answer (JSON pointers) or from an HTML
//! page (an optional CSS selector, then a regex with named groups `login`, `role`, `name`).

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{Request, StatusCode, header};
use http_body_util::Full;
use regex::Regex;

use super::form::html_unescape;
use super::jar::Jar;
use super::signin::{DiaryError, DiaryHttp, DiaryRules};

/// How the diary names the signed-in user.
#[derive(Debug, Clone)]
pub struct ProbeRules {
    /// A page that needs a diary session (`/api/me`, a cabinet page).
    pub path: String,
    pub format: ProbeFormat,
}

#[derive(Debug, Clone)]
pub enum ProbeFormat {
    /// JSON pointers into the answer; the login pointer is required.
    Json {
        login: String,
        role: Option<String>,
        name: Option<String>,
        /// The account's own birth date, where the diary shows it (a pupil's).
        birth_date: Option<String>,
    },
    /// The text of the first element matching `selector` (the whole page without
    /// one), searched with `regex`; its named groups `login` (required), `role`, `name`,
    /// `birth` (the account's own birth date).
    Html {
        selector: Option<String>,
        regex: Regex,
    },
}

impl ProbeRules {
    /// The demo diary's `/api/me`.
    pub fn demo() -> Self {
        Self {
            path: "/api/me".into(),
            format: ProbeFormat::Json {
                login: "/login".into(),
                role: Some("/role".into()),
                name: Some("/name".into()),
                birth_date: Some("/birth_date".into()),
            },
        }
    }
}

/// What the diary said about the session the jar holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probed {
    /// Signed in as `login`.
    User(DiaryUser),
    /// The probe page needs a session and the diary said there is none.
    SignedOut,
}

/// The diary's own view of the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiaryUser {
    pub login: String,
    /// The canonical role, when the role table knows the diary's string.
    pub role: Option<String>,
    /// The display name as the diary shows it («Иванова Мария Ивановна»).
    pub name: Option<String>,
    /// The account's own birth date as the diary writes it, where it shows one.
    pub birth_date: Option<String>,
}

/// Asks the diary who the jar's session is.
pub async fn probe(
    http: &dyn DiaryHttp,
    rules: &DiaryRules,
    host: &str,
    jar: &Jar,
    now: DateTime<Utc>,
) -> Result<Probed, DiaryError> {
    let p = &rules.probe;
    let accept = match p.format {
        ProbeFormat::Json { .. } => "application/json",
        ProbeFormat::Html { .. } => "text/html",
    };
    let mut req = Request::get(p.path.as_str())
        .header(header::HOST, host)
        .header(header::ACCEPT, accept);
    if let Some(cookies) = jar.header_for(&p.path, now) {
        req = req.header(header::COOKIE, cookies);
    }
    let req = req
        .body(Full::new(Bytes::new()))
        .map_err(|e| DiaryError::BadAnswer(e.to_string()))?;
    let resp = http.send(req).await?;
    let status = resp.status();
    let location = resp
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok());
    if status == StatusCode::UNAUTHORIZED
        || status == StatusCode::FORBIDDEN
        || rules.session_expired(status, location, &p.path)
        || rules.expired_page(status, resp.body())
    {
        return Ok(Probed::SignedOut);
    }
    if !status.is_success() {
        return Err(DiaryError::BadAnswer(format!(
            "identity probe {} answered {status}",
            p.path
        )));
    }
    let user = read_user(&p.format, resp.body(), rules)?;
    Ok(user.map_or(Probed::SignedOut, Probed::User))
}

/// The user named in a probe answer; `None` when the page names nobody.
pub fn read_user(
    format: &ProbeFormat,
    body: &[u8],
    rules: &DiaryRules,
) -> Result<Option<DiaryUser>, DiaryError> {
    let (login, role, name, birth_date) = match format {
        ProbeFormat::Json {
            login,
            role,
            name,
            birth_date,
        } => {
            let json: serde_json::Value = serde_json::from_slice(body)
                .map_err(|e| DiaryError::BadAnswer(format!("identity probe: {e}")))?;
            let text = |ptr: &Option<String>| {
                ptr.as_deref()
                    .and_then(|p| json.pointer(p))
                    .and_then(scalar_text)
            };
            (
                json.pointer(login).and_then(scalar_text),
                text(role),
                text(name),
                text(birth_date),
            )
        }
        ProbeFormat::Html { selector, regex } => {
            let page = decode_page(body);
            let text = match selector {
                Some(sel) => match selected_text(&page, sel) {
                    Some(t) => t,
                    None => return Ok(None),
                },
                None => page,
            };
            let Some(caps) = regex.captures(&text) else {
                return Ok(None);
            };
            let group = |n: &str| caps.name(n).map(|m| html_unescape(m.as_str().trim()));
            (group("login"), group("role"), group("name"), group("birth"))
        }
    };
    let Some(login) = login.filter(|l| !l.trim().is_empty()) else {
        return Ok(None);
    };
    let role = role.and_then(|r| rules.canonical_role(&r).map(str::to_owned));
    Ok(Some(DiaryUser {
        login: login.trim().to_owned(),
        role,
        name: name.filter(|n| !n.is_empty()),
        birth_date: birth_date.filter(|b| !b.is_empty()),
    }))
}

pub(super) fn scalar_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.trim().to_owned()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// UTF-8 when valid, else windows-1251 (old PHP diaries).
pub(super) fn decode_page(body: &[u8]) -> String {
    match std::str::from_utf8(body) {
        Ok(s) => s.to_owned(),
        Err(_) => encoding_rs::WINDOWS_1251.decode(body).0.into_owned(),
    }
}

/// The text content of the first element matching `selector`, tags stripped.
fn selected_text(page: &str, selector: &str) -> Option<String> {
    use lol_html::{HtmlRewriter, Settings, element, text};
    use std::cell::RefCell;
    use std::rc::Rc;
    // How many matching elements have started, and the text inside the first one (text
    // handlers of a selector see the text of its descendants too).
    let state = Rc::new(RefCell::new((0u32, String::new())));
    let (s1, s2) = (state.clone(), state.clone());
    let mut rewriter = HtmlRewriter::new(
        Settings {
            element_content_handlers: vec![
                element!(selector, move |_| {
                    s1.borrow_mut().0 += 1;
                    Ok(())
                }),
                text!(selector, move |t| {
                    let mut st = s2.borrow_mut();
                    if st.0 == 1 {
                        st.1.push_str(t.as_str());
                    }
                    Ok(())
                }),
            ],
            ..Settings::new()
        },
        |_: &[u8]| {},
    );
    rewriter.write(page.as_bytes()).ok()?;
    rewriter.end().ok()?;
    let (seen, text) = state.borrow().clone();
    (seen > 0).then(|| html_unescape(text.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> DiaryRules {
        DiaryRules::demo()
    }

    #[test]
    fn json_probe_reads_login_role_and_name() {
        let body = r#"{"login":"parent","role":"parent","name":"Иванова Мария Ивановна"}"#;
        let user = read_user(&ProbeRules::demo().format, body.as_bytes(), &rules())
            .unwrap()
            .unwrap();
        assert_eq!(user.login, "parent");
        assert_eq!(user.role.as_deref(), Some("parent"));
        assert_eq!(user.name.as_deref(), Some("Иванова Мария Ивановна"));
    }

    #[test]
    fn json_without_a_login_names_nobody_and_garbage_is_an_error() {
        let f = ProbeRules::demo().format;
        for body in [
            r#"{"role":"parent"}"#,
            r#"{"login":""}"#,
            r#"{"login":null}"#,
            "[]",
        ] {
            assert_eq!(
                read_user(&f, body.as_bytes(), &rules()).unwrap(),
                None,
                "{body}"
            );
        }
        assert!(read_user(&f, b"<html>", &rules()).is_err());
    }

    #[test]
    fn html_probe_with_a_selector_and_a_regex() {
        let f = ProbeFormat::Html {
            selector: Some("#whoami".into()),
            regex: Regex::new(r"(?P<role>\S+)\s+@\s+(?P<login>\S+)").unwrap(),
        };
        let page = "<html><body><p>Учитель @ nobody</p>\
            <span id=\"whoami\">teacher <b>@</b> t.ivanova</span></body></html>";
        let user = read_user(&f, page.as_bytes(), &rules()).unwrap().unwrap();
        assert_eq!(user.login, "t.ivanova");
        assert_eq!(user.role.as_deref(), Some("teacher"));
        // No element: nobody is signed in.
        assert_eq!(read_user(&f, b"<p>x @ y</p>", &rules()).unwrap(), None);
    }

    #[test]
    fn html_probe_reads_windows_1251_pages() {
        let f = ProbeFormat::Html {
            selector: None,
            regex: Regex::new(r"Вы вошли как (?P<login>[\w.]+)").unwrap(),
        };
        let (page, _, _) = encoding_rs::WINDOWS_1251.encode("<p>Вы вошли как parent</p>");
        let user = read_user(&f, &page, &rules()).unwrap().unwrap();
        assert_eq!(user.login, "parent");
    }
}
