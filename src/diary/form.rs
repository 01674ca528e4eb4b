//! Forms, both ways: the diary's login form read like a browser (its hidden fields, for
//! the gateway's own sign-in), and a browser's login POST read like the diary reads it.
//!
//! The second is a security boundary. The gateway records the login a legacy session
//! stands for from the POST, so it must read the body exactly as the PHP diary will:
//! `application/x-www-form-urlencoded` and `multipart/form-data`, through the same PHP
//! parameter model as the route policy ([`PhpQuery`]: leading spaces dropped, `.`/space/
//! `[` → `_`, arrays, last duplicate wins). Anything it cannot attribute unambiguously —
//! the login field twice, in two spellings, as an array, with a NUL, an unreadable body —
//! is refused before it reaches the diary. The probe after the login is the second check.

use bytes::Bytes;

use super::signin::DiaryRules;
use crate::policy::PhpQuery;

/// The most fields a login form may carry.
const MAX_FIELDS: usize = 64;

/// Why a browser's login POST is refused before it reaches the diary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormRefusal {
    #[error("the login form body cannot be read ({0})")]
    Unreadable(String),
    #[error("the login form's content type is not a form: {0}")]
    NotAForm(String),
    #[error("the field {0:?} is sent more than once, as an array, or in another spelling")]
    Ambiguous(String),
    #[error("the login is empty or has control characters")]
    BadLogin,
}

/// What the gateway read from a login POST: the login the diary will see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginPost {
    pub login: String,
}

/// Reads a browser's login POST as the diary will; `Ok(None)` when the body carries no
/// login field at all (not a sign-in: forwarded, nothing recorded).
pub async fn read_login_post(
    content_type: Option<&str>,
    body: &Bytes,
    rules: &DiaryRules,
) -> Result<Option<LoginPost>, FormRefusal> {
    let params = read_params(content_type, body).await?;
    for field in [&rules.login_field, &rules.password_field] {
        if params.is_ambiguous(field) {
            return Err(FormRefusal::Ambiguous(field.clone()));
        }
    }
    let Some(login) = params.get_scalar(&rules.login_field) else {
        return Ok(None);
    };
    let login = login.trim();
    if login.is_empty() || login.chars().any(char::is_control) {
        return Err(FormRefusal::BadLogin);
    }
    Ok(Some(LoginPost {
        login: login.to_owned(),
    }))
}

/// The form's parameters in PHP's model, whatever its encoding.
pub async fn read_params(
    content_type: Option<&str>,
    body: &Bytes,
) -> Result<PhpQuery, FormRefusal> {
    let ct = content_type.unwrap_or("application/x-www-form-urlencoded");
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match mime.as_str() {
        // PHP reads a body without a content type as nothing; a browser always sends
        // one, so an empty one is read as urlencoded (fail closed: it is looked at).
        "application/x-www-form-urlencoded" | "" => {
            let text = std::str::from_utf8(body)
                .map_err(|_| FormRefusal::Unreadable("not UTF-8".into()))?;
            PhpQuery::parse(text.trim_end_matches(['\r', '\n']), MAX_FIELDS)
                .map_err(|r| FormRefusal::Unreadable(r.as_str().into()))
        }
        "multipart/form-data" => {
            let boundary = multer::parse_boundary(ct)
                .map_err(|e| FormRefusal::Unreadable(format!("multipart boundary: {e}")))?;
            let pairs = multipart_pairs(body.clone(), boundary).await?;
            PhpQuery::from_pairs(pairs, MAX_FIELDS)
                .map_err(|r| FormRefusal::Unreadable(r.as_str().into()))
        }
        other => Err(FormRefusal::NotAForm(other.to_owned())),
    }
}

async fn multipart_pairs(
    body: Bytes,
    boundary: String,
) -> Result<Vec<(String, String)>, FormRefusal> {
    let stream = futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
    let mut mp = multer::Multipart::new(stream, boundary);
    let mut out = Vec::new();
    loop {
        let field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Err(FormRefusal::Unreadable(format!("multipart: {e}"))),
        };
        if out.len() >= MAX_FIELDS {
            return Err(FormRefusal::Unreadable("too many fields".into()));
        }
        let Some(name) = field.name().map(str::to_owned) else {
            continue;
        };
        let file = field.file_name().is_some();
        let value = field
            .bytes()
            .await
            .map_err(|e| FormRefusal::Unreadable(format!("multipart field: {e}")))?;
        if file {
            // An upload lands in $_FILES, not $_POST: it names no login. Its name still
            // counts for ambiguity (a file called `login` next to a `login` field).
            out.push((name, String::new()));
            continue;
        }
        let value = String::from_utf8(value.to_vec())
            .map_err(|_| FormRefusal::Unreadable("multipart value not UTF-8".into()))?;
        out.push((name, value));
    }
    Ok(out)
}

/// The hidden fields of the form that has a `password_field` input (or of every form
/// when none has), as a browser would submit them: CSRF tokens, return targets.
pub fn hidden_fields(html: &[u8], password_field: &str) -> Vec<(String, String)> {
    use lol_html::{HtmlRewriter, Settings, element};
    use std::cell::RefCell;
    use std::rc::Rc;
    // (form index, name, value, is_password)
    type Input = (usize, String, String, bool);
    let inputs: Rc<RefCell<(usize, Vec<Input>)>> = Rc::new(RefCell::new((0, Vec::new())));
    let (forms, fields) = (inputs.clone(), inputs.clone());
    let mut rewriter = HtmlRewriter::new(
        Settings {
            element_content_handlers: vec![
                element!("form", move |_| {
                    forms.borrow_mut().0 += 1;
                    Ok(())
                }),
                element!("input[name]", move |el| {
                    let name = el.get_attribute("name").unwrap_or_default();
                    let kind = el
                        .get_attribute("type")
                        .unwrap_or_default()
                        .to_ascii_lowercase();
                    let value = el.get_attribute("value").unwrap_or_default();
                    let mut st = fields.borrow_mut();
                    let form = st.0;
                    if kind == "hidden" || name == password_field {
                        st.1.push((form, name.clone(), value, name == password_field));
                    }
                    Ok(())
                }),
            ],
            ..Settings::new()
        },
        |_: &[u8]| {},
    );
    if rewriter.write(html).is_err() || rewriter.end().is_err() {
        return Vec::new();
    }
    let all = inputs.borrow().1.clone();
    let login_form = all.iter().find(|f| f.3).map(|f| f.0);
    all.into_iter()
        .filter(|f| !f.3 && login_form.is_none_or(|form| f.0 == form))
        .map(|(_, n, v, _)| (html_unescape(&n), html_unescape(&v)))
        .collect()
}

/// The few entities forms and probe pages put in values and names.
pub(super) fn html_unescape(s: &str) -> String {
    let s = s.replace("&nbsp;", " ").replace("&#039;", "'");
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> DiaryRules {
        DiaryRules::demo()
    }

    async fn urlencoded(body: &str) -> Result<Option<LoginPost>, FormRefusal> {
        read_login_post(None, &Bytes::from(body.to_owned()), &rules()).await
    }

    #[tokio::test]
    async fn plain_login_is_read() {
        assert_eq!(
            urlencoded("login=parent&password=demo").await.unwrap(),
            Some(LoginPost {
                login: "parent".into()
            })
        );
        assert_eq!(urlencoded("password=demo").await.unwrap(), None);
    }

    #[tokio::test]
    async fn every_second_spelling_is_refused() {
        for body in [
            "login=parent&%20login=student&password=x",
            "login=parent&login=student&password=x",
            "login=parent&login.=student&password=x",
            "login[]=parent&password=x",
            "login=parent&LOGIN=student&password=x",
            "login=parent&password=x&password[]=y",
            "login=par%00ent&password=x",
            "login=%ZZ&password=x",
        ] {
            assert!(urlencoded(body).await.is_err(), "{body}");
        }
    }

    #[tokio::test]
    async fn multipart_is_read_like_php() {
        let ct = "multipart/form-data; boundary=XyZ";
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"login\"\r\n\r\nparent\r\n\
                    --XyZ\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\ndemo\r\n--XyZ--\r\n";
        let got = read_login_post(Some(ct), &Bytes::from(body), &rules()).await;
        assert_eq!(got.unwrap().unwrap().login, "parent");
        let twice = "--XyZ\r\nContent-Disposition: form-data; name=\"login\"\r\n\r\nparent\r\n\
                     --XyZ\r\nContent-Disposition: form-data; name=\" login\"\r\n\r\nstudent\r\n--XyZ--\r\n";
        assert!(
            read_login_post(Some(ct), &Bytes::from(twice), &rules())
                .await
                .is_err()
        );
        assert!(
            read_login_post(Some("text/plain"), &Bytes::from("login=x"), &rules())
                .await
                .is_err()
        );
    }

    #[test]
    fn hidden_fields_of_the_login_form_only() {
        let html = br#"<form action="/search"><input type="hidden" name="q" value="1"></form>
            <form method="post" action="/login">
              <input type="hidden" name="_token" value="a&amp;b">
              <input name="login"><input type="password" name="password">
            </form>"#;
        assert_eq!(
            hidden_fields(html, "password"),
            vec![("_token".to_owned(), "a&b".to_owned())]
        );
        assert_eq!(hidden_fields(b"<p>no form</p>", "password"), vec![]);
    }
}
