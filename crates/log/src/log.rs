//! The log: open and recovery, appends with group commit, reads, retention, verify, repair.
//!
//! # Concurrency and group commit
//!
//! One writer mutex serializes appends: a batch is encoded into one reused buffer and
//! written with one positional write per segment it touches, then the segment's in-memory
//! metadata (sparse index, counts, timestamps) is extended. Syncing happens *outside* the
//! writer mutex, by leader/follower: an appender under [`SyncPolicy::Always`] that needs
//! durability and finds no sync running becomes the leader, captures the written end,
//! runs one `fdatasync` and publishes the new durable end; appenders arriving meanwhile
//! write their batches and wait, and the next leader's sync covers all of them. N threads
//! appending at once therefore cost about one sync per round, not N. A dedicated writer
//! thread would do the same with an extra hand-off per batch; leader/follower keeps the
//! uncontended path free of thread switches.
//!
//! Readers never take the writer mutex: they read the visible end (an atomic), find the
//! segment and the nearest sparse index entry, and read with positional reads on a shared
//! file handle. Bytes below the visible end are never rewritten, so no reader sees a
//! half-written frame.

use std::collections::VecDeque;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex, MutexGuard, RwLock};

use crate::error::{CorruptionKind, Error, Result};
use crate::format::{
    decode_segment_header, decode_side_file, encode_frame_with, encode_segment_header,
    encode_side_file, frame_bytes, SideFile, FRAME_HEADER_BYTES, SEGMENT_HEADER_BYTES,
};
use crate::segment::{
    find_next_valid, map_file, parse_segment_file_name, scan_frames, segment_file_name,
    side_file_name, FrameReader, Segment, SegmentMeta, Step,
};
use crate::storage::{FileMap, OpenMode, Storage, StorageFile, StorageLock};
use crate::types::{
    Corruption, LogOptions, Offset, OpenReport, Record, RecordRef, RepairReport, RetentionReport,
    SegmentInfo, SyncPolicy, TornTail, VerifyReport,
};

/// Name of the lock file inside a log directory.
pub const LOCK_FILE_NAME: &str = "LOCK";

/// Read size of sequential scans: large preads amortize the call cost over thousands of
/// frames.
const SCAN_CHUNK_BYTES: usize = 1 << 20;
/// Largest read of a batch of point reads going on forward (see [`LogIter::point`]).
const POINT_CHUNK_MAX_BYTES: usize = 256 << 10;
/// The append buffer is kept between batches, but not when one huge batch blew it up.
const APPEND_BUFFER_KEEP_BYTES: usize = 4 << 20;

fn io_error<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(io::Error) -> Error + 'a {
    move |source| Error::Io {
        path: path.to_path_buf(),
        op,
        source,
    }
}

fn corrupt(segment: &Path, position: u64, kind: CorruptionKind) -> Error {
    Error::Corrupt {
        segment: segment.to_path_buf(),
        position,
        kind,
    }
}

fn read_exact_at(file: &dyn StorageFile, buf: &mut [u8], position: u64) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = file.read_at(&mut buf[filled..], position + filled as u64)?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

#[derive(Debug)]
struct SyncState {
    /// One past the last record known durable.
    durable: u64,
    /// Whether a leader is running an fdatasync right now.
    syncing: bool,
}

#[derive(Debug)]
struct Writer {
    active: Arc<Segment>,
    buf: Vec<u8>,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    options: LogOptions,
    /// Ascending by base offset; the last one is the active segment.
    segments: RwLock<Vec<Arc<Segment>>>,
    writer: Mutex<Writer>,
    sync_state: Mutex<SyncState>,
    sync_done: Condvar,
    /// One past the last record readers may see.
    visible: AtomicU64,
    /// One past the last record written to a file.
    written: AtomicU64,
    first: AtomicU64,
    /// The segments whose maps point readers use, least recently used first; at most
    /// `mapped_segments_max` (see [`Inner::note_mapped`]).
    mapped: Mutex<VecDeque<Arc<Segment>>>,
    poisoned: AtomicBool,
    poison_cause: Mutex<Option<String>>,
    retention: Mutex<()>,
    background_stop: Mutex<bool>,
    background_wake: Condvar,
    _lock: Box<dyn StorageLock>,
}

/// An append-only log of opaque records in a directory of segment files.
///
/// `Send + Sync`; every method takes `&self`, so one `Log` can be shared by appenders and
/// readers on many threads (wrap it in an `Arc`).
#[derive(Debug)]
pub struct Log {
    inner: Arc<Inner>,
    background: Option<JoinHandle<()>>,
    closed: bool,
}

/// An iterator over records in offset order, holding one read buffer (constant memory).
///
/// It ends at the end that was visible when it was created (or at the end of its range).
/// After an error it yields nothing more.
#[derive(Debug)]
pub struct LogIter {
    inner: Arc<Inner>,
    next: u64,
    end: u64,
    segment: Option<Arc<Segment>>,
    segment_limit: u64,
    segment_end_offset: u64,
    /// Offset of the frame the reader is positioned at.
    reader_offset: u64,
    reader: FrameReader,
    /// How it reads segments: through maps (see [`LogOptions::map_reads`]) or the file.
    maps: MapUse,
    failed: bool,
}

impl Log {
    /// Opens (creating if needed) the log in `dir`, locks it, and recovers it.
    ///
    /// Sealed segments are loaded from their side files (rebuilt by a scan when missing
    /// or damaged); the last segment is checked record by record, and a torn tail (a bad
    /// or incomplete frame with no valid frame after it) is cut off, the file truncated
    /// and synced, and reported.
    ///
    /// # Errors
    ///
    /// `Locked` if another `Log` holds the directory; `Corrupt` for damage that valid
    /// records follow, a damaged sealed segment, or a hole between segments (see
    /// [`Log::repair`]); `InvalidOptions`; `Io`.
    pub fn open(dir: impl AsRef<Path>, options: LogOptions) -> Result<(Log, OpenReport)> {
        let dir = dir.as_ref().to_path_buf();
        validate_options(&options)?;
        let storage = Arc::clone(&options.storage);
        let lock = lock_dir(storage.as_ref(), &dir)?;
        let mut report = OpenReport::default();
        let bases = list_segments(storage.as_ref(), &dir)?;
        let mut segments: Vec<Arc<Segment>> = Vec::with_capacity(bases.len().max(1));
        for (i, &base) in bases.iter().enumerate() {
            let is_last = i + 1 == bases.len();
            let expected_base = segments.last().map(|s| s.meta.read().end_offset);
            let segment = open_segment(&dir, &options, base, is_last, expected_base, &mut report)?;
            segments.push(Arc::new(segment));
        }
        if segments.is_empty() {
            segments.push(Arc::new(create_segment(storage.as_ref(), &dir, 0)?));
        }
        let active = match segments.last() {
            Some(s) => Arc::clone(s),
            None => return Err(invalid("no segment after open")),
        };
        // Whatever survived in the last segment may still sit only in the page cache (a
        // process crash keeps it); syncing it once keeps "visible implies durable" true.
        active
            .file
            .sync_data()
            .map_err(io_error(&active.path, "sync_data"))?;
        let next = active.meta.read().end_offset;
        let first = segments.first().map_or(0, |s| s.base_offset);
        report.segments = segments.len();
        report.first_offset = Offset(first);
        report.next_offset = Offset(next);
        let inner = Arc::new(Inner {
            dir,
            segments: RwLock::new(segments),
            writer: Mutex::new(Writer {
                active,
                buf: Vec::new(),
            }),
            sync_state: Mutex::new(SyncState {
                durable: next,
                syncing: false,
            }),
            sync_done: Condvar::new(),
            visible: AtomicU64::new(next),
            written: AtomicU64::new(next),
            first: AtomicU64::new(first),
            mapped: Mutex::new(VecDeque::new()),
            poisoned: AtomicBool::new(false),
            poison_cause: Mutex::new(None),
            retention: Mutex::new(()),
            background_stop: Mutex::new(false),
            background_wake: Condvar::new(),
            _lock: lock,
            options,
        });
        let background = match inner.options.sync {
            SyncPolicy::IntervalMs(interval_ms) => {
                let inner = Arc::clone(&inner);
                let handle = std::thread::Builder::new()
                    .name("actlog-log-sync".into())
                    .spawn(move || inner.background_sync(interval_ms))
                    .map_err(io_error(Path::new("<thread>"), "spawn"))?;
                Some(handle)
            }
            SyncPolicy::Always | SyncPolicy::Never => None,
        };
        Ok((
            Log {
                inner,
                background,
                closed: false,
            },
            report,
        ))
    }

    /// Appends one record and returns its offset. See [`Log::append_batch`].
    ///
    /// # Errors
    ///
    /// As [`Log::append_batch`].
    pub fn append(&self, payload: &[u8], timestamp_ms: i64) -> Result<Offset> {
        let range = self.append_batch(&[(payload, timestamp_ms)])?;
        Ok(range.start)
    }

    /// Appends records with consecutive offsets, written with one write call per segment
    /// touched, and returns their offsets. Under [`SyncPolicy::Always`] it returns once an
    /// fdatasync covers them (shared with concurrent appenders) and they are visible.
    ///
    /// # Errors
    ///
    /// `RecordTooLarge` (nothing is written); `Poisoned` after an earlier failed write or
    /// sync; `Io` if this write or sync fails (which poisons the log).
    pub fn append_batch(&self, records: &[(&[u8], i64)]) -> Result<Range<Offset>> {
        let max = self.inner.options.record_bytes_max;
        for (payload, _) in records {
            if payload.len() as u64 > u64::from(max) {
                return Err(Error::RecordTooLarge {
                    len: payload.len() as u64,
                    max,
                });
            }
        }
        let range = self.inner.write_batch(records)?;
        if self.inner.options.sync == SyncPolicy::Always && !range.is_empty() {
            self.inner.wait_durable(range.end)?;
        }
        Ok(Offset(range.start)..Offset(range.end))
    }

    /// Makes every record written so far durable (and visible, under `Always`).
    ///
    /// # Errors
    ///
    /// `Poisoned`, or `Io` if the sync fails (which poisons the log).
    pub fn sync(&self) -> Result<()> {
        self.inner.check_poison()?;
        let target = self.inner.written.load(Ordering::Acquire);
        self.inner.wait_durable(target)
    }

    /// Reads the record at `offset`.
    ///
    /// # Errors
    ///
    /// `OffsetOutOfRange` outside `[first_offset, next_offset)`; `Corrupt` if its bytes
    /// fail their check; `Io`.
    pub fn read(&self, offset: Offset) -> Result<Record> {
        let (first, next) = self.inner.bounds();
        if offset.0 < first || offset.0 >= next {
            return Err(out_of_range(offset.0, first, next));
        }
        let mut iter = LogIter::point(Arc::clone(&self.inner), offset.0, offset.0 + 1);
        match iter.next_ref() {
            Some(Ok(r)) => Ok(r.to_record()),
            Some(Err(e)) => Err(e),
            None => Err(out_of_range(offset.0, first, next)),
        }
    }

    /// Iterates from `from` to the end visible now.
    ///
    /// # Errors
    ///
    /// `OffsetOutOfRange` if `from` is below `first_offset` or past `next_offset`.
    pub fn iter_from(&self, from: Offset) -> Result<LogIter> {
        let (_, next) = self.inner.bounds();
        self.iter_range(from, Offset(next))
    }

    /// Iterates over `[from, to)`, for parallel scans of disjoint ranges.
    ///
    /// # Errors
    ///
    /// `OffsetOutOfRange` unless `first_offset <= from <= to <= next_offset`.
    pub fn iter_range(&self, from: Offset, to: Offset) -> Result<LogIter> {
        let (first, next) = self.inner.bounds();
        if from.0 < first || from.0 > next {
            return Err(out_of_range(from.0, first, next));
        }
        if to.0 < from.0 || to.0 > next {
            return Err(out_of_range(to.0, first, next));
        }
        Ok(LogIter::new(
            Arc::clone(&self.inner),
            from.0,
            to.0,
            SCAN_CHUNK_BYTES,
        ))
    }

    /// Calls `visit` with every record from `from` to the end visible now, borrowing each
    /// payload from the read buffer (no allocation per record). Returns how many records
    /// were visited.
    ///
    /// # Errors
    ///
    /// As [`Log::iter_from`], plus `Corrupt` or `Io` met on the way (records before the
    /// damage have been visited).
    pub fn for_each_from(&self, from: Offset, mut visit: impl FnMut(RecordRef<'_>)) -> Result<u64> {
        let mut iter = self.iter_from(from)?;
        let mut count = 0;
        while let Some(r) = iter.next_ref() {
            visit(r?);
            count += 1;
        }
        Ok(count)
    }

    /// Reads the records at `offsets` in one forward pass, calling `visit` with each in
    /// the order given, borrowing its payload from one reused read buffer.
    ///
    /// For ascending offsets this costs one reader for the whole batch: offsets close
    /// together are read from the bytes already buffered, and a gap wider than the
    /// buffer is jumped through the sparse index, so a batch of nearby records costs
    /// about one sequential read rather than one point read each. Offsets that go
    /// backwards are served too, by starting the pass again. A caller that reads batch
    /// after batch keeps a [`PointReader`] instead, which keeps its buffer between them.
    ///
    /// # Errors
    ///
    /// As [`Log::read`], for the first offset that fails; the records before it have
    /// been visited.
    pub fn read_batch(&self, offsets: &[Offset], visit: impl FnMut(RecordRef<'_>)) -> Result<()> {
        self.point_reader().read_batch(offsets, visit)
    }

    /// A reader of records by offset that keeps its buffer and position from one
    /// [`PointReader::read_batch`] to the next.
    pub fn point_reader(&self) -> PointReader {
        PointReader {
            inner: Arc::clone(&self.inner),
            iter: None,
        }
    }

    /// First offset still held; moves up with retention.
    pub fn first_offset(&self) -> Offset {
        Offset(self.inner.first.load(Ordering::Acquire))
    }

    /// One past the last visible record: the offset the next append gets once nothing is
    /// in flight.
    pub fn next_offset(&self) -> Offset {
        Offset(self.inner.visible.load(Ordering::Acquire))
    }

    /// One past the last record known durable (covered by an fdatasync). Under
    /// [`SyncPolicy::Always`] it is never below [`next_offset`](Self::next_offset); under
    /// the other policies it trails it until the next sync.
    pub fn durable_offset(&self) -> Offset {
        Offset(self.inner.sync_state.lock().durable)
    }

    /// The log's directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Metadata of every segment, in log order, without reading any file.
    pub fn segments(&self) -> Vec<SegmentInfo> {
        let visible = self.inner.visible.load(Ordering::Acquire);
        let segments = self.inner.segments.read();
        segments
            .iter()
            .map(|s| {
                let m = s.meta.read();
                let end = m.end_offset.min(visible.max(m.base_offset));
                SegmentInfo {
                    base_offset: Offset(m.base_offset),
                    end_offset: Offset(end),
                    record_count: end - m.base_offset,
                    timestamp_ms_min: m.timestamp_ms_min,
                    timestamp_ms_max: m.timestamp_ms_max,
                    bytes: m.end_position,
                    sealed: m.sealed,
                }
            })
            .collect()
    }

    /// Removes every sealed segment whose records all lie below `offset`.
    ///
    /// # Errors
    ///
    /// `Io` if a file cannot be removed (segments removed before it stay removed).
    pub fn retain_before(&self, offset: Offset) -> Result<RetentionReport> {
        self.inner.retain_while(|m| m.end_offset <= offset.0)
    }

    /// Removes sealed segments, oldest first, while their newest timestamp is older than
    /// `timestamp_ms`; stops at the first segment that must stay, so the log stays dense.
    ///
    /// # Errors
    ///
    /// As [`Log::retain_before`].
    pub fn retain_older_than(&self, timestamp_ms: i64) -> Result<RetentionReport> {
        self.inner
            .retain_while(|m| m.timestamp_ms_max < timestamp_ms)
    }

    /// Scans every record of every segment and reports each damaged place.
    ///
    /// # Errors
    ///
    /// `Io` only; damage is reported in the [`VerifyReport`].
    pub fn verify(&self) -> Result<VerifyReport> {
        let segments = self.inner.segments.read().clone();
        let mut report = VerifyReport::default();
        let options = &self.inner.options;
        for segment in segments {
            let limit = segment.meta.read().end_position;
            report.segments_checked += 1;
            report.bytes_checked += limit;
            let mut header = [0u8; SEGMENT_HEADER_BYTES];
            let got = read_exact_at(segment.file.as_ref(), &mut header, 0)
                .map_err(io_error(&segment.path, "read"))?;
            match decode_segment_header(&header[..got]) {
                Ok(base) if base == segment.base_offset => {}
                Ok(base) => report.damage.push(Corruption {
                    segment: segment.path.clone(),
                    position: 0,
                    kind: CorruptionKind::BaseOffsetMismatch {
                        name: segment.base_offset,
                        header: base,
                    },
                }),
                Err(kind) => report.damage.push(Corruption {
                    segment: segment.path.clone(),
                    position: 0,
                    kind,
                }),
            }
            let mut meta = SegmentMeta::empty(segment.base_offset);
            loop {
                let scan = scan_frames(
                    segment.file.as_ref(),
                    meta,
                    limit,
                    options.record_bytes_max,
                    u32::MAX,
                )
                .map_err(io_error(&segment.path, "read"))?;
                let scanned = scan.meta;
                report.records_checked = report
                    .records_checked
                    .saturating_add(scanned.record_count());
                let Some((position, kind)) = scan.damage else {
                    break;
                };
                report.damage.push(Corruption {
                    segment: segment.path.clone(),
                    position,
                    kind,
                });
                let resume = find_next_valid(
                    segment.file.as_ref(),
                    position,
                    limit,
                    scanned.end_offset,
                    options.record_bytes_max,
                )
                .map_err(io_error(&segment.path, "read"))?;
                let Some((resume_position, resume_offset)) = resume else {
                    break;
                };
                // Resume the scan at the next valid frame; the counters of this pass are
                // already added.
                meta = SegmentMeta::empty(resume_offset);
                meta.end_position = resume_position;
            }
        }
        Ok(report)
    }

    /// Cuts the log at its first damaged place, for when the user decides that the records
    /// after it are lost: truncates that segment there, removes every later segment, and
    /// reports what was cut. Open the log again afterwards.
    ///
    /// # Errors
    ///
    /// `Locked` if the log is open; `InvalidOptions`; `Io`.
    pub fn repair(dir: impl AsRef<Path>, options: LogOptions) -> Result<RepairReport> {
        let dir = dir.as_ref();
        validate_options(&options)?;
        let storage = options.storage.as_ref();
        let _lock = lock_dir(storage, dir)?;
        let bases = list_segments(storage, dir)?;
        let mut report = RepairReport::default();
        let mut expected_base: Option<u64> = None;
        for (i, &base) in bases.iter().enumerate() {
            let path = dir.join(segment_file_name(base));
            let file = storage
                .open_file(&path, OpenMode::ReadWrite)
                .map_err(io_error(&path, "open"))?;
            let len = file.len_bytes().map_err(io_error(&path, "len"))?;
            let mut header = [0u8; SEGMENT_HEADER_BYTES];
            let got =
                read_exact_at(file.as_ref(), &mut header, 0).map_err(io_error(&path, "read"))?;
            let header_damage = match decode_segment_header(&header[..got]) {
                Ok(found) if found == base => None,
                Ok(found) => Some(CorruptionKind::BaseOffsetMismatch {
                    name: base,
                    header: found,
                }),
                Err(kind) => Some(kind),
            };
            let gap = match expected_base {
                Some(expected) if expected != base => Some(CorruptionKind::SegmentGap {
                    expected,
                    found: base,
                }),
                _ => None,
            };
            let damage = if let Some(kind) = gap {
                // Everything from this segment on is unreachable: drop it whole.
                Some((0, kind))
            } else if let Some(kind) = header_damage {
                Some((0, kind))
            } else {
                let scan = scan_frames(
                    file.as_ref(),
                    SegmentMeta::empty(base),
                    len,
                    options.record_bytes_max,
                    options.index_interval_bytes,
                )
                .map_err(io_error(&path, "read"))?;
                expected_base = Some(scan.meta.end_offset);
                report.next_offset = Offset(scan.meta.end_offset);
                scan.damage
            };
            let Some((position, kind)) = damage else {
                continue;
            };
            let side = dir.join(side_file_name(base));
            remove_if_exists(storage, &side)?;
            if position == 0 {
                // No valid header: keep an empty segment only if it is the first one, so
                // the log keeps its offsets; later ones go entirely.
                report.bytes_removed += len;
                if i == 0 {
                    file.set_len(0).map_err(io_error(&path, "set_len"))?;
                    file.write_all_at(&encode_segment_header(base), 0)
                        .map_err(io_error(&path, "write"))?;
                    file.sync_data().map_err(io_error(&path, "sync_data"))?;
                    report.next_offset = Offset(base);
                } else {
                    storage
                        .remove_file(&path)
                        .map_err(io_error(&path, "remove"))?;
                    report.segments_removed += 1;
                }
            } else {
                report.bytes_removed += len - position;
                file.set_len(position).map_err(io_error(&path, "set_len"))?;
                file.sync_data().map_err(io_error(&path, "sync_data"))?;
            }
            report.cut_at = Some(Corruption {
                segment: path.clone(),
                position,
                kind,
            });
            for &later in &bases[i + 1..] {
                let later_path = dir.join(segment_file_name(later));
                let later_file = storage
                    .open_file(&later_path, OpenMode::ReadWrite)
                    .map_err(io_error(&later_path, "open"))?;
                report.bytes_removed += later_file
                    .len_bytes()
                    .map_err(io_error(&later_path, "len"))?;
                drop(later_file);
                remove_if_exists(storage, &dir.join(side_file_name(later)))?;
                storage
                    .remove_file(&later_path)
                    .map_err(io_error(&later_path, "remove"))?;
                report.segments_removed += 1;
            }
            storage.sync_dir(dir).map_err(io_error(dir, "sync_dir"))?;
            break;
        }
        Ok(report)
    }

    /// Syncs everything written, records the active segment's metadata so the next open
    /// need not scan it, and releases the lock.
    ///
    /// # Errors
    ///
    /// `Poisoned` if an earlier failure poisoned the log (nothing more is written); `Io`.
    pub fn close(mut self) -> Result<()> {
        self.stop_background();
        self.closed = true;
        self.inner.check_poison()?;
        let target = self.inner.written.load(Ordering::Acquire);
        self.inner.wait_durable(target)?;
        let writer = self.inner.writer.lock();
        let side = writer.active.meta.read().to_side_file();
        write_side_file(
            self.inner.options.storage.as_ref(),
            &self.inner.dir,
            &writer.active,
            &side,
        )
    }

    fn stop_background(&mut self) {
        if let Some(handle) = self.background.take() {
            *self.inner.background_stop.lock() = true;
            self.inner.background_wake.notify_all();
            // A panic in the sync thread has nothing left to clean up; the log is closing.
            let _ = handle.join();
        }
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        self.stop_background();
        if !self.closed && !self.inner.poisoned.load(Ordering::Acquire) {
            // Best effort, like a process exiting: an error here has no one to go to, and
            // the next open recovers whatever the disk holds.
            let target = self.inner.written.load(Ordering::Acquire);
            let _ = self.inner.wait_durable(target);
        }
    }
}

impl Inner {
    fn bounds(&self) -> (u64, u64) {
        let next = self.visible.load(Ordering::Acquire);
        let first = self.first.load(Ordering::Acquire);
        (first, next)
    }

    fn check_poison(&self) -> Result<()> {
        if self.poisoned.load(Ordering::Acquire) {
            let cause = self
                .poison_cause
                .lock()
                .clone()
                .unwrap_or_else(|| "unknown".to_owned());
            return Err(Error::Poisoned { cause });
        }
        Ok(())
    }

    fn poison(&self, cause: &Error) {
        let mut slot = self.poison_cause.lock();
        if slot.is_none() {
            *slot = Some(cause.to_string());
        }
        self.poisoned.store(true, Ordering::Release);
    }

    fn write_batch(&self, records: &[(&[u8], i64)]) -> Result<Range<u64>> {
        let mut writer = self.writer.lock();
        self.check_poison()?;
        let start = writer.active.meta.read().end_offset;
        let mut next = start;
        let mut i = 0;
        let crc = crc32fast::Hasher::new();
        while i < records.len() {
            let chunk_start = i;
            let (position_start, segment_empty) = {
                let m = writer.active.meta.read();
                (m.end_position, m.end_offset == m.base_offset)
            };
            let writer = &mut *writer;
            writer.buf.clear();
            let mut position = position_start;
            while i < records.len() {
                let (payload, timestamp_ms) = records[i];
                let bytes = frame_bytes(payload.len());
                let fits = position + bytes <= self.options.segment_bytes_max;
                // A record never spans segments, and an empty segment takes any record
                // within record_bytes_max so roll-over always makes progress.
                let first_in_empty_segment = segment_empty && i == chunk_start;
                if !fits && !first_in_empty_segment {
                    break;
                }
                encode_frame_with(
                    &mut writer.buf,
                    next + (i - chunk_start) as u64,
                    timestamp_ms,
                    payload,
                    &crc,
                );
                position += bytes;
                i += 1;
            }
            if i > chunk_start {
                let active = &writer.active;
                if let Err(source) = active.file.write_all_at(&writer.buf, position_start) {
                    let err = Error::Io {
                        path: active.path.clone(),
                        op: "write",
                        source,
                    };
                    self.poison(&err);
                    return Err(err);
                }
                let mut m = active.meta.write();
                let mut at = position_start;
                for &(payload, timestamp_ms) in &records[chunk_start..i] {
                    let offset = m.end_offset;
                    m.note_record(
                        offset,
                        at,
                        payload.len(),
                        timestamp_ms,
                        self.options.index_interval_bytes,
                    );
                    at += frame_bytes(payload.len());
                }
                next = m.end_offset;
                drop(m);
                self.written.store(next, Ordering::Release);
                if self.options.sync != SyncPolicy::Always {
                    self.visible.fetch_max(next, Ordering::AcqRel);
                }
            }
            if i < records.len() {
                self.roll(writer)?;
            }
        }
        if writer.buf.capacity() > APPEND_BUFFER_KEEP_BYTES {
            writer.buf = Vec::new();
        }
        Ok(start..next)
    }

    /// Seals the active segment (synced, side file written) and starts a new one.
    /// Called with the writer mutex held.
    fn roll(&self, writer: &mut Writer) -> Result<()> {
        let old = Arc::clone(&writer.active);
        let result = (|| {
            old.file
                .sync_data()
                .map_err(io_error(&old.path, "sync_data"))?;
            let side = {
                let mut m = old.meta.write();
                m.sealed = true;
                m.to_side_file()
            };
            let end = side.base_offset + side.record_count;
            self.mark_durable(end);
            write_side_file(self.options.storage.as_ref(), &self.dir, &old, &side)?;
            create_segment(self.options.storage.as_ref(), &self.dir, end)
        })();
        match result {
            Ok(segment) => {
                let segment = Arc::new(segment);
                self.segments.write().push(Arc::clone(&segment));
                writer.active = segment;
                Ok(())
            }
            Err(err) => {
                self.poison(&err);
                Err(err)
            }
        }
    }

    fn mark_durable(&self, end: u64) {
        let mut state = self.sync_state.lock();
        if end > state.durable {
            state.durable = end;
        }
        if self.options.sync == SyncPolicy::Always {
            self.visible.fetch_max(state.durable, Ordering::AcqRel);
        }
        self.sync_done.notify_all();
    }

    /// Returns once records below `target` are durable, syncing as the leader if no sync
    /// is running, or waiting for the running one (group commit).
    fn wait_durable(&self, target: u64) -> Result<()> {
        let mut state = self.sync_state.lock();
        loop {
            if state.durable >= target {
                return Ok(());
            }
            self.check_poison()?;
            if state.syncing {
                self.sync_done.wait(&mut state);
                continue;
            }
            state.syncing = true;
            let result = MutexGuard::unlocked(&mut state, || self.sync_active());
            state.syncing = false;
            match result {
                Ok(covered) => {
                    if covered > state.durable {
                        state.durable = covered;
                    }
                    if self.options.sync == SyncPolicy::Always {
                        self.visible.fetch_max(state.durable, Ordering::AcqRel);
                    }
                    self.sync_done.notify_all();
                }
                Err(err) => {
                    self.sync_done.notify_all();
                    return Err(err);
                }
            }
        }
    }

    /// One fdatasync of the active segment; returns the end it covers.
    fn sync_active(&self) -> Result<u64> {
        let (file, path, covered) = {
            let writer = self.writer.lock();
            let covered = writer.active.meta.read().end_offset;
            (
                Arc::clone(&writer.active.file),
                writer.active.path.clone(),
                covered,
            )
        };
        match file.sync_data() {
            Ok(()) => Ok(covered),
            Err(source) => {
                let err = Error::Io {
                    path,
                    op: "sync_data",
                    source,
                };
                // A failed fsync may have dropped dirty pages; retrying could report
                // success for data that is gone, so the log stops here.
                self.poison(&err);
                Err(err)
            }
        }
    }

    fn background_sync(&self, interval_ms: u32) {
        let interval = Duration::from_millis(u64::from(interval_ms));
        loop {
            {
                let mut stop = self.background_stop.lock();
                if *stop {
                    return;
                }
                self.background_wake.wait_for(&mut stop, interval);
                if *stop {
                    return;
                }
            }
            if self.poisoned.load(Ordering::Acquire) {
                return;
            }
            let target = self.written.load(Ordering::Acquire);
            // A failure poisons the log, and appends report it; nothing to do here.
            let _ = self.wait_durable(target);
        }
    }

    /// The most bytes a segment whose valid contents end at `end_position` can ever
    /// hold: an active one grows up to `segment_bytes_max`, or by one record if it is
    /// empty (a record never spans segments).
    fn segment_bytes_bound(&self, end_position: u64) -> u64 {
        let one_record =
            SEGMENT_HEADER_BYTES as u64 + frame_bytes(self.options.record_bytes_max as usize);
        end_position
            .max(self.options.segment_bytes_max)
            .max(one_record)
    }

    /// Notes that a point reader uses `segment`'s map (which it has just made, if
    /// `mapped_now`), and unmaps the segments used least recently beyond
    /// `mapped_segments_max`, so that the pages point reads have touched, which count
    /// in the process's resident memory, stay bounded by the options.
    fn note_mapped(&self, segment: &Arc<Segment>, mapped_now: bool) {
        let mut recent = self.mapped.lock();
        if let Some(i) = recent.iter().position(|s| Arc::ptr_eq(s, segment)) {
            if i + 1 < recent.len() {
                let s = recent.remove(i);
                recent.extend(s);
            }
        } else if mapped_now {
            recent.push_back(Arc::clone(segment));
        }
        while recent.len() > self.options.mapped_segments_max {
            if let Some(oldest) = recent.pop_front() {
                oldest.unmap();
            }
        }
    }

    fn segment_for(&self, offset: u64) -> Option<Arc<Segment>> {
        let segments = self.segments.read();
        let i = segments.partition_point(|s| s.base_offset <= offset);
        let segment = segments.get(i.checked_sub(1)?)?;
        Some(Arc::clone(segment))
    }

    fn retain_while(&self, remove: impl Fn(&SegmentMeta) -> bool) -> Result<RetentionReport> {
        let _serial = self.retention.lock();
        let removed: Vec<Arc<Segment>> = {
            // The writer mutex keeps a roll from changing which segment is active meanwhile.
            let _writer = self.writer.lock();
            let mut segments = self.segments.write();
            let sealed = segments.len().saturating_sub(1);
            let count = segments[..sealed]
                .iter()
                .take_while(|s| {
                    let m = s.meta.read();
                    m.sealed && remove(&m)
                })
                .count();
            let removed: Vec<_> = segments.drain(..count).collect();
            if let Some(first) = segments.first() {
                self.first.store(first.base_offset, Ordering::Release);
            }
            removed
        };
        // A removed file's space is freed only once no map of it is left.
        self.mapped
            .lock()
            .retain(|s| !removed.iter().any(|r| Arc::ptr_eq(r, s)));
        for segment in &removed {
            segment.unmap();
        }
        let mut report = RetentionReport {
            first_offset: Offset(self.first.load(Ordering::Acquire)),
            ..RetentionReport::default()
        };
        let storage = self.options.storage.as_ref();
        for segment in removed {
            let m = segment.meta.read().clone();
            // Oldest first, each removal made durable before the next, so a crash leaves
            // a log that is still dense (a suffix of what it was).
            remove_if_exists(storage, &segment.side_path)?;
            storage
                .remove_file(&segment.path)
                .map_err(io_error(&segment.path, "remove"))?;
            storage
                .sync_dir(&self.dir)
                .map_err(io_error(&self.dir, "sync_dir"))?;
            report.segments_removed += 1;
            report.records_removed += m.record_count();
            report.bytes_removed += m.end_position;
        }
        Ok(report)
    }
}

/// Reads records by offset, batch after batch, keeping its read buffer and position
/// between batches: a query that fetches its matches in ascending batches reads each
/// byte of the log once, where a fresh reader per batch would read again the bytes
/// around each batch's start and allocate its buffer anew. Made by
/// [`Log::point_reader`]; it sees records appended after it was made.
#[derive(Debug)]
pub struct PointReader {
    inner: Arc<Inner>,
    /// Where the last batch left off (`None` before the first); after an error the
    /// next offset starts over.
    iter: Option<LogIter>,
}

impl PointReader {
    /// As [`Log::read_batch`].
    ///
    /// # Errors
    ///
    /// As [`Log::read_batch`].
    pub fn read_batch(
        &mut self,
        offsets: &[Offset],
        mut visit: impl FnMut(RecordRef<'_>),
    ) -> Result<()> {
        let (first, next) = self.inner.bounds();
        for &offset in offsets {
            if offset.0 < first || offset.0 >= next {
                return Err(out_of_range(offset.0, first, next));
            }
            let iter = match &mut self.iter {
                Some(it) => {
                    if it.next <= offset.0 && !it.failed {
                        // Records appended since the last batch are readable too.
                        it.end = next;
                    } else {
                        it.rewind(offset.0, next);
                    }
                    it
                }
                None => self
                    .iter
                    .insert(LogIter::point(Arc::clone(&self.inner), offset.0, next)),
            };
            iter.skip_to(offset.0);
            match iter.next_ref() {
                Some(Ok(r)) => visit(r),
                Some(Err(e)) => return Err(e),
                None => return Err(out_of_range(offset.0, first, next)),
            }
        }
        Ok(())
    }
}

/// How a [`LogIter`] reads its segments (see [`LogIter::map_for`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MapUse {
    /// Through the file, with positional reads.
    None,
    /// Through the segment's own map, shared by every point reader.
    Shared,
    /// Through a map of its own, of the segment it is in.
    Own,
}

/// How many records ahead of its reader a [`LogIter`] skips to by passing over them
/// rather than by looking the record up in its segment's sparse index.
const SKIP_WALK_RECORDS_MAX: u64 = 8;

impl LogIter {
    fn new(inner: Arc<Inner>, from: u64, to: u64, chunk_bytes: usize) -> Self {
        let reader = FrameReader::new(0, chunk_bytes);
        Self::with_reader(inner, from, to, reader, MapUse::Own)
    }

    /// An iterator reading with `reader`, through maps as `maps` says when the options
    /// let it map at all.
    fn with_reader(
        inner: Arc<Inner>,
        from: u64,
        to: u64,
        reader: FrameReader,
        maps: MapUse,
    ) -> Self {
        let maps = if inner.options.map_reads {
            maps
        } else {
            MapUse::None
        };
        LogIter {
            inner,
            next: from,
            end: to,
            segment: None,
            segment_limit: 0,
            segment_end_offset: 0,
            reader_offset: 0,
            reader,
            maps,
            failed: false,
        }
    }

    /// An iterator for point reads: the sparse index puts a record within about
    /// `index_interval_bytes` of the entry a read starts from, so the first read after
    /// each jump is that plus room for the record (8 KiB by default) instead of a scan's
    /// megabyte; reads that go on forward (a batch of nearby records) double in size.
    fn point(inner: Arc<Inner>, from: u64, to: u64) -> Self {
        let min_bytes = (inner.options.index_interval_bytes as usize + (4 << 10))
            .next_power_of_two()
            .min(POINT_CHUNK_MAX_BYTES);
        let reader = FrameReader::growing(0, min_bytes, POINT_CHUNK_MAX_BYTES);
        Self::with_reader(inner, from, to, reader, MapUse::Shared)
    }

    /// The offset the next record will have.
    pub fn next_offset(&self) -> Offset {
        Offset(self.next)
    }

    /// Starts over at `from`, reading up to `to`, keeping only the read buffer's
    /// allocation (a reader that goes back finds its segment again).
    fn rewind(&mut self, from: u64, to: u64) {
        self.next = from;
        self.end = to;
        self.segment = None;
        self.failed = false;
    }

    /// Moves forward so that the next record returned is `offset` (never backwards).
    /// Within the current segment the reader keeps its buffered bytes when `offset`
    /// lies in or near them, and jumps through the sparse index when the jump skips
    /// bytes not yet read.
    fn skip_to(&mut self, offset: u64) {
        if offset <= self.next {
            return;
        }
        self.next = offset;
        let Some(segment) = &self.segment else { return };
        if offset >= self.segment_end_offset {
            // The next read finds the segment that holds it.
            return;
        }
        debug_assert!(self.reader_offset <= offset);
        if offset.saturating_sub(self.reader_offset) <= SKIP_WALK_RECORDS_MAX {
            // A few records ahead: passing over their headers costs less than finding
            // the record in the sparse index.
            return;
        }
        let (entry, end) = segment.meta.read().locate_span(offset);
        if self.reader.seek_pays(entry.position) {
            self.reader.seek_within(entry.position, end);
            self.reader_offset = entry.offset;
        }
    }

    /// The map to read `segment` (whose valid bytes end at `limit`) through, if any: a
    /// point reader's is the segment's own, shared with other point readers (see
    /// [`Inner::note_mapped`]); a scan maps the segment it enters and keeps that map
    /// only while it reads there (it goes on with the same one when it enters the same
    /// segment again), so a scan of the whole log holds one segment's pages at a time.
    fn map_for(&self, segment: &Arc<Segment>, limit: u64) -> Option<Arc<FileMap>> {
        let bound = self.inner.segment_bytes_bound(limit);
        match self.maps {
            MapUse::None => None,
            MapUse::Shared => {
                let (map, mapped_now) = segment.mapped(bound);
                self.inner.note_mapped(segment, mapped_now);
                map
            }
            MapUse::Own => {
                let same = self
                    .segment
                    .as_ref()
                    .is_some_and(|s| Arc::ptr_eq(s, segment));
                match self.reader.map() {
                    Some(map) if same => Some(Arc::clone(map)),
                    _ => map_file(segment.file.as_ref(), bound),
                }
            }
        }
    }

    fn fail(&mut self, err: Error) -> Option<Result<RecordRef<'_>>> {
        self.failed = true;
        Some(Err(err))
    }

    /// The next record, borrowing its payload from the iterator's buffer.
    pub fn next_ref(&mut self) -> Option<Result<RecordRef<'_>>> {
        if self.failed {
            return None;
        }
        if self.next >= self.end {
            // An iterator kept for more (see `reset_range`) lets go of a sealed segment it
            // has read to the end, which retention may remove; it keeps the active one,
            // to go on from its place in it.
            if self.next >= self.segment_end_offset
                && self.segment.as_ref().is_some_and(|s| s.meta.read().sealed)
            {
                self.segment = None;
                // A removed file's space is freed only once no map of it is left.
                self.reader.read_file();
            }
            return None;
        }
        let need_segment = match &self.segment {
            None => true,
            Some(_) => self.next >= self.segment_end_offset,
        };
        if need_segment {
            let Some(segment) = self.inner.segment_for(self.next) else {
                let (first, next) = self.inner.bounds();
                return self.fail(out_of_range(self.next, first, next));
            };
            let ((entry, entry_end), limit, end_offset) = {
                let m = segment.meta.read();
                (m.locate_span(self.next), m.end_position, m.end_offset)
            };
            let map = self.map_for(&segment, limit);
            if self.next >= end_offset {
                let (first, next) = self.inner.bounds();
                return self.fail(out_of_range(self.next, first, next));
            }
            // Entering again the segment it was reading (its range was extended past the
            // records the segment held then), a reader at the very record wanted goes on
            // from there: the bytes it holds are the segment's, which never change.
            let in_place = self.reader_offset == self.next
                && self
                    .segment
                    .as_ref()
                    .is_some_and(|s| Arc::ptr_eq(s, &segment));
            if !in_place {
                self.reader.read_file();
                self.reader.seek_within(entry.position, entry_end);
                self.reader_offset = entry.offset;
            }
            match map {
                Some(map) => self.reader.read_map(&map, limit),
                None => self.reader.read_file(),
            }
            self.segment_limit = limit;
            self.segment_end_offset = end_offset;
            self.segment = Some(segment);
        }
        let max = self.inner.options.record_bytes_max;
        // Disjoint field borrows: no Arc clone per record on the hot path.
        let Self {
            segment,
            reader,
            reader_offset,
            next,
            segment_limit,
            ..
        } = self;
        let segment = segment.as_ref()?;
        let outcome: Result<(u64, i64)> = loop {
            // A record passed over is not returned: its checksum is not worth checking,
            // only that it is the record expected there (see `format::skip_frame`).
            if *reader_offset < *next {
                if let Some((offset, position)) = reader.skip(*segment_limit, max) {
                    if offset != *reader_offset {
                        let kind = CorruptionKind::OffsetMismatch {
                            expected: *reader_offset,
                            found: offset,
                        };
                        break Err(corrupt(&segment.path, position, kind));
                    }
                    *reader_offset += 1;
                    continue;
                }
            }
            let step = match reader.next(segment.file.as_ref(), *segment_limit, max) {
                Ok(step) => step,
                Err(source) => {
                    break Err(Error::Io {
                        path: segment.path.clone(),
                        op: "read",
                        source,
                    })
                }
            };
            match step {
                Step::Frame { frame, position } => {
                    if frame.offset != *reader_offset {
                        let kind = CorruptionKind::OffsetMismatch {
                            expected: *reader_offset,
                            found: frame.offset,
                        };
                        break Err(corrupt(&segment.path, position, kind));
                    }
                    *reader_offset += 1;
                    if frame.offset < *next {
                        continue;
                    }
                    *next += 1;
                    break Ok((frame.offset, frame.timestamp_ms));
                }
                Step::End => {
                    // The segment's metadata promised more records than its bytes hold.
                    let kind = CorruptionKind::Truncated {
                        needed: FRAME_HEADER_BYTES as u64,
                        available: 0,
                    };
                    break Err(corrupt(&segment.path, reader.position(), kind));
                }
                Step::Bad { position, kind } => break Err(corrupt(&segment.path, position, kind)),
            }
        };
        match outcome {
            Ok((offset, timestamp_ms)) => Some(Ok(RecordRef {
                offset: Offset(offset),
                timestamp_ms,
                payload: self.reader.payload(),
            })),
            Err(err) => self.fail(err),
        }
    }

    /// Makes the iterator go over `[from, to)`, as [`Log::iter_range`] would, keeping its
    /// read buffer; when `from` is where it stopped (and it met no error) it also keeps
    /// its place and the bytes it read ahead. A reader that follows the log batch after
    /// batch (the engine's indexer) so neither allocates nor zeroes a fresh buffer for
    /// each batch, nor reads again the bytes around each batch's start.
    ///
    /// # Errors
    ///
    /// `OffsetOutOfRange` unless `first_offset <= from <= to <= next_offset`; the
    /// iterator then yields nothing until a call that succeeds.
    pub fn reset_range(&mut self, from: Offset, to: Offset) -> Result<()> {
        let (first, next) = self.inner.bounds();
        let bad = if from.0 < first || from.0 > next {
            Some(from.0)
        } else if to.0 < from.0 || to.0 > next {
            Some(to.0)
        } else {
            None
        };
        if let Some(offset) = bad {
            self.failed = true;
            return Err(out_of_range(offset, first, next));
        }
        if self.failed || from.0 != self.next {
            self.rewind(from.0, to.0);
        } else {
            // The segment's bounds were read when the iterator entered it; records past
            // them are found by entering it again (see `next_ref`).
            self.end = to.0;
        }
        Ok(())
    }
}

impl Iterator for LogIter {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_ref().map(|r| r.map(|r| r.to_record()))
    }
}

fn out_of_range(offset: u64, first: u64, next: u64) -> Error {
    Error::OffsetOutOfRange {
        offset: Offset(offset),
        first: Offset(first),
        next: Offset(next),
    }
}

fn invalid(reason: &str) -> Error {
    Error::InvalidOptions {
        reason: reason.to_owned(),
    }
}

fn validate_options(options: &LogOptions) -> Result<()> {
    if options.record_bytes_max == 0 {
        return Err(invalid("record_bytes_max must be > 0"));
    }
    if options.index_interval_bytes == 0 {
        return Err(invalid("index_interval_bytes must be > 0"));
    }
    let smallest = SEGMENT_HEADER_BYTES as u64 + frame_bytes(options.record_bytes_max as usize);
    if options.segment_bytes_max < smallest {
        return Err(Error::InvalidOptions {
            reason: format!(
                "segment_bytes_max {} cannot hold one record of record_bytes_max {} (needs {smallest})",
                options.segment_bytes_max, options.record_bytes_max
            ),
        });
    }
    if options.sync == SyncPolicy::IntervalMs(0) {
        return Err(invalid("SyncPolicy::IntervalMs needs an interval > 0"));
    }
    Ok(())
}

fn lock_dir(storage: &dyn Storage, dir: &Path) -> Result<Box<dyn StorageLock>> {
    storage
        .create_dir_all(dir)
        .map_err(io_error(dir, "create_dir_all"))?;
    let path = dir.join(LOCK_FILE_NAME);
    match storage.try_lock(&path) {
        Ok(lock) => Ok(lock),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(Error::Locked { path }),
        Err(source) => Err(Error::Io {
            path,
            op: "lock",
            source,
        }),
    }
}

/// Base offsets of the segments in `dir`, ascending; removes leftover temporary files.
fn list_segments(storage: &dyn Storage, dir: &Path) -> Result<Vec<u64>> {
    let names = storage.list_dir(dir).map_err(io_error(dir, "list_dir"))?;
    let mut bases = Vec::new();
    for name in names {
        if let Some(base) = parse_segment_file_name(&name) {
            bases.push(base);
        } else if name.ends_with(".tmp") {
            remove_if_exists(storage, &dir.join(&name))?;
        }
    }
    bases.sort_unstable();
    Ok(bases)
}

fn remove_if_exists(storage: &dyn Storage, path: &Path) -> Result<()> {
    match storage.remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::Io {
            path: path.to_path_buf(),
            op: "remove",
            source,
        }),
    }
}

/// Creates a segment file with its header, synced, with its directory entry synced.
fn create_segment(storage: &dyn Storage, dir: &Path, base_offset: u64) -> Result<Segment> {
    let path = dir.join(segment_file_name(base_offset));
    let file = storage
        .open_file(&path, OpenMode::CreateNew)
        .map_err(io_error(&path, "create"))?;
    file.write_all_at(&encode_segment_header(base_offset), 0)
        .map_err(io_error(&path, "write"))?;
    file.sync_data().map_err(io_error(&path, "sync_data"))?;
    storage.sync_dir(dir).map_err(io_error(dir, "sync_dir"))?;
    Ok(Segment::new(
        base_offset,
        path,
        dir.join(side_file_name(base_offset)),
        file,
        SegmentMeta::empty(base_offset),
    ))
}

/// Writes a side file atomically: temporary file, sync, rename, directory sync.
fn write_side_file(
    storage: &dyn Storage,
    dir: &Path,
    segment: &Segment,
    side: &SideFile,
) -> Result<()> {
    let tmp = segment.side_path.with_extension("idx.tmp");
    remove_if_exists(storage, &tmp)?;
    let file = storage
        .open_file(&tmp, OpenMode::CreateNew)
        .map_err(io_error(&tmp, "create"))?;
    file.write_all_at(&encode_side_file(side), 0)
        .map_err(io_error(&tmp, "write"))?;
    file.sync_data().map_err(io_error(&tmp, "sync_data"))?;
    drop(file);
    storage
        .rename(&tmp, &segment.side_path)
        .map_err(io_error(&tmp, "rename"))?;
    storage.sync_dir(dir).map_err(io_error(dir, "sync_dir"))
}

/// Reads a side file; `None` when missing or damaged (the caller rebuilds it by a scan).
fn read_side_file(storage: &dyn Storage, path: &Path) -> Result<Option<SideFile>> {
    let file = match storage.open_file(path, OpenMode::ReadWrite) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(Error::Io {
                path: path.to_path_buf(),
                op: "open",
                source,
            })
        }
    };
    let len = file.len_bytes().map_err(io_error(path, "len"))?;
    // A side file holds 16 bytes per index entry; anything absurdly large is damage.
    if len > (1 << 32) {
        return Ok(None);
    }
    let mut bytes = vec![0u8; len as usize];
    let got = read_exact_at(file.as_ref(), &mut bytes, 0).map_err(io_error(path, "read"))?;
    bytes.truncate(got);
    Ok(decode_side_file(&bytes).ok())
}

/// Opens one existing segment during `Log::open`, recovering it if it is the last.
fn open_segment(
    dir: &Path,
    options: &LogOptions,
    base: u64,
    is_last: bool,
    expected_base: Option<u64>,
    report: &mut OpenReport,
) -> Result<Segment> {
    let storage = options.storage.as_ref();
    let path = dir.join(segment_file_name(base));
    let side_path = dir.join(side_file_name(base));
    if let Some(expected) = expected_base {
        if expected != base {
            return Err(corrupt(
                &path,
                0,
                CorruptionKind::SegmentGap {
                    expected,
                    found: base,
                },
            ));
        }
    }
    let file = storage
        .open_file(&path, OpenMode::ReadWrite)
        .map_err(io_error(&path, "open"))?;
    let len = file.len_bytes().map_err(io_error(&path, "len"))?;
    if len < SEGMENT_HEADER_BYTES as u64 && is_last {
        // A crash while creating the segment: it cannot hold a record yet.
        file.set_len(0).map_err(io_error(&path, "set_len"))?;
        file.write_all_at(&encode_segment_header(base), 0)
            .map_err(io_error(&path, "write"))?;
        file.sync_data().map_err(io_error(&path, "sync_data"))?;
        report.header_rewritten = true;
        remove_if_exists(storage, &side_path)?;
        return Ok(Segment::new(
            base,
            path,
            side_path,
            file,
            SegmentMeta::empty(base),
        ));
    }
    let mut header = [0u8; SEGMENT_HEADER_BYTES];
    let got = read_exact_at(file.as_ref(), &mut header, 0).map_err(io_error(&path, "read"))?;
    let found = decode_segment_header(&header[..got]).map_err(|kind| corrupt(&path, 0, kind))?;
    if found != base {
        return Err(corrupt(
            &path,
            0,
            CorruptionKind::BaseOffsetMismatch {
                name: base,
                header: found,
            },
        ));
    }
    let side = read_side_file(storage, &side_path)?
        .filter(|s| s.base_offset == base && s.segment_bytes == len);
    let meta = match side {
        Some(side) => {
            let mut meta = SegmentMeta::from_side_file(side);
            if is_last {
                // Written at a clean close; appends will make it stale, so it goes now.
                meta.sealed = false;
                remove_if_exists(storage, &side_path)?;
                storage.sync_dir(dir).map_err(io_error(dir, "sync_dir"))?;
            }
            meta
        }
        None => {
            let scan = scan_frames(
                file.as_ref(),
                SegmentMeta::empty(base),
                len,
                options.record_bytes_max,
                options.index_interval_bytes,
            )
            .map_err(io_error(&path, "read"))?;
            let mut meta = scan.meta;
            if let Some((position, kind)) = scan.damage {
                if !is_last {
                    // Sealed segments were synced whole before the next one existed: any
                    // damage here is media damage, never a torn write.
                    return Err(corrupt(&path, position, kind));
                }
                let follower = find_next_valid(
                    file.as_ref(),
                    position,
                    len,
                    meta.end_offset,
                    options.record_bytes_max,
                )
                .map_err(io_error(&path, "read"))?;
                if follower.is_some() {
                    // Valid records after the damage were acknowledged once: cutting
                    // here would silently drop them. The user decides (Log::repair).
                    return Err(corrupt(&path, position, kind));
                }
                file.set_len(position).map_err(io_error(&path, "set_len"))?;
                file.sync_data().map_err(io_error(&path, "sync_data"))?;
                report.torn_tail = Some(TornTail {
                    at: Corruption {
                        segment: path.clone(),
                        position,
                        kind,
                    },
                    bytes_cut: len - position,
                });
            }
            if is_last {
                remove_if_exists(storage, &side_path)?;
            } else {
                meta.sealed = true;
                let segment_for_side = Segment::new(
                    base,
                    path.clone(),
                    side_path.clone(),
                    Arc::clone(&file),
                    meta.clone(),
                );
                write_side_file(storage, dir, &segment_for_side, &meta.to_side_file())?;
                report.side_files_rebuilt += 1;
            }
            meta
        }
    };
    if !is_last {
        debug_assert!(meta.sealed);
    }
    Ok(Segment::new(base, path, side_path, file, meta))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_and_iterator_can_cross_threads() {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>() {}
        send_sync::<Log>();
        send::<LogIter>();
    }

    /// Point reads keep at most `mapped_segments_max` segments mapped, the most recently
    /// used, and retention lets go of the maps of the segments it removes.
    #[test]
    fn point_reads_keep_the_most_recently_used_segments_mapped() {
        let tmp = tempfile::tempdir().unwrap();
        let options = LogOptions {
            segment_bytes_max: 4096,
            record_bytes_max: 1024,
            sync: SyncPolicy::Never,
            index_interval_bytes: 256,
            mapped_segments_max: 2,
            ..LogOptions::default()
        };
        let (log, _) = Log::open(tmp.path(), options).unwrap();
        let payload = [7u8; 100];
        for i in 0..300 {
            log.append(&payload, i).unwrap();
        }
        let segments = log.inner.segments.read().clone();
        assert!(segments.len() > 5);
        let mapped = || -> Vec<u64> {
            log.inner
                .mapped
                .lock()
                .iter()
                .map(|s| s.base_offset)
                .collect()
        };
        let mut reader = log.point_reader();
        for s in &segments {
            reader.read_batch(&[Offset(s.base_offset)], |_| {}).unwrap();
        }
        let last_two: Vec<u64> = segments[segments.len() - 2..]
            .iter()
            .map(|s| s.base_offset)
            .collect();
        assert_eq!(mapped(), last_two);
        for s in &segments {
            assert_eq!(
                s.is_mapped(),
                last_two.contains(&s.base_offset),
                "{}",
                s.base_offset
            );
        }
        // Reading an older segment again maps it and unmaps the least recently used.
        log.read(Offset(segments[0].base_offset)).unwrap();
        assert_eq!(mapped(), vec![last_two[1], segments[0].base_offset]);
        assert!(!segments[segments.len() - 2].is_mapped());
        // Using a mapped one makes it the most recent.
        log.read(Offset(last_two[1])).unwrap();
        assert_eq!(mapped(), vec![segments[0].base_offset, last_two[1]]);
        log.retain_before(Offset(segments[1].base_offset)).unwrap();
        assert_eq!(mapped(), vec![last_two[1]]);
        assert!(!segments[0].is_mapped());
    }

    #[test]
    fn options_are_checked_before_touching_storage() {
        let mem = crate::MemStorage::new();
        let options = LogOptions {
            index_interval_bytes: 0,
            storage: Arc::new(mem.clone()),
            ..LogOptions::default()
        };
        assert!(matches!(
            Log::open("/x", options),
            Err(Error::InvalidOptions { .. })
        ));
        assert_eq!(mem.op_count(crate::StorageOp::Lock), 0);
    }
}
