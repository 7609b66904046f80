//! The seeded, deterministic activity workload of actlog's benches.
//!
//! Every figure in docs/BENCHMARKS.md is measured on this stream: the criterion benches
//! (`benches/`, with SQLite and sled as peers) and the `actlog bench` command draw from
//! the same generator, so their numbers describe the same data.
//!
//! - [`workload`]: the generator (Zipf persons, 20 types, jittered timestamps, pooled
//!   strings), plain data with no dependency on the engine;
//! - [`define_types`] and [`to_new_activity`]: the workload as actlog sees it, its 20
//!   types as approved custom types and each activity as a [`actlog::NewActivity`].
//!
//! What this crate is not: a bench harness. It measures nothing and knows no peer; it
//! depends on `actlog` alone so that the `actlog` command can use it without pulling the
//! peers' storage engines into the binary.
//!
//! ```
//! use actlog::{Engine, Options, Outcome, SyncPolicy};
//! use actlog_workload::workload::{Workload, WorkloadOptions};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let engine = Engine::open(dir.path(), Options { sync: SyncPolicy::Never, ..Options::default() })?;
//! let type_ids = actlog_workload::define_types(&engine)?;
//! let workload = Workload::new(WorkloadOptions::default())?;
//! let batch = workload
//!     .generate(100)
//!     .iter()
//!     .map(|a| actlog_workload::to_new_activity(a, &type_ids))
//!     .collect();
//! let outcomes = engine.append_batch(batch)?;
//! assert!(outcomes.iter().all(|o| matches!(o, Outcome::Added { .. })));
//! engine.close()?;
//! # Ok(()) }
//! ```

mod engine;
mod error;
pub mod workload;

pub use engine::{define_types, to_new_activity};
pub use error::{Error, Result};
