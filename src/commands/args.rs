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
