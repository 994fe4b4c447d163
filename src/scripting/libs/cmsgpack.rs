//! `cmsgpack`: lua-cmsgpack 0.4.0 as bundled by Redis. `pack(...)` encodes each
//! argument and concatenates them; `unpack`, `unpack_one` and `unpack_limit` decode a
//! stream of values. Encoding choices follow the C library: a number equal to its
//! 64-bit integer conversion is packed as the smallest integer type, other numbers as a
//! float when the float is exact and as a double otherwise; a table whose keys are
//! exactly 1..n is an array, anything else a map; nesting deeper than 16 tables packs
//! nil; functions, userdata (cjson.null included) and threads pack as nil.

use std::os::raw::c_int;

use mlua::ffi;
use mlua::lua_State;

use super::{
    c_f64_to_i32, c_f64_to_i64, check_bytes, check_integer, check_stack, finish, msg, opt_integer,
    push_bytes, LibErr, LibResult,
};

const MAX_NESTING: i32 = 16;

fn encode_bytes(buf: &mut Vec<u8>, s: &[u8]) {
    let len = s.len();
    if len < 32 {
        buf.push(0xa0 | (len as u8));
    } else if len <= 0xff {
        buf.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        buf.push(0xda);
        buf.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        buf.push(0xdb);
        buf.extend_from_slice(&(len as u32).to_be_bytes());
    }
    buf.extend_from_slice(s);
}

fn encode_double(buf: &mut Vec<u8>, d: f64) {
    let f = d as f32;
    if d == f64::from(f) {
        buf.push(0xca);
        buf.extend_from_slice(&f.to_be_bytes());
    } else {
        buf.push(0xcb);
        buf.extend_from_slice(&d.to_be_bytes());
    }
}

pub(crate) fn encode_int(buf: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        if n <= 127 {
            buf.push(n as u8);
        } else if n <= 0xff {
            buf.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            buf.push(0xcd);
            buf.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            buf.push(0xce);
            buf.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            buf.push(0xcf);
            buf.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        buf.push(n as i8 as u8);
    } else if n >= -128 {
        buf.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        buf.push(0xd1);
        buf.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        buf.push(0xd2);
        buf.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        buf.push(0xd3);
        buf.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_header(buf: &mut Vec<u8>, n: u64, fix: u8, b16: u8, b32: u8) {
    if n <= 15 {
        buf.push(fix | (n as u8 & 0xf));
    } else if n <= 65535 {
        buf.push(b16);
        buf.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        buf.push(b32);
        buf.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

/// Packs a number: integers (doubles equal to their int64 conversion) as integers,
/// the rest as float or double.
pub(crate) fn encode_number(buf: &mut Vec<u8>, n: f64) {
    let i = c_f64_to_i64(n);
    if !n.is_infinite() && i as f64 == n {
        encode_int(buf, i);
    } else {
        encode_double(buf, n);
    }
}

/// `table_is_an_array`: keys exactly 1..n (checked on the table at the top).
unsafe fn table_is_an_array(l: *mut lua_State) -> LibResult<bool> {
    let mut count: i32 = 0;
    let mut max: i32 = 0;
    let top = ffi::lua_gettop(l);
    check_stack(l, 2, "in function table_is_an_array")?;
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, -2) != 0 {
        ffi::lua_pop(l, 1);
        let n = ffi::lua_tonumber(l, -1);
        if ffi::lua_type(l, -1) != ffi::LUA_TNUMBER
            || n <= 0.0
            || n.is_infinite()
            || f64::from(c_f64_to_i32(n)) != n
        {
            ffi::lua_settop(l, top);
            return Ok(false);
        }
        if n > f64::from(max) {
            max = c_f64_to_i32(n);
        }
        count = count.wrapping_add(1);
    }
    ffi::lua_settop(l, top);
    Ok(max == count)
}

/// Encodes the value at the top of the stack and pops it.
unsafe fn encode_lua_type(l: *mut lua_State, buf: &mut Vec<u8>, level: i32) -> LibResult<()> {
    let mut t = ffi::lua_type(l, -1);
    if t == ffi::LUA_TTABLE && level == MAX_NESTING {
        t = ffi::LUA_TNIL;
    }
    match t {
        ffi::LUA_TSTRING => {
            let s = super::to_bytes(l, -1).unwrap_or(&[]);
            encode_bytes(buf, s);
        }
        ffi::LUA_TBOOLEAN => buf.push(if ffi::lua_toboolean(l, -1) != 0 {
            0xc3
        } else {
            0xc2
        }),
        ffi::LUA_TNUMBER => encode_number(buf, ffi::lua_tonumber(l, -1)),
        ffi::LUA_TTABLE => {
            if table_is_an_array(l)? {
                let len = ffi::lua_objlen(l, -1);
                encode_header(buf, len as u64, 0x90, 0xdc, 0xdd);
                check_stack(l, 1, "in function mp_encode_lua_table_as_array")?;
                for j in 1..=len {
                    // Keys are exactly 1..len: a raw read sees what lua_gettable would.
                    ffi::lua_rawgeti_(l, -1, j as c_int);
                    encode_lua_type(l, buf, level + 1)?;
                }
            } else {
                check_stack(l, 3, "in function mp_encode_lua_table_as_map")?;
                let mut len: u64 = 0;
                ffi::lua_pushnil(l);
                while ffi::lua_next(l, -2) != 0 {
                    ffi::lua_pop(l, 1);
                    len += 1;
                }
                encode_header(buf, len, 0x80, 0xde, 0xdf);
                ffi::lua_pushnil(l);
                while ffi::lua_next(l, -2) != 0 {
                    ffi::lua_pushvalue(l, -2);
                    encode_lua_type(l, buf, level + 1)?;
                    encode_lua_type(l, buf, level + 1)?;
                }
            }
        }
        _ => buf.push(0xc0),
    }
    ffi::lua_pop(l, 1);
    Ok(())
}

unsafe fn pack_impl(l: *mut lua_State) -> LibResult<c_int> {
    let nargs = ffi::lua_gettop(l);
    if nargs == 0 {
        return Err(LibErr::Arg(0, b"MessagePack pack needs input.".to_vec()));
    }
    if ffi::lua_checkstack(l, nargs) == 0 {
        return Err(LibErr::Arg(
            0,
            b"Too many arguments for MessagePack pack.".to_vec(),
        ));
    }
    let mut buf = Vec::new();
    for i in 1..=nargs {
        check_stack(l, 1, "in function mp_check")?;
        ffi::lua_pushvalue(l, i);
        encode_lua_type(l, &mut buf, 0)?;
        push_bytes(l, &buf);
        buf.clear();
    }
    ffi::lua_concat(l, nargs);
    Ok(1)
}

/// Decoding failures, reported by the caller as Lua errors.
enum DecodeErr {
    Eof,
    BadFmt,
    Lua(LibErr),
}

impl From<LibErr> for DecodeErr {
    fn from(e: LibErr) -> Self {
        DecodeErr::Lua(e)
    }
}

struct Cur<'a> {
    p: &'a [u8],
}

impl<'a> Cur<'a> {
    fn need(&self, n: usize) -> Result<(), DecodeErr> {
        if self.p.len() < n {
            Err(DecodeErr::Eof)
        } else {
            Ok(())
        }
    }

    /// Bytes `from..from+n` of the remaining input (after `need`).
    fn bytes(&self, from: usize, n: usize) -> Result<&'a [u8], DecodeErr> {
        let p: &'a [u8] = self.p;
        p.get(from..).and_then(|r| r.get(..n)).ok_or(DecodeErr::Eof)
    }

    fn be<const N: usize>(&self, from: usize) -> Result<[u8; N], DecodeErr> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.bytes(from, N)?);
        Ok(a)
    }

    fn consume(&mut self, n: usize) {
        let p: &'a [u8] = self.p;
        self.p = p.get(n..).unwrap_or(&[]);
    }
}

/// What decoding one item at the cursor produced.
enum Item {
    /// A complete value, pushed.
    Value,
    /// A new (pushed) array table expecting this many elements.
    Array(usize),
    /// A new (pushed) map table expecting this many pairs.
    Map(usize),
}

unsafe fn open_array(l: *mut lua_State, len: usize) -> Result<Item, DecodeErr> {
    ffi::lua_createtable(l, 0, 0);
    check_stack(l, 1, "in function mp_decode_to_lua_array")?;
    Ok(Item::Array(len))
}

unsafe fn open_map(l: *mut lua_State, len: usize) -> Item {
    ffi::lua_createtable(l, 0, 0);
    Item::Map(len)
}

/// An open container: elements still expected, next array index, map key pending.
struct Open {
    is_map: bool,
    left: usize,
    index: i32,
    have_key: bool,
}

/// Decodes one complete value (containers included) and pushes it, as
/// `mp_decode_to_lua_type`, iteratively: nesting is bounded by Lua's stack as in C,
/// not by the Rust call stack.
unsafe fn decode_value(l: *mut lua_State, c: &mut Cur) -> Result<(), DecodeErr> {
    let mut stack: Vec<Open> = Vec::new();
    loop {
        let mut complete = match decode_item(l, c)? {
            Item::Value => true,
            Item::Array(n) => {
                stack.push(Open {
                    is_map: false,
                    left: n,
                    index: 1,
                    have_key: false,
                });
                false
            }
            Item::Map(n) => {
                stack.push(Open {
                    is_map: true,
                    left: n,
                    index: 0,
                    have_key: false,
                });
                false
            }
        };
        loop {
            let Some(top) = stack.last_mut() else {
                return Ok(());
            };
            if complete {
                if !top.is_map {
                    ffi::lua_rawset(l, -3);
                    top.left -= 1;
                } else if !top.have_key {
                    top.have_key = true;
                    break;
                } else {
                    // lua_settable's own checks, reported without raising from here.
                    match ffi::lua_type(l, -2) {
                        ffi::LUA_TNIL => {
                            return Err(LibErr::Plain(b"table index is nil".to_vec()).into())
                        }
                        ffi::LUA_TNUMBER if ffi::lua_tonumber(l, -2).is_nan() => {
                            return Err(LibErr::Plain(b"table index is NaN".to_vec()).into())
                        }
                        _ => {}
                    }
                    ffi::lua_rawset(l, -3);
                    top.have_key = false;
                    top.left -= 1;
                }
            }
            if top.left == 0 {
                stack.pop();
                complete = true;
                continue;
            }
            if !top.is_map {
                ffi::lua_pushnumber(l, f64::from(top.index));
                top.index = top.index.wrapping_add(1);
            }
            break;
        }
    }
}

/// Decodes the item at the cursor: a value (pushed) or a container header (its
/// table pushed).
unsafe fn decode_item(l: *mut lua_State, c: &mut Cur) -> Result<Item, DecodeErr> {
    c.need(1)?;
    check_stack(
        l,
        1,
        "too many return values at once; use unpack_one or unpack_limit instead.",
    )?;
    let first = c.bytes(0, 1)?.first().copied().unwrap_or(0);
    match first {
        0xcc => {
            c.need(2)?;
            let [b] = c.be::<1>(1)?;
            ffi::lua_pushnumber(l, f64::from(b));
            c.consume(2);
        }
        0xd0 => {
            c.need(2)?;
            let [b] = c.be::<1>(1)?;
            ffi::lua_pushnumber(l, f64::from(b as i8));
            c.consume(2);
        }
        0xcd => {
            c.need(3)?;
            ffi::lua_pushnumber(l, f64::from(u16::from_be_bytes(c.be(1)?)));
            c.consume(3);
        }
        0xd1 => {
            c.need(3)?;
            ffi::lua_pushnumber(l, f64::from(i16::from_be_bytes(c.be(1)?)));
            c.consume(3);
        }
        0xce => {
            c.need(5)?;
            ffi::lua_pushnumber(l, f64::from(u32::from_be_bytes(c.be(1)?)));
            c.consume(5);
        }
        0xd2 => {
            c.need(5)?;
            ffi::lua_pushnumber(l, f64::from(i32::from_be_bytes(c.be(1)?)));
            c.consume(5);
        }
        0xcf => {
            c.need(9)?;
            // Pushed through lua_pushinteger (a signed 64-bit integer) as the C code does.
            ffi::lua_pushnumber(l, u64::from_be_bytes(c.be(1)?) as i64 as f64);
            c.consume(9);
        }
        0xd3 => {
            c.need(9)?;
            ffi::lua_pushnumber(l, i64::from_be_bytes(c.be(1)?) as f64);
            c.consume(9);
        }
        0xc0 => {
            ffi::lua_pushnil(l);
            c.consume(1);
        }
        0xc3 => {
            ffi::lua_pushboolean(l, 1);
            c.consume(1);
        }
        0xc2 => {
            ffi::lua_pushboolean(l, 0);
            c.consume(1);
        }
        0xca => {
            c.need(5)?;
            ffi::lua_pushnumber(l, f64::from(f32::from_be_bytes(c.be(1)?)));
            c.consume(5);
        }
        0xcb => {
            c.need(9)?;
            ffi::lua_pushnumber(l, f64::from_be_bytes(c.be(1)?));
            c.consume(9);
        }
        0xd9 => {
            c.need(2)?;
            let [n] = c.be::<1>(1)?;
            let n = usize::from(n);
            c.need(2 + n)?;
            push_bytes(l, c.bytes(2, n)?);
            c.consume(2 + n);
        }
        0xda => {
            c.need(3)?;
            let n = usize::from(u16::from_be_bytes(c.be(1)?));
            c.need(3 + n)?;
            push_bytes(l, c.bytes(3, n)?);
            c.consume(3 + n);
        }
        0xdb => {
            c.need(5)?;
            let n = u32::from_be_bytes(c.be(1)?) as usize;
            c.consume(5);
            c.need(n)?;
            push_bytes(l, c.bytes(0, n)?);
            c.consume(n);
        }
        0xdc => {
            c.need(3)?;
            let n = usize::from(u16::from_be_bytes(c.be(1)?));
            c.consume(3);
            return open_array(l, n);
        }
        0xdd => {
            c.need(5)?;
            let n = u32::from_be_bytes(c.be(1)?) as usize;
            c.consume(5);
            return open_array(l, n);
        }
        0xde => {
            c.need(3)?;
            let n = usize::from(u16::from_be_bytes(c.be(1)?));
            c.consume(3);
            return Ok(open_map(l, n));
        }
        0xdf => {
            c.need(5)?;
            let n = u32::from_be_bytes(c.be(1)?) as usize;
            c.consume(5);
            return Ok(open_map(l, n));
        }
        b if b & 0x80 == 0 => {
            ffi::lua_pushnumber(l, f64::from(b));
            c.consume(1);
        }
        b if b & 0xe0 == 0xe0 => {
            ffi::lua_pushnumber(l, f64::from(b as i8));
            c.consume(1);
        }
        b if b & 0xe0 == 0xa0 => {
            let n = usize::from(b & 0x1f);
            c.need(1 + n)?;
            push_bytes(l, c.bytes(1, n)?);
            c.consume(1 + n);
        }
        b if b & 0xf0 == 0x90 => {
            c.consume(1);
            return open_array(l, usize::from(b & 0xf));
        }
        b if b & 0xf0 == 0x80 => {
            c.consume(1);
            return Ok(open_map(l, usize::from(b & 0xf)));
        }
        _ => return Err(DecodeErr::BadFmt),
    }
    Ok(Item::Value)
}

/// `mp_unpack_full`: decodes up to `limit` values from `offset` (both 0: all values,
/// and no offset result).
unsafe fn unpack_full(l: *mut lua_State, limit: i64, offset: i64) -> LibResult<c_int> {
    let s = check_bytes(l, 1)?;
    let len = s.len();
    let decode_all = limit == 0 && offset == 0;
    if offset < 0 || limit < 0 {
        return Err(msg(format!(
            "Invalid request to unpack with offset of {} and limit of {}.",
            offset as i32, len as i32
        )));
    } else if offset as u64 > len as u64 {
        return Err(msg(format!(
            "Start offset {} greater than input length {}.",
            offset as i32, len as i32
        )));
    }
    let limit = if decode_all {
        i64::from(i32::MAX)
    } else {
        limit
    };
    let mut c = Cur {
        p: s.get(offset as usize..).unwrap_or(&[]),
    };
    let mut cnt: i32 = 0;
    while !c.p.is_empty() && i64::from(cnt) < limit {
        match decode_value(l, &mut c) {
            Ok(()) => {}
            Err(DecodeErr::Eof) => return Err(msg("Missing bytes in input.")),
            Err(DecodeErr::BadFmt) => return Err(msg("Bad data format in input.")),
            Err(DecodeErr::Lua(e)) => return Err(e),
        }
        cnt += 1;
    }
    if !decode_all {
        let new_offset = len - c.p.len();
        check_stack(l, 1, "in function mp_unpack_full")?;
        let v = if c.p.is_empty() {
            -1
        } else {
            new_offset as i64
        };
        ffi::lua_pushinteger(l, v as ffi::lua_Integer);
        ffi::lua_insert(l, 2);
        cnt += 1;
    }
    Ok(cnt)
}

unsafe extern "C-unwind" fn mp_pack(l: *mut lua_State) -> c_int {
    finish(l, pack_impl(l))
}

unsafe extern "C-unwind" fn mp_unpack(l: *mut lua_State) -> c_int {
    finish(l, unpack_full(l, 0, 0))
}

unsafe fn unpack_one_impl(l: *mut lua_State) -> LibResult<c_int> {
    let offset = opt_integer(l, 2, 0)?;
    ffi::lua_settop(l, 1.min(ffi::lua_gettop(l)));
    unpack_full(l, 1, offset)
}

unsafe extern "C-unwind" fn mp_unpack_one(l: *mut lua_State) -> c_int {
    finish(l, unpack_one_impl(l))
}

unsafe fn unpack_limit_impl(l: *mut lua_State) -> LibResult<c_int> {
    let limit = check_integer(l, 2)?;
    let offset = opt_integer(l, 3, 0)?;
    ffi::lua_settop(l, 1.min(ffi::lua_gettop(l)));
    unpack_full(l, limit, offset)
}

unsafe extern "C-unwind" fn mp_unpack_limit(l: *mut lua_State) -> c_int {
    finish(l, unpack_limit_impl(l))
}

/// Opens the library: sets the global `cmsgpack`.
pub(crate) unsafe extern "C-unwind" fn luaopen_cmsgpack(l: *mut lua_State) -> c_int {
    ffi::lua_createtable(l, 0, 0);
    let funcs: [(&std::ffi::CStr, ffi::lua_CFunction); 4] = [
        (c"pack", mp_pack),
        (c"unpack", mp_unpack),
        (c"unpack_one", mp_unpack_one),
        (c"unpack_limit", mp_unpack_limit),
    ];
    for (name, f) in funcs {
        ffi::lua_pushcclosure(l, f, 0);
        super::set_field(l, -2, name);
    }
    let meta: [(&std::ffi::CStr, &[u8]); 4] = [
        (c"_NAME", b"cmsgpack"),
        (c"_VERSION", b"lua-cmsgpack 0.4.0"),
        (c"_COPYRIGHT", b"Copyright (C) 2012, Salvatore Sanfilippo"),
        (c"_DESCRIPTION", b"MessagePack C implementation for Lua"),
    ];
    for (name, v) in meta {
        push_bytes(l, v);
        super::set_field(l, -2, name);
    }
    ffi::lua_pushvalue(l, -1);
    super::set_field(l, ffi::LUA_GLOBALSINDEX, c"cmsgpack");
    1
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{eval_err, eval_str, lua};
    use super::*;

    fn enc_num(n: f64) -> Vec<u8> {
        let mut b = Vec::new();
        encode_number(&mut b, n);
        b
    }

    #[test]
    fn number_encodings() {
        assert_eq!(enc_num(1.0), [0x01]);
        assert_eq!(enc_num(-1.0), [0xff]);
        assert_eq!(enc_num(-33.0), [0xd0, 0xdf]);
        assert_eq!(enc_num(200.0), [0xcc, 200]);
        assert_eq!(enc_num(65536.0), [0xce, 0, 1, 0, 0]);
        assert_eq!(enc_num(4294967296.0), [0xcf, 0, 0, 0, 1, 0, 0, 0, 0]);
        assert_eq!(enc_num(-40000.0), [0xd2, 0xff, 0xff, 0x63, 0xc0]);
        assert_eq!(enc_num(1.5), [0xca, 0x3f, 0xc0, 0, 0]);
        assert_eq!(enc_num(0.1)[0], 0xcb);
        assert_eq!(enc_num(f64::INFINITY)[0], 0xca);
        assert_eq!(enc_num(f64::NAN)[0], 0xcb);
        assert_eq!(enc_num(-0.0), [0x00]);
    }

    #[test]
    fn round_trips() {
        let l = lua();
        assert_eq!(
            eval_str(&l, "return cmsgpack.pack({1,2,3})"),
            b"\x93\x01\x02\x03"
        );
        assert_eq!(
            eval_str(&l, "return cmsgpack.pack({a=1})"),
            b"\x81\xa1a\x01"
        );
        assert_eq!(
            eval_str(&l, "return cmsgpack.pack(1, 'a', true)"),
            b"\x01\xa1a\xc3"
        );
        assert_eq!(eval_str(&l, "return cmsgpack.pack({})"), b"\x90");
        assert_eq!(
            eval_str(
                &l,
                "return cmsgpack.unpack(cmsgpack.pack({1,{x='y'}}))[2].x"
            ),
            b"y"
        );
        assert_eq!(
            eval_str(
                &l,
                "return select('#', cmsgpack.unpack(cmsgpack.pack(1,2,3)))"
            ),
            b"3"
        );
        assert_eq!(
            eval_str(
                &l,
                "return select(2, cmsgpack.unpack_one(cmsgpack.pack(7,8)))"
            ),
            b"7"
        );
        assert_eq!(
            eval_str(&l, "return cmsgpack.unpack_one(cmsgpack.pack(7,8))"),
            b"1"
        );
        assert_eq!(
            eval_str(&l, "return cmsgpack.unpack_one(cmsgpack.pack(7,8), 1)"),
            b"-1"
        );
        assert_eq!(
            eval_str(
                &l,
                "return select('#', cmsgpack.unpack_limit(cmsgpack.pack(1,2,3), 2))"
            ),
            b"3"
        );
        let big = "return #cmsgpack.pack(string.rep('x', 70000))";
        assert_eq!(eval_str(&l, big), b"70005");
    }

    #[test]
    fn errors() {
        let l = lua();
        let e = eval_err(&l, "return cmsgpack.pack()");
        assert!(
            e.ends_with("bad argument #0 to 'pack' (MessagePack pack needs input.)"),
            "{e}"
        );
        let e = eval_err(&l, "return cmsgpack.unpack('\\205\\1')");
        assert!(e.ends_with("Missing bytes in input."), "{e}");
        let e = eval_err(&l, "return cmsgpack.unpack('\\193')");
        assert!(e.ends_with("Bad data format in input."), "{e}");
        let e = eval_err(&l, "return cmsgpack.unpack('\\129\\192\\1')");
        assert_eq!(e, "table index is nil");
        let e = eval_err(&l, "return cmsgpack.unpack_one('ab', 5)");
        assert!(
            e.ends_with("Start offset 5 greater than input length 2."),
            "{e}"
        );
    }
}
