//! Turning activity records into index documents, for the live indexer and the rebuild.
//!
//! Records are read in place (`ActivityView`) and only the bytes the index keeps are
//! copied, into one key buffer per batch, so a batch of documents costs a few
//! allocations, not several per activity.

use std::collections::HashMap;
use std::ops::Range;

use actlog_index::IndexDoc;
use actlog_model::codec::ActivityView;
use actlog_model::{ActivityId, AttributeId, Catalog, PersonId, TypeId};

use crate::error::Result;

/// The parts of one activity the index needs; its keys live in [`DocBatch::keys`].
struct DocParts {
    id: ActivityId,
    person: PersonId,
    type_id: TypeId,
    occurred_at_ms: i64,
    primary: Range<usize>,
    attributes: Range<usize>,
}

/// A batch of index documents being gathered.
pub(crate) struct DocBatch<'c> {
    catalog: &'c Catalog,
    /// Per type met so far, its indexed secondary attributes (ascending ids), from `catalog`.
    indexed: HashMap<TypeId, Vec<AttributeId>>,
    keys: Vec<u8>,
    attr_spans: Vec<(AttributeId, Range<usize>)>,
    parts: Vec<DocParts>,
}

impl<'c> DocBatch<'c> {
    pub(crate) fn new(catalog: &'c Catalog, capacity: usize) -> Self {
        DocBatch {
            catalog,
            indexed: HashMap::new(),
            keys: Vec::with_capacity(capacity * 32),
            attr_spans: Vec::new(),
            parts: Vec::with_capacity(capacity),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.parts.len()
    }

    /// Adds the document of one activity.
    pub(crate) fn push(&mut self, activity: &ActivityView<'_>) {
        let start = self.keys.len();
        activity.primary.index_key_into(&mut self.keys);
        let primary = start..self.keys.len();
        let attrs_start = self.attr_spans.len();
        let catalog = self.catalog;
        let indexed = self
            .indexed
            .entry(activity.type_id)
            .or_insert_with(|| indexed_attributes(catalog, activity.type_id));
        if !indexed.is_empty() {
            for (attr, value) in activity.attributes {
                if indexed.binary_search(&attr).is_ok() {
                    let s = self.keys.len();
                    value.index_key_into(&mut self.keys);
                    self.attr_spans.push((attr, s..self.keys.len()));
                }
            }
        }
        self.parts.push(DocParts {
            id: activity.id,
            person: activity.person,
            type_id: activity.type_id,
            occurred_at_ms: activity.occurred_at_ms,
            primary,
            attributes: attrs_start..self.attr_spans.len(),
        });
    }

    /// Hands the documents gathered so far to `each`, then empties the batch.
    pub(crate) fn drain(&mut self, each: impl FnOnce(&[IndexDoc<'_>]) -> Result<()>) -> Result<()> {
        let keys = &self.keys;
        let attr_refs: Vec<(AttributeId, &[u8])> = self
            .attr_spans
            .iter()
            .map(|(a, r)| (*a, &keys[r.clone()]))
            .collect();
        let docs: Vec<IndexDoc<'_>> = self
            .parts
            .iter()
            .map(|p| IndexDoc {
                id: p.id,
                person: p.person,
                type_id: p.type_id,
                occurred_at_ms: p.occurred_at_ms,
                primary_key: Some(&keys[p.primary.clone()]),
                attributes: &attr_refs[p.attributes.clone()],
            })
            .collect();
        let result = each(&docs);
        drop(docs);
        drop(attr_refs);
        self.keys.clear();
        self.attr_spans.clear();
        self.parts.clear();
        result
    }
}

/// The secondary attributes of a type that its versions mark as indexed, ascending.
fn indexed_attributes(catalog: &Catalog, type_id: TypeId) -> Vec<AttributeId> {
    let Some(ty) = catalog.get(type_id) else {
        return Vec::new();
    };
    (0..ty.next_attribute_id().0)
        .map(AttributeId)
        .filter(|id| {
            ty.attribute_for_render(*id)
                .is_some_and(|a| a.indexed && !a.is_primary)
        })
        .collect()
}
