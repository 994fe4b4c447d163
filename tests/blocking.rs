//! Blocking pops with several clients: each scenario runs against Ferrodis and the
//! reference redis-server and the transcripts (every reply each client received, in
//! order) must be identical. Plus the job-queue stress test: 20 producers and 20
//! blocked workers move 100,000 jobs and each is delivered exactly once.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::scenario::differential;
use common::{ferrodis, show, RawClient};

#[test]
fn waiters_are_served_first_come_first_served() {
    differential(
        "
        1>> BLPOP q 0
        2>> BLPOP q 0
        3>> BRPOP q 0
        # two elements wake exactly two waiters, in arrival order
        4> RPUSH q a b
        1<
        2<
        3?
        4> EXISTS q
        4> INFO keyspace
        4> RPUSH q c
        3<
        4> LLEN q
        # one push with more elements than waiters: the rest stays
        1>> BRPOP q 0
        4> LPUSH q x y z
        1<
        4> LRANGE q 0 -1
        ",
    );
}

#[test]
fn several_keys_and_types() {
    differential(
        "
        1>> BLPOP a b c 0
        2> RPUSH c x
        1<
        # waiting on a key that becomes a string: still blocked; a list later serves it
        1>> BLPOP k 0
        2> SET k str
        1?
        2> DEL k
        2> RPUSH k v
        1<
        # a sorted-set waiter and a list waiter on one key: only the list one is served
        1>> BZPOPMIN mixed 0
        3>> BLPOP mixed 0
        2> RPUSH mixed e1
        3<
        1?
        2> ZADD mixed2 1 m
        2> RENAME mixed2 mixed
        1<
        # the same key twice: served once
        1>> BLPOP dup dup 0
        2> RPUSH dup a b
        1<
        2> LRANGE dup 0 -1
        ",
    );
}

#[test]
fn blmove_chains_and_rotation() {
    differential(
        "
        # a job moves src -> mid -> dst through two blocked BLMOVEs
        1>> BLMOVE src mid LEFT RIGHT 0
        2>> BLMOVE mid dst LEFT LEFT 0
        3> RPUSH src job1
        1<
        2<
        3> LRANGE dst 0 -1
        3> EXISTS src mid
        # BRPOPLPUSH into a list another client is blocked on
        1>> BLPOP out 0
        2>> BRPOPLPUSH in out 0
        3> LPUSH in j2 j3
        2<
        1<
        3> LRANGE in 0 -1
        3> LRANGE out 0 -1
        # rotation of a list onto itself
        1>> BLMOVE rot rot LEFT RIGHT 0
        3> RPUSH rot a b
        1<
        3> LRANGE rot 0 -1
        # destination of the wrong type when the element arrives
        1>> BLMOVE s2 d2 LEFT RIGHT 0
        3> SET d2 string
        3> RPUSH s2 e
        1?
        3> LRANGE s2 0 -1
        3> TYPE d2
        ",
    );
}

#[test]
fn mpop_and_sorted_sets() {
    differential(
        "
        1>> BLMPOP 0 2 a b RIGHT COUNT 2
        2> RPUSH b 1 2 3
        1<
        2> LRANGE b 0 -1
        1>> BZPOPMIN z 0
        3>> BZPOPMAX z 0
        2> ZADD z 1 one 2 two 3 three
        1<
        3<
        2> ZRANGE z 0 -1 WITHSCORES
        1>> BZMPOP 0 2 z1 z2 MAX COUNT 10
        2> ZADD z2 1.5 a 2.5 b
        1<
        2> EXISTS z2
        # RESP3 waiters get RESP3 replies
        4!> HELLO 3
        4>> BZPOPMIN r3 0
        2> ZADD r3 3.25 m
        4<
        4>> BLPOP l3 0
        2> RPUSH l3 v
        4<
        4>> BZMPOP 0 1 r3 MIN COUNT 2
        2> ZADD r3 1 a 2 b 3 c
        4<
        4>> BLPOP l3 0.1
        sleep 300
        4<
        ",
    );
}

#[test]
fn timeouts_unblock_and_pipelines() {
    differential(
        "
        1>> BLPOP q 0.2
        sleep 400
        1<
        1>> BLMOVE q d LEFT RIGHT 0.1
        sleep 300
        1<
        1>> BZPOPMIN q 0.1
        sleep 300
        1<
        1>> BLMPOP 0.1 1 q LEFT
        sleep 300
        1<
        # CLIENT UNBLOCK: as a timeout, or with an error
        1>> BLPOP q 0
        2> CLIENT UNBLOCK $ID1
        1<
        1>> BRPOPLPUSH q d 0
        2> CLIENT UNBLOCK $ID1 TIMEOUT
        1<
        1>> BZPOPMAX q 0
        2> CLIENT UNBLOCK $ID1 ERROR
        1<
        2> CLIENT UNBLOCK $ID1
        2> RPUSH q after
        2> LLEN q
        # commands pipelined behind a blocked one run after it is served
        1 raw BLPOP w 0\\r\\nPING\\r\\nLLEN w\\r\\n
        2> RPUSH w x y
        1<
        1<
        1<
        # timeout replies keep the pipeline order too
        1 raw BLPOP w2 0.1\\r\\nECHO next\\r\\n
        sleep 300
        1<
        1<
        ",
    );
}

#[test]
fn database_moves_wake_waiters() {
    differential(
        "
        1>> BLPOP q 0
        2!> SELECT 1
        2> RPUSH q a
        2> MOVE q 0
        1<
        1>> BLPOP q2 0
        2> RPUSH q2 b
        2> SWAPDB 0 1
        1<
        # a waiter in db 0 is not served by a push in db 1
        1!> SELECT 0
        1>> BLPOP q3 0
        2!> SELECT 1
        2> RPUSH q3 c
        1?
        2> MOVE q3 0
        1<
        ",
    );
}

/// A blocked client that disconnects leaves no waiter: the next push stays in the list.
#[test]
fn disconnected_waiter_leaves_nothing_behind() {
    let f = ferrodis(&[]);
    let mut a = RawClient::connect(f.port);
    a.send_raw(&common::encode(&[b"BLPOP", b"q", b"0"]));
    let mut b = RawClient::connect(f.port);
    let blocked_clients = |b: &mut RawClient| {
        let info = String::from_utf8_lossy(&b.cmds(&["INFO", "clients"])).into_owned();
        info.lines()
            .find_map(|l| l.strip_prefix("blocked_clients:"))
            .map(|v| v.trim().to_string())
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while blocked_clients(&mut b).as_deref() != Some("1") {
        assert!(Instant::now() < deadline, "client never blocked");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(a);
    while blocked_clients(&mut b).as_deref() != Some("0") {
        assert!(Instant::now() < deadline, "blocked client not cleaned up");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(b.cmds(&["RPUSH", "q", "job"]), b":1\r\n");
    assert_eq!(b.cmds(&["LLEN", "q"]), b":1\r\n");
    let info = String::from_utf8_lossy(&b.cmds(&["INFO", "clients"])).into_owned();
    assert!(info.contains("total_blocking_keys:0"), "{info}");
}

/// The job-queue test: 20 producers push 100,000 jobs while 20 workers pop them with
/// BRPOP (10 workers) and BLMOVE into a per-worker processing list followed by LREM
/// (10 workers, the "reliable queue" pattern). Every job must arrive exactly once.
#[test]
fn job_queue_delivers_every_job_exactly_once() {
    const PRODUCERS: usize = 20;
    const WORKERS: usize = 20;
    const JOBS: usize = 100_000;
    let f = ferrodis(&[]);
    let port = f.port;
    let received = Arc::new(Mutex::new(vec![0u8; JOBS]));
    let done = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for w in 0..WORKERS {
        let received = received.clone();
        let done = done.clone();
        handles.push(std::thread::spawn(move || {
            let mut c = RawClient::connect(port);
            let processing = format!("processing:{w}");
            let mut mine = 0usize;
            loop {
                if done.load(Ordering::SeqCst) >= JOBS {
                    break;
                }
                let job = if w % 2 == 0 {
                    let r = c.cmds(&["BRPOP", "jobs", "0.5"]);
                    let (_, parts) = common::split_elements(&r);
                    match parts.get(1) {
                        Some(p) => p.clone(),
                        None => continue, // timed out: check whether all jobs are in
                    }
                } else {
                    let r = c.cmds(&["BLMOVE", "jobs", &processing, "RIGHT", "LEFT", "0.5"]);
                    if r.starts_with(b"*-1") {
                        continue;
                    }
                    let lrem = c.cmd(&[b"LREM", processing.as_bytes(), b"1", &bulk_body(&r)]);
                    assert_eq!(lrem, b":1\r\n", "job missing from {processing}");
                    r
                };
                let id: usize = String::from_utf8_lossy(&bulk_body(&job))
                    .parse()
                    .expect("job id");
                received.lock().expect("lock")[id] += 1;
                mine += 1;
                done.fetch_add(1, Ordering::SeqCst);
            }
            mine
        }));
    }
    let mut producers = Vec::new();
    for p in 0..PRODUCERS {
        producers.push(std::thread::spawn(move || {
            let mut c = RawClient::connect(port);
            let per = JOBS / PRODUCERS;
            // Batches of 1 to 5 jobs per LPUSH, so some pushes wake several workers.
            let mut i = 0;
            while i < per {
                let n = 1 + (i % 5).min(per - i - 1);
                let ids: Vec<String> = (i..i + n).map(|k| (p * per + k).to_string()).collect();
                let mut argv: Vec<&str> = vec!["LPUSH", "jobs"];
                argv.extend(ids.iter().map(|s| s.as_str()));
                let r = c.cmds(&argv);
                assert!(r.starts_with(b":"), "LPUSH failed: {}", show(&r));
                i += n;
            }
        }));
    }
    for p in producers {
        p.join().expect("producer");
    }
    let per_worker: Vec<usize> = handles
        .into_iter()
        .map(|h| h.join().expect("worker"))
        .collect();
    let received = received.lock().expect("lock");
    let missing = received.iter().filter(|&&n| n == 0).count();
    let duplicated = received.iter().filter(|&&n| n > 1).count();
    assert_eq!(
        (missing, duplicated),
        (0, 0),
        "jobs lost or delivered twice"
    );
    assert_eq!(per_worker.iter().sum::<usize>(), JOBS);
    assert!(
        per_worker.iter().filter(|&&n| n > 0).count() >= WORKERS / 2,
        "work should spread over the workers: {per_worker:?}"
    );
    let mut c = RawClient::connect(port);
    assert_eq!(c.cmds(&["DBSIZE"]), b":0\r\n", "queues must end empty");
}

/// The payload of a bulk string reply (`$n\r\n...\r\n`).
fn bulk_body(r: &[u8]) -> Vec<u8> {
    let start = r.iter().position(|&b| b == b'\n').map_or(0, |p| p + 1);
    r[start..r.len().saturating_sub(2)].to_vec()
}
