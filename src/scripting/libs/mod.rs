//! The Lua libraries Redis loads into its scripting environment besides Lua's own:
//! `cjson`, `cmsgpack`, `bit` and `struct`, reimplemented in Rust with the same
//! behaviour (encodings, number formatting, errors) as the C versions Redis bundles.
//!
//! They are written against Lua's C API (`mlua::ffi`) rather than mlua's safe value
//! layer, for fidelity: mlua turns a Lua number with no fractional part (within
//! `f64::EPSILON`) into an integer, so `-0.0` and `1e-17` would not survive, and a Rust
//! callback's error reaches Lua as a userdata, while Redis's libraries raise plain
//! strings carrying the caller's `user_script:N:` position, and their argument errors
//! name the function as the caller spelled it (`bad argument #1 to 'tobit'`). As C
//! functions these libraries see the same stack, iterate tables with the same
//! `lua_next` order and raise the same messages as the originals.
//!
//! Raising a Lua error long-jumps over the Rust frames between the Lua call and the
//! raise. To keep that sound, no function raises while it holds a value with a
//! destructor: library code reports failures as [`LibErr`] values, and only the entry
//! points ([`finish`]) raise, after everything they own has been dropped.

use std::ffi::CStr;
use std::os::raw::c_int;

use mlua::ffi;
use mlua::lua_State;

pub mod bit;
pub mod cjson;
pub mod cmsgpack;
pub mod struct_;

/// Registers the libraries as globals of `lua`, as Redis's `luaLoadLibraries` does
/// (each library's opener sets its own global: `cjson`, `struct`, `cmsgpack`, `bit`).
pub fn register_all(lua: &mlua::Lua) -> mlua::Result<()> {
    let openers: [ffi::lua_CFunction; 4] = [
        cjson::luaopen_cjson,
        struct_::luaopen_struct,
        cmsgpack::luaopen_cmsgpack,
        bit::luaopen_bit,
    ];
    for open in openers {
        // SAFETY: the openers are C functions following Lua's calling convention; mlua
        // calls them in protected mode.
        let f = unsafe { lua.create_c_function(open)? };
        f.call::<()>(())?;
    }
    Ok(())
}

/// A failure to be raised as a Lua error by an entry point.
#[derive(Debug)]
pub(crate) enum LibErr {
    /// `luaL_error`: the message prefixed with the caller's position (`user_script:1: `).
    Msg(Vec<u8>),
    /// `luaL_argerror(narg, msg)`: `bad argument #narg to 'name' (msg)`.
    Arg(c_int, Vec<u8>),
    /// `luaL_typerror(narg, tname)`: `bad argument #narg to 'name' (tname expected, got x)`.
    Type(c_int, &'static CStr),
    /// An error raised by the Lua core from inside a C function (`table index is nil`):
    /// no position prefix.
    Plain(Vec<u8>),
}

pub(crate) type LibResult<T> = Result<T, LibErr>;

pub(crate) fn msg(s: impl Into<Vec<u8>>) -> LibErr {
    LibErr::Msg(s.into())
}

/// Completes an entry point: the number of results, or raises the error.
///
/// # Safety
/// `l` must be the state the entry point was called with.
pub(crate) unsafe fn finish(l: *mut lua_State, r: LibResult<c_int>) -> c_int {
    match r {
        Ok(n) => n,
        Err(e) => raise(l, e),
    }
}

/// Raises `e` as a Lua error; never returns. Everything it owns is dropped before the
/// long jump.
unsafe fn raise(l: *mut lua_State, e: LibErr) -> c_int {
    // Room for the message pieces even when the failing code used up the stack (its
    // values are not needed for the error).
    if ffi::lua_checkstack(l, 4) == 0 {
        ffi::lua_settop(l, 0);
    }
    match e {
        LibErr::Msg(m) => {
            ffi::luaL_where(l, 1);
            push_bytes(l, &m);
            drop(m);
            ffi::lua_concat(l, 2);
            ffi::lua_error(l)
        }
        LibErr::Arg(narg, m) => {
            push_bytes(l, &m);
            drop(m);
            let extra = ffi::lua_tolstring(l, -1, std::ptr::null_mut());
            ffi::luaL_argerror(l, narg, extra)
        }
        LibErr::Type(narg, tname) => ffi::luaL_typerror(l, narg, tname.as_ptr()),
        LibErr::Plain(m) => {
            push_bytes(l, &m);
            drop(m);
            ffi::lua_error(l)
        }
    }
}

pub(crate) unsafe fn push_bytes(l: *mut lua_State, b: &[u8]) {
    ffi::lua_pushlstring_(l, b.as_ptr().cast(), b.len());
}

/// The bytes of the string (or number, converted in place) at `idx`, if it is one.
/// The slice borrows Lua's string: valid while the value stays on the stack.
pub(crate) unsafe fn to_bytes<'a>(l: *mut lua_State, idx: c_int) -> Option<&'a [u8]> {
    let mut len = 0usize;
    let p = ffi::lua_tolstring(l, idx, &mut len);
    if p.is_null() {
        None
    } else {
        Some(std::slice::from_raw_parts(p.cast::<u8>(), len))
    }
}

/// `luaL_checklstring` without raising.
pub(crate) unsafe fn check_bytes<'a>(l: *mut lua_State, narg: c_int) -> LibResult<&'a [u8]> {
    to_bytes(l, narg).ok_or(LibErr::Type(narg, c"string"))
}

/// `luaL_checknumber` without raising.
pub(crate) unsafe fn check_number(l: *mut lua_State, narg: c_int) -> LibResult<f64> {
    let d = ffi::lua_tonumber(l, narg);
    if d == 0.0 && ffi::lua_isnumber(l, narg) == 0 {
        return Err(LibErr::Type(narg, c"number"));
    }
    Ok(d)
}

/// `luaL_checkinteger` without raising (Lua 5.1's truncating conversion).
pub(crate) unsafe fn check_integer(l: *mut lua_State, narg: c_int) -> LibResult<i64> {
    let d = ffi::lua_tointeger_(l, narg) as i64;
    if d == 0 && ffi::lua_isnumber(l, narg) == 0 {
        return Err(LibErr::Type(narg, c"number"));
    }
    Ok(d)
}

/// `luaL_optinteger` without raising.
pub(crate) unsafe fn opt_integer(l: *mut lua_State, narg: c_int, def: i64) -> LibResult<i64> {
    if ffi::lua_type(l, narg) <= ffi::LUA_TNIL {
        Ok(def)
    } else {
        check_integer(l, narg)
    }
}

/// `luaL_checkstack` without raising.
pub(crate) unsafe fn check_stack(l: *mut lua_State, n: c_int, what: &str) -> LibResult<()> {
    if ffi::lua_checkstack(l, n) == 0 {
        return Err(msg(format!("stack overflow ({what})")));
    }
    Ok(())
}

/// `lua_typename(lua_type(idx))`.
pub(crate) unsafe fn type_name(l: *mut lua_State, idx: c_int) -> String {
    let p = ffi::lua_typename(l, ffi::lua_type(l, idx));
    if p.is_null() {
        return String::new();
    }
    CStr::from_ptr(p).to_string_lossy().into_owned()
}

/// C's conversion of a double to a 64-bit integer on x86-64 (`cvttsd2si`): truncation,
/// with NaN and out-of-range values giving `i64::MIN`.
pub(crate) fn c_f64_to_i64(d: f64) -> i64 {
    if !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&d) {
        i64::MIN
    } else {
        d as i64
    }
}

/// C's conversion of a double to `int` on x86-64: truncation, NaN and out-of-range
/// values giving `i32::MIN`.
pub(crate) fn c_f64_to_i32(d: f64) -> i32 {
    if !(d > -2_147_483_649.0 && d < 2_147_483_648.0) {
        i32::MIN
    } else {
        d as i32
    }
}

/// Sets `t[name] = value-on-top` for the table at `idx` (pops the value).
pub(crate) unsafe fn set_field(l: *mut lua_State, idx: c_int, name: &CStr) {
    ffi::lua_setfield(l, idx, name.as_ptr());
}

/// `luaL_register(L, name, funcs)` for a fresh environment: a table sized for the
/// functions (the size hint matters: it decides `pairs` order), filled in order, set
/// as the global `name` and left on the stack.
pub(crate) unsafe fn register_lib(
    l: *mut lua_State,
    name: &CStr,
    funcs: &[(&CStr, ffi::lua_CFunction)],
) {
    ffi::lua_createtable(l, 0, c_int::try_from(funcs.len()).unwrap_or(0));
    for (fname, f) in funcs {
        ffi::lua_pushcclosure(l, *f, 0);
        set_field(l, -2, fname);
    }
    ffi::lua_pushvalue(l, -1);
    set_field(l, ffi::LUA_GLOBALSINDEX, name);
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Helpers for the libraries' unit tests: a Lua state with the libraries loaded.

    pub fn lua() -> mlua::Lua {
        let lua = mlua::Lua::new();
        super::register_all(&lua).expect("register libraries");
        lua
    }

    /// Evaluates `code` (a chunk with a `return`) and gives the first result as bytes
    /// (strings as they are, numbers as Lua's `tostring`).
    pub fn eval_str(lua: &mlua::Lua, code: &str) -> Vec<u8> {
        let v: mlua::Value = lua.load(code).eval().expect("eval");
        match v {
            mlua::Value::String(s) => s.as_bytes().to_vec(),
            other => other.to_string().expect("tostring").into_bytes(),
        }
    }

    /// Evaluates `code` and returns its error message (the code must fail).
    pub fn eval_err(lua: &mlua::Lua, code: &str) -> String {
        let wrapped = format!("local ok, e = pcall(function() {code} end) assert(not ok) return e");
        String::from_utf8_lossy(&eval_str(lua, &wrapped)).into_owned()
    }
}
