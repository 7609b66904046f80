//! The one error type of the crate, and the kinds of on-disk damage it can name.

use std::path::PathBuf;

use crate::Offset;

/// Result alias used by every fallible function of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the segment log.
///
/// Operating errors (I/O, damage on disk, a full disk, a second process) are variants
/// here; programmer errors are `debug_assert!`s inside the crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A storage call failed.
    #[error("I/O error during {op} on {}: {source}", path.display())]
    Io {
        /// The file or directory the call was about.
        path: PathBuf,
        /// What the log was doing (`"write"`, `"sync_data"`, `"open"`, ...).
        op: &'static str,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Another `Log` (in this or another process) holds the directory's lock.
    #[error("log directory is locked by another open log: {}", path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// A record's payload is larger than `LogOptions::record_bytes_max`; nothing was written.
    #[error("record of {len} bytes exceeds the limit of {max} bytes")]
    RecordTooLarge {
        /// Payload length in bytes.
        len: u64,
        /// The configured limit in bytes.
        max: u32,
    },
    /// An offset outside `[first, next)` (or past `next` for a range end) was asked for.
    #[error("offset {offset} is outside the log [{first}, {next})")]
    OffsetOutOfRange {
        /// The offset asked for.
        offset: Offset,
        /// The first offset still held (moves up with retention).
        first: Offset,
        /// The visible end.
        next: Offset,
    },
    /// Bytes on disk are not what the log wrote.
    #[error("corrupt segment {} at byte {position}: {kind}", segment.display())]
    Corrupt {
        /// The segment (or side) file.
        segment: PathBuf,
        /// Byte position of the damaged frame or field in that file.
        position: u64,
        /// What was wrong.
        kind: CorruptionKind,
    },
    /// An earlier write or sync failed; the log refuses appends until it is reopened.
    #[error("log is poisoned by an earlier failure and must be reopened: {cause}")]
    Poisoned {
        /// The failure that poisoned the log.
        cause: String,
    },
    /// `LogOptions` are inconsistent; reported by `Log::open`.
    #[error("invalid log options: {reason}")]
    InvalidOptions {
        /// Which rule was broken.
        reason: String,
    },
}

/// What exactly was wrong with bytes read from disk.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CorruptionKind {
    /// The file does not start with the expected magic bytes.
    #[error("bad magic {found:02x?}")]
    BadMagic {
        /// The first eight bytes found.
        found: [u8; 8],
    },
    /// The file was written by an unknown format version.
    #[error("unsupported format version {found}")]
    UnsupportedVersion {
        /// The version found.
        found: u16,
    },
    /// A segment header or side file fails its checksum.
    #[error("header checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    HeaderChecksumMismatch {
        /// Checksum stored in the file.
        stored: u32,
        /// Checksum computed over the bytes read.
        computed: u32,
    },
    /// The base offset in a segment header differs from the one in its file name.
    #[error("base offset {header} in header differs from {name} in the file name")]
    BaseOffsetMismatch {
        /// From the file name.
        name: u64,
        /// From the header.
        header: u64,
    },
    /// The file ends inside a frame or header.
    #[error("truncated: {needed} bytes needed, {available} available")]
    Truncated {
        /// Bytes the frame or header needs.
        needed: u64,
        /// Bytes left in the file.
        available: u64,
    },
    /// A frame's length field is larger than any record the log accepts.
    #[error("frame length {len} exceeds the record limit {max}")]
    LengthTooLarge {
        /// The stored length.
        len: u32,
        /// The configured `record_bytes_max`.
        max: u32,
    },
    /// A frame's CRC32 does not match its header and payload.
    #[error("frame checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    ChecksumMismatch {
        /// Checksum stored in the frame.
        stored: u32,
        /// Checksum computed over the bytes read.
        computed: u32,
    },
    /// A valid frame carries another offset than its position in the log implies.
    #[error("frame holds offset {found}, expected {expected}")]
    OffsetMismatch {
        /// Offset implied by the position.
        expected: u64,
        /// Offset stored in the frame.
        found: u64,
    },
    /// Segments do not follow each other without a hole.
    #[error("segment starts at offset {found}, expected {expected}")]
    SegmentGap {
        /// End offset of the previous segment.
        expected: u64,
        /// Base offset of this segment.
        found: u64,
    },
    /// A sealed segment's side file disagrees with the segment file.
    #[error("side file says {expected} bytes, segment has {found}")]
    SideFileMismatch {
        /// Length recorded in the side file.
        expected: u64,
        /// Length of the segment file.
        found: u64,
    },
}
