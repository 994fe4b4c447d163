//! Protected mode as in Redis 7.0: with `protected-mode yes` and no password for the
//! default user, a client whose address is not 127.0.0.1 or ::1 gets Redis's
//! `-DENIED ...` text and is disconnected, whatever `bind` says. The client connects
//! FROM 127.0.0.2 (its socket bound there before connecting: still loopback traffic),
//! and every check runs against the reference redis-server too, comparing the bytes.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::{redis_server_bin, show, start_proc, Proc};
use socket2::{Domain, Socket, Type};

fn start(bin: &str, extra: &[&str]) -> Proc {
    start_proc(bin, "protected", extra)
}

/// Both servers, with the same arguments.
fn both(extra: &[&str]) -> [Proc; 2] {
    [
        start(common::ferrodis_bin(), extra),
        start(&redis_server_bin(), extra),
    ]
}

/// Connects from `src` to `dst:port`, sends `req`, and returns everything received
/// until the server closes (or 2 s of silence), plus whether it closed.
fn talk(src: [u8; 4], dst: [u8; 4], port: u16, req: &[u8]) -> (Vec<u8>, bool) {
    let sock = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    sock.bind(&SocketAddr::from((src, 0)).into())
        .expect("bind the client to its source address");
    sock.connect(&SocketAddr::from((dst, port)).into())
        .expect("connect");
    let mut s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(2))).ok();
    let _ = s.write_all(req);
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = loop {
        match s.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
            Err(_) => break false,
        }
    };
    (got, closed)
}

const LOCAL: [u8; 4] = [127, 0, 0, 1];
const OTHER: [u8; 4] = [127, 0, 0, 2];

fn info_stat(port: u16, field: &str) -> String {
    let mut c = common::RawClient::connect(port);
    let r = c.cmds(&["INFO", "stats"]);
    String::from_utf8_lossy(&r)
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")).map(|v| v.to_string()))
        .unwrap_or_default()
}

#[test]
fn non_loopback_client_is_denied_like_redis() {
    // bind * : every interface, as in the situation protected mode exists for.
    let [ours, theirs] = both(&["--bind", "*"]);
    // Nothing sent: the server speaks first, and closing a socket with unread input
    // would reset the connection (racing with the client's read of the text).
    let (o, o_closed) = talk(OTHER, LOCAL, ours.1, b"");
    let (t, t_closed) = talk(OTHER, LOCAL, theirs.1, b"");
    assert!(
        t.starts_with(b"-DENIED Redis is running in protected mode"),
        "reference: {}",
        show(&t)
    );
    assert_eq!(show(&o), show(&t), "the DENIED text, byte for byte");
    assert!(o_closed && t_closed, "the connection is closed");
    assert_eq!(info_stat(ours.1, "rejected_connections"), "1");
    assert_eq!(info_stat(theirs.1, "rejected_connections"), "1");
    // 127.0.0.1 is always accepted.
    for p in [ours.1, theirs.1] {
        let (r, _) = talk(LOCAL, LOCAL, p, b"PING\r\nQUIT\r\n");
        assert_eq!(r, b"+PONG\r\n+OK\r\n");
    }
}

#[test]
fn binding_a_loopback_address_does_not_lift_protection() {
    // Redis 7.0 applies protected mode whatever the bind: a server bound to
    // 127.0.0.1 and 127.0.0.2 still refuses the client from 127.0.0.2.
    let [ours, theirs] = both(&["--bind", "127.0.0.1 127.0.0.2"]);
    let (o, _) = talk(OTHER, OTHER, ours.1, b"");
    let (t, _) = talk(OTHER, OTHER, theirs.1, b"");
    assert!(t.starts_with(b"-DENIED"), "reference: {}", show(&t));
    assert_eq!(show(&o), show(&t));
    // The same client from 127.0.0.1 to 127.0.0.2 is fine.
    let (o, _) = talk(LOCAL, OTHER, ours.1, b"PING\r\nQUIT\r\n");
    let (t, _) = talk(LOCAL, OTHER, theirs.1, b"PING\r\nQUIT\r\n");
    assert_eq!(o, b"+PONG\r\n+OK\r\n");
    assert_eq!(o, t);
}

#[test]
fn a_password_or_protected_mode_no_admits_other_addresses() {
    // requirepass: accepted, then asked to authenticate.
    let [ours, theirs] = both(&["--bind", "*", "--requirepass", "pw"]);
    let req = b"PING\r\nAUTH pw\r\nPING\r\nQUIT\r\n";
    let (o, _) = talk(OTHER, LOCAL, ours.1, req);
    let (t, _) = talk(OTHER, LOCAL, theirs.1, req);
    assert_eq!(
        show(&t),
        show(b"-NOAUTH Authentication required.\r\n+OK\r\n+PONG\r\n+OK\r\n")
    );
    assert_eq!(show(&o), show(&t));
    drop((ours, theirs));

    // protected-mode no (bound to loopback addresses only: no open server on the
    // machine's other interfaces).
    let [ours, theirs] = both(&["--bind", "127.0.0.1 127.0.0.2", "--protected-mode", "no"]);
    for p in [ours.1, theirs.1] {
        let (r, _) = talk(OTHER, OTHER, p, b"PING\r\nQUIT\r\n");
        assert_eq!(r, b"+PONG\r\n+OK\r\n");
    }
}

#[test]
fn runtime_changes_apply_to_new_connections() {
    let [ours, theirs] = both(&["--bind", "127.0.0.1 127.0.0.2"]);
    for p in [ours.1, theirs.1] {
        let mut admin = common::RawClient::connect(p);
        assert!(talk(OTHER, OTHER, p, b"").0.starts_with(b"-DENIED"));
        assert_eq!(
            admin.cmds(&["CONFIG", "SET", "protected-mode", "no"]),
            b"+OK\r\n"
        );
        assert_eq!(
            talk(OTHER, OTHER, p, b"PING\r\nQUIT\r\n").0,
            b"+PONG\r\n+OK\r\n"
        );
        assert_eq!(
            admin.cmds(&["CONFIG", "SET", "protected-mode", "yes"]),
            b"+OK\r\n"
        );
        assert!(talk(OTHER, OTHER, p, b"").0.starts_with(b"-DENIED"));
        assert_eq!(
            admin.cmds(&["CONFIG", "SET", "requirepass", "pw"]),
            b"+OK\r\n"
        );
        assert_eq!(
            talk(OTHER, OTHER, p, b"PING\r\n").0,
            b"-NOAUTH Authentication required.\r\n"
        );
    }
}

#[test]
fn a_default_user_password_set_with_acl_lifts_protection() {
    let [ours, theirs] = both(&["--bind", "127.0.0.1 127.0.0.2"]);
    let mut replies = Vec::new();
    for p in [ours.1, theirs.1] {
        let mut admin = common::RawClient::connect(p);
        let r = vec![
            admin.cmds(&["ACL", "SETUSER", "default", ">pw"]),
            talk(OTHER, OTHER, p, b"PING\r\n").0,
            admin.cmds(&["AUTH", "pw"]),
            admin.cmds(&["ACL", "SETUSER", "default", "nopass"]),
            talk(OTHER, OTHER, p, b"").0,
        ];
        replies.push(r);
    }
    assert_eq!(replies[0][1], b"-NOAUTH Authentication required.\r\n");
    assert!(replies[0][4].starts_with(b"-DENIED"));
    let shown = |r: &Vec<Vec<u8>>| r.iter().map(|b| show(b)).collect::<Vec<_>>();
    assert_eq!(shown(&replies[0]), shown(&replies[1]));
}
