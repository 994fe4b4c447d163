//! Sets (Redis's `t_set.c`): the value type and its encodings.
//!
//! Ferrodis follows Redis 7.0, whose sets have two encodings visible through OBJECT
//! ENCODING: `intset` (every member is an integer in canonical form and there are at
//! most `set-max-intset-entries` of them) and `hashtable` (everything else). A set
//! never goes back from `hashtable` to `intset` (SPOP keeps the encoding when it
//! rebuilds a set, as Redis 7.0 does), and the first member decides how a new set
//! starts (Redis's `setTypeCreate`).
//!
//! Internally a `hashtable` set is kept in one of two representations:
//! * [`Repr::Small`]: up to [`SMALL_MAX_ENTRIES`] members of at most
//!   [`SMALL_MAX_VALUE`] bytes, packed in one buffer (`[len][bytes]` per member) and
//!   searched linearly, like the listpack Redis 7.2 uses for small sets. Redis 7.0
//!   reports these as `hashtable`, so Ferrodis does too; the packed form only saves
//!   memory. Measured with INFO used_memory, 100,000 keys holding 10 short string
//!   members take about 143 bytes per key against Redis 7.0's 729; with 10 small
//!   integers (intset in both) 144 against 105, the difference being per-key
//!   overhead outside the set (one 32-byte `SetValue` box plus the member buffer).
//!
//!   SSCAN replies with the whole packed set and cursor 0 at once (as Redis does for
//!   its compact encodings); Redis 7.0 would page a small `hashtable` set when
//!   COUNT is below its size. Both honour SCAN's guarantees.
//! * [`Repr::Big`]: a chained hash table ([`Dict`]) with SCAN's resize-safe cursor.
//!
//! Conversions are one-way: `Ints` → `Small` → `Big` (or `Ints` → `Big`).

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
// intset

/// Sorted integers stored with the narrowest width that holds them all (as Redis's
/// intset: 16, 32 or 64 bits; the width only grows).
#[derive(Clone, Debug)]
pub enum IntSet {
    I16(Box<[i16]>),
    I32(Box<[i32]>),
    I64(Box<[i64]>),
}

impl Default for IntSet {
    fn default() -> Self {
        IntSet::I16(Box::default())
    }
}

/// Inserts `v` into a sorted vector, growing the allocation by exactly one slot
/// (intsets are small and this keeps them tight, as Redis's realloc does).
fn sorted_insert<T: Ord + Copy>(slot: &mut Box<[T]>, v: T) -> bool {
    match slot.binary_search(&v) {
        Ok(_) => false,
        Err(pos) => {
            let mut vec = std::mem::take(slot).into_vec();
            vec.reserve_exact(1);
            vec.insert(pos, v);
            *slot = vec.into_boxed_slice();
            true
        }
    }
}

fn sorted_remove<T: Ord + Copy>(slot: &mut Box<[T]>, v: T) -> bool {
    match slot.binary_search(&v) {
        Ok(pos) => {
            let mut vec = std::mem::take(slot).into_vec();
            vec.remove(pos);
            *slot = vec.into_boxed_slice();
            true
        }
        Err(_) => false,
    }
}

impl IntSet {
    pub fn len(&self) -> usize {
        match self {
            IntSet::I16(v) => v.len(),
            IntSet::I32(v) => v.len(),
            IntSet::I64(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains(&self, n: i64) -> bool {
        match self {
            IntSet::I16(v) => i16::try_from(n).is_ok_and(|x| v.binary_search(&x).is_ok()),
            IntSet::I32(v) => i32::try_from(n).is_ok_and(|x| v.binary_search(&x).is_ok()),
            IntSet::I64(v) => v.binary_search(&n).is_ok(),
        }
    }

    /// The member at position `i` (ascending order).
    pub fn get(&self, i: usize) -> Option<i64> {
        match self {
            IntSet::I16(v) => v.get(i).map(|&x| x as i64),
            IntSet::I32(v) => v.get(i).map(|&x| x as i64),
            IntSet::I64(v) => v.get(i).copied(),
        }
    }

    /// Adds `n`, widening the encoding if needed. Returns true if it was new.
    pub fn insert(&mut self, n: i64) -> bool {
        loop {
            match self {
                IntSet::I16(v) => match i16::try_from(n) {
                    Ok(x) => return sorted_insert(v, x),
                    Err(_) => {
                        let wide: Box<[i32]> = v.iter().map(|&x| x as i32).collect();
                        *self = IntSet::I32(wide);
                    }
                },
                IntSet::I32(v) => match i32::try_from(n) {
                    Ok(x) => return sorted_insert(v, x),
                    Err(_) => {
                        let wide: Box<[i64]> = v.iter().map(|&x| x as i64).collect();
                        *self = IntSet::I64(wide);
                    }
                },
                IntSet::I64(v) => return sorted_insert(v, n),
            }
        }
    }

    pub fn remove(&mut self, n: i64) -> bool {
        match self {
            IntSet::I16(v) => i16::try_from(n).is_ok_and(|x| sorted_remove(v, x)),
            IntSet::I32(v) => i32::try_from(n).is_ok_and(|x| sorted_remove(v, x)),
            IntSet::I64(v) => sorted_remove(v, n),
        }
    }

    /// Visits the members in ascending order.
    pub fn for_each(&self, mut f: impl FnMut(i64)) {
        match self {
            IntSet::I16(v) => v.iter().for_each(|&x| f(x as i64)),
            IntSet::I32(v) => v.iter().for_each(|&x| f(x as i64)),
            IntSet::I64(v) => v.iter().for_each(|&x| f(x)),
        }
    }

    fn heap_size(&self) -> usize {
        match self {
            IntSet::I16(v) => v.len() * 2,
            IntSet::I32(v) => v.len() * 4,
            IntSet::I64(v) => v.len() * 8,
        }
    }
}

// ---------------------------------------------------------------------------------
// packed small set

/// Up to [`SMALL_MAX_ENTRIES`] members, each stored as one length byte followed by
/// its bytes (members are at most [`SMALL_MAX_VALUE`] bytes long).
#[derive(Clone, Debug, Default)]
pub struct SmallSet {
    buf: Box<[u8]>,
    len: u32,
}

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

impl SmallSet {
    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn iter(&self) -> SmallIter<'_> {
        SmallIter { buf: &self.buf }
    }

    /// Byte offset of member `m`'s length byte.
    fn find(&self, m: &[u8]) -> Option<usize> {
        let mut off = 0;
        while let Some(&n) = self.buf.get(off) {
            let n = n as usize;
            let start = off + 1;
            if n == m.len() && self.buf.get(start..start + n) == Some(m) {
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

    /// Appends a member known to be absent and short enough ([`SmallSet::fits`]).
    fn push_new(&mut self, m: &[u8]) {
        debug_assert!(Self::fits(m));
        let mut buf = std::mem::take(&mut self.buf).into_vec();
        buf.reserve_exact(m.len() + 1);
        buf.push(m.len() as u8);
        buf.extend_from_slice(m);
        self.buf = buf.into_boxed_slice();
        self.len += 1;
    }

    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self.find(m) {
            Some(off) => {
                let end = off + 1 + m.len();
                let mut buf = std::mem::take(&mut self.buf).into_vec();
                buf.drain(off..end);
                self.buf = buf.into_boxed_slice();
                self.len -= 1;
                true
            }
            None => false,
        }
    }

    pub fn nth(&self, i: usize) -> Option<&[u8]> {
        self.iter().nth(i)
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
    Ints(IntSet),
    Small(SmallSet),
    Big(Box<BigSet>),
}

/// A set value.
#[derive(Clone, Debug)]
pub struct SetValue {
    pub repr: Repr,
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

impl SetValue {
    /// An empty intset (Redis's `createIntsetObject`, the start of SINTERSTORE,
    /// SUNIONSTORE and SDIFFSTORE results).
    pub fn new_intset() -> SetValue {
        SetValue {
            repr: Repr::Ints(IntSet::default()),
        }
    }

    /// An empty hashtable set (packed while small).
    pub fn new_hashtable() -> SetValue {
        SetValue {
            repr: Repr::Small(SmallSet::default()),
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

    /// OBJECT ENCODING (Redis 7.0 names).
    pub fn encoding(&self) -> &'static str {
        match self.repr {
            Repr::Ints(_) => "intset",
            Repr::Small(_) | Repr::Big(_) => "hashtable",
        }
    }

    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::Ints(s) => s.heap_size(),
            Repr::Small(s) => s.buf.len(),
            Repr::Big(s) => std::mem::size_of::<BigSet>() + s.heap_size(),
        }
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Ints(s) => s.len(),
            Repr::Small(s) => s.len(),
            Repr::Big(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_intset(&self) -> bool {
        matches!(self.repr, Repr::Ints(_))
    }

    /// Whether members are returned all at once by SSCAN (cursor 0), as Redis does
    /// for its compact encodings.
    pub fn is_compact(&self) -> bool {
        !matches!(self.repr, Repr::Big(_))
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        match &self.repr {
            Repr::Ints(s) => parse_i64(m).is_some_and(|n| s.contains(n)),
            Repr::Small(s) => s.contains(m),
            Repr::Big(s) => s.contains(m),
        }
    }

    /// Moves every member into a hash table (packed if it fits). `extra` is a member
    /// about to be added, considered for the choice of representation.
    fn convert_from_ints(&mut self, extra: Option<&[u8]>) {
        let Repr::Ints(ints) = &self.repr else {
            return;
        };
        let total = ints.len() + extra.is_some() as usize;
        let small = total <= SMALL_MAX_ENTRIES && extra.is_none_or(SmallSet::fits);
        let repr = if small {
            let mut buf = Vec::with_capacity(total * 8);
            let mut len = 0u32;
            ints.for_each(|n| {
                with_int(n, |b| {
                    buf.push(b.len() as u8);
                    buf.extend_from_slice(b);
                });
                len += 1;
            });
            Repr::Small(SmallSet {
                buf: buf.into_boxed_slice(),
                len,
            })
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
        if let Repr::Small(small) = &self.repr {
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
        if let Repr::Ints(ints) = &mut self.repr {
            match parse_i64(m) {
                Some(n) => {
                    if !ints.insert(n) {
                        return false;
                    }
                    if ints.len() > max_intset {
                        self.convert_from_ints(None);
                    }
                    return true;
                }
                None => self.convert_from_ints(Some(m)),
            }
        }
        if let Repr::Small(s) = &mut self.repr {
            if s.contains(m) {
                return false;
            }
            if s.len() < SMALL_MAX_ENTRIES && SmallSet::fits(m) {
                s.push_new(m);
                return true;
            }
            self.small_to_big();
        }
        match &mut self.repr {
            Repr::Big(s) => s.insert(m),
            Repr::Ints(_) | Repr::Small(_) => unreachable!("converted above"),
        }
    }

    /// Removes `m`; returns true if it was a member.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Ints(s) => parse_i64(m).is_some_and(|n| s.remove(n)),
            Repr::Small(s) => s.remove(m),
            Repr::Big(s) => s.remove(m),
        }
    }

    /// Visits every member (intsets in ascending order).
    pub fn for_each(&self, mut f: impl FnMut(&[u8])) {
        match &self.repr {
            Repr::Ints(s) => s.for_each(|n| with_int(n, &mut f)),
            Repr::Small(s) => s.iter().for_each(f),
            Repr::Big(s) => s.for_each(f),
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
        match &self.repr {
            Repr::Ints(s) => s.get(rng.gen_range(0..len)).map(Member::Int),
            Repr::Small(s) => s.nth(rng.gen_range(0..len)).map(Member::Bytes),
            Repr::Big(s) => s.random(rng).map(Member::Bytes),
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
            _ => {
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
        assert!(matches!(s.repr, Repr::Ints(IntSet::I64(_))));
    }

    #[test]
    fn set_value_is_compact() {
        // One 32-byte allocation per set besides its members.
        assert!(std::mem::size_of::<SetValue>() <= 32);
    }

    #[test]
    fn conversions_are_one_way() {
        let mut s = SetValue::create_for(b"1");
        s.add(b"1", 512);
        s.add(b"a", 512);
        assert_eq!(s.encoding(), "hashtable");
        assert!(matches!(s.repr, Repr::Small(_)));
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
        assert!(matches!(s.repr, Repr::Small(_)));
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
