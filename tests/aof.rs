//! The append-only file: what is propagated (compared with the reference
//! redis-server's own AOF, command by command), restarts, interoperability of the
//! `appendonlydir/` with Redis 7 both ways, crash durability under SIGKILL,
//! truncated and corrupt files, rewrites under concurrent writes, WAITAOF, CONFIG
//! SET appendonly and the INFO fields.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{free_port, redis_server_bin, show, split_elements, RawClient};

/// A server process on a directory that outlives it (restarts reuse the directory).
struct Proc {
    child: Child,
    port: u16,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    fn client(&self) -> RawClient {
        RawClient::connect(self.port)
    }
    /// SIGKILL: no shutdown work at all.
    fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dir(tag: &str) -> common::TmpDir {
    common::TmpDir::new(tag)
}

fn args_for(port: u16, dir: &Path, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "--port".into(),
        port.to_string(),
        "--bind".into(),
        "127.0.0.1".into(),
        "--save".into(),
        "".into(),
        "--dir".into(),
        dir.to_string_lossy().into_owned(),
        "--enable-debug-command".into(),
        "yes".into(),
        "--logfile".into(),
        dir.join("server.log").to_string_lossy().into_owned(),
    ];
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

fn spawn(bin: &str, dir: &Path, extra: &[&str]) -> Child {
    Command::new(bin)
        .args(args_for(free_port(), dir, extra))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn")
}

fn start(bin: &str, dir: &Path, extra: &[&str]) -> Proc {
    let port = free_port();
    let mut child = Command::new(bin)
        .args(args_for(port, dir, extra))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    common::wait_ready(port, &mut child, bin);
    Proc { child, port }
}

fn ferrodis(dir: &Path, extra: &[&str]) -> Proc {
    start(common::ferrodis_bin(), dir, extra)
}

fn redis(dir: &Path, extra: &[&str]) -> Proc {
    start(&redis_server_bin(), dir, extra)
}

/// Starts a server that must refuse to start; returns its log.
fn refuses(bin: &str, dir: &Path, extra: &[&str]) -> String {
    let mut child = spawn(bin, dir, extra);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            assert!(!status.success(), "{bin} exited with success");
            break;
        }
        assert!(Instant::now() < deadline, "{bin} did not refuse to start");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
}

const AOF: &[&str] = &["--appendonly", "yes", "--appendfsync", "always"];

fn bulk(r: &[u8]) -> Vec<u8> {
    // `$n\r\n<payload>\r\n`
    let Some(i) = r.windows(2).position(|w| w == b"\r\n") else {
        return r.to_vec();
    };
    if r.first() != Some(&b'$') {
        return r.to_vec();
    }
    r[i + 2..r.len().saturating_sub(2)].to_vec()
}

fn info_field(c: &mut RawClient, field: &str) -> String {
    let r = bulk(&c.cmds(&["INFO", "persistence"]));
    let text = String::from_utf8_lossy(&r).into_owned();
    text.lines()
        .find_map(|l| {
            l.strip_prefix(&format!("{field}:"))
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_default()
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every key of every database with its type, absolute expiry and contents
/// (unordered collections sorted), read through commands.
fn dataset(c: &mut RawClient) -> Vec<String> {
    let mut out = Vec::new();
    for db in 0..16 {
        c.cmds(&["SELECT", &db.to_string()]);
        let (_, keys) = split_elements(&c.cmds(&["KEYS", "*"]));
        let mut keys: Vec<Vec<u8>> = keys.iter().map(|k| bulk(k)).collect();
        keys.sort();
        for k in keys {
            let t = c.cmd(&[b"TYPE", &k]);
            let exp = c.cmd(&[b"PEXPIRETIME", &k]);
            let content = match &t[..] {
                b"+string\r\n" => show(&c.cmd(&[b"GET", &k])),
                b"+list\r\n" => show(&c.cmd(&[b"LRANGE", &k, b"0", b"-1"])),
                b"+set\r\n" => {
                    let (_, mut m) = split_elements(&c.cmd(&[b"SMEMBERS", &k]));
                    m.sort();
                    m.iter().map(|x| show(x)).collect::<Vec<_>>().join(",")
                }
                b"+zset\r\n" => show(&c.cmd(&[b"ZRANGE", &k, b"0", b"-1", b"WITHSCORES"])),
                b"+hash\r\n" => {
                    let (_, m) = split_elements(&c.cmd(&[b"HGETALL", &k]));
                    let mut pairs: Vec<String> = m.chunks(2).map(|p| format!("{:?}", p)).collect();
                    pairs.sort();
                    pairs.join(",")
                }
                b"+stream\r\n" => format!(
                    "{} {}",
                    show(&c.cmd(&[b"XRANGE", &k, b"-", b"+"])),
                    show(&c.cmd(&[b"XINFO", b"GROUPS", &k]))
                ),
                _ => String::new(),
            };
            out.push(format!(
                "db{db} {} {} {} {content}",
                show(&k),
                show(&t),
                show(&exp)
            ));
        }
    }
    c.cmds(&["SELECT", "0"]);
    // Libraries list their functions in dictionary order: compare as a multiset.
    let fl = show(&c.cmds(&["FUNCTION", "LIST"]));
    let mut tokens: Vec<&str> = fl.split("\\r\\n").collect();
    tokens.sort();
    out.push(format!("functions {}", tokens.join(" ")));
    out
}

/// [`dataset`] with relative expiry times (set at different moments on two servers)
/// replaced by `<T>`.
fn comparable(ds: Vec<String>) -> Vec<String> {
    ds.into_iter()
        .map(|l| {
            let mut parts: Vec<String> = l.splitn(5, ' ').map(str::to_string).collect();
            if let Some(e) = parts.get_mut(3) {
                let n = e.trim_start_matches(':').trim_end_matches("\\r\\n");
                if n.len() >= 12 && !n.starts_with("9999") {
                    *e = "<T>".into();
                }
            }
            parts.join(" ")
        })
        .collect()
}

/// Parses RESP commands (and `#` annotations) of an AOF file.
fn parse_aof(data: &[u8]) -> Vec<Vec<Vec<u8>>> {
    let mut cmds = Vec::new();
    let mut pos = 0;
    let line = |pos: &mut usize| -> Vec<u8> {
        let start = *pos;
        while *pos + 1 < data.len() && &data[*pos..*pos + 2] != b"\r\n" {
            *pos += 1;
        }
        let l = data[start..*pos].to_vec();
        *pos += 2;
        l
    };
    while pos < data.len() {
        let l = line(&mut pos);
        if l.first() == Some(&b'#') {
            continue;
        }
        assert_eq!(
            l.first(),
            Some(&b'*'),
            "bad AOF at {pos}: {}",
            show(&data[pos.saturating_sub(40)..])
        );
        let n: usize = String::from_utf8_lossy(&l[1..]).parse().expect("argc");
        let mut argv = Vec::new();
        for _ in 0..n {
            let l = line(&mut pos);
            let len: usize = String::from_utf8_lossy(&l[1..]).parse().expect("len");
            argv.push(data[pos..pos + len].to_vec());
            pos += len + 2;
        }
        cmds.push(argv);
    }
    cmds
}

/// Replaces absolute millisecond times (and stream IDs made of them) by `<T>`.
fn normalise(cmds: Vec<Vec<Vec<u8>>>) -> Vec<String> {
    cmds.into_iter()
        .map(|argv| {
            argv.iter()
                .map(|a| {
                    let s = String::from_utf8_lossy(a).into_owned();
                    let (head, tail) = match s.split_once('-') {
                        Some((h, t)) => (h.to_string(), format!("-{t}")),
                        None => (s.clone(), String::new()),
                    };
                    if head.len() >= 12
                        && head.len() <= 14
                        && head.bytes().all(|b| b.is_ascii_digit())
                        && !head.starts_with("9999")
                    {
                        format!("<T>{tail}")
                    } else {
                        s
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// The commands of the last incremental file of `dir`'s AOF.
fn incr_commands(dir: &Path) -> Vec<String> {
    let aofdir = dir.join("appendonlydir");
    let manifest =
        std::fs::read_to_string(aofdir.join("appendonly.aof.manifest")).expect("manifest");
    let incr = manifest
        .lines()
        .rfind(|l| l.ends_with("type i"))
        .and_then(|l| l.split(' ').nth(1))
        .expect("an incr file")
        .to_string();
    normalise(parse_aof(
        &std::fs::read(aofdir.join(incr)).expect("incr file"),
    ))
}

fn blocked_clients(c: &mut RawClient) -> usize {
    let r = bulk(&c.cmds(&["INFO", "clients"]));
    String::from_utf8_lossy(&r)
        .lines()
        .find_map(|l| {
            l.strip_prefix("blocked_clients:")
                .map(|v| v.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0)
}

const LIB: &str = "#!lua name=mylib\nredis.register_function('f1', function(keys, args) return redis.call('set', keys[1], args[1]) end)\nredis.register_function('f2', function(keys, args) redis.call('set', keys[1], args[1]); return redis.call('incr', 'cnt') end)";

/// The corpus run on both servers. `payload`: a DUMP payload from the reference.
fn run_corpus(p: &Proc, payload: &[u8]) {
    let mut c = p.client();
    let run = |c: &mut RawClient, args: &[&str]| {
        let r = c.cmds(args);
        assert!(!r.is_empty());
    };
    c.cmds(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    for cmd in [
        // strings and expiries of every kind
        "SET s1 v",
        "SET s2 v EX 100",
        "SET s3 v PX 100000 GET",
        "SET s4 v EXAT 99999999999",
        "SET s5 v PXAT 99999999999000",
        "SET s5b v NX EX 100",
        "SETEX s6 100 v",
        "PSETEX s7 100000 v",
        "SETNX s1 x",
        "GETEX s1 EX 100",
        "GETEX s1 PERSIST",
        "GETEX s1",
        "GETEX s7 PXAT 1",
        "GETDEL s2",
        "GETDEL nosuchkey",
        "INCR n",
        "INCRBY n 5",
        "INCRBYFLOAT f 1.5",
        "INCRBYFLOAT f 1e2",
        "APPEND s1 x",
        "SETRANGE s1 0 y",
        "MSET a 1 b 2 c 3",
        "EXPIRE s1 100",
        "PEXPIRE s1 100000 NX",
        "PEXPIRE s1 200000 GT",
        "EXPIREAT s1 99999999999",
        "PEXPIREAT s1 99999999999000",
        "PERSIST s1",
        "PERSIST s1",
        "EXPIRE a -1",
        "EXPIREAT b 1",
        "PEXPIRE nosuchkey 100",
        "TTL s1",
        "COPY s1 s1copy",
        "RENAME s1copy s1renamed",
        "DEL c nosuchkey",
        // lists
        "RPUSH l a b c d e",
        "LPOP l",
        "RPOP l 2",
        "LMPOP 1 l LEFT COUNT 5",
        "LPUSH l2 x y z w",
        "BLPOP l2 0",
        "BRPOP nosuch l2 0",
        "BLMPOP 0 1 l2 RIGHT COUNT 1",
        "LMOVE l2 l3 LEFT RIGHT",
        "RPUSH l3 q",
        "BLMOVE l3 l4 LEFT LEFT 0",
        "RPOPLPUSH l3 l4",
        "LINSERT l4 BEFORE q r",
        "LREM l4 0 zz",
        // hashes
        "HSET h f 1 g 2",
        "HINCRBY h f 3",
        "HINCRBYFLOAT h g 1.5",
        "HDEL h f",
        "HSETNX h g 9",
        // sets
        "SADD st a",
        "SPOP st",
        "SADD st2 a b c",
        "SPOP st2 10",
        "SADD st3 x y",
        "SMOVE st3 st4 x",
        "SREM st3 nosuch",
        "SINTERSTORE st5 st3 st4",
        // sorted sets
        "ZADD z 1 a 2 b 3 c 4 d",
        "ZINCRBY z 2 a",
        "ZPOPMIN z",
        "ZMPOP 1 z MAX COUNT 2",
        "ZADD z2 1 a 2 b",
        "BZPOPMAX z2 0",
        "BZMPOP 0 1 z2 MIN COUNT 9",
        "ZREMRANGEBYSCORE z 100 200",
        // transactions
        "MULTI",
        "SET t1 1",
        "INCR t2",
        "EXEC",
        "MULTI",
        "SET t3 1",
        "GET t3",
        "EXEC",
        "MULTI",
        "GET t3",
        "EXEC",
        // databases
        "SELECT 3",
        "SET d3 v",
        "SELECT 0",
        "SWAPDB 0 1",
        "SWAPDB 0 1",
        "MOVE t1 5",
        "PUBLISH ch m",
        // streams and consumer groups
        "XADD x 1-1 f v",
        "XADD x 2-* g w",
        "XADD x 3-* h u",
        "XADD x 3-1 bad id",
        "XADD x MAXLEN ~ 10 * i j",
        "XGROUP CREATE x g 0",
        "XREADGROUP GROUP g c1 COUNT 1 STREAMS x >",
        "XREADGROUP GROUP g c1 NOACK COUNT 1 STREAMS x >",
        "XREADGROUP GROUP g c1 STREAMS x 0",
        "XREADGROUP GROUP g c1 COUNT 1 STREAMS x >",
        "XCLAIM x g c2 0 1-1",
        "XCLAIM x g c2 0 1-1 JUSTID LASTID 3-0",
        "XAUTOCLAIM x g c3 0 0",
        "XDEL x 1-1",
        "XAUTOCLAIM x g c4 0 0",
        "XACK x g 2-1",
        "XTRIM x MAXLEN 2",
        "XTRIM x MAXLEN ~ 0",
        "XGROUP CREATECONSUMER x g c9",
        "XGROUP DELCONSUMER x g c9",
        "XGROUP SETID x g 0 ENTRIESREAD 0",
        "XGROUP CREATE x g2 $",
        "XGROUP DESTROY x g2",
        "XSETID x 99999999999999-0",
        "XGROUP CREATE xb g 0 MKSTREAM",
        // more families
        "SETBIT bits 7 1",
        "SETBIT bits 7 1",
        "BITFIELD bf SET u8 0 255 GET u8 0",
        "BITFIELD bf GET u8 0",
        "BITOP NOT bnot bits",
        "PFADD hll a b c",
        "PFADD hll a",
        "PFCOUNT hll",
        "PFADD hll2 d",
        "PFMERGE hll3 hll hll2",
        "GEOADD geo 13.361389 38.115556 Palermo 15.087269 37.502669 Catania",
        "GEOSEARCHSTORE geo2 geo FROMLONLAT 15 37 BYRADIUS 200 km ASC",
        "RPUSH srt 3 1 2",
        "SORT srt STORE srt2",
        "SADD u1 a b",
        "SADD u2 b c",
        "SUNIONSTORE u3 u1 u2",
        "SDIFFSTORE u4 u1 u2",
        "ZADD zu1 1 a",
        "ZADD zu2 2 a 3 b",
        "ZUNIONSTORE zu3 2 zu1 zu2",
        "ZRANGESTORE zu4 zu3 0 -1",
        "ZREM zu4 nosuch",
        "LSET srt2 0 x",
        "LTRIM srt2 0 1",
        "LTRIM srt2 0 1",
        "GETSET gs v",
        "RENAMENX gs gs2",
        "HSET hx f v",
        "HSETNX hx f w",
        "HDEL hx f",
        "SETRANGE sr 5 x",
        "DECRBY dn 3",
        "INCRBYFLOAT fl 0.1",
        "INCRBYFLOAT fl 0.2",
        "EXPIRE fl 100 XX",
        "EXPIRE fl 50 LT",
        "UNLINK u1 u2",
    ] {
        run(&mut c, &cmd.split(' ').collect::<Vec<_>>());
    }
    // RESTORE, relative and absolute TTLs.
    c.cmd(&[b"RESTORE", b"r1", b"100000", payload]);
    c.cmd(&[b"RESTORE", b"r2", b"0", payload]);
    c.cmd(&[b"RESTORE", b"r3", b"99999999999000", payload, b"ABSTTL"]);
    c.cmd(&[b"RESTORE", b"r1", b"1", payload, b"REPLACE", b"ABSTTL"]);
    // scripts and functions: their effects
    c.cmds(&[
        "EVAL",
        "redis.call('set',KEYS[1],'1'); redis.call('incr',KEYS[1])",
        "1",
        "e1",
    ]);
    c.cmds(&["EVAL", "return redis.call('get','e1')", "0"]);
    c.cmds(&["EVAL", "redis.call('set','e2','1', 'ex', 100)", "0"]);
    c.cmds(&[
        "EVAL",
        "redis.call('set','e3','1'); redis.call('expire','e3', 100); redis.call('incrbyfloat','e4','1.5'); return redis.call('select', 2)",
        "0",
    ]);
    c.cmds(&[
        "EVAL",
        "redis.call('select', 4); redis.call('set','e5','1')",
        "0",
    ]);
    c.cmds(&["EVAL", "redis.call('set','e6','1'); error('boom')", "0"]);
    c.cmds(&[
        "EVAL",
        "redis.call('sadd','es','a'); redis.call('spop','es')",
        "0",
    ]);
    c.cmds(&["FUNCTION", "LOAD", LIB]);
    c.cmds(&["FCALL", "f1", "1", "fk", "fv"]);
    c.cmds(&["FCALL", "f2", "1", "fk", "fv"]);
    c.cmds(&["FCALL_RO", "f1", "0"]);
    c.cmds(&["FUNCTION", "LOAD", "REPLACE", LIB]);
    // lazily expired keys: a read deletes, a write deletes then writes
    c.cmds(&["SET", "lazy1", "v", "PX", "1"]);
    c.cmds(&["SET", "lazy2", "v", "PX", "1"]);
    c.cmds(&["SET", "lazy3", "v", "PX", "1"]);
    c.cmds(&["SET", "lazy4", "v", "PX", "1"]);
    std::thread::sleep(Duration::from_millis(20));
    c.cmds(&["GET", "lazy1"]);
    c.cmds(&["SET", "lazy2", "w"]);
    c.cmds(&["EXISTS", "lazy3"]);
    let mut cursor = "0".to_string();
    loop {
        let (_, parts) = split_elements(&c.cmds(&["SCAN", &cursor, "COUNT", "1000"]));
        cursor = String::from_utf8_lossy(&bulk(&parts[0])).into_owned();
        if cursor == "0" {
            break;
        }
    }
    // blocked clients served by someone else's push
    for (block, push) in [
        (vec!["BLPOP", "bl", "0"], vec!["RPUSH", "bl", "1", "2"]),
        (vec!["BRPOP", "bl2", "0"], vec!["LPUSH", "bl2", "1"]),
        (
            vec!["BLMPOP", "0", "1", "bm", "LEFT", "COUNT", "5"],
            vec!["RPUSH", "bm", "1", "2", "3"],
        ),
        (
            vec!["BLMOVE", "bmv", "dst", "LEFT", "RIGHT", "0"],
            vec!["RPUSH", "bmv", "x"],
        ),
        (
            vec!["BRPOPLPUSH", "brp", "dst2", "0"],
            vec!["RPUSH", "brp", "y"],
        ),
        (
            vec!["BZPOPMIN", "bz", "0"],
            vec!["ZADD", "bz", "1", "a", "2", "b"],
        ),
        (
            vec![
                "XREADGROUP",
                "GROUP",
                "g",
                "c9",
                "BLOCK",
                "0",
                "STREAMS",
                "xb",
                ">",
            ],
            vec!["XADD", "xb", "5-1", "f", "v"],
        ),
        (
            vec!["BZMPOP", "0", "1", "bzm", "MAX", "COUNT", "3"],
            vec!["ZADD", "bzm", "1", "a", "2", "b"],
        ),
    ] {
        let mut b = p.client();
        b.send_raw(&common::encode(
            &block.iter().map(|s| s.as_bytes()).collect::<Vec<_>>(),
        ));
        wait_for("a blocked client", || blocked_clients(&mut c) == 1);
        c.cmds(&push);
        let r = b.read_reply();
        assert!(r.starts_with(b"*") || r.starts_with(b"$"), "{}", show(&r));
    }
    c.cmds(&["SELECT", "7"]);
    c.cmds(&["SET", "gone", "1"]);
    c.cmds(&["FLUSHDB"]);
    c.cmds(&["FLUSHDB"]);
    c.cmds(&["SELECT", "0"]);
}

fn reference_payload() -> Vec<u8> {
    let d = dir("aof-payload");
    let r = redis(&d.0, &[]);
    let mut c = r.client();
    c.cmds(&["RPUSH", "p", "a", "b"]);
    bulk(&c.cmds(&["DUMP", "p"]))
}

#[test]
fn propagation_matches_the_reference_aof() {
    let payload = reference_payload();
    let fd = dir("aof-prop-f");
    let rd = dir("aof-prop-r");
    let f = ferrodis(&fd.0, AOF);
    let r = redis(&rd.0, AOF);
    run_corpus(&f, &payload);
    run_corpus(&r, &payload);
    let fa = incr_commands(&fd.0);
    let ra = incr_commands(&rd.0);
    let n = fa.len().max(ra.len());
    for i in 0..n {
        assert_eq!(
            fa.get(i),
            ra.get(i),
            "command {i} differs\nferrodis: {:#?}\nredis: {:#?}",
            &fa[i.saturating_sub(3).min(fa.len())..(i + 3).min(fa.len())],
            &ra[i.saturating_sub(3).min(ra.len())..(i + 3).min(ra.len())]
        );
    }
    // The same dataset after a restart from the AOF (SIGKILL: nothing saved at exit).
    let live = comparable(dataset(&mut f.client()));
    assert_eq!(live, comparable(dataset(&mut r.client())));
    // Both restarted from their AOFs (SIGKILL: nothing saved at exit) hold the same
    // dataset (a reload can differ from the live one in Redis too: a consumer group's
    // entries-read after XCLAIM ... LASTID).
    f.kill9();
    r.kill9();
    let f = ferrodis(&fd.0, AOF);
    let r = redis(&rd.0, AOF);
    let reloaded = comparable(dataset(&mut f.client()));
    assert_eq!(reloaded, comparable(dataset(&mut r.client())));
    assert_eq!(reloaded.len(), live.len());
    // redis-check-aof accepts Ferrodis's files.
    let out = Command::new("redis-check-aof")
        .arg(fd.0.join("appendonlydir/appendonly.aof.manifest"))
        .output()
        .expect("redis-check-aof (Debian's redis-tools)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("All AOF files and manifest are valid"),
        "{text}"
    );
}

/// A dataset of every type, with TTLs and several databases.
fn fill(c: &mut RawClient) {
    for cmd in [
        "SET str hello",
        "SET num 12345",
        "SET ttl v PXAT 99999999999000",
        "RPUSH list a b c 1 2 3",
        "SADD set a b c",
        "SADD iset 1 2 3",
        "ZADD zset 1 a 2.5 b -3 c",
        "HSET hash f1 v1 f2 v2",
        "XADD stream 1-1 f v",
        "XADD stream 2-1 g w",
        "XGROUP CREATE stream grp 0",
        "SELECT 4",
        "SET db4 x",
        "SELECT 0",
    ] {
        c.cmds(&cmd.split(' ').collect::<Vec<_>>());
    }
    let mut big = vec!["RPUSH".to_string(), "biglist".to_string()];
    big.extend((0..300).map(|i| format!("element-{i}")));
    c.cmds(&big.iter().map(|s| s.as_str()).collect::<Vec<_>>());
    c.cmds(&["FUNCTION", "LOAD", LIB]);
}

fn copy_aof_dir(from: &Path, to: &Path) {
    let src = from.join("appendonlydir");
    let dst = to.join("appendonlydir");
    std::fs::create_dir_all(&dst).unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
    }
}

#[test]
fn appendonlydir_interop_with_redis_both_ways() {
    for preamble in ["yes", "no"] {
        let extra = [AOF, &["--aof-use-rdb-preamble", preamble]].concat();
        // Written by Redis (base after a rewrite, then more writes), read by Ferrodis.
        let rd = dir("aof-interop-r");
        let r = redis(&rd.0, &extra);
        let mut c = r.client();
        fill(&mut c);
        c.cmds(&["BGREWRITEAOF"]);
        wait_for("the rewrite", || {
            info_field(&mut c, "aof_rewrite_in_progress") == "0"
                && info_field(&mut c, "aof_rewrites") == "1"
        });
        c.cmds(&["SET", "after", "rewrite"]);
        c.cmds(&["INCR", "num"]);
        c.cmds(&["EXPIRE", "str", "1000"]);
        let want = dataset(&mut c);
        let fd = dir("aof-interop-f");
        copy_aof_dir(&rd.0, &fd.0);
        let f = ferrodis(&fd.0, &extra);
        assert_eq!(
            dataset(&mut f.client()),
            want,
            "preamble {preamble}: Redis -> Ferrodis"
        );
        // Written by Ferrodis (after its own rewrite and more writes), read by Redis.
        let mut fc = f.client();
        fc.cmds(&["BGREWRITEAOF"]);
        wait_for("the rewrite", || info_field(&mut fc, "aof_rewrites") == "1");
        fc.cmds(&["SET", "ferrodis", "wrote"]);
        fc.cmds(&["SADD", "set", "d"]);
        let want = dataset(&mut fc);
        let base = std::fs::read_dir(fd.0.join("appendonlydir"))
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|n| n.contains(".base."))
            .expect("a base file");
        assert!(
            base.ends_with(if preamble == "yes" { ".rdb" } else { ".aof" }),
            "{base}"
        );
        let rd2 = dir("aof-interop-r2");
        copy_aof_dir(&fd.0, &rd2.0);
        let r2 = redis(&rd2.0, &extra);
        assert_eq!(
            dataset(&mut r2.client()),
            want,
            "preamble {preamble}: Ferrodis -> Redis"
        );
        let out = Command::new("redis-check-aof")
            .arg(fd.0.join("appendonlydir/appendonly.aof.manifest"))
            .output()
            .expect("redis-check-aof");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

/// N clients write concurrently; the server is SIGKILLed; after a restart every
/// acknowledged write is there.
fn durability(policy: &str) {
    let d = dir("aof-durability");
    let f = ferrodis(&d.0, &["--appendonly", "yes", "--appendfsync", policy]);
    let stop = Arc::new(AtomicBool::new(false));
    let port = f.port;
    let acked: Vec<Arc<AtomicU64>> = (0..8).map(|_| Arc::new(AtomicU64::new(0))).collect();
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let stop = stop.clone();
            let acked = acked[w].clone();
            std::thread::spawn(move || {
                let mut c = RawClient::connect(port);
                let key = format!("counter{w}");
                while !stop.load(Ordering::Relaxed) {
                    // Panics once the server is gone: what was acknowledged is recorded.
                    let r = c.cmds(&["INCR", &key]);
                    let n = acked.load(Ordering::SeqCst) + 1;
                    assert_eq!(r, format!(":{n}\r\n").into_bytes());
                    acked.store(n, Ordering::SeqCst);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    // Kill while the writers are still writing.
    let mut f = f;
    let _ = f.child.kill();
    let _ = f.child.wait();
    stop.store(true, Ordering::Relaxed);
    for h in workers {
        let _ = h.join();
    }
    drop(f);
    let f = ferrodis(&d.0, &["--appendonly", "yes"]);
    let mut c = f.client();
    let mut total = 0;
    for (w, a) in acked.iter().enumerate() {
        let a = a.load(Ordering::SeqCst);
        total += a;
        let got = bulk(&c.cmds(&["GET", &format!("counter{w}")]));
        let got: u64 = String::from_utf8_lossy(&got).parse().unwrap_or(0);
        // At most the one write in flight when the process died may be there too.
        assert!(
            got == a || got == a + 1,
            "{policy}: counter{w} acknowledged {a}, found {got}"
        );
    }
    assert!(
        total > 50,
        "{policy}: only {total} writes in the test window"
    );
}

#[test]
fn acknowledged_writes_survive_sigkill_always() {
    durability("always");
}

#[test]
fn acknowledged_writes_survive_sigkill_everysec() {
    durability("everysec");
}

fn incr_path(d: &Path) -> PathBuf {
    let aofdir = d.join("appendonlydir");
    let manifest = std::fs::read_to_string(aofdir.join("appendonly.aof.manifest")).unwrap();
    let name = manifest
        .lines()
        .rfind(|l| l.ends_with("type i"))
        .and_then(|l| l.split(' ').nth(1))
        .unwrap()
        .to_string();
    aofdir.join(name)
}

/// A server with a few writes, stopped; returns the directory.
fn written(tag: &str) -> common::TmpDir {
    let d = dir(tag);
    let f = ferrodis(&d.0, AOF);
    let mut c = f.client();
    c.cmds(&["SET", "a", "1"]);
    c.cmds(&["SET", "b", "2"]);
    c.cmds(&["SET", "c", "3"]);
    f.kill9();
    d
}

#[test]
fn truncated_last_command_is_trimmed_or_refused() {
    let d = written("aof-trunc");
    let p = incr_path(&d.0);
    let data = std::fs::read(&p).unwrap();
    std::fs::write(&p, &data[..data.len() - 5]).unwrap();
    let log = refuses(
        common::ferrodis_bin(),
        &d.0,
        &[AOF, &["--aof-load-truncated", "no"]].concat(),
    );
    assert!(
        log.contains(
            "Unexpected end of file reading the append only file appendonly.aof.1.incr.aof"
        ),
        "{log}"
    );
    let f = ferrodis(&d.0, AOF);
    let mut c = f.client();
    assert_eq!(c.cmds(&["GET", "b"]), b"$1\r\n2\r\n");
    assert_eq!(c.cmds(&["GET", "c"]), b"$-1\r\n");
    let log = std::fs::read_to_string(d.0.join("server.log")).unwrap();
    assert!(
        log.contains("!!! Truncating the AOF appendonly.aof.1.incr.aof at offset"),
        "{log}"
    );
    assert!(
        log.contains("loaded anyway because aof-load-truncated is enabled"),
        "{log}"
    );
    // The file was cut at the last complete command and writing goes on after it.
    c.cmds(&["SET", "d", "4"]);
    f.kill9();
    let f = ferrodis(&d.0, AOF);
    assert_eq!(f.client().cmds(&["GET", "d"]), b"$1\r\n4\r\n");
    f.kill9();
    // A transaction cut before its EXEC is reverted (and trimmed) as a whole.
    let p = incr_path(&d.0);
    let mut data = std::fs::read(&p).unwrap();
    let valid = data.len();
    data.extend_from_slice(b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nz\r\n$1\r\n9\r\n");
    std::fs::write(&p, &data).unwrap();
    let f = ferrodis(&d.0, AOF);
    let mut c = f.client();
    assert_eq!(c.cmds(&["GET", "z"]), b"$-1\r\n");
    assert_eq!(c.cmds(&["GET", "d"]), b"$1\r\n4\r\n");
    let log = std::fs::read_to_string(d.0.join("server.log")).unwrap();
    assert!(
        log.contains(
            "Revert incomplete MULTI/EXEC transaction in AOF file appendonly.aof.1.incr.aof"
        ),
        "{log}"
    );
    assert_eq!(std::fs::metadata(&p).unwrap().len() as usize, valid);
}

#[test]
fn corrupt_or_missing_files_refuse_to_start() {
    let d = written("aof-corrupt");
    let p = incr_path(&d.0);
    let mut data = std::fs::read(&p).unwrap();
    // The `$` of an argument of the second command.
    let at = data.windows(3).position(|w| w == b"\nb\r").unwrap() - 3;
    assert_eq!(data[at], b'$');
    data[at] = b'!';
    std::fs::write(&p, &data).unwrap();
    let log = refuses(common::ferrodis_bin(), &d.0, AOF);
    assert!(
        log.contains("Bad file format reading the append only file appendonly.aof.1.incr.aof")
            && log.contains(&format!("offset {at}")),
        "{log}"
    );
    // A file the manifest names is missing.
    let d = written("aof-missing");
    std::fs::remove_file(incr_path(&d.0)).unwrap();
    let log = refuses(common::ferrodis_bin(), &d.0, AOF);
    assert!(log.contains("appendonly.aof.1.incr.aof"), "{log}");
}

#[test]
fn rewrite_under_concurrent_writes_loses_nothing() {
    let d = dir("aof-rewrite");
    let f = ferrodis(&d.0, AOF);
    let port = f.port;
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut c = RawClient::connect(port);
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    c.cmds(&["INCR", &format!("counter{w}")]);
                    c.cmds(&["RPUSH", &format!("list{w}"), "x"]);
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut c = f.client();
    for i in 1..=3 {
        std::thread::sleep(Duration::from_millis(150));
        assert_eq!(
            c.cmds(&["BGREWRITEAOF"]),
            b"+Background append only file rewriting started\r\n"
        );
        wait_for("the rewrite", || {
            info_field(&mut c, "aof_rewrites") == i.to_string()
                && info_field(&mut c, "aof_rewrite_in_progress") == "0"
        });
    }
    std::thread::sleep(Duration::from_millis(150));
    stop.store(true, Ordering::Relaxed);
    let counts: Vec<u64> = workers.into_iter().map(|h| h.join().unwrap()).collect();
    // Only the current base and incr files remain (history deleted).
    let mut files: Vec<String> = std::fs::read_dir(d.0.join("appendonlydir"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "appendonly.aof.4.base.rdb",
            "appendonly.aof.4.incr.aof",
            "appendonly.aof.manifest"
        ]
    );
    f.kill9();
    let f = ferrodis(&d.0, AOF);
    let mut c = f.client();
    for (w, n) in counts.iter().enumerate() {
        assert_eq!(
            c.cmds(&["GET", &format!("counter{w}")]),
            format!("${}\r\n{n}\r\n", n.to_string().len()).into_bytes()
        );
        assert_eq!(
            c.cmds(&["LLEN", &format!("list{w}")]),
            format!(":{n}\r\n").into_bytes()
        );
    }
}

#[test]
fn automatic_rewrite_triggers() {
    let d = dir("aof-auto");
    let f = ferrodis(
        &d.0,
        &[
            AOF,
            &[
                "--auto-aof-rewrite-min-size",
                "4096",
                "--auto-aof-rewrite-percentage",
                "100",
            ],
        ]
        .concat(),
    );
    let mut c = f.client();
    let v = "x".repeat(200);
    for i in 0..100 {
        c.cmds(&["SET", &format!("k{i}"), &v]);
    }
    wait_for("an automatic rewrite", || {
        info_field(&mut c, "aof_rewrites")
            .parse::<u64>()
            .unwrap_or(0)
            >= 1
    });
    // The rewritten AOF still holds everything.
    wait_for("the rewrite to end", || {
        info_field(&mut c, "aof_rewrite_in_progress") == "0"
    });
    drop(c);
    f.kill9();
    let f = ferrodis(&d.0, AOF);
    assert_eq!(f.client().cmds(&["DBSIZE"]), b":100\r\n");
}

#[test]
fn config_set_appendonly_waitaof_and_info() {
    let d = dir("aof-config");
    let f = ferrodis(&d.0, &[]);
    let mut c = f.client();
    c.cmds(&["SET", "before", "1"]);
    assert_eq!(
        c.cmds(&["WAITAOF", "1", "0", "0"]),
        b"-ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled.\r\n"
    );
    assert_eq!(c.cmds(&["WAITAOF", "0", "0", "0"]), b"*2\r\n:0\r\n:0\r\n");
    assert_eq!(info_field(&mut c, "aof_enabled"), "0");
    assert_eq!(c.cmds(&["CONFIG", "SET", "appendonly", "yes"]), b"+OK\r\n");
    wait_for("the AOF to be on", || {
        info_field(&mut c, "aof_enabled") == "1"
    });
    assert!(d.0.join("appendonlydir/appendonly.aof.1.base.rdb").exists());
    c.cmds(&["SET", "after", "2"]);
    assert_eq!(c.cmds(&["WAITAOF", "1", "0", "0"]), b"*2\r\n:1\r\n:0\r\n");
    // No replicas: waits for the timeout, then answers with what it has.
    let t = Instant::now();
    assert_eq!(c.cmds(&["WAITAOF", "1", "1", "150"]), b"*2\r\n:1\r\n:0\r\n");
    assert!(t.elapsed() >= Duration::from_millis(150));
    assert_eq!(c.cmds(&["MULTI"]), b"+OK\r\n");
    c.cmds(&["WAITAOF", "0", "1", "0"]);
    assert_eq!(c.cmds(&["EXEC"]), b"*1\r\n*2\r\n:1\r\n:0\r\n");
    assert_eq!(
        c.cmds(&["WAITAOF", "2", "0", "0"]),
        b"-ERR value is out of range, value must between 0 and 1\r\n"
    );
    assert_eq!(
        c.cmds(&["WAITAOF", "0", "-1", "0"]),
        b"-ERR value is out of range, must be positive\r\n"
    );
    assert_eq!(
        c.cmds(&["WAITAOF", "0", "0", "-1"]),
        b"-ERR timeout is negative\r\n"
    );
    // The INFO fields, in the reference's order.
    let rd = dir("aof-config-r");
    let r = redis(&rd.0, AOF);
    let names = |c: &mut RawClient| -> Vec<String> {
        String::from_utf8_lossy(&bulk(&c.cmds(&["INFO", "persistence"])))
            .lines()
            .filter(|l| l.starts_with("aof_"))
            .filter_map(|l| l.split(':').next().map(str::to_string))
            .collect()
    };
    assert_eq!(names(&mut c), names(&mut r.client()));
    assert_ne!(info_field(&mut c, "aof_current_size"), "0");
    f.kill9();
    let f = ferrodis(&d.0, AOF);
    let mut c = f.client();
    assert_eq!(c.cmds(&["GET", "before"]), b"$1\r\n1\r\n");
    assert_eq!(c.cmds(&["GET", "after"]), b"$1\r\n2\r\n");
    assert_eq!(c.cmds(&["CONFIG", "SET", "appendonly", "no"]), b"+OK\r\n");
    assert_eq!(info_field(&mut c, "aof_enabled"), "0");
}

#[test]
fn timestamp_annotations_are_written_and_skipped_on_load() {
    let d = dir("aof-ts");
    let extra = [AOF, &["--aof-timestamp-enabled", "yes"]].concat();
    let f = ferrodis(&d.0, &extra);
    let mut c = f.client();
    c.cmds(&["SET", "a", "1"]);
    std::thread::sleep(Duration::from_millis(1100));
    c.cmds(&["SET", "b", "2"]);
    let text = String::from_utf8_lossy(&std::fs::read(incr_path(&d.0)).unwrap()).into_owned();
    assert_eq!(text.matches("#TS:").count(), 2, "{text}");
    assert!(text.starts_with("#TS:"), "{text}");
    f.kill9();
    let f = ferrodis(&d.0, &extra);
    let mut c = f.client();
    assert_eq!(c.cmds(&["MGET", "a", "b"]), b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    // The reference loads it too.
    drop(c);
    f.kill9();
    let rd = dir("aof-ts-r");
    copy_aof_dir(&d.0, &rd.0);
    let r = redis(&rd.0, AOF);
    assert_eq!(
        r.client().cmds(&["MGET", "a", "b"]),
        b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n"
    );
}

/// Redis 7.4's hash field TTLs (the reference 7.0 lacks them): relative times are
/// written as absolute HPEXPIREAT, so a restart keeps the same expiry times.
#[test]
fn hash_field_ttls_are_propagated_as_absolute_times() {
    let d = dir("aof-hfe");
    let f = ferrodis(&d.0, AOF);
    let mut c = f.client();
    c.cmds(&["HSET", "h", "a", "1", "b", "2", "c", "3"]);
    c.cmds(&["HEXPIRE", "h", "100", "FIELDS", "1", "a"]);
    c.cmds(&["HPEXPIRE", "h", "200000", "NX", "FIELDS", "2", "b", "c"]);
    c.cmds(&["HEXPIREAT", "h", "1", "FIELDS", "1", "c"]);
    let times = c.cmds(&["HPEXPIRETIME", "h", "FIELDS", "3", "a", "b", "c"]);
    let cmds = incr_commands(&d.0);
    assert!(
        cmds.contains(&"HPEXPIREAT h <T> FIELDS 1 a".to_string()),
        "{cmds:?}"
    );
    assert!(
        cmds.contains(&"HPEXPIREAT h <T> NX FIELDS 2 b c".to_string()),
        "{cmds:?}"
    );
    assert!(
        cmds.contains(&"HPEXPIREAT h 1000 FIELDS 1 c".to_string()),
        "{cmds:?}"
    );
    std::thread::sleep(Duration::from_millis(1100));
    drop(c);
    f.kill9();
    let f = ferrodis(&d.0, AOF);
    let mut c = f.client();
    assert_eq!(
        c.cmds(&["HPEXPIRETIME", "h", "FIELDS", "3", "a", "b", "c"]),
        times
    );
    assert_eq!(c.cmds(&["HLEN", "h"]), b":2\r\n");
}

/// `appendonly yes` with no AOF yet: like the reference (7.0.15), the dump.rdb is
/// not read and an empty base is created.
#[test]
fn appendonly_without_aof_ignores_the_rdb_as_redis_does() {
    for server in ["ferrodis", "redis"] {
        let d = dir("aof-fresh");
        let start = |extra: &[&str]| {
            if server == "ferrodis" {
                ferrodis(&d.0, extra)
            } else {
                redis(&d.0, extra)
            }
        };
        let p = start(&[]);
        let mut c = p.client();
        c.cmds(&["SET", "in-rdb", "1"]);
        assert_eq!(c.cmds(&["SAVE"]), b"+OK\r\n");
        drop(c);
        p.kill9();
        let p = start(AOF);
        assert_eq!(p.client().cmds(&["DBSIZE"]), b":0\r\n", "{server}");
        let manifest =
            std::fs::read_to_string(d.0.join("appendonlydir/appendonly.aof.manifest")).unwrap();
        assert_eq!(
            manifest,
            "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
            "{server}"
        );
    }
}

#[test]
fn old_single_file_aof_is_upgraded() {
    let d = dir("aof-upgrade");
    std::fs::write(
        d.0.join("appendonly.aof"),
        b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$3\r\nold\r\n$5\r\nstyle\r\n#TS:1700000000\r\n",
    )
    .unwrap();
    let f = ferrodis(&d.0, AOF);
    assert_eq!(f.client().cmds(&["GET", "old"]), b"$5\r\nstyle\r\n");
    let manifest =
        std::fs::read_to_string(d.0.join("appendonlydir/appendonly.aof.manifest")).unwrap();
    assert!(
        manifest.starts_with("file appendonly.aof seq 1 type b\n"),
        "{manifest}"
    );
    assert!(!d.0.join("appendonly.aof").exists());
}

/// A disk that refuses AOF writes (the file size limit, as a full disk would):
/// writes are refused with Redis's MISCONF error, and accepted again once a rewrite
/// moved the AOF to new files; nothing acknowledged is lost.
#[test]
fn write_errors_refuse_writes_with_misconf_until_solved() {
    let d = dir("aof-misconf");
    let port = free_port();
    let bin = common::ferrodis_bin();
    let args = args_for(
        port,
        &d.0,
        &["--appendonly", "yes", "--appendfsync", "everysec"],
    );
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    // SIGXFSZ ignored: write() past the limit fails with EFBIG ("File too large").
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f 8; exec '{bin}' {}",
            quoted.join(" ")
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sh");
    common::wait_ready(port, &mut child, "ferrodis-server");
    let p = Proc { child, port };
    let mut c = p.client();
    let v = "x".repeat(1000);
    let mut refused = None;
    for i in 0..40 {
        let r = c.cmds(&["SET", &format!("k{}", i % 3), &v]);
        if r != b"+OK\r\n" {
            refused = Some(r);
            break;
        }
    }
    assert_eq!(
        refused.as_deref(),
        Some(&b"-MISCONF Errors writing to the AOF file: File too large\r\n"[..])
    );
    assert_eq!(info_field(&mut c, "aof_last_write_status"), "err");
    assert_eq!(
        c.cmds(&["INCR", "n"]),
        b"-MISCONF Errors writing to the AOF file: File too large\r\n"
    );
    assert_eq!(c.cmds(&["GET", "k0"]).len(), 1000 + 9);
    c.cmds(&["BGREWRITEAOF"]);
    wait_for("writes accepted again", || {
        info_field(&mut c, "aof_last_write_status") == "ok"
    });
    assert_eq!(c.cmds(&["INCR", "n"]), b":1\r\n");
    let want = dataset(&mut c);
    drop(c);
    p.kill9();
    let f = ferrodis(&d.0, AOF);
    assert_eq!(dataset(&mut f.client()), want);
}
