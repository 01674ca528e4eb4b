//! «Войти через Госуслуги» end to end: the gateway over real TLS, the ESIA mock over its
//! own TLS, the real ESIA client and session service, and a browser that follows every
//! redirect itself and checks each Set-Cookie.

mod login_support;
mod support;

use std::time::Duration;

use chrono::TimeDelta;
use esia_gateway::login::return_path::is_safe_return_path;
use esia_gateway::session::{SESSION_COOKIE, SessionPolicy};
use esia_gateway::standins::esia_mock::{Delay, Faults, Status, Switch, Times};
use http::StatusCode;
use login_support::*;
use reqwest::header::COOKIE;

fn mt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_persona_logs_in_with_its_level_and_deleted_is_refused() {
    let stand = Stand::start(Options::default()).await;
    let gw = stand.gw();
    for (persona, level) in [
        ("confirmed", "confirmed"),
        ("standard", "standard"),
        ("simplified", "simplified"),
        ("child", "child"),
    ] {
        let b = stand.browser();
        let flow = begin(&b, gw, "?return=%2Fmarks").await;
        // The per-flow cookie: __Host-, Secure, HttpOnly, SameSite=Lax, short-lived.
        assert!(
            flow.flow_cookie
                .contains("; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=")
        );
        assert!(flow.authorize_url.starts_with(stand.mock().base_url()));
        let callback = at_esia(&b, stand.mock(), &flow, persona).await;
        assert!(callback.starts_with(&gw.callback()), "{callback}");
        let resp = b.get(&callback).send().await.unwrap();
        assert_eq!(location(&resp), "/marks", "{persona}");
        let cookies = set_cookies(&resp);
        let session_line = cookies
            .iter()
            .find(|c| c.starts_with(&format!("{SESSION_COOKIE}=v1.")))
            .expect("session cookie");
        assert!(
            session_line.contains("; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age="),
            "{session_line}"
        );
        assert!(
            cookies
                .iter()
                .any(|c| c.starts_with("__Host-gw_flow_") && c.ends_with("Max-Age=0")),
            "flow cookie cleared"
        );
        let cookie = session_cookie(&resp).unwrap();
        let record = gw.session(&cookie).await.expect("a live session");
        assert_eq!(record.account_level.as_deref(), Some(level), "{persona}");
        assert_eq!(record.auth_method.as_str(), "esia");
        assert!(record.esia_oid.is_some());
        assert!(record.diary_login.is_none() && record.diary_role.is_none());

        // The diary gets the request, without the gateway's cookies.
        let resp = b.get(gw.url("/marks")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let seen = stand.upstream.last();
        let sent = seen
            .headers
            .get_all(COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect::<Vec<_>>()
            .join("; ");
        assert!(!sent.contains("__Host-"), "gateway cookies leaked: {sent}");
    }

    let b = stand.browser();
    let resp = login(&b, &stand, gw, "", "deleted").await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(session_cookie(&resp).is_none());
    let html = resp.text().await.unwrap();
    assert!(html.contains("удалена"), "{html}");
}

/// The production signer: client_secret signed with GOST R 34.10-2012 by `openssl`
/// (GOST engine), verified by the mock the same way ESIA would; demo signatures refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_login_with_the_gost_command_signer() {
    let stand = Stand::start(Options {
        gost: true,
        accept_demo_signatures: false,
        ..Options::default()
    })
    .await;
    let b = stand.browser();
    let resp = login(&b, &stand, stand.gw(), "?return=%2Fmarks", "confirmed").await;
    assert_eq!(location(&resp), "/marks");
    let cookie = session_cookie(&resp).unwrap();
    let record = stand.gw().session(&cookie).await.unwrap();
    assert_eq!(record.account_level.as_deref(), Some("confirmed"));
    let te = stand.mock().state().last_te.unwrap();
    assert_eq!(te["client_certificate_hash"].len(), 64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tabs_log_in_at_once() {
    let stand = Stand::start(Options::default()).await;
    let gw = stand.gw();
    let b = stand.browser();
    let tab1 = begin(&b, gw, "?return=%2Fmarks").await;
    let tab2 = begin(&b, gw, "?return=%2Fschedule").await;
    assert_ne!(
        tab1.flow_cookie.split('=').next(),
        tab2.flow_cookie.split('=').next()
    );
    let cb1 = at_esia(&b, stand.mock(), &tab1, "confirmed").await;
    let cb2 = at_esia(&b, stand.mock(), &tab2, "confirmed").await;
    let r2 = b.get(cb2).send().await.unwrap();
    assert_eq!(location(&r2), "/schedule");
    let r1 = b.get(cb1).send().await.unwrap();
    assert_eq!(location(&r1), "/marks");
    assert!(signed_in(&b, gw).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_forged_and_foreign_callbacks_are_refused() {
    let stand = Stand::start(Options::default()).await;
    let gw = stand.gw();
    let b = stand.browser();
    let flow = begin(&b, gw, "").await;
    let callback = at_esia(&b, stand.mock(), &flow, "confirmed").await;

    // Another browser holding the leaked callback URL has no flow cookie.
    let thief = stand.browser();
    let resp = thief.get(&callback).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(session_cookie(&resp).is_none());

    // Forged state: same browser, real cookie, another state.
    let url = url::Url::parse(&callback).unwrap();
    let code = url
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let forged = format!(
        "{}?code={code}&state={}",
        gw.callback(),
        uuid::Uuid::new_v4()
    );
    let resp = b.get(forged).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(session_cookie(&resp).is_none());

    // The real one works once…
    let resp = b.get(&callback).send().await.unwrap();
    assert!(session_cookie(&resp).is_some());
    // …and a replay is refused.
    let resp = b.get(&callback).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(session_cookie(&resp).is_none());
    let html = resp.text().await.unwrap();
    assert!(html.contains("Начните вход заново"), "{html}");

    // Garbage states.
    for q in [
        "?code=x",
        "?code=x&state=nope",
        "?state=&code=",
        "?code=x&state=%00",
    ] {
        let resp = b
            .get(gw.url(&format!("/esia/callback{q}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{q}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn esia_error_answers_become_the_right_pages() {
    let stand = Stand::start(Options::default()).await;
    let gw = stand.gw();
    // Driven through the mock: the user presses «Отказаться».
    let b = stand.browser();
    let resp = login(&b, &stand, gw, "", "decline").await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(session_cookie(&resp).is_none());
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("ESIA-007004") && html.contains("отказались"),
        "{html}"
    );

    // Every code ESIA sends back on the redirect, as ESIA spells it.
    let cases = [
        (
            "invalid_client",
            "ESIA-007002",
            StatusCode::BAD_GATEWAY,
            "ошибки настройки",
        ),
        (
            "access_denied",
            "ESIA-007004",
            StatusCode::FORBIDDEN,
            "отказались",
        ),
        (
            "invalid_client",
            "ESIA-007005",
            StatusCode::BAD_GATEWAY,
            "ошибки настройки",
        ),
        (
            "invalid_grant",
            "ESIA-007011",
            StatusCode::FORBIDDEN,
            "Время на вход истекло",
        ),
        (
            "invalid_request",
            "ESIA-007014",
            StatusCode::BAD_GATEWAY,
            "ошибки настройки",
        ),
        (
            "invalid_request",
            "ESIA-007015",
            StatusCode::BAD_GATEWAY,
            "расхождения времени",
        ),
        (
            "invalid_request",
            "ESIA-007023",
            StatusCode::BAD_GATEWAY,
            "ошибки настройки",
        ),
        (
            "invalid_client",
            "ESIA-007053",
            StatusCode::BAD_GATEWAY,
            "ошибки настройки",
        ),
        (
            "access_denied",
            "ESIA-007055",
            StatusCode::FORBIDDEN,
            "подтвержденная учетная запись",
        ),
        (
            "server_error",
            "ESIA-007099",
            StatusCode::FORBIDDEN,
            "Попробуйте ещё раз позже",
        ),
    ];
    for (error, code, status, words) in cases {
        let b = stand.browser();
        let flow = begin(&b, gw, "").await;
        let state = url::Url::parse(&flow.authorize_url)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "state")
            .unwrap()
            .1
            .into_owned();
        let mut cb = url::Url::parse(&gw.callback()).unwrap();
        cb.query_pairs_mut()
            .append_pair("error", error)
            .append_pair("error_description", &format!("{code}: описание"))
            .append_pair("state", &state);
        let resp = b.get(cb).send().await.unwrap();
        assert_eq!(resp.status(), status, "{code}");
        assert!(session_cookie(&resp).is_none());
        let html = resp.text().await.unwrap();
        assert!(
            html.contains(code) && html.contains(words),
            "{code}: {html}"
        );
        assert!(!signed_in(&b, gw).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unconfirmed_accounts_refused_by_esia_show_the_steps() {
    let stand = Stand::start(Options {
        require_confirmed: true,
        ..Options::default()
    })
    .await;
    let b = stand.browser();
    let resp = login(&b, &stand, stand.gw(), "", "simplified").await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("ESIA-007055") && html.contains("подтвержденную учетную запись"),
        "{html}"
    );
    let resp = login(&stand.browser(), &stand, stand.gw(), "", "confirmed").await;
    assert!(session_cookie(&resp).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signature_esia_rejects_is_a_configuration_page() {
    let stand = Stand::start(Options {
        accept_demo_signatures: false,
        ..Options::default()
    })
    .await;
    let b = stand.browser();
    let flow = begin(&b, stand.gw(), "").await;
    let resp = b.get(&flow.authorize_url).send().await.unwrap();
    // The mock sends the refusal back to the callback, the ESIA way.
    let callback = location(&resp);
    let resp = b.get(callback).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("ESIA-007053") && html.contains("администратору"),
        "{html}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_failing_verification_are_refused() {
    let stand = Stand::start(Options::default()).await;
    let on = || {
        Some(Switch {
            times: Times::Always,
        })
    };
    let faults = [
        (
            "bad signature",
            Faults {
                bad_token_signature: on(),
                ..Faults::default()
            },
        ),
        (
            "wrong iss",
            Faults {
                wrong_iss: on(),
                ..Faults::default()
            },
        ),
        (
            "wrong aud",
            Faults {
                wrong_aud: on(),
                ..Faults::default()
            },
        ),
        (
            "expired",
            Faults {
                expired_tokens: on(),
                ..Faults::default()
            },
        ),
        (
            "alg none",
            Faults {
                alg_none: on(),
                ..Faults::default()
            },
        ),
        (
            "wrong state echo",
            Faults {
                wrong_state: on(),
                ..Faults::default()
            },
        ),
        (
            "malformed json",
            Faults {
                te_malformed_json: on(),
                ..Faults::default()
            },
        ),
    ];
    for (name, fault) in faults {
        stand.mock().set_faults(fault);
        let b = stand.browser();
        let resp = login(&b, &stand, stand.gw(), "", "confirmed").await;
        assert_eq!(resp.status(), StatusCode::BAD_GATEWAY, "{name}");
        assert!(session_cookie(&resp).is_none(), "{name}");
        assert!(!signed_in(&b, stand.gw()).await, "{name}");
    }
    stand.mock().set_faults(Faults::default());
    let resp = login(&stand.browser(), &stand, stand.gw(), "", "confirmed").await;
    assert!(session_cookie(&resp).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn esia_slow_or_down_gives_504_or_502_and_sessions_keep_working() {
    let mut stand = Stand::start(Options::default()).await;
    let signed = stand.browser();
    let resp = login(&signed, &stand, stand.gw(), "", "confirmed").await;
    assert!(session_cookie(&resp).is_some());

    // Slow token endpoint: longer than the client's 1 s request timeout.
    stand.mock().set_faults(Faults {
        te_delay: Some(Delay {
            ms: 2500,
            times: Times::Next(1),
        }),
        ..Faults::default()
    });
    let b = stand.browser();
    let resp = login(&b, &stand, stand.gw(), "", "confirmed").await;
    assert_eq!(resp.status(), StatusCode::GATEWAY_TIMEOUT);
    assert!(resp.text().await.unwrap().contains("не ответили вовремя"));

    // ESIA answering 503.
    stand.mock().set_faults(Faults {
        te_status: Some(Status {
            status: 503,
            times: Times::Next(1),
        }),
        ..Faults::default()
    });
    let resp = login(&stand.browser(), &stand, stand.gw(), "", "confirmed").await;
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);

    // ESIA gone after the browser came back with a code.
    let b = stand.browser();
    let flow = begin(&b, stand.gw(), "").await;
    let callback = at_esia(&b, stand.mock(), &flow, "confirmed").await;
    stand.mock.take().unwrap().shutdown().await;
    let resp = b.get(callback).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
    assert!(resp.text().await.unwrap().contains("Госуслуги"));

    // The session made before still works, through the diary and the login pages.
    let resp = signed.get(stand.gw().url("/marks")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(signed_in(&signed, stand.gw()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_id_is_rotated_at_every_login() {
    let stand = Stand::start(Options::default()).await;
    let gw = stand.gw();
    let b = stand.browser();
    let first = session_cookie(&login(&b, &stand, gw, "", "confirmed").await).unwrap();
    // The mock remembers this browser (SSO), so the second round trip is the same person.
    let second = session_cookie(&login(&b, &stand, gw, "", "confirmed").await).unwrap();
    assert_ne!(first, second);
    assert!(gw.session(&first).await.is_none(), "the old id is dead");
    let record = gw.session(&second).await.unwrap();
    assert_eq!(record.esia_oid, Some(1000299681));

    // A cookie planted before login (fixation) is worthless afterwards too.
    let planted = stand.browser();
    let victim_id = session_cookie(&login(&planted, &stand, gw, "", "confirmed").await).unwrap();
    let again = session_cookie(&login(&planted, &stand, gw, "", "confirmed").await).unwrap();
    assert_ne!(victim_id, again);
    assert!(gw.session(&victim_id).await.is_none());
}

#[test]
fn idle_and_absolute_timeouts_follow_the_injected_clock() {
    mt().block_on(async {
        let clock = manual_clock();
        let policy = SessionPolicy {
            idle: Duration::from_secs(30 * 60),
            absolute: Duration::from_secs(2 * 3600),
            public_computer_idle: Duration::from_secs(5 * 60),
            ..SessionPolicy::default()
        };
        let stand = Stand::start(Options {
            clock: clock.clone(),
            policy,
            ..Options::default()
        })
        .await;
        let gw = stand.gw();

        // Idle: 29 minutes is fine, then 31 minutes of silence ends it.
        let b = stand.browser();
        login(&b, &stand, gw, "", "confirmed").await;
        clock.advance(TimeDelta::minutes(29));
        assert!(signed_in(&b, gw).await);
        clock.advance(TimeDelta::minutes(31));
        assert!(!signed_in(&b, gw).await, "idle timeout");

        // Absolute: active every 20 minutes, still over after 2 hours.
        let b = stand.browser();
        login(&b, &stand, gw, "", "confirmed").await;
        for _ in 0..5 {
            clock.advance(TimeDelta::minutes(20));
            assert!(signed_in(&b, gw).await);
        }
        clock.advance(TimeDelta::minutes(21));
        assert!(!signed_in(&b, gw).await, "absolute lifetime");

        // «Чужой компьютер»: browser-session cookie and the short idle timeout.
        let b = stand.browser();
        let resp = login(&b, &stand, gw, "?public=1", "confirmed").await;
        let line = set_cookies(&resp)
            .into_iter()
            .find(|c| c.starts_with(&format!("{SESSION_COOKIE}=v1.")))
            .unwrap();
        assert!(
            !line.contains("Max-Age") && !line.contains("Expires"),
            "{line}"
        );
        assert!(line.contains("Secure; HttpOnly; SameSite=Lax"));
        clock.advance(TimeDelta::minutes(4));
        assert!(signed_in(&b, gw).await);
        clock.advance(TimeDelta::minutes(6));
        assert!(!signed_in(&b, gw).await, "public computer idle timeout");
    });
}

/// Open-redirect spellings, `{0xNN}` decoded.
fn corpus() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/open_redirects.txt"
    ))
    .unwrap();
    text.lines()
        .filter(|l| !l.is_empty() && *l != "#" && !l.starts_with("# "))
        .map(|line| {
            let mut out = String::new();
            let mut rest = line;
            while let Some(i) = rest.find("{0x") {
                out.push_str(&rest[..i]);
                let tail = &rest[i + 3..];
                let end = tail.find('}').unwrap();
                out.push(char::from_u32(u32::from_str_radix(&tail[..end], 16).unwrap()).unwrap());
                rest = &tail[end + 1..];
            }
            out.push_str(rest);
            (line.to_owned(), out)
        })
        .collect()
}

const GOOD_PATHS: &[&str] = &[
    "/",
    "/marks",
    "/index.php?module=marks",
    "/index.php?module=marks&period=2&pupil=15",
    "/messages#last",
    "/files/%D0%BE%D1%82%D1%87%D1%91%D1%82.pdf",
    "/schedule?week=2026-11-23",
    "/homework/",
    "/a-b_c.d~e/f",
    "/search?q=%D0%BC%D0%B0%D1%82%D0%B5%D0%BC%D0%B0%D1%82%D0%B8%D0%BA%D0%B0",
];

#[test]
fn the_redirect_corpus_is_refused_by_the_rule() {
    let corpus = corpus();
    assert!(corpus.len() >= 100, "only {} spellings", corpus.len());
    let accepted: Vec<_> = corpus
        .iter()
        .filter(|(_, v)| is_safe_return_path(v))
        .map(|(l, _)| l.clone())
        .collect();
    assert!(accepted.is_empty(), "accepted: {accepted:#?}");
    let long = format!("/{}", "a".repeat(5000));
    assert!(!is_safe_return_path(&long));
    for good in GOOD_PATHS {
        assert!(is_safe_return_path(good), "{good}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redirect_corpus_never_leaves_the_origin() {
    let stand = Stand::start(Options::default()).await;
    let gw = stand.gw();
    let b = stand.browser();
    let anonymous = stand.browser();
    let mut spellings: Vec<String> = corpus().into_iter().map(|(_, v)| v).collect();
    spellings.push(format!("/{}", "a".repeat(5000)));
    let mut leaks = Vec::new();
    for value in &spellings {
        let mut start = url::Url::parse(&gw.url("/esia/start")).unwrap();
        start.query_pairs_mut().append_pair("return", value);
        let html = anonymous
            .get(start.as_str())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if !html.contains("name=\"return\" value=\"&#x2f;\"") {
            leaks.push(format!("start page kept {value:?}"));
        }
        let mut login_url = url::Url::parse(&gw.url("/esia/login")).unwrap();
        login_url.query_pairs_mut().append_pair("return", value);
        let flow = begin(&b, gw, &format!("?{}", login_url.query().unwrap())).await;
        let callback = at_esia(&b, stand.mock(), &flow, "confirmed").await;
        let resp = b.get(callback).send().await.unwrap();
        let to = location(&resp);
        if to != "/" {
            leaks.push(format!("login returned to {to:?} for {value:?}"));
        }
    }
    assert!(leaks.is_empty(), "{leaks:#?}");
    for good in GOOD_PATHS {
        let mut login_url = url::Url::parse(&gw.url("/esia/login")).unwrap();
        login_url.query_pairs_mut().append_pair("return", good);
        let flow = begin(&b, gw, &format!("?{}", login_url.query().unwrap())).await;
        let callback = at_esia(&b, stand.mock(), &flow, "confirmed").await;
        let resp = b.get(callback).send().await.unwrap();
        assert_eq!(location(&resp), *good);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_ends_the_session_and_reaches_esia_logout() {
    let stand = Stand::start(Options::default()).await;
    let gw = stand.gw();
    let b = stand.browser();
    let cookie = session_cookie(&login(&b, &stand, gw, "", "confirmed").await).unwrap();

    // GET only asks.
    let resp = b.get(gw.url("/esia/logout")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("Выйти"));
    assert!(gw.session(&cookie).await.is_some());

    // POST without or with a wrong token is refused.
    for form in [vec![], vec![("csrf", "forged")], vec![("csrf", "")]] {
        let resp = b
            .post(gw.url("/esia/logout"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{form:?}");
    }
    // Another site's form cannot know the token; the session survives all of it.
    assert!(gw.session(&cookie).await.is_some());

    let token = csrf_token(&b, gw).await;
    let before = stand.mock().state().logouts;
    let resp = b
        .post(gw.url("/esia/logout"))
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    let to_esia = location(&resp);
    assert!(
        set_cookies(&resp)
            .iter()
            .any(|c| c.starts_with(&format!("{SESSION_COOKIE}=;")) && c.contains("Max-Age=0")),
        "session cookie cleared"
    );
    assert!(
        gw.session(&cookie).await.is_none(),
        "session ended in the store"
    );
    let logout = url::Url::parse(&to_esia).unwrap();
    assert!(to_esia.starts_with(&format!("{}/idp/ext/Logout?", stand.mock().base_url())));
    let params: std::collections::HashMap<_, _> = logout.query_pairs().into_owned().collect();
    assert_eq!(params["client_id"], CLIENT_ID);
    assert_eq!(params["redirect_url"], gw.url("/esia/start"));

    // At ESIA: its session ends and it sends the browser back to our start page.
    let resp = b.get(to_esia).send().await.unwrap();
    assert_eq!(location(&resp), gw.url("/esia/start"));
    assert_eq!(stand.mock().state().logouts, before + 1);
    let resp = b.get(gw.url("/esia/start")).send().await.unwrap();
    assert!(resp.text().await.unwrap().contains("Войти через Госуслуги"));
    assert!(!signed_in(&b, gw).await);

    // The audit log has both, with the OID and level, and nothing secret.
    let events = gw
        .store
        .list_audit(chrono::Utc::now() - TimeDelta::hours(1), 100)
        .await
        .unwrap();
    let kinds: Vec<_> = events.iter().map(|e| e.kind.as_str().to_owned()).collect();
    assert!(
        kinds.contains(&"login".to_owned()) && kinds.contains(&"logout".to_owned()),
        "{kinds:?}"
    );
    assert!(events.iter().all(|e| e.esia_oid == Some(1000299681)));
    let dump = format!(
        "{:?}",
        events
            .iter()
            .map(|e| e.detail.to_string())
            .collect::<Vec<_>>()
    );
    assert!(
        !dump.contains(&cookie) && !dump.contains("token") && !dump.contains("snils"),
        "{dump}"
    );

    // The old cookie replayed by hand gets nothing.
    let other = stand.browser();
    let resp = other
        .get(gw.url("/esia/logout"))
        .header(COOKIE, format!("{SESSION_COOKIE}={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_page_and_wrong_methods() {
    let stand = Stand::start(Options::default()).await;
    let gw = stand.gw();
    let b = stand.browser();
    let resp = b
        .get(gw.url("/esia/start?return=%2Fmarks"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert!(
        resp.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    let html = resp.text().await.unwrap();
    for words in [
        "Войти через Госуслуги",
        "Чужой компьютер",
        "name=\"public\"",
        "&#x2f;marks",
    ] {
        assert!(html.contains(words), "{words}: {html}");
    }
    assert!(!html.contains("<script") && !html.contains("http://") && !html.contains("https://"));
    let resp = b.post(gw.url("/esia/login")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    let resp = b.get(gw.url("/esia/unknown")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    // Not the reserved prefix: proxied.
    let resp = b.get(gw.url("/esiafoo")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(stand.upstream.last().uri, "/esiafoo");
}

/// `gateway.toml` with `[esia]`, `[login]`, `[session]`, `[store]`: the gateway started
/// from the loaded config serves the login pages and signs its ESIA request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_config_sections_turn_the_esia_login_on() {
    let stand = Stand::start(Options::default()).await;
    let dir = stand.dir.path();
    let hash = esia_gateway::esia::request::certificate_hash(&stand.rp.cert_der);
    let https = support::free_addr();
    let port = https.port();
    let text = stand.gateway_toml(
        https,
        "/auth/",
        "[session]\nidle = \"20m\"\n[store]\nbackend = \"sqlite\"\npath = \"state/gw.db\"\n",
    );
    let origin = dir.join("gateway.toml");
    let config = esia_gateway::config::load_str(&text, &origin).unwrap();
    assert_eq!(config.session.policy.idle, Duration::from_secs(20 * 60));
    let gw = esia_gateway::server::Gateway::start(config).await.unwrap();
    assert!(
        dir.join("state/gw.db").exists(),
        "store opened relative to the config"
    );
    let b = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(stand.pki.ca.cert_pem().as_bytes()).unwrap(),
        )
        .resolve("localhost", gw.https_addr())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = |p: &str| format!("https://localhost:{}{p}", gw.https_addr().port());
    let resp = b.get(url("/auth/start")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("action=\"/auth/login\"")
    );
    let resp = b
        .get(url("/auth/login?return=%2Fmarks"))
        .send()
        .await
        .unwrap();
    let to = location(&resp);
    assert!(
        to.starts_with(&format!("{}/aas/oauth2/v2/ac?", stand.mock().base_url())),
        "{to}"
    );
    assert!(to.contains("client_secret=") && to.contains(&hash));
    // Issue 10: a login started by another name (here the address) goes to the
    // callback's origin first, where the flow cookie will be found again.
    let by_address = format!("https://127.0.0.1:{port}/auth/login?return=%2Fmarks");
    let resp = b.get(&by_address).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert_eq!(location(&resp), url("/auth/login?return=%2Fmarks"));
    assert!(
        resp.headers().get("set-cookie").is_none(),
        "no flow on the wrong origin"
    );
    // The default prefix is the diary's now.
    b.get(url("/esia/start")).send().await.unwrap();
    assert_eq!(stand.upstream.last().uri, "/esia/start");
}

#[test]
fn bad_login_session_and_store_values_are_reported_with_their_keys() {
    let text = r#"
[listen]
https = "127.0.0.1:0"
[tls]
cert = "missing.pem"
key = "missing.key"
[upstream]
url = "http://127.0.0.1:1"
[esia]
client_id = "X"
[login]
prefix = "esia"
flow_ttl = "0s"
[session]
cache_ttl = "1m"
[store]
backend = "mysql"
"#;
    let errs =
        esia_gateway::config::load_str(text, std::path::Path::new("/tmp/gw.toml")).unwrap_err();
    let paths: Vec<_> = errs.iter().map(|e| e.path.clone()).collect();
    for key in [
        "login.prefix",
        "login.flow_ttl",
        "session.cache_ttl",
        "store.backend",
        "esia.redirect_uri",
    ] {
        assert!(paths.iter().any(|p| p == key), "{key} not in {paths:?}");
    }
}

/// Hostile session and flow cookies: never a panic or an error page, just anonymous.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_gateway_cookies_are_anonymous() {
    let stand = Stand::start(Options::default()).await;
    let gw = stand.gw();
    let long = "A".repeat(4000);
    let values = [
        "".to_owned(),
        "garbage".to_owned(),
        "v1.".to_owned(),
        "v2.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_owned(),
        format!("v1.{long}"),
        "v1.%00%ff".to_owned(),
        "v1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".to_owned(),
        "\"v1.quoted\"".to_owned(),
    ];
    for v in &values {
        let b = stand.browser();
        let cookie = format!("{SESSION_COOKIE}={v}; __Host-gw_flow_x={v}; other=1");
        let resp = b
            .get(gw.url("/esia/logout"))
            .header(COOKIE, &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::FOUND, "{v:?}");
        let resp = b
            .get(gw.url("/diary"))
            .header(COOKIE, &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{v:?}");
        let seen = stand.upstream.last();
        assert_eq!(seen.headers[COOKIE], "other=1", "{v:?}");
        let resp = b
            .get(gw.url(&format!(
                "/esia/callback?code=x&state={}",
                uuid::Uuid::new_v4()
            )))
            .header(COOKIE, &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{v:?}");
    }
}
