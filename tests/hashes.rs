//! Integration tests for hash field TTLs (Redis 7.4's HEXPIRE family, which the
//! reference redis-server 7.0 lacks: behaviour per redis.io), active reclamation of
//! expired fields, a session-store pattern, and the memory footprint of small hashes
//! against the reference server.

mod common;

use std::time::{Duration, Instant};

use common::RawClient;

#[derive(Debug, Clone, PartialEq)]
enum V {
    Int(i64),
    Bulk(Option<String>),
    Arr(Vec<V>),
    Err(String),
    Status(String),
}

fn parse(b: &[u8], pos: &mut usize) -> V {
    let end = b[*pos..]
        .windows(2)
        .position(|w| w == b"\r\n")
        .expect("complete line")
        + *pos;
    let line = String::from_utf8_lossy(&b[*pos + 1..end]).into_owned();
    let kind = b[*pos];
    *pos = end + 2;
    match kind {
        b':' => V::Int(line.parse().expect("integer")),
        b'+' => V::Status(line),
        b'-' => V::Err(line),
        b'_' => V::Bulk(None),
        b'$' => {
            let n: i64 = line.parse().expect("length");
            if n < 0 {
                return V::Bulk(None);
            }
            let s = String::from_utf8_lossy(&b[*pos..*pos + n as usize]).into_owned();
            *pos += n as usize + 2;
            V::Bulk(Some(s))
        }
        b'*' | b'%' => {
            let n: i64 = line.parse().expect("length");
            if n < 0 {
                return V::Bulk(None);
            }
            let n = if kind == b'%' { 2 * n } else { n };
            V::Arr((0..n).map(|_| parse(b, pos)).collect())
        }
        other => panic!("unexpected reply type {}", other as char),
    }
}

fn q(c: &mut RawClient, args: &[&str]) -> V {
    let raw = c.cmds(args);
    let mut pos = 0;
    parse(&raw, &mut pos)
}

fn int(c: &mut RawClient, args: &[&str]) -> i64 {
    match q(c, args) {
        V::Int(n) => n,
        other => panic!("{args:?} replied {other:?}"),
    }
}

fn ints(c: &mut RawClient, args: &[&str]) -> Vec<i64> {
    match q(c, args) {
        V::Arr(v) => v
            .into_iter()
            .map(|x| match x {
                V::Int(n) => n,
                other => panic!("{args:?}: element {other:?}"),
            })
            .collect(),
        other => panic!("{args:?} replied {other:?}"),
    }
}

fn err(c: &mut RawClient, args: &[&str]) -> String {
    match q(c, args) {
        V::Err(e) => e,
        other => panic!("{args:?} replied {other:?}, expected an error"),
    }
}

fn bulk(c: &mut RawClient, args: &[&str]) -> Option<String> {
    match q(c, args) {
        V::Bulk(b) => b,
        other => panic!("{args:?} replied {other:?}"),
    }
}

fn strings(c: &mut RawClient, args: &[&str]) -> Vec<String> {
    match q(c, args) {
        V::Arr(v) => v
            .into_iter()
            .map(|x| match x {
                V::Bulk(Some(s)) => s,
                other => panic!("{args:?}: element {other:?}"),
            })
            .collect(),
        other => panic!("{args:?} replied {other:?}"),
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn used_memory(c: &mut RawClient) -> i64 {
    let info = bulk(c, &["INFO", "memory"]).unwrap_or_default();
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory in INFO")
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn hexpire_family_replies_and_errors() {
    let srv = common::ferrodis(&[]);
    let mut c = srv.client();
    // Missing key: one -2 per field, after the arguments were checked.
    assert_eq!(
        ints(
            &mut c,
            &["HEXPIRE", "nokey", "100", "FIELDS", "2", "a", "b"]
        ),
        vec![-2, -2]
    );
    assert_eq!(
        ints(&mut c, &["HTTL", "nokey", "FIELDS", "1", "a"]),
        vec![-2]
    );
    assert_eq!(
        ints(&mut c, &["HPERSIST", "nokey", "FIELDS", "1", "a"]),
        vec![-2]
    );
    int(&mut c, &["HSET", "h", "f1", "v1", "f2", "v2", "f3", "v3"]);
    assert_eq!(
        bulk(&mut c, &["OBJECT", "ENCODING", "h"]).as_deref(),
        Some("listpack")
    );
    assert_eq!(
        ints(
            &mut c,
            &["HEXPIRE", "h", "100", "FIELDS", "3", "f1", "nosuch", "f2"]
        ),
        vec![1, -2, 1]
    );
    assert_eq!(
        bulk(&mut c, &["OBJECT", "ENCODING", "h"]).as_deref(),
        Some("listpackex")
    );
    let ttl = ints(&mut c, &["HTTL", "h", "FIELDS", "3", "f1", "f3", "nosuch"]);
    assert!((99..=100).contains(&ttl[0]), "{ttl:?}");
    assert_eq!(&ttl[1..], &[-1, -2]);
    let pttl = ints(&mut c, &["HPTTL", "h", "FIELDS", "1", "f1"])[0];
    assert!((99_000..=100_000).contains(&pttl), "{pttl}");
    let at = ints(&mut c, &["HPEXPIRETIME", "h", "FIELDS", "1", "f1"])[0];
    assert!((at - (now_ms() + 100_000)).abs() < 2_000, "{at}");
    let at_s = ints(&mut c, &["HEXPIRETIME", "h", "FIELDS", "1", "f1"])[0];
    assert_eq!(at_s, (at + 999) / 1000);
    // Conditions: NX only without TTL, XX only with, GT/LT compare (no TTL = infinite).
    assert_eq!(
        ints(
            &mut c,
            &["HEXPIRE", "h", "200", "NX", "FIELDS", "2", "f1", "f3"]
        ),
        vec![0, 1]
    );
    assert_eq!(
        ints(&mut c, &["HPERSIST", "h", "FIELDS", "1", "f3"]),
        vec![1]
    );
    assert_eq!(
        ints(
            &mut c,
            &["HEXPIRE", "h", "200", "XX", "FIELDS", "2", "f1", "f3"]
        ),
        vec![1, 0]
    );
    assert_eq!(
        ints(
            &mut c,
            &["HEXPIRE", "h", "100", "GT", "FIELDS", "2", "f1", "f3"]
        ),
        vec![0, 0]
    );
    assert_eq!(
        ints(&mut c, &["HEXPIRE", "h", "300", "gt", "FIELDS", "1", "f1"]),
        vec![1]
    );
    assert_eq!(
        ints(
            &mut c,
            &["HEXPIRE", "h", "50", "LT", "fields", "2", "f1", "f3"]
        ),
        vec![1, 1]
    );
    let t = ints(&mut c, &["HTTL", "h", "FIELDS", "2", "f1", "f3"]);
    assert!(t.iter().all(|&x| (49..=50).contains(&x)), "{t:?}");
    // HPEXPIREAT in the absolute future; HEXPIREAT in the past deletes (code 2).
    let future = (now_ms() + 500_000).to_string();
    assert_eq!(
        ints(&mut c, &["HPEXPIREAT", "h", &future, "FIELDS", "1", "f2"]),
        vec![1]
    );
    assert_eq!(
        ints(&mut c, &["HPEXPIRETIME", "h", "FIELDS", "1", "f2"]),
        vec![future.parse::<i64>().unwrap_or(0)]
    );
    assert_eq!(
        ints(&mut c, &["HEXPIREAT", "h", "1", "FIELDS", "1", "f2"]),
        vec![2]
    );
    assert_eq!(int(&mut c, &["HEXISTS", "h", "f2"]), 0);
    // A zero TTL deletes at once; the last field going deletes the key.
    assert_eq!(
        ints(&mut c, &["HPEXPIRE", "h", "0", "FIELDS", "2", "f1", "f3"]),
        vec![2, 2]
    );
    assert_eq!(int(&mut c, &["EXISTS", "h"]), 0);

    // Errors, with Redis 7.4's texts.
    int(&mut c, &["HSET", "h", "a", "1"]);
    assert_eq!(
        err(&mut c, &["HEXPIRE", "h", "10", "FIELDS", "0", "a"]),
        "ERR Parameter `numFields` should be greater than 0"
    );
    assert_eq!(
        err(&mut c, &["HEXPIRE", "h", "10", "FIELDS", "abc", "a"]),
        "ERR Parameter `numFields` should be greater than 0"
    );
    assert_eq!(
        err(&mut c, &["HEXPIRE", "h", "10", "FIELDS", "2", "a"]),
        "ERR The `numfields` parameter must match the number of arguments"
    );
    assert_eq!(
        err(&mut c, &["HEXPIRE", "h", "10", "FIELDS", "1", "a", "b"]),
        "ERR The `numfields` parameter must match the number of arguments"
    );
    assert_eq!(
        err(
            &mut c,
            &["HEXPIRE", "h", "10", "NX", "XX", "FIELDS", "1", "a"]
        ),
        "ERR Mandatory argument FIELDS is missing or not at the right position"
    );
    assert_eq!(
        err(&mut c, &["HEXPIRE", "h", "10", "FIELD", "1", "a"]),
        "ERR Mandatory argument FIELDS is missing or not at the right position"
    );
    assert_eq!(
        err(&mut c, &["HEXPIRE", "h", "-1", "FIELDS", "1", "a"]),
        "ERR invalid expire time, must be >= 0"
    );
    assert_eq!(
        err(&mut c, &["HEXPIRE", "h", "abc", "FIELDS", "1", "a"]),
        "ERR value is not an integer or out of range"
    );
    let too_far = ((1i64 << 48) / 1000).to_string();
    assert_eq!(
        err(&mut c, &["HEXPIRE", "h", &too_far, "FIELDS", "1", "a"]),
        "ERR invalid expire time in 'hexpire' command"
    );
    let too_far_ms = (1i64 << 46).to_string();
    assert_eq!(
        err(
            &mut c,
            &["HPEXPIREAT", "h", &too_far_ms, "FIELDS", "1", "a"]
        ),
        "ERR invalid expire time in 'hpexpireat' command"
    );
    assert_eq!(
        err(&mut c, &["HTTL", "h", "FIELDS", "0", "a"]),
        "ERR Number of fields must be a positive integer"
    );
    assert_eq!(
        err(&mut c, &["HTTL", "h", "FIELDS", "2", "a"]),
        "ERR The `numfields` parameter must match the number of arguments"
    );
    assert_eq!(
        err(&mut c, &["HPERSIST", "h", "NOTFIELDS", "1", "a"]),
        "ERR Mandatory argument FIELDS is missing or not at the right position"
    );
    assert_eq!(
        err(&mut c, &["HTTL", "h", "FIELDS", "1"]),
        "ERR wrong number of arguments for 'httl' command"
    );
    assert_eq!(
        err(&mut c, &["HEXPIRE", "h", "10", "FIELDS", "1"]),
        "ERR wrong number of arguments for 'hexpire' command"
    );
    q(&mut c, &["SET", "str", "x"]);
    for cmd in [
        vec!["HEXPIRE", "str", "10", "FIELDS", "1", "a"],
        vec!["HTTL", "str", "FIELDS", "1", "a"],
        vec!["HPERSIST", "str", "FIELDS", "1", "a"],
        vec!["HPEXPIRETIME", "str", "FIELDS", "1", "a"],
    ] {
        assert!(err(&mut c, &cmd).starts_with("WRONGTYPE"), "{cmd:?}");
    }
    // Overwriting a field drops its TTL; HINCRBY/HINCRBYFLOAT keep it.
    int(&mut c, &["HSET", "t", "a", "1", "b", "2", "c", "3"]);
    ints(
        &mut c,
        &["HEXPIRE", "t", "100", "FIELDS", "3", "a", "b", "c"],
    );
    int(&mut c, &["HSET", "t", "a", "9"]);
    int(&mut c, &["HINCRBY", "t", "b", "5"]);
    bulk(&mut c, &["HINCRBYFLOAT", "t", "c", "0.5"]);
    let t = ints(&mut c, &["HTTL", "t", "FIELDS", "3", "a", "b", "c"]);
    assert_eq!(t[0], -1);
    assert!(t[1] > 0 && t[2] > 0, "{t:?}");
    // A big hash keeps `hashtable` and its field TTLs.
    q(&mut c, &["CONFIG", "SET", "hash-max-listpack-entries", "2"]);
    int(&mut c, &["HSET", "big", "a", "1", "b", "2", "c", "3"]);
    assert_eq!(
        bulk(&mut c, &["OBJECT", "ENCODING", "big"]).as_deref(),
        Some("hashtable")
    );
    assert_eq!(
        ints(&mut c, &["HEXPIRE", "big", "100", "FIELDS", "1", "b"]),
        vec![1]
    );
    assert_eq!(
        bulk(&mut c, &["OBJECT", "ENCODING", "big"]).as_deref(),
        Some("hashtable")
    );
}

#[test]
fn expired_fields_are_invisible_at_once() {
    let srv = common::ferrodis(&[]);
    let mut c = srv.client();
    // Only lazy expiry: nothing but the commands themselves may remove fields.
    q(&mut c, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    int(
        &mut c,
        &["HSET", "h", "keep", "1", "f1", "a", "f2", "b", "f3", "c"],
    );
    ints(
        &mut c,
        &["HPEXPIRE", "h", "300", "FIELDS", "3", "f1", "f2", "f3"],
    );
    assert_eq!(int(&mut c, &["HLEN", "h"]), 4);
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(bulk(&mut c, &["HGET", "h", "f1"]), None);
    assert_eq!(int(&mut c, &["HEXISTS", "h", "f2"]), 0);
    assert_eq!(int(&mut c, &["HSTRLEN", "h", "f3"]), 0);
    assert_eq!(int(&mut c, &["HLEN", "h"]), 1);
    assert_eq!(strings(&mut c, &["HGETALL", "h"]), vec!["keep", "1"]);
    assert_eq!(strings(&mut c, &["HKEYS", "h"]), vec!["keep"]);
    assert_eq!(
        ints(&mut c, &["HTTL", "h", "FIELDS", "2", "f1", "keep"]),
        vec![-2, -1]
    );
    // HINCRBY on an expired field starts from zero, without the old TTL.
    int(&mut c, &["HSET", "n", "x", "10", "y", "1"]);
    ints(&mut c, &["HPEXPIRE", "n", "20", "FIELDS", "1", "x"]);
    std::thread::sleep(Duration::from_millis(40));
    assert_eq!(int(&mut c, &["HINCRBY", "n", "x", "1"]), 1);
    assert_eq!(ints(&mut c, &["HTTL", "n", "FIELDS", "1", "x"]), vec![-1]);
    // A hash whose every field expired is gone for every hash command.
    int(&mut c, &["HSET", "gone", "a", "1", "b", "2"]);
    ints(&mut c, &["HPEXPIRE", "gone", "20", "FIELDS", "2", "a", "b"]);
    std::thread::sleep(Duration::from_millis(40));
    assert_eq!(q(&mut c, &["HGETALL", "gone"]), V::Arr(vec![]));
    assert_eq!(int(&mut c, &["EXISTS", "gone"]), 0);
    int(&mut c, &["HSET", "gone2", "a", "1"]);
    ints(&mut c, &["HPEXPIRE", "gone2", "20", "FIELDS", "1", "a"]);
    std::thread::sleep(Duration::from_millis(40));
    assert_eq!(q(&mut c, &["HRANDFIELD", "gone2"]), V::Bulk(None));
    assert_eq!(int(&mut c, &["EXISTS", "gone2"]), 0);
    // HSCAN and HRANDFIELD skip expired fields.
    int(&mut c, &["HSET", "s", "a", "1", "b", "2", "c", "3"]);
    ints(&mut c, &["HPEXPIRE", "s", "20", "FIELDS", "2", "a", "c"]);
    std::thread::sleep(Duration::from_millis(40));
    match q(&mut c, &["HSCAN", "s", "0"]) {
        V::Arr(v) => assert_eq!(
            v[1],
            V::Arr(vec![V::Bulk(Some("b".into())), V::Bulk(Some("2".into()))])
        ),
        other => panic!("HSCAN replied {other:?}"),
    }
    assert_eq!(strings(&mut c, &["HRANDFIELD", "s", "5"]), vec!["b"]);
}

#[test]
fn active_expiry_reclaims_untouched_fields() {
    let srv = common::ferrodis(&[]);
    let mut c = srv.client();
    // 10,000 fields with a TTL that nobody reads again: the hash disappears by itself.
    // One absolute expiry for everything, far enough for the setup on a loaded machine.
    let value = "v".repeat(100);
    let at = (now_ms() + 4000).to_string();
    for chunk in 0..10 {
        let mut args: Vec<String> = vec!["HSET".into(), "doomed".into()];
        let mut fields: Vec<String> = vec![
            "HPEXPIREAT".into(),
            "doomed".into(),
            at.clone(),
            "FIELDS".into(),
            "1000".into(),
        ];
        for i in 0..1000 {
            let f = format!("field:{}", chunk * 1000 + i);
            args.push(f.clone());
            args.push(value.clone());
            fields.push(f);
        }
        let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        assert_eq!(int(&mut c, &a), 1000);
        let f: Vec<&str> = fields.iter().map(|s| s.as_str()).collect();
        assert!(ints(&mut c, &f).iter().all(|&x| x == 1));
    }
    // A second hash keeps one persistent field among 10,000 expiring ones.
    for chunk in 0..10 {
        let mut args: Vec<String> = vec!["HSET".into(), "mixed".into()];
        let mut fields: Vec<String> = vec![
            "HPEXPIREAT".into(),
            "mixed".into(),
            at.clone(),
            "FIELDS".into(),
            "1000".into(),
        ];
        for i in 0..1000 {
            let f = format!("field:{}", chunk * 1000 + i);
            args.push(f.clone());
            args.push(value.clone());
            fields.push(f);
        }
        let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        int(&mut c, &a);
        let f: Vec<&str> = fields.iter().map(|s| s.as_str()).collect();
        ints(&mut c, &f);
    }
    int(&mut c, &["HSET", "mixed", "persistent", "yes"]);
    // Renamed hashes stay under active expiry.
    int(&mut c, &["HSET", "before", "a", "1"]);
    ints(&mut c, &["HPEXPIREAT", "before", &at, "FIELDS", "1", "a"]);
    q(&mut c, &["RENAME", "before", "after"]);
    assert_eq!(int(&mut c, &["DBSIZE"]), 3);
    let mem_full = used_memory(&mut c);
    // No hash command touches the keys from here until they are reclaimed.
    wait_until(
        "expired hashes to be deleted",
        Duration::from_secs(10),
        || int(&mut c, &["DBSIZE"]) == 1,
    );
    assert_eq!(int(&mut c, &["EXISTS", "doomed"]), 0);
    assert_eq!(int(&mut c, &["EXISTS", "after"]), 0);
    let mem_after = used_memory(&mut c);
    // Two hashes of 10,000 fields of ~110 bytes each went: well over 1 MB.
    assert!(
        mem_full - mem_after > 1_000_000,
        "memory not reclaimed: {mem_full} -> {mem_after}"
    );
    assert_eq!(
        strings(&mut c, &["HGETALL", "mixed"]),
        vec!["persistent", "yes"]
    );
}

#[test]
fn session_store_one_hash_per_user_ttl_per_field() {
    let srv = common::ferrodis(&[]);
    let mut c = srv.client();
    // Each user has sessions with different lifetimes: 1 short, 1 long, 1 permanent.
    for u in 0..50 {
        let key = format!("sessions:user:{u}");
        int(
            &mut c,
            &[
                "HSET", &key, "short", "tok-s", "long", "tok-l", "remember", "tok-r",
            ],
        );
        assert_eq!(
            ints(&mut c, &["HPEXPIRE", &key, "1000", "FIELDS", "1", "short"]),
            vec![1]
        );
        assert_eq!(
            ints(&mut c, &["HEXPIRE", &key, "3600", "FIELDS", "1", "long"]),
            vec![1]
        );
    }
    // Refresh the short session of even users only (a sliding expiration).
    for u in (0..50).step_by(2) {
        let key = format!("sessions:user:{u}");
        assert_eq!(
            ints(
                &mut c,
                &["HEXPIRE", &key, "60", "GT", "FIELDS", "1", "short"]
            ),
            vec![1]
        );
    }
    std::thread::sleep(Duration::from_millis(1300));
    for u in 0..50 {
        let key = format!("sessions:user:{u}");
        let mut fields = strings(&mut c, &["HKEYS", &key]);
        fields.sort();
        if u % 2 == 0 {
            assert_eq!(fields, vec!["long", "remember", "short"], "user {u}");
        } else {
            assert_eq!(fields, vec!["long", "remember"], "user {u}");
        }
        assert_eq!(bulk(&mut c, &["HGET", &key, "short"]).is_some(), u % 2 == 0);
    }
    // Logging out everywhere but "remember": the hash survives with one field.
    let key = "sessions:user:1";
    assert_eq!(
        ints(
            &mut c,
            &["HPEXPIRE", key, "0", "FIELDS", "2", "long", "short"]
        ),
        vec![2, -2]
    );
    assert_eq!(
        strings(&mut c, &["HGETALL", key]),
        vec!["remember", "tok-r"]
    );
    // Making a session permanent.
    assert_eq!(
        ints(
            &mut c,
            &[
                "HPERSIST",
                "sessions:user:2",
                "FIELDS",
                "2",
                "long",
                "remember"
            ]
        ),
        vec![1, -1]
    );
    assert_eq!(
        ints(&mut c, &["HTTL", "sessions:user:2", "FIELDS", "1", "long"]),
        vec![-1]
    );
}

/// Loads 100,000 hashes of 10 small fields and returns the growth of used_memory.
fn load_small_hashes(c: &mut RawClient) -> i64 {
    let before = used_memory(c);
    let mut batch = Vec::new();
    let mut pending = 0;
    for i in 0..100_000 {
        let key = format!("user:{i}");
        let mut args: Vec<String> = vec!["HSET".into(), key];
        for f in 0..10 {
            args.push(format!("field{f}"));
            args.push(format!("value{}", i % 1000 + f));
        }
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        batch.extend(common::encode(&a));
        pending += 1;
        if pending == 1000 {
            c.send_raw(&batch);
            for _ in 0..pending {
                c.read_reply();
            }
            batch.clear();
            pending = 0;
        }
    }
    assert_eq!(int(c, &["DBSIZE"]), 100_000);
    assert_eq!(
        bulk(c, &["OBJECT", "ENCODING", "user:7"]).as_deref(),
        Some("listpack")
    );
    used_memory(c) - before
}

#[test]
fn small_hashes_take_no_more_memory_than_redis() {
    let ferro = common::ferrodis(&[]);
    let redis = common::redis(&[]);
    let ours = load_small_hashes(&mut ferro.client());
    let theirs = load_small_hashes(&mut redis.client());
    eprintln!("100,000 hashes of 10 fields: ferrodis +{ours} bytes, redis-server +{theirs} bytes");
    assert!(
        ours <= theirs,
        "ferrodis used {ours} bytes, redis-server {theirs}"
    );
}

#[test]
fn hscan_novalues_and_table_cursor() {
    let srv = common::ferrodis(&[]);
    let mut c = srv.client();
    int(&mut c, &["HSET", "h", "a", "1", "b", "2"]);
    match q(&mut c, &["HSCAN", "h", "0", "NOVALUES"]) {
        V::Arr(v) => {
            assert_eq!(v[0], V::Bulk(Some("0".into())));
            assert_eq!(
                v[1],
                V::Arr(vec![V::Bulk(Some("a".into())), V::Bulk(Some("b".into()))])
            );
        }
        other => panic!("HSCAN replied {other:?}"),
    }
    // A hashtable is walked with a cursor; a full iteration returns every field once
    // even with small COUNTs.
    q(&mut c, &["CONFIG", "SET", "hash-max-listpack-entries", "8"]);
    let mut args = vec!["HSET".to_string(), "big".to_string()];
    for i in 0..500 {
        args.push(format!("f{i}"));
        args.push(format!("{i}"));
    }
    let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    assert_eq!(int(&mut c, &a), 500);
    assert_eq!(
        bulk(&mut c, &["OBJECT", "ENCODING", "big"]).as_deref(),
        Some("hashtable")
    );
    let mut seen = std::collections::BTreeSet::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        calls += 1;
        match q(&mut c, &["HSCAN", "big", &cursor, "COUNT", "7", "NOVALUES"]) {
            V::Arr(v) => {
                let V::Bulk(Some(next)) = &v[0] else {
                    panic!("cursor {v:?}")
                };
                let V::Arr(items) = &v[1] else {
                    panic!("items {v:?}")
                };
                for it in items {
                    if let V::Bulk(Some(f)) = it {
                        seen.insert(f.clone());
                    }
                }
                cursor = next.clone();
            }
            other => panic!("HSCAN replied {other:?}"),
        }
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 500);
    assert!(
        calls > 10,
        "a hashtable is scanned in steps ({calls} calls)"
    );
}
