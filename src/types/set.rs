//! Sets (Redis's `t_set.c`): the value type and its encodings.
//!
//! Ferrodis follows Redis 7.0, whose sets have two encodings visible through OBJECT
//! ENCODING: `intset` (every member is an integer in canonical form and there are at
//! most `set-max-intset-entries` of them) and `hashtable` (everything else). A set
//! never goes back from `hashtable` to `intset` (SPOP keeps the encoding when it
//! rebuilds a set, as Redis 7.0 does), and the first member decides how a new set
//! starts (Redis's `setTypeCreate`).
//!
//! A set is two words, stored inline in `Value`, in one of two representations:
//! * [`Repr::Packed`]: one exactly-sized buffer whose first byte says what it holds.
//!   - An intset ([`IntSet`]): the width (1, 2, 4 or 8 bytes) then the members in
//!     ascending order, little-endian. As in Redis's intset the width is the narrowest
//!     holding every member and only grows; Ferrodis also has one-byte members and a
//!     one-byte header, so ten members below 128 take an 11-byte buffer (jemalloc's
//!     16-byte class) and nothing else: about 104 bytes per key in all (INFO
//!     used_memory growth for 100,000 keys) against Redis 7.0's 106.
//!   - A small `hashtable` set ([`SmallSet`]): `[0][count]`, then up to
//!     [`SMALL_MAX_ENTRIES`] members of at most [`SMALL_MAX_VALUE`] bytes as
//!     `[len][bytes]`, searched linearly, like the listpack Redis 7.2 uses for small
//!     sets. Redis 7.0 reports these as `hashtable`, so Ferrodis does too; the packed
//!     form only saves memory (10 short string members: about 184 bytes per key
//!     against Redis 7.0's 810).
//!
//!   SSCAN replies with the whole packed set and cursor 0 at once (as Redis does for
//!   its compact encodings); Redis 7.0 would page a small `hashtable` set when
//!   COUNT is below its size. Both honour SCAN's guarantees.
//! * [`Repr::Big`]: a chained hash table ([`Dict`]) with SCAN's resize-safe cursor.
//!
//! Conversions are one-way: intset → small → big (or intset → big).

use std::sync::OnceLock;

use crate::keyspace::Dict;
use crate::protocol::parser::parse_i64;

/// Most members a packed (small) hashtable set holds before becoming a real table.
pub const SMALL_MAX_ENTRIES: usize = 128;
/// Longest member a packed set holds (longer members need the real table).
pub const SMALL_MAX_VALUE: usize = 64;
/// Redis caps `set-max-intset-entries` at 2^30 (intset internals).
pub const INTSET_HARD_MAX: usize = 1 << 30;

/// The hash seed shared by every set's table (random per process).
fn hasher() -> &'static ahash::RandomState {
    static H: OnceLock<ahash::RandomState> = OnceLock::new();
    H.get_or_init(ahash::RandomState::new)
}

#[inline]
fn hash(k: &[u8]) -> u64 {
    hasher().hash_one(k)
}

/// The decimal form of an integer member, written on the stack.
#[inline]
fn with_int<R>(n: i64, f: impl FnOnce(&[u8]) -> R) -> R {
    let mut b = itoa::Buffer::new();
    f(b.format(n).as_bytes())
}

// ---------------------------------------------------------------------------------
// packed representations (intset and small hashtable), one exactly-sized buffer

/// First byte of a packed buffer holding strings (a small `hashtable` set).
const KIND_STRS: u8 = 0;

/// The narrowest width (bytes) holding `n`: 1, 2, 4 or 8.
#[inline]
fn int_width(n: i64) -> u8 {
    if i8::try_from(n).is_ok() {
        1
    } else if i16::try_from(n).is_ok() {
        2
    } else if i32::try_from(n).is_ok() {
        4
    } else {
        8
    }
}

/// An intset: `[width][members...]`, the members ascending, each `width` bytes
/// little-endian (two's complement). Like Redis's intset the width is the narrowest
/// that holds every member and only grows; unlike it, one-byte members exist too,
/// and the header is a single byte (the count follows from the buffer's length).
pub struct IntSet<'a>(&'a [u8]);

impl IntSet<'_> {
    #[inline]
    fn width(&self) -> usize {
        self.0.first().map_or(1, |&w| w as usize)
    }

    pub fn len(&self) -> usize {
        self.0.len().saturating_sub(1) / self.width()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The member at position `i` (ascending order).
    pub fn get(&self, i: usize) -> Option<i64> {
        let w = self.width();
        let start = 1 + i.checked_mul(w)?;
        let b = self.0.get(start..start + w)?;
        Some(match *b {
            [a] => a as i8 as i64,
            [a, b] => i16::from_le_bytes([a, b]) as i64,
            [a, b, c, d] => i32::from_le_bytes([a, b, c, d]) as i64,
            [a, b, c, d, e, f, g, h] => i64::from_le_bytes([a, b, c, d, e, f, g, h]),
            _ => return None,
        })
    }

    /// `Ok(position)` of `n`, or `Err(insertion point)`.
    fn search(&self, n: i64) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.get(mid).unwrap_or(i64::MAX).cmp(&n) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    pub fn contains(&self, n: i64) -> bool {
        int_width(n) as usize <= self.width() && self.search(n).is_ok()
    }

    /// Visits the members in ascending order.
    pub fn for_each(&self, mut f: impl FnMut(i64)) {
        for i in 0..self.len() {
            if let Some(n) = self.get(i) {
                f(n);
            }
        }
    }
}

/// Adds `n` to the intset in `buf`, reallocating it to its exact new size (and
/// widening every member if `n` needs more bytes). Returns true if it was new.
fn intset_insert(buf: &mut Box<[u8]>, n: i64) -> bool {
    let set = IntSet(buf);
    let w = set.width();
    let need = int_width(n) as usize;
    if need > w {
        // `n` is beyond every member: it goes first (negative) or last.
        let len = set.len();
        let mut out = Vec::with_capacity(1 + (len + 1) * need);
        out.push(need as u8);
        if n < 0 {
            out.extend_from_slice(&n.to_le_bytes()[..need]);
        }
        set.for_each(|m| out.extend_from_slice(&m.to_le_bytes()[..need]));
        if n >= 0 {
            out.extend_from_slice(&n.to_le_bytes()[..need]);
        }
        *buf = out.into_boxed_slice();
        return true;
    }
    let Err(pos) = set.search(n) else {
        return false;
    };
    let at = 1 + pos * w;
    // Grown with realloc, in place within a size class (as Redis's intsetResize).
    let mut out = std::mem::take(buf).into_vec();
    out.reserve_exact(w);
    out.splice(at..at, n.to_le_bytes()[..w].iter().copied());
    *buf = out.into_boxed_slice();
    true
}

/// Removes `n` from the intset in `buf` (exact reallocation). True if it was there.
fn intset_remove(buf: &mut Box<[u8]>, n: i64) -> bool {
    let set = IntSet(buf);
    if !set.contains(n) {
        return false;
    }
    let Ok(pos) = set.search(n) else {
        return false;
    };
    let w = set.width();
    let at = 1 + pos * w;
    let mut out = std::mem::take(buf).into_vec();
    out.drain(at..at + w);
    *buf = out.into_boxed_slice();
    true
}

/// A small `hashtable` set packed in one buffer: `[KIND_STRS][count]` then, per
/// member, one length byte and its bytes (at most [`SMALL_MAX_ENTRIES`] members of
/// at most [`SMALL_MAX_VALUE`] bytes).
pub struct SmallSet<'a>(&'a [u8]);

/// Iterator over the members of a [`SmallSet`].
pub struct SmallIter<'a> {
    buf: &'a [u8],
}

impl<'a> Iterator for SmallIter<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let (&n, rest) = self.buf.split_first()?;
        let n = (n as usize).min(rest.len());
        let (m, rest) = rest.split_at(n);
        self.buf = rest;
        Some(m)
    }
}

impl<'a> SmallSet<'a> {
    pub fn len(&self) -> usize {
        self.0.get(1).map_or(0, |&n| n as usize)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn iter(&self) -> SmallIter<'a> {
        SmallIter {
            buf: self.0.get(2..).unwrap_or_default(),
        }
    }

    /// Byte offset (in the whole buffer) of member `m`'s length byte.
    fn find(&self, m: &[u8]) -> Option<usize> {
        let mut off = 2;
        while let Some(&n) = self.0.get(off) {
            let n = n as usize;
            let start = off + 1;
            if n == m.len() && self.0.get(start..start + n) == Some(m) {
                return Some(off);
            }
            off = start + n;
        }
        None
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        self.find(m).is_some()
    }

    /// Whether `m` can be stored here (length fits the packed form).
    pub fn fits(m: &[u8]) -> bool {
        m.len() <= SMALL_MAX_VALUE
    }

    pub fn nth(&self, i: usize) -> Option<&'a [u8]> {
        self.iter().nth(i)
    }
}

/// An empty packed string set.
fn small_new(cap: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(cap.max(2));
    v.extend_from_slice(&[KIND_STRS, 0]);
    v
}

/// Appends a member known to be absent and short enough ([`SmallSet::fits`]) to the
/// packed string set in `v` (count below [`SMALL_MAX_ENTRIES`]).
fn small_push(v: &mut Vec<u8>, m: &[u8]) {
    debug_assert!(SmallSet::fits(m));
    v.reserve_exact(m.len() + 1);
    v.push(m.len() as u8);
    v.extend_from_slice(m);
    if let Some(c) = v.get_mut(1) {
        *c += 1;
    }
}

// ---------------------------------------------------------------------------------
// hash table

/// A hash table of members (Redis's dict-encoded set).
#[derive(Default)]
pub struct BigSet {
    dict: Dict<()>,
}

impl Clone for BigSet {
    fn clone(&self) -> Self {
        let mut out = BigSet::default();
        self.dict.for_each(|k, _| {
            out.dict.insert_new(hash(k), k.into(), (), &hash);
        });
        out
    }
}

impl std::fmt::Debug for BigSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BigSet({} members)", self.dict.len())
    }
}

impl BigSet {
    pub fn len(&self) -> usize {
        self.dict.len()
    }

    pub fn is_empty(&self) -> bool {
        self.dict.is_empty()
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        self.dict.get(hash(m), m).is_some()
    }

    pub fn insert(&mut self, m: &[u8]) -> bool {
        let h = hash(m);
        if self.dict.get(h, m).is_some() {
            return false;
        }
        self.dict.insert_new(h, m.into(), (), &hash);
        true
    }

    pub fn remove(&mut self, m: &[u8]) -> bool {
        self.dict.remove(hash(m), m, &hash).is_some()
    }

    pub fn for_each(&self, mut f: impl FnMut(&[u8])) {
        self.dict.for_each(|k, _| f(k));
    }

    /// One step of the resize-safe reverse-binary scan (see [`Dict::scan`]).
    pub fn scan_step(&self, cursor: u64, mut f: impl FnMut(&[u8])) -> u64 {
        self.dict.scan(cursor, |k, _| f(k))
    }

    pub fn random(&self, rng: &mut impl rand::Rng) -> Option<&[u8]> {
        self.dict.random(|| rng.gen()).map(|(k, _)| k)
    }

    fn heap_size(&self) -> usize {
        // Per member: a chain node (key pointer/length, next) rounded to its allocator
        // class, the member's bytes; per bucket: one pointer.
        let mut bytes = self.dict.buckets() * 8;
        self.dict.for_each(|k, _| bytes += 32 + k.len());
        bytes
    }
}

// ---------------------------------------------------------------------------------
// the set value

/// How a set is stored (see the module docs).
#[derive(Clone, Debug)]
pub enum Repr {
    /// An intset (first byte 1, 2, 4 or 8: the width) or a small packed `hashtable`
    /// (first byte [`KIND_STRS`]), in one exactly-sized buffer.
    Packed(Box<[u8]>),
    Big(Box<BigSet>),
}

/// A set value: two words, stored inline in `Value` (so a small set is one
/// allocation: its packed buffer).
#[derive(Clone, Debug)]
pub struct SetValue {
    pub repr: Repr,
}

impl SetValue {
    /// Starts loading what looking `members` up will touch (a pipelined batch of
    /// SADD/SISMEMBER/SREM on one big set; see `Keyspace::prefetch`).
    pub fn prefetch(&self, members: &[&[u8]]) {
        if let Repr::Big(b) = &self.repr {
            let hashes: smallvec::SmallVec<[u64; 32]> = members.iter().map(|m| hash(m)).collect();
            b.dict.prefetch(&hashes, |_| None);
        }
    }
}

impl Default for SetValue {
    fn default() -> Self {
        SetValue::new_intset()
    }
}

/// A member of a set as stored: an integer (intset) or bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Member<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl Member<'_> {
    /// Calls `f` with the member's string form.
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match *self {
            Member::Int(n) => with_int(n, f),
            Member::Bytes(b) => f(b),
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.with_bytes(|b| b.to_vec())
    }
}

/// A borrowed view of a set's representation.
enum View<'a> {
    Ints(IntSet<'a>),
    Small(SmallSet<'a>),
    Big(&'a BigSet),
}

impl SetValue {
    /// An empty intset (Redis's `createIntsetObject`, the start of SINTERSTORE,
    /// SUNIONSTORE and SDIFFSTORE results).
    pub fn new_intset() -> SetValue {
        SetValue {
            repr: Repr::Packed(Box::new([1])),
        }
    }

    /// An empty hashtable set (packed while small).
    pub fn new_hashtable() -> SetValue {
        SetValue {
            repr: Repr::Packed(small_new(2).into_boxed_slice()),
        }
    }

    /// An empty set able to hold `first` (Redis's `setTypeCreate`): an intset when it
    /// is an integer, a hashtable otherwise. The caller adds `first` afterwards.
    pub fn create_for(first: &[u8]) -> SetValue {
        if parse_i64(first).is_some() {
            SetValue::new_intset()
        } else {
            SetValue::new_hashtable()
        }
    }

    fn view(&self) -> View<'_> {
        match &self.repr {
            Repr::Packed(b) if b.first() == Some(&KIND_STRS) => View::Small(SmallSet(b)),
            Repr::Packed(b) => View::Ints(IntSet(b)),
            Repr::Big(s) => View::Big(s),
        }
    }

    /// OBJECT ENCODING (Redis 7.0 names).
    pub fn encoding(&self) -> &'static str {
        match self.view() {
            View::Ints(_) => "intset",
            View::Small(_) | View::Big(_) => "hashtable",
        }
    }

    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::Packed(b) => b.len(),
            Repr::Big(s) => std::mem::size_of::<BigSet>() + s.heap_size(),
        }
    }

    pub fn len(&self) -> usize {
        match self.view() {
            View::Ints(s) => s.len(),
            View::Small(s) => s.len(),
            View::Big(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_intset(&self) -> bool {
        matches!(self.view(), View::Ints(_))
    }

    /// Whether members are returned all at once by SSCAN (cursor 0), as Redis does
    /// for its compact encodings.
    pub fn is_compact(&self) -> bool {
        !matches!(self.repr, Repr::Big(_))
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        match self.view() {
            View::Ints(s) => parse_i64(m).is_some_and(|n| s.contains(n)),
            View::Small(s) => s.contains(m),
            View::Big(s) => s.contains(m),
        }
    }

    /// Moves every member of an intset into a hash table (packed if it fits).
    /// `extra` is a member about to be added, considered for the choice of
    /// representation.
    fn convert_from_ints(&mut self, extra: Option<&[u8]>) {
        let View::Ints(ints) = self.view() else {
            return;
        };
        let total = ints.len() + extra.is_some() as usize;
        let small = total <= SMALL_MAX_ENTRIES && extra.is_none_or(SmallSet::fits);
        let repr = if small {
            let mut buf = small_new(2 + total * 8);
            ints.for_each(|n| with_int(n, |b| small_push(&mut buf, b)));
            Repr::Packed(buf.into_boxed_slice())
        } else {
            let mut s = BigSet::default();
            ints.for_each(|n| {
                with_int(n, |b| {
                    s.dict.insert_new(hash(b), b.into(), (), &hash);
                })
            });
            Repr::Big(Box::new(s))
        };
        self.repr = repr;
    }

    fn small_to_big(&mut self) {
        if let View::Small(small) = self.view() {
            let mut s = BigSet::default();
            for m in small.iter() {
                s.dict.insert_new(hash(m), m.into(), (), &hash);
            }
            self.repr = Repr::Big(Box::new(s));
        }
    }

    /// Adds `m` (Redis's `setTypeAdd`); `max_intset` is `set-max-intset-entries`.
    /// Returns true if it was not a member yet.
    pub fn add(&mut self, m: &[u8], max_intset: usize) -> bool {
        let max_intset = max_intset.min(INTSET_HARD_MAX);
        if self.is_intset() {
            match parse_i64(m) {
                Some(n) => {
                    let Repr::Packed(buf) = &mut self.repr else {
                        return false;
                    };
                    if !intset_insert(buf, n) {
                        return false;
                    }
                    if IntSet(buf).len() > max_intset {
                        self.convert_from_ints(None);
                    }
                    return true;
                }
                None => self.convert_from_ints(Some(m)),
            }
        }
        if let View::Small(s) = self.view() {
            if s.contains(m) {
                return false;
            }
            if s.len() < SMALL_MAX_ENTRIES && SmallSet::fits(m) {
                if let Repr::Packed(buf) = &mut self.repr {
                    let mut v = std::mem::take(buf).into_vec();
                    small_push(&mut v, m);
                    *buf = v.into_boxed_slice();
                }
                return true;
            }
            self.small_to_big();
        }
        match &mut self.repr {
            Repr::Big(s) => s.insert(m),
            Repr::Packed(_) => false,
        }
    }

    /// Removes `m`; returns true if it was a member.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        let off = match self.view() {
            View::Ints(_) => {
                let Repr::Packed(buf) = &mut self.repr else {
                    return false;
                };
                return parse_i64(m).is_some_and(|n| intset_remove(buf, n));
            }
            View::Small(s) => s.find(m),
            View::Big(_) => None,
        };
        match &mut self.repr {
            Repr::Big(s) => s.remove(m),
            Repr::Packed(buf) => {
                let Some(off) = off else {
                    return false;
                };
                let mut v = std::mem::take(buf).into_vec();
                v.drain(off..off + 1 + m.len());
                if let Some(c) = v.get_mut(1) {
                    *c -= 1;
                }
                *buf = v.into_boxed_slice();
                true
            }
        }
    }

    /// Visits every member (intsets in ascending order).
    pub fn for_each(&self, mut f: impl FnMut(&[u8])) {
        match self.view() {
            View::Ints(s) => s.for_each(|n| with_int(n, &mut f)),
            View::Small(s) => s.iter().for_each(f),
            View::Big(s) => s.for_each(f),
        }
    }

    /// Every member, copied (in [`SetValue::for_each`] order).
    pub fn members(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::with_capacity(self.len());
        self.for_each(|m| out.push(m.to_vec()));
        out
    }

    /// A random member (None if empty). Uniform for the packed encodings; for the
    /// table, a random non-empty bucket then a random member of its chain, as Redis.
    pub fn random(&self, rng: &mut impl rand::Rng) -> Option<Member<'_>> {
        let len = self.len();
        if len == 0 {
            return None;
        }
        match self.view() {
            View::Ints(s) => s.get(rng.gen_range(0..len)).map(Member::Int),
            View::Small(s) => s.nth(rng.gen_range(0..len)).map(Member::Bytes),
            View::Big(s) => s.random(rng).map(Member::Bytes),
        }
    }

    /// SSCAN's walk from `cursor`: at most `count` members (roughly, as Redis) and at
    /// most `10 * count` buckets; compact sets give everything with cursor 0.
    /// Returns the next cursor.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8])) -> u64 {
        match &self.repr {
            Repr::Big(s) => {
                let mut cursor = cursor;
                let mut budget = count.saturating_mul(10);
                let mut got = 0usize;
                loop {
                    cursor = s.scan_step(cursor, |m| {
                        got += 1;
                        f(m)
                    });
                    budget = budget.saturating_sub(1);
                    if cursor == 0 || budget == 0 || got >= count {
                        break cursor;
                    }
                }
            }
            Repr::Packed(_) => {
                self.for_each(f);
                0
            }
        }
    }

    /// A set built from `members` as Redis builds command results: starting as an
    /// intset and converting as members require.
    pub fn from_members<'a>(
        members: impl IntoIterator<Item = &'a [u8]>,
        max_intset: usize,
    ) -> SetValue {
        let mut s = SetValue::new_intset();
        for m in members {
            s.add(m, max_intset);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intset_widens_and_stays_sorted() {
        let mut s = SetValue::new_intset();
        for v in ["5", "-3", "70000", "1", "-9223372036854775808", "5"] {
            s.add(v.as_bytes(), 512);
        }
        assert_eq!(s.encoding(), "intset");
        assert_eq!(s.len(), 5);
        let m: Vec<String> = s
            .members()
            .into_iter()
            .map(|v| String::from_utf8(v).unwrap_or_default())
            .collect();
        assert_eq!(m, ["-9223372036854775808", "-3", "1", "5", "70000"]);
        assert!(s.contains(b"70000"));
        assert!(!s.contains(b"070000"));
        assert!(s.remove(b"-3"));
        assert!(!s.remove(b"-3"));
        assert!(matches!(s.view(), View::Ints(i) if i.width() == 8));
    }

    #[test]
    fn set_value_is_compact() {
        // Inline in `Value`: a small set is a single allocation.
        assert_eq!(std::mem::size_of::<SetValue>(), 16);
        // Ten small integers: a one-byte header and one byte each.
        let mut s = SetValue::new_intset();
        for i in 0..10 {
            s.add(i.to_string().as_bytes(), 512);
        }
        assert_eq!(s.heap_size(), 11);
        s.add(b"1000", 512);
        assert_eq!(s.heap_size(), 1 + 11 * 2);
    }

    #[test]
    fn intset_widths_against_a_model() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::SmallRng::seed_from_u64(3);
        let bounds = [100i64, 30_000, 2_000_000_000, i64::MAX];
        for round in 0..40 {
            let mut s = SetValue::new_intset();
            let mut model = std::collections::BTreeSet::new();
            for _ in 0..200 {
                let b = bounds[rng.gen_range(0..=round % 4)];
                let n = if b == i64::MAX {
                    rng.gen::<i64>()
                } else {
                    rng.gen_range(-b..=b)
                };
                let m = n.to_string();
                if rng.gen_range(0..3) == 0 {
                    assert_eq!(s.remove(m.as_bytes()), model.remove(&n));
                } else {
                    assert_eq!(s.add(m.as_bytes(), 512), model.insert(n));
                }
                assert_eq!(s.contains(m.as_bytes()), model.contains(&n));
            }
            assert_eq!(s.encoding(), "intset");
            assert_eq!(s.len(), model.len());
            let want: Vec<Vec<u8>> = model.iter().map(|n| n.to_string().into_bytes()).collect();
            assert_eq!(s.members(), want);
            for edge in [i64::MIN, i64::MAX, -129, 128, -32769, 32768] {
                assert_eq!(
                    s.contains(edge.to_string().as_bytes()),
                    model.contains(&edge)
                );
            }
        }
    }

    #[test]
    fn conversions_are_one_way() {
        let mut s = SetValue::create_for(b"1");
        s.add(b"1", 512);
        s.add(b"a", 512);
        assert_eq!(s.encoding(), "hashtable");
        assert!(matches!(s.view(), View::Small(_)));
        s.remove(b"a");
        assert_eq!(s.encoding(), "hashtable");
        for i in 0..200 {
            s.add(i.to_string().as_bytes(), 512);
        }
        assert!(matches!(s.repr, Repr::Big(_)));
        assert_eq!(s.len(), 200);
        for i in 0..200 {
            assert!(s.contains(i.to_string().as_bytes()));
        }
        // Too many integers: straight to the table.
        let mut t = SetValue::new_intset();
        for i in 0..4 {
            t.add(i.to_string().as_bytes(), 3);
        }
        assert_eq!(t.encoding(), "hashtable");
        assert_eq!(t.len(), 4);
        // A long member does not fit the packed form.
        let mut u = SetValue::create_for(b"x");
        u.add(b"x", 512);
        u.add(&[b'y'; 65], 512);
        assert!(matches!(u.repr, Repr::Big(_)));
        assert!(u.contains(&[b'y'; 65]));
    }

    #[test]
    fn small_set_binary_members() {
        let mut s = SetValue::new_hashtable();
        let members: [&[u8]; 4] = [b"", b"\x00\xff", b"a\r\nb", &[7u8; 64]];
        for m in members {
            assert!(s.add(m, 512));
            assert!(!s.add(m, 512));
        }
        assert!(matches!(s.view(), View::Small(_)));
        for m in members {
            assert!(s.contains(m));
        }
        assert!(s.remove(b""));
        assert!(!s.contains(b""));
        assert_eq!(s.len(), 3);
        let mut rng = rand::thread_rng();
        for _ in 0..20 {
            let r = s.random(&mut rng).map(|m| m.to_vec()).unwrap_or_default();
            assert!(s.contains(&r));
        }
    }

    #[test]
    fn big_scan_visits_everything() {
        let mut s = SetValue::new_hashtable();
        for i in 0..1000 {
            s.add(format!("m{i}").as_bytes(), 512);
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        loop {
            cursor = s.scan(cursor, 10, |m| {
                seen.insert(m.to_vec());
            });
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 1000);
        let c = s.clone();
        assert_eq!(c.len(), 1000);
        assert!(c.contains(b"m999"));
    }
}
