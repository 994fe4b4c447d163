//! Generic key commands (Redis's `db.c`, `expire.c` and `object.c`): DEL, UNLINK,
//! EXISTS, TYPE, TOUCH, the EXPIRE family, TTL family, PERSIST, RENAME, RENAMENX, COPY
//! and OBJECT.

use super::{args, errors, flags::*, CmdResult, Command, Ctx, RError};
use crate::config::notify;
use crate::keyspace::{lazyfree, Entry, Txn};

crate::commands! { pub static COMMANDS = [
    Command::new("del", -2, WRITE, del)
        .keys(1, -1, 1)
        .acl(&["keyspace", "write", "slow"]),
    Command::new("unlink", -2, WRITE | FAST, unlink)
        .keys(1, -1, 1)
        .acl(&["keyspace", "write", "fast"]),
    Command::new("exists", -2, READONLY | FAST, exists)
        .keys(1, -1, 1)
        .acl(&["keyspace", "read", "fast"]),
    Command::new("type", 2, READONLY | FAST, type_cmd)
        .keys(1, 1, 1)
        .acl(&["keyspace", "read", "fast"]),
    Command::new("touch", -2, READONLY | FAST, touch)
        .keys(1, -1, 1)
        .acl(&["keyspace", "read", "fast"]),
    Command::new("expire", -3, WRITE | FAST, expire)
        .keys(1, 1, 1)
        .acl(&["keyspace", "write", "fast"]),
    Command::new("pexpire", -3, WRITE | FAST, pexpire)
        .keys(1, 1, 1)
        .acl(&["keyspace", "write", "fast"]),
    Command::new("expireat", -3, WRITE | FAST, expireat)
        .keys(1, 1, 1)
        .acl(&["keyspace", "write", "fast"]),
    Command::new("pexpireat", -3, WRITE | FAST, pexpireat)
        .keys(1, 1, 1)
        .acl(&["keyspace", "write", "fast"]),
    Command::new("ttl", 2, READONLY | FAST, ttl)
        .keys(1, 1, 1)
        .acl(&["keyspace", "read", "fast"]),
    Command::new("pttl", 2, READONLY | FAST, pttl)
        .keys(1, 1, 1)
        .acl(&["keyspace", "read", "fast"]),
    Command::new("expiretime", 2, READONLY | FAST, expiretime)
        .keys(1, 1, 1)
        .acl(&["keyspace", "read", "fast"]),
    Command::new("pexpiretime", 2, READONLY | FAST, pexpiretime)
        .keys(1, 1, 1)
        .acl(&["keyspace", "read", "fast"]),
    Command::new("persist", 2, WRITE | FAST, persist)
        .keys(1, 1, 1)
        .acl(&["keyspace", "write", "fast"]),
    Command::new("rename", 3, WRITE, rename)
        .keys(1, 2, 1)
        .acl(&["keyspace", "write", "slow"]),
    Command::new("renamenx", 3, WRITE | FAST, renamenx)
        .keys(1, 2, 1)
        .acl(&["keyspace", "write", "fast"]),
    // COPY locks its two keys; with `DB n` naming another database it re-locks the
    // shards of both databases in ascending order itself (see `copy`).
    Command::new("copy", -3, WRITE | DENYOOM, copy)
        .keys(1, 2, 1)
        .acl(&["keyspace", "write", "slow"]),
    Command::new("object", -2, 0, super::container)
        .acl(&["slow"])
        .subcommands(&OBJECT_SUBCOMMANDS),
]; }

crate::commands! { static OBJECT_SUBCOMMANDS = [
    Command::new("help", 2, LOADING | STALE, object_help).acl(&["keyspace", "slow"]),
    Command::new("encoding", 3, READONLY, object_encoding)
        .keys(2, 2, 1)
        .acl(&["keyspace", "read", "slow"]),
    Command::new("refcount", 3, READONLY, object_refcount)
        .keys(2, 2, 1)
        .acl(&["keyspace", "read", "slow"]),
    Command::new("idletime", 3, READONLY, object_idletime)
        .keys(2, 2, 1)
        .acl(&["keyspace", "read", "slow"]),
    Command::new("freq", 3, READONLY, object_freq)
        .keys(2, 2, 1)
        .acl(&["keyspace", "read", "slow"]),
]; }

/// Redis's `lookupKeyReadWithFlags(.., LOOKUP_NOTOUCH)`: lazy expiry and
/// keyspace_hits/misses, but the LRU clock is left alone (EXISTS, TYPE, TTL, OBJECT).
pub(crate) fn lookup_notouch<'t>(txn: &'t mut Txn, db: usize, key: &[u8]) -> Option<&'t Entry> {
    lookup_notouch_generic(txn, db, key, true)
}

/// `lookup_notouch`, raising the `keymiss` event on a miss only with `notify` (Redis's
/// LOOKUP_NONOTIFY, used by OBJECT, is `notify = false`).
fn lookup_notouch_generic<'t>(
    txn: &'t mut Txn,
    db: usize,
    key: &[u8],
    notify: bool,
) -> Option<&'t Entry> {
    let found = txn.peek(db, key).is_some();
    if !found && notify {
        txn.notify(notify::KEY_MISS, "keymiss", db, key);
    }
    let (shard, _) = txn.shard_for(db, key);
    if found {
        shard.hits += 1;
    } else {
        shard.misses += 1;
        // An expired key is still there during CLIENT PAUSE (expiry suspended).
        return None;
    }
    txn.peek(db, key)
}

/// A 32-bit integer argument as Redis's `getIntFromObjectOrReply` parses it (`msg`
/// replaces both errors when given).
pub(crate) fn int32_arg(arg: &[u8], msg: Option<&'static str>) -> Result<i32, RError> {
    let n = match args::int(arg) {
        Ok(n) => n,
        Err(e) => return Err(msg.map(RError::raw).unwrap_or(e)),
    };
    i32::try_from(n).map_err(|_| {
        msg.map(RError::raw).unwrap_or(RError::raw(
            "ERR value is out of range, value must between -2147483648 and 2147483647",
        ))
    })
}

/// A database index argument of MOVE/COPY: a 32-bit integer, then range-checked.
pub(crate) fn db_arg(arg: &[u8], databases: usize) -> Result<usize, RError> {
    let n = int32_arg(arg, None)?;
    if n < 0 || n as usize >= databases {
        return Err(errors::DB_RANGE);
    }
    Ok(n as usize)
}

/// DEL and UNLINK (values are small enough to be freed inline).
fn del(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    remove_keys(ctx, argv, false)
}

/// UNLINK: DEL whose big values are freed by the lazyfree thread.
fn unlink(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    remove_keys(ctx, argv, true)
}

fn remove_keys(ctx: &mut Ctx, argv: &[&[u8]], unlink: bool) -> CmdResult {
    let db = ctx.db();
    let mut n = 0;
    for k in &argv[1..] {
        if let Some(e) = ctx.txn.remove(db, k) {
            // The config is read only for a value worth freeing in the background.
            let lazy = e.entry().value.free_effort() > lazyfree::THRESHOLD
                && (unlink || ctx.srv.config.read().bool("lazyfree-lazy-user-del"));
            e.free(lazy);
            ctx.notify(notify::GENERIC, "del", k);
            n += 1;
        }
    }
    ctx.out.int(n);
    Ok(())
}

fn exists(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let mut n = 0;
    for k in &argv[1..] {
        if lookup_notouch(ctx.txn, db, k).is_some() {
            n += 1;
        }
    }
    ctx.out.int(n);
    Ok(())
}

fn type_cmd(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let name = match lookup_notouch(ctx.txn, db, argv[1]) {
        Some(e) => e.value.type_name(),
        None => "none",
    };
    ctx.out.simple(name);
    Ok(())
}

fn touch(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let mut n = 0;
    for k in &argv[1..] {
        if ctx.txn.get_read(db, k).is_some() {
            n += 1;
        }
    }
    ctx.out.int(n);
    Ok(())
}

// ---------------------------------------------------------------------------------
// EXPIRE family

const EXPIRE_NX: u8 = 1;
const EXPIRE_XX: u8 = 2;
const EXPIRE_GT: u8 = 4;
const EXPIRE_LT: u8 = 8;

/// Parses `NX | XX | GT | LT` (from argument 3 on) with Redis's errors.
fn expire_flags(argv: &[&[u8]]) -> Result<u8, RError> {
    let mut f = 0;
    for a in argv.iter().skip(3) {
        if args::is(a, "nx") {
            f |= EXPIRE_NX;
        } else if args::is(a, "xx") {
            f |= EXPIRE_XX;
        } else if args::is(a, "gt") {
            f |= EXPIRE_GT;
        } else if args::is(a, "lt") {
            f |= EXPIRE_LT;
        } else {
            // Redis prints the option as a C string: it stops at a NUL byte.
            let shown = a.split(|&b| b == 0).next().unwrap_or_default();
            return Err(RError::owned(format!(
                "ERR Unsupported option {}",
                args::text(shown)
            )));
        }
    }
    if f & EXPIRE_NX != 0 && f & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT) != 0 {
        return Err(RError::raw(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if f & EXPIRE_GT != 0 && f & EXPIRE_LT != 0 {
        return Err(RError::raw(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    Ok(f)
}

/// Redis's `expireGenericCommand`: `relative` adds the current time, `seconds`
/// multiplies by 1000; `name` is used in the overflow error.
fn expire_generic(
    ctx: &mut Ctx,
    argv: &[&[u8]],
    relative: bool,
    seconds: bool,
    name: &str,
) -> CmdResult {
    let flags = expire_flags(argv)?;
    let mut when = args::int(argv[2])?;
    let invalid = || RError::owned(format!("ERR invalid expire time in '{name}' command"));
    if seconds {
        when = when.checked_mul(1000).ok_or_else(invalid)?;
    }
    if relative {
        when = when.checked_add(ctx.txn.now as i64).ok_or_else(invalid)?;
    }
    let db = ctx.db();
    let key = argv[1];
    let Some(current) = ctx.txn.touch_for_ttl(db, key) else {
        ctx.out.int(0);
        return Ok(());
    };
    // Redis's getExpire: -1 when the key has no TTL.
    let current: i64 = if current == 0 { -1 } else { current as i64 };
    if flags != 0 {
        let refuse = (flags & EXPIRE_NX != 0 && current != -1)
            || (flags & EXPIRE_XX != 0 && current == -1)
            || (flags & EXPIRE_GT != 0 && (current == -1 || when <= current))
            || (flags & EXPIRE_LT != 0 && current != -1 && when >= current);
        if refuse {
            ctx.out.int(0);
            return Ok(());
        }
    }
    if when <= ctx.txn.now as i64 {
        // A time in the past deletes the key (propagated as a DEL by Redis).
        ctx.txn.remove(db, key);
        ctx.notify(notify::GENERIC, "del", key);
        let lazy = ctx.propagating() && ctx.srv.config.read().bool("lazyfree-lazy-expire");
        ctx.propagate_as(&[if lazy { b"UNLINK" } else { b"DEL" }, key]);
        ctx.out.int(1);
    } else {
        ctx.txn.set_expire(db, key, when as u64);
        ctx.txn.dirty += 1;
        if (relative || seconds) && ctx.propagating() {
            // PEXPIREAT key <absolute ms> [options], as Redis rewrites it.
            let ms = when.to_string();
            let mut forms: Vec<&[u8]> = vec![b"PEXPIREAT", key, ms.as_bytes()];
            forms.extend_from_slice(&argv[3..]);
            ctx.propagate_as(&forms);
        }
        // Redis replies, then raises `expire`.
        ctx.out.int(1);
        ctx.notify(notify::GENERIC, "expire", key);
    }
    Ok(())
}

fn expire(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    expire_generic(ctx, argv, true, true, "expire")
}

fn pexpire(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    expire_generic(ctx, argv, true, false, "pexpire")
}

fn expireat(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    expire_generic(ctx, argv, false, true, "expireat")
}

fn pexpireat(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    expire_generic(ctx, argv, false, false, "pexpireat")
}

/// Redis's `ttlGenericCommand`: -2 missing, -1 no TTL, else the remaining time (or the
/// absolute expiry with `absolute`) in ms or rounded seconds.
fn ttl_generic(ctx: &mut Ctx, argv: &[&[u8]], ms: bool, absolute: bool) -> CmdResult {
    let db = ctx.db();
    let now = ctx.txn.now as i64;
    let expire = match lookup_notouch(ctx.txn, db, argv[1]) {
        None => {
            ctx.out.int(-2);
            return Ok(());
        }
        Some(e) => e.expire(),
    };
    if expire == 0 {
        ctx.out.int(-1);
        return Ok(());
    }
    let expire = i64::try_from(expire).unwrap_or(i64::MAX);
    let t = if absolute { expire } else { expire - now }.max(0);
    let v = if ms {
        t
    } else {
        ((t as i128 + 500) / 1000) as i64
    };
    ctx.out.int(v);
    Ok(())
}

fn ttl(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, argv, false, false)
}

fn pttl(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, argv, true, false)
}

fn expiretime(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, argv, false, true)
}

fn pexpiretime(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, argv, true, true)
}

fn persist(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let had_ttl = ctx.txn.touch_for_ttl(db, argv[1]).is_some_and(|t| t != 0);
    if had_ttl {
        ctx.txn.set_expire(db, argv[1], 0);
        ctx.txn.dirty += 1;
        ctx.notify(notify::GENERIC, "persist", argv[1]);
    }
    ctx.out.int(had_ttl as i64);
    Ok(())
}

// ---------------------------------------------------------------------------------
// RENAME, RENAMENX, COPY

fn rename_generic(ctx: &mut Ctx, argv: &[&[u8]], nx: bool) -> CmdResult {
    let db = ctx.db();
    let (src, dst) = (argv[1], argv[2]);
    if ctx.txn.get_mut(db, src).is_none() {
        return Err(errors::NO_SUCH_KEY);
    }
    if src == dst {
        if nx {
            ctx.out.int(0);
        } else {
            ctx.out.ok();
        }
        return Ok(());
    }
    if ctx.txn.get_mut(db, dst).is_some() && nx {
        ctx.out.int(0);
        return Ok(());
    }
    let dirty = ctx.txn.dirty;
    let Some(e) = ctx.txn.remove(db, src) else {
        return Err(errors::NO_SUCH_KEY);
    };
    let e = e.into_entry();
    let expire = e.expire();
    // An existing destination is deleted first, so the new one raises `new` as in
    // Redis.
    ctx.txn.remove(db, dst);
    // The lookup of the source touched its LRU clock; the value keeps it.
    ctx.txn.insert_entry(db, dst, e.value, expire, e.lru);
    ctx.txn.dirty = dirty + 1;
    ctx.notify(notify::GENERIC, "rename_from", src);
    ctx.notify(notify::GENERIC, "rename_to", dst);
    if nx {
        ctx.out.int(1);
    } else {
        ctx.out.ok();
    }
    Ok(())
}

fn rename(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    rename_generic(ctx, argv, false)
}

fn renamenx(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    rename_generic(ctx, argv, true)
}

/// COPY source destination [DB destination-db] [REPLACE]
fn copy(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let src_db = ctx.db();
    let mut dst_db = src_db;
    let mut replace = false;
    let mut j = 3;
    while j < argv.len() {
        let more = argv.len() - j - 1;
        if args::is(argv[j], "replace") {
            replace = true;
        } else if args::is(argv[j], "db") && more >= 1 {
            dst_db = db_arg(argv[j + 1], ctx.srv.databases())?;
            j += 1;
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    let (key, newkey) = (argv[1], argv[2]);
    if src_db == dst_db && key == newkey {
        return Err(RError::raw(
            "ERR source and destination objects are the same",
        ));
    }
    if dst_db != src_db {
        // The dispatcher locked both keys' shards in the current database; the
        // destination lives in another one. Nothing has been read yet, so release and
        // lock both shards again in ascending (database, shard) order, the global lock
        // order, which cannot deadlock.
        ctx.txn.unlock_all();
        if src_db < dst_db {
            ctx.txn.lock_keys(src_db, std::iter::once(key));
            ctx.txn.lock_keys(dst_db, std::iter::once(newkey));
        } else {
            ctx.txn.lock_keys(dst_db, std::iter::once(newkey));
            ctx.txn.lock_keys(src_db, std::iter::once(key));
        }
    }
    let (value, expire) = match ctx.txn.get_read(src_db, key) {
        None => {
            ctx.out.int(0);
            return Ok(());
        }
        Some(e) => (e.value.clone(), e.expire()),
    };
    if ctx.txn.get_mut(dst_db, newkey).is_some() && !replace {
        ctx.out.int(0);
        return Ok(());
    }
    let dirty = ctx.txn.dirty;
    // A replaced destination is deleted first, so the copy raises `new` as in Redis.
    ctx.txn.remove(dst_db, newkey);
    let lru = ctx.txn.ks.access.fresh(ctx.txn.now);
    ctx.txn.insert_entry(dst_db, newkey, value, expire, lru);
    ctx.txn.dirty = dirty + 1;
    ctx.txn.notify(notify::GENERIC, "copy_to", dst_db, newkey);
    ctx.out.int(1);
    Ok(())
}

// ---------------------------------------------------------------------------------
// OBJECT

/// Redis's OBJ_SHARED_INTEGERS: integers below it are shared objects.
const SHARED_INTEGERS: i64 = 10000;
/// Redis's OBJ_SHARED_REFCOUNT (INT_MAX), reported for shared objects.
const SHARED_REFCOUNT: i64 = i32::MAX as i64;

fn lfu_policy(ctx: &Ctx) -> bool {
    ctx.srv
        .config
        .read()
        .str("maxmemory-policy")
        .contains("lfu")
}

/// Looks the key of an OBJECT subcommand up; replies null and returns None if missing.
fn object_lookup<'t>(ctx: &'t mut Ctx, key: &[u8]) -> Option<&'t Entry> {
    let db = ctx.db();
    if lookup_notouch_generic(ctx.txn, db, key, false).is_none() {
        ctx.out.null();
        return None;
    }
    lookup_notouch_generic(ctx.txn, db, key, false)
}

fn object_help(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    const LINES: &[&str] = &[
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    ];
    ctx.out.array(LINES.len());
    for l in LINES {
        ctx.out.simple(l);
    }
    Ok(())
}

fn object_encoding(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    if let Some(e) = object_lookup(ctx, argv[2]) {
        let enc = e.value.encoding();
        ctx.out.bulk(enc.as_bytes());
    }
    Ok(())
}

fn object_refcount(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    // Redis shares the objects of small integers unless an LRU/LFU policy with a
    // memory limit needs per-object access data.
    let sharing = {
        let c = ctx.srv.config.read();
        let policy = c.str("maxmemory-policy");
        c.int("maxmemory") == 0 || !(policy.contains("lru") || policy.contains("lfu"))
    };
    if let Some(e) = object_lookup(ctx, argv[2]) {
        let shared = match &e.value {
            crate::types::Value::Str(crate::types::StrValue::Int(n)) => {
                sharing && (0..SHARED_INTEGERS).contains(n)
            }
            #[allow(unreachable_patterns)]
            _ => false,
        };
        ctx.out.int(if shared { SHARED_REFCOUNT } else { 1 });
    }
    Ok(())
}

fn object_idletime(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let lfu = lfu_policy(ctx);
    let now = ctx.txn.now;
    if let Some(e) = object_lookup(ctx, argv[2]) {
        if lfu {
            return Err(RError::raw("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
        }
        let idle = crate::keyspace::idle_secs(now, e.lru);
        ctx.out.int(idle as i64);
    }
    Ok(())
}

fn object_freq(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let lfu = lfu_policy(ctx);
    let now = ctx.txn.now;
    let ks = ctx.txn.ks;
    if let Some(e) = object_lookup(ctx, argv[2]) {
        if !lfu {
            return Err(RError::raw("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
        }
        let c = ks.access.counter(e.lru, now);
        ctx.out.int(c as i64);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::Keyspace;
    use crate::types::{StrValue, Value};

    #[test]
    fn notouch_lookup_counts_stats_but_keeps_lru() {
        let ks = Keyspace::new(1);
        let mut t = Txn::exclusive(&ks, 1_000_000);
        t.set(0, b"k", Value::Str(StrValue::from_bytes(b"v")), false);
        t.now = 5_000_000;
        assert!(lookup_notouch(&mut t, 0, b"k").is_some());
        assert!(lookup_notouch(&mut t, 0, b"nope").is_none());
        assert_eq!(
            t.peek(0, b"k").map(|e| e.lru),
            Some(crate::keyspace::access_clock(1_000_000))
        );
        drop(t); // release the shard locks the view holds
        let hits = ks.dbs[0].shards.iter().map(|s| s.lock().hits).sum::<u64>();
        let misses = ks.dbs[0]
            .shards
            .iter()
            .map(|s| s.lock().misses)
            .sum::<u64>();
        assert_eq!((hits, misses), (1, 1));
    }

    #[test]
    fn int32_arguments() {
        assert_eq!(int32_arg(b"-2147483648", None), Ok(i32::MIN));
        assert!(int32_arg(b"2147483648", None)
            .is_err_and(|e| e.0.contains("must between -2147483648 and 2147483647")));
        assert_eq!(int32_arg(b"x", None), Err(errors::NOT_INT));
        assert_eq!(
            int32_arg(b"2147483648", Some("ERR invalid first DB index")),
            Err(RError::raw("ERR invalid first DB index"))
        );
        assert_eq!(db_arg(b"3", 16), Ok(3));
        assert_eq!(db_arg(b"16", 16), Err(errors::DB_RANGE));
        assert_eq!(db_arg(b"-1", 16), Err(errors::DB_RANGE));
    }

    #[test]
    fn expire_option_errors() {
        let argv: Vec<&[u8]> = vec![b"expire", b"k", b"10", b"nx", b"gt"];
        assert!(expire_flags(&argv).is_err_and(|e| e.0.starts_with("ERR NX and XX")));
        let argv: Vec<&[u8]> = vec![b"expire", b"k", b"10", b"gt", b"LT"];
        assert!(expire_flags(&argv).is_err_and(|e| e.0.starts_with("ERR GT and LT")));
        let argv: Vec<&[u8]> = vec![b"expire", b"k", b"10", b"x\0y"];
        assert_eq!(
            expire_flags(&argv),
            Err(RError::raw("ERR Unsupported option x"))
        );
        let argv: Vec<&[u8]> = vec![b"expire", b"k", b"10", b"xx", b"GT"];
        assert_eq!(expire_flags(&argv), Ok(EXPIRE_XX | EXPIRE_GT));
    }
}
