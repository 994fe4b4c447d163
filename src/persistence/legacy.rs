//! Readers for the compact encodings older Redis versions wrote into RDB files:
//! ziplist (lists, hashes and sorted sets before 7.0), intset (integer sets, still
//! current), and zipmap (hashes before 2.6). All validate untrusted input and never
//! panic.

/// The blob is malformed.
#[derive(Debug, PartialEq, Eq)]
pub struct Corrupt;

fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

// ---------------------------------------------------------------- ziplist

/// Calls `f` with each element (string form) of a ziplist, validating it whole:
/// `zlbytes u32 | zltail u32 | zllen u16 | entries | 0xFF`, an entry being
/// `prevlen (1 or 5 bytes) | encoding | data`.
pub fn ziplist_for_each(zl: &[u8], mut f: impl FnMut(Vec<u8>)) -> Result<(), Corrupt> {
    const HDR: usize = 10;
    if zl.len() < HDR + 1 {
        return Err(Corrupt);
    }
    let bytes = le_u32(zl, 0).ok_or(Corrupt)? as usize;
    let tail = le_u32(zl, 4).ok_or(Corrupt)? as usize;
    let zllen = u16::from_le_bytes([zl[8], zl[9]]);
    if bytes != zl.len() || zl[zl.len() - 1] != 0xff {
        return Err(Corrupt);
    }
    let end = zl.len() - 1;
    let mut pos = HDR;
    let mut prev_size = 0usize;
    let mut last_start = HDR;
    let mut count = 0usize;
    while pos < end {
        let start = pos;
        // prevlen
        let b = *zl.get(pos).ok_or(Corrupt)?;
        let prevlen = if b < 254 {
            pos += 1;
            b as usize
        } else if b == 254 {
            let v = le_u32(zl, pos + 1).ok_or(Corrupt)? as usize;
            pos += 5;
            v
        } else {
            return Err(Corrupt);
        };
        if prevlen != prev_size {
            return Err(Corrupt);
        }
        let enc = *zl.get(pos).ok_or(Corrupt)?;
        let take = |from: usize, n: usize| -> Result<&[u8], Corrupt> {
            zl.get(from..from.checked_add(n).ok_or(Corrupt)?)
                .ok_or(Corrupt)
        };
        let int = |from: usize, n: usize| -> Result<i64, Corrupt> {
            let s = take(from, n)?;
            let mut v: u64 = 0;
            for (i, &b) in s.iter().enumerate() {
                v |= (b as u64) << (8 * i);
            }
            let shift = 64 - 8 * n as u32;
            Ok(((v << shift) as i64) >> shift)
        };
        let (value, next) = match enc >> 6 {
            0 => {
                let n = (enc & 0x3f) as usize;
                (take(pos + 1, n)?.to_vec(), pos + 1 + n)
            }
            1 => {
                let n = (((enc & 0x3f) as usize) << 8) | *zl.get(pos + 1).ok_or(Corrupt)? as usize;
                (take(pos + 2, n)?.to_vec(), pos + 2 + n)
            }
            2 => {
                if enc != 0x80 {
                    return Err(Corrupt);
                }
                let s = take(pos + 1, 4)?;
                let n = u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as usize;
                (take(pos + 5, n)?.to_vec(), pos + 5 + n)
            }
            _ => {
                let (v, width) = match enc {
                    0xc0 => (int(pos + 1, 2)?, 2),
                    0xd0 => (int(pos + 1, 4)?, 4),
                    0xe0 => (int(pos + 1, 8)?, 8),
                    0xf0 => (int(pos + 1, 3)?, 3),
                    0xfe => (int(pos + 1, 1)?, 1),
                    0xf1..=0xfd => (((enc & 0x0f) as i64) - 1, 0),
                    _ => return Err(Corrupt),
                };
                (
                    itoa::Buffer::new().format(v).as_bytes().to_vec(),
                    pos + 1 + width,
                )
            }
        };
        if next > end {
            return Err(Corrupt);
        }
        f(value);
        count += 1;
        prev_size = next - start;
        last_start = start;
        pos = next;
    }
    if pos != end {
        return Err(Corrupt);
    }
    if count > 0 && tail != last_start || count == 0 && tail != HDR {
        return Err(Corrupt);
    }
    if zllen != u16::MAX && zllen as usize != count {
        return Err(Corrupt);
    }
    Ok(())
}

/// All elements of a ziplist.
pub fn ziplist_to_vecs(zl: &[u8]) -> Result<Vec<Vec<u8>>, Corrupt> {
    let mut v = Vec::new();
    ziplist_for_each(zl, |e| v.push(e))?;
    Ok(v)
}

// ---------------------------------------------------------------- intset

/// The members of an intset (`encoding u32le | length u32le | members`), checked to
/// be strictly ascending as Redis's deep integrity check requires.
pub fn intset_members(is: &[u8]) -> Result<Vec<i64>, Corrupt> {
    let enc = le_u32(is, 0).ok_or(Corrupt)? as usize;
    let len = le_u32(is, 4).ok_or(Corrupt)? as usize;
    if !matches!(enc, 2 | 4 | 8) || len == 0 {
        return Err(Corrupt);
    }
    let body = &is[8..];
    if len.checked_mul(enc) != Some(body.len()) {
        return Err(Corrupt);
    }
    let mut out = Vec::with_capacity(len);
    for c in body.chunks_exact(enc) {
        let v = match *c {
            [a, b] => i16::from_le_bytes([a, b]) as i64,
            [a, b, c, d] => i32::from_le_bytes([a, b, c, d]) as i64,
            [a, b, c, d, e, f, g, h] => i64::from_le_bytes([a, b, c, d, e, f, g, h]),
            _ => return Err(Corrupt),
        };
        if out.last().is_some_and(|&p| p >= v) {
            return Err(Corrupt);
        }
        out.push(v);
    }
    Ok(out)
}

/// Encodes members (ascending, distinct) as a Redis intset with the narrowest width.
pub fn intset_encode(members: &[i64]) -> Vec<u8> {
    let width = members
        .iter()
        .map(|&n| {
            if i16::try_from(n).is_ok() {
                2
            } else if i32::try_from(n).is_ok() {
                4
            } else {
                8
            }
        })
        .max()
        .unwrap_or(2);
    let mut out = Vec::with_capacity(8 + members.len() * width);
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(members.len() as u32).to_le_bytes());
    for &m in members {
        out.extend_from_slice(&m.to_le_bytes()[..width]);
    }
    out
}

// ---------------------------------------------------------------- zipmap

/// The field/value pairs of a zipmap: `zmlen u8 | (len key len free value pad)* | 0xFF`,
/// lengths being one byte below 254 or 254 followed by a u32le.
/// A field/value pair.
pub type Pair = (Vec<u8>, Vec<u8>);

pub fn zipmap_pairs(zm: &[u8]) -> Result<Vec<Pair>, Corrupt> {
    let mut pos = 1usize;
    if zm.is_empty() {
        return Err(Corrupt);
    }
    let read_len = |pos: &mut usize| -> Result<Option<usize>, Corrupt> {
        let b = *zm.get(*pos).ok_or(Corrupt)?;
        match b {
            255 => Ok(None),
            254 => {
                let v = le_u32(zm, *pos + 1).ok_or(Corrupt)? as usize;
                *pos += 5;
                Ok(Some(v))
            }
            253 => Err(Corrupt),
            n => {
                *pos += 1;
                Ok(Some(n as usize))
            }
        }
    };
    let mut out = Vec::new();
    while let Some(klen) = read_len(&mut pos)? {
        let key = zm
            .get(pos..pos.checked_add(klen).ok_or(Corrupt)?)
            .ok_or(Corrupt)?;
        pos += klen;
        let vlen = read_len(&mut pos)?.ok_or(Corrupt)?;
        let free = *zm.get(pos).ok_or(Corrupt)? as usize;
        pos += 1;
        let val = zm
            .get(pos..pos.checked_add(vlen).ok_or(Corrupt)?)
            .ok_or(Corrupt)?;
        pos += vlen + free;
        out.push((key.to_vec(), val.to_vec()));
    }
    if pos + 1 != zm.len() {
        return Err(Corrupt);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intset_from_redis() {
        // The intset of `SADD s 1 2 3` as Redis dumps it.
        let is = b"\x02\x00\x00\x00\x03\x00\x00\x00\x01\x00\x02\x00\x03\x00";
        assert_eq!(intset_members(is), Ok(vec![1, 2, 3]));
        assert_eq!(intset_encode(&[1, 2, 3]), is.to_vec());
        assert!(intset_members(&is[..13]).is_err());
        let unsorted = b"\x02\x00\x00\x00\x02\x00\x00\x00\x02\x00\x01\x00";
        assert!(intset_members(unsorted).is_err());
        let big = intset_encode(&[-5, 70000, i64::MAX]);
        assert_eq!(intset_members(&big), Ok(vec![-5, 70000, i64::MAX]));
    }

    #[test]
    fn ziplist_from_redis() {
        // A Redis 6 ziplist of ["a", "bb", 1, -2, 300] (hand-built per ziplist.c).
        let mut zl = vec![0u8; 10];
        let mut prev = 0u8;
        // "a", "bb", immediate 1, int8 -2, int16 300
        let entries: Vec<Vec<u8>> = vec![
            vec![0x01, b'a'],
            vec![0x02, b'b', b'b'],
            vec![0xf2],
            vec![0xfe, 0xfe],
            vec![0xc0, 0x2c, 0x01],
        ];
        let mut tail = 10;
        for e in &entries {
            tail = zl.len();
            zl.push(prev);
            zl.extend_from_slice(e);
            prev = (e.len() + 1) as u8;
        }
        zl.push(0xff);
        let n = zl.len() as u32;
        zl[0..4].copy_from_slice(&n.to_le_bytes());
        zl[4..8].copy_from_slice(&(tail as u32).to_le_bytes());
        zl[8..10].copy_from_slice(&5u16.to_le_bytes());
        let v = ziplist_to_vecs(&zl).unwrap();
        assert_eq!(
            v,
            vec![
                b"a".to_vec(),
                b"bb".to_vec(),
                b"1".to_vec(),
                b"-2".to_vec(),
                b"300".to_vec()
            ]
        );
        for cut in 0..zl.len() {
            assert!(ziplist_to_vecs(&zl[..cut]).is_err());
        }
        for i in 0..zl.len() {
            let mut c = zl.clone();
            c[i] ^= 0x40;
            let _ = ziplist_to_vecs(&c);
        }
    }

    #[test]
    fn zipmap_pairs_read() {
        // "foo" => "bar", "hello" => "world" with one free byte after "bar".
        let zm = b"\x02\x03foo\x03\x01barX\x05hello\x05\x00world\xff";
        let p = zipmap_pairs(zm).unwrap();
        assert_eq!(p[0], (b"foo".to_vec(), b"bar".to_vec()));
        assert_eq!(p[1], (b"hello".to_vec(), b"world".to_vec()));
        for cut in 0..zm.len() {
            assert!(zipmap_pairs(&zm[..cut]).is_err());
        }
    }
}
