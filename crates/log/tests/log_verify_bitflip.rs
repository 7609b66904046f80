//! A flipped bit is found by `verify` (sealed segments) or refused by `open` (the last
//! segment, when valid records follow it), never cut silently; `repair` cuts on request.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use actlog_log::{CorruptionKind, Error, Log, LogOptions, MemStorage, Offset, SyncPolicy};
use common::*;

const SEGMENT_BYTES_MAX: u64 = 2048;

/// Byte position of the frame of `offset` in its segment, found by walking frames.
fn frame_position(segment_base: u64, offset: u64) -> u64 {
    (segment_base..offset)
        .map(|i| 24 + payload(i).len() as u64)
        .sum::<u64>()
        + 32
}

#[test]
fn verify_finds_a_flipped_bit_in_a_sealed_segment() {
    // Open trusts the sealed segment's side file, so it opens; verify and reads find it.
    let (log, victim, path, position) = damaged_at(&MemStorage::new(), 256, 30, 2);
    let report = log.verify().unwrap();
    assert_eq!(report.damage.len(), 1, "{report:?}");
    let damage = &report.damage[0];
    assert_eq!(damage.segment, path);
    assert_eq!(damage.position, position);
    assert!(matches!(
        damage.kind,
        CorruptionKind::ChecksumMismatch { .. }
    ));
    assert_eq!(report.records_checked, 99);
    assert_read_corrupt_at(&log, victim, &path, position);
    // Records before the damage, and in other segments, still read.
    assert_eq!(log.read(Offset(0)).unwrap().payload, payload(0));
    assert_eq!(log.read(Offset(99)).unwrap().payload, payload(99));
    assert_eq!(
        log.read(Offset(victim - 1)).unwrap().payload,
        payload(victim - 1)
    );
}

#[test]
fn open_refuses_mid_segment_damage_and_repair_cuts_there() {
    let mem = MemStorage::new();
    let options = || mem_options(&mem, 1 << 20, SyncPolicy::Always);
    let (log, _) = Log::open(dir(), options()).unwrap();
    append_n(&log, 0, 20);
    drop(log);
    let path = segment_path(&dir(), 0);
    let position = frame_position(0, 12);
    mem.flip_bit(&path, position + 5, 0).unwrap();

    match Log::open(dir(), options()) {
        Err(Error::Corrupt {
            segment,
            position: p,
            ..
        }) => assert_eq!((segment, p), (path.clone(), position)),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    // Refusing changed nothing: it refuses again.
    assert!(matches!(
        Log::open(dir(), options()),
        Err(Error::Corrupt { .. })
    ));

    let report = Log::repair(dir(), options()).unwrap();
    let cut = report.cut_at.unwrap();
    assert_eq!((cut.segment, cut.position), (path, position));
    assert_eq!(report.next_offset, Offset(12));
    assert_eq!(
        report.bytes_removed,
        (12..20).map(|i| 24 + payload(i).len() as u64).sum::<u64>()
    );
    let (log, report) = Log::open(dir(), options()).unwrap();
    assert_eq!(report.torn_tail, None);
    check_contents(&log, 0, 12);
    append_n(&log, 12, 3);
    check_contents(&log, 0, 15);
}

#[test]
fn open_refuses_damage_in_a_sealed_segment_without_side_file_and_repair_drops_later_segments() {
    let mem = MemStorage::new();
    let options = || mem_options(&mem, SEGMENT_BYTES_MAX, SyncPolicy::Always);
    let (log, _) = Log::open(dir(), options()).unwrap();
    append_n(&log, 0, 100);
    let segments = log.segments();
    log.close().unwrap();
    let base = segments[1].base_offset.0;
    use actlog_log::Storage;
    mem.remove_file(&side_path(&dir(), base)).unwrap();
    let position = frame_position(base, base + 1);
    mem.flip_bit(&segment_path(&dir(), base), position + 26, 7)
        .unwrap();
    assert!(
        matches!(Log::open(dir(), options()), Err(Error::Corrupt { position: p, .. }) if p == position)
    );
    let report = Log::repair(dir(), options()).unwrap();
    assert_eq!(report.segments_removed, segments.len() - 2);
    assert_eq!(report.next_offset, Offset(base + 1));
    let (log, _) = Log::open(dir(), options()).unwrap();
    check_contents(&log, 0, base + 1);
    assert_eq!(log.verify().unwrap().damage, vec![]);
}

/// A log of 100 records in segments of 2 KiB, a sparse index entry every
/// `index_interval_bytes`, whose fourth record of the second segment has the bit `bit`
/// of its byte `delta` flipped, reopened. Returns the log, that record's offset, and
/// its segment and position.
fn damaged_at(
    mem: &MemStorage,
    index_interval_bytes: u32,
    delta: u64,
    bit: u8,
) -> (Log, u64, std::path::PathBuf, u64) {
    let options = || LogOptions {
        index_interval_bytes,
        ..mem_options(mem, SEGMENT_BYTES_MAX, SyncPolicy::Always)
    };
    let (log, _) = Log::open(dir(), options()).unwrap();
    append_n(&log, 0, 100);
    assert_eq!(log.verify().unwrap().damage, vec![]);
    let sealed = log.segments()[1].clone();
    assert!(sealed.sealed);
    log.close().unwrap();
    let victim = sealed.base_offset.0 + 3;
    let position = frame_position(sealed.base_offset.0, victim);
    let path = segment_path(&dir(), sealed.base_offset.0);
    mem.flip_bit(&path, position + delta, bit).unwrap();
    let (log, _) = Log::open(dir(), options()).unwrap();
    (log, victim, path, position)
}

/// With only each segment's first record in the sparse index, every read passes over
/// the records before its own in its segment.
const ONE_ENTRY_PER_SEGMENT: u32 = 1 << 20;

#[test]
fn reads_pass_over_a_damaged_payload_but_never_a_damaged_length_or_offset() {
    // A payload byte: only the damaged record is unreadable; reads that pass over it
    // check its length and offset, not its checksum.
    let (log, victim, path, position) =
        damaged_at(&MemStorage::new(), ONE_ENTRY_PER_SEGMENT, 30, 2);
    assert!(matches!(
        log.read(Offset(victim)),
        Err(Error::Corrupt { .. })
    ));
    for i in [victim + 1, victim + 2] {
        assert_eq!(log.read(Offset(i)).unwrap().payload, payload(i));
    }
    let wanted = [Offset(victim + 1), Offset(victim + 2)];
    let mut got = Vec::new();
    log.read_batch(&wanted, |r| got.push(r.payload.to_vec()))
        .unwrap();
    assert_eq!(got, vec![payload(victim + 1), payload(victim + 2)]);
    assert_eq!(log.verify().unwrap().damage[0].position, position);
    assert_eq!(log.verify().unwrap().damage[0].segment, path);

    // The offset field: a record passed over is not the one expected there.
    let (log, victim, p, position_b) = damaged_at(&MemStorage::new(), ONE_ENTRY_PER_SEGMENT, 8, 0);
    match log.read(Offset(victim + 2)) {
        Err(Error::Corrupt {
            segment,
            position,
            kind: CorruptionKind::OffsetMismatch { expected, .. },
        }) => assert_eq!((segment, position, expected), (p, position_b, victim)),
        other => panic!("expected an offset mismatch, got {other:?}"),
    }

    // The length field: the reader lands in the wrong place and finds no valid frame
    // there, or the wrong record; an error either way, never other data.
    for bit in [0, 3, 6] {
        let (log, victim, p, _) = damaged_at(&MemStorage::new(), ONE_ENTRY_PER_SEGMENT, 4, bit);
        for i in [victim + 1, victim + 2] {
            match log.read(Offset(i)) {
                Err(Error::Corrupt { segment, .. }) => assert_eq!(segment, p),
                other => panic!("bit {bit}, record {i}: expected Corrupt, got {other:?}"),
            }
        }
    }
}
