//! Plain sled 0.34 as a peer: the activities and the same two indexes as three trees.
//!
//! | tree         | key (big-endian, so keys sort as numbers)     | value          |
//! |--------------|-----------------------------------------------|----------------|
//! | `activities` | seq (8)                                       | bincode record |
//! | `by_person`  | person (8) · type (4) · date (8) · seq (8)    | empty          |
//! | `by_type`    | type (4) · date (8) · seq (8)                 | person (8)     |
//!
//! Dates are Unix ms with the sign bit flipped. sled runs with its default
//! configuration (1 GiB `cache_capacity`, 500 ms background flush). Each batch is one
//! `apply_batch` per tree; under [`Durability::Always`] it is followed by `Db::flush`,
//! which in sled 0.34 writes the log buffers and syncs them with `sync_file_range`
//! (not a device-cache flush: see docs/BENCHMARKS.md).

use std::path::{Path, PathBuf};

use ::sled::{Batch, Db, Tree};

use super::{date_from_key, date_key, BenchTarget, Durability};
use crate::error::{Error, Result};
use crate::record::{decode_record, encode_record, Record};
use crate::workload::GenActivity;

const BY_PERSON_KEY_BYTES: usize = 8 + 4 + 8 + 8;
const BY_TYPE_KEY_BYTES: usize = 4 + 8 + 8;

/// sled with three trees, as in the table above.
#[derive(Debug)]
pub struct PlainSled {
    db: Db,
    activities: Tree,
    by_person: Tree,
    by_type: Tree,
    durability: Durability,
    path: PathBuf,
    /// The seq of the next ingested activity: one past the last key of `activities`.
    next_seq: u64,
    buf: Vec<u8>,
}

impl PlainSled {
    fn corrupt(&self, tree: &str, position: u64, what: String) -> Error {
        Error::Corrupt {
            file: self.path.join(tree),
            position,
            what,
        }
    }

    /// Fetches and decodes the activity `seq`, which an index entry points to.
    fn fetch(&self, seq: u64) -> Result<Record> {
        let bytes = self.activities.get(seq.to_be_bytes())?.ok_or_else(|| {
            self.corrupt("activities", seq, "index entry without activity".into())
        })?;
        decode_record(&bytes).map_err(|what| self.corrupt("activities", seq, what))
    }
}

/// Reads the big-endian `u64` at `at` of a key whose length was checked.
fn be_u64(key: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&key[at..at + 8]);
    u64::from_be_bytes(b)
}

impl BenchTarget for PlainSled {
    const NAME: &'static str = "sled";

    fn open(dir: &Path, durability: Durability) -> Result<Self> {
        let path = dir.join("sled");
        let db = open_waiting(&path)?;
        let activities = db.open_tree("activities")?;
        let by_person = db.open_tree("by_person")?;
        let by_type = db.open_tree("by_type")?;
        let next_seq = match activities.last()? {
            None => 0,
            Some((key, _)) if key.len() == 8 => be_u64(&key, 0) + 1,
            Some((key, _)) => {
                return Err(Error::Corrupt {
                    file: path.join("activities"),
                    position: 0,
                    what: format!("last key has {} bytes, expected 8", key.len()),
                })
            }
        };
        Ok(Self {
            db,
            activities,
            by_person,
            by_type,
            durability,
            path,
            next_seq,
            buf: Vec::with_capacity(256),
        })
    }

    fn ingest_batch(&mut self, batch: &[GenActivity<'_>]) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut activities = Batch::default();
        let mut by_person = Batch::default();
        let mut by_type = Batch::default();
        for a in batch {
            let seq = self.next_seq;
            self.next_seq += 1;
            self.buf.clear();
            encode_record(a, &mut self.buf)?;
            activities.insert(&seq.to_be_bytes()[..], &self.buf[..]);

            let date = date_key(a.occurred_at_ms);
            let mut key = [0u8; BY_PERSON_KEY_BYTES];
            key[..8].copy_from_slice(&a.person.to_be_bytes());
            key[8..12].copy_from_slice(&a.type_index.to_be_bytes());
            key[12..20].copy_from_slice(&date);
            key[20..].copy_from_slice(&seq.to_be_bytes());
            by_person.insert(&key[..], &[][..]);

            let mut key = [0u8; BY_TYPE_KEY_BYTES];
            key[..4].copy_from_slice(&a.type_index.to_be_bytes());
            key[4..12].copy_from_slice(&date);
            key[12..].copy_from_slice(&seq.to_be_bytes());
            by_type.insert(&key[..], &a.person.to_be_bytes()[..]);
        }
        self.activities.apply_batch(activities)?;
        self.by_person.apply_batch(by_person)?;
        self.by_type.apply_batch(by_type)?;
        if self.durability == Durability::Always {
            self.db.flush()?;
        }
        Ok(())
    }

    fn person_latest(&mut self, person: u64, limit: usize) -> Result<Vec<Record>> {
        // The key orders a person's entries by type first, so the newest across types
        // needs the whole prefix, as SQLite's (person, type, date) index does.
        let mut hits: Vec<(i64, u64)> = Vec::new();
        for entry in self.by_person.scan_prefix(person.to_be_bytes()) {
            let (key, _) = entry?;
            if key.len() != BY_PERSON_KEY_BYTES {
                let what = format!("by_person key of {} bytes", key.len());
                return Err(self.corrupt("by_person", person, what));
            }
            let mut date = [0u8; 8];
            date.copy_from_slice(&key[12..20]);
            hits.push((date_from_key(date), be_u64(&key, 20)));
        }
        hits.sort_unstable_by(|a, b| b.cmp(a));
        hits.truncate(limit);
        hits.iter().map(|&(_, seq)| self.fetch(seq)).collect()
    }

    fn type_range(
        &mut self,
        type_index: u32,
        from_ms: i64,
        to_ms: i64,
        visit: &mut dyn FnMut(Record),
    ) -> Result<u64> {
        if from_ms >= to_ms {
            return Ok(0);
        }
        let bound = |ms: i64| {
            let mut key = [0u8; BY_TYPE_KEY_BYTES];
            key[..4].copy_from_slice(&type_index.to_be_bytes());
            key[4..12].copy_from_slice(&date_key(ms));
            key
        };
        let mut n = 0;
        for entry in self.by_type.range(bound(from_ms)..bound(to_ms)) {
            let (key, _) = entry?;
            if key.len() != BY_TYPE_KEY_BYTES {
                let what = format!("by_type key of {} bytes", key.len());
                return Err(self.corrupt("by_type", u64::from(type_index), what));
            }
            visit(self.fetch(be_u64(&key, 12))?);
            n += 1;
        }
        Ok(n)
    }

    fn replay(&mut self, visit: &mut dyn FnMut(Record)) -> Result<u64> {
        let mut n = 0;
        for entry in self.activities.iter() {
            let (key, bytes) = entry?;
            let seq = if key.len() == 8 {
                be_u64(&key, 0)
            } else {
                u64::MAX
            };
            let record =
                decode_record(&bytes).map_err(|what| self.corrupt("activities", seq, what))?;
            visit(record);
            n += 1;
        }
        Ok(n)
    }
}

/// Opens sled at `path`, waiting up to 5 s for its file lock: sled lets go of it a
/// moment after a `Db` of this process is dropped (its I/O threads finish first), so a
/// reopen right after a close can find it taken.
fn open_waiting(path: &Path) -> Result<Db> {
    let mut waited_ms = 0;
    loop {
        match ::sled::Config::new().path(path).open() {
            Err(::sled::Error::Io(e))
                if waited_ms < 5_000 && e.to_string().starts_with("could not acquire lock") =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
                waited_ms += 20;
            }
            r => return Ok(r?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peers::conformance::ingest_then_read_back;

    #[test]
    fn ingest_then_read_back_always() {
        ingest_then_read_back::<PlainSled>(Durability::Always);
    }

    #[test]
    fn ingest_then_read_back_never() {
        ingest_then_read_back::<PlainSled>(Durability::Never);
    }
}
