//! Clients blocked on keys (BLPOP, BLMOVE, BZPOPMIN, ... and later XREAD BLOCK).
//!
//! A blocked client is a [`Waiter`]: its command's arguments, the keys it waits on,
//! and a small state machine. The waiter is queued (FIFO) on each of its keys in the
//! shard that holds the key, so registering and serving happen under the same shard
//! lock as the writes that make a key ready:
//!
//! * A blocking command that finds nothing to pop registers itself on all its keys
//!   while the dispatcher still holds those keys' shard locks: no push can slip in
//!   between "empty" and "registered".
//! * A write that creates a list or sorted set under a key with waiters records the
//!   key as *ready* ([`Txn::ready`](super::Txn)); before the writer's locks are released
//!   the dispatcher serves the key's waiters in order, moving elements straight into
//!   their replies, so no other client can take them in between.
//! * The waiter's connection task sleeps until the reply is ready, its timeout passes,
//!   CLIENT UNBLOCK cancels it, or the connection closes. To leave, it locks its keys'
//!   shards and removes itself from their queues; under those locks no server is in
//!   the middle of serving it, so it sees either "served" (and delivers that reply,
//!   even if the timeout fired at the same moment) or "still waiting".

use std::sync::Arc;

use parking_lot::Mutex;

/// Why a waiter stopped waiting without being served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cancel {
    /// Timeout passed, or CLIENT UNBLOCK ... TIMEOUT: reply as on timeout.
    Timeout,
    /// CLIENT UNBLOCK ... ERROR.
    Error,
    /// The connection went away.
    Gone,
}

#[derive(Debug)]
enum State {
    Waiting,
    /// A server is serving it right now (only while holding a key's shard lock).
    Claimed,
    /// Served: the reply bytes, in the waiter's protocol.
    Done(Vec<u8>),
    Cancelled(Cancel),
}

/// One blocked client.
pub struct Waiter {
    pub client_id: u64,
    pub db: usize,
    /// The command as the client sent it (served by that command's `on_ready`).
    pub argv: Vec<Box<[u8]>>,
    /// Keys it waits on, in the command's order.
    pub keys: Vec<Box<[u8]>>,
    /// Every key serving it may touch (the waited keys plus e.g. BLMOVE's destination):
    /// a writer that may serve it locks all of these before running.
    pub touches: Vec<Box<[u8]>>,
    /// RESP3 client (replies are formatted for its protocol).
    pub resp3: bool,
    /// Unix ms deadline; 0 = wait forever.
    pub deadline_ms: u64,
    state: Mutex<State>,
    pub notify: tokio::sync::Notify,
}

impl Waiter {
    pub fn new(
        client_id: u64,
        db: usize,
        argv: Vec<Box<[u8]>>,
        keys: Vec<Box<[u8]>>,
        touches: Vec<Box<[u8]>>,
        resp3: bool,
        deadline_ms: u64,
    ) -> Arc<Waiter> {
        Arc::new(Waiter {
            client_id,
            db,
            argv,
            keys,
            touches,
            resp3,
            deadline_ms,
            state: Mutex::new(State::Waiting),
            notify: tokio::sync::Notify::new(),
        })
    }

    /// Claims the waiter for serving; false if it was served or cancelled already.
    /// Call only while holding the shard lock of a key it waits on.
    pub fn try_claim(&self) -> bool {
        let mut s = self.state.lock();
        if matches!(*s, State::Waiting) {
            *s = State::Claimed;
            true
        } else {
            false
        }
    }

    /// Gives a claimed waiter back (the key turned out not to serve it).
    pub fn unclaim(&self) {
        let mut s = self.state.lock();
        if matches!(*s, State::Claimed) {
            *s = State::Waiting;
        }
    }

    /// Completes a claimed waiter with its reply and wakes its connection.
    pub fn complete(&self, reply: Vec<u8>) {
        *self.state.lock() = State::Done(reply);
        self.notify.notify_one();
    }

    /// Cancels a waiting waiter from outside (CLIENT UNBLOCK). False if it was not
    /// waiting (already served or cancelled).
    pub fn cancel(&self, why: Cancel) -> bool {
        let mut s = self.state.lock();
        if matches!(*s, State::Waiting) {
            *s = State::Cancelled(why);
            drop(s);
            self.notify.notify_one();
            true
        } else {
            false
        }
    }

    /// Whether a reply or a cancellation is there to be picked up.
    pub fn is_settled(&self) -> bool {
        matches!(*self.state.lock(), State::Done(_) | State::Cancelled(_))
    }

    /// Called by the waiter's own connection, after removing the waiter from its keys'
    /// queues (so nobody can be serving it): the served reply, or why it ended.
    /// `why` is used when it was still waiting.
    pub fn finish(&self, why: Cancel) -> Result<Vec<u8>, Cancel> {
        let mut s = self.state.lock();
        match std::mem::replace(&mut *s, State::Cancelled(why)) {
            State::Done(r) => Ok(r),
            State::Cancelled(c) => Err(c),
            State::Waiting | State::Claimed => Err(why),
        }
    }
}
