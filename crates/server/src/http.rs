//! The router, shared state and the layers every request goes through.

use crate::api::{self, ApiError, ErrorCode};
use crate::auth::Auth;
use crate::backend::Backend;
use crate::exports::Exports;
use crate::params::Params;
use crate::sync::Mutex;
use crate::{activities, exports, misc, types, ServerOptions};
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// State shared by every handler.
pub(crate) struct Shared {
    pub backend: Arc<dyn Backend>,
    pub auth: Auth,
    pub exports: Arc<Exports>,
    pub usage: Usage,
    pub options: ServerOptions,
    in_flight: Arc<Semaphore>,
}

/// Cheap handle on [`Shared`].
pub(crate) type AppState = Arc<Shared>;

/// API calls counted per UTC day, for `stats/usage.json`.
#[derive(Debug, Default)]
pub(crate) struct Usage {
    day: Mutex<(String, u64)>,
}

impl Usage {
    fn count(&self) {
        let today = crate::time::format_date(crate::time::now_ms());
        let mut day = self.day.lock();
        if day.0 != today {
            *day = (today, 0);
        }
        day.1 += 1;
    }

    /// (date, calls) of today.
    pub(crate) fn today(&self) -> (String, u64) {
        let today = crate::time::format_date(crate::time::now_ms());
        let day = self.day.lock();
        if day.0 == today {
            day.clone()
        } else {
            (today, 0)
        }
    }
}

impl Shared {
    pub(crate) fn new(
        backend: Arc<dyn Backend>,
        options: ServerOptions,
        exports: Arc<Exports>,
    ) -> Shared {
        Shared {
            backend,
            auth: Auth::new(
                &options.client_id,
                &options.client_secret,
                Duration::from_secs(options.token_ttl_secs),
            ),
            exports,
            usage: Usage::default(),
            in_flight: Arc::new(Semaphore::new(options.requests_in_flight_max)),
            options,
        }
    }
}

/// Runs a backend call on the blocking pool. The call runs to completion even if the
/// request is dropped (client gone, timeout), so a batch is never half-recorded.
pub(crate) async fn blocking<T, F>(state: &AppState, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&dyn Backend) -> Result<T, ApiError> + Send + 'static,
{
    let backend = Arc::clone(&state.backend);
    match tokio::task::spawn_blocking(move || f(backend.as_ref())).await {
        Ok(r) => r,
        Err(e) => Err(ApiError::new(
            ErrorCode::SystemError,
            format!("backend task failed: {e}"),
        )),
    }
}

/// Why a request body was refused: an API error (HTTP 200) or a body too large (HTTP 413).
#[derive(Debug)]
pub(crate) enum Reject {
    Api(ApiError),
    TooLarge,
}

impl From<ApiError> for Reject {
    fn from(e: ApiError) -> Self {
        Reject::Api(e)
    }
}

impl IntoResponse for Reject {
    fn into_response(self) -> Response {
        match self {
            Reject::Api(e) => e.into_response(),
            Reject::TooLarge => api::failure_with_status(
                StatusCode::PAYLOAD_TOO_LARGE,
                &[ApiError::invalid_data(
                    "Request body is larger than the maximum of 1 MB",
                )],
            ),
        }
    }
}

/// The body, or why it could not be read.
pub(crate) fn read_body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, Reject> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Reject::TooLarge
        } else {
            Reject::Api(ApiError::invalid_data(format!(
                "Cannot read request body: {rejection}"
            )))
        }
    })
}

fn is_json_content_type(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("json"))
}

/// Parses a required JSON body: 612 for a non-JSON content type, 609 for bad JSON,
/// 1002/1003 for JSON of the wrong shape.
pub(crate) fn json_body<'a, T: Deserialize<'a>>(
    headers: &HeaderMap,
    body: &'a [u8],
) -> Result<T, ApiError> {
    if !body.is_empty() && !is_json_content_type(headers) {
        return Err(ApiError::code(ErrorCode::InvalidContentType));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            ErrorCode::InvalidJson,
            "Invalid JSON: the request body is empty",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => {
                let text = e.to_string();
                if let Some(rest) = text.strip_prefix("missing field `") {
                    let name = rest.split('`').next().unwrap_or("");
                    ApiError::missing(name)
                } else {
                    ApiError::invalid_data(format!("Invalid data: {text}"))
                }
            }
            Category::Syntax | Category::Eof | Category::Io => {
                ApiError::new(ErrorCode::InvalidJson, format!("Invalid JSON: {e}"))
            }
        }
    })
}

async fn not_found() -> Response {
    ApiError::code(ErrorCode::ResourceNotFound).into_response()
}

async fn method_not_allowed() -> Response {
    ApiError::code(ErrorCode::MethodNotSupported).into_response()
}

/// The token from `Authorization: Bearer` or the `access_token` query parameter.
fn bearer_token(headers: &HeaderMap, uri: &Uri) -> Option<String> {
    if let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let value = value.trim();
        if let (Some(scheme), Some(token)) = (value.get(..7), value.get(7..)) {
            if scheme.eq_ignore_ascii_case("bearer ") {
                return Some(token.trim().to_owned());
            }
        }
    }
    Params::parse(uri.query())
        .get("access_token")
        .map(str::to_owned)
}

async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let token = bearer_token(request.headers(), request.uri());
    if let Err(e) = state.auth.check(token.as_deref()) {
        return e.into_response();
    }
    state.usage.count();
    next.run(request).await
}

/// Outermost layer: URI length (414), concurrency (615), `_method=GET` override, time limit (604).
async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let uri_len = request
        .uri()
        .path_and_query()
        .map_or(0, |pq| pq.as_str().len());
    if uri_len > state.options.uri_bytes_max {
        return api::failure_with_status(
            StatusCode::URI_TOO_LONG,
            &[ApiError::invalid_data(
                "URI is longer than 8 KB; retry as a POST with _method=GET",
            )],
        );
    }
    let Ok(_permit) = Arc::clone(&state.in_flight).try_acquire_owned() else {
        return ApiError::code(ErrorCode::ConcurrentAccessLimit).into_response();
    };
    let request = match method_override(request, state.options.body_bytes_max).await {
        Ok(r) => r,
        Err(response) => return response,
    };
    let timeout = Duration::from_millis(state.options.request_timeout_ms);
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => envelope_rejection(response).await,
        Err(_) => ApiError::code(ErrorCode::RequestTimeOut).into_response(),
    }
}

/// Extractor rejections (a path segment that is not UTF-8, ...) come from axum as plain-text
/// 4xx answers; clients expect Marketo's envelope, so they become 1003 with HTTP 200. Our
/// own non-200 answers (identity, bulk file, 413, 414) are JSON or carry other statuses.
async fn envelope_rejection(response: Response) -> Response {
    let status = response.status();
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !(plain
        && matches!(
            status,
            StatusCode::BAD_REQUEST
                | StatusCode::UNSUPPORTED_MEDIA_TYPE
                | StatusCode::UNPROCESSABLE_ENTITY
        ))
    {
        return response;
    }
    let text = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .unwrap_or_default();
    let message = String::from_utf8_lossy(&text).into_owned();
    ApiError::invalid_data(format!("Invalid request: {message}")).into_response()
}

/// Marketo's answer to 414: a POST with `_method=GET` in the URL and the rest of the query
/// string as a form body is served as that GET.
async fn method_override(request: Request, body_bytes_max: usize) -> Result<Request, Response> {
    if request.method() != Method::POST {
        return Ok(request);
    }
    let mut params = Params::parse(request.uri().query());
    if !params
        .get("_method")
        .is_some_and(|m| m.eq_ignore_ascii_case("GET"))
    {
        return Ok(request);
    }
    let (mut parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, body_bytes_max)
        .await
        .map_err(|_| {
            api::failure_with_status(
                StatusCode::PAYLOAD_TOO_LARGE,
                &[ApiError::invalid_data("Request body is too large")],
            )
        })?;
    params.remove("_method");
    params.extend_form(&bytes);
    let query = params.encode();
    let path_and_query = if query.is_empty() {
        parts.uri.path().to_owned()
    } else {
        format!("{}?{query}", parts.uri.path())
    };
    parts.uri = path_and_query
        .parse::<Uri>()
        .map_err(|_| ApiError::invalid_data("Cannot rebuild the request URI").into_response())?;
    parts.method = Method::GET;
    parts.headers.remove(header::CONTENT_TYPE);
    parts.headers.remove(header::CONTENT_LENGTH);
    Ok(Request::from_parts(parts, Body::empty()))
}

/// Every route.
pub(crate) fn router(state: AppState) -> Router {
    let rest = Router::new()
        .route("/rest/v1/activities/types.json", get(types::activity_types))
        .route(
            "/rest/v1/activities/external/types.json",
            get(types::custom_types),
        )
        .route(
            "/rest/v1/activities/external/type.json",
            post(types::create),
        )
        .route(
            "/rest/v1/activities/external/type/{file}",
            post(types::update),
        )
        .route(
            "/rest/v1/activities/external/type/{api}/describe.json",
            get(types::describe),
        )
        .route(
            "/rest/v1/activities/external/type/{api}/approve.json",
            post(types::approve),
        )
        .route(
            "/rest/v1/activities/external/type/{api}/discardDraft.json",
            post(types::discard_draft),
        )
        .route(
            "/rest/v1/activities/external/type/{api}/delete.json",
            post(types::delete),
        )
        .route(
            "/rest/v1/activities/external/type/{api}/attributes/create.json",
            post(types::attributes_create),
        )
        .route(
            "/rest/v1/activities/external/type/{api}/attributes/update.json",
            post(types::attributes_update),
        )
        .route(
            "/rest/v1/activities/external/type/{api}/attributes/delete.json",
            post(types::attributes_delete),
        )
        .route("/rest/v1/activities/external.json", post(activities::add))
        .route(
            "/rest/v1/activities/pagingtoken.json",
            get(activities::paging_token),
        )
        .route("/rest/v1/activities.json", get(activities::list))
        .route(
            "/rest/v1/activities/leadchanges.json",
            get(activities::lead_changes),
        )
        .route(
            "/rest/v1/activities/deletedleads.json",
            get(activities::deleted_leads),
        )
        .route("/rest/v1/stats/usage.json", get(misc::usage))
        .route("/rest/v1/stats/usage/last7days.json", get(misc::usage))
        .route("/rest/v1/stats/errors.json", get(misc::errors))
        .route("/rest/v1/stats/errors/last7days.json", get(misc::errors))
        .route("/rest/v1/leads/describe.json", get(misc::leads_describe))
        .route(
            "/bulk/v1/leads/export/create.json",
            post(misc::leads_export_create),
        )
        .route(
            "/bulk/v1/leads/export/{id}/cancel.json",
            post(misc::leads_export_cancel),
        )
        .route("/bulk/v1/activities/export.json", get(exports::list))
        .route(
            "/bulk/v1/activities/export/create.json",
            post(exports::create),
        )
        .route(
            "/bulk/v1/activities/export/{id}/enqueue.json",
            post(exports::enqueue),
        )
        .route(
            "/bulk/v1/activities/export/{id}/status.json",
            get(exports::status),
        )
        .route(
            "/bulk/v1/activities/export/{id}/cancel.json",
            post(exports::cancel),
        )
        .route(
            "/bulk/v1/activities/export/{id}/file.json",
            get(exports::file),
        )
        .route("/actlog/v1/query", post(misc::query))
        .route("/actlog/v1/people", post(misc::people))
        .route("/actlog/v1/stats", get(misc::stats))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            require_token,
        ));
    let body_bytes_max = state.options.body_bytes_max;
    let routes = Router::new()
        .route(
            "/identity/oauth/token",
            get(misc::identity).post(misc::identity),
        )
        .merge(rest)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_bytes_max))
        .with_state(Arc::clone(&state));
    // The guard wraps the whole router rather than each route, so a `_method=GET`
    // override is routed as the GET it stands for.
    Router::new()
        .fallback_service(routes)
        .layer(middleware::from_fn_with_state(state, guard))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_map_to_marketo_codes() {
        let mut h = HeaderMap::new();
        let r: Result<serde_json::Value, _> = json_body(&h, b"{}");
        assert_eq!(r.unwrap_err().code, ErrorCode::InvalidContentType);
        h.insert(
            header::CONTENT_TYPE,
            "application/json; charset=utf-8".parse().unwrap(),
        );
        let r: Result<serde_json::Value, _> = json_body(&h, b"{");
        assert_eq!(r.unwrap_err().code, ErrorCode::InvalidJson);
        let r: Result<serde_json::Value, _> = json_body(&h, b"");
        assert_eq!(r.unwrap_err().code, ErrorCode::InvalidJson);
        let r: Result<crate::backend::TypeInput, _> = json_body(&h, br#"{"name":"x"}"#);
        assert_eq!(r.unwrap_err(), ApiError::missing("apiName"));
        let r: Result<crate::backend::TypeInput, _> = json_body(&h, br#"{"apiName":5}"#);
        assert_eq!(r.unwrap_err().code, ErrorCode::InvalidData);
    }

    #[test]
    fn token_from_header_or_query() {
        let mut h = HeaderMap::new();
        let uri: Uri = "/x?access_token=q".parse().unwrap();
        assert_eq!(bearer_token(&h, &uri).as_deref(), Some("q"));
        h.insert(header::AUTHORIZATION, "bearer abc".parse().unwrap());
        assert_eq!(bearer_token(&h, &uri).as_deref(), Some("abc"));
    }
}
