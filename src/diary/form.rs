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

/// What the gateway read from a login POST: the login the diary will see, and the
/// password (kept for linking without a second prompt).
#[derive(Debug)]
pub struct LoginPost {
    pub login: String,
    pub password: Option<crate::secret::Secret>,
}

impl PartialEq for LoginPost {
    fn eq(&self, other: &Self) -> bool {
        self.login == other.login
    }
}

/// Reads a browser's login POST as the diary will; `Ok(None)` when the body carries no
/// login field at all (not a sign-in: forwarded, nothing recorded).
pub fn read_login_post(
    content_type: Option<&str>,
    body: &Bytes,
    rules: &DiaryRules,
) -> Result<Option<LoginPost>, FormRefusal> {
    let params = read_params(content_type, body)?;
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
    let password = params
        .get_scalar(&rules.password_field)
        .filter(|p| !p.is_empty())
        .map(crate::secret::Secret::new);
    Ok(Some(LoginPost {
        login: login.to_owned(),
        password,
    }))
}

/// The form's parameters in PHP's model, whatever its encoding.
pub fn read_params(content_type: Option<&str>, body: &Bytes) -> Result<PhpQuery, FormRefusal> {
    // PHP reads a body without a content type as no form at all.
    let Some(ct) = content_type else {
        return Ok(PhpQuery::default());
    };
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match mime.as_str() {
        "application/x-www-form-urlencoded" => {
            let text = std::str::from_utf8(body)
                .map_err(|_| FormRefusal::Unreadable("not UTF-8".into()))?;
            PhpQuery::parse(text.trim_end_matches(['\r', '\n']), MAX_FIELDS)
                .map_err(|r| FormRefusal::Unreadable(r.as_str().into()))
        }
        "multipart/form-data" => {
            let boundary = ct
                .split(';')
                .skip(1)
                .filter_map(|p| p.trim().split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
                .map(|(_, v)| v.trim().trim_matches('"').to_owned())
                .ok_or_else(|| FormRefusal::Unreadable("multipart without a boundary".into()))?;
            let pairs = multipart_pairs(body, &boundary)?;
            PhpQuery::from_pairs(pairs, MAX_FIELDS)
                .map_err(|r| FormRefusal::Unreadable(r.as_str().into()))
        }
        other => Err(FormRefusal::NotAForm(other.to_owned())),
    }
}

/// The fields of a multipart body, read only in the shape browsers send: CRLF lines, the
/// body opening with the boundary, each part's headers exactly `Content-Disposition:
/// form-data; name="…"` (optionally `; filename="…"`) and an optional `Content-Type`,
/// parts closed by the boundary and the body by the final one. PHP's own multipart
/// reader accepts much more (bare LF, folded or repeated headers, the last of several
/// `name=`, unquoted names, junk after a boundary…) and reads those bodies differently
/// from any library; the gateway refuses them instead of guessing how the diary reads
/// them. Written by hand for that reason: a general parser accepts what must be refused.
fn multipart_pairs(body: &[u8], boundary: &str) -> Result<Vec<(String, String)>, FormRefusal> {
    let bad = |why: &str| FormRefusal::Unreadable(format!("multipart: {why}"));
    if boundary.is_empty()
        || boundary.len() > 70
        || boundary.bytes().any(|b| !(0x20..=0x7e).contains(&b))
    {
        return Err(bad("unusable boundary"));
    }
    let opening = format!("--{boundary}\r\n");
    let delimiter = format!("\r\n--{boundary}");
    let mut rest = body
        .strip_prefix(opening.as_bytes())
        .ok_or_else(|| bad("the body does not open with the boundary"))?;
    let mut out = Vec::new();
    loop {
        if out.len() >= MAX_FIELDS {
            return Err(bad("too many fields"));
        }
        let head_end = find(rest, b"\r\n\r\n").ok_or_else(|| bad("a part without a blank line"))?;
        let head = std::str::from_utf8(&rest[..head_end]).map_err(|_| bad("headers not UTF-8"))?;
        let (name, file) = part_name(head).ok_or_else(|| bad("headers browsers do not send"))?;
        rest = &rest[head_end + 4..];
        let value_end =
            find(rest, delimiter.as_bytes()).ok_or_else(|| bad("no closing boundary"))?;
        let value = &rest[..value_end];
        rest = &rest[value_end + delimiter.len()..];
        if file {
            // An upload lands in $_FILES, not $_POST: it names no login. Its name still
            // counts for ambiguity (a file called `login` next to a `login` field).
            out.push((name, String::new()));
        } else {
            let value = String::from_utf8(value.to_vec()).map_err(|_| bad("value not UTF-8"))?;
            out.push((name, value));
        }
        if let Some(after) = rest.strip_prefix(b"\r\n") {
            rest = after;
            continue;
        }
        return match rest.strip_prefix(b"--") {
            Some(b"" | b"\r\n") => Ok(out),
            _ => Err(bad("bytes after a boundary")),
        };
    }
}

/// `(name, is_file)` from a part's header block, when it is in the browser shape.
fn part_name(head: &str) -> Option<(String, bool)> {
    let mut found = None;
    for line in head.split("\r\n") {
        let (key, value) = line.split_once(':')?;
        match key.to_ascii_lowercase().as_str() {
            "content-disposition" if found.is_none() => {
                let v = value
                    .strip_prefix(' ')?
                    .strip_prefix("form-data; name=\"")?;
                let (name, after) = v.split_once('"')?;
                let file = match after {
                    "" => false,
                    a => {
                        let f = a.strip_prefix("; filename=\"")?.strip_suffix('"')?;
                        if f.contains('"') {
                            return None;
                        }
                        true
                    }
                };
                if name.is_empty() || name.chars().any(char::is_control) {
                    return None;
                }
                found = Some((name.to_owned(), file));
            }
            "content-type" if value.bytes().all(|b| (0x20..0x7f).contains(&b)) => {}
            _ => return None,
        }
    }
    found
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
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

    fn urlencoded(body: &str) -> Result<Option<LoginPost>, FormRefusal> {
        let ct = Some("application/x-www-form-urlencoded");
        read_login_post(ct, &Bytes::from(body.to_owned()), &rules())
    }

    #[test]
    fn plain_login_is_read() {
        assert_eq!(
            urlencoded("login=parent&password=demo").unwrap(),
            Some(LoginPost {
                login: "parent".into(),
                password: None,
            })
        );
        assert_eq!(urlencoded("password=demo").unwrap(), None);
    }

    #[test]
    fn every_second_spelling_is_refused() {
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
            assert!(urlencoded(body).is_err(), "{body}");
        }
    }

    #[test]
    fn multipart_is_read_like_php() {
        let ct = "multipart/form-data; boundary=XyZ";
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"login\"\r\n\r\nparent\r\n\
                    --XyZ\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\ndemo\r\n--XyZ--\r\n";
        let got = read_login_post(Some(ct), &Bytes::from(body), &rules());
        assert_eq!(got.unwrap().unwrap().login, "parent");
        let twice = "--XyZ\r\nContent-Disposition: form-data; name=\"login\"\r\n\r\nparent\r\n\
                     --XyZ\r\nContent-Disposition: form-data; name=\" login\"\r\n\r\nstudent\r\n--XyZ--\r\n";
        assert!(read_login_post(Some(ct), &Bytes::from(twice), &rules()).is_err());
        assert!(read_login_post(Some("text/plain"), &Bytes::from("login=x"), &rules()).is_err());
        // Shapes browsers never send are refused, not guessed.
        for odd in [
            "--XyZ\nContent-Disposition: form-data; name=\"login\"\n\nparent\n--XyZ--\n",
            "--XyZ\r\nContent-Disposition: form-data; name=\"x\"; name=\"login\"\r\n\r\np\r\n--XyZ--\r\n",
            "--XyZ\r\nContent-Disposition: form-data; name=login\r\n\r\np\r\n--XyZ--\r\n",
            "--XyZ\r\nContent-Disposition: form-data;\r\n name=\"login\"\r\n\r\np\r\n--XyZ--\r\n",
            "--XyZ\r\nX-Junk: 1\r\nContent-Disposition: form-data; name=\"login\"\r\n\r\np\r\n--XyZ--\r\n",
            "--XyZ\r\nContent-Disposition: form-data; name=\"login\"\r\n\r\np\r\n--XyZjunk\r\n",
            "--XyZ\r\nContent-Disposition: form-data; name=\"login\"\r\n\r\np",
            "preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"login\"\r\n\r\np\r\n--XyZ--\r\n",
        ] {
            assert!(
                read_login_post(Some(ct), &Bytes::from(odd), &rules()).is_err(),
                "{odd:?}"
            );
        }
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
