//! Redis 7's AOF manifest: the list of files that make up the append-only file, in
//! `<appenddirname>/<appendfilename>.manifest`.
//!
//! One line per file, `file <name> seq <n> type <b|h|i>`: the base first, then the
//! history files (waiting for deletion), then the incremental files in order. Names
//! that need it are quoted as Redis's `sdscatrepr` does; lines starting with `#` are
//! comments. Updates are atomic: temp file, fsync, rename, fsync of the directory.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

/// One file of the AOF.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AofFile {
    pub name: String,
    pub seq: u64,
    /// `b` base, `h` history, `i` incremental.
    pub kind: u8,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<AofFile>,
    pub history: Vec<AofFile>,
    pub incr: Vec<AofFile>,
    /// Highest sequence numbers used so far.
    pub base_seq: u64,
    pub incr_seq: u64,
}

/// Whether a name must be quoted (Redis's `sdsneedsrepr`).
fn needs_repr(s: &str) -> bool {
    s.bytes().any(|c| {
        matches!(c, b'\\' | b'"' | b'\n' | b'\r' | b'\t' | 7 | 8)
            || !(0x20..0x7f).contains(&c)
            || c == b' '
    })
}

/// Redis's `sdscatrepr`.
fn repr(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.bytes() {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            7 => out.push_str("\\a"),
            8 => out.push_str("\\b"),
            c if (0x20..0x7f).contains(&c) => out.push(c as char),
            c => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    out.push('"');
    out
}

/// Splits a line into arguments as Redis's `sdssplitargs` (double and single quotes,
/// backslash escapes inside double quotes). None on unbalanced quotes.
fn split_args(line: &str) -> Option<Vec<String>> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            return Some(out);
        }
        let mut cur: Vec<u8> = Vec::new();
        let (mut inq, mut insq) = (false, false);
        loop {
            if inq {
                let c = *b.get(i)?;
                if c == b'\\' && i + 3 < b.len() && b[i + 1] == b'x' {
                    let hex = std::str::from_utf8(&b[i + 2..i + 4]).ok()?;
                    cur.push(u8::from_str_radix(hex, 16).ok()?);
                    i += 3;
                } else if c == b'\\' && i + 1 < b.len() {
                    i += 1;
                    cur.push(match b[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        o => o,
                    });
                } else if c == b'"' {
                    if i + 1 < b.len() && !b[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
            } else if insq {
                let c = *b.get(i)?;
                if c == b'\\' && i + 1 < b.len() && b[i + 1] == b'\'' {
                    i += 1;
                    cur.push(b'\'');
                } else if c == b'\'' {
                    if i + 1 < b.len() && !b[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
            } else {
                match b.get(i) {
                    None => break,
                    Some(c) if c.is_ascii_whitespace() => break,
                    Some(b'"') => inq = true,
                    Some(b'\'') => insq = true,
                    Some(&c) => cur.push(c),
                }
            }
            i += 1;
        }
        out.push(String::from_utf8_lossy(&cur).into_owned());
    }
}

impl Manifest {
    /// The manifest's text (Redis's `getAofManifestAsString`).
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let line = |s: &mut String, f: &AofFile| {
            let name = if needs_repr(&f.name) {
                repr(&f.name)
            } else {
                f.name.clone()
            };
            s.push_str(&format!(
                "file {name} seq {} type {}\n",
                f.seq, f.kind as char
            ));
        };
        if let Some(b) = &self.base {
            line(&mut s, b);
        }
        for f in &self.history {
            line(&mut s, f);
        }
        for f in &self.incr {
            line(&mut s, f);
        }
        s
    }

    /// Parses a manifest (Redis's `aofLoadManifestFromFile` checks).
    pub fn parse(text: &str) -> Result<Manifest, String> {
        let mut m = Manifest::default();
        let mut last_incr = 0u64;
        for raw in text.split('\n') {
            let line = raw.trim_end_matches('\r').trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let argv = split_args(line).ok_or("Invalid AOF manifest file format")?;
            if argv.len() < 6 || argv.len() % 2 != 0 {
                return Err("Invalid AOF manifest file format".into());
            }
            let (mut name, mut seq, mut kind) = (None, None, None);
            for kv in argv.chunks(2) {
                match kv[0].as_str() {
                    "file" => name = Some(kv[1].clone()),
                    "seq" => seq = kv[1].parse::<u64>().ok(),
                    "type" => kind = kv[1].bytes().next(),
                    _ => {}
                }
            }
            let (Some(name), Some(seq), Some(kind)) = (name, seq, kind) else {
                return Err("Invalid AOF manifest file format".into());
            };
            if name.contains('/') {
                return Err("File can't be a path, just a filename".into());
            }
            let f = AofFile { name, seq, kind };
            match kind {
                b'b' => {
                    if m.base.is_some() {
                        return Err("Found duplicate base file information".into());
                    }
                    m.base_seq = seq;
                    m.base = Some(f);
                }
                b'h' => m.history.push(f),
                b'i' => {
                    if seq <= last_incr {
                        return Err("Found a non-monotonic sequence number".into());
                    }
                    last_incr = seq;
                    m.incr_seq = seq;
                    m.incr.push(f);
                }
                _ => return Err("Unknown AOF file type".into()),
            }
        }
        Ok(m)
    }

    /// Every file to load, in order: the base, then the incremental files.
    pub fn files(&self) -> Vec<&AofFile> {
        self.base.iter().chain(self.incr.iter()).collect()
    }
}

/// Writes `text` to `path` atomically: a temp file in the same directory, fsync,
/// rename, fsync of the directory.
pub fn write_atomic(dir: &Path, name: &str, text: &[u8]) -> io::Result<()> {
    let tmp = dir.join(format!("temp-{name}"));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(text)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, dir.join(name))?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// fsync of a directory (makes renames and new files durable).
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_quoting() {
        let mut m = Manifest {
            base: Some(AofFile {
                name: "appendonly.aof.1.base.rdb".into(),
                seq: 1,
                kind: b'b',
            }),
            ..Manifest::default()
        };
        m.history.push(AofFile {
            name: "my file\n.aof".into(),
            seq: 3,
            kind: b'h',
        });
        m.incr.push(AofFile {
            name: "appendonly.aof.2.incr.aof".into(),
            seq: 2,
            kind: b'i',
        });
        let text = m.to_text();
        assert_eq!(
            text,
            "file appendonly.aof.1.base.rdb seq 1 type b\nfile \"my file\\n.aof\" seq 3 type h\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
        );
        let back = Manifest::parse(&text).unwrap();
        assert_eq!(back.history[0].name, "my file\n.aof");
        assert_eq!(back.base_seq, 1);
        assert_eq!(back.incr_seq, 2);
        assert!(Manifest::parse("file a seq x type b\n").is_err());
        assert!(Manifest::parse("file a seq 2 type i\nfile b seq 1 type i\n").is_err());
        assert!(Manifest::parse("# comment\n\nfile a seq 1 type b\n").is_ok());
    }
}
