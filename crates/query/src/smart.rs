//! Smart lists resolved against the catalog, and their brute-force evaluation.

use crate::ast::SmartList;
use crate::error::Result;
use crate::exec::{id_window, occurred_bounds, ActivityHeader, ActivitySource, QueryOptions};
use crate::plan::{
    choose_plan, execute, key_spans, key_spans_exact, Plan, PostingIndex, ValueLookup, ValueSlot,
    FETCH_BATCH_MAX, VALUE_POSTINGS_HELD_MAX,
};
use crate::records::Records;
use crate::resolve::{matches, matches_view, resolve_in_type, type_id, ResolvedFilter};
use actlog_model::codec::ActivityView;
use actlog_model::{Activity, ActivityId, Catalog, PersonId, TypeId};
use roaring::RoaringTreemap;
use std::collections::HashMap;

/// A smart list with names resolved and its windows made absolute; see
/// [`resolve_smart_list`].
#[derive(Clone, Debug, PartialEq)]
pub enum ResolvedList {
    /// Persons in all.
    And(Vec<ResolvedList>),
    /// Persons in any.
    Or(Vec<ResolvedList>),
    /// Persons of the universe not in this one.
    Not(Box<ResolvedList>),
    /// Persons who did something.
    Did(ResolvedDid),
}

/// `did TYPE where FILTER at least N times` within `[min_ms, max_ms]`.
#[derive(Clone, Debug, PartialEq)]
pub struct ResolvedDid {
    /// The activity type.
    pub type_id: TypeId,
    /// Which of its activities count (all when `None`).
    pub filter: Option<ResolvedFilter>,
    /// How many are needed, at least 1.
    pub at_least: u32,
    /// Inclusive lower bound of `occurred_at_ms`.
    pub min_ms: i64,
    /// Inclusive upper bound of `occurred_at_ms`.
    pub max_ms: i64,
}

impl ResolvedDid {
    /// Whether `activity` counts towards this term.
    pub fn counts(&self, activity: &Activity) -> bool {
        self.counts_header(&ActivityHeader::of(activity))
            && self.filter.as_ref().is_none_or(|f| matches(f, activity))
    }

    /// [`ResolvedDid::counts`] on a record decoded in place.
    pub fn counts_view(&self, view: &ActivityView<'_>) -> bool {
        self.counts_header(&ActivityHeader::of_view(view))
            && self.filter.as_ref().is_none_or(|f| matches_view(f, view))
    }

    /// Whether an activity with this header is of the term's type and time; all that
    /// [`ResolvedDid::counts`] asks when the term has no filter.
    fn counts_header(&self, header: &ActivityHeader) -> bool {
        header.type_id == self.type_id
            && (self.min_ms..=self.max_ms).contains(&header.occurred_at_ms)
    }
}

/// Resolves a smart list: each `did TYPE where FILTER` resolves its filter within that
/// type, and `in last` is measured back from `now_ms`.
///
/// # Errors
///
/// As [`crate::resolve`].
pub fn resolve_smart_list(
    list: &SmartList,
    catalog: &Catalog,
    now_ms: i64,
) -> Result<ResolvedList> {
    list.validate()?;
    resolve_list(list, catalog, now_ms)
}

fn resolve_list(list: &SmartList, catalog: &Catalog, now_ms: i64) -> Result<ResolvedList> {
    let all = |cs: &[SmartList]| {
        cs.iter()
            .map(|c| resolve_list(c, catalog, now_ms))
            .collect::<Result<Vec<_>>>()
    };
    Ok(match list {
        SmartList::And(cs) => ResolvedList::And(all(cs)?),
        SmartList::Or(cs) => ResolvedList::Or(all(cs)?),
        SmartList::Not(c) => ResolvedList::Not(Box::new(resolve_list(c, catalog, now_ms)?)),
        SmartList::Did(did) => {
            let type_id = type_id(catalog, &did.type_ref)?;
            let filter = match &did.filter {
                Some(f) => Some(resolve_in_type(f, catalog, type_id, now_ms)?),
                None => None,
            };
            let (min_ms, max_ms) = match (did.in_last, did.between) {
                (Some(d), _) => (
                    now_ms.saturating_sub(i64::try_from(d.ms()).unwrap_or(i64::MAX)),
                    now_ms,
                ),
                (None, Some((a, b))) => (a.epoch_ms(), b.epoch_ms()),
                (None, None) => (i64::MIN, i64::MAX),
            };
            ResolvedList::Did(ResolvedDid {
                type_id,
                filter,
                at_least: did.at_least.unwrap_or(1),
                min_ms,
                max_ms,
            })
        }
    })
}

/// The persons `list` selects from `activities`, by counting every term over every
/// activity; `universe` is the set `not` takes its complement in. The oracle of the
/// indexed evaluation, and fine for small data.
pub fn people_brute_force<'a>(
    list: &ResolvedList,
    activities: impl IntoIterator<Item = &'a Activity>,
    universe: &RoaringTreemap,
) -> RoaringTreemap {
    let mut dids = Vec::new();
    collect_dids(list, &mut dids);
    let mut counts: Vec<HashMap<u64, u32>> = vec![HashMap::new(); dids.len()];
    for a in activities {
        for (did, count) in dids.iter().zip(counts.iter_mut()) {
            if did.counts(a) {
                *count.entry(a.person.get()).or_default() += 1;
            }
        }
    }
    let sets: Vec<RoaringTreemap> = dids
        .iter()
        .zip(counts)
        .map(|(did, count)| {
            count
                .into_iter()
                .filter(|(_, n)| *n >= did.at_least)
                .map(|(p, _)| p)
                .collect()
        })
        .collect();
    let mut next = 0;
    combine(list, &sets, &mut next, universe)
}

fn collect_dids<'a>(list: &'a ResolvedList, out: &mut Vec<&'a ResolvedDid>) {
    match list {
        ResolvedList::And(cs) | ResolvedList::Or(cs) => {
            cs.iter().for_each(|c| collect_dids(c, out))
        }
        ResolvedList::Not(c) => collect_dids(c, out),
        ResolvedList::Did(d) => out.push(d),
    }
}

/// Combines the per-term sets, taken in the order `collect_dids` listed the terms.
fn combine(
    list: &ResolvedList,
    sets: &[RoaringTreemap],
    next: &mut usize,
    universe: &RoaringTreemap,
) -> RoaringTreemap {
    match list {
        ResolvedList::And(cs) => {
            let mut parts = cs.iter().map(|c| combine(c, sets, next, universe));
            let first = parts.next().unwrap_or_default();
            parts.fold(first, |acc, s| acc & s)
        }
        ResolvedList::Or(cs) => cs
            .iter()
            .map(|c| combine(c, sets, next, universe))
            .fold(RoaringTreemap::new(), |acc, s| acc | s),
        ResolvedList::Not(c) => universe - combine(c, sets, next, universe),
        ResolvedList::Did(_) => {
            let set = sets.get(*next).cloned().unwrap_or_default();
            *next += 1;
            set
        }
    }
}

/// The persons `list` selects, read from the log: each `did` term scans only the
/// segments its window and filter can match, counting per person, so memory is one
/// counter per person seen plus the bitmaps. `universe` is the set `not` takes its
/// complement in (the engine passes every known person).
///
/// # Errors
///
/// [`crate::Error::Source`] when reading fails.
pub fn people(
    source: &dyn ActivitySource,
    list: &ResolvedList,
    universe: &RoaringTreemap,
) -> Result<RoaringTreemap> {
    let mut dids = Vec::new();
    collect_dids(list, &mut dids);
    let mut sets = Vec::with_capacity(dids.len());
    for did in dids {
        sets.push(did_by_scan(source, did)?);
    }
    let mut next = 0;
    Ok(combine(list, &sets, &mut next, universe))
}

/// One `did` term's persons by reading the segments its window and filter can match.
fn did_by_scan(source: &dyn ActivitySource, did: &ResolvedDid) -> Result<RoaringTreemap> {
    let (first, end) = (source.first_id(), source.end_id());
    let (mut min_ms, mut max_ms) = (did.min_ms, did.max_ms);
    if let Some(f) = &did.filter {
        let (lo, hi) = occurred_bounds(f);
        min_ms = min_ms.max(lo);
        max_ms = max_ms.min(hi);
    }
    let mut counter = Counter::new(did.at_least);
    for s in source.segments() {
        if s.occurred_max_ms < min_ms || s.occurred_min_ms > max_ms {
            continue;
        }
        let keep = |h: &ActivityHeader| {
            h.type_id == did.type_id && (did.min_ms..=did.max_ms).contains(&h.occurred_at_ms)
        };
        for a in source.scan_where(s.first.max(first), s.end.min(end), &keep) {
            let a = a?;
            if did.counts(&a) {
                counter.add(a.person.get());
            }
        }
    }
    Ok(counter.finish())
}

/// Persons seen at least `at_least` times: straight into a bitmap when once is enough,
/// else one counter per person seen.
struct Counter {
    at_least: u32,
    set: RoaringTreemap,
    counts: HashMap<u64, u32>,
}

impl Counter {
    fn new(at_least: u32) -> Counter {
        Counter {
            at_least,
            set: RoaringTreemap::new(),
            counts: HashMap::new(),
        }
    }

    fn add(&mut self, person: u64) {
        if self.at_least <= 1 {
            self.set.insert(person);
        } else {
            let n = self.counts.entry(person).or_default();
            *n += 1;
            if *n == self.at_least {
                self.set.insert(person);
            }
        }
    }

    fn finish(self) -> RoaringTreemap {
        self.set
    }
}

/// How one `did` term of a smart list is answered by [`people_indexed`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DidPath {
    /// The persons of the type's by-type postings in the window; no activity is read.
    TypePersons,
    /// The filter is decided by these value postings alone (see [`deciding_lookup`]):
    /// their ids in the window are joined with the type's by-type postings, which carry
    /// the person; no activity is read.
    ValuePersons(ValueLookup),
    /// The activities of this index plan are fetched and counted.
    Index(Plan),
    /// The log is scanned (no index path reads fewer activities).
    Scan,
}

/// What fetching one activity is taken to cost, in postings read from an index block:
/// a fetch seeks in the log and decodes a record, a posting is a few bytes decoded in
/// place. A `did` term whose filter the value postings decide reads them and the
/// type's postings in their time range instead of fetching its candidates while that
/// reads fewer than this many postings per candidate.
pub const FETCH_COST_POSTINGS: u64 = 32;

/// How [`people_indexed`] answers `did`: the by-type persons without a filter; the
/// value postings joined with the by-type persons when they decide the filter and
/// that reads less than fetching; else the cheapest plan for `type = T and occurred in
/// window and FILTER`.
pub fn did_path(
    source: &dyn ActivitySource,
    index: &dyn PostingIndex,
    did: &ResolvedDid,
) -> DidPath {
    if did.filter.is_none() {
        return DidPath::TypePersons;
    }
    let chosen = choose_plan(source, index, &did_filter(did));
    if let Some(lookup) = deciding_lookup(index, did) {
        let values = value_estimate(source, index, &lookup, did);
        let joined =
            values.saturating_add(index.estimate_type(did.type_id, did.min_ms, did.max_ms));
        if values <= VALUE_POSTINGS_HELD_MAX
            && joined <= chosen.estimated.saturating_mul(FETCH_COST_POSTINGS)
        {
            return DidPath::ValuePersons(lookup);
        }
    }
    match chosen.plan {
        Plan::Scan { .. } => DidPath::Scan,
        plan => DidPath::Index(plan),
    }
}

/// The value lookup whose postings alone decide `did`'s filter, if any: the filter is
/// one predicate on a value the index holds for the term's type (`primary = "Rust
/// 101"`), and its key spans hold exactly the values that satisfy it.
pub fn deciding_lookup(index: &dyn PostingIndex, did: &ResolvedDid) -> Option<ValueLookup> {
    let Some(ResolvedFilter::Value(ms)) = &did.filter else {
        return None;
    };
    let m = ms.iter().find(|m| m.type_id == did.type_id)?;
    let slot = ValueSlot::from(m.slot);
    let data_type = index.value_type(did.type_id, slot)?;
    if !key_spans_exact(&m.pred, data_type) {
        return None;
    }
    Some(ValueLookup {
        type_id: did.type_id,
        slot,
        keys: key_spans(&m.pred, data_type)?,
    })
}

/// About how many postings `lookup` reads in the window of `did`.
fn value_estimate(
    source: &dyn ActivitySource,
    index: &dyn PostingIndex,
    lookup: &ValueLookup,
    did: &ResolvedDid,
) -> u64 {
    let ids = id_window(source, did.min_ms, did.max_ms);
    lookup.keys.iter().fold(0u64, |n, k| {
        n.saturating_add(index.estimate_value(lookup.type_id, lookup.slot, k, ids.clone()))
    })
}

/// The activities a deciding lookup selects within a window.
struct Deciding {
    ids: IdSet,
    /// Their smallest and largest `occurred_at_ms`; `None` when there are none.
    times: Option<(i64, i64)>,
}

/// The activities `lookup` reads with `occurred_at_ms` in `[min_ms, max_ms]`; `None`
/// when it reads more than `budget` postings.
fn deciding_ids(
    source: &dyn ActivitySource,
    index: &dyn PostingIndex,
    lookup: &ValueLookup,
    min_ms: i64,
    max_ms: i64,
    budget: u64,
) -> Result<Option<Deciding>> {
    let mut ids = Vec::new();
    let mut times: Option<(i64, i64)> = None;
    let mut read = 0u64;
    let window = id_window(source, min_ms, max_ms);
    for k in &lookup.keys {
        for posting in index.by_value(lookup.type_id, lookup.slot, k, window.clone()) {
            let (occurred_at_ms, id) = posting?;
            read += 1;
            if read > budget {
                return Ok(None);
            }
            if (min_ms..=max_ms).contains(&occurred_at_ms) {
                ids.push(id);
                times = Some(times.map_or((occurred_at_ms, occurred_at_ms), |(lo, hi)| {
                    (lo.min(occurred_at_ms), hi.max(occurred_at_ms))
                }));
            }
        }
    }
    Ok(Some(Deciding {
        ids: IdSet::new(ids),
        times,
    }))
}

/// Activity ids to test others against: a bitmap over their span when that is not much
/// larger than the ids themselves (a time window's ids are dense), else the ids sorted
/// and searched.
enum IdSet {
    Bits { first: u64, words: Vec<u64> },
    Sorted(Vec<ActivityId>),
}

impl IdSet {
    fn new(mut ids: Vec<ActivityId>) -> IdSet {
        ids.sort_unstable();
        ids.dedup();
        let (Some(first), Some(last)) = (ids.first(), ids.last()) else {
            return IdSet::Sorted(ids);
        };
        let (first, span) = (first.get(), last.get() - first.get() + 1);
        // At most four words per id: 32 bytes against the 8 of a sorted id.
        let words_len = usize::try_from(span.div_ceil(64)).ok();
        let Some(words_len) = words_len.filter(|&n| n <= 4 * ids.len()) else {
            return IdSet::Sorted(ids);
        };
        let mut words = vec![0u64; words_len];
        for id in &ids {
            let bit = id.get() - first;
            if let Some(w) = words.get_mut((bit / 64) as usize) {
                *w |= 1 << (bit % 64);
            }
        }
        IdSet::Bits { first, words }
    }

    fn contains(&self, id: ActivityId) -> bool {
        match self {
            IdSet::Bits { first, words } => id.get().checked_sub(*first).is_some_and(|bit| {
                words
                    .get(usize::try_from(bit / 64).unwrap_or(usize::MAX))
                    .is_some_and(|w| w & (1 << (bit % 64)) != 0)
            }),
            IdSet::Sorted(ids) => ids.binary_search(&id).is_ok(),
        }
    }
}

/// The activity filter a `did` term counts.
fn did_filter(did: &ResolvedDid) -> ResolvedFilter {
    let mut parts = vec![
        ResolvedFilter::Types(vec![did.type_id]),
        ResolvedFilter::Occurred {
            min_ms: did.min_ms,
            max_ms: did.max_ms,
        },
    ];
    if let Some(f) = &did.filter {
        parts.push(f.clone());
    }
    ResolvedFilter::And(parts)
}

/// One `did` term's persons through the index; see [`did_path`].
fn did_by_index(
    source: &dyn ActivitySource,
    index: &dyn PostingIndex,
    did: &ResolvedDid,
) -> Result<RoaringTreemap> {
    let mut counter = Counter::new(did.at_least);
    match did_path(source, index, did) {
        DidPath::TypePersons => {
            index.type_persons(did.type_id, did.min_ms, did.max_ms, &mut |_, person| {
                counter.add(person.get());
            })?;
        }
        DidPath::ValuePersons(lookup) => {
            // The estimate chose this path; memory is bounded by it, as a value plan's.
            let deciding = deciding_ids(source, index, &lookup, did.min_ms, did.max_ms, u64::MAX)?;
            // The by-type postings are read only over the deciding postings' times.
            if let Some(Deciding {
                ids,
                times: Some((min_ms, max_ms)),
            }) = deciding
            {
                index.type_persons(did.type_id, min_ms, max_ms, &mut |id, person| {
                    if ids.contains(id) {
                        counter.add(person.get());
                    }
                })?;
            }
        }
        DidPath::Scan => return did_by_scan(source, did),
        DidPath::Index(plan) => {
            let filter = did_filter(did);
            let explain = crate::plan::Explain {
                plan,
                estimated: 0,
                actual: None,
            };
            let options = QueryOptions {
                limit: usize::MAX,
                ..QueryOptions::default()
            };
            for a in execute(source, index, filter, explain, &options)? {
                counter.add(a?.person.get());
            }
        }
    }
    Ok(counter.finish())
}

/// What looking up one person's by-person postings is taken to cost, in postings read
/// from a type's by-type postings: a lookup finds its block and reads the person's
/// activities of every type. Inside an `and`, a `did` or `not did` term is answered by
/// looking up each person the other terms left when that many persons times this cost
/// is below the term's own estimate (`A and not did T` over a small `A` then reads
/// `|A|` persons' postings instead of every posting of `T`).
pub const PERSON_LOOKUP_POSTINGS: u64 = 64;

/// Which persons of `persons` `did` selects, from each one's by-person postings of the
/// term's type and window. Without a filter the index counts them
/// ([`PostingIndex::persons_reaching`], which may stop at the count). With a filter,
/// the candidates are tested against the value
/// postings that decide it, when it has such and they turn out fewer than
/// [`FETCH_COST_POSTINGS`] per candidate; else the candidates are fetched (in id-ordered
/// batches).
fn did_within(
    source: &dyn ActivitySource,
    index: &dyn PostingIndex,
    did: &ResolvedDid,
    persons: &RoaringTreemap,
) -> Result<RoaringTreemap> {
    let types = [did.type_id];
    let asked: Vec<PersonId> = persons.iter().map(PersonId).collect();
    let ids = id_window(source, did.min_ms, did.max_ms);
    let ids = ids.start..ids.end.min(source.end_id());
    let window = (did.min_ms, did.max_ms);
    if did.filter.is_none() {
        let found = index.persons_reaching(&asked, did.type_id, window, ids, did.at_least)?;
        return Ok(found.into_iter().map(PersonId::get).collect());
    }
    let mut candidates: Vec<(ActivityId, PersonId)> = Vec::new();
    for posting in index.by_persons(&asked, Some(&types), ids.clone()) {
        let (person, occurred_at_ms, id) = posting?;
        if (did.min_ms..=did.max_ms).contains(&occurred_at_ms) && ids.contains(&id) {
            candidates.push((id, person));
        }
    }
    // The deciding postings are read only while they are fewer than fetching the
    // candidates would cost.
    let budget = (candidates.len() as u64)
        .saturating_mul(FETCH_COST_POSTINGS)
        .min(VALUE_POSTINGS_HELD_MAX);
    let deciding = match deciding_lookup(index, did) {
        Some(lookup) if !candidates.is_empty() => {
            deciding_ids(source, index, &lookup, did.min_ms, did.max_ms, budget)?
        }
        _ => None,
    };
    let mut counter = Counter::new(did.at_least);
    match deciding {
        Some(Deciding { ids, .. }) => {
            for (id, person) in &candidates {
                if ids.contains(*id) {
                    counter.add(person.get());
                }
            }
        }
        None => {
            let mut ids: Vec<ActivityId> = candidates.iter().map(|(id, _)| *id).collect();
            ids.sort_unstable();
            ids.dedup();
            let mut got = Records::default();
            for chunk in ids.chunks(FETCH_BATCH_MAX) {
                got.clear();
                source.get_batch(chunk, &mut got)?;
                for i in 0..got.len() {
                    let header = got.header(i);
                    let counts = match &did.filter {
                        None => did.counts_header(&header),
                        Some(_) => did.counts_view(&got.view(i)?),
                    };
                    if counts {
                        counter.add(header.person.get());
                    }
                }
            }
        }
    }
    Ok(counter.finish())
}

/// A set of persons, or the complement of one within the universe, so that `A and not
/// B` is computed as `A - B` without listing everyone.
enum Set {
    Is(RoaringTreemap),
    AllBut(RoaringTreemap),
}

fn and(a: Set, b: Set) -> Set {
    match (a, b) {
        (Set::Is(a), Set::Is(b)) => Set::Is(a & b),
        (Set::Is(a), Set::AllBut(b)) | (Set::AllBut(b), Set::Is(a)) => Set::Is(a - b),
        (Set::AllBut(a), Set::AllBut(b)) => Set::AllBut(a | b),
    }
}

fn or(a: Set, b: Set) -> Set {
    match (a, b) {
        (Set::Is(a), Set::Is(b)) => Set::Is(a | b),
        (Set::Is(a), Set::AllBut(b)) | (Set::AllBut(b), Set::Is(a)) => Set::AllBut(b - a),
        (Set::AllBut(a), Set::AllBut(b)) => Set::AllBut(a & b),
    }
}

/// Whether looking up each of `few` is cheaper than answering `did` on its own.
fn narrower(
    source: &dyn ActivitySource,
    index: &dyn PostingIndex,
    did: &ResolvedDid,
    few: &RoaringTreemap,
) -> bool {
    let lookups = few.len().saturating_mul(PERSON_LOOKUP_POSTINGS);
    // Compared with what answering `did` on its own reads, by the planner's estimate.
    match &did.filter {
        None => index.type_exceeds(did.type_id, did.min_ms, did.max_ms, lookups),
        Some(_) => lookups < choose_plan(source, index, &did_filter(did)).estimated,
    }
}

fn eval(list: &ResolvedList, source: &dyn ActivitySource, index: &dyn PostingIndex) -> Result<Set> {
    Ok(match list {
        // An empty `and` selects nobody, as the brute-force evaluation has it.
        ResolvedList::And(cs) if cs.is_empty() => Set::Is(RoaringTreemap::new()),
        ResolvedList::And(cs) => {
            // Terms that are not a `not` first: they usually select few persons, and
            // the terms after them are then looked up for those persons only.
            let positive = cs.iter().filter(|c| !matches!(c, ResolvedList::Not(_)));
            let negative = cs.iter().filter(|c| matches!(c, ResolvedList::Not(_)));
            let mut acc = Set::AllBut(RoaringTreemap::new());
            for c in positive.chain(negative) {
                let part = match (&acc, c) {
                    (Set::Is(few), ResolvedList::Did(did)) if narrower(source, index, did, few) => {
                        Set::Is(did_within(source, index, did, few)?)
                    }
                    (Set::Is(few), ResolvedList::Not(inner)) => match inner.as_ref() {
                        ResolvedList::Did(did) if narrower(source, index, did, few) => {
                            Set::AllBut(did_within(source, index, did, few)?)
                        }
                        _ => eval(c, source, index)?,
                    },
                    _ => eval(c, source, index)?,
                };
                acc = and(acc, part);
            }
            acc
        }
        ResolvedList::Or(cs) => {
            let mut acc = Set::Is(RoaringTreemap::new());
            for c in cs {
                acc = or(acc, eval(c, source, index)?);
            }
            acc
        }
        ResolvedList::Not(c) => match eval(c, source, index)? {
            Set::Is(s) => Set::AllBut(s),
            Set::AllBut(s) => Set::Is(s),
        },
        ResolvedList::Did(did) => Set::Is(did_by_index(source, index, did)?),
    })
}

/// The persons `list` selects, answered from the index: a `did` term without a filter
/// counts the persons of the type's postings in its window without reading an activity;
/// with a filter it fetches only the candidates of the cheapest index path, or scans
/// the log when that reads fewer. `not` is taken within [`PostingIndex::everyone`],
/// which is listed only when the list's answer is itself a complement (`A and not B`
/// is `A - B`). Gives what [`people_brute_force`] gives over the same activities with
/// every person who has one as the universe.
///
/// # Errors
///
/// [`crate::Error::Source`] when reading fails.
pub fn people_indexed(
    source: &dyn ActivitySource,
    index: &dyn PostingIndex,
    list: &ResolvedList,
) -> Result<RoaringTreemap> {
    Ok(match eval(list, source, index)? {
        Set::Is(s) => s,
        Set::AllBut(s) => index.everyone()? - s,
    })
}
