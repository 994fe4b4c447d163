//! String commands (Redis's `t_string.c`): GET, SET and friends.

use super::{args, errors, flags::*, CmdResult, Command, Ctx, RError};
use crate::types::{StrValue, Value};

crate::commands! { pub static COMMANDS = [
    Command::new("get", 2, READONLY | FAST, get)
        .keys(1, 1, 1)
        .acl(&["read", "string", "fast"]),
    Command::new("set", -3, WRITE | DENYOOM, set)
        .keys(1, 1, 1)
        .acl(&["write", "string", "slow"]),
]; }

fn get(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    match ctx.txn.get_read(db, argv[1]) {
        None => ctx.out.null(),
        Some(e) => match &e.value {
            Value::Str(s) => s.with_bytes(|b| ctx.out.bulk(b)),
            #[allow(unreachable_patterns)]
            _ => return Err(errors::WRONGTYPE),
        },
    }
    Ok(())
}

/// SET key value [NX | XX] [GET] [EX s | PX ms | EXAT ts | PXAT ms-ts | KEEPTTL]
fn set(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let mut nx = false;
    let mut xx = false;
    let mut get = false;
    let mut keepttl = false;
    let mut expire: Option<(u64, &str)> = None; // (absolute ms, unit name) set below
    let mut i = 3;
    while i < argv.len() {
        let a = argv[i];
        let next = argv.get(i + 1);
        if args::is(a, "nx") && !xx {
            nx = true;
        } else if args::is(a, "xx") && !nx {
            xx = true;
        } else if args::is(a, "get") {
            get = true;
        } else if args::is(a, "keepttl") && expire.is_none() {
            keepttl = true;
        } else if (args::is(a, "ex")
            || args::is(a, "px")
            || args::is(a, "exat")
            || args::is(a, "pxat"))
            && !keepttl
            && expire.is_none()
            && next.is_some()
        {
            let n = args::int(next.copied().unwrap_or_default())?;
            let unit_secs = args::is(a, "ex") || args::is(a, "exat");
            let absolute = args::is(a, "exat") || args::is(a, "pxat");
            if n <= 0 || (unit_secs && n > i64::MAX / 1000) {
                return Err(RError::raw("ERR invalid expire time in 'set' command"));
            }
            let ms = if unit_secs { n * 1000 } else { n };
            let at = if absolute {
                ms as u64
            } else {
                (ctx.txn.now as i64)
                    .checked_add(ms)
                    .ok_or(RError::raw("ERR invalid expire time in 'set' command"))?
                    as u64
            };
            expire = Some((at, "ms"));
            i += 1;
        } else {
            return Err(errors::SYNTAX);
        }
        i += 1;
    }
    let db = ctx.db();
    let key = argv[1];
    // Existence and (for GET) the old value must be read before deciding.
    let (exists, old) = match ctx.txn.get_mut(db, key) {
        None => (false, None),
        Some(e) => match &e.value {
            Value::Str(s) => (true, if get { Some(s.to_vec()) } else { None }),
            #[allow(unreachable_patterns)]
            _ if get => return Err(errors::WRONGTYPE),
            #[allow(unreachable_patterns)]
            _ => (true, None),
        },
    };
    if (nx && exists) || (xx && !exists) {
        if get {
            match old {
                Some(v) => ctx.out.bulk(&v),
                None => ctx.out.null(),
            }
        } else {
            ctx.out.null();
        }
        return Ok(());
    }
    ctx.txn
        .set(db, key, Value::Str(StrValue::from_bytes(argv[2])), keepttl);
    if let Some((at, _)) = expire {
        ctx.txn.set_expire(db, key, at);
    }
    if get {
        match old {
            Some(v) => ctx.out.bulk(&v),
            None => ctx.out.null(),
        }
    } else {
        ctx.out.ok();
    }
    Ok(())
}
