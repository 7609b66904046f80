//! Runs: each flush (and each merge) writes one immutable, sorted run per family, cut
//! into blocks of about [`BLOCK_BYTES_TARGET`] with a directory each. Here: writing a
//! run, scanning one in order, merging adjacent runs, deleting one.

use crate::codec::{self, BlockBuilder, BlockView, Post, Run, FAMILIES};
use crate::error::{Error, Result};
use crate::memtable::{Memtable, SortBuffers};

/// A block is sealed once its encoded size reaches this: large enough that a flush of
/// 500,000 documents writes a few hundred sled keys, small enough that the one block a
/// lookup reads costs a few microseconds to check.
pub(crate) const BLOCK_BYTES_TARGET: usize = 32 << 10;

/// Block size of the by-person family, whose lookups read one block per run. sled keeps
/// up to 16 keys in a leaf node and writes a node larger than a quarter of its 512 KiB
/// segment as a file of its own: sixteen 32 KiB blocks made every node such a file of
/// about 500 KiB, which a lookup that missed sled's cache opened and read whole (the
/// p99 of a person's latest 100 was 260-310 us). Nodes of 8 KiB blocks stay inside
/// the segments and a miss reads a quarter as much (p99 110-130 us). Nodes of 4 KiB
/// blocks halve that again: a person query at 10 M activities, which misses sled's
/// cache in most of its runs, went from a p99 of 190-570 us to 120-220 us, for 2-6
/// more bytes per activity in the index bench; 2 KiB took half as much again on disk
/// (docs/BENCHMARKS.md).
pub(crate) const PERSON_BLOCK_BYTES_TARGET: usize = 4 << 10;

/// Block size of the by-type family. A type's postings in a block are one group in
/// (occurred_at, id) order, so a time range decodes its blocks' postings from the
/// start of each up to the range's end: with 32 KiB blocks (about 4,800 postings) a
/// one-day range of a type decoded several times the postings it returned. At 8 KiB
/// the index's half of type + one day took 38 % fewer instructions, and the index's
/// size on disk moved within sled's run-to-run spread (docs/BENCHMARKS.md).
pub(crate) const TYPE_BLOCK_BYTES_TARGET: usize = 8 << 10;

/// Bytes at which a block of `family` is sealed.
fn block_bytes_target(family: u8) -> usize {
    if family == codec::FAMILY_PERSON {
        PERSON_BLOCK_BYTES_TARGET
    } else if family == codec::FAMILY_TYPE {
        TYPE_BLOCK_BYTES_TARGET
    } else {
        BLOCK_BYTES_TARGET
    }
}

/// Writes the blocks of one run, family by family, with plain sled inserts: blocks of a
/// run that no meta record names are garbage and deleted on open.
#[derive(Debug)]
pub(crate) struct RunWriter<'t> {
    tree: &'t sled::Tree,
    run: u64,
    block_postings_max: usize,
    builder: BlockBuilder,
    /// Encoded bytes at which `builder`'s block is sealed.
    block_bytes: usize,
    /// Key of the group open in `builder`.
    group: Vec<u8>,
    pub postings: u64,
    pub blocks: u64,
    /// occurred_at predictor of the blocks (see [`codec::rate_between`]).
    rate: i64,
}

impl<'t> RunWriter<'t> {
    pub fn new(tree: &'t sled::Tree, run: u64, block_postings_max: usize) -> Self {
        RunWriter {
            tree,
            run,
            block_postings_max: block_postings_max.max(1),
            builder: BlockBuilder::new(codec::FAMILY_PERSON),
            block_bytes: block_bytes_target(codec::FAMILY_PERSON),
            group: Vec::new(),
            postings: 0,
            blocks: 0,
            rate: 0,
        }
    }

    /// Sets the occurred_at predictor of the blocks of the next family.
    pub fn set_rate(&mut self, rate: i64) {
        self.rate = rate;
    }

    /// Starts the next family; seals the previous family's last block.
    pub fn family(&mut self, family: u8) -> Result<()> {
        self.cut()?;
        self.builder = BlockBuilder::new(family);
        self.block_bytes = block_bytes_target(family);
        self.builder.set_rate(self.rate);
        self.group.clear();
        Ok(())
    }

    fn cut(&mut self) -> Result<()> {
        if self.builder.is_empty() {
            return Ok(());
        }
        let n = self.builder.postings();
        let (k, v) = self.builder.finish(self.run);
        self.tree.insert(k, v)?;
        self.postings += u64::from(n);
        self.blocks += 1;
        self.group.clear();
        Ok(())
    }

    /// Appends postings of one group: the next group in the family's order, or more of
    /// the group of the previous call. Compares group keys once per call, not per
    /// posting.
    pub fn push_group(&mut self, group: &[u8], posts: &[Post]) -> Result<()> {
        if posts.is_empty() {
            // Nothing opened: `group` must not pass for the block's open group.
            return Ok(());
        }
        // The group of the previous call goes on in the open block; after a cut it is
        // opened again in the next.
        let mut open = !self.builder.is_empty() && self.group == group;
        for p in posts {
            if self.builder.postings() as usize >= self.block_postings_max
                || self.builder.bytes() >= self.block_bytes
            {
                self.cut()?;
                open = false;
            }
            if !open {
                self.builder.open_group(group);
                open = true;
            }
            self.builder.push(group, p);
        }
        // The next call compares against the open group.
        self.group.clear();
        self.group.extend_from_slice(group);
        Ok(())
    }

    /// Seals the last block; returns the run's descriptor.
    pub fn finish(mut self, first_id: u64, end_id: u64) -> Result<Run> {
        self.cut()?;
        Ok(Run {
            id: self.run,
            first_id,
            end_id,
            postings: self.postings,
            blocks: self.blocks,
        })
    }
}

/// Families written by the flushing thread; the others by a helper thread, so a flush
/// sorts and encodes on two cores. The split balances the sorts: the by-type key has
/// the most significant bits, the by-attribute one the fewest.
const FAMILIES_HERE: [u8; 2] = [codec::FAMILY_PERSON, codec::FAMILY_ATTRIBUTE];
const FAMILIES_HELPER: [u8; 2] = [codec::FAMILY_TYPE, codec::FAMILY_PRIMARY];

/// The occurred_at rate of a memtable, from its first and last documents.
fn memtable_rate(mem: &Memtable) -> i64 {
    match (mem.docs.first(), mem.docs.last()) {
        (Some(a), Some(b)) => {
            codec::rate_between(mem.first_id, a.occ, mem.end_id.saturating_sub(1), b.occ)
        }
        _ => 0,
    }
}

/// The occurred_at rate of the newest of `runs` that has a readable block; 0 if none.
fn runs_rate(tree: &sled::Tree, runs: &[Run]) -> i64 {
    for r in runs.iter().rev() {
        for family in FAMILIES {
            if let Some(Ok((k, v))) = tree.scan_prefix(codec::run_prefix(family, r.id)).next() {
                if let Ok(view) = BlockView::open(&k, &v) {
                    return view.shape.rate;
                }
            }
        }
    }
    0
}

/// Writes `families` of a memtable as part of run `run`; returns (postings, blocks).
fn write_families(
    tree: &sled::Tree,
    mem: &Memtable,
    run: u64,
    floor: u64,
    block_postings_max: usize,
    families: &[u8],
    buffers: &mut SortBuffers,
) -> Result<(u64, u64)> {
    let mut w = RunWriter::new(tree, run, block_postings_max);
    w.set_rate(memtable_rate(mem));
    for &family in families {
        w.family(family)?;
        mem.groups(family, floor, buffers, |g, posts| w.push_group(g, posts))?;
    }
    w.cut()?;
    Ok((w.postings, w.blocks))
}

/// Writes a memtable as run `run`, two families on a helper thread (or all on this one
/// if no thread can be started), each half sorting in its own of `buffers`.
pub(crate) fn write_memtable(
    tree: &sled::Tree,
    mem: &Memtable,
    run: u64,
    floor: u64,
    block_postings_max: usize,
    buffers: &mut [SortBuffers; 2],
) -> Result<Run> {
    let write = |families: &[u8], buffers: &mut SortBuffers| {
        write_families(tree, mem, run, floor, block_postings_max, families, buffers)
    };
    let [here_buffers, helper_buffers] = buffers;
    let ((p1, b1), (p2, b2)) = std::thread::scope(|s| -> Result<_> {
        let helper = std::thread::Builder::new()
            .name("actlog-index-flush".into())
            .spawn_scoped(s, || write(&FAMILIES_HELPER, helper_buffers));
        let here = write(&FAMILIES_HERE, here_buffers);
        let there = match helper {
            Ok(h) => h.join().map_err(|_| Error::Store {
                detail: "the flush helper thread panicked".into(),
            })?,
            Err(_) => write(&FAMILIES_HELPER, here_buffers),
        };
        Ok((here?, there?))
    })?;
    Ok(Run {
        id: run,
        first_id: mem.first_id,
        end_id: mem.end_id,
        postings: p1 + p2,
        blocks: b1 + b2,
    })
}

/// Reads one family of one run in order, a block at a time.
struct RunScan {
    iter: sled::Iter,
    /// The decoded block: its first `len` groups (the vectors past them are kept for
    /// their allocations).
    groups: Vec<(Vec<u8>, Vec<Post>)>,
    len: usize,
    gi: usize,
    pi: usize,
}

impl RunScan {
    fn new(tree: &sled::Tree, family: u8, run: u64) -> Self {
        let prefix = codec::run_prefix(family, run);
        RunScan {
            iter: tree.scan_prefix(prefix),
            groups: Vec::new(),
            len: 0,
            gi: 0,
            pi: 0,
        }
    }

    /// Loads blocks until a posting is at the head or the run is exhausted.
    fn fill(&mut self) -> Result<()> {
        loop {
            if self.gi < self.len {
                if self.pi < self.groups[self.gi].1.len() {
                    return Ok(());
                }
                self.gi += 1;
                self.pi = 0;
                continue;
            }
            let Some(kv) = self.iter.next() else {
                return Ok(());
            };
            let (k, v) = kv?;
            let view = BlockView::open(&k, &v).map_err(|b| codec::corrupted(&k, b))?;
            self.len = view.groups();
            self.gi = 0;
            self.pi = 0;
            if self.groups.len() < self.len {
                self.groups.resize_with(self.len, Default::default);
            }
            for (g, (key, posts)) in self.groups[..self.len].iter_mut().enumerate() {
                key.clear();
                key.extend_from_slice(view.group_key(g));
                posts.clear();
                view.decode_group(g, posts)
                    .map_err(|b| codec::corrupted(&k, b))?;
            }
        }
    }

    /// The group at the head, after [`RunScan::fill`]; `None` once the run is exhausted.
    fn head_group(&self) -> Option<&[u8]> {
        let (g, posts) = self.groups[..self.len].get(self.gi)?;
        (self.pi < posts.len()).then_some(g.as_slice())
    }

    /// The postings of the head's group left in the decoded block, head first.
    fn group_rest(&self) -> &[Post] {
        self.groups[..self.len]
            .get(self.gi)
            .map_or(&[], |(_, posts)| &posts[self.pi.min(posts.len())..])
    }

    /// Moves past `n` postings of the head's group (at most [`RunScan::group_rest`]'s).
    fn advance(&mut self, n: usize) {
        self.pi += n;
    }
}

/// Merges adjacent runs (`runs` oldest first) into run `run`, family by family and
/// group by group, dropping ids below `floor`. Within a group, the input whose head
/// comes first hands over every posting before the other inputs' heads in one piece:
/// where positions are ids (by person and by value) runs cover increasing ids, so an
/// input's part of a group goes over whole; by type, where positions are times, in
/// stretches. A posting by posting merge compared whole keys for every posting and was
/// most of a merge's cost. Memory: one decoded block per input run.
pub(crate) fn merge(
    tree: &sled::Tree,
    runs: &[Run],
    run: u64,
    floor: u64,
    block_postings_max: usize,
) -> Result<Run> {
    let mut w = RunWriter::new(tree, run, block_postings_max);
    w.set_rate(runs_rate(tree, runs));
    let mut group = Vec::new();
    let mut holding = Vec::new();
    let mut kept = Vec::new();
    for family in FAMILIES {
        w.family(family)?;
        let mut scans: Vec<RunScan> = runs
            .iter()
            .map(|r| RunScan::new(tree, family, r.id))
            .collect();
        loop {
            for s in scans.iter_mut() {
                s.fill()?;
            }
            // The smallest group at a head, and the scans that hold it, oldest first.
            let Some(smallest) = scans.iter().filter_map(RunScan::head_group).min() else {
                break;
            };
            group.clear();
            group.extend_from_slice(smallest);
            holding.clear();
            holding.extend((0..scans.len()).filter(|&i| scans[i].head_group() == Some(&group[..])));
            let pos = |p: &Post| u128::from_be_bytes(codec::pos_of(family, p));
            while !holding.is_empty() {
                // The input whose head comes first (the older on a tie), and the first
                // head of the others.
                let mut best: Option<(usize, u128)> = None;
                let mut bound: Option<u128> = None;
                for (at, &i) in holding.iter().enumerate() {
                    let Some(p) = scans[i].group_rest().first() else {
                        continue;
                    };
                    let head = pos(p);
                    match best {
                        Some((_, b)) if head >= b => {
                            bound = Some(bound.map_or(head, |x| x.min(head)));
                        }
                        _ => {
                            if let Some((_, b)) = best {
                                bound = Some(bound.map_or(b, |x| x.min(b)));
                            }
                            best = Some((at, head));
                        }
                    }
                }
                let Some((at, _)) = best else { break };
                let s = &mut scans[holding[at]];
                let rest = s.group_rest();
                let n = match bound {
                    None => rest.len(),
                    Some(b) => rest.partition_point(|p| pos(p) < b).max(1),
                };
                let piece = &rest[..n];
                if piece.iter().all(|p| p.id >= floor) {
                    w.push_group(&group, piece)?;
                } else {
                    kept.clear();
                    kept.extend(piece.iter().filter(|p| p.id >= floor));
                    w.push_group(&group, &kept)?;
                }
                s.advance(n);
                if s.group_rest().is_empty() {
                    s.fill()?;
                    if s.head_group() != Some(&group[..]) {
                        holding.remove(at);
                    }
                }
            }
        }
    }
    let first_id = runs.first().map_or(0, |r| r.first_id);
    let end_id = runs.last().map_or(0, |r| r.end_id);
    w.finish(first_id, end_id)
}

/// Which adjacent runs [`next_merge`] merges.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MergePolicy {
    /// Postings of a run of the lowest size tier: a full memtable's.
    pub unit_postings: u64,
    /// Adjacent runs of one size tier merged into one; 0 merges pairs only.
    pub fanout: usize,
    /// Runs kept before any merge.
    pub runs_max: usize,
}

impl MergePolicy {
    /// The size tier of a run of `postings`: 0 below `fanout` units, 1 below `fanout`²
    /// units, and so on (always 0 for a fanout below 2, which has no tiers).
    fn tier(&self, postings: u64) -> u32 {
        let fanout = self.fanout as u64;
        if fanout < 2 {
            return 0;
        }
        let mut bound = self.unit_postings.max(1).saturating_mul(fanout);
        let mut tier = 0;
        while postings >= bound && bound < u64::MAX {
            tier += 1;
            bound = bound.saturating_mul(fanout);
        }
        tier
    }
}

/// The adjacent runs (of `runs`, oldest first) to merge next, if any: none up to
/// `runs_max` runs; past it, the youngest stretch of `fanout` runs of one size tier, else
/// the oldest adjacent pair with the fewest postings.
///
/// Merges wait for `runs_max` runs because a merge costs the indexer about what the
/// flushes it undoes did: an ingest of 10 M activities with four writers was indexed at
/// 0.65–0.88 M/s with pairs merged past 8 runs, at 1.02 M/s with no merge
/// (docs/BENCHMARKS.md).
/// Merging runs of one size then keeps a growing index from being rewritten ever more
/// often: with memtables of one unit, pairs past 16 runs rewrite each posting 1.7 times
/// by 50 memtables, 4.3 by 150 and 12.5 by 500; tiers of 4 past 16 runs, 1.2, 2.7 and
/// 5.3 (`merges_past_runs_max_rewrite_less_in_tiers`).
pub(crate) fn next_merge(runs: &[Run], policy: &MergePolicy) -> Option<std::ops::Range<usize>> {
    if runs.len() <= policy.runs_max {
        return None;
    }
    let fanout = policy.fanout;
    if fanout >= 2 && runs.len() >= fanout {
        for start in (0..=runs.len() - fanout).rev() {
            let tier = policy.tier(runs[start].postings);
            if runs[start + 1..start + fanout]
                .iter()
                .all(|r| policy.tier(r.postings) == tier)
            {
                return Some(start..start + fanout);
            }
        }
    }
    (0..runs.len() - 1)
        .min_by_key(|&i| runs[i].postings + runs[i + 1].postings)
        .map(|i| i..i + 2)
}

/// Removes every block of run `run`.
pub(crate) fn delete_run(tree: &sled::Tree, run: u64) -> Result<()> {
    for family in FAMILIES {
        let mut batch = sled::Batch::default();
        for kv in tree.scan_prefix(codec::run_prefix(family, run)) {
            let (k, _) = kv?;
            batch.remove(k);
        }
        tree.apply_batch(batch)?;
    }
    Ok(())
}

/// Deletes every block whose run is not in `live` (left by a flush or merge that
/// crashed before its meta record, or by a merge that crashed before deleting its
/// inputs). Seeks from run to run: cost in proportion to the runs, not the blocks.
pub(crate) fn sweep_garbage(tree: &sled::Tree, live: &[Run]) -> Result<u64> {
    let mut removed = 0;
    for family in FAMILIES {
        let mut next = codec::run_prefix(family, 0).to_vec();
        let end = [family + 1];
        loop {
            let Some(kv) = tree.range(next.clone()..end.to_vec()).next() else {
                break;
            };
            let (k, _) = kv?;
            let Some(run) = codec::key_run(&k) else {
                // A malformed key: verify() reports it.
                next = k.to_vec();
                next.push(0);
                continue;
            };
            if !live.iter().any(|r| r.id == run) {
                delete_run(tree, run)?;
                removed += 1;
            }
            match run.checked_add(1) {
                Some(r) => next = codec::run_prefix(family, r).to_vec(),
                None => break,
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs_of(postings: &[u64]) -> Vec<Run> {
        postings
            .iter()
            .enumerate()
            .map(|(i, &postings)| Run {
                id: i as u64,
                first_id: i as u64 * 10,
                end_id: i as u64 * 10 + 10,
                postings,
                blocks: 1,
            })
            .collect()
    }

    const TIERS_OF_4: MergePolicy = MergePolicy {
        unit_postings: 100,
        fanout: 4,
        runs_max: 3,
    };

    /// Every family's (group, posting) sequence of run `run`, as a scan reads it.
    fn scanned(tree: &sled::Tree, run: u64) -> Vec<(u8, Vec<u8>, Post)> {
        let mut out = Vec::new();
        for family in FAMILIES {
            let mut s = RunScan::new(tree, family, run);
            s.fill().unwrap();
            while let Some(g) = s.head_group().map(<[u8]>::to_vec) {
                for p in s.group_rest() {
                    out.push((family, g.clone(), *p));
                }
                let n = s.group_rest().len();
                s.advance(n);
                s.fill().unwrap();
            }
        }
        out
    }

    #[test]
    fn a_merge_writes_what_one_run_of_all_its_documents_holds() {
        use crate::IndexDoc;
        use actlog_model::{ActivityId, AttributeId, PersonId, TypeId};
        let values: [&[u8]; 3] = [b"a", b"b", b"c\0"];
        let attrs: Vec<[(AttributeId, &[u8]); 1]> =
            (0..3).map(|v| [(AttributeId(7), values[v])]).collect();
        // Few persons, types and values, so that groups span runs and blocks; times
        // out of id order, so that by-type groups interleave across runs.
        let doc = |i: u64| IndexDoc {
            id: ActivityId(i),
            person: PersonId(i * 7 % 13),
            type_id: TypeId(1 + (i % 3) as u32),
            occurred_at_ms: 1_000 * i as i64 + (i * 7_919 % 50_000) as i64,
            primary_key: Some(values[(i % 3) as usize]),
            attributes: if i.is_multiple_of(2) {
                &attrs[(i / 2 % 3) as usize][..]
            } else {
                &[]
            },
        };
        let memtable = |ids: std::ops::Range<u64>| {
            let mut m = Memtable::new(ids.start);
            let docs: Vec<IndexDoc<'_>> = ids.map(doc).collect();
            m.add(&docs);
            m
        };
        let db = sled::Config::new().temporary(true).open().unwrap();
        let mut buffers: [SortBuffers; 2] = Default::default();
        for floor in [0, 150, 420] {
            let inputs: Vec<Run> = [0..200, 200..350, 350..600]
                .into_iter()
                .enumerate()
                .map(|(i, ids)| {
                    write_memtable(
                        &db,
                        &memtable(ids),
                        10 * floor + i as u64,
                        0,
                        7,
                        &mut buffers,
                    )
                    .unwrap()
                })
                .collect();
            let merged = merge(&db, &inputs, 10 * floor + 5, floor, 7).unwrap();
            let whole = write_memtable(
                &db,
                &memtable(0..600),
                10 * floor + 6,
                floor,
                7,
                &mut buffers,
            )
            .unwrap();
            assert_eq!(merged.postings, whole.postings, "floor {floor}");
            assert_eq!(
                scanned(&db, merged.id),
                scanned(&db, whole.id),
                "floor {floor}"
            );
        }
    }

    #[test]
    fn tiers_grow_by_the_fanout() {
        let tiers: Vec<u32> = [0, 1, 399, 400, 1_599, 1_600, 6_400, u64::MAX]
            .iter()
            .map(|&p| TIERS_OF_4.tier(p))
            .collect();
        assert_eq!(tiers, [0, 0, 0, 1, 1, 2, 3, 28]);
        for fanout in [0, 1] {
            let flat = MergePolicy {
                fanout,
                ..TIERS_OF_4
            };
            assert_eq!(flat.tier(u64::MAX), 0);
        }
    }

    #[test]
    fn past_runs_max_the_youngest_stretch_of_one_tier_merges_first() {
        assert_eq!(next_merge(&runs_of(&[100, 100, 100]), &TIERS_OF_4), None);
        assert_eq!(
            next_merge(&runs_of(&[100, 100, 100, 100]), &TIERS_OF_4),
            Some(0..4)
        );
        // Two tier-1 runs, then five tier-0 ones: the youngest four merge.
        assert_eq!(
            next_merge(&runs_of(&[400, 500, 90, 100, 100, 100, 100]), &TIERS_OF_4),
            Some(3..7)
        );
        // Four tier-1 runs behind three tier-0 ones.
        assert_eq!(
            next_merge(&runs_of(&[400, 500, 450, 700, 100, 100, 100]), &TIERS_OF_4),
            Some(0..4)
        );
    }

    #[test]
    fn without_a_stretch_of_one_tier_the_smallest_adjacent_pair_merges() {
        // Seven runs, no four of one tier in a row; of the two smallest pairs, the older.
        let runs = runs_of(&[6_400, 1_600, 400, 100, 1_600, 400, 100]);
        assert_eq!(next_merge(&runs, &TIERS_OF_4), Some(2..4));
        let pairs_only = MergePolicy {
            fanout: 0,
            runs_max: 6,
            ..TIERS_OF_4
        };
        assert_eq!(next_merge(&runs_of(&[100; 6]), &pairs_only), None);
        assert_eq!(next_merge(&runs_of(&[100; 7]), &pairs_only), Some(0..2));
    }

    /// Postings rewritten by merges while `flushes` memtables of one unit each arrive,
    /// and the most runs ever left: the figures of [`next_merge`]'s comment.
    fn simulate(flushes: u64, policy: &MergePolicy) -> (u64, usize) {
        let mut runs = Vec::new();
        let (mut rewritten, mut most) = (0, 0);
        for i in 0..flushes {
            runs.push(Run {
                id: i,
                first_id: i,
                end_id: i + 1,
                postings: policy.unit_postings,
                blocks: 1,
            });
            while let Some(r) = next_merge(&runs, policy) {
                let postings = runs[r.clone()].iter().map(|r| r.postings).sum();
                rewritten += postings;
                let merged = Run {
                    id: runs[r.start].id,
                    first_id: runs[r.start].first_id,
                    end_id: runs[r.end - 1].end_id,
                    postings,
                    blocks: 1,
                };
                runs.splice(r, [merged]);
            }
            most = most.max(runs.len());
        }
        (rewritten / policy.unit_postings, most)
    }

    #[test]
    fn merges_past_runs_max_rewrite_less_in_tiers() {
        let tiers = MergePolicy {
            unit_postings: 1,
            fanout: 4,
            runs_max: 16,
        };
        let pairs = MergePolicy { fanout: 0, ..tiers };
        // Postings rewritten, in memtables, after 15, 50, 150 and 500 memtables.
        let rewritten = |policy: &MergePolicy| {
            [15, 50, 150, 500].map(|flushes| {
                let (rewritten, most) = simulate(flushes, policy);
                assert_eq!(most, 16.min(flushes as usize));
                rewritten
            })
        };
        assert_eq!(rewritten(&pairs), [0, 86, 649, 6_264]);
        assert_eq!(rewritten(&tiers), [0, 60, 410, 2_635]);
    }

    /// Every key and value of `tree`.
    fn contents(tree: &sled::Tree) -> Vec<(Vec<u8>, Vec<u8>)> {
        tree.iter()
            .map(|kv| {
                let (k, v) = kv.unwrap();
                (k.to_vec(), v.to_vec())
            })
            .collect()
    }

    #[test]
    fn a_group_handed_over_in_pieces_writes_the_blocks_of_the_whole_group() {
        // Three type groups, the middle one larger than a block and than a piece.
        let posts: Vec<(u32, Post)> = (0..30_000u64)
            .map(|i| {
                let t = if i < 100 {
                    1
                } else if i < 29_000 {
                    2
                } else {
                    3
                };
                let p = Post {
                    id: i,
                    occ: 1_000 * i as i64 + (i % 7) as i64,
                    aux: i * 7_919 % 1_000_000,
                };
                (t, p)
            })
            .collect();
        let write = |piece: usize| {
            let db = sled::Config::new().temporary(true).open().unwrap();
            let mut w = RunWriter::new(&db, 4, 100_000);
            w.set_rate(1_000 << 16);
            w.family(codec::FAMILY_TYPE).unwrap();
            for group in posts.chunk_by(|a, b| a.0 == b.0) {
                let key = codec::type_group(group[0].0);
                let all: Vec<Post> = group.iter().map(|(_, p)| *p).collect();
                for part in all.chunks(piece) {
                    w.push_group(&key, part).unwrap();
                }
            }
            let run = w.finish(0, 30_000).unwrap();
            (run.postings, run.blocks, contents(&db))
        };
        let whole = write(usize::MAX);
        assert_eq!(whole.0, 30_000);
        assert!(whole.1 > 3, "the large group spans blocks");
        for piece in [1, 7, 4_096] {
            assert_eq!(write(piece), whole, "pieces of {piece}");
        }
    }
}
