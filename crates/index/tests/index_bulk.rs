//! A rebuild (clear, then bulk load) must give the same lookups as live indexing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use actlog_index::{Error, Index, IndexOptions, IndexState};
use actlog_model::ActivityId;
use common::{add, check, with_docs, Doc, Gen};

fn options() -> IndexOptions {
    IndexOptions {
        memtable_postings_max: 300,
        bulk_postings_max: 1_000,
        block_postings_max: 16,
        sled_cache_bytes: 1 << 20,
        ..IndexOptions::default()
    }
}

#[test]
fn clear_and_bulk_load_give_identical_lookups() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    let (index, _) = Index::open(&path, options()).unwrap();
    let mut g = Gen(7);
    let docs: Vec<Doc> = (0..2_000).map(|id| g.doc(id)).collect();
    for chunk in docs.chunks(97) {
        add(&index, chunk);
    }
    index.flush().unwrap();
    let floor = 150;
    index.set_floor(ActivityId(floor)).unwrap();
    let live: Vec<Doc> = docs.iter().filter(|d| d.id >= floor).cloned().collect();
    check(&index, &live, floor, &mut Gen(99));

    index.clear().unwrap();
    assert_eq!(index.watermark(), ActivityId(0));
    assert_eq!(index.stats().durable_postings, 0);
    index.set_floor(ActivityId(floor)).unwrap();
    assert_eq!(index.watermark(), ActivityId(floor));
    let mut loader = index.bulk_loader();
    for chunk in live.chunks(500) {
        with_docs(chunk, |v| loader.add(v)).unwrap();
    }
    // Live adds wait for the load.
    let err = with_docs(&live[..1], |v| index.add(v)).unwrap_err();
    assert!(matches!(err, Error::BulkLoadActive), "{err}");
    assert_eq!(loader.finish().unwrap(), ActivityId(2_000));
    check(&index, &live, floor, &mut Gen(99));
    assert!(index.verify().unwrap().is_empty());
    let stats = index.stats();
    assert_eq!(stats.checkpoint, ActivityId(2_000));
    assert!(stats.durable_postings >= 2 * live.len() as u64);

    // The rebuilt index survives a reopen and takes live adds again.
    drop(index);
    let (index, state) = Index::open(&path, options()).unwrap();
    assert_eq!(
        state,
        IndexState::Ready {
            checkpoint: ActivityId(2_000)
        }
    );
    let more: Vec<Doc> = (2_000..2_100).map(|id| g.doc(id)).collect();
    add(&index, &more);
    let mut all = live;
    all.extend(more);
    check(&index, &all, floor, &mut Gen(5));
}

#[test]
fn abandoned_bulk_load_reopens_as_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    let (index, _) = Index::open(&path, options()).unwrap();
    let mut g = Gen(3);
    let docs: Vec<Doc> = (0..1_500).map(|id| g.doc(id)).collect();
    let mut loader = index.bulk_loader();
    with_docs(&docs, |v| loader.add(v)).unwrap();
    drop(loader);
    assert!(matches!(
        with_docs(&docs[..1], |v| index.add(v)),
        Err(Error::BulkLoadActive)
    ));
    drop(index);
    let (index, state) = Index::open(&path, options()).unwrap();
    assert!(
        matches!(
            state,
            IndexState::NeedsRebuild {
                reason: actlog_index::RebuildReason::Interrupted
            }
        ),
        "{state:?}"
    );
    assert_eq!(index.stats().durable_blocks, 0);
    check(&index, &[], 0, &mut g);
}

#[test]
fn out_of_order_documents_are_rejected_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (index, _) = Index::open(dir.path().join("index"), options()).unwrap();
    let mut g = Gen(11);
    let mut docs: Vec<Doc> = (0..10).map(|id| g.doc(id)).collect();
    docs[5].id = 42;
    let err = with_docs(&docs, |v| index.add(v)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::NotContiguous {
                expected: ActivityId(5),
                got: ActivityId(42)
            }
        ),
        "{err}"
    );
    assert_eq!(index.watermark(), ActivityId(0));
}
