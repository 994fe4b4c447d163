//! The hash command family (Redis's `t_hash.c`), including Redis 7.4's field TTLs
//! (HEXPIRE, HPEXPIRE, HEXPIREAT, HPEXPIREAT, HTTL, HPTTL, HEXPIRETIME, HPEXPIRETIME,
//! HPERSIST).
//!
//! Expired fields are invisible at once: every command that finds a hash first removes
//! the fields whose TTL passed (cheap: the hash knows its earliest field expiry), and a
//! hash left empty is deleted, so replies never show expired fields (HLEN included).
//! Fields nobody touches are reclaimed by the active expiry cycle
//! (`keyspace::expire`), which walks each shard's set of hashes with field TTLs.

use rand::Rng;

use super::{args, errors, flags::*, CmdResult, Command, Ctx, RError};
use crate::config::notify;
use crate::keyspace::Txn;
use crate::types::{HashValue, Value};
use crate::util::glob::glob_match;
use crate::util::longdouble::LongDouble;
use crate::util::num::parse_i64;

crate::commands! { pub static COMMANDS = [
    Command::new("hset", -4, WRITE | DENYOOM | FAST, hset)
        .keys(1, 1, 1)
        .acl(&["write", "hash", "fast"]),
    Command::new("hsetnx", 4, WRITE | DENYOOM | FAST, hsetnx)
        .keys(1, 1, 1)
        .acl(&["write", "hash", "fast"]),
    Command::new("hmset", -4, WRITE | DENYOOM | FAST, hmset)
        .keys(1, 1, 1)
        .acl(&["write", "hash", "fast"]),
    Command::new("hget", 3, READONLY | FAST, hget)
        .keys(1, 1, 1)
        .acl(&["read", "hash", "fast"]),
    Command::new("hmget", -3, READONLY | FAST, hmget)
        .keys(1, 1, 1)
        .acl(&["read", "hash", "fast"]),
    Command::new("hgetall", 2, READONLY, hgetall)
        .keys(1, 1, 1)
        .acl(&["read", "hash", "slow"]),
    Command::new("hkeys", 2, READONLY, hkeys)
        .keys(1, 1, 1)
        .acl(&["read", "hash", "slow"]),
    Command::new("hvals", 2, READONLY, hvals)
        .keys(1, 1, 1)
        .acl(&["read", "hash", "slow"]),
    Command::new("hdel", -3, WRITE | FAST, hdel)
        .keys(1, 1, 1)
        .acl(&["write", "hash", "fast"]),
    Command::new("hlen", 2, READONLY | FAST, hlen)
        .keys(1, 1, 1)
        .acl(&["read", "hash", "fast"]),
    Command::new("hexists", 3, READONLY | FAST, hexists)
        .keys(1, 1, 1)
        .acl(&["read", "hash", "fast"]),
    Command::new("hstrlen", 3, READONLY | FAST, hstrlen)
        .keys(1, 1, 1)
        .acl(&["read", "hash", "fast"]),
    Command::new("hincrby", 4, WRITE | DENYOOM | FAST, hincrby)
        .keys(1, 1, 1)
        .acl(&["write", "hash", "fast"]),
    Command::new("hincrbyfloat", 4, WRITE | DENYOOM | FAST, hincrbyfloat)
        .keys(1, 1, 1)
        .acl(&["write", "hash", "fast"]),
    Command::new("hrandfield", -2, READONLY, hrandfield)
        .keys(1, 1, 1)
        .acl(&["read", "hash", "slow"]),
    Command::new("hscan", -3, READONLY, hscan)
        .keys(1, 1, 1)
        .acl(&["read", "hash", "slow"]),
    Command::new("hexpire", -6, WRITE | FAST, hexpire)
        .keys(1, 1, 1)
        .acl(&["write", "hash", "fast"]),
    Command::new("hpexpire", -6, WRITE | FAST, hpexpire)
        .keys(1, 1, 1)
        .acl(&["write", "hash", "fast"]),
    Command::new("hexpireat", -6, WRITE | FAST, hexpireat)
        .keys(1, 1, 1)
        .acl(&["write", "hash", "fast"]),
    Command::new("hpexpireat", -6, WRITE | FAST, hpexpireat)
        .keys(1, 1, 1)
        .acl(&["write", "hash", "fast"]),
    Command::new("httl", -5, READONLY | FAST, httl)
        .keys(1, 1, 1)
        .acl(&["read", "hash", "fast"]),
    Command::new("hpttl", -5, READONLY | FAST, hpttl)
        .keys(1, 1, 1)
        .acl(&["read", "hash", "fast"]),
    Command::new("hexpiretime", -5, READONLY | FAST, hexpiretime)
        .keys(1, 1, 1)
        .acl(&["read", "hash", "fast"]),
    Command::new("hpexpiretime", -5, READONLY | FAST, hpexpiretime)
        .keys(1, 1, 1)
        .acl(&["read", "hash", "fast"]),
    Command::new("hpersist", -5, WRITE | FAST, hpersist)
        .keys(1, 1, 1)
        .acl(&["write", "hash", "fast"]),
]; }

/// The hash held by a value, or WRONGTYPE.
#[allow(unreachable_patterns)]
fn hash_mut(v: &mut Value) -> Result<&mut HashValue, RError> {
    match v {
        Value::Hash(h) => Ok(h),
        _ => Err(errors::WRONGTYPE),
    }
}

/// `hash-max-listpack-entries` and `hash-max-listpack-value`.
fn limits(ctx: &Ctx) -> (usize, usize) {
    use crate::server::Limit;
    let hot = &ctx.srv.hot;
    (
        hot.limit(Limit::HashMaxListpackEntries) as usize,
        hot.limit(Limit::HashMaxListpackValue) as usize,
    )
}

/// Looks a hash up (reading: hit/miss statistics; writing: none), removes its expired
/// fields and deletes it if none is left. WRONGTYPE for other kinds of values.
fn lookup<'c>(
    txn: &'c mut Txn<'_>,
    db: usize,
    key: &[u8],
    write: bool,
) -> Result<Option<&'c mut HashValue>, RError> {
    let now = txn.now;
    let emptied = {
        let e = if write {
            txn.get_mut(db, key)
        } else {
            txn.get_read_mut(db, key)
        };
        let Some(e) = e else {
            return Ok(None);
        };
        let h = hash_mut(&mut e.value)?;
        if h.has_expired(now) {
            txn.preserve(db, key);
            let Some(Value::Hash(h)) = txn.peek_mut(db, key).map(|e| &mut e.value) else {
                return Ok(None);
            };
            h.purge_expired(now, usize::MAX);
            Some(h.is_empty())
        } else {
            None
        }
    };
    if let Some(emptied) = emptied {
        // Fields whose TTL passed are deleted on access (Redis 7.4's lazy field
        // expiry raises `hexpired`, then `del` if the hash is left empty).
        txn.notify(notify::HASH, "hexpired", db, key);
        if emptied {
            txn.remove(db, key);
            txn.notify(notify::GENERIC, "del", db, key);
            return Ok(None);
        }
    }
    match txn.get_mut(db, key) {
        Some(e) => hash_mut(&mut e.value).map(Some),
        None => Ok(None),
    }
}

/// The hash under `key` for writing, created empty if missing (Redis's
/// `hashTypeLookupWriteOrCreate`).
fn lookup_or_create<'c>(
    txn: &'c mut Txn<'_>,
    db: usize,
    key: &[u8],
) -> Result<&'c mut HashValue, RError> {
    if lookup(txn, db, key, true)?.is_none() {
        txn.set(db, key, Value::Hash(HashValue::new()), false);
    }
    match txn.get_mut(db, key) {
        Some(e) => hash_mut(&mut e.value),
        None => Err(RError::err("hash vanished")),
    }
}

/// Deletes `key` if its hash is empty (after HDEL and field expiry).
fn delete_if_empty(ctx: &mut Ctx, key: &[u8]) {
    let db = ctx.db();
    let empty = matches!(
        ctx.txn.peek(db, key).map(|e| &e.value),
        Some(Value::Hash(h)) if h.is_empty()
    );
    if empty {
        ctx.txn.remove(db, key);
        ctx.notify(notify::GENERIC, "del", key);
    }
}

fn arity_error(ctx: &Ctx) -> RError {
    RError::owned(format!(
        "ERR wrong number of arguments for '{}' command",
        ctx.cmd.name
    ))
}

/// HSET/HMSET: set every pair; returns the number of new fields.
fn set_pairs(ctx: &mut Ctx, argv: &[&[u8]]) -> Result<i64, RError> {
    if argv.len() % 2 == 1 {
        return Err(arity_error(ctx));
    }
    let (max_entries, max_value) = limits(ctx);
    let pairs = &argv[2..];
    let longest = pairs.iter().map(|a| a.len()).max().unwrap_or(0);
    let h = lookup_or_create(&mut *ctx.txn, ctx.client.db, argv[1])?;
    h.try_conversion(longest, max_value);
    let mut created = 0;
    for p in pairs.chunks_exact(2) {
        if h.set(p[0], p[1], false, max_entries, max_value) {
            created += 1;
        }
    }
    ctx.txn.dirty += (pairs.len() / 2) as u64;
    Ok(created)
}

// The hash commands reply, then raise their event, as Redis does.

fn hset(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let n = set_pairs(ctx, argv)?;
    ctx.out.int(n);
    ctx.notify(notify::HASH, "hset", argv[1]);
    Ok(())
}

fn hmset(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    set_pairs(ctx, argv)?;
    ctx.out.ok();
    ctx.notify(notify::HASH, "hset", argv[1]);
    Ok(())
}

fn hsetnx(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let (max_entries, max_value) = limits(ctx);
    let h = lookup_or_create(&mut *ctx.txn, ctx.client.db, argv[1])?;
    if h.contains(argv[2]) {
        ctx.out.int(0);
        return Ok(());
    }
    h.try_conversion(argv[2].len().max(argv[3].len()), max_value);
    h.set(argv[2], argv[3], false, max_entries, max_value);
    ctx.txn.dirty += 1;
    ctx.out.int(1);
    ctx.notify(notify::HASH, "hset", argv[1]);
    Ok(())
}

fn hget(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    match lookup(&mut *ctx.txn, ctx.client.db, argv[1], false)?.and_then(|h| h.get(argv[2])) {
        Some(v) => ctx.out.bulk(v),
        None => ctx.out.null(),
    }
    Ok(())
}

fn hmget(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let fields = &argv[2..];
    let h = lookup(&mut *ctx.txn, ctx.client.db, argv[1], false)?;
    ctx.out.array(fields.len());
    for f in fields {
        match h.as_ref().and_then(|h| h.get(f)) {
            Some(v) => ctx.out.bulk(v),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

const KEYS: u8 = 1;
const VALUES: u8 = 2;

/// HGETALL/HKEYS/HVALS.
fn getall_generic(ctx: &mut Ctx, key: &[u8], what: u8) -> CmdResult {
    let both = what == KEYS | VALUES;
    let Some(h) = lookup(&mut *ctx.txn, ctx.client.db, key, false)? else {
        if both {
            ctx.out.map(0);
        } else {
            ctx.out.array(0);
        }
        return Ok(());
    };
    if both {
        ctx.out.map(h.len());
    } else {
        ctx.out.array(h.len());
    }
    let out = &mut *ctx.out;
    h.for_each(|f, v| {
        if what & KEYS != 0 {
            out.bulk(f);
        }
        if what & VALUES != 0 {
            out.bulk(v);
        }
    });
    Ok(())
}

fn hgetall(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    getall_generic(ctx, argv[1], KEYS | VALUES)
}

fn hkeys(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    getall_generic(ctx, argv[1], KEYS)
}

fn hvals(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    getall_generic(ctx, argv[1], VALUES)
}

fn hdel(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let Some(h) = lookup(&mut *ctx.txn, ctx.client.db, argv[1], true)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let mut deleted = 0;
    for f in &argv[2..] {
        if h.remove(f) {
            deleted += 1;
            if h.is_empty() {
                break;
            }
        }
    }
    if deleted > 0 {
        ctx.txn.dirty += deleted as u64;
        ctx.notify(notify::HASH, "hdel", argv[1]);
        delete_if_empty(ctx, argv[1]);
    }
    ctx.out.int(deleted);
    Ok(())
}

fn hlen(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let n = lookup(&mut *ctx.txn, ctx.client.db, argv[1], false)?.map_or(0, |h| h.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn hexists(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let found =
        lookup(&mut *ctx.txn, ctx.client.db, argv[1], false)?.is_some_and(|h| h.contains(argv[2]));
    ctx.out.int(found as i64);
    Ok(())
}

fn hstrlen(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let n = lookup(&mut *ctx.txn, ctx.client.db, argv[1], false)?
        .and_then(|h| h.get(argv[2]))
        .map_or(0, |v| v.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn hincrby(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let incr = args::int(argv[3])?;
    let (max_entries, max_value) = limits(ctx);
    let h = lookup_or_create(&mut *ctx.txn, ctx.client.db, argv[1])?;
    let old = match h.get(argv[2]) {
        Some(v) => parse_i64(v).ok_or(RError::raw("ERR hash value is not an integer"))?,
        None => 0,
    };
    let new = old.checked_add(incr).ok_or(errors::OVERFLOW)?;
    let text = itoa::Buffer::new().format(new).to_string();
    h.set(argv[2], text.as_bytes(), true, max_entries, max_value);
    ctx.txn.dirty += 1;
    ctx.out.int(new);
    ctx.notify(notify::HASH, "hincrby", argv[1]);
    Ok(())
}

fn hincrbyfloat(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let incr = LongDouble::parse(argv[3]).ok_or(errors::NOT_FLOAT)?;
    if incr.inf {
        return Err(RError::raw("ERR value is NaN or Infinity"));
    }
    let (max_entries, max_value) = limits(ctx);
    let h = lookup_or_create(&mut *ctx.txn, ctx.client.db, argv[1])?;
    let old = match h.get(argv[2]) {
        Some(v) => LongDouble::parse(v).ok_or(RError::raw("ERR hash value is not a float"))?,
        None => LongDouble::ZERO,
    };
    let sum = old + incr;
    if sum.inf {
        return Err(RError::raw("ERR increment would produce NaN or Infinity"));
    }
    let text = sum.to_human_string();
    h.set(argv[2], text.as_bytes(), true, max_entries, max_value);
    ctx.txn.dirty += 1;
    ctx.out.bulk(text.as_bytes());
    ctx.notify(notify::HASH, "hincrbyfloat", argv[1]);
    ctx.propagate_as(&[b"HSET", argv[1], argv[2], text.as_bytes()]);
    Ok(())
}

/// Redis's `getRangeLongFromObjectOrReply` error without a custom message.
fn range_error(min: i64, max: i64) -> RError {
    RError::owned(format!(
        "ERR value is out of range, value must between {min} and {max}"
    ))
}

/// HRANDFIELD key [count [WITHVALUES]]
fn hrandfield(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    if argv.len() == 2 {
        let mut rng = rand::thread_rng();
        match lookup(&mut *ctx.txn, ctx.client.db, argv[1], false)?
            .and_then(|h| h.random_pair(|| rng.gen()))
        {
            Some((f, _)) => ctx.out.bulk(f),
            None => ctx.out.null(),
        }
        return Ok(());
    }
    let l = args::int(argv[2])?;
    if l == i64::MIN {
        return Err(range_error(-i64::MAX, i64::MAX));
    }
    let withvalues = match argv.len() {
        3 => false,
        4 if args::is(argv[3], "withvalues") => true,
        _ => return Err(errors::SYNTAX),
    };
    if withvalues && !(-i64::MAX / 2..=i64::MAX / 2).contains(&l) {
        return Err(RError::raw("ERR value is out of range"));
    }
    let resp3 = ctx.out.is_resp3();
    let Some(h) = lookup(&mut *ctx.txn, ctx.client.db, argv[1], false)? else {
        ctx.out.array(0);
        return Ok(());
    };
    let out = &mut *ctx.out;
    let emit = |out: &mut crate::protocol::Reply, f: &[u8], v: &[u8]| {
        if withvalues && resp3 {
            out.array(2);
        }
        out.bulk(f);
        if withvalues {
            out.bulk(v);
        }
    };
    let header = |out: &mut crate::protocol::Reply, n: usize| {
        if withvalues && !resp3 {
            out.array(n * 2);
        } else {
            out.array(n);
        }
    };
    let mut rng = rand::thread_rng();
    let size = h.len();
    let count = l.unsigned_abs() as usize;
    if count == 0 {
        out.array(0);
        return Ok(());
    }
    // Repetitions allowed (negative count), or a single pick.
    if l < 0 || count == 1 {
        header(out, count);
        if h.is_listpack() {
            let pairs = h.pairs();
            for _ in 0..count {
                let (f, v) = pairs[rng.gen_range(0..pairs.len())];
                emit(out, f, v);
            }
        } else {
            for _ in 0..count {
                if let Some((f, v)) = h.random_pair(|| rng.gen()) {
                    emit(out, f, v);
                }
            }
        }
        return Ok(());
    }
    // The whole hash.
    if count >= size {
        header(out, size);
        h.for_each(|f, v| emit(out, f, v));
        return Ok(());
    }
    // Distinct fields: pick `count` positions at random; a listpack answers in its own
    // order (as Redis's lpRandomPairsUnique), a table in random order.
    let pairs = h.pairs();
    let mut idx: Vec<usize> = (0..pairs.len()).collect();
    for i in 0..count {
        let j = rng.gen_range(i..idx.len());
        idx.swap(i, j);
    }
    idx.truncate(count);
    if h.is_listpack() {
        idx.sort_unstable();
    }
    header(out, count);
    for i in idx {
        let (f, v) = pairs[i];
        emit(out, f, v);
    }
    Ok(())
}

/// HSCAN key cursor [MATCH pattern] [COUNT count] [NOVALUES]
fn hscan(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let cursor = args::scan_cursor(argv[2])?;
    let Some(h) = lookup(&mut *ctx.txn, ctx.client.db, argv[1], false)? else {
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.array(0);
        return Ok(());
    };
    let mut count: i64 = 10;
    let mut pattern: Option<&[u8]> = None;
    let mut novalues = false;
    let mut i = 3;
    while i < argv.len() {
        let more = argv.len() - i;
        if args::is(argv[i], "count") && more >= 2 {
            count = args::int(argv[i + 1])?;
            if count < 1 {
                return Err(errors::SYNTAX);
            }
            i += 2;
        } else if args::is(argv[i], "match") && more >= 2 {
            let p = argv[i + 1];
            pattern = if p == b"*" { None } else { Some(p) };
            i += 2;
        } else if args::is(argv[i], "novalues") {
            novalues = true;
            i += 1;
        } else {
            return Err(errors::SYNTAX);
        }
    }
    let count = count as usize;
    let mut found: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut c = cursor;
    let mut budget = count.saturating_mul(10);
    loop {
        c = h.scan(c, |f, v| found.push((f.to_vec(), v.to_vec())));
        budget = budget.saturating_sub(1);
        if c == 0 || budget == 0 || found.len() >= count {
            break;
        }
    }
    if let Some(p) = pattern {
        found.retain(|(f, _)| glob_match(p, f, false));
    }
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(c).as_bytes());
    ctx.out.array(if novalues {
        found.len()
    } else {
        found.len() * 2
    });
    for (f, v) in &found {
        ctx.out.bulk(f);
        if !novalues {
            ctx.out.bulk(v);
        }
    }
    Ok(())
}

// ---- field TTLs (Redis 7.4) ---------------------------------------------------------

/// Largest absolute field expiry Redis accepts (its HFE_MAX_ABS_TIME_MSEC, 2^46 - 1 ms).
const MAX_FIELD_EXPIRE_MS: i64 = (1 << 46) - 1;

const COND_NX: u8 = 1;
const COND_XX: u8 = 2;
const COND_GT: u8 = 3;
const COND_LT: u8 = 4;

/// Checks `FIELDS numfields field...` starting at `at` (the FIELDS token) and returns
/// the fields.
fn parse_fields<'a>(
    argv: &[&'a [u8]],
    at: usize,
    count_msg: &'static str,
) -> Result<Vec<&'a [u8]>, RError> {
    if argv.get(at).is_none_or(|a| !args::is(a, "fields")) {
        return Err(RError::raw(
            "ERR Mandatory argument FIELDS is missing or not at the right position",
        ));
    }
    let n = argv
        .get(at + 1)
        .and_then(|a| parse_i64(a))
        .filter(|n| *n >= 1)
        .ok_or(RError::raw(count_msg))?;
    let rest = &argv[(at + 2).min(argv.len())..];
    if n as u64 != rest.len() as u64 {
        return Err(RError::raw(
            "ERR The `numfields` parameter must match the number of arguments",
        ));
    }
    Ok(rest.to_vec())
}

/// HEXPIRE/HPEXPIRE/HEXPIREAT/HPEXPIREAT key time [NX|XX|GT|LT] FIELDS n field...
fn hexpire_generic(ctx: &mut Ctx, argv: &[&[u8]], unit_ms: bool, relative: bool) -> CmdResult {
    let key = argv[1];
    let now = ctx.txn.now as i64;
    // The type is checked before the arguments, as Redis does.
    let exists = lookup(&mut *ctx.txn, ctx.client.db, key, true)?.is_some();
    let invalid = || {
        RError::owned(format!(
            "ERR invalid expire time in '{}' command",
            ctx.cmd.name
        ))
    };
    let mut t = args::int(argv[2])?;
    if t < 0 {
        return Err(RError::raw("ERR invalid expire time, must be >= 0"));
    }
    if !unit_ms {
        if t > MAX_FIELD_EXPIRE_MS / 1000 {
            return Err(invalid());
        }
        t *= 1000;
    }
    let base = if relative { now } else { 0 };
    if t > MAX_FIELD_EXPIRE_MS || t > MAX_FIELD_EXPIRE_MS - base {
        return Err(invalid());
    }
    let at = t + base;
    let mut fields_at = 3;
    let cond = if args::is(argv[3], "nx") {
        COND_NX
    } else if args::is(argv[3], "xx") {
        COND_XX
    } else if args::is(argv[3], "gt") {
        COND_GT
    } else if args::is(argv[3], "lt") {
        COND_LT
    } else {
        0
    };
    if cond != 0 {
        fields_at += 1;
    }
    let fields = parse_fields(
        argv,
        fields_at,
        "ERR Parameter `numFields` should be greater than 0",
    )?;
    if !exists {
        ctx.out.array(fields.len());
        for _ in &fields {
            ctx.out.int(-2);
        }
        return Ok(());
    }
    let db = ctx.db();
    let Some(h) = lookup(&mut *ctx.txn, ctx.client.db, key, true)? else {
        return Err(RError::err("hash vanished"));
    };
    h.enable_field_ttls();
    let at = at as u64;
    let mut codes = Vec::with_capacity(fields.len());
    let mut changed = 0u64;
    let mut deleted = 0u64;
    for f in &fields {
        if !h.contains(f) {
            codes.push(-2);
            continue;
        }
        let prev = h.field_expire(f);
        let ok = match (cond, prev) {
            (COND_NX, Some(_)) => false,
            (COND_XX | COND_GT, None) => false,
            (COND_GT, Some(p)) => at > p,
            (COND_LT, Some(p)) => at < p,
            _ => true,
        };
        if !ok {
            codes.push(0);
            continue;
        }
        changed += 1;
        if at <= now as u64 {
            h.remove(f);
            deleted += 1;
            codes.push(2);
        } else {
            h.set_field_expire(f, at);
            codes.push(1);
        }
    }
    let empty = h.is_empty();
    let tracked = h.has_field_ttls();
    ctx.txn.dirty += changed;
    if changed > 0 && (relative || !unit_ms) && ctx.propagating() {
        // Propagated with the absolute time in ms (Redis 7.4's HPEXPIREAT form);
        // replaying it on the same hash sets, skips or deletes the same fields.
        let ms = at.to_string();
        let mut form: Vec<&[u8]> = vec![b"HPEXPIREAT", key, ms.as_bytes()];
        form.extend_from_slice(&argv[3..]);
        ctx.propagate_as(&form);
    }
    // Redis 7.4: `hdel` when a time in the past deleted fields (then `del` if the
    // hash is gone), else `hexpire` when a TTL was set.
    if deleted > 0 {
        ctx.notify(notify::HASH, "hdel", key);
    } else if changed > 0 {
        ctx.notify(notify::HASH, "hexpire", key);
    }
    if empty {
        ctx.txn.remove(db, key);
        ctx.notify(notify::GENERIC, "del", key);
    } else if tracked {
        let ks = ctx.txn.ks;
        let (shard, hv) = ctx.txn.shard_for(db, key);
        shard.track_field_ttls(hv, key, &|k: &[u8]| ks.hash(k));
        ks.dbs[db].hint_expiry();
    }
    ctx.out.array(codes.len());
    for c in codes {
        ctx.out.int(c);
    }
    Ok(())
}

fn hexpire(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    hexpire_generic(ctx, argv, false, true)
}

fn hpexpire(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    hexpire_generic(ctx, argv, true, true)
}

fn hexpireat(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    hexpire_generic(ctx, argv, false, false)
}

fn hpexpireat(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    hexpire_generic(ctx, argv, true, false)
}

const NUM_FIELDS_POSITIVE: &str = "ERR Number of fields must be a positive integer";

/// HTTL/HPTTL/HEXPIRETIME/HPEXPIRETIME key FIELDS n field...
fn httl_generic(ctx: &mut Ctx, argv: &[&[u8]], unit_ms: bool, relative: bool) -> CmdResult {
    let now = ctx.txn.now;
    let h = lookup(&mut *ctx.txn, ctx.client.db, argv[1], false)?.map(|h| &*h);
    let fields = parse_fields(argv, 2, NUM_FIELDS_POSITIVE)?;
    let mut codes = Vec::with_capacity(fields.len());
    for f in &fields {
        let code = match h {
            Some(h) if h.contains(f) => match h.field_expire(f) {
                None => -1,
                Some(at) => {
                    let base = if relative { now } else { 0 };
                    let left = at.saturating_sub(base);
                    if unit_ms {
                        left as i64
                    } else {
                        (left.saturating_add(999) / 1000) as i64
                    }
                }
            },
            _ => -2,
        };
        codes.push(code);
    }
    ctx.out.array(codes.len());
    for c in codes {
        ctx.out.int(c);
    }
    Ok(())
}

fn httl(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    httl_generic(ctx, argv, false, true)
}

fn hpttl(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    httl_generic(ctx, argv, true, true)
}

fn hexpiretime(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    httl_generic(ctx, argv, false, false)
}

fn hpexpiretime(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    httl_generic(ctx, argv, true, false)
}

/// HPERSIST key FIELDS n field...
fn hpersist(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let h = lookup(&mut *ctx.txn, ctx.client.db, argv[1], true)?;
    let fields = parse_fields(argv, 2, NUM_FIELDS_POSITIVE)?;
    let mut codes = Vec::with_capacity(fields.len());
    let mut changed = 0u64;
    let mut h = h;
    for f in &fields {
        let code = match h.as_deref_mut() {
            Some(h) if h.contains(f) => {
                if h.persist_field(f) {
                    changed += 1;
                    1
                } else {
                    -1
                }
            }
            _ => -2,
        };
        codes.push(code);
    }
    ctx.txn.dirty += changed;
    if changed > 0 {
        ctx.notify(notify::HASH, "hpersist", argv[1]);
    }
    ctx.out.array(codes.len());
    for c in codes {
        ctx.out.int(c);
    }
    Ok(())
}
