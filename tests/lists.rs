//! List integration tests over real TCP: a work queue with concurrent producers
//! (LPUSH) and consumers (RPOP) delivers every job exactly once, and small lists take
//! no more memory than in the reference redis-server.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::{encode, show, RawClient};

const PRODUCERS: usize = 4;
const CONSUMERS: usize = 4;
const JOBS_PER_PRODUCER: usize = 1500;

fn int(reply: &[u8]) -> i64 {
    let s = String::from_utf8_lossy(reply);
    assert!(
        s.starts_with(':'),
        "expected an integer, got {}",
        show(reply)
    );
    s[1..].trim_end().parse().expect("integer reply")
}

/// The payload of a bulk reply, or None for nil.
fn bulk(reply: &[u8]) -> Option<Vec<u8>> {
    if reply == b"$-1\r\n" {
        return None;
    }
    assert_eq!(
        reply.first(),
        Some(&b'$'),
        "expected a bulk, got {}",
        show(reply)
    );
    let nl = reply.iter().position(|&c| c == b'\n')?;
    Some(reply[nl + 1..reply.len() - 2].to_vec())
}

#[test]
fn queue_delivers_every_job_exactly_once() {
    let srv = common::ferrodis(&[]);
    let port = srv.port;
    let produced = Arc::new(AtomicUsize::new(0));
    let seen: Arc<Mutex<HashSet<Vec<u8>>>> = Arc::default();
    let duplicates = Arc::new(AtomicUsize::new(0));
    let total = PRODUCERS * JOBS_PER_PRODUCER;

    std::thread::scope(|s| {
        for p in 0..PRODUCERS {
            let produced = produced.clone();
            s.spawn(move || {
                let mut c = RawClient::connect(port);
                for j in 0..JOBS_PER_PRODUCER {
                    let job = format!("job:{p}:{j}");
                    let r = c.cmds(&["LPUSH", "queue", &job]);
                    assert!(int(&r) >= 1, "LPUSH reply {}", show(&r));
                    produced.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
        for _ in 0..CONSUMERS {
            let produced = produced.clone();
            let seen = seen.clone();
            let duplicates = duplicates.clone();
            s.spawn(move || {
                let mut c = RawClient::connect(port);
                loop {
                    // Read the producers' progress before popping: if everything was
                    // produced and the queue is then empty, nothing is left.
                    let done = produced.load(Ordering::SeqCst) == total;
                    match bulk(&c.cmds(&["RPOP", "queue"])) {
                        Some(job) => {
                            if !seen.lock().expect("lock").insert(job) {
                                duplicates.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                        None if done => break,
                        None => std::thread::yield_now(),
                    }
                }
            });
        }
    });

    assert_eq!(
        duplicates.load(Ordering::SeqCst),
        0,
        "a job was delivered twice"
    );
    let seen = seen.lock().expect("lock");
    assert_eq!(seen.len(), total, "jobs lost");
    for p in 0..PRODUCERS {
        for j in 0..JOBS_PER_PRODUCER {
            assert!(seen.contains(format!("job:{p}:{j}").as_bytes()));
        }
    }
    let mut c = srv.client();
    assert_eq!(int(&c.cmds(&["LLEN", "queue"])), 0);
    assert_eq!(
        int(&c.cmds(&["EXISTS", "queue"])),
        0,
        "empty list left behind"
    );
}

/// FIFO order per producer is kept through the queue (LPUSH at the head, RPOP at the
/// tail), also across node boundaries of a long list, and LMOVE hands elements over
/// atomically between two lists.
#[test]
fn fifo_order_and_lmove_handover() {
    let srv = common::ferrodis(&[]);
    let mut c = srv.client();
    let n = 5000;
    let mut buf = Vec::new();
    for i in 0..n {
        let v = format!("item-{i}");
        buf.extend_from_slice(&encode(&[b"LPUSH", b"q", v.as_bytes()]));
    }
    c.send_raw(&buf);
    for i in 0..n {
        assert_eq!(int(&c.read_reply()), i as i64 + 1);
    }
    // Move half of them to a second list, one at a time, from two threads at once.
    let port = srv.port;
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(move || {
                let mut c = RawClient::connect(port);
                for _ in 0..n / 4 {
                    let r = c.cmds(&["LMOVE", "q", "done", "RIGHT", "LEFT"]);
                    assert!(bulk(&r).is_some(), "LMOVE reply {}", show(&r));
                }
            });
        }
    });
    assert_eq!(int(&c.cmds(&["LLEN", "q"])), (n / 2) as i64);
    assert_eq!(int(&c.cmds(&["LLEN", "done"])), (n / 2) as i64);
    // "done" received items in order, newest at its head.
    assert_eq!(
        bulk(&c.cmds(&["LINDEX", "done", "-1"])),
        Some(b"item-0".to_vec())
    );
    assert_eq!(
        bulk(&c.cmds(&["LINDEX", "done", "0"])),
        Some(format!("item-{}", n / 2 - 1).into_bytes())
    );
    for i in n / 2..n {
        assert_eq!(
            bulk(&c.cmds(&["RPOP", "q"])),
            Some(format!("item-{i}").into_bytes())
        );
    }
    assert_eq!(int(&c.cmds(&["EXISTS", "q"])), 0);
}

/// INFO memory's used_memory.
fn used_memory(c: &mut RawClient) -> u64 {
    let reply = c.cmds(&["INFO", "memory"]);
    let text = String::from_utf8_lossy(&reply);
    text.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no used_memory in INFO: {text}"))
}

/// Memory used by `lists` lists of 10 small elements, measured as the growth of
/// used_memory.
fn small_lists_memory(c: &mut RawClient, lists: usize) -> u64 {
    let before = used_memory(c);
    let mut buf = Vec::new();
    let mut pending = 0;
    for i in 0..lists {
        let key = format!("list:{i}");
        let mut args: Vec<Vec<u8>> = vec![b"RPUSH".to_vec(), key.into_bytes()];
        for j in 0..10 {
            args.push(format!("v{j}").into_bytes());
        }
        let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
        buf.extend_from_slice(&encode(&refs));
        pending += 1;
        if pending == 2000 || i + 1 == lists {
            c.send_raw(&buf);
            buf.clear();
            for _ in 0..pending {
                assert_eq!(int(&c.read_reply()), 10);
            }
            pending = 0;
        }
    }
    used_memory(c).saturating_sub(before)
}

#[test]
fn small_lists_use_no_more_memory_than_redis() {
    let lists = 100_000;
    let ferro = common::ferrodis(&[]);
    let redis = common::redis(&[]);
    let f = small_lists_memory(&mut ferro.client(), lists);
    let r = small_lists_memory(&mut redis.client(), lists);
    eprintln!(
        "{lists} lists of 10 small elements: ferrodis {f} bytes ({} per list), redis {r} bytes ({} per list)",
        f / lists as u64,
        r / lists as u64
    );
    assert!(f <= r, "ferrodis used {f} bytes, redis-server {r}");
}
