//! Activity records (format 1; the table is in the module docs of `codec`).
//!
//! Written by hand rather than through serde: appends encode every activity and every
//! index pass and scan decodes one, and the borrowed [`ActivityView`] lets those readers
//! look at a record without allocating. The bytes are exactly bincode 2's
//! `config::standard()` encoding of the version-1 record, which the tests check against
//! bincode itself.

use super::wire::{self, Reader};
use super::{data_type_code, ACTIVITY_FORMAT_VERSION, RECORD_BYTES_MAX};
use crate::activity::{Activity, ValidActivity, IDEMPOTENCY_KEY_BYTES_MAX};
use crate::activity_type::ATTRIBUTES_MAX;
use crate::error::{Error, Result};
use crate::ids::{ActivityId, AttributeId, PersonId, TypeId};
use crate::value::ValueRef;

/// Appends the encoding of `activity` to `out`.
///
/// # Errors
///
/// None today; the `Result` keeps room for encodings that can fail.
pub fn encode_activity_into(activity: &ValidActivity, out: &mut Vec<u8>) -> Result<()> {
    put_record(
        out,
        activity.person,
        activity.type_id,
        activity.occurred_at_ms,
        activity.primary.as_ref(),
        &activity.attributes,
        activity.idempotency_key.as_deref(),
    );
    Ok(())
}

/// Appends the record of an activity already recorded (its id is not part of the
/// record): the bytes the log holds for it, which [`decode_activity`] turns back into
/// `activity`.
pub fn encode_recorded_into(activity: &Activity, out: &mut Vec<u8>) {
    put_record(
        out,
        activity.person,
        activity.type_id,
        activity.occurred_at_ms,
        activity.primary.as_ref(),
        &activity.attributes,
        activity.idempotency_key.as_deref(),
    );
}

fn put_record(
    out: &mut Vec<u8>,
    person: PersonId,
    type_id: TypeId,
    occurred_at_ms: i64,
    primary: ValueRef<'_>,
    attributes: &[(AttributeId, crate::value::Value)],
    idempotency_key: Option<&str>,
) {
    debug_assert!(attributes.windows(2).all(|w| w[0].0 < w[1].0));
    out.push(ACTIVITY_FORMAT_VERSION);
    wire::put_u64(out, person.0);
    wire::put_u64(out, u64::from(type_id.0));
    wire::put_i64(out, occurred_at_ms);
    put_value(out, primary);
    wire::put_u64(out, attributes.len() as u64);
    for (id, value) in attributes {
        wire::put_u64(out, u64::from(id.0));
        put_value(out, value.as_ref());
    }
    match idempotency_key {
        None => out.push(0),
        Some(key) => {
            out.push(1);
            wire::put_str(out, key);
        }
    }
}

/// The encoding of `activity`.
///
/// # Errors
///
/// See [`encode_activity_into`].
pub fn encode_activity(activity: &ValidActivity) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(128);
    encode_activity_into(activity, &mut out)?;
    Ok(out)
}

fn put_value(out: &mut Vec<u8>, value: ValueRef<'_>) {
    out.push(data_type_code(value.data_type()));
    match value {
        ValueRef::String(s)
        | ValueRef::Text(s)
        | ValueRef::Email(s)
        | ValueRef::Link(s)
        | ValueRef::Phone(s) => wire::put_str(out, s),
        ValueRef::Integer(i) | ValueRef::Date(i) => wire::put_i32(out, i),
        ValueRef::Datetime(ms) => wire::put_i64(out, ms),
        ValueRef::Float(f) | ValueRef::Currency(f) => out.extend_from_slice(&f.to_le_bytes()),
        ValueRef::Boolean(b) => out.push(u8::from(b)),
    }
}

#[inline(always)]
fn read_value<'a>(r: &mut Reader<'a>) -> Result<ValueRef<'a>, &'static str> {
    Ok(match r.u32()? {
        0 => ValueRef::String(r.str()?),
        1 => ValueRef::Text(r.str()?),
        2 => ValueRef::Integer(r.i32()?),
        3 => ValueRef::Float(r.f64()?),
        4 => ValueRef::Boolean(r.bool()?),
        5 => ValueRef::Date(r.i32()?),
        6 => ValueRef::Datetime(r.i64()?),
        7 => ValueRef::Email(r.str()?),
        8 => ValueRef::Link(r.str()?),
        9 => ValueRef::Phone(r.str()?),
        10 => ValueRef::Currency(r.f64()?),
        _ => return Err("unknown value tag"),
    })
}

/// Moves past a tagged value without decoding it.
fn skip_value(r: &mut Reader<'_>) -> Result<(), &'static str> {
    let len = match r.u32()? {
        // Strings: a length, then the bytes.
        0 | 1 | 7 | 8 | 9 => usize::try_from(r.u64()?).map_err(|_| "string longer than memory")?,
        // Varints.
        2 | 5 | 6 => {
            r.u64()?;
            0
        }
        3 | 10 => 8,
        4 => 1,
        _ => return Err("unknown value tag"),
    };
    r.take(len).map(|_| ())
}

/// A recorded activity decoded in place: its strings borrow the record's bytes.
///
/// Decoding checks the whole record, so reading a view never fails; turn it into an
/// owned [`Activity`] with [`ActivityView::to_activity`] when it must outlive the bytes.
///
/// ```
/// use actlog_model::codec::{decode_activity_view, encode_activity};
/// use actlog_model::{ActivityId, PersonId, TypeId, ValidActivity, Value, ValueRef};
///
/// let bytes = encode_activity(&ValidActivity {
///     person: PersonId(42),
///     type_id: TypeId(100_001),
///     occurred_at_ms: 1_764_000_000_000,
///     primary: Value::String("Rust 101".into()),
///     attributes: vec![],
///     idempotency_key: None,
/// })?;
/// let view = decode_activity_view(ActivityId(9), &bytes)?;
/// assert_eq!(view.primary, ValueRef::String("Rust 101"));
/// assert_eq!(view.to_activity().person, PersonId(42));
/// # Ok::<(), actlog_model::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct ActivityView<'a> {
    /// Its id: its offset in the activities log.
    pub id: ActivityId,
    /// Who did it.
    pub person: PersonId,
    /// Its type.
    pub type_id: TypeId,
    /// When, in ms since the epoch.
    pub occurred_at_ms: i64,
    /// The primary attribute's value.
    pub primary: ValueRef<'a>,
    /// Secondary values by attribute id, ascending.
    pub attributes: AttributesView<'a>,
    /// The idempotency key, if any.
    pub idempotency_key: Option<&'a str>,
}

impl ActivityView<'_> {
    /// The owned activity.
    pub fn to_activity(&self) -> Activity {
        Activity {
            id: self.id,
            person: self.person,
            type_id: self.type_id,
            occurred_at_ms: self.occurred_at_ms,
            primary: self.primary.to_value(),
            attributes: self
                .attributes
                .iter()
                .map(|(id, v)| (id, v.to_value()))
                .collect(),
            idempotency_key: self.idempotency_key.map(str::to_owned),
        }
    }
}

/// The secondary values of an [`ActivityView`], decoded as they are iterated (they were
/// checked when the view was made, except in the view a test is given before the check,
/// whose values end where they stop reading).
#[derive(Clone, Copy, Debug)]
pub struct AttributesView<'a> {
    bytes: &'a [u8],
    len: usize,
}

impl<'a> AttributesView<'a> {
    /// How many values there are.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The values, by attribute id ascending.
    pub fn iter(&self) -> AttributesIter<'a> {
        AttributesIter {
            reader: Reader::new(self.bytes),
            left: self.len,
        }
    }

    /// The value of attribute `id`, if the activity has one.
    pub fn get(&self, id: AttributeId) -> Option<ValueRef<'a>> {
        // Values before it are stepped over by their lengths, not decoded; the bytes
        // were checked when the view was made.
        let mut r = Reader::new(self.bytes);
        for _ in 0..self.len {
            let attr = AttributeId(r.u16().ok()?);
            if attr == id {
                return read_value(&mut r).ok();
            }
            if attr > id {
                return None;
            }
            skip_value(&mut r).ok()?;
        }
        None
    }
}

impl<'a> IntoIterator for AttributesView<'a> {
    type Item = (AttributeId, ValueRef<'a>);
    type IntoIter = AttributesIter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Iterator over [`AttributesView`].
#[derive(Clone, Debug)]
pub struct AttributesIter<'a> {
    reader: Reader<'a>,
    left: usize,
}

impl<'a> Iterator for AttributesIter<'a> {
    type Item = (AttributeId, ValueRef<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let item = read_attribute(&mut self.reader);
        // A checked view's bytes always read; the view a test is given before the check
        // (`decode_activity_view_tested`) may not, and then its values end here.
        match item {
            Ok(item) => Some(item),
            Err(_) => {
                self.left = 0;
                None
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        // At most `left`; fewer only in an unchecked view whose bytes stop reading.
        (0, Some(self.left))
    }
}

#[inline(always)]
fn read_attribute<'a>(r: &mut Reader<'a>) -> Result<(AttributeId, ValueRef<'a>), &'static str> {
    let id = AttributeId(r.u16()?);
    Ok((id, read_value(r)?))
}

/// Decodes the activity record with id `id` (its log offset, used in errors).
///
/// # Errors
///
/// [`Error::CorruptActivity`] if the bytes are not a well-formed record.
pub fn decode_activity(id: ActivityId, bytes: &[u8]) -> Result<Activity> {
    // One pass: each secondary value is copied out as it is read and checked, rather
    // than the record checked as a view and its attributes read a second time.
    let mut attributes = Vec::new();
    let view = parse(id, bytes, &mut attributes).map_err(|reason| corrupt(id, bytes, reason))?;
    Ok(Activity {
        id,
        person: view.person,
        type_id: view.type_id,
        occurred_at_ms: view.occurred_at_ms,
        primary: view.primary.to_value(),
        attributes,
        idempotency_key: view.idempotency_key.map(str::to_owned),
    })
}

/// Decodes the activity record with id `id` without copying its strings.
///
/// # Errors
///
/// [`Error::CorruptActivity`] if the bytes are not a well-formed record.
pub fn decode_activity_view(id: ActivityId, bytes: &[u8]) -> Result<ActivityView<'_>> {
    parse(id, bytes, &mut NoCopy).map_err(|reason| corrupt(id, bytes, reason))
}

/// Decodes the activity record with id `id` as [`decode_activity_view`] does, and hands
/// each secondary value to `each` (attribute ids ascending) as it is read and checked.
///
/// For a reader that wants every value once, such as the indexer: the one pass that
/// checks the record also delivers its values, so they are not read (nor their strings
/// checked as UTF-8) a second time through [`ActivityView::attributes`]. `each` may have
/// been called for some values of a record that then turns out to be corrupt.
///
/// # Errors
///
/// [`Error::CorruptActivity`] if the bytes are not a well-formed record.
pub fn decode_activity_view_with<'a>(
    id: ActivityId,
    bytes: &'a [u8],
    each: impl FnMut(AttributeId, ValueRef<'a>),
) -> Result<ActivityView<'a>> {
    parse(id, bytes, &mut EachValue(each)).map_err(|reason| corrupt(id, bytes, reason))
}

#[cold]
fn corrupt(id: ActivityId, bytes: &[u8], reason: String) -> Error {
    Error::CorruptActivity {
        id,
        len_bytes: bytes.len(),
        reason,
    }
}

/// What [`parse`] does with each secondary value once it is read and checked.
trait AttributeSink<'a> {
    /// `count` values follow.
    fn reserve(&mut self, count: usize);
    fn push(&mut self, id: AttributeId, value: ValueRef<'a>);
}

/// Leaves the values in the record (a view reads them again when asked).
struct NoCopy;

impl<'a> AttributeSink<'a> for NoCopy {
    #[inline]
    fn reserve(&mut self, _count: usize) {}
    #[inline]
    fn push(&mut self, _id: AttributeId, _value: ValueRef<'a>) {}
}

/// Hands the values to a closure.
struct EachValue<F>(F);

impl<'a, F: FnMut(AttributeId, ValueRef<'a>)> AttributeSink<'a> for EachValue<F> {
    #[inline]
    fn reserve(&mut self, _count: usize) {}
    #[inline]
    fn push(&mut self, id: AttributeId, value: ValueRef<'a>) {
        (self.0)(id, value);
    }
}

/// Copies the values out, for an owned [`Activity`].
impl<'a> AttributeSink<'a> for Vec<(AttributeId, crate::value::Value)> {
    #[inline]
    fn reserve(&mut self, count: usize) {
        Vec::reserve_exact(self, count);
    }
    #[inline]
    fn push(&mut self, id: AttributeId, value: ValueRef<'a>) {
        Vec::push(self, (id, value.to_value()));
    }
}

/// Decodes and checks the record as [`decode_activity_view`] does, unless `keep` rejects
/// its person, type and occurrence time, which are read first: then `Ok(None)`, and the
/// rest of the record is neither read nor checked. What a filtered scan uses: one pass
/// over the header for both the cheap test and the decode.
///
/// # Errors
///
/// [`Error::CorruptActivity`] if the header does not read, or if `keep` accepts it and
/// the bytes are not a well-formed record.
pub fn decode_activity_view_if(
    id: ActivityId,
    bytes: &[u8],
    keep: impl FnOnce(PersonId, TypeId, i64) -> bool,
) -> Result<Option<ActivityView<'_>>> {
    let header = parse_header(bytes).map_err(|reason| corrupt(id, bytes, reason))?;
    if !keep(header.person, header.type_id, header.occurred_at_ms) {
        return Ok(None);
    }
    parse_rest(id, header, &mut NoCopy)
        .map(Some)
        .map_err(|reason| corrupt(id, bytes, reason))
}

/// Decodes and checks the record as [`decode_activity_view_if`] does, and also tests it
/// before checking the rest: `keep_view` is given a view whose header and primary value
/// are read and whose attributes are not yet checked (reading one never fails: a value
/// that does not read is absent) and whose idempotency key is not read. Only a record
/// it accepts is checked whole, so a filtered scan pays for checking the records it
/// returns, not every record whose header could match; a record it rejects was already
/// vouched for byte by byte by its frame's checksum.
///
/// # Errors
///
/// [`Error::CorruptActivity`] if the header or the primary value does not read, or if
/// both tests accept the record and the bytes are not a well-formed record.
pub fn decode_activity_view_tested<'a>(
    id: ActivityId,
    bytes: &'a [u8],
    keep_header: impl FnOnce(PersonId, TypeId, i64) -> bool,
    keep_view: impl FnOnce(&ActivityView<'a>) -> bool,
) -> Result<Option<ActivityView<'a>>> {
    let header = parse_header(bytes).map_err(|reason| corrupt(id, bytes, reason))?;
    if !keep_header(header.person, header.type_id, header.occurred_at_ms) {
        return Ok(None);
    }
    let mut r = header.rest.clone();
    let unchecked = (|| -> Result<ActivityView<'a>, &'static str> {
        let primary = read_value(&mut r)?;
        let count = r.u64()?;
        Ok(ActivityView {
            id,
            person: header.person,
            type_id: header.type_id,
            occurred_at_ms: header.occurred_at_ms,
            primary,
            attributes: AttributesView {
                bytes: r.rest(),
                // `get` and `iter` stop where the bytes stop reading; the bound keeps a
                // wrong count from promising more values than a record can hold.
                len: usize::try_from(count).map_or(ATTRIBUTES_MAX, |n| n.min(ATTRIBUTES_MAX)),
            },
            idempotency_key: None,
        })
    })();
    match unchecked {
        Ok(view) if !keep_view(&view) => Ok(None),
        // Accepted, or not readable as far as the test needs: the whole check decides.
        _ => parse_rest(id, header, &mut NoCopy)
            .map(Some)
            .map_err(|reason| corrupt(id, bytes, reason)),
    }
}

/// The first fields of a record, and the reader positioned after them.
struct Header<'a> {
    person: PersonId,
    type_id: TypeId,
    occurred_at_ms: i64,
    rest: Reader<'a>,
    body: &'a [u8],
}

#[inline(always)]
fn parse_header(bytes: &[u8]) -> Result<Header<'_>, String> {
    if bytes.len() > RECORD_BYTES_MAX {
        return Err(format!("longer than {RECORD_BYTES_MAX} bytes"));
    }
    let Some((&version, body)) = bytes.split_first() else {
        return Err("empty record".into());
    };
    if version != ACTIVITY_FORMAT_VERSION {
        return Err(format!("unknown format version {version}"));
    }
    let mut r = Reader::new(body);
    let person = PersonId(r.u64()?);
    let type_id = TypeId(r.u32()?);
    let occurred_at_ms = r.i64()?;
    Ok(Header {
        person,
        type_id,
        occurred_at_ms,
        rest: r,
        body,
    })
}

/// Reads and checks a whole record, handing each secondary value to `sink` as it goes.
#[inline(always)]
fn parse<'a>(
    id: ActivityId,
    bytes: &'a [u8],
    sink: &mut impl AttributeSink<'a>,
) -> Result<ActivityView<'a>, String> {
    let header = parse_header(bytes)?;
    parse_rest(id, header, sink)
}

/// The rest of [`parse`], after the header.
#[inline(always)]
fn parse_rest<'a>(
    id: ActivityId,
    header: Header<'a>,
    sink: &mut impl AttributeSink<'a>,
) -> Result<ActivityView<'a>, String> {
    let Header {
        person,
        type_id,
        occurred_at_ms,
        rest: mut r,
        body,
    } = header;
    let primary = read_value(&mut r)?;
    primary
        .check_stored()
        .map_err(|reason| format!("primary value: {reason}"))?;
    let count = r.u64()?;
    if count > ATTRIBUTES_MAX as u64 {
        return Err(format!("{count} attributes"));
    }
    let attributes_at = body.len() - r.remaining();
    sink.reserve(count as usize);
    let mut previous: Option<AttributeId> = None;
    for _ in 0..count {
        let (attr, value) = read_attribute(&mut r)?;
        if previous.is_some_and(|p| p >= attr) {
            return Err("attribute ids not in ascending order".into());
        }
        previous = Some(attr);
        value
            .check_stored()
            .map_err(|reason| format!("attribute {}: {reason}", attr.0))?;
        sink.push(attr, value);
    }
    let attributes = AttributesView {
        bytes: &body[attributes_at..body.len() - r.remaining()],
        len: count as usize,
    };
    let idempotency_key = match r.u8()? {
        0 => None,
        1 => {
            let key = r.str()?;
            if key.is_empty() || key.len() > IDEMPOTENCY_KEY_BYTES_MAX {
                return Err("idempotency key of invalid length".into());
            }
            Some(key)
        }
        _ => return Err("invalid option tag".into()),
    };
    if r.remaining() != 0 {
        return Err(format!("{} trailing bytes", r.remaining()));
    }
    if !(crate::time::DATETIME_MIN_MS..=crate::time::DATETIME_MAX_MS).contains(&occurred_at_ms) {
        return Err("occurrence time out of range".into());
    }
    Ok(ActivityView {
        id,
        person,
        type_id,
        occurred_at_ms,
        primary,
        attributes,
        idempotency_key,
    })
}

/// The person, type and occurrence time of an encoded activity, read from the record's
/// first fields without decoding or checking the rest: a cheap first test for scans,
/// which still decode (and so check) every record they return. `None` when the bytes do
/// not start like a record of a known format.
pub fn peek_activity(bytes: &[u8]) -> Option<(PersonId, TypeId, i64)> {
    let (&version, body) = bytes.split_first()?;
    if version != ACTIVITY_FORMAT_VERSION {
        return None;
    }
    let mut r = Reader::new(body);
    let person = PersonId(r.u64().ok()?);
    let type_id = TypeId(r.u32().ok()?);
    let occurred_at_ms = r.i64().ok()?;
    Some((person, type_id, occurred_at_ms))
}
