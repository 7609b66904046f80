//! One segment file: its in-memory metadata, and the buffered frame reader that scans it.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use crate::error::CorruptionKind;
use crate::format::{
    decode_frame, decode_frame_with, frame_bytes, DecodedFrame, FrameDecode, IndexEntry, SideFile,
    FRAME_HEADER_BYTES, SEGMENT_HEADER_BYTES,
};
use crate::storage::{FileMap, StorageFile};

/// File name of the segment whose first record is `base_offset`.
pub(crate) fn segment_file_name(base_offset: u64) -> String {
    format!("{base_offset:020}.log")
}

/// File name of the side file of the segment whose first record is `base_offset`.
pub(crate) fn side_file_name(base_offset: u64) -> String {
    format!("{base_offset:020}.idx")
}

/// Parses a segment file name back into its base offset.
pub(crate) fn parse_segment_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".log")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// What the log knows about a segment without reading it.
#[derive(Debug, Clone)]
pub(crate) struct SegmentMeta {
    pub base_offset: u64,
    /// One past the last record written to this segment.
    pub end_offset: u64,
    /// Byte length of the segment's valid contents (header plus whole frames).
    pub end_position: u64,
    pub timestamp_ms_min: i64,
    pub timestamp_ms_max: i64,
    /// Sparse offset index, ascending in both fields; the first record is always in it.
    pub index: Vec<IndexEntry>,
    pub sealed: bool,
}

impl SegmentMeta {
    pub(crate) fn empty(base_offset: u64) -> Self {
        Self {
            base_offset,
            end_offset: base_offset,
            end_position: SEGMENT_HEADER_BYTES as u64,
            timestamp_ms_min: i64::MAX,
            timestamp_ms_max: i64::MIN,
            index: Vec::new(),
            sealed: false,
        }
    }

    pub(crate) fn from_side_file(side: SideFile) -> Self {
        Self {
            base_offset: side.base_offset,
            end_offset: side.base_offset + side.record_count,
            end_position: side.segment_bytes,
            timestamp_ms_min: side.timestamp_ms_min,
            timestamp_ms_max: side.timestamp_ms_max,
            index: side.index,
            sealed: true,
        }
    }

    pub(crate) fn to_side_file(&self) -> SideFile {
        SideFile {
            base_offset: self.base_offset,
            record_count: self.record_count(),
            segment_bytes: self.end_position,
            timestamp_ms_min: self.timestamp_ms_min,
            timestamp_ms_max: self.timestamp_ms_max,
            index: self.index.clone(),
        }
    }

    pub(crate) fn record_count(&self) -> u64 {
        self.end_offset - self.base_offset
    }

    /// Records that the frame of `offset` was written at `position`.
    pub(crate) fn note_record(
        &mut self,
        offset: u64,
        position: u64,
        payload_bytes: usize,
        timestamp_ms: i64,
        index_interval_bytes: u32,
    ) {
        debug_assert_eq!(offset, self.end_offset, "records are dense");
        debug_assert_eq!(position, self.end_position, "frames are contiguous");
        let due = match self.index.last() {
            None => true,
            Some(last) => position - last.position >= u64::from(index_interval_bytes),
        };
        if due {
            self.index.push(IndexEntry { offset, position });
        }
        self.end_offset = offset + 1;
        self.end_position = position + frame_bytes(payload_bytes);
        self.timestamp_ms_min = self.timestamp_ms_min.min(timestamp_ms);
        self.timestamp_ms_max = self.timestamp_ms_max.max(timestamp_ms);
    }

    /// The indexed record at or before `offset` (where to start scanning for it), and
    /// the position the record at `offset` ends by: the next indexed record's (which
    /// comes after it), else the segment's end.
    pub(crate) fn locate_span(&self, offset: u64) -> (IndexEntry, u64) {
        let i = self.entries_at_or_before(offset);
        let entry = match i.checked_sub(1) {
            Some(i) => self.index[i],
            None => IndexEntry {
                offset: self.base_offset,
                position: SEGMENT_HEADER_BYTES as u64,
            },
        };
        let end = self.index.get(i).map_or(self.end_position, |e| e.position);
        (entry, end)
    }

    /// How many sparse index entries have an offset at or below `offset`: the index's
    /// partition point. Entries are about `index_interval_bytes` apart, so an entry's
    /// place is about proportional to its offset: the search starts where that puts it
    /// and gallops from there. A point read looks up one offset in an index of tens of
    /// thousands of entries (a megabyte for a full segment); a plain binary search
    /// waits on memory at most of its steps, this on one or two.
    fn entries_at_or_before(&self, offset: u64) -> usize {
        let index = &self.index[..];
        let (Some(first), Some(last)) = (index.first(), index.last()) else {
            return 0;
        };
        if offset < first.offset {
            return 0;
        }
        if offset >= last.offset {
            return index.len();
        }
        // Now index[0].offset <= offset < index[n - 1].offset, so n >= 2.
        let top = index.len() - 1;
        let guess = (u128::from(offset - first.offset) * top as u128
            / u128::from(last.offset - first.offset)) as usize;
        let guess = guess.min(top);
        // Narrow to lo < hi with index[lo].offset <= offset < index[hi].offset.
        let (mut lo, mut hi) = (0, top);
        let mut step = 1;
        if index[guess].offset <= offset {
            lo = guess;
            while lo + step < hi && index[lo + step].offset <= offset {
                lo += step;
                step *= 2;
            }
            hi = hi.min(lo + step);
        } else {
            hi = guess;
            while hi > lo + step && index[hi - step].offset > offset {
                hi -= step;
                step *= 2;
            }
            lo = lo.max(hi.saturating_sub(step));
        }
        debug_assert!(index[lo].offset <= offset && offset < index[hi].offset);
        lo + 1 + index[lo + 1..hi].partition_point(|e| e.offset <= offset)
    }
}

/// An open segment, shared by the writer and readers.
#[derive(Debug)]
pub(crate) struct Segment {
    pub base_offset: u64,
    pub path: PathBuf,
    pub side_path: PathBuf,
    pub file: Arc<dyn StorageFile>,
    pub meta: RwLock<SegmentMeta>,
    /// The file mapped for point reads (see [`Segment::mapped`]).
    map: Mutex<SegmentMap>,
}

/// Whether a segment's file is mapped for point reads.
#[derive(Debug)]
enum SegmentMap {
    NotMapped,
    Mapped(Arc<FileMap>),
    /// Mapping failed or the storage does not map files: readers read the file.
    Unmappable,
}

impl Segment {
    pub(crate) fn new(
        base_offset: u64,
        path: PathBuf,
        side_path: PathBuf,
        file: Arc<dyn StorageFile>,
        meta: SegmentMeta,
    ) -> Self {
        Self {
            base_offset,
            path,
            side_path,
            file,
            meta: RwLock::new(meta),
            map: Mutex::new(SegmentMap::NotMapped),
        }
    }

    /// The segment's file mapped into memory, `len_bytes` long, and whether this call
    /// mapped it; `None` where the storage does not map files or mapping failed, and
    /// then readers read the file. A map serves until [`Segment::unmap`], so `len_bytes`
    /// must cover every byte the segment can ever hold (an active segment grows into
    /// it).
    pub(crate) fn mapped(&self, len_bytes: u64) -> (Option<Arc<FileMap>>, bool) {
        let mut slot = self.map.lock();
        match &*slot {
            SegmentMap::Mapped(map) => (Some(Arc::clone(map)), false),
            SegmentMap::Unmappable => (None, false),
            SegmentMap::NotMapped => match map_file(self.file.as_ref(), len_bytes) {
                Some(map) => {
                    *slot = SegmentMap::Mapped(Arc::clone(&map));
                    (Some(map), true)
                }
                None => {
                    *slot = SegmentMap::Unmappable;
                    (None, false)
                }
            },
        }
    }

    #[cfg(test)]
    pub(crate) fn is_mapped(&self) -> bool {
        matches!(*self.map.lock(), SegmentMap::Mapped(_))
    }

    /// Lets go of the segment's map: the next point read maps it again. Readers that
    /// hold the map keep it until they move on.
    pub(crate) fn unmap(&self) {
        let mut slot = self.map.lock();
        if matches!(*slot, SegmentMap::Mapped(_)) {
            *slot = SegmentMap::NotMapped;
        }
    }
}

/// `file` mapped `len_bytes` long, or `None` where it cannot be: reads through the file
/// serve as well, only slower.
pub(crate) fn map_file(file: &dyn StorageFile, len_bytes: u64) -> Option<Arc<FileMap>> {
    match file.map(len_bytes) {
        Ok(Some(map)) => Some(Arc::new(map)),
        Ok(None) | Err(_) => None,
    }
}

/// One step of a [`FrameReader`].
#[derive(Debug)]
pub(crate) enum Step {
    /// A checked frame at `position`; its payload is [`FrameReader::payload`].
    Frame { frame: DecodedFrame, position: u64 },
    /// The reader reached its limit exactly on a frame boundary.
    End,
    /// The bytes at `position` are not a valid frame.
    Bad { position: u64, kind: CorruptionKind },
}

/// Reads frames sequentially with large positional reads, parsing them out of one buffer,
/// so a scan costs one `read_at` per `chunk_bytes` and no allocation per record.
#[derive(Debug)]
pub(crate) struct FrameReader {
    buf: Vec<u8>,
    /// The segment's file mapped into memory: when set, the reader reads the map in
    /// place of `buf` and never refills (see [`FrameReader::read_map`]).
    map: Option<Arc<FileMap>>,
    /// Valid bytes in `buf` (in the map: the segment's end when the map was attached).
    valid: usize,
    /// File position of `buf[0]` (0 when reading a map).
    buf_position: u64,
    /// Index in the bytes of the next frame.
    at: usize,
    /// Start of the last frame's payload in the bytes.
    payload_at: usize,
    payload_bytes: usize,
    /// Bytes the next refill reads.
    chunk_bytes: usize,
    /// What `chunk_bytes` starts from after a seek, and what it may double up to while
    /// the reads go on forward (see [`FrameReader::growing`]).
    chunk_min_bytes: usize,
    chunk_max_bytes: usize,
    /// A fresh checksum state, copied for each frame (see [`decode_frame_with`]).
    crc: crc32fast::Hasher,
}

impl FrameReader {
    pub(crate) fn new(position: u64, chunk_bytes: usize) -> Self {
        Self::growing(position, chunk_bytes, chunk_bytes)
    }

    /// A reader whose reads start at `min_bytes` after each seek and double, up to
    /// `max_bytes`, while it reads on forward: a point read copies little, and a batch of
    /// nearby records read in one pass soon reads in large chunks.
    pub(crate) fn growing(position: u64, min_bytes: usize, max_bytes: usize) -> Self {
        debug_assert!(min_bytes > 0 && min_bytes <= max_bytes);
        Self {
            buf: Vec::new(),
            map: None,
            valid: 0,
            buf_position: position,
            at: 0,
            payload_at: 0,
            payload_bytes: 0,
            chunk_bytes: min_bytes,
            chunk_min_bytes: min_bytes,
            chunk_max_bytes: max_bytes,
            crc: crc32fast::Hasher::new(),
        }
    }

    /// Reads `map`, a map of the file it reads, up to `limit` from now on, staying at its
    /// position. A map has every byte of the segment, so reads never refill and seeks
    /// keep them.
    pub(crate) fn read_map(&mut self, map: &Arc<FileMap>, limit: u64) {
        let position = self.position();
        let limit = usize::try_from(limit).unwrap_or(usize::MAX).min(map.len());
        debug_assert!(
            position <= limit as u64,
            "a reader stays inside its segment"
        );
        if !self.map.as_ref().is_some_and(|m| Arc::ptr_eq(m, map)) {
            self.map = Some(Arc::clone(map));
        }
        self.buf_position = 0;
        self.at = usize::try_from(position).unwrap_or(usize::MAX).min(limit);
        self.valid = limit;
    }

    /// Reads through the file from now on (after [`FrameReader::read_map`]), staying at
    /// its position.
    pub(crate) fn read_file(&mut self) {
        if self.map.is_some() {
            let position = self.position();
            self.map = None;
            self.seek(position);
        }
    }

    /// The map it reads, if it reads one.
    pub(crate) fn map(&self) -> Option<&Arc<FileMap>> {
        self.map.as_ref()
    }

    /// The bytes frames are parsed from: the read buffer or the map.
    #[inline(always)]
    fn bytes(&self) -> &[u8] {
        match &self.map {
            Some(map) => map,
            None => &self.buf,
        }
    }

    /// Whether moving to `position`, ahead of the reader, by [`FrameReader::seek`] saves
    /// work over reading on to it: always in a map; through the file only when no byte
    /// before it is buffered (a seek drops the buffer).
    pub(crate) fn seek_pays(&self, position: u64) -> bool {
        if self.map.is_some() {
            position > self.position()
        } else {
            position >= self.buffered_end()
        }
    }

    /// Moves to `position`, dropping buffered bytes (a map's stay).
    pub(crate) fn seek(&mut self, position: u64) {
        if self.map.is_some() {
            self.at = usize::try_from(position)
                .unwrap_or(usize::MAX)
                .min(self.valid);
            return;
        }
        self.buf_position = position;
        self.valid = 0;
        self.at = 0;
        self.chunk_bytes = self.chunk_min_bytes;
    }

    /// [`FrameReader::seek`] to find a record known to end by `end`: a reader whose reads
    /// grow (a point reader) reads no further than that at first, so a record found
    /// through the sparse index costs the bytes from its entry to the next one, not a
    /// whole first chunk.
    pub(crate) fn seek_within(&mut self, position: u64, end: u64) {
        self.seek(position);
        if let Some(map) = &self.map {
            // The record sought is found by walking the frames from `position`, each
            // frame's header saying where the next one starts, so the walk would wait
            // on memory frame after frame. Loading a byte of each cache line first lets
            // those loads overlap.
            let end = usize::try_from(end).unwrap_or(usize::MAX).min(self.valid);
            let mut sum = 0u8;
            for line in map.get(self.at..end).unwrap_or_default().chunks(64) {
                sum ^= line[0];
            }
            std::hint::black_box(sum);
        }
        if self.map.is_none() && self.chunk_min_bytes < self.chunk_max_bytes {
            let span = usize::try_from(end.saturating_sub(position)).unwrap_or(usize::MAX);
            self.chunk_bytes = span.max(FRAME_HEADER_BYTES).min(self.chunk_min_bytes);
        }
    }

    /// File position of the next frame.
    pub(crate) fn position(&self) -> u64 {
        self.buf_position + self.at as u64
    }

    /// File position one past the last buffered byte.
    pub(crate) fn buffered_end(&self) -> u64 {
        self.buf_position + self.valid as u64
    }

    /// The payload of the frame last returned by [`FrameReader::next`].
    pub(crate) fn payload(&self) -> &[u8] {
        &self.bytes()[self.payload_at..self.payload_at + self.payload_bytes]
    }

    fn refill(&mut self, file: &dyn StorageFile, bytes: usize) -> io::Result<()> {
        let position = self.position();
        if self.buf.len() < bytes {
            self.buf.resize(bytes, 0);
        }
        let mut filled = 0;
        while filled < bytes {
            let n = file.read_at(&mut self.buf[filled..bytes], position + filled as u64)?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        self.buf_position = position;
        self.at = 0;
        self.valid = filled;
        Ok(())
    }

    /// Decodes the next frame, reading more of the file when the buffer runs dry; never
    /// reads at or past `limit`.
    #[inline]
    pub(crate) fn next(
        &mut self,
        file: &dyn StorageFile,
        limit: u64,
        record_bytes_max: u32,
    ) -> io::Result<Step> {
        let position = self.position();
        if position >= limit {
            return Ok(Step::End);
        }
        match decode_frame_with(
            &self.bytes()[self.at..self.valid],
            record_bytes_max,
            &self.crc,
        ) {
            FrameDecode::Frame(frame) => Ok(self.accept(frame, position)),
            FrameDecode::Bad(kind) => Ok(Step::Bad { position, kind }),
            FrameDecode::Incomplete { frame_bytes } => {
                self.next_after_refill(file, limit, record_bytes_max, frame_bytes)
            }
        }
    }

    /// Moves past the next frame without checking its checksum when it is all buffered
    /// and before `limit`, giving its offset and position; `None` (and no move)
    /// otherwise, when the caller reads it with [`FrameReader::next`] instead, which
    /// reports what is wrong. See [`crate::format::skip_frame`].
    #[inline]
    pub(crate) fn skip(&mut self, limit: u64, record_bytes_max: u32) -> Option<(u64, u64)> {
        let position = self.position();
        let (bytes, offset) =
            crate::format::skip_frame(&self.bytes()[self.at..self.valid], record_bytes_max)?;
        if position + bytes as u64 > limit {
            return None;
        }
        self.at += bytes;
        Some((offset, position))
    }

    /// Moves past a checked frame.
    #[inline(always)]
    fn accept(&mut self, frame: DecodedFrame, position: u64) -> Step {
        self.payload_at = self.at + FRAME_HEADER_BYTES;
        self.payload_bytes = frame.payload_bytes;
        self.at += FRAME_HEADER_BYTES + frame.payload_bytes;
        Step::Frame { frame, position }
    }

    /// [`FrameReader::next`] when the buffer holds only part of the next frame, which
    /// needs `frame_bytes` in all: reads on from the frame's start (once per chunk, so
    /// kept out of the per-frame path). A frame whose header was cut off by the buffer
    /// learns its length only after the first read, so a frame longer than that read is
    /// read again whole; a read that returns less than asked is a file shorter than its
    /// records.
    #[cold]
    #[inline(never)]
    fn next_after_refill(
        &mut self,
        file: &dyn StorageFile,
        limit: u64,
        record_bytes_max: u32,
        mut frame_bytes: u64,
    ) -> io::Result<Step> {
        let position = self.position();
        let available = limit - position;
        let mut asked = 0u64;
        loop {
            if frame_bytes > available {
                return Ok(Step::Bad {
                    position,
                    kind: CorruptionKind::Truncated {
                        needed: frame_bytes,
                        available,
                    },
                });
            }
            if frame_bytes <= asked || self.map.is_some() {
                // A map holds the whole segment: what it lacks, the file lacks.
                return Ok(Step::Bad {
                    position,
                    kind: CorruptionKind::Truncated {
                        needed: frame_bytes,
                        available: (self.valid - self.at) as u64,
                    },
                });
            }
            let want = (self.chunk_bytes as u64).max(frame_bytes).min(available);
            self.refill(file, want as usize)?;
            self.chunk_bytes = (self.chunk_bytes * 2).min(self.chunk_max_bytes);
            asked = want;
            match decode_frame_with(&self.buf[self.at..self.valid], record_bytes_max, &self.crc) {
                FrameDecode::Frame(frame) => return Ok(self.accept(frame, position)),
                FrameDecode::Bad(kind) => return Ok(Step::Bad { position, kind }),
                FrameDecode::Incomplete {
                    frame_bytes: needed,
                } => frame_bytes = needed,
            }
        }
    }
}

/// Result of scanning a segment's frames from some position.
#[derive(Debug)]
pub(crate) struct ScanOutcome {
    pub meta: SegmentMeta,
    /// The first place the scan could not go past, if it stopped before `limit`.
    pub damage: Option<(u64, CorruptionKind)>,
}

/// Scans frames from `meta`'s end up to `limit`, extending `meta`, until the end or the
/// first damage (a bad frame, or a good frame with the wrong offset).
pub(crate) fn scan_frames(
    file: &dyn StorageFile,
    mut meta: SegmentMeta,
    limit: u64,
    record_bytes_max: u32,
    index_interval_bytes: u32,
) -> io::Result<ScanOutcome> {
    let mut reader = FrameReader::new(meta.end_position, 1 << 20);
    loop {
        match reader.next(file, limit, record_bytes_max)? {
            Step::End => return Ok(ScanOutcome { meta, damage: None }),
            Step::Bad { position, kind } => {
                return Ok(ScanOutcome {
                    meta,
                    damage: Some((position, kind)),
                })
            }
            Step::Frame { frame, position } => {
                if frame.offset != meta.end_offset {
                    let kind = CorruptionKind::OffsetMismatch {
                        expected: meta.end_offset,
                        found: frame.offset,
                    };
                    return Ok(ScanOutcome {
                        meta,
                        damage: Some((position, kind)),
                    });
                }
                meta.note_record(
                    frame.offset,
                    position,
                    frame.payload_bytes,
                    frame.timestamp_ms,
                    index_interval_bytes,
                );
            }
        }
    }
}

/// Looks for any valid frame starting after `from` (and before `limit`) whose offset is at
/// least `offset_min`: proof that damage at `from` is not a torn tail. Returns its position
/// and offset.
pub(crate) fn find_next_valid(
    file: &dyn StorageFile,
    from: u64,
    limit: u64,
    offset_min: u64,
    record_bytes_max: u32,
) -> io::Result<Option<(u64, u64)>> {
    const STRIDE_BYTES: u64 = 1 << 20;
    let frame_max = frame_bytes(record_bytes_max as usize);
    let mut buf = Vec::new();
    let mut start = from + 1;
    while start + (FRAME_HEADER_BYTES as u64) <= limit {
        let end = (start + STRIDE_BYTES + frame_max).min(limit);
        let len = (end - start) as usize;
        buf.resize(len, 0);
        let mut filled = 0;
        while filled < len {
            let n = file.read_at(&mut buf[filled..], start + filled as u64)?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        buf.truncate(filled);
        let candidates = (STRIDE_BYTES as usize).min(buf.len());
        for i in 0..candidates {
            if let FrameDecode::Frame(frame) = decode_frame(&buf[i..], record_bytes_max) {
                // Plausible offsets only: at least the expected one, and no more than one
                // per frame header that could fit in between.
                let gap_frames = (start + i as u64 - from) / FRAME_HEADER_BYTES as u64 + 1;
                if frame.offset >= offset_min && frame.offset <= offset_min + gap_frames {
                    return Ok(Some((start + i as u64, frame.offset)));
                }
            }
        }
        start += STRIDE_BYTES;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_sort_as_offsets_and_parse_back() {
        let a = segment_file_name(9);
        let b = segment_file_name(10);
        assert!(a < b);
        assert_eq!(a, "00000000000000000009.log");
        assert_eq!(parse_segment_file_name(&b), Some(10));
        assert_eq!(parse_segment_file_name("0000000000000000000x.log"), None);
        assert_eq!(parse_segment_file_name("00000000000000000009.idx"), None);
    }

    #[test]
    fn locate_span_finds_the_indexed_record_at_or_before_and_the_next_one() {
        let mut meta = SegmentMeta::empty(100);
        let mut position = SEGMENT_HEADER_BYTES as u64;
        for i in 0..10u64 {
            meta.note_record(100 + i, position, 40, i as i64, 128);
            position += frame_bytes(40);
        }
        // 64-byte frames, an entry every 128 bytes: offsets 100, 102, 104, ...
        assert_eq!(meta.index.len(), 5);
        let first = SEGMENT_HEADER_BYTES as u64;
        assert_eq!(meta.locate_span(103).0.offset, 102);
        assert_eq!(meta.locate_span(103).1, first + 4 * 64);
        assert_eq!(meta.locate_span(100).0.offset, 100);
        assert_eq!(meta.locate_span(100).1, first + 2 * 64);
        // The last entry's records end where the segment does.
        assert_eq!(meta.locate_span(109).0.offset, 108);
        assert_eq!(meta.locate_span(109).1, meta.end_position);
        assert_eq!(meta.timestamp_ms_max, 9);
        assert_eq!(meta.record_count(), 10);
    }

    proptest::proptest! {
        /// The interpolating search gives the partition point, however unevenly the
        /// entries are spaced (records of very different sizes) and wherever the offset.
        #[test]
        fn entries_at_or_before_is_the_partition_point(
            gaps in proptest::collection::vec(
                proptest::prop_oneof![1u64..4, 1u64..2_000],
                0..300,
            ),
            probes in proptest::collection::vec(0u64..700_000, 1..40),
        ) {
            let mut meta = SegmentMeta::empty(1_000);
            let mut offset = 1_000;
            for (i, gap) in gaps.iter().enumerate() {
                offset += gap;
                meta.index.push(IndexEntry { offset, position: i as u64 });
            }
            let last = meta.index.last().map_or(1_000, |e| e.offset);
            let near: Vec<u64> = meta.index.iter().flat_map(|e| [e.offset - 1, e.offset, e.offset + 1]).collect();
            for probe in probes.iter().copied().chain([0, 1_000, last, last + 1]).chain(near) {
                let expected = meta.index.partition_point(|e| e.offset <= probe);
                proptest::prop_assert_eq!(meta.entries_at_or_before(probe), expected, "probe {}", probe);
            }
        }
    }
}
