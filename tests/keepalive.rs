//! `tcp-keepalive`: accepted sockets get SO_KEEPALIVE with Redis's timing (first probe
//! after N idle seconds, then every N/3, 3 probes), CONFIG SET applies to new
//! connections, 0 disables. Observed from outside with `ss -o` (iproute2), which shows
//! each socket's `timer:(keepalive,<time left>,<probes>)`; the same is checked on the
//! reference redis-server.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use common::{redis_server_bin, start_proc, Proc};

/// Starts `bin` and waits until the process we started answers PING (its INFO
/// `process_id` is checked): two CI runs saw the first connect refused right after the
/// port was seen listening; this fails with the server's exit status if it died, or
/// names the other process if the port was someone else's.
fn start(bin: &str, extra: &[&str]) -> Proc {
    let mut p = start_proc(bin, "keepalive", extra);
    common::wait_ready(p.1, &mut p.0, bin);
    p
}

/// A connected client that has completed one PING.
fn client(port: u16) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    s.write_all(b"PING\r\n").expect("write");
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).expect("PONG");
    assert_eq!(&buf, b"+PONG\r\n");
    s
}

fn cmd(port: u16, args: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    s.write_all(format!("{args}\r\n").as_bytes())
        .expect("write");
    let mut buf = [0u8; 256];
    let n = s.read(&mut buf).expect("reply");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// Milliseconds left on the keepalive timer of the server's side of `c` (None: no
/// keepalive timer on that socket).
fn keepalive_left_ms(server_port: u16, c: &TcpStream) -> Option<u64> {
    let cport = c.local_addr().expect("local addr").port();
    let filter = format!("( sport = :{server_port} and dport = :{cport} )");
    let out = Command::new("ss")
        .args(["-tnoH", "state", "established", &filter])
        .output()
        .expect("`ss` (package iproute2) is needed: apt-get install -y iproute2");
    assert!(out.status.success(), "ss failed");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.contains(&format!(":{cport}")),
        "ss shows the server side of the connection: {text:?}"
    );
    let rest = text.split("timer:(keepalive,").nth(1)?;
    let t = rest.split(',').next()?;
    Some(parse_ss_time(t))
}

/// ss's timer format (iproute2's `print_ms_timer`): "4min59sec", "12sec", "5.976ms"
/// (5 s and 976 ms), "999ms".
fn parse_ss_time(t: &str) -> u64 {
    let mut ms = 0;
    let mut rest = t;
    if let Some((m, r)) = rest.split_once("min") {
        ms += m.parse::<u64>().unwrap_or(0) * 60_000;
        rest = r;
    }
    if let Some(s) = rest.strip_suffix("sec") {
        ms += s.parse::<u64>().unwrap_or(0) * 1000;
    } else if let Some(m) = rest.strip_suffix("ms") {
        match m.split_once('.') {
            Some((s, m)) => {
                ms += s.parse::<u64>().unwrap_or(0) * 1000 + m.parse::<u64>().unwrap_or(0)
            }
            None => ms += m.parse::<u64>().unwrap_or(0),
        }
    }
    ms
}

#[test]
fn ss_time_format() {
    assert_eq!(parse_ss_time("4min59sec"), 299_000);
    assert_eq!(parse_ss_time("5.976ms"), 5_976);
    assert_eq!(parse_ss_time("12sec"), 12_000);
    assert_eq!(parse_ss_time("999ms"), 999);
}

#[test]
fn default_and_config_set_like_redis() {
    let ours = start(common::ferrodis_bin(), &[]);
    let theirs = start(&redis_server_bin(), &[]);
    for p in [ours.1, theirs.1] {
        // Default 300 s.
        let c = client(p);
        let left = keepalive_left_ms(p, &c).expect("keepalive on by default");
        assert!((290_000..=300_000).contains(&left), "{left} ms");
        // 0: off for new connections; the old one keeps its timer.
        assert_eq!(cmd(p, "CONFIG SET tcp-keepalive 0"), "+OK\r\n");
        let off = client(p);
        assert_eq!(keepalive_left_ms(p, &off), None);
        assert!(keepalive_left_ms(p, &c).is_some());
        // A new value applies to the next connection.
        assert_eq!(cmd(p, "CONFIG SET tcp-keepalive 100"), "+OK\r\n");
        let c100 = client(p);
        let left = keepalive_left_ms(p, &c100).expect("keepalive back on");
        assert!((90_000..=100_000).contains(&left), "{left} ms");
    }
}

#[test]
fn probe_interval_is_a_third_of_the_idle_time() {
    let ours = start(common::ferrodis_bin(), &["--tcp-keepalive", "6"]);
    let theirs = start(&redis_server_bin(), &["--tcp-keepalive", "6"]);
    let co = client(ours.1);
    let ct = client(theirs.1);
    for (p, c) in [(ours.1, &co), (theirs.1, &ct)] {
        let left = keepalive_left_ms(p, c).expect("keepalive timer");
        assert!(
            (4_000..=6_000).contains(&left),
            "first probe after 6 s: {left} ms"
        );
    }
    // After 6 s idle the first probe went out (and was answered by our kernel): the
    // timer now runs on the probe interval, 6 / 3 = 2 s (the kernel default is 75 s).
    std::thread::sleep(Duration::from_millis(6_600));
    for (p, c) in [(ours.1, &co), (theirs.1, &ct)] {
        let left = keepalive_left_ms(p, c).expect("keepalive timer");
        assert!(left <= 2_000, "probe interval 2 s: {left} ms left");
    }
}
