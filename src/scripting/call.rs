//! `redis.call`, `redis.pcall` and `redis.acl_check_cmd` as Lua C functions, written
//! against Lua's C API like Redis's `luaRedisGenericCommand`: the arguments are read
//! off the Lua stack straight into the argument list the host takes, and the reply
//! bytes are pushed back as Lua values with raw calls (`redisProtocolToLuaType`), with
//! none of mlua's per-call value conversions, registry references or trampolines.
//!
//! Reply → Lua, RESP2: integer → number, bulk → string, null bulk / null array →
//! `false`, array → table, status → `{ok=...}`, error → `{err=...}` (raised by
//! `redis.call`, returned by `redis.pcall`). RESP3 (after `redis.setresp(3)`) adds:
//! null → `nil`, map → `{map={...}}`, set → `{set={...}}`, boolean → boolean, double →
//! `{double=n}`, big number → `{big_number=s}`, verbatim →
//! `{verbatim_string={format=, string=}}`; attributes are skipped.
//!
//! Raising a Lua error long-jumps over the Rust frames between the Lua call and the
//! raise. So nothing here owns a value with a destructor while Lua may raise: the
//! argument list and the reply buffer belong to the engine's [`Slot`] (borrowed here),
//! an error text from the host is copied into that buffer and dropped before it is
//! pushed, and the error table of `redis.call` is raised by the entry point after
//! everything else has returned. A panic in the host is caught, kept in the slot and
//! resumed by the engine once the script is over.

use std::os::raw::{c_char, c_int};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;

use mlua::ffi::{self, lua_State};

use super::{convert, Host, Slot};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `redis.call`: raises errors.
    Call,
    /// `redis.pcall`: returns error tables.
    PCall,
    /// `redis.acl_check_cmd`: the host answers an ACL check (protocol 0); raises errors.
    AclCheck,
}

/// What [`run`] left on top of the stack.
enum Outcome {
    /// The reply.
    Value,
    /// An error table (raised by `redis.call`, returned by `redis.pcall`).
    Error,
    /// An error table for a panic in the host: always raised.
    Panic,
}

/// `redis.call` (upvalue 1: the engine's [`Slot`] as a light userdata).
pub(super) unsafe extern "C-unwind" fn redis_call(l: *mut lua_State) -> c_int {
    entry(l, Mode::Call)
}

/// `redis.pcall`.
pub(super) unsafe extern "C-unwind" fn redis_pcall(l: *mut lua_State) -> c_int {
    entry(l, Mode::PCall)
}

/// `redis.acl_check_cmd`.
pub(super) unsafe extern "C-unwind" fn redis_acl_check(l: *mut lua_State) -> c_int {
    entry(l, Mode::AclCheck)
}

/// Runs the call and returns its one result, or raises its error. Nothing with a
/// destructor is alive here when `lua_error` long-jumps.
unsafe fn entry(l: *mut lua_State, mode: Mode) -> c_int {
    let slot = ffi::lua_touserdata(l, ffi::lua_upvalueindex(1)) as *const Slot;
    // SAFETY: the upvalue is set when the closure is created to the slot of the engine
    // owning this interpreter; the interpreter keeps an `Arc` of it (app data).
    let Some(slot) = slot.as_ref() else {
        return 0;
    };
    match (run(l, slot, mode), mode) {
        (Outcome::Value, _) | (Outcome::Error, Mode::PCall) => 1,
        (Outcome::Error | Outcome::Panic, _) => ffi::lua_error(l),
    }
}

/// Reads the arguments, runs the command through the host, and pushes the reply (or
/// an error table): exactly one value.
unsafe fn run(l: *mut lua_State, slot: &Slot, mode: Mode) -> Outcome {
    let argc = ffi::lua_gettop(l);
    let p = slot.host.swap(std::ptr::null_mut(), Ordering::Acquire);
    if p.is_null() {
        push_error(
            l,
            b"redis.call/pcall can only be called inside a script invocation",
        );
        return Outcome::Error;
    }
    // SAFETY: taking the host pointer out of the slot (swap to null) makes this the
    // only user of the slot's scratch space and of the host until it is put back.
    let scratch = &mut *slot.scratch.get();
    let outcome = call_host(l, argc, mode, slot, scratch, p);
    slot.host.store(p, Ordering::Release);
    outcome
}

unsafe fn call_host(
    l: *mut lua_State,
    argc: c_int,
    mode: Mode,
    slot: &Slot,
    scratch: &mut super::Scratch,
    p: *mut (),
) -> Outcome {
    if argc == 0 {
        push_error(
            l,
            b"Please specify at least one argument for this redis lib call",
        );
        return Outcome::Error;
    }
    scratch.argv.clear();
    for i in 1..=argc {
        match ffi::lua_type(l, i) {
            ffi::LUA_TSTRING => {}
            ffi::LUA_TNUMBER => {
                // Redis 7.0 prints numbers with `%.17g` (not Lua's `%.14g`): replace
                // the argument by that text, so it stays alive on the stack.
                let mut buf = [0u8; 32];
                let n = convert::format_arg_number(ffi::lua_tonumber(l, i), &mut buf);
                ffi::lua_pushlstring(l, buf.as_ptr() as *const c_char, n);
                ffi::lua_replace(l, i);
            }
            _ => {
                scratch.argv.clear();
                push_error(
                    l,
                    b"Lua redis lib command arguments must be strings or integers",
                );
                return Outcome::Error;
            }
        }
        let mut len = 0usize;
        let s = ffi::lua_tolstring(l, i, &mut len);
        // SAFETY: the string stays on the stack (an argument of this call) until the
        // host returns; the list is cleared before that.
        scratch
            .argv
            .push(std::slice::from_raw_parts(s as *const u8, len));
    }
    let resp = match mode {
        Mode::AclCheck => 0,
        _ => slot.resp.load(Ordering::Relaxed),
    };
    scratch.reply.clear();
    // SAFETY: `Engine::exec_with` stores a pointer to a `&mut Host` living on its stack
    // for the whole run; the caller took it out of the slot for this call.
    let host: &mut &mut Host = &mut *(p as *mut &mut Host);
    let (argv, reply) = (&scratch.argv, &mut scratch.reply);
    let result = catch_unwind(AssertUnwindSafe(|| host(argv, resp, reply)));
    scratch.argv.clear();
    match result {
        Ok(Ok(())) => {}
        Ok(Err(msg)) => {
            scratch.reply.clear();
            scratch.reply.extend_from_slice(msg.as_bytes());
            drop(msg);
            push_error(l, &scratch.reply);
            return Outcome::Error;
        }
        Err(payload) => {
            scratch.panic = Some(payload);
            push_error(l, b"ERR internal error running a command from a script");
            return Outcome::Panic;
        }
    }
    let reply = &scratch.reply[..];
    if reply.first() == Some(&b'-') {
        let end = find_crlf(reply, 0).unwrap_or(reply.len());
        push_error(l, &reply[..end]);
        return Outcome::Error;
    }
    if reply.is_empty() {
        ffi::lua_pushnil(l);
        return Outcome::Value;
    }
    let top = ffi::lua_gettop(l);
    let mut pos = 0;
    if push_reply(l, reply, &mut pos).is_none() {
        ffi::lua_settop(l, top);
        push_error(l, b"ERR truncated reply from a command");
        return Outcome::Error;
    }
    Outcome::Value
}

unsafe fn push_bytes(l: *mut lua_State, b: &[u8]) {
    ffi::lua_pushlstring(l, b.as_ptr() as *const c_char, b.len());
}

/// Pushes the error table `{err="CODE message"}` for `raw` (Redis's
/// `luaPushErrorBuff`: `-CODE message` keeps its code, anything else gets `ERR`).
unsafe fn push_error(l: *mut lua_State, raw: &[u8]) {
    push_error_parts(l, raw, false)
}

/// [`push_error`]; `coded`: `raw` is `CODE message` without the dash (an error
/// element inside a reply).
unsafe fn push_error_parts(l: *mut lua_State, raw: &[u8], coded: bool) {
    let (code, msg) = convert::error_parts(raw, coded);
    ffi::lua_createtable(l, 0, 1);
    push_bytes(l, b"err");
    push_bytes(l, code);
    push_bytes(l, b" ");
    push_bytes(l, msg);
    ffi::lua_concat(l, 3);
    ffi::lua_rawset(l, -3);
}

fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    let rest = buf.get(from..)?;
    let mut i = 0;
    while let Some(off) = rest.get(i..)?.iter().position(|&c| c == b'\r') {
        let at = i + off;
        if rest.get(at + 1) == Some(&b'\n') {
            return Some(from + at);
        }
        i = at + 1;
    }
    None
}

/// The header line at `*pos` (after the type byte), moving past its CRLF.
fn line<'a>(buf: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let start = *pos;
    let end = find_crlf(buf, start)?;
    *pos = end + 2;
    buf.get(start..end)
}

fn num(b: &[u8]) -> i64 {
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn bulk<'a>(buf: &'a [u8], pos: &mut usize, n: i64) -> Option<&'a [u8]> {
    let start = *pos;
    let end = start.checked_add(usize::try_from(n.max(0)).ok()?)?;
    let s = buf.get(start..end)?;
    *pos = end.checked_add(2)?;
    Some(s)
}

/// Sets `t[key] = value` for the table below the key and value on top (pops both);
/// a nil key (never sent by Redis) is dropped rather than raising.
unsafe fn set_pair(l: *mut lua_State) {
    if ffi::lua_type(l, -2) == ffi::LUA_TNIL {
        ffi::lua_settop(l, -3);
    } else {
        ffi::lua_rawset(l, -3);
    }
}

/// Pushes `{name=<value on top>}` in place of the value on top.
unsafe fn wrap(l: *mut lua_State, name: &[u8]) {
    ffi::lua_createtable(l, 0, 1);
    push_bytes(l, name);
    ffi::lua_pushvalue(l, -3);
    ffi::lua_rawset(l, -3);
    ffi::lua_replace(l, -2);
}

/// Pushes the reply at `*pos` (RESP2 or RESP3) as one Lua value (Redis's
/// `redisProtocolToLuaType`; tables are grown as Redis's `lua_newtable` +
/// `lua_settable` grow them, so lengths and iteration order are the same). `None`
/// for a malformed reply or a full Lua stack (the caller resets the stack).
unsafe fn push_reply(l: *mut lua_State, buf: &[u8], pos: &mut usize) -> Option<()> {
    if ffi::lua_checkstack(l, 6) == 0 {
        return None;
    }
    let kind = *buf.get(*pos)?;
    *pos += 1;
    let head = line(buf, pos)?;
    match kind {
        b'+' => {
            push_bytes(l, head);
            wrap(l, b"ok");
        }
        b'-' => push_error_parts(l, head, true),
        b':' => ffi::lua_pushnumber(l, num(head) as f64),
        b'$' => {
            let n = num(head);
            if n < 0 {
                ffi::lua_pushboolean(l, 0);
            } else {
                push_bytes(l, bulk(buf, pos, n)?);
            }
        }
        b'*' | b'>' => {
            let n = num(head);
            if n < 0 {
                ffi::lua_pushboolean(l, 0);
            } else {
                ffi::lua_createtable(l, 0, 0);
                for i in 0..n {
                    push_reply(l, buf, pos)?;
                    ffi::lua_rawseti(l, -2, (i + 1) as ffi::lua_Integer);
                }
            }
        }
        b'_' => ffi::lua_pushnil(l),
        b'#' => ffi::lua_pushboolean(l, (head == b"t") as c_int),
        b',' => {
            let d = std::str::from_utf8(head)
                .ok()
                .and_then(|s| match s {
                    "inf" => Some(f64::INFINITY),
                    "-inf" => Some(f64::NEG_INFINITY),
                    _ => s.parse().ok(),
                })
                .unwrap_or(f64::NAN);
            ffi::lua_pushnumber(l, d);
            wrap(l, b"double");
        }
        b'(' => {
            push_bytes(l, head);
            wrap(l, b"big_number");
        }
        b'=' => {
            let body = bulk(buf, pos, num(head))?;
            let (format, text) = match (body.get(..3), body.get(3), body.get(4..)) {
                (Some(f), Some(b':'), Some(t)) => (f, t),
                _ => (&b"txt"[..], body),
            };
            ffi::lua_createtable(l, 0, 0);
            push_bytes(l, b"string");
            push_bytes(l, text);
            ffi::lua_rawset(l, -3);
            push_bytes(l, b"format");
            push_bytes(l, format);
            ffi::lua_rawset(l, -3);
            wrap(l, b"verbatim_string");
        }
        b'%' => {
            ffi::lua_createtable(l, 0, 0);
            for _ in 0..num(head).max(0) {
                push_reply(l, buf, pos)?;
                push_reply(l, buf, pos)?;
                set_pair(l);
            }
            wrap(l, b"map");
        }
        b'~' => {
            ffi::lua_createtable(l, 0, 0);
            for _ in 0..num(head).max(0) {
                push_reply(l, buf, pos)?;
                ffi::lua_pushboolean(l, 1);
                set_pair(l);
            }
            wrap(l, b"set");
        }
        b'|' => {
            // An attribute: skipped, the reply follows.
            for _ in 0..num(head).max(0).saturating_mul(2) {
                push_reply(l, buf, pos)?;
                ffi::lua_settop(l, -2);
            }
            push_reply(l, buf, pos)?;
        }
        _ => ffi::lua_pushnil(l),
    }
    Some(())
}
