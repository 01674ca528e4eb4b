//! The browsers' connections are served on worker threads, one single-threaded runtime
//! each (nginx's worker model): a connection, its TLS, its requests and the upstream
//! connections they use all stay on one thread. On the shared work-stealing runtime every
//! request woke the other thread (an upstream answer arriving on one worker for a
//! connection polled by the other). Measured as a plain proxy of 1 KB on 2 cores (wrk, 50
//! connections, nginx beside it): 0.60–0.77× nginx's req/s at 73–81 µs of CPU per request
//! there, 0.91–0.95× at 43–46 µs here (nginx 37–38 µs): the handoffs were the gap.
//!
//! Connections are dealt round-robin as they are accepted (the accept loop itself stays
//! on the main runtime with everything else: admin, reload, store tasks). `workers = 0`
//! serves them on the main runtime as before.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::net::TcpStream;
use tokio::runtime::Handle;
use tokio::sync::oneshot;

/// The worker runtimes of one gateway; dropping it stops them (and whatever they still run).
pub struct Workers {
    handles: Vec<Handle>,
    stops: Vec<oneshot::Sender<()>>,
    next: AtomicUsize,
}

impl Workers {
    /// `count` worker threads; `None` = one per core, `Some(0)` = none (the caller's runtime).
    pub fn start(count: Option<usize>) -> std::io::Result<Self> {
        let count = count.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        });
        let mut handles = Vec::with_capacity(count);
        let mut stops = Vec::with_capacity(count);
        for i in 0..count {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            handles.push(runtime.handle().clone());
            let (stop, stopped) = oneshot::channel::<()>();
            stops.push(stop);
            std::thread::Builder::new()
                .name(format!("esia-gw-worker-{i}"))
                .spawn(move || {
                    // Runs until the gateway drops its `Workers`; dropping the runtime then
                    // cancels the connections still open (shutdown already cut them).
                    let _ = runtime.block_on(stopped);
                })?;
        }
        Ok(Self {
            handles,
            stops,
            next: AtomicUsize::new(0),
        })
    }

    /// How many worker threads serve connections (0: the caller's runtime does).
    pub fn count(&self) -> usize {
        self.handles.len()
    }

    /// Runs `task` on the next worker (or on the current runtime when there are none).
    pub fn spawn<F>(&self, task: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        if self.handles.is_empty() {
            tokio::spawn(task);
            return;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.handles.len();
        self.handles[i].spawn(task);
    }

    /// Serves a connection accepted on the main runtime on the next worker. The socket
    /// moves to the worker's own event loop: left registered where it was accepted,
    /// every readiness event would go through the main runtime's thread.
    pub fn serve<S, F>(&self, tcp: TcpStream, serve: S)
    where
        S: FnOnce(TcpStream) -> F + Send + 'static,
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        if self.handles.is_empty() {
            tokio::spawn(serve(tcp));
            return;
        }
        let moving = match tcp.into_std() {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(error = %e, "cannot hand a connection to a worker");
                return;
            }
        };
        self.spawn(async move {
            match TcpStream::from_std(moving) {
                Ok(tcp) => serve(tcp).await,
                Err(e) => tracing::debug!(error = %e, "a worker cannot take a connection"),
            }
        });
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for stop in self.stops.drain(..) {
            let _ = stop.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thread_name() -> String {
        std::thread::current().name().unwrap_or("").to_owned()
    }

    #[tokio::test]
    async fn tasks_are_dealt_to_the_worker_threads_in_turn() {
        let workers = Workers::start(Some(2)).unwrap();
        assert_eq!(workers.count(), 2);
        let mut names = Vec::new();
        for _ in 0..4 {
            let (tx, rx) = oneshot::channel();
            workers.spawn(async move {
                // A timer and I/O work on the worker's own runtime.
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                let _ = tx.send(thread_name());
            });
            names.push(rx.await.unwrap());
        }
        assert_eq!(
            names,
            [
                "esia-gw-worker-0",
                "esia-gw-worker-1",
                "esia-gw-worker-0",
                "esia-gw-worker-1"
            ]
        );
    }

    #[tokio::test]
    async fn dropping_the_workers_stops_their_tasks() {
        let workers = Workers::start(Some(1)).unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        workers.spawn(async move {
            let _held = tx;
            std::future::pending::<()>().await;
        });
        drop(workers);
        // The pending task was dropped with its runtime: the sender went with it.
        let closed = tokio::time::timeout(std::time::Duration::from_secs(5), rx).await;
        assert!(matches!(closed, Ok(Err(_))), "{closed:?}");
    }

    #[tokio::test]
    async fn a_connection_is_served_on_a_worker_with_its_socket() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let workers = Workers::start(Some(1)).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::spawn(async move {
            let mut c = TcpStream::connect(addr).await.unwrap();
            c.write_all(b"ping").await.unwrap();
            let mut answer = String::new();
            c.read_to_string(&mut answer).await.unwrap();
            answer
        });
        let (tcp, _) = listener.accept().await.unwrap();
        workers.serve(tcp, |mut tcp| async move {
            let mut buf = [0u8; 4];
            tcp.read_exact(&mut buf).await.unwrap();
            let reply = format!("{} on {}", String::from_utf8_lossy(&buf), thread_name());
            tcp.write_all(reply.as_bytes()).await.unwrap();
        });
        assert_eq!(client.await.unwrap(), "ping on esia-gw-worker-0");
    }

    #[tokio::test]
    async fn no_workers_means_the_current_runtime() {
        let workers = Workers::start(Some(0)).unwrap();
        assert_eq!(workers.count(), 0);
        let (tx, rx) = oneshot::channel();
        workers.spawn(async move {
            let _ = tx.send(thread_name());
        });
        assert!(!rx.await.unwrap().starts_with("esia-gw-worker"));
    }
}
