//! The in-memory table of postings for ids from the checkpoint on, and its conversion
//! into immutable posting blocks.

use crate::codec::{self, TYPE_BLOCK_SPAN_MS_MAX};
use crate::{IndexDoc, PersonPosting, TypePosting, ValuePosting};
use actlog_model::{PersonId, TypeId};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A multiplicative hasher for integer keys: SipHash costs more than the rest of an add.
#[derive(Default, Clone, Copy, Debug)]
pub(crate) struct IntHasher(u64);

impl Hasher for IntHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0 ^ v)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(29);
    }
    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }
}

pub(crate) type IntMap<K, V> = HashMap<K, V, BuildHasherDefault<IntHasher>>;

/// Postings of a contiguous id range `[first_id, end_id)`, not yet in sled.
#[derive(Debug, Default)]
pub(crate) struct Memtable {
    pub first_id: u64,
    pub end_id: u64,
    pub postings: usize,
    pub persons: IntMap<PersonId, Vec<PersonPosting>>,
    pub types: IntMap<TypeId, Vec<TypePosting>>,
    /// Keyed by the value-family key prefix (family | type | [attr] | escaped value).
    /// A hash map: an ordered map cost several microseconds per document here (long
    /// shared key prefixes); range reads sort the few matching keys instead.
    pub values: IntMap<Vec<u8>, Vec<ValuePosting>>,
    scratch: Vec<u8>,
}

impl Memtable {
    pub fn new(first_id: u64) -> Self {
        Memtable {
            first_id,
            end_id: first_id,
            ..Default::default()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.end_id == self.first_id
    }

    /// Adds documents whose ids the caller has checked to continue `end_id`.
    pub fn add(&mut self, docs: &[IndexDoc<'_>]) {
        for d in docs {
            debug_assert_eq!(d.id.get(), self.end_id);
            self.persons
                .entry(d.person)
                .or_default()
                .push(PersonPosting {
                    id: d.id,
                    type_id: d.type_id,
                    occurred_at_ms: d.occurred_at_ms,
                });
            self.types.entry(d.type_id).or_default().push(TypePosting {
                id: d.id,
                person: d.person,
                occurred_at_ms: d.occurred_at_ms,
            });
            self.postings += 2;
            let vp = ValuePosting {
                id: d.id,
                occurred_at_ms: d.occurred_at_ms,
            };
            if let Some(k) = d.primary_key {
                self.scratch.clear();
                self.scratch.push(codec::FAMILY_PRIMARY);
                self.scratch
                    .extend_from_slice(&d.type_id.get().to_be_bytes());
                codec::escape_into(&mut self.scratch, k);
                self.push_value(vp);
            }
            for &(attr, k) in d.attributes {
                self.scratch.clear();
                self.scratch.push(codec::FAMILY_ATTRIBUTE);
                self.scratch
                    .extend_from_slice(&d.type_id.get().to_be_bytes());
                self.scratch.extend_from_slice(&attr.get().to_be_bytes());
                codec::escape_into(&mut self.scratch, k);
                self.push_value(vp);
            }
            self.end_id += 1;
        }
    }

    fn push_value(&mut self, vp: ValuePosting) {
        if let Some(v) = self.values.get_mut(self.scratch.as_slice()) {
            v.push(vp);
        } else {
            self.values.insert(self.scratch.clone(), vec![vp]);
        }
        self.postings += 1;
    }

    /// Cuts the memtable into posting blocks, calling `emit(key, value, postings)` for
    /// each. A block holds at most `block_postings_max` postings; a by-type block also
    /// spans at most [`TYPE_BLOCK_SPAN_MS_MAX`].
    pub fn blocks<E>(
        &self,
        block_postings_max: usize,
        mut emit: impl FnMut(&[u8], Vec<u8>, usize) -> Result<(), E>,
    ) -> Result<(), E> {
        let max = block_postings_max.max(1);
        for (&person, posts) in &self.persons {
            for chunk in posts.chunks(max) {
                let Some(first) = chunk.first() else { continue };
                let key = codec::person_key(person, first.id.get());
                let value = codec::encode_person_block(&key, chunk);
                emit(&key, value, chunk.len())?;
            }
        }
        let mut sorted: Vec<TypePosting> = Vec::new();
        for (&type_id, posts) in &self.types {
            sorted.clear();
            sorted.extend_from_slice(posts);
            sorted.sort_unstable_by_key(|p| (p.occurred_at_ms, p.id));
            let mut start = 0;
            while start < sorted.len() {
                let min_occ = sorted[start].occurred_at_ms;
                let mut end = start + 1;
                while end < sorted.len()
                    && end - start < max
                    && sorted[end].occurred_at_ms.saturating_sub(min_occ) <= TYPE_BLOCK_SPAN_MS_MAX
                {
                    end += 1;
                }
                let (key, value) = codec::encode_type_block(type_id, &sorted[start..end]);
                emit(&key, value, end - start)?;
                start = end;
            }
        }
        let mut key = Vec::new();
        for (prefix, posts) in &self.values {
            for chunk in posts.chunks(max) {
                let Some(first) = chunk.first() else { continue };
                key.clear();
                key.extend_from_slice(prefix);
                key.extend_from_slice(&first.id.get().to_be_bytes());
                let value = codec::encode_value_block(&key, chunk);
                emit(&key, value, chunk.len())?;
            }
        }
        Ok(())
    }
}
