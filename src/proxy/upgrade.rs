//! Websocket pass-through: the handshake is proxied like any request; when the diary
//! answers 101, both sides' connections are taken over from hyper and joined byte for
//! byte until either closes (or the grace period of a shutdown ends).

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

use crate::shutdown::ShutdownSignal;

/// Spawns the tunnel between the browser's and the diary's upgraded connections.
pub fn tunnel(client: OnUpgrade, upstream: OnUpgrade, signal: ShutdownSignal) {
    let guard = signal.track();
    tokio::spawn(async move {
        let _guard = guard;
        let (client, upstream) = match tokio::try_join!(client, upstream) {
            Ok(pair) => pair,
            Err(e) => {
                tracing::debug!(error = %e, "websocket upgrade did not complete");
                return;
            }
        };
        let mut client = TokioIo::new(client);
        let mut upstream = TokioIo::new(upstream);
        tokio::select! {
            result = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {
                match result {
                    Ok((up, down)) => tracing::debug!(up, down, "websocket closed"),
                    Err(e) => tracing::debug!(error = %e, "websocket ended with an error"),
                }
            }
            _ = signal.hard() => tracing::debug!("websocket cut at the end of shutdown grace"),
        }
    });
}
