//! Set properties that the differential suite can only compare by type (SPOP and
//! SRANDMEMBER are random), SSCAN's full-iteration guarantee on a large set, and the
//! intset → hashtable conversions at the configured threshold.

mod common;

use std::collections::HashSet;

use common::{show, RawClient};

fn int(reply: &[u8]) -> i64 {
    let s = String::from_utf8_lossy(reply);
    assert!(
        s.starts_with(':'),
        "expected an integer, got {}",
        show(reply)
    );
    s[1..].trim_end().parse().expect("integer reply")
}

/// The payload of a bulk string element (`$n\r\n...\r\n`).
fn bulk(b: &[u8]) -> Vec<u8> {
    assert!(
        b.starts_with(b"$"),
        "expected a bulk string, got {}",
        show(b)
    );
    let nl = b.iter().position(|&c| c == b'\n').expect("bulk header");
    b[nl + 1..b.len() - 2].to_vec()
}

/// The bulk strings of an array (or RESP3 set) reply.
fn members(reply: &[u8]) -> Vec<Vec<u8>> {
    let (_, elems) = common::split_elements(reply);
    elems.iter().map(|e| bulk(e)).collect()
}

fn smembers(c: &mut RawClient, key: &str) -> HashSet<Vec<u8>> {
    members(&c.cmds(&["SMEMBERS", key])).into_iter().collect()
}

/// Fills `key` with `n` members (`m0`.. or `0`.. when `ints`).
fn fill(c: &mut RawClient, key: &str, n: usize, ints: bool) {
    let names: Vec<String> = (0..n)
        .map(|i| if ints { i.to_string() } else { format!("m{i}") })
        .collect();
    let mut args: Vec<&str> = vec!["SADD", key];
    args.extend(names.iter().map(|s| s.as_str()));
    assert_eq!(int(&c.cmds(&args)), n as i64);
}

#[test]
fn srandmember_properties() {
    let srv = common::ferrodis(&[]);
    let mut c = srv.client();
    // Small intset, small packed hashtable and a large table.
    for (key, n, ints) in [
        ("ints", 20, true),
        ("small", 20, false),
        ("big", 600, false),
    ] {
        fill(&mut c, key, n, ints);
        let all = smembers(&mut c, key);
        assert_eq!(all.len(), n);
        for count in [1usize, 2, 5, n / 2, n - 1, n, n + 7] {
            // Positive count: distinct members of the set, min(count, n) of them.
            let got = members(&c.cmds(&["SRANDMEMBER", key, &count.to_string()]));
            assert_eq!(got.len(), count.min(n), "{key} SRANDMEMBER {count}");
            let distinct: HashSet<_> = got.iter().cloned().collect();
            assert_eq!(distinct.len(), got.len(), "{key}: repeated members");
            assert!(distinct.is_subset(&all));
            // Negative count: exactly |count| members, repetitions allowed.
            let neg = count * 3;
            let got = members(&c.cmds(&["SRANDMEMBER", key, &format!("-{neg}")]));
            assert_eq!(got.len(), neg, "{key} SRANDMEMBER -{neg}");
            assert!(got.iter().all(|m| all.contains(m)));
        }
        // Without count: one member of the set. Read-only: the set is unchanged.
        for _ in 0..20 {
            let m = bulk(&c.cmds(&["SRANDMEMBER", key]));
            assert!(all.contains(&m));
        }
        assert_eq!(smembers(&mut c, key), all);
    }
    // Every member eventually shows up (not stuck on part of the set).
    let mut seen = HashSet::new();
    for _ in 0..500 {
        seen.insert(bulk(&c.cmds(&["SRANDMEMBER", "small"])));
    }
    assert_eq!(seen.len(), 20);
}

#[test]
fn spop_removes_what_it_returns() {
    let srv = common::ferrodis(&[]);
    let mut c = srv.client();
    for (key, n, ints) in [
        ("ints", 50, true),
        ("small", 50, false),
        ("big", 700, false),
    ] {
        fill(&mut c, key, n, ints);
        let mut left = smembers(&mut c, key);
        let enc_before = c.cmds(&["OBJECT", "ENCODING", key]);
        // Counts exercising both strategies (few popped / most popped) and single pops.
        let mut steps: Vec<usize> = vec![1, 3, n / 10];
        steps.push(left.len() - n / 10 - 4 - 5);
        for count in steps {
            let got = members(&c.cmds(&["SPOP", key, &count.to_string()]));
            assert_eq!(got.len(), count, "{key} SPOP {count}");
            let distinct: HashSet<_> = got.iter().cloned().collect();
            assert_eq!(distinct.len(), count);
            for m in &got {
                assert!(left.remove(m), "{key}: popped a non-member");
            }
            assert_eq!(smembers(&mut c, key), left);
            assert_eq!(int(&c.cmds(&["SCARD", key])), left.len() as i64);
            assert_eq!(c.cmds(&["OBJECT", "ENCODING", key]), enc_before);
        }
        for _ in 0..2 {
            let m = bulk(&c.cmds(&["SPOP", key]));
            assert!(left.remove(&m));
        }
        assert_eq!(smembers(&mut c, key), left);
        // Popping more than remains returns the rest and deletes the key.
        let got: HashSet<_> = members(&c.cmds(&["SPOP", key, "1000000"]))
            .into_iter()
            .collect();
        assert_eq!(got, left);
        assert_eq!(int(&c.cmds(&["EXISTS", key])), 0);
    }
}

#[test]
fn sscan_returns_every_member_of_a_large_set() {
    let srv = common::ferrodis(&[]);
    let mut c = srv.client();
    fill(&mut c, "s", 2000, false);
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let reply = c.cmds(&["SSCAN", "s", &cursor, "COUNT", "50"]);
        let (_, top) = common::split_elements(&reply);
        assert_eq!(top.len(), 2);
        cursor = String::from_utf8(bulk(&top[0])).expect("cursor");
        seen.extend(members(&top[1]));
        calls += 1;
        if cursor == "0" {
            break;
        }
        assert!(calls < 10_000, "SSCAN does not terminate");
    }
    assert!(calls > 1, "a large set is scanned in several steps");
    assert_eq!(seen.len(), 2000);
}

#[test]
fn intset_converts_at_the_threshold() {
    let srv = common::ferrodis(&[]);
    let mut c = srv.client();
    fill(&mut c, "s", 512, true);
    assert_eq!(c.cmds(&["OBJECT", "ENCODING", "s"]), b"$6\r\nintset\r\n");
    assert_eq!(int(&c.cmds(&["SADD", "s", "512"])), 1);
    assert_eq!(c.cmds(&["OBJECT", "ENCODING", "s"]), b"$9\r\nhashtable\r\n");
    // One-way: shrinking does not bring the intset back.
    for i in 0..500 {
        c.cmds(&["SREM", "s", &i.to_string()]);
    }
    assert_eq!(int(&c.cmds(&["SCARD", "s"])), 13);
    assert_eq!(c.cmds(&["OBJECT", "ENCODING", "s"]), b"$9\r\nhashtable\r\n");
    // STORE results start as an intset again when they can.
    assert_eq!(int(&c.cmds(&["SUNIONSTORE", "d", "s"])), 13);
    assert_eq!(c.cmds(&["OBJECT", "ENCODING", "d"]), b"$6\r\nintset\r\n");
}

/// INFO memory's `used_memory`.
fn used_memory(c: &mut RawClient) -> i64 {
    let info = c.cmds(&["INFO", "memory"]);
    let text = String::from_utf8_lossy(&info);
    text.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory in INFO memory")
}

/// Memory taken by `keys` sets of 10 short string members (pipelined SADDs).
fn sets_memory(c: &mut RawClient, keys: usize) -> i64 {
    sets_memory_of(c, keys, |j| format!("member{j}"))
}

/// Memory taken by `keys` sets of the 10 members `member(0..10)`.
fn sets_memory_of(c: &mut RawClient, keys: usize, member: impl Fn(usize) -> String) -> i64 {
    let before = used_memory(c);
    let mut batch = Vec::new();
    for i in 0..keys {
        let key = format!("set:{i}");
        let mut args: Vec<String> = vec!["SADD".into(), key];
        args.extend((0..10).map(&member));
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        batch.extend(common::encode(&a));
        if (i + 1) % 1000 == 0 || i + 1 == keys {
            c.send_raw(&batch);
            batch.clear();
            for _ in 0..(i % 1000 + 1) {
                assert_eq!(c.read_reply(), b":10\r\n");
            }
        }
    }
    assert_eq!(int(&c.cmds(&["DBSIZE"])), keys as i64);
    used_memory(c) - before
}

/// The memory target: small sets take no more memory than in Redis 7.0
/// (whose small string sets are hash tables; Ferrodis packs them).
#[test]
fn small_string_sets_use_less_memory_than_redis() {
    let keys = 20_000;
    let ferro = common::ferrodis(&[]);
    let redis = common::redis(&[]);
    let f = sets_memory(&mut ferro.client(), keys);
    let r = sets_memory(&mut redis.client(), keys);
    eprintln!(
        "{keys} sets of 10 members: ferrodis {f} bytes ({} per key), redis {r} bytes ({} per key)",
        f / keys as i64,
        r / keys as i64
    );
    assert!(f > 0 && r > 0);
    assert!(f <= r, "ferrodis {f} bytes > redis {r} bytes");
}

/// The memory target for sets of small integers (intset in both servers):
/// 100,000 keys of 10 members take no more `used_memory` than in Redis 7.0. Both
/// servers get the same number of keys, so their keyspace tables are at the same
/// growth step.
#[test]
fn small_intsets_use_no_more_memory_than_redis() {
    let keys = 100_000;
    let ferro = common::ferrodis(&[]);
    let redis = common::redis(&[]);
    let (mut fc, mut rc) = (ferro.client(), redis.client());
    let f = sets_memory_of(&mut fc, keys, |j| j.to_string());
    let r = sets_memory_of(&mut rc, keys, |j| j.to_string());
    eprintln!(
        "{keys} intsets of 10 members: ferrodis {f} bytes ({} per key), redis {r} bytes ({} per key)",
        f / keys as i64,
        r / keys as i64
    );
    for c in [&mut fc, &mut rc] {
        assert_eq!(
            c.cmds(&["OBJECT", "ENCODING", "set:7"]),
            b"$6\r\nintset\r\n"
        );
    }
    assert!(f > 0 && r > 0);
    assert!(f <= r, "ferrodis {f} bytes > redis {r} bytes");
}
