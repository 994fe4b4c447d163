//! Observability against the reference server where replies are comparable: the
//! latency monitor driven by DEBUG SLEEP, INFO latencystats and LATENCY HISTOGRAM,
//! INFO errorstats / commandstats error counters, CONFIG SET for every directive,
//! CONFIG REWRITE; and the Prometheus endpoint (a Ferrodis extension).

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{split_elements, RawClient};

/// The text of a bulk / verbatim reply (RESP2: `$n\r\n...\r\n`).
fn text(reply: &[u8]) -> String {
    let s = String::from_utf8_lossy(reply).into_owned();
    match s.split_once("\r\n") {
        Some((_, rest)) => rest.strip_suffix("\r\n").unwrap_or(rest).to_string(),
        None => s,
    }
}

/// Integer of a `:n` reply.
fn int(reply: &[u8]) -> i64 {
    let s = String::from_utf8_lossy(reply);
    s.trim_start_matches(':').trim().parse().unwrap_or(i64::MIN)
}

fn info_section(c: &mut RawClient, section: &str) -> Vec<String> {
    text(&c.cmds(&["INFO", section]))
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// Sends `cmds` in one write (one pipelined batch) and reads their replies.
fn pipeline(c: &mut RawClient, cmds: &[&[&str]]) -> Vec<Vec<u8>> {
    let mut batch = Vec::new();
    for args in cmds {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        batch.extend_from_slice(&common::encode(&a));
    }
    c.send_raw(&batch);
    cmds.iter().map(|_| c.read_reply()).collect()
}

/// Runs the same monitor scenario on both servers: two slow commands in different
/// seconds, then every LATENCY view of them.
#[test]
fn latency_monitor_with_debug_sleep() {
    let f = common::ferrodis(&[]);
    let r = common::redis(&[]);
    for (name, srv) in [("ferrodis", &f), ("redis", &r)] {
        let mut c = srv.client();
        assert_eq!(
            c.cmds(&["CONFIG", "SET", "latency-monitor-threshold", "50"]),
            b"+OK\r\n"
        );
        // Under the threshold: no event.
        c.cmds(&["DEBUG", "SLEEP", "0.01"]);
        assert_eq!(c.cmds(&["LATENCY", "LATEST"]), b"*0\r\n", "{name}");
        c.cmds(&["DEBUG", "SLEEP", "0.12"]);
        std::thread::sleep(Duration::from_millis(1100));
        c.cmds(&["DEBUG", "SLEEP", "0.06"]);
        let latest = c.cmds(&["LATENCY", "LATEST"]);
        let (_, events) = split_elements(&latest);
        assert_eq!(events.len(), 1, "{name}: {}", common::show(&latest));
        let (_, fields) = split_elements(&events[0]);
        assert_eq!(text(&fields[0]), "command", "{name}");
        let last = int(&fields[2]);
        let max = int(&fields[3]);
        assert!((60..1000).contains(&last), "{name}: last {last}");
        assert!((120..1000).contains(&max), "{name}: max {max}");
        let hist = c.cmds(&["LATENCY", "HISTORY", "command"]);
        let (_, samples) = split_elements(&hist);
        assert_eq!(samples.len(), 2, "{name}: {}", common::show(&hist));
        let graph = text(&c.cmds(&["LATENCY", "GRAPH", "command"]));
        let lines: Vec<&str> = graph.lines().collect();
        assert!(
            lines[0].starts_with("command - high ")
                && lines[0].ends_with(&format!("(all time high {max} ms)")),
            "{name}: {graph}"
        );
        assert_eq!(lines[1], "-".repeat(80), "{name}");
        // Four sparkline rows two columns wide, a blank row, then the age labels.
        assert_eq!(
            lines[2..6].iter().map(|l| l.len()).collect::<Vec<_>>(),
            [2, 2, 2, 2],
            "{name}: {graph}"
        );
        assert_eq!(lines[6], "  ", "{name}");
        let doctor = text(&c.cmds(&["LATENCY", "DOCTOR"]));
        assert!(
            doctor.starts_with("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n1. command: 2 latency spikes (average "),
            "{name}: {doctor}"
        );
        assert!(
            doctor.contains(&format!("Worst all time event {max}ms.")),
            "{name}"
        );
        assert!(doctor.contains("- Check your Slow Log to understand what are the commands you are running which are too slow to execute."), "{name}");
        // The histogram saw the sleeps.
        let h = c.cmds(&["LATENCY", "HISTOGRAM", "debug"]);
        assert!(common::show(&h).contains("calls"), "{name}");
        assert_eq!(c.cmds(&["LATENCY", "RESET", "nosuch"]), b":0\r\n", "{name}");
        assert_eq!(
            c.cmds(&["LATENCY", "RESET", "COMMAND"]),
            b":1\r\n",
            "{name}"
        );
        assert_eq!(c.cmds(&["LATENCY", "LATEST"]), b"*0\r\n", "{name}");
        assert_eq!(
            c.cmds(&["LATENCY", "GRAPH", "command"]),
            b"-ERR No samples available for event 'command'\r\n",
            "{name}"
        );
    }
}

/// `latency_percentiles_usec_<cmd>:p50=1.003,p99=...` → (cmd, [(name, value)]).
fn parse_latencystats(lines: &[String]) -> BTreeMap<String, Vec<(String, String)>> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("latency_percentiles_usec_"))
        .filter_map(|l| l.split_once(':'))
        .map(|(cmd, v)| {
            let ps = v
                .split(',')
                .filter(|p| !p.is_empty())
                .filter_map(|p| p.split_once('='))
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect();
            (cmd.to_string(), ps)
        })
        .collect()
}

#[test]
fn latencystats_and_histogram_match_reference_shape() {
    let f = common::ferrodis(&[]);
    let r = common::redis(&[]);
    let mut shapes = Vec::new();
    for srv in [&f, &r] {
        let mut c = srv.client();
        c.cmds(&["CONFIG", "RESETSTAT"]);
        for i in 0..25 {
            c.cmds(&["SET", &format!("k{i}"), "v"]);
        }
        c.cmds(&["GET", "k1"]);
        c.cmds(&[
            "CONFIG",
            "SET",
            "latency-tracking-info-percentiles",
            "50 99.99 0",
        ]);
        let stats = parse_latencystats(&info_section(&mut c, "latencystats"));
        let set = stats.get("set").cloned().unwrap_or_default();
        let names: Vec<&str> = set.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["p50", "p99.99", "p0"]);
        for (_, v) in &set {
            // Redis prints `%.3f` of hdr's highest equivalent value in µs.
            let (int_part, frac) = v.split_once('.').expect("a fraction");
            assert!(int_part.parse::<u64>().is_ok() && frac.len() == 3, "{v}");
        }
        // p0 <= p50 <= p99.99
        let vals: Vec<f64> = set.iter().map(|(_, v)| v.parse().unwrap_or(-1.0)).collect();
        assert!(vals[2] <= vals[0] && vals[0] <= vals[1], "{vals:?}");
        // The histogram counts every call, cumulative and increasing.
        let h = c.cmds(&["LATENCY", "HISTOGRAM", "set", "SET", "config|set"]);
        let (_, items) = split_elements(&h);
        assert_eq!(text(&items[0]), "set");
        let (_, m) = split_elements(&items[1]);
        assert_eq!(text(&m[0]), "calls");
        assert_eq!(int(&m[1]), 25);
        let (_, buckets) = split_elements(&m[3]);
        let counts: Vec<i64> = buckets.iter().skip(1).step_by(2).map(|b| int(b)).collect();
        assert_eq!(counts.last(), Some(&25));
        assert!(counts.windows(2).all(|w| w[0] < w[1]), "{counts:?}");
        let bounds: Vec<i64> = buckets.iter().step_by(2).map(|b| int(b)).collect();
        for b in &bounds {
            // 1024 ns × 2^k, as hdr's highest equivalent value in µs.
            assert!(
                [1, 2, 4, 8, 16, 33, 66, 132, 264, 528, 1056, 2113, 4227, 8454, 16908, 33816]
                    .contains(b),
                "{b}"
            );
        }
        let names: Vec<String> = items.iter().step_by(2).map(|i| text(i)).collect();
        shapes.push(names);
        // CONFIG RESETSTAT clears the histograms.
        c.cmds(&["CONFIG", "RESETSTAT"]);
        let stats = parse_latencystats(&info_section(&mut c, "latencystats"));
        assert!(!stats.contains_key("set"), "{stats:?}");
        assert_eq!(c.cmds(&["LATENCY", "HISTOGRAM", "set"]), b"*0\r\n");
    }
    // The same commands are listed (SET twice: Redis does not de-duplicate).
    assert_eq!(shapes[0], shapes[1]);
}

/// `cmdstat_x:calls=..,usec=..,usec_per_call=..,rejected_calls=..,failed_calls=..`
/// without the timings.
fn counters(lines: &[String]) -> BTreeMap<String, String> {
    lines
        .iter()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| {
            let kept: Vec<&str> = v.split(',').filter(|f| !f.starts_with("usec")).collect();
            (k.to_string(), kept.join(","))
        })
        .collect()
}

#[test]
fn errorstats_and_failed_calls_match_reference() {
    let f = common::ferrodis(&[]);
    let r = common::redis(&[]);
    let script: &[&[&str]] = &[
        &["CONFIG", "RESETSTAT"],
        &["NOSUCHCMD", "x"],
        &["SET"],
        &["SET", "str", "abc"],
        &["LPUSH", "str", "a"],
        &["INCR", "str"],
        &["CONFIG", "SET", "nope", "1"],
        &["EXEC"],
        &["MULTI"],
        &["GET"],
        &["EXEC"],
        &["MULTI"],
        &["INCR", "str"],
        &["EXEC"],
        &["CONFIG", "GET", "maxmemory"],
        &["OBJECT", "ENCODING", "nokey"],
        &["XADD", "s", "0-0", "f", "v"],
        &["GET", "str"],
    ];
    let mut got = Vec::new();
    for srv in [&f, &r] {
        let mut c = srv.client();
        for cmd in script {
            c.cmds(cmd);
        }
        let errors = info_section(&mut c, "errorstats");
        let stats = counters(&info_section(&mut c, "commandstats"));
        let total: Vec<String> = info_section(&mut c, "stats")
            .into_iter()
            .filter(|l| {
                l.starts_with("total_error_replies") || l.starts_with("unexpected_error_replies")
            })
            .collect();
        got.push((errors, stats, total));
    }
    assert_eq!(got[0].0, got[1].0, "errorstats");
    // INFO itself is not in the comparison (its own counts differ by a call).
    let strip = |m: &BTreeMap<String, String>| -> BTreeMap<String, String> {
        m.iter()
            .filter(|(k, _)| k.as_str() != "cmdstat_info")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    assert_eq!(strip(&got[0].1), strip(&got[1].1), "commandstats counters");
    assert_eq!(got[0].2, got[1].2, "total_error_replies");
}

/// `CONFIG SET name <its current value>` for every directive of the reference's
/// `CONFIG GET *`: accepted on both, or refused with the same error.
#[test]
fn config_set_current_values_like_reference() {
    let f = common::ferrodis(&[]);
    let r = common::redis(&[]);
    let mut fc = f.client();
    let mut rc = r.client();
    let all = rc.cmds(&["CONFIG", "GET", "*"]);
    let (_, items) = split_elements(&all);
    let pairs: Vec<(String, String)> = items
        .chunks(2)
        .map(|c| (text(&c[0]), c.get(1).map(|v| text(v)).unwrap_or_default()))
        .collect();
    assert!(pairs.len() > 150, "{}", pairs.len());
    // Values that depend on how each server was started (setting the reference's
    // value on Ferrodis would move it), or that would disturb the test itself.
    const SKIP: &[&str] = &["port", "dir", "bind", "unixsocket", "logfile", "pidfile"];
    let mut mismatches = Vec::new();
    for (name, value) in &pairs {
        if SKIP.contains(&name.as_str()) {
            continue;
        }
        let args = ["CONFIG", "SET", name.as_str(), value.as_str()];
        let want = rc.cmds(&args);
        let got = fc.cmds(&args);
        if got != want {
            mismatches.push(format!(
                "{name} {value:?}: redis {} ferrodis {}",
                common::show(&want),
                common::show(&got)
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// CONFIG REWRITE on the same file as the reference: comments and unknown lines kept,
/// changed directives replaced in place, new ones after the marker, lines of values
/// set back to their default removed.
#[test]
fn config_rewrite_like_reference() {
    let mut outputs = Vec::new();
    for which in ["ferrodis", "redis"] {
        let dir = common::TmpDir::new(&format!("rewrite-{which}"));
        let conf = dir.path().join("redis.conf");
        let port = common::free_port();
        std::fs::write(
            &conf,
            format!(
                "# my settings\n\n# the port\nport {port}\nbind 127.0.0.1\nhz 15\n# keep me\nmaxmemory 1mb\nsave \"\"\nenable-debug-command yes\nloglevel warning\n"
            ),
        )
        .expect("write conf");
        let bin = if which == "redis" {
            common::redis_server_bin()
        } else {
            common::ferrodis_bin().to_string()
        };
        let mut child = std::process::Command::new(&bin)
            .arg(&conf)
            .current_dir(dir.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        common::wait_ready(port, &mut child, which);
        let mut c = RawClient::connect(port);
        // Changed in place; back to the default (line removed); new (appended).
        assert_eq!(c.cmds(&["CONFIG", "SET", "hz", "20"]), b"+OK\r\n");
        assert_eq!(c.cmds(&["CONFIG", "SET", "maxmemory", "0"]), b"+OK\r\n");
        assert_eq!(
            c.cmds(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]),
            b"+OK\r\n"
        );
        assert_eq!(c.cmds(&["CONFIG", "SET", "loglevel", "notice"]), b"+OK\r\n");
        assert_eq!(c.cmds(&["CONFIG", "REWRITE"]), b"+OK\r\n", "{which}");
        let first = std::fs::read_to_string(&conf).expect("read conf");
        // A second rewrite keeps the marker and adds nothing but Redis's blank line.
        assert_eq!(c.cmds(&["CONFIG", "SET", "hz", "25"]), b"+OK\r\n");
        assert_eq!(c.cmds(&["CONFIG", "REWRITE"]), b"+OK\r\n");
        let second = std::fs::read_to_string(&conf).expect("read conf");
        let _ = child.kill();
        let _ = child.wait();
        let dir_s = dir.s();
        outputs.push([first, second].map(|t| {
            normalize_rewrite(&t.replace(&port.to_string(), "PORT").replace(&dir_s, "DIR"))
        }));
    }
    assert_eq!(outputs[0], outputs[1]);
}

/// A rewritten file with the generated part sorted (Redis appends in its config
/// table's hash order) and without `user` lines (ACL users: not written by Ferrodis's
/// CONFIG REWRITE).
fn normalize_rewrite(t: &str) -> String {
    let (head, tail) = t
        .split_once("# Generated by CONFIG REWRITE\n")
        .unwrap_or((t, ""));
    let mut gen: Vec<&str> = tail
        .split('\n')
        .filter(|l| !l.starts_with("user "))
        .collect();
    let blanks = gen.iter().rev().take_while(|l| l.is_empty()).count();
    gen.truncate(gen.len() - blanks);
    gen.sort();
    format!(
        "{head}# Generated by CONFIG REWRITE\n{}\n{}",
        gen.join("\n"),
        "\n".repeat(blanks)
    )
}

/// Scrapes `path` on the metrics port: (status line, body).
fn scrape(port: u16, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect metrics");
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").expect("send");
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("read");
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
    let status = head.lines().next().unwrap_or("").to_string();
    if status.contains("200") {
        assert!(
            head.contains("Content-Type: text/plain; version=0.0.4"),
            "{head}"
        );
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(usize::MAX);
        assert_eq!(len, body.len());
    }
    (status, body.to_string())
}

/// The value of the sample `name` (with its labels, e.g. `x{cmd="set"}`).
fn sample(body: &str, name: &str) -> Option<f64> {
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
}

#[test]
fn prometheus_endpoint() {
    let mport = common::free_port();
    let f = common::ferrodis(&["--metrics-port", &mport.to_string()]);
    let mut c = f.client();
    let (status, body) = scrape(mport, "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(
        sample(&body, "ferrodis_command_calls_total{cmd=\"set\"}"),
        None
    );
    for i in 0..7 {
        c.cmds(&["SET", &format!("k{i}"), "v"]);
    }
    c.cmds(&["SELECT", "3"]);
    c.cmds(&["SET", "a", "1", "EX", "100"]);
    c.cmds(&["GET", "a"]);
    c.cmds(&["GET", "nokey"]);
    let (_, body) = scrape(mport, "/metrics?x=1");
    assert_eq!(
        sample(&body, "ferrodis_command_calls_total{cmd=\"set\"}"),
        Some(8.0)
    );
    assert_eq!(
        sample(&body, "ferrodis_command_calls_total{cmd=\"get\"}"),
        Some(2.0)
    );
    assert_eq!(
        sample(&body, "ferrodis_command_latency_seconds_count{cmd=\"set\"}"),
        Some(8.0)
    );
    assert!(sample(
        &body,
        "ferrodis_command_latency_seconds{cmd=\"set\",quantile=\"0.99\"}"
    )
    .is_some_and(|v| v > 0.0));
    assert_eq!(sample(&body, "ferrodis_db_keys{db=\"0\"}"), Some(7.0));
    assert_eq!(sample(&body, "ferrodis_db_keys{db=\"3\"}"), Some(1.0));
    assert_eq!(
        sample(&body, "ferrodis_db_expiring_keys{db=\"3\"}"),
        Some(1.0)
    );
    assert_eq!(sample(&body, "ferrodis_keyspace_hits_total"), Some(1.0));
    assert_eq!(sample(&body, "ferrodis_keyspace_misses_total"), Some(1.0));
    // The readiness probe of `common::ferrodis` may still be closing: its connection
    // leaves the count a moment after the probe hung up.
    let mut clients = sample(&body, "ferrodis_connected_clients");
    for _ in 0..100 {
        if clients == Some(1.0) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
        clients = sample(&scrape(mport, "/metrics").1, "ferrodis_connected_clients");
    }
    assert_eq!(clients, Some(1.0));
    assert!(sample(&body, "ferrodis_commands_processed_total").is_some_and(|v| v >= 11.0));
    assert!(sample(&body, "ferrodis_memory_used_bytes").is_some_and(|v| v > 0.0));
    assert!(sample(&body, "ferrodis_uptime_seconds").is_some());
    // Every sample line is `name{labels} value` with a TYPE declared before it.
    let mut typed = std::collections::HashSet::new();
    for l in body.lines() {
        if let Some(rest) = l.strip_prefix("# TYPE ") {
            typed.insert(rest.split(' ').next().unwrap_or("").to_string());
        } else if !l.starts_with('#') {
            let name = l.split(['{', ' ']).next().unwrap_or("");
            let base = name
                .strip_suffix("_sum")
                .or_else(|| name.strip_suffix("_count"))
                .unwrap_or(name);
            assert!(typed.contains(name) || typed.contains(base), "{l}");
        }
    }
    let (status, _) = scrape(mport, "/other");
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    // CONFIG RESETSTAT resets the per-command series.
    c.cmds(&["CONFIG", "RESETSTAT"]);
    let (_, body) = scrape(mport, "/metrics");
    assert_eq!(
        sample(&body, "ferrodis_command_calls_total{cmd=\"set\"}"),
        None
    );
    assert_eq!(
        c.cmds(&["CONFIG", "GET", "metrics-port"]),
        format!(
            "*2\r\n$12\r\nmetrics-port\r\n${}\r\n{mport}\r\n",
            mport.to_string().len()
        )
        .into_bytes()
    );
}

/// Commands pipelined in one batch each get their own time: Ferrodis reads the clock
/// once per command, taking the previous command's end as the next one's start
/// (`server::dispatch`). A key that expires while an earlier command of the batch
/// runs is gone for the later ones, and a command's duration (INFO commandstats) does
/// not include the slow command before it. Same replies as the reference server.
#[test]
fn pipelined_commands_each_get_their_own_time() {
    let f = common::ferrodis(&[]);
    let r = common::redis(&[]);
    for (name, srv) in [("ferrodis", &f), ("redis", &r)] {
        let mut c = srv.client();
        assert_eq!(c.cmds(&["CONFIG", "RESETSTAT"]), b"+OK\r\n");
        let replies = pipeline(
            &mut c,
            &[
                &["SET", "k", "v", "PX", "40"],
                &["DEBUG", "SLEEP", "0.1"],
                &["GET", "k"],
                &["EXISTS", "k"],
                &["PING"],
            ],
        );
        assert_eq!(
            replies,
            [
                &b"+OK\r\n"[..],
                b"+OK\r\n",
                b"$-1\r\n",
                b":0\r\n",
                b"+PONG\r\n"
            ],
            "{name}"
        );
        let stats = info_section(&mut c, "commandstats");
        let usec = |cmd: &str| -> i64 {
            let line = stats
                .iter()
                .find(|l| l.starts_with(&format!("cmdstat_{cmd}:")))
                .unwrap_or_else(|| panic!("{name}: no {cmd} in {stats:?}"));
            let field = line
                .split(',')
                .find_map(|f| {
                    f.strip_prefix("usec=")
                        .or_else(|| f.split_once(":usec=").map(|x| x.1))
                })
                .unwrap_or_else(|| panic!("{name}: {line}"));
            field.parse().unwrap_or(-1)
        };
        assert!(usec("debug") >= 100_000, "{name}: {stats:?}");
        for cmd in ["get", "exists", "ping"] {
            assert!(
                (0..50_000).contains(&usec(cmd)),
                "{name}: {cmd} took the sleep's time: {stats:?}"
            );
        }
    }
}

/// Statistics of pipelined commands are visible to the next command of the same
/// pipeline (INFO, LATENCY HISTOGRAM, INFO persistence's change count), INFO does not
/// count itself while it runs, and another client sees them once the replies arrived
/// (Ferrodis adds a batch's figures to the shared counters once, see
/// `dispatch::PendingStats`).
#[test]
fn pipelined_statistics_are_seen_by_the_next_command() {
    let f = common::ferrodis(&[]);
    let r = common::redis(&[]);
    for (name, srv) in [("ferrodis", &f), ("redis", &r)] {
        let mut c = srv.client();
        let mut other = srv.client();
        let changes = |lines: &[String]| -> i64 {
            lines
                .iter()
                .find_map(|l| l.strip_prefix("rdb_changes_since_last_save:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(-1)
        };
        let before = changes(&info_section(&mut c, "persistence"));
        assert_eq!(c.cmds(&["CONFIG", "RESETSTAT"]), b"+OK\r\n");
        let mut cmds: Vec<&[&str]> = vec![&["INCR", "n"]; 5];
        cmds.extend([
            &["INFO", "commandstats"][..],
            &["INFO", "commandstats"],
            &["LATENCY", "HISTOGRAM", "incr"],
            &["INFO", "persistence"],
        ]);
        let replies: Vec<String> = pipeline(&mut c, &cmds)
            .iter()
            .map(|r| String::from_utf8_lossy(r).into_owned())
            .collect();
        assert_eq!(replies[4], ":5\r\n", "{name}");
        let calls = |info: &str, cmd: &str| -> Option<String> {
            info.lines()
                .find_map(|l| l.strip_prefix(&format!("cmdstat_{cmd}:calls=")))
                .map(|v| v.split(',').next().unwrap_or("").to_string())
        };
        assert_eq!(calls(&replies[5], "incr").as_deref(), Some("5"), "{name}");
        assert_eq!(calls(&replies[5], "info"), None, "{name}: {}", replies[5]);
        assert_eq!(calls(&replies[6], "info").as_deref(), Some("1"), "{name}");
        assert!(
            replies[7].contains("$5\r\ncalls\r\n:5\r\n"),
            "{name}: {}",
            replies[7]
        );
        let lines: Vec<String> = replies[8].lines().map(str::to_string).collect();
        assert_eq!(changes(&lines), before + 5, "{name}");
        // Another client, once the replies of a batch of INCRs alone arrived.
        let incr = common::encode(&[b"INCR", b"n"]);
        c.send_raw(&incr.repeat(3));
        for _ in 0..3 {
            c.read_reply();
        }
        let seen = String::from_utf8_lossy(&other.cmds(&["INFO", "commandstats"])).into_owned();
        assert_eq!(calls(&seen, "incr").as_deref(), Some("8"), "{name}");
        assert_eq!(
            calls(&seen, "latency|histogram").as_deref(),
            Some("1"),
            "{name}"
        );
    }
}
