//! Wall-clock helpers. Redis expresses TTLs as absolute Unix times in milliseconds.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Microseconds since the Unix epoch.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// The wall-clock time in milliseconds at the monotonic instant `t`.
///
/// The dispatcher reads the clock once per command (`Instant::now()`, which it needs
/// for the command's duration anyway) and derives the command's Unix time from it
/// instead of making a second `clock_gettime` call: a third of the clock reads per
/// command. The offset between the two clocks is re-read from the wall clock when
/// the last reading is more than 50 ms old, so a wall-clock step (NTP, an operator
/// setting the time) is seen within 50 ms, as Redis sees it on its next `mstime()`.
pub fn ms_at(t: std::time::Instant) -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    use std::sync::OnceLock;
    static BASE: OnceLock<std::time::Instant> = OnceLock::new();
    static OFFSET_US: AtomicU64 = AtomicU64::new(0);
    static SYNCED_US: AtomicU64 = AtomicU64::new(u64::MAX);
    const RESYNC_US: u64 = 50_000;
    let base = *BASE.get_or_init(|| t);
    let mono = t.saturating_duration_since(base).as_micros() as u64;
    let synced = SYNCED_US.load(Relaxed);
    if synced == u64::MAX || mono.wrapping_sub(synced) > RESYNC_US {
        let real = now_us();
        let at = std::time::Instant::now()
            .saturating_duration_since(base)
            .as_micros() as u64;
        OFFSET_US.store(real.wrapping_sub(at), Relaxed);
        SYNCED_US.store(at, Relaxed);
        return real / 1000;
    }
    OFFSET_US.load(Relaxed).wrapping_add(mono) / 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ms_at_follows_the_wall_clock() {
        for _ in 0..1000 {
            let before = now_ms();
            let t = std::time::Instant::now();
            let derived = ms_at(t);
            let after = now_ms();
            // Within a millisecond of a wall-clock reading taken around it.
            assert!(
                derived + 1 >= before && derived <= after + 1,
                "{before} {derived} {after}"
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(60));
        let t = std::time::Instant::now();
        let derived = ms_at(t);
        assert!(derived.abs_diff(now_ms()) <= 1);
    }
}
