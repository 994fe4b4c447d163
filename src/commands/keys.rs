//! Generic key commands (Redis's `db.c`/`expire.c`): DEL, EXISTS, TTL, ...

use super::{flags::*, CmdResult, Command, Ctx};

crate::commands! { pub static COMMANDS = [
    Command::new("del", -2, WRITE, del)
        .keys(1, -1, 1)
        .acl(&["keyspace", "write", "slow"]),
    Command::new("exists", -2, READONLY | FAST, exists)
        .keys(1, -1, 1)
        .acl(&["keyspace", "read", "fast"]),
]; }

fn del(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let mut n = 0;
    for k in &argv[1..] {
        if ctx.txn.remove(db, k).is_some() {
            n += 1;
        }
    }
    ctx.out.int(n);
    Ok(())
}

fn exists(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let n = argv[1..].iter().filter(|k| ctx.txn.exists(db, k)).count();
    ctx.out.int(n as i64);
    Ok(())
}
