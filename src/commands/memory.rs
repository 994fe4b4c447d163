//! MEMORY USAGE/STATS/DOCTOR/MALLOC-STATS/PURGE/HELP, and the memory breakdown INFO
//! memory and the metrics endpoint share ([`mem_stats`]).
//!
//! Sizes are estimates of this server's own structures: a key costs its chain node in
//! the shard's `Dict` (key box, `Entry`, next pointer: one 64-byte allocation), its
//! bucket pointer and the key bytes' allocation; a value costs `Value::heap_size()`
//! (exact for compact encodings; sampled for big collections as Redis samples them).

use std::sync::atomic::Ordering;

use super::{errors, flags::*, CmdResult, Command, Ctx, RError};
use crate::keyspace::Entry;
use crate::server::Server;
use crate::types::Value;

crate::commands! { pub static COMMANDS = [
    Command::new("memory", -2, 0, super::container)
        .acl(&["slow"])
        .subcommands(&SUBCOMMANDS),
]; }

crate::commands! { static SUBCOMMANDS = [
    Command::new("usage", -3, READONLY, usage).keys(2, 2, 1).acl(&["read", "slow"]),
    Command::new("stats", 2, 0, stats).acl(&["slow"]),
    Command::new("doctor", 2, 0, doctor).acl(&["slow"]),
    Command::new("malloc-stats", 2, 0, malloc_stats).acl(&["slow"]),
    Command::new("purge", 2, 0, purge).acl(&["slow"]),
    Command::new("help", 2, LOADING | STALE, help).acl(&["slow"]),
]; }

/// Redis's OBJ_COMPUTE_SIZE_DEF_SAMPLES.
const DEFAULT_SAMPLES: usize = 5;

/// Bytes one key costs besides its value's own allocations: the node (for a string
/// packed into it, the string too) and the bucket pointer (amortized), the key's own
/// allocation when it does not fit in the node.
pub fn key_overhead(key: &[u8], e: &Entry) -> usize {
    crate::keyspace::table::node_size(key, e) + std::mem::size_of::<usize>()
}

/// Estimated heap bytes of a value, sampling at most `samples` elements of a big
/// collection (`usize::MAX` = all) and extrapolating to its length, as Redis's
/// `objectComputeSize`. Compact encodings are one buffer: their size is exact.
pub fn value_size(v: &Value, samples: usize) -> usize {
    let exact = || crate::memory::size_class(v.heap_size()).max(v.heap_size());
    match v {
        Value::Set(s) if s.encoding() == "hashtable" && s.len() > samples => {
            let crate::types::set::Repr::Big(big) = &s.repr else {
                return exact();
            };
            let mut seen = 0usize;
            let mut bytes = 0usize;
            let mut cursor = 0u64;
            loop {
                cursor = big.scan_step(cursor, |m| {
                    if seen < samples {
                        seen += 1;
                        bytes += 32 + crate::memory::size_class(m.len());
                    }
                });
                if cursor == 0 || seen >= samples {
                    break;
                }
            }
            table(s.len()) + extrapolate(bytes, seen, s.len())
        }
        Value::Hash(h) if h.encoding() == "hashtable" && h.len() > samples => {
            let mut seen = 0usize;
            let mut bytes = 0usize;
            let mut cursor = 0u64;
            loop {
                cursor = h.scan(cursor, |f, val| {
                    if seen < samples {
                        seen += 1;
                        bytes += 48
                            + crate::memory::size_class(f.len())
                            + crate::memory::size_class(val.len());
                    }
                });
                if cursor == 0 || seen >= samples {
                    break;
                }
            }
            table(h.len()) + extrapolate(bytes, seen, h.len())
        }
        Value::ZSet(z) if z.encoding() == "skiplist" && z.len() > samples => {
            let mut seen = 0usize;
            let mut bytes = 0usize;
            z.for_each_in(0, samples.saturating_sub(1), false, |m, _| {
                seen += 1;
                // Skiplist node (score, span/forward pointers) + index entry + member.
                bytes += 64 + 32 + crate::memory::size_class(m.len());
            });
            table(z.len()) + extrapolate(bytes, seen, z.len())
        }
        Value::List(l) if l.encoding() == "quicklist" && l.len() > samples => {
            let mut seen = 0usize;
            let mut bytes = 0usize;
            for e in l.iter().take(samples) {
                seen += 1;
                // Packed element: its bytes and a length header on each side.
                bytes += e.len() + 2;
            }
            64 + extrapolate(bytes, seen, l.len())
        }
        _ => exact(),
    }
}

/// A hash table's bucket array for `len` elements.
fn table(len: usize) -> usize {
    len.next_power_of_two() * std::mem::size_of::<usize>() + 64
}

fn extrapolate(bytes: usize, seen: usize, len: usize) -> usize {
    if seen == 0 {
        0
    } else {
        (bytes as f64 / seen as f64 * len as f64) as usize
    }
}

/// MEMORY USAGE key [SAMPLES count].
fn usage(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let mut samples = DEFAULT_SAMPLES;
    let mut j = 3;
    while j < argv.len() {
        if argv[j].eq_ignore_ascii_case(b"samples") && j + 1 < argv.len() {
            let n = crate::util::num::parse_i64(argv[j + 1]).ok_or(errors::NOT_INT)?;
            if n < 0 {
                return Err(errors::SYNTAX);
            }
            samples = if n == 0 { usize::MAX } else { n as usize };
            j += 2;
        } else {
            return Err(errors::SYNTAX);
        }
    }
    let db = ctx.db();
    let key = argv[2];
    match ctx.txn.peek(db, key) {
        None => ctx.out.null(),
        Some(e) => {
            let n = key_overhead(key, e) + value_size(&e.value, samples);
            ctx.out.int(n as i64);
        }
    }
    Ok(())
}

/// The memory breakdown of MEMORY STATS / INFO memory (Redis's `getMemoryOverheadData`).
pub struct MemStats {
    pub peak: u64,
    pub total: u64,
    pub startup: u64,
    pub clients_normal: u64,
    pub aof_buffer: u64,
    pub lua_caches: u64,
    pub functions_caches: u64,
    /// (db, main table overhead, expires overhead) for databases with keys.
    pub dbs: Vec<(usize, u64, u64)>,
    pub overhead_total: u64,
    pub keys: u64,
    pub bytes_per_key: u64,
    pub dataset: u64,
    pub dataset_perc: f32,
    pub peak_perc: f32,
    pub allocated: u64,
    pub active: u64,
    pub resident: u64,
    pub rss: u64,
    pub lua_vm: u64,
}

impl MemStats {
    pub fn frag(&self) -> (f32, i64) {
        ratio(self.active, self.allocated)
    }
    pub fn rss_frag(&self) -> (f32, i64) {
        ratio(self.resident, self.active)
    }
    pub fn rss_overhead(&self) -> (f32, i64) {
        ratio(self.rss, self.resident)
    }
    /// `mem_fragmentation_ratio`: process RSS over used memory.
    pub fn total_frag(&self) -> (f32, i64) {
        ratio(self.rss, self.total)
    }
}

fn ratio(a: u64, b: u64) -> (f32, i64) {
    let r = if b == 0 { 0.0 } else { a as f32 / b as f32 };
    (r, a as i64 - b as i64)
}

/// Collects the numbers (one pass over the shards' sizes, no values visited).
pub fn mem_stats(srv: &Server) -> MemStats {
    let total = crate::memory::used_memory();
    let peak = srv.mem_peak.fetch_max(total, Ordering::Relaxed).max(total);
    let startup = crate::memory::startup_memory().min(total);
    let clients: u64 = srv
        .clients
        .snapshot()
        .iter()
        .map(|c| {
            c.qbuf.load(Ordering::Relaxed)
                + c.omem.load(Ordering::Relaxed)
                + std::mem::size_of::<crate::server::client::ClientState>() as u64
        })
        .sum();
    let aof_buffer = srv.aof.buffer_len() as u64;
    let lua_vm = srv
        .scripts
        .try_lock()
        .map(|e| e.lua().used_memory() as u64)
        .unwrap_or(0);
    // Counted as general nodes (a packed node's string is part of it: an estimate).
    let node = 64u64;
    let mut dbs = Vec::new();
    let mut keys = 0u64;
    let mut db_overhead = 0u64;
    for (i, db) in srv.ks.dbs.iter().enumerate() {
        let (mut n, mut buckets) = (0u64, 0u64);
        for s in db.shards.iter() {
            let s = s.lock();
            n += s.dict.len() as u64;
            buckets += s.dict.buckets() as u64;
        }
        if n == 0 {
            continue;
        }
        let main = n * node + buckets * std::mem::size_of::<usize>() as u64;
        keys += n;
        db_overhead += main;
        // TTLs live in the entries: there is no separate expires table.
        dbs.push((i, main, 0));
    }
    let overhead_total = startup + clients + aof_buffer + db_overhead;
    let net = total.saturating_sub(startup);
    let dataset = total.saturating_sub(overhead_total);
    MemStats {
        peak,
        total,
        startup,
        clients_normal: clients,
        aof_buffer,
        lua_caches: 0,
        functions_caches: 0,
        dbs,
        overhead_total,
        keys,
        bytes_per_key: net.checked_div(keys).unwrap_or(0),
        dataset,
        dataset_perc: if net == 0 {
            0.0
        } else {
            dataset as f32 * 100.0 / net as f32
        },
        peak_perc: if peak == 0 {
            0.0
        } else {
            total as f32 * 100.0 / peak as f32
        },
        allocated: total,
        active: crate::memory::active_memory(),
        resident: crate::memory::resident_memory(),
        rss: crate::memory::rss(),
        lua_vm,
    }
}

fn stats(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let m = mem_stats(ctx.srv);
    let out = &mut *ctx.out;
    out.map(27 + m.dbs.len());
    let int = |out: &mut crate::protocol::Reply, k: &str, v: i64| {
        out.bulk(k.as_bytes());
        out.int(v);
    };
    let dbl = |out: &mut crate::protocol::Reply, k: &str, v: f32| {
        out.bulk(k.as_bytes());
        out.double(v as f64);
    };
    int(out, "peak.allocated", m.peak as i64);
    int(out, "total.allocated", m.total as i64);
    int(out, "startup.allocated", m.startup as i64);
    int(out, "replication.backlog", 0);
    int(out, "clients.slaves", 0);
    int(out, "clients.normal", m.clients_normal as i64);
    int(out, "cluster.links", 0);
    int(out, "aof.buffer", m.aof_buffer as i64);
    int(out, "lua.caches", m.lua_caches as i64);
    int(out, "functions.caches", m.functions_caches as i64);
    for &(db, main, expires) in &m.dbs {
        out.bulk(format!("db.{db}").as_bytes());
        out.map(3);
        int(out, "overhead.hashtable.main", main as i64);
        int(out, "overhead.hashtable.expires", expires as i64);
        int(out, "overhead.hashtable.slot-to-keys", 0);
    }
    int(out, "overhead.total", m.overhead_total as i64);
    int(out, "keys.count", m.keys as i64);
    int(out, "keys.bytes-per-key", m.bytes_per_key as i64);
    int(out, "dataset.bytes", m.dataset as i64);
    dbl(out, "dataset.percentage", m.dataset_perc);
    dbl(out, "peak.percentage", m.peak_perc);
    int(out, "allocator.allocated", m.allocated as i64);
    int(out, "allocator.active", m.active as i64);
    int(out, "allocator.resident", m.resident as i64);
    let (r, b) = m.frag();
    dbl(out, "allocator-fragmentation.ratio", r);
    int(out, "allocator-fragmentation.bytes", b);
    let (r, b) = m.rss_frag();
    dbl(out, "allocator-rss.ratio", r);
    int(out, "allocator-rss.bytes", b);
    let (r, b) = m.rss_overhead();
    dbl(out, "rss-overhead.ratio", r);
    int(out, "rss-overhead.bytes", b);
    let (r, b) = m.total_frag();
    dbl(out, "fragmentation", r);
    int(out, "fragmentation.bytes", b);
    Ok(())
}

/// Redis's `getMemoryDoctorReport`.
pub fn doctor_report(srv: &Server) -> String {
    let m = mem_stats(srv);
    let mut empty = false;
    let mut reports = 0;
    let (mut big_peak, mut high_frag, mut high_alloc_frag) = (false, false, false);
    let (mut high_alloc_rss, mut high_proc_rss, mut big_client_buf) = (false, false, false);
    if m.total < 1024 * 1024 * 5 {
        empty = true;
        reports += 1;
    } else {
        let mut flag = |cond: bool, f: &mut bool| {
            if cond {
                *f = true;
                reports += 1;
            }
        };
        flag(m.peak as f32 / m.total as f32 > 1.5, &mut big_peak);
        let (r, b) = m.total_frag();
        flag(r > 1.4 && b > 10 << 20, &mut high_frag);
        let (r, b) = m.frag();
        flag(r > 1.1 && b > 10 << 20, &mut high_alloc_frag);
        let (r, b) = m.rss_frag();
        flag(r > 1.1 && b > 10 << 20, &mut high_alloc_rss);
        let (r, b) = m.rss_overhead();
        flag(r > 1.1 && b > 10 << 20, &mut high_proc_rss);
        let clients = srv.clients.len().max(1) as u64;
        flag(m.clients_normal / clients > 1024 * 200, &mut big_client_buf);
    }
    if reports == 0 {
        return "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n".to_string();
    }
    if empty {
        return "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n".to_string();
    }
    let mut s =
        String::from("Sam, I detected a few issues in this Redis instance memory implants:\n\n");
    if big_peak {
        s.push_str(" * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.\n\n");
    }
    if high_frag {
        s.push_str(&format!(" * High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 (this means that the Resident Set Size of the Redis process is much larger than the sum of the logical allocations Redis performed). This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. If the problem is a large peak memory, then there is no issue. Otherwise, make sure you are using the Jemalloc allocator and not the default libc malloc. Note: The currently used allocator is \"{}\".\n\n", crate::memory::allocator_name()));
    }
    if high_alloc_frag {
        s.push_str(" * High allocator fragmentation: This instance has an allocator external fragmentation greater than 1.1. This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. You can try enabling 'activedefrag' config option.\n\n");
    }
    if high_alloc_rss {
        s.push_str(" * High allocator RSS overhead: This instance has an RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the allocator is much larger than the sum what the allocator actually holds). This problem is usually due to a large peak memory (check if there is a peak memory entry above in the report), you can try the MEMORY PURGE command to reclaim it.\n\n");
    }
    if high_proc_rss {
        s.push_str(" * High process RSS overhead: This instance has non-allocator RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the Redis process is much larger than the RSS the allocator holds). This problem may be due to Lua scripts or Modules.\n\n");
    }
    if big_client_buf {
        s.push_str(" * Big client buffers: The clients output buffers in this instance are greater than 200K per client (on average). This may result from different causes, like Pub/Sub clients subscribed to channels bot not receiving data fast enough, so that data piles on the Redis instance output buffer, or clients sending commands with large replies or very large sequences of commands in the same pipeline. Please use the CLIENT LIST command in order to investigate the issue if it causes problems in your instance, or to understand better why certain clients are using a big amount of memory.\n\n");
    }
    s.push_str("I'm here to keep you safe, Sam. I want to help you.\n");
    s
}

fn doctor(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let text = doctor_report(ctx.srv);
    ctx.out.verbatim(text.as_bytes(), "txt");
    Ok(())
}

fn malloc_stats(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let text = crate::memory::malloc_stats();
    ctx.out.verbatim(text.as_bytes(), "txt");
    Ok(())
}

fn purge(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    if !crate::memory::purge() {
        return Err(RError::raw("ERR Error purging dirty pages"));
    }
    ctx.out.ok();
    Ok(())
}

fn help(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    super::client::help_reply(
        ctx,
        "MEMORY",
        &[
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn size_classes() {
        assert_eq!(crate::memory::size_class(0), 0);
        assert_eq!(crate::memory::size_class(3), 8);
        assert_eq!(crate::memory::size_class(17), 32);
        assert_eq!(crate::memory::size_class(129), 160);
        assert_eq!(crate::memory::size_class(1000), 1024);
        assert_eq!(crate::memory::size_class(1025), 1280);
    }
}
