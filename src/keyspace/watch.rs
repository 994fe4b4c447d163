//! WATCH: optimistic locking for MULTI/EXEC.
//!
//! A client that WATCHes keys owns one [`Watcher`]; the watcher is registered under
//! each watched key in the key's shard (`Shard::watched`), next to the data, so that
//! every change to a key can flag its watchers while the change's shard lock is held.
//! EXEC then refuses to run (null reply) if the flag is set.
//!
//! What counts as a change (Redis's `signalModifiedKey`/`touchWatchedKey`): writing
//! a value (`Txn::set`, `insert_entry`), deleting a key (DEL, RENAME away, lazy and
//! active expiry), changing its TTL, FLUSHDB/FLUSHALL and SWAPDB of a database where
//! the key existed, and in-place changes through `Txn::get_mut` by a command that
//! changed something (its dirty counter moved; a no-op such as SADD of an existing
//! member does not count, as in Redis).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The watch state of one client (shared by all the keys it watches).
#[derive(Debug, Default)]
pub struct Watcher {
    dirty: AtomicBool,
}

impl Watcher {
    pub fn new() -> Arc<Watcher> {
        Arc::new(Watcher::default())
    }

    /// One of the watched keys changed: the next EXEC fails.
    pub fn touch(&self) {
        self.dirty.store(true, Ordering::Release);
    }

    pub fn is_dirty(&self) -> bool {
        self.dirty.load(Ordering::Acquire)
    }
}

/// The tracking half of Redis's `signalModifiedKey` (the other half is
/// [`Watcher::touch`]): the keys a command changed, collected at the same points that
/// touch WATCHers, for client-side caching invalidation (`server::tracking`).
///
/// Collected only while `on` (some client uses CLIENT TRACKING or tracked keys remain,
/// read once per command from `Keyspace::tracking`), so the hot path pays one branch
/// per change otherwise.
#[derive(Debug, Default)]
pub struct Modified {
    pub on: bool,
    /// Keys changed, with whether the running client changed them (false: expiry).
    pub keys: Vec<(Box<[u8]>, bool)>,
    /// Keys reached through `Txn::get_mut`: count as changed at the end of the command
    /// if it changed anything, exactly like WATCH's candidates.
    pub candidates: Vec<Box<[u8]>>,
    /// FLUSHDB/FLUSHALL ran: every tracking client gets the null invalidation.
    pub flushed: bool,
}

impl Modified {
    /// Records a change to `key`.
    #[inline]
    pub fn key(&mut self, key: &[u8], by_client: bool) {
        if self.on {
            self.keys.push((key.into(), by_client));
        }
    }
}
