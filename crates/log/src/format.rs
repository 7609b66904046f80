//! Byte layouts of segment headers, record frames and side files (docs/FORMAT.md).
//!
//! All integers are little-endian. Every offset into a layout is derived from the size of
//! the fields before it, and every decoder turns bad bytes into a [`CorruptionKind`]
//! before any arithmetic trusts them.

use crate::error::CorruptionKind;

/// First eight bytes of every segment file.
pub(crate) const SEGMENT_MAGIC: [u8; 8] = *b"ACTLGSEG";
/// First eight bytes of every side file.
pub(crate) const SIDE_MAGIC: [u8; 8] = *b"ACTLGIDX";
/// The one format version this code reads and writes.
pub(crate) const FORMAT_VERSION: u16 = 1;

// Segment header: magic, version, reserved u16, reserved u32, base offset, reserved u32, crc.
const HDR_MAGIC: usize = 0;
const HDR_VERSION: usize = HDR_MAGIC + 8;
const HDR_RESERVED_A: usize = HDR_VERSION + 2;
const HDR_RESERVED_B: usize = HDR_RESERVED_A + 2;
const HDR_BASE: usize = HDR_RESERVED_B + 4;
const HDR_RESERVED_C: usize = HDR_BASE + 8;
const HDR_CRC: usize = HDR_RESERVED_C + 4;
/// Bytes of a segment header; the first frame starts here.
pub(crate) const SEGMENT_HEADER_BYTES: usize = HDR_CRC + 4;

// Frame: crc, payload length, offset, timestamp, payload.
const FRAME_CRC: usize = 0;
const FRAME_LEN: usize = FRAME_CRC + 4;
const FRAME_OFFSET: usize = FRAME_LEN + 4;
const FRAME_TIMESTAMP: usize = FRAME_OFFSET + 8;
/// Bytes of a frame header; the payload follows.
pub(crate) const FRAME_HEADER_BYTES: usize = FRAME_TIMESTAMP + 8;

// Side file fixed part, then entries, then a crc over everything before it.
const SIDE_MAGIC_AT: usize = 0;
const SIDE_VERSION: usize = SIDE_MAGIC_AT + 8;
const SIDE_RESERVED: usize = SIDE_VERSION + 2;
const SIDE_ENTRY_COUNT: usize = SIDE_RESERVED + 2;
const SIDE_BASE: usize = SIDE_ENTRY_COUNT + 4;
const SIDE_RECORD_COUNT: usize = SIDE_BASE + 8;
const SIDE_SEGMENT_BYTES: usize = SIDE_RECORD_COUNT + 8;
const SIDE_TS_MIN: usize = SIDE_SEGMENT_BYTES + 8;
const SIDE_TS_MAX: usize = SIDE_TS_MIN + 8;
const SIDE_FIXED_BYTES: usize = SIDE_TS_MAX + 8;
const SIDE_ENTRY_BYTES: usize = 16;
const SIDE_CRC_BYTES: usize = 4;

const _: () = assert!(SEGMENT_HEADER_BYTES == 32);
const _: () = assert!(FRAME_HEADER_BYTES == 24);
const _: () = assert!(SIDE_FIXED_BYTES == 56);

fn u16_at(b: &[u8], at: usize) -> u16 {
    let mut a = [0u8; 2];
    a.copy_from_slice(&b[at..at + 2]);
    u16::from_le_bytes(a)
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}
fn i64_at(b: &[u8], at: usize) -> i64 {
    u64_at(b, at) as i64
}

/// Encodes a segment header for a segment whose first record has offset `base_offset`.
pub(crate) fn encode_segment_header(base_offset: u64) -> [u8; SEGMENT_HEADER_BYTES] {
    let mut h = [0u8; SEGMENT_HEADER_BYTES];
    h[HDR_MAGIC..HDR_MAGIC + 8].copy_from_slice(&SEGMENT_MAGIC);
    h[HDR_VERSION..HDR_VERSION + 2].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h[HDR_BASE..HDR_BASE + 8].copy_from_slice(&base_offset.to_le_bytes());
    let crc = crc32fast::hash(&h[..HDR_CRC]);
    h[HDR_CRC..HDR_CRC + 4].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Decodes a segment header and returns its base offset.
pub(crate) fn decode_segment_header(h: &[u8]) -> Result<u64, CorruptionKind> {
    if h.len() < SEGMENT_HEADER_BYTES {
        return Err(CorruptionKind::Truncated {
            needed: SEGMENT_HEADER_BYTES as u64,
            available: h.len() as u64,
        });
    }
    let mut magic = [0u8; 8];
    magic.copy_from_slice(&h[HDR_MAGIC..HDR_MAGIC + 8]);
    if magic != SEGMENT_MAGIC {
        return Err(CorruptionKind::BadMagic { found: magic });
    }
    let stored = u32_at(h, HDR_CRC);
    let computed = crc32fast::hash(&h[..HDR_CRC]);
    if stored != computed {
        return Err(CorruptionKind::HeaderChecksumMismatch { stored, computed });
    }
    let version = u16_at(h, HDR_VERSION);
    if version != FORMAT_VERSION {
        return Err(CorruptionKind::UnsupportedVersion { found: version });
    }
    Ok(u64_at(h, HDR_BASE))
}

/// Appends one frame to `out`.
#[cfg(test)]
pub(crate) fn encode_frame(out: &mut Vec<u8>, offset: u64, timestamp_ms: i64, payload: &[u8]) {
    encode_frame_with(
        out,
        offset,
        timestamp_ms,
        payload,
        &crc32fast::Hasher::new(),
    );
}

/// [`encode_frame`] with the checksum computed by a copy of `crc`, a fresh hasher kept by
/// the caller (see [`decode_frame_with`]): the write path frames every record.
#[inline]
pub(crate) fn encode_frame_with(
    out: &mut Vec<u8>,
    offset: u64,
    timestamp_ms: i64,
    payload: &[u8],
    crc: &crc32fast::Hasher,
) {
    debug_assert!(u32::try_from(payload.len()).is_ok());
    let start = out.len();
    out.reserve(FRAME_HEADER_BYTES + payload.len());
    out.extend_from_slice(&[0u8; 4]);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&offset.to_le_bytes());
    out.extend_from_slice(&timestamp_ms.to_le_bytes());
    out.extend_from_slice(payload);
    let mut hasher = crc.clone();
    hasher.update(&out[start + FRAME_LEN..]);
    let crc = hasher.finalize();
    out[start..start + 4].copy_from_slice(&crc.to_le_bytes());
}

/// Total bytes of the frame holding a payload of `payload_bytes`.
pub(crate) fn frame_bytes(payload_bytes: usize) -> u64 {
    (FRAME_HEADER_BYTES + payload_bytes) as u64
}

/// A checked frame's header fields; its payload is the `payload_bytes` after the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DecodedFrame {
    pub offset: u64,
    pub timestamp_ms: i64,
    pub payload_bytes: usize,
}

/// Outcome of decoding a frame at the start of a buffer.
#[derive(Debug)]
pub(crate) enum FrameDecode {
    /// A whole, checked frame.
    Frame(DecodedFrame),
    /// The buffer holds only part of the frame; `frame_bytes` are needed in all.
    Incomplete { frame_bytes: u64 },
    /// The bytes are not a valid frame.
    Bad(CorruptionKind),
}

/// Decodes and checks the frame at the start of `buf`.
pub(crate) fn decode_frame(buf: &[u8], record_bytes_max: u32) -> FrameDecode {
    decode_frame_with(buf, record_bytes_max, &crc32fast::Hasher::new())
}

/// [`decode_frame`] with the checksum computed by a copy of `crc`, a fresh hasher kept by
/// the caller: `crc32fast::hash` looks up the CPU's features on every call, a third of
/// the checksum's cost on a frame of a few dozen bytes.
#[inline]
pub(crate) fn decode_frame_with(
    buf: &[u8],
    record_bytes_max: u32,
    crc: &crc32fast::Hasher,
) -> FrameDecode {
    if buf.len() < FRAME_HEADER_BYTES {
        return FrameDecode::Incomplete {
            frame_bytes: FRAME_HEADER_BYTES as u64,
        };
    }
    let len = u32_at(buf, FRAME_LEN);
    if len > record_bytes_max {
        return FrameDecode::Bad(CorruptionKind::LengthTooLarge {
            len,
            max: record_bytes_max,
        });
    }
    let total = FRAME_HEADER_BYTES + len as usize;
    if buf.len() < total {
        return FrameDecode::Incomplete {
            frame_bytes: total as u64,
        };
    }
    let stored = u32_at(buf, FRAME_CRC);
    let mut hasher = crc.clone();
    hasher.update(&buf[FRAME_LEN..total]);
    let computed = hasher.finalize();
    if stored != computed {
        return FrameDecode::Bad(CorruptionKind::ChecksumMismatch { stored, computed });
    }
    FrameDecode::Frame(DecodedFrame {
        offset: u64_at(buf, FRAME_OFFSET),
        timestamp_ms: i64_at(buf, FRAME_TIMESTAMP),
        payload_bytes: len as usize,
    })
}

/// The length in bytes and the offset of the whole frame at the start of `buf`, read
/// from its header without checking its checksum; `None` when the header or the frame
/// is not all in `buf`, or its length is over `record_bytes_max`. For readers that pass
/// over a record without returning it: a damaged length or offset then shows as a frame
/// with the wrong offset or a bad frame where the next one should be, and the records a
/// reader returns are always checked.
pub(crate) fn skip_frame(buf: &[u8], record_bytes_max: u32) -> Option<(usize, u64)> {
    if buf.len() < FRAME_HEADER_BYTES {
        return None;
    }
    let len = u32_at(buf, FRAME_LEN);
    if len > record_bytes_max {
        return None;
    }
    let total = FRAME_HEADER_BYTES + len as usize;
    (buf.len() >= total).then(|| (total, u64_at(buf, FRAME_OFFSET)))
}

/// One sparse index entry: the record `offset` starts at byte `position` of its segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IndexEntry {
    pub offset: u64,
    pub position: u64,
}

/// Everything a side file records about a sealed segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SideFile {
    pub base_offset: u64,
    pub record_count: u64,
    pub segment_bytes: u64,
    pub timestamp_ms_min: i64,
    pub timestamp_ms_max: i64,
    pub index: Vec<IndexEntry>,
}

/// Encodes a side file.
pub(crate) fn encode_side_file(side: &SideFile) -> Vec<u8> {
    let mut out =
        Vec::with_capacity(SIDE_FIXED_BYTES + side.index.len() * SIDE_ENTRY_BYTES + SIDE_CRC_BYTES);
    out.extend_from_slice(&SIDE_MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(side.index.len() as u32).to_le_bytes());
    out.extend_from_slice(&side.base_offset.to_le_bytes());
    out.extend_from_slice(&side.record_count.to_le_bytes());
    out.extend_from_slice(&side.segment_bytes.to_le_bytes());
    out.extend_from_slice(&side.timestamp_ms_min.to_le_bytes());
    out.extend_from_slice(&side.timestamp_ms_max.to_le_bytes());
    debug_assert_eq!(out.len(), SIDE_FIXED_BYTES);
    for e in &side.index {
        out.extend_from_slice(&e.offset.to_le_bytes());
        out.extend_from_slice(&e.position.to_le_bytes());
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Decodes and checks a side file.
pub(crate) fn decode_side_file(b: &[u8]) -> Result<SideFile, CorruptionKind> {
    if b.len() < SIDE_FIXED_BYTES + SIDE_CRC_BYTES {
        return Err(CorruptionKind::Truncated {
            needed: (SIDE_FIXED_BYTES + SIDE_CRC_BYTES) as u64,
            available: b.len() as u64,
        });
    }
    let mut magic = [0u8; 8];
    magic.copy_from_slice(&b[..8]);
    if magic != SIDE_MAGIC {
        return Err(CorruptionKind::BadMagic { found: magic });
    }
    let entries = u32_at(b, SIDE_ENTRY_COUNT) as u64;
    let needed =
        SIDE_FIXED_BYTES as u64 + entries * SIDE_ENTRY_BYTES as u64 + SIDE_CRC_BYTES as u64;
    if b.len() as u64 != needed {
        return Err(CorruptionKind::Truncated {
            needed,
            available: b.len() as u64,
        });
    }
    let crc_at = b.len() - SIDE_CRC_BYTES;
    let stored = u32_at(b, crc_at);
    let computed = crc32fast::hash(&b[..crc_at]);
    if stored != computed {
        return Err(CorruptionKind::HeaderChecksumMismatch { stored, computed });
    }
    let version = u16_at(b, SIDE_VERSION);
    if version != FORMAT_VERSION {
        return Err(CorruptionKind::UnsupportedVersion { found: version });
    }
    let index = (0..entries as usize)
        .map(|i| {
            let at = SIDE_FIXED_BYTES + i * SIDE_ENTRY_BYTES;
            IndexEntry {
                offset: u64_at(b, at),
                position: u64_at(b, at + 8),
            }
        })
        .collect();
    Ok(SideFile {
        base_offset: u64_at(b, SIDE_BASE),
        record_count: u64_at(b, SIDE_RECORD_COUNT),
        segment_bytes: u64_at(b, SIDE_SEGMENT_BYTES),
        timestamp_ms_min: i64_at(b, SIDE_TS_MIN),
        timestamp_ms_max: i64_at(b, SIDE_TS_MAX),
        index,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn frame_round_trips(offset: u64, ts: i64, payload in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut buf = Vec::new();
            encode_frame(&mut buf, offset, ts, &payload);
            prop_assert_eq!(buf.len() as u64, frame_bytes(payload.len()));
            match decode_frame(&buf, 1 << 20) {
                FrameDecode::Frame(f) => {
                    prop_assert_eq!(f.offset, offset);
                    prop_assert_eq!(f.timestamp_ms, ts);
                    prop_assert_eq!(&buf[FRAME_HEADER_BYTES..], &payload[..]);
                    prop_assert_eq!(f.payload_bytes, payload.len());
                }
                other => prop_assert!(false, "decode failed: {:?}", other),
            }
        }

        #[test]
        fn any_bit_flip_in_a_frame_is_detected(payload in proptest::collection::vec(any::<u8>(), 0..64), bit in 0usize..10_000) {
            let mut buf = Vec::new();
            encode_frame(&mut buf, 7, 99, &payload);
            let bit = bit % (buf.len() * 8);
            buf[bit / 8] ^= 1 << (bit % 8);
            let ok = matches!(decode_frame(&buf, 1 << 20), FrameDecode::Frame(_));
            prop_assert!(!ok, "flip of bit {} went unnoticed", bit);
        }

        #[test]
        fn side_file_round_trips(base: u64, count: u64, bytes: u64, min: i64, max: i64,
                                 raw in proptest::collection::vec((any::<u64>(), any::<u64>()), 0..20)) {
            let side = SideFile {
                base_offset: base, record_count: count, segment_bytes: bytes,
                timestamp_ms_min: min, timestamp_ms_max: max,
                index: raw.into_iter().map(|(offset, position)| IndexEntry { offset, position }).collect(),
            };
            let enc = encode_side_file(&side);
            prop_assert_eq!(decode_side_file(&enc), Ok(side));
        }
    }

    #[test]
    fn header_round_trips_and_rejects_damage() {
        let mut h = encode_segment_header(42);
        assert_eq!(decode_segment_header(&h), Ok(42));
        h[HDR_BASE] ^= 1;
        assert!(matches!(
            decode_segment_header(&h),
            Err(CorruptionKind::HeaderChecksumMismatch { .. })
        ));
        assert_eq!(
            decode_segment_header(&h[..10]),
            Err(CorruptionKind::Truncated {
                needed: 32,
                available: 10
            })
        );
    }

    #[test]
    fn oversized_length_field_is_rejected_before_reading_payload() {
        let mut buf = Vec::new();
        encode_frame(&mut buf, 0, 0, &[1, 2, 3]);
        buf[FRAME_LEN..FRAME_LEN + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            decode_frame(&buf, 1024),
            FrameDecode::Bad(CorruptionKind::LengthTooLarge {
                len: u32::MAX,
                max: 1024
            })
        ));
    }
}
