//! Bulk activity extract: jobs, their background workers, files and endpoints.
//!
//! Jobs go Created → Queued → Processing → Completed | Failed, or Cancelled from any state
//! before Completed. A bounded queue feeds at most `export_jobs_running_max` jobs at once,
//! each on the blocking pool, streaming rows from the backend into `<id>.part` and renaming
//! it to `<id>.csv` (or `.tsv`, `.ssv`) only when complete, so no partial file is ever
//! served. Jobs live in memory: a restart forgets them (their files are removed at start).

use crate::api::{self, ApiError, ErrorCode};
use crate::backend::{ActivityView, Backend, ExportRequest};
use crate::http::{json_body, read_body, AppState};
use crate::params::Params;
use crate::render::value_text;
use crate::sync::Mutex;
use crate::time::{format_utc, now_ms, parse_datetime};
use crate::token::{base32_decode, base32_encode};
use crate::ServerOptions;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use rand::RngCore;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::ops::ControlFlow;
use std::path::{Path as FsPath, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

/// The Delete Lead type, which bulk extract refuses (Marketo's rule).
const DELETE_LEAD_TYPE_ID: u32 = 37;
/// Most `primaryAttributeValueIds` / `primaryAttributeValues` (Marketo's).
const PRIMARY_FILTER_ITEMS_MAX: usize = 50;
/// Most activity type ids in one export filter.
const EXPORT_TYPES_MAX: usize = 1000;
/// Page size of the job list, default and maximum (Marketo's).
const LIST_PAGE_MAX: usize = 300;

/// A job's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum JobStatus {
    Created,
    Queued,
    Processing,
    Completed,
    Failed,
    Cancelled,
}

impl JobStatus {
    fn as_str(self) -> &'static str {
        match self {
            JobStatus::Created => "Created",
            JobStatus::Queued => "Queued",
            JobStatus::Processing => "Processing",
            JobStatus::Completed => "Completed",
            JobStatus::Failed => "Failed",
            JobStatus::Cancelled => "Cancelled",
        }
    }

    /// Case-insensitive; both spellings of cancelled.
    fn parse(s: &str) -> Option<JobStatus> {
        Some(match s.to_ascii_lowercase().as_str() {
            "created" => JobStatus::Created,
            "queued" => JobStatus::Queued,
            "processing" => JobStatus::Processing,
            "completed" => JobStatus::Completed,
            "failed" => JobStatus::Failed,
            "cancelled" | "canceled" => JobStatus::Cancelled,
            _ => return None,
        })
    }
}

/// File format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Csv,
    Tsv,
    /// Semicolon-separated (the bulk extract overview's reading of "SSV").
    Ssv,
}

impl Format {
    fn parse(s: &str) -> Option<Format> {
        Some(match s.to_ascii_uppercase().as_str() {
            "CSV" => Format::Csv,
            "TSV" => Format::Tsv,
            "SSV" => Format::Ssv,
            _ => return None,
        })
    }
    fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "CSV",
            Format::Tsv => "TSV",
            Format::Ssv => "SSV",
        }
    }
    fn delimiter(self) -> char {
        match self {
            Format::Csv => ',',
            Format::Tsv => '\t',
            Format::Ssv => ';',
        }
    }
    fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Tsv => "tsv",
            Format::Ssv => "ssv",
        }
    }
    /// Never JSON: tap-marketo treats a JSON content type as an error envelope.
    fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Tsv => "text/tab-separated-values; charset=utf-8",
            Format::Ssv => "text/plain; charset=utf-8",
        }
    }
}

/// A column of the export file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Field {
    MarketoGuid,
    LeadId,
    ActivityDate,
    ActivityTypeId,
    CampaignId,
    PrimaryAttributeValueId,
    PrimaryAttributeValue,
    Attributes,
    ActionResult,
}

const DEFAULT_FIELDS: [Field; 8] = [
    Field::MarketoGuid,
    Field::LeadId,
    Field::ActivityDate,
    Field::ActivityTypeId,
    Field::CampaignId,
    Field::PrimaryAttributeValueId,
    Field::PrimaryAttributeValue,
    Field::Attributes,
];

impl Field {
    fn parse(s: &str) -> Option<Field> {
        Some(match s {
            "marketoGUID" => Field::MarketoGuid,
            "leadId" => Field::LeadId,
            "activityDate" => Field::ActivityDate,
            "activityTypeId" => Field::ActivityTypeId,
            "campaignId" => Field::CampaignId,
            "primaryAttributeValueId" => Field::PrimaryAttributeValueId,
            "primaryAttributeValue" => Field::PrimaryAttributeValue,
            "attributes" => Field::Attributes,
            "actionResult" => Field::ActionResult,
            _ => return None,
        })
    }
    fn name(self) -> &'static str {
        match self {
            Field::MarketoGuid => "marketoGUID",
            Field::LeadId => "leadId",
            Field::ActivityDate => "activityDate",
            Field::ActivityTypeId => "activityTypeId",
            Field::CampaignId => "campaignId",
            Field::PrimaryAttributeValueId => "primaryAttributeValueId",
            Field::PrimaryAttributeValue => "primaryAttributeValue",
            Field::Attributes => "attributes",
            Field::ActionResult => "actionResult",
        }
    }

    /// The cell text; `null` where the activity has no value (Marketo's rule), `{}` for no attributes.
    fn cell(self, a: &ActivityView) -> String {
        let null = || "null".to_owned();
        match self {
            Field::MarketoGuid => a.id.to_string(),
            Field::LeadId => a.lead_id.to_string(),
            Field::ActivityDate => format_utc(a.occurred_at_ms),
            Field::ActivityTypeId => a.type_id.to_string(),
            Field::CampaignId => a.campaign_id.map_or_else(null, |v| v.to_string()),
            Field::PrimaryAttributeValueId => a
                .primary_attribute_value_id
                .map_or_else(null, |v| v.to_string()),
            Field::PrimaryAttributeValue => a
                .primary_attribute_value
                .as_ref()
                .map_or_else(null, value_text),
            Field::Attributes => {
                let map: Map<String, Value> = a
                    .attributes
                    .iter()
                    .map(|x| (x.name.clone(), x.value.clone()))
                    .collect();
                Value::Object(map).to_string()
            }
            Field::ActionResult => "succeeded".to_owned(),
        }
    }
}

/// Appends one delimited cell, quoting it (RFC 4180) when it holds the delimiter, a quote or a line break.
fn push_cell(out: &mut String, cell: &str, delimiter: char) {
    if cell.contains([delimiter, '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&cell.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(cell);
    }
}

fn push_row<'a>(out: &mut String, cells: impl Iterator<Item = &'a str>, delimiter: char) {
    for (i, cell) in cells.enumerate() {
        if i > 0 {
            out.push(delimiter);
        }
        push_cell(out, cell, delimiter);
    }
    out.push('\n');
}

/// What a job exports and how.
#[derive(Clone, Debug)]
pub(crate) struct ExportSpec {
    request: ExportRequest,
    format: Format,
    fields: Vec<Field>,
    headers: Vec<String>,
    primary_ids: Vec<u64>,
    primary_values: Vec<String>,
}

impl ExportSpec {
    fn matches(&self, a: &ActivityView) -> bool {
        if !self.primary_ids.is_empty()
            && !a
                .primary_attribute_value_id
                .is_some_and(|id| self.primary_ids.contains(&id))
        {
            return false;
        }
        if !self.primary_values.is_empty() {
            let Some(v) = &a.primary_attribute_value else {
                return false;
            };
            let text = value_text(v);
            if !self.primary_values.contains(&text) {
                return false;
            }
        }
        true
    }
}

#[derive(Debug)]
struct Job {
    id: String,
    status: JobStatus,
    created_at_ms: i64,
    queued_at_ms: Option<i64>,
    started_at_ms: Option<i64>,
    finished_at_ms: Option<i64>,
    records: Option<u64>,
    file_size: Option<u64>,
    checksum: Option<String>,
    error_msg: Option<String>,
    spec: Arc<ExportSpec>,
    cancel: Arc<AtomicBool>,
}

impl Job {
    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("exportId".into(), json!(self.id));
        m.insert("format".into(), json!(self.spec.format.as_str()));
        m.insert("status".into(), json!(self.status.as_str()));
        m.insert("createdAt".into(), json!(format_utc(self.created_at_ms)));
        let times = [
            ("queuedAt", self.queued_at_ms),
            ("startedAt", self.started_at_ms),
            ("finishedAt", self.finished_at_ms),
        ];
        for (name, ms) in times {
            if let Some(ms) = ms {
                m.insert(name.into(), json!(format_utc(ms)));
            }
        }
        if let Some(n) = self.records {
            m.insert("numberOfRecords".into(), json!(n));
        }
        if let Some(n) = self.file_size {
            m.insert("fileSize".into(), json!(n));
        }
        if let Some(c) = &self.checksum {
            m.insert("fileChecksum".into(), json!(c));
        }
        if let Some(e) = &self.error_msg {
            m.insert("errorMsg".into(), json!(e));
        }
        Value::Object(m)
    }
}

#[derive(Debug, Default)]
struct Table {
    jobs: Vec<Job>,
    day: String,
    bytes_today: u64,
    closing: bool,
}

/// The job table and the queue feeding the workers.
pub(crate) struct Exports {
    dir: PathBuf,
    backend: Arc<dyn Backend>,
    options: ServerOptions,
    state: Mutex<Table>,
    queue: Mutex<Option<mpsc::Sender<String>>>,
}

/// A finished file.
struct Written {
    records: u64,
    bytes: u64,
    checksum: String,
}

/// A writer that hashes and counts what passes through.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(buf.get(..n).unwrap_or(buf));
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn new_uuid() -> String {
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A job id as we issue them (so a path segment can never name another file).
fn is_job_id(id: &str) -> bool {
    id.len() == 36 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

impl Exports {
    /// Prepares the directory (removing files of jobs from an earlier run) and starts the worker.
    pub(crate) fn start(
        backend: Arc<dyn Backend>,
        options: &ServerOptions,
    ) -> crate::Result<(Arc<Exports>, tokio::task::JoinHandle<()>)> {
        let dir = options.exports_dir.clone();
        let dir_err = |source| crate::Error::ExportsDir {
            path: dir.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(dir_err)?;
        for entry in std::fs::read_dir(&dir).map_err(dir_err)? {
            let path = entry.map_err(dir_err)?.path();
            let stem_is_job = path
                .file_stem()
                .and_then(|s| s.to_str())
                .is_some_and(is_job_id);
            let ext_ok = path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| ["part", "csv", "tsv", "ssv"].contains(&e));
            if stem_is_job && ext_ok {
                std::fs::remove_file(&path).map_err(dir_err)?;
            }
        }
        let (tx, rx) = mpsc::channel(options.export_jobs_queued_max);
        let exports = Arc::new(Exports {
            dir,
            backend,
            options: options.clone(),
            state: Mutex::new(Table::default()),
            queue: Mutex::new(Some(tx)),
        });
        let worker = tokio::spawn(run_worker(Arc::clone(&exports), rx));
        Ok((exports, worker))
    }

    /// Stops taking jobs, cancels queued and running ones; the worker then drains and exits.
    pub(crate) fn shutdown(&self) {
        let mut state = self.state.lock();
        state.closing = true;
        for job in &mut state.jobs {
            if matches!(job.status, JobStatus::Queued | JobStatus::Processing) {
                job.cancel.store(true, Ordering::SeqCst);
                job.status = JobStatus::Failed;
                job.error_msg = Some("server shut down".into());
                job.finished_at_ms = Some(now_ms());
            }
        }
        drop(state);
        self.queue.lock().take();
    }

    fn path_of(&self, id: &str, format: Format) -> PathBuf {
        self.dir.join(format!("{id}.{}", format.extension()))
    }

    /// Drops jobs (and files) older than the retention period.
    fn prune(&self, state: &mut Table) {
        let cutoff = now_ms().saturating_sub(
            i64::try_from(self.options.export_retention_secs.saturating_mul(1000))
                .unwrap_or(i64::MAX),
        );
        let dir = &self.dir;
        state.jobs.retain(|job| {
            let keep = job.created_at_ms >= cutoff
                || matches!(job.status, JobStatus::Queued | JobStatus::Processing);
            if !keep {
                job.cancel.store(true, Ordering::SeqCst);
                let _ = std::fs::remove_file(dir.join(format!(
                    "{}.{}",
                    job.id,
                    job.spec.format.extension()
                )));
            }
            keep
        });
    }

    /// Runs one job to its end (blocking).
    fn run_job(&self, id: &str) {
        let (spec, cancel) = {
            let mut state = self.state.lock();
            let Some(job) = state.jobs.iter_mut().find(|j| j.id == id) else {
                return;
            };
            if job.status != JobStatus::Queued {
                return;
            }
            job.status = JobStatus::Processing;
            job.started_at_ms = Some(now_ms());
            (Arc::clone(&job.spec), Arc::clone(&job.cancel))
        };
        let part = self.dir.join(format!("{id}.part"));
        let result = self.write_file(&part, &spec, &cancel);
        let final_path = self.path_of(id, spec.format);
        let result = result.and_then(|w| match w {
            Some(w) => std::fs::rename(&part, &final_path)
                .map(|()| Some(w))
                .map_err(|e| format!("cannot rename export file: {e}")),
            None => Ok(None),
        });
        if let Some(parent) = final_path.parent() {
            if let Ok(d) = std::fs::File::open(parent) {
                let _ = d.sync_all();
            }
        }
        let mut state = self.state.lock();
        let cancelled = cancel.load(Ordering::SeqCst);
        let Some(job) = state.jobs.iter_mut().find(|j| j.id == id) else {
            let _ = std::fs::remove_file(&part);
            let _ = std::fs::remove_file(&final_path);
            return;
        };
        match result {
            Ok(Some(w)) if !cancelled && job.status == JobStatus::Processing => {
                job.status = JobStatus::Completed;
                job.records = Some(w.records);
                job.file_size = Some(w.bytes);
                job.checksum = Some(w.checksum);
                job.finished_at_ms = Some(now_ms());
                let today = crate::time::format_date(now_ms());
                if state.day != today {
                    state.day = today;
                    state.bytes_today = 0;
                }
                state.bytes_today = state.bytes_today.saturating_add(w.bytes);
            }
            Ok(_) => {
                // Cancelled (status already set by the cancel call or by shutdown).
                let _ = std::fs::remove_file(&part);
                let _ = std::fs::remove_file(&final_path);
            }
            Err(message) => {
                let _ = std::fs::remove_file(&part);
                if job.status == JobStatus::Processing {
                    job.status = JobStatus::Failed;
                    job.error_msg = Some(message);
                    job.finished_at_ms = Some(now_ms());
                }
            }
        }
    }

    /// Writes the file; `Ok(None)` if cancelled midway.
    fn write_file(
        &self,
        part: &FsPath,
        spec: &ExportSpec,
        cancel: &AtomicBool,
    ) -> Result<Option<Written>, String> {
        let file =
            std::fs::File::create(part).map_err(|e| format!("cannot create export file: {e}"))?;
        let mut out = Hashing {
            inner: BufWriter::new(file),
            hasher: Sha256::new(),
            bytes: 0,
        };
        let delimiter = spec.format.delimiter();
        let mut line = String::new();
        push_row(
            &mut line,
            spec.headers.iter().map(String::as_str),
            delimiter,
        );
        out.write_all(line.as_bytes())
            .map_err(|e| format!("cannot write export file: {e}"))?;
        let mut records = 0u64;
        let mut io_error = None;
        let mut cells = Vec::with_capacity(spec.fields.len());
        let mut sink = |a: ActivityView| {
            if cancel.load(Ordering::Relaxed) {
                return ControlFlow::Break(());
            }
            if !spec.matches(&a) {
                return ControlFlow::Continue(());
            }
            cells.clear();
            cells.extend(spec.fields.iter().map(|f| f.cell(&a)));
            line.clear();
            push_row(&mut line, cells.iter().map(String::as_str), delimiter);
            if let Err(e) = out.write_all(line.as_bytes()) {
                io_error = Some(e);
                return ControlFlow::Break(());
            }
            records += 1;
            ControlFlow::Continue(())
        };
        self.backend
            .export(&spec.request, &mut sink)
            .map_err(|e| format!("export failed: {}", e.message))?;
        if let Some(e) = io_error {
            return Err(format!("cannot write export file: {e}"));
        }
        if cancel.load(Ordering::SeqCst) {
            return Ok(None);
        }
        out.flush()
            .map_err(|e| format!("cannot write export file: {e}"))?;
        let Hashing {
            inner,
            hasher,
            bytes,
        } = out;
        let file = inner
            .into_inner()
            .map_err(|e| format!("cannot write export file: {}", e.error()))?;
        file.sync_all()
            .map_err(|e| format!("cannot sync export file: {e}"))?;
        let digest = hasher.finalize();
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        Ok(Some(Written {
            records,
            bytes,
            checksum: format!("sha256:{hex}"),
        }))
    }
}

async fn run_worker(exports: Arc<Exports>, mut rx: mpsc::Receiver<String>) {
    let running = Arc::new(Semaphore::new(exports.options.export_jobs_running_max));
    let mut tasks = JoinSet::new();
    while let Some(id) = rx.recv().await {
        let exports = Arc::clone(&exports);
        let running = Arc::clone(&running);
        // The semaphore is fair, so jobs start in queue order.
        tasks.spawn(async move {
            let Ok(_permit) = running.acquire_owned().await else {
                return;
            };
            let _ = tokio::task::spawn_blocking(move || exports.run_job(&id)).await;
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
}

// ---- endpoints ----

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreatedAt {
    start_at: Option<String>,
    end_at: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody {
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    fields: Option<Vec<String>>,
    #[serde(default)]
    column_header_names: Option<HashMap<String, String>>,
    #[serde(default)]
    filter: Option<Map<String, Value>>,
}

fn parse_spec(body: CreateBody, range_days_max: u32) -> Result<ExportSpec, ApiError> {
    let format = match body.format.as_deref() {
        None => Format::Csv,
        Some(f) => Format::parse(f)
            .ok_or_else(|| ApiError::invalid_value(f, "format (CSV, TSV or SSV)"))?,
    };
    let fields: Vec<Field> = match body.fields {
        None => DEFAULT_FIELDS.to_vec(),
        Some(list) if list.is_empty() => DEFAULT_FIELDS.to_vec(),
        Some(list) => list
            .iter()
            .map(|f| {
                Field::parse(f).ok_or_else(|| {
                    ApiError::new(ErrorCode::FieldNotFound, format!("Field '{f}' not found"))
                })
            })
            .collect::<Result<_, _>>()?,
    };
    if fields.len() > 50 {
        return Err(ApiError::invalid_data("Too many fields"));
    }
    let names = body.column_header_names.unwrap_or_default();
    let headers = fields
        .iter()
        .map(|f| {
            names
                .get(f.name())
                .cloned()
                .unwrap_or_else(|| f.name().to_owned())
        })
        .collect();
    let filter = body.filter.ok_or_else(|| ApiError::missing("filter"))?;
    for key in filter.keys() {
        if !matches!(
            key.as_str(),
            "createdAt" | "activityTypeIds" | "primaryAttributeValueIds" | "primaryAttributeValues"
        ) {
            return Err(ApiError::new(
                ErrorCode::UnsupportedFilterType,
                format!("Unsupported filter type '{key}'"),
            ));
        }
    }
    let created: CreatedAt = match filter.get("createdAt") {
        None | Some(Value::Null) => return Err(ApiError::missing("createdAt")),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|e| ApiError::invalid_data(format!("Invalid createdAt: {e}")))?,
    };
    let start_text = created
        .start_at
        .ok_or_else(|| ApiError::missing("startAt"))?;
    let end_text = created.end_at.ok_or_else(|| ApiError::missing("endAt"))?;
    let start_ms = parse_datetime(&start_text)
        .ok_or_else(|| ApiError::invalid_value(&start_text, "datetime"))?;
    let end_ms =
        parse_datetime(&end_text).ok_or_else(|| ApiError::invalid_value(&end_text, "datetime"))?;
    if end_ms < start_ms {
        return Err(ApiError::invalid_data("createdAt endAt is before startAt"));
    }
    if end_ms - start_ms > i64::from(range_days_max) * 86_400_000 {
        return Err(ApiError::invalid_data(format!(
            "createdAt range must be {range_days_max} days or fewer"
        )));
    }
    let list = |name: &str| -> Result<Vec<Value>, ApiError> {
        match filter.get(name) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(a)) => Ok(a.clone()),
            Some(v) => Err(ApiError::invalid_value(&v.to_string(), "array")),
        }
    };
    let type_ids: Vec<u32> = list("activityTypeIds")?
        .iter()
        .map(|v| {
            v.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| ApiError::invalid_value(&v.to_string(), "integer"))
        })
        .collect::<Result<_, _>>()?;
    if type_ids.contains(&DELETE_LEAD_TYPE_ID) {
        return Err(ApiError::invalid_data(
            "The Delete Lead activity (37) is not supported; use deletedleads.json",
        ));
    }
    if type_ids.len() > EXPORT_TYPES_MAX {
        return Err(ApiError::invalid_data("Too many activityTypeIds"));
    }
    let primary_ids: Vec<u64> = list("primaryAttributeValueIds")?
        .iter()
        .map(|v| {
            v.as_u64()
                .ok_or_else(|| ApiError::invalid_value(&v.to_string(), "integer"))
        })
        .collect::<Result<_, _>>()?;
    let primary_values: Vec<String> = list("primaryAttributeValues")?
        .iter()
        .map(value_text)
        .collect();
    if primary_ids.len() > PRIMARY_FILTER_ITEMS_MAX
        || primary_values.len() > PRIMARY_FILTER_ITEMS_MAX
    {
        return Err(ApiError::invalid_data(format!(
            "At most {PRIMARY_FILTER_ITEMS_MAX} primary attribute values"
        )));
    }
    if !primary_ids.is_empty() && !primary_values.is_empty() {
        return Err(ApiError::invalid_data(
            "primaryAttributeValueIds and primaryAttributeValues cannot be combined",
        ));
    }
    if (!primary_ids.is_empty() || !primary_values.is_empty()) && type_ids.is_empty() {
        return Err(ApiError::invalid_data(
            "primary attribute filters need activityTypeIds",
        ));
    }
    Ok(ExportSpec {
        request: ExportRequest {
            type_ids,
            start_ms,
            end_ms,
        },
        format,
        fields,
        headers,
        primary_ids,
        primary_values,
    })
}

fn not_found(id: &str) -> ApiError {
    let shown: String = id.chars().take(64).collect();
    ApiError::new(
        ErrorCode::ObjectNotFound,
        format!("Export job not found: {shown}"),
    )
}

fn with_job<T>(
    state: &AppState,
    id: &str,
    f: impl FnOnce(&mut Table, usize) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let exports = &state.exports;
    let mut table = exports.state.lock();
    exports.prune(&mut table);
    let index = table
        .jobs
        .iter()
        .position(|j| j.id == id)
        .ok_or_else(|| not_found(id))?;
    f(&mut table, index)
}

fn job_response(r: Result<Value, ApiError>) -> Response {
    match r {
        Ok(v) => api::ok(vec![v]),
        Err(e) => e.into_response(),
    }
}

/// `POST /bulk/v1/activities/export/create.json`.
pub(crate) async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match read_body(body) {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    let parsed: CreateBody = match json_body(&headers, &body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let spec = match parse_spec(parsed, state.options.export_range_days_max) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let exports = &state.exports;
    let mut table = exports.state.lock();
    exports.prune(&mut table);
    if table.jobs.len() >= exports.options.export_jobs_kept_max {
        return ApiError::new(ErrorCode::ExportQueue, "Too many jobs").into_response();
    }
    let job = Job {
        id: new_uuid(),
        status: JobStatus::Created,
        created_at_ms: now_ms(),
        queued_at_ms: None,
        started_at_ms: None,
        finished_at_ms: None,
        records: None,
        file_size: None,
        checksum: None,
        error_msg: None,
        spec: Arc::new(spec),
        cancel: Arc::new(AtomicBool::new(false)),
    };
    let v = job.to_json();
    table.jobs.push(job);
    api::ok(vec![v])
}

/// `POST …/{exportId}/enqueue.json` (any or no body).
pub(crate) async fn enqueue(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let exports = Arc::clone(&state.exports);
    job_response(with_job(&state, &id, |table, i| {
        let status = table.jobs.get(i).map_or(JobStatus::Failed, |j| j.status);
        match status {
            JobStatus::Created => {}
            JobStatus::Queued | JobStatus::Processing => {
                return Err(ApiError::new(ErrorCode::ExportQueue, "Job already queued"))
            }
            other => {
                return Err(ApiError::new(
                    ErrorCode::BusinessRuleViolation,
                    format!(
                        "Job is {}; only a Created job can be enqueued",
                        other.as_str()
                    ),
                ))
            }
        }
        if table.closing {
            return Err(ApiError::new(
                ErrorCode::ExportQueue,
                "Server is shutting down",
            ));
        }
        let queued = table
            .jobs
            .iter()
            .filter(|j| matches!(j.status, JobStatus::Queued | JobStatus::Processing))
            .count();
        if queued >= exports.options.export_jobs_queued_max {
            return Err(ApiError::new(
                ErrorCode::ExportQueue,
                "Too many jobs in queue",
            ));
        }
        let today = crate::time::format_date(now_ms());
        if table.day == today && table.bytes_today >= exports.options.export_bytes_per_day_max {
            return Err(ApiError::new(
                ErrorCode::ExportQueue,
                "Export daily quota exceeded",
            ));
        }
        let sent = exports
            .queue
            .lock()
            .as_ref()
            .map(|tx| tx.try_send(id.clone()).is_ok())
            .unwrap_or(false);
        if !sent {
            return Err(ApiError::new(
                ErrorCode::ExportQueue,
                "Too many jobs in queue",
            ));
        }
        let job = table.jobs.get_mut(i).ok_or_else(|| not_found(&id))?;
        job.status = JobStatus::Queued;
        job.queued_at_ms = Some(now_ms());
        Ok(job.to_json())
    }))
}

/// `GET …/{exportId}/status.json`.
pub(crate) async fn status(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    job_response(with_job(&state, &id, |table, i| {
        table
            .jobs
            .get(i)
            .map(Job::to_json)
            .ok_or_else(|| not_found(&id))
    }))
}

/// `POST …/{exportId}/cancel.json`.
pub(crate) async fn cancel(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    job_response(with_job(&state, &id, |table, i| {
        let job = table.jobs.get_mut(i).ok_or_else(|| not_found(&id))?;
        match job.status {
            JobStatus::Created | JobStatus::Queued | JobStatus::Processing => {
                job.cancel.store(true, Ordering::SeqCst);
                job.status = JobStatus::Cancelled;
            }
            JobStatus::Cancelled => {}
            other => {
                return Err(ApiError::new(
                    ErrorCode::BusinessRuleViolation,
                    format!("Job is {} and cannot be cancelled", other.as_str()),
                ))
            }
        }
        Ok(job.to_json())
    }))
}

/// `GET /bulk/v1/activities/export.json`: jobs of the retention period, oldest first.
pub(crate) async fn list(State(state): State<AppState>, RawQuery(q): RawQuery) -> Response {
    let params = Params::parse(q.as_deref());
    let mut statuses = Vec::new();
    for s in params.list("status") {
        match JobStatus::parse(&s) {
            Some(st) => statuses.push(st),
            None => return ApiError::invalid_value(&s, "status").into_response(),
        }
    }
    let batch = match params.get("batchSize") {
        None => LIST_PAGE_MAX,
        Some(s) => match s.trim().parse::<usize>() {
            Ok(n) if n > 0 => n.min(LIST_PAGE_MAX),
            _ => return ApiError::invalid_value(s, "integer").into_response(),
        },
    };
    let offset = match params.get("nextPageToken") {
        None => 0,
        Some(t) => match base32_decode(t)
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.parse::<usize>().ok())
        {
            Some(n) => n,
            None => return ApiError::invalid_value(t, "nextPageToken").into_response(),
        },
    };
    let exports = &state.exports;
    let mut table = exports.state.lock();
    exports.prune(&mut table);
    let matching: Vec<&Job> = table
        .jobs
        .iter()
        .filter(|j| statuses.is_empty() || statuses.contains(&j.status))
        .collect();
    let page: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(batch)
        .map(|j| j.to_json())
        .collect();
    let mut extra = Map::new();
    let next = offset.saturating_add(batch);
    if next < matching.len() {
        extra.insert(
            "nextPageToken".into(),
            json!(base32_encode(next.to_string().as_bytes())),
        );
    }
    api::success(Some(page), extra)
}

/// A byte range of a file of `size` bytes: `Ok(None)` for the whole file, `Err` if unsatisfiable.
fn parse_range(header: &str, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (a, b) = (a.trim(), b.trim());
    let (start, end) = if a.is_empty() {
        let n: u64 = b.parse().map_err(|_| ())?;
        if n == 0 {
            return Err(());
        }
        (size.saturating_sub(n), size.checked_sub(1).ok_or(())?)
    } else {
        let start: u64 = a.parse().map_err(|_| ())?;
        let end: u64 = if b.is_empty() {
            size.saturating_sub(1)
        } else {
            b.parse::<u64>()
                .map_err(|_| ())?
                .min(size.saturating_sub(1))
        };
        (start, end)
    };
    if start >= size || end < start {
        return Err(());
    }
    Ok(Some((start, end)))
}

fn file_not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "Export job not found or not completed",
    )
        .into_response()
}

/// `GET …/{exportId}/file.json`: the file, with `Range` support; 404 (plain text) unless Completed.
pub(crate) async fn file(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let found = {
        let exports = &state.exports;
        let mut table = exports.state.lock();
        exports.prune(&mut table);
        table
            .jobs
            .iter()
            .find(|j| j.id == id && j.status == JobStatus::Completed)
            .map(|j| (exports.path_of(&j.id, j.spec.format), j.spec.format))
    };
    let Some((path, format)) = found else {
        return file_not_found();
    };
    let Ok(mut file) = tokio::fs::File::open(&path).await else {
        return file_not_found();
    };
    let size = match file.metadata().await {
        Ok(m) => m.len(),
        Err(_) => return file_not_found(),
    };
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        None => None,
        Some(h) => match parse_range(h, size) {
            Ok(r) => r,
            Err(()) => {
                return (
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    [(header::CONTENT_RANGE, format!("bytes */{size}"))],
                    "",
                )
                    .into_response();
            }
        },
    };
    let (status, start, len) = match range {
        Some((start, end)) => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        None => (StatusCode::OK, 0, size),
    };
    if start > 0 && file.seek(std::io::SeekFrom::Start(start)).await.is_err() {
        return ApiError::new(ErrorCode::SystemError, "cannot read export file").into_response();
    }
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file.take(len)));
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(format.content_type()),
    );
    h.insert(
        header::ACCEPT_RANGES,
        header::HeaderValue::from_static("bytes"),
    );
    h.insert(header::CONTENT_LENGTH, header::HeaderValue::from(len));
    if status == StatusCode::PARTIAL_CONTENT {
        if let Ok(v) =
            header::HeaderValue::from_str(&format!("bytes {start}-{}/{size}", start + len - 1))
        {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_when_needed() {
        let mut s = String::new();
        push_row(
            &mut s,
            ["a", "b,c", "say \"hi\"", "{\"A\":1}"].into_iter(),
            ',',
        );
        assert_eq!(s, "a,\"b,c\",\"say \"\"hi\"\"\",\"{\"\"A\"\":1}\"\n");
        s.clear();
        push_row(&mut s, ["a b", "c,d"].into_iter(), '\t');
        assert_eq!(s, "a b\tc,d\n");
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-0", 10), Ok(Some((0, 0))));
        assert_eq!(parse_range("bytes=2-", 10), Ok(Some((2, 9))));
        assert_eq!(parse_range("bytes=-3", 10), Ok(Some((7, 9))));
        assert_eq!(parse_range("bytes=5-100", 10), Ok(Some((5, 9))));
        assert_eq!(parse_range("bytes=10-", 10), Err(()));
        assert_eq!(parse_range("bytes=x-", 10), Err(()));
        assert_eq!(parse_range("bytes=0-1,3-4", 10), Ok(None));
        assert_eq!(parse_range("items=0-1", 10), Ok(None));
    }

    #[test]
    fn spec_rules() {
        let body = |v: Value| -> CreateBody { serde_json::from_value(v).unwrap() };
        let ok = parse_spec(body(json!({"fields": null, "filter": {"createdAt": {"startAt": "2017-07-01", "endAt": "2017-07-31T23:59:59-00:00"}}})), 31).unwrap();
        assert_eq!(ok.fields, DEFAULT_FIELDS.to_vec());
        assert_eq!(ok.format, Format::Csv);
        let err = |v: Value| parse_spec(body(v), 31).unwrap_err();
        assert_eq!(
            err(json!({"filter": {"createdAt": {"startAt": "2017-07-01", "endAt": "2017-08-02"}}}))
                .code,
            ErrorCode::InvalidData
        );
        assert_eq!(err(json!({"filter": {}})), ApiError::missing("createdAt"));
        assert_eq!(err(json!({})), ApiError::missing("filter"));
        assert_eq!(
            err(json!({"filter": {"updatedAt": {}}})).code,
            ErrorCode::UnsupportedFilterType
        );
        assert_eq!(
            err(json!({"fields": ["nope"], "filter": {}})).code,
            ErrorCode::FieldNotFound
        );
        assert_eq!(
            err(json!({"format": "XLS", "filter": {}})).code,
            ErrorCode::InvalidValue
        );
        let range = json!({"startAt": "2017-07-01", "endAt": "2017-07-02"});
        assert_eq!(
            err(json!({"filter": {"createdAt": range, "activityTypeIds": [1, 37]}})).code,
            ErrorCode::InvalidData
        );
        let uuid = new_uuid();
        assert!(is_job_id(&uuid), "{uuid}");
        assert!(!is_job_id("../etc/passwd"));
    }
}
