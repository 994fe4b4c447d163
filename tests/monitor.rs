//! MONITOR compared with the reference redis-server: the same commands run on both,
//! and what a monitoring client receives must be identical once the timestamps and
//! client addresses (which differ by nature) are masked.

mod common;

use std::collections::HashMap;

use common::{ferrodis, ferrodis_with_password, redis, redis_with_password, show, RawClient};

/// Masks a monitor line's timestamp and client address: `+TS [db C1] "..."`, clients
/// numbered in order of appearance (`lua` stays).
fn mask(line: &[u8], addrs: &mut HashMap<String, usize>) -> String {
    let s = String::from_utf8_lossy(line).to_string();
    let Some(rest) = s.strip_prefix('+') else {
        return show(line);
    };
    let Some((ts, rest)) = rest.split_once(" [") else {
        return show(line);
    };
    assert!(
        ts.len() > 8 && ts.as_bytes()[ts.len() - 7] == b'.',
        "timestamp with microseconds: {s:?}"
    );
    let Some((inside, args)) = rest.split_once("] ") else {
        return show(line);
    };
    let Some((db, addr)) = inside.split_once(' ') else {
        return show(line);
    };
    let who = if addr == "lua" {
        "lua".to_string()
    } else {
        let n = addrs.len() + 1;
        format!("C{}", addrs.entry(addr.to_string()).or_insert(n))
    };
    show(format!("+TS [{db} {who}] {args}").as_bytes())
}

/// Everything the monitor received (until it is quiet for a while), masked.
fn drain(m: &mut RawClient, addrs: &mut HashMap<String, usize>) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(r) = m.poll_reply(300) {
        out.push(mask(&r, addrs));
    }
    out
}

/// Runs `steps` (client number 1 or 2, inline command line) on the server at `port`
/// while client 0 monitors; returns the replies and the masked monitor lines.
fn run(port: u16, steps: &[(usize, &str)]) -> Vec<String> {
    let mut clients: Vec<RawClient> = (0..3).map(|_| RawClient::connect(port)).collect();
    let mut addrs = HashMap::new();
    let mut out = Vec::new();
    out.push(format!(
        "MONITOR -> {}",
        show(&clients[0].cmds(&["MONITOR"]))
    ));
    for &(n, line) in steps {
        let args = common::scenario::tokenize(line);
        let argv: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
        let reply = clients[n].cmd(&argv);
        // (client 2 monitors too at some point: its replies may be monitor lines)
        let shown = if reply.starts_with(b"+") && reply.len() > 20 {
            mask(&reply, &mut addrs)
        } else {
            shown_reply(line, &reply)
        };
        out.push(format!("c{n}> {line} -> {shown}"));
        out.extend(drain(&mut clients[0], &mut addrs));
    }
    out
}

/// A reply as compared: HELLO's only by type (it names the version and client id).
fn shown_reply(line: &str, reply: &[u8]) -> String {
    if line.starts_with("HELLO") && !reply.starts_with(b"-") {
        show(reply.get(..1).unwrap_or_default())
    } else {
        show(reply)
    }
}

fn compare(f: u16, r: u16, steps: &[(usize, &str)]) {
    let a = run(f, steps);
    let b = run(r, steps);
    for (x, y) in a.iter().zip(b.iter()) {
        if x != y {
            eprintln!("redis:    {y}\nferrodis: {x}\n");
        }
    }
    assert_eq!(a, b);
    // Something was shown (the comparison is not vacuous).
    assert!(a.iter().any(|l| l.starts_with("+TS")));
}

#[test]
fn monitor_matches_redis() {
    let f = ferrodis(&[]);
    let r = redis(&[]);
    compare(
        f.port,
        r.port,
        &[
            (1, "SET k v"),
            // quoting of binary, quotes, backslashes, control and non-ASCII bytes
            (1, r#"SET "a b" "q\"x\\y\n\r\t\x07\x08\x00\xff\xc3\xa9~""#),
            (2, "GET k"),
            (1, "SELECT 2"),
            (1, "INCR n"),
            (1, "SELECT 0"),
            // transactions: MULTI, then the commands as EXEC runs them, then EXEC
            (1, "MULTI"),
            (1, "SET a 1"),
            (1, "INCR a"),
            (1, "EXEC"),
            (1, "MULTI"),
            (1, "NOSUCH"),
            (1, "EXEC"),
            (1, "DISCARD"),
            // scripts: the script command first, then what it calls
            (
                1,
                r#"EVAL "redis.call('set',KEYS[1],ARGV[1]); return redis.call('get',KEYS[1])" 1 sk "v 1""#,
            ),
            (1, r#"EVAL "return redis.pcall('nosuch')" 0"#),
            (1, "EVALSHA 0000000000000000000000000000000000000000 0"),
            (
                1,
                "FUNCTION LOAD \"#!lua name=lib\\nredis.register_function('f', function(k, a) return redis.call('get', k[1]) end)\"",
            ),
            (1, "FCALL f 1 k"),
            // not shown: unknown commands, wrong arity, administrative commands
            (1, "NOSUCH x"),
            (1, "GET"),
            (1, "CONFIG GET maxmemory"),
            (1, "CLIENT LIST ID 0"),
            (1, "DEBUG SLEEP 0"),
            // shown: other CLIENT subcommands
            (1, "CLIENT GETNAME"),
            // redaction
            (1, "AUTH secret"),
            (1, "AUTH user secret"),
            (1, "AUTH a b c"),
            (1, "HELLO 2 AUTH default secret"),
            (1, "HELLO 2 SETNAME x AUTH default secret"),
            (1, "HELLO 2 AUTH default"),
            (1, "HELLO 4 AUTH default secret"),
            (1, "PING"),
            (2, "MONITOR"),
            (1, "ECHO two"),
            (2, "RESET"),
            (1, "ECHO one"),
        ],
    );
}

#[test]
fn monitor_client_restrictions() {
    let f = ferrodis(&[]);
    let r = redis(&[]);
    for (port, name) in [(f.port, "ferrodis"), (r.port, "redis")] {
        let mut m = RawClient::connect(port);
        let mut c = RawClient::connect(port);
        // Not inside a transaction.
        m.cmds(&["MULTI"]);
        m.cmds(&["MONITOR"]);
        let exec = show(&m.cmds(&["EXEC"]));
        assert_eq!(
            exec, "*1\\r\\n-ERR MONITOR isn't allowed for DENY BLOCKING client\\r\\n",
            "{name}"
        );
        assert_eq!(show(&m.cmds(&["MONITOR"])), "+OK\\r\\n", "{name}");
        // A second MONITOR gets no reply at all.
        m.send_raw(&common::encode(&[b"MONITOR"]));
        assert!(m.poll_reply(300).is_none(), "{name}");
        // The keyspace is off limits; other commands work and are shown after
        // their reply.
        assert_eq!(
            show(&m.cmds(&["GET", "k"])),
            "-ERR Replica can't interact with the keyspace\\r\\n",
            "{name}"
        );
        assert_eq!(show(&m.cmds(&["PING"])), "+PONG\\r\\n", "{name}");
        let mut addrs = HashMap::new();
        assert_eq!(
            mask(&m.read_reply(), &mut addrs),
            "+TS [0 C1] \"PING\"\\r\\n",
            "{name}"
        );
        let info = String::from_utf8_lossy(&c.cmds(&["CLIENT", "LIST"])).to_string();
        assert!(info.contains(" flags=O "), "{name}: {info}");
        // RESET leaves MONITOR mode.
        assert_eq!(show(&m.cmds(&["RESET"])), "+RESET\\r\\n", "{name}");
        c.cmds(&["SET", "k", "v"]);
        assert!(m.poll_reply(300).is_none(), "{name}");
        assert_eq!(show(&m.cmds(&["GET", "k"])), "$1\\r\\nv\\r\\n", "{name}");
    }
}

#[test]
fn monitor_redacts_successful_auth() {
    let f = ferrodis_with_password("pw", &[]);
    let r = redis_with_password("pw", &[]);
    let run = |port: u16| -> Vec<String> {
        let mut m = RawClient::connect(port);
        let mut c = RawClient::connect(port);
        let mut out = vec![show(&m.cmds(&["AUTH", "pw"]))];
        out.push(show(&m.cmds(&["MONITOR"])));
        let mut addrs = HashMap::new();
        for line in [
            "GET k",
            "AUTH pw",
            "AUTH wrong",
            "AUTH default pw",
            "HELLO 3 AUTH default pw",
        ] {
            let args = common::scenario::tokenize(line);
            let argv: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
            out.push(format!("{line} -> {}", shown_reply(line, &c.cmd(&argv))));
            out.extend(drain(&mut m, &mut addrs));
        }
        out
    };
    assert_eq!(run(f.port), run(r.port));
}
