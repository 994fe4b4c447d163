//! Connection commands: PING, ECHO, QUIT, SELECT, HELLO, AUTH, RESET.

use std::sync::atomic::Ordering;

use super::{args, errors, flags::*, CmdResult, Command, Ctx, RError};
use crate::protocol::Proto;
use crate::server::client::ReplyMode;

crate::commands! { pub static COMMANDS = [
    Command::new("ping", -1, FAST | SENTINEL, ping).acl(&["fast", "connection"]),
    Command::new("echo", 2, LOADING | STALE | FAST, echo).acl(&["fast", "connection"]),
    Command::new("quit", -1, ALLOW_BUSY | NO_AUTH | NOSCRIPT | LOADING | STALE | FAST, quit)
        .acl(&["fast", "connection"]),
    Command::new("select", 2, LOADING | STALE | FAST, select).acl(&["fast", "connection"]),
    Command::new(
        "hello",
        -1,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | SENTINEL | ALLOW_BUSY,
        hello
    )
    .acl(&["fast", "connection"]),
    Command::new(
        "auth",
        -2,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | SENTINEL | ALLOW_BUSY,
        auth
    )
    .acl(&["fast", "connection"]),
    Command::new("reset", 1, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY, reset)
        .acl(&["fast", "connection"]),
]; }

const WRONGPASS: RError =
    RError::raw("WRONGPASS invalid username-password pair or user is disabled.");

fn ping(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    if super::pubsub::ping_in_subscriber_mode(ctx, argv) {
        return Ok(());
    }
    match argv.len() {
        1 => ctx.out.simple("PONG"),
        2 => ctx.out.bulk(argv[1]),
        _ => {
            return Err(RError::raw(
                "ERR wrong number of arguments for 'ping' command",
            ))
        }
    }
    Ok(())
}

fn echo(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    ctx.out.bulk(argv[1]);
    Ok(())
}

fn quit(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    ctx.out.ok();
    ctx.client.close_after_reply = true;
    Ok(())
}

fn select(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let db = args::int(argv[1])?;
    if db < 0 || db as usize >= ctx.srv.databases() {
        return Err(errors::DB_RANGE);
    }
    ctx.client.db = db as usize;
    ctx.out.ok();
    Ok(())
}

/// Checks a username/password pair against the ACL users (Redis's
/// `ACLCheckUserCredentials`): the user exists, is enabled, and is `nopass` or has the
/// password. A failure is logged in ACL LOG (reason `auth`, object the command name as
/// the client sent it, as Redis's `addACLLogEntry` takes `argv[0]`).
fn check_credentials(
    ctx: &mut Ctx,
    object: &[u8],
    user: &[u8],
    pass: &[u8],
) -> Option<std::sync::Arc<crate::acl::UserCell>> {
    let cell = ctx.srv.acl.get(user);
    if let Some(c) = cell.filter(|c| c.user.read().check_password(pass)) {
        return Some(c);
    }
    let max = ctx.srv.config.read().int("acllog-max-len").max(0) as usize;
    let now = crate::util::time::now_ms();
    *ctx.client.info.last_cmd.lock() = Some((ctx.cmd, None));
    let context = if ctx.client.multi.is_some() || ctx.client.in_exec {
        "multi"
    } else if ctx.client.deny_blocking {
        "lua"
    } else {
        "toplevel"
    };
    ctx.srv.acl.log_denial(
        crate::acl::Denied::Auth,
        context,
        object,
        user,
        ctx.client.info.describe(now),
        now,
        max,
    );
    None
}

fn login(ctx: &mut Ctx, cell: std::sync::Arc<crate::acl::UserCell>) {
    ctx.client.authenticated = true;
    let name = cell.name();
    ctx.client.acl_user = if std::sync::Arc::ptr_eq(&cell, &ctx.srv.acl.default) {
        None
    } else {
        Some(cell)
    };
    ctx.client.user = name.clone();
    *ctx.client.info.user.lock() = name;
}

/// AUTH [username] password
fn auth(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 3 {
        return Err(errors::SYNTAX);
    }
    let (user, pass): (&[u8], &[u8]) = if argv.len() == 2 {
        if ctx.srv.acl.default.user.read().nopass {
            return Err(RError::raw("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"));
        }
        (b"default", argv[1])
    } else {
        (argv[1], argv[2])
    };
    let Some(cell) = check_credentials(ctx, argv[0], user, pass) else {
        return Err(WRONGPASS);
    };
    login(ctx, cell);
    ctx.out.ok();
    Ok(())
}

/// Switches the protocol of this connection's replies (HELLO, RESET).
fn set_proto(ctx: &mut Ctx, ver: u8) {
    ctx.out.proto = if ver == 3 { Proto::Resp3 } else { Proto::Resp2 };
    ctx.client.info.resp.store(ver, Ordering::Relaxed);
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]]
fn hello(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let mut ver: u8 = 0;
    let mut next = 1;
    if argv.len() >= 2 {
        let v = crate::util::num::parse_i64(argv[1]).ok_or(RError::raw(
            "ERR Protocol version is not an integer or out of range",
        ))?;
        if !(2..=3).contains(&v) {
            return Err(RError::raw("NOPROTO unsupported protocol version"));
        }
        ver = v as u8;
        next = 2;
    }
    let mut creds: Option<(&[u8], &[u8])> = None;
    let mut name: Option<&[u8]> = None;
    let mut j = next;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        let opt = argv[j];
        if args::is(opt, "auth") && more >= 2 {
            creds = Some((argv[j + 1], argv[j + 2]));
            j += 2;
        } else if args::is(opt, "setname") && more >= 1 {
            name = Some(argv[j + 1]);
            j += 1;
        } else {
            return Err(RError::owned(format!(
                "ERR Syntax error in HELLO option '{}'",
                args::text(opt)
            )));
        }
        j += 1;
    }
    if let Some((user, pass)) = creds {
        let Some(cell) = check_credentials(ctx, argv[0], user, pass) else {
            return Err(WRONGPASS);
        };
        login(ctx, cell);
    }
    if !ctx.client.authenticated {
        return Err(RError::raw("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"));
    }
    if let Some(n) = name {
        super::client::set_name(ctx, n)?;
    }
    if ver != 0 {
        set_proto(ctx, ver);
    }
    let proto = if ctx.out.is_resp3() { 3 } else { 2 };
    let out = &mut *ctx.out;
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(crate::VERSION_REDIS.as_bytes());
    out.bulk(b"proto");
    out.int(proto);
    out.bulk(b"id");
    out.int(ctx.client.id as i64);
    out.bulk(b"mode");
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array(0);
    Ok(())
}

/// RESET: back to a fresh connection's state.
fn reset(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    super::multi::discard_transaction(ctx.txn, ctx.client);
    ctx.client.db = 0;
    ctx.client.info.db.store(0, Ordering::Relaxed);
    set_proto(ctx, 2);
    ctx.client.info.names.lock().name.clear();
    // RESET ends CLIENT REPLY OFF, but a SKIP in effect still swallows RESET's own reply.
    if ctx.client.reply_mode != ReplyMode::Skip {
        ctx.client.reply_mode = ReplyMode::On;
    }
    ctx.client.info.no_evict.store(false, Ordering::Relaxed);
    ctx.client.info.no_touch.store(false, Ordering::Relaxed);
    ctx.client.user = "default".into();
    ctx.client.acl_user = None;
    *ctx.client.info.user.lock() = "default".into();
    ctx.client.authenticated = ctx.srv.acl.default_is_open();
    super::pubsub::reset(ctx);
    super::client::reset_state(ctx);
    ctx.out.simple("RESET");
    Ok(())
}
