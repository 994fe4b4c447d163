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
//!   value into the copy-on-write buffer ([`Cow`]) and marks it ([`Snapshot::preserve`],
//!   called by every change path of `Txn`). The saver drains that buffer into the file.
//!   So the extra memory is the serialized size of what is written during the
//!   snapshot, never a copy of the dataset.
//! * FLUSHDB/FLUSHALL hand the flushed tables to the snapshot instead of freeing them
//!   ([`Snapshot::adopt`]); the saver writes their unmarked entries and frees them.
//!
//! This module knows nothing about the file format: the persistence layer gives the
//! encoder ([`Encoder`]) when it starts a snapshot.
//!
//! With no snapshot running, the cost on the write path is one relaxed load.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::{Entry, Slot, Table};

/// Serializes one key and its entry (expire, type, key, value) in the snapshot's format.
pub type Encoder = Arc<dyn Fn(&mut Vec<u8>, &[u8], &Entry) + Send + Sync>;

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

    /// Before `e` (key `key` of database `db`) changes or goes away: if the running
    /// snapshot has not written it yet, serialize its current state for the snapshot
    /// and mark it. The caller holds the entry's shard lock.
    #[inline]
    pub fn preserve(&self, db: usize, key: &[u8], e: &mut Entry) {
        if self.active() && e.snap != self.parity() && self.write_aside(db, key, e) {
            e.snap = self.parity();
        }
    }

    /// [`Snapshot::preserve`] for a node found as a [`Slot`].
    #[inline]
    pub fn preserve_slot(&self, db: usize, s: &mut Slot<'_>) {
        if self.active() && s.snap() != self.parity() && self.write_aside(db, s.key(), &s.entry()) {
            s.set_snap(self.parity());
        }
    }

    /// [`Snapshot::preserve`] for `key` (hashed `h`) of `dict`, if it is there: before
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
    fn write_aside(&self, db: usize, key: &[u8], e: &Entry) -> bool {
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
        encode(run, key, e);
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
        encode(out, s.key(), &s.entry());
        s.set_snap(parity);
        true
    }

    /// Whether `e` still has to be written by the running snapshot.
    #[inline]
    pub fn pending(&self, e: &Entry) -> bool {
        self.active() && e.snap != self.parity()
    }
}
