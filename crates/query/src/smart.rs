//! Smart lists resolved against the catalog, and their brute-force evaluation.

use crate::ast::SmartList;
use crate::error::Result;
use crate::resolve::{matches, resolve_in_type, type_id, ResolvedFilter};
use actlog_model::{Activity, Catalog, TypeId};
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
        activity.type_id == self.type_id
            && (self.min_ms..=self.max_ms).contains(&activity.occurred_at_ms)
            && self.filter.as_ref().is_none_or(|f| matches(f, activity))
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
    source: &dyn crate::exec::ActivitySource,
    list: &ResolvedList,
    universe: &RoaringTreemap,
) -> Result<RoaringTreemap> {
    let mut dids = Vec::new();
    collect_dids(list, &mut dids);
    let mut sets = Vec::with_capacity(dids.len());
    let (first, end) = (source.first_id(), source.end_id());
    for did in dids {
        let (mut min_ms, mut max_ms) = (did.min_ms, did.max_ms);
        if let Some(f) = &did.filter {
            let (lo, hi) = crate::exec::occurred_bounds(f);
            min_ms = min_ms.max(lo);
            max_ms = max_ms.min(hi);
        }
        let mut counts: HashMap<u64, u32> = HashMap::new();
        for s in source.segments() {
            if s.occurred_max_ms < min_ms || s.occurred_min_ms > max_ms {
                continue;
            }
            for a in source.scan(s.first.max(first), s.end.min(end)) {
                let a = a?;
                if did.counts(&a) {
                    *counts.entry(a.person.get()).or_default() += 1;
                }
            }
        }
        let set: RoaringTreemap = counts
            .into_iter()
            .filter(|(_, n)| *n >= did.at_least)
            .map(|(p, _)| p)
            .collect();
        sets.push(set);
    }
    let mut next = 0;
    Ok(combine(list, &sets, &mut next, universe))
}
