//! Conversions between Redis replies and Lua values, as Redis 7.0's `script_lua.c`
//! does them.
//!
//! Reply → Lua (what `redis.call` returns) is in `call.rs`, which pushes replies onto
//! the Lua stack directly; the error-text and argument helpers it shares are here.
//!
//! Lua → reply (what the script returns): string → bulk, number → integer (truncated),
//! `true` → 1 / `false` → null (or booleans after `setresp(3)`), table with `err` →
//! error, `ok` → status, `double`, `big_number`, `map`, `set`, `verbatim_string` →
//! those RESP3 types, any other table → array up to its first nil, nil → null.

use mlua::{Lua, Table, Value};

use crate::protocol::Reply;

/// Deepest table nesting converted into a reply (Redis stops at its Lua stack limit).
const MAX_DEPTH: usize = 200;

/// The code and message of an error text, as Redis's `luaPushErrorBuff` splits it:
/// `-CODE message` keeps its code (`coded`: `raw` is `CODE message` without the
/// dash), anything else gets `ERR`; trailing CR/LF trimmed.
pub fn error_parts(raw: &[u8], coded: bool) -> (&[u8], &[u8]) {
    let rest = match raw.strip_prefix(b"-") {
        Some(rest) => Some(rest),
        None if coded => Some(raw),
        None => None,
    };
    let (code, msg): (&[u8], &[u8]) = match rest {
        Some(rest) => match rest.iter().position(|&c| c == b' ') {
            Some(sp) => (&rest[..sp], &rest[sp + 1..]),
            None => (b"ERR", rest),
        },
        None => (b"ERR", raw),
    };
    let mut end = msg.len();
    while end > 0 && (msg[end - 1] == b'\r' || msg[end - 1] == b'\n') {
        end -= 1;
    }
    (code, &msg[..end])
}

/// A Lua error table `{err="CODE message"}` for `raw` (see [`error_parts`]).
pub fn error_table(lua: &Lua, raw: &[u8], coded: bool) -> mlua::Result<Table> {
    let (code, msg) = error_parts(raw, coded);
    let mut text = Vec::with_capacity(code.len() + 1 + msg.len());
    text.extend_from_slice(code);
    text.push(b' ');
    text.extend_from_slice(msg);
    let t = lua.create_table()?;
    t.raw_set("err", lua.create_string(&text)?)?;
    Ok(t)
}

/// A number argument of `redis.call` as Redis 7.0 prints it (`%.17g`, where Lua's own
/// conversion would use `%.14g`), written into `buf`; returns its length.
pub fn format_arg_number(d: f64, buf: &mut [u8; 32]) -> usize {
    use std::io::Write;
    let mut w = &mut buf[..];
    let before = w.len();
    let _ = if d.fract() == 0.0 && d.abs() < 9_007_199_254_740_992.0 {
        // Integers below 2^53 print in full (`-0` keeps its sign, as `%g` does).
        if d == 0.0 && d.is_sign_negative() {
            w.write_all(b"-0")
        } else {
            w.write_all(itoa::Buffer::new().format(d as i64).as_bytes())
        }
    } else if d.is_nan() {
        w.write_all(if d.is_sign_negative() {
            b"-nan"
        } else {
            b"nan"
        })
    } else if d.is_infinite() {
        w.write_all(if d > 0.0 { b"inf" } else { b"-inf" })
    } else {
        w.write_all(crate::util::num::fmt_g(d, 17).as_bytes())
    };
    before - w.len()
}

/// C's `(long long)` of a double on x86-64: out of range and NaN give `LLONG_MIN`.
fn c_truncate(n: f64) -> i64 {
    if n.is_finite() && n > -9.223372036854776e18 && n < 9.223372036854776e18 {
        n as i64
    } else {
        i64::MIN
    }
}

/// Writes the script's result on top of `state`'s stack as a reply if it is not a
/// table (string, number, boolean, nil or another type, as [`lua_to_reply`] would),
/// without converting it to an mlua value; `false` for a table (left to
/// [`lua_to_reply`]).
///
/// # Safety
/// `state` is a valid Lua state with at least one value on its stack.
pub(crate) unsafe fn write_plain(
    state: *mut mlua::ffi::lua_State,
    out: &mut Reply,
    resp: u8,
) -> bool {
    use mlua::ffi;
    match ffi::lua_type(state, -1) {
        ffi::LUA_TTABLE => return false,
        ffi::LUA_TSTRING => {
            let mut len = 0usize;
            let p = ffi::lua_tolstring(state, -1, &mut len);
            if p.is_null() {
                out.null();
            } else {
                out.bulk(std::slice::from_raw_parts(p as *const u8, len));
            }
        }
        ffi::LUA_TNUMBER => out.int(c_truncate(ffi::lua_tonumber(state, -1))),
        ffi::LUA_TBOOLEAN => write_bool(ffi::lua_toboolean(state, -1) != 0, out, resp),
        _ => out.null(),
    }
    true
}

fn write_bool(b: bool, out: &mut Reply, resp: u8) {
    if resp == 3 {
        out.boolean(b);
    } else if b {
        out.int(1);
    } else {
        out.null();
    }
}

fn field(t: &Table, k: &str) -> Value {
    t.raw_get::<Value>(k).unwrap_or(Value::Nil)
}

/// Writes the script's return value as a reply (`resp`: the script's `setresp`).
pub fn lua_to_reply(v: &Value, out: &mut Reply, resp: u8) {
    write_value(v, out, resp, 0);
}

fn write_value(v: &Value, out: &mut Reply, resp: u8, depth: usize) {
    match v {
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Integer(n) => out.int(*n),
        Value::Number(n) => out.int(c_truncate(*n)),
        Value::Boolean(b) => write_bool(*b, out, resp),
        Value::Table(t) => {
            if depth >= MAX_DEPTH {
                out.error("ERR reached lua stack limit");
                return;
            }
            write_table(t, out, resp, depth);
        }
        _ => out.null(),
    }
}

fn write_table(t: &Table, out: &mut Reply, resp: u8, depth: usize) {
    if let Value::String(e) = field(t, "err") {
        out.error(&String::from_utf8_lossy(&e.as_bytes()));
        return;
    }
    if let Value::String(s) = field(t, "ok") {
        let text: Vec<u8> = s
            .as_bytes()
            .iter()
            .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c })
            .collect();
        out.simple_bytes(&text);
        return;
    }
    match field(t, "double") {
        Value::Number(d) => {
            out.double(d);
            return;
        }
        Value::Integer(d) => {
            out.double(d as f64);
            return;
        }
        _ => {}
    }
    if let Value::String(s) = field(t, "big_number") {
        let text: Vec<u8> = s
            .as_bytes()
            .iter()
            .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c })
            .collect();
        if out.is_resp3() {
            out.raw(b"(");
            out.raw(&text);
            out.raw(b"\r\n");
        } else {
            out.bulk(&text);
        }
        return;
    }
    if let Value::Table(m) = field(t, "map") {
        let pairs: Vec<(Value, Value)> = m.pairs::<Value, Value>().filter_map(Result::ok).collect();
        out.map(pairs.len());
        for (k, v) in &pairs {
            write_value(k, out, resp, depth + 1);
            write_value(v, out, resp, depth + 1);
        }
        return;
    }
    if let Value::Table(s) = field(t, "set") {
        let keys: Vec<Value> = s
            .pairs::<Value, Value>()
            .filter_map(|r| r.ok().map(|(k, _)| k))
            .collect();
        out.set(keys.len());
        for k in &keys {
            write_value(k, out, resp, depth + 1);
        }
        return;
    }
    if let Value::Table(vs) = field(t, "verbatim_string") {
        if let (Value::String(f), Value::String(s)) = (field(&vs, "format"), field(&vs, "string")) {
            let format = String::from_utf8_lossy(&f.as_bytes()).into_owned();
            out.verbatim(&s.as_bytes(), &format);
            return;
        }
    }
    let mut items = Vec::new();
    let mut i = 1;
    loop {
        let v: Value = t.raw_get(i).unwrap_or(Value::Nil);
        if v.is_nil() {
            break;
        }
        items.push(v);
        i += 1;
    }
    out.array(items.len());
    for v in &items {
        write_value(v, out, resp, depth + 1);
    }
}

/// Writes the reply for a script that raised an error: the error table built by
/// `__redis__err__handler` (message, source, line), as Redis formats it.
pub fn error_to_reply(v: &Value, sha: &str, out: &mut Reply) {
    let Value::Table(t) = v else {
        out.error(&format!(
            "ERR Error running script {sha}, execution failure"
        ));
        return;
    };
    let msg = match field(t, "err") {
        Value::String(s) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
        _ => "ERR unknown error".into(),
    };
    let msg = msg.strip_prefix('-').unwrap_or(&msg).to_string();
    let source = match field(t, "source") {
        Value::String(s) => Some(String::from_utf8_lossy(&s.as_bytes()).into_owned()),
        _ => None,
    };
    let line = match field(t, "line") {
        Value::Integer(n) => Some(n.to_string()),
        Value::Number(n) => Some(format!("{}", c_truncate(n))),
        _ => None,
    };
    match (source, line) {
        (Some(source), Some(line)) => {
            out.error(&format!("{msg} script: {sha}, on {source}:{line}."))
        }
        _ => out.error(&msg),
    }
}
