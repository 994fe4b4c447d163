//! The slow log (SLOWLOG): commands whose execution took at least
//! `slowlog-log-slower-than` microseconds, newest first, at most `slowlog-max-len`.
//!
//! As Redis's slowlog.c: the time is the command's own execution (not time spent
//! blocked or waiting for the keyspace), at most 32 arguments are kept (the last one
//! then says how many more there were) and each is cut to 128 bytes; commands flagged
//! `skip_slowlog` (AUTH, HELLO, EXEC...) are never logged; the list is trimmed when an
//! entry is added.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use parking_lot::Mutex;

const MAX_ARGC: usize = 32;
const MAX_STRING: usize = 128;

/// One logged command.
pub struct Entry {
    pub id: u64,
    /// Unix seconds when it ran.
    pub time: u64,
    /// Execution time in microseconds.
    pub duration: u64,
    pub argv: Vec<Vec<u8>>,
    /// `ip:port` of the client.
    pub peer: String,
    pub name: String,
}

pub struct SlowLog {
    entries: Mutex<VecDeque<Entry>>,
    next_id: AtomicU64,
    /// `slowlog-log-slower-than` (negative: disabled), read on every command.
    pub threshold: AtomicI64,
    pub max_len: AtomicU64,
}

impl Default for SlowLog {
    fn default() -> SlowLog {
        SlowLog {
            entries: Mutex::new(VecDeque::new()),
            next_id: AtomicU64::new(0),
            threshold: AtomicI64::new(10_000),
            max_len: AtomicU64::new(128),
        }
    }
}

impl SlowLog {
    /// Whether a command that took `usec` microseconds is logged.
    #[inline]
    pub fn wants(&self, usec: u64) -> bool {
        let t = self.threshold.load(Ordering::Relaxed);
        t >= 0 && usec >= t as u64
    }

    /// Logs a command (the caller checked [`SlowLog::wants`]).
    pub fn push(&self, args: &[&[u8]], usec: u64, peer: String, name: String) {
        let argc = args.len().min(MAX_ARGC);
        let mut argv = Vec::with_capacity(argc);
        for (j, a) in args.iter().take(argc).enumerate() {
            if argc != args.len() && j == argc - 1 {
                argv.push(format!("... ({} more arguments)", args.len() - argc + 1).into_bytes());
            } else if a.len() > MAX_STRING {
                let mut s = a[..MAX_STRING].to_vec();
                s.extend_from_slice(
                    format!("... ({} more bytes)", a.len() - MAX_STRING).as_bytes(),
                );
                argv.push(s);
            } else {
                argv.push(a.to_vec());
            }
        }
        let entry = Entry {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            time: crate::util::time::now_ms() / 1000,
            duration: usec,
            argv,
            peer,
            name,
        };
        let max = self.max_len.load(Ordering::Relaxed) as usize;
        let mut list = self.entries.lock();
        list.push_front(entry);
        list.truncate(max);
    }

    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn reset(&self) {
        self.entries.lock().clear();
    }

    /// Runs `f` on the newest `count` entries.
    pub fn with_newest<R>(
        &self,
        count: usize,
        f: impl FnOnce(&mut dyn Iterator<Item = &Entry>) -> R,
    ) -> R {
        let list = self.entries.lock();
        let mut it = list.iter().take(count);
        f(&mut it)
    }
}

/// Logs the command `client` just ran (the dispatcher checked the threshold).
pub fn record(
    srv: &crate::server::Server,
    client: &crate::server::client::ClientState,
    args: &[&[u8]],
    usec: u64,
) {
    let name = client.info.names.lock().name.clone();
    // Passwords are shown as `(redacted)`, as MONITOR shows them.
    let hide = crate::server::monitor::redacted(args);
    let shown: Vec<&[u8]> = args
        .iter()
        .zip(hide)
        .map(|(a, h)| if h { &b"(redacted)"[..] } else { *a })
        .collect();
    srv.slowlog
        .push(&shown, usec, client.info.addr.to_string(), name);
}
