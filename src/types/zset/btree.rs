//! An order-statistic B+tree of `(score, slot)` keys: the ordered index behind a
//! sorted set's `skiplist` encoding.
//!
//! Redis orders a big sorted set with a skiplist. A search there visits about
//! `log4(n) * 4` nodes, each a separate allocation, so at 100,000 members nearly every
//! step is a cache miss. This tree keeps the same operations (insert, remove, rank,
//! element at rank, prefix counts for score and lex ranges, ordered iteration) with
//! keys stored contiguously: a leaf holds up to `L` scores in one array and the matching
//! arena slots in another, and an inner node holds up to `I` children with the number
//! of keys under each (the counts make rank queries O(log n)) and a separator key per
//! child. A search touches `height + 1` nodes and compares scores in arrays; it only
//! reads a member (through [`Members`]) when two scores are equal.
//!
//! Keys are `(score, slot)`: the slot names a member in the caller's arena, and the
//! order is by score, then by member bytes (Redis's order). A slot identifies its key
//! while the key is in the tree, so equality is slot equality.
//!
//! Invariants (checked by `check` in the tests):
//! * every leaf but a lone root leaf holds at least `min_leaf()` keys, every inner node
//!   but the root at least `min_inner()` children, and an inner root at least two;
//! * `counts[i]` of an inner node is the number of keys under `children[i]`;
//! * `sep[i]` (for `i >= 1`) is exactly the least key under `children[i]` (separators
//!   are kept exact, not merely "between", because a removed key's slot may be reused
//!   by another member);
//! * leaves are linked in key order through `prev`/`next`.

use std::cmp::Ordering;

/// No node.
pub const NIL: u32 = u32::MAX;

/// Resolves a key's slot to its member bytes (for comparing equal scores).
pub trait Members {
    fn member(&self, slot: u32) -> &[u8];
}

/// Redis's order on `(score, member)`, with the member read only on a score tie.
#[inline]
fn cmp_key<M: Members + ?Sized>(m: &M, s1: f64, x1: u32, s2: f64, x2: u32) -> Ordering {
    if s1 < s2 {
        Ordering::Less
    } else if s1 > s2 {
        Ordering::Greater
    } else if x1 == x2 {
        Ordering::Equal
    } else {
        m.member(x1).cmp(m.member(x2))
    }
}

#[derive(Clone, Debug)]
struct Leaf<const L: usize> {
    len: u32,
    prev: u32,
    next: u32,
    scores: [f64; L],
    slots: [u32; L],
}

impl<const L: usize> Leaf<L> {
    fn new() -> Self {
        Leaf {
            len: 0,
            prev: NIL,
            next: NIL,
            scores: [0.0; L],
            slots: [0; L],
        }
    }

    /// Number of keys before `(s, x)`.
    #[inline]
    fn lower_bound<M: Members + ?Sized>(&self, m: &M, s: f64, x: u32) -> usize {
        let n = self.len as usize;
        // Scores first (no member reads), then members among equal scores.
        let lo = self.scores[..n].partition_point(|&v| v < s);
        let hi = lo + self.scores[lo..n].partition_point(|&v| v <= s);
        lo + self.slots[lo..hi].partition_point(|&y| cmp_key(m, s, y, s, x).is_lt())
    }

    fn insert_at(&mut self, pos: usize, s: f64, x: u32) {
        let n = self.len as usize;
        self.scores.copy_within(pos..n, pos + 1);
        self.slots.copy_within(pos..n, pos + 1);
        self.scores[pos] = s;
        self.slots[pos] = x;
        self.len += 1;
    }

    fn remove_at(&mut self, pos: usize) {
        let n = self.len as usize;
        self.scores.copy_within(pos + 1..n, pos);
        self.slots.copy_within(pos + 1..n, pos);
        self.len -= 1;
    }
}

#[derive(Clone, Debug)]
struct Inner<const I: usize> {
    len: u32,
    /// Keys under each child.
    counts: [u32; I],
    children: [u32; I],
    /// For `i >= 1`, the least key under `children[i]`; index 0 is unused.
    sep_scores: [f64; I],
    sep_slots: [u32; I],
}

impl<const I: usize> Inner<I> {
    fn new() -> Self {
        Inner {
            len: 0,
            counts: [0; I],
            children: [NIL; I],
            sep_scores: [0.0; I],
            sep_slots: [0; I],
        }
    }

    /// The child whose range holds `(s, x)`: the number of separators `<=` it.
    #[inline]
    fn child_for<M: Members + ?Sized>(&self, m: &M, s: f64, x: u32) -> usize {
        let n = self.len as usize;
        let seps = &self.sep_scores[1..n];
        let lo = seps.partition_point(|&v| v < s);
        let hi = lo + seps[lo..].partition_point(|&v| v <= s);
        lo + self.sep_slots[1 + lo..1 + hi].partition_point(|&y| cmp_key(m, s, y, s, x).is_le())
    }

    fn insert_at(&mut self, pos: usize, child: u32, count: u32, s: f64, x: u32) {
        let n = self.len as usize;
        self.counts.copy_within(pos..n, pos + 1);
        self.children.copy_within(pos..n, pos + 1);
        self.sep_scores.copy_within(pos..n, pos + 1);
        self.sep_slots.copy_within(pos..n, pos + 1);
        self.counts[pos] = count;
        self.children[pos] = child;
        self.sep_scores[pos] = s;
        self.sep_slots[pos] = x;
        self.len += 1;
    }

    fn remove_at(&mut self, pos: usize) {
        let n = self.len as usize;
        self.counts.copy_within(pos + 1..n, pos);
        self.children.copy_within(pos + 1..n, pos);
        self.sep_scores.copy_within(pos + 1..n, pos);
        self.sep_slots.copy_within(pos + 1..n, pos);
        self.len -= 1;
    }

    fn total(&self) -> u32 {
        self.counts[..self.len as usize].iter().sum()
    }
}

/// A position in the tree: a leaf and an index in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    leaf: u32,
    pos: u32,
}

/// Which key `remove_rec` removes.
#[derive(Clone, Copy)]
enum Target {
    Key(f64, u32),
    Rank(usize),
}

/// What `remove_rec` did.
#[derive(Clone, Copy, PartialEq)]
enum Removed {
    No,
    /// Removed this key.
    Yes(f64, u32),
    /// The key's score was changed where it stood (`rescore`).
    Rescored,
}

/// The tree; `L` keys per leaf, `I` children per inner node.
#[derive(Clone, Debug)]
pub struct Tree<const L: usize, const I: usize> {
    leaves: Vec<Leaf<L>>,
    inners: Vec<Inner<I>>,
    free_leaves: Vec<u32>,
    free_inners: Vec<u32>,
    root: u32,
    /// Levels of inner nodes above the leaves (0: the root is a leaf).
    height: u32,
    len: usize,
}

impl<const L: usize, const I: usize> Default for Tree<L, I> {
    fn default() -> Self {
        Tree {
            leaves: vec![Leaf::new()],
            inners: Vec::new(),
            free_leaves: Vec::new(),
            free_inners: Vec::new(),
            root: 0,
            height: 0,
            len: 0,
        }
    }
}

impl<const L: usize, const I: usize> Tree<L, I> {
    const fn min_leaf() -> usize {
        if L / 3 > 1 {
            L / 3
        } else {
            1
        }
    }

    const fn min_inner() -> usize {
        if I / 3 > 2 {
            I / 3
        } else {
            2
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Bytes of node storage (for MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        self.leaves.capacity() * std::mem::size_of::<Leaf<L>>()
            + self.inners.capacity() * std::mem::size_of::<Inner<I>>()
            + (self.free_leaves.capacity() + self.free_inners.capacity()) * 4
    }

    fn alloc_leaf(&mut self) -> u32 {
        match self.free_leaves.pop() {
            Some(id) => {
                self.leaves[id as usize] = Leaf::new();
                id
            }
            None => {
                self.leaves.push(Leaf::new());
                (self.leaves.len() - 1) as u32
            }
        }
    }

    fn alloc_inner(&mut self) -> u32 {
        match self.free_inners.pop() {
            Some(id) => {
                self.inners[id as usize] = Inner::new();
                id
            }
            None => {
                self.inners.push(Inner::new());
                (self.inners.len() - 1) as u32
            }
        }
    }

    /// The least key under `node` (at `h` levels above the leaves).
    fn min_key(&self, mut node: u32, h: u32) -> (f64, u32) {
        for _ in 0..h {
            node = self.inners[node as usize].children[0];
        }
        let l = &self.leaves[node as usize];
        (l.scores[0], l.slots[0])
    }

    /// Inserts `(s, x)`, which must not be in the tree.
    pub fn insert<M: Members + ?Sized>(&mut self, m: &M, s: f64, x: u32) {
        if let Some((ss, sx, right, rcount)) = self.insert_rec(m, self.root, self.height, s, x) {
            // The root split: a new root above the two halves.
            let left = self.root;
            let total = self.len as u32 + 1;
            let id = self.alloc_inner();
            let r = &mut self.inners[id as usize];
            r.len = 2;
            r.children[0] = left;
            r.counts[0] = total - rcount;
            r.children[1] = right;
            r.counts[1] = rcount;
            r.sep_scores[1] = ss;
            r.sep_slots[1] = sx;
            self.root = id;
            self.height += 1;
        }
        self.len += 1;
    }

    /// Inserts under `node`; if `node` split, returns the new right sibling as
    /// (its least key, its id, its key count).
    fn insert_rec<M: Members + ?Sized>(
        &mut self,
        m: &M,
        node: u32,
        h: u32,
        s: f64,
        x: u32,
    ) -> Option<(f64, u32, u32, u32)> {
        if h == 0 {
            let leaf = &mut self.leaves[node as usize];
            let pos = leaf.lower_bound(m, s, x);
            if (leaf.len as usize) < L {
                leaf.insert_at(pos, s, x);
                return None;
            }
            // Split: the upper half moves to a new leaf linked after this one.
            let half = L / 2;
            let (scores, slots, next) = (leaf.scores, leaf.slots, leaf.next);
            leaf.len = half as u32;
            let id = self.alloc_leaf();
            let new = &mut self.leaves[id as usize];
            new.len = (L - half) as u32;
            new.scores[..L - half].copy_from_slice(&scores[half..]);
            new.slots[..L - half].copy_from_slice(&slots[half..]);
            new.prev = node;
            new.next = next;
            if next != NIL {
                self.leaves[next as usize].prev = id;
            }
            self.leaves[node as usize].next = id;
            if pos <= half {
                self.leaves[node as usize].insert_at(pos, s, x);
            } else {
                self.leaves[id as usize].insert_at(pos - half, s, x);
            }
            let new = &self.leaves[id as usize];
            return Some((new.scores[0], new.slots[0], id, new.len));
        }
        let i = self.inners[node as usize].child_for(m, s, x);
        let child = self.inners[node as usize].children[i];
        let split = self.insert_rec(m, child, h - 1, s, x);
        let inner = &mut self.inners[node as usize];
        inner.counts[i] += 1;
        let (ss, sx, right, rcount) = split?;
        inner.counts[i] -= rcount;
        if (inner.len as usize) < I {
            inner.insert_at(i + 1, right, rcount, ss, sx);
            return None;
        }
        // Split this node: gather its children with the new one, then halve.
        let n = I + 1;
        let mut counts = Vec::with_capacity(n);
        let mut children = Vec::with_capacity(n);
        let mut seps = Vec::with_capacity(n);
        for j in 0..I {
            counts.push(inner.counts[j]);
            children.push(inner.children[j]);
            seps.push((inner.sep_scores[j], inner.sep_slots[j]));
            if j == i {
                counts.push(rcount);
                children.push(right);
                seps.push((ss, sx));
            }
        }
        let half = n / 2;
        inner.len = half as u32;
        for j in 0..half {
            inner.counts[j] = counts[j];
            inner.children[j] = children[j];
            (inner.sep_scores[j], inner.sep_slots[j]) = seps[j];
        }
        let id = self.alloc_inner();
        let new = &mut self.inners[id as usize];
        new.len = (n - half) as u32;
        for j in half..n {
            new.counts[j - half] = counts[j];
            new.children[j - half] = children[j];
            (new.sep_scores[j - half], new.sep_slots[j - half]) = seps[j];
        }
        let (ps, px) = seps[half];
        Some((ps, px, id, new.total()))
    }

    /// Removes `(s, x)`; false if it is not in the tree.
    pub fn remove<M: Members + ?Sized>(&mut self, m: &M, s: f64, x: u32) -> bool {
        let r = self.remove_rec(m, self.root, self.height, Target::Key(s, x), None);
        if let Removed::Yes(..) = r {
            self.after_remove();
            return true;
        }
        false
    }

    /// Removes the key at 0-based rank `r` and returns it. The descent follows the
    /// counts, so it compares nothing (ZPOPMIN, ZREMRANGEBYRANK).
    pub fn remove_at<M: Members + ?Sized>(&mut self, m: &M, r: usize) -> Option<(f64, u32)> {
        if r >= self.len {
            return None;
        }
        match self.remove_rec(m, self.root, self.height, Target::Rank(r), None) {
            Removed::Yes(s, x) => {
                self.after_remove();
                Some((s, x))
            }
            _ => None,
        }
    }

    /// Changes the score of `(s, x)` to `new`, in place when its neighbours allow
    /// (one descent), else by moving it. False if the key is not in the tree.
    pub fn rescore<M: Members + ?Sized>(&mut self, m: &M, s: f64, x: u32, new: f64) -> bool {
        match self.remove_rec(m, self.root, self.height, Target::Key(s, x), Some(new)) {
            Removed::No => false,
            Removed::Rescored => true,
            Removed::Yes(..) => {
                self.after_remove();
                self.insert(m, new, x);
                true
            }
        }
    }

    fn after_remove(&mut self) {
        self.len -= 1;
        // An inner root left with one child gives way to it.
        while self.height > 0 && self.inners[self.root as usize].len == 1 {
            let old = self.root;
            self.root = self.inners[old as usize].children[0];
            self.free_inners.push(old);
            self.height -= 1;
        }
    }

    fn remove_rec<M: Members + ?Sized>(
        &mut self,
        m: &M,
        node: u32,
        h: u32,
        target: Target,
        rescore: Option<f64>,
    ) -> Removed {
        if h == 0 {
            let leaf = &mut self.leaves[node as usize];
            let pos = match target {
                Target::Key(s, x) => {
                    let pos = leaf.lower_bound(m, s, x);
                    if pos >= leaf.len as usize || leaf.slots[pos] != x {
                        return Removed::No;
                    }
                    pos
                }
                Target::Rank(r) => r,
            };
            let (s, x) = (leaf.scores[pos], leaf.slots[pos]);
            if let Some(new) = rescore {
                // In place only strictly inside the leaf: position 0 may be copied
                // into a separator above.
                let n = leaf.len as usize;
                if pos > 0
                    && pos + 1 < n
                    && cmp_key(m, leaf.scores[pos - 1], leaf.slots[pos - 1], new, x).is_lt()
                    && cmp_key(m, new, x, leaf.scores[pos + 1], leaf.slots[pos + 1]).is_lt()
                {
                    leaf.scores[pos] = new;
                    return Removed::Rescored;
                }
            }
            leaf.remove_at(pos);
            return Removed::Yes(s, x);
        }
        let inner = &self.inners[node as usize];
        let (i, sub) = match target {
            Target::Key(s, x) => (inner.child_for(m, s, x), target),
            Target::Rank(mut r) => {
                let mut i = 0;
                while r >= inner.counts[i] as usize {
                    r -= inner.counts[i] as usize;
                    i += 1;
                }
                (i, Target::Rank(r))
            }
        };
        let child = inner.children[i];
        let r = self.remove_rec(m, child, h - 1, sub, rescore);
        let Removed::Yes(_, x) = r else {
            return r;
        };
        self.inners[node as usize].counts[i] -= 1;
        let small = if h == 1 {
            (self.leaves[child as usize].len as usize) < Self::min_leaf()
        } else {
            (self.inners[child as usize].len as usize) < Self::min_inner()
        };
        if small {
            self.rebalance(node, h, i);
        }
        // The removed key may have been a separator here: replace it with the new
        // least key of that child (deeper levels were fixed on the way back up).
        let n = self.inners[node as usize].len as usize;
        for j in 1..n {
            if self.inners[node as usize].sep_slots[j] == x {
                let c = self.inners[node as usize].children[j];
                let (ms, mx) = self.min_key(c, h - 1);
                let inner = &mut self.inners[node as usize];
                inner.sep_scores[j] = ms;
                inner.sep_slots[j] = mx;
            }
        }
        r
    }

    /// Child `i` of `node` (at height `h`) is below its minimum: merge it with a
    /// sibling, or move keys over from the sibling if both do not fit in one node.
    fn rebalance(&mut self, node: u32, h: u32, i: usize) {
        let (ai, bi) = if i > 0 { (i - 1, i) } else { (0, 1) };
        let a = self.inners[node as usize].children[ai];
        let b = self.inners[node as usize].children[bi];
        if h == 1 {
            let la = self.leaves[a as usize].len as usize;
            let lb = self.leaves[b as usize].len as usize;
            let (bl_scores, bl_slots, b_next) = {
                let bl = &self.leaves[b as usize];
                (bl.scores, bl.slots, bl.next)
            };
            if la + lb <= L {
                let al = &mut self.leaves[a as usize];
                al.scores[la..la + lb].copy_from_slice(&bl_scores[..lb]);
                al.slots[la..la + lb].copy_from_slice(&bl_slots[..lb]);
                al.len = (la + lb) as u32;
                al.next = b_next;
                if b_next != NIL {
                    self.leaves[b_next as usize].prev = a;
                }
                self.free_leaves.push(b);
                let inner = &mut self.inners[node as usize];
                inner.counts[ai] += inner.counts[bi];
                inner.remove_at(bi);
                return;
            }
            let target = (la + lb) / 2;
            if la < target {
                // Move b's first keys to a's end.
                let k = target - la;
                let al = &mut self.leaves[a as usize];
                al.scores[la..target].copy_from_slice(&bl_scores[..k]);
                al.slots[la..target].copy_from_slice(&bl_slots[..k]);
                al.len = target as u32;
                let bl = &mut self.leaves[b as usize];
                bl.scores.copy_within(k..lb, 0);
                bl.slots.copy_within(k..lb, 0);
                bl.len = (lb - k) as u32;
            } else {
                // Move a's last keys to b's front.
                let k = la - target;
                let (as_, ax) = {
                    let al = &mut self.leaves[a as usize];
                    al.len = target as u32;
                    (al.scores, al.slots)
                };
                let bl = &mut self.leaves[b as usize];
                bl.scores.copy_within(0..lb, k);
                bl.slots.copy_within(0..lb, k);
                bl.scores[..k].copy_from_slice(&as_[target..la]);
                bl.slots[..k].copy_from_slice(&ax[target..la]);
                bl.len = (lb + k) as u32;
            }
            let (ca, cb) = (self.leaves[a as usize].len, self.leaves[b as usize].len);
            let (ms, mx) = self.min_key(b, 0);
            let inner = &mut self.inners[node as usize];
            inner.counts[ai] = ca;
            inner.counts[bi] = cb;
            inner.sep_scores[bi] = ms;
            inner.sep_slots[bi] = mx;
            return;
        }
        // Inner children: gather both nodes' children, then refill one or two nodes.
        // Separators are recomputed from the subtrees (they are exact below `node`).
        let mut items: Vec<(u32, u32, f64, u32)> = Vec::new();
        for &c in &[a, b] {
            let n = &self.inners[c as usize];
            for j in 0..n.len as usize {
                items.push((n.children[j], n.counts[j], n.sep_scores[j], n.sep_slots[j]));
            }
        }
        let la = self.inners[a as usize].len as usize;
        let (s0, x0) = self.min_key(items[la].0, h - 2);
        items[la].2 = s0;
        items[la].3 = x0;
        let fill = |inner: &mut Inner<I>, part: &[(u32, u32, f64, u32)]| {
            inner.len = part.len() as u32;
            for (j, &(c, n, s, x)) in part.iter().enumerate() {
                inner.children[j] = c;
                inner.counts[j] = n;
                inner.sep_scores[j] = s;
                inner.sep_slots[j] = x;
            }
        };
        if items.len() <= I {
            fill(&mut self.inners[a as usize], &items);
            self.free_inners.push(b);
            let inner = &mut self.inners[node as usize];
            inner.counts[ai] += inner.counts[bi];
            inner.remove_at(bi);
            return;
        }
        let target = items.len() / 2;
        fill(&mut self.inners[a as usize], &items[..target]);
        fill(&mut self.inners[b as usize], &items[target..]);
        let (ca, cb) = (
            self.inners[a as usize].total(),
            self.inners[b as usize].total(),
        );
        let (ms, mx) = (items[target].2, items[target].3);
        let inner = &mut self.inners[node as usize];
        inner.counts[ai] = ca;
        inner.counts[bi] = cb;
        inner.sep_scores[bi] = ms;
        inner.sep_slots[bi] = mx;
    }

    /// The 0-based rank of `(s, x)`, if it is in the tree.
    pub fn rank<M: Members + ?Sized>(&self, m: &M, s: f64, x: u32) -> Option<usize> {
        let mut node = self.root;
        let mut rank = 0usize;
        for _ in 0..self.height {
            let inner = &self.inners[node as usize];
            let i = inner.child_for(m, s, x);
            rank += inner.counts[..i].iter().map(|&c| c as usize).sum::<usize>();
            node = inner.children[i];
        }
        let leaf = &self.leaves[node as usize];
        let pos = leaf.lower_bound(m, s, x);
        (pos < leaf.len as usize && leaf.slots[pos] == x).then_some(rank + pos)
    }

    /// Number of leading keys for which `pred(score, slot)` holds; `pred` must hold
    /// for a prefix of the keys (as "below the range's start" does).
    pub fn count_while(&self, pred: impl Fn(f64, u32) -> bool) -> usize {
        let mut node = self.root;
        let mut rank = 0usize;
        for _ in 0..self.height {
            let inner = &self.inners[node as usize];
            // The last child whose separator satisfies `pred` (binary search: `pred`
            // may read members, for lex ranges).
            let (mut lo, mut hi) = (1, inner.len as usize);
            while lo < hi {
                let mid = (lo + hi) / 2;
                if pred(inner.sep_scores[mid], inner.sep_slots[mid]) {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            let i = lo - 1;
            rank += inner.counts[..i].iter().map(|&c| c as usize).sum::<usize>();
            node = inner.children[i];
        }
        let leaf = &self.leaves[node as usize];
        let n = leaf.len as usize;
        let mut lo = 0;
        let mut hi = n;
        while lo < hi {
            let mid = (lo + hi) / 2;
            if pred(leaf.scores[mid], leaf.slots[mid]) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        rank + lo
    }

    /// The position of the key at 0-based rank `r`.
    pub fn at_rank(&self, mut r: usize) -> Option<Cursor> {
        if r >= self.len {
            return None;
        }
        let mut node = self.root;
        for _ in 0..self.height {
            let inner = &self.inners[node as usize];
            let mut i = 0;
            while r >= inner.counts[i] as usize {
                r -= inner.counts[i] as usize;
                i += 1;
            }
            node = inner.children[i];
        }
        Some(Cursor {
            leaf: node,
            pos: r as u32,
        })
    }

    /// The key at `c`.
    #[inline]
    pub fn get(&self, c: Cursor) -> (f64, u32) {
        let l = &self.leaves[c.leaf as usize];
        (l.scores[c.pos as usize], l.slots[c.pos as usize])
    }

    pub fn next(&self, c: Cursor) -> Option<Cursor> {
        let l = &self.leaves[c.leaf as usize];
        if c.pos + 1 < l.len {
            Some(Cursor {
                leaf: c.leaf,
                pos: c.pos + 1,
            })
        } else if l.next != NIL {
            Some(Cursor {
                leaf: l.next,
                pos: 0,
            })
        } else {
            None
        }
    }

    pub fn prev(&self, c: Cursor) -> Option<Cursor> {
        if c.pos > 0 {
            return Some(Cursor {
                leaf: c.leaf,
                pos: c.pos - 1,
            });
        }
        let p = self.leaves[c.leaf as usize].prev;
        (p != NIL).then(|| Cursor {
            leaf: p,
            pos: self.leaves[p as usize].len - 1,
        })
    }

    /// Checks every invariant in the module docs (tests only).
    #[cfg(test)]
    pub fn check<M: Members + ?Sized>(&self, m: &M) {
        fn walk<const L: usize, const I: usize, M: Members + ?Sized>(
            t: &Tree<L, I>,
            m: &M,
            node: u32,
            h: u32,
            is_root: bool,
            leaves: &mut Vec<u32>,
        ) -> u32 {
            if h == 0 {
                let l = &t.leaves[node as usize];
                let n = l.len as usize;
                assert!(is_root || n >= Tree::<L, I>::min_leaf(), "leaf underfull");
                for j in 1..n {
                    assert!(
                        cmp_key(m, l.scores[j - 1], l.slots[j - 1], l.scores[j], l.slots[j])
                            .is_lt(),
                        "leaf out of order"
                    );
                }
                leaves.push(node);
                return l.len;
            }
            let inner = &t.inners[node as usize];
            let n = inner.len as usize;
            assert!(
                n >= if is_root {
                    2
                } else {
                    Tree::<L, I>::min_inner()
                },
                "inner underfull"
            );
            let mut total = 0;
            for j in 0..n {
                let c = inner.children[j];
                let cnt = walk(t, m, c, h - 1, false, leaves);
                assert_eq!(cnt, inner.counts[j], "count");
                if j > 0 {
                    let (ms, mx) = t.min_key(c, h - 1);
                    assert_eq!(mx, inner.sep_slots[j], "separator slot");
                    assert_eq!(
                        ms.to_bits(),
                        inner.sep_scores[j].to_bits(),
                        "separator score"
                    );
                }
                total += cnt;
            }
            total
        }
        let mut leaves = Vec::new();
        let total = walk(self, m, self.root, self.height, true, &mut leaves);
        assert_eq!(total as usize, self.len);
        for w in leaves.windows(2) {
            assert_eq!(self.leaves[w[0] as usize].next, w[1], "leaf links");
            assert_eq!(self.leaves[w[1] as usize].prev, w[0], "leaf links");
        }
        let mut prev: Option<(f64, u32)> = None;
        let mut c = self.at_rank(0);
        let mut seen = 0;
        while let Some(cur) = c {
            let k = self.get(cur);
            if let Some(p) = prev {
                assert!(
                    cmp_key(m, p.0, p.1, k.0, k.1).is_lt(),
                    "order across leaves"
                );
            }
            prev = Some(k);
            seen += 1;
            c = self.next(cur);
        }
        assert_eq!(seen, self.len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use std::collections::BTreeSet;

    struct Names(Vec<Vec<u8>>);
    impl Members for Names {
        fn member(&self, slot: u32) -> &[u8] {
            &self.0[slot as usize]
        }
    }

    #[derive(PartialEq)]
    struct K(f64, Vec<u8>, u32);
    impl Eq for K {}
    impl PartialOrd for K {
        fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
            Some(self.cmp(o))
        }
    }
    impl Ord for K {
        fn cmp(&self, o: &Self) -> Ordering {
            self.0
                .partial_cmp(&o.0)
                .unwrap_or(Ordering::Equal)
                .then_with(|| self.1.cmp(&o.1))
        }
    }

    /// Random inserts, removes and rescores against a `BTreeSet`, with every
    /// invariant checked as it goes. Small nodes make the tree deep, so splits and
    /// merges happen at every level.
    fn random_ops<const L: usize, const I: usize>(
        seed: u64,
        members: u32,
        steps: usize,
        check_every: usize,
        min_height: u32,
    ) {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
        let names = Names((0..members).map(|i| format!("m{i}").into_bytes()).collect());
        let mut score: Vec<Option<f64>> = vec![None; members as usize];
        let mut t = Tree::<L, I>::default();
        let mut model = BTreeSet::new();
        let mut max_height = 0;
        for step in 0..steps {
            let x = rng.gen_range(0..members);
            // Few distinct scores, so many ties are broken by member.
            let s = f64::from(rng.gen_range(-30..30)) / 4.0;
            let name = names.0[x as usize].clone();
            match (score[x as usize], rng.gen_range(0..3)) {
                (None, _) => {
                    t.insert(&names, s, x);
                    model.insert(K(s, name, x));
                    score[x as usize] = Some(s);
                }
                (Some(old), 0) => {
                    assert!(t.remove(&names, old, x));
                    assert!(model.remove(&K(old, name, x)));
                    score[x as usize] = None;
                    assert!(!t.remove(&names, old, x));
                }
                (Some(_), 1) if step % 4 == 0 => {
                    // Remove by rank (the first, the last or one in between).
                    let r = match step % 3 {
                        0 => 0,
                        1 => model.len() - 1,
                        _ => rng.gen_range(0..model.len()),
                    };
                    let k = match step % 3 {
                        0 => model.first().map(|k| (k.0, k.2)).unwrap(),
                        1 => model.last().map(|k| (k.0, k.2)).unwrap(),
                        // The key at a middle rank is checked by the rank checks.
                        _ => t.get(t.at_rank(r).unwrap()),
                    };
                    assert_eq!(t.remove_at(&names, r), Some(k));
                    assert!(model.remove(&K(k.0, names.0[k.1 as usize].clone(), k.1)));
                    score[k.1 as usize] = None;
                }
                (Some(old), _) => {
                    assert!(t.rescore(&names, old, x, s));
                    model.remove(&K(old, name.clone(), x));
                    model.insert(K(s, name, x));
                    score[x as usize] = Some(s);
                }
            }
            max_height = max_height.max(t.height);
            if step % check_every == 0 || step + 1 == steps {
                t.check(&names);
                assert_eq!(t.len(), model.len());
                for (r, k) in model.iter().enumerate().step_by(1 + model.len() / 200) {
                    assert_eq!(t.rank(&names, k.0, k.2), Some(r));
                    assert_eq!(t.get(t.at_rank(r).unwrap()), (k.0, k.2));
                }
                let cut = 0.5;
                let want = model.iter().filter(|k| k.0 < cut).count();
                assert_eq!(t.count_while(|s, _| s < cut), want);
            }
        }
        assert!(
            max_height >= min_height,
            "tree too shallow to test ({max_height})"
        );
        // Drain to empty: the root collapses back to a leaf.
        let keys: Vec<(f64, u32)> = model.iter().map(|k| (k.0, k.2)).collect();
        for (s, x) in keys {
            assert!(t.remove(&names, s, x));
        }
        t.check(&names);
        assert_eq!((t.len(), t.height), (0, 0));
    }

    #[test]
    fn random_ops_small_nodes() {
        random_ops::<4, 4>(1, 400, 20_000, 61, 4);
        random_ops::<5, 6>(2, 300, 20_000, 61, 3);
    }

    #[test]
    fn random_ops_production_nodes() {
        random_ops::<{ super::super::LEAF_KEYS }, { super::super::INNER_CHILDREN }>(
            3, 300_000, 400_000, 40_000, 2,
        );
    }

    #[test]
    fn iterates_backwards() {
        let names = Names((0..1000).map(|i| format!("{i:04}").into_bytes()).collect());
        let mut t = Tree::<4, 4>::default();
        for x in (0..1000).rev() {
            t.insert(&names, 1.0, x);
        }
        let mut c = t.at_rank(999);
        let mut want = 1000;
        while let Some(cur) = c {
            want -= 1;
            assert_eq!(t.get(cur), (1.0, want));
            c = t.prev(cur);
        }
        assert_eq!(want, 0);
    }
}
