//! The in-memory table of postings for ids from the checkpoint on: append-only vectors
//! of fixed-size entries, sorted once per family when a flush turns them into a run.
//!
//! Adding a document costs a few pushes and one hash lookup per value: the by-person and
//! by-type families share one 24-byte entry per document (the id is implicit in the
//! position), and each value posting is an 8-byte entry naming its group key by a small
//! number, so each distinct key is escaped and stored once and a flush sorts integers,
//! comparing key bytes only to rank the distinct keys (by a radix sort of their first
//! sixteen bytes, whole keys only where those tie). In a live table a person's documents
//! are chained newest to oldest, so a person lookup reads only theirs; other readers
//! scan the table linearly; it is bounded by `memtable_postings_max`. A bulk load's
//! tables are never read, only written as runs, so they keep no chains.
//!
//! A flush orders each family with a stable LSD radix sort of (key, document) pairs:
//! documents are appended in id order, so sorting by the group (and occurred_at) alone
//! leaves ties in id order, and the keys have few significant bits (persons, ranked
//! value keys, type and occurred_at relative to the table's minimum).

use crate::codec::{self, okey, Post, FAMILY_PERSON, FAMILY_PRIMARY};
use crate::IndexDoc;
// foldhash rather than std's SipHash: the add path hashes one key per value and one person
// per document, and SipHash was a tenth of the indexer's instructions. It is seeded per
// process, so crafted values cannot pick collisions in advance.
use foldhash::HashMap;
use std::hash::BuildHasher;

/// One document's by-person and by-type fields.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DocEntry {
    pub person: u64,
    pub occ: i64,
    pub type_id: u32,
}

/// One value posting: the number of its group key and the document it belongs to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ValueEntry {
    pub key: u32,
    pub doc: u32,
}

/// Postings of a contiguous id range `[first_id, end_id)`, not yet in sled.
#[derive(Debug, Default)]
pub(crate) struct Memtable {
    pub first_id: u64,
    pub end_id: u64,
    pub postings: usize,
    pub docs: Vec<DocEntry>,
    pub primary: Vec<ValueEntry>,
    pub attribute: Vec<ValueEntry>,
    /// Escaped group keys, each distinct key once.
    arena: Vec<u8>,
    /// Arena span of each key number.
    spans: Vec<(u32, u32)>,
    /// Key number of each `family | type | [attribute] | raw value`.
    numbers: KeyNumbers,
    /// Lookup key being built (kept to reuse its allocation).
    scratch: Vec<u8>,
    /// Each person's newest document, the head of a chain through `person_prev`.
    person_last: HashMap<u64, u32>,
    /// For each document, the person's document before it (`NO_DOC` for none), so a
    /// person's postings are read in O(their count), not by scanning the table.
    person_prev: Vec<u32>,
    /// Whether `person_last` and `person_prev` are kept. A bulk load's tables are only
    /// written, never read: the chains cost a hash insert per document and 4 bytes of
    /// fresh memory each, for nothing.
    unchained: bool,
    /// Whether [`reserve`](Self::reserve) was called (it is tried once per allocation).
    reserved: bool,
}

/// Key bytes a [`KeySlot`] holds itself: a hit on a key this short (a type, an attribute
/// and a value of up to 13 bytes) reads no memory beyond the hash table's own slot.
const KEY_HEAD_BYTES: usize = 20;

/// One value key in [`KeyNumbers`]: its number, its hash (for growing the table without
/// rehashing the key) and its first bytes.
#[derive(Debug, Clone, Copy)]
struct KeySlot {
    hash: u64,
    number: u32,
    len: u32,
    /// Where the whole key starts in `KeyNumbers::long_keys`, for keys past the head.
    long_start: u32,
    head: [u8; KEY_HEAD_BYTES],
}

/// A hash table from value key bytes to key numbers. A map with boxed keys followed a
/// pointer to compare every hit, and those cache misses were a quarter of the indexer's
/// time; here short keys compare inside the table's slot and only longer ones read the
/// contiguous `long_keys`.
#[derive(Default)]
struct KeyNumbers {
    table: hashbrown::HashTable<KeySlot>,
    long_keys: Vec<u8>,
    hasher: foldhash::fast::RandomState,
}

impl std::fmt::Debug for KeyNumbers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyNumbers")
            .field("keys", &self.table.len())
            .finish_non_exhaustive()
    }
}

impl KeyNumbers {
    /// The first bytes of `key`, zero-padded: compared as one fixed-size array (with the
    /// length compared apart), which compiles to a few vector compares, not a call.
    fn head_of(key: &[u8]) -> [u8; KEY_HEAD_BYTES] {
        let mut head = [0u8; KEY_HEAD_BYTES];
        let len = key.len().min(KEY_HEAD_BYTES);
        head[..len].copy_from_slice(&key[..len]);
        head
    }

    fn matches(&self, slot: &KeySlot, key: &[u8], head: &[u8; KEY_HEAD_BYTES]) -> bool {
        if slot.len as usize != key.len() || slot.head != *head {
            return false;
        }
        if key.len() <= KEY_HEAD_BYTES {
            return true;
        }
        let start = slot.long_start as usize;
        self.long_keys.get(start..start + key.len()) == Some(key)
    }

    /// Bytes held, about: the slots (with the table's spare capacity) and the long keys.
    fn bytes(&self) -> usize {
        self.table.capacity() * std::mem::size_of::<KeySlot>() + self.long_keys.len()
    }

    /// The number of `key`, or `None`.
    fn get(&self, key: &[u8]) -> Option<u32> {
        let hash = self.hasher.hash_one(key);
        let head = Self::head_of(key);
        self.table
            .find(hash, |slot| self.matches(slot, key, &head))
            .map(|slot| slot.number)
    }

    /// Forgets every key, keeping the allocations.
    fn clear(&mut self) {
        self.table.clear();
        self.long_keys.clear();
    }

    /// Records `key` (not present yet) as `number`.
    fn insert(&mut self, key: &[u8], number: u32) {
        debug_assert!(self.get(key).is_none());
        let hash = self.hasher.hash_one(key);
        let head = Self::head_of(key);
        let long_start = if key.len() > KEY_HEAD_BYTES {
            let start = self.long_keys.len();
            self.long_keys.extend_from_slice(key);
            start as u32
        } else {
            0
        };
        let slot = KeySlot {
            hash,
            number,
            len: key.len() as u32,
            long_start,
            head,
        };
        self.table.insert_unique(hash, slot, |s| s.hash);
    }
}

/// End of a person's chain of documents.
const NO_DOC: u32 = u32::MAX;

/// Postings a flush hands over at a time. A type's postings are a group of their own,
/// up to half a table's: gathered whole, the buffer grew by doubling to tens of
/// megabytes of fresh pages, copied at each step; pieces of this size stay in the cache.
pub(crate) const GROUP_PIECE_POSTINGS: usize = 4_096;

/// Digit width of the radix sort: 2,048 counters fit in L1.
const RADIX_BITS: u32 = 11;

/// Significant bits of `v`.
fn bits_of(v: u64) -> u32 {
    u64::BITS - v.leading_zeros()
}

/// The buffers a flush sorts a memtable's postings in, kept from one flush to the next
/// by their owner: allocated anew per flush, they were faulted in as fresh zeroed pages
/// by every flush, which cost the flush threads more than the sorting itself.
#[derive(Debug, Default)]
pub(crate) struct SortBuffers {
    /// (sort key, document) pairs of the family being written.
    order: Vec<(u64, u32)>,
    /// The other half of each radix pass.
    radix: Vec<(u64, u32)>,
    /// (a word of the first sixteen bytes, key number) of the distinct value keys.
    keyed: Vec<(u64, u32)>,
    /// Key numbers in key byte order, and the rank of each key number.
    by_bytes: Vec<u32>,
    rank_of: Vec<u32>,
    /// The postings of one group.
    posts: Vec<Post>,
}

/// Stable LSD radix sort of `v` by the low `key_bits` bits of each key, using `buf` (of
/// any contents, left unspecified) for the passes; digits where every key agrees are
/// skipped.
pub(crate) fn radix_sort(v: &mut Vec<(u64, u32)>, key_bits: u32, buf: &mut Vec<(u64, u32)>) {
    let mask = (1u64 << RADIX_BITS) - 1;
    let mut counts = [0usize; 1 << RADIX_BITS];
    let mut shift = 0;
    while shift < key_bits {
        counts.fill(0);
        for &(k, _) in v.iter() {
            counts[((k >> shift) & mask) as usize] += 1;
        }
        if counts.contains(&v.len()) {
            shift += RADIX_BITS;
            continue;
        }
        let mut sum = 0;
        for c in counts.iter_mut() {
            let n = *c;
            *c = sum;
            sum += n;
        }
        buf.clear();
        buf.resize(v.len(), (0, 0));
        for &e in v.iter() {
            let d = ((e.0 >> shift) & mask) as usize;
            buf[counts[d]] = e;
            counts[d] += 1;
        }
        std::mem::swap(v, buf);
        shift += RADIX_BITS;
    }
    debug_assert!(v.windows(2).all(|w| w[0].0 <= w[1].0));
}

impl Memtable {
    pub fn new(first_id: u64) -> Self {
        Memtable {
            first_id,
            end_id: first_id,
            ..Default::default()
        }
    }

    /// A table for a bulk load: it holds no person chains, so [`persons`](Self::persons)
    /// and [`person_docs`](Self::person_docs) find nothing in it; only
    /// [`groups`](Self::groups) reads it.
    pub fn unchained(first_id: u64) -> Self {
        Memtable {
            unchained: true,
            ..Memtable::new(first_id)
        }
    }

    /// Empties the table for ids from `first_id`, keeping its allocations: a bulk load
    /// fills one table after another, and growing each anew from nothing faulted in tens
    /// of megabytes of fresh zeroed pages per table.
    pub fn reset(&mut self, first_id: u64) {
        // Destructured so that a field added later cannot be forgotten here.
        let Memtable {
            first_id: first,
            end_id,
            postings,
            docs,
            primary,
            attribute,
            arena,
            spans,
            numbers,
            scratch,
            person_last,
            person_prev,
            unchained: _,
            reserved: _,
        } = self;
        *first = first_id;
        *end_id = first_id;
        *postings = 0;
        docs.clear();
        primary.clear();
        attribute.clear();
        arena.clear();
        spans.clear();
        numbers.clear();
        scratch.clear();
        person_last.clear();
        person_prev.clear();
    }

    /// Reserves the per-document and per-posting vectors for a table of `postings_max`
    /// postings, once: grown by doubling instead, each first table copied its vectors
    /// several times and faulted in fresh zeroed pages for twice their final size. Pages
    /// are faulted in only when written, so the part of the reservation a workload does
    /// not fill (a table holds at most `postings_max / 2` documents, and as many value
    /// postings as it has room for) costs address space, not memory. A reservation the
    /// allocator refuses is skipped: the vectors then grow as they fill.
    pub fn reserve(&mut self, postings_max: usize) {
        if self.reserved {
            return;
        }
        self.reserved = true;
        // Each document takes a by-person and a by-type posting; a primary posting at
        // most once per document.
        let docs = postings_max / 2;
        let grow = |len: usize, want: usize| want.saturating_sub(len);
        let _ = self.docs.try_reserve_exact(grow(self.docs.len(), docs));
        if !self.unchained {
            let _ = self
                .person_prev
                .try_reserve_exact(grow(self.person_prev.len(), docs));
        }
        let _ = self
            .primary
            .try_reserve_exact(grow(self.primary.len(), postings_max / 3));
        let _ = self
            .attribute
            .try_reserve_exact(grow(self.attribute.len(), postings_max));
    }

    /// Makes an empty table (new or [`reset`](Self::reset)) hold ids from `first_id`.
    pub fn rebase(&mut self, first_id: u64) {
        debug_assert!(self.docs.is_empty() && self.postings == 0);
        self.first_id = first_id;
        self.end_id = first_id;
    }

    pub fn is_empty(&self) -> bool {
        self.end_id == self.first_id
    }

    /// Bytes held by keys, about (for the memory bound).
    pub fn arena_bytes(&self) -> usize {
        self.arena.len()
            + self.spans.len() * std::mem::size_of::<(u32, u32)>()
            + self.numbers.bytes()
    }

    /// The number of the group key `prefix ++ escape(value)` of `family`, stored on
    /// first sight.
    fn number(&mut self, family: u8, prefix: &[u8], value: &[u8]) -> u32 {
        self.scratch.clear();
        self.scratch.push(family);
        self.scratch.extend_from_slice(prefix);
        self.scratch.extend_from_slice(value);
        if let Some(n) = self.numbers.get(&self.scratch) {
            return n;
        }
        let n = self.spans.len() as u32;
        let start = self.arena.len() as u32;
        self.arena.extend_from_slice(prefix);
        codec::escape_into(&mut self.arena, value);
        self.spans.push((start, self.arena.len() as u32));
        self.numbers.insert(&self.scratch, n);
        n
    }

    /// Adds documents whose ids the caller has checked to continue `end_id`.
    pub fn add(&mut self, docs: &[IndexDoc<'_>]) {
        self.docs.reserve(docs.len());
        for d in docs {
            debug_assert_eq!(d.id.get(), self.end_id);
            let doc = self.docs.len() as u32;
            let type_id = d.type_id.get();
            self.docs.push(DocEntry {
                person: d.person.get(),
                occ: d.occurred_at_ms,
                type_id,
            });
            if !self.unchained {
                let prev = self.person_last.insert(d.person.get(), doc);
                self.person_prev.push(prev.unwrap_or(NO_DOC));
            }
            self.postings += 2;
            if let Some(k) = d.primary_key {
                let key = self.number(FAMILY_PRIMARY, &type_id.to_be_bytes(), k);
                self.primary.push(ValueEntry { key, doc });
                self.postings += 1;
            }
            for &(attr, k) in d.attributes {
                let mut prefix = [0u8; 6];
                prefix[..4].copy_from_slice(&type_id.to_be_bytes());
                prefix[4..].copy_from_slice(&attr.get().to_be_bytes());
                let key = self.number(codec::FAMILY_ATTRIBUTE, &prefix, k);
                self.attribute.push(ValueEntry { key, doc });
                self.postings += 1;
            }
            self.end_id += 1;
        }
    }

    /// Every person with a document in the table, each once, in no order.
    pub fn persons(&self) -> impl Iterator<Item = u64> + '_ {
        self.person_last.keys().copied()
    }

    /// The documents of `person`, newest first.
    pub fn person_docs(&self, person: u64) -> impl Iterator<Item = u32> + '_ {
        let mut next = self.person_last.get(&person).copied().unwrap_or(NO_DOC);
        std::iter::from_fn(move || {
            if next == NO_DOC {
                return None;
            }
            let doc = next;
            next = self
                .person_prev
                .get(doc as usize)
                .copied()
                .unwrap_or(NO_DOC);
            debug_assert!(next == NO_DOC || next < doc);
            Some(doc)
        })
    }

    pub fn id_of(&self, doc: u32) -> u64 {
        self.first_id + u64::from(doc)
    }

    /// The escaped group key of a value posting.
    pub fn key(&self, v: &ValueEntry) -> &[u8] {
        self.key_of(v.key)
    }

    fn key_of(&self, n: u32) -> &[u8] {
        let (s, e) = self.spans.get(n as usize).copied().unwrap_or((0, 0));
        &self.arena[s as usize..e as usize]
    }

    pub fn values(&self, family: u8) -> &[ValueEntry] {
        if family == FAMILY_PRIMARY {
            &self.primary
        } else {
            &self.attribute
        }
    }

    /// The posting of document `doc` in `family`.
    pub fn post(&self, family: u8, doc: u32) -> Post {
        let d = self.docs[doc as usize];
        let aux = match family {
            FAMILY_PERSON => u64::from(d.type_id),
            codec::FAMILY_TYPE => d.person,
            _ => 0,
        };
        Post {
            id: self.id_of(doc),
            occ: d.occ,
            aux,
        }
    }

    /// Documents of `family` from `skip` on, sorted by (group, position), each with its
    /// sort key; groups are told apart by `group_of(key)`.
    fn order(&self, family: u8, skip: u32, b: &mut SortBuffers) {
        let docs = self.docs.get(skip as usize..).unwrap_or(&[]);
        let SortBuffers {
            order,
            radix,
            keyed,
            by_bytes,
            rank_of,
            posts: _,
        } = b;
        order.clear();
        match family {
            FAMILY_PERSON => {
                let min = docs.iter().map(|d| d.person).min().unwrap_or(0);
                let max = docs.iter().map(|d| d.person).max().unwrap_or(0);
                order.extend((skip..).zip(docs).map(|(i, d)| (d.person - min, i)));
                radix_sort(order, bits_of(max - min), radix);
                for e in order.iter_mut() {
                    e.0 += min;
                }
            }
            codec::FAMILY_TYPE => {
                let (mut tmin, mut tmax) = (u32::MAX, 0u32);
                let (mut omin, mut omax) = (u64::MAX, 0u64);
                for d in docs {
                    (tmin, tmax) = (tmin.min(d.type_id), tmax.max(d.type_id));
                    let o = okey(d.occ);
                    (omin, omax) = (omin.min(o), omax.max(o));
                }
                let (tb, ob) = (
                    bits_of(u64::from(tmax.wrapping_sub(tmin))),
                    bits_of(omax.wrapping_sub(omin)),
                );
                if tb + ob <= 64 {
                    order.extend((skip..).zip(docs).map(|(i, d)| {
                        let t = u64::from(d.type_id - tmin);
                        let o = okey(d.occ) - omin;
                        ((t << ob) | o, i)
                    }));
                    radix_sort(order, tb + ob, radix);
                } else {
                    // Times too far apart to pack beside the type: compare instead.
                    let mut wide: Vec<(u32, u64, u32)> = (skip..)
                        .zip(docs)
                        .map(|(i, d)| (d.type_id, okey(d.occ), i))
                        .collect();
                    wide.sort_unstable();
                    order.extend(wide.iter().map(|&(t, _, i)| (u64::from(t), i)));
                    return;
                }
                // Keep only the type in the key, which is what tells groups apart.
                for e in order.iter_mut() {
                    e.0 = (e.0 >> ob) + u64::from(tmin);
                }
            }
            _ => {
                // Rank the distinct keys once, then sort their ranks: sorting a million
                // postings by key bytes cost seconds.
                self.keys_in_order(keyed, radix, by_bytes);
                rank_of.clear();
                rank_of.resize(by_bytes.len(), 0);
                for (rank, &n) in by_bytes.iter().enumerate() {
                    rank_of[n as usize] = rank as u32;
                }
                order.extend(
                    self.values(family)
                        .iter()
                        .filter(|v| v.doc >= skip)
                        .map(|v| (u64::from(rank_of[v.key as usize]), v.doc)),
                );
                radix_sort(order, bits_of(by_bytes.len() as u64), radix);
                // Back from rank to key number, which `groups` names keys by.
                for e in order.iter_mut() {
                    e.0 = u64::from(by_bytes[e.0 as usize]);
                }
            }
        }
    }

    /// The numbers of the distinct value keys, in key byte order. Keys are many when
    /// values are (an id or a URL per activity), so they are radix-sorted by their first
    /// sixteen bytes and only keys that share those are compared whole. Eight bytes were
    /// too few: a key starts with its type (and attribute), so a value family's keys of
    /// one attribute shared their first six or eight bytes, and comparing them whole was
    /// most of the flush's ranking.
    fn keys_in_order(
        &self,
        keyed: &mut Vec<(u64, u32)>,
        radix: &mut Vec<(u64, u32)>,
        order: &mut Vec<u32>,
    ) {
        // Bytes `at..at + 8` of `k` as a big-endian number, zero-padded: a key that is a
        // prefix of another gets a word no larger than the other's.
        let word = |k: &[u8], at: usize| {
            let mut b = [0u8; 8];
            let tail = k.get(at..).unwrap_or_default();
            let n = tail.len().min(8);
            b[..n].copy_from_slice(&tail[..n]);
            u64::from_be_bytes(b)
        };
        // LSD: by the second word, then (stably) by the first.
        keyed.clear();
        keyed.extend((0..self.spans.len() as u32).map(|n| (word(self.key_of(n), 8), n)));
        radix_sort(keyed, u64::BITS, radix);
        for e in keyed.iter_mut() {
            e.0 = word(self.key_of(e.1), 0);
        }
        radix_sort(keyed, u64::BITS, radix);
        let mut start = 0;
        while start < keyed.len() {
            let (p, n) = keyed[start];
            let second = word(self.key_of(n), 8);
            // Ties are few and short: a scan, not a binary search over every key left.
            let mut end = start + 1;
            while keyed
                .get(end)
                .is_some_and(|e| e.0 == p && word(self.key_of(e.1), 8) == second)
            {
                end += 1;
            }
            if end - start > 1 {
                keyed[start..end].sort_unstable_by(|a, b| self.key_of(a.1).cmp(self.key_of(b.1)));
            }
            start = end;
        }
        order.clear();
        order.extend(keyed.iter().map(|&(_, n)| n));
        debug_assert!(order
            .windows(2)
            .all(|w| self.key_of(w[0]) <= self.key_of(w[1])));
    }

    /// Calls `emit(group, postings)` for every group of `family`, in (group, position)
    /// order, skipping ids below `floor`; sorts in `buffers`. A group's postings come in
    /// pieces of at most [`GROUP_PIECE_POSTINGS`]: consecutive calls with the same group
    /// continue it.
    pub fn groups<E>(
        &self,
        family: u8,
        floor: u64,
        buffers: &mut SortBuffers,
        mut emit: impl FnMut(&[u8], &[Post]) -> Result<(), E>,
    ) -> Result<(), E> {
        let skip = floor
            .saturating_sub(self.first_id)
            .min(self.docs.len() as u64) as u32;
        self.order(family, skip, buffers);
        let SortBuffers { order, posts, .. } = buffers;
        let mut fixed = [0u8; 8];
        for chunk in order.chunk_by(|a, b| a.0 == b.0) {
            let g = chunk[0].0;
            let key: &[u8] = match family {
                FAMILY_PERSON => {
                    fixed = codec::person_group(g);
                    &fixed
                }
                codec::FAMILY_TYPE => {
                    fixed[..4].copy_from_slice(&codec::type_group(g as u32));
                    &fixed[..4]
                }
                _ => self.key_of(g as u32),
            };
            for piece in chunk.chunks(GROUP_PIECE_POSTINGS) {
                posts.clear();
                posts.extend(piece.iter().map(|&(_, i)| self.post(family, i)));
                emit(key, posts)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every posting of `m`, family by family, and each person's documents.
    type Dump = (Vec<(u8, Vec<u8>, Vec<Post>)>, Vec<Vec<u32>>, usize);

    fn dump(m: &Memtable, persons: u64) -> Dump {
        let mut out = Vec::new();
        for family in codec::FAMILIES {
            m.groups(
                family,
                0,
                &mut SortBuffers::default(),
                |g, posts| -> Result<(), ()> {
                    out.push((family, g.to_vec(), posts.to_vec()));
                    Ok(())
                },
            )
            .unwrap();
        }
        let by_person = (0..persons).map(|p| m.person_docs(p).collect()).collect();
        (out, by_person, m.postings)
    }

    /// A thousand documents of three types, every other one with an attribute value,
    /// with the person and time of document `i` given by `person` and `at`.
    fn thousand_docs<'a>(
        attrs: &'a [(actlog_model::AttributeId, &'a [u8])],
        person: impl Fn(u64) -> u64,
        at: impl Fn(u64) -> i64,
    ) -> Vec<IndexDoc<'a>> {
        (0..1_000u64)
            .map(|i| IndexDoc {
                id: actlog_model::ActivityId(i),
                person: actlog_model::PersonId(person(i)),
                type_id: actlog_model::TypeId(1 + (i % 3) as u32),
                occurred_at_ms: at(i),
                primary_key: Some(if i % 2 == 0 { b"even" } else { b"odd" }),
                attributes: &attrs[..(i % 2) as usize],
            })
            .collect()
    }

    #[test]
    fn a_reserved_table_holds_what_an_unreserved_one_does() {
        let attrs = [(actlog_model::AttributeId(3), b"v".as_slice())];
        let docs = thousand_docs(&attrs, |i| i % 7, |i| i as i64);
        let mut plain = Memtable::new(0);
        plain.add(&docs);
        // Reserved for fewer postings than added (the vectors grow past it), for more,
        // and for more than memory (the allocator refuses; nothing panics).
        for postings_max in [100, 10_000, usize::MAX] {
            let mut reserved = Memtable::new(0);
            reserved.reserve(postings_max);
            if postings_max == 10_000 {
                assert!(reserved.docs.capacity() >= 5_000);
                assert!(reserved.attribute.capacity() >= 10_000);
            }
            reserved.add(&docs[..400]);
            reserved.reserve(postings_max);
            reserved.add(&docs[400..]);
            assert_eq!(dump(&reserved, 7), dump(&plain, 7), "{postings_max}");
        }
    }

    #[test]
    fn an_unchained_table_writes_what_a_chained_one_does() {
        let attrs = [(actlog_model::AttributeId(3), b"v".as_slice())];
        let docs = thousand_docs(
            &attrs,
            |i| i * 7 % 13,
            |i| 1_000 * i as i64 - (i % 5) as i64 * 3_000,
        );
        let mut chained = Memtable::new(0);
        chained.add(&docs);
        let mut unchained = Memtable::unchained(0);
        unchained.reserve(10_000);
        unchained.add(&docs[..500]);
        unchained.reset(500);
        unchained.add(&docs[500..]);
        let mut again = Memtable::new(500);
        again.add(&docs[500..]);
        let (groups, persons, postings) = dump(&again, 13);
        assert!(persons.iter().all(|p| !p.is_empty()));
        let (u_groups, u_persons, u_postings) = dump(&unchained, 13);
        assert_eq!((u_groups, u_postings), (groups, postings));
        assert!(u_persons.iter().all(Vec::is_empty));
        assert!(unchained.person_prev.capacity() == 0 && unchained.persons().next().is_none());
        assert_eq!(dump(&chained, 13).2, 3_500);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(100))]

        #[test]
        fn key_numbers_agree_with_a_map(keys in prop::collection::vec(
            prop::collection::vec(prop_oneof![Just(0u8), Just(1u8), any::<u8>()], 0..40), 0..300)
        ) {
            // Short and long keys, keys sharing their first 20 bytes, and keys that differ
            // only by trailing zero bytes (equal once padded to the head).
            let mut numbers = KeyNumbers::default();
            let mut oracle: std::collections::HashMap<Vec<u8>, u32> = std::collections::HashMap::new();
            for key in &keys {
                for probe in [key.clone(), [key.as_slice(), &[0u8]].concat()] {
                    let got = numbers.get(&probe);
                    prop_assert_eq!(got, oracle.get(&probe).copied());
                    if got.is_none() {
                        let n = oracle.len() as u32;
                        numbers.insert(&probe, n);
                        oracle.insert(probe, n);
                    }
                }
            }
            for (key, &n) in &oracle {
                prop_assert_eq!(numbers.get(key), Some(n));
            }
        }

        #[test]
        fn a_reset_table_equals_a_new_one(
            first in prop::collection::vec((0u64..50, 0u32..4, 0u8..6), 1..200),
            second in prop::collection::vec((0u64..50, 0u32..4, 0u8..6), 1..200),
        ) {
            // Everything a reset table holds comes from the documents added after it.
            let values: Vec<Vec<u8>> = (0..6u8).map(|v| vec![v; usize::from(v) * 5]).collect();
            let fill = |m: &mut Memtable, docs: &[(u64, u32, u8)]| {
                let attrs: Vec<[(actlog_model::AttributeId, &[u8]); 1]> = docs
                    .iter()
                    .map(|d| [(actlog_model::AttributeId(7), values[usize::from(d.2)].as_slice())])
                    .collect();
                let start = m.end_id;
                let docs: Vec<IndexDoc<'_>> = docs
                    .iter()
                    .zip(&attrs)
                    .enumerate()
                    .map(|(i, (d, a))| IndexDoc {
                        id: actlog_model::ActivityId(start + i as u64),
                        person: actlog_model::PersonId(d.0),
                        type_id: actlog_model::TypeId(d.1),
                        occurred_at_ms: 1_000 * (start + i as u64) as i64,
                        primary_key: Some(values[usize::from(d.2)].as_slice()),
                        attributes: a,
                    })
                    .collect();
                m.add(&docs);
            };
            let dump = |m: &Memtable| {
                let mut out: Vec<(u8, Vec<u8>, Vec<Post>)> = Vec::new();
                for family in codec::FAMILIES {
                    m.groups(family, 0, &mut SortBuffers::default(), |g, posts| -> Result<(), ()> {
                        out.push((family, g.to_vec(), posts.to_vec()));
                        Ok(())
                    }).unwrap();
                }
                let persons: Vec<Vec<u32>> = (0..50).map(|p| m.person_docs(p).collect()).collect();
                (out, persons, m.postings, m.first_id, m.end_id)
            };
            let mut reused = Memtable::new(0);
            fill(&mut reused, &first);
            reused.reset(first.len() as u64);
            fill(&mut reused, &second);
            let mut fresh = Memtable::new(first.len() as u64);
            fill(&mut fresh, &second);
            prop_assert_eq!(dump(&reused), dump(&fresh));
        }

        #[test]
        fn keys_come_in_byte_order(
            values in prop::collection::vec(
                (0usize..4, prop::collection::vec(prop_oneof![Just(0u8), Just(b'a'), Just(b'b'), Just(0xff)], 0..14)),
                0..300,
            ),
        ) {
            // Values under shared prefixes of 0 to 19 bytes, so that many keys agree on
            // their first eight or sixteen bytes and some are shorter than that.
            let prefixes: [&[u8]; 4] = [b"", b"webinar-", b"webinar-2026", b"webinar-2026-11-29-"];
            let mut m = Memtable::new(0);
            for (p, tail) in &values {
                let value = [prefixes[*p], tail.as_slice()].concat();
                m.number(FAMILY_PRIMARY, b"t", &value);
            }
            let (mut order, mut keyed, mut radix) = (Vec::new(), Vec::new(), Vec::new());
            m.keys_in_order(&mut keyed, &mut radix, &mut order);
            let mut expected: Vec<u32> = (0..m.spans.len() as u32).collect();
            expected.sort_by(|a, b| m.key_of(*a).cmp(m.key_of(*b)));
            prop_assert_eq!(order, expected);
        }

        #[test]
        fn radix_sort_is_a_stable_sort(keys in prop::collection::vec(any::<u64>(), 0..3000), bits in 0u32..=64) {
            let mask = if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 };
            let mut v: Vec<(u64, u32)> = keys.iter().enumerate().map(|(i, &k)| (k & mask, i as u32)).collect();
            let mut expected = v.clone();
            expected.sort_by_key(|e| e.0);
            // The scratch buffer's contents must not matter.
            let mut buf = vec![(u64::MAX, u32::MAX); keys.len() / 2];
            radix_sort(&mut v, bits, &mut buf);
            prop_assert_eq!(v, expected);
        }
    }
}
