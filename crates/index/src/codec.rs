//! Byte layout of keys, posting blocks and the meta record (see docs/FORMAT.md).
//!
//! Keys are big-endian so that sled's byte order is numeric order; values are
//! LEB128 varints and little-endian fixed fields, closed by a CRC-32 (crc32fast) over key and body, so a value copied under another key is
//! detected too.

use crate::error::{Error, Family, Result};
use crate::{PersonPosting, TypePosting, ValuePosting};
use actlog_model::{ActivityId, PersonId, TypeId};

/// Family byte of the by-person blocks.
pub(crate) const FAMILY_PERSON: u8 = b'P';
/// Family byte of the by-type blocks.
pub(crate) const FAMILY_TYPE: u8 = b'T';
/// Family byte of the by-primary-value blocks.
pub(crate) const FAMILY_PRIMARY: u8 = b'V';
/// Family byte of the by-attribute-value blocks.
pub(crate) const FAMILY_ATTRIBUTE: u8 = b'A';
/// The meta key sorts before every block key.
pub(crate) const META_KEY: &[u8] = b"\x00meta";

/// Current on-disk format version, stored in the meta record.
pub(crate) const FORMAT_VERSION: u32 = 1;

/// A by-type block never spans more than this many milliseconds of occurred_at, so a
/// time-range scan can start at `start - TYPE_BLOCK_SPAN_MS_MAX` and never miss a block.
/// Part of the format: changing it needs a new format version.
pub(crate) const TYPE_BLOCK_SPAN_MS_MAX: i64 = 3_600_000;

const CRC_BYTES: usize = 4;
/// Length of the id suffix of a value-family key.
pub(crate) const ID_BYTES: usize = 8;

pub(crate) fn family_of(key: &[u8]) -> Family {
    match key.first() {
        Some(&FAMILY_PERSON) => Family::Person,
        Some(&FAMILY_TYPE) => Family::Type,
        Some(&FAMILY_PRIMARY) => Family::Primary,
        Some(&FAMILY_ATTRIBUTE) => Family::Attribute,
        Some(0) => Family::Meta,
        _ => Family::Unknown,
    }
}

// ---- varints -------------------------------------------------------------------------

pub(crate) fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Reads one LEB128 varint; `None` if truncated or longer than ten bytes.
pub(crate) fn get_varint(bytes: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v: u64 = 0;
    let mut shift = 0u32;
    loop {
        let b = *bytes.get(*pos)?;
        *pos += 1;
        if shift == 63 && b > 1 {
            return None;
        }
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
}

pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

pub(crate) fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Order-preserving big-endian form of a signed time.
pub(crate) fn occ_key(v: i64) -> [u8; 8] {
    ((v as u64) ^ (1 << 63)).to_be_bytes()
}

pub(crate) fn occ_from_key(b: [u8; 8]) -> i64 {
    (u64::from_be_bytes(b) ^ (1 << 63)) as i64
}

// ---- keys ----------------------------------------------------------------------------

/// Escapes an opaque value key so that it sorts like the raw bytes and no escaped value
/// is a prefix of another: 0x00 becomes 0x00 0xFF and the value ends with 0x00 0x01.
pub(crate) fn escape_into(buf: &mut Vec<u8>, value: &[u8]) {
    for &b in value {
        buf.push(b);
        if b == 0 {
            buf.push(0xff);
        }
    }
    buf.extend_from_slice(&[0, 1]);
}

pub(crate) fn person_prefix(person: PersonId) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = FAMILY_PERSON;
    k[1..].copy_from_slice(&person.get().to_be_bytes());
    k
}

pub(crate) fn person_key(person: PersonId, first_id: u64) -> [u8; 17] {
    let mut k = [0u8; 17];
    k[..9].copy_from_slice(&person_prefix(person));
    k[9..].copy_from_slice(&first_id.to_be_bytes());
    k
}

pub(crate) fn type_prefix(type_id: TypeId) -> [u8; 5] {
    let mut k = [0u8; 5];
    k[0] = FAMILY_TYPE;
    k[1..].copy_from_slice(&type_id.get().to_be_bytes());
    k
}

pub(crate) fn type_key(type_id: TypeId, min_occ: i64, min_id: u64) -> [u8; 21] {
    let mut k = [0u8; 21];
    k[..5].copy_from_slice(&type_prefix(type_id));
    k[5..13].copy_from_slice(&occ_key(min_occ));
    k[13..].copy_from_slice(&min_id.to_be_bytes());
    k
}

/// Prefix of the by-primary family for one type (no value yet).
pub(crate) fn primary_type_prefix(type_id: TypeId) -> Vec<u8> {
    let mut k = Vec::with_capacity(32);
    k.push(FAMILY_PRIMARY);
    k.extend_from_slice(&type_id.get().to_be_bytes());
    k
}

/// Prefix of the by-attribute family for one (type, attribute) (no value yet).
pub(crate) fn attribute_type_prefix(type_id: TypeId, attr: actlog_model::AttributeId) -> Vec<u8> {
    let mut k = Vec::with_capacity(32);
    k.push(FAMILY_ATTRIBUTE);
    k.extend_from_slice(&type_id.get().to_be_bytes());
    k.extend_from_slice(&attr.get().to_be_bytes());
    k
}

fn read_u64_be(b: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(b.try_into().ok()?))
}

/// First id of a person or value block, from the last eight bytes of its key.
pub(crate) fn key_first_id(key: &[u8]) -> Option<u64> {
    read_u64_be(key.get(key.len().checked_sub(ID_BYTES)?..)?)
}

/// (min_occ, min_id) of a type block key.
pub(crate) fn type_key_fields(key: &[u8]) -> Option<(i64, u64)> {
    if key.len() != 21 {
        return None;
    }
    let occ = occ_from_key(key.get(5..13)?.try_into().ok()?);
    Some((occ, read_u64_be(key.get(13..21)?)?))
}

/// Smallest key greater than every key starting with `prefix`; `None` if there is none.
pub(crate) fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut k = prefix.to_vec();
    while let Some(last) = k.pop() {
        if last != 0xff {
            k.push(last + 1);
            return Some(k);
        }
    }
    None
}

// ---- blocks --------------------------------------------------------------------------

/// Decoding failure inside a value, before it is tied to its key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bad {
    pub position: usize,
    pub what: &'static str,
}

pub(crate) fn corrupted(key: &[u8], bad: Bad) -> Error {
    Error::Corrupted {
        family: family_of(key),
        key: key.to_vec(),
        position: bad.position,
        what: bad.what,
    }
}

fn crc(key: &[u8], body: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(key);
    h.update(body);
    h.finalize()
}

fn seal(key: &[u8], mut body: Vec<u8>) -> Vec<u8> {
    let c = crc(key, &body);
    body.extend_from_slice(&c.to_le_bytes());
    body
}

/// Checks the trailing checksum and returns the body.
pub(crate) fn open_block<'v>(key: &[u8], value: &'v [u8]) -> Result<&'v [u8], Bad> {
    let split = value.len().checked_sub(CRC_BYTES).ok_or(Bad {
        position: 0,
        what: "block shorter than its checksum",
    })?;
    let (body, tail) = value.split_at(split);
    let stored = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
    if stored != crc(key, body) {
        return Err(Bad {
            position: split,
            what: "checksum mismatch",
        });
    }
    Ok(body)
}

fn need(v: Option<u64>, pos: usize, what: &'static str) -> Result<u64, Bad> {
    v.ok_or(Bad {
        position: pos,
        what,
    })
}

/// Header common to all blocks: posting count and the largest id in the block;
/// by-type blocks also carry their largest occurred_at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub count: u64,
    pub max_id: u64,
    pub max_occ: i64,
}

/// Reads the header of a block body; `first_id`/`min_occ` come from the key.
pub(crate) fn read_header(
    family: Family,
    body: &[u8],
    first_id: u64,
    min_occ: i64,
    pos: &mut usize,
) -> Result<Header, Bad> {
    let count = need(get_varint(body, pos), *pos, "truncated count")?;
    if count == 0 || count > body.len() as u64 {
        return Err(Bad {
            position: 0,
            what: "posting count out of range",
        });
    }
    let id_span = need(get_varint(body, pos), *pos, "truncated id span")?;
    let max_id = first_id.checked_add(id_span).ok_or(Bad {
        position: *pos,
        what: "max id overflows",
    })?;
    let max_occ = if family == Family::Type {
        let span = need(get_varint(body, pos), *pos, "truncated time span")?;
        if span > TYPE_BLOCK_SPAN_MS_MAX as u64 {
            return Err(Bad {
                position: *pos,
                what: "time span larger than the format allows",
            });
        }
        min_occ + span as i64
    } else {
        0
    };
    Ok(Header {
        count,
        max_id,
        max_occ,
    })
}

/// Header of a block given its key and value (checksum verified).
pub(crate) fn block_header(key: &[u8], value: &[u8]) -> Result<Header> {
    let family = family_of(key);
    let body = open_block(key, value).map_err(|b| corrupted(key, b))?;
    let (first_id, min_occ) = match family {
        Family::Type => type_key_fields(key).map(|(occ, id)| (id, occ)),
        Family::Person | Family::Primary | Family::Attribute => key_first_id(key).map(|id| (id, 0)),
        _ => None,
    }
    .ok_or_else(|| {
        corrupted(
            key,
            Bad {
                position: 0,
                what: "malformed key",
            },
        )
    })?;
    let mut pos = 0;
    read_header(family, body, first_id, min_occ, &mut pos).map_err(|b| corrupted(key, b))
}

/// Encodes a person block; `posts` sorted by id, non-empty.
pub(crate) fn encode_person_block(key: &[u8], posts: &[PersonPosting]) -> Vec<u8> {
    let first = posts.first().map_or(0, |p| p.id.get());
    let last = posts.last().map_or(0, |p| p.id.get());
    let mut body = Vec::with_capacity(8 + posts.len() * 8);
    put_varint(&mut body, posts.len() as u64);
    put_varint(&mut body, last - first);
    let mut prev_id = first;
    let mut prev_occ = 0i64;
    for p in posts {
        debug_assert!(p.id.get() >= prev_id);
        put_varint(&mut body, p.id.get() - prev_id);
        put_varint(&mut body, u64::from(p.type_id.get()));
        put_varint(&mut body, zigzag(p.occurred_at_ms.wrapping_sub(prev_occ)));
        prev_id = p.id.get();
        prev_occ = p.occurred_at_ms;
    }
    seal(key, body)
}

pub(crate) fn decode_person_block(
    key: &[u8],
    value: &[u8],
    out: &mut Vec<PersonPosting>,
) -> Result<Header> {
    let body = open_block(key, value).map_err(|b| corrupted(key, b))?;
    let first = key_first_id(key).ok_or_else(|| {
        corrupted(
            key,
            Bad {
                position: 0,
                what: "malformed key",
            },
        )
    })?;
    let mut pos = 0;
    let h = read_header(Family::Person, body, first, 0, &mut pos).map_err(|b| corrupted(key, b))?;
    let res: Result<(), Bad> = (|| {
        let mut prev_id = first;
        let mut prev_occ = 0i64;
        for _ in 0..h.count {
            let d = need(get_varint(body, &mut pos), pos, "truncated id")?;
            let t = need(get_varint(body, &mut pos), pos, "truncated type")?;
            let o = need(get_varint(body, &mut pos), pos, "truncated occurred_at")?;
            let id = prev_id.checked_add(d).ok_or(Bad {
                position: pos,
                what: "id overflows",
            })?;
            let type_id = u32::try_from(t).map_err(|_| Bad {
                position: pos,
                what: "type id out of range",
            })?;
            let occ = prev_occ.wrapping_add(unzigzag(o));
            out.push(PersonPosting {
                id: ActivityId(id),
                type_id: TypeId(type_id),
                occurred_at_ms: occ,
            });
            prev_id = id;
            prev_occ = occ;
        }
        if prev_id != h.max_id {
            return Err(Bad {
                position: pos,
                what: "last id differs from header",
            });
        }
        if pos != body.len() {
            return Err(Bad {
                position: pos,
                what: "trailing bytes",
            });
        }
        Ok(())
    })();
    res.map_err(|b| corrupted(key, b))?;
    Ok(h)
}

/// Encodes a type block; `posts` sorted by (occurred_at, id), non-empty, span within
/// [`TYPE_BLOCK_SPAN_MS_MAX`]. Returns (min_occ, min_id, value) — the key is built from them.
pub(crate) fn encode_type_block(type_id: TypeId, posts: &[TypePosting]) -> (Vec<u8>, Vec<u8>) {
    let min_occ = posts.first().map_or(0, |p| p.occurred_at_ms);
    let max_occ = posts.last().map_or(0, |p| p.occurred_at_ms);
    let min_id = posts.iter().map(|p| p.id.get()).min().unwrap_or(0);
    let max_id = posts.iter().map(|p| p.id.get()).max().unwrap_or(0);
    debug_assert!(max_occ.wrapping_sub(min_occ) <= TYPE_BLOCK_SPAN_MS_MAX);
    let key = type_key(type_id, min_occ, min_id);
    let mut body = Vec::with_capacity(12 + posts.len() * 8);
    put_varint(&mut body, posts.len() as u64);
    put_varint(&mut body, max_id - min_id);
    put_varint(&mut body, max_occ.wrapping_sub(min_occ) as u64);
    let mut prev_occ = min_occ;
    let mut prev_id = min_id;
    for p in posts {
        debug_assert!(p.occurred_at_ms >= prev_occ);
        put_varint(&mut body, p.occurred_at_ms.wrapping_sub(prev_occ) as u64);
        put_varint(&mut body, p.person.get());
        put_varint(&mut body, zigzag(p.id.get().wrapping_sub(prev_id) as i64));
        prev_occ = p.occurred_at_ms;
        prev_id = p.id.get();
    }
    let value = seal(&key, body);
    (key.to_vec(), value)
}

pub(crate) fn decode_type_block(
    key: &[u8],
    value: &[u8],
    out: &mut Vec<TypePosting>,
) -> Result<Header> {
    let body = open_block(key, value).map_err(|b| corrupted(key, b))?;
    let (min_occ, min_id) = type_key_fields(key).ok_or_else(|| {
        corrupted(
            key,
            Bad {
                position: 0,
                what: "malformed key",
            },
        )
    })?;
    let mut pos = 0;
    let h = read_header(Family::Type, body, min_id, min_occ, &mut pos)
        .map_err(|b| corrupted(key, b))?;
    let res: Result<(), Bad> = (|| {
        let mut prev_occ = min_occ;
        let mut prev_id = min_id;
        for _ in 0..h.count {
            let d = need(get_varint(body, &mut pos), pos, "truncated occurred_at")?;
            let person = need(get_varint(body, &mut pos), pos, "truncated person")?;
            let i = need(get_varint(body, &mut pos), pos, "truncated id")?;
            let occ = i64::try_from(d)
                .ok()
                .and_then(|d| prev_occ.checked_add(d))
                .ok_or(Bad {
                    position: pos,
                    what: "occurred_at overflows",
                })?;
            let id = prev_id.wrapping_add(unzigzag(i) as u64);
            if occ > h.max_occ || id < min_id || id > h.max_id {
                return Err(Bad {
                    position: pos,
                    what: "posting outside the header bounds",
                });
            }
            out.push(TypePosting {
                id: ActivityId(id),
                person: PersonId(person),
                occurred_at_ms: occ,
            });
            prev_occ = occ;
            prev_id = id;
        }
        if pos != body.len() {
            return Err(Bad {
                position: pos,
                what: "trailing bytes",
            });
        }
        Ok(())
    })();
    res.map_err(|b| corrupted(key, b))?;
    Ok(h)
}

/// Encodes a by-value block (primary or attribute); `posts` sorted by id, non-empty.
pub(crate) fn encode_value_block(key: &[u8], posts: &[ValuePosting]) -> Vec<u8> {
    let first = posts.first().map_or(0, |p| p.id.get());
    let last = posts.last().map_or(0, |p| p.id.get());
    let mut body = Vec::with_capacity(8 + posts.len() * 6);
    put_varint(&mut body, posts.len() as u64);
    put_varint(&mut body, last - first);
    let mut prev_id = first;
    let mut prev_occ = 0i64;
    for p in posts {
        debug_assert!(p.id.get() >= prev_id);
        put_varint(&mut body, p.id.get() - prev_id);
        put_varint(&mut body, zigzag(p.occurred_at_ms.wrapping_sub(prev_occ)));
        prev_id = p.id.get();
        prev_occ = p.occurred_at_ms;
    }
    seal(key, body)
}

pub(crate) fn decode_value_block(
    key: &[u8],
    value: &[u8],
    out: &mut Vec<ValuePosting>,
) -> Result<Header> {
    let body = open_block(key, value).map_err(|b| corrupted(key, b))?;
    let first = key_first_id(key).ok_or_else(|| {
        corrupted(
            key,
            Bad {
                position: 0,
                what: "malformed key",
            },
        )
    })?;
    let family = family_of(key);
    let mut pos = 0;
    let h = read_header(family, body, first, 0, &mut pos).map_err(|b| corrupted(key, b))?;
    let res: Result<(), Bad> = (|| {
        let mut prev_id = first;
        let mut prev_occ = 0i64;
        for _ in 0..h.count {
            let d = need(get_varint(body, &mut pos), pos, "truncated id")?;
            let o = need(get_varint(body, &mut pos), pos, "truncated occurred_at")?;
            let id = prev_id.checked_add(d).ok_or(Bad {
                position: pos,
                what: "id overflows",
            })?;
            let occ = prev_occ.wrapping_add(unzigzag(o));
            out.push(ValuePosting {
                id: ActivityId(id),
                occurred_at_ms: occ,
            });
            prev_id = id;
            prev_occ = occ;
        }
        if prev_id != h.max_id {
            return Err(Bad {
                position: pos,
                what: "last id differs from header",
            });
        }
        if pos != body.len() {
            return Err(Bad {
                position: pos,
                what: "trailing bytes",
            });
        }
        Ok(())
    })();
    res.map_err(|b| corrupted(key, b))?;
    Ok(h)
}

// ---- meta ----------------------------------------------------------------------------

/// Whether the blocks in the store are complete up to the checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MetaState {
    /// Blocks hold exactly the postings of ids in [floor, checkpoint).
    Ready = 0,
    /// A bulk load or a clear was under way: the blocks are not to be trusted.
    Incomplete = 1,
}

/// The meta record, written in the same sled batch as the blocks it describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Meta {
    pub format_version: u32,
    pub state: MetaState,
    pub checkpoint: u64,
    pub floor: u64,
    pub postings: u64,
    pub blocks: u64,
}

const META_BYTES: usize = 4 + 1 + 8 * 4 + CRC_BYTES;

pub(crate) fn encode_meta(m: &Meta) -> Vec<u8> {
    let mut body = Vec::with_capacity(META_BYTES);
    body.extend_from_slice(&m.format_version.to_le_bytes());
    body.push(m.state as u8);
    body.extend_from_slice(&m.checkpoint.to_le_bytes());
    body.extend_from_slice(&m.floor.to_le_bytes());
    body.extend_from_slice(&m.postings.to_le_bytes());
    body.extend_from_slice(&m.blocks.to_le_bytes());
    seal(META_KEY, body)
}

/// Decodes the meta record. The version is read before the length is checked, so an
/// older format is reported as such rather than as damage.
pub(crate) fn decode_meta(value: &[u8]) -> Result<Meta, Bad> {
    let body = open_block(META_KEY, value)?;
    let v = body.get(..4).ok_or(Bad {
        position: 0,
        what: "meta too short",
    })?;
    let format_version = u32::from_le_bytes([v[0], v[1], v[2], v[3]]);
    if format_version != FORMAT_VERSION {
        return Ok(Meta {
            format_version,
            state: MetaState::Incomplete,
            checkpoint: 0,
            floor: 0,
            postings: 0,
            blocks: 0,
        });
    }
    if value.len() != META_BYTES {
        return Err(Bad {
            position: 0,
            what: "meta has the wrong length",
        });
    }
    let u = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&body[at..at + 8]);
        u64::from_le_bytes(b)
    };
    let state = match body[4] {
        0 => MetaState::Ready,
        1 => MetaState::Incomplete,
        _ => {
            return Err(Bad {
                position: 4,
                what: "unknown meta state",
            })
        }
    };
    Ok(Meta {
        format_version,
        state,
        checkpoint: u(5),
        floor: u(13),
        postings: u(21),
        blocks: u(29),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn varint_round_trip_edges() {
        for v in [
            0u64,
            1,
            127,
            128,
            300,
            u64::from(u32::MAX),
            u64::MAX - 1,
            u64::MAX,
        ] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            let mut pos = 0;
            assert_eq!(get_varint(&b, &mut pos), Some(v));
            assert_eq!(pos, b.len());
        }
        let mut pos = 0;
        assert_eq!(get_varint(&[0x80, 0x80], &mut pos), None);
        let mut pos = 0;
        assert_eq!(get_varint(&[0xff; 11], &mut pos), None);
    }

    #[test]
    fn escaped_values_keep_order_and_are_prefix_free() {
        let vals: [&[u8]; 6] = [b"", b"\0", b"\0\0", b"a", b"a\0", b"ab"];
        let esc: Vec<Vec<u8>> = vals
            .iter()
            .map(|v| {
                let mut b = Vec::new();
                escape_into(&mut b, v);
                b
            })
            .collect();
        for i in 0..vals.len() {
            for j in 0..vals.len() {
                assert_eq!(vals[i].cmp(vals[j]), esc[i].cmp(&esc[j]), "{i} {j}");
                if i != j {
                    assert!(!esc[j].starts_with(&esc[i]));
                }
            }
        }
    }

    #[test]
    fn meta_round_trip_and_damage() {
        let m = Meta {
            format_version: FORMAT_VERSION,
            state: MetaState::Ready,
            checkpoint: 42,
            floor: 7,
            postings: 99,
            blocks: 3,
        };
        let mut v = encode_meta(&m);
        assert_eq!(decode_meta(&v).ok(), Some(m));
        v[6] ^= 1;
        assert_eq!(
            decode_meta(&v).err().map(|b| b.what),
            Some("checksum mismatch")
        );
    }

    #[test]
    fn person_block_detects_moved_value() {
        let posts = [PersonPosting {
            id: ActivityId(5),
            type_id: TypeId(1),
            occurred_at_ms: 10,
        }];
        let k1 = person_key(PersonId(1), 5);
        let k2 = person_key(PersonId(2), 5);
        let v = encode_person_block(&k1, &posts);
        let mut out = Vec::new();
        assert!(decode_person_block(&k1, &v, &mut out).is_ok());
        assert_eq!(out, posts);
        assert!(matches!(
            decode_person_block(&k2, &v, &mut out),
            Err(Error::Corrupted {
                what: "checksum mismatch",
                ..
            })
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn person_block_round_trip(start in 0u64..1 << 40, gaps in prop::collection::vec((0u64..1000, any::<u32>(), any::<i64>()), 1..300)) {
            let mut id = start;
            let posts: Vec<PersonPosting> = gaps.iter().enumerate().map(|(i, &(g, t, o))| {
                if i > 0 { id += g + 1; }
                PersonPosting { id: ActivityId(id), type_id: TypeId(t), occurred_at_ms: o }
            }).collect();
            let key = person_key(PersonId(9), posts[0].id.get());
            let v = encode_person_block(&key, &posts);
            let mut out = Vec::new();
            let h = decode_person_block(&key, &v, &mut out).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(h.count, posts.len() as u64);
            prop_assert_eq!(out, posts);
        }

        #[test]
        fn type_block_round_trip(posts in prop::collection::vec((0i64..TYPE_BLOCK_SPAN_MS_MAX, any::<u64>(), 0u64..1 << 50), 1..300), base in -1i64 << 50..1i64 << 50) {
            let mut posts: Vec<TypePosting> = posts.into_iter().map(|(o, p, i)| TypePosting { id: ActivityId(i), person: PersonId(p), occurred_at_ms: base + o }).collect();
            posts.sort_by_key(|p| (p.occurred_at_ms, p.id));
            let (key, v) = encode_type_block(TypeId(3), &posts);
            let mut out = Vec::new();
            let h = decode_type_block(&key, &v, &mut out).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(h.max_occ, posts[posts.len() - 1].occurred_at_ms);
            prop_assert_eq!(out, posts);
        }

        #[test]
        fn value_block_round_trip(gaps in prop::collection::vec((0u64..100_000, any::<i64>()), 1..300)) {
            let mut id = 0u64;
            let posts: Vec<ValuePosting> = gaps.iter().map(|&(g, o)| { id += g; let p = ValuePosting { id: ActivityId(id), occurred_at_ms: o }; id += 1; p }).collect();
            let mut key = primary_type_prefix(TypeId(1));
            escape_into(&mut key, b"x\0y");
            key.extend_from_slice(&posts[0].id.get().to_be_bytes());
            let v = encode_value_block(&key, &posts);
            let mut out = Vec::new();
            decode_value_block(&key, &v, &mut out).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(out, posts);
        }

        #[test]
        fn random_bytes_never_decode_as_a_block(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            let key = person_key(PersonId(1), 0);
            let mut out = Vec::new();
            // Either a typed error or (astronomically unlikely) a checksum collision.
            prop_assert!(decode_person_block(&key, &bytes, &mut out).is_err() || out.len() < 64);
        }
    }
}
