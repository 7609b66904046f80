//! Posting-block secondary indexes of actlog, stored in sled: by person, by activity
//! type, by type and primary value, and by type and indexed attribute value.
//!
//! The index is *derived* state. It knows index keys and postings, never the files of
//! the log nor activity payloads: the engine feeds it one [`IndexDoc`] per activity, in
//! id order, and asks it for ids. Ids at and above the [checkpoint](Index::checkpoint)
//! live in an append-only in-memory table; [`Index::flush`] sorts it once and writes it
//! as a *run*: per family, postings sorted by (key, position) in checksummed blocks of
//! 4 to 32 KiB, each with a directory that a lookup binary-searches, then a meta record
//! naming the run with the new checkpoint. After any crash the index is exactly "the
//! runs the meta record names", and the engine re-feeds documents from the checkpoint.
//! A few sled keys per flush rather than one per person or value is what makes the
//! index fast: sled sustains tens of thousands of inserts a second, not millions. Runs
//! beyond [`IndexOptions::runs_max`] are merged, those of one size tier together
//! ([`IndexOptions::merge_fanout`]), so a lookup reads a bounded number of blocks and a
//! growing index is not rewritten ever more often.
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
mod run;

pub use actlog_model::{ActivityId, AttributeId, PersonId, TypeId};
pub use error::{Error, Family, Result};
pub use read::{PersonPostings, PersonsPostings, TypePostings, ValuePostings};

use codec::{Meta, MetaState, Run, FORMAT_VERSION, META_KEY};
use memtable::{Memtable, SortBuffers};
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

impl<'a> KeyRange<'a> {
    /// The one key the range holds when it is `Exact` or a range from a key to the
    /// same key, both included: its postings are in id order and read run after run.
    pub fn exact(self) -> Option<&'a [u8]> {
        match self {
            KeyRange::Exact(k) => Some(k),
            KeyRange::Range {
                start: Bound::Included(a),
                end: Bound::Included(b),
            } if a == b => Some(a),
            KeyRange::Range { .. } => None,
        }
    }
}

/// How sled organises its log (sled's `Mode`, without exposing sled). sled 0.34 stores
/// the setting but no code of it reads it: both variants write and keep the same bytes
/// (docs/BENCHMARKS.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SledMode {
    /// sled's "compact segments more eagerly".
    LowSpace,
    /// sled's "write more, compact less".
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
    /// memory at about 12 bytes per by-person or by-type posting and 8 per value
    /// posting, plus each distinct value key once (and the flush's sort buffers, about
    /// 32 bytes per posting of the two families sorted at a time, kept from one flush
    /// to the next). Up to two memtables are held: one taking adds, and one being
    /// written in the background or, once written, kept so that the next memtable
    /// reuses its allocations. A memtable reserves its vectors for this many postings
    /// when it takes its first add (address space; memory only as they fill).
    /// Default 2,000,000.
    pub memtable_postings_max: usize,
    /// Postings held in memory by a [`BulkLoader`] before it writes a run (in the
    /// background while the next fills, so up to two). Default 8,000,000.
    pub bulk_postings_max: usize,
    /// Postings per block at most (blocks are also sealed at 4, 8 or 32 KiB, by family).
    /// Default 8,192: the size bound is the one that applies with real workloads; tests
    /// lower this one to get many blocks from few documents.
    pub block_postings_max: usize,
    /// Runs of one size tier merged into one when there are more than `runs_max`: tier
    /// 0 holds runs of fewer than `merge_fanout` memtables' postings, tier 1 fewer than
    /// `merge_fanout`² and so on, so a growing index rewrites each posting about once
    /// per tier it climbs. At least 2. Default 4.
    pub merge_fanout: usize,
    /// Runs kept before merging (when a run is published: by `flush`, or by the `add`
    /// that fills the next memtable, on the caller's thread): the youngest
    /// `merge_fanout` adjacent runs of one size tier, or if there are none the adjacent
    /// pair with the fewest postings, until this many are left; a bulk load merges
    /// pairs only. Bounds the blocks a lookup reads to one or two per run. At least 2.
    /// Default 16: no merge before 16 memtables (about 10 M activities with three
    /// postings each), as a merge costs the indexer about what the flushes it undoes
    /// did.
    pub runs_max: usize,
    /// sled's `cache_capacity`. Default 64 MiB.
    pub sled_cache_bytes: u64,
    /// Most bytes of block values remembered as checked (CRC, header and directory), so
    /// that reading a block again does not check it again. While sled's cache holds a
    /// block, sled hands out the same allocation for it and an entry costs no memory of
    /// its own; a block sled dropped and read again is a new allocation, checked again,
    /// and the entry of the old one keeps that allocation until it is the oldest (sled
    /// does not tell whether it still holds one). So this bounds the memory held beyond
    /// sled's cache, and lookups spread over the whole index fill it with such entries.
    /// A query whose blocks exceed it checks every block on every read: a smart list
    /// walking 1,771 persons' by-person postings at 10 M activities reads about 60 MiB
    /// of blocks, and ran about 15 % faster with 128 MiB, while random person lookups
    /// then held 88 MB more and their p99 went from 438–625 µs to 552–980 µs
    /// (docs/BENCHMARKS.md).
    /// Default 32 MiB.
    pub checked_cache_bytes: usize,
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
            block_postings_max: 8_192,
            merge_fanout: 4,
            runs_max: 16,
            sled_cache_bytes: 64 << 20,
            checked_cache_bytes: 32 << 20,
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
    /// A memtable being written to sled; readable until its run is in the run list.
    frozen: Option<Arc<Memtable>>,
    watermark: u64,
    checkpoint: u64,
    floor: u64,
    next_run: u64,
    /// The durable runs, oldest first. Replaced (never mutated) so that a reader keeps
    /// the list it started with.
    runs: Arc<Vec<Run>>,
}

impl Mem {
    fn meta(&self) -> Meta {
        Meta {
            format_version: FORMAT_VERSION,
            state: MetaState::Ready,
            checkpoint: self.checkpoint,
            floor: self.floor,
            next_run: self.next_run,
            runs: self.runs.to_vec(),
        }
    }
}

/// What a reader needs: a consistent split between the runs (ids below the checkpoint)
/// and the memtables (ids from it).
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    pub tree: sled::Tree,
    pub floor: u64,
    pub frozen: Option<Arc<Memtable>>,
    pub runs: Arc<Vec<Run>>,
    pub checked: Arc<read::CheckedBlocks>,
}

/// Runs dropped from the run list (merged or below the floor) whose blocks are deleted
/// once no reader holds a run list that names them.
#[derive(Debug, Default)]
struct Retired {
    pending: Vec<(Arc<Vec<Run>>, Vec<u64>)>,
    /// The frozen memtable's run, being written on a background thread; published (meta
    /// record, run list) by the next `add` that fills the memtable, `flush`,
    /// `set_floor` or `clear`.
    job: Option<FlushJob>,
    /// The memtable last published, kept so that the next one to take adds reuses its
    /// allocations once no reader holds it: growing each memtable anew from nothing
    /// faulted in tens of megabytes of fresh zeroed pages per flush.
    retiring: Option<Arc<Memtable>>,
}

impl Retired {
    /// An empty memtable to take adds next (its ids are set by [`Memtable::rebase`]):
    /// the retiring one, emptied, when no reader holds it any more, else a new one.
    /// Called before the memtable lock is taken, since emptying clears its hash tables.
    fn next_memtable(&mut self) -> Memtable {
        match self.retiring.take().map(Arc::try_unwrap) {
            Some(Ok(mut m)) => {
                m.reset(0);
                m
            }
            _ => Memtable::new(0),
        }
    }
}

/// A background write of the frozen memtable's blocks.
#[derive(Debug)]
struct FlushJob {
    handle: std::thread::JoinHandle<Result<Run>>,
    end_id: u64,
}

/// The index: `Send + Sync`, every method takes `&self`.
#[derive(Debug)]
pub struct Index {
    /// Dropped by hand (see `Drop`): sled must not flush into a directory that is gone.
    db: std::mem::ManuallyDrop<sled::Db>,
    dir: PathBuf,
    options: IndexOptions,
    mem: RwLock<Mem>,
    /// Serialises flush, set_floor, clear and bulk loads.
    write_lock: Mutex<Retired>,
    bulk_active: AtomicBool,
    /// Blocks whose bytes were checked once (see `read::CheckedBlocks`).
    checked: Arc<read::CheckedBlocks>,
    /// What each flush sorts in (one set per flushing thread), kept for the next flush.
    /// Flushes are serialised by `write_lock`, so this lock is never waited for.
    flush_buffers: FlushBuffers,
}

/// The sort buffers of a memtable's two flushing threads (see `run::write_memtable`),
/// shared with the background thread that writes a run.
type FlushBuffers = Arc<Mutex<[SortBuffers; 2]>>;

fn open_sled(dir: &Path, o: &IndexOptions) -> Result<sled::Db> {
    let cfg = sled::Config::new()
        .path(dir)
        .cache_capacity(o.sled_cache_bytes)
        .flush_every_ms(o.sled_flush_every_ms)
        .mode(match o.sled_mode {
            SledMode::LowSpace => sled::Mode::LowSpace,
            SledMode::HighThroughput => sled::Mode::HighThroughput,
        });
    // sled releases its file lock when the last reference to its files goes, which can
    // be a moment after the `Db` of a closed index dropped (its I/O threads finish
    // first); a reopen in the same process then finds the lock taken. Whoever owns the
    // directory (the engine's own LOCK file) excludes other processes, so waiting a
    // little for our own old handle is safe.
    let mut waited_ms = 0;
    loop {
        // sled 0.34 is known to panic on some damaged files; a damaged index must become
        // "rebuild", not a crash of the embedding process.
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cfg.open())) {
            Ok(Err(sled::Error::Io(e)))
                if waited_ms < SLED_LOCK_WAIT_MS_MAX
                    && e.to_string().starts_with("could not acquire lock") =>
            {
                std::thread::sleep(std::time::Duration::from_millis(SLED_LOCK_RETRY_MS));
                waited_ms += SLED_LOCK_RETRY_MS;
            }
            Ok(r) => return Ok(r?),
            Err(_) => {
                return Err(Error::StoreCorrupted {
                    detail: "sled panicked while opening".into(),
                })
            }
        }
    }
}

/// How long opening waits for sled's file lock to be released by a handle of this
/// process that is closing.
const SLED_LOCK_WAIT_MS_MAX: u64 = 5_000;
const SLED_LOCK_RETRY_MS: u64 = 20;

fn empty_meta(state: MetaState) -> Meta {
    Meta {
        format_version: FORMAT_VERSION,
        state,
        checkpoint: 0,
        floor: 0,
        next_run: 0,
        runs: Vec::new(),
    }
}

impl Index {
    /// Opens (or creates) the index in `dir`.
    ///
    /// A missing, damaged or other-format index is emptied and reported as
    /// [`IndexState::NeedsRebuild`]; only I/O failures and invalid options are errors.
    /// Blocks of runs that the meta record does not name (left by a crash during a
    /// flush or merge) are deleted.
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
        if options.runs_max < 2 {
            return Err(Error::InvalidOptions {
                what: "runs_max must be >= 2",
            });
        }
        if options.merge_fanout < 2 {
            return Err(Error::InvalidOptions {
                what: "merge_fanout must be >= 2",
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
        let mut meta = empty_meta(MetaState::Ready);
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
        } else if run::sweep_garbage(&db, &meta.runs)? > 0 {
            db.flush()?;
        }
        // Ids below the floor are never fed again (the log no longer has them): a floor
        // set above the checkpoint moves it. Runs below the floor were dropped with it,
        // so the run list still ends at the checkpoint.
        if meta.floor > meta.checkpoint && meta.runs.is_empty() {
            meta.checkpoint = meta.floor;
        }
        let checked_cache_bytes = options.checked_cache_bytes;
        let index = Index {
            db: std::mem::ManuallyDrop::new(db),
            dir,
            mem: RwLock::new(Mem {
                active: Memtable::new(meta.checkpoint),
                frozen: None,
                watermark: meta.checkpoint,
                checkpoint: meta.checkpoint,
                floor: meta.floor,
                next_run: meta.next_run,
                runs: Arc::new(meta.runs),
            }),
            options,
            write_lock: Mutex::new(Retired::default()),
            checked: Arc::new(read::CheckedBlocks::new(checked_cache_bytes)),
            bulk_active: AtomicBool::new(false),
            flush_buffers: FlushBuffers::default(),
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
    /// gaps. When the memtable reaches `memtable_postings_max`, it is frozen (still
    /// readable) and written as a run on a background thread; the run is published (the
    /// checkpoint moves) by the next `add` that fills the memtable, which first waits for
    /// the previous run, or by [`flush`](Self::flush).
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
            m.active.reserve(self.options.memtable_postings_max);
            m.active.add(docs);
            m.watermark = m.active.end_id;
            m.active.postings >= self.options.memtable_postings_max
                || m.active.arena_bytes() >= self.options.memtable_postings_max.saturating_mul(32)
        };
        if full {
            self.flush_in_background()?;
        }
        Ok(())
    }

    /// Publishes the previous background flush (waiting for it if it still runs: the
    /// memtable filled faster than a run is written), then freezes the memtable and
    /// starts writing its run on a background thread, so the caller goes on adding
    /// while the run is sorted and written.
    fn flush_in_background(&self) -> Result<()> {
        let mut retired = self.write_lock.lock();
        self.complete_job(&mut retired)?;
        let mut next = retired.next_memtable();
        let (frozen, floor, run_id) = {
            let mut m = self.mem.write();
            if m.frozen.is_some() || m.active.is_empty() {
                // A failed flush left its memtable frozen: retry it in the foreground.
                drop(m);
                return self.flush_locked(&mut retired);
            }
            next.rebase(m.active.end_id);
            let full = Arc::new(std::mem::replace(&mut m.active, next));
            m.frozen = Some(Arc::clone(&full));
            m.next_run += 1;
            (full, m.floor, m.next_run - 1)
        };
        let db = sled::Db::clone(&self.db);
        let block_postings_max = self.options.block_postings_max;
        let sync = self.options.flush_sync == FlushSync::Always;
        let end_id = frozen.end_id;
        let buffers = Arc::clone(&self.flush_buffers);
        let spawned = std::thread::Builder::new()
            .name("actlog-index-flush".into())
            .spawn(move || {
                let run = run::write_memtable(
                    &db,
                    &frozen,
                    run_id,
                    floor,
                    block_postings_max,
                    &mut buffers.lock(),
                )?;
                if sync {
                    // The blocks now, so that publishing syncs only the meta record.
                    db.flush()?;
                }
                Ok(run)
            });
        match spawned {
            Ok(handle) => {
                retired.job = Some(FlushJob { handle, end_id });
                Ok(())
            }
            // No thread: flush in the foreground (the memtable is frozen already).
            Err(_) => self.flush_locked(&mut retired),
        }
    }

    /// Waits for the background flush, if any, and publishes its run. On error the
    /// memtable stays frozen and readable, and the next flush writes it again.
    fn complete_job(&self, retired: &mut Retired) -> Result<()> {
        let Some(job) = retired.job.take() else {
            return Ok(());
        };
        let run = job.handle.join().map_err(|_| Error::Store {
            detail: "the background flush thread panicked".into(),
        })??;
        self.publish(run, job.end_id, retired)
    }

    /// Writes the meta record naming `run` (the frozen memtable's, ending at `end_id`)
    /// with the new checkpoint, makes it visible, then merges and purges runs.
    fn publish(&self, run: Run, end_id: u64, retired: &mut Retired) -> Result<()> {
        let meta = {
            let m = self.mem.read();
            let mut meta = m.meta();
            meta.checkpoint = end_id;
            meta.runs.push(run);
            meta
        };
        self.write_meta(&meta)?;
        let published = {
            let mut m = self.mem.write();
            m.checkpoint = end_id;
            m.runs = Arc::new(meta.runs);
            m.frozen.take()
        };
        // Kept for its allocations (and dropped, when it is, outside the lock).
        retired.retiring = published;
        self.merge_runs(retired)?;
        self.purge(retired)
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

    fn write_meta(&self, meta: &Meta) -> Result<()> {
        self.db.insert(META_KEY, codec::encode_meta(meta))?;
        if self.options.flush_sync == FlushSync::Always {
            self.db.flush()?;
        }
        Ok(())
    }

    /// Publishes a background flush begun by [`add`](Self::add), if any, then writes the
    /// memtable as a new run (its blocks with plain inserts, then the meta
    /// record naming it with the new checkpoint, one atomic insert), then (with
    /// [`FlushSync::Always`]) waits for sled to make it durable. Merges runs past
    /// `runs_max`. Readers keep seeing every posting while this runs.
    ///
    /// # Errors
    /// I/O or store errors; the memtable is kept and the next flush retries.
    pub fn flush(&self) -> Result<()> {
        let mut retired = self.write_lock.lock();
        self.flush_locked(&mut retired)
    }

    /// [`flush`](Self::flush) under the write lock: publishes a background flush first.
    fn flush_locked(&self, retired: &mut Retired) -> Result<()> {
        // sled waits forever for a write into a directory removed under it (see `drop`).
        if !self.dir.exists() {
            return Err(Error::Store {
                detail: format!("the index directory {} was removed", self.dir.display()),
            });
        }
        self.complete_job(retired)?;
        let mut next = retired.next_memtable();
        let frozen = {
            let mut m = self.mem.write();
            if m.frozen.is_none() {
                if m.active.is_empty() {
                    return Ok(());
                }
                next.rebase(m.active.end_id);
                let full = std::mem::replace(&mut m.active, next);
                m.frozen = Some(Arc::new(full));
            }
            match &m.frozen {
                Some(f) => Arc::clone(f),
                None => return Ok(()),
            }
        };
        let (floor, run_id) = {
            let mut m = self.mem.write();
            m.next_run += 1;
            (m.floor, m.next_run - 1)
        };
        let run = run::write_memtable(
            &self.db,
            &frozen,
            run_id,
            floor,
            self.options.block_postings_max,
            &mut self.flush_buffers.lock(),
        )?;
        self.publish(run, frozen.end_id, retired)
    }

    /// Merges runs while [`run::next_merge`] finds some to merge: past `runs_max`, runs
    /// of one size tier or the smallest adjacent pair.
    fn merge_runs(&self, retired: &mut Retired) -> Result<()> {
        let policy = run::MergePolicy {
            unit_postings: self.options.memtable_postings_max as u64,
            fanout: self.options.merge_fanout,
            runs_max: self.options.runs_max,
        };
        loop {
            let (runs, floor) = {
                let m = self.mem.read();
                (Arc::clone(&m.runs), m.floor)
            };
            let Some(range) = run::next_merge(&runs, &policy) else {
                return Ok(());
            };
            let run_id = {
                let mut m = self.mem.write();
                m.next_run += 1;
                m.next_run - 1
            };
            let merged = run::merge(
                &self.db,
                &runs[range.clone()],
                run_id,
                floor,
                self.options.block_postings_max,
            )?;
            let meta = {
                let mut m = self.mem.write();
                let mut list = m.runs.to_vec();
                list.splice(range.clone(), [merged]);
                let old = std::mem::replace(&mut m.runs, Arc::new(list));
                retired
                    .pending
                    .push((old, runs[range].iter().map(|r| r.id).collect()));
                m.meta()
            };
            self.write_meta(&meta)?;
        }
    }

    /// Deletes the blocks of retired runs that no reader can reach any more. The meta
    /// record that dropped them was written first, so a crash leaves only garbage.
    fn purge(&self, retired: &mut Retired) -> Result<()> {
        let mut keep = Vec::new();
        for (list, ids) in retired.pending.drain(..) {
            if Arc::strong_count(&list) == 1 {
                for id in ids {
                    run::delete_run(&self.db, id)?;
                }
            } else {
                keep.push((list, ids));
            }
        }
        retired.pending = keep;
        Ok(())
    }

    /// After log retention removed ids below `first_id`: never return them again, and
    /// delete the runs, and the blocks of straddling runs, that hold only such ids. If
    /// `first_id` is above the watermark, the watermark and checkpoint move up to it
    /// (those ids will never be fed).
    ///
    /// # Errors
    /// I/O or store errors.
    pub fn set_floor(&self, first_id: ActivityId) -> Result<()> {
        let mut retired = self.write_lock.lock();
        self.complete_job(&mut retired)?;
        let first_id = first_id.get();
        let (meta, straddling) = {
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
            let (dead, live): (Vec<Run>, Vec<Run>) =
                m.runs.iter().partition(|r| r.end_id <= first_id);
            let straddling: Vec<Run> = live
                .iter()
                .filter(|r| r.first_id < first_id)
                .copied()
                .collect();
            // Ids below the floor are never fed again, so after a crash feeding resumes
            // at the floor; every run ended at the old checkpoint, so none is left.
            if first_id > m.checkpoint {
                debug_assert!(live.is_empty());
                m.checkpoint = first_id;
            }
            if !dead.is_empty() {
                let old = std::mem::replace(&mut m.runs, Arc::new(live));
                retired
                    .pending
                    .push((old, dead.iter().map(|r| r.id).collect()));
            }
            (m.meta(), straddling)
        };
        // Persist the floor first: deleted blocks are below it, so readers never notice.
        self.write_meta(&meta)?;
        for r in straddling {
            self.drop_blocks_below(r, first_id)?;
        }
        self.purge(&mut retired)?;
        if self.options.flush_sync == FlushSync::Always {
            self.db.flush()?;
        }
        Ok(())
    }

    /// Deletes the blocks of run `r` whose ids are all below `floor`.
    fn drop_blocks_below(&self, r: Run, floor: u64) -> Result<()> {
        let (mut postings, mut blocks) = (0u64, 0u64);
        let mut batch = sled::Batch::default();
        for family in codec::FAMILIES {
            for kv in self.db.scan_prefix(codec::run_prefix(family, r.id)) {
                let (k, v) = kv?;
                // Damaged blocks stay for verify() to report; readers reject them anyway.
                let Ok((n, _, max_id)) = codec::block_header(&k, &v) else {
                    continue;
                };
                if max_id < floor {
                    batch.remove(k);
                    postings += u64::from(n);
                    blocks += 1;
                }
            }
        }
        if blocks == 0 {
            return Ok(());
        }
        let meta = {
            let mut m = self.mem.write();
            let list: Vec<Run> = m
                .runs
                .iter()
                .map(|x| {
                    let mut x = *x;
                    if x.id == r.id {
                        x.postings = x.postings.saturating_sub(postings);
                        x.blocks = x.blocks.saturating_sub(blocks);
                    }
                    x
                })
                .collect();
            m.runs = Arc::new(list);
            m.meta()
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
        let mut retired = self.write_lock.lock();
        // Everything is dropped: the background flush's run is not published.
        if let Some(job) = retired.job.take() {
            let _ = job.handle.join();
        }
        self.db.insert(
            META_KEY,
            codec::encode_meta(&empty_meta(MetaState::Incomplete)),
        )?;
        {
            let mut m = self.mem.write();
            m.active = Memtable::new(0);
            m.frozen = None;
            m.watermark = 0;
            m.checkpoint = 0;
            m.floor = 0;
            m.next_run = 0;
            m.runs = Arc::new(Vec::new());
        }
        retired.pending.clear();
        self.db.clear()?;
        self.db
            .insert(META_KEY, codec::encode_meta(&empty_meta(MetaState::Ready)))?;
        self.db.flush()?;
        self.bulk_active.store(false, AtomicOrdering::Release);
        Ok(())
    }

    /// The rebuild path: large sorted runs written without the live path's meta
    /// updates, merged down to `runs_max` at the end. Needs an empty index (after
    /// [`clear`](Self::clear), and [`set_floor`](Self::set_floor) if the log no longer
    /// starts at 0).
    pub fn bulk_loader(&self) -> BulkLoader<'_> {
        BulkLoader {
            index: self,
            mem: None,
            runs: Vec::new(),
            next_run: 0,
            job: None,
            writing: None,
            buffers: FlushBuffers::default(),
        }
    }

    pub(crate) fn snapshot(&self) -> (Snapshot, parking_lot::RwLockReadGuard<'_, Mem>) {
        let m = self.mem.read();
        (
            Snapshot {
                tree: sled::Tree::clone(&self.db),
                floor: m.floor,
                frozen: m.frozen.clone(),
                runs: Arc::clone(&m.runs),
                checked: Arc::clone(&self.checked),
            },
            m,
        )
    }

    /// A person's activities with ids in `range`, lazily, merged from sled and memory.
    pub fn person(&self, person: PersonId, range: IdRange, order: Order) -> PersonPostings {
        let (snap, m) = self.snapshot();
        read::PersonPostings::new(snap, &m.active, person, range, order)
    }

    /// The activities of several persons with ids in `range`, lazily, person by person
    /// in ascending order (each person's in id order). Many persons are read in one
    /// forward pass over each run's blocks, instead of one seek per person and run.
    pub fn persons(&self, persons: &[PersonId], range: IdRange) -> PersonsPostings {
        let (snap, m) = self.snapshot();
        read::PersonsPostings::new(snap, &m.active, persons, range)
    }

    /// A type's activities with occurred_at in `time` and ids in `ids`, in (occurred_at,
    /// id) order. Runs wholly outside `ids` are not read (`IdRange::all()` for every id):
    /// a caller that knows which ids a time range can hold (the log's segments know
    /// their times) spares a seek in every older run.
    pub fn by_type(
        &self,
        type_id: TypeId,
        time: TimeRange,
        ids: IdRange,
        order: Order,
    ) -> TypePostings {
        let (snap, m) = self.snapshot();
        read::TypePostings::new(snap, &m.active, type_id, time, ids, Some(order))
    }

    /// [`by_type`](Self::by_type) in no set order: each run's in (occurred_at, id) order,
    /// one run after the other, then the memtable's. For a reader that counts or
    /// collects them, which so skips comparing every posting's sort key across runs.
    pub fn by_type_unordered(
        &self,
        type_id: TypeId,
        time: TimeRange,
        ids: IdRange,
    ) -> TypePostings {
        let (snap, m) = self.snapshot();
        read::TypePostings::new(snap, &m.active, type_id, time, ids, None)
    }

    /// Activities of a type whose primary value key is in `key` and whose id is in `ids`,
    /// in (value key, id) order (for an exact key: id order). Runs wholly outside `ids`
    /// are not read (`IdRange::all()` for every id).
    pub fn by_primary(
        &self,
        type_id: TypeId,
        key: KeyRange<'_>,
        ids: IdRange,
        order: Order,
    ) -> ValuePostings {
        let (snap, m) = self.snapshot();
        read::ValuePostings::new(
            snap,
            &m.active,
            codec::FAMILY_PRIMARY,
            codec::primary_type_prefix(type_id.get()),
            key,
            ids,
            order,
        )
    }

    /// Activities of a type whose indexed attribute `attr` has a value key in `key` and
    /// whose id is in `ids`, in (value key, id) order.
    pub fn by_attribute(
        &self,
        type_id: TypeId,
        attr: AttributeId,
        key: KeyRange<'_>,
        ids: IdRange,
        order: Order,
    ) -> ValuePostings {
        let (snap, m) = self.snapshot();
        read::ValuePostings::new(
            snap,
            &m.active,
            codec::FAMILY_ATTRIBUTE,
            codec::attribute_type_prefix(type_id.get(), attr.get()),
            key,
            ids,
            order,
        )
    }

    /// Which of `persons` have at least `at_least` activities of `type_id` with
    /// occurred_at in `time` and ids in `range`, ascending. Unlike counting
    /// [`persons`](Self::persons)' postings, a person is read in older runs only while
    /// short of the count, so asking whether persons did a type they do often reads
    /// about one run's blocks.
    ///
    /// # Errors
    /// A damaged block or a sled error.
    pub fn persons_reaching(
        &self,
        persons: &[PersonId],
        type_id: TypeId,
        time: TimeRange,
        range: IdRange,
        at_least: u32,
    ) -> Result<Vec<PersonId>> {
        let (snap, m) = self.snapshot();
        let count =
            read::PersonsCount::new(&snap, &m.active, persons, type_id, time, range, at_least);
        // The runs are read without the memtable lock, so adds go on meanwhile.
        drop(m);
        count.finish(&snap)
    }

    /// Calls `f` with every person who has an activity with an id in `range`, from the
    /// by-person postings: a run wholly inside `range` gives its persons from its
    /// blocks' group keys, without decoding a posting. A person may come more than once.
    ///
    /// # Errors
    /// A damaged block or a sled error; `f` may have seen some persons.
    pub fn for_each_person(&self, range: IdRange, mut f: impl FnMut(PersonId)) -> Result<()> {
        let mut each = |p: u64| f(PersonId(p));
        let (snap, m) = self.snapshot();
        read::memtable_persons(&snap, &m.active, range, &mut each);
        // The runs are read without the memtable lock, so adds go on meanwhile.
        drop(m);
        read::run_persons(&snap, range, &mut each)
    }

    /// How many activities a person has (exact: it counts them).
    pub fn estimate_person(&self, person: PersonId) -> u64 {
        // A person's groups are small, and counting them costs one lookup.
        self.person(person, IdRange::all(), Order::Ascending)
            .filter(|r| r.is_ok())
            .count() as u64
    }

    /// About how many activities of a type fall in `time`, counting only the runs that
    /// meet `ids` (the blocks at the range's ends, and a run across the ids' ends, count
    /// whole).
    pub fn estimate_type(&self, type_id: TypeId, time: TimeRange, ids: IdRange) -> u64 {
        self.estimate_type_capped(type_id, time, ids, u64::MAX)
    }

    /// [`estimate_type`](Self::estimate_type), counted only until it passes `cap`: the
    /// answer is above `cap` exactly when the whole estimate is, and telling that costs
    /// about `cap` postings' blocks rather than every block in `time`.
    pub fn estimate_type_capped(
        &self,
        type_id: TypeId,
        time: TimeRange,
        ids: IdRange,
        cap: u64,
    ) -> u64 {
        let (snap, m) = self.snapshot();
        let mem = read::type_mem_count(&snap, &m.active, type_id, time, ids);
        // The runs are read without the memtable lock, so adds go on meanwhile.
        drop(m);
        mem.saturating_add(read::estimate_type_runs(
            &snap,
            type_id,
            time,
            ids,
            cap.saturating_sub(mem),
        ))
    }

    /// About how many activities of a type have a primary value key in `key`, counting
    /// only the runs that meet `ids` (and a run across its ends whole).
    pub fn estimate_primary(&self, type_id: TypeId, key: KeyRange<'_>, ids: IdRange) -> u64 {
        let prefix = codec::primary_type_prefix(type_id.get());
        self.estimate_values(codec::FAMILY_PRIMARY, &prefix, key, ids)
    }

    /// About how many activities of a type have attribute `attr` with a value key in
    /// `key`, counting as [`Index::estimate_primary`] does.
    pub fn estimate_attribute(
        &self,
        type_id: TypeId,
        attr: AttributeId,
        key: KeyRange<'_>,
        ids: IdRange,
    ) -> u64 {
        let prefix = codec::attribute_type_prefix(type_id.get(), attr.get());
        self.estimate_values(codec::FAMILY_ATTRIBUTE, &prefix, key, ids)
    }

    fn estimate_values(&self, family: u8, prefix: &[u8], key: KeyRange<'_>, ids: IdRange) -> u64 {
        let Some(bounds) = read::value_estimate_bounds(family, prefix, key, ids) else {
            return 0;
        };
        let (snap, m) = self.snapshot();
        let mem = read::value_mem_count(&snap, &m.active, &bounds);
        drop(m);
        mem.saturating_add(read::estimate_value_runs(&snap, &bounds))
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
            durable_postings: m.runs.iter().map(|r| r.postings).sum(),
            durable_blocks: m.runs.iter().map(|r| r.blocks).sum(),
            memtable_postings: (m.active.postings + frozen) as u64,
            disk_bytes,
        }
    }

    /// Decodes every block of the live runs and the meta record; returns every damaged
    /// one. Blocks of runs no longer listed (retired, awaiting deletion) are skipped.
    ///
    /// # Errors
    /// I/O or store errors while iterating.
    pub fn verify(&self) -> Result<Vec<IndexDamage>> {
        let runs = Arc::clone(&self.mem.read().runs);
        let mut damage = Vec::new();
        let mut push = |key: &[u8], b: codec::Bad| {
            damage.push(IndexDamage {
                family: codec::family_of(key),
                key: key.to_vec(),
                position: b.position,
                what: b.what,
            });
        };
        for kv in self.db.iter() {
            let (k, v) = kv?;
            match codec::family_of(&k) {
                Family::Person | Family::Type | Family::Primary | Family::Attribute => {
                    let live = codec::key_run(&k).is_some_and(|r| runs.iter().any(|x| x.id == r));
                    if !live {
                        continue;
                    }
                    if let Err(b) = codec::BlockView::open(&k, &v).and_then(|view| view.check_all())
                    {
                        push(&k, b);
                    }
                }
                Family::Meta if &*k == META_KEY => {
                    if let Err(b) = codec::decode_meta(&v) {
                        push(&k, b);
                    }
                }
                Family::Meta | Family::Unknown => push(
                    &k,
                    codec::Bad {
                        position: 0,
                        what: "unknown key",
                    },
                ),
            }
        }
        Ok(damage)
    }
}

impl Drop for Index {
    fn drop(&mut self) {
        // A background flush holds a handle on the store: let it end before the store
        // closes. Its run stays unpublished (garbage that `open` deletes): the index is
        // what the last meta record says, and the engine re-feeds from its checkpoint.
        // A job writing into a removed directory may never end: it is left to itself.
        if let Some(job) = self.write_lock.get_mut().job.take() {
            if self.dir.exists() {
                let _ = job.handle.join();
            }
        }
        // sled flushes when its last handle drops, and if its directory was removed
        // under the open index that flush waits forever for a write that cannot land.
        // Leaking the handle (its memory and file descriptors) is the lesser harm; the
        // index was derived state in a directory that no longer exists.
        if self.dir.exists() {
            // SAFETY: `db` is dropped only here, once, and `self` is not used after.
            unsafe { std::mem::ManuallyDrop::drop(&mut self.db) };
        }
    }
}

impl Drop for BulkLoader<'_> {
    fn drop(&mut self) {
        // The run writer holds a handle on the store: let it end with the loader. An
        // unfinished load's runs are never listed (the index opens as interrupted).
        if let Some(job) = self.job.take() {
            let _ = job.join();
        }
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
    runs: Vec<Run>,
    next_run: u64,
    /// The previous run, being written on a background thread while adds go on.
    job: Option<std::thread::JoinHandle<Result<Run>>>,
    /// The memtable `job` writes, filled again once the job is done.
    writing: Option<Arc<Memtable>>,
    /// The load's own sort buffers (its runs are larger than a memtable's), dropped with
    /// it.
    buffers: FlushBuffers,
}

impl BulkLoader<'_> {
    fn start(&mut self) -> Result<()> {
        let ix = self.index;
        if ix.bulk_active.swap(true, AtomicOrdering::AcqRel) {
            return Err(Error::BulkLoadActive);
        }
        let (start, floor, next_run) = {
            let m = ix.mem.read();
            if !m.active.is_empty() || m.frozen.is_some() || !m.runs.is_empty() {
                ix.bulk_active.store(false, AtomicOrdering::Release);
                return Err(Error::NotEmpty {
                    what: "index has postings",
                });
            }
            (m.watermark, m.floor, m.next_run)
        };
        let mut meta = empty_meta(MetaState::Incomplete);
        meta.checkpoint = start;
        meta.floor = floor;
        ix.db.insert(META_KEY, codec::encode_meta(&meta))?;
        self.mem = Some(Memtable::unchained(start));
        self.next_run = next_run;
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
        mem.reserve(self.index.options.bulk_postings_max);
        mem.add(docs);
        if mem.postings >= self.index.options.bulk_postings_max {
            self.write_run(true)?;
        }
        Ok(())
    }

    /// Waits for the run being written in the background, if any, and lists it.
    fn join_job(&mut self) -> Result<()> {
        if let Some(job) = self.job.take() {
            let run = job.join().map_err(|_| Error::Store {
                detail: "the bulk load's run writer panicked".into(),
            })??;
            self.runs.push(run);
        }
        Ok(())
    }

    /// Writes the memtable as a run: on a background thread (after the previous one has
    /// finished, which bounds memory to two memtables) while the caller goes on adding,
    /// or on this thread for the last run.
    fn write_run(&mut self, background: bool) -> Result<()> {
        let Some(mem) = self.mem.take() else {
            return Ok(());
        };
        let ix = self.index;
        let end = mem.end_id;
        let joined = self.join_job();
        // The table the finished job wrote, emptied, holds the next postings.
        let next = match self.writing.take().map(Arc::try_unwrap) {
            Some(Ok(mut spare)) => {
                spare.reset(end);
                spare
            }
            _ => Memtable::unchained(end),
        };
        self.mem = Some(next);
        joined?;
        if mem.is_empty() {
            return Ok(());
        }
        let floor = ix.mem.read().floor;
        let run_id = self.next_run;
        self.next_run += 1;
        let block_postings_max = ix.options.block_postings_max;
        let mem = Arc::new(mem);
        if background {
            let (db, job_mem) = (sled::Db::clone(&ix.db), Arc::clone(&mem));
            let buffers = Arc::clone(&self.buffers);
            let spawned = std::thread::Builder::new()
                .name("actlog-index-bulk".into())
                .spawn(move || {
                    run::write_memtable(
                        &db,
                        &job_mem,
                        run_id,
                        floor,
                        block_postings_max,
                        &mut buffers.lock(),
                    )
                });
            if let Ok(handle) = spawned {
                self.job = Some(handle);
                self.writing = Some(mem);
                return Ok(());
            }
        }
        let run = run::write_memtable(
            &ix.db,
            &mem,
            run_id,
            floor,
            block_postings_max,
            &mut self.buffers.lock(),
        )?;
        self.runs.push(run);
        Ok(())
    }

    /// Writes the rest, merges runs down to `runs_max`, then writes the checkpoint and
    /// makes the load visible and durable. Returns the new checkpoint.
    ///
    /// # Errors
    /// I/O or store errors.
    pub fn finish(mut self) -> Result<ActivityId> {
        let ix = self.index;
        let Some(end) = self.mem.as_ref().map(|m| m.end_id) else {
            return Ok(ix.checkpoint());
        };
        self.write_run(false)?;
        let floor = ix.mem.read().floor;
        // A bulk load merges pairs past `runs_max`: the least rewriting that brings its
        // runs, each as large as several memtables, back to `runs_max`.
        let policy = run::MergePolicy {
            unit_postings: ix.options.bulk_postings_max as u64,
            fanout: 0,
            runs_max: ix.options.runs_max,
        };
        // Nothing is visible yet: merged inputs are deleted at once.
        while let Some(range) = run::next_merge(&self.runs, &policy) {
            let merged = run::merge(
                &ix.db,
                &self.runs[range.clone()],
                self.next_run,
                floor,
                ix.options.block_postings_max,
            )?;
            self.next_run += 1;
            let old: Vec<Run> = self.runs.splice(range, [merged]).collect();
            for r in old {
                run::delete_run(&ix.db, r.id)?;
            }
        }
        let meta = Meta {
            format_version: FORMAT_VERSION,
            state: MetaState::Ready,
            checkpoint: end,
            floor,
            next_run: self.next_run,
            runs: self.runs.clone(),
        };
        ix.db.insert(META_KEY, codec::encode_meta(&meta))?;
        ix.db.flush()?;
        {
            let mut m = ix.mem.write();
            m.active = Memtable::new(end);
            m.watermark = end;
            m.checkpoint = end;
            m.next_run = self.next_run;
            m.runs = Arc::new(std::mem::take(&mut self.runs));
        }
        ix.bulk_active.store(false, AtomicOrdering::Release);
        Ok(ActivityId(end))
    }
}
