//! The one error type of the bench package.

use std::path::PathBuf;

/// Everything that can go wrong while generating a workload or driving a peer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The workload cannot be built, or its types cannot be defined in an engine.
    #[error(transparent)]
    Workload(#[from] actlog_workload::Error),
    /// An error reported by the actlog engine.
    #[error("actlog error: {0}")]
    Actlog(#[from] actlog::Error),
    /// A peer could not be set up as the bench requires (a setting refused, a record
    /// too large for its frame, ...).
    #[error("peer {peer} cannot run the bench: {what}")]
    Setup {
        /// The peer's name.
        peer: &'static str,
        /// What went wrong.
        what: String,
    },
    /// An I/O error from the file system.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// An error reported by SQLite.
    #[error("SQLite error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// An error reported by sled.
    #[error("sled error: {0}")]
    Sled(#[from] sled::Error),
    /// A record could not be encoded with bincode.
    #[error("record encoding failed: {0}")]
    Encode(#[from] bincode::error::EncodeError),
    /// Bytes read back from a peer's storage are not what was written.
    #[error("corrupt data in {file} at position {position}: {what}")]
    Corrupt {
        /// The file (or tree) the bytes came from.
        file: PathBuf,
        /// Byte offset in a file, or sequence number in a tree.
        position: u64,
        /// What was wrong with the bytes.
        what: String,
    },
}

/// The result type of the bench package.
pub type Result<T, E = Error> = std::result::Result<T, E>;
