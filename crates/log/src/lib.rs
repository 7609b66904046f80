//! Segment-based append-only log of opaque records: the storage layer of actlog.
//!
//! A [`Log`] is a directory of segment files named by their first offset, each a header
//! followed by checksummed frames (`docs/FORMAT.md` gives every byte). Records are opaque
//! byte strings with a timestamp; offsets are dense `u64`s from 0. This crate knows
//! nothing of activities, persons or indexes: it stores bytes, makes them durable as the
//! [`SyncPolicy`] says, reads them back checked, recovers from crashes and drops whole
//! old segments on request.
//!
//! The main design choice is that durability decides visibility: under
//! [`SyncPolicy::Always`] readers see a record only once an fdatasync covers it, so an
//! index built by following the log never points at a record a crash can take away.
//! Concurrent appenders share syncs (group commit by leader/follower: one writer mutex
//! orders the writes, and whichever waiting appender finds no sync running issues the
//! next fdatasync for everyone written so far, outside that mutex).
//!
//! All I/O goes through the [`Storage`] trait, so tests can run on [`MemStorage`] and
//! crash it, tear writes, flip bits and inject I/O errors.
//!
//! ```
//! use std::sync::Arc;
//! use actlog_log::{Log, LogOptions, MemStorage, Offset};
//!
//! # fn main() -> actlog_log::Result<()> {
//! let options = LogOptions { storage: Arc::new(MemStorage::new()), ..LogOptions::default() };
//! let (log, report) = Log::open("/logs/activities", options)?;
//! assert_eq!(report.next_offset, Offset(0));
//! let first = log.append(b"visited /pricing", 1_700_000_000_000)?;
//! let batch = log.append_batch(&[(b"opened email", 1_700_000_000_001), (b"clicked", 1_700_000_000_002)])?;
//! assert_eq!((first, batch), (Offset(0), Offset(1)..Offset(3)));
//! let record = log.read(Offset(1))?;
//! assert_eq!(record.payload, b"opened email");
//! let payloads: Vec<Vec<u8>> = log.iter_from(Offset(0))?.map(|r| r.map(|r| r.payload)).collect::<Result<_, _>>()?;
//! assert_eq!(payloads.len(), 3);
//! log.close()?;
//! # Ok(())
//! # }
//! ```

mod error;
mod format;
mod log;
mod segment;
pub mod storage;
mod types;

pub use crate::error::{CorruptionKind, Error, Result};
pub use crate::log::{Log, LogIter, PointReader, LOCK_FILE_NAME};
pub use crate::storage::{
    CrashMode, FaultError, FileMap, FsStorage, MemStorage, OpenMode, Storage, StorageFile,
    StorageLock, StorageOp, LOCK_RETRY_MS_MAX,
};
pub use crate::types::{
    Corruption, LogOptions, Offset, OpenReport, Record, RecordRef, RepairReport, RetentionReport,
    SegmentInfo, SyncPolicy, TornTail, VerifyReport,
};
