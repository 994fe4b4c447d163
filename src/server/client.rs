//! Clients: the per-connection state a command can change ([`ClientState`], owned by the
//! connection task) and the part other clients can see or act on ([`ClientInfo`], shared
//! through the [`Registry`] for CLIENT LIST, CLIENT KILL, INFO clients).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::commands::Command;
use crate::keyspace::{Waiter, Watcher};
use crate::server::pubsub::Kind;

/// A transaction being queued (MULTI ... EXEC).
#[derive(Default)]
pub struct MultiState {
    /// The queued commands' arguments.
    pub queued: Vec<Vec<Vec<u8>>>,
    /// A command was rejected while queueing: EXEC fails with EXECABORT.
    pub aborted: bool,
}

/// CLIENT REPLY mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyMode {
    On,
    Off,
    /// Skip the reply of the next command only.
    SkipNext,
    /// Currently skipping (set from SkipNext for the duration of one command).
    Skip,
}

/// Per-connection state, owned by the connection task.
pub struct ClientState {
    pub id: u64,
    pub db: usize,
    pub authenticated: bool,
    pub user: String,
    /// The ACL user (None: the default user), see `crate::acl`.
    pub acl_user: Option<Arc<crate::acl::UserCell>>,
    pub reply_mode: ReplyMode,
    /// Close the connection once pending replies are written (QUIT, protocol errors,
    /// CLIENT KILL of oneself).
    pub close_after_reply: bool,
    /// The last command run; published to `info` once per batch (CLIENT LIST `cmd=`).
    pub last_cmd: Option<(&'static Command, Option<&'static Command>)>,
    /// Set by a blocking command that found nothing: the connection waits on it.
    pub waiter: Option<Arc<Waiter>>,
    /// Within a batch of pipelined commands (see `connection::process_input`): when
    /// the last command ended, which is when the next one starts (one clock read per
    /// command instead of two; see `dispatch::run`). None outside a batch.
    pub clock: Option<std::time::Instant>,
    /// Whether commands run in a batch that chains their clock readings.
    pub chain_clock: bool,
    /// Statistics held back within a batch (see `dispatch::PendingStats`).
    pub stats: crate::server::dispatch::PendingStats,
    /// Blocking commands act non-blocking (inside MULTI/EXEC and scripts).
    pub deny_blocking: bool,
    /// Between MULTI and EXEC/DISCARD: the queued commands.
    pub multi: Option<MultiState>,
    /// Running the commands of an EXEC.
    pub in_exec: bool,
    /// Keys made ready for blocked clients by the commands of the running EXEC; they
    /// are served once the whole transaction has run, as in Redis.
    pub exec_ready: Vec<(usize, Box<[u8]>)>,
    /// What the commands of the running EXEC propagate, written as one unit at its
    /// end (see `server::propagate`).
    pub exec_prop: Vec<crate::server::propagate::Op>,
    /// The AOF offset the pending replies must wait for (0: none), see
    /// `persistence::aof::Aof::wait_durable`.
    pub aof_offset: u64,
    /// The AOF offset of this client's last propagated write (WAITAOF waits for it).
    pub aof_woff: u64,
    /// The AOF loader's internal client: runs while the server is `loading`.
    pub loader: bool,
    /// WATCHed keys: (db, key, existed at WATCH time), and the flag their changes set.
    pub watched: Vec<(usize, Box<[u8]>, bool)>,
    pub watcher: Option<Arc<Watcher>>,
    /// Pub/Sub subscriptions of this connection (see `server::pubsub`).
    pub pubsub: crate::server::pubsub::ClientSubs,
    /// Client tracking state private to the connection (see `server::tracking`).
    pub tracking: crate::server::tracking::Local,
    pub info: Arc<ClientInfo>,
}

impl ClientState {
    /// Publishes what other clients may observe (db, last command) to `info`.
    pub fn publish(&mut self) {
        self.info.db.store(self.db, Ordering::Relaxed);
        let multi = self.multi.as_ref().map_or(-1, |m| m.queued.len() as i64);
        self.info.multi.store(multi, Ordering::Relaxed);
        if let Some(c) = self.last_cmd.take() {
            *self.info.last_cmd.lock() = Some(c);
        }
    }

    pub fn new(info: Arc<ClientInfo>, authenticated: bool) -> ClientState {
        ClientState {
            id: info.id,
            db: 0,
            authenticated,
            user: "default".into(),
            acl_user: None,
            reply_mode: ReplyMode::On,
            close_after_reply: false,
            last_cmd: None,
            waiter: None,
            clock: None,
            chain_clock: false,
            stats: Default::default(),
            deny_blocking: false,
            multi: None,
            in_exec: false,
            exec_ready: Vec::new(),
            exec_prop: Vec::new(),
            aof_offset: 0,
            aof_woff: 0,
            loader: false,
            watched: Vec::new(),
            watcher: None,
            pubsub: Default::default(),
            tracking: Default::default(),
            info,
        }
    }
}

/// The name-like fields a client can set (CLIENT SETNAME / SETINFO).
#[derive(Default, Clone)]
pub struct Names {
    pub name: String,
    pub lib_name: String,
    pub lib_ver: String,
}

/// What other clients can observe about a client.
pub struct ClientInfo {
    pub id: u64,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    pub fd: i32,
    /// Unix ms of connection and of the last command.
    pub created_ms: u64,
    pub last_interaction_ms: AtomicU64,
    pub db: AtomicUsize,
    pub resp: AtomicU8,
    pub names: Mutex<Names>,
    /// The last command run, as `(command, parent)` for CLIENT LIST's `cmd=`.
    pub last_cmd: Mutex<Option<(&'static Command, Option<&'static Command>)>>,
    /// Bytes in the query buffer and output buffer (approximate, updated per batch).
    pub qbuf: AtomicU64,
    pub omem: AtomicU64,
    pub no_evict: AtomicBool,
    /// CLIENT NO-TOUCH: reads by this client do not update keys' LRU/LFU data.
    pub no_touch: AtomicBool,
    /// Set by CLIENT KILL; the connection notices it and closes.
    pub killed: AtomicBool,
    pub kill_notify: tokio::sync::Notify,
    /// Wakes the connection task while it waits to read (see `connection::killed`).
    pub kill_waker: atomic_waker::AtomicWaker,
    pub user: Mutex<String>,
    /// Commands queued in MULTI, -1 outside one (CLIENT LIST `multi=`, flag `x`).
    pub multi: AtomicI64,
    /// The waiter while the client is blocked (CLIENT UNBLOCK, CLIENT LIST flag `b`).
    pub blocked: Mutex<Option<Arc<Waiter>>>,
    /// Subscription counts (CLIENT LIST `sub=`/`psub=`/`ssub=`, flag `P`).
    pub pubsub: crate::server::pubsub::Counts,
    /// CLIENT TRACKING state (flags `t`, `R`, `B`, `redir=`; read by writers that
    /// invalidate keys this client caches).
    pub tracking: crate::server::tracking::ClientTracking,
    /// The connection's delivery queue (tracking invalidations, MONITOR lines, Pub/Sub
    /// messages), set once when the connection starts.
    pub queue: std::sync::OnceLock<std::sync::Weak<crate::server::pubsub::Subscriber>>,
    /// In MONITOR mode (flag `O`).
    pub monitor: AtomicBool,
    /// Postponed by CLIENT PAUSE (flag `b`, as Redis's BLOCKED_POSTPONE).
    pub paused: AtomicBool,
}

impl ClientInfo {
    pub fn new(id: u64, addr: SocketAddr, laddr: SocketAddr, fd: i32, now_ms: u64) -> ClientInfo {
        ClientInfo {
            id,
            addr,
            laddr,
            fd,
            created_ms: now_ms,
            last_interaction_ms: AtomicU64::new(now_ms),
            db: AtomicUsize::new(0),
            resp: AtomicU8::new(2),
            names: Mutex::new(Names::default()),
            last_cmd: Mutex::new(None),
            qbuf: AtomicU64::new(0),
            omem: AtomicU64::new(0),
            no_evict: AtomicBool::new(false),
            no_touch: AtomicBool::new(false),
            killed: AtomicBool::new(false),
            kill_notify: tokio::sync::Notify::new(),
            kill_waker: atomic_waker::AtomicWaker::new(),
            user: Mutex::new("default".into()),
            blocked: Mutex::new(None),
            multi: AtomicI64::new(-1),
            pubsub: Default::default(),
            tracking: Default::default(),
            queue: std::sync::OnceLock::new(),
            monitor: AtomicBool::new(false),
            paused: AtomicBool::new(false),
        }
    }

    /// Asks the connection to close (CLIENT KILL, shutdown).
    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        self.kill_waker.wake();
        self.kill_notify.notify_one();
    }

    /// CLIENT LIST `flags=` field: `x` in MULTI, `b` blocked, `e` no-evict, `T` no-touch,
    /// `N` when none.
    pub fn flags(&self) -> String {
        let mut f = String::new();
        // Redis's order: O P x b t R B ... e T.
        if self.monitor.load(Ordering::Relaxed) {
            f.push('O');
        }
        if self.pubsub.any() {
            f.push('P');
        }
        if self.multi.load(Ordering::Relaxed) >= 0 {
            f.push('x');
        }
        if self.blocked.lock().is_some() || self.paused.load(Ordering::Relaxed) {
            f.push('b');
        }
        f.push_str(&self.tracking.list_flags());
        if self.no_evict.load(Ordering::Relaxed) {
            f.push('e');
        }
        if self.no_touch.load(Ordering::Relaxed) {
            f.push('T');
        }
        if f.is_empty() {
            f.push('N');
        }
        f
    }

    /// One line of CLIENT LIST / CLIENT INFO, fields in Redis 7's order.
    pub fn describe(&self, now_ms: u64) -> String {
        let names = self.names.lock().clone();
        let cmd = match *self.last_cmd.lock() {
            Some((c, Some(p))) => format!("{}|{}", p.name, c.name),
            Some((c, None)) => c.name.to_string(),
            None => "NULL".to_string(),
        };
        let age = now_ms.saturating_sub(self.created_ms) / 1000;
        let idle = now_ms.saturating_sub(self.last_interaction_ms.load(Ordering::Relaxed)) / 1000;
        let qbuf = self.qbuf.load(Ordering::Relaxed);
        let omem = self.omem.load(Ordering::Relaxed);
        let (obl, oll) = crate::server::obuf::obl_oll(omem);
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free={} argv-mem=0 multi-mem=0 rbs={} rbp={} obl={} oll={} omem={} tot-mem={} events=r cmd={} user={} redir={} resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            names.name,
            age,
            idle,
            self.flags(),
            self.db.load(Ordering::Relaxed),
            self.pubsub.get(Kind::Channel),
            self.pubsub.get(Kind::Pattern),
            self.pubsub.get(Kind::Shard),
            self.multi.load(Ordering::Relaxed),
            qbuf,
            16384u64.saturating_sub(qbuf),
            16384,
            qbuf,
            obl,
            oll,
            omem,
            16384 + omem + qbuf,
            cmd,
            self.user.lock(),
            self.tracking.redirect_or_minus_one(),
            self.resp.load(Ordering::Relaxed),
            names.lib_name,
            names.lib_ver,
        )
    }
}

/// All connected clients, by id.
#[derive(Default)]
pub struct Registry {
    clients: Mutex<BTreeMap<u64, Arc<ClientInfo>>>,
    next_id: AtomicU64,
}

impl Registry {
    /// Allocates a client id (ids start at 1 and are never reused, as in Redis).
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub fn add(&self, info: Arc<ClientInfo>) {
        self.clients.lock().insert(info.id, info);
    }

    pub fn remove(&self, id: u64) {
        self.clients.lock().remove(&id);
    }

    pub fn len(&self) -> usize {
        self.clients.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A snapshot of all clients, ordered by id.
    pub fn snapshot(&self) -> Vec<Arc<ClientInfo>> {
        self.clients.lock().values().cloned().collect()
    }

    pub fn get(&self, id: u64) -> Option<Arc<ClientInfo>> {
        self.clients.lock().get(&id).cloned()
    }
}
