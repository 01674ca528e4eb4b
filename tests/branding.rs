//! Issue 13, a region's own pages: the gateway started the production way, from a
//! gateway.toml with `[pages] templates`, serves the operator's files over TLS — the
//! start page with the ESIA login on, the error and refusal pages of the calendar — and
//! keeps the shipped template for every name the directory leaves out. The page kit's
//! headers (CSP, no-store) stay on the operator's pages.

mod login_support;
mod support;

use std::path::Path;

use esia_gateway::server::Gateway;
use http::StatusCode;
use login_support::*;

fn write_pages(dir: &Path, files: &[(&str, &str)]) {
    let pages = dir.join("pages");
    std::fs::create_dir_all(&pages).unwrap();
    for (name, text) in files {
        std::fs::write(pages.join(name), text).unwrap();
    }
}

fn csp(resp: &reqwest::Response) -> &str {
    resp.headers()["content-security-policy"].to_str().unwrap()
}

const START: &str = r#"{% extends "base.html" %}
{% block content %}
<p class="region">Школа №1 города Ярославля</p>
<h1>{{ t.start_title }}</h1>
<form method="get" action="{{ prefix }}{{ action|safe }}">
<input type="hidden" name="return" value="{{ return_path }}">
<button class="button" type="submit">{{ t.esia_button }}</button>
</form>
{% endblock %}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_start_page_and_the_stylesheet_come_from_the_operators_directory() {
    let stand = Stand::start(Options::default()).await;
    let dir = stand.dir.path();
    write_pages(
        dir,
        &[
            ("start.html", START),
            ("style.css", "main{border-top:6px solid #b22}"),
        ],
    );
    let text = stand.gateway_toml(
        support::free_addr(),
        "/esia/",
        "[store]\nbackend = \"sqlite\"\npath = \"state/gw.db\"\n[pages]\ntemplates = \"pages\"\n",
    );
    let config = esia_gateway::config::load_str(&text, &dir.join("gateway.toml")).unwrap();
    let gw = Gateway::start(config).await.unwrap();
    let b = support::client(&stand.pki, &gw);
    let url = |p: &str| support::url(&gw, p);

    let resp = b
        .get(url("/esia/start?return=%2Fmarks%3F%3Cb%3E"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        csp(&resp).starts_with("default-src 'none'"),
        "{}",
        csp(&resp)
    );
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let html = resp.text().await.unwrap();
    for words in [
        "Школа №1 города Ярославля",
        "<style>main{border-top:6px solid #b22}</style>",
        "Войти через Госуслуги",
        "action=\"/esia/login\"",
        // The operator's template escapes what the browser sent, like the shipped one.
        "value=\"&#x2f;marks?&lt;b&gt;\"",
    ] {
        assert!(html.contains(words), "{words}: {html}");
    }
    // Not in the directory: the shipped message page, in the operator's style.
    let resp = b.get(url("/esia/nowhere")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let html = resp.text().await.unwrap();
    assert!(html.contains("Вернуться в электронный дневник"), "{html}");
    assert!(html.contains("border-top:6px solid #b22"), "{html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_error_and_refusal_pages_come_from_the_operators_directory() {
    let pki = support::Pki::new();
    let upstream = support::TestUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    write_pages(
        dir.path(),
        &[
            (
                "error.html",
                "<!doctype html><title>{{ status }}</title><p>Гимназия №2: {{ status }} {{ title }}</p>",
            ),
            (
                "denied.html",
                "<!doctype html><title>{{ title }}</title><main id=\"esia-gw-denied\">\
                 <p>Гимназия №2: {{ title }} ({{ reason }})</p>\
                 <a href=\"{{ action_href }}\">{{ action_label }}</a></main>",
            ),
        ],
    );
    let text = format!(
        r#"
[listen]
https = "127.0.0.1:0"
[tls]
cert = "{cert}"
key = "{key}"
[upstream]
url = "{upstream}"
[calendar]
time_zone = "Europe/Moscow"
esia_only_from = 2019-01-01
legacy_login = "restricted"
[[route_group]]
name = "grades"
match = [{{ prefix = "/marks" }}]
before_transition = "any"
transition = "any"
after_cutover = "nobody"
[pages]
templates = "pages"
"#,
        cert = pki.files.cert.display(),
        key = pki.files.key.display(),
        upstream = upstream.url(),
    );
    let config = esia_gateway::config::load_str(&text, &dir.path().join("gateway.toml")).unwrap();
    let gw = support::start(config).await;
    let b = support::client(&pki, &gw);

    // A target that cannot be read unambiguously: 400, on the operator's error page.
    let resp = b.get(support::url(&gw, "/a%2fb")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(csp(&resp).starts_with("default-src 'none'"));
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("<p>Гимназия №2: 400 Неверный запрос</p>"),
        "{html}"
    );

    // A route the calendar closes: 403, on the operator's refusal page.
    let resp = b.get(support::url(&gw, "/marks")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let reason = resp.headers()["x-esia-gateway-reason"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp(&resp).starts_with("default-src 'none'"));
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("<p>Гимназия №2: ") && html.contains(&format!("({reason})</p>")),
        "{html}"
    );
    assert!(
        html.contains("<a href=\"/esia/start?return=/marks\">Войти через Госуслуги</a>"),
        "{html}"
    );
}
