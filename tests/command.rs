//! COMMAND INFO / DOCS against the reference redis-server, field by field, for every
//! command Ferrodis lists; and `redis-cli` in interactive mode (it fetches COMMAND
//! DOCS for its hints and `help`).
//!
//! Ferrodis follows Redis 7.2 while the reference server is 7.0.15; the few documented
//! differences between the two are listed in `EXCEPTIONS`. Everything else must match.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::RawClient;

/// A parsed RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
enum V {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    Nil,
    Array(Vec<V>),
}

fn parse(b: &[u8]) -> V {
    let mut pos = 0;
    let v = parse_at(b, &mut pos);
    assert_eq!(pos, b.len(), "trailing bytes after reply");
    v
}

fn parse_at(b: &[u8], pos: &mut usize) -> V {
    let end = b[*pos..]
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|p| *pos + p)
        .expect("line end");
    let kind = b[*pos];
    let line = std::str::from_utf8(&b[*pos + 1..end]).expect("utf8 header");
    *pos = end + 2;
    match kind {
        b'+' => V::Status(line.to_string()),
        b'-' => V::Error(line.to_string()),
        b':' => V::Int(line.parse().expect("int")),
        b'$' => {
            let n: i64 = line.parse().expect("bulk len");
            if n < 0 {
                return V::Nil;
            }
            let n = n as usize;
            let v = b[*pos..*pos + n].to_vec();
            *pos += n + 2;
            V::Bulk(v)
        }
        b'*' => {
            let n: i64 = line.parse().expect("array len");
            if n < 0 {
                return V::Nil;
            }
            V::Array((0..n).map(|_| parse_at(b, pos)).collect())
        }
        other => panic!("unexpected RESP2 type byte {:?}", other as char),
    }
}

impl V {
    fn text(&self) -> String {
        match self {
            V::Status(s) | V::Error(s) => s.clone(),
            V::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
            V::Int(i) => i.to_string(),
            V::Nil => "(nil)".into(),
            V::Array(_) => format!("{self:?}"),
        }
    }
    fn items(&self) -> &[V] {
        match self {
            V::Array(a) => a,
            other => panic!("expected an array, got {other:?}"),
        }
    }
    /// A flat key/value array (a RESP2 map) as pairs.
    fn pairs(&self) -> Vec<(String, &V)> {
        self.items()
            .chunks(2)
            .map(|c| (c[0].text(), &c[1]))
            .collect()
    }
    fn get(&self, key: &str) -> Option<&V> {
        self.pairs()
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
}

fn query(c: &mut RawClient, args: &[&str]) -> V {
    parse(&c.cmds(args))
}

const R: &str = "argument grammar changed in 7.2";
const T: &str = "command tips changed in 7.2";

/// Documented differences between Redis 7.2 (what Ferrodis implements) and the 7.0.15
/// reference server: (command, field, why).
const EXCEPTIONS: &[(&str, &str, &str)] = &[
    // 7.2 added the optional WITHSCORE argument.
    ("zrank", "arity", "7.2 arity -3 for WITHSCORE (7.0: 3)"),
    ("zrevrank", "arity", "7.2 arity -3 for WITHSCORE (7.0: 3)"),
    // 7.2 lowered the arity so `COMMAND GETKEYS <cmd>` with no arguments is accepted.
    ("command|getkeys", "arity", "7.2 arity -3 (7.0: -4)"),
    ("command|getkeysandflags", "arity", "7.2 arity -3 (7.0: -4)"),
    // 7.0 documents no arguments for these; 7.2 has `command [arg ...]`.
    (
        "command|getkeys",
        "arguments",
        "7.2 documents the arguments",
    ),
    (
        "command|getkeysandflags",
        "arguments",
        "7.2 documents the arguments",
    ),
    // 7.2 names the ASYNC|SYNC choice `flush-type` (7.0: `async`).
    (
        "flushall",
        "arguments",
        "7.2 renamed the oneof to flush-type",
    ),
    (
        "flushdb",
        "arguments",
        "7.2 renamed the oneof to flush-type",
    ),
    // QUIT is deprecated since 7.2.0.
    ("quit", "doc_flags", "deprecated in 7.2"),
    ("quit", "deprecated_since", "deprecated in 7.2"),
    // SETEX, SETNX and PSETEX are deprecated since 2.6.12 as of 7.2's docs.
    ("setex", "doc_flags", "deprecated in 7.2's docs"),
    ("setex", "deprecated_since", "deprecated in 7.2's docs"),
    ("setnx", "doc_flags", "deprecated in 7.2's docs"),
    ("setnx", "deprecated_since", "deprecated in 7.2's docs"),
    ("psetex", "doc_flags", "deprecated in 7.2's docs"),
    ("psetex", "deprecated_since", "deprecated in 7.2's docs"),
    ("client|pause", "since", "7.2 says 3.0.0 (7.0: 2.9.50)"),
    // Command tips (cluster routing hints) added or changed in 7.2.
    ("client|setname", "tips", T),
    ("acl|setuser", "tips", T),
    ("acl|deluser", "tips", T),
    ("acl|save", "tips", T),
    ("latency|reset", "tips", T),
    ("scan", "tips", T),
    ("msetnx", "tips", T),
    ("config|rewrite", "tips", T),
    ("config|resetstat", "tips", T),
    ("randomkey", "tips", T),
    // 7.2 renamed many arguments (`key_value` -> `data`, `offset_count` -> `limit`,
    // `groupname` -> `group`, ...), made some optional (GEOPOS member, PFMERGE
    // source), split blocks (GEORADIUS STORE) and added new ones (ZRANK WITHSCORE).
    ("acl|cat", "arguments", R),
    ("bitcount", "arguments", R),
    ("bitfield", "arguments", R),
    ("bitfield_ro", "arguments", R),
    ("bitop", "arguments", R),
    ("bitpos", "arguments", R),
    ("client|kill", "arguments", R),
    ("client|list", "arguments", R),
    ("client|reply", "arguments", R),
    ("client|unblock", "arguments", R),
    ("cluster|addslotsrange", "arguments", R),
    ("cluster|delslotsrange", "arguments", R),
    ("cluster|meet", "arguments", R),
    ("cluster|reset", "arguments", R),
    ("cluster|setslot", "arguments", R),
    ("config|get", "arguments", R),
    ("config|set", "arguments", R),
    ("function|flush", "arguments", R),
    ("geoadd", "arguments", R),
    ("geohash", "arguments", R),
    ("geopos", "arguments", R),
    ("georadius", "arguments", R),
    ("georadius_ro", "arguments", R),
    ("georadiusbymember", "arguments", R),
    ("georadiusbymember_ro", "arguments", R),
    ("geosearch", "arguments", R),
    ("geosearchstore", "arguments", R),
    ("hello", "arguments", R),
    ("hmset", "arguments", R),
    ("hset", "arguments", R),
    ("lcs", "arguments", R),
    ("migrate", "arguments", R),
    ("module|loadex", "arguments", R),
    ("mset", "arguments", R),
    ("msetnx", "arguments", R),
    ("pfmerge", "arguments", R),
    ("psubscribe", "arguments", R),
    ("script|flush", "arguments", R),
    ("shutdown", "arguments", R),
    ("sort", "arguments", R),
    ("sort_ro", "arguments", R),
    ("xadd", "arguments", R),
    ("xclaim", "arguments", R),
    ("xgroup|create", "arguments", R),
    ("xgroup|createconsumer", "arguments", R),
    ("xgroup|delconsumer", "arguments", R),
    ("xgroup|destroy", "arguments", R),
    ("xgroup|setid", "arguments", R),
    ("xinfo|consumers", "arguments", R),
    ("xinfo|stream", "arguments", R),
    ("xreadgroup", "arguments", R),
    ("xsetid", "arguments", R),
    ("zadd", "arguments", R),
    ("zrange", "arguments", R),
    ("zrangebylex", "arguments", R),
    ("zrangebyscore", "arguments", R),
    ("zrangestore", "arguments", R),
    ("zrank", "arguments", R),
    ("zrevrangebylex", "arguments", R),
    ("zrevrangebyscore", "arguments", R),
    ("zrevrank", "arguments", R),
    // Not listed: 7.2 adds `display_text` to arguments and Ferrodis writes its own key
    // spec notes; both are stripped before comparing.
];

fn excepted(name: &str, field: &str) -> bool {
    EXCEPTIONS.iter().any(|(n, f, _)| *n == name && *f == field)
}

/// Every command name Ferrodis lists (containers and subcommands).
fn ferrodis_names(c: &mut RawClient) -> Vec<String> {
    let mut v: Vec<String> = query(c, &["COMMAND", "LIST"])
        .items()
        .iter()
        .map(V::text)
        .collect();
    v.sort();
    v
}

/// Key specs without their notes (those are prose).
fn strip_notes(v: &V) -> V {
    V::Array(
        v.items()
            .iter()
            .map(|spec| {
                let kept: Vec<V> = spec
                    .pairs()
                    .into_iter()
                    .filter(|(k, _)| k != "notes")
                    .flat_map(|(k, v)| [V::Bulk(k.into_bytes()), v.clone()])
                    .collect();
                V::Array(kept)
            })
            .collect(),
    )
}

fn sorted_texts(v: &V) -> Vec<String> {
    let mut t: Vec<String> = v.items().iter().map(V::text).collect();
    t.sort();
    t
}

#[test]
fn command_info_matches_reference_for_every_command() {
    let ferro = common::ferrodis(&[]);
    let redis = common::redis(&[]);
    let mut f = ferro.client();
    let mut r = redis.client();
    let names = ferrodis_names(&mut f);
    assert!(names.contains(&"get".to_string()) && names.contains(&"command|info".to_string()));
    let mut mismatches = Vec::new();
    for name in &names {
        let fi = query(&mut f, &["COMMAND", "INFO", name]);
        let ri = query(&mut r, &["COMMAND", "INFO", name]);
        let (fi, ri) = (&fi.items()[0], &ri.items()[0]);
        if *ri == V::Nil {
            if !newer_than_reference(&mut f, name) {
                mismatches.push(format!("{name}: unknown to the reference server"));
            }
            continue;
        }
        let (fv, rv) = (fi.items(), ri.items());
        assert_eq!(
            fv.len(),
            10,
            "{name}: COMMAND INFO entry must have 10 fields"
        );
        let fields: [(&str, usize, bool); 9] = [
            ("name", 0, false),
            ("arity", 1, false),
            ("flags", 2, true),
            ("first", 3, false),
            ("last", 4, false),
            ("step", 5, false),
            ("acl", 6, false),
            ("tips", 7, true),
            ("key_specs", 8, false),
        ];
        for (field, i, unordered) in fields {
            let (a, b) = if field == "key_specs" {
                (strip_notes(&fv[i]), strip_notes(&rv[i]))
            } else if unordered {
                (
                    V::Array(sorted_texts(&fv[i]).into_iter().map(V::Status).collect()),
                    V::Array(sorted_texts(&rv[i]).into_iter().map(V::Status).collect()),
                )
            } else {
                (fv[i].clone(), rv[i].clone())
            };
            if a != b && !excepted(name, field) {
                mismatches.push(format!(
                    "{name}: {field}: ferrodis {:?} reference {:?}",
                    a, b
                ));
            }
        }
        // Subcommands: compared by name (each one is checked on its own above).
        let subs = |v: &V| -> Vec<String> {
            let mut s: Vec<String> = v.items().iter().map(|e| e.items()[0].text()).collect();
            s.sort();
            s
        };
        if subs(&fv[9]) != subs(&rv[9]) && !excepted(name, "subcommands") {
            // Ferrodis may implement only some subcommands of a container; every one it
            // has must exist in the reference.
            let theirs = subs(&rv[9]);
            for s in subs(&fv[9]) {
                if !theirs.contains(&s) && !newer_than_reference(&mut f, &s) {
                    mismatches.push(format!("{name}: subcommand {s} unknown to the reference"));
                }
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "COMMAND INFO differs from the reference server:\n{}",
        mismatches.join("\n")
    );
}

/// An argument list with `display_text` removed (7.2 adds it; 7.0 lacks it).
fn strip_display(v: &V) -> V {
    V::Array(
        v.items()
            .iter()
            .map(|arg| {
                let kept: Vec<V> = arg
                    .pairs()
                    .into_iter()
                    .filter(|(k, _)| k != "display_text")
                    .flat_map(|(k, v)| {
                        let v = if k == "arguments" {
                            strip_display(v)
                        } else {
                            v.clone()
                        };
                        [V::Bulk(k.into_bytes()), v]
                    })
                    .collect();
                V::Array(kept)
            })
            .collect(),
    )
}

fn check_display_text(name: &str, args: &V, problems: &mut Vec<String>) {
    for a in args.items() {
        let ty = a.get("type").map(V::text).unwrap_or_default();
        if ty == "oneof" || ty == "block" {
            if a.get("display_text").is_some() {
                problems.push(format!("{name}: {ty} argument has display_text"));
            }
            if let Some(sub) = a.get("arguments") {
                check_display_text(name, sub, problems);
            }
        } else if a.get("display_text").is_none() {
            problems.push(format!("{name}: argument without display_text"));
        }
    }
}

/// Commands added after 7.0 (per their `since`) have nothing to compare with on the
/// 7.0.15 reference server.
fn newer_than_reference(f: &mut RawClient, name: &str) -> bool {
    let docs = query(f, &["COMMAND", "DOCS", name]);
    let since = docs
        .get(name)
        .and_then(|d| d.get("since"))
        .map(V::text)
        .unwrap_or_default();
    let mut parts = since.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) > (7, 0)
}

fn compare_docs(name: &str, fd: &V, rd: &V, problems: &mut Vec<String>) {
    for key in ["summary", "since", "group"] {
        match fd.get(key) {
            Some(V::Bulk(b)) if !b.is_empty() => {}
            other => problems.push(format!("{name}: {key} missing ({other:?})")),
        }
    }
    for key in ["since", "group", "doc_flags", "deprecated_since"] {
        if fd.get(key) != rd.get(key) && !excepted(name, key) {
            problems.push(format!(
                "{name}: {key}: ferrodis {:?} reference {:?}",
                fd.get(key),
                rd.get(key)
            ));
        }
    }
    match (fd.get("arguments"), rd.get("arguments")) {
        (None, None) => {}
        (Some(fa), Some(ra)) => {
            check_display_text(name, fa, problems);
            if strip_display(fa) != *ra && !excepted(name, "arguments") {
                problems.push(format!("{name}: arguments differ from the reference"));
            }
        }
        (fa, ra) => {
            if !excepted(name, "arguments") {
                problems.push(format!("{name}: arguments {fa:?} vs reference {ra:?}"));
            }
        }
    }
    if let Some(fs) = fd.get("subcommands") {
        let rs = rd.get("subcommands");
        for (sub, sd) in fs.pairs() {
            match rs.and_then(|rs| rs.get(&sub)) {
                Some(rsd) => compare_docs(&sub, sd, rsd, problems),
                None => {
                    let since = sd.get("since").map(V::text).unwrap_or_default();
                    if !since.starts_with("7.2") && !since.starts_with("8.") {
                        problems.push(format!("{sub}: no reference docs"));
                    }
                }
            }
        }
    }
}

#[test]
fn command_docs_cover_every_command_and_match_reference_facts() {
    let ferro = common::ferrodis(&[]);
    let redis = common::redis(&[]);
    let mut f = ferro.client();
    let mut r = redis.client();
    let all = query(&mut f, &["COMMAND", "DOCS"]);
    let documented: BTreeMap<String, &V> = all.pairs().into_iter().collect();
    let count = match query(&mut f, &["COMMAND", "COUNT"]) {
        V::Int(n) => n as usize,
        other => panic!("COMMAND COUNT replied {other:?}"),
    };
    assert_eq!(
        documented.len(),
        count,
        "COMMAND DOCS must document every command"
    );
    let mut problems = Vec::new();
    for name in ferrodis_names(&mut f) {
        let (top, sub) = match name.split_once('|') {
            Some((t, s)) => (t.to_string(), Some(s)),
            None => (name.clone(), None),
        };
        let Some(doc) = documented.get(&top) else {
            problems.push(format!("{top}: missing from COMMAND DOCS"));
            continue;
        };
        if sub.is_some() && doc.get("subcommands").and_then(|s| s.get(&name)).is_none() {
            problems.push(format!("{name}: missing from its container's docs"));
        }
    }
    for (name, fd) in &documented {
        // Asking by name gives the same as the full listing.
        let one = query(&mut f, &["COMMAND", "DOCS", name]);
        if one.get(name) != Some(*fd) {
            problems.push(format!(
                "{name}: COMMAND DOCS {name} differs from COMMAND DOCS"
            ));
        }
        let rd = query(&mut r, &["COMMAND", "DOCS", name]);
        match rd.get(name) {
            Some(rd) => compare_docs(name, fd, rd, &mut problems),
            None if newer_than_reference(&mut f, name) => {}
            None => problems.push(format!("{name}: no reference docs")),
        }
    }
    assert!(
        problems.is_empty(),
        "COMMAND DOCS problems:\n{}",
        problems.join("\n")
    );
}

#[test]
fn command_list_filters() {
    let ferro = common::ferrodis(&[]);
    let mut f = ferro.client();
    let all = ferrodis_names(&mut f);
    // Every container's subcommands are listed as container|sub.
    let info = query(&mut f, &["COMMAND"]);
    for entry in info.items() {
        for sub in entry.items()[9].items() {
            assert!(all.contains(&sub.items()[0].text()), "{sub:?} not listed");
        }
    }
    // PATTERN is a case-insensitive glob over full names.
    let got = sorted_texts(&query(
        &mut f,
        &["COMMAND", "LIST", "FILTERBY", "PATTERN", "COMMAND|*"],
    ));
    let want: Vec<String> = all
        .iter()
        .filter(|n| n.starts_with("command|"))
        .cloned()
        .collect();
    assert_eq!(got, want);
    // ACLCAT lists exactly the commands whose INFO shows the category.
    for cat in [
        "read",
        "write",
        "fast",
        "slow",
        "keyspace",
        "connection",
        "dangerous",
    ] {
        let got = sorted_texts(&query(
            &mut f,
            &["COMMAND", "LIST", "FILTERBY", "ACLCAT", cat],
        ));
        let mut want = Vec::new();
        for name in &all {
            let e = query(&mut f, &["COMMAND", "INFO", name]);
            let cats = sorted_texts(&e.items()[0].items()[6]);
            if cats.contains(&format!("@{cat}")) {
                want.push(name.clone());
            }
        }
        want.sort();
        assert_eq!(got, want, "ACLCAT {cat}");
        assert!(!got.is_empty(), "ACLCAT {cat} is empty");
    }
    // COUNT counts top-level commands only.
    let top = all.iter().filter(|n| !n.contains('|')).count() as i64;
    assert_eq!(query(&mut f, &["COMMAND", "COUNT"]), V::Int(top));
    assert_eq!(query(&mut f, &["COMMAND"]).items().len() as i64, top);
}

/// Runs `redis-cli -p PORT` on a pseudo-terminal (through `script`) so it behaves
/// interactively, types `lines` one by one, and returns everything it printed.
fn interactive_cli(port: u16, lines: &[&str]) -> String {
    let mut child = Command::new("script")
        .args([
            "-qfec",
            &format!("stty cols 300 rows 50; redis-cli -p {port}"),
            "/dev/null",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("`script` (util-linux) is needed to run redis-cli on a pty");
    let mut stdin = child.stdin.take().expect("stdin");
    std::thread::sleep(Duration::from_millis(700));
    for l in lines {
        stdin.write_all(l.as_bytes()).expect("type");
        stdin.write_all(b"\r").expect("type");
        stdin.flush().expect("flush");
        std::thread::sleep(Duration::from_millis(400));
    }
    stdin.write_all(b"quit\r").expect("type");
    std::thread::sleep(Duration::from_millis(300));
    drop(stdin);
    let out = child.wait_with_output().expect("redis-cli output");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The argument hints redis-cli drew (grey text after the cursor).
fn hints(screen: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = screen;
    while let Some(i) = rest.find("\x1b[0;90;49m") {
        rest = &rest[i + "\x1b[0;90;49m".len()..];
        let end = rest.find("\x1b[0m").unwrap_or(rest.len());
        out.push(rest[..end].to_string());
        rest = &rest[end..];
    }
    out
}

#[test]
fn redis_cli_interactive_uses_command_docs() {
    let ferro = common::ferrodis(&[]);
    let redis = common::redis(&[]);
    let lines = ["help set", "set k v", "get k", "del k", "exists k"];
    let fs = interactive_cli(ferro.port, &lines);
    let rs = interactive_cli(redis.port, &lines);
    // Replies come through.
    assert!(
        fs.contains("OK") && fs.contains("\"v\"") && fs.contains("(integer) 1"),
        "{fs}"
    );
    // `help set` shows Ferrodis's own summary, taken from COMMAND DOCS.
    let mut c = ferro.client();
    let docs = query(&mut c, &["COMMAND", "DOCS", "set"]);
    let summary = docs
        .get("set")
        .and_then(|d| d.get("summary"))
        .map(V::text)
        .expect("set summary");
    assert!(
        fs.contains(&summary),
        "help set did not show {summary:?}:\n{fs}"
    );
    // The argument hints, built from the argument grammar, equal the reference's.
    let (fh, rh) = (hints(&fs), hints(&rs));
    assert!(
        fh.iter().any(|h| h.contains("[NX|XX]")),
        "no SET hint in {fh:?}"
    );
    assert_eq!(fh, rh, "redis-cli hints differ");
}

/// Builds a table entry like the reference server's (arity, flags, key range) so key
/// extraction can be checked for commands Ferrodis does not have yet.
fn entry_like_reference(info: &V) -> &'static ferrodis::commands::Command {
    use ferrodis::commands::{container, flags, Command};
    let v = info.items();
    let name = v[0].text();
    let short = name.rsplit('|').next().unwrap_or(&name).to_string();
    let mut bits = 0;
    for f in v[2].items() {
        let f = f.text();
        if let Some((b, _)) = flags::NAMES.iter().find(|(_, n)| *n == f) {
            bits |= *b;
        }
    }
    let int = |x: &V| match x {
        V::Int(i) => *i as i32,
        other => panic!("expected an integer, got {other:?}"),
    };
    let mut c = Command::new(
        Box::leak(short.into_boxed_str()),
        int(&v[1]),
        bits,
        container,
    );
    if int(&v[3]) > 0 {
        c = c.keys(int(&v[3]), int(&v[4]), int(&v[5]));
    }
    Box::leak(Box::new(c))
}

#[test]
fn getkeysandflags_matches_reference_for_all_redis_commands() {
    let redis = common::redis(&[]);
    let mut r = redis.client();
    let lines: &[&str] = &[
        "mset a 1 b 2 c 3",
        "msetnx a 1 b 2",
        "del a b c",
        "get a",
        "set a b",
        "set a b get",
        "getex a persist",
        "rename a b",
        "copy a b",
        "lmove a b left right",
        "blmpop 0 2 a b left",
        "lmpop 2 a b left count 3",
        "zunionstore d 2 a b weights 1 2",
        "zinter 2 a b",
        "zdiff 3 a b c withscores",
        "sintercard 2 a b limit 1",
        "eval s 2 a b c",
        "eval s 0",
        "fcall f 1 a x",
        "xread count 2 streams s1 s2 0 0",
        "xreadgroup group g c streams s1 >",
        // MIGRATE ... KEYS and SORT ... STORE need the family's own `getkeys` (Redis
        // has migrateGetKeys / sortGetKeys); the key specs alone cannot tell.
        "migrate h 1 k 0 5",
        "sort a by w_* get o_*",
        "sort_ro a",
        "georadius g 1 2 3 m store d",
        "georadiusbymember g m 3 m storedist d",
        "geosearchstore d s frommember m byradius 1 m",
        "bitop and d a b",
        "bitfield a get u8 0",
        "bitfield a set u8 0 1",
        "bitfield_ro a get u8 0",
        "pfcount a b",
        "pfmerge d a b",
        "object encoding a",
        "memory usage a",
        "xinfo stream s",
        "xgroup create s g $",
        "watch a b",
        "touch a b",
        "smove a b m",
        "blpop a b 0",
        "bzpopmin a b 0",
        "spublish ch m",
        "publish ch m",
        "exists a",
        "zadd z 1 m",
        "hset h f v",
        "setrange a 0 v",
        "lcs a b",
    ];
    let mut problems = Vec::new();
    for line in lines {
        let words: Vec<String> = line
            .split(' ')
            .map(|w| {
                if w == "\"\"" {
                    String::new()
                } else {
                    w.to_string()
                }
            })
            .collect();
        let target: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
        let mut args = vec!["COMMAND", "GETKEYSANDFLAGS"];
        args.extend(words.iter().map(String::as_str));
        let want = query(&mut r, &args);
        // The command (or subcommand) as the reference describes it.
        let base = query(&mut r, &["COMMAND", "INFO", &words[0]]);
        let base = &base.items()[0];
        let (cmd, parent) = if base.items()[9].items().is_empty() {
            (entry_like_reference(base), None)
        } else {
            let sub = format!("{}|{}", words[0], words[1]);
            let info = query(&mut r, &["COMMAND", "INFO", &sub]);
            (
                entry_like_reference(&info.items()[0]),
                Some(entry_like_reference(base)),
            )
        };
        let got = match ferrodis::commands::introspection::command_keys(cmd, parent, &target) {
            Ok(keys) => V::Array(
                keys.iter()
                    .map(|(i, flags)| {
                        V::Array(vec![
                            V::Bulk(target[*i].to_vec()),
                            V::Array(flags.iter().cloned().map(V::Status).collect()),
                        ])
                    })
                    .collect(),
            ),
            Err(e) => V::Error(e.0.to_string()),
        };
        if got != want {
            problems.push(format!("{line}: ferrodis {got:?}\n    reference {want:?}"));
        }
    }
    assert!(
        problems.is_empty(),
        "GETKEYSANDFLAGS differs:\n{}",
        problems.join("\n")
    );
}
