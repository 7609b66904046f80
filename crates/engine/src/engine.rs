//! `Engine`: the directory, its logs and index, and the public operations on them.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use actlog_index::{Index, IndexState};
use actlog_log::{FsStorage, Log, LogOptions, Offset, Storage, StorageLock};
use actlog_model::{
    codec, Activity, ActivityId, ActivityType, AttributeChanges, AttributeDefinition, Catalog,
    NewActivity, TypeChanges, TypeDefinition, TypeRef,
};

use crate::catalog_store::CatalogStore;
use crate::dedupe::DedupeWindow;
use crate::error::{Error, Result};
use crate::indexer::Indexer;
use crate::options::Options;
use crate::rebuild;
use crate::replay::Replay;
use crate::Outcome;

/// Names inside an engine directory.
pub(crate) const LOCK_FILE: &str = "LOCK";
pub(crate) const CATALOG_DIR: &str = "catalog";
pub(crate) const ACTIVITIES_DIR: &str = "activities";
pub(crate) const INDEX_DIR: &str = "index";

/// An open activity log: one directory, its type catalog, its activities and its index.
///
/// `Engine` is `Send + Sync` and cheap to clone; clones share one engine. It is closed by
/// [`Engine::close`] (or when the last clone is dropped, without reporting errors).
///
/// ```
/// use actlog::{Engine, NewActivity, Options, Outcome, PersonId};
///
/// # fn main() -> Result<(), actlog::Error> {
/// let dir = tempfile::tempdir().map_err(|e| actlog::Error::Io { path: "tmp".into(), source: e })?;
/// let engine = Engine::open(dir.path(), Options::default())?;
/// let outcomes = engine.append_batch(vec![
///     NewActivity::new(PersonId(42), "visitWebpage", 1_762_041_600_000).primary(7),
/// ])?;
/// let id = outcomes[0].id().expect("recorded");
/// let activity = engine.get(id)?.expect("present");
/// assert_eq!(activity.person, PersonId(42));
/// engine.close()?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) dir: PathBuf,
    pub(crate) options: Options,
    pub(crate) catalog: Arc<CatalogStore>,
    pub(crate) activities: Arc<Log>,
    pub(crate) index: Arc<Index>,
    pub(crate) dedupe: DedupeWindow,
    pub(crate) indexer: Indexer,
    /// The next id, published to subscribers after every append.
    pub(crate) appended_tx: watch::Sender<u64>,
    closed: AtomicBool,
    _lock: Box<dyn StorageLock>,
}

impl Engine {
    /// Opens (creating if needed) the engine directory `dir`.
    ///
    /// Locks the directory, opens the catalog and activities logs (cutting a torn tail),
    /// replays the catalog, opens the index (rebuilding it from the log when it is missing,
    /// damaged, of another format or ahead of the log, or into a fresh directory with
    /// [`Options::rebuild_index`]), rebuilds the idempotency window, and starts the indexer.
    /// Opening costs time in proportion to the unindexed tail, not to the data.
    ///
    /// # Errors
    /// [`Error::Locked`] when another process has the directory open; a log error naming
    /// the file and position when a segment is damaged in a way that is not a torn tail;
    /// I/O errors.
    pub fn open(dir: impl AsRef<Path>, options: Options) -> Result<Engine> {
        let dir = dir.as_ref().to_path_buf();
        if options.batch_items_max == 0 {
            return Err(Error::InvalidOptions(
                "batch_items_max must be at least 1".into(),
            ));
        }
        let storage: Arc<dyn Storage> = options
            .storage
            .clone()
            .unwrap_or_else(|| Arc::new(FsStorage));
        storage.create_dir_all(&dir).map_err(|source| Error::Io {
            path: dir.clone(),
            source,
        })?;
        let lock = lock_dir(storage.as_ref(), &dir)?;

        let catalog = Arc::new(CatalogStore::open(
            &dir.join(CATALOG_DIR),
            Arc::clone(&storage),
            actlog_model::CatalogOptions {
                custom_types_max: options.custom_types_max,
            },
        )?);
        let log_options = LogOptions {
            segment_bytes_max: options.segment_bytes_max,
            record_bytes_max: options.record_bytes_max,
            sync: options.sync,
            map_reads: options.map_log_reads,
            mapped_segments_max: options.mapped_log_segments_max,
            storage: Arc::clone(&storage),
            ..LogOptions::default()
        };
        let (activities, _report) =
            Log::open(dir.join(ACTIVITIES_DIR), log_options).map_err(Error::activities)?;
        let activities = Arc::new(activities);

        let index_dir = dir.join(INDEX_DIR);
        if options.rebuild_index {
            // The index is derived state and always on the real file system; under the
            // directory's lock no other engine has it open.
            match std::fs::remove_dir_all(&index_dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(Error::Io {
                        path: index_dir,
                        source,
                    })
                }
            }
        }
        let (index, state) = Index::open(&index_dir, options.index.clone())?;
        let index = Arc::new(index);
        let rebuild_needed = match state {
            IndexState::NeedsRebuild { .. } => true,
            IndexState::Ready { checkpoint } => checkpoint.get() > activities.next_offset().0,
        };
        if rebuild_needed {
            rebuild::rebuild(&activities, &index, &catalog.snapshot(), &options)?;
        } else if index.floor().get() < activities.first_offset().0 {
            index.set_floor(ActivityId(activities.first_offset().0))?;
        }

        let dedupe = DedupeWindow::new(options.dedupe_window_records);

        let indexer = Indexer::start(
            Arc::clone(&activities),
            Arc::clone(&index),
            Arc::clone(&catalog),
            options.sync,
            options.index_flush_interval_ms,
        )?;
        let (appended_tx, _) = watch::channel(activities.next_offset().0);
        Ok(Engine {
            inner: Arc::new(Inner {
                dir,
                options,
                catalog,
                activities,
                index,
                dedupe,
                indexer,
                appended_tx,
                closed: AtomicBool::new(false),
                _lock: lock,
            }),
        })
    }

    /// The engine directory.
    pub fn path(&self) -> &Path {
        &self.inner.dir
    }

    /// The options the engine was opened with.
    pub fn options(&self) -> &Options {
        &self.inner.options
    }

    // ----- activity types -------------------------------------------------------------

    /// A snapshot of the type catalog, for rendering activities with their names.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.inner.catalog.snapshot()
    }

    /// Every activity type that is not deleted, standard and custom, by id.
    pub fn activity_types(&self) -> Vec<ActivityType> {
        self.inner
            .catalog
            .snapshot()
            .list()
            .filter(|t| t.status() != actlog_model::TypeStatus::Deleted)
            .cloned()
            .collect()
    }

    /// One activity type by id or API name (deleted types included, so old activities
    /// stay readable).
    pub fn activity_type(&self, r: impl Into<TypeRef>) -> Option<ActivityType> {
        let catalog = self.inner.catalog.snapshot();
        resolve(&catalog, &r.into())
            .ok()
            .and_then(|id| catalog.get(id).cloned())
    }

    /// Creates a custom activity type as a draft.
    ///
    /// # Errors
    /// [`Error::Model`] naming the rule broken (API name taken, too many attributes, ...).
    pub fn create_type(&self, definition: TypeDefinition) -> Result<ActivityType> {
        self.catalog_command(|c, now| c.create_type(definition, now))
    }

    /// Changes a type's names or description (in its draft).
    pub fn update_type(&self, r: impl Into<TypeRef>, changes: TypeChanges) -> Result<ActivityType> {
        let r = r.into();
        self.catalog_command(|c, now| c.update_type(resolve(c, &r)?, changes, now))
    }

    /// Adds attributes to a type's draft.
    pub fn add_attributes(
        &self,
        r: impl Into<TypeRef>,
        attributes: Vec<AttributeDefinition>,
    ) -> Result<ActivityType> {
        let r = r.into();
        self.catalog_command(|c, now| c.add_attributes(resolve(c, &r)?, attributes, now))
    }

    /// Renames or redescribes attributes in a type's draft.
    pub fn update_attributes(
        &self,
        r: impl Into<TypeRef>,
        changes: Vec<AttributeChanges>,
    ) -> Result<ActivityType> {
        let r = r.into();
        self.catalog_command(|c, now| c.update_attributes(resolve(c, &r)?, changes, now))
    }

    /// Removes attributes (by API name) from a type's draft. Their ids are never reused.
    pub fn remove_attributes(
        &self,
        r: impl Into<TypeRef>,
        api_names: Vec<String>,
    ) -> Result<ActivityType> {
        let r = r.into();
        self.catalog_command(|c, now| c.remove_attributes(resolve(c, &r)?, &api_names, now))
    }

    /// Approves a type's draft: activities are then validated against it.
    pub fn approve_type(&self, r: impl Into<TypeRef>) -> Result<ActivityType> {
        let r = r.into();
        self.catalog_command(|c, now| c.approve(resolve(c, &r)?, now))
    }

    /// Discards a type's draft, keeping the approved version.
    pub fn discard_draft(&self, r: impl Into<TypeRef>) -> Result<ActivityType> {
        let r = r.into();
        self.catalog_command(|c, now| c.discard_draft(resolve(c, &r)?, now))
    }

    /// Deletes a type: its recorded activities stay readable, new ones are refused.
    pub fn delete_type(&self, r: impl Into<TypeRef>) -> Result<ActivityType> {
        let r = r.into();
        self.catalog_command(|c, now| c.delete(resolve(c, &r)?, now))
    }

    fn catalog_command(
        &self,
        command: impl FnOnce(&Catalog, i64) -> actlog_model::Result<actlog_model::CatalogEvent>,
    ) -> Result<ActivityType> {
        self.inner.check_open()?;
        let (catalog, event) = self.inner.catalog.execute(command)?;
        catalog
            .get(event.type_id())
            .cloned()
            .ok_or(Error::Model(actlog_model::Error::UnknownType(
                event.type_id(),
            )))
    }

    // ----- activities -----------------------------------------------------------------

    /// Records activities. Returns one [`Outcome`] per input, in order: added with its id,
    /// a duplicate of an earlier id (same idempotency key), or skipped with every reason.
    /// One bad item never stops the others. Returns once the batch is as durable as
    /// [`Options::sync`] promises.
    ///
    /// # Errors
    /// Only when nothing was recorded: [`Error::BatchTooLarge`], a log error (a full disk,
    /// a failed fsync: the engine then refuses appends until reopened), [`Error::Closed`].
    pub fn append_batch(&self, items: Vec<NewActivity>) -> Result<Vec<Outcome>> {
        crate::append::append_batch(&self.inner, items)
    }

    /// Records one activity; see [`append_batch`](Self::append_batch).
    pub fn append(&self, item: NewActivity) -> Result<Outcome> {
        let mut outcomes = self.append_batch(vec![item])?;
        Ok(outcomes.pop().unwrap_or(Outcome::Skipped {
            reasons: Vec::new(),
        }))
    }

    /// The activity with this id, or `None` when it does not exist (not yet recorded, or
    /// removed by retention).
    ///
    /// # Errors
    /// Damage on disk, as a typed error naming the segment and position.
    pub fn get(&self, id: ActivityId) -> Result<Option<Activity>> {
        self.inner.get(id)
    }

    /// Every activity from `from` (or the first one held, if later) to the end as of now,
    /// in id order, streaming with constant memory.
    pub fn replay(&self, from: ActivityId) -> Result<Replay> {
        self.inner.check_open()?;
        Replay::new(Arc::clone(&self.inner.activities), from, None)
    }

    /// Activities with ids in `[from, to)`, in id order (for parallel scans).
    pub fn replay_range(&self, from: ActivityId, to: ActivityId) -> Result<Replay> {
        self.inner.check_open()?;
        Replay::new(Arc::clone(&self.inner.activities), from, Some(to))
    }

    /// The id the next recorded activity will get.
    pub fn next_id(&self) -> ActivityId {
        ActivityId(self.inner.activities.next_offset().0)
    }

    /// The oldest id still held (moves up with retention).
    pub fn first_id(&self) -> ActivityId {
        ActivityId(self.inner.activities.first_offset().0)
    }

    /// Waits until the index covers every activity recorded before this call.
    ///
    /// # Errors
    /// [`Error::IndexLagging`] after `Options::index_wait_ms`; [`Error::Indexer`] when the
    /// indexer is failing.
    pub fn wait_indexed(&self) -> Result<()> {
        self.inner.wait_indexed()
    }

    /// Forces an fdatasync of the activities log (useful under weaker sync policies).
    pub fn sync(&self) -> Result<()> {
        self.inner.activities.sync().map_err(Error::activities)
    }

    /// Removes whole segments whose newest activity occurred before `older_than_ms`.
    /// The index forgets their entries; reading their ids then returns `None`.
    pub fn retain(&self, older_than_ms: i64) -> Result<actlog_log::RetentionReport> {
        self.inner.check_open()?;
        let report = self
            .inner
            .activities
            .retain_older_than(older_than_ms)
            .map_err(Error::activities)?;
        self.inner
            .index
            .set_floor(ActivityId(self.inner.activities.first_offset().0))?;
        Ok(report)
    }

    /// Drops the index and rebuilds it from the log, reporting progress.
    pub fn reindex(&self, progress: Option<&dyn Fn(u64, u64)>) -> Result<()> {
        self.inner.check_open()?;
        self.inner.indexer.stop()?;
        let result = rebuild::rebuild_with_progress(
            &self.inner.activities,
            &self.inner.index,
            &self.inner.catalog.snapshot(),
            progress,
        );
        // The indexer is gone for good after `stop`; reindexing therefore restarts it.
        self.inner.indexer.restart()?;
        result
    }

    /// Syncs the logs, flushes the index and stops the indexer. Other clones of this
    /// engine see [`Error::Closed`] afterwards. The directory's lock is let go when the
    /// last clone of this engine and the last `QueryResults` are dropped (and a
    /// `QueryStream`'s query has stopped).
    pub fn close(self) -> Result<()> {
        self.inner.close()
    }
}

impl Inner {
    pub(crate) fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }

    /// Tells the indexer and subscribers that the log now ends at `next`.
    pub(crate) fn appended(&self, next: Offset) {
        self.indexer.notify();
        self.appended_tx.send_if_modified(|current| {
            if next.0 > *current {
                *current = next.0;
                true
            } else {
                false
            }
        });
    }

    pub(crate) fn get(&self, id: ActivityId) -> Result<Option<Activity>> {
        self.check_open()?;
        match self.activities.read(Offset(id.get())) {
            Ok(record) => codec::decode_activity(id, &record.payload)
                .map(Some)
                .map_err(|source| Error::Decode { id, source }),
            Err(actlog_log::Error::OffsetOutOfRange { .. }) => Ok(None),
            Err(err) => Err(Error::activities(err)),
        }
    }

    pub(crate) fn wait_indexed(&self) -> Result<()> {
        self.check_open()?;
        let target = ActivityId(self.activities.next_offset().0);
        self.indexer
            .wait_for(target, Duration::from_millis(self.options.index_wait_ms))
    }

    fn close(&self) -> Result<()> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        // Wake subscribers so they see the engine closed.
        self.appended_tx.send_modify(|_| ());
        let indexed = self.indexer.stop();
        let synced = self.activities.sync().map_err(Error::activities);
        // The index checkpoint must never pass the durable end of the log: flush it only
        // when the log is known durable.
        let flushed = match &synced {
            Ok(()) => self.index.flush().map_err(Error::from),
            Err(_) => Ok(()),
        };
        indexed.and(synced).and(flushed)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Best effort: errors on this path have no caller to go to; `close` reports them.
        let _ = self.close();
    }
}

/// Takes the engine directory's lock, or says who holds it.
pub(crate) fn lock_dir(storage: &dyn Storage, dir: &Path) -> Result<Box<dyn StorageLock>> {
    let lock_path = dir.join(LOCK_FILE);
    storage.try_lock(&lock_path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::WouldBlock {
            Error::Locked {
                dir: dir.to_path_buf(),
                lock: lock_path.clone(),
            }
        } else {
            Error::Io {
                path: lock_path.clone(),
                source,
            }
        }
    })
}

/// The id of a type named by id or API name.
fn resolve(catalog: &Catalog, r: &TypeRef) -> actlog_model::Result<actlog_model::TypeId> {
    match r {
        TypeRef::Id(id) => catalog
            .get(*id)
            .map(|t| t.id())
            .ok_or(actlog_model::Error::UnknownType(*id)),
        TypeRef::ApiName(name) => catalog
            .by_api_name(name)
            .map(|t| t.id())
            .ok_or_else(|| actlog_model::Error::UnknownTypeName(name.clone())),
    }
}
