//! Client-side caching (CLIENT TRACKING): every scenario runs on Ferrodis and on the
//! reference redis-server and the transcripts (replies and pushed invalidations, in
//! the order each client received them) must be identical. `N?` proves that nothing
//! (more) arrived. A few checks that the scenario language cannot express (random
//! evictions, INFO fields) run the same commands on both servers and compare what
//! matters.

mod common;

use common::scenario::differential;
use common::{ferrodis, redis, show, RawClient};

#[test]
fn tracking_options_and_errors() {
    differential(
        "
        2!> PING
        1> CLIENT TRACKING
        1> CLIENT TRACKING maybe
        1> CLIENT TRACKING on foo
        1> CLIENT TRACKING on REDIRECT
        1> CLIENT TRACKING on REDIRECT abc
        1> CLIENT TRACKING on REDIRECT 999999
        1> CLIENT TRACKING on REDIRECT 0
        1> CLIENT TRACKING on REDIRECT -1
        1> CLIENT TRACKING on REDIRECT $ID2 REDIRECT $ID2
        1> CLIENT TRACKING on PREFIX a
        1> CLIENT TRACKING on BCAST OPTIN
        1> CLIENT TRACKING on BCAST OPTOUT
        1> CLIENT TRACKING on OPTIN OPTOUT
        1> CLIENT TRACKING off BCAST PREFIX a
        1> CLIENT CACHING
        1> CLIENT CACHING yes
        1> CLIENT CACHING no
        1> CLIENT GETREDIR
        1> CLIENT TRACKINGINFO
        1> CLIENT TRACKINGINFO extra
        1> CLIENT TRACKING on OPTIN
        1> CLIENT CACHING no
        1> CLIENT CACHING maybe
        1> CLIENT CACHING yes
        1> CLIENT TRACKINGINFO
        1> CLIENT TRACKING on OPTOUT
        1> CLIENT TRACKING on BCAST
        1> CLIENT TRACKING on NOLOOP
        1> CLIENT TRACKINGINFO
        1> CLIENT TRACKING on OPTOUT
        1> CLIENT CACHING yes
        1> CLIENT CACHING no
        1> CLIENT TRACKINGINFO
        # (client ids differ between the two servers: see client_list_flags)
        1> CLIENT TRACKING on REDIRECT $ID2
        1> CLIENT TRACKING off
        1> CLIENT GETREDIR
        1> CLIENT TRACKINGINFO
        1> CLIENT TRACKING OFF
        # BCAST prefixes and their overlaps
        1> CLIENT TRACKING on BCAST PREFIX a PREFIX b
        1> CLIENT TRACKING on
        1> CLIENT TRACKING on BCAST PREFIX a
        1> CLIENT TRACKING on BCAST PREFIX bar
        1> CLIENT TRACKING on BCAST PREFIX c PREFIX cd
        1> CLIENT TRACKING on BCAST PREFIX de PREFIX d
        1> CLIENT TRACKINGINFO
        # Redis 7.0 replies an error and then +OK when the overlap is between two
        # given prefixes after the first one (and adds them all)
        1> CLIENT TRACKING on BCAST PREFIX x PREFIX y PREFIX yz
        1<
        1> CLIENT TRACKINGINFO
        1> CLIENT TRACKING on BCAST
        1> CLIENT TRACKINGINFO
        1> CLIENT TRACKING on BCAST PREFIX q
        1> CLIENT TRACKING off
        1> CLIENT TRACKING on BCAST PREFIX \"x\\x00y\" PREFIX \"x\\x00z\"
        1> CLIENT TRACKINGINFO
        1> CLIENT TRACKING on BCAST PREFIX \"x\\x00\"
        1!> HELLO 3
        1> CLIENT TRACKINGINFO
        1> CLIENT TRACKING off
        1> CLIENT TRACKINGINFO
        1> RESET
        1> CLIENT TRACKING on OPTIN NOLOOP
        1> CLIENT CACHING yes
        1> RESET
        1> CLIENT TRACKINGINFO
        ",
    );
}

#[test]
fn resp3_self_invalidation_follows_the_reply() {
    differential(
        "
        1!> HELLO 3
        1> CLIENT TRACKING on
        1> GET k
        1> SET k v
        1<
        1?
        # invalidated once, then forgotten until read again
        2> SET k v2
        1?
        1> GET k
        2> SET k v3
        1<
        1?
        # several readers, and a key read by MGET
        3!> HELLO 3
        3> CLIENT TRACKING on
        1> MGET a b
        3> GET a
        2> MSET a 1 b 2
        1<
        1<
        3<
        1?
        # deleting: only keys that existed change
        1> MGET a b c
        2> DEL a c
        1<
        1?
        3?
        # in-place changes count only if something changed
        1> SADD s x
        1> SMEMBERS s
        2> SADD s x
        1?
        2> SADD s y
        1<
        1> HGET h f
        2> HSET h f 1
        1<
        1> LLEN l
        2> RPUSH l a
        1<
        1> GET n
        2> INCR n
        1<
        1> GET n
        2> EXPIRE n 100
        1<
        1> GET n
        2> EXPIRE missing 100
        2> PERSIST n
        1<
        1> GET n
        2> RENAME n n2
        1<
        1> GET n2
        2> MOVE n2 1
        1<
        1> STRLEN n3
        2> SELECT 1
        # tracking is by key name, whatever the database
        2> SET n3 x
        1<
        # tracking off: nothing more
        1> GET z
        1> CLIENT TRACKING off
        2> SET z 1
        1?
        ",
    );
}

#[test]
fn transactions_scripts_and_flushes() {
    differential(
        "
        1!> HELLO 3
        1> CLIENT TRACKING on
        1> MGET k j
        1> MULTI
        1> SET k 1
        1> SET j 2
        1> EXEC
        1<
        1<
        1?
        # own pipelined writes: each invalidation right after its command's reply
        1> GET p1
        1> GET p2
        1 raw SET p1 1\\r\\nSET p2 1\\r\\n
        1<
        1<
        1<
        1<
        1?
        # a script's reads remember the keys it declared
        1> EVAL \"return redis.call('get',KEYS[1])\" 1 foo
        2> SET foo 1
        1<
        1> EVAL \"return redis.call('get','bar')\" 0
        2> SET bar 1
        1?
        1> EVAL \"return redis.call('set',KEYS[1],'x')\" 1 baz
        2> SET baz 1
        1?
        1> EVAL \"redis.call('get','zz'); return redis.call('set',KEYS[1],'x')\" 2 b1 b2
        1<
        2> MSET b1 1 b2 1 zz 1
        1<
        1?
        1> EVAL_RO \"return redis.call('get',KEYS[1])\" 1 ro
        2> SET ro 1
        1<
        1> GET s1
        1> EVAL \"redis.call('set','s1','1'); redis.call('get','s1'); redis.call('set','s1','2'); return 1\" 0
        1<
        1?
        # another client's transaction and script
        1> GET m1
        1> GET m2
        2> MULTI
        2> SET m1 x
        2> INCR m2
        2> EXEC
        1<
        1<
        1> GET m1
        2> EVAL \"return redis.call('del',KEYS[1])\" 1 m1
        1<
        # FLUSHDB / FLUSHALL: the null invalidation, for every tracking client
        3> CLIENT TRACKING on
        1> GET f
        1> FLUSHDB
        1<
        1?
        2> FLUSHALL
        1<
        2> SELECT 3
        2> FLUSHDB
        1<
        1> SET f 1
        1?
        # a flush in a transaction
        1> MULTI
        1> FLUSHDB
        1> PING
        1> EXEC
        1<
        1?
        ",
    );
}

#[test]
fn expiry_invalidates() {
    differential(
        "
        2> DEBUG SET-ACTIVE-EXPIRE 0
        1!> HELLO 3
        1> CLIENT TRACKING on
        1> SET k v PX 100
        1> GET k
        sleep 200
        # lazy expiry by the client's own read: after the reply
        1> GET k
        1<
        1?
        1> SET j v PX 100
        1> GET j
        sleep 200
        # lazy expiry by another client
        2> GET j
        1<
        2> DEBUG SET-ACTIVE-EXPIRE 1
        1> SET a v PX 100
        1> GET a
        sleep 400
        # active expiry
        1<
        1?
        ",
    );
}

#[test]
fn resp2_without_redirect_and_reply_off() {
    differential(
        "
        # a RESP2 client without REDIRECT cannot receive invalidations
        1> CLIENT TRACKING on
        1> GET k
        2> SET k 1
        1?
        1> CLIENT TRACKINGINFO
        # pushes are sent even with CLIENT REPLY OFF
        3!> HELLO 3
        3> CLIENT TRACKING on
        3 raw CLIENT REPLY OFF\\r\\nGET j\\r\\n
        2> SET j 1
        3<
        3 raw SET j 2\\r\\nCLIENT REPLY ON\\r\\n
        3<
        3?
        3> GET j
        3 raw CLIENT REPLY SKIP\\r\\nSET j 3\\r\\nPING\\r\\n
        3<
        3<
        3?
        ",
    );
}

#[test]
fn noloop() {
    differential(
        "
        1!> HELLO 3
        1> CLIENT TRACKING on NOLOOP
        1> GET k
        1> SET k 1
        1?
        # the key was forgotten by the client's own write
        2> SET k 2
        1?
        1> GET k
        2> SET k 3
        1<
        2> DEBUG SET-ACTIVE-EXPIRE 0
        1> SET e 1 PX 100
        1> GET e
        sleep 200
        1> GET e
        1?
        2> DEBUG SET-ACTIVE-EXPIRE 1
        ",
    );
}

#[test]
fn redirect_to_resp2_subscriber_and_broken_redirect() {
    differential(
        "
        2> SUBSCRIBE __redis__:invalidate
        1> CLIENT TRACKING on REDIRECT $ID2
        1> GET r
        3> SET r 1
        2<
        1?
        # the tracking client's own write goes to the redirect target too
        1> GET r
        1> SET r 2
        2<
        1> GET r
        3> FLUSHALL
        2<
        # a RESP2 redirect target that is not subscribed gets nothing
        4> PING
        1> CLIENT TRACKING on REDIRECT $ID4
        1> GET r
        3> SET r 3
        4?
        # a RESP3 redirect target gets pushes, subscribed or not
        5!> HELLO 3
        1> CLIENT TRACKING on REDIRECT $ID5
        1> GET r
        3> SET r 4
        5<
        5> PING
        # redirect target gone: RESP3 clients are told, RESP2 ones are not
        6!> HELLO 3
        6> CLIENT TRACKING on REDIRECT $ID5
        6> GET r
        1> GET r
        close 5
        3> SET r 5
        # (the pushes name the client id, which differs between the servers)
        6!<
        6> CLIENT LIST ID 999999
        1?
        6> GET r
        6> SET r 6
        6!<
        6?
        # the redirect target's own writes: the message goes before its reply, as
        # Redis adds it while the command runs (also inside scripts and EXEC)
        7!> HELLO 3
        8> CLIENT TRACKING on REDIRECT $ID7
        8> GET w
        7> SET w 1
        7<
        8> GET w
        7> FLUSHALL
        7<
        8> GET w
        7> EVAL \"redis.call('set','w','2'); return 'done'\" 0
        7<
        8> GET w
        7> MULTI
        7> PING
        7> SET w 3
        7> EXEC
        7<
        7?
        8?
        ",
    );
}

#[test]
fn bcast_prefixes() {
    differential(
        "
        1!> HELLO 3
        1> CLIENT TRACKING on BCAST PREFIX user: PREFIX obj:
        2> SET user:1 a
        1<
        2> SET other x
        1?
        2> MSET obj:2 a user:3 b obj:1 c user:3 d
        1<
        1<
        1?
        # a pipelined batch is sent as one message per prefix, keys in byte order
        2 raw SET user:9 1\\r\\nSET user:10 1\\r\\nDEL user:9\\r\\nSET obj:z 1\\r\\n
        2<
        2<
        2<
        2<
        1<
        1<
        1?
        # the default prefix is everything; several clients
        3!> HELLO 3
        3> CLIENT TRACKING on BCAST
        2> SET anything 1
        3<
        1?
        2> SET user:5 1
        3<
        1<
        # BCAST clients remember nothing and get their own changes without NOLOOP
        1> GET user:5
        1> SET user:5 2
        1<
        3<
        # NOLOOP: the keys this client changed last are left out
        4!> HELLO 3
        4> CLIENT TRACKING on BCAST PREFIX n: NOLOOP
        4> SET n:1 1
        4?
        2> SET n:2 1
        4<
        4 raw SET n:3 1\\r\\n
        4<
        2> SET n:3 2
        4<
        4> FLUSHALL
        4<
        1<
        3<
        # RESP2 BCAST client redirecting to a subscriber
        5> SUBSCRIBE __redis__:invalidate
        6> CLIENT TRACKING on BCAST PREFIX r: REDIRECT $ID5
        2> SET r:1 1
        5<
        1?
        3<
        6> CLIENT TRACKING off
        2> SET r:2 1
        5?
        3<
        ",
    );
}

#[test]
fn optin_optout_and_caching() {
    differential(
        "
        1!> HELLO 3
        1> CLIENT TRACKING on OPTIN
        1> GET a
        2> SET a 1
        1?
        1> CLIENT CACHING yes
        1> GET a
        1> GET b
        2> MSET a 2 b 2
        1<
        1?
        # CLIENT commands keep CACHING for the next command
        1> CLIENT CACHING yes
        1!> CLIENT ID
        1> CLIENT TRACKINGINFO
        1> GET c
        2> SET c 1
        1<
        # CACHING before MULTI covers the whole transaction
        1> CLIENT CACHING yes
        1> MULTI
        1> GET d
        1> GET e
        1> EXEC
        1> CLIENT TRACKINGINFO
        2> MSET d 1 e 1
        1<
        1<
        # CACHING inside MULTI applies to the rest of the transaction
        1> MULTI
        1> GET f
        1> CLIENT CACHING yes
        1> GET g
        1> EXEC
        2> MSET f 1 g 1
        1<
        1?
        # an error still uses it up
        1> CLIENT CACHING yes
        1> NOSUCHCOMMAND
        1> GET h
        2> SET h 1
        1?
        # OPTOUT: CACHING NO skips the next command
        1> CLIENT TRACKING off
        1> CLIENT TRACKING on OPTOUT
        1> CLIENT CACHING no
        1> CLIENT TRACKINGINFO
        1> GET i
        1> GET j
        2> MSET i 1 j 1
        1<
        1?
        ",
    );
}

/// Runs `steps` (client number, command) on a server and returns the lines of
/// `INFO` that start with `prefix`, one snapshot per `INFO` step.
fn info_lines(port: u16, steps: &[(usize, &str)], prefix: &str) -> Vec<String> {
    let mut clients: Vec<RawClient> = (0..4).map(|_| RawClient::connect(port)).collect();
    let mut out = Vec::new();
    for &(n, cmd) in steps {
        let args: Vec<Vec<u8>> = common::scenario::tokenize(cmd);
        let argv: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
        let reply = clients[n].cmd(&argv);
        if cmd.starts_with("INFO") {
            let text = String::from_utf8_lossy(&reply).to_string();
            let lines: Vec<&str> = text.lines().filter(|l| l.starts_with(prefix)).collect();
            out.push(format!("{cmd}: {}", lines.join(" ")));
        }
    }
    out
}

#[test]
fn info_tracking_fields() {
    let steps: &[(usize, &str)] = &[
        (0, "INFO everything"),
        (0, "CLIENT TRACKING on"),
        (1, "CLIENT TRACKING on"),
        (0, "MGET a b c"),
        (1, "GET a"),
        (0, "INFO everything"),
        (2, "SET a 1"),
        (0, "INFO everything"),
        (2, "CLIENT TRACKING on BCAST PREFIX x PREFIX y"),
        (3, "CLIENT TRACKING on BCAST PREFIX x"),
        (0, "INFO everything"),
        (2, "CLIENT TRACKING off"),
        (0, "INFO everything"),
        (0, "CLIENT TRACKING off"),
        // Keys stay remembered until changed, even for clients no longer tracking.
        (0, "INFO everything"),
        (2, "DEL b c"),
        (0, "INFO everything"),
        (1, "GET q"),
        (3, "FLUSHALL"),
        (0, "INFO everything"),
    ];
    let f = ferrodis(&[]);
    let r = redis(&[]);
    let a = info_lines(f.port, steps, "tracking_");
    let b = info_lines(r.port, steps, "tracking_");
    assert_eq!(a, b);
}

/// CLIENT LIST flags `t`, `R`, `B` and `redir=`.
#[test]
fn client_list_flags() {
    for port in [ferrodis(&[]), redis(&[])].iter().map(|s| s.port) {
        let mut c = RawClient::connect(port);
        let mut d = RawClient::connect(port);
        let d_id = String::from_utf8_lossy(&d.cmds(&["CLIENT", "ID"]))
            .trim()
            .trim_start_matches(':')
            .to_string();
        c.cmds(&["HELLO", "3"]);
        let field = |c: &mut RawClient, name: &str| -> String {
            let s = String::from_utf8_lossy(&c.cmds(&["CLIENT", "INFO"])).to_string();
            s.split_whitespace()
                .find_map(|f| f.strip_prefix(&format!("{name}=")).map(str::to_string))
                .unwrap_or_default()
        };
        assert_eq!(
            (field(&mut c, "flags"), field(&mut c, "redir")),
            ("N".into(), "-1".into())
        );
        c.cmds(&["CLIENT", "TRACKING", "on"]);
        assert_eq!(
            (field(&mut c, "flags"), field(&mut c, "redir")),
            ("t".into(), "0".into())
        );
        c.cmds(&["CLIENT", "TRACKING", "off"]);
        c.cmds(&["CLIENT", "TRACKING", "on", "BCAST", "REDIRECT", &d_id]);
        assert_eq!(
            (field(&mut c, "flags"), field(&mut c, "redir")),
            ("tB".into(), d_id.clone())
        );
        drop(d);
        std::thread::sleep(std::time::Duration::from_millis(200));
        let mut w = RawClient::connect(port);
        w.cmds(&["SET", "k", "v"]);
        let push = c.read_reply();
        assert!(
            show(&push).contains("tracking-redir-broken"),
            "{}",
            show(&push)
        );
        assert_eq!(field(&mut c, "flags"), "tRB");
    }
}

/// `tracking-table-max-keys`: over the limit, random tracked keys are invalidated
/// before the next command runs.
#[test]
fn table_max_keys_evicts() {
    for port in [ferrodis(&[]), redis(&[])].iter().map(|s| s.port) {
        let mut c = RawClient::connect(port);
        c.cmds(&["HELLO", "3"]);
        c.cmds(&["CONFIG", "SET", "tracking-table-max-keys", "1"]);
        c.cmds(&["CLIENT", "TRACKING", "on"]);
        c.cmds(&["GET", "a"]);
        assert_eq!(c.cmds(&["GET", "b"]), b"_\r\n");
        // Two keys for one allowed: one of them goes, before PING's reply.
        let push = c.cmds(&["PING"]);
        let a = b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\na\r\n";
        let b = b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nb\r\n";
        assert!(push == a || push == b, "{}", show(&push));
        assert_eq!(c.read_reply(), b"+PONG\r\n");
        let info = String::from_utf8_lossy(&c.cmds(&["INFO", "stats"])).to_string();
        assert!(info.contains("tracking_total_keys:1\r\n"), "{info}");
        assert!(c.poll_reply(100).is_none());
    }
}

/// The RESP2 way through a real client library (the `redis` crate): one connection
/// subscribes to `__redis__:invalidate`, the caching connection redirects its
/// invalidations there.
#[test]
fn redirect_through_the_redis_crate() {
    use redis::Commands;
    let srv = ferrodis(&[]);
    let client = redis::Client::open(srv.url()).expect("client");
    let mut sub_con = client.get_connection().expect("connect");
    let sub_id: i64 = redis::cmd("CLIENT")
        .arg("ID")
        .query(&mut sub_con)
        .expect("client id");
    let mut pubsub = sub_con.as_pubsub();
    pubsub.subscribe("__redis__:invalidate").expect("subscribe");
    pubsub
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .expect("timeout");
    let mut cache = client.get_connection().expect("connect");
    let _: () = redis::cmd("CLIENT")
        .arg("TRACKING")
        .arg("on")
        .arg("REDIRECT")
        .arg(sub_id)
        .query(&mut cache)
        .expect("tracking on");
    let redir: i64 = redis::cmd("CLIENT")
        .arg("GETREDIR")
        .query(&mut cache)
        .expect("getredir");
    assert_eq!(redir, sub_id);
    let v: Option<String> = cache.get("user:1").expect("get");
    assert_eq!(v, None);
    let _: Vec<Option<String>> = cache.mget(&["user:2", "user:3"]).expect("mget");
    let mut writer = client.get_connection().expect("connect");
    let _: () = writer.set("user:1", "x").expect("set");
    let msg = pubsub.get_message().expect("invalidation");
    assert_eq!(msg.get_channel_name(), "__redis__:invalidate");
    let keys: Vec<String> = msg.get_payload().expect("keys");
    assert_eq!(keys, vec!["user:1".to_string()]);
    // One message per key.
    let _: () = writer
        .mset(&[("user:3", "a"), ("user:2", "b")])
        .expect("mset");
    let mut got: Vec<String> = Vec::new();
    for _ in 0..2 {
        let msg = pubsub.get_message().expect("invalidation");
        let keys: Vec<String> = msg.get_payload().expect("keys");
        got.extend(keys);
    }
    got.sort();
    assert_eq!(got, vec!["user:2".to_string(), "user:3".to_string()]);
    // A flush invalidates everything: a nil payload.
    let _: () = redis::cmd("FLUSHALL").query(&mut writer).expect("flushall");
    let msg = pubsub.get_message().expect("flush invalidation");
    let keys: Option<Vec<String>> = msg.get_payload().expect("nil");
    assert_eq!(keys, None);
}
