//! Hashes (Redis's `t_hash.c`): the value type and its encodings.
//!
//! * `listpack`: small hashes (at most `hash-max-listpack-entries` fields, every field
//!   and value at most `hash-max-listpack-value` bytes) live in one exactly-sized byte
//!   buffer of length-prefixed field/value pairs, searched linearly, in insertion order
//!   (what Redis's listpack gives: HGETALL order is the order fields were added).
//! * `hashtable`: larger hashes use the keyspace's [`Dict`] (chained, power-of-two
//!   table), which gives HSCAN Redis's cursor guarantee and fair random picks.
//!
//! Conversion is one-way, as in Redis: a hash that became a `hashtable` stays one.
//!
//! Field TTLs (Redis 7.4): a hash on which a field TTL was ever set carries a
//! [`FieldTtls`] index (field -> expiry, and expiry-ordered), so the earliest expiry
//! is known in O(1) and expired fields are removed in order. A listpack hash with that
//! index reports `listpackex`, as Redis does, even once no field has a TTL any more.

use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

use crate::keyspace::Dict;
use crate::types::string::SmallBytes;

fn hasher() -> &'static ahash::RandomState {
    static H: OnceLock<ahash::RandomState> = OnceLock::new();
    H.get_or_init(ahash::RandomState::new)
}

#[inline]
fn fhash(k: &[u8]) -> u64 {
    hasher().hash_one(k)
}

/// A hash value: a plain listpack inline (16 bytes, the common small hash), anything
/// else (`listpackex`, `hashtable`) boxed.
pub enum HashValue {
    Lp(Box<[u8]>),
    Big(Box<Inner>),
}

impl HashValue {
    /// Starts loading what looking `fields` up will touch (a pipelined batch of
    /// HSET/HGET on one big hash; see `Keyspace::prefetch`).
    pub fn prefetch(&self, fields: &[&[u8]]) {
        if let HashValue::Big(i) = self {
            if let Enc::Table(d) = &i.enc {
                let hashes: smallvec::SmallVec<[u64; 32]> =
                    fields.iter().map(|f| fhash(f)).collect();
                d.prefetch(&hashes, |v| match v {
                    SmallBytes::Heap(b) => Some(b.as_ptr()),
                    SmallBytes::Inline(_) => None,
                });
            }
        }
    }
}

/// A `listpackex` or `hashtable` hash.
pub struct Inner {
    enc: Enc,
    ttl: Option<Box<FieldTtls>>,
}

enum Enc {
    /// Pairs `varint(len) field varint(len) value`, and the number of pairs.
    Listpack(Box<[u8]>, u32),
    Table(Box<Dict<SmallBytes>>),
}

/// Expiry times (Unix ms) of the fields that have one.
#[derive(Clone, Default)]
struct FieldTtls {
    by_field: HashMap<Box<[u8]>, u64, ahash::RandomState>,
    by_time: BTreeSet<(u64, Box<[u8]>)>,
}

impl FieldTtls {
    fn remove(&mut self, field: &[u8]) -> Option<u64> {
        let (k, at) = self.by_field.remove_entry(field)?;
        self.by_time.remove(&(at, k));
        Some(at)
    }

    fn set(&mut self, field: &[u8], at: u64) {
        self.remove(field);
        self.by_field.insert(field.into(), at);
        self.by_time.insert((at, field.into()));
    }

    fn heap_size(&self) -> usize {
        self.by_field
            .keys()
            .map(|k| 2 * k.len() + 64)
            .sum::<usize>()
    }
}

// ---- listpack byte format -------------------------------------------------------

fn put_varint(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn varint_len(mut n: usize) -> usize {
    let mut l = 1;
    while n >= 0x80 {
        n >>= 7;
        l += 1;
    }
    l
}

/// Reads a varint at `pos`; returns (value, position after it).
fn get_varint(buf: &[u8], mut pos: usize) -> Option<(usize, usize)> {
    let mut n: usize = 0;
    let mut shift = 0;
    loop {
        let b = *buf.get(pos)?;
        pos += 1;
        n |= ((b & 0x7f) as usize).checked_shl(shift)?;
        if b & 0x80 == 0 {
            return Some((n, pos));
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
}

/// One element at `pos`: (bytes, position after it).
fn get_elem(buf: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let (len, start) = get_varint(buf, pos)?;
    let end = start.checked_add(len)?;
    Some((buf.get(start..end)?, end))
}

/// Iterator over the pairs of a listpack buffer, with each pair's byte range.
struct LpIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for LpIter<'a> {
    /// (field, value, start of the pair, end of the pair)
    type Item = (&'a [u8], &'a [u8], usize, usize);
    fn next(&mut self) -> Option<Self::Item> {
        self.next_at()
            .map(|(f, v, start, _, end)| (f, v, start, end))
    }
}

impl<'a> LpIter<'a> {
    /// (field, value, start of the pair, start of the value's length, end of the pair)
    #[allow(clippy::type_complexity)]
    fn next_at(&mut self) -> Option<(&'a [u8], &'a [u8], usize, usize, usize)> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let start = self.pos;
        let (f, p) = get_elem(self.buf, start)?;
        let (v, end) = get_elem(self.buf, p)?;
        self.pos = end;
        Some((f, v, start, p, end))
    }
}

fn lp_iter(buf: &[u8]) -> LpIter<'_> {
    LpIter { buf, pos: 0 }
}

fn lp_find(buf: &[u8], field: &[u8]) -> Option<(usize, usize, usize)> {
    // (pair start, position of the value's length prefix, pair end)
    let mut it = lp_iter(buf);
    while let Some((f, _, start, vpos, end)) = it.next_at() {
        if f == field {
            return Some((start, vpos, end));
        }
    }
    None
}

fn encode_pair(out: &mut Vec<u8>, f: &[u8], v: &[u8]) {
    put_varint(out, f.len());
    out.extend_from_slice(f);
    put_varint(out, v.len());
    out.extend_from_slice(v);
}

fn pair_size(f: &[u8], v: &[u8]) -> usize {
    varint_len(f.len()) + f.len() + varint_len(v.len()) + v.len()
}

/// Replaces `buf[from..to]` with `with`, keeping the buffer exactly sized.
/// Replaces `buf[from..to]` with `with`, resizing the buffer with `realloc` (in
/// place while the size stays in the same allocator class, as Redis's
/// `lpInsert`/`zrealloc` does) rather than allocating a copy and freeing the old one:
/// fewer dirty pages while a dataset loads, and no copy for most changes.
fn splice(buf: &mut Box<[u8]>, from: usize, to: usize, with: &[u8]) {
    let mut v = std::mem::take(buf).into_vec();
    if with.len() > to - from {
        v.reserve_exact(with.len() - (to - from));
    }
    v.splice(from..to, with.iter().copied());
    *buf = v.into_boxed_slice();
}

impl Default for HashValue {
    fn default() -> Self {
        HashValue::new()
    }
}

impl Clone for HashValue {
    fn clone(&self) -> Self {
        match self {
            HashValue::Lp(b) => HashValue::Lp(b.clone()),
            HashValue::Big(i) => HashValue::Big(Box::new(i.clone_inner())),
        }
    }
}

impl Inner {
    fn clone_inner(&self) -> Self {
        let enc = match &self.enc {
            Enc::Listpack(b, n) => Enc::Listpack(b.clone(), *n),
            Enc::Table(d) => {
                let mut nd: Dict<SmallBytes> = Dict::new();
                d.for_each(|k, v| {
                    nd.insert(fhash(k), k, v.clone(), &fhash);
                });
                Enc::Table(Box::new(nd))
            }
        };
        Inner {
            enc,
            ttl: self.ttl.clone(),
        }
    }
}

impl std::fmt::Debug for HashValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HashValue({}, {} fields)", self.encoding(), self.len())
    }
}

fn lp_count(b: &[u8]) -> u32 {
    lp_iter(b).count() as u32
}

impl HashValue {
    /// An empty listpack hash.
    pub fn new() -> HashValue {
        HashValue::Lp(Box::default())
    }

    /// Runs `f` on the boxed form; a plain listpack is viewed as one without moving
    /// its bytes, and goes back inline if it stays a plain listpack.
    fn with_inner<R>(&mut self, f: impl FnOnce(&mut Inner) -> R) -> R {
        match self {
            HashValue::Big(i) => f(i),
            HashValue::Lp(b) => {
                let buf = std::mem::take(b);
                let n = lp_count(&buf);
                let mut inner = Inner {
                    enc: Enc::Listpack(buf, n),
                    ttl: None,
                };
                let r = f(&mut inner);
                match inner {
                    Inner {
                        enc: Enc::Listpack(buf, _),
                        ttl: None,
                    } => *b = buf,
                    other => *self = HashValue::Big(Box::new(other)),
                }
                r
            }
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            HashValue::Lp(_) => "listpack",
            HashValue::Big(i) => i.encoding(),
        }
    }

    pub fn is_listpack(&self) -> bool {
        match self {
            HashValue::Lp(_) => true,
            HashValue::Big(i) => i.is_listpack(),
        }
    }

    pub fn heap_size(&self) -> usize {
        match self {
            HashValue::Lp(b) => b.len(),
            HashValue::Big(i) => std::mem::size_of::<Inner>() + i.heap_size(),
        }
    }

    /// Number of fields (expired fields not yet removed included: callers purge first).
    pub fn len(&self) -> usize {
        match self {
            HashValue::Lp(b) => lp_count(b) as usize,
            HashValue::Big(i) => i.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            HashValue::Lp(b) => b.is_empty(),
            HashValue::Big(i) => i.len() == 0,
        }
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            HashValue::Lp(b) => lp_get(b, field),
            HashValue::Big(i) => i.get(field),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    pub fn convert_to_table(&mut self) {
        self.with_inner(|i| i.convert_to_table())
    }

    /// Redis 7.0's `hashTypeTryConversion` before adding field/value arguments whose
    /// longest is `max_arg_len` bytes (the entry count is checked after each insert).
    pub fn try_conversion(&mut self, max_arg_len: usize, max_value: usize) {
        if self.is_listpack() && max_arg_len > max_value {
            self.convert_to_table();
        }
    }

    /// Sets a field. Returns true if the field is new. With `keep_ttl` the field keeps
    /// its TTL (HINCRBY); otherwise an overwritten field loses it (HSET).
    pub fn set(
        &mut self,
        field: &[u8],
        value: &[u8],
        keep_ttl: bool,
        max_entries: usize,
        max_value: usize,
    ) -> bool {
        self.with_inner(|i| i.set(field, value, keep_ttl, max_entries, max_value))
    }

    /// Deletes a field (and its TTL). Returns true if it existed.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        self.with_inner(|i| i.remove(field))
    }

    /// Visits every field and value (listpack: insertion order).
    pub fn for_each(&self, mut f: impl FnMut(&[u8], &[u8])) {
        match self {
            HashValue::Lp(b) => {
                for (k, v, _, _) in lp_iter(b) {
                    f(k, v);
                }
            }
            HashValue::Big(i) => i.for_each(f),
        }
    }

    /// All pairs, in iteration order.
    pub fn pairs(&self) -> Vec<(&[u8], &[u8])> {
        match self {
            HashValue::Lp(b) => lp_iter(b).map(|(k, v, _, _)| (k, v)).collect(),
            HashValue::Big(i) => i.pairs(),
        }
    }

    /// One HSCAN step: visits the pairs of one bucket (all pairs for a listpack) and
    /// returns the next cursor (0 when done).
    pub fn scan(&self, cursor: u64, f: impl FnMut(&[u8], &[u8])) -> u64 {
        match self {
            HashValue::Lp(_) => {
                self.for_each(f);
                0
            }
            HashValue::Big(i) => i.scan(cursor, f),
        }
    }

    /// A random pair (uniform for a listpack; Redis's bucket-then-chain pick for a
    /// table).
    pub fn random_pair(&self, mut rand: impl FnMut() -> u64) -> Option<(&[u8], &[u8])> {
        match self {
            HashValue::Lp(b) => {
                let n = lp_count(b);
                if n == 0 {
                    return None;
                }
                let i = (rand() % n as u64) as usize;
                lp_iter(b).nth(i).map(|(k, v, _, _)| (k, v))
            }
            HashValue::Big(i) => i.random_pair(rand),
        }
    }

    /// True if the hash has at least one field with a TTL.
    pub fn has_field_ttls(&self) -> bool {
        matches!(self, HashValue::Big(i) if i.has_field_ttls())
    }

    /// Earliest field expiry, if any field has a TTL.
    pub fn min_expire(&self) -> Option<u64> {
        match self {
            HashValue::Lp(_) => None,
            HashValue::Big(i) => i.min_expire(),
        }
    }

    /// The field's expiry time (Unix ms), if it has one.
    pub fn field_expire(&self, field: &[u8]) -> Option<u64> {
        match self {
            HashValue::Lp(_) => None,
            HashValue::Big(i) => i.field_expire(field),
        }
    }

    /// Sets a field's expiry (the field must exist); the encoding becomes
    /// `listpackex` for a listpack.
    pub fn set_field_expire(&mut self, field: &[u8], at: u64) {
        self.with_inner(|i| i.set_field_expire(field, at))
    }

    /// Creates the TTL index without setting any TTL (Redis converts a listpack to
    /// `listpackex` as soon as a field-expiry command touches the hash).
    pub fn enable_field_ttls(&mut self) {
        self.with_inner(|i| i.enable_field_ttls())
    }

    /// Removes a field's TTL; returns true if it had one.
    pub fn persist_field(&mut self, field: &[u8]) -> bool {
        match self {
            HashValue::Lp(_) => false,
            HashValue::Big(i) => i.persist_field(field),
        }
    }

    /// True if some field expired at `now` and has not been removed yet.
    #[inline]
    pub fn has_expired(&self, now: u64) -> bool {
        self.min_expire().is_some_and(|m| m <= now)
    }

    /// Deletes every field whose TTL has passed (expiry `<= now`), at most `limit`;
    /// returns how many were deleted.
    pub fn purge_expired(&mut self, now: u64, limit: usize) -> usize {
        match self {
            HashValue::Lp(_) => 0,
            HashValue::Big(i) => i.purge_expired(now, limit),
        }
    }
}

fn lp_get<'a>(b: &'a [u8], field: &[u8]) -> Option<&'a [u8]> {
    let (_, vs, _) = lp_find(b, field)?;
    get_elem(b, vs).map(|(v, _)| v)
}

impl Inner {
    pub fn encoding(&self) -> &'static str {
        match (&self.enc, &self.ttl) {
            (Enc::Listpack(..), None) => "listpack",
            (Enc::Listpack(..), Some(_)) => "listpackex",
            (Enc::Table(_), _) => "hashtable",
        }
    }

    pub fn is_listpack(&self) -> bool {
        matches!(self.enc, Enc::Listpack(..))
    }

    pub fn heap_size(&self) -> usize {
        let data = match &self.enc {
            Enc::Listpack(b, _) => b.len(),
            Enc::Table(d) => {
                let mut n = d.buckets() * 8 + std::mem::size_of::<Dict<SmallBytes>>();
                d.for_each(|k, v| {
                    n += 48 + crate::keyspace::dict::Key::alloc_size(k) + v.heap_size();
                });
                n
            }
        };
        data + self.ttl.as_ref().map_or(0, |t| t.heap_size())
    }

    /// Number of fields (expired fields not yet removed included: callers purge first).
    pub fn len(&self) -> usize {
        match &self.enc {
            Enc::Listpack(_, n) => *n as usize,
            Enc::Table(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match &self.enc {
            Enc::Listpack(b, _) => {
                let (_, vs, end) = lp_find(b, field)?;
                let (v, after) = get_elem(b, vs)?;
                debug_assert_eq!(after, end);
                Some(v)
            }
            Enc::Table(d) => d.get(fhash(field), field).map(|v| &v[..]),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Converts to the `hashtable` encoding (one way).
    pub fn convert_to_table(&mut self) {
        if let Enc::Listpack(b, _) = &self.enc {
            let mut d: Dict<SmallBytes> = Dict::new();
            for (f, v, _, _) in lp_iter(b) {
                d.insert_new(fhash(f), f.into(), v.into(), &fhash);
            }
            self.enc = Enc::Table(Box::new(d));
        }
    }

    /// Redis 7.0's `hashTypeTryConversion` before adding field/value arguments whose
    /// longest is `max_arg_len` bytes (the entry count is checked after each insert).
    pub fn try_conversion(&mut self, max_arg_len: usize, max_value: usize) {
        if self.is_listpack() && max_arg_len > max_value {
            self.convert_to_table();
        }
    }

    /// Sets a field. Returns true if the field is new. With `keep_ttl` the field keeps
    /// its TTL (HINCRBY); otherwise an overwritten field loses it (HSET).
    pub fn set(
        &mut self,
        field: &[u8],
        value: &[u8],
        keep_ttl: bool,
        max_entries: usize,
        max_value: usize,
    ) -> bool {
        if self.is_listpack() && (field.len() > max_value || value.len() > max_value) {
            self.convert_to_table();
        }
        if !keep_ttl {
            if let Some(t) = self.ttl.as_mut() {
                t.remove(field);
            }
        }
        let new = match &mut self.enc {
            Enc::Listpack(b, n) => match lp_find(b, field) {
                Some((start, _, end)) => {
                    let mut pair = Vec::with_capacity(pair_size(field, value));
                    encode_pair(&mut pair, field, value);
                    splice(b, start, end, &pair);
                    false
                }
                None => {
                    // Grown with realloc (see `splice`).
                    let mut v = std::mem::take(b).into_vec();
                    v.reserve_exact(pair_size(field, value));
                    encode_pair(&mut v, field, value);
                    *b = v.into_boxed_slice();
                    *n += 1;
                    true
                }
            },
            Enc::Table(d) => d
                .insert(fhash(field), field, value.into(), &fhash)
                .is_none(),
        };
        if new && self.len() > max_entries {
            self.convert_to_table();
        }
        new
    }

    /// Deletes a field (and its TTL). Returns true if it existed.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        let found = match &mut self.enc {
            Enc::Listpack(b, n) => match lp_find(b, field) {
                Some((start, _, end)) => {
                    splice(b, start, end, &[]);
                    *n -= 1;
                    true
                }
                None => false,
            },
            Enc::Table(d) => d.remove(fhash(field), field, &fhash).is_some(),
        };
        if found {
            if let Some(t) = self.ttl.as_mut() {
                t.remove(field);
            }
        }
        found
    }

    /// Visits every field and value (listpack: insertion order).
    pub fn for_each(&self, mut f: impl FnMut(&[u8], &[u8])) {
        match &self.enc {
            Enc::Listpack(b, _) => {
                for (k, v, _, _) in lp_iter(b) {
                    f(k, v);
                }
            }
            Enc::Table(d) => d.for_each(|k, v| f(k, v)),
        }
    }

    /// All pairs, in iteration order.
    pub fn pairs(&self) -> Vec<(&[u8], &[u8])> {
        let mut out = Vec::with_capacity(self.len());
        match &self.enc {
            Enc::Listpack(b, _) => {
                for (k, v, _, _) in lp_iter(b) {
                    out.push((k, v));
                }
            }
            Enc::Table(d) => out.extend(d.iter().map(|(k, v)| (k, &v[..]))),
        }
        out
    }

    /// One HSCAN step: visits the pairs of one bucket (all pairs for a listpack) and
    /// returns the next cursor (0 when done).
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&[u8], &[u8])) -> u64 {
        match &self.enc {
            Enc::Listpack(..) => {
                self.for_each(f);
                0
            }
            Enc::Table(d) => d.scan(cursor, |k, v| f(k, v)),
        }
    }

    /// A random pair, chosen as Redis's `dictGetFairRandomKey` roughly does (a random
    /// bucket, then a random element of its chain); uniform for a listpack.
    pub fn random_pair(&self, mut rand: impl FnMut() -> u64) -> Option<(&[u8], &[u8])> {
        match &self.enc {
            Enc::Listpack(b, n) => {
                if *n == 0 {
                    return None;
                }
                let i = (rand() % *n as u64) as usize;
                lp_iter(b).nth(i).map(|(k, v, _, _)| (k, v))
            }
            Enc::Table(d) => d.random(rand).map(|(k, v)| (k, &v[..])),
        }
    }

    // ---- field TTLs -------------------------------------------------------------

    /// True if the hash carries the field-TTL index (see module docs).
    pub fn has_field_ttls(&self) -> bool {
        self.ttl.as_ref().is_some_and(|t| !t.by_field.is_empty())
    }

    /// Earliest field expiry, if any field has a TTL.
    pub fn min_expire(&self) -> Option<u64> {
        self.ttl.as_ref()?.by_time.first().map(|(at, _)| *at)
    }

    /// The field's expiry time (Unix ms), if it has one.
    pub fn field_expire(&self, field: &[u8]) -> Option<u64> {
        self.ttl.as_ref()?.by_field.get(field).copied()
    }

    /// Sets a field's expiry (the field must exist). Creates the TTL index (the
    /// encoding becomes `listpackex` for a listpack).
    pub fn set_field_expire(&mut self, field: &[u8], at: u64) {
        self.ttl.get_or_insert_with(Default::default).set(field, at);
    }

    /// Creates the TTL index without setting any TTL (Redis converts a listpack to
    /// `listpackex` as soon as a field-expiry command touches the hash).
    pub fn enable_field_ttls(&mut self) {
        self.ttl.get_or_insert_with(Default::default);
    }

    /// Removes a field's TTL; returns true if it had one.
    pub fn persist_field(&mut self, field: &[u8]) -> bool {
        self.ttl.as_mut().is_some_and(|t| t.remove(field).is_some())
    }

    /// True if some field expired at `now` and has not been removed yet.
    #[inline]
    pub fn has_expired(&self, now: u64) -> bool {
        self.min_expire().is_some_and(|m| m <= now)
    }

    /// Deletes every field whose TTL has passed (expiry `<= now`), at most `limit`;
    /// returns how many were deleted.
    pub fn purge_expired(&mut self, now: u64, limit: usize) -> usize {
        let mut expired: Vec<Box<[u8]>> = Vec::new();
        if let Some(t) = self.ttl.as_mut() {
            while expired.len() < limit {
                match t.by_time.first() {
                    Some((at, _)) if *at <= now => {}
                    _ => break,
                }
                if let Some((_, f)) = t.by_time.pop_first() {
                    t.by_field.remove(&f);
                    expired.push(f);
                }
            }
        }
        for f in &expired {
            self.remove(f);
        }
        expired.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listpack_then_table() {
        let mut h = HashValue::new();
        assert_eq!(h.encoding(), "listpack");
        for i in 0..10 {
            assert!(h.set(format!("f{i}").as_bytes(), b"v", false, 16, 64));
        }
        assert!(!h.set(b"f3", b"new value", false, 16, 64));
        assert_eq!(h.get(b"f3"), Some(&b"new value"[..]));
        assert_eq!(h.len(), 10);
        let keys: Vec<Vec<u8>> = h.pairs().iter().map(|(k, _)| k.to_vec()).collect();
        assert_eq!(keys[0], b"f0");
        assert_eq!(keys[9], b"f9");
        assert!(h.remove(b"f0"));
        assert!(!h.remove(b"f0"));
        assert_eq!(h.len(), 9);
        for i in 10..20 {
            h.set(format!("f{i}").as_bytes(), b"v", false, 16, 64);
        }
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), 19);
        assert_eq!(h.get(b"f3"), Some(&b"new value"[..]));
        assert_eq!(h.pairs().len(), 19);
        let mut long = HashValue::new();
        long.set(b"f", &[b'x'; 65], false, 16, 64);
        assert_eq!(long.encoding(), "hashtable");
        // Long lengths use multi-byte prefixes.
        let mut big = HashValue::new();
        big.set(&[b'k'; 300], &[b'v'; 1000], false, 16, 2000);
        assert_eq!(big.encoding(), "listpack");
        assert_eq!(big.get(&[b'k'; 300]).map(|v| v.len()), Some(1000));
    }

    #[test]
    fn field_ttls() {
        let mut h = HashValue::new();
        h.set(b"a", b"1", false, 16, 64);
        h.set(b"b", b"2", false, 16, 64);
        h.set_field_expire(b"a", 100);
        assert_eq!(h.encoding(), "listpackex");
        assert!(!h.has_expired(99));
        assert!(h.has_expired(100));
        // HINCRBY-style writes keep the TTL, HSET-style writes drop it.
        h.set(b"a", b"5", true, 16, 64);
        assert_eq!(h.field_expire(b"a"), Some(100));
        assert_eq!(h.purge_expired(100, usize::MAX), 1);
        assert_eq!(h.len(), 1);
        h.set_field_expire(b"b", 50);
        h.set(b"b", b"3", false, 16, 64);
        assert_eq!(h.field_expire(b"b"), None);
        assert_eq!(h.purge_expired(1000, usize::MAX), 0);
        assert_eq!(h.encoding(), "listpackex");
    }
}
