//! LATENCY LATEST/HISTORY/RESET/GRAPH/DOCTOR/HISTOGRAM/HELP (the monitor and the
//! histograms are `crate::server::latency`).

use std::fmt::Write as _;

use super::{flags::*, CmdResult, Command, Ctx, RError};
use crate::server::latency::{Histogram, Series};
use crate::server::Server;

const ADMIN_CATS: &[&str] = &["admin", "slow", "dangerous"];
const FLAGS: u64 = ADMIN | NOSCRIPT | LOADING | STALE;

crate::commands! { pub static COMMANDS = [
    Command::new("latency", -2, 0, super::container)
        .acl(&["slow"])
        .subcommands(&SUBCOMMANDS),
]; }

crate::commands! { static SUBCOMMANDS = [
    Command::new("latest", 2, FLAGS, latest).acl(ADMIN_CATS),
    Command::new("history", 3, FLAGS, history).acl(ADMIN_CATS),
    Command::new("reset", -2, FLAGS, reset).acl(ADMIN_CATS),
    Command::new("graph", 3, FLAGS, graph).acl(ADMIN_CATS),
    Command::new("doctor", 2, FLAGS, doctor).acl(ADMIN_CATS),
    Command::new("histogram", -2, FLAGS, histogram).acl(ADMIN_CATS),
    Command::new("help", 2, LOADING | STALE, help).acl(&["slow"]),
]; }

fn latest(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let events = ctx.srv.latency.events();
    ctx.out.array(events.len());
    for (name, ts) in &events {
        let last = ts.last();
        ctx.out.array(4);
        ctx.out.bulk(name.as_bytes());
        ctx.out.int(last.time as i64);
        ctx.out.int(last.latency as i64);
        ctx.out.int(ts.max as i64);
    }
    Ok(())
}

fn history(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    match ctx.srv.latency.event(argv[2]) {
        None => ctx.out.array(0),
        Some((_, ts)) => {
            let samples: Vec<_> = ts.ordered().collect();
            ctx.out.array(samples.len());
            for s in samples {
                ctx.out.array(2);
                ctx.out.int(s.time as i64);
                ctx.out.int(s.latency as i64);
            }
        }
    }
    Ok(())
}

fn reset(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let n = if argv.len() == 2 {
        ctx.srv.latency.reset(None)
    } else {
        argv[2..]
            .iter()
            .map(|e| ctx.srv.latency.reset(Some(e)))
            .sum()
    };
    ctx.out.int(n as i64);
    Ok(())
}

fn graph(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let Some((name, ts)) = ctx.srv.latency.event(argv[2]) else {
        return Err(RError::owned(format!(
            "ERR No samples available for event '{}'",
            String::from_utf8_lossy(argv[2])
        )));
    };
    let now = crate::util::time::now_ms() / 1000;
    let text = sparkline_graph(&name, &ts, now);
    ctx.out.verbatim(text.as_bytes(), "txt");
    Ok(())
}

/// Redis's `latencyCommandGenSparkeline`: a header, 80 dashes, and the samples as a
/// 4-row filled sparkline labelled with their age.
pub fn sparkline_graph(event: &str, ts: &Series, now: u64) -> String {
    let mut values = Vec::new();
    let mut labels = Vec::new();
    for s in ts.ordered() {
        let elapsed = now.saturating_sub(s.time) as i64;
        let label = if elapsed < 60 {
            format!("{elapsed}s")
        } else if elapsed < 3600 {
            format!("{}m", elapsed / 60)
        } else if elapsed < 3600 * 24 {
            format!("{}h", elapsed / 3600)
        } else {
            format!("{}d", elapsed / (3600 * 24))
        };
        values.push(s.latency as f64);
        labels.push(label);
    }
    let min = values
        .iter()
        .cloned()
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.min(v))));
    let max = values
        .iter()
        .cloned()
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
    let mut out = format!(
        "{event} - high {} ms, low {} ms (all time high {} ms)\n",
        max.unwrap_or(0.0) as u64,
        min.unwrap_or(0.0) as u64,
        ts.max
    );
    out.push_str(&"-".repeat(80));
    out.push('\n');
    render_sparkline(&mut out, &values, &labels, 80, 4);
    out
}

/// Redis's sparkline.c with SPARKLINE_FILL (every sample has a label).
fn render_sparkline(
    out: &mut String,
    values: &[f64],
    labels: &[String],
    columns: usize,
    rows: usize,
) {
    let (mut min, mut max) = (0.0f64, 0.0f64);
    for (i, &v) in values.iter().enumerate() {
        if i == 0 {
            min = v;
            max = v;
        } else if v < min {
            min = v;
        } else if v > max {
            max = v;
        }
    }
    let mut j = 0;
    while j < values.len() {
        let len = (values.len() - j).min(columns);
        if j != 0 {
            out.push('\n');
        }
        render_range(out, values, labels, min, max, rows, j, len);
        j += columns;
    }
}

#[allow(clippy::too_many_arguments)]
fn render_range(
    out: &mut String,
    values: &[f64],
    labels: &[String],
    min: f64,
    max: f64,
    rows: usize,
    offset: usize,
    len: usize,
) {
    const FILL: [u8; 3] = *b"_o#";
    let charset_len = 3i64;
    let mut relmax = max - min;
    if relmax == 0.0 {
        relmax = 1.0;
    }
    let steps = charset_len * rows as i64;
    let has_labels = !labels.is_empty();
    let mut row = 0usize;
    loop {
        let mut looping = false;
        let mut chars = vec![b' '; len];
        for (j, c) in chars.iter_mut().enumerate() {
            let v = values.get(j + offset).copied().unwrap_or(0.0);
            let relval = v - min;
            let mut step = (((relval * steps as f64) as i64) as f64 / relmax) as i64;
            step = step.clamp(0, steps - 1);
            if row < rows {
                let charidx = step - ((rows - row - 1) as i64 * charset_len);
                looping = true;
                if (0..charset_len).contains(&charidx) {
                    *c = FILL[charidx as usize];
                } else if charidx >= charset_len {
                    *c = b'|';
                }
            } else {
                // One blank row between the graph and the labels.
                if has_labels && row - rows < 1 {
                    looping = true;
                    break;
                }
                if let Some(label) = labels.get(j + offset) {
                    let label_char = row - rows - 1;
                    if let Some(&b) = label.as_bytes().get(label_char) {
                        looping = true;
                        *c = b;
                    }
                }
            }
        }
        if !looping {
            break;
        }
        row += 1;
        out.push_str(&String::from_utf8_lossy(&chars));
        out.push('\n');
    }
}

fn doctor(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let text = latency_report(ctx.srv);
    ctx.out.verbatim(text.as_bytes(), "txt");
    Ok(())
}

/// Redis's `analyzeLatencyForEvent`: (samples, avg, mean deviation, period).
fn analyze(ts: &Series, now: u64) -> (u64, u64, u64, u64) {
    let (mut samples, mut sum, mut oldest) = (0u64, 0u64, 0u64);
    for s in ts.samples.iter().filter(|s| s.time != 0) {
        samples += 1;
        sum += s.latency;
        if oldest == 0 || s.time < oldest {
            oldest = s.time;
        }
    }
    if samples == 0 {
        return (0, 0, 0, 0);
    }
    let avg = sum / samples;
    let period = now.saturating_sub(oldest).max(1);
    let dev: u64 = ts
        .samples
        .iter()
        .filter(|s| s.time != 0)
        .map(|s| (avg as i64 - s.latency as i64).unsigned_abs())
        .sum();
    (samples, avg, dev / samples, period)
}

/// Whether the process has transparent huge pages (AnonHugePages in smaps).
fn anon_huge_pages() -> bool {
    let Ok(s) = std::fs::read_to_string("/proc/self/smaps_rollup") else {
        return false;
    };
    s.lines()
        .filter(|l| l.starts_with("AnonHugePages:"))
        .filter_map(|l| l.split_whitespace().nth(1))
        .any(|v| v.parse::<u64>().unwrap_or(0) > 0)
}

/// Redis's `createLatencyReport` (LATENCY DOCTOR).
pub fn latency_report(srv: &Server) -> String {
    let events = srv.latency.events();
    let threshold = srv
        .latency
        .threshold_ms
        .load(std::sync::atomic::Ordering::Relaxed);
    if events.is_empty() && threshold == 0 {
        return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n".to_string();
    }
    let (slowlog, hz, fsync_always) = {
        let c = srv.config.read();
        (
            c.int("slowlog-log-slower-than"),
            c.int("hz"),
            c.str("appendfsync") == "always",
        )
    };
    let now = crate::util::time::now_ms() / 1000;
    let mut report = String::new();
    let mut advices = 0;
    #[derive(Default)]
    struct A {
        slowlog_enabled: bool,
        slowlog_tuning: bool,
        slowlog_inspect: bool,
        disk_contention: bool,
        scheduler: bool,
        data_writeback: bool,
        no_appendfsync: bool,
        local_disk: bool,
        ssd: bool,
        write_load_info: bool,
        hz: bool,
        large_objects: bool,
        mass_eviction: bool,
        relax_fsync_policy: bool,
        disable_thp: bool,
    }
    let mut a = A::default();
    for (i, (event, ts)) in events.iter().enumerate() {
        let eventnum = i + 1;
        if eventnum == 1 {
            report.push_str("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n");
        }
        let (samples, avg, mad, period) = analyze(ts, now);
        let _ = write!(
            report,
            "{eventnum}. {event}: {samples} latency spikes (average {avg}ms, mean deviation {mad}ms, period {:.2} sec). Worst all time event {}ms.",
            period as f64 / samples.max(1) as f64,
            ts.max
        );
        let e = event.to_ascii_lowercase();
        match e.as_str() {
            "command" => {
                if slowlog < 0 {
                    a.slowlog_enabled = true;
                    advices += 1;
                } else if slowlog / 1000 > threshold as i64 {
                    a.slowlog_tuning = true;
                    advices += 1;
                }
                a.slowlog_inspect = true;
                a.large_objects = true;
                advices += 2;
            }
            "fast-command" => {
                a.scheduler = true;
                advices += 1;
            }
            "aof-write-pending-fsync" => {
                a.local_disk = true;
                a.disk_contention = true;
                a.ssd = true;
                a.data_writeback = true;
                advices += 4;
            }
            "aof-write-active-child" => {
                a.no_appendfsync = true;
                a.data_writeback = true;
                a.ssd = true;
                advices += 3;
            }
            "aof-write-alone" => {
                a.local_disk = true;
                a.data_writeback = true;
                a.ssd = true;
                advices += 3;
            }
            "aof-fsync-always" => {
                a.relax_fsync_policy = true;
                advices += 1;
            }
            "aof-fstat" | "rdb-unlink-temp-file" => {
                a.disk_contention = true;
                a.local_disk = true;
                advices += 2;
            }
            "aof-rewrite-diff-write" | "aof-rename" => {
                a.write_load_info = true;
                a.data_writeback = true;
                a.ssd = true;
                a.local_disk = true;
                advices += 4;
            }
            "expire-cycle" => {
                a.hz = true;
                a.large_objects = true;
                advices += 2;
            }
            "eviction-del" => {
                a.large_objects = true;
                advices += 1;
            }
            "eviction-cycle" => {
                a.mass_eviction = true;
                advices += 1;
            }
            _ => {}
        }
        report.push('\n');
    }
    if anon_huge_pages() {
        a.disable_thp = true;
        advices += 1;
    }
    if events.is_empty() && advices == 0 {
        report.push_str("Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n");
    } else if !events.is_empty() && advices == 0 {
        report.push_str("\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please use the Redis community to get some help, providing this report in your help request.\n");
    } else {
        report.push_str("\nI have a few advices for you:\n\n");
        if a.slowlog_enabled {
            let _ = writeln!(report, "- There are latency issues with potentially slow commands you are using. Try to enable the Slow Log Redis feature using the command 'CONFIG SET slowlog-log-slower-than {}'. If the Slow log is disabled Redis is not able to log slow commands execution for you.", threshold * 1000);
        }
        if a.slowlog_tuning {
            let _ = writeln!(report, "- Your current Slow Log configuration only logs events that are slower than your configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than {}'.", threshold * 1000);
        }
        if a.slowlog_inspect {
            report.push_str("- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n");
        }
        if a.scheduler {
            report.push_str("- The system is slow to execute Redis code paths not containing system calls. This usually means the system does not provide Redis CPU time to run for long periods. You should try to:\n  1) Lower the system load.\n  2) Use a computer / VM just for Redis if you are running other software in the same system.\n  3) Check if you have a \"noisy neighbour\" problem.\n  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your system.\n  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if you are using Jemalloc. However this may create fragmentation problems.\n");
        }
        if a.local_disk {
            report.push_str("- It is strongly advised to use local disks for persistence, especially if you are using AOF. Remote disks provided by platform-as-a-service providers are known to be slow.\n");
        }
        if a.ssd {
            report.push_str("- SSD disks are able to reduce fsync latency, and total time needed for snapshotting and AOF log rewriting (resulting in smaller memory usage and smaller final AOF rewrite buffer flushes). With extremely high write load SSD disks can be a good option. However Redis should perform reasonably with high load using normal disks. Use this advice as a last resort.\n");
        }
        if a.data_writeback {
            report.push_str("- Mounting ext3/4 filesystems with data=writeback can provide a performance boost compared to data=ordered, however this mode of operation provides less guarantees, and sometimes it can happen that after a hard crash the AOF file will have a half-written command at the end and will require to be repaired before Redis restarts.\n");
        }
        if a.disk_contention {
            report.push_str("- Try to lower the disk contention. This is often caused by other disk intensive processes running in the same computer (including other Redis instances).\n");
        }
        if a.no_appendfsync {
            report.push_str("- Assuming from the point of view of data safety this is viable in your environment, you could try to enable the 'no-appendfsync-on-rewrite' option, so that fsync will not be performed while there is a child rewriting the AOF file or producing an RDB file (the moment where there is high disk contention).\n");
        }
        if a.relax_fsync_policy && fsync_always {
            report.push_str("- Your fsync policy is set to 'always'. It is very hard to get good performances with such a setup, if possible try to relax the fsync policy to 'onesec'.\n");
        }
        if a.write_load_info {
            report.push_str("- Latency during the AOF atomic rename operation or when the final difference is flushed to the AOF file at the end of the rewrite, sometimes is caused by very high write load, causing the AOF buffer to get very large. If possible try to send less commands to accomplish the same work, or use Lua scripts to group multiple operations into a single EVALSHA call.\n");
        }
        if a.hz && hz < 100 {
            report.push_str("- In order to make the Redis keys expiring process more incremental, try to set the 'hz' configuration parameter to 100 using 'CONFIG SET hz 100'.\n");
        }
        if a.large_objects {
            report.push_str("- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n");
        }
        if a.mass_eviction {
            report.push_str("- Sudden changes to the 'maxmemory' setting via 'CONFIG SET', or allocation of large objects via sets or sorted sets intersections, STORE option of SORT, Redis Cluster large keys migrations (RESTORE command), may create sudden memory pressure forcing the server to block trying to evict keys. \n");
        }
        if a.disable_thp {
            report.push_str("- I detected a non zero amount of anonymous huge pages used by your process. This creates very serious latency events in different conditions, especially when Redis is persisting on disk. To disable THP support use the command 'echo never > /sys/kernel/mm/transparent_hugepage/enabled', make sure to also add it into /etc/rc.local so that the command will be executed again after a reboot. Note that even if you have already disabled THP, you still need to restart the Redis process to get rid of the huge pages already created.\n");
        }
    }
    report
}

/// Writes one command's `{calls, histogram_usec}` map (Redis's `fillCommandCDF`).
fn fill_cdf(ctx: &mut Ctx, h: &Histogram) {
    let (calls, buckets) = h.cdf();
    ctx.out.map(2);
    ctx.out.bulk(b"calls");
    ctx.out.int(calls as i64);
    ctx.out.bulk(b"histogram_usec");
    ctx.out.map(buckets.len());
    for (usec, count) in buckets {
        ctx.out.int(usec);
        ctx.out.int(count as i64);
    }
}

/// LATENCY HISTOGRAM [command ...]: every command (and subcommand) with recorded
/// latencies, or the named ones (`name` or `container|sub`; a container names its
/// subcommands too; unknown names are skipped).
fn histogram(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let mut chosen: Vec<(String, &'static Command)> = Vec::new();
    let mut add = |c: &'static Command, parent: Option<&'static Command>| {
        if c.stats.latency.total() > 0 {
            chosen.push((super::table::full_name(c, parent), c));
        }
    };
    if argv.len() == 2 {
        for c in ctx.srv.commands.all() {
            add(c, None);
            for s in c.subcommands {
                add(s, Some(c));
            }
        }
    } else {
        for name in &argv[2..] {
            let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
            let (top, sub) = match lower.split_once('|') {
                Some((t, s)) => (t.to_string(), Some(s.to_string())),
                None => (lower.clone(), None),
            };
            let Some(c) = ctx.srv.commands.get(&top) else {
                continue;
            };
            match sub {
                Some(s) => {
                    if let Some(sc) = c.subcommands.iter().find(|x| x.name == s) {
                        add(sc, Some(c));
                    }
                }
                None => {
                    add(c, None);
                    for s in c.subcommands {
                        add(s, Some(c));
                    }
                }
            }
        }
    }
    ctx.out.map(chosen.len());
    for (name, c) in chosen {
        ctx.out.bulk(name.as_bytes());
        fill_cdf(ctx, &c.stats.latency);
    }
    Ok(())
}

fn help(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    super::client::help_reply(
        ctx,
        "LATENCY",
        &[
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::latency::{Sample, TS_LEN};

    #[test]
    fn graph_of_two_samples() {
        let mut ts = Series {
            samples: [Sample::default(); TS_LEN],
            idx: 2,
            max: 300,
        };
        ts.samples[0] = Sample {
            time: 1000,
            latency: 100,
        };
        ts.samples[1] = Sample {
            time: 1010,
            latency: 300,
        };
        let g = sparkline_graph("command", &ts, 1012);
        let lines: Vec<&str> = g.lines().collect();
        assert_eq!(
            lines[0],
            "command - high 300 ms, low 100 ms (all time high 300 ms)"
        );
        assert_eq!(lines[1], "-".repeat(80));
        // Four graph rows (the high sample reaches the top), a blank row, labels.
        assert_eq!(
            &lines[2..],
            &[" #", " |", " |", "_|", "  ", "12", "2s", "s "]
        );
    }
}
