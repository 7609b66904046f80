//! The server's error type: what can stop `serve` from starting or finishing cleanly.

use std::path::PathBuf;

/// Why the server could not start, or could not shut down cleanly.
///
/// Errors of individual requests never appear here: they are answered with Marketo's
/// error envelope (see [`crate::ApiError`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The options are unusable (an empty secret, a zero limit, ...).
    #[error("invalid server options: {0}")]
    InvalidOptions(String),
    /// The configuration file could not be read.
    #[error("cannot read configuration file {path}: {source}")]
    ConfigRead {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The configuration file is not valid TOML for [`crate::ServerOptions`].
    #[error("invalid configuration file {path}: {message}")]
    ConfigParse {
        /// The file.
        path: PathBuf,
        /// What was wrong, with its line and column.
        message: String,
    },
    /// The exports directory could not be prepared.
    #[error("cannot prepare exports directory {path}: {source}")]
    ExportsDir {
        /// The directory.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// Serving failed while accepting connections.
    #[error("server I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The storage backend failed (for example the final sync at shutdown).
    #[error("backend error {code}: {message}")]
    Backend {
        /// Marketo error code the failure maps to.
        code: &'static str,
        /// What went wrong.
        message: String,
    },
}

/// Result with the server's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
