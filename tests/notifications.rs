//! Keyspace notifications, differential against the reference redis-server: every
//! command family's events (names, classes, keys, databases and order), each class
//! flag alone and combined, lazy and active expiry, other databases, RESP3 clients
//! receiving their own events, MULTI/EXEC and Lua scripts, blocked clients served by a
//! push, and the `notify-keyspace-events` config string itself.
//!
//! Most tests use an event log: client 1 runs commands; a second client subscribed to
//! the pattern `*` records every message published while each command ran. After each
//! command client 1 publishes a sync message, and the subscriber reads up to it, so
//! the log holds exactly the events of that command (no timing involved) and a
//! missing or extra event shows as a difference from the reference.

mod common;

use common::scenario::{differential, tokenize};
use common::{ferrodis, redis, show, split_elements, RawClient};

/// The payload of a bulk string element (`$n\r\n...\r\n`), printable.
fn bulk_text(raw: &[u8]) -> String {
    let start = raw.iter().position(|&b| b == b'\n').map_or(0, |p| p + 1);
    let end = raw.len().saturating_sub(2).max(start);
    show(&raw[start..end])
}

/// One pushed message, compactly: `channel message` for a pmessage, raw otherwise.
fn message_text(raw: &[u8]) -> String {
    let (_, el) = split_elements(raw);
    if el.len() == 4 && bulk_text(&el[0]) == "pmessage" {
        format!("{} {}", bulk_text(&el[2]), bulk_text(&el[3]))
    } else {
        show(raw)
    }
}

const SYNC: &str = "__sync__";

/// Runs an event-log script on the server at `port` (see the module docs).
///
/// Lines: `flags F` sets `notify-keyspace-events` to F; `sleep MS`; `resync` reads the
/// subscriber up to a new sync message (events published by the server on its own,
/// e.g. active expiry, in the meantime); anything else is a command for client 1 whose
/// reply and events are recorded.
fn event_log(port: u16, script: &str) -> Vec<String> {
    let mut c = RawClient::connect(port);
    let mut sub = RawClient::connect(port);
    // The sync messages come from a third client: client 1 may be inside MULTI.
    let mut syncer = RawClient::connect(port);
    let mut out = Vec::new();
    out.push(format!(
        "psubscribe -> {}",
        show(&sub.cmds(&["PSUBSCRIBE", "*"]))
    ));
    let mut n = 0;
    let mut drain = |sub: &mut RawClient, out: &mut Vec<String>| {
        n += 1;
        let mark = format!("sync{n}");
        syncer.cmds(&["PUBLISH", SYNC, &mark]);
        loop {
            let m = sub.read_reply();
            assert!(!m.is_empty(), "subscriber connection closed");
            let text = message_text(&m);
            if text == format!("{SYNC} {mark}") {
                break;
            }
            out.push(format!("      event {text}"));
        }
    };
    for (lineno, line) in script.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(ms) = line.strip_prefix("sleep ") {
            std::thread::sleep(std::time::Duration::from_millis(ms.parse().expect("ms")));
            continue;
        }
        if line == "resync" {
            out.push(format!("{:>3} resync", lineno + 1));
            drain(&mut sub, &mut out);
            continue;
        }
        let args: Vec<Vec<u8>> = match line.strip_prefix("flags ") {
            Some(f) => vec![
                b"CONFIG".to_vec(),
                b"SET".to_vec(),
                b"notify-keyspace-events".to_vec(),
                f.trim().trim_matches('"').as_bytes().to_vec(),
            ],
            None => tokenize(line),
        };
        let argv: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
        let reply = c.cmd(&argv);
        out.push(format!("{:>3} {line} -> {}", lineno + 1, show(&reply)));
        drain(&mut sub, &mut out);
    }
    out
}

/// Runs an event-log script on a fresh Ferrodis and a fresh redis-server and asserts
/// identical logs.
fn events(script: &str) {
    let f = ferrodis(&[]);
    let r = redis(&[]);
    let (tf, tr) = std::thread::scope(|s| {
        let a = s.spawn(|| event_log(f.port, script));
        let b = s.spawn(|| event_log(r.port, script));
        (
            a.join().expect("ferrodis run"),
            b.join().expect("redis run"),
        )
    });
    compare_logs(&tr, &tf);
}

/// Asserts that the reference's log and Ferrodis's are identical (both written to
/// `$FERRODIS_EVENT_LOGS/<test>.{redis,ferrodis}` when that is set, for `diff`).
fn compare_logs(tr: &[String], tf: &[String]) {
    if let Some(dir) = std::env::var_os("FERRODIS_EVENT_LOGS") {
        // Both logs as files, for `diff` while debugging.
        let name = std::thread::current()
            .name()
            .unwrap_or("log")
            .replace("::", "_");
        let dir = std::path::PathBuf::from(dir);
        let _ = std::fs::write(dir.join(format!("{name}.redis")), tr.join("\n") + "\n");
        let _ = std::fs::write(dir.join(format!("{name}.ferrodis")), tf.join("\n") + "\n");
    }
    let mut diffs = 0;
    for (a, b) in tf.iter().zip(tr.iter()) {
        if a != b {
            diffs += 1;
            eprintln!("redis:    {b}\nferrodis: {a}\n");
        }
    }
    if tf.len() != tr.len() {
        let n = tf.len().min(tr.len());
        eprintln!(
            "logs differ in length; redis tail: {:?}\nferrodis tail: {:?}",
            &tr[n..],
            &tf[n..]
        );
    }
    assert_eq!(diffs, 0, "logs differ from the reference redis-server");
    assert_eq!(tf.len(), tr.len());
    assert!(tf.len() > 2);
}

const STRINGS: &str = r##"
        flags KEA
        SET s v
        SET s v2 EX 100
        SET s v3 KEEPTTL
        SET s v4 NX
        SET s v5 XX PX 100000
        SET s v6 GET
        SET nx v XX
        SETNX s x
        SETNX s2 x
        SETEX s3 100 v
        PSETEX s4 100000 v
        GETSET s v7
        GETSET s5 v
        MSET m1 a m2 b m1 c
        MSETNX m1 a m3 b
        MSETNX m3 a m4 b
        APPEND s x
        APPEND s6 x
        SETRANGE s 2 yy
        SETRANGE s 0 ""
        SETRANGE s7 0 ""
        SETRANGE s7 3 x
        INCR i
        DECR i
        INCRBY i 10
        DECRBY i 3
        INCRBYFLOAT i 1.5
        INCRBYFLOAT f 2
        INCR s
        GETDEL s
        GETDEL s
        SET g v
        GETEX g
        GETEX g EX 100
        GETEX g PX 100000
        GETEX g EXAT 99999999999
        GETEX g PERSIST
        GETEX g PERSIST
        GETEX g PXAT 1
        GETEX g EX 100
        GET g
        SET sx v EX 100
        SET sx v PXAT 1
        EXISTS sx
        SETBIT b 3 1
        SETBIT b 3 1
        SETBIT b 100 0
        BITFIELD bf SET u8 0 200 GET u8 0
        BITFIELD bf INCRBY u8 0 100 OVERFLOW FAIL INCRBY u8 0 100
        BITFIELD bf GET u8 0
        BITFIELD bf2 GET u8 0
        BITFIELD bf OVERFLOW FAIL INCRBY u8 0 250
        BITFIELD_RO bf GET u8 0
        BITOP OR dest b bf
        BITOP AND dest nosuch1 nosuch2
        BITOP AND dest nosuch1 nosuch2
        BITOP NOT dest2 b
        PFADD h a b c
        PFADD h a
        PFADD h2
        PFADD h2
        PFCOUNT h h2
        PFMERGE h3 h h2
        PFMERGE h3
        DEL h h2 h3 nosuch
        UNLINK b bf nosuch
        "##;

#[test]
fn strings() {
    events(STRINGS);
}

const KEYS_AND_EXPIRY: &str = r##"
        flags KEA
        SET a 1
        EXPIRE a 100
        EXPIRE a 50 NX
        EXPIRE a 200 XX
        EXPIRE a 10 GT
        EXPIRE a 10 LT
        PEXPIRE a 100000
        EXPIREAT a 99999999999
        PEXPIREAT a 99999999999000
        PERSIST a
        PERSIST a
        PERSIST nosuch
        EXPIRE nosuch 10
        EXPIRE a -1
        EXISTS a
        SET a 1
        PEXPIRE a 0
        SET a 1
        EXPIREAT a 1
        SET a 1
        PEXPIREAT a 1
        SET a 1
        EXPIRE a 100
        RENAME a b
        TTL b
        RENAME b b
        SET c 1
        RENAME b c
        RENAMENX c c
        SET d 1
        RENAMENX c d
        RENAMENX c e
        RENAME nosuch x
        COPY e f
        COPY e f
        COPY e f REPLACE
        COPY e f DB 3
        COPY nosuch f
        COPY e e
        MOVE f 3
        MOVE f 3
        MOVE e 3
        SELECT 3
        DEL e f
        SELECT 0
        DEL d e
        "##;

#[test]
fn keys_and_expiry() {
    events(KEYS_AND_EXPIRY);
}

const LISTS: &str = r##"
        flags KEA
        LPUSH l a b c
        RPUSH l d e
        LPUSHX nosuch a
        RPUSHX nosuch a
        LPUSHX l x
        RPUSHX l y
        LINSERT l BEFORE a z
        LINSERT l BEFORE nope z
        LINSERT nosuch BEFORE a z
        LSET l 0 w
        LPOP l
        RPOP l
        LPOP l 2
        RPOP l 0
        LPOP l 0
        LPOP nosuch
        LPOP nosuch 2
        LRANGE l 0 -1
        LREM l 0 nope
        LREM l 1 a
        LTRIM l 0 0
        LTRIM l 0 -1
        LTRIM l 5 10
        RPUSH l a b c
        LTRIM l 1 1
        LREM l 0 b
        RPUSH src a b c
        LMOVE src dst LEFT RIGHT
        RPOPLPUSH src dst
        RPOPLPUSH src src
        LMOVE src dst RIGHT LEFT
        LMOVE src dst RIGHT LEFT
        RPUSH one x
        LMOVE one one LEFT RIGHT
        LMPOP 2 nosuch dst LEFT
        LMPOP 2 nosuch dst RIGHT COUNT 10
        RPUSH l a b c
        BLPOP l 1
        BRPOP l 1
        BLMOVE l dst LEFT LEFT 1
        RPUSH l a b
        BLMPOP 1 1 l RIGHT COUNT 5
        BRPOPLPUSH dst l 1
        SET str x
        LPUSH str x
        LMOVE dst str LEFT LEFT
        "##;

#[test]
fn lists() {
    events(LISTS);
}

const HASHES: &str = r##"
        flags KEA
        HSET h a 1 b 2
        HSET h a 1
        HMSET h c 3
        HSETNX h a 1
        HSETNX h d 4
        HINCRBY h a 5
        HINCRBYFLOAT h a 1.5
        HINCRBY h2 a 5
        HINCRBYFLOAT h3 a 1.5
        HDEL h nope
        HDEL h a b
        HDEL h c d
        HDEL h c
        HDEL h2 a x
        HGET h3 a
        HGET nosuch a
        "##;

#[test]
fn hashes() {
    events(HASHES);
}

const SETS: &str = r##"
        flags KEA
        SADD s a b c
        SADD s a
        SREM s nope
        SREM s a
        SADD t c d
        SMOVE s t b
        SMOVE s t c
        SMOVE s t nope
        SMOVE t t d
        SMOVE t fresh d
        SREM t c
        SPOP t
        SPOP t
        SPOP nosuch
        SADD p 1 2 3 4 5
        SPOP p 0
        # random members: the script replies with the count only
        EVAL "return #redis.call('spop', KEYS[1], 2)" 1 p
        EVAL "return #redis.call('spop', KEYS[1], 1)" 1 p
        EVAL "return #redis.call('spop', KEYS[1], 10)" 1 p
        SPOP p 10
        SADD a 1 2 3
        SADD b 3 4
        SINTERSTORE d a b
        SINTERSTORE d a nosuch
        SINTERSTORE d a nosuch
        SUNIONSTORE d a b
        SDIFFSTORE d a b
        SDIFFSTORE d a a
        SUNIONSTORE d nosuch
        SINTERSTORE d a b
        SDIFFSTORE d nosuch a
        SINTERCARD 2 a b
        SMEMBERS nosuch
        "##;

#[test]
fn sets() {
    events(SETS);
}

const SORTED_SETS: &str = r##"
        flags KEA
        ZADD z 1 a 2 b 3 c
        ZADD z 1 a
        ZADD z CH 5 a
        ZADD z XX 1 nope
        ZADD zz XX 1 a
        ZADD z NX 9 a
        ZADD z GT 1 a
        ZADD z INCR 1 a
        ZADD z NX INCR 1 a
        ZINCRBY z 2 b
        ZINCRBY z2 2 b
        ZREM z nope
        ZREM z a
        ZREM z2 b
        ZADD z 1 a 2 d 3 e 4 f 5 g
        ZREMRANGEBYSCORE z 100 200
        ZREMRANGEBYSCORE z 1 1
        ZREMRANGEBYRANK z 0 0
        ZREMRANGEBYLEX z [a [b
        ZADD lex 0 a 0 b
        ZREMRANGEBYLEX lex - +
        ZPOPMIN z
        ZPOPMAX z 2
        ZPOPMIN z 0
        ZPOPMAX nosuch
        ZPOPMIN z 100
        ZADD a 1 x 2 y
        ZADD b 3 y 4 w
        ZUNIONSTORE d 2 a b
        ZINTERSTORE d 2 a b
        ZDIFFSTORE d 2 a b
        ZDIFFSTORE d 2 a a
        ZDIFFSTORE d 2 a a
        ZINTERSTORE d 2 a nosuch
        ZUNIONSTORE d 2 a b
        ZRANGESTORE d2 a 0 -1
        ZRANGESTORE d2 a 5 10
        ZRANGESTORE d2 nosuch 0 -1
        ZMPOP 2 nosuch a MIN
        ZMPOP 1 a MAX COUNT 5
        ZADD a 1 x
        BZPOPMIN a 1
        ZADD a 1 x 2 y
        BZPOPMAX a 1
        BZMPOP 1 1 a MIN COUNT 3
        ZRANGE nosuch 0 -1
        ZSCORE nosuch a
        "##;

#[test]
fn sorted_sets() {
    events(SORTED_SETS);
}

const GEO_SORT_AND_STORE_COMMANDS: &str = r##"
        flags KEA
        GEOADD g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
        GEOADD g XX 13.361389 38.115556 Palermo
        GEOADD g CH 13.361389 38.115556 Palermo
        GEORADIUS g 15 37 200 km STORE gs
        GEORADIUS g 15 37 200 km STOREDIST gd
        GEORADIUS g 15 37 1 km STORE gs
        GEORADIUS g 15 37 1 km STORE gs
        GEORADIUSBYMEMBER g Palermo 500 km STORE gs
        GEOSEARCHSTORE gs g FROMLONLAT 15 37 BYRADIUS 200 km
        GEOSEARCHSTORE gs g FROMLONLAT 15 37 BYRADIUS 200 km STOREDIST
        GEOSEARCHSTORE gs g FROMLONLAT 15 37 BYRADIUS 1 km
        GEOSEARCHSTORE gs nosuch FROMLONLAT 15 37 BYRADIUS 1 km
        GEOSEARCHSTORE gs g FROMLONLAT 15 37 BYRADIUS 200 km
        GEOSEARCHSTORE gs nosuch FROMLONLAT 15 37 BYRADIUS 1 km
        GEOPOS nosuch a
        RPUSH l 3 1 2
        SORT l STORE sl
        SORT l STORE sl
        SORT nosuch STORE sl
        SORT nosuch STORE sl
        SORT l BY w_* GET o_* STORE sl
        SORT l BY nosort
        SORT_RO l
        "##;

#[test]
fn geo_sort_and_store_commands() {
    events(GEO_SORT_AND_STORE_COMMANDS);
}

#[test]
fn each_class_alone() {
    // One command of each class under every single class flag (with K, E and both):
    // only the enabled class's events go out.
    // Lazy expiry only: `k` must still be there when GET reads it.
    let mut script = String::from("DEBUG SET-ACTIVE-EXPIRE 0\n");
    for flags in [
        "Kg", "Eg", "KEg", "K$", "E$", "Kl", "El", "Ks", "Es", "Kh", "Eh", "Kz", "Ez", "Kx", "Ex",
        "Ke", "Kt", "Kd", "g$", "A", "K", "E", "KE", "",
    ] {
        script.push_str(&format!(
            "flags \"{flags}\"\n\
             SET k v\n\
             SET k v PX 1\n\
             sleep 5\n\
             GET k\n\
             LPUSH l a\n\
             SADD s a\n\
             HSET h a b\n\
             ZADD z 1 a\n\
             DEL l s h z\n\
             EXPIRE nosuch 10\n"
        ));
    }
    events(&script);
}

const NEW_AND_KEYMISS_CLASSES: &str = r##"
        flags KEn
        SET a 1
        SET a 2
        LPUSH l x
        RPUSH l y
        HSET h f v
        flags KEA
        # A includes neither m nor n
        SET b 1
        GET nosuch
        flags KEAn
        SET c 1
        RENAME c d
        SET e 1
        RENAME d e
        COPY e f
        MOVE f 2
        LMOVE l l2 LEFT LEFT
        SMOVE nosuch s2 x
        SADD s x
        SMOVE s s2 x
        ZINCRBY z 1 a
        PFADD hll a
        SETBIT bits 1 1
        BITFIELD bf SET u8 0 1
        APPEND ap x
        INCR counter
        INCRBYFLOAT fl 1
        SETRANGE sr 1 x
        SUNIONSTORE u s2
        SUNIONSTORE u s2
        flags Em
        GET nosuch
        GET a
        STRLEN nosuch
        EXISTS nosuch a
        TYPE nosuch
        TTL nosuch
        PTTL nosuch
        OBJECT ENCODING nosuch
        LRANGE nosuch 0 -1
        LLEN nosuch
        LINDEX nosuch 0
        HGET nosuch f
        HGETALL nosuch
        HEXISTS nosuch f
        SMEMBERS nosuch
        SISMEMBER nosuch a
        SCARD nosuch
        SINTER nosuch a
        SUNION nosuch a
        ZRANGE nosuch 0 -1
        ZSCORE nosuch a
        ZCARD nosuch
        GETRANGE nosuch 0 1
        MGET nosuch a nosuch2
        GETDEL nosuch
        GETEX nosuch
        PFCOUNT nosuch
        BITCOUNT nosuch
        GETBIT nosuch 1
        BITPOS nosuch 1
        SORT nosuch
        SRANDMEMBER nosuch
        HRANDFIELD nosuch
        ZRANDMEMBER nosuch
        LPOS nosuch a
        GEOPOS nosuch a
        GEODIST nosuch a b
        HSTRLEN nosuch f
        HMGET nosuch a
        ZRANK nosuch a
        ZMSCORE nosuch a
        LPUSH written x
        SET written2 x
        DEL nosuch
        TOUCH nosuch
        flags Kmn
        GET nosuch
        SET fresh 1
        flags Am
        GET nosuch
        "##;

#[test]
fn new_and_keymiss_classes() {
    events(NEW_AND_KEYMISS_CLASSES);
}

#[test]
fn keymiss_in_multi_key_store_and_pattern_commands() {
    events(
        r##"
        flags Em
        # lazy expiry only: the expired keys below must still be there when read
        DEBUG SET-ACTIVE-EXPIRE 0
        SET str v
        RPUSH l 3 1 2
        HSET o_1 f x
        SADD s a
        ZADD z 1 a
        SINTERSTORE d nosuch1 nosuch2
        SUNIONSTORE d nosuch1 s
        SDIFFSTORE d s nosuch1
        SINTERCARD 2 s nosuch1
        SMISMEMBER nosuch a b
        SRANDMEMBER nosuch 2
        ZUNIONSTORE d 2 nosuch1 z
        ZINTERSTORE d 2 z nosuch1
        ZDIFFSTORE d 2 nosuch1 z
        ZUNION 2 nosuch1 z
        ZINTER 2 z nosuch1
        ZDIFF 2 nosuch1 z
        ZINTERCARD 2 z nosuch1
        ZRANGESTORE d nosuch 0 -1
        ZRANGEBYSCORE nosuch 0 1
        ZREVRANGE nosuch 0 1
        ZLEXCOUNT nosuch - +
        ZCOUNT nosuch 0 1
        SORT l BY w_* GET o_*->f GET # GET p_*
        SORT l BY o_*->f
        LCS nosuch1 str
        BITOP AND d nosuch1 str
        PFCOUNT nosuch1 nosuch2
        PFMERGE d2 nosuch1
        GEOSEARCH nosuch FROMLONLAT 15 37 BYRADIUS 200 km
        GEORADIUS nosuch 15 37 200 km
        GEOHASH nosuch a
        COPY nosuch x
        MOVE nosuch 1
        RENAME nosuch x
        LMOVE nosuch x LEFT LEFT
        RPOPLPUSH nosuch x
        SMOVE nosuch s a
        LPOP nosuch
        SPOP nosuch
        ZPOPMIN nosuch
        LMPOP 2 nosuch1 nosuch2 LEFT
        ZMPOP 2 nosuch1 nosuch2 MIN
        BLPOP nosuch 0.01
        BZPOPMIN nosuch 0.01
        HSCAN nosuch 0
        SSCAN nosuch 0
        ZSCAN nosuch 0
        EXPIRETIME nosuch
        PEXPIRETIME nosuch
        SUBSTR nosuch 0 1
        OBJECT FREQ nosuch
        OBJECT IDLETIME nosuch
        GET l
        LLEN str
        INCR nosuch
        APPEND nosuch2 x
        SETRANGE nosuch3 0 x
        HINCRBY nosuch4 f 1
        SETBIT nosuch5 0 1
        BITFIELD nosuch6 GET u8 0
        BITFIELD_RO nosuch7 GET u8 0
        BITCOUNT nosuch
        SET str2 v PX 1
        sleep 10
        EXISTS str2
        SET str2 v PX 1
        sleep 10
        TYPE str2
        SET str2 v PX 1
        sleep 10
        OBJECT ENCODING str2
        SET str2 v PX 1
        sleep 10
        SCAN 0 TYPE string MATCH str2 COUNT 1000
        "##,
    );
}

#[test]
fn expired_lazy_and_active() {
    events(
        r##"
        flags KEA
        DEBUG SET-ACTIVE-EXPIRE 0
        SET a 1 PX 10
        SET b 1 PX 10
        SET c 1 PX 10
        RPUSH l x
        PEXPIRE l 10
        sleep 50
        GET a
        SET b 2
        DEL c
        LPUSH l y
        EXISTS nosuch
        flags KEAnm
        SET a 1 PX 10
        sleep 50
        GET a
        SET a 1 PX 10
        sleep 50
        SET a 2
        SELECT 9
        SET r 1 PX 10
        sleep 50
        RANDOMKEY
        SET r 1 PX 10
        sleep 50
        SCAN 0 COUNT 1000
        SET r 1 PX 10
        sleep 50
        KEYS *
        DBSIZE
        SET r 1 PX 10
        sleep 50
        OBJECT ENCODING r
        SET r 1 PX 10
        sleep 50
        TOUCH r
        SELECT 0
        DEBUG SET-ACTIVE-EXPIRE 1
        flags Ex
        SET x 1 PX 50
        sleep 1000
        resync
        HSET y f v
        PEXPIRE y 50
        sleep 1000
        resync
        "##,
    );
}

#[test]
fn other_databases() {
    events(
        r##"
        flags KEAn
        SELECT 5
        SET k v
        LPUSH l a
        MOVE k 0
        SELECT 0
        MOVE k 5
        COPY k k2 DB 7
        COPY k k2 DB 7
        COPY k k2 DB 7 REPLACE
        SELECT 7
        DEL k2
        SWAPDB 0 7
        FLUSHDB
        SELECT 5
        FLUSHALL
        "##,
    );
}

#[test]
fn transactions_and_scripts() {
    events(
        r##"
        flags KEA
        MULTI
        SET a 1
        LPUSH l x
        INCR a
        DEL a l
        EXEC
        EVAL "redis.call('set', KEYS[1], 'v'); redis.call('rpush', KEYS[2], 'a', 'b'); redis.call('lpop', KEYS[2], 2); return redis.call('get', 'nosuch')" 2 s l
        EVAL "redis.call('del', KEYS[1]); return redis.pcall('incr', 'l')" 1 s
        FUNCTION LOAD "#!lua name=lib\nredis.register_function('f', function(keys, args) redis.call('sadd', keys[1], args[1]); return redis.call('scard', keys[1]) end)"
        FCALL f 1 fs m
        MULTI
        SELECT 2
        SET b 1
        SELECT 0
        EXEC
        "##,
    );
}

#[test]
fn config_flags_string() {
    events(
        r##"
        flags KEA
        CONFIG GET notify-keyspace-events
        flags Kgls$hzxetd
        CONFIG GET notify-keyspace-events
        flags "$gK"
        CONFIG GET notify-keyspace-events
        flags AKEmn
        CONFIG GET notify-keyspace-events
        flags nmEKA
        CONFIG GET notify-keyspace-events
        flags g$lshzxetdKE
        CONFIG GET notify-keyspace-events
        flags gKgK
        CONFIG GET notify-keyspace-events
        flags Kn
        CONFIG GET notify-keyspace-events
        flags Ennm
        CONFIG GET notify-keyspace-events
        flags nm
        CONFIG GET notify-keyspace-events
        flags n$
        CONFIG GET notify-keyspace-events
        flags KEy
        CONFIG GET notify-keyspace-events
        flags "K E"
        CONFIG GET notify-keyspace-events
        flags ""
        CONFIG GET notify-keyspace-events
        SET a 1
        CONFIG SET notify-keyspace-events KEA maxmemory-policy noeviction
        CONFIG GET notify-keyspace-events
        SET a 2
        "##,
    );
}

/// A RESP3 client subscribed to its own events gets each push before the reply of the
/// command (or script) that raised it, for commands that notify before replying (see
/// `resp3_own_events_fall_where_redis_writes_them` for the others); a RESP2 subscriber
/// elsewhere gets the same events. (Inside MULTI/EXEC, Redis 7.0 writes them in the
/// middle of the EXEC array; Ferrodis delivers them after it, as Redis 7.2 does: not
/// compared here.)
#[test]
fn resp3_client_receives_its_own_events() {
    differential(
        "
        1> CONFIG SET notify-keyspace-events KEA
        1!> HELLO 3
        1> PSUBSCRIBE __key*__:*
        2> SUBSCRIBE __keyevent@0__:del
        1> SET a 1
        1<
        1<
        1> INCR a
        1<
        1<
        1> DEL a
        1<
        1<
        2<
        1> SADD l x
        1<
        1<
        1> SREM l x
        1<
        1<
        1<
        1<
        2<
        1?
        2?
        1> EVAL \"redis.call('set', 'c', 1); return redis.call('del', 'c')\" 0
        1<
        1<
        1<
        1<
        2<
        1?
        2?
        ",
    );
}

/// Blocked clients served by a push raise the pop's events (and BLMOVE's push) after
/// the pushing command's own events, in the served client's database.
#[test]
fn blocked_clients_served_by_a_push() {
    differential(
        "
        9> CONFIG SET notify-keyspace-events KEAn
        8> PSUBSCRIBE *
        1>> BLPOP q 0
        2>> BRPOP q 0
        3> RPUSH q a b c
        1<
        2<
        8<
        8<
        8<
        8<
        8<
        8<
        8<
        8<
        8?
        3> DEL q
        8<
        8<
        1>> BLMOVE src dst LEFT RIGHT 0
        3> LPUSH src x
        1<
        8<
        8<
        8<
        8<
        8<
        8<
        8<
        8<
        8<
        8<
        8<
        8<
        8?
        1!> SELECT 4
        1>> BLMPOP 0 1 q4 RIGHT COUNT 5
        3> SELECT 4
        3> RPUSH q4 a b
        1<
        8<
        8<
        8<
        8<
        8<
        8<
        8<
        8<
        8?
        1>> BZPOPMIN z4 0
        2!> SELECT 4
        2>> BZMPOP 0 1 z4 MAX COUNT 2
        3> ZADD z4 1 a 2 b 3 c
        1<
        2<
        8<
        8<
        8<
        8<
        8<
        8<
        8<
        8<
        8<
        8<
        8?
        ",
    );
}

/// Runs an event-log script on Ferrodis alone and returns only its events.
fn ferrodis_events(script: &str) -> Vec<String> {
    let f = ferrodis(&[]);
    event_log(f.port, script)
        .into_iter()
        .filter_map(|l| l.trim().strip_prefix("event ").map(str::to_string))
        .collect()
}

/// Hash field TTLs (Redis 7.4, absent from the 7.0 reference server): the events
/// follow Redis 7.4's t_hash.c: `hexpire` when TTLs were set, `hdel` (and `del` for an
/// emptied hash) when a time in the past deleted fields, `hpersist`, and `hexpired`
/// (then `del`) when fields expire, lazily on access or actively.
#[test]
fn hash_field_ttl_events() {
    let got = ferrodis_events(
        r##"
        flags Kgh
        DEBUG SET-ACTIVE-EXPIRE 0
        HSET h a 1 b 2 c 3
        HEXPIRE h 100 FIELDS 2 a b
        HEXPIRE h 100 NX FIELDS 1 a
        HPEXPIRE h 100000 XX FIELDS 1 nosuch
        HPEXPIRE nosuch 100 FIELDS 1 a
        HPERSIST h FIELDS 1 a
        HPERSIST h FIELDS 2 a c
        HEXPIREAT h 1 FIELDS 1 a
        HPEXPIRE h 10 FIELDS 1 b
        sleep 50
        HGET h b
        HEXPIREAT h 1 FIELDS 1 c
        EXISTS h
        HSET h2 a 1
        HPEXPIRE h2 10 FIELDS 1 a
        sleep 50
        HLEN h2
        EXISTS h2
        DEBUG SET-ACTIVE-EXPIRE 1
        HSET h3 a 1 b 2
        HPEXPIRE h3 10 FIELDS 1 a
        sleep 1000
        resync
        HPEXPIRE h3 10 FIELDS 1 b
        sleep 1000
        resync
        "##,
    );
    let expected = [
        "h hset",
        "h hexpire",
        "h hpersist",
        "h hdel",
        "h hexpire",
        "h hexpired",
        "h hdel",
        "h del",
        "h2 hset",
        "h2 hexpire",
        "h2 hexpired",
        "h2 del",
        "h3 hset",
        "h3 hexpire",
        "h3 hexpired",
        "h3 hexpire",
        "h3 hexpired",
        "h3 del",
    ];
    let expected: Vec<String> = expected
        .iter()
        .map(|e| format!("__keyspace@0__:{e}"))
        .collect();
    assert_eq!(got, expected);
}

/// Runs each line of `script` (event-log syntax; `flags` lines skipped) on a RESP3
/// client subscribed to its own keyspace events of the classes in `flags`, recording everything it receives
/// per command: where its own pushes fall relative to its reply.
fn resp3_own_log(port: u16, flags: &str, script: &str) -> Vec<String> {
    let mut c = RawClient::connect(port);
    let mut out = Vec::new();
    c.cmds(&["HELLO", "3"]);
    out.push(show(&c.cmds(&[
        "CONFIG",
        "SET",
        "notify-keyspace-events",
        flags,
    ])));
    out.push(show(&c.cmds(&["PSUBSCRIBE", "__keyspace@*"])));
    for (n, line) in script.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with("flags ") {
            continue;
        }
        if let Some(ms) = line.strip_prefix("sleep ") {
            std::thread::sleep(std::time::Duration::from_millis(ms.parse().expect("ms")));
            continue;
        }
        // The command and an ECHO in one write: everything before the ECHO's reply
        // belongs to the command.
        let mark = format!("__mark__{n}");
        let args = tokenize(line);
        let argv: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
        let mut bytes = common::encode(&argv);
        bytes.extend_from_slice(&common::encode(&[b"ECHO", mark.as_bytes()]));
        c.send_raw(&bytes);
        out.push(format!("{:>3} {line}", n + 1));
        loop {
            let r = c.read_reply();
            assert!(!r.is_empty(), "connection closed");
            if r.ends_with(format!("{mark}\r\n").as_bytes()) {
                break;
            }
            out.push(format!("      {}", show(&r)));
        }
    }
    out
}

/// Every command of the family event logs, run by a RESP3 client subscribed to its
/// own events: each push must fall where Redis 7.0 writes it, before, after or inside
/// the command's reply (LPUSH replies first; ZPOPMIN writes the array header, then
/// notifies, then the elements...).
#[test]
fn resp3_own_events_fall_where_redis_writes_them() {
    let script = [
        STRINGS,
        KEYS_AND_EXPIRY,
        LISTS,
        HASHES,
        SETS,
        SORTED_SETS,
        GEO_SORT_AND_STORE_COMMANDS,
        NEW_AND_KEYMISS_CLASSES,
    ]
    .join("\nFLUSHALL\n");
    let f = ferrodis(&[]);
    let r = redis(&[]);
    let (tf, tr) = std::thread::scope(|s| {
        let a = s.spawn(|| resp3_own_log(f.port, "KAn", &script));
        let b = s.spawn(|| resp3_own_log(r.port, "KAn", &script));
        (
            a.join().expect("ferrodis run"),
            b.join().expect("redis run"),
        )
    });
    compare_logs(&tr, &tf);
}

/// The events of a blocked client served when a command ends go after that command's
/// reply in the stream of a RESP3 pusher subscribed to its own events (Redis serves
/// blocked clients once the command is done), here with pipelined replies before it.
#[test]
fn resp3_pusher_sees_served_clients_events_after_its_reply() {
    differential(
        r"
        9> CONFIG SET notify-keyspace-events KA
        1!> HELLO 3
        1> PSUBSCRIBE __keyspace@0__:*
        1> RPUSH l 3 1 2
        1<
        2>> BLPOP dst 0
        1 raw PING\r\nPING\r\nPING\r\nSORT l STORE dst\r\n
        1<
        1<
        1<
        1<
        1<
        1<
        1?
        2<
        ",
    );
}

/// `keymiss` and `expired` pushes of a RESP3 client subscribed to its own events fall
/// where Redis raises them, including between the elements of replies that look keys
/// up as they go (MGET, SORT ... GET).
#[test]
fn resp3_own_keymiss_and_expired_events() {
    let script = r##"
        DEBUG SET-ACTIVE-EXPIRE 0
        SET a 1
        RPUSH l 3 1 2
        SET o_1 x
        SET gone 1 PX 1
        sleep 10
        MGET nosuch a nosuch2 gone
        SORT l BY nosort GET o_* GET #
        SORT l GET o_*
        GET nosuch
        EXISTS nosuch a
        HMGET nosuch f g
        ZMSCORE nosuch a
        SINTER nosuch l
        SET gone 1 PX 1
        sleep 10
        GETSET gone 2
        GETSET gone2 2
        SET gone3 1 GET
        DEBUG SET-ACTIVE-EXPIRE 1
        "##;
    let f = ferrodis(&[]);
    let r = redis(&[]);
    let (tf, tr) = std::thread::scope(|s| {
        let a = s.spawn(|| resp3_own_log(f.port, "KAmn", script));
        let b = s.spawn(|| resp3_own_log(r.port, "KAmn", script));
        (
            a.join().expect("ferrodis run"),
            b.join().expect("redis run"),
        )
    });
    compare_logs(&tr, &tf);
}
