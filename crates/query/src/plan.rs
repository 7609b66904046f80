//! The planner: the cheapest of the paths a filter allows, and the executor of index
//! paths.
//!
//! Index paths read postings through [`PostingIndex`], a small trait the engine
//! implements over `actlog-index`, so planning is tested on an in-memory index. Every
//! path applies the whole filter to every activity it fetches, so a path only has to
//! return a superset of the matches, in (occurred_at, id) order.

use crate::error::{Error, Result};
use crate::exec::{
    check_cursor, header_verdict, id_window, occurred_bounds, scan, ActivitySource, Cursor,
    Direction, QueryOptions, Scan, SourceError,
};
use crate::records::{Records, Taken};
use crate::resolve::{matches_view, ResolvedFilter, Scalar, Slot, ValuePred};
use actlog_model::codec::ActivityView;
use actlog_model::{Activity, ActivityId, AttributeId, DataType, PersonId, TypeId, Value};
use roaring::RoaringTreemap;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;
use std::ops::{Bound, Range};

/// Postings: (occurred_at_ms, id) pairs.
pub type Postings<'a> =
    Box<dyn Iterator<Item = Result<(i64, ActivityId), SourceError>> + Send + 'a>;

/// Postings of several persons: (person, occurred_at_ms, id), persons ascending, each
/// person's in id order.
pub type PersonsPostings<'a> =
    Box<dyn Iterator<Item = Result<(PersonId, i64, ActivityId), SourceError>> + Send + 'a>;

/// Most postings a primary-value or attribute plan holds in memory to sort them by
/// time (16 bytes each, so 64 MiB); a value path whose estimate is larger is not
/// offered, so a broad range such as `primary > ""` falls back to another path.
pub const VALUE_POSTINGS_HELD_MAX: u64 = 4 << 20;

/// Most activities an index plan fetches with one [`ActivitySource::get_batch`] call,
/// and so holds at once. A first batch is small ([`FETCH_BATCH_FIRST`]) so that a query
/// with a small limit or few matches reads little; each later one doubles up to this.
pub const FETCH_BATCH_MAX: usize = 512;

/// The size of an index plan's first fetch batch; see [`FETCH_BATCH_MAX`].
pub const FETCH_BATCH_FIRST: usize = 16;

/// A range of value keys ([`Value::index_key`] bytes), which order as the values do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySpan {
    /// Lower bound.
    pub start: Bound<Vec<u8>>,
    /// Upper bound.
    pub end: Bound<Vec<u8>>,
}

impl KeySpan {
    /// Whether no key can lie in the span.
    pub fn is_empty(&self) -> bool {
        match (&self.start, &self.end) {
            (Bound::Included(a), Bound::Included(b)) => a > b,
            (Bound::Included(a) | Bound::Excluded(a), Bound::Excluded(b))
            | (Bound::Excluded(a), Bound::Included(b)) => a >= b,
            _ => false,
        }
    }

    /// The exact key, when the span holds one key only.
    pub fn as_exact(&self) -> Option<&[u8]> {
        match (&self.start, &self.end) {
            (Bound::Included(a), Bound::Included(b)) if a == b => Some(a),
            _ => None,
        }
    }
}

impl fmt::Display for KeySpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = |k: &[u8]| k.iter().map(|b| format!("{b:02x}")).collect::<String>();
        match &self.start {
            Bound::Included(k) => write!(f, "[{}", hex(k))?,
            Bound::Excluded(k) => write!(f, "({}", hex(k))?,
            Bound::Unbounded => write!(f, "(-")?,
        }
        match &self.end {
            Bound::Included(k) => write!(f, ", {}]", hex(k)),
            Bound::Excluded(k) => write!(f, ", {})", hex(k)),
            Bound::Unbounded => write!(f, ", +)"),
        }
    }
}

/// The keys of the stored values of `data_type` nearest to a comparand: the interval of
/// those that may equal it, and whether the comparand is itself a storable value whose
/// key is that one key (so a strict comparison can exclude it).
struct ScalarKeys {
    lo: Vec<u8>,
    hi: Vec<u8>,
    exact: bool,
}

/// The key interval of the stored values of `data_type` that equal `s`: one key for
/// most types; for an integer compared with a non-integral float, the integers either
/// side; for a comparand beyond a stored integer's range, the nearest stored integer
/// (inexact, so that a strict comparison keeps it).
fn scalar_keys(s: &Scalar, data_type: DataType) -> Option<ScalarKeys> {
    let one = |v: Value| {
        let k = v.index_key();
        Some(ScalarKeys {
            lo: k.clone(),
            hi: k,
            exact: true,
        })
    };
    let integer = |lo: i32, hi: i32, exact: bool| {
        Some(ScalarKeys {
            lo: Value::Integer(lo).index_key(),
            hi: Value::Integer(hi).index_key(),
            exact,
        })
    };
    let clamp = |i: i64| i32::try_from(i).unwrap_or(if i < 0 { i32::MIN } else { i32::MAX });
    match (s, data_type) {
        (
            Scalar::Str(x),
            DataType::String | DataType::Text | DataType::Email | DataType::Link | DataType::Phone,
        ) => Some(ScalarKeys {
            lo: x.as_bytes().to_vec(),
            hi: x.as_bytes().to_vec(),
            exact: true,
        }),
        (Scalar::Int(i), DataType::Integer) => {
            integer(clamp(*i), clamp(*i), i32::try_from(*i).is_ok())
        }
        // `as` saturates, which keeps the interval a superset of the matches.
        (Scalar::Float(x), DataType::Integer) if !x.is_nan() => {
            let (lo, hi) = (x.floor() as i32, x.ceil() as i32);
            integer(lo, hi, f64::from(lo) == *x && lo == hi)
        }
        (Scalar::Float(x), DataType::Float | DataType::Currency) if !x.is_nan() => {
            one(Value::Float(*x))
        }
        (Scalar::Bool(b), DataType::Boolean) => one(Value::Boolean(*b)),
        (Scalar::Date(d), DataType::Date) => one(Value::Date(*d)),
        (Scalar::Datetime(ms), DataType::Datetime) => one(Value::Datetime(*ms)),
        _ => None,
    }
}

/// The smallest key greater than every key that starts with `prefix`, if any.
fn prefix_end(prefix: &[u8]) -> Bound<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Bound::Excluded(end);
        }
    }
    Bound::Unbounded
}

/// The key spans holding every stored value of `data_type` that satisfies `pred`, or
/// `None` when the predicate cannot be answered from value keys (`!=`, `contains`).
/// The spans may hold more (the caller applies the whole filter to what it fetches),
/// never less.
pub fn key_spans(pred: &ValuePred, data_type: DataType) -> Option<Vec<KeySpan>> {
    use crate::ast::OpKind;
    let spans = match pred {
        ValuePred::Cmp(op, s) => {
            let ScalarKeys { lo, hi, exact } = scalar_keys(s, data_type)?;
            // A strict comparison excludes the comparand's key only when the comparand
            // is a storable value: an integer compared with 2.5 keeps 2 and 3.
            vec![match op {
                OpKind::Eq => KeySpan {
                    start: Bound::Included(lo),
                    end: Bound::Included(hi),
                },
                OpKind::Lt if exact => KeySpan {
                    start: Bound::Unbounded,
                    end: Bound::Excluded(hi),
                },
                OpKind::Lt | OpKind::Le => KeySpan {
                    start: Bound::Unbounded,
                    end: Bound::Included(hi),
                },
                OpKind::Gt if exact => KeySpan {
                    start: Bound::Excluded(lo),
                    end: Bound::Unbounded,
                },
                OpKind::Gt | OpKind::Ge => KeySpan {
                    start: Bound::Included(lo),
                    end: Bound::Unbounded,
                },
                _ => return None,
            }]
        }
        ValuePred::In(ss) => {
            let mut pairs = ss
                .iter()
                .map(|s| scalar_keys(s, data_type).map(|k| (k.lo, k.hi)))
                .collect::<Option<Vec<_>>>()?;
            pairs.sort_unstable();
            pairs.dedup();
            pairs
                .into_iter()
                .map(|(lo, hi)| KeySpan {
                    start: Bound::Included(lo),
                    end: Bound::Included(hi),
                })
                .collect()
        }
        ValuePred::Between(a, b) => {
            let lo = scalar_keys(a, data_type)?.lo;
            let hi = scalar_keys(b, data_type)?.hi;
            vec![KeySpan {
                start: Bound::Included(lo),
                end: Bound::Included(hi),
            }]
        }
        ValuePred::StartsWith(p) => match data_type {
            DataType::String
            | DataType::Text
            | DataType::Email
            | DataType::Link
            | DataType::Phone => vec![KeySpan {
                start: Bound::Included(p.as_bytes().to_vec()),
                end: prefix_end(p.as_bytes()),
            }],
            _ => return None,
        },
        ValuePred::Contains(_) => return None,
    };
    Some(spans.into_iter().filter(|s| !s.is_empty()).collect())
}

/// Whether the spans [`key_spans`] gives for `pred` hold exactly the stored values of
/// `data_type` that satisfy it, no more: then the value postings in those spans decide
/// the predicate, and no activity has to be read to test it.
pub fn key_spans_exact(pred: &ValuePred, data_type: DataType) -> bool {
    use crate::ast::OpKind;
    let exact = |s: &Scalar| scalar_keys(s, data_type).is_some_and(|k| k.exact);
    match pred {
        ValuePred::Cmp(OpKind::Eq | OpKind::Lt | OpKind::Le | OpKind::Gt | OpKind::Ge, s) => {
            exact(s)
        }
        ValuePred::In(ss) => ss.iter().all(exact),
        ValuePred::Between(a, b) => exact(a) && exact(b),
        // A prefix span holds exactly the strings that start with it.
        ValuePred::StartsWith(_) => key_spans(pred, data_type).is_some(),
        ValuePred::Cmp(..) | ValuePred::Contains(_) => false,
    }
}

/// The indexed values a primary-value or attribute plan reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueSlot {
    /// The type's primary value (always indexed).
    Primary,
    /// An attribute marked `indexed`.
    Attribute(AttributeId),
}

impl From<Slot> for ValueSlot {
    fn from(s: Slot) -> ValueSlot {
        match s {
            Slot::Primary => ValueSlot::Primary,
            Slot::Attribute(a) => ValueSlot::Attribute(a),
        }
    }
}

/// The index reads the planner uses; the engine implements it over `actlog-index`.
pub trait PostingIndex: Send + Sync {
    /// A type's activities with `occurred_at_ms` in `[min_ms, max_ms]`, in
    /// (occurred_at, id) order in `direction`.
    fn by_type(
        &self,
        type_id: TypeId,
        min_ms: i64,
        max_ms: i64,
        direction: Direction,
    ) -> Postings<'_>;
    /// About how many activities [`PostingIndex::by_type`] returns.
    fn estimate_type(&self, type_id: TypeId, min_ms: i64, max_ms: i64) -> u64;
    /// Whether [`PostingIndex::estimate_type`] is above `n`; an index may stop counting
    /// once it is.
    fn type_exceeds(&self, type_id: TypeId, min_ms: i64, max_ms: i64, n: u64) -> bool {
        self.estimate_type(type_id, min_ms, max_ms) > n
    }
    /// A person's activities of `types` (every type when `None`) with ids in `ids`, in id
    /// order. The window comes from [`crate::id_window`]: an index may skip what lies
    /// outside, and the planner filters the time on each posting anyway.
    fn by_person(
        &self,
        person: PersonId,
        types: Option<&[TypeId]>,
        ids: Range<ActivityId>,
    ) -> Postings<'_>;
    /// The activities of `types` (every type when `None`) with ids in `ids` of each of
    /// `persons` (in any order), persons ascending, each person's in id order. An index
    /// reads many persons together in one pass; the default looks each one up.
    fn by_persons<'a>(
        &'a self,
        persons: &[PersonId],
        types: Option<&'a [TypeId]>,
        ids: Range<ActivityId>,
    ) -> PersonsPostings<'a> {
        let mut persons = persons.to_vec();
        persons.sort_unstable();
        persons.dedup();
        Box::new(persons.into_iter().flat_map(move |p| {
            self.by_person(p, types, ids.clone())
                .map(move |r| r.map(|(occurred_at_ms, id)| (p, occurred_at_ms, id)))
        }))
    }
    /// Which of `persons` have at least `at_least` activities of `type_id` with
    /// `occurred_at_ms` in `[min_ms, max_ms]` and ids in `ids`, ascending. An index may
    /// stop reading a person's postings once the count is reached; the default counts
    /// what [`PostingIndex::by_persons`] gives.
    ///
    /// # Errors
    ///
    /// A [`SourceError`] when reading fails.
    fn persons_reaching(
        &self,
        persons: &[PersonId],
        type_id: TypeId,
        (min_ms, max_ms): (i64, i64),
        ids: Range<ActivityId>,
        at_least: u32,
    ) -> Result<Vec<PersonId>, SourceError> {
        let mut counts: std::collections::BTreeMap<PersonId, u32> =
            persons.iter().map(|&p| (p, 0)).collect();
        let types = [type_id];
        for posting in self.by_persons(persons, Some(&types), ids.clone()) {
            let (person, occurred_at_ms, id) = posting?;
            if (min_ms..=max_ms).contains(&occurred_at_ms) && ids.contains(&id) {
                if let Some(n) = counts.get_mut(&person) {
                    *n += 1;
                }
            }
        }
        Ok(counts
            .into_iter()
            .filter(|&(_, n)| n >= at_least)
            .map(|(p, _)| p)
            .collect())
    }
    /// About how many activities a person has with ids in `ids`.
    fn estimate_person(&self, person: PersonId, ids: Range<ActivityId>) -> u64;
    /// The data type of `slot`'s values in `type_id` when the index holds them (a
    /// primary always, an attribute when marked `indexed`), else `None`.
    fn value_type(&self, type_id: TypeId, slot: ValueSlot) -> Option<DataType>;
    /// A type's activities whose `slot` value key lies in `keys` and whose id is in `ids`
    /// (from [`crate::id_window`]), in (value key, id) order.
    fn by_value(
        &self,
        type_id: TypeId,
        slot: ValueSlot,
        keys: &KeySpan,
        ids: Range<ActivityId>,
    ) -> Postings<'_>;
    /// About how many activities [`PostingIndex::by_value`] reads for `ids`.
    fn estimate_value(
        &self,
        type_id: TypeId,
        slot: ValueSlot,
        keys: &KeySpan,
        ids: Range<ActivityId>,
    ) -> u64;
    /// Calls `f` with the id and person of each of a type's activities with
    /// `occurred_at_ms` in `[min_ms, max_ms]`, in any order, read from the by-type
    /// postings alone (no activity is fetched). A call per posting rather than an
    /// iterator, so that an index hands over a block's postings in one loop.
    ///
    /// # Errors
    ///
    /// A [`SourceError`] when reading fails; `f` may have been called for some postings.
    fn type_persons(
        &self,
        type_id: TypeId,
        min_ms: i64,
        max_ms: i64,
        f: &mut dyn FnMut(ActivityId, PersonId),
    ) -> Result<(), SourceError>;
    /// Every person with a visible activity: the set a smart list's `not` takes its
    /// complement in.
    ///
    /// # Errors
    ///
    /// A [`SourceError`] when reading fails.
    fn everyone(&self) -> Result<RoaringTreemap, SourceError>;
}

/// How a query is run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Read the log, skipping segments outside `[min_ms, max_ms]`.
    Scan {
        /// Lower time bound used to skip segments.
        min_ms: i64,
        /// Upper time bound used to skip segments.
        max_ms: i64,
    },
    /// Merge the by-type postings of these types within `[min_ms, max_ms]`.
    TypeTime {
        /// The types, from a top-level `type =`/`type in`.
        types: Vec<TypeId>,
        /// Lower time bound.
        min_ms: i64,
        /// Upper time bound.
        max_ms: i64,
    },
    /// Read these persons' postings (sorted in memory by time; a person's postings
    /// within the time bounds are held at once).
    Person {
        /// The persons, from a top-level `person =`/`person in`.
        persons: Vec<PersonId>,
        /// Lower time bound.
        min_ms: i64,
        /// Upper time bound.
        max_ms: i64,
    },
    /// Read the by-primary and by-attribute postings within these key spans (sorted
    /// in memory by time: the postings within the spans and time bounds are held at
    /// once, at most [`VALUE_POSTINGS_HELD_MAX`] by estimate).
    Value {
        /// One lookup per type a top-level `primary` or `attr.NAME` predicate resolved
        /// in; the plan exists only when the index holds every one of them.
        lookups: Vec<ValueLookup>,
        /// Lower time bound.
        min_ms: i64,
        /// Upper time bound.
        max_ms: i64,
    },
}

/// The indexed values of one type a [`Plan::Value`] reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueLookup {
    /// The activity type.
    pub type_id: TypeId,
    /// Its primary value or one of its indexed attributes.
    pub slot: ValueSlot,
    /// Value key spans, from `=`, `in`, `between`, `<`, `<=`, `>`, `>=`,
    /// `starts_with`; empty when the predicate can match nothing.
    pub keys: Vec<KeySpan>,
}

impl fmt::Display for ValueLookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.slot {
            ValueSlot::Primary => write!(f, "primary of type {}", self.type_id.get())?,
            ValueSlot::Attribute(a) => {
                write!(f, "attribute {} of type {}", a.get(), self.type_id.get())?
            }
        }
        write!(f, " in")?;
        for k in &self.keys {
            write!(f, " {k}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Plan::Scan { min_ms, max_ms } => {
                write!(f, "log scan, occurred in [{min_ms}, {max_ms}]")
            }
            Plan::TypeTime {
                types,
                min_ms,
                max_ms,
            } => {
                write!(
                    f,
                    "by-type index of {types:?}, occurred in [{min_ms}, {max_ms}]"
                )
            }
            Plan::Person {
                persons,
                min_ms,
                max_ms,
            } => {
                write!(
                    f,
                    "by-person index of {persons:?}, occurred in [{min_ms}, {max_ms}]"
                )
            }
            Plan::Value {
                lookups,
                min_ms,
                max_ms,
            } => {
                write!(f, "value index of ")?;
                for (i, l) in lookups.iter().enumerate() {
                    if i > 0 {
                        write!(f, "; ")?;
                    }
                    write!(f, "{l}")?;
                }
                write!(f, ", occurred in [{min_ms}, {max_ms}]")
            }
        }
    }
}

/// A plan with its estimated cost (activities to read) and, once run, the actual count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explain {
    /// The plan.
    pub plan: Plan,
    /// Activities the plan expects to read.
    pub estimated: u64,
    /// Activities it read, once the query has been consumed.
    pub actual: Option<u64>,
}

/// The types a top-level `type =`/`type in` allows, if there is one (the intersection
/// when there are several).
pub(crate) fn top_level_types(filter: &ResolvedFilter) -> Option<Vec<TypeId>> {
    let mut out: Option<Vec<TypeId>> = None;
    for c in conjuncts(filter) {
        if let ResolvedFilter::Types(ts) = c {
            out = Some(match out {
                None => ts.clone(),
                Some(prev) => prev.into_iter().filter(|t| ts.contains(t)).collect(),
            });
        }
    }
    out
}

/// Top-level conjuncts a plan can use.
fn conjuncts(filter: &ResolvedFilter) -> Vec<&ResolvedFilter> {
    match filter {
        ResolvedFilter::And(cs) => cs.iter().flat_map(conjuncts).collect(),
        other => vec![other],
    }
}

/// Every plan that can answer `filter`, each with its estimate; the log scan is always
/// one of them.
pub fn candidate_plans(
    source: &dyn ActivitySource,
    index: &dyn PostingIndex,
    filter: &ResolvedFilter,
) -> Vec<Explain> {
    candidate_plans_given(source, index, filter, Vec::new())
}

/// [`candidate_plans`], with the person plans of the first `person_plans.len()`
/// `person` conjuncts estimated already (a person's estimate reads its postings).
fn candidate_plans_given(
    source: &dyn ActivitySource,
    index: &dyn PostingIndex,
    filter: &ResolvedFilter,
    person_plans: Vec<Explain>,
) -> Vec<Explain> {
    let mut known = person_plans.into_iter();
    let (min_ms, max_ms) = occurred_bounds(filter);
    let scan_estimate: u64 = source
        .segments()
        .iter()
        .filter(|s| s.occurred_max_ms >= min_ms && s.occurred_min_ms <= max_ms)
        .map(|s| s.end.get().saturating_sub(s.first.get()))
        .sum();
    let mut plans = vec![Explain {
        plan: Plan::Scan { min_ms, max_ms },
        estimated: scan_estimate,
        actual: None,
    }];
    for c in conjuncts(filter) {
        match c {
            ResolvedFilter::Types(types) => plans.push(Explain {
                estimated: types
                    .iter()
                    .map(|t| index.estimate_type(*t, min_ms, max_ms))
                    .sum(),
                plan: Plan::TypeTime {
                    types: types.clone(),
                    min_ms,
                    max_ms,
                },
                actual: None,
            }),
            ResolvedFilter::Persons(persons) => {
                let plan = known
                    .next()
                    .unwrap_or_else(|| person_plan(source, index, persons, min_ms, max_ms));
                plans.push(plan);
            }
            ResolvedFilter::Value(ms) => {
                if let Some(p) = value_plan(source, index, ms, min_ms, max_ms) {
                    plans.push(p);
                }
            }
            _ => {}
        }
    }
    plans
}

/// The by-person plan for a top-level `person =`/`person in`.
fn person_plan(
    source: &dyn ActivitySource,
    index: &dyn PostingIndex,
    persons: &[PersonId],
    min_ms: i64,
    max_ms: i64,
) -> Explain {
    let ids = id_window(source, min_ms, max_ms);
    Explain {
        estimated: persons
            .iter()
            .map(|p| index.estimate_person(*p, ids.clone()))
            .sum(),
        plan: Plan::Person {
            persons: persons.to_vec(),
            min_ms,
            max_ms,
        },
        actual: None,
    }
}

/// A by-person plan estimated to read at most this many activities is chosen without
/// estimating the other paths: a type or value estimate over a long time range reads
/// and checks every index block it overlaps, which costs more than fetching this many
/// activities would save.
pub const PERSON_PLAN_SURE_MAX: u64 = 1_024;

/// The value plan for a top-level value predicate, when the index holds the values
/// of every type it resolved in.
fn value_plan(
    source: &dyn ActivitySource,
    index: &dyn PostingIndex,
    ms: &[crate::resolve::AttrMatch],
    min_ms: i64,
    max_ms: i64,
) -> Option<Explain> {
    let mut lookups = Vec::with_capacity(ms.len());
    let mut estimated = 0u64;
    let ids = id_window(source, min_ms, max_ms);
    for m in ms {
        let slot = ValueSlot::from(m.slot);
        let data_type = index.value_type(m.type_id, slot)?;
        let keys = key_spans(&m.pred, data_type)?;
        for k in &keys {
            let n = index.estimate_value(m.type_id, slot, k, ids.clone());
            estimated = estimated.saturating_add(n);
        }
        lookups.push(ValueLookup {
            type_id: m.type_id,
            slot,
            keys,
        });
    }
    if estimated > VALUE_POSTINGS_HELD_MAX {
        return None;
    }
    Some(Explain {
        plan: Plan::Value {
            lookups,
            min_ms,
            max_ms,
        },
        estimated,
        actual: None,
    })
}

/// The cheapest candidate plan.
pub fn choose_plan(
    source: &dyn ActivitySource,
    index: &dyn PostingIndex,
    filter: &ResolvedFilter,
) -> Explain {
    let (min_ms, max_ms) = occurred_bounds(filter);
    let mut person_plans = Vec::new();
    for c in conjuncts(filter) {
        if let ResolvedFilter::Persons(persons) = c {
            let plan = person_plan(source, index, persons, min_ms, max_ms);
            if plan.estimated <= PERSON_PLAN_SURE_MAX {
                return plan;
            }
            person_plans.push(plan);
        }
    }
    let plans = candidate_plans_given(source, index, filter, person_plans);
    let scan_plan = Explain {
        plan: Plan::Scan {
            min_ms: i64::MIN,
            max_ms: i64::MAX,
        },
        estimated: u64::MAX,
        actual: None,
    };
    // An index path's estimate counts whole index blocks, so it is an upper bound that
    // a small data set (one block per family) makes equal to the scan's exact count
    // while the path itself reads far fewer: on a tie the index path wins. Otherwise the
    // cheaper estimate wins.
    plans
        .into_iter()
        .min_by_key(|p| (p.estimated, matches!(p.plan, Plan::Scan { .. })))
        .unwrap_or(scan_plan)
}

/// A running query: a log scan or an index path, with the same cursor semantics.
pub struct Query<'s> {
    inner: Inner<'s>,
    explain: Explain,
}

enum Inner<'s> {
    Scan(Scan<'s>),
    Index(IndexRun<'s>),
}

impl fmt::Debug for Query<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Query")
            .field("explain", &self.explain)
            .finish_non_exhaustive()
    }
}

/// Plans and starts `filter`.
///
/// # Errors
///
/// As [`crate::scan`].
pub fn query<'s>(
    source: &'s dyn ActivitySource,
    index: &'s dyn PostingIndex,
    filter: ResolvedFilter,
    options: &QueryOptions,
) -> Result<Query<'s>> {
    let explain = choose_plan(source, index, &filter);
    execute(source, index, filter, explain, options)
}

/// Runs `filter` with a given plan (any of [`candidate_plans`]).
///
/// # Errors
///
/// As [`crate::scan`].
pub fn execute<'s>(
    source: &'s dyn ActivitySource,
    index: &'s dyn PostingIndex,
    filter: ResolvedFilter,
    explain: Explain,
    options: &QueryOptions,
) -> Result<Query<'s>> {
    let inner = match &explain.plan {
        Plan::Scan { .. } => Inner::Scan(scan(source, filter, options)?),
        plan => {
            check_cursor(options)?;
            Inner::Index(IndexRun::new(source, index, plan, filter, options)?)
        }
    };
    Ok(Query { inner, explain })
}

impl Query<'_> {
    /// The cursor after the last item returned.
    pub fn cursor(&self) -> Option<Cursor> {
        match &self.inner {
            Inner::Scan(s) => s.cursor(),
            Inner::Index(r) => r.cursor(),
        }
    }

    /// The plan with its estimate, and the activities read so far as the actual count.
    pub fn explain(&self) -> Explain {
        let actual = match &self.inner {
            Inner::Scan(s) => s.stats().activities_read,
            Inner::Index(r) => r.fetched,
        };
        Explain {
            actual: Some(actual),
            ..self.explain.clone()
        }
    }
}

impl Query<'_> {
    /// The next match, decoded in place: it borrows the query's buffers until the next
    /// call, so a caller that reads views allocates nothing per activity (the
    /// [`Iterator`] copies each into an owned [`Activity`]).
    pub fn next_view(&mut self) -> Option<Result<ActivityView<'_>>> {
        let taken = self.take_next()?;
        Some(taken.and_then(Taken::view))
    }

    fn take_next(&mut self) -> Option<Result<Taken<'_>>> {
        match &mut self.inner {
            Inner::Scan(s) => s.take_next(),
            Inner::Index(r) => r.take_next(),
        }
    }
}

impl Iterator for Query<'_> {
    type Item = Result<Activity>;

    fn next(&mut self) -> Option<Result<Activity>> {
        let taken = self.take_next()?;
        Some(taken.and_then(Taken::activity))
    }
}

/// Postings within `[min_ms, max_ms]` read into memory and sorted by (occurred_at, id)
/// in `direction`, without duplicates (overlapping key spans may list one twice).
fn held<'s>(
    postings: impl Iterator<Item = Result<(i64, ActivityId), SourceError>>,
    min_ms: i64,
    max_ms: i64,
    direction: Direction,
) -> Result<Postings<'s>> {
    let mut keys = Vec::new();
    for k in postings {
        let k = k?;
        if (min_ms..=max_ms).contains(&k.0) {
            keys.push(k);
        }
    }
    keys.sort_unstable();
    keys.dedup();
    if direction == Direction::Descending {
        keys.reverse();
    }
    Ok(Box::new(keys.into_iter().map(Ok)))
}

/// Postings of one stream with the head pulled out, ordered for a k-way merge.
struct Head<'s> {
    key: (i64, ActivityId),
    rest: Postings<'s>,
}

impl PartialEq for Head<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl Eq for Head<'_> {}
impl PartialOrd for Head<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Head<'_> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key.cmp(&other.key)
    }
}

struct IndexRun<'s> {
    source: &'s dyn ActivitySource,
    filter: ResolvedFilter,
    direction: Direction,
    after: Option<(i64, ActivityId)>,
    end: ActivityId,
    remaining: usize,
    /// The postings of a plan with one stream (one type, one person, or a value
    /// plan), already in result order: no merge.
    single: Option<Postings<'s>>,
    /// A lazy k-way merge of several: ascending uses `Reverse` to pop the smallest key.
    ascending: BinaryHeap<Reverse<Head<'s>>>,
    descending: BinaryHeap<Head<'s>>,
    last: Option<Cursor>,
    fetched: u64,
    failed: bool,
    /// Size of the next fetch batch: doubles from [`FETCH_BATCH_FIRST`] to
    /// [`FETCH_BATCH_MAX`].
    batch_len: usize,
    /// The last posting taken off the merge: one listed again (runs may overlap) is
    /// taken once.
    popped: Option<(i64, ActivityId)>,
    /// The records of one batch, in id order, and the positions among them of those
    /// not yet returned, in result order (not yet tested against the filter).
    records: Records,
    ready: VecDeque<usize>,
    /// Scratch of one batch, kept to reuse their allocations: postings in result
    /// order and their ids ascending.
    keys: Vec<(i64, ActivityId)>,
    ids: Vec<ActivityId>,
}

impl<'s> IndexRun<'s> {
    fn new(
        source: &'s dyn ActivitySource,
        index: &'s dyn PostingIndex,
        plan: &Plan,
        filter: ResolvedFilter,
        options: &QueryOptions,
    ) -> Result<IndexRun<'s>> {
        let direction = options.direction;
        let streams: Vec<Postings<'s>> = match plan {
            Plan::TypeTime {
                types,
                min_ms,
                max_ms,
            } => types
                .iter()
                .map(|t| index.by_type(*t, *min_ms, *max_ms, direction))
                .collect(),
            Plan::Person {
                persons,
                min_ms,
                max_ms,
            } => {
                // The by-person postings carry the type, so a top-level type
                // condition drops the other types' activities before any is fetched.
                let types = top_level_types(&filter);
                let ids = id_window(source, *min_ms, *max_ms);
                let mut streams = Vec::with_capacity(persons.len());
                for p in persons {
                    let postings = index.by_person(*p, types.as_deref(), ids.clone());
                    let keys = held(postings, *min_ms, *max_ms, direction)?;
                    streams.push(keys);
                }
                streams
            }
            Plan::Value {
                lookups,
                min_ms,
                max_ms,
            } => {
                let ids = id_window(source, *min_ms, *max_ms);
                vec![held(
                    lookups.iter().flat_map(|l| {
                        let ids = ids.clone();
                        l.keys
                            .iter()
                            .flat_map(move |k| index.by_value(l.type_id, l.slot, k, ids.clone()))
                    }),
                    *min_ms,
                    *max_ms,
                    direction,
                )?]
            }
            Plan::Scan { .. } => Vec::new(),
        };
        let mut run = IndexRun {
            source,
            filter,
            direction,
            after: options.cursor.map(|c| (c.occurred_at_ms(), c.id())),
            end: source.end_id(),
            remaining: options.limit,
            single: None,
            ascending: BinaryHeap::new(),
            descending: BinaryHeap::new(),
            last: None,
            fetched: 0,
            failed: false,
            batch_len: FETCH_BATCH_FIRST,
            popped: None,
            records: Records::default(),
            ready: VecDeque::new(),
            keys: Vec::new(),
            ids: Vec::new(),
        };
        if streams.len() == 1 {
            run.single = streams.into_iter().next();
        } else {
            for s in streams {
                run.push(s)?;
            }
        }
        Ok(run)
    }

    fn push(&mut self, mut rest: Postings<'s>) -> Result<()> {
        if let Some(k) = rest.next() {
            let head = Head { key: k?, rest };
            match self.direction {
                Direction::Ascending => self.ascending.push(Reverse(head)),
                Direction::Descending => self.descending.push(head),
            }
        }
        Ok(())
    }

    fn pop(&mut self) -> Result<Option<(i64, ActivityId)>> {
        if let Some(single) = &mut self.single {
            return Ok(single.next().transpose()?);
        }
        let head = match self.direction {
            Direction::Ascending => self.ascending.pop().map(|Reverse(h)| h),
            Direction::Descending => self.descending.pop(),
        };
        let Some(head) = head else { return Ok(None) };
        let key = head.key;
        self.push(head.rest)?;
        Ok(Some(key))
    }

    fn cursor(&self) -> Option<Cursor> {
        self.last
            .or_else(|| self.after.map(|(t, id)| Cursor::at(t, id, self.direction)))
    }

    /// The position in `records` of the next match, fetching batches as needed.
    fn step(&mut self) -> Result<Option<usize>> {
        loop {
            let Some(i) = self.ready.pop_front() else {
                if !self.fetch_batch()? {
                    return Ok(None);
                }
                continue;
            };
            // Most filters of an index plan (a type, a person, a time range) are
            // decided by the header, without decoding the record.
            let header = self.records.header(i);
            let matched = match header_verdict(&self.filter, &header) {
                Some(verdict) => verdict,
                None => matches_view(&self.filter, &self.records.view(i)?),
            };
            if matched {
                return Ok(Some(i));
            }
        }
    }

    /// Takes the next batch of postings off the merge, fetches their records in id
    /// order with one [`ActivitySource::get_batch`], and queues them in result order.
    /// Returns `false` once the postings are exhausted.
    fn fetch_batch(&mut self) -> Result<bool> {
        // A query that wants few more items needs no bigger batch than that (the
        // filter may reject some, so the next batch makes up the rest).
        let want = self.batch_len.min(self.remaining.max(1));
        self.keys.clear();
        while self.keys.len() < want {
            let Some(key) = self.pop()? else { break };
            if self.popped.replace(key) == Some(key) {
                continue;
            }
            let beyond = match (self.after, self.direction) {
                (Some(c), Direction::Ascending) => key <= c,
                (Some(c), Direction::Descending) => key >= c,
                (None, _) => false,
            };
            if !beyond && key.1 < self.end {
                self.keys.push(key);
            }
        }
        if self.keys.is_empty() {
            return Ok(false);
        }
        self.batch_len = (self.batch_len * 2).min(FETCH_BATCH_MAX);
        self.ids.clear();
        self.ids.extend(self.keys.iter().map(|k| k.1));
        self.ids.sort_unstable();
        self.ids.dedup();
        self.fetched += self.ids.len() as u64;
        self.records.clear();
        self.ready.clear();
        self.source.get_batch(&self.ids, &mut self.records)?;
        for key in &self.keys {
            // An id the source did not return is not visible (any more).
            if let Some(i) = self.records.find(key.1) {
                if self.records.key(i) != *key {
                    let what = format!(
                        "the index lists activity {} at {} ms, but its record says {} ms \
                         (the index disagrees with the log: rebuild it)",
                        key.1.get(),
                        key.0,
                        self.records.key(i).0
                    );
                    return Err(Error::Source(SourceError(what.into())));
                }
                self.ready.push_back(i);
            }
        }
        Ok(true)
    }

    /// The next match's record, moving the cursor past it.
    fn take_next(&mut self) -> Option<Result<Taken<'_>>> {
        if self.remaining == 0 || self.failed {
            return None;
        }
        match self.step() {
            Ok(Some(at)) => {
                let (occurred_at_ms, id) = self.records.key(at);
                self.remaining -= 1;
                self.last = Some(Cursor::at(occurred_at_ms, id, self.direction));
                Some(Ok(Taken {
                    records: &self.records,
                    at,
                    failed: &mut self.failed,
                }))
            }
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}
