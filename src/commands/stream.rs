//! Stream commands (Redis's `t_stream.c`): XADD, XLEN, XRANGE/XREVRANGE, XDEL, XTRIM,
//! XSETID, XREAD/XREADGROUP (with BLOCK), XGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM
//! and XINFO.
//!
//! Unlike the other collections, a stream stays in the keyspace when it becomes empty
//! (XDEL / XTRIM of every entry), as in Redis.
//!
//! Blocking reads: XREAD/XREADGROUP with BLOCK and nothing to serve block on their
//! stream keys (`Ctx::block`). The argv stored with the waiter has every `$` replaced
//! by the stream's last ID at blocking time, so serving (`xread_ready`) knows what
//! "new" means. A key is made ready by XADD (`Txn::signal_ready`), by a new stream
//! (`Txn::set`), by XGROUP DESTROY (waiters get `-NOGROUP`), and by the deletion or
//! overwrite of a stream (XREADGROUP waiters get `-UNBLOCKED`).

use std::collections::BTreeMap;

use super::{args, errors, flags::*, CmdResult, Command, Ctx, Lock, RError};
use crate::config::notify::STREAM;
use crate::types::stream::{
    Consumer, ConsumerGroup, EntryPos, Nack, NodeLimits, StreamId, StreamValue, Trim,
    INVALID_ENTRIES_READ,
};
use crate::types::Value;

crate::commands! { pub static COMMANDS = [
    Command::new("xadd", -5, WRITE | DENYOOM | FAST, xadd)
        .keys(1, 1, 1)
        .acl(&["write", "stream", "fast"]),
    Command::new("xlen", 2, READONLY | FAST, xlen)
        .keys(1, 1, 1)
        .acl(&["read", "stream", "fast"]),
    Command::new("xrange", -4, READONLY, xrange)
        .keys(1, 1, 1)
        .acl(&["read", "stream", "slow"]),
    Command::new("xrevrange", -4, READONLY, xrevrange)
        .keys(1, 1, 1)
        .acl(&["read", "stream", "slow"]),
    Command::new("xdel", -3, WRITE | FAST, xdel)
        .keys(1, 1, 1)
        .acl(&["write", "stream", "fast"]),
    Command::new("xtrim", -4, WRITE, xtrim)
        .keys(1, 1, 1)
        .acl(&["write", "stream", "slow"]),
    Command::new("xsetid", -3, WRITE | DENYOOM | FAST, xsetid)
        .keys(1, 1, 1)
        .acl(&["write", "stream", "fast"]),
    Command::new("xread", -4, READONLY | BLOCKING | MOVABLE_KEYS, xread)
        .getkeys(xread_keys)
        .lock(Lock::Keys)
        .on_ready(xread_ready)
        .acl(&["read", "stream", "slow", "blocking"]),
    Command::new("xreadgroup", -7, WRITE | BLOCKING | MOVABLE_KEYS, xread)
        .getkeys(xreadgroup_keys)
        .lock(Lock::Keys)
        .on_ready(xread_ready)
        .acl(&["write", "stream", "slow", "blocking"]),
    Command::new("xack", -4, WRITE | FAST, xack)
        .keys(1, 1, 1)
        .acl(&["write", "stream", "fast"]),
    Command::new("xpending", -3, READONLY, xpending)
        .keys(1, 1, 1)
        .acl(&["read", "stream", "slow"]),
    Command::new("xclaim", -6, WRITE | FAST, xclaim)
        .keys(1, 1, 1)
        .acl(&["write", "stream", "fast"]),
    Command::new("xautoclaim", -6, WRITE | FAST, xautoclaim)
        .keys(1, 1, 1)
        .acl(&["write", "stream", "fast"]),
    Command::new("xgroup", -2, 0, super::container).subcommands(&XGROUP_SUBCOMMANDS),
    Command::new("xinfo", -2, 0, super::container).subcommands(&XINFO_SUBCOMMANDS),
]; }

crate::commands! { static XGROUP_SUBCOMMANDS = [
    Command::new("delconsumer", 5, WRITE, xgroup)
        .keys(2, 2, 1)
        .acl(&["write", "stream", "slow"]),
    Command::new("destroy", 4, WRITE, xgroup)
        .keys(2, 2, 1)
        .acl(&["write", "stream", "slow"]),
    Command::new("create", -5, WRITE | DENYOOM, xgroup)
        .keys(2, 2, 1)
        .acl(&["write", "stream", "slow"]),
    Command::new("createconsumer", 5, WRITE | DENYOOM, xgroup)
        .keys(2, 2, 1)
        .acl(&["write", "stream", "slow"]),
    Command::new("setid", -5, WRITE, xgroup)
        .keys(2, 2, 1)
        .acl(&["write", "stream", "slow"]),
    Command::new("help", 2, LOADING | STALE, xgroup_help).acl(&["stream", "slow"]),
]; }

crate::commands! { static XINFO_SUBCOMMANDS = [
    Command::new("stream", -3, READONLY, xinfo)
        .keys(2, 2, 1)
        .acl(&["read", "stream", "slow"]),
    Command::new("groups", 3, READONLY, xinfo)
        .keys(2, 2, 1)
        .acl(&["read", "stream", "slow"]),
    Command::new("consumers", 4, READONLY, xinfo)
        .keys(2, 2, 1)
        .acl(&["read", "stream", "slow"]),
    Command::new("help", 2, LOADING | STALE, xinfo_help).acl(&["stream", "slow"]),
]; }

// ---------------------------------------------------------------------------
// Helpers

const INVALID_ID: RError =
    RError::raw("ERR Invalid stream ID specified as stream command argument");

fn stream_ref(v: &Value) -> Result<&StreamValue, RError> {
    match v {
        Value::Stream(s) => Ok(s),
        _ => Err(errors::WRONGTYPE),
    }
}

fn stream_mut(v: &mut Value) -> Result<&mut StreamValue, RError> {
    match v {
        Value::Stream(s) => Ok(s),
        _ => Err(errors::WRONGTYPE),
    }
}

/// Redis's `string2ull`: a non-negative `long long`, or anything `strtoull` reads whole.
fn string2ull(s: &[u8]) -> Option<u64> {
    if let Some(v) = crate::util::num::parse_i64(s) {
        return (v >= 0).then_some(v as u64);
    }
    // strtoull: leading space, optional sign, digits; overflow is an error.
    let mut i = 0;
    while i < s.len() && (s[i] == b' ' || (b'\t'..=b'\r').contains(&s[i])) {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    if i >= s.len() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in &s[i..] {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// `streamGenericParseIDOrReply`. Returns the ID and whether the sequence was given
/// (false for `<ms>-*`, only accepted when `auto_seq`).
fn parse_id_full(
    arg: &[u8],
    missing_seq: u64,
    strict: bool,
    auto_seq: bool,
) -> Result<(StreamId, bool), RError> {
    // The argument is read as a C string of at most 127 bytes.
    if arg.len() > 127 {
        return Err(INVALID_ID);
    }
    let arg = arg.split(|&b| b == 0).next().unwrap_or_default();
    if strict && (arg == b"-" || arg == b"+") {
        return Err(INVALID_ID);
    }
    if arg == b"-" {
        return Ok((StreamId::MIN, true));
    }
    if arg == b"+" {
        return Ok((StreamId::MAX, true));
    }
    let (ms_part, seq_part) = match arg.iter().position(|&b| b == b'-') {
        Some(p) => (&arg[..p], Some(&arg[p + 1..])),
        None => (arg, None),
    };
    let ms = string2ull(ms_part).ok_or(INVALID_ID)?;
    match seq_part {
        Some(b"*") if auto_seq => Ok((StreamId::new(ms, 0), false)),
        Some(s) => Ok((StreamId::new(ms, string2ull(s).ok_or(INVALID_ID)?), true)),
        None => Ok((StreamId::new(ms, missing_seq), true)),
    }
}

fn parse_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, RError> {
    parse_id_full(arg, missing_seq, false, false).map(|r| r.0)
}

fn parse_strict_id(arg: &[u8]) -> Result<StreamId, RError> {
    parse_id_full(arg, 0, true, false).map(|r| r.0)
}

/// `streamParseIntervalIDOrReply` + the exclusive adjustment: the inclusive bound.
fn parse_range_start(arg: &[u8]) -> Result<StreamId, RError> {
    if arg.len() > 1 && arg[0] == b'(' {
        let id = parse_id_full(&arg[1..], 0, true, false)?.0;
        id.incr()
            .ok_or(RError::raw("ERR invalid start ID for the interval"))
    } else {
        parse_id(arg, 0)
    }
}

fn parse_range_end(arg: &[u8]) -> Result<StreamId, RError> {
    if arg.len() > 1 && arg[0] == b'(' {
        let id = parse_id_full(&arg[1..], u64::MAX, true, false)?.0;
        id.decr()
            .ok_or(RError::raw("ERR invalid end ID for the interval"))
    } else {
        parse_id(arg, u64::MAX)
    }
}

fn id_bulk(ctx: &mut Ctx, id: StreamId) {
    ctx.out.bulk(&id.to_bytes());
}

/// One entry as `[id, [field, value, ...]]`.
fn write_entry(out: &mut crate::protocol::Reply, s: &StreamValue, e: &EntryPos) {
    out.array(2);
    out.bulk(&e.id.to_bytes());
    let fields = s.fields(e);
    out.array(fields.len() * 2);
    let mut b = itoa::Buffer::new();
    for (f, v) in &fields {
        out.bulk(f.as_bytes(&mut b));
        out.bulk(v.as_bytes(&mut b));
    }
}

fn write_entries(out: &mut crate::protocol::Reply, s: &StreamValue, es: &[EntryPos]) {
    out.array(es.len());
    for e in es {
        write_entry(out, s, e);
    }
}

fn limits(ctx: &Ctx) -> NodeLimits {
    use crate::server::Limit;
    let hot = &ctx.srv.hot;
    NodeLimits {
        max_entries: hot.limit(Limit::StreamNodeMaxEntries),
        max_bytes: hot.limit(Limit::StreamNodeMaxBytes),
    }
}

fn nogroup_key_group(key: &[u8], group: &[u8]) -> RError {
    RError::owned(format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        args::text(key),
        args::text(group)
    ))
}

// ---------------------------------------------------------------------------
// XADD / XTRIM

struct AddTrimArgs {
    trim: Option<Trim>,
    approx: bool,
    limit: u64,
    id: Option<(StreamId, bool)>,
    nomkstream: bool,
    /// Index of the first field (XADD) or argc (XTRIM).
    next: usize,
    /// Index of the trimming threshold argument (after `~` / `=`).
    trim_idx: usize,
}

/// Redis's streamRewriteApproxSpecifier + streamRewriteTrimArgument: an approximate
/// trim is propagated as the exact trim it turned out to be (`=` and the resulting
/// length or first ID), with the argument at `id_at` (XADD's ID) set to `id`.
fn trim_forms(
    argv: &[&[u8]],
    a: &AddTrimArgs,
    s: &StreamValue,
    id: Option<(usize, &[u8])>,
) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = argv.iter().map(|x| x.to_vec()).collect();
    if let Some((at, id)) = id {
        v[at] = id.to_vec();
    }
    if a.approx && a.trim_idx > 0 {
        v[a.trim_idx - 1] = b"=".to_vec();
        v[a.trim_idx] = match a.trim {
            Some(Trim::MaxLen(_)) => s.len().to_string().into_bytes(),
            _ => s.edge_id(true).unwrap_or_default().to_bytes(),
        };
    }
    v
}

/// `streamParseAddOrTrimArgsOrReply`.
fn parse_add_trim(ctx: &Ctx, argv: &[&[u8]], xadd: bool) -> Result<AddTrimArgs, RError> {
    let mut a = AddTrimArgs {
        trim: None,
        approx: false,
        limit: 0,
        id: None,
        nomkstream: false,
        next: argv.len(),
        trim_idx: 0,
    };
    let mut limit_given = false;
    let mut i = 2;
    while i < argv.len() {
        let moreargs = argv.len() - 1 - i;
        let opt = argv[i];
        if xadd && opt == b"*" {
            break;
        } else if (args::is(opt, "maxlen") || args::is(opt, "minid")) && moreargs > 0 {
            if a.trim.is_some() {
                return Err(RError::raw(
                    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
                ));
            }
            a.approx = false;
            let next = argv[i + 1];
            if moreargs >= 2 && next == b"~" {
                a.approx = true;
                i += 1;
            } else if moreargs >= 2 && next == b"=" {
                i += 1;
            }
            a.trim_idx = i + 1;
            if args::is(opt, "maxlen") {
                let n = args::int(argv[i + 1])?;
                if n < 0 {
                    return Err(RError::raw("ERR The MAXLEN argument must be >= 0."));
                }
                a.trim = Some(Trim::MaxLen(n as u64));
            } else {
                a.trim = Some(Trim::MinId(parse_strict_id(argv[i + 1])?));
            }
            i += 1;
        } else if args::is(opt, "limit") && moreargs > 0 {
            let n = args::int(argv[i + 1])?;
            if n < 0 {
                return Err(RError::raw("ERR The LIMIT argument must be >= 0."));
            }
            a.limit = n as u64;
            limit_given = true;
            i += 1;
        } else if xadd && args::is(opt, "nomkstream") {
            a.nomkstream = true;
        } else if xadd {
            a.id = Some(parse_id_full(opt, 0, true, true)?);
            break;
        } else {
            return Err(errors::SYNTAX);
        }
        i += 1;
    }
    a.next = i + 1;
    if a.limit != 0 && a.trim.is_none() {
        return Err(RError::raw(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && a.trim.is_none() {
        return Err(RError::raw(
            "ERR syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    if limit_given {
        if !a.approx {
            return Err(RError::raw(
                "ERR syntax error, LIMIT cannot be used without the special ~ option",
            ));
        }
    } else if a.approx {
        let per_node = ctx.srv.config.read().int("stream-node-max-entries");
        let l = per_node.saturating_mul(100);
        a.limit = if l <= 0 {
            10_000
        } else {
            l.min(1_000_000) as u64
        };
    } else {
        a.limit = 0;
    }
    Ok(a)
}

fn xadd(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let a = parse_add_trim(ctx, argv, true)?;
    let field_pos = a.next;
    if field_pos > argv.len() || (argv.len() - field_pos) < 2 || (argv.len() - field_pos) % 2 == 1 {
        return Err(RError::raw(
            "ERR wrong number of arguments for 'xadd' command",
        ));
    }
    if let Some((id, true)) = a.id {
        if id.is_zero() {
            return Err(RError::raw(
                "ERR The ID specified in XADD must be greater than 0-0",
            ));
        }
    }
    let db = ctx.db();
    let key = argv[1];
    let lim = limits(ctx);
    let now = ctx.txn.now;
    let propagating = ctx.propagating();
    let existed = match ctx.txn.get_mut(db, key) {
        Some(e) => {
            stream_ref(&e.value)?;
            true
        }
        None => {
            if a.nomkstream {
                ctx.out.null();
                return Ok(());
            }
            false
        }
    };
    // Work on a fresh stream or the stored one.
    let mut fresh: Option<Box<StreamValue>> = None;
    let s: &mut StreamValue = if existed {
        match ctx.txn.get_mut(db, key) {
            Some(e) => stream_mut(&mut e.value)?,
            None => return Ok(()),
        }
    } else {
        fresh.insert(Box::new(StreamValue::new()))
    };
    if s.last_id == StreamId::MAX {
        return Err(RError::raw(
            "ERR The stream has exhausted the last possible ID, unable to add more items",
        ));
    }
    let id = match a.id {
        None => {
            if now > s.last_id.ms {
                StreamId::new(now, 0)
            } else {
                s.last_id.incr().unwrap_or(StreamId::MAX)
            }
        }
        Some((id, true)) => id,
        Some((id, false)) => {
            if s.last_id.ms == id.ms {
                if s.last_id.seq == u64::MAX {
                    return Err(RError::raw(
                        "ERR The ID specified in XADD is equal or smaller than the target stream top item",
                    ));
                }
                StreamId::new(id.ms, s.last_id.seq + 1)
            } else {
                id
            }
        }
    };
    if id <= s.last_id {
        return Err(RError::raw(
            "ERR The ID specified in XADD is equal or smaller than the target stream top item",
        ));
    }
    s.append(id, &argv[field_pos..], lim);
    let trimmed = match a.trim {
        Some(t) => s.trim(t, a.approx, a.limit),
        None => 0,
    };
    // Propagated with the ID generated (`*`, `ms-*`) and an approximate trim made exact.
    let form = if propagating {
        let explicit = matches!(a.id, Some((_, true)));
        let idb = id.to_bytes();
        let at = if explicit {
            None
        } else {
            Some((field_pos - 1, &idb[..]))
        };
        Some(trim_forms(argv, &a, s, at))
    } else {
        None
    };
    if let Some(s) = fresh {
        ctx.txn.set(db, key, Value::Stream(s), false);
    } else {
        ctx.txn.dirty += 1;
        ctx.txn.signal_ready(db, key);
    }
    id_bulk(ctx, id);
    ctx.notify(STREAM, "xadd", key);
    if trimmed > 0 {
        ctx.notify(STREAM, "xtrim", key);
    }
    if let Some(f) = form {
        let refs: Vec<&[u8]> = f.iter().map(|x| x.as_slice()).collect();
        ctx.propagate_as(&refs);
    }
    Ok(())
}

fn xtrim(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let a = parse_add_trim(ctx, argv, false)?;
    let db = ctx.db();
    let propagating = ctx.propagating();
    let Some(e) = ctx.txn.get_mut(db, argv[1]) else {
        ctx.out.int(0);
        return Ok(());
    };
    let s = stream_mut(&mut e.value)?;
    let n = match a.trim {
        Some(t) => s.trim(t, a.approx, a.limit),
        None => 0,
    };
    let form = (n > 0 && a.approx && propagating).then(|| trim_forms(argv, &a, s, None));
    if n > 0 {
        ctx.txn.dirty += n;
        ctx.notify(STREAM, "xtrim", argv[1]);
    }
    if let Some(f) = form {
        let refs: Vec<&[u8]> = f.iter().map(|x| x.as_slice()).collect();
        ctx.propagate_as(&refs);
    }
    ctx.out.int(n as i64);
    Ok(())
}

// ---------------------------------------------------------------------------
// XLEN / XRANGE / XDEL / XSETID

fn xlen(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let n = match ctx.txn.get_read(db, argv[1]) {
        Some(e) => stream_ref(&e.value)?.len(),
        None => 0,
    };
    ctx.out.int(n as i64);
    Ok(())
}

fn xrange(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    xrange_generic(ctx, argv, false)
}

fn xrevrange(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    xrange_generic(ctx, argv, true)
}

fn xrange_generic(ctx: &mut Ctx, argv: &[&[u8]], rev: bool) -> CmdResult {
    let (sa, ea) = if rev {
        (argv[3], argv[2])
    } else {
        (argv[2], argv[3])
    };
    let start = parse_range_start(sa)?;
    let end = parse_range_end(ea)?;
    let mut count: i64 = -1;
    let mut j = 4;
    while j < argv.len() {
        if args::is(argv[j], "count") && j + 1 < argv.len() {
            count = args::int(argv[j + 1])?.max(0);
            j += 2;
        } else {
            return Err(errors::SYNTAX);
        }
    }
    let db = ctx.db();
    let Some(e) = ctx.txn.get_read(db, argv[1]) else {
        ctx.out.array(0);
        return Ok(());
    };
    let s = stream_ref(&e.value)?;
    if count == 0 {
        ctx.out.null_array();
        return Ok(());
    }
    let es = s.range(start, end, rev, if count < 0 { 0 } else { count as usize });
    write_entries(ctx.out, s, &es);
    Ok(())
}

fn xdel(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let ids = argv[2..]
        .iter()
        .map(|a| parse_strict_id(a))
        .collect::<Result<Vec<_>, _>>()?;
    let db = ctx.db();
    let Some(e) = ctx.txn.get_mut(db, argv[1]) else {
        ctx.out.int(0);
        return Ok(());
    };
    let s = stream_mut(&mut e.value)?;
    let mut deleted = 0;
    let mut first = false;
    for id in ids {
        if s.delete(id) {
            if id == s.first_id {
                first = true;
            }
            if id > s.max_deleted_id {
                s.max_deleted_id = id;
            }
            deleted += 1;
        }
    }
    if deleted > 0 {
        if s.is_empty() || first {
            s.refresh_first_id();
        }
        ctx.txn.dirty += deleted;
        ctx.notify(STREAM, "xdel", argv[1]);
    }
    ctx.out.int(deleted as i64);
    Ok(())
}

fn xsetid(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let id = parse_strict_id(argv[2])?;
    let mut entries_added: i64 = -1;
    let mut max_xdel = StreamId::MIN;
    let mut i = 3;
    while i < argv.len() {
        let more = i + 1 < argv.len();
        if args::is(argv[i], "entriesadded") && more {
            entries_added = args::int(argv[i + 1])?;
            if entries_added < 0 {
                return Err(RError::raw("ERR entries_added must be positive"));
            }
            i += 2;
        } else if args::is(argv[i], "maxdeletedid") && more {
            max_xdel = parse_strict_id(argv[i + 1])?;
            if id < max_xdel {
                return Err(RError::raw(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
            i += 2;
        } else {
            return Err(errors::SYNTAX);
        }
    }
    let db = ctx.db();
    let Some(e) = ctx.txn.get_mut(db, argv[1]) else {
        return Err(errors::NO_SUCH_KEY);
    };
    let s = stream_mut(&mut e.value)?;
    if !s.is_empty() {
        if id < s.last_valid_id() {
            return Err(RError::raw(
                "ERR The ID specified in XSETID is smaller than the target stream top item",
            ));
        }
        if entries_added != -1 && s.len() > entries_added as u64 {
            return Err(RError::raw(
                "ERR The entries_added specified in XSETID is smaller than the target stream length",
            ));
        }
    }
    s.last_id = id;
    if entries_added != -1 {
        s.entries_added = entries_added as u64;
    }
    if !max_xdel.is_zero() {
        s.max_deleted_id = max_xdel;
    }
    ctx.txn.dirty += 1;
    ctx.out.ok();
    ctx.notify(STREAM, "xsetid", argv[1]);
    Ok(())
}

// ---------------------------------------------------------------------------
// XREAD / XREADGROUP

/// Index of the STREAMS keyword at or after `from`, and the number of streams.
fn find_streams(argv: &[&[u8]], from: usize) -> Option<(usize, usize)> {
    let mut i = from;
    while i < argv.len() {
        if args::is(argv[i], "streams") {
            let n = argv.len() - i - 1;
            return Some((i + 1, n / 2));
        }
        i += 1;
    }
    None
}

fn xread_keys(argv: &[&[u8]]) -> Vec<usize> {
    match find_streams(argv, 1) {
        Some((at, n)) => (at..at + n).collect(),
        None => Vec::new(),
    }
}

fn xreadgroup_keys(argv: &[&[u8]]) -> Vec<usize> {
    xread_keys(argv)
}

struct ReadArgs<'a> {
    block: Option<u64>,
    count: usize,
    noack: bool,
    group: Option<(&'a [u8], &'a [u8])>,
    streams_at: usize,
    nstreams: usize,
}

/// Parses XREAD/XREADGROUP options. `serving` is set when a blocked client is served
/// (the running context is then the writer's, which may be a script).
fn parse_read<'a>(
    ctx: &Ctx,
    argv: &[&'a [u8]],
    group_cmd: bool,
    serving: bool,
) -> Result<ReadArgs<'a>, RError> {
    let mut r = ReadArgs {
        block: None,
        count: 0,
        noack: false,
        group: None,
        streams_at: 0,
        nstreams: 0,
    };
    let mut i = 1;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        let o = argv[i];
        if args::is(o, "block") && more > 0 {
            if !serving
                && ctx.client.deny_blocking
                && ctx
                    .srv
                    .script_state
                    .started_ms
                    .load(std::sync::atomic::Ordering::SeqCst)
                    != 0
            {
                return Err(RError::owned(format!(
                    "ERR {} command is not allowed with BLOCK option from scripts",
                    args::text(argv[0])
                )));
            }
            i += 1;
            let ms = crate::util::num::parse_i64(argv[i])
                .ok_or(RError::raw("ERR timeout is not an integer or out of range"))?;
            if ms < 0 {
                return Err(RError::raw("ERR timeout is negative"));
            }
            r.block = Some(if ms == 0 {
                0
            } else {
                ctx.txn.now.saturating_add(ms as u64)
            });
        } else if args::is(o, "count") && more > 0 {
            i += 1;
            r.count = args::int(argv[i])?.max(0) as usize;
        } else if args::is(o, "streams") && more > 0 {
            r.streams_at = i + 1;
            let n = argv.len() - r.streams_at;
            if !n.is_multiple_of(2) {
                // Redis 7.0 gives XREAD's text for both commands.
                return Err(RError::raw(
                    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
                ));
            }
            r.nstreams = n / 2;
            break;
        } else if args::is(o, "group") && more >= 2 {
            if !group_cmd {
                return Err(RError::raw(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            r.group = Some((argv[i + 1], argv[i + 2]));
            i += 2;
        } else if args::is(o, "noack") {
            if !group_cmd {
                return Err(RError::raw(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            r.noack = true;
        } else {
            return Err(errors::SYNTAX);
        }
        i += 1;
    }
    if r.streams_at == 0 {
        return Err(errors::SYNTAX);
    }
    if group_cmd && r.group.is_none() {
        return Err(RError::raw("ERR Missing GROUP option for XREADGROUP"));
    }
    Ok(r)
}

/// Serves one stream for XREADGROUP: `>` (new entries after the group's last ID, added
/// to the PEL unless NOACK) or history (the consumer's PEL from `start`).
#[allow(clippy::too_many_arguments)]
fn read_group(
    s: &mut StreamValue,
    group: &[u8],
    consumer: &[u8],
    after: Option<StreamId>,
    history_from: Option<StreamId>,
    count: usize,
    noack: bool,
    now: u64,
    out: &mut crate::protocol::Reply,
    prop: &mut GroupProp,
) {
    if let Some(start) = history_from {
        // History: entries pending for this consumer.
        let ids: Vec<StreamId> = match s.group(group).and_then(|g| g.consumers.get(consumer)) {
            Some(c) => c
                .pel
                .iter_from(start)
                .map(|(k, _)| *k)
                .take(if count == 0 { usize::MAX } else { count })
                .collect(),
            None => Vec::new(),
        };
        out.array(ids.len());
        for id in &ids {
            match s.find(*id) {
                Some(e) => {
                    write_entry(out, s, &e);
                    if let Some(n) = s.group_mut(group).and_then(|g| g.pel.get_mut(id)) {
                        n.delivery_time = now;
                        n.delivery_count += 1;
                    }
                }
                None => {
                    out.array(2);
                    out.bulk(&id.to_bytes());
                    out.null_array();
                }
            }
        }
        return;
    }
    let Some(after) = after else {
        out.array(0);
        return;
    };
    let Some(start) = after.incr() else {
        out.array(0);
        return;
    };
    let es = s.range(start, StreamId::MAX, false, count);
    write_entries(out, s, &es);
    // Group bookkeeping.
    let Some(consumer_name) = s
        .group(group)
        .and_then(|g| g.consumers.get(consumer))
        .map(|c| c.name.clone())
    else {
        return;
    };
    for e in &es {
        let id = e.id;
        let (entries_read_valid, tomb) = match s.group(group) {
            Some(g) => (
                g.entries_read != INVALID_ENTRIES_READ,
                s.range_has_tombstones(Some(id), None),
            ),
            None => return,
        };
        let est = if (tomb || !entries_read_valid) && s.entries_added != 0 {
            Some(s.estimate_distance(id))
        } else {
            None
        };
        let Some(g) = s.group_mut(group) else { return };
        if id > g.last_id {
            if entries_read_valid && !tomb {
                g.entries_read += 1;
            } else if let Some(v) = est {
                g.entries_read = v;
            }
            g.last_id = id;
            prop.last_id_moved = true;
        }
        if !noack {
            prop.delivered.push((id, g.last_id));
            if let Some(old) = g.pel.get(&id).map(|n| n.consumer.clone()) {
                if let Some(c) = g.consumers.get_mut(&*old) {
                    c.pel.remove(&id);
                }
            }
            g.pel.insert(
                id,
                Nack {
                    delivery_time: now,
                    delivery_count: 1,
                    consumer: consumer_name.clone(),
                },
            );
            if let Some(c) = g.consumers.get_mut(consumer) {
                c.pel.insert(id, ());
            }
        }
    }
    if !es.is_empty() {
        if let Some(c) = s
            .group_mut(group)
            .and_then(|g| g.consumers.get_mut(consumer))
        {
            c.active_time = now as i64;
        }
    }
}

/// What a group read propagates (Redis's streamPropagateXCLAIM /
/// streamPropagateGroupID): each entry delivered (with the group's last ID then),
/// and whether the group's last ID moved (propagated as XGROUP SETID with NOACK).
#[derive(Default)]
struct GroupProp {
    delivered: Vec<(StreamId, StreamId)>,
    last_id_moved: bool,
}

/// `XCLAIM key group consumer 0 id TIME ms RETRYCOUNT n FORCE JUSTID LASTID last`.
fn xclaim_form(
    key: &[u8],
    group: &[u8],
    consumer: &[u8],
    id: &[u8],
    nack: (u64, u64),
    last: StreamId,
) -> Vec<Vec<u8>> {
    vec![
        b"XCLAIM".to_vec(),
        key.to_vec(),
        group.to_vec(),
        consumer.to_vec(),
        b"0".to_vec(),
        id.to_vec(),
        b"TIME".to_vec(),
        nack.0.to_string().into_bytes(),
        b"RETRYCOUNT".to_vec(),
        nack.1.to_string().into_bytes(),
        b"FORCE".to_vec(),
        b"JUSTID".to_vec(),
        b"LASTID".to_vec(),
        last.to_bytes(),
    ]
}

/// `XGROUP SETID key group last ENTRIESREAD n`.
fn setid_form(key: &[u8], group: &[u8], g: &ConsumerGroup) -> Vec<Vec<u8>> {
    vec![
        b"XGROUP".to_vec(),
        b"SETID".to_vec(),
        key.to_vec(),
        group.to_vec(),
        g.last_id.to_bytes(),
        b"ENTRIESREAD".to_vec(),
        g.entries_read.to_string().into_bytes(),
    ]
}

/// The forms a group read of `key` propagates.
fn group_read_forms(
    s: &StreamValue,
    key: &[u8],
    group: &[u8],
    consumer: &[u8],
    noack: bool,
    now: u64,
    prop: &GroupProp,
) -> Vec<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    for (id, last) in &prop.delivered {
        out.push(xclaim_form(
            key,
            group,
            consumer,
            &id.to_bytes(),
            (now, 1),
            *last,
        ));
    }
    if noack && prop.last_id_moved {
        if let Some(g) = s.group(group) {
            out.push(setid_form(key, group, g));
        }
    }
    out
}

/// Looks up (or creates) a consumer and refreshes its seen time. Returns whether it
/// was created.
fn touch_consumer(g: &mut ConsumerGroup, name: &[u8], now: u64) -> bool {
    match g.consumers.get_mut(name) {
        Some(c) => {
            c.seen_time = now;
            false
        }
        None => {
            g.consumers.insert(name.into(), Consumer::new(name, now));
            true
        }
    }
}

fn xread(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let group_cmd = argv[0].len() == 10;
    let r = parse_read(ctx, argv, group_cmd, false)?;
    let db = ctx.db();
    let now = ctx.txn.now;
    let keys = &argv[r.streams_at..r.streams_at + r.nstreams];
    let id_args = &argv[r.streams_at + r.nstreams..];
    // Parse the IDs, check types and groups (in Redis's order: per stream).
    // `None` = ">".
    let mut ids: Vec<Option<StreamId>> = Vec::with_capacity(keys.len());
    for (i, &key) in keys.iter().enumerate() {
        let st = match ctx.txn.get_read(db, key) {
            Some(e) => Some(stream_ref(&e.value)?),
            None => None,
        };
        if let Some((gname, _)) = r.group {
            if st.and_then(|s| s.group(gname)).is_none() {
                return Err(RError::owned(format!(
                    "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                    args::text(key),
                    args::text(gname)
                )));
            }
        }
        let a = id_args[i];
        if a == b"$" {
            if group_cmd {
                return Err(RError::raw("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set."));
            }
            ids.push(Some(st.map(|s| s.last_id).unwrap_or_default()));
        } else if a == b">" {
            if !group_cmd {
                return Err(RError::raw("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option."));
            }
            ids.push(None);
        } else {
            let id = parse_strict_id(a)?;
            // Redis marks `>` with the maximum ID, so that ID reads new entries too.
            ids.push(if group_cmd && id == StreamId::MAX {
                None
            } else {
                Some(id)
            });
        }
    }
    // Serve synchronously what can be served.
    let mut body = crate::protocol::Reply::new(if ctx.out.is_resp3() {
        crate::protocol::Proto::Resp3
    } else {
        crate::protocol::Proto::Resp2
    });
    let mut served = 0;
    let mut created: Vec<&[u8]> = Vec::new();
    let propagating = ctx.propagating();
    let mut forms: Vec<Vec<Vec<u8>>> = Vec::new();
    for (i, &key) in keys.iter().enumerate() {
        let Some(e) = ctx.txn.get_mut(db, key) else {
            continue;
        };
        let Value::Stream(s) = &mut e.value else {
            continue;
        };
        if let Some((gname, cname)) = r.group {
            let Some(g) = s.group(gname) else { continue };
            let glast = g.last_id;
            let (sync, history, after) = match ids[i] {
                // History is read after the given ID, like new entries.
                Some(h) => (true, Some(h.incr().unwrap_or(StreamId::MAX)), None),
                None => {
                    let sync = !s.is_empty() && s.last_valid_id() > glast;
                    (sync, None, Some(glast))
                }
            };
            if sync {
                // Redis 7.0 creates the consumer only when it is served.
                if let Some(g) = s.group_mut(gname) {
                    if touch_consumer(g, cname, now) {
                        created.push(key);
                    }
                }
                served += 1;
                if !body.is_resp3() {
                    body.array(2);
                }
                body.bulk(key);
                let mut gp = GroupProp::default();
                read_group(
                    s, gname, cname, after, history, r.count, r.noack, now, &mut body, &mut gp,
                );
                if propagating {
                    forms.extend(group_read_forms(s, key, gname, cname, r.noack, now, &gp));
                }
                ctx.txn.dirty += 1;
            }
        } else {
            let gt = ids[i].unwrap_or_default();
            if !s.is_empty() && s.last_valid_id() > gt {
                served += 1;
                if !body.is_resp3() {
                    body.array(2);
                }
                body.bulk(key);
                let es = match gt.incr() {
                    Some(start) => s.range(start, StreamId::MAX, false, r.count),
                    None => Vec::new(),
                };
                write_entries(&mut body, s, &es);
            }
        }
    }
    for key in created {
        ctx.notify(STREAM, "xgroup-createconsumer", key);
    }
    if group_cmd {
        // XREADGROUP propagates what it changed in the groups, never itself.
        ctx.dont_propagate();
        for f in &forms {
            let refs: Vec<&[u8]> = f.iter().map(|a| a.as_slice()).collect();
            ctx.propagate_as(&refs);
        }
    }
    if served > 0 {
        if ctx.out.is_resp3() {
            ctx.out.map(served);
        } else {
            ctx.out.array(served);
        }
        ctx.out.raw(&body.buf);
        return Ok(());
    }
    let Some(deadline) = r.block else {
        ctx.out.null_array();
        return Ok(());
    };
    if !ctx.may_block() {
        ctx.out.null_array();
        return Ok(());
    }
    // Block, remembering what "new" means for XREAD: `$` becomes the last ID now.
    let mut stored: Vec<Vec<u8>> = argv.iter().map(|a| a.to_vec()).collect();
    if !group_cmd {
        for (i, id) in ids.iter().enumerate() {
            if let Some(id) = id {
                stored[r.streams_at + r.nstreams + i] = id.to_bytes();
            }
        }
    }
    let refs: Vec<&[u8]> = stored.iter().map(|a| a.as_slice()).collect();
    ctx.block(&refs, keys, &[], deadline);
    Ok(())
}

/// Serves a blocked XREAD/XREADGROUP from `key` (see module docs).
fn xread_ready(ctx: &mut Ctx, argv: &[&[u8]], key: &[u8]) -> Result<bool, RError> {
    let group_cmd = argv[0].len() == 10;
    let r = parse_read(ctx, argv, group_cmd, true)?;
    let keys = &argv[r.streams_at..r.streams_at + r.nstreams];
    let Some(i) = keys.iter().position(|k| *k == key) else {
        return Ok(false);
    };
    let db = ctx.db();
    let now = ctx.txn.now;
    let count = if r.count == 0 { 1000 } else { r.count };
    let resp3 = ctx.out.is_resp3();
    let s = match ctx.txn.get_mut(db, key) {
        Some(e) => match &mut e.value {
            Value::Stream(s) => Some(s),
            _ => None,
        },
        None => None,
    };
    let Some(s) = s else {
        if r.group.is_some() {
            return Err(RError::raw("UNBLOCKED the stream key no longer exists"));
        }
        return Ok(false);
    };
    let gt = if let Some((gname, _)) = r.group {
        match s.group(gname) {
            Some(g) => g.last_id,
            None => {
                return Err(RError::raw(
                    "NOGROUP the consumer group this client was blocked on no longer exists",
                ))
            }
        }
    } else {
        match parse_strict_id(argv[r.streams_at + r.nstreams + i]) {
            Ok(id) => id,
            Err(_) => return Ok(false),
        }
    };
    if s.last_id <= gt {
        return Ok(false);
    }
    if resp3 {
        ctx.out.map(1);
    } else {
        ctx.out.array(1);
        ctx.out.array(2);
    }
    ctx.out.bulk(key);
    if let Some((gname, cname)) = r.group {
        let created = match s.group_mut(gname) {
            Some(g) => touch_consumer(g, cname, now),
            None => false,
        };
        let mut gp = GroupProp::default();
        read_group(
            s,
            gname,
            cname,
            Some(gt),
            None,
            count,
            r.noack,
            now,
            ctx.out,
            &mut gp,
        );
        let forms = group_read_forms(s, key, gname, cname, r.noack, now, &gp);
        if created {
            ctx.notify(STREAM, "xgroup-createconsumer", key);
        }
        for f in &forms {
            let refs: Vec<&[u8]> = f.iter().map(|a| a.as_slice()).collect();
            ctx.propagate_as(&refs);
        }
    } else {
        let es = match gt.incr() {
            Some(start) => s.range(start, StreamId::MAX, false, count),
            None => Vec::new(),
        };
        write_entries(ctx.out, s, &es);
    }
    Ok(true)
}

// ---------------------------------------------------------------------------
// XGROUP

fn subcommand_syntax(cmd: &str, sub: &[u8]) -> RError {
    RError::owned(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {cmd} HELP.",
        String::from_utf8_lossy(&sub[..sub.len().min(128)])
    ))
}

fn xgroup(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let opt = argv[1];
    let is_create = args::is(opt, "create");
    let mut mkstream = false;
    let mut entries_read: i64 = INVALID_ENTRIES_READ;
    if is_create && argv.len() >= 5 {
        let mut i = 5;
        while i < argv.len() {
            if args::is(argv[i], "mkstream") {
                mkstream = true;
                i += 1;
            } else if args::is(argv[i], "entriesread") && i + 1 < argv.len() {
                entries_read = args::int(argv[i + 1])?;
                if entries_read < 0 && entries_read != INVALID_ENTRIES_READ {
                    return Err(RError::raw(
                        "ERR value for ENTRIESREAD must be positive or -1",
                    ));
                }
                i += 2;
            } else {
                return Err(subcommand_syntax("XGROUP", opt));
            }
        }
    }
    let db = ctx.db();
    let key = argv[2];
    let gname = argv[3];
    let exists = match ctx.txn.get_mut(db, key) {
        Some(e) => {
            stream_ref(&e.value)?;
            true
        }
        None => false,
    };
    if !(exists || (is_create && mkstream)) {
        return Err(RError::raw("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically."));
    }
    let has_group = exists
        && matches!(ctx.txn.get_mut(db, key), Some(e) if matches!(&e.value, Value::Stream(s) if s.group(gname).is_some()));
    if !has_group
        && (args::is(opt, "setid")
            || args::is(opt, "createconsumer")
            || args::is(opt, "delconsumer"))
    {
        return Err(RError::owned(format!(
            "NOGROUP No such consumer group '{}' for key name '{}'",
            args::text(gname),
            args::text(key)
        )));
    }
    let now = ctx.txn.now;
    if is_create && argv.len() <= 8 {
        let last = match ctx.txn.get_mut(db, key) {
            Some(e) => stream_ref(&e.value)?.last_id,
            None => StreamId::MIN,
        };
        let id = if argv[4] == b"$" {
            last
        } else {
            parse_strict_id(argv[4])?
        };
        if !exists {
            ctx.txn
                .set(db, key, Value::Stream(Box::new(StreamValue::new())), false);
        }
        let Some(e) = ctx.txn.get_mut(db, key) else {
            return Ok(());
        };
        let s = stream_mut(&mut e.value)?;
        if s.group(gname).is_some() {
            return Err(RError::raw("BUSYGROUP Consumer Group name already exists"));
        }
        s.groups_mut()
            .insert(gname.into(), ConsumerGroup::new(id, entries_read));
        ctx.txn.dirty += 1;
        ctx.out.ok();
        ctx.notify(STREAM, "xgroup-create", key);
    } else if args::is(opt, "setid") && (argv.len() == 5 || argv.len() == 7) {
        let Some(e) = ctx.txn.get_mut(db, key) else {
            return Ok(());
        };
        let s = stream_mut(&mut e.value)?;
        let id = if argv[4] == b"$" {
            s.last_id
        } else {
            parse_id(argv[4], 0)?
        };
        if argv.len() == 7 {
            if !args::is(argv[5], "entriesread") {
                return Err(subcommand_syntax("XGROUP", opt));
            }
            entries_read = args::int(argv[6])?;
            if entries_read < 0 && entries_read != INVALID_ENTRIES_READ {
                return Err(RError::raw(
                    "ERR value for ENTRIESREAD must be positive or -1",
                ));
            }
        }
        if let Some(g) = s.group_mut(gname) {
            g.last_id = id;
            g.entries_read = entries_read;
        }
        ctx.txn.dirty += 1;
        ctx.out.ok();
        ctx.notify(STREAM, "xgroup-setid", key);
    } else if args::is(opt, "destroy") && argv.len() == 4 {
        let removed = match ctx.txn.get_mut(db, key) {
            Some(e) => stream_mut(&mut e.value)?
                .groups
                .as_mut()
                .and_then(|g| g.remove(gname))
                .is_some(),
            None => false,
        };
        if removed {
            ctx.txn.dirty += 1;
            ctx.out.int(1);
            ctx.notify(STREAM, "xgroup-destroy", key);
            ctx.txn.signal_ready(db, key);
        } else {
            ctx.out.int(0);
        }
    } else if args::is(opt, "createconsumer") && argv.len() == 5 {
        let Some(e) = ctx.txn.get_mut(db, key) else {
            return Ok(());
        };
        let s = stream_mut(&mut e.value)?;
        let created = match s.group_mut(gname) {
            Some(g) if !g.consumers.contains_key(argv[4]) => {
                g.consumers
                    .insert(argv[4].into(), Consumer::new(argv[4], now));
                true
            }
            _ => false,
        };
        if created {
            ctx.txn.dirty += 1;
            ctx.notify(STREAM, "xgroup-createconsumer", key);
        }
        ctx.out.int(i64::from(created));
    } else if args::is(opt, "delconsumer") && argv.len() == 5 {
        let Some(e) = ctx.txn.get_mut(db, key) else {
            return Ok(());
        };
        let s = stream_mut(&mut e.value)?;
        let pending = s.group_mut(gname).and_then(|g| g.delete_consumer(argv[4]));
        if pending.is_some() {
            ctx.txn.dirty += 1;
            ctx.notify(STREAM, "xgroup-delconsumer", key);
        }
        ctx.out.int(pending.unwrap_or(0) as i64);
    } else {
        return Err(subcommand_syntax("XGROUP", opt));
    }
    Ok(())
}

fn xgroup_help(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    super::client::help_reply(
        ctx,
        "XGROUP",
        &[
            "CREATE <key> <groupname> <id|$> [option]",
            "    Create a new consumer group. Options are:",
            "    * MKSTREAM",
            "      Create the empty stream if it does not exist.",
            "    * ENTRIESREAD entries_read",
            "      Set the group's entries_read counter (internal use).",
            "CREATECONSUMER <key> <groupname> <consumer>",
            "    Create a new consumer in the specified group.",
            "DELCONSUMER <key> <groupname> <consumer>",
            "    Remove the specified consumer.",
            "DESTROY <key> <groupname>",
            "    Remove the specified group.",
            "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
            "    Set the current group ID and entries_read counter.",
        ],
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// XACK / XPENDING / XCLAIM / XAUTOCLAIM

fn xack(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let Some(e) = ctx.txn.get_mut(db, argv[1]) else {
        ctx.out.int(0);
        return Ok(());
    };
    let s = stream_mut(&mut e.value)?;
    // All IDs are checked first, so the command is all or nothing.
    let ids = argv[3..]
        .iter()
        .map(|a| parse_strict_id(a))
        .collect::<Result<Vec<_>, _>>()?;
    let Some(g) = s.group_mut(argv[2]) else {
        ctx.out.int(0);
        return Ok(());
    };
    let mut acked = 0;
    for id in ids {
        if g.ack(id) {
            acked += 1;
        }
    }
    ctx.txn.dirty += acked;
    ctx.out.int(acked as i64);
    Ok(())
}

fn xpending(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let argc = argv.len();
    let justinfo = argc == 3;
    if argc != 3 && !(6..=9).contains(&argc) {
        return Err(errors::SYNTAX);
    }
    let mut minidle: i64 = 0;
    let mut count: i64 = 0;
    let mut start = StreamId::MIN;
    let mut end = StreamId::MAX;
    let mut consumer: Option<&[u8]> = None;
    if argc >= 6 {
        let mut si = 3;
        if args::is(argv[3], "idle") {
            minidle = args::int(argv[4])?;
            if argc < 8 {
                return Err(errors::SYNTAX);
            }
            si += 2;
        }
        count = args::int(argv[si + 2])?.max(0);
        start = parse_range_start(argv[si])?;
        end = parse_range_end(argv[si + 1])?;
        if si + 3 < argc {
            consumer = Some(argv[si + 3]);
        }
    }
    let db = ctx.db();
    let now = ctx.txn.now;
    let s = match ctx.txn.get_read(db, argv[1]) {
        Some(e) => Some(stream_ref(&e.value)?),
        None => None,
    };
    let Some(g) = s.and_then(|s| s.group(argv[2])) else {
        return Err(nogroup_key_group(argv[1], argv[2]));
    };
    if justinfo {
        ctx.out.array(4);
        ctx.out.int(g.pel.len() as i64);
        let (Some(first), Some(last)) = (g.pel.first(), g.pel.last()) else {
            ctx.out.null();
            ctx.out.null();
            ctx.out.null_array();
            return Ok(());
        };
        ctx.out.bulk(&first.to_bytes());
        ctx.out.bulk(&last.to_bytes());
        let with: Vec<(&Box<[u8]>, usize)> = g
            .consumers
            .iter()
            .filter(|(_, c)| !c.pel.is_empty())
            .map(|(n, c)| (n, c.pel.len()))
            .collect();
        ctx.out.array(with.len());
        for (n, k) in with {
            ctx.out.array(2);
            ctx.out.bulk(n);
            ctx.out.bulk_int(k as i64);
        }
        return Ok(());
    }
    let ids: Box<dyn Iterator<Item = StreamId>> = match consumer {
        Some(name) => match g.consumers.get(name) {
            Some(c) => Box::new(c.pel.iter_from(start).map(|(k, _)| *k))
                as Box<dyn Iterator<Item = StreamId>>,
            None => {
                ctx.out.array(0);
                return Ok(());
            }
        },
        None => Box::new(g.pel.iter_from(start).map(|(k, _)| *k)),
    };
    let mut rows = Vec::new();
    for id in ids {
        if count == 0 || id > end {
            break;
        }
        let Some(n) = g.pel.get(&id) else { continue };
        let idle = now as i64 - n.delivery_time as i64;
        if minidle != 0 && idle < minidle {
            continue;
        }
        count -= 1;
        rows.push((id, n.consumer.clone(), idle.max(0), n.delivery_count));
    }
    ctx.out.array(rows.len());
    for (id, c, idle, dc) in rows {
        ctx.out.array(4);
        ctx.out.bulk(&id.to_bytes());
        ctx.out.bulk(&c);
        ctx.out.int(idle);
        ctx.out.int(dc as i64);
    }
    Ok(())
}

/// Moves the NACK of `id` to `consumer` (creating the consumer), as XCLAIM and
/// XAUTOCLAIM do.
fn claim_to(g: &mut ConsumerGroup, id: StreamId, consumer: &[u8], now: u64) {
    let old = g.pel.get(&id).map(|n| n.consumer.clone());
    if let Some(old) = &old {
        if &**old != consumer {
            if let Some(c) = g.consumers.get_mut(&**old) {
                c.pel.remove(&id);
            }
        }
    }
    let name = g.consumers.get(consumer).map(|c| c.name.clone());
    if let (Some(n), Some(name)) = (g.pel.get_mut(&id), name) {
        n.consumer = name;
    }
    if let Some(c) = g.consumers.get_mut(consumer) {
        c.pel.insert(id, ());
        c.active_time = now as i64;
    }
}

fn xclaim(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let now = ctx.txn.now;
    let key = argv[1];
    let gname = argv[2];
    let cname = argv[3];
    {
        let s = match ctx.txn.get_mut(db, key) {
            Some(e) => Some(stream_ref(&e.value)?),
            None => None,
        };
        if s.and_then(|s| s.group(gname)).is_none() {
            return Err(nogroup_key_group(key, gname));
        }
    }
    let minidle = crate::util::num::parse_i64(argv[4])
        .ok_or(RError::raw("ERR Invalid min-idle-time argument for XCLAIM"))?
        .max(0);
    let mut j = 5;
    let mut ids = Vec::new();
    while j < argv.len() {
        match parse_strict_id(argv[j]) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let mut force = false;
    let mut justid = false;
    let mut deliverytime: i64 = -1;
    let mut retrycount: i64 = -1;
    let mut last_id = StreamId::MIN;
    while j < argv.len() {
        let more = j + 1 < argv.len();
        let o = argv[j];
        if args::is(o, "force") {
            force = true;
        } else if args::is(o, "justid") {
            justid = true;
        } else if args::is(o, "idle") && more {
            j += 1;
            let v = crate::util::num::parse_i64(argv[j])
                .ok_or(RError::raw("ERR Invalid IDLE option argument for XCLAIM"))?;
            deliverytime = (now as i64).saturating_sub(v);
        } else if args::is(o, "time") && more {
            j += 1;
            deliverytime = crate::util::num::parse_i64(argv[j])
                .ok_or(RError::raw("ERR Invalid TIME option argument for XCLAIM"))?;
        } else if args::is(o, "retrycount") && more {
            j += 1;
            retrycount = crate::util::num::parse_i64(argv[j]).ok_or(RError::raw(
                "ERR Invalid RETRYCOUNT option argument for XCLAIM",
            ))?;
        } else if args::is(o, "lastid") && more {
            j += 1;
            last_id = parse_strict_id(argv[j])?;
        } else {
            return Err(RError::owned(format!(
                "ERR Unrecognized XCLAIM option '{}'",
                args::text(o)
            )));
        }
        j += 1;
    }
    let propagating = ctx.propagating();
    let mut forms: Vec<Vec<Vec<u8>>> = Vec::new();
    let Some(e) = ctx.txn.get_mut(db, key) else {
        return Ok(());
    };
    let s = stream_mut(&mut e.value)?;
    let mut dirty = 0;
    let mut propagate_last_id = false;
    if let Some(g) = s.group_mut(gname) {
        if last_id > g.last_id {
            g.last_id = last_id;
            dirty += 1;
            propagate_last_id = true;
        }
    }
    let deliverytime = if deliverytime < 0 || deliverytime > now as i64 {
        now
    } else {
        deliverytime as u64
    };
    let mut claimed: Vec<StreamId> = Vec::new();
    let mut consumer_ready = false;
    let mut created = false;
    for (i, id) in ids.into_iter().enumerate() {
        let exists = s.find(id).is_some();
        let Some(g) = s.group_mut(gname) else { break };
        if !exists {
            if propagating {
                // The NACK goes away: propagated as an XCLAIM of it (Redis 7.0).
                if let Some(n) = g.pel.get(&id) {
                    let nack = (n.delivery_time, n.delivery_count);
                    let owner = n.consumer.clone();
                    forms.push(xclaim_form(
                        key,
                        gname,
                        &owner,
                        argv[5 + i],
                        nack,
                        g.last_id,
                    ));
                    propagate_last_id = false;
                }
            }
            if g.ack(id) {
                dirty += 1;
            }
            continue;
        }
        let mut fresh = false;
        if force && !g.pel.contains_key(&id) {
            g.pel.insert(
                id,
                Nack {
                    delivery_time: now,
                    delivery_count: 1,
                    consumer: std::sync::Arc::from(&b""[..]),
                },
            );
            fresh = true;
        }
        let Some(n) = g.pel.get(&id) else { continue };
        if !fresh && minidle != 0 {
            let idle = now as i64 - n.delivery_time as i64;
            if idle < minidle {
                continue;
            }
        }
        if !consumer_ready {
            created = touch_consumer(g, cname, now);
            consumer_ready = true;
        }
        if let Some(n) = g.pel.get_mut(&id) {
            n.delivery_time = deliverytime;
            if retrycount >= 0 {
                n.delivery_count = retrycount as u64;
            } else if !justid {
                n.delivery_count += 1;
            }
        }
        claim_to(g, id, cname, now);
        if propagating {
            if let Some(n) = g.pel.get(&id) {
                let nack = (n.delivery_time, n.delivery_count);
                forms.push(xclaim_form(key, gname, cname, argv[5 + i], nack, g.last_id));
                propagate_last_id = false;
            }
        }
        claimed.push(id);
        dirty += 1;
    }
    if propagate_last_id && propagating {
        if let Some(g) = s.group(gname) {
            forms.push(setid_form(key, gname, g));
        }
    }
    ctx.out.array(claimed.len());
    for id in claimed {
        if justid {
            ctx.out.bulk(&id.to_bytes());
        } else if let Some(e) = s.find(id) {
            write_entry(ctx.out, s, &e);
        }
    }
    ctx.txn.dirty += dirty;
    if created {
        ctx.notify(STREAM, "xgroup-createconsumer", key);
    }
    // XCLAIM propagates what it changed, never itself.
    ctx.dont_propagate();
    for f in &forms {
        let refs: Vec<&[u8]> = f.iter().map(|a| a.as_slice()).collect();
        ctx.propagate_as(&refs);
    }
    Ok(())
}

fn xautoclaim(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let minidle = crate::util::num::parse_i64(argv[4])
        .ok_or(RError::raw(
            "ERR Invalid min-idle-time argument for XAUTOCLAIM",
        ))?
        .max(0);
    let start = parse_range_start(argv[5])?;
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < argv.len() {
        let more = j + 1 < argv.len();
        if args::is(argv[j], "count") && more {
            let max = i64::MAX / 16;
            count = match crate::util::num::parse_i64(argv[j + 1]) {
                Some(v) if (1..=max).contains(&v) => v,
                _ => return Err(RError::raw("ERR COUNT must be > 0")),
            };
            j += 1;
        } else if args::is(argv[j], "justid") {
            justid = true;
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    let db = ctx.db();
    let now = ctx.txn.now;
    let (key, gname, cname) = (argv[1], argv[2], argv[3]);
    let propagating = ctx.propagating();
    let mut forms: Vec<Vec<Vec<u8>>> = Vec::new();
    let s = match ctx.txn.get_mut(db, key) {
        Some(e) => Some(stream_mut(&mut e.value)?),
        None => None,
    };
    let Some(s) = s.filter(|s| s.group(gname).is_some()) else {
        return Err(nogroup_key_group(key, gname));
    };
    let mut attempts = count.saturating_mul(10);
    let mut claimed = Vec::new();
    let mut deleted = Vec::new();
    let mut dirty = 0;
    let mut next = s
        .group(gname)
        .and_then(|g| g.pel.iter_from(start).next().map(|(k, _)| *k));
    let mut consumer_ready = false;
    let mut created = false;
    while attempts > 0 && count > 0 {
        attempts -= 1;
        let Some(id) = next else { break };
        let exists = s.find(id).is_some();
        let Some(g) = s.group_mut(gname) else { break };
        next = g.pel.next_after(id);
        if !exists {
            if propagating {
                if let Some(n) = g.pel.get(&id) {
                    let nack = (n.delivery_time, n.delivery_count);
                    let owner = n.consumer.clone();
                    forms.push(xclaim_form(
                        key,
                        gname,
                        &owner,
                        &id.to_bytes(),
                        nack,
                        g.last_id,
                    ));
                }
            }
            g.ack(id);
            deleted.push(id);
            dirty += 1;
            count -= 1;
            continue;
        }
        if minidle != 0 {
            if let Some(n) = g.pel.get(&id) {
                if (now as i64 - n.delivery_time as i64) < minidle {
                    continue;
                }
            }
        }
        if !consumer_ready {
            created = touch_consumer(g, cname, now);
            consumer_ready = true;
        }
        if let Some(n) = g.pel.get_mut(&id) {
            n.delivery_time = now;
            if !justid {
                n.delivery_count += 1;
            }
        }
        claim_to(g, id, cname, now);
        if propagating {
            if let Some(n) = g.pel.get(&id) {
                let nack = (n.delivery_time, n.delivery_count);
                forms.push(xclaim_form(
                    key,
                    gname,
                    cname,
                    &id.to_bytes(),
                    nack,
                    g.last_id,
                ));
            }
        }
        claimed.push(id);
        count -= 1;
        dirty += 1;
    }
    ctx.out.array(3);
    ctx.out.bulk(&next.unwrap_or_default().to_bytes());
    ctx.out.array(claimed.len());
    for id in claimed {
        if justid {
            ctx.out.bulk(&id.to_bytes());
        } else if let Some(e) = s.find(id) {
            write_entry(ctx.out, s, &e);
        }
    }
    ctx.out.array(deleted.len());
    for id in deleted {
        ctx.out.bulk(&id.to_bytes());
    }
    ctx.txn.dirty += dirty;
    if created {
        ctx.notify(STREAM, "xgroup-createconsumer", key);
    }
    ctx.dont_propagate();
    for f in &forms {
        let refs: Vec<&[u8]> = f.iter().map(|a| a.as_slice()).collect();
        ctx.propagate_as(&refs);
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// XINFO

/// Number of nodes of a Redis radix tree holding `keys` (16-byte big-endian IDs),
/// as `rax->numnodes` counts them: compressed chains are one node.
fn rax_nodes(keys: &[[u8; 16]]) -> u64 {
    fn count(keys: &[[u8; 16]], depth: usize) -> u64 {
        if keys.is_empty() {
            return 1;
        }
        if depth >= 16 {
            return 1;
        }
        // Longest common prefix from `depth`.
        let first = &keys[0];
        let last = &keys[keys.len() - 1];
        let mut d = depth;
        while d < 16 && first[d] == last[d] {
            d += 1;
        }
        if d > depth {
            // A compressed node for the common run, then what follows it.
            return 1 + count(keys, d);
        }
        // A branching node: one child per distinct byte.
        let mut n = 1;
        let mut i = 0;
        while i < keys.len() {
            let b = keys[i][depth];
            let mut j = i;
            while j < keys.len() && keys[j][depth] == b {
                j += 1;
            }
            n += count(&keys[i..j], depth + 1);
            i = j;
        }
        n
    }
    count(keys, 0)
}

fn xinfo(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let opt = argv[1];
    let key = argv[2];
    let db = ctx.db();
    let now = ctx.txn.now;
    let Some(e) = ctx.txn.get_read(db, key) else {
        return Err(errors::NO_SUCH_KEY);
    };
    let s = stream_ref(&e.value)?;
    if args::is(opt, "consumers") && argv.len() == 4 {
        let Some(g) = s.group(argv[3]) else {
            return Err(RError::owned(format!(
                "NOGROUP No such consumer group '{}' for key name '{}'",
                args::text(argv[3]),
                args::text(key)
            )));
        };
        ctx.out.array(g.consumers.len());
        for (name, c) in &g.consumers {
            ctx.out.map(4);
            ctx.out.bulk(b"name");
            ctx.out.bulk(name);
            ctx.out.bulk(b"pending");
            ctx.out.int(c.pel.len() as i64);
            ctx.out.bulk(b"idle");
            ctx.out.int((now as i64 - c.seen_time as i64).max(0));
            ctx.out.bulk(b"inactive");
            ctx.out.int(if c.active_time == -1 {
                -1
            } else {
                (now as i64 - c.active_time).max(0)
            });
        }
    } else if args::is(opt, "groups") && argv.len() == 3 {
        let groups: Vec<(&Box<[u8]>, &ConsumerGroup)> = match &s.groups {
            Some(g) => g.iter().collect(),
            None => Vec::new(),
        };
        ctx.out.array(groups.len());
        for (name, g) in groups {
            ctx.out.map(6);
            ctx.out.bulk(b"name");
            ctx.out.bulk(name);
            ctx.out.bulk(b"consumers");
            ctx.out.int(g.consumers.len() as i64);
            ctx.out.bulk(b"pending");
            ctx.out.int(g.pel.len() as i64);
            ctx.out.bulk(b"last-delivered-id");
            ctx.out.bulk(&g.last_id.to_bytes());
            ctx.out.bulk(b"entries-read");
            write_opt_int(
                ctx.out,
                (g.entries_read != INVALID_ENTRIES_READ).then_some(g.entries_read),
            );
            ctx.out.bulk(b"lag");
            write_opt_int(ctx.out, s.group_lag(g));
        }
    } else if args::is(opt, "stream") {
        xinfo_stream(ctx.out, argv, s)?;
    } else {
        return Err(subcommand_syntax("XINFO", opt));
    }
    Ok(())
}

fn write_opt_int(out: &mut crate::protocol::Reply, v: Option<i64>) {
    match v {
        Some(v) => out.int(v),
        None => out.null(),
    }
}

fn xinfo_stream(out: &mut crate::protocol::Reply, argv: &[&[u8]], s: &StreamValue) -> CmdResult {
    let rest = &argv[2..];
    let mut full = false;
    let mut count: i64 = 10;
    if rest.len() > 1 {
        if !args::is(rest[1], "full") {
            return Err(subcommand_syntax("XINFO", argv[1]));
        }
        full = true;
        if rest.len() > 2 {
            if rest.len() != 4 || !args::is(rest[2], "count") {
                return Err(subcommand_syntax("XINFO", argv[1]));
            }
            count = args::int(rest[3])?;
            if count < 0 {
                count = 10;
            }
        }
    }
    let keys: Vec<[u8; 16]> = s.node_keys();
    out.map(if full { 9 } else { 10 });
    out.bulk(b"length");
    out.int(s.len() as i64);
    out.bulk(b"radix-tree-keys");
    out.int(keys.len() as i64);
    out.bulk(b"radix-tree-nodes");
    out.int(rax_nodes(&keys) as i64);
    out.bulk(b"last-generated-id");
    out.bulk(&s.last_id.to_bytes());
    out.bulk(b"max-deleted-entry-id");
    out.bulk(&s.max_deleted_id.to_bytes());
    out.bulk(b"entries-added");
    out.int(s.entries_added as i64);
    out.bulk(b"recorded-first-entry-id");
    out.bulk(&s.first_id.to_bytes());
    if !full {
        out.bulk(b"groups");
        out.int(s.group_count() as i64);
        let (first, last) = s.first_last();
        out.bulk(b"first-entry");
        match first {
            Some(e) => write_entry(out, s, &e),
            None => out.null(),
        }
        out.bulk(b"last-entry");
        match last {
            Some(e) => write_entry(out, s, &e),
            None => out.null(),
        }
        return Ok(());
    }
    let limit = if count == 0 { 0 } else { count as usize };
    let es = s.range(StreamId::MIN, StreamId::MAX, false, limit);
    out.bulk(b"entries");
    write_entries(out, s, &es);
    out.bulk(b"groups");
    let empty = BTreeMap::new();
    let groups = s.groups.as_deref().unwrap_or(&empty);
    out.array(groups.len());
    let take = if count == 0 {
        usize::MAX
    } else {
        count as usize
    };
    for (name, g) in groups {
        out.map(7);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"last-delivered-id");
        out.bulk(&g.last_id.to_bytes());
        out.bulk(b"entries-read");
        write_opt_int(
            out,
            (g.entries_read != INVALID_ENTRIES_READ).then_some(g.entries_read),
        );
        out.bulk(b"lag");
        write_opt_int(out, s.group_lag(g));
        out.bulk(b"pel-count");
        out.int(g.pel.len() as i64);
        out.bulk(b"pending");
        let n = g.pel.len().min(take);
        out.array(n);
        for (id, nack) in g.pel.iter().take(n) {
            out.array(4);
            out.bulk(&id.to_bytes());
            out.bulk(&nack.consumer);
            out.int(nack.delivery_time as i64);
            out.int(nack.delivery_count as i64);
        }
        out.bulk(b"consumers");
        out.array(g.consumers.len());
        for (cname, c) in &g.consumers {
            out.map(4);
            out.bulk(b"name");
            out.bulk(cname);
            out.bulk(b"seen-time");
            out.int(c.seen_time as i64);
            out.bulk(b"pel-count");
            out.int(c.pel.len() as i64);
            out.bulk(b"pending");
            let n = c.pel.len().min(take);
            out.array(n);
            for id in c.pel.keys().take(n) {
                out.array(3);
                out.bulk(&id.to_bytes());
                let (t, dc) = g
                    .pel
                    .get(id)
                    .map_or((0, 0), |n| (n.delivery_time, n.delivery_count));
                out.int(t as i64);
                out.int(dc as i64);
            }
        }
    }
    Ok(())
}

fn xinfo_help(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    super::client::help_reply(
        ctx,
        "XINFO",
        &[
            "CONSUMERS <key> <groupname>",
            "    Show consumers of <groupname>.",
            "GROUPS <key>",
            "    Show the stream consumer groups.",
            "STREAM <key> [FULL [COUNT <count>]",
            "    Show information about the stream.",
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_parsing() {
        assert_eq!(parse_id(b"5", 0), Ok(StreamId::new(5, 0)));
        assert_eq!(parse_id(b"5", u64::MAX), Ok(StreamId::new(5, u64::MAX)));
        assert_eq!(parse_id(b"5-3", 0), Ok(StreamId::new(5, 3)));
        assert_eq!(parse_id(b"-", 0), Ok(StreamId::MIN));
        assert!(parse_strict_id(b"-").is_err());
        assert!(parse_id(b"5-x", 0).is_err());
        assert!(parse_id(b"-5", 0).is_err());
        assert!(parse_id(b"", 0).is_err());
        assert_eq!(
            parse_id_full(b"7-*", 0, true, true),
            Ok((StreamId::new(7, 0), false))
        );
        assert!(parse_id(b"7-*", 0).is_err());
        assert_eq!(
            parse_id(b"18446744073709551615-18446744073709551615", 0),
            Ok(StreamId::MAX)
        );
        assert!(parse_id(b"18446744073709551616", 0).is_err());
    }

    #[test]
    fn rax_node_counts() {
        let k = |ms: u64, seq: u64| {
            let mut b = [0u8; 16];
            b[..8].copy_from_slice(&ms.to_be_bytes());
            b[8..].copy_from_slice(&seq.to_be_bytes());
            b
        };
        assert_eq!(rax_nodes(&[]), 1);
        assert_eq!(rax_nodes(&[k(1, 1)]), 2);
        // Two keys differing in the last byte: compressed prefix, branch, 2 leaves.
        assert_eq!(rax_nodes(&[k(1, 1), k(1, 2)]), 4);
    }
}
