//! Lua scripts (Redis's `eval.c`): EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT
//! LOAD/EXISTS/FLUSH/KILL/HELP. The interpreter and the value conversions live in
//! `crate::scripting`; this family runs scripts against the keyspace.
//!
//! A script runs under the exclusive gate (`Lock::Exclusive`), so it is atomic and may
//! touch any key, declared in KEYS or not (BullMQ's scripts do). The commands it calls
//! with `redis.call` run directly on the script's own locked view of the keyspace
//! (`ctx.txn`), with the checks Redis makes for scripts (unknown command, arity,
//! commands flagged `noscript`, writes from read-only scripts). Blocking commands act
//! non-blocking, SELECT only affects the script, and clients blocked on keys the
//! script filled are served when it ends.

use std::sync::atomic::Ordering;

use super::client::help_reply;
use super::{args, flags::*, CmdResult, Command, Ctx, Lock, RError};
use crate::protocol::{Proto, Reply};

crate::commands! { pub static COMMANDS = [
    Command::new("eval", -3, NOSCRIPT | STALE | SKIP_MONITOR | MAY_REPLICATE | NO_MANDATORY_KEYS | MOVABLE_KEYS, eval)
        .getkeys(eval_keys)
        .lock(Lock::Exclusive)
        .acl(&["slow", "scripting"]),
    Command::new("evalsha", -3, NOSCRIPT | STALE | SKIP_MONITOR | MAY_REPLICATE | NO_MANDATORY_KEYS | MOVABLE_KEYS, evalsha)
        .getkeys(eval_keys)
        .lock(Lock::Exclusive)
        .acl(&["slow", "scripting"]),
    Command::new("eval_ro", -3, READONLY | NOSCRIPT | STALE | SKIP_MONITOR | NO_MANDATORY_KEYS | MOVABLE_KEYS, eval_ro)
        .getkeys(eval_keys)
        .lock(Lock::Exclusive)
        .acl(&["slow", "scripting"]),
    Command::new("evalsha_ro", -3, READONLY | NOSCRIPT | STALE | SKIP_MONITOR | NO_MANDATORY_KEYS | MOVABLE_KEYS, evalsha_ro)
        .getkeys(eval_keys)
        .lock(Lock::Exclusive)
        .acl(&["slow", "scripting"]),
    Command::new("script", -2, 0, super::container)
        .acl(&["slow"])
        .subcommands(&SCRIPT),
]; }

crate::commands! { static SCRIPT = [
    Command::new("flush", -2, NOSCRIPT, script_flush).acl(&["slow", "scripting"]),
    Command::new("help", 2, LOADING | STALE, script_help).acl(&["slow", "scripting"]),
    Command::new("exists", -3, NOSCRIPT, script_exists).acl(&["slow", "scripting"]),
    Command::new("load", 3, NOSCRIPT | STALE, script_load).acl(&["slow", "scripting"]),
    Command::new("kill", 2, NOSCRIPT | ALLOW_BUSY, script_kill).acl(&["slow", "scripting"]),
]; }

/// Keys of `EVAL script numkeys key... arg...`.
pub(crate) fn eval_keys(argv: &[&[u8]]) -> Vec<usize> {
    match argv.get(2).and_then(|a| args::int(a).ok()) {
        Some(n) if n >= 0 && n as u64 <= argv.len().saturating_sub(3) as u64 => {
            (3..3 + n as usize).collect()
        }
        _ => Vec::new(),
    }
}

fn eval(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    eval_generic(ctx, argv, false, false)
}

fn evalsha(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    eval_generic(ctx, argv, true, false)
}

fn eval_ro(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    eval_generic(ctx, argv, false, true)
}

fn evalsha_ro(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    eval_generic(ctx, argv, true, true)
}

/// Script flags from a `#!lua flags=...` first line (Redis 7 shebang).
#[derive(Default, Clone, Copy)]
struct ScriptFlags {
    no_writes: bool,
    allow_oom: bool,
}

/// Splits a `#!` shebang off `body`: the flags, and the body with that line blanked
/// (so line numbers in errors stay the same).
/// Whether an EVAL body declares `#!lua flags=no-writes` (CLIENT PAUSE WRITE lets such
/// scripts run).
pub fn shebang_no_writes(body: &[u8]) -> bool {
    parse_shebang(body).is_ok_and(|(f, _)| f.no_writes)
}

fn parse_shebang(body: &[u8]) -> Result<(ScriptFlags, Option<Vec<u8>>), RError> {
    if !body.starts_with(b"#!") {
        return Ok((ScriptFlags::default(), None));
    }
    let end = body.iter().position(|&c| c == b'\n').unwrap_or(body.len());
    let line = String::from_utf8_lossy(&body[..end]).into_owned();
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or("");
    if engine != "#!lua" {
        return Err(RError::owned(format!(
            "ERR Unexpected engine in script shebang: {engine}"
        )));
    }
    let mut flags = ScriptFlags::default();
    for p in parts {
        let Some(list) = p.strip_prefix("flags=") else {
            return Err(RError::owned(format!(
                "ERR Unknown lua shebang option: {p}"
            )));
        };
        for f in list.split(',').filter(|f| !f.is_empty()) {
            match f {
                "no-writes" => flags.no_writes = true,
                "allow-oom" => flags.allow_oom = true,
                "allow-stale" | "no-cluster" | "allow-cross-slot-keys" => {}
                other => {
                    return Err(RError::owned(format!(
                        "ERR Unexpected flag in script shebang: {other}"
                    )))
                }
            }
        }
    }
    Ok((flags, Some(body[end..].to_vec())))
}

fn eval_generic(ctx: &mut Ctx, argv: &[&[u8]], by_sha: bool, read_only: bool) -> CmdResult {
    let numkeys = args::int(argv[2])?;
    if numkeys > argv.len() as i64 - 3 {
        return Err(RError::raw(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    if numkeys < 0 {
        return Err(RError::raw("ERR Number of keys can't be negative"));
    }
    let keys = &argv[3..3 + numkeys as usize];
    let script_args = &argv[3 + numkeys as usize..];
    let srv = ctx.srv;
    let mut engine = srv.scripts.lock();
    let (sha, flags) = if by_sha {
        let found =
            crate::scripting::sha_key(argv[1]).and_then(|sha| Some((sha, engine.no_writes(&sha)?)));
        let Some((sha, no_writes)) = found else {
            return Err(RError::raw("NOSCRIPT No matching script. Please use EVAL."));
        };
        (
            sha,
            ScriptFlags {
                no_writes,
                allow_oom: false,
            },
        )
    } else {
        let (flags, stripped) = parse_shebang(argv[1])?;
        if stripped.is_some() && !flags.no_writes {
            // A script with flags that may write is refused before it runs.
            if let Some(msg) = crate::persistence::deny_writes(ctx.srv) {
                return Err(RError::owned(msg));
            }
            if !flags.allow_oom && ctx.srv.evict.stuck() {
                return Err(RError::raw(crate::server::evict::OOM));
            }
        }
        let sha = engine
            .load(argv[1], stripped.as_deref(), flags.no_writes)
            .map_err(|e| RError::owned(format!("ERR {e}")))?;
        (sha, flags)
    };
    let read_only = read_only || flags.no_writes;
    let saved_db = ctx.client.db;
    let saved_deny = std::mem::replace(&mut ctx.client.deny_blocking, true);
    let proto = if ctx.out.is_resp3() {
        Proto::Resp3
    } else {
        Proto::Resp2
    };
    // The script's reply is written straight after what the connection's output
    // already holds (no buffer of its own to allocate and copy); what commands write
    // to the connection meanwhile (tracking invalidations) goes into a fresh buffer
    // and is put back in front of the script's reply afterwards.
    let mut result = Reply {
        buf: std::mem::take(&mut ctx.out.buf),
        proto,
        errors: 0,
        last_error_code: None,
    };
    let reply_start = result.buf.len();
    let state = &srv.script_state;
    state.wrote.store(false, Ordering::SeqCst);
    state.kill.store(false, Ordering::SeqCst);
    state.allow_oom.store(flags.allow_oom, Ordering::SeqCst);
    let started = crate::util::time::now_ms().max(1);
    state.started_ms.store(started, Ordering::SeqCst);
    let run = || {
        let mut host = |call: &[&[u8]], resp: u8, reply: &mut Vec<u8>| {
            script_call(ctx, call, resp, read_only, reply)
        };
        engine.run(&sha, keys, script_args, &mut result, &mut host)
    };
    let ran = outside_async(run);
    state.started_ms.store(0, Ordering::SeqCst);
    drop(engine);
    ctx.client.db = saved_db;
    ctx.client.deny_blocking = saved_deny;
    let written_meanwhile = std::mem::replace(&mut ctx.out.buf, result.buf);
    if !written_meanwhile.is_empty() {
        ctx.out
            .buf
            .splice(reply_start..reply_start, written_meanwhile);
    }
    if ran.is_none() {
        return Err(RError::raw("NOSCRIPT No matching script. Please use EVAL."));
    }
    ctx.out.errors += result.errors;
    if result.last_error_code.is_some() {
        ctx.out.last_error_code = result.last_error_code;
    }
    Ok(())
}

/// Runs `f`, which may take long (a script), telling tokio first: the worker thread's
/// other tasks (accepting connections, other clients, SCRIPT KILL) move to another
/// thread meanwhile instead of waiting behind the script.
///
/// This costs a blocking-pool wake-up per script on the multi-threaded runtime. Doing
/// it only for scripts that ran long before was tried: a script's first long run then
/// left other connections unserved at times (no worker polling for I/O), so every run
/// pays it; a single worker (`worker-threads 1`) has no such cost.
pub(crate) fn outside_async<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// Runs one `redis.call` on the script's view of the keyspace (Redis's `scriptCall`),
/// appending its reply to `reply`.
pub(crate) fn script_call(
    ctx: &mut Ctx,
    refs: &[&[u8]],
    resp: u8,
    read_only: bool,
    reply: &mut Vec<u8>,
) -> Result<(), String> {
    if resp == 0 {
        // redis.acl_check_cmd (see `scripting::bind_host_functions`).
        reply.extend_from_slice(&super::acl::script_acl_check(ctx, refs)?);
        return Ok(());
    }
    let (cmd, parent) = match ctx.srv.commands.resolve(refs) {
        Ok(c) => c,
        Err(e) if e.0.contains("wrong number of arguments") => {
            return Err("Wrong number of args calling Redis command from script".into())
        }
        Err(_) => return Err("Unknown Redis command called from script".into()),
    };
    if cmd.has(NOSCRIPT) {
        return Err("This Redis command is not allowed from script".into());
    }
    if let Err((denied, pos)) = super::acl::check(ctx.srv, ctx.client, cmd, parent, refs) {
        return Err(super::acl::script_denial(
            ctx, cmd, parent, refs, denied, pos,
        ));
    }
    if read_only && cmd.has(WRITE) {
        return Err("Write commands are not allowed from read-only scripts.".into());
    }
    // Redis's scriptVerifyOOM: before the script's first write, a command that may
    // grow memory fails if memory was full when the script started.
    let state = &ctx.srv.script_state;
    if cmd.has(DENYOOM)
        && !state.allow_oom.load(Ordering::Relaxed)
        && !state.wrote.load(Ordering::Relaxed)
        && ctx.srv.evict.stuck()
    {
        return Err(format!("-{}", crate::server::evict::OOM));
    }
    if cmd.has(WRITE) {
        if let Some(msg) = crate::persistence::deny_writes(ctx.srv) {
            return Err(format!("-{msg}"));
        }
        ctx.srv.script_state.wrote.store(true, Ordering::SeqCst);
    }
    // The reply goes straight into the caller's (reused) buffer.
    let mut out = Reply {
        buf: std::mem::take(reply),
        proto: if resp == 3 {
            Proto::Resp3
        } else {
            Proto::Resp2
        },
        errors: 0,
        last_error_code: None,
    };
    let result = {
        let mut inner = Ctx {
            srv: ctx.srv,
            client: &mut *ctx.client,
            out: &mut out,
            txn: &mut *ctx.txn,
            cmd,
        };
        (cmd.handler)(&mut inner, refs)
    };
    if let Err(e) = result {
        out.error(&e.0);
    }
    *reply = out.buf;
    crate::server::dispatch::after_script_call(ctx, cmd, refs);
    cmd.stats.calls.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

fn script_load(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let (flags, stripped) = parse_shebang(argv[2])?;
    let sha = ctx
        .srv
        .scripts
        .lock()
        .load(argv[2], stripped.as_deref(), flags.no_writes)
        .map_err(|e| RError::owned(format!("ERR {e}")))?;
    ctx.out.bulk(&sha);
    Ok(())
}

fn script_exists(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let engine = ctx.srv.scripts.lock();
    let found: Vec<bool> = argv[2..].iter().map(|a| engine.exists(a)).collect();
    drop(engine);
    ctx.out.array(found.len());
    for f in found {
        ctx.out.int(f as i64);
    }
    Ok(())
}

fn script_flush(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 3
        || (argv.len() == 3 && !args::is(argv[2], "sync") && !args::is(argv[2], "async"))
    {
        return Err(RError::raw(
            "ERR SCRIPT FLUSH only support SYNC|ASYNC option",
        ));
    }
    ctx.srv
        .scripts
        .lock()
        .flush()
        .map_err(|e| RError::owned(format!("ERR {e}")))?;
    ctx.out.ok();
    Ok(())
}

/// SCRIPT KILL: runs while a script holds the keyspace (it is `allow_busy` and takes
/// no lock); the script notices the request within a few thousand instructions.
fn script_kill(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    ctx.srv.script_state.request_kill().map_err(RError::raw)?;
    ctx.out.ok();
    Ok(())
}

fn script_help(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    help_reply(
        ctx,
        "SCRIPT",
        &[
            "DEBUG (YES|SYNC|NO)",
            "    Set the debug mode for subsequent scripts executed.",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
        ],
    );
    Ok(())
}
