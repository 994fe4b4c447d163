//! Reply encoder: commands write their replies straight into the connection's output
//! buffer through [`Reply`], in RESP2 or RESP3 depending on what the client negotiated
//! with `HELLO`.
//!
//! Writing directly (instead of building a reply tree and serialising it) keeps the hot
//! path free of allocations; it is also how Redis works, and it lets Lua scripts and
//! `MULTI`/`EXEC` reuse the same code: they capture the bytes and parse them back.
//!
//! Types that only exist in RESP3 degrade the way Redis degrades them in RESP2:
//! maps and sets become flat arrays, doubles become bulk strings, booleans become
//! integers, null becomes `$-1` (or `*-1` for null arrays).

use crate::util::num::fmt_double;

/// Protocol version negotiated by the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    Resp2,
    Resp3,
}

/// Output buffer plus the protocol to encode it in.
#[derive(Debug)]
pub struct Reply {
    pub buf: Vec<u8>,
    pub proto: Proto,
    /// Number of error replies written (for INFO's `total_error_replies` and command stats).
    pub errors: u64,
    /// Error code (first word) of the last error written; `None` if none yet.
    pub last_error_code: Option<String>,
}

impl Default for Reply {
    fn default() -> Self {
        Reply::new(Proto::Resp2)
    }
}

impl Reply {
    pub fn new(proto: Proto) -> Self {
        Reply {
            buf: Vec::with_capacity(16 * 1024),
            proto,
            errors: 0,
            last_error_code: None,
        }
    }

    pub fn is_resp3(&self) -> bool {
        self.proto == Proto::Resp3
    }

    #[inline]
    fn header(&mut self, prefix: u8, n: i64) {
        self.buf.push(prefix);
        let mut b = itoa::Buffer::new();
        self.buf.extend_from_slice(b.format(n).as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    /// `+OK`
    #[inline]
    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    /// A status (simple string) reply. Must not contain CR or LF.
    pub fn simple(&mut self, s: &str) {
        self.buf.push(b'+');
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    /// A status reply from raw bytes; CR/LF are replaced by spaces as Redis does.
    pub fn simple_bytes(&mut self, s: &[u8]) {
        self.buf.push(b'+');
        self.buf.extend(
            s.iter()
                .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }),
        );
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An error reply. `msg` is the full text after the dash, including the code,
    /// e.g. `"ERR syntax error"` or `"WRONGTYPE Operation against ..."`.
    pub fn error(&mut self, msg: &str) {
        self.buf.push(b'-');
        // Errors must be a single line: Redis replaces newlines with spaces.
        self.buf.extend(
            msg.bytes()
                .map(|c| if c == b'\r' || c == b'\n' { b' ' } else { c }),
        );
        self.buf.extend_from_slice(b"\r\n");
        self.errors += 1;
        let code = msg.split(' ').next().unwrap_or("ERR");
        self.last_error_code = Some(code.to_string());
    }

    /// `-ERR <msg>`.
    pub fn err(&mut self, msg: &str) {
        self.buf.extend_from_slice(b"-ERR ");
        self.buf.extend(
            msg.bytes()
                .map(|c| if c == b'\r' || c == b'\n' { b' ' } else { c }),
        );
        self.buf.extend_from_slice(b"\r\n");
        self.errors += 1;
        self.last_error_code = Some("ERR".to_string());
    }

    #[inline]
    pub fn int(&mut self, n: i64) {
        self.header(b':', n);
    }

    #[inline]
    pub fn bulk(&mut self, s: &[u8]) {
        self.header(b'$', s.len() as i64);
        self.buf.extend_from_slice(s);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// A bulk string holding the decimal form of `n` (Redis replies this way to GET of
    /// an integer-encoded string).
    pub fn bulk_int(&mut self, n: i64) {
        let mut b = itoa::Buffer::new();
        self.bulk(b.format(n).as_bytes());
    }

    /// The null reply: `$-1` in RESP2, `_` in RESP3.
    #[inline]
    pub fn null(&mut self) {
        match self.proto {
            Proto::Resp2 => self.buf.extend_from_slice(b"$-1\r\n"),
            Proto::Resp3 => self.buf.extend_from_slice(b"_\r\n"),
        }
    }

    /// The null array: `*-1` in RESP2, `_` in RESP3.
    pub fn null_array(&mut self) {
        match self.proto {
            Proto::Resp2 => self.buf.extend_from_slice(b"*-1\r\n"),
            Proto::Resp3 => self.buf.extend_from_slice(b"_\r\n"),
        }
    }

    #[inline]
    pub fn array(&mut self, n: usize) {
        self.header(b'*', n as i64);
    }

    /// A map of `n` key/value pairs (RESP2: a flat array of 2n elements).
    pub fn map(&mut self, n: usize) {
        match self.proto {
            Proto::Resp2 => self.header(b'*', 2 * n as i64),
            Proto::Resp3 => self.header(b'%', n as i64),
        }
    }

    /// A set of `n` elements (RESP2: an array).
    pub fn set(&mut self, n: usize) {
        match self.proto {
            Proto::Resp2 => self.header(b'*', n as i64),
            Proto::Resp3 => self.header(b'~', n as i64),
        }
    }

    /// A push message header of `n` elements (RESP2: an array).
    pub fn push(&mut self, n: usize) {
        match self.proto {
            Proto::Resp2 => self.header(b'*', n as i64),
            Proto::Resp3 => self.header(b'>', n as i64),
        }
    }

    /// A double: RESP3 `,<d>`, RESP2 a bulk string, both formatted like Redis (`%.17g`).
    pub fn double(&mut self, d: f64) {
        let s = fmt_double(d);
        match self.proto {
            Proto::Resp2 => self.bulk(s.as_bytes()),
            Proto::Resp3 => {
                self.buf.push(b',');
                self.buf.extend_from_slice(s.as_bytes());
                self.buf.extend_from_slice(b"\r\n");
            }
        }
    }

    /// A boolean: RESP3 `#t`/`#f`, RESP2 `:1`/`:0`.
    pub fn boolean(&mut self, b: bool) {
        match self.proto {
            Proto::Resp2 => self.int(b as i64),
            Proto::Resp3 => self
                .buf
                .extend_from_slice(if b { b"#t\r\n" } else { b"#f\r\n" }),
        }
    }

    /// A verbatim string (RESP3 `=<len>\r\ntxt:...`), a bulk string in RESP2.
    pub fn verbatim(&mut self, s: &[u8], format: &str) {
        match self.proto {
            Proto::Resp2 => self.bulk(s),
            Proto::Resp3 => {
                self.header(b'=', (s.len() + 4) as i64);
                self.buf.extend_from_slice(format.as_bytes());
                self.buf.push(b':');
                self.buf.extend_from_slice(s);
                self.buf.extend_from_slice(b"\r\n");
            }
        }
    }

    /// Appends already-encoded protocol bytes.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// An array of bulk strings.
    pub fn bulk_array<I, T>(&mut self, items: I)
    where
        I: ExactSizeIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        self.array(items.len());
        for it in items {
            self.bulk(it.as_ref());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resp2_and_resp3_shapes() {
        let mut r = Reply::new(Proto::Resp2);
        r.map(1);
        r.bulk(b"k");
        r.double(1.5);
        r.null();
        r.boolean(true);
        assert_eq!(r.buf, b"*2\r\n$1\r\nk\r\n$3\r\n1.5\r\n$-1\r\n:1\r\n");
        let mut r = Reply::new(Proto::Resp3);
        r.map(1);
        r.bulk(b"k");
        r.double(1.5);
        r.null();
        r.boolean(true);
        assert_eq!(r.buf, b"%1\r\n$1\r\nk\r\n,1.5\r\n_\r\n#t\r\n");
    }

    #[test]
    fn errors_are_single_line() {
        let mut r = Reply::new(Proto::Resp2);
        r.error("ERR a\r\nb");
        assert_eq!(r.buf, b"-ERR a  b\r\n");
        assert_eq!(r.errors, 1);
    }
}
