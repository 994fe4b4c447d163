//! `client-output-buffer-limit` for command replies (Redis's
//! `checkClientOutputBufferLimits` / `closeClientOnOutputBufferLimitReached`).
//!
//! A connection collects the replies of a batch of commands in its reply buffer and
//! writes them at once (see `connection`): that buffer is what Redis calls the
//! client's output buffer. Before each write its size is checked against the limits
//! of the client's class (`normal`, or `pubsub` once subscribed; `normal 0 0 0`, no
//! limit, by default): over the hard limit, or over the soft limit at two checks more
//! than `soft_seconds` apart, the client is closed without being sent the replies, as
//! Redis frees it. Messages queued for the connection (Pub/Sub, MONITOR, tracking)
//! are checked where they are queued (`pubsub::Subscriber`). One check per write, not
//! per reply.
//!
//! Also kept here: INFO `client_recent_max_output_buffer`.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::server::client::ClientInfo;
use crate::server::{log, pubsub, Server};
use crate::util::time::now_ms;

/// Redis's static reply buffer (16 KB): reply bytes beyond it are "list" bytes
/// (CLIENT LIST `oll`, INFO `client_recent_max_output_buffer`).
pub const REPLY_CHUNK: u64 = 16 * 1024;

/// How long a peak stays in `client_recent_max_output_buffer` (Redis's
/// CLIENTS_PEAK_MEM_USAGE_SLOTS seconds).
const PEAK_SECS: u64 = 8;

/// Per-connection state: since when the soft limit has been exceeded.
#[derive(Default)]
pub struct State {
    soft_since: u64,
}

/// Server-wide peak of recent output buffers.
#[derive(Default)]
pub struct Peak {
    bytes: AtomicU64,
    at_secs: AtomicU64,
}

impl Peak {
    fn note(&self, bytes: u64, now_secs: u64) {
        let cur = self.bytes.load(Ordering::Relaxed);
        if bytes > cur || now_secs.saturating_sub(self.at_secs.load(Ordering::Relaxed)) >= PEAK_SECS
        {
            self.bytes.store(bytes, Ordering::Relaxed);
            self.at_secs.store(now_secs, Ordering::Relaxed);
        }
    }

    /// INFO `client_recent_max_output_buffer`.
    pub fn recent(&self) -> u64 {
        let now = now_ms() / 1000;
        if now.saturating_sub(self.at_secs.load(Ordering::Relaxed)) >= PEAK_SECS {
            0
        } else {
            self.bytes.load(Ordering::Relaxed)
        }
    }
}

/// Checks the pending replies (`len` bytes) before they are written. False when the
/// client must be closed (logged as Redis logs it).
pub fn check(srv: &Server, info: &ClientInfo, state: &mut State, len: usize) -> bool {
    let len = len as u64;
    let limits = if info.pubsub.any() {
        srv.pubsub.limits()
    } else {
        srv.pubsub.normal_limits()
    };
    if len > REPLY_CHUNK {
        srv.obuf_peak.note(len - REPLY_CHUNK, now_ms() / 1000);
    }
    if limits.hard == 0 && limits.soft == 0 {
        return true;
    }
    if !pubsub::over_limits_since(&mut state.soft_since, len, &limits, now_ms() / 1000) {
        return true;
    }
    info.omem.store(len, Ordering::Relaxed);
    log::warning(&format!(
        "Client {} scheduled to be closed ASAP for overcoming of output buffer limits.",
        info.describe(now_ms())
    ));
    info.omem.store(0, Ordering::Relaxed);
    false
}

/// CLIENT LIST `obl` and `oll` for `omem` bytes pending: bytes in the first 16 KB
/// buffer, and the number of further 16 KB blocks.
pub fn obl_oll(omem: u64) -> (u64, u64) {
    (
        omem.min(REPLY_CHUNK),
        omem.saturating_sub(REPLY_CHUNK).div_ceil(REPLY_CHUNK),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn obl_oll_split() {
        assert_eq!(obl_oll(0), (0, 0));
        assert_eq!(obl_oll(100), (100, 0));
        assert_eq!(obl_oll(REPLY_CHUNK + 1), (REPLY_CHUNK, 1));
        assert_eq!(obl_oll(3 * REPLY_CHUNK), (REPLY_CHUNK, 2));
    }
}
