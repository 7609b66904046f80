//! Cutting damaged logs, when the user decides to.

use std::path::Path;
use std::sync::Arc;

use actlog_log::{FsStorage, Log, LogOptions, Storage};

use crate::engine::{lock_dir, ACTIVITIES_DIR, CATALOG_DIR};
use crate::error::{Error, Result};

/// What [`repair`] cut from each log.
#[derive(Debug, Clone, Default)]
pub struct RepairReport {
    /// The activities log.
    pub activities: actlog_log::RepairReport,
    /// The catalog log.
    pub catalog: actlog_log::RepairReport,
}

/// Cuts each log of the engine directory `dir` at its first damaged record, dropping that
/// record and everything after it, so the directory opens again. The index is rebuilt on
/// the next open if it covered anything cut.
///
/// This drops records that may have been acknowledged: `Engine::open` never does it by
/// itself (it cuts only a torn tail, which no acknowledged record follows). Run
/// `actlog verify` first to see what would go.
///
/// # Errors
/// [`Error::Locked`] while an engine has the directory open; I/O errors.
pub fn repair(dir: impl AsRef<Path>) -> Result<RepairReport> {
    let dir = dir.as_ref();
    let storage: Arc<dyn Storage> = Arc::new(FsStorage);
    let _lock = lock_dir(storage.as_ref(), dir)?;
    let options = LogOptions {
        storage,
        ..LogOptions::default()
    };
    let activities =
        Log::repair(dir.join(ACTIVITIES_DIR), options.clone()).map_err(Error::activities)?;
    let catalog = Log::repair(dir.join(CATALOG_DIR), options).map_err(Error::catalog)?;
    Ok(RepairReport {
        activities,
        catalog,
    })
}
