//! CLIENT PAUSE / CLIENT UNPAUSE, as Redis 7.0 (`pauseClients`, `blockPostponeClient`).
//!
//! A pause has a kind (WRITE or ALL) and an end time; a new pause only escalates the
//! kind and only extends the end (a shorter or weaker one changes nothing). While a
//! pause lasts:
//!
//! * a client whose next command is paused (every command under ALL; under WRITE a
//!   command flagged `write` or `may-replicate`, EXEC of a transaction holding such a
//!   command, EVAL/EVALSHA/FCALL unless the script or function declares `no-writes`)
//!   gets no reply: the connection stops before that command and awaits the end of the
//!   pause ([`wait`], a notification, no worker thread blocked). Commands before it in
//!   the same pipeline are answered.
//! * keys are neither expired actively (the cron skips its cycle) nor lazily (an
//!   expired key reads as missing but stays, through `Keyspace::expire_paused_until`),
//!   and nothing is evicted.
//!
//! When the pause ends (timeout or UNPAUSE) the waiting clients run their postponed
//! commands in the order they were postponed: each holds a [`Ticket`] and proceeds
//! only when it holds the smallest one, which it gives back after running the batch.
//!
//! The hot path costs one relaxed load per command ([`Pause::active`]).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

use crate::commands::flags;
use crate::server::client::ClientState;
use crate::server::Server;
use crate::util::time::now_ms;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Write = 1,
    All = 2,
}

#[derive(Default)]
pub struct Pause {
    /// Unix ms at which the current pause ends; 0 when there is none. Read without
    /// the lock on every command.
    until: AtomicU64,
    /// The pause itself: kind and end.
    state: Mutex<Option<(Kind, u64)>>,
    /// Tickets of the clients waiting (or about to run after the pause), in order.
    queue: Mutex<BTreeSet<u64>>,
    next_ticket: AtomicU64,
    /// Woken on UNPAUSE, on a pause change and when a ticket is given back.
    changed: tokio::sync::Notify,
}

/// A paused client's place in line; given back (and the next one woken) on drop.
pub struct Ticket<'a> {
    pause: &'a Pause,
    n: u64,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        self.pause.queue.lock().remove(&self.n);
        self.pause.changed.notify_waiters();
    }
}

impl Pause {
    /// Whether a pause may be in effect (cheap; [`Pause::current`] decides).
    #[inline]
    pub fn active(&self) -> bool {
        self.until.load(Ordering::Relaxed) != 0
    }

    /// The pause in effect now, ending it if its time has passed.
    pub fn current(&self, srv: &Server) -> Option<(Kind, u64)> {
        if !self.active() {
            return None;
        }
        let mut st = self.state.lock();
        match *st {
            Some((_, end)) if end <= now_ms() => {
                *st = None;
                drop(st);
                self.clear(srv);
                None
            }
            s => s,
        }
    }

    /// CLIENT PAUSE: starts a pause, or escalates / extends the current one.
    pub fn pause(&self, srv: &Server, kind: Kind, end: u64) {
        let mut st = self.state.lock();
        let now = now_ms();
        let (k, e) = match *st {
            Some((k, e)) if e > now => (k.max(kind), e.max(end)),
            _ => (kind, end),
        };
        *st = Some((k, e));
        // Keep `until` non-zero while paused, even for an end already passed.
        self.until.store(e.max(1), Ordering::Relaxed);
        srv.ks.expire_paused_until.store(e, Ordering::Relaxed);
        drop(st);
        self.changed.notify_waiters();
    }

    /// CLIENT UNPAUSE.
    pub fn unpause(&self, srv: &Server) {
        *self.state.lock() = None;
        self.clear(srv);
    }

    fn clear(&self, srv: &Server) {
        self.until.store(0, Ordering::Relaxed);
        srv.ks.expire_paused_until.store(0, Ordering::Relaxed);
        self.changed.notify_waiters();
    }

    /// Whether expiry and eviction are suspended (any pause in effect).
    pub fn suspends_expiry(&self, srv: &Server) -> bool {
        self.current(srv).is_some()
    }
}

/// Whether the command `args` of `client` must wait for the pause to end. Only called
/// when [`Pause::active`].
/// CLIENT LIST shows a postponed command as the client's last one, as Redis does.
pub fn must_wait(srv: &Server, client: &mut ClientState, args: &[&[u8]]) -> bool {
    let wait = postponed(srv, client, args);
    if wait {
        if let Ok(c) = srv.commands.resolve(args) {
            client.last_cmd = Some(c);
        }
    }
    wait
}

fn postponed(srv: &Server, client: &ClientState, args: &[&[u8]]) -> bool {
    if client.loader {
        return false;
    }
    let Some((kind, _)) = srv.pause.current(srv) else {
        return false;
    };
    // Unknown commands, arity errors and unauthenticated clients get their error at
    // once (Redis checks these before the pause).
    let Ok((cmd, _)) = srv.commands.resolve(args) else {
        return false;
    };
    if !client.authenticated && !cmd.has(flags::NO_AUTH) {
        return false;
    }
    if kind == Kind::All {
        return true;
    }
    // Queued into MULTI: EXEC decides (but a write is postponed before queueing, as in
    // Redis, which checks the pause before queueing).
    if client.multi.is_some() && cmd.name == "exec" {
        return crate::server::multi::queued_with(srv, client, flags::WRITE)
            || crate::server::multi::queued_with(srv, client, flags::MAY_REPLICATE);
    }
    if !(cmd.has(flags::WRITE) || cmd.has(flags::MAY_REPLICATE)) {
        return false;
    }
    // Scripts and functions declaring `no-writes` are not postponed (Redis replaces
    // the command's flags by the script's).
    !script_declares_no_writes(srv, cmd.name, args)
}

fn script_declares_no_writes(srv: &Server, name: &str, args: &[&[u8]]) -> bool {
    let Some(&body) = args.get(1) else {
        return false;
    };
    match name {
        "eval" => crate::commands::scripting::shebang_no_writes(body),
        "evalsha" => crate::scripting::sha_key(body)
            .and_then(|sha| srv.scripts.lock().no_writes(&sha))
            .unwrap_or(false),
        "fcall" => {
            let name = String::from_utf8_lossy(body);
            srv.functions
                .lib
                .lock()
                .functions
                .get(name.as_ref())
                .is_some_and(|f| f.flags & crate::scripting::functions::NO_WRITES != 0)
        }
        _ => false,
    }
}

/// Waits until the pause no longer holds `args`'s command and it is this client's
/// turn. `ticket` keeps the client's place across calls; the caller drops it once the
/// postponed command ran. Meanwhile what the client sends is read into `input` (whose
/// unprocessed part starts at `start`), so that a client that disconnects or is
/// killed is freed at once and its postponed command never runs, as in Redis: returns
/// false then (or when the query buffer passes its limit).
pub async fn wait<'a, S: tokio::io::AsyncRead + Unpin>(
    srv: &'a Server,
    client: &ClientState,
    ticket: &mut Option<Ticket<'a>>,
    stream: &mut S,
    input: &mut Vec<u8>,
    start: usize,
) -> bool {
    use tokio::io::AsyncReadExt;
    let pause = &srv.pause;
    let n = match ticket {
        Some(t) => t.n,
        None => {
            let n = pause.next_ticket.fetch_add(1, Ordering::Relaxed);
            pause.queue.lock().insert(n);
            *ticket = Some(Ticket { pause, n });
            n
        }
    };
    srv.stats.blocked_clients.fetch_add(1, Ordering::Relaxed);
    let info = client.info.clone();
    info.paused.store(true, Ordering::Relaxed);
    let killed = loop {
        let changed = pause.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        if info.killed.load(Ordering::Relaxed) {
            break true;
        }
        let sleep = match pause.current(srv) {
            Some((_, end)) => Duration::from_millis(end.saturating_sub(now_ms()).max(1)),
            None => {
                // The pause is over: go when every earlier postponed client went.
                if pause.queue.lock().first().is_none_or(|&f| f >= n) {
                    break false;
                }
                Duration::from_secs(3600)
            }
        };
        if input.capacity() - input.len() < 1024 {
            input.reserve(16 * 1024);
        }
        tokio::select! {
            _ = &mut changed => {}
            _ = tokio::time::sleep(sleep) => {}
            _ = info.kill_notify.notified() => break true,
            r = stream.read_buf(input) => match r {
                Ok(0) | Err(_) => break true,
                Ok(n) => {
                    srv.stats.net_input_bytes.fetch_add(n as u64, Ordering::Relaxed);
                    let limit = srv.hot.client_query_buffer_limit.load(Ordering::Relaxed);
                    if input.len().saturating_sub(start) as u64 > limit {
                        crate::server::log::warning(&format!(
                            "Closing client that reached max query buffer length: id={} addr={}",
                            client.id, info.addr
                        ));
                        break true;
                    }
                }
            },
        }
    };
    srv.stats.blocked_clients.fetch_sub(1, Ordering::Relaxed);
    info.paused.store(false, Ordering::Relaxed);
    !killed
}

#[cfg(test)]
mod tests {
    use crate::keyspace::{Keyspace, Txn};
    use crate::types::{StrValue, Value};
    use std::sync::atomic::Ordering;

    #[test]
    fn expired_keys_stay_but_read_as_missing_while_paused() {
        let ks = Keyspace::new(1);
        let _gate = ks.gate.read();
        {
            let mut t = Txn::shared(&ks, 1_000);
            t.lock_keys(0, [b"k".as_slice()].into_iter());
            t.set(0, b"k", Value::Str(StrValue::from_bytes(b"v")), false);
            t.set_expire(0, b"k", 1_500);
        }
        ks.expire_paused_until.store(10_000, Ordering::Relaxed);
        {
            let mut t = Txn::shared(&ks, 2_000);
            t.lock_keys(0, [b"k".as_slice()].into_iter());
            assert!(t.peek(0, b"k").is_none());
            assert!(!t.exists(0, b"k"));
            assert!(t.get_read(0, b"k").is_none());
        }
        ks.expire_paused_until.store(0, Ordering::Relaxed);
        let mut t = Txn::shared(&ks, 2_000);
        t.lock_keys(0, [b"k".as_slice()].into_iter());
        assert!(t.peek(0, b"k").is_none());
        // Deleted this time: the key is gone even when the pause starts again.
        ks.expire_paused_until.store(10_000, Ordering::Relaxed);
        assert!(!t.is_logically_expired(0, b"k"));
    }
}
