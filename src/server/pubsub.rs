//! Pub/Sub delivery, server side: the [`Hub`] (who is subscribed to what), each
//! subscribed connection's outgoing message queue ([`Subscriber`]), the per-connection
//! subscription sets ([`ClientSubs`]) and the hooks the connection loop and the
//! dispatcher call.
//!
//! Design:
//!
//! * The hub maps channels, patterns and shard channels to the subscribers of each
//!   (one `RwLock` for all three: PUBLISH takes it shared, (UN)SUBSCRIBE exclusive).
//! * A publisher encodes a message once and appends it to each receiver's queue (a
//!   byte buffer behind a small mutex), then wakes the receiver's connection task if
//!   the queue was empty. It never waits for a subscriber's socket: a slow subscriber
//!   only makes its own queue grow.
//! * A message for the publishing client itself (a RESP3 client subscribed to the
//!   channel it publishes to) goes straight into its reply buffer, before the PUBLISH
//!   reply, as in Redis.
//! * The connection task writes its queue when it is idle (an extra `select!` arm
//!   next to the socket read, see [`ready`] / [`write_queued`]) and, while it executes
//!   commands, moves what is queued into its reply buffer before each command
//!   ([`drain_into`]), so messages and replies keep the order in which they happened.
//! * `client-output-buffer-limit pubsub <hard> <soft> <seconds>`: every append checks
//!   the bytes queued and not yet written (the queue plus what the connection is
//!   currently writing) against the limits exactly as Redis's
//!   `checkClientOutputBufferLimits` does; over the limit the queue is freed, the
//!   client is killed (its connection closes) and a warning is logged.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use tokio::io::AsyncWriteExt;

use crate::commands::table::full_name;
use crate::commands::Command;
use crate::protocol::Reply;
use crate::server::client::{ClientInfo, ClientState};
use crate::server::{log, Server};
use crate::util::glob::glob_match;
use crate::util::time::now_ms;

/// The three kinds of subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Channel = 0,
    Pattern = 1,
    Shard = 2,
}

type Subs = HashMap<u64, Arc<Subscriber>, ahash::RandomState>;
type NameMap = HashMap<Box<[u8]>, Subs, ahash::RandomState>;

/// `client-output-buffer-limit` for the pubsub class (0 = no limit).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    pub hard: u64,
    pub soft: u64,
    pub soft_secs: u64,
}

impl Limits {
    /// The pubsub class out of a `client-output-buffer-limit` value
    /// (`normal 0 0 0 slave ... pubsub 33554432 8388608 60`).
    pub fn parse(value: &str) -> Limits {
        Limits::parse_class(value, "pubsub")
    }

    /// One class (`normal`, `slave`, `pubsub`) out of a `client-output-buffer-limit`
    /// value.
    pub fn parse_class(value: &str, class: &str) -> Limits {
        let parts: Vec<&str> = value.split_whitespace().collect();
        for c in parts.chunks(4) {
            if c.len() == 4 && c[0].eq_ignore_ascii_case(class) {
                let n = |s: &str| crate::config::parse_memory(s).unwrap_or(0);
                return Limits {
                    hard: n(c[1]),
                    soft: n(c[2]),
                    soft_secs: c[3].parse().unwrap_or(0),
                };
            }
        }
        Limits::default()
    }
}

/// Who is subscribed to what, server-wide.
pub struct Hub {
    maps: RwLock<[NameMap; 3]>,
    hard: AtomicU64,
    soft: AtomicU64,
    soft_secs: AtomicU64,
    /// The normal class's limits (`server::obuf`), for what non-subscribers receive
    /// through their queue (MONITOR lines, tracking invalidations).
    normal: [AtomicU64; 3],
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            maps: RwLock::new([NameMap::default(), NameMap::default(), NameMap::default()]),
            hard: AtomicU64::new(32 * 1024 * 1024),
            soft: AtomicU64::new(8 * 1024 * 1024),
            soft_secs: AtomicU64::new(60),
            normal: Default::default(),
        }
    }
}

impl Hub {
    /// Caches the pubsub output buffer limits (called whenever the configuration
    /// changes).
    pub fn set_limits(&self, l: Limits) {
        self.hard.store(l.hard, Ordering::Relaxed);
        self.soft.store(l.soft, Ordering::Relaxed);
        self.soft_secs.store(l.soft_secs, Ordering::Relaxed);
    }

    /// Caches the normal class's limits.
    pub fn set_normal_limits(&self, l: Limits) {
        self.normal[0].store(l.hard, Ordering::Relaxed);
        self.normal[1].store(l.soft, Ordering::Relaxed);
        self.normal[2].store(l.soft_secs, Ordering::Relaxed);
    }

    pub fn normal_limits(&self) -> Limits {
        Limits {
            hard: self.normal[0].load(Ordering::Relaxed),
            soft: self.normal[1].load(Ordering::Relaxed),
            soft_secs: self.normal[2].load(Ordering::Relaxed),
        }
    }

    pub fn limits(&self) -> Limits {
        Limits {
            hard: self.hard.load(Ordering::Relaxed),
            soft: self.soft.load(Ordering::Relaxed),
            soft_secs: self.soft_secs.load(Ordering::Relaxed),
        }
    }

    fn add(&self, kind: Kind, name: &[u8], sub: &Arc<Subscriber>) {
        let mut maps = self.maps.write();
        let map = &mut maps[kind as usize];
        match map.get_mut(name) {
            Some(s) => {
                s.insert(sub.info.id, sub.clone());
            }
            None => {
                let mut s = Subs::default();
                s.insert(sub.info.id, sub.clone());
                map.insert(Box::from(name), s);
            }
        }
    }

    fn remove(&self, kind: Kind, name: &[u8], id: u64) {
        let mut maps = self.maps.write();
        let map = &mut maps[kind as usize];
        if let Some(s) = map.get_mut(name) {
            s.remove(&id);
            if s.is_empty() {
                map.remove(name);
            }
        }
    }

    /// Drops every subscription of client `id` at once (CLIENT KILL: Redis frees a
    /// killed client synchronously, so its subscriptions are gone when KILL replies).
    pub fn drop_client(&self, id: u64) {
        let mut maps = self.maps.write();
        for map in maps.iter_mut() {
            map.retain(|_, s| {
                s.remove(&id);
                !s.is_empty()
            });
        }
    }

    /// The subscriptions of client `id`, of every kind (ACL: clients whose user loses
    /// a channel are disconnected).
    pub fn subscriptions_of(&self, id: u64) -> Vec<(Kind, Box<[u8]>)> {
        let maps = self.maps.read();
        let mut out = Vec::new();
        for (kind, map) in [Kind::Channel, Kind::Pattern, Kind::Shard]
            .into_iter()
            .zip(maps.iter())
        {
            for (name, subs) in map.iter() {
                if subs.contains_key(&id) {
                    out.push((kind, name.clone()));
                }
            }
        }
        out
    }

    /// Number of distinct channels (or patterns, or shard channels) with subscribers
    /// (INFO `pubsub_channels`, PUBSUB NUMPAT, ...).
    pub fn count(&self, kind: Kind) -> usize {
        self.maps.read()[kind as usize].len()
    }

    /// Names with subscribers matching `pattern` (all when `None`).
    pub fn names(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Box<[u8]>> {
        self.maps.read()[kind as usize]
            .keys()
            .filter(|n| pattern.is_none_or(|p| glob_match(p, n, false)))
            .cloned()
            .collect()
    }

    /// Number of subscribers of one channel (or shard channel).
    pub fn subscribers(&self, kind: Kind, name: &[u8]) -> usize {
        self.maps.read()[kind as usize]
            .get(name)
            .map_or(0, |s| s.len())
    }

    /// PUBLISH: delivers `msg` to the subscribers of `channel` and of every pattern
    /// matching it; returns the number of receivers (a client subscribed through
    /// several patterns counts once per pattern, as in Redis). `me` is the publishing
    /// client and its reply buffer: a message for itself goes there directly.
    pub fn publish(&self, channel: &[u8], msg: &[u8], me: Option<(u64, &mut Reply)>) -> usize {
        self.deliver(Kind::Channel, channel, msg, me)
    }

    /// SPUBLISH: delivers to the subscribers of the shard channel.
    pub fn spublish(&self, channel: &[u8], msg: &[u8], me: Option<(u64, &mut Reply)>) -> usize {
        self.deliver(Kind::Shard, channel, msg, me)
    }

    fn deliver(
        &self,
        kind: Kind,
        channel: &[u8],
        msg: &[u8],
        mut me: Option<(u64, &mut Reply)>,
    ) -> usize {
        let limits = self.limits();
        let maps = self.maps.read();
        let mut receivers = 0;
        let mut send = |subs: &Subs, encoded: &[u8]| {
            for (id, s) in subs {
                match &mut me {
                    Some((my_id, out)) if *my_id == *id => write_to(out, encoded),
                    _ => s.enqueue(encoded, &limits),
                }
            }
            subs.len()
        };
        let kind_name: &[u8] = if kind == Kind::Shard {
            b"smessage"
        } else {
            b"message"
        };
        if let Some(subs) = maps[kind as usize].get(channel) {
            receivers += send(subs, &encode(kind_name, None, channel, msg));
        }
        if kind == Kind::Channel {
            for (pat, subs) in maps[Kind::Pattern as usize].iter() {
                if glob_match(pat, channel, false) {
                    receivers += send(subs, &encode(b"pmessage", Some(pat), channel, msg));
                }
            }
        }
        receivers
    }
}

/// A message as RESP2 bytes: `*3 message <channel> <msg>` or `*4 pmessage <pattern>
/// <channel> <msg>`. RESP3 receivers get the same bytes with `>` for `*`.
fn encode(kind: &[u8], pattern: Option<&[u8]>, channel: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut r = Reply {
        buf: Vec::with_capacity(48 + channel.len() + msg.len() + pattern.map_or(0, |p| p.len())),
        proto: crate::protocol::Proto::Resp2,
        errors: 0,
        last_error_code: None,
    };
    r.array(if pattern.is_some() { 4 } else { 3 });
    r.bulk(kind);
    if let Some(p) = pattern {
        r.bulk(p);
    }
    r.bulk(channel);
    r.bulk(msg);
    r.buf
}

/// Appends an encoded (RESP2) message to `buf`, as a push frame for RESP3.
fn append(buf: &mut Vec<u8>, encoded: &[u8], resp3: bool) {
    if resp3 {
        buf.push(b'>');
        buf.extend_from_slice(encoded.get(1..).unwrap_or_default());
    } else {
        buf.extend_from_slice(encoded);
    }
}

fn write_to(out: &mut Reply, encoded: &[u8]) {
    let resp3 = out.is_resp3();
    append(&mut out.buf, encoded, resp3);
}

#[derive(Default)]
struct Queue {
    buf: Vec<u8>,
    /// Bytes the connection took out of `buf` and has not finished writing.
    in_flight: usize,
    /// Unix time (seconds, as Redis counts) since when the soft limit has been
    /// exceeded (0: not exceeded).
    soft_since: u64,
    /// Over the limit: the client is being closed, nothing more is queued.
    closed: bool,
}

/// One subscribed connection's outgoing message queue.
pub struct Subscriber {
    pub info: Arc<ClientInfo>,
    queue: Mutex<Queue>,
    notify: tokio::sync::Notify,
    /// Something is queued (set and cleared under the queue lock; read without it so
    /// that [`drain_into`] costs one load when nothing arrived).
    nonempty: std::sync::atomic::AtomicBool,
}

impl Subscriber {
    fn new(info: Arc<ClientInfo>) -> Subscriber {
        Subscriber {
            info,
            queue: Mutex::new(Queue::default()),
            notify: tokio::sync::Notify::new(),
            nonempty: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Queues one encoded message, enforcing the output buffer limits.
    fn enqueue(&self, encoded: &[u8], limits: &Limits) {
        let resp3 = self.info.resp.load(Ordering::Relaxed) == 3;
        self.enqueue_as(encoded, resp3, limits);
    }

    /// Queues bytes for this client from outside Pub/Sub: a push built as a RESP2
    /// array (sent with `>` to a RESP3 client, like messages) for client tracking, or,
    /// with `raw`, bytes sent as they are (MONITOR lines). Output buffer limits apply
    /// as for Pub/Sub when the client is a subscriber (Redis's pubsub class); others
    /// are in the normal class (MONITOR clients too, as in Redis).
    pub fn push(&self, encoded: &[u8], raw: bool, hub: &Hub) {
        let limits = if self.info.pubsub.any() {
            hub.limits()
        } else {
            hub.normal_limits()
        };
        let resp3 = !raw && self.info.resp.load(Ordering::Relaxed) == 3;
        self.enqueue_as(encoded, resp3, &limits);
    }

    fn enqueue_as(&self, encoded: &[u8], resp3: bool, limits: &Limits) {
        let mut q = self.queue.lock();
        if q.closed {
            return;
        }
        let was_empty = q.buf.is_empty();
        append(&mut q.buf, encoded, resp3);
        self.nonempty.store(true, Ordering::Release);
        let used = (q.buf.len() + q.in_flight) as u64;
        self.info.omem.store(used, Ordering::Relaxed);
        if over_limits(&mut q, used, limits, now_ms() / 1000) {
            q.closed = true;
            q.buf = Vec::new();
            drop(q);
            log::warning(&format!(
                "Client {} scheduled to be closed ASAP for overcoming of output buffer limits.",
                self.info.describe(now_ms())
            ));
            self.info.omem.store(0, Ordering::Relaxed);
            self.info.kill();
            return;
        }
        drop(q);
        if was_empty {
            self.notify.notify_one();
        }
    }

    /// Takes everything queued; the caller reports it written with [`Self::written`].
    fn take(&self) -> Vec<u8> {
        let mut q = self.queue.lock();
        let b = std::mem::take(&mut q.buf);
        self.nonempty.store(false, Ordering::Release);
        q.in_flight += b.len();
        b
    }

    /// `buf` (from [`Self::take`]) has been written or moved to the reply buffer.
    fn written(&self, mut buf: Vec<u8>) {
        let mut q = self.queue.lock();
        q.in_flight = q.in_flight.saturating_sub(buf.len());
        self.info
            .omem
            .store((q.buf.len() + q.in_flight) as u64, Ordering::Relaxed);
        // Reuse the allocation for the next messages when it is not oversized.
        if q.buf.is_empty() && !q.closed && buf.capacity() <= 64 * 1024 {
            buf.clear();
            q.buf = buf;
        }
    }
}

/// Redis's `checkClientOutputBufferLimits`: over the hard limit, or over the soft
/// limit for more than `soft_secs` seconds in a row (`now`: Unix seconds).
pub(crate) fn over_limits_since(soft_since: &mut u64, used: u64, l: &Limits, now: u64) -> bool {
    let mut q = Queue {
        soft_since: *soft_since,
        ..Default::default()
    };
    let over = over_limits(&mut q, used, l, now);
    *soft_since = q.soft_since;
    over
}

fn over_limits(q: &mut Queue, used: u64, l: &Limits, now: u64) -> bool {
    let hard = l.hard > 0 && used >= l.hard;
    let mut soft = l.soft > 0 && used >= l.soft;
    if soft {
        if q.soft_since == 0 {
            q.soft_since = now;
            soft = false;
        } else if now.saturating_sub(q.soft_since) <= l.soft_secs {
            soft = false;
        }
    } else {
        q.soft_since = 0;
    }
    hard || soft
}

/// Subscription counts other clients can see (CLIENT LIST `sub=`, `psub=`, `ssub=`).
#[derive(Default)]
pub struct Counts {
    n: [AtomicUsize; 3],
}

impl Counts {
    pub fn get(&self, kind: Kind) -> usize {
        self.n[kind as usize].load(Ordering::Relaxed)
    }

    /// Whether the client has any subscription (flag `P`, type `pubsub`).
    pub fn any(&self) -> bool {
        self.n.iter().any(|c| c.load(Ordering::Relaxed) > 0)
    }
}

/// A connection's own subscriptions (kept in its `ClientState`).
#[derive(Default)]
pub struct ClientSubs {
    sub: Option<Arc<Subscriber>>,
    /// Names subscribed, by kind, with a sequence number giving subscription order.
    sets: [HashMap<Box<[u8]>, u64, ahash::RandomState>; 3],
    seq: u64,
}

impl ClientSubs {
    /// Whether the client is in subscriber mode (any subscription of any kind).
    pub fn active(&self) -> bool {
        self.sets.iter().any(|s| !s.is_empty())
    }

    /// The queue the connection must watch (once the client subscribed).
    pub fn subscriber(&self) -> Option<Arc<Subscriber>> {
        self.sub.clone()
    }

    /// The count reported in (un)subscribe confirmations: channels + patterns, or
    /// shard channels.
    pub fn reply_count(&self, kind: Kind) -> usize {
        match kind {
            Kind::Shard => self.sets[2].len(),
            _ => self.sets[0].len() + self.sets[1].len(),
        }
    }

    /// Names of one kind, in subscription order.
    pub fn names(&self, kind: Kind) -> Vec<Box<[u8]>> {
        let mut v: Vec<(&Box<[u8]>, &u64)> = self.sets[kind as usize].iter().collect();
        v.sort_by_key(|&(_, seq)| *seq);
        v.into_iter().map(|(n, _)| n.clone()).collect()
    }

    fn publish_counts(&self, info: &ClientInfo) {
        for (i, s) in self.sets.iter().enumerate() {
            info.pubsub.n[i].store(s.len(), Ordering::Relaxed);
        }
    }
}

/// Subscribes the client; false if it already was.
pub fn subscribe(srv: &Server, client: &mut ClientState, kind: Kind, name: &[u8]) -> bool {
    let subs = &mut client.pubsub;
    if subs.sets[kind as usize].contains_key(name) {
        return false;
    }
    let sub = subs
        .sub
        .get_or_insert_with(|| Arc::new(Subscriber::new(client.info.clone())))
        .clone();
    subs.seq += 1;
    subs.sets[kind as usize].insert(Box::from(name), subs.seq);
    srv.pubsub.add(kind, name, &sub);
    subs.publish_counts(&client.info);
    true
}

/// Gives the connection its delivery queue up front (every connection has one, so
/// that other clients can send it tracking invalidations or MONITOR lines at any time;
/// the connection already watches it while idle). Published in
/// `ClientInfo::queue` for delivery by client id.
pub fn attach_queue(client: &mut ClientState) {
    let sub = client
        .pubsub
        .sub
        .get_or_insert_with(|| Arc::new(Subscriber::new(client.info.clone())));
    let _ = client.info.queue.set(Arc::downgrade(sub));
}

/// Writes a push built as a RESP2 array into the reply buffer (`>` for RESP3).
pub fn write_push(out: &mut Reply, encoded: &[u8]) {
    write_to(out, encoded);
}

/// Unsubscribes the client; false if it was not subscribed.
pub fn unsubscribe(srv: &Server, client: &mut ClientState, kind: Kind, name: &[u8]) -> bool {
    let subs = &mut client.pubsub;
    if subs.sets[kind as usize].remove(name).is_none() {
        return false;
    }
    srv.pubsub.remove(kind, name, client.id);
    subs.publish_counts(&client.info);
    true
}

/// Drops every subscription without replies (RESET, disconnection).
pub fn unsubscribe_all(srv: &Server, client: &mut ClientState) {
    for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
        for name in client.pubsub.names(kind) {
            unsubscribe(srv, client, kind, &name);
        }
    }
}

/// Connection hook, before each command: moves queued messages into the reply buffer
/// so they precede the replies of commands run after they arrived.
pub fn drain_into(client: &ClientState, out: &mut Reply) {
    if let Some(s) = &client.pubsub.sub {
        if !s.nonempty.load(Ordering::Acquire) {
            return;
        }
        let b = s.take();
        if !b.is_empty() {
            out.raw(&b);
        }
        s.written(b);
    }
}

/// Dispatcher hook, once the command is resolved and the client authenticated: a
/// RESP2 client in subscriber mode may only run (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE,
/// PING, QUIT and RESET. Writes Redis's error and returns false for anything else.
pub fn admit(
    client: &ClientState,
    out: &mut Reply,
    cmd: &'static Command,
    parent: Option<&'static Command>,
) -> bool {
    if out.is_resp3() || !client.pubsub.active() {
        return true;
    }
    let allowed = parent.is_none()
        && matches!(
            cmd.name,
            "ping"
                | "subscribe"
                | "ssubscribe"
                | "unsubscribe"
                | "sunsubscribe"
                | "psubscribe"
                | "punsubscribe"
                | "quit"
                | "reset"
        );
    if !allowed {
        cmd.stats.rejected.fetch_add(1, Ordering::Relaxed);
        out.error(&format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            full_name(cmd, parent)
        ));
    }
    allowed
}

/// Resolves when `sub` has messages queued (never when the client has no queue).
pub async fn ready(sub: Option<&Subscriber>) {
    match sub {
        Some(s) => s.notify.notified().await,
        None => std::future::pending().await,
    }
}

/// Writes what is queued for `sub` to the socket; false if the connection is gone or
/// was killed meanwhile (e.g. for exceeding the output buffer limit).
pub async fn write_queued<S: crate::server::connection::Stream>(
    srv: &Server,
    stream: &mut S,
    sub: Option<&Subscriber>,
    info: &ClientInfo,
) -> bool {
    let Some(sub) = sub else { return true };
    let buf = sub.take();
    if buf.is_empty() {
        sub.written(buf);
        return !info.killed.load(Ordering::Relaxed);
    }
    let ok = tokio::select! {
        r = async { stream.write_all(&buf).await?; stream.flush().await } => r.is_ok(),
        _ = info.kill_notify.notified() => false,
    };
    if ok {
        srv.stats
            .net_output_bytes
            .fetch_add(buf.len() as u64, Ordering::Relaxed);
    }
    sub.written(buf);
    ok && !info.killed.load(Ordering::Relaxed)
}

/// Connection hook, when the connection ends: leaves every channel and pattern.
pub fn disconnect(srv: &Server, client: &mut ClientState) {
    unsubscribe_all(srv, client);
    client.pubsub.sub = None;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse() {
        let l =
            Limits::parse("normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60");
        assert_eq!(
            l,
            Limits {
                hard: 33554432,
                soft: 8388608,
                soft_secs: 60
            }
        );
        assert_eq!(Limits::parse("normal 0 0 0"), Limits::default());
    }

    #[test]
    fn soft_limit_needs_time() {
        let l = Limits {
            hard: 100,
            soft: 10,
            soft_secs: 2,
        };
        let mut q = Queue::default();
        assert!(!over_limits(&mut q, 20, &l, 1_000));
        assert!(!over_limits(&mut q, 20, &l, 1_002));
        assert!(over_limits(&mut q, 20, &l, 1_003));
        // Below the soft limit the clock restarts.
        let mut q = Queue::default();
        assert!(!over_limits(&mut q, 20, &l, 1_000));
        assert!(!over_limits(&mut q, 5, &l, 1_001));
        assert!(!over_limits(&mut q, 20, &l, 1_003));
        assert!(over_limits(&mut q, 100, &l, 1_003));
    }

    #[test]
    fn encodes_messages() {
        assert_eq!(
            encode(b"message", None, b"ch", b"hi"),
            b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"
        );
        let mut b = Vec::new();
        append(&mut b, &encode(b"pmessage", Some(b"c*"), b"ch", b""), true);
        assert_eq!(
            b,
            b">4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\nch\r\n$0\r\n\r\n"
        );
    }
}
