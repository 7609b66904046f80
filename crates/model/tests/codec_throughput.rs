//! Rough single-thread throughput of validation, encoding and decoding. Ignored by
//! default; run with
//! `cargo test -p actlog-model --release --test codec_throughput -- --ignored --nocapture`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use actlog_model::codec::{decode_activity, decode_activity_view, encode_activity_into};
use actlog_model::{
    ActivityId, AttributeDefinition, Catalog, CatalogEvent, DataType, NewActivity, PersonId,
    TypeDefinition,
};
use std::time::Instant;

fn run(c: &mut Catalog, command: impl FnOnce(&Catalog) -> actlog_model::Result<CatalogEvent>) {
    let e = command(c).unwrap();
    c.apply(&e).unwrap();
}

#[test]
#[ignore = "measurement; run in release with --ignored --nocapture"]
fn throughput() {
    let mut c = Catalog::new();
    run(&mut c, |c| {
        c.create_type(
            TypeDefinition {
                api_name: "attendWebinar".into(),
                name: "Attend Webinar".into(),
                description: None,
                trigger_name: "Attends Webinar".into(),
                filter_name: "Attended Webinar".into(),
                primary_attribute: AttributeDefinition::new("webinar", "Webinar", DataType::String),
                attributes: vec![
                    AttributeDefinition::new("url", "URL", DataType::Link),
                    AttributeDefinition::new("minutes", "Minutes", DataType::Integer),
                    AttributeDefinition::new("joinedAt", "Joined At", DataType::Datetime),
                ],
            },
            0,
        )
    });
    run(&mut c, |c| c.approve(actlog_model::TypeId::FIRST_CUSTOM, 1));
    let n = 1_000_000u64;
    let inputs: Vec<NewActivity> = (0..n)
        .map(|i| {
            NewActivity::new(
                PersonId(i % 100_000),
                "attendWebinar",
                1_764_000_000_000 + i as i64,
            )
            .primary("Rust in Production 01")
            .attr("url", "https://example.com/webinar/42")
            .attr("minutes", (i % 90) as i64)
            .attr("joinedAt", "2025-11-24T16:00:00Z")
        })
        .collect();

    // Validation streams (each result dropped at once), as the engine's ingest does;
    // collecting a million results would mostly measure page faults.
    let start = Instant::now();
    for a in &inputs {
        std::hint::black_box(c.validate(a).unwrap());
    }
    let validate_s = start.elapsed().as_secs_f64();
    let valid: Vec<_> = inputs.iter().map(|a| c.validate(a).unwrap()).collect();

    let start = Instant::now();
    let mut buf = Vec::with_capacity(n as usize * 100);
    let mut ends = Vec::with_capacity(n as usize);
    for v in &valid {
        encode_activity_into(v, &mut buf).unwrap();
        ends.push(buf.len());
    }
    let encode_s = start.elapsed().as_secs_f64();

    let start = Instant::now();
    let mut from = 0;
    for (i, &end) in ends.iter().enumerate() {
        let a = decode_activity(ActivityId(i as u64), &buf[from..end]).unwrap();
        assert_eq!(a.attributes.len(), 3);
        from = end;
    }
    let decode_s = start.elapsed().as_secs_f64();

    // In place, as the indexer and scans read records: no allocation per activity.
    let start = Instant::now();
    let mut from = 0;
    for (i, &end) in ends.iter().enumerate() {
        let a = decode_activity_view(ActivityId(i as u64), &buf[from..end]).unwrap();
        assert_eq!(a.attributes.len(), 3);
        from = end;
    }
    let view_s = start.elapsed().as_secs_f64();

    let per_s = |s: f64| n as f64 / s;
    println!(
        "{n} activities, {:.1} bytes each: validate {:.0}/s, encode {:.0}/s, decode {:.0}/s, decode in place {:.0}/s",
        buf.len() as f64 / n as f64,
        per_s(validate_s),
        per_s(encode_s),
        per_s(decode_s),
        per_s(view_s)
    );
}
