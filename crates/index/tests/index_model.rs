//! Random adds, flushes (which merge runs beyond three), crashes (dropping the index
//! without a flush) and floors;
//! after each step every lookup must equal a brute-force scan of the documents.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use actlog_index::{FlushSync, Index, IndexOptions, IndexState};
use actlog_model::ActivityId;
use common::{add, check, Doc, Gen};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Step {
    Add(usize),
    Flush,
    Crash,
    Floor(u64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (1usize..40).prop_map(Step::Add),
        2 => Just(Step::Flush),
        2 => Just(Step::Crash),
        1 => (0u64..150).prop_map(Step::Floor),
    ]
}

fn options(block: usize) -> IndexOptions {
    IndexOptions {
        memtable_postings_max: 97,
        block_postings_max: block,
        // Few runs, so that flushes merge runs often.
        runs_max: 3,
        sled_cache_bytes: 1 << 20,
        flush_sync: FlushSync::Always,
        ..IndexOptions::default()
    }
}

fn run(seed: u64, block: usize, steps: &[Step]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    let (mut index, state) = Index::open(&path, options(block)).unwrap();
    assert!(
        matches!(state, IndexState::NeedsRebuild { .. }),
        "{state:?}"
    );
    let mut g = Gen(seed | 1);
    let mut docs: Vec<Doc> = Vec::new();
    let mut next_id = 0u64;
    let mut floor = 0u64;
    for s in steps {
        match *s {
            Step::Add(n) => {
                let batch: Vec<Doc> = (next_id..next_id + n as u64).map(|id| g.doc(id)).collect();
                add(&index, &batch);
                next_id += n as u64;
                docs.extend(batch);
            }
            Step::Flush => {
                index.flush().unwrap();
                assert_eq!(index.checkpoint(), ActivityId(next_id));
            }
            Step::Crash => {
                let checkpoint = index.checkpoint();
                drop(index);
                let (reopened, state) = Index::open(&path, options(block)).unwrap();
                assert_eq!(state, IndexState::Ready { checkpoint });
                assert_eq!(reopened.floor(), ActivityId(floor));
                index = reopened;
                // The engine re-feeds the log from the checkpoint.
                let refeed: Vec<Doc> = docs
                    .iter()
                    .filter(|d| d.id >= checkpoint.get())
                    .cloned()
                    .collect();
                add(&index, &refeed);
            }
            Step::Floor(f) => {
                index.set_floor(ActivityId(f)).unwrap();
                floor = floor.max(f);
                next_id = next_id.max(floor);
                docs.retain(|d| d.id >= floor);
            }
        }
        assert_eq!(index.watermark(), ActivityId(next_id));
        check(&index, &docs, floor, &mut g);
    }
    assert!(index.verify().unwrap().is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn lookups_equal_brute_force(seed in any::<u64>(), block in 1usize..9, steps in prop::collection::vec(step(), 1..14)) {
        run(seed, block, &steps);
    }
}

#[test]
fn large_blocks_and_many_flushes() {
    let steps: Vec<Step> = (0..20)
        .flat_map(|i| {
            [
                Step::Add(37),
                if i % 3 == 0 { Step::Crash } else { Step::Flush },
            ]
        })
        .collect();
    run(0xdead_beef, 512, &steps);
}
