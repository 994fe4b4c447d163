//! Argument helpers with Redis's error texts.

use super::{errors, RError};
use crate::util::num::{parse_f64, parse_i64};

/// Case-insensitive comparison of an argument with an ASCII keyword.
#[inline]
pub fn is(arg: &[u8], kw: &str) -> bool {
    arg.eq_ignore_ascii_case(kw.as_bytes())
}

/// An integer argument (`ERR value is not an integer or out of range`).
pub fn int(arg: &[u8]) -> Result<i64, RError> {
    parse_i64(arg).ok_or(errors::NOT_INT)
}

/// A float argument (`ERR value is not a valid float`).
pub fn float(arg: &[u8]) -> Result<f64, RError> {
    parse_f64(arg).ok_or(errors::NOT_FLOAT)
}

/// A database index argument, checked against the number of databases.
pub fn db_index(arg: &[u8], databases: usize) -> Result<usize, RError> {
    let n = parse_i64(arg).ok_or(errors::NOT_INT)?;
    if n < 0 || n as usize >= databases {
        return Err(errors::DB_RANGE);
    }
    Ok(n as usize)
}

/// Lossy text of an argument for error messages.
pub fn text(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).into_owned()
}

/// Parses a SCAN cursor as Redis does with `strtoul`: optional sign (a negative number
/// wraps around), no leading space, nothing after the digits (the argument is read as a
/// C string, so it ends at a NUL byte), an empty string is 0.
pub fn parse_cursor(arg: &[u8]) -> Option<u64> {
    let invalid = None;
    if arg
        .first()
        .is_some_and(|c| c.is_ascii_whitespace() || *c == 0x0b)
    {
        return invalid;
    }
    let s = arg.split(|&b| b == 0).next().unwrap_or_default();
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        // strtoul parsed nothing: the end pointer is the start of the string, valid
        // only if the string itself is empty.
        return if s.is_empty() { Some(0) } else { invalid };
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return invalid;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// A SCAN/HSCAN/SSCAN/ZSCAN cursor argument (`ERR invalid cursor`).
pub fn scan_cursor(arg: &[u8]) -> Result<u64, RError> {
    parse_cursor(arg).ok_or(RError::raw("ERR invalid cursor"))
}

/// The `[MATCH pattern] [COUNT count]` options of SSCAN and ZSCAN, with Redis's errors
/// (`ERR syntax error` for unknown options, a missing value or COUNT < 1). Returns the
/// count (default 10) and the pattern (`None` for no pattern or `*`).
pub fn scan_options<'a>(opts: &[&'a [u8]]) -> Result<(i64, Option<&'a [u8]>), RError> {
    let mut count: i64 = 10;
    let mut pattern = None;
    let mut i = 0;
    while i < opts.len() {
        let value = opts.get(i + 1).ok_or(errors::SYNTAX)?;
        if is(opts[i], "count") {
            count = int(value)?;
            if count < 1 {
                return Err(errors::SYNTAX);
            }
        } else if is(opts[i], "match") {
            pattern = if *value == b"*" { None } else { Some(*value) };
        } else {
            return Err(errors::SYNTAX);
        }
        i += 2;
    }
    Ok((count, pattern))
}

/// A blocking command's timeout in seconds (float; 0 = forever), as Redis's
/// `getTimeoutFromObjectOrReply`: parsed as a `long double`, multiplied by 1000 and
/// rounded up. Returns the absolute deadline in Unix ms, 0 for "wait forever".
pub fn timeout(arg: &[u8], now_ms: u64) -> Result<u64, RError> {
    use crate::util::longdouble::LongDouble;
    let ld =
        LongDouble::parse(arg).ok_or(RError::raw("ERR timeout is not a float or out of range"))?;
    // An out-of-range conversion yields LLONG_MIN in C, hence "negative".
    let ms = ld.mul_ceil_i64(1000).unwrap_or(i64::MIN);
    if ms < 0 {
        return Err(RError::raw("ERR timeout is negative"));
    }
    Ok(if ms == 0 {
        0
    } else {
        now_ms.saturating_add(ms as u64)
    })
}
