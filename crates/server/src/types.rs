//! Activity type endpoints: `types.json` and the custom type metadata API.

use crate::api::{self, ApiError, ErrorCode};
use crate::backend::{
    AttributeInput, AttributeUpdate, TypeInput, TypeUpdate, TypeVersion, TypeView,
};
use crate::http::{blocking, json_body, read_body, AppState, Reject};
use crate::params::{truthy, Params};
use crate::render;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// Longest API name accepted (Marketo's).
const API_NAME_CHARS_MAX: usize = 255;

fn one(result: Result<TypeView, ApiError>) -> Response {
    match result {
        Ok(t) => api::ok(vec![render::custom_type(&t)]),
        Err(e) => e.into_response(),
    }
}

fn check_api_name(api: &str) -> Result<String, ApiError> {
    if api.is_empty() {
        return Err(ApiError::new(
            ErrorCode::CannotBeBlank,
            "apiName cannot be blank",
        ));
    }
    if api.chars().count() > API_NAME_CHARS_MAX {
        return Err(ApiError::invalid_data(
            "apiName is longer than 255 characters",
        ));
    }
    Ok(api.to_owned())
}

pub(crate) async fn activity_types(State(state): State<AppState>) -> Response {
    match blocking(&state, |b| b.activity_types()).await {
        Ok(types) => api::ok(types.iter().map(render::activity_type).collect()),
        Err(e) => e.into_response(),
    }
}

pub(crate) async fn custom_types(State(state): State<AppState>) -> Response {
    match blocking(&state, |b| b.custom_types()).await {
        Ok(types) => api::ok(types.iter().map(render::custom_type).collect()),
        Err(e) => e.into_response(),
    }
}

pub(crate) async fn describe(
    State(state): State<AppState>,
    Path(api): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let params = Params::parse(q.as_deref());
    let version = if params.get("draft").is_some_and(truthy) {
        TypeVersion::Draft
    } else {
        TypeVersion::Live
    };
    let api = match check_api_name(&api) {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    one(blocking(&state, move |b| b.describe_type(&api, version)).await)
}

pub(crate) async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match read_body(body) {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    let input: TypeInput = match json_body(&headers, &body) {
        Ok(i) => i,
        Err(e) => return e.into_response(),
    };
    if let Err(e) = check_api_name(&input.api_name) {
        return e.into_response();
    }
    one(blocking(&state, move |b| b.create_type(input)).await)
}

/// `POST …/type/{apiName}.json`: the path segment carries the `.json` suffix.
pub(crate) async fn update(
    State(state): State<AppState>,
    Path(file): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(api) = file.strip_suffix(".json") else {
        return ApiError::code(ErrorCode::ResourceNotFound).into_response();
    };
    let api = match check_api_name(api) {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let body = match read_body(body) {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    let update: TypeUpdate = match json_body(&headers, &body) {
        Ok(u) => u,
        Err(e) => return e.into_response(),
    };
    one(blocking(&state, move |b| b.update_type(&api, update)).await)
}

/// Approve, discard and delete take no body; whatever is sent (and its content type) is ignored.
pub(crate) async fn approve(State(state): State<AppState>, Path(api): Path<String>) -> Response {
    let api = match check_api_name(&api) {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    one(blocking(&state, move |b| b.approve_type(&api)).await)
}

pub(crate) async fn discard_draft(
    State(state): State<AppState>,
    Path(api): Path<String>,
) -> Response {
    let api = match check_api_name(&api) {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    one(blocking(&state, move |b| b.discard_draft(&api)).await)
}

pub(crate) async fn delete(State(state): State<AppState>, Path(api): Path<String>) -> Response {
    let api = match check_api_name(&api) {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    one(blocking(&state, move |b| b.delete_type(&api)).await)
}

#[derive(Deserialize)]
struct Attributes<T> {
    attributes: Vec<T>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AttributeRef {
    api_name: String,
}

/// Most attributes one request may carry; the type's own limit (20) is checked by the backend.
const ATTRIBUTES_PER_REQUEST_MAX: usize = 100;

fn attributes_body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Vec<T>, Reject> {
    let body = read_body(body)?;
    let parsed: Attributes<T> = json_body(headers, &body)?;
    if parsed.attributes.is_empty() {
        return Err(ApiError::new(ErrorCode::CannotBeBlank, "attributes cannot be blank").into());
    }
    if parsed.attributes.len() > ATTRIBUTES_PER_REQUEST_MAX {
        return Err(ApiError::code(ErrorCode::MaxFieldLimit).into());
    }
    Ok(parsed.attributes)
}

pub(crate) async fn attributes_create(
    State(state): State<AppState>,
    Path(api): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let attrs: Vec<AttributeInput> = match attributes_body(&headers, body) {
        Ok(a) => a,
        Err(r) => return r.into_response(),
    };
    one(blocking(&state, move |b| b.add_attributes(&api, attrs)).await)
}

pub(crate) async fn attributes_update(
    State(state): State<AppState>,
    Path(api): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let attrs: Vec<AttributeUpdate> = match attributes_body(&headers, body) {
        Ok(a) => a,
        Err(r) => return r.into_response(),
    };
    one(blocking(&state, move |b| b.update_attributes(&api, attrs)).await)
}

pub(crate) async fn attributes_delete(
    State(state): State<AppState>,
    Path(api): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let attrs: Vec<AttributeRef> = match attributes_body(&headers, body) {
        Ok(a) => a,
        Err(r) => return r.into_response(),
    };
    let names = attrs.into_iter().map(|a| a.api_name).collect();
    one(blocking(&state, move |b| b.remove_attributes(&api, names)).await)
}
