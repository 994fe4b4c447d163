//! MONITOR (Redis's `replicationFeedMonitors`): every command executed is sent to the
//! clients in MONITOR mode as a status line
//! `+<unix seconds>.<micros> [<db> <client address>] "ARG" "ARG" ...` (`[<db> lua]`
//! for commands a script runs), the arguments quoted as Redis's `sdscatrepr` does.
//!
//! Fed by the dispatcher after a command ran (the database shown is the one after
//! it, as in Redis), except administrative commands and those flagged
//! `skip_monitor`; the script commands (EVAL, FCALL...) are fed before they run so
//! that the commands they call follow them. Commands rejected before running
//! (unknown, wrong arity, NOAUTH...) and commands queued by MULTI are not shown; the
//! commands of an EXEC are shown as they run, then EXEC. AUTH and HELLO's AUTH
//! arguments are shown as `(redacted)`.
//!
//! Lines go through each monitor's delivery queue (`pubsub::Subscriber`), so a
//! monitor sees its own commands after their replies. With no monitor the cost is
//! one relaxed load per command.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

use crate::server::pubsub::Subscriber;
use crate::server::Server;

/// The clients in MONITOR mode.
#[derive(Default)]
pub struct Monitors {
    count: AtomicUsize,
    list: RwLock<Vec<(u64, Arc<Subscriber>)>>,
}

impl Monitors {
    /// Whether anyone monitors (checked before building a line).
    #[inline]
    pub fn active(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0
    }

    pub fn add(&self, id: u64, sub: Arc<Subscriber>) {
        let mut l = self.list.write();
        if !l.iter().any(|(i, _)| *i == id) {
            l.push((id, sub));
        }
        self.count.store(l.len(), Ordering::Relaxed);
    }

    /// Removes client `id`; false if it was not monitoring.
    pub fn remove(&self, id: u64) -> bool {
        let mut l = self.list.write();
        let before = l.len();
        l.retain(|(i, _)| *i != id);
        self.count.store(l.len(), Ordering::Relaxed);
        l.len() != before
    }

    fn send(&self, srv: &Server, line: &[u8]) {
        for (_, sub) in self.list.read().iter() {
            sub.push(line, true, &srv.pubsub);
        }
    }
}

/// Appends `arg` quoted as Redis's `sdscatrepr`.
pub fn repr(out: &mut Vec<u8>, arg: &[u8]) {
    out.push(b'"');
    for &c in arg {
        match c {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(c),
            _ => out.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

/// Which arguments Redis redacts: AUTH's, and HELLO's AUTH username and password (as
/// far as HELLO parses before finding an error).
pub(crate) fn redacted(args: &[&[u8]]) -> Vec<bool> {
    let mut r = vec![false; args.len()];
    let Some(name) = args.first() else { return r };
    if name.eq_ignore_ascii_case(b"auth") {
        if args.len() <= 3 {
            for x in r.iter_mut().skip(1) {
                *x = true;
            }
        }
    } else if name.eq_ignore_ascii_case(b"acl")
        && args.len() >= 3
        && args[1].eq_ignore_ascii_case(b"setuser")
    {
        // ACL SETUSER: the user name and every rule (passwords among them).
        for x in r.iter_mut().skip(2) {
            *x = true;
        }
    } else if name.eq_ignore_ascii_case(b"hello") && args.len() >= 2 {
        let ver = crate::util::num::parse_i64(args[1]);
        if !matches!(ver, Some(2..=3)) {
            return r;
        }
        let mut j = 2;
        while j < args.len() {
            let more = args.len() - 1 - j;
            if args[j].eq_ignore_ascii_case(b"auth") && more >= 2 {
                r[j + 1] = true;
                r[j + 2] = true;
                j += 3;
            } else if args[j].eq_ignore_ascii_case(b"setname") && more >= 1 {
                j += 2;
            } else {
                break;
            }
        }
    }
    r
}

/// Sends `args`, run in database `db` by the client at `addr` (`None`: a script), to
/// every monitor.
pub fn feed(srv: &Server, db: usize, addr: Option<&SocketAddr>, args: &[&[u8]]) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut line = Vec::with_capacity(64 + args.iter().map(|a| a.len() + 3).sum::<usize>());
    line.extend_from_slice(
        format!("+{}.{:06} [{} ", now.as_secs(), now.subsec_micros(), db).as_bytes(),
    );
    match addr {
        Some(a) => line.extend_from_slice(a.to_string().as_bytes()),
        None => line.extend_from_slice(b"lua"),
    }
    line.extend_from_slice(b"] ");
    let hide = redacted(args);
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            line.push(b' ');
        }
        if hide.get(i).copied().unwrap_or(false) {
            line.extend_from_slice(b"\"(redacted)\"");
        } else {
            repr(&mut line, a);
        }
    }
    line.extend_from_slice(b"\r\n");
    srv.monitors.send(srv, &line);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_sdscatrepr() {
        let mut v = Vec::new();
        repr(&mut v, b"a\"\\\n\r\t\x07\x08\x00\xc3 ~");
        assert_eq!(v, b"\"a\\\"\\\\\\n\\r\\t\\a\\b\\x00\\xc3 ~\"");
    }

    #[test]
    fn redacts_auth_arguments() {
        let a: Vec<&[u8]> = vec![b"AUTH", b"u", b"p"];
        assert_eq!(redacted(&a), vec![false, true, true]);
        let a: Vec<&[u8]> = vec![b"AUTH", b"u", b"p", b"x"];
        assert_eq!(redacted(&a), vec![false; 4]);
        let a: Vec<&[u8]> = vec![b"hello", b"3", b"SETNAME", b"n", b"auth", b"u", b"p"];
        assert_eq!(
            redacted(&a),
            vec![false, false, false, false, false, true, true]
        );
        let a: Vec<&[u8]> = vec![b"hello", b"4", b"auth", b"u", b"p"];
        assert_eq!(redacted(&a), vec![false; 5]);
        let a: Vec<&[u8]> = vec![b"hello", b"2", b"AUTH", b"default"];
        assert_eq!(redacted(&a), vec![false; 4]);
    }
}
