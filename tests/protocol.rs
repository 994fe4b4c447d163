//! Protocol robustness over real TCP: malformed requests, huge announced bulks, clients
//! that vanish mid-command, deep pipelines, inline commands, pre-authentication limits
//! and the query buffer limit. Where Redis defines the outcome, the bytes Ferrodis
//! sends are compared with what the reference redis-server sends for the same input.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use common::{show, RawClient, ServerProc};

/// Result of sending raw bytes on a fresh connection.
#[derive(Debug, PartialEq, Eq)]
struct Exchange {
    /// Everything the server sent back.
    reply: Vec<u8>,
    /// True if the server closed (or reset) the connection.
    closed: bool,
}

/// Opens a connection, writes `input` (from a separate thread, so that a server that
/// replies while we are still writing cannot deadlock us), and collects the reply until
/// the server closes the connection or stays silent for `idle`.
fn exchange(port: u16, input: &[u8], idle: Duration) -> Exchange {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_nodelay(true).ok();
    let mut writer = stream.try_clone().expect("clone");
    let data = input.to_vec();
    let w = std::thread::spawn(move || {
        // The server may close before reading everything: write errors are expected.
        let _ = writer.write_all(&data);
    });
    let mut reader = stream;
    reader.set_read_timeout(Some(idle)).ok();
    let mut reply = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let closed = loop {
        match reader.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => reply.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {
                break false
            }
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break true,
            Err(e) => panic!("read error: {e}"),
        }
    };
    let _ = reader.shutdown(Shutdown::Both);
    let _ = w.join();
    Exchange { reply, closed }
}

/// Sends the same bytes to Ferrodis and to redis-server and asserts identical outcomes.
fn same_as_redis(ferro: &ServerProc, redis: &ServerProc, input: &[u8], idle: Duration) -> Exchange {
    let want = exchange(redis.port, input, idle);
    let got = exchange(ferro.port, input, idle);
    assert_eq!(
        (show(&got.reply), got.closed),
        (show(&want.reply), want.closed),
        "input {:?}: ferrodis (left) differs from redis-server (right)",
        show(&input[..input.len().min(80)])
    );
    got
}

const CLOSES: Duration = Duration::from_secs(10);
const STAYS_OPEN: Duration = Duration::from_millis(400);

#[test]
fn malformed_multibulk_and_inline_get_redis_errors_and_close() {
    let ferro = common::ferrodis(&[]);
    let redis = common::redis(&[]);
    let mut cases: Vec<Vec<u8>> = [
        &b"*abc\r\n"[..],
        b"*1\r\n+x\r\n",
        b"*1\r\n$-5\r\n",
        b"*1\r\n$abc\r\n",
        b"*1\r\n$ 4\r\nPING\r\n",
        b"*1\r\n$04\r\nPING\r\n",
        b"*+1\r\n",
        b"*01\r\n",
        b"*3000000000\r\n",
        b"*2147483648\r\n",
        // proto-max-bulk-len is 512MB by default: one byte more is refused
        b"*1\r\n$536870913\r\n",
        b"*2\r\n$4\r\nECHO\r\n$99999999999999999999\r\n",
        // the offending byte is a newline: Redis prints it as a space
        b"*1\r\n\r\n\r\n",
        b"SET a \"b\r\n",
        b"SET a 'b\r\n",
        b"SET a \"b\"c\r\n",
        b"\"\r\n",
        // replies to the commands before the bad one are delivered first
        b"PING\r\n*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nnope\r\n*x\r\n",
    ]
    .iter()
    .map(|c| c.to_vec())
    .collect();
    // Longer than the 64KB inline limit without a newline (exactly one byte over, so the
    // server has read everything when it closes and no reset can swallow the reply).
    cases.push(vec![b'x'; 64 * 1024 + 1]);
    let mut count = b"*".to_vec();
    count.resize(64 * 1024 + 1, b'1');
    cases.push(count);
    let mut bulk = b"*1\r\n$".to_vec();
    bulk.resize(4 + 64 * 1024 + 1, b'1');
    cases.push(bulk);

    for input in &cases {
        let got = same_as_redis(&ferro, &redis, input, CLOSES);
        assert!(got.closed, "connection left open after {:?}", show(input));
        let last_line = got
            .reply
            .split(|&b| b == b'\n')
            .rev()
            .nth(1)
            .map(|l| l.to_vec())
            .unwrap_or_default();
        assert!(
            last_line.starts_with(b"-ERR Protocol error: "),
            "last reply is not a protocol error: {}",
            show(&got.reply)
        );
    }
    // The server is still fine afterwards.
    assert_eq!(ferro.client().cmds(&["PING"]), b"+PONG\r\n");
}

#[test]
fn well_formed_edge_cases_match_redis() {
    let ferro = common::ferrodis(&[]);
    let redis = common::redis(&[]);
    let cases: &[&[u8]] = &[
        b"*0\r\nPING\r\n",
        b"*-1\r\nPING\r\n",
        b"\r\n\r\nPING\r\n",
        b" PING\r\n",
        b"PING\n",
        b"*1\r\n$0\r\n\r\n",
        b"*1\r\n$3\r\nabcd\r\n",
        // bulk of exactly the limit: waits for the data, no error
        b"*1\r\n$536870912\r\n",
        b"*1048577\r\n",
        b"ECHO \"\\x41\\x4\"\r\n",
        b"ECHO \"a\\\"b\"\r\n",
        b"ECHO 'a\\'b'\r\n",
        b"ECHO \"\\q\"\r\n",
        b"ECHO x\"y\"\r\n",
        b"ECHO \"\"\r\n",
        b"ECHO '' \"\"\r\n",
        b"ECHO \"\\n\\r\\t\\b\\a\"\r\n",
    ];
    for input in cases {
        let got = same_as_redis(&ferro, &redis, input, STAYS_OPEN);
        assert!(!got.closed, "connection closed after {:?}", show(input));
    }
}

#[test]
fn proto_max_bulk_len_is_enforced() {
    let ferro = common::ferrodis(&["--proto-max-bulk-len", "1mb"]);
    let redis = common::redis(&["--proto-max-bulk-len", "1mb"]);
    let over = same_as_redis(&ferro, &redis, b"*2\r\n$4\r\nECHO\r\n$1048577\r\n", CLOSES);
    assert!(over.closed);
    let at = same_as_redis(
        &ferro,
        &redis,
        b"*2\r\n$4\r\nECHO\r\n$1048576\r\n",
        STAYS_OPEN,
    );
    assert!(!at.closed && at.reply.is_empty());
    // A full value at the limit is accepted.
    let mut set = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048576\r\n".to_vec();
    set.extend(std::iter::repeat_n(b'v', 1 << 20));
    set.extend_from_slice(b"\r\n");
    let ok = same_as_redis(&ferro, &redis, &set, Duration::from_secs(2));
    assert_eq!(ok.reply, b"+OK\r\n");
}

/// Resident memory of a process in KiB, from /proc/<pid>/status.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("VmRSS in /proc/<pid>/status")
}

#[test]
fn huge_announced_bulk_is_not_allocated_upfront() {
    let ferro = common::ferrodis(&[]);
    let pid = ferro.child.id();
    // Warm up so that the baseline includes the runtime's normal footprint.
    assert_eq!(ferro.client().cmds(&["PING"]), b"+PONG\r\n");
    let before = rss_kib(pid);
    // Eight clients each announce a 512MB value (the maximum) and send 1MB of it.
    let mut conns = Vec::new();
    for i in 0..8 {
        let mut s = TcpStream::connect(("127.0.0.1", ferro.port)).expect("connect");
        let key = format!("big{i}");
        let mut msg = format!(
            "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n$536870912\r\n",
            key.len()
        )
        .into_bytes();
        msg.extend(std::iter::repeat_n(b'x', 1 << 20));
        s.write_all(&msg).expect("write");
        conns.push(s);
    }
    // Let the server read everything that was sent.
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let after = rss_kib(pid);
    let grown_mib = after.saturating_sub(before) / 1024;
    // 8 x 1MB was really sent; allocating what was announced would be 4GB.
    assert!(
        grown_mib < 128,
        "RSS grew by {grown_mib} MiB for 8MB of data announcing 4GB (before {before} KiB, after {after} KiB)"
    );
    // The server keeps serving, and the unfinished SETs did nothing.
    let mut c = ferro.client();
    assert_eq!(c.cmds(&["PING"]), b"+PONG\r\n");
    assert_eq!(c.cmds(&["DBSIZE"]), b":0\r\n");
    drop(conns);
}

/// Runs one scenario on a server: a client writes a full SET and half of another one,
/// then disconnects; returns what a second client observes afterwards.
fn half_command_scenario(port: u16) -> Vec<Vec<u8>> {
    {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.write_all(b"*3\r\n$3\r\nSET\r\n$4\r\nfull\r\n$1\r\n1\r\n")
            .expect("write");
        s.write_all(b"*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$10\r\nhello")
            .expect("write");
        // Read the reply to the first command so it is known to have run.
        let mut buf = [0u8; 5];
        s.set_read_timeout(Some(Duration::from_secs(10))).ok();
        s.read_exact(&mut buf).expect("reply to the first SET");
        assert_eq!(&buf, b"+OK\r\n");
        s.shutdown(Shutdown::Both).ok();
    }
    {
        // A dangling inline command without its newline, on another connection.
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.write_all(b"SET inline 1").expect("write");
        s.shutdown(Shutdown::Both).ok();
    }
    std::thread::sleep(Duration::from_millis(300));
    let mut c = RawClient::connect(port);
    vec![
        c.cmds(&["GET", "full"]),
        c.cmds(&["GET", "half"]),
        c.cmds(&["GET", "inline"]),
        c.cmds(&["DBSIZE"]),
    ]
}

#[test]
fn client_disconnecting_mid_command_changes_nothing() {
    let ferro = common::ferrodis(&[]);
    let redis = common::redis(&[]);
    let got = half_command_scenario(ferro.port);
    let want = half_command_scenario(redis.port);
    assert_eq!(got, want);
    assert_eq!(got[1], b"$-1\r\n", "half a SET must not be executed");
    assert_eq!(got[3], b":1\r\n");
}

#[test]
fn pipeline_of_10000_commands_in_one_write() {
    let ferro = common::ferrodis(&[]);
    const N: usize = 10_000;
    let mut batch = Vec::new();
    for i in 0..N {
        let v = format!("v{i}");
        match i % 3 {
            0 => batch.extend(common::encode(&[b"ECHO", v.as_bytes()])),
            1 => batch.extend(common::encode(&[
                b"SET",
                format!("k{i}").as_bytes(),
                v.as_bytes(),
            ])),
            _ => batch.extend(format!("ECHO {v}\r\n").into_bytes()),
        }
    }
    let mut c = ferro.client();
    // Write from another thread: the server answers while the batch is still arriving.
    let mut w = TcpStream::connect(("127.0.0.1", ferro.port)).expect("connect");
    w.set_read_timeout(Some(Duration::from_secs(60))).ok();
    let mut reader = w.try_clone().expect("clone");
    let writer = std::thread::spawn(move || w.write_all(&batch).expect("write batch"));
    let mut received = Vec::new();
    let mut expected = Vec::new();
    for i in 0..N {
        let v = format!("v{i}");
        match i % 3 {
            1 => expected.extend_from_slice(b"+OK\r\n"),
            _ => expected.extend(format!("${}\r\n{v}\r\n", v.len()).into_bytes()),
        }
    }
    let mut buf = vec![0u8; 64 * 1024];
    while received.len() < expected.len() {
        let n = reader.read(&mut buf).expect("read replies");
        assert!(
            n > 0,
            "connection closed after {} reply bytes",
            received.len()
        );
        received.extend_from_slice(&buf[..n]);
    }
    writer.join().expect("writer thread");
    assert_eq!(received.len(), expected.len());
    assert!(received == expected, "replies out of order or wrong");
    // Every SET really ran.
    assert_eq!(
        c.cmds(&["DBSIZE"]),
        format!(":{}\r\n", (0..N).filter(|i| i % 3 == 1).count()).into_bytes()
    );
    assert_eq!(c.cmds(&["GET", "k9997"]), b"$5\r\nv9997\r\n");
}

#[test]
fn inline_commands_work_like_redis() {
    let ferro = common::ferrodis(&[]);
    let redis = common::redis(&[]);
    let script: &[u8] = b"PING\r\nSET a \"b c\"\r\nGET a\r\nSET 'x y' '1 2'\nGET \"x y\"\r\nEXISTS a \"x y\" zz\r\nDEL a\r\nGET a\r\nECHO \"\\x00\\xff\"\r\nping hello\r\n";
    let got = same_as_redis(&ferro, &redis, script, STAYS_OPEN);
    assert!(!got.closed);
    assert!(
        got.reply.starts_with(b"+PONG\r\n+OK\r\n$3\r\nb c\r\n"),
        "{}",
        show(&got.reply)
    );
}

#[test]
fn unauthenticated_clients_get_stricter_limits() {
    let ferro = common::ferrodis_with_password("secret", &[]);
    let redis = common::redis_with_password("secret", &[]);
    for input in [
        &b"*11\r\n"[..],
        b"*2147483647\r\n",
        b"*2\r\n$4\r\nECHO\r\n$16385\r\n",
        b"*1\r\n$1000000\r\n",
    ] {
        let got = same_as_redis(&ferro, &redis, input, CLOSES);
        assert!(got.closed, "{}", show(input));
        assert!(
            got.reply
                .starts_with(b"-ERR Protocol error: unauthenticated "),
            "{}",
            show(&got.reply)
        );
    }
    // At the limits the request is accepted (and refused for lack of authentication).
    let mut ten = b"*10\r\n".to_vec();
    for _ in 0..10 {
        ten.extend_from_slice(b"$4\r\nPING\r\n");
    }
    let mut big = b"*2\r\n$4\r\nECHO\r\n$16384\r\n".to_vec();
    big.extend(std::iter::repeat_n(b'e', 16384));
    big.extend_from_slice(b"\r\n");
    for input in [&ten[..], &big[..], b"PING\r\n", b"GET k\r\n"] {
        let got = same_as_redis(&ferro, &redis, input, STAYS_OPEN);
        assert!(!got.closed);
        assert!(got.reply.starts_with(b"-NOAUTH"), "{}", show(&got.reply));
    }
}

#[test]
fn query_buffer_limit_closes_the_client() {
    let ferro = common::ferrodis(&["--client-query-buffer-limit", "1mb"]);
    let redis = common::redis(&["--client-query-buffer-limit", "1mb"]);
    // A 2MB value cannot fit in a 1MB query buffer: closed without a reply.
    let mut set = b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$2097152\r\n".to_vec();
    set.extend(std::iter::repeat_n(b'x', 2 << 20));
    set.extend_from_slice(b"\r\n");
    let got = same_as_redis(&ferro, &redis, &set, CLOSES);
    assert!(got.closed && got.reply.is_empty());
    // Under the limit it works.
    let mut small = b"*3\r\n$3\r\nSET\r\n$5\r\nsmall\r\n$900000\r\n".to_vec();
    small.extend(std::iter::repeat_n(b'y', 900_000));
    small.extend_from_slice(b"\r\n");
    let got = same_as_redis(&ferro, &redis, &small, Duration::from_secs(2));
    assert_eq!(got.reply, b"+OK\r\n");
    // Many small pipelined commands totalling more than the limit are fine: the buffer
    // is consumed as commands complete.
    let mut many = Vec::new();
    for i in 0..40_000 {
        many.extend(common::encode(&[
            b"SET",
            b"counter",
            format!("{i:030}").as_bytes(),
        ]));
    }
    assert!(many.len() > 2 << 20);
    let ok = exchange(ferro.port, &many, Duration::from_secs(1));
    assert!(!ok.closed);
    assert_eq!(ok.reply.len(), 40_000 * 5);
    let mut c = ferro.client();
    assert_eq!(c.cmds(&["EXISTS", "big", "small", "counter"]), b":2\r\n");
}
