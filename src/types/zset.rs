//! Sorted sets (Redis's `t_zset.c`): the value type and its two encodings.
//!
//! * `listpack`: small sets (at most `zset-max-listpack-entries` members, none longer
//!   than `zset-max-listpack-value` bytes) are one exactly-sized byte buffer of entries
//!   sorted by (score, member). Each entry is the length of the prefix it shares
//!   with the previous member (varint), a varint header (`suffix_len << 1 |
//!   is_float`), the rest of the member, then the score: a zigzag varint when it is
//!   an integer of at most 53 bits, else the 8 bytes of the `f64`. Ten members such
//!   as `member:0`..`member:9` with small integer scores take 46 bytes.
//! * `skiplist` (the name Redis and OBJECT ENCODING give it): members in an arena of
//!   `u32` slots, ordered by an order-statistic B+tree of (score, slot) keys
//!   ([`btree`]: ranks in O(log n), and a search touches three nodes at 100,000
//!   members where Redis's skiplist chases ~30 pointers), plus an open-addressing hash
//!   index of member -> slot for O(1) score lookups. Members are stored once, in the
//!   arena.
//!
//! Conversion is one way (listpack -> skiplist), as in Redis; the thresholds are
//! passed in by the commands, which read them from the configuration.
//!
//! Ordering is by score, then by member bytes (`memcmp`), as Redis orders them.
//! Scores are never NaN here: the commands reject NaN before calling in.

use std::cmp::Ordering;
use std::sync::OnceLock;

mod btree;

use super::string::SmallBytes;

/// Thresholds for the compact encoding (`zset-max-listpack-entries` / `-value`).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_entries: usize,
    pub max_value: usize,
}

/// A score interval (`ZRANGEBYSCORE` syntax: `(` makes a bound exclusive).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreRange {
    pub min: f64,
    pub max: f64,
    pub minex: bool,
    pub maxex: bool,
}

impl ScoreRange {
    pub fn gte_min(&self, v: f64) -> bool {
        if self.minex {
            v > self.min
        } else {
            v >= self.min
        }
    }
    pub fn lte_max(&self, v: f64) -> bool {
        if self.maxex {
            v < self.max
        } else {
            v <= self.max
        }
    }
}

/// One end of a lexicographic interval (`-`, `+`, `[x`, `(x`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LexBound {
    /// `-`: below every string.
    Min,
    /// `+`: above every string.
    Max,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

/// A lexicographic interval (`ZRANGEBYLEX` syntax).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LexRange {
    pub min: LexBound,
    pub max: LexBound,
}

impl LexRange {
    pub fn gte_min(&self, v: &[u8]) -> bool {
        match &self.min {
            LexBound::Min => true,
            LexBound::Max => false,
            LexBound::Incl(m) => v >= m.as_slice(),
            LexBound::Excl(m) => v > m.as_slice(),
        }
    }
    pub fn lte_max(&self, v: &[u8]) -> bool {
        match &self.max {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Incl(m) => v <= m.as_slice(),
            LexBound::Excl(m) => v < m.as_slice(),
        }
    }
}

/// Redis's element order: by score, then by member bytes.
#[inline]
pub fn cmp_entry(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> Ordering {
    if s1 < s2 {
        Ordering::Less
    } else if s1 > s2 {
        Ordering::Greater
    } else {
        m1.cmp(m2)
    }
}

/// A sorted set value.
#[derive(Clone, Debug)]
pub enum ZSetValue {
    Listpack(Box<[u8]>),
    Skiplist(Box<SkipList>),
}

impl Default for ZSetValue {
    fn default() -> Self {
        ZSetValue::Listpack(Box::default())
    }
}

impl ZSetValue {
    /// An empty set in the encoding Redis would create for a first member of
    /// `first_len` bytes (`zaddGenericCommand`).
    pub fn new_for(first_len: usize, lim: Limits) -> ZSetValue {
        if lim.max_entries == 0 || first_len > lim.max_value {
            ZSetValue::Skiplist(Box::default())
        } else {
            ZSetValue::default()
        }
    }

    /// An empty set sized for `size_hint` members of up to `len_hint` bytes
    /// (Redis's `zsetTypeCreate`).
    pub fn with_hint(size_hint: usize, len_hint: usize, lim: Limits) -> ZSetValue {
        if size_hint <= lim.max_entries && len_hint <= lim.max_value {
            ZSetValue::default()
        } else {
            ZSetValue::Skiplist(Box::default())
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            ZSetValue::Listpack(_) => "listpack",
            ZSetValue::Skiplist(_) => "skiplist",
        }
    }

    pub fn heap_size(&self) -> usize {
        match self {
            ZSetValue::Listpack(b) => b.len(),
            ZSetValue::Skiplist(s) => s.heap_size(),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ZSetValue::Listpack(b) => lp::len(b),
            ZSetValue::Skiplist(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            ZSetValue::Listpack(b) => b.is_empty(),
            ZSetValue::Skiplist(s) => s.is_empty(),
        }
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZSetValue::Listpack(b) => lp::find(b, member).map(|(_, s)| s),
            ZSetValue::Skiplist(s) => s.score(member),
        }
    }

    /// The score of `member` with a handle for `update_score_at` (valid until the set
    /// is next changed): one hash lookup for ZADD's read-then-update.
    pub fn lookup(&self, member: &[u8]) -> Option<(f64, u32)> {
        match self {
            ZSetValue::Listpack(b) => lp::find(b, member).map(|(_, s)| (s, 0)),
            ZSetValue::Skiplist(s) => {
                let slot = s.index.find(member, &s.nodes)?;
                Some((s.nodes[slot as usize].score, slot))
            }
        }
    }

    /// Changes the score of `member`, found by `lookup` with `handle`.
    pub fn update_score_at(&mut self, handle: u32, member: &[u8], score: f64) {
        match self {
            ZSetValue::Listpack(_) => {
                self.update_score(member, score);
            }
            ZSetValue::Skiplist(s) => s.update_slot(handle, score),
        }
    }

    /// Converts to the skiplist encoding (one way).
    pub fn convert_to_skiplist(&mut self) {
        if let ZSetValue::Listpack(b) = self {
            let mut sl = SkipList::default();
            lp::walk(b, |_, m, s| {
                sl.insert(m, s);
                true
            });
            *self = ZSetValue::Skiplist(Box::new(sl));
        }
    }

    /// Converts a skiplist back to a listpack if it fits the limits (only used for
    /// freshly built results, as Redis's `zsetConvertToListpackIfNeeded`).
    pub fn compact_if_fits(&mut self, lim: Limits) {
        if let ZSetValue::Skiplist(sl) = self {
            if sl.len() <= lim.max_entries && sl.max_member_len() <= lim.max_value {
                let mut entries = Vec::with_capacity(sl.len());
                let mut x = sl.tree.at_rank(0);
                while let Some(c) = x {
                    let (m, s) = sl.entry(c);
                    entries.push((m.to_vec(), s));
                    x = sl.tree.next(c);
                }
                *self = ZSetValue::Listpack(lp::encode_all(&entries));
            }
        }
    }

    /// Inserts a member known to be absent, converting to skiplist first if the
    /// listpack would exceed the limits (Redis's check in `zsetAdd`).
    pub fn insert_new(&mut self, member: &[u8], score: f64, lim: Limits) {
        if let ZSetValue::Listpack(b) = self {
            if lp::len(b) + 1 > lim.max_entries || member.len() > lim.max_value {
                self.convert_to_skiplist();
            }
        }
        match self {
            ZSetValue::Listpack(b) => *b = lp::insert(b, member, score),
            ZSetValue::Skiplist(s) => s.insert(member, score),
        }
    }

    /// Changes the score of an existing member. Returns false if it is absent.
    pub fn update_score(&mut self, member: &[u8], score: f64) -> bool {
        match self {
            ZSetValue::Listpack(b) => {
                let mut v = lp::decode_all(b);
                let Some(i) = v.iter().position(|(m, _)| m == member) else {
                    return false;
                };
                let e = v.remove(i);
                lp::insert_sorted(&mut v, e.0, score);
                *b = lp::encode_all(&v);
                true
            }
            ZSetValue::Skiplist(s) => s.update_score(member, score),
        }
    }

    /// Adds or updates `member`; returns the previous score.
    pub fn upsert(&mut self, member: &[u8], score: f64, lim: Limits) -> Option<f64> {
        match self.lookup(member) {
            Some((old, handle)) => {
                if old != score {
                    self.update_score_at(handle, member, score);
                }
                Some(old)
            }
            None => {
                self.insert_new(member, score, lim);
                None
            }
        }
    }

    /// Removes `member`; returns its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match self {
            ZSetValue::Listpack(b) => {
                let mut v = lp::decode_all(b);
                let i = v.iter().position(|(m, _)| m == member)?;
                let (_, s) = v.remove(i);
                *b = lp::encode_all(&v);
                Some(s)
            }
            ZSetValue::Skiplist(s) => s.remove(member),
        }
    }

    /// 0-based rank of `member` in ascending order, with its score.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        match self {
            ZSetValue::Listpack(b) => lp::find(b, member),
            ZSetValue::Skiplist(sl) => {
                let slot = sl.index.find(member, &sl.nodes)?;
                Some((sl.rank_of(slot)?, sl.nodes[slot as usize].score))
            }
        }
    }

    /// Ranks `[start, end)` of the members whose score is in `r`.
    pub fn score_span(&self, r: &ScoreRange) -> (usize, usize) {
        match self {
            ZSetValue::Listpack(b) => {
                let mut start = None;
                let mut i = 0;
                for (_, s) in lp::decode_all(b) {
                    match start {
                        None if r.gte_min(s) => {
                            if !r.lte_max(s) {
                                return (i, i);
                            }
                            start = Some(i);
                        }
                        None => {}
                        Some(st) if !r.lte_max(s) => return (st, i),
                        Some(_) => {}
                    }
                    i += 1;
                }
                (start.unwrap_or(i), i)
            }
            ZSetValue::Skiplist(sl) => {
                let start = sl.count_while(|s, _| !r.gte_min(s));
                let end = sl.count_while(|s, _| r.lte_max(s));
                (start, end.max(start))
            }
        }
    }

    /// Ranks `[start, end)` of the members in the lexicographic range `r` (meaningful
    /// when all scores are equal, as in Redis).
    pub fn lex_span(&self, r: &LexRange) -> (usize, usize) {
        match self {
            ZSetValue::Listpack(b) => {
                let mut start = None;
                let mut i = 0;
                for (m, _) in lp::decode_all(b) {
                    let m = m.as_slice();
                    match start {
                        None if r.gte_min(m) => {
                            if !r.lte_max(m) {
                                return (i, i);
                            }
                            start = Some(i);
                        }
                        None => {}
                        Some(st) if !r.lte_max(m) => return (st, i),
                        Some(_) => {}
                    }
                    i += 1;
                }
                (start.unwrap_or(i), i)
            }
            ZSetValue::Skiplist(sl) => {
                let start = sl.count_while(|_, m| !r.gte_min(m));
                let end = sl.count_while(|_, m| r.lte_max(m));
                (start, end.max(start))
            }
        }
    }

    /// Calls `f` for ranks `start..end` (ascending ranks), in descending order if
    /// `rev` (ranks counted from the lowest element in both cases).
    pub fn for_each_in(&self, start: usize, end: usize, rev: bool, mut f: impl FnMut(&[u8], f64)) {
        let end = end.min(self.len());
        if start >= end {
            return;
        }
        match self {
            ZSetValue::Listpack(b) => {
                let v = lp::decode_all(b);
                let part = &v[start..end];
                if rev {
                    for (m, s) in part.iter().rev() {
                        f(m, *s);
                    }
                } else {
                    for (m, s) in part {
                        f(m, *s);
                    }
                }
            }
            ZSetValue::Skiplist(sl) => {
                let mut x = sl.tree.at_rank(if rev { end - 1 } else { start });
                for _ in start..end {
                    let Some(c) = x else { break };
                    let (m, s) = sl.entry(c);
                    f(m, s);
                    x = if rev {
                        sl.tree.prev(c)
                    } else {
                        sl.tree.next(c)
                    };
                }
            }
        }
    }

    /// Members and scores of ranks `start..end`, in the order `for_each_in` gives.
    pub fn collect_range(&self, start: usize, end: usize, rev: bool) -> Vec<(Vec<u8>, f64)> {
        let mut out = Vec::with_capacity(end.saturating_sub(start).min(self.len()));
        self.for_each_in(start, end, rev, |m, s| out.push((m.to_vec(), s)));
        out
    }

    /// All members and scores in ascending order.
    pub fn to_vec(&self) -> Vec<(Vec<u8>, f64)> {
        self.collect_range(0, self.len(), false)
    }

    /// The member and score at ascending rank `rank`.
    pub fn at(&self, rank: usize) -> Option<(Vec<u8>, f64)> {
        self.collect_range(rank, rank + 1, false).pop()
    }

    /// Removes ranks `start..end`; returns how many were removed.
    pub fn remove_range(&mut self, start: usize, end: usize) -> usize {
        let end = end.min(self.len());
        if start >= end {
            return 0;
        }
        match self {
            ZSetValue::Listpack(b) => {
                let mut v = lp::decode_all(b);
                v.drain(start..end);
                *b = lp::encode_all(&v);
            }
            ZSetValue::Skiplist(sl) => {
                for _ in start..end {
                    sl.remove_at(start);
                }
            }
        }
        end - start
    }

    /// Removes and returns up to `count` members from the low end (or the high end
    /// with `max`), in pop order.
    pub fn pop(&mut self, count: usize, max: bool) -> Vec<(Vec<u8>, f64)> {
        let len = self.len();
        let n = count.min(len);
        if let ZSetValue::Skiplist(sl) = self {
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                let r = if max { sl.len() - 1 } else { 0 };
                if let Some((m, s)) = sl.remove_at(r) {
                    out.push((m.into(), s));
                }
            }
            return out;
        }
        let (start, end) = if max { (len - n, len) } else { (0, n) };
        let out = self.collect_range(start, end, max);
        self.remove_range(start, end);
        out
    }

    /// Calls `f` for every member in ascending order.
    pub fn for_each(&self, f: impl FnMut(&[u8], f64)) {
        self.for_each_in(0, self.len(), false, f)
    }

    /// ZSCAN step: calls `f` for about `count` members starting at `cursor`; returns
    /// the next cursor (0 when done). A listpack is returned whole. On a skiplist the
    /// cursor is an arena slot: members never move, so every member present for the
    /// whole scan is returned.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], f64)) -> u64 {
        match self {
            ZSetValue::Listpack(_) => {
                self.for_each(f);
                0
            }
            ZSetValue::Skiplist(sl) => {
                let total = sl.nodes.len() as u64;
                let mut i = cursor;
                let mut found = 0;
                let mut budget = count.saturating_mul(10).max(1);
                while i < total && found < count && budget > 0 {
                    let n = &sl.nodes[i as usize];
                    if !n.score.is_nan() {
                        f(&n.member, n.score);
                        found += 1;
                    }
                    budget -= 1;
                    i += 1;
                }
                if i >= total {
                    0
                } else {
                    i
                }
            }
        }
    }
}

/// The compact encoding: entries in one byte buffer (see the module docs).
mod lp {
    /// Largest magnitude stored as an integer (exactly representable in an f64).
    const INT_LIMIT: f64 = (1u64 << 53) as f64;

    fn put_varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    fn get_varint(b: &[u8], mut pos: usize) -> Option<(u64, usize)> {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let c = *b.get(pos)?;
            pos += 1;
            if shift >= 64 {
                return None;
            }
            v |= u64::from(c & 0x7f) << shift;
            if c & 0x80 == 0 {
                return Some((v, pos));
            }
            shift += 7;
        }
    }

    /// Appends one entry; `prev` is the previous entry's member (prefix sharing).
    fn encode(out: &mut Vec<u8>, prev: &[u8], member: &[u8], score: f64) {
        let shared = prev.iter().zip(member).take_while(|(a, b)| a == b).count();
        let suffix = &member[shared..];
        // -0 is stored as the integer 0, as Redis's listpack does.
        let int = score.fract() == 0.0 && score.abs() < INT_LIMIT;
        put_varint(out, shared as u64);
        put_varint(out, (suffix.len() as u64) << 1 | u64::from(!int));
        out.extend_from_slice(suffix);
        if int {
            let i = score as i64;
            put_varint(out, ((i << 1) ^ (i >> 63)) as u64);
        } else {
            out.extend_from_slice(&score.to_le_bytes());
        }
    }

    /// The entry at `pos`: (shared prefix length, suffix, score, next position).
    fn decode(b: &[u8], pos: usize) -> Option<(usize, &[u8], f64, usize)> {
        let (shared, p) = get_varint(b, pos)?;
        let (h, p) = get_varint(b, p)?;
        let slen = (h >> 1) as usize;
        let suffix = b.get(p..p.checked_add(slen)?)?;
        let p = p + slen;
        if h & 1 == 1 {
            let raw: [u8; 8] = b.get(p..p + 8)?.try_into().ok()?;
            Some((shared as usize, suffix, f64::from_le_bytes(raw), p + 8))
        } else {
            let (z, p) = get_varint(b, p)?;
            let i = ((z >> 1) as i64) ^ -((z & 1) as i64);
            Some((shared as usize, suffix, i as f64, p))
        }
    }

    /// Calls `f(rank, member, score)` for each entry in order until it returns false.
    pub fn walk(b: &[u8], mut f: impl FnMut(usize, &[u8], f64) -> bool) {
        let mut cur: Vec<u8> = Vec::new();
        let mut pos = 0;
        let mut i = 0;
        while let Some((shared, suffix, score, next)) = decode(b, pos) {
            cur.truncate(shared);
            cur.extend_from_slice(suffix);
            if !f(i, &cur, score) {
                return;
            }
            pos = next;
            i += 1;
        }
    }

    pub fn decode_all(b: &[u8]) -> Vec<(Vec<u8>, f64)> {
        let mut v = Vec::new();
        walk(b, |_, m, s| {
            v.push((m.to_vec(), s));
            true
        });
        v
    }

    pub fn encode_all(entries: &[(Vec<u8>, f64)]) -> Box<[u8]> {
        let mut out = Vec::new();
        let mut prev: &[u8] = &[];
        for (m, s) in entries {
            encode(&mut out, prev, m, *s);
            prev = m;
        }
        out.into_boxed_slice()
    }

    pub fn len(b: &[u8]) -> usize {
        let mut n = 0;
        walk(b, |_, _, _| {
            n += 1;
            true
        });
        n
    }

    /// (rank, score) of `member`.
    pub fn find(b: &[u8], member: &[u8]) -> Option<(usize, f64)> {
        let mut found = None;
        walk(b, |i, m, s| {
            if m == member {
                found = Some((i, s));
                false
            } else {
                true
            }
        });
        found
    }

    /// Inserts an entry into a sorted entry list at its place.
    pub fn insert_sorted(v: &mut Vec<(Vec<u8>, f64)>, member: Vec<u8>, score: f64) {
        let pos = v.partition_point(|(m, s)| super::cmp_entry(*s, m, score, &member).is_le());
        v.insert(pos, (member, score));
    }

    /// A new buffer with the entry inserted at its sorted position.
    pub fn insert(b: &[u8], member: &[u8], score: f64) -> Box<[u8]> {
        let mut v = decode_all(b);
        insert_sorted(&mut v, member.to_vec(), score);
        encode_all(&v)
    }
}

/// Keys per B+tree leaf: 64 scores (512 bytes) and 64 slots, so a leaf search reads
/// a few cache lines.
const LEAF_KEYS: usize = 64;
/// Children per inner node: at 100,000 members the tree is three nodes deep.
const INNER_CHILDREN: usize = 64;

type Tree = btree::Tree<LEAF_KEYS, INNER_CHILDREN>;

/// One arena slot: a member and its score, 32 bytes. A member of up to 22 bytes is
/// stored in the slot itself, so the index's compare after a hash match reads the
/// slot's cache line and nothing else. A free slot has a NaN score (scores are never
/// NaN).
#[derive(Clone)]
struct Node {
    member: SmallBytes,
    score: f64,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?}:{}",
            String::from_utf8_lossy(&self.member),
            self.score
        )
    }
}

fn no_member() -> SmallBytes {
    SmallBytes::from(&b""[..])
}

impl btree::Members for [Node] {
    #[inline]
    fn member(&self, slot: u32) -> &[u8] {
        &self[slot as usize].member
    }
}

/// The big encoding (Redis calls it `skiplist`, and so does OBJECT ENCODING): members
/// in an arena of slots, ordered by an order-statistic B+tree of (score, slot) keys,
/// plus a hash index from member to slot. Members are stored once, in the arena, and
/// never move slot while they are in the set (ZSCAN's cursor is a slot).
#[derive(Clone, Debug, Default)]
pub struct SkipList {
    nodes: Vec<Node>,
    free: Vec<u32>,
    tree: Tree,
    index: Index,
}

fn hasher() -> &'static ahash::RandomState {
    static H: OnceLock<ahash::RandomState> = OnceLock::new();
    H.get_or_init(ahash::RandomState::new)
}

impl SkipList {
    pub fn len(&self) -> usize {
        self.tree.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn heap_size(&self) -> usize {
        let mut n = self.nodes.capacity() * std::mem::size_of::<Node>()
            + self.free.capacity() * 4
            + self.index.slots.len() * 8
            + self.tree.heap_size();
        for node in &self.nodes {
            n += node.member.heap_size();
        }
        n
    }

    fn max_member_len(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| !n.score.is_nan())
            .map(|n| n.member.len())
            .max()
            .unwrap_or(0)
    }

    #[inline]
    fn entry(&self, c: btree::Cursor) -> (&[u8], f64) {
        let (score, slot) = self.tree.get(c);
        (&self.nodes[slot as usize].member, score)
    }

    fn score(&self, member: &[u8]) -> Option<f64> {
        let slot = self.index.find(member, &self.nodes)?;
        Some(self.nodes[slot as usize].score)
    }

    /// Inserts a member known to be absent.
    pub fn insert(&mut self, member: &[u8], score: f64) {
        let node = Node {
            member: SmallBytes::from(member),
            score,
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.nodes[slot as usize] = node;
                slot
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        self.tree.insert(self.nodes.as_slice(), score, slot);
        self.index.insert(slot, &self.nodes);
    }

    /// Removes `member`; returns its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let slot = self.index.remove(member, &self.nodes)?;
        let score = self.nodes[slot as usize].score;
        self.tree.remove(self.nodes.as_slice(), score, slot);
        self.release(slot);
        Some(score)
    }

    /// Frees arena slot `slot` (already out of the tree and the index) for reuse;
    /// returns its member.
    fn release(&mut self, slot: u32) -> SmallBytes {
        let n = &mut self.nodes[slot as usize];
        n.score = f64::NAN;
        self.free.push(slot);
        std::mem::replace(&mut n.member, no_member())
    }

    fn update_score(&mut self, member: &[u8], score: f64) -> bool {
        match self.index.find(member, &self.nodes) {
            Some(slot) => {
                self.update_slot(slot, score);
                true
            }
            None => false,
        }
    }

    /// Changes the score of the member in `slot`; it keeps its slot (ZSCAN cursors and
    /// the index entry stay valid).
    fn update_slot(&mut self, slot: u32, score: f64) {
        let old = self.nodes[slot as usize].score;
        self.tree.rescore(self.nodes.as_slice(), old, slot, score);
        self.nodes[slot as usize].score = score;
    }

    /// Ascending 0-based rank of the member in `slot`.
    fn rank_of(&self, slot: u32) -> Option<usize> {
        let score = self.nodes[slot as usize].score;
        self.tree.rank(self.nodes.as_slice(), score, slot)
    }

    /// Number of leading members for which `pred` holds (pred must be monotone:
    /// true for a prefix of the set).
    fn count_while(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        self.tree
            .count_while(|score, slot| pred(score, &self.nodes[slot as usize].member))
    }

    /// Removes the member at ascending rank `r`; returns it (moved out, not copied)
    /// with its score.
    fn remove_at(&mut self, r: usize) -> Option<(SmallBytes, f64)> {
        let (score, slot) = self.tree.remove_at(self.nodes.as_slice(), r)?;
        self.index
            .remove_slot(&self.nodes[slot as usize].member, slot);
        Some((self.release(slot), score))
    }
}

/// Open-addressing (linear probing) index from member to arena slot. Each table slot
/// packs the low 32 bits of the member's hash with the arena slot (`EMPTY` if free).
#[derive(Clone, Debug, Default)]
struct Index {
    slots: Box<[u64]>,
    len: usize,
}

const EMPTY: u64 = u64::MAX;

impl Index {
    fn hash(member: &[u8]) -> u32 {
        hasher().hash_one(member) as u32
    }

    #[inline]
    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    fn find_pos(&self, member: &[u8], nodes: &[Node]) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let h = Self::hash(member);
        let mut p = h as usize & self.mask();
        loop {
            let e = self.slots[p];
            if e == EMPTY {
                return None;
            }
            if (e >> 32) as u32 == h && &*nodes[(e as u32) as usize].member == member {
                return Some(p);
            }
            p = (p + 1) & self.mask();
        }
    }

    fn find(&self, member: &[u8], nodes: &[Node]) -> Option<u32> {
        self.find_pos(member, nodes).map(|p| self.slots[p] as u32)
    }

    fn place(slots: &mut [u64], e: u64) {
        let mask = slots.len() - 1;
        let mut p = (e >> 32) as usize & mask;
        while slots[p] != EMPTY {
            p = (p + 1) & mask;
        }
        slots[p] = e;
    }

    fn resize(&mut self, cap: usize) {
        let mut slots = vec![EMPTY; cap].into_boxed_slice();
        for &e in self.slots.iter() {
            if e != EMPTY {
                Self::place(&mut slots, e);
            }
        }
        self.slots = slots;
    }

    fn insert(&mut self, slot: u32, nodes: &[Node]) {
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.resize((self.slots.len() * 2).max(8));
        }
        let h = Self::hash(&nodes[slot as usize].member);
        Self::place(&mut self.slots, (u64::from(h) << 32) | u64::from(slot));
        self.len += 1;
    }

    fn remove(&mut self, member: &[u8], nodes: &[Node]) -> Option<u32> {
        let p = self.find_pos(member, nodes)?;
        Some(self.remove_pos(p))
    }

    /// Removes the entry of arena slot `slot`, whose member is `member`: the probe
    /// compares slot numbers, not member bytes.
    fn remove_slot(&mut self, member: &[u8], slot: u32) {
        if self.slots.is_empty() {
            return;
        }
        let want = (u64::from(Self::hash(member)) << 32) | u64::from(slot);
        let mut p = (want >> 32) as usize & self.mask();
        loop {
            let e = self.slots[p];
            if e == want {
                self.remove_pos(p);
                return;
            }
            if e == EMPTY {
                return;
            }
            p = (p + 1) & self.mask();
        }
    }

    /// Empties table position `p`; returns the arena slot it held.
    fn remove_pos(&mut self, mut p: usize) -> u32 {
        let slot = self.slots[p] as u32;
        let mask = self.mask();
        // Backward-shift deletion keeps every probe chain unbroken.
        let mut j = p;
        loop {
            j = (j + 1) & mask;
            let e = self.slots[j];
            if e == EMPTY {
                break;
            }
            let k = (e >> 32) as usize & mask;
            let between = if p <= j {
                p < k && k <= j
            } else {
                p < k || k <= j
            };
            if !between {
                self.slots[p] = e;
                p = j;
            }
        }
        self.slots[p] = EMPTY;
        self.len -= 1;
        if self.slots.len() > 16 && self.len * 8 < self.slots.len() {
            self.resize(self.slots.len() / 2);
        }
        slot
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use std::collections::BTreeMap;

    const LIM: Limits = Limits {
        max_entries: 128,
        max_value: 64,
    };

    #[derive(PartialEq)]
    struct K(f64, Vec<u8>);
    impl Eq for K {}
    impl PartialOrd for K {
        fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
            Some(self.cmp(o))
        }
    }
    impl Ord for K {
        fn cmp(&self, o: &Self) -> Ordering {
            cmp_entry(self.0, &self.1, o.0, &o.1)
        }
    }

    fn check(z: &ZSetValue, model: &BTreeMap<Vec<u8>, f64>) {
        let mut sorted: Vec<K> = model.iter().map(|(m, s)| K(*s, m.clone())).collect();
        sorted.sort();
        assert_eq!(z.len(), sorted.len());
        let all = z.to_vec();
        for (i, (k, (m, s))) in sorted.iter().zip(&all).enumerate() {
            assert_eq!((&k.1, k.0), (m, *s), "rank {i}");
        }
        for (i, k) in sorted.iter().enumerate().step_by(7) {
            assert_eq!(z.rank(&k.1), Some((i, k.0)));
            assert_eq!(z.score(&k.1), Some(k.0));
            assert_eq!(z.at(i).map(|e| e.0), Some(k.1.clone()));
        }
    }

    #[test]
    fn random_ops_against_model_both_encodings() {
        for lim in [
            LIM,
            Limits {
                max_entries: 0,
                max_value: 0,
            },
        ] {
            let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
            let mut z = ZSetValue::new_for(0, lim);
            let mut model = BTreeMap::new();
            for step in 0..3000 {
                let m = format!("m{}", rng.gen_range(0..300)).into_bytes();
                let s = rng.gen_range(-20..20) as f64 / 2.0;
                match rng.gen_range(0..4) {
                    0 => {
                        assert_eq!(z.remove(&m), model.remove(&m));
                    }
                    _ => {
                        assert_eq!(z.upsert(&m, s, lim), model.insert(m.clone(), s));
                    }
                }
                if step % 97 == 0 {
                    check(&z, &model);
                }
            }
            check(&z, &model);
            assert_eq!(z.encoding(), "skiplist");
            let r = ScoreRange {
                min: -2.0,
                max: 3.0,
                minex: true,
                maxex: false,
            };
            let (a, b) = z.score_span(&r);
            let want = model.values().filter(|&&s| s > -2.0 && s <= 3.0).count();
            assert_eq!(b - a, want);
            let before = z.len();
            let popped = z.pop(5, true);
            assert_eq!(popped.len(), 5);
            assert_eq!(z.len(), before - 5);
            assert!(popped.windows(2).all(|w| w[0].1 >= w[1].1));
        }
    }

    #[test]
    fn listpack_encodes_scores_exactly() {
        let mut z = ZSetValue::default();
        for (i, s) in [
            0.1,
            -0.0,
            1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            3.0,
            -7.0,
            9007199254740993.0,
        ]
        .into_iter()
        .enumerate()
        {
            z.insert_new(format!("{i}").as_bytes(), s, LIM);
        }
        assert_eq!(z.encoding(), "listpack");
        assert_eq!(z.score(b"0"), Some(0.1));
        assert!(z
            .score(b"1")
            .is_some_and(|s| s == 0.0 && s.is_sign_positive()));
        assert_eq!(z.score(b"3"), Some(f64::INFINITY));
        assert_eq!(z.score(b"7"), Some(9007199254740993.0));
        assert_eq!(z.at(0).map(|e| e.1), Some(f64::NEG_INFINITY));
    }

    #[test]
    fn value_is_two_words() {
        // Stored inline in `Value` (no extra allocation per key).
        assert_eq!(std::mem::size_of::<ZSetValue>(), 16);
        // An arena slot is a 24-byte member (inline up to 22 bytes) and a score.
        assert_eq!(std::mem::size_of::<Node>(), 32);
    }

    #[test]
    fn converts_on_limits() {
        let mut z = ZSetValue::default();
        for i in 0..128 {
            z.insert_new(format!("{i}").as_bytes(), i as f64, LIM);
        }
        assert_eq!(z.encoding(), "listpack");
        z.insert_new(b"x", 1.0, LIM);
        assert_eq!(z.encoding(), "skiplist");
        let mut z = ZSetValue::default();
        z.insert_new(&[b'a'; 65], 1.0, LIM);
        assert_eq!(z.encoding(), "skiplist");
    }
}
