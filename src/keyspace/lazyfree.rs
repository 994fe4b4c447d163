//! Lazy freeing: values that are expensive to free (a big set, hash, sorted set, list
//! or stream) are handed to a background thread instead of being dropped while the
//! command holds its shard locks, as Redis's `lazyfree.c` does. UNLINK always frees
//! this way; DEL, eviction and active expiry when `lazyfree-lazy-user-del`,
//! `lazyfree-lazy-eviction` and `lazyfree-lazy-expire` say so.
//!
//! Invariants: only values whose [`Value::free_effort`] exceeds [`THRESHOLD`] (Redis's
//! `LAZYFREE_THRESHOLD`, 64) go to the thread: a small value is cheaper to drop than to
//! send. The thread is started on first use; if it cannot be started the value is
//! dropped in place (the command still completes). `pending` / `freed` feed INFO's
//! `lazyfree_pending_objects` / `lazyfreed_objects`.
//!
//! FLUSHDB/FLUSHALL ASYNC hand whole tables to the same thread ([`free_tables`]); they
//! count as one object per key, as in Redis's `emptyDbAsync`.
//!
//! A big value freed in place (DEL with `lazyfree-lazy-user-del no`) is dropped through
//! [`blocking`]: the command still waits for it, but the tokio worker running it hands
//! its other connections (and the I/O driver) to another thread first, so only the
//! clients of the value's shard wait, not the whole server.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Mutex, OnceLock};

use super::Table;
use crate::types::Value;

/// Values with more allocations than this are freed in the background.
pub const THRESHOLD: usize = 64;

/// Values with more allocations than this (about a millisecond of work or more) that
/// are freed in place are dropped through [`blocking`].
pub const BLOCKING_EFFORT: usize = 8192;

static PENDING: AtomicU64 = AtomicU64::new(0);
static FREED: AtomicU64 = AtomicU64::new(0);
static QUEUE: OnceLock<Option<Mutex<Sender<Job>>>> = OnceLock::new();

/// What the thread frees, and how many objects it counts for.
enum Job {
    Value(Value),
    Tables(Vec<Table>, u64),
}

impl Job {
    fn objects(&self) -> u64 {
        match self {
            Job::Value(_) => 1,
            Job::Tables(_, n) => *n,
        }
    }
}

fn queue() -> Option<&'static Mutex<Sender<Job>>> {
    QUEUE
        .get_or_init(|| {
            let (tx, rx) = channel::<Job>();
            std::thread::Builder::new()
                .name("ferrodis-lazyfree".into())
                .spawn(move || {
                    for job in rx {
                        let n = job.objects();
                        match job {
                            Job::Value(v) => drop(v),
                            Job::Tables(tables, _) => drop(tables),
                        }
                        PENDING.fetch_sub(n, Ordering::Relaxed);
                        FREED.fetch_add(n, Ordering::Relaxed);
                    }
                })
                .ok()
                .map(|_| Mutex::new(tx))
        })
        .as_ref()
}

/// Sends `job` to the thread; gives it back if the thread is not there.
fn send(job: Job) -> Result<(), Job> {
    let Some(q) = queue() else {
        return Err(job);
    };
    let n = job.objects();
    PENDING.fetch_add(n, Ordering::Relaxed);
    let sent = match q.lock() {
        Ok(tx) => tx.send(job).map_err(|e| e.0),
        Err(_) => Err(job),
    };
    if sent.is_err() {
        PENDING.fetch_sub(n, Ordering::Relaxed);
    }
    sent
}

/// Runs `f`, which may take long, without holding up the other connections of the
/// tokio worker it runs on: on a multi-threaded runtime's worker the worker's queue
/// and the I/O driver are handed to another thread meanwhile
/// (`tokio::task::block_in_place`); elsewhere (cron, background threads, a
/// single-threaded runtime) `f` just runs.
pub fn blocking<R>(f: impl FnOnce() -> R) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// Drops `v` here, through [`blocking`] when it is big.
fn drop_here(v: Value) {
    if matches!(v, Value::Str(_)) || v.free_effort() <= BLOCKING_EFFORT {
        drop(v);
    } else {
        blocking(move || drop(v));
    }
}

/// Frees tables removed by FLUSHDB/FLUSHALL ASYNC (`objects` keys in all) in the
/// background; in place (through [`blocking`]) if the thread cannot be started.
pub fn free_tables(tables: Vec<Table>, objects: u64) {
    if tables.is_empty() {
        return;
    }
    if let Err(job) = send(Job::Tables(tables, objects)) {
        blocking(move || drop(job));
    }
}

/// Frees `v`: in the background when it is expensive, here otherwise. Returns true if
/// the value went to the background thread.
pub fn free(v: Value) -> bool {
    if v.free_effort() <= THRESHOLD {
        drop(v);
        return false;
    }
    match send(Job::Value(v)) {
        Ok(()) => true,
        Err(job) => {
            blocking(move || drop(job));
            false
        }
    }
}

/// Frees `v` lazily if `lazy`, else drops it here (see [`blocking`] for big values).
pub fn free_if(lazy: bool, v: Value) {
    if lazy {
        free(v);
    } else {
        drop_here(v);
    }
}

/// Objects waiting to be freed (INFO `lazyfree_pending_objects`).
pub fn pending() -> u64 {
    PENDING.load(Ordering::Relaxed)
}

/// Objects freed in the background since startup (INFO `lazyfreed_objects`).
pub fn freed() -> u64 {
    FREED.load(Ordering::Relaxed)
}

/// CONFIG RESETSTAT.
pub fn reset_stats() {
    FREED.store(0, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::set::SetValue;

    #[test]
    fn big_values_go_to_the_thread() {
        assert!(!free(Value::Str(
            crate::types::string::StrValue::from_bytes(b"x")
        )));
        let mut s = SetValue::default();
        for i in 0..1000 {
            s.add(format!("member-{i}").as_bytes(), 512);
        }
        assert_eq!(s.len(), 1000);
        let v = Value::Set(s);
        assert_eq!(v.encoding(), "hashtable");
        assert!(v.free_effort() > THRESHOLD);
        let before = freed();
        assert!(free(v));
        for _ in 0..1000 {
            if freed() > before {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        panic!("the lazyfree thread did not free the value");
    }
}
