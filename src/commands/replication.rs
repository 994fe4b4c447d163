//! Replication commands of a server that is a master without replicas (replication
//! itself is not built yet): WAIT, ROLE.

use super::{args, flags::*, CmdResult, Command, Ctx, RError};

crate::commands! { pub static COMMANDS = [
    Command::new("wait", 3, NOSCRIPT, wait).acl(&["slow", "connection"]),
    Command::new("role", 1, NOSCRIPT | LOADING | STALE | FAST | SENTINEL, role)
        .acl(&["admin", "fast", "dangerous"]),
]; }

/// WAIT numreplicas timeout: the number of replicas that acknowledged this client's
/// writes, which is always 0 here. As Redis's `waitCommand`: answered at once when that
/// already satisfies `numreplicas` (or the client cannot block, in MULTI), otherwise
/// the client blocks until the timeout (0 = forever) and then gets 0.
fn wait(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let numreplicas = args::int(argv[1])?;
    let timeout = args::int(argv[2])
        .map_err(|_| RError::raw("ERR timeout is not an integer or out of range"))?;
    if timeout < 0 {
        return Err(RError::raw("ERR timeout is negative"));
    }
    if numreplicas <= 0 || !ctx.may_block() {
        ctx.out.int(0);
        return Ok(());
    }
    let deadline = if timeout == 0 {
        0
    } else {
        ctx.txn.now.saturating_add(timeout as u64)
    };
    ctx.block(&[b"WAIT"], &[], &[], deadline);
    Ok(())
}

/// ROLE: `master`, the replication offset, and the (empty) list of replicas.
fn role(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    ctx.out.array(3);
    ctx.out.bulk(b"master");
    ctx.out.int(0);
    ctx.out.array(0);
    Ok(())
}
