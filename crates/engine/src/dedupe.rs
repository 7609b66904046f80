//! The idempotency window: recent idempotency keys and the ids they were recorded under.
//!
//! A retried append carries the same key as the first attempt; if the key is still in the
//! window, the retry is skipped and reports the original id. The window holds the keys of
//! the last `window_records` activities (by id), so memory is bounded by the option. It is
//! read back from the end of the log by the first append that carries a key
//! ([`DedupeWindow::ensure_loaded`]), not by open: reading a million records cost about a
//! second, which every open paid, also one that only reads or appends without keys.
//!
//! Two concurrent appends with the same key must not both be recorded, so a key is first
//! *reserved* (pending) under the lock, the batch is written without the lock held (so
//! concurrent batches still share one fsync), and the reservation is then either resolved
//! to the id or released when the write fails. A caller that meets a pending key waits for
//! it to resolve.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::{Condvar, Mutex};

use actlog_log::{Log, Offset};
use actlog_model::{codec, ActivityId};

use crate::error::{Error, Result};

/// What the window says about a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seen {
    /// The key was recorded under this id.
    Recorded(ActivityId),
    /// The key is new; it is now reserved for the caller, who must `resolve` or `release` it.
    Reserved,
    /// Another append holds the key reserved; only [`DedupeWindow::try_reserve`] says this.
    Pending,
}

#[derive(Debug, Clone, Copy)]
enum Slot {
    Pending,
    Recorded(ActivityId),
}

#[derive(Debug, Default)]
struct State {
    keys: HashMap<String, Slot>,
    /// Recorded keys in id order, for eviction.
    order: VecDeque<(ActivityId, String)>,
}

/// Bounded map of recent idempotency keys.
#[derive(Debug)]
pub(crate) struct DedupeWindow {
    window_records: u64,
    state: Mutex<State>,
    resolved: Condvar,
    /// Whether the keys of the log's records are in `state`; set once, under `loading`.
    loaded: AtomicBool,
    loading: Mutex<()>,
}

impl DedupeWindow {
    pub(crate) fn new(window_records: u64) -> Self {
        Self {
            window_records,
            state: Mutex::new(State::default()),
            resolved: Condvar::new(),
            loaded: AtomicBool::new(false),
            loading: Mutex::new(()),
        }
    }

    /// Reads the keys of the newest `window_records` records of `log` into the window,
    /// the first time it is called; an append calls it before it looks a key up.
    ///
    /// Appends that carry keys wait here until the keys are read, so none is reserved or
    /// recorded before them; appends without keys may run meanwhile and add records past
    /// the end read, which hold no keys. A record that does not decode is an error, and
    /// the next call reads again (an engine whose window holds damage records no keyed
    /// activity until it is repaired, but reads and appends without keys go on).
    ///
    /// # Errors
    ///
    /// The log's read error, or [`Error::Decode`] naming the record.
    pub(crate) fn ensure_loaded(&self, log: &Log) -> Result<()> {
        if self.loaded.load(Ordering::Acquire) {
            return Ok(());
        }
        let _loading = self.loading.lock();
        if self.loaded.load(Ordering::Acquire) {
            return Ok(());
        }
        let end = log.next_offset().0;
        let from = end
            .saturating_sub(self.window_records)
            .max(log.first_offset().0);
        let mut records = log
            .iter_range(Offset(from), Offset(end))
            .map_err(Error::activities)?;
        let mut keys: Vec<(ActivityId, String)> = Vec::new();
        while let Some(record) = records.next_ref() {
            let record = record.map_err(Error::activities)?;
            let id = ActivityId(record.offset.0);
            // Decoded in place: only the keys are copied out.
            let activity = codec::decode_activity_view(id, record.payload)
                .map_err(|source| Error::Decode { id, source })?;
            if let Some(key) = activity.idempotency_key {
                keys.push((id, key.to_owned()));
            }
        }
        let mut state = self.state.lock();
        debug_assert!(
            state.order.is_empty(),
            "keys recorded before the window was read"
        );
        for (id, key) in keys {
            state.keys.insert(key.clone(), Slot::Recorded(id));
            state.order.push_back((id, key));
        }
        drop(state);
        self.loaded.store(true, Ordering::Release);
        Ok(())
    }

    /// Looks a key up and reserves it when new, without waiting: a key that another append
    /// holds reserved is [`Seen::Pending`].
    pub(crate) fn try_reserve(&self, key: &str) -> Seen {
        let mut state = self.state.lock();
        match state.keys.get(key) {
            Some(Slot::Recorded(id)) => Seen::Recorded(*id),
            Some(Slot::Pending) => Seen::Pending,
            None => {
                state.keys.insert(key.to_owned(), Slot::Pending);
                Seen::Reserved
            }
        }
    }

    /// Looks a key up and reserves it when new, waiting while another append holds it.
    /// The caller must hold no reservation of its own, or two appends could wait on each
    /// other.
    pub(crate) fn check_and_reserve(&self, key: &str) -> Seen {
        let mut state = self.state.lock();
        loop {
            match state.keys.get(key) {
                Some(Slot::Recorded(id)) => return Seen::Recorded(*id),
                Some(Slot::Pending) => self.resolved.wait(&mut state),
                None => {
                    state.keys.insert(key.to_owned(), Slot::Pending);
                    return Seen::Reserved;
                }
            }
        }
    }

    /// Records reserved keys under the ids they were written with, then evicts keys that
    /// fell out of the window (ids below `next_id - window_records`).
    pub(crate) fn resolve(
        &self,
        recorded: impl IntoIterator<Item = (String, ActivityId)>,
        next_id: ActivityId,
    ) {
        let mut state = self.state.lock();
        for (key, id) in recorded {
            state.keys.insert(key.clone(), Slot::Recorded(id));
            state.order.push_back((id, key));
        }
        Self::evict(
            &mut state,
            next_id.get().saturating_sub(self.window_records),
        );
        drop(state);
        self.resolved.notify_all();
    }

    /// Releases reservations whose write failed, so a retry can record them.
    pub(crate) fn release<'a>(&self, keys: impl IntoIterator<Item = &'a str>) {
        let mut state = self.state.lock();
        for key in keys {
            if matches!(state.keys.get(key), Some(Slot::Pending)) {
                state.keys.remove(key);
            }
        }
        drop(state);
        self.resolved.notify_all();
    }

    /// Forgets keys of ids below `first_kept`.
    fn evict(state: &mut State, first_kept: u64) {
        while let Some((id, _)) = state.order.front() {
            if id.get() >= first_kept {
                break;
            }
            if let Some((_, key)) = state.order.pop_front() {
                // A key recorded twice (impossible through `check_and_reserve`, possible in a
                // hand-edited log) keeps its newest id.
                if matches!(state.keys.get(&key), Some(Slot::Recorded(kept)) if kept.get() < first_kept)
                {
                    state.keys.remove(&key);
                }
            }
        }
    }

    /// Number of recorded keys held.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.state.lock().order.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn reserve_resolve_and_find() {
        let w = DedupeWindow::new(10);
        assert_eq!(w.check_and_reserve("a"), Seen::Reserved);
        w.resolve([("a".to_owned(), ActivityId(3))], ActivityId(4));
        assert_eq!(w.check_and_reserve("a"), Seen::Recorded(ActivityId(3)));
    }

    #[test]
    fn try_reserve_reports_pending_without_waiting() {
        let w = DedupeWindow::new(10);
        assert_eq!(w.try_reserve("a"), Seen::Reserved);
        assert_eq!(w.try_reserve("a"), Seen::Pending);
        w.release(["a"]);
        assert_eq!(w.try_reserve("a"), Seen::Reserved);
    }

    #[test]
    fn released_key_can_be_reserved_again() {
        let w = DedupeWindow::new(10);
        assert_eq!(w.check_and_reserve("a"), Seen::Reserved);
        w.release(["a"]);
        assert_eq!(w.check_and_reserve("a"), Seen::Reserved);
    }

    #[test]
    fn keys_fall_out_of_the_window() {
        let w = DedupeWindow::new(5);
        for i in 0..20u64 {
            let key = format!("k{i}");
            assert_eq!(w.check_and_reserve(&key), Seen::Reserved);
            w.resolve([(key, ActivityId(i))], ActivityId(i + 1));
        }
        assert_eq!(w.len(), 5);
        assert_eq!(w.check_and_reserve("k19"), Seen::Recorded(ActivityId(19)));
        assert_eq!(w.check_and_reserve("k15"), Seen::Recorded(ActivityId(15)));
        assert_eq!(w.check_and_reserve("k14"), Seen::Reserved);
    }

    #[test]
    fn a_waiter_sees_the_resolution_of_a_pending_key() {
        let w = Arc::new(DedupeWindow::new(10));
        assert_eq!(w.check_and_reserve("a"), Seen::Reserved);
        let w2 = Arc::clone(&w);
        let waiter = std::thread::spawn(move || w2.check_and_reserve("a"));
        std::thread::sleep(std::time::Duration::from_millis(20));
        w.resolve([("a".to_owned(), ActivityId(7))], ActivityId(8));
        assert_eq!(waiter.join().unwrap(), Seen::Recorded(ActivityId(7)));
    }
}
