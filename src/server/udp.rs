//! The UDP receive loop: datagrams in, at most one datagram out per query (subject to rate
//! limiting). Each loop owns an OS thread and blocks until queries arrive, then takes every query
//! already queued as one batch ([`super::datagrams`]): no task spawned, no event-loop round trip,
//! no allocation, one receive call per burst and one or two send calls. A question asked before
//! is answered from the loop's own [`CompiledAnswers`]. Each loop carries out its group's
//! [`Steering`] when asked. Loops notice shutdown within [`SHUTDOWN_POLL`].

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::SharedState;
use super::datagrams::{BATCH, Batch};
use super::rrl::RateLimiter;
use super::steering::Steering;
use crate::answer::{CompiledAnswers, Next, Probe};
use crate::observe::{self, Delivery, LoopCounters};
use crate::wire::Transport;

/// How often an idle loop checks for shutdown.
const SHUTDOWN_POLL: Duration = Duration::from_millis(200);

/// One receive loop's socket and its place in the socket group.
pub(super) struct LoopSocket {
    pub socket: UdpSocket,
    /// Another descriptor of `socket`, for the resolver's tasks to send forwarded answers on.
    pub reply: Arc<UdpSocket>,
    /// The group's steering (`None`: the kernel's hash alone) and this loop's index in it.
    pub steering: Option<(Arc<Steering>, usize)>,
}

/// Batches up to this size send their first response as soon as it is written and the rest in
/// one `sendmmsg` at the end; larger ones (queries are queueing anyway) send everything at the
/// end, one system call per batch. At a light load a batch is one query, sent at once; the first
/// of a small batch does not wait for the others, and the others would mostly wait anyway (each
/// send delivers to its client before the next one goes). At 25,000 queries/s a batch holds
/// about three queries: one send per response made three system calls of them, one send for the
/// whole batch added 6–30 µs to the average latency in two runs; the CPU saved is within the
/// benchmark's noise there (2–5%).
const FIRST_AT_ONCE_UP_TO: usize = 8;

/// Answers the datagrams on `socket` until `stopping` is set.
pub(super) fn serve(
    LoopSocket {
        socket,
        reply,
        steering,
    }: LoopSocket,
    state: SharedState,
    limiter: Arc<RateLimiter>,
    runtime: tokio::runtime::Handle,
    counters: &LoopCounters,
    stopping: &AtomicBool,
) {
    if let Err(e) = socket
        .set_nonblocking(false)
        .and_then(|()| socket.set_read_timeout(Some(SHUTDOWN_POLL)))
    {
        tracing::error!("UDP socket setup failed: {e}");
        return;
    }
    // On this thread: the steering's review reads the thread's CPU time.
    let steering = steering.map(|(group, index)| {
        group.register_thread(index);
        group
    });
    let mut batch = Batch::new();
    let mut compiled = CompiledAnswers::new();
    let mut probes: [Option<Probe>; BATCH] = [None; BATCH];
    let handoff = super::forward::Handoff {
        runtime: &runtime,
        reply: &reply,
        limiter: &limiter,
    };
    // A plain flag, set once when the server stops: a cancellation token's check takes a lock,
    // and this is read once per batch.
    while !stopping.load(Ordering::Relaxed) {
        match batch.receive(&socket) {
            Ok(()) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) =>
            {
                if let Some(steering) = &steering {
                    steering.apply_request(&socket);
                }
                continue;
            }
            // ICMP errors from earlier sends surface here on some systems; they are not ours.
            Err(e) => {
                tracing::debug!("UDP receive error: {e}");
                continue;
            }
        }
        // One snapshot per batch: a reload lands between batches, never inside one.
        let current = state.load();
        // Taken (one atomic increment) only when a batch forwards a query.
        let mut owned: Option<Arc<super::Published>> = None;
        let mut first_out = batch.received() <= FIRST_AT_ONCE_UP_TO;
        // The batch's compiled-answer lookups in three passes (probe, fetch, answer), each
        // starting the next one's memory reads: at a high rate, a batch's cold lines are then
        // read together rather than one after another.
        for (i, probe) in probes[..batch.received()].iter_mut().enumerate() {
            *probe = batch.peer(i).and_then(|client| {
                compiled.probe(&current.snapshot, client.ip(), batch.request(i))
            });
        }
        for probe in probes[..batch.received()].iter().flatten() {
            compiled.fetch(probe);
        }
        for (i, probe) in probes[..batch.received()].iter().enumerate() {
            let Some(client) = batch.peer(i) else {
                continue;
            };
            let (request, response) = batch.slot(i);
            let compiled_summary = probe
                .as_ref()
                .and_then(|probe| compiled.answer(probe, request, response));
            let summary = match compiled_summary {
                Some(summary) => summary,
                None => {
                    let Some(summary) = super::respond_guarded(
                        &current.snapshot,
                        client,
                        request,
                        Transport::Udp,
                        response,
                    ) else {
                        continue;
                    };
                    if let Some(probe) = probe {
                        compiled.remember(probe, request, response, &summary);
                    }
                    summary
                }
            };
            if matches!(summary.next, Next::Forward(_) | Next::Chase(_))
                && !super::forward::answer_from_cache(
                    &current,
                    &summary,
                    request,
                    Transport::Udp,
                    response,
                )
            {
                // A miss: handed to the runtime, this loop goes on. When it cannot be handed
                // over (too many outstanding), what is already written goes out: SERVFAIL for
                // a forward, our answer so far for a chase.
                let published = owned.get_or_insert_with(|| state.load_full());
                if super::forward::udp(&handoff, published, client, &summary, request, response) {
                    // Counted as forwarded when handed over; the resolver sends the answer.
                    observe::query(
                        counters,
                        current.counter_slot(summary.view),
                        &current.snapshot,
                        client,
                        &summary,
                        Delivery::Sent,
                        response,
                    );
                    continue;
                }
            }
            let delivery = limiter.apply(
                summary
                    .view
                    .and_then(|index| current.views[index].rate_limit.as_ref()),
                client.ip(),
                summary.rrl_identity,
                response,
                summary.question_end,
            );
            observe::query(
                counters,
                current.counter_slot(summary.view),
                &current.snapshot,
                client,
                &summary,
                delivery,
                response,
            );
            if delivery == Delivery::Dropped {
                continue;
            }
            batch.queue(i);
            if first_out {
                first_out = false;
                batch.send(&socket, report_send_error);
            }
        }
        batch.send(&socket, report_send_error);
        if let Some(steering) = &steering {
            steering.apply_request(&socket);
        }
    }
}

fn report_send_error(client: SocketAddr, e: std::io::Error) {
    tracing::debug!("UDP send to {client} failed: {e}");
}
