//! `Table`: the hash table of one keyspace shard, whose nodes hold short strings in
//! place.
//!
//! It is [`Dict`](super::dict::Dict)'s chained table and reverse-binary SCAN cursor
//! (same invariants: power-of-two buckets, a key in bucket `hash & mask`, immediate
//! resizes) with one difference that is most of the keyspace's memory: a node is not
//! always a `Key` + [`Entry`]. For the commonest value, an unmodified string of up to a
//! few hundred bytes, the node *is* the value: a 32-byte header (chain pointer, key,
//! LRU, snapshot mark, kind, length), the TTL if the key has one, then the string's
//! bytes, in one allocation of exactly the size it needs. 1M keys of 64 bytes take
//! one 96-byte allocation each instead of a 64-byte node plus a 64-byte string.
//!
//! Layouts (offsets in bytes; every node starts with the same 32 bytes, [`Hdr`]):
//!
//! ```text
//! general  [next 0..8][key 8..24][lru 24..28][snap 28][kind=0 29][- 30..32][expire 32..40][Value 40..64][tail]
//! packed   [next 0..8][key 8..24][lru 24..28][snap 28][kind=1 29][len 30..32][tail][bytes]
//! +ttl     [next 0..8][key 8..24][lru 24..28][snap 28][kind=2 29][len 30..32][tail][expire, 8][bytes]
//! ```
//!
//! `tail` is the key when it does not fit in the 16 bytes of `key` (longer than 16
//! bytes, up to [`MAX_TAIL`]): its bytes follow the node's fixed part, and `key` is a
//! placeholder holding the length ([`Key::tail`]). A lookup then compares the key it
//! is looking for with bytes in the node it has just loaded, instead of chasing a
//! pointer to a separate allocation (a cache miss per lookup on a big keyspace, and an
//! allocation per key). The TTL after a tail is unaligned (read and written as such).
//!
//! A general node is a `GenNode` (`Key` + [`Entry`], `repr(C)`), so `&mut Entry` can be
//! handed out for it. A packed node has no `Entry`; readers get an [`EntryRef`], which
//! holds an `Entry` whose value is a borrowed view ([`StrValue::Ext`]) of the bytes;
//! writers that need `&mut Entry` ([`Table::get_mut`]) turn the node into a general one
//! first (the string becomes an ordinary owned value, as it would have been). Values are
//! packed only when that takes no more memory than a general node plus the string's
//! own allocation ([`packs`]).
//!
//! Invariants: a packed node's `len` bytes are exactly its string; no `Value::Str(Ext)`
//! is ever stored (views only live inside `EntryRef`s, which borrow the table); a node
//! never moves while a reference into it is alive (replacing a node happens only
//! through `&mut Table`).

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::marker::PhantomData;
use std::ops::Deref;
use std::ptr;

use super::dict::{grown, next_cursor, prefetch, shrunk, Key};
use super::Entry;
use crate::types::string::{ExtStr, INLINE_MAX};
use crate::types::{StrValue, Value};

const GENERAL: u8 = 0;
const PACKED: u8 = 1;
const PACKED_TTL: u8 = 2;

/// Size of the common header.
const HDR: usize = 32;
/// Size of a general node's fixed part.
const GEN: usize = std::mem::size_of::<GenNode>();
/// Longest key kept in its node's tail (a longer one has its own allocation).
const MAX_TAIL: usize = 1024;
/// Longest string ever packed (longer ones gain nothing: see [`packs`]).
const MAX_PACKED: usize = 4096;

/// The first 32 bytes of every node.
#[repr(C)]
struct Hdr {
    next: *mut Hdr,
    key: Key,
    lru: u32,
    snap: u8,
    kind: u8,
    len: u16,
}

/// A general node.
#[repr(C)]
struct GenNode {
    next: *mut Hdr,
    key: Key,
    entry: Entry,
}

const _: () = {
    assert!(std::mem::size_of::<Hdr>() == HDR);
    assert!(std::mem::size_of::<GenNode>() == 64);
    assert!(std::mem::offset_of!(GenNode, entry) == 24);
    assert!(std::mem::offset_of!(Hdr, lru) == 24 + std::mem::offset_of!(Entry, lru));
    assert!(std::mem::offset_of!(Hdr, snap) == 24 + std::mem::offset_of!(Entry, snap));
    assert!(std::mem::offset_of!(Hdr, kind) == 24 + std::mem::offset_of!(Entry, kind));
    assert!(std::mem::offset_of!(Entry, expire) == 8);
};

/// Bytes of the tail a node of `key` keeps it in (0: the key is in `Hdr::key`).
#[inline]
fn key_tail(key: &[u8]) -> usize {
    if Key::fits_inline(key) || key.len() > MAX_TAIL {
        0
    } else {
        key.len()
    }
}

/// Bytes of a packed node with a `tail`-byte key holding `len` bytes, with or without
/// a TTL slot.
#[inline]
fn packed_size(tail: usize, len: usize, ttl: bool) -> usize {
    HDR + tail + if ttl { 8 } else { 0 } + len
}

/// The allocation of a general node with a `tail`-byte key.
#[inline]
fn gen_layout(tail: usize) -> Layout {
    // SAFETY: GEN + at most MAX_TAIL bytes, align 8: a valid layout.
    unsafe { Layout::from_size_align_unchecked(GEN + tail, 8) }
}

/// Whether a string of `len` bytes is stored packed (in a node whose key takes `tail`
/// bytes of it): when its packed node takes no more memory (allocator size classes)
/// than a general node plus the string's own allocation (none for strings of up to
/// [`INLINE_MAX`] bytes, kept inside the value).
#[inline]
pub fn packs(tail: usize, len: usize, ttl: bool) -> bool {
    use crate::memory::size_class;
    if len > MAX_PACKED {
        return false;
    }
    let own = if len <= INLINE_MAX {
        0
    } else {
        size_class(len)
    };
    size_class(packed_size(tail, len, ttl)) <= size_class(GEN + tail) + own
}

/// Bytes the node of `key` holding `e` takes in the allocator, with the key's own
/// allocation if it has one (the value's heap excepted): MEMORY USAGE and eviction's
/// estimate.
pub fn node_size(key: &[u8], e: &Entry) -> usize {
    let tail = key_tail(key);
    let own_key = if tail == 0 { Key::alloc_size(key) } else { 0 };
    own_key
        + match &e.value {
            Value::Str(StrValue::Ext(x)) => {
                crate::memory::size_class(packed_size(tail, x.bytes().len(), e.expire != 0))
            }
            _ => crate::memory::size_class(GEN + tail),
        }
}

/// Length of node `p`'s tail key (0: none).
///
/// # Safety
/// `p` must be a live node.
#[inline]
unsafe fn tail_len(p: *mut Hdr) -> usize {
    // SAFETY: by the caller's contract.
    unsafe { (*p).key.tail_len().unwrap_or(0) }
}

/// Where node `p`'s tail starts.
///
/// # Safety
/// `p` must be a live node.
#[inline]
unsafe fn tail_ptr(p: *mut Hdr) -> *mut u8 {
    // SAFETY: per the layout above, within the node's allocation.
    unsafe { (p as *mut u8).add(if (*p).kind == GENERAL { GEN } else { HDR }) }
}

/// Node `p`'s key.
///
/// # Safety
/// `p` must be a live node that outlives `'a`.
#[inline]
unsafe fn node_key<'a>(p: *mut Hdr) -> &'a [u8] {
    // SAFETY: by the caller's contract; a tail key's bytes are in the node.
    unsafe {
        match (*p).key.tail_len() {
            Some(n) => std::slice::from_raw_parts(tail_ptr(p), n),
            None => &*ptr::addr_of!((*p).key),
        }
    }
}

/// Node `p`'s key as an owned `Key` (a tail key copied out).
///
/// # Safety
/// `p` must be a live node; its `key` field is moved out (not to be dropped again).
unsafe fn take_key(p: *mut Hdr) -> Key {
    // SAFETY: by the caller's contract.
    unsafe {
        if (*p).key.tail_len().is_some() {
            Key::new(node_key(p))
        } else {
            ptr::read(&(*p).key)
        }
    }
}

/// A node's packed bytes and TTL.
///
/// # Safety
/// `p` must be a live packed node.
#[inline]
unsafe fn packed_parts<'a>(p: *mut Hdr) -> (&'a [u8], u64) {
    // SAFETY: per the layout above, within the node's allocation.
    unsafe {
        let len = (*p).len as usize;
        let base = (p as *mut u8).add(HDR + tail_len(p));
        if (*p).kind == PACKED_TTL {
            let exp = ptr::read_unaligned(base as *const u64);
            (std::slice::from_raw_parts(base.add(8), len), exp)
        } else {
            (std::slice::from_raw_parts(base, len), 0)
        }
    }
}

/// A node's TTL (0: none).
///
/// # Safety
/// `p` must be a live node.
#[inline]
unsafe fn node_expire(p: *mut Hdr) -> u64 {
    // SAFETY: per the layout above, within the node's allocation.
    unsafe {
        match (*p).kind {
            GENERAL => (*(p as *mut GenNode)).entry.expire,
            PACKED_TTL => ptr::read_unaligned((p as *mut u8).add(HDR + tail_len(p)) as *const u64),
            _ => 0,
        }
    }
}

/// The entry of node `p`, as a reader sees it.
///
/// # Safety
/// `p` must be a live node that outlives `'a` unchanged.
#[inline]
unsafe fn view<'a>(p: *mut Hdr) -> EntryRef<'a> {
    // SAFETY: by the caller's contract.
    unsafe {
        if (*p).kind == GENERAL {
            EntryRef(Repr::Node(&(*(p as *mut GenNode)).entry))
        } else {
            let entry = packed_as_entry(p, |b| {
                Value::Str(StrValue::Ext(ExtStr::new(b.as_ptr(), b.len())))
            });
            EntryRef(Repr::Packed(entry, PhantomData))
        }
    }
}

/// Turns a borrowed string ([`StrValue::Ext`], e.g. a command's argument passed to
/// `Txn::set`) into an owned one before it is stored in a general node.
#[inline]
fn owned(v: &mut Value) {
    if let Value::Str(s @ StrValue::Ext(_)) = v {
        *s = s.clone();
    }
}

/// Allocates `layout` for a node.
#[inline]
fn alloc_node(layout: Layout) -> *mut Hdr {
    // SAFETY: node layouts have a non-zero size.
    let p = unsafe { alloc(layout) } as *mut Hdr;
    if p.is_null() {
        handle_alloc_error(layout);
    }
    p
}

/// Allocates a general node for `key` (`Hdr::key` already made: the key itself, or a
/// tail placeholder whose bytes are `tail`) and `entry`.
fn make_general(key: Key, tail: &[u8], mut entry: Entry) -> *mut Hdr {
    entry.kind = GENERAL;
    owned(&mut entry.value);
    let p = alloc_node(gen_layout(tail.len()));
    // SAFETY: a fresh allocation of GEN + tail bytes; every field is written.
    unsafe {
        (p as *mut GenNode).write(GenNode {
            next: ptr::null_mut(),
            key,
            entry,
        });
        ptr::copy_nonoverlapping(tail.as_ptr(), (p as *mut u8).add(GEN), tail.len());
    }
    p
}

/// Allocates a node for `key` and `e` (packed if [`packs`] says so; a borrowed string
/// is copied either way).
fn make_node(key: &[u8], e: Entry) -> *mut Hdr {
    let tail = key_tail(key);
    let (k, tail_bytes) = if tail > 0 {
        (Key::tail(tail), key)
    } else {
        (Key::new(key), &[][..])
    };
    let packable = match &e.value {
        Value::Str(s) => s
            .packable_bytes()
            .filter(|b| packs(tail, b.len(), e.expire != 0)),
        _ => None,
    };
    let Some(bytes) = packable else {
        return make_general(k, tail_bytes, e);
    };
    let ttl = e.expire != 0;
    let size = packed_size(tail, bytes.len(), ttl);
    let Ok(layout) = Layout::from_size_align(size, 8) else {
        unreachable!("packed nodes are small")
    };
    let p = alloc_node(layout);
    // SAFETY: a fresh allocation of `size` bytes; every field is written before use.
    unsafe {
        ptr::addr_of_mut!((*p).next).write(ptr::null_mut());
        ptr::addr_of_mut!((*p).key).write(k);
        ptr::copy_nonoverlapping(tail_bytes.as_ptr(), (p as *mut u8).add(HDR), tail);
        fill_packed(p, &e, bytes);
    }
    p
}

/// Writes a packed node's metadata (all but `next` and `key`), TTL and bytes.
///
/// # Safety
/// `p` must be an allocation of `packed_size(tail, bytes.len(), e.expire != 0)` bytes
/// whose `key` (and tail) are in place.
#[inline]
unsafe fn fill_packed(p: *mut Hdr, e: &Entry, bytes: &[u8]) {
    let ttl = e.expire != 0;
    // SAFETY: by the caller's contract, every write is inside the allocation.
    unsafe {
        ptr::addr_of_mut!((*p).lru).write(e.lru);
        ptr::addr_of_mut!((*p).snap).write(e.snap);
        ptr::addr_of_mut!((*p).kind).write(if ttl { PACKED_TTL } else { PACKED });
        ptr::addr_of_mut!((*p).len).write(bytes.len() as u16);
        let mut base = (p as *mut u8).add(HDR + tail_len(p));
        if ttl {
            ptr::write_unaligned(base as *mut u64, e.expire);
            base = base.add(8);
        }
        ptr::copy_nonoverlapping(bytes.as_ptr(), base, bytes.len());
    }
}

/// A packed node's contents as an owned entry (the string copied out).
///
/// # Safety
/// `p` must be a live packed node.
unsafe fn packed_entry(p: *mut Hdr) -> Entry {
    // SAFETY: by the caller's contract.
    unsafe { packed_as_entry(p, |b| Value::Str(StrValue::emb(b))) }
}

/// A packed node's header fields as an entry whose value `value` makes of its bytes
/// (a view borrowing them, or an owned copy).
///
/// # Safety
/// `p` must be a live packed node.
unsafe fn packed_as_entry(p: *mut Hdr, value: impl FnOnce(&[u8]) -> Value) -> Entry {
    // SAFETY: by the caller's contract.
    unsafe {
        let (bytes, expire) = packed_parts(p);
        Entry {
            lru: (*p).lru,
            snap: (*p).snap,
            kind: GENERAL,
            _len: 0,
            expire,
            value: value(bytes),
        }
    }
}

/// Frees node `p` and returns its key and entry (a packed string becomes an owned
/// value).
///
/// # Safety
/// `p` must be a live node, unlinked, not used afterwards.
unsafe fn take_node(p: *mut Hdr) -> (Key, Entry) {
    // SAFETY: by the caller's contract.
    unsafe {
        let key = take_key(p);
        if (*p).kind == GENERAL {
            let tail = tail_len(p);
            let entry = ptr::read(&(*(p as *mut GenNode)).entry);
            dealloc(p as *mut u8, gen_layout(tail));
            return (key, entry);
        }
        let entry = packed_entry(p);
        free_packed(p);
        (key, entry)
    }
}

/// Frees node `p`, dropping its key and value.
///
/// # Safety
/// `p` must be a live node, unlinked, not used afterwards.
unsafe fn drop_node(p: *mut Hdr) {
    // SAFETY: by the caller's contract.
    unsafe {
        if (*p).kind == GENERAL {
            let tail = tail_len(p);
            ptr::drop_in_place(p as *mut GenNode);
            dealloc(p as *mut u8, gen_layout(tail));
        } else {
            ptr::drop_in_place(&mut (*p).key);
            free_packed(p);
        }
    }
}

/// Releases a packed node's memory (its key already dropped or moved out: a tail
/// placeholder's length stays readable, it owns nothing).
///
/// # Safety
/// `p` must be a packed node allocated by [`make_node`].
unsafe fn free_packed(p: *mut Hdr) {
    // SAFETY: the same layout `make_node` allocated with.
    unsafe {
        let size = packed_size(tail_len(p), (*p).len as usize, (*p).kind == PACKED_TTL);
        dealloc(p as *mut u8, Layout::from_size_align_unchecked(size, 8));
    }
}

/// An entry as a reader sees it: the stored [`Entry`], or for a packed string an
/// `Entry` whose value borrows the node's bytes. Derefs to `Entry`.
pub struct EntryRef<'a>(Repr<'a>);

enum Repr<'a> {
    Node(&'a Entry),
    Packed(Entry, PhantomData<&'a Entry>),
}

impl<'a> EntryRef<'a> {
    /// The stored entry (general node), or the view's own `Entry` (packed node).
    #[inline]
    pub(super) fn split(self) -> Result<&'a Entry, Entry> {
        match self.0 {
            Repr::Node(e) => Ok(e),
            Repr::Packed(e, _) => Err(e),
        }
    }
}

impl Deref for EntryRef<'_> {
    type Target = Entry;

    #[inline]
    fn deref(&self) -> &Entry {
        match &self.0 {
            Repr::Node(e) => e,
            Repr::Packed(e, _) => e,
        }
    }
}

/// A node found for an in-place change of its metadata (LRU, snapshot mark) while its
/// value is only read.
pub struct Slot<'a> {
    p: *mut Hdr,
    _t: PhantomData<&'a mut Table>,
}

impl<'a> Slot<'a> {
    /// The entry, for the rest of the slot's borrow.
    #[inline]
    pub fn into_ref(self) -> EntryRef<'a> {
        // SAFETY: the node is live for `'a`, borrowed from the table.
        unsafe { view(self.p) }
    }

    #[inline]
    pub fn key(&self) -> &[u8] {
        // SAFETY: the node is live for the slot's lifetime.
        unsafe { node_key(self.p) }
    }

    #[inline]
    pub fn lru_mut(&mut self) -> &mut u32 {
        // SAFETY: as above; no other reference into the node exists meanwhile.
        unsafe { &mut (*self.p).lru }
    }

    #[inline]
    pub fn snap(&self) -> u8 {
        // SAFETY: as above.
        unsafe { (*self.p).snap }
    }

    #[inline]
    pub fn set_snap(&mut self, s: u8) {
        // SAFETY: as above.
        unsafe { (*self.p).snap = s }
    }

    #[inline]
    pub fn expire(&self) -> u64 {
        self.entry().expire
    }

    #[inline]
    pub fn entry(&self) -> EntryRef<'_> {
        // SAFETY: as above.
        unsafe { view(self.p) }
    }

    /// The node's identity (its address), valid while it is not freed.
    #[inline]
    pub fn node(&self) -> NodePtr {
        NodePtr(self.p)
    }
}

/// A node's address, kept by the snapshot saver across the release of its shard lock
/// while it serializes a big value (see `Snapshot::check_out`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct NodePtr(*mut Hdr);

// SAFETY: only an address; dereferencing it is `unsafe` with the saver's protocol.
unsafe impl Send for NodePtr {}

impl NodePtr {
    pub fn addr(self) -> usize {
        self.0 as usize
    }

    /// The value of a general node.
    ///
    /// # Safety
    /// The node must be a live general node that nobody changes or frees for `'x`
    /// (checked out by the snapshot saver, which keeps the gate held).
    pub unsafe fn value<'x>(self) -> Option<&'x Value> {
        // SAFETY: by the caller's contract; only the value field is borrowed, so the
        // header (LRU, snapshot mark) may still be changed under the shard lock.
        unsafe {
            if (*self.0).kind != GENERAL {
                return None;
            }
            Some(&*ptr::addr_of!((*(self.0 as *mut GenNode)).entry.value))
        }
    }

    /// Sets the node's snapshot mark.
    ///
    /// # Safety
    /// The node must be live and its shard locked by the caller (or the node in a table
    /// only the caller reaches).
    pub unsafe fn set_snap(self, s: u8) {
        // SAFETY: by the caller's contract.
        unsafe { ptr::addr_of_mut!((*self.0).snap).write(s) }
    }
}

/// A node removed from the table: dropped (freed) with it, or taken apart with
/// [`Removed::into_entry`].
pub struct Removed {
    p: *mut Hdr,
}

// SAFETY: a removed node is owned exclusively, like a `Box`.
unsafe impl Send for Removed {}

impl Removed {
    pub fn key(&self) -> &[u8] {
        // SAFETY: the node is owned by `self`.
        unsafe { node_key(self.p) }
    }

    pub fn entry(&self) -> EntryRef<'_> {
        // SAFETY: as above.
        unsafe { view(self.p) }
    }

    pub fn expire(&self) -> u64 {
        self.entry().expire
    }

    pub fn into_parts(self) -> (Key, Entry) {
        let p = self.p;
        std::mem::forget(self);
        // SAFETY: owned and unlinked; `self` is forgotten so it is not freed twice.
        unsafe { take_node(p) }
    }

    pub fn into_entry(self) -> Entry {
        self.into_parts().1
    }

    /// Frees the node, its value through [`lazyfree::free_if`](super::lazyfree::free_if)
    /// (in the background if `lazy` and the value is big), and returns the key. A packed
    /// string is freed with its node, without being copied out first.
    pub fn free(self, lazy: bool) -> Key {
        // SAFETY: the node is owned by `self`.
        if unsafe { (*self.p).kind } != GENERAL {
            let p = self.p;
            std::mem::forget(self);
            // SAFETY: owned and unlinked; the key is moved out before the memory goes.
            unsafe {
                let key = take_key(p);
                free_packed(p);
                return key;
            }
        }
        let (key, e) = self.into_parts();
        super::lazyfree::free_if(lazy, e.value);
        key
    }
}

impl Drop for Removed {
    fn drop(&mut self) {
        // SAFETY: owned and unlinked.
        unsafe { drop_node(self.p) }
    }
}

pub struct Table {
    table: Vec<*mut Hdr>,
    len: usize,
}

// SAFETY: the table owns its nodes exclusively (like `Vec<Box<_>>`); `Key` and `Value`
// are Send + Sync.
unsafe impl Send for Table {}
unsafe impl Sync for Table {}

impl Default for Table {
    fn default() -> Self {
        Table::new()
    }
}

impl Table {
    pub const fn new() -> Self {
        Table {
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

    /// Starts loading the bucket `hash` falls in (a hint to the CPU: nothing is read).
    #[inline]
    pub fn prefetch_bucket(&self, hash: u64) {
        if !self.table.is_empty() {
            prefetch(
                self.table
                    .as_ptr()
                    .wrapping_add(hash as usize & self.mask()) as *const u8,
            );
        }
    }

    /// Starts loading the first node of `hash`'s bucket (reads the bucket: best after
    /// [`Table::prefetch_bucket`] had time to bring it in). Both cache lines a node
    /// with a tail key may span.
    #[inline]
    pub fn prefetch_node(&self, hash: u64) {
        if !self.table.is_empty() {
            let p = self.table[hash as usize & self.mask()] as *const u8;
            if !p.is_null() {
                prefetch(p);
                prefetch(p.wrapping_add(64));
            }
        }
    }

    /// The link (bucket slot or a node's `next`) that points at `key`'s node.
    #[inline]
    fn find_link(&self, hash: u64, key: &[u8]) -> Option<*mut *mut Hdr> {
        if self.table.is_empty() {
            return None;
        }
        let mut link = self
            .table
            .as_ptr()
            .wrapping_add(hash as usize & self.mask()) as *mut *mut Hdr;
        // SAFETY: `link` points into the bucket vector or at a live node's `next`.
        unsafe {
            loop {
                let p = *link;
                if p.is_null() {
                    return None;
                }
                if node_key(p) == key {
                    return Some(link);
                }
                link = &mut (*p).next;
            }
        }
    }

    #[inline]
    fn find(&self, hash: u64, key: &[u8]) -> *mut Hdr {
        match self.find_link(hash, key) {
            // SAFETY: a link returned by `find_link` points at a live node.
            Some(l) => unsafe { *l },
            None => ptr::null_mut(),
        }
    }

    pub fn contains(&self, hash: u64, key: &[u8]) -> bool {
        !self.find(hash, key).is_null()
    }

    /// The TTL of `key` (0: none), if it is present.
    #[inline]
    pub fn expire_of(&self, hash: u64, key: &[u8]) -> Option<u64> {
        let p = self.find(hash, key);
        if p.is_null() {
            return None;
        }
        // SAFETY: a live node.
        Some(unsafe { node_expire(p) })
    }

    pub fn get(&self, hash: u64, key: &[u8]) -> Option<EntryRef<'_>> {
        let p = self.find(hash, key);
        // SAFETY: a live node, borrowed with `self`.
        (!p.is_null()).then(|| unsafe { view(p) })
    }

    /// The node of `key`, for metadata changes.
    pub fn slot(&mut self, hash: u64, key: &[u8]) -> Option<Slot<'_>> {
        let p = self.find(hash, key);
        (!p.is_null()).then_some(Slot { p, _t: PhantomData })
    }

    /// The entry of `key` for an in-place change: a packed node becomes a general one
    /// first (its string an ordinary owned value).
    pub fn get_mut(&mut self, hash: u64, key: &[u8]) -> Option<&mut Entry> {
        let link = self.find_link(hash, key)?;
        // SAFETY: `link` points at a live node owned by this table, borrowed mutably.
        unsafe {
            let mut p = *link;
            if (*p).kind != GENERAL {
                p = Self::regeneral(link);
            }
            Some(&mut (*(p as *mut GenNode)).entry)
        }
    }

    /// Replaces the packed node `*link` by a general node with the same contents.
    ///
    /// # Safety
    /// `link` must point at a live packed node of this table.
    unsafe fn regeneral(link: *mut *mut Hdr) -> *mut Hdr {
        // SAFETY: by the caller's contract; the new node takes the old one's place,
        // with the old one's key (moved) and tail (copied) before the old one is freed.
        unsafe {
            let old = *link;
            let entry = packed_entry(old);
            let tail = std::slice::from_raw_parts(tail_ptr(old), tail_len(old));
            let n = make_general(ptr::read(&(*old).key), tail, entry);
            (*n).next = (*old).next;
            free_packed(old);
            *link = n;
            n
        }
    }

    /// Replaces the whole entry of an existing `key` (a new value, TTL, LRU), choosing
    /// the node's form again; the old value is dropped here. An overwrite that stays
    /// in the same form reuses the node (a packed one resized in place when its size
    /// class allows: SET on an existing key allocates nothing). Returns false if the
    /// key is absent.
    ///
    /// The new entry is made from the old one's TTL and LRU (`make(expire, lru)`), in
    /// the same lookup.
    pub fn replace_with(
        &mut self,
        hash: u64,
        key: &[u8],
        make: impl FnOnce(u64, u32) -> Entry,
    ) -> bool {
        let Some(link) = self.find_link(hash, key) else {
            return false;
        };
        // SAFETY: `link` points at a live node of this table.
        let e = unsafe {
            let p = *link;
            make(node_expire(p), (*p).lru)
        };
        let ttl = e.expire != 0;
        // SAFETY: as above.
        let tail = unsafe { tail_len(*link) };
        let packed_len = match &e.value {
            Value::Str(s) => s
                .packable_bytes()
                .map(|b| b.len())
                .filter(|&n| packs(tail, n, ttl)),
            _ => None,
        };
        // SAFETY: `link` points at a live node owned by this table, borrowed mutably;
        // a node that moves or is replaced is relinked through `link`.
        unsafe {
            let old = *link;
            match ((*old).kind == GENERAL, packed_len) {
                (true, None) => {
                    let slot = &mut (*(old as *mut GenNode)).entry;
                    let Entry {
                        lru,
                        snap,
                        expire,
                        mut value,
                        ..
                    } = e;
                    slot.lru = lru;
                    slot.snap = snap;
                    slot.expire = expire;
                    owned(&mut value);
                    slot.value = value;
                }
                (false, Some(n)) => {
                    // The header and the tail key stay where they are.
                    let old_size =
                        packed_size(tail, (*old).len as usize, (*old).kind == PACKED_TTL);
                    let size = packed_size(tail, n, ttl);
                    let p = if size == old_size {
                        old
                    } else {
                        let layout = Layout::from_size_align_unchecked(old_size, 8);
                        let p = std::alloc::realloc(old as *mut u8, layout, size) as *mut Hdr;
                        if p.is_null() {
                            handle_alloc_error(Layout::from_size_align_unchecked(size, 8));
                        }
                        p
                    };
                    if let Value::Str(s) = &e.value {
                        if let Some(b) = s.packable_bytes() {
                            fill_packed(p, &e, b);
                        }
                    }
                    *link = p;
                }
                _ => {
                    let n = make_node(node_key(old), e);
                    (*n).next = (*old).next;
                    *link = n;
                    drop_node(old);
                }
            }
        }
        true
    }

    /// Sets the TTL of an existing key (0 clears it). Returns whether the key exists.
    pub fn set_expire(&mut self, hash: u64, key: &[u8], at_ms: u64) -> bool {
        let Some(link) = self.find_link(hash, key) else {
            return false;
        };
        // SAFETY: `link` points at a live node owned by this table, borrowed mutably.
        unsafe {
            let p = *link;
            match (*p).kind {
                GENERAL => (*(p as *mut GenNode)).entry.expire = at_ms,
                PACKED_TTL => {
                    ptr::write_unaligned((p as *mut u8).add(HDR + tail_len(p)) as *mut u64, at_ms)
                }
                _ if at_ms == 0 => {}
                _ => {
                    // A packed node without a TTL slot: grown by one (in place when
                    // its size class allows), the bytes moved up behind the TTL.
                    let len = (*p).len as usize;
                    let tail = tail_len(p);
                    let layout =
                        Layout::from_size_align_unchecked(packed_size(tail, len, false), 8);
                    let size = packed_size(tail, len, true);
                    let q = std::alloc::realloc(p as *mut u8, layout, size) as *mut Hdr;
                    if q.is_null() {
                        handle_alloc_error(Layout::from_size_align_unchecked(size, 8));
                    }
                    let base = (q as *mut u8).add(HDR + tail);
                    ptr::copy(base, base.add(8), len);
                    ptr::write_unaligned(base as *mut u64, at_ms);
                    (*q).kind = PACKED_TTL;
                    *link = q;
                }
            }
        }
        true
    }

    /// Inserts a key known to be absent.
    pub fn insert_new(&mut self, hash: u64, key: &[u8], e: Entry, rehash: &dyn Fn(&[u8]) -> u64) {
        if let Some(want) = grown(self.len, self.table.len()) {
            self.resize(want, rehash);
        }
        let idx = hash as usize & self.mask();
        let n = make_node(key, e);
        // SAFETY: `n` is a fresh node; it becomes the bucket's head.
        unsafe { (*n).next = self.table[idx] };
        self.table[idx] = n;
        self.len += 1;
    }

    /// Removes a key, returning its node.
    pub fn remove(
        &mut self,
        hash: u64,
        key: &[u8],
        rehash: &dyn Fn(&[u8]) -> u64,
    ) -> Option<Removed> {
        let link = self.find_link(hash, key)?;
        // SAFETY: `link` points at a live node; unlinking it hands it to `Removed`.
        let p = unsafe {
            let p = *link;
            *link = (*p).next;
            (*p).next = ptr::null_mut();
            p
        };
        self.len -= 1;
        self.maybe_shrink(rehash);
        Some(Removed { p })
    }

    fn maybe_shrink(&mut self, rehash: &dyn Fn(&[u8]) -> u64) {
        if let Some(want) = shrunk(self.len, self.table.len()) {
            self.resize(want, rehash);
        }
    }

    fn resize(&mut self, buckets: usize, rehash: &dyn Fn(&[u8]) -> u64) {
        debug_assert!(buckets.is_power_of_two());
        let old = std::mem::take(&mut self.table);
        self.table = vec![ptr::null_mut(); buckets];
        let mask = buckets - 1;
        for mut p in old {
            // SAFETY: every node is moved from the old chains to the new ones once.
            unsafe {
                while !p.is_null() {
                    let next = (*p).next;
                    let idx = rehash(node_key(p)) as usize & mask;
                    (*p).next = self.table[idx];
                    self.table[idx] = p;
                    p = next;
                }
            }
        }
    }

    /// Removes everything and releases the table.
    pub fn clear(&mut self) {
        for p in std::mem::take(&mut self.table) {
            let mut p = p;
            // SAFETY: each node is freed once, after reading its successor.
            unsafe {
                while !p.is_null() {
                    let next = (*p).next;
                    drop_node(p);
                    p = next;
                }
            }
        }
        self.len = 0;
    }

    /// Visits the nodes of bucket `idx`.
    #[inline]
    fn bucket(&self, idx: usize) -> impl Iterator<Item = *mut Hdr> + '_ {
        let mut p = self.table[idx];
        std::iter::from_fn(move || {
            if p.is_null() {
                return None;
            }
            let cur = p;
            // SAFETY: a live node of this table.
            p = unsafe { (*cur).next };
            Some(cur)
        })
    }

    /// Visits every entry (no guarantee of order).
    pub fn for_each(&self, mut f: impl FnMut(&[u8], &Entry)) {
        for (k, e) in self.iter() {
            f(k, &e);
        }
    }

    /// Visits every node for metadata changes (no guarantee of order).
    pub fn for_each_slot(&mut self, mut f: impl FnMut(&mut Slot<'_>)) {
        for idx in 0..self.table.len() {
            for p in self.bucket(idx) {
                f(&mut Slot { p, _t: PhantomData });
            }
        }
    }

    /// Iterates over every entry (no guarantee of order).
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], EntryRef<'_>)> {
        (0..self.table.len()).flat_map(move |idx| {
            // SAFETY: live nodes, borrowed with `self`.
            self.bucket(idx).map(|p| unsafe { (node_key(p), view(p)) })
        })
    }

    /// One step of Redis's reverse-binary scan (see [`Dict::scan`](super::Dict::scan)).
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&[u8], &Entry)) -> u64 {
        if self.table.is_empty() {
            return 0;
        }
        let mask = self.mask() as u64;
        for p in self.bucket((cursor & mask) as usize) {
            // SAFETY: a live node, borrowed with `self`.
            unsafe { f(node_key(p), &view(p)) };
        }
        next_cursor(cursor, mask)
    }

    /// Like [`Table::scan`], visiting the nodes for metadata changes.
    pub fn scan_slots(&mut self, cursor: u64, mut f: impl FnMut(&mut Slot<'_>)) -> u64 {
        if self.table.is_empty() {
            return 0;
        }
        let mask = self.mask() as u64;
        for p in self.bucket((cursor & mask) as usize) {
            f(&mut Slot { p, _t: PhantomData });
        }
        next_cursor(cursor, mask)
    }

    /// Like [`Table::scan`] but lets the visitor remove entries (`f` returns true to
    /// remove). Used by active expiry, which walks the table incrementally.
    pub fn scan_remove(
        &mut self,
        cursor: u64,
        mut f: impl FnMut(&mut Slot<'_>) -> bool,
    ) -> (u64, Vec<Removed>) {
        let mut removed = Vec::new();
        if self.table.is_empty() {
            return (0, removed);
        }
        let mask = self.mask() as u64;
        let idx = (cursor & mask) as usize;
        let mut link: *mut *mut Hdr = &mut self.table[idx];
        // SAFETY: `link` points into the bucket vector or at a live node's `next`;
        // removed nodes are unlinked before being handed to `Removed`.
        unsafe {
            loop {
                let p = *link;
                if p.is_null() {
                    break;
                }
                if f(&mut Slot { p, _t: PhantomData }) {
                    *link = (*p).next;
                    (*p).next = ptr::null_mut();
                    self.len -= 1;
                    removed.push(Removed { p });
                } else {
                    link = &mut (*p).next;
                }
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
    pub fn random(&self, mut rand: impl FnMut() -> u64) -> Option<(&[u8], EntryRef<'_>)> {
        if self.len == 0 {
            return None;
        }
        let mask = self.mask() as u64;
        loop {
            let idx = (rand() & mask) as usize;
            let chain_len = self.bucket(idx).count() as u64;
            if chain_len == 0 {
                continue;
            }
            let pick = (rand() % chain_len) as usize;
            if let Some(p) = self.bucket(idx).nth(pick) {
                // SAFETY: a live node, borrowed with `self`.
                return Some(unsafe { (node_key(p), view(p)) });
            }
        }
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn h(k: &[u8]) -> u64 {
        let mut x: u64 = 0xcbf29ce484222325;
        for &b in k {
            x ^= b as u64;
            x = x.wrapping_mul(0x100000001b3);
        }
        x ^ (x >> 29)
    }

    fn entry(v: Value, expire: u64) -> Entry {
        Entry {
            lru: 7,
            snap: 1,
            kind: GENERAL,
            _len: 0,
            expire,
            value: v,
        }
    }

    fn bytes_of(e: &Entry) -> Vec<u8> {
        match &e.value {
            Value::Str(s) => s.to_vec(),
            _ => panic!("not a string"),
        }
    }

    #[test]
    fn packing_rule() {
        // A 64-byte value: one 96-byte node instead of 64 + 64.
        assert!(packs(0, 64, false));
        assert_eq!(crate::memory::size_class(packed_size(0, 64, false)), 96);
        assert!(packs(0, 0, false) && packs(0, INLINE_MAX, false) && packs(0, 16, true));
        // With a 20-byte key in the tail: 116 -> 128 bytes, against 64 + 20 -> 96 for a
        // general node and 80 for the 64-byte string.
        assert!(packs(20, 64, false) && packs(20, 64, true));
        // Around 1 KiB the size classes are 256 bytes apart: no gain.
        assert!(!packs(0, 1024, false));
        assert!(!packs(0, MAX_PACKED + 1, false));
    }

    #[test]
    fn packed_and_general_nodes() {
        // Keys in `Hdr::key` (short), in the node's tail (17..=MAX_TAIL bytes), and in
        // their own allocation (longer).
        for prefix in [
            "",
            "a-key-of-twenty-b:",
            &"L".repeat(300),
            &"X".repeat(MAX_TAIL),
        ] {
            nodes_with_keys(prefix);
        }
    }

    fn nodes_with_keys(prefix: &str) {
        let key = |name: &str| format!("{prefix}{name}").into_bytes();
        let mut t = Table::new();
        let sizes = [0usize, 1, 16, 22, 23, 44, 45, 64, 200, 1024, 5000];
        for (i, &n) in sizes.iter().enumerate() {
            let k = key(&format!("k{i}"));
            let b: Vec<u8> = (0..n).map(|j| (j * 31 + i) as u8).collect();
            t.insert_new(h(&k), &k, entry(Value::Str(StrValue::emb(&b)), 0), &h);
        }
        let int = key("int");
        t.insert_new(h(&int), &int, entry(Value::Str(StrValue::Int(42)), 5), &h);
        for (i, &n) in sizes.iter().enumerate() {
            let k = key(&format!("k{i}"));
            let b: Vec<u8> = (0..n).map(|j| (j * 31 + i) as u8).collect();
            let e = t.get(h(&k), &k).expect("present");
            assert_eq!(bytes_of(&e), b, "len {n}");
            assert_eq!((e.lru, e.expire), (7, 0));
            let packed = matches!(e.value, Value::Str(StrValue::Ext(_)));
            assert_eq!(packed, packs(key_tail(&k), n, false), "len {n}");
            // The encoding reads as the owned value's would.
            assert_eq!(e.value.encoding(), StrValue::emb(&b).encoding());
            // A clone is owned, of the kind it was packed from.
            let c = e.value.clone();
            assert!(!matches!(c, Value::Str(StrValue::Ext(_))));
            // The node's own view of its key.
            assert_eq!(t.slot(h(&k), &k).expect("present").key(), &k[..]);
        }
        // TTLs: set on a packed node (rebuilt with a slot), read back, cleared.
        let k7 = key("k7");
        assert!(t.set_expire(h(&k7), &k7, 123_456));
        assert_eq!(t.expire_of(h(&k7), &k7), Some(123_456));
        assert_eq!(
            t.get(h(&k7), &k7)
                .map(|e| bytes_of(&e)[..].to_vec())
                .map(|b| b.len()),
            Some(64)
        );
        assert!(t.set_expire(h(&k7), &k7, 0));
        assert_eq!(t.expire_of(h(&k7), &k7), Some(0));
        assert_eq!(t.expire_of(h(&int), &int), Some(5));
        // get_mut turns a packed node into a general one with the same contents.
        let k6 = key("k6");
        assert!(t.set_expire(h(&k6), &k6, 77));
        let e = t.get_mut(h(&k6), &k6).expect("present");
        assert!(matches!(e.value, Value::Str(StrValue::Emb(_))));
        e.lru = 9;
        let e = t.get(h(&k6), &k6).expect("present");
        assert_eq!((bytes_of(&e).len(), e.lru, e.expire), (45, 9, 77));
        assert_eq!(t.slot(h(&k6), &k6).expect("present").key(), &k6[..]);
        // Slots change metadata in place.
        let k2 = key("k2");
        let mut s = t.slot(h(&k2), &k2).expect("present");
        *s.lru_mut() = 11;
        s.set_snap(0);
        let e = t.get(h(&k2), &k2).expect("present");
        assert_eq!((e.lru, e.snap), (11, 0));
        // replace: packed -> general -> packed, then packed resized in place.
        assert!(t.replace_with(h(&k2), &k2, |_, _| entry(Value::Str(StrValue::Int(1)), 0)));
        let enc = t.get(h(&k2), &k2).map(|e| e.value.encoding());
        assert_eq!(enc, Some("int"));
        let v = Value::Str(StrValue::emb(&[b'x'; 64]));
        assert!(t.replace_with(h(&k2), &k2, |_, _| entry(v, 9)));
        assert_eq!(t.expire_of(h(&k2), &k2), Some(9));
        for n in [64usize, 3, 300, 0, 64, 2000, 17] {
            let b: Vec<u8> = (0..n).map(|i| i as u8).collect();
            let ttl = (n % 2) as u64 * 77;
            let v = Value::Str(StrValue::emb(&b));
            assert!(t.replace_with(h(&k2), &k2, |_, _| entry(v, ttl)));
            let e = t.get(h(&k2), &k2).expect("present");
            assert_eq!((bytes_of(&e), e.expire), (b, ttl));
            assert_eq!(t.slot(h(&k2), &k2).expect("present").key(), &k2[..]);
        }
        let v = Value::Str(StrValue::Int(1));
        let nokey = key("nokey");
        assert!(!t.replace_with(h(&nokey), &nokey, |_, _| entry(v, 0)));
        // Growing the table rehashes every node by its key (tail keys included).
        for i in 0..500 {
            let k = key(&format!("more{i}"));
            let v = Value::Str(StrValue::emb(&vec![b'm'; i % 70]));
            t.insert_new(h(&k), &k, entry(v, (i % 3) as u64), &h);
        }
        for i in 0..500 {
            let k = key(&format!("more{i}"));
            assert_eq!(t.expire_of(h(&k), &k), Some((i % 3) as u64));
            let r = t.remove(h(&k), &k, &h).expect("present");
            assert_eq!(r.key(), &k[..]);
            if i % 2 == 0 {
                assert_eq!(&*r.free(false), &k[..]);
            } else {
                let (rk, e) = r.into_parts();
                assert_eq!((&*rk, bytes_of(&e).len()), (&k[..], i % 70));
            }
        }
        // remove / into_entry.
        let r = t.remove(h(&k7), &k7, &h).expect("present");
        assert_eq!(r.key(), &k7[..]);
        let e = r.into_entry();
        assert_eq!(bytes_of(&e).len(), 64);
        assert!(t.get(h(&k7), &k7).is_none());
        assert_eq!(t.len(), sizes.len());
        let keys: HashSet<Vec<u8>> = t.iter().map(|(k, _)| k.to_vec()).collect();
        assert_eq!(keys.len(), t.len());
        assert!(keys.iter().all(|k| k.starts_with(prefix.as_bytes())));
        assert!(keys.contains(&int));
    }

    #[test]
    fn tail_keys_share_the_node() {
        // A 20-byte key is in the node: one allocation, sized for key and value.
        let k = b"counter:000000012345";
        assert_eq!(key_tail(k), 20);
        let buf = [b'v'; 64];
        // SAFETY: `buf` outlives `e`, which only node_size reads.
        let e = entry(
            Value::Str(StrValue::Ext(unsafe { ExtStr::new(buf.as_ptr(), 64) })),
            0,
        );
        assert_eq!(node_size(k, &e), crate::memory::size_class(HDR + 20 + 64));
        // A general node grows by the key: 64 + 20 -> the 96-byte class.
        let g = entry(Value::Str(StrValue::Int(5)), 0);
        assert_eq!(node_size(k, &g), crate::memory::size_class(GEN + 20));
        // Short keys and over-long ones have no tail.
        assert_eq!(key_tail(b"key:000000012345"), 0);
        assert_eq!(key_tail(&[b'x'; MAX_TAIL + 1]), 0);
        assert_eq!(
            node_size(&[b'x'; MAX_TAIL + 1], &g),
            GEN + crate::memory::size_class(MAX_TAIL + 1)
        );
    }

    #[test]
    fn borrowed_strings_are_copied() {
        // `StrValue::for_set` borrows the command's argument; whatever form the node
        // takes (packed, or general with an owned copy), the stored bytes are a copy.
        let mut t = Table::new();
        t.insert_new(h(b"g"), b"g", entry(Value::Str(StrValue::Int(1)), 0), &h);
        for n in [30usize, 64, 1024, 5000] {
            let mut buf = vec![b'a'; n];
            let k = format!("b{n}");
            // SAFETY: inserted (copied) while `buf` is alive.
            let v = Value::Str(unsafe { StrValue::for_set(&buf) });
            t.insert_new(h(k.as_bytes()), k.as_bytes(), entry(v, 0), &h);
            // SAFETY: as above; `g` is a general node, replaced in place when `n` does
            // not pack.
            let v = Value::Str(unsafe { StrValue::for_set(&buf) });
            t.replace_with(h(b"g"), b"g", |_, _| entry(v, 0));
            buf.fill(b'z');
            for key in [k.as_bytes(), b"g"] {
                let e = t.get(h(key), key).expect("present");
                assert_eq!(bytes_of(&e), vec![b'a'; n], "len {n}");
                let packed = matches!(e.value, Value::Str(StrValue::Ext(_)));
                assert_eq!(packed, packs(0, n, false), "len {n}");
            }
        }
    }

    #[test]
    fn scan_and_remove_while_walking() {
        let mut t = Table::new();
        for i in 0..2000 {
            let k = format!("key:{i:012}");
            let v = Value::Str(StrValue::emb(&vec![b'v'; i % 100]));
            t.insert_new(h(k.as_bytes()), k.as_bytes(), entry(v, (i % 2) as u64), &h);
        }
        let mut seen = 0;
        let mut gone = 0;
        let mut c = 0;
        loop {
            let (next, removed) = t.scan_remove(c, |s| {
                seen += 1;
                s.expire() == 1
            });
            gone += removed.len();
            c = next;
            if c == 0 {
                break;
            }
        }
        assert_eq!((seen, gone, t.len()), (2000, 1000, 1000));
        t.shrink_if_sparse(&h);
        let mut n = 0;
        t.for_each(|k, e| {
            assert!(k.starts_with(b"key:"));
            assert_eq!(e.expire, 0);
            n += 1;
        });
        assert_eq!(n, 1000);
        let mut x = 0u64;
        let (k, _) = t
            .random(|| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                x
            })
            .expect("not empty");
        assert!(k.starts_with(b"key:"));
        t.clear();
        assert!(t.is_empty());
    }
}
