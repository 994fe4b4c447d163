//! Transactions (Redis's `multi.c`): MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! Queueing and running EXEC happen in the dispatcher (`server/multi.rs`), because
//! they wrap other commands: while a client is in MULTI, every command except EXEC,
//! DISCARD, MULTI, WATCH, QUIT and RESET is queued; EXEC runs the queue under the
//! exclusive gate, so nothing else runs in between. The handlers here cover the
//! commands' own behaviour: starting a transaction, dropping it, and WATCH (the keys'
//! watchers live in the keyspace shards, see `keyspace::watch`).

use super::{flags::*, CmdResult, Command, Ctx, RError};
use crate::keyspace::{Txn, Watcher};
use crate::server::client::{ClientState, MultiState};

const FLAGS: u64 = NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY;
const ACL: &[&str] = &["fast", "transaction"];

crate::commands! { pub static COMMANDS = [
    Command::new("multi", 1, FLAGS, multi).acl(ACL),
    Command::new("exec", 1, NOSCRIPT | LOADING | STALE | SKIP_SLOWLOG, exec_outside_multi)
        .acl(&["slow", "transaction"]),
    Command::new("discard", 1, FLAGS, discard).acl(ACL),
    Command::new("watch", -2, FLAGS, watch).keys(1, -1, 1).acl(ACL),
    Command::new("unwatch", 1, FLAGS, unwatch).acl(ACL),
]; }

fn multi(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(RError::raw("ERR MULTI calls can not be nested"));
    }
    ctx.client.multi = Some(MultiState::default());
    ctx.out.ok();
    Ok(())
}

/// EXEC reaches its handler only outside MULTI (inside, the dispatcher runs it).
fn exec_outside_multi(_ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    Err(RError::raw("ERR EXEC without MULTI"))
}

fn discard(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    if ctx.client.multi.is_none() {
        return Err(RError::raw("ERR DISCARD without MULTI"));
    }
    discard_transaction(ctx.txn, ctx.client);
    ctx.out.ok();
    Ok(())
}

/// Drops a queued transaction and the client's watches (DISCARD, RESET).
pub fn discard_transaction(txn: &mut Txn, client: &mut ClientState) {
    client.multi = None;
    unwatch_all(txn, client);
}

fn watch(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(RError::raw("ERR WATCH inside MULTI is not allowed"));
    }
    let db = ctx.db();
    let w = ctx.client.watcher.get_or_insert_with(Watcher::new).clone();
    for &key in &argv[1..] {
        let already = ctx
            .client
            .watched
            .iter()
            .any(|(d, k, _)| *d == db && &**k == key);
        if already {
            continue;
        }
        let existed = ctx.txn.watch(db, key, &w);
        ctx.client.watched.push((db, key.into(), existed));
    }
    ctx.out.ok();
    Ok(())
}

fn unwatch(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    unwatch_all(ctx.txn, ctx.client);
    ctx.out.ok();
    Ok(())
}

/// Forgets every key the client watches. In shared mode the caller must hold no shard
/// locks yet (the keys' shards are locked here, database by database, in order).
pub fn unwatch_all(txn: &mut Txn, client: &mut ClientState) {
    let Some(w) = client.watcher.take() else {
        client.watched.clear();
        return;
    };
    let mut keys = std::mem::take(&mut client.watched);
    keys.sort_by_key(|(db, _, _)| *db);
    if !txn.is_exclusive() {
        let mut i = 0;
        while i < keys.len() {
            let db = keys[i].0;
            let j = i + keys[i..].iter().take_while(|(d, _, _)| *d == db).count();
            txn.lock_keys(db, keys[i..j].iter().map(|(_, k, _)| &**k));
            i = j;
        }
    }
    for (db, k, _) in &keys {
        txn.unwatch(*db, k, &w);
    }
}

/// Whether EXEC must fail because a watched key changed (or, having existed at WATCH
/// time, has expired since: Redis's `isWatchedKeyExpired`).
pub fn watches_broken(txn: &mut Txn, client: &ClientState) -> bool {
    if client.watcher.as_ref().is_some_and(|w| w.is_dirty()) {
        return true;
    }
    client
        .watched
        .iter()
        .any(|(db, k, existed)| *existed && txn.is_logically_expired(*db, k))
}
