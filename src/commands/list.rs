//! List commands (Redis's `t_list.c`): pushes, pops, ranges, LINDEX/LSET/LINSERT/
//! LREM/LTRIM/LPOS, LMOVE/RPOPLPUSH, LMPOP, and the blocking BLPOP/BRPOP/BLMOVE/
//! BRPOPLPUSH/BLMPOP.
//!
//! A list never stays empty in the keyspace: a command that removes its last element
//! deletes the key. Argument errors are checked in the same order as Redis, so the
//! same bad command gets the same error whether or not the key exists.
//!
//! A blocking command first behaves like its non-blocking form; when every key is
//! missing it blocks (`Ctx::block`), and when a later write creates one of its keys
//! the dispatcher calls the command's `on_ready` function (`*_ready` below), which
//! pops and replies exactly as the immediate path would (see `keyspace::blocking`).
//!
//! Building blocks shared by the blocking and non-blocking forms:
//! * [`pop_one`]: pop one element from an end, deleting an emptied key;
//! * [`push_values`]: push (creating the key), as LPUSH/RPUSH do;
//! * [`lmove_generic`]: LMOVE/RPOPLPUSH's whole reply;
//! * [`parse_mpop`] / [`mpop_keys`] / [`mpop_reply`]: `numkeys key... LEFT|RIGHT
//!   [COUNT n]` parsing, key extraction (`getkeys`) and the `[key, [elements]]` reply;
//! * [`parse_end`] for `LEFT|RIGHT`, [`fill`] for the node limits, [`list_ref`] /
//!   [`list_mut`] for type checks.

use std::sync::atomic::Ordering;

use super::{args, errors, flags::*, CmdResult, Command, Ctx, Lock, RError};
use crate::config::notify;
use crate::types::list::{End, Fill};
use crate::types::{ListValue, Value};

crate::commands! { pub static COMMANDS = [
    Command::new("lpush", -3, WRITE | DENYOOM | FAST, lpush)
        .keys(1, 1, 1)
        .acl(&["write", "list", "fast"]),
    Command::new("rpush", -3, WRITE | DENYOOM | FAST, rpush)
        .keys(1, 1, 1)
        .acl(&["write", "list", "fast"]),
    Command::new("lpushx", -3, WRITE | DENYOOM | FAST, lpushx)
        .keys(1, 1, 1)
        .acl(&["write", "list", "fast"]),
    Command::new("rpushx", -3, WRITE | DENYOOM | FAST, rpushx)
        .keys(1, 1, 1)
        .acl(&["write", "list", "fast"]),
    Command::new("lpop", -2, WRITE | FAST, lpop)
        .keys(1, 1, 1)
        .acl(&["write", "list", "fast"]),
    Command::new("rpop", -2, WRITE | FAST, rpop)
        .keys(1, 1, 1)
        .acl(&["write", "list", "fast"]),
    Command::new("llen", 2, READONLY | FAST, llen)
        .keys(1, 1, 1)
        .acl(&["read", "list", "fast"]),
    Command::new("lrange", 4, READONLY, lrange)
        .keys(1, 1, 1)
        .acl(&["read", "list", "slow"]),
    Command::new("lindex", 3, READONLY, lindex)
        .keys(1, 1, 1)
        .acl(&["read", "list", "slow"]),
    Command::new("lset", 4, WRITE | DENYOOM, lset)
        .keys(1, 1, 1)
        .acl(&["write", "list", "slow"]),
    Command::new("linsert", 5, WRITE | DENYOOM, linsert)
        .keys(1, 1, 1)
        .acl(&["write", "list", "slow"]),
    Command::new("lrem", 4, WRITE, lrem)
        .keys(1, 1, 1)
        .acl(&["write", "list", "slow"]),
    Command::new("ltrim", 4, WRITE, ltrim)
        .keys(1, 1, 1)
        .acl(&["write", "list", "slow"]),
    Command::new("lpos", -3, READONLY, lpos)
        .keys(1, 1, 1)
        .acl(&["read", "list", "slow"]),
    Command::new("lmove", 5, WRITE | DENYOOM, lmove)
        .keys(1, 2, 1)
        .acl(&["write", "list", "slow"]),
    Command::new("rpoplpush", 3, WRITE | DENYOOM, rpoplpush)
        .keys(1, 2, 1)
        .acl(&["write", "list", "slow"]),
    Command::new("lmpop", -4, WRITE | MOVABLE_KEYS, lmpop)
        .getkeys(lmpop_keys)
        .lock(Lock::Keys)
        .acl(&["write", "list", "slow"]),
    Command::new("blpop", -3, WRITE | NOSCRIPT | BLOCKING, blpop)
        .keys(1, -2, 1)
        .on_ready(bpop_ready)
        .acl(&["write", "list", "slow", "blocking"]),
    Command::new("brpop", -3, WRITE | NOSCRIPT | BLOCKING, brpop)
        .keys(1, -2, 1)
        .on_ready(bpop_ready)
        .acl(&["write", "list", "slow", "blocking"]),
    Command::new("brpoplpush", 4, WRITE | DENYOOM | NOSCRIPT | BLOCKING, brpoplpush)
        .keys(1, 2, 1)
        .on_ready(blmove_ready)
        .acl(&["write", "list", "slow", "blocking"]),
    Command::new("blmove", 6, WRITE | DENYOOM | NOSCRIPT | BLOCKING, blmove)
        .keys(1, 2, 1)
        .on_ready(blmove_ready)
        .acl(&["write", "list", "slow", "blocking"]),
    Command::new("blmpop", -5, WRITE | BLOCKING | MOVABLE_KEYS, blmpop)
        .getkeys(blmpop_keys)
        .lock(Lock::Keys)
        .on_ready(blmpop_ready)
        .acl(&["write", "list", "slow", "blocking"]),
]; }

/// The list held by a value, or WRONGTYPE.
pub fn list_ref(v: &Value) -> Result<&ListValue, RError> {
    match v {
        Value::List(l) => Ok(l),
        _ => Err(errors::WRONGTYPE),
    }
}

/// The list held by a value, mutable, or WRONGTYPE.
pub fn list_mut(v: &mut Value) -> Result<&mut ListValue, RError> {
    match v {
        Value::List(l) => Ok(l),
        _ => Err(errors::WRONGTYPE),
    }
}

/// The node limits from `list-max-listpack-size`.
pub fn fill(ctx: &Ctx) -> Fill {
    Fill::from_config(ctx.srv.hot.list_max_listpack_size.load(Ordering::Relaxed))
}

/// `LEFT` / `RIGHT` (Redis's `getListPositionFromObjectOrReply`).
pub fn parse_end(arg: &[u8]) -> Result<End, RError> {
    if args::is(arg, "left") {
        Ok(End::Front)
    } else if args::is(arg, "right") {
        Ok(End::Back)
    } else {
        Err(errors::SYNTAX)
    }
}

/// Pushes `vals` at `end` of the list under `key`, creating it unless `only_existing`.
/// Returns the new length (0 when the key is missing and `only_existing`).
pub fn push_values(
    ctx: &mut Ctx,
    key: &[u8],
    vals: &[&[u8]],
    end: End,
    only_existing: bool,
) -> Result<usize, RError> {
    let len = push_values_quiet(ctx, key, vals, end, only_existing)?;
    if len > 0 {
        ctx.notify(notify::LIST, push_event(end), key);
    }
    Ok(len)
}

/// [`push_values`] without its event (LPUSH raises it after its reply).
fn push_values_quiet(
    ctx: &mut Ctx,
    key: &[u8],
    vals: &[&[u8]],
    end: End,
    only_existing: bool,
) -> Result<usize, RError> {
    let fill = fill(ctx);
    let db = ctx.db();
    let len = match ctx.txn.get_mut(db, key) {
        Some(e) => {
            let l = list_mut(&mut e.value)?;
            for v in vals {
                l.push(end, v, fill);
            }
            l.len()
        }
        None if only_existing => return Ok(0),
        None => {
            let mut l = ListValue::new();
            for v in vals {
                l.push(end, v, fill);
            }
            let n = l.len();
            ctx.txn.set(db, key, Value::List(Box::new(l)), false);
            ctx.txn.dirty -= 1;
            n
        }
    };
    ctx.txn.dirty += vals.len() as u64;
    Ok(len)
}

/// The event a push at `end` raises.
pub fn push_event(end: End) -> &'static str {
    match end {
        End::Front => "lpush",
        End::Back => "rpush",
    }
}

/// The event a pop from `end` raises.
pub fn pop_event(end: End) -> &'static str {
    match end {
        End::Front => "lpop",
        End::Back => "rpop",
    }
}

fn push_generic(ctx: &mut Ctx, argv: &[&[u8]], end: End, only_existing: bool) -> CmdResult {
    let n = push_values_quiet(ctx, argv[1], &argv[2..], end, only_existing)?;
    // Redis replies, then raises the event.
    ctx.out.int(n as i64);
    if n > 0 {
        ctx.notify(notify::LIST, push_event(end), argv[1]);
    }
    Ok(())
}

fn lpush(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    push_generic(ctx, argv, End::Front, false)
}

fn rpush(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    push_generic(ctx, argv, End::Back, false)
}

fn lpushx(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    push_generic(ctx, argv, End::Front, true)
}

fn rpushx(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    push_generic(ctx, argv, End::Back, true)
}

/// Deletes `key` if its list became empty.
fn delete_if_empty(ctx: &mut Ctx, key: &[u8]) {
    let db = ctx.db();
    let empty = matches!(ctx.txn.peek(db, key), Some(e) if matches!(&e.value, Value::List(l) if l.is_empty()));
    if empty {
        ctx.txn.remove(db, key);
        ctx.txn.dirty -= 1;
        ctx.notify(notify::GENERIC, "del", key);
    }
}

/// Replies with up to `count` elements popped from `end` of the list under `key` (an
/// array, head-first for the front and tail-first for the back, as LPOP/RPOP with a
/// count and LMPOP reply), removes them, and deletes the key if it became empty.
/// The key must hold a non-empty list (checked by the caller).
pub fn pop_range_reply(ctx: &mut Ctx, key: &[u8], end: End, count: usize) -> CmdResult {
    let fill = fill(ctx);
    let db = ctx.db();
    let Some(e) = ctx.txn.get_mut(db, key) else {
        ctx.out.null_array();
        return Ok(());
    };
    let l = list_mut(&mut e.value)?;
    let n = count.min(l.len());
    ctx.out.array(n);
    match end {
        End::Front => {
            for v in l.iter().take(n) {
                ctx.out.bulk(v);
            }
            l.trim(n, 0, fill);
        }
        End::Back => {
            for v in l.iter_rev().take(n) {
                ctx.out.bulk(v);
            }
            l.trim(0, n, fill);
        }
    }
    ctx.txn.dirty += 1;
    ctx.notify(notify::LIST, pop_event(end), key);
    delete_if_empty(ctx, key);
    Ok(())
}

/// Pops one element from `end` of the list under `key`, deleting the key if it
/// became empty. `Ok(None)` when the key does not exist.
pub fn pop_one(ctx: &mut Ctx, key: &[u8], end: End) -> Result<Option<Vec<u8>>, RError> {
    let (v, deleted) = pop_one_quiet(ctx, key, end)?;
    if v.is_some() {
        pop_events(ctx, key, end, deleted);
    }
    Ok(v)
}

/// The events of a pop from `end` of `key`: the pop, then `del` if it emptied the list.
fn pop_events(ctx: &mut Ctx, key: &[u8], end: End, deleted: bool) {
    ctx.notify(notify::LIST, pop_event(end), key);
    if deleted {
        ctx.notify(notify::GENERIC, "del", key);
    }
}

/// [`pop_one`] without its events; also returns whether the key was deleted (LMOVE
/// raises the pop's events after the push's).
fn pop_one_quiet(ctx: &mut Ctx, key: &[u8], end: End) -> Result<(Option<Vec<u8>>, bool), RError> {
    let fill = fill(ctx);
    let db = ctx.db();
    let Some(e) = ctx.txn.get_mut(db, key) else {
        return Ok((None, false));
    };
    let l = list_mut(&mut e.value)?;
    let v = l.pop(end, fill);
    let empty = l.is_empty();
    if v.is_some() {
        ctx.txn.dirty += 1;
    }
    if empty {
        ctx.txn.remove(db, key);
        ctx.txn.dirty -= 1;
    }
    Ok((v, empty))
}

/// `popGenericCommand`: LPOP/RPOP with an optional count.
fn pop_generic(ctx: &mut Ctx, argv: &[&[u8]], end: End) -> CmdResult {
    if argv.len() > 3 {
        return Err(RError::owned(format!(
            "ERR wrong number of arguments for '{}' command",
            ctx.cmd.name
        )));
    }
    let count = match argv.get(2) {
        Some(a) => {
            // getPositiveLongFromObjectOrReply: any bad value gets the same error.
            match args::int(a) {
                Ok(n) if n >= 0 => Some(n as usize),
                _ => return Err(errors::NOT_POSITIVE),
            }
        }
        None => None,
    };
    let db = ctx.db();
    let key = argv[1];
    match ctx.txn.get_mut(db, key) {
        None => {
            if count.is_some() {
                ctx.out.null_array();
            } else {
                ctx.out.null();
            }
            return Ok(());
        }
        Some(e) => {
            list_ref(&e.value)?;
        }
    }
    match count {
        Some(0) => ctx.out.array(0),
        Some(n) => pop_range_reply(ctx, key, end, n)?,
        None => match pop_one_quiet(ctx, key, end)? {
            (Some(v), deleted) => {
                // Redis replies, then raises the pop's events.
                ctx.out.bulk(&v);
                pop_events(ctx, key, end, deleted);
            }
            (None, _) => ctx.out.null(),
        },
    }
    Ok(())
}

fn lpop(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    pop_generic(ctx, argv, End::Front)
}

fn rpop(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    pop_generic(ctx, argv, End::Back)
}

fn llen(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let n = match ctx.txn.get_read(db, argv[1]) {
        None => 0,
        Some(e) => list_ref(&e.value)?.len(),
    };
    ctx.out.int(n as i64);
    Ok(())
}

/// Resolves Redis's `start`/`end` range arguments against a length: `None` when the
/// range is empty, else the inclusive (start, end).
fn resolve_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let llen = len as i64;
    let mut start = if start < 0 { llen + start } else { start };
    let mut end = if end < 0 { llen + end } else { end };
    if start < 0 {
        start = 0;
    }
    if start >= llen || start > end {
        return None;
    }
    if end >= llen {
        end = llen - 1;
    }
    Some((start as usize, end as usize))
}

fn lrange(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let start = args::int(argv[2])?;
    let end = args::int(argv[3])?;
    let db = ctx.db();
    let Some(e) = ctx.txn.get_read(db, argv[1]) else {
        ctx.out.array(0);
        return Ok(());
    };
    let l = list_ref(&e.value)?;
    match resolve_range(start, end, l.len()) {
        None => ctx.out.array(0),
        Some((s, e)) => {
            let n = e - s + 1;
            ctx.out.array(n);
            for v in l.iter_from(s).take(n) {
                ctx.out.bulk(v);
            }
        }
    }
    Ok(())
}

/// A Redis list index (negative from the tail) resolved against `len`.
fn resolve_index(index: i64, len: usize) -> Option<usize> {
    let i = if index < 0 {
        (len as i64).checked_add(index)?
    } else {
        index
    };
    (i >= 0 && (i as u64) < len as u64).then_some(i as usize)
}

fn lindex(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let Some(e) = ctx.txn.get_read(db, argv[1]) else {
        ctx.out.null();
        return Ok(());
    };
    let l = list_ref(&e.value)?;
    let index = args::int(argv[2])?;
    match resolve_index(index, l.len()).and_then(|i| l.get(i)) {
        Some(v) => ctx.out.bulk(v),
        None => ctx.out.null(),
    }
    Ok(())
}

fn lset(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let fill = fill(ctx);
    let db = ctx.db();
    let Some(e) = ctx.txn.get_mut(db, argv[1]) else {
        return Err(errors::NO_SUCH_KEY);
    };
    let l = list_mut(&mut e.value)?;
    let index = args::int(argv[2])?;
    let ok = match resolve_index(index, l.len()) {
        Some(i) => l.set(i, argv[3], fill),
        None => false,
    };
    if !ok {
        return Err(RError::raw("ERR index out of range"));
    }
    ctx.txn.dirty += 1;
    ctx.out.ok();
    ctx.notify(notify::LIST, "lset", argv[1]);
    Ok(())
}

fn linsert(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let after = if args::is(argv[2], "after") {
        true
    } else if args::is(argv[2], "before") {
        false
    } else {
        return Err(errors::SYNTAX);
    };
    let fill = fill(ctx);
    let db = ctx.db();
    let Some(e) = ctx.txn.get_mut(db, argv[1]) else {
        ctx.out.int(0);
        return Ok(());
    };
    let l = list_mut(&mut e.value)?;
    if l.insert(argv[3], argv[4], after, fill) {
        let n = l.len();
        ctx.txn.dirty += 1;
        ctx.notify(notify::LIST, "linsert", argv[1]);
        ctx.out.int(n as i64);
    } else {
        ctx.out.int(-1);
    }
    Ok(())
}

fn lrem(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let count = args::int(argv[2])?;
    let fill = fill(ctx);
    let db = ctx.db();
    let key = argv[1];
    let Some(e) = ctx.txn.get_mut(db, key) else {
        ctx.out.int(0);
        return Ok(());
    };
    let l = list_mut(&mut e.value)?;
    // Redis negates in C; LONG_MIN stays negative there, which means "remove all".
    let max = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
    let max = if count == i64::MIN { 0 } else { max };
    let removed = l.remove(argv[3], max, count < 0, fill);
    ctx.txn.dirty += removed as u64;
    if removed > 0 {
        ctx.notify(notify::LIST, "lrem", key);
    }
    delete_if_empty(ctx, key);
    ctx.out.int(removed as i64);
    Ok(())
}

fn ltrim(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let start = args::int(argv[2])?;
    let end = args::int(argv[3])?;
    let fill = fill(ctx);
    let db = ctx.db();
    let key = argv[1];
    let Some(e) = ctx.txn.get_mut(db, key) else {
        ctx.out.ok();
        return Ok(());
    };
    let l = list_mut(&mut e.value)?;
    let len = l.len();
    let (front, back) = match resolve_range(start, end, len) {
        None => (len, 0),
        Some((s, e)) => (s, len - e - 1),
    };
    l.trim(front, back, fill);
    ctx.txn.dirty += (front + back) as u64;
    // Redis signals LTRIM as a change even when nothing was trimmed (WATCH sees it).
    ctx.txn.mark_modified(db, key);
    ctx.notify(notify::LIST, "ltrim", key);
    delete_if_empty(ctx, key);
    ctx.out.ok();
    Ok(())
}

/// Parses an LPOS COUNT/MAXLEN value: any error is reported with `msg`.
fn lpos_nonneg(arg: &[u8], msg: &'static str) -> Result<i64, RError> {
    match args::int(arg) {
        Ok(n) if n >= 0 => Ok(n),
        _ => Err(RError::raw(msg)),
    }
}

fn lpos(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let ele = argv[2];
    let mut rank: i64 = 1;
    let mut count: i64 = -1;
    let mut maxlen: i64 = 0;
    let mut j = 3;
    while j < argv.len() {
        let opt = argv[j];
        let more = j + 1 < argv.len();
        if args::is(opt, "rank") && more {
            j += 1;
            rank = args::int(argv[j])?;
            if rank == 0 {
                return Err(RError::raw(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                ));
            }
        } else if args::is(opt, "count") && more {
            j += 1;
            count = lpos_nonneg(argv[j], "ERR COUNT can't be negative")?;
        } else if args::is(opt, "maxlen") && more {
            j += 1;
            maxlen = lpos_nonneg(argv[j], "ERR MAXLEN can't be negative")?;
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    // A negative rank searches from the tail. Redis negates in C, where LONG_MIN
    // stays negative: reproduce that with wrapping arithmetic.
    let from_tail = rank < 0;
    if from_tail {
        rank = rank.wrapping_neg();
    }
    let db = ctx.db();
    let Some(e) = ctx.txn.get_read(db, argv[1]) else {
        if count != -1 {
            ctx.out.array(0);
        } else {
            ctx.out.null();
        }
        return Ok(());
    };
    let l = list_ref(&e.value)?;
    let llen = l.len() as i64;
    let mut found: Vec<i64> = Vec::new();
    let mut matches: i64 = 0;
    let mut single = None;
    let mut scan = |index: i64, v: &[u8]| -> bool {
        if maxlen != 0 && index >= maxlen {
            return false;
        }
        if v == ele {
            matches += 1;
            let pos = if from_tail { llen - index - 1 } else { index };
            if matches >= rank {
                if count != -1 {
                    found.push(pos);
                    if count != 0 && matches.wrapping_sub(rank).wrapping_add(1) >= count {
                        return false;
                    }
                } else {
                    single = Some(pos);
                    return false;
                }
            }
        }
        true
    };
    if from_tail {
        for (i, v) in l.iter_rev().enumerate() {
            if !scan(i as i64, v) {
                break;
            }
        }
    } else {
        for (i, v) in l.iter().enumerate() {
            if !scan(i as i64, v) {
                break;
            }
        }
    }
    if count != -1 {
        ctx.out.array(found.len());
        for p in found {
            ctx.out.int(p);
        }
    } else {
        match single {
            Some(p) => ctx.out.int(p),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// `lmoveGenericCommand`: pops from `from` of `src` and pushes at `to` of `dst`,
/// replying with the element (nil when `src` does not exist).
pub fn lmove_generic(ctx: &mut Ctx, src: &[u8], dst: &[u8], from: End, to: End) -> CmdResult {
    let fill = fill(ctx);
    let db = ctx.db();
    match ctx.txn.get_mut(db, src) {
        None => {
            ctx.out.null();
            return Ok(());
        }
        Some(e) => {
            if list_ref(&e.value)?.is_empty() {
                ctx.out.null();
                return Ok(());
            }
        }
    }
    if src == dst {
        // Rotation within one list: it never becomes empty.
        let v = match ctx.txn.get_mut(db, src) {
            Some(e) => {
                let l = list_mut(&mut e.value)?;
                let v = l.pop(from, fill);
                if let Some(v) = &v {
                    l.push(to, v, fill);
                }
                v
            }
            None => None,
        };
        match v {
            Some(v) => {
                ctx.txn.dirty += 2;
                ctx.notify(notify::LIST, push_event(to), dst);
                ctx.out.bulk(&v);
                ctx.notify(notify::LIST, pop_event(from), src);
            }
            None => ctx.out.null(),
        }
        return Ok(());
    }
    if let Some(e) = ctx.txn.get_mut(db, dst) {
        list_ref(&e.value)?;
    }
    // Redis's order: the push's events (`new` for a created destination, then the
    // push), the reply, the pop, then `del` for an emptied source.
    let (Some(v), deleted) = pop_one_quiet(ctx, src, from)? else {
        ctx.out.null();
        return Ok(());
    };
    push_values(ctx, dst, &[&v], to, false)?;
    ctx.out.bulk(&v);
    pop_events(ctx, src, from, deleted);
    Ok(())
}

fn lmove(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let from = parse_end(argv[3])?;
    let to = parse_end(argv[4])?;
    lmove_generic(ctx, argv[1], argv[2], from, to)
}

fn rpoplpush(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    lmove_generic(ctx, argv[1], argv[2], End::Back, End::Front)
}

/// The keys of `LMPOP numkeys key... LEFT|RIGHT [COUNT n]` (argv[2..2+numkeys]);
/// none when numkeys is invalid (the command then reports the error).
pub fn lmpop_keys(argv: &[&[u8]]) -> Vec<usize> {
    mpop_keys(argv, 1)
}

/// Keys of the `*MPOP` commands whose numkeys argument is at `numkeys_idx`.
pub fn mpop_keys(argv: &[&[u8]], numkeys_idx: usize) -> Vec<usize> {
    let Some(n) = argv.get(numkeys_idx).and_then(|a| args::int(a).ok()) else {
        return Vec::new();
    };
    let first = numkeys_idx + 1;
    if n < 1 || n as u64 > argv.len().saturating_sub(first) as u64 {
        return Vec::new();
    }
    (first..first + n as usize).collect()
}

/// Parsed `numkeys key... LEFT|RIGHT [COUNT n]` of LMPOP/BLMPOP.
pub struct MpopArgs<'a> {
    pub keys: &'a [&'a [u8]],
    pub end: End,
    pub count: usize,
}

/// `lmpopGenericCommand`'s argument parsing, with Redis's errors.
pub fn parse_mpop<'a>(argv: &'a [&'a [u8]], numkeys_idx: usize) -> Result<MpopArgs<'a>, RError> {
    let numkeys = match args::int(argv[numkeys_idx]) {
        Ok(n) if n >= 1 => n as u64,
        _ => return Err(RError::raw("ERR numkeys should be greater than 0")),
    };
    let first = numkeys_idx + 1;
    let where_idx = numkeys
        .checked_add(first as u64)
        .filter(|&w| w < argv.len() as u64)
        .ok_or(errors::SYNTAX)? as usize;
    let end = parse_end(argv[where_idx])?;
    let mut count: i64 = -1;
    let mut j = where_idx + 1;
    while j < argv.len() {
        if count == -1 && args::is(argv[j], "count") && j + 1 < argv.len() {
            j += 1;
            count = match args::int(argv[j]) {
                Ok(n) if n >= 1 => n,
                _ => return Err(RError::raw("ERR count should be greater than 0")),
            };
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    Ok(MpopArgs {
        keys: &argv[first..where_idx],
        end,
        count: if count == -1 { 1 } else { count as usize },
    })
}

/// `mpopGenericCommand` for lists: pops from the first non-empty list among `keys`,
/// replying `[key, [elements]]`, or a null array when all are missing. Returns
/// whether something was popped.
pub fn mpop_reply(ctx: &mut Ctx, keys: &[&[u8]], end: End, count: usize) -> Result<bool, RError> {
    let popped = mpop_try(ctx, keys, end, count)?;
    if !popped {
        ctx.out.null_array();
    }
    Ok(popped)
}

/// [`mpop_reply`] without the null reply when every key is missing (nothing written).
fn mpop_try(ctx: &mut Ctx, keys: &[&[u8]], end: End, count: usize) -> Result<bool, RError> {
    let db = ctx.db();
    for &key in keys {
        let Some(e) = ctx.txn.get_mut(db, key) else {
            continue;
        };
        let len = list_ref(&e.value)?.len();
        if len == 0 {
            continue;
        }
        ctx.out.array(2);
        ctx.out.bulk(key);
        pop_range_reply(ctx, key, end, count)?;
        let n = count.min(len).to_string();
        ctx.propagate_as(&[pop_name(end), key, n.as_bytes()]);
        return Ok(true);
    }
    Ok(false)
}

fn lmpop(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let a = parse_mpop(argv, 1)?;
    mpop_reply(ctx, a.keys, a.end, a.count)?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Blocking pops

/// Whether `key` holds a list a blocked client can pop from now.
fn has_list(ctx: &mut Ctx, key: &[u8]) -> bool {
    let db = ctx.db();
    matches!(ctx.txn.get_mut(db, key), Some(e) if matches!(&e.value, Value::List(l) if !l.is_empty()))
}

fn blpop(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    bpop_generic(ctx, argv, End::Front)
}

fn brpop(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    bpop_generic(ctx, argv, End::Back)
}

/// `blockingPopGenericCommand`: the timeout is checked first, then the keys in order
/// (a key of another type is WRONGTYPE even if a later list has elements).
fn bpop_generic(ctx: &mut Ctx, argv: &[&[u8]], end: End) -> CmdResult {
    let deadline = args::timeout(argv[argv.len() - 1], ctx.txn.now)?;
    let keys = &argv[1..argv.len() - 1];
    let db = ctx.db();
    for &key in keys {
        if let Some(e) = ctx.txn.get_mut(db, key) {
            list_ref(&e.value)?;
            if let (Some(v), deleted) = pop_one_quiet(ctx, key, end)? {
                ctx.out.array(2);
                ctx.out.bulk(key);
                ctx.out.bulk(&v);
                pop_events(ctx, key, end, deleted);
                ctx.propagate_as(&[pop_name(end), key]);
                return Ok(());
            }
        }
    }
    if !ctx.may_block() {
        ctx.out.null_array();
        return Ok(());
    }
    ctx.block(argv, keys, &[], deadline);
    Ok(())
}

/// Serves a blocked BLPOP/BRPOP from `key`: `[key, element]`.
fn bpop_ready(ctx: &mut Ctx, argv: &[&[u8]], key: &[u8]) -> Result<bool, RError> {
    let end = if args::is(argv[0], "blpop") {
        End::Front
    } else {
        End::Back
    };
    if !has_list(ctx, key) {
        return Ok(false);
    }
    let (Some(v), deleted) = pop_one_quiet(ctx, key, end)? else {
        return Ok(false);
    };
    ctx.out.array(2);
    ctx.out.bulk(key);
    ctx.out.bulk(&v);
    pop_events(ctx, key, end, deleted);
    ctx.propagate_as(&[pop_name(end), key]);
    Ok(true)
}

/// The non-blocking pop a served or immediate blocking pop is propagated as.
fn pop_name(end: End) -> &'static [u8] {
    match end {
        End::Front => b"LPOP",
        End::Back => b"RPOP",
    }
}

fn blmove(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let from = parse_end(argv[3])?;
    let to = parse_end(argv[4])?;
    blmove_generic(ctx, argv, from, to, argv[5])
}

fn brpoplpush(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    blmove_generic(ctx, argv, End::Back, End::Front, argv[3])
}

/// `blmoveGenericCommand`: an existing source runs as LMOVE; a missing one blocks
/// (the destination's type is only checked once there is something to move).
fn blmove_generic(ctx: &mut Ctx, argv: &[&[u8]], from: End, to: End, timeout: &[u8]) -> CmdResult {
    let deadline = args::timeout(timeout, ctx.txn.now)?;
    let (src, dst) = (argv[1], argv[2]);
    let db = ctx.db();
    if let Some(e) = ctx.txn.get_mut(db, src) {
        list_ref(&e.value)?;
        lmove_generic(ctx, src, dst, from, to)?;
        blmove_propagate(ctx, argv);
        return Ok(());
    }
    if !ctx.may_block() {
        // Inside MULTI Redis answers a null bulk here (a timeout is a null array).
        ctx.out.null();
        return Ok(());
    }
    ctx.block(argv, &[src], &[dst], deadline);
    Ok(())
}

/// Serves a blocked BLMOVE/BRPOPLPUSH: the element moves to the destination (which
/// may in turn serve clients blocked there) and is the reply. A destination of
/// another type unblocks the client with WRONGTYPE and leaves the source alone.
fn blmove_ready(ctx: &mut Ctx, argv: &[&[u8]], key: &[u8]) -> Result<bool, RError> {
    let (from, to) = if args::is(argv[0], "blmove") {
        (parse_end(argv[3])?, parse_end(argv[4])?)
    } else {
        (End::Back, End::Front)
    };
    if !has_list(ctx, key) {
        return Ok(false);
    }
    let db = ctx.db();
    if let Some(e) = ctx.txn.get_mut(db, argv[2]) {
        list_ref(&e.value)?;
    }
    lmove_generic(ctx, key, argv[2], from, to)?;
    if args::is(argv[0], "blmove") {
        // Served: Redis writes its own lower-case `left`/`right`.
        let side = |e: End| -> &'static [u8] {
            match e {
                End::Front => b"left",
                End::Back => b"right",
            }
        };
        ctx.propagate_as(&[b"LMOVE", key, argv[2], side(from), side(to)]);
    } else {
        blmove_propagate(ctx, argv);
    }
    Ok(true)
}

/// BLMOVE / BRPOPLPUSH that moved an element: propagated as LMOVE / RPOPLPUSH.
fn blmove_propagate(ctx: &mut Ctx, argv: &[&[u8]]) {
    if args::is(argv[0], "blmove") {
        ctx.propagate_as(&[b"LMOVE", argv[1], argv[2], argv[3], argv[4]]);
    } else {
        ctx.propagate_as(&[b"RPOPLPUSH", argv[1], argv[2]]);
    }
}

/// Keys of `BLMPOP timeout numkeys key... LEFT|RIGHT [COUNT n]`.
pub fn blmpop_keys(argv: &[&[u8]]) -> Vec<usize> {
    mpop_keys(argv, 2)
}

fn blmpop(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let deadline = args::timeout(argv[1], ctx.txn.now)?;
    let a = parse_mpop(argv, 2)?;
    if mpop_try(ctx, a.keys, a.end, a.count)? {
        return Ok(());
    }
    if !ctx.may_block() {
        ctx.out.null_array();
        return Ok(());
    }
    ctx.block(argv, a.keys, &[], deadline);
    Ok(())
}

/// Serves a blocked BLMPOP from `key`: `[key, [elements]]`.
fn blmpop_ready(ctx: &mut Ctx, argv: &[&[u8]], key: &[u8]) -> Result<bool, RError> {
    let a = parse_mpop(argv, 2)?;
    let db = ctx.db();
    let len = match ctx.txn.get_mut(db, key) {
        Some(e) => match &e.value {
            Value::List(l) if !l.is_empty() => l.len(),
            _ => return Ok(false),
        },
        None => return Ok(false),
    };
    ctx.out.array(2);
    ctx.out.bulk(key);
    pop_range_reply(ctx, key, a.end, a.count)?;
    let n = a.count.min(len).to_string();
    ctx.propagate_as(&[pop_name(a.end), key, n.as_bytes()]);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(resolve_range(0, -1, 3), Some((0, 2)));
        assert_eq!(resolve_range(-100, 100, 3), Some((0, 2)));
        assert_eq!(resolve_range(2, 1, 3), None);
        assert_eq!(resolve_range(3, 5, 3), None);
        assert_eq!(resolve_range(i64::MIN, i64::MAX, 3), Some((0, 2)));
        assert_eq!(resolve_range(0, -1, 0), None);
        assert_eq!(resolve_index(-1, 3), Some(2));
        assert_eq!(resolve_index(-4, 3), None);
        assert_eq!(resolve_index(i64::MIN, 3), None);
        assert_eq!(resolve_index(3, 3), None);
    }

    #[test]
    fn mpop_key_positions() {
        let argv: Vec<&[u8]> = vec![b"lmpop", b"2", b"a", b"b", b"left"];
        assert_eq!(lmpop_keys(&argv), vec![2, 3]);
        let argv: Vec<&[u8]> = vec![b"lmpop", b"9", b"a", b"left"];
        assert!(lmpop_keys(&argv).is_empty());
        let argv: Vec<&[u8]> = vec![b"lmpop", b"-1", b"a", b"left"];
        assert!(lmpop_keys(&argv).is_empty());
        let argv: Vec<&[u8]> = vec![b"lmpop", b"x", b"a", b"left"];
        assert!(lmpop_keys(&argv).is_empty());
    }
}
