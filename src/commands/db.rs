//! Database-level commands: DBSIZE, FLUSHDB, FLUSHALL, SWAPDB, MOVE, RANDOMKEY, KEYS,
//! SCAN.

use super::keys::{db_arg, int32_arg, lookup_notouch};
use super::{args, errors, flags::*, CmdResult, Command, Ctx, Lock, RError};
use crate::keyspace::{SHARDS, SHARD_BITS};
use crate::protocol::Reply;
use crate::util::glob::glob_match;

crate::commands! { pub static COMMANDS = [
    Command::new("dbsize", 1, READONLY | FAST, dbsize)
        .lock(Lock::Db)
        .acl(&["keyspace", "read", "fast"]),
    Command::new("flushdb", -1, WRITE, flushdb)
        .lock(Lock::Db)
        .acl(&["keyspace", "write", "slow", "dangerous"]),
    Command::new("flushall", -1, WRITE, flushall)
        .lock(Lock::Exclusive)
        .acl(&["keyspace", "write", "slow", "dangerous"]),
    Command::new("swapdb", 3, WRITE | FAST, swapdb)
        .lock(Lock::Exclusive)
        .acl(&["keyspace", "write", "fast", "dangerous"]),
    Command::new("move", 3, WRITE | FAST, move_cmd)
        .keys(1, 1, 1)
        .lock(Lock::Exclusive)
        .acl(&["keyspace", "write", "fast"]),
    Command::new("randomkey", 1, READONLY, randomkey)
        .lock(Lock::Db)
        .acl(&["keyspace", "read", "slow"]),
    Command::new("keys", 2, READONLY, keys)
        .lock(Lock::Db)
        .acl(&["keyspace", "read", "slow", "dangerous"]),
    Command::new("scan", -2, READONLY, scan)
        .lock(Lock::Stepwise)
        .acl(&["keyspace", "read", "slow"]),
]; }

fn dbsize(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let n = ctx.txn.db_len(db);
    ctx.out.int(n as i64);
    Ok(())
}

/// Parses FLUSHDB/FLUSHALL's optional `ASYNC | SYNC`; true means asynchronous.
fn flush_mode(ctx: &Ctx, argv: &[&[u8]]) -> Result<bool, RError> {
    match argv.len() {
        1 => Ok(ctx.srv.config.read().bool("lazyfree-lazy-user-flush")),
        2 if args::is(argv[1], "sync") => Ok(false),
        2 if args::is(argv[1], "async") => Ok(true),
        _ => Err(errors::SYNTAX),
    }
}

/// Empties `db`; with `lazy` the old tables are freed by the lazyfree thread so a huge
/// database does not stall the server (INFO `lazyfree_pending_objects` counts their
/// keys until then). Returns the number of keys removed.
fn flush(ctx: &mut Ctx, db: usize, lazy: bool) -> usize {
    if !lazy {
        return ctx.txn.flush_db(db);
    }
    let (n, tables) = ctx.txn.flush_db_take(db);
    let objects = tables.iter().map(|t| t.len() as u64).sum();
    crate::keyspace::lazyfree::free_tables(tables, objects);
    n
}

fn flushdb(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let lazy = flush_mode(ctx, argv)?;
    let db = ctx.db();
    flush(ctx, db, lazy);
    ctx.out.ok();
    Ok(())
}

fn flushall(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let lazy = flush_mode(ctx, argv)?;
    for db in 0..ctx.srv.databases() {
        flush(ctx, db, lazy);
    }
    // As Redis's flushAllDataAndResetRDB: a running BGSAVE is stopped and, with save
    // points, the (empty) dataset is saved now, so a restart does not bring the
    // flushed keys back. The changes still count (for the AOF and replicas).
    let srv = ctx.srv;
    if srv.persistence.bg.kind() == crate::persistence::bgsave::Kind::Rdb {
        srv.persistence.bg.abort();
    }
    if !srv.config.read().save_points().is_empty() {
        let dirty = srv.stats.dirty.load(std::sync::atomic::Ordering::Relaxed);
        let _ = crate::persistence::snapshot::save(srv, ctx.txn);
        srv.stats
            .dirty
            .store(dirty, std::sync::atomic::Ordering::Relaxed);
    }
    // Redis counts FLUSHALL itself as one more change.
    ctx.txn.dirty += 1;
    ctx.out.ok();
    Ok(())
}

fn swapdb(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let a = int32_arg(argv[1], Some("ERR invalid first DB index"))?;
    let b = int32_arg(argv[2], Some("ERR invalid second DB index"))?;
    let n = ctx.srv.databases();
    if a < 0 || b < 0 || a as usize >= n || b as usize >= n {
        return Err(errors::DB_RANGE);
    }
    ctx.txn.swap_dbs(a as usize, b as usize);
    ctx.txn.dirty += 1;
    ctx.out.ok();
    Ok(())
}

fn move_cmd(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let src = ctx.db();
    let dst = db_arg(argv[2], ctx.srv.databases())?;
    if src == dst {
        return Err(RError::raw(
            "ERR source and destination objects are the same",
        ));
    }
    let key = argv[1];
    if ctx.txn.get_mut(src, key).is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    if ctx.txn.get_mut(dst, key).is_some() {
        ctx.out.int(0);
        return Ok(());
    }
    let dirty = ctx.txn.dirty;
    if let Some(e) = ctx.txn.remove(src, key) {
        let e = e.into_entry();
        let expire = e.expire();
        // The value moves with its access data (its lookup just touched it).
        ctx.txn.insert_entry(dst, key, e.value, expire, e.lru);
    }
    ctx.txn.dirty = dirty + 1;
    ctx.txn
        .notify(crate::config::notify::GENERIC, "move_from", src, key);
    ctx.txn
        .notify(crate::config::notify::GENERIC, "move_to", dst, key);
    ctx.out.int(1);
    Ok(())
}

fn randomkey(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    match ctx.txn.random_key(db) {
        Some(k) => ctx.out.bulk(&k),
        None => ctx.out.null(),
    }
    Ok(())
}

fn keys(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let pattern = argv[1];
    let all = pattern == b"*";
    let now = ctx.txn.now;
    // Encode the elements aside, then prefix them with their count.
    let mut items = Reply::new(ctx.out.proto);
    let mut n = 0;
    for s in 0..SHARDS {
        let shard = ctx.txn.shard_at(db, s);
        shard.dict.for_each(|k, e| {
            let live = e.expire() == 0 || e.expire() > now;
            if live && (all || glob_match(pattern, k, false)) {
                items.bulk(k);
                n += 1;
            }
        });
    }
    ctx.out.array(n);
    ctx.out.raw(&items.buf);
    Ok(())
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
///
/// The cursor packs the shard being walked (low [`SHARD_BITS`] bits) and that shard's
/// `Dict::scan` cursor (the rest). Shards are walked in ascending order, each completely
/// before the next, so the per-shard guarantee of `Dict::scan` (every key present for
/// the whole iteration is returned) holds for the whole keyspace. Each step locks a
/// single shard.
fn scan(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let cursor = args::scan_cursor(argv[1])?;
    let mut count: i64 = 10;
    let mut pattern: Option<&[u8]> = None;
    let mut type_name: Option<&[u8]> = None;
    let mut i = 2;
    while i < argv.len() {
        let more = argv.len() - i;
        if args::is(argv[i], "count") && more >= 2 {
            count = args::int(argv[i + 1])?;
            if count < 1 {
                return Err(errors::SYNTAX);
            }
        } else if args::is(argv[i], "match") && more >= 2 {
            let p = argv[i + 1];
            pattern = if p == b"*" { None } else { Some(p) };
        } else if args::is(argv[i], "type") && more >= 2 {
            type_name = Some(argv[i + 1]);
        } else {
            return Err(errors::SYNTAX);
        }
        i += 2;
    }
    let count = count as usize;
    let db = ctx.db();
    let mut shard = (cursor & (SHARDS as u64 - 1)) as usize;
    let mut dcur = cursor >> SHARD_BITS;
    // As Redis: stop once `count` keys were collected (before filtering) or after
    // 10 * count buckets, whichever comes first. Empty shards cost nothing.
    let mut budget = count.saturating_mul(10);
    let mut collected = 0usize;
    let mut found: Vec<Vec<u8>> = Vec::new();
    let next = loop {
        let mut batch: Vec<Vec<u8>> = Vec::new();
        ctx.txn.lock_shard(db, shard);
        {
            let sh = ctx.txn.shard_at(db, shard);
            if sh.dict.is_empty() {
                dcur = 0;
            } else {
                loop {
                    dcur = sh.dict.scan(dcur, |k, _| batch.push(k.to_vec()));
                    budget = budget.saturating_sub(1);
                    if dcur == 0 || budget == 0 || collected + batch.len() >= count {
                        break;
                    }
                }
            }
        }
        collected += batch.len();
        // Filter under the same lock: pattern, type, and keys already expired (which are
        // deleted, as Redis's expireIfNeeded does).
        for k in batch {
            if let Some(p) = pattern {
                if !glob_match(p, &k, false) {
                    continue;
                }
            }
            if let Some(t) = type_name {
                let name = match lookup_notouch(ctx.txn, db, &k) {
                    Some(e) => e.value.type_name(),
                    None => "none",
                };
                if !t.eq_ignore_ascii_case(name.as_bytes()) {
                    continue;
                }
            }
            if ctx.txn.peek(db, &k).is_none() {
                continue;
            }
            found.push(k);
        }
        ctx.propagate_expired_now();
        ctx.txn.unlock_all();
        if dcur != 0 {
            break (dcur << SHARD_BITS) | shard as u64;
        }
        shard += 1;
        if shard == SHARDS {
            break 0;
        }
        if budget == 0 || collected >= count {
            break shard as u64;
        }
    };
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.array(found.len());
    for k in &found {
        ctx.out.bulk(k);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::commands::args;

    #[test]
    fn cursors_parse_like_strtoul() {
        assert_eq!(args::parse_cursor(b"0"), Some(0));
        assert_eq!(args::parse_cursor(b""), Some(0));
        assert_eq!(args::parse_cursor(b"+7"), Some(7));
        assert_eq!(args::parse_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(args::parse_cursor(b"-0"), Some(0));
        assert_eq!(args::parse_cursor(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(args::parse_cursor(b"18446744073709551616"), None);
        assert_eq!(args::parse_cursor(b"12\0junk"), Some(12));
        for bad in [
            &b" 1"[..],
            b"\t1",
            b"1 ",
            b"0x1",
            b"1.0",
            b"-",
            b"+",
            b"abc",
        ] {
            assert_eq!(
                args::parse_cursor(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
