//! `bit`: LuaBitOp 1.0.2 semantics on Lua 5.1 doubles. Arguments are normalised to
//! 32 bits the way LuaBitOp does (adding 2^52+2^51 and taking the low word, so
//! out-of-range numbers wrap and fractions round to nearest even), results are signed
//! 32-bit numbers.

use std::os::raw::c_int;

use mlua::ffi;
use mlua::lua_State;

use super::{finish, LibErr, LibResult};

/// LuaBitOp's `barg`: the argument at `idx` as 32 bits.
unsafe fn barg(l: *mut lua_State, idx: c_int) -> LibResult<u32> {
    let n = ffi::lua_tonumber(l, idx);
    let b = tobit_bits(n);
    if b == 0 && ffi::lua_isnumber(l, idx) == 0 {
        return Err(LibErr::Type(idx, c"number"));
    }
    Ok(b)
}

/// The low word of `n + 2^52 + 2^51`.
pub(crate) fn tobit_bits(n: f64) -> u32 {
    (n + 6_755_399_441_055_744.0).to_bits() as u32
}

unsafe fn bret(l: *mut lua_State, b: u32) -> LibResult<c_int> {
    ffi::lua_pushnumber(l, f64::from(b as i32));
    Ok(1)
}

unsafe extern "C-unwind" fn bit_tobit(l: *mut lua_State) -> c_int {
    finish(l, barg(l, 1).and_then(|b| bret(l, b)))
}

unsafe extern "C-unwind" fn bit_bnot(l: *mut lua_State) -> c_int {
    finish(l, barg(l, 1).and_then(|b| bret(l, !b)))
}

unsafe fn fold(l: *mut lua_State, op: fn(u32, u32) -> u32) -> LibResult<c_int> {
    let mut b = barg(l, 1)?;
    let mut i = ffi::lua_gettop(l);
    while i > 1 {
        b = op(b, barg(l, i)?);
        i -= 1;
    }
    bret(l, b)
}

unsafe extern "C-unwind" fn bit_band(l: *mut lua_State) -> c_int {
    finish(l, fold(l, |a, b| a & b))
}

unsafe extern "C-unwind" fn bit_bor(l: *mut lua_State) -> c_int {
    finish(l, fold(l, |a, b| a | b))
}

unsafe extern "C-unwind" fn bit_bxor(l: *mut lua_State) -> c_int {
    finish(l, fold(l, |a, b| a ^ b))
}

unsafe fn shift(l: *mut lua_State, op: fn(u32, u32) -> u32) -> LibResult<c_int> {
    let b = barg(l, 1)?;
    let n = barg(l, 2)? & 31;
    bret(l, op(b, n))
}

unsafe extern "C-unwind" fn bit_lshift(l: *mut lua_State) -> c_int {
    finish(l, shift(l, |b, n| b << n))
}

unsafe extern "C-unwind" fn bit_rshift(l: *mut lua_State) -> c_int {
    finish(l, shift(l, |b, n| b >> n))
}

unsafe extern "C-unwind" fn bit_arshift(l: *mut lua_State) -> c_int {
    finish(l, shift(l, |b, n| ((b as i32) >> n) as u32))
}

unsafe extern "C-unwind" fn bit_rol(l: *mut lua_State) -> c_int {
    finish(l, shift(l, |b, n| b.rotate_left(n)))
}

unsafe extern "C-unwind" fn bit_ror(l: *mut lua_State) -> c_int {
    finish(l, shift(l, |b, n| b.rotate_right(n)))
}

unsafe extern "C-unwind" fn bit_bswap(l: *mut lua_State) -> c_int {
    finish(l, barg(l, 1).and_then(|b| bret(l, b.swap_bytes())))
}

/// `bit.tohex(x [, n])`: `n` hex digits (default 8, at most 8), upper case when `n`
/// is negative.
pub(crate) fn tohex(b: u32, n: i32) -> Vec<u8> {
    let mut n = if n == i32::MIN { i32::MIN + 1 } else { n };
    let digits: &[u8; 16] = if n < 0 {
        n = -n;
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let n = n.min(8) as usize;
    let mut out = vec![0u8; n];
    let mut b = b;
    for slot in out.iter_mut().rev() {
        *slot = digits[(b & 15) as usize];
        b >>= 4;
    }
    out
}

unsafe fn tohex_impl(l: *mut lua_State) -> LibResult<c_int> {
    let b = barg(l, 1)?;
    let n = if ffi::lua_isnone(l, 2) != 0 {
        8
    } else {
        barg(l, 2)? as i32
    };
    let s = tohex(b, n);
    super::push_bytes(l, &s);
    Ok(1)
}

unsafe extern "C-unwind" fn bit_tohex(l: *mut lua_State) -> c_int {
    finish(l, tohex_impl(l))
}

const FUNCS: [(&std::ffi::CStr, ffi::lua_CFunction); 12] = [
    (c"tobit", bit_tobit),
    (c"bnot", bit_bnot),
    (c"band", bit_band),
    (c"bor", bit_bor),
    (c"bxor", bit_bxor),
    (c"lshift", bit_lshift),
    (c"rshift", bit_rshift),
    (c"arshift", bit_arshift),
    (c"rol", bit_rol),
    (c"ror", bit_ror),
    (c"bswap", bit_bswap),
    (c"tohex", bit_tohex),
];

/// Opens the library: sets the global `bit` (as `luaL_register(L, "bit", ...)`).
pub(crate) unsafe extern "C-unwind" fn luaopen_bit(l: *mut lua_State) -> c_int {
    super::register_lib(l, c"bit", &FUNCS);
    1
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{eval_err, eval_str, lua};
    use super::*;

    #[test]
    fn normalisation() {
        assert_eq!(tobit_bits(-1.0), 0xffff_ffff);
        assert_eq!(tobit_bits(4294967296.0 + 5.0), 5);
        assert_eq!(tobit_bits(2.5), 2);
        assert_eq!(tobit_bits(3.5), 4);
        assert_eq!(tohex(0xffff_ffff, 8), b"ffffffff");
        assert_eq!(tohex(0x1234, -4), b"1234");
        assert_eq!(tohex(0xabcd, -2), b"CD");
        assert_eq!(tohex(1, 0), b"");
        assert_eq!(tohex(1, 100), b"00000001");
    }

    #[test]
    fn operations() {
        let l = lua();
        assert_eq!(eval_str(&l, "return bit.tohex(-1)"), b"ffffffff");
        assert_eq!(eval_str(&l, "return bit.tobit(2^32 + 7)"), b"7");
        assert_eq!(eval_str(&l, "return bit.band(0xff, 0x0f, 0x3)"), b"3");
        assert_eq!(eval_str(&l, "return bit.bor(1, 2, 4, 8)"), b"15");
        assert_eq!(eval_str(&l, "return bit.bxor(5, 3)"), b"6");
        assert_eq!(eval_str(&l, "return bit.bnot(0)"), b"-1");
        assert_eq!(eval_str(&l, "return bit.lshift(1, 31)"), b"-2147483648");
        assert_eq!(eval_str(&l, "return bit.rshift(-1, 28)"), b"15");
        assert_eq!(eval_str(&l, "return bit.arshift(-256, 4)"), b"-16");
        assert_eq!(eval_str(&l, "return bit.rol(0x12345678, 8)"), b"878082066");
        assert_eq!(eval_str(&l, "return bit.ror(0x12345678, 8)"), b"2014458966");
        assert_eq!(eval_str(&l, "return bit.bswap(0x12345678)"), b"2018915346");
        assert_eq!(eval_str(&l, "return bit.tobit('12')"), b"12");
    }

    #[test]
    fn errors() {
        let l = lua();
        let e = eval_err(&l, "return bit.tobit('x')");
        assert!(
            e.ends_with("bad argument #1 to 'tobit' (number expected, got string)"),
            "{e}"
        );
        let e = eval_err(&l, "return bit.band(1, {})");
        assert!(
            e.ends_with("bad argument #2 to 'band' (number expected, got table)"),
            "{e}"
        );
    }
}
