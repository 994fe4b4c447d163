//! `struct`: Roberto Ierusalimschy's struct library (1.4, as bundled by Redis, with
//! Redis's overflow check on counts): `pack`, `unpack` and `size` with the format
//! characters `> < ! x b B h H l L T i I c s f d` and space, on x86-64 sizes
//! (`long` and `size_t` are 8 bytes, `int` 4, native order little endian).

use std::os::raw::c_int;

use mlua::ffi;
use mlua::lua_State;

use super::{
    c_f64_to_i64, check_bytes, check_number, check_stack, finish, msg, opt_integer, push_bytes,
    LibErr, LibResult,
};

const MAXINTSIZE: i32 = 32;
const MAXALIGN: i32 = 8;

#[derive(Clone, Copy, PartialEq)]
enum Endian {
    Big,
    Little,
}

struct Header {
    endian: Endian,
    align: usize,
}

impl Header {
    fn new() -> Header {
        Header {
            endian: Endian::Little,
            align: 1,
        }
    }
}

/// A cursor over the (NUL-terminated, as C sees it) format string.
struct Fmt<'a> {
    s: &'a [u8],
    i: usize,
}

impl Fmt<'_> {
    /// The next option character, or `None` at the end (or at an embedded NUL).
    fn next_opt(&mut self) -> Option<u8> {
        match self.s.get(self.i) {
            Some(&c) if c != 0 => {
                self.i += 1;
                Some(c)
            }
            _ => None,
        }
    }

    fn peek_digit(&self) -> Option<i32> {
        match self.s.get(self.i) {
            Some(&c) if c.is_ascii_digit() => Some(i32::from(c - b'0')),
            _ => None,
        }
    }

    /// `getnum`: a decimal count after an option, or `df`.
    fn getnum(&mut self, df: i32) -> LibResult<i32> {
        if self.peek_digit().is_none() {
            return Ok(df);
        }
        let mut a: i32 = 0;
        while let Some(d) = self.peek_digit() {
            if a > i32::MAX / 10 || a * 10 > i32::MAX - d {
                return Err(msg("integral size overflow"));
            }
            a = a * 10 + d;
            self.i += 1;
        }
        Ok(a)
    }
}

/// `optsize`: the size in bytes of option `opt` (0 for options without data).
fn optsize(opt: u8, fmt: &mut Fmt) -> LibResult<usize> {
    Ok(match opt {
        b'B' | b'b' => 1,
        b'H' | b'h' => 2,
        b'L' | b'l' | b'T' => 8,
        b'f' => 4,
        b'd' => 8,
        b'x' => 1,
        b'c' => fmt.getnum(1)? as usize,
        b'i' | b'I' => {
            let sz = fmt.getnum(4)?;
            if sz > MAXINTSIZE {
                return Err(msg(format!(
                    "integral size {sz} is larger than limit of {MAXINTSIZE}"
                )));
            }
            sz as usize
        }
        _ => 0,
    })
}

/// `gettoalign`: padding needed before an item of `size` at offset `len`.
fn gettoalign(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = if size > h.align { h.align } else { size };
    (size.wrapping_sub(len & size.wrapping_sub(1))) & size.wrapping_sub(1)
}

fn isp2(x: i32) -> bool {
    x > 0 && (x & (x - 1)) == 0
}

/// `controloptions`: endianness, alignment, spaces; anything else is an invalid option.
fn controloptions(opt: u8, fmt: &mut Fmt, h: &mut Header) -> LibResult<()> {
    match opt {
        b' ' => {}
        b'>' => h.endian = Endian::Big,
        b'<' => h.endian = Endian::Little,
        b'!' => {
            let a = fmt.getnum(MAXALIGN)?;
            if !isp2(a) {
                return Err(msg(format!("alignment {a} is not a power of 2")));
            }
            h.align = a as usize;
        }
        _ => {
            let mut m = b"invalid format option '".to_vec();
            m.push(opt);
            m.push(b'\'');
            return Err(LibErr::Arg(1, m));
        }
    }
    Ok(())
}

/// C's `(unsigned long)d` on x86-64 as gcc compiles it.
fn c_f64_to_u64(d: f64) -> u64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    if d.is_nan() || d < TWO63 {
        c_f64_to_i64(d) as u64
    } else {
        (c_f64_to_i64(d - TWO63) as u64) ^ (1u64 << 63)
    }
}

fn putinteger(out: &mut Vec<u8>, n: f64, endian: Endian, size: usize) {
    let mut value: u64 = if n < 0.0 {
        c_f64_to_i64(n) as u64
    } else {
        c_f64_to_u64(n)
    };
    let mut buff = [0u8; MAXINTSIZE as usize];
    let size = size.min(buff.len());
    let mut fill = |slot: &mut u8| {
        *slot = (value & 0xff) as u8;
        value >>= 8;
    };
    match endian {
        Endian::Little => buff.iter_mut().take(size).for_each(&mut fill),
        Endian::Big => buff.iter_mut().take(size).rev().for_each(&mut fill),
    }
    out.extend_from_slice(buff.get(..size).unwrap_or(&[]));
}

fn ordered(bytes: &[u8], endian: Endian) -> Vec<u8> {
    let mut v = bytes.to_vec();
    if endian == Endian::Big {
        v.reverse();
    }
    v
}

unsafe fn pack_impl(l: *mut lua_State) -> LibResult<c_int> {
    let fmt_bytes = check_bytes(l, 1)?;
    let mut fmt = Fmt { s: fmt_bytes, i: 0 };
    let mut h = Header::new();
    let mut arg: c_int = 2;
    let mut totalsize: usize = 0;
    let mut out: Vec<u8> = Vec::new();
    // The C version pushes a nil mark between the arguments and its string buffer:
    // reading past the last argument finds nil, not "no value".
    ffi::lua_pushnil(l);
    while let Some(opt) = fmt.next_opt() {
        let mut size = optsize(opt, &mut fmt)?;
        let toalign = gettoalign(totalsize, &h, opt, size);
        totalsize = totalsize.wrapping_add(toalign);
        out.resize(out.len().saturating_add(toalign), 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = check_number(l, arg)?;
                arg += 1;
                putinteger(&mut out, n, h.endian, size);
            }
            b'x' => out.push(0),
            b'f' => {
                let f = check_number(l, arg)? as f32;
                arg += 1;
                out.extend_from_slice(&ordered(&f.to_le_bytes(), h.endian));
            }
            b'd' => {
                let d = check_number(l, arg)?;
                arg += 1;
                out.extend_from_slice(&ordered(&d.to_le_bytes(), h.endian));
            }
            b'c' | b's' => {
                let s = check_bytes(l, arg)?;
                arg += 1;
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    return Err(LibErr::Arg(arg, b"string too short".to_vec()));
                }
                out.extend_from_slice(s.get(..size).unwrap_or(s));
                if opt == b's' {
                    out.push(0);
                    size += 1;
                }
            }
            _ => controloptions(opt, &mut fmt, &mut h)?,
        }
        totalsize = totalsize.wrapping_add(size);
    }
    push_bytes(l, &out);
    Ok(1)
}

fn getinteger(buff: &[u8], endian: Endian, issigned: bool, size: usize) -> f64 {
    let mut l: u64 = 0;
    let bytes = buff.get(..size).unwrap_or(buff);
    let mut add = |b: &u8| {
        l <<= 8;
        l |= u64::from(*b);
    };
    match endian {
        Endian::Big => bytes.iter().for_each(&mut add),
        Endian::Little => bytes.iter().rev().for_each(&mut add),
    }
    if !issigned {
        l as f64
    } else {
        let shift = ((size as i64).wrapping_mul(8).wrapping_sub(1) as u32) & 63;
        let mask = u64::MAX << shift;
        if l & mask != 0 {
            l |= mask;
        }
        l as i64 as f64
    }
}

fn too_short() -> LibErr {
    LibErr::Arg(2, b"data string too short".to_vec())
}

unsafe fn unpack_impl(l: *mut lua_State) -> LibResult<c_int> {
    let fmt_bytes = check_bytes(l, 1)?;
    let data = check_bytes(l, 2)?;
    let ld = data.len();
    let mut pos = (opt_integer(l, 3, 1)?.wrapping_sub(1)) as usize;
    let mut fmt = Fmt { s: fmt_bytes, i: 0 };
    let mut h = Header::new();
    ffi::lua_settop(l, 2);
    while let Some(opt) = fmt.next_opt() {
        let mut size = optsize(opt, &mut fmt)?;
        pos = pos.wrapping_add(gettoalign(pos, &h, opt, size));
        if pos.wrapping_add(size) > ld {
            return Err(too_short());
        }
        check_stack(l, 1, "too many results")?;
        // The bytes of this item (C reads out of bounds when `pos` wrapped around;
        // here that is the "too short" error).
        let item = |size: usize| data.get(pos..).and_then(|d| d.get(..size));
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let bytes = item(size).ok_or_else(too_short)?;
                let res = getinteger(bytes, h.endian, opt.is_ascii_lowercase(), size);
                ffi::lua_pushnumber(l, res);
            }
            b'x' => {}
            b'f' => {
                let bytes = item(4).ok_or_else(too_short)?;
                let mut b = [0u8; 4];
                b.copy_from_slice(&ordered(bytes, h.endian));
                ffi::lua_pushnumber(l, f64::from(f32::from_le_bytes(b)));
            }
            b'd' => {
                let bytes = item(8).ok_or_else(too_short)?;
                let mut b = [0u8; 8];
                b.copy_from_slice(&ordered(bytes, h.endian));
                ffi::lua_pushnumber(l, f64::from_le_bytes(b));
            }
            b'c' => {
                if size == 0 {
                    if ffi::lua_isnumber(l, -1) == 0 {
                        return Err(msg("format 'c0' needs a previous size"));
                    }
                    size = c_f64_to_u64(ffi::lua_tonumber(l, -1)) as usize;
                    ffi::lua_pop(l, 1);
                    if pos.wrapping_add(size) > ld {
                        return Err(too_short());
                    }
                }
                let bytes = item(size).ok_or_else(too_short)?;
                push_bytes(l, bytes);
            }
            b's' => {
                let rest = data.get(pos..).unwrap_or(&[]);
                match rest.iter().position(|&b| b == 0) {
                    None => return Err(msg("unfinished string in data")),
                    Some(e) => {
                        size = e + 1;
                        push_bytes(l, rest.get(..e).unwrap_or(&[]));
                    }
                }
            }
            _ => controloptions(opt, &mut fmt, &mut h)?,
        }
        pos = pos.wrapping_add(size);
    }
    ffi::lua_pushinteger(l, pos.wrapping_add(1) as isize as ffi::lua_Integer);
    Ok(ffi::lua_gettop(l) - 2)
}

unsafe fn size_impl(l: *mut lua_State) -> LibResult<c_int> {
    let fmt_bytes = check_bytes(l, 1)?;
    let mut fmt = Fmt { s: fmt_bytes, i: 0 };
    let mut h = Header::new();
    let mut pos: usize = 0;
    while let Some(opt) = fmt.next_opt() {
        let size = optsize(opt, &mut fmt)?;
        pos = pos.wrapping_add(gettoalign(pos, &h, opt, size));
        if opt == b's' {
            return Err(LibErr::Arg(1, b"option 's' has no fixed size".to_vec()));
        } else if opt == b'c' && size == 0 {
            return Err(LibErr::Arg(1, b"option 'c0' has no fixed size".to_vec()));
        }
        if !opt.is_ascii_alphanumeric() {
            controloptions(opt, &mut fmt, &mut h)?;
        }
        pos = pos.wrapping_add(size);
    }
    ffi::lua_pushinteger(l, pos as isize as ffi::lua_Integer);
    Ok(1)
}

unsafe extern "C-unwind" fn b_pack(l: *mut lua_State) -> c_int {
    finish(l, pack_impl(l))
}

unsafe extern "C-unwind" fn b_unpack(l: *mut lua_State) -> c_int {
    finish(l, unpack_impl(l))
}

unsafe extern "C-unwind" fn b_size(l: *mut lua_State) -> c_int {
    finish(l, size_impl(l))
}

/// Opens the library: sets the global `struct`.
pub(crate) unsafe extern "C-unwind" fn luaopen_struct(l: *mut lua_State) -> c_int {
    super::register_lib(
        l,
        c"struct",
        &[(c"pack", b_pack), (c"unpack", b_unpack), (c"size", b_size)],
    );
    1
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{eval_err, eval_str, lua};
    use super::*;

    #[test]
    fn conversions() {
        assert_eq!(c_f64_to_u64(1.0), 1);
        assert_eq!(c_f64_to_u64(1.8446744073709552e19), 0);
        assert_eq!(c_f64_to_u64(9.3e18), 9_300_000_000_000_000_000);
        assert_eq!(getinteger(&[0xff, 0xfe], Endian::Big, true, 2), -2.0);
        assert_eq!(getinteger(&[0xff, 0xfe], Endian::Big, false, 2), 65534.0);
        assert_eq!(getinteger(&[0x01, 0x02], Endian::Little, false, 2), 513.0);
        let mut v = Vec::new();
        putinteger(&mut v, 258.0, Endian::Big, 2);
        assert_eq!(v, [1, 2]);
        let mut v = Vec::new();
        putinteger(&mut v, -1.0, Endian::Little, 4);
        assert_eq!(v, [0xff; 4]);
    }

    #[test]
    fn pack_unpack() {
        let l = lua();
        assert_eq!(eval_str(&l, "return struct.pack('>I2', 258)"), b"\x01\x02");
        assert_eq!(
            eval_str(&l, "return struct.pack('<i4', -2)"),
            b"\xfe\xff\xff\xff"
        );
        assert_eq!(eval_str(&l, "return struct.pack('s', 'ab')"), b"ab\0");
        assert_eq!(
            eval_str(&l, "return struct.pack('!4bi', 1, 2)"),
            b"\x01\0\0\0\x02\0\0\0"
        );
        assert_eq!(
            eval_str(&l, "return struct.unpack('>h', '\\255\\254')"),
            b"-2"
        );
        assert_eq!(
            eval_str(&l, "return select(2, struct.unpack('>h', '\\255\\254'))"),
            b"3"
        );
        assert_eq!(eval_str(&l, "return struct.unpack('bc0', '\\2hi')"), b"hi");
        assert_eq!(eval_str(&l, "return struct.unpack('s', 'ab\\0c')"), b"ab");
        assert_eq!(
            eval_str(&l, "return struct.unpack('>d', struct.pack('>d', 1.5))"),
            b"1.5"
        );
        assert_eq!(
            eval_str(&l, "return struct.unpack('f', struct.pack('f', 0.5))"),
            b"0.5"
        );
        assert_eq!(eval_str(&l, "return struct.size('!8bd')"), b"16");
        assert_eq!(eval_str(&l, "return struct.size('q')"), b"0");
    }

    #[test]
    fn errors() {
        let l = lua();
        let e = eval_err(&l, "return struct.pack('q', 1)");
        assert!(
            e.ends_with("bad argument #1 to 'pack' (invalid format option 'q')"),
            "{e}"
        );
        let e = eval_err(&l, "return struct.pack('i99999999999')");
        assert!(e.ends_with("integral size overflow"), "{e}");
        let e = eval_err(&l, "return struct.pack('i33', 1)");
        assert!(
            e.ends_with("integral size 33 is larger than limit of 32"),
            "{e}"
        );
        let e = eval_err(&l, "return struct.pack('!3')");
        assert!(e.ends_with("alignment 3 is not a power of 2"), "{e}");
        let e = eval_err(&l, "return struct.unpack('i', 'ab')");
        assert!(
            e.ends_with("bad argument #2 to 'unpack' (data string too short)"),
            "{e}"
        );
        let e = eval_err(&l, "return struct.pack('c3', 'ab')");
        assert!(
            e.ends_with("bad argument #3 to 'pack' (string too short)"),
            "{e}"
        );
        let e = eval_err(&l, "return struct.size('s')");
        assert!(e.ends_with("(option 's' has no fixed size)"), "{e}");
        let e = eval_err(&l, "return struct.unpack('s', 'ab')");
        assert!(e.ends_with("unfinished string in data"), "{e}");
        let e = eval_err(&l, "return struct.pack('ii', 1)");
        assert!(e.ends_with("(number expected, got nil)"), "{e}");
    }
}
