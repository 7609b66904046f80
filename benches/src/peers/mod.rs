//! The bench targets: what actlog is measured against, behind one trait.
//!
//! Every target stores the same [`GenActivity`] stream and answers the same three
//! reads, so that criterion can put them in one group; actlog is one more
//! implementation of [`BenchTarget`] ([`ActlogTarget`]).

use std::path::Path;

use crate::error::Result;
use crate::record::Record;
use crate::workload::GenActivity;

pub mod actlog;
pub mod raw;
pub mod sled;
pub mod sqlite;

pub use self::actlog::ActlogTarget;
pub use self::raw::RawFile;
pub use self::sled::PlainSled;
pub use self::sqlite::Sqlite;

/// What a target promises about an ingested batch once `ingest_batch` returns.
///
/// The two ends of actlog's `SyncPolicy`, which each peer maps to its own setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Durability {
    /// The batch has been handed to the device with a sync (fdatasync, SQLite
    /// `synchronous=FULL`, sled `flush()`); compared with actlog's `Always`.
    Always,
    /// No sync is asked for; the OS (and sled's own 500 ms flusher) decides when bytes
    /// reach the device; compared with actlog's `Never`.
    Never,
}

impl Durability {
    /// Both variants, durable first.
    pub const ALL: [Durability; 2] = [Durability::Always, Durability::Never];

    /// Lower-case name for bench ids (`"always"`, `"never"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Durability::Always => "always",
            Durability::Never => "never",
        }
    }
}

/// A store the benches can ingest into and read from.
///
/// Reads take `&mut self` so that a target may flush its write buffer first; every
/// read decodes full, owned records.
pub trait BenchTarget: Sized {
    /// Short name used in bench ids (`"sqlite"`).
    const NAME: &'static str;

    /// Opens (creating if needed) the target's files inside `dir`.
    ///
    /// # Errors
    ///
    /// I/O or engine errors while creating or opening the store.
    fn open(dir: &Path, durability: Durability) -> Result<Self>;

    /// Stores `batch` in order, as one unit of durability.
    ///
    /// # Errors
    ///
    /// I/O, encoding or engine errors; the batch may then be partly stored.
    fn ingest_batch(&mut self, batch: &[GenActivity<'_>]) -> Result<()>;

    /// Waits until everything ingested so far is fully processed, derived structures
    /// included (actlog: indexed). Ingest benches call it at the end of each timed
    /// iteration, so work a target defers to a background thread is still counted.
    /// The default does nothing: the peers index synchronously in `ingest_batch`.
    ///
    /// # Errors
    ///
    /// As [`BenchTarget::ingest_batch`].
    fn settle(&mut self) -> Result<()> {
        Ok(())
    }

    /// The person's latest activities, newest first: ordered by
    /// `(occurred_at_ms, ingest order)` descending, at most `limit`.
    ///
    /// # Errors
    ///
    /// I/O or engine errors, or [`crate::Error::Corrupt`] for undecodable data.
    fn person_latest(&mut self, person: u64, limit: usize) -> Result<Vec<Record>>;

    /// Visits the activities of one type with `from_ms <= occurred_at_ms < to_ms`,
    /// ordered by `(occurred_at_ms, ingest order)`, and returns how many it visited.
    ///
    /// # Errors
    ///
    /// As [`BenchTarget::person_latest`].
    fn type_range(
        &mut self,
        type_index: u32,
        from_ms: i64,
        to_ms: i64,
        visit: &mut dyn FnMut(Record),
    ) -> Result<u64>;

    /// Visits every activity in ingest order and returns how many it visited.
    ///
    /// # Errors
    ///
    /// As [`BenchTarget::person_latest`].
    fn replay(&mut self, visit: &mut dyn FnMut(Record)) -> Result<u64>;
}

/// Encodes `ms` so that big-endian byte order is numeric order (sign bit flipped).
pub(crate) fn date_key(ms: i64) -> [u8; 8] {
    ((ms as u64) ^ (1 << 63)).to_be_bytes()
}

/// The inverse of [`date_key`].
pub(crate) fn date_from_key(bytes: [u8; 8]) -> i64 {
    (u64::from_be_bytes(bytes) ^ (1 << 63)) as i64
}

/// A check every target passes: ingest, read back through each read, reopen, read
/// again. Expected answers come from a plain `Vec` model of the input.
#[cfg(test)]
pub(crate) mod conformance {
    use super::*;
    use crate::workload::{Workload, WorkloadOptions};

    fn expected_latest(model: &[GenActivity<'_>], person: u64, limit: usize) -> Vec<Record> {
        let mut hits: Vec<(usize, &GenActivity<'_>)> = model
            .iter()
            .enumerate()
            .filter(|(_, a)| a.person == person)
            .collect();
        hits.sort_by_key(|&(seq, a)| std::cmp::Reverse((a.occurred_at_ms, seq)));
        hits.into_iter()
            .take(limit)
            .map(|(_, a)| Record::from(a))
            .collect()
    }

    fn expected_range(
        model: &[GenActivity<'_>],
        type_index: u32,
        from: i64,
        to: i64,
    ) -> Vec<Record> {
        let mut hits: Vec<(usize, &GenActivity<'_>)> = model
            .iter()
            .enumerate()
            .filter(|(_, a)| {
                a.type_index == type_index && a.occurred_at_ms >= from && a.occurred_at_ms < to
            })
            .collect();
        hits.sort_by_key(|&(seq, a)| (a.occurred_at_ms, seq));
        hits.into_iter().map(|(_, a)| Record::from(a)).collect()
    }

    fn check_reads<T: BenchTarget>(target: &mut T, model: &[GenActivity<'_>], w: &Workload) {
        let mut replayed = Vec::new();
        let n = target.replay(&mut |r| replayed.push(r)).unwrap();
        assert_eq!(n as usize, model.len());
        assert_eq!(replayed.len(), model.len());
        for (r, a) in replayed.iter().zip(model) {
            assert_eq!(r, a);
        }

        // The hottest persons have many activities, so `limit` cuts; a mid-rank one few.
        for rank in [0, 1, 5, 500] {
            let person = w.person_of_rank(rank).unwrap();
            for limit in [1, 10, 100] {
                let got = target.person_latest(person, limit).unwrap();
                assert_eq!(
                    got,
                    expected_latest(model, person, limit),
                    "{} rank {rank}",
                    T::NAME
                );
            }
        }
        assert_eq!(
            target.person_latest(u64::MAX, 100).unwrap(),
            Vec::<Record>::new()
        );

        let first = model.iter().map(|a| a.occurred_at_ms).min().unwrap();
        let last = model.iter().map(|a| a.occurred_at_ms).max().unwrap();
        let quarter = (last - first) / 4;
        for type_index in [0, 7, 19] {
            for (from, to) in [
                (first + quarter, last - quarter),
                (first, last + 1),
                (last, first),
            ] {
                let mut got = Vec::new();
                let n = target
                    .type_range(type_index, from, to, &mut |r| got.push(r))
                    .unwrap();
                let expected = expected_range(model, type_index, from, to);
                assert_eq!(n as usize, expected.len());
                assert_eq!(got, expected, "{} type {type_index}", T::NAME);
            }
        }
    }

    /// Ingests in batches of several sizes, checks every read, then reopens (as
    /// `Always`) and checks again after one more batch.
    pub(crate) fn ingest_then_read_back<T: BenchTarget>(durability: Durability) {
        let dir = tempfile::tempdir().unwrap();
        let w = Workload::new(WorkloadOptions {
            persons: 2_000,
            ..WorkloadOptions::default()
        })
        .unwrap();
        let mut g = w.generator();
        let mut model = Vec::new();
        {
            let mut target = T::open(dir.path(), durability).unwrap();
            for batch_len in [1, 7, 100, 1_000, 2_000] {
                let mut batch = Vec::new();
                g.fill(&mut batch, batch_len);
                target.ingest_batch(&batch).unwrap();
                model.extend(batch);
            }
            target.ingest_batch(&[]).unwrap();
            check_reads(&mut target, &model, &w);
        }
        let mut target = T::open(dir.path(), Durability::Always).unwrap();
        check_reads(&mut target, &model, &w);
        let mut batch = Vec::new();
        g.fill(&mut batch, 500);
        target.ingest_batch(&batch).unwrap();
        model.extend(batch);
        check_reads(&mut target, &model, &w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_keys_sort_as_numbers() {
        let dates = [i64::MIN, -1_000, -1, 0, 1, 1_704_067_200_000, i64::MAX];
        for pair in dates.windows(2) {
            assert!(date_key(pair[0]) < date_key(pair[1]), "{pair:?}");
        }
        for d in dates {
            assert_eq!(date_from_key(date_key(d)), d);
        }
    }
}
