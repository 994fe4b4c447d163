//! Redis's listpack (`listpack.c`): the byte format Redis 7 uses inside RDB files for
//! small hashes, sorted sets, sets (7.2) and quicklist nodes. A validating reader
//! (untrusted input: never panics, checks every entry and its back-length) and a
//! writer that encodes entries exactly as `lpAppend` does, so the bytes match Redis's.
//!
//! Layout: `total-bytes u32le | num-elements u16le | entries | 0xFF`; an entry is
//! `encoding [data] backlen`, backlen being the size of `encoding + data` in a
//! right-to-left varint.

const HDR: usize = 6;
const EOF: u8 = 0xff;
/// `num-elements` value meaning "count unknown: walk the entries".
const NUMELE_UNKNOWN: u16 = u16::MAX;

/// One listpack element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ele<'a> {
    Int(i64),
    Str(&'a [u8]),
}

impl Ele<'_> {
    /// The element's string form (integers in decimal).
    pub fn to_vec(&self) -> Vec<u8> {
        match *self {
            Ele::Int(n) => itoa::Buffer::new().format(n).as_bytes().to_vec(),
            Ele::Str(s) => s.to_vec(),
        }
    }
}

/// The listpack is malformed.
#[derive(Debug, PartialEq, Eq)]
pub struct Corrupt;

/// Size of the backlen field for an entry of `l` bytes (encoding + data).
fn backlen_size(l: usize) -> usize {
    match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

fn encode_backlen(out: &mut Vec<u8>, l: usize) {
    match backlen_size(l) {
        1 => out.push(l as u8),
        2 => out.extend_from_slice(&[(l >> 7) as u8, ((l & 127) | 128) as u8]),
        3 => out.extend_from_slice(&[
            (l >> 14) as u8,
            (((l >> 7) & 127) | 128) as u8,
            ((l & 127) | 128) as u8,
        ]),
        4 => out.extend_from_slice(&[
            (l >> 21) as u8,
            (((l >> 14) & 127) | 128) as u8,
            (((l >> 7) & 127) | 128) as u8,
            ((l & 127) | 128) as u8,
        ]),
        _ => out.extend_from_slice(&[
            (l >> 28) as u8,
            (((l >> 21) & 127) | 128) as u8,
            (((l >> 14) & 127) | 128) as u8,
            (((l >> 7) & 127) | 128) as u8,
            ((l & 127) | 128) as u8,
        ]),
    }
}

/// Decodes the backlen ending just before `end` (reading right to left).
fn decode_backlen(buf: &[u8], end: usize) -> Option<usize> {
    let mut val = 0usize;
    let mut shift = 0;
    let mut p = end;
    loop {
        p = p.checked_sub(1)?;
        let b = *buf.get(p)?;
        val |= ((b & 127) as usize) << shift;
        if b & 128 == 0 {
            return Some(val);
        }
        shift += 7;
        if shift > 28 {
            return None;
        }
    }
}

/// The entry at `pos`: (element, encoded size without backlen).
fn entry_at(buf: &[u8], pos: usize) -> Option<(Ele<'_>, usize)> {
    let b0 = *buf.get(pos)?;
    let byte = |i: usize| buf.get(pos + i).copied();
    let sized = |hdr: usize, n: usize| -> Option<(Ele<'_>, usize)> {
        let start = pos.checked_add(hdr)?;
        let s = buf.get(start..start.checked_add(n)?)?;
        Some((Ele::Str(s), hdr + n))
    };
    let int_le = |n: usize| -> Option<i64> {
        let s = buf.get(pos + 1..pos + 1 + n)?;
        let mut v: u64 = 0;
        for (i, &b) in s.iter().enumerate() {
            v |= (b as u64) << (8 * i);
        }
        // sign-extend from n bytes
        let shift = 64 - 8 * n as u32;
        Some(((v << shift) as i64) >> shift)
    };
    if b0 & 0x80 == 0 {
        return Some((Ele::Int((b0 & 0x7f) as i64), 1));
    }
    if b0 & 0xc0 == 0x80 {
        return sized(1, (b0 & 0x3f) as usize);
    }
    if b0 & 0xe0 == 0xc0 {
        let v = (((b0 & 0x1f) as i64) << 8) | byte(1)? as i64;
        let v = if v >= 1 << 12 { v - (1 << 13) } else { v };
        return Some((Ele::Int(v), 2));
    }
    if b0 & 0xf0 == 0xe0 {
        return sized(2, (((b0 & 0x0f) as usize) << 8) | byte(1)? as usize);
    }
    match b0 {
        0xf0 => {
            let l = u32::from_le_bytes(buf.get(pos + 1..pos + 5)?.try_into().ok()?) as usize;
            sized(5, l)
        }
        0xf1 => Some((Ele::Int(int_le(2)?), 3)),
        0xf2 => Some((Ele::Int(int_le(3)?), 4)),
        0xf3 => Some((Ele::Int(int_le(4)?), 5)),
        0xf4 => Some((Ele::Int(int_le(8)?), 9)),
        _ => None,
    }
}

/// Validates `lp` whole and calls `f` on each element in order.
pub fn for_each<'a>(lp: &'a [u8], mut f: impl FnMut(Ele<'a>)) -> Result<(), Corrupt> {
    if lp.len() < HDR + 1 {
        return Err(Corrupt);
    }
    let total = u32::from_le_bytes([lp[0], lp[1], lp[2], lp[3]]) as usize;
    let numele = u16::from_le_bytes([lp[4], lp[5]]);
    if total != lp.len() || lp[lp.len() - 1] != EOF {
        return Err(Corrupt);
    }
    let end = lp.len() - 1;
    let mut pos = HDR;
    let mut count = 0usize;
    while pos < end {
        let (e, size) = entry_at(lp, pos).ok_or(Corrupt)?;
        let bl = backlen_size(size);
        let next = pos + size + bl;
        if next > end || decode_backlen(lp, next) != Some(size) {
            return Err(Corrupt);
        }
        f(e);
        count += 1;
        pos = next;
    }
    if pos != end || (numele != NUMELE_UNKNOWN && numele as usize != count) {
        return Err(Corrupt);
    }
    Ok(())
}

/// All elements as owned strings.
pub fn to_vecs(lp: &[u8]) -> Result<Vec<Vec<u8>>, Corrupt> {
    let mut v = Vec::new();
    for_each(lp, |e| v.push(e.to_vec()))?;
    Ok(v)
}

/// Number of elements (validating the whole listpack).
pub fn count(lp: &[u8]) -> Result<usize, Corrupt> {
    let mut n = 0;
    for_each(lp, |_| n += 1)?;
    Ok(n)
}

/// Redis's `lpStringToInt64`/`string2ll`: the i64 whose canonical decimal form is
/// exactly `s` (no sign on zero, no leading zeros or spaces, no `+`).
pub fn canonical_int(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || digits[0] == b'0' || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for &d in digits {
        v = v.checked_mul(10)?.checked_add((d - b'0') as u64)?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else {
        i64::try_from(v).ok()
    }
}

/// Builds a listpack entry by entry, encoding like `lpAppend`.
pub struct Writer {
    buf: Vec<u8>,
    count: usize,
}

impl Default for Writer {
    fn default() -> Self {
        Writer::new()
    }
}

impl Writer {
    pub fn new() -> Writer {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&[0; HDR]);
        Writer { buf, count: 0 }
    }

    /// Appends a string element (stored as an integer when it is a canonical one).
    pub fn push(&mut self, s: &[u8]) {
        match canonical_int(s) {
            Some(n) => self.push_int(n),
            None => self.push_str(s),
        }
    }

    fn push_str(&mut self, s: &[u8]) {
        let start = self.buf.len();
        let l = s.len();
        if l < 64 {
            self.buf.push(0x80 | l as u8);
        } else if l < 4096 {
            self.buf.push(0xe0 | (l >> 8) as u8);
            self.buf.push(l as u8);
        } else {
            self.buf.push(0xf0);
            self.buf.extend_from_slice(&(l as u32).to_le_bytes());
        }
        self.buf.extend_from_slice(s);
        let size = self.buf.len() - start;
        encode_backlen(&mut self.buf, size);
        self.count += 1;
    }

    pub fn push_int(&mut self, v: i64) {
        let start = self.buf.len();
        if (0..=127).contains(&v) {
            self.buf.push(v as u8);
        } else if (-4096..=4095).contains(&v) {
            let u = if v < 0 { (1 << 13) + v } else { v } as u16;
            self.buf.push(0xc0 | (u >> 8) as u8);
            self.buf.push(u as u8);
        } else if (-32768..=32767).contains(&v) {
            self.buf.push(0xf1);
            self.buf.extend_from_slice(&(v as i16).to_le_bytes());
        } else if (-8388608..=8388607).contains(&v) {
            self.buf.push(0xf2);
            self.buf.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        } else if i32::try_from(v).is_ok() {
            self.buf.push(0xf3);
            self.buf.extend_from_slice(&(v as i32).to_le_bytes());
        } else {
            self.buf.push(0xf4);
            self.buf.extend_from_slice(&v.to_le_bytes());
        }
        let size = self.buf.len() - start;
        encode_backlen(&mut self.buf, size);
        self.count += 1;
    }

    /// Bytes the listpack would take if finished now (Redis's `lpBytes`).
    pub fn bytes(&self) -> usize {
        self.buf.len() + 1
    }

    pub fn count(&self) -> usize {
        self.count
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(EOF);
        let total = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
        let n = if self.count < NUMELE_UNKNOWN as usize {
            self.count as u16
        } else {
            NUMELE_UNKNOWN
        };
        self.buf[4..6].copy_from_slice(&n.to_le_bytes());
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_every_encoding() {
        let long = vec![b'q'; 5000];
        let mid = vec![b'm'; 300];
        let items: Vec<Vec<u8>> = vec![
            b"0".to_vec(),
            b"127".to_vec(),
            b"128".to_vec(),
            b"-1".to_vec(),
            b"-4096".to_vec(),
            b"4095".to_vec(),
            b"-32768".to_vec(),
            b"8388607".to_vec(),
            b"-2147483648".to_vec(),
            b"9223372036854775807".to_vec(),
            b"-9223372036854775808".to_vec(),
            b"007".to_vec(),
            b"-0".to_vec(),
            b"".to_vec(),
            b"hello".to_vec(),
            mid,
            long,
        ];
        let mut w = Writer::new();
        for i in &items {
            w.push(i);
        }
        let lp = w.finish();
        assert_eq!(to_vecs(&lp).unwrap(), items);
    }

    #[test]
    fn matches_redis_bytes() {
        // listpack of a hash {a: 1, b: hello} as Redis 7.0 writes it
        let mut w = Writer::new();
        for e in [&b"a"[..], b"1", b"b", b"hello"] {
            w.push(e);
        }
        let lp = w.finish();
        assert_eq!(
            lp,
            b"\x16\x00\x00\x00\x04\x00\x81a\x02\x01\x01\x81b\x02\x85hello\x06\xff".to_vec()
        );
    }

    #[test]
    fn corrupt_is_rejected() {
        let mut w = Writer::new();
        for e in [&b"abc"[..], b"12345", b"x"] {
            w.push(e);
        }
        let lp = w.finish();
        for cut in 0..lp.len() {
            assert!(for_each(&lp[..cut], |_| {}).is_err());
        }
        for i in 0..lp.len() {
            for bit in 0..8 {
                let mut c = lp.clone();
                c[i] ^= 1 << bit;
                let _ = for_each(&c, |_| {});
            }
        }
        let mut bad = lp.clone();
        bad[4] = 7; // wrong count
        assert!(for_each(&bad, |_| {}).is_err());
    }

    #[test]
    fn canonical_ints() {
        assert_eq!(canonical_int(b"0"), Some(0));
        assert_eq!(canonical_int(b"-0"), None);
        assert_eq!(canonical_int(b"01"), None);
        assert_eq!(canonical_int(b"+1"), None);
        assert_eq!(canonical_int(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(canonical_int(b"9223372036854775808"), None);
    }
}
