//! MULTI/EXEC in the dispatcher: queueing commands while a transaction is open, and
//! running EXEC.
//!
//! EXEC takes the keyspace gate exclusively and runs each queued command through the
//! normal dispatch path, so the transaction is atomic with respect to every other
//! client while each command behaves exactly as on its own (its errors become its
//! entry in EXEC's reply and do not stop the others). Blocking commands inside act as
//! their non-blocking forms; clients blocked on keys the transaction filled are served
//! after the whole transaction, as in Redis.

use crate::commands::multi::{unwatch_all, watches_broken};
use crate::commands::{flags, Command};
use crate::keyspace::Txn;
use crate::protocol::Reply;
use crate::server::client::ClientState;
use crate::server::dispatch::{execute, Gate};
use crate::server::Server;
use crate::util::time::now_ms;

/// Commands that run immediately even inside MULTI (Redis's list in processCommand).
fn runs_inside_multi(cmd: &Command, parent: Option<&Command>) -> bool {
    parent.is_none()
        && matches!(
            cmd.name,
            "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
        )
}

/// Marks the open transaction (if any) as failed: a command was rejected while
/// queueing, so EXEC will answer EXECABORT.
pub fn flag_error(client: &mut ClientState) {
    if !client.in_exec {
        if let Some(m) = client.multi.as_mut() {
            m.aborted = true;
        }
    }
}

/// EXEC itself was rejected (wrong arity): the transaction, if any, is discarded and
/// the error is reported as `EXECABORT Transaction discarded because of: <error>`.
pub fn abort<'a>(
    srv: &'a Server,
    client: &mut ClientState,
    out: &mut Reply,
    error: &str,
    gate: &mut Gate<'a>,
) {
    client.multi = None;
    if client.watcher.is_some() && gate.ensure_exclusive(srv) {
        let mut txn = Txn::exclusive(&srv.ks, now_ms());
        unwatch_all(&mut txn, client);
    }
    let why = error.strip_prefix("ERR ").unwrap_or(error);
    out.error(&format!(
        "EXECABORT Transaction discarded because of: {why}"
    ));
}

/// Called by the dispatcher for a resolved command while a transaction is open.
/// Returns true if it handled the command (queued it, rejected it, or ran EXEC).
pub fn intercept<'a>(
    srv: &'a Server,
    client: &mut ClientState,
    out: &mut Reply,
    cmd: &'static Command,
    parent: Option<&'static Command>,
    args: &[&[u8]],
    gate: &mut Gate<'a>,
) -> bool {
    if client.in_exec || client.multi.is_none() {
        return false;
    }
    if cmd.has(flags::NO_MULTI) {
        flag_error(client);
        out.error("ERR Command not allowed inside a transaction");
        return true;
    }
    if runs_inside_multi(cmd, parent) {
        if cmd.name == "exec" {
            let reply_start = out.buf.len();
            let started = std::time::Instant::now();
            exec(srv, client, out, gate);
            let usec = started.elapsed().as_micros() as u64;
            crate::server::latency::after_command(srv, cmd, usec, false);
            cmd.stats
                .calls
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            cmd.stats
                .usec
                .fetch_add(usec, std::sync::atomic::Ordering::Relaxed);
            // EXECABORT (or a BUSY abort) is a failed EXEC, as in Redis.
            if out.buf.get(reply_start) == Some(&b'-') {
                cmd.stats
                    .failed
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            client.last_cmd = Some((cmd, None));
            return true;
        }
        return false;
    }
    if let Some(m) = client.multi.as_mut() {
        m.queued.push(args.iter().map(|a| a.to_vec()).collect());
    }
    client.last_cmd = Some((cmd, parent));
    out.simple("QUEUED");
    true
}

fn exec<'a>(srv: &'a Server, client: &mut ClientState, out: &mut Reply, gate: &mut Gate<'a>) {
    let Some(m) = client.multi.take() else {
        return;
    };
    if !gate.ensure_exclusive(srv) {
        // Refused like any other command while a script is busy, which aborts the
        // transaction (Redis's rejectCommand -> execCommandAbort). The WATCHes stay
        // until the gate is free again (next UNWATCH/EXEC/disconnection): releasing
        // them needs the shards the busy script holds.
        drop(m);
        abort(
            srv,
            client,
            out,
            crate::server::dispatch::busy_reply(srv),
            gate,
        );
        return;
    }
    let broken = {
        let mut txn = Txn::exclusive(&srv.ks, now_ms());
        let broken = watches_broken(&mut txn, client);
        unwatch_all(&mut txn, client);
        broken
    };
    if m.aborted {
        out.error("EXECABORT Transaction discarded because of previous errors.");
        return;
    }
    if broken {
        out.null_array();
        return;
    }
    out.array(m.queued.len());
    client.in_exec = true;
    let deny_blocking = std::mem::replace(&mut client.deny_blocking, true);
    for argv in &m.queued {
        let refs: Vec<&[u8]> = argv.iter().map(|a| a.as_slice()).collect();
        execute(srv, client, out, &refs, gate);
    }
    client.in_exec = false;
    client.deny_blocking = deny_blocking;
    // The transaction's writes, as one unit (still under the exclusive gate).
    let ops = std::mem::take(&mut client.exec_prop);
    crate::server::propagate::flush_unit(srv, client, ops);
    let ready = std::mem::take(&mut client.exec_ready);
    if !ready.is_empty() {
        let mut txn = Txn::exclusive(&srv.ks, now_ms());
        txn.prop.on = srv.aof.on.load(std::sync::atomic::Ordering::Relaxed);
        txn.ready = ready;
        crate::server::blocking::serve_ready(srv, client, &mut txn);
    }
}

/// Drops a disconnecting client's watches (its transaction just goes away).
pub fn cleanup(srv: &Server, client: &mut ClientState) {
    client.multi = None;
    if client.watcher.is_none() {
        return;
    }
    let _gate = srv.ks.gate.read();
    let mut txn = Txn::shared(&srv.ks, now_ms());
    unwatch_all(&mut txn, client);
}

/// Whether the open transaction queued a write command (EXEC is then a write, for
/// `-MISCONF`).
pub fn queued_writes(srv: &Server, client: &ClientState) -> bool {
    queued_with(srv, client, flags::WRITE)
}

/// Whether the open transaction queued a command with `flag`.
pub fn queued_with(srv: &Server, client: &ClientState, flag: u64) -> bool {
    let Some(m) = client.multi.as_ref() else {
        return false;
    };
    m.queued.iter().any(|argv| {
        let refs: Vec<&[u8]> = argv.iter().map(|a| a.as_slice()).collect();
        matches!(srv.commands.resolve(&refs), Ok((c, _)) if c.has(flag))
    })
}
