//! Shared helpers: owned documents, a brute-force model of every lookup, and one
//! `check` that compares the index with it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use actlog_index::{
    IdRange, Index, IndexDoc, KeyRange, Order, PersonPosting, TimeRange, TypePosting, ValuePosting,
};
use actlog_model::{ActivityId, AttributeId, PersonId, TypeId};
use std::ops::Bound;

/// An owned document.
#[derive(Debug, Clone)]
pub struct Doc {
    pub id: u64,
    pub person: u64,
    pub type_id: u32,
    pub occ: i64,
    pub primary: Option<Vec<u8>>,
    pub attrs: Vec<(u16, Vec<u8>)>,
}

pub const VALUES: [&[u8]; 5] = [b"", b"\0", b"a", b"a\0", b"b"];

/// Borrowed views of `docs`, for `Index::add`.
pub fn with_docs<R>(docs: &[Doc], f: impl FnOnce(&[IndexDoc<'_>]) -> R) -> R {
    let attrs: Vec<Vec<(AttributeId, &[u8])>> = docs
        .iter()
        .map(|d| {
            d.attrs
                .iter()
                .map(|(a, v)| (AttributeId(*a), v.as_slice()))
                .collect()
        })
        .collect();
    let views: Vec<IndexDoc<'_>> = docs
        .iter()
        .zip(&attrs)
        .map(|(d, a)| IndexDoc {
            id: ActivityId(d.id),
            person: PersonId(d.person),
            type_id: TypeId(d.type_id),
            occurred_at_ms: d.occ,
            primary_key: d.primary.as_deref(),
            attributes: a,
        })
        .collect();
    f(&views)
}

pub fn add(index: &Index, docs: &[Doc]) {
    with_docs(docs, |v| index.add(v)).unwrap();
}

/// A small deterministic generator (xorshift), so failures replay from the seed.
pub struct Gen(pub u64);

impl Gen {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// A document with the given id: few persons, types and values so that lookups
    /// hit many blocks; times move forward a minute per id with jitter and some
    /// activities back-dated by hours (past the by-type block span).
    pub fn doc(&mut self, id: u64) -> Doc {
        let mut occ = 1_700_000_000_000 + id as i64 * 60_000 + self.below(120_000) as i64 - 60_000;
        if self.below(10) == 0 {
            occ -= self.below(4 * 3_600_000) as i64;
        }
        let primary = (self.below(5) != 0).then(|| VALUES[self.below(5) as usize].to_vec());
        let attrs = if self.below(2) == 0 {
            vec![(7u16, VALUES[self.below(3) as usize].to_vec())]
        } else {
            vec![]
        };
        Doc {
            id,
            person: self.below(5),
            type_id: self.below(3) as u32,
            occ,
            primary,
            attrs,
        }
    }
}

/// [`Index::persons`] gives every asked person's postings in `range`, persons ascending,
/// as a brute-force scan of `live` does.
pub fn check_persons(index: &Index, live: &[&Doc], persons: &[u64], range: IdRange) {
    let mut sorted = persons.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let want: Vec<(PersonId, PersonPosting)> = sorted
        .iter()
        .flat_map(|&p| {
            live.iter()
                .filter(move |d| {
                    d.person == p && d.id >= range.start.get() && d.id < range.end.get()
                })
                .map(|d| {
                    (
                        PersonId(d.person),
                        PersonPosting {
                            id: ActivityId(d.id),
                            type_id: TypeId(d.type_id),
                            occurred_at_ms: d.occ,
                        },
                    )
                })
        })
        .collect();
    let asked: Vec<PersonId> = persons.iter().map(|&p| PersonId(p)).collect();
    let got = collect(index.persons(&asked, range));
    assert_eq!(got, want, "persons {persons:?} {range:?}");
}

/// [`Index::persons_reaching`] gives the asked persons with at least so many postings
/// of each type in a random time range and `range`, as counting `live` does.
pub fn check_reaching(index: &Index, live: &[&Doc], persons: &[u64], range: IdRange, g: &mut Gen) {
    let max_id = live.last().map_or(0, |d| d.id + 1);
    let base = 1_700_000_000_000i64;
    let a = base + g.below(max_id * 60_000 + 1) as i64 - 3_600_000;
    let b = a + g.below(max_id * 60_000 + 1) as i64;
    let asked: Vec<PersonId> = persons.iter().map(|&p| PersonId(p)).collect();
    for t in 0..3u32 {
        for time in [
            TimeRange::all(),
            TimeRange {
                start_ms: a,
                end_ms: b,
            },
        ] {
            for at_least in [0, 1, 2, 4] {
                let mut want: Vec<PersonId> = asked
                    .iter()
                    .copied()
                    .filter(|p| {
                        let n = live
                            .iter()
                            .filter(|d| {
                                d.person == p.get()
                                    && d.type_id == t
                                    && d.occ >= time.start_ms
                                    && d.occ < time.end_ms
                                    && d.id >= range.start.get()
                                    && d.id < range.end.get()
                            })
                            .count();
                        n >= at_least
                    })
                    .collect();
                want.sort_unstable();
                want.dedup();
                let got = index
                    .persons_reaching(&asked, TypeId(t), time, range, at_least as u32)
                    .unwrap();
                assert_eq!(
                    got, want,
                    "persons {persons:?} reaching {at_least} of type {t} in {time:?} {range:?}"
                );
            }
        }
    }
}

fn collect<T>(it: impl Iterator<Item = actlog_index::Result<T>>) -> Vec<T> {
    it.collect::<Result<Vec<_>, _>>().unwrap()
}

type KeyBounds<'a> = (Bound<&'a [u8]>, Bound<&'a [u8]>);

fn in_key_range(v: &[u8], start: Bound<&[u8]>, end: Bound<&[u8]>) -> bool {
    (match start {
        Bound::Unbounded => true,
        Bound::Included(s) => v >= s,
        Bound::Excluded(s) => v > s,
    }) && (match end {
        Bound::Unbounded => true,
        Bound::Included(e) => v <= e,
        Bound::Excluded(e) => v < e,
    })
}

fn ordered<T>(mut v: Vec<T>, order: Order) -> Vec<T> {
    if order == Order::Descending {
        v.reverse();
    }
    v
}

/// Compares every kind of lookup with a brute-force scan of `docs` (ids below `floor`
/// excluded). `docs` are every live document in id order.
pub fn check(index: &Index, docs: &[Doc], floor: u64, g: &mut Gen) {
    let live: Vec<&Doc> = docs.iter().filter(|d| d.id >= floor).collect();
    let max_id = docs.last().map_or(0, |d| d.id + 1);
    for order in [Order::Ascending, Order::Descending] {
        for person in 0..5u64 {
            let lo = g.below(max_id + 2);
            let hi = lo + g.below(max_id + 2);
            for range in [
                IdRange::all(),
                IdRange {
                    start: ActivityId(lo),
                    end: ActivityId(hi),
                },
            ] {
                let want: Vec<PersonPosting> = live
                    .iter()
                    .filter(|d| {
                        d.person == person && d.id >= range.start.get() && d.id < range.end.get()
                    })
                    .map(|d| PersonPosting {
                        id: ActivityId(d.id),
                        type_id: TypeId(d.type_id),
                        occurred_at_ms: d.occ,
                    })
                    .collect();
                let got = collect(index.person(PersonId(person), range, order));
                assert_eq!(
                    got,
                    ordered(want, order),
                    "person {person} {range:?} {order:?}"
                );
            }
            let n = live.iter().filter(|d| d.person == person).count() as u64;
            assert!(index.estimate_person(PersonId(person)) >= n);
        }
        // Sixteen persons (five with activities) are walked run by run; two are
        // looked up one by one.
        let lo = g.below(max_id + 2);
        let hi = lo + g.below(max_id + 2);
        let asked: Vec<u64> = (0..16).rev().collect();
        for range in [
            IdRange::all(),
            IdRange {
                start: ActivityId(lo),
                end: ActivityId(hi),
            },
        ] {
            check_persons(index, &live, &asked, range);
            check_persons(index, &live, &[3, 1], range);
            check_reaching(index, &live, &asked, range, g);
            check_reaching(index, &live, &[3, 1, 3], range, g);
            // Every person with a posting in the range, from the by-person groups.
            let want: std::collections::BTreeSet<u64> = live
                .iter()
                .filter(|d| d.id >= range.start.get() && d.id < range.end.get())
                .map(|d| d.person)
                .collect();
            let mut got = std::collections::BTreeSet::new();
            index
                .for_each_person(range, |p| {
                    got.insert(p.get());
                })
                .unwrap();
            assert_eq!(got, want, "persons in {range:?}");
        }
        for t in 0..3u32 {
            let base = 1_700_000_000_000i64;
            let a = base + g.below(max_id * 60_000 + 1) as i64 - 3_600_000;
            let b = a + g.below(6 * 3_600_000) as i64;
            // Every id, and ids in a random range (runs wholly outside it are skipped).
            let lo = g.below(max_id + 2);
            let ids_in = IdRange {
                start: ActivityId(lo),
                end: ActivityId(lo + g.below(max_id + 2)),
            };
            let times = [
                TimeRange::all(),
                TimeRange {
                    start_ms: a,
                    end_ms: b,
                },
            ];
            for (time, ids) in times
                .into_iter()
                .flat_map(|time| [(time, IdRange::all()), (time, ids_in)])
            {
                let mut want: Vec<TypePosting> = live
                    .iter()
                    .filter(|d| d.type_id == t && d.occ >= time.start_ms && d.occ < time.end_ms)
                    .filter(|d| d.id >= ids.start.get() && d.id < ids.end.get())
                    .map(|d| TypePosting {
                        id: ActivityId(d.id),
                        person: PersonId(d.person),
                        occurred_at_ms: d.occ,
                    })
                    .collect();
                want.sort_by_key(|p| (p.occurred_at_ms, p.id));
                let got = collect(index.by_type(TypeId(t), time, ids, order));
                assert_eq!(
                    got,
                    ordered(want.clone(), order),
                    "type {t} {time:?} {ids:?} {order:?}"
                );
                // Run after run: the same postings, in no set order.
                let mut unordered = Vec::new();
                index
                    .by_type_unordered(TypeId(t), time, ids)
                    .for_each_posting(|p| unordered.push(p))
                    .unwrap();
                unordered.sort_by_key(|p| (p.occurred_at_ms, p.id));
                assert_eq!(unordered, want, "type {t} {time:?} {ids:?} unordered");
                // Estimates count groups of blocks, a share of a block's postings
                // each: never zero when something matches.
                let estimate = index.estimate_type(TypeId(t), time, ids);
                assert!(want.is_empty() || estimate > 0);
                // A capped estimate tells the same about its cap.
                for cap in [0, 1, 3, estimate / 2, estimate.saturating_sub(1), estimate] {
                    let capped = index.estimate_type_capped(TypeId(t), time, ids, cap);
                    assert_eq!(capped > cap, estimate > cap, "type {t} {time:?} cap {cap}");
                    assert!(capped <= estimate);
                }
            }
            let ranges: [KeyBounds<'_>; 5] = [
                (Bound::Unbounded, Bound::Unbounded),
                (Bound::Included(b"\0"), Bound::Excluded(b"a\0")),
                (Bound::Excluded(b"\0"), Bound::Included(b"a\0")),
                (Bound::Included(b"\0"), Bound::Included(b"a\0")),
                (Bound::Excluded(b"a"), Bound::Unbounded),
            ];
            let mut keys: Vec<KeyRange<'_>> = VALUES.iter().map(|v| KeyRange::Exact(v)).collect();
            // A range from a key to itself is read as that one key.
            keys.extend(VALUES.iter().map(|v| KeyRange::Range {
                start: Bound::Included(v),
                end: Bound::Included(v),
            }));
            keys.extend(
                ranges
                    .iter()
                    .map(|&(start, end)| KeyRange::Range { start, end }),
            );
            // Every id, and ids in a random range (runs wholly outside it are skipped).
            let lo = g.below(max_id + 2);
            let hi = lo + g.below(max_id + 2);
            let ids_in = IdRange {
                start: ActivityId(lo),
                end: ActivityId(hi),
            };
            for (key, ids) in keys
                .iter()
                .flat_map(|k| [(*k, IdRange::all()), (*k, ids_in)])
            {
                let (s, e) = match key {
                    KeyRange::Exact(k) => (Bound::Included(k), Bound::Included(k)),
                    KeyRange::Range { start, end } => (start, end),
                };
                let in_ids = |d: &&&Doc| d.id >= ids.start.get() && d.id < ids.end.get();
                let mut want: Vec<(Vec<u8>, ValuePosting)> = live
                    .iter()
                    .filter(in_ids)
                    .filter(|d| d.type_id == t)
                    .filter_map(|d| d.primary.as_ref().map(|p| (p, d)))
                    .filter(|(p, _)| in_key_range(p, s, e))
                    .map(|(p, d)| {
                        (
                            p.clone(),
                            ValuePosting {
                                id: ActivityId(d.id),
                                occurred_at_ms: d.occ,
                            },
                        )
                    })
                    .collect();
                want.sort_by(|x, y| (&x.0, x.1.id).cmp(&(&y.0, y.1.id)));
                let want: Vec<ValuePosting> = want.into_iter().map(|x| x.1).collect();
                let got = collect(index.by_primary(TypeId(t), key, ids, order));
                assert_eq!(
                    got,
                    ordered(want.clone(), order),
                    "primary {t} {key:?} {ids:?} {order:?}"
                );
                assert!(want.is_empty() || index.estimate_primary(TypeId(t), key, ids) > 0);

                let mut want: Vec<(Vec<u8>, ValuePosting)> = live
                    .iter()
                    .filter(in_ids)
                    .filter(|d| d.type_id == t)
                    .flat_map(|d| d.attrs.iter().map(move |a| (a, d)))
                    .filter(|((a, v), _)| *a == 7 && in_key_range(v, s, e))
                    .map(|((_, v), d)| {
                        (
                            v.clone(),
                            ValuePosting {
                                id: ActivityId(d.id),
                                occurred_at_ms: d.occ,
                            },
                        )
                    })
                    .collect();
                want.sort_by(|x, y| (&x.0, x.1.id).cmp(&(&y.0, y.1.id)));
                let want: Vec<ValuePosting> = want.into_iter().map(|x| x.1).collect();
                let got = collect(index.by_attribute(TypeId(t), AttributeId(7), key, ids, order));
                assert_eq!(
                    got,
                    ordered(want, order),
                    "attribute {t} {key:?} {ids:?} {order:?}"
                );
            }
        }
    }
}
