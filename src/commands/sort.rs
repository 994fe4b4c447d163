//! SORT and SORT_RO (Redis's `sort.c`).
//!
//! The source is a list, a set or a sorted set; its elements are ordered numerically
//! (the default) or as byte strings (`ALPHA`), by themselves or by "weights" read
//! from other keys named by a `BY` pattern, then sliced by `LIMIT`, optionally
//! replaced by `GET` lookups, and either replied or stored as a list (`STORE`).
//!
//! Behaviour kept from Redis:
//! * options are read left to right; the first bad one decides the error, before the
//!   source key is even looked up (so a syntax error beats WRONGTYPE);
//! * a `BY` pattern without `*` means "don't sort" (sticky: a later `BY` with a `*`
//!   does not undo it); lists and sorted sets then keep their own order (reversed by
//!   `DESC`) and `LIMIT` picks a range of it; a set is sorted anyway (`ALPHA`, by the
//!   elements themselves) when the result is stored, so that STORE is deterministic;
//! * numeric sorting parses values as C's `strtod` does (leading white space, hex
//!   floats, `inf`; trailing garbage, NaN, overflow and inexact underflow are
//!   errors, reported after sorting as `One or more scores can't be converted into
//!   double`); a missing weight counts as 0; equal scores are ordered by the
//!   elements' bytes, so the result is deterministic;
//! * `ALPHA` compares bytes. Without STORE, Redis uses `strcoll` on C strings: under
//!   the C / C.UTF-8 locale that is a byte comparison stopping at the first NUL (such
//!   equal elements keep their order: glibc's `qsort` is a stable merge sort); with
//!   STORE it uses a binary comparison of the whole strings. A missing `BY` weight
//!   sorts before every present one;
//! * a sorted set source is converted to the skiplist encoding, even by SORT_RO
//!   (Redis does it to iterate it), which OBJECT ENCODING shows;
//! * `GET #` is the element itself; a missing key (or a key of another type, or a
//!   missing hash field) gives nil, or an empty string in a stored list;
//! * patterns are read as C strings where Redis reads them so (the `*` and the `->`
//!   must come before any NUL byte);
//! * with `BY` and a `LIMIT` that does not cover everything, Redis uses its own
//!   partial quicksort, which is not stable: elements with equal `ALPHA` weights come
//!   out in the order its swaps leave them, so Ferrodis runs the same algorithm
//!   ([`partial_sort`]); otherwise the sort is stable, as glibc's `qsort` (a merge
//!   sort) is.
//!
//! Not reproduced: Redis does not clear `errno` before `strtod`, so after one
//! out-of-range weight, later numeric SORTs of non-integer strings on the same server
//! thread fail too until an unrelated system call changes `errno`. Ferrodis judges
//! each value on its own.
//!
//! SORT reads keys named by BY/GET patterns and writes its STORE key, none of which
//! are in its key spec, so it locks the whole current database.

use std::cmp::Ordering;

use super::{args, errors, flags::*, CmdResult, Command, Ctx, Lock, RError};
use crate::keyspace::Txn;
use crate::types::{ListValue, Value};

crate::commands! { pub static COMMANDS = [
    Command::new("sort", -2, WRITE | DENYOOM | MOVABLE_KEYS, sort)
        .keys(1, 1, 1)
        .getkeys(sort_keys)
        .lock(Lock::Db)
        .acl(&["write", "set", "sortedset", "list", "slow", "dangerous"]),
    Command::new("sort_ro", -2, READONLY | MOVABLE_KEYS, sort_ro)
        .keys(1, 1, 1)
        .getkeys(sort_ro_keys)
        .lock(Lock::Db)
        .acl(&["read", "set", "sortedset", "list", "slow", "dangerous"]),
]; }

/// SORT's keys as Redis's `sortGetKeys` finds them: the source, then the argument
/// after the last `STORE` (options are skipped with their arguments: `LIMIT` 2,
/// `GET`/`BY` 1; `STORE` itself skips nothing, as in Redis).
fn sort_keys(argv: &[&[u8]]) -> Vec<usize> {
    let mut keys = vec![1];
    let mut store = None;
    let mut i = 2;
    while i < argv.len() {
        let a = argv[i];
        if kw(a, "limit") {
            i += 2;
        } else if kw(a, "store") && i + 1 < argv.len() {
            store = Some(i + 1);
        } else if kw(a, "get") || kw(a, "by") {
            i += 1;
        }
        i += 1;
    }
    keys.extend(store);
    keys
}

/// SORT_RO's only declared key: the source.
fn sort_ro_keys(_argv: &[&[u8]]) -> Vec<usize> {
    vec![1]
}

fn sort(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    sort_generic(ctx, argv, false)
}

fn sort_ro(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    sort_generic(ctx, argv, true)
}

/// The parsed options.
struct Opts<'a> {
    desc: bool,
    alpha: bool,
    limit_start: i64,
    limit_count: i64,
    by: Option<&'a [u8]>,
    dontsort: bool,
    gets: Vec<&'a [u8]>,
    store: Option<&'a [u8]>,
}

/// The part of `b` a C function sees: up to the first NUL byte.
fn cstr(b: &[u8]) -> &[u8] {
    match b.iter().position(|&c| c == 0) {
        Some(i) => &b[..i],
        None => b,
    }
}

/// An option keyword, compared as Redis's `strcasecmp` does (up to a NUL byte).
fn kw(arg: &[u8], name: &str) -> bool {
    args::is(cstr(arg), name)
}

fn parse_opts<'a>(argv: &[&'a [u8]], readonly: bool) -> Result<Opts<'a>, RError> {
    let mut o = Opts {
        desc: false,
        alpha: false,
        limit_start: 0,
        limit_count: -1,
        by: None,
        dontsort: false,
        gets: Vec::new(),
        store: None,
    };
    let mut j = 2;
    while j < argv.len() {
        let left = argv.len() - j - 1;
        let a = argv[j];
        if kw(a, "asc") {
            o.desc = false;
        } else if kw(a, "desc") {
            o.desc = true;
        } else if kw(a, "alpha") {
            o.alpha = true;
        } else if kw(a, "limit") && left >= 2 {
            o.limit_start = args::int(argv[j + 1])?;
            o.limit_count = args::int(argv[j + 2])?;
            j += 2;
        } else if !readonly && kw(a, "store") && left >= 1 {
            o.store = Some(argv[j + 1]);
            j += 1;
        } else if kw(a, "by") && left >= 1 {
            let p = argv[j + 1];
            o.by = Some(p);
            if !cstr(p).contains(&b'*') {
                o.dontsort = true;
            }
            j += 1;
        } else if kw(a, "get") && left >= 1 {
            o.gets.push(argv[j + 1]);
            j += 1;
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    Ok(o)
}

/// What a BY/GET pattern names for element `subst` (Redis's `lookupKeyByPattern`):
/// `#` is the element; otherwise the first `*` is replaced by the element and the
/// key read as a string, or, with `->field` after the `*`, as a hash field. None for
/// a pattern without `*`, a missing key or field, or a value of another type.
fn lookup_pattern(txn: &mut Txn, db: usize, pattern: &[u8], subst: &[u8]) -> Option<Vec<u8>> {
    let c = cstr(pattern);
    if c == b"#" {
        return Some(subst.to_vec());
    }
    let star = c.iter().position(|&b| b == b'*')?;
    // `->` after the `*`, with at least one byte (before any NUL) after it.
    let arrow = c[star + 1..]
        .windows(2)
        .position(|w| w == b"->")
        .map(|i| star + 1 + i)
        .filter(|&f| f + 2 < c.len());
    let (key_tail_end, field) = match arrow {
        Some(f) => (f, Some(&pattern[f + 2..])),
        None => (pattern.len(), None),
    };
    let mut key = Vec::with_capacity(pattern.len() + subst.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(subst);
    key.extend_from_slice(&pattern[star + 1..key_tail_end]);

    let now = txn.now;
    let e = txn.get_read(db, &key)?;
    if matches!((field, &e.value), (Some(_), Value::Hash(h)) if h.has_expired(now)) {
        txn.preserve(db, &key);
    }
    let e = txn.peek_mut(db, &key)?;
    // Expired hash fields are deleted on access (`hexpired`, then `del` for a hash
    // left empty, as Redis 7.4's lazy field expiry).
    let (found, purged, emptied) = match (field, &mut e.value) {
        (None, Value::Str(s)) => (Some(s.to_vec()), false, false),
        (Some(f), Value::Hash(h)) => {
            let purged = h.has_expired(now);
            if purged {
                h.purge_expired(now, usize::MAX);
            }
            (h.get(f).map(<[u8]>::to_vec), purged, h.is_empty())
        }
        _ => (None, false, false),
    };
    if purged {
        txn.notify(crate::config::notify::HASH, "hexpired", db, &key);
        if emptied {
            txn.remove(db, &key);
            txn.notify(crate::config::notify::GENERIC, "del", db, &key);
        }
    }
    found
}

/// The value C's `strtod` gives for the whole of `s` (read as a C string), or None
/// where SORT reports a conversion error: nothing parsed, trailing bytes, NaN, a
/// result out of range (`ERANGE`: overflow, or an inexact result below the smallest
/// normal double).
pub fn strtod(s: &[u8]) -> Option<f64> {
    let s = cstr(s);
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let start = i;
    if i == s.len() {
        // Nothing to convert: strtod leaves the end pointer at the start, which is
        // the terminating NUL only for an empty string (whose value is 0).
        return if start == 0 { Some(0.0) } else { None };
    }
    let neg = s[i] == b'-';
    if matches!(s[i], b'+' | b'-') {
        i += 1;
    }
    let rest = &s[i..];
    let lower = rest.to_ascii_lowercase();
    if lower == b"inf" || lower == b"infinity" {
        return Some(if neg {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    let v = if lower.starts_with(b"0x") {
        parse_hex(&rest[2..])?
    } else {
        parse_dec(rest)?
    };
    Some(if neg { -v } else { v })
}

/// A decimal number `digits[.digits][e[sign]digits]` (at least one mantissa digit)
/// with nothing after it.
fn parse_dec(s: &[u8]) -> Option<f64> {
    let mut i = 0;
    let mut mant_digits = 0;
    let mut nonzero = false;
    while i < s.len() && s[i].is_ascii_digit() {
        nonzero |= s[i] != b'0';
        mant_digits += 1;
        i += 1;
    }
    if i < s.len() && s[i] == b'.' {
        i += 1;
        while i < s.len() && s[i].is_ascii_digit() {
            nonzero |= s[i] != b'0';
            mant_digits += 1;
            i += 1;
        }
    }
    if mant_digits == 0 {
        return None;
    }
    if i < s.len() && (s[i] == b'e' || s[i] == b'E') {
        let mut k = i + 1;
        if k < s.len() && (s[k] == b'+' || s[k] == b'-') {
            k += 1;
        }
        let digits_start = k;
        while k < s.len() && s[k].is_ascii_digit() {
            k += 1;
        }
        if k == digits_start {
            // "1e" / "1e+": strtod stops before the `e`, leaving bytes behind.
            return None;
        }
        i = k;
    }
    if i != s.len() {
        return None;
    }
    let text = std::str::from_utf8(s).ok()?;
    let v: f64 = text.parse().ok()?;
    if v.is_infinite() {
        return None;
    }
    if nonzero && v.abs() <= f64::MIN_POSITIVE && below_min_normal(s) {
        return None;
    }
    Some(v)
}

/// Whether the (non-zero, valid) decimal `s` underflows for glibc's strtod (ERANGE):
/// its value, rounded to 53 bits with an unbounded exponent, is below the smallest
/// normal double 2^-1022 ("tininess after rounding"); that is, it is below the
/// midpoint (2^54 - 1) * 2^-1076 between 2^-1022 and the 53-bit number under it
/// (a tie rounds to the even 2^-1022). Compared exactly, digit by digit.
fn below_min_normal(s: &[u8]) -> bool {
    // value = 0.d1d2d3... * 10^e10 with d1 != 0.
    let (mant, exp_part) = match s.iter().position(|&c| c == b'e' || c == b'E') {
        Some(p) => (&s[..p], &s[p + 1..]),
        None => (s, &s[..0]),
    };
    // The exponent, saturated far beyond the range of doubles.
    let (eneg, edigits) = match exp_part.first() {
        Some(b'-') => (true, &exp_part[1..]),
        Some(b'+') => (false, &exp_part[1..]),
        _ => (false, exp_part),
    };
    let mut e10: i64 = 0;
    for &c in edigits {
        e10 = (e10 * 10 + i64::from(c - b'0')).min(1 << 40);
    }
    if eneg {
        e10 = -e10;
    }
    let int_len = mant.iter().position(|&c| c == b'.').unwrap_or(mant.len());
    let digits: Vec<u8> = mant
        .iter()
        .filter(|c| c.is_ascii_digit())
        .map(|c| c - b'0')
        .collect();
    let Some(first) = digits.iter().position(|&d| d != 0) else {
        return false;
    };
    let last = digits.iter().rposition(|&d| d != 0).unwrap_or(first);
    // Each leading zero digit (of the integer or fractional part) lowers the exponent.
    e10 += int_len as i64 - first as i64;
    let (min_digits, min_exp) = tiny_threshold();
    match e10.cmp(min_exp) {
        Ordering::Less => true,
        Ordering::Greater => false,
        Ordering::Equal => digits[first..=last] < min_digits[..],
    }
}

/// The decimal digits (without trailing zeros) of (2^54 - 1) * 2^-1076 =
/// (2^54 - 1) * 5^1076 / 10^1076, and the exponent `e` such that it equals
/// 0.d1d2... * 10^e. Computed once.
fn tiny_threshold() -> &'static (Vec<u8>, i64) {
    static DIGITS: std::sync::OnceLock<(Vec<u8>, i64)> = std::sync::OnceLock::new();
    DIGITS.get_or_init(|| {
        let mut p = vec![1u8]; // little-endian decimal digits
        let mul = |p: &mut Vec<u8>, m: u64| {
            let mut carry: u128 = 0;
            for d in p.iter_mut() {
                let x = u128::from(*d) * u128::from(m) + carry;
                *d = (x % 10) as u8;
                carry = x / 10;
            }
            while carry > 0 {
                p.push((carry % 10) as u8);
                carry /= 10;
            }
        };
        for _ in 0..1076 {
            mul(&mut p, 5);
        }
        mul(&mut p, (1u64 << 54) - 1);
        let e = p.len() as i64 - 1076;
        p.reverse();
        while p.last() == Some(&0) {
            p.pop();
        }
        (p, e)
    })
}

/// A hexadecimal float after its `0x`: `hex[.hex][p[sign]digits]`, at least one hex
/// digit, nothing after it.
fn parse_hex(s: &[u8]) -> Option<f64> {
    let mut i = 0;
    let mut mant: u128 = 0;
    let mut sticky = false;
    let mut bin_exp: i64 = 0;
    let mut ndigits = 0;
    let mut push = |d: u8, frac: bool, mant: &mut u128, bin_exp: &mut i64| {
        if *mant >> 120 == 0 {
            *mant = (*mant << 4) | u128::from(d);
            if frac {
                *bin_exp -= 4;
            }
        } else {
            sticky |= d != 0;
            if !frac {
                *bin_exp += 4;
            }
        }
    };
    while i < s.len() && s[i].is_ascii_hexdigit() {
        push(hexval(s[i]), false, &mut mant, &mut bin_exp);
        ndigits += 1;
        i += 1;
    }
    if i < s.len() && s[i] == b'.' {
        i += 1;
        while i < s.len() && s[i].is_ascii_hexdigit() {
            push(hexval(s[i]), true, &mut mant, &mut bin_exp);
            ndigits += 1;
            i += 1;
        }
    }
    if ndigits == 0 {
        return None;
    }
    if i < s.len() && (s[i] == b'p' || s[i] == b'P') {
        let mut k = i + 1;
        let eneg = k < s.len() && s[k] == b'-';
        if k < s.len() && (s[k] == b'+' || s[k] == b'-') {
            k += 1;
        }
        let digits_start = k;
        let mut e: i64 = 0;
        while k < s.len() && s[k].is_ascii_digit() {
            e = (e * 10 + i64::from(s[k] - b'0')).min(1 << 40);
            k += 1;
        }
        if k == digits_start {
            return None;
        }
        bin_exp += if eneg { -e } else { e };
        i = k;
    }
    if i != s.len() {
        return None;
    }
    if mant == 0 {
        return Some(0.0);
    }
    // Normalize: value = mant * 2^bin_exp, mant odd (unless digits were dropped:
    // then mant keeps its 120+ bits so the sticky bit stays below all of them).
    if !sticky {
        let tz = mant.trailing_zeros();
        mant >>= tz;
        bin_exp += i64::from(tz);
    }
    let bits = 128 - i64::from(mant.leading_zeros());
    let top = bits + bin_exp; // value in [2^(top-1), 2^top)
    if top > 1024 {
        return None;
    }
    let exact = !sticky && bits <= 53 && bin_exp >= -1074;
    // Tininess after rounding to 53 bits with an unbounded exponent, as glibc: a
    // mantissa that rounds up to the next power of two moves the value up a binade.
    let mut rtop = top;
    if bits > 53 {
        let shift = (bits - 53) as u32;
        let kept = mant >> shift;
        let rem = mant & ((1u128 << shift) - 1);
        let half = 1u128 << (shift - 1);
        let up = rem > half || (rem == half && (sticky || kept & 1 == 1));
        if up && kept + 1 == 1u128 << 53 {
            rtop += 1;
        }
    }
    if rtop - 1 < -1022 && !exact {
        // Tiny and inexact: ERANGE.
        return None;
    }
    // Round to 53 bits (the sticky bit below the rounding position keeps ties right).
    let m = if sticky { mant << 1 | 1 } else { mant };
    let e = if sticky { bin_exp - 1 } else { bin_exp };
    let v = ldexp(m as f64, e);
    if v.is_infinite() {
        return None;
    }
    Some(v)
}

fn hexval(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c.wrapping_sub(b'A').wrapping_add(10),
    }
}

/// `x * 2^e` in steps that stay exact whenever the result is representable.
fn ldexp(mut x: f64, mut e: i64) -> f64 {
    let up = f64::from_bits(((1023 + 1000) as u64) << 52); // 2^1000
    let down = f64::from_bits(((1023 - 1000) as u64) << 52); // 2^-1000
    while e > 1000 {
        x *= up;
        e -= 1000;
    }
    while e < -1000 {
        x *= down;
        e += 1000;
    }
    x * f64::from_bits(((1023 + e) as u64) << 52)
}

/// Redis's partial quicksort (`pqsort`, Bentley & McIlroy's quicksort that only
/// descends into partitions overlapping ranks `lo..=hi`), used for SORT with BY and a
/// LIMIT. Reproduced step by step because it is not stable: elements with equal
/// weights come out in the order its swaps leave them, which clients can see.
fn partial_sort<T>(
    v: &mut [T],
    mut a: usize,
    mut n: usize,
    lo: usize,
    hi: usize,
    cmp: &impl Fn(&T, &T) -> Ordering,
) {
    // Whether the subarray a..a+len lies entirely outside the wanted ranks.
    let outside = |a: usize, len: usize| (lo < a && hi < a) || (lo >= a + len && hi >= a + len);
    loop {
        if n < 7 {
            insertion_sort(v, a, n, cmp);
            return;
        }
        let mut pm = a + n / 2;
        if n > 7 {
            let mut pl = a;
            let mut pn = a + n - 1;
            if n > 40 {
                let d = n / 8;
                pl = med3(v, pl, pl + d, pl + 2 * d, cmp);
                pm = med3(v, pm - d, pm, pm + d, cmp);
                pn = med3(v, pn - 2 * d, pn - d, pn, cmp);
            }
            pm = med3(v, pl, pm, pn, cmp);
        }
        v.swap(a, pm);
        let (mut pa, mut pb) = (a + 1, a + 1);
        let (mut pc, mut pd) = (a + n - 1, a + n - 1);
        let mut swapped = false;
        loop {
            while pb <= pc {
                match cmp(&v[pb], &v[a]) {
                    Ordering::Greater => break,
                    Ordering::Equal => {
                        swapped = true;
                        v.swap(pa, pb);
                        pa += 1;
                    }
                    Ordering::Less => {}
                }
                pb += 1;
            }
            while pb <= pc {
                match cmp(&v[pc], &v[a]) {
                    Ordering::Less => break,
                    Ordering::Equal => {
                        swapped = true;
                        v.swap(pc, pd);
                        pd -= 1;
                    }
                    Ordering::Greater => {}
                }
                pc -= 1;
            }
            if pb > pc {
                break;
            }
            v.swap(pb, pc);
            swapped = true;
            pb += 1;
            pc -= 1;
        }
        if !swapped {
            insertion_sort(v, a, n, cmp);
            return;
        }
        let pn = a + n;
        let r = (pa - a).min(pb - pa);
        swap_blocks(v, a, pb - r, r);
        let r = (pd - pc).min(pn - pd - 1);
        swap_blocks(v, pb, pn - r, r);
        let r = pb - pa;
        if r > 1 && !outside(a, r) {
            partial_sort(v, a, r, lo, hi, cmp);
        }
        let r = pd - pc;
        if r > 1 {
            a = pn - r;
            n = r;
            if !outside(a, n) {
                continue;
            }
        }
        return;
    }
}

fn insertion_sort<T>(v: &mut [T], a: usize, n: usize, cmp: &impl Fn(&T, &T) -> Ordering) {
    for pm in a + 1..a + n {
        let mut pl = pm;
        while pl > a && cmp(&v[pl - 1], &v[pl]) == Ordering::Greater {
            v.swap(pl, pl - 1);
            pl -= 1;
        }
    }
}

fn med3<T>(v: &[T], a: usize, b: usize, c: usize, cmp: &impl Fn(&T, &T) -> Ordering) -> usize {
    if cmp(&v[a], &v[b]) == Ordering::Less {
        if cmp(&v[b], &v[c]) == Ordering::Less {
            b
        } else if cmp(&v[a], &v[c]) == Ordering::Less {
            c
        } else {
            a
        }
    } else if cmp(&v[b], &v[c]) == Ordering::Greater {
        b
    } else if cmp(&v[a], &v[c]) == Ordering::Less {
        a
    } else {
        c
    }
}

/// Swaps `n` elements pairwise: `i+k` with `j+k`, in increasing `k`.
fn swap_blocks<T>(v: &mut [T], i: usize, j: usize, n: usize) {
    for k in 0..n {
        v.swap(i + k, j + k);
    }
}

/// One element being sorted, with its numeric weight or its ALPHA `BY` weight.
struct Item {
    obj: Vec<u8>,
    score: f64,
    cmp: Option<Vec<u8>>,
}

fn compare(a: &Item, b: &Item, o: &Opts, store: bool) -> Ordering {
    let c = if !o.alpha {
        match a.score.partial_cmp(&b.score) {
            Some(Ordering::Equal) | None => a.obj.cmp(&b.obj),
            Some(c) => c,
        }
    } else if o.by.is_some() {
        match (&a.cmp, &b.cmp) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => {
                if store {
                    x.cmp(y)
                } else {
                    cstr(x).cmp(cstr(y))
                }
            }
        }
    } else if store {
        a.obj.cmp(&b.obj)
    } else {
        cstr(&a.obj).cmp(cstr(&b.obj))
    };
    if o.desc {
        c.reverse()
    } else {
        c
    }
}

fn sort_generic(ctx: &mut Ctx, argv: &[&[u8]], readonly: bool) -> CmdResult {
    let mut o = parse_opts(argv, readonly)?;
    super::acl::check_sort_patterns(ctx, argv)?;
    let db = ctx.db();

    // The source: a list, set or sorted set (a missing key is an empty list).
    enum Kind {
        List,
        Set,
        ZSet,
    }
    let kind = match ctx.txn.get_read_mut(db, argv[1]).map(|e| &mut e.value) {
        None => None,
        Some(Value::List(_)) => Some(Kind::List),
        Some(Value::Set(_)) => Some(Kind::Set),
        Some(Value::ZSet(z)) => {
            // Redis converts the sorted set to iterate it (visible in OBJECT ENCODING).
            z.convert_to_skiplist();
            Some(Kind::ZSet)
        }
        Some(_) => return Err(errors::WRONGTYPE),
    };

    // A set in no particular order is sorted anyway when stored or when called from a
    // script, for determinism (Redis: storekey || CLIENT_SCRIPT). A client runs a script
    // when blocking is denied to it while the script clock runs.
    let in_script = ctx.client.deny_blocking
        && ctx
            .srv
            .script_state
            .started_ms
            .load(std::sync::atomic::Ordering::SeqCst)
            != 0;
    if o.dontsort && matches!(kind, Some(Kind::Set)) && (o.store.is_some() || in_script) {
        o.dontsort = false;
        o.alpha = true;
        o.by = None;
    }

    let src_len = match ctx.txn.peek(db, argv[1]).map(|e| &e.value) {
        Some(Value::List(l)) => l.len(),
        Some(Value::Set(s)) => s.len(),
        Some(Value::ZSet(z)) => z.len(),
        _ => 0,
    } as i64;

    // LIMIT, clamped as Redis does.
    let mut vectorlen = src_len;
    let mut start = o.limit_start.clamp(0, vectorlen);
    let count = o.limit_count.clamp(-1, vectorlen);
    let mut end = if count < 0 {
        vectorlen - 1
    } else {
        start + count - 1
    };
    if start >= vectorlen {
        start = vectorlen - 1;
        end = vectorlen - 2;
    }
    if end >= vectorlen {
        end = vectorlen - 1;
    }

    let ordered_source = matches!(kind, Some(Kind::List) | Some(Kind::ZSet));
    if ordered_source && o.dontsort && (start != 0 || end != vectorlen - 1) {
        vectorlen = end - start + 1;
    }

    // Load the elements.
    let mut items: Vec<Item> = Vec::with_capacity(vectorlen.max(0) as usize);
    let item = |obj: Vec<u8>| Item {
        obj,
        score: 0.0,
        cmp: None,
    };
    match ctx.txn.peek(db, argv[1]).map(|e| &e.value) {
        // An empty LIMIT range of an unsorted list: nothing to load.
        Some(Value::List(_)) if o.dontsort && end < start => {}
        Some(Value::List(l)) if o.dontsort => {
            let n = vectorlen.max(0) as usize;
            let s = start as usize;
            if o.desc {
                items.extend(l.iter_rev().skip(s).take(n).map(|v| item(v.to_vec())));
            } else {
                items.extend(l.iter_from(s).take(n).map(|v| item(v.to_vec())));
            }
            end -= start;
            start = 0;
        }
        Some(Value::List(l)) => items.extend(l.iter().map(|v| item(v.to_vec()))),
        Some(Value::Set(s)) => s.for_each(|m| items.push(item(m.to_vec()))),
        Some(Value::ZSet(z)) if o.dontsort => {
            let n = vectorlen.max(0) as usize;
            let len = z.len();
            let s = start.max(0) as usize;
            if o.desc {
                // Ranks len-1-s downwards.
                let hi = len.saturating_sub(s);
                let lo = hi.saturating_sub(n);
                z.for_each_in(lo, hi, true, |m, _| items.push(item(m.to_vec())));
            } else {
                z.for_each_in(s, s + n, false, |m, _| items.push(item(m.to_vec())));
            }
            end -= start;
            start = 0;
        }
        Some(Value::ZSet(z)) => z.for_each(|m, _| items.push(item(m.to_vec()))),
        _ => {}
    }

    // Weights, then sort.
    let mut conversion_error = false;
    if !o.dontsort {
        for it in items.iter_mut() {
            let byval = match o.by {
                Some(p) => match lookup_pattern(ctx.txn, db, p, &it.obj) {
                    Some(v) => Some(v),
                    None => continue,
                },
                None => None,
            };
            if o.alpha {
                if o.by.is_some() {
                    it.cmp = byval;
                }
            } else {
                let v = byval.as_deref().unwrap_or(&it.obj);
                match strtod(v) {
                    Some(s) => it.score = s,
                    None => conversion_error = true,
                }
            }
        }
        if !conversion_error && end >= start {
            let store = o.store.is_some();
            let cmp = |a: &Item, b: &Item| compare(a, b, &o, store);
            if o.by.is_some() && (start != 0 || end != vectorlen - 1) {
                let n = items.len();
                partial_sort(&mut items, 0, n, start as usize, end as usize, &cmp);
            } else {
                // glibc's qsort is a (stable) merge sort, as is this.
                items.sort_by(cmp);
            }
        }
    }

    let span = if end >= start { end - start + 1 } else { 0 };
    let outputlen = if o.gets.is_empty() {
        span
    } else {
        o.gets.len() as i64 * span
    } as usize;
    if conversion_error {
        return Err(RError::raw(
            "ERR One or more scores can't be converted into double",
        ));
    }
    let range = if span > 0 {
        items.get(start as usize..=end as usize).unwrap_or_default()
    } else {
        &[]
    };

    match o.store {
        None => {
            ctx.out.array(outputlen);
            for it in range {
                if o.gets.is_empty() {
                    ctx.out.bulk(&it.obj);
                }
                for g in &o.gets {
                    // Redis looks GET keys up while replying: their events (keymiss,
                    // expired) fall between the elements.
                    ctx.events_after_reply();
                    match lookup_pattern(ctx.txn, db, g, &it.obj) {
                        Some(v) => ctx.out.bulk(&v),
                        None => ctx.out.null(),
                    }
                }
            }
        }
        Some(dst) => {
            let fill = super::list::fill(ctx);
            let mut list = ListValue::new();
            for it in range {
                if o.gets.is_empty() {
                    list.push_back(&it.obj, fill);
                }
                for g in &o.gets {
                    let v = lookup_pattern(ctx.txn, db, g, &it.obj).unwrap_or_default();
                    list.push_back(&v, fill);
                }
            }
            if outputlen > 0 {
                ctx.txn.set(db, dst, Value::List(Box::new(list)), false);
                ctx.txn.dirty += outputlen as u64 - 1;
                ctx.notify(crate::config::notify::LIST, "sortstore", dst);
            } else if ctx.txn.remove(db, dst).is_some() {
                ctx.notify(crate::config::notify::GENERIC, "del", dst);
            }
            ctx.out.int(outputlen as i64);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtod_like_glibc() {
        assert_eq!(strtod(b""), Some(0.0));
        assert_eq!(strtod(b" "), None);
        assert_eq!(strtod(b" \t1.5"), Some(1.5));
        assert_eq!(strtod(b"1 "), None);
        assert_eq!(strtod(b"1\0junk"), Some(1.0));
        assert_eq!(strtod(b"0x10"), Some(16.0));
        assert_eq!(strtod(b"0X1.8P1"), Some(3.0));
        assert_eq!(strtod(b"0x.8"), Some(0.5));
        assert_eq!(strtod(b"0x"), None);
        assert_eq!(strtod(b"0x1p"), None);
        assert_eq!(strtod(b"0x.p1"), None);
        assert_eq!(strtod(b"0x1p-1074"), Some(f64::from_bits(1)));
        assert_eq!(strtod(b"0x1.fffffffffffff8p1023"), None);
        assert_eq!(strtod(b"-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(strtod(b"infinit"), None);
        assert_eq!(strtod(b"nan"), None);
        assert_eq!(strtod(b"1e400"), None);
        assert_eq!(strtod(b"1e-310"), None);
        assert_eq!(strtod(b"1e-400"), None);
        assert_eq!(strtod(b"0e-400"), Some(0.0));
        assert_eq!(strtod(b"2.2250738585072012e-308"), None);
        assert_eq!(strtod(b"2.2250738585072014e-308"), Some(f64::MIN_POSITIVE));
        assert_eq!(strtod(b"2.2250738585072013e-308"), Some(f64::MIN_POSITIVE));
        assert_eq!(strtod(b"2.2250738585072011e-308"), None);
        assert_eq!(strtod(b"-2.2250738585072012e-308"), None);
        let below = b"2.2250738585072013830902327173324040642192159804623318305e-308";
        assert_eq!(strtod(below), Some(f64::MIN_POSITIVE));
        assert_eq!(
            strtod(b"0.000022250738585072014e-303"),
            Some(f64::MIN_POSITIVE)
        );
        assert_eq!(
            strtod(b"0x0.fffffffffffffffffffffp-1022"),
            Some(f64::MIN_POSITIVE)
        );
        // Exact subnormal: in range.
        assert!(strtod(b"0x0.fffffffffffffp-1022").is_some());
        assert_eq!(strtod(b"0x0.fffffffffffff8p-1022"), None);
        assert_eq!(strtod(b"0x0.fffffffffffffcp-1022"), Some(f64::MIN_POSITIVE));
        assert_eq!(strtod(b"0x1.fffffffffffffp-1023"), None);
        assert_eq!(strtod(b"0x1.fffffffffffff8p-1023"), Some(f64::MIN_POSITIVE));
        assert_eq!(strtod(b"0x1.fffffffffffff7p-1023"), None);
        assert_eq!(
            strtod(b"0x1.0000000000000000000000000000001p-1022"),
            Some(f64::MIN_POSITIVE)
        );
        assert_eq!(strtod(b"+.5"), Some(0.5));
        assert_eq!(strtod(b"5."), Some(5.0));
        assert_eq!(strtod(b"."), None);
        assert_eq!(strtod(b"1e"), None);
        assert_eq!(strtod(b"1e+"), None);
        assert_eq!(strtod(b"1_0"), None);
    }

    #[test]
    fn getkeys_like_redis() {
        let a = |s: &str| -> Vec<usize> {
            let v: Vec<&[u8]> = s.split(' ').map(str::as_bytes).collect();
            sort_keys(&v)
        };
        assert_eq!(a("sort a store b"), vec![1, 3]);
        assert_eq!(a("sort a limit store x store b"), vec![1, 6]);
        assert_eq!(a("sort a store"), vec![1]);
        assert_eq!(a("sort a store b store c"), vec![1, 5]);
        assert_eq!(a("sort a get store b"), vec![1]);
        assert_eq!(a("sort a store limit 0 1"), vec![1, 3]);
    }
}
