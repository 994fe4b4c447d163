//! Request parser: turns the bytes a client sent into command argument vectors.
//!
//! Clients speak two request forms, exactly as Redis accepts them:
//!
//! * **multibulk** (`*<n>\r\n$<len>\r\n<bytes>\r\n...`), what every client library sends;
//! * **inline** (`SET k v\n`), a line split on spaces with Redis's quoting rules, so that
//!   `telnet` and `nc` work.
//!
//! The parser is *incremental*: a command whose bytes arrive over several reads is not
//! re-parsed from the start each time (a 1M-argument MSET would otherwise be quadratic).
//! Arguments are returned as byte ranges into the caller's buffer, so a pipeline of small
//! commands is parsed without copying or allocating per argument.
//!
//! Every length a client announces is bounded before anything is reserved for it
//! (`proto-max-bulk-len`, the 1M argument cap), so a client cannot make the server
//! allocate memory it has not actually sent.

/// Longest inline request, and longest `*<n>`/`$<n>` header line, Redis accepts (PROTO_INLINE_MAX_SIZE).
pub const INLINE_MAX: usize = 64 * 1024;
/// Redis refuses multibulk counts above this (INT_MAX in 7.0; a count this large could not fit anyway).
pub const MAX_MULTIBULK: i64 = i32::MAX as i64;
/// Unauthenticated clients may not announce more than this many arguments ...
pub const UNAUTH_MAX_MULTIBULK: i64 = 10;
/// ... nor bulks longer than this (Redis 7 guards against pre-auth memory abuse the same way).
pub const UNAUTH_MAX_BULK: i64 = 16384;

/// Limits the parser enforces; read from the configuration by the connection.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub proto_max_bulk_len: i64,
    /// True while the client still has to authenticate (stricter limits apply).
    pub unauthenticated: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            proto_max_bulk_len: 512 * 1024 * 1024,
            unauthenticated: false,
        }
    }
}

/// What one call to [`Parser::parse`] found at the front of the buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A full command occupies `buf[..consumed]`; its arguments are in [`Parser::args`].
    /// `args` may be empty (an empty inline line or `*0`), which callers skip.
    Command { consumed: usize },
    /// More bytes are needed. `hint` is how many bytes in total the buffer must hold
    /// before parsing can progress (0 when unknown), so large bulks can be reserved once.
    Incomplete { hint: usize },
    /// The input is malformed; the text is Redis's (`Protocol error: ...`, without `-ERR `).
    Error(String),
}

/// Incremental request parser. One per connection.
#[derive(Default, Debug)]
pub struct Parser {
    /// Byte ranges (relative to the start of the command in the buffer) of the arguments.
    spans: Vec<(usize, usize)>,
    /// Position in the buffer where parsing resumes.
    pos: usize,
    /// Arguments still expected for the current multibulk (0: not inside a multibulk).
    remaining: i64,
    /// Length of the bulk whose `$<len>` header was already read (-1: none).
    bulk_len: i64,
    /// True if the last command was an inline one (its quoted tokens need decoding).
    inline: bool,
}

fn find_byte(hay: &[u8], b: u8) -> Option<usize> {
    hay.iter().position(|&c| c == b)
}

/// Parses a decimal integer the way Redis's `string2ll` does: optional '-', digits only,
/// no leading zeros (except "0" itself), no '+', no spaces, no overflow.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = if s[0] == b'-' {
        (true, &s[1..])
    } else {
        (false, s)
    };
    if digits.is_empty() || digits[0] == b'0' {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        if v > (i64::MAX as u64) + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else if v > i64::MAX as u64 {
        None
    } else {
        Some(v as i64)
    }
}

impl Parser {
    pub fn new() -> Self {
        Parser {
            spans: Vec::new(),
            pos: 0,
            remaining: 0,
            bulk_len: -1,
            inline: false,
        }
    }

    /// True if the last command parsed was an inline request.
    pub fn last_was_inline(&self) -> bool {
        self.inline
    }

    /// Argument ranges of the command last reported by [`Parsed::Command`].
    pub fn spans(&self) -> &[(usize, usize)] {
        &self.spans
    }

    /// Collects the arguments of the last parsed command as slices of `buf`.
    pub fn args<'a>(&self, buf: &'a [u8], out: &mut Vec<&'a [u8]>) {
        out.clear();
        out.extend(self.spans.iter().map(|&(s, e)| &buf[s..e]));
    }

    fn reset(&mut self) {
        self.pos = 0;
        self.remaining = 0;
        self.bulk_len = -1;
    }

    /// Parses the command at the front of `buf`. After `Command { consumed }` the caller
    /// executes it and drops `consumed` bytes from the front before calling again; after
    /// `Incomplete` it appends more bytes and calls again with the same buffer start.
    pub fn parse(&mut self, buf: &[u8], limits: Limits) -> Parsed {
        if self.pos == 0 {
            self.spans.clear();
            if buf.is_empty() {
                return Parsed::Incomplete { hint: 0 };
            }
            self.inline = buf[0] != b'*';
            if self.inline {
                return self.parse_inline(buf);
            }
        }
        self.parse_multibulk(buf, limits)
    }

    fn parse_inline(&mut self, buf: &[u8]) -> Parsed {
        let nl = match find_byte(buf, b'\n') {
            Some(i) => i,
            None => {
                if buf.len() > INLINE_MAX {
                    return Parsed::Error("Protocol error: too big inline request".into());
                }
                return Parsed::Incomplete { hint: 0 };
            }
        };
        let mut line_end = nl;
        if line_end > 0 && buf[line_end - 1] == b'\r' {
            line_end -= 1;
        }
        match split_args(&buf[..line_end]) {
            Some(spans) => {
                self.spans = spans;
                Parsed::Command { consumed: nl + 1 }
            }
            None => Parsed::Error("Protocol error: unbalanced quotes in request".into()),
        }
    }

    fn parse_multibulk(&mut self, buf: &[u8], limits: Limits) -> Parsed {
        if self.pos == 0 {
            // "*<count>\r\n"
            let cr = match find_byte(buf, b'\r') {
                Some(i) => i,
                None => {
                    if buf.len() > INLINE_MAX {
                        return Parsed::Error("Protocol error: too big mbulk count string".into());
                    }
                    return Parsed::Incomplete { hint: 0 };
                }
            };
            if cr + 1 >= buf.len() {
                return Parsed::Incomplete { hint: 0 };
            }
            let count = match parse_i64(&buf[1..cr]) {
                Some(n) if n <= MAX_MULTIBULK => n,
                _ => return Parsed::Error("Protocol error: invalid multibulk length".into()),
            };
            if count > UNAUTH_MAX_MULTIBULK && limits.unauthenticated {
                return Parsed::Error("Protocol error: unauthenticated multibulk length".into());
            }
            let next = cr + 2;
            if count <= 0 {
                self.reset();
                return Parsed::Command { consumed: next };
            }
            self.remaining = count;
            // Never trust the count for reservation beyond what is reasonable.
            self.spans.reserve(count.min(1024) as usize);
            self.pos = next;
            self.bulk_len = -1;
        }
        while self.remaining > 0 {
            if self.bulk_len < 0 {
                let rest = &buf[self.pos..];
                let cr = match find_byte(rest, b'\r') {
                    Some(i) => i,
                    None => {
                        if rest.len() > INLINE_MAX {
                            return Parsed::Error(
                                "Protocol error: too big bulk count string".into(),
                            );
                        }
                        return Parsed::Incomplete { hint: 0 };
                    }
                };
                if cr + 1 >= rest.len() {
                    return Parsed::Incomplete { hint: 0 };
                }
                if rest[0] != b'$' {
                    return Parsed::Error(format!(
                        "Protocol error: expected '$', got '{}'",
                        rest[0] as char
                    ));
                }
                let len = match parse_i64(&rest[1..cr]) {
                    Some(n) if n >= 0 && n <= limits.proto_max_bulk_len => n,
                    _ => return Parsed::Error("Protocol error: invalid bulk length".into()),
                };
                if len > UNAUTH_MAX_BULK && limits.unauthenticated {
                    return Parsed::Error("Protocol error: unauthenticated bulk length".into());
                }
                self.pos += cr + 2;
                self.bulk_len = len;
            }
            let len = self.bulk_len as usize;
            let need = self.pos + len + 2;
            if buf.len() < need {
                return Parsed::Incomplete { hint: need };
            }
            self.spans.push((self.pos, self.pos + len));
            self.pos = need;
            self.bulk_len = -1;
            self.remaining -= 1;
        }
        let consumed = self.pos;
        self.reset();
        Parsed::Command { consumed }
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Splits an inline request line into arguments with the rules of Redis's `sdssplitargs`:
/// whitespace separates, `"..."` supports `\n \r \t \b \a \\ \" \xHH` escapes, `'...'`
/// supports only `\'`, and a closing quote must be followed by a space or the end.
/// Returns `None` on unbalanced quotes. Escaped arguments cannot be expressed as ranges
/// of the input, so they are returned as owned bytes appended after the line (see below).
fn split_args(line: &[u8]) -> Option<Vec<(usize, usize)>> {
    // Fast path: no quotes at all, every argument is a plain range of the line.
    if !line.iter().any(|&c| c == b'"' || c == b'\'') {
        let mut spans = Vec::new();
        let mut i = 0;
        while i < line.len() {
            while i < line.len() && line[i].is_ascii_whitespace() {
                i += 1;
            }
            let start = i;
            while i < line.len() && !line[i].is_ascii_whitespace() {
                i += 1;
            }
            if i > start {
                spans.push((start, i));
            }
        }
        return Some(spans);
    }
    // Quoted arguments: validated here; their decoded bytes are produced by `split_quoted`.
    // We return an error marker if unbalanced; otherwise spans of the *raw* tokens which
    // `InlineArgs` decodes. To keep the parser API uniform (ranges into the buffer), a
    // quoted request is decoded by the caller through `decode_inline`.
    split_quoted(line).map(|tokens| tokens.into_iter().map(|(s, e, _)| (s, e)).collect())
}

/// Tokenizes a line with quotes; returns (start, end, quoted) raw token ranges (quotes included).
fn split_quoted(line: &[u8]) -> Option<Vec<(usize, usize, bool)>> {
    let mut out = Vec::new();
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= n {
            return Some(out);
        }
        let start = i;
        let mut quoted = false;
        let mut inq = false; // inside "..."
        let mut insq = false; // inside '...'
        loop {
            if inq {
                if i >= n {
                    return None;
                }
                if line[i] == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && hex_val(line[i + 2]).is_some()
                    && hex_val(line[i + 3]).is_some()
                {
                    i += 4;
                } else if line[i] == b'\\' && i + 1 < n {
                    i += 2;
                } else if line[i] == b'"' {
                    // closing quote must be followed by a space or nothing
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    i += 1;
                }
            } else if insq {
                if i >= n {
                    return None;
                }
                if line[i] == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    i += 2;
                } else if line[i] == b'\'' {
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    i += 1;
                }
            } else {
                if i >= n || line[i].is_ascii_whitespace() {
                    break;
                }
                match line[i] {
                    b'"' => {
                        inq = true;
                        quoted = true;
                    }
                    b'\'' => {
                        insq = true;
                        quoted = true;
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        out.push((start, i, quoted));
    }
}

/// Decodes one raw inline token (as delimited by the tokenizer) into its argument bytes,
/// applying Redis's quote and escape rules. Plain tokens decode to themselves.
/// The first two arguments after the command name (empty if absent) that
/// [`peek_keys`] found (a window of a pipeline: no allocation).
pub type PeekedKeys<'a> = smallvec::SmallVec<[(&'a [u8], &'a [u8]); PEEK_WINDOW]>;

/// Commands looked ahead at once by [`peek_keys`]' callers.
pub const PEEK_WINDOW: usize = 32;

/// The second and third arguments (the first key of most commands, and a member, field
/// or value) of each complete multibulk command at the front of `input` that has a
/// second one, up to `max` commands, for prefetching (see `Keyspace::prefetch`);
/// returns the bytes those commands take. Stops at the first
/// thing that is not a complete, plain multibulk command: it is only a hint, the
/// parser proper validates everything.
pub fn peek_keys<'a>(input: &'a [u8], max: usize, out: &mut PeekedKeys<'a>) -> usize {
    /// The integer after `at` up to CRLF, and the position after the CRLF.
    fn line(b: &[u8], at: usize) -> Option<(usize, usize)> {
        let mut n: usize = 0;
        let mut i = at;
        while let Some(&c) = b.get(i) {
            match c {
                b'0'..=b'9' => n = n.checked_mul(10)?.checked_add((c - b'0') as usize)?,
                b'\r' => return (b.get(i + 1) == Some(&b'\n') && i > at).then_some((n, i + 2)),
                _ => return None,
            }
            i += 1;
        }
        None
    }
    let mut pos = 0;
    let mut found = 0;
    while found < max && input.get(pos) == Some(&b'*') {
        let Some((argc, mut p)) = line(input, pos + 1) else {
            break;
        };
        if argc == 0 || argc > 1024 {
            break;
        }
        let mut key = None;
        let mut arg = &input[..0];
        for i in 0..argc {
            if input.get(p) != Some(&b'$') {
                return pos;
            }
            let Some((len, q)) = line(input, p + 1) else {
                return pos;
            };
            let end = match q.checked_add(len) {
                Some(e) if e.checked_add(2).is_some_and(|x| x <= input.len()) => e,
                _ => return pos,
            };
            match i {
                1 => key = Some(&input[q..end]),
                2 => arg = &input[q..end],
                _ => {}
            }
            p = end + 2;
        }
        if let Some(k) = key {
            out.push((k, arg));
        }
        found += 1;
        pos = p;
    }
    pos
}

pub fn decode_inline_token(tok: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(tok.len());
    let mut i = 0;
    let n = tok.len();
    let mut inq = false;
    let mut insq = false;
    while i < n {
        let c = tok[i];
        if inq {
            if c == b'\\' && i + 3 < n && tok[i + 1] == b'x' {
                if let (Some(h), Some(l)) = (hex_val(tok[i + 2]), hex_val(tok[i + 3])) {
                    out.push(h * 16 + l);
                    i += 4;
                    continue;
                }
            }
            if c == b'\\' && i + 1 < n {
                let e = match tok[i + 1] {
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'b' => 8,
                    b'a' => 7,
                    other => other,
                };
                out.push(e);
                i += 2;
                continue;
            }
            if c == b'"' {
                inq = false;
                i += 1;
                continue;
            }
            out.push(c);
            i += 1;
        } else if insq {
            if c == b'\\' && i + 1 < n && tok[i + 1] == b'\'' {
                out.push(b'\'');
                i += 2;
                continue;
            }
            if c == b'\'' {
                insq = false;
                i += 1;
                continue;
            }
            out.push(c);
            i += 1;
        } else {
            match c {
                b'"' => inq = true,
                b'\'' => insq = true,
                _ => out.push(c),
            }
            i += 1;
        }
    }
    out
}

/// True if an inline token needs decoding (it contains quotes).
pub fn inline_token_is_quoted(tok: &[u8]) -> bool {
    tok.iter().any(|&c| c == b'"' || c == b'\'')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peek_keys_looks_ahead_at_complete_commands_only() {
        let c1 = &b"*2\r\n$3\r\nGET\r\n$2\r\nk1\r\n"[..];
        let c2 = &b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$1\r\nv\r\n"[..];
        let c3 = &b"*1\r\n$4\r\nPING\r\n"[..];
        let batch = [c1, c2, c3].concat();
        let mut keys = PeekedKeys::new();
        // Every command, a key for those with a second argument.
        assert_eq!(peek_keys(&batch, 10, &mut keys), batch.len());
        assert_eq!(&keys[..], &[(&b"k1"[..], &b""[..]), (b"key", b"v")]);
        // At most `max` commands.
        keys.clear();
        assert_eq!(peek_keys(&batch, 1, &mut keys), c1.len());
        assert_eq!(&keys[..], &[(&b"k1"[..], &b""[..])]);
        // A partial command ends the look-ahead (at every cut).
        for cut in c1.len() + 1..c1.len() + c2.len() {
            keys.clear();
            assert_eq!(
                peek_keys(&batch[..cut], 10, &mut keys),
                c1.len(),
                "cut {cut}"
            );
            assert_eq!(keys.len(), 1);
        }
        keys.clear();
        assert_eq!(peek_keys(b"GET k1\r\n", 10, &mut keys), 0);
        // Malformed lengths stop it without panicking.
        for bad in [
            &b"*2\r\n$99999999999999999999999\r\nGET\r\n"[..],
            b"*\r\n",
            b"*2\r\n$-1\r\n",
            b"*0\r\n",
            b"*2\r\n$3\r\nGET\r\n:1\r\n",
        ] {
            keys.clear();
            assert_eq!(peek_keys(bad, 10, &mut keys), 0);
            assert!(keys.is_empty());
        }
        // A length that lands exactly at the end of the address space.
        for delta in 0..64 {
            let huge = (usize::MAX - delta).to_string();
            let bad = format!("*2\r\n${huge}\r\nGET\r\n");
            let mut keys = PeekedKeys::new();
            assert_eq!(peek_keys(bad.as_bytes(), 10, &mut keys), 0);
        }
    }

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, String> {
        let mut p = Parser::new();
        let mut buf = input.to_vec();
        let mut cmds = Vec::new();
        loop {
            match p.parse(&buf, Limits::default()) {
                Parsed::Command { consumed } => {
                    let args: Vec<Vec<u8>> = p
                        .spans()
                        .iter()
                        .map(|&(s, e)| {
                            let t = &buf[s..e];
                            if buf[0] != b'*' && inline_token_is_quoted(t) {
                                decode_inline_token(t)
                            } else {
                                t.to_vec()
                            }
                        })
                        .collect();
                    cmds.push(args);
                    buf.drain(..consumed);
                }
                Parsed::Incomplete { .. } => return Ok(cmds),
                Parsed::Error(e) => return Err(e),
            }
        }
    }

    #[test]
    fn multibulk_and_pipeline() {
        let cmds = parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n").unwrap();
        assert_eq!(
            cmds,
            vec![vec![b"GET".to_vec(), b"k".to_vec()], vec![b"PING".to_vec()]]
        );
    }

    #[test]
    fn inline_quotes() {
        let cmds = parse_all(b"set \"a b\" 'c\\'d' \"\\x41\\n\"\r\n").unwrap();
        assert_eq!(
            cmds[0],
            vec![
                b"set".to_vec(),
                b"a b".to_vec(),
                b"c'd".to_vec(),
                b"A\n".to_vec()
            ]
        );
        assert_eq!(
            parse_all(b"set \"a\n").unwrap_err(),
            "Protocol error: unbalanced quotes in request"
        );
        assert_eq!(
            parse_all(b"set \"a\"b\n").unwrap_err(),
            "Protocol error: unbalanced quotes in request"
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            parse_all(b"*x\r\n").unwrap_err(),
            "Protocol error: invalid multibulk length"
        );
        assert_eq!(
            parse_all(b"*1\r\n+a\r\n").unwrap_err(),
            "Protocol error: expected '$', got '+'"
        );
        assert_eq!(
            parse_all(b"*1\r\n$-2\r\n").unwrap_err(),
            "Protocol error: invalid bulk length"
        );
        assert_eq!(
            parse_all(b"*1\r\n$999999999999\r\n").unwrap_err(),
            "Protocol error: invalid bulk length"
        );
    }

    #[test]
    fn incremental_resume() {
        let full = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
        let mut p = Parser::new();
        for cut in 0..full.len() {
            match p.parse(&full[..cut], Limits::default()) {
                Parsed::Incomplete { .. } => {}
                other => panic!("cut {cut}: {other:?}"),
            }
        }
        assert_eq!(
            p.parse(full, Limits::default()),
            Parsed::Command {
                consumed: full.len()
            }
        );
        assert_eq!(p.spans().len(), 3);
    }

    #[test]
    fn int_parsing_is_strict() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"01"), None);
        assert_eq!(parse_i64(b"+1"), None);
        assert_eq!(parse_i64(b"-0"), None);
        assert_eq!(parse_i64(b" 1"), None);
    }
}
