//! Segment log append and read throughput, beside a plain buffered file writer.
//!
//! 150-byte payloads. Appends: batches of 1, 100 and 1,000 under `SyncPolicy::Never` and
//! `SyncPolicy::Always` (one fdatasync per batch). The physical limit in the same run: the
//! same frames (same bytes, CRC32 included) written with a `BufWriter` and an fdatasync
//! per batch, and read back with a buffered reader that checks each CRC.
//!
//! `cargo bench -p actlog-benches --bench log -- --warm-up-time 1 --measurement-time 3`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs::File;
use std::hint::black_box;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use actlog_log::{Log, LogOptions, Offset, SyncPolicy};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

const PAYLOAD_BYTES: usize = 150;
const READ_RECORDS: u64 = 500_000;
/// Sealed segments beyond this many are dropped during append benches to bound disk use.
const SEGMENTS_KEPT: usize = 4;

fn payloads(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| (0..PAYLOAD_BYTES).map(|j| (i * 31 + j * 7) as u8).collect())
        .collect()
}

fn options(sync: SyncPolicy) -> LogOptions {
    LogOptions {
        segment_bytes_max: 64 << 20,
        sync,
        ..LogOptions::default()
    }
}

/// The log's frame layout, written by hand: crc32, len, offset, timestamp, payload.
fn encode_frame(out: &mut Vec<u8>, offset: u64, timestamp_ms: i64, payload: &[u8]) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&offset.to_le_bytes());
    out.extend_from_slice(&timestamp_ms.to_le_bytes());
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out[start + 4..]);
    out[start..start + 4].copy_from_slice(&crc.to_le_bytes());
}

fn bench_append(c: &mut Criterion) {
    let mut group = c.benchmark_group("log_append");
    for (name, sync) in [("never", SyncPolicy::Never), ("always", SyncPolicy::Always)] {
        for batch in [1usize, 100, 1000] {
            group.throughput(Throughput::Elements(batch as u64));
            let data = payloads(batch);
            let records: Vec<(&[u8], i64)> = data
                .iter()
                .map(|p| (p.as_slice(), 1_700_000_000_000))
                .collect();
            let tmp = tempfile::tempdir().unwrap();
            let (log, _) = Log::open(tmp.path(), options(sync)).unwrap();
            group.bench_with_input(BenchmarkId::new(name, batch), &batch, |b, _| {
                b.iter(|| {
                    let range = log.append_batch(&records).unwrap();
                    if range.start.0 % (1 << 18) < batch as u64
                        && log.segments().len() > SEGMENTS_KEPT
                    {
                        let keep_from =
                            log.segments()[log.segments().len() - SEGMENTS_KEPT].base_offset;
                        log.retain_before(keep_from).unwrap();
                    }
                    black_box(range)
                })
            });
            log.close().unwrap();
        }
        // The physical limit: the same frames through a BufWriter, synced as the log is.
        for batch in [100usize, 1000] {
            group.throughput(Throughput::Elements(batch as u64));
            let data = payloads(batch);
            let tmp = tempfile::tempdir().unwrap();
            let path = tmp.path().join("plain");
            let mut writer = BufWriter::with_capacity(1 << 20, File::create(&path).unwrap());
            let mut offset = 0u64;
            let mut frame = Vec::with_capacity(PAYLOAD_BYTES + 24);
            group.bench_with_input(
                BenchmarkId::new(format!("plain_writer_{name}"), batch),
                &batch,
                |b, _| {
                    b.iter(|| {
                        for p in &data {
                            frame.clear();
                            encode_frame(&mut frame, offset, 1_700_000_000_000, p);
                            writer.write_all(&frame).unwrap();
                            offset += 1;
                        }
                        writer.flush().unwrap();
                        if sync == SyncPolicy::Always {
                            writer.get_ref().sync_data().unwrap();
                        }
                        if offset % (1 << 18) < batch as u64 {
                            // Bound disk use like the log's retention does.
                            writer.get_ref().set_len(0).unwrap();
                            std::io::Seek::rewind(writer.get_mut()).unwrap();
                        }
                    })
                },
            );
        }
    }
    group.finish();
}

fn fill_log(dir: &Path) {
    let (log, _) = Log::open(dir, options(SyncPolicy::Never)).unwrap();
    let data = payloads(1000);
    let records: Vec<(&[u8], i64)> = data.iter().map(|p| (p.as_slice(), 1)).collect();
    for _ in 0..READ_RECORDS / 1000 {
        log.append_batch(&records).unwrap();
    }
    log.close().unwrap();
}

fn fill_plain(path: &Path) {
    let mut writer = BufWriter::new(File::create(path).unwrap());
    let data = payloads(1000);
    let mut frame = Vec::new();
    for offset in 0..READ_RECORDS {
        frame.clear();
        encode_frame(&mut frame, offset, 1, &data[(offset % 1000) as usize]);
        writer.write_all(&frame).unwrap();
    }
    writer.flush().unwrap();
}

fn bench_read(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    let log_dir = tmp.path().join("log");
    fill_log(&log_dir);
    let plain = tmp.path().join("plain");
    fill_plain(&plain);
    let (log, _) = Log::open(&log_dir, options(SyncPolicy::Never)).unwrap();

    let mut group = c.benchmark_group("log_read");
    group.throughput(Throughput::Elements(READ_RECORDS));
    group.sample_size(10);
    group.bench_function("for_each_from", |b| {
        b.iter(|| {
            let mut bytes = 0usize;
            let n = log
                .for_each_from(Offset(0), |r| bytes += r.payload.len())
                .unwrap();
            assert_eq!(n, READ_RECORDS);
            black_box(bytes)
        })
    });
    group.bench_function("iter_from", |b| {
        b.iter(|| {
            let mut n = 0u64;
            for r in log.iter_from(Offset(0)).unwrap() {
                black_box(r.unwrap());
                n += 1;
            }
            assert_eq!(n, READ_RECORDS);
        })
    });
    group.bench_function("plain_reader", |b| {
        b.iter(|| {
            let mut reader = BufReader::with_capacity(1 << 20, File::open(&plain).unwrap());
            let mut header = [0u8; 24];
            let mut payload = vec![0u8; 1 << 16];
            let mut n = 0u64;
            while reader.read_exact(&mut header).is_ok() {
                let len = u32::from_le_bytes(header[4..8].try_into().unwrap()) as usize;
                reader.read_exact(&mut payload[..len]).unwrap();
                let mut hasher = crc32fast::Hasher::new();
                hasher.update(&header[4..]);
                hasher.update(&payload[..len]);
                assert_eq!(
                    hasher.finalize(),
                    u32::from_le_bytes(header[..4].try_into().unwrap())
                );
                n += 1;
            }
            assert_eq!(n, READ_RECORDS);
        })
    });
    group.finish();
}

criterion_group!(benches, bench_append, bench_read);
criterion_main!(benches);
