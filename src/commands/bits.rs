//! Bit commands on strings (Redis's `bitops.c`): SETBIT, GETBIT, BITCOUNT, BITPOS,
//! BITOP, BITFIELD and BITFIELD_RO.
//!
//! Bit 0 is the most significant bit of the first byte. Strings grow (zero padded)
//! when a bit past their end is written; such writes turn the value `raw` and keep
//! the key's TTL.

use super::strings::{max_string_len, str_mut, str_ref};
use super::{args, errors, flags::*, CmdResult, Command, Ctx, RError};
use crate::config::notify;
use crate::types::{StrValue, Value};
use crate::util::num::parse_i64;

crate::commands! { pub static COMMANDS = [
    Command::new("setbit", 4, WRITE | DENYOOM, setbit)
        .keys(1, 1, 1)
        .acl(&["write", "bitmap", "slow"]),
    Command::new("getbit", 3, READONLY | FAST, getbit)
        .keys(1, 1, 1)
        .acl(&["read", "bitmap", "fast"]),
    Command::new("bitcount", -2, READONLY, bitcount)
        .keys(1, 1, 1)
        .acl(&["read", "bitmap", "slow"]),
    Command::new("bitpos", -3, READONLY, bitpos)
        .keys(1, 1, 1)
        .acl(&["read", "bitmap", "slow"]),
    Command::new("bitop", -4, WRITE | DENYOOM, bitop)
        .keys(2, -1, 1)
        .acl(&["write", "bitmap", "slow"]),
    Command::new("bitfield", -2, WRITE | DENYOOM, bitfield)
        .keys(1, 1, 1)
        .acl(&["write", "bitmap", "slow"]),
    Command::new("bitfield_ro", -2, READONLY | FAST, bitfield_ro)
        .keys(1, 1, 1)
        .acl(&["read", "bitmap", "fast"]),
]; }

const BIT_OFFSET_ERR: RError = RError::raw("ERR bit offset is not an integer or out of range");
const BIT_VALUE_ERR: RError = RError::raw("ERR bit is not an integer or out of range");
const BITFIELD_TYPE_ERR: RError = RError::raw(
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
);

/// `getBitOffsetFromArgument`: a bit offset, optionally in the `#N` form (N times
/// the field width) when `bits > 0`, limited to proto-max-bulk-len bytes.
fn bit_offset(ctx: &Ctx, arg: &[u8], bits: i64) -> Result<u64, RError> {
    let usehash = bits > 0 && arg.first() == Some(&b'#');
    let digits = if usehash { &arg[1..] } else { arg };
    let mut off = parse_i64(digits).ok_or(BIT_OFFSET_ERR)?;
    if usehash {
        off = off.wrapping_mul(bits);
    }
    if off < 0 || (off >> 3) >= max_string_len(ctx) {
        return Err(BIT_OFFSET_ERR);
    }
    Ok(off as u64)
}

/// Value of bit `offset` (0 past the end).
fn get_bit(buf: &[u8], offset: u64) -> u8 {
    let byte = (offset >> 3) as usize;
    let shift = 7 - (offset & 7) as u32;
    buf.get(byte).map(|b| (b >> shift) & 1).unwrap_or(0)
}

/// Sets bit `offset` of a buffer long enough to hold it.
fn put_bit(buf: &mut [u8], offset: u64, on: bool) {
    let byte = (offset >> 3) as usize;
    let mask = 1u8 << (7 - (offset & 7) as u32);
    if let Some(b) = buf.get_mut(byte) {
        if on {
            *b |= mask;
        } else {
            *b &= !mask;
        }
    }
}

/// `lookupStringForBitCommand`: the key's string as a raw buffer, created or zero
/// padded so that bit `maxbit` exists. Returns the buffer and whether it was created
/// or grew; WRONGTYPE (before creating anything) if the key holds another type.
fn string_for_bits<'t>(
    ctx: &'t mut Ctx,
    key: &[u8],
    maxbit: u64,
) -> Result<(&'t mut Vec<u8>, bool), RError> {
    let db = ctx.db();
    let need = (maxbit >> 3) as usize + 1;
    let mut grew = false;
    match ctx.txn.get_mut(db, key) {
        Some(e) => {
            str_ref(&e.value)?;
        }
        None => {
            ctx.txn
                .set(db, key, Value::Str(StrValue::raw(vec![0; need])), false);
            grew = true;
        }
    }
    let Some(e) = ctx.txn.get_mut(db, key) else {
        return Err(RError::err("key vanished while being written"));
    };
    let buf = str_mut(&mut e.value)?.make_raw();
    if buf.len() < need {
        buf.resize(need, 0);
        grew = true;
    }
    Ok((buf, grew))
}

/// SETBIT key offset 0|1
fn setbit(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let offset = bit_offset(ctx, argv[2], 0)?;
    let on = parse_i64(argv[3]).ok_or(BIT_VALUE_ERR)?;
    if on & !1 != 0 {
        return Err(BIT_VALUE_ERR);
    }
    let (buf, grew) = string_for_bits(ctx, argv[1], offset)?;
    let old = get_bit(buf, offset);
    let changed = grew || old as i64 != on;
    if changed {
        put_bit(buf, offset, on == 1);
        ctx.txn.dirty += 1;
        ctx.notify(notify::STRING, "setbit", argv[1]);
    }
    ctx.out.int(old as i64);
    Ok(())
}

/// GETBIT key offset
fn getbit(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let offset = bit_offset(ctx, argv[2], 0)?;
    let db = ctx.db();
    let bit = match ctx.txn.get_read(db, argv[1]) {
        None => 0,
        Some(e) => str_ref(&e.value)?.with_bytes(|b| get_bit(b, offset)),
    };
    ctx.out.int(bit as i64);
    Ok(())
}

/// Parses the optional BIT|BYTE unit argument: true for BIT.
fn unit_is_bit(arg: &[u8]) -> Result<bool, RError> {
    if args::is(arg, "bit") {
        Ok(true)
    } else if args::is(arg, "byte") {
        Ok(false)
    } else {
        Err(errors::SYNTAX)
    }
}

/// A BITCOUNT/BITPOS range after Redis's normalisation: negative indexes counted from
/// the end, clamped to the string, and for BIT units turned into a byte range plus the
/// masks of the bits to ignore in its first and last bytes.
struct ClampedRange {
    start: i64,
    end: i64,
    masks: Option<(u8, u8)>,
}

/// `totlen` is the string length in bytes.
fn clamp_range(mut start: i64, mut end: i64, mut totlen: i64, isbit: bool) -> ClampedRange {
    if isbit {
        totlen <<= 3;
    }
    if start < 0 {
        start += totlen;
    }
    if end < 0 {
        end += totlen;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= totlen {
        end = totlen - 1;
    }
    let mut masks = None;
    if isbit && start <= end {
        masks = Some(edge_masks(start, end));
        start >>= 3;
        end >>= 3;
    }
    ClampedRange { start, end, masks }
}

/// Masks (Redis's "negative masks") of the bits outside a bit range in its first
/// and last bytes.
fn edge_masks(start: i64, end: i64) -> (u8, u8) {
    let first = !((1u32 << (8 - (start & 7))) - 1) as u8;
    let last = ((1u32 << (7 - (end & 7))) - 1) as u8;
    (first, last)
}

/// Number of set bits in `b`, 8 bytes at a time, with the CPU's `popcnt`
/// instruction when it has one (the default x86-64 target cannot assume it; without it
/// `count_ones` is a bit-twiddling sequence per word, as Redis's `redisPopcount`).
fn popcount(b: &[u8]) -> i64 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("popcnt") {
            // SAFETY: the CPU supports `popcnt`, checked just above.
            return unsafe { popcount_hw(b) };
        }
    }
    popcount_words(b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
unsafe fn popcount_hw(b: &[u8]) -> i64 {
    popcount_words(b)
}

#[inline(always)]
fn popcount_words(b: &[u8]) -> i64 {
    let mut chunks = b.chunks_exact(8);
    let mut n = 0u64;
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        n += u64::from_ne_bytes(w).count_ones() as u64;
    }
    n += chunks
        .remainder()
        .iter()
        .map(|x| x.count_ones() as u64)
        .sum::<u64>();
    n as i64
}

/// BITCOUNT key [start end [BYTE|BIT]]
fn bitcount(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let n = match ctx.txn.get_read(db, argv[1]) {
        None => 0,
        Some(e) => str_ref(&e.value)?.with_bytes(|p| bitcount_range(p, &argv[2..]))?,
    };
    ctx.out.int(n);
    Ok(())
}

/// The count BITCOUNT replies for string `p` and the arguments after the key.
fn bitcount_range(p: &[u8], rest: &[&[u8]]) -> Result<i64, RError> {
    let strlen = p.len() as i64;
    let (mut first_mask, mut last_mask) = (0u8, 0u8);
    let (start, end) = match rest.len() {
        2 | 3 => {
            let totlen = strlen;
            let start = args::int(rest[0])?;
            let end = args::int(rest[1])?;
            if start < 0 && end < 0 && start > end {
                return Ok(0);
            }
            let isbit = match rest.get(2) {
                Some(u) => unit_is_bit(u)?,
                None => false,
            };
            let range = clamp_range(start, end, totlen, isbit);
            if let Some(masks) = range.masks {
                (first_mask, last_mask) = masks;
            }
            (range.start, range.end)
        }
        0 => (0, strlen - 1),
        _ => return Err(errors::SYNTAX),
    };
    if start > end {
        return Ok(0);
    }
    let (s, e) = (start as usize, end as usize);
    let mut count = popcount(p.get(s..=e).unwrap_or_default());
    if first_mask != 0 {
        count -= (p.get(s).copied().unwrap_or(0) & first_mask).count_ones() as i64;
    }
    if last_mask != 0 {
        count -= (p.get(e).copied().unwrap_or(0) & last_mask).count_ones() as i64;
    }
    Ok(count)
}

/// `redisBitpos`: position of the first bit equal to `bit` in `s`; for 1 and no
/// match -1, for 0 and no match `8 * len` (the string is considered zero padded).
fn first_bit(s: &[u8], bit: bool) -> i64 {
    for (i, &b) in s.iter().enumerate() {
        if bit && b != 0 {
            return i as i64 * 8 + b.leading_zeros() as i64;
        }
        if !bit && b != 0xff {
            return i as i64 * 8 + b.leading_ones() as i64;
        }
    }
    if bit {
        -1
    } else {
        s.len() as i64 * 8
    }
}

/// BITPOS key bit [start [end [BYTE|BIT]]]
fn bitpos(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let bit = args::int(argv[2])?;
    if bit != 0 && bit != 1 {
        return Err(RError::raw("ERR The bit argument must be 1 or 0."));
    }
    let db = ctx.db();
    let n = match ctx.txn.get_read(db, argv[1]) {
        None => {
            if bit == 1 {
                -1
            } else {
                0
            }
        }
        Some(e) => str_ref(&e.value)?.with_bytes(|p| bitpos_range(p, bit == 1, &argv[3..]))?,
    };
    ctx.out.int(n);
    Ok(())
}

/// The position BITPOS replies for string `p`, the bit looked for and the arguments
/// after the bit.
fn bitpos_range(p: &[u8], bit: bool, rest: &[&[u8]]) -> Result<i64, RError> {
    let strlen = p.len() as i64;
    let (mut first_mask, mut last_mask) = (0u8, 0u8);
    let mut end_given = false;
    let (mut start, end) = match rest.len() {
        1..=3 => {
            let totlen = strlen;
            let start = args::int(rest[0])?;
            let isbit = match rest.get(2) {
                Some(u) => unit_is_bit(u)?,
                None => false,
            };
            let end = match rest.get(1) {
                Some(e) => {
                    end_given = true;
                    args::int(e)?
                }
                None if isbit => (totlen << 3) + 7,
                None => totlen - 1,
            };
            let range = clamp_range(start, end, totlen, isbit);
            if let Some(masks) = range.masks {
                (first_mask, last_mask) = masks;
            }
            (range.start, range.end)
        }
        0 => (0, strlen - 1),
        _ => return Err(errors::SYNTAX),
    };
    if start > end {
        return Ok(-1);
    }
    let byte_at = |i: i64| p.get(i as usize).copied().unwrap_or(0);
    let mut bytes = end - start + 1;
    let pos = 'result: {
        if first_mask != 0 {
            let mut tmp = if bit {
                byte_at(start) & !first_mask
            } else {
                byte_at(start) | first_mask
            };
            if last_mask != 0 && bytes == 1 {
                tmp = if bit {
                    tmp & !last_mask
                } else {
                    tmp | last_mask
                };
            }
            let pos = first_bit(&[tmp], bit);
            if bytes == 1 || (pos != -1 && pos != 8) {
                break 'result pos;
            }
            start += 1;
            bytes -= 1;
        }
        let curbytes = bytes - if last_mask != 0 { 1 } else { 0 };
        if curbytes > 0 {
            let s = start as usize;
            let slice = p.get(s..s + curbytes as usize).unwrap_or_default();
            let pos = first_bit(slice, bit);
            if bytes == curbytes || (pos != -1 && pos != curbytes << 3) {
                break 'result pos;
            }
            start += curbytes;
            bytes -= curbytes;
        }
        let tmp = if bit {
            byte_at(end) & !last_mask
        } else {
            byte_at(end) | last_mask
        };
        first_bit(&[tmp], bit)
    };
    // With an explicit end, the bits right of the range are not zero padding.
    if end_given && !bit && pos == bytes << 3 {
        return Ok(-1);
    }
    Ok(if pos != -1 { pos + (start << 3) } else { pos })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// The result of BITOP over `srcs` (missing keys are empty strings).
fn bitop_compute(op: BitOp, srcs: &[Vec<u8>]) -> Vec<u8> {
    let maxlen = srcs.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut res = Vec::with_capacity(maxlen);
    for j in 0..maxlen {
        let at = |s: &Vec<u8>| s.get(j).copied().unwrap_or(0);
        let mut out = srcs.first().map(at).unwrap_or(0);
        if op == BitOp::Not {
            out = !out;
        }
        for s in srcs.iter().skip(1) {
            let b = at(s);
            match op {
                BitOp::And => out &= b,
                BitOp::Or => out |= b,
                BitOp::Xor => out ^= b,
                BitOp::Not => {}
            }
        }
        res.push(out);
    }
    res
}

/// BITOP AND|OR|XOR|NOT destkey key [key ...]
fn bitop(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let op = if args::is(argv[1], "and") {
        BitOp::And
    } else if args::is(argv[1], "or") {
        BitOp::Or
    } else if args::is(argv[1], "xor") {
        BitOp::Xor
    } else if args::is(argv[1], "not") {
        BitOp::Not
    } else {
        return Err(errors::SYNTAX);
    };
    if op == BitOp::Not && argv.len() != 4 {
        return Err(RError::raw(
            "ERR BITOP NOT must be called with a single source key.",
        ));
    }
    let db = ctx.db();
    let mut srcs = Vec::with_capacity(argv.len() - 3);
    for key in &argv[3..] {
        match ctx.txn.get_read(db, key) {
            None => srcs.push(Vec::new()),
            Some(e) => srcs.push(str_ref(&e.value)?.to_vec()),
        }
    }
    let res = bitop_compute(op, &srcs);
    let len = res.len();
    let dest = argv[2];
    if len > 0 {
        ctx.txn.set(db, dest, Value::Str(StrValue::raw(res)), false);
        ctx.notify(notify::STRING, "set", dest);
    } else if ctx.txn.remove(db, dest).is_some() {
        ctx.notify(notify::GENERIC, "del", dest);
    }
    ctx.out.int(len as i64);
    Ok(())
}

// ---------------------------------------------------------------------------------
// BITFIELD

/// Overflow behaviour of BITFIELD SET/INCRBY.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overflow {
    Wrap,
    Sat,
    Fail,
}

/// Reads an unsigned field of `bits` bits at bit `offset` (zero past the end).
pub fn get_unsigned(buf: &[u8], offset: u64, bits: u32) -> u64 {
    let mut v = 0u64;
    for j in 0..bits as u64 {
        v = (v << 1) | get_bit(buf, offset + j) as u64;
    }
    v
}

/// Reads a signed (two's complement) field.
pub fn get_signed(buf: &[u8], offset: u64, bits: u32) -> i64 {
    let mut v = get_unsigned(buf, offset, bits);
    if bits < 64 && v & (1u64 << (bits - 1)) != 0 {
        v |= u64::MAX << bits;
    }
    v as i64
}

/// Writes the low `bits` bits of `value` at bit `offset`.
pub fn set_field(buf: &mut [u8], offset: u64, bits: u32, value: u64) {
    for j in 0..bits as u64 {
        let on = value & (1u64 << (bits as u64 - 1 - j)) != 0;
        put_bit(buf, offset + j, on);
    }
}

/// `checkUnsignedBitfieldOverflow`: 0 if `value + incr` fits in `bits` unsigned bits,
/// 1 on overflow, -1 on underflow, with the value to store for WRAP/SAT.
pub fn check_unsigned_overflow(
    value: u64,
    incr: i64,
    bits: u32,
    ow: Overflow,
) -> (i32, Option<u64>) {
    let max = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let maxincr = max.wrapping_sub(value) as i64;
    let minincr = (value as i64).wrapping_neg();
    let wrap = || {
        let mask = if bits >= 64 { 0 } else { u64::MAX << bits };
        value.wrapping_add(incr as u64) & !mask
    };
    if value > max || (incr > 0 && incr > maxincr) {
        let limit = match ow {
            Overflow::Wrap => Some(wrap()),
            Overflow::Sat => Some(max),
            Overflow::Fail => None,
        };
        (1, limit)
    } else if incr < 0 && incr < minincr {
        let limit = match ow {
            Overflow::Wrap => Some(wrap()),
            Overflow::Sat => Some(0),
            Overflow::Fail => None,
        };
        (-1, limit)
    } else {
        (0, None)
    }
}

/// `checkSignedBitfieldOverflow`, the signed counterpart.
pub fn check_signed_overflow(value: i64, incr: i64, bits: u32, ow: Overflow) -> (i32, Option<i64>) {
    let max: i64 = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let maxincr = (max as u64).wrapping_sub(value as u64) as i64;
    let minincr = min.wrapping_sub(value);
    let wrap = || {
        let msb = 1u64 << (bits - 1);
        let mut c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if c & msb != 0 {
                c |= mask;
            } else {
                c &= !mask;
            }
        }
        c as i64
    };
    if value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr) {
        let limit = match ow {
            Overflow::Wrap => Some(wrap()),
            Overflow::Sat => Some(max),
            Overflow::Fail => None,
        };
        (1, limit)
    } else if value < min
        || (bits != 64 && incr < minincr)
        || (value < 0 && incr < 0 && incr < minincr)
    {
        let limit = match ow {
            Overflow::Wrap => Some(wrap()),
            Overflow::Sat => Some(min),
            Overflow::Fail => None,
        };
        (-1, limit)
    } else {
        (0, None)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FieldOp {
    Get,
    Set,
    IncrBy,
}

struct BitfieldOp {
    offset: u64,
    value: i64,
    op: FieldOp,
    ow: Overflow,
    bits: u32,
    signed: bool,
}

/// `getBitfieldTypeFromArgument`: `i1`..`i64` or `u1`..`u63`.
fn bitfield_type(arg: &[u8]) -> Result<(bool, u32), RError> {
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(BITFIELD_TYPE_ERR),
    };
    // Redis reads the width as a C string: it stops at a NUL byte.
    let rest = &arg[1..];
    let rest = &rest[..rest.iter().position(|&c| c == 0).unwrap_or(rest.len())];
    let bits = parse_i64(rest).ok_or(BITFIELD_TYPE_ERR)?;
    if bits < 1 || (signed && bits > 64) || (!signed && bits > 63) {
        return Err(BITFIELD_TYPE_ERR);
    }
    Ok((signed, bits as u32))
}

fn bitfield(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    bitfield_generic(ctx, argv, false)
}

fn bitfield_ro(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    bitfield_generic(ctx, argv, true)
}

fn bitfield_generic(ctx: &mut Ctx, argv: &[&[u8]], ro_command: bool) -> CmdResult {
    let mut ops: Vec<BitfieldOp> = Vec::new();
    let mut ow = Overflow::Wrap;
    let mut readonly = true;
    let mut highest_write: u64 = 0;
    let mut j = 2;
    while j < argv.len() {
        let remargs = argv.len() - j - 1;
        let sub = argv[j];
        let op = if args::is(sub, "get") && remargs >= 2 {
            FieldOp::Get
        } else if args::is(sub, "set") && remargs >= 3 {
            FieldOp::Set
        } else if args::is(sub, "incrby") && remargs >= 3 {
            FieldOp::IncrBy
        } else if args::is(sub, "overflow") && remargs >= 1 {
            let t = argv[j + 1];
            ow = if args::is(t, "wrap") {
                Overflow::Wrap
            } else if args::is(t, "sat") {
                Overflow::Sat
            } else if args::is(t, "fail") {
                Overflow::Fail
            } else {
                return Err(RError::raw("ERR Invalid OVERFLOW type specified"));
            };
            j += 2;
            continue;
        } else {
            return Err(errors::SYNTAX);
        };
        let (signed, bits) = bitfield_type(argv[j + 1])?;
        let offset = bit_offset(ctx, argv[j + 2], bits as i64)?;
        let mut value = 0;
        if op != FieldOp::Get {
            readonly = false;
            highest_write = highest_write.max(offset + bits as u64 - 1);
            value = args::int(argv[j + 3])?;
        }
        ops.push(BitfieldOp {
            offset,
            value,
            op,
            ow,
            bits,
            signed,
        });
        j += if op == FieldOp::Get { 3 } else { 4 };
    }

    let db = ctx.db();
    let key = argv[1];
    if readonly {
        let out = &mut *ctx.out;
        match ctx.txn.get_read(db, key) {
            None => reply_gets(out, &[], &ops),
            Some(e) => str_ref(&e.value)?.with_bytes(|src| reply_gets(out, src, &ops)),
        }
        return Ok(());
    }
    if ro_command {
        return Err(RError::raw(
            "ERR BITFIELD_RO only supports the GET subcommand",
        ));
    }
    let (buf, grew) = string_for_bits(ctx, key, highest_write)?;
    // The buffer borrows the keyspace; replies are collected and written after.
    let mut replies: Vec<Option<i64>> = Vec::with_capacity(ops.len());
    let mut changes = 0u64;
    for op in &ops {
        match op.op {
            FieldOp::Get => {
                let v = if op.signed {
                    get_signed(buf, op.offset, op.bits)
                } else {
                    get_unsigned(buf, op.offset, op.bits) as i64
                };
                replies.push(Some(v));
            }
            FieldOp::Set | FieldOp::IncrBy => {
                let (old, new, ret, overflow) = if op.signed {
                    let old = get_signed(buf, op.offset, op.bits);
                    if op.op == FieldOp::IncrBy {
                        let (of, lim) = check_signed_overflow(old, op.value, op.bits, op.ow);
                        let new = lim.unwrap_or(old.wrapping_add(op.value));
                        (old as u64, new as u64, new, of != 0)
                    } else {
                        let (of, lim) = check_signed_overflow(op.value, 0, op.bits, op.ow);
                        let new = lim.unwrap_or(op.value);
                        (old as u64, new as u64, old, of != 0)
                    }
                } else {
                    let old = get_unsigned(buf, op.offset, op.bits);
                    if op.op == FieldOp::IncrBy {
                        let (of, lim) = check_unsigned_overflow(old, op.value, op.bits, op.ow);
                        let new = lim.unwrap_or(old.wrapping_add(op.value as u64));
                        (old, new, new as i64, of != 0)
                    } else {
                        let (of, lim) = check_unsigned_overflow(op.value as u64, 0, op.bits, op.ow);
                        let new = lim.unwrap_or(op.value as u64);
                        (old, new, old as i64, of != 0)
                    }
                };
                if overflow && op.ow == Overflow::Fail {
                    replies.push(None);
                } else {
                    replies.push(Some(ret));
                    set_field(buf, op.offset, op.bits, new);
                    if grew || old != new {
                        changes += 1;
                    }
                }
            }
        }
    }
    ctx.txn.dirty += changes;
    ctx.out.array(replies.len());
    for r in replies {
        match r {
            Some(v) => ctx.out.int(v),
            None => ctx.out.null(),
        }
    }
    // Redis raises the event after its replies.
    if changes > 0 {
        ctx.notify(notify::STRING, "setbit", key);
    }
    Ok(())
}

/// Replies to a BITFIELD made of GET operations only, reading from `src`.
fn reply_gets(out: &mut crate::protocol::Reply, src: &[u8], ops: &[BitfieldOp]) {
    out.array(ops.len());
    for op in ops {
        let v = if op.signed {
            get_signed(src, op.offset, op.bits)
        } else {
            get_unsigned(src, op.offset, op.bits) as i64
        };
        out.int(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    fn a(v: &[&str]) -> Vec<&'static [u8]> {
        v.iter()
            .map(|s| &*Box::leak(s.as_bytes().to_vec().into_boxed_slice()))
            .collect()
    }

    #[test]
    fn popcount_matches_bytewise() {
        let data: Vec<u8> = (0..1000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for len in [0usize, 1, 7, 8, 9, 15, 16, 17, 999, 1000] {
            for off in [0usize, 1, 3] {
                let s = &data[off.min(len)..len];
                let slow: i64 = s.iter().map(|x| x.count_ones() as i64).sum();
                assert_eq!(popcount(s), slow, "len {len} off {off}");
                assert_eq!(popcount_words(s), slow);
            }
        }
    }

    #[test]
    fn fields_round_trip() {
        let mut buf = vec![0u8; 2];
        // Redis's example: u5 value 23 at offset 7 gives 00000001|01110000.
        set_field(&mut buf, 7, 5, 23);
        assert_eq!(buf, vec![0b0000_0001, 0b0111_0000]);
        assert_eq!(get_unsigned(&buf, 7, 5), 23);
        set_field(&mut buf, 0, 8, (-3i64) as u64);
        assert_eq!(get_signed(&buf, 0, 8), -3);
        assert_eq!(get_unsigned(&buf, 0, 8), 253);
        // Reading past the end is zero padded.
        assert_eq!(get_unsigned(&buf, 12, 16), get_unsigned(&buf, 12, 4) << 12);
        let mut wide = vec![0u8; 9];
        set_field(&mut wide, 3, 64, i64::MIN as u64);
        assert_eq!(get_signed(&wide, 3, 64), i64::MIN);
    }

    #[test]
    fn overflow_rules() {
        // u8: 250 + 10 wraps to 4, saturates to 255, fails.
        assert_eq!(
            check_unsigned_overflow(250, 10, 8, Overflow::Wrap),
            (1, Some(4))
        );
        assert_eq!(
            check_unsigned_overflow(250, 10, 8, Overflow::Sat),
            (1, Some(255))
        );
        assert_eq!(
            check_unsigned_overflow(250, 10, 8, Overflow::Fail),
            (1, None)
        );
        assert_eq!(
            check_unsigned_overflow(5, -10, 8, Overflow::Sat),
            (-1, Some(0))
        );
        assert_eq!(
            check_unsigned_overflow(5, -10, 8, Overflow::Wrap),
            (-1, Some(251))
        );
        // SET u8 -1: the value is out of range (as unsigned), SAT gives the max.
        assert_eq!(
            check_unsigned_overflow(u64::MAX, 0, 8, Overflow::Sat),
            (1, Some(255))
        );
        assert_eq!(check_unsigned_overflow(10, 5, 8, Overflow::Wrap), (0, None));
        // i8: 120 + 10 wraps to -126, saturates to 127.
        assert_eq!(
            check_signed_overflow(120, 10, 8, Overflow::Wrap),
            (1, Some(-126))
        );
        assert_eq!(
            check_signed_overflow(120, 10, 8, Overflow::Sat),
            (1, Some(127))
        );
        assert_eq!(
            check_signed_overflow(-120, -10, 8, Overflow::Sat),
            (-1, Some(-128))
        );
        assert_eq!(
            check_signed_overflow(-120, -10, 8, Overflow::Wrap),
            (-1, Some(126))
        );
        assert_eq!(
            check_signed_overflow(200, 0, 8, Overflow::Wrap),
            (1, Some(-56))
        );
        // i64 edges.
        assert_eq!(
            check_signed_overflow(i64::MAX, 1, 64, Overflow::Wrap),
            (1, Some(i64::MIN))
        );
        assert_eq!(
            check_signed_overflow(i64::MIN, -1, 64, Overflow::Sat),
            (-1, Some(i64::MIN))
        );
        assert_eq!(
            check_signed_overflow(i64::MAX, -1, 64, Overflow::Fail),
            (0, None)
        );
    }

    #[test]
    fn bitpos_and_bitcount_ranges() {
        let p = [0xffu8, 0xf0, 0x00];
        assert_eq!(bitpos_range(&p, false, &[]).ok(), Some(12));
        assert_eq!(bitpos_range(&[0xff, 0xff], false, &[]).ok(), Some(16));
        assert_eq!(
            bitpos_range(&[0xff, 0xff], false, &a(&["0", "-1"])).ok(),
            Some(-1)
        );
        assert_eq!(bitpos_range(&[0, 0], true, &[]).ok(), Some(-1));
        assert_eq!(bitpos_range(&p, true, &a(&["1"])).ok(), Some(8));
        assert_eq!(bitpos_range(&p, true, &a(&["5", "6", "bit"])).ok(), Some(5));
        assert_eq!(
            bitpos_range(&p, false, &a(&["7", "13", "bit"])).ok(),
            Some(12)
        );
        assert_eq!(
            bitpos_range(&p, false, &a(&["7", "11", "bit"])).ok(),
            Some(-1)
        );
        assert_eq!(bitcount_range(&p, &[]).ok(), Some(12));
        assert_eq!(bitcount_range(&p, &a(&["1", "1"])).ok(), Some(4));
        assert_eq!(bitcount_range(&p, &a(&["5", "10", "bit"])).ok(), Some(6));
        assert_eq!(bitcount_range(&p, &a(&["-1", "-3"])).ok(), Some(0));
        assert!(bitcount_range(&p, &a(&["0"])).is_err());
    }

    #[test]
    fn bitop_results() {
        assert_eq!(bitop_compute(BitOp::And, &b(&["\u{7f}", ""])), vec![0]);
        assert_eq!(
            bitop_compute(BitOp::Or, &b(&["a", "bc"])),
            vec![b'a' | b'b', b'c']
        );
        assert_eq!(bitop_compute(BitOp::Xor, &b(&["ab", "ab"])), vec![0, 0]);
        assert_eq!(bitop_compute(BitOp::Not, &b(&["\u{0}"])), vec![0xff]);
        assert!(bitop_compute(BitOp::And, &b(&["", ""])).is_empty());
    }
}
