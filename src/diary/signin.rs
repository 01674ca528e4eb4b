//! Signing into the unmodified diary through its own login form (`form` mode), telling an
//! expired diary session from a live one, and asking the diary who the user is (the role
//! probe). All three are driven by [`DiaryRules`] from config, because every regional
//! diary words its login page differently.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;

use super::endpoints::Endpoints;
use super::expiry::Expiry;
use super::form;
use super::jar::Jar;
use super::location::resolve_location_path;
use super::probe::{self, DiaryUser, ProbeRules, Probed};
use crate::secret::Secret;

/// How the gateway recognises the diary's login form and its answers.
#[derive(Debug, Clone)]
pub struct DiaryRules {
    /// The path the login form posts to (and where an expired session is sent).
    pub login_path: String,
    pub login_field: String,
    pub password_field: String,
    /// Other fields the form sends (`remember=1` …).
    pub extra_fields: Vec<(String, String)>,
    /// Text in a 200 answer that means "wrong login or password".
    pub failure_text: String,
    /// What means "your diary session is over" (`[diary] expired`).
    pub expired: Expiry,
    /// Where the gateway's own logout request goes.
    pub logout_path: String,
    /// Every endpoint where a browser's POST signs into the diary (legacy logins).
    pub login_endpoints: Endpoints,
    /// Every endpoint that ends the diary session (intercepted for single logout).
    pub logout_endpoints: Endpoints,
    /// GET the login form before posting it, carrying its cookies and hidden fields
    /// (CSRF tokens, a pre-login session id) into the POST.
    pub login_form_get: bool,
    /// The diary's session cookie names; empty = every cookie the sign-in set.
    pub session_cookies: Vec<String>,
    /// The diary treats `Parent` and `parent` as one login.
    pub login_case_insensitive: bool,
    /// Who is signed in: asked after every sign-in and every diary session change.
    pub probe: ProbeRules,
    /// Which pupils a parent account lists (identity check at linking); `None` when
    /// `[diary.children_probe]` is not configured.
    pub children: Option<super::children::ChildrenRules>,
    /// Diary role string → canonical role name (student, parent, teacher, class_teacher,
    /// head_teacher, director, admin).
    pub role_map: Vec<(String, String)>,
    /// Case-insensitive path comparison (IIS-style diaries).
    pub case_insensitive: bool,
}

impl DiaryRules {
    /// The demo diary's rules; also the shipped defaults.
    pub fn demo() -> Self {
        let roles = [
            "student",
            "parent",
            "teacher",
            "class_teacher",
            "head_teacher",
            "director",
            "admin",
        ];
        Self {
            login_path: "/login".into(),
            login_field: "login".into(),
            password_field: "password".into(),
            extra_fields: Vec::new(),
            failure_text: "Неверный логин или пароль".into(),
            expired: Expiry::demo(),
            logout_path: "/logout".into(),
            login_endpoints: Endpoints::paths(&["/login", "/login.php"]).with_query(
                "/index.php",
                "module",
                "login",
            ),
            logout_endpoints: Endpoints::paths(&["/logout", "/logout.php"]).with_query(
                "/index.php",
                "module",
                "logout",
            ),
            login_form_get: true,
            session_cookies: Vec::new(),
            login_case_insensitive: false,
            probe: ProbeRules::demo(),
            children: Some(super::children::ChildrenRules::demo()),
            role_map: roles
                .iter()
                .map(|r| (r.to_string(), r.to_string()))
                .collect(),
            case_insensitive: true,
        }
    }

    fn same_path(&self, a: &str, b: &str) -> bool {
        let a = a.trim_end_matches('/');
        let b = b.trim_end_matches('/');
        if self.case_insensitive {
            a.eq_ignore_ascii_case(b)
        } else {
            a == b
        }
    }

    pub fn is_login_path(&self, path: &str) -> bool {
        self.same_path(path, &self.login_path)
    }

    /// Is `a` the same diary login as `b` (the probe's answer against the form's)?
    pub fn same_login(&self, a: &str, b: &str) -> bool {
        let (a, b) = (a.trim(), b.trim());
        if self.login_case_insensitive {
            a.to_lowercase() == b.to_lowercase()
        } else {
            a == b
        }
    }

    /// The login as bindings store it (one normal form, so uniqueness holds).
    pub fn login_key(&self, login: &str) -> String {
        if self.login_case_insensitive {
            login.trim().to_lowercase()
        } else {
            login.trim().to_owned()
        }
    }

    /// Is `name` one of the diary's session cookies? `in_jar` says whether the jar
    /// already holds it (the default: every cookie the sign-in set).
    pub fn is_session_cookie(&self, name: &str, in_jar: bool) -> bool {
        if self.session_cookies.is_empty() {
            in_jar
        } else {
            self.session_cookies
                .iter()
                .any(|c| c.eq_ignore_ascii_case(name))
        }
    }

    /// A 200 page that says "your diary session is over" (`expired.body_contains`).
    pub fn expired_page(&self, status: StatusCode, body: &[u8]) -> bool {
        self.expired.by_body(status, body)
    }

    /// Does this diary answer to `request_target` (origin-form) say the diary session is
    /// over? A redirect matching `expired.redirect_to` (resolved like a browser), or one
    /// of `expired.status` (401 by default).
    pub fn session_expired(
        &self,
        status: StatusCode,
        location: Option<&str>,
        request_target: &str,
    ) -> bool {
        self.expired.by_answer(status, location, request_target)
    }

    /// Outcome of the diary's answer to a login POST.
    pub fn login_outcome(
        &self,
        status: StatusCode,
        location: Option<&str>,
        body: &[u8],
    ) -> LoginOutcome {
        if status.is_redirection() {
            let target = location.and_then(|l| resolve_location_path(&self.login_path, l));
            return match target {
                Some(p) if self.is_login_path(&p) => LoginOutcome::WrongPassword,
                Some(_) => LoginOutcome::SignedIn,
                None => LoginOutcome::Unrecognised,
            };
        }
        if status == StatusCode::OK && contains_text(body, &self.failure_text) {
            return LoginOutcome::WrongPassword;
        }
        if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::FORBIDDEN {
            return LoginOutcome::Refused;
        }
        LoginOutcome::Unrecognised
    }

    /// Maps the diary's role string to a canonical role name.
    pub fn canonical_role(&self, diary_role: &str) -> Option<&str> {
        self.role_map
            .iter()
            .find(|(d, _)| d.eq_ignore_ascii_case(diary_role.trim()))
            .map(|(_, c)| c.as_str())
    }
}

/// Is `needle` in the page? Old PHP diaries answer in windows-1251 (sometimes KOI8-R)
/// while the configured text is UTF-8, so the text is looked for in each of them.
pub(super) fn contains_text(haystack: &[u8], needle: &str) -> bool {
    if contains(haystack, needle.as_bytes()) {
        return true;
    }
    [encoding_rs::WINDOWS_1251, encoding_rs::KOI8_R]
        .into_iter()
        .any(|enc| {
            let (bytes, _, lossy) = enc.encode(needle);
            !lossy && contains(haystack, &bytes)
        })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginOutcome {
    SignedIn,
    WrongPassword,
    /// The diary refused for another reason (locked, rate-limited).
    Refused,
    /// Neither success nor the known failure: the rules don't fit this diary.
    Unrecognised,
    /// The diary signed in, but the probe names another user than the form did.
    OtherUser,
}

#[derive(Debug, thiserror::Error)]
pub enum DiaryError {
    #[error("the diary did not answer: {0}")]
    Unavailable(String),
    #[error("the diary took too long to answer")]
    Timeout,
    #[error("the diary's answer was not understood: {0}")]
    BadAnswer(String),
}

/// A diary answer with its (size-capped) body.
pub type DiaryResponse = Response<Bytes>;

/// The one thing sign-in needs from the transport: send a small request to the diary and
/// collect a small answer. The proxy's pooled upstream client implements it.
pub trait DiaryHttp: Send + Sync {
    fn send(
        &self,
        req: Request<Full<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<DiaryResponse, DiaryError>> + Send + '_>>;
}

/// How many redirects within the diary a sign-in follows.
const MAX_REDIRECTS: usize = 5;

/// What a sign-in ended with: the outcome and, when signed in, the diary's own view of
/// the user (from the probe).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    pub outcome: LoginOutcome,
    pub user: Option<DiaryUser>,
}

impl SignedIn {
    fn not(outcome: LoginOutcome) -> Self {
        Self {
            outcome,
            user: None,
        }
    }
}

/// Signs into the diary as a browser would: GET the login form (its cookies and hidden
/// fields, e.g. a CSRF token or a pre-login session id), POST the credentials, follow the
/// diary's redirects within the diary, then ask the probe who is signed in. Success is
/// only the probe naming `login`: a redirect alone proves nothing. The diary's cookies end
/// up in `jar`; the password is only ever in the request body.
pub async fn sign_in(
    http: &dyn DiaryHttp,
    rules: &DiaryRules,
    host: &str,
    login: &str,
    password: &Secret,
    jar: &mut Jar,
    now: DateTime<Utc>,
) -> Result<SignedIn, DiaryError> {
    let mut hidden = Vec::new();
    if rules.login_form_get {
        let (resp, path) = get_following(http, host, &rules.login_path, jar, now).await?;
        if resp.status().is_success() {
            hidden = form::hidden_fields(resp.body(), &rules.password_field);
        } else {
            tracing::debug!(status = %resp.status(), path, "login form GET was not a page");
        }
    }
    // Built in its own scope: the serializer is not `Send` and must not live across
    // the await below.
    let body = {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        let ours = |k: &str| {
            k == rules.login_field
                || k == rules.password_field
                || rules.extra_fields.iter().any(|(e, _)| e == k)
        };
        for (k, v) in hidden.iter().filter(|(k, _)| !ours(k)) {
            form.append_pair(k, v);
        }
        form.append_pair(&rules.login_field, login);
        form.append_pair(&rules.password_field, password.expose());
        for (k, v) in &rules.extra_fields {
            form.append_pair(k, v);
        }
        form.finish()
    };
    let mut req = Request::post(rules.login_path.as_str())
        .header(header::HOST, host)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(cookies) = jar.header_for(&rules.login_path, now) {
        req = req.header(header::COOKIE, cookies);
    }
    let req = req
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| DiaryError::BadAnswer(e.to_string()))?;
    let resp = http.send(req).await?;
    store_cookies(jar, &resp, &rules.login_path, now);
    let first = rules.login_outcome(resp.status(), location(&resp), resp.body());
    if matches!(first, LoginOutcome::WrongPassword | LoginOutcome::Refused) {
        return Ok(SignedIn::not(first));
    }
    if resp.status().is_redirection()
        && let Some(next) = location(&resp).and_then(|l| same_diary_path(&rules.login_path, l))
    {
        let (resp, _) = get_following(http, host, &next, jar, now).await?;
        if resp.status() == StatusCode::OK && contains_text(resp.body(), &rules.failure_text) {
            return Ok(SignedIn::not(LoginOutcome::WrongPassword));
        }
    }
    confirm(http, rules, host, login, jar, now).await
}

/// The probe's verdict on a sign-in as `login`.
pub async fn confirm(
    http: &dyn DiaryHttp,
    rules: &DiaryRules,
    host: &str,
    login: &str,
    jar: &Jar,
    now: DateTime<Utc>,
) -> Result<SignedIn, DiaryError> {
    match probe::probe(http, rules, host, jar, now).await? {
        Probed::User(user) if rules.same_login(&user.login, login) => Ok(SignedIn {
            outcome: LoginOutcome::SignedIn,
            user: Some(user),
        }),
        Probed::User(user) => {
            tracing::warn!(
                asked = login,
                served = %user.login,
                "the diary signed in another user than the form named"
            );
            Ok(SignedIn {
                outcome: LoginOutcome::OtherUser,
                user: Some(user),
            })
        }
        Probed::SignedOut => Ok(SignedIn::not(LoginOutcome::Unrecognised)),
    }
}

/// GET `path` with the jar's cookies, following redirects within the diary; every
/// `Set-Cookie` on the way goes into the jar. Returns the last answer and its path.
async fn get_following(
    http: &dyn DiaryHttp,
    host: &str,
    path: &str,
    jar: &mut Jar,
    now: DateTime<Utc>,
) -> Result<(DiaryResponse, String), DiaryError> {
    let mut path = path.to_owned();
    for _ in 0..=MAX_REDIRECTS {
        let mut req = Request::get(path.as_str())
            .header(header::HOST, host)
            .header(header::ACCEPT, "text/html");
        if let Some(cookies) = jar.header_for(&path, now) {
            req = req.header(header::COOKIE, cookies);
        }
        let req = req
            .body(Full::new(Bytes::new()))
            .map_err(|e| DiaryError::BadAnswer(format!("{path}: {e}")))?;
        let resp = http.send(req).await?;
        store_cookies(jar, &resp, &path, now);
        match location(&resp).filter(|_| resp.status().is_redirection()) {
            Some(l) => match same_diary_path(&path, l) {
                Some(next) => path = next,
                None => return Ok((resp, path)),
            },
            None => return Ok((resp, path)),
        }
    }
    Err(DiaryError::BadAnswer(format!(
        "more than {MAX_REDIRECTS} redirects from the diary"
    )))
}

fn store_cookies(jar: &mut Jar, resp: &DiaryResponse, path: &str, now: DateTime<Utc>) {
    for v in resp
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
    {
        jar.store(v, path, now);
    }
}

/// A `Location` resolved like a browser against the current target, kept when it is an
/// http(s) reference (the gateway's own requests always go to the configured diary).
fn same_diary_path(current: &str, location: &str) -> Option<String> {
    super::location::resolve_location(current, location)
}

/// The canonical role through the probe; `None` when it says nothing.
pub async fn probe_role(
    http: &dyn DiaryHttp,
    rules: &DiaryRules,
    host: &str,
    jar: &Jar,
    now: DateTime<Utc>,
) -> Result<Option<String>, DiaryError> {
    Ok(match probe::probe(http, rules, host, jar, now).await? {
        Probed::User(u) => u.role,
        Probed::SignedOut => None,
    })
}

fn location(resp: &DiaryResponse) -> Option<&str> {
    resp.headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_the_demo_diarys_answers() {
        let r = DiaryRules::demo();
        let found = StatusCode::FOUND;
        assert_eq!(
            r.login_outcome(found, Some("/"), b""),
            LoginOutcome::SignedIn
        );
        assert_eq!(
            r.login_outcome(found, Some("http://10.0.0.5:8080/marks"), b""),
            LoginOutcome::SignedIn
        );
        assert_eq!(
            r.login_outcome(found, Some("/LOGIN?err=1"), b""),
            LoginOutcome::WrongPassword
        );
        let page = "<p>Неверный логин или пароль</p>".as_bytes();
        assert_eq!(
            r.login_outcome(StatusCode::OK, None, page),
            LoginOutcome::WrongPassword
        );
        assert_eq!(
            r.login_outcome(StatusCode::OK, None, b"<html>"),
            LoginOutcome::Unrecognised
        );
        assert_eq!(
            r.login_outcome(StatusCode::FOUND, None, b""),
            LoginOutcome::Unrecognised
        );
        assert_eq!(
            r.login_outcome(StatusCode::TOO_MANY_REQUESTS, None, b""),
            LoginOutcome::Refused
        );
    }

    #[test]
    fn relative_login_answers_are_resolved_against_the_login_path() {
        let r = DiaryRules {
            login_path: "/index.php".into(),
            ..DiaryRules::demo()
        };
        let found = StatusCode::FOUND;
        for (location, outcome) in [
            (
                "Modules.php?modname=misc/Portal.php",
                LoginOutcome::SignedIn,
            ),
            ("index.php?error=1", LoginOutcome::WrongPassword),
            ("./INDEX.PHP", LoginOutcome::WrongPassword),
            ("x/../index.php", LoginOutcome::WrongPassword),
            ("//school.example/index.php", LoginOutcome::WrongPassword),
            ("javascript:alert(1)", LoginOutcome::Unrecognised),
        ] {
            assert_eq!(
                r.login_outcome(found, Some(location), b""),
                outcome,
                "{location}"
            );
        }
    }

    #[test]
    fn tells_an_expired_diary_session() {
        let r = DiaryRules::demo();
        assert!(r.session_expired(StatusCode::FOUND, Some("/login?return=%2Fmarks"), "/"));
        assert!(r.session_expired(
            StatusCode::SEE_OTHER,
            Some("https://diary.local/Login/"),
            "/"
        ));
        assert!(r.session_expired(StatusCode::UNAUTHORIZED, None, "/"));
        assert!(!r.session_expired(StatusCode::FOUND, Some("/marks"), "/"));
        assert!(!r.session_expired(StatusCode::OK, Some("/login"), "/"));
        assert!(!r.session_expired(StatusCode::FOUND, Some("/loginx"), "/"));
        assert!(!r.session_expired(StatusCode::FOUND, None, "/"));
    }

    #[test]
    fn maps_roles_case_insensitively_and_refuses_unknown_ones() {
        let r = DiaryRules::demo();
        assert_eq!(r.canonical_role("Parent"), Some("parent"));
        assert_eq!(r.canonical_role(" class_teacher "), Some("class_teacher"));
        assert_eq!(r.canonical_role("superuser"), None);
    }

    #[test]
    fn a_failure_page_in_windows_1251_or_koi8_r_is_recognised() {
        let r = DiaryRules::demo();
        for enc in [
            encoding_rs::WINDOWS_1251,
            encoding_rs::KOI8_R,
            encoding_rs::UTF_8,
        ] {
            let (page, _, _) = enc.encode("<p>Неверный логин или пароль</p>");
            assert_eq!(
                r.login_outcome(StatusCode::OK, None, &page),
                LoginOutcome::WrongPassword,
                "{}",
                enc.name()
            );
        }
        let (other, _, _) = encoding_rs::WINDOWS_1251.encode("<p>Добро пожаловать</p>");
        assert_eq!(
            r.login_outcome(StatusCode::OK, None, &other),
            LoginOutcome::Unrecognised
        );
    }

    #[test]
    fn return_urls_in_the_query_do_not_pass_for_the_path() {
        let r = DiaryRules::demo();
        for (location, expired) in [
            ("/login.php?return=http://diary/marks", false),
            ("/login?return=http://diary/marks", true),
            ("/login?back=https://diary.local/marks/", true),
            ("/marks?from=http://diary/login", false),
            ("//diary.local/login?x=1", true),
            ("//diary.local", false),
            ("http://diary.local?login", false),
            ("HTTPS://diary.local/login", true),
            ("  /login  ", true),
            ("1http://x/login", false),
            ("javascript://x/login", false),
            ("", false),
        ] {
            assert_eq!(
                r.session_expired(StatusCode::FOUND, Some(location), "/"),
                expired,
                "{location}"
            );
        }
        assert_eq!(
            r.login_outcome(StatusCode::FOUND, Some("/journal?from=http://d/login"), b""),
            LoginOutcome::SignedIn
        );
    }
}
