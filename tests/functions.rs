//! Functions while one runs: FUNCTION STATS reports it, FUNCTION KILL stops a
//! function that has not written, and refuses (UNKILLABLE) once it has.

mod common;

use std::time::Duration;

use common::{ferrodis, show};

const LIB: &str = "#!lua name=slow\n\
redis.register_function{function_name='spin', callback=function() local i = 0 while true do i = i + 1 end end, flags={'no-writes'}}\n\
redis.register_function('spinw', function() redis.call('set', 'w', '1') local i = 0 while i < 20000000 do i = i + 1 end return 'done' end)";

#[test]
fn stats_and_kill_while_a_function_runs() {
    let srv = ferrodis(&[]);
    let mut c = srv.client();
    assert_eq!(c.cmds(&["FUNCTION", "LOAD", LIB]), b"$4\r\nslow\r\n");
    assert_eq!(
        c.cmds(&["FUNCTION", "KILL"]),
        b"-NOTBUSY No scripts in execution right now.\r\n"
    );

    let mut runner = srv.client();
    runner.send_raw(&common::encode(&[b"FCALL", b"spin", b"0"]));
    std::thread::sleep(Duration::from_millis(300));
    let stats = c.cmds(&["FUNCTION", "STATS"]);
    assert!(
        stats.starts_with(b"*4\r\n$14\r\nrunning_script\r\n*6\r\n$4\r\nname\r\n$4\r\nspin\r\n$7\r\ncommand\r\n*3\r\n$5\r\nFCALL\r\n$4\r\nspin\r\n$1\r\n0\r\n$11\r\nduration_ms\r\n:"),
        "{}",
        show(&stats)
    );
    assert_eq!(c.cmds(&["FUNCTION", "KILL"]), b"+OK\r\n");
    let killed = runner.read_reply();
    assert_eq!(
        killed,
        b"-ERR Script killed by user with SCRIPT KILL... script: spin, on @user_function:2.\r\n"
            .to_vec(),
        "{}",
        show(&killed)
    );
    let stats = c.cmds(&["FUNCTION", "STATS"]);
    assert!(
        stats.starts_with(b"*4\r\n$14\r\nrunning_script\r\n$-1\r\n"),
        "{}",
        show(&stats)
    );

    runner.send_raw(&common::encode(&[b"FCALL", b"spinw", b"0"]));
    std::thread::sleep(Duration::from_millis(200));
    let refused = c.cmds(&["FUNCTION", "KILL"]);
    if refused != b"-NOTBUSY No scripts in execution right now.\r\n" {
        // Still running (the normal case): it wrote, so it cannot be killed.
        assert!(refused.starts_with(b"-UNKILLABLE "), "{}", show(&refused));
    }
    assert_eq!(runner.read_reply(), b"$4\r\ndone\r\n");
    assert_eq!(c.cmds(&["GET", "w"]), b"$1\r\n1\r\n");
}
