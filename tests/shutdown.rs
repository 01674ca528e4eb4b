//! Graceful shutdown: stop accepting, let the request in flight finish, then exit; cut
//! what is still running when the grace period ends.

mod support;

use std::time::{Duration, Instant};

use support::*;

async fn wait_until_seen(up: &TestUpstream, n: usize) {
    for _ in 0..200 {
        if up.seen().len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the upstream never saw request {n}");
}

#[tokio::test]
async fn shutdown_drains_an_in_flight_slow_request_before_exit() {
    let pki = Pki::new();
    let up = TestUpstream::start().await;
    let mut cfg = config(&pki, &up.url());
    cfg.timeouts.shutdown_grace = Duration::from_secs(20);
    let gw = start(cfg).await;
    let https = gw.https_addr();
    let client = client(&pki, &gw);

    let in_flight = tokio::spawn({
        let client = client.clone();
        let u = url(&gw, "/slow?ms=1500");
        async move {
            let resp = client.get(u).send().await.unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        }
    });
    wait_until_seen(&up, 1).await;

    let started = Instant::now();
    let report = gw.shutdown().await;
    assert_eq!(report.cut, 0, "nothing had to be cut");
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "shutdown waited for the request"
    );
    assert_eq!(in_flight.await.unwrap(), (200, "slow done".into()));

    // The listener is closed: new connections are refused.
    assert!(tokio::net::TcpStream::connect(https).await.is_err());
}

#[tokio::test]
async fn idle_keep_alive_connections_do_not_hold_shutdown_up() {
    let pki = Pki::new();
    let up = TestUpstream::start().await;
    let mut cfg = config(&pki, &up.url());
    cfg.timeouts.shutdown_grace = Duration::from_secs(20);
    let gw = start(cfg).await;
    // Clients kept alive across the shutdown, so their pooled connections stay open.
    let mut clients = Vec::new();
    for http1 in [true, false] {
        let mut b = client_builder(&pki, &gw);
        if http1 {
            b = b.http1_only();
        }
        let c = b.build().unwrap();
        let resp = c.get(url(&gw, "/")).send().await.unwrap();
        resp.bytes().await.unwrap();
        clients.push(c);
    }
    assert_eq!(gw.metrics().open_connections(), 2);
    let https = gw.https_addr();
    let started = Instant::now();
    let report = gw.shutdown().await;
    assert_eq!(report.cut, 0);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(
        tokio::net::TcpStream::connect(https).await.is_err(),
        "the port is closed when shutdown returns"
    );
    drop(clients);
}

#[tokio::test]
async fn readyz_says_503_while_draining() {
    let pki = Pki::new();
    let up = TestUpstream::start().await;
    let gw = start(config(&pki, &up.url())).await;
    let ready = format!("http://{}/readyz", gw.admin_addr().unwrap());
    assert_eq!(reqwest::get(&ready).await.unwrap().status(), 200);

    let client = client(&pki, &gw);
    let in_flight = tokio::spawn({
        let u = url(&gw, "/slow?ms=1500");
        async move { client.get(u).send().await.unwrap().status().as_u16() }
    });
    wait_until_seen(&up, 1).await;
    let draining = tokio::spawn(gw.shutdown());
    let mut status = 0;
    for _ in 0..100 {
        status = reqwest::get(&ready).await.unwrap().status().as_u16();
        if status == 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        status, 503,
        "a load balancer must stop sending new requests"
    );
    assert_eq!(in_flight.await.unwrap(), 200);
    assert_eq!(draining.await.unwrap().cut, 0);
}

#[tokio::test]
async fn requests_longer_than_the_grace_period_are_cut() {
    let pki = Pki::new();
    let up = TestUpstream::start().await;
    let mut cfg = config(&pki, &up.url());
    cfg.timeouts.shutdown_grace = Duration::from_millis(300);
    let gw = start(cfg).await;
    let client = client(&pki, &gw);
    let in_flight = tokio::spawn({
        let u = url(&gw, "/slow?ms=30000");
        async move { client.get(u).send().await.map(|r| r.status().as_u16()) }
    });
    wait_until_seen(&up, 1).await;
    let report = gw.shutdown().await;
    assert!(report.cut >= 1, "{report:?}");
    assert!(in_flight.await.unwrap().is_err(), "the cut request fails");
}
