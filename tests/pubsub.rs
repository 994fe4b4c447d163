//! Pub/Sub with several clients. Each scenario runs against Ferrodis and the reference
//! redis-server and the transcripts (every frame each client received, in order) must
//! be identical. Plus: a subscriber that never reads is disconnected by
//! `client-output-buffer-limit pubsub` (hard and soft limits) and the server's memory
//! stays bounded, and the Rust `redis` crate's pubsub API works against Ferrodis.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::scenario::differential;
use common::{encode, ferrodis, redis, show, RawClient};

#[test]
fn channels_patterns_and_counts() {
    differential(
        "
        1>3 SUBSCRIBE news sport news
        2>2 PSUBSCRIBE n* s?ort
        3>1 PSUBSCRIBE *
        # a channel subscriber plus two patterns: 3 receivers
        4> PUBLISH news hello
        1<
        2<
        3<
        4> PUBLISH sport goal
        1<
        2<
        3<
        4> PUBLISH weather rain
        1?
        2?
        3<
        4> PUBSUB NUMSUB news sport weather
        4> PUBSUB NUMPAT
        4>u PUBSUB CHANNELS
        4> PUBSUB CHANNELS n*
        4> PUBSUB CHANNELS nope*
        # message order is preserved, binary payloads intact
        4> PUBLISH news m1
        4> PUBLISH news m2
        4> PUBLISH news ''
        1<3
        2<3
        3<3
        # one client subscribed through two patterns gets the message twice
        5>2 PSUBSCRIBE a* *b
        4> PUBLISH ab x
        5<~2
        3<
        # unsubscribe part: counts drop, publishing reaches fewer clients
        1>1 UNSUBSCRIBE news
        4> PUBLISH news after
        2<
        3<
        1?
        4> PUBSUB NUMSUB news sport
        1>1 UNSUBSCRIBE
        4> PUBSUB NUMSUB news sport
        2>2 PUNSUBSCRIBE
        4> PUBSUB NUMPAT
        4> PUBLISH news last
        3<
        2?
        1?
        ",
    );
}

#[test]
fn shard_channels() {
    differential(
        "
        1>2 SSUBSCRIBE orders:{1} orders:{2}
        2>1 SUBSCRIBE orders:{1}
        3>1 PSUBSCRIBE orders*
        # SPUBLISH reaches shard subscribers only, PUBLISH never reaches them
        4> SPUBLISH orders:{1} o1
        1<
        2?
        3?
        4> PUBLISH orders:{1} p1
        2<
        3<
        1?
        4> PUBSUB SHARDNUMSUB orders:{1} orders:{2} orders:{3}
        4> PUBSUB NUMSUB orders:{1}
        4>u PUBSUB SHARDCHANNELS
        4> PUBSUB SHARDCHANNELS *{2}
        # shard counts are separate from channel counts
        1>1 SUBSCRIBE plain
        1>1 SUNSUBSCRIBE orders:{2}
        1>1 UNSUBSCRIBE plain
        1> GET k
        1>1 SUNSUBSCRIBE
        1> GET k
        4> PUBSUB SHARDCHANNELS
        ",
    );
}

#[test]
fn subscriber_mode_rules() {
    differential(
        "
        1>2 SUBSCRIBE a b
        1> GET k
        1> SET k v
        1> PUBLISH a x
        1> PUBSUB NUMSUB a
        1> CLIENT LIST
        1> INFO
        1> PING
        1> PING msg
        1> ECHO x
        1>1 PSUBSCRIBE p*
        1> PING
        2> PUBLISH a m
        1<
        2> PUBLISH pq m
        1<
        # (with several channels the order of UNSUBSCRIBE's confirmations, and so
        # their counts, follows Redis's hash table: leave one)
        1>1 UNSUBSCRIBE b
        1>1 UNSUBSCRIBE
        1> PUNSUBSCRIBE
        1> GET k
        1> PING
        # RESET in subscriber mode
        1>1 SUBSCRIBE c
        1> RESET
        1> GET k
        2> PUBLISH c nobody
        2> PUBSUB NUMSUB c
        ",
    );
}

#[test]
fn resp3_pushes_interleave_with_replies() {
    differential(
        "
        1!> HELLO 3
        1>2 SUBSCRIBE ch other
        1>1 PSUBSCRIBE c*
        # any command runs while subscribed; pushes arrive between replies
        1> SET k v
        2> PUBLISH ch one
        1<2
        1> GET k
        2> PUBLISH ch two
        1> INCR n
        1<2
        1> INCR n
        # its own messages come before the PUBLISH reply
        1>3 PUBLISH ch self
        1>2 PUBLISH other self2
        1>1 SPUBLISH ch shard
        1> PUBSUB NUMSUB ch
        1>2 UNSUBSCRIBE ch other
        1> PING
        1>1 PUNSUBSCRIBE
        1>1 UNSUBSCRIBE
        2> PUBLISH ch nobody
        1?
        # RESP2 subscriber and RESP3 subscriber on the same channel
        1>1 SUBSCRIBE mix
        3>1 SUBSCRIBE mix
        2> PUBLISH mix both
        1<
        3<
        ",
    );
}

#[test]
fn resp3_subscriber_blocked_in_blpop_still_receives() {
    differential(
        "
        1!> HELLO 3
        1>1 SUBSCRIBE ch
        1>> BLPOP q 0
        2> PUBLISH ch while-blocked
        1<
        1?
        2> RPUSH q v
        1<
        1> PING
        ",
    );
}

#[test]
fn introspection() {
    // Compared by value on both servers (addresses, ids and counters differ).
    for port in [ferrodis(&[]), redis(&[])].iter().map(|s| s.port) {
        let mut c1 = RawClient::connect(port);
        c1.cmds(&["SUBSCRIBE", "a", "b"]);
        c1.read_reply();
        c1.cmds(&["PSUBSCRIBE", "p*"]);
        let mut c2 = RawClient::connect(port);
        c2.cmds(&["HELLO", "3"]);
        c2.cmds(&["SSUBSCRIBE", "s"]);
        let mut c3 = RawClient::connect(port);
        let list =
            String::from_utf8_lossy(&c3.cmds(&["CLIENT", "LIST", "TYPE", "pubsub"])).into_owned();
        let lines: Vec<&str> = list.lines().filter(|l| l.contains("id=")).collect();
        assert_eq!(lines.len(), 2, "{list}");
        assert!(lines[0].contains(" flags=P ") && lines[0].contains(" sub=2 psub=1 ssub=0 "));
        assert!(lines[1].contains(" flags=P ") && lines[1].contains(" sub=0 psub=0 ssub=1 "));
        let info = String::from_utf8_lossy(&c2.cmds(&["CLIENT", "INFO"])).into_owned();
        assert!(
            info.contains(" flags=P ") && info.contains(" ssub=1 "),
            "{info}"
        );
        let normal = String::from_utf8_lossy(&c3.cmds(&["CLIENT", "INFO"])).into_owned();
        assert!(normal.contains(" flags=N ") && normal.contains(" sub=0 psub=0 ssub=0 "));
        let stats = String::from_utf8_lossy(&c3.cmds(&["INFO", "stats"])).into_owned();
        for want in [
            "pubsub_channels:2\r",
            "pubsub_patterns:1\r",
            "pubsubshard_channels:1\r",
        ] {
            assert!(stats.contains(want), "{want} in {stats}");
        }
        // CLIENT KILL TYPE pubsub closes both subscribers.
        assert_eq!(c3.cmds(&["CLIENT", "KILL", "TYPE", "pubsub"]), b":2\r\n");
        assert_eq!(c3.cmds(&["PUBSUB", "NUMPAT"]), b":0\r\n");
        assert_eq!(c1.read_reply(), b"");
    }
}

/// A subscriber that never reads, on the server at `port`: the publisher keeps going
/// (never blocked), the subscriber is disconnected once it exceeds the limit set with
/// `limit`, and memory stays bounded. Returns how long the disconnection took.
fn slow_subscriber(port: u16, limit: &str, pause_every: usize) -> Duration {
    let mut sub = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    sub.write_all(&encode(&[b"SUBSCRIBE", b"firehose"]))
        .expect("subscribe");
    let mut pubc = RawClient::connect(port);
    assert_eq!(
        pubc.cmds(&["CONFIG", "SET", "client-output-buffer-limit", limit]),
        b"+OK\r\n"
    );
    let used = |c: &mut RawClient| -> u64 {
        let info = String::from_utf8_lossy(&c.cmds(&["INFO", "memory"])).into_owned();
        info.lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("used_memory")
    };
    // Wait until the subscription is in place.
    let deadline = Instant::now() + Duration::from_secs(5);
    while pubc.cmds(&["PUBSUB", "NUMSUB", "firehose"]) != b"*2\r\n$8\r\nfirehose\r\n:1\r\n" {
        assert!(Instant::now() < deadline, "subscription never registered");
        std::thread::sleep(Duration::from_millis(10));
    }
    let before = used(&mut pubc);
    let payload = vec![b'x'; 16 * 1024];
    let started = Instant::now();
    let mut peak = before;
    let mut published = 0u64;
    // Up to 400 MB, far more than the limit and the socket buffers together.
    let disconnected_after = loop {
        let r = pubc.cmd(&[b"PUBLISH", b"firehose", &payload]);
        published += 1;
        if r == b":0\r\n" {
            break started.elapsed();
        }
        assert_eq!(r, b":1\r\n");
        if published.is_multiple_of(64) {
            peak = peak.max(used(&mut pubc));
        }
        if pause_every > 0 && published.is_multiple_of(pause_every as u64) {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            published < 25_000 && started.elapsed() < Duration::from_secs(60),
            "the slow subscriber was never disconnected ({published} messages)"
        );
    };
    // The subscriber's connection is closed: reading gives its confirmation, perhaps
    // some messages, then EOF.
    sub.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut sink = [0u8; 64 * 1024];
    loop {
        match sub.read(&mut sink) {
            Ok(0) => break,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("subscriber connection not closed: {e}"),
        }
    }
    assert_eq!(
        pubc.cmds(&["PUBSUB", "NUMSUB", "firehose"]),
        b"*2\r\n$8\r\nfirehose\r\n:0\r\n"
    );
    let after = used(&mut pubc);
    let sent = published * payload.len() as u64;
    eprintln!(
        "port {port}: {published} messages ({} MB) published, disconnected after {:?}; used_memory before {before}, peak {peak}, after {after}",
        sent / (1024 * 1024),
        disconnected_after
    );
    // Memory never held more than a few times the limit (well under what was sent).
    assert!(
        peak < before + 24 * 1024 * 1024,
        "used_memory grew from {before} to {peak}"
    );
    assert!(
        after < before + 4 * 1024 * 1024,
        "memory not released: {before} -> {after}"
    );
    disconnected_after
}

#[test]
fn slow_subscriber_hits_the_hard_limit() {
    for srv in [ferrodis(&[]), redis(&[])] {
        slow_subscriber(srv.port, "pubsub 2mb 0 0", 0);
    }
    // The server's log says why.
    let srv = ferrodis(&[
        "--logfile",
        &std::env::temp_dir()
            .join(format!("ferrodis-pubsub-{}.log", std::process::id()))
            .to_string_lossy(),
    ]);
    slow_subscriber(srv.port, "pubsub 1mb 0 0", 0);
    let log = std::fs::read_to_string(
        std::env::temp_dir().join(format!("ferrodis-pubsub-{}.log", std::process::id())),
    )
    .expect("log file");
    assert!(
        log.contains("scheduled to be closed ASAP for overcoming of output buffer limits."),
        "{log}"
    );
    let _ = std::fs::remove_file(
        std::env::temp_dir().join(format!("ferrodis-pubsub-{}.log", std::process::id())),
    );
}

#[test]
fn slow_subscriber_hits_the_soft_limit_after_its_seconds() {
    // No hard limit: over the soft limit for more than 1 s disconnects it, not before.
    for srv in [ferrodis(&[]), redis(&[])] {
        let took = slow_subscriber(srv.port, "pubsub 0 256kb 1", 16);
        assert!(
            took >= Duration::from_millis(1000),
            "{}: disconnected after only {took:?}",
            srv.name
        );
    }
}

#[test]
fn default_limits_are_redis_defaults() {
    for srv in [ferrodis(&[]), redis(&[])] {
        let mut c = srv.client();
        let v = show(&c.cmds(&["CONFIG", "GET", "client-output-buffer-limit"]));
        assert!(
            v.contains("pubsub 33554432 8388608 60"),
            "{}: {v}",
            srv.name
        );
    }
}

#[test]
fn redis_crate_pubsub_api() {
    use redis::Commands;
    let srv = ferrodis(&[]);
    let client = redis::Client::open(srv.url()).expect("client");
    let mut sub_con = client.get_connection().expect("connect");
    let mut publisher = client.get_connection().expect("connect");
    let mut ps = sub_con.as_pubsub();
    ps.subscribe("news").expect("subscribe");
    ps.psubscribe("sport.*").expect("psubscribe");
    ps.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");

    let n: i64 = publisher.publish("news", "hello").expect("publish");
    assert_eq!(n, 1);
    let n: i64 = publisher.publish("sport.tennis", "ace").expect("publish");
    assert_eq!(n, 1);
    let n: i64 = publisher.publish("weather", "rain").expect("publish");
    assert_eq!(n, 0);
    let numsub: Vec<(String, i64)> = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg("news")
        .query(&mut publisher)
        .expect("numsub");
    assert_eq!(numsub, vec![("news".to_string(), 1)]);

    let m = ps.get_message().expect("message");
    assert_eq!(m.get_channel_name(), "news");
    assert_eq!(m.get_payload::<String>().expect("payload"), "hello");
    assert!(!m.from_pattern());
    let m = ps.get_message().expect("message");
    assert_eq!(m.get_channel_name(), "sport.tennis");
    assert_eq!(m.get_pattern::<String>().expect("pattern"), "sport.*");
    assert_eq!(m.get_payload::<String>().expect("payload"), "ace");

    // Many messages arrive complete and in order.
    for i in 0..500 {
        let _: i64 = publisher.publish("news", i).expect("publish");
    }
    for i in 0..500 {
        let m = ps.get_message().expect("message");
        assert_eq!(m.get_payload::<i64>().expect("payload"), i);
    }

    ps.unsubscribe("news").expect("unsubscribe");
    ps.punsubscribe("sport.*").expect("punsubscribe");
    drop(ps);
    // Out of subscriber mode, the connection runs normal commands again.
    let _: () = sub_con.set("k", "v").expect("set");
    let v: String = sub_con.get("k").expect("get");
    assert_eq!(v, "v");
    let n: i64 = publisher.publish("news", "gone").expect("publish");
    assert_eq!(n, 0);
}

#[test]
fn many_subscribers_receive_everything_in_order() {
    // 20 subscribers (half RESP3), 5 publishers x 200 messages: every subscriber gets
    // every message exactly once, and each publisher's messages in order.
    let srv = ferrodis(&[]);
    let mut subs: Vec<RawClient> = (0..20)
        .map(|i| {
            let mut c = srv.client();
            if i % 2 == 1 {
                c.cmds(&["HELLO", "3"]);
            }
            let r = c.cmds(&["SUBSCRIBE", "bus"]);
            assert!(r.ends_with(b":1\r\n"));
            c
        })
        .collect();
    std::thread::scope(|s| {
        for p in 0..5 {
            let port = srv.port;
            s.spawn(move || {
                let mut c = RawClient::connect(port);
                for i in 0..200 {
                    let msg = format!("{p}:{i}");
                    assert_eq!(c.cmds(&["PUBLISH", "bus", &msg]), b":20\r\n");
                }
            });
        }
    });
    for (n, c) in subs.iter_mut().enumerate() {
        let mut next = [0usize; 5];
        for _ in 0..1000 {
            let frame = c.read_reply();
            let text = String::from_utf8_lossy(&frame).into_owned();
            let head = if n % 2 == 1 { ">3\r\n" } else { "*3\r\n" };
            assert!(text.starts_with(head), "{text}");
            let payload = text.split("\r\n").nth(6).expect("payload");
            let (p, i) = payload.split_once(':').expect("p:i");
            let p: usize = p.parse().expect("publisher");
            let i: usize = i.parse().expect("index");
            assert_eq!(i, next[p], "subscriber {n}: publisher {p} out of order");
            next[p] += 1;
        }
        assert_eq!(next, [200; 5]);
        assert!(c.poll_reply(100).is_none());
    }
}

#[test]
fn subscribers_are_exempt_from_the_idle_timeout() {
    for srv in [ferrodis(&[]), redis(&[])] {
        let mut admin = srv.client();
        assert_eq!(admin.cmds(&["CONFIG", "SET", "timeout", "1"]), b"+OK\r\n");
        let mut idle = srv.client();
        assert_eq!(idle.cmds(&["PING"]), b"+PONG\r\n");
        let mut sub = srv.client();
        sub.cmds(&["SUBSCRIBE", "ch"]);
        std::thread::sleep(Duration::from_millis(3500));
        // The idle normal client was closed; the idle subscriber still receives.
        assert_eq!(
            idle.read_reply(),
            b"",
            "{}: idle client not closed",
            srv.name
        );
        let mut publisher = srv.client();
        assert_eq!(
            publisher.cmds(&["PUBLISH", "ch", "still here"]),
            b":1\r\n",
            "{}",
            srv.name
        );
        assert_eq!(
            sub.read_reply(),
            b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$10\r\nstill here\r\n"
        );
        publisher.cmds(&["CONFIG", "SET", "timeout", "0"]);
    }
}
