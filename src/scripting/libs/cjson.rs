//! `cjson`: Lua CJSON 2.1.0 as bundled by Redis 7.0. Encoding formats numbers with
//! `%.14g` (configurable precision), escapes `"`, `\`, `/`, control characters and DEL,
//! turns tables whose keys are all positive integers into arrays (unless excessively
//! sparse) and everything else into objects, and limits nesting to 1000; decoding maps
//! `null` to `cjson.null` (a NULL light userdata) and reports errors with the same
//! messages and character positions. Each module table (the global one and each made
//! by `cjson.new()`) has its own configuration, shared by its functions as an upvalue,
//! and kept between scripts as in Redis.

use std::ffi::CStr;
use std::os::raw::c_int;

use mlua::ffi;
use mlua::lua_State;

use super::{c_f64_to_i32, check_bytes, check_integer, finish, msg, push_bytes, LibErr, LibResult};
use crate::util::num::fmt_g;

/// One module table's settings (stored in a userdata, upvalue 1 of its functions).
#[derive(Clone, Copy)]
#[repr(C)]
struct Config {
    encode_sparse_convert: i32,
    encode_sparse_ratio: i32,
    encode_sparse_safe: i32,
    encode_max_depth: i32,
    encode_invalid_numbers: i32,
    encode_number_precision: i32,
    encode_keep_buffer: i32,
    decode_invalid_numbers: i32,
    decode_max_depth: i32,
}

const DEFAULT_CONFIG: Config = Config {
    encode_sparse_convert: 0,
    encode_sparse_ratio: 2,
    encode_sparse_safe: 10,
    encode_max_depth: 1000,
    encode_invalid_numbers: 0,
    encode_number_precision: 14,
    encode_keep_buffer: 1,
    decode_invalid_numbers: 1,
    decode_max_depth: 1000,
};

unsafe fn fetch_config(l: *mut lua_State) -> LibResult<*mut Config> {
    let p = ffi::lua_touserdata(l, ffi::lua_upvalueindex(1)).cast::<Config>();
    if p.is_null() {
        return Err(msg("BUG: Unable to fetch CJSON configuration"));
    }
    Ok(p)
}

/// `json_arg_init`: at most `args` arguments, padded with nil.
unsafe fn arg_init(l: *mut lua_State, args: c_int) -> LibResult<*mut Config> {
    if ffi::lua_gettop(l) > args {
        return Err(LibErr::Arg(args + 1, b"found too many arguments".to_vec()));
    }
    while ffi::lua_gettop(l) < args {
        ffi::lua_pushnil(l);
    }
    fetch_config(l)
}

unsafe fn integer_option(
    l: *mut lua_State,
    optindex: c_int,
    setting: &mut i32,
    min: i32,
    max: i32,
) -> LibResult<()> {
    if ffi::lua_type(l, optindex) != ffi::LUA_TNIL {
        let value = check_integer(l, optindex)? as i32;
        if !(min <= value && value <= max) {
            return Err(LibErr::Arg(
                1,
                format!("expected integer between {min} and {max}").into_bytes(),
            ));
        }
        *setting = value;
    }
    ffi::lua_pushinteger(l, *setting as ffi::lua_Integer);
    Ok(())
}

/// `luaL_checkoption(L, narg, NULL, options)` without raising.
unsafe fn check_option(l: *mut lua_State, narg: c_int, options: &[&str]) -> LibResult<i32> {
    let name = check_bytes(l, narg)?;
    // C compares NUL-terminated strings.
    let name = name.split(|&b| b == 0).next().unwrap_or(&[]);
    match options.iter().position(|o| o.as_bytes() == name) {
        Some(i) => Ok(i as i32),
        None => {
            let mut m = b"invalid option '".to_vec();
            m.extend_from_slice(name);
            m.push(b'\'');
            Err(LibErr::Arg(narg, m))
        }
    }
}

/// `json_enum_option` with `bool_true` 1: a boolean or one of `options`.
unsafe fn enum_option(
    l: *mut lua_State,
    optindex: c_int,
    setting: &mut i32,
    options: &[&str],
) -> LibResult<()> {
    if ffi::lua_type(l, optindex) != ffi::LUA_TNIL {
        if ffi::lua_type(l, optindex) == ffi::LUA_TBOOLEAN {
            *setting = ffi::lua_toboolean(l, optindex);
        } else {
            *setting = check_option(l, optindex, options)?;
        }
    }
    if *setting == 0 || *setting == 1 {
        ffi::lua_pushboolean(l, *setting);
    } else {
        let name = usize::try_from(*setting)
            .ok()
            .and_then(|i| options.get(i))
            .copied()
            .unwrap_or("");
        push_bytes(l, name.as_bytes());
    }
    Ok(())
}

const BOOL_OPTIONS: [&str; 2] = ["off", "on"];

unsafe fn cfg_encode_sparse_array(l: *mut lua_State) -> LibResult<c_int> {
    let cfg = &mut *arg_init(l, 3)?;
    enum_option(l, 1, &mut cfg.encode_sparse_convert, &BOOL_OPTIONS)?;
    integer_option(l, 2, &mut cfg.encode_sparse_ratio, 0, i32::MAX)?;
    integer_option(l, 3, &mut cfg.encode_sparse_safe, 0, i32::MAX)?;
    Ok(3)
}

unsafe fn cfg_encode_max_depth(l: *mut lua_State) -> LibResult<c_int> {
    let cfg = &mut *arg_init(l, 1)?;
    integer_option(l, 1, &mut cfg.encode_max_depth, 1, i32::MAX)?;
    Ok(1)
}

unsafe fn cfg_decode_max_depth(l: *mut lua_State) -> LibResult<c_int> {
    let cfg = &mut *arg_init(l, 1)?;
    integer_option(l, 1, &mut cfg.decode_max_depth, 1, i32::MAX)?;
    Ok(1)
}

unsafe fn cfg_encode_number_precision(l: *mut lua_State) -> LibResult<c_int> {
    let cfg = &mut *arg_init(l, 1)?;
    integer_option(l, 1, &mut cfg.encode_number_precision, 1, 14)?;
    Ok(1)
}

unsafe fn cfg_encode_keep_buffer(l: *mut lua_State) -> LibResult<c_int> {
    let cfg = &mut *arg_init(l, 1)?;
    enum_option(l, 1, &mut cfg.encode_keep_buffer, &BOOL_OPTIONS)?;
    Ok(1)
}

unsafe fn cfg_encode_invalid_numbers(l: *mut lua_State) -> LibResult<c_int> {
    let cfg = &mut *arg_init(l, 1)?;
    enum_option(
        l,
        1,
        &mut cfg.encode_invalid_numbers,
        &["off", "on", "null"],
    )?;
    Ok(1)
}

unsafe fn cfg_decode_invalid_numbers(l: *mut lua_State) -> LibResult<c_int> {
    let cfg = &mut *arg_init(l, 1)?;
    enum_option(l, 1, &mut cfg.decode_invalid_numbers, &BOOL_OPTIONS)?;
    Ok(1)
}

// ===== Encoding =====

unsafe fn encode_exception(l: *mut lua_State, lindex: c_int, reason: &str) -> LibErr {
    msg(format!(
        "Cannot serialise {}: {}",
        super::type_name(l, lindex),
        reason
    ))
}

/// The escape for byte `c` in a JSON string, if it needs one.
fn escape(c: u8) -> Option<&'static [u8]> {
    const CTRL: [&[u8]; 32] = [
        b"\\u0000", b"\\u0001", b"\\u0002", b"\\u0003", b"\\u0004", b"\\u0005", b"\\u0006",
        b"\\u0007", b"\\b", b"\\t", b"\\n", b"\\u000b", b"\\f", b"\\r", b"\\u000e", b"\\u000f",
        b"\\u0010", b"\\u0011", b"\\u0012", b"\\u0013", b"\\u0014", b"\\u0015", b"\\u0016",
        b"\\u0017", b"\\u0018", b"\\u0019", b"\\u001a", b"\\u001b", b"\\u001c", b"\\u001d",
        b"\\u001e", b"\\u001f",
    ];
    match c {
        0..=31 => CTRL.get(usize::from(c)).copied(),
        b'"' => Some(b"\\\""),
        b'/' => Some(b"\\/"),
        b'\\' => Some(b"\\\\"),
        127 => Some(b"\\u007f"),
        _ => None,
    }
}

pub(crate) fn append_string(out: &mut Vec<u8>, s: &[u8]) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    for &c in s {
        match escape(c) {
            Some(e) => out.extend_from_slice(e),
            None => out.push(c),
        }
    }
    out.push(b'"');
}

/// A number as `%.<precision>g`.
pub(crate) fn format_number(num: f64, precision: i32) -> String {
    if num.is_infinite() {
        return if num > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    if num.is_nan() {
        return if num.is_sign_negative() {
            "-nan".into()
        } else {
            "nan".into()
        };
    }
    fmt_g(num, usize::try_from(precision).unwrap_or(14))
}

unsafe fn append_number(
    l: *mut lua_State,
    cfg: &Config,
    out: &mut Vec<u8>,
    lindex: c_int,
) -> LibResult<()> {
    let num = ffi::lua_tonumber(l, lindex);
    match cfg.encode_invalid_numbers {
        0 => {
            if num.is_infinite() || num.is_nan() {
                return Err(encode_exception(l, lindex, "must not be NaN or Inf"));
            }
        }
        1 => {
            if num.is_nan() {
                out.extend_from_slice(b"nan");
                return Ok(());
            }
        }
        _ => {
            if num.is_infinite() || num.is_nan() {
                out.extend_from_slice(b"null");
                return Ok(());
            }
        }
    }
    out.extend_from_slice(format_number(num, cfg.encode_number_precision).as_bytes());
    Ok(())
}

/// `lua_array_length`: the array size of the table at the top, or -1 for an object.
unsafe fn array_length(l: *mut lua_State, cfg: &Config) -> LibResult<i32> {
    let mut max: i32 = 0;
    let mut items: i32 = 0;
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, -2) != 0 {
        if ffi::lua_type(l, -2) == ffi::LUA_TNUMBER {
            let k = ffi::lua_tonumber(l, -2);
            if k != 0.0 && k.floor() == k && k >= 1.0 {
                if k > f64::from(max) {
                    max = c_f64_to_i32(k);
                }
                items = items.wrapping_add(1);
                ffi::lua_pop(l, 1);
                continue;
            }
        }
        ffi::lua_pop(l, 2);
        return Ok(-1);
    }
    if cfg.encode_sparse_ratio > 0
        && max > items.wrapping_mul(cfg.encode_sparse_ratio)
        && max > cfg.encode_sparse_safe
    {
        if cfg.encode_sparse_convert == 0 {
            return Err(encode_exception(l, -1, "excessively sparse array"));
        }
        return Ok(-1);
    }
    Ok(max)
}

/// A table being encoded (the iteration keeps nesting off the Rust call stack: its
/// depth is bounded only by the configuration and Lua's stack, as in C).
enum EncFrame {
    Array { i: i32, len: i32, depth: i32 },
    Object { first: bool, depth: i32 },
}

/// Serialises the value at the top of the stack (left there), as `json_append_data`.
unsafe fn append_data(l: *mut lua_State, cfg: &Config, out: &mut Vec<u8>) -> LibResult<()> {
    let mut stack: Vec<EncFrame> = Vec::new();
    'value: loop {
        match ffi::lua_type(l, -1) {
            ffi::LUA_TSTRING => append_string(out, super::to_bytes(l, -1).unwrap_or(&[])),
            ffi::LUA_TNUMBER => append_number(l, cfg, out, -1)?,
            ffi::LUA_TBOOLEAN => {
                if ffi::lua_toboolean(l, -1) != 0 {
                    out.extend_from_slice(b"true");
                } else {
                    out.extend_from_slice(b"false");
                }
            }
            ffi::LUA_TTABLE => {
                let parent = match stack.last() {
                    Some(EncFrame::Array { depth, .. } | EncFrame::Object { depth, .. }) => *depth,
                    None => 0,
                };
                let depth = parent.wrapping_add(1);
                if depth > cfg.encode_max_depth || ffi::lua_checkstack(l, 3) == 0 {
                    return Err(msg(format!(
                        "Cannot serialise, excessive nesting ({depth})"
                    )));
                }
                let len = array_length(l, cfg)?;
                if len > 0 {
                    out.push(b'[');
                    stack.push(EncFrame::Array { i: 0, len, depth });
                } else {
                    out.push(b'{');
                    ffi::lua_pushnil(l);
                    stack.push(EncFrame::Object { first: true, depth });
                }
            }
            ffi::LUA_TNIL => out.extend_from_slice(b"null"),
            ffi::LUA_TLIGHTUSERDATA if ffi::lua_touserdata(l, -1).is_null() => {
                out.extend_from_slice(b"null")
            }
            _ => return Err(encode_exception(l, -1, "type not supported")),
        }
        // Move to the next value to serialise, closing finished tables.
        loop {
            match stack.last_mut() {
                None => return Ok(()),
                Some(EncFrame::Array { i, len, .. }) => {
                    if *i > 0 {
                        ffi::lua_pop(l, 1);
                    }
                    if *i >= *len {
                        out.push(b']');
                        stack.pop();
                        continue;
                    }
                    *i += 1;
                    if *i > 1 {
                        out.push(b',');
                    }
                    ffi::lua_rawgeti_(l, -1, *i);
                    continue 'value;
                }
                Some(EncFrame::Object { first, .. }) => {
                    if !*first {
                        ffi::lua_pop(l, 1);
                    }
                    if ffi::lua_next(l, -2) == 0 {
                        out.push(b'}');
                        stack.pop();
                        continue;
                    }
                    if !*first {
                        out.push(b',');
                    }
                    *first = false;
                    match ffi::lua_type(l, -2) {
                        ffi::LUA_TNUMBER => {
                            out.push(b'"');
                            append_number(l, cfg, out, -2)?;
                            out.extend_from_slice(b"\":");
                        }
                        ffi::LUA_TSTRING => {
                            append_string(out, super::to_bytes(l, -2).unwrap_or(&[]));
                            out.push(b':');
                        }
                        _ => {
                            return Err(encode_exception(
                                l,
                                -2,
                                "table key must be a number or string",
                            ))
                        }
                    }
                    continue 'value;
                }
            }
        }
    }
}

unsafe fn encode_impl(l: *mut lua_State) -> LibResult<c_int> {
    let cfg = *fetch_config(l)?;
    if ffi::lua_gettop(l) != 1 {
        return Err(LibErr::Arg(1, b"expected 1 argument".to_vec()));
    }
    let mut out = Vec::new();
    append_data(l, &cfg, &mut out)?;
    push_bytes(l, &out);
    Ok(1)
}

// ===== Decoding =====

#[derive(Clone, Copy, PartialEq, Debug)]
enum Tok {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str,
    Number(f64),
    Boolean(bool),
    Null,
    Colon,
    Comma,
    End,
    Error(&'static str),
}

impl Tok {
    fn name(&self) -> &'static str {
        match self {
            Tok::ObjBegin => "T_OBJ_BEGIN",
            Tok::ObjEnd => "T_OBJ_END",
            Tok::ArrBegin => "T_ARR_BEGIN",
            Tok::ArrEnd => "T_ARR_END",
            Tok::Str => "T_STRING",
            Tok::Number(_) => "T_NUMBER",
            Tok::Boolean(_) => "T_BOOLEAN",
            Tok::Null => "T_NULL",
            Tok::Colon => "T_COLON",
            Tok::Comma => "T_COMMA",
            Tok::End => "T_END",
            Tok::Error(e) => e,
        }
    }
}

struct Token {
    tok: Tok,
    index: usize,
}

struct Parser<'a> {
    data: &'a [u8],
    ptr: usize,
    /// The last string token's bytes.
    tmp: Vec<u8>,
    cfg: Config,
    depth: i32,
}

fn hexdigit(c: u8) -> Option<u32> {
    (c as char).to_digit(16)
}

/// C's `strtod` on a NUL-terminated string (C locale): the value and the number of
/// bytes used, or `None` when no number starts at `s`.
pub(crate) fn strtod(s: &[u8]) -> Option<(f64, usize)> {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut i = 0;
    while matches!(at(i), b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let neg = match at(i) {
        b'-' => {
            i += 1;
            true
        }
        b'+' => {
            i += 1;
            false
        }
        _ => false,
    };
    let sign = |v: f64| if neg { -v } else { v };
    let lower = |j: usize, w: &[u8]| {
        w.iter()
            .enumerate()
            .all(|(k, &c)| at(j + k).to_ascii_lowercase() == c)
    };
    if lower(i, b"inf") {
        let n = if lower(i, b"infinity") { 8 } else { 3 };
        return Some((sign(f64::INFINITY), i + n));
    }
    if lower(i, b"nan") {
        let mut end = i + 3;
        if at(end) == b'(' {
            let mut j = end + 1;
            while at(j).is_ascii_alphanumeric() || at(j) == b'_' {
                j += 1;
            }
            if at(j) == b')' {
                end = j + 1;
            }
        }
        return Some((sign(f64::NAN), end));
    }
    if at(i) == b'0' && (at(i + 1) | 0x20) == b'x' {
        let start = i + 2;
        let mut j = start;
        let mut mant: f64 = 0.0;
        let mut digits = 0;
        let mut exp: i64 = 0;
        while let Some(d) = hexdigit(at(j)) {
            mant = mant * 16.0 + f64::from(d);
            digits += 1;
            j += 1;
        }
        if at(j) == b'.' {
            let mut k = j + 1;
            while let Some(d) = hexdigit(at(k)) {
                mant = mant * 16.0 + f64::from(d);
                exp -= 4;
                digits += 1;
                k += 1;
            }
            if digits > 0 {
                j = k;
            }
        }
        if digits == 0 {
            // Only the "0" before the 'x' is a number.
            return Some((sign(0.0), i + 1));
        }
        if (at(j) | 0x20) == b'p' {
            let mut k = j + 1;
            let eneg = match at(k) {
                b'-' => {
                    k += 1;
                    true
                }
                b'+' => {
                    k += 1;
                    false
                }
                _ => false,
            };
            if at(k).is_ascii_digit() {
                let mut e: i64 = 0;
                while at(k).is_ascii_digit() {
                    e = (e * 10 + i64::from(at(k) - b'0')).min(100_000);
                    k += 1;
                }
                exp += if eneg { -e } else { e };
                j = k;
            }
        }
        let v = mant * 2f64.powi(exp.clamp(-100_000, 100_000) as i32);
        return Some((sign(v), j));
    }
    let start = i;
    let mut j = i;
    let mut digits = 0;
    while at(j).is_ascii_digit() {
        j += 1;
        digits += 1;
    }
    let mut text: Vec<u8> = s.get(start..j).unwrap_or(&[]).to_vec();
    if at(j) == b'.' {
        let mut k = j + 1;
        let mut frac = 0;
        while at(k).is_ascii_digit() {
            k += 1;
            frac += 1;
        }
        if digits + frac > 0 {
            if frac > 0 {
                text.push(b'.');
                text.extend_from_slice(s.get(j + 1..k).unwrap_or(&[]));
            }
            digits += frac;
            j = k;
        }
    }
    if digits == 0 {
        return None;
    }
    if (at(j) | 0x20) == b'e' {
        let mut k = j + 1;
        if matches!(at(k), b'+' | b'-') {
            k += 1;
        }
        if at(k).is_ascii_digit() {
            while at(k).is_ascii_digit() {
                k += 1;
            }
            text.extend_from_slice(s.get(j..k).unwrap_or(&[]));
            j = k;
        }
    }
    if text.first() == Some(&b'.') {
        text.insert(0, b'0');
    }
    let v: f64 = std::str::from_utf8(&text).ok()?.parse().ok()?;
    Some((sign(v), j))
}

impl Parser<'_> {
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    fn error(&self, what: &'static str) -> Token {
        Token {
            tok: Tok::Error(what),
            index: self.ptr,
        }
    }

    /// `json_is_invalid_number`: numbers strict JSON refuses (leading '+' or zeros,
    /// hex, inf, nan).
    fn is_invalid_number(&self) -> bool {
        let mut p = self.ptr;
        if self.at(p) == b'+' {
            return true;
        }
        if self.at(p) == b'-' {
            p += 1;
        }
        let c = self.at(p);
        if c == b'0' {
            let ch2 = self.at(p + 1);
            return (ch2 | 0x20) == b'x' || ch2.is_ascii_digit();
        } else if c <= b'9' || c >= 0x80 {
            // (C compares a signed char: bytes from 0x80 are "<= '9'".)
            return false;
        }
        let lower = |w: &[u8]| {
            w.iter()
                .enumerate()
                .all(|(k, &x)| self.at(p + k).to_ascii_lowercase() == x)
        };
        lower(b"inf") || lower(b"nan")
    }

    fn number_token(&mut self) -> Token {
        let index = self.ptr;
        match strtod(self.data.get(self.ptr..).unwrap_or(&[])) {
            Some((v, used)) if used > 0 => {
                self.ptr += used;
                Token {
                    tok: Tok::Number(v),
                    index,
                }
            }
            _ => self.error("invalid number"),
        }
    }

    /// Appends the UTF-8 for the `\uXXXX` escape (or surrogate pair) at `ptr`.
    fn unicode_escape(&mut self) -> bool {
        let hex4 = |p: &Parser, at: usize| -> Option<u32> {
            let mut v = 0;
            for k in 0..4 {
                v = (v << 4) | hexdigit(p.at(at + k))?;
            }
            Some(v)
        };
        let Some(mut cp) = hex4(self, self.ptr + 2) else {
            return false;
        };
        let mut escape_len = 6;
        if (cp & 0xF800) == 0xD800 {
            if cp & 0x400 != 0 {
                return false;
            }
            if self.at(self.ptr + 6) != b'\\' || self.at(self.ptr + 7) != b'u' {
                return false;
            }
            let Some(low) = hex4(self, self.ptr + 8) else {
                return false;
            };
            if (low & 0xFC00) != 0xDC00 {
                return false;
            }
            cp = (((cp & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            escape_len = 12;
        }
        // codepoint_to_utf8 (never above 0x10FFFF here).
        let t = &mut self.tmp;
        if cp <= 0x7F {
            t.push(cp as u8);
        } else if cp <= 0x7FF {
            t.extend_from_slice(&[((cp >> 6) | 0xC0) as u8, ((cp & 0x3F) | 0x80) as u8]);
        } else if cp <= 0xFFFF {
            t.extend_from_slice(&[
                ((cp >> 12) | 0xE0) as u8,
                (((cp >> 6) & 0x3F) | 0x80) as u8,
                ((cp & 0x3F) | 0x80) as u8,
            ]);
        } else {
            t.extend_from_slice(&[
                ((cp >> 18) | 0xF0) as u8,
                (((cp >> 12) & 0x3F) | 0x80) as u8,
                (((cp >> 6) & 0x3F) | 0x80) as u8,
                ((cp & 0x3F) | 0x80) as u8,
            ]);
        }
        self.ptr += escape_len;
        true
    }

    fn string_token(&mut self) -> Token {
        let index = self.ptr;
        self.ptr += 1;
        self.tmp.clear();
        loop {
            let ch = self.at(self.ptr);
            if ch == b'"' {
                break;
            }
            if ch == 0 {
                return self.error("unexpected end of string");
            }
            let mut out = ch;
            if ch == b'\\' {
                let esc = match self.at(self.ptr + 1) {
                    b'"' => b'"',
                    b'\\' => b'\\',
                    b'/' => b'/',
                    b'b' => 0x08,
                    b't' => b'\t',
                    b'n' => b'\n',
                    b'f' => 0x0c,
                    b'r' => b'\r',
                    b'u' => b'u',
                    _ => 0,
                };
                if esc == b'u' {
                    if self.unicode_escape() {
                        continue;
                    }
                    return self.error("invalid unicode escape code");
                }
                if esc == 0 {
                    return self.error("invalid escape code");
                }
                self.ptr += 1;
                out = esc;
            }
            self.tmp.push(out);
            self.ptr += 1;
        }
        self.ptr += 1;
        Token {
            tok: Tok::Str,
            index,
        }
    }

    fn next_token(&mut self) -> Token {
        while matches!(self.at(self.ptr), b' ' | b'\t' | b'\n' | b'\r') {
            self.ptr += 1;
        }
        let ch = self.at(self.ptr);
        let index = self.ptr;
        let single = match ch {
            b'{' => Some(Tok::ObjBegin),
            b'}' => Some(Tok::ObjEnd),
            b'[' => Some(Tok::ArrBegin),
            b']' => Some(Tok::ArrEnd),
            b',' => Some(Tok::Comma),
            b':' => Some(Tok::Colon),
            0 => {
                return Token {
                    tok: Tok::End,
                    index,
                }
            }
            _ => None,
        };
        if let Some(tok) = single {
            self.ptr += 1;
            return Token { tok, index };
        }
        let unknown = matches!(
            ch,
            b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'"' | b'+' | b'-' | b'0'..=b'9'
        );
        if !unknown {
            return self.error("invalid token");
        }
        let starts = |w: &[u8]| w.iter().enumerate().all(|(k, &c)| self.at(index + k) == c);
        if ch == b'"' {
            self.string_token()
        } else if ch == b'-' || ch.is_ascii_digit() {
            if self.cfg.decode_invalid_numbers == 0 && self.is_invalid_number() {
                return self.error("invalid number");
            }
            self.number_token()
        } else if starts(b"true") {
            self.ptr += 4;
            Token {
                tok: Tok::Boolean(true),
                index,
            }
        } else if starts(b"false") {
            self.ptr += 5;
            Token {
                tok: Tok::Boolean(false),
                index,
            }
        } else if starts(b"null") {
            self.ptr += 4;
            Token {
                tok: Tok::Null,
                index,
            }
        } else if self.cfg.decode_invalid_numbers != 0 && self.is_invalid_number() {
            self.number_token()
        } else {
            self.error("invalid token")
        }
    }
}

fn parse_error(expected: &str, token: &Token) -> LibErr {
    msg(format!(
        "Expected {} but found {} at character {}",
        expected,
        token.tok.name(),
        token.index + 1
    ))
}

unsafe fn decode_descend(l: *mut lua_State, p: &mut Parser, slots: c_int) -> LibResult<()> {
    p.depth = p.depth.wrapping_add(1);
    if p.depth <= p.cfg.decode_max_depth && ffi::lua_checkstack(l, slots) != 0 {
        return Ok(());
    }
    Err(msg(format!(
        "Found too many nested data structures ({}) at character {}",
        p.depth, p.ptr
    )))
}

/// Reads `"key" :` after an object's `{` or `,` (the key is pushed) and gives the
/// token starting the value.
unsafe fn object_key(l: *mut lua_State, p: &mut Parser, token: Token) -> LibResult<Token> {
    if token.tok != Tok::Str {
        return Err(parse_error("object key string", &token));
    }
    push_bytes(l, &p.tmp);
    let token = p.next_token();
    if token.tok != Tok::Colon {
        return Err(parse_error("colon", &token));
    }
    Ok(p.next_token())
}

/// Decodes the value starting with `token` and pushes it, as `json_process_value`
/// with its object and array contexts, iteratively (nesting is bounded only by
/// `decode_max_depth` and Lua's stack, as in C, not by the Rust call stack).
unsafe fn process_value(l: *mut lua_State, p: &mut Parser, token: Token) -> LibResult<()> {
    // Open containers: `Some(next_index)` for arrays, `None` for objects.
    let mut stack: Vec<Option<c_int>> = Vec::new();
    let mut token = token;
    loop {
        match token.tok {
            Tok::Str => push_bytes(l, &p.tmp),
            Tok::Number(n) => ffi::lua_pushnumber(l, n),
            Tok::Boolean(b) => ffi::lua_pushboolean(l, c_int::from(b)),
            Tok::Null => ffi::lua_pushlightuserdata(l, std::ptr::null_mut()),
            Tok::ObjBegin => {
                decode_descend(l, p, 3)?;
                ffi::lua_createtable(l, 0, 0);
                let t = p.next_token();
                if t.tok == Tok::ObjEnd {
                    p.depth -= 1;
                } else {
                    stack.push(None);
                    token = object_key(l, p, t)?;
                    continue;
                }
            }
            Tok::ArrBegin => {
                decode_descend(l, p, 2)?;
                ffi::lua_createtable(l, 0, 0);
                let t = p.next_token();
                if t.tok == Tok::ArrEnd {
                    p.depth -= 1;
                } else {
                    stack.push(Some(1));
                    token = t;
                    continue;
                }
            }
            _ => return Err(parse_error("value", &token)),
        }
        // A complete value is on top: store it in its container, then find the next
        // value or close containers.
        loop {
            match stack.last_mut() {
                None => return Ok(()),
                Some(None) => {
                    ffi::lua_rawset(l, -3);
                    let t = p.next_token();
                    if t.tok == Tok::ObjEnd {
                        p.depth -= 1;
                        stack.pop();
                        continue;
                    }
                    if t.tok != Tok::Comma {
                        return Err(parse_error("comma or object end", &t));
                    }
                    let t = p.next_token();
                    token = object_key(l, p, t)?;
                    break;
                }
                Some(Some(i)) => {
                    ffi::lua_rawseti_(l, -2, *i);
                    *i = i.wrapping_add(1);
                    let t = p.next_token();
                    if t.tok == Tok::ArrEnd {
                        p.depth -= 1;
                        stack.pop();
                        continue;
                    }
                    if t.tok != Tok::Comma {
                        return Err(parse_error("comma or array end", &t));
                    }
                    token = p.next_token();
                    break;
                }
            }
        }
    }
}

unsafe fn decode_impl(l: *mut lua_State) -> LibResult<c_int> {
    if ffi::lua_gettop(l) != 1 {
        return Err(LibErr::Arg(1, b"expected 1 argument".to_vec()));
    }
    let cfg = *fetch_config(l)?;
    let data = check_bytes(l, 1)?;
    if data.len() >= 2 && (data.first() == Some(&0) || data.get(1) == Some(&0)) {
        return Err(msg("JSON parser does not support UTF-16 or UTF-32"));
    }
    let mut p = Parser {
        data,
        ptr: 0,
        tmp: Vec::new(),
        cfg,
        depth: 0,
    };
    let token = p.next_token();
    process_value(l, &mut p, token)?;
    let token = p.next_token();
    if token.tok != Tok::End {
        return Err(parse_error("the end", &token));
    }
    Ok(1)
}

// ===== Registration =====

macro_rules! entry {
    ($name:ident, $imp:ident) => {
        unsafe extern "C-unwind" fn $name(l: *mut lua_State) -> c_int {
            finish(l, $imp(l))
        }
    };
}

entry!(json_encode, encode_impl);
entry!(json_decode, decode_impl);
entry!(json_cfg_encode_sparse_array, cfg_encode_sparse_array);
entry!(json_cfg_encode_max_depth, cfg_encode_max_depth);
entry!(json_cfg_decode_max_depth, cfg_decode_max_depth);
entry!(
    json_cfg_encode_number_precision,
    cfg_encode_number_precision
);
entry!(json_cfg_encode_keep_buffer, cfg_encode_keep_buffer);
entry!(json_cfg_encode_invalid_numbers, cfg_encode_invalid_numbers);
entry!(json_cfg_decode_invalid_numbers, cfg_decode_invalid_numbers);

const FUNCS: [(&CStr, ffi::lua_CFunction); 10] = [
    (c"encode", json_encode),
    (c"decode", json_decode),
    (c"encode_sparse_array", json_cfg_encode_sparse_array),
    (c"encode_max_depth", json_cfg_encode_max_depth),
    (c"decode_max_depth", json_cfg_decode_max_depth),
    (c"encode_number_precision", json_cfg_encode_number_precision),
    (c"encode_keep_buffer", json_cfg_encode_keep_buffer),
    (c"encode_invalid_numbers", json_cfg_encode_invalid_numbers),
    (c"decode_invalid_numbers", json_cfg_decode_invalid_numbers),
    (c"new", lua_cjson_new),
];

/// `cjson.new()`: a module table with its own default configuration.
unsafe extern "C-unwind" fn lua_cjson_new(l: *mut lua_State) -> c_int {
    ffi::lua_createtable(l, 0, 0);
    let cfg = ffi::lua_newuserdata(l, std::mem::size_of::<Config>()).cast::<Config>();
    if !cfg.is_null() {
        cfg.write(DEFAULT_CONFIG);
    }
    for (name, f) in FUNCS {
        ffi::lua_pushvalue(l, -1);
        ffi::lua_pushcclosure(l, f, 1);
        super::set_field(l, -3, name);
    }
    ffi::lua_pop(l, 1);
    ffi::lua_pushlightuserdata(l, std::ptr::null_mut());
    super::set_field(l, -2, c"null");
    push_bytes(l, b"cjson");
    super::set_field(l, -2, c"_NAME");
    push_bytes(l, b"2.1.0");
    super::set_field(l, -2, c"_VERSION");
    1
}

/// Opens the library: sets the global `cjson`.
pub(crate) unsafe extern "C-unwind" fn luaopen_cjson(l: *mut lua_State) -> c_int {
    lua_cjson_new(l);
    ffi::lua_pushvalue(l, -1);
    super::set_field(l, ffi::LUA_GLOBALSINDEX, c"cjson");
    1
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{eval_err, eval_str, lua};
    use super::*;

    #[test]
    fn strtod_prefixes() {
        assert_eq!(strtod(b"12abc"), Some((12.0, 2)));
        assert_eq!(strtod(b"-1.5e3,"), Some((-1500.0, 6)));
        assert_eq!(strtod(b"1e"), Some((1.0, 1)));
        assert_eq!(strtod(b"1."), Some((1.0, 2)));
        assert_eq!(strtod(b"0x1F"), Some((31.0, 4)));
        assert_eq!(strtod(b"0x"), Some((0.0, 1)));
        assert_eq!(strtod(b"Infinity"), Some((f64::INFINITY, 8)));
        assert_eq!(strtod(b"-inf"), Some((f64::NEG_INFINITY, 4)));
        assert!(strtod(b"nan").is_some_and(|(v, n)| v.is_nan() && n == 3));
        assert_eq!(strtod(b"-"), None);
        assert_eq!(strtod(b"x"), None);
    }

    #[test]
    fn encode_values() {
        let l = lua();
        assert_eq!(
            eval_str(&l, "return cjson.encode({1,2,{a=3}})"),
            b"[1,2,{\"a\":3}]"
        );
        assert_eq!(
            eval_str(&l, "return cjson.encode('a/b\"\\n')"),
            b"\"a\\/b\\\"\\n\""
        );
        assert_eq!(
            eval_str(&l, "return cjson.encode(1/3)"),
            b"0.33333333333333"
        );
        assert_eq!(eval_str(&l, "return cjson.encode(-0.0)"), b"-0");
        assert_eq!(eval_str(&l, "return cjson.encode({})"), b"{}");
        assert_eq!(eval_str(&l, "return cjson.encode(cjson.null)"), b"null");
        assert_eq!(
            eval_str(&l, "return cjson.encode({[1]=1,[10]=2})"),
            b"[1,null,null,null,null,null,null,null,null,2]"
        );
        assert_eq!(
            eval_str(&l, "return cjson.encode({[2.5]=1})"),
            b"{\"2.5\":1}"
        );
    }

    #[test]
    fn encode_errors() {
        let l = lua();
        let e = eval_err(&l, "return cjson.encode({[1]=1,[100]=2})");
        assert!(
            e.ends_with("Cannot serialise table: excessively sparse array"),
            "{e}"
        );
        let e = eval_err(&l, "return cjson.encode({[true]=1})");
        assert!(
            e.ends_with("Cannot serialise boolean: table key must be a number or string"),
            "{e}"
        );
        let e = eval_err(&l, "return cjson.encode(print)");
        assert!(
            e.ends_with("Cannot serialise function: type not supported"),
            "{e}"
        );
        let e = eval_err(&l, "local t = {} t[1] = t return cjson.encode(t)");
        assert!(
            e.ends_with("Cannot serialise, excessive nesting (1001)"),
            "{e}"
        );
        let e = eval_err(&l, "return cjson.encode(1/0)");
        assert!(
            e.ends_with("Cannot serialise number: must not be NaN or Inf"),
            "{e}"
        );
        let e = eval_err(&l, "return cjson.encode()");
        assert!(
            e.ends_with("bad argument #1 to 'encode' (expected 1 argument)"),
            "{e}"
        );
    }

    #[test]
    fn decode_values() {
        let l = lua();
        assert_eq!(
            eval_str(&l, "return cjson.decode('[1,2,{\"a\":\"b\"}]')[3].a"),
            b"b"
        );
        assert_eq!(
            eval_str(&l, "return cjson.decode('\"\\\\u00e9\"')"),
            "é".as_bytes()
        );
        assert_eq!(
            eval_str(&l, "return cjson.decode('\"\\\\ud83d\\\\ude00\"')"),
            "😀".as_bytes()
        );
        assert_eq!(
            eval_str(&l, "return tostring(cjson.decode('null') == cjson.null)"),
            b"true"
        );
        assert_eq!(eval_str(&l, "return cjson.decode(' 1.5e2 ')"), b"150");
        assert_eq!(eval_str(&l, "return cjson.decode('0x10')"), b"16");
    }

    #[test]
    fn decode_errors() {
        let l = lua();
        let e = eval_err(&l, "return cjson.decode('x')");
        assert!(
            e.ends_with("Expected value but found invalid token at character 1"),
            "{e}"
        );
        let e = eval_err(&l, "return cjson.decode('[1,]')");
        assert!(
            e.ends_with("Expected value but found T_ARR_END at character 4"),
            "{e}"
        );
        let e = eval_err(&l, "return cjson.decode('{\"a\" 1}')");
        assert!(
            e.ends_with("Expected colon but found T_NUMBER at character 6"),
            "{e}"
        );
        let e = eval_err(&l, "return cjson.decode('[1] 2')");
        assert!(
            e.ends_with("Expected the end but found T_NUMBER at character 5"),
            "{e}"
        );
        let e = eval_err(&l, "return cjson.decode(string.rep('[', 1001))");
        assert!(
            e.ends_with("Found too many nested data structures (1001) at character 1001"),
            "{e}"
        );
        let e = eval_err(&l, "return cjson.decode('\"abc')");
        assert!(
            e.ends_with("Expected value but found unexpected end of string at character 5"),
            "{e}"
        );
    }

    #[test]
    fn configuration() {
        let l = lua();
        assert_eq!(eval_str(&l, "return cjson.encode_max_depth()"), b"1000");
        assert_eq!(
            eval_str(&l, "return cjson.encode_number_precision(3)"),
            b"3"
        );
        assert_eq!(eval_str(&l, "return cjson.encode(1/3)"), b"0.333");
        assert_eq!(
            eval_str(&l, "return cjson.new().encode(1/3)"),
            b"0.33333333333333"
        );
        assert_eq!(
            eval_str(&l, "return cjson.encode_invalid_numbers('null')"),
            b"null"
        );
        assert_eq!(eval_str(&l, "return cjson.encode(1/0)"), b"null");
        let e = eval_err(&l, "return cjson.encode_number_precision(15)");
        assert!(e.ends_with("(expected integer between 1 and 14)"), "{e}");
        let e = eval_err(&l, "return cjson.encode_keep_buffer('maybe')");
        assert!(e.ends_with("(invalid option 'maybe')"), "{e}");
        let e = eval_err(&l, "return cjson.encode_max_depth(1, 2)");
        assert!(
            e.ends_with("bad argument #2 to 'encode_max_depth' (found too many arguments)"),
            "{e}"
        );
    }
}
