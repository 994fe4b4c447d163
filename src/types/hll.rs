//! HyperLogLog sketches in Redis's exact byte representation (its `hyperloglog.c`).
//!
//! An HLL is not a value type of its own: it is a string (`Value::Str`) whose bytes
//! follow Redis's layout, so a value read with GET from redis-server can be SET into
//! Ferrodis and the other way round. This module works on those bytes; the commands
//! (PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST) are in `commands/hll.rs`.
//!
//! ## Layout
//!
//! A 16-byte header: the magic `HYLL`, one encoding byte (0 dense, 1 sparse), three
//! unused bytes, and the last computed cardinality as a little-endian u64 whose top
//! bit (bit 7 of byte 15) marks the cached value as stale. The registers follow:
//!
//! * **dense**: 16384 registers of 6 bits packed from the least significant bit of
//!   each byte upwards (register 0 is the low 6 bits of byte 0, register 1 the top 2
//!   bits of byte 0 and the low 4 of byte 1, ...), 12288 bytes in all.
//! * **sparse**: a run-length encoding with three opcodes: `00xxxxxx` = 1..64 zero
//!   registers, `01xxxxxx yyyyyyyy` = 1..16384 zero registers (14-bit length), and
//!   `1vvvvvxx` = 1..4 registers holding the value 1..32. A new HLL is sparse; it is
//!   promoted to dense when a register needs a value above 32 or when the sparse form
//!   would grow beyond `hll-sparse-max-bytes`.
//!
//! ## Hash and estimator
//!
//! Elements are hashed with MurmurHash64A (seed `0xadc83b19`); the low 14 bits pick the
//! register and the register candidate is 1 + the number of trailing zero bits of the
//! remaining 50 bits (at most 51). The cardinality is Otmar Ertl's improved raw
//! estimator ("New cardinality estimation algorithms for HyperLogLog sketches",
//! arXiv:1702.01284) computed from the histogram of register values, with the same
//! floating-point operations in the same order as Redis, so the counts are equal.
//!
//! Corrupted sparse data is reported as [`Corrupt`]; the behaviour on malformed input
//! (including reading a missing second byte of a trailing two-byte opcode as zero, as
//! Redis does with the string's terminator) follows Redis so results agree, but every
//! access is bounds-checked. One case cannot agree: once such a truncated trailing
//! XZERO has been split by an update, Redis reads its missing byte from memory past
//! the string's length (a leftover of the split), while Ferrodis keeps reading zero.

/// log2 of the number of registers.
pub const P: u32 = 14;
/// Hash bits left after the register index.
pub const Q: u32 = 64 - P;
/// Number of registers.
pub const REGISTERS: usize = 1 << P;
/// Header size in bytes.
pub const HDR_SIZE: usize = 16;
/// Size of a dense HLL: header plus 16384 6-bit registers.
pub const DENSE_SIZE: usize = HDR_SIZE + (REGISTERS * 6).div_ceil(8);
/// Encoding byte of a dense HLL.
pub const DENSE: u8 = 0;
/// Encoding byte of a sparse HLL.
pub const SPARSE: u8 = 1;

const MAGIC: &[u8; 4] = b"HYLL";
const ENCODING_POS: usize = 4;
const CARD_POS: usize = 8;
const REGISTER_MAX: u32 = 63;
const HASH_SEED: u64 = 0xadc83b19;

const SPARSE_VAL_MAX_VALUE: u8 = 32;
const SPARSE_VAL_MAX_LEN: u64 = 4;
const SPARSE_ZERO_MAX_LEN: u64 = 64;
const SPARSE_XZERO_MAX_LEN: u64 = 16384;

/// 0.5 / ln(2), the estimator's constant for an infinite number of registers.
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

/// The HLL's sparse data does not describe exactly 16384 registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt;

/// MurmurHash2, 64-bit version (MurmurHash64A), reading 8-byte words little-endian.
pub fn murmur64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(M);
    let mut words = key.chunks_exact(8);
    for w in &mut words {
        let mut k = w
            .iter()
            .rev()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= u64::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element maps to and the value it proposes for it: 1 + the number
/// of trailing zeros of the hash bits above the index (Redis's `hllPatLen`).
pub fn pattern(ele: &[u8]) -> (usize, u8) {
    let hash = murmur64a(ele, HASH_SEED);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    // A sentinel bit above the 50 remaining bits bounds the count at Q + 1.
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

// ---------------------------------------------------------------------------------
// Header

/// A new, empty HLL: sparse, one XZERO opcode covering all registers, cache 0.
pub fn new_sparse() -> Vec<u8> {
    let mut v = Vec::with_capacity(HDR_SIZE + 2);
    v.extend_from_slice(MAGIC);
    v.push(SPARSE);
    v.extend_from_slice(&[0; 11]);
    let mut left = REGISTERS as u64;
    while left > 0 {
        let n = left.min(SPARSE_XZERO_MAX_LEN);
        v.extend_from_slice(&xzero_op(n));
        left -= n;
    }
    v
}

/// Whether `b` passes Redis's HLL checks (`isHLLObjectOrReply`): long enough for the
/// header, the magic, a known encoding, and the exact size if dense. Sparse data is
/// validated lazily by the operations that read it.
pub fn is_valid(b: &[u8]) -> bool {
    if b.len() < HDR_SIZE || !b.starts_with(MAGIC) {
        return false;
    }
    match b[ENCODING_POS] {
        DENSE => b.len() == DENSE_SIZE,
        SPARSE => true,
        _ => false,
    }
}

/// The encoding byte (call only on a value that passed [`is_valid`]).
pub fn encoding(b: &[u8]) -> u8 {
    b.get(ENCODING_POS).copied().unwrap_or(0)
}

/// The cached cardinality, if it is not marked stale.
pub fn cached_count(b: &[u8]) -> Option<u64> {
    let card: [u8; 8] = b.get(CARD_POS..HDR_SIZE)?.try_into().ok()?;
    if card[7] & 0x80 != 0 {
        return None;
    }
    Some(u64::from_le_bytes(card))
}

/// Stores a freshly computed cardinality in the cache.
pub fn set_cached_count(b: &mut [u8], card: u64) {
    if let Some(c) = b.get_mut(CARD_POS..HDR_SIZE) {
        c.copy_from_slice(&card.to_le_bytes());
    }
}

/// Marks the cached cardinality stale (the registers changed).
pub fn invalidate_cache(b: &mut [u8]) {
    if let Some(c) = b.get_mut(HDR_SIZE - 1) {
        *c |= 0x80;
    }
}

// ---------------------------------------------------------------------------------
// Dense registers (`regs` is the data after the header)

/// Reads register `i`. The byte after the last register's byte reads as zero (Redis
/// relies on the string terminator there).
pub fn dense_get(regs: &[u8], i: usize) -> u8 {
    let byte = i * 6 / 8;
    let fb = (i * 6) & 7;
    let b0 = u32::from(regs.get(byte).copied().unwrap_or(0));
    let b1 = u32::from(regs.get(byte + 1).copied().unwrap_or(0));
    (((b0 >> fb) | (b1 << (8 - fb))) & REGISTER_MAX) as u8
}

/// Writes register `i` (value at most 63).
pub fn dense_put(regs: &mut [u8], i: usize, val: u8) {
    let byte = i * 6 / 8;
    let fb = (i * 6) & 7;
    let v = u32::from(val);
    if let Some(b) = regs.get_mut(byte) {
        *b &= !(REGISTER_MAX << fb) as u8;
        *b |= (v << fb) as u8;
    }
    if let Some(b) = regs.get_mut(byte + 1) {
        *b &= !(REGISTER_MAX >> (8 - fb)) as u8;
        *b |= (v >> (8 - fb)) as u8;
    }
}

/// Raises register `i` to `count` if it is lower; true if it changed (`hllDenseSet`).
fn dense_raise(regs: &mut [u8], i: usize, count: u8) -> bool {
    if count > dense_get(regs, i) {
        dense_put(regs, i, count);
        true
    } else {
        false
    }
}

/// Calls `f` with every register value of dense data, in order (4 registers per
/// 3 bytes).
fn dense_each(regs: &[u8], mut f: impl FnMut(usize, u8)) {
    for (n, c) in regs.chunks_exact(3).take(REGISTERS / 4).enumerate() {
        let (a, b, d) = (c[0], c[1], c[2]);
        let i = n * 4;
        f(i, a & 63);
        f(i + 1, ((a >> 6) | (b << 2)) & 63);
        f(i + 2, ((b >> 4) | (d << 4)) & 63);
        f(i + 3, d >> 2);
    }
}

// ---------------------------------------------------------------------------------
// Sparse opcodes

fn is_zero_op(b: u8) -> bool {
    b & 0xc0 == 0
}
fn is_xzero_op(b: u8) -> bool {
    b & 0xc0 == 0x40
}
fn is_val_op(b: u8) -> bool {
    b & 0x80 != 0
}
fn val_value(b: u8) -> u8 {
    ((b >> 2) & 0x1f) + 1
}
fn val_len(b: u8) -> u64 {
    u64::from(b & 0x3) + 1
}
fn val_op(value: u8, len: u64) -> u8 {
    0x80 | ((value - 1) << 2) | (len - 1) as u8
}
fn zero_op(len: u64) -> u8 {
    (len - 1) as u8
}
fn xzero_op(len: u64) -> [u8; 2] {
    let l = len - 1;
    [0x40 | (l >> 8) as u8, (l & 0xff) as u8]
}

/// One decoded sparse opcode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    /// `len` zero registers; `xzero` tells the two-byte form.
    Zero { len: u64, xzero: bool },
    /// `len` registers holding `value`.
    Val { value: u8, len: u64 },
}

impl Op {
    fn span(self) -> u64 {
        match self {
            Op::Zero { len, .. } | Op::Val { len, .. } => len,
        }
    }
    /// Bytes the opcode occupies.
    fn size(self) -> usize {
        match self {
            Op::Zero { xzero: true, .. } => 2,
            _ => 1,
        }
    }
}

/// Decodes the opcode at `p` of sparse data `s` (`p < s.len()`); the second byte of an
/// XZERO at the very end reads as zero.
fn op_at(s: &[u8], p: usize) -> Op {
    let b = s.get(p).copied().unwrap_or(0);
    if is_zero_op(b) {
        Op::Zero {
            len: u64::from(b & 0x3f) + 1,
            xzero: false,
        }
    } else if is_xzero_op(b) {
        let lo = u64::from(s.get(p + 1).copied().unwrap_or(0));
        Op::Zero {
            len: ((u64::from(b & 0x3f) << 8) | lo) + 1,
            xzero: true,
        }
    } else {
        Op::Val {
            value: val_value(b),
            len: val_len(b),
        }
    }
}

/// Iterates the opcodes of sparse data (the bytes after the header).
fn ops(s: &[u8]) -> impl Iterator<Item = Op> + '_ {
    let mut p = 0;
    std::iter::from_fn(move || {
        if p >= s.len() {
            return None;
        }
        let op = op_at(s, p);
        p += op.size();
        Some(op)
    })
}

/// Walks sparse data, calling `f(index, value)` for the registers of every VAL run.
/// The data is valid only if the runs cover exactly 16384 registers; a run that would
/// pass the last register stops the walk as corrupted (Redis's checks since its fix
/// for out-of-bounds writes on crafted sparse data).
fn sparse_walk(s: &[u8], mut f: impl FnMut(usize, u8)) -> Result<(), Corrupt> {
    let mut idx: u64 = 0;
    for op in ops(s) {
        if idx + op.span() > REGISTERS as u64 {
            return Err(Corrupt);
        }
        if let Op::Val { value, len } = op {
            for i in idx..idx + len {
                f(i as usize, value);
            }
        }
        idx += op.span();
    }
    if idx == REGISTERS as u64 {
        Ok(())
    } else {
        Err(Corrupt)
    }
}

// ---------------------------------------------------------------------------------
// Whole-HLL operations (on a value that passed `is_valid`)

/// Converts a sparse HLL to dense in place (no-op when already dense). The header,
/// including the cached cardinality and the unused bytes, is kept. On corrupted data
/// the value is left unchanged.
pub fn to_dense(v: &mut Vec<u8>) -> Result<(), Corrupt> {
    if encoding(v) == DENSE {
        return Ok(());
    }
    let mut dense = vec![0u8; DENSE_SIZE];
    let (hdr, regs) = dense.split_at_mut(HDR_SIZE);
    if let Some(h) = v.get(..HDR_SIZE) {
        hdr.copy_from_slice(h);
    }
    hdr[ENCODING_POS] = DENSE;
    sparse_walk(v.get(HDR_SIZE..).unwrap_or(&[]), |i, val| {
        dense_put(regs, i, val)
    })?;
    *v = dense;
    Ok(())
}

/// Raises register `index` of a sparse HLL to `count` (Redis's `hllSparseSet`),
/// editing the opcodes in place and merging equal adjacent VAL runs. Promotes to dense
/// when `count` exceeds 32 or the data would grow past `max_bytes` (the whole string,
/// header included). Returns whether the register changed; a changed sparse HLL has
/// its cache invalidated (a promoted one is left to the caller, as in Redis).
pub fn sparse_set(
    v: &mut Vec<u8>,
    index: usize,
    count: u8,
    max_bytes: usize,
) -> Result<bool, Corrupt> {
    if count > SPARSE_VAL_MAX_VALUE {
        return promote(v, index, count);
    }
    let idx = index as u64;

    // Step 1: find the opcode covering the register.
    let end = v.len();
    let mut p = HDR_SIZE;
    let mut first: u64 = 0;
    let mut prev: Option<usize> = None;
    let mut found = None;
    while p < end {
        let op = op_at(v, p);
        if idx < first + op.span() {
            found = Some(op);
            break;
        }
        prev = Some(p);
        p += op.size();
        first += op.span();
    }
    let Some(op) = found else {
        return Err(Corrupt);
    };
    let last = first + op.span() - 1;

    // Step 2: the trivial in-place updates, or build the replacement sequence.
    let mut seq: smallvec::SmallVec<[u8; 5]> = smallvec::SmallVec::new();
    match op {
        Op::Val { value, len } => {
            if value >= count {
                return Ok(false);
            }
            if len == 1 {
                v[p] = val_op(count, 1);
                return Ok(merge_vals(v, prev));
            }
            if idx != first {
                seq.push(val_op(value, idx - first));
            }
            seq.push(val_op(count, 1));
            if idx != last {
                seq.push(val_op(value, last - idx));
            }
        }
        Op::Zero {
            len: 1,
            xzero: false,
        } => {
            v[p] = val_op(count, 1);
            return Ok(merge_vals(v, prev));
        }
        Op::Zero { .. } => {
            let zeros = |seq: &mut smallvec::SmallVec<[u8; 5]>, n: u64| {
                if n > SPARSE_ZERO_MAX_LEN {
                    seq.extend_from_slice(&xzero_op(n));
                } else {
                    seq.push(zero_op(n));
                }
            };
            if idx != first {
                zeros(&mut seq, idx - first);
            }
            seq.push(val_op(count, 1));
            if idx != last {
                zeros(&mut seq, last - idx);
            }
        }
    }

    // Step 3: substitute the sequence for the old opcode, unless the HLL would grow
    // past the sparse limit.
    let old_len = op.size();
    let new_total = end + seq.len() - old_len;
    if seq.len() > old_len && new_total > max_bytes {
        return promote(v, index, count);
    }
    let tail = (p + old_len).min(end);
    v.splice(p..tail, seq.iter().copied());
    // An XZERO cut short by the end of the data: Redis keeps the length arithmetic.
    v.truncate(new_total);

    Ok(merge_vals(v, prev))
}

/// Step 4 of `hllSparseSet`: starting at the opcode before the updated one, looks at
/// up to 5 opcodes and merges adjacent VAL opcodes of equal value whose lengths fit
/// one opcode. Invalidates the cache; returns true (the register was updated).
fn merge_vals(v: &mut Vec<u8>, prev: Option<usize>) -> bool {
    let mut p = prev.unwrap_or(HDR_SIZE);
    let mut scan = 5;
    while p < v.len() && scan > 0 {
        scan -= 1;
        let b = v[p];
        if is_xzero_op(b) {
            p += 2;
            continue;
        }
        if is_zero_op(b) {
            p += 1;
            continue;
        }
        if let Some(&nb) = v.get(p + 1) {
            if is_val_op(nb) && val_value(b) == val_value(nb) {
                let len = val_len(b) + val_len(nb);
                if len <= SPARSE_VAL_MAX_LEN {
                    v[p + 1] = val_op(val_value(b), len);
                    v.remove(p);
                    // Try again from the same place: the merged opcode may merge with
                    // the next one.
                    continue;
                }
            }
        }
        p += 1;
    }
    invalidate_cache(v);
    true
}

/// Converts to dense and raises the register there.
fn promote(v: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    to_dense(v)?;
    let regs = v.get_mut(HDR_SIZE..).unwrap_or(&mut []);
    Ok(dense_raise(regs, index, count))
}

/// Raises register `index` to `count` whatever the encoding; true if it changed.
pub fn set_register(
    v: &mut Vec<u8>,
    index: usize,
    count: u8,
    max_bytes: usize,
) -> Result<bool, Corrupt> {
    match encoding(v) {
        DENSE => Ok(dense_raise(
            v.get_mut(HDR_SIZE..).unwrap_or(&mut []),
            index,
            count,
        )),
        SPARSE => sparse_set(v, index, count, max_bytes),
        _ => Err(Corrupt),
    }
}

/// Adds an element (`hllAdd`); true if a register changed.
pub fn add(v: &mut Vec<u8>, ele: &[u8], max_bytes: usize) -> Result<bool, Corrupt> {
    let (index, count) = pattern(ele);
    set_register(v, index, count, max_bytes)
}

/// Histogram of register values (index = value, 0..=63).
pub type Histogram = [u32; 64];

/// The register histogram of an HLL (sparse data is validated first, so the counts
/// stay within 16384).
pub fn histogram(v: &[u8]) -> Result<Histogram, Corrupt> {
    let mut h = [0u32; 64];
    let data = v.get(HDR_SIZE..).unwrap_or(&[]);
    if encoding(v) == DENSE {
        dense_each(data, |_, r| h[usize::from(r)] += 1);
        return Ok(h);
    }
    sparse_walk(data, |_, _| {})?;
    for op in ops(data) {
        match op {
            Op::Zero { len, .. } => h[0] += len as u32,
            Op::Val { value, len } => h[usize::from(value)] += len as u32,
        }
    }
    Ok(h)
}

/// Histogram of one-byte-per-register values (a PFCOUNT merge of several keys).
pub fn histogram_raw(regs: &[u8; REGISTERS]) -> Histogram {
    let mut h = [0u32; 64];
    for &r in regs.iter() {
        h[usize::from(r & 63)] += 1;
    }
    h
}

/// Takes the register-wise maximum of `max` and the HLL `v` (`hllMerge`).
pub fn merge_into(max: &mut [u8; REGISTERS], v: &[u8]) -> Result<(), Corrupt> {
    let data = v.get(HDR_SIZE..).unwrap_or(&[]);
    let mut raise = |i: usize, r: u8| {
        if let Some(m) = max.get_mut(i) {
            if r > *m {
                *m = r;
            }
        }
    };
    if encoding(v) == DENSE {
        dense_each(data, raise);
        Ok(())
    } else {
        sparse_walk(data, &mut raise)
    }
}

/// Redis's `hllSigma`.
fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let prev = z;
        z += x * y;
        y += y;
        if prev == z {
            return z;
        }
    }
}

/// Redis's `hllTau`.
fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let prev = z;
        y *= 0.5;
        let d = 1.0 - x;
        z -= d * d * y;
        if prev == z {
            return z / 3.0;
        }
    }
}

/// The estimated cardinality from a register histogram (`hllCount`).
pub fn estimate(h: &Histogram) -> u64 {
    let m = REGISTERS as f64;
    let q = Q as usize;
    let mut z = m * tau((m - f64::from(h[q + 1])) / m);
    for j in (1..=q).rev() {
        z += f64::from(h[j]);
        z *= 0.5;
    }
    z += m * sigma(f64::from(h[0]) / m);
    (ALPHA_INF * m * m / z).round() as u64
}

/// The estimated cardinality of an HLL value (ignores the cache).
pub fn count(v: &[u8]) -> Result<u64, Corrupt> {
    histogram(v).map(|h| estimate(&h))
}

/// The opcodes of sparse data in PFDEBUG DECODE's notation (`z:N` ZERO, `Z:N` XZERO,
/// `v:value,len` VAL), space separated.
pub fn decode_sparse(v: &[u8]) -> String {
    let mut out = Vec::new();
    for op in ops(v.get(HDR_SIZE..).unwrap_or(&[])) {
        out.push(match op {
            Op::Zero { len, xzero: false } => format!("z:{len}"),
            Op::Zero { len, xzero: true } => format!("Z:{len}"),
            Op::Val { value, len } => format!("v:{value},{len}"),
        });
    }
    out.join(" ")
}

/// All register values (PFDEBUG GETREG) of a dense HLL.
pub fn dense_registers(v: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; REGISTERS];
    dense_each(v.get(HDR_SIZE..).unwrap_or(&[]), |i, r| out[i] = r);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur_basics() {
        // With seed 0 and no input every step keeps h at 0.
        assert_eq!(murmur64a(b"", 0), 0);
        // The word loop and the tail both feed the hash.
        assert_ne!(
            murmur64a(b"abcdefgh", HASH_SEED),
            murmur64a(b"abcdefg", HASH_SEED)
        );
        assert_ne!(
            murmur64a(b"abcdefghi", HASH_SEED),
            murmur64a(b"abcdefghj", HASH_SEED)
        );
        // Agreement with Redis itself is checked by the differential tests (GET of
        // the HLL after PFADD is compared byte for byte).
    }

    #[test]
    fn empty_hll_layout() {
        let v = new_sparse();
        assert_eq!(&v[..5], b"HYLL\x01");
        assert_eq!(&v[16..], &[0x7f, 0xff]);
        assert!(is_valid(&v));
        assert_eq!(count(&v), Ok(0));
        assert_eq!(decode_sparse(&v), "Z:16384");
    }

    #[test]
    fn dense_registers_roundtrip() {
        let mut regs = vec![0u8; DENSE_SIZE - HDR_SIZE];
        for i in 0..REGISTERS {
            dense_put(&mut regs, i, (i * 7 % 64) as u8);
        }
        for i in 0..REGISTERS {
            assert_eq!(dense_get(&regs, i), (i * 7 % 64) as u8);
        }
        let mut seen = 0;
        dense_each(&regs, |i, r| {
            assert_eq!(r, (i * 7 % 64) as u8);
            seen += 1;
        });
        assert_eq!(seen, REGISTERS);
    }

    #[test]
    fn sparse_and_dense_agree() {
        let mut sparse = new_sparse();
        let mut dense = new_sparse();
        to_dense(&mut dense).unwrap();
        for n in 0..5000u32 {
            let e = n.to_string();
            let a = add(&mut sparse, e.as_bytes(), 3000).unwrap();
            let b = add(&mut dense, e.as_bytes(), 3000).unwrap();
            assert_eq!(a, b, "element {n}");
            if n % 97 == 0 {
                assert_eq!(count(&sparse), count(&dense));
            }
        }
        assert_eq!(encoding(&sparse), DENSE);
        assert_eq!(sparse[HDR_SIZE..], dense[HDR_SIZE..]);
        let c = count(&dense).unwrap() as f64;
        assert!((c - 5000.0).abs() < 5000.0 * 0.05, "estimate {c}");
    }

    #[test]
    fn sparse_to_dense_keeps_registers() {
        let mut v = new_sparse();
        for n in 0..300u32 {
            add(&mut v, format!("e{n}").as_bytes(), 3000).unwrap();
        }
        assert_eq!(encoding(&v), SPARSE);
        let before = count(&v);
        let mut d = v.clone();
        to_dense(&mut d).unwrap();
        assert_eq!(d.len(), DENSE_SIZE);
        assert_eq!(count(&d), before);
        let mut max = [0u8; REGISTERS];
        merge_into(&mut max, &v).unwrap();
        assert_eq!(max.to_vec(), dense_registers(&d));
    }

    #[test]
    fn dense_buffer_is_exactly_sized() {
        // Promotion by a large register value, by growth past the sparse limit, and
        // an explicit conversion all leave a 12304-byte allocation (Redis's dense sds
        // needs the same jemalloc class, 14336 bytes).
        let mut by_value = new_sparse();
        assert_eq!(set_register(&mut by_value, 5, 40, 3000), Ok(true));
        let mut by_size = new_sparse();
        for n in 0..5000u32 {
            add(&mut by_size, format!("e{n}").as_bytes(), 3000).ok();
        }
        let mut converted = new_sparse();
        add(&mut converted, b"x", 3000).ok();
        to_dense(&mut converted).ok();
        for v in [by_value, by_size, converted] {
            assert_eq!(encoding(&v), DENSE);
            assert_eq!(v.len(), DENSE_SIZE);
            assert_eq!(v.capacity(), DENSE_SIZE);
        }
    }

    #[test]
    fn corrupted_sparse_is_detected() {
        let mut v = new_sparse();
        v.extend_from_slice(b"hello");
        assert_eq!(count(&v), Err(Corrupt));
        let mut w = v.clone();
        assert_eq!(to_dense(&mut w), Err(Corrupt));
        assert_eq!(w, v);
        // Truncated: the XZERO's second byte reads as 0 (16129 registers).
        let mut t = new_sparse();
        t.pop();
        assert_eq!(count(&t), Err(Corrupt));
        let mut max = [0u8; REGISTERS];
        assert_eq!(merge_into(&mut max, &t), Err(Corrupt));
        // Register beyond the data.
        assert!(sparse_set(&mut t, 16383, 3, 3000).is_err());
        // Nothing panics on arbitrary bytes.
        for seed in 0..200u64 {
            let mut b = new_sparse();
            let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            for _ in 0..(seed % 40) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                b.push(x as u8);
            }
            let _ = count(&b);
            let _ = add(&mut b.clone(), b"x", 3000);
            let _ = decode_sparse(&b);
        }
    }

    #[test]
    fn estimator_edges() {
        let mut h = [0u32; 64];
        h[0] = REGISTERS as u32;
        assert_eq!(estimate(&h), 0);
        assert_eq!(sigma(1.0), f64::INFINITY);
        assert_eq!(tau(0.0), 0.0);
        assert_eq!(tau(1.0), 0.0);
    }
}
