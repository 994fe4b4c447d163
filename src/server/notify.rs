//! Keyspace notifications (Redis's `notify.c`): events raised by commands and by expiry
//! are published as Pub/Sub messages on `__keyspace@<db>__:<key>` (message: the event
//! name) and `__keyevent@<db>__:<event>` (message: the key), depending on the K and E
//! flags of `notify-keyspace-events`.
//!
//! Commands raise events through `Ctx::notify` (or `Txn::notify`), the keyspace raises
//! `expired`, `keymiss` and `new` itself; all of them collect in `Txn::events` and the
//! dispatcher publishes them here when the command ends, while the command's shard
//! locks are still held, so subscribers see the events of one key in the order its
//! changes happened. Nothing is collected for classes that are not enabled.

use crate::config::notify::{KEYEVENT, KEYSPACE};
use crate::keyspace::Event;
use crate::protocol::Reply;
use crate::server::Server;

/// `Event::at` of an event that goes after the whole reply of the client that raised
/// it (events of blocked clients served when a command ends).
pub const AFTER_REPLY: usize = usize::MAX - 1;

/// Publishes one event. `me` is the client that raised it with its reply buffer, so a
/// RESP3 client subscribed to its own events gets the push in its reply stream.
pub fn publish(srv: &Server, ev: &Event, mut me: Option<(u64, &mut Reply)>) {
    let flags = srv
        .ks
        .notify_flags
        .load(std::sync::atomic::Ordering::Relaxed);
    if flags & ev.class == 0 {
        return;
    }
    if flags & KEYSPACE != 0 {
        let mut chan = Vec::with_capacity(20 + ev.key.len());
        chan.extend_from_slice(format!("__keyspace@{}__:", ev.db).as_bytes());
        chan.extend_from_slice(&ev.key);
        let me = me.as_mut().map(|(id, out)| (*id, &mut **out));
        srv.pubsub.publish(&chan, ev.name.as_bytes(), me);
    }
    if flags & KEYEVENT != 0 {
        let chan = format!("__keyevent@{}__:{}", ev.db, ev.name);
        let me = me.as_mut().map(|(id, out)| (*id, &mut **out));
        srv.pubsub.publish(chan.as_bytes(), &ev.key, me);
    }
}

/// Publishes the events a command raised. Pushes for the command's own client go into
/// its reply stream where Redis writes them: Redis publishes while the command runs,
/// so a push lands wherever the handler had got to in its reply (usually before it,
/// after it for commands that reply first, such as LPUSH). Each event records that
/// point (`Event::at`, an offset in `out`); events raised by the keyspace itself
/// (`at` unknown) go with the event before them, the first ones before the reply
/// (which starts at `reply_start`). Inside EXEC or a script (`inline = false`) they
/// are queued like anyone else's instead.
pub fn publish_all(
    srv: &Server,
    events: Vec<Event>,
    client_id: u64,
    out: &mut Reply,
    reply_start: usize,
    inline: bool,
) {
    if events.is_empty() {
        return;
    }
    if !inline || reply_start > out.buf.len() {
        for ev in &events {
            publish(srv, ev, None);
        }
        return;
    }
    let end = out.buf.len();
    let mut pos = reply_start;
    let mut mine: Vec<(usize, Vec<u8>)> = Vec::new();
    for ev in &events {
        if ev.at != usize::MAX {
            // Never before an earlier event's push: events are published in order.
            pos = pos.max(ev.at.min(end));
        }
        let mut r = Reply::new(out.proto);
        publish(srv, ev, Some((client_id, &mut r)));
        if !r.buf.is_empty() {
            mine.push((pos, r.buf));
        }
    }
    // From the last to the first, so that earlier offsets stay valid and pushes at the
    // same offset keep their order.
    for (at, bytes) in mine.into_iter().rev() {
        out.buf.splice(at..at, bytes);
    }
}
