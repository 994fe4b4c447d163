//! BGSAVE without fork: the file holds the dataset of the instant BGSAVE replied,
//! whatever clients change while it is written (overwrites, deletes, new keys,
//! expiry changes, FLUSHDB, SWAPDB, MOVE, RENAME); it loads into Ferrodis and into the
//! reference redis-server with that content. Also: save points, BGSAVE SCHEDULE and
//! its errors, INFO fields, -MISCONF after a failed save (texts compared with the
//! reference), SHUTDOWN and FLUSHALL during a BGSAVE.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{ferrodis, redis, split_elements, RawClient, ServerProc, TmpDir};

fn ok(c: &mut RawClient, args: &[&str]) -> Vec<u8> {
    let r = c.cmds(args);
    assert!(!r.starts_with(b"-"), "{args:?}: {}", common::show(&r));
    r
}

fn info_field(c: &mut RawClient, field: &str) -> String {
    let info = String::from_utf8_lossy(&c.cmds(&["INFO", "persistence"])).into_owned();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn wait_bgsave_done(c: &mut RawClient, secs: u64) {
    let until = Instant::now() + Duration::from_secs(secs);
    while info_field(c, "rdb_bgsave_in_progress") != "0" {
        assert!(Instant::now() < until, "BGSAVE did not finish in {secs} s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Everything observable about a dataset: per (db, key) its type, value (sets and
/// hashes sorted) and absolute expiry.
fn digest(c: &mut RawClient, dbs: &[usize]) -> BTreeMap<(usize, Vec<u8>), Vec<Vec<u8>>> {
    let mut all = BTreeMap::new();
    for &db in dbs {
        ok(c, &["SELECT", &db.to_string()]);
        let keys = split_elements(&c.cmds(&["KEYS", "*"])).1;
        for k in keys {
            let start = k.iter().position(|&b| b == b'\n').unwrap_or(0) + 1;
            let key = k[start..k.len() - 2].to_vec();
            let ks = String::from_utf8_lossy(&key).into_owned();
            let t = c.cmds(&["TYPE", &ks]);
            if t == b"+none\r\n" {
                continue; // expired since KEYS
            }
            let mut v = vec![t.clone(), c.cmds(&["PEXPIRETIME", &ks])];
            let sorted = |r: Vec<u8>| {
                let mut e = split_elements(&r).1;
                e.sort();
                e.concat()
            };
            v.push(match &t[..] {
                b"+string\r\n" => c.cmds(&["GET", &ks]),
                b"+list\r\n" => c.cmds(&["LRANGE", &ks, "0", "-1"]),
                b"+set\r\n" => sorted(c.cmds(&["SMEMBERS", &ks])),
                b"+zset\r\n" => c.cmds(&["ZRANGE", &ks, "0", "-1", "WITHSCORES"]),
                b"+hash\r\n" => {
                    let (_, e) = split_elements(&c.cmds(&["HGETALL", &ks]));
                    let mut pairs: Vec<Vec<u8>> = e.chunks(2).map(|p| p.concat()).collect();
                    pairs.sort();
                    pairs.concat()
                }
                b"+stream\r\n" => {
                    let mut s = c.cmds(&["XRANGE", &ks, "-", "+"]);
                    s.extend(c.cmds(&["XINFO", "GROUPS", &ks]));
                    s
                }
                other => panic!("unexpected type {}", common::show(other)),
            });
            all.insert((db, key), v);
        }
    }
    ok(c, &["SELECT", "0"]);
    all
}

/// A mixed dataset in databases 0, 2 and 5: `n` strings (some with TTLs), and lists,
/// hashes, sets, sorted sets (small and large encodings) and streams with a group.
fn populate(c: &mut RawClient, n: usize) {
    for db in [0usize, 2, 5] {
        ok(c, &["SELECT", &db.to_string()]);
        let mut batch: Vec<String> = vec!["MSET".into()];
        for i in 0..n {
            batch.push(format!("s:{i}"));
            batch.push(format!("value-{db}-{i}"));
        }
        let refs: Vec<&str> = batch.iter().map(String::as_str).collect();
        ok(c, &refs);
        for i in (0..n).step_by(10) {
            ok(c, &["EXPIRE", &format!("s:{i}"), "100000"]);
        }
        for i in 0..40 {
            let big = i % 4 == 0;
            let m = if big { 300 } else { 5 };
            let mut l: Vec<String> = vec!["RPUSH".into(), format!("l:{i}")];
            let mut h: Vec<String> = vec!["HSET".into(), format!("h:{i}")];
            let mut s: Vec<String> = vec!["SADD".into(), format!("set:{i}")];
            let mut z: Vec<String> = vec!["ZADD".into(), format!("z:{i}")];
            for j in 0..m {
                l.push(format!("e{j}"));
                h.push(format!("f{j}"));
                h.push(format!("v{j}"));
                s.push(if i % 3 == 0 {
                    j.to_string()
                } else {
                    format!("m{j}")
                });
                z.push(format!("{}", j as f64 / 2.0));
                z.push(format!("m{j}"));
            }
            for cmd in [l, h, s, z] {
                let refs: Vec<&str> = cmd.iter().map(String::as_str).collect();
                ok(c, &refs);
            }
        }
        for i in 0..5 {
            let key = format!("x:{i}");
            for j in 1..=20 {
                ok(c, &["XADD", &key, &format!("{j}-1"), "f", &format!("v{j}")]);
            }
            ok(c, &["XGROUP", "CREATE", &key, "grp", "0"]);
            ok(
                c,
                &[
                    "XREADGROUP",
                    "GROUP",
                    "grp",
                    "alice",
                    "COUNT",
                    "5",
                    "STREAMS",
                    &key,
                    ">",
                ],
            );
        }
    }
    ok(c, &["SELECT", "0"]);
}

/// Starts a server of the given kind on a copy of `rdb`.
fn load_copy(rdb: &Path, tag: &str, reference: bool) -> (ServerProc, TmpDir) {
    let dir = TmpDir::new(tag);
    std::fs::copy(rdb, dir.path().join("dump.rdb")).expect("copy dump.rdb");
    let s = if reference {
        redis(&["--dir", &dir.s()])
    } else {
        ferrodis(&["--dir", &dir.s()])
    };
    (s, dir)
}

#[test]
fn bgsave_is_point_in_time_under_writes() {
    let dir = TmpDir::new("pit");
    // 150 µs per key written: the save of ~10,000 keys takes seconds, so every write
    // below lands while it runs.
    let f = ferrodis(&["--dir", &dir.s(), "--rdb-key-save-delay", "150"]);
    let mut c = f.client();
    populate(&mut c, 3000);
    let dbs = [0usize, 2, 5, 7];
    let before = digest(&mut c, &dbs);
    assert!(before.len() > 9000, "{} keys", before.len());

    assert_eq!(c.cmds(&["BGSAVE"]), b"+Background saving started\r\n");
    let mut w = f.client();
    let mut writes = 0;
    // Overwrites, deletes, new keys, in-place changes of every type, TTL changes.
    for i in (0..3000).step_by(3) {
        ok(&mut w, &["SET", &format!("s:{i}"), "changed"]);
        ok(&mut w, &["DEL", &format!("s:{}", i + 1)]);
        ok(&mut w, &["SET", &format!("new:{i}"), "born-later"]);
        writes += 3;
    }
    for i in 0..40 {
        ok(&mut w, &["LPUSH", &format!("l:{i}"), "pushed"]);
        ok(
            &mut w,
            &["HSET", &format!("h:{i}"), "f0", "changed", "extra", "1"],
        );
        ok(&mut w, &["SREM", &format!("set:{i}"), "m1", "1"]);
        ok(&mut w, &["ZINCRBY", &format!("z:{i}"), "100", "m2"]);
        writes += 4;
    }
    for i in 0..5 {
        let key = format!("x:{i}");
        ok(&mut w, &["XADD", &key, "*", "f", "later"]);
        ok(&mut w, &["XACK", &key, "grp", "1-1"]);
        ok(&mut w, &["XGROUP", "CREATE", &key, "grp2", "$"]);
    }
    ok(&mut w, &["EXPIRE", "s:20", "5000"]);
    ok(&mut w, &["PERSIST", "s:30"]);
    ok(&mut w, &["RENAME", "s:41", "renamed"]);
    ok(&mut w, &["MOVE", "s:50", "7"]);
    ok(&mut w, &["SELECT", "2"]);
    ok(&mut w, &["FLUSHDB"]);
    ok(&mut w, &["SET", "after-flush", "x"]);
    ok(&mut w, &["SELECT", "5"]);
    ok(&mut w, &["APPEND", "s:7", "-appended"]);
    ok(&mut w, &["FLUSHDB", "ASYNC"]);
    assert_eq!(
        info_field(&mut c, "rdb_bgsave_in_progress"),
        "1",
        "the writes must overlap the save (make rdb-key-save-delay longer)"
    );
    assert!(writes > 3000);
    // Writers set values aside for the snapshot: it shows in INFO.
    let cow: u64 = info_field(&mut c, "current_cow_size").parse().unwrap_or(0);
    assert!(cow > 0, "current_cow_size {cow}");
    wait_bgsave_done(&mut c, 120);
    assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");
    assert_eq!(info_field(&mut c, "rdb_saves"), "1");
    let last_cow: u64 = info_field(&mut c, "rdb_last_cow_size").parse().unwrap_or(0);
    assert!(last_cow > 0);
    // Changes made during the save are still unsaved.
    let unsaved: u64 = info_field(&mut c, "rdb_changes_since_last_save")
        .parse()
        .unwrap_or(0);
    assert!(unsaved >= writes as u64, "{unsaved}");
    let rdb = dir.path().join("dump.rdb");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("temp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    // The file is the dataset of the BGSAVE instant, for Ferrodis and for Redis.
    let (f2, _d2) = load_copy(&rdb, "pit-f", false);
    assert_eq!(digest(&mut f2.client(), &dbs), before);
    let (r2, _d3) = load_copy(&rdb, "pit-r", true);
    assert_eq!(digest(&mut r2.client(), &dbs), before);
    let check = std::process::Command::new("redis-check-rdb")
        .arg(&rdb)
        .output()
        .expect("redis-check-rdb (Debian's redis-tools) must be installed");
    assert!(
        check.status.success(),
        "redis-check-rdb: {}",
        String::from_utf8_lossy(&check.stdout)
    );
    // And the live server kept every change.
    assert_eq!(c.cmds(&["GET", "s:0"]), b"$7\r\nchanged\r\n");
    assert_eq!(c.cmds(&["GET", "new:3"]), b"$10\r\nborn-later\r\n");
}

#[test]
fn big_values_checked_out_by_the_saver_stay_point_in_time() {
    // Collections of thousands of elements and big strings are serialized by the saver
    // outside their shard lock; writers that change or delete them meanwhile wait, and
    // the file still holds the values of the BGSAVE instant.
    let dir = TmpDir::new("pit-big");
    let f = ferrodis(&["--dir", &dir.s(), "--rdb-key-save-delay", "100"]);
    let mut c = f.client();
    populate(&mut c, 2000);
    for i in 0..6 {
        let n = 5000 + i * 1000;
        let mut s: Vec<String> = vec!["SADD".into(), format!("bigset:{i}")];
        let mut h: Vec<String> = vec!["HSET".into(), format!("bighash:{i}")];
        let mut l: Vec<String> = vec!["RPUSH".into(), format!("biglist:{i}")];
        let mut z: Vec<String> = vec!["ZADD".into(), format!("bigz:{i}")];
        for j in 0..n {
            s.push(format!("m{j}"));
            h.push(format!("f{j}"));
            h.push(format!("v{j}"));
            l.push(format!("e{j}"));
            z.push(j.to_string());
            z.push(format!("m{j}"));
        }
        for cmd in [s, h, l, z] {
            let refs: Vec<&str> = cmd.iter().map(String::as_str).collect();
            ok(&mut c, &refs);
        }
        let big: String = (0..300_000)
            .map(|k| (b'a' + (k % 26) as u8) as char)
            .collect();
        ok(&mut c, &["SET", &format!("bigstr:{i}"), &big]);
        ok(&mut c, &["EXPIRE", &format!("bigset:{i}"), "100000"]);
    }
    let dbs = [0usize, 2, 5];
    let before = digest(&mut c, &dbs);
    assert_eq!(c.cmds(&["BGSAVE"]), b"+Background saving started\r\n");
    let mut w = f.client();
    // Odd-numbered big values are left alone: the saver checks them out itself.
    for round in 0..3 {
        for i in (0..6).step_by(2) {
            ok(
                &mut w,
                &["SADD", &format!("bigset:{i}"), &format!("later{round}")],
            );
            ok(&mut w, &["HSET", &format!("bighash:{i}"), "f1", "changed"]);
            ok(&mut w, &["LPUSH", &format!("biglist:{i}"), "pushed"]);
            ok(&mut w, &["ZINCRBY", &format!("bigz:{i}"), "5", "m7"]);
            ok(&mut w, &["APPEND", &format!("bigstr:{i}"), "-appended"]);
            ok(&mut w, &["SET", &format!("s:{}", i * 7 + round), "changed"]);
        }
    }
    ok(&mut w, &["DEL", "bigset:2", "bighash:2", "bigstr:4"]);
    ok(&mut w, &["RENAME", "biglist:4", "moved"]);
    ok(&mut w, &["PERSIST", "bigset:4"]);
    assert_eq!(
        info_field(&mut c, "rdb_bgsave_in_progress"),
        "1",
        "the writes must overlap the save (make rdb-key-save-delay longer)"
    );
    wait_bgsave_done(&mut c, 120);
    assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");
    let rdb = dir.path().join("dump.rdb");
    let (f2, _d2) = load_copy(&rdb, "pit-big-f", false);
    assert_eq!(digest(&mut f2.client(), &dbs), before);
    let (r2, _d3) = load_copy(&rdb, "pit-big-r", true);
    assert_eq!(digest(&mut r2.client(), &dbs), before);
    // The live server kept every change.
    assert_eq!(c.cmds(&["EXISTS", "bigset:2", "moved"]), b":1\r\n");
    assert_eq!(c.cmds(&["SISMEMBER", "bigset:0", "later2"]), b":1\r\n");
}

#[test]
fn swapdb_and_expiry_during_bgsave() {
    let dir = TmpDir::new("swap");
    let f = ferrodis(&["--dir", &dir.s(), "--rdb-key-save-delay", "300"]);
    let mut c = f.client();
    populate(&mut c, 1000);
    ok(&mut c, &["SET", "short", "lived", "PX", "300"]);
    let dbs = [0usize, 2, 5];
    let mut before = digest(&mut c, &dbs);
    ok(&mut c, &["BGSAVE"]);
    // The key expires (actively) while the save runs.
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(info_field(&mut c, "rdb_bgsave_in_progress"), "1");
    // SWAPDB hands the snapshot what it has not written yet of both databases.
    ok(&mut c, &["SWAPDB", "0", "2"]);
    ok(&mut c, &["SELECT", "2"]);
    ok(&mut c, &["SET", "s:1", "after-swap"]);
    ok(&mut c, &["SELECT", "0"]);
    wait_bgsave_done(&mut c, 120);
    let rdb = dir.path().join("dump.rdb");
    // The file has the key that expired since; loading skips it, as Redis does.
    before.retain(|(_, k), _| k != b"short");
    let (f2, _d) = load_copy(&rdb, "swap-f", false);
    assert_eq!(digest(&mut f2.client(), &dbs), before);
    let (r2, _d2) = load_copy(&rdb, "swap-r", true);
    assert_eq!(digest(&mut r2.client(), &dbs), before);
}

#[test]
fn bgsave_replies_and_schedule() {
    let dir = TmpDir::new("replies");
    let f = ferrodis(&["--dir", &dir.s(), "--rdb-key-save-delay", "2000"]);
    let mut c = f.client();
    populate(&mut c, 200);
    assert_eq!(
        c.cmds(&["BGSAVE", "NOW"]),
        b"-ERR syntax error\r\n".to_vec()
    );
    assert_eq!(info_field(&mut c, "rdb_last_bgsave_time_sec"), "-1");
    assert_eq!(c.cmds(&["BGSAVE"]), b"+Background saving started\r\n");
    assert_eq!(
        c.cmds(&["BGSAVE"]),
        b"-ERR Background save already in progress\r\n".to_vec()
    );
    assert_eq!(
        c.cmds(&["BGSAVE", "SCHEDULE"]),
        b"-ERR Background save already in progress\r\n".to_vec()
    );
    assert_eq!(
        c.cmds(&["SAVE"]),
        b"-ERR Background save already in progress\r\n".to_vec()
    );
    let total: u64 = info_field(&mut c, "current_save_keys_total")
        .parse()
        .unwrap_or(0);
    assert!(total > 600, "current_save_keys_total {total}");
    assert_eq!(info_field(&mut c, "rdb_current_bgsave_time_sec"), "0");
    // Stop the slow save: FLUSHALL ends it (as Redis kills its child).
    ok(&mut c, &["FLUSHALL"]);
    wait_bgsave_done(&mut c, 30);
    assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");
    assert!(!dir.path().join("dump.rdb").exists());
    ok(&mut c, &["CONFIG", "SET", "rdb-key-save-delay", "0"]);
    ok(&mut c, &["SET", "k", "v"]);
    // Inside MULTI, BGSAVE is scheduled; the cron starts it.
    ok(&mut c, &["MULTI"]);
    ok(&mut c, &["BGSAVE"]);
    assert_eq!(
        c.cmds(&["EXEC"]),
        b"*1\r\n+Background saving scheduled\r\n".to_vec()
    );
    let until = Instant::now() + Duration::from_secs(10);
    while info_field(&mut c, "rdb_saves") != "1" {
        assert!(Instant::now() < until, "the scheduled BGSAVE never ran");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(dir.path().join("dump.rdb").exists());
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "0");
}

#[test]
fn save_points_start_a_bgsave() {
    let dir = TmpDir::new("points");
    let f = ferrodis(&["--dir", &dir.s(), "--save", "1 2"]);
    let mut c = f.client();
    let lastsave = c.cmds(&["LASTSAVE"]);
    ok(&mut c, &["SET", "a", "1"]);
    std::thread::sleep(Duration::from_millis(2500));
    // One change is below the save point's two.
    assert!(!dir.path().join("dump.rdb").exists());
    ok(&mut c, &["SET", "b", "2"]);
    let until = Instant::now() + Duration::from_secs(10);
    while !dir.path().join("dump.rdb").exists() {
        assert!(Instant::now() < until, "no save after 2 changes and 1 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    wait_bgsave_done(&mut c, 10);
    assert_ne!(c.cmds(&["LASTSAVE"]), lastsave);
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "0");
    let (f2, _d) = load_copy(&dir.path().join("dump.rdb"), "points-f", false);
    assert_eq!(
        f2.client().cmds(&["MGET", "a", "b"]),
        b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n"
    );
}

/// The same commands on Ferrodis and on the reference after a BGSAVE that failed
/// (its directory vanished): write commands and PING get -MISCONF, reads work,
/// scripts that write are refused, and the error goes away with
/// `stop-writes-on-bgsave-error no` or a successful save.
#[test]
fn misconf_after_a_failed_bgsave_matches_redis() {
    let mut transcripts = Vec::new();
    for reference in [false, true] {
        let dir = TmpDir::new(if reference { "misconf-r" } else { "misconf-f" });
        let gone = dir.path().join("gone");
        std::fs::create_dir_all(&gone).expect("mkdir");
        let g = gone.to_string_lossy().into_owned();
        let args = [
            "--dir",
            &g,
            "--save",
            "3600 1",
            "--enable-protected-configs",
            "yes",
        ];
        let s = if reference {
            redis(&args)
        } else {
            ferrodis(&args)
        };
        let mut c = s.client();
        ok(&mut c, &["SET", "a", "1"]);
        std::fs::remove_dir_all(&gone).expect("rmdir");
        let mut t = Vec::new();
        t.push(c.cmds(&["BGSAVE"]));
        let until = Instant::now() + Duration::from_secs(10);
        while info_field(&mut c, "rdb_last_bgsave_status") != "err" {
            assert!(Instant::now() < until, "BGSAVE did not fail");
            std::thread::sleep(Duration::from_millis(20));
        }
        wait_bgsave_done(&mut c, 10);
        for cmd in [
            &["SET", "a", "2"][..],
            &["PING"],
            &["GET", "a"],
            &["INCR", "n"],
            &["EVAL", "return redis.call('set','a','5')", "0"],
            &["EVAL", "return redis.pcall('set','a','5')['err']", "0"],
            &["EVAL", "return redis.call('get','a')", "0"],
            &["EVAL", "#!lua\nreturn 1", "0"],
            &["EVAL", "#!lua flags=no-writes\nreturn 1", "0"],
            &["MULTI"],
            &["SET", "a", "3"],
            &["EXEC"],
            &["MULTI"],
            &["GET", "a"],
            &["EXEC"],
            &["SAVE"],
            &["CONFIG", "SET", "stop-writes-on-bgsave-error", "no"],
            &["SET", "a", "4"],
            &["CONFIG", "SET", "stop-writes-on-bgsave-error", "yes"],
            &["SET", "a", "5"],
            &["CONFIG", "SET", "save", ""],
            &["SET", "a", "6"],
            &["CONFIG", "SET", "save", "3600 1"],
        ] {
            let r = c.cmds(cmd);
            // Script errors name the script's SHA, which is the same on both.
            t.push(r);
        }
        std::fs::create_dir_all(&gone).expect("mkdir again");
        t.push(c.cmds(&["SET", "a", "7"]));
        // Redis works in its directory (chdir): it must be set again once recreated.
        t.push(c.cmds(&["CONFIG", "SET", "dir", &g]));
        t.push(c.cmds(&["BGSAVE"]));
        let until = Instant::now() + Duration::from_secs(10);
        while info_field(&mut c, "rdb_last_bgsave_status") != "ok" {
            assert!(Instant::now() < until, "BGSAVE did not succeed");
            std::thread::sleep(Duration::from_millis(20));
        }
        wait_bgsave_done(&mut c, 10);
        t.push(c.cmds(&["SET", "a", "8"]));
        t.push(c.cmds(&["GET", "a"]));
        transcripts.push(t);
    }
    let (f, r) = (&transcripts[0], &transcripts[1]);
    for (i, (a, b)) in f.iter().zip(r.iter()).enumerate() {
        assert_eq!(
            common::show(a),
            common::show(b),
            "reply {i} differs (ferrodis vs redis)"
        );
    }
    assert!(common::show(&f[1]).contains("MISCONF"));
}

#[test]
fn shutdown_during_bgsave_saves_everything() {
    let dir = TmpDir::new("shutdown");
    let mut f = ferrodis(&[
        "--dir",
        &dir.s(),
        "--save",
        "3600 1",
        "--rdb-key-save-delay",
        "1000",
    ]);
    let mut c = f.client();
    populate(&mut c, 500);
    ok(&mut c, &["BGSAVE"]);
    ok(&mut c, &["SET", "written-during", "the-bgsave"]);
    // SHUTDOWN stops the slow background save and saves in the foreground.
    let _ = c.cmds(&["SHUTDOWN"]);
    let until = Instant::now() + Duration::from_secs(30);
    while f.child.try_wait().ok().flatten().is_none() {
        assert!(Instant::now() < until, "server did not exit");
        std::thread::sleep(Duration::from_millis(50));
    }
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["dump.rdb".to_string()]);
    let (f2, _d) = load_copy(&dir.path().join("dump.rdb"), "shutdown-f", false);
    let mut c2 = f2.client();
    assert_eq!(
        c2.cmds(&["GET", "written-during"]),
        b"$10\r\nthe-bgsave\r\n"
    );
    assert_eq!(c2.cmds(&["DBSIZE"]), b":666\r\n");
}

/// While the dataset loads, the server accepts connections and answers -LOADING to
/// commands that are not allowed during loading (as the reference does, with the same
/// text), INFO shows the loading fields; once loaded, everything is there.
#[test]
fn loading_replies_while_the_dataset_loads() {
    let dir = TmpDir::new("loading");
    {
        let f = ferrodis(&["--dir", &dir.s()]);
        let mut c = f.client();
        populate(&mut c, 1000);
        ok(&mut c, &["SAVE"]);
    }
    let rdb = dir.path().join("dump.rdb");
    let mut seen = Vec::new();
    for reference in [false, true] {
        let d = TmpDir::new(if reference { "loading-r" } else { "loading-f" });
        std::fs::copy(&rdb, d.path().join("dump.rdb")).expect("copy");
        let bin = if reference {
            common::redis_server_bin()
        } else {
            common::ferrodis_bin().to_string()
        };
        // 1 ms per key: about 4 seconds of loading.
        let (mut child, port) = common::spawn_listening(
            &bin,
            d.path(),
            &[
                "--save",
                "",
                "--key-load-delay",
                "1000",
                "--loading-process-events-interval-bytes",
                "1024",
            ],
        );
        let mut c = RawClient::connect(port);
        let replies = vec![
            c.cmds(&["PING"]),
            c.cmds(&["GET", "s:1"]),
            c.cmds(&["SET", "x", "1"]),
            c.cmds(&["CONFIG", "GET", "key-load-delay"]),
        ];
        assert_eq!(info_field(&mut c, "loading"), "1");
        let total: u64 = info_field(&mut c, "loading_total_bytes")
            .parse()
            .unwrap_or(0);
        assert_eq!(total, std::fs::metadata(&rdb).map(|m| m.len()).unwrap_or(1));
        let until = Instant::now() + Duration::from_secs(60);
        while c.cmds(&["PING"]) != b"+PONG\r\n" {
            assert!(Instant::now() < until, "never finished loading");
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(info_field(&mut c, "loading"), "0");
        let loaded = c.cmds(&["DBSIZE"]);
        let _ = child.kill();
        let _ = child.wait();
        seen.push((replies, loaded));
    }
    assert_eq!(
        seen[0].0[0],
        b"-LOADING Redis is loading the dataset in memory\r\n".to_vec()
    );
    for (i, (a, b)) in seen[0].0.iter().zip(seen[1].0.iter()).enumerate() {
        assert_eq!(common::show(a), common::show(b), "reply {i} while loading");
    }
    assert_eq!(seen[0].1, seen[1].1);
    assert_eq!(seen[0].1, b":1165\r\n");
}

/// BGREWRITEAOF runs as a background snapshot: while the new base is written,
/// clients keep reading and writing (their writes go to the new incremental file),
/// and after a crash (SIGKILL) the base plus the new file give back everything.
#[test]
fn aof_rewrite_runs_in_the_background() {
    let dir = TmpDir::new("aofrw");
    let args = [
        "--dir",
        &dir.s(),
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--rdb-key-save-delay",
        "500",
    ];
    let mut f = ferrodis(&args);
    let mut c = f.client();
    populate(&mut c, 500);
    let dbs = [0usize, 2, 5];
    assert_eq!(
        c.cmds(&["BGREWRITEAOF"]),
        b"+Background append only file rewriting started\r\n"
    );
    let until = Instant::now() + Duration::from_secs(10);
    while info_field(&mut c, "aof_rewrite_in_progress") != "1" {
        assert!(Instant::now() < until, "the rewrite did not start");
        std::thread::sleep(Duration::from_millis(5));
    }
    // Served while the base is being written (about a second at 500 µs per key).
    let mut slowest = Duration::ZERO;
    for i in 0..200 {
        let t = Instant::now();
        ok(&mut c, &["INCR", "during"]);
        ok(&mut c, &["SET", &format!("s:{i}"), "rewritten-meanwhile"]);
        slowest = slowest.max(t.elapsed());
    }
    assert_eq!(info_field(&mut c, "aof_rewrite_in_progress"), "1");
    assert_eq!(
        c.cmds(&["BGSAVE"]),
        b"-ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.\r\n".to_vec()
    );
    assert!(
        slowest < Duration::from_millis(500),
        "a write waited {slowest:?}"
    );
    let until = Instant::now() + Duration::from_secs(60);
    while info_field(&mut c, "aof_rewrite_in_progress") != "0" {
        assert!(Instant::now() < until, "the rewrite did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(info_field(&mut c, "aof_last_bgrewrite_status"), "ok");
    ok(&mut c, &["SET", "after", "rewrite"]);
    let expected = digest(&mut c, &dbs);
    // The manifest names the new base and one incremental file.
    let manifest =
        std::fs::read_to_string(dir.path().join("appendonlydir/appendonly.aof.manifest"))
            .expect("manifest");
    assert!(manifest.contains("appendonly.aof.2.base.rdb"), "{manifest}");
    assert_eq!(manifest.lines().count(), 2, "{manifest}");
    let _ = f.child.kill();
    let _ = f.child.wait();
    let f2 = ferrodis(&["--dir", &dir.s(), "--appendonly", "yes"]);
    let mut c2 = f2.client();
    assert_eq!(digest(&mut c2, &dbs), expected);
    assert_eq!(c2.cmds(&["GET", "during"]), b"$3\r\n200\r\n");
}
