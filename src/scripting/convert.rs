//! Conversions between Redis replies and Lua values, as Redis 7.0's `script_lua.c`
//! does them.
//!
//! Reply → Lua (what `redis.call` returns), RESP2: integer → number, bulk → string,
//! null bulk / null array → `false`, array → table, status → `{ok=...}`, error →
//! `{err=...}` (raised by `redis.call`, returned by `redis.pcall`). RESP3 (after
//! `redis.setresp(3)`) adds: null → `nil`, map → `{map={...}}`, set → `{set={...}}`,
//! boolean → boolean, double → `{double=n}`, big number → `{big_number=s}`, verbatim
//! → `{verbatim_string={format=, string=}}`.
//!
//! Lua → reply (what the script returns): string → bulk, number → integer (truncated),
//! `true` → 1 / `false` → null (or booleans after `setresp(3)`), table with `err` →
//! error, `ok` → status, `double`, `big_number`, `map`, `set`, `verbatim_string` →
//! those RESP3 types, any other table → array up to its first nil, nil → null.

use mlua::{Lua, MultiValue, Table, Value};

use crate::protocol::Reply;
use crate::scripting::Host;

/// Deepest table nesting converted into a reply (Redis stops at its Lua stack limit).
const MAX_DEPTH: usize = 200;

/// A Lua error table as Redis's `luaPushErrorBuff` builds it from a reply text:
/// `-CODE message` keeps its code, anything else gets `ERR`; trailing CR/LF trimmed.
pub fn error_table(lua: &Lua, raw: &[u8], add_dash: bool) -> mlua::Result<Table> {
    let owned;
    let raw = if add_dash && raw.first() != Some(&b'-') {
        owned = [b"-".as_slice(), raw].concat();
        &owned[..]
    } else {
        raw
    };
    let (code, msg): (&[u8], &[u8]) = match raw.strip_prefix(b"-") {
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
    let mut text = code.to_vec();
    text.push(b' ');
    text.extend_from_slice(&msg[..end]);
    let t = lua.create_table()?;
    t.raw_set("err", lua.create_string(&text)?)?;
    Ok(t)
}

/// `redis.call` / `redis.pcall`: converts the arguments, runs the command through
/// `host`, and returns `(true, reply)` or `(false, error table)`.
pub fn call_command(
    lua: &Lua,
    args: MultiValue,
    resp: u8,
    host: &mut Host,
) -> mlua::Result<(bool, Value)> {
    if args.is_empty() {
        let e = error_table(
            lua,
            b"Please specify at least one argument for this redis lib call",
            false,
        )?;
        return Ok((false, Value::Table(e)));
    }
    let mut argv: Vec<Vec<u8>> = Vec::with_capacity(args.len());
    for a in args {
        let ok = matches!(a, Value::String(_) | Value::Integer(_) | Value::Number(_));
        let s = if ok { lua.coerce_string(a)? } else { None };
        match s {
            Some(s) => argv.push(s.as_bytes().to_vec()),
            None => {
                let e = error_table(
                    lua,
                    b"Lua redis lib command arguments must be strings or integers",
                    false,
                )?;
                return Ok((false, Value::Table(e)));
            }
        }
    }
    match host(&argv, resp) {
        Ok(reply) => {
            if reply.first() == Some(&b'-') {
                let line_end = reply
                    .windows(2)
                    .position(|w| w == b"\r\n")
                    .unwrap_or(reply.len());
                let e = error_table(lua, &reply[..line_end], false)?;
                return Ok((false, Value::Table(e)));
            }
            let mut pos = 0;
            let v = reply_to_lua(lua, &reply, &mut pos)?;
            Ok((true, v))
        }
        Err(msg) => {
            let e = error_table(lua, msg.as_bytes(), false)?;
            Ok((false, Value::Table(e)))
        }
    }
}

fn line<'a>(buf: &'a [u8], pos: &mut usize) -> mlua::Result<&'a [u8]> {
    let start = *pos;
    let rel = buf[start..]
        .windows(2)
        .position(|w| w == b"\r\n")
        .ok_or_else(|| mlua::Error::RuntimeError("truncated reply".into()))?;
    *pos = start + rel + 2;
    Ok(&buf[start..start + rel])
}

fn num(b: &[u8]) -> i64 {
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn bulk<'a>(buf: &'a [u8], pos: &mut usize, n: i64) -> mlua::Result<&'a [u8]> {
    let n = n.max(0) as usize;
    let start = *pos;
    let end = start
        .checked_add(n)
        .filter(|&e| e + 2 <= buf.len())
        .ok_or_else(|| mlua::Error::RuntimeError("truncated reply".into()))?;
    *pos = end + 2;
    Ok(&buf[start..end])
}

/// Parses one reply at `pos` (RESP2 or RESP3) into a Lua value.
fn reply_to_lua(lua: &Lua, buf: &[u8], pos: &mut usize) -> mlua::Result<Value> {
    let Some(&kind) = buf.get(*pos) else {
        return Ok(Value::Nil);
    };
    *pos += 1;
    let head = line(buf, pos)?;
    let one = |k: &str, v: Value| -> mlua::Result<Value> {
        let t = lua.create_table()?;
        t.raw_set(k, v)?;
        Ok(Value::Table(t))
    };
    match kind {
        b'+' => one("ok", Value::String(lua.create_string(head)?)),
        b'-' => Ok(Value::Table(error_table(
            lua,
            &[b"-".as_slice(), head].concat(),
            false,
        )?)),
        b':' => Ok(Value::Number(num(head) as f64)),
        b'$' => {
            let n = num(head);
            if n < 0 {
                return Ok(Value::Boolean(false));
            }
            Ok(Value::String(lua.create_string(bulk(buf, pos, n)?)?))
        }
        b'*' | b'>' => {
            let n = num(head);
            if n < 0 {
                return Ok(Value::Boolean(false));
            }
            let t = lua.create_table()?;
            for i in 0..n {
                let v = reply_to_lua(lua, buf, pos)?;
                t.raw_set(i + 1, v)?;
            }
            Ok(Value::Table(t))
        }
        b'_' => Ok(Value::Nil),
        b'#' => Ok(Value::Boolean(head == b"t")),
        b',' => {
            let d = std::str::from_utf8(head)
                .ok()
                .and_then(|s| match s {
                    "inf" => Some(f64::INFINITY),
                    "-inf" => Some(f64::NEG_INFINITY),
                    _ => s.parse().ok(),
                })
                .unwrap_or(f64::NAN);
            one("double", Value::Number(d))
        }
        b'(' => one("big_number", Value::String(lua.create_string(head)?)),
        b'=' => {
            let body = bulk(buf, pos, num(head))?;
            let (format, text) = if body.len() >= 4 && body[3] == b':' {
                (&body[..3], &body[4..])
            } else {
                (&b"txt"[..], body)
            };
            let v = lua.create_table()?;
            v.raw_set("format", lua.create_string(format)?)?;
            v.raw_set("string", lua.create_string(text)?)?;
            one("verbatim_string", Value::Table(v))
        }
        b'%' => {
            let n = num(head);
            let t = lua.create_table()?;
            for _ in 0..n.max(0) {
                let k = reply_to_lua(lua, buf, pos)?;
                let v = reply_to_lua(lua, buf, pos)?;
                t.raw_set(k, v)?;
            }
            one("map", Value::Table(t))
        }
        b'~' => {
            let n = num(head);
            let t = lua.create_table()?;
            for _ in 0..n.max(0) {
                let k = reply_to_lua(lua, buf, pos)?;
                t.raw_set(k, true)?;
            }
            one("set", Value::Table(t))
        }
        b'|' => {
            // An attribute: skip it, the reply follows.
            for _ in 0..num(head).max(0) * 2 {
                reply_to_lua(lua, buf, pos)?;
            }
            reply_to_lua(lua, buf, pos)
        }
        _ => Ok(Value::Nil),
    }
}

/// C's `(long long)` of a double on x86-64: out of range and NaN give `LLONG_MIN`.
fn c_truncate(n: f64) -> i64 {
    if n.is_finite() && n > -9.223372036854776e18 && n < 9.223372036854776e18 {
        n as i64
    } else {
        i64::MIN
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
        Value::Boolean(b) => {
            if resp == 3 {
                out.boolean(*b);
            } else if *b {
                out.int(1);
            } else {
                out.null();
            }
        }
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
