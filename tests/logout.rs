//! Issue 15 point 7: one logout behaviour. «Выйти» clicked on our own pages — the
//! gateway's button or the diary's link — logs out at once, ends the diary session, goes
//! through ESIA's logout for an ESIA session (not for a password session) and lands on
//! the start page saying «Вы вышли из электронного дневника и из Госуслуг» (or «…из
//! электронного дневника.»), with the way back in. A link on another site only asks.

mod link_support;
mod store_support;
mod support;

use http::StatusCode;
use link_support::*;

const BOTH: &str = "Вы вышли из электронного дневника и из Госуслуг.";
const DIARY_ONLY: &str = "Вы вышли из электронного дневника.";

/// Follows the logout's redirects (through the ESIA mock for an ESIA session) to the
/// page the browser ends on; the hops taken.
async fn follow(stand: &Stand, b: &Browser, mut resp: reqwest::Response) -> (Vec<String>, String) {
    let mut hops = Vec::new();
    for _ in 0..6 {
        if !resp.status().is_redirection() {
            assert_eq!(resp.status(), StatusCode::OK, "{hops:?}");
            return (hops, resp.text().await.unwrap());
        }
        let to = location(&resp);
        hops.push(to.clone());
        let next = if to.starts_with("http") {
            to
        } else {
            stand.url(&to)
        };
        resp = b.get(&next).await;
    }
    panic!("too many redirects: {hops:?}");
}

async fn signed_in(stand: &Stand, b: &Browser) -> bool {
    b.get(&stand.url("/marks")).await.status() == StatusCode::OK
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_logout_on_our_pages_is_immediate_and_ends_on_one_final_page() {
    let stand = Stand::start(Options::default()).await;

    // The gateway's «Выйти» (a link on its pages) for an ESIA session.
    let b = stand.linked_browser("confirmed", "parent").await;
    let (hops, page) = follow(&stand, &b, b.get(&stand.url("/esia/logout")).await).await;
    assert!(
        hops.iter().any(|h| h.contains("/idp/ext/Logout")),
        "an ESIA session goes through ESIA's logout: {hops:?}"
    );
    assert!(page.contains(BOTH), "{page}");
    assert!(
        page.contains("Войти через Госуслуги"),
        "a way back in: {page}"
    );
    assert!(!signed_in(&stand, &b).await);
    // Said once: the next visit of the start page is the plain start page.
    let again = b.get(&stand.url("/esia/start")).await.text().await.unwrap();
    assert!(!again.contains(BOTH), "{again}");

    // The diary's «Выйти» link: the same behaviour, the same final page (signed in
    // again: the account is linked now, so straight to the grades).
    let b = stand.browser();
    let cb = stand.esia_login(&b, "/marks", "confirmed").await;
    assert_eq!(location(&cb), "/marks");
    assert!(signed_in(&stand, &b).await);
    let (hops, page) = follow(&stand, &b, b.get(&stand.url("/logout")).await).await;
    assert!(
        hops.iter().any(|h| h.contains("/idp/ext/Logout")),
        "{hops:?}"
    );
    assert!(page.contains(BOTH), "{page}");
    assert!(!signed_in(&stand, &b).await);

    // A password session never signed in to Госуслуги: no ESIA logout, its own words.
    let b = stand.legacy_browser("parent").await;
    let (hops, page) = follow(&stand, &b, b.get(&stand.url("/esia/logout")).await).await;
    assert!(!hops.iter().any(|h| h.contains("Logout")), "{hops:?}");
    assert!(page.contains(DIARY_ONLY) && !page.contains(BOTH), "{page}");
    let b = stand.legacy_browser("parent").await;
    let (hops, page) = follow(&stand, &b, b.get(&stand.url("/logout")).await).await;
    assert!(!hops.iter().any(|h| h.contains("Logout")), "{hops:?}");
    assert!(page.contains(DIARY_ONLY), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_link_on_another_site_only_asks() {
    let stand = Stand::start(Options::default()).await;
    let b = stand.linked_browser("confirmed", "parent").await;
    let cross = [("sec-fetch-site", "cross-site")];
    let asked = b.get_with(&stand.url("/esia/logout"), &cross).await;
    assert_eq!(asked.status(), StatusCode::OK);
    let html = asked.text().await.unwrap();
    assert!(
        html.contains("method=\"post\""),
        "the confirmation form: {html}"
    );
    assert!(signed_in(&stand, &b).await, "still signed in");
    let head = b
        .client
        .head(stand.url("/esia/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert!(signed_in(&stand, &b).await, "a HEAD never logs out");
}
