//! Client-side caching (Redis's `tracking.c`): CLIENT TRACKING and the invalidation
//! messages.
//!
//! ## Default mode
//!
//! A key read by a tracking client (a command with the READONLY flag, after it ran;
//! Redis's `trackingRememberKeys`) is remembered in the tracking table, key → ids of
//! the clients that may cache it. When the key changes, its entry is removed and each
//! of those clients still tracking (and not in BCAST mode) gets one invalidation: a
//! RESP3 push `>2 invalidate [key]`, or, with REDIRECT, the same sent to the other
//! connection (a RESP3 push, or for a RESP2 connection in Pub/Sub mode a `message`
//! on `__redis__:invalidate`). A key is thus invalidated once, then forgotten until
//! read again. As in Redis the table is keyed by the key name only, whatever the
//! database.
//!
//! Changes are collected by the keyspace at the points that touch WATCHers
//! (`keyspace::watch::Modified`, filled only while `Keyspace::tracking` is set) and
//! handled by the dispatcher when the command ends, while its shard locks are still
//! held, so a reader and a writer of one key are ordered by the key's shard lock;
//! invalidations for the client that made the change (or whose read made a key
//! expire) are sent after that command's reply (Redis 7's `tracking_pending_keys`),
//! and for EXEC after the whole transaction's reply. Inside a script, changes are
//! handled after each `redis.call`, and a read inside a script remembers the keys the
//! script declared (Redis 7.0 remembers the caller's keys).
//!
//! The table is split in [`TABLE_SHARDS`] mutexes by key hash; they are leaf locks
//! (nothing else is locked while one is held).
//!
//! ## BCAST mode
//!
//! Clients subscribe to prefixes (the empty prefix by default). Every changed key
//! matching a prefix is added to that prefix's pending set (with the client that
//! changed it last, for NOLOOP); the sets are sent, one message per prefix with the
//! keys in byte order, when the writing connection finishes the batch of commands it
//! read (Redis sends them before its event loop sleeps, i.e. after processing what it
//! read: the same batching), and by the cron after active expiry.
//!
//! ## Costs
//!
//! With no client tracking and no remembered key, the only costs are one relaxed
//! load per command (`Keyspace::tracking`) and one branch per key change.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::commands::{flags as cmdflags, Command};
use crate::keyspace::Txn;
use crate::protocol::Reply;
use crate::server::client::{ClientInfo, ClientState};
use crate::server::Server;

/// Client tracking flags (`ClientTracking::flags`).
pub mod flag {
    pub const ON: u32 = 1;
    pub const BCAST: u32 = 2;
    pub const OPTIN: u32 = 4;
    pub const OPTOUT: u32 = 8;
    pub const NOLOOP: u32 = 16;
    pub const BROKEN_REDIR: u32 = 32;
    /// CLIENT CACHING YES (OPTIN) / NO (OPTOUT) given for the next command.
    pub const CACHING: u32 = 64;
}

/// The tracking state of one client that other clients read (in `ClientInfo`).
#[derive(Default)]
pub struct ClientTracking {
    pub flags: AtomicU32,
    /// Client id invalidations are redirected to (0: none).
    pub redirect: AtomicU64,
    /// BCAST prefixes, in byte order.
    pub prefixes: Mutex<BTreeSet<Box<[u8]>>>,
}

impl ClientTracking {
    pub fn flags(&self) -> u32 {
        self.flags.load(Ordering::Acquire)
    }

    /// CLIENT LIST flags `t`, `R`, `B`, in Redis's order.
    pub fn list_flags(&self) -> String {
        let f = self.flags();
        let mut s = String::new();
        if f & flag::ON != 0 {
            s.push('t');
        }
        if f & flag::BROKEN_REDIR != 0 {
            s.push('R');
        }
        if f & flag::BCAST != 0 {
            s.push('B');
        }
        s
    }

    /// CLIENT LIST `redir=` / CLIENT GETREDIR: the redirect id while tracking, else -1.
    pub fn redirect_or_minus_one(&self) -> i64 {
        if self.flags() & flag::ON != 0 {
            self.redirect.load(Ordering::Relaxed) as i64
        } else {
            -1
        }
    }
}

/// The tracking state private to a connection (in `ClientState`).
#[derive(Default)]
pub struct Local {
    /// Invalidations for this client raised while its own command ran, sent after the
    /// command's reply (`None`: the null invalidation of a flush).
    pub pending: Vec<Option<Box<[u8]>>>,
    /// The keys the running script command (EVAL, FCALL...) declared: a read inside
    /// the script remembers these, as Redis 7.0 does.
    pub caller_keys: Vec<Box<[u8]>>,
}

/// Shards of the tracking table.
pub const TABLE_SHARDS: usize = 64;

type IdTable = HashMap<Box<[u8]>, Vec<u64>, ahash::RandomState>;

/// One BCAST prefix: its subscribers and the keys changed since the last broadcast
/// (with the id of the client that changed each last; 0 for expiry).
/// Keys changed since the last broadcast, with the id of the client that changed
/// each last (0: expiry).
type ChangedKeys = BTreeMap<Box<[u8]>, u64>;

#[derive(Default)]
struct Bcast {
    keys: ChangedKeys,
    clients: BTreeSet<u64>,
}

/// Server-wide tracking state (`Server::tracking`).
pub struct Tracking {
    /// Clients with tracking on (INFO `tracking_clients`).
    clients: AtomicUsize,
    table: Box<[Mutex<IdTable>]>,
    hasher: ahash::RandomState,
    /// Keys in the table and (key, client) pairs (INFO `tracking_total_keys` /
    /// `tracking_total_items`).
    keys: AtomicUsize,
    items: AtomicUsize,
    prefixes: Mutex<BTreeMap<Box<[u8]>, Bcast>>,
    nprefixes: AtomicUsize,
    /// Some prefix has keys to broadcast.
    bcast_pending: AtomicBool,
    /// `tracking-table-max-keys` (0: no limit).
    pub max_keys: AtomicU64,
    /// Consecutive times the table was found over the limit (effort grows with it).
    over_limit_rounds: AtomicU32,
}

impl Default for Tracking {
    fn default() -> Self {
        Tracking {
            clients: AtomicUsize::new(0),
            table: (0..TABLE_SHARDS)
                .map(|_| Mutex::new(IdTable::default()))
                .collect(),
            hasher: ahash::RandomState::new(),
            keys: AtomicUsize::new(0),
            items: AtomicUsize::new(0),
            prefixes: Mutex::new(BTreeMap::new()),
            nprefixes: AtomicUsize::new(0),
            bcast_pending: AtomicBool::new(false),
            max_keys: AtomicU64::new(1_000_000),
            over_limit_rounds: AtomicU32::new(0),
        }
    }
}

impl Tracking {
    pub fn clients(&self) -> usize {
        self.clients.load(Ordering::Relaxed)
    }

    pub fn total_keys(&self) -> usize {
        self.keys.load(Ordering::Relaxed)
    }

    pub fn total_items(&self) -> usize {
        self.items.load(Ordering::Relaxed)
    }

    pub fn total_prefixes(&self) -> usize {
        self.nprefixes.load(Ordering::Relaxed)
    }

    fn shard(&self, key: &[u8]) -> &Mutex<IdTable> {
        let h = self.hasher.hash_one(key);
        &self.table[(h >> 58) as usize % TABLE_SHARDS]
    }

    /// Remembers that client `id` may cache `key`.
    fn remember(&self, key: &[u8], id: u64) {
        let mut t = self.shard(key).lock();
        let ids = match t.get_mut(key) {
            Some(ids) => ids,
            None => {
                self.keys.fetch_add(1, Ordering::Relaxed);
                t.entry(key.into()).or_default()
            }
        };
        if !ids.contains(&id) {
            ids.push(id);
            self.items.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Removes `key`'s entry, returning the ids that were caching it.
    fn take(&self, key: &[u8]) -> Vec<u64> {
        if self.keys.load(Ordering::Relaxed) == 0 {
            return Vec::new();
        }
        let removed = self.shard(key).lock().remove(key);
        match removed {
            Some(ids) => {
                self.keys.fetch_sub(1, Ordering::Relaxed);
                self.items.fetch_sub(ids.len(), Ordering::Relaxed);
                ids
            }
            None => Vec::new(),
        }
    }

    /// Forgets every remembered key (FLUSHALL/FLUSHDB).
    fn clear(&self) {
        for s in self.table.iter() {
            let mut t = s.lock();
            let items: usize = t.values().map(|v| v.len()).sum();
            self.keys.fetch_sub(t.len(), Ordering::Relaxed);
            self.items.fetch_sub(items, Ordering::Relaxed);
            *t = IdTable::default();
        }
    }

    /// A random remembered key (for `tracking-table-max-keys`).
    fn random_key(&self) -> Option<Box<[u8]>> {
        use rand::Rng;
        let mut rng = rand::thread_rng();
        let start = rng.gen_range(0..TABLE_SHARDS);
        for i in 0..TABLE_SHARDS {
            let t = self.table[(start + i) % TABLE_SHARDS].lock();
            if t.is_empty() {
                continue;
            }
            let n = rng.gen_range(0..t.len());
            return t.keys().nth(n).cloned();
        }
        None
    }

    /// Adds `key`, changed by client `writer` (0: expiry), to every matching prefix.
    fn remember_for_broadcast(&self, key: &[u8], writer: u64) {
        let mut p = self.prefixes.lock();
        for (prefix, bs) in p.iter_mut() {
            if key.starts_with(prefix) {
                bs.keys.insert(key.into(), writer);
                self.bcast_pending.store(true, Ordering::Release);
            }
        }
    }
}

/// Keeps `Keyspace::tracking` (whether the keyspace collects changed keys) in line:
/// needed while a client tracks or keys remain in the table.
fn refresh_active(srv: &Server) {
    let t = &srv.tracking;
    let on = t.clients() > 0 || t.total_keys() > 0;
    srv.ks.tracking.store(on, Ordering::Relaxed);
}

// -- CLIENT TRACKING ---------------------------------------------------------------

/// Turns tracking on for `info` with `options` (`flag::BCAST|OPTIN|OPTOUT|NOLOOP`),
/// as Redis's `enableTracking` (options and prefixes already checked).
pub fn enable(srv: &Server, info: &ClientInfo, redirect: u64, options: u32, prefixes: &[&[u8]]) {
    let t = &info.tracking;
    let old = t.flags();
    if old & flag::ON == 0 {
        srv.tracking.clients.fetch_add(1, Ordering::Relaxed);
        srv.ks.tracking.store(true, Ordering::Relaxed);
    }
    let mut f = (old
        & !(flag::BROKEN_REDIR | flag::BCAST | flag::OPTIN | flag::OPTOUT | flag::NOLOOP))
        | flag::ON;
    t.redirect.store(redirect, Ordering::Relaxed);
    if options & flag::BCAST != 0 {
        f |= flag::BCAST;
        let mut table = srv.tracking.prefixes.lock();
        let mut mine = t.prefixes.lock();
        let empty: &[u8] = b"";
        let list: &[&[u8]] = if prefixes.is_empty() {
            std::slice::from_ref(&empty)
        } else {
            prefixes
        };
        for p in list {
            let bs = table.entry(Box::from(*p)).or_default();
            if bs.clients.insert(info.id) {
                mine.insert(Box::from(*p));
            }
        }
        srv.tracking.nprefixes.store(table.len(), Ordering::Relaxed);
    }
    f |= options & (flag::OPTIN | flag::OPTOUT | flag::NOLOOP);
    t.flags.store(f, Ordering::Release);
}

/// Turns tracking off (CLIENT TRACKING OFF, RESET, disconnection, CLIENT KILL).
pub fn disable(srv: &Server, info: &ClientInfo) {
    let t = &info.tracking;
    let f = t.flags();
    if f & flag::BCAST != 0 {
        let mut table = srv.tracking.prefixes.lock();
        for p in std::mem::take(&mut *t.prefixes.lock()) {
            if let Some(bs) = table.get_mut(&p) {
                bs.clients.remove(&info.id);
                if bs.clients.is_empty() {
                    table.remove(&p);
                }
            }
        }
        srv.tracking.nprefixes.store(table.len(), Ordering::Relaxed);
    }
    if f & flag::ON != 0 && t.flags.swap(0, Ordering::AcqRel) & flag::ON != 0 {
        srv.tracking.clients.fetch_sub(1, Ordering::Relaxed);
        refresh_active(srv);
    }
}

/// The first prefix of `new` (in order) that overlaps one of the client's prefixes or
/// a later prefix of `new`, as Redis's `checkPrefixCollisionsOrReply` reports it:
/// `(error text, whether Redis still goes on to enable tracking)`. Redis 7.0 has a
/// slip there: a collision found among the given prefixes after the first one
/// returns "success" after replying the error, so the command replies both the error
/// and +OK and the prefixes are added. Reproduced for byte compatibility.
pub fn prefix_collision(info: &ClientInfo, new: &[&[u8]]) -> Option<(String, bool)> {
    let overlap = |a: &[u8], b: &[u8]| {
        let n = a.len().min(b.len());
        a[..n] == b[..n]
    };
    // C's %s stops at a NUL byte.
    let show = |p: &[u8]| {
        let end = p.iter().position(|&c| c == 0).unwrap_or(p.len());
        String::from_utf8_lossy(&p[..end]).into_owned()
    };
    let mine = info.tracking.prefixes.lock();
    for (i, p) in new.iter().enumerate() {
        for existing in mine.iter() {
            if overlap(existing, p) {
                return Some((
                    format!(
                        "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                        show(p),
                        show(existing)
                    ),
                    false,
                ));
            }
        }
        for q in &new[i + 1..] {
            if overlap(p, q) {
                return Some((
                    format!(
                        "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                        show(p),
                        show(q)
                    ),
                    i != 0,
                ));
            }
        }
    }
    None
}

// -- sending -----------------------------------------------------------------------

/// Encodes `[key]` (the value part of an invalidation).
fn key_array(key: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(key.len() + 16);
    v.extend_from_slice(b"*1\r\n$");
    v.extend_from_slice(key.len().to_string().as_bytes());
    v.extend_from_slice(b"\r\n");
    v.extend_from_slice(key);
    v.extend_from_slice(b"\r\n");
    v
}

/// The null of a client's protocol (a flush invalidation: `shared.null[c->resp]`).
fn null_of(info: &ClientInfo) -> &'static [u8] {
    if info.resp.load(Ordering::Relaxed) == 3 {
        b"_\r\n"
    } else {
        b"$-1\r\n"
    }
}

/// Puts `encoded` (a push built as a RESP2 array) in `dest`'s output: straight into
/// `me`'s reply buffer when `dest` is that client, else in its delivery queue.
fn deliver(srv: &Server, dest: &ClientInfo, encoded: &[u8], me: Option<(u64, &mut Reply)>) {
    if let Some((id, out)) = me {
        if id == dest.id {
            crate::server::pubsub::write_push(out, encoded);
            return;
        }
    }
    if let Some(q) = dest.queue.get().and_then(|w| w.upgrade()) {
        q.push(encoded, false, &srv.pubsub);
    }
}

/// Redis's `sendTrackingMessage`: sends invalidation `value` (an encoded array of
/// keys, or a null) for tracking client `t`, to itself or to its redirect target.
fn send(srv: &Server, t: &ClientInfo, value: &[u8], me: Option<(u64, &mut Reply)>) {
    let redirect = t.tracking.redirect.load(Ordering::Relaxed);
    let target: Arc<ClientInfo>;
    let mut dest = t;
    if redirect != 0 {
        match srv.clients.get(redirect) {
            Some(r) => {
                target = r;
                dest = &target;
            }
            None => {
                t.tracking
                    .flags
                    .fetch_or(flag::BROKEN_REDIR, Ordering::AcqRel);
                if t.resp.load(Ordering::Relaxed) == 3 {
                    let msg = format!("*2\r\n$21\r\ntracking-redir-broken\r\n:{redirect}\r\n");
                    deliver(srv, t, msg.as_bytes(), me);
                }
                return;
            }
        }
    }
    let mut msg = Vec::with_capacity(64 + value.len());
    if dest.resp.load(Ordering::Relaxed) == 3 {
        msg.extend_from_slice(b"*2\r\n$10\r\ninvalidate\r\n");
    } else if redirect != 0 && dest.pubsub.any() {
        msg.extend_from_slice(b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n");
    } else {
        // RESP2 without redirection: nothing can be sent on this connection.
        return;
    }
    msg.extend_from_slice(value);
    deliver(srv, dest, &msg, me);
}

/// Sends the invalidation of `key` to the clients that cached it (Redis's
/// `trackingInvalidateKey`), forgetting the key. `cur` is the client whose command is
/// running: its own invalidations wait in its `pending` list (and are skipped with
/// NOLOOP). `bcast`: the id of the client that changed the key (0: expiry) to record
/// for BCAST prefixes, `None` not to.
/// `out`: the running client's reply buffer, for messages another tracking client
/// redirects to it (Redis adds them to its output while the command runs).
fn invalidate_key(
    srv: &Server,
    key: &[u8],
    cur: Option<&mut ClientState>,
    bcast: Option<u64>,
    mut out: Option<&mut Reply>,
) {
    let tr = &srv.tracking;
    if let Some(writer) = bcast {
        if tr.nprefixes.load(Ordering::Relaxed) > 0 {
            tr.remember_for_broadcast(key, writer);
        }
    }
    let ids = tr.take(key);
    if ids.is_empty() {
        return;
    }
    let mut cur = cur;
    for id in ids {
        let me = cur.as_ref().is_some_and(|c| c.id == id);
        let info = if me {
            cur.as_ref().map(|c| c.info.clone())
        } else {
            srv.clients.get(id)
        };
        let Some(info) = info else { continue };
        let f = info.tracking.flags();
        if f & flag::ON == 0 || f & flag::BCAST != 0 {
            continue;
        }
        if me {
            if f & flag::NOLOOP == 0 {
                if let Some(c) = cur.as_deref_mut() {
                    c.tracking.pending.push(Some(key.into()));
                }
            }
            continue;
        }
        let me = match (cur.as_ref(), out.as_deref_mut()) {
            (Some(c), Some(o)) => Some((c.id, o)),
            _ => None,
        };
        send(srv, &info, &key_array(key), me);
    }
}

/// FLUSHDB/FLUSHALL (Redis's `trackingInvalidateKeysOnFlush`): every tracking client
/// gets the null invalidation (the running client's after its reply), and the table
/// is emptied.
fn invalidate_all(srv: &Server, client: &mut ClientState, out: &mut Reply) {
    if srv.tracking.clients() > 0 {
        for c in srv.clients.snapshot() {
            if c.tracking.flags() & flag::ON == 0 {
                continue;
            }
            if c.id == client.id {
                client.tracking.pending.push(None);
            } else {
                send(srv, &c, null_of(&c), Some((client.id, &mut *out)));
            }
        }
    }
    srv.tracking.clear();
}

/// Whether `info`'s next reads are remembered (OPTIN needs CACHING YES, OPTOUT
/// CACHING NO turns it off; BCAST clients remember nothing).
fn remembers(info: &ClientInfo) -> bool {
    let f = info.tracking.flags();
    if f & flag::ON == 0 || f & flag::BCAST != 0 {
        return false;
    }
    let caching = f & flag::CACHING != 0;
    !((f & flag::OPTIN != 0 && !caching) || (f & flag::OPTOUT != 0 && caching))
}

/// Script commands: not remembered themselves; the reads they run remember the keys
/// they declared.
fn is_script(cmd: &Command) -> bool {
    matches!(
        cmd.name,
        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro"
    )
}

/// Dispatcher hook, before a command runs while tracking is active: keeps the keys a
/// script command declares, for the reads inside it.
pub fn before_command(client: &mut ClientState, cmd: &Command, args: &[&[u8]]) {
    client.tracking.caller_keys.clear();
    if is_script(cmd) && remembers(&client.info) {
        client.tracking.caller_keys = cmd
            .key_indexes(args)
            .iter()
            .filter_map(|&i| args.get(i).map(|k| Box::from(*k)))
            .collect();
    }
}

/// Handles the changes a command (or one `redis.call`) made: flush, changed keys.
/// Messages for the running client from other clients' tracking (REDIRECT to it) go
/// into `out`.
fn settle_changes(srv: &Server, client: &mut ClientState, txn: &mut Txn, out: &mut Reply) {
    if std::mem::take(&mut txn.tracked.flushed) {
        invalidate_all(srv, client, out);
    }
    if !txn.tracked.keys.is_empty() {
        let me = client.id;
        for (key, by_client) in std::mem::take(&mut txn.tracked.keys) {
            invalidate_key(
                srv,
                &key,
                Some(client),
                Some(if by_client { me } else { 0 }),
                Some(&mut *out),
            );
        }
    }
}

/// Dispatcher hook, after a command ran (shard locks still held) while tracking is
/// active (`txn.tracked.on`): invalidates what it changed, then remembers the keys it
/// read (Redis's `trackingRememberKeys`, READONLY commands only).
///
/// Messages another tracking client redirects to this one go before the command's
/// reply (which starts at `reply_start` in `out`), where Redis puts them.
pub fn after_command(
    srv: &Server,
    client: &mut ClientState,
    cmd: &Command,
    args: &[&[u8]],
    txn: &mut Txn,
    out: &mut Reply,
    reply_start: usize,
) {
    let mut mine = Reply::new(out.proto);
    settle_changes(srv, client, txn, &mut mine);
    if !mine.buf.is_empty() {
        let at = reply_start.min(out.buf.len());
        out.buf.splice(at..at, mine.buf);
    }
    if cmd.has(cmdflags::READONLY)
        && !cmd.has(cmdflags::PUBSUB)
        && !is_script(cmd)
        && remembers(&client.info)
    {
        for i in cmd.key_indexes(args) {
            if let Some(k) = args.get(i) {
                srv.tracking.remember(k, client.id);
            }
        }
    }
    if srv.tracking.clients() == 0 {
        refresh_active(srv);
    }
}

/// Script hook, after each `redis.call` while tracking is active: the same as
/// [`after_command`], a read remembering the keys the script declared.
pub fn after_script_call(
    srv: &Server,
    client: &mut ClientState,
    cmd: &Command,
    txn: &mut Txn,
    out: &mut Reply,
) {
    settle_changes(srv, client, txn, out);
    if cmd.has(cmdflags::READONLY)
        && !client.tracking.caller_keys.is_empty()
        && remembers(&client.info)
    {
        for k in &client.tracking.caller_keys {
            srv.tracking.remember(k, client.id);
        }
    }
}

/// Dispatcher hook, after a top-level command and its reply (not for each command of
/// an EXEC): sends the client's own pending invalidations, then ends a CLIENT CACHING
/// that applied to this command (it lasts for one command, or one whole MULTI/EXEC,
/// and CLIENT commands keep it, as Redis's `resetClient`).
pub fn after_reply(srv: &Server, client: &mut ClientState, out: &mut Reply, args: &[&[u8]]) {
    if !client.tracking.pending.is_empty() {
        let info = client.info.clone();
        for key in std::mem::take(&mut client.tracking.pending) {
            let value = match &key {
                Some(k) => key_array(k),
                None => null_of(&info).to_vec(),
            };
            send(srv, &info, &value, Some((client.id, &mut *out)));
        }
    }
    if client.multi.is_none()
        && info_has_caching(&client.info)
        && !args
            .first()
            .is_some_and(|a| a.eq_ignore_ascii_case(b"client"))
    {
        client
            .info
            .tracking
            .flags
            .fetch_and(!flag::CACHING, Ordering::AcqRel);
    }
}

fn info_has_caching(info: &ClientInfo) -> bool {
    info.tracking.flags() & flag::CACHING != 0
}

/// Dispatcher hook, before a command runs while some client tracks: keeps the table
/// within `tracking-table-max-keys` by invalidating random keys (Redis's
/// `trackingLimitUsedSlots`, with its growing effort). Invalidations for the client
/// about to run go before its reply.
pub fn limit_keys(srv: &Server, client: &ClientState, out: &mut Reply) {
    let tr = &srv.tracking;
    let max = tr.max_keys.load(Ordering::Relaxed) as usize;
    if max == 0 {
        return;
    }
    if tr.total_keys() <= max {
        tr.over_limit_rounds.store(0, Ordering::Relaxed);
        return;
    }
    let rounds = tr.over_limit_rounds.load(Ordering::Relaxed);
    let mut effort = 100 * (rounds as usize + 1);
    while effort > 0 {
        effort -= 1;
        let Some(key) = tr.random_key() else { break };
        for id in tr.take(&key) {
            let Some(info) = srv.clients.get(id) else {
                continue;
            };
            let f = info.tracking.flags();
            if f & flag::ON == 0 || f & flag::BCAST != 0 {
                continue;
            }
            if f & flag::NOLOOP != 0 && id == client.id {
                continue;
            }
            send(srv, &info, &key_array(&key), Some((client.id, &mut *out)));
        }
        if tr.total_keys() <= max {
            tr.over_limit_rounds.store(0, Ordering::Relaxed);
            return;
        }
    }
    tr.over_limit_rounds.fetch_add(1, Ordering::Relaxed);
}

/// Builds the array of a prefix's changed keys, without those `skip` changed last
/// (NOLOOP); `None` if nothing is left.
fn broadcast_reply(keys: &BTreeMap<Box<[u8]>, u64>, skip: Option<u64>) -> Option<Vec<u8>> {
    let count = keys
        .values()
        .filter(|&&w| skip.is_none_or(|s| s != w))
        .count();
    if count == 0 {
        return None;
    }
    let mut v = Vec::with_capacity(count * 16 + 8);
    v.extend_from_slice(format!("*{count}\r\n").as_bytes());
    for (k, &w) in keys {
        if skip.is_some_and(|s| s == w) {
            continue;
        }
        v.extend_from_slice(format!("${}\r\n", k.len()).as_bytes());
        v.extend_from_slice(k);
        v.extend_from_slice(b"\r\n");
    }
    Some(v)
}

/// Sends the BCAST invalidations collected since the last call (Redis's
/// `trackingBroadcastInvalidationMessages`), one message per prefix. Called by a
/// connection after the batch of commands it read (`me`: its reply buffer), and by the
/// cron after active expiry.
pub fn broadcast(srv: &Server, mut me: Option<(u64, &mut Reply)>) {
    let tr = &srv.tracking;
    if !tr.bcast_pending.swap(false, Ordering::AcqRel) {
        return;
    }
    let batches: Vec<(ChangedKeys, Vec<u64>)> = {
        let mut p = tr.prefixes.lock();
        p.values_mut()
            .filter(|bs| !bs.keys.is_empty())
            .map(|bs| {
                (
                    std::mem::take(&mut bs.keys),
                    bs.clients.iter().copied().collect(),
                )
            })
            .collect()
    };
    for (keys, clients) in batches {
        let Some(all) = broadcast_reply(&keys, None) else {
            continue;
        };
        for id in clients {
            let Some(info) = srv.clients.get(id) else {
                continue;
            };
            let me = me.as_mut().map(|(i, o)| (*i, &mut **o));
            if info.tracking.flags() & flag::NOLOOP != 0 {
                if let Some(adhoc) = broadcast_reply(&keys, Some(id)) {
                    send(srv, &info, &adhoc, me);
                }
            } else {
                send(srv, &info, &all, me);
            }
        }
    }
}

/// Whether BCAST invalidations wait to be sent (checked after each batch).
#[inline]
pub fn broadcast_pending(srv: &Server) -> bool {
    srv.tracking.bcast_pending.load(Ordering::Relaxed)
}

/// Active expiry removed `key` (cron; no client is running).
pub fn expired(srv: &Server, key: &[u8]) {
    if srv.ks.tracking.load(Ordering::Relaxed) {
        invalidate_key(srv, key, None, Some(0), None);
    }
}

/// Connection hook, when it ends (and RESET): tracking off.
pub fn disconnect(srv: &Server, client: &mut ClientState) {
    disable(srv, &client.info);
    client.tracking = Local::default();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_reply_skips_own_keys() {
        let mut keys = BTreeMap::new();
        keys.insert(Box::from(&b"b"[..]), 1u64);
        keys.insert(Box::from(&b"a"[..]), 2u64);
        assert_eq!(
            broadcast_reply(&keys, None).unwrap_or_default(),
            b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"
        );
        assert_eq!(
            broadcast_reply(&keys, Some(2)).unwrap_or_default(),
            b"*1\r\n$1\r\nb\r\n"
        );
        keys.remove(&b"b"[..]);
        assert!(broadcast_reply(&keys, Some(2)).is_none());
    }

    #[test]
    fn table_counts() {
        let t = Tracking::default();
        t.remember(b"k", 1);
        t.remember(b"k", 1);
        t.remember(b"k", 2);
        t.remember(b"j", 2);
        assert_eq!((t.total_keys(), t.total_items()), (2, 3));
        let mut ids = t.take(b"k");
        ids.sort_unstable();
        assert_eq!(ids, vec![1, 2]);
        assert_eq!((t.total_keys(), t.total_items()), (1, 1));
        assert!(t.take(b"k").is_empty());
        t.clear();
        assert_eq!((t.total_keys(), t.total_items()), (0, 0));
    }
}
