//! Persistence: Redis's RDB format (values for DUMP/RESTORE, whole snapshots for
//! SAVE and loading at startup), with the building blocks it needs: CRC-64, LZF, and
//! the compact encodings Redis stores inside RDB files (listpack, ziplist, intset,
//! zipmap).

pub mod aof;
pub mod bgsave;
pub mod crc64;
pub mod legacy;
pub mod listpack;
pub mod lzf;
pub mod rdb;
pub mod snapshot;

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use crate::server::Server;

/// INFO persistence: the loading and RDB fields, in Redis's order.
pub fn info_rdb(srv: &Server, out: &mut String) {
    let p = &srv.persistence;
    let (cow_peak, cow_size, processed, total) = bgsave::info_fields(srv);
    let perc = if total > 0 {
        processed as f64 * 100.0 / total as f64
    } else {
        0.0
    };
    let _ = write!(
        out,
        "loading:{}\r\nasync_loading:0\r\ncurrent_cow_peak:{cow_peak}\r\ncurrent_cow_size:{cow_size}\r\ncurrent_cow_size_age:0\r\ncurrent_fork_perc:{perc:.2}\r\ncurrent_save_keys_processed:{processed}\r\ncurrent_save_keys_total:{total}\r\nrdb_changes_since_last_save:{}\r\nrdb_bgsave_in_progress:{}\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\nrdb_last_bgsave_time_sec:{}\r\nrdb_current_bgsave_time_sec:{}\r\nrdb_saves:{}\r\nrdb_last_cow_size:{}\r\nrdb_last_load_keys_expired:{}\r\nrdb_last_load_keys_loaded:{}\r\n",
        u8::from(p.loading.load(Ordering::Relaxed)),
        srv.stats.dirty.load(Ordering::Relaxed),
        u8::from(p.bg.kind() == bgsave::Kind::Rdb),
        srv.lastsave.load(Ordering::Relaxed),
        if p.last_save_failed.load(Ordering::Relaxed) {
            "err"
        } else {
            "ok"
        },
        p.bg.last_bgsave_secs.load(Ordering::Relaxed),
        p.bg.current_secs(bgsave::Kind::Rdb),
        p.saves.load(Ordering::Relaxed),
        p.bg.last_cow.load(Ordering::Relaxed),
        p.last_load_keys_expired.load(Ordering::Relaxed),
        p.last_load_keys_loaded.load(Ordering::Relaxed),
    );
}

/// INFO persistence: the AOF fields, in Redis's order.
pub fn info_aof(srv: &Server, out: &mut String) {
    aof::info(srv, out);
}

/// Redis's MISCONF text for a failed background save.
pub const MISCONF_RDB: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

/// Why write commands are refused right now, if they are (Redis's
/// `writeCommandsDeniedByDiskError`): the `-MISCONF` error text for a failed
/// background save (with `stop-writes-on-bgsave-error yes` and save points set) or a
/// failing AOF write. One relaxed load when writes are allowed.
#[inline]
pub fn deny_writes(srv: &Server) -> Option<String> {
    if srv.persistence.deny.load(Ordering::Relaxed) == 0 {
        return None;
    }
    deny_reason(srv)
}

#[cold]
fn deny_reason(srv: &Server) -> Option<String> {
    match srv.persistence.deny.load(Ordering::Relaxed) {
        DENY_RDB => Some(MISCONF_RDB.to_string()),
        DENY_AOF => aof::deny_writes(srv),
        _ => None,
    }
}

/// `State::deny` values.
pub const DENY_NONE: u8 = 0;
pub const DENY_RDB: u8 = 1;
pub const DENY_AOF: u8 = 2;

/// Recomputes whether writes are refused (after a save ends, a configuration change).
pub fn refresh_deny(srv: &Server) {
    let p = &srv.persistence;
    let rdb = p.last_save_failed.load(Ordering::Relaxed) && {
        let c = srv.config.read();
        c.bool("stop-writes-on-bgsave-error") && !c.save_points().is_empty()
    };
    // Redis's writeCommandsDeniedByDiskError: the RDB case first, then the AOF's.
    let aof = aof::deny_writes(srv).is_some();
    let v = if rdb {
        DENY_RDB
    } else if aof {
        DENY_AOF
    } else {
        DENY_NONE
    };
    p.deny.store(v, Ordering::Relaxed);
}

/// INFO persistence: the `loading_*` fields Redis adds at the end of the section while
/// the dataset loads.
pub fn info_loading(srv: &Server, out: &mut String) {
    let p = &srv.persistence;
    if !p.loading.load(Ordering::Relaxed) {
        return;
    }
    let start = p.loading_start.load(Ordering::Relaxed);
    let total = p.loading_total.load(Ordering::Relaxed);
    let loaded = p.loading_loaded.load(Ordering::Relaxed).min(total);
    let perc = if total > 0 {
        loaded as f64 * 100.0 / total as f64
    } else {
        0.0
    };
    let elapsed = (crate::util::time::now_ms() / 1000).saturating_sub(start);
    let eta = if loaded == 0 {
        1
    } else {
        ((total - loaded) as f64 / (loaded as f64 / elapsed.max(1) as f64)) as u64
    };
    let _ = write!(
        out,
        "loading_start_time:{start}\r\nloading_total_bytes:{total}\r\nloading_rdb_used_mem:0\r\nloading_loaded_bytes:{loaded}\r\nloading_loaded_perc:{perc:.2}\r\nloading_eta_seconds:{eta}\r\n"
    );
}

/// Whether startup has a dataset to load (the AOF is on, or `dbfilename` exists): the
/// server then answers -LOADING until it is in. With nothing to load it never does
/// (a client's first PING must not fail).
pub fn has_data_to_load(srv: &Server) -> bool {
    srv.config.read().bool("appendonly") || snapshot::rdb_path(srv).exists()
}

/// Loads the dataset at startup (the RDB file; the AOF when enabled) and ends the
/// `loading` state (set by the caller before it accepts connections, see
/// [`has_data_to_load`]), so clients connected meanwhile get -LOADING.
pub fn load_at_startup(srv: &Server) -> Result<(), String> {
    let p = &srv.persistence;
    p.loading_start
        .store(crate::util::time::now_ms() / 1000, Ordering::Relaxed);
    // With `appendonly yes` the AOF is the dataset (the RDB is not read).
    let r = match aof::load_at_startup(srv) {
        Ok(true) => Ok(()),
        Ok(false) => snapshot::load_at_startup(srv),
        Err(e) => Err(e),
    };
    p.loading.store(false, Ordering::SeqCst);
    r
}
