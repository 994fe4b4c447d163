//! SLOWLOG GET/LEN/RESET/HELP (the log itself is `crate::server::slowlog`).

use super::{flags::*, CmdResult, Command, Ctx, RError};

const ADMIN_CATS: &[&str] = &["admin", "slow", "dangerous"];

crate::commands! { pub static COMMANDS = [
    Command::new("slowlog", -2, 0, super::container)
        .acl(&["slow"])
        .subcommands(&SUBCOMMANDS),
]; }

crate::commands! { static SUBCOMMANDS = [
    Command::new("get", -2, ADMIN | LOADING | STALE, get).acl(ADMIN_CATS),
    Command::new("len", 2, ADMIN | LOADING | STALE, len).acl(ADMIN_CATS),
    Command::new("reset", 2, ADMIN | LOADING | STALE, reset).acl(ADMIN_CATS),
    Command::new("help", 2, LOADING | STALE, help).acl(&["slow"]),
]; }

/// SLOWLOG GET [count]: the newest `count` entries (10 by default, -1 for all).
fn get(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let log = &ctx.srv.slowlog;
    let count = match argv.get(2) {
        None => 10,
        Some(a) => match crate::util::num::parse_i64(a) {
            Some(-1) => log.len(),
            Some(n) if n >= 0 => n as usize,
            _ => {
                return Err(RError::raw(
                    "ERR count should be greater than or equal to -1",
                ))
            }
        },
    };
    if argv.len() > 3 {
        return Err(RError::owned(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try SLOWLOG HELP.",
            String::from_utf8_lossy(argv[1])
        )));
    }
    let out = &mut *ctx.out;
    log.with_newest(count, |entries| {
        let entries: Vec<_> = entries.collect();
        out.array(entries.len());
        for e in entries {
            out.array(6);
            out.int(e.id as i64);
            out.int(e.time as i64);
            out.int(e.duration as i64);
            out.array(e.argv.len());
            for a in &e.argv {
                out.bulk(a);
            }
            out.bulk(e.peer.as_bytes());
            out.bulk(e.name.as_bytes());
        }
    });
    Ok(())
}

fn len(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    ctx.out.int(ctx.srv.slowlog.len() as i64);
    Ok(())
}

fn reset(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    ctx.srv.slowlog.reset();
    ctx.out.ok();
    Ok(())
}

fn help(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    super::client::help_reply(
        ctx,
        "SLOWLOG",
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    );
    Ok(())
}
