//! The Lua libraries (`cjson`, `cmsgpack`, `bit`, `struct`) against the reference
//! redis-server: each snippet runs as `EVAL <snippet> 0` on the reference and in a local
//! Lua state with `ferrodis::scripting::libs::register_all` applied; the local result is
//! turned into a reply with Redis's Lua-to-RESP rules and both replies must be equal.
//! Snippets run in order in one server and one local state, so configuration changes
//! (which persist between scripts in Redis) carry over the same way on both sides.

mod common;

use common::{redis, RawClient};

/// A RESP2 reply, as far as script results need.
#[derive(Debug, Clone, PartialEq)]
enum Reply {
    Status(Vec<u8>),
    Error(Vec<u8>),
    Int(i64),
    Bulk(Vec<u8>),
    Nil,
    Array(Vec<Reply>),
}

/// A readable rendering of a reply for failure messages.
fn show(r: &Reply) -> String {
    let b = |v: &[u8]| format!("{:?}", String::from_utf8_lossy(v));
    match r {
        Reply::Status(v) => format!("+{}", b(v)),
        Reply::Error(v) => format!("-{}", b(v)),
        Reply::Int(i) => format!(":{i}"),
        Reply::Bulk(v) => b(v),
        Reply::Nil => "nil".into(),
        Reply::Array(items) => format!(
            "[{}]",
            items.iter().map(show).collect::<Vec<_>>().join(", ")
        ),
    }
}

fn parse_reply(b: &[u8]) -> (Reply, usize) {
    let line_end = b
        .windows(2)
        .position(|w| w == b"\r\n")
        .expect("reply line end");
    let line = &b[1..line_end];
    let after = line_end + 2;
    let text = || String::from_utf8_lossy(line).into_owned();
    match b[0] {
        b'+' => (Reply::Status(line.to_vec()), after),
        b'-' => (Reply::Error(line.to_vec()), after),
        b':' => (Reply::Int(text().parse().expect("integer reply")), after),
        b'$' => {
            let n: i64 = text().parse().expect("bulk length");
            if n < 0 {
                (Reply::Nil, after)
            } else {
                let n = n as usize;
                (Reply::Bulk(b[after..after + n].to_vec()), after + n + 2)
            }
        }
        b'*' => {
            let n: i64 = text().parse().expect("array length");
            if n < 0 {
                return (Reply::Nil, after);
            }
            let mut pos = after;
            let mut items = Vec::new();
            for _ in 0..n {
                let (r, used) = parse_reply(&b[pos..]);
                items.push(r);
                pos += used;
            }
            (Reply::Array(items), pos)
        }
        other => panic!("unexpected reply type byte {other}"),
    }
}

/// C's `(long long)` of a double on x86-64.
fn to_long_long(d: f64) -> i64 {
    if d.is_nan() || !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&d) {
        i64::MIN
    } else {
        d as i64
    }
}

/// Redis's conversion of a script's result to a reply (RESP2).
fn lua_to_reply(v: &mlua::Value) -> Reply {
    match v {
        mlua::Value::String(s) => Reply::Bulk(s.as_bytes().to_vec()),
        mlua::Value::Boolean(true) => Reply::Int(1),
        mlua::Value::Integer(i) => Reply::Int(*i),
        mlua::Value::Number(n) => Reply::Int(to_long_long(*n)),
        mlua::Value::Table(t) => {
            if let Ok(mlua::Value::String(e)) = t.raw_get::<mlua::Value>("err") {
                return Reply::Error(e.as_bytes().to_vec());
            }
            if let Ok(mlua::Value::String(s)) = t.raw_get::<mlua::Value>("ok") {
                return Reply::Status(s.as_bytes().to_vec());
            }
            let mut items = Vec::new();
            let mut j = 1;
            loop {
                let e: mlua::Value = t.raw_get(j).expect("raw_get");
                if e.is_nil() {
                    break;
                }
                items.push(lua_to_reply(&e));
                j += 1;
            }
            Reply::Array(items)
        }
        _ => Reply::Nil,
    }
}

/// Runs `code` locally as Redis runs a script body (chunk named `@user_script`) and
/// gives the reply, or for an uncaught error the error message.
fn local_eval(lua: &mlua::Lua, code: &str) -> Result<Reply, String> {
    let f = lua
        .load(code)
        .set_name("@user_script")
        .into_function()
        .map_err(|e| e.to_string())?;
    match f.call::<mlua::MultiValue>(()) {
        Ok(values) => Ok(values.iter().next().map(lua_to_reply).unwrap_or(Reply::Nil)),
        Err(e) => {
            let text = match e {
                mlua::Error::RuntimeError(m) => m,
                other => other.to_string(),
            };
            Err(text
                .split("\nstack traceback:")
                .next()
                .unwrap_or("")
                .to_string())
        }
    }
}

/// The message inside the reference's "ERR <msg> script: <sha>, on @user_script:N."
fn script_error_message(e: &[u8]) -> String {
    let s = String::from_utf8_lossy(e).into_owned();
    let s = s.strip_prefix("ERR ").unwrap_or(&s).to_string();
    match s.rfind(" script: ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

const SNIPPETS: &[&str] = &[
    // ---- cjson.encode ----
    "return cjson.encode({1,2,{a=3}})",
    "return cjson.encode({})",
    "return cjson.encode('')",
    "return cjson.encode('plain')",
    "return cjson.encode('a/b\\\\c\"d')",
    "return cjson.encode('\\0\\1\\2\\8\\9\\10\\11\\12\\13\\27\\31\\127\\128\\255')",
    "return cjson.encode('caf\\195\\169')",
    "return cjson.encode(true)",
    "return cjson.encode(false)",
    "return cjson.encode(cjson.null)",
    "return cjson.encode({cjson.null, 1})",
    "return cjson.encode(0)",
    "return cjson.encode(-0.0)",
    "return cjson.encode(1/3)",
    "return cjson.encode(-2/3)",
    "return cjson.encode(0.1)",
    "return cjson.encode(0.1 + 0.2)",
    "return cjson.encode(1e15)",
    "return cjson.encode(1e14)",
    "return cjson.encode(123456789012345678)",
    "return cjson.encode(2^53)",
    "return cjson.encode(1e-5)",
    "return cjson.encode(1.5e-7)",
    "return cjson.encode(1e300)",
    "return cjson.encode(-1e-300)",
    "return cjson.encode(4.9e-324)",
    "return cjson.encode(1.7976931348623157e308)",
    "return cjson.encode(3.14159)",
    "return cjson.encode(100)",
    "return cjson.encode(-123456)",
    "return cjson.encode({1.5, 2.25, -3})",
    "return cjson.encode({a=1})",
    "return cjson.encode({a=1,b=2,c=3})",
    "return cjson.encode({a=1,b=2,c=3,d=4,e=5,f=6,g=7,h=8})",
    "return cjson.encode({name='x', list={1,2,3}, nested={deep={deeper={1}}}})",
    "return cjson.encode({foo='bar', baz={qux=true, quux=false}, n=1.5})",
    "return cjson.encode({[1]=1,[2]=2,[4]=4})",
    "return cjson.encode({[1]=1,[10]=2})",
    "return cjson.encode({[1]=1,[11]=2})",
    "return cjson.encode({[3]=1})",
    "return cjson.encode({[0]=1})",
    "return cjson.encode({[-1]=1})",
    "return cjson.encode({[1.5]=1})",
    "return cjson.encode({[1]=1, x=2})",
    "return cjson.encode({[1e20]='big'})",
    "return cjson.encode({[2^31]='x'})",
    "local t = {} for i=1,20 do t[i]=i end return cjson.encode(t)",
    "local t = {} for i=1,30 do t['k'..i]=i end return cjson.encode(t)",
    "local t = {} for i=1,10 do t[i*i]=i end local ok, e = pcall(cjson.encode, t) return e",
    "local t = {} for i=1,5 do t[i*3]=i end return cjson.encode(t)",
    "local t = {1,2,3} t[2] = nil return cjson.encode(t)",
    "local t = {} local cur = t for i=1,999 do cur[1] = {} cur = cur[1] end return #cjson.encode(t)",
    "return cjson.encode({{{{{{{{{{'deep'}}}}}}}}}})",
    "return cjson.encode({'a', {b={'c', {d='e'}}}})",
    "return cjson.encode(cjson.decode('{\"a\":[1,2,{\"b\":null}],\"c\":\"d\"}'))",
    "return cjson.encode(cjson.decode('[\"\\\\u00e9\\\\u20ac\\\\ud83d\\\\ude00\"]'))",
    // ---- cjson.encode errors ----
    "local ok, e = pcall(cjson.encode, {[1]=1,[100]=2}) return e",
    "local ok, e = pcall(cjson.encode, {[true]=1}) return e",
    "local ok, e = pcall(cjson.encode, {[{}]=1}) return e",
    "local ok, e = pcall(cjson.encode, tostring) return e",
    "local ok, e = pcall(cjson.encode, {f=tostring}) return e",
    "local ok, e = pcall(cjson.encode, coroutine.create(function() end)) return e",
    "local ok, e = pcall(cjson.encode, 1/0) return e",
    "local ok, e = pcall(cjson.encode, -1/0) return e",
    "local ok, e = pcall(cjson.encode, 0/0) return e",
    "local ok, e = pcall(cjson.encode, {[1/0]=1}) return e",
    "local ok, e = pcall(cjson.encode) return e",
    "local ok, e = pcall(cjson.encode, 1, 2) return e",
    "local t = {} t[1] = t local ok, e = pcall(cjson.encode, t) return e",
    "local t = {} t.a = t local ok, e = pcall(cjson.encode, t) return e",
    "local ok, e = pcall(function() return cjson.encode({[true]=1}) end) return e",
    "local ok, e = pcall(function() return cjson.encode() end) return e",
    "return cjson.encode({[true]=1})",
    // ---- cjson.decode ----
    "return cjson.decode('1')",
    "return cjson.decode('-1.9')",
    "return cjson.decode('\"str\"')",
    "return cjson.decode('[1,2,3]')",
    "return cjson.decode('[\"a\",[\"b\",[\"c\"]]]')",
    "return cjson.decode('{\"a\":\"b\"}').a",
    "return cjson.decode('  { \"a\" : [ 1 , 2 ] }  ').a",
    "return cjson.decode('true')",
    "return cjson.decode('false')",
    "return cjson.decode('null')",
    "return tostring(cjson.decode('null') == cjson.null)",
    "return type(cjson.decode('null'))",
    "return tostring(cjson.null)",
    "return cjson.decode('[1,null,3]')",
    "return #cjson.decode('[1,null,3]')",
    "return cjson.decode('\"\\\\u0041\\\\u00e9\\\\u20ac\\\\ud83d\\\\ude00\"')",
    "return cjson.decode('\"\\\\b\\\\f\\\\n\\\\r\\\\t\\\\/\\\\\\\\\\\\\"\"')",
    "return cjson.decode('\"\\\\u0000x\"')",
    "return cjson.decode('1e2')",
    "return cjson.decode('1E+2')",
    "return tostring(cjson.decode('1.5e-3'))",
    "return tostring(cjson.decode('12345678901234567890'))",
    "return tostring(cjson.decode('0x1F'))",
    "return tostring(cjson.decode('-0x10'))",
    "return tostring(cjson.decode('Infinity'))",
    "return tostring(cjson.decode('-inf'))",
    "return tostring(cjson.decode('nan') ~= cjson.decode('nan'))",
    "return tostring(cjson.decode('007'))",
    "return cjson.decode(123)",
    "local t = cjson.decode('{\"a\":1,\"b\":2,\"c\":3,\"d\":4}') return cjson.encode(t)",
    "local t = cjson.decode('{\"z\":1,\"y\":{\"x\":[true,false]},\"w\":\"v\"}') return cjson.encode(t)",
    "return cjson.encode(cjson.decode('{\"1\":\"a\",\"2\":\"b\"}'))",
    "return cjson.decode(string.rep('[', 1000) .. string.rep(']', 1000))[1] and 1",
    // ---- cjson.decode errors ----
    "local ok, e = pcall(cjson.decode, 'x') return e",
    "local ok, e = pcall(cjson.decode, '') return e",
    "local ok, e = pcall(cjson.decode, '   ') return e",
    "local ok, e = pcall(cjson.decode, '[1,]') return e",
    "local ok, e = pcall(cjson.decode, '[1 2]') return e",
    "local ok, e = pcall(cjson.decode, '{\"a\":1,}') return e",
    "local ok, e = pcall(cjson.decode, '{\"a\" 1}') return e",
    "local ok, e = pcall(cjson.decode, '{1:2}') return e",
    "local ok, e = pcall(cjson.decode, '{\"a\":1 \"b\":2}') return e",
    "local ok, e = pcall(cjson.decode, '[1] 2') return e",
    "local ok, e = pcall(cjson.decode, '\"abc') return e",
    "local ok, e = pcall(cjson.decode, '\"\\\\x\"') return e",
    "local ok, e = pcall(cjson.decode, '\"\\\\u12\"') return e",
    "local ok, e = pcall(cjson.decode, '\"\\\\ud800\"') return e",
    "local ok, e = pcall(cjson.decode, '\"\\\\udc00\"') return e",
    "local ok, e = pcall(cjson.decode, '\"\\\\ud800\\\\u0041\"') return e",
    "local ok, e = pcall(cjson.decode, 'tru') return e",
    "local ok, e = pcall(cjson.decode, 'nul') return e",
    "local ok, e = pcall(cjson.decode, '-') return e",
    "local ok, e = pcall(cjson.decode, '+1') return e",
    "local ok, e = pcall(cjson.decode, '.5') return e",
    "local ok, e = pcall(cjson.decode, '[') return e",
    "local ok, e = pcall(cjson.decode, '{') return e",
    "local ok, e = pcall(cjson.decode, ']') return e",
    "local ok, e = pcall(cjson.decode, 'a\\0') return e",
    "local ok, e = pcall(cjson.decode, '1\\0garbage') return e",
    "return cjson.decode('[1]\\0garbage')",
    "local ok, e = pcall(cjson.decode, string.rep('[', 1001)) return e",
    "local ok, e = pcall(cjson.decode, string.rep('{\"a\":', 1001)) return e",
    "local ok, e = pcall(cjson.decode) return e",
    "local ok, e = pcall(cjson.decode, 'a', 'b') return e",
    "local ok, e = pcall(cjson.decode, {}) return e",
    "local ok, e = pcall(function() return cjson.decode('x') end) return e",
    "return cjson.decode('{')",
    // ---- cjson configuration (restored afterwards: it persists) ----
    "return cjson.encode_max_depth()",
    "return cjson.decode_max_depth()",
    "return cjson.encode_number_precision()",
    "return cjson.encode_keep_buffer()",
    "return cjson.encode_invalid_numbers()",
    "return cjson.decode_invalid_numbers()",
    "return {cjson.encode_sparse_array()}",
    "return cjson._NAME .. ' ' .. cjson._VERSION",
    "cjson.encode_number_precision(3) local r = cjson.encode({1/3, 2/3, 1e10}) cjson.encode_number_precision(14) return r",
    "cjson.encode_number_precision(1) local r = cjson.encode(0.15) cjson.encode_number_precision(14) return r",
    "local ok, e = pcall(cjson.encode_number_precision, 15) return e",
    "local ok, e = pcall(cjson.encode_number_precision, 0) return e",
    "local ok, e = pcall(function() return cjson.encode_number_precision('x') end) return e",
    "cjson.encode_max_depth(3) local ok, e = pcall(cjson.encode, {{{{1}}}}) local r = cjson.encode({{{1}}}) cjson.encode_max_depth(1000) return {e, r}",
    "cjson.decode_max_depth(2) local ok, e = pcall(cjson.decode, '[[[1]]]') local r = cjson.decode('[[1]]')[1][1] cjson.decode_max_depth(1000) return {e, r}",
    "local ok, e = pcall(cjson.encode_max_depth, 0) return e",
    "local ok, e = pcall(cjson.encode_max_depth, 1, 2) return e",
    "local ok, e = pcall(function() return cjson.decode_max_depth(-1) end) return e",
    "local r = {cjson.encode_invalid_numbers(true)} local a = cjson.encode({1/0, -1/0, 0/0}) cjson.encode_invalid_numbers(false) return {tostring(r[1]), a}",
    "local r = cjson.encode_invalid_numbers('null') local a = cjson.encode({1/0, 0/0, 1}) cjson.encode_invalid_numbers('off') return {r, a}",
    "local r = cjson.encode_invalid_numbers('on') cjson.encode_invalid_numbers(false) return tostring(r)",
    "local ok, e = pcall(cjson.encode_invalid_numbers, 'maybe') return e",
    "local ok, e = pcall(cjson.encode_invalid_numbers, {}) return e",
    "cjson.decode_invalid_numbers(false) local ok, e = pcall(cjson.decode, '0x10') local ok2, e2 = pcall(cjson.decode, '[Infinity]') local ok3, e3 = pcall(cjson.decode, '01') local v = cjson.decode('-0.5') cjson.decode_invalid_numbers(true) return {e, e2, e3, tostring(v)}",
    "local a = cjson.decode_invalid_numbers('off') local b = cjson.decode_invalid_numbers('on') return {tostring(a), tostring(b)}",
    "local r = {cjson.encode_sparse_array(true)} local s = cjson.encode({[1]=1,[100]=2}) cjson.encode_sparse_array(false) return {tostring(r[1]), r[2], r[3], s}",
    "local r = {cjson.encode_sparse_array(false, 0)} local s = cjson.encode({[1]=1,[30]=2}) cjson.encode_sparse_array(false, 2, 10) return {r[2], #s}",
    "local r = {cjson.encode_sparse_array(false, 1, 0)} local ok, e = pcall(cjson.encode, {[1]=1,[2]=2}) local ok2, e2 = pcall(cjson.encode, {[2]=1}) cjson.encode_sparse_array(false, 2, 10) return {tostring(ok), tostring(e2)}",
    "local ok, e = pcall(cjson.encode_sparse_array, false, -1) return e",
    "local ok, e = pcall(cjson.encode_sparse_array, false, 1, -1) return e",
    "local ok, e = pcall(cjson.encode_sparse_array, 'x') return e",
    "local ok, e = pcall(cjson.encode_sparse_array, 1, 2, 3, 4) return e",
    "local r = cjson.encode_keep_buffer(false) local s = cjson.encode({1}) cjson.encode_keep_buffer(true) return {tostring(r), s}",
    "local ok, e = pcall(cjson.encode_keep_buffer, 1) return e",
    "local c = cjson.new() c.encode_number_precision(2) return {c.encode(1/3), cjson.encode(1/3), c._NAME, tostring(c.null == cjson.null)}",
    "local c = cjson.new() return {c.encode_max_depth(), c.encode({a={1}})}",
    // ---- cmsgpack ----
    "return cmsgpack.pack(1)",
    "return cmsgpack.pack(0)",
    "return cmsgpack.pack(-1)",
    "return cmsgpack.pack(127, 128, 255, 256, 65535, 65536)",
    "return cmsgpack.pack(4294967295, 4294967296, 2^53, 2^63, -2^63)",
    "return cmsgpack.pack(-32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649)",
    "return cmsgpack.pack(1.5, -1.5, 0.1, 1e300, 3.4028234663852886e38, 1/0, -1/0)",
    "return cmsgpack.pack(-0.0)",
    "return cmsgpack.pack(0/0) ~= nil and 1",
    "return cmsgpack.pack('')",
    "return cmsgpack.pack('abc')",
    "return cmsgpack.pack(string.rep('x', 31))",
    "return cmsgpack.pack(string.rep('x', 32))",
    "return cmsgpack.pack(string.rep('x', 255))",
    "return cmsgpack.pack(string.rep('x', 256))",
    "return #cmsgpack.pack(string.rep('x', 65535))",
    "return string.sub(cmsgpack.pack(string.rep('x', 65536)), 1, 6)",
    "return cmsgpack.pack(true, false, nil)",
    "return cmsgpack.pack({})",
    "return cmsgpack.pack({1,2,3})",
    "return cmsgpack.pack({1,nil,3})",
    "return cmsgpack.pack({a=1})",
    "return cmsgpack.pack({a=1,b=2,c=3,d=4})",
    "return cmsgpack.pack({1,2,x='y'})",
    "return cmsgpack.pack({[2]=1,[3]=2})",
    "return cmsgpack.pack({[1.5]=1})",
    "return cmsgpack.pack({[true]='t'})",
    "return cmsgpack.pack({[0]=1,[1]=2})",
    "local t = {} for i=1,16 do t[i]=i end return cmsgpack.pack(t)",
    "local t = {} for i=1,20 do t['k'..i]=i end return cmsgpack.pack(t)",
    "local t = {} for i=1,70000 do t[i]=i % 7 end return string.sub(cmsgpack.pack(t), 1, 8)",
    "return cmsgpack.pack(tostring, cjson.null, coroutine.create(function() end))",
    "local t = {} t[1] = t return cmsgpack.pack(t)",
    "local t = {} local c = t for i=1,20 do c.n = {} c = c.n end return cmsgpack.pack(t)",
    "return cmsgpack.pack({name='job', data={1, 'two', {three=3}}, opts={delay=0, attempts=3}})",
    "return {cmsgpack.unpack(cmsgpack.pack(1, 'a', 2.5, true))}",
    "return select('#', cmsgpack.unpack(cmsgpack.pack(1, nil, 3)))",
    "return cmsgpack.unpack(cmsgpack.pack({1,2,{3,'x'}}))",
    "local t = cmsgpack.unpack(cmsgpack.pack({a='b', n={1,2}})) return {t.a, t.n[2]}",
    "return tostring(cmsgpack.unpack(cmsgpack.pack(0.1)))",
    "return tostring(cmsgpack.unpack(cmsgpack.pack(1.5)))",
    "return tostring(cmsgpack.unpack(cmsgpack.pack(2^53 + 1)))",
    "return tostring(cmsgpack.unpack(cmsgpack.pack(-2^63)))",
    "return tostring(cmsgpack.unpack('\\207\\255\\255\\255\\255\\255\\255\\255\\255'))",
    "return tostring(cmsgpack.unpack('\\211\\255\\255\\255\\255\\255\\255\\255\\254'))",
    "return tostring(cmsgpack.unpack('\\206\\255\\255\\255\\255'))",
    "return tostring(cmsgpack.unpack('\\210\\128\\0\\0\\0'))",
    "return tostring(cmsgpack.unpack('\\209\\255\\254'))",
    "return tostring(cmsgpack.unpack('\\208\\128'))",
    "return tostring(cmsgpack.unpack('\\204\\200'))",
    "return tostring(cmsgpack.unpack('\\205\\1\\0'))",
    "return tostring(cmsgpack.unpack('\\202\\63\\192\\0\\0'))",
    "return tostring(cmsgpack.unpack('\\203\\63\\248\\0\\0\\0\\0\\0\\0'))",
    "return tostring(cmsgpack.unpack('\\224'))",
    "return cmsgpack.unpack('\\217\\3abc')",
    "return cmsgpack.unpack('\\218\\0\\3abc')",
    "return cmsgpack.unpack('\\219\\0\\0\\0\\3abc')",
    "return cmsgpack.unpack('\\220\\0\\2\\1\\2')",
    "return cmsgpack.unpack('\\221\\0\\0\\0\\2\\1\\2')",
    "return cmsgpack.unpack('\\222\\0\\1\\161a\\1').a",
    "return cmsgpack.unpack('\\223\\0\\0\\0\\1\\161a\\1').a",
    "return cmsgpack.unpack('\\145\\192')",
    "return select('#', cmsgpack.unpack(''))",
    "return {cmsgpack.unpack_one(cmsgpack.pack(7, 8, 9))}",
    "local s = cmsgpack.pack(7, 8, 9) local o, v = cmsgpack.unpack_one(s, 1) local o2, v2 = cmsgpack.unpack_one(s, o) return {o, v, o2, v2}",
    "return {cmsgpack.unpack_one(cmsgpack.pack(7), 0)}",
    "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3, 4), 2)}",
    "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3, 4), 2, 2)}",
    "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3, 4), 10)}",
    "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3, 4), 0)}",
    "return {cmsgpack.unpack_one('')}",
    "return {cmsgpack._NAME, cmsgpack._VERSION, cmsgpack._COPYRIGHT, cmsgpack._DESCRIPTION}",
    "local s = cmsgpack.pack(cjson.decode('{\"a\":[1,2,3],\"b\":{\"c\":\"d\"}}')) return cjson.encode(cmsgpack.unpack(s))",
    // ---- cmsgpack errors ----
    "local ok, e = pcall(cmsgpack.pack) return e",
    "local ok, e = pcall(function() return cmsgpack.pack() end) return e",
    "local ok, e = pcall(cmsgpack.unpack, '\\205\\1') return e",
    "local ok, e = pcall(cmsgpack.unpack, '\\193') return e",
    "local ok, e = pcall(cmsgpack.unpack, '\\196\\1a') return e",
    "local ok, e = pcall(cmsgpack.unpack, '\\147\\1\\2') return e",
    "local ok, e = pcall(cmsgpack.unpack, '\\165ab') return e",
    "local ok, e = pcall(cmsgpack.unpack, '\\129\\192\\1') return e",
    "local ok, e = pcall(cmsgpack.unpack, '\\129\\203\\255\\248\\0\\0\\0\\0\\0\\0\\1') return e",
    "local ok, e = pcall(function() return cmsgpack.unpack('\\193') end) return e",
    "local ok, e = pcall(cmsgpack.unpack) return e",
    "local ok, e = pcall(cmsgpack.unpack, {}) return e",
    "local ok, e = pcall(cmsgpack.unpack_one, 'ab', -1) return e",
    "local ok, e = pcall(cmsgpack.unpack_one, 'ab', 5) return e",
    "local ok, e = pcall(cmsgpack.unpack_limit, 'ab', -1) return e",
    "local ok, e = pcall(cmsgpack.unpack_limit, 'ab') return e",
    "local ok, e = pcall(cmsgpack.unpack_limit, 'ab', 'x') return e",
    "local ok, e = pcall(cmsgpack.unpack, string.rep('\\1', 10000)) return e",
    "return select('#', cmsgpack.unpack(string.rep('\\1', 7000)))",
    "return cmsgpack.unpack('\\193')",
    // ---- bit ----
    "return bit.tobit(1)",
    "return bit.tobit(2^32 + 7)",
    "return bit.tobit(-1)",
    "return bit.tobit(2^31)",
    "return bit.tobit(1.5)",
    "return bit.tobit(2.5)",
    "return bit.tobit(-2.5)",
    "return bit.tobit('0x10')",
    "return bit.tobit(2^53)",
    "return bit.tobit(1e300)",
    "return bit.tobit(0/0)",
    "return bit.tohex(-1)",
    "return bit.tohex(255)",
    "return bit.tohex(255, 2)",
    "return bit.tohex(255, -2)",
    "return bit.tohex(0x12345678, 4)",
    "return bit.tohex(0x12345678, -8)",
    "return bit.tohex(1, 0)",
    "return bit.tohex(1, 20)",
    "return bit.tohex(1, -20)",
    "return bit.tohex(1, -2^31)",
    "return bit.bnot(0)",
    "return bit.bnot(-1)",
    "return bit.bnot(0x0f0f0f0f)",
    "return bit.band(0xff, 0x0f)",
    "return bit.band(0xff, 0x0f, 0x3)",
    "return bit.band(-1)",
    "return bit.bor(1, 2, 4, 8, 16)",
    "return bit.bor(0x80000000, 1)",
    "return bit.bxor(5, 3)",
    "return bit.bxor(-1, 0x0f, 0xf0)",
    "return bit.lshift(1, 0)",
    "return bit.lshift(1, 31)",
    "return bit.lshift(1, 32)",
    "return bit.lshift(1, 33)",
    "return bit.lshift(1, -1)",
    "return bit.rshift(-1, 28)",
    "return bit.rshift(0x80000000, 31)",
    "return bit.arshift(-256, 4)",
    "return bit.arshift(0x80000000, 31)",
    "return bit.arshift(256, 4)",
    "return bit.rol(0x12345678, 8)",
    "return bit.rol(0x80000001, 1)",
    "return bit.ror(0x12345678, 8)",
    "return bit.ror(1, 1)",
    "return bit.bswap(0x12345678)",
    "return bit.bswap(-1)",
    "return bit.tohex(bit.bswap(0xdeadbeef))",
    "local ok, e = pcall(bit.tobit, 'x') return e",
    "local ok, e = pcall(bit.tobit) return e",
    "local ok, e = pcall(function() return bit.band(1, {}) end) return e",
    "local ok, e = pcall(function() return bit.lshift(1) end) return e",
    "local ok, e = pcall(function() local f = bit.bor return f(1, nil) end) return e",
    "local ok, e = pcall(function() return bit.tohex(1, 'z') end) return e",
    "return bit.tobit({})",
    // ---- struct ----
    "return struct.pack('>I2', 258)",
    "return struct.pack('<I2', 258)",
    "return struct.pack('b', -1)",
    "return struct.pack('B', 255)",
    "return struct.pack('B', 256)",
    "return struct.pack('>h', -2)",
    "return struct.pack('>H', 65535)",
    "return struct.pack('>l', -2)",
    "return struct.pack('<L', 2^40)",
    "return struct.pack('>i', 1)",
    "return struct.pack('>i3', 65536 + 2)",
    "return struct.pack('<i8', -1)",
    "return struct.pack('>i16', 1)",
    "return struct.pack('>I4', 2^32)",
    "return struct.pack('>I8', 2^64)",
    "return struct.pack('>I8', 2^63)",
    "return struct.pack('>i4', 1.9)",
    "return struct.pack('>i4', -1.9)",
    "return struct.pack('>T', 7)",
    "return struct.pack('>f', 1.5)",
    "return struct.pack('<f', 0.1)",
    "return struct.pack('>d', 0.1)",
    "return struct.pack('<d', -2)",
    "return struct.pack('c', 'xyz')",
    "return struct.pack('c3', 'xyz')",
    "return struct.pack('c0', 'xyz')",
    "return struct.pack('s', 'xyz')",
    "return struct.pack('s', 'a\\0b')",
    "return struct.pack('x')",
    "return struct.pack('bxb', 1, 2)",
    "return struct.pack('!4 b i', 1, 2)",
    "return struct.pack('!8bd', 1, 1.5)",
    "return struct.pack('!2bh', 1, 2)",
    "return struct.pack('!bi', 1, 2)",
    "return struct.pack('!4bi3', 1, 2)",
    "return struct.pack('>b<h>h', 1, 2, 3)",
    "return struct.pack('>b', '12')",
    "return struct.pack('c', 12)",
    "return {struct.unpack('>I2', '\\1\\2')}",
    "return {struct.unpack('<I2', '\\1\\2')}",
    "return {struct.unpack('b', '\\255')}",
    "return {struct.unpack('B', '\\255')}",
    "return {struct.unpack('>h', '\\255\\254')}",
    "return {struct.unpack('>i', '\\0\\0\\1\\0')}",
    "return {struct.unpack('>i3', '\\255\\255\\254')}",
    "return {struct.unpack('<l', '\\255\\255\\255\\255\\255\\255\\255\\255')}",
    "return {struct.unpack('<L', '\\0\\0\\0\\0\\0\\0\\0\\1')}",
    "return tostring(struct.unpack('<L', '\\255\\255\\255\\255\\255\\255\\255\\255'))",
    "return {struct.unpack('>i16', string.rep('\\255', 16))}",
    "return {struct.unpack('>I16', string.rep('\\0', 14) .. '\\1\\2')}",
    "return tostring(struct.unpack('>f', '\\63\\192\\0\\0'))",
    "return tostring(struct.unpack('<d', struct.pack('<d', 0.1)))",
    "return {struct.unpack('c3', 'abcdef')}",
    "return {struct.unpack('bc0', '\\3abcdef')}",
    "return {struct.unpack('s', 'ab\\0cd\\0')}",
    "return {struct.unpack('ss', 'ab\\0cd\\0')}",
    "return {struct.unpack('bxb', '\\1\\0\\2')}",
    "return {struct.unpack('!4bi', '\\1\\0\\0\\0\\2\\0\\0\\0')}",
    "return {struct.unpack('b', 'abc', 2)}",
    "return {struct.unpack('b', 'abc', 3)}",
    "return {struct.unpack('>I2 >I2', '\\0\\1\\0\\2')}",
    "return {struct.unpack('', 'abc')}",
    "return {struct.unpack('', 'abc', 2)}",
    "return struct.size('b')",
    "return struct.size('bhlifd')",
    "return struct.size('!bhlifd')",
    "return struct.size('!4bd')",
    "return struct.size('c10')",
    "return struct.size('i3i5')",
    "return struct.size('>xxT')",
    "return struct.size('q')",
    "return struct.size('')",
    "local s = struct.pack('>I4c0', 5, 'hello') return {struct.unpack('>I4', s), #s}",
    // ---- struct errors ----
    "local ok, e = pcall(struct.pack, 'q', 1) return e",
    "local ok, e = pcall(function() return struct.pack('q', 1) end) return e",
    "local ok, e = pcall(struct.pack, 'i99999999999') return e",
    "local ok, e = pcall(struct.pack, 'i33', 1) return e",
    "local ok, e = pcall(struct.pack, '!3') return e",
    "local ok, e = pcall(struct.pack, '!0') return e",
    "local ok, e = pcall(struct.pack, 'c3', 'ab') return e",
    "local ok, e = pcall(struct.pack, 'i', 'x') return e",
    "local ok, e = pcall(struct.pack, 'ii', 1) return e",
    "local ok, e = pcall(struct.pack, 'i') return e",
    "local ok, e = pcall(struct.pack, 'c', {}) return e",
    "local ok, e = pcall(struct.pack) return e",
    "local ok, e = pcall(struct.unpack, 'i', 'ab') return e",
    "local ok, e = pcall(struct.unpack, 'c5', 'ab') return e",
    "local ok, e = pcall(struct.unpack, 's', 'ab') return e",
    "local ok, e = pcall(struct.unpack, 'c0', 'abc') return e",
    "local ok, e = pcall(struct.unpack, 'bc0', '\\9ab') return e",
    "local ok, e = pcall(struct.unpack, 'b', 'abc', 5) return e",
    "local ok, e = pcall(struct.unpack, 'q', 'abc') return e",
    "local ok, e = pcall(struct.unpack, 'b') return e",
    "local ok, e = pcall(struct.unpack, 'b', 'a', 'x') return e",
    "local ok, e = pcall(struct.size, 's') return e",
    "local ok, e = pcall(struct.size, 'c0') return e",
    "local ok, e = pcall(struct.size, '!5') return e",
    "local ok, e = pcall(struct.size, 'i40') return e",
    "local ok, e = pcall(struct.size, '$') return e",
    "return struct.pack('q', 1)",
    // ---- more edge cases ----
    "return struct.pack('>l', 0/0)",
    "return struct.pack('>L', 0/0)",
    "return struct.pack('>I8', -1)",
    "return struct.pack('>I4', -1)",
    "return struct.pack('>l', 1e300)",
    "return struct.pack('>L', -1e300)",
    "return struct.pack('>i0', 5)",
    "return {struct.unpack('>i0', 'abc')}",
    "return struct.pack('>f', 1e300)",
    "return struct.pack('>f', 0/0) ~= nil and 1",
    "return struct.pack('c1', '')",
    "return {struct.unpack('c2c0', '\\0\\1abc')}",
    "return {struct.unpack('>Bc0', '\\2abc', 1)}",
    "return struct.pack('b', 2^40 + 3)",
    "return {struct.unpack(' < b ', '\\5')}",
    "return struct.pack('!16bi16', 1, 2)",
    "return struct.size('!16bi16')",
    "return struct.size('!2bi8')",
    "return struct.pack('s', 12.5)",
    "return cjson.encode(0.15)",
    "return cjson.encode(1e21)",
    "return cjson.encode(123456789.123456789)",
    "return cjson.encode(99999999999999.9)",
    "return cjson.encode(0.000123456789012345)",
    "return cjson.encode(-1e-7)",
    "return cjson.encode({[1]='a', [2]='b', [3]='c', [11]='d'})",
    "return cjson.encode({['/']='\\\\'})",
    "return tostring(cjson.decode('1e400'))",
    "return tostring(cjson.decode('-1e400'))",
    "return tostring(cjson.decode('1e-400'))",
    "return tostring(cjson.decode('-0'))",
    "return tostring(cjson.decode('1.0'))",
    "return tostring(cjson.decode('4.9e-324'))",
    "return tostring(cjson.decode('0.1e1'))",
    "return tostring(cjson.decode('1.'))",
    "local ok, e = pcall(cjson.decode, '1.e') return tostring(e)",
    "return tostring(cjson.decode('0x1p4'))",
    "return tostring(cjson.decode('0x.8'))",
    "return tostring(cjson.decode('0xg'))",
    "local ok, e = pcall(cjson.decode, '0xg') return e",
    "return tostring(cjson.decode('-Infinity'))",
    "return tostring(cjson.decode('INF'))",
    "local ok, e = pcall(cjson.decode, 'Inf1') return e",
    "return tostring(cjson.decode('[NaN]')[1] ~= 0)",
    "local ok, e = pcall(cjson.decode, 'nan(123)') return tostring(ok)",
    "return cjson.decode('\"\\\\u00E9\\\\u00c9\"')",
    "return cjson.decode('\"\\\\uD83D\\\\uDE00\"')",
    "return cjson.decode('\"a\\tb\"')",
    "return cjson.decode('\"\\255\\254\"')",
    "local ok, e = pcall(cjson.decode, '[1,2') return e",
    "local ok, e = pcall(cjson.decode, '{\"a\"') return e",
    "local ok, e = pcall(cjson.decode, '{\"a\":') return e",
    "local ok, e = pcall(cjson.decode, '[\"a\\\\') return e",
    "local ok, e = pcall(cjson.decode, '\\0\\0') return e",
    "local ok, e = pcall(cjson.decode, 'truex') return e",
    "local ok, e = pcall(cjson.decode, '-x') return e",
    "local ok, e = pcall(cjson.decode, '-\\200') return e",
    "local ok, e = pcall(cjson.decode, '@') return e",
    "return cjson.encode(cjson.decode('{\"b\":1,\"a\":2,\"c\":{\"e\":1,\"d\":2}}'))",
    "return cjson.encode(cjson.decode('[{\"id\":1,\"tags\":[\"x\",\"y\"],\"meta\":{\"k\":null}},{\"id\":2}]'))",
    "return cmsgpack.pack(0.5, 0.25, 1e-10, -1e-10, 1e38, 1e39)",
    "return cmsgpack.pack(2^31, -2^31, 2^32 - 1, -2^31 - 1)",
    "return cmsgpack.pack(2^64, -2^64)",
    "return cmsgpack.pack({[1]=1, [2]=2, [3]=nil, [4]=4})",
    "return cmsgpack.pack({[1]=1, [3]=3})",
    "return cmsgpack.pack({[-1]=1})",
    "return cmsgpack.pack({[2^31]=1})",
    "return cmsgpack.pack(cjson.decode('[1,null,3]'))",
    "return {cmsgpack.unpack('\\147\\1\\192\\3')}",
    "return #cmsgpack.unpack('\\147\\1\\192\\3')",
    "return cmsgpack.unpack('\\130\\1\\161a\\2\\161b')",
    "local t = cmsgpack.unpack('\\131\\161a\\1\\161b\\2\\161c\\3') return cjson.encode(t)",
    "return {cmsgpack.unpack_one('\\1\\2', 2)}",
    "return {cmsgpack.unpack_limit('\\1\\2\\3', 1, 1)}",
    "local ok, e = pcall(cmsgpack.unpack_limit, '\\1', 1, 5) return e",
    "local ok, e = pcall(cmsgpack.unpack_one, '\\1', 'x') return e",
    "return cmsgpack.pack('a', {}, {{}})",
    "return bit.tobit(-2^31 - 1)",
    "return bit.tobit(2^52 + 2^51)",
    "return bit.tobit(-0.5)",
    "return bit.tobit(0.5)",
    "return bit.tobit(1.5000001)",
    "return bit.tobit('  12  ')",
    "return bit.band()",
    "return bit.lshift(3, 2^32 + 1)",
    "return bit.rol(1, -1)",
    "return bit.ror(1, 33)",
    "return bit.arshift(-1, 40)",
    "return bit.tohex(0/0)",
    "return bit.tohex(-1, 3.7)",
    // ---- deep nesting: the Lua stack limit stops the recursion ----
    "local ok, e = pcall(cmsgpack.unpack, string.rep('\\145', 100000) .. '\\1') return e",
    "local ok, e = pcall(cmsgpack.unpack, string.rep('\\129\\1', 100000) .. '\\1') return e",
    "cjson.decode_max_depth(1000000) local ok, e = pcall(cjson.decode, string.rep('[', 100000)) cjson.decode_max_depth(1000) return e",
    "cjson.decode_max_depth(1000000) local ok, e = pcall(cjson.decode, string.rep('{\"a\":', 100000)) cjson.decode_max_depth(1000) return e",
    "cjson.encode_max_depth(1000000) local t = {} local c = t for i=1,100000 do c[1] = {} c = c[1] end local ok, e = pcall(cjson.encode, t) cjson.encode_max_depth(1000) return e",
    "cjson.encode_max_depth(1000000) local t = {} local c = t for i=1,100000 do c.a = {} c = c.a end local ok, e = pcall(cjson.encode, t) cjson.encode_max_depth(1000) return e",
    "cjson.encode_max_depth(1000000) local t = {} local c = t for i=1,100000 do c.a = {} c = c.a end local ok, e = pcall(function() return cjson.encode(t) end) cjson.encode_max_depth(1000) return e",
    // ---- library tables ----
    "local r = {} for k, v in pairs(cjson) do r[#r+1] = k .. '=' .. type(v) end table.sort(r) return r",
    "local r = {} for k, v in pairs(cmsgpack) do r[#r+1] = k .. '=' .. type(v) end table.sort(r) return r",
    "local r = {} for k, v in pairs(bit) do r[#r+1] = k .. '=' .. type(v) end table.sort(r) return r",
    "local r = {} for k, v in pairs(struct) do r[#r+1] = k .. '=' .. type(v) end table.sort(r) return r",
    "local r = {} for k in pairs(bit) do r[#r+1] = k end return r",
    "local r = {} for k in pairs(struct) do r[#r+1] = k end return r",
    "local r = {} for k in pairs(cmsgpack) do r[#r+1] = k end return r",
    "local r = {} for k in pairs(cjson) do r[#r+1] = k end return r",
];

#[test]
fn lua_libraries_match_the_reference() {
    let server = redis(&[]);
    let mut client: RawClient = server.client();
    let lua = mlua::Lua::new();
    ferrodis::scripting::libs::register_all(&lua).expect("register the libraries");

    let mut mismatches = Vec::new();
    for snippet in SNIPPETS {
        let raw = client.cmd(&[b"EVAL", snippet.as_bytes(), b"0"]);
        let (reference, used) = parse_reply(&raw);
        assert_eq!(used, raw.len(), "one reply for {snippet}");
        if std::env::var("LUA_LIBS_TRACE").is_ok() {
            eprintln!("snippet: {snippet}");
        }
        let local = local_eval(&lua, snippet);
        let same = match (&reference, &local) {
            (Reply::Error(e), Err(m)) => {
                // An uncaught error: the reference wraps the message.
                script_error_message(e) == *m
            }
            (r, Ok(l)) => r == l,
            _ => false,
        };
        if !same {
            let local = match &local {
                Ok(r) => show(r),
                Err(m) => format!("error {m:?}"),
            };
            mismatches.push(format!(
                "{snippet}\n    reference: {}\n    local:     {local}",
                show(&reference)
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} snippets differ:\n{}",
        mismatches.len(),
        SNIPPETS.len(),
        mismatches.join("\n")
    );
}
