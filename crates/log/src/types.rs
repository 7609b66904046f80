//! Plain value types of the public API: offsets, options, records and reports.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::error::CorruptionKind;
use crate::storage::{FsStorage, Storage};

/// The position of a record in the log: dense, starting at 0, never reused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Offset(pub u64);

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl From<u64> for Offset {
    fn from(value: u64) -> Self {
        Offset(value)
    }
}

/// When appended records are made durable, and so when they become visible to readers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SyncPolicy {
    /// Every append returns only after an `fdatasync` covers it; concurrent appends share
    /// one sync. A record is visible to readers only once durable, so nothing a reader saw
    /// can be taken away by a power loss.
    #[default]
    Always,
    /// A background thread syncs every this many milliseconds (must be > 0). Records are
    /// visible once written; a power loss can take away the last interval.
    IntervalMs(u32),
    /// Syncs only on [`Log::sync`](crate::Log::sync), [`Log::close`](crate::Log::close) and
    /// segment roll-over. Records are visible once written.
    Never,
}

/// Configuration of a [`Log`](crate::Log); checked by [`Log::open`](crate::Log::open).
#[derive(Debug, Clone)]
pub struct LogOptions {
    /// A segment rolls over when the next record would make it larger than this.
    /// Default = 128 MiB.
    pub segment_bytes_max: u64,
    /// Payloads larger than this are refused with `Error::RecordTooLarge`. Default = 1 MiB.
    pub record_bytes_max: u32,
    /// Durability and visibility of appends. Default = [`SyncPolicy::Always`].
    pub sync: SyncPolicy,
    /// Spacing of the sparse offset index: a lookup scans at most about this many bytes.
    /// Default = 4096.
    pub index_interval_bytes: u32,
    /// Whether reads go through read-only memory maps of the segment files, which cost
    /// no system call and no copy per read, instead of positional reads; storage that
    /// does not map files (such as [`MemStorage`](crate::MemStorage)) reads either way.
    /// Reads by offset ([`Log::read`](crate::Log::read),
    /// [`PointReader`](crate::PointReader)) share one map per segment, for the
    /// `mapped_segments_max` segments used most recently; a scan
    /// ([`LogIter`](crate::LogIter)) maps the segment it is in and lets go of it when it
    /// moves on. The mapped pages are the page cache's: the kernel may drop them under
    /// memory pressure, but they count in the process's resident memory once read, up
    /// to one segment per scan. Default = `true`.
    pub map_reads: bool,
    /// How many segments point reads keep mapped at once (with `map_reads`): the least
    /// recently used beyond this are unmapped, so the resident memory of their pages
    /// stays within this many segments (with 0, each read maps its segment anew).
    /// Default = 8 (1 GiB of 128 MiB segments).
    pub mapped_segments_max: usize,
    /// Where the bytes go. Default = [`FsStorage`], the real file system.
    pub storage: Arc<dyn Storage>,
}

impl Default for LogOptions {
    fn default() -> Self {
        Self {
            segment_bytes_max: 128 * 1024 * 1024,
            record_bytes_max: 1024 * 1024,
            sync: SyncPolicy::Always,
            index_interval_bytes: 4096,
            map_reads: true,
            mapped_segments_max: 8,
            storage: Arc::new(FsStorage),
        }
    }
}

/// A record read back from the log, owning its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Where it is in the log.
    pub offset: Offset,
    /// The timestamp given at append.
    pub timestamp_ms: i64,
    /// The bytes given at append.
    pub payload: Vec<u8>,
}

/// A record borrowed from a reader's buffer, valid until the reader moves on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRef<'a> {
    /// Where it is in the log.
    pub offset: Offset,
    /// The timestamp given at append.
    pub timestamp_ms: i64,
    /// The bytes given at append.
    pub payload: &'a [u8],
}

impl RecordRef<'_> {
    /// Copies the payload into an owned [`Record`].
    pub fn to_record(&self) -> Record {
        Record {
            offset: self.offset,
            timestamp_ms: self.timestamp_ms,
            payload: self.payload.to_vec(),
        }
    }
}

/// What the log knows about one segment, without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentInfo {
    /// Offset of its first record (also its file name).
    pub base_offset: Offset,
    /// One past its last visible record.
    pub end_offset: Offset,
    /// Visible records in it.
    pub record_count: u64,
    /// Smallest record timestamp (`i64::MAX` when empty).
    pub timestamp_ms_min: i64,
    /// Largest record timestamp (`i64::MIN` when empty).
    pub timestamp_ms_max: i64,
    /// Bytes written to the file, header included.
    pub bytes: u64,
    /// Whether the segment is closed for appends (every segment but the last).
    pub sealed: bool,
}

/// A damaged place on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corruption {
    /// The segment file.
    pub segment: PathBuf,
    /// Byte position in that file.
    pub position: u64,
    /// What was wrong.
    pub kind: CorruptionKind,
}

/// A torn tail that `open` cut off: an incomplete or bad last write with nothing valid after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// Where it was and what was wrong with it.
    pub at: Corruption,
    /// Bytes removed from the end of the segment.
    pub bytes_cut: u64,
}

/// What `open` found and did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OpenReport {
    /// Segments in the log.
    pub segments: usize,
    /// First offset held.
    pub first_offset: Offset,
    /// Offset the next append gets.
    pub next_offset: Offset,
    /// The torn tail cut from the last segment, if any.
    pub torn_tail: Option<TornTail>,
    /// Sealed segments whose side file was missing or damaged and was rebuilt by a scan.
    pub side_files_rebuilt: usize,
    /// Whether the last segment's header was incomplete (a crash while creating it) and
    /// was rewritten.
    pub header_rewritten: bool,
}

/// What a retention call removed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RetentionReport {
    /// Whole segments removed.
    pub segments_removed: usize,
    /// Records in them.
    pub records_removed: u64,
    /// Bytes of segment files removed.
    pub bytes_removed: u64,
    /// The log's first offset afterwards.
    pub first_offset: Offset,
}

/// What `verify` checked and every damaged place it found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VerifyReport {
    /// Segments scanned.
    pub segments_checked: usize,
    /// Valid records read.
    pub records_checked: u64,
    /// Bytes scanned.
    pub bytes_checked: u64,
    /// Each damaged place, in log order; empty when the log is sound.
    pub damage: Vec<Corruption>,
}

/// What `repair` cut.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RepairReport {
    /// The first damage, where the log now ends; `None` if nothing was damaged.
    pub cut_at: Option<Corruption>,
    /// Bytes removed (from the damaged segment and every later one).
    pub bytes_removed: u64,
    /// Later segments removed entirely.
    pub segments_removed: usize,
    /// The log's next offset after the repair.
    pub next_offset: Offset,
}
