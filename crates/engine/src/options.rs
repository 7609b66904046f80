//! Engine configuration.

use std::sync::Arc;

use actlog_log::{Storage, SyncPolicy};

/// How an [`Engine`](crate::Engine) is configured. Every field has a sensible default.
///
/// ```
/// use actlog::{Options, SyncPolicy};
///
/// let options = Options {
///     sync: SyncPolicy::IntervalMs(100),
///     ..Options::default()
/// };
/// assert_eq!(options.batch_items_max, 10_000);
/// ```
#[derive(Debug, Clone)]
pub struct Options {
    /// When an append is durable. `Default = SyncPolicy::Always`: `append_batch` returns
    /// only after an fdatasync covers the batch (shared with concurrent callers).
    pub sync: SyncPolicy,
    /// Largest number of activities one `append_batch` call accepts; a larger batch is
    /// refused whole. `Default = 10_000`.
    pub batch_items_max: usize,
    /// The idempotency window: keys of this many most recent activities are remembered.
    /// `Default = 1_000_000`. Rebuilding it on open reads at most this many records.
    pub dedupe_window_records: u64,
    /// Most live (not deleted) custom activity types. `Default = 100`; Marketo allots 10 by
    /// default (its error 1027), and a server that must match it exactly can set that.
    pub custom_types_max: usize,
    /// Activity log segments roll over before passing this size. `Default = 128 MiB`.
    pub segment_bytes_max: u64,
    /// Largest encoded activity. `Default = 1 MiB`.
    pub record_bytes_max: u32,
    /// Whether the activity log is read through read-only memory maps of its segment
    /// files instead of positional reads: fetches by id (a query's index plans, `get`)
    /// and scans (replay, log-scan plans, the indexer) then cost no system call and no
    /// copy. `Default = true`. Mapped pages count in resident memory once read, though
    /// the kernel may drop them; see `LogOptions::map_reads`.
    pub map_log_reads: bool,
    /// How many activity log segments fetches by id keep mapped at once (with
    /// `map_log_reads`); the least recently used beyond it are unmapped, which bounds
    /// the resident memory of their pages. `Default = 8` (1 GiB of 128 MiB segments).
    pub mapped_log_segments_max: usize,
    /// How the index is kept.
    pub index: actlog_index::IndexOptions,
    /// How long a read-your-writes query waits for the indexer before it fails with
    /// [`Error::IndexLagging`](crate::Error::IndexLagging). `Default = 30_000`.
    pub index_wait_ms: u64,
    /// The indexer flushes its in-memory postings to disk at least this often while
    /// activities arrive, bounding the work of the next open. Under sync policies weaker
    /// than `Always` a flush waits until the log is durable that far (see `sync`).
    /// `Default = 5_000`.
    pub index_flush_interval_ms: u64,
    /// Where the logs' bytes go. `Default` is the real file system; tests pass an in-memory
    /// store that injects faults. The index always lives on the real file system.
    pub storage: Option<Arc<dyn Storage>>,
    /// Called with (activities done, activities in all) while `open` rebuilds a missing or
    /// damaged index, or one `rebuild_index` dropped. `Default = None`.
    pub rebuild_progress: Option<ProgressFn>,
    /// Whether `open` deletes the index directory, once it holds the engine directory's
    /// lock, and rebuilds the index from the log into a fresh one (what `actlog reindex`
    /// does). [`Engine::reindex`](crate::Engine::reindex) on an open engine empties the
    /// index in place instead, and the store keeps the old index's bytes until it
    /// reclaims them: at 10 M activities 50 bytes per activity after an in-place
    /// rebuild, 33–35 after a fresh one. `Default = false`.
    pub rebuild_index: bool,
}

/// A progress callback: (done, total).
#[derive(Clone)]
pub struct ProgressFn(pub Arc<dyn Fn(u64, u64) + Send + Sync>);

impl ProgressFn {
    /// Wraps a closure.
    pub fn new(f: impl Fn(u64, u64) + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    /// Reports progress.
    pub fn call(&self, done: u64, total: u64) {
        (self.0)(done, total);
    }
}

impl std::fmt::Debug for ProgressFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressFn")
    }
}

impl Default for Options {
    fn default() -> Self {
        Self {
            sync: SyncPolicy::Always,
            batch_items_max: 10_000,
            dedupe_window_records: 1_000_000,
            custom_types_max: 100,
            segment_bytes_max: 128 * 1024 * 1024,
            record_bytes_max: 1024 * 1024,
            map_log_reads: true,
            mapped_log_segments_max: 8,
            index: actlog_index::IndexOptions::default(),
            index_wait_ms: 30_000,
            index_flush_interval_ms: 5_000,
            storage: None,
            rebuild_progress: None,
            rebuild_index: false,
        }
    }
}
