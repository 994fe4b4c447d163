//! Active expiry: reclaims keys whose TTL passed even if no client ever touches them.
//!
//! Redis samples 20 keys of its `expires` dictionary and repeats while more than 10%
//! of a sample was expired, within a CPU budget (25% of each 100 ms cron period). We do
//! the same per shard, walking each shard's table incrementally with the SCAN cursor
//! (so every key is eventually visited, and table resizes do not make us skip keys).
//! A shard is locked only for one short step at a time, so clients using that shard
//! wait at most one step.

use std::time::{Duration, Instant};

use super::{Keyspace, SHARDS};
use crate::types::Value;

/// Volatile entries examined per sample (Redis's ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP).
const SAMPLE: usize = 20;
/// Keep sampling a shard while more than this percentage of a sample was expired.
const ACCEPTABLE_STALE_PCT: usize = 10;
/// Upper bound of buckets visited in one locked step.
const MAX_BUCKETS_PER_STEP: usize = 400;

/// Buckets of a shard's hash-field-TTL key set visited per cycle.
const HFE_BUCKETS_PER_STEP: usize = 64;
/// Hash fields removed per cycle and shard at most (the rest waits for the next cycle).
const HFE_FIELDS_PER_STEP: usize = 10_000;

/// Where the cycle resumes next time, so every shard gets its turn even when one cycle
/// runs out of time.
#[derive(Default)]
pub struct ExpireCursor {
    db: usize,
    shard: usize,
}

/// Outcome of one cycle.
#[derive(Default, Debug)]
pub struct CycleStats {
    pub expired: u64,
    pub sampled: u64,
    pub timed_out: bool,
    /// Hash fields removed because their TTL passed.
    pub expired_fields: u64,
    /// Expired streams that had blocked clients (XREADGROUP waiters are unblocked
    /// with an error when their stream goes away): `(db, key)`, for the caller to
    /// serve.
    pub streams_gone: Vec<(usize, Box<[u8]>)>,
}

/// Runs one active expiry cycle with the given time budget. `on_expired` is called for
/// every key removed (outside the shard lock), so the server can propagate a DEL and
/// publish the `expired` event.
pub fn active_expire_cycle(
    ks: &Keyspace,
    cursor: &mut ExpireCursor,
    now_ms: impl Fn() -> u64,
    budget: Duration,
    on_expired: &mut dyn FnMut(usize, Box<[u8]>),
) -> CycleStats {
    active_expire_cycle_with_fields(ks, cursor, now_ms, budget, on_expired, &mut |_, _, _| {})
}

/// [`active_expire_cycle`], also calling `on_fields(db, key, emptied)` (outside the
/// shard lock) for every hash that lost fields to their TTL, `emptied` when the hash
/// was deleted as a result (the `hexpired` and `del` events). Only called when one of
/// those events' classes is enabled.
pub fn active_expire_cycle_with_fields(
    ks: &Keyspace,
    cursor: &mut ExpireCursor,
    now_ms: impl Fn() -> u64,
    budget: Duration,
    on_expired: &mut dyn FnMut(usize, Box<[u8]>),
    on_fields: &mut dyn FnMut(usize, Box<[u8]>, bool),
) -> CycleStats {
    active_expire_cycle_full(
        ks,
        cursor,
        now_ms,
        budget,
        on_expired,
        on_fields,
        &mut |_, _| {},
    )
}

/// Keys removed from a shard by the active expiry cycle, with their entries.
pub type Removed = [super::Removed];

/// [`active_expire_cycle_with_fields`], also calling `locked(db, keys)` with the keys
/// removed from a shard while that shard is still locked (the AOF's `DEL`s must be
/// ordered before any later write to the same key).
pub fn active_expire_cycle_full(
    ks: &Keyspace,
    cursor: &mut ExpireCursor,
    now_ms: impl Fn() -> u64,
    budget: Duration,
    on_expired: &mut dyn FnMut(usize, Box<[u8]>),
    on_fields: &mut dyn FnMut(usize, Box<[u8]>, bool),
    locked: &mut dyn FnMut(usize, &Removed),
) -> CycleStats {
    let start = Instant::now();
    let mut stats = CycleStats::default();
    // One cycle visits each shard position at most once; a database skipped as a
    // whole (no TTL in it) counts as all of its shards.
    let total = ks.num_dbs() * SHARDS;
    let mut steps = 0;
    while steps < total {
        if cursor.db >= ks.num_dbs() {
            cursor.db = 0;
            cursor.shard = 0;
        }
        if cursor.shard == 0 && !ks.dbs[cursor.db].take_expiry_hint() {
            cursor.db += 1;
            steps += SHARDS;
            continue;
        }
        steps += 1;
        let (db, s) = (cursor.db, cursor.shard);
        cursor.shard += 1;
        if cursor.shard == SHARDS {
            cursor.shard = 0;
            cursor.db += 1;
        }
        let mut touched = Vec::new();
        stats.expired_fields += expire_hash_fields(ks, db, s, now_ms(), &mut touched) as u64;
        for (key, emptied) in touched {
            on_fields(db, key, emptied);
        }
        loop {
            let mut removed = Vec::new();
            let (sampled, expired) = {
                let _gate = ks.gate.read();
                let mut shard = ks.dbs[db].shards[s].lock();
                if shard.volatile == 0 {
                    break;
                }
                let now = now_ms();
                let mut sampled = 0;
                let mut buckets = 0;
                let mut c = shard.expire_cursor;
                while sampled < SAMPLE && buckets < MAX_BUCKETS_PER_STEP {
                    let (next, mut gone) = shard.dict.scan_remove(c, |s| {
                        let exp = s.expire();
                        if exp == 0 {
                            return false;
                        }
                        sampled += 1;
                        if exp <= now {
                            // A running snapshot keeps the key as it was.
                            ks.snap.preserve_slot(db, s);
                            return true;
                        }
                        false
                    });
                    removed.append(&mut gone);
                    buckets += 1;
                    c = next;
                    if c == 0 {
                        break;
                    }
                }
                shard.expire_cursor = c;
                if !removed.is_empty() {
                    locked(db, &removed);
                }
                if !shard.watched.is_empty() {
                    for r in &removed {
                        shard.touch_watched(r.key());
                    }
                }
                if !shard.waiters.is_empty() {
                    for r in &removed {
                        if matches!(r.entry().value, crate::types::Value::Stream(_))
                            && shard.waiters.contains_key(r.key())
                        {
                            stats.streams_gone.push((db, r.key().into()));
                        }
                    }
                }
                let n = removed.len();
                shard.volatile -= n;
                if shard.volatile > 0 {
                    ks.dbs[db].hint_expiry();
                }
                shard.expired += n as u64;
                let rehash = |k: &[u8]| ks.hash(k);
                shard.dict.shrink_if_sparse(&rehash);
                (sampled, n)
            };
            stats.sampled += sampled as u64;
            stats.expired += expired as u64;
            let lazy = ks.lazy_expire.load(std::sync::atomic::Ordering::Relaxed);
            for r in removed {
                let k = r.free(lazy);
                on_expired(db, k.into());
            }
            if start.elapsed() >= budget {
                stats.timed_out = true;
                return stats;
            }
            if sampled == 0 || expired * 100 <= sampled * ACCEPTABLE_STALE_PCT {
                break;
            }
        }
    }
    stats
}

/// Active expiry of hash fields (Redis 7.4 field TTLs) in one shard: walks the shard's
/// set of hashes with field TTLs incrementally (SCAN cursor, so every such hash is
/// eventually visited), removes the fields whose TTL passed, deletes hashes left empty,
/// and forgets keys that are gone or have no field TTL any more. Returns the number of
/// fields removed; `touched` gets (key, emptied) for each hash that lost fields when
/// their keyspace events are enabled.
fn expire_hash_fields(
    ks: &Keyspace,
    db: usize,
    s: usize,
    now: u64,
    touched: &mut Vec<(Box<[u8]>, bool)>,
) -> usize {
    let _gate = ks.gate.read();
    let mut guard = ks.dbs[db].shards[s].lock();
    let shard = &mut *guard;
    if shard.hfe.is_empty() {
        return 0;
    }
    let rehash = |k: &[u8]| ks.hash(k);
    let mut fields = 0usize;
    let mut c = shard.hfe_cursor;
    let mut emptied: Vec<Box<[u8]>> = Vec::new();
    let report = ks.notifies(crate::config::notify::HASH | crate::config::notify::GENERIC);
    for _ in 0..HFE_BUCKETS_PER_STEP {
        let dict = &mut shard.dict;
        let (next, _) = shard.hfe.scan_remove(c, |key, _| {
            let h = ks.hash(key);
            let due = match dict.get(h, key).as_deref().map(|e| &e.value) {
                Some(Value::Hash(hv)) => fields < HFE_FIELDS_PER_STEP && hv.has_expired(now),
                _ => return true,
            };
            if due {
                // A running snapshot keeps the hash as it was.
                ks.snap.preserve_in(dict, db, h, key);
            }
            let Some(e) = dict.get_mut(h, key) else {
                return true;
            };
            let Value::Hash(hv) = &mut e.value else {
                return true;
            };
            if due {
                fields += hv.purge_expired(now, HFE_FIELDS_PER_STEP - fields);
                if report {
                    touched.push((key.into(), hv.is_empty()));
                }
                if hv.is_empty() {
                    emptied.push(key.into());
                    return true;
                }
            }
            !hv.has_field_ttls()
        });
        c = next;
        if c == 0 || fields >= HFE_FIELDS_PER_STEP {
            break;
        }
    }
    shard.hfe_cursor = c;
    for key in emptied {
        shard.touch_watched(&key);
        if let Some(e) = shard.dict.remove(ks.hash(&key), &key, &rehash) {
            if e.expire() != 0 {
                shard.volatile -= 1;
            }
        }
    }
    shard.hfe.shrink_if_sparse(&rehash);
    if !shard.hfe.is_empty() {
        ks.dbs[db].hint_expiry();
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::Txn;
    use crate::types::{StrValue, Value};

    #[test]
    fn reclaims_untouched_keys() {
        let ks = Keyspace::new(2);
        {
            let _g = ks.gate.write();
            let mut t = Txn::exclusive(&ks, 1000);
            for i in 0..10_000 {
                let k = format!("k{i}");
                t.set(
                    i % 2,
                    k.as_bytes(),
                    Value::Str(StrValue::from_bytes(b"v")),
                    false,
                );
                if i % 10 != 0 {
                    t.set_expire(i % 2, k.as_bytes(), 2000);
                }
            }
        }
        let mut cursor = ExpireCursor::default();
        let mut seen = 0;
        for _ in 0..1000 {
            active_expire_cycle(
                &ks,
                &mut cursor,
                || 5000,
                Duration::from_millis(50),
                &mut |_, _| seen += 1,
            );
            if ks.db_counts(0).0 + ks.db_counts(1).0 == 1000 {
                break;
            }
        }
        assert_eq!(seen, 9000);
        assert_eq!(ks.db_counts(0), (1000, 0)); // every persistent key (i % 10 == 0) is even
        assert_eq!(ks.db_counts(1), (0, 0));
    }

    #[test]
    fn reclaims_expired_hash_fields() {
        use crate::types::HashValue;
        let ks = Keyspace::new(1);
        {
            let _g = ks.gate.write();
            let mut t = Txn::exclusive(&ks, 1000);
            for i in 0..200 {
                let mut h = HashValue::new();
                h.set(b"keep", b"1", false, 512, 64);
                h.set(b"gone", b"2", false, 512, 64);
                h.set_field_expire(b"gone", 2000);
                if i % 2 == 0 {
                    h.remove(b"keep");
                }
                t.set(0, format!("h{i}").as_bytes(), Value::Hash(h), false);
            }
        }
        let mut cursor = ExpireCursor::default();
        let mut fields = 0;
        for _ in 0..100 {
            let st = active_expire_cycle(
                &ks,
                &mut cursor,
                || 5000,
                Duration::from_millis(50),
                &mut |_, _| {},
            );
            fields += st.expired_fields;
            if fields == 200 {
                break;
            }
        }
        assert_eq!(fields, 200);
        // Hashes left empty are deleted; the others keep their persistent field and
        // are no longer tracked.
        assert_eq!(ks.db_counts(0).0, 100);
        let tracked: usize = ks.dbs[0].shards.iter().map(|s| s.lock().hfe.len()).sum();
        assert_eq!(tracked, 0);
    }

    /// One cycle at time 5000 with a generous budget.
    fn one_cycle(ks: &Keyspace, cursor: &mut ExpireCursor) {
        active_expire_cycle(
            ks,
            cursor,
            || 5000,
            Duration::from_millis(50),
            &mut |_, _| {},
        );
    }

    /// Runs cycles until `db` holds `left` keys (at most 100 cycles).
    fn expire_until(ks: &Keyspace, cursor: &mut ExpireCursor, db: usize, left: usize) {
        for _ in 0..100 {
            one_cycle(ks, cursor);
            if ks.db_counts(db).0 == left {
                return;
            }
        }
        panic!("db {db} still has {} keys, not {left}", ks.db_counts(db).0);
    }

    /// Databases without TTLs are skipped by the cycle, and every way a key can get a
    /// TTL (SET with one, EXPIRE, RENAME/MOVE/RESTORE's insert, an overwrite with one,
    /// SWAPDB) brings the cycle back to its database.
    #[test]
    fn databases_without_ttls_are_skipped_until_a_key_gets_one() {
        let ks = Keyspace::new(16);
        let mut cursor = ExpireCursor::default();
        let v = || Value::Str(StrValue::from_bytes(b"v"));
        {
            let _g = ks.gate.write();
            let mut t = Txn::exclusive(&ks, 1000);
            t.set(3, b"persistent", v(), false);
        }
        one_cycle(&ks, &mut cursor);
        // One pass cleared every hint and nothing set one again.
        for db in 0..16 {
            assert!(!ks.dbs[db].take_expiry_hint(), "db {db} still hinted");
        }
        type Step = fn(&mut Txn, Value);
        let steps: [(&str, Step); 4] = [
            ("set_with_expire", |t, v| {
                t.set_with_expire(5, b"k", v, 2000)
            }),
            ("set_expire", |t, _| {
                t.set_expire(5, b"persistent5", 2000);
            }),
            ("insert_entry", |t, v| t.insert_entry(5, b"k", v, 2000, 0)),
            ("overwrite", |t, v| {
                t.set(5, b"k", v.clone(), false);
                t.set_with_expire(5, b"k", v, 2000);
            }),
        ];
        for (name, step) in steps {
            {
                let _g = ks.gate.write();
                let mut t = Txn::exclusive(&ks, 1000);
                t.set(5, b"persistent5", v(), false);
                step(&mut t, v());
            }
            let before = ks.db_counts(5).0;
            assert!(before >= 1, "{name}");
            expire_until(&ks, &mut cursor, 5, before - 1);
            {
                let _g = ks.gate.write();
                let mut t = Txn::exclusive(&ks, 1000);
                t.remove(5, b"persistent5");
                t.remove(5, b"k");
            }
        }
        // A TTL that moves to another database with SWAPDB.
        one_cycle(&ks, &mut cursor);
        {
            let _g = ks.gate.write();
            let mut t = Txn::exclusive(&ks, 1000);
            t.set_with_expire(9, b"moving", v(), 2000);
        }
        // Clear db 9's hint as a pass over it would, then swap it with db 12.
        assert!(ks.dbs[9].take_expiry_hint());
        assert!(!ks.dbs[12].take_expiry_hint());
        {
            let _g = ks.gate.write();
            let mut t = Txn::exclusive(&ks, 1000);
            t.swap_dbs(9, 12);
        }
        assert!(
            ks.dbs[12].take_expiry_hint(),
            "SWAPDB did not hint the TTL's new db"
        );
        ks.dbs[12].hint_expiry();
        expire_until(&ks, &mut cursor, 12, 0);
    }
}
