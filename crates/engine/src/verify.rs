//! `verify`: every damaged place in the logs and the index, and whether the index agrees
//! with the log.

use std::collections::{BTreeMap, HashMap};

use actlog_index::{IdRange, IndexDamage, Order, TimeRange};
use actlog_log::Offset;
use actlog_model::{codec, ActivityId, PersonId, TypeId};

use crate::engine::Engine;
use crate::error::{Error, Result};

/// What [`Engine::verify`] found. Empty lists mean that part is sound.
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    /// The activities log.
    pub activities: actlog_log::VerifyReport,
    /// The catalog log.
    pub catalog: actlog_log::VerifyReport,
    /// Activities whose frame is sound but whose payload does not decode.
    pub undecodable: Vec<(ActivityId, String)>,
    /// Damaged index blocks.
    pub index_damage: Vec<IndexDamage>,
    /// Where the index disagrees with the log.
    pub index_mismatches: Vec<String>,
}

impl VerifyReport {
    /// Whether nothing was found wrong.
    pub fn is_clean(&self) -> bool {
        self.activities.damage.is_empty()
            && self.catalog.damage.is_empty()
            && self.undecodable.is_empty()
            && self.index_damage.is_empty()
            && self.index_mismatches.is_empty()
    }
}

/// Mismatches listed before the report says "and more".
const MISMATCHES_MAX: usize = 100;

impl Engine {
    /// Scans every record of both logs, every index block, and compares the index with the
    /// log (each type's and each person's postings against a scan). Reads everything: it
    /// takes time in proportion to the data.
    pub fn verify(&self) -> Result<VerifyReport> {
        let inner = &self.inner;
        inner.check_open()?;
        let mut report = VerifyReport {
            activities: inner.activities.verify().map_err(Error::activities)?,
            catalog: inner.catalog.log().verify().map_err(Error::catalog)?,
            index_damage: inner.index.verify()?,
            ..VerifyReport::default()
        };
        // Compare only what the index should hold: wait for it, then freeze the bound.
        if inner.wait_indexed().is_err() {
            report
                .index_mismatches
                .push("the index did not catch up with the log".into());
        }
        let first = inner.activities.first_offset().0;
        let end = inner
            .index
            .watermark()
            .get()
            .min(inner.activities.next_offset().0);

        let mut by_type: BTreeMap<TypeId, Vec<ActivityId>> = BTreeMap::new();
        let mut by_person: HashMap<PersonId, Vec<ActivityId>> = HashMap::new();
        let records = match inner.activities.iter_range(Offset(first), Offset(end)) {
            Ok(records) => records,
            Err(err) => {
                report
                    .index_mismatches
                    .push(format!("cannot scan the log: {err}"));
                return Ok(report);
            }
        };
        for record in records {
            let Ok(record) = record else {
                // Damage is already listed by the log's own verify.
                continue;
            };
            let id = ActivityId(record.offset.0);
            match codec::decode_activity(id, &record.payload) {
                Ok(a) => {
                    by_type.entry(a.type_id).or_default().push(id);
                    by_person.entry(a.person).or_default().push(id);
                }
                Err(err) => report.undecodable.push((id, err.to_string())),
            }
        }
        let range = IdRange {
            start: ActivityId(first),
            end: ActivityId(end),
        };
        let mismatch = |report: &mut VerifyReport, what: String| {
            if report.index_mismatches.len() < MISMATCHES_MAX {
                report.index_mismatches.push(what);
            }
        };
        for (type_id, expected) in &by_type {
            let mut found: Vec<ActivityId> = Vec::with_capacity(expected.len());
            for posting in
                inner
                    .index
                    .by_type(*type_id, TimeRange::all(), IdRange::all(), Order::Ascending)
            {
                match posting {
                    Ok(p) if p.id.get() >= first && p.id.get() < end => found.push(p.id),
                    Ok(_) => {}
                    Err(err) => {
                        mismatch(&mut report, format!("type {type_id}: {err}"));
                        break;
                    }
                }
            }
            found.sort_unstable();
            if &found != expected {
                mismatch(
                    &mut report,
                    format!(
                        "type {type_id}: the log has {} activities, the index {}",
                        expected.len(),
                        found.len()
                    ),
                );
            }
        }
        for (person, expected) in &by_person {
            let mut found: Vec<ActivityId> = Vec::with_capacity(expected.len());
            for posting in inner.index.person(*person, range, Order::Ascending) {
                match posting {
                    Ok(p) => found.push(p.id),
                    Err(err) => {
                        mismatch(&mut report, format!("person {person}: {err}"));
                        break;
                    }
                }
            }
            if &found != expected {
                mismatch(
                    &mut report,
                    format!(
                        "person {person}: the log has {} activities, the index {}",
                        expected.len(),
                        found.len()
                    ),
                );
            }
        }
        Ok(report)
    }
}
