//! Database-level commands: DBSIZE, FLUSHDB, FLUSHALL, SWAPDB, MOVE.

use super::{flags::*, CmdResult, Command, Ctx, Lock};

crate::commands! { pub static COMMANDS = [
    Command::new("dbsize", 1, READONLY | FAST, dbsize)
        .lock(Lock::Db)
        .acl(&["keyspace", "read", "fast"]),
    Command::new("flushall", -1, WRITE, flushall)
        .lock(Lock::Exclusive)
        .acl(&["keyspace", "write", "slow", "dangerous"]),
]; }

fn dbsize(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let n = ctx.txn.db_len(db);
    ctx.out.int(n as i64);
    Ok(())
}

fn flushall(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    for db in 0..ctx.srv.databases() {
        ctx.txn.flush_db(db);
    }
    ctx.out.ok();
    Ok(())
}
