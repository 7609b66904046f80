//! The indexer: a thread that follows the activities log and feeds the index.
//!
//! It reads records from the index watermark to the visible end of the log, decodes each,
//! and adds one `IndexDoc` per activity. The index flushes itself when its memtable
//! fills; the indexer also flushes it (blocks plus checkpoint, one atomic batch) every
//! `index_flush_interval_ms` while activities arrive, when a log segment seals under a
//! sync policy weaker than `Always`, and on close. Under those weaker policies these
//! flushes wait for the log's own syncs (its interval sync, a segment roll,
//! `Engine::sync`) instead of forcing one: a forced fdatasync of everything written since
//! the last one stopped indexing for its whole length. Only the flush on close syncs the
//! log first.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use actlog_index::Index;
use actlog_log::{Log, LogIter, Offset, SyncPolicy};
use actlog_model::ActivityId;

use crate::catalog_store::CatalogStore;
use crate::docs::DocBatch;
use crate::error::{Error, Result};

/// Records read and indexed per round, so waiters see progress often.
const ROUND_RECORDS_MAX: u64 = 16_384;

#[derive(Debug, Default)]
struct State {
    stop: bool,
    /// The last error the indexer met; cleared by the next successful round.
    failed: Option<String>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    log: Arc<Log>,
    index: Arc<Index>,
    catalog: Arc<CatalogStore>,
    sync: SyncPolicy,
    flush_interval: Duration,
    state: Mutex<State>,
    /// Wakes the indexer: new records, or stop.
    work: Condvar,
    /// Wakes queries waiting for the watermark.
    progress: Condvar,
}

/// The indexer thread and the means to wait for it.
#[derive(Debug)]
pub(crate) struct Indexer {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Indexer {
    pub(crate) fn start(
        log: Arc<Log>,
        index: Arc<Index>,
        catalog: Arc<CatalogStore>,
        sync: SyncPolicy,
        flush_interval_ms: u64,
    ) -> Result<Self> {
        let shared = Arc::new(Shared {
            log,
            index,
            catalog,
            sync,
            flush_interval: Duration::from_millis(flush_interval_ms.max(1)),
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            progress: Condvar::new(),
        });
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("actlog-indexer".into())
            .spawn(move || run(&thread_shared))
            .map_err(|source| Error::Io {
                path: "actlog-indexer thread".into(),
                source,
            })?;
        Ok(Self {
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Tells the indexer that the log grew.
    pub(crate) fn notify(&self) {
        // Under the lock, so the wake-up cannot fall between the indexer's check and its wait.
        let _state = self.shared.state.lock();
        self.shared.work.notify_one();
    }

    /// Waits until the index covers every id below `target`.
    pub(crate) fn wait_for(&self, target: ActivityId, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.state.lock();
        loop {
            let watermark = self.shared.index.watermark();
            if watermark >= target {
                return Ok(());
            }
            if let Some(failed) = &state.failed {
                return Err(Error::Indexer(failed.clone()));
            }
            if state.stop {
                return Err(Error::Closed);
            }
            self.shared.work.notify_one();
            if self
                .shared
                .progress
                .wait_until(&mut state, deadline)
                .timed_out()
                && self.shared.index.watermark() < target
            {
                return Err(Error::IndexLagging {
                    target: target.get(),
                    watermark: self.shared.index.watermark().get(),
                    waited_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                });
            }
        }
    }

    /// Stops the thread after it has indexed everything visible and flushed.
    pub(crate) fn stop(&self) -> Result<()> {
        self.shared.state.lock().stop = true;
        self.shared.work.notify_all();
        self.shared.progress.notify_all();
        if let Some(thread) = self.thread.lock().take() {
            if thread.join().is_err() {
                return Err(Error::Indexer("the indexer thread panicked".into()));
            }
        }
        match self.shared.state.lock().failed.take() {
            Some(failed) => Err(Error::Indexer(failed)),
            None => Ok(()),
        }
    }

    /// Starts the thread again after [`stop`](Self::stop).
    pub(crate) fn restart(&self) -> Result<()> {
        let mut thread = self.thread.lock();
        if thread.is_some() {
            return Ok(());
        }
        {
            let mut state = self.shared.state.lock();
            state.stop = false;
            state.failed = None;
        }
        let shared = Arc::clone(&self.shared);
        *thread = Some(
            std::thread::Builder::new()
                .name("actlog-indexer".into())
                .spawn(move || run(&shared))
                .map_err(|source| Error::Io {
                    path: "actlog-indexer thread".into(),
                    source,
                })?,
        );
        Ok(())
    }

    /// The last error of the indexer, if it is failing.
    pub(crate) fn failure(&self) -> Option<String> {
        self.shared.state.lock().failed.clone()
    }
}

fn run(shared: &Shared) {
    let mut last_flush = Instant::now();
    let mut sealed = sealed_segments(&shared.log);
    // Kept from round to round, so that its read buffer is allocated once and each round
    // goes on from the bytes the last one read ahead.
    let mut records: Option<LogIter> = None;
    loop {
        let stopping = {
            let mut state = shared.state.lock();
            while !state.stop
                && shared.log.next_offset().0 <= shared.index.watermark().get()
                && !(shared.index.checkpoint() < shared.index.watermark()
                    && last_flush.elapsed() >= shared.flush_interval)
            {
                let _ = shared.work.wait_for(&mut state, shared.flush_interval);
            }
            state.stop
        };
        let result = catch_up(
            shared,
            if stopping {
                u64::MAX
            } else {
                ROUND_RECORDS_MAX
            },
            &mut records,
        )
        .and_then(|()| {
            // A segment that seals is where the log syncs under the weaker policies, so
            // the index may then follow it to disk. Under `Always` every append is
            // durable already, and a flush at each seal only cut the memtable short: a
            // partial run for every 128 MiB of log, twice the runs to merge later.
            let now_sealed = sealed_segments(&shared.log);
            let seal_flush = now_sealed != sealed && shared.sync != SyncPolicy::Always;
            if stopping || seal_flush || last_flush.elapsed() >= shared.flush_interval {
                sealed = now_sealed;
                last_flush = Instant::now();
                flush(shared, stopping)?;
            }
            Ok(())
        });
        {
            let mut state = shared.state.lock();
            state.failed = result.err().map(|e| e.to_string());
            shared.progress.notify_all();
            if stopping {
                return;
            }
            if state.failed.is_some() {
                // Back off, then try again: a transient I/O error may clear.
                let _ = shared.work.wait_for(&mut state, Duration::from_millis(500));
            }
        }
    }
}

fn sealed_segments(log: &Log) -> usize {
    log.segments().iter().filter(|s| s.sealed).count()
}

/// Makes the index durable up to its watermark, never past the durable end of the log:
/// with `sync_log` it syncs the log first; without, it waits for a later round if the log
/// is not durable up to the watermark yet.
pub(crate) fn flush(shared: &Shared, sync_log: bool) -> Result<()> {
    let watermark = shared.index.watermark();
    if shared.index.checkpoint() >= watermark {
        return Ok(());
    }
    if shared.sync != SyncPolicy::Always {
        if sync_log {
            shared.log.sync().map_err(Error::activities)?;
        } else if shared.log.durable_offset().0 < watermark.get() {
            return Ok(());
        }
    }
    shared.index.flush()?;
    Ok(())
}

/// Indexes up to `records_max` records from the watermark.
fn catch_up(shared: &Shared, records_max: u64, records: &mut Option<LogIter>) -> Result<()> {
    let mut remaining = records_max;
    loop {
        let first = shared.log.first_offset().0;
        if shared.index.watermark().get() < first {
            // Retention removed records the index had not reached.
            shared.index.set_floor(ActivityId(first))?;
        }
        let from = shared.index.watermark().get();
        let end = shared.log.next_offset().0;
        if from >= end || remaining == 0 {
            return Ok(());
        }
        let to = end.min(from.saturating_add(remaining.min(ROUND_RECORDS_MAX)));
        index_range(shared, from, to, records)?;
        remaining -= to - from;
        shared.progress.notify_all();
    }
}

/// Indexes records `[from, to)`, read with `records` (made on first use, and moved on
/// with `LogIter::reset_range` after that).
fn index_range(shared: &Shared, from: u64, to: u64, records: &mut Option<LogIter>) -> Result<()> {
    let catalog = shared.catalog.snapshot();
    let mut batch = DocBatch::new(&catalog, (to - from) as usize);
    let records = match records {
        Some(iter) => {
            iter.reset_range(Offset(from), Offset(to))
                .map_err(Error::activities)?;
            iter
        }
        None => records.insert(
            shared
                .log
                .iter_range(Offset(from), Offset(to))
                .map_err(Error::activities)?,
        ),
    };
    while let Some(record) = records.next_ref() {
        let record = record.map_err(Error::activities)?;
        batch.push_record(ActivityId(record.offset.0), record.payload)?;
    }
    batch.drain(|docs| Ok(shared.index.add(docs)?))
}
