//! Arbitrary bytes as the only segment of a log, opened through the in-memory store: open
//! either refuses with a typed error or recovers a log whose every record reads back, whose
//! verify does not fail, and which accepts an append.
//!
//! The first input byte picks how the rest is laid out, so the fuzzer reaches past the
//! header and the frame checksums: raw bytes; a valid header followed by raw bytes; or a
//! valid header followed by well-formed frames cut from the input, one bit of which is
//! then flipped.
#![no_main]

use std::path::Path;
use std::sync::Arc;

use actlog_log::{Log, LogOptions, MemStorage, Offset, OpenMode, Storage};
use libfuzzer_sys::fuzz_target;

const RECORD_BYTES_MAX: u32 = 4096;

fn header(base_offset: u64) -> Vec<u8> {
    let mut h = Vec::with_capacity(32);
    h.extend_from_slice(b"ACTLGSEG");
    h.extend_from_slice(&1u16.to_le_bytes());
    h.extend_from_slice(&[0; 6]);
    h.extend_from_slice(&base_offset.to_le_bytes());
    h.extend_from_slice(&[0; 4]);
    let crc = crc32fast::hash(&h);
    h.extend_from_slice(&crc.to_le_bytes());
    h
}

fn frame(out: &mut Vec<u8>, offset: u64, timestamp_ms: i64, payload: &[u8]) {
    let mut body = Vec::with_capacity(20 + payload.len());
    body.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    body.extend_from_slice(&offset.to_le_bytes());
    body.extend_from_slice(&timestamp_ms.to_le_bytes());
    body.extend_from_slice(payload);
    out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    out.extend_from_slice(&body);
}

fn segment_bytes(data: &[u8]) -> Vec<u8> {
    let Some((&mode, rest)) = data.split_first() else {
        return Vec::new();
    };
    match mode % 3 {
        0 => rest.to_vec(),
        1 => {
            let mut bytes = header(0);
            bytes.extend_from_slice(rest);
            bytes
        }
        _ => {
            let mut bytes = header(0);
            let mut offset = 0;
            let mut chunks = rest.chunks(17);
            let flip = chunks
                .next()
                .map(|c| c.iter().map(|&b| usize::from(b)).sum::<usize>());
            for chunk in chunks {
                frame(&mut bytes, offset, i64::from(chunk[0]), chunk);
                offset += 1;
            }
            if let Some(flip) = flip {
                if bytes.len() > 32 && flip % 4 != 0 {
                    let i = 32 + flip * 7 % (bytes.len() - 32);
                    bytes[i] ^= 1 << (flip % 8);
                }
            }
            bytes
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mem = MemStorage::new();
    let dir = Path::new("/fuzz/log");
    mem.create_dir_all(dir).expect("in-memory mkdir");
    let file = mem
        .open_file(&dir.join("00000000000000000000.log"), OpenMode::CreateNew)
        .expect("in-memory create");
    let bytes = segment_bytes(data);
    file.write_all_at(&bytes, 0).expect("in-memory write");
    file.sync_data().expect("in-memory sync");
    mem.sync_dir(dir).expect("in-memory sync_dir");
    drop(file);

    let options = LogOptions {
        record_bytes_max: RECORD_BYTES_MAX,
        segment_bytes_max: 1 << 20,
        storage: Arc::new(mem.clone()),
        ..LogOptions::default()
    };
    let Ok((log, _report)) = Log::open(dir, options) else {
        return;
    };
    let first = log.first_offset();
    let next = log.next_offset();
    // Recovery left only records that read back, densely.
    let mut expect = first.0;
    for record in log.iter_from(first).expect("iterate a recovered log") {
        let record = record.expect("a recovered record reads");
        assert_eq!(record.offset, Offset(expect));
        expect += 1;
    }
    assert_eq!(expect, next.0);
    let report = log.verify().expect("verify a recovered log");
    assert!(
        report.damage.is_empty(),
        "damage after recovery: {report:?}"
    );
    let appended = log.append(b"after", 1).expect("append to a recovered log");
    assert_eq!(appended, next);
    assert_eq!(
        log.read(appended).expect("read back").payload,
        b"after".to_vec()
    );
});
