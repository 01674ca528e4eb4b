//! `esia-gateway diary-check --config gateway.toml --login L --password P`: an
//! operator's proof, in one run against the live diary, that `[diary]` and the route
//! groups fit it — with exactly the code the gateway uses (sign-in, probe, policy):
//!
//! 1. the login form is where `[diary] login_path` says and has the configured fields;
//! 2. a wrong password is recognised as a failure;
//! 3. the right one signs in, and the probe reads login, role and name;
//! 4. every route group's `samples` is served to that account, and what the policy
//!    does with it for a password session after the cutover is shown;
//! 5. the diary's logout ends the diary session (the probe no longer names the user);
//! 6. a dead session is recognised as expired on a page that needs one.
//!
//! One line per step (✓/✗), or `--format json`; exit 0 when every step passed, 1 when
//! one failed, 2 for a bad configuration. The password is only ever sent to the diary.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use bytes::Bytes;
use chrono::Utc;
use clap::Args;
use http::{Request, header};
use http_body_util::Full;
use serde::Serialize;

use super::{OpsError, load_config, run};
use crate::config::GatewayConfig;
use crate::diary::jar::Jar;
use crate::diary::probe::{self, Probed};
use crate::diary::signin::{self, DiaryHttp, DiaryRules, LoginOutcome};
use crate::link::http::UpstreamDiary;
use crate::policy::{Decision, Phase, SessionView};
use crate::secret::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct DiaryCheckArgs {
    /// The configuration file (the same one `run` uses).
    #[arg(long, short = 'c', default_value = "gateway.toml", value_name = "PATH")]
    pub config: PathBuf,
    /// A real diary login to check with (a test account is best).
    #[arg(long, value_name = "LOGIN")]
    pub login: String,
    /// Its password. Visible to other local users in the process list: prefer the
    /// environment variable ESIA_GW_DIARY_PASSWORD.
    #[arg(
        long,
        value_name = "PASSWORD",
        env = "ESIA_GW_DIARY_PASSWORD",
        hide_env_values = true
    )]
    pub password: String,
    /// text (one line per step) or json.
    #[arg(long, value_enum, default_value = "text")]
    pub format: CheckFormat,
}

/// One step's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub step: &'static str,
    pub ok: bool,
    pub detail: String,
}

impl Step {
    fn pass(step: &'static str, detail: impl Into<String>) -> Self {
        Self {
            step,
            ok: true,
            detail: detail.into(),
        }
    }

    fn fail(step: &'static str, detail: impl Into<String>) -> Self {
        Self {
            step,
            ok: false,
            detail: detail.into(),
        }
    }
}

/// `esia-gateway diary-check …`
pub fn main(a: DiaryCheckArgs) -> ExitCode {
    run(async move {
        let cfg = load_config(&a.config)?;
        let password = Secret::new(a.password.clone());
        let steps = check(&cfg, &a.login, &password)
            .await
            .map_err(|e| OpsError::runtime("diary client", &e))?;
        let failed = steps.iter().filter(|s| !s.ok).count();
        let mut out = std::io::stdout().lock();
        match a.format {
            CheckFormat::Text => {
                for s in &steps {
                    writeln!(
                        out,
                        "{} {:<14} {}",
                        if s.ok { "✓" } else { "✗" },
                        s.step,
                        s.detail
                    )?;
                }
            }
            CheckFormat::Json => writeln!(
                out,
                "{}",
                serde_json::json!({ "ok": failed == 0, "login": a.login, "steps": steps })
            )?,
        }
        out.flush()?;
        if failed > 0 {
            return Err(OpsError::Runtime(format!(
                "{failed} of {} steps failed",
                steps.len()
            )));
        }
        Ok(())
    })
}

/// Runs every step it can; a step that cannot run after an earlier failure says why.
pub async fn check(
    cfg: &GatewayConfig,
    login: &str,
    password: &Secret,
) -> Result<Vec<Step>, crate::tls::TlsError> {
    let upstream = crate::upstream::Upstream::new(cfg, Arc::new(crate::metrics::Metrics::new()))?;
    let http = UpstreamDiary::new(upstream);
    let host = http.host();
    let rules = &cfg.diary.rules;
    let now = Utc::now();
    let mut steps = Vec::new();

    steps.push(login_form(&http, rules, &host).await);

    let wrong = Secret::new(format!("{}-not-the-password", password.expose()));
    let mut scratch = Jar::default();
    steps.push(
        match signin::sign_in(&http, rules, &host, login, &wrong, &mut scratch, now).await {
            Ok(s) if s.outcome == LoginOutcome::WrongPassword => {
                Step::pass("wrong password", "recognised as «wrong login or password»")
            }
            Ok(s) => Step::fail(
                "wrong password",
                format!(
                    "not recognised ({:?}): check [diary] failure_text and the probe",
                    s.outcome
                ),
            ),
            Err(e) => Step::fail("wrong password", e.to_string()),
        },
    );

    let mut jar = Jar::default();
    let signed = signin::sign_in(&http, rules, &host, login, password, &mut jar, now).await;
    let user = match signed {
        Ok(s) if s.outcome == LoginOutcome::SignedIn => {
            let u = s.user.unwrap_or(probe::DiaryUser {
                login: login.to_owned(),
                role: None,
                name: None,
                birth_date: None,
            });
            steps.push(Step::pass(
                "sign in",
                format!(
                    "signed in; the probe reads login {:?}, role {}, name {}",
                    u.login,
                    u.role
                        .as_deref()
                        .unwrap_or("— (not read: check [diary.probe] role)"),
                    u.name
                        .as_deref()
                        .unwrap_or("— (not read: check [diary.probe] name)")
                ),
            ));
            Some(u)
        }
        Ok(s) => {
            steps.push(Step::fail(
                "sign in",
                format!(
                    "{:?}: check the login and password, [diary] login_field/password_field and [diary.probe]",
                    s.outcome
                ),
            ));
            None
        }
        Err(e) => {
            steps.push(Step::fail("sign in", e.to_string()));
            None
        }
    };
    let Some(user) = user else {
        steps.push(Step::fail("samples", "not checked: no diary session"));
        steps.push(Step::fail("logout", "not checked: no diary session"));
        steps.push(Step::fail("expiry", "not checked: no diary session"));
        return Ok(steps);
    };

    let mut protected_sample = None;
    match &cfg.cutover {
        None => steps.push(Step::pass(
            "samples",
            "no route groups configured (transparent proxy)",
        )),
        Some(cutover) => {
            let policy = &cutover.policy;
            let after = Phase::Cutover(policy.calendar.legacy_login);
            let legacy = SessionView::Legacy {
                role: user
                    .role
                    .as_deref()
                    .and_then(crate::identity::vocab::Role::parse),
            };
            let mut any = false;
            for g in &policy.groups {
                for sample in &g.samples {
                    any = true;
                    let served = get(&http, &host, sample, &jar).await;
                    let verdict = policy
                        .canonicalize("GET", sample)
                        .map(|c| crate::policy::decide(policy, &c, &legacy, after).decision)
                        .map(|d| match d {
                            Decision::Allow => "allowed".to_owned(),
                            Decision::NeedLogin => "sent to the ESIA login".to_owned(),
                            Decision::Deny(r) => format!("refused ({})", r.as_str()),
                        })
                        .unwrap_or_else(|r| format!("refused with 400 ({})", r.as_str()));
                    let step = "sample";
                    match served {
                        Ok((status, _, _)) if status.is_success() => {
                            if !g.public && protected_sample.is_none() {
                                protected_sample = Some(sample.clone());
                            }
                            steps.push(Step::pass(
                                step,
                                format!(
                                    "{sample} (group {}): served ({status}); a password session after the cutover: {verdict}",
                                    g.name
                                ),
                            ));
                        }
                        Ok((status, location, _)) => steps.push(Step::fail(
                            step,
                            format!(
                                "{sample} (group {}): the diary answered {status}{} to the signed-in account",
                                g.name,
                                location.map(|l| format!(" → {l}")).unwrap_or_default()
                            ),
                        )),
                        Err(e) => steps.push(Step::fail(step, format!("{sample}: {e}"))),
                    }
                }
            }
            if !any {
                steps.push(Step::fail(
                    "samples",
                    "no route group has samples = [...]: add the grade pages there",
                ));
            }
        }
    }

    // Logout: the diary's own, as the gateway sends it for a single logout (the logout
    // link on the probe page, else logout_path).
    let logout = crate::diary::logout::log_out(&http, rules, &host, &jar, Utc::now()).await;
    let after_logout = probe::probe(&http, rules, &host, &jar, Utc::now()).await;
    steps.push(match (logout, after_logout) {
        (Err(e), _) => Step::fail("logout", format!("{}: {e}", rules.logout_path)),
        (Ok(target), Ok(Probed::SignedOut)) => {
            Step::pass("logout", format!("{target} ended the diary session"))
        }
        (Ok(target), Ok(Probed::User(u))) => Step::fail(
            "logout",
            format!(
                "after {target} the probe still names {:?}: check [diary] logout_endpoints \
                 (a logout link on the probe page) or logout_path",
                u.login
            ),
        ),
        (_, Err(e)) => Step::fail("logout", e.to_string()),
    });

    // Expiry: the dead session on a page that needs one.
    let page = protected_sample.unwrap_or_else(|| rules.probe.path.clone());
    steps.push(match get(&http, &host, &page, &jar).await {
        Ok((status, location, body)) => {
            if rules.session_expired(status, location.as_deref(), &page)
                || rules.expired_page(status, &body)
            {
                Step::pass("expiry", format!("{page}: a dead session is recognised ({status})"))
            } else {
                Step::fail(
                    "expiry",
                    format!(
                        "{page}: the diary answered {status}{} to a dead session, which [diary] expired does not recognise (redirect_to, body_contains, status)",
                        location.map(|l| format!(" → {l}")).unwrap_or_default()
                    ),
                )
            }
        }
        Err(e) => Step::fail("expiry", e.to_string()),
    });
    Ok(steps)
}

/// Step 1: the login form page and its fields.
async fn login_form(http: &dyn DiaryHttp, rules: &DiaryRules, host: &str) -> Step {
    match get_body(http, host, &rules.login_path).await {
        Ok((status, body)) if status.is_success() => {
            let html = String::from_utf8_lossy(&body);
            let missing: Vec<&str> = [&rules.login_field, &rules.password_field]
                .into_iter()
                .filter(|f| !has_field(&html, f))
                .map(String::as_str)
                .collect();
            if missing.is_empty() {
                Step::pass(
                    "login form",
                    format!(
                        "{} has the fields {:?} and {:?}",
                        rules.login_path, rules.login_field, rules.password_field
                    ),
                )
            } else {
                Step::fail(
                    "login form",
                    format!(
                        "{} has no field named {}: check [diary] login_field / password_field",
                        rules.login_path,
                        missing.join(", ")
                    ),
                )
            }
        }
        Ok((status, _)) => Step::fail(
            "login form",
            format!(
                "{} answered {status}: check [diary] login_path",
                rules.login_path
            ),
        ),
        Err(e) => Step::fail("login form", format!("{}: {e}", rules.login_path)),
    }
}

/// Whether the page has an input named `name` (quoted either way or bare).
fn has_field(html: &str, name: &str) -> bool {
    ["\"", "'", ""].iter().any(|q| {
        let needle = format!("name={q}{name}{q}");
        html.match_indices(&needle).any(|(i, _)| {
            let after = html[i + needle.len()..].chars().next();
            !q.is_empty() || after.is_none_or(|c| c.is_whitespace() || c == '>' || c == '/')
        })
    })
}

async fn get_body(
    http: &dyn DiaryHttp,
    host: &str,
    target: &str,
) -> Result<(http::StatusCode, Bytes), signin::DiaryError> {
    let req = Request::get(target)
        .header(header::HOST, host)
        .header(header::ACCEPT, "text/html")
        .body(Full::new(Bytes::new()))
        .map_err(|e| signin::DiaryError::BadAnswer(e.to_string()))?;
    let resp = http.send(req).await?;
    Ok((resp.status(), resp.into_body()))
}

/// GET `target` with the jar's cookies (no redirect followed): status and Location.
async fn get(
    http: &dyn DiaryHttp,
    host: &str,
    target: &str,
    jar: &Jar,
) -> Result<(http::StatusCode, Option<String>, Bytes), signin::DiaryError> {
    let mut b = Request::get(target)
        .header(header::HOST, host)
        .header(header::ACCEPT, "text/html");
    let path = target.split('?').next().unwrap_or("/");
    if let Some(c) = jar.header_for(path, Utc::now()) {
        b = b.header(header::COOKIE, c);
    }
    let req = b
        .body(Full::new(Bytes::new()))
        .map_err(|e| signin::DiaryError::BadAnswer(e.to_string()))?;
    let resp = http.send(req).await?;
    let location = resp
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Ok((resp.status(), location, resp.into_body()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_found_however_the_html_quotes_them() {
        assert!(has_field(r#"<input name="login">"#, "login"));
        assert!(has_field("<input name='login'>", "login"));
        assert!(has_field("<input name=login>", "login"));
        assert!(has_field("<input name=login type=text>", "login"));
        assert!(!has_field(r#"<input name="login2">"#, "login"));
        assert!(!has_field("<input name=login2>", "login"));
        assert!(!has_field("<p>login</p>", "login"));
    }
}
