//! Lazy readers: each merges the runs of a snapshot (ids below its checkpoint) with the
//! memtables (ids from it), and drops ids below the floor.
//!
//! Every family is one order of sort keys `group ++ position` (person ++ id, type ++
//! occurred_at ++ id, value ++ id). A lookup is a range `[lo, hi)` of sort keys; each run
//! answers it by seeking the block whose first key is at or before `lo` (or before `hi`
//! going down), binary-searching that block's directory and decoding only the groups in
//! range. Runs cover disjoint, increasing id ranges, so a person's postings come run by
//! run (newest first for "latest 100"), while by-type and by-value results are merged
//! across runs by sort key.

use crate::codec::{self, cmp_concat, Bad, BlockShape, BlockView, Post, Run};
use crate::error::Result;
use crate::memtable::Memtable;
use crate::{
    IdRange, KeyRange, Order, PersonPosting, Snapshot, TimeRange, TypePosting, ValuePosting,
};
use actlog_model::{ActivityId, PersonId, TypeId};
use parking_lot::Mutex;
use std::cmp::Ordering;
use std::collections::{HashMap, VecDeque};
use std::ops::{Bound, Range};
use std::sync::Arc;

/// A range of sort keys of one family: `lo` included, `hi` excluded (`None`: no end).
#[derive(Debug, Clone)]
pub(crate) struct Bounds {
    pub family: u8,
    pub lo: Vec<u8>,
    pub hi: Option<Vec<u8>>,
    /// The ids the postings asked for can have: a run whose ids all lie outside is not
    /// read at all (`0..u64::MAX` when the sort keys do not bound the ids).
    pub ids: Range<u64>,
}

impl Bounds {
    fn pos_bytes(&self) -> usize {
        codec::pos_bytes(self.family)
    }

    /// Whether group `g` lies below (`Less`), inside or across (`Equal`) or above the range.
    fn group_cmp(&self, g: &[u8]) -> Ordering {
        let pb = self.pos_bytes();
        if cmp_concat(g, &[0xff; 16][..pb], &self.lo) == Ordering::Less {
            return Ordering::Less;
        }
        match &self.hi {
            Some(hi) if cmp_concat(g, &[0u8; 16][..pb], hi) != Ordering::Less => Ordering::Greater,
            _ => Ordering::Equal,
        }
    }

    /// Whether every posting of group `g` lies inside the range, so that none needs
    /// checking on its own.
    fn holds_group(&self, g: &[u8]) -> bool {
        let pb = self.pos_bytes();
        cmp_concat(g, &[0u8; 16][..pb], &self.lo) != Ordering::Less
            && self
                .hi
                .as_ref()
                .is_none_or(|hi| cmp_concat(g, &[0xff; 16][..pb], hi) == Ordering::Less)
    }

    /// Whether posting `p` of group `g` sorts below the range's end.
    fn below_hi(&self, g: &[u8], p: &Post) -> bool {
        let pos = codec::pos_of(self.family, p);
        self.hi
            .as_ref()
            .is_none_or(|hi| cmp_concat(g, &pos[..self.pos_bytes()], hi) == Ordering::Less)
    }

    /// Whether posting `p` of group `g` sorts at or above the range's start.
    fn at_or_above_lo(&self, g: &[u8], p: &Post) -> bool {
        let pos = codec::pos_of(self.family, p);
        cmp_concat(g, &pos[..self.pos_bytes()], &self.lo) != Ordering::Less
    }

    fn contains(&self, g: &[u8], p: &Post) -> bool {
        self.at_or_above_lo(g, p) && self.below_hi(g, p)
    }

    /// Decodes the postings of group `g` of `view` that lie in the range onto `posts`,
    /// with the two tests of [`BlockView::decode_group_within`] on each posting's
    /// position taken as a number: `Ok(true)` when the group holds postings at or past
    /// the range's end.
    fn decode_in_range(
        &self,
        view: &BlockView<'_>,
        g: usize,
        posts: &mut Vec<Post>,
    ) -> std::result::Result<bool, Bad> {
        let key = view.group_key(g);
        let start = Threshold::of(key, self.pos_bytes(), &self.lo);
        let end = self
            .hi
            .as_deref()
            .and_then(|hi| Threshold::of(key, self.pos_bytes(), hi));
        let family = self.family;
        view.decode_group_within(
            g,
            posts,
            |p| start.is_some_and(|t| !t.reached(pos_number(family, p))),
            |p| end.is_some_and(|t| t.reached(pos_number(family, p))),
        )
    }
}

/// A posting's position (`codec::pos_of`'s bytes) as a big-endian number, so that
/// positions compare as their bytes do.
#[inline]
fn pos_number(family: u8, p: &Post) -> u128 {
    if family == codec::FAMILY_TYPE {
        (u128::from(codec::okey(p.occ)) << 64) | u128::from(p.id)
    } else {
        u128::from(p.id)
    }
}

/// A bound on sort keys that falls inside one group, as a test on the positions of the
/// group's postings: `group ++ position` sorts at or above the bound exactly when
/// `reached(pos_number(position))`.
#[derive(Debug, Clone, Copy)]
struct Threshold {
    number: u128,
    /// Whether the position must exceed `number` (the bound goes on past a position's
    /// bytes, so a position equal to its start still sorts below it).
    strictly: bool,
}

impl Threshold {
    /// `None` when `bound` does not start with `group` plus at least one byte: then
    /// every posting of the group lies on the same side of it.
    fn of(group: &[u8], pos_bytes: usize, bound: &[u8]) -> Option<Threshold> {
        let tail = bound.strip_prefix(group).filter(|t| !t.is_empty())?;
        // A shorter tail is padded with zeros: a position starting with it sorts after
        // the bound, one starting below it sorts before.
        let mut bytes = [0u8; 16];
        let n = tail.len().min(pos_bytes);
        bytes[16 - pos_bytes..16 - pos_bytes + n].copy_from_slice(&tail[..n]);
        Some(Threshold {
            number: u128::from_be_bytes(bytes),
            strictly: tail.len() > pos_bytes,
        })
    }

    #[inline]
    fn reached(self, position: u128) -> bool {
        if self.strictly {
            position > self.number
        } else {
            position >= self.number
        }
    }
}

/// sled's iterator, which has no `Debug`.
struct SledIter(sled::Iter);

impl std::fmt::Debug for SledIter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SledIter")
    }
}

/// One run's answer to a range, a block at a time.
#[derive(Debug)]
struct RunCursor {
    tree: sled::Tree,
    checked: Arc<CheckedBlocks>,
    run: u64,
    bounds: Arc<Bounds>,
    order: Order,
    floor: u64,
    iter: Option<SledIter>,
    /// Whether [`RunCursor::open`] ran.
    opened: bool,
    /// The block an ascending cursor's seek found (the one holding `lo`), read before
    /// `iter`.
    pending: Option<(sled::IVec, sled::IVec)>,
    /// The key of `pending` once read: `iter` starts after it.
    after: Option<sled::IVec>,
    done: bool,
    /// Groups of the current block in output order, each with postings in output order.
    groups: Vec<(Arc<[u8]>, Vec<Post>)>,
    gi: usize,
    pi: usize,
    /// Emptied posting vectors of earlier blocks, reused so that decoding a block does
    /// not grow a new vector from nothing.
    spare: Vec<Vec<Post>>,
}

impl RunCursor {
    fn new(snap: &Snapshot, run: &Run, bounds: Arc<Bounds>, order: Order) -> Self {
        let floor = snap.floor;
        RunCursor {
            tree: snap.tree.clone(),
            checked: Arc::clone(&snap.checked),
            run: run.id,
            bounds,
            order,
            floor,
            iter: None,
            opened: false,
            pending: None,
            after: None,
            done: run.end_id <= floor,
            groups: Vec::new(),
            gi: 0,
            pi: 0,
            spare: Vec::new(),
        }
    }

    fn key(&self, sort_key: &[u8]) -> Vec<u8> {
        codec::block_key(self.bounds.family, self.run, sort_key)
    }

    fn end_key(&self) -> Vec<u8> {
        match &self.bounds.hi {
            Some(hi) => self.key(hi),
            None => {
                let p = codec::run_prefix(self.bounds.family, self.run);
                codec::prefix_successor(&p).unwrap_or_else(|| vec![0xff; 10])
            }
        }
    }

    /// Positions an ascending cursor: seeks the block holding `lo` and keeps it in
    /// `pending`, so that the seek also reads it; the blocks after it are iterated only
    /// if the range goes past it. A descending cursor iterates down from `hi`.
    fn open(&mut self) -> Result<()> {
        self.opened = true;
        if self.order == Order::Ascending {
            // The block holding `lo` starts at or before it.
            let prefix = codec::run_prefix(self.bounds.family, self.run);
            let lo = self.key(&self.bounds.lo);
            if let Some(kv) = self.tree.range(prefix.to_vec()..=lo).next_back() {
                self.pending = Some(kv?);
            }
        }
        Ok(())
    }

    /// The next block of the run that can hold keys of the range, unchecked.
    fn next_block(&mut self) -> Option<Result<(sled::IVec, sled::IVec)>> {
        if self.done {
            return None;
        }
        if !self.opened {
            if let Err(e) = self.open() {
                return Some(Err(e));
            }
        }
        if let Some((k, v)) = self.pending.take() {
            self.after = Some(k.clone());
            return Some(Ok((k, v)));
        }
        if self.iter.is_none() {
            let start = match self.after.take() {
                Some(k) => Bound::Excluded(k.to_vec()),
                None => Bound::Included(codec::run_prefix(self.bounds.family, self.run).to_vec()),
            };
            let end = Bound::Excluded(self.end_key());
            self.iter = Some(SledIter(self.tree.range((start, end))));
        }
        let iter = self.iter.as_mut()?;
        let next = match self.order {
            Order::Ascending => iter.0.next(),
            Order::Descending => iter.0.next_back(),
        };
        match next {
            Some(kv) => Some(kv.map_err(Into::into)),
            None => {
                self.done = true;
                None
            }
        }
    }

    /// Loads the next block with postings in range; `false` when the run has no more.
    fn load(&mut self) -> Result<bool> {
        loop {
            let Some(kv) = self.next_block() else {
                return Ok(false);
            };
            let (k, v) = kv?;
            let view = self
                .checked
                .view(&k, &v)
                .map_err(|b| codec::corrupted(&k, b))?;
            let sort_key = &k[codec::RUN_PREFIX_BYTES..];
            if self.order == Order::Descending && sort_key <= self.bounds.lo.as_slice() {
                // Earlier blocks hold only smaller keys.
                self.done = true;
            }
            for (_, mut posts) in self.groups.drain(..) {
                posts.clear();
                self.spare.push(posts);
            }
            (self.gi, self.pi) = (0, 0);
            if view.shape.max_id < self.floor {
                continue;
            }
            let b = &self.bounds;
            let mut g = view.lower_bound(|g| b.group_cmp(g));
            // Whether this block holds a key at or above `hi`: later blocks hold only
            // greater keys, so an ascending cursor ends here.
            let mut reaches_hi = false;
            while g < view.groups() && b.group_cmp(view.group_key(g)) == Ordering::Equal {
                let key = view.group_key(g);
                let mut posts = self.spare.pop().unwrap_or_default();
                reaches_hi |= b
                    .decode_in_range(&view, g, &mut posts)
                    .map_err(|e| codec::corrupted(&k, e))?;
                reaches_hi |= posts.last().is_some_and(|p| !b.below_hi(key, p));
                let floor = self.floor;
                if !b.holds_group(key) {
                    // A group's postings are in sort-key order, so those in range are
                    // one stretch: found by two binary searches, not a test of each.
                    debug_assert!(posts.windows(2).all(|w| {
                        let pb = b.pos_bytes();
                        codec::pos_of(b.family, &w[0])[..pb] < codec::pos_of(b.family, &w[1])[..pb]
                    }));
                    let start = posts.partition_point(|p| !b.at_or_above_lo(key, p));
                    let end = start + posts[start..].partition_point(|p| b.below_hi(key, p));
                    posts.truncate(end);
                    posts.drain(..start);
                }
                if view.shape.min_id < floor {
                    posts.retain(|p| p.id >= floor);
                }
                if posts.is_empty() {
                    self.spare.push(posts);
                } else {
                    if self.order == Order::Descending {
                        posts.reverse();
                    }
                    self.groups.push((Arc::from(key), posts));
                }
                g += 1;
            }
            reaches_hi |= g < view.groups();
            if self.order == Order::Ascending && reaches_hi {
                self.done = true;
            }
            if self.order == Order::Descending {
                self.groups.reverse();
            }
            if !self.groups.is_empty() {
                return Ok(true);
            }
        }
    }
}

// ---- checked blocks ------------------------------------------------------------------

/// Independently locked parts of [`CheckedBlocks`], so concurrent lookups rarely wait.
const CHECKED_SHARDS: usize = 16;

/// One block value whose checksum, header and directory were checked.
struct CheckedBlock {
    /// The value, shared with sled: holding it keeps its address from being reused,
    /// and a shared `IVec` is copied before it is changed, so a value that sled hands
    /// out at this address and length is exactly these bytes.
    value: sled::IVec,
    key: Box<[u8]>,
    shape: BlockShape,
}

#[derive(Default)]
struct CheckedShard {
    /// By the address of the value's first byte.
    blocks: HashMap<usize, CheckedBlock>,
    /// Addresses, oldest first.
    order: VecDeque<usize>,
    bytes: usize,
    /// Most bytes of values held: the shard's share of
    /// [`IndexOptions::checked_cache_bytes`](crate::IndexOptions::checked_cache_bytes).
    cap: usize,
}

/// Blocks of one index checked once, found again by the address of their bytes: a
/// person lookup reads one block per run, and checking a whole 32 KiB block (its CRC
/// and every directory entry) cost more than the rest of the lookup. Bytes that sled
/// reads from disk anew are checked anew.
pub(crate) struct CheckedBlocks {
    shards: Vec<Mutex<CheckedShard>>,
}

impl CheckedBlocks {
    /// Holding at most `bytes_max` bytes of block values.
    pub(crate) fn new(bytes_max: usize) -> Self {
        CheckedBlocks {
            shards: (0..CHECKED_SHARDS)
                .map(|_| {
                    Mutex::new(CheckedShard {
                        cap: bytes_max / CHECKED_SHARDS,
                        ..CheckedShard::default()
                    })
                })
                .collect(),
        }
    }
}

impl std::fmt::Debug for CheckedBlocks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckedBlocks").finish_non_exhaustive()
    }
}

impl CheckedBlocks {
    fn shard(&self, addr: usize) -> &Mutex<CheckedShard> {
        // Allocations are aligned: mix the higher bits in.
        let h = (addr >> 4).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        &self.shards[(h >> 59) % CHECKED_SHARDS]
    }

    /// A view of block `(key, value)`, checked: by the shape remembered when these same
    /// bytes were checked under the same key, else by checking them now (and
    /// remembering).
    pub(crate) fn view<'v>(&self, key: &[u8], value: &'v sled::IVec) -> Result<BlockView<'v>, Bad> {
        let addr = value.as_ptr() as usize;
        let shard = self.shard(addr);
        let shape = shard.lock().blocks.get(&addr).and_then(|c| {
            (c.value.as_ptr() == value.as_ptr() && c.value.len() == value.len() && *c.key == *key)
                .then_some(c.shape)
        });
        if let Some(view) = shape.and_then(|s| BlockView::with_shape(value, s)) {
            return Ok(view);
        }
        let view = BlockView::open(key, value)?;
        // A heap value's clone shares its bytes; a small inline one's does not, and can
        // never be found again by address.
        let shared = value.clone();
        if shared.as_ptr() == value.as_ptr() {
            remember(&mut shard.lock(), addr, shared, key, view.shape());
        }
        Ok(view)
    }
}

fn remember(
    shard: &mut CheckedShard,
    addr: usize,
    value: sled::IVec,
    key: &[u8],
    shape: BlockShape,
) {
    let len = value.len();
    if let Some(old) = shard.blocks.remove(&addr) {
        // Checked by another reader meanwhile, or the same bytes under another key.
        shard.bytes -= old.value.len();
        shard.order.retain(|a| *a != addr);
    }
    let cap = shard.cap;
    if len > cap {
        return;
    }
    while shard.bytes + len > cap {
        let Some(oldest) = shard.order.pop_front() else {
            break;
        };
        if let Some(c) = shard.blocks.remove(&oldest) {
            shard.bytes -= c.value.len();
        }
    }
    let block = CheckedBlock {
        value,
        key: key.into(),
        shape,
    };
    shard.blocks.insert(addr, block);
    shard.order.push_back(addr);
    shard.bytes += len;
    debug_assert_eq!(shard.blocks.len(), shard.order.len());
}

/// One input of a merge: a run, or memtable postings collected up front.
#[derive(Debug)]
enum Source {
    Run(Box<RunCursor>),
    /// Items in output order.
    Mem(Vec<(Arc<[u8]>, Post)>, usize),
}

impl Source {
    fn fill(&mut self) -> Result<()> {
        if let Source::Run(c) = self {
            loop {
                if c.gi < c.groups.len() {
                    if c.pi < c.groups[c.gi].1.len() {
                        return Ok(());
                    }
                    c.gi += 1;
                    c.pi = 0;
                    continue;
                }
                if !c.load()? {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    fn head(&self) -> Option<(&Arc<[u8]>, Post)> {
        match self {
            Source::Run(c) => {
                let (g, posts) = c.groups.get(c.gi)?;
                Some((g, *posts.get(c.pi)?))
            }
            Source::Mem(items, i) => items.get(*i).map(|(g, p)| (g, *p)),
        }
    }

    fn advance(&mut self) {
        match self {
            Source::Run(c) => c.pi += 1,
            Source::Mem(_, i) => *i += 1,
        }
    }
}

/// A lazy merge of sources by sort key; with `sequential`, the sources are drained one
/// after the other: in output order when the range holds one group whose positions are
/// ids (a person, one value), since runs tile the ids in increasing order and the
/// memtable holds the newest; in no set order otherwise, for readers that ask for none.
#[derive(Debug)]
struct Merge {
    family: u8,
    order: Order,
    sequential: bool,
    sources: Vec<Source>,
    failed: bool,
}

impl Merge {
    fn new(
        snap: &Snapshot,
        mem: Vec<(Arc<[u8]>, Post)>,
        bounds: Bounds,
        order: Order,
        sequential: bool,
    ) -> Self {
        let family = bounds.family;
        let bounds = Arc::new(bounds);
        let mut runs: Vec<Source> = snap
            .runs
            .iter()
            .filter(|r| r.end_id > snap.floor && r.holds_any(&bounds.ids))
            .map(|r| {
                Source::Run(Box::new(RunCursor::new(
                    snap,
                    r,
                    Arc::clone(&bounds),
                    order,
                )))
            })
            .collect();
        let mut sources = vec![Source::Mem(mem, 0)];
        match order {
            // Newest first: the memtable, then runs newest to oldest.
            Order::Descending => {
                runs.reverse();
                sources.extend(runs);
            }
            Order::Ascending => {
                runs.extend(sources);
                sources = runs;
            }
        }
        Merge {
            family,
            order,
            sequential,
            sources,
            failed: false,
        }
    }

    fn step(&mut self) -> Result<Option<Post>> {
        if self.sequential {
            while let Some(s) = self.sources.first_mut() {
                s.fill()?;
                if let Some((_, p)) = s.head() {
                    s.advance();
                    return Ok(Some(p));
                }
                self.sources.remove(0);
            }
            return Ok(None);
        }
        // A source with nothing after filling is done for good: dropped, so that later
        // steps do not ask its run for a next block again.
        let mut i = 0;
        while let Some(s) = self.sources.get_mut(i) {
            s.fill()?;
            if s.head().is_some() {
                i += 1;
            } else {
                self.sources.remove(i);
            }
        }
        // One source left (a time range within one run, say): nothing to compare.
        if let [only] = &mut self.sources[..] {
            let p = only.head().map(|(_, p)| p);
            only.advance();
            return Ok(p);
        }
        let pb = codec::pos_bytes(self.family);
        let mut best: Option<(usize, &[u8], [u8; 16])> = None;
        for (i, s) in self.sources.iter().enumerate() {
            let Some((g, p)) = s.head() else { continue };
            let pos = codec::pos_of(self.family, &p);
            let better = match &best {
                None => true,
                Some((_, bg, bpos)) => {
                    let o = (&g[..], &pos[..pb]).cmp(&(*bg, &bpos[..pb]));
                    match self.order {
                        Order::Ascending => o == Ordering::Less,
                        Order::Descending => o == Ordering::Greater,
                    }
                }
            };
            if better {
                best = Some((i, g, pos));
            }
        }
        let Some((i, _, _)) = best else {
            return Ok(None);
        };
        let p = self.sources[i].head().map(|(_, p)| p);
        self.sources[i].advance();
        Ok(p)
    }

    /// Calls `f` with every posting left. Sources drained one after the other hand
    /// over each decoded group in one loop, not a step per posting.
    fn drain(&mut self, mut f: impl FnMut(Post)) -> Result<()> {
        if self.failed {
            return Ok(());
        }
        if !self.sequential {
            while let Some(p) = self.next_post() {
                f(p?);
            }
            return Ok(());
        }
        for s in &mut self.sources {
            loop {
                if let Err(e) = s.fill() {
                    self.failed = true;
                    return Err(e);
                }
                match s {
                    Source::Run(c) => {
                        let Some((_, posts)) = c.groups.get(c.gi) else {
                            break;
                        };
                        posts.get(c.pi..).into_iter().flatten().for_each(|p| f(*p));
                        (c.gi, c.pi) = (c.gi + 1, 0);
                    }
                    Source::Mem(items, i) => {
                        items
                            .get(*i..)
                            .into_iter()
                            .flatten()
                            .for_each(|(_, p)| f(*p));
                        *i = items.len();
                        break;
                    }
                }
            }
        }
        self.sources.clear();
        Ok(())
    }

    fn next_post(&mut self) -> Option<Result<Post>> {
        if self.failed {
            return None;
        }
        match self.step() {
            Ok(p) => p.map(Ok),
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// Memtables of a snapshot, oldest first.
fn memtables<'m>(snap: &'m Snapshot, active: &'m Memtable) -> impl Iterator<Item = &'m Memtable> {
    snap.frozen
        .as_deref()
        .into_iter()
        .chain(std::iter::once(active))
}

/// Memtable postings of `bounds`, sorted in output order.
fn mem_items(
    snap: &Snapshot,
    active: &Memtable,
    bounds: &Bounds,
    order: Order,
    wanted: impl Fn(&Memtable, u32) -> Option<Arc<[u8]>>,
) -> Vec<(Arc<[u8]>, Post)> {
    let mut items: Vec<(Arc<[u8]>, Post)> = Vec::new();
    for m in memtables(snap, active) {
        for doc in 0..m.docs.len() as u32 {
            if m.id_of(doc) < snap.floor {
                continue;
            }
            if let Some(g) = wanted(m, doc) {
                let p = m.post(bounds.family, doc);
                if bounds.contains(&g, &p) {
                    items.push((g, p));
                }
            }
        }
    }
    sort_items(&mut items, bounds.family, order);
    items
}

fn sort_items(items: &mut [(Arc<[u8]>, Post)], family: u8, order: Order) {
    let pb = codec::pos_bytes(family);
    items.sort_by(|a, b| {
        let (pa, pb2) = (codec::pos_of(family, &a.1), codec::pos_of(family, &b.1));
        (&a.0[..], &pa[..pb]).cmp(&(&b.0[..], &pb2[..pb]))
    });
    if order == Order::Descending {
        items.reverse();
    }
}

// ---- by person -----------------------------------------------------------------------

fn person_bounds(person: PersonId, range: IdRange, floor: u64) -> Bounds {
    let g = codec::person_group(person.get());
    let with = |id: u64| {
        let mut k = g.to_vec();
        k.extend_from_slice(&id.to_be_bytes());
        k
    };
    let start = range.start.get().max(floor);
    Bounds {
        family: codec::FAMILY_PERSON,
        lo: with(start),
        hi: Some(with(range.end.get())),
        ids: start..range.end.get(),
    }
}

/// Lazy iterator over a person's postings; see [`Index::person`](crate::Index::person).
#[derive(Debug)]
pub struct PersonPostings(Merge);

impl PersonPostings {
    pub(crate) fn new(
        snap: Snapshot,
        active: &Memtable,
        person: PersonId,
        range: IdRange,
        order: Order,
    ) -> Self {
        let bounds = person_bounds(person, range, snap.floor);
        let g: Arc<[u8]> = Arc::from(&codec::person_group(person.get())[..]);
        let p = person.get();
        let mut mem: Vec<(Arc<[u8]>, Post)> = Vec::new();
        for m in memtables(&snap, active) {
            for doc in m.person_docs(p) {
                if m.id_of(doc) < snap.floor {
                    break;
                }
                let post = m.post(bounds.family, doc);
                if bounds.contains(&g, &post) {
                    mem.push((Arc::clone(&g), post));
                }
            }
        }
        sort_items(&mut mem, bounds.family, order);
        PersonPostings(Merge::new(&snap, mem, bounds, order, true))
    }
}

impl Iterator for PersonPostings {
    type Item = Result<PersonPosting>;

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next_post().map(|r| {
            r.map(|p| PersonPosting {
                id: ActivityId(p.id),
                type_id: TypeId(p.aux as u32),
                occurred_at_ms: p.occ,
            })
        })
    }
}

/// Fewer persons than this are looked up one by one by [`PersonsPostings`]: a walk
/// reads every block between the first and the last person of each run, a lookup
/// seeks once per run.
const PERSONS_WALK_MIN: usize = 16;

/// Lazy iterator over the postings of several persons, person by person in ascending
/// order, each person's in id order; see [`Index::persons`](crate::Index::persons).
#[derive(Debug)]
pub struct PersonsPostings {
    persons: Vec<u64>,
    range: IdRange,
    /// The person whose postings `current` holds: `persons[next - 1]`.
    next: usize,
    current: Vec<Post>,
    at: usize,
    how: PersonsHow,
    /// The memtables' postings of every person, in (person, id) order.
    mem: Vec<(u64, Post)>,
    failed: bool,
}

#[derive(Debug)]
enum PersonsHow {
    /// One lookup per person (few persons).
    Each(Snapshot),
    /// One forward walk per run.
    Walk(Vec<PersonWalk>),
}

impl PersonsPostings {
    pub(crate) fn new(
        snap: Snapshot,
        active: &Memtable,
        persons: &[PersonId],
        range: IdRange,
    ) -> Self {
        let mut persons: Vec<u64> = persons.iter().map(|p| p.get()).collect();
        persons.sort_unstable();
        persons.dedup();
        let mut mem: Vec<(u64, Post)> = Vec::new();
        for m in memtables(&snap, active) {
            for &p in &persons {
                for doc in m.person_docs(p) {
                    let id = m.id_of(doc);
                    if id < snap.floor.max(range.start.get()) {
                        break;
                    }
                    if id < range.end.get() {
                        mem.push((p, m.post(codec::FAMILY_PERSON, doc)));
                    }
                }
            }
        }
        mem.sort_unstable_by_key(|(p, post)| (*p, post.id));
        let how = if persons.len() < PERSONS_WALK_MIN {
            PersonsHow::Each(snap)
        } else {
            let walks = snap
                .runs
                .iter()
                .filter(|r| {
                    r.end_id > snap.floor && r.holds_any(&(range.start.get()..range.end.get()))
                })
                .map(|r| PersonWalk::new(&snap, r))
                .collect();
            PersonsHow::Walk(walks)
        };
        PersonsPostings {
            persons,
            range,
            next: 0,
            current: Vec::new(),
            at: 0,
            how,
            mem,
            failed: false,
        }
    }

    /// Reads the next person's postings into `current`; `false` when none is left.
    fn load_next(&mut self) -> Result<bool> {
        let Some(&person) = self.persons.get(self.next) else {
            return Ok(false);
        };
        self.next += 1;
        self.current.clear();
        self.at = 0;
        let last = self.persons.last().copied().unwrap_or(person);
        match &mut self.how {
            PersonsHow::Each(snap) => {
                let bounds = person_bounds(PersonId(person), self.range, snap.floor);
                let mut merge = Merge::new(snap, Vec::new(), bounds, Order::Ascending, true);
                while let Some(p) = merge.next_post() {
                    self.current.push(p?);
                }
            }
            PersonsHow::Walk(walks) => {
                for w in walks.iter_mut() {
                    w.postings(person, last, self.range, &mut self.current)?;
                }
            }
        }
        // The memtables hold the newest ids: after every run's.
        let from = self.mem.partition_point(|(p, _)| *p < person);
        let to = self.mem.partition_point(|(p, _)| *p <= person);
        self.current
            .extend(self.mem[from..to].iter().map(|(_, post)| *post));
        debug_assert!(self.current.windows(2).all(|w| w[0].id < w[1].id));
        Ok(true)
    }
}

impl Iterator for PersonsPostings {
    type Item = Result<(PersonId, PersonPosting)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.failed {
                return None;
            }
            if let Some(p) = self.current.get(self.at) {
                self.at += 1;
                let person = PersonId(self.persons[self.next - 1]);
                return Some(Ok((
                    person,
                    PersonPosting {
                        id: ActivityId(p.id),
                        type_id: TypeId(p.aux as u32),
                        occurred_at_ms: p.occ,
                    },
                )));
            }
            match self.load_next() {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

/// Counts toward "which of these persons have at least `at_least` postings of a type in
/// a time range and id range"; see [`Index::persons_reaching`](crate::Index::persons_reaching).
///
/// The memtables are counted first (under the memtable lock, by [`PersonsCount::new`]),
/// then the runs newest to oldest (without it, by [`PersonsCount::finish`]), and a person
/// who reached the count is not read in older runs: `not did T` over persons who mostly
/// did `T` lately reads the newest run's blocks, not every run's.
#[derive(Debug)]
pub(crate) struct PersonsCount {
    /// The persons asked, ascending, each once.
    asked: Vec<u64>,
    counts: Vec<u32>,
    type_id: TypeId,
    time: TimeRange,
    range: IdRange,
    /// The ids counted: `range` above the floor.
    ids: Range<u64>,
    at_least: u32,
}

impl PersonsCount {
    pub(crate) fn new(
        snap: &Snapshot,
        active: &Memtable,
        persons: &[PersonId],
        type_id: TypeId,
        time: TimeRange,
        range: IdRange,
        at_least: u32,
    ) -> Self {
        let mut asked: Vec<u64> = persons.iter().map(|p| p.get()).collect();
        asked.sort_unstable();
        asked.dedup();
        let mut count = PersonsCount {
            counts: vec![0u32; asked.len()],
            asked,
            type_id,
            time,
            range,
            ids: snap.floor.max(range.start.get())..range.end.get(),
            at_least,
        };
        for m in memtables(snap, active) {
            for i in 0..count.asked.len() {
                for doc in m.person_docs(count.asked[i]) {
                    if count.counts[i] >= at_least || m.id_of(doc) < count.ids.start {
                        break;
                    }
                    if count.counts_toward(&m.post(codec::FAMILY_PERSON, doc)) {
                        count.counts[i] += 1;
                    }
                }
            }
        }
        count
    }

    fn counts_toward(&self, p: &Post) -> bool {
        p.aux == u64::from(self.type_id.get())
            && self.time.start_ms <= p.occ
            && p.occ < self.time.end_ms
            && self.ids.contains(&p.id)
    }

    /// Counts the runs' postings of the persons still short, and gives the persons who
    /// reached the count, ascending.
    pub(crate) fn finish(mut self, snap: &Snapshot) -> Result<Vec<PersonId>> {
        let at_least = self.at_least;
        // Indices into `asked` of the persons still short of the count, ascending.
        let mut open: Vec<usize> = (0..self.asked.len())
            .filter(|&i| self.counts[i] < at_least)
            .collect();
        let mut posts = Vec::new();
        let runs = snap
            .runs
            .iter()
            .rev()
            .filter(|r| r.end_id > snap.floor && r.holds_any(&self.ids));
        for run in runs {
            if open.is_empty() {
                break;
            }
            let few = open.len() < PERSONS_WALK_MIN;
            let mut walk = PersonWalk::new(snap, run);
            let last = open.last().map_or(0, |&i| self.asked[i]);
            for &i in &open {
                let person = self.asked[i];
                if few {
                    // Few persons: a seek each instead of reading the blocks between.
                    walk = PersonWalk::new(snap, run);
                    walk.postings(person, person, self.range, &mut posts)?;
                } else {
                    walk.postings(person, last, self.range, &mut posts)?;
                }
                let found = posts.iter().filter(|p| self.counts_toward(p)).count();
                let found = u32::try_from(found).unwrap_or(u32::MAX);
                self.counts[i] = self.counts[i].saturating_add(found);
                posts.clear();
            }
            open.retain(|&i| self.counts[i] < at_least);
        }
        Ok(self
            .asked
            .iter()
            .zip(&self.counts)
            .filter(|(_, &n)| n >= at_least)
            .map(|(&p, _)| PersonId(p))
            .collect())
    }
}

/// Calls `f` with the person of every memtable document with an id in `ids` (and above
/// the floor); a person may come more than once.
pub(crate) fn memtable_persons(
    snap: &Snapshot,
    active: &Memtable,
    ids: IdRange,
    f: &mut dyn FnMut(u64),
) {
    let ids = snap.floor.max(ids.start.get())..ids.end.get();
    for m in memtables(snap, active) {
        let whole = ids.start <= m.first_id && m.end_id <= ids.end;
        if whole {
            m.persons().for_each(&mut *f);
        } else {
            for (doc, d) in m.docs.iter().enumerate() {
                if ids.contains(&m.id_of(doc as u32)) {
                    f(d.person);
                }
            }
        }
    }
}

/// Calls `f` with the person of every by-person group of the runs that holds a posting
/// with an id in `ids` (and above the floor), reading group keys alone where a run lies
/// wholly inside them; a person may come more than once (once per run, and again when
/// a group goes on in the next block).
pub(crate) fn run_persons(snap: &Snapshot, ids: IdRange, f: &mut dyn FnMut(u64)) -> Result<()> {
    let ids = snap.floor.max(ids.start.get())..ids.end.get();
    let mut posts = Vec::new();
    let runs = snap
        .runs
        .iter()
        .filter(|r| r.end_id > snap.floor && r.holds_any(&ids));
    for r in runs {
        let whole = ids.start <= r.first_id && r.end_id <= ids.end;
        let prefix = codec::run_prefix(codec::FAMILY_PERSON, r.id);
        for kv in snap.tree.scan_prefix(prefix) {
            let (k, v) = kv?;
            let view = snap
                .checked
                .view(&k, &v)
                .map_err(|b| codec::corrupted(&k, b))?;
            for g in 0..view.groups() {
                let Ok(key) = <[u8; 8]>::try_from(view.group_key(g)) else {
                    let what = "a by-person group key is not eight bytes";
                    return Err(codec::corrupted(&k, Bad { position: 0, what }));
                };
                if !whole {
                    posts.clear();
                    view.decode_group(g, &mut posts)
                        .map_err(|b| codec::corrupted(&k, b))?;
                    if !posts.iter().any(|p| ids.contains(&p.id)) {
                        continue;
                    }
                }
                f(u64::from_be_bytes(key));
            }
        }
    }
    Ok(())
}

/// One run's by-person blocks read forward, for persons asked in ascending order.
#[derive(Debug)]
struct PersonWalk {
    tree: sled::Tree,
    checked: Arc<CheckedBlocks>,
    run: u64,
    floor: u64,
    /// Blocks after `next`, up to the last person's; opened by the first person.
    iter: Option<SledIter>,
    /// The block that holds the postings at the walk's position.
    block: Option<(sled::IVec, sled::IVec)>,
    /// The block after it, read ahead: where `block`'s sort keys end.
    ahead: Option<(sled::IVec, sled::IVec)>,
}

impl PersonWalk {
    fn new(snap: &Snapshot, run: &Run) -> Self {
        PersonWalk {
            tree: snap.tree.clone(),
            checked: Arc::clone(&snap.checked),
            run: run.id,
            floor: snap.floor,
            iter: None,
            block: None,
            ahead: None,
        }
    }

    /// The block keys of `person`'s postings with ids in `range`, `[lo, hi)`.
    fn keys(&self, person: u64, range: IdRange) -> (Vec<u8>, Vec<u8>) {
        let b = person_bounds(PersonId(person), range, self.floor);
        // A person's bounds always end (at its group with the range's end id).
        let hi = b.hi.unwrap_or_default();
        (
            codec::block_key(codec::FAMILY_PERSON, self.run, &b.lo),
            codec::block_key(codec::FAMILY_PERSON, self.run, &hi),
        )
    }

    fn step(&mut self) -> Result<()> {
        self.block = self.ahead.take();
        if let Some(iter) = &mut self.iter {
            self.ahead = iter.0.next().transpose()?;
        }
        Ok(())
    }

    /// Appends `person`'s postings of this run with ids in `range` to `out`; `last` is
    /// the greatest person the walk will be asked for.
    fn postings(
        &mut self,
        person: u64,
        last: u64,
        range: IdRange,
        out: &mut Vec<Post>,
    ) -> Result<()> {
        let (lo, hi) = self.keys(person, range);
        if self.iter.is_none() {
            // The block holding `lo` starts at or before it; the walk ends with the
            // block holding the last person's postings.
            let prefix = codec::run_prefix(codec::FAMILY_PERSON, self.run).to_vec();
            let start = match self.tree.range(prefix.clone()..=lo.clone()).next_back() {
                Some(kv) => kv?.0.to_vec(),
                None => prefix,
            };
            let (_, end) = self.keys(last, range);
            let mut iter = SledIter(self.tree.range(start..end));
            self.ahead = iter.0.next().transpose()?;
            self.iter = Some(iter);
            self.step()?;
        }
        // Skip the blocks that end at or before `lo`: those whose successor starts there.
        while self.ahead.as_ref().is_some_and(|(k, _)| k[..] <= lo[..]) {
            self.step()?;
        }
        let group = codec::person_group(person);
        loop {
            let Some((k, v)) = &self.block else {
                return Ok(());
            };
            if k[..] >= hi[..] {
                return Ok(());
            }
            let view = self
                .checked
                .view(k, v)
                .map_err(|b| codec::corrupted(k, b))?;
            if view.shape.max_id >= self.floor {
                let g = view.lower_bound(|key| key.cmp(&group[..]));
                if g < view.groups() && view.group_key(g) == group {
                    let start = out.len();
                    view.decode_group(g, out)
                        .map_err(|e| codec::corrupted(k, e))?;
                    let ids = self.floor.max(range.start.get())..range.end.get();
                    let mut kept = start;
                    for i in start..out.len() {
                        if ids.contains(&out[i].id) {
                            out[kept] = out[i];
                            kept += 1;
                        }
                    }
                    out.truncate(kept);
                }
            }
            // The person's group may go on in the next block.
            match &self.ahead {
                Some((next, _)) if next[..] < hi[..] => self.step()?,
                _ => return Ok(()),
            }
        }
    }
}

// ---- by type -------------------------------------------------------------------------

fn type_bounds(type_id: TypeId, time: TimeRange, ids: IdRange) -> Bounds {
    let g = codec::type_group(type_id.get());
    let with = |occ: i64| {
        let mut k = g.to_vec();
        k.extend_from_slice(&codec::okey(occ).to_be_bytes());
        k.extend_from_slice(&0u64.to_be_bytes());
        k
    };
    Bounds {
        family: codec::FAMILY_TYPE,
        lo: with(time.start_ms),
        hi: Some(with(time.end_ms)),
        ids: ids.start.get()..ids.end.get(),
    }
}

/// Lazy merge of a type's postings in a time range, in (occurred_at, id) order; see
/// [`Index::by_type`](crate::Index::by_type).
#[derive(Debug)]
pub struct TypePostings {
    merge: Merge,
    /// The ids asked for: runs outside them are not read, and a run across their ends
    /// has its postings outside them dropped here.
    ids: Range<u64>,
}

impl TypePostings {
    pub(crate) fn new(
        snap: Snapshot,
        active: &Memtable,
        type_id: TypeId,
        time: TimeRange,
        ids: IdRange,
        order: Option<Order>,
    ) -> Self {
        // Without an order, runs are read one after the other (in ascending order each).
        let (order, sequential) = match order {
            Some(order) => (order, false),
            None => (Order::Ascending, true),
        };
        let bounds = type_bounds(type_id, time, ids);
        let ids = bounds.ids.clone();
        let g: Arc<[u8]> = Arc::from(&codec::type_group(type_id.get())[..]);
        let t = type_id.get();
        let mem = if time.start_ms < time.end_ms {
            mem_items(&snap, active, &bounds, order, |m, d| {
                (m.docs[d as usize].type_id == t).then(|| Arc::clone(&g))
            })
        } else {
            Vec::new()
        };
        // Positions are (occurred_at, id): runs overlap in time, so an ordered read
        // merges them.
        let mut merge = Merge::new(&snap, mem, bounds, order, sequential);
        if time.start_ms >= time.end_ms || ids.is_empty() {
            merge.sources.clear();
        }
        TypePostings { merge, ids }
    }

    /// Calls `f` with every posting left, in the iterator's order; cheaper than
    /// iterating when the postings are read run after run
    /// ([`Index::by_type_unordered`](crate::Index::by_type_unordered)).
    ///
    /// # Errors
    /// A damaged block or a store error; `f` may have seen some postings.
    pub fn for_each_posting(mut self, mut f: impl FnMut(TypePosting)) -> Result<()> {
        let ids = self.ids;
        self.merge.drain(|p| {
            if ids.contains(&p.id) {
                f(TypePosting {
                    id: ActivityId(p.id),
                    person: PersonId(p.aux),
                    occurred_at_ms: p.occ,
                });
            }
        })
    }
}

impl Iterator for TypePostings {
    type Item = Result<TypePosting>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.merge.next_post()? {
                Ok(p) if !self.ids.contains(&p.id) => continue,
                r => {
                    return Some(r.map(|p| TypePosting {
                        id: ActivityId(p.id),
                        person: PersonId(p.aux),
                        occurred_at_ms: p.occ,
                    }))
                }
            }
        }
    }
}

// ---- by value ------------------------------------------------------------------------

/// Sort-key bounds `[lo, hi)` of a value key range under `prefix`; `None` if empty.
fn value_bounds(family: u8, prefix: &[u8], key: KeyRange<'_>) -> Option<Bounds> {
    let (start, end) = match key {
        KeyRange::Exact(k) => (Bound::Included(k), Bound::Included(k)),
        KeyRange::Range { start, end } => (start, end),
    };
    let with = |v: &[u8], tail: bool| {
        let mut k = prefix.to_vec();
        codec::escape_into(&mut k, v);
        if tail {
            // Greater than every id suffix of this value, smaller than the next value.
            k.extend_from_slice(&[0xff; 9]);
        }
        k
    };
    let lo = match start {
        Bound::Unbounded => prefix.to_vec(),
        Bound::Included(v) => with(v, false),
        Bound::Excluded(v) => with(v, true),
    };
    let hi = match end {
        Bound::Unbounded => codec::prefix_successor(prefix),
        Bound::Included(v) => Some(with(v, true)),
        Bound::Excluded(v) => Some(with(v, false)),
    };
    if hi.as_ref().is_some_and(|h| *h <= lo) {
        return None;
    }
    Some(Bounds {
        family,
        lo,
        hi,
        ids: 0..u64::MAX,
    })
}

/// Lazy iterator over a by-primary or by-attribute range, in (value key, id) order; see
/// [`Index::by_primary`](crate::Index::by_primary).
#[derive(Debug)]
pub struct ValuePostings {
    merge: Option<Merge>,
    /// The ids asked for: runs outside them are not read, and a run across their ends
    /// has its postings outside them dropped here.
    ids: Range<u64>,
}

impl ValuePostings {
    pub(crate) fn new(
        snap: Snapshot,
        active: &Memtable,
        family: u8,
        prefix: Vec<u8>,
        key: KeyRange<'_>,
        ids: IdRange,
        order: Order,
    ) -> Self {
        let ids = ids.start.get()..ids.end.get();
        let Some(mut bounds) = value_bounds(family, &prefix, key) else {
            return ValuePostings { merge: None, ids };
        };
        bounds.ids = ids.clone();
        let mem = value_mem_items(&snap, active, &bounds, order);
        let one_value = key.exact().is_some();
        let merge = Merge::new(&snap, mem, bounds, order, one_value);
        ValuePostings {
            merge: Some(merge),
            ids,
        }
    }
}

fn value_mem_items(
    snap: &Snapshot,
    active: &Memtable,
    bounds: &Bounds,
    order: Order,
) -> Vec<(Arc<[u8]>, Post)> {
    let mut items: Vec<(Arc<[u8]>, Post)> = Vec::new();
    for m in memtables(snap, active) {
        let mut last: Option<Arc<[u8]>> = None;
        for v in m.values(bounds.family) {
            let id = m.id_of(v.doc);
            if id < snap.floor || !bounds.ids.contains(&id) {
                continue;
            }
            let key = m.key(v);
            if bounds.group_cmp(key) != Ordering::Equal {
                continue;
            }
            let p = m.post(bounds.family, v.doc);
            let g = match &last {
                Some(g) if &g[..] == key => Arc::clone(g),
                _ => {
                    let g: Arc<[u8]> = Arc::from(key);
                    last = Some(Arc::clone(&g));
                    g
                }
            };
            items.push((g, p));
        }
    }
    sort_items(&mut items, bounds.family, order);
    items
}

impl Iterator for ValuePostings {
    type Item = Result<ValuePosting>;

    fn next(&mut self) -> Option<Self::Item> {
        let merge = self.merge.as_mut()?;
        loop {
            let p = match merge.next_post()? {
                Ok(p) => p,
                Err(e) => return Some(Err(e)),
            };
            if self.ids.contains(&p.id) {
                return Some(Ok(ValuePosting {
                    id: ActivityId(p.id),
                    occurred_at_ms: p.occ,
                }));
            }
        }
    }
}

// ---- estimates -----------------------------------------------------------------------

/// Postings of the groups in `bounds` of the blocks of `snap`'s runs that meet
/// `bounds.ids` (a group that crosses a bound counts whole; see
/// [`BlockView::estimated_postings`]), counted until the count passes `cap`, so the
/// answer is above `cap` exactly when the whole count is. Damaged blocks count as empty:
/// reads and verify() report them.
fn estimate_runs(snap: &Snapshot, bounds: &Bounds, cap: u64) -> u64 {
    let mut n = 0u64;
    let bounds = Arc::new(bounds.clone());
    // Newest first: a time range most often asks for recent activities.
    let runs = snap
        .runs
        .iter()
        .rev()
        .filter(|r| r.end_id > snap.floor && r.holds_any(&bounds.ids));
    for r in runs {
        let mut c = RunCursor::new(snap, r, Arc::clone(&bounds), Order::Ascending);
        while let Some(kv) = c.next_block() {
            if n > cap {
                return n;
            }
            let Ok((k, v)) = kv else {
                break;
            };
            if let Ok(view) = snap.checked.view(&k, &v) {
                // Only the groups in range: a value block holds many values' groups.
                let mut g = view.lower_bound(|g| bounds.group_cmp(g));
                while g < view.groups() && bounds.group_cmp(view.group_key(g)) == Ordering::Equal {
                    n += view.estimated_postings(g);
                    g += 1;
                }
            }
        }
    }
    n
}

/// A type's postings in `time` with ids in `ids` that the memtables hold.
pub(crate) fn type_mem_count(
    snap: &Snapshot,
    active: &Memtable,
    type_id: TypeId,
    time: TimeRange,
    ids: IdRange,
) -> u64 {
    let t = type_id.get();
    let ids = ids.start.get()..ids.end.get();
    let mut n = 0u64;
    for m in memtables(snap, active) {
        for (doc, d) in m.docs.iter().enumerate() {
            let in_time = d.occ >= time.start_ms && d.occ < time.end_ms;
            if d.type_id == t && in_time && ids.contains(&m.id_of(doc as u32)) {
                n += 1;
            }
        }
    }
    n
}

/// About how many of a type's postings in `time` the runs that meet `ids` hold (a run
/// across their ends counts whole), counted until past `cap`.
pub(crate) fn estimate_type_runs(
    snap: &Snapshot,
    type_id: TypeId,
    time: TimeRange,
    ids: IdRange,
    cap: u64,
) -> u64 {
    if time.start_ms >= time.end_ms {
        return 0;
    }
    estimate_runs(snap, &type_bounds(type_id, time, ids), cap)
}

/// The bounds of a value family's postings with keys in `key` and ids in `ids`, or
/// `None` when the key range holds nothing.
pub(crate) fn value_estimate_bounds(
    family: u8,
    prefix: &[u8],
    key: KeyRange<'_>,
    ids: IdRange,
) -> Option<Bounds> {
    let mut bounds = value_bounds(family, prefix, key)?;
    bounds.ids = ids.start.get()..ids.end.get();
    Some(bounds)
}

/// The value postings within `bounds` that the memtables hold.
pub(crate) fn value_mem_count(snap: &Snapshot, active: &Memtable, bounds: &Bounds) -> u64 {
    value_mem_items(snap, active, bounds, Order::Ascending).len() as u64
}

/// About how many value postings within `bounds` the runs hold.
pub(crate) fn estimate_value_runs(snap: &Snapshot, bounds: &Bounds) -> u64 {
    estimate_runs(snap, bounds, u64::MAX)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::codec::BlockBuilder;
    use proptest::prelude::*;

    proptest! {
        /// A bound taken as a number on a group's positions says what comparing the
        /// sort keys' bytes says, for bounds shorter than, as long as and longer than
        /// `group ++ position`.
        #[test]
        fn thresholds_compare_as_sort_keys(
            family in prop::sample::select(vec![codec::FAMILY_TYPE, codec::FAMILY_PRIMARY]),
            group in prop::collection::vec(0u8..3, 1..4),
            occ in -3i64..3,
            id in 0u64..4,
            tail in prop::collection::vec(prop_oneof![Just(0u8), Just(0x80), Just(0xff), 0u8..4], 0..20),
            prefix in 0usize..5,
        ) {
            let p = Post { id, occ, aux: 0 };
            let pb = codec::pos_bytes(family);
            let mut bound = group[..prefix.min(group.len())].to_vec();
            if prefix >= group.len() {
                bound.extend_from_slice(&tail);
            }
            let pos = codec::pos_of(family, &p);
            let at_or_above = cmp_concat(&group, &pos[..pb], &bound) != Ordering::Less;
            if let Some(t) = Threshold::of(&group, pb, &bound) {
                prop_assert_eq!(t.reached(pos_number(family, &p)), at_or_above);
            } else {
                // Outside the group, every position is on one side.
                for other in [Post { id: 0, occ: i64::MIN, aux: 0 }, Post { id: u64::MAX, occ: i64::MAX, aux: 0 }] {
                    let pos = codec::pos_of(family, &other);
                    prop_assert_eq!(cmp_concat(&group, &pos[..pb], &bound) != Ordering::Less, at_or_above);
                }
            }
        }
    }

    /// A by-person block of persons `0..persons`, three postings each.
    fn block(run: u64, persons: u64) -> (Vec<u8>, Vec<u8>) {
        let mut b = BlockBuilder::new(codec::FAMILY_PERSON);
        for person in 0..persons {
            let g = codec::person_group(person);
            b.open_group(&g);
            for i in 0..3 {
                let id = person * 10 + i;
                b.push(
                    &g,
                    &Post {
                        id,
                        occ: 1_000 + id as i64,
                        aux: 2,
                    },
                );
            }
        }
        b.finish(run)
    }

    fn postings(view: &BlockView<'_>) -> Vec<Post> {
        let mut out = Vec::new();
        for g in 0..view.groups() {
            view.decode_group(g, &mut out).unwrap();
        }
        out
    }

    /// The same bytes are checked once and then viewed from their remembered shape;
    /// other bytes, damaged bytes and the same bytes under another key are checked
    /// (and refused) as if nothing had been remembered.
    #[test]
    fn checked_blocks_are_found_by_their_bytes_only() {
        let checked = CheckedBlocks::new(1 << 20);
        let (key, value) = block(3, 50);
        let stored = sled::IVec::from(value.clone());
        let first = checked.view(&key, &stored).map_err(|b| b.what).unwrap();
        let expected = postings(&first);
        assert_eq!(expected.len(), 150);
        let addr = stored.as_ptr() as usize;
        let remembered = checked
            .shard(addr)
            .lock()
            .blocks
            .get(&addr)
            .map(|c| c.shape);
        assert_eq!(remembered, Some(first.shape()));
        let again = checked.view(&key, &stored).map_err(|b| b.what).unwrap();
        assert_eq!(again.shape(), first.shape());
        assert_eq!(postings(&again), expected);

        // A copy of the same bytes is another allocation: checked on its own.
        let copy = sled::IVec::from(value.clone());
        assert_ne!(copy.as_ptr(), stored.as_ptr());
        assert_eq!(
            checked.view(&key, &copy).map(|v| postings(&v)).ok(),
            Some(expected)
        );

        let mut damaged = value.clone();
        damaged[60] ^= 0x10;
        let damaged = sled::IVec::from(damaged);
        assert_eq!(
            checked.view(&key, &damaged).err().map(|b| b.what),
            Some("checksum mismatch")
        );
        // Still refused when asked again: a refused block is never remembered.
        assert_eq!(
            checked.view(&key, &damaged).err().map(|b| b.what),
            Some("checksum mismatch")
        );

        let mut moved = key.clone();
        moved[codec::RUN_PREFIX_BYTES] ^= 1;
        assert_eq!(
            checked.view(&moved, &stored).err().map(|b| b.what),
            Some("checksum mismatch")
        );
    }

    /// Lookups whose range starts before a run's first block, ends inside the block
    /// its seek finds, or runs on over the blocks after it (tiny blocks, persons whose
    /// postings cross block ends), both ways, equal the brute-force answer; asked twice
    /// (the second time from remembered blocks) they answer the same.
    #[test]
    fn lookups_across_block_ends_equal_brute_force() {
        use crate::{Index, IndexDoc, IndexOptions};
        let dir = tempfile::tempdir().unwrap();
        let options = IndexOptions {
            memtable_postings_max: 1_000_000,
            block_postings_max: 3,
            ..IndexOptions::default()
        };
        let (index, _) = Index::open(dir.path().join("index"), options).unwrap();
        // (person, type, occurred_at) of ids 0..; person 3 has runs of postings.
        let docs: Vec<(u64, u32, i64)> = (0..60u64)
            .map(|i| {
                let person = if i % 5 < 3 { 3 } else { i % 7 };
                (person, (i % 3) as u32, 1_000 + (i as i64 * 37) % 500)
            })
            .collect();
        for (half, range) in [(0, 0..30usize), (1, 30..60)] {
            let batch: Vec<IndexDoc<'_>> = docs[range.clone()]
                .iter()
                .zip(range)
                .map(|(&(person, type_id, occ), id)| IndexDoc {
                    id: ActivityId(id as u64),
                    person: PersonId(person),
                    type_id: TypeId(type_id),
                    occurred_at_ms: occ,
                    primary_key: None,
                    attributes: &[],
                })
                .collect();
            index.add(&batch).unwrap();
            // Two runs: every lookup merges or chains them.
            index.flush().unwrap();
            assert_eq!(index.snapshot().0.runs.len(), half + 1);
        }
        let ranges = [
            (0u64, 60u64),
            (0, 7),
            (4, 5),
            (7, 41),
            (31, 60),
            (59, 60),
            (12, 12),
        ];
        for _ in 0..2 {
            for person in 0..8u64 {
                for &(start, end) in &ranges {
                    let expected: Vec<u64> = (start..end)
                        .filter(|&id| docs[id as usize].0 == person)
                        .collect();
                    let range = IdRange {
                        start: ActivityId(start),
                        end: ActivityId(end),
                    };
                    for order in [Order::Ascending, Order::Descending] {
                        let mut got: Vec<u64> = index
                            .person(PersonId(person), range, order)
                            .map(|p| p.unwrap().id.get())
                            .collect();
                        if order == Order::Descending {
                            got.reverse();
                        }
                        assert_eq!(got, expected, "person {person} {range:?} {order:?}");
                    }
                }
            }
            for type_id in 0..3u32 {
                for (start_ms, end_ms) in
                    [(0, 2_000), (1_000, 1_001), (1_100, 1_300), (1_499, 1_500)]
                {
                    let mut expected: Vec<(i64, u64)> = docs
                        .iter()
                        .enumerate()
                        .filter(|(_, d)| d.1 == type_id && (start_ms..end_ms).contains(&d.2))
                        .map(|(id, d)| (d.2, id as u64))
                        .collect();
                    expected.sort_unstable();
                    let time = TimeRange { start_ms, end_ms };
                    let got: Vec<(i64, u64)> = index
                        .by_type(TypeId(type_id), time, IdRange::all(), Order::Ascending)
                        .map(|p| p.unwrap())
                        .map(|p| (p.occurred_at_ms, p.id.get()))
                        .collect();
                    assert_eq!(got, expected, "type {type_id} {time:?}");
                    let estimate = index.estimate_type(TypeId(type_id), time, IdRange::all());
                    assert!(estimate >= expected.len() as u64, "type {type_id} {time:?}");
                }
            }
        }
    }

    /// A shard holds at most its share of the cache's bytes, dropping the oldest.
    #[test]
    fn checked_shard_is_bounded() {
        let cap = 1 << 20;
        let mut shard = CheckedShard {
            cap,
            ..CheckedShard::default()
        };
        let (key, value) = block(1, 400);
        let view = BlockView::open(&key, &value).map_err(|b| b.what).unwrap();
        let fits = cap / value.len();
        let mut held = Vec::new();
        for _ in 0..fits + 5 {
            let v = sled::IVec::from(value.clone());
            let addr = v.as_ptr() as usize;
            remember(&mut shard, addr, v.clone(), &key, view.shape());
            held.push(v);
            assert!(shard.bytes <= cap);
            assert_eq!(shard.blocks.len(), shard.order.len());
        }
        assert_eq!(shard.blocks.len(), fits);
        // The oldest went first.
        assert!(!shard.blocks.contains_key(&(held[0].as_ptr() as usize)));
        assert!(shard
            .blocks
            .contains_key(&(held[fits + 4].as_ptr() as usize)));
        // Remembering the same address again replaces its entry.
        let last = held[fits + 4].clone();
        remember(
            &mut shard,
            last.as_ptr() as usize,
            last.clone(),
            &key,
            view.shape(),
        );
        assert_eq!(shard.blocks.len(), fits);
        assert_eq!(shard.order.len(), fits);
        // A value larger than the share is not held, and evicts nothing.
        let huge = sled::IVec::from(vec![0u8; cap + 1]);
        remember(
            &mut shard,
            huge.as_ptr() as usize,
            huge.clone(),
            &key,
            view.shape(),
        );
        assert!(!shard.blocks.contains_key(&(huge.as_ptr() as usize)));
        assert_eq!(shard.blocks.len(), fits);
    }
}
