//! Posting-block secondary indexes of actlog, stored in sled: by person, by activity
//! type, by type and primary value, and by type and indexed attribute value.
//!
//! The index is *derived* state. It knows index keys and postings, never the files of
//! the log nor activity payloads: the engine feeds it one [`IndexDoc`] per activity, in
//! id order, and asks it for ids. Ids at and above the [checkpoint](Index::checkpoint)
//! live in an in-memory table; [`Index::flush`] turns that table into compact,
//! immutable, checksummed posting blocks written to sled in one atomic batch together
//! with the new checkpoint. After any crash the index is exactly "the blocks below the
//! checkpoint", and the engine re-feeds documents from there. One sled key per block
//! rather than per activity is what makes the index fast: sled sustains tens of
//! thousands of inserts a second, not millions.
//!
//! It is not a store of record, a query planner, or a cache of activities.
//!
//! ```
//! use actlog_index::{Index, IndexDoc, IndexOptions, IdRange, Order};
//! use actlog_model::{ActivityId, PersonId, TypeId};
//!
//! # fn main() -> Result<(), actlog_index::Error> {
//! let dir = tempfile::tempdir()?;
//! let (index, _state) = Index::open(dir.path().join("index"), IndexOptions::default())?;
//! let docs: Vec<IndexDoc<'_>> = (0..3)
//!     .map(|i| IndexDoc {
//!         id: ActivityId(i),
//!         person: PersonId(42),
//!         type_id: TypeId(1),
//!         occurred_at_ms: 1_700_000_000_000 + i as i64,
//!         primary_key: None,
//!         attributes: &[],
//!     })
//!     .collect();
//! index.add(&docs)?;
//! index.flush()?;
//! let latest: Vec<u64> = index
//!     .person(PersonId(42), IdRange::all(), Order::Descending)
//!     .map(|p| p.map(|p| p.id.get()))
//!     .collect::<Result<_, _>>()?;
//! assert_eq!(latest, vec![2, 1, 0]);
//! assert_eq!(index.checkpoint(), ActivityId(3));
//! # Ok(())
//! # }
//! ```

mod codec;
mod error;
mod memtable;
mod read;

pub use actlog_model::{ActivityId, AttributeId, PersonId, TypeId};
pub use error::{Error, Family, Result};
pub use read::{PersonPostings, TypePostings, ValuePostings};

use codec::{Meta, MetaState, FORMAT_VERSION, META_KEY};
use memtable::Memtable;
use parking_lot::{Mutex, RwLock};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::Arc;

/// One activity, as the index sees it.
#[derive(Debug, Clone, Copy)]
pub struct IndexDoc<'a> {
    /// The activity's id; documents are fed in id order without gaps.
    pub id: ActivityId,
    /// Who did it.
    pub person: PersonId,
    /// What kind of activity it is.
    pub type_id: TypeId,
    /// When it happened (Unix ms); not monotonic in id order.
    pub occurred_at_ms: i64,
    /// Order-preserving value key of the primary value, if the type has one.
    pub primary_key: Option<&'a [u8]>,
    /// Order-preserving value keys of the indexed attributes only.
    pub attributes: &'a [(AttributeId, &'a [u8])],
}

/// An activity of a person, from the by-person family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PersonPosting {
    /// The activity's id.
    pub id: ActivityId,
    /// Its type.
    pub type_id: TypeId,
    /// When it happened (Unix ms).
    pub occurred_at_ms: i64,
}

/// An activity of a type, from the by-type family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypePosting {
    /// The activity's id.
    pub id: ActivityId,
    /// Who did it.
    pub person: PersonId,
    /// When it happened (Unix ms).
    pub occurred_at_ms: i64,
}

/// An activity with a given value, from the by-primary or by-attribute family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValuePosting {
    /// The activity's id.
    pub id: ActivityId,
    /// When it happened (Unix ms).
    pub occurred_at_ms: i64,
}

/// Direction of a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Smallest first.
    Ascending,
    /// Largest first ("latest 100 activities of a person").
    Descending,
}

/// A half-open range of activity ids, `start..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    /// First id included.
    pub start: ActivityId,
    /// First id excluded.
    pub end: ActivityId,
}

impl IdRange {
    /// Every id.
    pub const fn all() -> Self {
        IdRange {
            start: ActivityId(0),
            end: ActivityId(u64::MAX),
        }
    }
}

/// A half-open range of occurred_at times in Unix ms, `start_ms..end_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// First time included.
    pub start_ms: i64,
    /// First time excluded.
    pub end_ms: i64,
}

impl TimeRange {
    /// Every time.
    pub const fn all() -> Self {
        TimeRange {
            start_ms: i64::MIN,
            end_ms: i64::MAX,
        }
    }
}

/// A range of order-preserving value keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRange<'a> {
    /// Exactly this value key.
    Exact(&'a [u8]),
    /// Value keys between two bounds.
    Range {
        /// Lower bound.
        start: Bound<&'a [u8]>,
        /// Upper bound.
        end: Bound<&'a [u8]>,
    },
}

/// How sled organises its log (sled's `Mode`, without exposing sled).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SledMode {
    /// Compact segments more eagerly: fewer bytes on disk.
    LowSpace,
    /// Write more, compact less.
    HighThroughput,
}

/// Whether a flush waits until its batch is on stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushSync {
    /// Every flush (explicit or when the memtable is full) calls sled's flush after
    /// applying its batch, so `checkpoint()` is durable when `flush` returns.
    Always,
    /// Leave the batch to sled's own flushing (`sled_flush_every_ms`, full log buffers,
    /// close). Still crash-consistent, since sled recovers a prefix of atomic batches,
    /// but a crash may lose flushed blocks, so the engine re-feeds more.
    Never,
}

/// Settings of an [`Index`]; every field documents its default.
#[derive(Debug, Clone)]
pub struct IndexOptions {
    /// Postings (all families) held in memory before a flush. Bounds the memtable's
    /// memory at roughly 40 bytes per posting. Default 2,000,000.
    pub memtable_postings_max: usize,
    /// Postings held in memory by a [`BulkLoader`] before it writes blocks. Default 8,000,000.
    pub bulk_postings_max: usize,
    /// Postings per block at most. Default 512: decoding one block stays cheap for
    /// "latest 100 of a person", and blocks are large enough to amortise sled's
    /// per-key cost.
    pub block_postings_max: usize,
    /// sled's `cache_capacity`. Default 64 MiB.
    pub sled_cache_bytes: u64,
    /// sled's `flush_every_ms`. Default `None`: the index flushes sled itself
    /// (see [`FlushSync`]); correctness never depends on sled's timer.
    pub sled_flush_every_ms: Option<u64>,
    /// sled's `mode`. Default [`SledMode::LowSpace`].
    pub sled_mode: SledMode,
    /// Durability of flushes. Default [`FlushSync::Always`].
    pub flush_sync: FlushSync,
}

impl Default for IndexOptions {
    fn default() -> Self {
        IndexOptions {
            memtable_postings_max: 2_000_000,
            bulk_postings_max: 8_000_000,
            block_postings_max: 512,
            sled_cache_bytes: 64 << 20,
            sled_flush_every_ms: None,
            sled_mode: SledMode::LowSpace,
            flush_sync: FlushSync::Always,
        }
    }
}

/// Why an index opened empty and must be rebuilt from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RebuildReason {
    /// There was no index (new directory, or no meta record).
    Missing,
    /// The store or the meta record was damaged.
    Damaged {
        /// What was wrong.
        detail: String,
    },
    /// The index was written in another format version.
    FormatVersion {
        /// The version found on disk.
        found: u32,
        /// The version this build writes.
        expected: u32,
    },
    /// A bulk load or clear was interrupted.
    Interrupted,
}

/// What [`Index::open`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexState {
    /// The index holds every id in `[floor, checkpoint)`; feed documents from `checkpoint`.
    Ready {
        /// Next id to index.
        checkpoint: ActivityId,
    },
    /// The index is empty; rebuild it from the log.
    NeedsRebuild {
        /// Why.
        reason: RebuildReason,
    },
}

/// Figures for `actlog stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexStats {
    /// Next id not yet indexed.
    pub watermark: ActivityId,
    /// Next id not yet in sled.
    pub checkpoint: ActivityId,
    /// Ids below this are never returned.
    pub floor: ActivityId,
    /// Postings (all families) in sled blocks.
    pub durable_postings: u64,
    /// Posting blocks in sled.
    pub durable_blocks: u64,
    /// Postings in memory.
    pub memtable_postings: u64,
    /// sled's size on disk.
    pub disk_bytes: u64,
}

/// A damaged entry found by [`Index::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDamage {
    /// The family of the damaged key.
    pub family: Family,
    /// The sled key.
    pub key: Vec<u8>,
    /// Byte offset in the value where decoding failed.
    pub position: usize,
    /// What was wrong.
    pub what: &'static str,
}

/// In-memory state guarded by one lock.
#[derive(Debug)]
struct Mem {
    active: Memtable,
    /// A memtable being written to sled; readable until its batch has been applied.
    frozen: Option<Arc<Memtable>>,
    watermark: u64,
    checkpoint: u64,
    floor: u64,
    durable_postings: u64,
    durable_blocks: u64,
}

/// What a reader needs: a consistent split between sled (ids below `checkpoint`) and
/// the memtables (ids from `checkpoint`).
#[derive(Debug)]
pub(crate) struct Snapshot {
    pub tree: sled::Tree,
    pub checkpoint: u64,
    pub floor: u64,
    pub frozen: Option<Arc<Memtable>>,
}

/// The index: `Send + Sync`, every method takes `&self`.
#[derive(Debug)]
pub struct Index {
    db: sled::Db,
    dir: PathBuf,
    options: IndexOptions,
    mem: RwLock<Mem>,
    /// Serialises flush, set_floor, clear and bulk loads.
    write_lock: Mutex<()>,
    bulk_active: AtomicBool,
}

fn open_sled(dir: &Path, o: &IndexOptions) -> Result<sled::Db> {
    let cfg = sled::Config::new()
        .path(dir)
        .cache_capacity(o.sled_cache_bytes)
        .flush_every_ms(o.sled_flush_every_ms)
        .mode(match o.sled_mode {
            SledMode::LowSpace => sled::Mode::LowSpace,
            SledMode::HighThroughput => sled::Mode::HighThroughput,
        });
    // sled 0.34 is known to panic on some damaged files; a damaged index must become
    // "rebuild", not a crash of the embedding process.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cfg.open())) {
        Ok(r) => Ok(r?),
        Err(_) => Err(Error::StoreCorrupted {
            detail: "sled panicked while opening".into(),
        }),
    }
}

fn ready_meta(checkpoint: u64, floor: u64, postings: u64, blocks: u64) -> Meta {
    Meta {
        format_version: FORMAT_VERSION,
        state: MetaState::Ready,
        checkpoint,
        floor,
        postings,
        blocks,
    }
}

impl Index {
    /// Opens (or creates) the index in `dir`.
    ///
    /// A missing, damaged or other-format index is emptied and reported as
    /// [`IndexState::NeedsRebuild`]; only I/O failures and invalid options are errors.
    ///
    /// # Errors
    /// [`Error::InvalidOptions`], or an I/O or store error that persists after the
    /// directory has been recreated.
    pub fn open(dir: impl AsRef<Path>, options: IndexOptions) -> Result<(Index, IndexState)> {
        if options.memtable_postings_max == 0 {
            return Err(Error::InvalidOptions {
                what: "memtable_postings_max must be > 0",
            });
        }
        if options.bulk_postings_max == 0 {
            return Err(Error::InvalidOptions {
                what: "bulk_postings_max must be > 0",
            });
        }
        if options.block_postings_max == 0 || options.block_postings_max > 1 << 20 {
            return Err(Error::InvalidOptions {
                what: "block_postings_max must be in 1..=1048576",
            });
        }
        let dir = dir.as_ref().to_path_buf();
        let (db, damaged) = match open_sled(&dir, &options) {
            Ok(db) => (db, None),
            // An I/O error (no permission, the directory locked by another process) is
            // not damage: deleting the directory then would destroy a live index.
            Err(e @ Error::Io(_)) => return Err(e),
            Err(e) => {
                // Derived state: throw the damaged store away and start over.
                std::fs::remove_dir_all(&dir)?;
                (open_sled(&dir, &options)?, Some(e.to_string()))
            }
        };
        let mut reason = damaged.map(|detail| RebuildReason::Damaged { detail });
        let mut meta = ready_meta(0, 0, 0, 0);
        if reason.is_none() {
            match db.get(META_KEY)? {
                None => reason = Some(RebuildReason::Missing),
                Some(v) => match codec::decode_meta(&v) {
                    Err(b) => {
                        reason = Some(RebuildReason::Damaged {
                            detail: format!("meta record: {} at byte {}", b.what, b.position),
                        })
                    }
                    Ok(m) if m.format_version != FORMAT_VERSION => {
                        reason = Some(RebuildReason::FormatVersion {
                            found: m.format_version,
                            expected: FORMAT_VERSION,
                        })
                    }
                    Ok(m) if m.state != MetaState::Ready => {
                        reason = Some(RebuildReason::Interrupted)
                    }
                    Ok(m) => meta = m,
                },
            }
        }
        if reason.is_some() {
            db.clear()?;
            db.insert(META_KEY, codec::encode_meta(&meta))?;
            db.flush()?;
        }
        let index = Index {
            db,
            dir,
            mem: RwLock::new(Mem {
                active: Memtable::new(meta.checkpoint),
                frozen: None,
                watermark: meta.checkpoint,
                checkpoint: meta.checkpoint,
                floor: meta.floor,
                durable_postings: meta.postings,
                durable_blocks: meta.blocks,
            }),
            options,
            write_lock: Mutex::new(()),
            bulk_active: AtomicBool::new(false),
        };
        let state = match reason {
            Some(reason) => IndexState::NeedsRebuild { reason },
            None => IndexState::Ready {
                checkpoint: ActivityId(meta.checkpoint),
            },
        };
        Ok((index, state))
    }

    /// The directory this index lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Indexes `docs`, whose ids must continue [`watermark`](Self::watermark) without
    /// gaps. Flushes when the memtable reaches `memtable_postings_max`.
    ///
    /// # Errors
    /// [`Error::NotContiguous`] (nothing is added), [`Error::BulkLoadActive`], or a
    /// flush error.
    pub fn add(&self, docs: &[IndexDoc<'_>]) -> Result<()> {
        if self.bulk_active.load(AtomicOrdering::Acquire) {
            return Err(Error::BulkLoadActive);
        }
        let full = {
            let mut m = self.mem.write();
            check_contiguous(m.watermark, docs)?;
            m.active.add(docs);
            m.watermark = m.active.end_id;
            m.active.postings >= self.options.memtable_postings_max
        };
        if full {
            self.flush()?;
        }
        Ok(())
    }

    /// Next id not yet indexed (the memtable included).
    pub fn watermark(&self) -> ActivityId {
        ActivityId(self.mem.read().watermark)
    }

    /// Next id not yet written to sled (durable when `flush_sync` is `Always`).
    pub fn checkpoint(&self) -> ActivityId {
        ActivityId(self.mem.read().checkpoint)
    }

    /// Ids below the floor are never returned.
    pub fn floor(&self) -> ActivityId {
        ActivityId(self.mem.read().floor)
    }

    /// Writes the memtable as posting blocks plus the new checkpoint in one atomic sled
    /// batch, then (with [`FlushSync::Always`]) waits for sled to make it durable.
    /// Readers keep seeing every posting while this runs.
    ///
    /// # Errors
    /// I/O or store errors; the memtable is kept and the next flush retries.
    pub fn flush(&self) -> Result<()> {
        let _w = self.write_lock.lock();
        loop {
            let frozen = {
                let mut m = self.mem.write();
                if m.frozen.is_none() {
                    if m.active.is_empty() {
                        return Ok(());
                    }
                    let next = Memtable::new(m.active.end_id);
                    let full = std::mem::replace(&mut m.active, next);
                    m.frozen = Some(Arc::new(full));
                }
                match &m.frozen {
                    Some(f) => Arc::clone(f),
                    None => return Ok(()),
                }
            };
            let (floor, postings0, blocks0) = {
                let m = self.mem.read();
                (m.floor, m.durable_postings, m.durable_blocks)
            };
            let mut batch = sled::Batch::default();
            let (mut postings, mut blocks) = (0u64, 0u64);
            frozen.blocks(self.options.block_postings_max, |k, v, n| -> Result<()> {
                batch.insert(k, v);
                postings += n as u64;
                blocks += 1;
                Ok(())
            })?;
            let meta = ready_meta(frozen.end_id, floor, postings0 + postings, blocks0 + blocks);
            batch.insert(META_KEY, codec::encode_meta(&meta));
            self.db.apply_batch(batch)?;
            if self.options.flush_sync == FlushSync::Always {
                self.db.flush()?;
            }
            let mut m = self.mem.write();
            m.checkpoint = frozen.end_id;
            m.durable_postings = meta.postings;
            m.durable_blocks = meta.blocks;
            m.frozen = None;
        }
    }

    /// After log retention removed ids below `first_id`: never return them again, and
    /// delete the blocks that hold only such ids. If `first_id` is above the watermark,
    /// the watermark and checkpoint move up to it (those ids will never be fed).
    ///
    /// The cleanup scans every block header once (cheap: no posting is decoded).
    ///
    /// # Errors
    /// I/O or store errors.
    pub fn set_floor(&self, first_id: ActivityId) -> Result<()> {
        let _w = self.write_lock.lock();
        let first_id = first_id.get();
        let meta = {
            let mut m = self.mem.write();
            if first_id <= m.floor {
                return Ok(());
            }
            m.floor = first_id;
            if first_id > m.watermark {
                m.active = Memtable::new(first_id);
                m.frozen = None;
                m.watermark = first_id;
                m.checkpoint = first_id;
            }
            ready_meta(m.checkpoint, m.floor, m.durable_postings, m.durable_blocks)
        };
        // Persist the floor first: deleted blocks are below it, so readers never notice.
        self.db.insert(META_KEY, codec::encode_meta(&meta))?;
        let mut removed_postings = 0u64;
        let mut removed_blocks = 0u64;
        let mut batch = sled::Batch::default();
        let mut pending = 0usize;
        for kv in self.db.range::<&[u8], _>(&[1u8][..]..) {
            let (k, v) = kv?;
            // Damaged blocks stay for verify() to report; readers reject them anyway.
            let Ok(h) = codec::block_header(&k, &v) else {
                continue;
            };
            if h.max_id < first_id {
                batch.remove(k);
                removed_postings += h.count;
                removed_blocks += 1;
                pending += 1;
            }
            if pending >= 16_384 {
                self.commit_removals(std::mem::take(&mut batch), removed_postings, removed_blocks)?;
                removed_postings = 0;
                removed_blocks = 0;
                pending = 0;
            }
        }
        self.commit_removals(batch, removed_postings, removed_blocks)?;
        if self.options.flush_sync == FlushSync::Always {
            self.db.flush()?;
        }
        Ok(())
    }

    fn commit_removals(&self, mut batch: sled::Batch, postings: u64, blocks: u64) -> Result<()> {
        let meta = {
            let mut m = self.mem.write();
            m.durable_postings = m.durable_postings.saturating_sub(postings);
            m.durable_blocks = m.durable_blocks.saturating_sub(blocks);
            ready_meta(m.checkpoint, m.floor, m.durable_postings, m.durable_blocks)
        };
        batch.insert(META_KEY, codec::encode_meta(&meta));
        self.db.apply_batch(batch)?;
        Ok(())
    }

    /// Drops everything (before a rebuild): watermark, checkpoint and floor become 0.
    ///
    /// # Errors
    /// I/O or store errors; a crash in the middle leaves an index that opens as
    /// [`RebuildReason::Interrupted`].
    pub fn clear(&self) -> Result<()> {
        let _w = self.write_lock.lock();
        let mut incomplete = ready_meta(0, 0, 0, 0);
        incomplete.state = MetaState::Incomplete;
        self.db.insert(META_KEY, codec::encode_meta(&incomplete))?;
        {
            let mut m = self.mem.write();
            m.active = Memtable::new(0);
            m.frozen = None;
            m.watermark = 0;
            m.checkpoint = 0;
            m.floor = 0;
            m.durable_postings = 0;
            m.durable_blocks = 0;
        }
        self.db.clear()?;
        self.db
            .insert(META_KEY, codec::encode_meta(&ready_meta(0, 0, 0, 0)))?;
        self.db.flush()?;
        self.bulk_active.store(false, AtomicOrdering::Release);
        Ok(())
    }

    /// The rebuild path: large sorted batches without the live path's atomic
    /// per-flush batches. Needs an empty index (after [`clear`](Self::clear), and
    /// [`set_floor`](Self::set_floor) if the log no longer starts at 0).
    pub fn bulk_loader(&self) -> BulkLoader<'_> {
        BulkLoader {
            index: self,
            mem: None,
            postings: 0,
            blocks: 0,
        }
    }

    pub(crate) fn snapshot(&self) -> (Snapshot, parking_lot::RwLockReadGuard<'_, Mem>) {
        let m = self.mem.read();
        (
            Snapshot {
                tree: (*self.db).clone(),
                checkpoint: m.checkpoint,
                floor: m.floor,
                frozen: m.frozen.clone(),
            },
            m,
        )
    }

    /// A person's activities with ids in `range`, lazily, merged from sled and memory.
    pub fn person(&self, person: PersonId, range: IdRange, order: Order) -> PersonPostings {
        let (snap, m) = self.snapshot();
        read::PersonPostings::new(snap, &m.active, person, range, order)
    }

    /// A type's activities with occurred_at in `time`, in (occurred_at, id) order.
    pub fn by_type(&self, type_id: TypeId, time: TimeRange, order: Order) -> TypePostings {
        let (snap, m) = self.snapshot();
        read::TypePostings::new(snap, &m.active, type_id, time, order)
    }

    /// Activities of a type whose primary value key is in `key`, in (value key, id) order
    /// (for an exact key: id order).
    pub fn by_primary(&self, type_id: TypeId, key: KeyRange<'_>, order: Order) -> ValuePostings {
        let (snap, m) = self.snapshot();
        read::ValuePostings::new(
            snap,
            &m.active,
            codec::primary_type_prefix(type_id),
            key,
            order,
        )
    }

    /// Activities of a type whose indexed attribute `attr` has a value key in `key`, in
    /// (value key, id) order.
    pub fn by_attribute(
        &self,
        type_id: TypeId,
        attr: AttributeId,
        key: KeyRange<'_>,
        order: Order,
    ) -> ValuePostings {
        let (snap, m) = self.snapshot();
        read::ValuePostings::new(
            snap,
            &m.active,
            codec::attribute_type_prefix(type_id, attr),
            key,
            order,
        )
    }

    /// About how many activities a person has (block headers plus memory; ignores the
    /// floor inside blocks that straddle it).
    pub fn estimate_person(&self, person: PersonId) -> u64 {
        let (snap, m) = self.snapshot();
        read::estimate_person(&snap, &m.active, person)
    }

    /// About how many activities of a type fall in `time` (counts of overlapping blocks).
    pub fn estimate_type(&self, type_id: TypeId, time: TimeRange) -> u64 {
        let (snap, m) = self.snapshot();
        read::estimate_type(&snap, &m.active, type_id, time)
    }

    /// About how many activities of a type have a primary value key in `key`.
    pub fn estimate_primary(&self, type_id: TypeId, key: KeyRange<'_>) -> u64 {
        let (snap, m) = self.snapshot();
        read::estimate_values(&snap, &m.active, codec::primary_type_prefix(type_id), key)
    }

    /// About how many activities of a type have attribute `attr` with a value key in `key`.
    pub fn estimate_attribute(&self, type_id: TypeId, attr: AttributeId, key: KeyRange<'_>) -> u64 {
        let (snap, m) = self.snapshot();
        read::estimate_values(
            &snap,
            &m.active,
            codec::attribute_type_prefix(type_id, attr),
            key,
        )
    }

    /// Figures for `actlog stats`.
    pub fn stats(&self) -> IndexStats {
        let disk_bytes = self.db.size_on_disk().unwrap_or(0);
        let m = self.mem.read();
        let frozen = m.frozen.as_ref().map_or(0, |f| f.postings);
        IndexStats {
            watermark: ActivityId(m.watermark),
            checkpoint: ActivityId(m.checkpoint),
            floor: ActivityId(m.floor),
            durable_postings: m.durable_postings,
            durable_blocks: m.durable_blocks,
            memtable_postings: (m.active.postings + frozen) as u64,
            disk_bytes,
        }
    }

    /// Decodes every block and the meta record; returns every damaged one.
    ///
    /// # Errors
    /// I/O or store errors while iterating.
    pub fn verify(&self) -> Result<Vec<IndexDamage>> {
        let mut damage = Vec::new();
        let mut push = |e: Error| {
            if let Error::Corrupted {
                family,
                key,
                position,
                what,
            } = e
            {
                damage.push(IndexDamage {
                    family,
                    key,
                    position,
                    what,
                });
            }
        };
        let mut pp = Vec::new();
        let mut tp = Vec::new();
        let mut vp = Vec::new();
        for kv in self.db.iter() {
            let (k, v) = kv?;
            pp.clear();
            tp.clear();
            vp.clear();
            let r = match codec::family_of(&k) {
                Family::Person => codec::decode_person_block(&k, &v, &mut pp).map(drop),
                Family::Type => codec::decode_type_block(&k, &v, &mut tp).map(drop),
                Family::Primary | Family::Attribute => {
                    codec::decode_value_block(&k, &v, &mut vp).map(drop)
                }
                Family::Meta if &*k == META_KEY => codec::decode_meta(&v)
                    .map(drop)
                    .map_err(|b| codec::corrupted(&k, b)),
                Family::Meta | Family::Unknown => Err(codec::corrupted(
                    &k,
                    codec::Bad {
                        position: 0,
                        what: "unknown key",
                    },
                )),
            };
            if let Err(e) = r {
                push(e);
            }
        }
        Ok(damage)
    }
}

fn check_contiguous(watermark: u64, docs: &[IndexDoc<'_>]) -> Result<()> {
    for (i, d) in docs.iter().enumerate() {
        let expected = watermark + i as u64;
        if d.id.get() != expected {
            return Err(Error::NotContiguous {
                expected: ActivityId(expected),
                got: d.id,
            });
        }
    }
    Ok(())
}

/// Rebuild path of an [`Index`]: feed every document from the index's watermark in id
/// order, then [`finish`](Self::finish). Readers see nothing of the load until then.
///
/// A load that is dropped without `finish` leaves the index refusing live adds until
/// [`Index::clear`], and opening it later reports [`RebuildReason::Interrupted`].
#[derive(Debug)]
pub struct BulkLoader<'a> {
    index: &'a Index,
    mem: Option<Memtable>,
    postings: u64,
    blocks: u64,
}

impl BulkLoader<'_> {
    fn start(&mut self) -> Result<()> {
        let ix = self.index;
        if ix.bulk_active.swap(true, AtomicOrdering::AcqRel) {
            return Err(Error::BulkLoadActive);
        }
        let (start, floor) = {
            let m = ix.mem.read();
            if !m.active.is_empty() || m.frozen.is_some() || m.durable_blocks != 0 {
                ix.bulk_active.store(false, AtomicOrdering::Release);
                return Err(Error::NotEmpty {
                    what: "index has postings",
                });
            }
            (m.watermark, m.floor)
        };
        let mut meta = ready_meta(start, floor, 0, 0);
        meta.state = MetaState::Incomplete;
        ix.db.insert(META_KEY, codec::encode_meta(&meta))?;
        self.mem = Some(Memtable::new(start));
        Ok(())
    }

    /// Adds documents in id order.
    ///
    /// # Errors
    /// [`Error::BulkLoadActive`] if another load runs, [`Error::NotEmpty`],
    /// [`Error::NotContiguous`], or I/O and store errors.
    pub fn add(&mut self, docs: &[IndexDoc<'_>]) -> Result<()> {
        if self.mem.is_none() {
            self.start()?;
        }
        let Some(mem) = self.mem.as_mut() else {
            return Ok(());
        };
        check_contiguous(mem.end_id, docs)?;
        mem.add(docs);
        if mem.postings >= self.index.options.bulk_postings_max {
            self.write_blocks()?;
        }
        Ok(())
    }

    fn write_blocks(&mut self) -> Result<()> {
        let Some(mem) = self.mem.take() else {
            return Ok(());
        };
        let tree: &sled::Tree = &self.index.db;
        let (mut postings, mut blocks) = (0u64, 0u64);
        // Plain inserts: the meta record says "incomplete" until finish, so atomicity
        // is not needed here, and sled's batches cost more than single inserts.
        mem.blocks(
            self.index.options.block_postings_max,
            |k, v, n| -> Result<()> {
                tree.insert(k, v)?;
                postings += n as u64;
                blocks += 1;
                Ok(())
            },
        )?;
        self.postings += postings;
        self.blocks += blocks;
        self.mem = Some(Memtable::new(mem.end_id));
        Ok(())
    }

    /// Writes the rest, then the checkpoint, and makes the load visible and durable.
    /// Returns the new checkpoint.
    ///
    /// # Errors
    /// I/O or store errors.
    pub fn finish(mut self) -> Result<ActivityId> {
        let ix = self.index;
        let Some(end) = self.mem.as_ref().map(|m| m.end_id) else {
            return Ok(ix.checkpoint());
        };
        self.write_blocks()?;
        let floor = ix.mem.read().floor;
        let meta = ready_meta(end, floor, self.postings, self.blocks);
        ix.db.insert(META_KEY, codec::encode_meta(&meta))?;
        ix.db.flush()?;
        {
            let mut m = ix.mem.write();
            m.active = Memtable::new(end);
            m.watermark = end;
            m.checkpoint = end;
            m.durable_postings = self.postings;
            m.durable_blocks = self.blocks;
        }
        ix.bulk_active.store(false, AtomicOrdering::Release);
        Ok(ActivityId(end))
    }
}
