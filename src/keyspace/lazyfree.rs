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

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Mutex, OnceLock};

use crate::types::Value;

/// Values with more allocations than this are freed in the background.
pub const THRESHOLD: usize = 64;

static PENDING: AtomicU64 = AtomicU64::new(0);
static FREED: AtomicU64 = AtomicU64::new(0);
static QUEUE: OnceLock<Option<Mutex<Sender<Value>>>> = OnceLock::new();

fn queue() -> Option<&'static Mutex<Sender<Value>>> {
    QUEUE
        .get_or_init(|| {
            let (tx, rx) = channel::<Value>();
            std::thread::Builder::new()
                .name("ferrodis-lazyfree".into())
                .spawn(move || {
                    for v in rx {
                        drop(v);
                        PENDING.fetch_sub(1, Ordering::Relaxed);
                        FREED.fetch_add(1, Ordering::Relaxed);
                    }
                })
                .ok()
                .map(|_| Mutex::new(tx))
        })
        .as_ref()
}

/// Frees `v`: in the background when it is expensive, here otherwise. Returns true if
/// the value went to the background thread.
pub fn free(v: Value) -> bool {
    if v.free_effort() <= THRESHOLD {
        drop(v);
        return false;
    }
    let Some(q) = queue() else {
        drop(v);
        return false;
    };
    PENDING.fetch_add(1, Ordering::Relaxed);
    let sent = match q.lock() {
        Ok(tx) => tx.send(v).map_err(|e| e.0),
        Err(_) => Err(v),
    };
    match sent {
        Ok(()) => true,
        Err(v) => {
            PENDING.fetch_sub(1, Ordering::Relaxed);
            drop(v);
            false
        }
    }
}

/// Frees `v` lazily if `lazy`, else drops it here.
pub fn free_if(lazy: bool, v: Value) {
    if lazy {
        free(v);
    } else {
        drop(v);
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
