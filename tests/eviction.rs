//! maxmemory eviction: under allkeys-lru, writing ten times the limit keeps memory near
//! it, the server responsive and a frequently read hot set alive; volatile-ttl evicts
//! the nearest expiry first and never a key without TTL (and refuses writes with -OOM
//! once none is left); allkeys-lfu keeps the most used keys; `evicted` keyspace events
//! and INFO evicted_keys. The -OOM texts are compared with the reference in
//! tests/cases/maxmemory_oom.txt.

mod common;

use common::{encode, ferrodis, split_elements, RawClient};

fn info(c: &mut RawClient, field: &str) -> u64 {
    let text = String::from_utf8_lossy(&c.cmds(&["INFO"])).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// SETs `count` keys `prefix:i` of `size` bytes, pipelined; returns the number of
/// error replies.
fn fill(c: &mut RawClient, prefix: &str, count: usize, size: usize, ttl: Option<u64>) -> usize {
    let value = vec![b'v'; size];
    let mut errors = 0;
    for chunk in (0..count).collect::<Vec<_>>().chunks(200) {
        let mut buf = Vec::new();
        for i in chunk {
            let key = format!("{prefix}:{i}");
            match ttl {
                Some(t) => buf.extend(encode(&[
                    b"SET",
                    key.as_bytes(),
                    &value,
                    b"EX",
                    (t + *i as u64).to_string().as_bytes(),
                ])),
                None => buf.extend(encode(&[b"SET", key.as_bytes(), &value])),
            }
        }
        c.send_raw(&buf);
        for _ in chunk {
            if c.read_reply().starts_with(b"-") {
                errors += 1;
            }
        }
    }
    errors
}

#[test]
fn allkeys_lru_keeps_memory_bounded_and_the_hot_set() {
    let f = ferrodis(&["--maxmemory", "12mb", "--maxmemory-policy", "allkeys-lru"]);
    let mut c = f.client();
    // The hot set, then ten times the limit of cold writes while the hot keys are read
    // between batches (each read refreshes their LRU clock).
    assert_eq!(fill(&mut c, "hot", 500, 1000, None), 0);
    let mut errors = 0;
    for round in 0..24 {
        errors += fill(&mut c, &format!("cold{round}"), 5_000, 1000, None);
        for i in 0..500 {
            c.cmds(&["GET", &format!("hot:{i}")]);
        }
        std::thread::sleep(std::time::Duration::from_millis(150));
    }
    assert_eq!(errors, 0, "writes must not be refused under allkeys-lru");
    let used = info(&mut c, "used_memory");
    assert!(
        used < 20 << 20,
        "used_memory {used} far above maxmemory 12mb"
    );
    let rss = info(&mut c, "used_memory_rss");
    assert!(rss < 100 << 20, "rss {rss} after writing 120 MB");
    let evicted = info(&mut c, "evicted_keys");
    assert!(evicted > 100_000, "evicted_keys {evicted}");
    let mut alive = 0;
    for i in 0..500 {
        if c.cmds(&["EXISTS", &format!("hot:{i}")]) == b":1\r\n" {
            alive += 1;
        }
    }
    // Hot keys are read once per round, so the newest cold writes are fresher than
    // they are: sampling (5 keys) occasionally picks one. Redis behaves the same.
    assert!(alive >= 450, "only {alive}/500 hot keys survived");
    assert_eq!(c.cmds(&["PING"]), b"+PONG\r\n");
}

#[test]
fn volatile_ttl_evicts_nearest_expiry_and_never_persistent_keys() {
    let f = ferrodis(&["--maxmemory", "12mb", "--maxmemory-policy", "volatile-ttl"]);
    let mut c = f.client();
    // Persistent keys: never candidates.
    assert_eq!(fill(&mut c, "keep", 2000, 1000, None), 0);
    // Volatile keys with growing TTLs: the shortest go first.
    assert_eq!(fill(&mut c, "vol", 20_000, 1000, Some(1000)), 0);
    for i in 0..2000 {
        assert_eq!(
            c.cmds(&["EXISTS", &format!("keep:{i}")]),
            b":1\r\n",
            "keep:{i} was evicted"
        );
    }
    let survivors: Vec<usize> = (0..20_000)
        .filter(|i| c.cmds(&["EXISTS", &format!("vol:{i}")]) == b":1\r\n")
        .collect();
    assert!(!survivors.is_empty() && survivors.len() < 20_000);
    // Mostly the longest TTLs survive.
    let late = survivors.iter().filter(|&&i| i >= 10_000).count();
    assert!(
        late * 10 >= survivors.len() * 8,
        "{late}/{} survivors are late keys",
        survivors.len()
    );
    // Only persistent keys left to write over the limit: -OOM.
    let errors = fill(&mut c, "more", 20_000, 1000, None);
    assert!(
        errors > 0,
        "writes beyond the limit with no volatile key left must fail"
    );
    assert_eq!(
        c.cmds(&["SET", "one", "more"]),
        b"-OOM command not allowed when used memory > 'maxmemory'.\r\n".to_vec()
    );
    // Reads and deletes still work.
    assert_eq!(c.cmds(&["EXISTS", "keep:1"]), b":1\r\n");
    assert_eq!(c.cmds(&["DEL", "keep:1"]), b":1\r\n");
}

#[test]
fn allkeys_lfu_keeps_the_most_used_keys() {
    let f = ferrodis(&["--maxmemory", "12mb", "--maxmemory-policy", "allkeys-lfu"]);
    let mut c = f.client();
    assert_eq!(fill(&mut c, "popular", 300, 1000, None), 0);
    for _ in 0..50 {
        for i in 0..300 {
            c.cmds(&["GET", &format!("popular:{i}")]);
        }
    }
    let freq = c.cmds(&["OBJECT", "FREQ", "popular:7"]);
    let n: u64 = String::from_utf8_lossy(&freq[1..freq.len() - 2])
        .parse()
        .unwrap_or(0);
    assert!(n > 5, "OBJECT FREQ after 50 reads: {n}");
    assert_eq!(fill(&mut c, "once", 60_000, 1000, None), 0);
    let alive = (0..300)
        .filter(|i| c.cmds(&["EXISTS", &format!("popular:{i}")]) == b":1\r\n")
        .count();
    assert!(alive >= 285, "only {alive}/300 popular keys survived");
    assert!(info(&mut c, "evicted_keys") > 40_000);
}

#[test]
fn evictions_raise_evicted_events() {
    let f = ferrodis(&[
        "--maxmemory",
        "8mb",
        "--maxmemory-policy",
        "allkeys-random",
        "--notify-keyspace-events",
        "Ee",
    ]);
    let mut sub = f.client();
    sub.cmds(&["SUBSCRIBE", "__keyevent@0__:evicted"]);
    let mut c = f.client();
    assert_eq!(fill(&mut c, "k", 15_000, 1000, None), 0);
    let msg = sub.poll_reply(2000).expect("an evicted event");
    let (_, parts) = split_elements(&msg);
    assert_eq!(parts[0], b"$7\r\nmessage\r\n");
    assert_eq!(parts[1], b"$22\r\n__keyevent@0__:evicted\r\n");
    assert!(common::show(&parts[2]).contains("k:"));
}

/// Hot keys alive (`hot:0`..`hot:{n-1}`), read with GET (which refreshes them).
fn read_alive(c: &mut RawClient, n: usize) -> usize {
    (0..n)
        .filter(|i| c.cmds(&["GET", &format!("hot:{i}")]) != b"$-1\r\n")
        .count()
}

/// A key sampled into the eviction pool as the idlest, then read, is not evicted on
/// its stale idle time: the candidate is checked again when its turn comes.
#[test]
fn keys_read_after_sampling_are_not_evicted() {
    let f = ferrodis(&[
        "--maxmemory-policy",
        "allkeys-lru",
        "--maxmemory-samples",
        "16",
    ]);
    let mut c = f.client();
    assert_eq!(fill(&mut c, "hot", 800, 1000, None), 0);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(fill(&mut c, "cold", 200, 1000, None), 0);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    // Just below the current use: the next command evicts, after sampling 16 keys
    // into the pool, mostly hot ones (the idlest now).
    let used = info(&mut c, "used_memory");
    let max = (used - 200).to_string();
    assert_eq!(c.cmds(&["CONFIG", "SET", "maxmemory", &max]), b"+OK\r\n");
    assert_eq!(c.cmds(&["PING"]), b"+PONG\r\n");
    assert!(info(&mut c, "evicted_keys") >= 1);
    // Every hot key is read: the cold keys are now the idlest, and the hot ones left
    // in the pool are stale.
    let before = read_alive(&mut c, 800);
    let evicted_before = info(&mut c, "evicted_keys");
    // New writes until ten more keys are evicted (the first eviction may have freed
    // more than it had to): they must be cold ones.
    let mut batch = 0;
    while info(&mut c, "evicted_keys") - evicted_before < 10 && batch < 300 {
        assert_eq!(fill(&mut c, &format!("new{batch}"), 10, 1000, None), 0);
        batch += 1;
    }
    let evicted = info(&mut c, "evicted_keys") - evicted_before;
    assert!(evicted >= 10, "only {evicted} evictions");
    let after = (0..800)
        .filter(|i| c.cmds(&["EXISTS", &format!("hot:{i}")]) == b":1\r\n")
        .count();
    assert_eq!(
        after, before,
        "{evicted} evictions took hot keys read since sampling"
    );
}

/// Fills 1,000 keys of 1 KB, sets maxmemory 20,000 bytes below `used_memory` and writes
/// one more key; returns INFO evicted_keys.
fn evictions_just_below_the_limit(server: &common::ServerProc) -> u64 {
    let mut c = server.client();
    c.cmds(&["CONFIG", "SET", "slowlog-log-slower-than", "-1"]);
    let mut loader = server.client();
    assert_eq!(fill(&mut loader, "k", 1000, 1000, None), 0);
    drop(loader);
    // The loader's buffers are freed when the server sees it close.
    c.wait_alone();
    let used = info(&mut c, "used_memory");
    c.cmds(&["CONFIG", "SET", "maxmemory-policy", "allkeys-random"]);
    let limit = (used - 20_000).to_string();
    assert_eq!(c.cmds(&["CONFIG", "SET", "maxmemory", &limit]), b"+OK\r\n");
    let value = "y".repeat(1000);
    assert_eq!(c.cmds(&["SET", "newkey", &value]), b"+OK\r\n");
    let after = info(&mut c, "used_memory");
    eprintln!("used_memory {used}, limit {limit}, after the write {after}");
    info(&mut c, "evicted_keys")
}

/// `used_memory` counts what the server holds, not the objects sitting freed in the
/// allocator's thread caches (jemalloc counts those as allocated): otherwise the first
/// eviction after a limit just below current use frees the caches' worth of keys too.
/// Redis's count (its client query buffer is in `used_memory`) is the yardstick.
#[test]
fn a_limit_just_below_use_evicts_about_what_redis_does() {
    let ferro = evictions_just_below_the_limit(&ferrodis(&[]));
    let redis = evictions_just_below_the_limit(&common::redis(&[]));
    eprintln!("evicted: ferrodis {ferro}, redis {redis}");
    assert!(ferro >= 1, "nothing evicted");
    assert!(
        ferro <= redis + 5,
        "ferrodis evicted {ferro} keys of 1 KB for a 20 KB excess, redis {redis}"
    );
}
