//! AOF commands: BGREWRITEAOF and WAITAOF (see `crate::persistence::aof`).

use std::sync::atomic::Ordering;

use super::{args, flags::*, CmdResult, Command, Ctx, RError};
use crate::persistence::aof;

crate::commands! { pub static COMMANDS = [
    Command::new("bgrewriteaof", 1, NO_ASYNC_LOADING | ADMIN | NOSCRIPT, bgrewriteaof)
        .acl(&["admin", "slow", "dangerous"]),
    Command::new("waitaof", 4, NOSCRIPT, waitaof).acl(&["slow", "connection"]),
]; }

/// BGREWRITEAOF: the rewrite runs on the AOF thread (see `aof::rewrite`).
fn bgrewriteaof(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    aof::request_rewrite(ctx.srv).map_err(RError::raw)?;
    // Behind a running BGSAVE it starts when that ends (Redis: "scheduled").
    if ctx.srv.persistence.bg.kind() == crate::persistence::bgsave::Kind::Rdb || ctx.client.in_exec
    {
        ctx.out
            .simple("Background append only file rewriting scheduled");
    } else {
        ctx.out
            .simple("Background append only file rewriting started");
    }
    Ok(())
}

/// WAITAOF numlocal numreplicas timeout (Redis 7.2): replies `[local, replicas]`
/// once the AOF is fsynced up to this client's writes. There are no replicas: they
/// count 0.
fn waitaof(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let numlocal = args::int(argv[1])?;
    if !(0..=1).contains(&numlocal) {
        return Err(RError::raw(
            "ERR value is out of range, value must between 0 and 1",
        ));
    }
    let numreplicas = args::int(argv[2])?;
    if numreplicas < 0 {
        return Err(RError::raw("ERR value is out of range, must be positive"));
    }
    let timeout = args::int(argv[3])
        .map_err(|_| RError::raw("ERR timeout is not an integer or out of range"))?;
    if timeout < 0 {
        return Err(RError::raw("ERR timeout is negative"));
    }
    let on = ctx.srv.aof.on.load(Ordering::Relaxed);
    if numlocal > 0 && !on {
        return Err(RError::raw(
            "ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled.",
        ));
    }
    // This client's last write (Redis's `c->woff`).
    let mut acked = on && ctx.srv.aof.synced_offset() >= ctx.client.aof_woff;
    if numlocal > 0 && !acked {
        // One fsync (group commit covers other clients' writes too).
        acked = ctx.srv.aof.write_and_fsync().is_ok();
    }
    if numreplicas > 0 && ctx.may_block() {
        // No replica will ever acknowledge: wait for the timeout (0 = forever), then
        // answer as Redis does (see `blocking::timeout_reply_for`).
        let deadline = if timeout == 0 {
            0
        } else {
            ctx.txn.now.saturating_add(timeout as u64)
        };
        let local: &[u8] = if acked { b"1" } else { b"0" };
        ctx.block(&[b"WAITAOF", local], &[], &[], deadline);
        return Ok(());
    }
    ctx.out.array(2);
    ctx.out.int(acked as i64);
    ctx.out.int(0);
    Ok(())
}
