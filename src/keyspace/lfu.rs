//! Access data kept in `Entry::lru`, as Redis keeps it in `robj.lru`: under an LRU (or
//! no) eviction policy the seconds clock of the last access; under an LFU policy the
//! minutes clock of the last decrement (high 16 bits of 24) and a logarithmic access
//! counter (low 8 bits), incremented probabilistically (`lfu-log-factor`) and
//! decremented by one per `lfu-decay-time` minutes of idleness.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// The counter a new key starts with (Redis's LFU_INIT_VAL), so new keys are not
/// evicted before they had a chance to be accessed.
pub const LFU_INIT_VAL: u8 = 5;

/// The keyspace's access-tracking mode and LFU parameters (from the configuration).
pub struct Access {
    pub lfu: AtomicBool,
    pub log_factor: AtomicU32,
    pub decay_time: AtomicU32,
}

impl Default for Access {
    fn default() -> Access {
        Access {
            lfu: AtomicBool::new(false),
            log_factor: AtomicU32::new(10),
            decay_time: AtomicU32::new(1),
        }
    }
}

/// Minutes clock, 16 bits (Redis's LFUGetTimeInMinutes).
fn minutes(now_ms: u64) -> u32 {
    ((now_ms / 60_000) & 0xffff) as u32
}

fn elapsed_minutes(ldt: u32, now_ms: u64) -> u32 {
    let now = minutes(now_ms);
    if now >= ldt {
        now - ldt
    } else {
        65535 - ldt + now
    }
}

impl Access {
    #[inline]
    pub fn is_lfu(&self) -> bool {
        self.lfu.load(Ordering::Relaxed)
    }

    /// The access data of a key created now.
    #[inline]
    pub fn fresh(&self, now_ms: u64) -> u32 {
        if self.is_lfu() {
            (minutes(now_ms) << 8) | LFU_INIT_VAL as u32
        } else {
            super::access_clock(now_ms)
        }
    }

    /// An access to a key (Redis's updateLFU / LRU_CLOCK()).
    #[inline]
    pub fn touch(&self, lru: &mut u32, now_ms: u64) {
        if self.is_lfu() {
            let c = self.counter(*lru, now_ms);
            let c = self.log_incr(c);
            *lru = (minutes(now_ms) << 8) | c as u32;
        } else {
            *lru = super::access_clock(now_ms);
        }
    }

    /// The counter after decay (Redis's LFUDecrAndReturn), for OBJECT FREQ and
    /// eviction.
    pub fn counter(&self, lru: u32, now_ms: u64) -> u8 {
        let ldt = (lru >> 8) & 0xffff;
        let counter = lru & 255;
        let decay = self.decay_time.load(Ordering::Relaxed);
        let periods = elapsed_minutes(ldt, now_ms).checked_div(decay).unwrap_or(0);
        counter.saturating_sub(periods) as u8
    }

    /// Redis's LFULogIncr: the higher the counter, the less likely an increment.
    fn log_incr(&self, counter: u8) -> u8 {
        if counter == 255 {
            return 255;
        }
        let r: f64 = rand::random();
        let base = (counter as f64 - LFU_INIT_VAL as f64).max(0.0);
        let p = 1.0 / (base * self.log_factor.load(Ordering::Relaxed) as f64 + 1.0);
        if r < p {
            counter + 1
        } else {
            counter
        }
    }

    /// Access data with the counter set to `freq` (RESTORE ... FREQ).
    pub fn with_freq(&self, freq: u8, now_ms: u64) -> u32 {
        (minutes(now_ms) << 8) | freq as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lfu_counter_grows_logarithmically_and_decays() {
        let a = Access::default();
        a.lfu.store(true, Ordering::Relaxed);
        let now = 1_000_000_000u64;
        let mut lru = a.fresh(now);
        assert_eq!(a.counter(lru, now), LFU_INIT_VAL);
        for _ in 0..1000 {
            a.touch(&mut lru, now);
        }
        let c = a.counter(lru, now);
        // With lfu-log-factor 10, 1000 hits give a counter around 18 (Redis's table).
        assert!((12..=30).contains(&c), "counter {c}");
        // One minute idle with lfu-decay-time 1: one less.
        assert_eq!(a.counter(lru, now + 60_000), c - 1);
        assert_eq!(a.counter(lru, now + 3_600_000 * 10), 0);
    }
}
