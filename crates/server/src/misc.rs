//! Identity, the endpoints clients call besides activities, and actlog's own query endpoints.

use crate::api::{self, ApiError, ErrorCode};
use crate::auth::IdentityError;
use crate::backend::{FilterSpec, QueryOrder, QueryRequest};
use crate::http::{blocking, json_body, read_body, AppState};
use crate::params::Params;
use crate::render;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};

/// `GET|POST /identity/oauth/token`: parameters in the query string or a form body.
pub(crate) async fn identity(
    State(state): State<AppState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let mut params = Params::parse(q.as_deref());
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if is_form {
        if let Ok(body) = &body {
            params.extend_form(body);
        }
    }
    match state.auth.issue(
        params.get("grant_type"),
        params.get("client_id"),
        params.get("client_secret"),
    ) {
        Ok(issued) => axum::Json(json!({
            "access_token": issued.token,
            "token_type": "bearer",
            "expires_in": issued.expires_in_secs,
            "scope": state.options.client_id,
        }))
        .into_response(),
        Err(e) => {
            let status = if e == IdentityError::UnsupportedGrant {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::UNAUTHORIZED
            };
            let (error, description) = e.oauth_error();
            (
                status,
                axum::Json(json!({ "error": error, "error_description": description })),
            )
                .into_response()
        }
    }
}

/// `stats/usage.json` (and `last7days`): calls counted today.
pub(crate) async fn usage(State(state): State<AppState>) -> Response {
    let (date, total) = state.usage.today();
    api::ok(vec![
        json!({ "date": date, "total": total, "users": [{ "userId": state.options.client_id, "count": total }] }),
    ])
}

/// `stats/errors.json` (and `last7days`): errors are not counted.
pub(crate) async fn errors(State(state): State<AppState>) -> Response {
    let (date, _) = state.usage.today();
    api::ok(vec![json!({ "date": date, "total": 0, "errors": [] })])
}

/// `leads/describe.json`: actlog knows persons only by id.
pub(crate) async fn leads_describe() -> Response {
    let field = |id: u32, name: &str, display: &str, data_type: &str| {
        json!({ "id": id, "displayName": display, "dataType": data_type,
                "rest": { "name": name, "readOnly": true }, "soap": { "name": name, "readOnly": true } })
    };
    api::ok(vec![field(1, "id", "Id", "integer")])
}

/// `POST /bulk/v1/leads/export/create.json`: always 1035, which tells tap-marketo there is no lead export.
pub(crate) async fn leads_export_create() -> Response {
    ApiError::code(ErrorCode::UnsupportedFilterType).into_response()
}

/// `POST /bulk/v1/leads/export/{id}/cancel.json`: no lead export job ever exists.
pub(crate) async fn leads_export_cancel() -> Response {
    ApiError::new(ErrorCode::ObjectNotFound, "Export job not found").into_response()
}

/// `GET /actlog/v1/stats`.
pub(crate) async fn stats(State(state): State<AppState>) -> Response {
    match blocking(&state, |b| b.stats()).await {
        Ok(v) => api::ok(vec![v]),
        Err(e) => e.into_response(),
    }
}

fn filter_spec(v: Value, name: &str) -> Result<FilterSpec, ApiError> {
    match v {
        Value::Null => Err(ApiError::missing(name)),
        Value::String(s) => Ok(FilterSpec::Text(s)),
        v @ Value::Object(_) => Ok(FilterSpec::Json(v)),
        v => Err(ApiError::invalid_value(
            &v.to_string(),
            "filter object or text",
        )),
    }
}

/// Results one query may stream, default and maximum.
const QUERY_ITEMS_DEFAULT: usize = 10_000;
const QUERY_ITEMS_MAX: usize = 1_000_000;
/// Results fetched from the backend per step of the stream.
const QUERY_PAGE_ITEMS: usize = 1000;
/// Person ids one smart list answer carries, default and maximum.
const PEOPLE_IDS_DEFAULT: usize = 10_000;
const PEOPLE_IDS_MAX: usize = 100_000;

#[derive(Deserialize)]
struct QueryBody {
    #[serde(default)]
    filter: Value,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    order: Option<String>,
}

/// `POST /actlog/v1/query`: JSON lines, one activity each, then `{"cursor":…,"count":…}`.
///
/// Errors found before the first line come back as the usual envelope; an error after
/// streaming began ends the stream with an `{"error":{code,message}}` line.
pub(crate) async fn query(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match read_body(body) {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    let parsed: QueryBody = match json_body(&headers, &body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let filter = match filter_spec(parsed.filter, "filter") {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let order = match parsed
        .order
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("asc") => QueryOrder::Asc,
        Some("desc") => QueryOrder::Desc,
        Some(other) => return ApiError::invalid_value(other, "asc or desc").into_response(),
    };
    let limit = parsed.limit.unwrap_or(QUERY_ITEMS_DEFAULT);
    if limit == 0 || limit > QUERY_ITEMS_MAX {
        return ApiError::invalid_data(format!("limit must be 1 to {QUERY_ITEMS_MAX}"))
            .into_response();
    }
    let first = QueryRequest {
        filter,
        cursor: parsed.cursor,
        limit: limit.min(QUERY_PAGE_ITEMS),
        order,
    };
    let first_request = first.clone();
    let page = match blocking(&state, move |b| b.query(&first_request)).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    let backend = std::sync::Arc::clone(&state.backend);
    tokio::task::spawn_blocking(move || {
        let mut request = first;
        let mut page = page;
        let mut sent = 0usize;
        let mut cursor = request.cursor.clone();
        loop {
            let full = page.activities.len() >= request.limit;
            let mut chunk = Vec::new();
            for a in &page.activities {
                let mut line = render::activity(a).to_string().into_bytes();
                line.push(b'\n');
                chunk.extend_from_slice(&line);
            }
            sent += page.activities.len();
            if page.cursor.is_some() {
                cursor = page.cursor.clone();
            }
            // A send error means the client went away: stop reading.
            if tx.blocking_send(Ok(Bytes::from(chunk))).is_err() {
                return;
            }
            if !full || sent >= limit {
                break;
            }
            request.cursor = cursor.clone();
            request.limit = (limit - sent).min(QUERY_PAGE_ITEMS);
            page = match backend.query(&request) {
                Ok(p) => p,
                Err(e) => {
                    let line = format!("{}\n", json!({ "error": e.to_json() }));
                    let _ = tx.blocking_send(Ok(Bytes::from(line)));
                    return;
                }
            };
        }
        let line = format!("{}\n", json!({ "cursor": cursor, "count": sent }));
        let _ = tx.blocking_send(Ok(Bytes::from(line)));
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    (
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(stream),
    )
        .into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PeopleBody {
    #[serde(default)]
    smart_list: Value,
    #[serde(default)]
    limit: Option<usize>,
}

/// `POST /actlog/v1/people`: `result: [{count, personIds}]`.
pub(crate) async fn people(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match read_body(body) {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    let parsed: PeopleBody = match json_body(&headers, &body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let list = match filter_spec(parsed.smart_list, "smartList") {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let ids_max = parsed.limit.unwrap_or(PEOPLE_IDS_DEFAULT);
    if ids_max > PEOPLE_IDS_MAX {
        return ApiError::invalid_data(format!("limit must be at most {PEOPLE_IDS_MAX}"))
            .into_response();
    }
    match blocking(&state, move |b| b.people(&list, ids_max)).await {
        Ok(p) => api::ok(vec![json!({ "count": p.count, "personIds": p.person_ids })]),
        Err(e) => e.into_response(),
    }
}
