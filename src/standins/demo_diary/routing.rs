//! The diary's whole routing as one pure function, [`resolve`]. The server routes every
//! request only through it, and the gateway's security tests ask it which page the diary
//! would serve, so the two can never disagree. The leniencies it applies are listed in
//! [`super::quirks`].

use super::php_query::PhpParams;
use super::quirks::{normalize_path, split_target};

/// A page (or action) of the diary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    Dashboard,
    Login,
    LoginSubmit,
    Logout,
    /// «Текущая успеваемость»: the grade page the cutover closes.
    Marks,
    Stats,
    Homework,
    /// Served in windows-1251.
    Schedule,
    Messages,
    MessageSend,
    Teachers,
    Files,
    Register,
    RegisterSubmit,
    /// A parent's children, as HTML.
    Children,
    ApiMe,
    /// A parent's children, as JSON.
    ApiChildren,
    /// «Включите cookies в браузере»: where the strict login sends a POST without its
    /// pre-login session.
    NoCookies,
    /// `/index.php?module=…` with a module the diary does not know.
    UnknownModule,
    NotFound,
    /// Neither origin-form nor absolute-form (`*`, `host:443`, garbage).
    BadRequest,
}

impl Route {
    /// The grade page: what the calendar closes to legacy sessions.
    pub fn is_grade_page(self) -> bool {
        self == Route::Marks
    }

    /// Whether the page needs a diary session (otherwise → `/login?return=…`).
    pub fn needs_session(self) -> bool {
        !matches!(
            self,
            Route::Login
                | Route::LoginSubmit
                | Route::Logout
                | Route::Register
                | Route::RegisterSubmit
                | Route::ApiMe
                | Route::ApiChildren
                | Route::NoCookies
                | Route::UnknownModule
                | Route::NotFound
                | Route::BadRequest
        )
    }

    /// The `id` of the page's `<h1>`, a stable marker for tests.
    pub fn page_id(self) -> &'static str {
        match self {
            Route::Dashboard => "page-dashboard",
            Route::Login | Route::LoginSubmit => "page-login",
            Route::Logout => "page-logout",
            Route::Marks => "page-marks",
            Route::Stats => "page-stats",
            Route::Homework => "page-homework",
            Route::Schedule => "page-schedule",
            Route::Messages | Route::MessageSend => "page-messages",
            Route::Teachers => "page-teachers",
            Route::Files => "page-files",
            Route::Register | Route::RegisterSubmit => "page-register",
            Route::Children => "page-children",
            Route::ApiMe => "api-me",
            Route::ApiChildren => "api-children",
            Route::NoCookies => "page-nocookies",
            Route::UnknownModule | Route::NotFound => "page-not-found",
            Route::BadRequest => "page-error",
        }
    }
}

/// Which page the diary serves for `method` and the raw request target (exactly the
/// bytes of the request line: origin-form or absolute-form). Total: never panics.
pub fn resolve(method: &str, raw_target: &[u8]) -> Route {
    resolve_request(method, raw_target, None, None)
}

/// [`resolve`] with what PHP's `$_REQUEST` also holds (quirk 25): the routing
/// parameter `module` is read from the query, then the form body, then the cookies,
/// the later winning (`request_order = "GPC"`, as PHP without a php.ini reads
/// `variables_order`). A diary reading `$_REQUEST['module']` serves the page a POST
/// body or a cookie names, whatever the query says.
pub fn resolve_request(
    method: &str,
    raw_target: &[u8],
    form: Option<&PhpParams>,
    cookies: Option<&PhpParams>,
) -> Route {
    let Some((raw_path, raw_query)) = split_target(raw_target) else {
        return Route::BadRequest;
    };
    // Quirk 18: only an exact POST submits.
    let post = method == "POST";
    let segments = normalize_path(raw_path);
    let names: Vec<&[u8]> = segments.iter().map(Vec::as_slice).collect();
    match names.as_slice() {
        [] => Route::Dashboard,
        // Quirk 9: PATH_INFO after a script is ignored by PHP.
        [b"index.php", ..] => module_route(raw_query, form, cookies, post),
        [b"login.php", ..] if post => Route::LoginSubmit,
        [b"login.php", ..] => Route::Login,
        [b"logout.php", ..] => Route::Logout,
        [b"api", b"me"] => Route::ApiMe,
        [b"api", b"children"] => Route::ApiChildren,
        [name] => page(name, post).unwrap_or(Route::NotFound),
        _ => Route::NotFound,
    }
}

/// `/index.php?module=…` (quirks 10–17).
fn module_route(
    raw_query: &[u8],
    form: Option<&PhpParams>,
    cookies: Option<&PhpParams>,
    post: bool,
) -> Route {
    let params = PhpParams::parse(raw_query);
    let module = [cookies, form]
        .into_iter()
        .flatten()
        .find_map(|p| p.scalar("module"))
        .or_else(|| params.scalar("module"));
    match module {
        None | Some(b"") => Route::Dashboard,
        Some(module) => page(&module.to_ascii_lowercase(), post).unwrap_or(Route::UnknownModule),
    }
}

/// The page named by a (lowercased) path segment or module value.
fn page(name: &[u8], post: bool) -> Option<Route> {
    Some(match name {
        b"login" if post => Route::LoginSubmit,
        b"login" => Route::Login,
        b"logout" => Route::Logout,
        b"marks" => Route::Marks,
        b"stats" => Route::Stats,
        b"homework" => Route::Homework,
        b"schedule" => Route::Schedule,
        b"messages" if post => Route::MessageSend,
        b"messages" => Route::Messages,
        b"teachers" => Route::Teachers,
        b"files" => Route::Files,
        b"register" if post => Route::RegisterSubmit,
        b"register" => Route::Register,
        b"children" => Route::Children,
        b"nocookies" => Route::NoCookies,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_parameters_win_over_the_query() {
        let form = PhpParams::parse(b"module=marks");
        let cookie = PhpParams::parse_cookies(b"module=stats");
        let t = b"/index.php?module=homework";
        assert_eq!(resolve("POST", t), Route::Homework);
        assert_eq!(resolve_request("POST", t, Some(&form), None), Route::Marks);
        assert_eq!(resolve_request("GET", t, None, Some(&cookie)), Route::Stats);
        assert_eq!(
            resolve_request("POST", t, Some(&form), Some(&cookie)),
            Route::Stats
        );
        assert_eq!(
            resolve_request("POST", b"/marks", None, Some(&cookie)),
            Route::Marks
        );
    }

    #[test]
    fn every_listed_spelling_of_the_grade_page_is_marks() {
        for t in [
            "/marks",
            "/MARKS/",
            "//marks",
            "/./marks",
            "/Marks;x=1",
            "/foo/%2e%2e/marks",
            "/%6Darks",
            "/foo%2F..%2Fmarks",
            "/marks#frag",
            "http://evil/marks",
            "/index.php?module=marks",
            "/index.php/?MODULE=Marks",
            "/INDEX.PHP?module=MARKS",
            "/index.php?module=stats&module=marks",
            "/index.php?mod%75le=marks",
            "/index.php/x/y?module=marks",
            "/index.php?+module=marks",
            "/index.php?module%00x=marks",
            "/index.php;x?module=marks",
        ] {
            assert_eq!(resolve("GET", t.as_bytes()), Route::Marks, "{t}");
        }
    }

    #[test]
    fn near_misses_are_not_marks() {
        assert_eq!(
            resolve("GET", b"/index.php?module[]=marks"),
            Route::Dashboard
        );
        assert_eq!(
            resolve("GET", b"/index.php?module=marks&module[]=x"),
            Route::Dashboard
        );
        assert_eq!(
            resolve("GET", b"/index.php?module.=marks"),
            Route::Dashboard
        );
        assert_eq!(
            resolve("GET", b"/index.php?module=mark"),
            Route::UnknownModule
        );
        assert_eq!(
            resolve("GET", b"/index.php?module=marks%20"),
            Route::UnknownModule
        );
        // An encoded `&` or `?` is data, not a separator.
        assert_eq!(
            resolve("GET", b"/index.php?module=stats%26module=marks"),
            Route::UnknownModule
        );
        assert_eq!(resolve("GET", b"/marks%3Fx"), Route::NotFound);
        assert_eq!(
            resolve("GET", b"/index.php%3Fmodule=marks"),
            Route::NotFound
        );
        assert_eq!(resolve("GET", b"/marks+"), Route::NotFound);
        assert_eq!(resolve("GET", b"/%252Fmarks"), Route::NotFound);
        assert_eq!(resolve("GET", b"/foo%2Fmarks"), Route::NotFound);
        assert_eq!(resolve("GET", b"/marks/x"), Route::NotFound);
        assert_eq!(resolve("GET", b"marks"), Route::BadRequest);
        assert_eq!(resolve("OPTIONS", b"*"), Route::BadRequest);
        assert_eq!(resolve("GET", b"/marks%3B"), Route::NotFound);
    }

    #[test]
    fn methods_matter_only_for_form_submissions() {
        assert_eq!(resolve("POST", b"/login"), Route::LoginSubmit);
        assert_eq!(resolve("post", b"/login"), Route::Login);
        assert_eq!(resolve("PROPFIND", b"/marks"), Route::Marks);
        assert_eq!(resolve("HEAD", b"/marks"), Route::Marks);
        assert_eq!(resolve("POST", b"/marks"), Route::Marks);
        assert_eq!(
            resolve("POST", b"/index.php?module=messages"),
            Route::MessageSend
        );
        assert_eq!(resolve("POST", b"/Register/"), Route::RegisterSubmit);
        assert_eq!(resolve("DELETE", b"/logout"), Route::Logout);
    }

    #[test]
    fn logins_and_logouts_have_their_php_spellings() {
        for t in [
            "/login",
            "/LOGIN/",
            "/index.php?module=login",
            "/index.php?MODULE=Login",
            "/login.php",
            "/Login.PHP",
            "/login.php/x",
            "/login.php?module=marks",
            "/x/../login.php",
        ] {
            assert_eq!(resolve("POST", t.as_bytes()), Route::LoginSubmit, "{t}");
            assert_eq!(resolve("GET", t.as_bytes()), Route::Login, "{t}");
        }
        for t in [
            "/logout",
            "/index.php?module=logout",
            "/logout.php",
            "/LOGOUT.php/",
            "/logout.php/x?y=1",
        ] {
            assert_eq!(resolve("GET", t.as_bytes()), Route::Logout, "{t}");
            assert_eq!(resolve("POST", t.as_bytes()), Route::Logout, "{t}");
        }
        assert_eq!(
            resolve("POST", b"/index.php?module=login.php"),
            Route::UnknownModule
        );
        assert_eq!(resolve("POST", b"/login.php.bak"), Route::NotFound);
        assert_eq!(resolve("POST", b"/x/login.php"), Route::NotFound);
    }

    #[test]
    fn other_pages_route() {
        assert_eq!(resolve("GET", b"/"), Route::Dashboard);
        assert_eq!(resolve("GET", b"/index.php"), Route::Dashboard);
        assert_eq!(resolve("GET", b"/index.php?module="), Route::Dashboard);
        assert_eq!(resolve("GET", b"/api/me"), Route::ApiMe);
        assert_eq!(resolve("GET", b"/API//Me/"), Route::ApiMe);
        assert_eq!(resolve("GET", b"/api/children"), Route::ApiChildren);
        assert_eq!(resolve("GET", b"/children"), Route::Children);
        assert_eq!(
            resolve("GET", b"/index.php?module=children"),
            Route::Children
        );
        assert_eq!(resolve("GET", b"/nocookies"), Route::NoCookies);
        assert_eq!(
            resolve("GET", b"/index.php?module=schedule"),
            Route::Schedule
        );
        assert_eq!(resolve("GET", "/ſtats".as_bytes()), Route::NotFound);
    }
}
