//! Persistence commands: DUMP, RESTORE (Redis's serialized value format, see
//! `crate::persistence::rdb`) and SAVE (`crate::persistence::snapshot`).

use super::{args, errors, flags::*, CmdResult, Command, Ctx, Lock, RError};
use crate::config::notify;
use crate::keyspace::lru_clock;
use crate::persistence::rdb::{self, decode, encode};
use crate::persistence::{bgsave, snapshot};

crate::commands! { pub static COMMANDS = [
    Command::new("dump", 2, READONLY, dump)
        .keys(1, 1, 1)
        .acl(&["keyspace", "read", "slow"]),
    Command::new("restore", -4, WRITE | DENYOOM, restore)
        .keys(1, 1, 1)
        .acl(&["keyspace", "write", "slow", "dangerous"]),
    Command::new("save", 1, NOSCRIPT | ADMIN | NO_ASYNC_LOADING | NO_MULTI, save)
        .lock(Lock::Exclusive)
        .acl(&["admin", "slow", "dangerous"]),
    Command::new("bgsave", -1, NOSCRIPT | ADMIN | NO_ASYNC_LOADING, bgsave)
        .lock(Lock::Exclusive)
        .acl(&["admin", "slow", "dangerous"]),
]; }

/// DUMP key
fn dump(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let opts = encode::EncodeOpts::from_config(&ctx.srv.config.read());
    let db = ctx.db();
    match ctx.txn.get_read(db, argv[1]) {
        None => ctx.out.null(),
        Some(e) => {
            let payload = encode::dump_payload(&e.value, &opts);
            ctx.out.bulk(&payload);
        }
    }
    Ok(())
}

/// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]
fn restore(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let mut replace = false;
    let mut absttl = false;
    let mut idle: Option<i64> = None;
    let mut freq: Option<i64> = None;
    let mut j = 4;
    while j < argv.len() {
        let a = argv[j];
        let more = argv.len() - j - 1;
        if args::is(a, "replace") {
            replace = true;
        } else if args::is(a, "absttl") {
            absttl = true;
        } else if args::is(a, "idletime") && more >= 1 && freq.is_none() {
            let v = args::int(argv[j + 1])?;
            if v < 0 {
                return Err(RError::raw("ERR Invalid IDLETIME value, must be >= 0"));
            }
            idle = Some(v);
            j += 1;
        } else if args::is(a, "freq") && more >= 1 && idle.is_none() {
            let v = args::int(argv[j + 1])?;
            if !(0..=255).contains(&v) {
                return Err(RError::raw(
                    "ERR Invalid FREQ value, must be >= 0 and <= 255",
                ));
            }
            freq = Some(v);
            j += 1;
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    let db = ctx.db();
    let key = argv[1];
    if !replace && ctx.txn.exists(db, key) {
        return Err(RError::raw("BUSYKEY Target key name already exists."));
    }
    let ttl = args::int(argv[2])?;
    if ttl < 0 {
        return Err(RError::raw("ERR Invalid TTL value, must be >= 0"));
    }
    if rdb::verify_payload(argv[3], false).is_none() {
        return Err(RError::raw(
            "ERR DUMP payload version or checksum are wrong",
        ));
    }
    let lim = decode::Limits::from_config(&ctx.srv.config.read());
    let now = ctx.txn.now;
    let value = match decode::read_payload(argv[3], &lim, now) {
        Ok(Some(v)) => v,
        Ok(None) | Err(_) => return Err(RError::raw("ERR Bad data format")),
    };
    let deleted = replace && ctx.txn.remove(db, key).is_some();
    let mut at = ttl as u64;
    if ttl > 0 && !absttl {
        at = at.saturating_add(now);
    }
    if ttl > 0 && at <= now {
        // Already expired: the key is not created (an old one replaced is deleted).
        if deleted {
            ctx.notify(notify::GENERIC, "del", key);
        }
        ctx.out.ok();
        return Ok(());
    }
    let clock = lru_clock(now);
    let lru = match idle {
        Some(s) => clock.wrapping_sub(s.min(u32::MAX as i64) as u32),
        None => clock,
    };
    let _ = freq; // Ferrodis keeps no LFU counter (maxmemory-policy is not LFU)
    ctx.txn.insert_entry(db, key, value, at, lru);
    ctx.notify(notify::GENERIC, "restore", key);
    ctx.out.ok();
    Ok(())
}

/// SAVE
fn save(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    if ctx.srv.persistence.bg.kind() == bgsave::Kind::Rdb {
        return Err(RError::raw("ERR Background save already in progress"));
    }
    match snapshot::save(ctx.srv, ctx.txn) {
        Ok(()) => {
            ctx.out.ok();
            Ok(())
        }
        Err(_) => Err(RError::raw("ERR")),
    }
}

/// BGSAVE [SCHEDULE]: a point-in-time snapshot written in the background
/// (`crate::persistence::bgsave`). Inside MULTI, or with SCHEDULE while an AOF
/// rewrite runs, it is scheduled for the cron to start.
fn bgsave(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let schedule = match argv.len() {
        1 => false,
        2 if args::is(argv[1], "schedule") => true,
        _ => return Err(errors::SYNTAX),
    };
    let bg = &ctx.srv.persistence.bg;
    match bg.kind() {
        bgsave::Kind::Rdb => Err(RError::raw("ERR Background save already in progress")),
        running if running != bgsave::Kind::None || ctx.client.in_exec => {
            if schedule || ctx.client.in_exec {
                bg.bgsave_scheduled
                    .store(true, std::sync::atomic::Ordering::Relaxed);
                ctx.out.simple("Background saving scheduled");
                Ok(())
            } else {
                Err(RError::raw("ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible."))
            }
        }
        _ => match bgsave::bgsave(ctx.srv, ctx.txn) {
            Ok(()) => {
                ctx.out.simple("Background saving started");
                Ok(())
            }
            Err(_) => Err(RError::raw("ERR")),
        },
    }
}
