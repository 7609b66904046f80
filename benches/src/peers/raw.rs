//! The raw framed file: the physical limit of writing and scanning this data.
//!
//! One file, `activities.log`, of frames:
//!
//! | bytes | field                                  |
//! |-------|----------------------------------------|
//! | 4     | `len`: payload length, u32 LE           |
//! | 4     | `crc`: CRC-32 (IEEE) of the payload, LE |
//! | len   | payload: the bincode record            |
//!
//! Writes go through a 1 MiB `BufWriter`; under [`Durability::Always`] every batch
//! ends with a flush and an `fdatasync`. There is no index: the person and type reads
//! scan the whole file (correct, but not what the read benches measure it on), and the
//! replay is the scan the other peers are compared with. Reopening trusts the file's
//! tail (a bench store, not a recovering log); a torn or damaged frame is reported as
//! [`Error::Corrupt`] by the reader.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use super::{BenchTarget, Durability};
use crate::error::{Error, Result};
use crate::record::{decode_record, encode_record, Record};
use crate::workload::GenActivity;

const FRAME_HEADER_BYTES: usize = 8;
/// Bigger frames are corruption: a generated record is a few hundred bytes at most,
/// and the bound keeps a damaged length from allocating gigabytes.
const PAYLOAD_BYTES_MAX: u32 = 1 << 20;
const BUFFER_BYTES: usize = 1 << 20;

/// The framed-file writer and reader.
#[derive(Debug)]
pub struct RawFile {
    path: PathBuf,
    writer: BufWriter<File>,
    durability: Durability,
    buf: Vec<u8>,
}

impl RawFile {
    /// Reads every frame from the start and visits `(seq, record)`; seq counts frames.
    fn scan(&mut self, mut visit: impl FnMut(u64, Record)) -> Result<u64> {
        // The reader opens its own handle, so it must see what the writer buffered.
        self.writer.flush()?;
        let mut reader = BufReader::with_capacity(BUFFER_BYTES, File::open(&self.path)?);
        let mut payload = Vec::with_capacity(256);
        let mut position = 0u64;
        let mut seq = 0u64;
        loop {
            let mut header = [0u8; FRAME_HEADER_BYTES];
            let got = read_up_to(&mut reader, &mut header)?;
            if got == 0 {
                return Ok(seq);
            }
            let corrupt = |what: String| Error::Corrupt {
                file: self.path.clone(),
                position,
                what,
            };
            if got < FRAME_HEADER_BYTES {
                return Err(corrupt(format!("torn frame header: {got} of 8 bytes")));
            }
            let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
            let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
            if len > PAYLOAD_BYTES_MAX {
                return Err(corrupt(format!(
                    "frame length {len} over {PAYLOAD_BYTES_MAX}"
                )));
            }
            payload.resize(len as usize, 0);
            match reader.read_exact(&mut payload) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => {
                    return Err(corrupt(format!(
                        "torn frame: payload of {len} bytes cut short"
                    )))
                }
                Err(e) => return Err(e.into()),
            }
            let actual = crc32fast::hash(&payload);
            if actual != crc {
                return Err(corrupt(format!(
                    "checksum mismatch: stored {crc:#010x}, computed {actual:#010x}"
                )));
            }
            visit(seq, decode_record(&payload).map_err(corrupt)?);
            position += FRAME_HEADER_BYTES as u64 + u64::from(len);
            seq += 1;
        }
    }
}

/// Fills `buf` as far as the reader has bytes; returns how many it got (short = EOF).
fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match reader.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

impl BenchTarget for RawFile {
    const NAME: &'static str = "raw";

    fn open(dir: &Path, durability: Durability) -> Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("activities.log");
        let created = !path.exists();
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        if created && durability == Durability::Always {
            // A new file's name is durable only once its directory is synced.
            File::open(dir)?.sync_all()?;
        }
        Ok(Self {
            path,
            writer: BufWriter::with_capacity(BUFFER_BYTES, file),
            durability,
            buf: Vec::with_capacity(256),
        })
    }

    fn ingest_batch(&mut self, batch: &[GenActivity<'_>]) -> Result<()> {
        for a in batch {
            self.buf.clear();
            encode_record(a, &mut self.buf)?;
            let len = u32::try_from(self.buf.len())
                .ok()
                .filter(|&len| len <= PAYLOAD_BYTES_MAX)
                .ok_or_else(|| Error::Setup {
                    peer: Self::NAME,
                    what: format!("record of {} bytes does not fit a frame", self.buf.len()),
                })?;
            let mut header = [0u8; FRAME_HEADER_BYTES];
            header[..4].copy_from_slice(&len.to_le_bytes());
            header[4..].copy_from_slice(&crc32fast::hash(&self.buf).to_le_bytes());
            self.writer.write_all(&header)?;
            self.writer.write_all(&self.buf)?;
        }
        if self.durability == Durability::Always && !batch.is_empty() {
            self.writer.flush()?;
            self.writer.get_ref().sync_data()?;
        }
        Ok(())
    }

    fn person_latest(&mut self, person: u64, limit: usize) -> Result<Vec<Record>> {
        let mut hits: Vec<(i64, u64, Record)> = Vec::new();
        self.scan(|seq, r| {
            if r.person == person {
                hits.push((r.occurred_at_ms, seq, r));
            }
        })?;
        hits.sort_unstable_by_key(|h| std::cmp::Reverse((h.0, h.1)));
        Ok(hits.into_iter().take(limit).map(|(_, _, r)| r).collect())
    }

    fn type_range(
        &mut self,
        type_index: u32,
        from_ms: i64,
        to_ms: i64,
        visit: &mut dyn FnMut(Record),
    ) -> Result<u64> {
        let mut hits: Vec<(i64, u64, Record)> = Vec::new();
        self.scan(|seq, r| {
            if r.type_index == type_index && r.occurred_at_ms >= from_ms && r.occurred_at_ms < to_ms
            {
                hits.push((r.occurred_at_ms, seq, r));
            }
        })?;
        hits.sort_unstable_by_key(|h| (h.0, h.1));
        let n = hits.len() as u64;
        for (_, _, r) in hits {
            visit(r);
        }
        Ok(n)
    }

    fn replay(&mut self, visit: &mut dyn FnMut(Record)) -> Result<u64> {
        self.scan(|_, r| visit(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peers::conformance::ingest_then_read_back;
    use crate::workload::{Workload, WorkloadOptions};

    #[test]
    fn ingest_then_read_back_always() {
        ingest_then_read_back::<RawFile>(Durability::Always);
    }

    #[test]
    fn ingest_then_read_back_never() {
        ingest_then_read_back::<RawFile>(Durability::Never);
    }

    /// Replay rate of 200,000 records, in release:
    /// `cargo test -p actlog-benches --release --lib -- --ignored --nocapture raw_replay_rate`.
    #[test]
    #[ignore]
    fn raw_replay_rate() {
        let dir = tempfile::tempdir().unwrap();
        let w = Workload::new(WorkloadOptions::default()).unwrap();
        let data = w.generate(200_000);
        let mut raw = RawFile::open(dir.path(), Durability::Never).unwrap();
        raw.ingest_batch(&data).unwrap();
        for _ in 0..3 {
            let start = std::time::Instant::now();
            let mut bytes = 0;
            let n = raw.replay(&mut |r| bytes += r.note.len()).unwrap();
            let secs = start.elapsed().as_secs_f64();
            assert_eq!(n, 200_000);
            println!(
                "replayed {n} in {secs:.3} s: {:.2} M/s ({bytes})",
                n as f64 / secs / 1e6
            );
        }
    }

    fn file_with_three_records(dir: &Path) -> (PathBuf, Vec<u8>) {
        let w = Workload::new(WorkloadOptions::default()).unwrap();
        let mut raw = RawFile::open(dir, Durability::Always).unwrap();
        raw.ingest_batch(&w.generate(3)).unwrap();
        let path = dir.join("activities.log");
        let bytes = std::fs::read(&path).unwrap();
        (path, bytes)
    }

    fn replay_error(dir: &Path) -> Error {
        let mut raw = RawFile::open(dir, Durability::Never).unwrap();
        raw.replay(&mut |_| {}).unwrap_err()
    }

    #[test]
    fn a_flipped_bit_is_a_checksum_mismatch_at_its_frame() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut bytes) = file_with_three_records(dir.path());
        let first_len = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
        let second = FRAME_HEADER_BYTES + first_len;
        bytes[second + FRAME_HEADER_BYTES + 3] ^= 0x10;
        std::fs::write(&path, &bytes).unwrap();
        match replay_error(dir.path()) {
            Error::Corrupt { position, what, .. } => {
                assert_eq!(position, second as u64);
                assert!(what.contains("checksum mismatch"), "{what}");
            }
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn a_torn_tail_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let (path, bytes) = file_with_three_records(dir.path());
        std::fs::write(&path, &bytes[..bytes.len() - 5]).unwrap();
        match replay_error(dir.path()) {
            Error::Corrupt { what, .. } => assert!(what.contains("torn frame"), "{what}"),
            other => panic!("unexpected {other}"),
        }
        let first_len = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
        std::fs::write(&path, &bytes[..FRAME_HEADER_BYTES + first_len + 3]).unwrap();
        match replay_error(dir.path()) {
            Error::Corrupt { position, what, .. } => {
                assert_eq!(position, (FRAME_HEADER_BYTES + first_len) as u64);
                assert!(what.contains("torn frame header: 3 of 8"), "{what}");
            }
            other => panic!("unexpected {other}"),
        }
    }
}
