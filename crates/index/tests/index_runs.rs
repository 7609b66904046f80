//! Runs: many flushes are merged down to `runs_max` without changing any lookup, and
//! blocks that no meta record names (a flush or merge that crashed before its meta
//! record) are deleted on open.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use actlog_index::{Index, IndexOptions, IndexState};
use actlog_model::ActivityId;
use common::{add, check, check_persons, Doc, Gen};

fn options() -> IndexOptions {
    IndexOptions {
        memtable_postings_max: 1_000_000,
        block_postings_max: 8,
        runs_max: 3,
        sled_cache_bytes: 1 << 20,
        ..IndexOptions::default()
    }
}

/// Distinct run ids among the block keys (family byte, then the run id).
fn run_ids(path: &std::path::Path) -> Vec<u64> {
    let db = sled::open(path).unwrap();
    let mut ids: Vec<u64> = db
        .iter()
        .keys()
        .map(|k| k.unwrap())
        .filter(|k| k[0] != 0)
        .map(|k| u64::from_be_bytes(k[1..9].try_into().unwrap()))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

#[test]
fn many_flushes_merge_to_runs_max_with_identical_lookups() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    let (index, _) = Index::open(&path, options()).unwrap();
    let mut g = Gen(17);
    let docs: Vec<Doc> = (0..1_200).map(|id| g.doc(id)).collect();
    for chunk in docs.chunks(100) {
        add(&index, chunk);
        index.flush().unwrap();
    }
    check(&index, &docs, 0, &mut Gen(1));
    let stats = index.stats();
    assert_eq!(stats.checkpoint, ActivityId(1_200));
    assert!(stats.durable_postings >= 2 * 1_200, "{stats:?}");
    assert!(index.verify().unwrap().is_empty());
    drop(index);
    // Twelve flushes, at most three runs left, and the merged inputs deleted.
    let ids = run_ids(&path);
    assert!(!ids.is_empty() && ids.len() <= 3, "{ids:?}");
    assert!(ids.iter().any(|&r| r >= 12), "no merged run: {ids:?}");
    let (index, state) = Index::open(&path, options()).unwrap();
    assert_eq!(
        state,
        IndexState::Ready {
            checkpoint: ActivityId(1_200)
        }
    );
    check(&index, &docs, 0, &mut Gen(2));
}

#[test]
fn blocks_of_unlisted_runs_are_deleted_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    let (index, _) = Index::open(&path, options()).unwrap();
    let mut g = Gen(23);
    let docs: Vec<Doc> = (0..300).map(|id| g.doc(id)).collect();
    add(&index, &docs);
    index.flush().unwrap();
    drop(index);
    let live = run_ids(&path);
    assert_eq!(live, vec![0]);
    {
        // What a crash leaves: blocks of a run the meta record does not name, in
        // every family, before and after the live run's keys.
        let db = sled::open(&path).unwrap();
        for family in [b'P', b'T', b'V', b'A'] {
            for run in [7u64, u64::MAX] {
                let mut k = vec![family];
                k.extend_from_slice(&run.to_be_bytes());
                k.extend_from_slice(&[0u8; 16]);
                db.insert(k, b"garbage".to_vec()).unwrap();
            }
        }
        db.flush().unwrap();
    }
    assert_eq!(run_ids(&path), vec![0, 7, u64::MAX]);
    let (index, state) = Index::open(&path, options()).unwrap();
    assert_eq!(
        state,
        IndexState::Ready {
            checkpoint: ActivityId(300)
        }
    );
    check(&index, &docs, 0, &mut Gen(3));
    assert!(index.verify().unwrap().is_empty());
    drop(index);
    assert_eq!(run_ids(&path), vec![0]);
}

#[test]
fn floor_deletes_runs_below_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    let (index, _) = Index::open(&path, options()).unwrap();
    let mut g = Gen(29);
    let docs: Vec<Doc> = (0..400).map(|id| g.doc(id)).collect();
    for chunk in docs.chunks(100) {
        add(&index, chunk);
        index.flush().unwrap();
    }
    let before = index.stats().durable_postings;
    index.set_floor(ActivityId(250)).unwrap();
    let live: Vec<Doc> = docs.iter().filter(|d| d.id >= 250).cloned().collect();
    check(&index, &live, 250, &mut Gen(4));
    let after = index.stats().durable_postings;
    assert!(after < before, "{after} < {before}");
    drop(index);
    let (index, _) = Index::open(&path, options()).unwrap();
    assert_eq!(index.floor(), ActivityId(250));
    check(&index, &live, 250, &mut Gen(5));
}

/// A full memtable is written on a background thread while adds go on: lookups see
/// every posting throughout, the checkpoint moves when the run is published (by the
/// next full memtable or `flush`), and dropping the index with a run still unpublished
/// reopens at the last published checkpoint with the unpublished blocks deleted.
#[test]
fn background_flushes_are_published_later_and_dropped_unpublished() {
    let small = IndexOptions {
        memtable_postings_max: 200,
        ..options()
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    let (index, _) = Index::open(&path, small.clone()).unwrap();
    let mut g = Gen(23);
    let docs: Vec<Doc> = (0..1_000).map(|id| g.doc(id)).collect();
    for (i, chunk) in docs.chunks(10).enumerate() {
        add(&index, chunk);
        if i % 17 == 0 {
            check(&index, &docs[..(i + 1) * 10], 0, &mut Gen(i as u64));
        }
    }
    check(&index, &docs, 0, &mut Gen(2));
    let checkpoint = index.checkpoint();
    assert!(
        checkpoint > ActivityId(0),
        "no background flush was published"
    );
    assert!(checkpoint < ActivityId(1_000));
    drop(index);
    let (index, state) = Index::open(&path, small.clone()).unwrap();
    assert_eq!(state, IndexState::Ready { checkpoint });
    assert!(index.verify().unwrap().is_empty());
    let rest: Vec<Doc> = docs
        .iter()
        .filter(|d| d.id >= checkpoint.get())
        .cloned()
        .collect();
    add(&index, &rest);
    index.flush().unwrap();
    assert_eq!(index.checkpoint(), ActivityId(1_000));
    check(&index, &docs, 0, &mut Gen(3));
}

/// Opening an index another handle of this process holds waits a bounded time for it
/// to be released, then says the lock is taken, and works once it is released.
#[test]
fn a_held_index_refuses_a_second_open_after_a_bounded_wait() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    let (index, _) = Index::open(&path, options()).unwrap();
    let started = std::time::Instant::now();
    let err = Index::open(&path, options()).unwrap_err();
    assert!(err.to_string().contains("lock"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let reopen_path = path.clone();
    let reopen = std::thread::spawn(move || {
        let opened = Index::open(&reopen_path, options()).map(|_| ());
        let _ = done_tx.send(());
        opened
    });
    // Released while the second open is waiting: it gets the lock.
    std::thread::sleep(std::time::Duration::from_millis(100));
    drop(index);
    done_rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .unwrap();
    reopen.join().unwrap().unwrap();
}

/// Many persons over several runs, small blocks, a floor and a memtable tail: the walk
/// over each run's blocks gives what one lookup per person gives.
#[test]
fn persons_walked_together_equal_brute_force() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    let (index, _) = Index::open(&path, options()).unwrap();
    let mut g = Gen(23);
    let docs: Vec<Doc> = (0..3_000)
        .map(|id| {
            let mut d = g.doc(id);
            // Mostly one posting per person and block, some persons with many.
            d.person = if g.below(4) == 0 {
                g.below(6)
            } else {
                g.below(400)
            };
            d
        })
        .collect();
    for (i, chunk) in docs.chunks(500).enumerate() {
        add(&index, chunk);
        if i < 5 {
            index.flush().unwrap();
        }
    }
    for floor in [0, 700] {
        if floor > 0 {
            index.set_floor(ActivityId(floor)).unwrap();
        }
        let live: Vec<&Doc> = docs.iter().filter(|d| d.id >= floor).collect();
        for asked in [
            (0..400).collect::<Vec<u64>>(),
            (0..400).step_by(37).collect(),
            vec![
                399, 0, 7, 7, 5, 250, 251, 252, 253, 254, 255, 256, 257, 258, 259, 260, 1_000,
            ],
            vec![5, 2],
        ] {
            for range in [
                actlog_index::IdRange::all(),
                actlog_index::IdRange {
                    start: ActivityId(600),
                    end: ActivityId(2_600),
                },
                // Empty and inverted ranges hold nothing.
                actlog_index::IdRange {
                    start: ActivityId(900),
                    end: ActivityId(900),
                },
                actlog_index::IdRange {
                    start: ActivityId(2_000),
                    end: ActivityId(1_000),
                },
            ] {
                check_persons(&index, &live, &asked, range);
            }
        }
    }
}

/// An option's name, and a change that makes the options invalid through it.
type Spoil = (&'static str, fn(&mut IndexOptions));

#[test]
fn invalid_options_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [Spoil; 6] = [
        ("memtable_postings_max", |o| o.memtable_postings_max = 0),
        ("bulk_postings_max", |o| o.bulk_postings_max = 0),
        ("block_postings_max", |o| o.block_postings_max = 0),
        ("block_postings_max", |o| {
            o.block_postings_max = (1 << 20) + 1
        }),
        ("runs_max", |o| o.runs_max = 1),
        ("merge_fanout", |o| o.merge_fanout = 1),
    ];
    for (name, spoil) in cases {
        let mut o = options();
        spoil(&mut o);
        match Index::open(dir.path().join(name), o) {
            Err(actlog_index::Error::InvalidOptions { what }) => {
                assert!(what.contains(name), "{what}");
            }
            other => panic!("{name}: {other:?}"),
        }
        assert!(
            !dir.path().join(name).exists(),
            "{name}: nothing is created"
        );
    }
}
