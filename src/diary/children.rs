//! The children probe: which pupils the diary lists for a parent account, for the
//! identity check at linking (issue 12) — at least one of them must be one of the
//! person's children in ESIA.
//!
//! Like the identity probe ([`super::probe`]) it reads a page that needs the diary
//! session the gateway just opened: a JSON answer (a pointer to the list, then pointers
//! inside each item) or an HTML page (one element per child, its text searched with an
//! optional regex, the birth date from a regex group or an attribute such as the demo
//! diary's `<li class="child" data-birth="12.04.2015">`).
//!
//! ```toml
//! [diary.children_probe]
//! path = "/api/children"
//! format = "json"            # json | html
//! list = ""                  # pointer to the array; "" = the whole answer
//! name = "/name"             # pointers inside one item
//! birth_date = "/birth_date"
//! # format = "html"
//! # selector = "li.child"    # one element per child
//! # regex = '(?P<name>[^,]+)(, (?P<birth>\S+))?'   # optional; groups name, birth
//! # birth_attribute = "data-birth"
//! ```

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{Request, StatusCode, header};
use http_body_util::Full;
use regex::Regex;
use serde::Deserialize;

use super::config::Issue;
use super::form::html_unescape;
use super::jar::Jar;
use super::probe::{decode_page, scalar_text};
use super::signin::{DiaryError, DiaryHttp, DiaryRules};

/// More pupils than this under one parent account is a broken page, not a family.
const MAX_PUPILS: usize = 64;

/// Where and how the diary lists a parent's children.
#[derive(Debug, Clone)]
pub struct ChildrenRules {
    pub path: String,
    pub format: ChildrenFormat,
}

#[derive(Debug, Clone)]
pub enum ChildrenFormat {
    Json {
        /// Pointer to the array of children; empty for the whole answer.
        list: String,
        /// Pointers inside one item.
        name: String,
        birth_date: Option<String>,
    },
    Html {
        /// One element per child.
        selector: String,
        /// Applied to the element's text: groups `name` (else the whole text), `birth`.
        regex: Option<Regex>,
        /// The element attribute holding the birth date.
        birth_attribute: Option<String>,
    },
}

impl ChildrenRules {
    /// The demo diary's `/api/children`.
    pub fn demo() -> Self {
        Self {
            path: "/api/children".into(),
            format: ChildrenFormat::Json {
                list: String::new(),
                name: "/name".into(),
                birth_date: Some("/birth_date".into()),
            },
        }
    }
}

/// One child as the diary shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiaryPupil {
    pub name: String,
    pub birth_date: Option<String>,
}

/// The pupils the diary lists for the jar's session. An answer that needs a session
/// and says there is none is an error here: the caller just signed in.
pub async fn pupils(
    http: &dyn DiaryHttp,
    rules: &DiaryRules,
    children: &ChildrenRules,
    host: &str,
    jar: &Jar,
    now: DateTime<Utc>,
) -> Result<Vec<DiaryPupil>, DiaryError> {
    let accept = match children.format {
        ChildrenFormat::Json { .. } => "application/json",
        ChildrenFormat::Html { .. } => "text/html",
    };
    let mut req = Request::get(children.path.as_str())
        .header(header::HOST, host)
        .header(header::ACCEPT, accept);
    if let Some(cookies) = jar.header_for(&children.path, now) {
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
        || rules.session_expired(status, location, &children.path)
        || rules.expired_page(status, resp.body())
    {
        return Err(DiaryError::BadAnswer(format!(
            "children probe {}: no diary session",
            children.path
        )));
    }
    if !status.is_success() {
        return Err(DiaryError::BadAnswer(format!(
            "children probe {} answered {status}",
            children.path
        )));
    }
    read_pupils(&children.format, resp.body())
}

/// The pupils in a children probe answer; items without a name are skipped.
pub fn read_pupils(format: &ChildrenFormat, body: &[u8]) -> Result<Vec<DiaryPupil>, DiaryError> {
    let bad = |m: &str| DiaryError::BadAnswer(format!("children probe: {m}"));
    let pupils: Vec<DiaryPupil> = match format {
        ChildrenFormat::Json {
            list,
            name,
            birth_date,
        } => {
            let json: serde_json::Value =
                serde_json::from_slice(body).map_err(|_| bad("not JSON"))?;
            let items = json
                .pointer(list)
                .and_then(serde_json::Value::as_array)
                .ok_or_else(|| bad("no list of children"))?;
            if items.len() > MAX_PUPILS {
                return Err(bad("too many children"));
            }
            items
                .iter()
                .filter_map(|item| {
                    let text = |p: &str| item.pointer(p).and_then(scalar_text);
                    Some(DiaryPupil {
                        name: text(name).filter(|n| !n.is_empty())?,
                        birth_date: birth_date.as_deref().and_then(text),
                    })
                })
                .collect()
        }
        ChildrenFormat::Html {
            selector,
            regex,
            birth_attribute,
        } => elements(&decode_page(body), selector, birth_attribute.as_deref())
            .ok_or_else(|| bad("the page could not be read"))?
            .into_iter()
            .filter_map(|(text, attr)| {
                let (name, birth) = match regex {
                    Some(re) => {
                        let caps = re.captures(&text)?;
                        let group = |n: &str| caps.name(n).map(|m| m.as_str().trim().to_owned());
                        (
                            group("name").unwrap_or_else(|| text.clone()),
                            group("birth"),
                        )
                    }
                    None => (text.clone(), None),
                };
                let name = html_unescape(name.trim());
                (!name.is_empty()).then(|| DiaryPupil {
                    name,
                    birth_date: birth.or(attr).filter(|b| !b.is_empty()),
                })
            })
            .collect(),
    };
    if pupils.len() > MAX_PUPILS {
        return Err(bad("too many children"));
    }
    Ok(pupils)
}

/// Text and `attribute` of every element matching `selector`; `None` for a page
/// lol_html cannot read.
fn elements(
    page: &str,
    selector: &str,
    attribute: Option<&str>,
) -> Option<Vec<(String, Option<String>)>> {
    use lol_html::{HtmlRewriter, Settings, element, text};
    use std::cell::RefCell;
    use std::rc::Rc;
    // Nested matches would mix texts; each new match starts a new item: (text, attribute).
    type Item = (String, Option<String>);
    let found: Rc<RefCell<Vec<Item>>> = Rc::default();
    let (f1, f2) = (found.clone(), found.clone());
    let attribute = attribute.map(str::to_owned);
    let mut rewriter = HtmlRewriter::new(
        Settings {
            element_content_handlers: vec![
                element!(selector, move |el| {
                    let attr = attribute.as_deref().and_then(|a| el.get_attribute(a));
                    let mut f = f1.borrow_mut();
                    if f.len() <= MAX_PUPILS {
                        f.push((String::new(), attr.map(|a| html_unescape(a.trim()))));
                    }
                    Ok(())
                }),
                text!(selector, move |t| {
                    if let Some(last) = f2.borrow_mut().last_mut()
                        && last.0.len() < 1024
                    {
                        last.0.push_str(t.as_str());
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
    let items = found
        .borrow()
        .iter()
        .map(|(t, a)| {
            (
                t.split_whitespace().collect::<Vec<_>>().join(" "),
                a.clone(),
            )
        })
        .collect();
    Some(items)
}

/// `[diary.children_probe]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChildrenProbeFile {
    pub path: Option<String>,
    pub format: Option<String>,
    pub list: Option<String>,
    pub name: Option<String>,
    pub birth_date: Option<String>,
    pub selector: Option<String>,
    pub regex: Option<String>,
    pub birth_attribute: Option<String>,
}

/// Validates `[diary.children_probe]`; issue keys start with `diary.children_probe.`.
pub fn children_rules(f: &ChildrenProbeFile) -> Result<ChildrenRules, Vec<Issue>> {
    let key = |k: &str| format!("diary.children_probe.{k}");
    let mut issues: Vec<Issue> = Vec::new();
    let path = match &f.path {
        Some(p) if p.starts_with('/') && !p.contains('#') && !p.chars().any(char::is_control) => {
            p.clone()
        }
        Some(p) => {
            issues.push((key("path"), format!("{p:?} is not an absolute path"), None));
            String::new()
        }
        None => {
            issues.push((
                key("path"),
                "required key is missing".into(),
                Some("the diary page listing a parent's children, like \"/api/children\"".into()),
            ));
            String::new()
        }
    };
    let only = |k: &str, set: bool, fmt: &str, issues: &mut Vec<Issue>| {
        if set {
            issues.push((key(k), format!("not used with format = \"{fmt}\""), None));
        }
    };
    let format = match f.format.as_deref().unwrap_or("json") {
        "json" => {
            only("selector", f.selector.is_some(), "json", &mut issues);
            only("regex", f.regex.is_some(), "json", &mut issues);
            only(
                "birth_attribute",
                f.birth_attribute.is_some(),
                "json",
                &mut issues,
            );
            let mut pointer = |k: &str, v: &Option<String>, empty_ok: bool| match v {
                Some(p) if p.starts_with('/') || (empty_ok && p.is_empty()) => Some(p.clone()),
                Some(p) => {
                    issues.push((key(k), format!("{p:?} is not a JSON pointer"), None));
                    None
                }
                None => None,
            };
            let list = pointer("list", &f.list, true).unwrap_or_default();
            let name = pointer("name", &f.name, false).unwrap_or_else(|| "/name".into());
            let birth_date = pointer("birth_date", &f.birth_date, false);
            ChildrenFormat::Json {
                list,
                name,
                birth_date,
            }
        }
        "html" => {
            only("list", f.list.is_some(), "html", &mut issues);
            only("name", f.name.is_some(), "html", &mut issues);
            only("birth_date", f.birth_date.is_some(), "html", &mut issues);
            let selector = match &f.selector {
                Some(s) if s.parse::<lol_html::Selector>().is_ok() => s.clone(),
                Some(s) => {
                    issues.push((
                        key("selector"),
                        format!("{s:?} is not a CSS selector lol_html supports"),
                        None,
                    ));
                    String::new()
                }
                None => {
                    issues.push((
                        key("selector"),
                        "an HTML children probe needs a selector".into(),
                        Some("one element per child, e.g. \"li.child\"".into()),
                    ));
                    String::new()
                }
            };
            let regex = match f.regex.as_deref().map(Regex::new) {
                Some(Ok(re)) => Some(re),
                Some(Err(e)) => {
                    issues.push((key("regex"), e.to_string(), None));
                    None
                }
                None => None,
            };
            ChildrenFormat::Html {
                selector,
                regex,
                birth_attribute: f.birth_attribute.clone().filter(|a| !a.is_empty()),
            }
        }
        other => {
            issues.push((
                key("format"),
                format!("unknown format {other:?}"),
                Some("\"json\" or \"html\"".into()),
            ));
            ChildrenFormat::Json {
                list: String::new(),
                name: String::new(),
                birth_date: None,
            }
        }
    };
    if issues.is_empty() {
        Ok(ChildrenRules { path, format })
    } else {
        Err(issues)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(p: &[DiaryPupil]) -> Vec<String> {
        p.iter()
            .map(|p| format!("{}|{}", p.name, p.birth_date.as_deref().unwrap_or("-")))
            .collect()
    }

    #[test]
    fn the_demo_json_answer_lists_the_pupils() {
        let f = ChildrenRules::demo().format;
        let body = r#"[{"name":"Иванов Дмитрий Алексеевич","birth_date":"12.04.2015"},
                       {"name":""},{"birth_date":"01.01.2010"},{"name":"Петров Олег"}]"#;
        let p = read_pupils(&f, body.as_bytes()).unwrap();
        assert_eq!(
            names(&p),
            ["Иванов Дмитрий Алексеевич|12.04.2015", "Петров Олег|-"]
        );
        assert_eq!(read_pupils(&f, b"[]").unwrap(), []);
    }

    #[test]
    fn broken_json_answers_are_errors_not_empty_lists() {
        let f = ChildrenRules::demo().format;
        let many = format!("[{}]", vec![r#"{"name":"А Б"}"#; 65].join(","));
        for body in [
            "",
            "<html>",
            "{}",
            r#"{"children":[]}"#,
            "null",
            many.as_str(),
        ] {
            assert!(read_pupils(&f, body.as_bytes()).is_err(), "{body}");
        }
        let nested = ChildrenFormat::Json {
            list: "/data/children".into(),
            name: "/fio".into(),
            birth_date: Some("/born".into()),
        };
        let p = read_pupils(
            &nested,
            r#"{"data":{"children":[{"fio":"Иванов Дмитрий","born":"2015-04-12"}]}}"#.as_bytes(),
        )
        .unwrap();
        assert_eq!(names(&p), ["Иванов Дмитрий|2015-04-12"]);
    }

    #[test]
    fn the_demo_html_page_gives_names_and_birth_attributes() {
        let f = ChildrenFormat::Html {
            selector: "li.child".into(),
            regex: None,
            birth_attribute: Some("data-birth".into()),
        };
        let page = "<ul class=\"children\"><li class=\"child\" data-birth=\"12.04.2015\">Иванов \
            <b>Дмитрий</b>\n Алексеевич</li><li class=\"child\">Петрова&nbsp;Анна</li></ul>\
            <li class=\"other\">Сидоров Иван</li>";
        let p = read_pupils(&f, page.as_bytes()).unwrap();
        assert_eq!(
            names(&p),
            ["Иванов Дмитрий Алексеевич|12.04.2015", "Петрова Анна|-"]
        );
        let empty = "<ul class=\"children\"></ul><p>Нет сведений о детях</p>";
        assert_eq!(read_pupils(&f, empty.as_bytes()).unwrap(), []);
    }

    #[test]
    fn an_html_regex_splits_name_and_birth_date() {
        let f = ChildrenFormat::Html {
            selector: "td.pupil".into(),
            regex: Some(Regex::new(r"(?P<name>[^(]+)\((?P<birth>[\d.]+)\)").unwrap()),
            birth_attribute: None,
        };
        let page = "<table><tr><td class=\"pupil\">Иванов Дмитрий (12.04.2015)</td></tr>\
            <tr><td class=\"pupil\">без даты</td></tr></table>";
        let p = read_pupils(&f, page.as_bytes()).unwrap();
        assert_eq!(names(&p), ["Иванов Дмитрий|12.04.2015"]);
    }

    #[test]
    fn config_problems_are_all_reported() {
        let f: ChildrenProbeFile = toml::from_str(
            "format = \"html\"\nname = \"/name\"\nregex = \"(\"\nselector = \"li[\"",
        )
        .unwrap();
        let keys: Vec<String> = children_rules(&f)
            .unwrap_err()
            .into_iter()
            .map(|i| i.0)
            .collect();
        assert_eq!(
            keys,
            [
                "diary.children_probe.path",
                "diary.children_probe.name",
                "diary.children_probe.selector",
                "diary.children_probe.regex"
            ]
        );
        let f: ChildrenProbeFile =
            toml::from_str("path = \"/api/children\"\nname = \"name\"\nselector = \"li\"").unwrap();
        let keys: Vec<String> = children_rules(&f)
            .unwrap_err()
            .into_iter()
            .map(|i| i.0)
            .collect();
        assert_eq!(
            keys,
            ["diary.children_probe.selector", "diary.children_probe.name"]
        );
        assert!(toml::from_str::<ChildrenProbeFile>("paht = \"/x\"").is_err());
        let ok: ChildrenProbeFile = toml::from_str("path = \"/api/children\"").unwrap();
        assert_eq!(children_rules(&ok).unwrap().path, "/api/children");
    }
}
