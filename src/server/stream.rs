//! DNS messages over a byte stream, as TCP carries them (RFC 7766) and DNS over TLS inside TLS
//! (RFC 7858): two-octet length framing, several queries per connection (answered in turn, but a
//! query forwarded to a resolver answered when its answer comes, so out of order), an idle
//! timeout between messages and a deadline for each message once it has started to arrive.
//! On shutdown a connection stops waiting for new queries, but a query already arriving is read,
//! answered and written (within the message and idle timeouts), so a stop never cuts an answer in
//! half. A zone transfer is written on a blocking thread and sent message by message as the
//! connection takes them, so it holds up no other connection. Generic over the stream, so that
//! plain TCP ([`super::tcp`]) and TLS ([`super::tls`]) share it.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{Semaphore, mpsc};
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

use super::{Published, SharedState, TcpLimits};
use crate::answer::{Next, Summary};
use crate::observe::{self, Delivery, LoopCounters};
use crate::transfer;
use crate::wire::Transport;

/// Forwarded queries one connection may have waiting for the resolver at once. Their answers go
/// out as they come, and the connection's other queries are answered meanwhile (RFC 7766 §6.2.1.1:
/// a slow upstream must not hold up the answers behind it); a further one waits to be read.
const FORWARDS_IN_FLIGHT: usize = 16;

/// The read buffer of a connection (see [`read_queries`]).
const QUERY_BUFFER: usize = 1024;

/// An answer ready to go out, with what the observation stage reads of it.
struct Outgoing {
    published: Arc<Published>,
    summary: Summary,
    response: Vec<u8>,
}

/// Serves length-framed DNS messages on `stream` until the client goes, a timeout, or the
/// stop; then closes it (for TLS, with close_notify), within the idle timeout. Queries are read
/// and answered in turn, except those forwarded to a recursive view's resolver: each waits on a
/// task of its own and its answer is written when it comes, so answers can leave out of order.
pub(super) async fn connection<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    stream: S,
    client: SocketAddr,
    snapshot: SharedState,
    limits: TcpLimits,
    counters: &LoopCounters,
    shutdown: CancellationToken,
) {
    let (mut reading, mut writing) = tokio::io::split(stream);
    let (outgoing, answers) = mpsc::channel(FORWARDS_IN_FLIGHT);
    tokio::join!(
        read_queries(
            &mut reading,
            client,
            snapshot,
            limits,
            counters.transport(),
            outgoing,
            shutdown
        ),
        write_answers(&mut writing, client, limits, counters, answers),
    );
    let mut stream = reading.unsplit(writing);
    let _ = timeout(limits.idle_timeout, stream.shutdown()).await;
}

/// Reads queries and answers them, handing each answer to the writer: at once, or from a task
/// that waits on the resolver. Stops when the client goes, a timeout, the stop, or the writer.
async fn read_queries<R: AsyncRead + Unpin>(
    stream: &mut R,
    client: SocketAddr,
    snapshot: SharedState,
    limits: TcpLimits,
    transport: Transport,
    outgoing: mpsc::Sender<Outgoing>,
    shutdown: CancellationToken,
) {
    // Buffered: a message's length and body (and, pipelined, the next messages) come in one
    // read call rather than three. 1 KiB holds a burst of ordinary queries; tokio's default
    // 8 KiB would be most of an idle connection's memory.
    let mut stream = BufReader::with_capacity(QUERY_BUFFER, stream);
    let forwards = Arc::new(Semaphore::new(FORWARDS_IN_FLIGHT));
    let mut request = Vec::with_capacity(512);
    loop {
        let mut length = [0u8; 2];
        // Waiting for a query is where a stop ends the connection (answers still owed are
        // written), and so does a writer that has given up.
        tokio::select! {
            read = timeout(limits.idle_timeout, stream.read_exact(&mut length[..1])) => match read {
                Ok(Ok(_)) => {}
                _ => return,
            },
            () = shutdown.cancelled() => return,
            () = outgoing.closed() => return,
        }
        let rest = async {
            stream.read_exact(&mut length[1..]).await?;
            let len = u16::from_be_bytes(length) as usize;
            request.resize(len, 0);
            stream.read_exact(&mut request).await
        };
        match timeout(limits.message_timeout, rest).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        if request.is_empty() {
            return;
        }
        let published = snapshot.load_full();
        let mut response = Vec::with_capacity(512);
        let Some(summary) = super::respond_guarded(
            &published.snapshot,
            client,
            &request,
            transport,
            &mut response,
        ) else {
            continue;
        };
        if matches!(summary.next, Next::Forward(_) | Next::Chase(_)) {
            let Ok(permit) = forwards.clone().acquire_owned().await else {
                return;
            };
            let (outgoing, request) = (outgoing.clone(), request.clone());
            tokio::spawn(async move {
                let _permit = permit;
                super::forward::stream(
                    &published,
                    client,
                    &summary,
                    &request,
                    transport,
                    &mut response,
                )
                .await;
                let answer = Outgoing {
                    published,
                    summary,
                    response,
                };
                let _ = outgoing.send(answer).await;
            });
            continue;
        }
        let answer = Outgoing {
            published,
            summary,
            response,
        };
        if outgoing.send(answer).await.is_err() {
            return;
        }
    }
}

/// Writes the answers as they come, until every sender (the reader and the forwarding tasks)
/// is done, or a write fails or stalls.
async fn write_answers<W: AsyncWrite + Unpin>(
    stream: &mut W,
    client: SocketAddr,
    limits: TcpLimits,
    counters: &LoopCounters,
    mut answers: mpsc::Receiver<Outgoing>,
) {
    while let Some(Outgoing {
        published,
        summary,
        response,
    }) = answers.recv().await
    {
        observe::query(
            counters,
            published.counter_slot(summary.view),
            &published.snapshot,
            client,
            &summary,
            Delivery::Sent,
            &response,
        );
        if let Next::Transfer(request) = summary.next {
            if !send_transfer(stream, client, published, request, limits).await {
                return;
            }
            continue;
        }
        drop(published);
        let mut framed = Vec::with_capacity(response.len() + 2);
        framed.extend_from_slice(&(response.len() as u16).to_be_bytes());
        framed.extend_from_slice(&response);
        match timeout(limits.idle_timeout, write(stream, &framed)).await {
            Ok(Ok(())) => {}
            _ => return,
        }
    }
}

/// Streams a zone transfer: the messages are written on a blocking thread (a 200k-record zone
/// takes a while) into a small channel, so at most a few are in memory, and sent as the
/// connection takes them. Returns false when the connection failed.
async fn send_transfer<S: AsyncWrite + Unpin>(
    stream: &mut S,
    client: SocketAddr,
    published: Arc<Published>,
    request: transfer::Request,
    limits: TcpLimits,
) -> bool {
    let (sender, mut messages) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    let describe = (
        published.snapshot.views[request.view].name.clone(),
        request.origin.clone(),
        request.qtype,
    );
    let writer = tokio::task::spawn_blocking(move || {
        transfer::write_messages(&published.snapshot, &request, |message| {
            sender.blocking_send(message).is_ok()
        })
    });
    let mut ok = true;
    while let Some(message) = messages.recv().await {
        let mut framed = Vec::with_capacity(message.len() + 2);
        framed.extend_from_slice(&(message.len() as u16).to_be_bytes());
        framed.extend_from_slice(&message);
        if !matches!(
            timeout(limits.idle_timeout, write(stream, &framed)).await,
            Ok(Ok(()))
        ) {
            ok = false;
            // Dropping the receiver stops the writer at its next message.
            break;
        }
    }
    drop(messages);
    match writer.await {
        Ok(sent) => transfer::log_sent(client, describe, &sent, ok),
        Err(e) => tracing::error!("zone transfer to {client} failed: {e}"),
    }
    ok
}

/// Writes `bytes` and flushes them: a TLS stream may keep what the socket did not take in its
/// own buffer, and a pipelining client waits for the answer while we wait for its next query.
async fn write<S: AsyncWrite + Unpin>(stream: &mut S, bytes: &[u8]) -> std::io::Result<()> {
    stream.write_all(bytes).await?;
    stream.flush().await
}
