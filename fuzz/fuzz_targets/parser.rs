//! Fuzz target `parser`: arbitrary bytes through `ferrodis::protocol::Parser`, delivered
//! in arbitrary read splits, as a connection delivers them.
//!
//! Input layout: byte 0 picks the limits (unauthenticated or not, a tiny or the default
//! `proto-max-bulk-len`), bytes 1..3 seed the split sizes, the rest is the stream.
//!
//! Invariants: no panic; every `Command { consumed }` has `0 < consumed <= buffered` and
//! argument ranges inside the consumed bytes; `Incomplete { hint }` hints beyond what is
//! buffered; errors are `Protocol error: ...`; and the outcome (commands, then the final
//! error or "incomplete") is the same whether the stream arrives whole or split.
#![no_main]

use ferrodis::protocol::parser::{decode_inline_token, inline_token_is_quoted};
use ferrodis::protocol::{Limits, Parsed, Parser};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, PartialEq, Eq)]
enum End {
    Incomplete,
    Error(String),
}

fn feed(input: &[u8], chunks: &[usize], limits: Limits) -> (Vec<Vec<Vec<u8>>>, End) {
    let mut parser = Parser::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut cmds = Vec::new();
    let mut fed = 0;
    let mut sizes = chunks.iter().copied().cycle();
    while fed < input.len() {
        let step = sizes.next().unwrap_or(input.len()).max(1);
        let end = (fed + step).min(input.len());
        buf.extend_from_slice(&input[fed..end]);
        fed = end;
        loop {
            match parser.parse(&buf, limits) {
                Parsed::Command { consumed } => {
                    assert!(consumed > 0 && consumed <= buf.len());
                    let mut args = Vec::new();
                    for &(s, e) in parser.spans() {
                        assert!(s <= e && e <= consumed);
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
                    assert!(hint == 0 || hint > buf.len());
                    break;
                }
                Parsed::Error(e) => {
                    assert!(e.starts_with("Protocol error: "), "{e}");
                    return (cmds, End::Error(e));
                }
            }
        }
    }
    (cmds, End::Incomplete)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let limits = Limits {
        proto_max_bulk_len: if data[0] & 1 == 0 { 512 * 1024 * 1024 } else { (data[0] >> 2) as i64 },
        unauthenticated: data[0] & 2 != 0,
    };
    let mut seed = u16::from_le_bytes([data[1], data[2]]) as u32 | 1;
    let stream = &data[3..];
    let chunks: Vec<usize> = (0..16)
        .map(|_| {
            // xorshift: split sizes 1..=32
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            (seed % 32) as usize + 1
        })
        .collect();
    let whole = feed(stream, &[stream.len().max(1)], limits);
    let split = feed(stream, &chunks, limits);
    // Inline requests longer than 64KB are refused only while incomplete, so very long
    // inputs may legitimately differ between whole and split delivery.
    if stream.len() <= ferrodis::protocol::parser::INLINE_MAX {
        assert_eq!(whole, split);
    }
});
