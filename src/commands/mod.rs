//! Commands: a declarative table (name, arity, flags, key positions, ACL categories,
//! handler) assembled from per-family modules, plus the execution context handlers
//! work with.
//!
//! Each family module (`strings.rs`, `keys.rs`, ...) exports `COMMANDS: &[Command]`;
//! [`table::CommandTable`] gathers them. Dispatch (arity checks, unknown-command
//! errors, locking the right shards), `COMMAND INFO/DOCS/GETKEYS` and ACL categories
//! are all driven by this table, so a new family only adds entries.

pub mod acl;
pub mod aof;
pub mod args;
pub mod bits;
pub mod client;
pub mod connection;
pub mod db;
pub mod docs;
pub mod dump;
pub mod functions;
pub mod geo;
pub mod hash;
pub mod hll;
pub mod introspection;
pub mod keys;
pub mod latency;
pub mod list;
pub mod lolwut;
pub mod memory;
pub mod multi;
pub mod pubsub;
pub mod replication;
pub mod scripting;
pub mod server;
pub mod set;
pub mod slowlog;
pub mod sort;
pub mod stream;
pub mod strings;
pub mod table;
pub mod zset;

/// Declares a family's command table as a static array (its length counted for you):
/// `commands! { pub static COMMANDS = [Command::new(...), ...]; }`.
#[macro_export]
macro_rules! commands {
    ($vis:vis static $name:ident = [ $($e:expr),* $(,)? ];) => {
        $vis static $name: [$crate::commands::Command; <[()]>::len(&[$($crate::commands!(@unit $e)),*])] = [$($e),*];
    };
    (@unit $e:expr) => { () };
}

use std::borrow::Cow;
use std::sync::atomic::AtomicU64;

use crate::keyspace::Txn;
use crate::protocol::Reply;
use crate::server::client::ClientState;
use crate::server::Server;

/// Command flags (Redis's CMD_* flags); `flag_names` gives their COMMAND INFO spelling.
pub mod flags {
    pub const WRITE: u64 = 1 << 0;
    pub const READONLY: u64 = 1 << 1;
    pub const DENYOOM: u64 = 1 << 2;
    pub const ADMIN: u64 = 1 << 3;
    pub const PUBSUB: u64 = 1 << 4;
    pub const NOSCRIPT: u64 = 1 << 5;
    pub const BLOCKING: u64 = 1 << 6;
    pub const LOADING: u64 = 1 << 7;
    pub const STALE: u64 = 1 << 8;
    pub const SKIP_MONITOR: u64 = 1 << 9;
    pub const SKIP_SLOWLOG: u64 = 1 << 10;
    pub const FAST: u64 = 1 << 11;
    pub const NO_AUTH: u64 = 1 << 12;
    pub const MAY_REPLICATE: u64 = 1 << 13;
    pub const NO_MULTI: u64 = 1 << 14;
    pub const MOVABLE_KEYS: u64 = 1 << 15;
    pub const ALLOW_BUSY: u64 = 1 << 16;
    pub const NO_MANDATORY_KEYS: u64 = 1 << 17;
    pub const NO_ASYNC_LOADING: u64 = 1 << 18;
    pub const SENTINEL: u64 = 1 << 19;
    pub const ONLY_SENTINEL: u64 = 1 << 20;

    /// Names in the order Redis prints them in COMMAND INFO.
    pub const NAMES: &[(u64, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (MAY_REPLICATE, "may_replicate"),
        (SENTINEL, "sentinel"),
        (ONLY_SENTINEL, "only_sentinel"),
        (NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (NO_ASYNC_LOADING, "no_async_loading"),
        (NO_MULTI, "no_multi"),
        (MOVABLE_KEYS, "movablekeys"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// How a command's keys are locked before it runs (see `keyspace` module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lock {
    /// No keyspace access (PING, CLIENT, CONFIG, ...).
    None,
    /// The shards of the keys named by the key spec (or `getkeys`).
    Keys,
    /// Every shard of the client's current database (DBSIZE, KEYS, FLUSHDB, ...).
    Db,
    /// The whole keyspace, nothing else runs (FLUSHALL, SWAPDB, MOVE, ...).
    Exclusive,
    /// The command locks shards itself, one at a time (SCAN).
    Stepwise,
    /// No keyspace access and not even the shared gate, so the command answers while
    /// a script or function holds the keyspace (FUNCTION KILL, FUNCTION STATS).
    Gateless,
}

/// An error reply: the full text after the `-`, including the error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RError(pub Cow<'static, str>);

impl RError {
    /// `ERR <msg>`.
    pub fn err(msg: impl Into<Cow<'static, str>>) -> RError {
        let m: Cow<'static, str> = msg.into();
        RError(Cow::Owned(format!("ERR {m}")))
    }
    /// An error with its own code, e.g. `RError::raw("WRONGTYPE ...")`.
    pub const fn raw(msg: &'static str) -> RError {
        RError(Cow::Borrowed(msg))
    }
    pub fn owned(msg: String) -> RError {
        RError(Cow::Owned(msg))
    }
}

/// Errors shared by many commands, with Redis's exact texts.
pub mod errors {
    use super::RError;
    pub const SYNTAX: RError = RError::raw("ERR syntax error");
    pub const NOT_INT: RError = RError::raw("ERR value is not an integer or out of range");
    pub const NOT_FLOAT: RError = RError::raw("ERR value is not a valid float");
    pub const WRONGTYPE: RError = RError::raw(crate::types::WRONGTYPE);
    pub const NO_SUCH_KEY: RError = RError::raw("ERR no such key");
    pub const DB_RANGE: RError = RError::raw("ERR DB index is out of range");
    pub const OVERFLOW: RError = RError::raw("ERR increment or decrement would overflow");
    pub const NOT_POSITIVE: RError = RError::raw("ERR value is out of range, must be positive");
}

pub type CmdResult = Result<(), RError>;

/// Everything a command handler can reach while it runs.
pub struct Ctx<'a, 'b> {
    pub srv: &'a Server,
    pub client: &'b mut ClientState,
    pub out: &'b mut Reply,
    pub txn: &'b mut Txn<'a>,
    pub cmd: &'static Command,
}

impl Ctx<'_, '_> {
    /// The client's selected database.
    pub fn db(&self) -> usize {
        self.client.db
    }

    /// Raises keyspace event `event` of `class` (`config::notify::*`) for `key` in the
    /// client's database (Redis's `notifyKeyspaceEvent`); a no-op unless the class is
    /// enabled in `notify-keyspace-events`.
    #[inline]
    pub fn notify(&mut self, class: u32, event: &'static str, key: &[u8]) {
        let db = self.client.db;
        // Where the push goes in this client's reply stream if it is subscribed to
        // its own events (see `server::notify::publish_all`); unknown inside EXEC and
        // scripts, whose commands write into other buffers.
        let at = if self.client.deny_blocking || self.client.in_exec {
            usize::MAX
        } else {
            self.out.buf.len()
        };
        self.txn.notify_at(class, event, db, key, at);
    }

    /// Marks the current end of the reply as the point where the events the keyspace
    /// raises from now on (`new`...) go in this client's reply stream (GETSET: the
    /// reply is written, then the key created).
    pub fn events_after_reply(&mut self) {
        if !self.client.deny_blocking && !self.client.in_exec {
            self.txn.event_at = self.out.buf.len();
        }
    }

    /// Whether the command may block: not inside MULTI/EXEC or a script, where a
    /// blocking command behaves like its non-blocking form (Redis's
    /// `CLIENT_DENY_BLOCKING`).
    pub fn may_block(&self) -> bool {
        !self.client.deny_blocking
    }

    /// Blocks the client on `keys` (whose shards the dispatcher has locked) until one
    /// of them is served by the command's `on_ready`, `deadline_ms` (Unix ms, 0 =
    /// never) passes, CLIENT UNBLOCK, or disconnection. `touches` lists every other key
    /// serving may write (BLMOVE's destination). The command writes no reply now: the
    /// connection delivers one when the wait ends.
    pub fn block(&mut self, argv: &[&[u8]], keys: &[&[u8]], touches: &[&[u8]], deadline_ms: u64) {
        let db = self.db();
        let all: Vec<Box<[u8]>> = keys
            .iter()
            .chain(touches.iter())
            .map(|&k| Box::from(k))
            .collect();
        let w = crate::keyspace::Waiter::new(
            self.client.id,
            db,
            argv.iter().map(|&a| Box::from(a)).collect(),
            keys.iter().map(|&k| Box::from(k)).collect(),
            all,
            self.out.is_resp3(),
            deadline_ms,
        );
        for (i, &k) in keys.iter().enumerate() {
            if !keys[..i].contains(&k) {
                self.txn.add_waiter(db, k, &w);
            }
        }
        self.client.waiter = Some(w);
    }
}

pub type Handler = fn(&mut Ctx, &[&[u8]]) -> CmdResult;

/// Serves a client blocked by this command once `key` may have what it waits for:
/// `Ok(true)` = served (reply written to `ctx.out`, the waiter's own reply buffer, with
/// `ctx.db()` the waiter's database), `Ok(false)` = the key cannot serve it (wrong type,
/// empty): it keeps waiting, `Err` = it is unblocked with that error.
pub type OnReady = fn(&mut Ctx, &[&[u8]], &[u8]) -> Result<bool, RError>;

/// Custom key extraction for commands whose keys are not a fixed range (returns the
/// argument indexes of the keys).
pub type GetKeys = fn(&[&[u8]]) -> Vec<usize>;

/// Argument positions of a command's keys (inline for the common few-key case).
pub type KeyIndexes = smallvec::SmallVec<[usize; 8]>;

/// Per-command counters for INFO commandstats.
#[derive(Default, Debug)]
pub struct CmdStats {
    pub calls: AtomicU64,
    pub usec: AtomicU64,
    pub rejected: AtomicU64,
    pub failed: AtomicU64,
    /// Latency histogram (INFO latencystats, LATENCY HISTOGRAM).
    pub latency: crate::server::latency::Histogram,
}

/// One entry of the command table.
pub struct Command {
    /// Lower-case name; for a subcommand just the subcommand (`"get"` of `config|get`).
    pub name: &'static str,
    /// Redis arity: positive = exact argc, negative = at least -arity.
    pub arity: i32,
    pub flags: u64,
    /// Legacy key range: first key index, last (negative counts from the end), step.
    pub first_key: i32,
    pub last_key: i32,
    pub step: i32,
    /// ACL categories without the `@`.
    pub acl: &'static [&'static str],
    pub lock: Lock,
    pub handler: Handler,
    pub getkeys: Option<GetKeys>,
    /// For blocking commands: how a blocked client is served (see [`OnReady`]).
    pub on_ready: Option<OnReady>,
    /// Subcommands (CONFIG GET, CLIENT LIST, ...); the container's handler only runs
    /// when it is called alone and its arity allows that (plain `COMMAND`).
    pub subcommands: &'static [Command],
    pub stats: CmdStats,
}

impl Command {
    pub const fn new(name: &'static str, arity: i32, flags: u64, handler: Handler) -> Command {
        Command {
            name,
            arity,
            flags,
            first_key: 0,
            last_key: 0,
            step: 0,
            acl: &[],
            lock: Lock::None,
            handler,
            getkeys: None,
            on_ready: None,
            subcommands: &[],
            stats: CmdStats {
                calls: AtomicU64::new(0),
                usec: AtomicU64::new(0),
                rejected: AtomicU64::new(0),
                failed: AtomicU64::new(0),
                latency: crate::server::latency::Histogram::new(),
            },
        }
    }

    /// Declares the legacy key range and locks those keys' shards.
    pub const fn keys(mut self, first: i32, last: i32, step: i32) -> Command {
        self.first_key = first;
        self.last_key = last;
        self.step = step;
        self.lock = Lock::Keys;
        self
    }

    pub const fn acl(mut self, cats: &'static [&'static str]) -> Command {
        self.acl = cats;
        self
    }

    pub const fn lock(mut self, lock: Lock) -> Command {
        self.lock = lock;
        self
    }

    pub const fn getkeys(mut self, f: GetKeys) -> Command {
        self.getkeys = Some(f);
        self
    }

    pub const fn on_ready(mut self, f: OnReady) -> Command {
        self.on_ready = Some(f);
        self
    }

    pub const fn subcommands(mut self, subs: &'static [Command]) -> Command {
        self.subcommands = subs;
        self
    }

    pub fn has(&self, flag: u64) -> bool {
        self.flags & flag != 0
    }

    /// Argument indexes of the keys in `args` (args[0] is the command name).
    pub fn key_indexes(&self, args: &[&[u8]]) -> KeyIndexes {
        if let Some(f) = self.getkeys {
            return f(args).into_iter().collect();
        }
        let mut out = KeyIndexes::new();
        if self.first_key <= 0 || self.step <= 0 {
            return out;
        }
        let argc = args.len() as i32;
        let last = if self.last_key < 0 {
            argc + self.last_key
        } else {
            self.last_key
        };
        let mut i = self.first_key;
        while i <= last && i < argc {
            out.push(i as usize);
            i += self.step;
        }
        out
    }
}

/// A handler for container commands whose subcommands do the work; never called
/// because dispatch resolves the subcommand first.
pub fn container(_: &mut Ctx, _: &[&[u8]]) -> CmdResult {
    Err(RError::err("container command called without a subcommand"))
}
