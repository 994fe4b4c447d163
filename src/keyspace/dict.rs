//! `Dict`: the chained hash table that stores one keyspace shard.
//!
//! Written by hand (rather than using `HashMap`) for one property Redis users rely on:
//! **SCAN's guarantee** that a full iteration returns every key present for its whole
//! duration, even when the table grows or shrinks between calls. That needs Redis's
//! reverse-binary cursor over a power-of-two table where a key's bucket is
//! `hash & mask`: growing or shrinking the table keeps every bucket's keys inside the
//! buckets the cursor has not visited yet (see [`Dict::scan`]).
//!
//! Invariants:
//! * `table.len()` is 0 or a power of two; a key lives in bucket `hash(key) & (len - 1)`.
//! * `len` is the number of entries; the table grows when `len >= buckets` and shrinks
//!   when fewer than 1/8 of the buckets would be used, so chains stay short.
//! * Resizing is done at once. The keyspace is split into many shards, so one shard's
//!   rehash touches only a small fraction of the keys and pauses only that shard.
//!
//! Hashes are computed by the caller (the keyspace hashes once to pick the shard and
//! passes the same hash down); rehashing recomputes them with the function provided.

/// One entry of a bucket chain.
pub struct Node<V> {
    pub key: Key,
    pub value: V,
    next: Option<Box<Node<V>>>,
}

/// Entries removed by [`Dict::scan_remove`].
pub type Removed<V> = Vec<(Key, V)>;

/// A key (or set member, or hash field) as a node stores it: 16 bytes in the node,
/// holding keys of up to [`Key::INLINE`] bytes in place and longer ones in one heap
/// allocation. Most keys are short (`user:1234`, `session:ab12cd`), so most nodes are
/// one allocation instead of two: for a database of small keys that is 16 bytes per
/// key less, and one pointer chase less per lookup.
///
/// Layout: byte 15 is the inline length (0..=15) or [`HEAP`]; a heap key keeps its
/// pointer in bytes 0..8 and its length in bytes 8..15 (56 bits). Any other value of
/// byte 15 means a 16-byte key stored whole, its last byte doing double duty as the
/// tag: a 16-byte key fits in place unless it ends in a byte 0..=15, 0xFE or 0xFF, so
/// the common `prefix:%012d` shape (`key:000000012345`, redis-benchmark's keys) takes
/// no allocation either.
///
/// A third form exists only inside the keyspace's nodes ([`Table`](super::table)):
/// [`TAIL`], whose bytes the node keeps right after its fixed part, in the node's own
/// allocation (bytes 0..8 hold the length). Such a key is never dereferenced as a
/// `Key` (the table reads the bytes from the node) and owns nothing.
pub struct Key {
    repr: [u8; 16],
}

const HEAP: u8 = 0xFF;
const TAIL: u8 = 0xFE;

// SAFETY: a heap `Key` owns its allocation exclusively (like `Box<[u8]>`); shared
// references only read it.
unsafe impl Send for Key {}
unsafe impl Sync for Key {}

impl Key {
    /// Longest key always stored in place.
    pub const INLINE: usize = 15;

    /// Whether `b` is stored in place (no heap allocation).
    #[inline]
    pub fn fits_inline(b: &[u8]) -> bool {
        b.len() <= Key::INLINE || (b.len() == 16 && b[15] > 15 && b[15] < TAIL)
    }

    /// The placeholder of a key of `len` bytes kept in its node's tail.
    pub(super) fn tail(len: usize) -> Key {
        let mut repr = [0u8; 16];
        repr[..8].copy_from_slice(&(len as u64).to_le_bytes());
        repr[15] = TAIL;
        Key { repr }
    }

    /// The length of a key kept in its node's tail; `None` for every other form.
    #[inline]
    pub(super) fn tail_len(&self) -> Option<usize> {
        if self.repr[15] == TAIL {
            let mut l = [0u8; 8];
            l.copy_from_slice(&self.repr[..8]);
            Some(u64::from_le_bytes(l) as usize)
        } else {
            None
        }
    }

    /// Bytes a key of these bytes allocates outside its node (0 when in place; the
    /// allocator's size class otherwise): MEMORY USAGE, eviction's estimate.
    pub fn alloc_size(b: &[u8]) -> usize {
        if Key::fits_inline(b) {
            0
        } else {
            crate::memory::size_class(b.len())
        }
    }

    pub fn new(b: &[u8]) -> Key {
        let mut repr = [0u8; 16];
        if b.len() <= Key::INLINE {
            repr[..b.len()].copy_from_slice(b);
            repr[15] = b.len() as u8;
        } else if Key::fits_inline(b) {
            repr.copy_from_slice(b);
        } else {
            let boxed: Box<[u8]> = b.into();
            let len = boxed.len() as u64;
            let ptr = Box::into_raw(boxed) as *mut u8 as usize as u64;
            repr[..8].copy_from_slice(&ptr.to_le_bytes());
            repr[8..15].copy_from_slice(&len.to_le_bytes()[..7]);
            repr[15] = HEAP;
        }
        Key { repr }
    }

    #[inline]
    fn heap_parts(&self) -> (*mut u8, usize) {
        let mut p = [0u8; 8];
        p.copy_from_slice(&self.repr[..8]);
        let mut l = [0u8; 8];
        l[..7].copy_from_slice(&self.repr[8..15]);
        (
            u64::from_le_bytes(p) as usize as *mut u8,
            u64::from_le_bytes(l) as usize,
        )
    }

    /// Where a key with its own allocation keeps its bytes (for prefetching).
    #[inline]
    fn heap_ptr(&self) -> Option<*const u8> {
        (self.repr[15] == HEAP).then(|| self.heap_parts().0 as *const u8)
    }

    /// Bytes allocated outside the node for this key (MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        if self.repr[15] == HEAP {
            self.len()
        } else {
            0
        }
    }
}

impl std::ops::Deref for Key {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        let tag = self.repr[15];
        debug_assert!(tag != TAIL, "a tail key is read through its node");
        if (tag as usize) <= Key::INLINE {
            &self.repr[..tag as usize]
        } else if tag == HEAP {
            let (ptr, len) = self.heap_parts();
            // SAFETY: `ptr`/`len` came from a live `Box<[u8]>` this key owns.
            unsafe { std::slice::from_raw_parts(ptr, len) }
        } else {
            &self.repr
        }
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        if self.repr[15] == HEAP {
            let (ptr, len) = self.heap_parts();
            // SAFETY: rebuilds the `Box<[u8]>` leaked in `Key::new`, exactly once.
            drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len)) });
        }
    }
}

impl Clone for Key {
    fn clone(&self) -> Key {
        Key::new(self)
    }
}

impl From<&[u8]> for Key {
    fn from(b: &[u8]) -> Key {
        Key::new(b)
    }
}

impl From<Box<[u8]>> for Key {
    fn from(b: Box<[u8]>) -> Key {
        Key::new(&b)
    }
}

impl From<Key> for Box<[u8]> {
    fn from(k: Key) -> Box<[u8]> {
        (*k).into()
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self))
    }
}

/// A hint to the CPU to start loading the cache line at `p`. Never faults (any address
/// will do) and reads nothing into the program; a no-op where not available.
#[inline(always)]
pub(crate) fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 is a hint; it does not fault on any address.
    unsafe {
        std::arch::x86_64::_mm_prefetch(p as *const i8, std::arch::x86_64::_MM_HINT_T0)
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// The cursor after `cursor` in a table of `mask + 1` buckets: the reverse-binary
/// increment (see [`Dict::scan`]).
#[inline]
pub fn next_cursor(cursor: u64, mask: u64) -> u64 {
    let mut v = cursor | !mask;
    v = v.reverse_bits();
    v = v.wrapping_add(1);
    v.reverse_bits()
}

/// The size to grow a table of `buckets` holding `len` entries to before an insert.
#[inline]
pub fn grown(len: usize, buckets: usize) -> Option<usize> {
    (len >= buckets).then(|| (buckets * 2).max(MIN_BUCKETS))
}

/// The size to shrink a table of `buckets` holding `len` entries to (fewer than 1/8
/// of the buckets used).
#[inline]
pub fn shrunk(len: usize, buckets: usize) -> Option<usize> {
    (buckets > MIN_BUCKETS && len * 8 < buckets).then(|| len.next_power_of_two().max(MIN_BUCKETS))
}

pub struct Dict<V> {
    table: Vec<Option<Box<Node<V>>>>,
    len: usize,
}

const MIN_BUCKETS: usize = 4;

impl<V> Default for Dict<V> {
    fn default() -> Self {
        Dict::new()
    }
}

impl<V> Dict<V> {
    pub const fn new() -> Self {
        Dict {
            table: Vec::new(),
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of buckets (for MEMORY/DEBUG statistics).
    pub fn buckets(&self) -> usize {
        self.table.len()
    }

    #[inline]
    fn mask(&self) -> usize {
        self.table.len().wrapping_sub(1)
    }

    /// Starts loading, for each of `hashes`, its bucket, then the first node of that
    /// bucket, then that node's key if it has its own allocation and what `value_heap`
    /// says its value keeps outside the node: a batch of lookups to come into a big
    /// collection (see `Keyspace::prefetch`) overlaps its cache misses instead of
    /// taking them one after another. Only hints; nothing changes.
    pub fn prefetch(&self, hashes: &[u64], value_heap: impl Fn(&V) -> Option<*const u8>) {
        if self.table.is_empty() {
            return;
        }
        let mask = self.mask();
        for &h in hashes {
            prefetch(self.table.as_ptr().wrapping_add(h as usize & mask) as *const u8);
        }
        for &h in hashes {
            if let Some(n) = self.table[h as usize & mask].as_deref() {
                prefetch(n as *const Node<V> as *const u8);
            }
        }
        for &h in hashes {
            if let Some(n) = self.table[h as usize & mask].as_deref() {
                if let Some(p) = n.key.heap_ptr() {
                    prefetch(p);
                }
                if let Some(p) = value_heap(&n.value) {
                    prefetch(p);
                }
            }
        }
    }

    pub fn get(&self, hash: u64, key: &[u8]) -> Option<&V> {
        if self.table.is_empty() {
            return None;
        }
        let mut cur = self.table[hash as usize & self.mask()].as_deref();
        while let Some(n) = cur {
            if &*n.key == key {
                return Some(&n.value);
            }
            cur = n.next.as_deref();
        }
        None
    }

    pub fn get_mut(&mut self, hash: u64, key: &[u8]) -> Option<&mut V> {
        if self.table.is_empty() {
            return None;
        }
        let idx = hash as usize & self.mask();
        let mut cur = self.table[idx].as_deref_mut();
        while let Some(n) = cur {
            if &*n.key == key {
                return Some(&mut n.value);
            }
            cur = n.next.as_deref_mut();
        }
        None
    }

    /// Inserts or replaces; returns the previous value if the key existed.
    pub fn insert(
        &mut self,
        hash: u64,
        key: &[u8],
        value: V,
        rehash: &dyn Fn(&[u8]) -> u64,
    ) -> Option<V> {
        if let Some(v) = self.get_mut(hash, key) {
            return Some(std::mem::replace(v, value));
        }
        self.insert_new(hash, key.into(), value, rehash);
        None
    }

    /// Inserts a key known to be absent.
    pub fn insert_new(
        &mut self,
        hash: u64,
        key: Key,
        value: V,
        rehash: &dyn Fn(&[u8]) -> u64,
    ) -> &mut V {
        if let Some(want) = grown(self.len, self.table.len()) {
            self.resize(want, rehash);
        }
        let idx = hash as usize & self.mask();
        let next = self.table[idx].take();
        self.table[idx] = Some(Box::new(Node { key, value, next }));
        self.len += 1;
        match self.table[idx].as_deref_mut() {
            Some(n) => &mut n.value,
            None => unreachable!("bucket was just filled"),
        }
    }

    /// Removes a key, returning its owned key and value.
    pub fn remove(
        &mut self,
        hash: u64,
        key: &[u8],
        rehash: &dyn Fn(&[u8]) -> u64,
    ) -> Option<(Key, V)> {
        if self.table.is_empty() {
            return None;
        }
        let idx = hash as usize & self.mask();
        let mut link = &mut self.table[idx];
        loop {
            match link {
                None => return None,
                Some(n) if &*n.key == key => {
                    let mut node = link.take()?;
                    *link = node.next.take();
                    self.len -= 1;
                    self.maybe_shrink(rehash);
                    let Node { key, value, .. } = *node;
                    return Some((key, value));
                }
                Some(n) => link = &mut n.next,
            }
        }
    }

    fn maybe_shrink(&mut self, rehash: &dyn Fn(&[u8]) -> u64) {
        if let Some(want) = shrunk(self.len, self.table.len()) {
            self.resize(want, rehash);
        }
    }

    fn resize(&mut self, buckets: usize, rehash: &dyn Fn(&[u8]) -> u64) {
        debug_assert!(buckets.is_power_of_two());
        let old = std::mem::take(&mut self.table);
        self.table.resize_with(buckets, || None);
        let mask = buckets - 1;
        for mut chain in old {
            while let Some(mut node) = chain {
                chain = node.next.take();
                let idx = rehash(&node.key) as usize & mask;
                node.next = self.table[idx].take();
                self.table[idx] = Some(node);
            }
        }
    }

    /// Removes everything and releases the table.
    pub fn clear(&mut self) {
        // Unlink chains iteratively so dropping a long chain cannot overflow the stack.
        for slot in self.table.iter_mut() {
            let mut chain = slot.take();
            while let Some(mut n) = chain {
                chain = n.next.take();
            }
        }
        self.table = Vec::new();
        self.len = 0;
    }

    /// Visits every entry (no guarantee of order).
    pub fn for_each(&self, mut f: impl FnMut(&[u8], &V)) {
        for slot in &self.table {
            let mut cur = slot.as_deref();
            while let Some(n) = cur {
                f(&n.key, &n.value);
                cur = n.next.as_deref();
            }
        }
    }

    /// Visits every entry mutably (no guarantee of order).
    pub fn for_each_mut(&mut self, mut f: impl FnMut(&[u8], &mut V)) {
        for slot in &mut self.table {
            let mut cur = slot.as_deref_mut();
            while let Some(n) = cur {
                f(&n.key, &mut n.value);
                cur = n.next.as_deref_mut();
            }
        }
    }

    /// Like [`Dict::scan`], with mutable access to the entries.
    pub fn scan_mut(&mut self, cursor: u64, mut f: impl FnMut(&[u8], &mut V)) -> u64 {
        if self.table.is_empty() {
            return 0;
        }
        let mask = self.mask() as u64;
        let mut cur = self.table[(cursor & mask) as usize].as_deref_mut();
        while let Some(n) = cur {
            f(&n.key, &mut n.value);
            cur = n.next.as_deref_mut();
        }
        next_cursor(cursor, mask)
    }

    /// Iterates over every entry (no guarantee of order).
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &V)> {
        self.table.iter().flat_map(|slot| {
            let mut cur = slot.as_deref();
            std::iter::from_fn(move || {
                let n = cur?;
                cur = n.next.as_deref();
                Some((&n.key[..], &n.value))
            })
        })
    }

    /// One step of Redis's reverse-binary scan: visits every entry of the bucket the cursor
    /// points at and returns the next cursor (0 when the iteration is complete).
    ///
    /// The cursor's bits are incremented from the most significant end of the mask. A
    /// bucket `b` of a table of size `2^n` holds exactly the keys of buckets `b` and
    /// `b + 2^n` of a table of size `2^(n+1)`; reversing the bits makes those two
    /// adjacent in cursor order, so after a resize the cursor neither skips the keys
    /// that were split off nor the ones merged in (shrinking may repeat some).
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&[u8], &V)) -> u64 {
        if self.table.is_empty() {
            return 0;
        }
        let mask = self.mask() as u64;
        let mut cur = self.table[(cursor & mask) as usize].as_deref();
        while let Some(n) = cur {
            f(&n.key, &n.value);
            cur = n.next.as_deref();
        }
        next_cursor(cursor, mask)
    }

    /// Like [`Dict::scan`] but lets the visitor remove entries (`f` returns true to remove).
    /// Used by active expiry, which walks the table incrementally.
    pub fn scan_remove(
        &mut self,
        cursor: u64,
        mut f: impl FnMut(&[u8], &mut V) -> bool,
    ) -> (u64, Removed<V>) {
        let mut removed = Vec::new();
        if self.table.is_empty() {
            return (0, removed);
        }
        let mask = self.mask() as u64;
        let idx = (cursor & mask) as usize;
        let mut link = &mut self.table[idx];
        loop {
            let remove = match link {
                None => break,
                Some(n) => f(&n.key, &mut n.value),
            };
            if remove {
                if let Some(mut node) = link.take() {
                    *link = node.next.take();
                    self.len -= 1;
                    let Node { key, value, .. } = *node;
                    removed.push((key, value));
                }
            } else if let Some(n) = link {
                link = &mut n.next;
            }
        }
        (next_cursor(cursor, mask), removed)
    }

    /// Shrinks the table if it became sparse (after `scan_remove`).
    pub fn shrink_if_sparse(&mut self, rehash: &dyn Fn(&[u8]) -> u64) {
        self.maybe_shrink(rehash);
    }

    /// A random entry, chosen as Redis does: a random non-empty bucket, then a random
    /// element of its chain. `rand` yields uniformly random u64s.
    pub fn random(&self, mut rand: impl FnMut() -> u64) -> Option<(&[u8], &V)> {
        if self.len == 0 {
            return None;
        }
        let mask = self.mask() as u64;
        loop {
            let idx = (rand() & mask) as usize;
            if let Some(head) = self.table[idx].as_deref() {
                let mut chain_len = 0;
                let mut cur = Some(head);
                while let Some(n) = cur {
                    chain_len += 1;
                    cur = n.next.as_deref();
                }
                let mut pick = (rand() % chain_len) as usize;
                let mut cur = head;
                while pick > 0 {
                    match cur.next.as_deref() {
                        Some(n) => cur = n,
                        None => break,
                    }
                    pick -= 1;
                }
                return Some((&cur.key, &cur.value));
            }
        }
    }
}

impl<V> Drop for Dict<V> {
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn keys_inline_and_on_the_heap() {
        let mut cases: Vec<Vec<u8>> = [0usize, 1, 14, 15, 16, 17, 300, 70_000]
            .iter()
            .map(|&n| (0..n).map(|i| (i * 7 % 251) as u8).collect())
            .collect();
        // 16-byte keys: in place unless the last byte looks like a tag (0..=15, 0xFE,
        // 0xFF).
        for last in [0u8, 1, 15, 16, b'0', b'9', 0xFD, 0xFE, 0xFF] {
            let mut b = b"key:00000000000".to_vec();
            b.push(last);
            cases.push(b);
        }
        for b in cases {
            let n = b.len();
            let k = Key::new(&b);
            assert_eq!(&*k, &b[..], "len {n}");
            let inline = n <= Key::INLINE || (n == 16 && b[15] > 15 && b[15] < 0xFE);
            assert_eq!(Key::fits_inline(&b), inline, "{b:?}");
            assert_eq!(k.heap_size(), if inline { 0 } else { n }, "{b:?}");
            let c = k.clone();
            drop(k);
            assert_eq!(&*c, &b[..]);
            let boxed: Box<[u8]> = c.into();
            assert_eq!(&*boxed, &b[..]);
        }
        assert_eq!(std::mem::size_of::<Key>(), 16);
    }

    fn h(k: &[u8]) -> u64 {
        // A deterministic but well-mixed hash for tests.
        let mut x: u64 = 0xcbf29ce484222325;
        for &b in k {
            x ^= b as u64;
            x = x.wrapping_mul(0x100000001b3);
        }
        x ^ (x >> 29)
    }

    #[test]
    fn insert_get_remove() {
        let mut d: Dict<u32> = Dict::new();
        for i in 0..1000u32 {
            let k = i.to_string();
            assert!(d.insert(h(k.as_bytes()), k.as_bytes(), i, &h).is_none());
        }
        assert_eq!(d.len(), 1000);
        for i in 0..1000u32 {
            let k = i.to_string();
            assert_eq!(d.get(h(k.as_bytes()), k.as_bytes()), Some(&i));
        }
        for i in 0..990u32 {
            let k = i.to_string();
            assert!(d.remove(h(k.as_bytes()), k.as_bytes(), &h).is_some());
        }
        assert_eq!(d.len(), 10);
        assert!(d.buckets() <= 32, "table shrank: {}", d.buckets());
    }

    #[test]
    fn scan_survives_resizes() {
        let mut d: Dict<()> = Dict::new();
        for i in 0..500 {
            let k = format!("stable:{i}");
            d.insert(h(k.as_bytes()), k.as_bytes(), (), &h);
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut step = 0;
        loop {
            cursor = d.scan(cursor, |k, _| {
                seen.insert(k.to_vec());
            });
            // Churn: grow, then shrink, while the scan is in progress.
            step += 1;
            if step % 3 == 0 {
                for j in 0..50 {
                    let k = format!("tmp:{step}:{j}");
                    d.insert(h(k.as_bytes()), k.as_bytes(), (), &h);
                }
            }
            if step % 7 == 0 {
                let tmp: Vec<Vec<u8>> = {
                    let mut v = Vec::new();
                    d.for_each(|k, _| {
                        if k.starts_with(b"tmp:") {
                            v.push(k.to_vec())
                        }
                    });
                    v
                };
                for k in tmp {
                    d.remove(h(&k), &k, &h);
                }
            }
            if cursor == 0 {
                break;
            }
        }
        for i in 0..500 {
            let k = format!("stable:{i}");
            assert!(seen.contains(k.as_bytes()), "missing {k}");
        }
    }
}
