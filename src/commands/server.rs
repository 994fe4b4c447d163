//! Server commands: INFO, CONFIG, TIME, LASTSAVE, DEBUG, SHUTDOWN.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use parking_lot::Mutex;

use super::{args, errors, flags::*, CmdResult, Command, Ctx, RError};
use crate::server::{log, Server, ShutdownRequest};
use crate::util::time::{now_ms, now_us};

const ADMIN_CATS: &[&str] = &["admin", "slow", "dangerous"];

crate::commands! { pub static COMMANDS = [
    Command::new("info", -1, LOADING | STALE | SENTINEL, info).acl(&["slow", "dangerous"]),
    Command::new("config", -2, 0, super::container)
        .acl(&["slow"])
        .subcommands(&CONFIG_SUBCOMMANDS),
    Command::new("time", 1, LOADING | STALE | FAST, time).acl(&["fast"]),
    Command::new("lastsave", 1, LOADING | STALE | FAST, lastsave)
        .acl(&["admin", "fast", "dangerous"]),
    Command::new("debug", -2, ADMIN | NOSCRIPT | LOADING | STALE, debug).acl(ADMIN_CATS),
    Command::new(
        "shutdown",
        -1,
        ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | SENTINEL | ALLOW_BUSY,
        shutdown
    )
    .acl(ADMIN_CATS),
]; }

crate::commands! { static CONFIG_SUBCOMMANDS = [
    Command::new("get", -3, ADMIN | NOSCRIPT | LOADING | STALE, config_get).acl(ADMIN_CATS),
    Command::new("set", -4, ADMIN | NOSCRIPT | LOADING | STALE, config_set).acl(ADMIN_CATS),
    Command::new("resetstat", 2, ADMIN | NOSCRIPT | LOADING | STALE, config_resetstat)
        .acl(ADMIN_CATS),
    Command::new("rewrite", 2, ADMIN | NOSCRIPT | LOADING | STALE, config_rewrite)
        .acl(ADMIN_CATS),
    Command::new("help", 2, LOADING | STALE, config_help).acl(&["slow"]),
]; }

// ---------------------------------------------------------------- error stats

/// Error replies by error code (INFO errorstats), e.g. `ERR` -> 3.
static ERROR_STATS: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());

/// Counts `n` error replies whose code is `code` (called by the dispatcher).
pub fn record_errors(code: Option<&str>, n: u64) {
    let code = code.unwrap_or("ERR");
    // Redis stops tracking new codes past 128 distinct ones.
    let mut m = ERROR_STATS.lock();
    if let Some(c) = m.get_mut(code) {
        *c += n;
    } else if m.len() < 128 {
        m.insert(code.to_string(), n);
    }
}

// ---------------------------------------------------------------- INFO

/// Redis's `bytesToHuman`.
pub fn bytes_to_human(n: u64) -> String {
    const UNITS: [(u64, &str); 5] = [
        (1 << 10, "K"),
        (1 << 20, "M"),
        (1 << 30, "G"),
        (1 << 40, "T"),
        (1 << 50, "P"),
    ];
    if n < 1024 {
        return format!("{n}B");
    }
    for (i, (div, unit)) in UNITS.iter().enumerate() {
        let next = UNITS.get(i + 1).map(|u| u.0).unwrap_or(u64::MAX);
        if n < next || i == UNITS.len() - 1 {
            if n >= (1u64 << 60) {
                return format!("{n}B");
            }
            return format!("{:.2}{unit}", n as f64 / *div as f64);
        }
    }
    format!("{n}B")
}

fn uname() -> (String, String, String) {
    // SAFETY: `utsname` is plain data; uname fills it with NUL-terminated strings.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return ("Linux".into(), String::new(), String::new());
        }
        let f = |s: &[libc::c_char]| {
            let bytes: Vec<u8> = s
                .iter()
                .take_while(|&&c| c != 0)
                .map(|&c| c as u8)
                .collect();
            String::from_utf8_lossy(&bytes).into_owned()
        };
        (f(&u.sysname), f(&u.release), f(&u.machine))
    }
}

fn rusage(who: libc::c_int) -> (String, String) {
    // SAFETY: getrusage writes into the zeroed struct we pass.
    unsafe {
        let mut r: libc::rusage = std::mem::zeroed();
        if libc::getrusage(who, &mut r) != 0 {
            return ("0.000000".into(), "0.000000".into());
        }
        (
            format!("{}.{:06}", r.ru_stime.tv_sec, r.ru_stime.tv_usec),
            format!("{}.{:06}", r.ru_utime.tv_sec, r.ru_utime.tv_usec),
        )
    }
}

fn total_system_memory() -> u64 {
    let Ok(s) = std::fs::read_to_string("/proc/meminfo") else {
        return 0;
    };
    s.lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// Samples for `instantaneous_ops_per_sec`: (unix ms, total commands) at the previous
/// INFO call, and the last computed rate.
static OPS_SAMPLE: Mutex<(u64, u64, u64)> = Mutex::new((0, 0, 0));

fn ops_per_sec(total: u64) -> u64 {
    let now = now_ms();
    let mut s = OPS_SAMPLE.lock();
    let (t, n, rate) = *s;
    if t == 0 {
        *s = (now, total, 0);
        return 0;
    }
    let dt = now.saturating_sub(t);
    if dt < 100 {
        return rate;
    }
    let r = total.saturating_sub(n) * 1000 / dt;
    *s = (now, total, r);
    r
}

/// Which sections INFO prints (Redis's `genInfoSectionDict` rules).
struct Selection {
    all: bool,
    everything: bool,
    names: Vec<String>,
}

const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "module_list",
    "errorstats",
    "cluster",
    "keyspace",
];

impl Selection {
    fn parse(argv: &[&[u8]]) -> Selection {
        let mut sel = Selection {
            all: false,
            everything: false,
            names: Vec::new(),
        };
        if argv.is_empty() {
            sel.names = DEFAULT_SECTIONS.iter().map(|s| s.to_string()).collect();
            return sel;
        }
        for a in argv {
            let s = String::from_utf8_lossy(a).to_ascii_lowercase();
            match s.as_str() {
                "default" => sel
                    .names
                    .extend(DEFAULT_SECTIONS.iter().map(|s| s.to_string())),
                "all" => sel.all = true,
                "everything" => {
                    sel.all = true;
                    sel.everything = true;
                }
                _ => sel.names.push(s),
            }
        }
        sel
    }

    /// Sections that "all" includes (everything but the ones only named explicitly).
    fn wants(&self, section: &str) -> bool {
        self.all || self.names.iter().any(|n| n == section)
    }
}

/// Builds the INFO text for the given arguments (without the command name).
pub fn info_string(srv: &Server, argv: &[&[u8]]) -> String {
    let sel = Selection::parse(argv);
    let mut sections: Vec<String> = Vec::new();
    let cfg = srv.config.read().clone();
    let now = now_ms();

    if sel.wants("server") {
        let (sys, rel, mach) = uname();
        let uptime = srv.started.elapsed().as_secs();
        let exe = std::env::current_exe()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let port = srv.port.load(Ordering::Relaxed);
        let mut s = String::from("# Server\r\n");
        let _ = write!(
            s,
            "redis_version:{}\r\nferrodis_version:{}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:{}\r\nredis_mode:standalone\r\nos:{sys} {rel} {mach}\r\narch_bits:64\r\nmonotonic_clock:POSIX clock_gettime\r\nmultiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\ngcc_version:0.0.0\r\nprocess_id:{}\r\nprocess_supervised:no\r\nrun_id:{}\r\ntcp_port:{port}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{uptime}\r\nuptime_in_days:{}\r\nhz:{}\r\nconfigured_hz:{}\r\nlru_clock:{}\r\nexecutable:{exe}\r\nconfig_file:{}\r\nio_threads_active:0\r\n",
            crate::VERSION_REDIS,
            crate::VERSION,
            &srv.run_id[..16.min(srv.run_id.len())],
            std::process::id(),
            srv.run_id,
            now_us(),
            uptime / 86400,
            cfg.int("hz"),
            cfg.int("hz"),
            crate::keyspace::lru_clock(now) & 0xFF_FFFF,
            cfg.file.clone().unwrap_or_default(),
        );
        let mut l = String::from("listener0:name=tcp");
        for b in cfg.str("bind").split_whitespace() {
            let _ = write!(l, ",bind={b}");
        }
        if port != 0 {
            let _ = write!(l, ",port={port}");
        }
        s.push_str(&l);
        s.push_str("\r\n");
        sections.push(s);
    }

    if sel.wants("clients") {
        sections.push(format!(
            "# Clients\r\nconnected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\nclient_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:{}\r\nblocked_clients:{}\r\ntracking_clients:{}\r\nclients_in_timeout_table:{}\r\ntotal_blocking_keys:{}\r\ntotal_blocking_keys_on_nokey:0\r\n",
            srv.clients.len(),
            cfg.int("maxclients"),
            srv.obuf_peak.recent(),
            srv.stats.blocked_clients.load(Ordering::Relaxed),
            srv.tracking.clients(),
            srv.clients
                .snapshot()
                .iter()
                .filter(|c| matches!(&*c.blocked.lock(), Some(w) if w.deadline_ms != 0))
                .count(),
            srv.ks.sum_stat(|s| s.waiters.len() as u64),
        ));
    }

    if sel.wants("memory") {
        sections.push(info_memory(srv, &cfg));
    }

    if sel.wants("persistence") {
        let mut sec = String::from("# Persistence\r\n");
        crate::persistence::info_rdb(srv, &mut sec);
        crate::persistence::info_aof(srv, &mut sec);
        sec.push_str("module_fork_in_progress:0\r\nmodule_fork_last_cow_size:0\r\n");
        crate::persistence::aof::info_enabled(srv, &mut sec);
        crate::persistence::info_loading(srv, &mut sec);
        sections.push(sec);
    }

    if sel.wants("stats") {
        let st = &srv.stats;
        let ld = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        let cmds = ld(&st.total_commands_processed);
        let hits = srv.ks.sum_stat(|s| s.hits);
        let misses = srv.ks.sum_stat(|s| s.misses);
        let expired = srv.ks.sum_stat(|s| s.expired);
        sections.push(format!(
            "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{cmds}\r\ninstantaneous_ops_per_sec:{}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\ntotal_net_repl_input_bytes:0\r\ntotal_net_repl_output_bytes:0\r\ninstantaneous_input_kbps:0.00\r\ninstantaneous_output_kbps:0.00\r\ninstantaneous_input_repl_kbps:0.00\r\ninstantaneous_output_repl_kbps:0.00\r\nrejected_connections:{}\r\nsync_full:0\r\nsync_partial_ok:0\r\nsync_partial_err:0\r\nexpired_keys:{expired}\r\nexpired_stale_perc:0.00\r\nexpired_time_cap_reached_count:0\r\nexpire_cycle_cpu_milliseconds:{}\r\nevicted_keys:{}\r\nevicted_clients:0\r\ntotal_eviction_exceeded_time:0\r\ncurrent_eviction_exceeded_time:0\r\nkeyspace_hits:{hits}\r\nkeyspace_misses:{misses}\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\npubsubshard_channels:{}\r\nlatest_fork_usec:0\r\ntotal_forks:0\r\nmigrate_cached_sockets:0\r\nslave_expires_tracked_keys:0\r\nactive_defrag_hits:0\r\nactive_defrag_misses:0\r\nactive_defrag_key_hits:0\r\nactive_defrag_key_misses:0\r\ntotal_active_defrag_time:0\r\ncurrent_active_defrag_time:0\r\ntracking_total_keys:{}\r\ntracking_total_items:{}\r\ntracking_total_prefixes:{}\r\nunexpected_error_replies:{}\r\ntotal_error_replies:{}\r\ndump_payload_sanitizations:0\r\ntotal_reads_processed:0\r\ntotal_writes_processed:0\r\nio_threaded_reads_processed:0\r\nio_threaded_writes_processed:0\r\nreply_buffer_shrinks:0\r\nreply_buffer_expands:0\r\neventloop_cycles:0\r\neventloop_duration_sum:0\r\neventloop_duration_cmd_sum:0\r\ninstantaneous_eventloop_cycles_per_sec:0\r\ninstantaneous_eventloop_duration_usec:0\r\nacl_access_denied_auth:0\r\nacl_access_denied_cmd:0\r\nacl_access_denied_key:0\r\nacl_access_denied_channel:0\r\n",
            ld(&st.total_connections_received),
            ops_per_sec(cmds),
            ld(&st.net_input_bytes),
            ld(&st.net_output_bytes),
            ld(&st.rejected_connections),
            ld(&st.expire_cycle_cpu_ms),
            ld(&srv.evict.evicted),
            srv.pubsub.count(crate::server::pubsub::Kind::Channel),
            srv.pubsub.count(crate::server::pubsub::Kind::Pattern),
            srv.pubsub.count(crate::server::pubsub::Kind::Shard),
            srv.tracking.total_keys(),
            srv.tracking.total_items(),
            srv.tracking.total_prefixes(),
            ld(&st.unexpected_error_replies),
            ld(&st.total_error_replies),
        ));
    }

    if sel.wants("replication") {
        sections.push(format!(
            "# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\nmaster_replid:{}\r\nmaster_replid2:0000000000000000000000000000000000000000\r\nmaster_repl_offset:0\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:0\r\nrepl_backlog_size:{}\r\nrepl_backlog_first_byte_offset:0\r\nrepl_backlog_histlen:0\r\n",
            srv.run_id,
            cfg.int("repl-backlog-size"),
        ));
    }

    if sel.wants("cpu") {
        let (ssys, suser) = rusage(libc::RUSAGE_SELF);
        let (csys, cuser) = rusage(libc::RUSAGE_CHILDREN);
        let (tsys, tuser) = rusage(libc::RUSAGE_THREAD);
        sections.push(format!(
            "# CPU\r\nused_cpu_sys:{ssys}\r\nused_cpu_user:{suser}\r\nused_cpu_sys_children:{csys}\r\nused_cpu_user_children:{cuser}\r\nused_cpu_sys_main_thread:{tsys}\r\nused_cpu_user_main_thread:{tuser}\r\n"
        ));
    }

    if sel.wants("module_list") || sel.wants("modules") {
        sections.push("# Modules\r\n".to_string());
    }

    if sel.wants("commandstats") {
        let mut s = String::from("# Commandstats\r\n");
        for c in srv.commands.all() {
            command_stats(&mut s, c, None);
            for sub in c.subcommands {
                command_stats(&mut s, sub, Some(c));
            }
        }
        sections.push(s);
    }

    if sel.wants("errorstats") {
        let mut s = String::from("# Errorstats\r\n");
        for (code, n) in ERROR_STATS.lock().iter() {
            let _ = write!(s, "errorstat_{}:count={n}\r\n", safe_info(code));
        }
        sections.push(s);
    }

    if sel.wants("latencystats") {
        sections.push(info_latencystats(srv));
    }

    if sel.wants("cluster") {
        sections.push("# Cluster\r\ncluster_enabled:0\r\n".to_string());
    }

    if sel.wants("keyspace") {
        let mut s = String::from("# Keyspace\r\n");
        for db in 0..srv.databases() {
            let (keys, expires) = srv.ks.db_counts(db);
            if keys > 0 || expires > 0 {
                let _ = write!(s, "db{db}:keys={keys},expires={expires},avg_ttl=0\r\n");
            }
        }
        sections.push(s);
    }

    let _ = sel.everything;
    sections.join("\r\n")
}

/// INFO memory (every field of Redis 7.0's section; see `commands::memory::mem_stats`).
fn info_memory(srv: &Server, cfg: &crate::config::Config) -> String {
    let m = super::memory::mem_stats(srv);
    let total_sys = total_system_memory();
    let maxmemory = cfg.int("maxmemory").max(0) as u64;
    let h = bytes_to_human;
    let (afr, afb) = m.frag();
    let (arr, arb) = m.rss_frag();
    let (ror, rob) = m.rss_overhead();
    let (mfr, mfb) = m.total_frag();
    let mut s = String::from("# Memory\r\n");
    let mut kv = |k: &str, v: String| {
        s.push_str(k);
        s.push(':');
        s.push_str(&v);
        s.push_str("\r\n");
    };
    kv("used_memory", m.total.to_string());
    kv("used_memory_human", h(m.total));
    kv("used_memory_rss", m.rss.to_string());
    kv("used_memory_rss_human", h(m.rss));
    kv("used_memory_peak", m.peak.to_string());
    kv("used_memory_peak_human", h(m.peak));
    kv("used_memory_peak_perc", format!("{:.2}%", m.peak_perc));
    kv("used_memory_overhead", m.overhead_total.to_string());
    kv("used_memory_startup", m.startup.to_string());
    kv("used_memory_dataset", m.dataset.to_string());
    kv(
        "used_memory_dataset_perc",
        format!("{:.2}%", m.dataset_perc),
    );
    kv("allocator_allocated", m.allocated.to_string());
    kv("allocator_active", m.active.to_string());
    kv("allocator_resident", m.resident.to_string());
    kv("total_system_memory", total_sys.to_string());
    kv("total_system_memory_human", h(total_sys));
    kv("used_memory_lua", m.lua_vm.to_string());
    kv("used_memory_vm_eval", m.lua_vm.to_string());
    kv("used_memory_lua_human", h(m.lua_vm));
    kv("used_memory_scripts_eval", m.lua_caches.to_string());
    kv("number_of_cached_scripts", "0".into());
    kv(
        "number_of_functions",
        srv.functions
            .functions_count
            .load(Ordering::Relaxed)
            .to_string(),
    );
    kv(
        "number_of_libraries",
        srv.functions
            .libraries_count
            .load(Ordering::Relaxed)
            .to_string(),
    );
    kv("used_memory_vm_functions", "0".into());
    kv("used_memory_vm_total", m.lua_vm.to_string());
    kv("used_memory_vm_total_human", h(m.lua_vm));
    kv("used_memory_functions", m.functions_caches.to_string());
    kv(
        "used_memory_scripts",
        (m.lua_caches + m.functions_caches).to_string(),
    );
    kv(
        "used_memory_scripts_human",
        h(m.lua_caches + m.functions_caches),
    );
    kv("maxmemory", maxmemory.to_string());
    kv("maxmemory_human", h(maxmemory));
    kv("maxmemory_policy", cfg.str("maxmemory-policy"));
    kv("allocator_frag_ratio", format!("{afr:.2}"));
    kv("allocator_frag_bytes", afb.to_string());
    kv("allocator_rss_ratio", format!("{arr:.2}"));
    kv("allocator_rss_bytes", arb.to_string());
    kv("rss_overhead_ratio", format!("{ror:.2}"));
    kv("rss_overhead_bytes", rob.to_string());
    kv("mem_fragmentation_ratio", format!("{mfr:.2}"));
    kv("mem_fragmentation_bytes", mfb.to_string());
    // The AOF buffer is not counted against maxmemory, as in Redis.
    kv("mem_not_counted_for_evict", m.aof_buffer.to_string());
    kv("mem_replication_backlog", "0".into());
    kv("mem_total_replication_buffers", "0".into());
    kv("mem_clients_slaves", "0".into());
    kv("mem_clients_normal", m.clients_normal.to_string());
    kv("mem_cluster_links", "0".into());
    kv("mem_aof_buffer", m.aof_buffer.to_string());
    kv("mem_allocator", crate::memory::allocator_name());
    kv("active_defrag_running", "0".into());
    kv(
        "lazyfree_pending_objects",
        crate::keyspace::lazyfree::pending().to_string(),
    );
    kv(
        "lazyfreed_objects",
        crate::keyspace::lazyfree::freed().to_string(),
    );
    s
}

/// INFO latencystats: `latency_percentiles_usec_<cmd>:p50=...` for every command with
/// recorded latencies, percentiles from `latency-tracking-info-percentiles`.
pub fn info_latencystats(srv: &Server) -> String {
    let mut s = String::from("# Latencystats\r\n");
    let ps = srv.latency.percentiles.read().clone();
    let names: Vec<String> = ps
        .iter()
        .map(|&p| crate::server::latency::fmt_percentile(p))
        .collect();
    let mut one = |c: &Command, parent: Option<&Command>| {
        let h = &c.stats.latency;
        if h.total() == 0 {
            return;
        }
        let vals: Vec<i64> = ps.iter().map(|&p| h.value_at_percentile(p)).collect();
        let _ = write!(
            s,
            "latency_percentiles_usec_{}:",
            safe_info(&super::table::full_name(c, parent))
        );
        for (i, (n, v)) in names.iter().zip(vals).enumerate() {
            if i > 0 {
                s.push(',');
            }
            let _ = write!(s, "p{n}={:.3}", v as f64 / 1000.0);
        }
        s.push_str("\r\n");
    };
    for c in srv.commands.all() {
        one(c, None);
        for sub in c.subcommands {
            one(sub, Some(c));
        }
    }
    s
}

/// INFO replaces characters that would break its line format.
fn safe_info(s: &str) -> String {
    s.chars()
        .map(|c| {
            if matches!(c, '#' | ':' | '\n' | '\r') {
                '_'
            } else {
                c
            }
        })
        .collect()
}

fn command_stats(out: &mut String, c: &Command, parent: Option<&Command>) {
    let calls = c.stats.calls.load(Ordering::Relaxed);
    let failed = c.stats.failed.load(Ordering::Relaxed);
    let rejected = c.stats.rejected.load(Ordering::Relaxed);
    if calls == 0 && failed == 0 && rejected == 0 {
        return;
    }
    let usec = c.stats.usec.load(Ordering::Relaxed);
    let per = if calls == 0 {
        0.0
    } else {
        usec as f64 / calls as f64
    };
    let _ = write!(
        out,
        "cmdstat_{}:calls={calls},usec={usec},usec_per_call={per:.2},rejected_calls={rejected},failed_calls={failed}\r\n",
        safe_info(&super::table::full_name(c, parent))
    );
}

fn info(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let text = info_string(ctx.srv, &argv[1..]);
    ctx.out.verbatim(text.as_bytes(), "txt");
    Ok(())
}

// ---------------------------------------------------------------- CONFIG

fn config_get(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let cfg = ctx.srv.config.read();
    // Insertion-ordered, de-duplicated by name.
    let mut out: Vec<(String, String)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for p in &argv[2..] {
        let pat = args::text(p);
        if !pat.contains(['*', '?', '[']) {
            if seen.contains(&pat) {
                continue;
            }
            if let Some(v) = cfg.get_display(&pat) {
                seen.insert(pat.clone());
                out.push((pat, v));
            }
            continue;
        }
        for (name, v) in cfg.matching(&pat) {
            if seen.insert(name.clone()) {
                out.push((name, v));
            }
        }
    }
    drop(cfg);
    ctx.out.map(out.len());
    for (k, v) in out {
        ctx.out.bulk(k.as_bytes());
        ctx.out.bulk(v.as_bytes());
    }
    Ok(())
}

fn set_failed(name: &str, reason: &str) -> RError {
    RError::owned(format!(
        "ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}"
    ))
}

/// CONFIG SET directive value [directive value ...]: all or nothing.
fn config_set(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    if !argv.len().is_multiple_of(2) {
        return Err(errors::SYNTAX);
    }
    let pairs: Vec<(String, String)> = argv[2..]
        .chunks(2)
        .map(|c| (args::text(c[0]), args::text(c[1])))
        .collect();
    let protected_ok = {
        let c = ctx.srv.config.read();
        let v = c.str("enable-protected-configs");
        v == "yes" || (v == "local" && ctx.client.info.addr.ip().is_loopback())
    };
    let mut unknown: Option<&str> = None;
    let mut failure: Option<RError> = None;
    let mut seen: Vec<String> = Vec::new();
    for (name, _) in &pairs {
        let Some(d) = crate::config::find(name) else {
            if failure.is_none() && unknown.is_none() {
                unknown = Some(name);
            }
            continue;
        };
        if failure.is_some() || unknown.is_some() {
            continue;
        }
        let lower = name.to_ascii_lowercase();
        if !d.mutable {
            failure = Some(set_failed(name, "can't set immutable config"));
        } else if crate::config::is_protected(d.name) && !protected_ok {
            failure = Some(set_failed(name, "can't set protected config"));
        } else if seen.contains(&lower) {
            failure = Some(set_failed(name, "duplicate parameter"));
        }
        seen.push(lower);
    }
    if let Some(name) = unknown {
        return Err(RError::owned(format!(
            "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
        )));
    }
    if let Some(e) = failure {
        return Err(e);
    }
    let mut new_cfg = ctx.srv.config.read().clone();
    for (name, value) in &pairs {
        new_cfg
            .set(name, std::slice::from_ref(value), true)
            .map_err(|reason| set_failed(name, &reason))?;
    }
    let names: Vec<&str> = pairs
        .iter()
        .filter_map(|(n, _)| crate::config::find(n).map(|d| d.name))
        .collect();
    crate::server::tls::apply_config(ctx.srv, &names, &new_cfg)
        .map_err(|(name, reason)| set_failed(&name, &reason))?;
    let loglevel = new_cfg.str("loglevel");
    *ctx.srv.config.write() = new_cfg;
    ctx.srv.refresh_hot();
    crate::persistence::aof::config_changed(ctx.srv);
    log::set_level(&loglevel);
    ctx.out.ok();
    Ok(())
}

fn config_resetstat(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    reset_stats(ctx.srv);
    ctx.out.ok();
    Ok(())
}

/// CONFIG RESETSTAT: zeroes the counters INFO reports.
pub fn reset_stats(srv: &Server) {
    crate::keyspace::lazyfree::reset_stats();
    let zero = |c: &Command| {
        c.stats.calls.store(0, Ordering::Relaxed);
        c.stats.usec.store(0, Ordering::Relaxed);
        c.stats.rejected.store(0, Ordering::Relaxed);
        c.stats.failed.store(0, Ordering::Relaxed);
        c.stats.latency.reset();
    };
    for c in srv.commands.all() {
        zero(c);
        for s in c.subcommands {
            zero(s);
        }
    }
    ERROR_STATS.lock().clear();
    let st = &srv.stats;
    for a in [
        &st.total_connections_received,
        &st.total_commands_processed,
        &st.rejected_connections,
        &st.net_input_bytes,
        &st.net_output_bytes,
        &st.total_error_replies,
        &st.unexpected_error_replies,
        &st.expired_keys_active,
        &st.expire_cycle_cpu_ms,
    ] {
        a.store(0, Ordering::Relaxed);
    }
    for db in srv.ks.dbs.iter() {
        for s in db.shards.iter() {
            let mut s = s.lock();
            s.hits = 0;
            s.misses = 0;
            s.expired = 0;
        }
    }
    srv.mem_peak
        .store(crate::memory::used_memory(), Ordering::Relaxed);
    *OPS_SAMPLE.lock() = (0, 0, 0);
}

fn config_rewrite(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let cfg = ctx.srv.config.read().clone();
    let Some(path) = cfg.file.clone() else {
        return Err(RError::raw(
            "ERR The server is running without a config file",
        ));
    };
    let text = cfg.rewrite_text(&std::fs::read_to_string(&path).unwrap_or_default());
    let text = crate::acl::file::rewrite_users(ctx.srv, &cfg.str("aclfile"), &text);
    let tmp = format!("{path}.tmp-{}", std::process::id());
    let res = std::fs::write(&tmp, text).and_then(|_| std::fs::rename(&tmp, &path));
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        log::warning(&format!("CONFIG REWRITE failed: {e}"));
        return Err(RError::owned(format!("ERR Rewriting config file: {e}")));
    }
    log::notice("CONFIG REWRITE executed with success.");
    ctx.out.ok();
    Ok(())
}

fn config_help(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    super::client::help_reply(
        ctx,
        "CONFIG",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    );
    Ok(())
}

// ---------------------------------------------------------------- TIME, LASTSAVE

fn time(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let us = now_us();
    ctx.out.array(2);
    ctx.out.bulk_int((us / 1_000_000) as i64);
    ctx.out.bulk_int((us % 1_000_000) as i64);
    Ok(())
}

fn lastsave(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    ctx.out.int(ctx.srv.lastsave.load(Ordering::Relaxed) as i64);
    Ok(())
}

// ---------------------------------------------------------------- DEBUG

/// C's `atof`: the longest numeric prefix, 0 when there is none.
fn atof(s: &[u8]) -> f64 {
    let mut i = 0;
    while i < s.len() && s[i].is_ascii_whitespace() {
        i += 1;
    }
    let start = i;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let from = *i;
        while *i < s.len() && s[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > from
    };
    let mut any = digits(&mut i);
    if i < s.len() && s[i] == b'.' {
        i += 1;
        any |= digits(&mut i);
    }
    if !any {
        return 0.0;
    }
    let mantissa_end = i;
    if i < s.len() && (s[i] == b'e' || s[i] == b'E') {
        let mut j = i + 1;
        if j < s.len() && (s[j] == b'+' || s[j] == b'-') {
            j += 1;
        }
        if digits(&mut j) {
            i = j;
        }
    }
    let parse = |end: usize| {
        std::str::from_utf8(&s[start..end])
            .ok()
            .and_then(|t| t.parse::<f64>().ok())
    };
    let v = parse(i).or_else(|| parse(mantissa_end)).unwrap_or(0.0);
    if v.is_finite() {
        v
    } else {
        0.0
    }
}

/// Redis 7 refuses DEBUG unless `enable-debug-command` is `yes`, or `local` and the
/// client is on a loopback address.
fn debug_allowed(ctx: &Ctx) -> bool {
    match ctx.srv.config.read().str("enable-debug-command").as_str() {
        "yes" => true,
        "local" => ctx.client.info.addr.ip().is_loopback(),
        _ => false,
    }
}

fn debug(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    if !debug_allowed(ctx) {
        return Err(RError::raw(
            "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.",
        ));
    }
    let sub = argv[1];
    if args::is(sub, "help") && argv.len() == 2 {
        super::client::help_reply(
            ctx,
            "DEBUG",
            &[
                "ERROR <string>",
                "    Reply with an error whose text (code included) is <string>.",
                "PROTOCOL <type>",
                "    Reply with a test value of the specified type. <type> can be: string,",
                "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
                "    true, false.",
                "SET-ACTIVE-EXPIRE <0|1>",
                "    Setting it to 0 disables expiring keys in background when they are not",
                "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
                "    default.",
                "SLEEP <seconds>",
                "    Stop the server for <seconds>. Decimals allowed.",
            ],
        );
        return Ok(());
    }
    if args::is(sub, "protocol") && argv.len() == 3 {
        return debug_protocol(ctx, argv[2]);
    }
    if args::is(sub, "set-active-expire") && argv.len() == 3 {
        let on = atof(argv[2]) as i64 != 0;
        ctx.srv.active_expire.store(on, Ordering::Relaxed);
        ctx.out.ok();
        return Ok(());
    }
    if args::is(sub, "error") && argv.len() == 3 {
        // The argument is the whole error line, code included ("LOADING fake message"):
        // client libraries' tests use it to fake server errors. Like Redis, it is not
        // counted in the error statistics (INFO errorstats, failed calls).
        let mut line = Vec::with_capacity(argv[2].len() + 3);
        line.push(b'-');
        line.extend(
            argv[2]
                .iter()
                .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }),
        );
        line.extend_from_slice(b"\r\n");
        ctx.out.raw(&line);
        return Ok(());
    }
    if args::is(sub, "populate") && (3..=5).contains(&argv.len()) {
        return debug_populate(ctx, argv);
    }
    if args::is(sub, "sleep") && argv.len() == 3 {
        let secs = atof(argv[2]);
        if secs > 0.0 {
            let d = std::time::Duration::from_secs_f64(secs.min(1e9));
            std::thread::sleep(d);
        }
        ctx.out.ok();
        return Ok(());
    }
    Err(RError::owned(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
        args::text(sub)
    )))
}

/// DEBUG POPULATE count [prefix] [size]: creates `prefix:N` (default `key:N`) keys with
/// value `value:N` (zero-padded or cut to `size` bytes), skipping existing keys, as
/// Redis's tests and benchmarks use it. Holds the database's shards while it runs.
fn debug_populate(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let positive = |a: &[u8]| -> Result<u64, RError> {
        match crate::util::num::parse_i64(a) {
            Some(n) if n >= 0 => Ok(n as u64),
            _ => Err(RError::raw("ERR value is out of range, must be positive")),
        }
    };
    let keys = positive(argv[2])?;
    let size = match argv.get(4) {
        Some(a) => positive(a)? as usize,
        None => 0,
    };
    let prefix: &[u8] = argv.get(3).copied().unwrap_or(b"key");
    let db = ctx.db();
    ctx.txn.lock_db(db);
    let mut key = Vec::with_capacity(prefix.len() + 21);
    for j in 0..keys {
        key.clear();
        key.extend_from_slice(prefix);
        key.push(b':');
        key.extend_from_slice(j.to_string().as_bytes());
        if ctx.txn.exists(db, &key) {
            continue;
        }
        let text = format!("value:{j}");
        let value = if size == 0 {
            crate::types::StrValue::from_bytes(text.as_bytes())
        } else {
            let mut v = vec![0u8; size];
            let n = size.min(text.len());
            v[..n].copy_from_slice(&text.as_bytes()[..n]);
            crate::types::StrValue::from_bytes(&v)
        };
        ctx.txn
            .set(db, &key, crate::types::Value::Str(value), false);
    }
    // Redis does not count these as changes.
    ctx.txn.dirty = 0;
    ctx.out.ok();
    Ok(())
}

/// DEBUG PROTOCOL <type>: a sample reply of each RESP type (client library tests).
fn debug_protocol(ctx: &mut Ctx, name: &[u8]) -> CmdResult {
    let out = &mut *ctx.out;
    let resp3 = out.is_resp3();
    let n = name.to_ascii_lowercase();
    match n.as_slice() {
        b"string" => out.bulk(b"Hello World"),
        b"integer" => out.int(12345),
        b"double" => {
            if resp3 {
                out.raw(b",3.141\r\n");
            } else {
                out.bulk(b"3.141");
            }
        }
        b"bignum" => {
            let v = b"1234567999999999999999999999999999999";
            if resp3 {
                out.raw(b"(");
                out.raw(v);
                out.raw(b"\r\n");
            } else {
                out.bulk(v);
            }
        }
        b"null" => out.null(),
        b"array" | b"set" => {
            if n == b"set" {
                out.set(3);
            } else {
                out.array(3);
            }
            for j in 0..3 {
                out.int(j);
            }
        }
        b"map" => {
            out.map(3);
            for j in 0..3 {
                out.int(j);
                out.boolean(j == 1);
            }
        }
        b"attrib" => {
            if resp3 {
                out.raw(b"|1\r\n");
                out.bulk(b"key-popularity");
                out.array(2);
                out.bulk(b"key:123");
                out.int(90);
            }
            out.bulk(b"Some real reply following the attribute");
        }
        b"push" => {
            if !resp3 {
                return Err(RError::raw("ERR RESP2 is not supported by this command"));
            }
            out.push(2);
            out.bulk(b"server-cpu-usage");
            out.int(42);
            out.bulk(b"Some real reply following the push reply");
        }
        b"verbatim" => out.verbatim(b"This is a verbatim\nstring", "txt"),
        b"true" => out.boolean(true),
        b"false" => out.boolean(false),
        _ => return Err(RError::raw("ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false")),
    }
    Ok(())
}

// ---------------------------------------------------------------- SHUTDOWN

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]
fn shutdown(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let mut req = ShutdownRequest::default();
    let mut abort = false;
    let mut nosave = false;
    let mut save = false;
    for a in &argv[1..] {
        if args::is(a, "nosave") {
            nosave = true;
        } else if args::is(a, "save") {
            save = true;
        } else if args::is(a, "now") {
            req.now = true;
        } else if args::is(a, "force") {
            req.force = true;
        } else if args::is(a, "abort") {
            abort = true;
        } else {
            return Err(errors::SYNTAX);
        }
    }
    if (abort && (nosave || save || req.now || req.force)) || (nosave && save) {
        return Err(errors::SYNTAX);
    }
    if abort {
        // Shutdown is immediate in Ferrodis: there is never one in progress to abort.
        return Err(RError::raw("ERR No shutdown in progress."));
    }
    req.save = if save {
        Some(true)
    } else if nosave {
        Some(false)
    } else {
        None
    };
    ctx.srv.request_shutdown(req);
    // Redis does not reply to a successful SHUTDOWN: the connection just closes.
    ctx.client.close_after_reply = true;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_bytes() {
        assert_eq!(bytes_to_human(0), "0B");
        assert_eq!(bytes_to_human(1023), "1023B");
        assert_eq!(bytes_to_human(1024), "1.00K");
        assert_eq!(bytes_to_human(1215176), "1.16M");
        assert_eq!(bytes_to_human(25276063744), "23.54G");
    }

    #[test]
    fn atof_prefix() {
        assert_eq!(atof(b"abc"), 0.0);
        assert_eq!(atof(b"0.5"), 0.5);
        assert_eq!(atof(b"1.5xyz"), 1.5);
        assert_eq!(atof(b""), 0.0);
    }

    #[test]
    fn section_selection() {
        let s = Selection::parse(&[]);
        assert!(s.wants("server") && s.wants("keyspace") && !s.wants("commandstats"));
        let s = Selection::parse(&[b"ALL"]);
        assert!(s.wants("commandstats") && s.wants("latencystats"));
        let s = Selection::parse(&[b"CPU", b"clients"]);
        assert!(s.wants("cpu") && s.wants("clients") && !s.wants("server"));
    }
}
