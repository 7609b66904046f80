//! A damaged block must surface as a typed error from reads and be listed by verify;
//! a damaged or other-format meta record makes the index reopen empty for a rebuild.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use actlog_index::{
    Error, Family, IdRange, Index, IndexOptions, IndexState, Order, RebuildReason, TimeRange,
};
use actlog_model::{PersonId, TypeId};
use common::{add, Doc, Gen};

fn build(path: &std::path::Path) -> Vec<Doc> {
    let (index, _) = Index::open(path, IndexOptions::default()).unwrap();
    let mut g = Gen(21);
    let docs: Vec<Doc> = (0..500).map(|id| g.doc(id)).collect();
    add(&index, &docs);
    index.flush().unwrap();
    docs
}

/// Flips one byte in the value of the first key starting with `family`.
fn damage(path: &std::path::Path, family: u8) -> Vec<u8> {
    let db = sled::open(path).unwrap();
    let (k, v) = db.scan_prefix([family]).next().unwrap().unwrap();
    let mut v = v.to_vec();
    v[1] ^= 0x40;
    db.insert(&k, v).unwrap();
    db.flush().unwrap();
    k.to_vec()
}

#[test]
fn damaged_person_block_is_an_error_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    build(&path);
    let key = damage(&path, b'P');
    // Key: family, run id, then the first group's person.
    let person = u64::from_be_bytes(key[9..17].try_into().unwrap());
    let (index, state) = Index::open(&path, IndexOptions::default()).unwrap();
    assert!(matches!(state, IndexState::Ready { .. }));
    let results: Vec<_> = index
        .person(PersonId(person), IdRange::all(), Order::Descending)
        .collect();
    let err = results
        .into_iter()
        .find_map(|r| r.err())
        .expect("damaged block must be an error");
    match err {
        Error::Corrupted {
            family,
            key: k,
            what,
            ..
        } => {
            assert_eq!(family, Family::Person);
            assert_eq!(k, key);
            assert_eq!(what, "checksum mismatch");
        }
        other => panic!("unexpected {other}"),
    }
    let damage = index.verify().unwrap();
    assert_eq!(damage.len(), 1);
    assert_eq!(damage[0].key, key);
    assert_eq!(damage[0].family, Family::Person);
}

#[test]
fn damaged_type_block_is_an_error_from_by_type() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    build(&path);
    let key = damage(&path, b'T');
    let type_id = u32::from_be_bytes(key[9..13].try_into().unwrap());
    let (index, _) = Index::open(&path, IndexOptions::default()).unwrap();
    let got: Vec<_> = index
        .by_type(
            TypeId(type_id),
            TimeRange::all(),
            IdRange::all(),
            Order::Ascending,
        )
        .collect();
    assert!(got.iter().any(|r| matches!(
        r,
        Err(Error::Corrupted {
            family: Family::Type,
            ..
        })
    )));
    // Iteration stops after the error rather than returning partial data past it.
    assert!(got.last().is_some_and(|r| r.is_err()));
    assert_eq!(index.verify().unwrap().len(), 1);
}

#[test]
fn damaged_meta_reopens_for_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    build(&path);
    {
        let db = sled::open(&path).unwrap();
        let mut v = db.get(b"\x00meta").unwrap().unwrap().to_vec();
        v[8] ^= 1;
        db.insert(b"\x00meta", v).unwrap();
        db.flush().unwrap();
    }
    let (index, state) = Index::open(&path, IndexOptions::default()).unwrap();
    assert!(
        matches!(
            state,
            IndexState::NeedsRebuild {
                reason: RebuildReason::Damaged { .. }
            }
        ),
        "{state:?}"
    );
    assert_eq!(index.stats().durable_blocks, 0);
    assert_eq!(
        index
            .person(PersonId(0), IdRange::all(), Order::Ascending)
            .count(),
        0
    );
}

#[test]
fn other_format_version_reopens_for_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    build(&path);
    {
        let db = sled::open(&path).unwrap();
        // Version 3 (before the type table and narrow directories) with a valid
        // checksum: an older format, not damage.
        let mut body = 3u32.to_le_bytes().to_vec();
        body.extend_from_slice(&[0u8; 33]);
        let mut h = crc32fast::Hasher::new();
        h.update(b"\x00meta");
        h.update(&body);
        body.extend_from_slice(&h.finalize().to_le_bytes());
        db.insert(b"\x00meta", body).unwrap();
        db.flush().unwrap();
    }
    let (_index, state) = Index::open(&path, IndexOptions::default()).unwrap();
    assert_eq!(
        state,
        IndexState::NeedsRebuild {
            reason: RebuildReason::FormatVersion {
                found: 3,
                expected: 4
            }
        }
    );
}

#[test]
fn missing_directory_opens_empty_for_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let (index, state) = Index::open(dir.path().join("nope"), IndexOptions::default()).unwrap();
    assert_eq!(
        state,
        IndexState::NeedsRebuild {
            reason: RebuildReason::Missing
        }
    );
    assert_eq!(index.checkpoint().get(), 0);
}

#[test]
fn second_open_of_a_live_index_is_an_error_and_deletes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    let docs = build(&path);
    let (index, state) = Index::open(&path, IndexOptions::default()).unwrap();
    assert!(matches!(state, IndexState::Ready { .. }));
    let second = Index::open(&path, IndexOptions::default());
    assert!(matches!(second, Err(Error::Io(_))), "{second:?}");
    let person = docs[0].person;
    let n = docs.iter().filter(|d| d.person == person).count();
    assert_eq!(
        index
            .person(PersonId(person), IdRange::all(), Order::Ascending)
            .count(),
        n
    );
}
