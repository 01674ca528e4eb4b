//! `Location` values resolved the way a browser resolves them, before any rule reads them.
//!
//! Real PHP diaries send `Location: Modules.php?modname=…` (no leading slash),
//! `../index.php`, `//host/x` or an absolute URL naming their own public host. A rule that
//! compared the raw header with `/login` would miss every one of those. The `url` crate
//! implements the WHATWG URL standard browsers follow (dot segments, `\` as `/` in http
//! URLs, scheme-relative references), so it does the join rather than hand-written code.

use url::Url;

/// A stand-in origin: what the request's path is joined onto. Never leaves this file.
const BASE: &str = "http://diary.invalid/";

/// The origin-form target (`/path?query`, no fragment) a browser would go to when the
/// answer to `request_target` (origin-form, `/a/b?c`) carries `Location: location`.
/// Absolute and scheme-relative URLs give their path whatever the host: the diary names
/// itself by its internal or its public name, and the proxy rewrites either. `None` when
/// the value is not an http(s) reference at all (`javascript:…`, garbage).
pub fn resolve_location(request_target: &str, location: &str) -> Option<String> {
    let root = Url::parse(BASE).ok()?;
    let base = root.join(request_target).unwrap_or(root);
    let url = base.join(location.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let mut target = url.path().to_owned();
    if let Some(q) = url.query() {
        target.push('?');
        target.push_str(q);
    }
    Some(target)
}

/// The path part of [`resolve_location`].
pub fn resolve_location_path(request_target: &str, location: &str) -> Option<String> {
    resolve_location(request_target, location)
        .map(|t| t.split_once('?').map_or(t.clone(), |(p, _)| p.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_like_a_browser() {
        let r = |base: &str, loc: &str| resolve_location(base, loc);
        let base = "/Modules.php?modname=Grades/StudentGrades.php";
        assert_eq!(
            r(base, "Modules.php?modname=misc/Portal.php").as_deref(),
            Some("/Modules.php?modname=misc/Portal.php")
        );
        assert_eq!(r("/a/b/c", "../x").as_deref(), Some("/a/x"));
        assert_eq!(r("/a/b/c", "./x?y=1#f").as_deref(), Some("/a/b/x?y=1"));
        assert_eq!(r("/a/b", "//other.host/x").as_deref(), Some("/x"));
        assert_eq!(
            r("/a", "https://diary.example:8443/login").as_deref(),
            Some("/login")
        );
        assert_eq!(r("/a", "HTTP://h").as_deref(), Some("/"));
        assert_eq!(r("/a/b", "\\\\h\\login").as_deref(), Some("/login"));
        assert_eq!(
            r("/a/b", "  index.php?modfunc=logout  ").as_deref(),
            Some("/a/index.php?modfunc=logout")
        );
        assert_eq!(r("/a", "").as_deref(), Some("/a"));
        assert_eq!(r("/a", "javascript://x/login"), None);
        assert_eq!(r("/a", "mailto:x@y"), None);
        assert_eq!(r("not a path", "x").as_deref(), Some("/x"));
        assert_eq!(
            resolve_location_path("/", "/login?back=http://d/marks").as_deref(),
            Some("/login")
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_gives_an_origin_form(base in "\\PC{0,30}", l in "\\PC{0,60}") {
            if let Some(t) = resolve_location(&base, &l) {
                proptest::prop_assert!(t.starts_with('/'));
                proptest::prop_assert!(!t.contains('#'));
            }
        }
    }
}
