//! Marketo's response envelope and error codes.
//!
//! Every API error is answered with HTTP 200 and `success: false`, because clients
//! (tap-marketo in particular) treat any 4xx as fatal and read the code from the body.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::sync::atomic::{AtomicU64, Ordering};

/// A Marketo error code this server can answer with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// 601: the access token is missing, unknown or malformed.
    AccessTokenInvalid,
    /// 602: the access token was valid once and has expired.
    AccessTokenExpired,
    /// 604: the request took longer than the server allows.
    RequestTimeOut,
    /// 605: the path exists but not for this HTTP method.
    MethodNotSupported,
    /// 609: the body is not valid JSON.
    InvalidJson,
    /// 610: no resource at this path.
    ResourceNotFound,
    /// 611: an unexpected failure inside the server.
    SystemError,
    /// 612: a body was sent with a content type other than JSON.
    InvalidContentType,
    /// 615: too many requests are being served at once.
    ConcurrentAccessLimit,
    /// 701: a required field is empty.
    CannotBeBlank,
    /// 702: nothing matched.
    NoDataFound,
    /// 704: a date could not be parsed.
    InvalidDateFormat,
    /// 709: the request breaks a lifecycle rule (approve without draft, ...).
    BusinessRuleViolation,
    /// 713: a transient failure (the index is catching up); retry later.
    TransientError,
    /// 1001: a value has the wrong type or form.
    InvalidValue,
    /// 1002: a required parameter is missing.
    MissingValue,
    /// 1003: the data is invalid for this operation.
    InvalidData,
    /// 1006: an attribute (field) does not exist.
    FieldNotFound,
    /// 1013: the object (type, job) does not exist.
    ObjectNotFound,
    /// 1027: no more custom activity types can be created.
    MaxActivityTypeLimit,
    /// 1028: no more attributes can be added to this type.
    MaxFieldLimit,
    /// 1029: the export queue is full, the daily export quota is used up, or the job is already queued.
    ExportQueue,
    /// 1035: the filter type is not supported (bulk lead extract).
    UnsupportedFilterType,
    /// 1049: the activity could not be created (attributes too long).
    FailedToCreateActivity,
}

impl ErrorCode {
    /// The code as Marketo sends it: a quoted integer.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::AccessTokenInvalid => "601",
            ErrorCode::AccessTokenExpired => "602",
            ErrorCode::RequestTimeOut => "604",
            ErrorCode::MethodNotSupported => "605",
            ErrorCode::InvalidJson => "609",
            ErrorCode::ResourceNotFound => "610",
            ErrorCode::SystemError => "611",
            ErrorCode::InvalidContentType => "612",
            ErrorCode::ConcurrentAccessLimit => "615",
            ErrorCode::CannotBeBlank => "701",
            ErrorCode::NoDataFound => "702",
            ErrorCode::InvalidDateFormat => "704",
            ErrorCode::BusinessRuleViolation => "709",
            ErrorCode::TransientError => "713",
            ErrorCode::InvalidValue => "1001",
            ErrorCode::MissingValue => "1002",
            ErrorCode::InvalidData => "1003",
            ErrorCode::FieldNotFound => "1006",
            ErrorCode::ObjectNotFound => "1013",
            ErrorCode::MaxActivityTypeLimit => "1027",
            ErrorCode::MaxFieldLimit => "1028",
            ErrorCode::ExportQueue => "1029",
            ErrorCode::UnsupportedFilterType => "1035",
            ErrorCode::FailedToCreateActivity => "1049",
        }
    }

    /// The code for a quoted integer, if it is one this server uses.
    pub fn from_code(code: &str) -> Option<ErrorCode> {
        ALL_CODES.iter().copied().find(|c| c.as_str() == code)
    }

    /// Marketo's standard description of the code.
    pub const fn description(self) -> &'static str {
        match self {
            ErrorCode::AccessTokenInvalid => "Access token invalid",
            ErrorCode::AccessTokenExpired => "Access token expired",
            ErrorCode::RequestTimeOut => "Request time-out",
            ErrorCode::MethodNotSupported => "HTTP Method not supported",
            ErrorCode::InvalidJson => "Invalid JSON",
            ErrorCode::ResourceNotFound => "Requested resource not found",
            ErrorCode::SystemError => "System error",
            ErrorCode::InvalidContentType => "Invalid Content Type",
            ErrorCode::ConcurrentAccessLimit => "Concurrent access limit reached",
            ErrorCode::CannotBeBlank => "Field cannot be blank",
            ErrorCode::NoDataFound => "No data found for a given search scenario",
            ErrorCode::InvalidDateFormat => "Invalid date format",
            ErrorCode::BusinessRuleViolation => "Business Rule Violation",
            ErrorCode::TransientError => "Transient Error",
            ErrorCode::InvalidValue => "Invalid value",
            ErrorCode::MissingValue => "Missing value for the required parameter",
            ErrorCode::InvalidData => "Invalid data",
            ErrorCode::FieldNotFound => "Field not found",
            ErrorCode::ObjectNotFound => "Object not found",
            ErrorCode::MaxActivityTypeLimit => "Max Activity Type Limit Reached",
            ErrorCode::MaxFieldLimit => "Max field limit reached",
            ErrorCode::ExportQueue => "Too many jobs in queue",
            ErrorCode::UnsupportedFilterType => "Unsupported filter type for target subscription",
            ErrorCode::FailedToCreateActivity => "Failed to Create Activity",
        }
    }
}

const ALL_CODES: [ErrorCode; 24] = [
    ErrorCode::AccessTokenInvalid,
    ErrorCode::AccessTokenExpired,
    ErrorCode::RequestTimeOut,
    ErrorCode::MethodNotSupported,
    ErrorCode::InvalidJson,
    ErrorCode::ResourceNotFound,
    ErrorCode::SystemError,
    ErrorCode::InvalidContentType,
    ErrorCode::ConcurrentAccessLimit,
    ErrorCode::CannotBeBlank,
    ErrorCode::NoDataFound,
    ErrorCode::InvalidDateFormat,
    ErrorCode::BusinessRuleViolation,
    ErrorCode::TransientError,
    ErrorCode::InvalidValue,
    ErrorCode::MissingValue,
    ErrorCode::InvalidData,
    ErrorCode::FieldNotFound,
    ErrorCode::ObjectNotFound,
    ErrorCode::MaxActivityTypeLimit,
    ErrorCode::MaxFieldLimit,
    ErrorCode::ExportQueue,
    ErrorCode::UnsupportedFilterType,
    ErrorCode::FailedToCreateActivity,
];

/// An API error: a Marketo code and a message, answered as `success: false`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{} {message}", code.as_str())]
pub struct ApiError {
    /// The Marketo code.
    pub code: ErrorCode,
    /// A human-readable message (Marketo's texts where it has one).
    pub message: String,
}

impl ApiError {
    /// An error with an explicit message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
        }
    }

    /// An error with the code's standard description as message.
    pub fn code(code: ErrorCode) -> ApiError {
        ApiError::new(code, code.description())
    }

    /// 1002 for a missing required parameter.
    pub fn missing(name: &str) -> ApiError {
        ApiError::new(
            ErrorCode::MissingValue,
            format!("Missing value for the required parameter '{name}'"),
        )
    }

    /// 1001 for a value of the wrong form.
    pub fn invalid_value(value: &str, expected: &str) -> ApiError {
        let shown: String = value.chars().take(100).collect();
        ApiError::new(
            ErrorCode::InvalidValue,
            format!("Invalid value '{shown}'. Required of type '{expected}'"),
        )
    }

    /// 1003 with a message.
    pub fn invalid_data(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::InvalidData, message)
    }

    /// The `{code, message}` object of the envelope.
    pub fn to_json(&self) -> Value {
        json!({ "code": self.code.as_str(), "message": self.message })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        failure(&[self])
    }
}

/// A fresh request id in Marketo's `hex#hex` form: unique within the process.
pub(crate) fn request_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let ms = u64::try_from(crate::time::now_ms()).unwrap_or(0);
    format!("{:x}#{:x}", n & 0xffff_ffff, ms)
}

/// The success envelope with `result` and any extra top-level members.
pub(crate) fn success(result: Option<Vec<Value>>, extra: Map<String, Value>) -> Response {
    let mut body = Map::new();
    body.insert("requestId".into(), Value::String(request_id()));
    body.insert("success".into(), Value::Bool(true));
    if let Some(result) = result {
        body.insert("result".into(), Value::Array(result));
    }
    body.insert("errors".into(), Value::Array(Vec::new()));
    body.insert("warnings".into(), Value::Array(Vec::new()));
    body.extend(extra);
    axum::Json(Value::Object(body)).into_response()
}

/// The success envelope around one list of results.
pub(crate) fn ok(result: Vec<Value>) -> Response {
    success(Some(result), Map::new())
}

/// The success envelope around `result`, serialized straight into one buffer of about
/// `result_bytes_hint` bytes: for large answers built without a `Value` tree.
pub(crate) fn ok_serialized<R: Serialize>(result: &R, result_bytes_hint: usize) -> Response {
    /// Members in the order [`success`] sends them (a sorted map's order).
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Envelope<'a, R> {
        errors: &'a [Value],
        request_id: &'a str,
        result: &'a R,
        success: bool,
        warnings: &'a [Value],
    }
    let envelope = Envelope {
        errors: &[],
        request_id: &request_id(),
        result,
        success: true,
        warnings: &[],
    };
    let mut body = Vec::with_capacity(result_bytes_hint.saturating_add(ENVELOPE_BYTES));
    match serde_json::to_writer(&mut body, &envelope) {
        Ok(()) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response(),
        Err(e) => ApiError::new(
            ErrorCode::SystemError,
            format!("Cannot write the answer: {e}"),
        )
        .into_response(),
    }
}

/// Bytes of the envelope around `result` (request id and the fixed members).
const ENVELOPE_BYTES: usize = 128;

/// The failure envelope, HTTP 200.
pub(crate) fn failure(errors: &[ApiError]) -> Response {
    failure_with_status(StatusCode::OK, errors)
}

/// The failure envelope with an explicit HTTP status (413, 414, ...).
pub(crate) fn failure_with_status(status: StatusCode, errors: &[ApiError]) -> Response {
    let body = json!({
        "requestId": request_id(),
        "success": false,
        "errors": errors.iter().map(ApiError::to_json).collect::<Vec<_>>(),
        "warnings": [],
    });
    (status, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_quoted_integers() {
        assert_eq!(ErrorCode::AccessTokenInvalid.as_str(), "601");
        assert_eq!(ErrorCode::MaxFieldLimit.as_str(), "1028");
        for c in ALL_CODES {
            assert_eq!(ErrorCode::from_code(c.as_str()), Some(c));
        }
        assert_eq!(ErrorCode::from_code("999"), None);
        let e = ApiError::invalid_value("2015-04-0113", "datetime");
        assert_eq!(e.to_json()["code"], "1001");
        assert_eq!(
            e.to_json()["message"],
            "Invalid value '2015-04-0113'. Required of type 'datetime'"
        );
    }

    #[test]
    fn request_ids_differ() {
        assert_ne!(request_id(), request_id());
    }
}
