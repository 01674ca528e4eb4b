//! The templates of the gateway's own pages, and the operator's replacements for them
//! (`[pages] templates = "dir"`, issue 13).
//!
//! Every page is a minijinja template with a flat name unique across the gateway
//! (`start.html`, `link.html`, `error.html`, …); `style.css` is the one stylesheet, which
//! every page inlines as `{{ style }}`. The shipped templates are compiled into the
//! binary. A file of the same name in the operator's directory replaces one; a name that
//! is not there keeps the shipped template. Files are read and compiled once — at start,
//! by check-config, at each reload — never per request.
//!
//! The directory is the operator's, but the pages carry request data (a return path, a
//! name from ESIA, a login typed into a form). So replacements get what the shipped
//! templates get: autoescaping by the `.html` name, the page kit's headers and CSP (no
//! external assets), and strict undefined values — a misspelt variable is an error when
//! the templates are checked, not an empty spot on a page. A page whose replacement
//! still fails while serving is rendered from the shipped template (logged), never
//! blank.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use minijinja::{Environment, ErrorKind, UndefinedBehavior, Value};

/// A shipped template: its name (the file name that replaces it) and its text.
pub type Shipped = (&'static str, &'static str);

/// The name of the stylesheet every page inlines; replaced like a template.
pub const STYLE: &str = "style.css";

/// A template file larger than this is refused (the shipped ones are about 1 KiB).
const MAX_FILE: u64 = 1 << 20;

/// What a page shows when even its shipped template failed (a bug; logged).
const BARE_PAGE: &str = "<!doctype html><meta charset=\"utf-8\"><title>error</title><p>error</p>";

/// One problem with an operator's template, as check-config prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateProblem {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
    pub hint: Option<String>,
}

impl TemplateProblem {
    fn new(file: &Path, line: Option<usize>, message: impl Into<String>) -> Self {
        Self {
            file: file.to_path_buf(),
            line,
            message: message.into(),
            hint: None,
        }
    }
}

/// Why a template directory could not be used.
#[derive(Debug)]
pub enum LoadError {
    /// The directory itself cannot be listed.
    Dir(std::io::Error),
    /// Files that cannot be read or do not compile; every one of them.
    Files(Vec<TemplateProblem>),
}

/// A directory's templates, compiled, and what is worth a warning about them.
#[derive(Debug)]
pub struct Loaded {
    pub templates: Templates,
    /// Files that are no template's name (typos, backups); ignored.
    pub unknown: Vec<PathBuf>,
    /// Lines that load an external asset, which the pages' CSP blocks.
    pub external: Vec<TemplateProblem>,
}

/// The page templates in use: the shipped ones with the operator's files in their place.
pub struct Templates {
    env: Environment<'static>,
    /// The shipped templates alone when some are replaced: the fallback at run time.
    fallback: Option<Environment<'static>>,
    /// The operator's files in use, by template name.
    overrides: BTreeMap<&'static str, PathBuf>,
    /// While a check runs: what was rendered and what failed (else failures are logged).
    check: Mutex<Option<Check>>,
}

#[derive(Default)]
struct Check {
    rendered: BTreeSet<String>,
    failures: Vec<Failure>,
}

struct Failure {
    page: String,
    error: minijinja::Error,
    /// The names the page's context had.
    given: Vec<String>,
}

/// What a check found: the pages rendered, and a problem per failed render.
#[derive(Debug, Default)]
pub struct CheckReport {
    pub rendered: BTreeSet<String>,
    pub problems: Vec<TemplateProblem>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("overrides", &self.overrides.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// An environment with what every page template uses: `style`, escaping by name, and
/// undefined values as errors.
fn environment(style: String) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // The stylesheet is the shipped one or the operator's (checked not to close the
    // `<style>` element); page values are escaped, the stylesheet is not.
    env.add_global("style", Value::from_safe_string(style));
    env
}

/// The shipped templates of `list`; a name listed twice keeps its first text.
fn compile_shipped(list: &[Shipped]) -> Result<Environment<'static>, minijinja::Error> {
    let mut env = environment(super::kit::STYLE.to_owned());
    let mut added = BTreeSet::new();
    for &(name, source) in list.iter().filter(|(n, _)| added.insert(*n)) {
        env.add_template(name, source)?;
    }
    Ok(env)
}

impl Templates {
    /// The shipped templates of `list` (a name listed twice keeps its first text).
    pub fn shipped(list: &[Shipped]) -> Result<Self, minijinja::Error> {
        Ok(Self {
            env: compile_shipped(list)?,
            fallback: None,
            overrides: BTreeMap::new(),
            check: Mutex::new(None),
        })
    }

    /// No templates at all: every page is a bare error page. Only for a binary whose
    /// shipped templates do not compile (the unit tests make sure they do).
    pub fn none() -> Self {
        Self {
            env: environment(String::new()),
            fallback: None,
            overrides: BTreeMap::new(),
            check: Mutex::new(None),
        }
    }

    /// The shipped templates of `list` with `dir`'s files in their place. Reports every
    /// unreadable or uncompilable file at once.
    pub fn load(list: &[Shipped], dir: &Path) -> Result<Loaded, LoadError> {
        let mut known: Vec<&'static str> = list.iter().map(|(name, _)| *name).collect();
        known.push(STYLE);
        let mut problems = Vec::new();
        let mut unknown = Vec::new();
        let mut sources: BTreeMap<&'static str, (PathBuf, String)> = BTreeMap::new();
        for entry in std::fs::read_dir(dir).map_err(LoadError::Dir)? {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    problems.push(TemplateProblem::new(dir, None, format!("cannot list: {e}")));
                    continue;
                }
            };
            let file_name = entry.file_name();
            let name = file_name.to_string_lossy();
            // Hidden files (`.git`, editor swap files) are nobody's template.
            if name.starts_with('.') {
                continue;
            }
            let path = entry.path();
            match known.iter().find(|k| **k == name) {
                Some(&known_name) => match read_text(&path) {
                    Ok(text) => {
                        sources.insert(known_name, (path, text));
                    }
                    Err(p) => problems.push(p),
                },
                None => unknown.push(path),
            }
        }
        unknown.sort();

        let style = match sources.get(STYLE) {
            Some((path, text)) => {
                if let Some(line) = closes_style(text) {
                    problems.push(TemplateProblem::new(
                        path,
                        Some(line),
                        "`</style` would end the page's <style> element early",
                    ));
                }
                text.clone()
            }
            None => super::kit::STYLE.to_owned(),
        };
        let mut env = environment(style);
        let mut overrides = BTreeMap::new();
        let mut added = BTreeSet::new();
        for &(name, shipped) in list.iter().filter(|(n, _)| added.insert(*n)) {
            let result = match sources.get(name) {
                Some((path, text)) => {
                    overrides.insert(name, path.clone());
                    env.add_template_owned(name, text.clone())
                        .map_err(|e| problem_of(&e, path, Some(text)))
                }
                None => env.add_template(name, shipped).map_err(|e| {
                    TemplateProblem::new(
                        Path::new(name),
                        e.line(),
                        format!("the shipped template does not compile (a bug): {e}"),
                    )
                }),
            };
            if let Err(p) = result {
                problems.push(p);
            }
        }
        if let Some((path, _)) = sources.get(STYLE) {
            overrides.insert(STYLE, path.clone());
        }
        if !problems.is_empty() {
            return Err(LoadError::Files(problems));
        }
        let external = sources
            .values()
            .flat_map(|(path, text)| {
                external_assets(text).into_iter().map(|(line, what)| {
                    TemplateProblem::new(
                        path,
                        Some(line),
                        format!("`{what}` loads an external asset, which the pages' content security policy blocks"),
                    )
                })
            })
            .collect();
        let fallback = if overrides.is_empty() {
            None
        } else {
            Some(compile_shipped(list).map_err(|e| {
                LoadError::Files(vec![TemplateProblem::new(
                    Path::new(e.name().unwrap_or_default()),
                    e.line(),
                    format!("the shipped template does not compile (a bug): {e}"),
                )])
            })?)
        };
        Ok(Loaded {
            templates: Self {
                env,
                fallback,
                overrides,
                check: Mutex::new(None),
            },
            unknown,
            external,
        })
    }

    /// The operator's files in use, by template name.
    pub fn overrides(&self) -> &BTreeMap<&'static str, PathBuf> {
        &self.overrides
    }

    /// The page `name` with `ctx`. A replacement that fails is logged and the shipped
    /// template rendered instead (while a check runs the failure is recorded instead).
    pub fn render(&self, name: &str, ctx: Value) -> String {
        let error = match self.env.get_template(name).and_then(|t| t.render(&ctx)) {
            Ok(html) => {
                self.note(|c| {
                    c.rendered.insert(name.to_owned());
                });
                return html;
            }
            Err(e) => e,
        };
        let given = ctx
            .try_iter()
            .map(|keys| keys.map(|k| k.to_string()).collect())
            .unwrap_or_default();
        let mut failure = Some(Failure {
            page: name.to_owned(),
            error,
            given,
        });
        self.note(|c| {
            c.rendered.insert(name.to_owned());
            c.failures.extend(failure.take());
        });
        if let Some(f) = failure {
            tracing::error!(template = name, error = %f.error,
                "page template failed to render; the shipped one is shown");
        }
        self.fallback
            .as_ref()
            .and_then(|env| env.get_template(name).and_then(|t| t.render(&ctx)).ok())
            .unwrap_or_else(|| BARE_PAGE.to_owned())
    }

    /// Runs `f` on the check in progress, if one is.
    fn note(&self, f: impl FnOnce(&mut Check)) {
        if let Ok(mut check) = self.check.lock()
            && let Some(c) = check.as_mut()
        {
            f(c);
        }
    }

    /// From now until [`Self::finish_check`], render failures are recorded, not logged.
    pub fn start_check(&self) {
        if let Ok(mut check) = self.check.lock() {
            *check = Some(Check::default());
        }
    }

    /// Ends the check: the pages rendered since [`Self::start_check`] and a problem for
    /// each failure (once, however many samples met it), at the operator's file and line
    /// where the failure is in one.
    pub fn finish_check(&self) -> CheckReport {
        let check = self
            .check
            .lock()
            .ok()
            .and_then(|mut c| c.take())
            .unwrap_or_default();
        let mut problems: Vec<TemplateProblem> = Vec::new();
        for p in check.failures.iter().map(|f| self.problem_of_failure(f)) {
            let seen = problems
                .iter()
                .any(|q| (&q.file, q.line, &q.message) == (&p.file, p.line, &p.message));
            if !seen {
                problems.push(p);
            }
        }
        CheckReport {
            rendered: check.rendered,
            problems,
        }
    }

    fn problem_of_failure(&self, f: &Failure) -> TemplateProblem {
        let failed_in = f.error.name().unwrap_or(&f.page);
        let source = self.env.get_template(failed_in).ok();
        let mut problem = match self.overrides.get(failed_in) {
            Some(path) => problem_of(&f.error, path, source.as_ref().map(|t| t.source())),
            // In a shipped template, through a replaced one: name the page's file.
            None => {
                let path = self
                    .overrides
                    .get(f.page.as_str())
                    .or_else(|| self.overrides.values().next())
                    .cloned()
                    .unwrap_or_default();
                let mut p = problem_of(&f.error, &path, source.as_ref().map(|t| t.source()));
                p.line = None;
                p.message = format!(
                    "{} (in the shipped {failed_in}, line {})",
                    p.message,
                    f.error.line().unwrap_or(0)
                );
                p
            }
        };
        if failed_in != f.page {
            problem.message = format!("{} (rendering {})", problem.message, f.page);
        }
        let mut given = f.given.clone();
        given.sort();
        problem.hint = Some(format!(
            "{} is given: {}, and `style`",
            f.page,
            given.join(", ")
        ));
        problem
    }
}

/// A minijinja error as one line at `path`: `undefined value `t.titel``, `syntax error: …`.
fn problem_of(e: &minijinja::Error, path: &Path, source: Option<&str>) -> TemplateProblem {
    let message = match e.kind() {
        ErrorKind::UndefinedError => match e.range().and_then(|r| source.and_then(|s| s.get(r))) {
            Some(what) => format!("undefined value `{what}`"),
            None => "undefined value".to_owned(),
        },
        kind => match e.detail() {
            Some(detail) => format!("{kind}: {detail}"),
            None => kind.to_string(),
        },
    };
    TemplateProblem::new(path, e.line(), message)
}

/// The file's text: UTF-8 (a leading byte-order mark dropped), at most [`MAX_FILE`].
fn read_text(path: &Path) -> Result<String, TemplateProblem> {
    let unreadable =
        |e: std::io::Error| TemplateProblem::new(path, None, format!("cannot read: {e}"));
    // A directory or a pipe by a template's name: named, not opened (a pipe would block).
    if !std::fs::metadata(path).map_err(unreadable)?.is_file() {
        return Err(TemplateProblem::new(path, None, "not a regular file"));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE + 1).read_to_end(&mut bytes))
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(TemplateProblem::new(
            path,
            None,
            format!("larger than {} KiB", MAX_FILE / 1024),
        ));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
        let mut p = TemplateProblem::new(path, Some(line), "not UTF-8 text");
        p.hint = Some("save the file as UTF-8".to_owned());
        p
    })?;
    Ok(text
        .strip_prefix('\u{feff}')
        .map(str::to_owned)
        .unwrap_or(text))
}

/// The line of a `</style` in a stylesheet, which would end the `<style>` element.
fn closes_style(css: &str) -> Option<usize> {
    css.lines()
        .position(|l| l.to_ascii_lowercase().contains("</style"))
        .map(|i| i + 1)
}

/// Lines that load something from elsewhere (`<script`, `<link`, `@import`, a `src=` or
/// `url(` that is not a `data:` URL), with what was found.
fn external_assets(text: &str) -> Vec<(usize, String)> {
    const ELEMENTS: [&str; 6] = [
        "<script", "<link", "<iframe", "<object", "<embed", "@import",
    ];
    let mut found = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let lower = line.to_ascii_lowercase();
        let element = ELEMENTS.iter().find(|e| lower.contains(**e)).copied();
        let reference = ["src=", "url("].into_iter().find(|marker| {
            lower.match_indices(marker).any(|(at, _)| {
                let value = lower[at + marker.len()..].trim_start_matches([' ', '"', '\'']);
                !value.starts_with("data:")
            })
        });
        if let Some(what) = element.or(reference) {
            found.push((i + 1, what.to_owned()));
        }
    }
    found
}

/// The templates the pages render with, replaced whole by a reload; cheap to clone.
#[derive(Clone)]
pub struct LiveTemplates(Arc<ArcSwap<Templates>>);

impl LiveTemplates {
    pub fn new(templates: Arc<Templates>) -> Self {
        Self(Arc::new(ArcSwap::new(templates)))
    }

    /// Every page rendered after this uses `templates`.
    pub fn replace(&self, templates: Arc<Templates>) {
        self.0.store(templates);
    }

    pub fn current(&self) -> Arc<Templates> {
        self.0.load_full()
    }

    /// See [`Templates::render`].
    pub fn render(&self, name: &str, ctx: Value) -> String {
        self.0.load().render(name, ctx)
    }
}

impl std::fmt::Debug for LiveTemplates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.load().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::context;

    const LIST: [Shipped; 3] = [
        (
            "base.html",
            "<html><style>{{ style }}</style>{% block content %}{% endblock %}</html>",
        ),
        (
            "start.html",
            "{% extends \"base.html\" %}{% block content %}<h1>{{ title }}</h1>{% endblock %}",
        ),
        ("error.html", "<p>{{ status }}</p>"),
    ];

    fn dir_with(files: &[(&str, &[u8])]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    fn problems(dir: &tempfile::TempDir) -> Vec<TemplateProblem> {
        match Templates::load(&LIST, dir.path()) {
            Err(LoadError::Files(p)) => p,
            other => panic!("expected file problems: {other:?}"),
        }
    }

    #[test]
    fn a_file_replaces_its_template_and_the_others_stay_shipped() {
        let dir = dir_with(&[
            ("start.html", b"{% extends \"base.html\" %}{% block content %}<h1 class=\"region\">{{ title }}</h1>{% endblock %}"),
            ("style.css", b"\xef\xbb\xbfmain{color:#123}"),
        ]);
        let loaded = Templates::load(&LIST, dir.path()).unwrap();
        let t = loaded.templates;
        assert_eq!(
            t.overrides().keys().copied().collect::<Vec<_>>(),
            ["start.html", "style.css"]
        );
        let html = t.render("start.html", context! { title => "<b>Школа</b>" });
        // Replaced page, shipped frame, the operator's stylesheet inlined (its BOM
        // dropped), values still escaped.
        assert_eq!(
            html,
            "<html><style>main{color:#123}</style><h1 class=\"region\">&lt;b&gt;Школа&lt;&#x2f;b&gt;</h1></html>"
        );
        assert_eq!(
            t.render("error.html", context! { status => 502 }),
            "<p>502</p>"
        );
        assert!(loaded.unknown.is_empty() && loaded.external.is_empty());
    }

    #[test]
    fn a_syntax_error_names_the_file_and_the_line_and_every_bad_file_is_reported() {
        let dir = dir_with(&[
            (
                "start.html",
                b"{% extends \"base.html\" %}\n{% block content %}\n{% if title %}\n{% endblock %}",
            ),
            ("error.html", b"<p>\n\xff</p>"),
            ("style.css", b"main{}\n</STYLE><p>"),
        ]);
        let mut found = problems(&dir);
        found.sort_by(|a, b| a.file.cmp(&b.file));
        let shown: Vec<String> = found
            .iter()
            .map(|p| {
                format!(
                    "{}:{:?}: {}",
                    p.file.file_name().unwrap().to_string_lossy(),
                    p.line,
                    p.message
                )
            })
            .collect();
        assert_eq!(shown.len(), 3, "{shown:?}");
        assert_eq!(shown[0], "error.html:Some(2): not UTF-8 text");
        assert!(
            shown[1].starts_with("start.html:Some(4): syntax error: "),
            "{shown:?}"
        );
        assert_eq!(
            shown[2],
            "style.css:Some(2): `</style` would end the page's <style> element early"
        );
    }

    #[test]
    fn an_unreadable_file_is_named_and_a_missing_directory_is_its_own_error() {
        let dir = dir_with(&[]);
        std::fs::create_dir(dir.path().join("start.html")).unwrap();
        // A dangling link: the file it names cannot be read.
        std::os::unix::fs::symlink(dir.path().join("gone"), dir.path().join("error.html")).unwrap();
        let mut found = problems(&dir);
        found.sort_by(|a, b| a.file.cmp(&b.file));
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].file, dir.path().join("error.html"));
        assert!(found[0].message.starts_with("cannot read: "), "{found:?}");
        assert_eq!(found[1].file, dir.path().join("start.html"));
        assert_eq!(found[1].message, "not a regular file");
        assert!(matches!(
            Templates::load(&LIST, &dir.path().join("nope")),
            Err(LoadError::Dir(_))
        ));
    }

    #[test]
    fn unknown_and_hidden_files_and_external_assets() {
        let dir = dir_with(&[
            ("strat.html", b"x"),
            (".start.html.swp", b"x"),
            (
                "error.html",
                b"<img src=\"data:image/png;base64,AA\">\n<img src=\"https://cdn.example/logo.png\">\n<p>{{ status }}</p>",
            ),
        ]);
        let loaded = Templates::load(&LIST, dir.path()).unwrap();
        assert_eq!(loaded.unknown, [dir.path().join("strat.html")]);
        assert_eq!(loaded.external.len(), 1, "{:?}", loaded.external);
        assert_eq!(loaded.external[0].line, Some(2));
        assert_eq!(
            external_assets("a{background:url( 'data:x')}\n@import \"x.css\";"),
            [(2, "@import".to_owned())]
        );
    }

    #[test]
    fn a_check_reports_undefined_values_at_the_file_and_line_and_serving_falls_back() {
        let dir = dir_with(&[(
            "start.html",
            b"{% extends \"base.html\" %}\n{% block content %}\n<h1>{{ titel }}</h1>{% endblock %}",
        )]);
        let t = Templates::load(&LIST, dir.path()).unwrap().templates;
        t.start_check();
        let html = t.render("start.html", context! { title => "Вход" });
        assert!(html.contains("<h1>Вход</h1>"), "shipped fallback: {html}");
        let report = t.finish_check();
        assert_eq!(report.rendered, BTreeSet::from(["start.html".to_owned()]));
        assert_eq!(
            report.problems,
            [TemplateProblem {
                file: dir.path().join("start.html"),
                line: Some(3),
                message: "undefined value `titel`".into(),
                hint: Some("start.html is given: title, and `style`".into()),
            }]
        );
        // After the check, failures are logged, not recorded.
        t.render("start.html", context! { title => "Вход" });
        assert!(t.finish_check().problems.is_empty());
    }

    #[test]
    fn a_failure_in_a_replaced_frame_is_reported_in_the_frame() {
        let dir = dir_with(&[(
            "base.html",
            b"<html>\n{{ lang }}{% block content %}{% endblock %}",
        )]);
        let t = Templates::load(&LIST, dir.path()).unwrap().templates;
        t.start_check();
        t.render("start.html", context! { title => "x" });
        let p = &t.finish_check().problems[0];
        assert_eq!(
            (p.file.file_name().unwrap(), p.line),
            ("base.html".as_ref(), Some(2))
        );
        assert_eq!(p.message, "undefined value `lang` (rendering start.html)");
    }

    #[test]
    fn live_templates_are_replaced_whole() {
        let live = LiveTemplates::new(Arc::new(Templates::shipped(&LIST).unwrap()));
        let dir = dir_with(&[("error.html", "<p>Школа {{ status }}</p>".as_bytes())]);
        assert_eq!(
            live.render("error.html", context! { status => 1 }),
            "<p>1</p>"
        );
        live.replace(Arc::new(
            Templates::load(&LIST, dir.path()).unwrap().templates,
        ));
        assert_eq!(
            live.render("error.html", context! { status => 1 }),
            "<p>Школа 1</p>"
        );
        assert_eq!(
            Templates::none().render("error.html", context! {}),
            BARE_PAGE
        );
    }
}
