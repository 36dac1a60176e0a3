//! Handing a recursive view's queries to its resolver: a name that is not ours
//! ([`Outcome::Forward`]) or our CNAME into a forwarded name ([`Outcome::Chase`]). A cache hit is
//! written inline; over UDP a miss becomes a task on the runtime, so the receive loop that took
//! it goes on at once and never waits on an upstream; over TCP the connection's own task waits.

use std::net::SocketAddr;
use std::sync::Arc;

use super::Published;
use super::rrl::RateLimiter;
use crate::answer::{Outcome, Summary};
use crate::observe::Delivery;
use crate::resolve::Resolver;
use crate::view::Forward;

/// A forwarded query over UDP, handed from a receive loop to the runtime: the loop never waits
/// on an upstream. The response goes out on `reply`, a clone of the socket the query came in
/// on, so it comes from the address the client asked.
#[allow(clippy::too_many_arguments)]
pub fn udp(
    runtime: &tokio::runtime::Handle,
    state: &Arc<Published>,
    reply: &Arc<std::net::UdpSocket>,
    limiter: &Arc<RateLimiter>,
    client: SocketAddr,
    summary: &Summary,
    request: &[u8],
    written: &[u8],
) -> bool {
    let (Some(view), Some(forward)) = (summary.view, summary.forward) else {
        return false;
    };
    let Some(resolver) = state.views[view].resolver.clone() else {
        return false;
    };
    let Some(permit) = resolver.admit() else {
        return false;
    };
    // For a chase, our answer so far; for a forward, only the placeholder SERVFAIL.
    let ours = (summary.outcome == Outcome::Chase).then(|| written.to_vec());
    let (state, reply, request) = (state.clone(), reply.clone(), request.to_vec());
    let (limiter, identity, question_end) =
        (limiter.clone(), summary.rrl_identity, summary.question_end);
    runtime.spawn(async move {
        let mut response = Vec::with_capacity(512);
        let answered = resolve(
            &resolver,
            &state,
            view,
            forward,
            client,
            &request,
            ours.as_deref(),
            true,
            &mut response,
        )
        .await;
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
#[allow(clippy::too_many_arguments)]
async fn resolve(
    resolver: &Resolver,
    state: &Published,
    view: usize,
    forward: Forward,
    client: SocketAddr,
    request: &[u8],
    ours: Option<&[u8]>,
    over_udp: bool,
    out: &mut Vec<u8>,
) -> bool {
    let Ok(query) = crate::wire::query::parse(request) else {
        return false;
    };
    // A chase's target never sits below a delegation, so only a forward needs the name.
    let upstreams = state.snapshot.views[view].upstreams(forward, query.key.as_wire());
    match ours {
        Some(ours) => {
            let chased = resolver
                .chase(request, ours, client.ip(), upstreams, over_udp, out)
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
                .resolve(request, client.ip(), upstreams, over_udp, out)
                .await
        }
    }
}

/// The cache's answer to a forwarded query or a chase, written inline when it has one.
pub fn answer_from_cache(
    state: &Published,
    summary: &Summary,
    request: &[u8],
    over_udp: bool,
    response: &mut Vec<u8>,
) -> bool {
    let Some(resolver) = summary
        .view
        .and_then(|view| state.views[view].resolver.as_ref())
    else {
        return false;
    };
    match summary.outcome {
        Outcome::Forward => resolver.answer_from_cache(request, over_udp, response),
        Outcome::Chase => {
            let ours = std::mem::take(response);
            let answered = resolver.chase_from_cache(request, &ours, over_udp, response);
            if !answered {
                *response = ours;
            }
            answered
        }
        _ => false,
    }
}

/// [`udp`] for TCP: the connection's task waits for the resolver itself.
pub async fn tcp(
    state: &Arc<Published>,
    client: SocketAddr,
    summary: &Summary,
    request: &[u8],
    response: &mut Vec<u8>,
) {
    let (Some(view), Some(forward)) = (summary.view, summary.forward) else {
        return;
    };
    let Some(resolver) = state.views[view].resolver.clone() else {
        return;
    };
    if answer_from_cache(state, summary, request, false, response) {
        return;
    }
    let Some(_permit) = resolver.admit() else {
        return;
    };
    let ours = (summary.outcome == Outcome::Chase).then(|| response.clone());
    let mut resolved = Vec::with_capacity(512);
    if resolve(
        &resolver,
        state,
        view,
        forward,
        client,
        request,
        ours.as_deref(),
        false,
        &mut resolved,
    )
    .await
    {
        *response = resolved;
    }
}
