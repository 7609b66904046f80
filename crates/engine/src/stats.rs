//! Figures about an engine: counts, sizes, the index's progress.

use actlog_model::ActivityId;

use crate::engine::Engine;
use crate::error::Result;

/// What [`Engine::stats`] reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    /// Activities held (from `first_id` to `next_id`).
    pub activities: u64,
    /// The oldest id held.
    pub first_id: ActivityId,
    /// The id the next activity gets.
    pub next_id: ActivityId,
    /// Segment files of the activities log.
    pub segments: usize,
    /// Bytes of the activities log.
    pub log_bytes: u64,
    /// The earliest and latest occurred-at time (ms) of the activities held, from the
    /// time bounds the log keeps per segment; `None` when there are none. Ids follow
    /// the order of appends, not of occurrence, so the first and last id need not be
    /// the earliest and latest.
    pub occurred_range_ms: Option<(i64, i64)>,
    /// Activity types (standard and custom, not deleted).
    pub types: usize,
    /// Custom activity types (not deleted).
    pub custom_types: usize,
    /// Events in the catalog log.
    pub catalog_events: u64,
    /// Next id the index has not reached.
    pub index_watermark: ActivityId,
    /// Next id not yet durable in the index.
    pub index_checkpoint: ActivityId,
    /// Activities recorded but not yet indexed.
    pub index_lag: u64,
    /// Bytes of the index on disk.
    pub index_bytes: u64,
    /// Index bytes on disk per activity held.
    pub index_bytes_per_activity: f64,
    /// Posting blocks in the index.
    pub index_blocks: u64,
    /// The indexer's last error, if it is failing.
    pub indexer_error: Option<String>,
}

impl Engine {
    /// Counts, sizes and the index's progress.
    pub fn stats(&self) -> Result<Stats> {
        let inner = &self.inner;
        inner.check_open()?;
        let segments = inner.activities.segments();
        let first = inner.activities.first_offset().0;
        let next = inner.activities.next_offset().0;
        let catalog = inner.catalog.snapshot();
        let types: Vec<_> = catalog
            .list()
            .filter(|t| t.status() != actlog_model::TypeStatus::Deleted)
            .collect();
        let index = inner.index.stats();
        let activities = next - first;
        Ok(Stats {
            activities,
            first_id: ActivityId(first),
            next_id: ActivityId(next),
            segments: segments.len(),
            log_bytes: segments.iter().map(|s| s.bytes).sum(),
            occurred_range_ms: segments
                .iter()
                .filter(|s| s.timestamp_ms_min <= s.timestamp_ms_max)
                .map(|s| (s.timestamp_ms_min, s.timestamp_ms_max))
                .reduce(|(a, b), (c, d)| (a.min(c), b.max(d))),
            types: types.len(),
            custom_types: types.iter().filter(|t| t.id().is_custom()).count(),
            catalog_events: inner.catalog.events(),
            index_watermark: index.watermark,
            index_checkpoint: index.checkpoint,
            index_lag: next.saturating_sub(index.watermark.get()),
            index_bytes: index.disk_bytes,
            index_bytes_per_activity: if activities == 0 {
                0.0
            } else {
                index.disk_bytes as f64 / activities as f64
            },
            index_blocks: index.durable_blocks,
            indexer_error: inner.indexer.failure(),
        })
    }
}
