//! Shared workload generation and peer implementations for the actlog benches.
//!
//! This package is what every actlog bench measures with, and what actlog is
//! measured against. It is not part of actlog and is never published: it holds the
//! peers' storage engines, which the `actlog` binary must not pull in.
//!
//! - [`workload`]: the one deterministic, seeded generator of activities (Zipf persons,
//!   20 types, jittered timestamps, pooled strings), re-exported from `actlog-workload`,
//!   which `actlog bench` uses too;
//! - [`peers`]: the [`peers::BenchTarget`] trait, actlog behind it, and its peers —
//!   SQLite, plain sled and the raw framed file that marks the physical limit;
//! - [`record`]: the bincode record the sled and raw peers store.
//!
//! ```
//! use actlog_benches::peers::{BenchTarget, Durability, Sqlite};
//! use actlog_benches::workload::{Workload, WorkloadOptions};
//!
//! # fn main() -> actlog_benches::Result<()> {
//! let workload = Workload::new(WorkloadOptions::default())?;
//! let activities = workload.generate(1_000);
//! let dir = tempfile::tempdir()?;
//! let mut sqlite = Sqlite::open(dir.path(), Durability::Never)?;
//! sqlite.ingest_batch(&activities)?;
//! let latest = sqlite.person_latest(activities[0].person, 100)?;
//! assert!(latest.iter().any(|r| *r == activities[0]));
//! # Ok(())
//! # }
//! ```

mod error;
pub mod peers;
pub mod record;
mod splitmix;

pub use actlog_workload::workload;

pub use error::{Error, Result};
pub use splitmix::SplitMix64;
