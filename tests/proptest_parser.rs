//! Property tests for the request parser (`ferrodis::protocol::Parser`), run in CI.
//!
//! * Random valid commands, encoded as multibulk or inline (with Redis's quoting), fed
//!   to the parser split at random points the way TCP reads split them, parse back to
//!   exactly the arguments that were encoded.
//! * Random garbage never panics, and every outcome is a command whose argument ranges
//!   lie inside the consumed bytes, "incomplete", or one of Redis's `Protocol error: ...`
//!   texts. The outcome does not depend on how the bytes were split.
//!
//! The same invariants are checked without bounds by the cargo-fuzz target in `fuzz/`.

use ferrodis::protocol::parser::{decode_inline_token, inline_token_is_quoted};
use ferrodis::protocol::{Limits, Parsed, Parser};
use proptest::prelude::*;

/// How a fed stream ended after all its bytes were offered to the parser.
#[derive(Debug, Clone, PartialEq, Eq)]
enum End {
    /// Everything was consumed or the rest is an incomplete command.
    Incomplete,
    /// The parser reported this protocol error (the connection would be closed).
    Error(String),
}

/// Every error text the parser may produce (Redis's wording), `expected '$'` aside.
const KNOWN_ERRORS: &[&str] = &[
    "Protocol error: invalid multibulk length",
    "Protocol error: invalid bulk length",
    "Protocol error: unbalanced quotes in request",
    "Protocol error: too big inline request",
    "Protocol error: too big mbulk count string",
    "Protocol error: too big bulk count string",
    "Protocol error: unauthenticated multibulk length",
    "Protocol error: unauthenticated bulk length",
];

fn check_error_text(e: &str) {
    assert!(
        KNOWN_ERRORS.contains(&e)
            || (e.starts_with("Protocol error: expected '$', got '") && e.ends_with('\'')),
        "unexpected parser error text: {e:?}"
    );
}

/// Feeds `input` to a fresh parser in chunks ending at `cuts` (sorted, deduplicated
/// positions), as a connection does: unconsumed bytes stay at the front of the buffer
/// and new bytes are appended. Returns the decoded commands and how the stream ended.
/// Asserts the parser's invariants on every call.
fn feed(input: &[u8], cuts: &[usize], limits: Limits) -> (Vec<Vec<Vec<u8>>>, End) {
    let mut parser = Parser::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut cmds = Vec::new();
    let mut fed = 0;
    let mut bounds: Vec<usize> = cuts
        .iter()
        .copied()
        .filter(|&c| c > 0 && c < input.len())
        .collect();
    bounds.push(input.len());
    for end in bounds {
        if end <= fed {
            continue;
        }
        buf.extend_from_slice(&input[fed..end]);
        fed = end;
        loop {
            match parser.parse(&buf, limits) {
                Parsed::Command { consumed } => {
                    assert!(consumed > 0, "a command must consume bytes");
                    assert!(
                        consumed <= buf.len(),
                        "consumed {consumed} > buffer {}",
                        buf.len()
                    );
                    let mut args = Vec::new();
                    for &(s, e) in parser.spans() {
                        assert!(
                            s <= e && e <= consumed,
                            "span {s}..{e} outside 0..{consumed}"
                        );
                        let tok = &buf[s..e];
                        if parser.last_was_inline() && inline_token_is_quoted(tok) {
                            args.push(decode_inline_token(tok));
                        } else {
                            args.push(tok.to_vec());
                        }
                    }
                    if !args.is_empty() {
                        cmds.push(args);
                    }
                    buf.drain(..consumed);
                }
                Parsed::Incomplete { hint } => {
                    assert!(
                        hint == 0 || hint > buf.len(),
                        "hint {hint} <= buffered {}",
                        buf.len()
                    );
                    break;
                }
                Parsed::Error(e) => {
                    check_error_text(&e);
                    return (cmds, End::Error(e));
                }
            }
        }
    }
    (cmds, End::Incomplete)
}

fn multibulk(args: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Inline encoding with the quoting `redis-cli`/`sdssplitargs` understand: plain
/// alphanumeric tokens as they are (when `plain` allows), everything else in double
/// quotes with `\"`, `\\` and `\xHH` escapes.
fn inline(args: &[Vec<u8>], plain: &[bool], crlf: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        let simple = !a.is_empty() && a.iter().all(|c| c.is_ascii_alphanumeric());
        if simple && plain.get(i).copied().unwrap_or(true) {
            out.extend_from_slice(a);
            continue;
        }
        out.push(b'"');
        for &c in a {
            match c {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                0x20..=0x7e => out.push(c),
                _ => out.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
            }
        }
        out.push(b'"');
    }
    out.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
    out
}

/// Encodes one generated command; inline only while the line fits Redis's 64KB inline
/// limit (longer inline requests are refused by design).
fn encode(args: &[Vec<u8>], as_inline: bool, plain: &[bool], crlf: bool) -> Vec<u8> {
    if as_inline {
        let line = inline(args, plain, crlf);
        if line.len() < ferrodis::protocol::parser::INLINE_MAX {
            return line;
        }
    }
    multibulk(args)
}

fn arg() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // arbitrary binary, including \r\n and protocol characters
        proptest::collection::vec(any::<u8>(), 0..48),
        // typical command words
        "[A-Za-z0-9]{1,12}".prop_map(|s| s.into_bytes()),
        // protocol-looking text
        "[*$:+\\-\r\n0-9\"' \\\\x]{0,16}".prop_map(|s| s.into_bytes()),
        // occasionally a long value crossing many reads
        proptest::collection::vec(any::<u8>(), 1000..5000),
    ]
}

/// A command: its arguments, whether to send it inline, per-argument "plain allowed"
/// flags, and the inline line ending.
fn command() -> impl Strategy<Value = (Vec<Vec<u8>>, bool, Vec<bool>, bool)> {
    (
        proptest::collection::vec(arg(), 1..8),
        any::<bool>(),
        proptest::collection::vec(any::<bool>(), 8),
        any::<bool>(),
    )
}

fn cuts(max: usize) -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(0..max.max(1), 0..24).prop_map(|mut v| {
        v.sort_unstable();
        v.dedup();
        v
    })
}

/// Bytes that look like requests often enough to reach deep parser states.
fn garbage() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..16),
        "[*$\r\n0-9\\-+ \"'\\\\xab]{0,12}".prop_map(|s| s.into_bytes()),
        (0i64..40).prop_map(|n| format!("*{n}\r\n").into_bytes()),
        (-3i64..40).prop_map(|n| format!("${n}\r\n").into_bytes()),
        Just(b"\r\n".to_vec()),
        Just(b"*1\r\n$4\r\nPING\r\n".to_vec()),
        Just(b"PING\r\n".to_vec()),
    ];
    proptest::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

fn limits() -> impl Strategy<Value = Limits> {
    (
        prop_oneof![Just(512 * 1024 * 1024i64), 0i64..64],
        any::<bool>(),
    )
        .prop_map(|(max, unauth)| Limits {
            proto_max_bulk_len: max,
            unauthenticated: unauth,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    /// Valid commands come back with exactly their arguments, whatever the read splits.
    #[test]
    fn valid_commands_roundtrip(
        cmds in proptest::collection::vec(command(), 1..12),
        cut_seed in cuts(1 << 16),
    ) {
        let mut stream = Vec::new();
        let mut expected = Vec::new();
        for (args, as_inline, plain, crlf) in &cmds {
            // Inline lines never start with '*' here: plain tokens are alphanumeric and
            // anything else is quoted.
            stream.extend(encode(args, *as_inline, plain, *crlf));
            expected.push(args.clone());
        }
        let scaled: Vec<usize> = cut_seed.iter().map(|c| c % (stream.len() + 1)).collect();
        let mut scaled = scaled;
        scaled.sort_unstable();
        scaled.dedup();
        let (got, end) = feed(&stream, &scaled, Limits::default());
        prop_assert_eq!(end, End::Incomplete);
        prop_assert_eq!(got, expected);
        // Byte-by-byte feeding gives the same result too.
        let every: Vec<usize> = (1..stream.len()).collect();
        if stream.len() < 4096 {
            let (got1, end1) = feed(&stream, &every, Limits::default());
            prop_assert_eq!(end1, End::Incomplete);
            prop_assert_eq!(got1.len(), cmds.len());
        }
    }

    /// A truncated valid stream yields the complete commands before the cut and then
    /// waits for more: never an error, never a phantom command.
    #[test]
    fn truncated_stream_is_incomplete(
        cmds in proptest::collection::vec(command(), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut stream = Vec::new();
        let mut ends = Vec::new();
        for (args, as_inline, plain, crlf) in &cmds {
            stream.extend(encode(args, *as_inline, plain, *crlf));
            ends.push(stream.len());
        }
        let at = cut.index(stream.len());
        let (got, end) = feed(&stream[..at], &[], Limits::default());
        prop_assert_eq!(end, End::Incomplete);
        let complete = ends.iter().filter(|&&e| e <= at).count();
        prop_assert_eq!(got.len(), complete);
        for (g, (args, ..)) in got.iter().zip(cmds.iter()) {
            prop_assert_eq!(g, args);
        }
    }

    /// Garbage never panics, every outcome is well-formed, and the outcome does not
    /// depend on where the reads split the bytes.
    #[test]
    fn garbage_is_handled(input in garbage(), cut_seed in cuts(1 << 16), lim in limits()) {
        let whole = feed(&input, &[], lim);
        let scaled: Vec<usize> = cut_seed.iter().map(|c| c % (input.len() + 1)).collect();
        let mut scaled = scaled;
        scaled.sort_unstable();
        scaled.dedup();
        let split = feed(&input, &scaled, lim);
        prop_assert_eq!(whole, split);
    }

    /// Completely arbitrary bytes (no protocol bias), fed byte by byte.
    #[test]
    fn random_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..512), lim in limits()) {
        let every: Vec<usize> = (1..input.len()).collect();
        let a = feed(&input, &every, lim);
        let b = feed(&input, &[], lim);
        prop_assert_eq!(a, b);
    }
}

/// Deterministic spot checks of the exact error texts (the same inputs are compared
/// with redis-server over TCP in tests/protocol.rs).
#[test]
fn error_texts() {
    let cases: &[(&[u8], &str)] = &[
        (b"*abc\r\n", "Protocol error: invalid multibulk length"),
        (b"*1\r\n+x\r\n", "Protocol error: expected '$', got '+'"),
        (b"*1\r\n$-5\r\n", "Protocol error: invalid bulk length"),
        (
            b"*1\r\n$536870913\r\n",
            "Protocol error: invalid bulk length",
        ),
        (
            b"SET a \"b\r\n",
            "Protocol error: unbalanced quotes in request",
        ),
        (
            b"SET a 'b\r\n",
            "Protocol error: unbalanced quotes in request",
        ),
        (
            b"SET a \"b\"c\r\n",
            "Protocol error: unbalanced quotes in request",
        ),
    ];
    for (input, want) in cases {
        assert_eq!(
            feed(input, &[], Limits::default()).1,
            End::Error(want.to_string()),
            "{}",
            String::from_utf8_lossy(input)
        );
    }
    let unauth = Limits {
        unauthenticated: true,
        ..Limits::default()
    };
    assert_eq!(
        feed(b"*11\r\n", &[], unauth).1,
        End::Error("Protocol error: unauthenticated multibulk length".into())
    );
    assert_eq!(
        feed(b"*2\r\n$4\r\nECHO\r\n$16385\r\n", &[], unauth).1,
        End::Error("Protocol error: unauthenticated bulk length".into())
    );
    assert_eq!(feed(b"*10\r\n", &[], unauth).1, End::Incomplete);
    let big = vec![b'x'; 64 * 1024 + 1];
    assert_eq!(
        feed(&big, &[], Limits::default()).1,
        End::Error("Protocol error: too big inline request".into())
    );
}
