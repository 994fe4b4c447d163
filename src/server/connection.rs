//! The per-connection loop: read what the client sent, execute every complete command
//! in the buffer (pipelining), write all replies with one write, repeat.
//!
//! A command runs only once all its bytes have arrived, so a client that disconnects
//! mid-command changes nothing. The read buffer is bounded by
//! `client-query-buffer-limit`; bulk lengths are bounded by the parser.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use smallvec::SmallVec;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::protocol::parser::{
    decode_inline_token, inline_token_is_quoted, peek_keys, PeekedKeys, PEEK_WINDOW,
};
use crate::protocol::{Limits, Parsed, Parser, Proto, Reply};
use crate::server::client::{ClientInfo, ClientState};
use crate::server::dispatch::{execute, Gate};
use crate::server::{blocking, log, obuf, pause, pubsub, Server};
use crate::util::time::now_ms;

/// A client connection's byte stream: a `TcpStream`, or a TLS stream over one
/// (`tls-port`). The loop is generic over it, so the plain TCP path is compiled for
/// `TcpStream` itself (no boxing or dynamic dispatch per read).
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {
    /// Writes what the socket takes right now without waiting (`None`: this stream
    /// cannot, write through `AsyncWrite`). Replies usually fit in the socket buffer,
    /// so the common case costs one `send` and no registration for CLIENT KILL.
    fn try_write_now(&mut self, _buf: &[u8]) -> Option<std::io::Result<usize>> {
        None
    }
}

impl Stream for tokio::net::TcpStream {
    fn try_write_now(&mut self, buf: &[u8]) -> Option<std::io::Result<usize>> {
        Some(self.try_write(buf))
    }
}

/// TLS buffers records itself: always the `AsyncWrite` path.
impl Stream for tokio_rustls::server::TlsStream<tokio::net::TcpStream> {}

/// Read buffer growth step.
const READ_CHUNK: usize = 16 * 1024;

/// What processing the buffered input decided.
struct Progress {
    /// Bytes of input consumed by complete commands.
    consumed: usize,
    /// Total buffer size needed to make progress on a partial command (0: unknown).
    hint: usize,
    commands: u64,
    /// Stopped before a command the current CLIENT PAUSE holds (see `server::pause`).
    paused: bool,
}

/// Resolves once the client is killed (CLIENT KILL, shutdown): what the connection
/// waits for beside its socket while it waits to read.
///
/// A read wait happens once per request, and waiting on `kill_notify` (a `Notify`) meant
/// locking its waiter list to register and again to unregister: 2.4% of an unpipelined
/// request's CPU. The task's waker goes into an `AtomicWaker` instead (no lock);
/// [`ClientInfo::kill`](crate::server::client::ClientInfo::kill) sets `killed` and
/// wakes it. The flag is checked again after registering, so a kill in between is seen.
fn killed(info: &ClientInfo) -> impl std::future::Future<Output = ()> + '_ {
    std::future::poll_fn(move |cx| {
        if info.killed.load(Ordering::SeqCst) {
            return std::task::Poll::Ready(());
        }
        info.kill_waker.register(cx.waker());
        if info.killed.load(Ordering::SeqCst) {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
}

/// Parses and executes every complete command at the front of `input`.
fn process_input(
    srv: &Server,
    client: &mut ClientState,
    parser: &mut Parser,
    input: &[u8],
    out: &mut Reply,
) -> Progress {
    let mut pos = 0;
    let mut commands = 0;
    let mut gate = Gate::Open;
    let mut argv: SmallVec<[&[u8]; 16]> = SmallVec::new();
    let limits = Limits {
        proto_max_bulk_len: srv.hot.proto_max_bulk_len.load(Ordering::Relaxed) as i64,
        unauthenticated: !client.authenticated,
    };
    let mut hint = 0;
    let mut paused = false;
    // Input up to here was looked ahead for keys to prefetch.
    let mut peeked = 0;
    let mut keys = PeekedKeys::new();
    // Commands of this batch run back to back: each starts when the last ended.
    client.chain_clock = true;
    client.clock = None;
    // A blocked client processes nothing more until it is unblocked (Redis keeps the
    // rest of the input in the query buffer meanwhile).
    'commands: while pos < input.len() && !client.close_after_reply && client.waiter.is_none() {
        let rest = &input[pos..];
        if pos >= peeked {
            // A pipelined batch: start loading the keys of the next commands together.
            keys.clear();
            peeked = pos + peek_keys(rest, PEEK_WINDOW, &mut keys).max(1);
            if keys.len() > 1 {
                srv.ks.prefetch(client.db, &keys);
            }
        }
        match parser.parse(rest, limits) {
            Parsed::Command { consumed } => {
                if !parser.spans().is_empty() {
                    commands += 1;
                    // Pub/Sub messages queued so far go before this command's reply.
                    crate::server::pubsub::drain_into(client, out);
                    let quoted = parser.last_was_inline()
                        && parser
                            .spans()
                            .iter()
                            .any(|&(s, e)| inline_token_is_quoted(&rest[s..e]));
                    if quoted {
                        let owned: Vec<Vec<u8>> = parser
                            .spans()
                            .iter()
                            .map(|&(s, e)| decode_inline_token(&rest[s..e]))
                            .collect();
                        let refs: Vec<&[u8]> = owned.iter().map(|v| v.as_slice()).collect();
                        if srv.pause.active() && pause::must_wait(srv, client, &refs) {
                            paused = true;
                            break 'commands;
                        }
                        execute(srv, client, out, &refs, &mut gate);
                    } else {
                        argv.clear();
                        argv.extend(parser.spans().iter().map(|&(s, e)| &rest[s..e]));
                        if srv.pause.active() && pause::must_wait(srv, client, &argv) {
                            paused = true;
                            break 'commands;
                        }
                        execute(srv, client, out, &argv, &mut gate);
                    }
                }
                pos += consumed;
            }
            Parsed::Incomplete { hint: h } => {
                hint = if h > 0 { pos + h } else { 0 };
                break;
            }
            Parsed::Error(msg) => {
                out.error(&format!("ERR {msg}"));
                log::verbose(&format!(
                    "Protocol error ({msg}) from client: id={} addr={}",
                    client.id, client.info.addr
                ));
                client.close_after_reply = true;
                pos = input.len();
            }
        }
    }
    // BCAST invalidations collected while running the batch (Redis sends them before
    // its event loop sleeps, after processing what it read).
    if crate::server::tracking::broadcast_pending(srv) {
        crate::server::tracking::broadcast(srv, Some((client.id, &mut *out)));
    }
    gate.release();
    client.chain_clock = false;
    client.clock = None;
    client.stats.flush(srv);
    client.publish();
    Progress {
        consumed: pos,
        hint,
        commands,
        paused,
    }
}

/// Serves one client until it disconnects, is killed, times out or breaks the protocol.
pub async fn serve<S: Stream>(srv: Arc<Server>, mut stream: S, info: Arc<ClientInfo>) {
    let authenticated = srv.acl.default_is_open();
    let mut client = ClientState::new(info.clone(), authenticated);
    pubsub::attach_queue(&mut client);
    let mut parser = Parser::new();
    let mut out = Reply::new(Proto::Resp2);
    let mut input: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut start = 0usize; // consumed prefix of `input` not yet drained
                            // After a blocked command ends, commands already buffered run before reading more.
    let mut need_read = true;
    // This client's place among clients postponed by CLIENT PAUSE.
    let mut pause_ticket: Option<pause::Ticket> = None;
    // client-output-buffer-limit state for the replies (see `server::obuf`).
    let mut obuf_state = obuf::State::default();

    loop {
        // Make room for the next read.
        if start > 0 && (start == input.len() || start >= input.capacity() / 2) {
            input.drain(..start);
            start = 0;
        }
        if input.capacity() - input.len() < READ_CHUNK / 4 {
            input.reserve(READ_CHUNK);
        }
        if need_read {
            // Subscribers and MONITOR clients are exempt from the idle timeout, as in
            // Redis.
            let timeout = if client.pubsub.active() || info.monitor.load(Ordering::Relaxed) {
                0
            } else {
                srv.hot.timeout_secs.load(Ordering::Relaxed)
            };
            let sub = client.pubsub.subscriber();
            let read = async {
                if timeout > 0 {
                    match tokio::time::timeout(
                        Duration::from_secs(timeout),
                        stream.read_buf(&mut input),
                    )
                    .await
                    {
                        Ok(r) => r.map(Some),
                        Err(_) => Ok(None),
                    }
                } else {
                    stream.read_buf(&mut input).await.map(Some)
                }
            };
            let n = tokio::select! {
                r = read => r,
                _ = killed(&info) => break,
                // Pub/Sub messages arrived while idle: write them.
                _ = pubsub::ready(sub.as_deref()) => {
                    if !pubsub::write_queued(&srv, &mut stream, sub.as_deref(), &info).await {
                        break;
                    }
                    continue;
                }
            };
            let n = match n {
                Ok(Some(0)) | Err(_) => break,
                Ok(Some(n)) => n,
                Ok(None) => {
                    log::verbose("Closing idle client");
                    break;
                }
            };
            srv.stats
                .net_input_bytes
                .fetch_add(n as u64, Ordering::Relaxed);
        }
        need_read = true;
        if info.killed.load(Ordering::Relaxed) {
            break;
        }
        info.last_interaction_ms.store(now_ms(), Ordering::Relaxed);

        let progress = process_input(&srv, &mut client, &mut parser, &input[start..], &mut out);
        start += progress.consumed;
        if !progress.paused {
            // The postponed command ran: the next postponed client may go.
            pause_ticket = None;
        }
        if progress.commands > 0 {
            srv.stats
                .total_commands_processed
                .fetch_add(progress.commands, Ordering::Relaxed);
        }
        let pending = input.len() - start;
        info.qbuf.store(pending as u64, Ordering::Relaxed);
        let limit = srv.hot.client_query_buffer_limit.load(Ordering::Relaxed);
        // A partial command that will need more than the limit (a bulk larger than
        // it) can never complete: close now, as Redis does once its buffer passes the
        // limit, instead of reading it whole and running it.
        if progress.hint > 0 && (progress.hint as u64) <= limit {
            let need = progress.hint.saturating_sub(input.len() - start);
            input.reserve(need);
        }
        if pending as u64 > limit || progress.hint as u64 > limit {
            log::warning(&format!(
                "Closing client that reached max query buffer length: id={} addr={} (qbuf initial bytes: {:?})",
                client.id,
                info.addr,
                String::from_utf8_lossy(&input[start..start + pending.min(64)])
            ));
            break;
        }
        if let Some(w) = client.waiter.take() {
            // Blocked: send what earlier pipelined commands replied, then wait.
            durable(&srv, &mut client).await;
            if !flush(&srv, &mut stream, &mut out, &info, &mut obuf_state).await {
                break;
            }
            let pending = input.len() - start;
            let sub = client.pubsub.subscriber();
            match blocking::wait(
                &srv,
                &mut stream,
                &mut input,
                pending,
                &w,
                &info,
                sub.as_deref(),
            )
            .await
            {
                blocking::Outcome::Reply(bytes) => {
                    // What serving it changed was propagated by the serving client:
                    // the reply waits for the AOF like that client's.
                    if srv.aof.on.load(Ordering::Relaxed) {
                        client.aof_offset = srv.aof.end_offset();
                    }
                    out.buf.extend_from_slice(&bytes)
                }
                blocking::Outcome::Timeout => blocking::timeout_reply_for(&mut out, &w.argv),
                blocking::Outcome::Error => out.error(blocking::UNBLOCKED_ERROR),
                blocking::Outcome::Closed => break,
            }
            need_read = false;
        }
        durable(&srv, &mut client).await;
        if !flush(&srv, &mut stream, &mut out, &info, &mut obuf_state).await {
            break;
        }
        if progress.paused {
            // Postponed by CLIENT PAUSE: no reply until the pause ends.
            if !pause::wait(
                &srv,
                &client,
                &mut pause_ticket,
                &mut stream,
                &mut input,
                start,
            )
            .await
            {
                break;
            }
            need_read = false;
            continue;
        }
        info.last_interaction_ms.store(now_ms(), Ordering::Relaxed);
        if client.close_after_reply {
            break;
        }
    }
    crate::server::multi::cleanup(&srv, &mut client);
    crate::server::tracking::disconnect(&srv, &mut client);
    srv.monitors.remove(client.id);
    pubsub::disconnect(&srv, &mut client);
    // Out of CLIENT LIST before the peer can see the connection close (the caller
    // removes it again, harmlessly): a client that saw its connection end must not
    // find itself listed (CLIENT KILL ID <me> from a new connection).
    srv.clients.remove(client.id);
    let _ = stream.shutdown().await;
}

/// Before replies are written: waits until the AOF holds what the batch's commands
/// propagated (written, or fsynced with `appendfsync always`), once per batch.
async fn durable(srv: &Server, client: &mut ClientState) {
    if client.aof_offset > 0 {
        let off = std::mem::take(&mut client.aof_offset);
        srv.aof.wait_durable(off).await;
    }
}

/// Writes the pending replies; false if the connection is gone (or must close: over
/// `client-output-buffer-limit`).
async fn flush<S: Stream>(
    srv: &Server,
    stream: &mut S,
    out: &mut Reply,
    info: &ClientInfo,
    limit: &mut obuf::State,
) -> bool {
    if !out.buf.is_empty() {
        if !obuf::check(srv, info, limit, out.buf.len()) {
            return false;
        }
        let big = out.buf.len() as u64 > obuf::REPLY_CHUNK;
        if big {
            // Visible in CLIENT LIST while the client reads it.
            info.omem.fetch_add(out.buf.len() as u64, Ordering::Relaxed);
        }
        srv.stats
            .net_output_bytes
            .fetch_add(out.buf.len() as u64, Ordering::Relaxed);
        srv.stats
            .total_error_replies
            .fetch_add(std::mem::take(&mut out.errors), Ordering::Relaxed);
        // `flush` sends what a TLS stream still buffers (a no-op for TCP).
        // Fast path: the whole reply goes out at once (no CLIENT KILL registration).
        let mut sent = 0;
        while sent < out.buf.len() {
            match stream.try_write_now(&out.buf[sent..]) {
                Some(Ok(n)) if n > 0 => sent += n,
                Some(Err(e)) if e.kind() != std::io::ErrorKind::WouldBlock => {
                    sent = usize::MAX;
                    break;
                }
                _ => break,
            }
        }
        // CLIENT KILL also ends a write the client does not read.
        let written = if sent == usize::MAX {
            false
        } else if sent == out.buf.len() {
            true
        } else {
            let rest = &out.buf[sent..];
            tokio::select! {
                r = async {
                    stream.write_all(rest).await?;
                    stream.flush().await
                } => r.is_ok(),
                _ = info.kill_notify.notified() => false,
            }
        };
        if big {
            let n = out.buf.len() as u64;
            let _ = info
                .omem
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                    Some(v.saturating_sub(n))
                });
        }
        if !written {
            return false;
        }
        out.buf.clear();
        if out.buf.capacity() > 1024 * 1024 {
            out.buf.shrink_to(16 * 1024);
        }
    }
    true
}
