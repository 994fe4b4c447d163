//! The keyspace: 16 (configurable) logical databases, each split into shards that are
//! locked independently, with TTLs, lazy expiry on access and an active expiry cycle.
//!
//! ## Concurrency model
//!
//! * Every database is split into [`SHARDS`] shards, each a [`Table`] behind its own
//!   mutex. A key's shard is chosen by the top bits of its hash.
//! * A global reader/writer **gate** sits above all shards. Ordinary commands run while
//!   holding the gate *shared*; they lock the shards of the keys they declare (the
//!   command table knows the key positions) **in ascending order**, all at once, before
//!   running. So two commands on independent keys never wait for each other, a
//!   multi-key command (MSET, RENAME, ...) is atomic, and there can be no deadlock.
//! * Commands that touch keys nobody can know in advance (MULTI/EXEC, Lua scripts,
//!   FLUSHALL, SWAPDB, MOVE) hold the gate *exclusively*: nothing else runs meanwhile,
//!   exactly Redis's semantics, and they may lock any shard on demand.
//!
//! [`Txn`] is the locked view a command works through: it owns the shard guards for
//! the duration of one command and implements lookups with lazy expiry, writes that
//! keep the per-shard volatile-key counters right, and statistics.

pub mod blocking;
pub mod dict;
pub mod expire;
pub mod lazyfree;
pub mod lfu;
pub mod snapshot;
pub mod table;
pub mod watch;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard, RwLock};
use smallvec::SmallVec;

pub use blocking::Waiter;
pub use dict::Dict;
pub use table::{EntryRef, Removed, Slot, Table};
pub use watch::{Modified, Watcher};

use crate::types::Value;

/// log2 of the number of shards per database.
pub const SHARD_BITS: u32 = 7;
/// Shards per database.
pub const SHARDS: usize = 1 << SHARD_BITS;

/// What is stored under a key.
#[repr(C)]
pub struct Entry {
    /// Access clock or LFU data (see `lfu.rs`), for OBJECT IDLETIME/FREQ and eviction.
    pub lru: u32,
    /// Snapshot mark (see `snapshot.rs`): equal to the keyspace's parity once the
    /// running snapshot has this entry (or the entry is newer than the snapshot).
    snap: u8,
    /// The node kind `table.rs` reads at this position of every node; always "general"
    /// in an `Entry` (the other kinds have no `Entry`).
    kind: u8,
    _len: u16,
    /// Absolute expiry in Unix milliseconds; 0 means no TTL. Private so the shard's
    /// volatile-key count stays exact: change it through [`Txn::set_expire`].
    expire: u64,
    pub value: Value,
}

impl Entry {
    fn new(value: Value, expire: u64, lru: u32, snap: u8) -> Entry {
        Entry {
            lru,
            snap,
            kind: 0,
            _len: 0,
            expire,
            value,
        }
    }

    pub fn expire(&self) -> u64 {
        self.expire
    }
}

/// One shard of a database.
#[derive(Default)]
pub struct Shard {
    pub dict: Table,
    /// Number of entries with a TTL (drives active expiry effort).
    pub volatile: usize,
    /// Where the active expiry cycle resumes in this shard.
    pub expire_cursor: u64,
    /// keyspace_hits / keyspace_misses / expired_keys, counted under the shard lock
    /// (no shared cache line is written on the hot path).
    pub hits: u64,
    pub misses: u64,
    pub expired: u64,
    /// Keys whose hash has (or had) field TTLs, walked by the active expiry cycle to
    /// reclaim expired hash fields nobody touches (see `expire.rs`). Stale names are
    /// dropped by the cycle.
    pub hfe: Dict<()>,
    /// Where the hash-field expiry walk resumes in `hfe`.
    pub hfe_cursor: u64,
    /// Clients blocked on keys of this shard, FIFO per key (see `blocking.rs`). These
    /// belong to the database number, not to the data: SWAPDB leaves them in place.
    pub waiters: HashMap<Box<[u8]>, VecDeque<Arc<Waiter>>, ahash::RandomState>,
    /// Clients WATCHing keys of this shard (see `watch.rs`); like waiters, they stay
    /// with the database number on SWAPDB.
    pub watched: HashMap<Box<[u8]>, Vec<Arc<Watcher>>, ahash::RandomState>,
}

impl Shard {
    /// Flags the clients watching `key` (a change to it is being made).
    #[inline]
    pub fn touch_watched(&mut self, key: &[u8]) {
        if self.watched.is_empty() {
            return;
        }
        if let Some(list) = self.watched.get(key) {
            for w in list {
                w.touch();
            }
        }
    }

    /// Flags the watchers of every watched key that currently exists (FLUSHDB,
    /// SWAPDB), with `rehash` the keyspace hash function.
    pub fn touch_existing_watched(&mut self, hash: &dyn Fn(&[u8]) -> u64) {
        for (k, list) in self.watched.iter() {
            if self.dict.contains(hash(k), k) {
                for w in list {
                    w.touch();
                }
            }
        }
    }

    /// Registers `key` (hashed with `h`) as a hash with field TTLs.
    pub fn track_field_ttls(&mut self, h: u64, key: &[u8], rehash: &dyn Fn(&[u8]) -> u64) {
        if self.hfe.get(h, key).is_none() {
            self.hfe.insert_new(h, key.into(), (), rehash);
        }
    }
}

pub struct Db {
    pub shards: Box<[Mutex<Shard>]>,
    /// Whether the active expiry cycle has work in this database: set (under the shard
    /// lock) whenever a key gets a TTL or a hash gets field TTLs, cleared by the cycle
    /// at the start of a pass over the database and set again by it while a shard it
    /// visits still has either. A database without TTLs then costs the cycle one load
    /// instead of locking its 128 shards twice, ten times a second, on the core that
    /// serves clients (0.4 ms per cycle with 16 empty databases).
    expiry_hint: AtomicBool,
}

impl Db {
    fn new() -> Db {
        Db {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            expiry_hint: AtomicBool::new(true),
        }
    }

    /// Notes that a shard of this database has a key with a TTL or a hash with field
    /// TTLs (called with that shard locked).
    #[inline]
    pub fn hint_expiry(&self) {
        if !self.expiry_hint.load(Ordering::Relaxed) {
            self.expiry_hint.store(true, Ordering::Release);
        }
    }

    /// Clears the hint at the start of the expiry cycle's pass over this database;
    /// returns whether it was set.
    pub fn take_expiry_hint(&self) -> bool {
        self.expiry_hint.swap(false, Ordering::AcqRel)
    }
}

pub struct Keyspace {
    pub dbs: Box<[Db]>,
    /// The gate (see module docs). Holders of the write side may lock any shard.
    pub gate: RwLock<()>,
    hasher: ahash::RandomState,
    /// `notify-keyspace-events` as flags (`config::notify::*`), read on every event
    /// site so that disabled notifications cost one relaxed load.
    pub notify_flags: AtomicU32,
    /// `lazyfree-lazy-expire`: big expired values go to the lazyfree thread.
    pub lazy_expire: AtomicBool,
    /// Whether changed keys are collected for client-side caching invalidation (some
    /// client uses CLIENT TRACKING, or tracked keys remain): see `server::tracking`.
    pub tracking: AtomicBool,
    /// Point-in-time snapshot state (BGSAVE, AOF rewrite): see `snapshot.rs`.
    pub snap: snapshot::Snapshot,
    /// What `Entry::lru` holds: LRU clock or LFU counter (see `lfu.rs`).
    pub access: lfu::Access,
    /// Unix ms until which keys do not expire (CLIENT PAUSE): an expired key reads as
    /// missing but stays until the pause ends. 0: no pause.
    pub expire_paused_until: std::sync::atomic::AtomicU64,
}

/// Seconds clock, as Redis's LRU_CLOCK (INFO `lru_clock`).
pub fn lru_clock(now_ms: u64) -> u32 {
    (now_ms / 1000) as u32
}

/// Ticks of [`access_clock`] per second.
pub const ACCESS_TICKS_PER_SEC: u64 = 10;

/// The clock stored in `Entry::lru` under an LRU (or no) policy: tenths of a second
/// (wraps after 13 years). Ten times finer than Redis's, so eviction tells apart keys
/// used within the same second.
pub fn access_clock(now_ms: u64) -> u32 {
    (now_ms / (1000 / ACCESS_TICKS_PER_SEC)) as u32
}

/// `Entry::lru` of a key last accessed `idle_secs` seconds before `now_ms` (RESTORE
/// IDLETIME, RDB idle times).
pub fn lru_for_idle(now_ms: u64, idle_secs: u64) -> u32 {
    access_clock(now_ms).wrapping_sub(
        idle_secs
            .saturating_mul(ACCESS_TICKS_PER_SEC)
            .min(u32::MAX as u64) as u32,
    )
}

/// Seconds since the access recorded in `lru` (OBJECT IDLETIME).
pub fn idle_secs(now_ms: u64, lru: u32) -> u64 {
    access_clock(now_ms).wrapping_sub(lru) as u64 / ACCESS_TICKS_PER_SEC
}

impl Keyspace {
    pub fn new(databases: usize) -> Keyspace {
        Keyspace {
            dbs: (0..databases.max(1)).map(|_| Db::new()).collect(),
            gate: RwLock::new(()),
            hasher: ahash::RandomState::new(),
            notify_flags: AtomicU32::new(0),
            lazy_expire: AtomicBool::new(false),
            tracking: AtomicBool::new(false),
            snap: snapshot::Snapshot::default(),
            access: lfu::Access::default(),
            expire_paused_until: Default::default(),
        }
    }

    #[inline]
    pub fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    /// Starts loading what the commands of a pipelined batch will look up, so that
    /// they find it in cache: `cmds` are their first two arguments after the name (a
    /// key, and a member or field or value). On a big keyspace each lookup is two
    /// cache misses (bucket, node), a third of the time of a cheap command; issued
    /// together for a whole batch they overlap instead of following one another. For a
    /// batch on different keys, their buckets and nodes; for a batch on one key (SADD
    /// myset m1, m2, ...), the entries of the members in that set or hash. A shard
    /// another thread holds is skipped (only a hint).
    pub fn prefetch(&self, db: usize, cmds: &[(&[u8], &[u8])]) {
        let Some(d) = self.dbs.get(db) else {
            return;
        };
        // Once per run of commands on the same key.
        let mut hashes: SmallVec<[u64; 32]> = SmallVec::new();
        let mut last: &[u8] = &[];
        for (i, &(k, _)) in cmds.iter().enumerate() {
            if i == 0 || k != last {
                hashes.push(self.hash(k));
                last = k;
            }
        }
        if hashes.len() == 1 {
            let (h, key) = (hashes[0], cmds[0].0);
            if let Some(s) = d.shards[Keyspace::shard_index(h)].try_lock() {
                if let Some(e) = s.dict.get(h, key) {
                    let members: SmallVec<[&[u8]; 32]> = cmds.iter().map(|c| c.1).collect();
                    e.value.prefetch_members(&members);
                }
            }
            return;
        }
        for &h in &hashes {
            if let Some(s) = d.shards[Keyspace::shard_index(h)].try_lock() {
                s.dict.prefetch_bucket(h);
            }
        }
        for &h in &hashes {
            if let Some(s) = d.shards[Keyspace::shard_index(h)].try_lock() {
                s.dict.prefetch_node(h);
            }
        }
    }

    #[inline]
    pub fn shard_index(hash: u64) -> usize {
        (hash >> (64 - SHARD_BITS)) as usize
    }

    pub fn num_dbs(&self) -> usize {
        self.dbs.len()
    }

    /// Sum of a per-shard statistic over all shards (locks each shard briefly).
    pub fn sum_stat(&self, f: impl Fn(&Shard) -> u64) -> u64 {
        let mut total = 0;
        for db in self.dbs.iter() {
            for s in db.shards.iter() {
                total += f(&s.lock());
            }
        }
        total
    }

    /// (keys, volatile keys) of a database, counted shard by shard.
    pub fn db_counts(&self, db: usize) -> (usize, usize) {
        let mut keys = 0;
        let mut vol = 0;
        for s in self.dbs[db].shards.iter() {
            let s = s.lock();
            keys += s.dict.len();
            vol += s.volatile;
        }
        (keys, vol)
    }
}

/// Shard guards held by one command, tagged with `db * SHARDS + shard`.
type Guards<'a> = SmallVec<[(usize, MutexGuard<'a, Shard>); 4]>;

/// SWAPDB: flags the watchers registered in `watchers` whose key exists in either
/// shard (before or after the swap).
fn touch_watched_in_either(watchers: &Shard, other: &Shard, hash: &dyn Fn(&[u8]) -> u64) {
    for (k, list) in watchers.watched.iter() {
        let h = hash(k);
        if watchers.dict.get(h, k).is_some() || other.dict.get(h, k).is_some() {
            for w in list {
                w.touch();
            }
        }
    }
}

/// Whether storing `v` under a key can serve clients blocked on that key.
fn wakes_waiters(v: &Value) -> bool {
    matches!(v, Value::List(_) | Value::ZSet(_) | Value::Stream(_))
}

/// A key expired lazily during a command (to be propagated as a DEL and notified).
pub struct ExpiredKey {
    pub db: usize,
    pub key: dict::Key,
}

/// A keyspace event raised during a command (Redis's `notifyKeyspaceEvent`), published
/// by the dispatcher when the command ends, in the order raised.
pub struct Event {
    /// The event's class (`config::notify::*`).
    pub class: u32,
    /// The event name (`set`, `del`, `expired`, `lpush`...).
    pub name: &'static str,
    pub db: usize,
    pub key: Box<[u8]>,
    /// Length of the raising command's reply buffer when the event was raised
    /// (`usize::MAX` when unknown): a RESP3 client subscribed to its own events gets
    /// the push at that point of its reply stream, where Redis writes it.
    pub at: usize,
}

impl Keyspace {
    /// Whether events of `class` are published (a class bit and K or E are set).
    #[inline]
    pub fn notifies(&self, class: u32) -> bool {
        use crate::config::notify::{KEYEVENT, KEYSPACE};
        let f = self.notify_flags.load(Ordering::Relaxed);
        f & class != 0 && f & (KEYSPACE | KEYEVENT) != 0
    }
}

/// The locked view of the keyspace one command works through. See the module docs.
pub struct Txn<'a> {
    pub ks: &'a Keyspace,
    exclusive: bool,
    guards: Guards<'a>,
    /// The command's notion of "now" (Unix ms), fixed for its whole duration as in Redis,
    /// so a key cannot expire half-way through a command.
    pub now: u64,
    /// Number of changes made (Redis's `server.dirty`).
    pub dirty: u64,
    /// Keys deleted by lazy expiry during this command.
    pub expired: Vec<ExpiredKey>,
    /// CLIENT NO-TOUCH: reads leave the keys' LRU/LFU data alone.
    pub no_touch: bool,
    /// Keys that received a value blocked clients may be waiting for (a new list or
    /// sorted set) and have waiters: served by the dispatcher before the locks go.
    pub ready: Vec<(usize, Box<[u8]>)>,
    /// Watched keys reached through `get_mut`: touched at the end of the command if it
    /// changed anything (see `watch.rs`).
    watch_candidates: Vec<(usize, Box<[u8]>)>,
    /// Keyspace events raised so far (only those whose class is enabled).
    pub events: Vec<Event>,
    /// Keys changed, for client-side caching (see `watch::Modified`).
    pub tracked: Modified,
    /// `Event::at` of the events the keyspace raises itself (`new`, `keymiss`,
    /// `expired`): unknown (`usize::MAX`) unless the command marked its reply point.
    pub event_at: usize,
    /// What the running execution unit propagates (AOF): see `server::propagate`.
    pub prop: crate::server::propagate::Record,
    /// Position + 1 in `guards` of each shard id's guard (0: not locked), built once a
    /// command holds [`GUARD_INDEX_FROM`] guards (whole-keyspace commands under the
    /// exclusive gate lock thousands), so finding a guard does not scan them all.
    /// Empty otherwise: `guards` is searched linearly.
    guard_index: Vec<u32>,
    /// The `Entry` lent out by [`Txn::get_read`] / [`Txn::peek`] for a string packed
    /// into its node (see `table.rs`): a view of the node's bytes, valid while the
    /// borrow of the `Txn` lasts.
    view: Entry,
}

/// Guards held before [`Txn`] indexes them by shard id.
const GUARD_INDEX_FROM: usize = 32;

impl<'a> Txn<'a> {
    /// A view for a caller that holds the gate shared. Call [`Txn::lock_keys`] or
    /// [`Txn::lock_db`] before touching keys.
    pub fn shared(ks: &'a Keyspace, now: u64) -> Txn<'a> {
        Txn {
            ks,
            exclusive: false,
            guards: SmallVec::new(),
            now,
            dirty: 0,
            expired: Vec::new(),
            no_touch: false,
            ready: Vec::new(),
            watch_candidates: Vec::new(),
            events: Vec::new(),
            tracked: Modified {
                on: ks.tracking.load(Ordering::Relaxed),
                ..Modified::default()
            },
            event_at: usize::MAX,
            prop: Default::default(),
            guard_index: Vec::new(),
            view: Entry::new(Value::Str(crate::types::StrValue::Int(0)), 0, 0, 0),
        }
    }

    /// A view for a caller that holds the gate exclusively: shards are locked on demand.
    pub fn exclusive(ks: &'a Keyspace, now: u64) -> Txn<'a> {
        Txn {
            exclusive: true,
            ..Txn::shared(ks, now)
        }
    }

    pub fn is_exclusive(&self) -> bool {
        self.exclusive
    }

    /// Locks the shards of `keys` in database `db`, in ascending order. Must be called
    /// at most once per command, before any access, when running shared.
    pub fn lock_keys<'k>(&mut self, db: usize, keys: impl Iterator<Item = &'k [u8]>) {
        let mut ids: SmallVec<[usize; 8]> = keys
            .map(|k| db * SHARDS + Keyspace::shard_index(self.ks.hash(k)))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            if self.find_guard(id).is_none() {
                let guard = self.ks.dbs[id / SHARDS].shards[id % SHARDS].lock();
                self.push_guard(id, guard);
            }
        }
    }

    /// Locks every shard of database `db` (ascending), for whole-database commands.
    pub fn lock_db(&mut self, db: usize) {
        for s in 0..SHARDS {
            let id = db * SHARDS + s;
            if self.find_guard(id).is_none() {
                let guard = self.ks.dbs[db].shards[s].lock();
                self.push_guard(id, guard);
            }
        }
    }

    /// Locks shard `s` of database `db` (for commands that lock shards one at a time
    /// themselves, such as SCAN; release it with [`Txn::unlock_all`] before the next).
    pub fn lock_shard(&mut self, db: usize, s: usize) {
        let id = db * SHARDS + s;
        if self.find_guard(id).is_none() {
            let guard = self.ks.dbs[db].shards[s].lock();
            self.push_guard(id, guard);
        }
    }

    /// Releases every shard lock (used between steps of commands such as SCAN).
    pub fn unlock_all(&mut self) {
        self.guards.clear();
        self.guard_index.clear();
    }

    /// Position in `guards` of shard `id`, if it is locked.
    #[inline]
    fn find_guard(&self, id: usize) -> Option<usize> {
        if self.guard_index.is_empty() {
            return self.guards.iter().position(|(g, _)| *g == id);
        }
        match self.guard_index.get(id) {
            Some(&p) if p > 0 => Some(p as usize - 1),
            _ => None,
        }
    }

    /// Adds the guard of shard `id` (not locked before); returns its position.
    fn push_guard(&mut self, id: usize, guard: MutexGuard<'a, Shard>) -> usize {
        self.guards.push((id, guard));
        let pos = self.guards.len() - 1;
        if !self.guard_index.is_empty() {
            if let Some(slot) = self.guard_index.get_mut(id) {
                *slot = pos as u32 + 1;
            }
        } else if self.guards.len() >= GUARD_INDEX_FROM {
            self.guard_index.resize(self.ks.dbs.len() * SHARDS, 0);
            for (p, (g, _)) in self.guards.iter().enumerate() {
                if let Some(slot) = self.guard_index.get_mut(*g) {
                    *slot = p as u32 + 1;
                }
            }
        }
        pos
    }

    /// Position in `guards` of shard `id` (= db * SHARDS + shard), locking it if allowed.
    fn guard_pos(&mut self, id: usize) -> usize {
        match self.find_guard(id) {
            Some(p) => p,
            None => {
                // Shared mode must have pre-locked every shard it touches; on-demand
                // locking there could deadlock. It is a bug in a command's key spec.
                debug_assert!(
                    self.exclusive,
                    "shard {id} accessed without being locked; fix the command's key spec"
                );
                let guard = self.ks.dbs[id / SHARDS].shards[id % SHARDS].lock();
                self.push_guard(id, guard)
            }
        }
    }

    fn shard_by_id(&mut self, id: usize) -> &mut Shard {
        let pos = self.guard_pos(id);
        &mut self.guards[pos].1
    }

    /// The (locked) shard that holds `key` in `db`, with the key's hash.
    pub fn shard_for(&mut self, db: usize, key: &[u8]) -> (&mut Shard, u64) {
        let h = self.ks.hash(key);
        let id = db * SHARDS + Keyspace::shard_index(h);
        (self.shard_by_id(id), h)
    }

    /// Shard `s` of database `db` (locking it on demand in exclusive mode).
    pub fn shard_at(&mut self, db: usize, s: usize) -> &mut Shard {
        self.shard_by_id(db * SHARDS + s)
    }

    /// The one lookup every access starts with: hashes the key once, finds its shard,
    /// and deletes the key if its TTL has passed (lazy expiry). Returns the guard
    /// position, the hash, and whether a live entry exists.
    #[inline]
    fn locate(&mut self, db: usize, key: &[u8]) -> (usize, u64, bool) {
        let h = self.ks.hash(key);
        let pos = self.guard_pos(db * SHARDS + Keyspace::shard_index(h));
        let now = self.now;
        let ks = self.ks;
        let shard: &mut Shard = &mut self.guards[pos].1;
        let live = match shard.dict.expire_of(h, key) {
            None => false,
            Some(exp)
                if exp != 0
                    && exp <= now
                    && ks
                        .expire_paused_until
                        .load(std::sync::atomic::Ordering::Relaxed)
                        > now =>
            {
                false
            }
            Some(exp) if exp != 0 && exp <= now => {
                let rehash = |k: &[u8]| ks.hash(k);
                ks.snap.preserve_in(&mut shard.dict, db, h, key);
                if let Some(gone) = shard.dict.remove(h, key, &rehash) {
                    let stream = matches!(gone.entry().value, Value::Stream(_));
                    let k = gone.free(ks.lazy_expire.load(Ordering::Relaxed));
                    shard.touch_watched(key);
                    self.tracked.key(key, false);
                    shard.volatile -= 1;
                    shard.expired += 1;
                    if stream && !shard.waiters.is_empty() && shard.waiters.contains_key(key) {
                        // An expired stream unblocks its XREADGROUP waiters too.
                        Self::mark_ready(&mut self.ready, db, key);
                    }
                    self.expired.push(ExpiredKey { db, key: k });
                    self.notify(crate::config::notify::EXPIRED, "expired", db, key);
                }
                false
            }
            Some(_) => true,
        };
        (pos, h, live)
    }

    /// A key looked up for writing: a candidate for WATCH invalidation and client
    /// tracking (settled when the command ends, by whether it changed anything).
    fn note_write(&mut self, pos: usize, db: usize, key: &[u8]) {
        let shard: &Shard = &self.guards[pos].1;
        if !shard.watched.is_empty() && shard.watched.contains_key(key) {
            self.watch_candidates.push((db, key.into()));
        }
        if self.tracked.on {
            self.tracked.candidates.push(key.into());
        }
    }

    /// Looks a key up for writing (lazy expiry applied, no hit/miss accounting).
    pub fn get_mut(&mut self, db: usize, key: &[u8]) -> Option<&mut Entry> {
        let (pos, h, live) = self.locate(db, key);
        if !live {
            return None;
        }
        self.note_write(pos, db, key);
        let dict = &mut self.guards[pos].1.dict;
        self.ks.snap.preserve_in(dict, db, h, key);
        dict.get_mut(h, key)
    }

    /// Looks a live key up for a change of its TTL only (EXPIRE, PERSIST): the
    /// bookkeeping of [`Txn::get_mut`] and an LRU touch, and its TTL (0: none), without
    /// turning a string packed into its node into an ordinary value (which would cost
    /// the key its packing for good: an EXPIRE after every SET is a common pattern).
    pub fn touch_for_ttl(&mut self, db: usize, key: &[u8]) -> Option<u64> {
        let (pos, h, live) = self.locate(db, key);
        if !live {
            return None;
        }
        self.note_write(pos, db, key);
        let (ks, now) = (self.ks, self.now);
        let mut slot = self.guards[pos].1.dict.slot(h, key)?;
        ks.access.touch(slot.lru_mut(), now);
        Some(slot.expire())
    }

    /// Looks a live key up for an in-place change that is not a write of the command's
    /// own (lazy hash-field expiry after [`Txn::preserve`]): no statistics, no
    /// WATCH/tracking bookkeeping.
    pub fn peek_mut(&mut self, db: usize, key: &[u8]) -> Option<&mut Entry> {
        let (pos, h, live) = self.locate(db, key);
        if !live {
            return None;
        }
        self.guards[pos].1.dict.get_mut(h, key)
    }

    /// A command about to change a value it looked up for reading (lazy hash-field
    /// expiry, a cached HyperLogLog count): lets a running snapshot keep the old one.
    pub fn preserve(&mut self, db: usize, key: &[u8]) {
        if !self.ks.snap.active() {
            return;
        }
        let ks = self.ks;
        let (shard, h) = self.shard_for(db, key);
        ks.snap.preserve_in(&mut shard.dict, db, h, key);
    }

    /// End of a command: if it changed anything, the watched keys it reached for
    /// writing count as modified.
    pub fn settle_watches(&mut self) {
        if !self.tracked.candidates.is_empty() {
            let candidates = std::mem::take(&mut self.tracked.candidates);
            if self.dirty > 0 {
                for key in candidates {
                    self.tracked.key(&key, true);
                }
            }
        }
        if self.watch_candidates.is_empty() {
            return;
        }
        let candidates = std::mem::take(&mut self.watch_candidates);
        if self.dirty == 0 {
            return;
        }
        for (db, key) in candidates {
            let (shard, _) = self.shard_for(db, &key);
            shard.touch_watched(&key);
        }
    }

    /// Counts `key` as modified for WATCH even if the command's dirty counter did not
    /// move (commands Redis signals unconditionally, such as LTRIM).
    pub fn mark_modified(&mut self, db: usize, key: &[u8]) {
        self.tracked.key(key, true);
        let (shard, _) = self.shard_for(db, key);
        shard.touch_watched(key);
    }

    /// Registers `w` as watching `key` (WATCH). An expired key is deleted first, so
    /// "exists" is the logical state. Returns whether the key exists.
    pub fn watch(&mut self, db: usize, key: &[u8], w: &Arc<Watcher>) -> bool {
        let exists = self.exists(db, key);
        let (shard, _) = self.shard_for(db, key);
        let list = shard.watched.entry(key.into()).or_default();
        if !list.iter().any(|x| Arc::ptr_eq(x, w)) {
            list.push(w.clone());
        }
        exists
    }

    /// Removes `w` from `key`'s watchers.
    pub fn unwatch(&mut self, db: usize, key: &[u8], w: &Arc<Watcher>) {
        let (shard, _) = self.shard_for(db, key);
        if let Some(list) = shard.watched.get_mut(key) {
            list.retain(|x| !Arc::ptr_eq(x, w));
            if list.is_empty() {
                shard.watched.remove(key);
            }
        }
    }

    /// Whether `key` exists but its TTL has passed (not yet deleted): EXEC treats a
    /// key that existed at WATCH time and expired since as modified, as Redis does.
    pub fn is_logically_expired(&mut self, db: usize, key: &[u8]) -> bool {
        let now = self.now;
        let (shard, h) = self.shard_for(db, key);
        matches!(shard.dict.expire_of(h, key), Some(exp) if exp != 0 && exp <= now)
    }

    /// Looks a key up for reading: lazy expiry, keyspace_hits/misses, LRU touch.
    pub fn get_read(&mut self, db: usize, key: &[u8]) -> Option<&Entry> {
        let (pos, h, live) = self.locate(db, key);
        let now = self.now;
        let ks = self.ks;
        if !live {
            self.guards[pos].1.misses += 1;
            self.notify(crate::config::notify::KEY_MISS, "keymiss", db, key);
            return None;
        }
        let shard: &mut Shard = &mut self.guards[pos].1;
        shard.hits += 1;
        let no_touch = self.no_touch;
        let mut slot = shard.dict.slot(h, key)?;
        if !no_touch {
            ks.access.touch(slot.lru_mut(), now);
        }
        let found = slot.into_ref().split().map(|e| e as *const Entry);
        self.lend_found(found)
    }

    /// [`Txn::get_read`] for a read that changes the value's representation in place
    /// (lazy hash-field expiry, a cached HyperLogLog count, SORT's skiplist
    /// conversion): a string packed into its node becomes an ordinary value first.
    pub fn get_read_mut(&mut self, db: usize, key: &[u8]) -> Option<&mut Entry> {
        let (pos, h, live) = self.locate(db, key);
        if !live {
            self.guards[pos].1.misses += 1;
            self.notify(crate::config::notify::KEY_MISS, "keymiss", db, key);
            return None;
        }
        let (ks, now, touch) = (self.ks, self.now, !self.no_touch);
        let shard: &mut Shard = &mut self.guards[pos].1;
        shard.hits += 1;
        let e = shard.dict.get_mut(h, key)?;
        if touch {
            ks.access.touch(&mut e.lru, now);
        }
        Some(e)
    }

    /// The entry of `key` (hashed `h`) in the shard at `pos`, for reading: the stored
    /// one, or for a packed string a view kept in `self.view`.
    #[inline]
    fn lend(&mut self, pos: usize, h: u64, key: &[u8]) -> Option<&Entry> {
        let found = self.guards[pos].1.dict.get(h, key)?.split();
        self.lend_found(found.map(|e| e as *const Entry))
    }

    /// The second half of [`Txn::lend`]: a found entry (a pointer into a node of a
    /// locked shard, or a view of a packed one) as a reference borrowing `self`.
    #[inline]
    fn lend_found(&mut self, found: Result<*const Entry, Entry>) -> Option<&Entry> {
        match found {
            // SAFETY: the entry lives in a node of a shard this `Txn` holds locked, and
            // the returned reference borrows the `Txn`, so nothing changes it meanwhile.
            Ok(p) => Some(unsafe { &*p }),
            Err(v) => {
                self.view = v;
                Some(&self.view)
            }
        }
    }

    /// Looks a key up without touching statistics or LRU (lazy expiry still applies,
    /// as with Redis's LOOKUP_NOTOUCH).
    pub fn peek(&mut self, db: usize, key: &[u8]) -> Option<&Entry> {
        let (pos, h, live) = self.locate(db, key);
        if !live {
            return None;
        }
        self.lend(pos, h, key)
    }

    pub fn exists(&mut self, db: usize, key: &[u8]) -> bool {
        self.locate(db, key).2
    }

    /// Stores `value` under `key`. With `keep_ttl` an existing TTL is kept (SET KEEPTTL,
    /// SETRANGE...), otherwise the key becomes persistent (plain SET semantics).
    pub fn set(&mut self, db: usize, key: &[u8], value: Value, keep_ttl: bool) {
        self.set_inner(db, key, value, keep_ttl, 0)
    }

    /// Stores `value` under `key` with the TTL `at_ms` (Unix ms, non-zero): SET with
    /// EX/PX/EXAT/PXAT, built in one step (the node is sized for its TTL once). The
    /// caller raises the `expire` event, as after [`Txn::set_expire`].
    pub fn set_with_expire(&mut self, db: usize, key: &[u8], value: Value, at_ms: u64) {
        self.set_inner(db, key, value, false, at_ms);
        self.tracked.key(key, true);
    }

    fn set_inner(&mut self, db: usize, key: &[u8], value: Value, keep_ttl: bool, at_ms: u64) {
        let (pos, h, live) = self.locate(db, key);
        let ks = self.ks;
        let now = self.now;
        let lru = ks.access.fresh(now);
        self.dirty += 1;
        if !live {
            self.notify(crate::config::notify::NEW, "new", db, key);
        }
        let shard: &mut Shard = &mut self.guards[pos].1;
        if value.has_field_ttls() {
            shard.track_field_ttls(h, key, &|k: &[u8]| ks.hash(k));
            ks.dbs[db].hint_expiry();
        }
        if !shard.waiters.is_empty()
            && shard.waiters.contains_key(key)
            && (wakes_waiters(&value)
                || (live
                    && matches!(shard.dict.get(h, key), Some(e) if matches!(e.value, Value::Stream(_)))))
        {
            // A new list/zset/stream may serve waiters; a stream replaced by another
            // type unblocks its XREADGROUP waiters with an error.
            Self::mark_ready(&mut self.ready, db, key);
        }
        shard.touch_watched(key);
        self.tracked.key(key, true);
        let snap = ks.snap.parity();
        if live {
            ks.snap.preserve_in(&mut shard.dict, db, h, key);
            let mut was_volatile = false;
            shard.dict.replace_with(h, key, |old_expire, old_lru| {
                was_volatile = old_expire != 0;
                let expire = if keep_ttl { old_expire } else { at_ms };
                // An overwritten key keeps its LFU counter (Redis's dbSetValue), and is
                // accessed now.
                let lru = if ks.access.is_lfu() {
                    let mut l = old_lru;
                    ks.access.touch(&mut l, now);
                    l
                } else {
                    lru
                };
                Entry::new(value, expire, lru, snap)
            });
            let is_volatile = if keep_ttl { was_volatile } else { at_ms != 0 };
            match (was_volatile, is_volatile) {
                (true, false) => shard.volatile -= 1,
                (false, true) => shard.volatile += 1,
                _ => {}
            }
            if is_volatile {
                ks.dbs[db].hint_expiry();
            }
            return;
        }
        let rehash = |k: &[u8]| ks.hash(k);
        if at_ms != 0 {
            shard.volatile += 1;
            ks.dbs[db].hint_expiry();
        }
        shard
            .dict
            .insert_new(h, key, Entry::new(value, at_ms, lru, snap), &rehash);
    }

    /// Sets (`at_ms > 0`) or clears (`at_ms == 0`) the TTL of an existing key.
    /// Returns false if the key does not exist.
    pub fn set_expire(&mut self, db: usize, key: &[u8], at_ms: u64) -> bool {
        let ks = self.ks;
        let (shard, h) = self.shard_for(db, key);
        shard.touch_watched(key);
        let Some(was) = shard.dict.expire_of(h, key).map(|e| e != 0) else {
            return false;
        };
        ks.snap.preserve_in(&mut shard.dict, db, h, key);
        shard.dict.set_expire(h, key, at_ms);
        let is = at_ms != 0;
        match (was, is) {
            (false, true) => shard.volatile += 1,
            (true, false) => shard.volatile -= 1,
            _ => {}
        }
        if is {
            ks.dbs[db].hint_expiry();
        }
        self.tracked.key(key, true);
        true
    }

    /// Deletes a key, returning its node (freed when dropped; [`Removed::into_entry`]
    /// takes its entry).
    pub fn remove(&mut self, db: usize, key: &[u8]) -> Option<Removed> {
        let (pos, h, live) = self.locate(db, key);
        if !live {
            return None;
        }
        let ks = self.ks;
        let shard: &mut Shard = &mut self.guards[pos].1;
        let rehash = |k: &[u8]| ks.hash(k);
        ks.snap.preserve_in(&mut shard.dict, db, h, key);
        let e = shard.dict.remove(h, key, &rehash)?;
        shard.touch_watched(key);
        self.tracked.key(key, true);
        if matches!(e.entry().value, Value::Stream(_))
            && !shard.waiters.is_empty()
            && shard.waiters.contains_key(key)
        {
            // XREADGROUP waiters on a deleted stream are unblocked with an error.
            Self::mark_ready(&mut self.ready, db, key);
        }
        if e.expire() != 0 {
            shard.volatile -= 1;
        }
        self.dirty += 1;
        Some(e)
    }

    /// Inserts a whole entry (value and TTL) under a key known to be absent (RENAME,
    /// MOVE, COPY). The entry's LRU is preserved.
    pub fn insert_entry(&mut self, db: usize, key: &[u8], value: Value, expire: u64, lru: u32) {
        let ks = self.ks;
        self.dirty += 1;
        self.tracked.key(key, true);
        let (shard, h) = self.shard_for(db, key);
        let rehash = |k: &[u8]| ks.hash(k);
        shard.touch_watched(key);
        ks.snap.preserve_in(&mut shard.dict, db, h, key);
        let existed = match shard.dict.remove(h, key, &rehash) {
            Some(old) => {
                if old.expire() != 0 {
                    shard.volatile -= 1;
                }
                true
            }
            None => false,
        };
        if expire != 0 {
            shard.volatile += 1;
            ks.dbs[db].hint_expiry();
        }
        if value.has_field_ttls() {
            shard.track_field_ttls(h, key, &rehash);
            ks.dbs[db].hint_expiry();
        }
        let wakes =
            !shard.waiters.is_empty() && wakes_waiters(&value) && shard.waiters.contains_key(key);
        let snap = ks.snap.parity();
        shard
            .dict
            .insert_new(h, key, Entry::new(value, expire, lru, snap), &rehash);
        if wakes {
            Self::mark_ready(&mut self.ready, db, key);
        }
        if !existed {
            self.notify(crate::config::notify::NEW, "new", db, key);
        }
    }

    /// Raises keyspace event `name` of `class` for `key` in `db` (kept if the class is
    /// enabled; the dispatcher publishes it when the command ends).
    #[inline]
    pub fn notify(&mut self, class: u32, name: &'static str, db: usize, key: &[u8]) {
        self.notify_at(class, name, db, key, self.event_at);
    }

    /// [`Txn::notify`] with the raising command's reply length (see [`Event::at`]).
    #[inline]
    pub fn notify_at(&mut self, class: u32, name: &'static str, db: usize, key: &[u8], at: usize) {
        if self.ks.notifies(class) {
            self.events.push(Event {
                class,
                name,
                db,
                key: key.into(),
                at,
            });
        }
    }

    /// Marks `key` ready if clients are blocked on it (an XADD to an existing stream,
    /// XGROUP DESTROY): they are served before the command's locks are released.
    pub fn signal_ready(&mut self, db: usize, key: &[u8]) {
        let (shard, _) = self.shard_for(db, key);
        if !shard.waiters.is_empty() && shard.waiters.contains_key(key) {
            Self::mark_ready(&mut self.ready, db, key);
        }
    }

    fn mark_ready(ready: &mut Vec<(usize, Box<[u8]>)>, db: usize, key: &[u8]) {
        if !ready.iter().any(|(d, k)| *d == db && &**k == key) {
            ready.push((db, key.into()));
        }
    }

    // -- blocked clients (see `blocking.rs`) ----------------------------------------

    /// Queues `w` on `key` (whose shard must be locked).
    pub fn add_waiter(&mut self, db: usize, key: &[u8], w: &Arc<Waiter>) {
        let (shard, _) = self.shard_for(db, key);
        shard
            .waiters
            .entry(key.into())
            .or_default()
            .push_back(w.clone());
    }

    /// Removes `w` from `key`'s queue (no-op if it is not there).
    pub fn remove_waiter(&mut self, db: usize, key: &[u8], w: &Arc<Waiter>) {
        let (shard, _) = self.shard_for(db, key);
        if let Some(q) = shard.waiters.get_mut(key) {
            q.retain(|x| !Arc::ptr_eq(x, w));
            if q.is_empty() {
                shard.waiters.remove(key);
            }
        }
    }

    /// The clients waiting on `key`, in arrival order.
    pub fn waiters_of(&mut self, db: usize, key: &[u8]) -> Vec<Arc<Waiter>> {
        let (shard, _) = self.shard_for(db, key);
        match shard.waiters.get(key) {
            Some(q) => q.iter().cloned().collect(),
            None => Vec::new(),
        }
    }

    /// Number of keys with blocked clients and of blocked waiter registrations over
    /// the locked shards (for tests and INFO).
    pub fn blocking_keys(&self) -> usize {
        self.guards.iter().map(|(_, g)| g.waiters.len()).sum()
    }

    /// Shared mode, after [`Txn::lock_keys`]: if clients are blocked on any of `keys`,
    /// serving them may touch other keys (BLMOVE's destination, and in turn the
    /// waiters on that key). Extends the locked set to all of them, re-locking in
    /// ascending order. Nothing has run yet, so letting go of the locks is harmless.
    pub fn lock_for_waiters(&mut self, db: usize, keys: &[&[u8]]) {
        if self.exclusive || self.guards.iter().all(|(_, g)| g.waiters.is_empty()) {
            return;
        }
        loop {
            let mut seen: Vec<Box<[u8]>> = keys.iter().map(|&k| Box::from(k)).collect();
            let mut missing = false;
            let mut i = 0;
            while i < seen.len() {
                let h = self.ks.hash(&seen[i]);
                let id = db * SHARDS + Keyspace::shard_index(h);
                match self.guards.iter().find(|(g, _)| *g == id) {
                    None => missing = true,
                    Some((_, shard)) => {
                        if let Some(q) = shard.waiters.get(&seen[i]) {
                            for w in q {
                                for t in &w.touches {
                                    if !seen.contains(t) {
                                        seen.push(t.clone());
                                    }
                                }
                            }
                        }
                    }
                }
                i += 1;
            }
            if !missing {
                return;
            }
            self.unlock_all();
            self.lock_keys(db, seen.iter().map(|k| &**k));
        }
    }

    /// Number of keys in `db` (all shards must be locked, or the view exclusive).
    pub fn db_len(&mut self, db: usize) -> usize {
        (0..SHARDS).map(|s| self.shard_at(db, s).dict.len()).sum()
    }

    /// Removes every key of `db`; returns how many there were. Requires all its shards.
    pub fn flush_db(&mut self, db: usize) -> usize {
        let (n, tables) = self.flush_db_take(db);
        drop(tables);
        n
    }

    /// [`Txn::flush_db`], giving the removed tables to the caller (to be freed in the
    /// background: FLUSHDB/FLUSHALL ASYNC) instead of dropping them. Tables a running
    /// snapshot adopted are not among them.
    pub fn flush_db_take(&mut self, db: usize) -> (usize, Vec<Table>) {
        let mut old = Vec::new();
        let mut n = 0;
        let ks = self.ks;
        // Redis's signalFlushedDb: tracking clients get the null invalidation.
        self.tracked.flushed |= self.tracked.on;
        for s in 0..SHARDS {
            let shard = self.shard_at(db, s);
            n += shard.dict.len();
            if !shard.waiters.is_empty() {
                // Streams going away unblock their XREADGROUP waiters.
                let gone: Vec<Box<[u8]>> = shard
                    .waiters
                    .keys()
                    .filter(|k| {
                        matches!(shard.dict.get(ks.hash(k), k), Some(e) if matches!(e.value, Value::Stream(_)))
                    })
                    .cloned()
                    .collect();
                for k in gone {
                    Self::mark_ready(&mut self.ready, db, &k);
                }
            }
            let shard = self.shard_at(db, s);
            if !shard.watched.is_empty() {
                shard.touch_existing_watched(&|k: &[u8]| ks.hash(k));
            }
            // A running snapshot still needs the flushed table (see `snapshot.rs`).
            let table = std::mem::take(&mut shard.dict);
            old.extend(ks.snap.adopt(db, table).filter(|t| !t.is_empty()));
            shard.volatile = 0;
            shard.expire_cursor = 0;
            shard.hfe.clear();
            shard.hfe_cursor = 0;
        }
        self.dirty += n as u64;
        (n, old)
    }

    /// Swaps the contents of two databases (exclusive view only).
    pub fn swap_dbs(&mut self, a: usize, b: usize) {
        debug_assert!(self.exclusive);
        if a == b {
            return;
        }
        let ks = self.ks;
        if ks.snap.active() {
            // A running snapshot walks databases by number: it gets the unwritten
            // entries of both now, as they are, before they change places.
            for db in [a, b] {
                for s in 0..SHARDS {
                    let shard = self.shard_at(db, s);
                    shard.dict.for_each_slot(|s| ks.snap.preserve_slot(db, s));
                }
            }
        }
        for s in 0..SHARDS {
            let ia = a * SHARDS + s;
            let ib = b * SHARDS + s;
            self.shard_by_id(ia);
            self.shard_by_id(ib);
            let pa = self.guards.iter().position(|(g, _)| *g == ia);
            let pb = self.guards.iter().position(|(g, _)| *g == ib);
            if let (Some(pa), Some(pb)) = (pa, pb) {
                let (lo, hi) = if pa < pb { (pa, pb) } else { (pb, pa) };
                let (left, right) = self.guards.split_at_mut(hi);
                std::mem::swap(&mut *left[lo].1, &mut *right[0].1);
                // Blocked and watching clients stay with their database number; a
                // watched key that exists on either side counts as modified.
                std::mem::swap(&mut left[lo].1.waiters, &mut right[0].1.waiters);
                std::mem::swap(&mut left[lo].1.watched, &mut right[0].1.watched);
                let hash = |k: &[u8]| ks.hash(k);
                let (sa, sb) = (&*left[lo].1, &*right[0].1);
                touch_watched_in_either(sa, sb, &hash);
                touch_watched_in_either(sb, sa, &hash);
            }
        }
        // The databases changed places, and so did their TTLs.
        ks.dbs[a].hint_expiry();
        ks.dbs[b].hint_expiry();
        // Clients blocked in either database may now find what they wait for.
        for db in [a, b] {
            for s in 0..SHARDS {
                let shard = self.shard_at(db, s);
                if shard.waiters.is_empty() {
                    continue;
                }
                let keys: Vec<Box<[u8]>> = shard.waiters.keys().cloned().collect();
                // Every key with waiters is ready: a list/zset/stream may now serve
                // them, and a key that is no stream any more unblocks its XREADGROUP
                // waiters with an error, as Redis's SWAPDB does (the other waiters'
                // `on_ready` leave them blocked).
                for k in keys {
                    Self::mark_ready(&mut self.ready, db, &k);
                }
            }
        }
    }

    /// A random key of `db` that is not expired (RANDOMKEY). Shards must be locked.
    pub fn random_key(&mut self, db: usize) -> Option<Vec<u8>> {
        use rand::Rng;
        let mut rng = rand::thread_rng();
        // Expired keys found while sampling are deleted, as Redis's dbRandomKey does;
        // bound the attempts so a database full of expired keys cannot spin forever.
        for _ in 0..100 {
            let total = self.db_len(db);
            if total == 0 {
                return None;
            }
            // Pick a shard weighted by its size, then a random key in it.
            let mut pick = rng.gen_range(0..total);
            let mut chosen = None;
            for s in 0..SHARDS {
                let len = self.shard_at(db, s).dict.len();
                if pick < len {
                    chosen = Some(s);
                    break;
                }
                pick -= len;
            }
            let s = chosen?;
            let now = self.now;
            let shard = self.shard_at(db, s);
            let (key, expired) = {
                let (k, e) = shard.dict.random(|| rng.gen())?;
                (k.to_vec(), e.expire != 0 && e.expire <= now)
            };
            if expired {
                self.locate(db, &key);
                continue;
            }
            return Some(key);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::StrValue;

    fn s(v: &[u8]) -> Value {
        Value::Str(StrValue::from_bytes(v))
    }

    #[test]
    fn many_guards_are_found_through_the_index() {
        let ks = Keyspace::new(3);
        let mut t = Txn::exclusive(&ks, 1000);
        for db in 0..3 {
            for i in 0..300 {
                t.set(db, format!("k{i}").as_bytes(), s(b"v"), false);
            }
        }
        for db in 0..3 {
            for sh in 0..SHARDS {
                t.shard_at(db, sh);
            }
        }
        // Every shard locked once, each found at its own position.
        assert_eq!(t.guards.len(), 3 * SHARDS);
        assert!(!t.guard_index.is_empty());
        for (p, (id, _)) in t.guards.iter().enumerate() {
            assert_eq!(t.find_guard(*id), Some(p));
        }
        for db in 0..3 {
            assert_eq!(t.db_len(db), 300);
            assert!(t.peek(db, b"k299").is_some());
        }
        t.unlock_all();
        assert!(t.guard_index.is_empty());
        assert_eq!(t.find_guard(5), None);
        assert_eq!(t.db_len(2), 300);
        assert_eq!(t.guards.len(), SHARDS);
        assert_eq!(t.flush_db(1), 300);
        assert_eq!(t.db_len(1), 0);
        assert_eq!(t.guards.len(), 2 * SHARDS);
    }

    #[test]
    fn prefetching_a_batch_changes_nothing() {
        // Only hints: whatever the batch (many keys, one key of each type, missing
        // keys, empty arguments, a database out of range), the data reads the same.
        use crate::types::{hash::HashValue, set::SetValue};
        let ks = Keyspace::new(1);
        let mut t = Txn::exclusive(&ks, 1000);
        for i in 0..2000 {
            t.set(0, format!("k:{i:020}").as_bytes(), s(b"v"), false);
        }
        let mut set = SetValue::default();
        let mut hash = HashValue::default();
        for i in 0..1000 {
            let m = format!("element:{i:012}");
            set.add(m.as_bytes(), 512);
            hash.set(m.as_bytes(), b"v", false, 128, 64);
        }
        assert_eq!(
            (set.encoding(), hash.encoding()),
            ("hashtable", "hashtable")
        );
        t.set(0, b"set", Value::Set(set), false);
        t.set(0, b"hash", Value::Hash(hash), false);
        t.set(0, b"list", s(b"x"), false);
        drop(t);
        let keys: Vec<String> = (0..40).map(|i| format!("k:{:020}", i * 37)).collect();
        let members: Vec<String> = (0..40).map(|i| format!("element:{:012}", i * 23)).collect();
        let many: Vec<(&[u8], &[u8])> = keys.iter().map(|k| (k.as_bytes(), &b""[..])).collect();
        ks.prefetch(0, &many);
        for key in [&b"set"[..], b"hash", b"list", b"missing"] {
            let one: Vec<(&[u8], &[u8])> = members.iter().map(|m| (key, m.as_bytes())).collect();
            ks.prefetch(0, &one);
            ks.prefetch(0, &[(key, &b""[..]), (key, b"")]);
        }
        ks.prefetch(0, &[]);
        ks.prefetch(7, &many);
        let mut t = Txn::exclusive(&ks, 1000);
        assert_eq!(t.db_len(0), 2003);
        for m in &members {
            match &t.get_read(0, b"set").expect("set").value {
                Value::Set(s) => assert!(s.contains(m.as_bytes())),
                _ => panic!("not a set"),
            }
        }
    }

    #[test]
    fn set_get_expire() {
        let ks = Keyspace::new(2);
        let mut t = Txn::exclusive(&ks, 1000);
        t.set(0, b"a", s(b"1"), false);
        assert!(t.set_expire(0, b"a", 1500));
        assert_eq!(ks.dbs[0].shards.len(), SHARDS);
        assert!(t.get_read(0, b"a").is_some());
        t.now = 1500;
        assert!(t.get_read(0, b"a").is_none());
        assert_eq!(t.expired.len(), 1);
        assert_eq!(t.db_len(0), 0);
    }

    #[test]
    fn a_ttl_change_keeps_a_string_packed() {
        // EXPIRE / PERSIST look the key up with touch_for_ttl: the string stays in its
        // node (a view), with a short key and with a key in the node's tail.
        let ks = Keyspace::new(1);
        let mut t = Txn::exclusive(&ks, 1000);
        for key in [&b"a"[..], b"session:0123456789abcdef"] {
            t.set(0, key, s(&[b'v'; 40]), false);
            assert_eq!(t.touch_for_ttl(0, key), Some(0));
            assert!(t.set_expire(0, key, 5000));
            assert_eq!(t.touch_for_ttl(0, key), Some(5000));
            let e = t.get_read(0, key).expect("present");
            assert!(matches!(e.value, Value::Str(StrValue::Ext(_))), "packed");
            assert_eq!(e.expire, 5000);
            assert!(t.set_expire(0, key, 0));
            assert!(matches!(
                t.get_read(0, key)
                    .map(|e| matches!(e.value, Value::Str(StrValue::Ext(_)))),
                Some(true)
            ));
        }
        assert_eq!(t.touch_for_ttl(0, b"missing"), None);
    }

    #[test]
    fn changed_keys_are_collected_only_while_tracking() {
        let ks = Keyspace::new(1);
        let mut t = Txn::exclusive(&ks, 1000);
        t.set(0, b"a", s(b"1"), false);
        assert!(t.tracked.keys.is_empty());
        drop(t);
        ks.tracking.store(true, Ordering::Relaxed);
        let mut t = Txn::exclusive(&ks, 1000);
        t.set(0, b"b", s(b"1"), false);
        assert!(!t.set_expire(0, b"missing", 5000));
        assert!(t.set_expire(0, b"b", 1500));
        t.remove(0, b"a");
        // Reached for writing without changing anything: not a change.
        let dirty = t.dirty;
        t.dirty = 0;
        t.get_mut(0, b"b");
        t.settle_watches();
        t.dirty = dirty;
        t.now = 2000;
        assert!(t.get_read(0, b"b").is_none());
        t.flush_db(0);
        let keys: Vec<(&[u8], bool)> = t.tracked.keys.iter().map(|(k, c)| (&**k, *c)).collect();
        assert_eq!(
            keys,
            vec![
                (&b"b"[..], true),
                (&b"b"[..], true),
                (&b"a"[..], true),
                (&b"b"[..], false)
            ]
        );
        assert!(t.tracked.flushed);
    }

    #[test]
    fn set_clears_ttl_unless_kept() {
        let ks = Keyspace::new(1);
        let mut t = Txn::exclusive(&ks, 1000);
        t.set(0, b"a", s(b"1"), false);
        t.set_expire(0, b"a", 5000);
        t.set(0, b"a", s(b"2"), true);
        assert_eq!(t.peek(0, b"a").map(|e| e.expire()), Some(5000));
        t.set(0, b"a", s(b"3"), false);
        assert_eq!(t.peek(0, b"a").map(|e| e.expire()), Some(0));
        let (shard, _) = t.shard_for(0, b"a");
        assert_eq!(shard.volatile, 0);
    }

    #[test]
    fn swap() {
        let ks = Keyspace::new(2);
        let mut t = Txn::exclusive(&ks, 1);
        t.set(0, b"a", s(b"1"), false);
        t.swap_dbs(0, 1);
        assert!(!t.exists(0, b"a"));
        assert!(t.exists(1, b"a"));
    }
}
