//! String commands (Redis's `t_string.c`): GET, SET and their variants, MGET/MSET,
//! APPEND, GETRANGE/SETRANGE, the INCR family, INCRBYFLOAT and LCS.
//!
//! Encodings follow Redis (visible through OBJECT ENCODING): values a client sets are
//! encoded as SET does (`int`, `embstr`, `raw`), values modified in place (APPEND,
//! SETRANGE) become `raw`, INCR results are `int`, INCRBYFLOAT results are plain
//! strings. Commands that modify a value in place (APPEND, SETRANGE, INCR...) keep
//! the key's TTL; SET-like commands clear it unless KEEPTTL.

use std::sync::atomic::Ordering;

use super::{args, errors, flags::*, CmdResult, Command, Ctx, RError};
use crate::config::notify;
use crate::types::string::EMBSTR_LIMIT;
use crate::types::{StrValue, Value};
use crate::util::longdouble::LongDouble;

crate::commands! { pub static COMMANDS = [
    Command::new("get", 2, READONLY | FAST, get)
        .keys(1, 1, 1)
        .acl(&["read", "string", "fast"]),
    Command::new("set", -3, WRITE | DENYOOM, set)
        .keys(1, 1, 1)
        .acl(&["write", "string", "slow"]),
    Command::new("setnx", 3, WRITE | DENYOOM | FAST, setnx)
        .keys(1, 1, 1)
        .acl(&["write", "string", "fast"]),
    Command::new("setex", 4, WRITE | DENYOOM, setex)
        .keys(1, 1, 1)
        .acl(&["write", "string", "slow"]),
    Command::new("psetex", 4, WRITE | DENYOOM, psetex)
        .keys(1, 1, 1)
        .acl(&["write", "string", "slow"]),
    Command::new("getset", 3, WRITE | DENYOOM | FAST, getset)
        .keys(1, 1, 1)
        .acl(&["write", "string", "fast"]),
    Command::new("getdel", 2, WRITE | FAST, getdel)
        .keys(1, 1, 1)
        .acl(&["write", "string", "fast"]),
    Command::new("getex", -2, WRITE | FAST, getex)
        .keys(1, 1, 1)
        .acl(&["write", "string", "fast"]),
    Command::new("mget", -2, READONLY | FAST, mget)
        .keys(1, -1, 1)
        .acl(&["read", "string", "fast"]),
    Command::new("mset", -3, WRITE | DENYOOM, mset)
        .keys(1, -1, 2)
        .acl(&["write", "string", "slow"]),
    Command::new("msetnx", -3, WRITE | DENYOOM, msetnx)
        .keys(1, -1, 2)
        .acl(&["write", "string", "slow"]),
    Command::new("append", 3, WRITE | DENYOOM | FAST, append)
        .keys(1, 1, 1)
        .acl(&["write", "string", "fast"]),
    Command::new("strlen", 2, READONLY | FAST, strlen)
        .keys(1, 1, 1)
        .acl(&["read", "string", "fast"]),
    Command::new("getrange", 4, READONLY, getrange)
        .keys(1, 1, 1)
        .acl(&["read", "string", "slow"]),
    Command::new("substr", 4, READONLY, getrange)
        .keys(1, 1, 1)
        .acl(&["read", "string", "slow"]),
    Command::new("setrange", 4, WRITE | DENYOOM, setrange)
        .keys(1, 1, 1)
        .acl(&["write", "string", "slow"]),
    Command::new("incr", 2, WRITE | DENYOOM | FAST, incr)
        .keys(1, 1, 1)
        .acl(&["write", "string", "fast"]),
    Command::new("decr", 2, WRITE | DENYOOM | FAST, decr)
        .keys(1, 1, 1)
        .acl(&["write", "string", "fast"]),
    Command::new("incrby", 3, WRITE | DENYOOM | FAST, incrby)
        .keys(1, 1, 1)
        .acl(&["write", "string", "fast"]),
    Command::new("decrby", 3, WRITE | DENYOOM | FAST, decrby)
        .keys(1, 1, 1)
        .acl(&["write", "string", "fast"]),
    Command::new("incrbyfloat", 3, WRITE | DENYOOM | FAST, incrbyfloat)
        .keys(1, 1, 1)
        .acl(&["write", "string", "fast"]),
    Command::new("lcs", -3, READONLY, lcs)
        .keys(1, 2, 1)
        .acl(&["read", "string", "slow"]),
]; }

/// The string held by a value, or WRONGTYPE.
#[allow(unreachable_patterns)]
pub fn str_ref(v: &Value) -> Result<&StrValue, RError> {
    match v {
        Value::Str(s) => Ok(s),
        _ => Err(errors::WRONGTYPE),
    }
}

/// The string held by a value, mutable, or WRONGTYPE.
#[allow(unreachable_patterns)]
pub fn str_mut(v: &mut Value) -> Result<&mut StrValue, RError> {
    match v {
        Value::Str(s) => Ok(s),
        _ => Err(errors::WRONGTYPE),
    }
}

/// A string created from computed bytes without trying the integer encoding
/// (Redis's `createStringObject`: embstr up to 44 bytes, raw above).
pub fn plain_string(b: &[u8]) -> StrValue {
    if b.len() <= EMBSTR_LIMIT {
        StrValue::emb(b)
    } else {
        StrValue::raw(b.to_vec())
    }
}

/// Redis's `proto-max-bulk-len`, the largest string a command may build.
pub fn max_string_len(ctx: &Ctx) -> i64 {
    ctx.srv.hot.proto_max_bulk_len.load(Ordering::Relaxed) as i64
}

/// `checkStringLength`'s error: the result would exceed proto-max-bulk-len.
const TOO_LONG: RError =
    RError::raw("ERR string exceeds maximum allowed size (proto-max-bulk-len)");

fn get(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    get_generic(ctx, argv[1])
}

/// `getGenericCommand`: replies with the value, nil if missing, WRONGTYPE otherwise.
fn get_generic(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    let db = ctx.db();
    match ctx.txn.get_read(db, key) {
        None => ctx.out.null(),
        Some(e) => str_ref(&e.value)?.with_bytes(|b| ctx.out.bulk(b)),
    }
    Ok(())
}

// Flags of SET/GETEX options (Redis's OBJ_* flags).
const NX: u32 = 1 << 0;
const XX: u32 = 1 << 1;
const EX: u32 = 1 << 2;
const PX: u32 = 1 << 3;
const KEEPTTL: u32 = 1 << 4;
const GET: u32 = 1 << 5;
const EXAT: u32 = 1 << 6;
const PXAT: u32 = 1 << 7;
const PERSIST: u32 = 1 << 8;
const ANY_EXPIRE: u32 = EX | PX | EXAT | PXAT;

/// `parseExtendedStringArgumentsOrReply`: SET options (from argv[3]) or GETEX options
/// (from argv[2]), with Redis's rules on which options exclude each other.
fn parse_extended<'a>(argv: &[&'a [u8]], for_set: bool) -> Result<(u32, Option<&'a [u8]>), RError> {
    let mut flags = 0u32;
    let mut expire = None;
    let mut j = if for_set { 3 } else { 2 };
    while j < argv.len() {
        let opt = argv[j];
        let next = argv.get(j + 1).copied();
        let has = |f: u32| flags & f != 0;
        if for_set && args::is(opt, "nx") && !has(XX) {
            flags |= NX;
        } else if for_set && args::is(opt, "xx") && !has(NX) {
            flags |= XX;
        } else if for_set && args::is(opt, "get") {
            flags |= GET;
        } else if for_set && args::is(opt, "keepttl") && !has(PERSIST | ANY_EXPIRE) {
            flags |= KEEPTTL;
        } else if !for_set && args::is(opt, "persist") && !has(ANY_EXPIRE | KEEPTTL) {
            flags |= PERSIST;
        } else if let (Some(n), Some(f)) = (next, expire_option(opt)) {
            // The same option may repeat (the last value wins); another expire
            // option, KEEPTTL or PERSIST may not be combined with it.
            if has((ANY_EXPIRE | KEEPTTL | PERSIST) & !f) {
                return Err(errors::SYNTAX);
            }
            flags |= f;
            expire = Some(n);
            j += 1;
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    Ok((flags, expire))
}

fn expire_option(opt: &[u8]) -> Option<u32> {
    if args::is(opt, "ex") {
        Some(EX)
    } else if args::is(opt, "px") {
        Some(PX)
    } else if args::is(opt, "exat") {
        Some(EXAT)
    } else if args::is(opt, "pxat") {
        Some(PXAT)
    } else {
        None
    }
}

/// `getExpireMillisecondsOrReply`: the absolute expiry time in ms for an EX/PX/EXAT/
/// PXAT argument, with Redis's validation.
fn expire_at_ms(ctx: &Ctx, arg: &[u8], flags: u32) -> Result<i64, RError> {
    let invalid = || {
        RError::owned(format!(
            "ERR invalid expire time in '{}' command",
            ctx.cmd.name
        ))
    };
    let mut ms = args::int(arg)?;
    let seconds = flags & (EX | EXAT) != 0;
    if ms <= 0 || (seconds && ms > i64::MAX / 1000) {
        return Err(invalid());
    }
    if seconds {
        ms *= 1000;
    }
    if flags & (EX | PX) != 0 {
        // Redis adds in signed arithmetic and detects the wrap-around below.
        ms = ms.wrapping_add(ctx.txn.now as i64);
    }
    if ms <= 0 {
        return Err(invalid());
    }
    Ok(ms)
}

/// What SET-like commands reply when they do or do not set the key.
#[derive(Clone, Copy)]
enum SetReply {
    /// `+OK` / nil (SET, SETEX, PSETEX).
    OkOrNull,
    /// `:1` / `:0` (SETNX).
    OneOrZero,
}

/// `setGenericCommand`.
fn set_generic(
    ctx: &mut Ctx,
    flags: u32,
    key: &[u8],
    val: &[u8],
    expire: Option<&[u8]>,
    reply: SetReply,
) -> CmdResult {
    let at = match expire {
        Some(arg) => Some(expire_at_ms(ctx, arg, flags)?),
        None => None,
    };
    if flags & GET != 0 {
        get_generic(ctx, key)?;
        // Redis creates the key after the GET's reply (its `new` event follows it).
        ctx.events_after_reply();
    }
    let db = ctx.db();
    let found = ctx.txn.exists(db, key);
    if (flags & NX != 0 && found) || (flags & XX != 0 && !found) {
        if flags & GET == 0 {
            match reply {
                SetReply::OkOrNull => ctx.out.null(),
                SetReply::OneOrZero => ctx.out.int(0),
            }
        }
        return Ok(());
    }
    // SAFETY: `set`/`set_with_expire` copy the value while `val` (the command's
    // argument) is alive.
    let value = Value::Str(unsafe { StrValue::for_set(val) });
    match at {
        Some(at) => ctx.txn.set_with_expire(db, key, value, at as u64),
        None => ctx.txn.set(db, key, value, flags & KEEPTTL != 0),
    }
    ctx.notify(notify::STRING, "set", key);
    if let Some(at) = at {
        ctx.notify(notify::GENERIC, "expire", key);
        if flags & PXAT == 0 {
            // Propagated with the absolute time (Redis rewrites to these 5 arguments).
            let ms = at.to_string();
            ctx.propagate_as(&[b"SET", key, val, b"PXAT", ms.as_bytes()]);
        }
    }
    if flags & GET == 0 {
        match reply {
            SetReply::OkOrNull => ctx.out.ok(),
            SetReply::OneOrZero => ctx.out.int(1),
        }
    }
    Ok(())
}

/// SET key value [NX | XX] [GET] [EX s | PX ms | EXAT ts | PXAT ms-ts | KEEPTTL]
fn set(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let (flags, expire) = parse_extended(argv, true)?;
    set_generic(ctx, flags, argv[1], argv[2], expire, SetReply::OkOrNull)
}

fn setnx(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    set_generic(ctx, NX, argv[1], argv[2], None, SetReply::OneOrZero)
}

fn setex(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    set_generic(ctx, EX, argv[1], argv[3], Some(argv[2]), SetReply::OkOrNull)
}

fn psetex(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    set_generic(ctx, PX, argv[1], argv[3], Some(argv[2]), SetReply::OkOrNull)
}

fn getset(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    get_generic(ctx, argv[1])?;
    // Redis creates the key after the reply (its `new` event follows it).
    ctx.events_after_reply();
    let db = ctx.db();
    ctx.txn.set(
        db,
        argv[1],
        Value::Str(StrValue::from_bytes(argv[2])),
        false,
    );
    ctx.notify(notify::STRING, "set", argv[1]);
    // Propagated as SET (Redis rewrites the command name).
    ctx.propagate_as(&[b"SET", argv[1], argv[2]]);
    Ok(())
}

fn getdel(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    get_generic(ctx, argv[1])?;
    let db = ctx.db();
    if ctx.txn.remove(db, argv[1]).is_some() {
        ctx.notify(notify::GENERIC, "del", argv[1]);
        ctx.propagate_as(&[b"DEL", argv[1]]);
    }
    Ok(())
}

/// GETEX key [EX s | PX ms | EXAT ts | PXAT ms-ts | PERSIST]
fn getex(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let (flags, expire) = parse_extended(argv, false)?;
    let db = ctx.db();
    let key = argv[1];
    let (value, had_ttl) = match ctx.txn.get_read(db, key) {
        None => {
            ctx.out.null();
            return Ok(());
        }
        Some(e) => (str_ref(&e.value)?.to_vec(), e.expire() != 0),
    };
    let at = match expire {
        Some(arg) => Some(expire_at_ms(ctx, arg, flags)?),
        None => None,
    };
    ctx.out.bulk(&value);
    if let Some(at) = at {
        if flags & (EXAT | PXAT) != 0 && at as u64 <= ctx.txn.now {
            ctx.txn.remove(db, key);
            ctx.notify(notify::GENERIC, "del", key);
            ctx.propagate_as(&[b"DEL", key]);
        } else {
            ctx.txn.set_expire(db, key, at as u64);
            ctx.txn.dirty += 1;
            ctx.notify(notify::GENERIC, "expire", key);
            let ms = at.to_string();
            ctx.propagate_as(&[b"PEXPIREAT", key, ms.as_bytes()]);
        }
    } else if flags & PERSIST != 0 && had_ttl {
        ctx.txn.set_expire(db, key, 0);
        ctx.txn.dirty += 1;
        ctx.notify(notify::GENERIC, "persist", key);
        ctx.propagate_as(&[b"PERSIST", key]);
    }
    Ok(())
}

fn mget(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    ctx.out.array(argv.len() - 1);
    for key in &argv[1..] {
        // Redis looks each key up while replying: its events (keymiss, expired) fall
        // between the elements.
        ctx.events_after_reply();
        match ctx.txn.get_read(db, key) {
            Some(e) => match str_ref(&e.value) {
                Ok(s) => s.with_bytes(|b| ctx.out.bulk(b)),
                Err(_) => ctx.out.null(),
            },
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn mset_generic(ctx: &mut Ctx, argv: &[&[u8]], nx: bool) -> CmdResult {
    if argv.len().is_multiple_of(2) {
        return Err(RError::owned(format!(
            "ERR wrong number of arguments for '{}' command",
            ctx.cmd.name
        )));
    }
    let db = ctx.db();
    if nx && argv[1..].chunks(2).any(|kv| ctx.txn.exists(db, kv[0])) {
        ctx.out.int(0);
        return Ok(());
    }
    for kv in argv[1..].chunks(2) {
        if let [k, v] = kv {
            ctx.txn
                .set(db, k, Value::Str(StrValue::from_bytes(v)), false);
            ctx.notify(notify::STRING, "set", k);
        }
    }
    if nx {
        ctx.out.int(1);
    } else {
        ctx.out.ok();
    }
    Ok(())
}

fn mset(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    mset_generic(ctx, argv, false)
}

fn msetnx(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    mset_generic(ctx, argv, true)
}

fn append(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let (key, add) = (argv[1], argv[2]);
    let max = max_string_len(ctx);
    let total = match ctx.txn.get_mut(db, key) {
        None => None,
        Some(e) => {
            let s = str_mut(&mut e.value)?;
            let total = (s.len() as i64).checked_add(add.len() as i64);
            match total {
                Some(t) if t <= max => {}
                _ => return Err(TOO_LONG),
            }
            let buf = s.make_raw();
            buf.extend_from_slice(add);
            Some(buf.len())
        }
    };
    let total = match total {
        Some(t) => {
            ctx.txn.dirty += 1;
            t
        }
        None => {
            ctx.txn
                .set(db, key, Value::Str(StrValue::from_bytes(add)), false);
            add.len()
        }
    };
    ctx.notify(notify::STRING, "append", key);
    ctx.out.int(total as i64);
    Ok(())
}

fn strlen(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let n = match ctx.txn.get_read(db, argv[1]) {
        None => 0,
        Some(e) => str_ref(&e.value)?.len(),
    };
    ctx.out.int(n as i64);
    Ok(())
}

/// The byte range `[start, end]` GETRANGE returns for a string of `len` bytes, after
/// Redis's index conversion; None for an empty result.
pub fn getrange_bounds(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    if start < 0 && end < 0 && start > end {
        return None;
    }
    let len = len as i64;
    let mut start = if start < 0 { start + len } else { start };
    let mut end = if end < 0 { end + len } else { end };
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        return None;
    }
    Some((start as usize, end as usize))
}

/// GETRANGE key start end (also SUBSTR).
fn getrange(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let start = args::int(argv[2])?;
    let end = args::int(argv[3])?;
    let db = ctx.db();
    let Some(e) = ctx.txn.get_read(db, argv[1]) else {
        ctx.out.bulk(b"");
        return Ok(());
    };
    let s = str_ref(&e.value)?;
    s.with_bytes(|b| match getrange_bounds(start, end, b.len()) {
        Some((st, en)) => ctx.out.bulk(b.get(st..=en).unwrap_or_default()),
        None => ctx.out.bulk(b""),
    });
    Ok(())
}

fn setrange(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let offset = args::int(argv[2])?;
    if offset < 0 {
        return Err(RError::raw("ERR offset is out of range"));
    }
    let value = argv[3];
    let db = ctx.db();
    let key = argv[1];
    let max = max_string_len(ctx);
    let fits = |off: i64, n: usize| matches!(off.checked_add(n as i64), Some(t) if t <= max);
    let new_len = match ctx.txn.get_mut(db, key) {
        None => {
            if value.is_empty() {
                ctx.out.int(0);
                return Ok(());
            }
            if !fits(offset, value.len()) {
                return Err(TOO_LONG);
            }
            let mut buf = Vec::new();
            write_at(&mut buf, offset as usize, value);
            let n = buf.len();
            ctx.txn.set(db, key, Value::Str(StrValue::raw(buf)), false);
            n
        }
        Some(e) => {
            let s = str_mut(&mut e.value)?;
            if value.is_empty() {
                ctx.out.int(s.len() as i64);
                return Ok(());
            }
            if !fits(offset, value.len()) {
                return Err(TOO_LONG);
            }
            let buf = s.make_raw();
            write_at(buf, offset as usize, value);
            let n = buf.len();
            ctx.txn.dirty += 1;
            n
        }
    };
    ctx.notify(notify::STRING, "setrange", key);
    ctx.out.int(new_len as i64);
    Ok(())
}

/// Copies `value` into `buf` at `offset`, zero-padding the buffer as needed.
fn write_at(buf: &mut Vec<u8>, offset: usize, value: &[u8]) {
    let end = offset + value.len();
    if buf.len() < end {
        buf.resize(end, 0);
    }
    if let Some(dst) = buf.get_mut(offset..end) {
        dst.copy_from_slice(value);
    }
}

/// `incrDecrCommand`.
fn incr_decr(ctx: &mut Ctx, key: &[u8], incr: i64) -> CmdResult {
    let db = ctx.db();
    let result = match ctx.txn.get_mut(db, key) {
        Some(e) => {
            let s = str_mut(&mut e.value)?;
            let old = s.as_i64().ok_or(errors::NOT_INT)?;
            let new = old.checked_add(incr).ok_or(errors::OVERFLOW)?;
            *s = StrValue::Int(new);
            ctx.txn.dirty += 1;
            new
        }
        None => {
            ctx.txn.set(db, key, Value::Str(StrValue::Int(incr)), false);
            incr
        }
    };
    ctx.notify(notify::STRING, "incrby", key);
    ctx.out.int(result);
    Ok(())
}

fn incr(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    incr_decr(ctx, argv[1], 1)
}

fn decr(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    incr_decr(ctx, argv[1], -1)
}

fn incrby(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let n = args::int(argv[2])?;
    incr_decr(ctx, argv[1], n)
}

fn decrby(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let n = args::int(argv[2])?;
    if n == i64::MIN {
        return Err(RError::raw("ERR decrement would overflow"));
    }
    incr_decr(ctx, argv[1], -n)
}

/// The long double value of a stored string (`getLongDoubleFromObject`).
fn stored_long_double(s: &StrValue) -> Option<LongDouble> {
    match s {
        StrValue::Int(n) => Some(LongDouble::from_i64(*n)),
        other => other.with_bytes(LongDouble::parse),
    }
}

fn incrbyfloat(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let key = argv[1];
    let (current, exists) = match ctx.txn.get_mut(db, key) {
        Some(e) => (
            stored_long_double(str_ref(&e.value)?).ok_or(errors::NOT_FLOAT)?,
            true,
        ),
        None => (LongDouble::ZERO, false),
    };
    let incr = LongDouble::parse(argv[2]).ok_or(errors::NOT_FLOAT)?;
    let sum = current + incr;
    if sum.inf {
        return Err(RError::raw("ERR increment would produce NaN or Infinity"));
    }
    let text = sum.to_human_string();
    let value = plain_string(text.as_bytes());
    if exists {
        if let Some(e) = ctx.txn.get_mut(db, key) {
            e.value = Value::Str(value);
        }
        ctx.txn.dirty += 1;
    } else {
        ctx.txn.set(db, key, Value::Str(value), false);
    }
    ctx.notify(notify::STRING, "incrbyfloat", key);
    // The result, not the increment: float arithmetic must not differ on reload.
    ctx.propagate_as(&[b"SET", key, text.as_bytes(), b"KEEPTTL"]);
    ctx.out.bulk(text.as_bytes());
    Ok(())
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]
fn lcs(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let mut fetch = |key: &[u8]| -> Result<Vec<u8>, RError> {
        match ctx.txn.get_read(db, key) {
            None => Ok(Vec::new()),
            Some(e) => str_ref(&e.value)
                .map(|s| s.to_vec())
                .map_err(|_| RError::raw("ERR The specified keys must contain string values")),
        }
    };
    // Both keys are looked up before either type is checked, as in Redis.
    let a = fetch(argv[1]);
    let b = fetch(argv[2]);
    let (a, b) = (a?, b?);
    let mut getlen = false;
    let mut getidx = false;
    let mut withmatchlen = false;
    let mut minmatchlen: i64 = 0;
    let mut j = 3;
    while j < argv.len() {
        let opt = argv[j];
        let more = argv.len() - 1 - j;
        if args::is(opt, "idx") {
            getidx = true;
        } else if args::is(opt, "len") {
            getlen = true;
        } else if args::is(opt, "withmatchlen") {
            withmatchlen = true;
        } else if args::is(opt, "minmatchlen") && more > 0 {
            minmatchlen = args::int(argv[j + 1])?.max(0);
            j += 1;
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    if getlen && getidx {
        return Err(RError::raw(
            "ERR If you want both the length and indexes, please just use IDX.",
        ));
    }
    if a.len() >= u32::MAX as usize - 1 || b.len() >= u32::MAX as usize - 1 {
        return Err(RError::raw("ERR String too long for LCS"));
    }
    let (alen, blen) = (a.len(), b.len());
    let cells = (alen as u64 + 1) * (blen as u64 + 1);
    let bytes = cells.checked_mul(4);
    match bytes {
        Some(n) if n <= max_string_len(ctx) as u64 => {}
        Some(_) => {
            return Err(RError::raw(
                "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
            ))
        }
        None => {
            return Err(RError::raw(
                "ERR Insufficient memory, failed allocating transient memory for LCS",
            ))
        }
    }
    let mut table: Vec<u32> = Vec::new();
    if table.try_reserve_exact(cells as usize).is_err() {
        return Err(RError::raw(
            "ERR Insufficient memory, failed allocating transient memory for LCS",
        ));
    }
    table.resize(cells as usize, 0);
    let w = blen + 1;
    for i in 1..=alen {
        for jj in 1..=blen {
            table[i * w + jj] = if a[i - 1] == b[jj - 1] {
                table[(i - 1) * w + jj - 1] + 1
            } else {
                table[(i - 1) * w + jj].max(table[i * w + jj - 1])
            };
        }
    }
    let total = table[alen * w + blen];
    let compute = getidx || !getlen;
    let mut result = vec![0u8; if compute { total as usize } else { 0 }];
    let mut idx = total as usize;
    // Ranges found walking back from the end: ((a_start, a_end), (b_start, b_end), len).
    let mut ranges: Vec<(usize, usize, usize, usize, usize)> = Vec::new();
    let (mut i, mut jj) = (alen, blen);
    let unset = alen; // arange_start == alen means "no current range"
    let (mut a_start, mut a_end, mut b_start, mut b_end) = (unset, 0usize, 0usize, 0usize);
    while compute && i > 0 && jj > 0 {
        let mut emit = false;
        if a[i - 1] == b[jj - 1] {
            if let Some(slot) = result.get_mut(idx.wrapping_sub(1)) {
                *slot = a[i - 1];
            }
            if a_start == unset {
                a_start = i - 1;
                a_end = i - 1;
                b_start = jj - 1;
                b_end = jj - 1;
            } else if a_start == i && b_start == jj {
                a_start -= 1;
                b_start -= 1;
            } else {
                emit = true;
            }
            if a_start == 0 || b_start == 0 {
                emit = true;
            }
            idx = idx.saturating_sub(1);
            i -= 1;
            jj -= 1;
        } else {
            let l1 = table[(i - 1) * w + jj];
            let l2 = table[i * w + jj - 1];
            if l1 > l2 {
                i -= 1;
            } else {
                jj -= 1;
            }
            if a_start != unset {
                emit = true;
            }
        }
        if emit {
            let match_len = a_end.wrapping_sub(a_start).wrapping_add(1);
            if minmatchlen == 0 || match_len as i64 >= minmatchlen {
                ranges.push((a_start, a_end, b_start, b_end, match_len));
            }
            a_start = unset;
        }
    }
    if getidx {
        ctx.out.map(2);
        ctx.out.bulk(b"matches");
        ctx.out.array(ranges.len());
        for (s1, e1, s2, e2, len) in ranges {
            ctx.out.array(if withmatchlen { 3 } else { 2 });
            ctx.out.array(2);
            ctx.out.int(s1 as i64);
            ctx.out.int(e1 as i64);
            ctx.out.array(2);
            ctx.out.int(s2 as i64);
            ctx.out.int(e2 as i64);
            if withmatchlen {
                ctx.out.int(len as i64);
            }
        }
        ctx.out.bulk(b"len");
        ctx.out.int(total as i64);
    } else if getlen {
        ctx.out.int(total as i64);
    } else {
        ctx.out.bulk(&result);
    }
    Ok(())
}

/// Runs commands through the real dispatcher on an in-process server, for tests of
/// what the differential suite cannot see (encodings, TTLs, RESP3 shapes).
#[cfg(test)]
pub(crate) mod harness {
    use std::sync::Arc;

    use crate::config::Config;
    use crate::keyspace::Txn;
    use crate::protocol::reply::{Proto, Reply};
    use crate::server::client::{ClientInfo, ClientState};
    use crate::server::dispatch::{execute, Gate};
    use crate::server::Server;

    pub struct Harness {
        pub srv: Arc<Server>,
        pub client: ClientState,
        pub proto: Proto,
    }

    impl Harness {
        pub fn new() -> Harness {
            let srv = Server::new(Config::default());
            let addr = "127.0.0.1:1".parse().expect("literal address");
            let info = Arc::new(ClientInfo::new(1, addr, addr, -1, 0));
            Harness {
                srv,
                client: ClientState::new(info, true),
                proto: Proto::Resp2,
            }
        }

        /// Runs one command (space separated words) and returns the raw reply.
        pub fn run(&mut self, line: &str) -> String {
            let words: Vec<&[u8]> = line.split(' ').map(|w| w.as_bytes()).collect();
            let mut out = Reply::new(self.proto);
            let mut gate = Gate::Open;
            execute(&self.srv, &mut self.client, &mut out, &words, &mut gate);
            gate.release();
            String::from_utf8_lossy(&out.buf).into_owned()
        }

        /// (OBJECT ENCODING, absolute expiry ms or 0) of a key in db 0.
        pub fn key(&self, key: &str) -> Option<(&'static str, u64)> {
            let _gate = self.srv.ks.gate.write();
            let mut t = Txn::exclusive(&self.srv.ks, crate::util::time::now_ms());
            t.peek(0, key.as_bytes())
                .map(|e| (e.value.encoding(), e.expire()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getrange_index_conversion() {
        assert_eq!(getrange_bounds(0, -1, 5), Some((0, 4)));
        assert_eq!(getrange_bounds(-3, -1, 5), Some((2, 4)));
        assert_eq!(getrange_bounds(0, -100, 5), Some((0, 0)));
        assert_eq!(getrange_bounds(-1, -3, 5), None);
        assert_eq!(getrange_bounds(-10, -20, 5), None);
        assert_eq!(getrange_bounds(10, 20, 5), None);
        assert_eq!(getrange_bounds(0, -1, 0), None);
        assert_eq!(getrange_bounds(i64::MIN, i64::MAX, 3), Some((0, 2)));
    }

    #[test]
    fn extended_options() {
        let p = |a: &[&str], set: bool| {
            let v: Vec<&[u8]> = a.iter().map(|s| s.as_bytes()).collect();
            parse_extended(&v, set).map(|(f, e)| (f, e.map(|x| x.to_vec())))
        };
        assert_eq!(
            p(&["set", "k", "v", "ex", "10", "ex", "20"], true),
            Ok((EX, Some(b"20".to_vec())))
        );
        assert_eq!(
            p(&["set", "k", "v", "ex", "10", "px", "20"], true),
            Err(errors::SYNTAX)
        );
        assert_eq!(
            p(&["set", "k", "v", "keepttl", "ex", "1"], true),
            Err(errors::SYNTAX)
        );
        assert_eq!(p(&["set", "k", "v", "nx", "xx"], true), Err(errors::SYNTAX));
        assert_eq!(p(&["set", "k", "v", "ex"], true), Err(errors::SYNTAX));
        assert_eq!(p(&["set", "k", "v", "persist"], true), Err(errors::SYNTAX));
        assert_eq!(
            p(&["getex", "k", "persist", "persist"], false),
            Ok((PERSIST, None))
        );
        assert_eq!(p(&["getex", "k", "keepttl"], false), Err(errors::SYNTAX));
        assert_eq!(
            p(&["getex", "k", "persist", "ex", "1"], false),
            Err(errors::SYNTAX)
        );
    }

    use harness::Harness;

    #[test]
    fn encodings_follow_redis() {
        let mut h = Harness::new();
        let cases: &[(&str, &str, &str)] = &[
            ("SET k 123", "k", "int"),
            ("SET k abc", "k", "embstr"),
            ("APPEND k d", "k", "raw"),
            ("SET k 1", "k", "int"),
            ("APPEND k 2", "k", "raw"),
            ("APPEND new 7", "new", "int"),
            ("APPEND new2 xyz", "new2", "embstr"),
            ("SETRANGE sr 0 5", "sr", "raw"),
            ("SET sr2 abc", "sr2", "embstr"),
            ("SETRANGE sr2 1 x", "sr2", "raw"),
            ("INCR i", "i", "int"),
            ("SET i2 abc", "i2", "embstr"),
            ("SET i2 5", "i2", "int"),
            ("INCRBY i2 5", "i2", "int"),
            ("INCRBYFLOAT f 3", "f", "embstr"),
            ("INCRBYFLOAT f 1.5", "f", "embstr"),
            ("INCRBYFLOAT f2 1e60", "f2", "raw"),
            ("GETSET g 10", "g", "int"),
            ("MSET m1 10 m2 x", "m1", "int"),
            ("SETBIT b 3 1", "b", "raw"),
            ("SET b2 12", "b2", "int"),
            ("SETBIT b2 0 0", "b2", "raw"),
            ("BITOP NOT bo b", "bo", "raw"),
            ("BITFIELD bf SET u8 0 1", "bf", "raw"),
            ("SET bf2 abc", "bf2", "embstr"),
            ("BITFIELD bf2 GET u8 0", "bf2", "embstr"),
        ];
        for (cmd, key, enc) in cases {
            h.run(cmd);
            assert_eq!(h.key(key).map(|k| k.0), Some(*enc), "after {cmd}");
        }
    }

    #[test]
    fn ttl_kept_or_cleared() {
        let mut h = Harness::new();
        let keeps = [
            "APPEND k x",
            "SETRANGE k 0 y",
            "INCR k",
            "INCRBYFLOAT k 1",
            "SETBIT k 1 1",
            "BITFIELD k SET u8 0 50",
            "SET k v KEEPTTL",
            "GETEX k",
            "SET k 5 XX KEEPTTL GET",
        ];
        for cmd in keeps {
            h.run("SET k 1 EX 100");
            h.run(cmd);
            assert_ne!(h.key("k").map(|k| k.1), Some(0), "{cmd} must keep the TTL");
        }
        let clears = [
            "SET k v",
            "GETSET k v",
            "MSET k v",
            "SET k v GET",
            "GETEX k PERSIST",
            "BITOP OR k k",
        ];
        for cmd in clears {
            h.run("SET k 1 EX 100");
            h.run(cmd);
            assert_eq!(h.key("k").map(|k| k.1), Some(0), "{cmd} must clear the TTL");
        }
        h.run("SET k v");
        h.run("GETEX k PX 5000");
        assert_ne!(h.key("k").map(|k| k.1), Some(0));
        h.run("SETEX k 10 v");
        assert_ne!(h.key("k").map(|k| k.1), Some(0));
    }

    #[test]
    fn lcs_reply_shapes() {
        let mut h = Harness::new();
        h.run("MSET a ohmytext b mynewtext");
        let idx = h.run("LCS a b IDX MINMATCHLEN 4 WITHMATCHLEN");
        assert_eq!(
            idx,
            "*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n$3\r\nlen\r\n:6\r\n"
        );
        h.proto = crate::protocol::reply::Proto::Resp3;
        let idx3 = h.run("LCS a b IDX MINMATCHLEN 4 WITHMATCHLEN");
        assert_eq!(idx3, idx.replacen("*4", "%2", 1));
        assert_eq!(h.run("GET nokey"), "_\r\n");
        assert_eq!(
            h.run("BITFIELD a OVERFLOW FAIL INCRBY u2 0 100"),
            "*1\r\n_\r\n"
        );
        assert_eq!(h.run("LCS a b"), "$6\r\nmytext\r\n");
    }

    #[test]
    fn size_limits_follow_proto_max_bulk_len() {
        let mut h = Harness::new();
        h.srv
            .config
            .write()
            .set("proto-max-bulk-len", &["1mb".to_string()], true)
            .expect("settable");
        h.srv.refresh_hot();
        let mb = 1024 * 1024;
        let too_long = "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n";
        let big = "x".repeat(mb - 1);
        assert_eq!(
            h.run(&format!("APPEND a {big}")),
            format!(":{}\r\n", mb - 1)
        );
        assert_eq!(h.run("APPEND a y"), format!(":{mb}\r\n"));
        assert_eq!(h.run("APPEND a z"), too_long);
        assert_eq!(
            h.run(&format!("SETRANGE s {} x", mb - 1)),
            format!(":{mb}\r\n")
        );
        assert_eq!(h.run(&format!("SETRANGE s {mb} x")), too_long);
        assert_eq!(h.run(&format!("SETRANGE s2 {mb} x")), too_long);
        assert_eq!(h.run("EXISTS s2"), ":0\r\n");
        let bad_offset = "-ERR bit offset is not an integer or out of range\r\n";
        assert_eq!(h.run(&format!("SETBIT b {} 1", mb * 8 - 1)), ":0\r\n");
        assert_eq!(h.run(&format!("SETBIT b {} 1", mb * 8)), bad_offset);
        assert_eq!(h.run(&format!("GETBIT b {}", mb * 8)), bad_offset);
        assert_eq!(
            h.run(&format!("BITFIELD b GET u8 #{}", mb - 1)),
            "*1\r\n:1\r\n"
        );
        assert_eq!(h.run(&format!("BITFIELD b GET u8 #{mb}")), bad_offset);
        let (x, y) = ("a".repeat(400), "b".repeat(400));
        assert_eq!(h.run(&format!("MSET x {x} y {y}")), "+OK\r\n");
        assert_eq!(h.run("LCS x y LEN"), ":0\r\n");
        let (x, y) = ("a".repeat(600), "b".repeat(600));
        h.run(&format!("MSET x {x} y {y}"));
        assert_eq!(
            h.run("LCS x y LEN"),
            "-ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len\r\n"
        );
    }
}
