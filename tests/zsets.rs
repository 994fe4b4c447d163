//! Sorted sets at scale: a 100,000-member leaderboard under random updates checked
//! against a model (ZRANK/ZREVRANK/ZRANGE/ZRANGE BYSCORE/ZCOUNT/ZSCAN), and the memory
//! of 100,000 small sorted sets compared with the reference redis-server.

mod common;

use std::collections::{BTreeSet, HashMap};

use common::{encode, split_elements, RawClient};
use rand::{Rng, SeedableRng};

/// Sends all commands at once, then reads one reply per command.
fn pipeline(c: &mut RawClient, cmds: &[Vec<Vec<u8>>]) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(cmds.len());
    for chunk in cmds.chunks(1000) {
        let mut buf = Vec::new();
        for cmd in chunk {
            let a: Vec<&[u8]> = cmd.iter().map(|x| x.as_slice()).collect();
            buf.extend(encode(&a));
        }
        c.send_raw(&buf);
        for _ in chunk {
            out.push(c.read_reply());
        }
    }
    out
}

fn cmd(parts: &[&str]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.as_bytes().to_vec()).collect()
}

fn int(reply: &[u8]) -> i64 {
    let s = String::from_utf8_lossy(reply);
    s.trim()
        .trim_start_matches(':')
        .parse()
        .unwrap_or_else(|_| panic!("not an integer reply: {s:?}"))
}

/// Bulk strings of a flat array reply.
fn strings(reply: &[u8]) -> Vec<String> {
    let (_, elems) = split_elements(reply);
    elems
        .iter()
        .map(|e| {
            let s = String::from_utf8_lossy(e).into_owned();
            let body = s.split_once("\r\n").map(|x| x.1).unwrap_or("");
            body.trim_end_matches("\r\n").to_string()
        })
        .collect()
}

/// The model: member -> score and the sorted (score, member) order. Scores are
/// integers so the ordering key is exact.
#[derive(Default)]
struct Model {
    scores: HashMap<String, i64>,
    order: BTreeSet<(i64, String)>,
}

impl Model {
    fn set(&mut self, m: &str, s: i64) {
        if let Some(old) = self.scores.insert(m.to_string(), s) {
            self.order.remove(&(old, m.to_string()));
        }
        self.order.insert((s, m.to_string()));
    }
    fn remove(&mut self, m: &str) -> bool {
        match self.scores.remove(m) {
            Some(old) => {
                self.order.remove(&(old, m.to_string()));
                true
            }
            None => false,
        }
    }
}

#[test]
fn leaderboard_matches_model() {
    let srv = common::ferrodis(&[]);
    let mut c = srv.client();
    let mut rng = rand::rngs::SmallRng::seed_from_u64(0x2a);
    let mut model = Model::default();
    const N: usize = 100_000;
    // Scores from a small range, so many members tie and order by member bytes.
    let mut load = Vec::new();
    for batch in 0..N / 1000 {
        let mut parts = vec!["ZADD".to_string(), "lb".to_string()];
        for i in batch * 1000..(batch + 1) * 1000 {
            let m = format!("player:{i}");
            let s: i64 = rng.gen_range(0..5000);
            model.set(&m, s);
            parts.push(s.to_string());
            parts.push(m);
        }
        load.push(parts.into_iter().map(String::into_bytes).collect());
    }
    for r in pipeline(&mut c, &load) {
        assert_eq!(int(&r), 1000);
    }
    assert_eq!(c.cmds(&["OBJECT", "ENCODING", "lb"]), b"$8\r\nskiplist\r\n");
    assert_eq!(int(&c.cmds(&["ZCARD", "lb"])), N as i64);

    // Random updates: score changes, increments, removals, new members.
    let mut ops = Vec::new();
    for _ in 0..30_000 {
        let m = format!("player:{}", rng.gen_range(0..N + 5000));
        match rng.gen_range(0..10) {
            0..=3 => {
                let s: i64 = rng.gen_range(0..5000);
                model.set(&m, s);
                ops.push(cmd(&["ZADD", "lb", &s.to_string(), &m]));
            }
            4..=7 => {
                let d: i64 = rng.gen_range(-100..100);
                let s = model.scores.get(&m).copied().unwrap_or(0) + d;
                model.set(&m, s);
                ops.push(cmd(&["ZINCRBY", "lb", &d.to_string(), &m]));
            }
            _ => {
                model.remove(&m);
                ops.push(cmd(&["ZREM", "lb", &m]));
            }
        }
    }
    for r in pipeline(&mut c, &ops) {
        assert!(
            !r.starts_with(b"-"),
            "error reply {:?}",
            String::from_utf8_lossy(&r)
        );
    }
    let sorted: Vec<(i64, String)> = model.order.iter().cloned().collect();
    let len = sorted.len();
    assert_eq!(int(&c.cmds(&["ZCARD", "lb"])), len as i64);

    // ZRANK / ZREVRANK / ZSCORE for a sample of members.
    let mut checks = Vec::new();
    let mut want = Vec::new();
    for _ in 0..2000 {
        let r = rng.gen_range(0..len);
        let (s, m) = &sorted[r];
        checks.push(cmd(&["ZRANK", "lb", m]));
        want.push(format!(":{r}\r\n").into_bytes());
        checks.push(cmd(&["ZREVRANK", "lb", m]));
        want.push(format!(":{}\r\n", len - 1 - r).into_bytes());
        checks.push(cmd(&["ZSCORE", "lb", m]));
        let st = s.to_string();
        want.push(format!("${}\r\n{st}\r\n", st.len()).into_bytes());
    }
    let got = pipeline(&mut c, &checks);
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(
            String::from_utf8_lossy(g),
            String::from_utf8_lossy(w),
            "check {i}: {:?}",
            String::from_utf8_lossy(&checks[i][2])
        );
    }

    // ZRANGE windows by rank, both directions, and by score with LIMIT.
    for _ in 0..100 {
        let start = rng.gen_range(0..len);
        let stop = (start + rng.gen_range(0..200)).min(len - 1);
        let got = strings(&c.cmds(&[
            "ZRANGE",
            "lb",
            &start.to_string(),
            &stop.to_string(),
            "WITHSCORES",
        ]));
        let expect: Vec<String> = sorted[start..=stop]
            .iter()
            .flat_map(|(s, m)| [m.clone(), s.to_string()])
            .collect();
        assert_eq!(got, expect, "ZRANGE {start} {stop}");
        let got = strings(&c.cmds(&[
            "ZRANGE",
            "lb",
            &format!("-{}", start + 1),
            &format!("-{}", start + 1),
            "REV",
        ]));
        assert_eq!(got, vec![sorted[start].1.clone()], "ZRANGE REV at {start}");
        let lo: i64 = rng.gen_range(-100..5100);
        let hi = lo + rng.gen_range(0..50);
        let offset = rng.gen_range(0..20);
        let in_range: Vec<&(i64, String)> =
            sorted.iter().filter(|(s, _)| *s > lo && *s <= hi).collect();
        let got = strings(&c.cmds(&[
            "ZRANGE",
            "lb",
            &format!("({lo}"),
            &hi.to_string(),
            "BYSCORE",
            "LIMIT",
            &offset.to_string(),
            "30",
        ]));
        let expect: Vec<String> = in_range
            .iter()
            .skip(offset)
            .take(30)
            .map(|(_, m)| m.clone())
            .collect();
        assert_eq!(got, expect, "BYSCORE ({lo} {hi} LIMIT {offset} 30");
        let count = int(&c.cmds(&["ZCOUNT", "lb", &format!("({lo}"), &hi.to_string()]));
        assert_eq!(count, in_range.len() as i64);
    }

    // A full ZSCAN returns every member exactly once, with its score.
    let mut cursor = "0".to_string();
    let mut seen = HashMap::new();
    loop {
        let reply = c.cmds(&["ZSCAN", "lb", &cursor, "COUNT", "500"]);
        let (_, parts) = split_elements(&reply);
        let cur = strings(&reply)[0].clone();
        let items = strings(&parts[1]);
        for pair in items.chunks(2) {
            let prev = seen.insert(pair[0].clone(), pair[1].clone());
            assert!(prev.is_none(), "ZSCAN returned {} twice", pair[0]);
        }
        cursor = cur;
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), len);
    for (m, s) in &model.scores {
        assert_eq!(seen.get(m), Some(&s.to_string()), "ZSCAN score of {m}");
    }

    // Popping from both ends follows the model too.
    let got = strings(&c.cmds(&["ZPOPMIN", "lb", "3"]));
    let expect: Vec<String> = sorted[..3]
        .iter()
        .flat_map(|(s, m)| [m.clone(), s.to_string()])
        .collect();
    assert_eq!(got, expect);
    let got = strings(&c.cmds(&["ZPOPMAX", "lb", "2"]));
    let expect: Vec<String> = sorted[len - 2..]
        .iter()
        .rev()
        .flat_map(|(s, m)| [m.clone(), s.to_string()])
        .collect();
    assert_eq!(got, expect);
    // Removing a rank range leaves the right neighbours.
    assert_eq!(int(&c.cmds(&["ZREMRANGEBYRANK", "lb", "0", "999"])), 1000);
    let got = strings(&c.cmds(&["ZRANGE", "lb", "0", "0"]));
    assert_eq!(got, vec![sorted[1003].1.clone()]);
}

/// ZRANK/ZREVRANK WITHSCORE (Redis 7.2, newer than the reference server): the rank
/// and the score, a null array when the member or key is missing, errors otherwise.
#[test]
fn zrank_withscore() {
    let srv = common::ferrodis(&[]);
    let mut c = srv.client();
    assert_eq!(
        int(&c.cmds(&["ZADD", "z", "1.5", "a", "2", "b", "3", "c"])),
        3
    );
    assert_eq!(
        c.cmds(&["ZRANK", "z", "b", "WITHSCORE"]),
        b"*2\r\n:1\r\n$1\r\n2\r\n"
    );
    assert_eq!(
        c.cmds(&["ZREVRANK", "z", "a", "withscore"]),
        b"*2\r\n:2\r\n$3\r\n1.5\r\n"
    );
    assert_eq!(c.cmds(&["ZRANK", "z", "nosuch", "WITHSCORE"]), b"*-1\r\n");
    assert_eq!(c.cmds(&["ZRANK", "nokey", "a", "WITHSCORE"]), b"*-1\r\n");
    assert_eq!(
        c.cmds(&["ZRANK", "z", "a", "FOO"]),
        b"-ERR syntax error\r\n"
    );
    assert_eq!(
        c.cmds(&["ZRANK", "z", "a", "WITHSCORE", "x"]),
        b"-ERR wrong number of arguments for 'zrank' command\r\n"
    );
    c.cmds(&["HELLO", "3"]);
    assert_eq!(
        c.cmds(&["ZRANK", "z", "c", "WITHSCORE"]),
        b"*2\r\n:2\r\n,3\r\n"
    );
    assert_eq!(c.cmds(&["ZRANK", "z", "nosuch", "WITHSCORE"]), b"_\r\n");
    c.cmds(&["SET", "s", "v"]);
    assert!(c
        .cmds(&["ZRANK", "s", "a", "WITHSCORE"])
        .starts_with(b"-WRONGTYPE"));
}

fn used_memory(c: &mut RawClient) -> u64 {
    let reply = c.cmds(&["INFO", "memory"]);
    let text = String::from_utf8_lossy(&reply);
    text.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory in INFO")
}

/// 100,000 sorted sets of 10 small members: Ferrodis must not use more memory than
/// the reference redis-server for the same data.
#[test]
fn small_sorted_sets_memory_vs_reference() {
    const KEYS: usize = 100_000;
    let mut cmds = Vec::with_capacity(KEYS);
    for k in 0..KEYS {
        let mut parts = vec!["ZADD".to_string(), format!("zset:{k}")];
        for j in 0..10 {
            parts.push((j * 10 + k % 7).to_string());
            parts.push(format!("member:{j}"));
        }
        cmds.push(
            parts
                .into_iter()
                .map(String::into_bytes)
                .collect::<Vec<_>>(),
        );
    }
    let mut results = Vec::new();
    for (name, srv) in [
        ("ferrodis", common::ferrodis(&[])),
        ("redis", common::redis(&[])),
    ] {
        let mut c = srv.client();
        let before = used_memory(&mut c);
        for r in pipeline(&mut c, &cmds) {
            assert_eq!(r, b":10\r\n");
        }
        assert_eq!(
            c.cmds(&["OBJECT", "ENCODING", "zset:5"]),
            b"$8\r\nlistpack\r\n"
        );
        let after = used_memory(&mut c);
        let delta = after.saturating_sub(before);
        eprintln!(
            "{name}: used_memory {before} -> {after}: {delta} bytes for {KEYS} sorted sets ({} per key)",
            delta / KEYS as u64
        );
        results.push(delta);
    }
    assert!(
        results[0] <= results[1],
        "ferrodis uses more memory than redis for small sorted sets: {} > {}",
        results[0],
        results[1]
    );
}
