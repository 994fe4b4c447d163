//! Lua scripts with several clients, compared with the reference redis-server: a long
//! script makes other clients get BUSY after `busy-reply-threshold`, SCRIPT KILL stops
//! a script that has not written, and a script that wrote cannot be killed. Plus the
//! atomicity of scripts under concurrent load.

mod common;

use common::scenario::differential;
use common::{ferrodis, RawClient};

#[test]
fn busy_scripts_and_script_kill() {
    differential(
        "
        2> CONFIG SET busy-reply-threshold 200
        2> SCRIPT KILL
        1>> EVAL \"local i = 0 while true do i = i + 1 end\" 0
        sleep 500
        2> PING
        2> GET k
        2> SCRIPT KILL
        1<
        2> PING
        2> SCRIPT KILL
        # a script that wrote cannot be killed (it is the last thing this test does:
        # only SHUTDOWN NOSAVE would stop it, and the servers are killed at the end)
        1>> EVAL \"redis.call('set', 'x', 'y') while true do end\" 0
        sleep 500
        2> SCRIPT KILL
        2> SET other 1
        ",
    );
}

/// Scripts that read-modify-write several keys, from several clients at once: no
/// update is lost and no other client sees a half-done script.
#[test]
fn scripts_are_atomic_under_concurrency() {
    let f = ferrodis(&[]);
    let port = f.port;
    let script = "local a = tonumber(redis.call('get', KEYS[1]) or '0') \
                  local b = tonumber(redis.call('get', 'undeclared') or '0') \
                  redis.call('set', KEYS[1], a + 1) \
                  redis.call('set', 'undeclared', b + 1) \
                  return a + 1";
    let checker = std::thread::spawn(move || {
        let mut c = RawClient::connect(port);
        for _ in 0..500 {
            let r = c.cmds(&["MGET", "counter", "undeclared"]);
            let (_, parts) = common::split_elements(&r);
            assert_eq!(parts[0], parts[1], "saw a half-done script");
        }
    });
    let workers: Vec<_> = (0..6)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = RawClient::connect(port);
                for _ in 0..200 {
                    let r = c.cmds(&["EVAL", script, "1", "counter"]);
                    assert!(r.starts_with(b":"), "{}", common::show(&r));
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    checker.join().expect("checker");
    let mut c = RawClient::connect(port);
    assert_eq!(c.cmds(&["GET", "counter"]), b"$4\r\n1200\r\n");
    assert_eq!(c.cmds(&["GET", "undeclared"]), b"$4\r\n1200\r\n");
}
