//! actlog: an embeddable, event-sourced, append-only activity log engine.
//!
//! A *person* does things; each moment is an *activity* of an *activity type* (Marketo's
//! custom activities, with typed attributes and a draft/approved lifecycle). Activities are
//! immutable facts, so the engine keeps them in an append-only log of segments, derives its
//! indexes from that log, and rebuilds anything derived when it is missing or damaged.
//!
//! [`Engine`] is the whole API: open a directory, define types, append batches (validated,
//! deduplicated by idempotency key, group-committed), read by id, replay in order, follow
//! live with [`Engine::subscribe`], filter with [`Engine::query`], find people with
//! [`Engine::people`], and check everything with [`Engine::verify`].
//!
//! ```
//! use actlog::{Engine, NewActivity, Options, Outcome, PersonId};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let engine = Engine::open(dir.path(), Options::default())?;
//! let outcomes = engine.append_batch(vec![
//!     NewActivity::new(PersonId(42), "visitWebpage", 1_762_041_600_000)
//!         .primary(7)
//!         .attr("webpageURL", "https://example.com/pricing"),
//!     NewActivity::new(PersonId(42), "noSuchType", 1_762_041_600_000).primary("x"),
//! ])?;
//! assert!(matches!(outcomes[0], Outcome::Added { .. }));
//! assert!(matches!(outcomes[1], Outcome::Skipped { .. }));
//! assert_eq!(engine.replay(actlog::ActivityId(0))?.count(), 1);
//! engine.close()?;
//! # Ok(()) }
//! ```
//!
//! What this crate is not: it holds no storage logic of its own. Bytes and offsets belong
//! to `actlog-log`, activities and types to `actlog-model`, index keys to `actlog-index`,
//! filters and plans to `actlog-query`; the engine wires them and is the API boundary.

mod append;
mod async_api;
mod catalog_store;
mod dedupe;
mod docs;
mod engine;
mod error;
mod indexer;
mod options;
mod outcome;
mod queries;
mod rebuild;
mod repair;
mod replay;
mod stats;
mod subscribe;
mod time;
mod verify;

pub use engine::Engine;
pub use error::{Error, Result};
pub use options::{Options, ProgressFn};
pub use outcome::Outcome;
pub use queries::{Consistency, People, QueryOptions, QueryResults, QueryStream};
pub use repair::{repair, verify_logs, RepairReport};
pub use replay::Replay;
pub use stats::Stats;
pub use subscribe::Subscription;
pub use time::now_ms;
pub use verify::VerifyReport;

pub use actlog_index::IndexOptions;
pub use actlog_log::{RetentionReport, SyncPolicy};
pub use actlog_model::codec::ActivityView;
pub use actlog_model::{
    Activity, ActivityId, ActivityType, AttributeId, DataType, NewActivity, PersonId, SkipReason,
    TypeId, TypeRef, Value, ValueRef,
};
pub use actlog_query::{Direction, Filter, SmartList};

/// The log crate, for storage back ends and reports.
pub use actlog_log as log;
/// The model crate, for the rest of its types (catalog events, JSON shapes, time parsing).
pub use actlog_model as model;
/// The query crate, for filters and smart lists built in code.
pub use actlog_query as query;
