//! Multi-client scenarios run side by side on Ferrodis and the reference redis-server
//! (see [`run`] for the script language).

use std::collections::HashMap;
use std::time::Duration;

use super::{ferrodis, redis, show, RawClient};
use ferrodis::protocol::parser::{decode_inline_token, inline_token_is_quoted};
use ferrodis::protocol::{Limits, Parsed, Parser};

/// Splits a command line like Redis's inline protocol does (double quotes with
/// escapes, single quotes), as the differential case files do.
pub fn tokenize(line: &str) -> Vec<Vec<u8>> {
    let mut p = Parser::new();
    let mut buf = line.as_bytes().to_vec();
    buf.push(b'\n');
    match p.parse(&buf, Limits::default()) {
        Parsed::Command { .. } => p
            .spans()
            .iter()
            .map(|&(s, e)| {
                let t = &buf[s..e];
                if inline_token_is_quoted(t) {
                    decode_inline_token(t)
                } else {
                    t.to_vec()
                }
            })
            .collect(),
        Parsed::Incomplete { .. } | Parsed::Error(_) => panic!("bad command line {line:?}"),
    }
}

/// Runs a scenario script on the server at `port` and returns its transcript.
///
/// Script lines (`#` comments and blank lines ignored):
/// * `N> CMD args` — client N sends a command and reads its reply (recorded);
/// * `N>K CMD args` — the same, reading K frames (SUBSCRIBE a b c: `N>3`);
/// * `N~K CMD args` — reads K frames and records them sorted (frames whose order
///   Redis leaves to its hash tables, e.g. several matching patterns);
/// * `N>u CMD args` — one reply whose elements are compared as a multiset (PUBSUB
///   CHANNELS lists a hash table's order);
/// * `N!> CMD args` — the same, reply not recorded (HELLO 3, CLIENT ID...);
/// * `N>> CMD args` — client N sends a command that blocks; nothing is read, and the
///   script pauses so the server has processed it before the next line;
/// * `N<` / `N<K` / `N<~K` — client N reads one / K / K sorted frames (recorded);
///   `N!<` reads one, not recorded;
/// * `N?` — records whether client N received a reply within 300 ms;
/// * `N raw TEXT` — client N sends TEXT (`\r\n` escapes allowed), nothing read;
/// * `close N`, `sleep MS`.
///
/// Arguments are split as Redis's inline protocol does (quotes allowed); `$IDn` is
/// client n's CLIENT ID.
pub fn run(port: u16, script: &str) -> Vec<String> {
    let mut clients: HashMap<usize, RawClient> = HashMap::new();
    let mut ids: HashMap<usize, String> = HashMap::new();
    let mut out = Vec::new();
    for (lineno, line) in script.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (head, rest) = line.split_once(' ').unwrap_or((line, ""));
        if head == "sleep" {
            std::thread::sleep(Duration::from_millis(rest.parse().expect("sleep ms")));
            continue;
        }
        if head == "close" {
            let n: usize = rest.parse().expect("client number");
            clients.remove(&n);
            std::thread::sleep(Duration::from_millis(100));
            continue;
        }
        let digits = head.chars().take_while(|c| c.is_ascii_digit()).count();
        let n: usize = head[..digits].parse().expect("client number");
        let op = &head[digits..];
        let client = clients.entry(n).or_insert_with(|| {
            let mut c = RawClient::connect(port);
            let id = String::from_utf8_lossy(&c.cmds(&["CLIENT", "ID"]))
                .trim()
                .trim_start_matches(':')
                .to_string();
            ids.insert(n, id);
            c
        });
        let args: Vec<Vec<u8>> = tokenize(rest)
            .into_iter()
            .map(|a| {
                if let Some(k) = a.strip_prefix(b"$ID") {
                    let k: usize = String::from_utf8_lossy(k).parse().expect("id ref");
                    ids.get(&k)
                        .cloned()
                        .expect("unknown client in $ID")
                        .into_bytes()
                } else {
                    a
                }
            })
            .collect();
        let argv: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
        let tag = format!("{:>3} c{n}{op} {rest}", lineno + 1);
        let count = |k: &str| -> usize {
            if k.is_empty() {
                1
            } else {
                k.parse().expect("frame count")
            }
        };
        let read = |client: &mut RawClient, k: usize, sorted: bool| -> String {
            let mut frames: Vec<String> = (0..k).map(|_| show(&client.read_reply())).collect();
            if sorted {
                frames.sort();
            }
            frames.join(" | ")
        };
        if op == "!>" {
            client.cmd(&argv);
        } else if op == "!<" {
            client.read_reply();
        } else if op == ">>" {
            client.send_raw(&super::encode(&argv));
            std::thread::sleep(Duration::from_millis(100));
        } else if op == ">u" {
            let reply = client.cmd(&argv);
            let (header, mut elems) = super::split_elements(&reply);
            elems.sort();
            out.push(format!(
                "{tag} -> {} {}",
                show(&header),
                show(&elems.concat())
            ));
        } else if let Some(k) = op.strip_prefix('>') {
            client.send_raw(&super::encode(&argv));
            out.push(format!("{tag} -> {}", read(client, count(k), false)));
        } else if let Some(k) = op.strip_prefix('~') {
            client.send_raw(&super::encode(&argv));
            out.push(format!("{tag} -> {}", read(client, count(k), true)));
        } else if let Some(k) = op.strip_prefix("<~") {
            out.push(format!("{tag} -> {}", read(client, count(k), true)));
        } else if let Some(k) = op.strip_prefix('<') {
            out.push(format!("{tag} -> {}", read(client, count(k), false)));
        } else if op == "?" {
            out.push(format!(
                "{tag} -> {}",
                match client.poll_reply(300) {
                    Some(r) => show(&r),
                    None => "(no reply)".into(),
                }
            ));
        } else if op.is_empty() && rest.starts_with("raw ") {
            let text = rest["raw ".len()..].replace("\\r\\n", "\r\n");
            client.send_raw(text.as_bytes());
            std::thread::sleep(Duration::from_millis(100));
        } else {
            panic!("bad script line {}: {line}", lineno + 1);
        }
    }
    out
}

/// Runs `script` on a fresh Ferrodis and a fresh redis-server; asserts equal transcripts.
pub fn differential(script: &str) {
    let f = ferrodis(&[]);
    let r = redis(&[]);
    let (tf, tr) = std::thread::scope(|s| {
        let a = s.spawn(|| run(f.port, script));
        let b = s.spawn(|| run(r.port, script));
        (
            a.join().expect("ferrodis run"),
            b.join().expect("redis run"),
        )
    });
    if std::env::var_os("FERRODIS_SHOW").is_some() {
        for l in &tf {
            eprintln!("{l}");
        }
    }
    let mut diffs = 0;
    for (a, b) in tf.iter().zip(tr.iter()) {
        if a != b {
            diffs += 1;
            eprintln!("redis:    {b}\nferrodis: {a}\n");
        }
    }
    assert_eq!(tf.len(), tr.len());
    assert_eq!(
        diffs, 0,
        "transcripts differ from the reference redis-server"
    );
    assert!(!tf.is_empty());
}
