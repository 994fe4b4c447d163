//! `maxmemory` and eviction, as Redis's evict.c.
//!
//! Before each command (when `maxmemory` is set) the dispatcher asks [`before_command`]
//! whether memory is over the limit. If it is, keys are evicted according to
//! `maxmemory-policy` until the estimate is back under it; a command flagged `denyoom`
//! is refused with `-OOM ...` only when nothing can be evicted (noeviction, or no
//! candidate key). Like Redis, eviction stops after a short time budget and the next
//! command continues it, so one client never waits long.
//!
//! Candidates are chosen Redis's way: `maxmemory-samples` random keys per database go
//! into a pool of the 16 best candidates kept between calls (longest idle for LRU,
//! lowest decayed counter for LFU, nearest expiry for volatile-ttl), and the best one
//! is evicted. Memory is the allocator's `allocated` figure, refreshed at most once a
//! millisecond, minus an estimate of what was freed since.

use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rand::Rng;

use crate::keyspace::{access_clock, Txn, SHARDS};
use crate::server::Server;
use crate::util::time::now_ms;

/// Redis's text for a refused command.
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// Redis's EVPOOL_SIZE.
const POOL_SIZE: usize = 16;
/// Time one call may spend evicting (Redis's default tenacity gives about 500 µs).
const BUDGET: Duration = Duration::from_micros(500);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Policy {
    NoEviction = 0,
    AllKeysLru,
    AllKeysLfu,
    AllKeysRandom,
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
}

impl Policy {
    fn parse(s: &str) -> Policy {
        match s {
            "allkeys-lru" => Policy::AllKeysLru,
            "allkeys-lfu" => Policy::AllKeysLfu,
            "allkeys-random" => Policy::AllKeysRandom,
            "volatile-lru" => Policy::VolatileLru,
            "volatile-lfu" => Policy::VolatileLfu,
            "volatile-random" => Policy::VolatileRandom,
            "volatile-ttl" => Policy::VolatileTtl,
            _ => Policy::NoEviction,
        }
    }

    fn from_u8(v: u8) -> Policy {
        match v {
            1 => Policy::AllKeysLru,
            2 => Policy::AllKeysLfu,
            3 => Policy::AllKeysRandom,
            4 => Policy::VolatileLru,
            5 => Policy::VolatileLfu,
            6 => Policy::VolatileRandom,
            7 => Policy::VolatileTtl,
            _ => Policy::NoEviction,
        }
    }

    fn volatile(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }

    fn random(self) -> bool {
        matches!(self, Policy::AllKeysRandom | Policy::VolatileRandom)
    }
}

/// A key that may be evicted, with its score (higher: evict first).
struct Candidate {
    score: u64,
    db: usize,
    key: Box<[u8]>,
}

#[derive(Default)]
pub struct Evictor {
    maxmemory: AtomicU64,
    policy: AtomicU8,
    samples: AtomicUsize,
    /// `used_memory` as last read, minus what was evicted since.
    used: AtomicU64,
    /// Unix ms of the last read of the allocator's statistics.
    read_ms: AtomicU64,
    /// The candidate pool; its lock also makes evictions one at a time.
    pool: Mutex<Vec<Candidate>>,
    /// Round-robin database for the random policies.
    next_db: AtomicUsize,
    /// INFO evicted_keys.
    pub evicted: AtomicU64,
    /// The last check found memory over the limit and nothing to evict (Redis's
    /// `pre_command_oom_state`, read by scripts).
    stuck: std::sync::atomic::AtomicBool,
    /// Databases with keys / with volatile keys, as of `Dbs::at` (refreshed every
    /// 100 ms while evicting, so empty databases cost nothing to sample).
    dbs: Mutex<Dbs>,
}

#[derive(Default)]
struct Dbs {
    at: Option<Instant>,
    with_keys: Vec<usize>,
    with_volatile: Vec<usize>,
}

/// The databases worth sampling for `policy`.
fn candidate_dbs(srv: &Server, policy: Policy) -> Vec<usize> {
    let mut d = srv.evict.dbs.lock();
    if d.at
        .is_none_or(|t| t.elapsed() > Duration::from_millis(100))
    {
        d.with_keys.clear();
        d.with_volatile.clear();
        for db in 0..srv.ks.num_dbs() {
            let (mut keys, mut volatile) = (0, 0);
            for s in 0..SHARDS {
                let shard = srv.ks.dbs[db].shards[s].lock();
                keys += shard.dict.len();
                volatile += shard.volatile;
            }
            if keys > 0 {
                d.with_keys.push(db);
            }
            if volatile > 0 {
                d.with_volatile.push(db);
            }
        }
        d.at = Some(Instant::now());
    }
    if policy.volatile() {
        d.with_volatile.clone()
    } else {
        d.with_keys.clone()
    }
}

impl Evictor {
    /// Applies `maxmemory`, `maxmemory-policy`, `maxmemory-samples`.
    pub fn configure(&self, maxmemory: u64, policy: &str, samples: usize) {
        self.maxmemory.store(maxmemory, Ordering::Relaxed);
        self.policy
            .store(Policy::parse(policy) as u8, Ordering::Relaxed);
        self.samples.store(samples.max(1), Ordering::Relaxed);
        self.pool.lock().clear();
        self.read_ms.store(0, Ordering::Relaxed);
    }

    /// Whether `maxmemory` is set.
    #[inline]
    pub fn enabled(&self) -> bool {
        self.maxmemory.load(Ordering::Relaxed) != 0
    }

    /// Whether the last check before a command found memory over the limit with
    /// nothing to evict.
    pub fn stuck(&self) -> bool {
        self.enabled() && self.stuck.load(Ordering::Relaxed)
    }

    pub fn policy(&self) -> Policy {
        Policy::from_u8(self.policy.load(Ordering::Relaxed))
    }

    /// Memory in use, read from the allocator at most once a millisecond.
    fn used_now(&self) -> u64 {
        let now = now_ms();
        let last = self.read_ms.load(Ordering::Relaxed);
        if now != last
            && self
                .read_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let u = crate::memory::used_memory();
            self.used.store(u, Ordering::Relaxed);
            return u;
        }
        self.used.load(Ordering::Relaxed)
    }
}

/// Before running a command: evicts if memory is over `maxmemory`; returns the OOM
/// error text when the command must be refused (`denyoom`: it may grow memory) and
/// nothing can be evicted. The caller holds the gate shared and no shard lock.
#[inline]
pub fn before_command(srv: &Server, denyoom: bool) -> Option<&'static str> {
    let max = srv.evict.maxmemory.load(Ordering::Relaxed);
    if max == 0 {
        return None;
    }
    // Nothing is evicted during CLIENT PAUSE (as Redis's performEvictions).
    if srv.pause.active() && srv.pause.suspends_expiry(srv) {
        return None;
    }
    before_command_slow(srv, denyoom, max)
}

#[cold]
fn before_command_slow(srv: &Server, denyoom: bool, max: u64) -> Option<&'static str> {
    let ev = &srv.evict;
    let used = ev.used_now();
    if used <= max {
        ev.stuck.store(false, Ordering::Relaxed);
        return None;
    }
    let ok = ev.policy() != Policy::NoEviction && evict(srv, used - max);
    ev.stuck.store(!ok, Ordering::Relaxed);
    if !ok && denyoom {
        return Some(OOM);
    }
    None
}

/// Evicts keys until about `need` bytes are freed or the time budget is spent.
/// Returns false if nothing could be evicted.
fn evict(srv: &Server, need: u64) -> bool {
    let ev = &srv.evict;
    // One evicting thread at a time; the others go ahead (memory is being freed).
    let Some(mut pool) = ev.pool.try_lock() else {
        return true;
    };
    let policy = ev.policy();
    let lazy = srv.config.read().bool("lazyfree-lazy-eviction");
    let started = Instant::now();
    let mut freed = 0u64;
    let mut any = false;
    while freed < need {
        let picked = if policy.random() {
            random_key(srv, policy).map(|(db, key)| (db, key, None))
        } else {
            fill_pool(srv, policy, &mut pool);
            best_from_pool(&mut pool).map(|(db, key, score)| (db, key, Some(score)))
        };
        let Some((db, key, sampled)) = picked else {
            break;
        };
        let del_started = Instant::now();
        if let Some(bytes) = evict_key(srv, policy, db, &key, sampled, lazy) {
            freed += bytes;
            any = true;
        }
        srv.latency
            .add_if_needed("eviction-del", del_started.elapsed().as_millis() as u64);
        if started.elapsed() > BUDGET {
            // The next command continues.
            any = true;
            break;
        }
    }
    srv.latency
        .add_if_needed("eviction-cycle", started.elapsed().as_millis() as u64);
    let _ = ev
        .used
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
            Some(u.saturating_sub(freed))
        });
    any || freed >= need
}

/// Score of an entry for the pool (higher: evict first).
fn score(srv: &Server, policy: Policy, e: &crate::keyspace::Entry, now: u64) -> u64 {
    match policy {
        Policy::AllKeysLfu | Policy::VolatileLfu => 255 - srv.ks.access.counter(e.lru, now) as u64,
        Policy::VolatileTtl => u64::MAX - e.expire(),
        _ => access_clock(now).wrapping_sub(e.lru) as u64,
    }
}

/// Adds `maxmemory-samples` random keys of each database to the pool.
fn fill_pool(srv: &Server, policy: Policy, pool: &mut Vec<Candidate>) {
    let samples = srv.evict.samples.load(Ordering::Relaxed);
    let now = now_ms();
    let mut rng = rand::thread_rng();
    let ks = &srv.ks;
    for db in candidate_dbs(srv, policy) {
        let mut got = 0;
        let mut tries = 0;
        while got < samples && tries < samples * 8 {
            tries += 1;
            let s = rng.gen_range(0..SHARDS);
            let shard = ks.dbs[db].shards[s].lock();
            if shard.dict.is_empty() || (policy.volatile() && shard.volatile == 0) {
                continue;
            }
            let Some((k, e)) = shard.dict.random(|| rng.gen()) else {
                continue;
            };
            if policy.volatile() && e.expire() == 0 {
                continue;
            }
            got += 1;
            let sc = score(srv, policy, &e, now);
            if pool.iter().any(|c| c.db == db && *c.key == *k) {
                continue;
            }
            if pool.len() >= POOL_SIZE {
                // Full: replace the worst candidate if this one is better.
                let (worst, wscore) = pool
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (i, c.score))
                    .min_by_key(|&(_, s)| s)
                    .unwrap_or((0, u64::MAX));
                if sc <= wscore {
                    continue;
                }
                pool.swap_remove(worst);
            }
            pool.push(Candidate {
                score: sc,
                db,
                key: k.into(),
            });
        }
    }
}

fn best_from_pool(pool: &mut Vec<Candidate>) -> Option<(usize, Box<[u8]>, u64)> {
    let (i, _) = pool.iter().enumerate().max_by_key(|(_, c)| c.score)?;
    let c = pool.swap_remove(i);
    Some((c.db, c.key, c.score))
}

/// A random key (of a database taken in turn), for the random policies.
fn random_key(srv: &Server, policy: Policy) -> Option<(usize, Box<[u8]>)> {
    let ks = &srv.ks;
    let dbs = candidate_dbs(srv, policy);
    let mut rng = rand::thread_rng();
    for _ in 0..dbs.len() {
        let i = srv.evict.next_db.fetch_add(1, Ordering::Relaxed) % dbs.len();
        let db = dbs[i];
        for _ in 0..SHARDS * 2 {
            let s = rng.gen_range(0..SHARDS);
            let shard = ks.dbs[db].shards[s].lock();
            if shard.dict.is_empty() || (policy.volatile() && shard.volatile == 0) {
                continue;
            }
            for _ in 0..16 {
                if let Some((k, e)) = shard.dict.random(|| rng.gen()) {
                    if !policy.volatile() || e.expire() != 0 {
                        return Some((db, k.into()));
                    }
                }
            }
        }
    }
    None
}

/// Deletes `key` (if it still qualifies) as an eviction: `evicted` event, client
/// tracking invalidation, INFO counter. Returns an estimate of the bytes freed.
fn evict_key(
    srv: &Server,
    policy: Policy,
    db: usize,
    key: &[u8],
    sampled: Option<u64>,
    lazy: bool,
) -> Option<u64> {
    let now = now_ms();
    let mut txn = Txn::shared(&srv.ks, now);
    txn.lock_keys(db, std::iter::once(key));
    let bytes = {
        let e = txn.peek(db, key)?;
        if policy.volatile() && e.expire() == 0 {
            return None;
        }
        // A pool candidate used (or given a later TTL) since it was sampled is no
        // longer the one to evict: it leaves the pool and the next best goes.
        // Redis evicts it on its stale score; checking costs nothing here, under
        // the lock the eviction takes anyway.
        if sampled.is_some_and(|s| score(srv, policy, e, now) < s) {
            return None;
        }
        e.value.heap_size() as u64 + crate::keyspace::table::node_size(key, e) as u64
    };
    let old = txn.remove(db, key)?;
    // With lazyfree-lazy-eviction the memory is returned a little later, as in Redis.
    old.free(lazy);
    // Propagated as DEL (keys the lookup found expired too), under the shard lock.
    if srv.aof.on.load(Ordering::Relaxed) {
        let mut ops: Vec<crate::server::propagate::Op> = txn
            .expired
            .iter()
            .map(|x| (x.db, vec![b"DEL".to_vec(), x.key.to_vec()]))
            .collect();
        ops.push((db, vec![b"DEL".to_vec(), key.to_vec()]));
        for op in ops {
            srv.aof.feed(std::slice::from_ref(&op), false);
        }
    }
    txn.notify(crate::config::notify::EVICTED, "evicted", db, key);
    let events = std::mem::take(&mut txn.events);
    for ev in &events {
        crate::server::notify::publish(srv, ev, None);
    }
    crate::server::tracking::expired(srv, key);
    drop(txn);
    srv.evict.evicted.fetch_add(1, Ordering::Relaxed);
    Some(bytes)
}
