//! `actlog ingest`: JSON lines in Marketo's input shape, recorded in batches.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};

use actlog::model::marketo;
use actlog::{Engine, NewActivity, Outcome};

use crate::progress;

/// Lines recorded per `append_batch`.
const BATCH_LINES: usize = 1_000;
/// Longest line accepted; longer ones are rejected without being held in memory whole.
const LINE_BYTES_MAX: usize = 1024 * 1024;

#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    /// JSON-lines file, or `-` for stdin.
    #[arg(default_value = "-")]
    file: String,
    /// Write rejected lines here, each followed by its reason as a JSON line.
    #[arg(long)]
    rejects: Option<PathBuf>,
}

#[derive(Debug, Default)]
struct Summary {
    added: u64,
    duplicates: u64,
    rejected: u64,
}

struct Rejects {
    out: Option<BufWriter<File>>,
}

impl Rejects {
    fn reject(
        &mut self,
        summary: &mut Summary,
        line_no: u64,
        line: &[u8],
        reason: &str,
    ) -> Result<()> {
        summary.rejected += 1;
        eprintln!("line {line_no}: {reason}");
        if let Some(out) = &mut self.out {
            let record = serde_json::json!({
                "line": line_no,
                "reason": reason,
                "input": String::from_utf8_lossy(line),
            });
            serde_json::to_writer(&mut *out, &record)?;
            out.write_all(b"\n")?;
        }
        Ok(())
    }
}

pub fn run(engine: &Engine, args: IngestArgs) -> Result<ExitCode> {
    let (reader, total_bytes): (Box<dyn Read>, u64) = if args.file == "-" {
        (Box::new(io::stdin().lock()), 0)
    } else {
        let file = File::open(&args.file).with_context(|| format!("cannot open {}", args.file))?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        (Box::new(file), len)
    };
    let mut reader = BufReader::with_capacity(1 << 20, reader);
    let mut rejects = Rejects {
        out: match &args.rejects {
            Some(path) => {
                Some(BufWriter::new(File::create(path).with_context(|| {
                    format!("cannot create {}", path.display())
                })?))
            }
            None => None,
        },
    };
    let bar = progress::bar("ingesting", total_bytes);
    let started = Instant::now();
    let mut summary = Summary::default();
    let mut batch: Vec<NewActivity> = Vec::with_capacity(BATCH_LINES);
    let mut batch_lines: Vec<(u64, Vec<u8>)> = Vec::with_capacity(BATCH_LINES);
    let mut line = Vec::with_capacity(512);
    let mut line_no = 0u64;
    let mut bytes_read = 0u64;
    loop {
        line.clear();
        let (n, too_long) = read_line(&mut reader, &mut line)?;
        if n == 0 {
            break;
        }
        line_no += 1;
        bytes_read += n as u64;
        if too_long {
            rejects.reject(
                &mut summary,
                line_no,
                &line,
                &format!("line longer than {LINE_BYTES_MAX} bytes"),
            )?;
            continue;
        }
        let text = trim_newline(&line);
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match parse_line(text) {
            Ok(item) => {
                batch.push(item);
                batch_lines.push((line_no, text.to_vec()));
            }
            Err(reason) => rejects.reject(&mut summary, line_no, text, &reason)?,
        }
        if batch.len() == BATCH_LINES {
            record(
                engine,
                &mut batch,
                &mut batch_lines,
                &mut summary,
                &mut rejects,
            )?;
            bar.set_position(bytes_read);
        }
    }
    record(
        engine,
        &mut batch,
        &mut batch_lines,
        &mut summary,
        &mut rejects,
    )?;
    bar.finish_and_clear();
    if let Some(out) = &mut rejects.out {
        out.flush()?;
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "added {}, skipped as duplicates {}, rejected {} ({} lines in {:.2} s, {:.0} activities/s)",
        summary.added,
        summary.duplicates,
        summary.rejected,
        line_no,
        secs,
        (summary.added as f64) / secs.max(1e-9)
    );
    engine.clone().close()?;
    Ok(if summary.rejected > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Reads one line (with its newline) into `line`, keeping at most `LINE_BYTES_MAX` bytes.
/// Returns the bytes consumed and whether the line was longer than the limit.
fn read_line(reader: &mut impl BufRead, line: &mut Vec<u8>) -> Result<(usize, bool)> {
    let mut consumed = 0usize;
    let mut too_long = false;
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok((consumed, too_long));
        }
        let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..=i], true),
            None => (buf, false),
        };
        let len = chunk.len();
        if line.len() + len <= LINE_BYTES_MAX {
            line.extend_from_slice(chunk);
        } else {
            too_long = true;
        }
        reader.consume(len);
        consumed += len;
        if done {
            return Ok((consumed, too_long));
        }
    }
}

fn trim_newline(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn parse_line(text: &[u8]) -> Result<NewActivity, String> {
    let text = std::str::from_utf8(text)
        .map_err(|e| format!("invalid UTF-8 at byte {}", e.valid_up_to()))?;
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("malformed JSON: {e}"))?;
    marketo::parse_activity(&value).map_err(|e| e.to_string())
}

fn record(
    engine: &Engine,
    batch: &mut Vec<NewActivity>,
    lines: &mut Vec<(u64, Vec<u8>)>,
    summary: &mut Summary,
    rejects: &mut Rejects,
) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let outcomes = engine.append_batch(std::mem::take(batch))?;
    for (outcome, (line_no, text)) in outcomes.iter().zip(lines.iter()) {
        match outcome {
            Outcome::Added { .. } => summary.added += 1,
            Outcome::Duplicate { .. } => summary.duplicates += 1,
            Outcome::Skipped { reasons } => {
                let reason = reasons
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ");
                rejects.reject(summary, *line_no, text, &reason)?;
            }
        }
    }
    lines.clear();
    Ok(())
}
