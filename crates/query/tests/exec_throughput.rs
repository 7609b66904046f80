//! Filtered log-scan and parser throughput on in-memory data, for rough figures.
//!
//! Run with: `cargo test -p actlog-query --release --test exec_throughput -- --ignored --nocapture`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use actlog_model::{Activity, ActivityId, Catalog, PersonId, Value};
use actlog_query::{
    parse_filter, resolve, scan, ActivitySource, Direction, QueryOptions, SegmentSpan, SourceError,
};
use std::time::Instant;

struct Log(Vec<Activity>);

const SEGMENT: usize = 100_000;

impl ActivitySource for Log {
    fn get(&self, id: ActivityId) -> Result<Option<Activity>, SourceError> {
        Ok(self.0.get(id.get() as usize).cloned())
    }
    fn segments(&self) -> Vec<SegmentSpan> {
        self.0
            .chunks(SEGMENT)
            .enumerate()
            .map(|(i, c)| SegmentSpan {
                first: ActivityId((i * SEGMENT) as u64),
                end: ActivityId((i * SEGMENT + c.len()) as u64),
                occurred_min_ms: c.iter().map(|a| a.occurred_at_ms).min().unwrap(),
                occurred_max_ms: c.iter().map(|a| a.occurred_at_ms).max().unwrap(),
            })
            .collect()
    }
    fn scan(
        &self,
        from: ActivityId,
        to: ActivityId,
    ) -> Box<dyn Iterator<Item = Result<Activity, SourceError>> + Send + '_> {
        Box::new(
            self.0[from.get() as usize..to.get() as usize]
                .iter()
                .cloned()
                .map(Ok),
        )
    }
    fn first_id(&self) -> ActivityId {
        ActivityId(0)
    }
    fn end_id(&self) -> ActivityId {
        ActivityId(self.0.len() as u64)
    }
}

#[test]
#[ignore = "a measurement; run in release with --ignored --nocapture"]
fn filtered_scan_throughput() {
    let catalog = Catalog::new();
    let visit = catalog
        .list()
        .find(|t| {
            t.approved().is_some_and(|v| {
                matches!(
                    v.primary.data_type,
                    actlog_model::DataType::Link | actlog_model::DataType::String
                )
            })
        })
        .unwrap();
    let primary_type = visit.approved().unwrap().primary.data_type;
    let url = |s: String| match primary_type {
        actlog_model::DataType::Link => Value::Link(s),
        _ => Value::String(s),
    };
    let n = 2_000_000u64;
    let log = Log((0..n)
        .map(|i| Activity {
            id: ActivityId(i),
            person: PersonId(i % 100_000),
            type_id: visit.id(),
            occurred_at_ms: 1_700_000_000_000 + i as i64 * 1000,
            primary: url(format!("https://example.com/{}", i % 50)),
            attributes: Vec::new(),
            idempotency_key: None,
        })
        .collect());
    let filter = resolve(
        &parse_filter(r#"person in (7, 8, 9) or primary starts_with "https://example.com/4""#)
            .unwrap(),
        &catalog,
        0,
    )
    .unwrap();
    let options = QueryOptions {
        direction: Direction::Ascending,
        limit: usize::MAX,
        cursor: None,
    };
    let start = Instant::now();
    let matched = scan(&log, filter, &options).unwrap().count();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "filtered scan: {n} activities, {matched} matches, {:.0} activities/s",
        n as f64 / secs
    );
    // 11 of every 50 primaries start with `.../4`; persons 7, 8, 9 add 20 each.
    assert_eq!(matched, 440_060);
}
