//! How the command prints activities, stats and reports.

use std::io::{self, BufWriter, Write};

use anyhow::Result;

use actlog::model::{marketo, Catalog};
use actlog::{Activity, Stats, VerifyReport};

/// Writes activities as JSON lines to stdout, stopping quietly when the reader goes away
/// (`actlog replay | head`).
pub struct Printer {
    out: BufWriter<io::Stdout>,
}

impl Printer {
    pub fn stdout() -> Self {
        Self {
            out: BufWriter::with_capacity(1 << 16, io::stdout()),
        }
    }

    /// Prints one activity; `false` when stdout was closed.
    pub fn activity(&mut self, catalog: &Catalog, activity: &Activity) -> Result<bool> {
        let json = serde_json::to_value(marketo::render_activity(catalog, activity))?;
        self.line(&json)
    }

    /// Prints one JSON value as a line; `false` when stdout was closed.
    pub fn line(&mut self, value: &serde_json::Value) -> Result<bool> {
        let written = serde_json::to_writer(&mut self.out, value)
            .map_err(io::Error::from)
            .and_then(|()| self.out.write_all(b"\n"));
        match written {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Prints a plain text line; `false` when stdout was closed.
    pub fn text(&mut self, line: &str) -> Result<bool> {
        match writeln!(self.out, "{line}") {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    pub fn flush(&mut self) -> Result<()> {
        match self.out.flush() {
            Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e.into()),
            _ => Ok(()),
        }
    }
}

pub fn print_activity(catalog: &Catalog, activity: &Activity) -> Result<()> {
    let mut out = Printer::stdout();
    out.activity(catalog, activity)?;
    out.flush()
}

pub fn stats_json(stats: &Stats) -> serde_json::Value {
    serde_json::json!({
        "activities": stats.activities,
        "first_id": stats.first_id.get(),
        "next_id": stats.next_id.get(),
        "segments": stats.segments,
        "log_bytes": stats.log_bytes,
        "occurred_min_ms": stats.occurred_range_ms.map(|r| r.0),
        "occurred_max_ms": stats.occurred_range_ms.map(|r| r.1),
        "types": stats.types,
        "custom_types": stats.custom_types,
        "catalog_events": stats.catalog_events,
        "index_watermark": stats.index_watermark.get(),
        "index_checkpoint": stats.index_checkpoint.get(),
        "index_lag": stats.index_lag,
        "index_bytes": stats.index_bytes,
        "index_bytes_per_activity": stats.index_bytes_per_activity,
        "index_blocks": stats.index_blocks,
        "indexer_error": stats.indexer_error,
    })
}

pub fn print_stats(stats: &Stats, json: bool) -> Result<()> {
    if json {
        println!("{}", stats_json(stats));
        return Ok(());
    }
    let per_activity = if stats.activities == 0 {
        0.0
    } else {
        stats.log_bytes as f64 / stats.activities as f64
    };
    println!("activities        {}", stats.activities);
    println!("ids               {} .. {}", stats.first_id, stats.next_id);
    println!(
        "log               {} segments, {} ({per_activity:.1} bytes per activity)",
        stats.segments,
        human_bytes(stats.log_bytes)
    );
    if let Some((min, max)) = stats.occurred_range_ms {
        println!(
            "occurred          {} .. {}",
            actlog::model::time::format_datetime_utc(min),
            actlog::model::time::format_datetime_utc(max)
        );
    }
    println!(
        "types             {} ({} custom), {} catalog events",
        stats.types, stats.custom_types, stats.catalog_events
    );
    println!(
        "index             watermark {}, lag {}, checkpoint {}",
        stats.index_watermark, stats.index_lag, stats.index_checkpoint
    );
    println!(
        "index on disk     {} ({:.1} bytes per activity, {} blocks)",
        human_bytes(stats.index_bytes),
        stats.index_bytes_per_activity,
        stats.index_blocks
    );
    if let Some(err) = &stats.indexer_error {
        println!("indexer error     {err}");
    }
    Ok(())
}

/// Prints the report; returns whether everything was sound.
pub fn print_verify(report: &VerifyReport) -> bool {
    println!(
        "activities log: {} records in {} segments checked",
        report.activities.records_checked, report.activities.segments_checked
    );
    println!(
        "catalog log: {} events in {} segments checked",
        report.catalog.records_checked, report.catalog.segments_checked
    );
    for damage in report
        .activities
        .damage
        .iter()
        .chain(&report.catalog.damage)
    {
        println!(
            "DAMAGED {} at byte {}: {}",
            damage.segment.display(),
            damage.position,
            damage.kind
        );
    }
    for (id, why) in &report.undecodable {
        println!("UNDECODABLE activity {id}: {why}");
    }
    for damage in &report.index_damage {
        println!(
            "DAMAGED index block ({:?} family) at byte {} of its value: {}",
            damage.family, damage.position, damage.what
        );
    }
    for mismatch in &report.index_mismatches {
        println!("INDEX MISMATCH {mismatch}");
    }
    let clean = report.is_clean();
    println!(
        "{}",
        if clean {
            "ok: no damage found"
        } else {
            "damage found"
        }
    );
    clean
}

pub fn print_repair(report: &actlog::RepairReport) {
    for (name, log) in [
        ("activities", &report.activities),
        ("catalog", &report.catalog),
    ] {
        match &log.cut_at {
            Some(at) => println!(
                "{name} log: cut {} at byte {} ({}); removed {} bytes and {} later segments; the log now ends at offset {}",
                at.segment.display(),
                at.position,
                at.kind,
                log.bytes_removed,
                log.segments_removed,
                log.next_offset
            ),
            None => println!("{name} log: no damage"),
        }
    }
}

pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
