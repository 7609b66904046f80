//! Resolution of a parsed filter against the catalog, and the brute-force matcher.
//!
//! Resolution turns names into ids, checks every literal against the data type of the
//! field it is compared with, and turns relative times into absolute bounds, so that
//! matching an activity is plain comparisons. [`matches`] is used by log scans and is
//! the oracle every index plan is tested against.

use crate::ast::{Filter, Literal, Op, OpKind, TypeRef};
use crate::error::{Error, Result};
use crate::time::Time;
use actlog_model::codec::ActivityView;
use actlog_model::{
    Activity, ActivityId, AttributeId, Catalog, DataType, PersonId, TypeId, TypeVersion, ValueRef,
};
use std::cmp::Ordering;

const DAY_MS: i64 = 86_400_000;

/// A filter with names resolved to ids and times made absolute; see [`resolve`].
#[derive(Clone, Debug, PartialEq)]
pub enum ResolvedFilter {
    /// All hold.
    And(Vec<ResolvedFilter>),
    /// At least one holds.
    Or(Vec<ResolvedFilter>),
    /// Does not hold.
    Not(Box<ResolvedFilter>),
    /// The type is one of these (sorted, no duplicates).
    Types(Vec<TypeId>),
    /// The person is one of these (sorted, no duplicates).
    Persons(Vec<PersonId>),
    /// `occurred_at_ms` lies in `[min_ms, max_ms]` (empty when `min_ms > max_ms`).
    Occurred {
        /// Inclusive lower bound.
        min_ms: i64,
        /// Inclusive upper bound.
        max_ms: i64,
    },
    /// The id lies in `[first, last]` (empty when `first > last`).
    IdRange {
        /// Inclusive lower bound.
        first: ActivityId,
        /// Inclusive upper bound.
        last: ActivityId,
    },
    /// The id is one of these (sorted, no duplicates).
    Ids(Vec<ActivityId>),
    /// A predicate on the primary or a named attribute, resolved per activity type: an
    /// activity of a type not listed, or without the attribute, does not match.
    Value(Vec<AttrMatch>),
}

/// How one activity type's attribute is tested by a [`ResolvedFilter::Value`].
#[derive(Clone, Debug, PartialEq)]
pub struct AttrMatch {
    /// The activity type.
    pub type_id: TypeId,
    /// Where the value is in an activity of that type.
    pub slot: Slot,
    /// The test.
    pub pred: ValuePred,
}

/// Where an attribute's value is held in an [`Activity`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// `Activity::primary`.
    Primary,
    /// In `Activity::attributes` under this id.
    Attribute(AttributeId),
}

/// A comparison of a value with literals already converted to the attribute's type.
#[derive(Clone, Debug, PartialEq)]
pub enum ValuePred {
    /// `=`, `!=`, `<`, `<=`, `>`, `>=` (never `in`, `between` and the rest).
    Cmp(OpKind, Scalar),
    /// Equal to one of these.
    In(Vec<Scalar>),
    /// `>= low and <= high`.
    Between(Scalar, Scalar),
    /// Has this substring (string-like types only).
    Contains(String),
    /// Has this prefix (string-like types only).
    StartsWith(String),
}

/// A literal converted to the representation of a data type.
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    /// For string, text, email, link and phone.
    Str(String),
    /// For integers.
    Int(i64),
    /// For floats and currency, and integers compared with a float.
    Float(f64),
    /// For booleans.
    Bool(bool),
    /// For dates: days since 1970-01-01.
    Date(i32),
    /// For datetimes: ms since the epoch.
    Datetime(i64),
}

/// Resolves `filter` against `catalog`, with `in last` measured back from `now_ms`.
///
/// `attr.NAME` and `primary` are looked up in the types the filter restricts itself to
/// with a top-level `type = ...` or `type in (...)`, else in every type; each type whose
/// attribute's data type accepts the literal gets its own test.
///
/// # Errors
///
/// [`Error::UnknownType`], [`Error::UnknownAttribute`], [`Error::TypeMismatch`],
/// [`Error::UnsupportedOperator`], [`Error::Invalid`] for a tree that fails
/// [`Filter::validate`].
pub fn resolve(filter: &Filter, catalog: &Catalog, now_ms: i64) -> Result<ResolvedFilter> {
    filter.validate()?;
    let scope = match type_scope(filter) {
        Some(refs) => Some(type_ids(catalog, &refs)?),
        None => None,
    };
    Resolver {
        catalog,
        now_ms,
        scope,
    }
    .filter(filter)
}

/// Resolves the `where` filter of a smart list's `did TYPE`: attributes are looked up in
/// that type only.
pub(crate) fn resolve_in_type(
    filter: &Filter,
    catalog: &Catalog,
    type_id: TypeId,
    now_ms: i64,
) -> Result<ResolvedFilter> {
    filter.validate()?;
    Resolver {
        catalog,
        now_ms,
        scope: Some(vec![type_id]),
    }
    .filter(filter)
}

/// The type references of the top-level `type =`/`type in` conjuncts, if any.
fn type_scope(filter: &Filter) -> Option<Vec<TypeRef>> {
    match filter {
        Filter::Type(Op::Eq(t)) => Some(vec![t.clone()]),
        Filter::Type(Op::In(ts)) => Some(ts.clone()),
        // With several, an activity must satisfy all of them; any one bounds the scope.
        Filter::And(cs) => cs.iter().find_map(type_scope),
        _ => None,
    }
}

/// The id of a type reference.
pub(crate) fn type_id(catalog: &Catalog, r: &TypeRef) -> Result<TypeId> {
    let found = match r {
        TypeRef::Id(id) => catalog.get(TypeId(*id)),
        TypeRef::Name(name) => catalog.by_api_name(name),
    };
    found.map(|t| t.id()).ok_or_else(|| Error::UnknownType {
        name: r.to_string(),
    })
}

fn type_ids(catalog: &Catalog, refs: &[TypeRef]) -> Result<Vec<TypeId>> {
    let mut ids = refs
        .iter()
        .map(|r| type_id(catalog, r))
        .collect::<Result<Vec<_>>>()?;
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort_unstable();
    v.dedup();
    v
}

struct Resolver<'a> {
    catalog: &'a Catalog,
    now_ms: i64,
    scope: Option<Vec<TypeId>>,
}

impl Resolver<'_> {
    fn filter(&self, filter: &Filter) -> Result<ResolvedFilter> {
        Ok(match filter {
            Filter::And(cs) => ResolvedFilter::And(self.all(cs)?),
            Filter::Or(cs) => ResolvedFilter::Or(self.all(cs)?),
            Filter::Not(c) => ResolvedFilter::Not(Box::new(self.filter(c)?)),
            Filter::Type(op) => {
                let set =
                    |refs: &[TypeRef]| Ok(ResolvedFilter::Types(type_ids(self.catalog, refs)?));
                set_op(op, set)?
            }
            Filter::Person(op) => set_op(op, |ids: &[u64]| {
                Ok(ResolvedFilter::Persons(sorted(
                    ids.iter().map(|p| PersonId(*p)).collect(),
                )))
            })?,
            Filter::Occurred(op) => self.occurred(op),
            Filter::Id(op) => id_op(op),
            Filter::Primary(op) => self.value("primary".into(), None, op)?,
            Filter::Attr(p) => self.value(format!("attr.{}", p.name), Some(&p.name), &p.op)?,
        })
    }

    fn all(&self, filters: &[Filter]) -> Result<Vec<ResolvedFilter>> {
        filters.iter().map(|f| self.filter(f)).collect()
    }

    fn in_last_ms(&self, d: crate::time::Duration) -> (i64, i64) {
        let back_ms = i64::try_from(d.ms()).unwrap_or(i64::MAX);
        (self.now_ms.saturating_sub(back_ms), self.now_ms)
    }

    fn occurred(&self, op: &Op<Time>) -> ResolvedFilter {
        let range = |min_ms, max_ms| ResolvedFilter::Occurred { min_ms, max_ms };
        let not = |f| ResolvedFilter::Not(Box::new(f));
        match op {
            Op::Eq(t) => range(t.epoch_ms(), t.epoch_ms()),
            Op::Ne(t) => not(range(t.epoch_ms(), t.epoch_ms())),
            Op::Lt(t) => range(i64::MIN, t.epoch_ms().saturating_sub(1)),
            Op::Le(t) => range(i64::MIN, t.epoch_ms()),
            Op::Gt(t) => range(t.epoch_ms().saturating_add(1), i64::MAX),
            Op::Ge(t) => range(t.epoch_ms(), i64::MAX),
            Op::Between(a, b) => range(a.epoch_ms(), b.epoch_ms()),
            Op::InLast(d) => {
                let (min_ms, max_ms) = self.in_last_ms(*d);
                range(min_ms, max_ms)
            }
            // `validate` has rejected the rest for `occurred`; an empty range keeps
            // this total without a panic.
            Op::In(_) | Op::Contains(_) | Op::StartsWith(_) => range(1, 0),
        }
    }

    /// The types a `primary`/`attr.NAME` predicate is looked up in.
    fn scope_versions(&self) -> Vec<(TypeId, &TypeVersion)> {
        fn version(t: &actlog_model::ActivityType) -> &TypeVersion {
            t.approved().unwrap_or(t.latest())
        }
        match &self.scope {
            Some(ids) => ids
                .iter()
                .filter_map(|id| self.catalog.get(*id))
                .map(|t| (t.id(), version(t)))
                .collect(),
            None => self.catalog.list().map(|t| (t.id(), version(t))).collect(),
        }
    }

    fn scope_text(&self) -> String {
        match &self.scope {
            None => "any type".into(),
            Some(ids) => ids
                .iter()
                .filter_map(|id| self.catalog.get(*id))
                .map(|t| format!("`{}`", t.api_name()))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    fn value(&self, field: String, name: Option<&str>, op: &Op<Literal>) -> Result<ResolvedFilter> {
        let mut candidates = Vec::new();
        for (type_id, version) in self.scope_versions() {
            let attribute = match name {
                None => Some(&version.primary),
                Some(name) => version.attribute_by_api_name(name),
            };
            if let Some(a) = attribute {
                let slot = if a.is_primary {
                    Slot::Primary
                } else {
                    Slot::Attribute(a.id)
                };
                candidates.push((type_id, slot, a.data_type));
            }
        }
        let Some(&(_, _, first_type)) = candidates.first() else {
            return Err(Error::UnknownAttribute {
                name: name.unwrap_or("primary").to_string(),
                scope: self.scope_text(),
            });
        };
        let mut matches = Vec::new();
        let mut first_error = None;
        for (type_id, slot, data_type) in candidates {
            match self.value_pred(&field, data_type, op) {
                Ok(pred) => matches.push(AttrMatch {
                    type_id,
                    slot,
                    pred,
                }),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if matches.is_empty() {
            return Err(first_error.unwrap_or(Error::TypeMismatch {
                field,
                data_type: first_type,
                literal: op.to_string(),
            }));
        }
        matches.sort_by_key(|m| m.type_id);
        Ok(ResolvedFilter::Value(matches))
    }

    fn value_pred(&self, field: &str, data_type: DataType, op: &Op<Literal>) -> Result<ValuePred> {
        let scalar = |l: &Literal| {
            scalar(data_type, l).ok_or_else(|| Error::TypeMismatch {
                field: field.to_string(),
                data_type,
                literal: format!("{} {l}", l.kind_name()),
            })
        };
        let unsupported = || Error::UnsupportedOperator {
            field: field.to_string(),
            data_type,
            op: op.kind(),
        };
        Ok(match op {
            Op::Eq(l) | Op::Ne(l) | Op::Lt(l) | Op::Le(l) | Op::Gt(l) | Op::Ge(l) => {
                ValuePred::Cmp(op.kind(), scalar(l)?)
            }
            Op::In(ls) => ValuePred::In(ls.iter().map(scalar).collect::<Result<_>>()?),
            Op::Between(a, b) => ValuePred::Between(scalar(a)?, scalar(b)?),
            Op::Contains(s) | Op::StartsWith(s) => {
                if !is_stringy(data_type) {
                    return Err(unsupported());
                }
                match op {
                    Op::Contains(_) => ValuePred::Contains(s.clone()),
                    _ => ValuePred::StartsWith(s.clone()),
                }
            }
            Op::InLast(d) => {
                let (min_ms, max_ms) = self.in_last_ms(*d);
                match data_type {
                    DataType::Datetime => {
                        ValuePred::Between(Scalar::Datetime(min_ms), Scalar::Datetime(max_ms))
                    }
                    // A date is in the last N days when its day lies between the day
                    // N days ago and today, both included.
                    DataType::Date => ValuePred::Between(
                        Scalar::Date(day_of(min_ms)),
                        Scalar::Date(day_of(max_ms)),
                    ),
                    _ => return Err(unsupported()),
                }
            }
        })
    }
}

fn day_of(ms: i64) -> i32 {
    let days = ms.div_euclid(DAY_MS);
    i32::try_from(days).unwrap_or(if days < 0 { i32::MIN } else { i32::MAX })
}

fn is_stringy(t: DataType) -> bool {
    matches!(
        t,
        DataType::String | DataType::Text | DataType::Email | DataType::Link | DataType::Phone
    )
}

/// The literal as a comparand for `data_type`, if it fits. Integers and floats compare
/// with each other; a date compares with a datetime as its midnight; a string that
/// reads as a date or datetime compares with one (the JSON form writes them so).
fn scalar(data_type: DataType, l: &Literal) -> Option<Scalar> {
    Some(match (data_type, l) {
        (t, Literal::String(s)) if is_stringy(t) => Scalar::Str(s.clone()),
        (DataType::Integer, Literal::Int(v)) => Scalar::Int(*v),
        (DataType::Integer, Literal::Float(v)) => Scalar::Float(*v),
        (DataType::Float | DataType::Currency, Literal::Int(v)) => Scalar::Float(*v as f64),
        (DataType::Float | DataType::Currency, Literal::Float(v)) => Scalar::Float(*v),
        (DataType::Boolean, Literal::Bool(v)) => Scalar::Bool(*v),
        (DataType::Date, Literal::Date(d)) => Scalar::Date(d.days_since_epoch()),
        (DataType::Date, Literal::String(s)) => {
            Scalar::Date(s.parse::<crate::time::Date>().ok()?.days_since_epoch())
        }
        (DataType::Datetime, Literal::DateTime(t)) => Scalar::Datetime(t.epoch_ms()),
        (DataType::Datetime, Literal::Date(d)) => Scalar::Datetime(d.midnight_ms()),
        (DataType::Datetime, Literal::String(s)) => {
            Scalar::Datetime(s.parse::<Time>().ok()?.epoch_ms())
        }
        _ => return None,
    })
}

fn set_op<T>(op: &Op<T>, set: impl Fn(&[T]) -> Result<ResolvedFilter>) -> Result<ResolvedFilter> {
    Ok(match op {
        Op::Eq(v) => set(std::slice::from_ref(v))?,
        Op::Ne(v) => ResolvedFilter::Not(Box::new(set(std::slice::from_ref(v))?)),
        Op::In(vs) => set(vs)?,
        // `validate` has rejected the rest for `type` and `person`.
        _ => ResolvedFilter::Or(Vec::new()),
    })
}

fn id_op(op: &Op<u64>) -> ResolvedFilter {
    let range = |first: u64, last: u64| ResolvedFilter::IdRange {
        first: ActivityId(first),
        last: ActivityId(last),
    };
    match op {
        Op::Eq(v) => range(*v, *v),
        Op::Ne(v) => ResolvedFilter::Not(Box::new(range(*v, *v))),
        // `id < 0` is empty: the range [1, 0].
        Op::Lt(v) => v.checked_sub(1).map_or(range(1, 0), |last| range(0, last)),
        Op::Le(v) => range(0, *v),
        Op::Gt(v) => v
            .checked_add(1)
            .map_or(range(1, 0), |first| range(first, u64::MAX)),
        Op::Ge(v) => range(*v, u64::MAX),
        Op::Between(a, b) => range(*a, *b),
        Op::In(vs) => ResolvedFilter::Ids(sorted(vs.iter().map(|v| ActivityId(*v)).collect())),
        // `validate` has rejected the rest for `id`.
        Op::InLast(_) | Op::Contains(_) | Op::StartsWith(_) => range(1, 0),
    }
}

/// Whether `activity` satisfies `filter`: the brute-force definition of every query.
pub fn matches(filter: &ResolvedFilter, activity: &Activity) -> bool {
    matches_record(filter, activity)
}

/// [`matches()`] on a record decoded in place, so a scan tests a record before copying
/// it out: the same answer as on the owned activity, which the tests check.
pub fn matches_view(filter: &ResolvedFilter, view: &ActivityView<'_>) -> bool {
    matches_record(filter, view)
}

/// What matching reads of an activity, owned or viewed in its record.
trait Fields {
    fn id(&self) -> ActivityId;
    fn person(&self) -> PersonId;
    fn type_id(&self) -> TypeId;
    fn occurred_at_ms(&self) -> i64;
    fn value(&self, slot: Slot) -> Option<ValueRef<'_>>;
}

impl Fields for Activity {
    fn id(&self) -> ActivityId {
        self.id
    }
    fn person(&self) -> PersonId {
        self.person
    }
    fn type_id(&self) -> TypeId {
        self.type_id
    }
    fn occurred_at_ms(&self) -> i64 {
        self.occurred_at_ms
    }
    fn value(&self, slot: Slot) -> Option<ValueRef<'_>> {
        match slot {
            Slot::Primary => Some(self.primary.as_ref()),
            Slot::Attribute(id) => self
                .attributes
                .iter()
                .find(|(a, _)| *a == id)
                .map(|(_, v)| v.as_ref()),
        }
    }
}

impl Fields for ActivityView<'_> {
    fn id(&self) -> ActivityId {
        self.id
    }
    fn person(&self) -> PersonId {
        self.person
    }
    fn type_id(&self) -> TypeId {
        self.type_id
    }
    fn occurred_at_ms(&self) -> i64 {
        self.occurred_at_ms
    }
    fn value(&self, slot: Slot) -> Option<ValueRef<'_>> {
        match slot {
            Slot::Primary => Some(self.primary),
            Slot::Attribute(id) => self.attributes.get(id),
        }
    }
}

fn matches_record(filter: &ResolvedFilter, activity: &impl Fields) -> bool {
    match filter {
        ResolvedFilter::And(cs) => cs.iter().all(|c| matches_record(c, activity)),
        ResolvedFilter::Or(cs) => cs.iter().any(|c| matches_record(c, activity)),
        ResolvedFilter::Not(c) => !matches_record(c, activity),
        ResolvedFilter::Types(ids) => ids.binary_search(&activity.type_id()).is_ok(),
        ResolvedFilter::Persons(ids) => ids.binary_search(&activity.person()).is_ok(),
        ResolvedFilter::Occurred { min_ms, max_ms } => {
            (*min_ms..=*max_ms).contains(&activity.occurred_at_ms())
        }
        ResolvedFilter::IdRange { first, last } => (*first..=*last).contains(&activity.id()),
        ResolvedFilter::Ids(ids) => ids.binary_search(&activity.id()).is_ok(),
        ResolvedFilter::Value(attrs) => {
            let Ok(i) = attrs.binary_search_by_key(&activity.type_id(), |m| m.type_id) else {
                return false;
            };
            let m = &attrs[i];
            activity
                .value(m.slot)
                .is_some_and(|v| value_matches(&m.pred, v))
        }
    }
}

fn value_matches(pred: &ValuePred, v: ValueRef<'_>) -> bool {
    match pred {
        ValuePred::Cmp(op, s) => compare(v, s).is_some_and(|o| match op {
            OpKind::Eq => o == Ordering::Equal,
            OpKind::Ne => o != Ordering::Equal,
            OpKind::Lt => o == Ordering::Less,
            OpKind::Le => o != Ordering::Greater,
            OpKind::Gt => o == Ordering::Greater,
            OpKind::Ge => o != Ordering::Less,
            _ => false,
        }),
        ValuePred::In(ss) => ss.iter().any(|s| compare(v, s) == Some(Ordering::Equal)),
        ValuePred::Between(a, b) => {
            compare(v, a).is_some_and(|o| o != Ordering::Less)
                && compare(v, b).is_some_and(|o| o != Ordering::Greater)
        }
        ValuePred::Contains(s) => string_of(v).is_some_and(|x| x.contains(s.as_str())),
        ValuePred::StartsWith(s) => string_of(v).is_some_and(|x| x.starts_with(s.as_str())),
    }
}

fn string_of(v: ValueRef<'_>) -> Option<&str> {
    match v {
        ValueRef::String(s)
        | ValueRef::Text(s)
        | ValueRef::Email(s)
        | ValueRef::Link(s)
        | ValueRef::Phone(s) => Some(s),
        _ => None,
    }
}

/// How a stored value orders against a comparand; `None` when they cannot be compared
/// (which makes every comparison false, `!=` included, as SQL does with NULL).
fn compare(v: ValueRef<'_>, s: &Scalar) -> Option<Ordering> {
    match (v, s) {
        (_, Scalar::Str(b)) => string_of(v).map(|a| a.as_bytes().cmp(b.as_bytes())),
        (ValueRef::Integer(a), Scalar::Int(b)) => Some(i64::from(a).cmp(b)),
        (ValueRef::Integer(a), Scalar::Float(b)) => f64::from(a).partial_cmp(b),
        (ValueRef::Float(a) | ValueRef::Currency(a), Scalar::Float(b)) => a.partial_cmp(b),
        (ValueRef::Boolean(a), Scalar::Bool(b)) => Some(a.cmp(b)),
        (ValueRef::Date(a), Scalar::Date(b)) => Some(a.cmp(b)),
        (ValueRef::Datetime(a), Scalar::Datetime(b)) => Some(a.cmp(b)),
        _ => None,
    }
}
