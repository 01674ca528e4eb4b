//! `[listen] workers`: connections are served on worker threads (one event loop each),
//! whatever their number, and the threads end with the gateway. One test in this binary,
//! so the threads it counts are its own gateways'.

mod support;

use futures_util::StreamExt;
use support::*;

fn worker_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(Result::ok)
                .filter(|t| {
                    std::fs::read_to_string(t.path().join("comm"))
                        .is_ok_and(|name| name.starts_with("esia-gw-worker"))
                })
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_worker_count_serves_many_connections_and_stops_with_the_gateway() {
    let pki = Pki::new();
    let up = TestUpstream::start().await;
    for workers in [Some(0), Some(1), Some(3), None] {
        let mut cfg = config(&pki, &up.url());
        cfg.listen.workers = workers;
        let gw = start(cfg).await;
        let expected = workers.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        });
        // A new thread names itself once it runs: wait for the names to appear.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while worker_threads() != expected && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(worker_threads(), expected, "workers = {workers:?}");

        // Eight browsers at once, each on its own connection, small pages and a stream.
        let mut browsers = Vec::new();
        for i in 0..8u64 {
            let client = client_builder(&pki, &gw)
                .pool_max_idle_per_host(1)
                .build()
                .unwrap();
            let base = url(&gw, "/");
            browsers.push(tokio::spawn(async move {
                for n in 0..5 {
                    let r = client
                        .get(format!("{base}page-{i}-{n}"))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 200);
                }
                let size = 256 * 1024 + i;
                let resp = client
                    .get(format!("{base}big?bytes={size}"))
                    .send()
                    .await
                    .unwrap();
                let mut got = 0u64;
                let mut stream = resp.bytes_stream();
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk.unwrap();
                    for (k, b) in chunk.iter().enumerate() {
                        assert_eq!(*b, pattern(got + k as u64));
                    }
                    got += chunk.len() as u64;
                }
                assert_eq!(got, size);
            }));
        }
        for b in browsers {
            b.await.unwrap();
        }
        let seen = up.seen();
        for i in 0..8 {
            assert!(
                seen.iter().any(|s| s.uri == format!("/page-{i}-4")),
                "workers = {workers:?}: browser {i} did not reach the diary"
            );
        }

        let report = gw.shutdown().await;
        assert_eq!(report.cut, 0);
        // The worker threads end once the gateway is gone.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while worker_threads() > 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(worker_threads(), 0, "workers = {workers:?} left threads");
    }
}
