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

/// The same for a function (FCALL): BUSY names FUNCTION KILL, which stops it, and
/// MULTI/EXEC is refused too.
#[test]
fn busy_functions_and_function_kill() {
    differential(
        "
        2> CONFIG SET busy-reply-threshold 200
        2> FUNCTION LOAD \"#!lua name=spin\\nredis.register_function{function_name='spin', callback=function() while true do end end, flags={'no-writes'}}\"
        1>> FCALL spin 0
        sleep 500
        2> GET k
        2> MULTI
        2> EXEC
        2> FUNCTION KILL
        1<
        2> GET k
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

/// The script corpus real applications run (rate limiters, a token bucket, a reliable
/// queue, JSON and MessagePack handling), replayed on both servers.
#[test]
fn realistic_scripts_match_the_reference() {
    let sliding =
        "local key = KEYS[1] local now = tonumber(ARGV[1]) local window = tonumber(ARGV[2]) \
        local limit = tonumber(ARGV[3]) \
        redis.call('ZREMRANGEBYSCORE', key, 0, now - window) \
        local count = redis.call('ZCARD', key) \
        if count < limit then \
          redis.call('ZADD', key, now, now .. '-' .. ARGV[4]) \
          redis.call('PEXPIRE', key, window) \
          return {1, limit - count - 1} \
        end \
        return {0, 0}";
    let bucket = "local rate = tonumber(ARGV[1]) local cap = tonumber(ARGV[2]) \
        local now = tonumber(ARGV[3]) local req = tonumber(ARGV[4]) \
        local last = tonumber(redis.call('GET', KEYS[1])) or cap \
        local ts = tonumber(redis.call('GET', KEYS[2])) or now \
        local filled = math.min(cap, last + math.max(0, now - ts) * rate) \
        local allowed = filled >= req \
        local left = filled if allowed then left = filled - req end \
        redis.call('SET', KEYS[1], left) redis.call('SET', KEYS[2], now) \
        return {allowed and 1 or 0, tostring(left)}";
    let queue = "local job = redis.call('RPOP', KEYS[1]) \
        if not job then return false end \
        redis.call('HSET', KEYS[2], job, ARGV[1]) \
        redis.call('LPUSH', KEYS[3], job) \
        return {job, redis.call('LLEN', KEYS[1]), redis.call('HLEN', KEYS[2])}";
    let json = "local obj = cjson.decode(ARGV[1]) \
        obj.count = (obj.count or 0) + 1 \
        obj.tags = obj.tags or {} table.insert(obj.tags, 'seen') \
        local packed = cmsgpack.pack(obj) \
        redis.call('SET', KEYS[1], packed) \
        local back = cmsgpack.unpack(redis.call('GET', KEYS[1])) \
        local a, b, c = cmsgpack.unpack(cmsgpack.pack(1.5, 'x', {true, false})) \
        return {cjson.encode(back), #packed, redis.call('STRLEN', KEYS[1]), cjson.encode({a, b, c})}";
    let q = |s: &str| format!("\"{}\"", s.replace('"', "\\\""));
    let mut script = String::new();
    for (i, now) in [1000, 1100, 1200, 1300, 1400, 2500, 2600]
        .iter()
        .enumerate()
    {
        script.push_str(&format!(
            "1> EVAL {} 1 rl:user {now} 1000 3 req{i}\n",
            q(sliding)
        ));
    }
    script.push_str("1> ZRANGE rl:user 0 -1 WITHSCORES\n1> TTL rl:user\n");
    for (now, req) in [(10, 3), (10, 3), (11, 5), (15, 1), (40, 10), (41, 1)] {
        script.push_str(&format!(
            "2> EVAL {} 2 tb:tokens tb:ts 0.5 10 {now} {req}\n",
            q(bucket)
        ));
    }
    script.push_str("3> RPUSH jobs j1 j2 j3\n");
    for w in ["w1", "w2", "w1", "w2"] {
        script.push_str(&format!(
            "3> EVAL {} 3 jobs processing done {w}\n",
            q(queue)
        ));
    }
    script.push_str("3> HGETALL processing\n3> LRANGE done 0 -1\n");
    for doc in [
        r#"{"name":"a","count":1}"#,
        r#"{"name":"b","tags":["x"],"nested":{"k":[1,2,3]}}"#,
        r#"{}"#,
    ] {
        script.push_str(&format!("4> EVAL {} 1 doc {}\n", q(json), q(doc)));
    }
    // The same scripts through EVALSHA.
    script.push_str(&format!("5> SCRIPT LOAD {}\n", q(queue)));
    script.push_str("5> RPUSH jobs j9\n");
    let sha = ferrodis::scripting::sha1_hex(queue.as_bytes());
    script.push_str(&format!("5> EVALSHA {sha} 3 jobs processing done w5\n"));
    script.push_str(&format!("5> EVALSHA_RO {sha} 3 jobs processing done w5\n"));
    differential(&script);
}

/// 1,000 clients doing optimistic WATCH/MULTI/EXEC increments on 100 shared counters
/// (ten clients per counter): every increment lands exactly once.
#[test]
fn a_thousand_clients_watch_multi_exec() {
    const CLIENTS: usize = 1000;
    const EACH: usize = 3;
    const COUNTERS: usize = 100;
    let f = ferrodis(&["--maxclients", "2000"]);
    let port = f.port;
    let threads: Vec<_> = (0..CLIENTS)
        .map(|i| {
            std::thread::Builder::new()
                .stack_size(128 * 1024)
                .spawn(move || {
                    let mut c = RawClient::connect(port);
                    let key = format!("counter:{}", i % COUNTERS);
                    let mut done = 0;
                    let mut retries = 0u64;
                    while done < EACH {
                        c.cmds(&["WATCH", &key]);
                        let v = c.cmds(&["GET", &key]);
                        let n: i64 = String::from_utf8_lossy(&v)
                            .lines()
                            .nth(1)
                            .and_then(|l| l.parse().ok())
                            .unwrap_or(0);
                        c.cmds(&["MULTI"]);
                        c.cmds(&["SET", &key, &(n + 1).to_string()]);
                        // An unwatched shared total, incremented atomically inside the
                        // same transaction: it must end at exactly the number of
                        // successful transactions.
                        c.cmds(&["INCR", "total"]);
                        let r = c.cmds(&["EXEC"]);
                        if r.starts_with(b"*2") {
                            done += 1;
                        } else {
                            assert_eq!(r, b"*-1\r\n");
                            retries += 1;
                        }
                    }
                    retries
                })
                .expect("spawn client thread")
        })
        .collect();
    let retries: u64 = threads.into_iter().map(|t| t.join().expect("client")).sum();
    let mut c = RawClient::connect(port);
    let total = (CLIENTS * EACH).to_string();
    assert_eq!(
        c.cmds(&["GET", "total"]),
        format!("${}\r\n{total}\r\n", total.len()).into_bytes()
    );
    for k in 0..COUNTERS {
        let per = (CLIENTS / COUNTERS * EACH).to_string();
        assert_eq!(
            c.cmds(&["GET", &format!("counter:{k}")]),
            format!("${}\r\n{per}\r\n", per.len()).into_bytes()
        );
    }
    // Contention must actually have happened for the test to mean something.
    assert!(retries > 0, "no WATCH conflict in {CLIENTS} clients");
}
