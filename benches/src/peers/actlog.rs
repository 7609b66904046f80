//! actlog itself behind [`BenchTarget`]: the engine end to end, through its public API.
//!
//! Ingest validates every activity against its approved type, writes it to the log
//! (with an fdatasync per batch under [`Durability::Always`], `SyncPolicy::Always`) and
//! lets the indexer thread index it; [`BenchTarget::settle`] waits for the indexer, so
//! a bench that calls it counts indexing in the cost. Reads go through the filter
//! language: `person = N` newest first, `type = T and occurred >= A and occurred < B`,
//! and a replay of the log, each activity decoded into an owned [`Record`].

use std::collections::HashMap;
use std::path::Path;

use actlog::{
    Activity, ActivityId, AttributeId, Direction, Engine, Options, Outcome, QueryOptions,
    SyncPolicy, TypeId, Value,
};

use super::{BenchTarget, Durability};
use crate::error::{Error, Result};
use crate::record::Record;
use crate::workload::GenActivity;

/// An actlog engine with the workload's 20 types defined.
#[derive(Debug)]
pub struct ActlogTarget {
    engine: Engine,
    /// `type_ids[type_index]`: the engine's id of each workload type.
    type_ids: Vec<TypeId>,
    /// For each engine type id: the workload type index and the ids of its `source`,
    /// `value` and `note` attributes, to turn an activity back into a [`Record`].
    types: HashMap<TypeId, (u32, [AttributeId; 3])>,
}

impl ActlogTarget {
    /// The engine underneath, for benches that want more than the trait offers.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    fn record(&self, a: Activity) -> Result<Record> {
        let corrupt = |what: String| Error::Corrupt {
            file: self.engine.path().to_path_buf(),
            position: a.id.get(),
            what,
        };
        let (type_index, attribute_ids) = *self
            .types
            .get(&a.type_id)
            .ok_or_else(|| corrupt(format!("activity of unknown type {}", a.type_id)))?;
        let value_of = |id: AttributeId| a.attributes.iter().find(|(a, _)| *a == id);
        let text = |v: Option<&(AttributeId, Value)>| match v {
            Some((_, Value::String(s) | Value::Text(s))) => Ok(s.clone()),
            other => Err(corrupt(format!("expected a string, found {other:?}"))),
        };
        let primary = match &a.primary {
            Value::String(s) => s.clone(),
            other => return Err(corrupt(format!("primary is not a string: {other:?}"))),
        };
        let value = match value_of(attribute_ids[1]) {
            Some((_, Value::Integer(v))) => i64::from(*v),
            other => return Err(corrupt(format!("value is not an integer: {other:?}"))),
        };
        Ok(Record {
            person: a.person.0,
            type_index,
            occurred_at_ms: a.occurred_at_ms,
            primary,
            source: text(value_of(attribute_ids[0]))?,
            value,
            note: text(value_of(attribute_ids[2]))?,
        })
    }
}

impl BenchTarget for ActlogTarget {
    const NAME: &'static str = "actlog";

    fn open(dir: &Path, durability: Durability) -> Result<Self> {
        let sync = match durability {
            Durability::Always => SyncPolicy::Always,
            Durability::Never => SyncPolicy::Never,
        };
        let engine = Engine::open(
            dir.join("actlog"),
            Options {
                sync,
                ..Options::default()
            },
        )?;
        let type_ids = actlog_workload::define_types(&engine)?;
        let catalog = engine.catalog();
        let mut types = HashMap::with_capacity(type_ids.len());
        for (type_index, &id) in type_ids.iter().enumerate() {
            let version =
                catalog
                    .get(id)
                    .and_then(|t| t.approved())
                    .ok_or_else(|| Error::Setup {
                        peer: Self::NAME,
                        what: format!("type {id} is not approved"),
                    })?;
            let mut attribute_ids = [AttributeId(0); 3];
            for (slot, name) in attribute_ids.iter_mut().zip(["source", "value", "note"]) {
                *slot = version
                    .attribute_by_api_name(name)
                    .ok_or_else(|| Error::Setup {
                        peer: Self::NAME,
                        what: format!("type {id} has no attribute {name}"),
                    })?
                    .id;
            }
            types.insert(id, (type_index as u32, attribute_ids));
        }
        Ok(Self {
            engine,
            type_ids,
            types,
        })
    }

    fn ingest_batch(&mut self, batch: &[GenActivity<'_>]) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let items = batch
            .iter()
            .map(|a| actlog_workload::to_new_activity(a, &self.type_ids))
            .collect();
        let outcomes = self.engine.append_batch(items)?;
        if let Some(bad) = outcomes
            .iter()
            .find(|o| !matches!(o, Outcome::Added { .. }))
        {
            return Err(Error::Setup {
                peer: Self::NAME,
                what: format!("a generated activity was not added: {bad:?}"),
            });
        }
        Ok(())
    }

    fn settle(&mut self) -> Result<()> {
        self.engine.wait_indexed()?;
        Ok(())
    }

    fn person_latest(&mut self, person: u64, limit: usize) -> Result<Vec<Record>> {
        let options = QueryOptions {
            limit: Some(limit),
            direction: Direction::Descending,
            ..QueryOptions::default()
        };
        let results = self
            .engine
            .query_text(&format!("person = {person}"), options)?;
        let mut out = Vec::with_capacity(limit.min(128));
        for activity in results {
            out.push(self.record(activity?)?);
        }
        Ok(out)
    }

    fn type_range(
        &mut self,
        type_index: u32,
        from_ms: i64,
        to_ms: i64,
        visit: &mut dyn FnMut(Record),
    ) -> Result<u64> {
        let Some(spec) = actlog_workload::workload::ACTIVITY_TYPES.get(type_index as usize) else {
            return Ok(0);
        };
        if from_ms >= to_ms {
            return Ok(0);
        }
        let filter = format!(
            "type = {} and occurred >= {} and occurred < {}",
            spec.api_name,
            datetime_ms(from_ms),
            datetime_ms(to_ms)
        );
        let results = self.engine.query_text(&filter, QueryOptions::default())?;
        let mut n = 0;
        for activity in results {
            visit(self.record(activity?)?);
            n += 1;
        }
        Ok(n)
    }

    fn replay(&mut self, visit: &mut dyn FnMut(Record)) -> Result<u64> {
        let mut n = 0;
        for activity in self.engine.replay(ActivityId(0))? {
            visit(self.record(activity?)?);
            n += 1;
        }
        Ok(n)
    }
}

/// `ms` as a filter datetime literal with milliseconds (`2024-01-01T00:00:00.250Z`).
fn datetime_ms(ms: i64) -> String {
    let seconds = actlog::model::time::format_datetime_utc(ms.div_euclid(1_000) * 1_000);
    let stem = seconds.strip_suffix('Z').unwrap_or(&seconds);
    format!("{stem}.{:03}Z", ms.rem_euclid(1_000))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peers::conformance::ingest_then_read_back;

    #[test]
    fn conformance_always() {
        ingest_then_read_back::<ActlogTarget>(Durability::Always);
    }

    #[test]
    fn conformance_never() {
        ingest_then_read_back::<ActlogTarget>(Durability::Never);
    }

    #[test]
    fn datetimes_keep_their_milliseconds() {
        assert_eq!(datetime_ms(1_704_067_200_250), "2024-01-01T00:00:00.250Z");
        assert_eq!(datetime_ms(1_704_067_199_999), "2023-12-31T23:59:59.999Z");
        assert_eq!(datetime_ms(-1), "1969-12-31T23:59:59.999Z");
    }
}
