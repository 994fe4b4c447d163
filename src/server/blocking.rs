//! Blocked clients, server side: serving them when their keys become ready, and the
//! blocked connection's wait (timeout, CLIENT UNBLOCK, disconnection).
//!
//! The waiter queues live in the keyspace shards (`keyspace::blocking`). This module
//! is the other half:
//!
//! * [`serve_ready`] runs inside the dispatcher right after a command, while that
//!   command's shard locks are still held, for every key the command made ready. It
//!   serves the key's waiters first-come first-served by calling each blocked
//!   command's `on_ready`, which pops and writes the waiter's reply. A push of N
//!   elements serves at most N waiters; an element never becomes visible to other
//!   clients in between. Serving BLMOVE pushes to another key, which can make that key
//!   ready in turn; the loop serves it too (its shard was locked up front, see
//!   `Txn::lock_for_waiters`).
//! * [`wait`] is the blocked connection's side: it sleeps until served, timed out,
//!   unblocked or disconnected, then leaves the queues and returns the outcome.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;

use crate::commands::Ctx;
use crate::keyspace::blocking::Cancel;
use crate::keyspace::{Txn, Waiter};
use crate::protocol::{Proto, Reply};
use crate::server::client::{ClientInfo, ClientState};
use crate::server::Server;
use crate::util::time::now_ms;

/// Serves clients blocked on the keys `txn` made ready. `client` is the client whose
/// command made them ready; its state is only borrowed to build a context (its
/// database is switched to the waiter's for the call and restored).
pub fn serve_ready<'a>(srv: &'a Server, client: &mut ClientState, txn: &mut Txn<'a>) {
    let saved_db = client.db;
    let mut i = 0;
    // `ready` may grow while serving (BLMOVE destinations).
    while i < txn.ready.len() {
        let (db, key) = txn.ready[i].clone();
        i += 1;
        for w in txn.waiters_of(db, &key) {
            // A missing key serves nobody, except XREADGROUP waiters, which are
            // unblocked with an error when their stream goes away.
            if !txn.exists(db, &key)
                && !w
                    .argv
                    .first()
                    .is_some_and(|a| a.eq_ignore_ascii_case(b"xreadgroup"))
            {
                continue;
            }
            if !w.try_claim() {
                continue; // served elsewhere or cancelled; its owner dequeues it
            }
            let argv: Vec<&[u8]> = w.argv.iter().map(|a| &**a).collect();
            let Some(on_ready) = srv
                .commands
                .resolve(&argv)
                .ok()
                .and_then(|(cmd, _)| cmd.on_ready.map(|f| (cmd, f)))
            else {
                w.unclaim();
                continue;
            };
            let (cmd, on_ready) = on_ready;
            let mut out = Reply::new(if w.resp3 { Proto::Resp3 } else { Proto::Resp2 });
            client.db = w.db;
            let first_event = txn.events.len();
            let result = {
                let mut ctx = Ctx {
                    srv,
                    client,
                    out: &mut out,
                    txn,
                    cmd,
                };
                on_ready(&mut ctx, &argv, &key)
            };
            client.db = saved_db;
            // The served client's events positioned themselves in its own reply: for
            // the pushing client they come after its reply (Redis serves blocked
            // clients once the command is done).
            for ev in txn.events.iter_mut().skip(first_event) {
                ev.at = crate::server::notify::AFTER_REPLY;
            }
            match result {
                Ok(false) => {
                    w.unclaim();
                    continue;
                }
                Ok(true) => {}
                Err(e) => {
                    out.buf.clear();
                    out.error(&e.0);
                }
            }
            // What serving it changed is propagated as its own unit (the pusher's
            // was written before), in the non-blocking form its `on_ready` gave.
            if txn.prop.on {
                crate::server::propagate::end_command(txn, w.db, cmd, None, None, true);
                let ops = crate::server::propagate::take_ops(txn);
                crate::server::propagate::flush_unit(srv, client, ops);
            }
            // Served: it leaves this key's queue now (its other keys' queues are left
            // by its own connection, which skips nothing since it is no longer waiting).
            txn.remove_waiter(db, &key, &w);
            w.complete(std::mem::take(&mut out.buf));
        }
    }
    txn.ready.clear();
}

/// Serves the clients blocked on streams the active expiry cycle deleted
/// (`CycleStats::streams_gone`): XREADGROUP waiters get their error, as when the key
/// is deleted by a command or found expired on access.
pub fn serve_expired_streams(srv: &Server, gone: Vec<(usize, Box<[u8]>)>) {
    if gone.is_empty() {
        return;
    }
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], 0).into();
    let info = Arc::new(ClientInfo::new(0, addr, addr, -1, now_ms()));
    let mut client = ClientState::new(info, true);
    for (db, key) in gone {
        let _gate = srv.ks.gate.read();
        let mut txn = Txn::shared(&srv.ks, now_ms());
        txn.lock_keys(db, std::iter::once(&*key));
        txn.lock_for_waiters(db, &[&key]);
        txn.ready.push((db, key));
        serve_ready(srv, &mut client, &mut txn);
    }
}

/// How a blocked client's wait ended.
pub enum Outcome {
    /// Served: the reply bytes.
    Reply(Vec<u8>),
    /// Timed out or CLIENT UNBLOCK ... TIMEOUT.
    Timeout,
    /// CLIENT UNBLOCK ... ERROR.
    Error,
    /// The connection closed or was killed.
    Closed,
}

/// The reply a blocked command gives on timeout (Redis's
/// `replyToBlockedClientTimedOut`: a null array for lists, sorted sets and streams,
/// BLMOVE included).
pub fn timeout_reply(out: &mut Reply) {
    out.null_array();
}

/// [`timeout_reply`] for the blocked command `argv`: WAITAOF (blocked with no keys
/// until its timeout, waiting for replicas there are none of) answers
/// `[numlocal acknowledged, 0]`, the local count being its second stored argument;
/// WAIT answers the number of replicas that acknowledged, 0.
pub fn timeout_reply_for(out: &mut Reply, argv: &[Box<[u8]>]) {
    if argv
        .first()
        .is_some_and(|a| a.eq_ignore_ascii_case(b"wait"))
    {
        out.int(0);
        return;
    }
    if argv
        .first()
        .is_some_and(|a| a.eq_ignore_ascii_case(b"waitaof"))
    {
        let local = argv.get(1).is_some_and(|a| &**a == b"1");
        out.array(2);
        out.int(local as i64);
        out.int(0);
        return;
    }
    timeout_reply(out);
}

/// The error a client unblocked with CLIENT UNBLOCK ... ERROR receives.
pub const UNBLOCKED_ERROR: &str = "UNBLOCKED client unblocked via CLIENT UNBLOCK";

/// Waits for a blocked client's outcome. Bytes the client sends meanwhile are appended
/// to `input` (processed once it is unblocked, as Redis does); `pending` is how many
/// unprocessed bytes `input` already held, to enforce the query buffer limit. Pub/Sub
/// messages for `sub` (a RESP3 subscriber may block) are written meanwhile.
pub async fn wait<S: crate::server::connection::Stream>(
    srv: &Server,
    stream: &mut S,
    input: &mut Vec<u8>,
    pending: usize,
    w: &Arc<Waiter>,
    info: &ClientInfo,
    sub: Option<&crate::server::pubsub::Subscriber>,
) -> Outcome {
    *info.blocked.lock() = Some(w.clone());
    srv.stats.blocked_clients.fetch_add(1, Ordering::Relaxed);
    let base = input.len() - pending;
    let why = loop {
        if w.is_settled() {
            break Cancel::Timeout; // not used: the state says what happened
        }
        let sleep = async {
            if w.deadline_ms == 0 {
                std::future::pending::<()>().await
            } else {
                let left = w.deadline_ms.saturating_sub(now_ms());
                tokio::time::sleep(Duration::from_millis(left)).await
            }
        };
        if input.capacity() - input.len() < 1024 {
            input.reserve(16 * 1024);
        }
        tokio::select! {
            _ = w.notify.notified() => continue,
            _ = sleep => break Cancel::Timeout,
            _ = info.kill_notify.notified() => break Cancel::Gone,
            _ = crate::server::pubsub::ready(sub) => {
                if !crate::server::pubsub::write_queued(srv, stream, sub, info).await {
                    break Cancel::Gone;
                }
            }
            r = stream.read_buf(input) => match r {
                Ok(0) | Err(_) => break Cancel::Gone,
                Ok(n) => {
                    srv.stats.net_input_bytes.fetch_add(n as u64, Ordering::Relaxed);
                    let limit = srv.hot.client_query_buffer_limit.load(Ordering::Relaxed);
                    if (input.len() - base) as u64 > limit {
                        break Cancel::Gone;
                    }
                }
            },
        }
    };
    leave_queues(srv, w);
    *info.blocked.lock() = None;
    srv.stats.blocked_clients.fetch_sub(1, Ordering::Relaxed);
    match w.finish(why) {
        Ok(reply) if why != Cancel::Gone => Outcome::Reply(reply),
        Ok(_) | Err(Cancel::Gone) => Outcome::Closed,
        Err(Cancel::Timeout) => Outcome::Timeout,
        Err(Cancel::Error) => Outcome::Error,
    }
}

/// Removes a waiter from the queues of all its keys, under their shard locks (so no
/// server is serving it meanwhile).
fn leave_queues(srv: &Server, w: &Arc<Waiter>) {
    let _gate = srv.ks.gate.read();
    let mut txn = Txn::shared(&srv.ks, now_ms());
    txn.lock_keys(w.db, w.keys.iter().map(|k| &**k));
    for k in &w.keys {
        txn.remove_waiter(w.db, k, w);
    }
}
