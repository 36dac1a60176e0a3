//! The UDP receive loop: one datagram in, at most one datagram out (subject to rate limiting),
//! buffers reused, no task spawned per query.

use std::sync::Arc;

use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use super::SharedSnapshot;
use super::rrl::{self, RateLimiter, Verdict};
use crate::answer::Transport;
use crate::observe;

pub async fn serve(
    socket: Arc<UdpSocket>,
    snapshot: SharedSnapshot,
    limiter: Arc<RateLimiter>,
    shutdown: CancellationToken,
) {
    let mut request = vec![0u8; 65535];
    let mut response = Vec::with_capacity(4096);
    loop {
        let received = tokio::select! {
            received = socket.recv_from(&mut request) => received,
            () = shutdown.cancelled() => return,
        };
        let (len, client) = match received {
            Ok(received) => received,
            // ICMP errors from earlier sends surface here on some systems; they are not ours.
            Err(e) => {
                tracing::debug!("UDP receive error: {e}");
                continue;
            }
        };
        let current = snapshot.load();
        let Some(summary) = super::respond_guarded(
            &current,
            client,
            &request[..len],
            Transport::Udp,
            &mut response,
        ) else {
            continue;
        };
        observe::query(&current, client, Transport::Udp, &summary);
        let policy = summary
            .view
            .and_then(|index| current.views[index].rrl.as_ref());
        if let Some(policy) = policy {
            match limiter.check(policy, client.ip(), summary.rrl_identity) {
                Verdict::Send => {}
                Verdict::Slip => rrl::slip(&mut response, summary.question_end),
                Verdict::Drop => continue,
            }
        }
        if let Err(e) = socket.send_to(&response, client).await {
            tracing::debug!("UDP send to {client} failed: {e}");
        }
    }
}
