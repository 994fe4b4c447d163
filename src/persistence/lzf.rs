//! LZF compression as liblzf 3.6 (the build Debian's Redis links) produces it, so that
//! compressed strings in DUMP payloads and RDB files are byte-identical to Redis's,
//! and a decompressor that rejects malformed input without panicking.
//!
//! Format: a sequence of runs. `000LLLLL` is a literal run of L+1 bytes; `LLLooooo
//! oooooooo` a back reference of L+2 bytes at distance o+1; `111ooooo LLLLLLLL
//! oooooooo` a back reference of L+9 bytes.

const HLOG: u32 = 16;
const HSIZE: usize = 1 << HLOG;
const MAX_LIT: usize = 1 << 5;
const MAX_OFF: usize = 1 << 13;
const MAX_REF: usize = (1 << 8) + (1 << 3);

#[inline]
fn idx(h: u32) -> usize {
    // liblzf's VERY_FAST hash.
    ((h >> (3 * 8 - HLOG)).wrapping_sub(h.wrapping_mul(5)) as usize) & (HSIZE - 1)
}

/// liblzf's hash table, kept per thread and reused: a slot holds the call's
/// generation in its high half and a position + 1 in its low half, so a slot written
/// by an earlier call reads as empty without clearing 64 K slots per call (which cost
/// more than compressing a short string).
struct Table {
    slots: Vec<u64>,
    gen: u32,
}

impl Table {
    fn new() -> Table {
        Table {
            slots: vec![0; HSIZE],
            gen: 0,
        }
    }

    /// Starts a call: every slot reads as empty.
    fn reset(&mut self) {
        self.gen = self.gen.wrapping_add(1);
        if self.gen == 0 {
            self.slots.iter_mut().for_each(|s| *s = 0);
            self.gen = 1;
        }
    }

    #[inline]
    fn get(&self, i: usize) -> usize {
        let v = self.slots[i];
        if (v >> 32) as u32 == self.gen {
            v as u32 as usize
        } else {
            0
        }
    }

    #[inline]
    fn set(&mut self, i: usize, pos_plus_one: u32) {
        self.slots[i] = ((self.gen as u64) << 32) | pos_plus_one as u64;
    }
}

thread_local! {
    static TABLE: std::cell::RefCell<Table> = std::cell::RefCell::new(Table::new());
}

/// Compresses `input` into at most `out_len` bytes, as `lzf_compress(in, len, out,
/// out_len)`. `None` when the result would not fit (or the input is empty).
pub fn compress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    if input.is_empty() || out_len == 0 {
        return None;
    }
    TABLE.with(|t| match t.try_borrow_mut() {
        Ok(mut t) => {
            t.reset();
            compress_with(&mut t, input, out_len)
        }
        Err(_) => {
            let mut t = Table::new();
            t.reset();
            compress_with(&mut t, input, out_len)
        }
    })
}

fn compress_with(htab: &mut Table, input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    let in_len = input.len();
    // Positions + 1 (0 = empty slot): liblzf's table holds pointers, and a slot that
    // was never written can never satisfy its `ref > in_data` test.
    let mut out = vec![0u8; out_len];
    let mut ip = 0usize;
    let mut op = 1usize; // start run
    let mut lit = 0usize;
    let at = |p: usize| input[p] as u32;
    let mut hval: u32 = if in_len >= 2 { (at(0) << 8) | at(1) } else { 0 };
    while in_len >= 3 && ip < in_len - 2 {
        hval = (hval << 8) | at(ip + 2);
        let slot = idx(hval);
        let r = htab.get(slot);
        htab.set(slot, ip as u32 + 1);
        let matched = r > 1 && {
            let rf = r - 1;
            let off = ip - rf - 1;
            // (liblzf 3.6, which Debian's Redis links, has no `ip + 4 < in_end` test
            // here, unlike the copy bundled in Redis's source tree.)
            off < MAX_OFF
                && input[rf] == input[ip]
                && input[rf + 1] == input[ip + 1]
                && input[rf + 2] == input[ip + 2]
        };
        if matched {
            let rf = r - 1;
            let off = ip - rf - 1;
            let mut len = 2usize;
            let maxlen = (in_len - ip - len).min(MAX_REF);
            // stop the literal run (undo it when empty)
            let lit_pos = op - lit - 1;
            out[lit_pos] = (lit as u8).wrapping_sub(1);
            if lit == 0 {
                op -= 1;
            }
            if op + 3 + 1 >= out_len {
                return None;
            }
            // liblzf's loop, including its unrolled first 16 steps (which can extend
            // a match up to two bytes past `maxlen` near the end of the input).
            let mut done = false;
            if maxlen > 16 {
                for _ in 0..16 {
                    len += 1;
                    if input[rf + len] != input[ip + len] {
                        done = true;
                        break;
                    }
                }
            }
            if !done {
                loop {
                    len += 1;
                    if !(len < maxlen && input[rf + len] == input[ip + len]) {
                        break;
                    }
                }
            }
            len -= 2; // number of octets - 1
            ip += 1;
            if len < 7 {
                out[op] = ((off >> 8) + (len << 5)) as u8;
                op += 1;
            } else {
                out[op] = ((off >> 8) + (7 << 5)) as u8;
                out[op + 1] = (len - 7) as u8;
                op += 2;
            }
            out[op] = off as u8;
            op += 1;
            lit = 0;
            op += 1; // start run
            ip += len + 1;
            if ip >= in_len - 2 {
                break;
            }
            ip -= 2;
            hval = (at(ip) << 8) | at(ip + 1);
            hval = (hval << 8) | at(ip + 2);
            htab.set(idx(hval), ip as u32 + 1);
            ip += 1;
            hval = (hval << 8) | at(ip + 2);
            htab.set(idx(hval), ip as u32 + 1);
            ip += 1;
        } else {
            if op >= out_len {
                return None;
            }
            lit += 1;
            out[op] = input[ip];
            op += 1;
            ip += 1;
            if lit == MAX_LIT {
                out[op - lit - 1] = (lit - 1) as u8;
                lit = 0;
                op += 1;
            }
        }
    }
    if op + 3 > out_len {
        return None;
    }
    while ip < in_len {
        lit += 1;
        if op >= out.len() {
            return None;
        }
        out[op] = input[ip];
        op += 1;
        ip += 1;
        if lit == MAX_LIT {
            out[op - lit - 1] = (lit - 1) as u8;
            lit = 0;
            op += 1;
        }
    }
    let lit_pos = op - lit - 1;
    out[lit_pos] = (lit as u8).wrapping_sub(1);
    if lit == 0 {
        op -= 1;
    }
    out.truncate(op);
    Some(out)
}

/// Why decompression failed.
#[derive(Debug, PartialEq, Eq)]
pub enum Error {
    /// The input ends in the middle of a run.
    Truncated,
    /// A back reference points before the start of the output.
    BadReference,
    /// The output is not exactly the announced length.
    WrongLength,
}

/// Decompresses `input`, which must expand to exactly `out_len` bytes.
pub fn decompress(input: &[u8], out_len: usize) -> Result<Vec<u8>, Error> {
    // The caller's announced length is untrusted: it can't exceed what the input can
    // expand to (each input byte yields at most 264 bytes).
    if out_len > input.len().saturating_mul(MAX_REF + 2) {
        return Err(Error::WrongLength);
    }
    // Grown as output is produced: an announced length is not trusted for allocation.
    let mut out: Vec<u8> = Vec::with_capacity(out_len.min(1 << 26));
    let mut ip = 0usize;
    while ip < input.len() {
        let ctrl = input[ip] as usize;
        ip += 1;
        if ctrl < (1 << 5) {
            let n = ctrl + 1;
            let lit = input.get(ip..ip + n).ok_or(Error::Truncated)?;
            if out.len() + n > out_len {
                return Err(Error::WrongLength);
            }
            out.extend_from_slice(lit);
            ip += n;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *input.get(ip).ok_or(Error::Truncated)? as usize;
                ip += 1;
            }
            let lo = *input.get(ip).ok_or(Error::Truncated)? as usize;
            ip += 1;
            let back = ((ctrl & 0x1f) << 8) + lo + 1;
            len += 2;
            if back > out.len() {
                return Err(Error::BadReference);
            }
            if out.len() + len > out_len {
                return Err(Error::WrongLength);
            }
            let start = out.len() - back;
            for i in 0..len {
                let b = out[start + i];
                out.push(b);
            }
        }
    }
    if out.len() != out_len {
        return Err(Error::WrongLength);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(data: &[u8]) {
        if let Some(c) = compress(data, data.len() + 64) {
            assert_eq!(decompress(&c, data.len()).as_deref(), Ok(data));
        }
    }

    #[test]
    fn round_trips() {
        round_trip(b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        round_trip(b"abcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabc");
        let mut v = Vec::new();
        for i in 0..20000u32 {
            v.extend_from_slice(format!("item:{}:{} ", i % 97, i % 13).as_bytes());
        }
        round_trip(&v);
        let noise: Vec<u8> = (0..5000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        round_trip(&noise);
        for n in 1..70 {
            round_trip(&vec![b'x'; n]);
        }
    }

    #[test]
    fn compresses_repetitive_data() {
        let data = vec![b'a'; 1000];
        let c = compress(&data, data.len() - 4).expect("compressible");
        assert!(c.len() < 50);
        // Incompressible data does not fit in len - 4 bytes.
        let noise: Vec<u8> = (0..64u32).map(|i| (i * 37 + 11) as u8).collect();
        assert!(compress(&noise, noise.len() - 4).is_none());
    }

    #[test]
    fn corrupt_input_is_rejected() {
        let data = vec![b'z'; 300];
        let c = compress(&data, 300).expect("compressible");
        for cut in 0..c.len() {
            assert!(decompress(&c[..cut], 300).is_err());
        }
        assert!(decompress(&c, 299).is_err());
        assert!(decompress(&c, 301).is_err());
        // a reference before the start of the output
        assert_eq!(decompress(&[0x20, 0x05], 3), Err(Error::BadReference));
        // literal running past the input
        assert_eq!(decompress(&[0x05, b'a'], 6), Err(Error::Truncated));
        assert!(decompress(&[0xe0], 10).is_err());
        assert!(decompress(&[], 1_000_000_000).is_err());
        // Arbitrary bytes never panic.
        let mut seed = 12345u32;
        for _ in 0..2000 {
            let len = (seed % 40) as usize;
            let buf: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1103515245).wrapping_add(12345);
                    (seed >> 16) as u8
                })
                .collect();
            let _ = decompress(&buf, (seed % 500) as usize);
        }
    }
}
