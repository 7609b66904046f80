//! Live tailing: a stream that catches up from an id, then follows new activities.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use actlog_log::Offset;
use actlog_model::{codec, Activity, ActivityId};

use crate::engine::Inner;
use crate::error::{Error, Result};

/// Activities read per blocking read while catching up.
const CHUNK_RECORDS: u64 = 1_024;
/// Activities buffered between the reader task and the consumer.
const CHANNEL_CAPACITY: usize = 4_096;

/// A stream of activities from an id on: first those already recorded, then each new one
/// as it is appended, until the stream is dropped or the engine is closed.
///
/// Created by [`Engine::subscribe`](crate::Engine::subscribe). Reads run on tokio's
/// blocking pool, so polling never blocks the runtime. Under `SyncPolicy::Always` an
/// activity is yielded only once it is durable.
#[derive(Debug)]
pub struct Subscription {
    rx: mpsc::Receiver<Result<Activity>>,
    task: JoinHandle<()>,
}

impl Subscription {
    pub(crate) fn start(inner: Arc<Inner>, from: ActivityId) -> Result<Self> {
        let handle = tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        let task = handle.spawn(follow(inner, from, tx));
        Ok(Self { rx, task })
    }
}

impl futures_core::Stream for Subscription {
    type Item = Result<Activity>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn follow(inner: Arc<Inner>, from: ActivityId, tx: mpsc::Sender<Result<Activity>>) {
    let mut appended = inner.appended_tx.subscribe();
    let mut next = from.get();
    loop {
        if inner.check_open().is_err() {
            return;
        }
        let first = inner.activities.first_offset().0;
        let end = inner.activities.next_offset().0;
        next = next.max(first);
        if next >= end {
            // Mark the current value seen first, so an append between reading `end` and
            // waiting is not missed.
            appended.borrow_and_update();
            if inner.activities.next_offset().0 > next {
                continue;
            }
            if appended.changed().await.is_err() {
                return;
            }
            continue;
        }
        let to = end.min(next + CHUNK_RECORDS);
        let reader = Arc::clone(&inner);
        let chunk = tokio::task::spawn_blocking(move || read_chunk(&reader, next, to)).await;
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(join) => Err(Error::Indexer(format!(
                "subscription reader failed: {join}"
            ))),
        };
        match chunk {
            Ok(activities) => {
                next = to;
                for activity in activities {
                    if tx.send(Ok(activity)).await.is_err() {
                        return;
                    }
                }
            }
            Err(err) => {
                let _ = tx.send(Err(err)).await;
                return;
            }
        }
    }
}

fn read_chunk(inner: &Inner, from: u64, to: u64) -> Result<Vec<Activity>> {
    let mut out = Vec::with_capacity((to - from) as usize);
    for record in inner
        .activities
        .iter_range(Offset(from), Offset(to))
        .map_err(Error::activities)?
    {
        let record = record.map_err(Error::activities)?;
        let id = ActivityId(record.offset.0);
        out.push(
            codec::decode_activity(id, &record.payload)
                .map_err(|source| Error::Decode { id, source })?,
        );
    }
    Ok(out)
}
