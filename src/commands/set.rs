//! The set command family (Redis's `t_set.c`): SADD, SREM, SCARD, SISMEMBER,
//! SMISMEMBER, SMEMBERS, SPOP, SRANDMEMBER, SMOVE, SINTER/SUNION/SDIFF and their STORE
//! forms, SINTERCARD and SSCAN.
//!
//! Replies follow Redis 7.0: SMEMBERS, SINTER, SUNION, SDIFF and SPOP with a count
//! reply with a set (RESP3 `~`), SRANDMEMBER with a count with an array. Missing keys
//! are empty sets. STORE forms replace the destination (whatever its type, dropping
//! its TTL) and delete it when the result is empty.

use std::collections::HashSet;

use rand::Rng;

use super::{args, errors, flags::*, CmdResult, Command, Ctx, Lock, RError};
use crate::config::notify;
use crate::protocol::Reply;
use crate::types::{SetValue, Value};
use crate::util::glob::glob_match;

crate::commands! { pub static COMMANDS = [
    Command::new("sadd", -3, WRITE | DENYOOM | FAST, sadd)
        .keys(1, 1, 1)
        .acl(&["write", "set", "fast"]),
    Command::new("srem", -3, WRITE | FAST, srem)
        .keys(1, 1, 1)
        .acl(&["write", "set", "fast"]),
    Command::new("scard", 2, READONLY | FAST, scard)
        .keys(1, 1, 1)
        .acl(&["read", "set", "fast"]),
    Command::new("sismember", 3, READONLY | FAST, sismember)
        .keys(1, 1, 1)
        .acl(&["read", "set", "fast"]),
    Command::new("smismember", -3, READONLY | FAST, smismember)
        .keys(1, 1, 1)
        .acl(&["read", "set", "fast"]),
    Command::new("smembers", 2, READONLY, smembers)
        .keys(1, 1, 1)
        .acl(&["read", "set", "slow"]),
    Command::new("spop", -2, WRITE | FAST, spop)
        .keys(1, 1, 1)
        .acl(&["write", "set", "fast"]),
    Command::new("srandmember", -2, READONLY, srandmember)
        .keys(1, 1, 1)
        .acl(&["read", "set", "slow"]),
    Command::new("smove", 4, WRITE | FAST, smove)
        .keys(1, 2, 1)
        .acl(&["write", "set", "fast"]),
    Command::new("sinter", -2, READONLY, sinter)
        .keys(1, -1, 1)
        .acl(&["read", "set", "slow"]),
    Command::new("sunion", -2, READONLY, sunion)
        .keys(1, -1, 1)
        .acl(&["read", "set", "slow"]),
    Command::new("sdiff", -2, READONLY, sdiff)
        .keys(1, -1, 1)
        .acl(&["read", "set", "slow"]),
    Command::new("sinterstore", -3, WRITE | DENYOOM, sinterstore)
        .keys(1, -1, 1)
        .acl(&["write", "set", "slow"]),
    Command::new("sunionstore", -3, WRITE | DENYOOM, sunionstore)
        .keys(1, -1, 1)
        .acl(&["write", "set", "slow"]),
    Command::new("sdiffstore", -3, WRITE | DENYOOM, sdiffstore)
        .keys(1, -1, 1)
        .acl(&["write", "set", "slow"]),
    Command::new("sintercard", -3, READONLY | MOVABLE_KEYS, sintercard)
        .getkeys(sintercard_keys)
        .lock(Lock::Keys)
        .acl(&["read", "set", "slow"]),
    Command::new("sscan", -3, READONLY, sscan)
        .keys(1, 1, 1)
        .acl(&["read", "set", "slow"]),
]; }

/// The set held by a value, or WRONGTYPE.
#[allow(unreachable_patterns)]
pub fn set_ref(v: &Value) -> Result<&SetValue, RError> {
    match v {
        Value::Set(s) => Ok(s),
        _ => Err(errors::WRONGTYPE),
    }
}

/// The set held by a value, mutable, or WRONGTYPE.
#[allow(unreachable_patterns)]
pub fn set_mut(v: &mut Value) -> Result<&mut SetValue, RError> {
    match v {
        Value::Set(s) => Ok(s),
        _ => Err(errors::WRONGTYPE),
    }
}

/// `set-max-intset-entries`.
fn max_intset(ctx: &Ctx) -> usize {
    ctx.srv.hot.limit(crate::server::Limit::SetMaxIntsetEntries) as usize
}

fn sadd(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let max = max_intset(ctx);
    let key = argv[1];
    let members = &argv[2..];
    let added = match ctx.txn.get_mut(db, key) {
        Some(e) => {
            let s = set_mut(&mut e.value)?;
            Some(members.iter().filter(|m| s.add(m, max)).count())
        }
        None => None,
    };
    let added = match added {
        Some(n) => {
            if n > 0 {
                ctx.txn.dirty += n as u64;
            }
            n
        }
        None => {
            let first = members.first().copied().unwrap_or_default();
            let mut s = SetValue::create_for(first);
            let n = members.iter().filter(|m| s.add(m, max)).count();
            ctx.txn.set(db, key, Value::Set(s), false);
            n
        }
    };
    if added > 0 {
        ctx.notify(notify::SET, "sadd", key);
    }
    ctx.out.int(added as i64);
    Ok(())
}

fn srem(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let key = argv[1];
    let (removed, empty) = match ctx.txn.get_mut(db, key) {
        None => (0, false),
        Some(e) => {
            let s = set_mut(&mut e.value)?;
            let mut n = 0;
            for m in &argv[2..] {
                if s.remove(m) {
                    n += 1;
                    if s.is_empty() {
                        break;
                    }
                }
            }
            (n, s.is_empty())
        }
    };
    if removed > 0 {
        ctx.txn.dirty += removed as u64;
        ctx.notify(notify::SET, "srem", key);
    }
    if empty {
        ctx.txn.remove(db, key);
        ctx.notify(notify::GENERIC, "del", key);
    }
    ctx.out.int(removed);
    Ok(())
}

fn scard(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let n = match ctx.txn.get_read(db, argv[1]) {
        None => 0,
        Some(e) => set_ref(&e.value)?.len(),
    };
    ctx.out.int(n as i64);
    Ok(())
}

fn sismember(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let found = match ctx.txn.get_read(db, argv[1]) {
        None => false,
        Some(e) => set_ref(&e.value)?.contains(argv[2]),
    };
    ctx.out.int(found as i64);
    Ok(())
}

fn smismember(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let members = &argv[2..];
    let found: Vec<bool> = match ctx.txn.get_read(db, argv[1]) {
        None => vec![false; members.len()],
        Some(e) => {
            let s = set_ref(&e.value)?;
            members.iter().map(|m| s.contains(m)).collect()
        }
    };
    ctx.out.array(found.len());
    for f in found {
        ctx.out.int(f as i64);
    }
    Ok(())
}

/// Replies with every member of `s` as a set reply.
fn reply_set(out: &mut Reply, s: &SetValue) {
    out.set(s.len());
    s.for_each(|m| out.bulk(m));
}

fn smembers(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let Some(e) = ctx.txn.get_read(db, argv[1]) else {
        ctx.out.set(0);
        return Ok(());
    };
    let s = set_ref(&e.value)?;
    ctx.out.set(s.len());
    s.for_each(|m| ctx.out.bulk(m));
    Ok(())
}

// ---------------------------------------------------------------------------------
// SPOP / SRANDMEMBER

fn spop(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    match argv.len() {
        2 => spop_one(ctx, argv[1]),
        3 => spop_count(ctx, argv[1], argv[2]),
        _ => Err(errors::SYNTAX),
    }
}

fn spop_one(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    let db = ctx.db();
    let mut rng = rand::thread_rng();
    let (popped, empty) = match ctx.txn.get_mut(db, key) {
        None => {
            ctx.out.null();
            return Ok(());
        }
        Some(e) => {
            let s = set_mut(&mut e.value)?;
            let Some(m) = s.random(&mut rng).map(|m| m.to_vec()) else {
                ctx.out.null();
                return Ok(());
            };
            s.remove(&m);
            (m, s.is_empty())
        }
    };
    ctx.txn.dirty += 1;
    ctx.propagate_as(&[b"SREM", key, &popped]);
    // Redis's order: `spop`, the reply, `del`.
    ctx.notify(notify::SET, "spop", key);
    ctx.out.bulk(&popped);
    if empty {
        ctx.txn.remove(db, key);
        ctx.notify(notify::GENERIC, "del", key);
    }
    Ok(())
}

/// SPOP's strategy switch (Redis's `SPOP_MOVE_STRATEGY_MUL`): when few members would
/// remain, the ones to keep are drawn instead of the ones to pop.
const SPOP_MOVE_STRATEGY_MUL: usize = 5;

fn spop_count(ctx: &mut Ctx, key: &[u8], count: &[u8]) -> CmdResult {
    let count = match crate::util::num::parse_i64(count) {
        Some(n) if n >= 0 => n,
        _ => return Err(errors::NOT_POSITIVE),
    };
    let count = count as usize;
    let db = ctx.db();
    let max = max_intset(ctx);
    let mut rng = rand::thread_rng();
    let Some(e) = ctx.txn.get_mut(db, key) else {
        ctx.out.set(0);
        return Ok(());
    };
    let s = set_mut(&mut e.value)?;
    if count == 0 {
        ctx.out.set(0);
        return Ok(());
    }
    let size = s.len();
    let propagating = ctx.propagating();
    let mut popped: Vec<Vec<u8>> = Vec::new();
    // Redis raises `spop` before replying (and `del` after).
    ctx.notify(notify::SET, "spop", key);
    let Some(e) = ctx.txn.get_mut(db, key) else {
        return Err(RError::err("set vanished"));
    };
    let s = set_mut(&mut e.value)?;
    if count >= size {
        // Everything goes: reply with the whole set and delete the key.
        reply_set(ctx.out, s);
        ctx.txn.remove(db, key);
        ctx.notify(notify::GENERIC, "del", key);
        let lazy = propagating && ctx.srv.config.read().bool("lazyfree-lazy-server-del");
        ctx.propagate_as(&[if lazy { b"UNLINK" } else { b"DEL" }, key]);
        return Ok(());
    }
    let remaining = size - count;
    if remaining * SPOP_MOVE_STRATEGY_MUL > count {
        // Pop `count` random members one by one.
        ctx.out.set(count);
        for _ in 0..count {
            let Some(m) = s.random(&mut rng).map(|m| m.to_vec()) else {
                break;
            };
            s.remove(&m);
            ctx.out.bulk(&m);
            if propagating {
                popped.push(m);
            }
        }
    } else {
        // Draw the members to keep, reply with the rest, and keep the drawn ones in a
        // new set of the same encoding.
        let mut keep = Vec::with_capacity(remaining);
        for _ in 0..remaining {
            let Some(m) = s.random(&mut rng).map(|m| m.to_vec()) else {
                break;
            };
            s.remove(&m);
            keep.push(m);
        }
        reply_set(ctx.out, s);
        if propagating {
            popped = s.members();
        }
        let mut fresh = if s.is_intset() {
            SetValue::new_intset()
        } else {
            SetValue::new_hashtable()
        };
        for m in &keep {
            fresh.add(m, max);
        }
        *s = fresh;
    }
    ctx.txn.dirty += count as u64;
    // One SREM per member, as Redis 7.0 propagates SPOP with a count.
    for m in &popped {
        ctx.propagate_as(&[b"SREM", key, m]);
    }
    Ok(())
}

/// SRANDMEMBER's strategy switch (Redis's `SRANDMEMBER_SUB_STRATEGY_MUL`).
const SRANDMEMBER_SUB_STRATEGY_MUL: usize = 3;

/// The largest reply SRANDMEMBER with a negative count builds. Redis streams any count
/// (until the client is dropped or the server runs out of memory); Ferrodis refuses
/// counts whose reply could not fit in memory anyway.
const SRANDMEMBER_MAX_REPEAT: u64 = 1 << 32;

fn srandmember(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    if argv.len() == 2 {
        let mut rng = rand::thread_rng();
        match ctx.txn.get_read(db, argv[1]) {
            None => ctx.out.null(),
            Some(e) => match set_ref(&e.value)?.random(&mut rng) {
                Some(m) => m.with_bytes(|b| ctx.out.bulk(b)),
                None => ctx.out.null(),
            },
        }
        return Ok(());
    }
    if argv.len() != 3 {
        return Err(errors::SYNTAX);
    }
    let l = args::int(argv[2])?;
    if l == i64::MIN {
        return Err(RError::raw(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let (count, uniq) = if l >= 0 {
        (l as u64, true)
    } else {
        (l.unsigned_abs(), false)
    };
    let mut rng = rand::thread_rng();
    let Some(e) = ctx.txn.get_read(db, argv[1]) else {
        ctx.out.array(0);
        return Ok(());
    };
    let s = set_ref(&e.value)?;
    if count == 0 {
        ctx.out.array(0);
        return Ok(());
    }
    let size = s.len();
    if !uniq || count == 1 {
        if count > SRANDMEMBER_MAX_REPEAT {
            return Err(RError::raw("ERR value is out of range"));
        }
        ctx.out.array(count as usize);
        for _ in 0..count {
            match s.random(&mut rng) {
                Some(m) => m.with_bytes(|b| ctx.out.bulk(b)),
                None => ctx.out.null(),
            }
        }
        return Ok(());
    }
    if count >= size as u64 {
        ctx.out.array(size);
        s.for_each(|m| ctx.out.bulk(m));
        return Ok(());
    }
    let count = count as usize;
    let picked: Vec<Vec<u8>> = if count * SRANDMEMBER_SUB_STRATEGY_MUL > size {
        // Copy everything, then drop random members until `count` remain.
        let mut all = s.members();
        while all.len() > count {
            let i = rng.gen_range(0..all.len());
            all.swap_remove(i);
        }
        all
    } else {
        // Draw random members until `count` distinct ones were seen.
        let mut seen: HashSet<Vec<u8>> = HashSet::with_capacity(count);
        let mut order = Vec::with_capacity(count);
        while order.len() < count {
            let Some(m) = s.random(&mut rng).map(|m| m.to_vec()) else {
                break;
            };
            if seen.insert(m.clone()) {
                order.push(m);
            }
        }
        order
    };
    ctx.out.array(picked.len());
    for m in &picked {
        ctx.out.bulk(m);
    }
    Ok(())
}

fn smove(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let (src, dst, member) = (argv[1], argv[2], argv[3]);
    let max = max_intset(ctx);
    let is_set = |v: &Value| matches!(v, Value::Set(_));
    let src_kind = ctx.txn.get_mut(db, src).map(|e| is_set(&e.value));
    // The destination is only looked at here: it counts as modified (WATCH, tracking)
    // only if the member gets added to it, as in Redis.
    let dst_kind = ctx.txn.peek(db, dst).map(|e| is_set(&e.value));
    let Some(src_is_set) = src_kind else {
        ctx.out.int(0);
        return Ok(());
    };
    if !src_is_set || dst_kind == Some(false) {
        return Err(errors::WRONGTYPE);
    }
    if src == dst {
        let found = match ctx.txn.get_mut(db, src) {
            Some(e) => set_ref(&e.value)?.contains(member),
            None => false,
        };
        ctx.out.int(found as i64);
        return Ok(());
    }
    let (removed, empty) = match ctx.txn.get_mut(db, src) {
        Some(e) => {
            let s = set_mut(&mut e.value)?;
            (s.remove(member), s.is_empty())
        }
        None => (false, false),
    };
    if !removed {
        ctx.out.int(0);
        return Ok(());
    }
    ctx.txn.dirty += 1;
    ctx.notify(notify::SET, "srem", src);
    if empty {
        ctx.txn.remove(db, src);
        ctx.notify(notify::GENERIC, "del", src);
    }
    let already = match ctx.txn.peek(db, dst) {
        Some(e) => set_ref(&e.value)?.contains(member),
        None => false,
    };
    let added = if already {
        Some(false)
    } else {
        match ctx.txn.get_mut(db, dst) {
            Some(e) => Some(set_mut(&mut e.value)?.add(member, max)),
            None => None,
        }
    };
    match added {
        Some(true) => ctx.txn.dirty += 1,
        Some(false) => {}
        None => {
            let mut s = SetValue::create_for(member);
            s.add(member, max);
            ctx.txn.set(db, dst, Value::Set(s), false);
        }
    }
    if added != Some(false) {
        ctx.notify(notify::SET, "sadd", dst);
    }
    ctx.out.int(1);
    Ok(())
}

// ---------------------------------------------------------------------------------
// SINTER / SUNION / SDIFF

/// Looks up every key (as Redis does, once each, counting hits and misses) and checks
/// its type. Returns each key's cardinality, `None` for a missing key.
fn lookup_sets(ctx: &mut Ctx, keys: &[&[u8]]) -> Result<Vec<Option<usize>>, RError> {
    let db = ctx.db();
    let mut out = Vec::with_capacity(keys.len());
    for k in keys {
        let n = match ctx.txn.get_read(db, k) {
            None => None,
            Some(e) => Some(set_ref(&e.value)?.len()),
        };
        out.push(n);
    }
    Ok(out)
}

/// Runs `f` on the set stored at `key` (already type-checked by [`lookup_sets`]).
fn with_set<R>(ctx: &mut Ctx, key: &[u8], f: impl FnOnce(&SetValue) -> R) -> Option<R> {
    let db = ctx.db();
    match ctx.txn.peek(db, key) {
        Some(e) => match &e.value {
            Value::Set(s) => Some(f(s)),
            #[allow(unreachable_patterns)]
            _ => None,
        },
        None => None,
    }
}

/// The members of the intersection of `keys` (empty if any key is missing), at most
/// `limit` of them (0: no limit).
fn intersection(ctx: &mut Ctx, keys: &[&[u8]], limit: usize) -> CmdResultOf<Vec<Vec<u8>>> {
    let sizes = lookup_sets(ctx, keys)?;
    let mut order: Vec<(usize, &[u8])> = Vec::with_capacity(keys.len());
    for (k, n) in keys.iter().zip(sizes) {
        match n {
            Some(n) => order.push((n, k)),
            None => return Ok(Vec::new()),
        }
    }
    // Smallest set first: its members are the candidates.
    order.sort_by_key(|&(n, _)| n);
    let Some((&(_, first), rest)) = order.split_first() else {
        return Ok(Vec::new());
    };
    let mut cand = with_set(ctx, first, |s| s.members()).unwrap_or_default();
    for &(_, k) in rest {
        if cand.is_empty() {
            break;
        }
        if k == first {
            continue;
        }
        with_set(ctx, k, |s| cand.retain(|m| s.contains(m)));
    }
    if limit > 0 {
        cand.truncate(limit);
    }
    Ok(cand)
}

type CmdResultOf<T> = Result<T, RError>;

/// Stores `result` at `dst` (Redis's STORE forms): replaces any value, or deletes the
/// destination when the result is empty. Replies with the cardinality.
/// `event` is the command's keyspace event (`sinterstore`...).
fn store_result(ctx: &mut Ctx, dst: &[u8], result: SetValue, event: &'static str) {
    let db = ctx.db();
    let n = result.len();
    // Redis replies, then raises the event (except SINTERSTORE with a missing source
    // key: see `sinterstore`).
    ctx.out.int(n as i64);
    if n > 0 {
        ctx.txn.set(db, dst, Value::Set(result), false);
        ctx.notify(notify::SET, event, dst);
    } else if ctx.txn.remove(db, dst).is_some() {
        ctx.notify(notify::GENERIC, "del", dst);
    }
}

fn build(ctx: &Ctx, members: &[Vec<u8>]) -> SetValue {
    SetValue::from_members(members.iter().map(|m| m.as_slice()), max_intset(ctx))
}

fn sinter(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let members = intersection(ctx, &argv[1..], 0)?;
    ctx.out.set(members.len());
    for m in &members {
        ctx.out.bulk(m);
    }
    Ok(())
}

fn sinterstore(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let members = intersection(ctx, &argv[2..], 0)?;
    let db = ctx.db();
    if members.is_empty() && argv[2..].iter().any(|k| ctx.txn.peek(db, k).is_none()) {
        // Redis's early exit for a missing source: `del`, then the reply.
        if ctx.txn.remove(db, argv[1]).is_some() {
            ctx.notify(notify::GENERIC, "del", argv[1]);
        }
        ctx.out.int(0);
        return Ok(());
    }
    let result = build(ctx, &members);
    store_result(ctx, argv[1], result, "sinterstore");
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Diff,
}

/// SUNION / SDIFF of `keys` as a new set (missing keys are empty sets), built as Redis
/// builds it (starting as an intset).
fn union_diff(ctx: &mut Ctx, keys: &[&[u8]], op: SetOp) -> CmdResultOf<SetValue> {
    let sizes = lookup_sets(ctx, keys)?;
    let max = max_intset(ctx);
    let mut result = SetValue::new_intset();
    for (j, (k, n)) in keys.iter().zip(sizes).enumerate() {
        if n.is_none() {
            if op == SetOp::Diff && j == 0 {
                break;
            }
            continue;
        }
        if op == SetOp::Diff && j > 0 && *k == keys[0] {
            // A set minus itself.
            result = SetValue::new_intset();
            break;
        }
        match op {
            SetOp::Union => {
                with_set(ctx, k, |s| {
                    s.for_each(|m| {
                        result.add(m, max);
                    })
                });
            }
            SetOp::Diff if j == 0 => {
                with_set(ctx, k, |s| {
                    s.for_each(|m| {
                        result.add(m, max);
                    })
                });
            }
            SetOp::Diff => {
                if result.is_empty() {
                    break;
                }
                with_set(ctx, k, |s| {
                    if s.len() < result.len() {
                        s.for_each(|m| {
                            result.remove(m);
                        });
                    } else {
                        for m in result.members() {
                            if s.contains(&m) {
                                result.remove(&m);
                            }
                        }
                    }
                });
            }
        }
    }
    Ok(result)
}

fn sunion(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let r = union_diff(ctx, &argv[1..], SetOp::Union)?;
    reply_set(ctx.out, &r);
    Ok(())
}

fn sdiff(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let r = union_diff(ctx, &argv[1..], SetOp::Diff)?;
    reply_set(ctx.out, &r);
    Ok(())
}

fn sunionstore(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let r = union_diff(ctx, &argv[2..], SetOp::Union)?;
    store_result(ctx, argv[1], r, "sunionstore");
    Ok(())
}

fn sdiffstore(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let r = union_diff(ctx, &argv[2..], SetOp::Diff)?;
    store_result(ctx, argv[1], r, "sdiffstore");
    Ok(())
}

// ---------------------------------------------------------------------------------
// SINTERCARD

const NUMKEYS_ERR: RError = RError::raw("ERR numkeys should be greater than 0");

/// SINTERCARD numkeys key [key ...] [LIMIT limit]: the keys are argv[2..2+numkeys]
/// when numkeys is valid (none otherwise; the command then fails before any lookup).
fn sintercard_keys(argv: &[&[u8]]) -> Vec<usize> {
    match argv.get(1).and_then(|a| crate::util::num::parse_i64(a)) {
        Some(n) if n > 0 && (n as u64) <= (argv.len() as u64).saturating_sub(2) => {
            (2..2 + n as usize).collect()
        }
        _ => Vec::new(),
    }
}

fn sintercard(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let numkeys = match crate::util::num::parse_i64(argv[1]) {
        Some(n) if n > 0 => n as u64,
        _ => return Err(NUMKEYS_ERR),
    };
    if numkeys > (argv.len() as u64).saturating_sub(2) {
        return Err(RError::raw(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let numkeys = numkeys as usize;
    let keys = &argv[2..2 + numkeys];
    let mut limit = 0usize;
    let mut i = 2 + numkeys;
    while i < argv.len() {
        if args::is(argv[i], "limit") && i + 1 < argv.len() {
            match crate::util::num::parse_i64(argv[i + 1]) {
                Some(l) if l >= 0 => limit = l as usize,
                _ => return Err(RError::raw("ERR LIMIT can't be negative")),
            }
            i += 2;
        } else {
            return Err(errors::SYNTAX);
        }
    }
    let members = intersection(ctx, keys, limit)?;
    ctx.out.int(members.len() as i64);
    Ok(())
}

// ---------------------------------------------------------------------------------
// SSCAN

fn sscan(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let cursor = args::scan_cursor(argv[2])?;
    let db = ctx.db();
    let Some(e) = ctx.txn.get_read(db, argv[1]) else {
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.array(0);
        return Ok(());
    };
    let s = set_ref(&e.value)?;
    let (count, pattern) = args::scan_options(&argv[3..])?;
    let mut found: Vec<Vec<u8>> = Vec::new();
    let next = s.scan(cursor, count as usize, |m| {
        if pattern.is_none_or(|p| glob_match(p, m, false)) {
            found.push(m.to_vec());
        }
    });
    ctx.out.array(2);
    let mut b = itoa::Buffer::new();
    ctx.out.bulk(b.format(next).as_bytes());
    ctx.out.array(found.len());
    for m in &found {
        ctx.out.bulk(m);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::sintercard_keys;
    use crate::commands::args;

    #[test]
    fn sintercard_key_positions() {
        let a: Vec<&[u8]> = vec![b"sintercard", b"2", b"a", b"b", b"LIMIT", b"1"];
        assert_eq!(sintercard_keys(&a), vec![2, 3]);
        let bad: Vec<&[u8]> = vec![b"sintercard", b"5", b"a"];
        assert!(sintercard_keys(&bad).is_empty());
        let neg: Vec<&[u8]> = vec![b"sintercard", b"-1", b"a"];
        assert!(sintercard_keys(&neg).is_empty());
    }

    #[test]
    fn cursor_parsing() {
        assert_eq!(args::parse_cursor(b"0"), Some(0));
        assert_eq!(args::parse_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(args::parse_cursor(b"x"), None);
        assert_eq!(args::parse_cursor(b" 1"), None);
    }
}
