//! The in-memory table of postings for ids from the checkpoint on: append-only vectors
//! of fixed-size entries, sorted once per family when a flush turns them into a run.
//!
//! Adding a document costs a few pushes and no lookup in any map: the by-person and
//! by-type families share one 24-byte entry per document (the id is implicit in the
//! position), and each value posting is a 12-byte entry pointing at its escaped key in
//! an arena. Readers scan the table linearly; it is bounded by
//! `memtable_postings_max`.

use crate::codec::{self, okey, Post, FAMILY_PERSON, FAMILY_PRIMARY};
use crate::IndexDoc;
use std::collections::HashMap;

/// One document's by-person and by-type fields.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DocEntry {
    pub person: u64,
    pub occ: i64,
    pub type_id: u32,
}

/// One value posting: its escaped group key in the arena and the document it belongs to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ValueEntry {
    pub key_start: u32,
    pub key_end: u32,
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
    pub arena: Vec<u8>,
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

    /// Bytes held, about (for the memory bound).
    pub fn arena_bytes(&self) -> usize {
        self.arena.len()
    }

    /// Adds documents whose ids the caller has checked to continue `end_id`.
    pub fn add(&mut self, docs: &[IndexDoc<'_>]) {
        self.docs.reserve(docs.len());
        for d in docs {
            debug_assert_eq!(d.id.get(), self.end_id);
            let doc = self.docs.len() as u32;
            self.docs.push(DocEntry {
                person: d.person.get(),
                occ: d.occurred_at_ms,
                type_id: d.type_id.get(),
            });
            self.postings += 2;
            if let Some(k) = d.primary_key {
                let key_start = self.arena.len() as u32;
                self.arena.extend_from_slice(&d.type_id.get().to_be_bytes());
                codec::escape_into(&mut self.arena, k);
                self.primary.push(ValueEntry {
                    key_start,
                    key_end: self.arena.len() as u32,
                    doc,
                });
                self.postings += 1;
            }
            for &(attr, k) in d.attributes {
                let key_start = self.arena.len() as u32;
                self.arena.extend_from_slice(&d.type_id.get().to_be_bytes());
                self.arena.extend_from_slice(&attr.get().to_be_bytes());
                codec::escape_into(&mut self.arena, k);
                self.attribute.push(ValueEntry {
                    key_start,
                    key_end: self.arena.len() as u32,
                    doc,
                });
                self.postings += 1;
            }
            self.end_id += 1;
        }
    }

    pub fn id_of(&self, doc: u32) -> u64 {
        self.first_id + u64::from(doc)
    }

    pub fn key(&self, v: &ValueEntry) -> &[u8] {
        &self.arena[v.key_start as usize..v.key_end as usize]
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

    /// Calls `emit(group, postings)` for every group of `family`, in (group, position)
    /// order, skipping ids below `floor`.
    pub fn groups<E>(
        &self,
        family: u8,
        floor: u64,
        mut emit: impl FnMut(&[u8], &[Post]) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut posts: Vec<Post> = Vec::new();
        let skip = floor
            .saturating_sub(self.first_id)
            .min(self.docs.len() as u64) as u32;
        match family {
            FAMILY_PERSON => {
                let mut order: Vec<(u64, u32)> = (skip..self.docs.len() as u32)
                    .map(|i| (self.docs[i as usize].person, i))
                    .collect();
                order.sort_unstable();
                for chunk in order.chunk_by(|a, b| a.0 == b.0) {
                    posts.clear();
                    posts.extend(chunk.iter().map(|&(_, i)| self.post(family, i)));
                    emit(&codec::person_group(chunk[0].0), &posts)?;
                }
            }
            codec::FAMILY_TYPE => {
                let mut order: Vec<(u32, u64, u32)> = (skip..self.docs.len() as u32)
                    .map(|i| {
                        let d = &self.docs[i as usize];
                        (d.type_id, okey(d.occ), i)
                    })
                    .collect();
                order.sort_unstable();
                for chunk in order.chunk_by(|a, b| a.0 == b.0) {
                    posts.clear();
                    posts.extend(chunk.iter().map(|&(_, _, i)| self.post(family, i)));
                    emit(&codec::type_group(chunk[0].0), &posts)?;
                }
            }
            _ => {
                // Rank the distinct keys (few) once, then sort plain integers: sorting
                // a million postings by key bytes cost seconds.
                let values = self.values(family);
                let mut ranks: HashMap<&[u8], u32> = HashMap::new();
                for v in values.iter().filter(|v| v.doc >= skip) {
                    let n = ranks.len() as u32;
                    ranks.entry(self.key(v)).or_insert(n);
                }
                let mut keys: Vec<(&[u8], u32)> = ranks.iter().map(|(k, &r)| (*k, r)).collect();
                keys.sort_unstable();
                let mut rank_of = vec![0u32; keys.len()];
                for (sorted, &(_, r)) in keys.iter().enumerate() {
                    rank_of[r as usize] = sorted as u32;
                }
                let mut order: Vec<u64> = values
                    .iter()
                    .filter(|v| v.doc >= skip)
                    .map(|v| {
                        let r = ranks.get(self.key(v)).map_or(0, |&r| rank_of[r as usize]);
                        (u64::from(r) << 32) | u64::from(v.doc)
                    })
                    .collect();
                order.sort_unstable();
                for chunk in order.chunk_by(|a, b| a >> 32 == b >> 32) {
                    posts.clear();
                    posts.extend(chunk.iter().map(|&o| self.post(family, o as u32)));
                    let key = keys.get((chunk[0] >> 32) as usize).map_or(&[][..], |k| k.0);
                    emit(key, &posts)?;
                }
            }
        }
        Ok(())
    }
}
