//! CLIENT subcommands: ID, SETNAME, GETNAME, LIST, INFO, KILL, SETINFO, NO-EVICT,
//! NO-TOUCH, REPLY, UNBLOCK, TRACKING, CACHING, GETREDIR, TRACKINGINFO, HELP; and
//! MONITOR.

use std::sync::atomic::Ordering;

use super::{args, errors, flags::*, CmdResult, Command, Ctx, RError};
use crate::keyspace::blocking::Cancel;
use crate::server::client::{ClientInfo, ReplyMode};
use crate::server::pause::Kind;
use crate::server::tracking::{self, flag};
use crate::util::time::now_ms;

const CONN: &[&str] = &["slow", "connection"];
const ADMIN_CONN: &[&str] = &["admin", "slow", "dangerous", "connection"];
const CLIENT_FLAGS: u64 = NOSCRIPT | LOADING | STALE | SENTINEL;

crate::commands! { pub static COMMANDS = [
    Command::new("client", -2, SENTINEL, super::container)
        .acl(&["slow"])
        .subcommands(&SUBCOMMANDS),
    Command::new("monitor", 1, ADMIN | NOSCRIPT | LOADING | STALE, monitor)
        .acl(&["admin", "slow", "dangerous"]),
]; }

crate::commands! { static SUBCOMMANDS = [
    Command::new("id", 2, CLIENT_FLAGS, client_id).acl(CONN),
    Command::new("setname", 3, CLIENT_FLAGS, client_setname).acl(CONN),
    Command::new("getname", 2, CLIENT_FLAGS, client_getname).acl(CONN),
    Command::new("list", -2, ADMIN | CLIENT_FLAGS, client_list).acl(ADMIN_CONN),
    Command::new("info", 2, CLIENT_FLAGS, client_info).acl(CONN),
    Command::new("kill", -3, ADMIN | CLIENT_FLAGS, client_kill).acl(ADMIN_CONN),
    Command::new("setinfo", 4, CLIENT_FLAGS, client_setinfo).acl(CONN),
    Command::new("no-evict", 3, ADMIN | CLIENT_FLAGS, client_no_evict).acl(ADMIN_CONN),
    Command::new("no-touch", 3, NOSCRIPT | LOADING | STALE, client_no_touch).acl(CONN),
    Command::new("reply", 3, CLIENT_FLAGS, client_reply).acl(CONN),
    Command::new("unblock", -3, ADMIN | CLIENT_FLAGS, client_unblock).acl(ADMIN_CONN),
    Command::new("tracking", -3, CLIENT_FLAGS, client_tracking).acl(CONN),
    Command::new("caching", 3, CLIENT_FLAGS, client_caching).acl(CONN),
    Command::new("getredir", 2, CLIENT_FLAGS, client_getredir).acl(CONN),
    Command::new("trackinginfo", 2, CLIENT_FLAGS, client_trackinginfo).acl(CONN),
    Command::new("pause", -3, ADMIN | CLIENT_FLAGS, client_pause).acl(ADMIN_CONN),
    Command::new("unpause", 2, ADMIN | CLIENT_FLAGS, client_unpause).acl(ADMIN_CONN),
    Command::new("help", 2, LOADING | STALE | SENTINEL, client_help).acl(CONN),
]; }

/// Redis accepts only printable ASCII without spaces in client names and library
/// attributes.
fn valid_attr(v: &[u8]) -> bool {
    v.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

/// Sets (or with an empty name clears) the connection name (CLIENT SETNAME, HELLO
/// SETNAME).
pub fn set_name(ctx: &mut Ctx, name: &[u8]) -> CmdResult {
    if !valid_attr(name) {
        return Err(RError::raw(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    ctx.client.info.names.lock().name = args::text(name);
    Ok(())
}

fn client_id(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    ctx.out.int(ctx.client.id as i64);
    Ok(())
}

/// CLIENT UNBLOCK id [TIMEOUT|ERROR]: wakes a client blocked on keys, as if its
/// timeout passed or with an `-UNBLOCKED` error. 1 if it was blocked, else 0.
fn client_unblock(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 4 {
        return Err(RError::owned(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
            args::text(argv[1])
        )));
    }
    let why = match argv.get(3) {
        None => Cancel::Timeout,
        Some(a) if args::is(a, "timeout") => Cancel::Timeout,
        Some(a) if args::is(a, "error") => Cancel::Error,
        Some(_) => {
            return Err(RError::err(
                "CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
            ))
        }
    };
    let id = args::int(argv[2])?;
    let waiter = u64::try_from(id)
        .ok()
        .and_then(|id| ctx.srv.clients.get(id))
        .and_then(|c| c.blocked.lock().clone());
    let unblocked = waiter.is_some_and(|w| w.cancel(why));
    ctx.out.int(unblocked as i64);
    Ok(())
}

fn client_setname(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    set_name(ctx, argv[2])?;
    ctx.out.ok();
    Ok(())
}

fn client_getname(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let name = ctx.client.info.names.lock().name.clone();
    if name.is_empty() {
        ctx.out.null();
    } else {
        ctx.out.bulk(name.as_bytes());
    }
    Ok(())
}

/// Client types for LIST/KILL TYPE. Ferrodis has no replicas or masters yet, so every
/// client is `normal` or, once subscribed to anything, `pubsub`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ClientType {
    Normal,
    Replica,
    PubSub,
    Master,
}

fn client_type(name: &[u8]) -> Option<ClientType> {
    let t = name.to_ascii_lowercase();
    match t.as_slice() {
        b"normal" => Some(ClientType::Normal),
        b"slave" | b"replica" => Some(ClientType::Replica),
        b"pubsub" => Some(ClientType::PubSub),
        b"master" => Some(ClientType::Master),
        _ => None,
    }
}

fn type_of(c: &ClientInfo) -> ClientType {
    if c.pubsub.any() {
        ClientType::PubSub
    } else {
        ClientType::Normal
    }
}

/// Refreshes the calling client's own shared fields before describing it, since the
/// dispatcher publishes them only after a command finishes.
fn sync_self(ctx: &Ctx) {
    ctx.client.info.db.store(ctx.client.db, Ordering::Relaxed);
    *ctx.client.info.last_cmd.lock() = Some((ctx.cmd, Some(&COMMANDS[0])));
}

/// CLIENT LIST [TYPE type] [ID id [id ...]]
fn client_list(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let mut ty: Option<ClientType> = None;
    let mut ids: Option<Vec<u64>> = None;
    if argv.len() == 4 && args::is(argv[2], "type") {
        ty = Some(client_type(argv[3]).ok_or_else(|| {
            RError::owned(format!("ERR Unknown client type '{}'", args::text(argv[3])))
        })?);
    } else if argv.len() > 3 && args::is(argv[2], "id") {
        let mut v = Vec::new();
        for a in &argv[3..] {
            let id = crate::util::num::parse_i64(a).ok_or(RError::raw("ERR Invalid client ID"))?;
            if id > 0 {
                v.push(id as u64);
            }
        }
        ids = Some(v);
    } else if argv.len() != 2 {
        return Err(errors::SYNTAX);
    }
    sync_self(ctx);
    let now = now_ms();
    let mut text = String::new();
    let clients: Vec<_> = match &ids {
        Some(ids) => ids
            .iter()
            .filter_map(|&id| ctx.srv.clients.get(id))
            .collect(),
        None => ctx.srv.clients.snapshot(),
    };
    for c in clients {
        if let Some(t) = ty {
            if type_of(&c) != t {
                continue;
            }
        }
        text.push_str(&c.describe(now));
        text.push('\n');
    }
    ctx.out.verbatim(text.as_bytes(), "txt");
    Ok(())
}

fn client_info(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    sync_self(ctx);
    let mut text = ctx.client.info.describe(now_ms());
    text.push('\n');
    ctx.out.verbatim(text.as_bytes(), "txt");
    Ok(())
}

/// Whether CLIENT KILL USER names an existing user.
fn user_exists(ctx: &Ctx, name: &[u8]) -> bool {
    ctx.srv.acl.get(name).is_some()
}

/// CLIENT KILL addr:port | CLIENT KILL <filter> <value> ...
fn client_kill(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let mut addr: Option<String> = None;
    let mut laddr: Option<String> = None;
    let mut id: Option<u64> = None;
    let mut ty: Option<ClientType> = None;
    let mut user: Option<String> = None;
    let mut skipme = true;
    let mut max_age: u64 = 0;
    let old_form = argv.len() == 3;
    if old_form {
        addr = Some(args::text(argv[2]));
        skipme = false;
    } else {
        let mut i = 2;
        while i < argv.len() {
            let Some(&val) = argv.get(i + 1) else {
                return Err(errors::SYNTAX);
            };
            let opt = argv[i];
            if args::is(opt, "id") {
                let n = crate::util::num::parse_i64(val)
                    .filter(|&n| n >= 1)
                    .ok_or(RError::raw("ERR client-id should be greater than 0"))?;
                id = Some(n as u64);
            } else if args::is(opt, "type") {
                ty = Some(client_type(val).ok_or_else(|| {
                    RError::owned(format!("ERR Unknown client type '{}'", args::text(val)))
                })?);
            } else if args::is(opt, "addr") {
                addr = Some(args::text(val));
            } else if args::is(opt, "laddr") {
                laddr = Some(args::text(val));
            } else if args::is(opt, "user") {
                if !user_exists(ctx, val) {
                    return Err(RError::owned(format!(
                        "ERR No such user '{}'",
                        args::text(val)
                    )));
                }
                user = Some(args::text(val));
            } else if args::is(opt, "maxage") {
                // Redis 7.4: clients connected for more than this many seconds (0:
                // no filter).
                max_age = args::int(val)?.max(0) as u64;
            } else if args::is(opt, "skipme") {
                if args::is(val, "yes") {
                    skipme = true;
                } else if args::is(val, "no") {
                    skipme = false;
                } else {
                    return Err(errors::SYNTAX);
                }
            } else {
                return Err(errors::SYNTAX);
            }
            i += 2;
        }
    }
    let me = ctx.client.id;
    let mut killed = 0i64;
    let mut kill_self = false;
    let now_secs = now_ms() / 1000;
    for c in ctx.srv.clients.snapshot() {
        if max_age != 0 && now_secs.saturating_sub(c.created_ms / 1000) <= max_age {
            continue;
        }
        if addr.as_ref().is_some_and(|a| *a != c.addr.to_string()) {
            continue;
        }
        if laddr.as_ref().is_some_and(|a| *a != c.laddr.to_string()) {
            continue;
        }
        if ty.is_some_and(|t| t != type_of(&c)) {
            continue;
        }
        if id.is_some_and(|i| i != c.id) {
            continue;
        }
        if user.as_ref().is_some_and(|u| *u != *c.user.lock()) {
            continue;
        }
        if c.id == me {
            if skipme {
                continue;
            }
            kill_self = true;
        } else {
            c.kill();
            // Gone at once, as in Redis, even before its task notices.
            ctx.srv.clients.remove(c.id);
            ctx.srv.pubsub.drop_client(c.id);
            tracking::disable(ctx.srv, &c);
            ctx.srv.monitors.remove(c.id);
        }
        killed += 1;
    }
    if old_form {
        if killed == 0 {
            return Err(RError::raw("ERR No such client"));
        }
        ctx.out.ok();
    } else {
        ctx.out.int(killed);
    }
    if kill_self {
        ctx.client.close_after_reply = true;
    }
    Ok(())
}

/// CLIENT PAUSE timeout [WRITE|ALL]: see `server::pause`.
fn client_pause(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 4 {
        return Err(RError::owned(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
            args::text(argv[1])
        )));
    }
    let ms = crate::util::num::parse_i64(argv[2])
        .ok_or(RError::raw("ERR timeout is not an integer or out of range"))?;
    if ms < 0 {
        return Err(RError::raw("ERR timeout is negative"));
    }
    let kind = match argv.get(3) {
        None => Kind::All,
        Some(a) if args::is(a, "all") => Kind::All,
        Some(a) if args::is(a, "write") => Kind::Write,
        Some(_) => return Err(RError::raw("ERR CLIENT PAUSE mode must be WRITE or ALL")),
    };
    let end = now_ms().saturating_add(ms as u64);
    ctx.srv.pause.pause(ctx.srv, kind, end);
    ctx.out.ok();
    Ok(())
}

fn client_unpause(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    ctx.srv.pause.unpause(ctx.srv);
    ctx.out.ok();
    Ok(())
}

/// CLIENT SETINFO LIB-NAME|LIB-VER value (Redis 7.2).
fn client_setinfo(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let attr = argv[2];
    let is_name = args::is(attr, "lib-name");
    if !is_name && !args::is(attr, "lib-ver") {
        return Err(RError::owned(format!(
            "ERR Unrecognized option '{}'",
            args::text(attr)
        )));
    }
    if !valid_attr(argv[3]) {
        return Err(RError::owned(format!(
            "ERR {} cannot contain spaces, newlines or special characters.",
            args::text(attr)
        )));
    }
    let val = args::text(argv[3]);
    let mut names = ctx.client.info.names.lock();
    if is_name {
        names.lib_name = val;
    } else {
        names.lib_ver = val;
    }
    drop(names);
    ctx.out.ok();
    Ok(())
}

fn on_off(arg: &[u8]) -> Result<bool, RError> {
    if args::is(arg, "on") {
        Ok(true)
    } else if args::is(arg, "off") {
        Ok(false)
    } else {
        Err(errors::SYNTAX)
    }
}

fn client_no_evict(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let on = on_off(argv[2])?;
    ctx.client.info.no_evict.store(on, Ordering::Relaxed);
    ctx.out.ok();
    Ok(())
}

fn client_no_touch(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let on = on_off(argv[2])?;
    ctx.client.info.no_touch.store(on, Ordering::Relaxed);
    ctx.out.ok();
    Ok(())
}

/// CLIENT REPLY ON|OFF|SKIP. OFF and SKIP themselves get no reply; the dispatcher
/// drops the replies while the mode says so.
fn client_reply(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let a = argv[2];
    if args::is(a, "on") {
        ctx.client.reply_mode = ReplyMode::On;
        ctx.out.ok();
    } else if args::is(a, "off") {
        ctx.client.reply_mode = ReplyMode::Off;
    } else if args::is(a, "skip") {
        if ctx.client.reply_mode != ReplyMode::Off {
            ctx.client.reply_mode = ReplyMode::SkipNext;
        }
    } else {
        return Err(errors::SYNTAX);
    }
    Ok(())
}

/// CLIENT TRACKING ON|OFF [REDIRECT id] [BCAST] [PREFIX p ...] [OPTIN] [OPTOUT]
/// [NOLOOP], checked in Redis's order (options first, then their compatibility).
fn client_tracking(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let mut redirect: i64 = 0;
    let mut options = 0u32;
    let mut prefixes: Vec<&[u8]> = Vec::new();
    let mut j = 3;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        let a = argv[j];
        if args::is(a, "redirect") && more > 0 {
            j += 1;
            if redirect != 0 {
                return Err(RError::raw(
                    "ERR A client can only redirect to a single other client",
                ));
            }
            redirect = args::int(argv[j])?;
            let exists = u64::try_from(redirect)
                .ok()
                .and_then(|id| ctx.srv.clients.get(id))
                .is_some();
            if !exists {
                return Err(RError::raw(
                    "ERR The client ID you want redirect to does not exist",
                ));
            }
        } else if args::is(a, "bcast") {
            options |= flag::BCAST;
        } else if args::is(a, "optin") {
            options |= flag::OPTIN;
        } else if args::is(a, "optout") {
            options |= flag::OPTOUT;
        } else if args::is(a, "noloop") {
            options |= flag::NOLOOP;
        } else if args::is(a, "prefix") && more > 0 {
            j += 1;
            prefixes.push(argv[j]);
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    let info = ctx.client.info.clone();
    if args::is(argv[2], "on") {
        if options & flag::BCAST == 0 && !prefixes.is_empty() {
            return Err(RError::raw(
                "ERR PREFIX option requires BCAST mode to be enabled",
            ));
        }
        let cur = info.tracking.flags();
        if cur & flag::ON != 0 && (cur & flag::BCAST != 0) != (options & flag::BCAST != 0) {
            return Err(RError::raw("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode."));
        }
        if options & flag::BCAST != 0 && options & (flag::OPTIN | flag::OPTOUT) != 0 {
            return Err(RError::raw(
                "ERR OPTIN and OPTOUT are not compatible with BCAST",
            ));
        }
        if options & flag::OPTIN != 0 && options & flag::OPTOUT != 0 {
            return Err(RError::raw(
                "ERR You can't specify both OPTIN mode and OPTOUT mode",
            ));
        }
        if (options & flag::OPTIN != 0 && cur & flag::OPTOUT != 0)
            || (options & flag::OPTOUT != 0 && cur & flag::OPTIN != 0)
        {
            return Err(RError::raw("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode."));
        }
        if options & flag::BCAST != 0 {
            if let Some((msg, goes_on)) = tracking::prefix_collision(&info, &prefixes) {
                if !goes_on {
                    return Err(RError::owned(msg));
                }
                // Redis 7.0 replies the error and still enables tracking (then +OK).
                ctx.out.error(&msg);
            }
        }
        tracking::enable(ctx.srv, &info, redirect as u64, options, &prefixes);
    } else if args::is(argv[2], "off") {
        tracking::disable(ctx.srv, &info);
    } else {
        return Err(errors::SYNTAX);
    }
    ctx.out.ok();
    Ok(())
}

/// CLIENT CACHING YES|NO: for the next command (or transaction) only, in OPTIN /
/// OPTOUT mode.
fn client_caching(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let t = &ctx.client.info.tracking;
    let f = t.flags();
    if f & flag::ON == 0 {
        return Err(RError::raw("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled"));
    }
    if args::is(argv[2], "yes") {
        if f & flag::OPTIN == 0 {
            return Err(RError::raw(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            ));
        }
    } else if args::is(argv[2], "no") {
        if f & flag::OPTOUT == 0 {
            return Err(RError::raw(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            ));
        }
    } else {
        return Err(errors::SYNTAX);
    }
    t.flags.fetch_or(flag::CACHING, Ordering::AcqRel);
    ctx.out.ok();
    Ok(())
}

/// CLIENT GETREDIR: the client invalidations are redirected to, 0 for none, -1 when
/// tracking is off.
fn client_getredir(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    ctx.out
        .int(ctx.client.info.tracking.redirect_or_minus_one());
    Ok(())
}

/// CLIENT TRACKINGINFO: flags, redirect and prefixes, as Redis orders them.
fn client_trackinginfo(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let t = &ctx.client.info.tracking;
    let f = t.flags();
    let mut names: Vec<&str> = vec![if f & flag::ON != 0 { "on" } else { "off" }];
    if f & flag::BCAST != 0 {
        names.push("bcast");
    }
    if f & flag::OPTIN != 0 {
        names.push("optin");
        if f & flag::CACHING != 0 {
            names.push("caching-yes");
        }
    }
    if f & flag::OPTOUT != 0 {
        names.push("optout");
        if f & flag::CACHING != 0 {
            names.push("caching-no");
        }
    }
    if f & flag::NOLOOP != 0 {
        names.push("noloop");
    }
    if f & flag::BROKEN_REDIR != 0 {
        names.push("broken_redirect");
    }
    let redirect = t.redirect_or_minus_one();
    let prefixes: Vec<Box<[u8]>> = t.prefixes.lock().iter().cloned().collect();
    let out = &mut *ctx.out;
    out.map(3);
    out.bulk(b"flags");
    out.set(names.len());
    for n in names {
        out.bulk(n.as_bytes());
    }
    out.bulk(b"redirect");
    out.int(redirect);
    out.bulk(b"prefixes");
    out.array(prefixes.len());
    for p in &prefixes {
        out.bulk(p);
    }
    Ok(())
}

/// MONITOR: from now on the connection receives every command executed (see
/// `server::monitor`). Not inside MULTI/EXEC; a second MONITOR gets no reply.
fn monitor(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    if ctx.client.deny_blocking {
        return Err(RError::raw(
            "ERR MONITOR isn't allowed for DENY BLOCKING client",
        ));
    }
    if ctx.client.info.monitor.load(Ordering::Relaxed) {
        return Ok(());
    }
    let Some(sub) = ctx.client.pubsub.subscriber() else {
        return Err(RError::raw(
            "ERR MONITOR is not available on this connection",
        ));
    };
    ctx.client.info.monitor.store(true, Ordering::Relaxed);
    ctx.srv.monitors.add(ctx.client.id, sub);
    ctx.out.ok();
    Ok(())
}

/// RESET's part for this module: tracking off, MONITOR mode off.
pub fn reset_state(ctx: &mut Ctx) {
    if ctx.client.info.monitor.swap(false, Ordering::Relaxed) {
        ctx.srv.monitors.remove(ctx.client.id);
    }
    tracking::disconnect(ctx.srv, ctx.client);
}

/// Writes a HELP reply: the header line, the given lines, then the HELP entry, as
/// status replies (Redis's `addReplyHelp`).
pub fn help_reply(ctx: &mut Ctx, cmd: &str, lines: &[&str]) {
    ctx.out.array(lines.len() + 3);
    ctx.out.simple(&format!(
        "{cmd} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ));
    for l in lines {
        ctx.out.simple(l);
    }
    ctx.out.simple("HELP");
    ctx.out.simple("    Prints this help.");
}

fn client_help(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    help_reply(
        ctx,
        "CLIENT",
        &[
            "CACHING (YES|NO)",
            "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
            "GETREDIR",
            "    Return the client ID we are redirecting to when tracking is enabled.",
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are:",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made from the specified address",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made to specified local address",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Kill connections by type.",
            "    * USER <username>",
            "      Kill connections authenticated by <username>.",
            "    * SKIPME (YES|NO)",
            "      Skip killing current connection (default: yes).",
            "    * MAXAGE <maxage>",
            "      Kill connections older than the specified age.",
            "LIST [options ...]",
            "    Return information about client connections. Options:",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Return clients of specified type.",
            "UNPAUSE",
            "    Stop the current client pause, resuming traffic.",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Suspend all, or just write, clients for <timeout> milliseconds.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "SETINFO <option> <value>",
            "    Set client meta attr. Options are:",
            "    * LIB-NAME: the client lib name.",
            "    * LIB-VER: the client lib version.",
            "UNBLOCK <clientid> [TIMEOUT|ERROR]",
            "    Unblock the specified blocked client.",
            "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
            "         [OPTIN] [OPTOUT] [NOLOOP]",
            "    Control server assisted client side caching.",
            "TRACKINGINFO",
            "    Report tracking status for the current connection.",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction.",
            "NO-TOUCH (ON|OFF)",
            "    Will not touch LRU/LFU stats when this mode is on.",
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::keyspace::{access_clock, Keyspace, Txn};
    use crate::types::{StrValue, Value};

    fn read_lru(ks: &Keyspace, now: u64, no_touch: bool) -> u32 {
        let _gate = ks.gate.read();
        let mut t = Txn::shared(ks, now);
        t.no_touch = no_touch;
        t.lock_keys(0, [b"k".as_slice()].into_iter());
        t.get_read(0, b"k").map(|e| e.lru).unwrap_or(0)
    }

    #[test]
    fn no_touch_reads_leave_lru_alone() {
        let ks = Keyspace::new(1);
        {
            let _gate = ks.gate.read();
            let mut t = Txn::shared(&ks, 1_000_000);
            t.lock_keys(0, [b"k".as_slice()].into_iter());
            t.set(0, b"k", Value::Str(StrValue::from_bytes(b"v")), false);
        }
        assert_eq!(read_lru(&ks, 5_000_000, true), access_clock(1_000_000));
        assert_eq!(read_lru(&ks, 5_000_000, false), access_clock(5_000_000));
    }
}
