//! Rebuilding the index from the log: the bulk path (large sorted batches), not the live one.

use actlog_index::Index;
use actlog_log::{Log, Offset};
use actlog_model::{ActivityId, Catalog};

use crate::docs::DocBatch;
use crate::error::{Error, Result};
use crate::options::Options;

/// Activities decoded and handed to the loader at a time.
const CHUNK_RECORDS: usize = 8_192;

pub(crate) fn rebuild(
    log: &Log,
    index: &Index,
    catalog: &Catalog,
    options: &Options,
) -> Result<()> {
    let progress = options.rebuild_progress.clone();
    match progress {
        Some(f) => rebuild_with_progress(
            log,
            index,
            catalog,
            Some(&|done, total| f.call(done, total)),
        ),
        None => rebuild_with_progress(log, index, catalog, None),
    }
}

/// Clears the index and loads every activity of the log into it. `progress` gets
/// (activities done, activities in all) after every chunk.
pub(crate) fn rebuild_with_progress(
    log: &Log,
    index: &Index,
    catalog: &Catalog,
    progress: Option<&dyn Fn(u64, u64)>,
) -> Result<()> {
    index.clear()?;
    let first = log.first_offset().0;
    let end = log.next_offset().0;
    if first > 0 {
        index.set_floor(ActivityId(first))?;
    }
    let total = end - first;
    let mut loader = index.bulk_loader();
    let mut batch = DocBatch::new(catalog, CHUNK_RECORDS);
    let mut done = 0u64;
    let mut records = log
        .iter_range(Offset(first), Offset(end))
        .map_err(Error::activities)?;
    while let Some(record) = records.next_ref() {
        let record = record.map_err(Error::activities)?;
        batch.push_record(ActivityId(record.offset.0), record.payload)?;
        if batch.len() == CHUNK_RECORDS {
            done += batch.len() as u64;
            batch.drain(|docs| Ok(loader.add(docs)?))?;
            if let Some(progress) = progress {
                progress(done, total);
            }
        }
    }
    done += batch.len() as u64;
    batch.drain(|docs| Ok(loader.add(docs)?))?;
    loader.finish()?;
    if let Some(progress) = progress {
        progress(done, total);
    }
    Ok(())
}
