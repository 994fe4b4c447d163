//! String values with Redis's three encodings.
//!
//! * `int`: the string is the canonical decimal form of an i64 (what `SET k 123` and
//!   `INCR` store); kept as the number, no heap allocation.
//! * `embstr`: a short string (at most 44 bytes, Redis's OBJ_ENCODING_EMBSTR_SIZE_LIMIT).
//! * `raw`: a longer string, or one that was modified in place (APPEND, SETRANGE,
//!   SETBIT), which is then kept with spare capacity so repeated appends are amortised.
//!
//! Strings that were never modified are stored inside the value itself when they fit
//! ([`StrValue::Inline`], up to [`INLINE_MAX`] bytes: no heap allocation at all, which
//! is most of the difference in bytes per key for small cached values, counters and
//! tokens), otherwise in one exactly-sized allocation ([`StrValue::Emb`]) whatever their
//! length; the reported encoding follows Redis's rule from the length. Only modified
//! strings pay for a growable buffer.
//!
//! The distinction between embstr and raw is only visible through OBJECT ENCODING, but
//! clients and test suites look at it, so it is tracked exactly as Redis does.

use crate::util::num::parse_i64;

/// Redis's OBJ_ENCODING_EMBSTR_SIZE_LIMIT.
pub const EMBSTR_LIMIT: usize = 44;

/// Longest string kept inside the value (the 24-byte `Value` minus the tag and a
/// length byte).
pub const INLINE_MAX: usize = 22;

/// A short string stored in place: `len` bytes of `buf` are the string.
#[derive(Clone, Copy)]
pub struct InlineStr {
    len: u8,
    buf: [u8; INLINE_MAX],
}

impl InlineStr {
    /// `None` if `b` is longer than [`INLINE_MAX`].
    fn new(b: &[u8]) -> Option<InlineStr> {
        let mut buf = [0u8; INLINE_MAX];
        buf.get_mut(..b.len())?.copy_from_slice(b);
        Some(InlineStr {
            len: b.len() as u8,
            buf,
        })
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[..(self.len as usize).min(INLINE_MAX)]
    }
}

/// A byte string of a collection element (a big hash's field value): up to
/// [`INLINE_MAX`] bytes in place, longer ones in one exactly-sized allocation. 24
/// bytes, so a hash-table node (`Key` + value + chain pointer) stays 48 bytes and a
/// short value costs no allocation of its own.
#[derive(Clone)]
pub enum SmallBytes {
    Inline(InlineStr),
    Heap(Box<[u8]>),
}

impl SmallBytes {
    /// Bytes allocated outside the value.
    pub fn heap_size(&self) -> usize {
        match self {
            SmallBytes::Inline(_) => 0,
            SmallBytes::Heap(b) => b.len(),
        }
    }
}

impl From<SmallBytes> for Vec<u8> {
    /// The bytes, without a copy for heap-stored ones.
    fn from(b: SmallBytes) -> Vec<u8> {
        match b {
            SmallBytes::Inline(i) => i.bytes().to_vec(),
            SmallBytes::Heap(b) => b.into_vec(),
        }
    }
}

impl From<&[u8]> for SmallBytes {
    fn from(b: &[u8]) -> SmallBytes {
        match InlineStr::new(b) {
            Some(i) => SmallBytes::Inline(i),
            None => SmallBytes::Heap(b.into()),
        }
    }
}

impl std::ops::Deref for SmallBytes {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        match self {
            SmallBytes::Inline(i) => i.bytes(),
            SmallBytes::Heap(b) => b,
        }
    }
}

pub enum StrValue {
    Int(i64),
    /// An unmodified string of at most [`INLINE_MAX`] bytes, stored in place (`embstr`).
    Inline(InlineStr),
    /// An unmodified string, exactly sized (`embstr` up to 44 bytes, `raw` above).
    Emb(Box<[u8]>),
    /// A string modified in place, with spare capacity (always `raw`).
    Raw(Box<Vec<u8>>),
    /// A view of an unmodified string packed into its keyspace node (see
    /// `keyspace::table`): only ever seen through a shared reference the keyspace hands
    /// out for the duration of a borrow, never stored. Reads like [`StrValue::Emb`];
    /// cloning copies the bytes into an owned value.
    Ext(ExtStr),
}

/// The bytes of a string packed in a keyspace node, borrowed (see [`StrValue::Ext`]).
pub struct ExtStr {
    ptr: std::ptr::NonNull<u8>,
    len: u32,
}

// SAFETY: an `ExtStr` is a shared borrow of bytes owned by a keyspace node; it lives
// only inside a view (`keyspace::table::EntryRef`) whose lifetime keeps the node alive
// and unchanged, like a `&[u8]`.
unsafe impl Send for ExtStr {}
unsafe impl Sync for ExtStr {}

impl ExtStr {
    /// # Safety
    /// `ptr..ptr+len` must stay valid and unchanged for as long as the value built
    /// from it is reachable, and that value must never be stored (only lent out).
    pub unsafe fn new(ptr: *const u8, len: usize) -> ExtStr {
        ExtStr {
            // SAFETY: the caller passes a pointer into a live allocation.
            ptr: unsafe { std::ptr::NonNull::new_unchecked(ptr as *mut u8) },
            len: len as u32,
        }
    }

    #[inline]
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: see `ExtStr::new`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len as usize) }
    }
}

impl Clone for StrValue {
    fn clone(&self) -> StrValue {
        match self {
            StrValue::Int(n) => StrValue::Int(*n),
            StrValue::Inline(s) => StrValue::Inline(*s),
            StrValue::Emb(b) => StrValue::Emb(b.clone()),
            StrValue::Raw(v) => StrValue::Raw(v.clone()),
            // A borrowed view becomes an owned value of the kind it was packed from.
            StrValue::Ext(e) => StrValue::emb(e.bytes()),
        }
    }
}

impl StrValue {
    /// Creates a value from bytes a client sent, choosing the encoding as Redis's
    /// `tryObjectEncoding` does for SET.
    pub fn from_bytes(b: &[u8]) -> StrValue {
        if b.len() <= 20 {
            if let Some(n) = parse_i64(b) {
                return StrValue::Int(n);
            }
        }
        StrValue::emb(b)
    }

    /// An unmodified string without trying the integer encoding: in place when short,
    /// otherwise one exactly-sized allocation.
    pub fn emb(b: &[u8]) -> StrValue {
        match InlineStr::new(b) {
            Some(s) => StrValue::Inline(s),
            None => StrValue::Emb(b.into()),
        }
    }

    /// The stored bytes, for values not kept as an integer (HLL reads them in place).
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            StrValue::Int(_) => None,
            StrValue::Inline(s) => Some(s.bytes()),
            StrValue::Emb(b) => Some(b),
            StrValue::Raw(v) => Some(v),
            StrValue::Ext(e) => Some(e.bytes()),
        }
    }

    /// The bytes of a string that may be packed into its keyspace node: an unmodified,
    /// non-integer string (`Inline`, `Emb`, or a borrowed `Ext`).
    #[inline]
    pub fn packable_bytes(&self) -> Option<&[u8]> {
        match self {
            StrValue::Inline(s) => Some(s.bytes()),
            StrValue::Emb(b) => Some(b),
            StrValue::Ext(e) => Some(e.bytes()),
            _ => None,
        }
    }

    /// [`StrValue::from_bytes`] for a value about to be passed to `Txn::set`, which
    /// copies it into the keyspace: no allocation for a string that ends up packed
    /// into its node.
    ///
    /// # Safety
    /// The result must be passed to `Txn::set` / `Txn::set_with_expire` (which copy it)
    /// while `b` is alive, and not kept or used otherwise.
    pub unsafe fn for_set(b: &[u8]) -> StrValue {
        if b.len() <= 20 {
            if let Some(n) = parse_i64(b) {
                return StrValue::Int(n);
            }
        }
        if b.len() <= INLINE_MAX {
            return StrValue::emb(b);
        }
        // SAFETY: per the contract above, `b` outlives the value.
        StrValue::Ext(unsafe { ExtStr::new(b.as_ptr(), b.len()) })
    }

    /// A raw (mutable) string, as produced by APPEND/SETRANGE on a new key.
    pub fn raw(v: Vec<u8>) -> StrValue {
        StrValue::Raw(Box::new(v))
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            StrValue::Int(_) => "int",
            StrValue::Inline(_) => "embstr",
            StrValue::Emb(b) if b.len() <= EMBSTR_LIMIT => "embstr",
            StrValue::Ext(e) if e.bytes().len() <= EMBSTR_LIMIT => "embstr",
            StrValue::Emb(_) | StrValue::Ext(_) | StrValue::Raw(_) => "raw",
        }
    }

    pub fn heap_size(&self) -> usize {
        match self {
            // A packed string's bytes are counted with its node.
            StrValue::Int(_) | StrValue::Inline(_) | StrValue::Ext(_) => 0,
            StrValue::Emb(b) => b.len(),
            StrValue::Raw(v) => v.capacity() + std::mem::size_of::<Vec<u8>>(),
        }
    }

    /// Length of the string form.
    pub fn len(&self) -> usize {
        match self {
            StrValue::Int(n) => itoa::Buffer::new().format(*n).len(),
            StrValue::Inline(s) => s.len as usize,
            StrValue::Emb(b) => b.len(),
            StrValue::Raw(v) => v.len(),
            StrValue::Ext(e) => e.bytes().len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f` with the string form (formats integers on the stack).
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            StrValue::Int(n) => {
                let mut b = itoa::Buffer::new();
                f(b.format(*n).as_bytes())
            }
            StrValue::Inline(s) => f(s.bytes()),
            StrValue::Emb(b) => f(b),
            StrValue::Raw(v) => f(v),
            StrValue::Ext(e) => f(e.bytes()),
        }
    }

    /// Owned copy of the string form.
    pub fn to_vec(&self) -> Vec<u8> {
        self.with_bytes(|b| b.to_vec())
    }

    /// The integer value, if the string is a valid integer (as INCR accepts it).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            StrValue::Int(n) => Some(*n),
            StrValue::Inline(s) => parse_i64(s.bytes()),
            StrValue::Emb(b) => parse_i64(b),
            StrValue::Raw(v) => parse_i64(v),
            StrValue::Ext(e) => parse_i64(e.bytes()),
        }
    }

    /// Converts to the `raw` encoding in place and returns the mutable buffer
    /// (for APPEND, SETRANGE, SETBIT, BITFIELD).
    pub fn make_raw(&mut self) -> &mut Vec<u8> {
        if !matches!(self, StrValue::Raw(_)) {
            let v = self.to_vec();
            *self = StrValue::Raw(Box::new(v));
        }
        match self {
            StrValue::Raw(v) => v,
            _ => unreachable!("converted to raw above"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert_eq!(StrValue::from_bytes(b"123").encoding(), "int");
        assert_eq!(StrValue::from_bytes(b"0123").encoding(), "embstr");
        assert_eq!(StrValue::from_bytes(&[b'a'; 44]).encoding(), "embstr");
        assert_eq!(StrValue::from_bytes(&[b'a'; 45]).encoding(), "raw");
        let mut s = StrValue::from_bytes(b"12");
        s.make_raw().push(b'3');
        assert_eq!(s.to_vec(), b"123");
        assert_eq!(s.encoding(), "raw");
    }

    #[test]
    fn inline_strings() {
        for n in [
            0,
            1,
            INLINE_MAX,
            INLINE_MAX + 1,
            EMBSTR_LIMIT,
            EMBSTR_LIMIT + 1,
        ] {
            let b: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
            let s = StrValue::from_bytes(&b);
            assert_eq!(matches!(s, StrValue::Inline(_)), n <= INLINE_MAX, "len {n}");
            assert_eq!(s.to_vec(), b);
            assert_eq!(s.len(), n);
            assert_eq!(s.as_bytes(), Some(&b[..]));
            assert_eq!(s.heap_size() == 0, n <= INLINE_MAX);
            let enc = if n <= EMBSTR_LIMIT { "embstr" } else { "raw" };
            assert_eq!(s.encoding(), enc);
        }
        assert_eq!(std::mem::size_of::<StrValue>(), 24);
        // A big hash's node: Key + SmallBytes + chain pointer, one 48-byte class.
        assert_eq!(std::mem::size_of::<SmallBytes>(), 24);
        assert_eq!(
            std::mem::size_of::<crate::keyspace::dict::Node<SmallBytes>>(),
            48
        );
        for n in [0usize, 1, INLINE_MAX, INLINE_MAX + 1, 100] {
            let b: Vec<u8> = (0..n).map(|i| i as u8).collect();
            let v = SmallBytes::from(&b[..]);
            assert_eq!(&*v, &b[..]);
            assert_eq!(v.heap_size() == 0, n <= INLINE_MAX);
            assert_eq!(&*v.clone(), &b[..]);
        }
        let mut s = StrValue::from_bytes(b"0042");
        assert_eq!(s.as_i64(), None, "not canonical, as string2ll");
        s.make_raw().extend_from_slice(b"x");
        assert_eq!(s.to_vec(), b"0042x");
    }
}
