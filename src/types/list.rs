//! Lists (Redis's `t_list.c` / `quicklist.c`): the value type and its encodings.
//!
//! ## Representation
//!
//! Elements are stored in *packs*: one `Vec<u8>` holding entries back to back, each
//! entry being `len (LEB128) | bytes | len (LEB128, byte-reversed)`, so a pack can be
//! walked from either end (the trailing length plays the role of the listpack's
//! `backlen`). A small element costs its bytes plus 2.
//!
//! * A small list is a single pack (`Repr::Small`): one allocation besides the box.
//! * When a push would make that pack exceed the node limits given by
//!   `list-max-listpack-size` ([`Fill`]), the list becomes a deque of packs
//!   (`Repr::Big`), Redis's quicklist: pushes and pops at both ends touch only the end
//!   packs, the length is kept, and index lookups skip whole packs.
//! * A big list that shrinks back to one pack at most half the limits becomes small
//!   again (Redis 7.2's hysteresis).
//!
//! OBJECT ENCODING: the reference server (Redis 7.0.15) reports `quicklist` for every
//! list, whatever its size (the listpack encoding of small lists only appeared in 7.2),
//! so [`ListValue::encoding`] does the same.

use std::collections::VecDeque;

/// Redis's SIZE_SAFETY_LIMIT: the byte limit of a node when the limit is a count.
const SIZE_SAFETY_LIMIT: usize = 8192;

/// Packs smaller than this grow exactly (see [`Pack::grow_for`]).
const GROW_FROM: usize = 512;

/// Node limits derived from `list-max-listpack-size` (Redis's `quicklistNodeLimit`):
/// negative values are byte sizes (-1 = 4 KB ... -5 = 64 KB), positive values are
/// entry counts (with an 8 KB safety limit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fill {
    max_bytes: usize,
    max_count: usize,
}

impl Fill {
    pub fn from_config(fill: i64) -> Fill {
        if fill >= 0 {
            Fill {
                max_bytes: SIZE_SAFETY_LIMIT,
                max_count: fill.max(1) as usize,
            }
        } else {
            let level = (fill.unsigned_abs() - 1).min(4) as u32;
            Fill {
                max_bytes: 4096 << level,
                max_count: usize::MAX,
            }
        }
    }

    #[inline]
    fn allows(&self, bytes: usize, count: usize) -> bool {
        bytes <= self.max_bytes && count <= self.max_count
    }

    /// Whether a single pack this size is small enough to go back to the compact form.
    fn small_enough(&self, bytes: usize, count: usize) -> bool {
        bytes <= self.max_bytes / 2 && count <= self.max_count / 2
    }
}

impl Default for Fill {
    fn default() -> Self {
        Fill::from_config(-2)
    }
}

/// Which end of a list (Redis's LIST_HEAD / LIST_TAIL).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Front,
    Back,
}

// ---------------------------------------------------------------------------
// Entry encoding

#[inline]
fn vsize(n: usize) -> usize {
    let mut s = 1;
    let mut n = n >> 7;
    while n > 0 {
        s += 1;
        n >>= 7;
    }
    s
}

/// Bytes an element of length `n` takes in a pack.
#[inline]
fn entry_size(n: usize) -> usize {
    2 * vsize(n) + n
}

/// Writes the entry for `v` into `dst` (exactly `entry_size(v.len())` bytes).
fn write_entry(dst: &mut [u8], v: &[u8]) {
    let n = v.len();
    let h = vsize(n);
    let mut x = n;
    for (i, b) in dst.iter_mut().take(h).enumerate() {
        let mut byte = (x & 0x7f) as u8;
        x >>= 7;
        if i + 1 < h {
            byte |= 0x80;
        }
        *b = byte;
    }
    dst[h..h + n].copy_from_slice(v);
    for i in 0..h {
        dst[h + n + i] = dst[h - 1 - i];
    }
}

/// The entry starting at `off`: (element, offset of the next entry).
#[inline]
fn entry_at(buf: &[u8], off: usize) -> (&[u8], usize) {
    let mut n = 0usize;
    let mut shift = 0;
    let mut p = off;
    loop {
        let b = buf[p];
        p += 1;
        n |= ((b & 0x7f) as usize) << shift;
        shift += 7;
        if b & 0x80 == 0 {
            break;
        }
    }
    let h = p - off;
    (&buf[p..p + n], p + n + h)
}

/// The entry ending at `end`: (element, offset where the entry starts).
#[inline]
fn entry_before(buf: &[u8], end: usize) -> (&[u8], usize) {
    let mut n = 0usize;
    let mut shift = 0;
    let mut p = end;
    loop {
        p -= 1;
        let b = buf[p];
        n |= ((b & 0x7f) as usize) << shift;
        shift += 7;
        if b & 0x80 == 0 {
            break;
        }
    }
    let h = end - p;
    let data_end = p;
    let data_start = data_end - n;
    (&buf[data_start..data_end], data_start - h)
}

// ---------------------------------------------------------------------------
// Pack: one buffer of entries

/// The bytes of a pack live in `raw[head..]`: `head` bytes of free room before them
/// let the head pack of a list take `LPUSH` after `LPUSH` without moving its contents
/// (a listpack, and this pack before, memmoved the whole pack per push: 10% of an
/// `LPUSH` profile), and let `LPOP` drop an entry without moving the rest. Inner
/// packs have no room at either end ([`Pack::seal`]).
#[derive(Clone, Default, Debug)]
struct Pack {
    raw: Vec<u8>,
    count: u32,
    head: u32,
}

impl Pack {
    fn with(v: &[u8]) -> Pack {
        let mut p = Pack::default();
        p.push_back(v);
        p
    }

    /// The entries' bytes.
    #[inline]
    fn data(&self) -> &[u8] {
        &self.raw[self.head as usize..]
    }

    #[inline]
    fn bytes(&self) -> usize {
        self.raw.len() - self.head as usize
    }

    #[inline]
    fn count(&self) -> usize {
        self.count as usize
    }

    fn accepts(&self, v: &[u8], fill: Fill) -> bool {
        self.count == 0 || fill.allows(self.bytes() + entry_size(v.len()), self.count() + 1)
    }

    /// Makes room for `extra` more bytes at the back of a pack that will hold at most
    /// `cap`.
    ///
    /// Small packs (most lists are small) grow exactly, as a listpack does. A pack past
    /// [`GROW_FROM`] bytes grows by half its size, never past `cap`: the ends of a long
    /// list take one push after another, and growing them exactly meant a `realloc` per
    /// push (12% of an `RPUSH` profile, a copy whenever the allocator's size class
    /// changed). The slack is given back when the pack stops being an end
    /// ([`Pack::seal`]).
    #[inline]
    fn grow_for(&mut self, extra: usize, cap: usize) {
        let raw = self.raw.len();
        if self.raw.capacity() - raw >= extra {
            return;
        }
        let len = self.bytes();
        let target = if len < GROW_FROM {
            len + extra
        } else {
            (len + extra).max((len + len / 2).min(cap))
        };
        self.raw.reserve_exact(target - len);
    }

    /// Moves the entries to the start of `raw`, dropping the room before them.
    fn close_gap(&mut self) {
        if self.head > 0 {
            self.raw.drain(..self.head as usize);
            self.head = 0;
        }
    }

    /// Gives back the growth room of a pack that is no longer at an end of its list.
    fn seal(&mut self) {
        self.close_gap();
        self.raw.shrink_to_fit();
    }

    fn push_back(&mut self, v: &[u8]) {
        self.push_back_within(v, 0);
    }

    /// [`Pack::push_back`] into a pack that may grow up to `cap` bytes (see
    /// [`Pack::grow_for`]; 0: exactly).
    fn push_back_within(&mut self, v: &[u8], cap: usize) {
        let sz = entry_size(v.len());
        let old = self.raw.len();
        self.grow_for(sz, cap);
        self.raw.resize(old + sz, 0);
        write_entry(&mut self.raw[old..], v);
        self.count += 1;
    }

    /// Pushes at the front: into the room before the entries if there is enough,
    /// else, for a pack past [`GROW_FROM`] bytes that may grow (`cap` > 0), into a new
    /// buffer with half the pack's size (up to `cap`) of room before the entries.
    fn push_front_within(&mut self, v: &[u8], cap: usize) {
        let sz = entry_size(v.len());
        let head = self.head as usize;
        if head >= sz {
            self.head -= sz as u32;
            write_entry(&mut self.raw[head - sz..head], v);
            self.count += 1;
            return;
        }
        let len = self.bytes();
        if cap == 0 || len < GROW_FROM {
            return self.insert_within(0, v, cap);
        }
        let room = sz.max((len / 2).min(cap.saturating_sub(len)));
        let mut raw = Vec::with_capacity(room + len);
        raw.resize(room, 0);
        raw.extend_from_slice(self.data());
        write_entry(&mut raw[room - sz..room], v);
        self.raw = raw;
        self.head = (room - sz) as u32;
        self.count += 1;
    }

    fn insert_at(&mut self, off: usize, v: &[u8]) {
        self.insert_within(off, v, 0);
    }

    /// Inserts at byte offset `off` of the entries, moving the ones after it.
    fn insert_within(&mut self, off: usize, v: &[u8], cap: usize) {
        let sz = entry_size(v.len());
        let old = self.raw.len();
        let at = self.head as usize + off;
        self.grow_for(sz, cap);
        self.raw.resize(old + sz, 0);
        self.raw.copy_within(at..old, at + sz);
        write_entry(&mut self.raw[at..at + sz], v);
        self.count += 1;
    }

    /// Removes the bytes `start..end` of the entries, holding `n` entries.
    fn remove_bytes(&mut self, start: usize, end: usize, n: usize) {
        let head = self.head as usize;
        if start == 0 {
            self.head = (head + end) as u32;
        } else {
            self.raw.drain(head + start..head + end);
        }
        self.count -= n as u32;
        self.maybe_shrink();
    }

    /// Gives memory back once at most half of the buffer holds entries.
    fn maybe_shrink(&mut self) {
        let len = self.bytes();
        if self.raw.capacity() > 2 * len + 64 {
            self.close_gap();
            self.raw.shrink_to(len + len / 4);
        }
    }

    fn pop_front(&mut self) -> Option<Vec<u8>> {
        if self.count == 0 {
            return None;
        }
        let (v, next) = entry_at(self.data(), 0);
        let v = v.to_vec();
        self.remove_bytes(0, next, 1);
        Some(v)
    }

    fn pop_back(&mut self) -> Option<Vec<u8>> {
        if self.count == 0 {
            return None;
        }
        let data = self.data();
        let (v, start) = entry_before(data, data.len());
        let v = v.to_vec();
        self.raw.truncate(self.head as usize + start);
        self.count -= 1;
        self.maybe_shrink();
        Some(v)
    }

    /// Byte offset of entry `i` (< count), walking from the closer end.
    fn offset_of(&self, i: usize) -> usize {
        let count = self.count();
        let data = self.data();
        if i <= count / 2 {
            let mut off = 0;
            for _ in 0..i {
                off = entry_at(data, off).1;
            }
            off
        } else {
            let mut off = data.len();
            for _ in 0..count - i {
                off = entry_before(data, off).1;
            }
            off
        }
    }

    fn get(&self, i: usize) -> &[u8] {
        entry_at(self.data(), self.offset_of(i)).0
    }

    fn replace(&mut self, i: usize, v: &[u8]) {
        let off = self.offset_of(i);
        let next = entry_at(self.data(), off).1;
        let sz = entry_size(v.len());
        let mut e = vec![0u8; sz];
        write_entry(&mut e, v);
        let head = self.head as usize;
        self.raw.splice(head + off..head + next, e);
    }

    /// Removes the first `n` entries.
    fn drain_front(&mut self, n: usize) {
        let n = n.min(self.count());
        let off = if n == self.count() {
            self.bytes()
        } else {
            self.offset_of(n)
        };
        self.remove_bytes(0, off, n);
    }

    /// Removes the last `n` entries.
    fn drain_back(&mut self, n: usize) {
        let n = n.min(self.count());
        let off = if n == self.count() {
            0
        } else {
            self.offset_of(self.count() - n)
        };
        self.raw.truncate(self.head as usize + off);
        self.count -= n as u32;
        self.maybe_shrink();
    }

    /// Removes up to `max` entries equal to `v` (all if `max` is 0), scanning from the
    /// front or the back. Returns how many went.
    fn remove_matches(&mut self, v: &[u8], max: usize, from_back: bool) -> usize {
        let data = self.data();
        let mut spans: Vec<(usize, usize)> = Vec::new();
        if from_back {
            let mut end = data.len();
            while end > 0 && (max == 0 || spans.len() < max) {
                let (e, start) = entry_before(data, end);
                if e == v {
                    spans.push((start, end));
                }
                end = start;
            }
            spans.reverse();
        } else {
            let mut off = 0;
            while off < data.len() && (max == 0 || spans.len() < max) {
                let (e, next) = entry_at(data, off);
                if e == v {
                    spans.push((off, next));
                }
                off = next;
            }
        }
        if spans.is_empty() {
            return 0;
        }
        let mut out = Vec::with_capacity(data.len());
        let mut last = 0;
        for &(s, e) in &spans {
            out.extend_from_slice(&data[last..s]);
            last = e;
        }
        out.extend_from_slice(&data[last..]);
        out.shrink_to_fit();
        self.raw = out;
        self.head = 0;
        self.count -= spans.len() as u32;
        spans.len()
    }

    /// Splits into packs that each fit `fill` (greedy, front to back).
    fn split_to_fit(self, fill: Fill) -> Vec<Pack> {
        let mut out = Vec::new();
        let mut cur = Pack::default();
        let mut off = 0;
        let data = self.data();
        while off < data.len() {
            let (e, next) = entry_at(data, off);
            if !cur.accepts(e, fill) {
                out.push(std::mem::take(&mut cur));
            }
            cur.push_back(e);
            off = next;
        }
        if cur.count > 0 {
            out.push(cur);
        }
        out
    }

    fn append(&mut self, other: &Pack) {
        self.raw.reserve_exact(other.bytes());
        self.raw.extend_from_slice(other.data());
        self.count += other.count;
    }

    fn heap_size(&self) -> usize {
        self.raw.capacity()
    }
}

// ---------------------------------------------------------------------------
// ListValue

#[derive(Clone, Debug, Default)]
struct Big {
    nodes: VecDeque<Pack>,
    len: usize,
}

#[derive(Clone, Debug)]
enum Repr {
    Small(Pack),
    Big(Box<Big>),
}

/// A list value (see the module docs).
#[derive(Clone, Debug)]
pub struct ListValue(Repr);

impl Default for ListValue {
    fn default() -> Self {
        ListValue(Repr::Small(Pack::default()))
    }
}

impl ListValue {
    pub fn new() -> ListValue {
        ListValue::default()
    }

    /// OBJECT ENCODING's answer (see the module docs).
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// Whether the list uses its compact single-buffer form (Redis 7.2's `listpack`).
    pub fn is_compact(&self) -> bool {
        matches!(self.0, Repr::Small(_))
    }

    pub fn heap_size(&self) -> usize {
        match &self.0 {
            Repr::Small(p) => p.heap_size(),
            Repr::Big(b) => {
                std::mem::size_of::<Big>()
                    + b.nodes.capacity() * std::mem::size_of::<Pack>()
                    + b.nodes.iter().map(Pack::heap_size).sum::<usize>()
            }
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Small(p) => p.count(),
            Repr::Big(b) => b.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The packs, front to back, as two slices.
    fn packs(&self) -> (&[Pack], &[Pack]) {
        match &self.0 {
            Repr::Small(p) => (std::slice::from_ref(p), &[]),
            Repr::Big(b) => b.nodes.as_slices(),
        }
    }

    fn make_big(&mut self) -> &mut Big {
        if let Repr::Small(p) = &mut self.0 {
            let p = std::mem::take(p);
            let len = p.count();
            let mut nodes = VecDeque::new();
            if p.count > 0 {
                nodes.push_back(p);
            }
            self.0 = Repr::Big(Box::new(Big { nodes, len }));
        }
        match &mut self.0 {
            Repr::Big(b) => b,
            Repr::Small(_) => unreachable!("converted above"),
        }
    }

    /// Back to the compact form when a big list is down to one small pack.
    fn maybe_compact(&mut self, fill: Fill) {
        if let Repr::Big(b) = &mut self.0 {
            let small = match b.nodes.len() {
                0 => true,
                1 => b
                    .nodes
                    .front()
                    .is_some_and(|p| fill.small_enough(p.bytes(), p.count())),
                _ => false,
            };
            if small {
                let mut p = b.nodes.pop_front().unwrap_or_default();
                p.seal();
                self.0 = Repr::Small(p);
            }
        }
    }

    pub fn push(&mut self, end: End, v: &[u8], fill: Fill) {
        match end {
            End::Front => self.push_front(v, fill),
            End::Back => self.push_back(v, fill),
        }
    }

    pub fn pop(&mut self, end: End, fill: Fill) -> Option<Vec<u8>> {
        match end {
            End::Front => self.pop_front(fill),
            End::Back => self.pop_back(fill),
        }
    }

    pub fn push_back(&mut self, v: &[u8], fill: Fill) {
        if let Repr::Small(p) = &mut self.0 {
            if p.accepts(v, fill) {
                p.push_back_within(v, fill.max_bytes);
                return;
            }
        }
        let b = self.make_big();
        b.len += 1;
        match b.nodes.back_mut() {
            Some(p) if p.accepts(v, fill) => p.push_back_within(v, fill.max_bytes),
            last => {
                if let Some(p) = last {
                    p.seal();
                }
                b.nodes.push_back(Pack::with(v))
            }
        }
    }

    pub fn push_front(&mut self, v: &[u8], fill: Fill) {
        if let Repr::Small(p) = &mut self.0 {
            if p.accepts(v, fill) {
                p.push_front_within(v, fill.max_bytes);
                return;
            }
        }
        let b = self.make_big();
        b.len += 1;
        match b.nodes.front_mut() {
            Some(p) if p.accepts(v, fill) => p.push_front_within(v, fill.max_bytes),
            first => {
                if let Some(p) = first {
                    p.seal();
                }
                b.nodes.push_front(Pack::with(v))
            }
        }
    }

    pub fn pop_front(&mut self, fill: Fill) -> Option<Vec<u8>> {
        match &mut self.0 {
            Repr::Small(p) => p.pop_front(),
            Repr::Big(b) => {
                let node = b.nodes.front_mut()?;
                let v = node.pop_front()?;
                if node.count == 0 {
                    b.nodes.pop_front();
                }
                b.len -= 1;
                self.maybe_compact(fill);
                Some(v)
            }
        }
    }

    pub fn pop_back(&mut self, fill: Fill) -> Option<Vec<u8>> {
        match &mut self.0 {
            Repr::Small(p) => p.pop_back(),
            Repr::Big(b) => {
                let node = b.nodes.back_mut()?;
                let v = node.pop_back()?;
                if node.count == 0 {
                    b.nodes.pop_back();
                }
                b.len -= 1;
                self.maybe_compact(fill);
                Some(v)
            }
        }
    }

    /// (pack index, index inside the pack) of element `i` (< len).
    fn locate(&self, i: usize) -> (usize, usize) {
        let (a, b) = self.packs();
        let n = a.len() + b.len();
        let pack = |k: usize| if k < a.len() { &a[k] } else { &b[k - a.len()] };
        if i < self.len() / 2 {
            let mut i = i;
            for k in 0..n {
                let c = pack(k).count();
                if i < c {
                    return (k, i);
                }
                i -= c;
            }
        } else {
            let mut from_end = self.len() - i;
            for k in (0..n).rev() {
                let c = pack(k).count();
                if from_end <= c {
                    return (k, c - from_end);
                }
                from_end -= c;
            }
        }
        (n, 0)
    }

    fn pack_at(&self, k: usize) -> Option<&Pack> {
        let (a, b) = self.packs();
        if k < a.len() {
            a.get(k)
        } else {
            b.get(k - a.len())
        }
    }

    /// Element `i` (0-based from the head), if it exists.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        if i >= self.len() {
            return None;
        }
        let (k, j) = self.locate(i);
        Some(self.pack_at(k)?.get(j))
    }

    /// Replaces element `i`; false if out of range.
    pub fn set(&mut self, i: usize, v: &[u8], fill: Fill) -> bool {
        if i >= self.len() {
            return false;
        }
        let (k, j) = self.locate(i);
        match &mut self.0 {
            Repr::Small(p) => {
                p.replace(j, v);
                if p.count > 1 && !fill.allows(p.bytes(), p.count()) {
                    self.make_big();
                    self.refit(0, fill);
                }
            }
            Repr::Big(b) => {
                if let Some(p) = b.nodes.get_mut(k) {
                    p.replace(j, v);
                }
                self.refit(k, fill);
                self.maybe_compact(fill);
            }
        }
        true
    }

    /// Splits big-list node `k` if it no longer fits the limits.
    fn refit(&mut self, k: usize, fill: Fill) {
        let Repr::Big(b) = &mut self.0 else { return };
        let Some(p) = b.nodes.get(k) else { return };
        if p.count <= 1 || fill.allows(p.bytes(), p.count()) {
            return;
        }
        let Some(p) = b.nodes.remove(k) else { return };
        for (n, part) in p.split_to_fit(fill).into_iter().enumerate() {
            b.nodes.insert(k + n, part);
        }
    }

    /// Inserts `v` before or after the first element equal to `pivot` (LINSERT).
    /// Returns false when there is no such element.
    pub fn insert(&mut self, pivot: &[u8], v: &[u8], after: bool, fill: Fill) -> bool {
        let mut found = None;
        {
            let (a, b) = self.packs();
            'outer: for (k, p) in a.iter().chain(b.iter()).enumerate() {
                let mut off = 0;
                while off < p.bytes() {
                    let (e, next) = entry_at(p.data(), off);
                    if e == pivot {
                        found = Some((k, if after { next } else { off }));
                        break 'outer;
                    }
                    off = next;
                }
            }
        }
        let Some((k, off)) = found else { return false };
        match &mut self.0 {
            Repr::Small(p) => {
                p.insert_at(off, v);
                if !fill.allows(p.bytes(), p.count()) {
                    self.make_big();
                    self.refit(0, fill);
                }
            }
            Repr::Big(b) => {
                if let Some(p) = b.nodes.get_mut(k) {
                    p.insert_at(off, v);
                    b.len += 1;
                }
                self.refit(k, fill);
            }
        }
        true
    }

    /// Removes up to `max` elements equal to `v` (all when `max` is 0), from the head
    /// or from the tail (LREM). Returns how many were removed.
    pub fn remove(&mut self, v: &[u8], max: usize, from_tail: bool, fill: Fill) -> usize {
        match &mut self.0 {
            Repr::Small(p) => p.remove_matches(v, max, from_tail),
            Repr::Big(b) => {
                let mut removed = 0;
                let n = b.nodes.len();
                for step in 0..n {
                    let k = if from_tail { n - 1 - step } else { step };
                    let left = if max == 0 { 0 } else { max - removed };
                    if let Some(p) = b.nodes.get_mut(k) {
                        removed += p.remove_matches(v, left, from_tail);
                    }
                    if max != 0 && removed >= max {
                        break;
                    }
                }
                if removed > 0 {
                    b.len -= removed;
                    Self::merge_nodes(b, fill);
                    self.maybe_compact(fill);
                }
                removed
            }
        }
    }

    /// Drops empty nodes and merges neighbours that fit together.
    fn merge_nodes(b: &mut Big, fill: Fill) {
        let old = std::mem::take(&mut b.nodes);
        for p in old {
            if p.count == 0 {
                continue;
            }
            match b.nodes.back_mut() {
                Some(last) if fill.allows(last.bytes() + p.bytes(), last.count() + p.count()) => {
                    last.append(&p)
                }
                _ => b.nodes.push_back(p),
            }
        }
    }

    /// Removes `front` elements from the head and `back` from the tail (LTRIM, popping
    /// a range).
    pub fn trim(&mut self, front: usize, back: usize, fill: Fill) {
        match &mut self.0 {
            Repr::Small(p) => {
                p.drain_front(front);
                p.drain_back(back);
            }
            Repr::Big(b) => {
                let mut front = front.min(b.len);
                b.len -= front;
                while front > 0 {
                    let Some(p) = b.nodes.front_mut() else { break };
                    if front >= p.count() {
                        front -= p.count();
                        b.nodes.pop_front();
                    } else {
                        p.drain_front(front);
                        front = 0;
                    }
                }
                let mut back = back.min(b.len);
                b.len -= back;
                while back > 0 {
                    let Some(p) = b.nodes.back_mut() else { break };
                    if back >= p.count() {
                        back -= p.count();
                        b.nodes.pop_back();
                    } else {
                        p.drain_back(back);
                        back = 0;
                    }
                }
                self.maybe_compact(fill);
            }
        }
    }

    /// Elements from the head.
    pub fn iter(&self) -> Iter<'_> {
        let (a, b) = self.packs();
        Iter {
            packs: a.iter().chain(b.iter()),
            cur: &[],
            off: 0,
        }
    }

    /// Elements from index `start` towards the tail.
    pub fn iter_from(&self, start: usize) -> Iter<'_> {
        let mut it = self.iter();
        if start >= self.len() {
            it.packs.by_ref().for_each(drop);
            return it;
        }
        let (k, j) = self.locate(start);
        for _ in 0..k {
            it.packs.next();
        }
        if let Some(p) = it.packs.next() {
            it.cur = p.data();
            it.off = p.offset_of(j);
        }
        it
    }

    /// Elements from the tail towards the head.
    pub fn iter_rev(&self) -> RevIter<'_> {
        let (a, b) = self.packs();
        RevIter {
            packs: a.iter().chain(b.iter()),
            cur: &[],
            end: 0,
        }
    }
}

/// Iterator from head to tail.
pub struct Iter<'a> {
    packs: std::iter::Chain<std::slice::Iter<'a, Pack>, std::slice::Iter<'a, Pack>>,
    cur: &'a [u8],
    off: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            if self.off < self.cur.len() {
                let (e, next) = entry_at(self.cur, self.off);
                self.off = next;
                return Some(e);
            }
            let p = self.packs.next()?;
            self.cur = p.data();
            self.off = 0;
        }
    }
}

/// Iterator from tail to head.
pub struct RevIter<'a> {
    packs: std::iter::Chain<std::slice::Iter<'a, Pack>, std::slice::Iter<'a, Pack>>,
    cur: &'a [u8],
    end: usize,
}

impl<'a> Iterator for RevIter<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            if self.end > 0 {
                let (e, start) = entry_before(self.cur, self.end);
                self.end = start;
                return Some(e);
            }
            let p = self.packs.next_back()?;
            self.cur = p.data();
            self.end = self.cur.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque as Model;

    fn collect(l: &ListValue) -> Vec<Vec<u8>> {
        l.iter().map(|e| e.to_vec()).collect()
    }

    fn check(l: &ListValue, m: &Model<Vec<u8>>) {
        assert_eq!(l.len(), m.len());
        let fwd = collect(l);
        let want: Vec<Vec<u8>> = m.iter().cloned().collect();
        assert_eq!(fwd, want);
        let mut rev: Vec<Vec<u8>> = l.iter_rev().map(|e| e.to_vec()).collect();
        rev.reverse();
        assert_eq!(rev, want);
        for (i, w) in want.iter().enumerate() {
            assert_eq!(l.get(i), Some(&w[..]));
        }
        assert_eq!(l.get(want.len()), None);
        if let Repr::Big(b) = &l.0 {
            assert_eq!(b.nodes.iter().map(Pack::count).sum::<usize>(), b.len);
            assert!(b.nodes.iter().all(|p| p.count > 0));
        }
    }

    #[test]
    fn entry_encoding_round_trips() {
        for n in [0usize, 1, 127, 128, 300, 16383, 16384, 70000] {
            let v: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
            let mut buf = vec![0u8; entry_size(n)];
            write_entry(&mut buf, &v);
            let (e, next) = entry_at(&buf, 0);
            assert_eq!(e, &v[..]);
            assert_eq!(next, buf.len());
            let (e, start) = entry_before(&buf, buf.len());
            assert_eq!(e, &v[..]);
            assert_eq!(start, 0);
        }
    }

    #[test]
    fn fill_limits() {
        assert_eq!(Fill::from_config(-2).max_bytes, 8192);
        assert_eq!(Fill::from_config(-1).max_bytes, 4096);
        assert_eq!(Fill::from_config(-5).max_bytes, 65536);
        assert_eq!(Fill::from_config(i64::MIN).max_bytes, 65536);
        assert_eq!(Fill::from_config(0).max_count, 1);
        assert_eq!(Fill::from_config(128).max_count, 128);
    }

    #[test]
    fn grows_to_big_and_back() {
        let fill = Fill::from_config(4);
        let mut l = ListValue::new();
        let mut m = Model::new();
        for i in 0..4 {
            l.push_back(format!("{i}").as_bytes(), fill);
            m.push_back(format!("{i}").into_bytes());
        }
        assert!(l.is_compact());
        l.push_front(b"x", fill);
        m.push_front(b"x".to_vec());
        assert!(!l.is_compact());
        check(&l, &m);
        while l.len() > 1 {
            assert_eq!(l.pop_back(fill), m.pop_back());
        }
        check(&l, &m);
        assert!(l.is_compact());
    }

    /// Random operations against a VecDeque model, with tiny nodes so every path
    /// through the big form is exercised.
    #[test]
    fn matches_a_model() {
        use rand::{Rng, SeedableRng};
        for fill in [
            Fill::from_config(3),
            Fill::from_config(-1),
            Fill::from_config(1),
        ] {
            let mut rng = rand::rngs::StdRng::seed_from_u64(7);
            let mut l = ListValue::new();
            let mut m: Model<Vec<u8>> = Model::new();
            for _ in 0..4000 {
                let v: Vec<u8> = if rng.gen_bool(0.02) {
                    vec![b'z'; rng.gen_range(100..3000)]
                } else {
                    format!("{}", rng.gen_range(0..20)).into_bytes()
                };
                match rng.gen_range(0..11) {
                    0 | 1 => {
                        l.push_back(&v, fill);
                        m.push_back(v);
                    }
                    2 | 3 => {
                        l.push_front(&v, fill);
                        m.push_front(v);
                    }
                    4 => assert_eq!(l.pop_front(fill), m.pop_front()),
                    5 => assert_eq!(l.pop_back(fill), m.pop_back()),
                    6 => {
                        if !m.is_empty() {
                            let i = rng.gen_range(0..m.len());
                            assert!(l.set(i, &v, fill));
                            m[i] = v;
                        }
                    }
                    7 => {
                        let after = rng.gen_bool(0.5);
                        let pivot = format!("{}", rng.gen_range(0..20)).into_bytes();
                        let pos = m.iter().position(|e| *e == pivot);
                        assert_eq!(l.insert(&pivot, &v, after, fill), pos.is_some());
                        if let Some(p) = pos {
                            m.insert(if after { p + 1 } else { p }, v);
                        }
                    }
                    8 => {
                        let max = rng.gen_range(0..3);
                        let tail = rng.gen_bool(0.5);
                        let got = l.remove(&v, max, tail, fill);
                        let mut removed = 0;
                        let idx: Vec<usize> = if tail {
                            (0..m.len()).rev().collect()
                        } else {
                            (0..m.len()).collect()
                        };
                        let mut kill = Vec::new();
                        for i in idx {
                            if m[i] == v && (max == 0 || removed < max) {
                                kill.push(i);
                                removed += 1;
                            }
                        }
                        kill.sort_unstable();
                        for i in kill.into_iter().rev() {
                            m.remove(i);
                        }
                        assert_eq!(got, removed);
                    }
                    9 => {
                        let f = rng.gen_range(0..3);
                        let b = rng.gen_range(0..3);
                        l.trim(f, b, fill);
                        for _ in 0..f {
                            m.pop_front();
                        }
                        for _ in 0..b {
                            m.pop_back();
                        }
                    }
                    _ => {
                        if !m.is_empty() {
                            let s = rng.gen_range(0..m.len());
                            let got: Vec<Vec<u8>> = l.iter_from(s).map(|e| e.to_vec()).collect();
                            let want: Vec<Vec<u8>> = m.iter().skip(s).cloned().collect();
                            assert_eq!(got, want);
                        }
                    }
                }
                check(&l, &m);
            }
        }
    }

    #[test]
    fn sizes() {
        assert!(std::mem::size_of::<ListValue>() <= 32);
    }

    /// Pushes at either end reallocate an end pack a few times per pack, not once per
    /// push, and only the end packs keep growth slack.
    #[test]
    fn end_packs_grow_geometrically_and_inner_packs_are_tight() {
        let fill = Fill::default();
        let v = [b'x'; 64];
        for end in [End::Back, End::Front] {
            let mut l = ListValue::new();
            let mut reallocs = 0;
            let mut last_cap = 0;
            let mut moves = 0;
            let mut last_start = 0;
            for _ in 0..20_000 {
                l.push(end, &v, fill);
                let Repr::Big(b) = &l.0 else { continue };
                let p = match end {
                    End::Back => b.nodes.back(),
                    End::Front => b.nodes.front(),
                };
                let cap = p.map_or(0, |p| p.raw.capacity());
                if cap != last_cap {
                    reallocs += 1;
                    last_cap = cap;
                }
                // Where the entries that were there before this push start now; a
                // push that moved them all (a memmove per push) makes it differ.
                let start = p.map_or(0, |p| p.data().as_ptr() as usize);
                let pushed = entry_size(v.len());
                let kept = match end {
                    End::Back => start == last_start,
                    End::Front => start + pushed == last_start,
                };
                if !kept {
                    moves += 1;
                }
                last_start = start;
            }
            let Repr::Big(b) = &l.0 else {
                panic!("20,000 elements make a big list")
            };
            let packs = b.nodes.len();
            assert!(packs > 100, "{packs}");
            // Exact growth changed the capacity at every one of the ~120 pushes a
            // pack holds; now ~8 times up to GROW_FROM bytes, then ~7 times by half.
            assert!(
                reallocs < packs * 20,
                "{reallocs} capacity changes for {packs} packs"
            );
            // Entries move only when their pack's buffer is replaced, not per push.
            assert!(
                moves < packs * 20,
                "{end:?}: entries moved {moves} times for {packs} packs"
            );
            for (i, p) in b.nodes.iter().enumerate() {
                assert!(p.bytes() <= 8192);
                if i > 0 && i + 1 < packs {
                    assert_eq!(p.raw.capacity(), p.bytes(), "inner pack {i} has slack");
                }
            }
        }
        // A small list grows exactly: no slack in the many small lists of a dataset.
        let mut l = ListValue::new();
        for _ in 0..5 {
            l.push_back(&v, fill);
        }
        let Repr::Small(p) = &l.0 else {
            panic!("5 elements make a small list")
        };
        assert_eq!(p.raw.capacity(), p.bytes());
    }
}
