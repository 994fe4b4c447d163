//! Streams: an append-only log of entries (ID + field/value pairs) with consumer
//! groups, stored the way Redis stores them.
//!
//! ## Encoding
//!
//! Entries live in *nodes*, packed byte buffers of up to `stream-node-max-entries`
//! entries / `stream-node-max-bytes` bytes, indexed by a `BTreeMap` keyed by the ID
//! of the node's first entry (the *master* ID; Redis uses a radix tree of listpacks).
//! A node starts with the *master fields* (the field names of its first entry); an
//! entry whose field names equal them stores only its values. Entry IDs are stored as
//! deltas from the master ID. Deleted entries are flagged in place (as Redis does) and
//! a node goes away when its last live entry does.
//!
//! Node layout: `varint nfields, field*` then entries:
//! `flags:u8, varint ms_delta, varint zigzag(seq_delta), [varint nfields], (field? value)*`.
//! Each element is `varint h` followed by `h >> 1` bytes if `h & 1 == 0`, or is the
//! integer `unzigzag(h >> 1)` if `h & 1 == 1` (canonical decimal strings are stored as
//! integers, like listpack does).
//!
//! Node boundaries must match Redis's exactly, since approximate trimming (`~`) removes
//! whole nodes only: each node tracks the byte size the equivalent Redis listpack
//! would have ([`Node::lp_bytes`]) so the "node full" test is Redis's.

use std::collections::BTreeMap;
use std::sync::Arc;

/// A stream entry ID: `<ms>-<seq>`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    pub fn is_zero(&self) -> bool {
        self.ms == 0 && self.seq == 0
    }

    /// The next ID (`streamIncrID`); `None` past the maximum.
    pub fn incr(&self) -> Option<StreamId> {
        if self.seq == u64::MAX {
            if self.ms == u64::MAX {
                None
            } else {
                Some(StreamId::new(self.ms + 1, 0))
            }
        } else {
            Some(StreamId::new(self.ms, self.seq + 1))
        }
    }

    /// The previous ID (`streamDecrID`); `None` below 0-0.
    pub fn decr(&self) -> Option<StreamId> {
        if self.seq == 0 {
            if self.ms == 0 {
                None
            } else {
                Some(StreamId::new(self.ms - 1, u64::MAX))
            }
        } else {
            Some(StreamId::new(self.ms, self.seq - 1))
        }
    }

    /// `<ms>-<seq>` text.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = itoa::Buffer::new();
        let mut v = Vec::with_capacity(24);
        v.extend_from_slice(b.format(self.ms).as_bytes());
        v.push(b'-');
        v.extend_from_slice(b.format(self.seq).as_bytes());
        v
    }
}

// ---------------------------------------------------------------------------
// Varints and elements

fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

fn get_varint(buf: &[u8], pos: &mut usize) -> u64 {
    let mut v: u64 = 0;
    let mut shift = 0;
    while let Some(&b) = buf.get(*pos) {
        *pos += 1;
        if shift < 64 {
            v |= u64::from(b & 0x7f) << shift;
        }
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    v
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// The integer a canonical decimal string stands for (listpack's `lpStringToInt64`).
fn canonical_int(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let v = crate::util::num::parse_i64(s)?;
    let mut b = itoa::Buffer::new();
    (b.format(v).as_bytes() == s).then_some(v)
}

fn put_elem(buf: &mut Vec<u8>, s: &[u8]) {
    // Integers whose zigzag form needs the top bit stay strings (the tag takes a bit).
    if let Some(z) = canonical_int(s).map(zigzag).filter(|z| *z < 1 << 63) {
        put_varint(buf, (z << 1) | 1);
    } else {
        put_varint(buf, (s.len() as u64) << 1);
        buf.extend_from_slice(s);
    }
}

/// One decoded element of a node: bytes or an integer.
#[derive(Clone, Copy, Debug)]
pub enum Elem<'a> {
    Bytes(&'a [u8]),
    Int(i64),
}

impl Elem<'_> {
    /// The element's bytes (integers are formatted into `b`).
    pub fn as_bytes<'s>(&'s self, b: &'s mut itoa::Buffer) -> &'s [u8] {
        match self {
            Elem::Bytes(s) => s,
            Elem::Int(v) => b.format(*v).as_bytes(),
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        let mut b = itoa::Buffer::new();
        self.as_bytes(&mut b).to_vec()
    }

    fn eq_bytes(&self, s: &[u8]) -> bool {
        let mut b = itoa::Buffer::new();
        self.as_bytes(&mut b) == s
    }
}

fn get_elem<'a>(buf: &'a [u8], pos: &mut usize) -> Elem<'a> {
    let h = get_varint(buf, pos);
    if h & 1 == 1 {
        Elem::Int(unzigzag(h >> 1))
    } else {
        let len = (h >> 1) as usize;
        let start = (*pos).min(buf.len());
        let end = start.saturating_add(len).min(buf.len());
        *pos = end;
        Elem::Bytes(&buf[start..end])
    }
}

fn skip_elem(buf: &[u8], pos: &mut usize) {
    let h = get_varint(buf, pos);
    if h & 1 == 0 {
        *pos = pos.saturating_add((h >> 1) as usize);
    }
}

// ---------------------------------------------------------------------------
// Redis listpack size model (for node boundaries)

fn lp_int_size(v: i64) -> usize {
    if (0..=127).contains(&v) {
        1
    } else if (-4096..=4095).contains(&v) {
        2
    } else if (-32768..=32767).contains(&v) {
        3
    } else if (-8_388_608..=8_388_607).contains(&v) {
        4
    } else if (-2_147_483_648..=2_147_483_647).contains(&v) {
        5
    } else {
        9
    }
}

fn lp_backlen_size(l: usize) -> usize {
    if l <= 127 {
        1
    } else if l < 16383 {
        2
    } else if l < 2_097_151 {
        3
    } else if l < 268_435_455 {
        4
    } else {
        5
    }
}

fn lp_entry_size_int(v: i64) -> usize {
    let e = lp_int_size(v);
    e + lp_backlen_size(e)
}

fn lp_entry_size(s: &[u8]) -> usize {
    let e = match canonical_int(s) {
        Some(v) => lp_int_size(v),
        None if s.len() < 64 => 1 + s.len(),
        None if s.len() < 4096 => 2 + s.len(),
        None => 5 + s.len(),
    };
    e + lp_backlen_size(e)
}

// ---------------------------------------------------------------------------
// Nodes

const FLAG_DELETED: u8 = 1;
const FLAG_SAMEFIELDS: u8 = 2;

/// One node: a packed buffer of entries (see module docs).
pub struct Node {
    buf: Vec<u8>,
    /// Live entries.
    live: u32,
    /// Entries flagged deleted.
    deleted: u32,
    /// Size of the Redis listpack for this node, without its count/deleted elements.
    lp_rest: u32,
    /// Offset of the first entry (after the master fields).
    first_entry: u32,
    /// Number of master fields.
    master_fields: u32,
    /// Offset of the last entry appended.
    last_off: u32,
}

/// Where an entry is: its ID, node (by master ID) and offset of its flags byte.
#[derive(Clone, Copy, Debug)]
pub struct EntryPos {
    pub id: StreamId,
    pub master: StreamId,
    pub offset: u32,
}

impl Node {
    fn lp_bytes(&self) -> usize {
        self.lp_rest as usize
            + lp_entry_size_int(i64::from(self.live))
            + lp_entry_size_int(i64::from(self.deleted))
    }

    /// Walks the entries: (offset of flags, flags, id), deleted ones included.
    fn scan(&self, master: StreamId, mut f: impl FnMut(u32, u8, StreamId) -> bool) {
        let buf = &self.buf;
        let mut pos = self.first_entry as usize;
        while pos < buf.len() {
            let at = pos;
            let flags = buf[pos];
            pos += 1;
            let msd = get_varint(buf, &mut pos);
            let seqd = unzigzag(get_varint(buf, &mut pos));
            let id = StreamId::new(
                master.ms.wrapping_add(msd),
                master.seq.wrapping_add(seqd as u64),
            );
            let n = if flags & FLAG_SAMEFIELDS != 0 {
                self.master_fields as usize
            } else {
                get_varint(buf, &mut pos) as usize * 2
            };
            for _ in 0..n {
                skip_elem(buf, &mut pos);
            }
            if !f(at as u32, flags, id) {
                return;
            }
        }
    }

    /// The field/value pairs of the entry at `offset`.
    pub fn fields(&self, offset: u32) -> Vec<(Elem<'_>, Elem<'_>)> {
        let buf = &self.buf;
        let mut pos = offset as usize;
        let Some(&flags) = buf.get(pos) else {
            return Vec::new();
        };
        pos += 1;
        get_varint(buf, &mut pos);
        get_varint(buf, &mut pos);
        if flags & FLAG_SAMEFIELDS != 0 {
            let mut mpos = 0;
            let n = get_varint(buf, &mut mpos) as usize;
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                let f = get_elem(buf, &mut mpos);
                let v = get_elem(buf, &mut pos);
                out.push((f, v));
            }
            out
        } else {
            let n = get_varint(buf, &mut pos) as usize;
            let mut out = Vec::with_capacity(n.min(1024));
            for _ in 0..n {
                let f = get_elem(buf, &mut pos);
                let v = get_elem(buf, &mut pos);
                out.push((f, v));
            }
            out
        }
    }

    fn mark_deleted(&mut self, offset: u32) -> bool {
        match self.buf.get_mut(offset as usize) {
            Some(f) if *f & FLAG_DELETED == 0 => {
                *f |= FLAG_DELETED;
                self.live -= 1;
                self.deleted += 1;
                true
            }
            _ => false,
        }
    }

    /// ID of the node's last entry (deleted or not).
    fn last_id(&self, master: StreamId) -> StreamId {
        let mut last = master;
        self.scan(master, |_, _, id| {
            last = id;
            true
        });
        last
    }
}

// ---------------------------------------------------------------------------
// Pending-entry lists

/// Entries per chunk of an [`IdMap`].
const CHUNK: usize = 64;

/// An ordered map from stream IDs, for pending-entry lists: sorted chunks of up to
/// [`CHUNK`] pairs indexed by their first ID. IDs mostly arrive in increasing order,
/// so chunks fill up completely (a `BTreeMap` would leave its nodes half empty) and a
/// pending entry costs little more than its own bytes.
#[derive(Clone, Debug)]
pub struct IdMap<V> {
    chunks: BTreeMap<StreamId, Vec<(StreamId, V)>>,
    len: usize,
}

impl<V> Default for IdMap<V> {
    fn default() -> Self {
        IdMap {
            chunks: BTreeMap::new(),
            len: 0,
        }
    }
}

impl<V> IdMap<V> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn chunk_of(&self, id: StreamId) -> Option<StreamId> {
        self.chunks.range(..=id).next_back().map(|(k, _)| *k)
    }

    pub fn get(&self, id: &StreamId) -> Option<&V> {
        let c = self.chunks.get(&self.chunk_of(*id)?)?;
        let i = c.binary_search_by_key(id, |e| e.0).ok()?;
        Some(&c[i].1)
    }

    pub fn get_mut(&mut self, id: &StreamId) -> Option<&mut V> {
        let k = self.chunk_of(*id)?;
        let c = self.chunks.get_mut(&k)?;
        let i = c.binary_search_by_key(id, |e| e.0).ok()?;
        Some(&mut c[i].1)
    }

    pub fn contains_key(&self, id: &StreamId) -> bool {
        self.get(id).is_some()
    }

    /// Inserts or replaces; returns the previous value.
    pub fn insert(&mut self, id: StreamId, v: V) -> Option<V> {
        let Some(k) = self.chunk_of(id) else {
            // Before every chunk: joins the first one (re-keyed) or starts a new one.
            match self.chunks.first_entry() {
                Some(e) if e.get().len() < CHUNK => {
                    let mut c = e.remove();
                    c.insert(0, (id, v));
                    self.chunks.insert(id, c);
                }
                _ => {
                    self.chunks.insert(id, vec![(id, v)]);
                }
            }
            self.len += 1;
            return None;
        };
        let c = self.chunks.get_mut(&k)?;
        let i = match c.binary_search_by_key(&id, |e| e.0) {
            Ok(i) => return Some(std::mem::replace(&mut c[i].1, v)),
            Err(i) => i,
        };
        self.len += 1;
        if c.len() < CHUNK {
            c.insert(i, (id, v));
        } else if i == c.len() {
            // Appending past a full chunk: a new chunk (the full one stays full).
            self.chunks.insert(id, vec![(id, v)]);
        } else {
            // Inserting inside a full chunk: split it in two halves first.
            let mut right = c.split_off(CHUNK / 2);
            c.shrink_to_fit();
            if i <= c.len() {
                c.insert(i, (id, v));
            } else {
                right.insert(i - CHUNK / 2, (id, v));
            }
            let rk = right[0].0;
            self.chunks.insert(rk, right);
        }
        None
    }

    pub fn remove(&mut self, id: &StreamId) -> Option<V> {
        let k = self.chunk_of(*id)?;
        let c = self.chunks.get_mut(&k)?;
        let i = c.binary_search_by_key(id, |e| e.0).ok()?;
        let (_, v) = c.remove(i);
        self.len -= 1;
        if c.is_empty() {
            self.chunks.remove(&k);
        } else {
            if c.capacity() > 8 && c.len() < c.capacity() / 4 {
                c.shrink_to(c.len() * 2);
            }
            if i == 0 {
                if let Some(c) = self.chunks.remove(&k) {
                    self.chunks.insert(c[0].0, c);
                }
            }
        }
        Some(v)
    }

    /// Pairs with IDs `>= start`, in order.
    pub fn iter_from(&self, start: StreamId) -> impl Iterator<Item = (&StreamId, &V)> + '_ {
        let first = self.chunk_of(start).unwrap_or(start);
        self.chunks
            .range(first..)
            .flat_map(|(_, c)| c.iter())
            .skip_while(move |e| e.0 < start)
            .map(|e| (&e.0, &e.1))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&StreamId, &V)> + '_ {
        self.iter_from(StreamId::MIN)
    }

    pub fn keys(&self) -> impl Iterator<Item = &StreamId> + '_ {
        self.iter().map(|(k, _)| k)
    }

    /// The first ID after `id`.
    pub fn next_after(&self, id: StreamId) -> Option<StreamId> {
        self.iter_from(id).map(|(k, _)| *k).find(|k| *k > id)
    }

    pub fn first(&self) -> Option<StreamId> {
        self.chunks
            .values()
            .next()
            .and_then(|c| c.first())
            .map(|e| e.0)
    }

    pub fn last(&self) -> Option<StreamId> {
        self.chunks
            .values()
            .next_back()
            .and_then(|c| c.last())
            .map(|e| e.0)
    }

    fn heap_size(&self) -> usize {
        self.chunks
            .values()
            .map(|c| c.capacity() * std::mem::size_of::<(StreamId, V)>() + 48)
            .sum()
    }
}

// ---------------------------------------------------------------------------
// Consumer groups

/// A pending (delivered, not acknowledged) entry of a group (Redis's `streamNACK`).
#[derive(Clone, Debug)]
pub struct Nack {
    pub delivery_time: u64,
    pub delivery_count: u64,
    /// The owning consumer's name, shared with [`Consumer::name`] (no allocation per
    /// pending entry).
    pub consumer: Arc<[u8]>,
}

#[derive(Clone, Debug)]
pub struct Consumer {
    pub name: Arc<[u8]>,
    /// Last time it tried to do something (read, claim...), Unix ms.
    pub seen_time: u64,
    /// Last successful interaction, Unix ms; -1 = never.
    pub active_time: i64,
    /// Its pending entries (the NACKs live in the group's PEL).
    pub pel: IdMap<()>,
}

impl Consumer {
    pub fn new(name: &[u8], now: u64) -> Consumer {
        Consumer {
            name: name.into(),
            seen_time: now,
            active_time: -1,
            pel: IdMap::default(),
        }
    }
}

/// Redis's `SCG_INVALID_ENTRIES_READ`.
pub const INVALID_ENTRIES_READ: i64 = -1;

#[derive(Clone, Debug)]
pub struct ConsumerGroup {
    pub last_id: StreamId,
    /// Logical read counter; [`INVALID_ENTRIES_READ`] when unknown.
    pub entries_read: i64,
    pub pel: IdMap<Nack>,
    pub consumers: BTreeMap<Box<[u8]>, Consumer>,
}

impl ConsumerGroup {
    pub fn new(last_id: StreamId, entries_read: i64) -> ConsumerGroup {
        ConsumerGroup {
            last_id,
            entries_read,
            pel: IdMap::default(),
            consumers: BTreeMap::new(),
        }
    }

    /// Removes `id` from the group PEL and its consumer's PEL. True if it was there.
    pub fn ack(&mut self, id: StreamId) -> bool {
        match self.pel.remove(&id) {
            Some(n) => {
                if let Some(c) = self.consumers.get_mut(&*n.consumer) {
                    c.pel.remove(&id);
                }
                true
            }
            None => false,
        }
    }

    /// Deletes a consumer and its pending entries; returns how many it had.
    pub fn delete_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let c = self.consumers.remove(name)?;
        for id in c.pel.keys() {
            self.pel.remove(id);
        }
        Some(c.pel.len())
    }

    fn heap_size(&self) -> usize {
        self.pel.heap_size()
            + self
                .consumers
                .iter()
                .map(|(k, c)| k.len() * 2 + 64 + c.pel.heap_size())
                .sum::<usize>()
    }
}

// ---------------------------------------------------------------------------
// The stream

/// Limits for appending (`stream-node-max-entries`, `stream-node-max-bytes`).
#[derive(Clone, Copy, Debug)]
pub struct NodeLimits {
    pub max_entries: u64,
    pub max_bytes: u64,
}

/// How to trim (XADD/XTRIM's MAXLEN/MINID).
#[derive(Clone, Copy, Debug)]
pub enum Trim {
    MaxLen(u64),
    MinId(StreamId),
}

#[derive(Clone, Default)]
pub struct StreamValue {
    nodes: BTreeMap<StreamId, Node>,
    pub length: u64,
    pub last_id: StreamId,
    pub first_id: StreamId,
    pub max_deleted_id: StreamId,
    pub entries_added: u64,
    /// Consumer groups by name (created on demand).
    pub groups: Option<Box<BTreeMap<Box<[u8]>, ConsumerGroup>>>,
}

impl Clone for Node {
    fn clone(&self) -> Node {
        Node {
            buf: self.buf.clone(),
            live: self.live,
            deleted: self.deleted,
            lp_rest: self.lp_rest,
            first_entry: self.first_entry,
            master_fields: self.master_fields,
            last_off: self.last_off,
        }
    }
}

/// Redis's listpack size limit for one stream node.
const LISTPACK_MAX_SIZE: u64 = 1 << 30;

impl StreamValue {
    pub fn new() -> StreamValue {
        StreamValue::default()
    }

    pub fn encoding(&self) -> &'static str {
        "stream"
    }

    pub fn len(&self) -> u64 {
        self.length
    }

    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// Number of nodes (XINFO STREAM `radix-tree-keys`).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The nodes' keys as Redis stores them in its radix tree (128-bit big endian).
    pub fn node_keys(&self) -> Vec<[u8; 16]> {
        self.nodes
            .keys()
            .map(|k| {
                let mut b = [0u8; 16];
                b[..8].copy_from_slice(&k.ms.to_be_bytes());
                b[8..].copy_from_slice(&k.seq.to_be_bytes());
                b
            })
            .collect()
    }

    pub fn heap_size(&self) -> usize {
        let nodes: usize = self.nodes.values().map(|n| n.buf.capacity() + 80).sum();
        let groups = self
            .groups
            .as_ref()
            .map(|g| g.iter().map(|(k, g)| k.len() + 96 + g.heap_size()).sum())
            .unwrap_or(0);
        std::mem::size_of::<StreamValue>() + nodes + groups
    }

    pub fn group(&self, name: &[u8]) -> Option<&ConsumerGroup> {
        self.groups.as_ref()?.get(name)
    }

    pub fn group_mut(&mut self, name: &[u8]) -> Option<&mut ConsumerGroup> {
        self.groups.as_mut()?.get_mut(name)
    }

    pub fn groups_mut(&mut self) -> &mut BTreeMap<Box<[u8]>, ConsumerGroup> {
        self.groups.get_or_insert_with(Default::default)
    }

    pub fn group_count(&self) -> usize {
        self.groups.as_ref().map_or(0, |g| g.len())
    }

    /// Appends an entry with ID `id` (greater than `last_id`, checked by the caller).
    /// `pairs` alternates fields and values.
    pub fn append(&mut self, id: StreamId, pairs: &[&[u8]], limits: NodeLimits) {
        let numfields = pairs.len() / 2;
        let totelelen: u64 = pairs.iter().map(|p| p.len() as u64).sum();
        let mut node_max = limits.max_bytes;
        if node_max == 0 || node_max > LISTPACK_MAX_SIZE {
            node_max = LISTPACK_MAX_SIZE;
        }
        let mut use_tail = false;
        if let Some((_, tail)) = self.nodes.iter().next_back() {
            let full = (tail.lp_bytes() as u64).saturating_add(totelelen) >= node_max
                || (limits.max_entries != 0
                    && u64::from(tail.live) + u64::from(tail.deleted) >= limits.max_entries);
            use_tail = !full;
        }
        if !use_tail {
            if let Some(mut e) = self.nodes.last_entry() {
                e.get_mut().buf.shrink_to_fit();
            }
            let mut buf = Vec::with_capacity(64);
            put_varint(&mut buf, numfields as u64);
            // Redis: count, deleted, num-fields, fields..., 0 terminator.
            let mut lp_rest = 7 + lp_entry_size_int(numfields as i64) + lp_entry_size_int(0);
            for i in 0..numfields {
                put_elem(&mut buf, pairs[i * 2]);
                lp_rest += lp_entry_size(pairs[i * 2]);
            }
            let first_entry = buf.len() as u32;
            self.nodes.insert(
                id,
                Node {
                    buf,
                    live: 0,
                    deleted: 0,
                    lp_rest: lp_rest as u32,
                    first_entry,
                    master_fields: numfields as u32,
                    last_off: first_entry,
                },
            );
        }
        let Some((&master, node)) = self.nodes.iter_mut().next_back() else {
            return;
        };
        // Same fields as the master entry?
        let mut same = node.master_fields as usize == numfields;
        if same {
            let mut mpos = 0;
            get_varint(&node.buf, &mut mpos);
            for i in 0..numfields {
                if !get_elem(&node.buf, &mut mpos).eq_bytes(pairs[i * 2]) {
                    same = false;
                    break;
                }
            }
        }
        let flags = if same { FLAG_SAMEFIELDS } else { 0 };
        node.last_off = node.buf.len() as u32;
        let msd = id.ms.wrapping_sub(master.ms);
        let seqd = id.seq.wrapping_sub(master.seq) as i64;
        node.buf.push(flags);
        put_varint(&mut node.buf, msd);
        put_varint(&mut node.buf, zigzag(seqd));
        let mut lp = lp_entry_size_int(i64::from(flags))
            + lp_entry_size_int(msd as i64)
            + lp_entry_size_int(seqd);
        if !same {
            put_varint(&mut node.buf, numfields as u64);
            lp += lp_entry_size_int(numfields as i64);
        }
        for i in 0..numfields {
            if !same {
                put_elem(&mut node.buf, pairs[i * 2]);
                lp += lp_entry_size(pairs[i * 2]);
            }
            put_elem(&mut node.buf, pairs[i * 2 + 1]);
            lp += lp_entry_size(pairs[i * 2 + 1]);
        }
        let lp_count = if same {
            numfields + 3
        } else {
            numfields * 2 + 4
        };
        lp += lp_entry_size_int(lp_count as i64);
        node.lp_rest = node.lp_rest.saturating_add(lp as u32);
        node.live += 1;
        if self.length == 0 {
            self.first_id = id;
        }
        self.length += 1;
        self.entries_added += 1;
        self.last_id = id;
    }

    /// Live entries with `start <= id <= end`, in order (`rev` = newest first), at
    /// most `count` (0 = all).
    pub fn range(&self, start: StreamId, end: StreamId, rev: bool, count: usize) -> Vec<EntryPos> {
        let mut out = Vec::new();
        if start > end {
            return out;
        }
        let first_master = self
            .nodes
            .range(..=start)
            .next_back()
            .map(|(k, _)| *k)
            .unwrap_or(start);
        let nodes = self.nodes.range(first_master..=end);
        let full = |out: &Vec<EntryPos>| count != 0 && out.len() >= count;
        if !rev {
            for (&master, node) in nodes {
                let mut stop = false;
                node.scan(master, |off, flags, id| {
                    if id > end {
                        stop = true;
                        return false;
                    }
                    if id >= start && flags & FLAG_DELETED == 0 {
                        out.push(EntryPos {
                            id,
                            master,
                            offset: off,
                        });
                        if full(&out) {
                            stop = true;
                            return false;
                        }
                    }
                    true
                });
                if stop {
                    break;
                }
            }
        } else {
            for (&master, node) in nodes.rev() {
                let mut ents = Vec::new();
                node.scan(master, |off, flags, id| {
                    if id > end {
                        return false;
                    }
                    if id >= start && flags & FLAG_DELETED == 0 {
                        ents.push(EntryPos {
                            id,
                            master,
                            offset: off,
                        });
                    }
                    true
                });
                for e in ents.into_iter().rev() {
                    out.push(e);
                    if full(&out) {
                        return out;
                    }
                }
            }
        }
        out
    }

    /// The live entry with this ID.
    pub fn find(&self, id: StreamId) -> Option<EntryPos> {
        self.range(id, id, false, 1).into_iter().next()
    }

    /// Field/value pairs of an entry found by [`StreamValue::range`].
    pub fn fields(&self, pos: &EntryPos) -> Vec<(Elem<'_>, Elem<'_>)> {
        match self.nodes.get(&pos.master) {
            Some(n) => n.fields(pos.offset),
            None => Vec::new(),
        }
    }

    /// Deletes one entry (XDEL); true if it existed. Does not update `first_id` /
    /// `max_deleted_id` (the command does, as Redis's xdelCommand).
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some(pos) = self.find(id) else {
            return false;
        };
        let Some(node) = self.nodes.get_mut(&pos.master) else {
            return false;
        };
        if !node.mark_deleted(pos.offset) {
            return false;
        }
        if node.live == 0 {
            self.nodes.remove(&pos.master);
        }
        self.length -= 1;
        true
    }

    /// The first (`first`) or last live entry ID, if any (`streamGetEdgeID`).
    pub fn edge_id(&self, first: bool) -> Option<StreamId> {
        if first {
            for (&m, n) in self.nodes.iter() {
                let mut found = None;
                n.scan(m, |_, flags, id| {
                    if flags & FLAG_DELETED == 0 {
                        found = Some(id);
                        return false;
                    }
                    true
                });
                if found.is_some() {
                    return found;
                }
            }
            None
        } else {
            for (&m, n) in self.nodes.iter().rev() {
                let mut found = None;
                n.scan(m, |_, flags, id| {
                    if flags & FLAG_DELETED == 0 {
                        found = Some(id);
                    }
                    true
                });
                if found.is_some() {
                    return found;
                }
            }
            None
        }
    }

    /// `streamLastValidID`: the last live entry's ID, or 0-0.
    pub fn last_valid_id(&self) -> StreamId {
        // Fast path: the last entry of the tail node is live.
        if let Some((&m, n)) = self.nodes.iter().next_back() {
            let mut pos = n.last_off as usize;
            if let Some(&flags) = n.buf.get(pos) {
                if flags & FLAG_DELETED == 0 {
                    pos += 1;
                    let msd = get_varint(&n.buf, &mut pos);
                    let seqd = unzigzag(get_varint(&n.buf, &mut pos));
                    return StreamId::new(m.ms.wrapping_add(msd), m.seq.wrapping_add(seqd as u64));
                }
            }
        }
        self.edge_id(false).unwrap_or_default()
    }

    /// Recomputes `first_id` after removals.
    pub fn refresh_first_id(&mut self) {
        self.first_id = if self.length == 0 {
            StreamId::MIN
        } else {
            self.edge_id(true).unwrap_or_default()
        };
    }

    /// Trims as Redis's `streamTrim`: whole nodes from the head, then (unless
    /// `approx`) single entries of the first node that must stay. `limit` (0 = none)
    /// bounds the entries removed. Returns how many were removed.
    pub fn trim(&mut self, how: Trim, approx: bool, limit: u64) -> u64 {
        let mut deleted: u64 = 0;
        loop {
            if let Trim::MaxLen(max) = how {
                if self.length <= max {
                    break;
                }
            }
            let Some((&master, node)) = self.nodes.iter_mut().next() else {
                break;
            };
            let entries = u64::from(node.live);
            if limit != 0 && deleted + entries > limit {
                break;
            }
            let remove_node = match how {
                Trim::MaxLen(max) => self.length - entries >= max,
                Trim::MinId(min) => node.last_id(master) < min,
            };
            if remove_node {
                self.nodes.remove(&master);
                self.length -= entries;
                deleted += entries;
                continue;
            }
            if approx {
                break;
            }
            let mut to_mark = Vec::new();
            let mut length = self.length;
            node.scan(master, |off, flags, id| {
                let stop = match how {
                    Trim::MaxLen(max) => length <= max,
                    Trim::MinId(min) => id >= min,
                };
                if stop {
                    return false;
                }
                if flags & FLAG_DELETED == 0 {
                    to_mark.push(off);
                    length -= 1;
                }
                true
            });
            for off in &to_mark {
                node.mark_deleted(*off);
            }
            let n = to_mark.len() as u64;
            self.length -= n;
            deleted += n;
            if node.live == 0 {
                self.nodes.remove(&master);
            }
            break;
        }
        self.refresh_first_id();
        deleted
    }

    /// Whether `start..=end` (None = open) may contain a deleted entry
    /// (`streamRangeHasTombstones`).
    pub fn range_has_tombstones(&self, start: Option<StreamId>, end: Option<StreamId>) -> bool {
        if self.length == 0 || self.max_deleted_id.is_zero() {
            return false;
        }
        if self.first_id > self.max_deleted_id {
            return false;
        }
        let s = start.unwrap_or(StreamId::MIN);
        let e = end.unwrap_or(StreamId::MAX);
        s <= self.max_deleted_id && self.max_deleted_id <= e
    }

    /// `streamEstimateDistanceFromFirstEverEntry`: the logical read counter of `id`,
    /// or [`INVALID_ENTRIES_READ`].
    pub fn estimate_distance(&self, id: StreamId) -> i64 {
        if self.entries_added == 0 {
            return 0;
        }
        if self.length == 0 && id <= self.last_id {
            return self.entries_added as i64;
        }
        if id == self.last_id {
            return self.entries_added as i64;
        } else if id > self.last_id {
            return INVALID_ENTRIES_READ;
        }
        if self.max_deleted_id.is_zero() || self.max_deleted_id < self.first_id {
            if id < self.first_id {
                return (self.entries_added - self.length) as i64;
            } else if id == self.first_id {
                return (self.entries_added - self.length + 1) as i64;
            }
        }
        INVALID_ENTRIES_READ
    }

    /// A group's lag (`streamReplyWithCGLag`); `None` when it cannot be known.
    pub fn group_lag(&self, g: &ConsumerGroup) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if g.entries_read != INVALID_ENTRIES_READ
            && !self.range_has_tombstones(Some(g.last_id), None)
        {
            return Some(self.entries_added as i64 - g.entries_read);
        }
        let er = self.estimate_distance(g.last_id);
        (er != INVALID_ENTRIES_READ).then(|| self.entries_added as i64 - er)
    }

    /// The first and last entries (XINFO STREAM).
    pub fn first_last(&self) -> (Option<EntryPos>, Option<EntryPos>) {
        let f = self.range(StreamId::MIN, StreamId::MAX, false, 1);
        let l = self.range(StreamId::MIN, StreamId::MAX, true, 1);
        (f.into_iter().next(), l.into_iter().next())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: NodeLimits = NodeLimits {
        max_entries: 100,
        max_bytes: 4096,
    };

    fn ids(s: &StreamValue, rev: bool) -> Vec<u64> {
        s.range(StreamId::MIN, StreamId::MAX, rev, 0)
            .iter()
            .map(|e| e.id.ms)
            .collect()
    }

    #[test]
    fn append_range_delete() {
        let mut s = StreamValue::new();
        for i in 1..=250u64 {
            let v = i.to_string();
            let pairs: [&[u8]; 4] = [b"a", v.as_bytes(), b"b", b"x"];
            s.append(StreamId::new(i, 0), &pairs, L);
        }
        assert_eq!(s.node_count(), 3);
        assert_eq!(ids(&s, false), (1..=250).collect::<Vec<_>>());
        assert_eq!(ids(&s, true), (1..=250).rev().collect::<Vec<_>>());
        let e = s.find(StreamId::new(7, 0)).unwrap();
        let f = s.fields(&e);
        assert_eq!(f[0].1.to_vec(), b"7");
        assert_eq!(f[1].1.to_vec(), b"x");
        assert_eq!(s.last_valid_id(), StreamId::new(250, 0));
        assert!(s.delete(StreamId::new(7, 0)));
        assert!(!s.delete(StreamId::new(7, 0)));
        assert_eq!(s.len(), 249);
        let r = s.range(StreamId::new(5, 0), StreamId::new(9, 0), false, 0);
        assert_eq!(r.len(), 4);
        assert_eq!(s.trim(Trim::MaxLen(120), true, 0), 99);
        assert_eq!(s.trim(Trim::MaxLen(100), false, 0), 50);
        assert_eq!(s.len(), 100);
        assert_eq!(s.first_id, StreamId::new(151, 0));
    }

    #[test]
    fn idmap_behaves_like_a_btreemap() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut a: IdMap<u64> = IdMap::default();
        let mut b: BTreeMap<StreamId, u64> = BTreeMap::new();
        for step in 0..20_000u64 {
            let id = StreamId::new(rng.gen_range(0..3000), rng.gen_range(0..3));
            match rng.gen_range(0..10) {
                0..=5 => assert_eq!(a.insert(id, step), b.insert(id, step)),
                6..=8 => assert_eq!(a.remove(&id), b.remove(&id)),
                _ => {
                    let got: Vec<_> = a.iter_from(id).take(5).map(|(k, v)| (*k, *v)).collect();
                    let want: Vec<_> = b.range(id..).take(5).map(|(k, v)| (*k, *v)).collect();
                    assert_eq!(got, want);
                    assert_eq!(
                        a.next_after(id),
                        b.range((std::ops::Bound::Excluded(id), std::ops::Bound::Unbounded))
                            .next()
                            .map(|(k, _)| *k)
                    );
                }
            }
            assert_eq!(a.len(), b.len());
            assert_eq!(a.get(&id), b.get(&id));
        }
        assert_eq!(a.first(), b.keys().next().copied());
        assert_eq!(a.last(), b.keys().next_back().copied());
        let all: Vec<_> = a.iter().map(|(k, v)| (*k, *v)).collect();
        let want: Vec<_> = b.iter().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(all, want);
        // Sequential inserts fill chunks completely.
        let mut seq: IdMap<()> = IdMap::default();
        for i in 0..(CHUNK as u64 * 10) {
            seq.insert(StreamId::new(i, 0), ());
        }
        assert_eq!(seq.chunks.len(), 10);
    }

    #[test]
    fn last_valid_id_skips_deleted_tail() {
        let mut s = StreamValue::new();
        for i in 1..=3u64 {
            s.append(StreamId::new(i, 0), &[b"f", b"v"], L);
        }
        assert_eq!(s.last_valid_id(), StreamId::new(3, 0));
        assert!(s.delete(StreamId::new(3, 0)));
        assert_eq!(s.last_valid_id(), StreamId::new(2, 0));
        assert!(s.delete(StreamId::new(1, 0)));
        assert!(s.delete(StreamId::new(2, 0)));
        assert_eq!(s.last_valid_id(), StreamId::MIN);
        assert_eq!(s.node_count(), 0);
    }

    #[test]
    fn mixed_fields_and_negative_seq_delta() {
        let mut s = StreamValue::new();
        s.append(StreamId::new(1, 5), &[b"f", b"v"], L);
        s.append(
            StreamId::new(2, 0),
            &[
                b"g",
                b"-12",
                b"h",
                b"",
                b"i",
                b"-5410176926947689157",
                b"j",
                b"9223372036854775807",
            ],
            L,
        );
        let r = s.range(StreamId::MIN, StreamId::MAX, false, 0);
        assert_eq!(r[1].id, StreamId::new(2, 0));
        let f = s.fields(&r[1]);
        assert_eq!(f[0].0.to_vec(), b"g");
        assert_eq!(f[0].1.to_vec(), b"-12");
        assert_eq!(f[1].1.to_vec(), b"");
        assert_eq!(f[2].1.to_vec(), b"-5410176926947689157");
        assert_eq!(f[3].1.to_vec(), b"9223372036854775807");
    }
}
