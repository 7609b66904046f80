//! Byte layout of keys, posting blocks and the meta record (see docs/FORMAT.md).
//!
//! Keys are big-endian so that sled's byte order is numeric order; block values are
//! LEB128 varints and little-endian fixed fields, closed by a CRC-32 (crc32fast) over
//! key and body, so a value copied under another key is detected too.

use crate::error::{Error, Family, Result};

/// Family byte of the by-person blocks.
pub(crate) const FAMILY_PERSON: u8 = b'P';
/// Family byte of the by-type blocks.
pub(crate) const FAMILY_TYPE: u8 = b'T';
/// Family byte of the by-primary-value blocks.
pub(crate) const FAMILY_PRIMARY: u8 = b'V';
/// Family byte of the by-attribute-value blocks.
pub(crate) const FAMILY_ATTRIBUTE: u8 = b'A';
/// Every family byte, in the order flushes write them.
pub(crate) const FAMILIES: [u8; 4] = [FAMILY_PERSON, FAMILY_TYPE, FAMILY_PRIMARY, FAMILY_ATTRIBUTE];
/// The meta key sorts before every block key.
pub(crate) const META_KEY: &[u8] = b"\x00meta";

/// Current on-disk format version, stored in the meta record.
pub(crate) const FORMAT_VERSION: u32 = 4;

const CRC_BYTES: usize = 4;
/// Bytes of the family byte and run id that start every block key.
pub(crate) const RUN_PREFIX_BYTES: usize = 9;
/// Fixed block header: group count, key area length, posting count (u32 each), min id,
/// max id, base occurred_at, base id, occurred_at rate (u64/i64 each), bytes per
/// directory offset (u8), entries of the type table (u32).
pub(crate) const BLOCK_HEADER_BYTES: usize = 4 * 3 + 8 * 5 + 1 + 4;
/// Offset of the directory offset width in the header.
const WIDTH_AT: usize = 52;
/// Offset of the type table's entry count in the header.
const TYPES_AT: usize = 53;
/// Bytes of one type table entry (a type id, u32).
const TYPE_ENTRY_BYTES: usize = 4;

/// Fractional bits of a block's occurred_at rate (ms per id step, fixed point).
const RATE_FRACTION_BITS: u32 = 16;
/// Largest rate magnitude kept (2^40 ms per id step): a predictor, not a constraint.
const RATE_MAX: i64 = 1 << (40 + RATE_FRACTION_BITS);

/// The occurred_at step that `rate` predicts for an id step of `id_delta` (wrapping:
/// writer and reader compute the same value whatever the inputs).
pub(crate) fn predict_occ(rate: i64, id_delta: u64) -> i64 {
    ((i128::from(id_delta as i64) * i128::from(rate)) >> RATE_FRACTION_BITS) as i64
}

/// The rate (ms per id step, fixed point) of a run whose ids `first_id..=last_id`
/// happened at `first_occ` and `last_occ`: activities are logged roughly as they
/// happen, so a posting's occurred_at is predicted from its id step and only the
/// residual (the jitter) is stored. Clamped; 0 when there is one id.
pub(crate) fn rate_between(first_id: u64, first_occ: i64, last_id: u64, last_occ: i64) -> i64 {
    let ids = i128::from(last_id.saturating_sub(first_id));
    if ids == 0 {
        return 0;
    }
    let occs = i128::from(last_occ) - i128::from(first_occ);
    let rate = (occs << RATE_FRACTION_BITS) / ids;
    rate.clamp(-i128::from(RATE_MAX), i128::from(RATE_MAX)) as i64
}
/// Bytes of the group key of every group in `family`, when they all take the same (a
/// person `u64`, a type `u32`): their key ends are then implied by the group's index,
/// so the directory holds only data ends. `None` for the value families.
fn fixed_group_bytes(family: u8) -> Option<usize> {
    match family {
        FAMILY_PERSON => Some(8),
        FAMILY_TYPE => Some(4),
        _ => None,
    }
}

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

/// Bytes of the position suffix that follows the group key inside a family's order:
/// the id (person, values) or occurred_at and id (type).
pub(crate) fn pos_bytes(family: u8) -> usize {
    if family == FAMILY_TYPE {
        16
    } else {
        8
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
///
/// Inlined, and a varint of up to eight bytes with eight bytes to read is decoded from
/// one word without a branch per byte: decoding a block reads three varints a posting.
#[inline]
pub(crate) fn get_varint(bytes: &[u8], pos: &mut usize) -> Option<u64> {
    let at = *pos;
    if let Some(&b0) = bytes.get(at) {
        if b0 < 0x80 {
            *pos = at + 1;
            return Some(u64::from(b0));
        }
    }
    if let Some(word) = bytes.get(at..at.wrapping_add(8)) {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let w = u64::from_le_bytes(w);
        // The bytes whose high bit is clear end a varint; the first of them ends this one.
        let ends = !w & 0x8080_8080_8080_8080;
        if ends != 0 {
            let len = ends.trailing_zeros() / 8 + 1;
            let kept = if len == 8 {
                w
            } else {
                w & ((1u64 << (len * 8)) - 1)
            };
            // Pack the low seven bits of each byte together: 8 x 7 -> 4 x 14 -> 2 x 28 -> 56.
            let x = kept & 0x7f7f_7f7f_7f7f_7f7f;
            let x = (x & 0x007f_007f_007f_007f) | ((x & 0x7f00_7f00_7f00_7f00) >> 1);
            let x = (x & 0x0000_3fff_0000_3fff) | ((x & 0x3fff_0000_3fff_0000) >> 2);
            let x = (x & 0x0000_0000_0fff_ffff) | ((x & 0x0fff_ffff_0000_0000) >> 4);
            *pos = at + len as usize;
            return Some(x);
        }
    }
    get_varint_long(bytes, pos)
}

/// [`get_varint`] byte by byte, for every length.
#[inline(never)]
fn get_varint_long(bytes: &[u8], pos: &mut usize) -> Option<u64> {
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

/// Order-preserving unsigned form of a signed time.
pub(crate) fn okey(v: i64) -> u64 {
    (v as u64) ^ (1 << 63)
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

/// Group key of a person: the person id, big-endian.
pub(crate) fn person_group(person: u64) -> [u8; 8] {
    person.to_be_bytes()
}

/// Group key of a type: the type id, big-endian.
pub(crate) fn type_group(type_id: u32) -> [u8; 4] {
    type_id.to_be_bytes()
}

/// Start of the by-primary group keys of one type (the escaped value follows).
pub(crate) fn primary_type_prefix(type_id: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(32);
    k.extend_from_slice(&type_id.to_be_bytes());
    k
}

/// Start of the by-attribute group keys of one (type, attribute).
pub(crate) fn attribute_type_prefix(type_id: u32, attr: u16) -> Vec<u8> {
    let mut k = Vec::with_capacity(32);
    k.extend_from_slice(&type_id.to_be_bytes());
    k.extend_from_slice(&attr.to_be_bytes());
    k
}

/// `family | run id` (9 bytes): the prefix of every block key of one run's family.
pub(crate) fn run_prefix(family: u8, run: u64) -> [u8; RUN_PREFIX_BYTES] {
    let mut k = [0u8; RUN_PREFIX_BYTES];
    k[0] = family;
    k[1..].copy_from_slice(&run.to_be_bytes());
    k
}

/// `family | run id | sort key`: a block's key, or a seek target.
pub(crate) fn block_key(family: u8, run: u64, sort_key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(RUN_PREFIX_BYTES + sort_key.len());
    k.extend_from_slice(&run_prefix(family, run));
    k.extend_from_slice(sort_key);
    k
}

/// The run id of a block key.
pub(crate) fn key_run(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(
        key.get(1..RUN_PREFIX_BYTES)?.try_into().ok()?,
    ))
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

// ---- postings ------------------------------------------------------------------------

/// One posting of any family. `aux` is the type (by person) or the person (by type);
/// the value families leave it 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Post {
    pub id: u64,
    pub occ: i64,
    pub aux: u64,
}

/// The position suffix of a posting in its family's order (see [`pos_bytes`]).
pub(crate) fn pos_of(family: u8, p: &Post) -> [u8; 16] {
    let mut b = [0u8; 16];
    if family == FAMILY_TYPE {
        b[..8].copy_from_slice(&okey(p.occ).to_be_bytes());
        b[8..].copy_from_slice(&p.id.to_be_bytes());
    } else {
        b[..8].copy_from_slice(&p.id.to_be_bytes());
    }
    b
}

/// Compares `group ++ tail` with `bound` without building the concatenation.
pub(crate) fn cmp_concat(group: &[u8], tail: &[u8], bound: &[u8]) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let k = group.len().min(bound.len());
    match group[..k].cmp(&bound[..k]) {
        Ordering::Equal => {}
        o => return o,
    }
    if bound.len() <= group.len() {
        return if group.len() + tail.len() > bound.len() {
            Ordering::Greater
        } else {
            Ordering::Equal
        };
    }
    tail.cmp(&bound[group.len()..])
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

fn le_u32(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(w)
}

fn le_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

/// occurred_at of `p` minus its prediction from the posting it is relative to.
fn occ_residual(rate: i64, p: &Post, pred_id: u64, prev_occ: i64) -> i64 {
    p.occ
        .wrapping_sub(prev_occ)
        .wrapping_sub(predict_occ(rate, p.id.wrapping_sub(pred_id)))
}

/// Accumulates groups of one family of one run into a block.
#[derive(Debug)]
pub(crate) struct BlockBuilder {
    family: u8,
    /// (key end, data end) per group.
    dir: Vec<(u32, u32)>,
    keys: Vec<u8>,
    data: Vec<u8>,
    /// Sort key (group ++ position) of the block's first posting.
    first: Vec<u8>,
    postings: u32,
    min_id: u64,
    max_id: u64,
    base_occ: i64,
    base_id: u64,
    /// occurred_at predictor of the blocks this builder writes.
    rate: i64,
    /// Previous posting of the open group.
    prev: Option<Post>,
    /// By person: the block's distinct types in first-seen order; postings store an
    /// index into it. Type ids are large numbers (custom types start at 100,000, three
    /// varint bytes) of which a block holds a few dozen (one byte).
    types: Vec<u32>,
    /// Index of each type in `types`.
    type_index: foldhash::HashMap<u32, u32>,
    /// (type, slot) by the type's low bits, in front of `type_index`: every by-person
    /// posting looks its type up, and a block's few dozen types nearly always differ
    /// there. A slot of `u32::MAX` marks an empty entry.
    type_cache: [(u32, u32); TYPE_CACHE_ENTRIES],
}

/// Entries of [`BlockBuilder`]'s type cache (a power of two).
const TYPE_CACHE_ENTRIES: usize = 64;
const TYPE_CACHE_EMPTY: (u32, u32) = (0, u32::MAX);

impl BlockBuilder {
    pub fn new(family: u8) -> Self {
        BlockBuilder {
            family,
            dir: Vec::new(),
            keys: Vec::new(),
            data: Vec::new(),
            first: Vec::new(),
            postings: 0,
            min_id: u64::MAX,
            max_id: 0,
            base_occ: 0,
            base_id: 0,
            rate: 0,
            prev: None,
            types: Vec::new(),
            type_index: foldhash::HashMap::default(),
            type_cache: [TYPE_CACHE_EMPTY; TYPE_CACHE_ENTRIES],
        }
    }

    /// Sets the occurred_at predictor (see [`rate_between`]); takes effect from the next
    /// block.
    pub fn set_rate(&mut self, rate: i64) {
        if self.postings == 0 {
            self.rate = rate;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.postings == 0
    }

    pub fn postings(&self) -> u32 {
        self.postings
    }

    /// Bytes the block would take now, about (directory offsets counted narrow).
    pub fn bytes(&self) -> usize {
        let entry = if fixed_group_bytes(self.family).is_some() {
            2
        } else {
            4
        };
        BLOCK_HEADER_BYTES
            + self.types.len() * TYPE_ENTRY_BYTES
            + self.dir.len() * entry
            + self.keys.len()
            + self.data.len()
    }

    /// Starts a new group; the caller guarantees (group, posting) order across calls.
    /// `min_id`/`base_occ` are taken from the block's first posting, so blocks must be
    /// started with [`BlockBuilder::push`] right after.
    pub fn open_group(&mut self, group: &[u8]) {
        debug_assert!(fixed_group_bytes(self.family).is_none_or(|n| n == group.len()));
        if let Some(last) = self.dir.last_mut() {
            last.1 = self.data.len() as u32;
        }
        self.keys.extend_from_slice(group);
        self.dir
            .push((self.keys.len() as u32, self.data.len() as u32));
        self.prev = None;
    }

    /// The index of `type_id` in the block's type table, added if new.
    fn type_slot(&mut self, type_id: u32) -> u32 {
        let cached = &mut self.type_cache[type_id as usize % TYPE_CACHE_ENTRIES];
        if cached.1 != u32::MAX && cached.0 == type_id {
            return cached.1;
        }
        let next = self.types.len() as u32;
        let slot = *self.type_index.entry(type_id).or_insert(next);
        if slot == next {
            self.types.push(type_id);
        }
        *cached = (type_id, slot);
        slot
    }

    /// Appends a posting to the open group, which the caller keeps in the family's order.
    pub fn push(&mut self, group: &[u8], p: &Post) {
        if self.postings == 0 {
            self.first.clear();
            self.first.extend_from_slice(group);
            self.first
                .extend_from_slice(&pos_of(self.family, p)[..pos_bytes(self.family)]);
            self.base_occ = p.occ;
            self.base_id = p.id;
        }
        self.postings += 1;
        self.min_id = self.min_id.min(p.id);
        self.max_id = self.max_id.max(p.id);
        let rate = self.rate;
        // The first posting of a group is relative to the block's first posting (ids
        // zigzagged: other groups may hold smaller ones); later ones to their
        // predecessor.
        // occurred_at is predicted from the id step since the posting it is relative to
        // (the block's first for a group's first posting).
        let (prev_id, prev_occ, pred_id) = match self.prev {
            Some(q) => (q.id, q.occ, q.id),
            None => {
                put_varint(
                    &mut self.data,
                    zigzag(p.id.wrapping_sub(self.base_id) as i64),
                );
                (p.id, self.base_occ, self.base_id)
            }
        };
        match self.family {
            FAMILY_PERSON => {
                // A by-person posting's aux is a type id, a u32.
                debug_assert!(u32::try_from(p.aux).is_ok());
                let slot = self.type_slot(p.aux as u32);
                let d = &mut self.data;
                put_varint(d, p.id.wrapping_sub(prev_id));
                put_varint(d, u64::from(slot));
                put_varint(d, zigzag(occ_residual(rate, p, pred_id, prev_occ)));
            }
            FAMILY_TYPE => {
                let d = &mut self.data;
                put_varint(d, zigzag(p.id.wrapping_sub(prev_id) as i64));
                put_varint(d, p.aux);
                put_varint(d, zigzag(occ_residual(rate, p, pred_id, prev_occ)));
            }
            _ => {
                let d = &mut self.data;
                put_varint(d, p.id.wrapping_sub(prev_id));
                put_varint(d, zigzag(occ_residual(rate, p, pred_id, prev_occ)));
            }
        }
        self.prev = Some(*p);
    }

    /// Seals the block: returns (key, value) and resets the builder.
    pub fn finish(&mut self, run: u64) -> (Vec<u8>, Vec<u8>) {
        if let Some(last) = self.dir.last_mut() {
            last.1 = self.data.len() as u32;
        }
        let key = block_key(self.family, run, &self.first);
        // Offsets take two bytes when both areas fit: every block sealed at its size
        // target does; only a block of huge value keys needs four.
        let narrow =
            self.keys.len() <= usize::from(u16::MAX) && self.data.len() <= usize::from(u16::MAX);
        let width: u8 = if narrow { 2 } else { 4 };
        let mut body = Vec::with_capacity(self.bytes() + 4 * self.dir.len() + CRC_BYTES);
        body.extend_from_slice(&(self.dir.len() as u32).to_le_bytes());
        body.extend_from_slice(&(self.keys.len() as u32).to_le_bytes());
        body.extend_from_slice(&self.postings.to_le_bytes());
        body.extend_from_slice(&self.min_id.to_le_bytes());
        body.extend_from_slice(&self.max_id.to_le_bytes());
        body.extend_from_slice(&self.base_occ.to_le_bytes());
        body.extend_from_slice(&self.base_id.to_le_bytes());
        body.extend_from_slice(&self.rate.to_le_bytes());
        body.push(width);
        body.extend_from_slice(&(self.types.len() as u32).to_le_bytes());
        for t in &self.types {
            body.extend_from_slice(&t.to_le_bytes());
        }
        let fixed = fixed_group_bytes(self.family).is_some();
        let put = |body: &mut Vec<u8>, v: u32| {
            if narrow {
                body.extend_from_slice(&(v as u16).to_le_bytes());
            } else {
                body.extend_from_slice(&v.to_le_bytes());
            }
        };
        for &(k, d) in &self.dir {
            if !fixed {
                put(&mut body, k);
            }
            put(&mut body, d);
        }
        body.extend_from_slice(&self.keys);
        body.extend_from_slice(&self.data);
        let value = seal(&key, body);
        self.dir.clear();
        self.keys.clear();
        self.data.clear();
        self.postings = 0;
        self.min_id = u64::MAX;
        self.max_id = 0;
        self.prev = None;
        self.types.clear();
        self.type_index.clear();
        self.type_cache = [TYPE_CACHE_EMPTY; TYPE_CACHE_ENTRIES];
        (key, value)
    }
}

/// What checking a block found, without its bytes: a block checked once can be viewed
/// again from its shape (see [`BlockView::with_shape`]) without checking it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlockShape {
    family: u8,
    groups: usize,
    /// Bytes per directory offset: 2 or 4.
    width: usize,
    /// Entries of the type table (by person; 0 in the other families).
    types: usize,
    /// Bytes of every group key, when the family's are all one size.
    fixed_key: Option<usize>,
    /// Bytes of one directory entry: `width`, or twice that with key ends.
    entry: usize,
    dir_at: usize,
    keys_at: usize,
    data_at: usize,
    pub postings: u32,
    pub min_id: u64,
    pub max_id: u64,
    base_occ: i64,
    base_id: u64,
    /// occurred_at predictor (see [`rate_between`]).
    pub rate: i64,
}

/// A checked view of one block: header and directory validated, postings decoded on
/// demand, group by group.
#[derive(Debug)]
pub(crate) struct BlockView<'v> {
    body: &'v [u8],
    /// What checking the block found.
    pub shape: BlockShape,
}

impl<'v> BlockView<'v> {
    /// Checks the checksum, header and directory of a block.
    pub fn open(key: &[u8], value: &'v [u8]) -> Result<Self, Bad> {
        let family = *key.first().ok_or(Bad {
            position: 0,
            what: "empty key",
        })?;
        if key.len() < RUN_PREFIX_BYTES + pos_bytes(family) {
            return Err(Bad {
                position: 0,
                what: "malformed key",
            });
        }
        let body = open_block(key, value)?;
        if body.len() < BLOCK_HEADER_BYTES {
            return Err(Bad {
                position: 0,
                what: "block shorter than its header",
            });
        }
        let groups = le_u32(body, 0) as usize;
        let key_bytes = le_u32(body, 4) as usize;
        let postings = le_u32(body, 8);
        let min_id = le_u64(body, 12);
        let max_id = le_u64(body, 20);
        let base_occ = le_u64(body, 28) as i64;
        let base_id = le_u64(body, 36);
        let rate = le_u64(body, 44) as i64;
        let width = usize::from(body[WIDTH_AT]);
        let types = le_u32(body, TYPES_AT) as usize;
        if width != 2 && width != 4 {
            return Err(Bad {
                position: WIDTH_AT,
                what: "directory offset width is neither 2 nor 4",
            });
        }
        if (family == FAMILY_PERSON) != (types > 0) {
            return Err(Bad {
                position: TYPES_AT,
                what: "type table in a family without one, or missing",
            });
        }
        let fixed_key = fixed_group_bytes(family);
        let entry = if fixed_key.is_some() {
            width
        } else {
            2 * width
        };
        let dir_at = types
            .checked_mul(TYPE_ENTRY_BYTES)
            .and_then(|t| t.checked_add(BLOCK_HEADER_BYTES))
            .filter(|&d| d <= body.len())
            .ok_or(Bad {
                position: TYPES_AT,
                what: "type table out of range",
            })?;
        let keys_at = groups
            .checked_mul(entry)
            .and_then(|d| d.checked_add(dir_at))
            .filter(|&k| k <= body.len())
            .ok_or(Bad {
                position: 0,
                what: "group count out of range",
            })?;
        let data_at = keys_at
            .checked_add(key_bytes)
            .filter(|&d| d <= body.len())
            .ok_or(Bad {
                position: 4,
                what: "key area out of range",
            })?;
        if groups == 0 || postings == 0 || min_id > max_id {
            return Err(Bad {
                position: 0,
                what: "empty block or bad id bounds",
            });
        }
        if fixed_key.is_some_and(|n| groups.checked_mul(n) != Some(key_bytes)) {
            return Err(Bad {
                position: 4,
                what: "key area is not one key per group",
            });
        }
        let view = BlockView {
            body,
            shape: BlockShape {
                family,
                groups,
                width,
                types,
                fixed_key,
                entry,
                dir_at,
                keys_at,
                data_at,
                postings,
                min_id,
                max_id,
                base_occ,
                base_id,
                rate,
            },
        };
        // Directory ends must be non-decreasing and inside their areas (key ends
        // increasing: no key is empty). Read entry by entry: a person block has hundreds
        // of groups.
        let (mut pk, mut pd) = (0usize, 0usize);
        let data_bytes = body.len() - data_at;
        for g in 0..groups {
            let (k, d) = view.dir(g);
            if k <= pk || k > key_bytes || d < pd || d > data_bytes {
                return Err(Bad {
                    position: dir_at + g * entry,
                    what: "directory entry out of range",
                });
            }
            (pk, pd) = (k, d);
        }
        if pd != data_bytes {
            return Err(Bad {
                position: data_at + pd,
                what: "trailing bytes",
            });
        }
        Ok(view)
    }

    /// What checking this block found, to view the same bytes again with
    /// [`BlockView::with_shape`].
    pub fn shape(&self) -> BlockShape {
        self.shape
    }

    /// Views a block without checking it, from the shape found when exactly these bytes
    /// (`value`, the stored value with its checksum) were checked under the same key.
    /// `None` if `value` cannot be the bytes the shape came from.
    pub fn with_shape(value: &'v [u8], shape: BlockShape) -> Option<Self> {
        let body = value.get(..value.len().checked_sub(CRC_BYTES)?)?;
        // The directory's entries were checked against these very bytes; the areas'
        // bounds are checked again because they cost nothing.
        if shape.keys_at > shape.data_at
            || shape.data_at > body.len()
            || shape.dir_at != BLOCK_HEADER_BYTES + shape.types * TYPE_ENTRY_BYTES
            || shape.entry != if shape.fixed_key.is_some() { 1 } else { 2 } * shape.width
            || shape.keys_at != shape.dir_at + shape.groups * shape.entry
        {
            return None;
        }
        debug_assert_eq!(le_u32(body, 0) as usize, shape.groups);
        Some(BlockView { body, shape })
    }

    /// (key end, data end) of group `g`, relative to their areas.
    fn dir(&self, g: usize) -> (usize, usize) {
        let s = &self.shape;
        let at = s.dir_at + g * s.entry;
        let read = |at: usize| {
            if s.width == 2 {
                usize::from(le_u16(self.body, at))
            } else {
                le_u32(self.body, at) as usize
            }
        };
        match s.fixed_key {
            Some(n) => ((g + 1) * n, read(at)),
            None => (read(at), read(at + s.width)),
        }
    }

    pub fn groups(&self) -> usize {
        self.shape.groups
    }

    /// The key of group `g` (< `groups()`).
    pub fn group_key(&self, g: usize) -> &'v [u8] {
        let start = if g == 0 { 0 } else { self.dir(g - 1).0 };
        let end = self.dir(g).0;
        &self.body[self.shape.keys_at + start..self.shape.keys_at + end]
    }

    /// About how many postings group `g` holds: the block's count times the group's
    /// share of the data area's bytes, at least one. Exact for a block of one group;
    /// postings of one family take similar bytes, so close for the others too.
    pub fn estimated_postings(&self, g: usize) -> u64 {
        let start = if g == 0 { 0 } else { self.dir(g - 1).1 };
        let bytes = self.dir(g).1.saturating_sub(start) as u64;
        let data_bytes = (self.body.len() - self.shape.data_at).max(1) as u64;
        (u64::from(self.shape.postings) * bytes)
            .div_ceil(data_bytes)
            .max(1)
    }

    /// First group whose key is not `Less` by `cmp`.
    pub fn lower_bound(&self, mut cmp: impl FnMut(&[u8]) -> std::cmp::Ordering) -> usize {
        let (mut lo, mut hi) = (0, self.shape.groups);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if cmp(self.group_key(mid)) == std::cmp::Ordering::Less {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// The type at `slot` of the block's type table.
    fn type_at(&self, slot: u64, pos: usize) -> Result<u64, Bad> {
        match usize::try_from(slot) {
            Ok(i) if i < self.shape.types => Ok(u64::from(le_u32(
                self.body,
                BLOCK_HEADER_BYTES + i * TYPE_ENTRY_BYTES,
            ))),
            _ => Err(Bad {
                position: pos,
                what: "type index outside the type table",
            }),
        }
    }

    /// Appends the postings of group `g` to `out`, in the family's order.
    pub fn decode_group(&self, g: usize, out: &mut Vec<Post>) -> Result<(), Bad> {
        self.decode_group_within(g, out, |_| false, |_| false)
            .map(|_| ())
    }

    /// [`BlockView::decode_group`] for the stretch of the group's postings a range
    /// wants, given in the group's (sort-key) order: the postings for which
    /// `before_start` holds, all at the group's start, are decoded but not appended, and
    /// decoding stops at the first for which `past_end` holds. `Ok(true)` when it
    /// stopped there (the group holds postings past the range). A by-type group holds
    /// all of a block's postings of its type, so a short time range would otherwise
    /// decode and then drop most of them.
    #[inline]
    pub fn decode_group_within(
        &self,
        g: usize,
        out: &mut Vec<Post>,
        before_start: impl Fn(&Post) -> bool,
        past_end: impl Fn(&Post) -> bool,
    ) -> Result<bool, Bad> {
        let start = self.shape.data_at + if g == 0 { 0 } else { self.dir(g - 1).1 };
        let end = self.shape.data_at + self.dir(g).1;
        let data = &self.body[..end];
        let mut pos = start;
        if pos == end {
            return Err(Bad {
                position: pos,
                what: "empty group",
            });
        }
        let first = need(get_varint(data, &mut pos), pos, "truncated first id")?;
        let (mut prev_id, mut prev_occ) = (
            self.shape.base_id.wrapping_add(unzigzag(first) as u64),
            self.shape.base_occ,
        );
        let mut pred_id = self.shape.base_id;
        let (lo, hi) = (self.shape.min_id, self.shape.max_id);
        let mut started = false;
        while pos < end {
            let (id, occ, aux) = match self.shape.family {
                FAMILY_PERSON => {
                    let d = need(get_varint(data, &mut pos), pos, "truncated id")?;
                    let s = need(get_varint(data, &mut pos), pos, "truncated type")?;
                    let t = self.type_at(s, pos)?;
                    let o = need(get_varint(data, &mut pos), pos, "truncated occurred_at")?;
                    let id = prev_id.wrapping_add(d);
                    let step = predict_occ(self.shape.rate, id.wrapping_sub(pred_id));
                    (id, prev_occ.wrapping_add(unzigzag(o)).wrapping_add(step), t)
                }
                FAMILY_TYPE => {
                    let d = need(get_varint(data, &mut pos), pos, "truncated id")?;
                    let p = need(get_varint(data, &mut pos), pos, "truncated person")?;
                    let o = need(get_varint(data, &mut pos), pos, "truncated occurred_at")?;
                    let id = prev_id.wrapping_add(unzigzag(d) as u64);
                    let step = predict_occ(self.shape.rate, id.wrapping_sub(pred_id));
                    (id, prev_occ.wrapping_add(unzigzag(o)).wrapping_add(step), p)
                }
                _ => {
                    let d = need(get_varint(data, &mut pos), pos, "truncated id")?;
                    let o = need(get_varint(data, &mut pos), pos, "truncated occurred_at")?;
                    let id = prev_id.wrapping_add(d);
                    let step = predict_occ(self.shape.rate, id.wrapping_sub(pred_id));
                    (id, prev_occ.wrapping_add(unzigzag(o)).wrapping_add(step), 0)
                }
            };
            if id < lo || id > hi {
                return Err(Bad {
                    position: pos,
                    what: "posting outside the header's id bounds",
                });
            }
            let post = Post { id, occ, aux };
            if past_end(&post) {
                return Ok(true);
            }
            if started || !before_start(&post) {
                started = true;
                out.push(post);
            }
            prev_id = id;
            pred_id = id;
            prev_occ = occ;
        }
        Ok(false)
    }

    /// Decodes every group, checking the posting count.
    pub fn check_all(&self) -> Result<(), Bad> {
        let mut out = Vec::new();
        for g in 0..self.shape.groups {
            self.decode_group(g, &mut out)?;
        }
        if out.len() != self.shape.postings as usize {
            return Err(Bad {
                position: 8,
                what: "posting count differs from the header",
            });
        }
        Ok(())
    }
}

/// Header fields of a block without decoding postings; a damaged block is an error.
pub(crate) fn block_header(key: &[u8], value: &[u8]) -> Result<(u32, u64, u64)> {
    let v = BlockView::open(key, value).map_err(|b| corrupted(key, b))?;
    Ok((v.shape.postings, v.shape.min_id, v.shape.max_id))
}

// ---- meta ----------------------------------------------------------------------------

/// Whether the blocks in the store are complete up to the checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MetaState {
    /// The runs hold exactly the postings of ids in [floor, checkpoint).
    Ready = 0,
    /// A bulk load or a clear was under way: the blocks are not to be trusted.
    Incomplete = 1,
}

/// One run: the postings of ids `[first_id, end_id)` in every family, written by one
/// flush or one merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Run {
    pub id: u64,
    pub first_id: u64,
    pub end_id: u64,
    pub postings: u64,
    pub blocks: u64,
}

impl Run {
    /// Whether any of the run's ids `[first_id, end_id)` lies in `ids`.
    pub fn holds_any(&self, ids: &std::ops::Range<u64>) -> bool {
        self.first_id < ids.end && ids.start < self.end_id
    }
}

/// The meta record, written in the same sled batch as the run list it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Meta {
    pub format_version: u32,
    pub state: MetaState,
    pub checkpoint: u64,
    pub floor: u64,
    pub next_run: u64,
    /// Oldest first; id ranges contiguous and increasing.
    pub runs: Vec<Run>,
}

const META_FIXED_BYTES: usize = 4 + 1 + 8 * 3 + 4;
const RUN_BYTES: usize = 8 * 5;

pub(crate) fn encode_meta(m: &Meta) -> Vec<u8> {
    let mut body = Vec::with_capacity(META_FIXED_BYTES + m.runs.len() * RUN_BYTES + CRC_BYTES);
    body.extend_from_slice(&m.format_version.to_le_bytes());
    body.push(m.state as u8);
    body.extend_from_slice(&m.checkpoint.to_le_bytes());
    body.extend_from_slice(&m.floor.to_le_bytes());
    body.extend_from_slice(&m.next_run.to_le_bytes());
    body.extend_from_slice(&(m.runs.len() as u32).to_le_bytes());
    for r in &m.runs {
        for v in [r.id, r.first_id, r.end_id, r.postings, r.blocks] {
            body.extend_from_slice(&v.to_le_bytes());
        }
    }
    seal(META_KEY, body)
}

/// Decodes the meta record. The version is read before the length is checked, so an
/// older format is reported as such rather than as damage.
pub(crate) fn decode_meta(value: &[u8]) -> Result<Meta, Bad> {
    let body = open_block(META_KEY, value)?;
    if body.len() < 4 {
        return Err(Bad {
            position: 0,
            what: "meta too short",
        });
    }
    let format_version = le_u32(body, 0);
    if format_version != FORMAT_VERSION {
        return Ok(Meta {
            format_version,
            state: MetaState::Incomplete,
            checkpoint: 0,
            floor: 0,
            next_run: 0,
            runs: Vec::new(),
        });
    }
    if body.len() < META_FIXED_BYTES {
        return Err(Bad {
            position: 0,
            what: "meta has the wrong length",
        });
    }
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
    let n = le_u32(body, 29) as usize;
    if Some(body.len()) != n.checked_mul(RUN_BYTES).map(|r| r + META_FIXED_BYTES) {
        return Err(Bad {
            position: 29,
            what: "meta has the wrong length",
        });
    }
    let mut runs = Vec::with_capacity(n);
    for i in 0..n {
        let at = META_FIXED_BYTES + i * RUN_BYTES;
        runs.push(Run {
            id: le_u64(body, at),
            first_id: le_u64(body, at + 8),
            end_id: le_u64(body, at + 16),
            postings: le_u64(body, at + 24),
            blocks: le_u64(body, at + 32),
        });
    }
    let checkpoint = le_u64(body, 5);
    let next_run = le_u64(body, 21);
    // The run list must tile [first run's start, checkpoint) with ids below next_run.
    let mut end = runs.first().map_or(checkpoint, |r| r.first_id);
    for (i, r) in runs.iter().enumerate() {
        if r.first_id != end || r.end_id < r.first_id || r.id >= next_run {
            return Err(Bad {
                position: META_FIXED_BYTES + i * RUN_BYTES,
                what: "run list out of order",
            });
        }
        end = r.end_id;
    }
    if end != checkpoint {
        return Err(Bad {
            position: 5,
            what: "run list does not end at the checkpoint",
        });
    }
    Ok(Meta {
        format_version,
        state,
        checkpoint,
        floor: le_u64(body, 13),
        next_run,
        runs,
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
    fn cmp_concat_matches_concatenation() {
        let parts: [&[u8]; 5] = [b"", b"a", b"ab", b"b", b"\xff"];
        for g in parts {
            for t in parts {
                for b in parts {
                    let mut c = g.to_vec();
                    c.extend_from_slice(t);
                    assert_eq!(
                        cmp_concat(g, t, b),
                        c.as_slice().cmp(b),
                        "{g:?} {t:?} {b:?}"
                    );
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
            next_run: 5,
            runs: vec![
                Run {
                    id: 3,
                    first_id: 0,
                    end_id: 40,
                    postings: 99,
                    blocks: 3,
                },
                Run {
                    id: 4,
                    first_id: 40,
                    end_id: 42,
                    postings: 9,
                    blocks: 4,
                },
            ],
        };
        let mut v = encode_meta(&m);
        assert_eq!(decode_meta(&v).ok(), Some(m));
        v[6] ^= 1;
        assert_eq!(
            decode_meta(&v).err().map(|b| b.what),
            Some("checksum mismatch")
        );
    }

    fn build(family: u8, groups: &[(Vec<u8>, Vec<Post>)]) -> (Vec<u8>, Vec<u8>) {
        build_with_rate(family, groups, 0)
    }

    fn build_with_rate(
        family: u8,
        groups: &[(Vec<u8>, Vec<Post>)],
        rate: i64,
    ) -> (Vec<u8>, Vec<u8>) {
        let mut b = BlockBuilder::new(family);
        b.set_rate(rate);
        for (g, posts) in groups {
            b.open_group(g);
            for p in posts {
                b.push(g, p);
            }
        }
        b.finish(7)
    }

    #[test]
    fn block_detects_moved_value() {
        let groups = vec![(
            person_group(1).to_vec(),
            vec![Post {
                id: 5,
                occ: 10,
                aux: 1,
            }],
        )];
        let (k1, v) = build(FAMILY_PERSON, &groups);
        let view = BlockView::open(&k1, &v).map_err(|b| b.what);
        assert_eq!(view.as_ref().map(|v| v.shape.postings), Ok(1));
        let mut k2 = k1.clone();
        k2[RUN_PREFIX_BYTES] ^= 1;
        assert_eq!(
            BlockView::open(&k2, &v).err().map(|b| b.what),
            Some("checksum mismatch")
        );
    }

    /// A view from a block's shape equals the checked view; a value that cannot be the
    /// one the shape came from gives none.
    #[test]
    fn view_from_shape_equals_checked_view() {
        let groups: Vec<(Vec<u8>, Vec<Post>)> = (0..20u64)
            .map(|person| {
                let posts = (0..4)
                    .map(|i| Post {
                        id: person * 8 + i,
                        occ: 77 + i as i64,
                        aux: i,
                    })
                    .collect();
                (person_group(person).to_vec(), posts)
            })
            .collect();
        let (k, v) = build(FAMILY_PERSON, &groups);
        let checked = BlockView::open(&k, &v).map_err(|b| b.what);
        let shape = checked.as_ref().map(BlockView::shape).ok();
        let view = shape.and_then(|s| BlockView::with_shape(&v, s));
        assert_eq!(view.as_ref().map(BlockView::shape), shape);
        let (Ok(checked), Some(view)) = (checked, view) else {
            panic!("block does not open");
        };
        assert_eq!(view.groups(), checked.groups());
        for (g, (key, posts)) in groups.iter().enumerate() {
            assert_eq!(view.group_key(g), checked.group_key(g));
            assert_eq!(view.group_key(g), key.as_slice());
            let (mut a, mut b) = (Vec::new(), Vec::new());
            assert!(view.decode_group(g, &mut a).is_ok());
            assert!(checked.decode_group(g, &mut b).is_ok());
            assert_eq!(a, b);
            assert_eq!(&a, posts);
        }
        let Some(shape) = shape else { return };
        assert!(BlockView::with_shape(&v[..10], shape).is_none());
        assert!(BlockView::with_shape(&[], shape).is_none());
    }

    #[test]
    fn rate_shrinks_postings_logged_as_they_happen() {
        // One person's activities 15 s apart in time and 1,000 ids apart, ±5 s of jitter.
        let posts: Vec<Post> = (0..100u64)
            .map(|i| Post {
                id: i * 1_000,
                occ: 1_700_000_000_000 + i as i64 * 15_000_000 + (i as i64 * 7_919) % 10_001
                    - 5_000,
                aux: 1,
            })
            .collect();
        let groups = vec![(person_group(9).to_vec(), posts.clone())];
        let rate = rate_between(0, posts[0].occ, 99_000, posts[99].occ);
        let (_, plain) = build(FAMILY_PERSON, &groups);
        let (k, predicted) = build_with_rate(FAMILY_PERSON, &groups, rate);
        assert!(
            predicted.len() + 100 <= plain.len(),
            "{} vs {}",
            predicted.len(),
            plain.len()
        );
        let view = BlockView::open(&k, &predicted).map_err(|b| b.what);
        let mut out = Vec::new();
        assert_eq!(
            view.and_then(|v| v.decode_group(0, &mut out).map_err(|b| b.what)),
            Ok(())
        );
        assert_eq!(out, posts);
        assert_eq!(rate_between(5, 10, 5, 99), 0);
        assert_eq!(rate_between(0, i64::MIN, 1, i64::MAX), RATE_MAX);
    }

    /// A by-person block stores each distinct type once, in its type table: hundreds of
    /// custom types (ids from 100,000) round-trip, and the first 128 cost one byte per
    /// posting.
    #[test]
    fn person_types_round_trip_through_the_table() {
        let types = |n: u64| -> Vec<(Vec<u8>, Vec<Post>)> {
            (0..n)
                .map(|i| {
                    let posts = vec![Post {
                        id: i,
                        occ: 1_000 + i as i64,
                        aux: 100_000 + (i * 7) % n,
                    }];
                    (person_group(i).to_vec(), posts)
                })
                .collect()
        };
        for n in [1, 127, 128, 300] {
            let groups = types(n);
            let (k, v) = build(FAMILY_PERSON, &groups);
            let view = BlockView::open(&k, &v).map_err(|b| b.what);
            assert_eq!(view.as_ref().map(|v| v.shape.types), Ok(n as usize));
            let Ok(view) = view else { return };
            for (g, (key, posts)) in groups.iter().enumerate() {
                let mut out = Vec::new();
                assert!(view.decode_group(g, &mut out).is_ok());
                assert_eq!(view.group_key(g), key.as_slice());
                assert_eq!(&out, posts);
            }
        }
        // 128 types: table 4 bytes each; per posting a one-byte slot where the type id
        // took three.
        let (_, v) = build(FAMILY_PERSON, &types(128));
        let fixed = BLOCK_HEADER_BYTES + CRC_BYTES + 128 * (TYPE_ENTRY_BYTES + 2 + 8);
        assert!(v.len() <= fixed + 128 * 5, "{}", v.len());
    }

    /// A posting whose type slot lies outside the table is damage, not a type.
    #[test]
    fn type_slot_outside_the_table_is_damage() {
        let groups = vec![(
            person_group(3).to_vec(),
            vec![
                Post {
                    id: 10,
                    occ: 5,
                    aux: 100_001,
                },
                Post {
                    id: 11,
                    occ: 6,
                    aux: 100_002,
                },
            ],
        )];
        let (k, v) = build(FAMILY_PERSON, &groups);
        let Ok(view) = BlockView::open(&k, &v) else {
            panic!("block does not open");
        };
        // Data: first id (zigzag 0), then per posting id delta, type slot, residual.
        let slot_at = view.shape.data_at + 2;
        assert_eq!(v[slot_at], 0);
        let mut body = v[..v.len() - CRC_BYTES].to_vec();
        body[slot_at] = 2;
        let damaged = seal(&k, body);
        let view = BlockView::open(&k, &damaged).map_err(|b| b.what);
        let mut out = Vec::new();
        assert_eq!(
            view.and_then(|v| v.decode_group(0, &mut out).map_err(|b| b.what)),
            Err("type index outside the type table")
        );
    }

    /// Directory offsets take two bytes while key and data areas fit 64 KiB, four past
    /// it; both widths round-trip.
    #[test]
    fn directory_offsets_widen_past_64_kib() {
        for (n, width) in [(1_000u64, 2), (40_000, 4)] {
            let groups: Vec<(Vec<u8>, Vec<Post>)> = (0..n)
                .map(|g| {
                    let post = Post {
                        id: g * 1_000,
                        occ: g as i64,
                        aux: 0,
                    };
                    (g.to_be_bytes().to_vec(), vec![post])
                })
                .collect();
            let (k, v) = build(FAMILY_PRIMARY, &groups);
            let view = BlockView::open(&k, &v).map_err(|b| b.what);
            assert_eq!(view.as_ref().map(|v| v.shape.width), Ok(width));
            let Ok(view) = view else { return };
            assert!(view.check_all().is_ok());
            for g in [0, n as usize / 2, n as usize - 1] {
                let mut out = Vec::new();
                assert!(view.decode_group(g, &mut out).is_ok());
                assert_eq!(view.group_key(g), groups[g].0.as_slice());
                assert_eq!(out, groups[g].1);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// The word-at-a-time path reads what the byte-by-byte reader reads, anywhere in
        /// any bytes (mostly continuation bytes, so that every length comes up).
        #[test]
        fn varint_short_paths_agree(
            bytes in prop::collection::vec(prop_oneof![1 => 0u8..0x80, 3 => 0x80u8..=0xff], 0..24),
            at in 0usize..26,
        ) {
            let (mut fast, mut slow) = (at, at);
            prop_assert_eq!(get_varint(&bytes, &mut fast), get_varint_long(&bytes, &mut slow));
            prop_assert_eq!(fast, slow);
        }

        #[test]
        fn block_round_trip(
            family in prop::sample::select(FAMILIES.to_vec()),
            raw in prop::collection::vec((0u64..50, prop::collection::vec((0u64..1 << 40, any::<i64>(), 0u64..1 << 33), 1..20)), 1..30),
            rate in prop_oneof![Just(0i64), any::<i64>(), -(1i64 << 40)..(1i64 << 40)],
        ) {
            // Distinct sorted groups, postings sorted in the family's order.
            let mut groups: Vec<(Vec<u8>, Vec<Post>)> = Vec::new();
            let mut seen = std::collections::BTreeMap::new();
            for (g, posts) in raw {
                seen.entry(g).or_insert(posts);
            }
            for (g, posts) in seen {
                let mut posts: Vec<Post> = posts.into_iter().map(|(id, occ, aux)| Post {
                    id,
                    occ,
                    // By person, aux is a type id (u32); by type, a person id.
                    aux: match family {
                        FAMILY_PERSON => aux >> 1,
                        FAMILY_TYPE => aux,
                        _ => 0,
                    },
                }).collect();
                posts.sort_by_key(|p| pos_of(family, p));
                // Group keys as each family makes them: fixed-width for persons and
                // types, of any length (here 1 to 8 bytes) for values.
                let key = match family {
                    FAMILY_PERSON => person_group(g).to_vec(),
                    FAMILY_TYPE => type_group(g as u32).to_vec(),
                    _ => g.to_be_bytes()[(g % 8) as usize..].to_vec(),
                };
                groups.push((key, posts));
            }
            let (k, v) = build_with_rate(family, &groups, rate);
            let view = BlockView::open(&k, &v).map_err(|b| TestCaseError::fail(b.what))?;
            prop_assert_eq!(view.shape.rate, rate);
            view.check_all().map_err(|b| TestCaseError::fail(b.what))?;
            prop_assert_eq!(view.groups(), groups.len());
            for (i, (g, posts)) in groups.iter().enumerate() {
                prop_assert_eq!(view.group_key(i), g.as_slice());
                let mut out = Vec::new();
                view.decode_group(i, &mut out).map_err(|b| TestCaseError::fail(b.what))?;
                prop_assert_eq!(&out, posts);
                // A stretch of the group: from its a-th posting, up to its b-th.
                let (a, b) = (i % (posts.len() + 1), (i * 7) % (posts.len() + 1));
                let (a, b) = (a.min(b), a.max(b));
                let pos = |p: &Post| pos_of(family, p);
                let start = posts.get(a).map(pos);
                let end = posts.get(b).map(pos);
                let mut stretch = Vec::new();
                let stopped = view
                    .decode_group_within(
                        i,
                        &mut stretch,
                        |p| start.is_some_and(|s| pos(p) < s),
                        |p| end.is_some_and(|e| pos(p) >= e),
                    )
                    .map_err(|b| TestCaseError::fail(b.what))?;
                let past = |p: &&Post| end.is_some_and(|e| pos(p) >= e);
                let expected: Vec<Post> = posts
                    .iter()
                    .take_while(|p| !past(p))
                    .filter(|p| start.is_none_or(|s| pos(p) >= s))
                    .copied()
                    .collect();
                prop_assert_eq!(stretch, expected);
                prop_assert_eq!(stopped, posts.iter().any(|p| past(&p)));
            }
        }

        #[test]
        fn random_bytes_never_decode_as_a_block(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            let key = block_key(FAMILY_PERSON, 1, &[0u8; 16]);
            prop_assert!(BlockView::open(&key, &bytes).is_err());
        }
    }
}
