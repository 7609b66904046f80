//! The engine's error type.

use std::path::PathBuf;

use actlog_model::ActivityId;

/// Result alias of the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the engine. Nothing was recorded when an append returns
/// an error; per-item problems are [`Outcome::Skipped`](crate::Outcome::Skipped) instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Another engine (in this or another process) has the directory open.
    #[error("the data directory {} is in use by another process (lock file {})", dir.display(), lock.display())]
    Locked {
        /// The engine directory.
        dir: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
    /// A log (activities or catalog) failed.
    #[error("{log} log: {source}")]
    Log {
        /// Which log: `"activities"` or `"catalog"`.
        log: &'static str,
        /// What failed.
        #[source]
        source: actlog_log::Error,
    },
    /// A catalog command was refused, or a value was invalid.
    #[error(transparent)]
    Model(#[from] actlog_model::Error),
    /// The index failed.
    #[error("index: {0}")]
    Index(#[from] actlog_index::Error),
    /// A filter or smart list was invalid.
    #[error(transparent)]
    Query(#[from] actlog_query::Error),
    /// A stored activity could not be decoded although its frame checksum was good.
    #[error("activity {id} cannot be decoded: {source}")]
    Decode {
        /// The activity.
        id: ActivityId,
        /// Why.
        #[source]
        source: actlog_model::Error,
    },
    /// A stored catalog event could not be decoded although its frame checksum was good.
    #[error("catalog event at offset {offset} cannot be replayed: {source}")]
    CatalogReplay {
        /// Offset in the catalog log.
        offset: u64,
        /// Why.
        #[source]
        source: actlog_model::Error,
    },
    /// `append_batch` got more items than `Options::batch_items_max`; nothing was recorded.
    #[error("batch of {items} activities exceeds the limit of {max}")]
    BatchTooLarge {
        /// Items given.
        items: usize,
        /// The configured limit.
        max: usize,
    },
    /// A read-your-writes query waited too long for the indexer.
    #[error("the index did not reach id {target} within {waited_ms} ms (it is at {watermark})")]
    IndexLagging {
        /// The id the query needs indexed.
        target: u64,
        /// Where the index is.
        watermark: u64,
        /// How long the query waited.
        waited_ms: u64,
    },
    /// The indexer stopped on an error; queries cannot be answered from the index.
    #[error("the indexer stopped: {0}")]
    Indexer(String),
    /// The engine was closed.
    #[error("the engine is closed")]
    Closed,
    /// A call that needs a tokio runtime was made outside one.
    #[error("this call needs a tokio runtime")]
    NoRuntime,
    /// A broken internal invariant; a bug, reported instead of a panic.
    #[error("internal error: {0}")]
    Internal(String),
    /// An options value is out of range.
    #[error("invalid options: {0}")]
    InvalidOptions(String),
    /// A file-system call of the engine itself failed.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn activities(source: actlog_log::Error) -> Self {
        Error::Log {
            log: "activities",
            source,
        }
    }

    pub(crate) fn catalog(source: actlog_log::Error) -> Self {
        Error::Log {
            log: "catalog",
            source,
        }
    }
}
