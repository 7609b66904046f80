//! The one deterministic, seeded workload generator shared by every bench.
//!
//! Every bench, every peer and the `actlog bench` command draw their activities from
//! here, so that figures measured by different programs describe the same data. The
//! shape follows the baseline measurements (docs/BENCHMARKS.md):
//!
//! - **persons**: 100,000, drawn with a Zipf (s = 0.8) distribution over popularity
//!   ranks; the ranks are scattered over the id space `1..=100_000` by a seeded
//!   shuffle, so popular persons are not the low ids;
//! - **types**: uniform over the 20 entries of [`ACTIVITY_TYPES`];
//! - **time**: a clock starting 2024-01-01T00:00:00Z advances by exponentially
//!   distributed gaps (Poisson arrivals) of 15 s on average, and each activity is
//!   stamped at the clock plus a uniform ±5 s jitter, so the stream is slightly out of
//!   order, as real collected events are;
//! - **primary**: a 16–24 byte string from a pool of 1,000;
//! - **attributes**: `source`, a 10–21 byte string from a pool of 64; `value`, an
//!   integer in `0..1_000_000`; `note`, a 24–72 byte string from a pool of 65,536.
//!
//! The output for a given seed is part of the benches' contract: a change to the
//! algorithm changes every figure, so a unit test pins a fingerprint of the stream.
//! The generator uses its own small PRNG (xoshiro256++ seeded through splitmix64)
//! rather than `rand`, so that a dependency upgrade cannot change the data.

use crate::error::{Error, Result};

/// 2024-01-01T00:00:00Z in Unix milliseconds: where the workload's clock starts.
pub const START_MS: i64 = 1_704_067_200_000;

/// The seed used by the benches unless told otherwise.
pub const DEFAULT_SEED: u64 = 0x00AC_710C_2024_0101;

/// One generated activity: plain data, independent of any actlog crate.
///
/// The strings borrow from the [`Workload`]'s pools, so an activity is `Copy` and
/// generating one touches no shared counter: with `Arc<str>` strings, the reference
/// count of a random note (a cache miss plus a locked increment) took 40% of the
/// generation time. Writers on several threads share one `Workload` by reference
/// (`std::thread::scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenActivity<'w> {
    /// The person's id.
    pub person: u64,
    /// Index into [`ACTIVITY_TYPES`].
    pub type_index: u32,
    /// When the activity happened, in Unix milliseconds.
    pub occurred_at_ms: i64,
    /// The value of the type's primary attribute.
    pub primary: &'w str,
    /// The `source` attribute.
    pub source: &'w str,
    /// The `value` attribute.
    pub value: i64,
    /// The `note` attribute.
    pub note: &'w str,
}

/// Data type of an attribute, named as in Marketo's activity type API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DataType {
    /// A short string (Marketo `string`, at most 255 characters).
    String,
    /// A longer free text (Marketo `text`).
    Text,
    /// A signed integer (Marketo `integer`).
    Integer,
}

impl DataType {
    /// The Marketo name of the data type (`"string"`, `"text"`, `"integer"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            DataType::String => "string",
            DataType::Text => "text",
            DataType::Integer => "integer",
        }
    }
}

/// One attribute of a generated activity type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttributeSpec {
    /// API name of the attribute.
    pub api_name: &'static str,
    /// Display name of the attribute.
    pub name: &'static str,
    /// Data type of the attribute's values.
    pub data_type: DataType,
}

/// One activity type of the workload, so that an engine bench can define it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivityTypeSpec {
    /// API name of the type (`webinarAttended`).
    pub api_name: &'static str,
    /// Display name of the type (`Webinar Attended`).
    pub name: &'static str,
    /// The primary attribute; its values are [`GenActivity::primary`].
    pub primary: AttributeSpec,
    /// The extra attributes, in the order `source`, `value`, `note`.
    pub attributes: [AttributeSpec; 3],
}

const SOURCE: AttributeSpec = AttributeSpec {
    api_name: "source",
    name: "Source",
    data_type: DataType::String,
};
const VALUE: AttributeSpec = AttributeSpec {
    api_name: "value",
    name: "Value",
    data_type: DataType::Integer,
};
const NOTE: AttributeSpec = AttributeSpec {
    api_name: "note",
    name: "Note",
    data_type: DataType::Text,
};

const fn type_spec(
    api_name: &'static str,
    name: &'static str,
    primary_api_name: &'static str,
    primary_name: &'static str,
) -> ActivityTypeSpec {
    ActivityTypeSpec {
        api_name,
        name,
        primary: AttributeSpec {
            api_name: primary_api_name,
            name: primary_name,
            data_type: DataType::String,
        },
        attributes: [SOURCE, VALUE, NOTE],
    }
}

/// The 20 activity types of the workload; [`GenActivity::type_index`] indexes this.
pub const ACTIVITY_TYPES: [ActivityTypeSpec; 20] = [
    type_spec(
        "webinarAttended",
        "Webinar Attended",
        "webinarName",
        "Webinar Name",
    ),
    type_spec(
        "checkDeposited",
        "Check Deposited",
        "accountNumber",
        "Account Number",
    ),
    type_spec("loanApplied", "Loan Applied", "loanProduct", "Loan Product"),
    type_spec("cardSwiped", "Card Swiped", "merchantName", "Merchant Name"),
    type_spec(
        "branchVisited",
        "Branch Visited",
        "branchName",
        "Branch Name",
    ),
    type_spec(
        "appLoggedIn",
        "App Logged In",
        "deviceModel",
        "Device Model",
    ),
    type_spec(
        "policyRenewed",
        "Policy Renewed",
        "policyNumber",
        "Policy Number",
    ),
    type_spec("claimFiled", "Claim Filed", "claimNumber", "Claim Number"),
    type_spec(
        "productReviewed",
        "Product Reviewed",
        "productSku",
        "Product SKU",
    ),
    type_spec("cartAbandoned", "Cart Abandoned", "cartId", "Cart ID"),
    type_spec(
        "orderShipped",
        "Order Shipped",
        "orderNumber",
        "Order Number",
    ),
    type_spec(
        "ticketOpened",
        "Ticket Opened",
        "ticketSubject",
        "Ticket Subject",
    ),
    type_spec(
        "surveyCompleted",
        "Survey Completed",
        "surveyName",
        "Survey Name",
    ),
    type_spec("trialStarted", "Trial Started", "planName", "Plan Name"),
    type_spec(
        "subscriptionUpgraded",
        "Subscription Upgraded",
        "planName",
        "Plan Name",
    ),
    type_spec(
        "eventRegistered",
        "Event Registered",
        "eventName",
        "Event Name",
    ),
    type_spec("boothVisited", "Booth Visited", "boothName", "Booth Name"),
    type_spec(
        "whitepaperDownloaded",
        "Whitepaper Downloaded",
        "assetName",
        "Asset Name",
    ),
    type_spec(
        "demoRequested",
        "Demo Requested",
        "productLine",
        "Product Line",
    ),
    type_spec(
        "referralSent",
        "Referral Sent",
        "referralCode",
        "Referral Code",
    ),
];

/// Options of a [`Workload`]; `Default` gives the workload of the baseline measurements.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadOptions {
    /// Seed of every random choice. Default = [`DEFAULT_SEED`].
    pub seed: u64,
    /// Number of distinct persons; ids are `1..=persons`. Default = 100,000.
    pub persons: u32,
    /// Zipf exponent of person popularity. Default = 0.8.
    pub zipf_exponent: f64,
    /// Where the clock starts, Unix ms. Default = [`START_MS`] (2024-01-01).
    pub start_ms: i64,
    /// Mean gap between consecutive activities. Default = 15,000 ms.
    pub gap_ms_mean: u32,
    /// Maximum jitter either side of the clock. Default = 5,000 ms.
    pub jitter_ms_max: u32,
    /// Number of distinct primary values (16–24 bytes each). Default = 1,000.
    pub primary_pool: u32,
    /// Number of distinct `source` values (10–21 bytes each). Default = 64.
    pub source_pool: u32,
    /// Number of distinct `note` values (24–72 bytes each). Default = 65,536.
    pub note_pool: u32,
    /// `value` is drawn from `0..value_bound`. Default = 1,000,000.
    pub value_bound: u32,
}

impl Default for WorkloadOptions {
    fn default() -> Self {
        Self {
            seed: DEFAULT_SEED,
            persons: 100_000,
            zipf_exponent: 0.8,
            start_ms: START_MS,
            gap_ms_mean: 15_000,
            jitter_ms_max: 5_000,
            primary_pool: 1_000,
            source_pool: 64,
            note_pool: 65_536,
            value_bound: 1_000_000,
        }
    }
}

/// The precomputed tables of a workload: string pools, Zipf table and person ids.
///
/// Building one costs a few milliseconds (mostly the 65,536 notes); generating from it
/// costs no allocation. Any number of [`Generator`]s can share one `Workload`.
#[derive(Debug, Clone)]
pub struct Workload {
    options: WorkloadOptions,
    /// `zipf_thresholds[r]` is the upper bound (exclusive, scaled to `u32`) of the CDF
    /// of rank `r`; a draw picks the first rank whose bound exceeds it.
    zipf_thresholds: Vec<u32>,
    /// `zipf_guide[j]` is the rank of the draw `j << ZIPF_GUIDE_SHIFT`: a draw in
    /// bucket `j` has a rank in `zipf_guide[j]..=zipf_guide[j + 1]`, so sampling
    /// searches a few entries instead of the whole table.
    zipf_guide: Vec<u32>,
    /// Maps popularity ranks to person ids.
    scatter: Scatter,
    primaries: Vec<Box<str>>,
    sources: Vec<Box<str>>,
    notes: Vec<Box<str>>,
}

impl Workload {
    /// Builds the tables of a workload.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidWorkload`] if a count or pool is zero or the exponent is not a
    /// finite non-negative number.
    pub fn new(options: WorkloadOptions) -> Result<Self> {
        if options.persons == 0 {
            return Err(Error::InvalidWorkload {
                what: "persons must be at least 1",
            });
        }
        if !(options.zipf_exponent.is_finite() && options.zipf_exponent >= 0.0) {
            return Err(Error::InvalidWorkload {
                what: "zipf_exponent must be finite and non-negative",
            });
        }
        if options.primary_pool == 0 || options.source_pool == 0 || options.note_pool == 0 {
            return Err(Error::InvalidWorkload {
                what: "string pools must not be empty",
            });
        }
        if options.value_bound == 0 {
            return Err(Error::InvalidWorkload {
                what: "value_bound must be at least 1",
            });
        }
        // Each table gets its own stream, so that resizing one pool leaves the others
        // (and the activity stream) as they were.
        let mut rng = WorkloadRng::new(options.seed ^ 0x5EED_0000_0000_0001);
        let primaries = string_pool(&mut rng, options.primary_pool, 16, 24, Alphabet::Code);
        let mut rng = WorkloadRng::new(options.seed ^ 0x5EED_0000_0000_0002);
        let sources = string_pool(&mut rng, options.source_pool, 10, 21, Alphabet::Code);
        let mut rng = WorkloadRng::new(options.seed ^ 0x5EED_0000_0000_0003);
        let notes = string_pool(&mut rng, options.note_pool, 24, 72, Alphabet::Words);
        let mut rng = WorkloadRng::new(options.seed ^ 0x5EED_0000_0000_0004);
        let scatter = Scatter::new(&mut rng, options.persons);
        let zipf_thresholds = zipf_thresholds(options.persons, options.zipf_exponent);
        let zipf_guide = (0..=u32::MAX >> ZIPF_GUIDE_SHIFT)
            .map(|j| rank_of_draw(&zipf_thresholds, j << ZIPF_GUIDE_SHIFT) as u32)
            .collect();
        Ok(Self {
            options,
            zipf_thresholds,
            zipf_guide,
            scatter,
            primaries,
            sources,
            notes,
        })
    }

    /// The options this workload was built from.
    pub fn options(&self) -> &WorkloadOptions {
        &self.options
    }

    /// A generator of the workload's activity stream, from its first activity.
    pub fn generator(&self) -> Generator<'_> {
        Generator {
            workload: self,
            rng: WorkloadRng::new(self.options.seed),
            clock_ms: self.options.start_ms,
        }
    }

    /// The first `count` activities of the stream.
    pub fn generate(&self, count: usize) -> Vec<GenActivity<'_>> {
        let mut out = Vec::with_capacity(count);
        self.generator().fill(&mut out, count);
        out
    }

    /// The person id of popularity rank `rank` (0 is the most active), if in range.
    pub fn person_of_rank(&self, rank: usize) -> Option<u64> {
        (rank < self.zipf_thresholds.len()).then(|| self.scatter.person(rank as u64))
    }
}

/// An endless, deterministic stream of activities; see the module documentation.
#[derive(Debug, Clone)]
pub struct Generator<'w> {
    workload: &'w Workload,
    rng: WorkloadRng,
    clock_ms: i64,
}

impl<'w> Generator<'w> {
    /// The next activity of the stream.
    #[inline]
    pub fn next_activity(&mut self) -> GenActivity<'w> {
        let w: &'w Workload = self.workload;
        let o = &w.options;
        // Draws are taken in a fixed order; the fingerprint test pins it.
        let draw = (self.rng.next_u64() >> 32) as u32;
        let bucket = (draw >> ZIPF_GUIDE_SHIFT) as usize;
        let low = w.zipf_guide[bucket] as usize;
        let high = w
            .zipf_guide
            .get(bucket + 1)
            .map_or(w.zipf_thresholds.len() - 1, |&r| r as usize);
        let rank = low + rank_of_draw(&w.zipf_thresholds[low..=high], draw);
        debug_assert_eq!(rank, rank_of_draw(&w.zipf_thresholds, draw));
        let person = w.scatter.person(rank as u64);
        let type_index = self.rng.below(ACTIVITY_TYPES.len() as u64) as u32;
        let jitter_ms =
            self.rng.below(2 * u64::from(o.jitter_ms_max) + 1) as i64 - i64::from(o.jitter_ms_max);
        let occurred_at_ms = self.clock_ms + jitter_ms;
        let primary = &w.primaries[self.rng.below(w.primaries.len() as u64) as usize];
        let source = &w.sources[self.rng.below(w.sources.len() as u64) as usize];
        let value = self.rng.below(u64::from(o.value_bound)) as i64;
        let note = &w.notes[self.rng.below(w.notes.len() as u64) as usize];
        // Exponential gap: -mean * ln(1 - u) with u in [0, 1), so the argument of ln is
        // in (0, 1] and the gap is finite and non-negative.
        let gap_ms = -f64::from(o.gap_ms_mean) * (1.0 - self.rng.unit_f64()).ln();
        self.clock_ms += gap_ms.round() as i64;
        GenActivity {
            person,
            type_index,
            occurred_at_ms,
            primary,
            source,
            value,
            note,
        }
    }

    /// Appends the next `count` activities to `out`.
    pub fn fill(&mut self, out: &mut Vec<GenActivity<'w>>, count: usize) {
        out.reserve(count);
        for _ in 0..count {
            out.push(self.next_activity());
        }
    }
}

impl<'w> Iterator for Generator<'w> {
    type Item = GenActivity<'w>;

    fn next(&mut self) -> Option<GenActivity<'w>> {
        Some(self.next_activity())
    }
}

/// The small PRNG of the workload: xoshiro256++ seeded through splitmix64.
///
/// Public so that benches can draw their query parameters (which person, which range)
/// reproducibly as well.
#[derive(Debug, Clone)]
pub struct WorkloadRng {
    state: [u64; 4],
}

impl WorkloadRng {
    /// A generator seeded from `seed`.
    pub fn new(seed: u64) -> Self {
        let mut sm = seed;
        let mut next = || {
            sm = sm.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = sm;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Self {
            state: [next(), next(), next(), next()],
        }
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.state;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// A number in `0..bound` (0 if `bound` is 0), by Lemire's multiply-shift.
    ///
    /// The bias is below `bound / 2^64`, far under anything a bench could notice.
    #[inline]
    pub fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }

    /// A float in `[0, 1)` with 53 random bits.
    #[inline]
    pub fn unit_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

#[derive(Debug, Clone, Copy)]
enum Alphabet {
    /// Identifier-like: lower case letters, digits and dashes.
    Code,
    /// Text-like: lower case words separated by spaces.
    Words,
}

fn string_pool(
    rng: &mut WorkloadRng,
    count: u32,
    bytes_min: u64,
    bytes_max: u64,
    alphabet: Alphabet,
) -> Vec<Box<str>> {
    const CODE: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789-";
    const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
    let mut pool = Vec::with_capacity(count as usize);
    let mut s = String::new();
    for _ in 0..count {
        let len = bytes_min + rng.below(bytes_max - bytes_min + 1);
        s.clear();
        for i in 0..len {
            let c = match alphabet {
                Alphabet::Code => CODE[rng.below(CODE.len() as u64) as usize],
                // About one space in six, never first or last, so notes read as words.
                Alphabet::Words if i > 0 && i + 1 < len && rng.below(6) == 0 => b' ',
                Alphabet::Words => LETTERS[rng.below(LETTERS.len() as u64) as usize],
            };
            s.push(char::from(c));
        }
        pool.push(Box::from(s.as_str()));
    }
    pool
}

/// A seeded bijection from ranks `0..persons` to ids `1..=persons`:
/// `id = 1 + (rank * multiplier + offset) mod persons`, with `multiplier` coprime to
/// `persons`.
///
/// Arithmetic rather than a shuffled table: a random look-up in a 100,000-entry table
/// was a cache miss per activity, a quarter of the generation time.
#[derive(Debug, Clone, Copy)]
struct Scatter {
    multiplier: u64,
    offset: u64,
    persons: u64,
}

impl Scatter {
    fn new(rng: &mut WorkloadRng, persons: u32) -> Self {
        let persons = u64::from(persons);
        // A multiplier near the middle of the range sends neighbouring ranks far apart.
        let mut multiplier = persons / 4 + rng.below(persons / 2 + 1);
        while gcd(multiplier, persons) != 1 {
            multiplier += 1;
        }
        Self {
            multiplier: multiplier % persons.max(1),
            offset: rng.below(persons),
            persons,
        }
    }

    #[inline]
    fn person(self, rank: u64) -> u64 {
        debug_assert!(rank < self.persons);
        // rank and multiplier are below 2^32, so the product fits in u64.
        1 + (rank * self.multiplier + self.offset) % self.persons
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Buckets of the Zipf guide table are 2^16 draws wide (65,536 buckets, 256 KiB).
const ZIPF_GUIDE_SHIFT: u32 = 16;

/// The rank whose CDF interval holds `draw`: the first with a bound above it, clamped
/// to the last rank (whose bound is `u32::MAX`, which a draw can equal).
fn rank_of_draw(thresholds: &[u32], draw: u32) -> usize {
    thresholds
        .partition_point(|&bound| bound <= draw)
        .min(thresholds.len().saturating_sub(1))
}

/// Upper bounds of the Zipf CDF per rank, scaled to the `u32` range.
///
/// The last bound is `u32::MAX`; a draw equal to it is clamped to the last rank by
/// [`rank_of_draw`]. 32 bits are enough: the rarest rank of the default workload has a
/// probability of about 2e-6, some 10,000 steps of 2^-32.
fn zipf_thresholds(persons: u32, exponent: f64) -> Vec<u32> {
    let weights: Vec<f64> = (1..=persons)
        .map(|k| f64::from(k).powf(-exponent))
        .collect();
    let total: f64 = weights.iter().sum();
    let scale = f64::from(u32::MAX) + 1.0;
    let mut cumulative = 0.0;
    let mut thresholds: Vec<u32> = weights
        .iter()
        .map(|w| {
            cumulative += w;
            // `as` saturates, so rounding past the top stays at u32::MAX.
            (cumulative / total * scale) as u32
        })
        .collect();
    if let Some(last) = thresholds.last_mut() {
        *last = u32::MAX;
    }
    debug_assert!(thresholds.windows(2).all(|w| w[0] <= w[1]));
    thresholds
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn default_workload() -> Workload {
        Workload::new(WorkloadOptions::default()).unwrap()
    }

    /// FNV-1a over the fields, so the fingerprint does not depend on std's hasher.
    fn fingerprint(activities: &[GenActivity<'_>]) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |bytes: &[u8]| {
            for &b in bytes {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0000_0100_0000_01B3);
            }
        };
        for a in activities {
            eat(&a.person.to_le_bytes());
            eat(&a.type_index.to_le_bytes());
            eat(&a.occurred_at_ms.to_le_bytes());
            eat(a.primary.as_bytes());
            eat(a.source.as_bytes());
            eat(&a.value.to_le_bytes());
            eat(a.note.as_bytes());
        }
        h
    }

    #[test]
    fn same_seed_gives_the_same_stream() {
        let (wa, wb) = (default_workload(), default_workload());
        let a = wa.generate(10_000);
        let b = wb.generate(10_000);
        assert_eq!(a, b);
        let w = default_workload();
        let from_iter: Vec<GenActivity<'_>> = w.generator().take(10_000).collect();
        assert_eq!(a, from_iter);
    }

    #[test]
    fn another_seed_gives_another_stream() {
        let w = default_workload();
        let a = w.generate(1_000);
        let other_workload = Workload::new(WorkloadOptions {
            seed: DEFAULT_SEED + 1,
            ..WorkloadOptions::default()
        })
        .unwrap();
        let other = other_workload.generate(1_000);
        let same = a.iter().zip(&other).filter(|(x, y)| x == y).count();
        assert!(same < 10, "{same} of 1000 activities equal across seeds");
    }

    /// Pins the default stream: if this fails, the generator changed and every figure
    /// in docs/BENCHMARKS.md is no longer comparable. Update the value only together
    /// with a note in that document.
    #[test]
    fn default_stream_is_pinned() {
        let w = default_workload();
        let activities = w.generate(1_000);
        assert_eq!(fingerprint(&activities), 4_768_839_158_832_533_893);
    }

    #[test]
    fn fields_stay_within_their_ranges() {
        let w = default_workload();
        let activities = w.generate(50_000);
        let mut last_clock_bound = START_MS - 5_000;
        for a in &activities {
            assert!((1..=100_000).contains(&a.person), "person {}", a.person);
            assert!((a.type_index as usize) < ACTIVITY_TYPES.len());
            assert!(a.occurred_at_ms >= START_MS - 5_000);
            assert!((16..=24).contains(&a.primary.len()), "{:?}", a.primary);
            assert!((10..=21).contains(&a.source.len()), "{:?}", a.source);
            assert!((24..=72).contains(&a.note.len()), "{:?}", a.note);
            assert!((0..1_000_000).contains(&a.value));
            // Within 10 s of the latest timestamp seen: jitter never reorders more.
            assert!(a.occurred_at_ms >= last_clock_bound - 10_000);
            last_clock_bound = last_clock_bound.max(a.occurred_at_ms);
        }
    }

    #[test]
    fn distribution_matches_the_baseline_shape() {
        let w = default_workload();
        let n = 200_000;
        let activities = w.generate(n);

        // Types are uniform: each of 20 gets 5% ± 0.5%.
        let mut per_type = [0usize; 20];
        for a in &activities {
            per_type[a.type_index as usize] += 1;
        }
        for (i, &c) in per_type.iter().enumerate() {
            assert!((9_000..=11_000).contains(&c), "type {i}: {c}");
        }

        // Persons are Zipf (s = 0.8) over 100,000: the top rank gets 1/H ≈ 2.2%, and
        // the top rank is not person 1 (ranks are scattered).
        let mut per_person: HashMap<u64, usize> = HashMap::new();
        for a in &activities {
            *per_person.entry(a.person).or_default() += 1;
        }
        let hottest = w.person_of_rank(0).unwrap();
        let top = per_person[&hottest];
        assert!((3_900..=4_900).contains(&top), "top person has {top}");
        let max = per_person.values().copied().max().unwrap();
        assert_eq!(max, top, "rank 0 is the most active person");
        assert_ne!(hottest, 1);
        // Ranks map to persons one to one.
        let ids: std::collections::HashSet<u64> =
            (0..100_000).map(|r| w.person_of_rank(r).unwrap()).collect();
        assert_eq!(ids.len(), 100_000);
        assert!(ids.iter().all(|id| (1..=100_000).contains(id)));
        assert_eq!(w.person_of_rank(100_000), None);
        // Many distinct persons, but far from all at this size.
        assert!(
            (40_000..=80_000).contains(&per_person.len()),
            "{}",
            per_person.len()
        );

        // Time moves forward 15 s per activity on average: the span of 200,000 is
        // 3,000,000 s ± 1%.
        let last = activities.iter().map(|a| a.occurred_at_ms).max().unwrap();
        let span_s = (last - START_MS) / 1_000;
        assert!((2_970_000..=3_030_000).contains(&span_s), "span {span_s} s");
        // Slightly out of order: some, but few, activities precede their predecessor.
        let inversions = activities
            .windows(2)
            .filter(|p| p[1].occurred_at_ms < p[0].occurred_at_ms)
            .count();
        assert!(
            (n / 100..n / 5).contains(&inversions),
            "{inversions} inversions"
        );

        // Pools are used in full.
        let notes: std::collections::HashSet<&str> = activities.iter().map(|a| a.note).collect();
        assert!(notes.len() > 60_000, "{} notes", notes.len());
        let sources: std::collections::HashSet<&str> =
            activities.iter().map(|a| a.source).collect();
        assert_eq!(sources.len(), 64);
    }

    #[test]
    fn invalid_options_are_reported() {
        let err = Workload::new(WorkloadOptions {
            persons: 0,
            ..WorkloadOptions::default()
        })
        .unwrap_err();
        assert!(matches!(err, Error::InvalidWorkload { .. }), "{err}");
        let err = Workload::new(WorkloadOptions {
            note_pool: 0,
            ..WorkloadOptions::default()
        })
        .unwrap_err();
        assert!(matches!(err, Error::InvalidWorkload { .. }), "{err}");
    }

    #[test]
    fn type_catalog_has_twenty_distinct_types() {
        let names: std::collections::HashSet<&str> =
            ACTIVITY_TYPES.iter().map(|t| t.api_name).collect();
        assert_eq!(names.len(), 20);
        for t in &ACTIVITY_TYPES {
            let attrs: Vec<&str> = t.attributes.iter().map(|a| a.api_name).collect();
            assert_eq!(attrs, ["source", "value", "note"]);
            assert_eq!(t.attributes[1].data_type.as_str(), "integer");
            assert_eq!(t.primary.data_type, DataType::String);
        }
    }

    /// Generation rate; run in release:
    /// `cargo test -p actlog-workload --release --lib -- --ignored --nocapture generation_rate`.
    #[test]
    #[ignore]
    fn generation_rate() {
        let w = default_workload();
        let mut g = w.generator();
        let n = 5_000_000;
        // On-CPU time of this thread (first field of schedstat, ns), so that other
        // processes on a busy machine do not count.
        let cpu_ns = || -> f64 {
            let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
            s.split_whitespace().next().unwrap().parse().unwrap()
        };
        let start = std::time::Instant::now();
        let cpu_start = cpu_ns();
        let mut sum = 0u64;
        for _ in 0..n {
            let a = g.next_activity();
            sum = sum.wrapping_add(a.person ^ a.value as u64 ^ a.note.len() as u64);
        }
        let cpu_s = (cpu_ns() - cpu_start) / 1e9;
        let wall_s = start.elapsed().as_secs_f64();
        println!(
            "generated {n}: {:.2} M/s on CPU ({cpu_s:.3} s), {:.2} M/s wall ({wall_s:.3} s), checksum {sum}",
            n as f64 / cpu_s / 1e6,
            n as f64 / wall_s / 1e6
        );
    }
}
