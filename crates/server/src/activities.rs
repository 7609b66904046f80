//! Activity endpoints: add (`external.json`), paging tokens and the paged reads.

use crate::add::{AddBody, AddInput, AddResults, Slot, ADD_ITEMS_MAX};
use crate::api::{self, ApiError, ErrorCode};
use crate::backend::ReadRequest;
use crate::http::{blocking, json_body, read_body, AppState};
use crate::params::Params;
use crate::render;
use crate::time::parse_datetime;
use crate::token::PageToken;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

/// Page size of `activities.json`, default and maximum (Marketo's).
pub(crate) const PAGE_ITEMS_MAX: usize = 300;
/// Activity types per read (Marketo's).
const READ_TYPES_MAX: usize = 10;
/// Leads per read (Marketo's).
const READ_LEADS_MAX: usize = 30;

/// `POST /rest/v1/activities/external.json`.
pub(crate) async fn add(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match read_body(body) {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    let (items, count) = match json_body(&headers, &body) {
        Ok(AddBody(AddInput::Items { items, count })) => (items, count),
        Ok(AddBody(AddInput::Missing)) => return ApiError::missing("input").into_response(),
        Ok(AddBody(AddInput::NotArray(v))) => {
            return ApiError::invalid_value(&v.to_string(), "array").into_response()
        }
        Err(e) => return e.into_response(),
    };
    if count == 0 {
        return ApiError::new(ErrorCode::CannotBeBlank, "input cannot be blank").into_response();
    }
    if count > ADD_ITEMS_MAX {
        return ApiError::invalid_data(format!(
            "At most {ADD_ITEMS_MAX} activities per call, got {count}"
        ))
        .into_response();
    }
    let mut slots = Vec::with_capacity(items.len());
    let mut valid = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Ok(a) => {
                slots.push(Slot::Appended(valid.len()));
                valid.push(a);
            }
            Err(e) => slots.push(Slot::Skipped(e)),
        }
    }
    let expected = valid.len();
    let outcomes = if valid.is_empty() {
        Vec::new()
    } else {
        match blocking(&state, move |b| b.append(valid)).await {
            Ok(o) => o,
            Err(e) => return e.into_response(),
        }
    };
    if outcomes.len() != expected {
        return ApiError::new(
            ErrorCode::SystemError,
            "backend returned a wrong number of outcomes",
        )
        .into_response();
    }
    let results = AddResults {
        slots: &slots,
        outcomes: &outcomes,
    };
    api::ok_serialized(&results, results.bytes_hint())
}

/// `GET /rest/v1/activities/pagingtoken.json?sinceDatetime=`.
pub(crate) async fn paging_token(RawQuery(q): RawQuery) -> Response {
    let params = Params::parse(q.as_deref());
    let Some(since) = params.get("sinceDatetime") else {
        return ApiError::missing("sinceDatetime").into_response();
    };
    let Some(since_ms) = parse_datetime(since) else {
        return ApiError::invalid_value(since, "datetime").into_response();
    };
    let token = PageToken {
        since_ms,
        resume: None,
    }
    .encode();
    let mut extra = Map::new();
    extra.insert("nextPageToken".into(), json!(token));
    api::success(None, extra)
}

fn page_token_param(params: &Params) -> Result<PageToken, ApiError> {
    let token = params
        .get("nextPageToken")
        .ok_or_else(|| ApiError::missing("nextPageToken"))?;
    PageToken::decode(token)
}

fn batch_size(params: &Params) -> Result<usize, ApiError> {
    match params.get("batchSize") {
        None => Ok(PAGE_ITEMS_MAX),
        Some(s) => match s.trim().parse::<usize>() {
            Ok(0) | Err(_) => Err(ApiError::invalid_value(s, "integer")),
            Ok(n) => Ok(n.min(PAGE_ITEMS_MAX)),
        },
    }
}

fn read_request(params: &Params) -> Result<ReadRequest, ApiError> {
    let token = page_token_param(params)?;
    let type_ids: Vec<u32> = params.numbers("activityTypeIds", "integer")?;
    if type_ids.is_empty() {
        return Err(ApiError::missing("activityTypeIds"));
    }
    if type_ids.len() > READ_TYPES_MAX {
        return Err(ApiError::invalid_data(format!(
            "At most {READ_TYPES_MAX} activityTypeIds"
        )));
    }
    let lead_ids: Vec<u64> = params.numbers("leadIds", "integer")?;
    if lead_ids.len() > READ_LEADS_MAX {
        return Err(ApiError::invalid_data(format!(
            "At most {READ_LEADS_MAX} leadIds"
        )));
    }
    let asset_ids: Vec<u64> = params.numbers("assetIds", "integer")?;
    if asset_ids.len() > 300 {
        return Err(ApiError::invalid_data("At most 300 assetIds"));
    }
    if params.get("listId").is_some() {
        return Err(ApiError::invalid_data(
            "listId is not supported: actlog has no static lists; use leadIds",
        ));
    }
    Ok(ReadRequest {
        type_ids,
        lead_ids,
        asset_ids,
        since_ms: token.since_ms,
        resume: token.resume,
        limit: batch_size(params)?,
    })
}

fn page_response(result: Vec<Value>, token: &PageToken, more: bool) -> Response {
    let mut extra = Map::new();
    extra.insert("nextPageToken".into(), json!(token.encode()));
    extra.insert("moreResult".into(), json!(more));
    api::success(Some(result), extra)
}

/// `GET /rest/v1/activities.json`: ascending by activity date, resumable exactly.
pub(crate) async fn list(State(state): State<AppState>, RawQuery(q): RawQuery) -> Response {
    let params = Params::parse(q.as_deref());
    let request = match read_request(&params) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let since_ms = request.since_ms;
    let previous = request.resume.clone();
    let page = match blocking(&state, move |b| b.read(&request)).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let next = PageToken {
        since_ms,
        resume: page.resume.or(previous),
    };
    page_response(
        page.activities.iter().map(render::activity).collect(),
        &next,
        page.more,
    )
}

/// `leadchanges.json` and `deletedleads.json`: actlog records no lead field changes or
/// deletions, so these answer an empty last page (and keep the token), as clients expect.
fn empty_page(q: Option<&str>) -> Response {
    let params = Params::parse(q);
    let token = match page_token_param(&params).and_then(|t| batch_size(&params).map(|_| t)) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    page_response(Vec::new(), &token, false)
}

pub(crate) async fn lead_changes(RawQuery(q): RawQuery) -> Response {
    let params = Params::parse(q.as_deref());
    if params.list("fields").is_empty() {
        return ApiError::missing("fields").into_response();
    }
    empty_page(q.as_deref())
}

pub(crate) async fn deleted_leads(RawQuery(q): RawQuery) -> Response {
    empty_page(q.as_deref())
}
