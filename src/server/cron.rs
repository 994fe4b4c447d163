//! Background jobs, run by a dedicated thread `hz` times per second (Redis's
//! `serverCron`): the active expiry cycle and memory-peak tracking.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::keyspace::expire::{active_expire_cycle_full, ExpireCursor};
use crate::server::Server;
use crate::util::time::now_ms;

/// Share of each cron period the expiry cycle may use (Redis: 25%).
const EXPIRE_CPU_PCT: u32 = 25;

pub fn spawn(srv: Arc<Server>) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("ferrodis-cron".into())
        .spawn(move || run(srv))
}

fn run(srv: Arc<Server>) {
    let mut cursor = ExpireCursor::default();
    let mut last_mem_sample = Instant::now();
    while !srv.shutting_down.load(Ordering::Relaxed) {
        let hz = srv.config.read().int("hz").clamp(1, 500) as u32;
        let period = Duration::from_secs(1) / hz;
        let started = Instant::now();
        let budget = period * EXPIRE_CPU_PCT / 100;
        // No active expiry during CLIENT PAUSE (see `server::pause`).
        let stats = if srv.active_expire.load(Ordering::Relaxed) && !srv.pause.suspends_expiry(&srv)
        {
            active_expire_cycle_full(
                &srv.ks,
                &mut cursor,
                now_ms,
                budget,
                &mut |db, key| {
                    crate::server::tracking::expired(&srv, &key);
                    // Propagation of the DEL will hook in here too.
                    if srv.ks.notifies(crate::config::notify::EXPIRED) {
                        let ev = crate::keyspace::Event {
                            class: crate::config::notify::EXPIRED,
                            name: "expired",
                            db,
                            key,
                            at: usize::MAX,
                        };
                        crate::server::notify::publish(&srv, &ev, None);
                    }
                },
                &mut |db, key, emptied| {
                    // Redis 7.4's active field expiry: `hexpired` per hash, then `del`
                    // for a hash left empty.
                    use crate::config::notify::{GENERIC, HASH};
                    // The hash changed: cached copies are stale.
                    crate::server::tracking::expired(&srv, &key);
                    let hexpired = crate::keyspace::Event {
                        class: HASH,
                        name: "hexpired",
                        db,
                        key: key.clone(),
                        at: usize::MAX,
                    };
                    crate::server::notify::publish(&srv, &hexpired, None);
                    if emptied {
                        let del = crate::keyspace::Event {
                            class: GENERIC,
                            name: "del",
                            db,
                            key,
                            at: usize::MAX,
                        };
                        crate::server::notify::publish(&srv, &del, None);
                    }
                },
                &mut |db, removed| {
                    // Propagated as DELs under the shard lock (see `server::propagate`).
                    if srv.aof.on.load(Ordering::Relaxed) {
                        let ops: Vec<crate::server::propagate::Op> = removed
                            .iter()
                            .map(|r| (db, vec![b"DEL".to_vec(), r.key().to_vec()]))
                            .collect();
                        for op in ops {
                            srv.aof.feed(std::slice::from_ref(&op), false);
                        }
                    }
                },
            )
        } else {
            Default::default()
        };
        srv.latency
            .add_if_needed("expire-cycle", started.elapsed().as_millis() as u64);
        crate::server::tracking::broadcast(&srv, None);
        crate::persistence::aof::cron(&srv);
        // Save points and scheduled BGSAVEs.
        crate::persistence::bgsave::cron(&srv);
        crate::server::blocking::serve_expired_streams(&srv, stats.streams_gone);
        if stats.expired > 0 {
            srv.stats
                .expired_keys_active
                .fetch_add(stats.expired, Ordering::Relaxed);
            srv.stats.dirty.fetch_add(stats.expired, Ordering::Relaxed);
        }
        srv.stats
            .expire_cycle_cpu_ms
            .fetch_add(started.elapsed().as_millis() as u64, Ordering::Relaxed);
        // Refreshing jemalloc's statistics merges every arena's counters: cheap once a
        // second, wasteful ten times a second.
        if last_mem_sample.elapsed() >= Duration::from_secs(1) {
            last_mem_sample = Instant::now();
            srv.mem_peak
                .fetch_max(crate::memory::used_memory(), Ordering::Relaxed);
        }
        // When the cycle ran out of time there is more to expire: go again sooner.
        let sleep = if stats.timed_out {
            period / 4
        } else {
            period.saturating_sub(started.elapsed())
        };
        std::thread::sleep(sleep);
    }
}
