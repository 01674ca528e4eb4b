//! Issue 15's browser check: the gateway's pages walked in headless Chromium (Debian's
//! `chromium` + `chromium-driver`, driven over WebDriver) as a parent would, at desktop
//! size and at 375×812, through the real ESIA mock and demo diary. Every gateway page
//! passed on the way is checked: no dead end (a link or button out), no console error
//! (a CSP violation is one — this is how the blocked «Войти через Госуслуги» form was
//! found), no machine code in the visible text outside the «Код для службы поддержки»
//! line. Screenshots go to `target/tmp/walk/` as artefacts.

mod link_support;
mod store_support;
mod support;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use link_support::*;
use serde_json::{Value, json};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// chromedriver on a free port, killed with the test.
struct Driver {
    _child: tokio::process::Child,
    url: String,
}

impl Driver {
    async fn start() -> Self {
        assert!(
            std::path::Path::new(CHROMEDRIVER).exists(),
            "{CHROMEDRIVER} is missing: install Debian's chromium-driver (.ci/run does)"
        );
        let port = support::free_addr().port();
        let child = tokio::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if reqwest::get(format!("{url}/status")).await.is_ok() {
                return Self { _child: child, url };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not start on {port}");
    }

    async fn browser(&self, width: u32, height: u32) -> Client {
        let caps = json!({
            "acceptInsecureCerts": true,
            "goog:loggingPrefs": { "browser": "ALL" },
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--lang=ru-RU", "--host-resolver-rules=MAP localhost 127.0.0.1",
                    format!("--window-size={width},{height}"),
                ],
            },
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        // chromedriver listens on plain HTTP on loopback: no TLS stack for it.
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let c = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&self.url)
            .await
            .unwrap();
        c.set_window_size(width, height).await.unwrap();
        c
    }
}

/// chromedriver's console log (not in W3C WebDriver): everything since the last call.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.into()))
    }
}

/// One walker: a browser at one size, checking and photographing every page.
struct Walk {
    c: Client,
    size: &'static str,
    shots: PathBuf,
    seen: Vec<String>,
    mock: String,
}

impl Walk {
    /// The visible text of the page.
    async fn text(&self) -> String {
        let body = self.c.find(Locator::Css("body")).await.unwrap();
        body.text().await.unwrap()
    }

    async fn url(&self) -> url::Url {
        self.c.current_url().await.unwrap()
    }

    async fn wait_until(&self, what: &str, ok: impl Fn(&url::Url) -> bool) {
        for _ in 0..100 {
            if ok(&self.url().await) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "{}: never reached {what}; at {}",
            self.size,
            self.url().await
        );
    }

    /// Waits for a page whose text holds `words` (a POST answered at the same URL as
    /// the form cannot be waited for by its address).
    async fn wait_for_text(&self, words: &str) {
        let mut text = String::new();
        for _ in 0..100 {
            // The page may be replaced between finding <body> and reading it.
            if let Ok(body) = self.c.find(Locator::Css("body")).await {
                text = body.text().await.unwrap_or_default();
                if text.contains(words) {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{}: never showed {words:?}; showed {text}", self.size);
    }

    /// The checks on the page now shown, and its screenshot as `name`.
    async fn check(&mut self, name: &str) {
        let url = self.url().await;
        let shot = self.shots.join(format!("{}-{name}.png", self.size));
        std::fs::write(&shot, self.c.screenshot().await.unwrap()).unwrap();
        let log = self.c.issue_cmd(BrowserLog).await.unwrap();
        let errors: Vec<&Value> = log
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["level"] == "SEVERE")
            // The ESIA mock's own page (passed through on the way) is not ours to judge.
            .filter(|e| !e["message"].as_str().unwrap_or("").starts_with(&self.mock))
            // The demo diary has no favicon; the browser asks the origin once for it.
            .filter(|e| {
                !e["message"]
                    .as_str()
                    .unwrap_or("")
                    .contains("/favicon.ico ")
            })
            // A refusal page's own 4xx status is logged too; it is the page, not a fault.
            .filter(|e| {
                let page = url.as_str().split('?').next().unwrap_or_default();
                let message = e["message"].as_str().unwrap_or("");
                let document = message
                    .split(" - Failed to load resource")
                    .next()
                    .is_some_and(|u| u.split('?').next() == Some(page));
                !(e["source"] == "network" && document)
            })
            .collect();
        assert!(
            errors.is_empty(),
            "{} {name} ({url}): console errors {errors:#?}",
            self.size
        );
        let exits = self
            .c
            .find_all(Locator::Css("a[href], button, input[type=submit]"))
            .await
            .unwrap();
        assert!(
            !exits.is_empty(),
            "{} {name} ({url}): a dead end",
            self.size
        );
        let text = self.text().await;
        for line in text.lines() {
            if line.starts_with("Код для службы поддержки") {
                continue;
            }
            let code = line.split_whitespace().find(|w| {
                let w = w.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '-');
                (w.contains('-')
                    && w.chars().all(|c| c.is_ascii_lowercase() || c == '-')
                    && w.len() > 6)
                    || w.starts_with("ESIA-")
                    || w.contains("error_description")
            });
            assert!(
                code.is_none(),
                "{} {name} ({url}): machine code {code:?} in {line:?}",
                self.size
            );
        }
        // Touch targets: the page's buttons and text fields are at least 44 px high.
        let targets = "button, a.button, input:not([type=hidden]):not([type=checkbox])";
        for b in self.c.find_all(Locator::Css(targets)).await.unwrap() {
            let h = self
                .c
                .execute(
                    "return arguments[0].getBoundingClientRect().height",
                    vec![serde_json::to_value(&b).unwrap()],
                )
                .await
                .unwrap();
            let h = h.as_f64().unwrap_or(0.0);
            assert!(
                h == 0.0 || h >= 43.5,
                "{} {name}: a {h} px touch target",
                self.size
            );
        }
        self.seen.push(format!("{} {name}", self.size));
    }

    /// The link form filled in (whatever it held before) and sent.
    async fn submit_link_form(&self, login: &str, password: &str) {
        for (id, value) in [("login", login), ("password", password)] {
            let field = self.c.find(Locator::Id(id)).await.unwrap();
            field.clear().await.unwrap();
            field.send_keys(value).await.unwrap();
        }
        self.click("form button.button").await;
    }

    async fn click(&self, css: &str) {
        self.c
            .find(Locator::Css(css))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_walks_every_page_in_chromium_at_desktop_and_phone_size() {
    let stand = Stand::start(Options::default()).await;
    let driver = Driver::start().await;
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("walk");
    std::fs::create_dir_all(&shots).unwrap();
    let mock = stand.mock.base_url().to_owned();

    for (size, width, height, persona, login) in [
        ("desktop", 1280, 900, "confirmed", "parent"),
        ("phone", 375, 812, "confirmed-2", "student"),
    ] {
        let c = driver.browser(width, height).await;
        let mut w = Walk {
            c,
            size,
            shots: shots.clone(),
            seen: Vec::new(),
            mock: mock.clone(),
        };
        // The start page, and its «Войти через Госуслуги» straight to ESIA.
        w.c.goto(&stand.url("/esia/start?return=/marks"))
            .await
            .unwrap();
        w.check("start").await;
        w.click("form button.button").await;
        w.wait_until("the ESIA login page", |u| u.as_str().starts_with(&mock))
            .await;
        w.click(&format!("button[value=\"{persona}\"]")).await;
        w.wait_until("the link page", |u| u.path() == "/esia/link")
            .await;
        w.check("link").await;

        // A wrong password first: the form again, with the reason.
        w.submit_link_form(login, "wrong").await;
        w.wait_for_text("Неверный логин или пароль").await;
        w.check("link-wrong-password").await;

        // The right one: linked, on the grades.
        w.submit_link_form(login, "demo").await;
        w.wait_until("the grades", |u| u.path() == "/marks").await;

        // The account chooser with one account, and (desktop) a second child's account
        // linked from it, then chosen between (issue 15 point 8).
        w.c.goto(&stand.url("/esia/accounts?return=/marks"))
            .await
            .unwrap();
        w.check("accounts-one").await;
        if size == "desktop" {
            w.click("#add-account").await;
            w.wait_until("the form for one more account", |u| {
                u.path() == "/esia/link"
            })
            .await;
            w.check("link-add").await;
            w.submit_link_form("parent2", "demo").await;
            w.wait_until("the second child's grades", |u| u.path() == "/marks")
                .await;
            w.c.goto(&stand.url("/esia/accounts?return=/marks"))
                .await
                .unwrap();
            w.check("accounts-two").await;
            // The open account's button is the secondary one: press the other.
            w.click("form button[id^=account-]:not(.secondary)").await;
            w.wait_until("the first child's grades", |u| u.path() == "/marks")
                .await;
            let text = w.text().await;
            assert!(text.contains(PARENTS_CHILD), "{text}");
        }

        // A gateway page that does not exist, then the logout with its final page.
        w.c.goto(&stand.url("/esia/no-such-page")).await.unwrap();
        w.check("not-found").await;
        w.c.goto(&stand.url("/esia/start")).await.unwrap();
        w.check("start-signed-in").await;
        w.click("a[href=\"/esia/logout\"]").await;
        w.wait_until("the start page after logout", |u| u.path() == "/esia/start")
            .await;
        let text = w.text().await;
        assert!(
            text.contains("Вы вышли из электронного дневника и из Госуслуг"),
            "{size}: {text}"
        );
        w.check("signed-out").await;

        // A level refusal: a simplified account for a parent.
        if size == "desktop" {
            w.click("form button.button").await;
            w.wait_until("the ESIA login page", |u| u.as_str().starts_with(&mock))
                .await;
            w.click("button[value=\"simplified\"]").await;
            w.wait_until("a gateway page", |u| !u.as_str().starts_with(&mock))
                .await;
            w.check("after-simplified-login").await;
            // A teacher's account with a simplified ESIA account: the level page, with
            // how to confirm the account and a way out.
            w.submit_link_form("teacher", "demo").await;
            w.wait_for_text("МФЦ").await;
            w.check("level").await;
        }
        eprintln!("{size}: checked {:?}", w.seen);
        w.c.close().await.unwrap();
    }
}
