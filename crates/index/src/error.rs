//! The one error type of this crate.

use actlog_model::ActivityId;

/// Which posting family a block belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// person → (id, type, occurred_at), ordered by id.
    Person,
    /// type → (occurred_at, person, id), ordered by (occurred_at, id).
    Type,
    /// (type, primary value key) → (id, occurred_at), ordered by id.
    Primary,
    /// (type, attribute, value key) → (id, occurred_at), ordered by id.
    Attribute,
    /// The meta record (format version, checkpoint, floor, counts).
    Meta,
    /// A key whose family byte is unknown.
    Unknown,
}

/// Everything that can go wrong in the index.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O error from the store underneath.
    #[error("index i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The store underneath reported corruption of its own files.
    #[error("index store corrupted: {detail}")]
    StoreCorrupted {
        /// What the store said.
        detail: String,
    },
    /// Any other failure of the store underneath.
    #[error("index store: {detail}")]
    Store {
        /// What the store said.
        detail: String,
    },
    /// A posting block or the meta record failed its checksum or could not be decoded.
    /// Never returned as data: a damaged block is always this error.
    #[error("damaged {family:?} block at key {key:02x?}, byte {position}: {what}")]
    Corrupted {
        /// The family the key belongs to.
        family: Family,
        /// The sled key of the block.
        key: Vec<u8>,
        /// Byte offset in the block's value where decoding failed.
        position: usize,
        /// What was wrong.
        what: &'static str,
    },
    /// Documents were fed out of order: the index only takes the next id.
    #[error("documents must be contiguous: expected id {expected}, got {got}")]
    NotContiguous {
        /// The next id the index expects (its watermark).
        expected: ActivityId,
        /// The id that was given.
        got: ActivityId,
    },
    /// A bulk load is running or was abandoned; live adds wait for `finish` or `clear`.
    #[error("a bulk load is active or was abandoned; call clear() before adding")]
    BulkLoadActive,
    /// A bulk load needs an empty index (call `clear` first).
    #[error("bulk load needs an empty index: {what}")]
    NotEmpty {
        /// What was not empty.
        what: &'static str,
    },
    /// The options given to `open` are invalid.
    #[error("invalid index options: {what}")]
    InvalidOptions {
        /// Which option, and why.
        what: &'static str,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<sled::Error> for Error {
    fn from(e: sled::Error) -> Self {
        // sled's error type stays private to this crate: it must not leak into the API.
        match e {
            sled::Error::Io(io) => Error::Io(io),
            sled::Error::Corruption { at, .. } => Error::StoreCorrupted {
                detail: format!("at {at:?}"),
            },
            other => Error::Store {
                detail: other.to_string(),
            },
        }
    }
}
