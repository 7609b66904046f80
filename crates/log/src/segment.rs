//! One segment file: its in-memory metadata, and the buffered frame reader that scans it.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::RwLock;

use crate::error::CorruptionKind;
use crate::format::{
    decode_frame, decode_frame_with, frame_bytes, DecodedFrame, FrameDecode, IndexEntry, SideFile,
    FRAME_HEADER_BYTES, SEGMENT_HEADER_BYTES,
};
use crate::storage::StorageFile;

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
        let i = self.index.partition_point(|e| e.offset <= offset);
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
}

/// An open segment, shared by the writer and readers.
#[derive(Debug)]
pub(crate) struct Segment {
    pub base_offset: u64,
    pub path: PathBuf,
    pub side_path: PathBuf,
    pub file: Arc<dyn StorageFile>,
    pub meta: RwLock<SegmentMeta>,
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
    /// Valid bytes in `buf`.
    valid: usize,
    /// File position of `buf[0]`.
    buf_position: u64,
    /// Index in `buf` of the next frame.
    at: usize,
    /// Start of the last frame's payload in `buf`.
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

    /// Moves to `position`, dropping buffered bytes.
    pub(crate) fn seek(&mut self, position: u64) {
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
        if self.chunk_min_bytes < self.chunk_max_bytes {
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
        &self.buf[self.payload_at..self.payload_at + self.payload_bytes]
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
        match decode_frame_with(&self.buf[self.at..self.valid], record_bytes_max, &self.crc) {
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
            crate::format::skip_frame(&self.buf[self.at..self.valid], record_bytes_max)?;
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
            if frame_bytes <= asked {
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
}
