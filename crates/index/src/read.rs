//! Lazy readers: each merges sled blocks (ids below the snapshot's checkpoint) with the
//! memtables (ids from it), and drops ids below the floor.

use crate::codec::{self, occ_key, TYPE_BLOCK_SPAN_MS_MAX};
use crate::error::{Error, Result};
use crate::memtable::Memtable;
use crate::{
    IdRange, KeyRange, Order, PersonPosting, Snapshot, TimeRange, TypePosting, ValuePosting,
};
use actlog_model::{PersonId, TypeId};
use std::collections::BinaryHeap;
use std::ops::Bound;

type Kv = (sled::IVec, sled::IVec);

/// sled's iterator, which has no `Debug`.
struct SledIter(sled::Iter);

impl std::fmt::Debug for SledIter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SledIter")
    }
}

fn next_kv(iter: &mut SledIter, order: Order) -> Option<Result<Kv>> {
    let r = match order {
        Order::Ascending => iter.0.next(),
        Order::Descending => iter.0.next_back(),
    };
    r.map(|r| r.map_err(Error::from))
}

/// Memtables of a snapshot, oldest first.
fn memtables<'m>(snap: &'m Snapshot, active: &'m Memtable) -> impl Iterator<Item = &'m Memtable> {
    snap.frozen
        .as_deref()
        .into_iter()
        .chain(std::iter::once(active))
}

// ---- by person -----------------------------------------------------------------------

/// Lazy iterator over a person's postings; see [`Index::person`](crate::Index::person).
#[derive(Debug)]
pub struct PersonPostings {
    tree: sled::Tree,
    person: PersonId,
    lo: u64,
    sled_hi: u64,
    order: Order,
    /// Memtable postings, arranged so that `pop` yields them in order.
    mem: Vec<PersonPosting>,
    iter: Option<SledIter>,
    sled_done: bool,
    /// The current block, arranged so that `pop` yields it in order.
    buf: Vec<PersonPosting>,
    scratch: Vec<PersonPosting>,
    failed: bool,
}

impl PersonPostings {
    pub(crate) fn new(
        snap: Snapshot,
        active: &Memtable,
        person: PersonId,
        range: IdRange,
        order: Order,
    ) -> Self {
        let lo = range.start.get().max(snap.floor);
        let hi = range.end.get();
        let mut mem: Vec<PersonPosting> = memtables(&snap, active)
            .filter_map(|m| m.persons.get(&person))
            .flat_map(|v| v.iter())
            .filter(|p| p.id.get() >= lo && p.id.get() < hi)
            .copied()
            .collect();
        if order == Order::Ascending {
            mem.reverse();
        }
        PersonPostings {
            person,
            lo,
            sled_hi: hi.min(snap.checkpoint),
            order,
            mem,
            iter: None,
            sled_done: lo >= hi.min(snap.checkpoint),
            buf: Vec::new(),
            scratch: Vec::new(),
            failed: false,
            tree: snap.tree,
        }
    }

    fn open_iter(&self) -> Result<SledIter> {
        let end = codec::person_key(self.person, self.sled_hi);
        let start = match self.order {
            Order::Descending => codec::person_key(self.person, 0).to_vec(),
            Order::Ascending => {
                // The block holding `lo` starts at or before it.
                let lo_key = codec::person_key(self.person, self.lo);
                let from = codec::person_key(self.person, 0);
                match self.tree.range(from..=lo_key).next_back() {
                    Some(r) => r?.0.to_vec(),
                    None => lo_key.to_vec(),
                }
            }
        };
        Ok(SledIter(self.tree.range(start..end.to_vec())))
    }

    /// Loads the next block into `buf`; `false` when sled has no more.
    fn load(&mut self) -> Result<bool> {
        if self.iter.is_none() {
            self.iter = Some(self.open_iter()?);
        }
        let Some(iter) = self.iter.as_mut() else {
            return Ok(false);
        };
        let Some(kv) = next_kv(iter, self.order) else {
            return Ok(false);
        };
        let (k, v) = kv?;
        self.scratch.clear();
        codec::decode_person_block(&k, &v, &mut self.scratch)?;
        let (lo, hi) = (self.lo, self.sled_hi);
        self.buf.extend(
            self.scratch
                .iter()
                .filter(|p| p.id.get() >= lo && p.id.get() < hi),
        );
        if self.order == Order::Ascending {
            self.buf.reverse();
        } else if codec::key_first_id(&k).is_some_and(|f| f <= lo) {
            // Earlier blocks hold only smaller ids.
            self.sled_done = true;
        }
        Ok(true)
    }
}

impl Iterator for PersonPostings {
    type Item = Result<PersonPosting>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        if self.order == Order::Descending {
            if let Some(p) = self.mem.pop() {
                return Some(Ok(p));
            }
        }
        loop {
            if let Some(p) = self.buf.pop() {
                return Some(Ok(p));
            }
            if self.sled_done {
                return self.mem.pop().map(Ok);
            }
            match self.load() {
                Ok(true) => {}
                Ok(false) => self.sled_done = true,
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

// ---- by type -------------------------------------------------------------------------

fn okey(occ: i64) -> u64 {
    u64::from_be_bytes(occ_key(occ))
}

/// Lazy k-way merge of the by-type blocks that overlap a time range; see
/// [`Index::by_type`](crate::Index::by_type).
#[derive(Debug)]
pub struct TypePostings {
    tree: sled::Tree,
    type_id: TypeId,
    start_ms: i64,
    end_ms: i64,
    floor: u64,
    checkpoint: u64,
    order: Order,
    iter: Option<SledIter>,
    sled_done: bool,
    /// Peeked next block: its min occurred_at, key and value.
    next_block: Option<(i64, Kv)>,
    /// Open blocks, each arranged so that `pop` yields its next posting.
    slots: Vec<Vec<TypePosting>>,
    free_slots: Vec<usize>,
    /// (order key, id key, slot): the max is the next posting to emit.
    heap: BinaryHeap<(u64, u64, usize)>,
    scratch: Vec<TypePosting>,
    failed: bool,
}

impl TypePostings {
    pub(crate) fn new(
        snap: Snapshot,
        active: &Memtable,
        type_id: TypeId,
        time: TimeRange,
        order: Order,
    ) -> Self {
        let (a, b, floor) = (time.start_ms, time.end_ms, snap.floor);
        let mut mem: Vec<TypePosting> = memtables(&snap, active)
            .filter_map(|m| m.types.get(&type_id))
            .flat_map(|v| v.iter())
            .filter(|p| p.occurred_at_ms >= a && p.occurred_at_ms < b && p.id.get() >= floor)
            .copied()
            .collect();
        mem.sort_unstable_by_key(|p| (p.occurred_at_ms, p.id));
        let mut this = TypePostings {
            type_id,
            start_ms: a,
            end_ms: b,
            floor,
            checkpoint: snap.checkpoint,
            order,
            iter: None,
            sled_done: a >= b || floor >= snap.checkpoint,
            next_block: None,
            slots: Vec::new(),
            free_slots: Vec::new(),
            heap: BinaryHeap::new(),
            scratch: Vec::new(),
            failed: false,
            tree: snap.tree,
        };
        this.add_slot(mem);
        this
    }

    fn heap_key(&self, p: &TypePosting) -> (u64, u64) {
        match self.order {
            Order::Ascending => (u64::MAX - okey(p.occurred_at_ms), u64::MAX - p.id.get()),
            Order::Descending => (okey(p.occurred_at_ms), p.id.get()),
        }
    }

    fn occ_of(&self, k: u64) -> i64 {
        let o = match self.order {
            Order::Ascending => u64::MAX - k,
            Order::Descending => k,
        };
        codec::occ_from_key(o.to_be_bytes())
    }

    /// `postings` sorted ascending by (occurred_at, id).
    fn add_slot(&mut self, mut postings: Vec<TypePosting>) {
        if postings.is_empty() {
            return;
        }
        if self.order == Order::Ascending {
            postings.reverse();
        }
        let Some(top) = postings.last().copied() else {
            return;
        };
        let (k1, k2) = self.heap_key(&top);
        let slot = match self.free_slots.pop() {
            Some(s) => {
                self.slots[s] = postings;
                s
            }
            None => {
                self.slots.push(postings);
                self.slots.len() - 1
            }
        };
        self.heap.push((k1, k2, slot));
    }

    fn peek_block(&mut self) -> Result<()> {
        if self.next_block.is_some() || self.sled_done {
            return Ok(());
        }
        if self.iter.is_none() {
            let from = codec::type_key(
                self.type_id,
                self.start_ms.saturating_sub(TYPE_BLOCK_SPAN_MS_MAX),
                0,
            );
            let to = codec::type_key(self.type_id, self.end_ms, 0);
            self.iter = Some(SledIter(self.tree.range(from..to)));
        }
        let Some(iter) = self.iter.as_mut() else {
            return Ok(());
        };
        match next_kv(iter, self.order) {
            None => self.sled_done = true,
            Some(kv) => {
                let (k, v) = kv?;
                let (min_occ, _) = codec::type_key_fields(&k).ok_or_else(|| {
                    codec::corrupted(
                        &k,
                        codec::Bad {
                            position: 0,
                            what: "malformed key",
                        },
                    )
                })?;
                if self.order == Order::Descending
                    && min_occ.saturating_add(TYPE_BLOCK_SPAN_MS_MAX) < self.start_ms
                {
                    self.sled_done = true;
                } else {
                    self.next_block = Some((min_occ, (k, v)));
                }
            }
        }
        Ok(())
    }

    fn load_block(&mut self, (k, v): Kv) -> Result<()> {
        self.scratch.clear();
        codec::decode_type_block(&k, &v, &mut self.scratch)?;
        let (a, b, lo, hi) = (self.start_ms, self.end_ms, self.floor, self.checkpoint);
        let postings: Vec<TypePosting> = self
            .scratch
            .iter()
            .filter(|p| {
                p.occurred_at_ms >= a && p.occurred_at_ms < b && p.id.get() >= lo && p.id.get() < hi
            })
            .copied()
            .collect();
        self.add_slot(postings);
        Ok(())
    }

    fn step(&mut self) -> Result<Option<TypePosting>> {
        loop {
            self.peek_block()?;
            if let Some((min_occ, _)) = &self.next_block {
                let min_occ = *min_occ;
                let must_load = match self.heap.peek() {
                    None => true,
                    Some(&(k1, _, _)) => {
                        let occ = self.occ_of(k1);
                        match self.order {
                            // The next block may hold postings at or after min_occ.
                            Order::Ascending => occ >= min_occ,
                            // The next block may hold postings up to min_occ + span.
                            Order::Descending => {
                                occ <= min_occ.saturating_add(TYPE_BLOCK_SPAN_MS_MAX)
                            }
                        }
                    }
                };
                if must_load {
                    if let Some((_, kv)) = self.next_block.take() {
                        self.load_block(kv)?;
                    }
                    continue;
                }
            }
            let Some((_, _, slot)) = self.heap.pop() else {
                return Ok(None);
            };
            let Some(p) = self.slots[slot].pop() else {
                continue;
            };
            if let Some(next) = self.slots[slot].last().copied() {
                let (k1, k2) = self.heap_key(&next);
                self.heap.push((k1, k2, slot));
            } else {
                self.free_slots.push(slot);
            }
            return Ok(Some(p));
        }
    }
}

impl Iterator for TypePostings {
    type Item = Result<TypePosting>;

    fn next(&mut self) -> Option<Self::Item> {
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

// ---- by value ------------------------------------------------------------------------

/// Sled-key bounds `[lo, hi)` of a value key range under `prefix`; `None` if empty.
fn value_bounds(prefix: &[u8], key: KeyRange<'_>) -> Option<(Vec<u8>, Option<Vec<u8>>)> {
    let (start, end) = match key {
        KeyRange::Exact(k) => (Bound::Included(k), Bound::Included(k)),
        KeyRange::Range { start, end } => (start, end),
    };
    let with = |v: &[u8], tail: bool| {
        let mut k = prefix.to_vec();
        codec::escape_into(&mut k, v);
        if tail {
            // Greater than every id suffix of this value, smaller than the next value.
            k.extend_from_slice(&[0xff; codec::ID_BYTES + 1]);
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
    Some((lo, hi))
}

fn value_groups(
    snap: &Snapshot,
    active: &Memtable,
    exact: Option<&[u8]>,
    lo: &[u8],
    hi: Option<&[u8]>,
) -> Vec<(Vec<u8>, Vec<ValuePosting>)> {
    let mut groups: Vec<(Vec<u8>, Vec<ValuePosting>)> = Vec::new();
    for m in memtables(snap, active) {
        let found: Vec<(&Vec<u8>, &Vec<ValuePosting>)> = match exact {
            Some(k) => m.values.get_key_value(k).into_iter().collect(),
            None => m
                .values
                .iter()
                .filter(|(k, _)| k.as_slice() >= lo && hi.is_none_or(|h| k.as_slice() < h))
                .collect(),
        };
        for (k, v) in found {
            let posts = v.iter().filter(|p| p.id.get() >= snap.floor).copied();
            match groups.iter_mut().find(|(g, _)| g == k) {
                Some((_, g)) => g.extend(posts),
                None => groups.push((k.clone(), posts.collect())),
            }
        }
    }
    groups.retain(|(_, v)| !v.is_empty());
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    groups
}

/// The memtable key of an exact value lookup.
fn exact_key(prefix: &[u8], key: KeyRange<'_>) -> Option<Vec<u8>> {
    match key {
        KeyRange::Exact(v) => {
            let mut k = prefix.to_vec();
            codec::escape_into(&mut k, v);
            Some(k)
        }
        KeyRange::Range { .. } => None,
    }
}

/// Lazy iterator over a by-primary or by-attribute range, in (value key, id) order; see
/// [`Index::by_primary`](crate::Index::by_primary).
#[derive(Debug)]
pub struct ValuePostings {
    iter: Option<SledIter>,
    floor: u64,
    checkpoint: u64,
    order: Order,
    /// Memtable groups (value-key prefix, postings ascending), arranged so `pop` yields
    /// the next group.
    mem: Vec<(Vec<u8>, Vec<ValuePosting>)>,
    pending: Option<Kv>,
    buf: Vec<ValuePosting>,
    scratch: Vec<ValuePosting>,
    failed: bool,
}

impl ValuePostings {
    pub(crate) fn new(
        snap: Snapshot,
        active: &Memtable,
        prefix: Vec<u8>,
        key: KeyRange<'_>,
        order: Order,
    ) -> Self {
        let mut this = ValuePostings {
            iter: None,
            floor: snap.floor,
            checkpoint: snap.checkpoint,
            order,
            mem: Vec::new(),
            pending: None,
            buf: Vec::new(),
            scratch: Vec::new(),
            failed: false,
        };
        if let Some((lo, hi)) = value_bounds(&prefix, key) {
            let exact = exact_key(&prefix, key);
            this.mem = value_groups(&snap, active, exact.as_deref(), &lo, hi.as_deref());
            if order == Order::Ascending {
                this.mem.reverse();
            }
            if snap.floor < snap.checkpoint {
                this.iter = Some(SledIter(match hi {
                    Some(hi) => snap.tree.range(lo..hi),
                    None => snap.tree.range(lo..),
                }));
            }
        }
        this
    }

    fn step(&mut self) -> Result<Option<ValuePosting>> {
        loop {
            if let Some(p) = self.buf.pop() {
                return Ok(Some(p));
            }
            if self.pending.is_none() {
                if let Some(iter) = self.iter.as_mut() {
                    match next_kv(iter, self.order) {
                        Some(kv) => self.pending = Some(kv?),
                        None => self.iter = None,
                    }
                }
            }
            let take_mem = match (&self.pending, self.mem.last()) {
                (None, None) => return Ok(None),
                (None, Some(_)) => true,
                (Some(_), None) => false,
                (Some((k, _)), Some((g, _))) => {
                    let kp = &k[..k.len().saturating_sub(codec::ID_BYTES)];
                    match self.order {
                        // Equal values: sled (smaller ids) first going up, memory first going down.
                        Order::Ascending => g.as_slice() < kp,
                        Order::Descending => g.as_slice() >= kp,
                    }
                }
            };
            if take_mem {
                if let Some((_, mut posts)) = self.mem.pop() {
                    if self.order == Order::Ascending {
                        posts.reverse();
                    }
                    self.buf = posts;
                }
            } else if let Some((k, v)) = self.pending.take() {
                self.scratch.clear();
                codec::decode_value_block(&k, &v, &mut self.scratch)?;
                let (lo, hi) = (self.floor, self.checkpoint);
                self.buf.extend(
                    self.scratch
                        .iter()
                        .filter(|p| p.id.get() >= lo && p.id.get() < hi),
                );
                if self.order == Order::Ascending {
                    self.buf.reverse();
                }
            }
        }
    }
}

impl Iterator for ValuePostings {
    type Item = Result<ValuePosting>;

    fn next(&mut self) -> Option<Self::Item> {
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

// ---- estimates -----------------------------------------------------------------------

fn header_count(k: &[u8], v: &[u8]) -> u64 {
    // A damaged block counts as empty here; reads and verify() report it.
    codec::block_header(k, v).map_or(0, |h| h.count)
}

pub(crate) fn estimate_person(snap: &Snapshot, active: &Memtable, person: PersonId) -> u64 {
    let from = codec::person_key(person, snap.floor.min(snap.checkpoint));
    let to = codec::person_key(person, snap.checkpoint);
    let mut n: u64 = snap
        .tree
        .range(from..to)
        .filter_map(|r| r.ok())
        .map(|(k, v)| header_count(&k, &v))
        .sum();
    // A block starting below the floor may still hold postings above it.
    if let Some(Ok((k, v))) = snap
        .tree
        .range(codec::person_key(person, 0)..from)
        .next_back()
    {
        n += header_count(&k, &v);
    }
    n + memtables(snap, active)
        .filter_map(|m| m.persons.get(&person))
        .map(|v| v.len() as u64)
        .sum::<u64>()
}

pub(crate) fn estimate_type(
    snap: &Snapshot,
    active: &Memtable,
    type_id: TypeId,
    time: TimeRange,
) -> u64 {
    if time.start_ms >= time.end_ms {
        return 0;
    }
    let from = codec::type_key(
        type_id,
        time.start_ms.saturating_sub(TYPE_BLOCK_SPAN_MS_MAX),
        0,
    );
    let to = codec::type_key(type_id, time.end_ms, 0);
    let mut n = 0;
    for (k, v) in snap.tree.range(from..to).filter_map(|r| r.ok()) {
        if let Ok(h) = codec::block_header(&k, &v) {
            if h.max_occ >= time.start_ms {
                n += h.count;
            }
        }
    }
    n + memtables(snap, active)
        .filter_map(|m| m.types.get(&type_id))
        .flat_map(|v| v.iter())
        .filter(|p| p.occurred_at_ms >= time.start_ms && p.occurred_at_ms < time.end_ms)
        .count() as u64
}

pub(crate) fn estimate_values(
    snap: &Snapshot,
    active: &Memtable,
    prefix: Vec<u8>,
    key: KeyRange<'_>,
) -> u64 {
    let Some((lo, hi)) = value_bounds(&prefix, key) else {
        return 0;
    };
    let exact = exact_key(&prefix, key);
    let mem: u64 = value_groups(snap, active, exact.as_deref(), &lo, hi.as_deref())
        .iter()
        .map(|(_, v)| v.len() as u64)
        .sum();
    let iter = match hi {
        Some(hi) => snap.tree.range(lo..hi),
        None => snap.tree.range(lo..),
    };
    mem + iter
        .filter_map(|r| r.ok())
        .map(|(k, v)| header_count(&k, &v))
        .sum::<u64>()
}
