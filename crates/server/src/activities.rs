//! Activity endpoints: add (`external.json`), paging tokens and the paged reads.

use crate::api::{self, ApiError, ErrorCode};
use crate::backend::{ActivityInput, AppendOutcome, AttributeValueInput, ReadRequest};
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

/// Activities per add call (Marketo's limit).
pub(crate) const ADD_ITEMS_MAX: usize = 300;
/// Page size of `activities.json`, default and maximum (Marketo's).
pub(crate) const PAGE_ITEMS_MAX: usize = 300;
/// Activity types per read (Marketo's).
const READ_TYPES_MAX: usize = 10;
/// Leads per read (Marketo's).
const READ_LEADS_MAX: usize = 30;
/// Largest serialized attribute list of one activity (Marketo's 1049 limit).
const ATTRIBUTES_BYTES_MAX: usize = 65_536;

fn integer<T: TryFrom<u64> + TryFrom<i64>>(
    item: &Map<String, Value>,
    name: &str,
    kind: &str,
) -> Result<Option<T>, ApiError> {
    let bad = |v: &Value| ApiError::invalid_value(&crate::render::value_text(v), kind);
    match item.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Number(n)) => {
            if let Some(u) = n.as_u64() {
                T::try_from(u).map(Some).map_err(|_| bad(v))
            } else if let Some(i) = n.as_i64() {
                T::try_from(i).map(Some).map_err(|_| bad(v))
            } else {
                Err(bad(v))
            }
        }
        Some(v @ Value::String(s)) => match s.trim().parse::<u64>() {
            Ok(u) => T::try_from(u).map(Some).map_err(|_| bad(v)),
            Err(_) => Err(bad(v)),
        },
        Some(v) => Err(bad(v)),
    }
}

fn required<T>(v: Result<Option<T>, ApiError>, name: &str) -> Result<T, ApiError> {
    v?.ok_or_else(|| ApiError::missing(name))
}

fn optional_text(item: &Map<String, Value>, name: &str) -> Result<Option<String>, ApiError> {
    match item.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v) => Err(ApiError::invalid_value(&v.to_string(), "string")),
    }
}

/// Checks one input item's members; the backend checks them against the type.
fn parse_item(item: &Value) -> Result<ActivityInput, ApiError> {
    let Value::Object(item) = item else {
        return Err(ApiError::invalid_data("Activity must be a JSON object"));
    };
    let lead_id = required(integer::<u64>(item, "leadId", "integer"), "leadId")?;
    let type_id = required(
        integer::<u32>(item, "activityTypeId", "integer"),
        "activityTypeId",
    )?;
    let occurred_at_ms = match item.get("activityDate") {
        None | Some(Value::Null) => return Err(ApiError::missing("activityDate")),
        Some(Value::String(s)) => {
            parse_datetime(s).ok_or_else(|| ApiError::invalid_value(s, "datetime"))?
        }
        Some(v) => return Err(ApiError::invalid_value(&v.to_string(), "datetime")),
    };
    let primary_attribute_value = match item.get("primaryAttributeValue") {
        None | Some(Value::Null) => return Err(ApiError::missing("primaryAttributeValue")),
        Some(v) => v.clone(),
    };
    let primary_attribute_value_id = integer::<u64>(item, "primaryAttributeValueId", "integer")?;
    let campaign_id = integer::<u64>(item, "campaignId", "integer")?;
    let idempotency_key = optional_text(item, "idempotencyKey")?;
    let attributes = match item.get("attributes") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => {
            let bytes = serde_json::to_vec(list).map_or(usize::MAX, |v| v.len());
            if bytes > ATTRIBUTES_BYTES_MAX {
                return Err(ApiError::new(
                    ErrorCode::FailedToCreateActivity,
                    "Attributes array too long. The array of attributes passed to the record exceeded the max length of 65536 bytes",
                ));
            }
            list.iter().map(parse_attribute).collect::<Result<_, _>>()?
        }
        Some(v) => return Err(ApiError::invalid_value(&v.to_string(), "array")),
    };
    Ok(ActivityInput {
        lead_id,
        occurred_at_ms,
        type_id,
        primary_attribute_value,
        primary_attribute_value_id,
        campaign_id,
        attributes,
        idempotency_key,
    })
}

fn parse_attribute(v: &Value) -> Result<AttributeValueInput, ApiError> {
    let Value::Object(m) = v else {
        return Err(ApiError::invalid_data("Attribute must be a JSON object"));
    };
    let name = optional_text(m, "name")?;
    let api_name = optional_text(m, "apiName")?;
    if name.is_none() && api_name.is_none() {
        return Err(ApiError::missing("attributes.apiName"));
    }
    let value = match m.get("value") {
        None => return Err(ApiError::missing("attributes.value")),
        Some(v) => v.clone(),
    };
    Ok(AttributeValueInput {
        name,
        api_name,
        value,
    })
}

fn outcome_json(outcome: &AppendOutcome) -> Value {
    match outcome {
        AppendOutcome::Added { id } | AppendOutcome::Duplicate { id } => {
            json!({ "id": id, "marketoGUID": id.to_string(), "status": "added" })
        }
        AppendOutcome::Skipped { reasons } => {
            let reasons: Vec<Value> = reasons.iter().map(ApiError::to_json).collect();
            // The reference is split on the key (`reasons` in the error-code docs, `errors`
            // in the add-activities example), so both are sent.
            json!({ "status": "skipped", "reasons": reasons, "errors": reasons })
        }
    }
}

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
    let parsed: Value = match json_body(&headers, &body) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let input = match parsed.get("input") {
        None | Some(Value::Null) => return ApiError::missing("input").into_response(),
        Some(Value::Array(items)) => items,
        Some(v) => return ApiError::invalid_value(&v.to_string(), "array").into_response(),
    };
    if input.is_empty() {
        return ApiError::new(ErrorCode::CannotBeBlank, "input cannot be blank").into_response();
    }
    if input.len() > ADD_ITEMS_MAX {
        return ApiError::invalid_data(format!(
            "At most {ADD_ITEMS_MAX} activities per call, got {}",
            input.len()
        ))
        .into_response();
    }
    let mut slots: Vec<Result<usize, ApiError>> = Vec::with_capacity(input.len());
    let mut valid = Vec::with_capacity(input.len());
    for item in input {
        match parse_item(item) {
            Ok(a) => {
                slots.push(Ok(valid.len()));
                valid.push(a);
            }
            Err(e) => slots.push(Err(e)),
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
    let result = slots
        .into_iter()
        .map(|slot| match slot {
            Ok(i) => outcomes.get(i).map_or(Value::Null, outcome_json),
            Err(e) => outcome_json(&AppendOutcome::Skipped { reasons: vec![e] }),
        })
        .collect();
    api::ok(result)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_checked_member_by_member() {
        let ok = parse_item(&json!({"leadId": 5, "activityDate": "2016-09-26T06:56:35+07:00", "activityTypeId": 100001,
            "primaryAttributeValue": "Game", "attributes": [{"apiName": "uRL", "value": "http://x"}]}))
        .unwrap();
        assert_eq!(ok.lead_id, 5);
        assert_eq!(
            ok.occurred_at_ms,
            parse_datetime("2016-09-25T23:56:35Z").unwrap()
        );
        assert_eq!(ok.attributes[0].api_name.as_deref(), Some("uRL"));
        let e = |v: Value| parse_item(&v).unwrap_err();
        assert_eq!(
            e(
                json!({"activityDate": "2016-01-01", "activityTypeId": 1, "primaryAttributeValue": 1})
            ),
            ApiError::missing("leadId")
        );
        assert_eq!(e(json!({"leadId": -1})).code, ErrorCode::InvalidValue);
        assert_eq!(e(json!({"leadId": "x"})).code, ErrorCode::InvalidValue);
        assert_eq!(
            e(json!({"leadId": 1, "activityTypeId": 1, "activityDate": "yesterday"})).code,
            ErrorCode::InvalidValue
        );
        assert_eq!(
            e(json!({"leadId": 1, "activityTypeId": 1, "activityDate": "2016-01-01"})),
            ApiError::missing("primaryAttributeValue")
        );
        assert_eq!(e(json!([1])).code, ErrorCode::InvalidData);
        let big = "x".repeat(70_000);
        let err = e(
            json!({"leadId": 1, "activityTypeId": 1, "activityDate": "2016-01-01", "primaryAttributeValue": 1,
            "attributes": [{"name": "a", "value": big}]}),
        );
        assert_eq!(err.code, ErrorCode::FailedToCreateActivity);
    }
}
