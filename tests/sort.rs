//! SORT behaviour the differential cases cannot cover: hash fields with TTLs (Redis
//! 7.4's HPEXPIRE, which the reference 7.0 lacks) seen through `GET key->field` and
//! `BY key->field`, and SORT ... STORE running concurrently with writers of the keys
//! its patterns read (SORT locks the whole database; this must neither deadlock nor
//! read torn data).

mod common;

use std::time::Duration;

use common::RawClient;

fn cmd(c: &mut RawClient, args: &[&str]) -> String {
    String::from_utf8_lossy(&c.cmds(args)).into_owned()
}

#[test]
fn expired_hash_fields_are_missing_for_get_and_by() {
    let srv = common::ferrodis(&[]);
    let mut c = srv.client();
    cmd(&mut c, &["RPUSH", "l", "1", "2"]);
    cmd(&mut c, &["HSET", "h_1", "w", "5", "name", "one"]);
    cmd(&mut c, &["HSET", "h_2", "w", "3", "name", "two"]);
    assert_eq!(
        cmd(&mut c, &["SORT", "l", "BY", "h_*->w", "GET", "h_*->name"]),
        "*2\r\n$3\r\ntwo\r\n$3\r\none\r\n"
    );
    // h_2's weight expires: it counts as 0 and sorts first; its name stays.
    assert_eq!(
        cmd(&mut c, &["HPEXPIRE", "h_2", "1", "FIELDS", "1", "w"]),
        "*1\r\n:1\r\n"
    );
    // Both of h_1's fields expire: the hash itself is gone afterwards.
    assert_eq!(
        cmd(
            &mut c,
            &["HPEXPIRE", "h_1", "1", "FIELDS", "2", "w", "name"]
        ),
        "*2\r\n:1\r\n:1\r\n"
    );
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(
        cmd(
            &mut c,
            &[
                "SORT",
                "l",
                "BY",
                "h_*->w",
                "GET",
                "#",
                "GET",
                "h_*->name",
                "GET",
                "h_*->w"
            ]
        ),
        "*6\r\n$1\r\n1\r\n$-1\r\n$-1\r\n$1\r\n2\r\n$3\r\ntwo\r\n$-1\r\n"
    );
    assert_eq!(cmd(&mut c, &["EXISTS", "h_1"]), ":0\r\n");
    assert_eq!(
        cmd(&mut c, &["HGETALL", "h_2"]),
        "*2\r\n$4\r\nname\r\n$3\r\ntwo\r\n"
    );
}

#[test]
fn sort_store_runs_alongside_writers() {
    let srv = common::ferrodis(&[]);
    let mut c = srv.client();
    let ids: Vec<String> = (0..50).map(|i| i.to_string()).collect();
    let mut push = vec!["RPUSH", "ids"];
    push.extend(ids.iter().map(String::as_str));
    cmd(&mut c, &push);
    let port = srv.port;
    let writers: Vec<_> = (0..3)
        .map(|t| {
            std::thread::spawn(move || {
                let mut w = RawClient::connect(port);
                for round in 0..200 {
                    let i = (round * 7 + t) % 50;
                    let key = format!("w_{i}");
                    let val = (round * 13 % 97).to_string();
                    w.cmds(&["SET", &key, &val]);
                    w.cmds(&["RPUSH", "ids", "x"]);
                    w.cmds(&["LPOP", "other"]);
                }
            })
        })
        .collect();
    for _ in 0..100 {
        let r = cmd(
            &mut c,
            &[
                "SORT", "ids", "BY", "w_*", "LIMIT", "0", "10", "STORE", "top",
            ],
        );
        // Elements "x" have no weight (0) until written; either way a count comes back,
        // never an error or a hang.
        assert!(r.starts_with(':'), "unexpected reply {r:?}");
        assert_eq!(cmd(&mut c, &["LLEN", "top"]), ":10\r\n");
    }
    for w in writers {
        w.join().expect("writer thread");
    }
}
