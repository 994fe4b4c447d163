//! Lazy freeing (`keyspace/lazyfree.rs`): UNLINK hands a big value to the background
//! thread, DEL does so only with `lazyfree-lazy-user-del yes`, expiry with
//! `lazyfree-lazy-expire yes`, eviction with `lazyfree-lazy-eviction yes`; small values
//! are always freed in place. Observed through INFO's `lazyfreed_objects`, which Redis
//! reports the same way.

mod common;

use common::{ferrodis, RawClient};

fn lazyfreed(c: &mut RawClient) -> u64 {
    let info = String::from_utf8_lossy(&c.cmds(&["INFO", "memory"])).to_string();
    info.lines()
        .find_map(|l| l.strip_prefix("lazyfreed_objects:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("INFO memory has lazyfreed_objects")
}

/// Waits until the background thread has freed `want` objects in all.
fn wait_freed(c: &mut RawClient, want: u64) {
    for _ in 0..400 {
        if lazyfreed(c) >= want {
            assert_eq!(
                lazyfreed(c),
                want,
                "more objects freed lazily than expected"
            );
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!(
        "lazyfreed_objects did not reach {want} (at {})",
        lazyfreed(c)
    );
}

/// A hash-table set of `n` members under `key`, sent as one pipelined SADD.
fn big_set(c: &mut RawClient, key: &str, n: usize) {
    let members: Vec<String> = (0..n).map(|i| format!("member-{i}")).collect();
    let mut args = vec!["SADD", key];
    args.extend(members.iter().map(|s| s.as_str()));
    assert_eq!(c.cmds(&args), format!(":{n}\r\n").into_bytes());
    assert_eq!(c.cmds(&["OBJECT", "ENCODING", key]), b"$9\r\nhashtable\r\n");
}

#[test]
fn unlink_del_expire_and_eviction_free_big_values_lazily() {
    let srv = ferrodis(&[]);
    let mut c = srv.client();
    assert_eq!(lazyfreed(&mut c), 0);

    // UNLINK: a big value goes to the thread, a small one does not.
    big_set(&mut c, "big", 5000);
    c.cmds(&["SET", "small", "v"]);
    c.cmds(&["SADD", "smallset", "a", "b", "c"]);
    assert_eq!(
        c.cmds(&["UNLINK", "big", "small", "smallset", "missing"]),
        b":3\r\n"
    );
    wait_freed(&mut c, 1);
    assert_eq!(c.cmds(&["EXISTS", "big"]), b":0\r\n");

    // DEL frees in place by default (Redis 7.0's lazyfree-lazy-user-del no) ...
    big_set(&mut c, "big", 5000);
    assert_eq!(c.cmds(&["DEL", "big"]), b":1\r\n");
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert_eq!(lazyfreed(&mut c), 1);
    // ... and like UNLINK with lazyfree-lazy-user-del yes.
    c.cmds(&["CONFIG", "SET", "lazyfree-lazy-user-del", "yes"]);
    big_set(&mut c, "big", 5000);
    assert_eq!(c.cmds(&["DEL", "big"]), b":1\r\n");
    wait_freed(&mut c, 2);

    // Expiry (found by a lookup) with lazyfree-lazy-expire yes.
    c.cmds(&["CONFIG", "SET", "lazyfree-lazy-expire", "yes"]);
    big_set(&mut c, "volatile", 5000);
    assert_eq!(c.cmds(&["PEXPIRE", "volatile", "1"]), b":1\r\n");
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert_eq!(c.cmds(&["EXISTS", "volatile"]), b":0\r\n");
    wait_freed(&mut c, 3);

    // CONFIG RESETSTAT clears the counter, as Redis's lazyfreeResetStats.
    assert_eq!(c.cmds(&["CONFIG", "RESETSTAT"]), b"+OK\r\n");
    assert_eq!(lazyfreed(&mut c), 0);

    // Eviction with lazyfree-lazy-eviction yes: the only key is a big set.
    big_set(&mut c, "victim", 20000);
    c.cmds(&["CONFIG", "SET", "lazyfree-lazy-eviction", "yes"]);
    c.cmds(&["CONFIG", "SET", "maxmemory-policy", "allkeys-random"]);
    c.cmds(&["CONFIG", "SET", "maxmemory", "1"]);
    c.cmds(&["SET", "trigger", "x"]);
    c.cmds(&["CONFIG", "SET", "maxmemory", "0"]);
    assert_eq!(c.cmds(&["EXISTS", "victim"]), b":0\r\n");
    wait_freed(&mut c, 1);
}

/// FLUSHALL / FLUSHDB ASYNC: the tables go to the lazyfree thread, which counts one
/// object per key (Redis's `emptyDbAsync`: `lazyfreed_objects` grows by the number of
/// keys, on both servers); they do what the synchronous flush does first: a WATCHed
/// key that existed makes EXEC fail, and the keys are gone at once.
#[test]
fn flush_async_frees_tables_in_the_background_like_redis() {
    for srv in [ferrodis(&[]), common::redis(&[])] {
        let mut c = srv.client();
        let mut w = srv.client();
        assert_eq!(
            c.cmds(&["DEBUG", "POPULATE", "3000", "key", "10"]),
            b"+OK\r\n"
        );
        c.cmds(&["SELECT", "3"]);
        assert_eq!(
            c.cmds(&["DEBUG", "POPULATE", "500", "k3", "10"]),
            b"+OK\r\n"
        );
        // A WATCHed key flushed asynchronously counts as modified.
        assert_eq!(w.cmds(&["WATCH", "key:7"]), b"+OK\r\n");
        assert_eq!(c.cmds(&["FLUSHALL", "ASYNC"]), b"+OK\r\n", "{}", srv.name);
        assert_eq!(c.cmds(&["DBSIZE"]), b":0\r\n");
        c.cmds(&["SELECT", "0"]);
        assert_eq!(c.cmds(&["DBSIZE"]), b":0\r\n");
        assert_eq!(w.cmds(&["MULTI"]), b"+OK\r\n");
        assert_eq!(w.cmds(&["SET", "key:7", "x"]), b"+QUEUED\r\n");
        assert_eq!(w.cmds(&["EXEC"]), b"*-1\r\n", "{}", srv.name);
        wait_freed(&mut c, 3500);
        // FLUSHDB ASYNC of database 0 only.
        assert_eq!(
            c.cmds(&["DEBUG", "POPULATE", "200", "key", "10"]),
            b"+OK\r\n"
        );
        c.cmds(&["SELECT", "5"]);
        assert_eq!(
            c.cmds(&["DEBUG", "POPULATE", "100", "key", "10"]),
            b"+OK\r\n"
        );
        c.cmds(&["SELECT", "0"]);
        assert_eq!(c.cmds(&["FLUSHDB", "ASYNC"]), b"+OK\r\n");
        wait_freed(&mut c, 3700);
        c.cmds(&["SELECT", "5"]);
        assert_eq!(c.cmds(&["DBSIZE"]), b":100\r\n", "{}", srv.name);
        // An empty database frees nothing.
        c.cmds(&["SELECT", "9"]);
        assert_eq!(c.cmds(&["FLUSHDB", "ASYNC"]), b"+OK\r\n");
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(lazyfreed(&mut c), 3700, "{}", srv.name);
    }
}

/// A value big enough to be dropped through `lazyfree::blocking` (DEL with
/// `lazyfree-lazy-user-del no`): still freed in place (not counted as lazily freed),
/// on the multi-threaded runtime (`block_in_place`) and on the single-threaded one
/// (`worker-threads 1`, where it is a plain drop), and the server keeps answering.
#[test]
fn del_of_a_very_big_value_frees_in_place_on_both_runtimes() {
    for threads in ["0", "1", "2"] {
        let srv = ferrodis(&["--worker-threads", threads]);
        let mut c = srv.client();
        big_set(&mut c, "big", 20_000);
        assert_eq!(c.cmds(&["DEL", "big"]), b":1\r\n");
        assert_eq!(c.cmds(&["PING"]), b"+PONG\r\n");
        assert_eq!(lazyfreed(&mut c), 0, "worker-threads {threads}");
        assert_eq!(c.cmds(&["EXISTS", "big"]), b":0\r\n");
        // MULTI/EXEC (run under the exclusive gate) too.
        big_set(&mut c, "big", 20_000);
        c.cmds(&["MULTI"]);
        c.cmds(&["DEL", "big"]);
        assert_eq!(c.cmds(&["EXEC"]), b"*1\r\n:1\r\n");
        assert_eq!(lazyfreed(&mut c), 0);
    }
}
