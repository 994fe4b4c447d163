//! Streams with several clients: blocking XREAD / XREADGROUP scenarios run against
//! Ferrodis and the reference redis-server (transcripts must be identical), PEL
//! bookkeeping compared with the idle times masked, and the worker-pool test: 5
//! consumers in a group, one killed mid-way, its pending entries taken over with
//! XAUTOCLAIM, every one of 50,000 entries acknowledged exactly once.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::scenario::differential;
use common::{ferrodis, redis, show, RawClient};

#[test]
fn xread_block_is_woken_by_xadd() {
    differential(
        "
        # every XREAD waiter sees a new entry (nothing is consumed)
        1>> XREAD BLOCK 0 STREAMS s $
        2>> XREAD BLOCK 0 STREAMS s $
        3> XADD s 1-1 a 1
        1<
        2<
        # $ means the last ID when the client blocked
        3> XADD s 2-1 b 2
        1>> XREAD BLOCK 0 STREAMS s $
        3> XADD s 3-1 c 3
        1<
        # an explicit ID: only entries after it serve the client
        1>> XREAD BLOCK 0 STREAMS s 10-0
        3> XADD s 5-1 d 4
        1?
        3> XADD s 11-1 e 5
        1<
        # several streams: the one that gets an entry answers
        1>> XREAD BLOCK 0 STREAMS a b c $ $ $
        3> XADD b 1-1 x y
        1<
        # COUNT applies to what a transaction added meanwhile
        1>> XREAD COUNT 2 BLOCK 0 STREAMS m 0-0
        2>> XREAD BLOCK 0 STREAMS m 0-0
        3> MULTI
        3> XADD m 1-1 f 1
        3> XADD m 2-1 f 2
        3> XADD m 3-1 f 3
        3> EXEC
        1<
        2<
        # a key that becomes another type keeps an XREAD waiter blocked
        1>> XREAD BLOCK 0 STREAMS t $
        3> SET t str
        1?
        3> DEL t
        3> XADD t 1-1 k v
        1<
        # a deleted stream too
        3> XADD u 1-1 k v
        1>> XREAD BLOCK 0 STREAMS u $
        3> DEL u
        1?
        3> XADD u 2-1 k v
        1<
        ",
    );
}

#[test]
fn xreadgroup_block_serves_waiters_in_order() {
    differential(
        "
        3> XGROUP CREATE s g $ MKSTREAM
        1>> XREADGROUP GROUP g alice BLOCK 0 STREAMS s >
        2>> XREADGROUP GROUP g bob BLOCK 0 STREAMS s >
        # one entry serves one consumer, the first to block
        3> XADD s 1-1 a 1
        1<
        2?
        3> XADD s 2-1 b 2
        2<
        3> XPENDING s g
        3> XINFO GROUPS s
        # NOACK waiter: nothing pending
        1>> XREADGROUP GROUP g alice NOACK BLOCK 0 STREAMS s >
        3> XADD s 3-1 c 3
        1<
        3> XPENDING s g
        # a consumer is created when it is served
        1>> XREADGROUP GROUP g carol BLOCK 0 STREAMS s >
        3> XINFO GROUPS s
        3> XADD s 4-1 d 4
        1<
        3> XINFO GROUPS s
        # history reads never block
        1> XREADGROUP GROUP g alice BLOCK 0 STREAMS s 0
        # several streams, one of them with a group
        3> XGROUP CREATE s2 g $ MKSTREAM
        1>> XREADGROUP GROUP g dave COUNT 5 BLOCK 0 STREAMS s s2 > >
        3> XADD s2 1-1 z 1
        1<
        ",
    );
}

#[test]
fn xreadgroup_waiters_when_the_group_or_stream_goes_away() {
    differential(
        "
        3> XGROUP CREATE s g $ MKSTREAM
        1>> XREADGROUP GROUP g alice BLOCK 0 STREAMS s >
        3> XGROUP DESTROY s g
        1<
        3> XGROUP CREATE s g $
        1>> XREADGROUP GROUP g alice BLOCK 0 STREAMS s >
        3> DEL s
        1<
        3> XGROUP CREATE s g $ MKSTREAM
        1>> XREADGROUP GROUP g alice BLOCK 0 STREAMS s >
        3> SET s notastream
        1<
        3> DEL s
        3> XGROUP CREATE s g $ MKSTREAM
        1>> XREADGROUP GROUP g alice BLOCK 0 STREAMS s >
        3> FLUSHALL
        1<
        # other waiters on the key are unaffected by the group going away
        3> XGROUP CREATE s g $ MKSTREAM
        3> XGROUP CREATE s g2 $
        1>> XREADGROUP GROUP g alice BLOCK 0 STREAMS s >
        2>> XREAD BLOCK 0 STREAMS s $
        4>> XREADGROUP GROUP g2 bob BLOCK 0 STREAMS s >
        3> XGROUP DESTROY s g
        1<
        2?
        3> XADD s 1-1 a b
        2<
        4<
        ",
    );
}

#[test]
fn timeouts_resp3_multi_and_unblock() {
    differential(
        "
        1>> XREAD BLOCK 100 STREAMS s $
        sleep 300
        1<
        3> XGROUP CREATE s g $ MKSTREAM
        1>> XREADGROUP GROUP g c BLOCK 100 STREAMS s >
        sleep 300
        1<
        3> XINFO GROUPS s
        # RESP3 waiters get maps
        2!> HELLO 3
        2>> XREAD BLOCK 0 STREAMS s $
        3> XADD s 1-1 a 1
        2<
        2>> XREADGROUP GROUP g c BLOCK 0 STREAMS s >
        3> XADD s 2-1 b 2
        2<
        2> XREAD STREAMS s 0
        2> XREAD BLOCK 100 STREAMS s $
        # inside MULTI nothing blocks
        1> MULTI
        1> XREAD BLOCK 0 STREAMS s $
        1> XREADGROUP GROUP g c BLOCK 0 STREAMS s >
        1> EXEC
        # CLIENT UNBLOCK
        1>> XREAD BLOCK 0 STREAMS s $
        3> CLIENT UNBLOCK $ID1
        1<
        1>> XREADGROUP GROUP g c BLOCK 0 STREAMS s >
        3> CLIENT UNBLOCK $ID1 ERROR
        1<
        # a disconnected waiter is gone: the entry goes to the next one
        1>> XREADGROUP GROUP g gone BLOCK 0 STREAMS s >
        4>> XREADGROUP GROUP g stays BLOCK 0 STREAMS s >
        close 1
        3> XADD s 3-1 c 3
        4<
        3> XINFO GROUPS s
        3> XPENDING s g
        ",
    );
}

// ---------------------------------------------------------------------------
// A minimal RESP reader for the tests below.

#[derive(Debug, Clone, PartialEq)]
enum V {
    Nil,
    Int(i64),
    Str(Vec<u8>),
    Err(String),
    Arr(Vec<V>),
}

fn parse(b: &[u8]) -> (V, usize) {
    let end = b
        .windows(2)
        .position(|w| w == b"\r\n")
        .expect("incomplete reply");
    let line = &b[1..end];
    let text = String::from_utf8_lossy(line).to_string();
    let after = end + 2;
    match b[0] {
        b'+' => (V::Str(line.to_vec()), after),
        b'-' => (V::Err(text), after),
        b':' => (V::Int(text.parse().expect("int")), after),
        b'_' => (V::Nil, after),
        b'$' => {
            let n: i64 = text.parse().expect("len");
            if n < 0 {
                return (V::Nil, after);
            }
            let n = n as usize;
            (V::Str(b[after..after + n].to_vec()), after + n + 2)
        }
        b'*' | b'%' => {
            let n: i64 = text.parse().expect("len");
            if n < 0 {
                return (V::Nil, after);
            }
            let n = if b[0] == b'%' { n * 2 } else { n } as usize;
            let mut pos = after;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                let (v, used) = parse(&b[pos..]);
                items.push(v);
                pos += used;
            }
            (V::Arr(items), pos)
        }
        other => panic!("unexpected reply type {}", other as char),
    }
}

fn val(r: &[u8]) -> V {
    parse(r).0
}

fn arr(v: &V) -> &[V] {
    match v {
        V::Arr(a) => a,
        other => panic!("expected an array, got {other:?}"),
    }
}

fn s(v: &V) -> String {
    match v {
        V::Str(b) => String::from_utf8_lossy(b).to_string(),
        other => panic!("expected a string, got {other:?}"),
    }
}

/// XPENDING's extended rows with the idle times replaced by 0.
fn pending_rows(c: &mut RawClient, key: &str, group: &str) -> Vec<(String, String, i64)> {
    let r = val(&c.cmds(&["XPENDING", key, group, "-", "+", "1000"]));
    arr(&r)
        .iter()
        .map(|row| {
            let row = arr(row);
            let V::Int(dc) = row[3] else {
                panic!("delivery count")
            };
            (s(&row[0]), s(&row[1]), dc)
        })
        .collect()
}

/// The delivery counts and owners of pending entries evolve as in Redis through reads,
/// history reads, claims (RETRYCOUNT, JUSTID, FORCE), deletions and trimming.
#[test]
fn pel_bookkeeping_matches_redis() {
    let script: &[&[&str]] = &[
        &["XGROUP", "CREATE", "s", "g", "0", "MKSTREAM"],
        &["XADD", "s", "1-1", "a", "1"],
        &["XADD", "s", "2-1", "b", "2"],
        &["XADD", "s", "3-1", "c", "3"],
        &["XADD", "s", "4-1", "d", "4"],
        &["XADD", "s", "5-1", "e", "5"],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "alice",
            "COUNT",
            "3",
            "STREAMS",
            "s",
            ">",
        ],
        &["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", ">"],
        &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0"],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "alice",
            "COUNT",
            "1",
            "STREAMS",
            "s",
            "1-1",
        ],
        &["XCLAIM", "s", "g", "bob", "0", "1-1"],
        &["XCLAIM", "s", "g", "bob", "0", "2-1", "JUSTID"],
        &["XCLAIM", "s", "g", "carol", "0", "3-1", "RETRYCOUNT", "9"],
        &["XDEL", "s", "4-1"],
        &["XCLAIM", "s", "g", "carol", "0", "4-1", "FORCE"],
        &["XADD", "s", "6-1", "f", "6"],
        &["XCLAIM", "s", "g", "dave", "0", "6-1", "FORCE"],
        &["XAUTOCLAIM", "s", "g", "erin", "0", "0", "COUNT", "2"],
        &["XGROUP", "SETID", "s", "g", "0"],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "frank",
            "COUNT",
            "2",
            "STREAMS",
            "s",
            ">",
        ],
        &["XTRIM", "s", "MAXLEN", "1"],
        &["XREADGROUP", "GROUP", "g", "frank", "STREAMS", "s", "0"],
        &["XAUTOCLAIM", "s", "g", "erin", "0", "0"],
        &["XACK", "s", "g", "6-1"],
    ];
    let f = ferrodis(&[]);
    let r = redis(&[]);
    let mut cf = RawClient::connect(f.port);
    let mut cr = RawClient::connect(r.port);
    for (i, cmd) in script.iter().enumerate() {
        let a = cf.cmds(cmd);
        let b = cr.cmds(cmd);
        assert_eq!(show(&a), show(&b), "step {i}: {cmd:?}");
        assert_eq!(
            pending_rows(&mut cf, "s", "g"),
            pending_rows(&mut cr, "s", "g"),
            "PEL after step {i}: {cmd:?}"
        );
        for consumer in ["alice", "bob", "carol", "dave", "erin", "frank"] {
            let a = cf.cmds(&["XPENDING", "s", "g", "-", "+", "100", consumer]);
            let b = cr.cmds(&["XPENDING", "s", "g", "-", "+", "100", consumer]);
            assert_eq!(
                val(&a).clone_counts(),
                val(&b).clone_counts(),
                "{consumer} after {cmd:?}"
            );
        }
        assert_eq!(
            show(&cf.cmds(&["XPENDING", "s", "g"])),
            show(&cr.cmds(&["XPENDING", "s", "g"])),
            "summary after {cmd:?}"
        );
    }
}

impl V {
    /// The value with every XPENDING idle time (third field of a 4-element row) zeroed.
    fn clone_counts(&self) -> V {
        match self {
            V::Arr(rows) => V::Arr(
                rows.iter()
                    .map(|r| match r {
                        V::Arr(f) if f.len() == 4 => {
                            let mut f = f.clone();
                            f[2] = V::Int(0);
                            V::Arr(f)
                        }
                        other => other.clone(),
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

// ---------------------------------------------------------------------------
// The worker pool

const JOBS: usize = 50_000;
const WORKERS: usize = 5;

/// Entries of an XREADGROUP reply (`[[key, [[id, fields]...]]]`) or of XAUTOCLAIM's
/// second element: their IDs.
fn entry_ids(entries: &V) -> Vec<String> {
    arr(entries).iter().map(|e| s(&arr(e)[0])).collect()
}

fn read_ids(reply: &V) -> Vec<String> {
    match reply {
        V::Nil => Vec::new(),
        V::Arr(streams) => streams
            .iter()
            .flat_map(|st| entry_ids(&arr(st)[1]))
            .collect(),
        other => panic!("XREADGROUP: {other:?}"),
    }
}

/// Acknowledges `ids` one XACK each (pipelined); returns those this call acknowledged.
fn ack_each(c: &mut RawClient, ids: &[String]) -> Vec<String> {
    let mut buf = Vec::new();
    for id in ids {
        buf.extend(common::encode(&[
            b"XACK",
            b"jobs",
            b"workers",
            id.as_bytes(),
        ]));
    }
    c.send_raw(&buf);
    ids.iter()
        .filter(|_| val(&c.read_reply()) == V::Int(1))
        .cloned()
        .collect()
}

#[test]
fn worker_pool_with_a_killed_consumer() {
    let f = ferrodis(&[]);
    let port = f.port;
    let mut admin = RawClient::connect(port);
    assert_eq!(
        admin.cmds(&["XGROUP", "CREATE", "jobs", "workers", "$", "MKSTREAM"]),
        b"+OK\r\n"
    );
    let acked: Arc<Mutex<HashMap<String, usize>>> = Arc::new(Mutex::new(HashMap::new()));
    let total = Arc::new(AtomicUsize::new(0));
    let victim_read = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + Duration::from_secs(300);

    // The victim reads a few batches without acknowledging, blocks once more and is
    // killed (its connection dropped) while blocked or just served.
    let victim = {
        let victim_read = victim_read.clone();
        std::thread::spawn(move || {
            let mut c = RawClient::connect(port);
            let mut got = 0;
            while got < 500 {
                let r = val(&c.cmds(&[
                    "XREADGROUP",
                    "GROUP",
                    "workers",
                    "victim",
                    "COUNT",
                    "100",
                    "BLOCK",
                    "2000",
                    "STREAMS",
                    "jobs",
                    ">",
                ]));
                got += read_ids(&r).len();
            }
            victim_read.store(got, Ordering::SeqCst);
            c.send_raw(&common::encode(&[
                b"XREADGROUP",
                b"GROUP",
                b"workers",
                b"victim",
                b"COUNT",
                b"100",
                b"BLOCK",
                b"0",
                b"STREAMS",
                b"jobs",
                b">",
            ]));
            std::thread::sleep(Duration::from_millis(20));
            drop(c);
        })
    };

    let mut workers = Vec::new();
    for w in 1..WORKERS {
        let (acked, total, stop) = (acked.clone(), total.clone(), stop.clone());
        workers.push(std::thread::spawn(move || {
            let name = format!("worker{w}");
            let mut c = RawClient::connect(port);
            while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
                let r = val(&c.cmds(&[
                    "XREADGROUP",
                    "GROUP",
                    "workers",
                    &name,
                    "COUNT",
                    "200",
                    "BLOCK",
                    "100",
                    "STREAMS",
                    "jobs",
                    ">",
                ]));
                let mut ids = read_ids(&r);
                if ids.is_empty() {
                    // Idle: take over entries pending for too long (the victim's).
                    let r = val(&c.cmds(&[
                        "XAUTOCLAIM",
                        "jobs",
                        "workers",
                        &name,
                        "300",
                        "0-0",
                        "COUNT",
                        "200",
                    ]));
                    ids = entry_ids(&arr(&r)[1]);
                    assert_eq!(arr(&arr(&r)[2]).len(), 0, "no entry was deleted");
                }
                if ids.is_empty() {
                    continue;
                }
                let mine = ack_each(&mut c, &ids);
                let mut map = acked.lock().unwrap();
                for id in mine {
                    *map.entry(id).or_default() += 1;
                    total.fetch_add(1, Ordering::SeqCst);
                }
            }
        }));
    }

    // The producer: pipelined XADDs.
    let mut p = RawClient::connect(port);
    let mut added = Vec::with_capacity(JOBS);
    for batch in 0..(JOBS / 1000) {
        let mut buf = Vec::new();
        for i in 0..1000 {
            let n = (batch * 1000 + i).to_string();
            buf.extend(common::encode(&[
                b"XADD",
                b"jobs",
                b"*",
                b"job",
                n.as_bytes(),
                b"kind",
                b"email",
            ]));
        }
        p.send_raw(&buf);
        for _ in 0..1000 {
            added.push(s(&val(&p.read_reply())));
        }
    }
    victim.join().unwrap();
    assert!(victim_read.load(Ordering::SeqCst) >= 500);

    while total.load(Ordering::SeqCst) < JOBS && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.join().unwrap();
    }
    let map = acked.lock().unwrap();
    assert_eq!(total.load(Ordering::SeqCst), JOBS, "every job acknowledged");
    assert_eq!(map.len(), JOBS);
    assert!(map.values().all(|&n| n == 1), "each exactly once");
    for id in &added {
        assert!(map.contains_key(id), "{id} acknowledged");
    }
    let summary = val(&admin.cmds(&["XPENDING", "jobs", "workers"]));
    assert_eq!(summary, V::Arr(vec![V::Int(0), V::Nil, V::Nil, V::Nil]));
    assert_eq!(
        admin.cmds(&["XLEN", "jobs"]),
        format!(":{JOBS}\r\n").into_bytes()
    );
    // The victim still exists as a consumer, with nothing pending.
    let consumers = val(&admin.cmds(&["XINFO", "CONSUMERS", "jobs", "workers"]));
    let victim = arr(&consumers)
        .iter()
        .find(|c| s(&arr(c)[1]) == "victim")
        .cloned()
        .expect("victim consumer");
    assert_eq!(arr(&victim)[3], V::Int(0));
    // No client is left blocked.
    let info = String::from_utf8_lossy(&admin.cmds(&["INFO", "clients"])).to_string();
    assert!(info.contains("blocked_clients:0"), "{info}");
}

/// The memory figure: 100,000 entries of 3 small fields take no more memory than in
/// Redis (the 1M-entry figure is in BENCHMARKS.md).
#[test]
fn stream_memory_is_not_above_redis() {
    fn used(c: &mut RawClient) -> i64 {
        let info = String::from_utf8_lossy(&c.cmds(&["INFO", "memory"])).to_string();
        info.lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("used_memory")
    }
    fn fill(port: u16) -> i64 {
        let mut c = RawClient::connect(port);
        let before = used(&mut c);
        for batch in 0..100 {
            let mut buf = Vec::new();
            for i in 0..1000 {
                let n = batch * 1000 + i;
                let id = format!("{}-{}", 1_700_000_000_000u64 + (n / 7) as u64, n % 7);
                let v = (n * 31 % 100_000).to_string();
                buf.extend(common::encode(&[
                    b"XADD",
                    b"s",
                    id.as_bytes(),
                    b"user",
                    v.as_bytes(),
                    b"action",
                    b"click",
                    b"page",
                    format!("/p/{}", n % 50).as_bytes(),
                ]));
            }
            c.send_raw(&buf);
            for _ in 0..1000 {
                let r = c.read_reply();
                assert_eq!(r[0], b'$', "{}", show(&r));
            }
        }
        used(&mut c) - before
    }
    let f = ferrodis(&[]);
    let r = redis(&[]);
    let ours = fill(f.port);
    let theirs = fill(r.port);
    eprintln!("100k-entry stream: ferrodis {ours} bytes, redis {theirs} bytes");
    assert!(ours <= theirs, "ferrodis {ours} > redis {theirs}");
}

#[test]
fn keyspace_notifications() {
    differential(
        "
        2> CONFIG SET notify-keyspace-events Et
        1> PSUBSCRIBE __keyevent@0__:*
        2> XADD s 1-1 a b
        1<
        2> XADD s MAXLEN 1 2-1 a b
        1<
        1<
        2> XADD s MAXLEN 5 3-1 a b
        1<
        2> XTRIM s MAXLEN 0
        1<
        2> XTRIM s MAXLEN 0
        2> XDEL s 2-1
        2> XADD s 4-1 a b
        1<
        2> XDEL s 4-1
        1<
        2> XSETID s 5-0
        1<
        2> XGROUP CREATE s g $
        1<
        2> XGROUP CREATE s g $
        2> XGROUP CREATECONSUMER s g c
        1<
        2> XGROUP CREATECONSUMER s g c
        2> XGROUP SETID s g 0
        1<
        2> XADD s 6-1 a b
        1<
        2> XREADGROUP GROUP g c2 STREAMS s >
        1<
        2> XREADGROUP GROUP g c2 STREAMS s >
        2> XREADGROUP GROUP g c5 STREAMS s 0
        2> XCLAIM s g c3 0 6-1
        1<
        2> XAUTOCLAIM s g c4 0 0
        1<
        2> XACK s g 6-1
        2> XGROUP DELCONSUMER s g c
        1<
        2> XGROUP DELCONSUMER s g nobody
        2> XGROUP DESTROY s g
        1<
        2> XGROUP DESTROY s g
        2> XGROUP CREATE s2 g $ MKSTREAM
        1<
        2> XADD s3 NOMKSTREAM * a b
        1?
        2> CONFIG SET notify-keyspace-events KEAn
        2> XADD s4 1-1 a b
        1<
        1<
        1?
        ",
    );
}

/// Zeroes the integers that are Unix-ms timestamps (delivery and seen times).
fn mask_times(v: &V) -> V {
    match v {
        V::Int(n) if *n >= 1_000_000_000_000 => V::Int(0),
        V::Arr(a) => V::Arr(a.iter().map(mask_times).collect()),
        other => other.clone(),
    }
}

/// XINFO STREAM FULL (RESP2 and RESP3) matches Redis, delivery/seen times masked.
#[test]
fn xinfo_stream_full_matches_redis() {
    let f = ferrodis(&[]);
    let r = redis(&[]);
    for resp3 in [false, true] {
        let mut cf = RawClient::connect(f.port);
        let mut cr = RawClient::connect(r.port);
        if resp3 {
            cf.cmds(&["HELLO", "3"]);
            cr.cmds(&["HELLO", "3"]);
        }
        let script: &[&[&str]] = &[
            &["FLUSHALL"],
            &["XADD", "s", "1-1", "a", "1"],
            &["XINFO", "STREAM", "s", "FULL"],
            &["XADD", "s", "2-1", "b", "2", "c", "3"],
            &["XADD", "s", "3-1", "a", "9"],
            &["XGROUP", "CREATE", "s", "g1", "0"],
            &["XGROUP", "CREATE", "s", "g2", "$"],
            &["XGROUP", "CREATECONSUMER", "s", "g2", "idle"],
            &[
                "XREADGROUP",
                "GROUP",
                "g1",
                "alice",
                "COUNT",
                "2",
                "STREAMS",
                "s",
                ">",
            ],
            &["XREADGROUP", "GROUP", "g1", "bob", "STREAMS", "s", ">"],
            &["XDEL", "s", "2-1"],
            &["XINFO", "STREAM", "s", "FULL"],
            &["XINFO", "STREAM", "s", "FULL", "COUNT", "1"],
            &["XINFO", "STREAM", "s", "FULL", "COUNT", "0"],
            &["XINFO", "STREAM", "s", "FULL", "COUNT", "-3"],
            &["XINFO", "STREAM", "s"],
            &["XINFO", "GROUPS", "s"],
            &[
                "XCLAIM",
                "s",
                "g1",
                "bob",
                "0",
                "1-1",
                "TIME",
                "1234567890123",
                "JUSTID",
            ],
            &["XINFO", "STREAM", "s", "FULL"],
        ];
        for cmd in script {
            let a = cf.cmds(cmd);
            let b = cr.cmds(cmd);
            assert_eq!(
                mask_times(&val(&a)),
                mask_times(&val(&b)),
                "{cmd:?} (resp3: {resp3})\nferrodis: {}\nredis:    {}",
                show(&a),
                show(&b)
            );
        }
    }
}

/// XINFO CONSUMERS has Redis 7.2's `inactive` field (the reference 7.0 lacks it):
/// -1 until the consumer is served, then the time since its last successful read or
/// claim; `idle` is the time since its last attempt.
#[test]
fn xinfo_consumers_idle_and_inactive() {
    let f = ferrodis(&[]);
    let mut c = RawClient::connect(f.port);
    c.cmds(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
    c.cmds(&["XGROUP", "CREATECONSUMER", "s", "g", "never"]);
    c.cmds(&["XADD", "s", "1-1", "a", "1"]);
    c.cmds(&["XREADGROUP", "GROUP", "g", "reader", "STREAMS", "s", ">"]);
    std::thread::sleep(Duration::from_millis(250));
    // An attempt that reads nothing refreshes idle but not inactive.
    c.cmds(&["XREADGROUP", "GROUP", "g", "reader", "STREAMS", "s", "0"]);
    let r = val(&c.cmds(&["XINFO", "CONSUMERS", "s", "g"]));
    let rows = arr(&r);
    assert_eq!(rows.len(), 2);
    let field = |row: &V, name: &str| -> V {
        let f = arr(row);
        let i = f
            .iter()
            .position(|x| *x == V::Str(name.as_bytes().to_vec()))
            .unwrap_or_else(|| panic!("{name} in {f:?}"));
        f[i + 1].clone()
    };
    assert_eq!(field(&rows[0], "name"), V::Str(b"never".to_vec()));
    assert_eq!(field(&rows[0], "pending"), V::Int(0));
    assert_eq!(field(&rows[0], "inactive"), V::Int(-1));
    assert_eq!(field(&rows[1], "name"), V::Str(b"reader".to_vec()));
    assert_eq!(field(&rows[1], "pending"), V::Int(1));
    let V::Int(idle) = field(&rows[1], "idle") else {
        panic!("idle")
    };
    let V::Int(inactive) = field(&rows[1], "inactive") else {
        panic!("inactive")
    };
    assert!(idle < 200, "idle {idle}");
    assert!(inactive >= 250, "inactive {inactive}");
}

/// Random XADD / XDEL / XTRIM (exact and approximate) / range reads with small node
/// limits, against Redis: node boundaries (visible through approximate trimming and
/// XINFO STREAM's radix-tree figures), first/last IDs and lengths must all agree.
#[test]
fn random_edits_match_redis() {
    use rand::{Rng, SeedableRng};
    let f = ferrodis(&[]);
    let r = redis(&[]);
    let mut cf = RawClient::connect(f.port);
    let mut cr = RawClient::connect(r.port);
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed_57ea);
    let both = |cf: &mut RawClient, cr: &mut RawClient, cmd: &[String]| {
        let a: Vec<&str> = cmd.iter().map(|s| s.as_str()).collect();
        let x = cf.cmds(&a);
        let y = cr.cmds(&a);
        assert_eq!(show(&x), show(&y), "{cmd:?}");
    };
    let v = |x: &[&str]| -> Vec<String> { x.iter().map(|s| s.to_string()).collect() };
    for round in 0..12 {
        let entries = rng.gen_range(2..12).to_string();
        let bytes = ["0", "60", "150", "4096"][rng.gen_range(0..4)];
        both(&mut cf, &mut cr, &v(&["DEL", "s"]));
        both(
            &mut cf,
            &mut cr,
            &v(&["CONFIG", "SET", "stream-node-max-entries", &entries]),
        );
        both(
            &mut cf,
            &mut cr,
            &v(&["CONFIG", "SET", "stream-node-max-bytes", bytes]),
        );
        let mut ms: u64 = 1;
        for _ in 0..800 {
            let op = rng.gen_range(0..100);
            let cmd: Vec<String> = if op < 55 {
                ms += rng.gen_range(0..3);
                let id = if rng.gen_bool(0.5) {
                    format!("{ms}-*")
                } else {
                    format!("{ms}-{}", rng.gen_range(0..4))
                };
                let mut c = vec!["XADD".to_string(), "s".into(), id];
                let nf = if rng.gen_bool(0.8) {
                    2
                } else {
                    rng.gen_range(1..4)
                };
                for i in 0..nf {
                    let field = if rng.gen_bool(0.9) {
                        format!("f{i}")
                    } else {
                        format!("g{}", rng.gen_range(0..3))
                    };
                    let value = match rng.gen_range(0..5) {
                        0 => rng.gen_range(-200i64..200).to_string(),
                        1 => rng.gen_range(-9_000_000i64..9_000_000).to_string(),
                        2 => rng.gen::<i64>().to_string(),
                        3 => "x".repeat(rng.gen_range(0..80)),
                        _ => format!("0{}", rng.gen_range(0..100)),
                    };
                    c.push(field);
                    c.push(value);
                }
                c
            } else if op < 70 {
                let mut c = v(&["XDEL", "s"]);
                for _ in 0..rng.gen_range(1..4) {
                    c.push(format!("{}-{}", rng.gen_range(1..=ms), rng.gen_range(0..4)));
                }
                c
            } else if op < 80 {
                let approx = if rng.gen_bool(0.6) { "~" } else { "=" };
                if rng.gen_bool(0.5) {
                    let mut c = v(&["XTRIM", "s", "MAXLEN", approx]);
                    c.push(rng.gen_range(0..40).to_string());
                    if approx == "~" && rng.gen_bool(0.3) {
                        c.push("LIMIT".into());
                        c.push(rng.gen_range(0..20).to_string());
                    }
                    c
                } else {
                    let mut c = v(&["XTRIM", "s", "MINID", approx]);
                    c.push(format!("{}", ms.saturating_sub(rng.gen_range(0..30))));
                    c
                }
            } else if op < 85 {
                v(&["XINFO", "STREAM", "s"])
            } else if op < 92 {
                let a = rng.gen_range(0..=ms);
                let b = rng.gen_range(a..=ms + 1);
                let mut c = v(&["XRANGE", "s"]);
                c.push(format!("({a}"));
                c.push(b.to_string());
                c.push("COUNT".into());
                c.push(rng.gen_range(1..30).to_string());
                c
            } else if op < 97 {
                let a = rng.gen_range(0..=ms);
                let mut c = v(&["XREVRANGE", "s", "+"]);
                c.push(a.to_string());
                c
            } else {
                v(&["XINFO", "STREAM", "s", "FULL", "COUNT", "3"])
            };
            both(&mut cf, &mut cr, &cmd);
        }
        both(&mut cf, &mut cr, &v(&["XRANGE", "s", "-", "+"]));
        both(&mut cf, &mut cr, &v(&["XINFO", "STREAM", "s"]));
        eprintln!("round {round}: entries {entries}, bytes {bytes}: ok");
    }
}

/// Random consumer-group traffic against Redis: reads (new and history, NOACK),
/// acknowledgements, claims, XAUTOCLAIM cursors and deleted-ID lists, deletions,
/// trimming, SETID, DELCONSUMER; replies compared with delivery/idle times masked,
/// plus XINFO GROUPS (lag, entries-read) and the PEL after every step.
#[test]
fn random_group_traffic_matches_redis() {
    use rand::{Rng, SeedableRng};
    let f = ferrodis(&[]);
    let r = redis(&[]);
    let mut cf = RawClient::connect(f.port);
    let mut cr = RawClient::connect(r.port);
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x009a_0f11);
    // Idle times in XPENDING rows and XINFO CONSUMERS are not compared.
    fn mask(v: &V) -> V {
        match v {
            V::Arr(a) if a.len() == 4 && matches!(a[2], V::Int(_)) && matches!(a[0], V::Str(_)) => {
                let mut a: Vec<V> = a.iter().map(mask).collect();
                a[2] = V::Int(0);
                V::Arr(a)
            }
            V::Arr(a) => V::Arr(a.iter().map(mask).collect()),
            other => other.clone(),
        }
    }
    let mut both = |cmd: Vec<String>| {
        let a: Vec<&str> = cmd.iter().map(|s| s.as_str()).collect();
        let x = cf.cmds(&a);
        let y = cr.cmds(&a);
        assert_eq!(
            mask(&val(&x)),
            mask(&val(&y)),
            "{cmd:?}\nferrodis: {}\nredis:    {}",
            show(&x),
            show(&y)
        );
    };
    let sv = |x: &[&str]| -> Vec<String> { x.iter().map(|s| s.to_string()).collect() };
    both(sv(&["CONFIG", "SET", "stream-node-max-entries", "4"]));
    both(sv(&["XGROUP", "CREATE", "s", "g", "0", "MKSTREAM"]));
    both(sv(&["XGROUP", "CREATE", "s", "h", "$"]));
    let consumers = ["c1", "c2", "c3"];
    let mut ms = 1u64;
    for _ in 0..1500 {
        let g = if rng.gen_bool(0.7) { "g" } else { "h" };
        let c = consumers[rng.gen_range(0..3)];
        let op = rng.gen_range(0..100);
        let cmd: Vec<String> = if op < 30 {
            ms += 1;
            sv(&["XADD", "s", &format!("{ms}-0"), "f", &ms.to_string()])
        } else if op < 48 {
            let mut v = sv(&["XREADGROUP", "GROUP", g, c, "COUNT"]);
            v.push(rng.gen_range(1..4).to_string());
            if rng.gen_bool(0.15) {
                v.push("NOACK".into());
            }
            v.push("STREAMS".into());
            v.push("s".into());
            v.push(if rng.gen_bool(0.75) {
                ">".into()
            } else {
                rng.gen_range(0..=ms).to_string()
            });
            v
        } else if op < 60 {
            let mut v = sv(&["XACK", "s", g]);
            for _ in 0..rng.gen_range(1..4) {
                v.push(format!("{}-0", rng.gen_range(1..=ms)));
            }
            v
        } else if op < 66 {
            let mut v = sv(&["XCLAIM", "s", g, c, "0"]);
            for _ in 0..rng.gen_range(1..3) {
                v.push(format!("{}-0", rng.gen_range(1..=ms)));
            }
            match rng.gen_range(0..4) {
                0 => v.push("JUSTID".into()),
                1 => v.extend(sv(&["RETRYCOUNT", "5"])),
                2 => v.extend(sv(&["FORCE", "JUSTID"])),
                _ => {}
            }
            v
        } else if op < 72 {
            let mut v = sv(&["XAUTOCLAIM", "s", g, c, "0"]);
            v.push(format!("{}-0", rng.gen_range(0..=ms)));
            v.push("COUNT".into());
            v.push(rng.gen_range(1..4).to_string());
            if rng.gen_bool(0.5) {
                v.push("JUSTID".into());
            }
            v
        } else if op < 78 {
            sv(&["XDEL", "s", &format!("{}-0", rng.gen_range(1..=ms))])
        } else if op < 81 {
            let approx = if rng.gen_bool(0.5) { "~" } else { "=" };
            sv(&[
                "XTRIM",
                "s",
                "MAXLEN",
                approx,
                &rng.gen_range(3..15).to_string(),
            ])
        } else if op < 83 {
            let id = if rng.gen_bool(0.3) {
                "$".to_string()
            } else {
                format!("{}-0", rng.gen_range(0..=ms))
            };
            sv(&["XGROUP", "SETID", "s", g, &id])
        } else if op < 85 {
            sv(&["XGROUP", "DELCONSUMER", "s", g, c])
        } else if op < 92 {
            sv(&["XINFO", "GROUPS", "s"])
        } else if op < 96 {
            sv(&["XPENDING", "s", g, "-", "+", "100"])
        } else {
            sv(&["XPENDING", "s", g])
        };
        both(cmd);
    }
    both(sv(&["XINFO", "GROUPS", "s"]));
    both(sv(&["XPENDING", "s", "g", "-", "+", "1000"]));
    both(sv(&["XPENDING", "s", "h", "-", "+", "1000"]));
}

#[test]
fn swapdb_and_move_with_stream_waiters() {
    differential(
        "
        3> XGROUP CREATE s g $ MKSTREAM
        1>> XREADGROUP GROUP g c BLOCK 0 STREAMS s >
        2>> XREAD BLOCK 0 STREAMS s $
        3> SWAPDB 0 1
        1<
        2?
        3> SWAPDB 0 1
        2?
        3> XADD s 1-1 a b
        2<
        # a stream moved in from another database serves XREAD waiters
        2>> XREAD BLOCK 0 STREAMS t 0-0
        3!> SELECT 1
        3> XADD t 5-1 k v
        3> MOVE t 0
        2<
        # moving a stream away unblocks its XREADGROUP waiters
        3!> SELECT 0
        3> XGROUP CREATE t g 0
        1>> XREADGROUP GROUP g c BLOCK 0 STREAMS t >
        1<
        1>> XREADGROUP GROUP g c BLOCK 0 STREAMS t >
        3> MOVE t 1
        1<
        ",
    );
}

#[test]
fn scripts_and_transactions_wake_stream_waiters() {
    differential(
        "
        3> XGROUP CREATE s g $ MKSTREAM
        1>> XREAD BLOCK 0 STREAMS s $
        2>> XREADGROUP GROUP g c BLOCK 0 STREAMS s >
        3> EVAL \"return redis.call('xadd', KEYS[1], '1-1', 'a', 'b')\" 1 s
        1<
        2<
        1>> XREAD BLOCK 0 STREAMS s $
        2>> XREADGROUP GROUP g c BLOCK 0 STREAMS s >
        3> MULTI
        3> XADD s 2-1 c d
        3> XADD s 3-1 e f
        3> EXEC
        1<
        2<
        3> XPENDING s g
        ",
    );
}

#[test]
fn expired_stream_unblocks_xreadgroup_waiters_on_access() {
    differential(
        "
        # lazy expiry (active expiry off): the access that deletes the key serves
        # the waiter its error
        3> DEBUG SET-ACTIVE-EXPIRE 0
        3> XGROUP CREATE s g $ MKSTREAM
        3> PEXPIRE s 200
        1>> XREADGROUP GROUP g c BLOCK 0 STREAMS s >
        sleep 400
        3> EXISTS s
        1<
        ",
    );
}

#[test]
fn expired_stream_unblocks_xreadgroup_waiters_by_active_expiry() {
    differential(
        "
        # active expiry deletes the stream nobody accesses: its XREADGROUP waiter
        # gets the error without any other command
        3> XGROUP CREATE s g $ MKSTREAM
        3> PEXPIRE s 200
        1>> XREADGROUP GROUP g c BLOCK 0 STREAMS s >
        sleep 1500
        1<
        3> EXISTS s
        ",
    );
}
