//! MULTI/EXEC with several clients: WATCH invalidation compared with the reference
//! redis-server command by command, and the atomicity of EXEC under concurrent load.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::scenario::differential;
use common::{ferrodis, show, RawClient};

/// For each (setup, command by another client) pair: does the change break a
/// transaction that WATCHes `k`? Every pair runs on both servers in one script.
#[test]
fn watch_is_broken_exactly_where_redis_breaks_it() {
    let cases: &[(&str, &str)] = &[
        ("SET k v", "SET k v2"),
        ("SET k v", "SET k v"),
        ("SET k v", "SETNX k x"),
        ("SET k v", "APPEND k x"),
        ("SET k v", "APPEND k ''"),
        ("SET k 1", "INCR k"),
        ("SET k 1", "INCRBYFLOAT k 0.5"),
        ("SET k v", "SETRANGE k 0 x"),
        ("SET k v", "SETBIT k 0 1"),
        ("SET k v", "GETSET k w"),
        ("SET k v", "GETDEL k"),
        ("SET k v", "GETEX k EX 100"),
        ("SET k v", "GETEX k"),
        ("SET k v", "GET k"),
        ("SET k v", "DEL k"),
        ("SET k v", "DEL other"),
        ("SET k v", "UNLINK k"),
        ("SET k v", "EXPIRE k 100"),
        ("SET k v", "EXPIRE k 100 XX"),
        ("SET k v EX 100", "PERSIST k"),
        ("SET k v", "PERSIST k"),
        ("SET k v", "RENAME k k2"),
        ("SET k2 v", "RENAME k2 k"),
        ("SET k v", "MOVE k 1"),
        ("SET k v", "COPY k k3"),
        ("SET k3 v", "COPY k3 k"),
        ("SET k v", "TOUCH k"),
        ("SET k v", "TYPE k"),
        ("", "SET k v"),
        ("", "DEL k"),
        ("", "MSETNX k 1 j 2"),
        ("RPUSH k a b c", "LPUSH k x"),
        ("RPUSH k a b c", "LSET k 0 z"),
        ("RPUSH k a b c", "LTRIM k 0 -1"),
        ("RPUSH k a b c", "LTRIM k 0 0"),
        ("RPUSH k a b c", "LREM k 0 zz"),
        ("RPUSH k a b c", "RPOP k"),
        ("RPUSH k a b c", "LMOVE k k LEFT RIGHT"),
        ("RPUSH k a b c", "LINSERT k BEFORE zz x"),
        ("HSET k f v", "HSET k f v"),
        ("HSET k f v", "HSET k f w"),
        ("HSET k f v", "HSETNX k f w"),
        ("HSET k f v", "HDEL k nofield"),
        ("HSET k f 1", "HINCRBY k f 1"),
        ("SADD k m", "SADD k m"),
        ("SADD k m", "SADD k n"),
        ("SADD k m", "SREM k nomember"),
        ("SADD k m", "SMOVE k other m"),
        ("SADD k m", "SPOP k"),
        ("SADD src x", "SUNIONSTORE k src"),
        ("ZADD k 1 m", "ZADD k 1 m"),
        ("ZADD k 1 m", "ZADD k 2 m"),
        ("ZADD k 1 m", "ZINCRBY k 1 m"),
        ("ZADD k 1 m", "ZREM k nomember"),
        ("ZADD k 1 m", "ZPOPMIN k"),
        ("PFADD k a", "PFADD k a"),
        ("PFADD k a", "PFADD k b"),
        ("RPUSH src 3 1 2", "SORT src STORE k"),
        ("SET a x", "BITOP AND k a"),
        ("SET k v", "FLUSHDB"),
        ("SET other v", "FLUSHDB"),
        ("SET k v", "FLUSHALL"),
        ("", "FLUSHALL"),
        ("SET k v", "SWAPDB 0 1"),
    ];
    let mut script = String::new();
    for (setup, change) in cases {
        script.push_str("2!> FLUSHALL\n");
        if !setup.is_empty() {
            script.push_str(&format!("2> {setup}\n"));
        }
        script.push_str(&format!(
            "1> WATCH k\n2> {change}\n1> MULTI\n1> PING\n1> EXEC\n"
        ));
    }
    differential(&script);
}

#[test]
fn watch_expiry_and_databases() {
    differential(
        "
        # a watched key that expires before EXEC breaks the transaction
        2> SET k v PX 100
        1> WATCH k
        sleep 300
        1> MULTI
        1> PING
        1> EXEC
        # a key that was already gone does not
        1> WATCH gone
        1> MULTI
        1> PING
        1> EXEC
        # watches are per database
        1!> SELECT 1
        1> WATCH k
        2> SET k db0
        1> MULTI
        1> PING
        1> EXEC
        2!> SELECT 1
        1> WATCH k
        2> SET k db1
        1> MULTI
        1> PING
        1> EXEC
        # SWAPDB of a database where the key does not exist on either side
        1> WATCH nothing
        2> SWAPDB 2 3
        1> MULTI
        1> PING
        1> EXEC
        # UNWATCH forgets; EXEC and DISCARD forget too
        1> WATCH k
        1> UNWATCH
        2> SET k again
        1> MULTI
        1> PING
        1> EXEC
        1> WATCH k
        1> MULTI
        1> DISCARD
        2> SET k again2
        1> MULTI
        1> PING
        1> EXEC
        ",
    );
}

#[test]
fn blocked_clients_are_served_after_the_transaction() {
    differential(
        "
        1>> BLPOP q 0
        2> MULTI
        2> RPUSH q a
        2> LPOP q
        2> RPUSH q b
        2> EXEC
        1<
        2> LLEN q
        1>> BLPOP q2 0
        2> MULTI
        2> RPUSH q2 x
        2> BLPOP q2 0
        2> EXEC
        1?
        ",
    );
}

/// Transactions that move value between two keys never show a half-done state to
/// other clients, and optimistic WATCH loops never lose an update.
#[test]
fn exec_is_atomic_under_concurrency() {
    let f = ferrodis(&[]);
    let port = f.port;
    let stop = Arc::new(AtomicBool::new(false));
    let checker = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut c = RawClient::connect(port);
            let mut checks = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let r = c.cmds(&["MGET", "x", "y"]);
                let (_, parts) = common::split_elements(&r);
                assert_eq!(parts.len(), 2);
                assert_eq!(parts[0], parts[1], "saw a half-applied transaction");
                checks += 1;
            }
            checks
        })
    };
    let mut writers = Vec::new();
    for _ in 0..6 {
        writers.push(std::thread::spawn(move || {
            let mut c = RawClient::connect(port);
            for _ in 0..300 {
                assert_eq!(c.cmds(&["MULTI"]), b"+OK\r\n");
                assert_eq!(c.cmds(&["INCR", "x"]), b"+QUEUED\r\n");
                assert_eq!(c.cmds(&["INCR", "y"]), b"+QUEUED\r\n");
                let r = c.cmds(&["EXEC"]);
                assert!(r.starts_with(b"*2\r\n:"), "{}", show(&r));
            }
        }));
    }
    // Optimistic increments with WATCH: retried until EXEC succeeds.
    for _ in 0..4 {
        writers.push(std::thread::spawn(move || {
            let mut c = RawClient::connect(port);
            let mut done = 0;
            while done < 100 {
                c.cmds(&["WATCH", "counter"]);
                let v = c.cmds(&["GET", "counter"]);
                let n: i64 = String::from_utf8_lossy(&v)
                    .lines()
                    .nth(1)
                    .and_then(|l| l.parse().ok())
                    .unwrap_or(0);
                c.cmds(&["MULTI"]);
                c.cmds(&["SET", "counter", &(n + 1).to_string()]);
                let r = c.cmds(&["EXEC"]);
                if r.starts_with(b"*1") {
                    done += 1;
                } else {
                    assert_eq!(r, b"*-1\r\n", "unexpected EXEC reply");
                }
            }
        }));
    }
    for w in writers {
        w.join().expect("writer");
    }
    stop.store(true, Ordering::SeqCst);
    let checks = checker.join().expect("checker");
    assert!(checks > 0);
    let mut c = RawClient::connect(port);
    assert_eq!(c.cmds(&["GET", "x"]), b"$4\r\n1800\r\n");
    assert_eq!(c.cmds(&["GET", "y"]), b"$4\r\n1800\r\n");
    assert_eq!(c.cmds(&["GET", "counter"]), b"$3\r\n400\r\n");
}

/// CLIENT LIST shows a client in MULTI with flag `x` and its queued-command count,
/// as the reference does (other fields differ between servers and are not compared).
#[test]
fn client_list_shows_transactions() {
    let fields = |port: u16| {
        let mut a = RawClient::connect(port);
        let mut b = RawClient::connect(port);
        a.cmds(&["MULTI"]);
        a.cmds(&["SET", "k", "v"]);
        a.cmds(&["GET", "k"]);
        let list = String::from_utf8_lossy(&b.cmds(&["CLIENT", "LIST"])).into_owned();
        let line = list
            .lines()
            .find(|l| l.contains("cmd=get") || l.contains("cmd=set"))
            .unwrap_or_else(|| panic!("no line for the client in MULTI: {list}"))
            .to_string();
        let pick = |name: &str| {
            line.split(' ')
                .find(|f| f.starts_with(name))
                .map(str::to_string)
        };
        (pick("flags="), pick("multi="))
    };
    let f = ferrodis(&[]);
    let r = common::redis(&[]);
    let got = fields(f.port);
    assert_eq!(got, fields(r.port));
    assert_eq!(got, (Some("flags=x".into()), Some("multi=2".into())));
}
