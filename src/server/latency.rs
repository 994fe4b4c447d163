//! Latency observability, as Redis's latency.c and its per-command histograms:
//!
//! * [`Histogram`]: a lock-free HdrHistogram with Redis's parameters (values in
//!   nanoseconds from 1 ns to 1 s, 2 significant digits: 256 sub-buckets, 23 buckets,
//!   3072 counters), so INFO latencystats percentiles and LATENCY HISTOGRAM buckets
//!   are the values Redis prints. Recording is two relaxed atomic adds; the counters
//!   are allocated on a command's first call (24 KB, like Redis's `hdr_init`).
//! * [`Monitor`]: the latency monitor (`latency-monitor-threshold`): per event, the
//!   160 most recent per-second maxima and the all-time maximum. Only events over the
//!   threshold take its mutex.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;

use parking_lot::{Mutex, RwLock};

use crate::commands::{flags, Command};
use crate::server::Server;

// ------------------------------------------------------------------ histogram

/// log2 of half the sub-bucket count (2 significant digits: 2*10^2 → 256 sub-buckets).
const HALF_MAG: u32 = 7;
const HALF: i64 = 1 << HALF_MAG;
const SUB_COUNT: i64 = HALF * 2;
/// Buckets needed to reach 1 s in ns (`255 << 22 >= 10^9`).
const BUCKETS: i64 = 23;
const COUNTS_LEN: usize = ((BUCKETS + 1) * HALF) as usize;
/// Range Redis records (`LATENCY_HISTOGRAM_MIN_VALUE` / `_MAX_VALUE`), in ns.
const MIN_VALUE: i64 = 1;
const MAX_VALUE: i64 = 1_000_000_000;

fn bucket_index(v: i64) -> i64 {
    let pow2ceiling = 64 - (v | (SUB_COUNT - 1)).leading_zeros() as i64;
    pow2ceiling - (HALF_MAG as i64 + 1)
}

fn counts_index_for(v: i64) -> usize {
    let b = bucket_index(v);
    let sb = v >> b;
    (((b + 1) << HALF_MAG) + (sb - HALF)) as usize
}

fn value_at_index(i: usize) -> i64 {
    let i = i as i64;
    let mut b = (i >> HALF_MAG) - 1;
    let mut sb = (i & (HALF - 1)) + HALF;
    if b < 0 {
        sb -= HALF;
        b = 0;
    }
    sb << b
}

fn lowest_equivalent(v: i64) -> i64 {
    let b = bucket_index(v);
    (v >> b) << b
}

fn highest_equivalent(v: i64) -> i64 {
    let b = bucket_index(v);
    let sb = v >> b;
    let adjusted = if sb >= SUB_COUNT { b + 1 } else { b };
    lowest_equivalent(v) + (1i64 << adjusted) - 1
}

/// A command's latency histogram (see the module docs).
#[derive(Debug)]
pub struct Histogram {
    counts: OnceLock<Box<[AtomicU64]>>,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram::new()
    }
}

impl Histogram {
    pub const fn new() -> Histogram {
        Histogram {
            counts: OnceLock::new(),
        }
    }

    /// Records one duration in nanoseconds.
    #[cfg(test)]
    pub fn record(&self, ns: u64) {
        self.record_n(ns, 1);
    }

    /// Records `n` durations of `ns` nanoseconds each (clamped to Redis's 1 ns .. 1 s
    /// range).
    pub fn record_n(&self, ns: u64, n: u64) {
        let v = (ns.min(MAX_VALUE as u64) as i64).max(MIN_VALUE);
        let counts = self
            .counts
            .get_or_init(|| (0..COUNTS_LEN).map(|_| AtomicU64::new(0)).collect());
        if let Some(c) = counts.get(counts_index_for(v)) {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// A copy of the counters (None if nothing was ever recorded) and their total.
    fn snapshot(&self) -> Option<(Vec<u64>, u64)> {
        let counts = self.counts.get()?;
        let v: Vec<u64> = counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        let total = v.iter().sum();
        Some((v, total))
    }

    /// Number of recorded values.
    pub fn total(&self) -> u64 {
        self.snapshot().map_or(0, |s| s.1)
    }

    pub fn reset(&self) {
        if let Some(c) = self.counts.get() {
            for a in c.iter() {
                a.store(0, Ordering::Relaxed);
            }
        }
    }

    /// `hdr_value_at_percentile` (ns): the highest value equivalent to the one at
    /// `percentile`; 0 when empty.
    pub fn value_at_percentile(&self, percentile: f64) -> i64 {
        let Some((counts, total)) = self.snapshot() else {
            return 0;
        };
        percentile_of(&counts, total, percentile)
    }

    /// Several percentiles from one snapshot (INFO latencystats, metrics).
    pub fn percentiles(&self, ps: &[f64]) -> Option<(Vec<i64>, u64)> {
        let (counts, total) = self.snapshot()?;
        if total == 0 {
            return None;
        }
        Some((
            ps.iter()
                .map(|&p| percentile_of(&counts, total, p))
                .collect(),
            total,
        ))
    }

    /// LATENCY HISTOGRAM's cumulative distribution: (bucket upper bound in µs,
    /// cumulative count) at 1024 ns × 2^k, as Redis's logarithmic iteration reports
    /// it (only buckets where the count grew).
    pub fn cdf(&self) -> (u64, Vec<(i64, u64)>) {
        let Some((counts, total)) = self.snapshot() else {
            return (0, Vec::new());
        };
        let mut out = Vec::new();
        if total == 0 {
            return (0, out);
        }
        let mut level: i64 = 1024;
        let mut idx_done = 0usize; // counters summed so far: [0, idx_done)
        let mut cum = 0u64;
        let mut prev = 0u64;
        loop {
            let idx = counts_index_for(level);
            let (report_value, last) = if idx >= COUNTS_LEN {
                (value_at_index(COUNTS_LEN - 1), COUNTS_LEN - 1)
            } else {
                (level, idx)
            };
            while idx_done <= last {
                cum += counts.get(idx_done).copied().unwrap_or(0);
                idx_done += 1;
            }
            if cum > prev {
                out.push((highest_equivalent(report_value) / 1000, cum));
            }
            prev = cum;
            if cum >= total || idx >= COUNTS_LEN {
                break;
            }
            level *= 2;
        }
        (total, out)
    }
}

fn percentile_of(counts: &[u64], total: u64, percentile: f64) -> i64 {
    let p = percentile.min(100.0);
    let at = (((p / 100.0) * total as f64) + 0.5) as u64;
    let at = at.max(1);
    let mut sum = 0u64;
    for (i, &c) in counts.iter().enumerate() {
        sum += c;
        if sum >= at {
            return highest_equivalent(value_at_index(i));
        }
    }
    0
}

/// Redis's `%f` + `trimDoubleString`: `99.9`, `50`, `0.123457`.
pub fn fmt_percentile(p: f64) -> String {
    let s = format!("{p:.6}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

// ------------------------------------------------------------------ monitor

/// Samples kept per event (Redis's LATENCY_TS_LEN).
pub const TS_LEN: usize = 160;

#[derive(Clone, Copy, Default)]
pub struct Sample {
    /// Unix seconds (0 = unused slot).
    pub time: u64,
    /// Milliseconds.
    pub latency: u64,
}

/// One event's time series.
#[derive(Clone)]
pub struct Series {
    pub samples: [Sample; TS_LEN],
    /// Next slot to write.
    pub idx: usize,
    /// All-time maximum (ms).
    pub max: u64,
}

impl Series {
    fn new() -> Series {
        Series {
            samples: [Sample::default(); TS_LEN],
            idx: 0,
            max: 0,
        }
    }

    /// The used samples, oldest first.
    pub fn ordered(&self) -> impl Iterator<Item = Sample> + '_ {
        (0..TS_LEN)
            .map(move |j| self.samples[(self.idx + j) % TS_LEN])
            .filter(|s| s.time != 0)
    }

    /// The newest sample.
    pub fn last(&self) -> Sample {
        self.samples[(self.idx + TS_LEN - 1) % TS_LEN]
    }
}

/// The latency monitor and the latency-tracking settings.
pub struct Monitor {
    /// `latency-monitor-threshold` in ms (0 = off).
    pub threshold_ms: AtomicU64,
    /// `latency-tracking`.
    pub tracking: AtomicBool,
    /// `latency-tracking-info-percentiles`.
    pub percentiles: RwLock<Vec<f64>>,
    /// Events in creation order.
    events: Mutex<Vec<(String, Series)>>,
}

impl Default for Monitor {
    fn default() -> Self {
        Monitor::new()
    }
}

/// The process's monitor: one server per process, as in Redis, and subsystems that
/// have no `Server` at hand (the AOF writer) record their events here too.
static GLOBAL: Monitor = Monitor::new();

/// See [`GLOBAL`]; `Server::latency` is this monitor.
pub fn global() -> &'static Monitor {
    &GLOBAL
}

impl Monitor {
    pub const fn new() -> Monitor {
        Monitor {
            threshold_ms: AtomicU64::new(0),
            tracking: AtomicBool::new(true),
            percentiles: RwLock::new(Vec::new()),
            events: Mutex::new(Vec::new()),
        }
    }

    /// Redis's `latencyAddSampleIfNeeded`: records `ms` for `event` when the monitor
    /// is on and `ms` reaches the threshold.
    #[inline]
    pub fn add_if_needed(&self, event: &str, ms: u64) {
        let t = self.threshold_ms.load(Ordering::Relaxed);
        if t > 0 && ms >= t {
            self.add(event, ms);
        }
    }

    /// Redis's `latencyAddSample`: one sample per second (the maximum of that second).
    pub fn add(&self, event: &str, ms: u64) {
        let now = crate::util::time::now_ms() / 1000;
        let mut evs = self.events.lock();
        let pos = match evs.iter().position(|(e, _)| e == event) {
            Some(p) => p,
            None => {
                evs.push((event.to_string(), Series::new()));
                evs.len() - 1
            }
        };
        let Some((_, ts)) = evs.get_mut(pos) else {
            return;
        };
        if ms > ts.max {
            ts.max = ms;
        }
        let prev = (ts.idx + TS_LEN - 1) % TS_LEN;
        if ts.samples[prev].time == now {
            if ms > ts.samples[prev].latency {
                ts.samples[prev].latency = ms;
            }
            return;
        }
        ts.samples[ts.idx] = Sample {
            time: now,
            latency: ms,
        };
        ts.idx = (ts.idx + 1) % TS_LEN;
    }

    /// Resets one event (case-insensitively) or all of them; returns how many.
    pub fn reset(&self, event: Option<&[u8]>) -> usize {
        let mut evs = self.events.lock();
        let before = evs.len();
        match event {
            None => evs.clear(),
            Some(e) => evs.retain(|(name, _)| !name.as_bytes().eq_ignore_ascii_case(e)),
        }
        before - evs.len()
    }

    /// A copy of every event's series, in creation order.
    pub fn events(&self) -> Vec<(String, Series)> {
        self.events.lock().clone()
    }

    /// One event's series (exact name, as Redis's dict lookup).
    pub fn event(&self, name: &[u8]) -> Option<(String, Series)> {
        self.events
            .lock()
            .iter()
            .find(|(e, _)| e.as_bytes() == name)
            .cloned()
    }

    /// Re-reads the settings after a configuration change.
    pub fn configure(&self, threshold_ms: i64, tracking: bool, percentiles: &str) {
        self.threshold_ms
            .store(threshold_ms.max(0) as u64, Ordering::Relaxed);
        self.tracking.store(tracking, Ordering::Relaxed);
        *self.percentiles.write() = parse_percentiles(percentiles).unwrap_or_default();
    }
}

/// Parses `latency-tracking-info-percentiles` (validated by the configuration).
pub fn parse_percentiles(s: &str) -> Option<Vec<f64>> {
    if s.is_empty() {
        return Some(Vec::new());
    }
    s.split(' ').map(|p| p.parse::<f64>().ok()).collect()
}

/// The dispatcher's hook after each command ran (not for a command that blocked): the
/// monitor's `command` / `fast-command` events. (The command's histogram,
/// `latency-tracking`, is recorded with its other statistics, `dispatch::PendingStats`.)
#[inline]
pub fn after_command(srv: &Server, cmd: &Command, usec: u64, blocked: bool) {
    if blocked {
        return;
    }
    let m = &srv.latency;
    let t = m.threshold_ms.load(Ordering::Relaxed);
    if t > 0 && usec / 1000 >= t {
        let event = if cmd.has(flags::FAST) {
            "fast-command"
        } else {
            "command"
        };
        m.add(event, usec / 1000);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equivalent_values_match_hdr() {
        // 4 µs recorded as 4000 ns is reported as 4.015 µs, 22 µs as 22.015 µs.
        assert_eq!(highest_equivalent(4000), 4015);
        assert_eq!(highest_equivalent(3000), 3007);
        assert_eq!(highest_equivalent(22000), 22015);
        assert_eq!(highest_equivalent(200), 200);
        assert_eq!(value_at_index(counts_index_for(4000)), 4000);
        assert!(counts_index_for(MAX_VALUE) < COUNTS_LEN);
    }

    #[test]
    fn percentiles_and_cdf() {
        let h = Histogram::new();
        assert_eq!(h.cdf().0, 0);
        h.record(4000);
        h.record(5000);
        assert_eq!(h.value_at_percentile(50.0), 4015);
        assert_eq!(h.value_at_percentile(99.0), 5023);
        assert_eq!(h.cdf(), (2, vec![(4, 1), (8, 2)]));
        let h = Histogram::new();
        h.record(33000);
        h.record(39000);
        h.record(60000);
        assert_eq!(h.cdf(), (3, vec![(33, 1), (66, 3)]));
        h.reset();
        assert_eq!(h.total(), 0);
    }

    #[test]
    fn percentile_names() {
        assert_eq!(fmt_percentile(99.9), "99.9");
        assert_eq!(fmt_percentile(50.0), "50");
        assert_eq!(fmt_percentile(0.123456789), "0.123457");
    }

    #[test]
    fn monitor_keeps_one_sample_per_second() {
        let m = Monitor::new();
        m.add_if_needed("command", 500);
        assert!(m.events().is_empty());
        m.threshold_ms.store(100, Ordering::Relaxed);
        m.add_if_needed("command", 150);
        m.add_if_needed("command", 300);
        m.add_if_needed("command", 200);
        let (_, s) = m.event(b"command").unwrap();
        assert_eq!(s.ordered().count(), 1);
        assert_eq!(s.last().latency, 300);
        assert_eq!(s.max, 300);
        assert_eq!(m.reset(Some(b"COMMAND")), 1);
        assert_eq!(m.reset(None), 0);
    }
}
