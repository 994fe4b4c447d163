//! Point-in-time views of the keyspace without fork: copy-on-write per value.
//!
//! Redis takes a snapshot (BGSAVE, AOF rewrite, replication's full sync) by forking: the
//! child sees the memory as it was, and the kernel copies each page the parent then
//! writes, so a write-heavy server can double its memory. Ferrodis keeps one process
//! and gets the same point-in-time view by preserving *values*, not pages:
//!
//! * Every [`Entry`] carries a one-bit mark, `snap`. A snapshot starts (under the
//!   exclusive gate, so no command is half-way) by flipping the keyspace's `parity`:
//!   from then on an entry whose mark differs from `parity` holds data the snapshot
//!   still has to write, and one whose mark equals it has been written already or was
//!   born after the snapshot's instant (new entries take the current parity).
//! * The saver walks each shard with the SCAN cursor (which never misses an entry
//!   present for the whole walk, whatever resizes happen), a short step at a time under
//!   the shard's lock, serializes the entries still unmarked and marks them.
//! * A command about to change or delete an unmarked entry first serializes its current
//!   value into the copy-on-write buffer ([`Cow`]) and marks it ([`Snapshot::preserve_slot`],
//!   called by every change path of `Txn`). The saver drains that buffer into the file.
//!   So the extra memory is the serialized size of what is written during the
//!   snapshot, never a copy of the dataset.
//! * FLUSHDB/FLUSHALL hand the flushed tables to the snapshot instead of freeing them
//!   ([`Snapshot::adopt`]); the saver writes their unmarked entries and frees them.
//! * A big value (thousands of elements, or a string of hundreds of KB) takes
//!   milliseconds to serialize. The saver does not hold the shard lock for that: it
//!   *checks the value out* under the lock ([`Snapshot::check_out`]), releases the
//!   lock, serializes it, and marks it when it has the lock again. Meanwhile other keys
//!   of the shard are free; a command that wants to change that very value waits in
//!   its preserve until the saver has read it (it would have had to serialize it
//!   itself otherwise).
//!
//! This module knows nothing about the file format: the persistence layer gives the
//! encoder ([`Encoder`]) when it starts a snapshot.
//!
//! With no snapshot running, the cost on the write path is one relaxed load.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

use super::table::NodePtr;
use super::{Entry, Slot, Table};
use crate::types::Value;

/// Serializes one key, its value and TTL (0: none) in the snapshot's format.
pub type Encoder = Arc<dyn Fn(&mut Vec<u8>, &[u8], &Value, u64) + Send + Sync>;

/// What writers set aside for the running snapshot.
#[derive(Default)]
pub struct Cow {
    /// Serialized entries, in runs per database: `(db, bytes)`.
    pub runs: Vec<(usize, Vec<u8>)>,
    /// Tables flushed while the snapshot ran: `(db, table)`.
    pub adopted: Vec<(usize, Table)>,
    /// Bytes in `runs` (INFO current_cow_size).
    pub bytes: usize,
    /// Entries serialized by writers.
    pub keys: u64,
    /// The running snapshot's encoder (kept by `drain`).
    encoder: Option<Encoder>,
}

/// The keyspace's snapshot state (one snapshot at a time).
#[derive(Default)]
pub struct Snapshot {
    /// Whether a snapshot is running (writers must preserve unmarked entries).
    active: AtomicBool,
    /// The mark of entries written or born since the current/last snapshot began.
    parity: AtomicU8,
    cow: Mutex<Cow>,
    /// Peak of `Cow::bytes` during the current snapshot (INFO current_cow_peak).
    pub cow_peak: AtomicU64,
    /// Bytes set aside by the current snapshot so far (never decreases).
    pub cow_total: AtomicU64,
    /// The node (address) whose big value the saver is serializing without its shard
    /// lock ([`Snapshot::check_out`]); 0: none. Set and cleared under that shard's
    /// lock.
    out: AtomicUsize,
    /// Whether the saver is done reading the checked-out value; writers that need it
    /// wait on `out_cv`.
    out_done: Mutex<bool>,
    out_cv: Condvar,
}

impl Snapshot {
    /// The mark a new entry gets.
    #[inline]
    pub fn parity(&self) -> u8 {
        self.parity.load(Ordering::Relaxed)
    }

    #[inline]
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// Starts a snapshot. The caller must hold the gate exclusively (no command is
    /// running, so every existing entry is either unmarked or born before) and there
    /// must be no snapshot running. Returns the new parity.
    pub fn begin(&self, encoder: Encoder) -> u8 {
        let p = self.parity() ^ 1;
        *self.cow.lock() = Cow {
            encoder: Some(encoder),
            ..Cow::default()
        };
        self.cow_peak.store(0, Ordering::Relaxed);
        self.cow_total.store(0, Ordering::Relaxed);
        self.out.store(0, Ordering::SeqCst);
        self.parity.store(p, Ordering::Relaxed);
        self.active.store(true, Ordering::SeqCst);
        p
    }

    /// Ends the snapshot (after the saver has visited every shard, so no unmarked entry
    /// remains; or to abandon it). Whatever writers set aside is dropped.
    pub fn end(&self) {
        self.active.store(false, Ordering::SeqCst);
        *self.cow.lock() = Cow::default();
    }

    /// Takes what writers set aside so far.
    pub fn drain(&self) -> Cow {
        let mut cow = self.cow.lock();
        let encoder = cow.encoder.clone();
        let taken = std::mem::take(&mut *cow);
        cow.encoder = encoder;
        taken
    }

    /// Before the entry of `s` (of database `db`) changes or goes away: if the running
    /// snapshot has not written it yet, serialize its current state for the snapshot
    /// and mark it. The caller holds the entry's shard lock. Every change to a value
    /// starts here, before any `&mut` to it exists: a big value the saver is reading
    /// outside the lock ([`Snapshot::check_out`]) is waited for, not copied.
    #[inline]
    pub fn preserve_slot(&self, db: usize, s: &mut Slot<'_>) {
        if self.active() && s.snap() != self.parity() {
            self.preserve_slow(db, s);
        }
    }

    #[cold]
    fn preserve_slow(&self, db: usize, s: &mut Slot<'_>) {
        if self.out.load(Ordering::SeqCst) == s.node().addr() {
            // The saver is writing this value itself: wait until it has read it, then
            // mark it written (we hold the shard lock, as `settle` would).
            let mut done = self.out_done.lock();
            while !*done {
                self.out_cv.wait(&mut done);
            }
            drop(done);
            s.set_snap(self.parity());
            self.out.store(0, Ordering::SeqCst);
            return;
        }
        let written = {
            let e = s.entry();
            self.write_aside(db, s.key(), &e.value, e.expire())
        };
        if written {
            s.set_snap(self.parity());
        }
    }

    /// The saver, holding the gate shared and the node's shard lock, takes the node's
    /// (big) value out to serialize it after releasing the shard lock, so other keys of
    /// the shard are not held up meanwhile. Nobody changes or frees the value until
    /// [`Snapshot::done_reading`]: every change starts with a preserve, which waits,
    /// and nothing that moves nodes between tables (SWAPDB, FLUSHALL) runs while the
    /// saver holds the gate. The saver then marks the node with [`Snapshot::settle`]
    /// under the shard lock (unless a waiting writer did).
    pub fn check_out(&self, n: NodePtr) {
        *self.out_done.lock() = false;
        self.out.store(n.addr(), Ordering::SeqCst);
    }

    /// The saver has read the checked-out value: writers waiting for it go on.
    pub fn done_reading(&self) {
        *self.out_done.lock() = true;
        self.out_cv.notify_all();
    }

    /// The saver, holding the checked-out node's shard lock again: marks it written
    /// unless a writer already did.
    pub fn settle(&self, n: NodePtr, parity: u8) {
        if self.out.load(Ordering::SeqCst) == n.addr() {
            // SAFETY: still checked out, so not freed (see `check_out`); the caller
            // holds its shard lock.
            unsafe { n.set_snap(parity) };
            self.out.store(0, Ordering::SeqCst);
        }
    }

    /// [`Snapshot::preserve_slot`] for `key` (hashed `h`) of `dict`, if it is there: before
    /// it is removed or replaced in place.
    #[inline]
    pub fn preserve_in(&self, dict: &mut Table, db: usize, h: u64, key: &[u8]) {
        if self.active() {
            if let Some(mut s) = dict.slot(h, key) {
                self.preserve_slot(db, &mut s);
            }
        }
    }

    /// Serializes `e` into the copy-on-write buffer; the caller marks it if this
    /// returns true (false: the snapshot is ending and has no encoder any more).
    #[cold]
    fn write_aside(&self, db: usize, key: &[u8], value: &Value, expire: u64) -> bool {
        let mut guard = self.cow.lock();
        let cow = &mut *guard;
        let Some(encode) = cow.encoder.clone() else {
            return false;
        };
        let before = cow.bytes;
        let run = match cow.runs.last_mut() {
            Some((d, buf)) if *d == db => buf,
            _ => {
                cow.runs.push((db, Vec::new()));
                let last = cow.runs.len() - 1;
                &mut cow.runs[last].1
            }
        };
        let len0 = run.len();
        encode(run, key, value, expire);
        let added = run.len() - len0;
        cow.bytes = before + added;
        cow.keys += 1;
        self.cow_peak.fetch_max(cow.bytes as u64, Ordering::Relaxed);
        self.cow_total.fetch_add(added as u64, Ordering::Relaxed);
        true
    }

    /// A table being flushed from database `db`: kept for the running snapshot (which
    /// writes its unmarked entries and frees it) instead of being freed now. Returns
    /// the table back when no snapshot runs.
    pub fn adopt(&self, db: usize, table: Table) -> Option<Table> {
        if !self.active() || table.is_empty() {
            return Some(table);
        }
        self.cow.lock().adopted.push((db, table));
        None
    }

    /// The saver's visit of an entry: serializes it with `encode` if it is unmarked
    /// (`parity` is the running snapshot's), and marks it. Returns whether it was
    /// written.
    #[inline]
    pub fn visit(parity: u8, encode: &Encoder, out: &mut Vec<u8>, s: &mut Slot<'_>) -> bool {
        if s.snap() == parity {
            return false;
        }
        let e = s.entry();
        encode(out, s.key(), &e.value, e.expire());
        drop(e);
        s.set_snap(parity);
        true
    }

    /// Whether `e` still has to be written by the running snapshot.
    #[inline]
    pub fn pending(&self, e: &Entry) -> bool {
        self.active() && e.snap != self.parity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::Entry;
    use crate::types::{StrValue, Value};

    fn h(k: &[u8]) -> u64 {
        k.iter()
            .fold(7u64, |a, &b| a.wrapping_mul(31).wrapping_add(b as u64))
    }

    #[test]
    fn a_writer_waits_for_a_checked_out_value_instead_of_copying_it() {
        let snap = Arc::new(Snapshot::default());
        let encoded = Arc::new(AtomicU64::new(0));
        let counter = encoded.clone();
        let enc: Encoder = Arc::new(move |buf: &mut Vec<u8>, key: &[u8], _v, _e| {
            counter.fetch_add(1, Ordering::SeqCst);
            buf.extend_from_slice(key);
        });
        let mut t = Table::new();
        for k in [&b"big"[..], b"other"] {
            let v = Value::Str(StrValue::Int(1));
            t.insert_new(h(k), k, Entry::new(v, 0, 0, 0), &h);
        }
        let parity = snap.begin(enc);
        let node = t.slot(h(b"big"), b"big").map(|s| s.node());
        let node = node.expect("present");
        snap.check_out(node);
        let table = Arc::new(Mutex::new(t));
        let released = Arc::new(AtomicBool::new(false));
        let writer = {
            let (snap, table, released) = (snap.clone(), table.clone(), released.clone());
            std::thread::spawn(move || {
                let mut t = table.lock();
                snap.preserve_in(&mut t, 0, h(b"big"), b"big");
                // Only after the saver has read the value, and marked written.
                assert!(released.load(Ordering::SeqCst));
                let s = t.slot(h(b"big"), b"big").expect("present");
                assert_eq!(s.snap(), snap.parity());
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(!writer.is_finished(), "the writer must wait for the saver");
        released.store(true, Ordering::SeqCst);
        snap.done_reading();
        writer.join().expect("writer");
        // The writer did not serialize it (the saver does); `settle` finds it marked.
        assert_eq!(encoded.load(Ordering::SeqCst), 0);
        let mut t = table.lock();
        snap.settle(node, parity);
        // Another key is preserved (copied) as usual.
        snap.preserve_in(&mut t, 0, h(b"other"), b"other");
        assert_eq!(encoded.load(Ordering::SeqCst), 1);
        assert_eq!(snap.drain().keys, 1);
        snap.end();
    }
}
