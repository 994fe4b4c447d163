//! Client management with several connections, each scenario run on Ferrodis and on
//! the reference redis-server (same assertions on both): CLIENT PAUSE / UNPAUSE,
//! CLIENT KILL filters, the output buffer limit of normal clients, maxclients,
//! timeout, client-query-buffer-limit, CLIENT NO-TOUCH.

mod common;

use std::time::{Duration, Instant};

use common::{ferrodis, redis, RawClient, ServerProc};

fn both(extra: &[&str], f: impl Fn(&ServerProc)) {
    let r = redis(extra);
    f(&r);
    drop(r);
    let s = ferrodis(extra);
    f(&s);
}

fn int(reply: &[u8]) -> i64 {
    String::from_utf8_lossy(reply)
        .trim()
        .trim_start_matches(':')
        .parse()
        .unwrap_or(i64::MIN)
}

#[test]
fn pause_write_lets_reads_through_and_holds_writes() {
    both(&[], |srv| {
        let mut admin = srv.client();
        let mut a = srv.client();
        let mut b = srv.client();
        assert_eq!(a.cmds(&["SET", "k", "1"]), b"+OK\r\n");
        assert_eq!(
            admin.cmds(&["CLIENT", "PAUSE", "60000", "WRITE"]),
            b"+OK\r\n"
        );
        assert_eq!(a.cmds(&["GET", "k"]), b"$1\r\n1\r\n", "{}", srv.name);
        assert_eq!(a.cmds(&["PING"]), b"+PONG\r\n");
        // Writes and may-replicate commands wait (no reply, no error).
        a.send_raw(&common::encode(&[b"SET", b"k", b"2"]));
        b.send_raw(&common::encode(&[b"PUBLISH", b"ch", b"m"]));
        assert_eq!(a.poll_reply(300), None, "{}: SET answered", srv.name);
        assert_eq!(b.poll_reply(50), None, "{}: PUBLISH answered", srv.name);
        assert_eq!(admin.cmds(&["GET", "k"]), b"$1\r\n1\r\n");
        // Scripts declaring no-writes and EVAL_RO run.
        assert_eq!(
            admin.cmds(&["EVAL", "#!lua flags=no-writes\nreturn 7", "0"]),
            b":7\r\n"
        );
        assert_eq!(admin.cmds(&["EVAL_RO", "return 8", "0"]), b":8\r\n");
        // A shorter pause does not shorten it.
        assert_eq!(admin.cmds(&["CLIENT", "PAUSE", "10", "WRITE"]), b"+OK\r\n");
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(a.poll_reply(50), None, "{}: shortened", srv.name);
        assert_eq!(admin.cmds(&["CLIENT", "UNPAUSE"]), b"+OK\r\n");
        assert_eq!(a.read_reply(), b"+OK\r\n");
        assert_eq!(b.read_reply(), b":0\r\n");
        assert_eq!(admin.cmds(&["GET", "k"]), b"$1\r\n2\r\n");
    });
}

#[test]
fn pause_all_holds_every_command_until_timeout() {
    both(&[], |srv| {
        let mut admin = srv.client();
        let mut a = srv.client();
        let started = Instant::now();
        assert_eq!(admin.cmds(&["CLIENT", "PAUSE", "700"]), b"+OK\r\n");
        a.send_raw(&common::encode(&[b"PING"]));
        assert_eq!(a.poll_reply(300), None, "{}: PING answered", srv.name);
        // The pausing client itself waits too.
        assert_eq!(admin.cmds(&["GET", "x"]), b"$-1\r\n");
        assert!(started.elapsed() >= Duration::from_millis(650));
        assert_eq!(a.read_reply(), b"+PONG\r\n");
        assert!(started.elapsed() < Duration::from_secs(5));
    });
}

#[test]
fn pause_write_escalated_to_all() {
    both(&[], |srv| {
        let mut admin = srv.client();
        let mut a = srv.client();
        assert_eq!(
            admin.cmds(&["CLIENT", "PAUSE", "1500", "WRITE"]),
            b"+OK\r\n"
        );
        // A short ALL pause: the kind becomes ALL until the longer end.
        assert_eq!(admin.cmds(&["CLIENT", "PAUSE", "10", "ALL"]), b"+OK\r\n");
        std::thread::sleep(Duration::from_millis(200));
        a.send_raw(&common::encode(&[b"GET", b"x"]));
        assert_eq!(a.poll_reply(300), None, "{}: GET answered", srv.name);
        // UNPAUSE would wait too under ALL: the pause ends at its time.
        assert_eq!(a.read_reply(), b"$-1\r\n", "{}", srv.name);
    });
}

#[test]
fn pause_holds_transactions_with_writes_as_a_whole() {
    both(&[], |srv| {
        let mut admin = srv.client();
        let mut a = srv.client();
        let mut b = srv.client();
        assert_eq!(a.cmds(&["MULTI"]), b"+OK\r\n");
        assert_eq!(a.cmds(&["SET", "t", "1"]), b"+QUEUED\r\n");
        assert_eq!(b.cmds(&["MULTI"]), b"+OK\r\n");
        assert_eq!(b.cmds(&["GET", "t"]), b"+QUEUED\r\n");
        assert_eq!(
            admin.cmds(&["CLIENT", "PAUSE", "60000", "WRITE"]),
            b"+OK\r\n"
        );
        // A read-only transaction runs.
        assert_eq!(b.cmds(&["EXEC"]), b"*1\r\n$-1\r\n");
        a.send_raw(&common::encode(&[b"EXEC"]));
        assert_eq!(a.poll_reply(300), None, "{}: EXEC answered", srv.name);
        // Queueing a write waits too (the pause is checked before queueing).
        assert_eq!(b.cmds(&["MULTI"]), b"+OK\r\n");
        b.send_raw(&common::encode(&[b"INCR", b"t2"]));
        assert_eq!(b.poll_reply(100), None, "{}: INCR queued", srv.name);
        assert_eq!(admin.cmds(&["CLIENT", "UNPAUSE"]), b"+OK\r\n");
        assert_eq!(a.read_reply(), b"*1\r\n+OK\r\n");
        assert_eq!(b.read_reply(), b"+QUEUED\r\n");
        assert_eq!(b.cmds(&["EXEC"]), b"*1\r\n:1\r\n");
    });
}

#[test]
fn pause_runs_postponed_clients_in_order() {
    both(&[], |srv| {
        let mut admin = srv.client();
        let mut clients: Vec<RawClient> = (0..5).map(|_| srv.client()).collect();
        assert_eq!(
            admin.cmds(&["CLIENT", "PAUSE", "60000", "WRITE"]),
            b"+OK\r\n"
        );
        for (i, c) in clients.iter_mut().enumerate() {
            c.send_raw(&common::encode(&[
                b"RPUSH",
                b"order",
                i.to_string().as_bytes(),
            ]));
            std::thread::sleep(Duration::from_millis(30));
        }
        assert_eq!(admin.cmds(&["CLIENT", "UNPAUSE"]), b"+OK\r\n");
        for c in clients.iter_mut() {
            assert!(c.read_reply().starts_with(b":"));
        }
        assert_eq!(
            admin.cmds(&["LRANGE", "order", "0", "-1"]),
            b"*5\r\n$1\r\n0\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n",
            "{}",
            srv.name
        );
    });
}

#[test]
fn pause_suspends_expiry() {
    both(&[], |srv| {
        let mut admin = srv.client();
        assert_eq!(admin.cmds(&["SET", "e", "v", "PX", "50"]), b"+OK\r\n");
        assert_eq!(
            admin.cmds(&["CLIENT", "PAUSE", "60000", "WRITE"]),
            b"+OK\r\n"
        );
        std::thread::sleep(Duration::from_millis(400));
        // Expired keys read as missing but are not removed, actively or lazily.
        assert_eq!(admin.cmds(&["GET", "e"]), b"$-1\r\n", "{}", srv.name);
        assert_eq!(admin.cmds(&["EXISTS", "e"]), b":0\r\n", "{}", srv.name);
        assert_eq!(admin.cmds(&["TTL", "e"]), b":-2\r\n", "{}", srv.name);
        assert_eq!(admin.cmds(&["DBSIZE"]), b":1\r\n", "{}", srv.name);
        assert_eq!(admin.cmds(&["CLIENT", "UNPAUSE"]), b"+OK\r\n");
        let deadline = Instant::now() + Duration::from_secs(3);
        while int(&admin.cmds(&["DBSIZE"])) != 0 {
            assert!(
                Instant::now() < deadline,
                "{}: not expired after UNPAUSE",
                srv.name
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    });
}

#[test]
fn pause_argument_errors() {
    both(&[], |srv| {
        let mut c = srv.client();
        for (args, want) in [
            (vec!["CLIENT", "PAUSE", "abc"], "-ERR timeout is not an integer or out of range\r\n"),
            (vec!["CLIENT", "PAUSE", "1.5"], "-ERR timeout is not an integer or out of range\r\n"),
            (vec!["CLIENT", "PAUSE", "-1"], "-ERR timeout is negative\r\n"),
            (vec!["CLIENT", "PAUSE", "10", "foo"], "-ERR CLIENT PAUSE mode must be WRITE or ALL\r\n"),
            (
                vec!["CLIENT", "PAUSE", "10", "WRITE", "x"],
                "-ERR unknown subcommand or wrong number of arguments for 'PAUSE'. Try CLIENT HELP.\r\n",
            ),
            (vec!["CLIENT", "UNPAUSE", "x"], "-ERR wrong number of arguments for 'client|unpause' command\r\n"),
            (vec!["CLIENT", "PAUSE", "0", "write"], "+OK\r\n"),
            (vec!["CLIENT", "UNPAUSE"], "+OK\r\n"),
        ] {
            assert_eq!(
                String::from_utf8_lossy(&c.cmds(&args)),
                want,
                "{}: {args:?}",
                srv.name
            );
        }
    });
}
