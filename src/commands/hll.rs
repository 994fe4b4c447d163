//! HyperLogLog commands (Redis's `hyperloglog.c`): PFADD, PFCOUNT, PFMERGE, PFDEBUG and
//! PFSELFTEST.
//!
//! An HLL is a string value in Redis's byte format (see `types::hll`), stored `raw` as
//! Redis does (its commands "unshare" the string before modifying it in place, which
//! turns an `embstr` into `raw`). A string that is not an HLL gives
//! `WRONGTYPE Key is not a valid HyperLogLog string value.`; an HLL whose sparse data
//! is inconsistent gives `INVALIDOBJ Corrupted HLL object detected`.

use super::{errors, flags::*, CmdResult, Command, Ctx, RError};
use crate::config::notify;
use crate::types::hll::{self, REGISTERS};
use crate::types::{StrValue, Value};

crate::commands! { pub static COMMANDS = [
    Command::new("pfadd", -2, WRITE | DENYOOM | FAST, pfadd)
        .keys(1, 1, 1)
        .acl(&["write", "hyperloglog", "fast"]),
    Command::new("pfcount", -2, READONLY | MAY_REPLICATE, pfcount)
        .keys(1, -1, 1)
        .acl(&["read", "hyperloglog", "slow"]),
    Command::new("pfmerge", -2, WRITE | DENYOOM, pfmerge)
        .keys(1, -1, 1)
        .acl(&["write", "hyperloglog", "slow"]),
    Command::new("pfdebug", 3, WRITE | DENYOOM | ADMIN, pfdebug)
        .keys(2, 2, 1)
        .acl(&["write", "hyperloglog", "admin", "slow", "dangerous"]),
    Command::new("pfselftest", 1, ADMIN, pfselftest)
        .acl(&["hyperloglog", "admin", "slow", "dangerous"]),
]; }

const NOT_HLL: RError = RError::raw("WRONGTYPE Key is not a valid HyperLogLog string value.");
const CORRUPT: RError = RError::raw("INVALIDOBJ Corrupted HLL object detected");

/// The bytes of a value that is a valid HLL (`isHLLObjectOrReply`): WRONGTYPE for other
/// types, the HLL-specific WRONGTYPE for strings that are not HLLs (integer-encoded
/// strings never are).
#[allow(unreachable_patterns)]
fn hll_ref(v: &Value) -> Result<&[u8], RError> {
    let b: &[u8] = match v {
        Value::Str(s) => s.as_bytes().ok_or(NOT_HLL)?,
        _ => return Err(errors::WRONGTYPE),
    };
    if hll::is_valid(b) {
        Ok(b)
    } else {
        Err(NOT_HLL)
    }
}

/// A valid HLL for in-place modification, converted to `raw` as Redis's
/// `dbUnshareStringValue` does.
fn hll_mut(v: &mut Value) -> Result<&mut Vec<u8>, RError> {
    hll_ref(v)?;
    match v {
        Value::Str(s) => Ok(s.make_raw()),
        #[allow(unreachable_patterns)]
        _ => Err(errors::WRONGTYPE),
    }
}

/// The `hll-sparse-max-bytes` setting.
fn sparse_max_bytes(ctx: &Ctx) -> usize {
    ctx.srv.hot.limit(crate::server::Limit::HllSparseMaxBytes) as usize
}

/// PFADD key [element ...]: 1 if the key was created or a register changed.
fn pfadd(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let key = argv[1];
    let max_bytes = sparse_max_bytes(ctx);
    let elements = argv.get(2..).unwrap_or(&[]);
    match ctx.txn.get_mut(db, key) {
        None => {
            let mut v = hll::new_sparse();
            let mut updated: u64 = 1;
            for e in elements {
                if hll::add(&mut v, e, max_bytes).map_err(|_| CORRUPT)? {
                    updated += 1;
                }
            }
            hll::invalidate_cache(&mut v);
            // Exact size (the sparse form grew by doubling; dense is exact already).
            v.shrink_to_fit();
            // `set` counts one change (the creation).
            ctx.txn.set(db, key, Value::Str(StrValue::raw(v)), false);
            ctx.txn.dirty += updated - 1;
            ctx.notify(notify::STRING, "pfadd", key);
            ctx.out.int(1);
        }
        Some(e) => {
            let v = hll_mut(&mut e.value)?;
            let mut updated: u64 = 0;
            for e in elements {
                // Registers changed before a corruption is found stay changed, as in
                // Redis.
                if hll::add(v, e, max_bytes).map_err(|_| CORRUPT)? {
                    updated += 1;
                }
            }
            if updated > 0 {
                hll::invalidate_cache(v);
                // A sparse HLL is kept exactly sized: small ones are most of the keys.
                if hll::encoding(v) == hll::SPARSE {
                    v.shrink_to_fit();
                }
                ctx.txn.dirty += updated;
                ctx.notify(notify::STRING, "pfadd", key);
            }
            ctx.out.int(i64::from(updated > 0));
        }
    }
    Ok(())
}

/// PFCOUNT key [key ...]: one key uses (and refreshes) the cached cardinality; several
/// keys give the cardinality of their union without modifying them.
fn pfcount(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    if argv.len() > 2 {
        let mut max = Box::new([0u8; REGISTERS]);
        for key in &argv[1..] {
            let Some(e) = ctx.txn.get_read(db, key) else {
                continue;
            };
            let b = hll_ref(&e.value)?;
            hll::merge_into(&mut max, b).map_err(|_| CORRUPT)?;
        }
        let card = hll::estimate(&hll::histogram_raw(&max));
        ctx.out.int(card as i64);
        return Ok(());
    }
    let Some(e) = ctx.txn.get_read_mut(db, argv[1]) else {
        ctx.out.int(0);
        return Ok(());
    };
    let v = hll_mut(&mut e.value)?;
    let card = match hll::cached_count(v) {
        Some(c) => c,
        None => {
            let c = hll::count(v).map_err(|_| CORRUPT)?;
            // The cache lives in the value: this is a change to the key (a running
            // snapshot keeps the old bytes).
            ctx.txn.preserve(db, argv[1]);
            if let Some(e) = ctx.txn.peek_mut(db, argv[1]) {
                if let Ok(v) = hll_mut(&mut e.value) {
                    hll::set_cached_count(v, c);
                }
            }
            ctx.txn.dirty += 1;
            c
        }
    };
    ctx.out.int(card as i64);
    Ok(())
}

/// PFMERGE destkey [sourcekey ...]: the destination (created if missing) becomes the
/// union of itself and the sources. It becomes dense if any input is dense; otherwise
/// the registers are raised one by one in the sparse form, which promotes itself when
/// it grows too large.
fn pfmerge(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let max_bytes = sparse_max_bytes(ctx);
    let mut max = Box::new([0u8; REGISTERS]);
    let mut use_dense = false;
    for key in &argv[1..] {
        let Some(e) = ctx.txn.get_read(db, key) else {
            continue;
        };
        let b = hll_ref(&e.value)?;
        if hll::encoding(b) == hll::DENSE {
            use_dense = true;
        }
        hll::merge_into(&mut max, b).map_err(|_| CORRUPT)?;
    }
    let apply = |v: &mut Vec<u8>| -> CmdResult {
        if use_dense {
            hll::to_dense(v).map_err(|_| CORRUPT)?;
        }
        for (i, &r) in max.iter().enumerate() {
            if r != 0 {
                // The destination was validated as a source; Redis ignores the result.
                let _ = hll::set_register(v, i, r, max_bytes);
            }
        }
        hll::invalidate_cache(v);
        Ok(())
    };
    let dest = argv[1];
    match ctx.txn.get_mut(db, dest) {
        None => {
            let mut v = hll::new_sparse();
            apply(&mut v)?;
            ctx.txn.set(db, dest, Value::Str(StrValue::raw(v)), false);
        }
        Some(e) => {
            apply(hll_mut(&mut e.value)?)?;
            ctx.txn.dirty += 1;
        }
    }
    // Redis raises `pfadd` for a merge too (a mass add).
    ctx.notify(notify::STRING, "pfadd", dest);
    ctx.out.ok();
    Ok(())
}

/// PFDEBUG GETREG|DECODE|ENCODING|TODENSE key.
fn pfdebug(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let sub = argv[1];
    let Some(e) = ctx.txn.get_mut(db, argv[2]) else {
        return Err(RError::err("The specified key does not exist"));
    };
    let v = hll_mut(&mut e.value)?;
    let mut converted = false;
    let is = |name: &str| sub.eq_ignore_ascii_case(name.as_bytes());
    if is("getreg") {
        if hll::encoding(v) == hll::SPARSE {
            hll::to_dense(v).map_err(|_| CORRUPT)?;
            converted = true;
        }
        let regs = hll::dense_registers(v);
        ctx.out.array(regs.len());
        for r in regs {
            ctx.out.int(i64::from(r));
        }
    } else if is("decode") {
        if hll::encoding(v) != hll::SPARSE {
            return Err(RError::err("HLL encoding is not sparse"));
        }
        let s = hll::decode_sparse(v);
        ctx.out.bulk(s.as_bytes());
    } else if is("encoding") {
        ctx.out.simple(if hll::encoding(v) == hll::DENSE {
            "dense"
        } else {
            "sparse"
        });
    } else if is("todense") {
        if hll::encoding(v) == hll::SPARSE {
            hll::to_dense(v).map_err(|_| CORRUPT)?;
            converted = true;
        }
        ctx.out.int(i64::from(converted));
    } else {
        return Err(RError::err(format!(
            "Unknown PFDEBUG subcommand '{}'",
            String::from_utf8_lossy(sub)
        )));
    }
    if converted {
        // An encoding change is a change to the value.
        ctx.txn.dirty += 1;
    }
    Ok(())
}

/// PFSELFTEST: checks the dense register accessors against a plain byte array, then
/// adds 10 million distinct elements to a dense and a sparse HLL at once, checking at
/// every power of ten that the sparse one is still sparse while small, that both
/// estimate the same, and that the error stays within 6 standard errors.
fn pfselftest(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    selftest(sparse_max_bytes(ctx)).map_err(RError::owned)?;
    ctx.out.ok();
    Ok(())
}

fn selftest(max_bytes: usize) -> Result<(), String> {
    use rand::Rng;
    let mut rng = rand::thread_rng();

    // Test 1: register access.
    let mut dense = vec![0u8; hll::DENSE_SIZE];
    let mut bytes = vec![0u8; REGISTERS];
    for _ in 0..1000 {
        let regs = &mut dense[hll::HDR_SIZE..];
        for (i, b) in bytes.iter_mut().enumerate() {
            let r: u8 = rng.gen::<u8>() & 63;
            *b = r;
            hll::dense_put(regs, i, r);
        }
        for (i, &b) in bytes.iter().enumerate() {
            let got = hll::dense_get(regs, i);
            if got != b {
                return Err(format!(
                    "TESTFAILED Register {i} should be {b} but is {got}"
                ));
            }
        }
    }

    // Test 2: approximation error, dense and sparse side by side.
    let mut dense = hll::new_sparse();
    hll::to_dense(&mut dense).map_err(|_| "TESTFAILED dense conversion".to_string())?;
    let mut sparse = hll::new_sparse();
    let relerr = 1.04 / (REGISTERS as f64).sqrt();
    let seed: u64 = rng.gen();
    let mut checkpoint: u64 = 1;
    for j in 1..=10_000_000u64 {
        let ele = (j ^ seed).to_le_bytes();
        let _ = hll::add(&mut dense, &ele, max_bytes);
        let _ = hll::add(&mut sparse, &ele, max_bytes);
        if j != checkpoint {
            continue;
        }
        if (j as usize) < max_bytes / 2 && hll::encoding(&sparse) != hll::SPARSE {
            return Err("TESTFAILED sparse encoding not used".into());
        }
        let dense_count = hll::count(&dense).unwrap_or(0);
        if hll::count(&sparse).unwrap_or(0) != dense_count {
            return Err("TESTFAILED dense/sparse disagree".into());
        }
        let abserr = (checkpoint as i64 - dense_count as i64).unsigned_abs();
        let mut maxerr = (relerr * 6.0 * checkpoint as f64).ceil() as u64;
        // Collisions make a larger error at 10 elements not that unlikely.
        if j == 10 {
            maxerr = 1;
        }
        if abserr > maxerr {
            return Err(format!(
                "TESTFAILED Too big error. card:{checkpoint} abserr:{abserr}"
            ));
        }
        checkpoint *= 10;
    }
    Ok(())
}
