//! Handing a recursive view's queries to its resolver: a name that is not ours
//! ([`Next::Forward`]) or our CNAME into a forwarded name ([`Next::Chase`]). A cache hit is
//! written inline; over UDP a miss becomes a task on the runtime, so the receive loop that took
//! it goes on at once and never waits on an upstream; over TCP the connection's own task waits.

use std::net::SocketAddr;
use std::sync::Arc;

use super::Published;
use super::rrl::RateLimiter;
use crate::answer::{Next, Summary};
use crate::observe::Delivery;
use crate::resolve::Resolver;
use crate::view::Forward;
use crate::wire::Transport;

/// What a UDP receive loop hands a forwarded query over with: the runtime its resolver task
/// runs on, the socket the answer leaves from (a clone of the one the query came in on, so it
/// comes from the address the client asked), and the rate limiter that decides on the answer as
/// on every UDP answer.
pub(super) struct Handoff<'a> {
    pub runtime: &'a tokio::runtime::Handle,
    pub reply: &'a Arc<std::net::UdpSocket>,
    pub limiter: &'a Arc<RateLimiter>,
}

/// A query on its way to a view's resolver.
struct Handed<'a> {
    view: usize,
    to: Forward,
    client: SocketAddr,
    request: &'a [u8],
    /// For a chase, our answer so far; for a forward, nothing (what was written is only the
    /// placeholder SERVFAIL).
    ours: Option<&'a [u8]>,
    transport: Transport,
}

/// A forwarded query over UDP, handed from a receive loop to the runtime: the loop never waits
/// on an upstream. `written` is the response the answer stage wrote.
pub(super) fn udp(
    handoff: &Handoff,
    state: &Arc<Published>,
    client: SocketAddr,
    summary: &Summary,
    request: &[u8],
    written: &[u8],
) -> bool {
    let (Some(view), Next::Forward(to) | Next::Chase(to)) = (summary.view, &summary.next) else {
        return false;
    };
    let Some(resolver) = state.views[view].resolver.clone() else {
        return false;
    };
    let Some(permit) = resolver.admit() else {
        return false;
    };
    let to = *to;
    let ours = matches!(summary.next, Next::Chase(_)).then(|| written.to_vec());
    let (state, reply, request) = (state.clone(), handoff.reply.clone(), request.to_vec());
    let (limiter, identity, question_end) = (
        handoff.limiter.clone(),
        summary.rrl_identity,
        summary.question_end,
    );
    handoff.runtime.spawn(async move {
        let mut response = Vec::with_capacity(512);
        let handed = Handed {
            view,
            to,
            client,
            request: &request,
            ours: ours.as_deref(),
            transport: Transport::Udp,
        };
        let answered = resolve(&resolver, &state, &handed, &mut response).await;
        drop(permit);
        if !answered {
            return;
        }
        // Rate limiting decides here, as for every UDP answer (a view facing the public with
        // `open_resolver = true` has it on by default).
        let policy = state.views[view].rate_limit.as_ref();
        if limiter.apply(policy, client.ip(), identity, &mut response, question_end)
            == Delivery::Dropped
        {
            return;
        }
        if let Err(e) = reply.send_to(&response, client) {
            tracing::debug!("UDP send to {client} failed: {e}");
        }
    });
    true
}

/// Asks the view's resolver: a forwarded query, or (with `ours`) the chase of our CNAME.
async fn resolve(
    resolver: &Resolver,
    state: &Published,
    handed: &Handed<'_>,
    out: &mut Vec<u8>,
) -> bool {
    let Ok(query) = crate::wire::query::parse(handed.request) else {
        return false;
    };
    // A chase's target never sits below a delegation, so only a forward needs the name.
    let upstreams = state.snapshot.views[handed.view].upstreams(handed.to, query.key.as_wire());
    let (request, client, transport) = (handed.request, handed.client.ip(), handed.transport);
    match handed.ours {
        Some(ours) => {
            let chased = resolver
                .chase(request, ours, client, upstreams, transport, out)
                .await;
            // Not expected (our own answer always reads back), but then our part still goes.
            if !chased {
                out.clear();
                out.extend_from_slice(ours);
            }
            true
        }
        None => {
            resolver
                .resolve(request, client, upstreams, transport, out)
                .await
        }
    }
}

/// The cache's answer to a forwarded query or a chase, written inline when it has one.
pub(super) fn answer_from_cache(
    state: &Published,
    summary: &Summary,
    request: &[u8],
    transport: Transport,
    response: &mut Vec<u8>,
) -> bool {
    let Some(resolver) = summary
        .view
        .and_then(|view| state.views[view].resolver.as_ref())
    else {
        return false;
    };
    match summary.next {
        Next::Forward(_) => resolver.answer_from_cache(request, transport, response),
        Next::Chase(_) => {
            let ours = std::mem::take(response);
            let answered = resolver.chase_from_cache(request, &ours, transport, response);
            if !answered {
                *response = ours;
            }
            answered
        }
        Next::Send(_) | Next::Transfer(_) => false,
    }
}

/// [`udp`] for a connection (TCP, DNS over TLS or HTTPS): its task waits for the resolver
/// itself.
pub(super) async fn stream(
    state: &Arc<Published>,
    client: SocketAddr,
    summary: &Summary,
    request: &[u8],
    transport: Transport,
    response: &mut Vec<u8>,
) {
    let (Some(view), Next::Forward(to) | Next::Chase(to)) = (summary.view, &summary.next) else {
        return;
    };
    let Some(resolver) = state.views[view].resolver.clone() else {
        return;
    };
    if answer_from_cache(state, summary, request, transport, response) {
        return;
    }
    let Some(_permit) = resolver.admit() else {
        return;
    };
    let ours = matches!(summary.next, Next::Chase(_)).then(|| response.clone());
    let handed = Handed {
        view,
        to: *to,
        client,
        request,
        ours: ours.as_deref(),
        transport,
    };
    let mut resolved = Vec::with_capacity(512);
    if resolve(&resolver, state, &handed, &mut resolved).await {
        *response = resolved;
    }
}
