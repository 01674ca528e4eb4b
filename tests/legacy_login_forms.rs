//! Issue 9: a legacy login through the gateway records exactly the diary user the diary
//! signed in, or nothing. The hostile login bodies of `tests/data/diary_login_forms.tsv`
//! (urlencoded, multipart, text, JSON, none; duplicates, arrays, NUL, spaces, case,
//! charsets) are judged three ways:
//! - the gateway's reading of each body either refuses it or names the login the demo
//!   diary's PHP model reads (`parse_form`);
//! - a property test: the same for generated bodies;
//! - on real sockets, each row POSTed through the gateway to the real demo diary: the
//!   session the gateway records (audit `legacy_login`) is the user the diary then
//!   serves through it, or there is no session at all.

mod cutover_support;
mod login_forms_support;
mod store_support;
mod support;

use bytes::Bytes;
use cutover_support::{Stand, at, seed_004};
use esia_gateway::diary::form::read_login_post;
use esia_gateway::diary::signin::DiaryRules;
use esia_gateway::standins::demo_diary;
use esia_gateway::store::AuditKind;
use login_forms_support::login_form_rows;
use proptest::prelude::*;

/// The gateway's reading: `Err(())` refused, `Ok(None)` no login, `Ok(Some(login))`.
fn gateway_reads(content_type: Option<&str>, body: &[u8]) -> Result<Option<Vec<u8>>, ()> {
    read_login_post(
        content_type,
        &Bytes::copy_from_slice(body),
        &DiaryRules::demo(),
    )
    .map(|p| p.map(|p| p.login.into_bytes()))
    .map_err(|_| ())
}

fn diary_reads(content_type: Option<&str>, body: &[u8]) -> Option<Vec<u8>> {
    demo_diary::parse_form(content_type.map(str::as_bytes), body)
        .scalar("login")
        .map(<[u8]>::to_vec)
}

#[tokio::test]
async fn the_gateway_reads_every_fixture_body_as_the_diary_does_or_refuses_it() {
    let rows = login_form_rows();
    assert!(rows.len() >= 60, "{} rows", rows.len());
    let (mut refused, mut agreed) = (0, 0);
    for row in &rows {
        let diary = diary_reads(row.content_type, &row.body);
        assert_eq!(diary, row.reads, "fixture out of date: {}", row.note);
        match gateway_reads(row.content_type, &row.body) {
            Err(()) => refused += 1,
            Ok(Some(login)) => {
                // Trimmed like the gateway trims; the diary's login must be the same.
                let diary = diary
                    .as_deref()
                    .map(|d| String::from_utf8_lossy(d).trim().to_owned());
                assert_eq!(
                    Some(String::from_utf8_lossy(&login).into_owned()),
                    diary,
                    "{}",
                    row.note
                );
                agreed += 1;
            }
            Ok(None) => assert!(
                diary.is_none(),
                "the gateway read no login, the diary read {:?}: {}",
                diary.map(|d| String::from_utf8_lossy(&d).into_owned()),
                row.note
            ),
        }
    }
    assert!(
        refused > 0 && agreed > 0,
        "refused {refused}, agreed {agreed}"
    );
}

fn name_spelling() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("login".to_owned()),
        Just("password".to_owned()),
        Just("%20login".to_owned()),
        Just("+login".to_owned()),
        Just("LOGIN".to_owned()),
        Just("Login".to_owned()),
        Just("login.".to_owned()),
        Just("log.in".to_owned()),
        Just("log_in".to_owned()),
        Just("login[]".to_owned()),
        Just("login[x]".to_owned()),
        Just("login[".to_owned()),
        Just("login%00".to_owned()),
        Just("login%00x".to_owned()),
        Just("%6Cogin".to_owned()),
        Just("other".to_owned()),
        "[a-z_.\\[\\] %+]{1,8}",
    ]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("parent".to_owned()),
        Just("student".to_owned()),
        Just("demo".to_owned()),
        Just("%20teacher".to_owned()),
        Just("teacher%00".to_owned()),
        Just("t%C3%A9".to_owned()),
        Just("%ZZ".to_owned()),
        "[a-z%+0-9]{0,6}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Whatever the body, the gateway either refuses it or reads the diary's login.
    #[test]
    fn any_urlencoded_login_body_is_refused_or_read_as_the_diary_reads_it(
        pairs in proptest::collection::vec((name_spelling(), value()), 0..6)
    ) {
        let body: String = pairs
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let ct = Some("application/x-www-form-urlencoded");
        let gateway = gateway_reads(ct, body.as_bytes());
        if let Ok(Some(login)) = gateway {
            let diary = diary_reads(ct, body.as_bytes())
                .map(|d| String::from_utf8_lossy(&d).trim().to_owned());
            prop_assert_eq!(Some(String::from_utf8_lossy(&login).into_owned()), diary, "{}", body);
        }
    }

    /// The same for multipart bodies (field names quoted as browsers send them).
    #[test]
    fn any_multipart_login_body_is_refused_or_read_as_the_diary_reads_it(
        pairs in proptest::collection::vec((name_spelling(), value()), 0..5)
    ) {
        let mut body = String::new();
        for (n, v) in &pairs {
            let n = percent_encoding::percent_decode_str(n).decode_utf8_lossy().replace('"', "");
            let v = percent_encoding::percent_decode_str(v).decode_utf8_lossy().into_owned();
            body.push_str(&format!(
                "--BND\r\nContent-Disposition: form-data; name=\"{n}\"\r\n\r\n{v}\r\n"
            ));
        }
        body.push_str("--BND--\r\n");
        let ct = Some("multipart/form-data; boundary=BND");
        let gateway = gateway_reads(ct, body.as_bytes());
        if let Ok(Some(login)) = gateway {
            let diary = diary_reads(ct, body.as_bytes())
                .map(|d| String::from_utf8_lossy(&d).trim().to_owned());
            prop_assert_eq!(Some(String::from_utf8_lossy(&login).into_owned()), diary, "{:?}", body);
        }
    }
}

/// Which diary user a page was rendered for (the demo diary's `whoami` marker).
fn served_as(html: &str) -> Option<String> {
    let start = html.find("id=\"whoami\">")? + "id=\"whoami\">".len();
    let text = &html[start..start + html[start..].find('<')?];
    Some(text.rsplit(" @ ").next()?.trim().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_body_through_the_gateway_records_the_diarys_user_or_nobody() {
    // The transition phase: legacy logins work and every page is open to them.
    let stand = Stand::start(seed_004(), at("2018-10-01T12:00:00+03:00")).await;
    let mut recorded_before = 0;
    let mut sessions = 0;
    for row in login_form_rows() {
        let b = stand.browser_with(|b| b.http1_only());
        let mut req = b.client.post(stand.url("/login")).body(row.body.clone());
        if let Some(ct) = row.content_type {
            req = req.header("content-type", ct);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let audit = stand.audit().await;
        let logins: Vec<String> = audit
            .iter()
            .filter(|(k, _)| *k == AuditKind::LegacyLogin)
            .filter_map(|(_, d)| d["login"].as_str().map(str::to_owned))
            .collect();
        let new: Vec<&String> = logins.iter().skip(recorded_before).collect();
        recorded_before = logins.len();
        let html = b.get(&stand.url("/")).await.text().await.unwrap();
        let served = served_as(&html);
        match new.as_slice() {
            [] => assert_eq!(
                served, None,
                "{} ({status}): no session recorded, yet the diary serves {served:?}",
                row.note
            ),
            [login] => {
                sessions += 1;
                assert_eq!(
                    served.as_deref(),
                    Some(login.as_str()),
                    "{} ({status}): recorded {login}, the diary serves {served:?}",
                    row.note
                );
            }
            more => panic!("{}: several sessions recorded: {more:?}", row.note),
        }
    }
    assert!(sessions > 0, "no row made a session at all");
}

/// Issue 15: the diary's own login form through the gateway is a password oracle too.
/// Failures are limited per login (5 in 15 minutes) and, ten times as generously, per
/// address; successes never count, so the rest of a school behind one address still
/// signs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_on_the_diary_form_are_limited_per_login_not_per_school() {
    let stand = Stand::start(seed_004(), at("2018-10-01T12:00:00+03:00")).await;
    let b = stand.browser();
    for i in 0..5 {
        let resp = b
            .post(
                &stand.url("/login"),
                &[("login", "parent"), ("password", &format!("guess-{i}"))],
            )
            .await;
        assert_ne!(
            resp.status(),
            reqwest::StatusCode::TOO_MANY_REQUESTS,
            "try {i}"
        );
    }
    let resp = b
        .post(
            &stand.url("/login"),
            &[("login", "parent"), ("password", "demo")],
        )
        .await;
    assert_eq!(resp.status(), reqwest::StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().contains_key("retry-after"));
    // Another pupil at the same address signs in, more than once.
    for _ in 0..3 {
        let other = stand.browser();
        let resp = stand.legacy_login(&other, "student").await;
        assert!(resp.status().is_redirection(), "{}", resp.status());
    }
    let audit = stand.audit().await;
    assert!(
        audit
            .iter()
            .any(|(k, d)| *k == AuditKind::RateLimited && d["by"] == "account"),
        "{audit:?}"
    );
}
