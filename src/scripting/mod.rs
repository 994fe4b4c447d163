//! Lua scripting (EVAL and friends): the Lua 5.1 interpreter Redis embeds, through the
//! `mlua` crate with a vendored Lua 5.1, set up the way Redis 7.0 sets up its own:
//!
//! * the same globals (base, table, string, math, plus `cjson`, `cmsgpack`, `bit`,
//!   `struct` from `libs/`; no `print`, `dofile`, `setfenv`, `os`, `debug`...) and the
//!   `redis` table (`call`, `pcall`, `error_reply`, `status_reply`, `sha1hex`, `log`,
//!   `setresp`, `set_repl`, `replicate_commands`, `breakpoint`, `debug`, the LOG_ and
//!   REPL_ constants);
//! * scripts run with a read-only view of the globals: creating or changing a global
//!   fails with "Attempt to modify a readonly table", reading an undefined one with
//!   "Script attempted to access nonexistent global variable";
//! * errors are turned into Redis's `ERR ... script: <sha>, on @user_script:<line>.`
//!   by Redis's own `__redis__err__handler`.
//!
//! The engine knows nothing about commands: running a script takes a `host` callback
//! that executes one Redis command and appends its reply bytes to a buffer (see
//! `commands/scripting.rs`). `redis.call`/`redis.pcall` are Lua C functions that
//! read their arguments and push the reply with Lua's C API (`call.rs`); the script's
//! return value and errors are converted in `convert.rs`.

mod call;
pub mod convert;
pub mod functions;
pub mod libs;

use std::cell::UnsafeCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use mlua::{Function, Lua, LuaOptions, MultiValue, StdLib, Table, Value};

use crate::protocol::Reply;
use crate::server::log::Level;

/// Lua source run once per interpreter (chunk name `=[redis]`, so the error handler
/// can skip these frames and report the script's own line).
const PRELUDE: &str = r#"
local dbg = debug
debug = nil
local G = _G
local rawget, error, tostring, type, xpcall = rawget, error, tostring, type, xpcall
local errmsg = __ferrodis_errmsg
__ferrodis_errmsg = nil
function __redis__err__handler(err)
  local level = 2
  local i = dbg.getinfo(level, 'nSl')
  while i and (i.what == 'C' or i.source == '=[redis]') do
    level = level + 1
    i = dbg.getinfo(level, 'nSl')
  end
  if type(err) ~= 'table' then
    err = {err=errmsg(err)}
  end
  if i then
    err['source'] = i.source
    err['line'] = i.currentline
  end
  return err
end
local handler = __redis__err__handler
-- Errors raised by Rust functions reach Lua as userdata; scripts see what Redis's C
-- functions raise instead: an error table (redis.call) or a message string.
local errvalue = __ferrodis_errvalue
__ferrodis_errvalue = nil
local rawpcall, rawxpcall = pcall, xpcall
-- Redis 7.0's pcall returns the message of an error table, not the table.
local function pcall_result(ok, ...)
  if ok then return ok, ... end
  local e = ...
  if type(e) == 'userdata' then e = errvalue(e) end
  if type(e) == 'table' and e.err ~= nil then e = e.err end
  return false, e
end
G.pcall = function(f, ...)
  return pcall_result(rawpcall(f, ...))
end
G.xpcall = function(f, h)
  return rawxpcall(f, function(e)
    if type(e) == 'userdata' then e = errvalue(e) end
    return h(e)
  end)
end
-- Library tables are read-only for scripts too (Redis 7.0 makes them read-only in
-- its patched Lua; here a proxy that reads through and refuses writes).
-- proxy -> the table it stands for, so pairs/next still iterate the real contents.
local real_of = setmetatable({}, {__mode = 'k'})
local function readonly(t)
  local p = setmetatable({}, {
    __index = t,
    __newindex = function() error("Attempt to modify a readonly table", 2) end,
    __metatable = false,
  })
  real_of[p] = t
  return p
end
local rawnext, rawpairs = next, pairs
G.next = function(t, k) return rawnext(real_of[t] or t, k) end
G.pairs = function(t)
  local r = real_of[t]
  if r then return rawnext, r, nil end
  return rawpairs(t)
end
for _, name in ipairs({'redis', 'cjson', 'cmsgpack', 'bit', 'struct', 'string', 'math', 'table', 'coroutine'}) do
  local t = rawget(G, name)
  if type(t) == 'table' then rawset(G, name, readonly(t)) end
end
-- Scripts see the globals through `env`, an empty table whose reads go straight to
-- G (a table __index: no Lua call per global access) and whose writes are refused.
-- G raises for names it lacks; `_G` is `env`, so scripts never hold G itself.
local function missing(_, k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end
local function refuse()
  error("Attempt to modify a readonly table", 2)
end
local env = setmetatable({}, {
  __index = G,
  __newindex = refuse,
  -- what getmetatable(_G) shows: like Redis's, a read-only table with an __index
  -- function (the real metatable would lead to G)
  __metatable = readonly({__index = missing}),
})
real_of[env] = G
-- The raw accessors see through the read-only proxies and cannot write to them, as
-- in Redis's patched Lua (where these are the real, read-only tables).
local rawget_, rawset_, setmetatable_ = rawget, rawset, setmetatable
G.rawget = function(t, k) return rawget_(real_of[t] or t, k) end
G.rawset = function(t, k, v)
  if real_of[t] then error("Attempt to modify a readonly table", 0) end
  return rawset_(t, k, v)
end
G.setmetatable = function(t, mt)
  if real_of[t] then error("Attempt to modify a readonly table", 0) end
  return setmetatable_(t, mt)
end
rawset_(G, '_G', env)
setmetatable_(G, {__index = missing})
return env
"#;

/// Globals Redis does not offer scripts.
const REMOVED_GLOBALS: &[&str] = &[
    "print", "dofile", "loadfile", "setfenv", "getfenv", "module", "require", "newproxy",
];

/// A compiled script.
struct Script {
    func: Function,
    /// `#!lua flags=no-writes`.
    no_writes: bool,
}

/// A script's SHA1 as the cache key: 40 lower-case hex digits.
pub type Sha = [u8; 40];

/// `name` (a SHA1 in any case) as a cache key; `None` if it cannot be one.
pub fn sha_key(name: &[u8]) -> Option<Sha> {
    let mut k: Sha = name.try_into().ok()?;
    k.make_ascii_lowercase();
    Some(k)
}

/// What other clients can see of a running script (read without the engine's lock):
/// for BUSY replies and SCRIPT KILL.
#[derive(Default, Debug)]
pub struct RunState {
    /// Unix ms when the running script started; 0 when none runs.
    pub started_ms: AtomicU64,
    /// SCRIPT KILL asked the running script to stop.
    pub kill: AtomicBool,
    /// The running script called a write command (it can no longer be killed).
    pub wrote: AtomicBool,
    /// The running script has the `allow-oom` flag.
    pub allow_oom: AtomicBool,
    /// Unix ms after which the code being run fails with `FUNCTION LOAD timeout`
    /// (set while FUNCTION LOAD runs a library's code); 0 when none.
    pub deadline_ms: AtomicU64,
}

impl RunState {
    /// SCRIPT KILL / FUNCTION KILL: asks the running script to stop, or says why not
    /// (Redis's NOTBUSY and UNKILLABLE errors).
    pub fn request_kill(&self) -> Result<(), &'static str> {
        if self.started_ms.load(Ordering::SeqCst) == 0 {
            return Err("NOTBUSY No scripts in execution right now.");
        }
        if self.wrote.load(Ordering::SeqCst) {
            return Err("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.");
        }
        self.kill.store(true, Ordering::SeqCst);
        Ok(())
    }
}

/// The error a killed script fails with.
pub const KILLED: &str = "Script killed by user with SCRIPT KILL...";

/// Lua instructions between checks for SCRIPT KILL.
const KILL_CHECK_EVERY: u32 = 100_000;

/// Executes one command for a script: `(argv, resp, reply)` appends the reply bytes
/// in protocol `resp` to `reply` (protocol 0: answers `redis.acl_check_cmd` instead),
/// or returns `Err(message)` for errors raised before the command runs (unknown
/// command, wrong arity, not allowed from scripts...).
pub type Host<'a> = dyn FnMut(&[&[u8]], u8, &mut Vec<u8>) -> Result<(), String> + 'a;

/// The scripting engine: one Lua interpreter and the script cache.
pub struct Engine {
    lua: Lua,
    env: Table,
    /// `__redis__err__handler`, the message handler scripts run under.
    handler: Function,
    /// Registry references of the values `exec_with` pushes on every run.
    refs: RunRefs,
    /// [`run_entry`] as a Lua function.
    entry: Function,
    scripts: HashMap<Sha, Script, ahash::RandomState>,
    state: Arc<RunState>,
    /// Where `redis.call`/`pcall`/`setresp` find the running script's host.
    slot: Arc<Slot>,
}

/// The running script's host and protocol, seen by `redis.call`, `redis.pcall` and
/// `redis.setresp`. Those are created once per interpreter (creating and dropping
/// scoped callbacks on every run cost more than the rest of a small script), so the
/// host, which borrows the caller's command context, is handed to them through this
/// slot for the duration of one run only.
#[derive(Default)]
struct Slot {
    /// A `*mut &mut Host` valid while [`Engine::exec`] runs the script; null otherwise,
    /// and while a `redis.call` is using it (so it cannot be used twice at once).
    host: AtomicPtr<()>,
    /// `redis.setresp`: the protocol replies are converted from (2 or 3).
    resp: AtomicU8,
    /// Buffers `redis.call` reuses from call to call; only used by whoever took the
    /// host pointer out of `host` (see `call.rs`), or by the engine between runs.
    scratch: UnsafeCell<Scratch>,
}

// SAFETY: `scratch` is only touched by the holder of the host pointer (taken out of
// `host` with a swap, so one at a time) or by `Engine::exec_with` after a run, when
// `host` is null and no `redis.call` can run.
unsafe impl Sync for Slot {}

/// `redis.call`'s reusable buffers.
#[derive(Default)]
struct Scratch {
    /// The command's arguments, borrowing the Lua strings on the call's stack; always
    /// cleared before the call returns.
    argv: Vec<&'static [u8]>,
    /// The command's reply bytes.
    reply: Vec<u8>,
    /// A panic caught in the host, resumed when the run is over.
    panic: Option<Box<dyn std::any::Any + Send>>,
}

/// Clears the host slot when a run ends, even by unwinding.
struct SlotGuard<'a>(&'a Slot);

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        self.0.host.store(std::ptr::null_mut(), Ordering::Release);
    }
}

/// A script's KEYS and ARGV.
type KeysArgv<'a> = (&'a [&'a [u8]], &'a [&'a [u8]]);

/// The outcome of a script run, already written into the caller's reply buffer.
pub struct Ran {
    /// The reply is an error (for error statistics).
    pub failed: bool,
}

impl Engine {
    pub fn new(state: Arc<RunState>) -> mlua::Result<Engine> {
        // SAFETY: mlua calls the `debug` library unsafe because scripts could use it
        // to break memory safety. Redis loads it only for its error handler: the
        // prelude keeps a private reference and removes `debug` from the globals
        // before any script runs, exactly as Redis 7.0 does.
        let lua = unsafe {
            Lua::unsafe_new_with(
                StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG,
                LuaOptions::default(),
            )
        };
        let g = lua.globals();
        for name in REMOVED_GLOBALS {
            g.raw_set(*name, Value::Nil)?;
        }
        libs::register_all(&lua)?;
        g.raw_set("redis", redis_table(&lua)?)?;
        g.raw_set("__ferrodis_errmsg", lua.create_function(error_message)?)?;
        g.raw_set("__ferrodis_errvalue", lua.create_function(error_value)?)?;
        let redis: Table = g.raw_get("redis")?;
        let slot = Arc::new(Slot::default());
        bind_host_functions(&lua, &redis, &slot)?;
        let env: Table = lua.load(PRELUDE).set_name("=[redis]").eval()?;
        let handler: Function = g.raw_get("__redis__err__handler")?;
        let refs = RunRefs::new(&lua)?;
        // SAFETY: `run_entry` follows Lua's calling convention; it is only called by
        // `exec_with`, with the arguments it expects.
        let entry = unsafe { lua.create_c_function(run_entry)? };
        let hook_state = state.clone();
        lua.set_hook(
            mlua::HookTriggers::new().every_nth_instruction(KILL_CHECK_EVERY),
            move |_, _| {
                if hook_state.kill.load(Ordering::Relaxed) {
                    return Err(mlua::Error::RuntimeError(KILLED.into()));
                }
                let deadline = hook_state.deadline_ms.load(Ordering::Relaxed);
                if deadline != 0 && crate::util::time::now_ms() > deadline {
                    return Err(redis_error("ERR FUNCTION LOAD timeout"));
                }
                Ok(mlua::VmState::Continue)
            },
        );
        Ok(Engine {
            lua,
            env,
            handler,
            refs,
            entry,
            scripts: HashMap::default(),
            state,
            slot,
        })
    }

    /// Compiles `body` and caches it under its SHA1 (lower-case hex), returned.
    /// `lua_body` is the source to compile when it differs (a shebang line blanked);
    /// `no_writes` the script's flag. Errors are Redis's `Error compiling script (new
    /// function): ...` texts.
    pub fn load(
        &mut self,
        body: &[u8],
        lua_body: Option<&[u8]>,
        no_writes: bool,
    ) -> Result<Sha, String> {
        let hex = sha1_hex(body);
        let Some(sha) = sha_key(hex.as_bytes()) else {
            unreachable!("sha1_hex gives 40 hex digits")
        };
        if self.scripts.contains_key(&sha) {
            return Ok(sha);
        }
        let func = self
            .lua
            .load(lua_body.unwrap_or(body))
            .set_name("@user_script")
            .set_environment(self.env.clone())
            .into_function()
            .map_err(|e| format!("Error compiling script (new function): {}", lua_message(&e)))?;
        self.scripts.insert(sha, Script { func, no_writes });
        Ok(sha)
    }

    /// The `no-writes` flag of the cached script `sha`, if there is one.
    pub fn no_writes(&self, sha: &Sha) -> Option<bool> {
        self.scripts.get(sha).map(|s| s.no_writes)
    }

    pub fn exists(&self, sha: &[u8]) -> bool {
        sha_key(sha).is_some_and(|k| self.scripts.contains_key(&k))
    }

    /// SCRIPT FLUSH: forgets every script and starts a fresh interpreter.
    pub fn flush(&mut self) -> mlua::Result<()> {
        *self = Engine::new(self.state.clone())?;
        Ok(())
    }

    /// Runs the cached script `sha` with `keys` and `args`, writing its reply into
    /// `out`. `host` executes the commands it calls. `None` if no such script.
    pub fn run(
        &self,
        sha: &Sha,
        keys: &[&[u8]],
        args: &[&[u8]],
        out: &mut Reply,
        host: &mut Host,
    ) -> Option<Ran> {
        let func = &self.scripts.get(sha)?.func;
        let sha = std::str::from_utf8(sha).unwrap_or_default();
        let ran = self.exec_with(func, sha, out, host, Some((keys, args)));
        Some(ran)
    }

    /// The interpreter (for Functions, which keep their own engine).
    pub fn lua(&self) -> &Lua {
        &self.lua
    }

    /// Runs `func` (no arguments) as a script called `label` in error texts
    /// (`script: <label>, on ...`), with `redis.call`/`pcall`/`setresp` bound to `host`,
    /// writing its reply into `out`. `run` is this with the script's KEYS and ARGV set.
    pub fn exec(&mut self, func: Function, label: &str, out: &mut Reply, host: &mut Host) -> Ran {
        self.exec_with(&func, label, out, host, None)
    }

    /// [`Engine::exec`], setting globals `KEYS` and `ARGV` around the run when `arrays`
    /// is given (EVAL).
    fn exec_with(
        &self,
        func: &Function,
        label: &str,
        out: &mut Reply,
        host: &mut Host,
        arrays: Option<KeysArgv>,
    ) -> Ran {
        let mut host: &mut Host = host;
        self.slot.resp.store(2, Ordering::Relaxed);
        self.slot
            .host
            .store(&mut host as *mut &mut Host as *mut (), Ordering::Release);
        let guard = SlotGuard(&self.slot);
        let mut params = RunParams {
            arrays,
            refs: self.refs,
            slot: &self.slot,
            out: &mut *out,
            written: false,
        };
        let ptr = mlua::LightUserData(&mut params as *mut RunParams as *mut std::os::raw::c_void);
        // `run_entry` does the run in one call (see there); `Function::call` pushes the
        // arguments from references and allocates nothing, unlike a protected Rust
        // closure.
        let result: mlua::Result<MultiValue> = self.entry.call((ptr, &self.handler, func));
        let written = params.written;
        drop(guard);
        // SAFETY: the run is over and the host slot is null: no `redis.call` can use
        // the scratch space.
        let scratch = unsafe { &mut *self.slot.scratch.get() };
        if let Some(payload) = scratch.panic.take() {
            std::panic::resume_unwind(payload);
        }
        if scratch.reply.capacity() > 64 * 1024 {
            // A large reply (LRANGE of a big list...) is not kept between runs.
            scratch.reply = Vec::new();
        }
        let resp = self.slot.resp.load(Ordering::Relaxed);
        let failed = match result {
            Ok(_) if written => false,
            Ok(values) => {
                let mut it = values.into_iter();
                let ok = matches!(it.next(), Some(Value::Boolean(true)));
                let value = it.next().unwrap_or(Value::Nil);
                if ok {
                    convert::lua_to_reply(&value, out, resp);
                    false
                } else {
                    convert::error_to_reply(&value, label, out);
                    true
                }
            }
            Err(e) => {
                out.error(&format!(
                    "ERR Error running script {label}, {}",
                    lua_message(&e)
                ));
                true
            }
        };
        // A kill request is for this run only.
        self.state.kill.store(false, Ordering::Relaxed);
        Ran { failed }
    }
}

/// Adds `redis.call`, `redis.pcall`, `redis.acl_check_cmd` and `redis.setresp` to the
/// `redis` table; they reach the running script's host through `slot`.
fn bind_host_functions(lua: &Lua, redis: &Table, slot: &Arc<Slot>) -> mlua::Result<()> {
    // The interpreter keeps the slot alive: the C functions hold a raw pointer to it.
    lua.set_app_data(slot.clone());
    let ptr = Arc::as_ptr(slot) as *mut std::os::raw::c_void;
    // C functions as in Redis, so `return redis.call(...)` keeps the script's frame for
    // error line numbers (no Lua tail call); see `call.rs`.
    for (name, f) in [
        ("call", call::redis_call as mlua::ffi::lua_CFunction),
        ("pcall", call::redis_pcall),
        // redis.acl_check_cmd: the host answers an ACL check when asked with protocol 0.
        ("acl_check_cmd", call::redis_acl_check),
    ] {
        // SAFETY: a C closure over a light userdata, created in mlua's protected call;
        // the pointer stays valid as long as the interpreter (app data above).
        let func: Function = unsafe {
            lua.exec_raw((), |state| {
                mlua::ffi::lua_pushlightuserdata(state, ptr);
                mlua::ffi::lua_pushcclosure(state, f, 1);
            })?
        };
        redis.raw_set(name, func)?;
    }
    let sl = slot.clone();
    let setresp = lua.create_function(move |_, v: MultiValue| {
        if v.len() != 1 {
            return Err(redis_error("ERR redis.setresp() requires one argument."));
        }
        // Like lua_tonumber: numbers, and strings that read as numbers.
        let n = match v.front() {
            Some(Value::Integer(n)) => *n,
            Some(Value::Number(n)) => *n as i64,
            Some(Value::String(s)) => s
                .to_str()
                .ok()
                .and_then(|t| t.trim().parse::<f64>().ok())
                .map_or(0, |f| f as i64),
            _ => 0,
        };
        if n == 2 || n == 3 {
            sl.resp.store(n as u8, Ordering::Relaxed);
            Ok(())
        } else {
            Err(redis_error("ERR RESP version must be 2 or 3."))
        }
    })?;
    redis.raw_set("setresp", setresp)
}

/// The `redis` table without `call`/`pcall`/`setresp` (added by the prelude).
fn redis_table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "error_reply",
        lua.create_function(|lua, v: MultiValue| match (v.len(), v.front()) {
            (1, Some(Value::String(s))) => convert::error_table(lua, &s.as_bytes(), true),
            _ => convert::error_table(lua, b"wrong number or type of arguments", false),
        })?,
    )?;
    t.raw_set(
        "status_reply",
        lua.create_function(|lua, v: MultiValue| match (v.len(), v.front()) {
            (1, Some(Value::String(s))) => {
                let t = lua.create_table()?;
                t.raw_set("ok", s.clone())?;
                Ok(t)
            }
            _ => convert::error_table(lua, b"wrong number or type of arguments", false),
        })?,
    )?;
    t.raw_set(
        "sha1hex",
        lua.create_function(|_, v: MultiValue| match (v.len(), v.front()) {
            (1, Some(Value::String(s))) => Ok(sha1_hex(&s.as_bytes())),
            (1, Some(Value::Integer(n))) => Ok(sha1_hex(n.to_string().as_bytes())),
            _ => Err(mlua::Error::RuntimeError(
                "wrong number of arguments".into(),
            )),
        })?,
    )?;
    t.raw_set(
        "log",
        lua.create_function(|lua, v: MultiValue| {
            if v.len() < 2 {
                return Err(mlua::Error::RuntimeError(
                    "redis.log() requires two arguments or more.".into(),
                ));
            }
            let mut it = v.into_iter();
            let level = match it.next() {
                Some(Value::Integer(n)) => n,
                Some(Value::Number(n)) => n as i64,
                _ => {
                    return Err(mlua::Error::RuntimeError(
                        "First argument must be a number (log level).".into(),
                    ))
                }
            };
            if !(0..=3).contains(&level) {
                return Err(mlua::Error::RuntimeError("Invalid debug level.".into()));
            }
            let mut msg = String::new();
            for (i, a) in it.enumerate() {
                if i > 0 {
                    msg.push(' ');
                }
                if let Some(s) = lua.coerce_string(a)? {
                    msg.push_str(&s.to_string_lossy());
                }
            }
            let level = match level {
                0 => Level::Debug,
                1 => Level::Verbose,
                2 => Level::Notice,
                _ => Level::Warning,
            };
            crate::server::log::log(level, &msg);
            Ok(())
        })?,
    )?;
    t.raw_set("set_repl", lua.create_function(|_, _: MultiValue| Ok(()))?)?;
    t.raw_set(
        "replicate_commands",
        lua.create_function(|_, _: MultiValue| Ok(true))?,
    )?;
    t.raw_set(
        "breakpoint",
        lua.create_function(|_, _: MultiValue| Ok(false))?,
    )?;
    t.raw_set("debug", lua.create_function(|_, _: MultiValue| Ok(()))?)?;
    for (name, v) in [
        ("LOG_DEBUG", 0),
        ("LOG_VERBOSE", 1),
        ("LOG_NOTICE", 2),
        ("LOG_WARNING", 3),
        ("REPL_NONE", 0),
        ("REPL_AOF", 1),
        ("REPL_SLAVE", 2),
        ("REPL_REPLICA", 2),
        ("REPL_ALL", 3),
    ] {
        t.raw_set(name, v)?;
    }
    t.raw_set("REDIS_VERSION", crate::VERSION_REDIS)?;
    t.raw_set("REDIS_VERSION_NUM", redis_version_num())?;
    Ok(t)
}

/// `REDIS_VERSION_NUM`: 0x00MMmmpp.
fn redis_version_num() -> i64 {
    let mut parts = crate::VERSION_REDIS
        .split('.')
        .map(|p| p.parse::<i64>().unwrap_or(0));
    let (a, b, c) = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    (a << 16) | (b << 8) | c
}

/// What [`run_entry`] needs for a run (passed as a light userdata).
struct RunParams<'a> {
    arrays: Option<KeysArgv<'a>>,
    refs: RunRefs,
    slot: &'a Slot,
    out: &'a mut Reply,
    /// Set when the script's reply was written from the Lua stack.
    written: bool,
}

/// Runs a script (Lua C function, arguments: a light userdata pointing to a
/// [`RunParams`], the error handler, the script). One call does it all: set KEYS and
/// ARGV, run the script with Redis's error handler (`lua_pcall` with a message
/// handler, as Redis's `luaCallFunction` does), write a plain result (string, number,
/// boolean, nil) straight into the reply, and leave an empty KEYS/ARGV behind so no
/// argument outlives the run. Tables and errors are returned as `(ok, value)` for the
/// conversions of `convert.rs`; nothing when the reply was written.
///
/// Only memory errors can raise here (caught by the caller's protected call); no
/// value with a destructor is alive on this frame, and nothing here panics.
unsafe extern "C-unwind" fn run_entry(state: *mut mlua::ffi::lua_State) -> std::os::raw::c_int {
    use mlua::ffi;
    // SAFETY: `exec_with` passes a pointer to its `RunParams`, alive for the call.
    let Some(p) = (ffi::lua_touserdata(state, 1) as *mut RunParams).as_mut() else {
        return 0;
    };
    // [params, handler, script]; a C function has LUA_MINSTACK (20) free slots.
    if let Some((keys, args)) = p.arrays {
        set_global_array(state, p.refs.keys, p.refs.empty_keys, keys);
        set_global_array(state, p.refs.argv, p.refs.empty_argv, args);
    }
    let status = ffi::lua_pcall(state, 0, 1, 2);
    // [params, handler, result or error]
    let n = if status == 0 {
        let resp = p.slot.resp.load(Ordering::Relaxed);
        if convert::write_plain(state, p.out, resp) {
            p.written = true;
            0
        } else {
            ffi::lua_pushboolean(state, 1);
            ffi::lua_replace(state, 2);
            2
        }
    } else {
        ffi::lua_pushboolean(state, 0);
        ffi::lua_replace(state, 2);
        2
    };
    if let Some((keys, args)) = p.arrays {
        // Only a run that got an empty table can have changed it.
        if keys.is_empty() {
            renew_if_used(state, p.refs.empty_keys);
        }
        if args.is_empty() {
            renew_if_used(state, p.refs.empty_argv);
        }
        set_global_empty(state, p.refs.keys, p.refs.empty_keys);
        set_global_empty(state, p.refs.argv, p.refs.empty_argv);
    }
    n
}

/// Registry references (`luaL_ref`) of the values every run pushes: the names of the
/// `KEYS` and `ARGV` globals, and one empty table for each, which a run without keys
/// (or arguments) gets as its KEYS (ARGV) and which they are left with after a run.
/// A script that changed one of them (an element, a metatable) leaves it behind: it
/// is replaced by a new empty table after the run, so every run starts with empty,
/// plain, distinct tables as with Redis's fresh ones, without allocating them.
#[derive(Clone, Copy)]
struct RunRefs {
    keys: std::os::raw::c_int,
    argv: std::os::raw::c_int,
    empty_keys: std::os::raw::c_int,
    empty_argv: std::os::raw::c_int,
}

impl RunRefs {
    fn new(lua: &Lua) -> mlua::Result<RunRefs> {
        let mut refs = RunRefs {
            keys: 0,
            argv: 0,
            empty_keys: 0,
            empty_argv: 0,
        };
        // SAFETY: four pushes and `luaL_ref`s inside mlua's protected call, which
        // guarantees the stack space; the references live as long as the interpreter.
        unsafe {
            lua.exec_raw::<()>((), |state| {
                use mlua::ffi;
                ffi::lua_pushlstring(state, c"KEYS".as_ptr(), 4);
                refs.keys = ffi::luaL_ref(state, ffi::LUA_REGISTRYINDEX);
                ffi::lua_pushlstring(state, c"ARGV".as_ptr(), 4);
                refs.argv = ffi::luaL_ref(state, ffi::LUA_REGISTRYINDEX);
                ffi::lua_createtable(state, 0, 0);
                refs.empty_keys = ffi::luaL_ref(state, ffi::LUA_REGISTRYINDEX);
                ffi::lua_createtable(state, 0, 0);
                refs.empty_argv = ffi::luaL_ref(state, ffi::LUA_REGISTRYINDEX);
            })?;
        }
        Ok(refs)
    }
}

/// Sets the global named by registry reference `name` (raw, bypassing the globals'
/// protection) to a new array of `items` as Lua strings (Redis's `luaCreateArray` +
/// `lua_setglobal`); to the empty table `empty` when there are none.
///
/// # Safety
/// `state` is a valid Lua state with three free stack slots, inside a protected call.
unsafe fn set_global_array(
    state: *mut mlua::ffi::lua_State,
    name: std::os::raw::c_int,
    empty: std::os::raw::c_int,
    items: &[&[u8]],
) {
    use mlua::ffi;
    use std::os::raw::{c_char, c_int};
    if items.is_empty() {
        set_global_empty(state, name, empty);
        return;
    }
    ffi::lua_rawgeti(state, ffi::LUA_REGISTRYINDEX, name as ffi::lua_Integer);
    ffi::lua_createtable(state, items.len().min(c_int::MAX as usize) as c_int, 0);
    for (i, s) in items.iter().enumerate() {
        ffi::lua_pushlstring(state, s.as_ptr() as *const c_char, s.len());
        ffi::lua_rawseti(state, -2, (i + 1) as ffi::lua_Integer);
    }
    ffi::lua_rawset(state, ffi::LUA_GLOBALSINDEX);
}

/// Replaces the empty table of registry reference `empty` by a new one if a script
/// changed it (an element or a metatable).
///
/// # Safety
/// As [`set_global_array`].
unsafe fn renew_if_used(state: *mut mlua::ffi::lua_State, empty: std::os::raw::c_int) {
    use mlua::ffi;
    ffi::lua_rawgeti(state, ffi::LUA_REGISTRYINDEX, empty as ffi::lua_Integer);
    ffi::lua_pushnil(state);
    let mut used = false;
    if ffi::lua_next(state, -2) != 0 {
        // [table, key, value]
        ffi::lua_settop(state, -3);
        used = true;
    }
    if ffi::lua_getmetatable(state, -1) != 0 {
        ffi::lua_settop(state, -2);
        used = true;
    }
    ffi::lua_settop(state, -2);
    if used {
        ffi::lua_createtable(state, 0, 0);
        ffi::lua_rawseti(state, ffi::LUA_REGISTRYINDEX, empty as ffi::lua_Integer);
    }
}

/// Sets the global named by registry reference `name` to the empty table `empty`
/// (after a run: no argument outlives it, and nothing is allocated).
///
/// # Safety
/// As [`set_global_array`].
unsafe fn set_global_empty(
    state: *mut mlua::ffi::lua_State,
    name: std::os::raw::c_int,
    empty: std::os::raw::c_int,
) {
    use mlua::ffi;
    ffi::lua_rawgeti(state, ffi::LUA_REGISTRYINDEX, name as ffi::lua_Integer);
    ffi::lua_rawgeti(state, ffi::LUA_REGISTRYINDEX, empty as ffi::lua_Integer);
    ffi::lua_rawset(state, ffi::LUA_GLOBALSINDEX);
}

/// Marks an error raised from Rust whose message is already a full Redis error text
/// (`CODE message`), so the error handler does not prefix it with `ERR`.
const REDIS_ERROR_MARK: char = '\u{1}';

/// A Lua error carrying a complete Redis error text (`ERR ...`, `WRONGTYPE ...`).
pub(crate) fn redis_error(text: &str) -> mlua::Error {
    mlua::Error::RuntimeError(format!("{REDIS_ERROR_MARK}{text}"))
}

/// `errmsg(err)` for the error handler: the Redis error text for a non-table Lua error
/// (Lua's own errors and errors raised from Rust get an `ERR ` prefix unless marked).
fn error_message(lua: &Lua, v: Value) -> mlua::Result<mlua::String> {
    fn root(e: &mlua::Error) -> &mlua::Error {
        match e {
            mlua::Error::CallbackError { cause, .. } => root(cause),
            other => other,
        }
    }
    let text = match &v {
        Value::Error(e) => match root(e) {
            mlua::Error::RuntimeError(m) => match m.strip_prefix(REDIS_ERROR_MARK) {
                Some(full) => full.to_string(),
                None => format!("ERR {m}"),
            },
            other => format!("ERR {other}"),
        },
        Value::Nil => "ERR nil".into(),
        Value::Boolean(b) => format!("ERR {b}"),
        other => match lua.coerce_string(other.clone())? {
            Some(s) => format!("ERR {}", s.to_string_lossy()),
            None => format!("ERR {}", other.type_name()),
        },
    };
    lua.create_string(text)
}

/// `errvalue(err)`: what a script sees for an error raised from Rust: a marked Redis
/// error becomes `{err=text}` (as Redis's C code raises it), anything else its message.
fn error_value(lua: &Lua, v: Value) -> mlua::Result<Value> {
    fn root(e: &mlua::Error) -> &mlua::Error {
        match e {
            mlua::Error::CallbackError { cause, .. } => root(cause),
            other => other,
        }
    }
    let Value::Error(e) = &v else {
        return Ok(v);
    };
    Ok(match root(e) {
        mlua::Error::RuntimeError(m) => match m.strip_prefix(REDIS_ERROR_MARK) {
            Some(full) => {
                let t = lua.create_table()?;
                t.raw_set("err", full)?;
                Value::Table(t)
            }
            None => Value::String(lua.create_string(m)?),
        },
        other => Value::String(lua.create_string(other.to_string())?),
    })
}

/// A Lua error's message without mlua's decorations.
pub(crate) fn lua_message(e: &mlua::Error) -> String {
    match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::RuntimeError(m) => m.clone(),
        mlua::Error::CallbackError { cause, .. } => lua_message(cause),
        other => other.to_string(),
    }
}

/// SHA1 of `data` as 40 lower-case hex digits.
pub fn sha1_hex(data: &[u8]) -> String {
    sha1_smol::Sha1::from(data).digest().to_string()
}
