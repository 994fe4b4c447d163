//! Sorted set commands (Redis's `t_zset.c`), including the blocking BZPOPMIN,
//! BZPOPMAX and BZMPOP (served through `on_ready`, see `list.rs` and
//! `keyspace::blocking`).
//!
//! The value type and its encodings live in `types/zset.rs`; this module parses
//! arguments with Redis's exact errors and shapes replies (RESP2 flat member/score
//! lists, RESP3 nested `[member, score]` pairs where Redis uses them).

use super::{args, errors, flags::*, CmdResult, Command, Ctx, RError};
use crate::config::notify;
use crate::types::zset::{LexBound, LexRange, Limits, ScoreRange, ZSetValue};
use crate::types::Value;
use crate::util::num::parse_f64;

crate::commands! { pub static COMMANDS = [
    Command::new("zadd", -4, WRITE | DENYOOM | FAST, zadd)
        .keys(1, 1, 1)
        .acl(&["write", "sortedset", "fast"]),
    Command::new("zincrby", 4, WRITE | DENYOOM | FAST, zincrby)
        .keys(1, 1, 1)
        .acl(&["write", "sortedset", "fast"]),
    Command::new("zrem", -3, WRITE | FAST, zrem)
        .keys(1, 1, 1)
        .acl(&["write", "sortedset", "fast"]),
    Command::new("zcard", 2, READONLY | FAST, zcard)
        .keys(1, 1, 1)
        .acl(&["read", "sortedset", "fast"]),
    Command::new("zscore", 3, READONLY | FAST, zscore)
        .keys(1, 1, 1)
        .acl(&["read", "sortedset", "fast"]),
    Command::new("zmscore", -3, READONLY | FAST, zmscore)
        .keys(1, 1, 1)
        .acl(&["read", "sortedset", "fast"]),
    Command::new("zrank", -3, READONLY | FAST, zrank)
        .keys(1, 1, 1)
        .acl(&["read", "sortedset", "fast"]),
    Command::new("zrevrank", -3, READONLY | FAST, zrevrank)
        .keys(1, 1, 1)
        .acl(&["read", "sortedset", "fast"]),
    Command::new("zcount", 4, READONLY | FAST, zcount)
        .keys(1, 1, 1)
        .acl(&["read", "sortedset", "fast"]),
    Command::new("zlexcount", 4, READONLY | FAST, zlexcount)
        .keys(1, 1, 1)
        .acl(&["read", "sortedset", "fast"]),
    Command::new("zrange", -4, READONLY, zrange)
        .keys(1, 1, 1)
        .acl(&["read", "sortedset", "slow"]),
    Command::new("zrangestore", -5, WRITE | DENYOOM, zrangestore)
        .keys(1, 2, 1)
        .acl(&["write", "sortedset", "slow"]),
    Command::new("zrangebyscore", -4, READONLY, zrangebyscore)
        .keys(1, 1, 1)
        .acl(&["read", "sortedset", "slow"]),
    Command::new("zrevrangebyscore", -4, READONLY, zrevrangebyscore)
        .keys(1, 1, 1)
        .acl(&["read", "sortedset", "slow"]),
    Command::new("zrangebylex", -4, READONLY, zrangebylex)
        .keys(1, 1, 1)
        .acl(&["read", "sortedset", "slow"]),
    Command::new("zrevrangebylex", -4, READONLY, zrevrangebylex)
        .keys(1, 1, 1)
        .acl(&["read", "sortedset", "slow"]),
    Command::new("zrevrange", -4, READONLY, zrevrange)
        .keys(1, 1, 1)
        .acl(&["read", "sortedset", "slow"]),
    Command::new("zremrangebyrank", 4, WRITE, zremrangebyrank)
        .keys(1, 1, 1)
        .acl(&["write", "sortedset", "slow"]),
    Command::new("zremrangebyscore", 4, WRITE, zremrangebyscore)
        .keys(1, 1, 1)
        .acl(&["write", "sortedset", "slow"]),
    Command::new("zremrangebylex", 4, WRITE, zremrangebylex)
        .keys(1, 1, 1)
        .acl(&["write", "sortedset", "slow"]),
    Command::new("zpopmin", -2, WRITE | FAST, zpopmin)
        .keys(1, 1, 1)
        .acl(&["write", "sortedset", "fast"]),
    Command::new("zpopmax", -2, WRITE | FAST, zpopmax)
        .keys(1, 1, 1)
        .acl(&["write", "sortedset", "fast"]),
    Command::new("zmpop", -4, WRITE | MOVABLE_KEYS, zmpop)
        .getkeys(keys_numkeys_at_1)
        .lock(super::Lock::Keys)
        .acl(&["write", "sortedset", "slow"]),
    Command::new("bzpopmin", -3, WRITE | NOSCRIPT | FAST | BLOCKING, bzpopmin)
        .keys(1, -2, 1)
        .on_ready(bzpop_ready)
        .acl(&["write", "sortedset", "fast", "blocking"]),
    Command::new("bzpopmax", -3, WRITE | NOSCRIPT | FAST | BLOCKING, bzpopmax)
        .keys(1, -2, 1)
        .on_ready(bzpop_ready)
        .acl(&["write", "sortedset", "fast", "blocking"]),
    Command::new("bzmpop", -5, WRITE | BLOCKING | MOVABLE_KEYS, bzmpop)
        .getkeys(keys_numkeys_at_2)
        .lock(super::Lock::Keys)
        .on_ready(bzmpop_ready)
        .acl(&["write", "sortedset", "slow", "blocking"]),
    Command::new("zrandmember", -2, READONLY, zrandmember)
        .keys(1, 1, 1)
        .acl(&["read", "sortedset", "slow"]),
    Command::new("zunion", -3, READONLY | MOVABLE_KEYS, zunion)
        .getkeys(keys_numkeys_at_1)
        .lock(super::Lock::Keys)
        .acl(&["read", "sortedset", "slow"]),
    Command::new("zinter", -3, READONLY | MOVABLE_KEYS, zinter)
        .getkeys(keys_numkeys_at_1)
        .lock(super::Lock::Keys)
        .acl(&["read", "sortedset", "slow"]),
    Command::new("zdiff", -3, READONLY | MOVABLE_KEYS, zdiff)
        .getkeys(keys_numkeys_at_1)
        .lock(super::Lock::Keys)
        .acl(&["read", "sortedset", "slow"]),
    Command::new("zintercard", -3, READONLY | MOVABLE_KEYS, zintercard)
        .getkeys(keys_numkeys_at_1)
        .lock(super::Lock::Keys)
        .acl(&["read", "sortedset", "slow"]),
    Command::new("zunionstore", -4, WRITE | DENYOOM | MOVABLE_KEYS, zunionstore)
        .keys(1, 1, 1)
        .getkeys(keys_store)
        .acl(&["write", "sortedset", "slow"]),
    Command::new("zinterstore", -4, WRITE | DENYOOM | MOVABLE_KEYS, zinterstore)
        .keys(1, 1, 1)
        .getkeys(keys_store)
        .acl(&["write", "sortedset", "slow"]),
    Command::new("zdiffstore", -4, WRITE | DENYOOM | MOVABLE_KEYS, zdiffstore)
        .keys(1, 1, 1)
        .getkeys(keys_store)
        .acl(&["write", "sortedset", "slow"]),
    Command::new("zscan", -3, READONLY, zscan)
        .keys(1, 1, 1)
        .acl(&["read", "sortedset", "slow"]),
]; }

/// Keys of `CMD numkeys key...` (numkeys at argv[1]).
fn keys_numkeys_at_1(argv: &[&[u8]]) -> Vec<usize> {
    numkeys_keys(argv, 1)
}

/// Keys of `BZMPOP timeout numkeys key...`.
fn keys_numkeys_at_2(argv: &[&[u8]]) -> Vec<usize> {
    numkeys_keys(argv, 2)
}

/// Keys of `CMD dest numkeys key...`: the destination, then the sources.
fn keys_store(argv: &[&[u8]]) -> Vec<usize> {
    let mut v = numkeys_keys(argv, 2);
    if argv.len() > 1 {
        v.insert(0, 1);
    }
    v
}

fn numkeys_keys(argv: &[&[u8]], idx: usize) -> Vec<usize> {
    let Some(n) = argv.get(idx).and_then(|a| args::int(a).ok()) else {
        return Vec::new();
    };
    if n < 1 || n as u64 > (argv.len() - idx - 1) as u64 {
        return Vec::new();
    }
    (idx + 1..idx + 1 + n as usize).collect()
}

/// The thresholds of the compact encoding, from the configuration.
pub fn limits(ctx: &Ctx) -> Limits {
    limits_of(ctx.srv)
}

/// `limits` from the server (usable while the keyspace is borrowed).
fn limits_of(srv: &crate::server::Server) -> Limits {
    use crate::server::Limit;
    Limits {
        max_entries: srv.hot.limit(Limit::ZsetMaxListpackEntries) as usize,
        max_value: srv.hot.limit(Limit::ZsetMaxListpackValue) as usize,
    }
}

/// The sorted set held by a value, or WRONGTYPE.
#[allow(unreachable_patterns)]
pub fn zset_ref(v: &Value) -> Result<&ZSetValue, RError> {
    match v {
        Value::ZSet(z) => Ok(z),
        _ => Err(errors::WRONGTYPE),
    }
}

/// The sorted set held by a value, mutable, or WRONGTYPE.
#[allow(unreachable_patterns)]
pub fn zset_mut(v: &mut Value) -> Result<&mut ZSetValue, RError> {
    match v {
        Value::ZSet(z) => Ok(z),
        _ => Err(errors::WRONGTYPE),
    }
}

const NOT_FLOAT_RANGE: RError = RError::raw("ERR min or max is not a float");
const NOT_LEX_RANGE: RError = RError::raw("ERR min or max not valid string range item");
const NAN_SCORE: RError = RError::raw("ERR resulting score is not a number (NaN)");

/// C's `strtod` over a whole argument (as `zslParseRange` uses it): leading white
/// space allowed, an empty string is 0, the text ends at a NUL byte, NaN refused.
fn strtod_full(arg: &[u8]) -> Option<f64> {
    let s = arg.split(|&b| b == 0).next().unwrap_or_default();
    let s = match s
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
    {
        Some(p) => &s[p..],
        None => return if s.is_empty() { Some(0.0) } else { None },
    };
    parse_f64(s)
}

/// `zslParseRange`: `[(]min [(]max`.
pub fn parse_score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, RError> {
    let one = |a: &[u8]| -> Option<(f64, bool)> {
        match a.first() {
            Some(b'(') => strtod_full(&a[1..]).map(|v| (v, true)),
            _ => strtod_full(a).map(|v| (v, false)),
        }
    };
    let (min, minex) = one(min).ok_or(NOT_FLOAT_RANGE)?;
    let (max, maxex) = one(max).ok_or(NOT_FLOAT_RANGE)?;
    Ok(ScoreRange {
        min,
        max,
        minex,
        maxex,
    })
}

/// `zslParseLexRange`: `-`, `+`, `[member`, `(member`.
pub fn parse_lex_range(min: &[u8], max: &[u8]) -> Result<LexRange, RError> {
    fn item(a: &[u8]) -> Option<LexBound> {
        let alone = a.get(1).is_none_or(|&c| c == 0);
        match a.first()? {
            b'+' if alone => Some(LexBound::Max),
            b'-' if alone => Some(LexBound::Min),
            b'(' => Some(LexBound::Excl(a[1..].to_vec())),
            b'[' => Some(LexBound::Incl(a[1..].to_vec())),
            _ => None,
        }
    }
    Ok(LexRange {
        min: item(min).ok_or(NOT_LEX_RANGE)?,
        max: item(max).ok_or(NOT_LEX_RANGE)?,
    })
}

/// Writes members (and scores) as Redis's range replies do: RESP2 a flat array,
/// RESP3 with scores an array of `[member, score]` pairs.
fn reply_pairs(ctx: &mut Ctx, items: &[(Vec<u8>, f64)], withscores: bool) {
    let resp3 = ctx.out.is_resp3();
    if withscores && !resp3 {
        ctx.out.array(items.len() * 2);
    } else {
        ctx.out.array(items.len());
    }
    for (m, s) in items {
        if withscores && resp3 {
            ctx.out.array(2);
        }
        ctx.out.bulk(m);
        if withscores {
            ctx.out.double(*s);
        }
    }
}

// ---------------------------------------------------------------------------
// ZADD / ZINCRBY

pub const ZADD_NX: u32 = 1;
pub const ZADD_XX: u32 = 2;
const ZADD_GT: u32 = 4;
const ZADD_LT: u32 = 8;
pub const ZADD_CH: u32 = 16;
const ZADD_INCR: u32 = 32;

fn zadd(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let mut flags = 0;
    let mut idx = 2;
    while idx < argv.len() {
        let a = argv[idx];
        let f = if args::is(a, "nx") {
            ZADD_NX
        } else if args::is(a, "xx") {
            ZADD_XX
        } else if args::is(a, "gt") {
            ZADD_GT
        } else if args::is(a, "lt") {
            ZADD_LT
        } else if args::is(a, "ch") {
            ZADD_CH
        } else if args::is(a, "incr") {
            ZADD_INCR
        } else {
            break;
        };
        flags |= f;
        idx += 1;
    }
    zadd_generic(ctx, argv, idx, flags)
}

fn zincrby(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    zadd_generic(ctx, argv, 2, ZADD_INCR)
}

/// A score argument. Plain integers of up to 15 digits (what clients usually send)
/// are converted directly: they are exact in an `f64`, so the result is the one
/// `strtod` gives (including `-0`); everything else goes through `args::float`.
#[inline]
fn score_arg(a: &[u8]) -> Result<f64, RError> {
    let (neg, digits) = match a.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, a),
    };
    if !digits.is_empty() && digits.len() <= 15 && digits.iter().all(u8::is_ascii_digit) {
        let v = digits
            .iter()
            .fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0')) as f64;
        return Ok(if neg { -v } else { v });
    }
    args::float(a)
}

/// `zaddGenericCommand`: score/member pairs from `argv[scoreidx..]`.
pub fn zadd_generic(ctx: &mut Ctx, argv: &[&[u8]], scoreidx: usize, flags: u32) -> CmdResult {
    let has = |f: u32| flags & f != 0;
    let elements = argv.len() - scoreidx;
    if !elements.is_multiple_of(2) || elements == 0 {
        return Err(errors::SYNTAX);
    }
    let elements = elements / 2;
    if has(ZADD_NX) && has(ZADD_XX) {
        return Err(RError::raw(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (has(ZADD_GT) && has(ZADD_NX))
        || (has(ZADD_LT) && has(ZADD_NX))
        || (has(ZADD_GT) && has(ZADD_LT))
    {
        return Err(RError::raw(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if has(ZADD_INCR) && elements > 1 {
        return Err(RError::raw(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    let mut scores: smallvec::SmallVec<[f64; 4]> = smallvec::SmallVec::with_capacity(elements);
    for j in 0..elements {
        scores.push(score_arg(argv[scoreidx + j * 2])?);
    }
    let srv = ctx.srv;
    let mut lim = None;
    let db = ctx.db();
    let key = argv[1];
    let exists = match ctx.txn.get_mut(db, key) {
        Some(e) => {
            zset_ref(&e.value)?;
            true
        }
        None => false,
    };
    let incr = has(ZADD_INCR);
    if !exists {
        if has(ZADD_XX) {
            if incr {
                ctx.out.null();
            } else {
                ctx.out.int(0);
            }
            return Ok(());
        }
        let l = *lim.get_or_insert_with(|| limits_of(srv));
        let z = ZSetValue::new_for(argv[scoreidx + 1].len(), l);
        ctx.txn.set(db, key, Value::ZSet(z), false);
        ctx.txn.dirty -= 1;
    }
    let Some(e) = ctx.txn.get_mut(db, key) else {
        return Err(errors::NO_SUCH_KEY);
    };
    let z = zset_mut(&mut e.value)?;
    // The thresholds only matter to a listpack (reading them costs a config lookup,
    // a noticeable share of a ZADD into a big set).
    let lim = match (lim, &*z) {
        (Some(l), _) => l,
        (None, ZSetValue::Listpack(_)) => limits_of(srv),
        (None, ZSetValue::Skiplist(_)) => Limits {
            max_entries: usize::MAX,
            max_value: usize::MAX,
        },
    };
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0i64);
    let mut newscore = 0.0;
    let mut nan = false;
    for (j, &score) in scores.iter().enumerate() {
        let member = argv[scoreidx + j * 2 + 1];
        match z.lookup(member) {
            Some((cur, handle)) => {
                if has(ZADD_NX) {
                    continue;
                }
                let mut score = score;
                if incr {
                    score += cur;
                    if score.is_nan() {
                        nan = true;
                        break;
                    }
                }
                if (has(ZADD_LT) && score >= cur) || (has(ZADD_GT) && score <= cur) {
                    continue;
                }
                newscore = score;
                if score != cur {
                    z.update_score_at(handle, member, score);
                    updated += 1;
                }
                processed += 1;
            }
            None => {
                if has(ZADD_XX) {
                    continue;
                }
                z.insert_new(member, score, lim);
                newscore = score;
                added += 1;
                processed += 1;
            }
        }
    }
    let empty = z.is_empty();
    ctx.txn.dirty += (added + updated) as u64;
    if empty {
        // Only possible when the key was just created and nothing was added.
        ctx.txn.remove(db, key);
        ctx.txn.dirty -= 1;
    }
    // Redis replies, then raises the event.
    let event = added + updated > 0;
    if nan {
        if event {
            ctx.notify(notify::ZSET, if incr { "zincr" } else { "zadd" }, key);
        }
        return Err(NAN_SCORE);
    }
    if incr {
        if processed > 0 {
            ctx.out.double(newscore);
        } else {
            ctx.out.null();
        }
    } else {
        ctx.out
            .int(if has(ZADD_CH) { added + updated } else { added });
    }
    if event {
        ctx.notify(notify::ZSET, if incr { "zincr" } else { "zadd" }, key);
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Simple reads and ZREM

fn zrem(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let Some(e) = ctx.txn.get_mut(db, argv[1]) else {
        ctx.out.int(0);
        return Ok(());
    };
    let z = zset_mut(&mut e.value)?;
    let mut deleted = 0;
    for m in &argv[2..] {
        if z.remove(m).is_some() {
            deleted += 1;
            if z.is_empty() {
                break;
            }
        }
    }
    let empty = z.is_empty();
    ctx.txn.dirty += deleted as u64;
    if deleted > 0 {
        ctx.notify(notify::ZSET, "zrem", argv[1]);
    }
    if empty {
        ctx.txn.remove(db, argv[1]);
        ctx.txn.dirty -= 1;
        ctx.notify(notify::GENERIC, "del", argv[1]);
    }
    ctx.out.int(deleted);
    Ok(())
}

fn zcard(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let n = match ctx.txn.get_read(db, argv[1]) {
        Some(e) => zset_ref(&e.value)?.len(),
        None => 0,
    };
    ctx.out.int(n as i64);
    Ok(())
}

fn zscore(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let s = match ctx.txn.get_read(db, argv[1]) {
        Some(e) => zset_ref(&e.value)?.score(argv[2]),
        None => None,
    };
    match s {
        Some(s) => ctx.out.double(s),
        None => ctx.out.null(),
    }
    Ok(())
}

fn zmscore(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let scores: Vec<Option<f64>> = match ctx.txn.get_read(db, argv[1]) {
        Some(e) => {
            let z = zset_ref(&e.value)?;
            argv[2..].iter().map(|m| z.score(m)).collect()
        }
        None => vec![None; argv.len() - 2],
    };
    ctx.out.array(scores.len());
    for s in scores {
        match s {
            Some(s) => ctx.out.double(s),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn zrank(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    zrank_generic(ctx, argv, false)
}

fn zrevrank(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    zrank_generic(ctx, argv, true)
}

/// ZRANK/ZREVRANK key member [WITHSCORE] (WITHSCORE as in Redis 7.2).
fn zrank_generic(ctx: &mut Ctx, argv: &[&[u8]], rev: bool) -> CmdResult {
    if argv.len() > 4 {
        return Err(RError::owned(format!(
            "ERR wrong number of arguments for '{}' command",
            ctx.cmd.name
        )));
    }
    let withscore = if argv.len() == 4 {
        if !args::is(argv[3], "withscore") {
            return Err(errors::SYNTAX);
        }
        true
    } else {
        false
    };
    let db = ctx.db();
    let found = match ctx.txn.get_read(db, argv[1]) {
        Some(e) => {
            let z = zset_ref(&e.value)?;
            z.rank(argv[2])
                .map(|(r, s)| (if rev { z.len() - 1 - r } else { r }, s))
        }
        None => None,
    };
    match found {
        Some((r, s)) => {
            if withscore {
                ctx.out.array(2);
                ctx.out.int(r as i64);
                ctx.out.double(s);
            } else {
                ctx.out.int(r as i64);
            }
        }
        None if withscore => ctx.out.null_array(),
        None => ctx.out.null(),
    }
    Ok(())
}

fn zcount(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let r = parse_score_range(argv[2], argv[3])?;
    let db = ctx.db();
    let n = match ctx.txn.get_read(db, argv[1]) {
        Some(e) => {
            let (a, b) = zset_ref(&e.value)?.score_span(&r);
            b - a
        }
        None => 0,
    };
    ctx.out.int(n as i64);
    Ok(())
}

fn zlexcount(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let r = parse_lex_range(argv[2], argv[3])?;
    let db = ctx.db();
    let n = match ctx.txn.get_read(db, argv[1]) {
        Some(e) => {
            let (a, b) = zset_ref(&e.value)?.lex_span(&r);
            b - a
        }
        None => 0,
    };
    ctx.out.int(n as i64);
    Ok(())
}

// ---------------------------------------------------------------------------
// ZRANGE and friends

#[derive(Clone, Copy, PartialEq, Eq)]
enum RangeType {
    Auto,
    Rank,
    Score,
    Lex,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    Auto,
    Forward,
    Reverse,
}

fn zrange(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, argv, 1, None, RangeType::Auto, Dir::Auto)
}

fn zrangestore(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, argv, 2, Some(argv[1]), RangeType::Auto, Dir::Auto)
}

fn zrangebyscore(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, argv, 1, None, RangeType::Score, Dir::Forward)
}

fn zrevrangebyscore(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, argv, 1, None, RangeType::Score, Dir::Reverse)
}

fn zrangebylex(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, argv, 1, None, RangeType::Lex, Dir::Forward)
}

fn zrevrangebylex(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, argv, 1, None, RangeType::Lex, Dir::Reverse)
}

fn zrevrange(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, argv, 1, None, RangeType::Rank, Dir::Reverse)
}

/// Ranks `[start, end)` selected by a ZRANGE-style rank pair (negative from the end).
pub fn rank_span(start: i64, end: i64, len: usize) -> (usize, usize) {
    let llen = len as i64;
    let mut start = if start < 0 { llen + start } else { start };
    let mut end = if end < 0 { llen + end } else { end };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= llen {
        return (0, 0);
    }
    if end >= llen {
        end = llen - 1;
    }
    (start as usize, end as usize + 1)
}

/// Applies LIMIT offset/count (Redis's loops: a negative offset skips everything, a
/// negative count means no limit) to `[a, b)`, counted from the end if `rev`.
fn apply_limit(a: usize, b: usize, offset: i64, limit: i64, rev: bool) -> (usize, usize) {
    let n = b - a;
    if offset < 0 || offset as u64 >= n as u64 {
        return (a, a);
    }
    let rest = n - offset as usize;
    let take = if limit < 0 {
        rest
    } else {
        rest.min(limit as u64 as usize)
    };
    if rev {
        (b - offset as usize - take, b - offset as usize)
    } else {
        (a + offset as usize, a + offset as usize + take)
    }
}

/// `zrangeGenericCommand`: argv[src] is the source key; `store` the destination.
fn zrange_generic(
    ctx: &mut Ctx,
    argv: &[&[u8]],
    src: usize,
    store: Option<&[u8]>,
    mut rtype: RangeType,
    mut dir: Dir,
) -> CmdResult {
    let mut minidx = src + 1;
    let mut maxidx = src + 2;
    let mut withscores = false;
    let mut offset = 0i64;
    let mut limit = -1i64;
    let mut j = src + 3;
    while j < argv.len() {
        let left = argv.len() - j - 1;
        let a = argv[j];
        if store.is_none() && args::is(a, "withscores") {
            withscores = true;
        } else if args::is(a, "limit") && left >= 2 {
            offset = args::int(argv[j + 1])?;
            limit = args::int(argv[j + 2])?;
            j += 2;
        } else if dir == Dir::Auto && args::is(a, "rev") {
            dir = Dir::Reverse;
        } else if rtype == RangeType::Auto && args::is(a, "bylex") {
            rtype = RangeType::Lex;
        } else if rtype == RangeType::Auto && args::is(a, "byscore") {
            rtype = RangeType::Score;
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    if dir == Dir::Auto {
        dir = Dir::Forward;
    }
    if rtype == RangeType::Auto {
        rtype = RangeType::Rank;
    }
    if limit != -1 && rtype == RangeType::Rank {
        return Err(RError::raw(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && rtype == RangeType::Lex {
        return Err(RError::raw(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    let rev = dir == Dir::Reverse;
    if rev && rtype != RangeType::Rank {
        std::mem::swap(&mut minidx, &mut maxidx);
    }
    enum Sel {
        Rank(i64, i64),
        Score(ScoreRange),
        Lex(LexRange),
    }
    let sel = match rtype {
        RangeType::Score => Sel::Score(parse_score_range(argv[minidx], argv[maxidx])?),
        RangeType::Lex => Sel::Lex(parse_lex_range(argv[minidx], argv[maxidx])?),
        _ => Sel::Rank(args::int(argv[minidx])?, args::int(argv[maxidx])?),
    };
    let db = ctx.db();
    // The ranks `a..b` the selection covers.
    let span = |z: &ZSetValue| {
        let len = z.len();
        match &sel {
            Sel::Rank(s, e) => {
                let (a, b) = rank_span(*s, *e, len);
                if rev {
                    (len - b, len - a)
                } else {
                    (a, b)
                }
            }
            Sel::Score(r) => {
                let (a, b) = z.score_span(r);
                apply_limit(a, b, offset, limit, rev)
            }
            Sel::Lex(r) => {
                let (a, b) = z.lex_span(r);
                apply_limit(a, b, offset, limit, rev)
            }
        }
    };
    let Some(dst) = store else {
        // A reply: written straight from the sorted set, no copy of the members.
        let resp3 = ctx.out.is_resp3();
        let Some(e) = ctx.txn.get_read(db, argv[src]) else {
            ctx.out.array(0);
            return Ok(());
        };
        let z = zset_ref(&e.value)?;
        let (a, b) = span(z);
        let n = b.min(z.len()).saturating_sub(a);
        let out = &mut *ctx.out;
        out.array(if withscores && !resp3 { n * 2 } else { n });
        z.for_each_in(a, b, rev, |m, s| {
            if withscores && resp3 {
                out.array(2);
            }
            out.bulk(m);
            if withscores {
                out.double(s);
            }
        });
        return Ok(());
    };
    // ZRANGESTORE: the members are copied into the destination.
    let items = match ctx.txn.get_read(db, argv[src]) {
        None => Vec::new(),
        Some(e) => {
            let z = zset_ref(&e.value)?;
            let (a, b) = span(z);
            z.collect_range(a, b, rev)
        }
    };
    let n = items.len();
    if n == 0 {
        ctx.out.int(0);
        if ctx.txn.remove(db, dst).is_some() {
            ctx.notify(notify::GENERIC, "del", dst);
        }
    } else {
        let lim = limits(ctx);
        // Redis's zsetTypeCreate(length): the size is only known ahead for
        // rank ranges; members then go in one by one (converting as needed).
        let hint = if matches!(sel, Sel::Rank(..)) { n } else { 0 };
        let mut z = ZSetValue::with_hint(hint, 0, lim);
        for (m, s) in &items {
            z.upsert(m, *s, lim);
        }
        ctx.txn.set(db, dst, Value::ZSet(z), false);
        ctx.out.int(n as i64);
        ctx.notify(notify::ZSET, "zrangestore", dst);
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// ZREMRANGEBY*

fn zremrangebyrank(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let start = args::int(argv[2])?;
    let end = args::int(argv[3])?;
    zremrange_generic(ctx, argv[1], "zremrangebyrank", |z| {
        rank_span(start, end, z.len())
    })
}

fn zremrangebyscore(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let r = parse_score_range(argv[2], argv[3])?;
    zremrange_generic(ctx, argv[1], "zremrangebyscore", |z| z.score_span(&r))
}

fn zremrangebylex(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let r = parse_lex_range(argv[2], argv[3])?;
    zremrange_generic(ctx, argv[1], "zremrangebylex", |z| z.lex_span(&r))
}

fn zremrange_generic(
    ctx: &mut Ctx,
    key: &[u8],
    event: &'static str,
    span: impl FnOnce(&ZSetValue) -> (usize, usize),
) -> CmdResult {
    let db = ctx.db();
    let Some(e) = ctx.txn.get_mut(db, key) else {
        ctx.out.int(0);
        return Ok(());
    };
    let z = zset_mut(&mut e.value)?;
    let (a, b) = span(z);
    let n = z.remove_range(a, b);
    let empty = z.is_empty();
    ctx.txn.dirty += n as u64;
    if n > 0 {
        ctx.notify(notify::ZSET, event, key);
    }
    if empty {
        ctx.txn.remove(db, key);
        ctx.txn.dirty -= 1;
        ctx.notify(notify::GENERIC, "del", key);
    }
    ctx.out.int(n as i64);
    Ok(())
}

// ---------------------------------------------------------------------------
// ZPOPMIN / ZPOPMAX / ZMPOP

fn zpopmin(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    zpop_command(ctx, argv, false)
}

fn zpopmax(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    zpop_command(ctx, argv, true)
}

fn zpop_command(ctx: &mut Ctx, argv: &[&[u8]], max: bool) -> CmdResult {
    if argv.len() > 3 {
        return Err(errors::SYNTAX);
    }
    let count = match argv.get(2) {
        Some(a) => {
            let n = args::int(a).map_err(|_| errors::NOT_POSITIVE)?;
            if n < 0 {
                return Err(errors::NOT_POSITIVE);
            }
            Some(n as usize)
        }
        None => None,
    };
    let nested = ctx.out.is_resp3() && count.is_some();
    let db = ctx.db();
    let key = argv[1];
    let exists = match ctx.txn.get_mut(db, key) {
        Some(e) => {
            zset_ref(&e.value)?;
            true
        }
        None => false,
    };
    if !exists || count == Some(0) {
        ctx.out.array(0);
        return Ok(());
    }
    // The header goes out before the pop's event and the elements after it, as in
    // Redis (a RESP3 client subscribed to its own events sees the push in between).
    let n = zset_len(ctx, key).min(count.unwrap_or(1));
    ctx.out.array(if nested { n } else { n * 2 });
    let (popped, emptied) = pop_from(ctx, key, count.unwrap_or(1), max);
    for (m, s) in &popped {
        if nested {
            ctx.out.array(2);
        }
        ctx.out.bulk(m);
        ctx.out.double(*s);
    }
    pop_done(ctx, key, emptied);
    Ok(())
}

/// The number of members of the sorted set at `key` (0 if missing).
fn zset_len(ctx: &mut Ctx, key: &[u8]) -> usize {
    let db = ctx.db();
    match ctx.txn.peek(db, key).map(|e| &e.value) {
        Some(Value::ZSet(z)) => z.len(),
        _ => 0,
    }
}

/// The end of a pop: `del` for a sorted set the pop emptied (raised after the reply,
/// where Redis raises it).
pub fn pop_done(ctx: &mut Ctx, key: &[u8], emptied: bool) {
    if emptied {
        ctx.notify(notify::GENERIC, "del", key);
    }
}

/// Pops up to `count` members from the sorted set at `key` (which must exist and be
/// a sorted set), deleting the key when it empties (returned as `true`: the caller
/// raises `del` with [`pop_done`] once its reply is written). For BZPOP*/BZMPOP as
/// well.
pub fn pop_from(ctx: &mut Ctx, key: &[u8], count: usize, max: bool) -> (Vec<(Vec<u8>, f64)>, bool) {
    let db = ctx.db();
    let Some(e) = ctx.txn.get_mut(db, key) else {
        return (Vec::new(), false);
    };
    let Value::ZSet(z) = &mut e.value else {
        return (Vec::new(), false);
    };
    let popped = z.pop(count, max);
    let empty = z.is_empty();
    ctx.txn.dirty += popped.len() as u64;
    if !popped.is_empty() {
        ctx.notify(notify::ZSET, if max { "zpopmax" } else { "zpopmin" }, key);
    }
    if empty {
        ctx.txn.remove(db, key);
        ctx.txn.dirty -= 1;
    }
    (popped, empty)
}

/// Parsed `numkeys key... MIN|MAX [COUNT n]` of ZMPOP/BZMPOP.
struct ZmpopArgs<'a> {
    keys: &'a [&'a [u8]],
    max: bool,
    count: usize,
}

fn parse_zmpop<'a>(argv: &'a [&'a [u8]], numkeys_idx: usize) -> Result<ZmpopArgs<'a>, RError> {
    const NUMKEYS: RError = RError::raw("ERR numkeys should be greater than 0");
    const COUNT: RError = RError::raw("ERR count should be greater than 0");
    let numkeys = args::int(argv[numkeys_idx]).map_err(|_| NUMKEYS)?;
    if numkeys < 1 {
        return Err(NUMKEYS);
    }
    let where_idx = (numkeys as u64).saturating_add(numkeys_idx as u64 + 1);
    if where_idx >= argv.len() as u64 {
        return Err(errors::SYNTAX);
    }
    let where_idx = where_idx as usize;
    let max = if args::is(argv[where_idx], "min") {
        false
    } else if args::is(argv[where_idx], "max") {
        true
    } else {
        return Err(errors::SYNTAX);
    };
    let mut count: i64 = -1;
    let mut j = where_idx + 1;
    while j < argv.len() {
        if count == -1 && args::is(argv[j], "count") && j + 1 < argv.len() {
            j += 1;
            count = args::int(argv[j]).map_err(|_| COUNT)?;
            if count < 1 {
                return Err(COUNT);
            }
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    Ok(ZmpopArgs {
        keys: &argv[numkeys_idx + 1..where_idx],
        max,
        count: if count == -1 { 1 } else { count as usize },
    })
}

/// `[key, [[member, score], ...]]`, popped from `key` (an existing sorted set).
fn zmpop_reply(ctx: &mut Ctx, key: &[u8], max: bool, count: usize) {
    let n = zset_len(ctx, key).min(count);
    ctx.out.array(2);
    ctx.out.bulk(key);
    ctx.out.array(n);
    let (popped, emptied) = pop_from(ctx, key, count, max);
    for (m, s) in &popped {
        ctx.out.array(2);
        ctx.out.bulk(m);
        ctx.out.double(*s);
    }
    pop_done(ctx, key, emptied);
    // Propagated as ZPOPMIN/ZPOPMAX key <number popped>, as Redis does.
    let n = n.to_string();
    ctx.propagate_as(&[zpop_name(max), key, n.as_bytes()]);
}

fn zpop_name(max: bool) -> &'static [u8] {
    if max {
        b"ZPOPMAX"
    } else {
        b"ZPOPMIN"
    }
}

/// The first of `keys` holding a sorted set (WRONGTYPE for another type on the way).
fn first_zset<'k>(ctx: &mut Ctx, keys: &[&'k [u8]]) -> Result<Option<&'k [u8]>, RError> {
    let db = ctx.db();
    for &k in keys {
        if let Some(e) = ctx.txn.get_mut(db, k) {
            zset_ref(&e.value)?;
            return Ok(Some(k));
        }
    }
    Ok(None)
}

fn zmpop(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let a = parse_zmpop(argv, 1)?;
    match first_zset(ctx, a.keys)? {
        Some(key) => zmpop_reply(ctx, key, a.max, a.count),
        None => ctx.out.null_array(),
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Blocking pops

/// Whether `key` holds a sorted set (a blocked client can pop from it now).
fn has_zset(ctx: &mut Ctx, key: &[u8]) -> bool {
    let db = ctx.db();
    matches!(ctx.txn.get_mut(db, key), Some(e) if matches!(e.value, Value::ZSet(_)))
}

fn bzpopmin(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    bzpop_generic(ctx, argv, false)
}

fn bzpopmax(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    bzpop_generic(ctx, argv, true)
}

/// `[key, member, score]` (flat in both protocols), popped from an existing zset.
fn bzpop_reply(ctx: &mut Ctx, key: &[u8], max: bool) {
    let n = zset_len(ctx, key).min(1);
    ctx.out.array(1 + n * 2);
    ctx.out.bulk(key);
    let (popped, emptied) = pop_from(ctx, key, 1, max);
    for (m, s) in &popped {
        ctx.out.bulk(m);
        ctx.out.double(*s);
    }
    pop_done(ctx, key, emptied);
    ctx.propagate_as(&[zpop_name(max), key]);
}

/// `blockingGenericZpopCommand`: timeout first, then the keys in order.
fn bzpop_generic(ctx: &mut Ctx, argv: &[&[u8]], max: bool) -> CmdResult {
    let deadline = args::timeout(argv[argv.len() - 1], ctx.txn.now)?;
    let keys = &argv[1..argv.len() - 1];
    if let Some(key) = first_zset(ctx, keys)? {
        bzpop_reply(ctx, key, max);
        return Ok(());
    }
    if !ctx.may_block() {
        ctx.out.null_array();
        return Ok(());
    }
    ctx.block(argv, keys, &[], deadline);
    Ok(())
}

fn bzpop_ready(ctx: &mut Ctx, argv: &[&[u8]], key: &[u8]) -> Result<bool, RError> {
    if !has_zset(ctx, key) {
        return Ok(false);
    }
    bzpop_reply(ctx, key, args::is(argv[0], "bzpopmax"));
    Ok(true)
}

fn bzmpop(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let deadline = args::timeout(argv[1], ctx.txn.now)?;
    let a = parse_zmpop(argv, 2)?;
    if let Some(key) = first_zset(ctx, a.keys)? {
        zmpop_reply(ctx, key, a.max, a.count);
        return Ok(());
    }
    if !ctx.may_block() {
        ctx.out.null_array();
        return Ok(());
    }
    ctx.block(argv, a.keys, &[], deadline);
    Ok(())
}

fn bzmpop_ready(ctx: &mut Ctx, argv: &[&[u8]], key: &[u8]) -> Result<bool, RError> {
    let a = parse_zmpop(argv, 2)?;
    if !has_zset(ctx, key) {
        return Ok(false);
    }
    zmpop_reply(ctx, key, a.max, a.count);
    Ok(true)
}

// ---------------------------------------------------------------------------
// ZRANDMEMBER

fn zrandmember(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    use rand::Rng;
    let db = ctx.db();
    if argv.len() == 2 {
        let pick = match ctx.txn.get_read(db, argv[1]) {
            Some(e) => {
                let z = zset_ref(&e.value)?;
                let i = rand::thread_rng().gen_range(0..z.len().max(1));
                z.at(i)
            }
            None => None,
        };
        match pick {
            Some((m, _)) => ctx.out.bulk(&m),
            None => ctx.out.null(),
        }
        return Ok(());
    }
    let l = args::int(argv[2])?;
    if l == i64::MIN {
        return Err(RError::raw(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let withscores = match argv.len() {
        3 => false,
        4 if args::is(argv[3], "withscores") => true,
        _ => return Err(errors::SYNTAX),
    };
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return Err(RError::raw("ERR value is out of range"));
    }
    let items = match ctx.txn.get_read(db, argv[1]) {
        None => Vec::new(),
        Some(e) => {
            let z = zset_ref(&e.value)?;
            let size = z.len();
            let count = l.unsigned_abs();
            let mut rng = rand::thread_rng();
            // A listpack is decoded once (random access into it is linear); a skiplist
            // is indexed by rank in O(log n).
            let decoded = (z.encoding() == "listpack").then(|| z.to_vec());
            let at = |r: usize| match &decoded {
                Some(v) => v.get(r).cloned(),
                None => z.at(r),
            };
            if count == 0 || size == 0 {
                Vec::new()
            } else if l < 0 || count == 1 {
                // Repetitions allowed: independent picks.
                let mut v = Vec::with_capacity(count.min(1 << 20) as usize);
                for _ in 0..count {
                    if let Some(x) = at(rng.gen_range(0..size)) {
                        v.push(x);
                    }
                }
                v
            } else if count >= size as u64 {
                z.to_vec()
            } else {
                // Distinct members: choose `count` distinct ranks, reply in rank order.
                let count = count as usize;
                let mut ranks: Vec<usize> =
                    rand::seq::index::sample(&mut rng, size, count).into_vec();
                ranks.sort_unstable();
                let mut v = Vec::with_capacity(count);
                for r in ranks {
                    if let Some(x) = at(r) {
                        v.push(x);
                    }
                }
                v
            }
        }
    };
    reply_pairs(ctx, &items, withscores);
    Ok(())
}

// ---------------------------------------------------------------------------
// ZUNION / ZINTER / ZDIFF (+STORE), ZINTERCARD

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

/// `zunionInterAggregate`, NaN from inf + -inf becoming 0 as in Redis.
fn aggregate(target: &mut f64, val: f64, agg: Aggregate) {
    match agg {
        Aggregate::Sum => {
            *target += val;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if val < *target {
                *target = val;
            }
        }
        Aggregate::Max => {
            if val > *target {
                *target = val;
            }
        }
    }
}

/// One input of a set operation: its members with scores (sets give score 1).
struct Src {
    items: Vec<(Vec<u8>, f64)>,
    weight: f64,
    /// Index of the first argument naming the same key (same object in Redis).
    same_as: usize,
}

/// Members and scores of a value usable as a set-operation input (a sorted set, or
/// a set with every score 1), or WRONGTYPE.
#[allow(unreachable_patterns)]
fn source_items(v: &Value) -> Result<Vec<(Vec<u8>, f64)>, RError> {
    match v {
        Value::ZSet(z) => Ok(z.to_vec()),
        // Plain sets are accepted, every member with score 1 (as Redis does).
        Value::Set(set) => Ok(set.members().into_iter().map(|m| (m, 1.0)).collect()),
        _ => Err(errors::WRONGTYPE),
    }
}

fn zunionstore(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    setop_generic(ctx, argv, Some(argv[1]), 2, SetOp::Union, false)
}
fn zinterstore(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    setop_generic(ctx, argv, Some(argv[1]), 2, SetOp::Inter, false)
}
fn zdiffstore(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    setop_generic(ctx, argv, Some(argv[1]), 2, SetOp::Diff, false)
}
fn zunion(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    setop_generic(ctx, argv, None, 1, SetOp::Union, false)
}
fn zinter(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    setop_generic(ctx, argv, None, 1, SetOp::Inter, false)
}
fn zdiff(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    setop_generic(ctx, argv, None, 1, SetOp::Diff, false)
}
fn zintercard(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    setop_generic(ctx, argv, None, 1, SetOp::Inter, true)
}

/// `zunionInterDiffGenericCommand`.
fn setop_generic(
    ctx: &mut Ctx,
    argv: &[&[u8]],
    dst: Option<&[u8]>,
    numkeys_idx: usize,
    op: SetOp,
    card_only: bool,
) -> CmdResult {
    let setnum = args::int(argv[numkeys_idx])?;
    if setnum < 1 {
        return Err(RError::owned(format!(
            "ERR at least 1 input key is needed for '{}' command",
            ctx.cmd.name
        )));
    }
    if setnum as u64 > (argv.len() - numkeys_idx - 1) as u64 {
        return Err(errors::SYNTAX);
    }
    let setnum = setnum as usize;
    let db = ctx.db();
    let first = numkeys_idx + 1;
    let mut srcs: Vec<Src> = Vec::with_capacity(setnum);
    for i in 0..setnum {
        let key = argv[first + i];
        let same_as = (0..i).find(|&p| argv[first + p] == key).unwrap_or(i);
        let items = match ctx.txn.get_read(db, key) {
            Some(e) => source_items(&e.value)?,
            None => Vec::new(),
        };
        srcs.push(Src {
            items,
            weight: 1.0,
            same_as,
        });
    }
    let mut agg = Aggregate::Sum;
    let mut withscores = false;
    let mut limit: i64 = 0;
    let mut j = first + setnum;
    while j < argv.len() {
        let remaining = argv.len() - j;
        let a = argv[j];
        if op != SetOp::Diff && !card_only && remaining > setnum && args::is(a, "weights") {
            j += 1;
            for s in srcs.iter_mut() {
                s.weight =
                    parse_f64(argv[j]).ok_or(RError::raw("ERR weight value is not a float"))?;
                j += 1;
            }
        } else if op != SetOp::Diff && !card_only && remaining >= 2 && args::is(a, "aggregate") {
            let v = argv[j + 1];
            agg = if args::is(v, "sum") {
                Aggregate::Sum
            } else if args::is(v, "min") {
                Aggregate::Min
            } else if args::is(v, "max") {
                Aggregate::Max
            } else {
                return Err(errors::SYNTAX);
            };
            j += 2;
        } else if dst.is_none() && !card_only && args::is(a, "withscores") {
            withscores = true;
            j += 1;
        } else if card_only && remaining >= 2 && args::is(a, "limit") {
            const NEG: RError = RError::raw("ERR LIMIT can't be negative");
            limit = args::int(argv[j + 1]).map_err(|_| NEG)?;
            if limit < 0 {
                return Err(NEG);
            }
            j += 2;
        } else {
            return Err(errors::SYNTAX);
        }
    }
    // Inputs from the smallest to the largest (stable, as glibc's qsort behaves), which
    // also fixes the order scores are summed in; DIFF keeps the first set first.
    let mut order: Vec<usize> = (0..setnum).collect();
    if op != SetOp::Diff {
        order.sort_by_key(|&i| srcs[i].items.len());
    }
    let mut result: Vec<(Vec<u8>, f64)> = Vec::new();
    let mut cardinality = 0usize;
    match op {
        SetOp::Inter => {
            let s0 = &srcs[order[0]];
            // Lookup maps for the other inputs.
            let maps: Vec<ahash::AHashMap<&[u8], f64>> = order[1..]
                .iter()
                .map(|&i| {
                    srcs[i]
                        .items
                        .iter()
                        .map(|(m, s)| (m.as_slice(), *s))
                        .collect()
                })
                .collect();
            for (m, s) in &s0.items {
                let mut score = s0.weight * s;
                if score.is_nan() {
                    score = 0.0;
                }
                let mut all = true;
                for (k, &i) in order[1..].iter().enumerate() {
                    let src = &srcs[i];
                    let value = if src.same_as == s0.same_as {
                        Some(s * src.weight)
                    } else {
                        maps[k].get(m.as_slice()).map(|v| v * src.weight)
                    };
                    match value {
                        Some(v) => aggregate(&mut score, v, agg),
                        None => {
                            all = false;
                            break;
                        }
                    }
                }
                if !all {
                    continue;
                }
                if card_only {
                    cardinality += 1;
                    if limit > 0 && cardinality as i64 >= limit {
                        break;
                    }
                } else {
                    result.push((m.clone(), score));
                }
            }
        }
        SetOp::Union => {
            let mut acc: ahash::AHashMap<Vec<u8>, f64> = ahash::AHashMap::new();
            for &i in &order {
                let src = &srcs[i];
                for (m, s) in &src.items {
                    let mut score = src.weight * s;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    match acc.get_mut(m) {
                        Some(t) => aggregate(t, score, agg),
                        None => {
                            acc.insert(m.clone(), score);
                        }
                    }
                }
            }
            result = acc.into_iter().collect();
        }
        SetOp::Diff => {
            let others: Vec<ahash::AHashSet<&[u8]>> = srcs[1..]
                .iter()
                .map(|s| s.items.iter().map(|(m, _)| m.as_slice()).collect())
                .collect();
            for (m, s) in &srcs[0].items {
                if !others.iter().any(|o| o.contains(m.as_slice())) {
                    result.push((m.clone(), *s));
                }
            }
        }
    }
    if card_only {
        ctx.out.int(cardinality as i64);
        return Ok(());
    }
    result.sort_by(|a, b| crate::types::zset::cmp_entry(a.1, &a.0, b.1, &b.0));
    match dst {
        None => reply_pairs(ctx, &result, withscores),
        Some(dst) => {
            if result.is_empty() {
                ctx.out.int(0);
                if ctx.txn.remove(db, dst).is_some() {
                    ctx.notify(notify::GENERIC, "del", dst);
                }
            } else {
                let lim = limits(ctx);
                let mut z = ZSetValue::Skiplist(Box::default());
                for (m, s) in &result {
                    z.insert_new(m, *s, lim);
                }
                z.compact_if_fits(lim);
                ctx.txn.set(db, dst, Value::ZSet(z), false);
                let event = match op {
                    SetOp::Union => "zunionstore",
                    SetOp::Inter => "zinterstore",
                    SetOp::Diff => "zdiffstore",
                };
                ctx.out.int(result.len() as i64);
                ctx.notify(notify::ZSET, event, dst);
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// ZSCAN

fn zscan(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let cursor = args::scan_cursor(argv[2])?;
    let db = ctx.db();
    let Some(e) = ctx.txn.get_read(db, argv[1]) else {
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.array(0);
        return Ok(());
    };
    let z = zset_ref(&e.value)?;
    let (count, pattern) = args::scan_options(&argv[3..])?;
    let mut items: Vec<(Vec<u8>, f64)> = Vec::new();
    let next = z.scan(cursor, count as usize, |m, s| {
        if pattern.is_none_or(|p| crate::util::glob::glob_match(p, m, false)) {
            items.push((m.to_vec(), s));
        }
    });
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.array(items.len() * 2);
    for (m, s) in &items {
        ctx.out.bulk(m);
        ctx.out.bulk(crate::util::num::fmt_double(*s).as_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_like_redis() {
        assert!(parse_score_range(b"(1", b"+inf").is_ok_and(|r| r.minex && r.max.is_infinite()));
        assert!(parse_score_range(b"", b" 2").is_ok_and(|r| r.min == 0.0 && r.max == 2.0));
        assert!(parse_score_range(b"nan", b"1").is_err());
        assert!(parse_score_range(b"1 ", b"1").is_err());
        assert!(parse_lex_range(b"-", b"+").is_ok());
        assert!(parse_lex_range(b"a", b"+").is_err());
        assert!(parse_lex_range(b"-x", b"+").is_err());
        assert!(parse_lex_range(b"", b"+").is_err());
    }

    #[test]
    fn rank_and_limit_spans() {
        assert_eq!(rank_span(0, -1, 5), (0, 5));
        assert_eq!(rank_span(-2, -1, 5), (3, 5));
        assert_eq!(rank_span(3, 1, 5), (0, 0));
        assert_eq!(rank_span(-100, 100, 5), (0, 5));
        assert_eq!(rank_span(5, 10, 5), (0, 0));
        assert_eq!(apply_limit(2, 8, 1, 2, false), (3, 5));
        assert_eq!(apply_limit(2, 8, 1, 2, true), (5, 7));
        assert_eq!(apply_limit(2, 8, -1, 2, false), (2, 2));
        assert_eq!(apply_limit(2, 8, 0, -5, false), (2, 8));
        assert_eq!(apply_limit(2, 8, 6, 1, false), (2, 2));
    }

    #[test]
    fn numkeys_key_extraction() {
        let a: Vec<&[u8]> = vec![b"zunionstore", b"d", b"2", b"a", b"b", b"WEIGHTS"];
        assert_eq!(keys_store(&a), vec![1, 3, 4]);
        let a: Vec<&[u8]> = vec![b"zunion", b"3", b"a", b"b"];
        assert!(keys_numkeys_at_1(&a).is_empty());
        let a: Vec<&[u8]> = vec![b"zmpop", b"-1", b"a"];
        assert!(keys_numkeys_at_1(&a).is_empty());
    }
}
