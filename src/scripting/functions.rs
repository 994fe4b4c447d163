//! Redis 7 Functions (`functions.c`, `function_lua.c`): libraries of Lua functions
//! loaded with FUNCTION LOAD and called with FCALL / FCALL_RO.
//!
//! Functions have their own interpreter (an `Engine`, separate from EVAL's, so SCRIPT
//! FLUSH and FUNCTION FLUSH don't affect each other). A library's code runs once, at
//! load time, in a restricted environment: its globals are only a `redis` table with
//! `register_function`, `log`, the `LOG_*` levels and the version fields; anything
//! else is a "nonexistent global variable" error, and the code has 500 ms. The
//! callbacks it registers are closures created by that code, so their environment is
//! the same proxy table; once loading is over the proxy switches to the normal script
//! globals (Redis switches the `__index` of its globals' metatable the same way).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use mlua::{Function, MultiValue, Table, Value};

use super::{redis_error, Engine, Host, Ran, RunState};
use crate::protocol::Reply;

/// Function flags, in the order Redis lists them.
pub const FLAG_NAMES: [&str; 5] = [
    "no-writes",
    "allow-oom",
    "allow-stale",
    "no-cluster",
    "allow-cross-slot-keys",
];

/// `no-writes` in `FunctionInfo::flags`.
pub const NO_WRITES: u8 = 1;

const LOAD_TIMEOUT_MS: u64 = 500;

const NAME_ERROR: &str = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// Lua source run once per functions engine (chunk name `=[redis]`, so the error
/// handler skips its frames).
const SETUP: &str = r#"
local G = _G
local rawget, error, tostring, setmetatable = rawget, error, tostring, setmetatable
local xpcall, handler = G.xpcall, G.__redis__err__handler
local function missing(k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 3)
end
local function readonly()
  error("Attempt to modify a readonly table", 2)
end
local base = {}
for _, k in ipairs({'log', 'LOG_DEBUG', 'LOG_VERBOSE', 'LOG_NOTICE', 'LOG_WARNING',
                    'REDIS_VERSION', 'REDIS_VERSION_NUM'}) do
  base[k] = G.redis[k]
end
local load_redis = setmetatable({}, {
  __index = function(_, k)
    local v = rawget(base, k)
    if v == nil then missing(k) end
    return v
  end,
  __newindex = readonly,
})
local load_api = {redis = load_redis}
local loading = false
local fenv = setmetatable({}, {
  __index = function(_, k)
    local v
    if loading then v = rawget(load_api, k) else v = rawget(G, k) end
    if v == nil then missing(k) end
    return v
  end,
  __newindex = readonly,
})
local function load_run(chunk)
  loading = true
  local ok, err = xpcall(chunk, handler)
  loading = false
  if ok then return true end
  if type(err) == 'table' then err = err.err end
  return false, tostring(err)
end
local function bind(f, k, a)
  return function() return f(k, a) end
end
return fenv, base, load_run, bind
"#;

/// A registered function.
pub struct FunctionInfo {
    pub name: String,
    pub library: String,
    pub description: Option<Vec<u8>>,
    /// Bit i set: flag `FLAG_NAMES[i]`.
    pub flags: u8,
    callback: Function,
}

/// A loaded library.
pub struct Library {
    pub name: String,
    pub code: Vec<u8>,
    /// Function names, in registration order.
    pub functions: Vec<String>,
}

/// The libraries and their functions, with the interpreter they live in.
pub struct Functions {
    engine: Engine,
    fenv: Table,
    base: Table,
    load_run: Function,
    bind: Function,
    state: Arc<RunState>,
    pub libraries: HashMap<String, Library>,
    pub functions: HashMap<String, FunctionInfo>,
}

/// What a library's code registered, collected during its load.
struct Pending {
    functions: Vec<FunctionInfo>,
}

impl Functions {
    pub fn new(state: Arc<RunState>) -> mlua::Result<Functions> {
        let engine = Engine::new(state.clone())?;
        let (fenv, base, load_run, bind): (Table, Table, Function, Function) =
            engine.lua().load(SETUP).set_name("=[redis]").eval()?;
        Ok(Functions {
            engine,
            fenv,
            base,
            load_run,
            bind,
            state,
            libraries: HashMap::new(),
            functions: HashMap::new(),
        })
    }

    /// An empty context sharing this one's run state (FUNCTION RESTORE builds the
    /// restored libraries aside, then swaps them in).
    pub fn fresh(&self) -> mlua::Result<Functions> {
        Functions::new(self.state.clone())
    }

    /// FUNCTION FLUSH: no libraries, a fresh interpreter.
    pub fn flush(&mut self) -> mlua::Result<()> {
        *self = Functions::new(self.state.clone())?;
        Ok(())
    }

    pub fn function_count(&self) -> usize {
        self.functions.len()
    }

    /// FUNCTION DELETE: false if there is no such library.
    pub fn delete(&mut self, name: &str) -> bool {
        match self.libraries.remove(name) {
            Some(lib) => {
                for f in lib.functions {
                    self.functions.remove(&f);
                }
                true
            }
            None => false,
        }
    }

    /// FUNCTION LOAD: the library's name, or Redis's error text (without `ERR `).
    pub fn load(&mut self, code: &[u8], replace: bool) -> Result<String, String> {
        let (name, body) = parse_metadata(code)?;
        if self.libraries.contains_key(&name) && !replace {
            return Err(format!("Library '{name}' already exists"));
        }
        let chunk = self
            .engine
            .lua()
            .load(body)
            .set_name("@user_function")
            .set_environment(self.fenv.clone())
            .into_function()
            .map_err(|e| format!("Error compiling function: {}", super::lua_message(&e)))?;
        let pending = RefCell::new(Pending {
            functions: Vec::new(),
        });
        let lua = self.engine.lua();
        let run: mlua::Result<(bool, Option<String>)> = lua.scope(|scope| {
            let register = scope.create_function(|lua, args: MultiValue| {
                let f = read_register_args(lua, args, &name)?;
                let mut p = pending.borrow_mut();
                if p.functions.iter().any(|x| x.name == f.name) {
                    return Err(redis_error("ERR Function already exists in the library"));
                }
                p.functions.push(f);
                Ok(())
            })?;
            self.base.raw_set("register_function", register)?;
            self.state.deadline_ms.store(
                crate::util::time::now_ms() + LOAD_TIMEOUT_MS,
                Ordering::SeqCst,
            );
            let r = self.load_run.call::<(bool, Option<String>)>(chunk);
            self.state.deadline_ms.store(0, Ordering::SeqCst);
            self.base.raw_set("register_function", Value::Nil)?;
            r
        });
        match run {
            Ok((true, _)) => {}
            Ok((false, msg)) => {
                return Err(format!(
                    "Error registering functions: {}",
                    msg.unwrap_or_default()
                ))
            }
            Err(e) => {
                return Err(format!(
                    "Error registering functions: {}",
                    super::lua_message(&e)
                ))
            }
        }
        let pending = pending.into_inner().functions;
        if pending.is_empty() {
            return Err("No functions registered".into());
        }
        for f in &pending {
            if let Some(other) = self.functions.get(&f.name) {
                if other.library != name {
                    return Err(format!("Function {} already exists", f.name));
                }
            }
        }
        self.delete(&name);
        let lib = Library {
            name: name.clone(),
            code: code.to_vec(),
            functions: pending.iter().map(|f| f.name.clone()).collect(),
        };
        for f in pending {
            self.functions.insert(f.name.clone(), f);
        }
        self.libraries.insert(name.clone(), lib);
        Ok(name)
    }

    /// FCALL: runs `name` with `keys` and `args` as its callback's two arguments.
    pub fn call(
        &mut self,
        name: &str,
        keys: &[&[u8]],
        args: &[&[u8]],
        out: &mut Reply,
        host: &mut Host,
    ) -> Option<Ran> {
        let callback = self.functions.get(name)?.callback.clone();
        let lua = self.engine.lua();
        let bound: mlua::Result<Function> = (|| {
            let k = string_array(lua, keys)?;
            let a = string_array(lua, args)?;
            self.bind.call((callback, k, a))
        })();
        Some(match bound {
            Ok(f) => self.engine.exec(f, name, out, host),
            Err(e) => {
                out.error(&format!(
                    "ERR Error running script {name}, {}",
                    super::lua_message(&e)
                ));
                Ran { failed: true }
            }
        })
    }
}

fn string_array(lua: &mlua::Lua, items: &[&[u8]]) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, s) in items.iter().enumerate() {
        t.raw_set(i + 1, lua.create_string(s)?)?;
    }
    Ok(t)
}

fn err(text: &str) -> mlua::Error {
    redis_error(&format!("ERR {text}"))
}

/// A string argument as Lua's `lua_isstring` sees it (strings and numbers).
fn lua_string(lua: &mlua::Lua, v: &Value) -> mlua::Result<Option<Vec<u8>>> {
    match v {
        Value::String(s) => Ok(Some(s.as_bytes().to_vec())),
        Value::Integer(_) | Value::Number(_) => {
            Ok(lua.coerce_string(v.clone())?.map(|s| s.as_bytes().to_vec()))
        }
        _ => Ok(None),
    }
}

/// `redis.register_function(name, callback)` or `redis.register_function{...}`.
fn read_register_args(
    lua: &mlua::Lua,
    args: MultiValue,
    library: &str,
) -> mlua::Result<FunctionInfo> {
    if args.is_empty() || args.len() > 2 {
        return Err(err("wrong number of arguments to redis.register_function"));
    }
    let mut it = args.into_iter();
    let first = it.next().unwrap_or(Value::Nil);
    let (name, description, flags, callback) = if let Some(second) = it.next() {
        let Some(name) = lua_string(lua, &first)? else {
            return Err(err(
                "first argument to redis.register_function must be a string",
            ));
        };
        let Value::Function(cb) = second else {
            return Err(err(
                "second argument to redis.register_function must be a function",
            ));
        };
        (name, None, 0u8, cb)
    } else {
        let Value::Table(t) = first else {
            return Err(err("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments)."));
        };
        let mut name = None;
        let mut description = None;
        let mut callback = None;
        let mut flags = 0u8;
        for pair in t.pairs::<Value, Value>() {
            let (k, v) = pair?;
            let Some(key) = lua_string(lua, &k)? else {
                return Err(err(
                    "named argument key given to redis.register_function is not a string",
                ));
            };
            let key = String::from_utf8_lossy(&key).to_ascii_lowercase();
            match key.as_str() {
                "function_name" => match lua_string(lua, &v)? {
                    Some(s) => name = Some(s),
                    None => return Err(err(
                        "function_name argument given to redis.register_function must be a string",
                    )),
                },
                "description" => match lua_string(lua, &v)? {
                    Some(s) => description = Some(s),
                    None => return Err(err(
                        "description argument given to redis.register_function must be a string",
                    )),
                },
                "callback" => {
                    match v {
                        Value::Function(f) => callback = Some(f),
                        _ => return Err(err(
                            "callback argument given to redis.register_function must be a function",
                        )),
                    }
                }
                "flags" => {
                    let Value::Table(list) = v else {
                        return Err(err("flags argument to redis.register_function must be a table representing function flags"));
                    };
                    flags = read_flags(lua, &list)?;
                }
                _ => return Err(err("unknown argument given to redis.register_function")),
            }
        }
        let Some(name) = name else {
            return Err(err(
                "redis.register_function must get a function name argument",
            ));
        };
        let Some(callback) = callback else {
            return Err(err("redis.register_function must get a callback argument"));
        };
        (name, description, flags, callback)
    };
    if !valid_name(&name) {
        return Err(err(NAME_ERROR));
    }
    Ok(FunctionInfo {
        name: String::from_utf8_lossy(&name).into_owned(),
        library: library.to_string(),
        description,
        flags,
        callback,
    })
}

fn read_flags(lua: &mlua::Lua, list: &Table) -> mlua::Result<u8> {
    let mut flags = 0u8;
    let mut i = 1i64;
    loop {
        let v: Value = list.get(i)?;
        i += 1;
        if v.is_nil() {
            return Ok(flags);
        }
        let Some(s) = lua_string(lua, &v)? else {
            return Err(err("unknown flag given"));
        };
        let s = String::from_utf8_lossy(&s).to_ascii_lowercase();
        match FLAG_NAMES.iter().position(|f| *f == s) {
            Some(bit) => flags |= 1 << bit,
            None => return Err(err("unknown flag given")),
        }
    }
}

fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// The `#!<engine> name=<library>` first line: the library's name and the code to
/// compile (from the end of that line, so line numbers stay the same).
fn parse_metadata(code: &[u8]) -> Result<(String, &[u8]), String> {
    if !code.starts_with(b"#!") {
        return Err("Missing library metadata".into());
    }
    let Some(end) = code.iter().position(|&c| c == b'\n') else {
        return Err("Invalid library metadata".into());
    };
    let parts = split_args(&code[..end]).ok_or("Invalid library metadata")?;
    let Some(first) = parts.first() else {
        return Err("Invalid library metadata".into());
    };
    let engine = String::from_utf8_lossy(first.get(2..).unwrap_or_default()).into_owned();
    let mut name: Option<Vec<u8>> = None;
    for part in &parts[1..] {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err(
                    "Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            name = Some(part[5..].to_vec());
            continue;
        }
        return Err(format!(
            "Invalid metadata value given: {}",
            String::from_utf8_lossy(part)
        ));
    }
    let Some(name) = name else {
        return Err("Library name was not given".into());
    };
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(format!("Engine '{engine}' not found"));
    }
    if !valid_name(&name) {
        return Err(NAME_ERROR.into());
    }
    Ok((String::from_utf8_lossy(&name).into_owned(), &code[end..]))
}

/// Redis's `sdssplitargs`: space-separated words, with `"..."` (C escapes) and
/// `'...'` quoting; `None` for unbalanced quotes.
fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= n {
            return Some(out);
        }
        let mut cur = Vec::new();
        let (mut inq, mut insq) = (false, false);
        loop {
            let c = line.get(i).copied();
            if inq {
                let c = c?;
                if c == b'\\' && i + 3 < n && line[i + 1] == b'x' {
                    let hex = std::str::from_utf8(&line[i + 2..i + 4]).ok();
                    if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                        cur.push(b);
                        i += 4;
                        continue;
                    }
                }
                if c == b'\\' && i + 1 < n {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                } else if c == b'"' {
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
            } else if insq {
                let c = c?;
                if c == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    i += 1;
                    cur.push(b'\'');
                } else if c == b'\'' {
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
            } else {
                match c {
                    None => break,
                    Some(b' ' | b'\n' | b'\r' | b'\t' | 0) => break,
                    Some(b'"') => inq = true,
                    Some(b'\'') => insq = true,
                    Some(c) => cur.push(c),
                }
            }
            i += 1;
        }
        out.push(cur);
    }
}

/// The function running now (FUNCTION STATS).
pub struct Running {
    pub name: String,
    pub command: Vec<Vec<u8>>,
    pub started_ms: u64,
}

/// The server's functions: the libraries behind a lock (held while a function runs),
/// and what FUNCTION STATS / KILL read without taking it.
pub struct Registry {
    pub lib: parking_lot::Mutex<Functions>,
    pub state: Arc<RunState>,
    pub running: parking_lot::Mutex<Option<Running>>,
    pub libraries_count: std::sync::atomic::AtomicUsize,
    pub functions_count: std::sync::atomic::AtomicUsize,
}

impl Registry {
    pub fn new() -> mlua::Result<Registry> {
        let state = Arc::new(RunState::default());
        Ok(Registry {
            lib: parking_lot::Mutex::new(Functions::new(state.clone())?),
            state,
            running: parking_lot::Mutex::new(None),
            libraries_count: Default::default(),
            functions_count: Default::default(),
        })
    }

    /// Refreshes the counts FUNCTION STATS reports after a change to `lib`.
    pub fn update_counts(&self, lib: &Functions) {
        self.libraries_count
            .store(lib.libraries.len(), Ordering::SeqCst);
        self.functions_count
            .store(lib.function_count(), Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata() {
        assert_eq!(
            parse_metadata(b"#!lua name=ab\nx").map(|(n, b)| (n, b.to_vec())),
            Ok(("ab".to_string(), b"\nx".to_vec()))
        );
        assert_eq!(
            parse_metadata(b"#!LUA  Name=ab \nx").map(|r| r.0),
            Ok("ab".to_string())
        );
        assert!(parse_metadata(b"return 1").is_err());
        assert!(parse_metadata(b"#!lua name=\"ab\nx").is_err());
        assert_eq!(
            split_args(b"a \"b c\" 'd'"),
            Some(vec![b"a".to_vec(), b"b c".to_vec(), b"d".to_vec()])
        );
    }
}
