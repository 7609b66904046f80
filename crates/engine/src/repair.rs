//! Checking and cutting damaged logs of a directory the engine cannot open.

use std::path::Path;
use std::sync::Arc;

use actlog_log::{FsStorage, Log, LogOptions, Storage, StorageLock};

use crate::engine::{lock_dir, ACTIVITIES_DIR, CATALOG_DIR};
use crate::error::{Error, Result};
use crate::verify::VerifyReport;

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
    let (_lock, options) = offline(dir)?;
    let activities =
        Log::repair(dir.join(ACTIVITIES_DIR), options.clone()).map_err(Error::activities)?;
    let catalog = Log::repair(dir.join(CATALOG_DIR), options).map_err(Error::catalog)?;
    Ok(RepairReport {
        activities,
        catalog,
    })
}

/// Scans every frame of both logs of the engine directory `dir` and reports each damaged
/// place, without opening the engine: for a directory that [`Engine::open`] refuses (for
/// example because the damage lies in the activities it reads back at open), so that the
/// damage can still be located before deciding on [`repair`]. The index is not looked at
/// (its fields in the report stay empty).
///
/// Opening each log cuts a torn tail, as [`Engine::open`] would.
///
/// # Errors
/// [`Error::Locked`] while an engine has the directory open; a log error when a log
/// itself refuses to open (the error names the file and byte); I/O errors.
///
/// [`Engine::open`]: crate::Engine::open
pub fn verify_logs(dir: impl AsRef<Path>) -> Result<VerifyReport> {
    let dir = dir.as_ref();
    let (_lock, options) = offline(dir)?;
    let (activities, _) =
        Log::open(dir.join(ACTIVITIES_DIR), options.clone()).map_err(Error::activities)?;
    let (catalog, _) = Log::open(dir.join(CATALOG_DIR), options).map_err(Error::catalog)?;
    Ok(VerifyReport {
        activities: activities.verify().map_err(Error::activities)?,
        catalog: catalog.verify().map_err(Error::catalog)?,
        ..VerifyReport::default()
    })
}

/// Takes the directory's lock and gives the log options for working on its logs without
/// an engine: the lock is held as long as the returned guard lives.
fn offline(dir: &Path) -> Result<(Box<dyn StorageLock>, LogOptions)> {
    let storage: Arc<dyn Storage> = Arc::new(FsStorage);
    let lock = lock_dir(storage.as_ref(), dir)?;
    Ok((
        lock,
        LogOptions {
            storage,
            ..LogOptions::default()
        },
    ))
}
