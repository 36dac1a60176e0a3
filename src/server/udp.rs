//! The UDP receive loop: one datagram in, at most one datagram out (subject to rate limiting).
//! Each loop owns an OS thread and blocks in `recv_from`: a query costs two system calls and one
//! wake-up, with no task spawned, no event-loop round trip and no allocation (buffers are reused).
//! Loops notice shutdown within [`SHUTDOWN_POLL`].

use std::net::UdpSocket;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::SharedSnapshot;
use super::rrl::{self, RateLimiter, Verdict};
use crate::answer::Transport;
use crate::observe;

/// How often an idle loop checks for shutdown.
const SHUTDOWN_POLL: Duration = Duration::from_millis(200);

pub fn serve(
    socket: UdpSocket,
    snapshot: SharedSnapshot,
    limiter: Arc<RateLimiter>,
    shutdown: CancellationToken,
) {
    if let Err(e) = socket
        .set_nonblocking(false)
        .and_then(|()| socket.set_read_timeout(Some(SHUTDOWN_POLL)))
    {
        tracing::error!("UDP socket setup failed: {e}");
        return;
    }
    let mut request = vec![0u8; 65535];
    let mut response = Vec::with_capacity(4096);
    while !shutdown.is_cancelled() {
        let (len, client) = match socket.recv_from(&mut request) {
            Ok(received) => received,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
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
        if let Err(e) = socket.send_to(&response, client) {
            tracing::debug!("UDP send to {client} failed: {e}");
        }
    }
}
