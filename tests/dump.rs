//! DUMP / RESTORE interoperability with the reference redis-server (7.0.15): the same
//! dataset (every type and encoding, small and large values) is built on both
//! servers; each key's DUMP is restored on the other server and read back; DUMPs are
//! byte-identical wherever the encodings make Redis's bytes deterministic.

mod common;

use common::{ferrodis, redis, split_elements, RawClient, ServerProc};

/// The payload of a bulk-string reply.
fn bulk(reply: &[u8]) -> Vec<u8> {
    assert_eq!(
        reply.first(),
        Some(&b'$'),
        "not a bulk: {}",
        common::show(reply)
    );
    let end = reply
        .windows(2)
        .position(|w| w == b"\r\n")
        .expect("header line");
    reply[end + 2..reply.len() - 2].to_vec()
}

/// Asserts two byte strings are equal, reporting where they first differ (not the
/// whole, possibly huge, values).
fn same_bytes(a: &[u8], b: &[u8], what: &str) {
    if a != b {
        let at = a
            .iter()
            .zip(b)
            .position(|(x, y)| x != y)
            .unwrap_or(a.len().min(b.len()));
        panic!(
            "{what}: {} vs {} bytes, first difference at offset {at}: {:?} vs {:?}",
            a.len(),
            b.len(),
            &a[at.saturating_sub(8)..(at + 8).min(a.len())],
            &b[at.saturating_sub(8)..(at + 8).min(b.len())]
        );
    }
}

/// Builds the dataset: (key, whether Redis's DUMP bytes are deterministic for it).
fn populate(c: &mut RawClient) -> Vec<(String, bool)> {
    let mut keys: Vec<(String, bool)> = Vec::new();
    let run = |c: &mut RawClient, args: Vec<Vec<u8>>| {
        let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
        let r = c.cmd(&refs);
        assert!(
            !r.starts_with(b"-"),
            "{:?}: {}",
            args.first(),
            common::show(&r)
        );
    };
    let s = |v: &str| v.as_bytes().to_vec();
    let cmd = |parts: &[&str]| {
        parts
            .iter()
            .map(|p| p.as_bytes().to_vec())
            .collect::<Vec<_>>()
    };
    // strings: int encodings (8/16/32-bit and beyond), embstr, raw, binary, LZF
    for (k, v) in [
        ("s:int8", "-12"),
        ("s:int16", "30000"),
        ("s:int32", "-2000000000"),
        ("s:int64", "9223372036854775807"),
        ("s:notint", "0123"),
        ("s:emb", "hello world"),
        ("s:raw", &"0123456789".repeat(10)),
        ("s:empty", ""),
    ] {
        run(c, cmd(&["SET", k, v]));
        keys.push((k.into(), true));
    }
    let binary: Vec<u8> = (0..=255u8).collect();
    run(c, vec![s("SET"), s("s:bin"), binary]);
    keys.push(("s:bin".into(), true));
    let noise: Vec<u8> = (0..5000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 11) as u8)
        .collect();
    run(c, vec![s("SET"), s("s:noise"), noise]);
    keys.push(("s:noise".into(), true));
    let text: Vec<u8> = (0..20000u32)
        .flat_map(|i| format!("line {} of {};", i % 300, i % 7).into_bytes())
        .collect();
    run(c, vec![s("SET"), s("s:lzf"), text]);
    keys.push(("s:lzf".into(), true));
    // lists: one node, several nodes (strings, integers of every listpack width)
    run(
        c,
        cmd(&[
            "RPUSH",
            "l:small",
            "a",
            "1",
            "-1",
            "200",
            "-5000",
            "70000",
            "-9000000",
            "3000000000",
            "x",
        ]),
    );
    keys.push(("l:small".into(), true));
    let mut big = vec![s("RPUSH"), s("l:big")];
    big.extend((0..4000).map(|i| format!("element-{i}-{}", "z".repeat(i % 50)).into_bytes()));
    run(c, big);
    keys.push(("l:big".into(), true));
    let mut ints = vec![s("RPUSH"), s("l:ints")];
    ints.extend((0..6000).map(|i| (i * 37 - 50000).to_string().into_bytes()));
    run(c, ints);
    keys.push(("l:ints".into(), true));
    let mut huge = vec![s("RPUSH"), s("l:huge")];
    huge.extend((0..5).map(|i| vec![b'a' + i as u8; 20000]));
    run(c, huge);
    keys.push(("l:huge".into(), true));
    // hashes: listpack (insertion order is kept: deterministic) and hashtable
    run(
        c,
        cmd(&[
            "HSET", "h:lp", "name", "ferrodis", "n", "42", "neg", "-70000", "e", "",
        ]),
    );
    keys.push(("h:lp".into(), true));
    let mut hbig = vec![s("HSET"), s("h:big")];
    for i in 0..600 {
        hbig.push(format!("field:{i}").into_bytes());
        hbig.push(format!("value:{}", i * 3).into_bytes());
    }
    run(c, hbig);
    keys.push(("h:big".into(), false));
    run(c, cmd(&["HSET", "h:longval", "f", &"v".repeat(100)]));
    keys.push(("h:longval".into(), true)); // one field: order is trivial
                                           // sets: intset (sorted: deterministic) of every width, hashtable
    run(c, cmd(&["SADD", "set:i16", "5", "-3", "100"]));
    run(c, cmd(&["SADD", "set:i32", "5", "-3", "100000"]));
    run(
        c,
        cmd(&[
            "SADD",
            "set:i64",
            "5",
            "-9223372036854775808",
            "9223372036854775807",
        ]),
    );
    for k in ["set:i16", "set:i32", "set:i64"] {
        keys.push((k.into(), true));
    }
    run(c, cmd(&["SADD", "set:one", "member"]));
    keys.push(("set:one".into(), true));
    run(c, cmd(&["SADD", "set:str", "a", "b", "c", "d"]));
    keys.push(("set:str".into(), false));
    let mut sbig = vec![s("SADD"), s("set:bigint")];
    sbig.extend((0..700).map(|i| i.to_string().into_bytes()));
    run(c, sbig);
    keys.push(("set:bigint".into(), false));
    // sorted sets: listpack and skiplist, with inf / -inf / tiny / huge scores
    run(
        c,
        cmd(&[
            "ZADD",
            "z:lp",
            "1",
            "one",
            "2.5",
            "two",
            "-inf",
            "ninf",
            "inf",
            "pinf",
            "0",
            "zero",
            "-0.000001",
            "tiny",
            "1e300",
            "huge",
            "3",
            "12345",
        ]),
    );
    keys.push(("z:lp".into(), true));
    let mut zbig = vec![s("ZADD"), s("z:skip")];
    for i in 0..400 {
        zbig.push(format!("{}", (i as f64) * 0.37 - 20.0).into_bytes());
        zbig.push(format!("member-{i}").into_bytes());
    }
    zbig.extend([s("inf"), s("top"), s("-inf"), s("bottom")]);
    run(c, zbig);
    keys.push(("z:skip".into(), true));
    run(c, cmd(&["ZADD", "z:longmember", "7", &"m".repeat(100)]));
    keys.push(("z:longmember".into(), true));
    // HyperLogLog: sparse and dense
    run(c, cmd(&["PFADD", "hll:sparse", "a", "b", "c"]));
    let mut dense = vec![s("PFADD"), s("hll:dense")];
    dense.extend((0..3000).map(|i| format!("e{i}").into_bytes()));
    run(c, dense);
    run(c, cmd(&["PFCOUNT", "hll:dense"]));
    keys.push(("hll:sparse".into(), true));
    keys.push(("hll:dense".into(), true));
    keys
}

/// A server-independent rendering of a key's value.
fn value_of(c: &mut RawClient, key: &str) -> Vec<Vec<u8>> {
    let t = c.cmds(&["TYPE", key]);
    let sorted = |r: Vec<u8>| {
        let mut e = split_elements(&r).1;
        e.sort();
        e
    };
    match &t[..] {
        b"+string\r\n" => vec![c.cmds(&["GET", key])],
        b"+list\r\n" => vec![c.cmds(&["LRANGE", key, "0", "-1"])],
        b"+set\r\n" => sorted(c.cmds(&["SMEMBERS", key])),
        b"+zset\r\n" => vec![c.cmds(&["ZRANGE", key, "0", "-1", "WITHSCORES"])],
        b"+hash\r\n" => {
            let (_, e) = split_elements(&c.cmds(&["HGETALL", key]));
            let mut pairs: Vec<Vec<u8>> = e.chunks(2).map(|p| p.concat()).collect();
            pairs.sort();
            pairs
        }
        other => panic!("unexpected type {}", common::show(other)),
    }
}

fn encoding(c: &mut RawClient, key: &str) -> Vec<u8> {
    c.cmds(&["OBJECT", "ENCODING", key])
}

fn check_direction(from: &ServerProc, to: &ServerProc, keys: &[(String, bool)]) {
    let mut src = from.client();
    let mut dst = to.client();
    for (k, _) in keys {
        let payload = bulk(&src.cmds(&["DUMP", k]));
        let target = format!("copy:{k}");
        let r = dst.cmd(&[b"RESTORE", target.as_bytes(), b"0", &payload]);
        assert_eq!(r, b"+OK\r\n", "{} -> {}: RESTORE {k}", from.name, to.name);
        let (got, want) = (value_of(&mut dst, &target), value_of(&mut src, k));
        assert!(
            got == want,
            "{} -> {}: value of {k} differs",
            from.name,
            to.name
        );
    }
}

#[test]
fn dump_restore_between_ferrodis_and_redis() {
    let f = ferrodis(&[]);
    let r = redis(&[]);
    let keys = populate(&mut f.client());
    let keys_r = populate(&mut r.client());
    assert_eq!(keys, keys_r);
    let (mut fc, mut rc) = (f.client(), r.client());
    // Same encodings on both sides, and byte-identical DUMPs where Redis's are
    // deterministic (everything but hash-table iteration order).
    let mut identical = 0;
    for (k, deterministic) in &keys {
        assert_eq!(
            encoding(&mut fc, k),
            encoding(&mut rc, k),
            "encoding of {k}"
        );
        let (a, b) = (bulk(&fc.cmds(&["DUMP", k])), bulk(&rc.cmds(&["DUMP", k])));
        if *deterministic {
            same_bytes(&a, &b, &format!("DUMP {k} (Ferrodis vs Redis)"));
            identical += 1;
        } else {
            assert_eq!(a.len(), b.len(), "DUMP {k}: size differs from Redis's");
        }
    }
    assert!(identical >= 25);
    check_direction(&r, &f, &keys);
    check_direction(&f, &r, &keys);
    // Restored values get the encodings Redis gives them (a restored short string is
    // embstr even if the original was raw, and so on).
    for (k, _) in &keys {
        let copy = format!("copy:{k}");
        assert_eq!(
            encoding(&mut fc, &copy),
            encoding(&mut rc, &copy),
            "encoding of restored {k}"
        );
    }
    // A value restored from Redis dumps back to Redis's exact bytes.
    for (k, deterministic) in &keys {
        if *deterministic {
            let copy = format!("copy:{k}");
            same_bytes(
                &bulk(&fc.cmds(&["DUMP", &copy])),
                &bulk(&rc.cmds(&["DUMP", k])),
                &format!("re-DUMP of {k}"),
            );
        }
    }
}

#[test]
fn restore_options_ttl_and_idle_time() {
    let f = ferrodis(&[]);
    let mut c = f.client();
    c.cmds(&["SET", "k", "v"]);
    let p = bulk(&c.cmds(&["DUMP", "k"]));
    assert_eq!(c.cmd(&[b"RESTORE", b"t", b"5000", &p]), b"+OK\r\n");
    let pttl: i64 = String::from_utf8_lossy(&c.cmds(&["PTTL", "t"])[1..])
        .trim()
        .parse()
        .unwrap_or(-9);
    assert!((4000..=5000).contains(&pttl), "pttl {pttl}");
    let at = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
        + 60_000)
        .to_string();
    assert_eq!(
        c.cmd(&[b"RESTORE", b"a", at.as_bytes(), &p, b"ABSTTL"]),
        b"+OK\r\n"
    );
    assert_eq!(
        c.cmds(&["PEXPIRETIME", "a"]),
        format!(":{at}\r\n").into_bytes()
    );
    assert_eq!(
        c.cmd(&[b"RESTORE", b"i", b"0", &p, b"IDLETIME", b"1000"]),
        b"+OK\r\n"
    );
    let idle: i64 = String::from_utf8_lossy(&c.cmds(&["OBJECT", "IDLETIME", "i"])[1..])
        .trim()
        .parse()
        .unwrap_or(-1);
    assert!((1000..1005).contains(&idle), "idle {idle}");
    // REPLACE with a TTL already in the past deletes the old key.
    assert_eq!(
        c.cmd(&[b"RESTORE", b"k", b"1", &p, b"ABSTTL", b"REPLACE"]),
        b"+OK\r\n"
    );
    assert_eq!(c.cmds(&["EXISTS", "k"]), b":0\r\n");
}

/// `rdbcompression no`: strings and listpacks are written verbatim, as Redis does.
#[test]
fn rdbcompression_no_matches_redis() {
    let f = ferrodis(&["--rdbcompression", "no"]);
    let r = redis(&["--rdbcompression", "no"]);
    for c in [&mut f.client(), &mut r.client()] {
        c.cmds(&["SET", "long", &"abc".repeat(100)]);
        let items: Vec<String> = (0..2000).map(|i| format!("v{}", i % 10)).collect();
        let mut args = vec!["RPUSH", "list"];
        args.extend(items.iter().map(|s| s.as_str()));
        c.cmds(&args);
    }
    for k in ["long", "list"] {
        let a = bulk(&f.client().cmds(&["DUMP", k]));
        let b = bulk(&r.client().cmds(&["DUMP", k]));
        same_bytes(&a, &b, &format!("DUMP {k} with rdbcompression no"));
    }
    let a = bulk(&f.client().cmds(&["DUMP", "long"]));
    assert!(a.windows(300).any(|w| w == "abc".repeat(100).as_bytes()));
}

/// Redis 7.4's hash field TTLs have no RDB 10 form: such a hash dumps as RDB 12
/// (`HASH_LISTPACK_EX` / `HASH_METADATA`), restores with its TTLs in Ferrodis, and the
/// reference (7.0) refuses the payload instead of silently dropping them.
#[test]
fn hash_field_ttls_dump_as_rdb_12() {
    let f = ferrodis(&[]);
    let r = redis(&[]);
    let mut c = f.client();
    let mut rc = r.client();
    c.cmds(&["HSET", "small", "a", "1", "b", "2", "c", "3"]);
    c.cmds(&["HPEXPIRE", "small", "100000", "FIELDS", "1", "a"]);
    c.cmds(&["HPEXPIRE", "small", "200000", "FIELDS", "1", "c"]);
    let mut args = vec!["HSET".to_string(), "big".to_string()];
    for i in 0..600 {
        args.push(format!("f{i}"));
        args.push(format!("v{i}"));
    }
    let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    c.cmds(&refs);
    c.cmds(&["HPEXPIRE", "big", "100000", "FIELDS", "2", "f1", "f7"]);
    for key in ["small", "big"] {
        let p = bulk(&c.cmds(&["DUMP", key]));
        let footer = p.len() - 10;
        assert_eq!(&p[footer..footer + 2], &[12, 0], "{key}: RDB version 12");
        assert_eq!(p[0], if key == "small" { 25 } else { 24 }, "{key}: type");
        let copy = format!("copy:{key}");
        assert_eq!(c.cmd(&[b"RESTORE", copy.as_bytes(), b"0", &p]), b"+OK\r\n");
        assert_eq!(
            c.cmds(&["HLEN", &copy]),
            c.cmds(&["HLEN", key]),
            "{key}: fields"
        );
        let field = if key == "small" { "a" } else { "f7" };
        let ttl = |c: &mut RawClient, k: &str| c.cmds(&["HPEXPIRETIME", k, "FIELDS", "1", field]);
        assert_eq!(
            ttl(&mut c, &copy),
            ttl(&mut c, key),
            "{key}: field TTL kept"
        );
        assert_eq!(
            c.cmds(&[
                "HTTL",
                &copy,
                "FIELDS",
                "1",
                if key == "small" { "b" } else { "f2" }
            ]),
            b"*1\r\n:-1\r\n",
            "{key}: field without TTL"
        );
        assert_eq!(
            rc.cmd(&[b"RESTORE", key.as_bytes(), b"0", &p]),
            b"-ERR DUMP payload version or checksum are wrong\r\n"
        );
    }
    // Once no field has a TTL the hash dumps as RDB 10 again.
    c.cmds(&["HPERSIST", "small", "FIELDS", "2", "a", "c"]);
    let p = bulk(&c.cmds(&["DUMP", "small"]));
    assert_eq!(&p[p.len() - 10..p.len() - 8], &[10, 0]);
    assert_eq!(rc.cmd(&[b"RESTORE", b"small", b"0", &p]), b"+OK\r\n");
}

/// Corrupt payloads with a valid checksum (so the value parser itself is exercised):
/// never a crash, always "Bad data format", and the server keeps serving.
#[test]
fn corrupt_payloads_are_rejected() {
    use ferrodis::persistence::rdb::seal_payload;
    let f = ferrodis(&[]);
    let mut c = f.client();
    c.cmds(&["RPUSH", "l", "a", "b", "c", "1000"]);
    c.cmds(&["HSET", "h", "a", "1", "b", "2"]);
    c.cmds(&["ZADD", "z", "1", "a", "2", "b"]);
    c.cmds(&["SADD", "s", "1", "2", "3"]);
    c.cmds(&["SET", "str", &"abc".repeat(30)]);
    let mut rejected = 0;
    for key in ["l", "h", "z", "s", "str"] {
        let p = bulk(&c.cmds(&["DUMP", key]));
        let body = &p[..p.len() - 10];
        for i in 0..body.len() {
            for delta in [1u8, 0x40, 0x80, 0xff] {
                let mut b = body.to_vec();
                b[i] = b[i].wrapping_add(delta);
                let payload = seal_payload(b, 10);
                let r = c.cmd(&[b"RESTORE", b"x", b"0", &payload, b"REPLACE"]);
                assert!(
                    r == b"+OK\r\n" || r == b"-ERR Bad data format\r\n",
                    "{key}[{i}]+{delta}: {}",
                    common::show(&r)
                );
                if r != b"+OK\r\n" {
                    rejected += 1;
                }
            }
        }
        // Truncated bodies.
        for cut in 0..body.len() {
            let payload = seal_payload(body[..cut].to_vec(), 10);
            let r = c.cmd(&[b"RESTORE", b"x", b"0", &payload, b"REPLACE"]);
            assert!(r == b"+OK\r\n" || r == b"-ERR Bad data format\r\n");
        }
    }
    assert!(rejected > 50);
    // A huge announced length does not allocate: it is rejected at once.
    let mut b = vec![2u8, 0x81];
    b.extend_from_slice(&u64::MAX.to_be_bytes());
    let r = c.cmd(&[b"RESTORE", b"x", b"0", &seal_payload(b, 10), b"REPLACE"]);
    assert_eq!(r, b"-ERR Bad data format\r\n");
    let mut b = vec![0u8, 0xc3, 0x01];
    b.extend_from_slice(&[0x80, 0x7f, 0xff, 0xff, 0xff, 0x00]);
    let r = c.cmd(&[b"RESTORE", b"x", b"0", &seal_payload(b, 10), b"REPLACE"]);
    assert_eq!(r, b"-ERR Bad data format\r\n");
    assert_eq!(c.cmds(&["PING"]), b"+PONG\r\n");
}

/// FUNCTION DUMP on one server restores on the other (both directions), and a single
/// library dumps to the reference's exact bytes (LZF-compressed code included).
#[test]
fn function_dump_restore_between_ferrodis_and_redis() {
    let f = ferrodis(&[]);
    let r = redis(&[]);
    let libs = [
        "#!lua name=one\nredis.register_function('one_f', function() return 'one' end)",
        "#!lua name=two\nredis.register_function{function_name='two_f', callback=function(keys, args) return #args end, flags={'no-writes'}}\n-- a comment long enough to make LZF worth it, a comment long enough",
    ];
    for (i, lib) in libs.iter().enumerate() {
        let (mut fc, mut rc) = (f.client(), r.client());
        fc.cmds(&["FUNCTION", "FLUSH"]);
        rc.cmds(&["FUNCTION", "FLUSH"]);
        fc.cmds(&["FUNCTION", "LOAD", lib]);
        rc.cmds(&["FUNCTION", "LOAD", lib]);
        same_bytes(
            &bulk(&fc.cmds(&["FUNCTION", "DUMP"])),
            &bulk(&rc.cmds(&["FUNCTION", "DUMP"])),
            &format!("FUNCTION DUMP of library {i}"),
        );
    }
    for (from, to) in [(&f, &r), (&r, &f)] {
        let (mut src, mut dst) = (from.client(), to.client());
        src.cmds(&["FUNCTION", "FLUSH"]);
        dst.cmds(&["FUNCTION", "FLUSH"]);
        for lib in libs {
            assert!(src.cmds(&["FUNCTION", "LOAD", lib]).starts_with(b"$"));
        }
        let p = bulk(&src.cmds(&["FUNCTION", "DUMP"]));
        assert_eq!(dst.cmd(&[b"FUNCTION", b"RESTORE", &p]), b"+OK\r\n");
        assert_eq!(dst.cmds(&["FCALL", "one_f", "0"]), b"$3\r\none\r\n");
        assert_eq!(dst.cmds(&["FCALL_RO", "two_f", "0", "a", "b"]), b":2\r\n");
        // Which of the two colliding libraries Redis names depends on its hash
        // table's order (random per process): both are accepted.
        for c in [&mut dst, &mut src] {
            let e = c.cmd(&[b"FUNCTION", b"RESTORE", &p]);
            assert!(
                e == b"-ERR Library one already exists\r\n"
                    || e == b"-ERR Library two already exists\r\n",
                "{}",
                common::show(&e)
            );
        }
        assert_eq!(
            dst.cmd(&[b"FUNCTION", b"RESTORE", &p, b"REPLACE"]),
            b"+OK\r\n"
        );
    }
}

/// Builds streams with deleted entries, entries whose fields differ from their node's
/// first entry, integers, an empty stream with a group, consumer groups with pending
/// entries, acknowledgements and an idle consumer.
fn populate_streams(c: &mut RawClient) {
    let mut run = |args: &[&str]| {
        let r = c.cmds(args);
        assert!(!r.starts_with(b"-"), "{args:?}: {}", common::show(&r));
    };
    for i in 1..=250 {
        let (id, v) = (format!("{i}-1"), i.to_string());
        run(&["XADD", "s", &id, "a", &v, "b", "x"]);
    }
    run(&["XADD", "s", "300-1", "other", "1"]);
    run(&["XADD", "s", "300-2", "a", "-5", "b", "123456789012"]);
    run(&["XADD", "s", "18446744073709551615-1", "a", "max"]);
    run(&["XDEL", "s", "5-1", "6-1", "250-1"]);
    run(&["XGROUP", "CREATE", "s", "g1", "0"]);
    run(&["XGROUP", "CREATE", "s", "g2", "$"]);
    run(&[
        "XREADGROUP",
        "GROUP",
        "g1",
        "alice",
        "COUNT",
        "3",
        "STREAMS",
        "s",
        ">",
    ]);
    run(&[
        "XREADGROUP",
        "GROUP",
        "g1",
        "bob",
        "COUNT",
        "2",
        "STREAMS",
        "s",
        ">",
    ]);
    run(&["XACK", "s", "g1", "2-1"]);
    run(&["XGROUP", "CREATECONSUMER", "s", "g2", "carol"]);
    run(&["XADD", "e", "1-1", "f", "v"]);
    run(&["XTRIM", "e", "MAXLEN", "0"]);
    run(&["XGROUP", "CREATE", "e", "g", "$"]);
}

/// XINFO STREAM FULL without the clock-dependent fields (seen/active/delivery times).
fn stream_view(c: &mut RawClient, key: &str) -> String {
    let full = common::show(&c.cmds(&["XINFO", "STREAM", key, "FULL"]));
    let mut out = String::new();
    let mut skip_next = false;
    for part in full.split("\\r\\n") {
        if skip_next {
            skip_next = false;
            continue;
        }
        if ["seen-time", "active-time", "delivery-time"].contains(&part) {
            skip_next = true;
        }
        // Delivery times inside the PEL arrays (Unix ms) are unlabelled.
        let is_time = part.len() > 12 && part.starts_with(':');
        out.push_str(if is_time { ":<ms>" } else { part });
        out.push('|');
    }
    out
}

#[test]
fn streams_dump_restore_between_ferrodis_and_redis() {
    let f = ferrodis(&[]);
    let r = redis(&[]);
    let (mut fc, mut rc) = (f.client(), r.client());
    populate_streams(&mut fc);
    populate_streams(&mut rc);
    for key in ["s", "e"] {
        let want = stream_view(&mut rc, key);
        assert_eq!(stream_view(&mut fc, key), want, "{key} built alike");
        let from_f = bulk(&fc.cmds(&["DUMP", key]));
        let from_r = bulk(&rc.cmds(&["DUMP", key]));
        let copy = format!("copy:{key}");
        assert_eq!(
            rc.cmd(&[b"RESTORE", copy.as_bytes(), b"0", &from_f]),
            b"+OK\r\n"
        );
        assert_eq!(
            fc.cmd(&[b"RESTORE", copy.as_bytes(), b"0", &from_r]),
            b"+OK\r\n"
        );
        // Same entries, IDs, counters, groups, PELs and consumers either way.
        assert_eq!(
            stream_view(&mut rc, &copy),
            want,
            "{key}: Ferrodis -> Redis"
        );
        assert_eq!(
            stream_view(&mut fc, &copy),
            want,
            "{key}: Redis -> Ferrodis"
        );
    }
    // Corrupt stream payloads are refused, never half-loaded.
    let mut p = bulk(&fc.cmds(&["DUMP", "s"]));
    let mid = p.len() / 2;
    p[mid] ^= 0x55;
    let r = fc.cmd(&[b"RESTORE", b"bad", b"0", &p]);
    assert!(r.starts_with(b"-ERR"), "{}", common::show(&r));
}
