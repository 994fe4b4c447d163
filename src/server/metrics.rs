//! Prometheus metrics endpoint (a Ferrodis extension): with `metrics-port` set, a
//! minimal HTTP/1.1 server on `metrics-bind` answers `GET /metrics` with the
//! Prometheus text exposition format (version 0.0.4), one request per connection.
//! Any other path gets 404, any other method 405. Scraping reads the same counters
//! INFO reads; it takes no keyspace lock beyond the per-shard counts.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::commands::Command;
use crate::server::Server;

/// Largest request head read (request line and headers).
const MAX_HEAD: usize = 8192;
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Binds `metrics-bind`:`metrics-port` and serves scrapes in the background; does
/// nothing when the port is 0. The error text is for the log.
pub async fn start(srv: &Arc<Server>) -> Result<Option<std::net::SocketAddr>, String> {
    let (port, bind) = {
        let c = srv.config.read();
        (c.int("metrics-port"), c.str("metrics-bind"))
    };
    if port <= 0 {
        return Ok(None);
    }
    let addr = format!("{bind}:{port}");
    let addr = if bind.contains(':') && !bind.starts_with('[') {
        format!("[{bind}]:{port}")
    } else {
        addr
    };
    let listener = TcpListener::bind(&addr)
        .await
        .map_err(|e| format!("Failed listening for metrics on {addr}: {e}"))?;
    let local = listener.local_addr().ok();
    let srv = srv.clone();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            if srv.shutting_down.load(Ordering::Relaxed) {
                break;
            }
            let srv = srv.clone();
            tokio::spawn(async move {
                let _ = tokio::time::timeout(READ_TIMEOUT, serve(&srv, sock)).await;
            });
        }
    });
    Ok(local)
}

/// Answers one request and closes the connection.
async fn serve(srv: &Server, mut sock: TcpStream) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
        let n = sock.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
        if head.len() > MAX_HEAD {
            return respond(&mut sock, "431 Request Header Fields Too Large", "", false).await;
        }
    }
    let line = head
        .split(|&b| b == b'\n')
        .next()
        .map(|l| String::from_utf8_lossy(l).trim_end().to_string())
        .unwrap_or_default();
    let mut parts = line.split(' ');
    let method = parts.next().unwrap_or("");
    let target = parts.next().unwrap_or("");
    let path = target.split('?').next().unwrap_or("");
    match (method, path) {
        ("GET" | "HEAD", "/metrics") => {
            let body = render(srv);
            respond(&mut sock, "200 OK", &body, method == "HEAD").await
        }
        ("GET" | "HEAD", _) => respond(&mut sock, "404 Not Found", "Not Found\n", false).await,
        _ => respond(&mut sock, "405 Method Not Allowed", "", false).await,
    }
}

async fn respond(
    sock: &mut TcpStream,
    status: &str,
    body: &str,
    head_only: bool,
) -> std::io::Result<()> {
    let ctype = if status.starts_with("200") {
        "text/plain; version=0.0.4; charset=utf-8"
    } else {
        "text/plain; charset=utf-8"
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if !head_only {
        out.push_str(body);
    }
    sock.write_all(out.as_bytes()).await?;
    sock.shutdown().await
}

/// A label value escaped as the text format requires.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

struct Out(String);

impl Out {
    fn head(&mut self, name: &str, kind: &str, help: &str) {
        let _ = write!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
    }
    fn one(&mut self, name: &str, kind: &str, help: &str, v: impl std::fmt::Display) {
        self.head(name, kind, help);
        let _ = writeln!(self.0, "{name} {v}");
    }
}

/// Formats a float as Prometheus expects (integers without a fraction).
fn num(v: f64) -> String {
    if v.is_finite() && v == v.trunc() && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// The exposition text.
pub fn render(srv: &Server) -> String {
    let ld = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let st = &srv.stats;
    let mut o = Out(String::with_capacity(8192));
    o.one(
        "ferrodis_uptime_seconds",
        "gauge",
        "Seconds since the server started.",
        srv.started.elapsed().as_secs(),
    );
    o.one(
        "ferrodis_commands_processed_total",
        "counter",
        "Commands processed (INFO total_commands_processed).",
        ld(&st.total_commands_processed),
    );
    o.one(
        "ferrodis_connections_received_total",
        "counter",
        "Connections accepted.",
        ld(&st.total_connections_received),
    );
    o.one(
        "ferrodis_connected_clients",
        "gauge",
        "Clients connected.",
        srv.clients.len(),
    );
    o.one(
        "ferrodis_blocked_clients",
        "gauge",
        "Clients blocked on keys.",
        ld(&st.blocked_clients),
    );
    o.one(
        "ferrodis_error_replies_total",
        "counter",
        "Error replies sent.",
        ld(&st.total_error_replies),
    );
    let used = crate::memory::used_memory();
    let peak = srv.mem_peak.fetch_max(used, Ordering::Relaxed).max(used);
    o.one(
        "ferrodis_memory_used_bytes",
        "gauge",
        "Bytes allocated (INFO used_memory).",
        used,
    );
    o.one(
        "ferrodis_memory_rss_bytes",
        "gauge",
        "Resident set size of the process.",
        crate::memory::rss(),
    );
    o.one(
        "ferrodis_memory_peak_bytes",
        "gauge",
        "Highest used_memory seen.",
        peak,
    );
    o.one(
        "ferrodis_memory_max_bytes",
        "gauge",
        "maxmemory (0 = no limit).",
        srv.config.read().int("maxmemory").max(0),
    );
    let hits = srv.ks.sum_stat(|s| s.hits);
    let misses = srv.ks.sum_stat(|s| s.misses);
    let expired = srv.ks.sum_stat(|s| s.expired);
    o.one(
        "ferrodis_keyspace_hits_total",
        "counter",
        "Successful key lookups.",
        hits,
    );
    o.one(
        "ferrodis_keyspace_misses_total",
        "counter",
        "Failed key lookups.",
        misses,
    );
    o.one(
        "ferrodis_expired_keys_total",
        "counter",
        "Keys removed because their TTL passed.",
        expired,
    );
    o.one(
        "ferrodis_evicted_keys_total",
        "counter",
        "Keys evicted by maxmemory.",
        ld(&srv.evict.evicted),
    );
    let counts: Vec<(usize, usize, usize)> = (0..srv.databases())
        .map(|db| {
            let (k, e) = srv.ks.db_counts(db);
            (db, k, e)
        })
        .filter(|&(_, k, _)| k > 0)
        .collect();
    o.head("ferrodis_db_keys", "gauge", "Keys per database.");
    for &(db, k, _) in &counts {
        let _ = writeln!(o.0, "ferrodis_db_keys{{db=\"{db}\"}} {k}");
    }
    o.head(
        "ferrodis_db_expiring_keys",
        "gauge",
        "Keys with a TTL per database.",
    );
    for &(db, _, e) in &counts {
        let _ = writeln!(o.0, "ferrodis_db_expiring_keys{{db=\"{db}\"}} {e}");
    }

    // Per command (commands called at least once since the last CONFIG RESETSTAT).
    let mut cmds: Vec<(String, &'static Command)> = Vec::new();
    for c in srv.commands.all() {
        for (cmd, parent) in
            std::iter::once((c, None)).chain(c.subcommands.iter().map(|s| (s, Some(c))))
        {
            let s = &cmd.stats;
            if ld(&s.calls) > 0 || ld(&s.failed) > 0 || ld(&s.rejected) > 0 {
                cmds.push((label(&crate::commands::table::full_name(cmd, parent)), cmd));
            }
        }
    }
    o.head(
        "ferrodis_command_calls_total",
        "counter",
        "Calls per command.",
    );
    for (n, c) in &cmds {
        let _ = writeln!(
            o.0,
            "ferrodis_command_calls_total{{cmd=\"{n}\"}} {}",
            ld(&c.stats.calls)
        );
    }
    o.head(
        "ferrodis_command_usec_total",
        "counter",
        "Microseconds spent executing each command.",
    );
    for (n, c) in &cmds {
        let _ = writeln!(
            o.0,
            "ferrodis_command_usec_total{{cmd=\"{n}\"}} {}",
            ld(&c.stats.usec)
        );
    }
    o.head(
        "ferrodis_command_failed_calls_total",
        "counter",
        "Calls per command that replied with an error.",
    );
    for (n, c) in &cmds {
        let _ = writeln!(
            o.0,
            "ferrodis_command_failed_calls_total{{cmd=\"{n}\"}} {}",
            ld(&c.stats.failed)
        );
    }
    o.head(
        "ferrodis_command_rejected_calls_total",
        "counter",
        "Calls per command refused before running.",
    );
    for (n, c) in &cmds {
        let _ = writeln!(
            o.0,
            "ferrodis_command_rejected_calls_total{{cmd=\"{n}\"}} {}",
            ld(&c.stats.rejected)
        );
    }
    let ps = srv.latency.percentiles.read().clone();
    o.head(
        "ferrodis_command_latency_seconds",
        "summary",
        "Command latency quantiles (latency-tracking-info-percentiles).",
    );
    for (n, c) in &cmds {
        let Some((vals, count)) = c.stats.latency.percentiles(&ps) else {
            continue;
        };
        for (p, v) in ps.iter().zip(vals) {
            let q = crate::server::latency::fmt_percentile(p / 100.0);
            let _ = writeln!(
                o.0,
                "ferrodis_command_latency_seconds{{cmd=\"{n}\",quantile=\"{q}\"}} {}",
                num(v as f64 / 1e9)
            );
        }
        let _ = writeln!(
            o.0,
            "ferrodis_command_latency_seconds_sum{{cmd=\"{n}\"}} {}",
            num(ld(&c.stats.usec) as f64 / 1e6)
        );
        let _ = writeln!(
            o.0,
            "ferrodis_command_latency_seconds_count{{cmd=\"{n}\"}} {count}"
        );
    }
    o.0
}
