//! Redis 7 Functions (`functions.c`): FCALL, FCALL_RO and FUNCTION LOAD / DELETE /
//! FLUSH / LIST / STATS / KILL / HELP. Libraries, registration and running live in
//! `crate::scripting::functions`; a function runs like an EVAL script (exclusive gate,
//! `redis.call` through `scripting::script_call`).
//!
//! FUNCTION DUMP / RESTORE use Redis's payload (`FUNCTION2` opcodes with each
//! library's code, RDB version, CRC-64; see `crate::persistence`).

use std::sync::atomic::Ordering;

use super::client::help_reply;
use super::scripting::{eval_keys, script_call};
use super::{args, flags::*, CmdResult, Command, Ctx, Lock, RError};
use crate::protocol::{Proto, Reply};
use crate::scripting::functions::{FLAG_NAMES, NO_WRITES};

/// `allow-oom` in `FunctionInfo::flags` (bit 1 of `FLAG_NAMES`).
const ALLOW_OOM: u8 = 2;

crate::commands! { pub static COMMANDS = [
    Command::new("fcall", -3, NOSCRIPT | STALE | SKIP_MONITOR | MAY_REPLICATE | NO_MANDATORY_KEYS | MOVABLE_KEYS, fcall)
        .getkeys(eval_keys)
        .lock(Lock::Exclusive)
        .acl(&["slow", "scripting"]),
    Command::new("fcall_ro", -3, READONLY | NOSCRIPT | STALE | SKIP_MONITOR | NO_MANDATORY_KEYS | MOVABLE_KEYS, fcall_ro)
        .getkeys(eval_keys)
        .lock(Lock::Exclusive)
        .acl(&["slow", "scripting"]),
    Command::new("function", -2, 0, super::container)
        .acl(&["slow"])
        .subcommands(&FUNCTION),
]; }

crate::commands! { static FUNCTION = [
    Command::new("load", -3, WRITE | DENYOOM | NOSCRIPT, function_load).acl(&["write", "slow", "scripting"]),
    Command::new("delete", 3, WRITE | NOSCRIPT, function_delete).acl(&["write", "slow", "scripting"]),
    Command::new("list", -2, NOSCRIPT, function_list).acl(&["slow", "scripting"]),
    Command::new("flush", -2, WRITE | NOSCRIPT, function_flush).acl(&["write", "slow", "scripting"]),
    Command::new("kill", 2, NOSCRIPT | ALLOW_BUSY, function_kill).lock(Lock::Gateless).acl(&["slow", "scripting"]),
    Command::new("stats", 2, NOSCRIPT | ALLOW_BUSY, function_stats).lock(Lock::Gateless).acl(&["slow", "scripting"]),
    Command::new("help", 2, LOADING | STALE, function_help).acl(&["slow", "scripting"]),
    Command::new("dump", 2, NOSCRIPT, function_dump).acl(&["slow", "scripting"]),
    Command::new("restore", -3, WRITE | DENYOOM | NOSCRIPT, function_restore).acl(&["write", "slow", "scripting"]),
]; }

/// FUNCTION DUMP
fn function_dump(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let payload = crate::persistence::snapshot::functions_payload(ctx.srv);
    ctx.out.bulk(&payload);
    Ok(())
}

/// FUNCTION RESTORE serialized-value [FLUSH|APPEND|REPLACE]
fn function_restore(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 4 {
        return Err(RError::owned(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try FUNCTION HELP.",
            String::from_utf8_lossy(argv[1])
        )));
    }
    #[derive(PartialEq)]
    enum Policy {
        Flush,
        Append,
        Replace,
    }
    let policy =
        match argv.get(3) {
            None => Policy::Append,
            Some(p) if args::is(p, "flush") => Policy::Flush,
            Some(p) if args::is(p, "append") => Policy::Append,
            Some(p) if args::is(p, "replace") => Policy::Replace,
            Some(_) => return Err(RError::raw(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            )),
        };
    if crate::persistence::rdb::verify_payload(argv[2], false).is_none() {
        return Err(RError::raw(
            "ERR DUMP payload version or checksum are wrong",
        ));
    }
    let codes = crate::persistence::snapshot::functions_from_payload(argv[2])
        .map_err(|e| RError::owned(format!("ERR {e}")))?;
    let err = |e: String| RError::owned(format!("ERR {e}"));
    let lua_err = |e: mlua::Error| RError::owned(format!("ERR {e}"));
    let functions = &ctx.srv.functions;
    let mut lib = functions.lib.lock();
    let mut restored = lib.fresh().map_err(lua_err)?;
    // Library names in payload order (collisions are reported in that order; Redis's
    // own order is its hash table's, which varies between runs).
    let mut names: Vec<String> = Vec::with_capacity(codes.len());
    for code in &codes {
        names.push(restored.load(code, false).map_err(err)?);
    }
    if policy != Policy::Flush {
        let mut replaced: Vec<&str> = Vec::new();
        for name in &names {
            if lib.libraries.contains_key(name) {
                if policy == Policy::Append {
                    return Err(RError::owned(format!("ERR Library {name} already exists")));
                }
                replaced.push(name);
            }
        }
        let fnames = names
            .iter()
            .filter_map(|n| restored.libraries.get(n))
            .flat_map(|l| l.functions.iter());
        for f in fnames {
            if let Some(cur) = lib.functions.get(f) {
                if !replaced.contains(&cur.library.as_str()) {
                    return Err(RError::owned(format!("ERR Function {f} already exists")));
                }
            }
        }
        // Both checks passed: the union, built aside and swapped in whole.
        let mut merged = lib.fresh().map_err(lua_err)?;
        let mut kept: Vec<&crate::scripting::functions::Library> = lib
            .libraries
            .values()
            .filter(|l| !replaced.contains(&l.name.as_str()))
            .collect();
        kept.sort_by(|a, b| a.name.cmp(&b.name));
        for l in kept {
            merged.load(&l.code, false).map_err(err)?;
        }
        for code in &codes {
            merged.load(code, false).map_err(err)?;
        }
        restored = merged;
    }
    *lib = restored;
    functions.update_counts(&lib);
    drop(lib);
    ctx.out.ok();
    Ok(())
}

fn fcall(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    fcall_generic(ctx, argv, false)
}

fn fcall_ro(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    fcall_generic(ctx, argv, true)
}

fn fcall_generic(ctx: &mut Ctx, argv: &[&[u8]], ro: bool) -> CmdResult {
    let srv = ctx.srv;
    let name = String::from_utf8_lossy(argv[1]).into_owned();
    let mut lib = srv.functions.lib.lock();
    let Some(info) = lib.functions.get(&name) else {
        return Err(RError::raw("ERR Function not found"));
    };
    let no_writes = info.flags & NO_WRITES != 0;
    // Redis's strict integer syntax: no '+', no leading zeros, no spaces.
    let numkeys = crate::util::num::parse_i64(argv[2])
        .ok_or(RError::raw("ERR Bad number of keys provided"))?;
    if numkeys > argv.len() as i64 - 3 {
        return Err(RError::raw(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    if numkeys < 0 {
        return Err(RError::raw("ERR Number of keys can't be negative"));
    }
    let allow_oom = info.flags & ALLOW_OOM != 0;
    if !no_writes {
        if let Some(msg) = crate::persistence::deny_writes(srv) {
            return Err(RError::owned(msg));
        }
        if !allow_oom && srv.evict.stuck() {
            return Err(RError::raw(crate::server::evict::OOM));
        }
    }
    if ro && !no_writes {
        return Err(RError::raw(
            "ERR Can not execute a script with write flag using *_ro command.",
        ));
    }
    let keys = &argv[3..3 + numkeys as usize];
    let fargs = &argv[3 + numkeys as usize..];
    let read_only = ro || no_writes;
    let saved_db = ctx.client.db;
    let saved_deny = std::mem::replace(&mut ctx.client.deny_blocking, true);
    let proto = if ctx.out.is_resp3() {
        Proto::Resp3
    } else {
        Proto::Resp2
    };
    // As EVAL: the reply goes straight into the connection's output, with what is
    // written to it meanwhile (tracking invalidations) put back in front.
    let mut result = Reply {
        buf: std::mem::take(&mut ctx.out.buf),
        proto,
        errors: 0,
        last_error_code: None,
    };
    let reply_start = result.buf.len();
    let state = &srv.functions.state;
    srv.script_state
        .allow_oom
        .store(allow_oom, Ordering::SeqCst);
    srv.script_state.wrote.store(false, Ordering::SeqCst);
    state.wrote.store(false, Ordering::SeqCst);
    state.kill.store(false, Ordering::SeqCst);
    let started = crate::util::time::now_ms().max(1);
    *srv.functions.running.lock() = Some(crate::scripting::functions::Running {
        name: name.clone(),
        command: argv.iter().map(|a| a.to_vec()).collect(),
        started_ms: started,
    });
    state.started_ms.store(started, Ordering::SeqCst);
    let ran = {
        let mut host = |call: &[&[u8]], resp: u8, reply: &mut Vec<u8>| {
            // `script_call` flags writes on EVAL's run state; FUNCTION KILL reads ours.
            let r = script_call(ctx, call, resp, read_only, reply);
            if srv.script_state.wrote.swap(false, Ordering::SeqCst) {
                state.wrote.store(true, Ordering::SeqCst);
            }
            r
        };
        let mut run = || lib.call(&name, keys, fargs, &mut result, &mut host);
        // A long function must not hold up the other connections' tasks queued on this
        // worker (FUNCTION STATS / KILL must get through): hand them to another worker.
        let multi_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if multi_thread {
            tokio::task::block_in_place(run)
        } else {
            run()
        }
    };
    state.started_ms.store(0, Ordering::SeqCst);
    *srv.functions.running.lock() = None;
    ctx.client.db = saved_db;
    ctx.client.deny_blocking = saved_deny;
    let written_meanwhile = std::mem::replace(&mut ctx.out.buf, result.buf);
    if !written_meanwhile.is_empty() {
        ctx.out
            .buf
            .splice(reply_start..reply_start, written_meanwhile);
    }
    if ran.is_none() {
        return Err(RError::raw("ERR Function not found"));
    }
    ctx.out.errors += result.errors;
    if result.last_error_code.is_some() {
        ctx.out.last_error_code = result.last_error_code;
    }
    Ok(())
}

fn function_load(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let mut replace = false;
    let mut pos = 2;
    while pos < argv.len() - 1 {
        let a = argv[pos];
        pos += 1;
        if args::is(a, "replace") {
            replace = true;
            continue;
        }
        return Err(RError::owned(format!(
            "ERR Unknown option given: {}",
            String::from_utf8_lossy(a)
        )));
    }
    let code = argv[pos];
    let functions = &ctx.srv.functions;
    let mut lib = functions.lib.lock();
    let name = lib
        .load(code, replace)
        .map_err(|e| RError::owned(format!("ERR {e}")))?;
    functions.update_counts(&lib);
    drop(lib);
    ctx.out.bulk(name.as_bytes());
    Ok(())
}

fn function_delete(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let functions = &ctx.srv.functions;
    let mut lib = functions.lib.lock();
    if !lib.delete(&String::from_utf8_lossy(argv[2])) {
        return Err(RError::raw("ERR Library not found"));
    }
    functions.update_counts(&lib);
    drop(lib);
    ctx.out.ok();
    Ok(())
}

fn function_flush(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 3 {
        return Err(RError::owned(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try FUNCTION HELP.",
            String::from_utf8_lossy(argv[1])
        )));
    }
    if argv.len() == 3 && !args::is(argv[2], "sync") && !args::is(argv[2], "async") {
        return Err(RError::raw(
            "ERR FUNCTION FLUSH only supports SYNC|ASYNC option",
        ));
    }
    let functions = &ctx.srv.functions;
    let mut lib = functions.lib.lock();
    lib.flush().map_err(|e| RError::owned(format!("ERR {e}")))?;
    functions.update_counts(&lib);
    drop(lib);
    ctx.out.ok();
    Ok(())
}

fn function_list(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let mut with_code = false;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 2;
    while i < argv.len() {
        let a = argv[i];
        if !with_code && args::is(a, "withcode") {
            with_code = true;
        } else if pattern.is_none() && args::is(a, "libraryname") {
            if i >= argv.len() - 1 {
                return Err(RError::raw("ERR library name argument was not given"));
            }
            i += 1;
            pattern = Some(argv[i]);
        } else {
            return Err(RError::owned(format!(
                "ERR Unknown argument {}",
                String::from_utf8_lossy(a)
            )));
        }
        i += 1;
    }
    let lib = ctx.srv.functions.lib.lock();
    let libs: Vec<_> = lib
        .libraries
        .values()
        .filter(|l| {
            pattern.is_none_or(|p| crate::util::glob::glob_match(p, l.name.as_bytes(), true))
        })
        .collect();
    let out = &mut *ctx.out;
    out.array(libs.len());
    for l in libs {
        out.map(if with_code { 4 } else { 3 });
        out.bulk(b"library_name");
        out.bulk(l.name.as_bytes());
        out.bulk(b"engine");
        out.bulk(b"LUA");
        out.bulk(b"functions");
        out.array(l.functions.len());
        for fname in &l.functions {
            let Some(f) = lib.functions.get(fname) else {
                out.null();
                continue;
            };
            out.map(3);
            out.bulk(b"name");
            out.bulk(f.name.as_bytes());
            out.bulk(b"description");
            match &f.description {
                Some(d) => out.bulk(d),
                None => out.null(),
            }
            out.bulk(b"flags");
            let names: Vec<&str> = FLAG_NAMES
                .iter()
                .enumerate()
                .filter(|(bit, _)| f.flags & (1 << bit) != 0)
                .map(|(_, n)| *n)
                .collect();
            out.set(names.len());
            for n in names {
                out.simple(n);
            }
        }
        if with_code {
            out.bulk(b"library_code");
            out.bulk(&l.code);
        }
    }
    Ok(())
}

/// FUNCTION STATS: answers while a function runs (it is `allow_busy` and never takes
/// the libraries' lock).
fn function_stats(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let functions = &ctx.srv.functions;
    let out = &mut *ctx.out;
    out.map(2);
    out.bulk(b"running_script");
    match &*functions.running.lock() {
        Some(r) => {
            out.map(3);
            out.bulk(b"name");
            out.bulk(r.name.as_bytes());
            out.bulk(b"command");
            out.array(r.command.len());
            for a in &r.command {
                out.bulk(a);
            }
            out.bulk(b"duration_ms");
            out.int(crate::util::time::now_ms().saturating_sub(r.started_ms) as i64);
        }
        None => out.null(),
    }
    out.bulk(b"engines");
    out.map(1);
    out.bulk(b"LUA");
    out.map(2);
    out.bulk(b"libraries_count");
    out.int(functions.libraries_count.load(Ordering::SeqCst) as i64);
    out.bulk(b"functions_count");
    out.int(functions.functions_count.load(Ordering::SeqCst) as i64);
    Ok(())
}

/// FUNCTION KILL: runs while a function holds the keyspace; the function notices the
/// request within its next instruction-count check.
fn function_kill(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    ctx.srv
        .functions
        .state
        .request_kill()
        .map_err(RError::raw)?;
    ctx.out.ok();
    Ok(())
}

fn function_help(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    help_reply(
        ctx,
        "FUNCTION",
        &[
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Create a new library with the given library name and code.",
            "DELETE <LIBRARY NAME>",
            "    Delete the given library.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Return general information on all the libraries:",
            "    * Library name",
            "    * The engine used to run the Library",
            "    * Library description",
            "    * Functions list",
            "    * Library code (if WITHCODE is given)",
            "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
            "STATS",
            "    Return information about the current function running:",
            "    * Function name",
            "    * Command used to run the function",
            "    * Duration in MS that the function is running",
            "    If no function is running, return nil",
            "    In addition, returns a list of available engines.",
            "KILL",
            "    Kill the current running function.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
            "DUMP",
            "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
            "    control how to handle existing libraries (default APPEND):",
            "    * FLUSH: delete all existing libraries.",
            "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
            "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
            "      libraries with the new libraries (notice that even on this option there is a chance of failure",
            "      in case of functions name collision with another library).",
        ],
    );
    Ok(())
}
