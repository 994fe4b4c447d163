//! Connection commands: PING, ECHO, QUIT, SELECT, ...

use super::{args, flags::*, CmdResult, Command, Ctx, RError};

crate::commands! { pub static COMMANDS = [
    Command::new("ping", -1, FAST | SENTINEL, ping).acl(&["fast", "connection"]),
    Command::new("echo", 2, FAST, echo).acl(&["fast", "connection"]),
    Command::new("quit", -1, ALLOW_BUSY | NO_AUTH | NOSCRIPT | LOADING | STALE | FAST, quit)
        .acl(&["fast", "connection"]),
    Command::new("select", 2, LOADING | STALE | FAST, select).acl(&["fast", "connection"]),
]; }

fn ping(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
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
    let db = args::int(argv[1])
        .map_err(|_| RError::raw("ERR value is not an integer or out of range"))?;
    if db < 0 || db as usize >= ctx.srv.databases() {
        return Err(super::errors::DB_RANGE);
    }
    ctx.client.db = db as usize;
    ctx.out.ok();
    Ok(())
}
