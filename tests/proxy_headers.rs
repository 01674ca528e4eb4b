//! What the diary sees of a request's headers, and what the browser sees of the diary's.

mod support;

use esia_gateway::config::HostHeader;
use support::*;

#[tokio::test]
async fn underscore_and_override_headers_never_reach_the_diary() {
    let pki = Pki::new();
    let up = TestUpstream::start().await;
    let gw = start(config(&pki, &up.url())).await;
    for http1 in [true, false] {
        let mut b = client_builder(&pki, &gw);
        if http1 {
            b = b.http1_only();
        }
        let resp = b
            .build()
            .unwrap()
            .get(url(&gw, "/index.php"))
            .header("X_Remote_User", "director")
            .header("x_forwarded_for", "10.0.0.1")
            .header("X-HTTP-Method-Override", "DELETE")
            .header("X-HTTP-Method", "PUT")
            .header("X-Method-Override", "PATCH")
            .header("X-Original-URL", "/admin/grades.php")
            .header("X-Rewrite-URL", "/admin/grades.php")
            .header("Forwarded", "for=6.6.6.6")
            .header("Connection", "x-secret")
            .header("X-Secret", "hop")
            .header("Proxy-Connection", "keep-alive")
            .header("Accept-Language", "ru")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let seen = up.last();
        for name in [
            "x_remote_user",
            "x_forwarded_for",
            "x-http-method-override",
            "x-http-method",
            "x-method-override",
            "x-original-url",
            "x-rewrite-url",
            "forwarded",
            "x-secret",
            "proxy-connection",
            "te",
            "upgrade",
        ] {
            assert!(
                !seen.headers.contains_key(name),
                "{name} reached the diary (http1={http1}): {:?}",
                seen.headers
            );
        }
        assert!(seen.headers.keys().all(|k| !k.as_str().contains('_')));
        assert_eq!(seen.headers["accept-language"], "ru");
        assert_eq!(seen.method, "GET");
        assert_eq!(seen.uri, "/index.php");
    }
}

#[tokio::test]
async fn spoofed_forwarding_headers_from_an_untrusted_client_are_replaced() {
    let pki = Pki::new();
    let up = TestUpstream::start().await;
    let gw = start(config(&pki, &up.url())).await;
    client(&pki, &gw)
        .get(url(&gw, "/"))
        .header("X-Forwarded-For", "1.2.3.4")
        .header("X-Forwarded-Proto", "http")
        .header("X-Forwarded-Host", "evil.example")
        .header("X-Real-IP", "1.2.3.4")
        .send()
        .await
        .unwrap();
    let h = up.last().headers;
    assert_eq!(h["x-forwarded-for"], "127.0.0.1");
    assert_eq!(h["x-real-ip"], "127.0.0.1");
    assert_eq!(h["x-forwarded-proto"], "https");
    assert_eq!(
        h["x-forwarded-host"],
        format!("localhost:{}", gw.https_addr().port())
    );
    assert_eq!(h.get_all("x-forwarded-for").iter().count(), 1);
}

#[tokio::test]
async fn forwarding_headers_from_a_trusted_proxy_are_appended() {
    let pki = Pki::new();
    let up = TestUpstream::start().await;
    let mut cfg = config(&pki, &up.url());
    cfg.forwarding.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    let gw = start(cfg).await;
    client(&pki, &gw)
        .get(url(&gw, "/"))
        .header("X-Forwarded-For", "203.0.113.9")
        .header("X-Forwarded-Proto", "https")
        .header("X-Forwarded-Host", "dnevnik.example")
        .send()
        .await
        .unwrap();
    let h = up.last().headers;
    assert_eq!(h["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
    assert_eq!(h["x-real-ip"], "203.0.113.9");
    assert_eq!(h["x-forwarded-host"], "dnevnik.example");
}

#[tokio::test]
async fn host_header_is_kept_or_rewritten_by_config() {
    let pki = Pki::new();
    let up = TestUpstream::start().await;

    let mut cfg = config(&pki, &up.url());
    cfg.upstream.host_header = HostHeader::Upstream;
    let gw = start(cfg).await;
    client(&pki, &gw).get(url(&gw, "/")).send().await.unwrap();
    assert_eq!(up.last().headers["host"], up.addr.to_string());

    let mut cfg = config(&pki, &up.url());
    cfg.upstream.host_header = HostHeader::Fixed("rid.local".into());
    let gw = start(cfg).await;
    client(&pki, &gw).get(url(&gw, "/")).send().await.unwrap();
    assert_eq!(up.last().headers["host"], "rid.local");
}

#[tokio::test]
async fn redirects_to_the_diary_origin_are_rewritten_to_the_public_one() {
    let pki = Pki::new();
    let up = TestUpstream::start().await;
    let gw = start(config(&pki, &up.url())).await;
    let public = format!("https://localhost:{}", gw.https_addr().port());
    let resp = client(&pki, &gw)
        .get(url(&gw, "/redirect"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    let h = resp.headers();
    assert_eq!(h["location"], format!("{public}/after?x=1#frag"));
    assert_eq!(h["content-location"], format!("{public}/cl"));
    assert_eq!(h["refresh"], format!("0; url={public}/r"));
    // Other headers are not URLs we own.
    assert_eq!(h["link"], format!("<http://{}/untouched>", up.addr));

    // Redirects elsewhere (ESIA) are left alone.
    let resp = client(&pki, &gw)
        .get(url(&gw, "/redirect-away"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["location"],
        "https://esia.gosuslugi.ru/aas/oauth2/ac"
    );
}

#[tokio::test]
async fn public_url_is_the_rewrite_target_when_configured() {
    let pki = Pki::new();
    let up = TestUpstream::start().await;
    let mut cfg = config(&pki, &up.url());
    cfg.listen.public_url = Some(url::Url::parse("https://dnevnik.example").unwrap());
    cfg.listen.hosts = vec!["localhost".into()];
    let gw = start(cfg).await;
    let resp = client(&pki, &gw)
        .get(url(&gw, "/redirect"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["location"],
        "https://dnevnik.example/after?x=1#frag"
    );
}

#[tokio::test]
async fn hop_by_hop_headers_of_the_diary_do_not_reach_the_browser() {
    let pki = Pki::new();
    let up = TestUpstream::start().await;
    let gw = start(config(&pki, &up.url())).await;
    let client = client_builder(&pki, &gw).http1_only().build().unwrap();
    let resp = client.get(url(&gw, "/hop")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let h = resp.headers();
    assert!(!h.contains_key("x-up-secret"), "{h:?}");
    assert_ne!(
        h.get("keep-alive").map(|v| v.to_str().unwrap()),
        Some("timeout=5")
    );
    assert_eq!(h["x-kept"], "yes");
}

/// Issue 10: every HTTPS answer carries HSTS (the diary's and the gateway's own error
/// pages alike), unless `[tls] hsts = false`.
#[tokio::test]
async fn every_https_answer_carries_hsts_unless_switched_off() {
    let pki = Pki::new();
    let up = TestUpstream::start().await;
    let gw = start(config(&pki, &up.url())).await;
    for path in ["/", "/%zz"] {
        let resp = client(&pki, &gw).get(url(&gw, path)).send().await.unwrap();
        assert_eq!(
            resp.headers()["strict-transport-security"],
            "max-age=31536000",
            "{path} ({})",
            resp.status()
        );
    }
    let mut off = config(&pki, &up.url());
    off.tls.hsts = false;
    let gw = start(off).await;
    let resp = client(&pki, &gw).get(url(&gw, "/")).send().await.unwrap();
    assert!(!resp.headers().contains_key("strict-transport-security"));
}

/// Issue 10: with `public_url` set, a browser that reaches the gateway by another name (an
/// address, an alias, a name an attacker points at us) is sent to the same page on the
/// public name first (GET/HEAD: the ESIA flow cookie must live there) and a form gets
/// 421 rather than being re-sent elsewhere; names in `listen.hosts` are served.
#[tokio::test]
async fn only_the_gateways_own_names_are_served() {
    let pki = Pki::new();
    let up = TestUpstream::start().await;
    let mut cfg = config(&pki, &up.url());
    cfg.listen.public_url = Some(url::Url::parse("https://dnevnik.example").unwrap());
    let gw = start(cfg.clone()).await;
    let c = client(&pki, &gw);

    let resp = c.get(url(&gw, "/marks?id=7")).send().await.unwrap();
    assert_eq!(resp.status(), 307);
    assert_eq!(
        resp.headers()["location"],
        "https://dnevnik.example/marks?id=7"
    );
    let resp = c.head(url(&gw, "/")).send().await.unwrap();
    assert_eq!(resp.status(), 307);
    let resp = c
        .post(url(&gw, "/login"))
        .body("user=a&pass=b")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 421);
    assert!(up.seen().is_empty(), "nothing reached the diary");
    drop(gw);

    cfg.listen.hosts = vec!["localhost".into()];
    let gw = start(cfg).await;
    let resp = client(&pki, &gw)
        .get(url(&gw, "/echo"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(up.seen().len(), 1);
}
