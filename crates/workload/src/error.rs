//! The one error type of the workload crate.

/// Everything that can go wrong while building a workload or defining its types.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The workload options cannot produce a workload (an empty pool, no persons, ...).
    #[error("invalid workload options: {what}")]
    InvalidWorkload {
        /// Which option is wrong and why.
        what: &'static str,
    },
    /// The engine refused to define or approve one of the workload's types.
    #[error("cannot define activity type {api_name}: {source}")]
    DefineType {
        /// API name of the type.
        api_name: &'static str,
        /// What the engine said.
        #[source]
        source: actlog::Error,
    },
    /// A type of that API name exists but cannot take the workload's activities (deleted,
    /// or with other attributes).
    #[error("activity type {api_name} exists but does not fit the workload: {what}")]
    TypeMismatch {
        /// API name of the type.
        api_name: &'static str,
        /// What does not fit.
        what: String,
    },
}

/// The result type of the workload crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
