//! A small legacy e-diary, «Региональный Интернет Дневник 4.1», standing in for the
//! real regional diary behind the gateway: its own login form and `RIDSESSID` cookie
//! session (with an idle timeout, so the gateway's transparent re-login can be tested),
//! a seeded school with roles, plain server-rendered Russian HTML, and no knowledge of
//! ESIA.
//!
//! It is lenient like old PHP/IIS diaries, on purpose: every quirk is listed in
//! [`quirks`], and [`resolve`] is the single function that decides which page a request
//! gets — the server routes through nothing else, and the gateway's security tests ask
//! it the same question.
//!
//! Pages: `/` (dashboard), `/marks` (the grade page, `<h1 id="page-marks">`), `/stats`,
//! `/homework`, `/schedule` (served in **windows-1251**), `/messages` (POST sends),
//! `/teachers`, `/files`, `/children` (a parent's children), `/register`, `/nocookies`,
//! `/index.php?module=…`; sign-in on `POST /login`, `/login.php` or
//! `/index.php?module=login`, sign-out on any method to `/logout`, `/logout.php` or
//! `/index.php?module=logout`. Identity, for the gateway's probes: `GET /api/me` (JSON
//! `{"login","role","full_name","name"}`, plus `"birth_date"` for a student) and
//! `GET /api/children` (JSON `[{"name","birth_date"}]`, empty but for a parent), both
//! 401 JSON without a session; every signed-in HTML page names its user in
//! `#whoami` («Учащийся @ student») and `#fio`. HTML is gzip-compressed when the client
//! accepts it and [`DiaryConfig::gzip`] is on.
//!
//! Forms are read exactly as PHP 8 fills `$_POST` ([`parse_form`]: urlencoded and
//! multipart), query strings as `$_GET`, the session cookie as `$_COOKIE`.
//! [`DiaryConfig::strict_login`] makes the login behave like a real PHP school system
//! (pre-login session and CSRF token required, no session id rotation): see `login.rs`.
//!
//! Files: `quirks` + `php_query` + `php_form` + `php_multipart` (leniencies and PHP's
//! input model), `routing`, `session`, `school` (data), `layout` + `pages` (HTML),
//! `login` (sign-in and sign-out), `handlers` (every other route), `server` (HTTP),
//! `modules` (the second mode, [`DiaryMode::Modules`]).

mod handlers;
mod layout;
mod login;
pub mod modules;
mod pages;
pub mod php_form;
mod php_multipart;
#[cfg(test)]
mod php_props;
pub mod php_query;
pub mod quirks;
mod routing;
#[cfg(test)]
mod routing_props;
mod school;
mod server;
mod session;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::{SharedClock, SystemClock};

pub use login::{BAD_LOGIN, NO_COOKIES_PATH};
pub use php_form::parse_form;
pub use php_query::{PhpParams, PhpValue};
pub use routing::{Route, resolve, resolve_request};
pub use school::{DEMO_PASSWORD, Role};
pub use server::MAX_BODY;
pub use session::COOKIE_NAME;

/// Which diary the stand-in plays.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DiaryMode {
    /// «Региональный Интернет Дневник»: the pages above, `/api/me`, redirects to `/login`.
    #[default]
    Classic,
    /// A `Modules.php?modname=` PHP school system: see [`modules`].
    Modules,
}

/// How to run the diary.
#[derive(Debug, Clone)]
pub struct DiaryConfig {
    pub listen: SocketAddr,
    /// A session ends after this long without a request.
    pub session_idle: Duration,
    /// Compress HTML when the client accepts gzip.
    pub gzip: bool,
    /// Drives session expiry and message dates.
    pub clock: SharedClock,
    /// Behave like a real PHP school system at login: a GET of the form starts a
    /// pre-login session and shows its CSRF token; a POST without both goes to
    /// [`NO_COOKIES_PATH`]; a good login keeps the session id (no new `Set-Cookie`).
    pub strict_login: bool,
    /// Which diary to play (see [`DiaryMode`]).
    pub mode: DiaryMode,
}

impl DiaryConfig {
    /// Defaults: 20 minutes idle (like PHP's `session.gc_maxlifetime` of 1440 s, rounded),
    /// gzip on, the system clock, the normal (rotating, token-free) login.
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            session_idle: Duration::from_secs(20 * 60),
            gzip: true,
            clock: Arc::new(SystemClock),
            strict_login: false,
            mode: DiaryMode::Classic,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DiaryError {
    #[error("demo diary: cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A running diary; dropping it stops accepting too, `shutdown` also waits.
#[derive(Debug)]
pub struct RunningDiary {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    state: Arc<server::State>,
}

impl RunningDiary {
    /// The bound address (the real port when `listen` had port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The logins with a live signed-in diary session now (tests: did a logout reach
    /// the diary?).
    pub fn signed_in(&self) -> Vec<String> {
        self.state.sessions.signed_in()
    }

    /// The school gives `login` another role (as `/api/me` names it: `teacher`, …);
    /// false for an unknown login or role. Signed-in sessions see it at once.
    pub fn change_role(&self, login: &str, role: &str) -> bool {
        let all = [
            school::Role::Student,
            school::Role::Parent,
            school::Role::Teacher,
            school::Role::ClassTeacher,
            school::Role::HeadTeacher,
            school::Role::Director,
            school::Role::Admin,
        ];
        let (Some(role), Some(account)) = (
            all.into_iter().find(|r| r.as_str() == role),
            self.state.accounts.iter().find(|a| a.login == login),
        ) else {
            return false;
        };
        match self.state.role_changes.lock() {
            Ok(mut changes) => {
                changes.push((account.login, role));
                true
            }
            Err(_) => false,
        }
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets open requests finish (a few seconds at most), then returns.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningDiary {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Binds and starts serving in the background.
pub async fn start(config: DiaryConfig) -> Result<RunningDiary, DiaryError> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| DiaryError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| DiaryError::Bind {
        addr: config.listen,
        source,
    })?;
    let state = Arc::new(server::State::new(
        config.gzip,
        config.strict_login,
        config.clock,
        config.session_idle,
        config.mode,
    ));
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(server::serve(listener, state.clone(), stopped));
    Ok(RunningDiary {
        addr,
        stop,
        task: Some(task),
        state,
    })
}

/// The demo accounts as (login, role, full name); the password is [`DEMO_PASSWORD`].
pub fn demo_accounts() -> Vec<(&'static str, &'static str, &'static str)> {
    school::accounts()
        .into_iter()
        .map(|a| (a.login, a.role.as_str(), a.full_name))
        .collect()
}

/// `esia-gateway demo-diary --listen ADDR [--strict-login] [--modules]`: runs until Ctrl-C.
pub async fn run_cli(
    listen: SocketAddr,
    session_idle: Duration,
    strict_login: bool,
    mode: DiaryMode,
) -> anyhow::Result<()> {
    let config = DiaryConfig {
        session_idle,
        strict_login,
        mode,
        ..DiaryConfig::new(listen)
    };
    let diary = start(config).await?;
    println!("Демо-дневник: {}/", diary.url());
    if mode == DiaryMode::Modules {
        println!(
            "Режим Modules.php: вход POST /index.php (USERNAME, PASSWORD), оценки — Modules.php?modname=Grades/…"
        );
    }
    if strict_login {
        println!("Строгий вход: cookie и _token со страницы входа обязательны.");
    }
    println!("Учётные записи (пароль «{DEMO_PASSWORD}» для всех):");
    for (login, role, name) in demo_accounts() {
        println!("  {login:<13} {role:<13} {name}");
    }
    tokio::signal::ctrl_c().await?;
    diary.shutdown().await;
    Ok(())
}
