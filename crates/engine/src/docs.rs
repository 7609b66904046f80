//! Turning activity records into index documents, for the live indexer and the rebuild.
//!
//! Records are read in place and only the bytes the index keeps are copied, into one key
//! buffer per batch, so a batch of documents costs a few allocations, not several per
//! activity. Each record is read once: the pass that checks it also hands over its
//! secondary values, and the keys of the indexed ones are taken then.

use std::ops::Range;

use actlog_index::IndexDoc;
use actlog_model::codec;
use actlog_model::{ActivityId, AttributeId, Catalog, PersonId, TypeId};
// foldhash rather than std's SipHash: every record looks its type up here, and SipHash
// cost a twentieth of a rebuild's instructions.
use foldhash::HashMap;

use crate::error::{Error, Result};

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
            indexed: HashMap::default(),
            keys: Vec::with_capacity(capacity * 32),
            attr_spans: Vec::new(),
            parts: Vec::with_capacity(capacity),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.parts.len()
    }

    /// Decodes the activity record `payload` with id `id` and adds its document.
    ///
    /// # Errors
    ///
    /// [`Error::Decode`] if the record does not decode; the batch is left as it was.
    pub(crate) fn push_record(&mut self, id: ActivityId, payload: &[u8]) -> Result<()> {
        let DocBatch {
            catalog,
            indexed,
            keys,
            attr_spans,
            parts,
        } = self;
        let (keys_before, spans_before) = (keys.len(), attr_spans.len());
        // The type comes first in the record: look up its indexed attributes before the
        // values are handed over. A record too short for it fails in the decode below.
        let indexed: &[AttributeId] = match codec::peek_activity(payload) {
            Some((_, type_id, _)) => indexed
                .entry(type_id)
                .or_insert_with(|| indexed_attributes(catalog, type_id)),
            None => &[],
        };
        let decoded = codec::decode_activity_view_with(id, payload, |attr, value| {
            if indexed.binary_search(&attr).is_ok() {
                let s = keys.len();
                value.index_key_into(keys);
                attr_spans.push((attr, s..keys.len()));
            }
        });
        let activity = match decoded {
            Ok(activity) => activity,
            Err(source) => {
                keys.truncate(keys_before);
                attr_spans.truncate(spans_before);
                return Err(Error::Decode { id, source });
            }
        };
        let start = keys.len();
        activity.primary.index_key_into(keys);
        parts.push(DocParts {
            id: activity.id,
            person: activity.person,
            type_id: activity.type_id,
            occurred_at_ms: activity.occurred_at_ms,
            primary: start..keys.len(),
            attributes: spans_before..attr_spans.len(),
        });
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use actlog_model::{
        codec, AttributeDefinition, DataType, NewActivity, TypeDefinition, ValidActivity,
    };

    /// A catalog with one approved type: a string primary, an indexed integer, a plain
    /// string and an indexed string attribute.
    fn catalog() -> (Catalog, TypeId) {
        let mut c = Catalog::new();
        let event = c
            .create_type(
                TypeDefinition {
                    api_name: "deposit".into(),
                    name: "Deposit".into(),
                    description: None,
                    trigger_name: "Deposits".into(),
                    filter_name: "Deposited".into(),
                    primary_attribute: AttributeDefinition::new("bank", "Bank", DataType::String),
                    attributes: vec![
                        AttributeDefinition::new("cents", "Cents", DataType::Integer).indexed(),
                        AttributeDefinition::new("note", "Note", DataType::String),
                        AttributeDefinition::new("branch", "Branch", DataType::String).indexed(),
                    ],
                },
                1,
            )
            .unwrap();
        c.apply(&event).unwrap();
        let t = event.type_id();
        c.apply(&c.approve(t, 2).unwrap()).unwrap();
        (c, t)
    }

    /// The documents `push_record` gives, as owned values.
    type Owned = Vec<(u64, u64, u32, i64, Vec<u8>, Vec<(u16, Vec<u8>)>)>;

    fn owned(docs: &[IndexDoc<'_>]) -> Owned {
        docs.iter()
            .map(|d| {
                (
                    d.id.get(),
                    d.person.get(),
                    d.type_id.get(),
                    d.occurred_at_ms,
                    d.primary_key.unwrap_or_default().to_vec(),
                    d.attributes
                        .iter()
                        .map(|(a, k)| (a.0, k.to_vec()))
                        .collect(),
                )
            })
            .collect()
    }

    #[test]
    fn documents_hold_the_keys_of_the_indexed_values_only() {
        let (catalog, t) = catalog();
        let indexed = indexed_attributes(&catalog, t);
        assert_eq!(indexed.len(), 2);
        let records: Vec<(ValidActivity, Vec<u8>)> = (0..20i64)
            .map(|i| {
                let mut input = NewActivity::new(PersonId(i as u64 % 3), "deposit", 1_000 + i)
                    .primary(format!("bank {}", i % 4));
                // Some activities leave some attributes out.
                if i % 2 == 0 {
                    input = input.attr("cents", (i * 100 - 700).to_string());
                }
                if i % 3 != 0 {
                    input = input.attr("note", format!("n{i}"));
                }
                if i % 5 != 0 {
                    input = input.attr("branch", format!("b\u{e9}{}", i % 2));
                }
                let valid = catalog.validate(&input).unwrap();
                let bytes = codec::encode_activity(&valid).unwrap();
                (valid, bytes)
            })
            .collect();
        let mut batch = DocBatch::new(&catalog, 4);
        for (i, (_, bytes)) in records.iter().enumerate() {
            batch.push_record(ActivityId(i as u64), bytes).unwrap();
            // A damaged record is refused and leaves the batch as it was.
            let mut cut = bytes.clone();
            cut.truncate(bytes.len() - 1);
            assert!(batch.push_record(ActivityId(99), &cut).is_err());
        }
        let mut got = Vec::new();
        batch
            .drain(|docs| {
                got = owned(docs);
                Ok(())
            })
            .unwrap();
        let expected: Owned = records
            .iter()
            .enumerate()
            .map(|(i, (v, _))| {
                (
                    i as u64,
                    v.person.get(),
                    v.type_id.get(),
                    v.occurred_at_ms,
                    v.primary.index_key(),
                    v.attributes
                        .iter()
                        .filter(|(a, _)| indexed.contains(a))
                        .map(|(a, value)| (a.0, value.index_key()))
                        .collect(),
                )
            })
            .collect();
        assert_eq!(got, expected);
        assert!(expected.iter().any(|d| d.5.len() == 2));
        assert!(expected.iter().any(|d| d.5.is_empty()));
    }
}
