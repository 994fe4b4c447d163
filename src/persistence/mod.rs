//! Persistence: Redis's RDB format (values for DUMP/RESTORE, whole snapshots for
//! SAVE and loading at startup), with the building blocks it needs: CRC-64, LZF, and
//! the compact encodings Redis stores inside RDB files (listpack, ziplist, intset,
//! zipmap).

pub mod aof;
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
    let _ = write!(
        out,
        "loading:0\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\ncurrent_cow_size:0\r\ncurrent_cow_size_age:0\r\ncurrent_fork_perc:0.00\r\ncurrent_save_keys_processed:0\r\ncurrent_save_keys_total:0\r\nrdb_changes_since_last_save:{}\r\nrdb_bgsave_in_progress:0\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\nrdb_last_bgsave_time_sec:-1\r\nrdb_current_bgsave_time_sec:-1\r\nrdb_saves:{}\r\nrdb_last_cow_size:0\r\nrdb_last_load_keys_expired:{}\r\nrdb_last_load_keys_loaded:{}\r\n",
        srv.stats.dirty.load(Ordering::Relaxed),
        srv.lastsave.load(Ordering::Relaxed),
        if p.last_save_failed.load(Ordering::Relaxed) {
            "err"
        } else {
            "ok"
        },
        p.saves.load(Ordering::Relaxed),
        p.last_load_keys_expired.load(Ordering::Relaxed),
        p.last_load_keys_loaded.load(Ordering::Relaxed),
    );
}

/// INFO persistence: the AOF fields, in Redis's order.
pub fn info_aof(srv: &Server, out: &mut String) {
    aof::info(srv, out);
}

/// Why write commands are refused right now, if they are (Redis's
/// `writeCommandsDeniedByDiskError`): the `-MISCONF` error text for a failed
/// background save (with `stop-writes-on-bgsave-error yes`) or a failing AOF write.
pub fn deny_writes(srv: &Server) -> Option<String> {
    aof::deny_writes(srv)
}
