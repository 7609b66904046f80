//! The catalog log and the in-memory type catalog it replays into.
//!
//! Every catalog change is an event appended (durably) to its own log before it takes
//! effect, so the catalog's state is always what replaying the log gives. Readers take an
//! `Arc` snapshot and never block a change.

use std::path::Path;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use actlog_log::{Log, LogOptions, Offset, SyncPolicy};
use actlog_model::{codec, Catalog, CatalogEvent, CatalogOptions};

use crate::error::{Error, Result};
use crate::time::now_ms;

/// Catalog events are few and small; small segments keep the directory tidy.
const CATALOG_SEGMENT_BYTES_MAX: u64 = 8 * 1024 * 1024;

#[derive(Debug)]
pub(crate) struct CatalogStore {
    log: Log,
    current: RwLock<Arc<Catalog>>,
    /// Serialises commands so each is validated against the state it will change.
    commands: Mutex<()>,
}

impl CatalogStore {
    pub(crate) fn open(
        dir: &Path,
        storage: Arc<dyn actlog_log::Storage>,
        catalog_options: CatalogOptions,
    ) -> Result<Self> {
        let options = LogOptions {
            segment_bytes_max: CATALOG_SEGMENT_BYTES_MAX,
            sync: SyncPolicy::Always,
            storage,
            ..LogOptions::default()
        };
        let (log, _report) = Log::open(dir, options).map_err(Error::catalog)?;
        let mut catalog = Catalog::with_options(catalog_options);
        let records = log.iter_from(log.first_offset()).map_err(Error::catalog)?;
        for record in records {
            let record = record.map_err(Error::catalog)?;
            let offset = record.offset.0;
            let event = codec::decode_event(&record.payload)
                .map_err(|source| Error::CatalogReplay { offset, source })?;
            catalog
                .apply(&event)
                .map_err(|source| Error::CatalogReplay { offset, source })?;
        }
        Ok(Self {
            log,
            current: RwLock::new(Arc::new(catalog)),
            commands: Mutex::new(()),
        })
    }

    /// The catalog as of now.
    pub(crate) fn snapshot(&self) -> Arc<Catalog> {
        Arc::clone(&self.current.read())
    }

    /// Runs a command: it validates against the current state and returns the event, which
    /// is made durable and then applied.
    pub(crate) fn execute(
        &self,
        command: impl FnOnce(&Catalog, i64) -> actlog_model::Result<CatalogEvent>,
    ) -> Result<(Arc<Catalog>, CatalogEvent)> {
        let _serial = self.commands.lock();
        let current = self.snapshot();
        let event = command(&current, now_ms())?;
        let mut next = Catalog::clone(&current);
        // Apply before writing, so an event the catalog would refuse on replay is never
        // written; the copy is only published once the event is durable.
        next.apply(&event)?;
        let bytes = codec::encode_event(&event)?;
        self.log.append(&bytes, now_ms()).map_err(Error::catalog)?;
        let next = Arc::new(next);
        *self.current.write() = Arc::clone(&next);
        Ok((next, event))
    }

    pub(crate) fn log(&self) -> &Log {
        &self.log
    }

    pub(crate) fn events(&self) -> u64 {
        self.log.next_offset().0 - self.log.first_offset().0
    }

    #[allow(dead_code)]
    pub(crate) fn next_offset(&self) -> Offset {
        self.log.next_offset()
    }
}
