//! SLOWLOG entries compared with the reference redis-server: the same commands give
//! the same entries (ids, arguments with Redis's cutting of long arguments and long
//! argument lists, client names; timestamps, durations and peers are checked for
//! plausibility instead), newest first, trimmed to slowlog-max-len; skip_slowlog
//! commands (AUTH, EXEC) are not logged.

mod common;

use common::{ferrodis, redis, split_elements, RawClient};

fn entries(c: &mut RawClient) -> Vec<Vec<Vec<u8>>> {
    let (_, items) = split_elements(&c.cmds(&["SLOWLOG", "GET", "-1"]));
    items
        .iter()
        .map(|e| {
            let (_, f) = split_elements(e);
            assert_eq!(f.len(), 6, "an entry has 6 fields");
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let ts: u64 = String::from_utf8_lossy(&f[1][1..f[1].len() - 2])
                .parse()
                .unwrap_or(0);
            assert!(ts + 60 > now && ts <= now + 1, "timestamp {ts}");
            assert!(f[2].starts_with(b":"), "duration");
            assert!(
                String::from_utf8_lossy(&f[4]).contains("127.0.0.1:"),
                "peer {}",
                common::show(&f[4])
            );
            vec![f[0].clone(), f[3].clone(), f[5].clone()]
        })
        .collect()
}

fn scenario(c: &mut RawClient) -> Vec<Vec<Vec<Vec<u8>>>> {
    let mut seen = Vec::new();
    c.cmds(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
    c.cmds(&["SLOWLOG", "RESET"]);
    c.cmds(&["SET", "a", "1"]);
    c.cmds(&["CLIENT", "SETNAME", "logger"]);
    c.cmds(&["AUTH", "secret"]);
    c.cmds(&["MULTI"]);
    c.cmds(&["INCR", "n"]);
    c.cmds(&["EXEC"]);
    let long = "x".repeat(300);
    c.cmds(&["SET", "long", &long]);
    let many: Vec<String> = (0..40).map(|i| format!("m{i}")).collect();
    let mut sadd = vec!["SADD", "s"];
    sadd.extend(many.iter().map(String::as_str));
    c.cmds(&sadd);
    seen.push(entries(c));
    c.cmds(&["CONFIG", "SET", "slowlog-max-len", "3"]);
    c.cmds(&["GET", "a"]);
    seen.push(entries(c));
    c.cmds(&["CONFIG", "SET", "slowlog-log-slower-than", "-1"]);
    c.cmds(&["GET", "a"]);
    seen.push(entries(c));
    c.cmds(&["CONFIG", "SET", "slowlog-log-slower-than", "10000"]);
    seen
}

#[test]
fn slowlog_entries_match_redis() {
    let f = ferrodis(&[]);
    let r = redis(&[]);
    let a = scenario(&mut f.client());
    let b = scenario(&mut r.client());
    for (i, (x, y)) in a.iter().zip(b.iter()).enumerate() {
        let show = |v: &Vec<Vec<Vec<u8>>>| {
            v.iter()
                .map(|e| {
                    e.iter()
                        .map(|f| common::show(f))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(show(x), show(y), "snapshot {i} (ferrodis vs redis)");
    }
    assert!(a[0].len() >= 6, "{} entries", a[0].len());
}
