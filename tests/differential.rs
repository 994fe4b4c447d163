//! Differential tests: every script in `tests/cases/*.txt` runs against Ferrodis and
//! against the reference redis-server (Debian's 7.0.15, started on a free port), and
//! every reply must be byte-for-byte identical.
//!
//! Script syntax, one command per line in redis-cli quoting:
//!
//! ```text
//! # comment
//! SET k v              exact comparison of the raw RESP reply
//! ~ SMEMBERS s         unordered: top-level elements compared as a multiset
//! ? TTL k              only the reply type (first byte) is compared
//! ! DEBUG SLEEP 0      sent to both, reply not compared
//! @sleep 1100          pause (ms) on both sides
//! ```
//!
//! Each file gets a fresh pair of servers. A missing redis-server fails the test with
//! instructions; it is never skipped.

mod common;

use common::scenario::tokenize;
use common::{show, split_elements, RawClient};

fn normalize_unordered(reply: &[u8]) -> Vec<u8> {
    let (header, mut elems) = split_elements(reply);
    elems.sort();
    let mut out = header;
    for e in elems {
        out.extend(e);
    }
    out
}

/// Runs one case file; returns a description of every mismatch.
fn run_case(name: &str, script: &str) -> Vec<String> {
    let ferro = common::ferrodis(&[]);
    let redis = common::redis(&[]);
    let mut f = RawClient::connect(ferro.port);
    let mut r = RawClient::connect(redis.port);
    let mut failures = Vec::new();
    for (i, raw) in script.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(ms) = line.strip_prefix("@sleep ") {
            std::thread::sleep(std::time::Duration::from_millis(
                ms.trim().parse().unwrap_or(0),
            ));
            continue;
        }
        let (mode, cmdline) = match line.as_bytes()[0] {
            b'~' | b'?' | b'!' => (line.as_bytes()[0], line[1..].trim_start()),
            _ => (b'=', line),
        };
        let args = tokenize(cmdline);
        let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
        let got = f.cmd(&refs);
        let want = r.cmd(&refs);
        let same = match mode {
            b'~' => normalize_unordered(&got) == normalize_unordered(&want),
            b'?' => got.first() == want.first(),
            b'!' => true,
            _ => got == want,
        };
        if !same {
            failures.push(format!(
                "{name}:{}: {cmdline}\n    redis:    {}\n    ferrodis: {}",
                i + 1,
                show(&want),
                show(&got)
            ));
        }
    }
    failures
}

#[test]
fn differential_cases() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/cases exists")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().map(|x| x == "txt").unwrap_or(false))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no case files in {}", dir.display());
    // Optional filter: FERRODIS_CASES=strings,keys runs only those files.
    let only = std::env::var("FERRODIS_CASES").ok();
    let files: Vec<_> = files
        .into_iter()
        .filter(|p| match &only {
            Some(o) => o
                .split(',')
                .any(|n| p.file_stem().map(|s| s == n).unwrap_or(false)),
            None => true,
        })
        .collect();
    let results: Vec<(String, Vec<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = files
            .iter()
            .map(|p| {
                s.spawn(move || {
                    let name = p
                        .file_stem()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .into_owned();
                    let script = std::fs::read_to_string(p).expect("read case file");
                    let fails = run_case(&name, &script);
                    (name, fails)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("case thread panicked"))
            .collect()
    });
    let mut total = 0;
    for (name, fails) in &results {
        eprintln!("case {name}: {} mismatches", fails.len());
        for f in fails {
            eprintln!("{f}");
        }
        total += fails.len();
    }
    assert_eq!(
        total, 0,
        "{total} replies differ from the reference redis-server (see above)"
    );
}
