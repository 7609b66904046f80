//! ENOSPC and EIO injected at every storage call of a workload in turn (writes, syncs,
//! reads, opens, renames, ...): the engine reports an error to the caller whose data was
//! not made durable and never acknowledges it; after the fault clears, the store loses its
//! unsynced bytes (power loss) and the engine reopens, everything acknowledged is intact
//! and appends work again.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use actlog::log::{CrashMode, FaultError, MemStorage, StorageOp};
use actlog::model::{AttributeDefinition, DataType, TypeDefinition};
use actlog::{Activity, ActivityId, Engine, Options, Outcome, Result};
use common::*;

const OPS: [StorageOp; 9] = [
    StorageOp::Write,
    StorageOp::SyncData,
    StorageOp::Read,
    StorageOp::SetLen,
    StorageOp::SyncDir,
    StorageOp::Open,
    StorageOp::Remove,
    StorageOp::Rename,
    StorageOp::List,
];

fn options(mem: &MemStorage) -> Options {
    Options {
        segment_bytes_max: 2048,
        record_bytes_max: 1024,
        storage: Some(Arc::new(mem.clone())),
        ..Options::default()
    }
}

/// The engine directory as the logs see it (in memory); its index lives in `index_root`.
fn data_dir(index_root: &Path) -> std::path::PathBuf {
    index_root.join("data")
}

/// A store with a type and ten acknowledged activities; returns them by id.
fn base(mem: &MemStorage, root: &Path) -> BTreeMap<u64, Activity> {
    let engine = Engine::open(data_dir(root), options(mem)).unwrap();
    webinar_type(&engine);
    engine
        .append_batch(
            (0..10)
                .map(|i| webinar(i, T0 + i as i64, "base", 1))
                .collect(),
        )
        .unwrap();
    let acked = engine
        .replay(ActivityId(0))
        .unwrap()
        .map(|a| {
            let a = a.unwrap();
            (a.id.get(), a)
        })
        .collect();
    engine.close().unwrap();
    acked
}

/// Opens, appends batches (rolling segments), defines a type, reads back what it wrote,
/// and closes; stops at the first error. Every acknowledged activity goes into `acked`.
fn workload(mem: &MemStorage, root: &Path, acked: &mut BTreeMap<u64, Activity>) -> Result<()> {
    let engine = Engine::open(data_dir(root), options(mem))?;
    for batch in 0..6u64 {
        if batch == 3 {
            let def = TypeDefinition {
                api_name: format!("extra{}", engine.next_id().get()),
                name: format!("Extra {}", engine.next_id().get()),
                description: None,
                trigger_name: "Extra".into(),
                filter_name: "Extra".into(),
                primary_attribute: AttributeDefinition::new("p", "P", DataType::String),
                attributes: Vec::new(),
            };
            let created = engine.create_type(def)?;
            engine.approve_type(created.id())?;
        }
        let items = (0..8)
            .map(|i| webinar(100 + batch, T0 + (batch * 8 + i) as i64, "load", 7))
            .collect();
        let outcomes = engine.append_batch(items)?;
        for outcome in outcomes {
            let Outcome::Added { id } = outcome else {
                panic!("not added: {outcome:?}");
            };
            // A read either fails or returns exactly what was written.
            let got = engine.get(id)?.expect("an acknowledged id reads");
            assert_eq!(got.person.0, 100 + batch);
            assert_eq!(got.primary, actlog::Value::String("load".into()));
            acked.insert(id.get(), got);
        }
    }
    engine.close()
}

/// After the fault: power loss, reopen, and check everything acknowledged.
fn check_after_crash(mem: &MemStorage, root: &Path, acked: &BTreeMap<u64, Activity>, case: &str) {
    mem.clear_faults();
    mem.crash(CrashMode::DropUnsynced);
    let engine = Engine::open(data_dir(root), options(mem))
        .unwrap_or_else(|e| panic!("{case}: reopen after the fault cleared: {e}"));
    let next = engine.next_id().get();
    for (&id, a) in acked {
        let got = engine
            .get(ActivityId(id))
            .unwrap_or_else(|e| panic!("{case}: id {id}: {e}"));
        assert_eq!(got.as_ref(), Some(a), "{case}: acknowledged id {id}");
    }
    let mut expect = 0;
    for a in engine.replay(ActivityId(0)).unwrap() {
        assert_eq!(a.unwrap().id.get(), expect, "{case}: ids dense");
        expect += 1;
    }
    assert_eq!(expect, next);
    let report = engine.verify().unwrap();
    assert!(report.is_clean(), "{case}: {report:?}");
    let outcome = engine.append(webinar(1, T0, "after", 1)).unwrap();
    assert_eq!(
        outcome,
        Outcome::Added {
            id: ActivityId(next)
        },
        "{case}"
    );
    engine.close().unwrap();
}

#[test]
fn every_storage_call_failing_in_turn_loses_nothing_acknowledged() {
    // Count the calls of each kind the workload makes.
    let counts: Vec<(StorageOp, u64)> = {
        let mem = MemStorage::new();
        let root = tempfile::tempdir().unwrap();
        let mut acked = base(&mem, root.path());
        let before: Vec<u64> = OPS.iter().map(|&op| mem.op_count(op)).collect();
        workload(&mem, root.path(), &mut acked).unwrap();
        assert_eq!(acked.len(), 10 + 6 * 8);
        OPS.iter()
            .zip(before)
            .map(|(&op, b)| (op, mem.op_count(op) - b))
            .collect()
    };
    println!("calls per workload: {counts:?}");
    for op in [
        StorageOp::Write,
        StorageOp::SyncData,
        StorageOp::Read,
        StorageOp::Open,
    ] {
        assert!(
            counts.iter().any(|&(o, n)| o == op && n > 0),
            "{op:?} never called"
        );
    }

    let mut cases = 0;
    let mut refused = 0;
    for &(op, count) in &counts {
        for n in 0..count {
            for error in [FaultError::NoSpace, FaultError::Io] {
                let case = format!("{op:?} call {n} fails with {error:?}");
                let mem = MemStorage::new();
                let root = tempfile::tempdir().unwrap();
                let mut acked = base(&mem, root.path());
                mem.fail_after(op, n, error);
                let result = workload(&mem, root.path(), &mut acked);
                if result.is_err() {
                    refused += 1;
                }
                check_after_crash(&mem, root.path(), &acked, &case);
                cases += 1;
            }
        }
    }
    println!("fault_storage: {cases} injected faults, {refused} reported to the caller, nothing acknowledged lost");
    assert!(cases > 50);
    assert!(refused > cases / 2);
}

#[test]
fn a_full_disk_refuses_appends_until_reopened_then_they_work() {
    let mem = MemStorage::new();
    let root = tempfile::tempdir().unwrap();
    let acked = base(&mem, root.path());
    let engine = Engine::open(data_dir(root.path()), options(&mem)).unwrap();
    let next = engine.next_id();
    mem.fail_after(StorageOp::Write, 0, FaultError::NoSpace);
    let err = engine.append(webinar(1, T0, "full", 1)).unwrap_err();
    assert!(err.to_string().contains("No space left"), "{err}");
    // The log is poisoned: later appends are refused too, and the id did not move.
    assert!(engine.append(webinar(1, T0, "full", 1)).is_err());
    assert_eq!(engine.next_id(), next);
    drop(engine);
    check_after_crash(&mem, root.path(), &acked, "full disk");
}
